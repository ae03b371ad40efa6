/// Records a loss made of one term per row of `raw` [rows..., W], where each term depends on its
/// row's W outputs only (a distribution's parameters, a set of quantiles): `terms` [rows] and
/// `slopes` [rows * W], the derivative of each row's term by each of its outputs.
///
/// `mask` covers the leading dimensions of `rowShape` and weighs the rows beneath it (0 for
/// padding). The mean is sum(mask * term) / sum(mask); an empty or fully masked mean is 0 with
/// a zero gradient, as for the elementwise losses. `.none` gives one value per row.
func recordRowLoss(
    _ raw: Variable, rowShape: [Int], terms: [Float], slopes: [Float], mask: Tensor?, reduction: LossReduction, loss: String
) throws -> Variable {
    let rows = terms.count, width = rows > 0 ? slopes.count / rows : 0
    let span = try mask.map { try maskSpan($0, over: rowShape, loss: loss) } ?? 1
    let maskValues = mask?.scalars
    @inline(__always) func weight(_ row: Int) -> Float { maskValues?[row / span] ?? 1 }
    let shape = raw.shape
    func spread(_ factor: (Int) -> Float) -> Tensor {
        var values = [Float](repeating: 0, count: slopes.count)
        for row in 0..<rows {
            let f = factor(row) * weight(row)
            for k in 0..<width { values[row * width + k] = f * slopes[row * width + k] }
        }
        return Tensor(shape: shape, scalars: values)
    }
    switch reduction {
    case .none:
        let values = (0..<rows).map { weight($0) * terms[$0] }
        return Variable.record(Tensor(shape: rowShape, scalars: values), inputs: [raw]) { upstream in
            [spread { upstream.scalars[$0] }]
        }
    case .sum, .mean:
        var total = 0.0, weightTotal = 0.0
        for row in 0..<rows {
            total += Double(weight(row)) * Double(terms[row])
            weightTotal += Double(weight(row))
        }
        let denominator = reduction == .mean ? weightTotal : 1
        let value = denominator > 0 ? Float(total / denominator) : 0
        let scale = denominator > 0 ? Float(1 / denominator) : 0
        return Variable.record(Tensor(value), inputs: [raw]) { upstream in
            let factor = upstream.scalar * scale
            return [spread { _ in factor }]
        }
    }
}
