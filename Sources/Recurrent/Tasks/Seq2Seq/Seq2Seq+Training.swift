import Foundation

/// The record of a sequence-to-sequence run, beside the fit loop's history.
public struct Seq2SeqTrainingReport: Codable, Sendable {
    public var history: TrainingHistory
    public var trainingPairs: Int
    public var validationPairs: Int
    /// Greedy token and word error rates on the monitored validation sources, after each epoch.
    public var validationTokenErrorRates: [Double] = []
    public var validationWordErrorRates: [Double] = []
}

/// Pairs as ids: source ids, and target ids without the begin and end tokens.
struct EncodedPairs {
    var sources: [[Int]]
    var targets: [[Int]]
}

extension Translator {
    /// Trains on `pairs`: a seeded part of the distinct sources (all pairs of a source together)
    /// validates, vocabularies come from the training part, batches hold sources of similar
    /// lengths, and the epoch with the lowest validation loss is kept. After each epoch, a fixed
    /// subset of validation sources is decoded greedily and its error rates noted.
    public static func train(pairs: Seq2SeqPairs, input: Seq2SeqInput, configuration: Seq2SeqConfiguration,
                             options: TrainingOptions, progress: ProgressReporter? = nil) throws -> (Translator, Seq2SeqTrainingReport) {
        let c = configuration
        guard (0..<1).contains(c.validationFraction), (0...1).contains(c.samplingProbability) else {
            throw RecurrentError.invalidArgument("the validation fraction must lie in [0, 1) and the sampling probability in [0, 1], "
                + "got \(c.validationFraction) and \(c.samplingProbability)")
        }
        let (train, validation) = split(pairs, validationFraction: c.validationFraction, seed: options.seed)

        let sourceTokens = pairs.sources.map(input.sourceTokenizer.tokenize)
        let targetTokens = pairs.targets.map(input.targetTokenizer.tokenize)
        let spec = Seq2SeqSpec(configuration: c, input: input,
                               sourceVocabulary: Vocabulary(counting: train.lazy.flatMap { sourceTokens[$0] }),
                               targetVocabulary: Vocabulary(counting: train.lazy.flatMap { targetTokens[$0] },
                                                            specials: [beginToken, endToken]))
        let translator = try make(spec: spec, seed: options.seed)
        let encoded = EncodedPairs(sources: sourceTokens.map(spec.sourceVocabulary.ids),
                                   targets: targetTokens.map(spec.targetVocabulary.ids))

        var options = options
        if c.cosineDecay, options.schedule == .constant { options.schedule = .cosineOverRun() }
        let optimizer = try Adam(translator.network.parameters, learningRate: c.learningRate)
        let trainer = Trainer(optimizer: optimizer, options: options, progress: progress)
        let trainLengths = train.map { encoded.sources[$0].count }
        trainer.batchPlan = { order, epoch in
            Batching.bucketedByLength(order, lengths: trainLengths, batchSize: options.batchSize, seed: options.seed &+ UInt64(epoch))
        }
        var data = Fingerprint()
        for index in train { data.add(encoded.sources[index]); data.add(encoded.targets[index]) }
        trainer.identity = try RunIdentity(configuration: c, data: data)
        trainer.validationSampleCount = validation.count
        // The loss is a mean over target tokens (each pair's end token included).
        trainer.shardWeight = { batch in Double(batch.reduce(0) { $0 + encoded.targets[train[$1]].count + 1 }) }
        var report = Seq2SeqTrainingReport(history: TrainingHistory(), trainingPairs: train.count, validationPairs: validation.count)
        trainer.taskState = TrainingStateHook(
            save: { try TrainingTaskState([report.validationTokenErrorRates, report.validationWordErrorRates]) },
            restore: { saved in
                let rates = try saved.decode([[Double]].self)
                guard rates.count == 2 else { throw RecurrentError.invalidArgument("the checkpoint's error rates are damaged") }
                (report.validationTokenErrorRates, report.validationWordErrorRates) = (rates[0], rates[1])
            })
        let monitored = Array(validation.prefix(c.monitoredSources))
        // Inside the Trainer's steps, scheduled sampling draws from generators keyed by the step
        // (see `loss`); this one serves only calls outside a step.
        var outsideStepGenerator = SplitMix64(seed: options.seed &+ 29)
        let validationLoss: (() throws -> Double)? = validation.isEmpty ? nil : {
            let loss = try translator.meanLoss(encoded, indices: validation)
            let score = try translator.evaluate(pairs, options: DecodingOptions(beamWidth: 1), indices: monitored)
            report.validationTokenErrorRates.append(score.tokenErrorRate)
            report.validationWordErrorRates.append(1 - score.exactMatch)
            progress?.note(String(format: "validation: loss %.4f, greedy on %d sources: token error rate %.2f%%, word error rate %.2f%%",
                                  loss, score.pairs, 100 * score.tokenErrorRate, 100 * (1 - score.exactMatch)))
            return loss
        }
        let history = try trainer.fit(sampleCount: train.count, loss: { batch in
            try translator.loss(encoded, indices: batch.map { train[$0] }, samplingProbability: c.samplingProbability, rng: &outsideStepGenerator)
        }, validationLoss: validationLoss)
        report.history = history
        try translator.model.setMetadata("training", report)
        return (translator, report)
    }

    /// Pair indices for training and for validation: a seeded shuffle of the distinct sources,
    /// the first `validationFraction` of them (at least one when there are two or more) validating
    /// with all their pairs.
    public static func split(_ pairs: Seq2SeqPairs, validationFraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        let groups = pairs.groupedBySource()
        var groupOrder = Array(groups.indices)
        var rng = SplitMix64(seed: seed &+ 17)
        shuffle(&groupOrder, using: &rng)
        let validationGroups = groups.count > 1 && validationFraction > 0
            ? max(1, Int((Double(groups.count) * validationFraction).rounded())) : 0
        return (groupOrder.dropFirst(validationGroups).flatMap { groups[$0].pairs }.sorted(),
                groupOrder.prefix(validationGroups).flatMap { groups[$0].pairs }.sorted())
    }

    /// The mean cross-entropy per target token (the end token included) of a batch of pairs.
    /// Inside a Trainer's step, scheduled sampling draws for each pair from a generator keyed by
    /// the step and the pair's place in the batch (resumed and data-parallel runs draw alike);
    /// outside one, from `rng`.
    func loss(_ pairs: EncodedPairs, indices: [Int], samplingProbability: Double = 0,
              rng: inout SplitMix64) throws -> Variable {
        try network.loss(sources: indices.map { pairs.sources[$0] }, targets: indices.map { pairs.targets[$0] },
                         beginID: beginID, endID: endID, samplingProbability: samplingProbability, rng: &rng)
    }

    /// The loss over `indices` in batches, without recording and without dropout.
    func meanLoss(_ pairs: EncodedPairs, indices: [Int], batchSize: Int = 128) throws -> Double {
        var total = 0.0, tokens = 0.0
        var rng = SplitMix64(seed: 0)
        let order = indices.sorted { pairs.sources[$0].count < pairs.sources[$1].count }
        for batch in Batching.consecutive(order, batchSize: batchSize) {
            let count = Double(batch.reduce(0) { $0 + pairs.targets[$1].count + 1 })
            let loss = try GradientMode.withoutRecording { try self.loss(pairs, indices: batch, rng: &rng) }
            total += Double(loss.value.scalar) * count
            tokens += count
        }
        return total / max(tokens, 1)
    }
}

extension Seq2SeqNetwork {
    /// The mean cross-entropy per target token (the end token included) of a batch: source ids
    /// and target ids (without the begin and end tokens). Luong or no attention with pure teacher
    /// forcing runs the decoder over whole sequences; Bahdanau attention and scheduled sampling
    /// run it step by step.
    func loss(sources sourceIDs: [[Int]], targets targetIDsWithoutEnd: [[Int]], beginID: Int, endID: Int,
              samplingProbability: Double = 0, rng: inout SplitMix64) throws -> Variable {
        let count = sourceIDs.count
        let sources = PaddedBatch(tokenIDs: sourceIDs)
        let targets = targetIDsWithoutEnd.map { $0 + [endID] }
        let time = targets.map(\.count).max() ?? 1
        var targetIDs = [Int](repeating: 0, count: count * time)
        var mask = [Float](repeating: 0, count: count * time)
        for (b, target) in targets.enumerated() {
            for (t, id) in target.enumerated() { targetIDs[b * time + t] = id; mask[b * time + t] = 1 }
        }
        let encoded = encode(sources.values, lengths: sources.lengths)
        if architecture.attention != .bahdanau && samplingProbability == 0 {
            let inputs = PaddedBatch(tokenIDs: targets.map { [beginID] + $0.dropLast() })
            let logits = teacherForcedLogits(encoded, inputs: inputs.values, lengths: targets.map(\.count))
            return try crossEntropy(logits: logits, targets: targetIDs, mask: Tensor(shape: [count, time], scalars: mask))
        }
        // Step by step: logits [T, B, V], so targets and mask go time-major.
        var rowGenerators = LearningPhase.batchPosition.map { position in
            (0..<count).map { position.generator(row: $0, salt: 0x5a3b_1e29) }
        }
        var state = encoded.state, previous = [Int](repeating: beginID, count: count)
        var stepLogits: [Variable] = []
        for t in 0..<time {
            let result = step(previous, state: state, encoded: encoded)
            state = result.state
            stepLogits.append(result.logits)
            let predicted = samplingProbability > 0 ? argmaxRows(result.logits.value) : []
            previous = (0..<count).map { b in
                let truth = t < targets[b].count ? targets[b][t] : endID
                guard samplingProbability > 0 else { return truth }
                let draw = rowGenerators?[b].nextFloat() ?? rng.nextFloat()
                return Double(draw) < samplingProbability ? predicted[b] : truth
            }
        }
        let timeMajor = (0..<time).flatMap { t in (0..<count).map { $0 * time + t } }
        return try crossEntropy(logits: Variable.stack(stepLogits), targets: timeMajor.map { targetIDs[$0] },
                                mask: Tensor(shape: [time, count], scalars: timeMajor.map { mask[$0] }))
    }

    func argmaxRows(_ logits: Tensor) -> [Int] {
        let width = logits.shape[1]
        return (0..<logits.shape[0]).map { row in
            let scores = logits.scalars[(row * width)..<((row + 1) * width)]
            return (scores.indices.max { scores[$0] < scores[$1] } ?? row * width) - row * width
        }
    }
}
