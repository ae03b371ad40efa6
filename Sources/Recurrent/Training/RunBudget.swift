import Foundation

/// The limits of a run and what they allow: the steps the learning-rate schedule is planned
/// over, and, under a time limit, whether one more step and the last validation still fit.
///
/// Under `maxMinutes` the budget holds everything the Trainer does (steps, validation,
/// checkpoints), and a run stops early enough for its final validation to end in time. The
/// steps that fit are estimated from the measured speed (a moving average of the step time) and
/// the measured validation time (before the first validation, from `validationSampleCount`
/// samples at half a training step's time per sample: a forward pass costs about a third of a
/// step).
struct RunBudget {
    let epochs: Int
    let maxSteps: Int?
    let maxSeconds: Double?
    let batchesPerEpoch: Int
    let batchSize: Int
    let validates: Bool
    let validationSampleCount: Int?

    /// Moving average of the seconds per step (nil before the first step is timed).
    private(set) var stepSeconds: Double?
    /// The duration of the last validation.
    private(set) var validationSeconds: Double?

    init(options: TrainingOptions, batchesPerEpoch: Int, validates: Bool, validationSampleCount: Int?) {
        epochs = options.epochs
        maxSteps = options.maxSteps
        maxSeconds = options.maxMinutes.map { $0 * 60 }
        self.batchesPerEpoch = max(1, batchesPerEpoch)
        batchSize = max(1, options.batchSize)
        self.validates = validates
        self.validationSampleCount = validationSampleCount
    }

    /// The steps the epoch and step limits allow (nil: unbounded by them).
    var countedSteps: Int? {
        let byEpochs = epochs == TrainingOptions.untilLimit ? nil : epochs.multipliedReportingOverflow(by: batchesPerEpoch)
        let epochSteps = byEpochs.flatMap { $0.overflow ? nil : $0.partialValue }
        switch (epochSteps, maxSteps) {
        case let (a?, b?): return min(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        case (nil, nil): return nil
        }
    }

    /// Whether the schedule's length depends on measured time.
    var isTimed: Bool { maxSeconds != nil }

    mutating func recordStep(seconds: Double) {
        stepSeconds = stepSeconds.map { 0.9 * $0 + 0.1 * seconds } ?? seconds
    }

    mutating func recordValidation(seconds: Double) { validationSeconds = seconds }

    /// What the final validation is expected to take.
    var validationReserve: Double {
        guard validates else { return 0 }
        if let validationSeconds { return validationSeconds }
        guard let stepSeconds, let validationSampleCount else { return 0 }
        return stepSeconds / Double(batchSize) * Double(validationSampleCount) / 2
    }

    /// Before a step: whether that step and the final validation would overrun the time limit.
    func timeIsUp(elapsed: Double) -> Bool {
        guard let maxSeconds else { return false }
        return elapsed + (stepSeconds ?? 0) + validationReserve > maxSeconds
    }

    /// The total steps the run is expected to take, for the schedule and the progress line:
    /// the counted steps, or fewer when the time left (less the validations expected at each
    /// epoch's end and at the close) allows fewer at the measured speed.
    func plannedSteps(stepsDone: Int, elapsed: Double) -> Int {
        let counted = countedSteps
        guard let maxSeconds, let stepSeconds, stepSeconds > 0 else { return max(1, counted ?? Int(Int32.max)) }
        var remaining = maxSeconds - elapsed
        var steps = 0
        // Two rounds: the steps that fit decide the epoch ends to validate at, and those the steps.
        for _ in 0..<2 {
            let epochEnds = validates ? (stepsDone + steps) / batchesPerEpoch - stepsDone / batchesPerEpoch : 0
            remaining = maxSeconds - elapsed - validationReserve * Double(epochEnds + 1)
            steps = max(0, Int(remaining / stepSeconds))
        }
        let timed = stepsDone + steps
        return max(1, min(counted ?? timed, timed))
    }
}

extension LearningRateSchedule {
    /// The schedule with every `.cosineOverRun` turned into a cosine over `plannedSteps` (less
    /// the warm-up steps before it).
    func planned(over plannedSteps: Int) -> LearningRateSchedule {
        switch self {
        case .constant, .step, .cosineAnnealing:
            return self
        case .cosineOverRun(let minimum):
            return .cosineAnnealing(steps: max(1, plannedSteps), minimum: minimum)
        case .linearWarmup(let steps, let startFactor, let then):
            return .linearWarmup(steps: steps, startFactor: startFactor, then: then.planned(over: plannedSteps - steps))
        }
    }

    /// Whether the schedule's values depend on the run's planned length.
    var dependsOnRunLength: Bool {
        switch self {
        case .constant, .step, .cosineAnnealing: return false
        case .cosineOverRun: return true
        case .linearWarmup(_, _, let then): return then.dependsOnRunLength
        }
    }
}
