import Foundation
import SwiftProtobuf

/// Reads ONNX files into Recurrent models.
///
/// - A graph written by `torch.onnx.export` (opsets 14 to 17) from recurrent modules: ONNX
///   RNN/LSTM/GRU nodes, stacked, bidirectional, with or without sequence_lens, under an optional
///   embedding and over Gemm or MatMul+Add heads (`ONNXGraphReader`). The gates are put back in
///   PyTorch's order; the model is batch-first like every Recurrent model, whatever the graph's layout.
/// - A graph written by `ONNXExport`: its metadata holds the architecture and the task's
///   preprocessing, so the model comes back whole (pooling, tied weights, encoder-decoders from
///   the encoder and decoder files side by side), every parameter read from the graph's tensors.
///
/// Anything else is refused with one line naming the file and the first unsupported node.
public enum ONNXImport {
    public static let supportedOpsets: ClosedRange<Int> = 14...17

    public static func model(contentsOf path: String) throws -> Model {
        do {
            return try importModel(path)
        } catch let error as RecurrentError {
            // Every message names the file.
            switch error {
            case .invalidFile, .io: throw error
            default: throw RecurrentError.invalidFile(path: path, reason: error.description)
            }
        }
    }

    static func importModel(_ path: String) throws -> Model {
        let proto = try decode(path)
        if let architecture = proto.metadataProps.first(where: { $0.key == "recurrent.architecture" })?.value {
            return try restore(proto, architecture: architecture, path: path)
        }
        let (stages, batchFirst) = try ONNXGraphReader.read(proto.graph, path: path)
        let layer = try makeLayer(stages, path: path)
        var metadata = ["source": "onnx \((path as NSString).lastPathComponent)",
                        "onnx_layout": batchFirst ? "batch-first" : "time-major"]
        if !proto.producerName.isEmpty { metadata["onnx_producer"] = "\(proto.producerName) \(proto.producerVersion)" }
        return Model(layer, metadata: metadata)
    }

    /// Reads and decodes the file, checking that it is an ONNX model of a supported opset.
    static func decode(_ path: String) throws -> Onnx_ModelProto {
        let data = try FileContents.read(path)
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw RecurrentError.invalidFile(path: path, reason: "not an ONNX model: its protobuf does not decode (\(error)); is the file truncated?")
        }
        guard proto.hasIrVersion, proto.hasGraph, !proto.graph.node.isEmpty else {
            throw RecurrentError.invalidFile(path: path, reason: "not an ONNX model: no IR version or no graph nodes")
        }
        guard let opset = proto.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" })?.version else {
            throw RecurrentError.invalidFile(path: path, reason: "the model imports no opset of ONNX's default domain")
        }
        guard supportedOpsets.contains(Int(opset)) else {
            throw RecurrentError.invalidFile(path: path,
                reason: "opset \(opset) is not supported (\(supportedOpsets.lowerBound) to \(supportedOpsets.upperBound), as torch.onnx.export writes with dynamo=False)")
        }
        return proto
    }

    /// The layers collected from a graph, with their parameters.
    static func makeLayer(_ stages: [ONNXGraphReader.Stage], path: String) throws -> any Layer {
        let layers: [any Layer] = try stages.map { stage in
            switch stage {
            case .embedding(let table):
                let layer = Embedding(vocabularySize: table.shape[0], embeddingSize: table.shape[1])
                try layer.loadParameters(["weight": table], from: path)
                return layer
            case .recurrent(let configuration, let weights, _):
                do {
                    try configuration.validate()
                } catch let error as RecurrentError {
                    throw RecurrentError.invalidFile(path: path, reason: error.description)
                }
                let layer = RecurrentLayer(configuration)
                var tensors: [String: Tensor] = [:]
                for (index, pair) in weights.enumerated() {
                    for (direction, p) in pair.enumerated() {
                        let suffix = "_l\(index)" + (direction == 1 ? "_reverse" : "")
                        tensors["weight_ih" + suffix] = p.inputWeight
                        tensors["weight_hh" + suffix] = p.hiddenWeight
                        tensors["bias_ih" + suffix] = p.inputBias
                        tensors["bias_hh" + suffix] = p.hiddenBias
                    }
                }
                try layer.loadParameters(tensors, from: path)
                return layer
            case .dense(let weight, let bias):
                let layer = Dense(inputSize: weight.shape[1], outputSize: weight.shape[0], bias: bias != nil)
                try layer.loadParameters(bias.map { ["weight": weight, "bias": $0] } ?? ["weight": weight], from: path)
                return layer
            case .layerNorm(let weight, let bias, let epsilon):
                let layer = LayerNorm(size: weight.count, epsilon: epsilon)
                try layer.loadParameters(["weight": weight, "bias": bias], from: path)
                return layer
            }
        }
        guard layers.count > 1 else { return layers[0] }
        let spec = LayerSpec.sequential(layers.map(\.spec))
        do {
            try spec.checkSizesFit()
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
        return Sequential(layers)
    }
}
