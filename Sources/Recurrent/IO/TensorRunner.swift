/// Runs a model on named tensors, as `recurrent run` does: x [B, T, I] (float), optional h0 and
/// c0 [L*D, B, H] (float) and lengths [B] (integer), giving y and, for a recurrent model, h_n
/// and c_n with PyTorch's shapes.
public enum TensorRunner {
    static let inputNames: Set<String> = ["x", "h0", "c0", "lengths"]

    public static func run(_ layer: any Layer, inputs: SafeTensors, source: String) throws -> [String: Tensor] {
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: source, reason: reason) }
        let names = Set(inputs.tensors.keys).union(inputs.integerTensors.keys)
        if let unknown = names.subtracting(inputNames).sorted().first {
            throw fail("unknown tensor \"\(unknown)\" (expected x, and optionally h0, c0, lengths)")
        }
        func float(_ name: String) throws -> Tensor? {
            if inputs.integerTensors[name] != nil { throw fail("tensor \"\(name)\" must be float32, found an integer dtype") }
            return inputs.tensors[name]
        }
        guard let x = try float("x") else { throw fail("tensor \"x\" [batch, seq, input] is missing") }
        if let bad = x.scalars.firstIndex(where: { !$0.isFinite }) {
            throw fail("tensor \"x\" holds \(x.scalars[bad]) at flat index \(bad)")
        }
        var lengths: [Int]? = nil
        if inputs.tensors["lengths"] != nil { throw fail("tensor \"lengths\" must be int64, found a float dtype") }
        if let raw = inputs.integerTensors["lengths"] {
            guard raw.shape.count == 1 else { throw fail("tensor \"lengths\" has shape \(raw.shape), expected [batch]") }
            lengths = raw.values
        }
        guard let recurrent = layer as? RecurrentLayer else {
            guard lengths == nil, inputs.tensors["h0"] == nil, inputs.tensors["c0"] == nil else {
                throw fail("h0, c0 and lengths apply to a recurrent model only; this one is a \(layer.spec.kindName)")
            }
            do {
                try (layer as? any InputValidating)?.validate(x)
            } catch let error as RecurrentError {
                throw fail(error.description)
            }
            return ["y": GradientMode.withoutRecording { layer(Variable(x)) }.value]
        }
        let h0 = try float("h0"), c0 = try float("c0")
        var state: RecurrentLayer.State? = nil
        if h0 != nil || c0 != nil {
            let zero = recurrent.zeroState(batch: x.shape.first ?? 0)
            state = .init(hidden: h0.map { Variable($0) } ?? zero.hidden, cell: c0.map { Variable($0) } ?? zero.cell)
        }
        let result: RecurrentLayer.Result
        do {
            result = try GradientMode.withoutRecording { try recurrent.run(Variable(x), initialState: state, lengths: lengths) }
        } catch let error as RecurrentError {
            throw fail(error.description)
        }
        var outputs = ["y": result.output.value, "h_n": result.state.hidden.value]
        if let cell = result.state.cell { outputs["c_n"] = cell.value }
        return outputs
    }
}
