import Foundation
import Recurrent

// MARK: - Chat models

extension TaskRoute {
    static func isChatbot(_ task: ServedTask) -> Bool {
        if case .chatbot = task { return true }
        return false
    }

    /// The longest conversation the reply route reads, in turns (the model reads only its last
    /// few; the rest is refused rather than carried).
    static let maximumTurns = 1_000

    /// `POST /v2/models/{m}/reply`: `recurrent chat reply` over HTTP.
    static let reply = TaskRoute(
        name: "reply", summary: "A chat model's reply to a message, the conversation before it in \"context\" (oldest first).",
        streams: false, applies: isChatbot, requestSchema: Schemas.replyRequest, responseSchema: Schemas.replyResponse
    ) { model, body, executor in
        guard case .chatbot(let chatbot) = model.task else { throw ServerError.notFound("no chat model") }
        var fields = try Fields(body, context: "request body")
        let message = try fields.requiredString("message")
        let context = try fields.strings("context") ?? []
        guard context.count < maximumTurns else { throw fields.fail("context", "has \(context.count) turns, over the limit of \(maximumTurns - 1)") }
        let options = try ChatRequest.options(&fields)
        try fields.finish()
        let reply = try await ChatRequest.reply(model, chatbot: chatbot, message: message, context: context, options: options, executor: executor)
        return .json(.object([
            "model_name": .string(model.name), "reply": .string(reply.text), "tokens": .array(reply.tokens.map(JSON.string)),
            "candidates": .array(reply.candidates.map { .object(["text": .string($0.text), "score": .number($0.score)]) }),
            "truncated_turns": .number(Double(reply.truncatedTurns)),
        ]))
    }
}

/// What every way of asking a chat model shares: the decoding options (the names of `recurrent
/// chat reply`'s flags, in snake case) and the trip to the model thread.
enum ChatRequest {
    /// The longest message read, in characters (the model reads only its last tokens).
    static let maximumCharacters = 100_000

    /// The ranges of the scores' knobs: beyond them a candidate's score leaves the doubles
    /// (found by schemathesis: a length normalization of 1e300 gave scores of -inf).
    static let lengthNormalizations = 0.0...10.0, repetitionPenalties = 0.01...100.0, mmiWeights = 0.0...100.0

    static func bounded(_ fields: inout Fields, _ name: String, _ range: ClosedRange<Double>) throws -> Double? {
        guard let value = try fields.number(name) else { return nil }
        guard range.contains(value) else { throw fields.fail(name, "is \(value), expected \(range.lowerBound) to \(range.upperBound)") }
        return value
    }

    static func options(_ fields: inout Fields) throws -> ReplyOptions {
        var options = ReplyOptions()
        if let decoding = try fields.string("decoding") {
            guard let strategy = ReplyStrategy(rawValue: decoding) else {
                throw fields.fail("decoding", "is \"\(decoding)\", expected one of: \(ReplyStrategy.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.strategy = strategy
        }
        if let beam = try fields.integer("beam", in: 1...64) { options.candidates = beam }
        if let alpha = try bounded(&fields, "length_normalization", lengthNormalizations) { options.lengthNormalization = alpha }
        let temperature = try fields.number("temperature"), topP = try fields.number("top_p")
        options.sampling = SamplingOptions(temperature: temperature ?? options.sampling.temperature, topP: topP ?? options.sampling.topP)
        if let penalty = try bounded(&fields, "repetition_penalty", repetitionPenalties) { options.repetitionPenalty = RepetitionPenalty(penalty) }
        if let rerank = try fields.string("rerank") {
            guard let reranking = ReplyReranking(rawValue: rerank) else {
                throw fields.fail("rerank", "is \"\(rerank)\", expected one of: \(ReplyReranking.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.reranking = reranking
        }
        if let weight = try bounded(&fields, "mmi_weight", mmiWeights) { options.mmiWeight = weight }
        if let seed = try fields.integer("seed", in: 0...Int(Int64.max)) { options.seed = UInt64(seed) }
        options.maximumTokens = try fields.integer("max_tokens", in: 1...10_000)
        do { try options.validate() } catch let error as RecurrentError { throw ServerError.badRequest("request body: \(error.description)") }
        return options
    }

    /// The reply on the model thread; a message with no word in it is a 400 naming it.
    static func reply(_ model: ServedModel, chatbot: Chatbot, message: String, context: [String], options: ReplyOptions,
                      executor: ModelExecutor) async throws -> ChatReply {
        for (index, turn) in (context + [message]).enumerated() where turn.count > maximumCharacters {
            let name = index == context.count ? "message" : "context[\(index)]"
            throw ServerError.badRequest("request body: \(name) has \(turn.count) characters, over the limit of \(maximumCharacters)")
        }
        let box = UncheckedBox(chatbot)
        var reply = try await executor.run(model) { try box.value.reply(to: message, context: context, options: options) }
        // A candidate the model gives no chance at all (-inf) cannot be ranked or sent as JSON.
        reply.candidates.removeAll { !$0.score.isFinite }
        return reply
    }
}
