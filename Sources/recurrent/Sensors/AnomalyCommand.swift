import ArgumentParser
import Foundation
import Recurrent

struct AnomalyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomaly",
        abstract: "Anomaly detection in a sensor or ECG signal: a forecaster trained on normal data scores every step.",
        subcommands: [AnomalyTrainCommand.self, AnomalyDetectCommand.self]
    )
}

struct AnomalyTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a detector on the normal part of a signal.",
        discussion: """
            A GRU reads the signal standardised on its normal steps and forecasts a Gaussian for the \
            next value; a step's surprise is its error in forecast standard deviations, and its score \
            the mean squared surprise of the last --smoothing steps. Normal steps are all of them, \
            those before --train-until, and with --labels those labelled 0. The default threshold of \
            detect is the highest score over the normal steps. Labels other than 0 and 1, a constant \
            signal, or fewer normal steps than one window stop with an error naming the file.
            """
    )

    @Argument(help: "The CSV with the signal (with a header).")
    var data: String

    @Option(help: "The column of the signal (default: the file's one column of values, besides --labels).")
    var column: String?

    @Option(help: "A column of 0 (normal) and 1 (anomalous): only steps labelled 0 train.")
    var labels: String?

    @Option(help: "Train on the data rows before this one (0-based), taken as normal.")
    var trainUntil: Int?

    @Option(help: "Steps in each training window.")
    var window: Int = 100

    @Option(help: "Steps whose squared surprises make up a score.")
    var smoothing: Int = 20

    @OptionGroup var training: TrainingOptionsGroup

    func validate() throws {
        guard window > 20 else { throw ValidationError("--window must exceed the 20 burn-in steps, got \(window)") }
        guard smoothing > 0 else { throw ValidationError("--smoothing must be positive, got \(smoothing)") }
        if let trainUntil, trainUntil <= 0 { throw ValidationError("--train-until must be positive, got \(trainUntil)") }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            let table = try CSVTable(path: data)
            let column = try self.column ?? valueColumn(of: table, excluding: Set([labels].compactMap { $0 }),
                                                        otherwise: { "give --column NAME, the signal\($0)" })
            let signal = try LabelledSignal(table: table, column: column, labelColumn: labels)
            let normal = signal.values.indices.map { t in
                (trainUntil.map { t < $0 } ?? true) && (signal.labels?[t] ?? 0) == 0
            }
            var configuration = AnomalyConfiguration()
            configuration.window = window
            configuration.smoothing = smoothing
            configuration.mergeGap = smoothing
            configuration.cell = training.cell ?? configuration.cell
            configuration.hiddenSize = training.hidden ?? configuration.hiddenSize
            configuration.learningRate = training.learningRate ?? configuration.learningRate
            note("\(normal.filter { $0 }.count) of \(signal.values.count) steps of \"\(column)\" taken as normal; "
                + "\(configuration.cell.rawValue.uppercased()) \(configuration.hiddenSize) -> Gaussian forecast of the next step")
            let (detector, history) = try AnomalyDetector.train(
                signal: signal, normal: normal, configuration: configuration,
                options: try training.trainingOptions(defaultEpochs: 60, defaultBatchSize: 32), progress: ConsoleProgress())
            try detector.save(to: training.output)
            print("wrote \(training.output)")
            print(String(format: "threshold %.4f (the highest score over the normal steps)", detector.threshold))
            if history.stopReason == .diverged {
                note(history.message ?? "training diverged")
                throw ExitCode.failure
            }
        }
    }
}

struct AnomalyDetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Score every step of a signal, print the anomalous ranges, and with labels the detection figures.",
        discussion: """
            Each range is printed as its first and last data row (0-based) and its CSV lines, with its \
            peak score. With --labels, precision, recall and F1 point-wise and point-adjusted (a \
            labelled range found by any flagged step counts in full), and whether the highest score \
            lies within 100 steps of a labelled anomaly (the UCR anomaly archive's rule). --plot draws \
            the signal with the flagged (and labelled) ranges, and the score with the threshold.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "The CSV with the signal.")
    var data: String

    @Option(help: "The column of the signal (default: the one the model was trained on).")
    var column: String?

    @Option(help: "A column of 0/1 labels to measure the detection against.")
    var labels: String?

    @Option(help: "Flag steps scoring above this (default: the model's, the highest score over its normal steps).")
    var threshold: Double?

    @Flag(help: "End with the ranges and figures as one JSON line on standard output.")
    var json = false

    @Option(help: "Write an SVG chart of the signal, the score and the ranges.")
    var plot: String?

    func validate() throws {
        if let threshold, !(threshold >= 0 && threshold.isFinite) { throw ValidationError("--threshold must be a number >= 0, got \(threshold)") }
    }

    func run() throws {
        try reportingErrors {
            let detector = try AnomalyDetector(contentsOf: model)
            let signal = try LabelledSignal(table: CSVTable(path: data), column: column ?? detector.column, labelColumn: labels)
            let start = Date()
            let scores = try detector.score(signal.values)
            note(String(format: "scored %d steps in %.2f s", signal.values.count, Date().timeIntervalSince(start)))
            let threshold = self.threshold ?? detector.threshold
            let ranges = detector.ranges(scores.scores, threshold: threshold)
            print(String(format: "%d anomalous range%@ above %.4f", ranges.count, ranges.count == 1 ? "" : "s", threshold))
            for range in ranges {
                print(String(format: "  rows %d-%d (lines %d-%d): peak score %.3f at row %d", range.start, range.end,
                             signal.lineNumbers[range.start], signal.lineNumbers[range.end], range.peakScore, range.peak))
            }
            var evaluation: AnomalyEvaluation? = nil
            if let labels = signal.labels {
                let e = AnomalyEvaluation(ranges: ranges, scores: scores.scores, labels: labels, smoothing: detector.configuration.smoothing)
                print(String(format: "point-wise: precision %.4f, recall %.4f, F1 %.4f", e.pointwise.precision, e.pointwise.recall, e.pointwise.f1))
                print(String(format: "point-adjusted: precision %.4f, recall %.4f, F1 %.4f",
                             e.pointAdjusted.precision, e.pointAdjusted.recall, e.pointAdjusted.f1))
                print("top score at row \(e.topLocation): \(e.topHit ? "within" : "not within") 100 steps of a labelled anomaly")
                evaluation = e
            }
            if let plot {
                try AnomalyChart(signal: signal, scores: scores.scores, threshold: threshold, ranges: ranges).document.write(to: plot)
                note("wrote \(plot)")
            }
            if json {
                let list = ranges.map { String(format: "{\"start\": %d, \"end\": %d, \"peak\": %d, \"peak_score\": %.4f}",
                                               $0.start, $0.end, $0.peak, $0.peakScore) }
                print("{\"threshold\": \(String(format: "%.4f", threshold)), \"ranges\": [\(list.joined(separator: ", "))]"
                    + (evaluation.map { ", \"evaluation\": \($0.json)" } ?? "") + "}")
            }
        }
    }
}
