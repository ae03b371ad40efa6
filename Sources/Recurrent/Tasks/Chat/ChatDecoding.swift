import Foundation

/// How reply candidates are found.
public enum ReplyStrategy: String, Codable, Sendable, CaseIterable {
    /// Beam search, ranked by log-probability / length^alpha.
    case beam
    /// Drawn token by token (temperature, top-k, top-p).
    case sample
}

/// How candidates are reranked: maximum mutual information (Li et al., 2016), so that replies
/// that fit this context win over replies that fit any context ("I don't know").
public enum ReplyReranking: String, Codable, Sendable, CaseIterable {
    /// The best candidate of the search.
    case none
    /// [log p(T|S) - weight * log p(T)] / |T|^alpha: the reply language model's opinion subtracted.
    case antiLM = "mmi-antilm"
    /// log p(T|S) / |T|^alpha + weight * log p(S|T) / |S|: the reply -> context model's opinion
    /// added (S the turn the reply answers).
    case bidi = "mmi-bidi"
}

/// How a reply is written.
public struct ReplyOptions: Sendable {
    public var strategy: ReplyStrategy = .beam
    /// The beam width; with sampling and reranking, the number of samples drawn (sampling alone
    /// draws one).
    public var candidates = 10
    public var lengthNormalization = 1.0
    public var sampling = SamplingOptions(temperature: 0.8, topP: 0.9)
    public var repetitionPenalty = RepetitionPenalty(1.2)
    public var reranking: ReplyReranking = .none
    /// The weight of the reranking model's opinion (lambda).
    public var mmiWeight = 0.5
    public var seed: UInt64 = 0
    /// The longest reply in tokens, below the longest turn the model was trained on (nil: that).
    public var maximumTokens: Int?

    public init() {}

    public func validate() throws {
        guard candidates >= 1 else { throw RecurrentError.invalidArgument("the number of candidates must be at least 1, got \(candidates)") }
        try BeamSearchOptions(beamWidth: candidates, lengthNormalization: lengthNormalization, repetitionPenalty: repetitionPenalty).validate()
        try sampling.validate()
        guard mmiWeight >= 0, mmiWeight.isFinite else { throw RecurrentError.invalidArgument("the MMI weight must be 0 or more, got \(mmiWeight)") }
        if let maximumTokens, maximumTokens < 1 {
            throw RecurrentError.invalidArgument("the longest reply must be at least 1 token, got \(maximumTokens)")
        }
    }

    var beam: BeamSearchOptions {
        BeamSearchOptions(beamWidth: candidates, lengthNormalization: lengthNormalization, repetitionPenalty: repetitionPenalty)
    }
}

/// A candidate reply and the score it was ranked by.
public struct ReplyCandidate: Sendable {
    public var text: String
    public var score: Double
    /// Its length in the model's tokens.
    public var tokenCount: Int
    /// Whether it was cut at the longest reply allowed rather than ended by the model.
    public var reachedLimit: Bool

    public init(text: String, score: Double, tokenCount: Int, reachedLimit: Bool) {
        self.text = text
        self.score = score
        self.tokenCount = tokenCount
        self.reachedLimit = reachedLimit
    }
}

/// A reply, the candidates it was chosen from (best first), and how many of the turns read had
/// to be cut to the longest turn the model reads.
public struct ChatReply: Sendable {
    public var text: String
    public var tokens: [String]
    public var candidates: [ReplyCandidate]
    public var truncatedTurns: Int
    /// The tokens the model read: the turns it reads and the separators between them.
    public var contextTokenCount: Int
}

extension Chatbot {
    /// Replies to `message`, the conversation so far being `context` (oldest first): the model
    /// reads the last `contextTurns` of them. A turn longer than the model reads is cut (see
    /// `ChatReply.truncatedTurns`); words it never saw read as `<unk>`.
    public func reply(to message: String, context: [String] = [], options: ReplyOptions = ReplyOptions()) throws -> ChatReply {
        guard !tokenizer.tokenize(message).isEmpty else { throw RecurrentError.invalidArgument("the message is empty: there is nothing to reply to") }
        let turns = context + [message]
        let (ids, truncated) = contextIDs(turns)
        let candidates = try generate(contexts: [ids], lastTurns: [vocabulary.ids(contextTurn(message).tokens)], options: options)[0]
        let best = candidates.first ?? Hypothesis(tokens: [], logProbability: 0, score: 0)
        let limit = replyLimit(options)
        return ChatReply(text: text(best.tokens), tokens: best.tokens.map(vocabulary.token),
                         candidates: candidates.map {
                             ReplyCandidate(text: text($0.tokens), score: $0.score, tokenCount: $0.tokens.count, reachedLimit: $0.tokens.count >= limit)
                         },
                         truncatedTurns: truncated, contextTokenCount: ids.count)
    }

    /// The longest reply a search may write.
    func replyLimit(_ options: ReplyOptions) -> Int {
        min(configuration.maxTurnTokens, options.maximumTokens ?? Int.max)
    }

    var decodingVocabulary: DecodingVocabulary {
        DecodingVocabulary(beginID: beginID, endID: endID, forbidden: [vocabulary.unknownID, beginID, separatorID])
    }

    /// The candidates for each context (ids) best first, reranked when asked; `lastTurns` are
    /// the turns the replies answer (for MMI-bidi). Contexts go in batches of similar lengths;
    /// `batchDone` hears how many are done after each. With a `communicator`, each process
    /// decodes its share of the batches (a sampled batch draws from a generator keyed by its
    /// place), and every process gets every context's candidates.
    func generate(contexts: [[Int]], lastTurns: [[Int]], options: ReplyOptions, batchSize: Int = 128,
                  communicator: (any Communicator)? = nil, batchDone: (Int) -> Void = { _ in }) throws -> [[Hypothesis]] {
        try options.validate()
        try checkReranking(options.reranking)
        let order = contexts.indices.sorted { (contexts[$0].count, $0) < (contexts[$1].count, $1) }
        let search = SequenceSearch(Seq2SeqStepper(network: network.replies), vocabulary: decodingVocabulary)
        let batches = Array(Batching.consecutive(order, batchSize: max(1, batchSize / options.candidates)).enumerated())
        var done = 0
        let lists = try Communicators.mapInOrder(batches, over: communicator) { part in
            try part.map { batchIndex, batch in
                let lists = try generate(batch.map { contexts[$0] }, lastTurns: batch.map { lastTurns[$0] }, batchIndex: batchIndex,
                                         search: search, options: options)
                done += batch.count
                batchDone(done)
                return lists
            }
        }
        var results = [[Hypothesis]](repeating: [], count: contexts.count)
        for ((_, batch), batchLists) in zip(batches, lists) {
            for (position, index) in batch.enumerated() { results[index] = batchLists[position] }
        }
        return results
    }

    /// The candidates for each context of one batch, the `batchIndex`th.
    private func generate(_ contexts: [[Int]], lastTurns: [[Int]], batchIndex: Int, search: SequenceSearch<Seq2SeqStepper>,
                          options: ReplyOptions) throws -> [[Hypothesis]] {
        let padded = PaddedBatch(tokenIDs: contexts)
        let encoded = GradientMode.withoutRecording { network.replies.encode(padded.values, lengths: padded.lengths) }
        let limits = [Int](repeating: replyLimit(options), count: contexts.count)
        var lists: [[Hypothesis]]
        switch options.strategy {
        case .beam:
            lists = GradientMode.withoutRecording {
                search.beam(from: Seq2SeqStepper.start(encoded), maxLengths: limits, options: options.beam)
            }
        case .sample:
            let draws = options.reranking == .none ? 1 : options.candidates
            let rows = contexts.indices.flatMap { Array(repeating: $0, count: draws) }
            var rng = SplitMix64(seed: options.seed &+ UInt64(batchIndex))
            let samples = GradientMode.withoutRecording {
                search.sample(from: Seq2SeqStepper.start(encoded.gathering(rows)), maxLengths: rows.map { limits[$0] },
                              sampling: options.sampling, repetitionPenalty: options.repetitionPenalty, rng: &rng)
            }
            lists = contexts.indices.map { input in
                Array(samples[(input * draws)..<((input + 1) * draws)]).sorted { $0.score > $1.score }
            }
        }
        if options.reranking != .none {
            lists = try zip(lastTurns, lists).map { try rerankCandidates($1, lastTurn: $0, options: options) }
        }
        return lists
    }

    /// The rerankings this model can do (none, and those whose models it was trained with).
    public var availableRerankings: [ReplyReranking] {
        ReplyReranking.allCases.filter { (try? checkReranking($0)) != nil }
    }

    func checkReranking(_ reranking: ReplyReranking) throws {
        if reranking == .antiLM && network.replyLanguageModel == nil {
            throw RecurrentError.invalidArgument("this model has no reply language model for mmi-antilm (it was trained with --no-reply-lm)")
        }
        if reranking == .bidi && network.contexts == nil {
            throw RecurrentError.invalidArgument("this model has no reply -> context model for mmi-bidi (it was trained with --no-context-model)")
        }
    }

    /// Maximum mutual information reranking of one context's candidates.
    func rerankCandidates(_ candidates: [Hypothesis], lastTurn: [Int], options: ReplyOptions) throws -> [Hypothesis] {
        guard !candidates.isEmpty else { return candidates }
        let outputs = candidates.map(\.tokens)
        let term: RerankingTerm
        switch options.reranking {
        case .none:
            return candidates
        case .antiLM:
            guard let language = network.replyLanguageModel else { return candidates }
            let scores = try language.logProbabilities(outputs, beginID: beginID, endID: endID)
            term = RerankingTerm(weight: -options.mmiWeight, scores: zip(scores, outputs).map {
                $0 / pow(Double($1.count + 1), options.lengthNormalization)
            })
        case .bidi:
            guard let contexts = network.contexts else { return candidates }
            let scores = try contexts.logProbabilities(sources: outputs, targets: Array(repeating: lastTurn, count: outputs.count),
                                                       beginID: beginID, endID: endID)
            term = RerankingTerm(weight: options.mmiWeight, scores: scores.map { $0 / Double(lastTurn.count + 1) })
        }
        return try rerank(candidates, lengthNormalization: options.lengthNormalization, terms: [term])
    }
}

/// A conversation with a chat model that remembers what was said: each reply reads the turns
/// before it. Empty turns are ignored.
public struct ChatSession {
    public let chatbot: Chatbot
    public var options: ReplyOptions
    /// Every turn so far, the user's and the model's, oldest first.
    public private(set) var turns: [String] = []

    public init(chatbot: Chatbot, options: ReplyOptions = ReplyOptions()) {
        self.chatbot = chatbot
        self.options = options
    }

    /// The model's reply to `text`, or nil when `text` holds nothing to reply to (it is then
    /// not part of the conversation). Sampling draws differ from turn to turn.
    public mutating func respond(to text: String) throws -> ChatReply? {
        guard !chatbot.tokenizer.tokenize(text).isEmpty else { return nil }
        var options = self.options
        options.seed = self.options.seed &+ UInt64(turns.count)
        let reply = try chatbot.reply(to: text, context: turns, options: options)
        turns.append(text)
        if !reply.text.isEmpty { turns.append(reply.text) }
        return reply
    }
}
