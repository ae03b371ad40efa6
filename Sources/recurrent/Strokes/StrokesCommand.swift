import ArgumentParser
import Foundation
import Recurrent

struct StrokesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strokes",
        abstract: "Pen strokes: learn to write characters from SVG drawings (KanjiVG), and draw new ones.",
        subcommands: [StrokesTrainCommand.self, StrokesGenerateCommand.self, StrokesEvaluateCommand.self]
    )
}

struct StrokesTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a stroke model on SVG drawings, one character per file.",
        discussion: """
            Each SVG's paths are its strokes in order (KanjiVG: 04e00.svg draws U+4E00); Bezier curves are \
            sampled and simplified (--epsilon units) and turned into stroke-5 steps (dx, dy, pen down, pen \
            up, end). Base forms train; variants of the same characters (04e00-Kaisho.svg) are held out, or \
            every 20th drawing when there are none. The model reads the steps and the character's embedding \
            and gives a mixture of bivariate Gaussians for the next offset and the pen's next state. A file \
            without stroke paths stops the run naming it, unless --skip-unreadable. Defaults: LSTM 256, \
            20 Gaussians, embedding 32, batches of 64, Adam 0.001, 10 epochs.
            """
    )

    @Argument(help: "SVG files or folders of .svg files.")
    var paths: [String]

    @Option(help: "Gaussians in the mixture.")
    var components: Int = 20

    @Option(help: "Character embedding size.")
    var embedding: Int = 32

    @Flag(help: "Do not condition on the character.")
    var unconditional = false

    @Flag(help: "Keep the last epoch's weights rather than those best on the held-out drawings (which are then measured only at the end).")
    var keepLast = false

    @Flag(help: "Start the recurrent state from zeros rather than from the character's embedding.")
    var zeroInitialState = false

    @Option(help: "Simplification tolerance (Ramer-Douglas-Peucker), in the SVG's units.")
    var epsilon: Double = 1

    @Flag(help: "Leave out files that do not read, noting each, instead of stopping.")
    var skipUnreadable = false

    @Option(help: "Also write the stroke-5 training and held-out sequences as JSON, for other tools.")
    var exportData: String?

    @OptionGroup var training: TrainingOptionsGroup

    func validate() throws {
        if !(1...1024).contains(components) { throw ValidationError("--components must be in 1...1024, got \(components)") }
        if embedding < 1 { throw ValidationError("--embedding must be positive, got \(embedding)") }
        if !(epsilon >= 0 && epsilon.isFinite) { throw ValidationError("--epsilon must be 0 or more, got \(epsilon)") }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            var configuration = StrokeModelConfiguration()
            training.apply(to: &configuration)
            configuration.componentCount = components
            configuration.embeddingSize = embedding
            configuration.conditional = !unconditional
            configuration.initialStateFromCharacter = !zeroInitialState
            configuration.epsilon = epsilon
            let options = try training.trainingOptions(defaultEpochs: 10, defaultBatchSize: 64)
            let (drawings, skipped) = try StrokeDrawing.read(paths: paths, epsilon: epsilon, skippingUnreadable: skipUnreadable)
            for line in skipped { note("skipped: \(line)") }
            let data = try StrokeDataset(drawings: drawings)
            note("\(drawings.count) drawings read\(skipped.isEmpty ? "" : ", \(skipped.count) skipped"): \(data.training.count) for training, "
                 + "\(data.validation.count) held out; \(data.characters.count) characters; offsets scaled by \(String(format: "%.3f", data.scale))")
            if let exportData {
                let export = StrokeExport(characterCount: configuration.conditional ? data.characters.count : 0,
                                          initialStateFromCharacter: configuration.conditional && configuration.initialStateFromCharacter,
                                          training: data.training.map { .init(character: $0.character, steps: $0.steps) },
                                          validation: data.validation.map { .init(character: $0.character, steps: $0.steps) })
                try AtomicFile.write(try JSONEncoder().encode(export), to: exportData)
            }
            let progress = ConsoleProgress(describeValidation: { String(format: "held-out %.4f nats per point", $0) })
            let (strokeModel, history, validation) = try StrokeModel.train(data, configuration: configuration, options: options,
                                                                           keepingLastEpoch: keepLast, progress: progress)
            try strokeModel.model.save(to: training.output)
            print("wrote \(training.output): \(strokeModel.network.parameterCount) parameters; \(history.stepsAndSpeed)")
            if let validation { print(String(format: "held-out drawings: %.4f nats per point (negative log-likelihood per stroke-5 step)", validation)) }
            if history.stopReason == .diverged { throw RecurrentError.diverged(history.message ?? "training diverged") }
        }
    }
}

/// The stroke-5 sequences of a run, as `--export-data` writes them for scripts/music_torch.py.
private struct StrokeExport: Encodable {
    struct Drawing: Encodable {
        var character: Int
        var steps: [[Float]]
    }
    var characterCount: Int
    var initialStateFromCharacter: Bool
    var training: [Drawing]
    var validation: [Drawing]
}

struct StrokesGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Draw characters with a stroke model into a grid (SVG).",
        discussion: "Without --condition, the characters are drawn at random from those the model learnt; with it, each of its characters in turn."
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "How many drawings.")
    var count: Int = 12

    @Option(parsing: .unconditional, help: "Sampling temperature, above 0 (sketch-rnn's: the weights sharpen, the spreads shrink).")
    var temperature: Double = 0.4

    @Option(help: "The character(s) to draw, taken in turn.")
    var condition: String?

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Drawings per row.")
    var columns: Int = 6

    @Flag(help: "Start the pen where the character's training drawings start (their mean first offset) instead of where the model samples.")
    var firstOffsetFromData = false

    @Option(name: .shortAndLong, help: "The SVG file to write.")
    var output: String

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        if columns < 1 { throw ValidationError("--columns must be at least 1, got \(columns)") }
    }

    func run() throws {
        try reportingErrors {
            let strokeModel = try StrokeModel(contentsOf: model)
            let known = Dictionary(uniqueKeysWithValues: strokeModel.characters.enumerated().map { ($1, $0) })
            var requested: [Int]
            if let condition {
                let wanted = condition.map(String.init)
                guard !wanted.isEmpty else { throw RecurrentError.invalidArgument("--condition is empty") }
                if let unknown = wanted.first(where: { known[$0] == nil }) {
                    throw RecurrentError.invalidArgument("--condition \(unknown): the model never learnt to draw it (it knows \(strokeModel.characters.count) characters)")
                }
                requested = (0..<count).map { known[wanted[$0 % wanted.count]] ?? 0 }
            } else {
                var rng = SplitMix64(seed: seed &+ 0x5eed)
                requested = (0..<count).map { _ in Int(rng.next() % UInt64(strokeModel.characters.count)) }
            }
            let drawings = try strokeModel.generate(characters: requested, temperature: temperature, seed: seed,
                                                   firstOffsetFromData: firstOffsetFromData)
            let labels = requested.map { strokeModel.characters[$0] }
            try StrokeGridPicture(drawings: drawings, labels: labels, columns: columns).write(to: output)
            note("\(drawings.count) drawings, \(drawings.map(\.count).reduce(0, +)) strokes; wrote \(output)")
        }
    }
}

struct StrokesEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Draw every character a stroke model knows and say how often the drawing looks most like the one asked for.",
        discussion: """
            Each drawing is compared with the reference drawings (the base forms among the SVG files: those \
            the model trained on) by the symmetric Chamfer distance after moving and scaling each drawing to \
            a unit box; a hit is a drawing whose nearest reference is the character asked for. Chance is 1 \
            in the number of characters.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "SVG files or folders holding a reference drawing of every character the model knows.")
    var references: [String]

    @Option(parsing: .unconditional, help: "Sampling temperature, above 0.")
    var temperature: Double = 0.2

    @Option(help: "Drawings per character.")
    var samples: Int = 1

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(help: "Start the pen where the character's training drawings start (their mean first offset) instead of where the model samples.")
    var firstOffsetFromData = false

    @Option(help: "Also write the drawings as a grid (SVG), each labelled with the asked-for and the nearest character.")
    var grid: String?

    func validate() throws {
        if samples < 1 { throw ValidationError("--samples must be at least 1, got \(samples)") }
    }

    func run() throws {
        try reportingErrors {
            let strokeModel = try StrokeModel(contentsOf: model)
            let (drawings, skipped) = try StrokeDrawing.read(paths: references, epsilon: strokeModel.epsilon, skippingUnreadable: true)
            if !skipped.isEmpty { note("\(skipped.count) files skipped: \(skipped[0])") }
            let (score, asked, generated) = try strokeModel.nearestReferenceScore(references: drawings, temperature: temperature,
                                                                                   samplesPerCharacter: samples, seed: seed,
                                                                                   firstOffsetFromData: firstOffsetFromData)
            let n = asked.count
            print("asked-for character is the nearest reference in \(score.hits) of \(n) drawings "
                  + "(chance: 1 in \(score.referenceCount)); among the nearest 5 in \(score.hits(within: 5)) of \(n); "
                  + "median rank \(score.ranks.sorted()[n / 2] + 1) of \(score.referenceCount)")
            if let grid {
                let labels = zip(asked, score.nearest).map { "\(strokeModel.characters[$0]) → \(strokeModel.characters[$1])" }
                try StrokeGridPicture(drawings: generated, labels: labels, columns: 12).write(to: grid)
                note("wrote \(grid)")
            }
        }
    }
}
