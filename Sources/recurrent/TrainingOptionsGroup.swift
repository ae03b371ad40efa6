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

    @Option(help: "Passes over the training data.")
    var epochs: Int?

    @Option(help: "Stop after this many optimization steps.")
    var maxSteps: Int?

    @Option(help: "Stop after this many minutes, keeping the best model so far.")
    var maxMinutes: Double?

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
    }

    /// The fit loop's options, with the task's defaults where the user gave none.
    func trainingOptions(defaultEpochs: Int, defaultBatchSize: Int) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = epochs ?? defaultEpochs
        options.batchSize = batchSize ?? defaultBatchSize
        options.maxSteps = maxSteps
        options.maxMinutes = maxMinutes
        options.seed = seed
        return options
    }

    /// Sets the kernels' thread count.
    func applyThreads() {
        if let threads { Parallel.threadCount = threads }
    }
}
