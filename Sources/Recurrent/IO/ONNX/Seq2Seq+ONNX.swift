import Foundation

/// An encoder-decoder as two graphs that a search outside (greedy, beam) drives:
///
/// - `encoder`: `source_tokens` int64 [S, B] (or [B, S]) and `source_lens` int32 [B] ->
///   `encoder_outputs` and `attention_keys` [B, S, H] (batch-major, as the decoder step reads
///   them), and `decoder_initial_h`/`decoder_initial_c` [L, B, H] (a bidirectional encoder's two
///   directions side by side).
/// - `decoder`: one step for every hypothesis: `tokens` int64 [B] (the previous tokens),
///   `initial_h`/`initial_c` [L, B, H], `encoder_outputs`, `attention_keys`, `source_lens` ->
///   `logits` and `log_probs` [B, V], `attention` [B, S] (with attention), `Y_h`/`Y_c` for the
///   next step. A beam search repeats rows of the encoder's outputs for each hypothesis.
struct Seq2SeqONNXRecipe: ONNXTaskRecipe {
    let network: Seq2SeqNetwork
    var roles: [String] { ["encoder", "decoder"] }
    var architecture: Seq2SeqArchitecture { network.architecture }
    var hasCell: Bool { architecture.cell == .lstm }

    func describe(role: String) -> String {
        role == "encoder"
            ? "source_tokens: int64 ids; source_lens: int32 [batch]; gives encoder_outputs, attention_keys [batch, source, hidden] "
                + "and decoder_initial_h/c [layers, batch, hidden] for the decoder step"
            : "one decoder step: tokens int64 [batch] (the previous tokens, the start token first), initial_h/c, "
                + "encoder_outputs, attention_keys, source_lens; gives logits, log_probs, attention and Y_h/Y_c for the next step"
    }

    func build(role: String, into graph: ONNXGraphBuilder, options: ONNXExportOptions) throws {
        if role == "encoder" { try buildEncoder(graph, options: options) } else { try buildDecoderStep(graph) }
    }

    private func buildEncoder(_ graph: ONNXGraphBuilder, options: ONNXExportOptions) throws {
        let a = architecture, hidden = a.hiddenSize
        let edge: [ONNXDimension] = options.batchFirst ? [.named("batch"), .named("source")] : [.named("source"), .named("batch")]
        graph.addInput("source_tokens", type: .int64, dims: edge)
        graph.addInput("source_lens", type: .int32, dims: [.named("batch")])
        graph.sequenceLengths = "source_lens"
        let ids = options.batchFirst ? graph.op("Transpose", ["source_tokens"], [.ints("perm", [1, 0])]) : "source_tokens"
        let embedded = try network.sourceEmbedding.exportONNX(ONNXValue(name: ids, kind: .tokens), to: graph)
        let run = try network.encoder.exportStack(embedded, initialHidden: nil, initialCell: nil, to: graph)
        let memoryDims: [ONNXDimension] = [.named("batch"), .named("source"), .fixed(hidden)]
        let outputs = graph.op("Transpose", [run.output.name], [.ints("perm", [1, 0, 2])])
        graph.addOutput(outputs, as: "encoder_outputs", dims: memoryDims)
        if a.attention != .none {
            let projection = network.luongWeight ?? network.bahdanauKey
            let keys = try projection.map { try $0.exportONNX(ONNXValue(name: outputs, kind: .steps(features: hidden)), to: graph).name }
            graph.addOutput(keys ?? outputs, as: "attention_keys", dims: memoryDims)
        }
        let stateDims: [ONNXDimension] = [.fixed(a.numLayers), .named("batch"), .fixed(hidden)]
        graph.addOutput(joinedStates(run.finalHidden, graph), as: "decoder_initial_h", dims: stateDims, isState: true)
        if hasCell { graph.addOutput(joinedStates(run.finalCell, graph), as: "decoder_initial_c", dims: stateDims, isState: true) }
    }

    /// Per-layer [D, B, H/D] -> [L, B, H]: a bidirectional layer's two final states side by side.
    private func joinedStates(_ states: [String], _ graph: ONNXGraphBuilder) -> String {
        let joined = architecture.bidirectionalEncoder ? states.map { state in
            let rows = graph.op("Reshape", [graph.op("Transpose", [state], [.ints("perm", [1, 0, 2])]),
                                            graph.int64Constant([0, -1], name: "shape")])
            return graph.op("Unsqueeze", [rows, graph.int64Constant([0], name: "axes")])
        } : states
        return RecurrentLayer.stacked(joined, graph)
    }

    private func buildDecoderStep(_ graph: ONNXGraphBuilder) throws {
        let a = architecture, hidden = a.hiddenSize
        let stateDims: [ONNXDimension] = [.fixed(a.numLayers), .named("batch"), .fixed(hidden)]
        let memoryDims: [ONNXDimension] = [.named("batch"), .named("source"), .fixed(hidden)]
        graph.addInput("tokens", type: .int64, dims: [.named("batch")])
        graph.addInput("initial_h", type: .float, dims: stateDims)
        if hasCell { graph.addInput("initial_c", type: .float, dims: stateDims) }
        graph.addInput("encoder_outputs", type: .float, dims: memoryDims)
        if a.attention != .none { graph.addInput("attention_keys", type: .float, dims: memoryDims) }
        graph.addInput("source_lens", type: .int32, dims: [.named("batch")])

        let embedded = graph.op("Gather", [graph.parameter(network.targetEmbedding.weight), "tokens"], [.int("axis", 0)])
        var input = embedded, features = a.embeddingSize
        var weights: String? = nil, context: String? = nil
        if a.attention == .bahdanau, let query = network.bahdanauQuery, let score = network.bahdanauScore {
            // Scores from the previous top state: v . tanh(W_k h_s + W_q s).
            let top = graph.op("Gather", ["initial_h", graph.int64Constant([Int64(a.numLayers - 1)], scalar: true, name: "top")],
                               [.int("axis", 0)])
            let projected = try query.exportONNX(ONNXValue(name: top, kind: .rows(features: hidden)), to: graph).name
            let summed = graph.op("Add", ["attention_keys", graph.op("Unsqueeze", [projected, graph.int64Constant([1], name: "axes")])])
            let scores = try score.exportONNX(ONNXValue(name: graph.op("Tanh", [summed]), kind: .steps(features: hidden)), to: graph)
            let attended = attend(scores: graph.op("Transpose", [scores.name], [.ints("perm", [0, 2, 1])]), graph)
            (weights, context) = (attended.weights, attended.context)
            input = graph.op("Concat", [embedded, attended.context], [.int("axis", -1)])
            features += hidden
        }
        let steps = ONNXValue(name: graph.op("Unsqueeze", [input, graph.int64Constant([0], name: "axes")]), kind: .steps(features: features))
        let run = try network.decoder.exportStack(steps, initialHidden: "initial_h", initialCell: hasCell ? "initial_c" : nil, to: graph)
        let output = graph.op("Squeeze", [run.output.name, graph.int64Constant([0], name: "axes")])
        var attentional = output
        if a.attention == .luong {
            let query = graph.op("Unsqueeze", [output, graph.int64Constant([1], name: "axes")])
            let keys = graph.op("Transpose", ["attention_keys"], [.ints("perm", [0, 2, 1])])
            let attended = attend(scores: graph.op("MatMul", [query, keys]), graph)
            (weights, context) = (attended.weights, attended.context)
        }
        if let context, let combine = network.combine {
            let joined = ONNXValue(name: graph.op("Concat", [context, output], [.int("axis", -1)]), kind: .rows(features: 2 * hidden))
            attentional = graph.op("Tanh", [try combine.exportONNX(joined, to: graph).name])
        }
        let logits = try network.output.exportONNX(ONNXValue(name: attentional, kind: .rows(features: hidden)), to: graph).name
        let vocabulary: [ONNXDimension] = [.named("batch"), .fixed(a.targetVocabularySize)]
        graph.addOutput(logits, as: "logits", dims: vocabulary)
        graph.addOutput(graph.op("LogSoftmax", [logits], [.int("axis", -1)]), as: "log_probs", dims: vocabulary)
        if let weights {
            let flat = graph.op("Squeeze", [weights, graph.int64Constant([1], name: "axes")])
            graph.addOutput(flat, as: "attention", dims: [.named("batch"), .named("source")])
        }
        graph.addOutput(RecurrentLayer.stacked(run.finalHidden, graph), as: "Y_h", dims: stateDims, isState: true)
        if hasCell { graph.addOutput(RecurrentLayer.stacked(run.finalCell, graph), as: "Y_c", dims: stateDims, isState: true) }
    }

    /// Scores [B, 1, S] -> weights (softmax over each source's valid steps, padding exactly 0)
    /// [B, 1, S] and the context [B, H].
    private func attend(scores: String, _ graph: ONNXGraphBuilder) -> (weights: String, context: String) {
        let sourceSteps = graph.op("Gather", [graph.op("Shape", ["encoder_outputs"]), graph.int64Constant([1], scalar: true, name: "one")],
                                   [.int("axis", 0)])
        let positions = graph.op("Range", [graph.int64Constant([0], scalar: true, name: "zero"), sourceSteps,
                                           graph.int64Constant([1], scalar: true, name: "one")])
        let limits = graph.op("Unsqueeze", [graph.op("Cast", ["source_lens"], [.int("to", 7)]), graph.int64Constant([1, 2], name: "axes")])
        let valid = graph.op("Less", [positions, limits])
        let masked = graph.op("Where", [valid, scores, graph.floatConstant(-.infinity, name: "minus_infinity")])
        let weights = graph.op("Softmax", [masked], [.int("axis", -1)])
        let context = graph.op("Squeeze", [graph.op("MatMul", [weights, "encoder_outputs"]), graph.int64Constant([1], name: "axes")])
        return (weights, context)
    }

    func sampleInputs(role: String, batch: Int, time: Int, options: ONNXExportOptions,
                      using generator: inout SplitMix64) throws -> [String: ONNXFeed] {
        let a = architecture
        func ids(_ count: Int, below limit: Int) -> [Int] { (0..<count).map { _ in Int(generator.next() % UInt64(limit)) } }
        let lengths = IntegerTensor((0..<batch).map { $0 == 0 ? time : 1 + Int(generator.next() % UInt64(time)) })
        if role == "encoder" {
            let shape = options.batchFirst ? [batch, time] : [time, batch]
            return ["source_tokens": .int64(IntegerTensor(shape: shape, values: ids(batch * time, below: a.sourceVocabularySize))),
                    "source_lens": .int32(lengths)]
        }
        let stateShape = [a.numLayers, batch, a.hiddenSize], memoryShape = [batch, time, a.hiddenSize]
        var feeds: [String: ONNXFeed] = [
            "tokens": .int64(IntegerTensor(ids(batch, below: a.targetVocabularySize))),
            "initial_h": .float(.uniform(shape: stateShape, low: -0.5, high: 0.5, using: &generator)),
            "encoder_outputs": .float(.uniform(shape: memoryShape, low: -1, high: 1, using: &generator)),
            "source_lens": .int32(lengths),
        ]
        if hasCell { feeds["initial_c"] = .float(.uniform(shape: stateShape, low: -0.5, high: 0.5, using: &generator)) }
        if a.attention != .none { feeds["attention_keys"] = .float(.uniform(shape: memoryShape, low: -1, high: 1, using: &generator)) }
        return feeds
    }

    func reference(role: String, inputs: [String: ONNXFeed], options: ONNXExportOptions) throws -> [String: Tensor] {
        let feeds = ONNXFeeds(inputs, batchFirst: options.batchFirst)
        let lengths = try feeds.integers("source_lens")
        if role == "encoder" {
            let ids = try feeds.tokensBatchFirst("source_tokens").value
            try network.sourceEmbedding.validate(ids)
            try network.encoder.validate(input: [ids.shape[0], ids.shape[1], architecture.embeddingSize], initialState: nil, lengths: lengths)
            let encoded = network.encode(ids, lengths: lengths)
            var outputs = ["encoder_outputs": encoded.outputs.value, "decoder_initial_h": encoded.state.hidden.value]
            if architecture.attention != .none { outputs["attention_keys"] = encoded.keys.value }
            if let cell = encoded.state.cell { outputs["decoder_initial_c"] = cell.value }
            return outputs
        }
        let tokens = try feeds.integers("tokens")
        try network.targetEmbedding.validate(Tensor(shape: [tokens.count], scalars: tokens.map(Float.init)))
        let memory = try feeds.float("encoder_outputs")
        let state = RecurrentLayer.State(hidden: Variable(try feeds.float("initial_h")),
                                         cell: hasCell ? Variable(try feeds.float("initial_c")) : nil)
        let keys = architecture.attention == .none ? memory : try feeds.float("attention_keys")
        let hidden = architecture.hiddenSize
        guard memory.rank == 3, memory.shape[0] == tokens.count, memory.shape[2] == hidden, keys.shape == memory.shape else {
            throw RecurrentError.shapeMismatch("encoder_outputs \(memory.shape) and attention_keys \(keys.shape) must be [\(tokens.count), source, \(hidden)]")
        }
        guard lengths.count == tokens.count, lengths.allSatisfy({ $0 >= 1 && $0 <= memory.shape[1] }) else {
            throw RecurrentError.invalidArgument("source_lens \(lengths) must hold one length in 1...\(memory.shape[1]) per sequence")
        }
        try network.decoder.validate(input: [tokens.count, 1, network.decoder.configuration.inputSize], initialState: state, lengths: nil)
        let encoded = Seq2SeqNetwork.Encoded(outputs: Variable(memory), keys: Variable(keys), lengths: lengths, state: state)
        let step = network.step(tokens, state: state, encoded: encoded)
        var outputs = ["logits": step.logits.value, "log_probs": step.logits.value.logSoftmaxOfRows(), "Y_h": step.state.hidden.value]
        if let cell = step.state.cell { outputs["Y_c"] = cell.value }
        if let weights = step.weights { outputs["attention"] = weights.value }
        return outputs
    }
}
