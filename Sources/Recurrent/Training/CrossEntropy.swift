import Foundation

/// Cross-entropy of integer class targets under the softmax of `logits`, with PyTorch's
/// semantics (`torch.nn.functional.cross_entropy`), the class dimension last: logits [..., C]
/// hold one row of C scores per target, so [N, C] with N targets, or [batch, time, C] with
/// batch * time targets in row-major order.
///
/// - `classWeights` (C values) weight each row by the weight of its target class; the mean is
///   then PyTorch's weighted mean, sum(w[y_i] loss_i) / sum(w[y_i]).
/// - Rows whose target is `ignoreIndex` count for nothing, neither in the sum nor in the mean's
///   denominator (PyTorch uses -100 by default; here nothing is ignored unless asked).
/// - `mask` (one value per row, shaped like the logits without their last dimension) scales
///   each row like an extra weight: 0 drops padding, exactly as `ignoreIndex` would.
/// - `labelSmoothing` e mixes the one-hot target with the uniform distribution:
///   loss_i = (1 - e) w[y_i] (-log p_i,y_i) + (e / C) sum_c w[c] (-log p_i,c).
///
/// A fully ignored or masked batch gives 0 with a zero gradient, where PyTorch's mean is NaN.
/// Targets outside 0..<C (other than `ignoreIndex`) throw.
public func crossEntropy(
    logits: Variable, targets: [Int], classWeights: Tensor? = nil, ignoreIndex: Int? = nil,
    mask: Tensor? = nil, labelSmoothing: Float = 0, reduction: LossReduction = .mean
) throws -> Variable {
    let shape = logits.shape
    guard let classCount = shape.last, classCount > 0 else {
        throw RecurrentError.shapeMismatch("cross-entropy: logits \(shape) need a last dimension of classes")
    }
    let rowShape = Array(shape.dropLast())
    let rows = logits.value.count / classCount
    guard targets.count == rows else {
        throw RecurrentError.shapeMismatch("cross-entropy: logits \(shape) hold \(rows) rows but there are \(targets.count) targets")
    }
    if let mask, mask.count != rows || (mask.shape != rowShape && mask.shape != [rows]) {
        throw RecurrentError.shapeMismatch("cross-entropy: mask \(mask.shape) should be \(rowShape), one value per target")
    }
    if let mask, !mask.scalars.allSatisfy({ $0 >= 0 && $0.isFinite }) {
        throw RecurrentError.invalidArgument("cross-entropy: mask values must be finite and not negative")
    }
    if let classWeights, classWeights.count != classCount {
        throw RecurrentError.shapeMismatch("cross-entropy: \(classWeights.count) class weights for \(classCount) classes")
    }
    guard (0...1).contains(labelSmoothing) else {
        throw RecurrentError.invalidArgument("cross-entropy: label smoothing must be in [0, 1], got \(labelSmoothing)")
    }
    for (row, target) in targets.enumerated() where target != ignoreIndex && !(0..<classCount).contains(target) {
        throw RecurrentError.invalidArgument("cross-entropy: target \(target) of row \(row) is not a class in 0..<\(classCount)")
    }

    let weights = classWeights?.scalars ?? [Float](repeating: 1, count: classCount)
    let weightSum = weights.reduce(0, +)
    let smoothing = labelSmoothing, keep = 1 - labelSmoothing
    let smoothingPerClass = labelSmoothing / Float(classCount)
    // Each row's factor in the reduction: its mask value, or 0 when ignored.
    let rowFactors: [Float] = (0..<rows).map { row in
        targets[row] == ignoreIndex ? 0 : (mask?.scalars[row] ?? 1)
    }

    // Forward: per-row losses from a log-softmax computed around the row's maximum, the rows
    // split over the threads (each row computed alone: the same values on any thread count).
    let logitValues = logits.value
    var rowSoftmax = [TrainingMath.ShiftedLogSumExp](repeating: .init(shift: 0, logSum: 0), count: rows)
    var rowLosses = [Float](repeating: 0, count: rows)
    logitValues.withUnsafeBufferPointer { all in
        rowSoftmax.withUnsafeMutableBufferPointer { softmaxes in
            rowLosses.withUnsafeMutableBufferPointer { losses in
                let pointers = UncheckedSendable((all, softmaxes, losses))
                Parallel.forEachRange(rows, grain: max(1, 16_384 / classCount)) { range in
                    let (all, softmaxes, losses) = pointers.value
                    for row in range where rowFactors[row] != 0 {
                        let z = UnsafeBufferPointer(rebasing: all[(row * classCount)..<((row + 1) * classCount)])
                        let softmax = TrainingMath.shiftedLogSumExp(z)
                        softmaxes[row] = softmax
                        let target = targets[row]
                        var loss = keep * weights[target] * softmax.negativeLogProbability(z[target])
                        if smoothing > 0 {
                            var smoothed = 0.0
                            for c in 0..<classCount { smoothed += Double(weights[c]) * Double(softmax.negativeLogProbability(z[c])) }
                            loss += smoothingPerClass * Float(smoothed)
                        }
                        losses[row] = loss
                    }
                }
            }
        }
    }

    // Backward of one row: d loss_i / d z_ij = (1 - e) w[y] (p_ij - [j = y]) + (e / C)(W p_ij - w[j])
    // with W the sum of the class weights; `scale` carries the mask, the reduction and upstream.
    func addRowGradient(_ row: Int, scale: Float, into gradient: UnsafeMutableBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) {
        let target = targets[row], base = row * classCount
        let targetWeight = keep * weights[target]
        for c in 0..<classCount {
            let probability = rowSoftmax[row].probability(logits[base + c])
            var slope = targetWeight * probability + smoothingPerClass * (weightSum * probability - weights[c])
            if c == target { slope -= targetWeight }
            gradient[base + c] = scale * slope
        }
    }
    func gradient(rowScales: (Int) -> Float) -> Tensor {
        var gradient = Tensor(zeros: shape)
        gradient.withUnsafeMutableBufferPointer { g in
            logitValues.withUnsafeBufferPointer { z in
                let pointers = UncheckedSendable((g, z))
                Parallel.forEachRange(rows, grain: max(1, 16_384 / classCount)) { range in
                    let (g, z) = pointers.value
                    for row in range where rowFactors[row] != 0 {
                        addRowGradient(row, scale: rowScales(row), into: g, logits: z)
                    }
                }
            }
        }
        return gradient
    }

    switch reduction {
    case .none:
        let values = (0..<rows).map { rowFactors[$0] * rowLosses[$0] }
        return Variable.record(Tensor(shape: rowShape, scalars: values), inputs: [logits]) { upstream in
            [gradient { row in upstream.scalars[row] * rowFactors[row] }]
        }
    case .sum, .mean:
        var total = 0.0, denominator = reduction == .mean ? 0.0 : 1.0
        for row in 0..<rows where rowFactors[row] != 0 {
            total += Double(rowFactors[row]) * Double(rowLosses[row])
            if reduction == .mean { denominator += Double(rowFactors[row]) * Double(weights[targets[row]]) }
        }
        let value = denominator > 0 ? Float(total / denominator) : 0
        let scale = denominator > 0 ? Float(1 / denominator) : 0
        return Variable.record(Tensor(value), inputs: [logits]) { upstream in
            let factor = upstream.scalar * scale
            return [gradient { row in factor * rowFactors[row] }]
        }
    }
}

/// Reads class indices stored as the values of a tensor (as datasets hold every target as
/// floats), rejecting values that are not whole numbers.
public func classIndices(from targets: Tensor) throws -> [Int] {
    try targets.scalars.enumerated().map { position, value in
        guard value.isFinite, value.rounded() == value, abs(value) < 0x1p24 else {
            throw RecurrentError.invalidArgument("class target \(value) at position \(position) is not a whole number")
        }
        return Int(value)
    }
}

/// Small numerical routines shared by the losses and the metrics.
enum TrainingMath {
    /// log(sum(exp(z))) kept as shift + logSum with the shift the row's maximum, so large logits
    /// never overflow, very negative ones never all underflow to log(0), and z - shift stays
    /// exact: folding both into one Float would round away everything below the shift's ulp
    /// (6e-5 at 800), and with it the small probabilities.
    struct ShiftedLogSumExp {
        var shift: Float
        var logSum: Float
        /// -log softmax(z)_c for the score z of class c.
        func negativeLogProbability(_ z: Float) -> Float { (shift - z) + logSum }
        /// softmax(z)_c for the score z of class c.
        func probability(_ z: Float) -> Float { exp((z - shift) - logSum) }
    }

    static func shiftedLogSumExp(_ z: UnsafeBufferPointer<Float>) -> ShiftedLogSumExp {
        guard let largest = z.max(), largest.isFinite else {
            return ShiftedLogSumExp(shift: z.max() ?? -.infinity, logSum: 0)
        }
        var total = 0.0
        for value in z { total += Double(exp(value - largest)) }
        return ShiftedLogSumExp(shift: largest, logSum: Float(log(total)))
    }

    /// The index of the largest value (the first one on ties, like argmax in PyTorch).
    static func argmax(_ z: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for index in z.indices where z[index] > z[best] { best = index }
        return best
    }
}
