import ArgumentParser
import Foundation
import Recurrent

/// What `music` reads and writes: ABC tunes or piano rolls of four-part chorales.
enum MusicFormat: String, ExpressibleByArgument, CaseIterable {
    case abc, pianoroll
}

struct MusicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "music",
        abstract: "Music: tunes in ABC notation, and four-part chorales as piano rolls; train, evaluate, generate ABC and MIDI.",
        subcommands: [MusicTrainCommand.self, MusicEvaluateCommand.self, MusicGenerateCommand.self]
    )
}

struct MusicTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model of tunes (ABC files) or of chorales (MusicXML, --format pianoroll).",
        discussion: """
            abc: every tune of the .abc files (or of the .abc files in folders) is read as tokens (meter, \
            key, pitches, lengths in eighth notes, bars, repeats, endings...); every 20th tune is held out \
            (--validation-fraction 0.05) and the epoch of lowest held-out cross-entropy is kept. A tune \
            without K: or with an unreadable note stops the run with its file, line and column, unless \
            --skip-unreadable (then each is noted on standard error). Defaults: a 2-layer LSTM of 256 units, \
            embedding 32, dropout 0.2, batches of 32 tunes of similar lengths, Adam 0.002, 10 epochs.
            pianoroll: the soprano, alto, tenor and bass of each four-part score (.mxl, .musicxml, .xml) are \
            quantised to steps of an eighth note (--step 1/16: sixteenths) over the 88 keys, in C major or \
            C minor (--transpose none: as written); every 10th chorale is held out; the model reads the roll \
            up to each step and gives every key's probability at the next (independent Bernoulli outputs), \
            trained by the negative log-likelihood per step. Defaults: an LSTM of 128 units, dropout 0.2, \
            batches of 16 chorales, Adam 0.002, 100 epochs.
            """
    )

    @Argument(help: "ABC files or folders of .abc files (abc); MusicXML files (.mxl, .musicxml, .xml) or folders of them (pianoroll).")
    var paths: [String]

    @Option(help: "abc (tunes) or pianoroll (chorales from MusicXML).")
    var format: MusicFormat = .abc

    @Option(help: "Fraction of the tunes or chorales held out for validation, in [0, 0.5): every (1/F)-th one (default 0.05 for abc, 0.1 for pianoroll).")
    var validationFraction: Double?

    @Option(help: "abc: embedding size of the tokens.")
    var embedding: Int?

    @Flag(help: "abc: keep chord symbols (\"Am\") as tokens; by default they are dropped.")
    var keepChordSymbols = false

    @Flag(help: "abc: leave out tunes that do not read, noting each, instead of stopping.")
    var skipUnreadable = false

    @Option(help: "Also write the encoded training and held-out data as JSON (vocabulary and token ids, or piano rolls), for other tools.")
    var exportData: String?

    @OptionGroup var pianoRoll: PianoRollOptionsGroup

    @OptionGroup var training: TrainingOptionsGroup

    func validate() throws {
        if let validationFraction, !(0..<0.5).contains(validationFraction) {
            throw ValidationError("--validation-fraction must be in [0, 0.5), got \(validationFraction)")
        }
        if let embedding, embedding < 1 { throw ValidationError("--embedding must be positive, got \(embedding)") }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            switch format {
            case .abc: try trainTunes()
            case .pianoroll: try trainChorales()
            }
        }
    }

    func trainTunes() throws {
        var configuration = TuneModelConfiguration()
        configuration.tokenizer = ABCTokenizer(keepChordSymbols: keepChordSymbols)
        configuration.validationFraction = validationFraction ?? 0.05
        training.apply(to: &configuration)
        configuration.embeddingSize = embedding ?? configuration.embeddingSize
        let options = try training.trainingOptions(defaultEpochs: 10, defaultBatchSize: 32)

        let collection = try TuneCollection(paths: paths, skippingUnreadable: skipUnreadable)
        for line in collection.skipped { note("skipped: \(line)") }
        let (trainingTunes, validationTunes) = collection.split(validationFraction: configuration.validationFraction)
        let encoded = EncodedTunes(training: trainingTunes, validation: validationTunes, tokenizer: configuration.tokenizer)
        note("\(collection.tunes.count) tunes read\(collection.skipped.isEmpty ? "" : ", \(collection.skipped.count) skipped"): "
             + "\(trainingTunes.count) for training, \(validationTunes.count) held out; \(encoded.vocabulary.count) tokens in the vocabulary")
        if let exportData { try AtomicFile.write(try JSONEncoder().encode(encoded), to: exportData) }
        let describe: (Double) -> String = { String(format: "held-out %.4f nats per token", $0) }
        let (tuneModel, report) = try TuneModel.train(encoded, configuration: configuration, options: options,
                                                      progress: ConsoleProgress(describeValidation: describe))
        try tuneModel.model.save(to: training.output)
        print("wrote \(training.output): \(tuneModel.vocabulary.count) tokens, \(tuneModel.network.parameterCount) parameters; "
              + "\(report.trainingTokens) training tokens, \(report.history.stepsAndSpeed)")
        if let validation = report.validation {
            print(String(format: "held-out tunes: %.4f nats per token (%.4f bits) over %d tokens", validation.crossEntropy, validation.bitsPerToken, validation.tokens))
        }
        if report.history.stopReason == .diverged { throw RecurrentError.diverged(report.history.message ?? "training diverged") }
    }
}

struct MusicEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Cross-entropy per token of tunes (abc models) or negative log-likelihood per step of chorales (piano-roll models).",
        discussion: "Tokens the model never saw count as its unknown token."
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "ABC files or folders (tune models); MusicXML files or folders (piano-roll models).")
    var paths: [String]

    @Flag(help: "End with one JSON line of the figures.")
    var json = false

    func run() throws {
        try reportingErrors {
            if try ChoraleCommandSupport.isPianoRollModel(model) {
                try ChoraleCommandSupport.evaluate(model: model, paths: paths, json: json)
                return
            }
            let tuneModel = try TuneModel(contentsOf: model)
            let collection = try TuneCollection(paths: paths)
            try DistributedLaunch.splittingWork("evaluation") { communicator in
                let evaluation = try tuneModel.evaluate(collection.tunes, communicator: communicator)
                print(String(format: "%d tunes: %.4f nats per token (%.4f bits) over %d tokens", collection.tunes.count,
                             evaluation.crossEntropy, evaluation.bitsPerToken, evaluation.tokens))
                if json { print("{\"tunes\": \(collection.tunes.count), \"tokens\": \(evaluation.tokens), \"cross_entropy\": \(evaluation.crossEntropy)}") }
            }
        }
    }
}

struct MusicGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write new tunes as ABC (and MIDI), or a chorale as MIDI and a piano-roll picture.",
        discussion: """
            abc: the tunes are written to -o (standard output without it), numbered X:1, X:2, ...; with \
            --midi, the tunes that read as ABC are played one after another in a type-1 Standard MIDI File. \
            The meter and key are sampled unless --meter and --key fix them. A summary (tunes that read, \
            bars of the meter's length) goes to standard error.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "abc or pianoroll: must match the model (a check).")
    var format: MusicFormat?

    @Option(help: "abc: the meter, such as 6/8, 4/4, C.")
    var meter: String?

    @Option(help: "abc: the key, such as D, Dmaj, Ador, Em.")
    var key: String?

    @Option(help: "How many tunes (abc) or chorales (pianoroll).")
    var count: Int = 1

    @Option(parsing: .unconditional, help: "Sampling temperature, above 0: lower is more predictable.")
    var temperature: Double = 1

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "abc: stop a tune after this many tokens; pianoroll: the steps of a chorale.")
    var length: Int?

    @Option(help: "Quarter notes per minute in the MIDI file.")
    var tempo: Double = 120

    @Option(name: .shortAndLong, help: "abc: the ABC file to write (default: standard output); pianoroll: the piano-roll SVG.")
    var output: String?

    @Option(help: "The MIDI file to write.")
    var midi: String?

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        if let length, length < 1 { throw ValidationError("--length must be positive, got \(length)") }
        if !(tempo > 0 && tempo.isFinite) { throw ValidationError("--tempo must be positive, got \(tempo)") }
    }

    func run() throws {
        try reportingErrors {
            let isPianoRoll = try ChoraleCommandSupport.isPianoRollModel(model)
            if let format, (format == .pianoroll) != isPianoRoll {
                throw RecurrentError.invalidFile(path: model, reason: "a \(isPianoRoll ? "pianoroll" : "abc") model, not \(format.rawValue)")
            }
            if isPianoRoll {
                try ChoraleCommandSupport.generate(model: model, count: count, temperature: temperature, seed: seed, steps: length,
                                                   tempo: tempo, svg: output, midi: midi)
                return
            }
            try generateTunes()
        }
    }

    func generateTunes() throws {
        let tuneModel = try TuneModel(contentsOf: model)
        let tunes = try tuneModel.generate(count: count, meter: meter, key: key, sampling: SamplingOptions(temperature: temperature),
                                           seed: seed, maximumTokens: length ?? 1000)
        let text = tunes.map(\.abc).joined(separator: "\n")
        let read = tunes.compactMap(\.tune)
        // Both files are ready before either is written, so a path that cannot be written leaves neither half done.
        let midiData = midi.map { _ in TuneModel.midiFile(read, quarterNotesPerMinute: tempo).data() }
        if let midi, let midiData { try AtomicFile.write(midiData, to: midi) }
        if let output { try AtomicFile.write(Data(text.utf8), to: output) } else { print(text, terminator: "") }
        let bars = read.flatMap { $0.barLengths().filter { $0.expected != nil && !$0.isSectionEdge } }
        let fullBars = bars.filter(\.isFull).count
        note("\(tunes.count) tune\(tunes.count == 1 ? "" : "s"): \(read.count) read as ABC; "
             + "\(fullBars) of \(bars.count) bars away from section edges have the meter's length"
             + (tunes.contains(where: \.truncated) ? "; \(tunes.filter(\.truncated).count) stopped at the length limit" : ""))
        for tune in tunes { if let error = tune.readError { note("does not read: \(error)") } }
        if let output { note("wrote \(output)") }
        if let midi { note("wrote \(midi): \(read.count) tune\(read.count == 1 ? "" : "s")") }
    }
}
