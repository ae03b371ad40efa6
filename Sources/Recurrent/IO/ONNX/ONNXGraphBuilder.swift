import Foundation

/// A size of a graph input or output: fixed, or named and chosen by the caller at run time
/// ("batch", "sequence").
enum ONNXDimension: Equatable {
    case fixed(Int)
    case named(String)
}

/// A value flowing through a graph being written, and what it holds. Sequences are time-major
/// inside graphs (ONNX's recurrent operators at layout 0); the edges transpose when the caller
/// asked for batch-first inputs and outputs.
struct ONNXValue {
    enum Kind: Equatable {
        /// int64 token ids [T, B].
        case tokens
        /// float [T, B, F].
        case steps(features: Int)
        /// float [B, F].
        case rows(features: Int)
    }

    var name: String
    var kind: Kind

    var features: Int? {
        switch kind {
        case .tokens: return nil
        case .steps(let features), .rows(let features): return features
        }
    }
}

/// Collects the nodes, initializers, inputs and outputs of one ONNX graph.
///
/// Parameters become initializers named after the parameter (`0.weight`, `rnn.W_l0`): a
/// variable used twice (tied weights) is stored once and read by both nodes.
final class ONNXGraphBuilder {
    let opset: Int
    /// The int32 [B] valid lengths of the sequences, when the graph takes them.
    var sequenceLengths: String?
    /// Names of the model's parameters, by variable, to name initializers after them.
    let parameterNames: [ObjectIdentifier: String]

    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private(set) var inputs: [Onnx_ValueInfoProto] = []
    var allOutputs: [Onnx_ValueInfoProto] { outputs + stateOutputs }
    private(set) var outputs: [Onnx_ValueInfoProto] = []
    /// Recurrent states' outputs, listed after the others.
    private(set) var stateOutputs: [Onnx_ValueInfoProto] = []
    private var usedNames: Set<String> = []
    private var parameterInitializers: [ObjectIdentifier: String] = [:]
    private var operatorCounts: [String: Int] = [:]

    init(opset: Int, parameterNames: [ObjectIdentifier: String]) {
        self.opset = opset
        self.parameterNames = parameterNames
    }

    /// `base`, or `base_1`, `base_2`, ... when taken.
    func uniqueName(_ base: String) -> String {
        var name = base, suffix = 0
        while usedNames.contains(name) {
            suffix += 1
            name = "\(base)_\(suffix)"
        }
        usedNames.insert(name)
        return name
    }

    /// Appends a node and returns its outputs' names (fresh unless given).
    @discardableResult
    func node(_ operation: String, _ inputs: [String], outputs: [String]? = nil, outputCount: Int = 1,
              attributes: [Onnx_AttributeProto] = []) -> [String] {
        let count = operatorCounts[operation, default: 0]
        operatorCounts[operation] = count + 1
        let nodeName = uniqueName("/\(operation)_\(count)")
        let outputNames = outputs ?? (0..<outputCount).map { uniqueName("\(nodeName)_output_\($0)") }
        var node = Onnx_NodeProto()
        node.name = nodeName
        node.opType = operation
        node.input = inputs
        node.output = outputNames
        node.attribute = attributes
        nodes.append(node)
        return outputNames
    }

    /// A node of one output.
    func op(_ operation: String, _ inputs: [String], output: String? = nil, _ attributes: [Onnx_AttributeProto] = []) -> String {
        node(operation, inputs, outputs: output.map { [$0] }, attributes: attributes)[0]
    }

    /// Stores `tensor` as an initializer and returns its (unique) name.
    func initializer(_ tensor: Tensor, name: String) -> String {
        let unique = uniqueName(name)
        initializers.append(Onnx_TensorProto(tensor, name: unique))
        return unique
    }

    func int64Constant(_ values: [Int64], scalar: Bool = false, name: String = "const") -> String {
        let unique = uniqueName(name)
        initializers.append(Onnx_TensorProto(int64: values, shape: scalar ? [] : nil, name: unique))
        return unique
    }

    func floatConstant(_ value: Float, name: String = "const") -> String {
        let unique = uniqueName(name)
        initializers.append(Onnx_TensorProto(floats: [value], shape: [], name: unique))
        return unique
    }

    /// The initializer of a parameter, stored on first use under the parameter's name.
    func parameter(_ variable: Variable) -> String {
        let key = ObjectIdentifier(variable)
        if let name = parameterInitializers[key] { return name }
        let name = initializer(variable.value, name: parameterNames[key] ?? "parameter")
        parameterInitializers[key] = name
        return name
    }

    /// The name a parameter has in the model ("rnn.weight_ih_l0"), if any.
    func modelName(of variable: Variable) -> String? { parameterNames[ObjectIdentifier(variable)] }

    func addInput(_ name: String, type: Onnx_TensorProto.DataType, dims: [ONNXDimension]) {
        inputs.append(Self.valueInfo(name, type: type, dims: dims))
        usedNames.insert(name)
    }

    /// Declares `value` a graph output named `name` (an Identity node renames it when needed).
    func addOutput(_ value: String, as name: String, type: Onnx_TensorProto.DataType = .float, dims: [ONNXDimension],
                   isState: Bool = false) {
        if value != name {
            usedNames.insert(name)
            node("Identity", [value], outputs: [name])
        }
        let info = Self.valueInfo(name, type: type, dims: dims)
        if isState { stateOutputs.append(info) } else { outputs.append(info) }
    }

    static func valueInfo(_ name: String, type: Onnx_TensorProto.DataType, dims: [ONNXDimension]) -> Onnx_ValueInfoProto {
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(type.rawValue)
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { dimension in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch dimension {
            case .fixed(let size): dim.dimValue = Int64(size)
            case .named(let label): dim.dimParam = label
            }
            return dim
        }
        tensorType.shape = shape
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensorType
        return info
    }

    /// The graph, named `name`.
    func graph(named name: String) -> Onnx_GraphProto {
        var graph = Onnx_GraphProto()
        graph.name = name
        graph.node = nodes
        graph.initializer = initializers
        graph.input = inputs
        graph.output = outputs + stateOutputs
        return graph
    }
}
