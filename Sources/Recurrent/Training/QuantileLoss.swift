import Foundation

/// The pinball (quantile) loss of predicted quantiles `prediction` [..., Q] at `levels` (Q values
/// in (0, 1)) against `targets` [...]: for each level q, q (y - p) when the value lies above the
/// prediction and (1 - q)(p - y) below it, averaged over the Q levels of a row. Its minimum over
/// p is the q-quantile of y, so a network trained on it forecasts intervals directly (MQ-RNN).
/// Masked and reduced as the other losses (the mask over the targets' leading axes).
public func pinballLoss(
    _ prediction: Variable, _ targets: Tensor, levels: [Double], mask: Tensor? = nil, reduction: LossReduction = .mean
) throws -> Variable {
    let q = levels.count
    guard q > 0, prediction.value.rank >= 1, prediction.shape.last == q, Array(prediction.shape.dropLast()) == targets.shape else {
        throw RecurrentError.shapeMismatch("pinball loss: prediction \(prediction.shape) must be the targets' shape \(targets.shape) plus [\(q)]")
    }
    if let bad = levels.first(where: { !($0 > 0 && $0 < 1) }) {
        throw RecurrentError.invalidArgument("pinball loss: quantile level \(bad) is not in (0, 1)")
    }
    let rows = targets.count
    var terms = [Float](repeating: 0, count: rows), slopes = [Float](repeating: 0, count: rows * q)
    prediction.value.withUnsafeBufferPointer { p in
        for row in 0..<rows {
            let y = Double(targets.scalars[row])
            var total = 0.0
            for k in 0..<q {
                let (value, slope) = pinball(prediction: Double(p[row * q + k]), truth: y, level: levels[k])
                total += value
                slopes[row * q + k] = Float(slope / Double(q))
            }
            terms[row] = Float(total / Double(q))
        }
    }
    return try recordRowLoss(prediction, rowShape: targets.shape, terms: terms, slopes: slopes, mask: mask,
                             reduction: reduction, loss: "pinball loss")
}

/// One pinball term and its slope in the prediction (at a tie, 0: the subgradient's middle
/// would depend on the level, and a tie has probability zero for continuous values).
@inline(__always) func pinball(prediction p: Double, truth y: Double, level q: Double) -> (value: Double, slope: Double) {
    if y > p { return (q * (y - p), -q) }
    if y < p { return ((1 - q) * (p - y), 1 - q) }
    return (0, 0)
}

/// Scores of probabilistic forecasts.
public enum ProbabilisticScores {
    /// The continuous ranked probability score of a forecast given by `samples` against the
    /// `truth`: E|X - y| - E|X - X'| / 2 (in the value's units; 0 for a sure, right forecast;
    /// the absolute error for a single sample). Computed from the sorted samples in O(S log S).
    public static func crps(samples: [Double], truth: Double) -> Double {
        guard !samples.isEmpty else { return .nan }
        let sorted = samples.sorted(), count = Double(sorted.count)
        let absoluteError = sorted.reduce(0) { $0 + abs($1 - truth) } / count
        // sum over pairs |x_i - x_j| = 2 sum_i (2i - S + 1) x_(i) for sorted x (0-based i).
        let spread = sorted.enumerated().reduce(0) { $0 + (2 * Double($1.offset) - count + 1) * $1.element } * 2 / (count * count)
        return absoluteError - spread / 2
    }

    /// CRPS of a Gaussian N(mean, sd^2) in closed form (Gneiting and Raftery 2007).
    public static func gaussianCRPS(mean: Double, standardDeviation sd: Double, truth: Double) -> Double {
        let z = (truth - mean) / sd
        let density = exp(-z * z / 2) / (2 * Double.pi).squareRoot(), cumulative = 0.5 * erfc(-z / 2.squareRoot())
        return sd * (z * (2 * cumulative - 1) + 2 * density - 1 / Double.pi.squareRoot())
    }

    /// The CRPS approximated from quantile forecasts: twice the mean pinball loss over the
    /// levels (exact as the levels fill (0, 1) evenly). [value][level] and the truths.
    public static func quantileCRPS(quantiles: [[Double]], levels: [Double], truths: [Double]) -> Double {
        let total = zip(quantiles, truths).reduce(0.0) { sum, pair in
            sum + zip(pair.0, levels).reduce(0.0) { $0 + pinball(prediction: $1.0, truth: pair.1, level: $1.1).value }
        }
        return 2 * total / Double(max(1, truths.count * levels.count))
    }

    /// The sample quantile at `level` by linear interpolation between order statistics (numpy's
    /// default), of values already sorted.
    public static func quantile(sorted values: [Double], level: Double) -> Double {
        guard let first = values.first else { return .nan }
        let position = level * Double(values.count - 1)
        let below = Int(position.rounded(.down)), above = min(below + 1, values.count - 1)
        let fraction = position - Double(below)
        return below < 0 ? first : values[below] + (values[above] - values[below]) * fraction
    }
}
