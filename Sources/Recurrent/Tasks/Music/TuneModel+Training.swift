import Foundation

/// The tunes of a run as token ids, with the vocabulary built on the training tunes.
public struct EncodedTunes: Codable, Sendable {
    public var vocabulary: Vocabulary
    /// Each tune: `<s>`, its tokens, `</s>`; tokens the training tunes lack read as `<unk>`.
    public var training: [[Int]]
    public var validation: [[Int]]

    public init(training: [ABCTune], validation: [ABCTune], tokenizer: ABCTokenizer) {
        let trainingTokens = training.map { [ABCTokenizer.tuneStart] + tokenizer.tokens($0) + [ABCTokenizer.tuneEnd] }
        let vocabulary = Vocabulary(counting: trainingTokens.joined())
        self.vocabulary = vocabulary
        self.training = trainingTokens.map { vocabulary.ids($0) }
        self.validation = validation.map { vocabulary.ids([ABCTokenizer.tuneStart] + tokenizer.tokens($0) + [ABCTokenizer.tuneEnd]) }
    }
}

public struct TuneTrainingReport: Sendable {
    public var history: TrainingHistory
    public var trainingTokens: Int
    /// On the held-out tunes, with the parameters kept (nil without held-out tunes).
    public var validation: TuneEvaluation?
}

extension TuneModel {
    /// Learns from `training` tunes (whole tunes in batches of similar lengths, padding masked),
    /// validating on `validation` after every epoch; the best validated parameters are kept.
    public static func train(training: [ABCTune], validation: [ABCTune], configuration: TuneModelConfiguration,
                             options: TrainingOptions, progress: ProgressReporter? = nil) throws -> (TuneModel, TuneTrainingReport) {
        try configuration.validate()
        guard !training.isEmpty else { throw RecurrentError.invalidArgument("there is no tune to train on") }
        let encoded = EncodedTunes(training: training, validation: validation, tokenizer: configuration.tokenizer)
        return try train(encoded, configuration: configuration, options: options, progress: progress)
    }

    /// Learns from tunes already encoded (see `EncodedTunes`).
    public static func train(_ encoded: EncodedTunes, configuration c: TuneModelConfiguration, options: TrainingOptions,
                             progress: ProgressReporter? = nil) throws -> (TuneModel, TuneTrainingReport) {
        let architecture = LanguageModelArchitecture(
            vocabularySize: encoded.vocabulary.count, embeddingSize: c.embeddingSize, cell: c.cell, hiddenSize: c.hiddenSize,
            numLayers: c.numLayers, dropout: c.dropout, tiedWeights: false)
        try architecture.validate()
        let network = LanguageModelNetwork(architecture, seed: options.seed)
        let spec = TuneModelSpec(configuration: c, vocabulary: encoded.vocabulary)
        let tuneModel = TuneModel(model: Model(network), network: network, spec: spec)

        let sequences = encoded.training
        let trainer = Trainer(optimizer: try Adam(network.parameters, learningRate: c.learningRate), options: options, progress: progress)
        let lengths = sequences.map(\.count)
        trainer.batchPlan = { order, epoch in
            Batching.bucketedByLength(order, lengths: lengths, batchSize: options.batchSize, seed: options.seed &+ UInt64(epoch))
        }
        var data = Fingerprint()
        for ids in sequences + encoded.validation { data.add(ids) }
        trainer.identity = try RunIdentity(configuration: c, data: data)
        trainer.validationSampleCount = encoded.validation.count
        // The loss is a mean over predicted tokens: a tune of n tokens predicts n - 1.
        trainer.shardWeight = { batch in Double(batch.reduce(0) { $0 + max(0, sequences[$1].count - 1) }) }
        let history = try trainer.fit(sampleCount: sequences.count, loss: { batch in
            let (inputs, targets, mask) = teacherForcing(batch.map { sequences[$0] })
            let logits = network.run(Variable(inputs), state: nil, lengths: Batching.lengths(mask: mask)).logits
            return try crossEntropy(logits: logits, targets: targets, mask: mask)
        }, validationLoss: encoded.validation.isEmpty ? nil : {
            try evaluate(network: network, sequences: encoded.validation).crossEntropy
        })

        try tuneModel.model.setMetadata("task", "music-tunes")
        try tuneModel.model.setMetadata("tunes", spec)
        try tuneModel.model.setMetadata("training", history)
        var figures: TuneEvaluation? = nil
        if !encoded.validation.isEmpty {
            let tokens = encoded.validation.reduce(0) { $0 + $1.count - 1 }
            figures = try history.validationLoss.filter(\.isFinite).min().map { TuneEvaluation(tokens: tokens, crossEntropy: $0) }
                ?? evaluate(network: network, sequences: encoded.validation)
            try tuneModel.model.setMetadata("validation", figures)
        }
        let report = TuneTrainingReport(history: history, trainingTokens: sequences.reduce(0) { $0 + $1.count - 1 }, validation: figures)
        return (tuneModel, report)
    }
}
