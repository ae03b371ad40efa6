import ArgumentParser
import Foundation
import Recurrent
import RecurrentDistributed

extension Seq2SeqFormat: ExpressibleByArgument {}
extension StressMarks: ExpressibleByArgument {}
extension AttentionKind: ExpressibleByArgument {}
extension LuongScore: ExpressibleByArgument {}

struct Seq2SeqCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seq2seq",
        abstract: "Sequence to sequence: an encoder-decoder with attention and beam search (pronunciations, translations).",
        subcommands: [Seq2SeqTrainCommand.self, Seq2SeqEvaluateCommand.self, Seq2SeqTranslateCommand.self]
    )
}

/// How a pairs file is read, shared by train and evaluate.
struct PairsFormatOptions: ParsableArguments {
    @Option(help: "tsv (source TAB target per line) or cmudict (word, then its phonemes; word(2) another pronunciation; # comments).")
    var format: Seq2SeqFormat = .tsv
}

/// Decoding options shared by evaluate and translate.
struct DecodingOptionsGroup: ParsableArguments {
    @Option(help: "Beam width (1: greedy decoding).")
    var beam: Int = 5

    @Option(help: "Rank finished hypotheses by log-probability / length^A (0: raw log-probability).")
    var lengthNormalization: Double = 1

    func validate() throws {
        guard beam >= 1 else { throw ValidationError("--beam must be at least 1, got \(beam)") }
        guard lengthNormalization >= 0, lengthNormalization.isFinite else {
            throw ValidationError("--length-normalization must be 0 or more, got \(lengthNormalization)")
        }
    }

    var options: DecodingOptions {
        var options = DecodingOptions(beamWidth: beam)
        options.lengthNormalization = lengthNormalization
        return options
    }
}

struct Seq2SeqTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an encoder-decoder on pairs and report the validation figures.",
        discussion: """
            A seeded 5% of the distinct sources (all pairs of a source together) validate: the epoch with \
            the lowest validation loss is kept, and after each epoch a fixed 500 of them are decoded \
            greedily to show the token and word error rates. The run ends with exact match, token error \
            rate and BLEU of the validation sources decoded with --beam. cmudict reads lowercase characters \
            into phonemes, without the stress digits unless --stress keep (AH0 -> AH). A line without a TAB \
            (tsv), an empty source or target, or a word without phonemes stops with an error naming the \
            line. The loss curves are drawn beside the model (MODEL without .model + -loss.svg; --plot to choose).
            """
    )

    @Argument(help: "The training pairs.")
    var pairs: String

    @OptionGroup var format: PairsFormatOptions

    @Option(help: "Source tokens for tsv: char or word.")
    var sourceLevel: Tokenizer.Level?

    @Option(help: "Target tokens for tsv: char or word.")
    var targetLevel: Tokenizer.Level?

    @Option(help: "cmudict stress digits: drop (AH0, AH1 and AH2 read as AH: the 39 phonemes of published G2P figures) or keep.")
    var stress: StressMarks = .drop

    @Option(help: "Attention: bahdanau, luong or none (the encoder's final state only).")
    var attention: AttentionKind = .luong

    @Option(help: "Luong scores: dot or general.")
    var luongScore: LuongScore = .general

    @Flag(inversion: .prefixedNo, help: "Read the source in both directions.")
    var bidirectional = true

    @Option(help: "Token vector size.")
    var embeddingSize: Int?

    @Option(help: "Chance of feeding the model's own previous prediction in training (scheduled sampling).")
    var samplingProbability: Double = 0

    @Option(help: "Beam width for the final validation figures.")
    var beam: Int = 5

    @Option(help: "Where to draw the loss curves (SVG).")
    var plot: String?

    @Flag(help: "End with the validation figures as one JSON line on standard output.")
    var json = false

    @OptionGroup var training: TrainingOptionsGroup

    func validate() throws {
        if format.format == .cmudict, sourceLevel.map({ $0 != .char }) ?? false || targetLevel.map({ $0 != .word }) ?? false {
            throw ValidationError("cmudict reads characters into phonemes: leave out --source-level and --target-level")
        }
        for level in [sourceLevel, targetLevel].compactMap({ $0 }) where level == .byte {
            throw ValidationError("token levels are char or word, got byte")
        }
        guard (0...1).contains(samplingProbability) else { throw ValidationError("--sampling-probability must be in [0, 1], got \(samplingProbability)") }
        guard beam >= 1 else { throw ValidationError("--beam must be at least 1, got \(beam)") }
        if let embeddingSize, embeddingSize <= 0 { throw ValidationError("--embedding-size must be positive, got \(embeddingSize)") }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            let input = format.format == .cmudict ? Seq2SeqInput.cmudict(stress: stress)
                : Seq2SeqInput(sourceTokenizer: Tokenizer(level: sourceLevel ?? .char), targetTokenizer: Tokenizer(level: targetLevel ?? .char))
            let pairs = try Seq2SeqPairs(contentsOf: self.pairs, format: format.format, stress: stress)
            let configuration = self.configuration()
            let options = try training.trainingOptions(defaultEpochs: 12, defaultBatchSize: 64)
            note("\(pairs.count) pairs from \(self.pairs); \(describe(configuration))")
            let (translator, report) = try Translator.train(
                pairs: pairs, input: input, configuration: configuration, options: options,
                progress: ConsoleProgress(describeValidation: { String(format: "val loss %.4f", $0) }))
            try translator.save(to: training.output)
            print("wrote \(training.output): \(translator.sourceVocabulary.count) source and \(translator.targetVocabulary.count) "
                  + "target tokens, \(translator.model.layer.parameterCount) parameters; \(report.trainingPairs) training pairs, "
                  + String(format: "%.1f minutes", report.history.seconds / 60))
            try drawLosses(report, to: plot ?? TextTrainCommand.plotPath(beside: training.output))
            if report.validationPairs > 0 {
                let validation = Translator.split(pairs, validationFraction: configuration.validationFraction, seed: options.seed).validation
                let score = try translator.evaluate(pairs, options: DecodingOptions(beamWidth: beam), indices: validation)
                printScore(score, title: "Validation (\(score.pairs) sources, beam \(beam))", json: json)
            }
            if report.history.stopReason == .diverged {
                note(report.history.message ?? "training diverged")
                throw ExitCode.failure
            }
        }
    }

    func configuration() -> Seq2SeqConfiguration {
        var c = Seq2SeqConfiguration()
        training.apply(to: &c)
        c.embeddingSize = embeddingSize ?? c.embeddingSize
        c.bidirectionalEncoder = bidirectional
        c.attention = attention
        c.luongScore = luongScore
        c.samplingProbability = samplingProbability
        return c
    }

    func describe(_ c: Seq2SeqConfiguration) -> String {
        let attention = c.attention == .luong ? "Luong \(c.luongScore.rawValue) attention" : c.attention == .bahdanau ? "Bahdanau attention" : "no attention"
        return "embedding \(c.embeddingSize) -> \(c.bidirectionalEncoder ? "bidirectional " : "")\(c.cell.rawValue.uppercased()) "
            + "\(c.hiddenSize) x \(c.numLayers) encoder -> decoder with \(attention)"
    }

    func drawLosses(_ report: Seq2SeqTrainingReport, to path: String) throws {
        let history = report.history
        let epochs = { (values: [Double]) in values.indices.map { Double($0 + 1) } }
        let losses = LineChart(title: "Training (cross-entropy per target token)", xLabel: "epoch", yLabel: "loss", series: [
            LineChart.Series(name: "train loss", x: epochs(history.trainLoss), y: history.trainLoss),
            LineChart.Series(name: "validation loss", x: epochs(history.validationLoss), y: history.validationLoss),
        ], logarithmicY: true)
        let rates = LineChart(title: "Validation error rates (greedy)", xLabel: "epoch", yLabel: "%", series: [
            LineChart.Series(name: "token error rate", x: epochs(report.validationTokenErrorRates), y: report.validationTokenErrorRates.map { $0 * 100 }),
            LineChart.Series(name: "word error rate", x: epochs(report.validationWordErrorRates), y: report.validationWordErrorRates.map { $0 * 100 }),
        ])
        try SVGDocument(panels: [.line(losses), .line(rates)]).write(to: path)
        note("wrote \(path)")
    }
}

struct Seq2SeqEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Exact match, token error rate and BLEU of a model on pairs.",
        discussion: """
            Each distinct source is translated once and scored against all its targets: exact when the \
            output equals any of them, otherwise against the closest (fewest edits). The token error rate \
            is the edit distance over the reference length, summed over the corpus (the phoneme error rate \
            on cmudict); BLEU is corpus BLEU-4 with the brevity penalty. Source tokens the model never saw \
            read as its unknown token.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "The pairs to score.")
    var pairs: String

    @OptionGroup var format: PairsFormatOptions
    @OptionGroup var decoding: DecodingOptionsGroup

    @Flag(help: "End with the figures as one JSON line on standard output.")
    var json = false

    func run() throws {
        try reportingErrors {
            let translator = try Translator(contentsOf: model)
            let pairs = try Seq2SeqPairs(contentsOf: self.pairs, format: format.format, stress: translator.input.stress)
            try DistributedLaunch.splittingWork("evaluation") { communicator in
                let score = try translator.evaluate(pairs, options: decoding.options, communicator: communicator)
                printScore(score, title: "\(self.pairs) (\(score.pairs) sources, beam \(decoding.beam))", json: json)
            }
        }
    }
}

struct Seq2SeqTranslateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate a text, or each line of standard input.",
        discussion: """
            Source tokens the model never saw read as its unknown token; sources longer than any seen in \
            training are translated all the same. --plot-attention draws the attention weights of each \
            translation as a heat map (output tokens down, source tokens across).
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "The text to translate (default: each line of standard input).")
    var text: String?

    @OptionGroup var decoding: DecodingOptionsGroup

    @Option(help: "Draw the attention weights to this SVG file.")
    var plotAttention: String?

    func run() throws {
        try reportingErrors {
            let translator = try Translator(contentsOf: model)
            var translations: [Translation] = []
            if let text {
                translations = try translator.translate([text], options: decoding.options)
                print(translations[0].text)
            } else if MPICommunicator.isLaunchedWithSeveralProcesses {
                try DistributedLaunch.splittingWork("translation") { communicator in
                    try translateSplit(translator, over: communicator)
                }
                return
            } else {
                while let line = readLine() {
                    if line.allSatisfy(\.isWhitespace) { print(""); continue }
                    let translation = try translator.translate([line], options: decoding.options)[0]
                    print(translation.text)
                    translations.append(translation)
                }
            }
            if let plotAttention { try drawAttention(translations, to: plotAttention) }
        }
    }

    /// Under mpirun: rank 0 reads standard input (mpirun gives it to rank 0 alone) and sends
    /// its lines to every rank; each rank translates its share, one line at a time as a single
    /// process does, and rank 0 prints them in order.
    func translateSplit(_ translator: Translator, over communicator: MPICommunicator?) throws {
        guard let communicator else { return }
        var input = communicator.rank == 0 ? Array(FileHandle.standardInput.readDataToEndOfFile()) : []
        try communicator.broadcast(&input, from: 0)
        var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
        if input.last == UInt8(ascii: "\n") || input.isEmpty { lines.removeLast() }
        let translations = try communicator.mapInOrder(lines) { part in
            try part.map { line -> Translation? in try line.allSatisfy(\.isWhitespace) ? nil : translator.translate([line], options: decoding.options)[0] }
        }
        for translation in translations { print(translation?.text ?? "") }
        if let plotAttention, communicator.rank == 0 { try drawAttention(translations.compactMap { $0 }, to: plotAttention) }
    }

    func drawAttention(_ translations: [Translation], to path: String) throws {
        let maps = translations.prefix(12).filter { !$0.attention.isEmpty }
        guard !maps.isEmpty else { throw RecurrentError.invalidArgument("this model has no attention to draw (it was trained with --attention none)") }
        let panels = maps.map { translation in
            SVGDocument.Panel.heatMap(HeatMap(
                title: "Attention: \(translation.sourceText) -> \(translation.text)",
                values: translation.attention, rowLabels: translation.tokens, columnLabels: translation.sourceTokens))
        }
        try SVGDocument(panels: panels).write(to: path)
        note("wrote \(path)")
    }
}

/// The figures as text, and with `json` as the last line of standard output.
func printScore(_ score: Seq2SeqScore, title: String, json: Bool) {
    print("\(title): " + String(format: "exact match %.2f%% (word error rate %.2f%%), token error rate %.2f%%, BLEU %.4f",
                                100 * score.exactMatch, 100 * (1 - score.exactMatch), 100 * score.tokenErrorRate, score.bleu))
    if json { print(score.json) }
}
