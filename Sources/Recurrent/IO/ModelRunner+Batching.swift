/// Several requests run as one batch, each getting the bits it gets alone.
///
/// Shapes (B batch rows, T steps, I inputs, H hidden, L*D layers x directions): a model with a
/// state joins x [B, T, I] (ids [B, T] for a language model) padded with zeros to the longest T,
/// with each row's length (its own, or its request's T), and h0/c0 [L*D, B, H] with zeros for
/// rows that bring none. A model without state joins only requests of one x shape.
///
/// The embeddings and the recurrent steps compute each row on its own, so they run on the whole
/// batch. A dense layer does not: its product takes another path for 6 rows or fewer (dot
/// products summed in a fixed tree) than for more (packed tiles), so the same row can differ in
/// its last bits with the batch's size. The layers from the first dense one on therefore run on
/// each request's rows alone, in the very shape its own call would give them.
extension ModelRunner {
    /// Whether two requests may share a batch: any two for a model with a state (same step
    /// width), the same x shape past the batch axis otherwise.
    public func canBatch(_ a: Inputs, with b: Inputs) -> Bool {
        carriesState ? a.x.shape.dropFirst(2) == b.x.shape.dropFirst(2) : a.x.shape.dropFirst() == b.x.shape.dropFirst()
    }

    /// Runs `parts` together (they must be pairwise `canBatch`), returning each part's outputs.
    public func run(batch parts: [Inputs]) throws -> [[String: Tensor]] {
        guard let first = parts.first else { return [] }
        for part in parts {
            try validate(part)
            guard canBatch(part, with: first) else {
                throw RecurrentError.shapeMismatch("x is \(part.x.shape) and \(first.x.shape): these cannot share a batch")
            }
        }
        let layout = BatchLayout(parts)
        return GradientMode.withoutRecording {
            recurrent == nil ? runWithoutState(parts, layout) : runWithState(parts, layout)
        }
    }

    private func runWithState(_ parts: [Inputs], _ layout: BatchLayout) -> [[String: Tensor]] {
        guard let recurrent else { return [] }
        let c = recurrent.configuration
        let time = parts.map { $0.x.shape[1] }.max() ?? 0
        let x = layout.padded(parts.map(\.x), time: time)
        // Lengths only when some row needs them, so that full rows run as one call would run them.
        let needsLengths = parts.contains { $0.lengths != nil || $0.x.shape[1] != time }
        let lengths = needsLengths ? parts.flatMap { $0.lengths ?? Array(repeating: $0.x.shape[1], count: $0.x.shape[0]) } : nil
        let layers = c.numLayers * c.directions
        let h0 = layout.states(parts.map(\.h0), layers: layers, hidden: c.hiddenSize)
        let c0 = c.cell == .lstm ? layout.states(parts.map(\.c0), layers: layers, hidden: c.hiddenSize) : nil
        let zero = recurrent.zeroState(batch: layout.batch)
        let state = h0 == nil && c0 == nil ? nil
            : RecurrentLayer.State(hidden: h0.map { Variable($0) } ?? zero.hidden, cell: c0.map { Variable($0) } ?? zero.cell)
        let input = languageModel.map { $0.embedding(Variable(x)) } ?? Variable(x)
        let result = recurrent.forward(input, initialState: state, lengths: lengths)
        return parts.indices.map { index in
            var y = layout.rows(of: result.output.value, part: index, time: parts[index].x.shape[1])
            if let languageModel { y = languageModel.output(Variable(y)).value }
            var outputs = ["y": y, "h_n": layout.stateRows(of: result.state.hidden.value, part: index)]
            if let cell = result.state.cell { outputs["c_n"] = layout.stateRows(of: cell.value, part: index) }
            return outputs
        }
    }

    private func runWithoutState(_ parts: [Inputs], _ layout: BatchLayout) -> [[String: Tensor]] {
        let layers = (layer as? Sequential)?.layers ?? [layer]
        // Embeddings, recurrent stacks and (inference) dropout compute each row on its own.
        let joint = layers.prefix { $0 is Embedding || $0 is RecurrentLayer || $0 is Dropout }
        let rest = layers.dropFirst(joint.count)
        let batched = joint.reduce(Variable(BatchLayout.concatenatingRows(parts.map(\.x)))) { value, layer in layer(value) }.value
        return parts.indices.map { index in
            let rows = layout.rows(of: batched, part: index, time: nil)
            return ["y": rest.reduce(Variable(rows)) { value, layer in layer(value) }.value]
        }
    }
}

/// Where each request's rows sit in a batch, and the copies in and out of it.
struct BatchLayout {
    /// Each part's first row and row count.
    let rows: [(start: Int, count: Int)]
    let batch: Int

    init(_ parts: [ModelRunner.Inputs]) {
        var start = 0
        rows = parts.map { part in
            defer { start += part.x.shape[0] }
            return (start, part.x.shape[0])
        }
        batch = start
    }

    static func concatenatingRows(_ tensors: [Tensor]) -> Tensor {
        guard tensors.count > 1 else { return tensors[0] }
        return Tensor(shape: [tensors.reduce(0) { $0 + $1.shape[0] }] + Array(tensors[0].shape.dropFirst()), scalars: tensors.flatMap(\.scalars))
    }

    /// [B, time, ...] with each part's [b, T, ...] at its rows and zeros past its T.
    func padded(_ parts: [Tensor], time: Int) -> Tensor {
        guard parts.count > 1 else { return parts[0] }
        let stepWidth = parts[0].shape.dropFirst(2).reduce(1, *)
        var values = [Float](repeating: 0, count: batch * time * stepWidth)
        for (part, share) in zip(parts, rows) {
            let partTime = part.shape[1], width = partTime * stepWidth
            part.scalars.withUnsafeBufferPointer { source in
                values.withUnsafeMutableBufferPointer { target in
                    for row in 0..<share.count {
                        let from = row * width, to = (share.start + row) * time * stepWidth
                        for k in 0..<width { target[to + k] = source[from + k] }
                    }
                }
            }
        }
        return Tensor(shape: [batch, time] + Array(parts[0].shape.dropFirst(2)), scalars: values)
    }

    /// States [L*D, B, H] from each part's [L*D, b, H], zeros for parts without; nil when none has one.
    func states(_ parts: [Tensor?], layers: Int, hidden: Int) -> Tensor? {
        guard parts.contains(where: { $0 != nil }) else { return nil }
        if parts.count == 1 { return parts[0] }
        var values = [Float](repeating: 0, count: layers * batch * hidden)
        for (part, share) in zip(parts, rows) {
            guard let part else { continue }
            for layer in 0..<layers {
                let from = layer * share.count * hidden, to = (layer * batch + share.start) * hidden
                for k in 0..<(share.count * hidden) { values[to + k] = part.scalars[from + k] }
            }
        }
        return Tensor(shape: [layers, batch, hidden], scalars: values)
    }

    /// A part's rows of a [B, ...] tensor; with `time`, only the first `time` steps of each row of
    /// a [B, T, ...] tensor.
    func rows(of tensor: Tensor, part: Int, time: Int?) -> Tensor {
        let share = rows[part]
        if rows.count == 1 && (time == nil || time == tensor.shape[1]) { return tensor }
        let rowWidth = tensor.shape.dropFirst().reduce(1, *)
        guard let time, time != tensor.shape[1] else {
            return Tensor(shape: [share.count] + Array(tensor.shape.dropFirst()),
                          scalars: Array(tensor.scalars[(share.start * rowWidth)..<((share.start + share.count) * rowWidth)]))
        }
        let stepWidth = tensor.shape.dropFirst(2).reduce(1, *)
        var values: [Float] = []
        values.reserveCapacity(share.count * time * stepWidth)
        for row in share.start..<(share.start + share.count) {
            values += tensor.scalars[(row * rowWidth)..<(row * rowWidth + time * stepWidth)]
        }
        return Tensor(shape: [share.count, time] + Array(tensor.shape.dropFirst(2)), scalars: values)
    }

    /// A part's rows of a state [L*D, B, H].
    func stateRows(of tensor: Tensor, part: Int) -> Tensor {
        let share = rows[part]
        if rows.count == 1 { return tensor }
        let (layers, hidden) = (tensor.shape[0], tensor.shape[2])
        var values: [Float] = []
        values.reserveCapacity(layers * share.count * hidden)
        for layer in 0..<layers {
            let from = (layer * batch + share.start) * hidden
            values += tensor.scalars[from..<(from + share.count * hidden)]
        }
        return Tensor(shape: [layers, share.count, hidden], scalars: values)
    }
}
