import ArgumentParser
import Foundation
import Recurrent

extension CellKind: ExpressibleByArgument {}
extension Tokenizer.Level: ExpressibleByArgument {}

/// The options every `train` verb shares. Each is optional: nil means the task's own default,
/// so that `forecast`, `text` and `classify` can pick what suits them.
struct TrainingOptionsGroup: ParsableArguments {
    @Option(help: "Recurrent cell: lstm, gru or rnn.")
    var cell: CellKind?

    @Option(help: "Hidden units per layer.")
    var hidden: Int?

    @Option(help: "Stacked recurrent layers.")
    var layers: Int?

    @Option(help: "Dropout between recurrent layers and before the output, in [0, 1).")
    var dropout: Float?

    @Option(help: "Sequences per mini-batch.")
    var batchSize: Int?

    @Option(help: "Adam's learning rate.")
    var learningRate: Double?

    @Option(help: "Passes over the training data (without it, --max-steps or --max-minutes alone bound the run).")
    var epochs: Int?

    @Option(help: "Stop after this many optimization steps; the first limit reached stops the run.")
    var maxSteps: Int?

    @Option(help: "Stop after this many minutes, validation included, keeping the best model so far.")
    var maxMinutes: Double?

    @Option(help: ArgumentHelp("Write a checkpoint every N steps (500) or N minutes (10m); SIGINT and SIGTERM write one too.",
                               valueName: "steps|minutes"))
    var checkpointEvery: CheckpointInterval?

    @Option(help: "The checkpoint file (default: the model's path with .checkpoint appended).")
    var checkpoint: String?

    @Option(help: ArgumentHelp("Continue the run a checkpoint holds, with the options it was started with.", valueName: "checkpoint"))
    var resume: String?

    @Option(help: "Random seed: the same seed and thread count give the same model.")
    var seed: UInt64 = 0

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    @Option(name: .shortAndLong, help: "Where to write the model.")
    var output: String

    /// Sets the network choices that were given on the command line; the others keep the values
    /// `configuration` already holds (the task's defaults).
    func apply<Configuration: RecurrentHyperparameters>(to configuration: inout Configuration) {
        configuration.cell = cell ?? configuration.cell
        configuration.hiddenSize = hidden ?? configuration.hiddenSize
        configuration.numLayers = layers ?? configuration.numLayers
        configuration.dropout = dropout ?? configuration.dropout
        configuration.learningRate = learningRate ?? configuration.learningRate
    }

    func validate() throws {
        for (value, name) in [(hidden, "--hidden"), (layers, "--layers"), (batchSize, "--batch-size"), (epochs, "--epochs"),
                              (maxSteps, "--max-steps"), (threads, "--threads")] {
            if let value, value <= 0 { throw ValidationError("\(name) must be positive, got \(value)") }
        }
        if let dropout, !(0..<1).contains(dropout) { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be positive, got \(learningRate)")
        }
        if let maxMinutes, !(maxMinutes > 0) { throw ValidationError("--max-minutes must be positive, got \(maxMinutes)") }
        if let checkpoint, URL(fileURLWithPath: checkpoint).standardized == URL(fileURLWithPath: output).standardized {
            throw ValidationError("--checkpoint must not be the model file \(checkpoint)")
        }
    }

    /// The checkpoint file this run writes.
    var checkpointPath: String { checkpoint ?? output + ".checkpoint" }

    /// The fit loop's options, with the task's defaults where the user gave none. Checks first
    /// that the model and the checkpoint can be written and that a checkpoint to resume from is
    /// whole, so that a run never trains for nothing; then routes SIGINT and SIGTERM to a
    /// checkpoint, and joins the processes of an `mpirun` launch.
    func trainingOptions(defaultEpochs: Int, defaultBatchSize: Int) throws -> TrainingOptions {
        var options = TrainingOptions()
        // A step or time limit given alone bounds the run by itself.
        options.epochs = epochs ?? (maxSteps != nil || maxMinutes != nil ? TrainingOptions.untilLimit : defaultEpochs)
        options.batchSize = batchSize ?? defaultBatchSize
        options.maxSteps = maxSteps
        options.maxMinutes = maxMinutes
        options.seed = seed
        try checkWritable(output)
        try checkWritable(checkpointPath)
        if let resume { _ = try CheckpointFile.notes(at: resume) }
        options.checkpoint = CheckpointOptions(path: checkpointPath, every: checkpointEvery?.interval, resumeFrom: resume)
        options.interruption = SignalInterruption.shared.interruption
        options.communicator = try DistributedLaunch.communicator()
        return options
    }

    /// Sets the kernels' thread count.
    func applyThreads() {
        if let threads { Parallel.threadCount = threads }
    }
}

/// `--checkpoint-every`: "500" (steps) or "10m" (minutes).
struct CheckpointInterval: ExpressibleByArgument {
    let interval: CheckpointOptions.Interval

    init?(argument: String) {
        if argument.hasSuffix("m"), let minutes = Double(argument.dropLast()), minutes > 0, minutes.isFinite {
            interval = .minutes(minutes)
        } else if let steps = Int(argument), steps > 0 {
            interval = .steps(steps)
        } else {
            return nil
        }
    }
}
