import Foundation

/// What a training run did besides the model: the record, the validation character error rate
/// after each epoch, and what was left out.
public struct SpeechTrainingReport: Sendable {
    public var history: TrainingHistory
    /// Greedy CER on the validation utterances after each epoch (the history's validation loss).
    public var validationCER: [Double] { history.validationLoss }
    public var trainingUtterances: Int
    public var validationUtterances: Int
    public var trainingSeconds: Double
    /// Utterances too short for their transcript under CTC (after subsampling), left out.
    public var skipped: [String]
}

/// Utterances read into normalised features, with their labels.
struct SpeechExamples {
    var features: [Tensor]
    var labels: [[Int]]
    var names: [String]
    var seconds: Double
}

extension SpeechRecognizer {
    /// Trains on `train` (validating on `validation`, or on a held-out share of its transcripts):
    /// the alphabet and feature statistics from the training utterances, mini-batches of similar
    /// lengths, CTC loss, the epoch with the lowest validation CER kept.
    public static func train(train: SpeechManifest, validation: SpeechManifest?, configuration: SpeechConfiguration,
                             options: TrainingOptions, progress: ProgressReporter? = nil) throws -> (SpeechRecognizer, SpeechTrainingReport) {
        try configuration.validate()
        var trainUtterances = train.utterances, validationUtterances = validation?.utterances ?? []
        if validation == nil, configuration.validationFraction > 0 {
            (trainUtterances, validationUtterances) = holdOut(train.utterances, fraction: configuration.validationFraction)
        }
        let clips = try trainUtterances.map { try AudioFile.read(path: $0.audioPath) }
        let sampleRate = configuration.sampleRate ?? clips[0].sampleRate
        var filterbankOptions = FilterbankOptions(sampleRate: sampleRate)
        filterbankOptions.melBins = configuration.melBins
        filterbankOptions.deltaOrder = configuration.deltaOrder
        try filterbankOptions.validate()
        let alphabet = Array(Set(trainUtterances.flatMap { normalizedText($0.text).map(String.init) })).sorted()
        guard !alphabet.isEmpty else { throw RecurrentError.invalidFile(path: train.path, reason: "every transcript is empty") }

        // The raw features first: global statistics come from them.
        let filterbank = try Filterbank(filterbankOptions)
        var raw: [Tensor] = []
        for (clip, utterance) in zip(clips, trainUtterances) {
            try checkAudible(clip, name: utterance.audioPath)
            raw.append(filterbank.features((clip.sampleRate == sampleRate ? clip : clip.resampled(to: sampleRate)).samples))
        }
        var spec = SpeechSpec(configuration: configuration, alphabet: alphabet, filterbank: filterbankOptions)
        if configuration.resolvedNormalization == .global {
            var statistics = FeatureStatisticsAccumulator(featureCount: filterbankOptions.featureCount)
            for features in raw { try statistics.add(features) }
            spec.featureStatistics = statistics.statistics
        }
        let recognizer = try make(spec: spec, seed: options.seed)
        for index in raw.indices { recognizer.normalize(&raw[index]) }

        var skipped: [String] = []
        let examples = recognizer.examples(features: raw, utterances: trainUtterances, seconds: clips.reduce(0) { $0 + $1.duration },
                                           skipping: { skipped.append($0) })
        if !skipped.isEmpty {
            progress?.note("left out \(skipped.count) training utterance\(skipped.count == 1 ? "" : "s") too short for "
                + "\(skipped.count == 1 ? "its" : "their") transcript under CTC (fewer steps than characters): " + skipped.joined(separator: ", "))
        }
        guard !examples.features.isEmpty else { throw RecurrentError.invalidFile(path: train.path, reason: "no utterance is long enough for its transcript") }
        let validationSet = try recognizer.evaluationSet(validationUtterances)
        progress?.note(String(format: "%d training utterances (%.1f min of audio), %d validating; %d characters + blank; %@ at %d Hz",
                              examples.features.count, examples.seconds / 60, validationSet.features.count, alphabet.count,
                              configuration.summary, sampleRate))

        let history = try recognizer.fit(examples, validation: validationSet, options: options, progress: progress)
        try recognizer.model.setMetadata("training", history)
        return (recognizer, SpeechTrainingReport(history: history, trainingUtterances: examples.features.count,
                                                 validationUtterances: validationSet.features.count,
                                                 trainingSeconds: examples.seconds, skipped: skipped))
    }

    /// Every utterance whose normalised text hashes into the held-out share goes to validation,
    /// with every other recording of the same text.
    static func holdOut(_ utterances: [Utterance], fraction: Double) -> (train: [Utterance], validation: [Utterance]) {
        func heldOut(_ text: String) -> Bool {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across runs and machines
            for byte in normalizedText(text).utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return Double(hash % 10_000) < fraction * 10_000
        }
        let validation = utterances.filter { heldOut($0.text) }
        let train = utterances.filter { !heldOut($0.text) }
        return train.isEmpty || validation.isEmpty ? (utterances, []) : (train, validation)
    }

    /// Features and labels of utterances, leaving out (and naming) those CTC cannot align.
    func examples(features: [Tensor], utterances: [Utterance], seconds: Double, skipping: (String) -> Void) -> SpeechExamples {
        var examples = SpeechExamples(features: [], labels: [], names: [], seconds: 0)
        for (matrix, utterance) in zip(features, utterances) {
            guard let labels = labels(utterance.text), Self.minimumSteps(labels) <= stackedLength(matrix.shape[0]) else {
                skipping(utterance.audioPath)
                continue
            }
            examples.features.append(matrix)
            examples.labels.append(labels)
            examples.names.append(utterance.audioPath)
        }
        examples.seconds = seconds
        return examples
    }

    /// Utterances read for evaluation, their transcripts as references. Every audio problem is
    /// an error naming the file.
    func evaluationSet(_ utterances: [Utterance]) throws -> (features: [Tensor], references: [String], seconds: Double) {
        var features: [Tensor] = [], references: [String] = [], seconds = 0.0
        for utterance in utterances {
            let clip = try AudioFile.read(path: utterance.audioPath)
            features.append(try self.features(clip, name: utterance.audioPath))
            references.append(Self.normalizedText(utterance.text))
            seconds += clip.duration
        }
        return (features, references, seconds)
    }

    func fit(_ examples: SpeechExamples, validation: (features: [Tensor], references: [String], seconds: Double),
             options: TrainingOptions, progress: ProgressReporter?) throws -> TrainingHistory {
        let optimizer = try Adam(model.layer.parameters, learningRate: configuration.learningRate)
        var options = options
        if configuration.cosineDecay, options.schedule == .constant { options.schedule = .cosineOverRun() }
        let trainer = Trainer(optimizer: optimizer, options: options, progress: progress)
        let lengths = examples.features.map { $0.shape[0] }
        trainer.batchPlan = { order, epoch in
            Batching.bucketedByLength(order, lengths: lengths, batchSize: options.batchSize, seed: options.seed &+ UInt64(epoch))
        }
        var data = Fingerprint()
        data.add(examples.features)
        for labels in examples.labels { data.add(labels) }
        trainer.identity = try RunIdentity(configuration: configuration, data: data)
        trainer.validationSampleCount = validation.features.count
        let augment = configuration.specAugment
        let validationLoss: (() throws -> Double)? = validation.features.isEmpty ? nil : {
            let transcripts = try self.transcribe(features: validation.features, decoding: SpeechDecoding())
            var score = SpeechScore()
            for (transcript, reference) in zip(transcripts, validation.references) { score.add(transcript: transcript, reference: reference) }
            return score.characterErrorRate
        }
        return try trainer.fit(sampleCount: examples.features.count, loss: { batch in
            var features = batch.map { examples.features[$0] }
            // Each utterance's masks come from a generator keyed by the step and its place in the
            // batch: resumed and data-parallel runs mask as the uninterrupted single process does.
            if let augment, let position = LearningPhase.batchPosition {
                for index in features.indices {
                    var rng = position.generator(row: index, salt: options.seed &+ 0x5eec_4a06)
                    augment.apply(to: &features[index], using: &rng)
                }
            }
            let (logits, lengths) = try self.logits(features)
            return try ctcLoss(logits: logits, targets: batch.map { examples.labels[$0] }, inputLengths: lengths,
                               blank: Self.blank, reduction: .mean, zeroInfinity: true)
        }, validationLoss: validationLoss)
    }
}
