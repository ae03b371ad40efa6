import Foundation
import SwiftProtobuf

/// How a model is written as ONNX.
public struct ONNXExportOptions: Equatable, Sendable {
    /// The opsets written: every operator used exists unchanged across them (Squeeze and
    /// ReduceSum take their axes as inputs from 13, ReduceMean/ReduceMax as attributes until 17),
    /// and ONNX Runtime 1.17 and later load them.
    public static let supportedOpsets: ClosedRange<Int> = 14...17
    /// IR version 8, the one ONNX 1.13 to 1.14 wrote for opsets 17 and 18: old enough for
    /// ONNX Runtime 1.17 (which reads up to IR 9).
    public static let irVersion = 8

    public var opset: Int
    /// Sequences in and out as [batch, sequence, ...]; the graph transposes them at its edges,
    /// since ONNX Runtime runs recurrent operators at layout 0 (time-major) only.
    public var batchFirst: Bool

    public init(opset: Int = 17, batchFirst: Bool = false) {
        self.opset = opset
        self.batchFirst = batchFirst
    }

    func validate() throws {
        guard Self.supportedOpsets.contains(opset) else {
            throw RecurrentError.invalidArgument(
                "opset \(opset) is not supported; choose \(Self.supportedOpsets.lowerBound) to \(Self.supportedOpsets.upperBound)")
        }
    }
}

/// A graph input or output: its name, element type and dimensions ("batch", "sequence",
/// "source", or a size).
public struct ONNXTensorSignature: Equatable, Sendable {
    public var name: String
    /// "float", "int64" or "int32".
    public var elementType: String
    public var dims: [String]
}

/// One exported graph: a model, or the encoder or the decoder step of an encoder-decoder.
public struct ONNXGraphFile: Sendable {
    /// "model", "encoder" or "decoder".
    public var role: String
    /// The serialized ModelProto.
    public var data: Data
    public var inputs: [ONNXTensorSignature]
    public var outputs: [ONNXTensorSignature]
}

/// A value fed to, or read from, a graph.
public enum ONNXFeed: Equatable, Sendable {
    case float(Tensor)
    case int64(IntegerTensor)
    case int32(IntegerTensor)
}

/// Writes Recurrent models as ONNX graphs, and computes with Recurrent what those graphs should
/// compute, to check a runtime against.
///
/// Which graphs a model gives, their inputs and outputs, come from its task recipe
/// (`ONNXTaskRecipe`): a plain layer stack, a forecaster, a classifier, a language model
/// (one graph each) or an encoder-decoder (an encoder graph and a decoder-step graph).
public enum ONNXExport {
    /// Every graph of `model`, serialized.
    public static func graphs(_ model: Model, options: ONNXExportOptions = ONNXExportOptions()) throws -> [ONNXGraphFile] {
        try options.validate()
        let recipe = try recipe(for: model)
        let parameterNames = Dictionary(model.layer.namedParameters.map { (ObjectIdentifier($0.parameter), $0.name) },
                                        uniquingKeysWith: { first, _ in first })
        return try recipe.roles.map { role in
            let graph = ONNXGraphBuilder(opset: options.opset, parameterNames: parameterNames)
            try recipe.build(role: role, into: graph, options: options)
            var proto = Onnx_ModelProto()
            proto.irVersion = Int64(ONNXExportOptions.irVersion)
            var opset = Onnx_OperatorSetIdProto()
            opset.domain = ""
            opset.version = Int64(options.opset)
            proto.opsetImport = [opset]
            proto.producerName = "recurrent"
            proto.graph = graph.graph(named: role == "model" ? "recurrent" : "recurrent-\(role)")
            proto.metadataProps = try metadata(for: model, role: role, recipe: recipe, options: options)
                .sorted { $0.key < $1.key }
                .map { key, value in
                    var entry = Onnx_StringStringEntryProto()
                    entry.key = key
                    entry.value = value
                    return entry
                }
            return ONNXGraphFile(role: role, data: try proto.serializedBytes(), inputs: graph.inputs.map(signature),
                                 outputs: graph.allOutputs.map(signature))
        }
    }

    /// Writes the graphs: `path` itself for a model of one graph; beside it, `NAME.encoder.onnx`
    /// and `NAME.decoder.onnx` for an encoder-decoder. Returns the paths written.
    @discardableResult
    public static func write(_ model: Model, to path: String, options: ONNXExportOptions = ONNXExportOptions()) throws -> [String] {
        let files = try graphs(model, options: options)
        var written: [String] = []
        for file in files {
            let target = files.count == 1 ? path : graphPath(path, role: file.role)
            try AtomicFile.write(file.data, to: target)
            written.append(target)
        }
        return written
    }

    /// `g2p.onnx` -> `g2p.encoder.onnx`.
    public static func graphPath(_ path: String, role: String) -> String {
        let base = path.hasSuffix(".onnx") ? String(path.dropLast(5)) : path
        return "\(base).\(role).onnx"
    }

    /// Random inputs for graph `role`: values in (-1, 1), token ids of the vocabulary, lengths
    /// in 1...time with the first sequence full.
    public static func sampleInputs(_ model: Model, role: String, options: ONNXExportOptions = ONNXExportOptions(),
                                    batch: Int = 3, time: Int = 7, seed: UInt64 = 0) throws -> [String: ONNXFeed] {
        guard batch > 0, time > 0 else { throw RecurrentError.invalidArgument("batch and time must be positive, got \(batch) and \(time)") }
        var generator = SplitMix64(seed: seed)
        return try recipe(for: model).sampleInputs(role: role, batch: batch, time: time, options: options, using: &generator)
    }

    /// What graph `role` computes for `inputs`, computed by Recurrent's own layers.
    public static func referenceOutputs(_ model: Model, role: String, inputs: [String: ONNXFeed],
                                        options: ONNXExportOptions = ONNXExportOptions()) throws -> [String: Tensor] {
        try GradientMode.withoutRecording { try recipe(for: model).reference(role: role, inputs: inputs, options: options) }
    }

    static func signature(_ info: Onnx_ValueInfoProto) -> ONNXTensorSignature {
        let type = Onnx_TensorProto.DataType(rawValue: Int(info.type.tensorType.elemType)).map { "\($0)" } ?? "unknown"
        let dims = info.type.tensorType.shape.dim.map { dimension -> String in
            if case .dimParam(let label)? = dimension.value { return label }
            return String(dimension.dimValue)
        }
        return ONNXTensorSignature(name: info.name, elementType: type, dims: dims)
    }

    /// The model's own metadata (task, preprocessing: vocabulary, scaler, tokenizer settings,
    /// all JSON), the architecture, and what the graph's inputs and outputs hold.
    static func metadata(for model: Model, role: String, recipe: any ONNXTaskRecipe,
                         options: ONNXExportOptions) throws -> [String: String] {
        var entries = model.metadata
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        entries["recurrent.architecture"] = String(decoding: try encoder.encode(model.layer.spec), as: UTF8.self)
        entries["recurrent.graph"] = role
        entries["recurrent.layout"] = options.batchFirst ? "batch-first" : "time-major"
        entries["recurrent.io"] = recipe.describe(role: role)
        return entries
    }
}

/// What a task's model becomes in ONNX: its graphs, how to feed them, and the reference
/// computation. A new task network built from exportable layers is one more recipe.
protocol ONNXTaskRecipe {
    var roles: [String] { get }
    func build(role: String, into graph: ONNXGraphBuilder, options: ONNXExportOptions) throws
    func sampleInputs(role: String, batch: Int, time: Int, options: ONNXExportOptions,
                      using generator: inout SplitMix64) throws -> [String: ONNXFeed]
    func reference(role: String, inputs: [String: ONNXFeed], options: ONNXExportOptions) throws -> [String: Tensor]
    /// One sentence on the inputs and outputs, for the file's metadata.
    func describe(role: String) -> String
}

extension ONNXExport {
    /// The recipe of a model: by its task, else by its layers.
    static func recipe(for model: Model) throws -> any ONNXTaskRecipe {
        let task = try? model.metadata("task", as: String.self)
        if let network = model.layer as? Seq2SeqNetwork { return Seq2SeqONNXRecipe(network: network) }
        if let network = model.layer as? LanguageModelNetwork {
            return LayerStackRecipe(layers: [network], usesLengths: false, pooling: nil, heads: [.logits, .probabilities])
        }
        let layers = (model.layer as? Sequential)?.layers ?? [model.layer]
        let hasRecurrent = layers.contains { $0 is RecurrentLayer }
        switch task {
        case "classify":
            let spec = try model.metadata("classifier", as: ClassifierSpec.self)
            return LayerStackRecipe(layers: layers, usesLengths: true, pooling: spec?.configuration.pooling,
                                    heads: [.logits, .probabilities])
        case "speech":
            // Stacked frames in, character scores out; CTC decoding reads the log-probabilities.
            return LayerStackRecipe(layers: layers, usesLengths: true, pooling: nil, heads: [.logits, .logProbabilities])
        case "forecast":
            return LayerStackRecipe(layers: layers, usesLengths: false, pooling: nil, heads: [.output])
        default:
            return LayerStackRecipe(layers: layers, usesLengths: hasRecurrent, pooling: nil, heads: [.output])
        }
    }
}
