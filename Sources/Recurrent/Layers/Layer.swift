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
    /// Where the current training step's rows sit, while the Trainer runs one (nil otherwise).
    nonisolated(unsafe) public static var batchPosition: BatchPosition? = nil

    public static func training<R>(at position: BatchPosition? = nil, _ body: () throws -> R) rethrows -> R {
        let previous = (isTraining, batchPosition)
        isTraining = true
        if let position { batchPosition = position }
        defer { (isTraining, batchPosition) = previous }
        return try body()
    }
}

/// The update being computed and where this process's rows sit in its global batch. Random
/// draws made during a step (dropout masks, SpecAugment's masks, scheduled sampling) come from
/// generators keyed by the step and the row's place in the global batch, so that a resumed run
/// draws what the uninterrupted one drew, and processes that share a batch draw for each row
/// what a single process would.
public struct BatchPosition: Sendable, Equatable {
    /// The 0-based optimization step.
    public var step: Int
    /// The index, in the global batch, of this process's first row.
    public var firstRow: Int

    public init(step: Int, firstRow: Int) {
        self.step = step
        self.firstRow = firstRow
    }

    /// A generator for local row `row` (0-based in this process's part of the batch), salted by
    /// `salt` so that every user of randomness draws its own numbers.
    public func generator(row: Int, salt: UInt64) -> SplitMix64 {
        SplitMix64(seed: mixSeeds(mixSeeds(salt, UInt64(truncatingIfNeeded: step)), UInt64(truncatingIfNeeded: firstRow + row)))
    }
}

/// One 64-bit seed from two, through SplitMix64's finalizer (a bijection per argument).
public func mixSeeds(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var generator = SplitMix64(seed: a ^ (b &* 0xD6E8_FEB8_6659_FD93))
    return generator.next()
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
