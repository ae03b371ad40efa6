import Foundation

/// How a training run goes: one set of options for every task and every `train` verb.
public struct TrainingOptions: Codable, Sendable {
    public var epochs: Int = 20
    public var batchSize: Int = 32
    /// Stop after this many optimization steps, whatever the epochs.
    public var maxSteps: Int? = nil
    /// Stop after this much wall time, keeping the best model so far.
    public var maxMinutes: Double? = nil
    /// Seeds the shuffle (and, through the model's constructor, the initialization).
    public var seed: UInt64 = 0
    /// Clip the global gradient norm to this (nil: no clipping).
    public var clipNorm: Float? = 1.0
    /// Clip every gradient value to [-clipValue, clipValue] (nil: no clipping).
    public var clipValue: Float? = nil
    /// Stop when the validation loss has not improved for this many epochs (nil: never).
    public var patience: Int? = nil
    /// How the learning rate moves from the optimizer's base rate, step by step.
    public var schedule: LearningRateSchedule = .constant
    /// Shuffle the samples every epoch. Off, batches come in order (0..<B, B..<2B, ...), which
    /// truncated backpropagation through time needs to carry state from one batch to the next.
    public var shuffle: Bool = true

    public init() {}
}

/// Why a run ended.
public enum StopReason: String, Codable, Sendable {
    case completed, maxSteps, maxMinutes, earlyStopping, diverged
}

/// The record of a run, stored in model files.
public struct TrainingHistory: Codable, Sendable {
    public var trainLoss: [Double] = []
    public var validationLoss: [Double] = []
    /// The 1-based epoch whose parameters were kept (best validation loss), if validated.
    public var bestEpoch: Int? = nil
    public var steps: Int = 0
    public var seconds: Double = 0
    public var stopReason: StopReason = .completed
    /// For a diverged run: what happened, for the user.
    public var message: String? = nil
}

/// The fit loop shared by every task: seeded shuffling into mini-batches, loss, backpropagation,
/// clipping, the optimizer step, validation after each epoch, early stopping, the best
/// checkpoint, limits on steps and time, and a stop on a non-finite loss that keeps the last
/// good parameters.
///
/// The task supplies `loss(batchIndices)`, the loss of one mini-batch as a recorded scalar, and
/// optionally `validationLoss()`, computed without recording.
public final class Trainer {
    public let parameters: [Variable]
    public var optimizer: any Optimizer
    public var options: TrainingOptions
    public weak var progress: ProgressReporter?
    /// Called with the epoch and the validation loss each time the best model improves (write a
    /// checkpoint here).
    public var onImprovement: ((Int, Double) throws -> Void)?
    /// Cuts each epoch's shuffled sample order and the 1-based epoch into mini-batches (for
    /// instance `Batching.bucketedByLength`); nil cuts consecutive slices of `batchSize`.
    public var batchPlan: ((_ shuffledOrder: [Int], _ epoch: Int) -> [[Int]])?

    public init(optimizer: any Optimizer, options: TrainingOptions, progress: ProgressReporter? = nil) {
        self.parameters = optimizer.parameters
        self.optimizer = optimizer
        self.options = options
        self.progress = progress
    }

    public func fit(sampleCount: Int, loss: ([Int]) throws -> Variable, validationLoss: (() throws -> Double)? = nil) throws -> TrainingHistory {
        guard sampleCount > 0 else { throw RecurrentError.invalidArgument("there is nothing to train on: 0 samples") }
        guard options.batchSize > 0, options.epochs > 0 else {
            throw RecurrentError.invalidArgument("batch size and epochs must be positive (got \(options.batchSize) and \(options.epochs))")
        }
        try options.schedule.validate()
        let baseLearningRate = optimizer.learningRate
        var history = TrainingHistory()
        var rng = SplitMix64(seed: options.seed)
        let batchesPerEpoch = (sampleCount + options.batchSize - 1) / options.batchSize
        let plannedSteps = min(options.maxSteps ?? Int.max, batchesPerEpoch * options.epochs)
        let start = Date()
        var best: (loss: Double, values: [Tensor])? = nil
        var epochsWithoutImprovement = 0
        var order = Array(0..<sampleCount)

        func status(_ epoch: Int, trainLoss: Double, validation: Double?) -> TrainingStatus {
            TrainingStatus(epoch: epoch, epochs: options.epochs, step: history.steps, plannedSteps: plannedSteps,
                           trainLoss: trainLoss, validationLoss: validation, elapsedSeconds: Date().timeIntervalSince(start))
        }

        training: for epoch in 1...options.epochs {
            if options.shuffle { shuffle(&order, using: &rng) }
            var epochLoss = 0.0, epochBatches = 0
            // A limit reached inside an epoch still validates the steps taken since the last
            // validation, so that the model kept is the best of everything trained.
            var limitReached = false
            let batches = batchPlan?(order, epoch) ?? Batching.consecutive(order, batchSize: options.batchSize)
            for batch in batches {
                if let maxSteps = options.maxSteps, history.steps >= maxSteps { history.stopReason = .maxSteps; limitReached = true; break }
                if let minutes = options.maxMinutes, Date().timeIntervalSince(start) >= minutes * 60 {
                    history.stopReason = .maxMinutes; limitReached = true; break
                }
                let lastGood = parameters.map(\.value)
                for parameter in parameters { parameter.grad = nil }
                let value = try LearningPhase.training { try loss(batch) }
                let lossValue = Double(value.value.scalar)
                guard lossValue.isFinite else {
                    diverge(&history, restoring: lastGood, message: "the loss became \(lossValue) at step \(history.steps + 1) (epoch \(epoch))")
                    break training
                }
                value.backward()
                if let clipValue = options.clipValue { clipGradientValues(parameters, limit: clipValue) }
                let norm = options.clipNorm.map { clipGradientNorm(parameters, maxNorm: $0) } ?? globalNorm(parameters.compactMap(\.grad))
                guard norm.isFinite else {
                    diverge(&history, restoring: lastGood, message: "the gradient became \(norm) at step \(history.steps + 1) (epoch \(epoch))")
                    break training
                }
                options.schedule.apply(to: optimizer, base: baseLearningRate, step: history.steps)
                optimizer.step()
                history.steps += 1
                epochLoss += lossValue
                epochBatches += 1
                progress?.step(status(epoch, trainLoss: epochLoss / Double(epochBatches), validation: history.validationLoss.last))
            }
            if limitReached && epochBatches == 0 { break training }
            let trainLoss = epochLoss / Double(max(epochBatches, 1))
            history.trainLoss.append(trainLoss)
            var validation: Double? = nil
            if let validationLoss {
                let measured = try GradientMode.withoutRecording { try validationLoss() }
                validation = measured
                history.validationLoss.append(measured)
                if measured.isFinite, measured < best?.loss ?? .infinity {
                    best = (measured, parameters.map(\.value))
                    history.bestEpoch = epoch
                    epochsWithoutImprovement = 0
                    try onImprovement?(epoch, measured)
                } else {
                    epochsWithoutImprovement += 1
                }
            }
            progress?.epochEnded(status(epoch, trainLoss: trainLoss, validation: validation))
            if limitReached { break training }
            if let patience = options.patience, epochsWithoutImprovement >= patience {
                history.stopReason = .earlyStopping
                progress?.note("stopping early: no improvement for \(patience) epochs; keeping epoch \(history.bestEpoch ?? epoch)")
                break
            }
        }
        // The best validated parameters win over the last ones, also after a divergence.
        if let best { restore(best.values) }
        history.seconds = Date().timeIntervalSince(start)
        return history
    }

    func diverge(_ history: inout TrainingHistory, restoring values: [Tensor], message: String) {
        restore(values)
        history.stopReason = .diverged
        history.message = message + "; training stopped and the last good parameters were kept"
        progress?.note(history.message ?? message)
    }

    func restore(_ values: [Tensor]) {
        for (parameter, value) in zip(parameters, values) { parameter.value = value }
    }
}

/// Fisher-Yates with the project's seeded generator, so shuffles are the same on every machine.
func shuffle<T>(_ items: inout [T], using rng: inout SplitMix64) {
    guard items.count > 1 else { return }
    for i in stride(from: items.count - 1, to: 0, by: -1) {
        let j = Int(rng.next() % UInt64(i + 1))
        items.swapAt(i, j)
    }
}
