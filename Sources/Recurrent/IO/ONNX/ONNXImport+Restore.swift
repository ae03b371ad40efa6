import Foundation

extension ONNXImport {
    /// Operators `ONNXExport` writes; a file claiming to come from it with any other is refused.
    static let exportedOperators: Set<String> = [
        "RNN", "LSTM", "GRU", "Gather", "Gemm", "MatMul", "Add", "Transpose", "Squeeze", "Unsqueeze", "Reshape", "Slice",
        "Concat", "Identity", "LayerNormalization", "Softmax", "LogSoftmax", "ReduceSum", "ReduceMean", "ReduceMax", "Div",
        "Cast", "Shape", "Range", "Less", "Where", "Tanh",
    ]

    /// Rebuilds a model that `ONNXExport` wrote: the architecture from the metadata, every
    /// parameter from the graph's initializers (recurrent weights back in PyTorch's gate order),
    /// the task's metadata as it was. An encoder-decoder reads its other graph from beside `path`.
    static func restore(_ proto: Onnx_ModelProto, architecture json: String, path: String) throws -> Model {
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: path, reason: reason) }
        let spec: LayerSpec
        do {
            spec = try JSONDecoder().decode(LayerSpec.self, from: Data(json.utf8))
        } catch {
            throw fail("metadata \"recurrent.architecture\" does not decode: \(SafeTensors.describe(decodingError: error))")
        }
        var graphs = [(path, proto.graph)]
        if case .seq2seq = spec {
            let role = proto.metadataProps.first { $0.key == "recurrent.graph" }?.value ?? ""
            guard role == "encoder" || role == "decoder", path.hasSuffix(".\(role).onnx") else {
                throw fail("an encoder-decoder's graphs must be named NAME.encoder.onnx and NAME.decoder.onnx")
            }
            let other = String(path.dropLast(".\(role).onnx".count)) + (role == "encoder" ? ".decoder.onnx" : ".encoder.onnx")
            graphs.append((other, try decode(other).graph))
        }
        var initializers: [String: Onnx_TensorProto] = [:]
        for (file, graph) in graphs {
            if let node = graph.node.first(where: { !exportedOperators.contains($0.opType) || !($0.domain.isEmpty || $0.domain == "ai.onnx") }) {
                throw RecurrentError.invalidFile(path: file, reason: "node \"\(node.name)\" (\(node.opType)): operator \(node.opType) is not supported")
            }
            for tensor in graph.initializer { initializers[tensor.name] = tensor }
        }
        let layer: any Layer
        do {
            layer = try spec.makeLayer()
        } catch let error as RecurrentError {
            throw fail(error.description)
        }
        var tensors: [String: Tensor] = [:]
        for (name, _) in layer.namedParameters {
            if let tensor = initializers[name] {
                tensors[name] = try floatTensor(tensor, path: path)
            } else if let tensor = try recurrentParameter(name, initializers: initializers, path: path) {
                tensors[name] = tensor
            } else {
                throw fail("no tensor holds parameter \"\(name)\"")
            }
        }
        try layer.loadParameters(tensors, from: path)
        let metadata = Dictionary(uniqueKeysWithValues: proto.metadataProps.filter { !$0.key.hasPrefix("recurrent.") }.map { ($0.key, $0.value) })
        return Model(layer, metadata: metadata)
    }

    static func floatTensor(_ tensor: Onnx_TensorProto, path: String) throws -> Tensor {
        do {
            return try tensor.floatTensor("tensor \"\(tensor.name)\"")
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
    }

    /// `PREFIXweight_ih_lK[_reverse]` (and weight_hh, bias_ih, bias_hh) from the ONNX tensors
    /// `PREFIXW_lK`, `PREFIXR_lK`, `PREFIXB_lK`: the direction's slice, gates back in PyTorch's
    /// order. Nil when `name` is not such a parameter.
    static func recurrentParameter(_ name: String, initializers: [String: Onnx_TensorProto], path: String) throws -> Tensor? {
        for kind in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
            guard let range = name.range(of: kind + "_l", options: .backwards) else { continue }
            let prefix = String(name[..<range.lowerBound])
            var rest = String(name[range.upperBound...])
            let reverse = rest.hasSuffix("_reverse")
            if reverse { rest.removeLast("_reverse".count) }
            guard let layer = Int(rest) else { continue }
            let source = kind.hasPrefix("weight_ih") ? "W" : kind.hasPrefix("weight_hh") ? "R" : "B"
            guard let tensor = initializers["\(prefix)\(source)_l\(layer)"], let hidden = initializers["\(prefix)R_l\(layer)"] else { return nil }
            let values = try floatTensor(tensor, path: path)
            let hiddenShape = try hidden.checkedShape("tensor \"\(hidden.name)\"")
            guard hiddenShape.count == 3, hiddenShape[2] > 0, hiddenShape[1] % hiddenShape[2] == 0, values.rank >= 2, values.shape[0] == (reverse ? 2 : values.shape[0]) else { return nil }
            let width = hiddenShape[1], gates = width / hiddenShape[2]
            guard let cell: CellKind = gates == 1 ? .rnn : gates == 4 ? .lstm : gates == 3 ? .gru : nil,
                  values.shape[1] == (source == "B" ? 2 * width : width) else { return nil }
            let perDirection = values.count / values.shape[0], direction = reverse ? 1 : 0
            guard direction < values.shape[0] else { return nil }
            var slice = Array(values.scalars[(direction * perDirection)..<((direction + 1) * perDirection)])
            var shape = Array(values.shape.dropFirst())
            if source == "B" {
                slice = Array(kind == "bias_ih" ? slice[0..<width] : slice[width..<(2 * width)])
                shape = [width]
            }
            return ONNXRecurrentGates.toTorch(Tensor(shape: shape, scalars: slice), cell: cell)
        }
        return nil
    }
}
