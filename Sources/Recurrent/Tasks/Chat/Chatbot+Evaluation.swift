import Foundation

/// How well a chat model does on held-out dialogue: how likely it finds the real replies, and
/// what its own replies are like.
public struct ChatScore: Codable, Sendable {
    public var exchanges = 0
    /// Distinct contexts, each answered once.
    public var contexts = 0
    /// Reply tokens predicted (end tokens included) and their mean cross-entropy in nats.
    public var replyTokens = 0
    public var crossEntropy = 0.0
    /// Corpus BLEU-4 of the replies, each against every real reply to the same context.
    public var bleu = 0.0
    /// Distinct unigrams and bigrams of the replies over all their unigrams and bigrams
    /// (Li et al., 2016): low when the model says the same few things to everyone.
    public var distinct1 = 0.0
    public var distinct2 = 0.0
    public var meanReplyLength = 0.0

    public var perplexity: Double { exp(crossEntropy) }

    /// One JSON line.
    public var json: String {
        String(format: "{\"exchanges\": %d, \"contexts\": %d, \"reply_tokens\": %d, \"perplexity\": %.4f, \"bleu\": %.5f, "
               + "\"distinct_1\": %.5f, \"distinct_2\": %.5f, \"mean_reply_length\": %.3f}",
               exchanges, contexts, replyTokens, perplexity, bleu, distinct1, distinct2, meanReplyLength)
    }

    /// "perplexity 98.3, BLEU 0.0123, distinct-1 0.041, distinct-2 0.122, 7.1 tokens a reply".
    public var summary: String {
        String(format: "perplexity %.2f, BLEU %.4f, distinct-1 %.4f, distinct-2 %.4f, %.1f tokens a reply",
               perplexity, bleu, distinct1, distinct2, meanReplyLength)
    }
}

/// One held-out exchange with the model's reply.
public struct ChatExchangeSample: Sendable {
    /// Where the real reply was read ("hamlet.md, ACT I, SCENE I").
    public var conversation: String
    public var context: [String]
    public var reference: String
    public var reply: String
}

/// A part of a model's training split.
public enum ChatPart: String, Sendable, CaseIterable {
    case train, validation, test
}

/// Exchanges as the model reads them: token ids of each context (turns joined by the separator)
/// and of each reply, and the ids a reference implementation needs.
public struct ChatExchangeIDs: Sendable {
    public var contexts: [[Int]]
    public var replies: [[Int]]
    /// "vocabulary V begin B end E separator S".
    public var header: String
}

extension Chatbot {
    /// The part of `dialogue` this model's training held out for its test (by play or
    /// conversation). An error when none of those groups is in `dialogue`.
    public func heldOutTest(_ dialogue: Dialogue) throws -> Dialogue { try heldOutPart(.test, of: dialogue) }

    /// The groups of `dialogue` in `part` of this model's training split (train: those neither
    /// held out for the test nor for validation). An error when there are none.
    public func heldOutPart(_ part: ChatPart, of dialogue: Dialogue) throws -> Dialogue {
        let heldOutGroups = Set(heldOut.test + heldOut.validation)
        let kept: Dialogue
        switch part {
        case .test: kept = dialogue.keeping(groups: Set(heldOut.test))
        case .validation: kept = dialogue.keeping(groups: Set(heldOut.validation))
        case .train: kept = dialogue.keeping(groups: Set(dialogue.groups.filter { !heldOutGroups.contains($0) }))
        }
        guard !kept.conversations.isEmpty else {
            let groups = part == .test ? heldOut.test : heldOut.validation
            throw RecurrentError.invalidArgument("none of the \(groups.count) groups of this model's \(part.rawValue) part is in these dialogues "
                + "(first: \(groups.first ?? "none")); pass the files it was trained on")
        }
        return kept
    }

    /// Every exchange of `dialogue` as the model reads it.
    public func encodedExchanges(_ dialogue: Dialogue) -> ChatExchangeIDs {
        let encoded = encode(dialogue.exchanges(contextTurns: configuration.contextTurns))
        return ChatExchangeIDs(contexts: encoded.contexts, replies: encoded.replies,
                               header: "vocabulary \(vocabulary.count) begin \(beginID) end \(endID) separator \(separatorID)")
    }

    /// Scores the model on every exchange of `dialogue`: the perplexity of the real replies,
    /// and BLEU, distinct-1 and distinct-2 of its own replies (one per distinct context, written
    /// with `options`). Also returns every exchange with the model's reply, in order. With a
    /// `communicator`, each process scores and answers its share of the batches; the figures
    /// are the same, bit for bit, on any number of processes.
    public func evaluate(_ dialogue: Dialogue, options: ReplyOptions = ReplyOptions(), progress: ProgressReporter? = nil,
                         communicator: (any Communicator)? = nil) throws
        -> (score: ChatScore, samples: [ChatExchangeSample])
    {
        let exchanges = dialogue.exchanges(contextTurns: configuration.contextTurns)
        guard !exchanges.isEmpty else {
            throw RecurrentError.invalidArgument("no exchanges to score: every conversation has a single turn")
        }
        let encoded = encode(exchanges)
        var score = ChatScore()
        score.exchanges = exchanges.count
        score.crossEntropy = try meanReplyLoss(encoded, communicator: communicator)
        score.replyTokens = encoded.replies.reduce(0) { $0 + $1.count + 1 }

        // One reply per distinct context, scored against every real reply to it.
        var contextIndex: [[Int]: Int] = [:], distinct: [Int] = [], contextOf: [Int] = []
        for (index, context) in encoded.contexts.enumerated() {
            if contextIndex[context] == nil { contextIndex[context] = distinct.count; distinct.append(index) }
            contextOf.append(contextIndex[context] ?? 0)
        }
        var started = Date()
        let outputs = try generate(contexts: distinct.map { encoded.contexts[$0] }, lastTurns: distinct.map { encoded.lastTurns[$0] },
                                   options: options, communicator: communicator) { done in
            guard Date().timeIntervalSince(started) > 30 else { return }
            started = Date()
            progress?.note("replied to \(done) of \(distinct.count) contexts")
        }.map { $0.first?.tokens ?? [] }
        var references = [[[String]]](repeating: [], count: distinct.count)
        for (index, exchange) in exchanges.enumerated() { references[contextOf[index]].append(replyTurn(exchange.reply).tokens) }
        var bleu = Seq2SeqScore()
        let replies = outputs.map { $0.map(vocabulary.token) }
        for (reply, referenceList) in zip(replies, references) { bleu.add(output: reply, references: referenceList) }
        score.contexts = distinct.count
        score.bleu = bleu.bleu
        score.distinct1 = Self.distinct(replies, n: 1)
        score.distinct2 = Self.distinct(replies, n: 2)
        score.meanReplyLength = Double(replies.reduce(0) { $0 + $1.count }) / Double(max(replies.count, 1))
        let samples = exchanges.enumerated().map { index, exchange in
            ChatExchangeSample(conversation: dialogue.conversations[exchange.conversation].name, context: exchange.context,
                               reference: exchange.reply, reply: text(outputs[contextOf[index]]))
        }
        return (score, samples)
    }

    /// Distinct n-grams over all n-grams of `outputs` (0 when there are none).
    static func distinct(_ outputs: [[String]], n: Int) -> Double {
        var seen = Set<[String]>(), total = 0
        for output in outputs where output.count >= n {
            for start in 0...(output.count - n) { seen.insert(Array(output[start..<(start + n)])) }
            total += output.count - n + 1
        }
        return total > 0 ? Double(seen.count) / Double(total) : 0
    }
}
