import Foundation

/// A model of one graph whose layers run one after another: a plain layer or `Sequential`, a
/// forecaster, a classifier (pooling between its recurrent layer and its head), a language
/// model, a speech recognizer.
///
/// Inputs: `x` float [T, B, F] (or `tokens` int64 [T, B] when the first layer is an embedding),
/// [B, T, ...] with `batchFirst`; `sequence_lens` int32 [B] when the task pads its batches; each
/// recurrent layer's `initial_h`/`initial_c` [L*D, B, H]. Outputs: the heads (`y`, or `logits`
/// and `probabilities`), then each recurrent layer's `Y_h`/`Y_c`.
struct LayerStackRecipe: ONNXTaskRecipe {
    enum Head {
        /// The last layer's output, as `y`.
        case output
        /// The same, as `logits`.
        case logits
        /// Softmax over the last axis, as `probabilities`.
        case probabilities
        /// Log-softmax over the last axis, as `log_probs`.
        case logProbabilities
    }

    let layers: [any Layer]
    let usesLengths: Bool
    /// Applied to the outputs of the first recurrent layer that returns every step.
    let pooling: Pooling?
    let heads: [Head]

    var roles: [String] { ["model"] }

    var vocabularySize: Int? {
        (layers.first as? Embedding)?.vocabularySize ?? (layers.first as? LanguageModelNetwork)?.architecture.vocabularySize
    }

    var recurrentLayers: [RecurrentLayer] {
        layers.compactMap { ($0 as? RecurrentLayer) ?? ($0 as? LanguageModelNetwork)?.recurrent }
    }

    static func stateName(_ base: String, _ index: Int) -> String { index == 0 ? base : "\(base)_\(index)" }

    func describe(role: String) -> String {
        let input = vocabularySize == nil ? "x: float steps" : "tokens: int64 ids"
        let lengths = usesLengths ? "; sequence_lens: int32 [batch], each in 1...sequence" : ""
        return "\(input)\(lengths); initial_h/initial_c: the recurrent state [layers*directions, batch, hidden] "
            + "(zeros to start; feed Y_h/Y_c back to stream)"
    }

    func build(role: String, into graph: ONNXGraphBuilder, options: ONNXExportOptions) throws {
        let edge: [ONNXDimension] = options.batchFirst ? [.named("batch"), .named("sequence")] : [.named("sequence"), .named("batch")]
        var value: ONNXValue
        if vocabularySize != nil {
            graph.addInput("tokens", type: .int64, dims: edge)
            value = ONNXValue(name: options.batchFirst ? graph.op("Transpose", ["tokens"], [.ints("perm", [1, 0])]) : "tokens",
                              kind: .tokens)
        } else {
            guard let features = LayerSpec.sequential(layers.map(\.spec)).featureSizes.input else {
                throw RecurrentError.invalidArgument("the model's first layer does not tell its input size; it cannot be exported")
            }
            graph.addInput("x", type: .float, dims: edge + [.fixed(features)])
            value = ONNXValue(name: options.batchFirst ? graph.op("Transpose", ["x"], [.ints("perm", [1, 0, 2])]) : "x",
                              kind: .steps(features: features))
        }
        if usesLengths {
            graph.addInput("sequence_lens", type: .int32, dims: [.named("batch")])
            graph.sequenceLengths = "sequence_lens"
        }
        var pooled = false
        for layer in layers {
            value = try exportONNX(layer, value, to: graph)
            if layer is RecurrentLayer, !pooled, let pooling, case .steps = value.kind {
                value = ONNXPooling.pool(value, pooling, graph: graph)
                pooled = true
            }
        }
        let output: String, dims: [ONNXDimension]
        switch value.kind {
        case .steps(let features):
            output = options.batchFirst ? graph.op("Transpose", [value.name], [.ints("perm", [1, 0, 2])]) : value.name
            dims = edge + [.fixed(features)]
        case .rows(let features):
            (output, dims) = (value.name, [.named("batch"), .fixed(features)])
        case .tokens:
            throw RecurrentError.invalidArgument("the model returns its token ids unchanged; there is nothing to export")
        }
        for head in heads {
            switch head {
            case .output: graph.addOutput(output, as: "y", dims: dims)
            case .logits: graph.addOutput(output, as: "logits", dims: dims)
            case .probabilities: graph.addOutput(graph.op("Softmax", [output], [.int("axis", -1)]), as: "probabilities", dims: dims)
            case .logProbabilities: graph.addOutput(graph.op("LogSoftmax", [output], [.int("axis", -1)]), as: "log_probs", dims: dims)
            }
        }
    }

    func sampleInputs(role: String, batch: Int, time: Int, options: ONNXExportOptions,
                      using generator: inout SplitMix64) throws -> [String: ONNXFeed] {
        var feeds: [String: ONNXFeed] = [:]
        let edge = options.batchFirst ? [batch, time] : [time, batch]
        if let vocabularySize {
            let ids = (0..<(batch * time)).map { _ in Int(generator.next() % UInt64(vocabularySize)) }
            feeds["tokens"] = .int64(IntegerTensor(shape: edge, values: ids))
        } else if let features = LayerSpec.sequential(layers.map(\.spec)).featureSizes.input {
            feeds["x"] = .float(.uniform(shape: edge + [features], low: -1, high: 1, using: &generator))
        }
        if usesLengths {
            let lengths = (0..<batch).map { $0 == 0 ? time : 1 + Int(generator.next() % UInt64(time)) }
            feeds["sequence_lens"] = .int32(IntegerTensor(lengths))
        }
        for (index, layer) in recurrentLayers.enumerated() {
            let c = layer.configuration, shape = [c.numLayers * c.directions, batch, c.hiddenSize]
            feeds[Self.stateName("initial_h", index)] = .float(.uniform(shape: shape, low: -0.5, high: 0.5, using: &generator))
            if c.cell == .lstm {
                feeds[Self.stateName("initial_c", index)] = .float(.uniform(shape: shape, low: -0.5, high: 0.5, using: &generator))
            }
        }
        return feeds
    }

    func reference(role: String, inputs: [String: ONNXFeed], options: ONNXExportOptions) throws -> [String: Tensor] {
        let feeds = ONNXFeeds(inputs, batchFirst: options.batchFirst)
        var value = try vocabularySize != nil ? feeds.tokensBatchFirst("tokens") : feeds.stepsBatchFirst("x")
        let lengths = usesLengths ? try feeds.integers("sequence_lens") : nil
        var outputs: [String: Tensor] = [:]
        var recurrentIndex = 0, pooled = false
        func state(_ layer: RecurrentLayer) throws -> RecurrentLayer.State {
            let hidden = try feeds.float(Self.stateName("initial_h", recurrentIndex))
            let cell = layer.configuration.cell == .lstm ? try feeds.float(Self.stateName("initial_c", recurrentIndex)) : nil
            return RecurrentLayer.State(hidden: Variable(hidden), cell: cell.map { Variable($0) })
        }
        func record(_ result: RecurrentLayer.State) {
            outputs[Self.stateName("Y_h", recurrentIndex)] = result.hidden.value
            if let cell = result.cell { outputs[Self.stateName("Y_c", recurrentIndex)] = cell.value }
            recurrentIndex += 1
        }
        for layer in layers {
            switch layer {
            case let recurrent as RecurrentLayer:
                let result = try recurrent.run(value, initialState: try state(recurrent), lengths: lengths)
                record(result.state)
                value = recurrent.configuration.output == .sequence ? result.output : recurrent.lastState(result.state)
                if !pooled, let pooling, recurrent.configuration.output == .sequence {
                    pooled = true
                    if pooling == .mean { value = value.meanOverTime(lengths: lengths) }
                    if pooling == .max { value = value.maxOverTime(lengths: lengths) }
                }
            case let network as LanguageModelNetwork:
                try network.embedding.validate(value.value)
                let start = try state(network.recurrent)
                try network.recurrent.validate(input: value.shape + [network.architecture.embeddingSize], initialState: start, lengths: nil)
                let result = network.run(value, state: start)
                record(result.state)
                value = result.logits
            case let embedding as Embedding:
                value = try embedding.embed(value)
            default:
                try (layer as? any InputValidating)?.validate(value.value)
                value = layer(value)
            }
        }
        let output = value.value.rank == 3 && !options.batchFirst ? value.value.swappingFirstTwoAxes() : value.value
        for head in heads {
            switch head {
            case .output: outputs["y"] = output
            case .logits: outputs["logits"] = output
            case .probabilities: outputs["probabilities"] = Variable(output).softmax().value
            case .logProbabilities: outputs["log_probs"] = output.logSoftmaxOfRows()
            }
        }
        return outputs
    }
}

/// Pooling of the recurrent outputs over time, as the classifier does it: the mean or the
/// maximum over each sequence's valid steps.
enum ONNXPooling {
    /// steps [T, B, F] -> rows [B, F].
    static func pool(_ value: ONNXValue, _ pooling: Pooling, graph: ONNXGraphBuilder) -> ONNXValue {
        let features = value.features ?? 0
        let time = graph.int64Constant([0], name: "axes")
        let name: String
        switch (pooling, graph.sequenceLengths) {
        case (.last, _):
            return value
        case (.mean, nil):
            name = graph.op("ReduceMean", [value.name], [.ints("axes", [0]), .int("keepdims", 0)])
        case (.mean, let lengths?):
            // Steps past a sequence's length are zero in the recurrent operators' outputs.
            let sum = graph.op("ReduceSum", [value.name, time], [.int("keepdims", 0)])
            let count = graph.op("Unsqueeze", [graph.op("Cast", [lengths], [.int("to", 1)]), graph.int64Constant([1], name: "axes")])
            name = graph.op("Div", [sum, count])
        case (.max, nil):
            name = graph.op("ReduceMax", [value.name], [.ints("axes", [0]), .int("keepdims", 0)])
        case (.max, let lengths?):
            // Padding steps become -inf, so that they never win.
            let steps = graph.op("Gather", [graph.op("Shape", [value.name]), graph.int64Constant([0], scalar: true, name: "zero")],
                                 [.int("axis", 0)])
            let positions = graph.op("Range", [graph.int64Constant([0], scalar: true, name: "zero"), steps,
                                               graph.int64Constant([1], scalar: true, name: "one")])
            let limits = graph.op("Unsqueeze", [graph.op("Cast", [lengths], [.int("to", 7)]), graph.int64Constant([0], name: "axes")])
            let valid = graph.op("Less", [graph.op("Unsqueeze", [positions, graph.int64Constant([1], name: "axes")]), limits])
            let mask = graph.op("Unsqueeze", [valid, graph.int64Constant([2], name: "axes")])
            let masked = graph.op("Where", [mask, value.name, graph.floatConstant(-.infinity, name: "minus_infinity")])
            name = graph.op("ReduceMax", [masked], [.ints("axes", [0]), .int("keepdims", 0)])
        }
        return ONNXValue(name: name, kind: .rows(features: features))
    }
}

/// Named inputs, read as the reference computation needs them (batch-first).
struct ONNXFeeds {
    let values: [String: ONNXFeed]
    let batchFirst: Bool

    init(_ values: [String: ONNXFeed], batchFirst: Bool) {
        self.values = values
        self.batchFirst = batchFirst
    }

    func float(_ name: String) throws -> Tensor {
        guard case .float(let tensor)? = values[name] else { throw RecurrentError.invalidArgument("input \"\(name)\" (float) is missing") }
        return tensor
    }

    func integers(_ name: String) throws -> [Int] {
        switch values[name] {
        case .int32(let tensor)?, .int64(let tensor)?: return tensor.values
        default: throw RecurrentError.invalidArgument("input \"\(name)\" (integers) is missing")
        }
    }

    /// [T, B, F] (or [B, T, F]) -> [B, T, F].
    func stepsBatchFirst(_ name: String) throws -> Variable {
        let tensor = try float(name)
        guard tensor.rank == 3 else { throw RecurrentError.shapeMismatch("input \"\(name)\" is \(tensor.shape), expected 3 axes") }
        return Variable(batchFirst ? tensor : tensor.swappingFirstTwoAxes())
    }

    /// int64 ids [T, B] (or [B, T]) -> float ids [B, T].
    func tokensBatchFirst(_ name: String) throws -> Variable {
        guard case .int64(let ids)? = values[name], ids.shape.count == 2 else {
            throw RecurrentError.invalidArgument("input \"\(name)\" (int64 [sequence, batch]) is missing")
        }
        let tensor = Tensor(shape: ids.shape, scalars: ids.values.map(Float.init))
        return Variable(batchFirst ? tensor : tensor.swappingFirstTwoAxes())
    }
}

extension Tensor {
    /// [A, B, ...] -> [B, A, ...].
    func swappingFirstTwoAxes() -> Tensor {
        precondition(rank >= 2, "swappingFirstTwoAxes needs two axes, got \(shape)")
        let (a, b) = (shape[0], shape[1]), inner = shape.dropFirst(2).reduce(1, *)
        var result = [Float](repeating: 0, count: count)
        for i in 0..<a {
            for j in 0..<b {
                let from = (i * b + j) * inner, to = (j * a + i) * inner
                for k in 0..<inner { result[to + k] = scalars[from + k] }
            }
        }
        return Tensor(shape: [b, a] + shape.dropFirst(2), scalars: result)
    }

    /// log softmax over the last axis, in Double.
    func logSoftmaxOfRows() -> Tensor {
        let width = Swift.max(shape.last ?? 1, 1)
        var result = scalars
        for start in stride(from: 0, to: count, by: width) {
            let row = scalars[start..<(start + width)]
            let largest = Double(row.max() ?? 0)
            let total = row.reduce(0.0) { $0 + Foundation.exp(Double($1) - largest) }
            for index in start..<(start + width) { result[index] = Float(Double(scalars[index]) - largest - Foundation.log(total)) }
        }
        return Tensor(shape: shape, scalars: result)
    }
}
