import Foundation

/// The sizes of a chat model's networks. Stored in model files as its `LayerSpec`.
public struct ChatArchitecture: Codable, Equatable, Sendable {
    /// Context (the previous turns, joined by a separator token) -> reply.
    public var replies: Seq2SeqArchitecture
    /// Reply -> the turn it answers: log p(S|T) for MMI-bidi reranking (nil: not trained).
    public var contexts: Seq2SeqArchitecture?
    /// Replies alone: log p(T) for MMI-antiLM reranking (nil: not trained).
    public var replyLanguageModel: LanguageModelArchitecture?

    public init(replies: Seq2SeqArchitecture, contexts: Seq2SeqArchitecture?, replyLanguageModel: LanguageModelArchitecture?) {
        self.replies = replies
        self.contexts = contexts
        self.replyLanguageModel = replyLanguageModel
    }

    /// Sizes come from files and from users, so they are checked before anything is built.
    /// Bahdanau attention decodes a step at a time; chat scores whole replies at once, so it
    /// takes Luong attention or none.
    public func validate() throws {
        for architecture in [replies, contexts].compactMap({ $0 }) {
            try architecture.validate()
            guard architecture.attention != .bahdanau else {
                throw RecurrentError.invalidArgument("chat: the encoder-decoders use Luong attention or none, not Bahdanau")
            }
        }
        try replyLanguageModel?.validate()
    }
}

/// The networks of a chat model, each an existing network: an encoder-decoder from context to
/// reply (the one that talks), and optionally an encoder-decoder from reply back to the turn it
/// answers and a language model of replies (the two that rerank its candidates).
///
/// Parameter names: `replies.*`, `contexts.*` (those of `Seq2SeqNetwork`) and
/// `reply_lm.*` (those of `LanguageModelNetwork`). Used as a `Layer`, it encodes contexts.
public final class ChatNetwork: Layer {
    public let architecture: ChatArchitecture
    public let replies: Seq2SeqNetwork
    public let contexts: Seq2SeqNetwork?
    public let replyLanguageModel: LanguageModelNetwork?

    public init(_ architecture: ChatArchitecture, seed: UInt64 = 0) {
        self.architecture = architecture
        replies = Seq2SeqNetwork(architecture.replies, seed: seed)
        contexts = architecture.contexts.map { Seq2SeqNetwork($0, seed: seed &+ 101) }
        replyLanguageModel = architecture.replyLanguageModel.map { LanguageModelNetwork($0, seed: seed &+ 202) }
    }

    public func callAsFunction(_ input: Variable) -> Variable { replies(input) }

    public var namedParameters: [(name: String, parameter: Variable)] {
        var named = replies.namedParameters.map { ("replies." + $0.name, $0.parameter) }
        named += (contexts?.namedParameters ?? []).map { ("contexts." + $0.name, $0.parameter) }
        named += (replyLanguageModel?.namedParameters ?? []).map { ("reply_lm." + $0.name, $0.parameter) }
        return named
    }

    public var spec: LayerSpec { .chat(architecture) }
}

// MARK: - Scoring whole sequences

extension Seq2SeqNetwork {
    /// log p(target | source) of each pair (target ids without the begin and end tokens; the
    /// end token's probability included), by teacher forcing, without recording.
    func logProbabilities(sources: [[Int]], targets: [[Int]], beginID: Int, endID: Int) throws -> [Double] {
        let padded = PaddedBatch(tokenIDs: sources)
        let withEnd = targets.map { $0 + [endID] }
        return try GradientMode.withoutRecording {
            let encoded = encode(padded.values, lengths: padded.lengths)
            let inputs = PaddedBatch(tokenIDs: withEnd.map { [beginID] + $0.dropLast() })
            let logits = teacherForcedLogits(encoded, inputs: inputs.values, lengths: withEnd.map(\.count))
            return try sequenceLogProbabilities(logits, targets: withEnd)
        }
    }
}

extension LanguageModelNetwork {
    /// log p(sequence) of each sequence read after `beginID`, the end token's probability
    /// included, without recording.
    func logProbabilities(_ sequences: [[Int]], beginID: Int, endID: Int) throws -> [Double] {
        let inputs = PaddedBatch(tokenIDs: sequences.map { [beginID] + $0 })
        return try GradientMode.withoutRecording {
            try sequenceLogProbabilities(run(Variable(inputs.values), state: nil).logits, targets: sequences.map { $0 + [endID] })
        }
    }
}

/// The summed log-probability of each row's targets under logits [B, T, V] (targets may be
/// shorter than T: the rest is padding).
func sequenceLogProbabilities(_ logits: Variable, targets: [[Int]]) throws -> [Double] {
    let (batch, time) = (logits.shape[0], logits.shape[1])
    var ids = [Int](repeating: 0, count: batch * time), mask = [Float](repeating: 0, count: batch * time)
    for (b, target) in targets.enumerated() {
        for (t, id) in target.prefix(time).enumerated() { ids[b * time + t] = id; mask[b * time + t] = 1 }
    }
    let losses = try crossEntropy(logits: logits, targets: ids, mask: Tensor(shape: [batch, time], scalars: mask), reduction: .none)
    let values = losses.value.scalars
    return (0..<batch).map { b in -values[(b * time)..<((b + 1) * time)].reduce(0.0) { $0 + Double($1) } }
}
