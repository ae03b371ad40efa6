import Foundation

/// What a language model is made of and how it reads text. Stored in the model file.
public struct LanguageModelConfiguration: Codable, Sendable {
    public var tokenizer = Tokenizer(level: .char)
    /// The vocabulary's size cap, the unknown token included (nil: every training token).
    public var maximumVocabulary: Int? = nil
    public var cell: CellKind = .lstm
    public var embeddingSize = 64
    public var hiddenSize = 256
    public var numLayers = 2
    public var dropout: Float = 0
    /// Steps of truncated backpropagation through time: the length of each training window.
    public var sequenceLength = 100
    public var learningRate = 0.002
    /// Share the embedding table with the output layer when the embedding and hidden sizes agree.
    public var tieWeights = true

    public init() {}

    public func validate() throws {
        for (value, name) in [(embeddingSize, "embedding size"), (hiddenSize, "hidden size"), (numLayers, "layer count"),
                              (sequenceLength, "sequence length")] where value < 1 {
            throw RecurrentError.invalidArgument("the \(name) must be positive, got \(value)")
        }
        if let maximumVocabulary, maximumVocabulary < 2 {
            throw RecurrentError.invalidArgument("the vocabulary cap must leave room beside the unknown token, got \(maximumVocabulary)")
        }
    }
}

/// Cross-entropy of a text under a model, in the units people quote.
public struct LanguageModelEvaluation: Codable, Sendable {
    /// Tokens predicted.
    public var tokens: Int
    /// Mean negative log-likelihood, in nats per token.
    public var crossEntropy: Double
    public var level: Tokenizer.Level

    public init(tokens: Int, crossEntropy: Double, level: Tokenizer.Level) {
        self.tokens = tokens
        self.crossEntropy = crossEntropy
        self.level = level
    }

    /// Bits per character (per byte at byte level); nil at word level.
    public var bitsPerCharacter: Double? { level == .word ? nil : crossEntropy / log(2) }
    /// e^cross-entropy; word level only.
    public var perplexity: Double? { level == .word ? exp(crossEntropy) : nil }

    /// "1.234 bits per character" or "perplexity 123.4".
    public var summary: String {
        if let perplexity { return String(format: "perplexity %.2f", perplexity) }
        return String(format: "%.4f bits per %@", bitsPerCharacter ?? 0, level == .byte ? "byte" : "character")
    }

    /// One JSON line: {"tokens": N, "cross_entropy": .., "bits_per_char": ..} or "perplexity".
    public var jsonLine: String {
        var fields = ["\"tokens\": \(tokens)", "\"cross_entropy\": \(crossEntropy)"]
        if let bitsPerCharacter { fields.append("\"bits_per_char\": \(bitsPerCharacter)") }
        if let perplexity { fields.append("\"perplexity\": \(perplexity)") }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

public struct LanguageModelReport: Sendable {
    public var history: TrainingHistory
    public var trainingTokens: Int
    /// On the validation text, with the model kept (nil without validation text).
    public var validation: LanguageModelEvaluation?
    /// The training loss (nats per token) of every update, in order.
    public var stepLosses: [Double]
    /// Each validation: the number of updates before it and the cross-entropy (nats per token).
    public var validations: [(step: Int, crossEntropy: Double)]
    /// Wall time spent validating, part of `history.seconds`.
    public var validationSeconds: Double
}

/// The recurrent state a language model's rows carry between training windows, for checkpoints.
struct LanguageModelTrainingState: Codable {
    var hasState: Bool
    var hasCell: Bool

    static func save(_ state: RecurrentLayer.State?) throws -> TrainingTaskState {
        var tensors: [String: Tensor] = [:]
        if let state {
            tensors["hidden"] = state.hidden.value
            if let cell = state.cell { tensors["cell"] = cell.value }
        }
        return try TrainingTaskState(LanguageModelTrainingState(hasState: state != nil, hasCell: state?.cell != nil), tensors: tensors)
    }

    static func restore(_ saved: TrainingTaskState) throws -> RecurrentLayer.State? {
        let flags = try saved.decode(LanguageModelTrainingState.self)
        guard flags.hasState else { return nil }
        return RecurrentLayer.State(hidden: Variable(try saved.tensor("hidden")), cell: flags.hasCell ? Variable(try saved.tensor("cell")) : nil)
    }
}

/// A character-, byte- or word-level language model: the network, its tokenizer and its
/// vocabulary, trained by truncated backpropagation through time.
public final class LanguageModel {
    public let model: Model
    public let network: LanguageModelNetwork
    public let configuration: LanguageModelConfiguration
    public let vocabulary: Vocabulary
    public var tokenizer: Tokenizer { configuration.tokenizer }

    init(model: Model, network: LanguageModelNetwork, configuration: LanguageModelConfiguration, vocabulary: Vocabulary) {
        self.model = model
        self.network = network
        self.configuration = configuration
        self.vocabulary = vocabulary
    }

    /// Loads a model written by `train` and `model.save(to:)`.
    public convenience init(contentsOf path: String) throws {
        let model = try Model(contentsOf: path)
        try model.requireTask("language-model", path: path)
        guard let network = model.layer as? LanguageModelNetwork else {
            throw RecurrentError.invalidFile(path: path, reason: "the language model's network is not an embedding, a recurrent stack and a decoder")
        }
        guard let configuration = try model.metadata("language_model", as: LanguageModelConfiguration.self),
              let vocabulary = try model.metadata("vocabulary", as: Vocabulary.self) else {
            throw RecurrentError.invalidFile(path: path, reason: "the language model has no tokenizer settings or vocabulary in its metadata")
        }
        guard vocabulary.count == network.architecture.vocabularySize else {
            throw RecurrentError.invalidFile(path: path,
                reason: "the vocabulary has \(vocabulary.count) tokens but the network \(network.architecture.vocabularySize)")
        }
        self.init(model: model, network: network, configuration: configuration, vocabulary: vocabulary)
    }

    /// Learns from `training` texts (joined by newlines into one stream), validating on
    /// `validation` after every epoch and when a limit stops the run; the best validated
    /// parameters are kept. Windows are read in order (no shuffle), each of the
    /// `options.batchSize` rows continuing its own stretch of text with the state carried over.
    public static func train(training: [String], validation: [String], configuration: LanguageModelConfiguration,
                             options: TrainingOptions, progress: ProgressReporter? = nil) throws -> (LanguageModel, LanguageModelReport) {
        let c = configuration
        try c.validate()
        let trainingTokens = c.tokenizer.tokenize(training.joined(separator: "\n"))
        let vocabulary = Vocabulary(counting: trainingTokens, maximumSize: c.maximumVocabulary)
        let streams = TokenStreams(ids: vocabulary.ids(trainingTokens), streams: options.batchSize, windowLength: c.sequenceLength)
        guard streams.windowCount > 0 else {
            throw RecurrentError.invalidArgument(
                "the training text has \(trainingTokens.count) tokens, too few for \(options.batchSize) rows of a batch (each needs at least 2)")
        }
        let architecture = LanguageModelArchitecture(
            vocabularySize: vocabulary.count, embeddingSize: c.embeddingSize, cell: c.cell, hiddenSize: c.hiddenSize,
            numLayers: c.numLayers, dropout: c.dropout, tiedWeights: c.tieWeights && c.embeddingSize == c.hiddenSize)
        try architecture.validate()
        let network = LanguageModelNetwork(architecture, seed: options.seed)
        let languageModel = LanguageModel(model: Model(network), network: network, configuration: c, vocabulary: vocabulary)

        let validationIDs = validation.isEmpty ? [] : vocabulary.ids(c.tokenizer.tokenize(validation.joined(separator: "\n")))
        let validationStreams = validationIDs.count < 2 ? nil : evaluationStreams(validationIDs, windowLength: c.sequenceLength)

        var trainerOptions = options
        trainerOptions.shuffle = false
        let trainer = Trainer(optimizer: try Adam(network.parameters, learningRate: c.learningRate), options: trainerOptions, progress: progress)
        var data = Fingerprint()
        for row in streams.rows { data.add(row) }
        trainer.identity = try RunIdentity(configuration: c, data: data)
        trainer.validationSampleCount = validationStreams.map { $0.windowCount * $0.streams }
        // The state each row carries from one window to the next: this process's rows only.
        var state: RecurrentLayer.State? = nil
        trainer.taskState = TrainingStateHook(save: { try LanguageModelTrainingState.save(state) }, restore: { state = try LanguageModelTrainingState.restore($0) })
        let history = try trainer.fit(sampleCount: streams.windowCount * streams.streams, loss: { batch in
            // Batch k holds samples kB..<(k+1)B: window k of every row; this process's part of
            // it, a range of rows.
            let window = (batch.first ?? 0) / streams.streams
            let rows = (batch.first ?? 0) % streams.streams..<((batch.last ?? 0) % streams.streams + 1)
            if window == 0 { state = nil }
            let (inputs, targets) = streams.window(window, rows: rows)
            let result = network.run(Variable(inputs), state: state)
            state = result.state.detached()
            return try crossEntropy(logits: result.logits, targets: targets)
        }, validationLoss: validationStreams.map { held in { try languageModel.evaluate(held).crossEntropy } })

        languageModel.model.metadata["task"] = "language-model"
        try languageModel.model.setMetadata("language_model", c)
        try languageModel.model.setMetadata("vocabulary", vocabulary)
        try languageModel.model.setMetadata("training", history)
        // The Trainer kept the parameters of the best validation, so that figure is the model's.
        let figures = try validationStreams.map { held -> LanguageModelEvaluation in
            guard let best = history.validationLoss.filter(\.isFinite).min() else { return try languageModel.evaluate(held) }
            return LanguageModelEvaluation(tokens: held.predictedCount, crossEntropy: best, level: c.tokenizer.level)
        }
        if let figures { try languageModel.model.setMetadata("validation", figures) }
        let validations = zip(trainer.validationSteps, history.validationLoss).map { (step: $0, crossEntropy: $1) }
        return (languageModel, LanguageModelReport(history: history, trainingTokens: trainingTokens.count, validation: figures,
                                                    stepLosses: trainer.stepLosses, validations: validations,
                                                    validationSeconds: history.validationSeconds))
    }

    /// Cross-entropy of `text` over every token after the first, read in `streams` rows
    /// (default: up to 32, each at least a window long) with the state carried across windows;
    /// each row starts from a zero state. Tokens the vocabulary lacks count as the unknown token.
    /// With a `communicator`, each process reads its share of the rows; the figure is the same,
    /// bit for bit, on any number of processes.
    public func evaluate(_ text: String, streams: Int? = nil, communicator: (any Communicator)? = nil) throws -> LanguageModelEvaluation {
        let ids = vocabulary.ids(tokenizer.tokenize(text))
        guard ids.count >= 2 else {
            throw RecurrentError.invalidArgument("the text has \(ids.count) token\(ids.count == 1 ? "" : "s"); evaluation needs at least 2")
        }
        return try evaluate(Self.evaluationStreams(ids, rows: streams, windowLength: configuration.sequenceLength), communicator: communicator)
    }

    /// Up to 32 rows, each at least a window long, covering every token.
    static func evaluationStreams(_ ids: [Int], rows: Int? = nil, windowLength: Int) -> TokenStreams {
        let rows = rows ?? min(32, max(1, (ids.count - 1) / (windowLength + 1)))
        return TokenStreams(covering: ids, streams: rows, windowLength: windowLength)
    }

    func evaluate(_ streams: TokenStreams, communicator: (any Communicator)? = nil) throws -> LanguageModelEvaluation {
        // Each row's losses are summed on their own and the rows' sums added in row order, so
        // the additions are the same however the rows are split over processes.
        let sums = try Communicators.mapInOrder(Array(0..<streams.streams), over: communicator) { part -> [LossSum] in
            guard let first = part.first, let last = part.last else { return [] }
            return try GradientMode.withoutRecording {
                let (rows, state) = try score(streams, rows: first..<(last + 1), from: nil)
                guard last == streams.streams - 1, streams.tail.count > 1 else { return rows }
                // The tail continues the last row from its state.
                let tail = TokenStreams(ids: streams.tail, streams: 1, windowLength: streams.windowLength)
                return rows + (try score(tail, rows: 0..<1, from: state?.selectingRows([rows.count - 1]))).sums
            }
        }
        let total = LossSum.combined(sums)
        return LanguageModelEvaluation(tokens: total.count, crossEntropy: total.mean, level: tokenizer.level)
    }

    /// The summed cross-entropy of each row of `rows` over every window, from `state`, and the
    /// state after the last window.
    private func score(_ streams: TokenStreams, rows: Range<Int>, from state: RecurrentLayer.State?) throws
        -> (sums: [LossSum], state: RecurrentLayer.State?) {
        var state = state, sums = [LossSum](repeating: LossSum(), count: rows.count)
        for k in 0..<streams.windowCount {
            let (inputs, targets) = streams.window(k, rows: rows)
            let result = network.run(Variable(inputs), state: state)
            state = result.state
            let losses = try crossEntropy(logits: result.logits, targets: targets, reduction: .none).value.scalars
            let steps = targets.count / rows.count
            for row in 0..<rows.count {
                for t in 0..<steps { sums[row].total += Double(losses[row * steps + t]) }
                sums[row].count += steps
            }
        }
        return (sums, state)
    }
}
