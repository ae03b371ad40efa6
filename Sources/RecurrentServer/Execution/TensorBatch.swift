import Recurrent

/// Requests for one model joined into one batch along the batch axis, and the batch's outputs
/// cut back into each request's share.
///
/// Shapes (B batch rows, T steps, I inputs, O outputs, L*D layers x directions, H hidden):
/// a model with state reads x [B, T, I] (ids [B, T] for a language model) padded with zeros to
/// the longest T, lengths [B] (each row's own length, or its request's T), h0/c0 [L*D, B, H]
/// (zeros for rows that bring none), and gives y [B, T, O] and h_n/c_n [L*D, B, H]. A model
/// without state is batched only with requests of the same x shape past the batch axis.
struct TensorBatch {
    let parts: [ModelRunner.Inputs]
    let inputs: ModelRunner.Inputs
    /// Each part's first row in the batch, and its row count.
    let rows: [(start: Int, count: Int)]
    /// Whether x was padded along T (a model with state), so y is cut back to each part's T.
    let padded: Bool

    init(_ parts: [ModelRunner.Inputs], runner: ModelRunner) {
        self.parts = parts
        padded = runner.carriesState
        var start = 0
        let rows = parts.map { part in
            defer { start += part.x.shape[0] }
            return (start: start, count: part.x.shape[0])
        }
        self.rows = rows
        guard parts.count > 1 else {
            inputs = parts[0]
            return
        }
        let batch = start
        guard let recurrent = runner.recurrent else {
            inputs = ModelRunner.Inputs(x: Self.concatenateRows(parts.map(\.x)))
            return
        }
        let times = parts.map { $0.x.shape[1] }, time = times.max() ?? 0
        let stepWidth = parts[0].x.shape.dropFirst(2).reduce(1, *)
        var x = [Float](repeating: 0, count: batch * time * stepWidth)
        for (part, (first, count)) in zip(parts, rows) {
            let partTime = part.x.shape[1]
            part.x.scalars.withUnsafeBufferPointer { source in
                for row in 0..<count {
                    let from = row * partTime * stepWidth, to = (first + row) * time * stepWidth
                    for k in 0..<(partTime * stepWidth) { x[to + k] = source[from + k] }
                }
            }
        }
        let xShape = [batch, time] + Array(parts[0].x.shape.dropFirst(2))
        // Lengths only when some row needs them, so that a batch of full rows runs as one call would.
        let needsLengths = parts.contains { $0.lengths != nil } || Set(times).count > 1
        let lengths = needsLengths ? parts.flatMap { $0.lengths ?? Array(repeating: $0.x.shape[1], count: $0.x.shape[0]) } : nil
        let c = recurrent.configuration
        let layers = c.numLayers * c.directions, hidden = c.hiddenSize
        func states(_ pick: (ModelRunner.Inputs) -> Tensor?) -> Tensor? {
            guard parts.contains(where: { pick($0) != nil }) else { return nil }
            var values = [Float](repeating: 0, count: layers * batch * hidden)
            for (part, (first, count)) in zip(parts, rows) {
                guard let state = pick(part) else { continue }
                for layer in 0..<layers {
                    for row in 0..<count {
                        let from = (layer * count + row) * hidden, to = (layer * batch + first + row) * hidden
                        for unit in 0..<hidden { values[to + unit] = state.scalars[from + unit] }
                    }
                }
            }
            return Tensor(shape: [layers, batch, hidden], scalars: values)
        }
        inputs = ModelRunner.Inputs(x: Tensor(shape: xShape, scalars: x), h0: states(\.h0),
                                    c0: c.cell == .lstm ? states(\.c0) : nil, lengths: lengths)
    }

    /// Whether two requests can share a batch: same model; for a model without state, the same
    /// shape past the batch axis.
    static func compatible(_ a: ModelRunner.Inputs, _ b: ModelRunner.Inputs, runner: ModelRunner) -> Bool {
        runner.carriesState ? a.x.shape.dropFirst(2) == b.x.shape.dropFirst(2) : a.x.shape.dropFirst() == b.x.shape.dropFirst()
    }

    /// Each part's outputs: y cut to its rows (and its own T), states to its rows.
    func split(_ outputs: [String: Tensor]) -> [[String: Tensor]] {
        guard parts.count > 1 else { return [outputs] }
        return zip(parts, rows).map { part, share in
            var result: [String: Tensor] = [:]
            for (name, tensor) in outputs {
                if name == "y" {
                    result[name] = Self.rows(of: tensor, share, time: padded ? part.x.shape[1] : nil)
                } else {
                    result[name] = Self.stateRows(of: tensor, share)
                }
            }
            return result
        }
    }

    static func concatenateRows(_ tensors: [Tensor]) -> Tensor {
        let shape = [tensors.reduce(0) { $0 + $1.shape[0] }] + Array(tensors[0].shape.dropFirst())
        return Tensor(shape: shape, scalars: tensors.flatMap(\.scalars))
    }

    /// Rows [start, start + count) of a [B, ...] tensor; for [B, T, ...] with `time`, the first
    /// `time` steps of each.
    static func rows(of tensor: Tensor, _ share: (start: Int, count: Int), time: Int?) -> Tensor {
        let rowWidth = tensor.shape.dropFirst().reduce(1, *)
        guard let time, tensor.rank >= 2, time != tensor.shape[1] else {
            let values = Array(tensor.scalars[(share.start * rowWidth)..<((share.start + share.count) * rowWidth)])
            return Tensor(shape: [share.count] + Array(tensor.shape.dropFirst()), scalars: values)
        }
        let stepWidth = tensor.shape.dropFirst(2).reduce(1, *)
        var values: [Float] = []
        values.reserveCapacity(share.count * time * stepWidth)
        for row in share.start..<(share.start + share.count) {
            values += tensor.scalars[(row * rowWidth)..<(row * rowWidth + time * stepWidth)]
        }
        return Tensor(shape: [share.count, time] + Array(tensor.shape.dropFirst(2)), scalars: values)
    }

    /// Rows of a state [L*D, B, H].
    static func stateRows(of tensor: Tensor, _ share: (start: Int, count: Int)) -> Tensor {
        let (layers, batch, hidden) = (tensor.shape[0], tensor.shape[1], tensor.shape[2])
        var values: [Float] = []
        values.reserveCapacity(layers * share.count * hidden)
        for layer in 0..<layers {
            let from = (layer * batch + share.start) * hidden
            values += tensor.scalars[from..<(from + share.count * hidden)]
        }
        return Tensor(shape: [layers, share.count, hidden], scalars: values)
    }
}
