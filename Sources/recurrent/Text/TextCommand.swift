import ArgumentParser
import Foundation
import Recurrent


struct TextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Character and word language models: train on books, evaluate, generate text, complete sentences.",
        subcommands: [TextTrainCommand.self, TextEvaluateCommand.self, TextGenerateCommand.self, TextCompleteCommand.self]
    )
}

struct TextTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a language model on text files.",
        discussion: """
            PATH is a UTF-8 text file or a folder of .txt files. Whole files are held out for validation, \
            spread through the name order (--validation-fraction 0.1: every tenth file); a single file \
            holds out its last lines. Training reads the text in order, in --batch-size rows that each \
            continue their own stretch of text, --seq-len steps at a time, with the recurrent state \
            carried from one window to the next (truncated backpropagation through time) and the \
            gradient's global norm clipped to 1. Defaults: a 2-layer LSTM of 256 units, embedding 64 \
            (char, byte) or the hidden size (word, so that the output layer shares the embedding table), \
            batch 32, Adam at 0.002, 3 epochs.
            """
    )

    @Argument(help: "Text files, or folders of .txt files.")
    var paths: [String]

    @Option(help: "Tokens: char (Unicode scalars), byte (UTF-8 bytes) or word (punctuation apart).")
    var level: Tokenizer.Level

    @Option(help: "Embedding size (default: 64 for char and byte, the hidden size for word).")
    var embedding: Int?

    @Option(help: "Steps of truncated backpropagation through time.")
    var seqLen: Int = 100

    @Option(help: "Fraction of the files held out for validation, in [0, 1).")
    var validationFraction: Double = 0.1

    @Option(help: "Word level: the vocabulary's size cap; rarer words become <unk>.")
    var maxVocabulary: Int = 10_000

    @Flag(help: "Word level: lower-case the text first.")
    var lowercase = false

    @Option(help: "Where to draw the loss curves (SVG; default: beside the model, MODEL without .model + -loss.svg).")
    var plot: String?

    @OptionGroup var training: TrainingOptionsGroup

    func validate() throws {
        if seqLen < 1 { throw ValidationError("--seq-len must be positive, got \(seqLen)") }
        if let embedding, embedding < 1 { throw ValidationError("--embedding must be positive, got \(embedding)") }
        if !(0..<1).contains(validationFraction) { throw ValidationError("--validation-fraction must be in [0, 1), got \(validationFraction)") }
        if maxVocabulary < 2 { throw ValidationError("--max-vocabulary must be at least 2, got \(maxVocabulary)") }
        if let plot, URL(fileURLWithPath: plot).standardized == URL(fileURLWithPath: training.output).standardized {
            throw ValidationError("--plot must not be the model file \(plot)")
        }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            var configuration = LanguageModelConfiguration()
            configuration.tokenizer = Tokenizer(level: level, lowercase: level == .word && lowercase)
            configuration.maximumVocabulary = level == .word ? maxVocabulary : nil
            training.apply(to: &configuration)
            configuration.embeddingSize = embedding ?? (level == .word ? configuration.hiddenSize : 64)
            configuration.sequenceLength = seqLen
            let options = try training.trainingOptions(defaultEpochs: 3, defaultBatchSize: 32)

            let corpus = try TextCorpus(paths: paths)
            let (trainingTexts, validationTexts) = try corpus.split(validationFraction: validationFraction)
            note("\(corpus.documents.count) file\(corpus.documents.count == 1 ? "" : "s"): \(trainingTexts.count) for training, "
                 + "\(validationTexts.count) for validation")
            let describe: (Double) -> String = { LanguageModelEvaluation(tokens: 0, crossEntropy: $0, level: level).summary }
            let progress = ConsoleProgress(describeValidation: { "val " + describe($0) })
            let (languageModel, report) = try LanguageModel.train(
                training: trainingTexts, validation: validationTexts, configuration: configuration, options: options, progress: progress)
            try languageModel.model.save(to: training.output)
            let plotPath = plot ?? Self.plotPath(beside: training.output)
            try Self.lossChart(report, level: level, title: "Training \(URL(fileURLWithPath: training.output).lastPathComponent) (\(level.rawValue) level)").write(to: plotPath)
            let tied = languageModel.network.architecture.tiedWeights ? ", output tied to the embedding" : ""
            print("wrote \(training.output): \(languageModel.vocabulary.count) tokens in the vocabulary, "
                  + "\(languageModel.network.parameterCount) parameters\(tied); \(report.trainingTokens) training tokens, "
                  + "\(report.history.steps) steps in \(String(format: "%.1f s (validation %.1f s)", report.history.seconds, report.validationSeconds))")
            if let validation = report.validation {
                print("validation: \(validation.summary) (\(validation.tokens) tokens, cross-entropy \(String(format: "%.4f", validation.crossEntropy)) nats)")
            }
            print("wrote \(plotPath): the loss curves")
            if report.history.stopReason == .diverged {
                throw RecurrentError.diverged(report.history.message ?? "training diverged")
            }
        }
    }
}

extension TextTrainCommand {
    /// "bard.model" -> "bard-loss.svg", beside it.
    static func plotPath(beside model: String) -> String {
        let url = URL(fileURLWithPath: model)
        let stem = url.pathExtension == "model" ? url.deletingPathExtension().lastPathComponent : url.lastPathComponent
        return url.deletingLastPathComponent().appendingPathComponent(stem + "-loss.svg").path
    }

    /// The training loss of every update (averaged over blocks of steps, so the curve reads)
    /// and every validation, in bits per character (char, byte) or nats per token.
    static func lossChart(_ report: LanguageModelReport, level: Tokenizer.Level, title: String) -> SVGDocument {
        let scale = level == .word ? 1 : 1 / log(2.0)
        let unit = level == .word ? "cross-entropy (nats per token)" : "bits per \(level == .byte ? "byte" : "character")"
        let losses = report.stepLosses, block = max(1, losses.count / 200)
        let blocks = stride(from: 0, to: losses.count, by: block).map { losses[$0..<min(losses.count, $0 + block)] }
        let blockMeans = blocks.map { $0.reduce(0, +) / Double($0.count) * scale }
        let blockEnds = blocks.map { Double($0.endIndex) }
        var chart = LineChart(title: title, xLabel: "update", yLabel: unit)
        chart.add(LineChart.Series(name: block == 1 ? "training loss" : "training loss (mean of \(block) updates)", x: blockEnds, y: blockMeans))
        chart.add(LineChart.Series(name: "validation", x: report.validations.map { Double($0.step) },
                                   y: report.validations.map { $0.crossEntropy * scale }, markers: true))
        return SVGDocument(panels: [.line(chart)])
    }
}

struct TextEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a language model on a text: cross-entropy, bits per character or perplexity.",
        discussion: "Tokens the model never saw count as its unknown token."
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "A UTF-8 text file.")
    var textFile: String

    @Flag(help: "End with one JSON line: tokens, cross_entropy (nats per token), bits_per_char or perplexity.")
    var json = false

    func run() throws {
        try reportingErrors {
            let languageModel = try LanguageModel(contentsOf: model)
            let text = try TextCorpus.readUTF8(textFile)
            try DistributedLaunch.splittingWork("evaluation") { communicator in
                let evaluation: LanguageModelEvaluation
                do {
                    evaluation = try languageModel.evaluate(text, communicator: communicator)
                } catch RecurrentError.invalidArgument(let reason) {
                    throw RecurrentError.invalidFile(path: textFile, reason: reason)
                }
                print("\(textFile): \(evaluation.summary), cross-entropy \(String(format: "%.4f", evaluation.crossEntropy)) nats per token over \(evaluation.tokens) tokens")
                if json { print(evaluation.jsonLine) }
            }
        }
    }
}

struct TextGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a language model, printed as it is produced.",
        discussion: """
            The prompt is printed first, then the continuation. Without a prompt the model starts as at a \
            new line (char, byte) or a new sentence (word). The unknown token is never produced.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Text to continue.")
    var prompt: String = ""

    @Option(help: "Tokens to generate.")
    var length: Int = 500

    // Unconditional, so that "--temperature -1" reaches the check and its message.
    @Option(parsing: .unconditional, help: "Sampling temperature, above 0: lower is more predictable.")
    var temperature: Double = 1

    @Option(help: "Sample among the K most likely tokens only.")
    var topK: Int?

    @Option(help: "Sample among the most likely tokens whose probabilities add up to P (nucleus sampling).")
    var topP: Double?

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    func validate() throws {
        if length < 0 { throw ValidationError("--length must not be negative, got \(length)") }
    }

    func run() throws {
        try reportingErrors {
            let sampling = SamplingOptions(temperature: temperature, topK: topK, topP: topP)
            try sampling.validate()
            let languageModel = try LanguageModel(contentsOf: model)
            let output = FileHandle.standardOutput
            _ = try languageModel.encode(prompt)
            output.write(Data(prompt.utf8))
            try languageModel.generate(prompt: prompt, length: length, sampling: sampling, seed: seed) { output.write(Data($0.utf8)) }
            output.write(Data("\n".utf8))
        }
    }
}

struct TextCompleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complete",
        abstract: "The most likely next words (word level) or completions of the current word (char level).",
        discussion: """
            A word model reads the text as whole words and gives the next word; a character model \
            completes the word the text ends in (after a space: the next word). Without TEXT, reads \
            lines from standard input and completes each.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "The text to complete (none: interactive, one line at a time).")
    var text: String?

    @Option(help: "How many candidates.")
    var top: Int = 5

    @Flag(help: "One JSON line per text: {\"text\": ..., \"completions\": [{\"text\": ..., \"probability\": ...}]}.")
    var json = false

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1, got \(top)") }
    }

    func run() throws {
        try reportingErrors {
            let languageModel = try LanguageModel(contentsOf: model)
            if let text {
                try show(text, completions: try languageModel.complete(text, count: top))
                return
            }
            let interactive = isatty(0) != 0
            if interactive { note("type text and press return for completions; end with Ctrl-D") }
            while true {
                if interactive { FileHandle.standardError.write(Data("> ".utf8)) }
                guard let line = readLine() else { break }
                do {
                    try show(line, completions: try languageModel.complete(line, count: top))
                } catch let error as RecurrentError {
                    note("recurrent: error: \(error.description)")
                }
            }
        }
    }

    /// Line breaks, tabs and other control characters escaped, so each candidate stays on its line.
    static func visible(_ text: String) -> String {
        text.unicodeScalars.map { scalar in
            switch scalar {
            case "\n": return "\\n"
            case "\t": return "\\t"
            case _ where scalar.properties.generalCategory == .control: return "\\u{\(String(scalar.value, radix: 16))}"
            default: return String(scalar)
            }
        }.joined()
    }

    func show(_ text: String, completions: [Completion]) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            struct Line: Encodable { var text: String; var completions: [Completion] }
            print(String(decoding: try encoder.encode(Line(text: text, completions: completions)), as: UTF8.self))
            return
        }
        for completion in completions {
            let shown = Self.visible(completion.text)
            print(shown + String(repeating: " ", count: max(1, 20 - shown.count)) + String(format: "%.4f", completion.probability))
        }
    }
}
