import Foundation

/// How a training run goes: one set of options for every task and every `train` verb.
public struct TrainingOptions: Codable, Sendable {
    /// Passes over the training data; `TrainingOptions.untilLimit` leaves the run to `maxSteps`
    /// and `maxMinutes` alone.
    public var epochs: Int = 20
    public var batchSize: Int = 32
    /// Stop after this many optimization steps, whatever the epochs.
    public var maxSteps: Int? = nil
    /// Stop after this much wall time, validation included, keeping the best model so far.
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
    /// `.cosineOverRun` is planned over the steps the limits allow (see `Trainer`).
    public var schedule: LearningRateSchedule = .constant
    /// Shuffle the samples every epoch. Off, batches come in order (0..<B, B..<2B, ...), which
    /// truncated backpropagation through time needs to carry state from one batch to the next.
    public var shuffle: Bool = true
    /// Where and how often checkpoints are written, and the one to resume from (nil: none).
    public var checkpoint: CheckpointOptions? = nil
    /// Raised from outside (a signal handler) to stop at the next step: the Trainer writes a
    /// checkpoint to `checkpoint.path` and throws `TrainingInterrupted`.
    public var interruption: TrainingInterruption? = nil
    /// The processes that train together, each on its share of every batch (nil: this one alone).
    public var communicator: (any Communicator)? = nil

    /// `epochs` for a run bounded by `maxSteps` or `maxMinutes` alone.
    public static let untilLimit = Int.max

    public init() {}

    // The interruption flag and the communicator belong to the process, not to a record.
    enum CodingKeys: String, CodingKey {
        case epochs, batchSize, maxSteps, maxMinutes, seed, clipNorm, clipValue, patience, schedule, shuffle, checkpoint
    }
}

/// Checkpoints of a run: the parameters, the optimizer's state, the schedule's position, the
/// random generators, the data order and position, the best model so far and the history, in
/// one file written by a temporary name and a rename.
public struct CheckpointOptions: Codable, Sendable, Equatable {
    public enum Interval: Codable, Sendable, Equatable, CustomStringConvertible {
        case steps(Int)
        case minutes(Double)

        public var description: String {
            switch self {
            case .steps(let steps): return "\(steps) step\(steps == 1 ? "" : "s")"
            case .minutes(let minutes): return String(format: "%g min", minutes)
            }
        }
    }

    /// The checkpoint file, written at every interval and when the run is interrupted.
    public var path: String
    /// nil: only when interrupted.
    public var every: Interval?
    /// A checkpoint to continue from.
    public var resumeFrom: String?
    /// Strings stored in the checkpoint's metadata for its writer (the command line keeps its
    /// arguments here, to name an option changed on resume).
    public var notes: [String: String]

    public init(path: String, every: Interval? = nil, resumeFrom: String? = nil, notes: [String: String] = [:]) {
        self.path = path
        self.every = every
        self.resumeFrom = resumeFrom
        self.notes = notes
    }
}

/// A stop requested from outside the training loop (SIGINT, SIGTERM), seen at the next step.
public final class TrainingInterruption: @unchecked Sendable {
    private let lock = NSLock()
    private var requested: String?

    public init() {}

    /// Asks the run to stop; `reason` names what asked ("SIGINT").
    public func request(_ reason: String) {
        lock.lock()
        if requested == nil { requested = reason }
        lock.unlock()
    }

    /// What asked the run to stop, if anything has.
    public var reason: String? {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }
}

/// Thrown by `Trainer.fit` when an interruption stopped the run after writing a checkpoint.
public struct TrainingInterrupted: Error, CustomStringConvertible, Sendable {
    /// What asked for the stop ("SIGINT").
    public var reason: String
    /// The checkpoint written, and the step it holds.
    public var checkpointPath: String?
    public var step: Int

    public var description: String {
        "interrupted by \(reason) at step \(step)"
            + (checkpointPath.map { "; checkpoint written to \($0): continue with --resume \($0)" } ?? "; no checkpoint path was set")
    }
}

/// Why a run ended.
public enum StopReason: String, Codable, Sendable {
    case completed, maxSteps, maxMinutes, earlyStopping, diverged
}

/// The record of a run, stored in model files and checkpoints.
public struct TrainingHistory: Codable, Sendable, Equatable {
    public var trainLoss: [Double] = []
    public var validationLoss: [Double] = []
    /// The 1-based epoch whose parameters were kept (best validation loss), if validated.
    public var bestEpoch: Int? = nil
    public var steps: Int = 0
    /// Wall time of the run, validation included; a resumed run counts the time before too.
    public var seconds: Double = 0
    /// The part of `seconds` spent validating.
    public var validationSeconds: Double = 0
    public var stopReason: StopReason = .completed
    /// For a diverged run: what happened, for the user.
    public var message: String? = nil
    /// The limits the run had, for the summary line: steps and minutes (nil: none), epochs.
    public var limits: Limits? = nil

    public struct Limits: Codable, Sendable, Equatable {
        public var epochs: Int?
        public var maxSteps: Int?
        public var maxMinutes: Double?
    }

    public init() {}

    /// "180 steps in 290.5 s (0.63 steps/s of training)": the rate leaves validation out, as
    /// training loops elsewhere time it.
    public var stepsAndSpeed: String {
        let training = max(seconds - validationSeconds, 1e-9)
        return "\(steps) steps in " + String(format: "%.1f s (%.2f steps/s of training)", seconds, Double(steps) / training)
    }

    /// One line saying how the run ended and which limit stopped it, such as "stopped by the
    /// step limit of 1500, reached first, at step 1500, epoch 12, after 3.1 min (validation 0.2 min)".
    public var summary: String {
        let epochs = trainLoss.count
        let place = "at step \(steps), epoch \(epochs)" + String(format: ", after %.1f min (validation %.1f min)", seconds / 60, validationSeconds / 60)
        switch stopReason {
        case .completed:
            return "completed: all \(epochs) epoch\(epochs == 1 ? "" : "s") (the epoch limit), \(place)"
        case .maxSteps:
            return "stopped by the step limit of \(limits?.maxSteps.map(String.init) ?? "?"), reached first, \(place)"
        case .maxMinutes:
            return "stopped by the time limit of \(limits?.maxMinutes.map { String(format: "%g min", $0) } ?? "?"), reached first, \(place)"
        case .earlyStopping:
            return "stopped early: the validation loss stopped improving, \(place)"
        case .diverged:
            return "stopped: \(message ?? "the loss diverged"), \(place)"
        }
    }

    enum CodingKeys: String, CodingKey {
        case trainLoss, validationLoss, bestEpoch, steps, seconds, validationSeconds, stopReason, message, limits
    }

    // Fields added later may be absent from older records.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        trainLoss = try container.decodeIfPresent([Double].self, forKey: .trainLoss) ?? []
        validationLoss = try container.decodeIfPresent([Double].self, forKey: .validationLoss) ?? []
        bestEpoch = try container.decodeIfPresent(Int.self, forKey: .bestEpoch)
        steps = try container.decodeIfPresent(Int.self, forKey: .steps) ?? 0
        seconds = try container.decodeIfPresent(Double.self, forKey: .seconds) ?? 0
        validationSeconds = try container.decodeIfPresent(Double.self, forKey: .validationSeconds) ?? 0
        stopReason = try container.decodeIfPresent(StopReason.self, forKey: .stopReason) ?? .completed
        message = try container.decodeIfPresent(String.self, forKey: .message)
        limits = try container.decodeIfPresent(Limits.self, forKey: .limits)
    }
}
