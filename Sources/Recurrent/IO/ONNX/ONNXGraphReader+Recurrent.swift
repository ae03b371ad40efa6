import Foundation

extension ONNXGraphReader {
    static func flipped(_ order: Order) -> Order {
        switch order {
        case .input: return .inputSwapped
        case .inputSwapped: return .input
        case .timeMajor: return .batchMajor
        case .batchMajor: return .timeMajor
        }
    }

    func directions(ofStage stage: Int) -> Int {
        guard case .recurrent(let configuration, _, _) = stages[stage] else { return 1 }
        return configuration.directions
    }

    /// Squeeze, Slice, Transpose, Reshape, Unsqueeze, Concat and ConstantOfShape as PyTorch
    /// writes them around recurrent nodes; other uses are refused.
    mutating func readShaping(_ node: Onnx_NodeProto) throws {
        let input = try symbol(node, 0)
        if case .shape? = input, node.opType != "ConstantOfShape" { return set(node, .shape) }
        switch (node.opType, input) {
        case ("Unsqueeze", .constant?): set(node, .shape)
        case ("ConstantOfShape", .shape?), ("ConstantOfShape", .constant?):
            if let value = attribute(node, "value"), (try? value.t.floatTensor("value").scalars.allSatisfy { $0 == 0 }) != true {
                throw fail(node, "only zeros are supported (an initial state)")
            }
            set(node, .zeros)
        case ("Concat", _): try readConcat(node)
        case ("Squeeze", .recurrentY(let stage, _)?) where try integers(node, 1, "axes") == [1] && directions(ofStage: stage) == 1:
            guard case .recurrent(let configuration, _, _) = stages[stage] else { throw fail(node, "not a recurrent output") }
            set(node, .steps(order: .timeMajor, features: configuration.hiddenSize))
            lastRecurrentOutput = node.output.first
        case ("Squeeze", .finalState(let stage, let layer, false)?) where try integers(node, 1, "axes") == [0] && directions(ofStage: stage) == 1:
            set(node, .direction(stage: stage, layer: layer, direction: 0))
        case ("Slice", .zeros?):
            set(node, .zeros)
        case ("Slice", .state(let name, let offset, _)?):
            let starts = try integers(node, 1, "starts"), ends = try integers(node, 2, "ends")
            let axes = node.input.count > 3 && !node.input[3].isEmpty ? try integers(node, 3, "axes") : [0]
            let steps = node.input.count > 4 && !node.input[4].isEmpty ? try integers(node, 4, "steps") : [1]
            guard axes == [0], steps == [1], starts.count == 1, ends.count == 1, starts[0] >= 0, ends[0] > starts[0] else {
                throw fail(node, "only a slice of whole layers of a state input is supported")
            }
            set(node, .state(input: name, offset: offset + starts[0], count: ends[0] - starts[0]))
        case ("Transpose", _): try readTranspose(node, input)
        case ("Reshape", .recurrentYTransposed(let stage, _)?) where try integers(node, 1, "shape") == [0, 0, -1]:
            guard case .recurrent(let configuration, _, _) = stages[stage] else { throw fail(node, "not a recurrent output") }
            set(node, .steps(order: .timeMajor, features: 2 * configuration.hiddenSize))
            lastRecurrentOutput = node.output.first
        case ("Reshape", .finalStateTransposed(let stage, let layer)?) where try integers(node, 1, "shape") == [0, -1]:
            try setLastState(node, stage: stage, layer: layer)
        default:
            throw fail(node, "this use of \(node.opType) is not supported")
        }
    }

    mutating func readTranspose(_ node: Onnx_NodeProto, _ input: Symbol?) throws {
        try checkAttributes(node, known: ["perm"])
        let perm = attribute(node, "perm")?.ints.map(Int.init) ?? []
        switch (input, perm) {
        case (.steps(let order, let features)?, [1, 0, 2]): set(node, .steps(order: Self.flipped(order), features: features))
        case (.tokens(let order)?, [1, 0]): set(node, .tokens(order: Self.flipped(order)))
        case (.recurrentY(let stage, let layer)?, [0, 2, 1, 3]): set(node, .recurrentYTransposed(stage: stage, layer: layer))
        case (.finalState(let stage, let layer, false)?, [1, 0, 2]): set(node, .finalStateTransposed(stage: stage, layer: layer))
        default: throw fail(node, "a Transpose with perm \(perm) of this value is not supported")
        }
    }

    mutating func readConcat(_ node: Onnx_NodeProto) throws {
        let parts = try node.input.indices.map { try symbol(node, $0) }
        let axis = intAttribute(node, "axis", default: 0)
        if parts.allSatisfy({ if case .shape? = $0 { return true }; if case .constant? = $0 { return true }; return false }) {
            return set(node, .shape)
        }
        // Final states of consecutive layers along axis 0: h_n.
        let states = parts.compactMap { part -> (stage: Int, layer: Int, cell: Bool)? in
            if case .finalState(let stage, let layer, let cell)? = part { return (stage, layer, cell) }
            return nil
        }
        if states.count == parts.count, axis == 0, let first = states.first,
           states.enumerated().allSatisfy({ $1.stage == first.stage && $1.cell == first.cell && $1.layer == first.layer + $0 }) {
            return set(node, .stateStack(stage: first.stage, cell: first.cell, layers: first.layer..<(first.layer + states.count)))
        }
        // The directions of one layer side by side: torch.cat([h_n[-2], h_n[-1]], 1).
        let directions = parts.compactMap { part -> (stage: Int, layer: Int, direction: Int)? in
            if case .direction(let stage, let layer, let direction)? = part { return (stage, layer, direction) }
            return nil
        }
        if directions.count == parts.count, axis == 1 || axis == -1, let first = directions.first,
           directions.enumerated().allSatisfy({ $1.stage == first.stage && $1.layer == first.layer && $1.direction == $0 }),
           directions.count == self.directions(ofStage: first.stage) {
            return try setLastState(node, stage: first.stage, layer: first.layer)
        }
        throw fail(node, "this Concat is not supported")
    }

    /// The rows a head reads: the flow's rows, or the final state of a unidirectional stack's
    /// top layer (h_n[-1]), which makes the stack return its last state.
    mutating func headRows(_ node: Onnx_NodeProto, _ input: Symbol?) throws -> Int? {
        switch input {
        case .rows(let features)?: return features
        case .direction(let stage, let layer, 0)? where directions(ofStage: stage) == 1:
            try markLastState(node, stage: stage, layer: layer)
            guard case .recurrent(let configuration, _, _) = stages[stage] else { return nil }
            return configuration.hiddenSize
        default: return nil
        }
    }

    /// The final state of the top layer, directions side by side: the stack returns its last state.
    mutating func setLastState(_ node: Onnx_NodeProto, stage: Int, layer: Int) throws {
        try markLastState(node, stage: stage, layer: layer)
        guard case .recurrent(let configuration, _, _) = stages[stage] else { return }
        set(node, .rows(features: configuration.directions * configuration.hiddenSize))
    }

    mutating func markLastState(_ node: Onnx_NodeProto, stage: Int, layer: Int) throws {
        guard stage == stages.count - 1, case .recurrent(var configuration, let layers, let lengths) = stages[stage],
              layer == layers.count - 1, configuration.output == .sequence else {
            throw fail(node, "only the final state of the top layer of the last recurrent stack can feed the head")
        }
        configuration.output = .lastState
        stages[stage] = .recurrent(configuration, layers: layers, lengths: lengths)
    }

    mutating func readRecurrent(_ node: Onnx_NodeProto) throws {
        let cell: CellKind = node.opType == "RNN" ? .rnn : node.opType == "LSTM" ? .lstm : .gru
        try checkAttributes(node, known: ["hidden_size", "direction", "layout", "activations", "linear_before_reset",
                                          "clip", "input_forget", "activation_alpha", "activation_beta"])
        if intAttribute(node, "layout", default: 0) != 0 {
            throw fail(node, "attribute layout = \(intAttribute(node, "layout", default: 0)) (batch-first inside the operator) is not supported, "
                + "and ONNX Runtime refuses it too: export with layout 0 and Transpose nodes at the graph's edges")
        }
        for name in ["clip", "activation_alpha", "activation_beta"] where attribute(node, name) != nil {
            throw fail(node, "attribute \(name) is not supported")
        }
        if intAttribute(node, "input_forget", default: 0) != 0 { throw fail(node, "attribute input_forget = 1 is not supported") }
        let direction = attribute(node, "direction").map { String(decoding: $0.s, as: UTF8.self) } ?? "forward"
        guard direction == "forward" || direction == "bidirectional" else {
            throw fail(node, "attribute direction = \"\(direction)\" is not supported (forward or bidirectional)")
        }
        let hidden = intAttribute(node, "hidden_size", default: 0), directionCount = direction == "bidirectional" ? 2 : 1
        guard (1...(1 << 24)).contains(hidden) else { throw fail(node, "attribute hidden_size = \(hidden) is not a positive size") }
        let nonlinearity = try activations(node, cell: cell, directions: directionCount)
        let resetAfter = intAttribute(node, "linear_before_reset", default: 0) == 1
        if cell != .gru, attribute(node, "linear_before_reset") != nil { throw fail(node, "attribute linear_before_reset applies to GRU only") }
        if cell == .lstm, node.input.count > 7, !node.input[7].isEmpty { throw fail(node, "peephole weights P are not supported") }

        let gates = cell == .rnn ? 1 : cell == .lstm ? 4 : 3, width = gates * hidden
        let w = try constant(node, 1, "W").floatTensor("node \"\(node.name)\" W \"\(node.input[1])\"")
        let r = try constant(node, 2, "R").floatTensor("node \"\(node.name)\" R \"\(node.input[2])\"")
        guard w.rank == 3, w.shape[0] == directionCount, w.shape[1] == width else {
            throw fail(node, "W \"\(node.input[1])\" is \(w.shape), expected [\(directionCount), \(width), input size] for hidden_size \(hidden)")
        }
        guard r.shape == [directionCount, width, hidden] else {
            throw fail(node, "R \"\(node.input[2])\" is \(r.shape), expected [\(directionCount), \(width), \(hidden)]")
        }
        let b = try symbol(node, 3) == nil ? nil : try constant(node, 3, "B").floatTensor("node \"\(node.name)\" B \"\(node.input[3])\"")
        if let b, b.shape != [directionCount, 2 * width] {
            throw fail(node, "B \"\(node.input[3])\" is \(b.shape), expected [\(directionCount), \(2 * width)]")
        }
        let hasLengths: Bool
        switch try symbol(node, 4) {
        case nil: hasLengths = false
        case .lengths?: hasLengths = true
        default: throw fail(node, "sequence_lens must come from a graph input")
        }
        guard case .steps(let order, let features)? = try symbol(node, 0) else { throw fail(node, "X must be the model's sequence") }
        let inputSize = w.shape[2]
        if let features, features != inputSize {
            throw fail(node, "W \"\(node.input[1])\" takes \(inputSize) features, X has \(features)")
        }
        try resolveOrder(node, order)

        let weights = (0..<directionCount).map { d -> DirectionWeights in
            func block(_ tensor: Tensor, _ index: Int, _ rows: Int, _ columns: Int, offset: Int = 0) -> Tensor {
                let size = rows * columns, start = index * tensor.count / directionCount + offset
                return ONNXRecurrentGates.toTorch(Tensor(shape: columns == 1 ? [rows] : [rows, columns],
                                                        scalars: Array(tensor.scalars[start..<(start + size)])), cell: cell)
            }
            return DirectionWeights(inputWeight: block(w, d, width, inputSize), hiddenWeight: block(r, d, width, hidden),
                                    inputBias: b.map { block($0, d, width, 1) }, hiddenBias: b.map { block($0, d, width, 1, offset: width) })
        }
        var configuration = RecurrentConfiguration(cell: cell, inputSize: inputSize, hiddenSize: hidden, numLayers: 1,
                                                   bidirectional: directionCount == 2, nonlinearity: nonlinearity, bias: b != nil,
                                                   gruResetAfter: cell == .gru ? resetAfter : true, output: .sequence)
        var layerIndex = 0
        if node.input[0] == lastRecurrentOutput, case .recurrent(let previous, var layers, let lengths)? = stages.last,
           previous.cell == cell, previous.hiddenSize == hidden, previous.bidirectional == configuration.bidirectional,
           previous.nonlinearity == nonlinearity, previous.bias == configuration.bias, previous.gruResetAfter == configuration.gruResetAfter,
           lengths == hasLengths, previous.output == .sequence {
            // The next layer of the same stack.
            layers.append(weights)
            configuration = previous
            configuration.numLayers += 1
            layerIndex = layers.count - 1
            stages[stages.count - 1] = .recurrent(configuration, layers: layers, lengths: lengths)
        } else {
            stages.append(.recurrent(configuration, layers: [weights], lengths: hasLengths))
        }
        try checkInitialState(node, index: 5, layer: layerIndex, directions: directionCount)
        if cell == .lstm { try checkInitialState(node, index: 6, layer: layerIndex, directions: directionCount) }
        let stage = stages.count - 1
        set(node, .recurrentY(stage: stage, layer: layerIndex), output: 0)
        set(node, .finalState(stage: stage, layer: layerIndex, cell: false), output: 1)
        set(node, .finalState(stage: stage, layer: layerIndex, cell: true), output: 2)
    }

    /// The graph's sequence input is batch-first when a Transpose stands between it and the
    /// first recurrent node.
    mutating func resolveOrder(_ node: Onnx_NodeProto, _ order: Order) throws {
        switch order {
        case .timeMajor: return
        case .batchMajor: throw fail(node, "X is batch-major; ONNX's recurrent operators read [sequence, batch, features]")
        case .input, .inputSwapped:
            let batchFirst = order == .inputSwapped
            if let known = inputBatchFirst, known != batchFirst {
                throw fail(node, "X is laid out differently from the earlier recurrent nodes' inputs")
            }
            inputBatchFirst = batchFirst
        }
    }

    func checkInitialState(_ node: Onnx_NodeProto, index: Int, layer: Int, directions: Int) throws {
        switch try symbol(node, index) {
        case nil, .zeros?: return
        case .state(_, let offset, let count)?:
            guard offset == layer * directions, count == nil || count == directions else {
                throw fail(node, "its initial state is rows \(offset)..<\(offset + (count ?? 0)) of the state input, expected the rows of layer \(layer)")
            }
        default: throw fail(node, "the initial state must be a graph input, a slice of one, or zeros")
        }
    }

    /// Elman's nonlinearity; LSTM's and GRU's activations must be ONNX's defaults.
    func activations(_ node: Onnx_NodeProto, cell: CellKind, directions: Int) throws -> RecurrentConfiguration.Nonlinearity {
        let given = attribute(node, "activations")?.strings.map { String(decoding: $0, as: UTF8.self).lowercased() }
        switch cell {
        case .rnn:
            let names = given ?? Array(repeating: "tanh", count: directions)
            guard names.count == directions, let first = names.first, names.allSatisfy({ $0 == first }),
                  let nonlinearity = RecurrentConfiguration.Nonlinearity(rawValue: first) else {
                throw fail(node, "activations \(names) are not supported (Tanh or Relu, the same in both directions)")
            }
            return nonlinearity
        case .lstm, .gru:
            let defaults = cell == .lstm ? ["sigmoid", "tanh", "tanh"] : ["sigmoid", "tanh"]
            if let given, given != Array(Array(repeating: defaults, count: directions).joined()) {
                throw fail(node, "activations \(given) are not supported (only the defaults \(defaults))")
            }
            return .tanh
        }
    }
}
