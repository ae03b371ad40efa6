import Foundation

/// How `ctcLoss` reduces the per-utterance losses, as PyTorch's `ctc_loss` does.
public enum CTCReduction: String, Codable, Sendable {
    /// One loss per utterance, [B].
    case none
    /// Their sum.
    case sum
    /// PyTorch's mean: each utterance's loss divided by its target length (1 for an empty
    /// target), then averaged over the batch (utterances zeroed by `zeroInfinity` still count).
    case mean
}

/// Connectionist temporal classification (Graves et al. 2006) of log_softmax(logits) over the
/// last axis: -log p(target | frames) per utterance, summed over every alignment of the target
/// to the frames by the log-space forward-backward recursion, with PyTorch's semantics
/// (`torch.nn.functional.ctc_loss`).
///
/// - logits [B, T, C], batch-first; C counts the blank. One recorded operation: its backward
///   gives d/dlogits = w_b (softmax - gamma), with gamma[b, t, c] the posterior probability of
///   class c at frame t and w_b the upstream gradient of utterance b's loss.
/// - targets: B label sequences, each label in 0..<C and not the blank; an empty target means
///   all blanks.
/// - inputLengths: frames used per utterance, 0...T; frames from there on get a zero gradient.
///   An utterance of 0 frames has loss 0 with an empty target, and is infeasible otherwise.
/// - Infeasible utterances (fewer frames than labels plus repeated neighbours): loss +infinity,
///   or 0 with `zeroInfinity`; their gradient is 0 either way (PyTorch gives NaN without
///   `zeroInfinity`), so one bad utterance never poisons a batch's update with NaN.
///
/// Utterances run in parallel on `Parallel`'s threads, each computed the same way whatever the
/// thread count, so results do not depend on it.
public func ctcLoss(logits: Variable, targets: [[Int]], inputLengths: [Int], blank: Int = 0,
                    reduction: CTCReduction = .mean, zeroInfinity: Bool = false) throws -> Variable {
    try ctcLoss(logits, as: .logits, targets: targets, inputLengths: inputLengths, blank: blank,
                reduction: reduction, zeroInfinity: zeroInfinity)
}

/// The same from log-probabilities [B, T, C] (rows of log_softmax, or any log-scores), with the
/// exact derivative -w_b gamma, for composition with other operations. (PyTorch reports
/// w_b (exp(log_probs) - gamma) here, a logits gradient; both agree after log_softmax's backward.)
public func ctcLoss(logProbabilities: Variable, targets: [[Int]], inputLengths: [Int], blank: Int = 0,
                    reduction: CTCReduction = .mean, zeroInfinity: Bool = false) throws -> Variable {
    try ctcLoss(logProbabilities, as: .logProbabilities, targets: targets, inputLengths: inputLengths, blank: blank,
                reduction: reduction, zeroInfinity: zeroInfinity)
}

private func ctcLoss(_ input: Variable, as kind: CTCBatch.Input, targets: [[Int]], inputLengths: [Int], blank: Int,
                     reduction: CTCReduction, zeroInfinity: Bool) throws -> Variable {
    let batch = try CTCBatch(shape: input.shape, targets: targets, inputLengths: inputLengths, blank: blank)
    let recording = Variable.willRecord(inputs: [input])
    // d loss_b / d input for every utterance, scaled by w_b in the backward pass.
    var slopes = Tensor(zeros: recording ? input.shape : [0])
    let rawLosses: [Float] = input.value.withUnsafeBufferPointer { values in
        guard recording else { return batch.evaluate(values, as: kind, slopes: nil) }
        return slopes.withUnsafeMutableBufferPointer { batch.evaluate(values, as: kind, slopes: $0) }
    }
    let losses = batch.applying(zeroInfinity: zeroInfinity, to: rawLosses)
    let factors = batch.reductionFactors(reduction)
    let savedSlopes = slopes
    func gradient(weights: [Double]) -> Tensor {
        var gradient = savedSlopes
        gradient.withUnsafeMutableBufferPointer { batch.scale($0, by: weights) }
        return gradient
    }
    switch reduction {
    case .none:
        return Variable.record(Tensor(shape: [batch.batch], scalars: losses), inputs: [input]) { upstream in
            [gradient(weights: upstream.scalars.map(Double.init))]
        }
    case .sum, .mean:
        let total = batch.reduce(losses, factors: factors)
        return Variable.record(Tensor(Float(total)), inputs: [input]) { upstream in
            [gradient(weights: factors.map { $0 * Double(upstream.scalar) })]
        }
    }
}

/// A validated batch for the CTC loss: shapes, lengths and targets checked against each other,
/// each utterance's lattice built.
struct CTCBatch {
    enum Input { case logits, logProbabilities }

    let batch: Int, frames: Int, classes: Int, blank: Int
    let inputLengths: [Int]
    let targetLengths: [Int]
    let lattices: [CTCLattice]

    init(shape: [Int], targets: [[Int]], inputLengths: [Int], blank: Int) throws {
        guard shape.count == 3 else {
            throw RecurrentError.shapeMismatch("ctc loss: the scores are \(shape); expected [batch, frames, classes]")
        }
        (batch, frames, classes) = (shape[0], shape[1], shape[2])
        guard (0..<classes).contains(blank) else {
            throw RecurrentError.invalidArgument("ctc loss: blank = \(blank) is not a class in 0..<\(classes)")
        }
        guard targets.count == batch else {
            throw RecurrentError.shapeMismatch("ctc loss: \(targets.count) targets for a batch of \(batch)")
        }
        guard inputLengths.count == batch else {
            throw RecurrentError.shapeMismatch("ctc loss: \(inputLengths.count) input lengths for a batch of \(batch)")
        }
        for (b, length) in inputLengths.enumerated() where !(0...frames).contains(length) {
            throw RecurrentError.invalidArgument("ctc loss: inputLengths[\(b)] = \(length) is out of range 0...\(frames)")
        }
        for (b, target) in targets.enumerated() {
            for (i, label) in target.enumerated() where label == blank || !(0..<classes).contains(label) {
                let problem = label == blank ? "is the blank" : "is not a class in 0..<\(classes)"
                throw RecurrentError.invalidArgument("ctc loss: targets[\(b)][\(i)] = \(label) \(problem)")
            }
        }
        self.blank = blank
        self.inputLengths = inputLengths
        targetLengths = targets.map(\.count)
        lattices = targets.map { CTCLattice(target: $0, blank: blank) }
    }

    /// Each utterance's loss, +infinity where no alignment has a non-zero probability; with
    /// `slopes` ([B, T, C], zero on entry), each utterance's d loss_b / d input into its rows:
    /// softmax - gamma from logits, -gamma from log-probabilities, 0 past its length and
    /// wherever its loss is not finite.
    func evaluate<Scalar: CTCFloatingPoint>(_ input: UnsafeBufferPointer<Scalar>, as kind: Input,
                                            slopes: UnsafeMutableBufferPointer<Scalar>?) -> [Scalar] {
        var losses = [Scalar](repeating: 0, count: batch)
        guard let base = input.baseAddress, input.count == batch * frames * classes else { return losses }
        let slopeBase = slopes?.baseAddress
        losses.withUnsafeMutableBufferPointer { losses in
            guard let lossBase = losses.baseAddress else { return }
            let pointers = UncheckedSendable((base, lossBase, slopeBase))
            Parallel.forEach(parts: batch) { b in
                let (base, losses, slopes) = pointers.value
                let offset = b * frames * classes
                losses[b] = utteranceLoss(b, base + offset, as: kind, slopes: slopes.map { $0 + offset })
            }
        }
        return losses
    }

    private func utteranceLoss<Scalar: CTCFloatingPoint>(_ b: Int, _ input: UnsafePointer<Scalar>, as kind: Input,
                                                        slopes: UnsafeMutablePointer<Scalar>?) -> Scalar {
        let lattice = lattices[b], T = inputLengths[b], C = classes
        guard T >= lattice.requiredFrames else { return .infinity }
        // One block: log-probabilities [T, C] (from logits only), then the lattice's work space.
        let ownLogProbabilities = kind == .logits ? T * C : 0
        let work = UnsafeMutablePointer<Scalar>.allocate(capacity: ownLogProbabilities + lattice.workspaceCount(frames: T))
        defer { work.deallocate() }
        let logProbabilities = kind == .logits ? UnsafePointer(work) : input
        if kind == .logits { Self.logSoftmax(input, rows: T, classes: C, into: work) }
        let workspace = work + ownLogProbabilities
        let loss = lattice.forward(logProbabilities, frames: T, classes: C, workspace: workspace)
        guard let slopes, loss.isFinite else { return loss }
        if kind == .logits { Scalar.exponentialRow(logProbabilities, plus: nil, plus: 0, into: slopes, count: T * C) }
        lattice.subtractPosteriors(logProbabilities, frames: T, classes: C, loss: loss, slopes: slopes, workspace: workspace)
        return loss
    }

    /// log_softmax of each row of `logits` [rows, C], around the row's maximum.
    static func logSoftmax<Scalar: CTCFloatingPoint>(_ logits: UnsafePointer<Scalar>, rows: Int, classes: Int,
                                                     into output: UnsafeMutablePointer<Scalar>) {
        for row in 0..<rows {
            let z = logits + row * classes, out = output + row * classes
            var largest = z[0]
            for c in 1..<classes { largest = max(largest, z[c]) }
            // The exponentials go through `out`, which then takes the result.
            Scalar.exponentialRow(z, plus: nil, plus: -largest, into: out, count: classes)
            var sum: Scalar = 0
            for c in 0..<classes { sum += out[c] }
            let shift = largest + Scalar.logarithm(sum)
            for c in 0..<classes { out[c] = z[c] - shift }
        }
    }

    /// `zeroInfinity`: +infinity (an infeasible utterance) counts as 0.
    func applying<Scalar: CTCFloatingPoint>(zeroInfinity: Bool, to losses: [Scalar]) -> [Scalar] {
        zeroInfinity ? losses.map { $0 == .infinity ? 0 : $0 } : losses
    }

    /// Each utterance's share in the reduced loss: 1 (none, sum) or 1 / (B max(target length, 1)).
    func reductionFactors(_ reduction: CTCReduction) -> [Double] {
        switch reduction {
        case .none, .sum: return [Double](repeating: 1, count: batch)
        case .mean: return targetLengths.map { 1 / (Double(batch) * Double(max($0, 1))) }
        }
    }

    /// sum_b factors[b] losses[b], in Double and in order.
    func reduce<Scalar: CTCFloatingPoint>(_ losses: [Scalar], factors: [Double]) -> Double {
        zip(losses, factors).reduce(0.0) { $0 + $1.1 * Double($1.0) }
    }

    /// Multiplies utterance b's rows of `slopes` [B, T, C] by weights[b].
    func scale<Scalar: CTCFloatingPoint>(_ slopes: UnsafeMutableBufferPointer<Scalar>, by weights: [Double]) {
        let size = frames * classes
        for b in 0..<min(batch, weights.count) {
            let weight = Scalar(weights[b])
            for index in (b * size)..<((b + 1) * size) { slopes[index] *= weight }
        }
    }
}
