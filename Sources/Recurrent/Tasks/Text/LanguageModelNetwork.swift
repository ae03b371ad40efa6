/// The sizes of a language model network. Stored in model files as its `LayerSpec`.
public struct LanguageModelArchitecture: Codable, Equatable, Sendable {
    public var vocabularySize: Int
    public var embeddingSize: Int
    public var cell: CellKind
    public var hiddenSize: Int
    public var numLayers: Int
    /// Dropout on the embeddings, between recurrent layers and on the top layer's outputs.
    public var dropout: Float
    /// The output layer uses the embedding table as its weight (needs embeddingSize == hiddenSize).
    public var tiedWeights: Bool

    public init(vocabularySize: Int, embeddingSize: Int, cell: CellKind = .lstm, hiddenSize: Int, numLayers: Int = 1,
                dropout: Float = 0, tiedWeights: Bool = false) {
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.cell = cell
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.dropout = dropout
        self.tiedWeights = tiedWeights
    }

    public var recurrentConfiguration: RecurrentConfiguration {
        RecurrentConfiguration(cell: cell, inputSize: embeddingSize, hiddenSize: hiddenSize, numLayers: numLayers,
                               dropout: dropout, output: .sequence)
    }

    /// Sizes come from files and from users, so they are checked before anything is built.
    public func validate() throws {
        for (value, what) in [(vocabularySize, "vocabulary size"), (embeddingSize, "embedding size")]
            where !(1...(1 << 24)).contains(value) {
            throw RecurrentError.invalidArgument("language model: \(what) is \(value), expected 1...\(1 << 24)")
        }
        try recurrentConfiguration.validate()
        if tiedWeights && embeddingSize != hiddenSize {
            throw RecurrentError.invalidArgument(
                "language model: tied weights need the embedding size (\(embeddingSize)) to equal the hidden size (\(hiddenSize))")
        }
    }
}

/// Token ids [B, T] -> Embedding [B, T, E] -> dropout -> recurrent stack [B, T, H] -> dropout
/// -> Dense [B, T, V]: the scores of the next token at every step.
///
/// Parameter names follow PyTorch's word_language_model example: `encoder.weight`,
/// `rnn.weight_ih_l0`, ..., `decoder.weight`, `decoder.bias`. With tied weights the output layer
/// shares the embedding table (one `Variable`), listed once, as `encoder.weight`.
public final class LanguageModelNetwork: Layer {
    public let architecture: LanguageModelArchitecture
    public let embedding: Embedding
    public let recurrent: RecurrentLayer
    public let output: Dense
    let embeddingDropout: Dropout
    let outputDropout: Dropout

    public init(_ architecture: LanguageModelArchitecture, seed: UInt64 = 0) {
        self.architecture = architecture
        embedding = Embedding(vocabularySize: architecture.vocabularySize, embeddingSize: architecture.embeddingSize, seed: seed)
        recurrent = RecurrentLayer(architecture.recurrentConfiguration, seed: seed &+ 1)
        output = architecture.tiedWeights
            ? Dense(sharing: embedding.weight, seed: seed &+ 2)
            : Dense(inputSize: architecture.hiddenSize, outputSize: architecture.vocabularySize, seed: seed &+ 2)
        embeddingDropout = Dropout(probability: architecture.dropout, seed: seed &+ 3)
        outputDropout = Dropout(probability: architecture.dropout, seed: seed &+ 4)
    }

    /// Ids [B, T] -> logits [B, T, V], from a zero state.
    public func callAsFunction(_ input: Variable) -> Variable {
        run(input, state: nil).logits
    }

    /// Ids [B, T] (checked ids: see `Embedding`) and the state left by the previous chunk of the
    /// same streams -> logits [B, T, V] and the state after the last step. With `lengths`, each
    /// stream stops at its length (its state is the one there; logits past it are not used).
    public func run(_ ids: Variable, state: RecurrentLayer.State?, lengths: [Int]? = nil) -> (logits: Variable, state: RecurrentLayer.State) {
        let embedded = embeddingDropout(embedding(ids))
        let result = recurrent.forward(embedded, initialState: state, lengths: lengths)
        return (output(outputDropout(result.output)), result.state)
    }

    public var namedParameters: [(name: String, parameter: Variable)] {
        var named: [(name: String, parameter: Variable)] = [("encoder.weight", embedding.weight)]
        named += recurrent.namedParameters.map { ("rnn." + $0.name, $0.parameter) }
        if !architecture.tiedWeights { named.append(("decoder.weight", output.weight)) }
        if let bias = output.bias { named.append(("decoder.bias", bias)) }
        return named
    }

    public var spec: LayerSpec { .languageModel(architecture) }
}
