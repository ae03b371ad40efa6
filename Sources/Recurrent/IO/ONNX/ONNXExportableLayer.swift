/// A layer that can write itself into an ONNX graph: the nodes computing its output from
/// `input`, its parameters as initializers. A new layer kind conforms here; a new task network
/// built from such layers needs only a recipe (`ONNXTaskRecipe`).
protocol ONNXExportableLayer: Layer {
    func exportONNX(_ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue
}

extension ONNXExportableLayer {
    func exportFailure(_ input: ONNXValue, expected: String) -> RecurrentError {
        RecurrentError.shapeMismatch("\(spec.kindName) expects \(expected), receives \(input.kind)")
    }
}

/// Exports `layer`, refusing a layer kind that has no ONNX form.
func exportONNX(_ layer: any Layer, _ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue {
    guard let exportable = layer as? any ONNXExportableLayer else {
        throw RecurrentError.invalidArgument("a \(layer.spec.kindName) layer has no ONNX form")
    }
    return try exportable.exportONNX(input, to: graph)
}

extension Dense: ONNXExportableLayer {
    /// Rows [B, I] -> Gemm(x, W, b, transB = 1), as `torch.onnx.export` writes `nn.Linear` on
    /// matrices; steps [T, B, I] -> MatMul(x, W^T) + b. W stays in PyTorch's [O, I] layout in the
    /// file (a Transpose node reads it for MatMul), so a weight tied to an embedding is stored once.
    func exportONNX(_ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue {
        guard input.kind != .tokens, input.features == inputSize else {
            throw exportFailure(input, expected: "\(inputSize) features")
        }
        let weight = graph.parameter(self.weight)
        if case .rows = input.kind {
            let inputs = [input.name, weight] + (bias.map { [graph.parameter($0)] } ?? [])
            return ONNXValue(name: graph.op("Gemm", inputs, [.int("transB", 1)]), kind: .rows(features: outputSize))
        }
        let transposed = graph.op("Transpose", [weight], [.ints("perm", [1, 0])])
        var output = graph.op("MatMul", [input.name, transposed])
        if let bias { output = graph.op("Add", [output, graph.parameter(bias)]) }
        return ONNXValue(name: output, kind: .steps(features: outputSize))
    }
}

extension Embedding: ONNXExportableLayer {
    /// Token ids [T, B] (int64) -> Gather(table, ids) [T, B, E]. Ids outside the table are an
    /// error in ONNX Runtime, as here.
    func exportONNX(_ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue {
        guard input.kind == .tokens else { throw exportFailure(input, expected: "token ids") }
        let output = graph.op("Gather", [graph.parameter(weight), input.name], [.int("axis", 0)])
        return ONNXValue(name: output, kind: .steps(features: embeddingSize))
    }
}

extension LayerNorm: ONNXExportableLayer {
    /// LayerNormalization over the last axis (opset 17 and later).
    func exportONNX(_ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue {
        guard input.features == size else { throw exportFailure(input, expected: "\(size) features") }
        guard graph.opset >= 17 else {
            throw RecurrentError.invalidArgument("LayerNorm needs ONNX's LayerNormalization, opset 17 or later (asked for opset \(graph.opset))")
        }
        let output = graph.op("LayerNormalization", [input.name, graph.parameter(weight), graph.parameter(bias)],
                              [.int("axis", -1), .float("epsilon", epsilon)])
        return ONNXValue(name: output, kind: input.kind)
    }
}

extension Dropout: ONNXExportableLayer {
    /// Inference passes values through: no node.
    func exportONNX(_ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue { input }
}

extension Sequential: ONNXExportableLayer {
    func exportONNX(_ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue {
        try layers.reduce(input) { value, layer in try Recurrent.exportONNX(layer, value, to: graph) }
    }
}

extension LanguageModelNetwork: ONNXExportableLayer {
    /// Gather -> recurrent stack (its state a graph input and output) -> Dense over the
    /// vocabulary, reading the embedding table when the weights are tied.
    func exportONNX(_ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue {
        let embedded = try embedding.exportONNX(input, to: graph)
        return try output.exportONNX(try recurrent.exportONNX(embedded, to: graph), to: graph)
    }
}
