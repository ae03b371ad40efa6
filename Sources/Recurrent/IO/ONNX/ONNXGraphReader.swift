import Foundation

/// Reads a graph as `torch.onnx.export` writes recurrent models: an optional Gather (embedding),
/// ONNX RNN/LSTM/GRU nodes (stacked as several nodes, with or without sequence_lens, states
/// from inputs, slices of inputs, or zeros built from the input's shape), the glue PyTorch
/// writes between them (Squeeze, Transpose, Reshape), a selection of the last step or of the
/// final states, and Gemm or MatMul+Add heads, LayerNormalization. Any other node stops the
/// import with its name.
///
/// Each value is tracked symbolically (`Symbol`) while the layers are collected (`Stage`).
struct ONNXGraphReader {
    enum Order: Equatable {
        /// As the graph's sequence input is laid out, before any recurrent node told which it is.
        case input, inputSwapped
        case timeMajor, batchMajor
    }

    enum Symbol {
        case constant(Onnx_TensorProto)
        /// Computed from tensor shapes only (Shape, and Gather/Unsqueeze/Concat/Cast of those).
        case shape
        /// Zeros of a computed shape (ConstantOfShape with 0): a zero initial state.
        case zeros
        /// The sequence lengths (the graph input, possibly cast).
        case lengths
        /// A state input, or the slice of it starting at `offset`.
        case state(input: String, offset: Int, count: Int?)
        /// The flow through the layers collected so far.
        case steps(order: Order, features: Int?)
        case tokens(order: Order)
        case rows(features: Int)
        /// Y [T, D, B, H] of layer `layer` of recurrent stage `stage`; after Transpose(0, 2, 1, 3).
        case recurrentY(stage: Int, layer: Int)
        case recurrentYTransposed(stage: Int, layer: Int)
        /// Y_h or Y_c [D, B, H] of a layer; a Transpose(1, 0, 2) of it; several layers' concatenated.
        case finalState(stage: Int, layer: Int, cell: Bool)
        case finalStateTransposed(stage: Int, layer: Int)
        case stateStack(stage: Int, cell: Bool, layers: Range<Int>)
        /// One direction's final hidden state [B, H].
        case direction(stage: Int, layer: Int, direction: Int)
    }

    struct DirectionWeights {
        var inputWeight: Tensor, hiddenWeight: Tensor, inputBias: Tensor?, hiddenBias: Tensor?
    }

    enum Stage {
        case embedding(table: Tensor)
        case recurrent(RecurrentConfiguration, layers: [[DirectionWeights]], lengths: Bool)
        case dense(weight: Tensor, bias: Tensor?)
        case layerNorm(weight: Tensor, bias: Tensor, epsilon: Float)
    }

    let path: String
    var symbols: [String: Symbol] = [:]
    var stages: [Stage] = []
    /// The name of the value the layers collected so far produce.
    var flowName: String?
    /// Whether the graph's sequence input is [B, T, ...]; nil until a recurrent node tells.
    var inputBatchFirst: Bool?
    /// A MatMul waiting for its Add: the stage index.
    var pendingBias: Int?
    /// The steps [T, B, D*H] made of the last recurrent node's Y: a recurrent node reading
    /// them is the next layer of the same stack.
    var lastRecurrentOutput: String?

    init(path: String) { self.path = path }

    func fail(_ node: Onnx_NodeProto, _ reason: String) -> RecurrentError {
        .invalidFile(path: path, reason: "node \"\(node.name)\" (\(node.opType)): \(reason)")
    }

    /// The layers of `graph`, and whether its sequence input is batch-first.
    static func read(_ graph: Onnx_GraphProto, path: String) throws -> (layers: [Stage], batchFirst: Bool) {
        var reader = ONNXGraphReader(path: path)
        for initializer in graph.initializer { reader.symbols[initializer.name] = .constant(initializer) }
        let dataInputs = graph.input.filter { reader.symbols[$0.name] == nil }
        try reader.classifyInputs(dataInputs)
        for node in graph.node { try reader.read(node) }
        guard let flowName = reader.flowName, !reader.stages.isEmpty else {
            throw RecurrentError.invalidFile(path: path, reason: "the graph has no recurrent, embedding or dense layer to import")
        }
        let outputs = graph.output.map(\.name)
        guard outputs.contains(flowName) else {
            throw RecurrentError.invalidFile(path: path,
                reason: "no graph output is the result of the last layer (outputs: \(outputs.joined(separator: ", ")))")
        }
        for name in outputs where name != flowName {
            switch reader.symbols[name] {
            case .finalState?, .stateStack?: continue
            default: throw RecurrentError.invalidFile(path: path, reason: "graph output \"\(name)\" is neither the model's output nor its final state")
            }
        }
        return (reader.stages, reader.inputBatchFirst ?? false)
    }

    /// The first float or int64 input of rank 2-3 is the sequence; an integer input of rank 1
    /// the lengths; float inputs of rank 3 after the first are states.
    mutating func classifyInputs(_ inputs: [Onnx_ValueInfoProto]) throws {
        var sawSequence = false
        for input in inputs {
            let type = Onnx_TensorProto.DataType(rawValue: Int(input.type.tensorType.elemType))
            let dims = input.type.tensorType.shape.dim
            let last: Int? = dims.last.flatMap { if case .dimValue(let v)? = $0.value { return Int(v) } else { return nil } }
            switch (type, dims.count, sawSequence) {
            case (.float?, 3, false):
                symbols[input.name] = .steps(order: .input, features: last)
                flowName = input.name
                sawSequence = true
            case (.int64?, 2, false):
                symbols[input.name] = .tokens(order: .input)
                flowName = input.name
                sawSequence = true
            case (.int64?, 1, _), (.int32?, 1, _):
                symbols[input.name] = .lengths
            case (.float?, 3, true):
                symbols[input.name] = .state(input: input.name, offset: 0, count: nil)
            default:
                throw RecurrentError.invalidFile(path: path,
                    reason: "graph input \"\(input.name)\" (\(type.map { "\($0)" } ?? "unknown type"), \(dims.count) axes) is not a sequence, its lengths or a state")
            }
        }
        guard sawSequence else { throw RecurrentError.invalidFile(path: path, reason: "the graph has no sequence input") }
    }

    func symbol(_ node: Onnx_NodeProto, _ index: Int) throws -> Symbol? {
        guard index < node.input.count, !node.input[index].isEmpty else { return nil }
        guard let symbol = symbols[node.input[index]] else {
            throw fail(node, "input \"\(node.input[index])\" is not produced by any earlier node")
        }
        return symbol
    }

    func constant(_ node: Onnx_NodeProto, _ index: Int, _ what: String) throws -> Onnx_TensorProto {
        guard case .constant(let tensor)? = try symbol(node, index) else { throw fail(node, "\(what) must be a constant (an initializer)") }
        return tensor
    }

    func integers(_ node: Onnx_NodeProto, _ index: Int, _ what: String) throws -> [Int] {
        try constant(node, index, what).integers("node \"\(node.name)\" \(what)")
    }

    func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? {
        node.attribute.first { $0.name == name }
    }

    func intAttribute(_ node: Onnx_NodeProto, _ name: String, default value: Int) -> Int {
        attribute(node, name).map { Int($0.i) } ?? value
    }

    /// Refuses attributes other than `known`.
    func checkAttributes(_ node: Onnx_NodeProto, known: Set<String>) throws {
        if let unknown = node.attribute.first(where: { !known.contains($0.name) }) {
            throw fail(node, "attribute \"\(unknown.name)\" is not supported")
        }
    }

    mutating func set(_ node: Onnx_NodeProto, _ symbol: Symbol, output: Int = 0) {
        guard output < node.output.count else { return }
        symbols[node.output[output]] = symbol
        switch symbol {
        case .steps, .rows, .tokens: flowName = node.output[output]
        default: break
        }
    }
}
