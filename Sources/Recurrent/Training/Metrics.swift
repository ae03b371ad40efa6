import Foundation

/// A quantity to report during training and evaluation.
public enum Metric: String, Codable, CaseIterable, Sendable {
    case loss
    case accuracy
    case rootMeanSquaredError = "rmse"
    case meanAbsoluteError = "mae"
    case perplexity
    case bitsPerCharacter = "bpc"
}

/// One-shot metrics of a whole prediction. For data seen in batches, `MetricAccumulator` gives
/// the same values over all batches together.
public enum Metrics {
    /// The fraction of rows of `logits` [..., C] whose largest score is the target class,
    /// skipping rows whose target is `ignoreIndex` or whose mask is 0. Nil when no row counts.
    public static func accuracy(logits: Tensor, targets: [Int], ignoreIndex: Int? = nil, mask: Tensor? = nil) throws -> Float? {
        var accumulator = MetricAccumulator()
        try accumulator.addClassification(logits: logits, targets: targets, ignoreIndex: ignoreIndex, mask: mask)
        return accumulator.accuracy
    }

    /// The fraction of `predicted` class indices equal to `targets`, skipping `ignoreIndex`.
    public static func accuracy(predicted: [Int], targets: [Int], ignoreIndex: Int? = nil) throws -> Float? {
        guard predicted.count == targets.count else {
            throw RecurrentError.shapeMismatch("accuracy: \(predicted.count) predictions for \(targets.count) targets")
        }
        var correct = 0, counted = 0
        for (prediction, target) in zip(predicted, targets) where target != ignoreIndex {
            counted += 1
            if prediction == target { correct += 1 }
        }
        return counted == 0 ? nil : Float(correct) / Float(counted)
    }

    /// The class with the largest score in each row of `logits` [..., C].
    public static func predictedClasses(logits: Tensor) -> [Int] {
        guard let classCount = logits.shape.last, classCount > 0 else { return [] }
        return logits.withUnsafeBufferPointer { all in
            (0..<(all.count / classCount)).map { row in
                TrainingMath.argmax(UnsafeBufferPointer(rebasing: all[(row * classCount)..<((row + 1) * classCount)]))
            }
        }
    }

    /// sqrt(mean((prediction - target)^2)) over the elements the mask keeps.
    public static func rootMeanSquaredError(_ prediction: Tensor, _ target: Tensor, mask: Tensor? = nil) throws -> Float? {
        var accumulator = MetricAccumulator()
        try accumulator.addRegression(prediction: prediction, target: target, mask: mask)
        return accumulator.rootMeanSquaredError
    }

    /// mean(|prediction - target|) over the elements the mask keeps.
    public static func meanAbsoluteError(_ prediction: Tensor, _ target: Tensor, mask: Tensor? = nil) throws -> Float? {
        var accumulator = MetricAccumulator()
        try accumulator.addRegression(prediction: prediction, target: target, mask: mask)
        return accumulator.meanAbsoluteError
    }

    /// exp of the mean cross-entropy per token, in nats.
    public static func perplexity(meanCrossEntropy: Float) -> Float { exp(meanCrossEntropy) }

    /// The mean cross-entropy per character in bits (nats / ln 2).
    public static func bitsPerCharacter(meanCrossEntropy: Float) -> Float { meanCrossEntropy / Float(log(2.0)) }
}

/// Running totals from which every metric over all batches so far is computed exactly: sums
/// and counts, not averages of per-batch averages (batches of different sizes weigh right).
public struct MetricAccumulator: Sendable, Equatable {
    // Classification: correct predictions and the negative log-likelihood of the targets.
    private var correct = 0.0
    private var classified = 0.0
    private var negativeLogLikelihood = 0.0
    // Regression.
    private var squaredError = 0.0
    private var absoluteError = 0.0
    private var regressed = 0.0
    // The training loss, weighted by how many items each batch's value averages over.
    private var lossTotal = 0.0
    private var lossWeight = 0.0

    public init() {}

    /// Adds rows of `logits` [..., C] with one target class per row: their accuracy and their
    /// cross-entropy (for perplexity and bits per character). A mask weights rows; targets equal to
    /// `ignoreIndex` are skipped.
    public mutating func addClassification(logits: Tensor, targets: [Int], ignoreIndex: Int? = nil, mask: Tensor? = nil) throws {
        guard let classCount = logits.shape.last, classCount > 0 else {
            throw RecurrentError.shapeMismatch("metrics: logits \(logits.shape) need a last dimension of classes")
        }
        let rows = logits.count / classCount
        guard targets.count == rows else {
            throw RecurrentError.shapeMismatch("metrics: logits \(logits.shape) hold \(rows) rows but there are \(targets.count) targets")
        }
        if let mask, mask.count != rows {
            throw RecurrentError.shapeMismatch("metrics: mask \(mask.shape) should hold one value per target (\(rows))")
        }
        for (row, target) in targets.enumerated() where target != ignoreIndex && !(0..<classCount).contains(target) {
            throw RecurrentError.invalidArgument("metrics: target \(target) of row \(row) is not a class in 0..<\(classCount)")
        }
        logits.withUnsafeBufferPointer { all in
            for row in 0..<rows where targets[row] != ignoreIndex {
                let weight = Double(mask?.scalars[row] ?? 1)
                guard weight != 0 else { continue }
                let z = UnsafeBufferPointer(rebasing: all[(row * classCount)..<((row + 1) * classCount)])
                let target = targets[row]
                if TrainingMath.argmax(z) == target { correct += weight }
                negativeLogLikelihood += weight * Double(TrainingMath.shiftedLogSumExp(z).negativeLogProbability(z[target]))
                classified += weight
            }
        }
    }

    /// Adds predictions and targets of equal shape; the mask covers leading dimensions as in
    /// the losses.
    public mutating func addRegression(prediction: Tensor, target: Tensor, mask: Tensor? = nil) throws {
        guard prediction.shape == target.shape else {
            throw RecurrentError.shapeMismatch("metrics: prediction \(prediction.shape) and target \(target.shape) differ")
        }
        let span = try mask.map { try maskSpan($0, over: prediction.shape, loss: "metrics") } ?? 1
        for i in 0..<prediction.count {
            let weight = Double(mask?.scalars[i / span] ?? 1)
            let difference = Double(prediction.scalars[i]) - Double(target.scalars[i])
            squaredError += weight * difference * difference
            absoluteError += weight * abs(difference)
            regressed += weight
        }
    }

    /// Adds a batch's mean loss, which averaged over `count` items.
    public mutating func addLoss(_ meanLoss: Float, count: Int) {
        lossTotal += Double(meanLoss) * Double(count)
        lossWeight += Double(count)
    }

    /// Adds everything another accumulator holds (for example one per thread or per shard).
    public mutating func merge(_ other: MetricAccumulator) {
        correct += other.correct
        classified += other.classified
        negativeLogLikelihood += other.negativeLogLikelihood
        squaredError += other.squaredError
        absoluteError += other.absoluteError
        regressed += other.regressed
        lossTotal += other.lossTotal
        lossWeight += other.lossWeight
    }

    public var loss: Float? { lossWeight > 0 ? Float(lossTotal / lossWeight) : nil }
    public var accuracy: Float? { classified > 0 ? Float(correct / classified) : nil }
    /// The mean cross-entropy per counted target, in nats.
    public var meanCrossEntropy: Float? { classified > 0 ? Float(negativeLogLikelihood / classified) : nil }
    public var perplexity: Float? { classified > 0 ? Float(exp(negativeLogLikelihood / classified)) : nil }
    public var bitsPerCharacter: Float? { classified > 0 ? Float(negativeLogLikelihood / classified / log(2.0)) : nil }
    public var rootMeanSquaredError: Float? { regressed > 0 ? Float((squaredError / regressed).squareRoot()) : nil }
    public var meanAbsoluteError: Float? { regressed > 0 ? Float(absoluteError / regressed) : nil }

    /// The value of `metric`, or nil when nothing it needs has been added.
    public func value(of metric: Metric) -> Float? {
        switch metric {
        case .loss: return loss
        case .accuracy: return accuracy
        case .rootMeanSquaredError: return rootMeanSquaredError
        case .meanAbsoluteError: return meanAbsoluteError
        case .perplexity: return perplexity
        case .bitsPerCharacter: return bitsPerCharacter
        }
    }
}
