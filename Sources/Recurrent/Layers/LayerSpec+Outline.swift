extension LayerSpec {
    /// A short name of the layer kind.
    public var kindName: String {
        switch self {
        case .dense: return "dense"
        case .embedding: return "embedding"
        case .dropout: return "dropout"
        case .layerNorm: return "layer norm"
        case .recurrent(let c): return c.cell.rawValue
        case .sequential: return "sequential"
        case .languageModel: return "language model"
        case .seq2seq: return "seq2seq"
        case .strokes: return "strokes"
        case .chat: return "chat"
        }
    }

    /// One line per layer, nested layers indented, for `recurrent info`.
    public func outline() -> [String] {
        switch self {
        case .dense(let inputSize, let outputSize, let bias):
            return ["Dense(\(inputSize) -> \(outputSize)\(bias ? "" : ", no bias"))"]
        case .embedding(let vocabularySize, let embeddingSize):
            return ["Embedding(\(vocabularySize) tokens -> \(embeddingSize))"]
        case .dropout(let probability):
            return ["Dropout(\(probability))"]
        case .layerNorm(let size, _):
            return ["LayerNorm(\(size))"]
        case .recurrent(let c):
            var parts = ["\(c.inputSize) -> \(c.hiddenSize)"]
            if c.numLayers > 1 { parts.append("\(c.numLayers) layers") }
            if c.bidirectional { parts.append("bidirectional") }
            if c.cell == .rnn { parts.append(c.nonlinearity.rawValue) }
            if c.cell == .gru && !c.gruResetAfter { parts.append("reset before") }
            if c.dropout > 0 { parts.append("dropout \(c.dropout)") }
            if !c.bias { parts.append("no bias") }
            parts.append(c.output == .sequence ? "returns every step" : "returns the last state")
            return ["\(c.cell.rawValue.uppercased())(\(parts.joined(separator: ", ")))"]
        case .languageModel(let a):
            let recurrent = LayerSpec.recurrent(a.recurrentConfiguration).outline()
            return ["LanguageModel"] + ["  Embedding(\(a.vocabularySize) tokens -> \(a.embeddingSize))"] + recurrent.map { "  " + $0 }
                + (a.dropout > 0 ? ["  Dropout(\(a.dropout)) on the embeddings and the recurrent outputs"] : [])
                + ["  Dense(\(a.hiddenSize) -> \(a.vocabularySize))" + (a.tiedWeights ? ", weight tied to the embedding" : "")]
        case .seq2seq(let a):
            let attention = a.attention == .luong ? "Luong \(a.luongScore.rawValue)" : a.attention == .bahdanau ? "Bahdanau" : "none"
            return ["Seq2Seq (attention: \(attention))", "  Embedding(\(a.sourceVocabularySize) source tokens -> \(a.embeddingSize))"]
                + LayerSpec.recurrent(a.encoderConfiguration).outline().map { "  encoder " + $0 }
                + ["  Embedding(\(a.targetVocabularySize) target tokens -> \(a.embeddingSize))"]
                + LayerSpec.recurrent(a.decoderConfiguration).outline().map { "  decoder " + $0 }
                + ["  Dense(\(a.hiddenSize) -> \(a.targetVocabularySize))"]
        case .strokes(let a):
            return ["Strokes (a mixture of \(a.componentCount) bivariate Gaussians and 3 pen states)"]
                + (a.characterCount > 0 ? ["  Embedding(\(a.characterCount) characters -> \(a.embeddingSize)), joined to every step"] : [])
                + (a.startsFromCharacter ? ["  Dense(\(a.embeddingSize) -> \(a.hiddenSize)) + tanh per layer: the initial state from the character"] : [])
                + LayerSpec.recurrent(a.recurrentConfiguration).outline().map { "  " + $0 }
                + (a.dropout > 0 ? ["  Dropout(\(a.dropout))"] : []) + ["  Dense(\(a.hiddenSize) -> \(a.head.outputSize))"]
        case .chat(let a):
            let parts: [(String, LayerSpec?)] = [("replies", .seq2seq(a.replies)), ("contexts", a.contexts.map(LayerSpec.seq2seq)),
                                                 ("reply language model", a.replyLanguageModel.map(LayerSpec.languageModel))]
            var lines = ["Chat"]
            for case let (name, spec?) in parts {
                let outline = spec.outline()
                lines += ["  \(name): " + outline[0]] + outline.dropFirst().map { "  " + $0 }
            }
            return lines
        case .sequential(let specs):
            return ["Sequential"] + specs.enumerated().flatMap { index, spec in
                spec.outline().enumerated().map { $0 == 0 ? "  \(index): \($1)" : "    \($1)" }
            }
        }
    }

    /// The feature size a layer takes and gives (nil where any size fits), to check that the
    /// layers of a stored architecture fit together before building it.
    var featureSizes: (input: Int?, output: Int?) {
        switch self {
        case .dense(let inputSize, let outputSize, _): return (inputSize, outputSize)
        case .embedding(_, let embeddingSize): return (nil, embeddingSize)
        case .dropout: return (nil, nil)
        case .layerNorm(let size, _): return (size, size)
        case .recurrent(let c): return (c.inputSize, c.hiddenSize * c.directions)
        case .languageModel(let a): return (nil, a.vocabularySize)
        case .seq2seq(let a): return (nil, a.hiddenSize)
        case .strokes(let a): return (6, a.head.outputSize)
        case .chat(let a): return (nil, a.replies.hiddenSize)
        case .sequential(let specs):
            let input = specs.lazy.compactMap { $0.featureSizes.input }.first
            let output = specs.reversed().lazy.compactMap { $0.featureSizes.output }.first
            return (input, output)
        }
    }

    /// Throws when consecutive layers of a sequential architecture disagree on sizes.
    func checkSizesFit() throws {
        guard case .sequential(let specs) = self else { return }
        var current: Int? = nil
        for (index, spec) in specs.enumerated() {
            try spec.checkSizesFit()
            let sizes = spec.featureSizes
            if let current, let expected = sizes.input, current != expected {
                throw RecurrentError.invalidArgument("architecture: layer \(index) (\(spec.kindName)) takes \(expected) features but receives \(current)")
            }
            if let output = sizes.output { current = output }
        }
    }
}
