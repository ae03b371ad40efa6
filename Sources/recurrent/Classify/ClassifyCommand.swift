import ArgumentParser
import Foundation
import Recurrent

extension Pooling: ExpressibleByArgument {}

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Sequence classification: texts (sentiment, topics) or numeric sequences (a digit read row by row, sensor recordings).",
        subcommands: [ClassifyTrainCommand.self, ClassifyEvaluateCommand.self, ClassifyPredictCommand.self]
    )
}

struct ClassifyTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a classifier on a CSV and report test accuracy, macro-F1 and the confusion matrix.",
        discussion: """
            Each row is one sequence and its label. With --text-column, the text is split into words \
            (or characters) and read through an embedding; with --features-per-step K, every column but \
            the label's is read in order as steps of K values (784 pixel columns with K = 28 are 28 rows \
            of 28 pixels). With --sequence-column ID, each row is one step and the rows sharing an id one \
            sequence (sensor recordings); a UEA/UCR .ts file (--train X_TRAIN.ts --test X_TEST.ts) carries \
            its channels and labels. Every channel is standardised on the training rows, and each \
            sequence keeps its own length. The learning rate falls along half a cosine over the epochs, and the epoch with the lowest validation error is kept. The rows are shuffled with the seed; --test-fraction of them are the test, 10% \
            of the rest validate (the best epoch is kept). An empty label or text, a value that is not a \
            number, a row of the wrong width or a single class stop with an error naming the file, line \
            and column.
            """
    )

    @Argument(help: "The training CSV (with a header) or .ts file; the same as --train.")
    var data: String?

    @Option(name: .customLong("train"), help: "The training file: a CSV, or a UEA/UCR archive's FILE_TRAIN.ts.")
    var trainFile: String?

    @Option(name: .customLong("test"), help: "A test file laid out as the training file (the archive's FILE_TEST.ts): the report is measured on it, and no training rows are held out for the test.")
    var testFile: String?

    @Option(help: "The column holding each row's label (not for .ts files, which carry their labels).")
    var labelColumn: String?

    @Option(help: "A CSV of one step per row: the column of sequence ids; every other column but the label's is a channel.")
    var sequenceColumn: String?

    @Option(help: "The column holding each row's text.")
    var textColumn: String?

    @Option(help: "How to split text: word or char.")
    var level: Tokenizer.Level = .word

    @Option(help: "Read every other column, in order, as steps of this many values.")
    var featuresPerStep: Int?

    @Flag(help: "Read each sequence in both directions.")
    var bidirectional = false

    @Option(help: "How the recurrent outputs become one vector: last, mean or max.")
    var pooling: Pooling = .max

    @Option(help: "The fraction of rows kept for the test.")
    var testFraction: Double = 0.2

    @Option(help: "Leave out the rows with this label (repeatable).")
    var excludeLabel: [String] = []

    @Option(help: "Token vector size, for text.")
    var embeddingSize: Int?

    @Flag(help: "Weight classes by inverse frequency in the loss, for imbalanced labels.")
    var balanceClasses = false

    @Flag(help: "End with the test figures as one JSON line on standard output.")
    var json = false

    @OptionGroup var training: TrainingOptionsGroup

    /// The training file, whichever way it was given.
    var trainingPath: String { trainFile ?? data ?? "" }
    var isArchive: Bool { trainingPath.lowercased().hasSuffix(".ts") }

    func validate() throws {
        guard (data == nil) != (trainFile == nil) else { throw ValidationError("give the training file once: DATA or --train FILE") }
        if isArchive {
            guard textColumn == nil, featuresPerStep == nil, sequenceColumn == nil, labelColumn == nil else {
                throw ValidationError("a .ts file carries its channels and labels: leave out --label-column, --text-column, "
                    + "--features-per-step and --sequence-column")
            }
        } else {
            guard labelColumn != nil else { throw ValidationError("missing --label-column NAME") }
            guard [textColumn == nil, featuresPerStep == nil, sequenceColumn == nil].filter({ !$0 }).count == 1 else {
                throw ValidationError("give exactly one of --text-column NAME and --features-per-step K, or --sequence-column NAME for one step per row")
            }
        }
        if let featuresPerStep, featuresPerStep <= 0 { throw ValidationError("--features-per-step must be positive, got \(featuresPerStep)") }
        if let embeddingSize, embeddingSize <= 0 { throw ValidationError("--embedding-size must be positive, got \(embeddingSize)") }
        guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1), got \(testFraction)") }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            let labelColumn = self.labelColumn ?? ""
            let input: ClassificationInput = if isArchive {
                .archive(excludedLabels: excludeLabel)
            } else if let textColumn {
                .text(labelColumn: labelColumn, textColumn: textColumn, level: level, excludedLabels: excludeLabel)
            } else if let sequenceColumn {
                .steps(sequenceColumn: sequenceColumn, labelColumn: labelColumn, excludedLabels: excludeLabel)
            } else {
                .features(labelColumn: labelColumn, featuresPerStep: featuresPerStep ?? 1, excludedLabels: excludeLabel)
            }
            let rows = try ClassificationRows(path: trainingPath, input: input, requireLabels: true)
            let test = try testFile.map { try ClassificationRows(path: $0, input: rows.input, requireLabels: true) }
            let configuration = self.configuration()
            let options = try training.trainingOptions(defaultEpochs: 30, defaultBatchSize: 32)
            note("\(rows.count) rows from \(trainingPath)\(test.map { ", \($0.count) test rows from \($0.path)" } ?? ""); "
                + describe(configuration, rows: rows))
            let (classifier, report, history) = try Classifier.train(
                rows: rows, test: test, configuration: configuration, options: options,
                progress: ConsoleProgress(describeValidation: { String(format: "val error %.4f", $0) }))
            try classifier.save(to: training.output)
            print("wrote \(training.output)")
            printReport(report, title: "Test\(testFile.map { " \($0)" } ?? "") (\(report.count) rows)", json: json)
            if history.stopReason == .diverged {
                note(history.message ?? "training diverged")
                throw ExitCode.failure
            }
        }
    }

    func configuration() -> ClassificationConfiguration {
        var c = ClassificationConfiguration()
        training.apply(to: &c)
        c.embeddingSize = embeddingSize ?? c.embeddingSize
        c.bidirectional = bidirectional
        c.pooling = pooling
        c.testFraction = testFraction
        c.balanceClasses = balanceClasses
        return c
    }

    func describe(_ c: ClassificationConfiguration, rows: ClassificationRows) -> String {
        let input = rows.input
        let lengths = rows.values.map { $0.count / max(1, input.featuresPerStep) }
        let reading = input.isText
            ? "\(level.rawValue)s of \"\(input.textColumn ?? "")\" -> embedding \(c.embeddingSize)"
            : "\(lengths.min() ?? 0) to \(lengths.max() ?? 0) steps of \(input.featuresPerStep) values"
        return "\(reading) -> \(c.bidirectional ? "bidirectional " : "")\(c.cell.rawValue.uppercased()) \(c.hiddenSize)"
            + " x \(c.numLayers) -> \(c.pooling.rawValue) pooling -> labels of \"\(input.labelColumn)\""
    }
}

struct ClassifyEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Accuracy, macro-F1 and the confusion matrix of a classifier on a labelled CSV.",
        discussion: """
            The CSV needs the columns the model was trained on. Rows with a label excluded in training \
            are left out; any other label the model never saw is an error naming its line.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "The labelled CSV or .ts file, laid out as the training file.")
    var data: String

    @Flag(help: "End with the figures as one JSON line on standard output.")
    var json = false

    func run() throws {
        try reportingErrors {
            let classifier = try Classifier(contentsOf: model)
            let rows = try ClassificationRows(path: data, input: classifier.input, requireLabels: true)
            try DistributedLaunch.splittingWork("evaluation") { communicator in
                let report = try classifier.evaluate(rows, communicator: communicator)
                printReport(report, title: "\(data) (\(report.count) rows)", json: json)
            }
        }
    }
}

struct ClassifyPredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "The label and the class probabilities of each text or CSV row.",
        discussion: """
            Prints one line per input: the label, its probability and every class's probability. With \
            --json, each line is {"label": .., "probabilities": {label: p, ...}} (with "line" for rows \
            of --input). Words the model never saw read as its unknown token. When the CSV has the label \
            column, rows with a label excluded in training are skipped, as in evaluate.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "Texts to classify (for a text classifier).")
    var texts: [String] = []

    @Option(help: "A CSV with the model's text or feature columns (a label column is not needed).")
    var input: String?

    @Flag(help: "Print JSON lines.")
    var json = false

    func validate() throws {
        guard !texts.isEmpty || input != nil else { throw ValidationError("give texts or --input DATA.csv") }
    }

    func run() throws {
        try reportingErrors {
            let classifier = try Classifier(contentsOf: model)
            let rows = try input.map { try ClassificationRows(path: $0, input: classifier.input, requireLabels: false) }
            try DistributedLaunch.splittingWork("prediction") { communicator in
                var predictions: [(prediction: ClassPrediction, line: Int?)] = []
                if !texts.isEmpty { predictions += try classifier.predict(texts: texts).map { ($0, nil) } }
                if let rows { predictions += try zip(classifier.predict(rows, communicator: communicator), rows.lineNumbers).map { ($0, $1) } }
                printPredictions(predictions, labels: classifier.labels)
            }
        }
    }

    func printPredictions(_ predictions: [(prediction: ClassPrediction, line: Int?)], labels: [String]) {
        for (prediction, line) in predictions {
            if json {
                let probabilities = zip(labels, prediction.probabilities).map { "\(jsonText($0)): \(String(format: "%.4f", $1))" }
                let lineField = line.map { "\"line\": \($0), " } ?? ""
                print("{\(lineField)\"label\": \(jsonText(prediction.label)), \"probabilities\": {\(probabilities.joined(separator: ", "))}}")
            } else {
                let best = prediction.probabilities.max() ?? 0
                let all = zip(labels, prediction.probabilities).map { "\($0) \(String(format: "%.3f", $1))" }.joined(separator: ", ")
                print((line.map { "line \($0): " } ?? "") + "\(prediction.label) \(String(format: "%.3f", best))  (\(all))")
            }
        }
    }
}

/// Accuracy, macro-F1 and the confusion matrix as text, and with `json` the figures as the last
/// line of standard output.
func printReport(_ report: ClassificationReport, title: String, json: Bool) {
    print("\(title): accuracy \(String(format: "%.4f", report.accuracy)), macro-F1 \(String(format: "%.4f", report.macroF1))")
    for line in report.confusion.table(labels: report.labels) { print("  " + line) }
    if json { print(report.json) }
}

func jsonText(_ text: String) -> String {
    String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
}
