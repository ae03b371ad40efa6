import Foundation

/// The record of a chat model's training, beside the fit loop's history.
public struct ChatTrainingReport: Codable, Sendable {
    public var history: TrainingHistory
    public var trainingExchanges: Int
    public var validationExchanges: Int
    public var testExchanges: Int
    /// Turns of the training part longer than the model reads, and the turn count.
    public var truncatedTurns: Int
    public var turns: Int
    /// e^(validation loss) after each epoch: the perplexity of the validation replies.
    public var validationPerplexities: [Double]
}

/// Exchanges as ids: the context (turns joined by the separator), the reply, and the turn the
/// reply answers (what the reply -> context model learns to write).
struct EncodedExchanges {
    var contexts: [[Int]] = []
    var replies: [[Int]] = []
    var lastTurns: [[Int]] = []
    /// Exchanges whose context or reply had to be cut.
    var truncated = 0

    var count: Int { contexts.count }
}

extension Chatbot {
    /// Trains on `dialogue`: whole groups (plays, conversations) are held out for the test and
    /// for validation (recorded in the model), the vocabulary comes from the training turns,
    /// batches hold contexts of similar lengths, and the epoch with the lowest validation loss of
    /// the reply model is kept. The reply -> context model and the reply language model (when
    /// configured) learn in the same steps: their losses are added to the reply model's.
    public static func train(_ dialogue: Dialogue, configuration: ChatConfiguration, options: TrainingOptions,
                             progress: ProgressReporter? = nil) throws -> (Chatbot, ChatTrainingReport) {
        let c = configuration
        try c.validate()
        let parts = try dialogue.split(testFraction: c.testFraction, validationFraction: c.validationFraction, seed: options.seed)
        let tokenizer = Tokenizer(level: .word, lowercase: c.lowercase)
        let trainingTurns = parts.training.conversations.flatMap(\.turns)
        let vocabulary = Vocabulary(counting: trainingTurns.lazy.flatMap { tokenizer.tokenize($0.text) }, specials: specials,
                                    maximumSize: c.maximumVocabulary)
        let spec = ChatSpec(configuration: c, tokenizer: tokenizer, vocabulary: vocabulary,
                            heldOut: ChatHeldOut(test: parts.test.groups, validation: parts.validation.groups))
        let chatbot = try make(spec: spec, seed: options.seed)
        let train = chatbot.encode(parts.training.exchanges(contextTurns: c.contextTurns))
        let validation = chatbot.encode(parts.validation.exchanges(contextTurns: c.contextTurns))
        guard train.count > 0 else {
            throw RecurrentError.invalidArgument("no exchanges to learn from: every training conversation has a single turn")
        }
        let longTurns = trainingTurns.filter { tokenizer.tokenize($0.text).count > c.maxTurnTokens }.count
        if longTurns > 0 {
            progress?.note("\(longTurns) of \(trainingTurns.count) training turns are longer than \(c.maxTurnTokens) tokens: "
                + "as context the model reads their last \(c.maxTurnTokens), as replies it learns their first (to the last sentence end)")
        }

        var options = options
        if c.cosineDecay, options.schedule == .constant {
            let batchesPerEpoch = (train.count + options.batchSize - 1) / max(1, options.batchSize)
            // Under a step or time limit alone the epochs are `TrainingOptions.untilLimit`: the product saturates.
            let (planned, overflow) = batchesPerEpoch.multipliedReportingOverflow(by: options.epochs)
            options.schedule = .cosineAnnealing(steps: max(1, min(options.maxSteps ?? Int.max, overflow ? Int.max : planned)))
        }
        let trainer = Trainer(optimizer: try Adam(chatbot.network.parameters, learningRate: c.learningRate), options: options, progress: progress)
        let lengths = train.contexts.map(\.count)
        trainer.batchPlan = { order, epoch in
            Batching.bucketedByLength(order, lengths: lengths, batchSize: options.batchSize, seed: options.seed &+ UInt64(epoch))
        }
        var data = Fingerprint()
        for ids in train.contexts + train.replies + train.lastTurns + validation.contexts + validation.replies { data.add(ids) }
        trainer.identity = try RunIdentity(configuration: c, data: data)
        trainer.validationSampleCount = validation.count
        trainer.partLoss = { part, batch in try chatbot.loss(train, indices: part, partOf: batch) }
        let validationLoss: (() throws -> Double)? = validation.count == 0 ? nil : { try chatbot.meanReplyLoss(validation) }
        let history = try trainer.fit(sampleCount: train.count, loss: { batch in try chatbot.loss(train, indices: batch) },
                                      validationLoss: validationLoss)
        let report = ChatTrainingReport(history: history, trainingExchanges: train.count, validationExchanges: validation.count,
                                        testExchanges: parts.test.exchanges(contextTurns: c.contextTurns).count, truncatedTurns: longTurns,
                                        turns: trainingTurns.count, validationPerplexities: history.validationLoss.map { exp($0) })
        try chatbot.model.setMetadata("training", report)
        return (chatbot, report)
    }

    func encode(_ exchanges: [DialogueExchange]) -> EncodedExchanges {
        var encoded = EncodedExchanges()
        for exchange in exchanges {
            let (context, cut) = contextIDs(exchange.context)
            let reply = replyTurn(exchange.reply)
            encoded.contexts.append(context)
            encoded.replies.append(vocabulary.ids(reply.tokens))
            encoded.lastTurns.append(vocabulary.ids(contextTurn(exchange.context.last ?? "").tokens))
            if cut > 0 || reply.truncated { encoded.truncated += 1 }
        }
        return encoded
    }

    /// The loss of a batch: the reply model's mean cross-entropy per reply token, plus the reply
    /// -> context model's per context-turn token and the reply language model's per reply token.
    /// With `batch`, `indices` are one process's part of it and each mean is weighted by the
    /// part's share of its tokens in the batch, so that the parts' losses sum to the batch's.
    func loss(_ exchanges: EncodedExchanges, indices: [Int], partOf batch: [Int]? = nil) throws -> Variable {
        let contexts = indices.map { exchanges.contexts[$0] }, replies = indices.map { exchanges.replies[$0] }
        // Every target sequence ends with the end token.
        func share(_ sequences: [[Int]]) -> Float {
            guard let batch else { return 1 }
            let tokens = { (rows: [Int]) in Double(rows.reduce(0) { $0 + sequences[$1].count + 1 }) }
            return Float(tokens(indices) / max(tokens(batch), 1))
        }
        var rng = SplitMix64(seed: 0)
        let replyShare = share(exchanges.replies)
        var total = try network.replies.loss(sources: contexts, targets: replies, beginID: beginID, endID: endID, rng: &rng)
        if batch != nil { total = total.scaled(by: replyShare) }
        if let backward = network.contexts {
            let turnLoss = try backward.loss(sources: replies, targets: indices.map { exchanges.lastTurns[$0] },
                                             beginID: beginID, endID: endID, rng: &rng)
            total = total + (batch == nil ? turnLoss : turnLoss.scaled(by: share(exchanges.lastTurns)))
        }
        if let language = network.replyLanguageModel {
            let languageLoss = try language.loss(replies, beginID: beginID, endID: endID)
            total = total + (batch == nil ? languageLoss : languageLoss.scaled(by: replyShare))
        }
        return total
    }

    /// The reply model's mean cross-entropy per reply token (the end token included) over
    /// `exchanges`, in batches, without recording or dropout: its log is the replies' perplexity.
    /// With a `communicator`, each process scores its share of the batches; the batches' sums
    /// are added in batch order, so the figure is the same, bit for bit, on any number of processes.
    func meanReplyLoss(_ exchanges: EncodedExchanges, batchSize: Int = 128, communicator: (any Communicator)? = nil) throws -> Double {
        let order = exchanges.contexts.indices.sorted { exchanges.contexts[$0].count < exchanges.contexts[$1].count }
        let sums = try Communicators.mapInOrder(Batching.consecutive(order, batchSize: batchSize), over: communicator) { batches in
            try batches.map { batch in
                let count = batch.reduce(0) { $0 + exchanges.replies[$1].count + 1 }
                // Teacher forcing alone: nothing is drawn.
                var rng = SplitMix64(seed: 0)
                let loss = try GradientMode.withoutRecording {
                    try network.replies.loss(sources: batch.map { exchanges.contexts[$0] }, targets: batch.map { exchanges.replies[$0] },
                                             beginID: beginID, endID: endID, rng: &rng)
                }
                return LossSum(total: Double(loss.value.scalar) * Double(count), count: count)
            }
        }
        return LossSum.combined(sums).mean
    }
}

extension LanguageModelNetwork {
    /// The mean cross-entropy per token of sequences read after `beginID`, each ending with
    /// `endID` (predicted too).
    func loss(_ sequences: [[Int]], beginID: Int, endID: Int) throws -> Variable {
        let inputs = PaddedBatch(tokenIDs: sequences.map { [beginID] + $0 })
        let time = inputs.values.shape[1]
        var targets = [Int](repeating: 0, count: sequences.count * time), mask = [Float](repeating: 0, count: sequences.count * time)
        for (b, sequence) in sequences.enumerated() {
            for (t, id) in (sequence + [endID]).enumerated() { targets[b * time + t] = id; mask[b * time + t] = 1 }
        }
        return try crossEntropy(logits: run(Variable(inputs.values), state: nil).logits, targets: targets,
                                mask: Tensor(shape: [sequences.count, time], scalars: mask))
    }
}
