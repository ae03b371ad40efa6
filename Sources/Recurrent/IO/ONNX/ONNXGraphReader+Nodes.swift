import Foundation

extension ONNXGraphReader {
    mutating func read(_ node: Onnx_NodeProto) throws {
        if !node.domain.isEmpty && node.domain != "ai.onnx" {
            throw fail(node, "operators of domain \"\(node.domain)\" are not supported")
        }
        switch node.opType {
        case "Constant": try readConstant(node)
        case "Identity": if let value = try symbol(node, 0) { set(node, value) }
        case "Dropout": try readDropout(node)
        case "Shape": _ = try symbol(node, 0); set(node, .shape)
        case "Cast": try readCast(node)
        case "Gather": try readGather(node)
        case "Unsqueeze", "Concat", "ConstantOfShape", "Squeeze", "Slice", "Transpose", "Reshape":
            try readShaping(node)
        case "RNN", "LSTM", "GRU": try readRecurrent(node)
        case "Gemm": try readGemm(node)
        case "MatMul": try readMatMul(node)
        case "Add": try readAdd(node)
        case "LayerNormalization": try readLayerNorm(node)
        default: throw fail(node, "operator \(node.opType) is not supported (supported: RNN, LSTM, GRU, Gather, Gemm, MatMul, Add, "
            + "LayerNormalization and the shaping nodes PyTorch writes around them)")
        }
    }

    mutating func readConstant(_ node: Onnx_NodeProto) throws {
        guard let value = node.attribute.first else { throw fail(node, "no value") }
        var tensor: Onnx_TensorProto
        switch value.name {
        case "value": tensor = value.t
        case "value_int": tensor = Onnx_TensorProto(int64: [value.i], shape: [], name: "")
        case "value_ints": tensor = Onnx_TensorProto(int64: value.ints, name: "")
        case "value_float": tensor = Onnx_TensorProto(floats: [value.f], shape: [], name: "")
        case "value_floats": tensor = Onnx_TensorProto(floats: value.floats, name: "")
        default: throw fail(node, "attribute \"\(value.name)\" is not supported")
        }
        tensor.name = node.output.first ?? ""
        set(node, .constant(tensor))
    }

    mutating func readDropout(_ node: Onnx_NodeProto) throws {
        if node.input.count > 2, !node.input[2].isEmpty {
            guard let mode = try? integers(node, 2, "training_mode"), mode.allSatisfy({ $0 == 0 }) else {
                throw fail(node, "dropout in training mode is not supported")
            }
        }
        if let value = try symbol(node, 0) { set(node, value) }
    }

    mutating func readCast(_ node: Onnx_NodeProto) throws {
        switch try symbol(node, 0) {
        case .lengths?: set(node, .lengths)
        case .shape?: set(node, .shape)
        case .constant(let tensor)? where tensor.dataType != Int32(Onnx_TensorProto.DataType.float.rawValue):
            // Integer constants (shapes, axes) read the same whatever their width.
            set(node, .constant(tensor))
        default: throw fail(node, "a Cast of this value is not supported")
        }
    }

    mutating func readGather(_ node: Onnx_NodeProto) throws {
        try checkAttributes(node, known: ["axis"])
        let axis = intAttribute(node, "axis", default: 0)
        switch (try symbol(node, 0), try symbol(node, 1)) {
        case (.shape?, _):
            set(node, .shape)
        case (.constant(let table)?, .tokens(let order)?):
            guard axis == 0 else { throw fail(node, "an embedding lookup must gather along axis 0, not \(axis)") }
            let tensor = try table.floatTensor("node \"\(node.name)\" table \"\(node.input[0])\"")
            guard tensor.rank == 2 else { throw fail(node, "the embedding table \"\(node.input[0])\" is \(tensor.shape), expected [vocabulary, size]") }
            guard stages.isEmpty else { throw fail(node, "an embedding must come first") }
            stages.append(.embedding(table: tensor))
            set(node, .steps(order: order, features: tensor.shape[1]))
        case (.steps(let order, let features)?, .constant(let index)?):
            try selectLastStep(node, order: order, features: features, axis: axis, index: index)
        case (.finalState(let stage, let layer, false)?, .constant(let index)?):
            try selectDirection(node, stage: stage, layers: layer..<(layer + 1), axis: axis, index: index)
        case (.stateStack(let stage, false, let layers)?, .constant(let index)?):
            try selectDirection(node, stage: stage, layers: layers, axis: axis, index: index)
        default:
            throw fail(node, "a Gather of these inputs is not supported")
        }
    }

    /// `y[-1]` or `y[:, -1]` of a unidirectional stack without lengths: its last state.
    mutating func selectLastStep(_ node: Onnx_NodeProto, order: Order, features: Int?, axis: Int, index: Onnx_TensorProto) throws {
        let timeAxis = order == .timeMajor ? 0 : order == .batchMajor ? 1 : -1
        guard (axis == timeAxis || axis + 3 == timeAxis), try index.integers("index") == [-1], index.dims.isEmpty,
              case .recurrent(var configuration, let layers, let lengths)? = stages.last,
              configuration.output == .sequence, !configuration.bidirectional, !lengths
        else {
            throw fail(node, "only the last step (index -1 along time) of a unidirectional recurrent stack without lengths can be selected")
        }
        configuration.output = .lastState
        stages[stages.count - 1] = .recurrent(configuration, layers: layers, lengths: lengths)
        set(node, .rows(features: features ?? configuration.hiddenSize))
    }

    mutating func selectDirection(_ node: Onnx_NodeProto, stage: Int, layers: Range<Int>, axis: Int, index: Onnx_TensorProto) throws {
        guard case .recurrent(let configuration, _, _) = stages[stage], axis == 0, index.dims.isEmpty else {
            throw fail(node, "only one entry of the final states can be selected")
        }
        let count = layers.count * configuration.directions
        var position = try index.integers("index")[0]
        if position < 0 { position += count }
        guard (0..<count).contains(position) else { throw fail(node, "index \(position) is outside the \(count) final states") }
        set(node, .direction(stage: stage, layer: layers.lowerBound + position / configuration.directions,
                             direction: position % configuration.directions))
    }

    mutating func readGemm(_ node: Onnx_NodeProto) throws {
        try checkAttributes(node, known: ["alpha", "beta", "transA", "transB"])
        guard attribute(node, "alpha").map({ $0.f == 1 }) ?? true, attribute(node, "beta").map({ $0.f == 1 }) ?? true,
              intAttribute(node, "transA", default: 0) == 0 else {
            throw fail(node, "only alpha = 1, beta = 1 and transA = 0 are supported")
        }
        guard let features = try headRows(node, try symbol(node, 0)) else { throw fail(node, "input A must be the model's rows [batch, features]") }
        var weight = try constant(node, 1, "B").floatTensor("node \"\(node.name)\" B")
        if intAttribute(node, "transB", default: 0) == 0 { weight = weight.rank == 2 ? weight.transposedMatrix() : weight }
        let bias = try symbol(node, 2) == nil ? nil : try constant(node, 2, "C").floatTensor("node \"\(node.name)\" C")
        try appendDense(node, weight: weight, bias: bias, features: features)
        set(node, .rows(features: weight.shape[0]))
    }

    mutating func readMatMul(_ node: Onnx_NodeProto) throws {
        let input = try symbol(node, 0)
        var weight = try constant(node, 1, "B").floatTensor("node \"\(node.name)\" B")
        guard weight.rank == 2 else { throw fail(node, "B is \(weight.shape), expected a matrix [in, out]") }
        weight = weight.transposedMatrix()
        if let features = try headRows(node, input) {
            try appendDense(node, weight: weight, bias: nil, features: features)
            set(node, .rows(features: weight.shape[0]))
            pendingBias = stages.count - 1
            return
        }
        switch input {
        case .rows(let features)?:
            try appendDense(node, weight: weight, bias: nil, features: features)
            set(node, .rows(features: weight.shape[0]))
        case .steps(let order, let features)?:
            try appendDense(node, weight: weight, bias: nil, features: features)
            set(node, .steps(order: order, features: weight.shape[0]))
        default:
            throw fail(node, "input A must be the model's steps or rows")
        }
        pendingBias = stages.count - 1
    }

    /// The bias of the MatMul just read.
    mutating func readAdd(_ node: Onnx_NodeProto) throws {
        let first = try symbol(node, 0), second = try symbol(node, 1)
        let (flow, biasIndex) = { if case .constant? = first { return (second, 0) } else { return (first, 1) } }()
        guard let stage = pendingBias, case .dense(let weight, nil) = stages[stage], let flow,
              node.input[1 - biasIndex] == flowName else {
            throw fail(node, "only the bias of a MatMul head is supported")
        }
        let bias = try constant(node, biasIndex, "bias").floatTensor("node \"\(node.name)\" bias")
        guard bias.shape == [weight.shape[0]] else {
            throw fail(node, "bias \"\(node.input[biasIndex])\" is \(bias.shape), expected [\(weight.shape[0])]")
        }
        stages[stage] = .dense(weight: weight, bias: bias)
        pendingBias = nil
        set(node, flow)
    }

    mutating func appendDense(_ node: Onnx_NodeProto, weight: Tensor, bias: Tensor?, features: Int?) throws {
        guard weight.rank == 2 else { throw fail(node, "the weight is \(weight.shape), expected a matrix") }
        if let features, features != weight.shape[1] {
            throw fail(node, "the weight \"\(node.input[1])\" takes \(weight.shape[1]) features, the input has \(features)")
        }
        if let bias, bias.shape != [weight.shape[0]] {
            throw fail(node, "the bias is \(bias.shape), expected [\(weight.shape[0])]")
        }
        pendingBias = nil
        stages.append(.dense(weight: weight, bias: bias))
    }

    mutating func readLayerNorm(_ node: Onnx_NodeProto) throws {
        try checkAttributes(node, known: ["axis", "epsilon", "stash_type"])
        guard intAttribute(node, "axis", default: -1) == -1 || intAttribute(node, "axis", default: -1) == 2 else {
            throw fail(node, "only normalization over the last axis is supported")
        }
        guard let input = try symbol(node, 0), let features = input.flowFeatures else { throw fail(node, "input must be the model's steps or rows") }
        let scale = try constant(node, 1, "scale").floatTensor("node \"\(node.name)\" scale")
        let bias = try symbol(node, 2) == nil ? Tensor(zeros: scale.shape) : try constant(node, 2, "bias").floatTensor("node \"\(node.name)\" bias")
        guard scale.shape == [features], bias.shape == [features] else {
            throw fail(node, "scale \(scale.shape) and bias \(bias.shape) do not fit \(features) features")
        }
        stages.append(.layerNorm(weight: scale, bias: bias, epsilon: attribute(node, "epsilon")?.f ?? 1e-5))
        set(node, input)
    }
}

extension ONNXGraphReader.Symbol {
    /// The feature count of a value flowing through the layers.
    var flowFeatures: Int? {
        switch self {
        case .steps(_, let features): return features
        case .rows(let features): return features
        default: return nil
        }
    }
}
