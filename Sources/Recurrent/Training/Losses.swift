import CRecurrentKernels
import Foundation

/// How a loss combines its per-element terms, as PyTorch's `reduction` argument.
public enum LossReduction: String, Codable, Sendable {
    /// The (weighted) mean: PyTorch's default.
    case mean
    case sum
    /// No reduction: one term per element (per row for cross-entropy).
    case none
}

// Regression losses and binary cross-entropy: every term depends on one prediction element only,
// so they share one masked reduction with an elementwise backward.
//
// A `mask` covers the leading dimensions of the prediction (the whole shape, or e.g. [batch, time]
// of a [batch, time, features] prediction) and scales every element below it: padding gets 0.
// The mean is then sum(mask * term) / sum(mask * 1), the mean over the elements that count.
// Without a mask every reduction is exactly PyTorch's. Where that mean would be 0/0 (an empty or
// fully masked batch; PyTorch gives NaN) the loss is 0 with a zero gradient, so that one padded
// batch cannot turn the weights into NaN.

/// Mean squared error, `torch.nn.functional.mse_loss`: terms (prediction - target)^2.
public func meanSquaredError(
    _ prediction: Variable, _ target: Tensor, mask: Tensor? = nil, reduction: LossReduction = .mean
) throws -> Variable {
    try checkSameShape(prediction, target, loss: "mean squared error")
    let count = target.count
    var terms = [Float](repeating: 0, count: count), slopes = terms
    prediction.value.withUnsafeBufferPointer { p in
        target.withUnsafeBufferPointer { t in
            for i in 0..<count {
                let difference = p[i] - t[i]
                terms[i] = difference * difference
                slopes[i] = 2 * difference
            }
        }
    }
    return try recordElementwiseLoss(prediction, terms: terms, slopes: slopes, mask: mask,
                                     reduction: reduction, loss: "mean squared error")
}

/// Mean absolute error, `torch.nn.functional.l1_loss`: terms |prediction - target|, whose
/// slope at 0 is 0 as in PyTorch (sign(0) = 0).
public func meanAbsoluteError(
    _ prediction: Variable, _ target: Tensor, mask: Tensor? = nil, reduction: LossReduction = .mean
) throws -> Variable {
    try checkSameShape(prediction, target, loss: "mean absolute error")
    let count = target.count
    var terms = [Float](repeating: 0, count: count), slopes = terms
    prediction.value.withUnsafeBufferPointer { p in
        target.withUnsafeBufferPointer { t in
            for i in 0..<count {
                let difference = p[i] - t[i]
                terms[i] = abs(difference)
                slopes[i] = difference > 0 ? 1 : (difference < 0 ? -1 : 0)
            }
        }
    }
    return try recordElementwiseLoss(prediction, terms: terms, slopes: slopes, mask: mask,
                                     reduction: reduction, loss: "mean absolute error")
}

/// Huber loss, `torch.nn.functional.huber_loss`: quadratic 0.5 d^2 within `delta` of the target,
/// linear delta (|d| - 0.5 delta) beyond, so outliers pull with a bounded force.
public func huberLoss(
    _ prediction: Variable, _ target: Tensor, delta: Float = 1, mask: Tensor? = nil,
    reduction: LossReduction = .mean
) throws -> Variable {
    guard delta > 0, delta.isFinite else {
        throw RecurrentError.invalidArgument("Huber loss: delta must be positive and finite, got \(delta)")
    }
    try checkSameShape(prediction, target, loss: "Huber loss")
    let count = target.count
    var terms = [Float](repeating: 0, count: count), slopes = terms
    prediction.value.withUnsafeBufferPointer { p in
        target.withUnsafeBufferPointer { t in
            for i in 0..<count {
                let difference = p[i] - t[i]
                if abs(difference) < delta {
                    terms[i] = 0.5 * difference * difference
                    slopes[i] = difference
                } else {
                    terms[i] = delta * (abs(difference) - 0.5 * delta)
                    slopes[i] = difference > 0 ? delta : -delta
                }
            }
        }
    }
    return try recordElementwiseLoss(prediction, terms: terms, slopes: slopes, mask: mask,
                                     reduction: reduction, loss: "Huber loss")
}

/// Binary cross-entropy on logits, `torch.nn.functional.binary_cross_entropy_with_logits`:
/// terms -[w y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] with w = `positiveWeight` for the
/// element's class (the last dimension; 1 when nil). Targets are probabilities in [0, 1].
///
/// Written as (1 - y) x + (1 + (w - 1) y) softplus(-x), with softplus(-x) = max(-x, 0) +
/// log1p(exp(-|x|)), which never overflows: a logit of 100 costs what it should instead of inf.
public func binaryCrossEntropyWithLogits(
    _ logits: Variable, _ target: Tensor, positiveWeight: Tensor? = nil, mask: Tensor? = nil,
    reduction: LossReduction = .mean
) throws -> Variable {
    try checkSameShape(logits, target, loss: "binary cross-entropy")
    let count = target.count
    let classCount = logits.shape.last ?? 1
    var weights: [Float]?
    if let positiveWeight {
        guard logits.value.rank >= 1, positiveWeight.count == classCount else {
            throw RecurrentError.shapeMismatch(
                "binary cross-entropy: positive weight has \(positiveWeight.count) values, "
                    + "expected one per class in the last dimension of \(logits.shape)")
        }
        weights = positiveWeight.scalars
    }
    var terms = [Float](repeating: 0, count: count), slopes = terms
    if weights == nil, count > 0 {
        // Every class weighs 1: the vector kernel (a piano roll's 88 notes a step, say).
        logits.value.withUnsafeBufferPointer { x in
            target.withUnsafeBufferPointer { y in
                terms.withUnsafeMutableBufferPointer { t in
                    slopes.withUnsafeMutableBufferPointer { s in
                        rk_bce_with_logits(x.baseAddress!, y.baseAddress!, t.baseAddress!, s.baseAddress!, Int64(count))
                    }
                }
            }
        }
        return try recordElementwiseLoss(logits, terms: terms, slopes: slopes, mask: mask,
                                         reduction: reduction, loss: "binary cross-entropy")
    }
    logits.value.withUnsafeBufferPointer { x in
        target.withUnsafeBufferPointer { y in
            for i in 0..<count {
                let logWeight = 1 + ((weights?[i % classCount] ?? 1) - 1) * y[i]
                let small = exp(-abs(x[i]))  // one exponential serves both terms, never overflowing
                let softplusOfNegative = max(-x[i], 0) + log1p(small)
                terms[i] = (1 - y[i]) * x[i] + logWeight * softplusOfNegative
                // d softplus(-x)/dx = -sigmoid(-x), which is e/(1 + e) for x >= 0 and 1/(1 + e) below
                let sigmoidOfNegative = x[i] >= 0 ? small / (1 + small) : 1 / (1 + small)
                slopes[i] = (1 - y[i]) - logWeight * sigmoidOfNegative
            }
        }
    }
    return try recordElementwiseLoss(logits, terms: terms, slopes: slopes, mask: mask,
                                     reduction: reduction, loss: "binary cross-entropy")
}

/// 1 / (1 + exp(-x)) without overflow for large |x|.
@inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + exp(-x)) }
    let e = exp(x)
    return e / (1 + e)
}

// MARK: - Shared reduction

func checkSameShape(_ prediction: Variable, _ target: Tensor, loss: String) throws {
    guard prediction.shape == target.shape else {
        throw RecurrentError.shapeMismatch("\(loss): prediction \(prediction.shape) and target \(target.shape) differ")
    }
}

/// Checks a mask against the leading dimensions of `shape` and returns how many trailing
/// elements each mask value covers.
func maskSpan(_ mask: Tensor, over shape: [Int], loss: String) throws -> Int {
    guard mask.rank <= shape.count, Array(shape.prefix(mask.rank)) == mask.shape else {
        throw RecurrentError.shapeMismatch("\(loss): mask \(mask.shape) does not cover the leading dimensions of \(shape)")
    }
    guard mask.scalars.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
        throw RecurrentError.invalidArgument("\(loss): mask values must be finite and not negative")
    }
    return shape.dropFirst(mask.rank).reduce(1, *)
}

/// Records a loss made of per-element `terms` of the prediction, each with derivative `slopes`,
/// weighted by the mask and reduced. Forward and backward share the mask and the denominator.
func recordElementwiseLoss(
    _ prediction: Variable, terms: [Float], slopes: [Float], mask: Tensor?,
    reduction: LossReduction, loss: String
) throws -> Variable {
    let count = terms.count
    let span = try mask.map { try maskSpan($0, over: prediction.shape, loss: loss) } ?? 1
    let maskValues = mask?.scalars
    @inline(__always) func weight(_ i: Int) -> Float { maskValues?[i / span] ?? 1 }

    switch reduction {
    case .none:
        let values = (0..<count).map { weight($0) * terms[$0] }
        return Variable.record(Tensor(shape: prediction.shape, scalars: values), inputs: [prediction]) { upstream in
            [Tensor(shape: prediction.shape, scalars: (0..<count).map { upstream.scalars[$0] * weight($0) * slopes[$0] })]
        }
    case .sum, .mean:
        var total = 0.0, weightTotal = 0.0
        for i in 0..<count {
            total += Double(weight(i)) * Double(terms[i])
            weightTotal += Double(weight(i))
        }
        let denominator = reduction == .mean ? weightTotal : 1
        // An empty mean counts as 0 rather than NaN (see the note at the top of the file).
        let value = denominator > 0 ? Float(total / denominator) : 0
        let scale = denominator > 0 ? Float(1 / denominator) : 0
        let shape = prediction.shape
        return Variable.record(Tensor(value), inputs: [prediction]) { upstream in
            let factor = upstream.scalar * scale
            return [Tensor(shape: shape, scalars: (0..<count).map { factor * weight($0) * slopes[$0] })]
        }
    }
}
