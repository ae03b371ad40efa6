import Foundation

/// Where long work reports how it is going. The library prints nothing itself; the command line
/// hands it a `ConsoleProgress`.
public protocol ProgressReporter: AnyObject {
    /// Called after every optimization step.
    func step(_ status: TrainingStatus)
    /// Called at the end of every epoch.
    func epochEnded(_ status: TrainingStatus)
    /// A line worth telling the user (early stop, divergence, a checkpoint written).
    func note(_ message: String)
}

/// A snapshot of a training run.
public struct TrainingStatus: Sendable {
    public var epoch: Int
    /// 0 when only a step or time limit bounds the run.
    public var epochs: Int
    public var step: Int
    /// The planned number of steps (epochs x batches, or --max-steps), for the time left.
    public var plannedSteps: Int
    public var trainLoss: Double
    public var validationLoss: Double?
    public var elapsedSeconds: Double
    public var stepsPerSecond: Double { elapsedSeconds > 0 ? Double(step) / elapsedSeconds : 0 }
    public var secondsLeft: Double {
        stepsPerSecond > 0 ? Double(max(0, plannedSteps - step)) / stepsPerSecond : 0
    }
    /// "epoch 3/10", or "epoch 3" when no epoch count bounds the run.
    public var epochText: String { epochs > 0 ? "epoch \(epoch)/\(epochs)" : "epoch \(epoch)" }
}

/// Progress on standard error: a bar redrawn in place on a terminal, one plain line per epoch
/// otherwise (logs, CI, pipes).
public final class ConsoleProgress: ProgressReporter {
    let isTerminal: Bool
    let describeValidation: (Double) -> String
    var lastDraw = Date.distantPast

    /// `describeValidation` turns a validation loss into the figure users know (RMSE, bits per
    /// character, perplexity).
    public init(isTerminal: Bool = isatty(2) != 0,
                describeValidation: @escaping (Double) -> String = { String(format: "val loss %.4f", $0) }) {
        self.isTerminal = isTerminal
        self.describeValidation = describeValidation
    }

    /// Off a terminal, a plain line this often inside an epoch, so that long epochs (language
    /// models read millions of tokens per epoch) still show they advance.
    var plainLineInterval: TimeInterval = 60

    public func step(_ status: TrainingStatus) {
        guard isTerminal else {
            if lastDraw == .distantPast { lastDraw = Date() }
            guard Date().timeIntervalSince(lastDraw) >= plainLineInterval else { return }
            lastDraw = Date()
            write(status.epochText + String(format: "  step %d/%d  loss %.4f  %.1f steps/s  ", status.step,
                         status.plannedSteps, status.trainLoss, status.stepsPerSecond) + Self.duration(status.secondsLeft) + " left\n")
            return
        }
        guard Date().timeIntervalSince(lastDraw) > 0.1 || status.step == status.plannedSteps else { return }
        lastDraw = Date()
        let width = 24
        let fraction = status.plannedSteps > 0 ? min(1, Double(status.step) / Double(status.plannedSteps)) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        var line = "\r[\(bar)] " + String(format: "%3.0f%% ", fraction * 100) + status.epochText
            + String(format: " loss %.4f %.1f steps/s ", status.trainLoss, status.stepsPerSecond)
        line += Self.duration(status.secondsLeft) + " left"
        if let validation = status.validationLoss { line += " | " + describeValidation(validation) }
        write(line + "\u{1B}[K")
    }

    public func epochEnded(_ status: TrainingStatus) {
        var line = status.epochText + String(format: "  step %d  loss %.4f", status.step, status.trainLoss)
        if let validation = status.validationLoss { line += "  " + describeValidation(validation) }
        line += String(format: "  %.1f steps/s  ", status.stepsPerSecond) + Self.duration(status.secondsLeft) + " left"
        write(isTerminal ? "\r" + line + "\u{1B}[K\n" : line + "\n")
    }

    public func note(_ message: String) {
        write((isTerminal ? "\r\u{1B}[K" : "") + message + "\n")
    }

    /// Where the lines go: standard error (tests catch them here).
    var output: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }

    func write(_ text: String) {
        output(text)
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole >= 60 ? "\(whole / 60)m" + String(format: "%02d", whole % 60) + "s" : "\(whole)s"
    }
}
