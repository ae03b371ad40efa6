/// How the decoder looks at the encoder's outputs.
public enum AttentionKind: String, Codable, Sendable, CaseIterable {
    /// Bahdanau et al. (2015): additive scores v^T tanh(W_q s_{t-1} + W_k h_s) from the previous
    /// decoder state; the context joins the decoder's input. Runs step by step.
    case bahdanau
    /// Luong et al. (2015): multiplicative scores from the current decoder output (`LuongScore`);
    /// with teacher forcing, all steps attend at once.
    case luong
    /// No attention: the encoder's final state starts the decoder (Sutskever et al., 2014).
    case none
}

/// Luong's score of decoder output h_t against encoder output h_s.
public enum LuongScore: String, Codable, Sendable, CaseIterable {
    /// h_t . h_s
    case dot
    /// h_t . W_a h_s
    case general
}

/// The sizes of an encoder-decoder. Stored in model files as its `LayerSpec`.
public struct Seq2SeqArchitecture: Codable, Equatable, Sendable {
    public var sourceVocabularySize: Int
    public var targetVocabularySize: Int
    public var embeddingSize: Int
    public var cell: CellKind
    /// The decoder's hidden size and the width of the encoder's outputs (with a bidirectional
    /// encoder, each direction has half of it).
    public var hiddenSize: Int
    /// Layers of the encoder and of the decoder: layer k of the encoder starts layer k of the decoder.
    public var numLayers: Int
    public var bidirectionalEncoder: Bool
    /// Dropout on the embeddings, between recurrent layers and before the output layer.
    public var dropout: Float
    public var attention: AttentionKind
    public var luongScore: LuongScore

    public init(sourceVocabularySize: Int, targetVocabularySize: Int, embeddingSize: Int, cell: CellKind = .lstm,
                hiddenSize: Int, numLayers: Int = 1, bidirectionalEncoder: Bool = true, dropout: Float = 0,
                attention: AttentionKind = .luong, luongScore: LuongScore = .general) {
        self.sourceVocabularySize = sourceVocabularySize
        self.targetVocabularySize = targetVocabularySize
        self.embeddingSize = embeddingSize
        self.cell = cell
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bidirectionalEncoder = bidirectionalEncoder
        self.dropout = dropout
        self.attention = attention
        self.luongScore = luongScore
    }

    var encoderConfiguration: RecurrentConfiguration {
        RecurrentConfiguration(cell: cell, inputSize: embeddingSize, hiddenSize: bidirectionalEncoder ? hiddenSize / 2 : hiddenSize,
                               numLayers: numLayers, bidirectional: bidirectionalEncoder, dropout: dropout)
    }

    var decoderConfiguration: RecurrentConfiguration {
        RecurrentConfiguration(cell: cell, inputSize: embeddingSize + (attention == .bahdanau ? hiddenSize : 0),
                               hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout)
    }

    /// Sizes come from files and from users, so they are checked before anything is built.
    public func validate() throws {
        for (value, what) in [(sourceVocabularySize, "source vocabulary size"), (targetVocabularySize, "target vocabulary size"),
                              (embeddingSize, "embedding size")] where !(1...(1 << 24)).contains(value) {
            throw RecurrentError.invalidArgument("seq2seq: \(what) is \(value), expected 1...\(1 << 24)")
        }
        if bidirectionalEncoder && (hiddenSize % 2 != 0 || hiddenSize < 2) {
            throw RecurrentError.invalidArgument("seq2seq: a bidirectional encoder needs an even hidden size (each direction has half), got \(hiddenSize)")
        }
        try encoderConfiguration.validate()
        try decoderConfiguration.validate()
    }
}

/// An encoder-decoder: source ids -> Embedding -> (bidirectional) recurrent stack -> encoder
/// outputs [B, S, H]; target ids -> Embedding -> recurrent stack started from the encoder's
/// final states -> attention over the encoder outputs -> tanh(W_c [context; h]) -> Dense over
/// the target vocabulary.
///
/// Parameter names: `encoder.embedding.weight`, `encoder.rnn.weight_ih_l0`, ...,
/// `decoder.embedding.weight`, `decoder.rnn.*`, `attention.*`, `decoder.combine.*`,
/// `decoder.output.*`. Used as a `Layer`, it encodes: ids [B, S] -> encoder outputs [B, S, H].
public final class Seq2SeqNetwork: Layer {
    public let architecture: Seq2SeqArchitecture
    let sourceEmbedding: Embedding
    let encoder: RecurrentLayer
    let targetEmbedding: Embedding
    let decoder: RecurrentLayer
    /// Luong general: W_a [H, H], applied to the encoder outputs once per batch.
    let luongWeight: Dense?
    /// Bahdanau: W_q [H, H] (no bias), W_k [H, H], v [1, H] (no bias).
    let bahdanauQuery: Dense?, bahdanauKey: Dense?, bahdanauScore: Dense?
    /// W_c [H, 2H]: context and decoder output into the attentional vector (nil without attention).
    let combine: Dense?
    let output: Dense
    let embeddingDropout: Dropout
    let outputDropout: Dropout

    public init(_ architecture: Seq2SeqArchitecture, seed: UInt64 = 0) {
        let a = architecture, hidden = a.hiddenSize
        self.architecture = a
        sourceEmbedding = Embedding(vocabularySize: a.sourceVocabularySize, embeddingSize: a.embeddingSize, seed: seed)
        encoder = RecurrentLayer(a.encoderConfiguration, seed: seed &+ 1)
        targetEmbedding = Embedding(vocabularySize: a.targetVocabularySize, embeddingSize: a.embeddingSize, seed: seed &+ 2)
        decoder = RecurrentLayer(a.decoderConfiguration, seed: seed &+ 3)
        luongWeight = a.attention == .luong && a.luongScore == .general
            ? Dense(inputSize: hidden, outputSize: hidden, bias: false, seed: seed &+ 4) : nil
        let additive = a.attention == .bahdanau
        bahdanauQuery = additive ? Dense(inputSize: hidden, outputSize: hidden, bias: false, seed: seed &+ 5) : nil
        bahdanauKey = additive ? Dense(inputSize: hidden, outputSize: hidden, seed: seed &+ 6) : nil
        bahdanauScore = additive ? Dense(inputSize: hidden, outputSize: 1, bias: false, seed: seed &+ 7) : nil
        combine = a.attention == .none ? nil : Dense(inputSize: 2 * hidden, outputSize: hidden, seed: seed &+ 8)
        output = Dense(inputSize: hidden, outputSize: a.targetVocabularySize, seed: seed &+ 9)
        embeddingDropout = Dropout(probability: a.dropout, seed: seed &+ 10)
        outputDropout = Dropout(probability: a.dropout, seed: seed &+ 11)
    }

    public func callAsFunction(_ input: Variable) -> Variable {
        encode(input.value, lengths: Array(repeating: input.shape[1], count: input.shape[0])).outputs
    }

    public var namedParameters: [(name: String, parameter: Variable)] {
        var named: [(name: String, parameter: Variable)] = [("encoder.embedding.weight", sourceEmbedding.weight)]
        named += encoder.namedParameters.map { ("encoder.rnn." + $0.name, $0.parameter) }
        named.append(("decoder.embedding.weight", targetEmbedding.weight))
        named += decoder.namedParameters.map { ("decoder.rnn." + $0.name, $0.parameter) }
        let parts: [(String, Dense?)] = [("attention", luongWeight), ("attention.query", bahdanauQuery),
                                         ("attention.key", bahdanauKey), ("attention.score", bahdanauScore),
                                         ("decoder.combine", combine), ("decoder.output", output)]
        for (prefix, layer) in parts {
            guard let layer else { continue }
            named += layer.namedParameters.map { (prefix + "." + $0.name, $0.parameter) }
        }
        return named
    }

    public var spec: LayerSpec { .seq2seq(architecture) }

    // MARK: - Encoding

    /// What the decoder reads from a batch of sources.
    struct Encoded {
        /// [B, S, H], zero past each source's length.
        var outputs: Variable
        /// [B, S, H]: what decoder queries are scored against (W_a h_s for Luong general, W_k h_s
        /// for Bahdanau, h_s itself for Luong dot).
        var keys: Variable
        /// [B]: valid steps of each source.
        var lengths: [Int]
        /// The decoder's initial state, [L, B, H] each.
        var state: RecurrentLayer.State
    }

    /// Source ids [B, S] (checked: see `Embedding`) -> the encoder outputs, keys and states.
    func encode(_ ids: Tensor, lengths: [Int]) -> Encoded {
        let embedded = embeddingDropout(sourceEmbedding(Variable(ids)))
        let result = encoder.forward(embedded, initialState: nil, lengths: lengths)
        var state = result.state
        if architecture.bidirectionalEncoder {
            // Layer k's forward and backward final states side by side start decoder layer k.
            func joined(_ states: Variable) -> Variable {
                Variable.stack((0..<architecture.numLayers).map {
                    Variable.concatenateLastAxis([states.select(2 * $0), states.select(2 * $0 + 1)])
                })
            }
            state = RecurrentLayer.State(hidden: joined(state.hidden), cell: state.cell.map(joined))
        }
        let outputs = result.output
        let keys = luongWeight?(outputs) ?? bahdanauKey?(outputs) ?? outputs
        return Encoded(outputs: outputs, keys: keys, lengths: lengths, state: state)
    }

    // MARK: - Decoding

    /// Luong attention of decoder outputs h [B, T, H]: weights [B, T, S] and the attentional
    /// vectors tanh(W_c [context; h]) [B, T, H].
    func luongAttention(_ h: Variable, _ encoded: Encoded) -> (attentional: Variable, weights: Variable) {
        let weights = h.batchedMatmul(encoded.keys, transposeOther: true).maskedSoftmax(validCounts: encoded.lengths)
        let context = weights.batchedMatmul(encoded.outputs)
        return (combine.map { $0(Variable.concatenateLastAxis([context, h])).tanh() } ?? h, weights)
    }

    /// Bahdanau attention from the previous top decoder state s [B, H]: weights [B, 1, S] and
    /// the context [B, 1, H].
    func bahdanauAttention(_ s: Variable, _ encoded: Encoded) -> (context: Variable, weights: Variable) {
        guard let query = bahdanauQuery, let score = bahdanauScore else { preconditionFailure("not a Bahdanau network") }
        let batch = s.shape[0], steps = encoded.outputs.shape[1]
        let scores = score(encoded.keys.addingToEveryStep(query(s)).tanh()).reshaped([batch, 1, steps])
        let weights = scores.maskedSoftmax(validCounts: encoded.lengths)
        return (weights.batchedMatmul(encoded.outputs), weights)
    }

    /// Teacher forcing over whole sequences (Luong or no attention): decoder input ids [B, T]
    /// -> logits [B, T, V]. The decoder runs as one recorded operation per layer.
    func teacherForcedLogits(_ encoded: Encoded, inputs: Tensor, lengths: [Int]) -> Variable {
        precondition(architecture.attention != .bahdanau, "Bahdanau attention decodes step by step")
        let embedded = embeddingDropout(targetEmbedding(Variable(inputs)))
        let h = decoder.forward(embedded, initialState: encoded.state, lengths: lengths).output
        return output(outputDropout(architecture.attention == .none ? h : luongAttention(h, encoded).attentional))
    }

    /// One decoder step for every sequence: previous tokens [B] -> logits [B, V], the new state
    /// and the attention weights [B, S] (nil without attention). Records when recording is on.
    func step(_ tokens: [Int], state: RecurrentLayer.State, encoded: Encoded)
        -> (logits: Variable, state: RecurrentLayer.State, weights: Variable?)
    {
        let batch = tokens.count
        var input = embeddingDropout(targetEmbedding(Variable(Tensor(shape: [batch, 1], scalars: tokens.map(Float.init)))))
        var bahdanau: (context: Variable, weights: Variable)? = nil
        if architecture.attention == .bahdanau {
            let attended = bahdanauAttention(state.hidden.select(architecture.numLayers - 1), encoded)
            input = Variable.concatenateLastAxis([input, attended.context])
            bahdanau = attended
        }
        let result = decoder.forward(input, initialState: state, lengths: nil)
        let attentional: Variable, weights: Variable?
        if let bahdanau, let combine {
            attentional = combine(Variable.concatenateLastAxis([bahdanau.context, result.output])).tanh()
            weights = bahdanau.weights
        } else {
            (attentional, weights) = architecture.attention == .none ? (result.output, nil) : luongAttention(result.output, encoded)
        }
        let logits = output(outputDropout(attentional)).reshaped([batch, architecture.targetVocabularySize])
        return (logits, result.state, weights?.reshaped([batch, encoded.outputs.shape[1]]))
    }
}
