extension RecurrentLayer: ONNXExportableLayer {
    /// What one recurrent stack leaves in a graph.
    struct ONNXRun {
        /// The top layer's outputs, [T, B, D*H], zero past each sequence's length.
        var output: ONNXValue
        /// Each layer's final hidden state [D, B, H] (and cell state, for LSTM).
        var finalHidden: [String]
        var finalCell: [String]
    }

    /// Writes the stack with its state explicit: graph inputs `initial_h` (and `initial_c`)
    /// [L*D, B, H] and outputs `Y_h` (and `Y_c`) of the same shape, PyTorch's h0/h_n layout, so
    /// a runtime without state can stream by feeding each call's Y_h back as the next initial_h.
    func exportONNX(_ input: ONNXValue, to graph: ONNXGraphBuilder) throws -> ONNXValue {
        let c = configuration
        let stateDims: [ONNXDimension] = [.fixed(c.numLayers * c.directions), .named("batch"), .fixed(c.hiddenSize)]
        let hiddenName = graph.uniqueName("initial_h")
        graph.addInput(hiddenName, type: .float, dims: stateDims)
        let cellName = c.cell == .lstm ? graph.uniqueName("initial_c") : nil
        if let cellName { graph.addInput(cellName, type: .float, dims: stateDims) }
        let run = try exportStack(input, initialHidden: hiddenName, initialCell: cellName, to: graph)
        graph.addOutput(Self.stacked(run.finalHidden, graph), as: graph.uniqueName("Y_h"), dims: stateDims, isState: true)
        if c.cell == .lstm { graph.addOutput(Self.stacked(run.finalCell, graph), as: graph.uniqueName("Y_c"), dims: stateDims, isState: true) }
        switch c.output {
        case .sequence: return run.output
        case .lastState: return lastStateONNX(run, to: graph)
        }
    }

    /// Per-layer states [D, B, H] -> [L*D, B, H].
    static func stacked(_ states: [String], _ graph: ONNXGraphBuilder) -> String {
        states.count == 1 ? states[0] : graph.op("Concat", states, [.int("axis", 0)])
    }

    /// The top layer's final state, directions side by side: [B, D*H].
    func lastStateONNX(_ run: ONNXRun, to graph: ONNXGraphBuilder) -> ONNXValue {
        let c = configuration, top = run.finalHidden[run.finalHidden.count - 1]
        let name = c.directions == 1
            ? graph.op("Squeeze", [top, graph.int64Constant([0], name: "axes")])
            : graph.op("Reshape", [graph.op("Transpose", [top], [.ints("perm", [1, 0, 2])]), graph.int64Constant([0, -1], name: "shape")])
        return ONNXValue(name: name, kind: .rows(features: c.directions * c.hiddenSize))
    }

    /// One ONNX RNN/LSTM/GRU node per layer (both directions in one node), at layout 0:
    /// X [T, B, I], W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H] (W's biases, then R's), gates in
    /// ONNX's order. `initialHidden`/`initialCell` name [L*D, B, H] tensors (nil: zeros).
    func exportStack(_ input: ONNXValue, initialHidden: String?, initialCell: String?,
                     to graph: ONNXGraphBuilder) throws -> ONNXRun {
        let c = configuration
        guard case .steps(let features) = input.kind, features == c.inputSize else {
            throw exportFailure(input, expected: "steps of \(c.inputSize) features")
        }
        let prefix = parameterPrefix(graph)
        var x = input.name
        var run = ONNXRun(output: input, finalHidden: [], finalCell: [])
        for (layer, pair) in directions.enumerated() {
            func state(_ all: String?) -> String {
                guard let all else { return "" }
                guard c.numLayers > 1 else { return all }
                return graph.op("Slice", [all, graph.int64Constant([Int64(layer * c.directions)], name: "starts"),
                                          graph.int64Constant([Int64((layer + 1) * c.directions)], name: "ends"),
                                          graph.int64Constant([0], name: "axes")])
            }
            let stackDirections = { (pick: (DirectionParameters) -> Tensor) -> Tensor in
                let tensors = pair.map { ONNXRecurrentGates.toONNX(pick($0), cell: c.cell) }
                return Tensor(shape: [pair.count] + tensors[0].shape, scalars: tensors.flatMap(\.scalars))
            }
            let w = graph.initializer(stackDirections { $0.inputWeight.value }, name: "\(prefix)W_l\(layer)")
            let r = graph.initializer(stackDirections { $0.hiddenWeight.value }, name: "\(prefix)R_l\(layer)")
            var b = ""
            if c.bias {
                let biases = pair.map { p -> [Float] in
                    [p.inputBias, p.hiddenBias].flatMap { ONNXRecurrentGates.toONNX($0?.value ?? Tensor(zeros: [c.gateCount * c.hiddenSize]), cell: c.cell).scalars }
                }
                b = graph.initializer(Tensor(shape: [pair.count, 2 * c.gateCount * c.hiddenSize], scalars: biases.flatMap { $0 }),
                                      name: "\(prefix)B_l\(layer)")
            }
            var inputs = [x, w, r, b, graph.sequenceLengths ?? "", state(initialHidden)]
            if c.cell == .lstm { inputs.append(state(initialCell)) }
            let outputs = graph.node(Self.onnxOperator(c.cell), inputs, outputCount: c.cell == .lstm ? 3 : 2,
                                     attributes: onnxAttributes())
            run.finalHidden.append(outputs[1])
            if c.cell == .lstm { run.finalCell.append(outputs[2]) }
            // Y [T, D, B, H] -> [T, B, D*H], as the next layer and the caller read it.
            x = c.directions == 1
                ? graph.op("Squeeze", [outputs[0], graph.int64Constant([1], name: "axes")])
                : graph.op("Reshape", [graph.op("Transpose", [outputs[0]], [.ints("perm", [0, 2, 1, 3])]),
                                       graph.int64Constant([0, 0, -1], name: "shape")])
        }
        run.output = ONNXValue(name: x, kind: .steps(features: c.directions * c.hiddenSize))
        return run
    }

    static func onnxOperator(_ cell: CellKind) -> String {
        switch cell {
        case .rnn: return "RNN"
        case .lstm: return "LSTM"
        case .gru: return "GRU"
        }
    }

    func onnxAttributes() -> [Onnx_AttributeProto] {
        let c = configuration
        var attributes: [Onnx_AttributeProto] = [.int("hidden_size", c.hiddenSize),
                                                 .string("direction", c.bidirectional ? "bidirectional" : "forward")]
        switch c.cell {
        case .rnn:
            let activation = c.nonlinearity == .relu ? "Relu" : "Tanh"
            attributes.append(.strings("activations", Array(repeating: activation, count: c.directions)))
        case .gru:
            // PyTorch's reset-after GRU is ONNX's linear_before_reset = 1.
            attributes.append(.int("linear_before_reset", c.gruResetAfter ? 1 : 0))
        case .lstm:
            break
        }
        return attributes
    }

    /// "rnn." for a stack whose weight_ih_l0 is "rnn.weight_ih_l0" in the model.
    private func parameterPrefix(_ graph: ONNXGraphBuilder) -> String {
        guard let first = directions.first?.first, let name = graph.modelName(of: first.inputWeight),
              name.hasSuffix("weight_ih_l0") else { return "" }
        return String(name.dropLast("weight_ih_l0".count))
    }
}
