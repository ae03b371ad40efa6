import Foundation

/// The fit loop shared by every task: seeded shuffling into mini-batches, loss, backpropagation,
/// clipping, the optimizer step, validation after each epoch, early stopping, the best
/// parameters kept, limits on epochs, steps and time, a stop on a non-finite loss that keeps
/// the last good parameters, checkpoints and resuming, and data-parallel steps over a
/// `Communicator`.
///
/// The task supplies `loss(batchIndices)`, the loss of one mini-batch as a recorded scalar, and
/// optionally `validationLoss()`, computed without recording. A task that keeps state of its
/// own between steps sets `taskState`; every task sets `identity` so that a checkpoint of
/// another configuration or other data is refused (see docs/long-runs.md).
///
/// Runs are deterministic: the same seed and thread count give the same parameters, and a run
/// resumed from a checkpoint ends with the parameters of the run never interrupted, bit for bit
/// (random draws inside a step are keyed by the step: `LearningPhase.batchPosition`).
public final class Trainer {
    public let parameters: [Variable]
    public var optimizer: any Optimizer
    public var options: TrainingOptions
    public weak var progress: ProgressReporter?
    /// Called with the epoch and the validation loss each time the best model improves.
    public var onImprovement: ((Int, Double) throws -> Void)?
    /// Cuts each epoch's shuffled sample order and the 1-based epoch into mini-batches (for
    /// instance `Batching.bucketedByLength`); nil cuts consecutive slices of `batchSize`.
    public var batchPlan: ((_ shuffledOrder: [Int], _ epoch: Int) -> [[Int]])?
    /// The task's own state between steps, carried by checkpoints (nil: the task keeps none).
    public var taskState: TrainingStateHook?
    /// The task's configuration and a fingerprint of its data: a checkpoint must match it, and
    /// the processes of a data-parallel run must agree on it.
    public var identity: RunIdentity?
    /// When processes split a batch, the weight of one part in the batch's loss (the loss of
    /// the batch is the weighted mean of its parts' losses). nil: the part's sample count,
    /// right for a mean over samples; a loss averaged over tokens weighs a part by its tokens.
    public var shardWeight: (([Int]) -> Double)?
    /// When processes split a batch whose loss is a sum of means over different counts (no one
    /// weight per part fits), the loss of `part` as its share of the loss of `batch`: the parts'
    /// values sum to the batch's loss. Used, instead of the fit loop's loss and `shardWeight`,
    /// only when processes split batches.
    public var partLoss: ((_ part: [Int], _ batch: [Int]) throws -> Variable)?
    /// The samples a validation pass reads, in training samples, so that a time limit can keep
    /// room for the last validation before one has been timed.
    public var validationSampleCount: Int?

    /// The loss of every step so far (over every process's part of the batch).
    public internal(set) var stepLosses: [Double] = []
    /// After each validation, the steps taken before it.
    public internal(set) var validationSteps: [Int] = []
    /// Seconds spent in the all-reduce and in steps altogether, over the steps of this process.
    public internal(set) var communicationSeconds = 0.0
    public internal(set) var stepSecondsTotal = 0.0

    /// Progress goes to the reporter on process 0 only.
    var reporter: ProgressReporter? { (options.communicator?.rank ?? 0) == 0 ? progress : nil }

    public init(optimizer: any Optimizer, options: TrainingOptions, progress: ProgressReporter? = nil) {
        self.parameters = optimizer.parameters
        self.optimizer = optimizer
        self.options = options
        self.progress = progress
    }

    /// Where a run stands between two steps: all a checkpoint holds besides the parameters.
    struct RunState {
        var epoch = 1
        var batchIndex = 0
        var shuffled = false
        var order: [Int]
        var shuffleGenerator: SplitMix64
        var epochLoss = 0.0
        var epochBatches = 0
        var history = TrainingHistory()
        var best: (loss: Double, values: [Tensor])? = nil
        var epochsWithoutImprovement = 0
        var schedule: LearningRateSchedule
        var baseLearningRate: Double
        /// Seconds of the run before this process took it over.
        var elapsedBefore = 0.0
    }

    /// What the processes agree on after every step and every epoch: decided by process 0's
    /// clock (or any process's signal), so that all of them stop, plan and checkpoint alike.
    struct Agreement {
        var timeIsUp = false
        var interrupted = false
        var checkpointDue = false
        var plannedSteps: Int
    }

    public func fit(sampleCount: Int, loss: ([Int]) throws -> Variable, validationLoss: (() throws -> Double)? = nil) throws -> TrainingHistory {
        guard sampleCount > 0 else { throw RecurrentError.invalidArgument("there is nothing to train on: 0 samples") }
        guard options.batchSize > 0, options.epochs > 0 else {
            throw RecurrentError.invalidArgument("batch size and epochs must be positive (got \(options.batchSize) and \(options.epochs))")
        }
        if options.epochs == TrainingOptions.untilLimit, options.maxSteps == nil, options.maxMinutes == nil {
            throw RecurrentError.invalidArgument("a run without an epoch count needs a step or time limit")
        }
        try options.schedule.validate()
        let start = Date()
        let batchesPerEpoch = (sampleCount + options.batchSize - 1) / options.batchSize
        var budget = RunBudget(options: options, batchesPerEpoch: batchesPerEpoch, validates: validationLoss != nil,
                               validationSampleCount: validationSampleCount)
        try checkAgreementOfProcesses(sampleCount: sampleCount)
        stepLosses = []
        validationSteps = []
        var run = RunState(order: Array(0..<sampleCount), shuffleGenerator: SplitMix64(seed: options.seed),
                           schedule: options.schedule.planned(over: budget.plannedSteps(stepsDone: 0, elapsed: 0)),
                           baseLearningRate: optimizer.learningRate)
        if let resumeFrom = options.checkpoint?.resumeFrom {
            run = try resume(from: resumeFrom, sampleCount: sampleCount, budget: budget, fresh: run)
        }
        try broadcastParameters()
        let stepsBefore = run.history.steps
        let clock = RunClock(start: start, before: run.elapsedBefore)
        var sinceCheckpoint = CheckpointTimer(options.checkpoint?.every, steps: run.history.steps, elapsed: clock.elapsed)
        func votes() -> Agreement {
            var votes = Agreement(plannedSteps: budget.plannedSteps(stepsDone: run.history.steps, elapsed: clock.elapsed))
            votes.timeIsUp = budget.timeIsUp(elapsed: clock.elapsed)
            votes.interrupted = options.interruption?.reason != nil
            votes.checkpointDue = sinceCheckpoint.isDue(steps: run.history.steps, elapsed: clock.elapsed)
            return votes
        }
        var agreement = try agree(votes: votes(), budget: budget)
        run.history.limits = TrainingHistory.Limits(epochs: options.epochs == TrainingOptions.untilLimit ? nil : options.epochs,
                                                    maxSteps: options.maxSteps, maxMinutes: options.maxMinutes)

        training: while run.epoch <= options.epochs {
            if !run.shuffled {
                if options.shuffle { shuffle(&run.order, using: &run.shuffleGenerator) }
                run.shuffled = true
            }
            let batches = batchPlan?(run.order, run.epoch) ?? Batching.consecutive(run.order, batchSize: options.batchSize)
            // A limit reached inside an epoch still validates the steps taken since the last
            // validation, so that the model kept is the best of everything trained.
            var limitReached = false
            while run.batchIndex < batches.count {
                if let maxSteps = options.maxSteps, run.history.steps >= maxSteps { run.history.stopReason = .maxSteps; limitReached = true; break }
                if agreement.timeIsUp { run.history.stopReason = .maxMinutes; limitReached = true; break }
                if agreement.interrupted { try interrupt(run, clock: clock) }
                let stepStart = Date()
                if budget.isTimed { run.schedule = options.schedule.planned(over: agreement.plannedSteps) }
                let local = try computeLocal(batches[run.batchIndex], step: run.history.steps, loss: loss)
                var nextVotes = votes()
                nextVotes.checkpointDue = sinceCheckpoint.isDue(steps: run.history.steps + 1, elapsed: clock.elapsed)
                let (stepLoss, agreed) = try combine(local, votes: nextVotes)
                agreement = agreed
                guard apply(loss: stepLoss, run: &run) else { break training }
                run.batchIndex += 1
                run.epochLoss += stepLoss
                run.epochBatches += 1
                let stepSeconds = Date().timeIntervalSince(stepStart)
                stepSecondsTotal += stepSeconds
                budget.recordStep(seconds: stepSeconds)
                reporter?.step(status(run, plannedSteps: agreement.plannedSteps, clock: clock,
                                      trainLoss: run.epochLoss / Double(run.epochBatches), validation: run.history.validationLoss.last))
                if agreement.checkpointDue && run.batchIndex < batches.count {
                    try writeCheckpoint(run, clock: clock)
                    sinceCheckpoint.reset(steps: run.history.steps, elapsed: clock.elapsed)
                }
            }
            if limitReached && run.epochBatches == 0 { break training }
            let stop = try endEpoch(&run, validationLoss: validationLoss, budget: &budget, plannedSteps: agreement.plannedSteps, clock: clock)
            if limitReached || stop { break training }
            agreement = try agree(votes: votes(), budget: budget)
            if agreement.checkpointDue, run.epoch <= options.epochs {
                try writeCheckpoint(run, clock: clock)
                sinceCheckpoint.reset(steps: run.history.steps, elapsed: clock.elapsed)
            }
        }
        if run.epoch > options.epochs { run.history.stopReason = .completed }
        // The best validated parameters win over the last ones, also after a divergence.
        if let best = run.best { restore(best.values) }
        run.history.seconds = clock.elapsed
        reporter?.note(run.history.summary)
        try reportDistributedRun(steps: run.history.steps - stepsBefore)
        options.communicator?.trainingEnded()
        return run.history
    }

    /// Validates after an epoch (or a limit inside one), keeps the best parameters, and moves
    /// the run to the next epoch. Returns whether early stopping ends the run.
    private func endEpoch(_ run: inout RunState, validationLoss: (() throws -> Double)?, budget: inout RunBudget,
                          plannedSteps: Int, clock: RunClock) throws -> Bool {
        let trainLoss = run.epochLoss / Double(max(run.epochBatches, 1))
        run.history.trainLoss.append(trainLoss)
        var validation: Double? = nil
        if let validationLoss {
            let validationStart = Date()
            let measured = try GradientMode.withoutRecording { try validationLoss() }
            let seconds = Date().timeIntervalSince(validationStart)
            budget.recordValidation(seconds: seconds)
            run.history.validationSeconds += seconds
            validation = measured
            run.history.validationLoss.append(measured)
            validationSteps.append(run.history.steps)
            if measured.isFinite, measured < run.best?.loss ?? .infinity {
                run.best = (measured, parameters.map(\.value))
                run.history.bestEpoch = run.epoch
                run.epochsWithoutImprovement = 0
                try onImprovement?(run.epoch, measured)
            } else {
                run.epochsWithoutImprovement += 1
            }
        }
        reporter?.epochEnded(status(run, plannedSteps: plannedSteps, clock: clock, trainLoss: trainLoss, validation: validation))
        let epoch = run.epoch
        run.epoch += 1
        run.batchIndex = 0
        run.shuffled = false
        run.epochLoss = 0
        run.epochBatches = 0
        if let patience = options.patience, run.epochsWithoutImprovement >= patience {
            run.history.stopReason = .earlyStopping
            reporter?.note("stopping early: no improvement for \(patience) epochs; keeping epoch \(run.history.bestEpoch ?? epoch)")
            return true
        }
        return false
    }

    private func status(_ run: RunState, plannedSteps: Int, clock: RunClock, trainLoss: Double, validation: Double?) -> TrainingStatus {
        TrainingStatus(epoch: run.epoch, epochs: options.epochs == TrainingOptions.untilLimit ? 0 : options.epochs,
                       step: run.history.steps, plannedSteps: plannedSteps, trainLoss: trainLoss,
                       validationLoss: validation, elapsedSeconds: clock.elapsed)
    }

    /// Writes a checkpoint (when a path is set) and throws `TrainingInterrupted`.
    private func interrupt(_ run: RunState, clock: RunClock) throws -> Never {
        if options.checkpoint != nil { try writeCheckpoint(run, clock: clock) }
        throw TrainingInterrupted(reason: options.interruption?.reason ?? "another rank's signal",
                                  checkpointPath: options.checkpoint?.path, step: run.history.steps)
    }

    /// Ends a run whose loss or gradient is not finite. The step was not applied, so the
    /// parameters are the last good ones.
    func diverge(_ history: inout TrainingHistory, message: String) {
        history.stopReason = .diverged
        history.message = message + "; training stopped and the last good parameters were kept"
        reporter?.note(history.message ?? message)
    }

    func restore(_ values: [Tensor]) {
        for (parameter, value) in zip(parameters, values) { parameter.value = value }
    }
}

/// The run's wall time, counting the time of earlier processes that took it this far.
struct RunClock {
    let start: Date
    let before: Double
    var elapsed: Double { before + Date().timeIntervalSince(start) }
}

/// When the next periodic checkpoint is due.
struct CheckpointTimer {
    let interval: CheckpointOptions.Interval?
    private var lastSteps: Int
    private var lastElapsed: Double

    init(_ interval: CheckpointOptions.Interval?, steps: Int, elapsed: Double) {
        self.interval = interval
        lastSteps = steps
        lastElapsed = elapsed
    }

    func isDue(steps: Int, elapsed: Double) -> Bool {
        switch interval {
        case .none: return false
        case .steps(let every): return steps - lastSteps >= every
        case .minutes(let minutes): return elapsed - lastElapsed >= minutes * 60
        }
    }

    mutating func reset(steps: Int, elapsed: Double) {
        lastSteps = steps
        lastElapsed = elapsed
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
