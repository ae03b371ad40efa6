/// A building block of a model: it maps an input to an output, owns named parameters, and can
/// describe itself so that a model file can rebuild it.
///
/// Layers are classes: a parameter is one `Variable` shared by the layer and the optimizer,
/// which also makes weight tying a matter of handing the same variable to two layers.
public protocol Layer: AnyObject {
    func callAsFunction(_ input: Variable) -> Variable
    /// Parameters under PyTorch's names for the same layer ("weight", "weight_ih_l0", ...).
    var namedParameters: [(name: String, parameter: Variable)] { get }
    /// The architecture, for model files.
    var spec: LayerSpec { get }
}

extension Layer {
    public var parameters: [Variable] { namedParameters.map(\.parameter) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }
}

/// Whether layers behave as in training (dropout active). The fit loop switches it on;
/// prediction and evaluation run with it off.
public enum LearningPhase {
    nonisolated(unsafe) public static var isTraining = false

    public static func training<R>(_ body: () throws -> R) rethrows -> R {
        let previous = isTraining
        isTraining = true
        defer { isTraining = previous }
        return try body()
    }
}

/// The architecture of a layer, as stored in a model file's metadata.
public indirect enum LayerSpec: Codable, Equatable, Sendable {
    case dense(inputSize: Int, outputSize: Int, bias: Bool)
    case embedding(vocabularySize: Int, embeddingSize: Int)
    case dropout(probability: Float)
    case layerNorm(size: Int, epsilon: Float)
    case recurrent(RecurrentConfiguration)
    case sequential([LayerSpec])
    /// Embedding -> recurrent stack -> Dense over the vocabulary, the output weight possibly
    /// tied to the embedding table.
    case languageModel(LanguageModelArchitecture)
    /// An encoder-decoder with attention (`Seq2SeqNetwork`).
    case seq2seq(Seq2SeqArchitecture)
    /// Pen strokes conditioned on a character, into a mixture density output (`StrokeNetwork`).
    case strokes(StrokeNetworkArchitecture)
    /// A chat model: context -> reply, and the reply -> context and reply language models
    /// that rerank its candidates (`ChatNetwork`).
    case chat(ChatArchitecture)
}
