import Foundation
import Recurrent

/// A request of OpenAI's API (`/v1/chat/completions`, `/v1/completions`) as the models here can
/// answer it. Every documented parameter is read: those that change nothing here (`user`,
/// `store`, zero penalties...) are accepted, those that ask for what these models cannot do
/// (tools, images, log-probabilities, JSON output) are refused by name, and so is any field
/// OpenAI's API does not have. `null` stands for a field left out, as OpenAI's API reads it.
struct OpenAIRequest {
    enum Prompt {
        /// The turns of a conversation, oldest first (system and tool messages left out).
        case conversation([String])
        /// Texts to continue, one completion (or `n`) each.
        case texts([String])
    }

    var model: String
    var prompt: Prompt
    var maxTokens: Int?
    /// nil: the model's own decoding (beam search for a chat model, temperature 1 for a
    /// language model); 0: the most likely reply; above 0: sampling.
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var n = 1
    var seed: UInt64?
    var stop: [String] = []
    var stream = false
    var includeUsage = false
    var echo = false
    /// Extensions for chat models: a beam's width, its length normalization, a repetition
    /// penalty and MMI reranking (the names of `recurrent chat reply`'s flags, as vLLM names its
    /// own extensions beside OpenAI's).
    var beam: Int?
    var lengthNormalization: Double?
    var repetitionPenalty: Double?
    var rerank: ReplyReranking?
    var mmiWeight: Double?

    static let maximumChoices = 16
    static let maximumStops = 4
    static let maximumMessages = 1_000

    /// Reads a chat completion request (`messages`) or a completion request (`prompt`).
    init(_ document: JSON, chat: Bool) throws {
        guard case .object(let object) = document else {
            throw ServerError.badRequest("request body is \(document.kindName), expected a JSON object")
        }
        var fields = Fields(object: object.filter { $0.value != .null }, context: "request body")
        model = try fields.requiredString("model")
        if chat {
            guard let messages = fields.value("messages") else { throw fields.fail("messages", "is missing") }
            prompt = .conversation(try Self.conversation(messages))
            maxTokens = try fields.integer("max_completion_tokens", in: 1...10_000) ?? fields.integer("max_tokens", in: 1...10_000)
        } else {
            guard let value = fields.value("prompt") else { throw fields.fail("prompt", "is missing") }
            prompt = .texts(try Self.texts(value))
            maxTokens = try fields.integer("max_tokens", in: 0...10_000) ?? 16
            echo = try fields.bool("echo") ?? false
            if let suffix = try fields.string("suffix"), !suffix.isEmpty {
                throw fields.fail("suffix", "is not supported: these models continue a text, they do not fill one in")
            }
            if let bestOf = try fields.integer("best_of", in: 1...Self.maximumChoices), bestOf != 1 {
                throw fields.fail("best_of", "is not supported (only 1); ask for n completions instead")
            }
        }
        temperature = try fields.number("temperature")
        if let temperature, !(0...2).contains(temperature) { throw fields.fail("temperature", "is \(temperature), expected 0 to 2") }
        topP = try fields.number("top_p")
        if let topP, !(topP > 0 && topP <= 1) { throw fields.fail("top_p", "is \(topP), expected above 0 and at most 1") }
        topK = try fields.integer("top_k", in: 1...1_000_000)
        n = try fields.integer("n", in: 1...Self.maximumChoices) ?? 1
        seed = try fields.integer("seed", in: Int(Int64.min)...Int(Int64.max)).map { UInt64(bitPattern: Int64($0)) }
        stop = try Self.stops(&fields)
        stream = try fields.bool("stream") ?? false
        if var options = try fields.object("stream_options") {
            includeUsage = try options.bool("include_usage") ?? false
            _ = try options.bool("include_obfuscation")
            try options.finish()
            guard stream else { throw fields.fail("stream_options", "is given without \"stream\": true") }
        }
        beam = try fields.integer("beam", in: 1...64)
        lengthNormalization = try ChatRequest.bounded(&fields, "length_penalty", ChatRequest.lengthNormalizations)
        repetitionPenalty = try ChatRequest.bounded(&fields, "repetition_penalty", ChatRequest.repetitionPenalties)
        if let name = try fields.string("rerank") {
            guard let reranking = ReplyReranking(rawValue: name) else {
                throw fields.fail("rerank", "is \"\(name)\", expected one of: \(ReplyReranking.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            rerank = reranking
        }
        mmiWeight = try ChatRequest.bounded(&fields, "mmi_weight", ChatRequest.mmiWeights)
        try Self.refuseWhatCannotBeDone(&fields, chat: chat)
        try fields.finish()
    }

    /// Parameters of OpenAI's API that change nothing here at their neutral values, and are
    /// refused at any other (naming what the models cannot do).
    static func refuseWhatCannotBeDone(_ fields: inout Fields, chat: Bool) throws {
        for name in ["frequency_penalty", "presence_penalty"] {
            if let value = try fields.number(name), value != 0 {
                throw fields.fail(name, "is not supported (only 0); \"repetition_penalty\" divides the scores of tokens already written")
            }
        }
        if let bias = try fields.object("logit_bias"), !bias.values.isEmpty {
            throw fields.fail("logit_bias", "is not supported (only {})")
        }
        if let value = fields.value("logprobs") {
            let asked = value.boolValue ?? ((value.numberValue ?? 1) != 0)
            if asked { throw fields.fail("logprobs", "is not supported: replies come without log-probabilities") }
        }
        if let count = try fields.integer("top_logprobs", in: 0...20), count != 0 {
            throw fields.fail("top_logprobs", "is not supported (only 0)")
        }
        // Accepted and not used: who asks, where OpenAI would store the exchange, its service tier.
        _ = try fields.string("user")
        _ = try fields.object("metadata")
        _ = try fields.bool("store")
        _ = try fields.string("service_tier")
        _ = try fields.string("prompt_cache_key")
        _ = try fields.string("safety_identifier")
        guard chat else { return }
        if let tools = fields.value("tools"), tools.arrayValue?.isEmpty != true {
            throw fields.fail("tools", "is not supported: these models cannot call tools")
        }
        if let functions = fields.value("functions"), functions.arrayValue?.isEmpty != true {
            throw fields.fail("functions", "is not supported: these models cannot call functions")
        }
        for name in ["tool_choice", "function_call"] {
            if let choice = fields.value(name), choice.stringValue.map({ $0 == "none" || $0 == "auto" }) != true {
                throw fields.fail(name, "is not supported: these models cannot call tools (only \"none\" or \"auto\")")
            }
        }
        _ = try fields.bool("parallel_tool_calls")
        if var format = try fields.object("response_format") {
            let type = try format.string("type") ?? "text"
            _ = format.value("json_schema")
            try format.finish()
            guard type == "text" else { throw fields.fail("response_format", "is \"\(type)\": these models write text only (\"text\")") }
        }
        if let modalities = try fields.strings("modalities"), modalities.contains(where: { $0 != "text" }) {
            throw fields.fail("modalities", "asks for \(modalities.joined(separator: ", ")): these models write text only")
        }
        for name in ["audio", "prediction", "web_search_options"] {
            if fields.value(name) != nil { throw fields.fail(name, "is not supported by these models") }
        }
        if let effort = try fields.string("reasoning_effort") {
            throw fields.fail("reasoning_effort", "is \"\(effort)\": these models do not reason in steps")
        }
        _ = try fields.string("verbosity")
    }

    /// The turns of `messages`: each a string, or a list of text parts; system, developer and
    /// tool messages left out (the models here have no instructions and call no tools).
    static func conversation(_ value: JSON) throws -> [String] {
        guard let messages = value.arrayValue, !messages.isEmpty else {
            throw ServerError.badRequest("request body: field \"messages\" is \(value.kindName == "an array" ? "empty" : value.kindName + ", expected an array of messages")")
        }
        guard messages.count <= maximumMessages else {
            throw ServerError.badRequest("request body: field \"messages\" has \(messages.count) messages, over the limit of \(maximumMessages)")
        }
        var turns: [String] = []
        for (index, message) in messages.enumerated() {
            let place = "messages[\(index)]"
            guard case .object(let object) = message else {
                throw ServerError.badRequest("request body: \(place) is \(message.kindName), expected an object with \"role\" and \"content\"")
            }
            var fields = Fields(object: object.filter { $0.value != .null }, context: "request body, \(place)")
            let role = try fields.requiredString("role")
            guard ["system", "developer", "user", "assistant", "tool", "function"].contains(role) else {
                throw fields.fail("role", "is \"\(role)\", expected system, developer, user, assistant or tool")
            }
            _ = try fields.string("name")
            _ = fields.value("tool_call_id")
            _ = fields.value("tool_calls")
            _ = fields.value("function_call")
            _ = fields.value("refusal")
            _ = fields.value("audio")
            let content = fields.value("content")
            try fields.finish()
            if ["system", "developer", "tool", "function"].contains(role) { continue }
            guard let content else {
                if role == "assistant" { continue } // a tool call, without text
                throw fields.fail("content", "is missing")
            }
            turns.append(try text(content, place: "\(place).content"))
        }
        guard let last = turns.last, !last.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ServerError.badRequest("request body: field \"messages\" has no user or assistant message with text to reply to")
        }
        return turns
    }

    /// A message's content: a string, or parts of which only text ones are read.
    static func text(_ content: JSON, place: String) throws -> String {
        if let text = content.stringValue { return text }
        guard let parts = content.arrayValue else {
            throw ServerError.badRequest("request body: \(place) is \(content.kindName), expected a string or a list of text parts")
        }
        return try parts.enumerated().map { index, part -> String in
            guard case .object(let object) = part else {
                throw ServerError.badRequest("request body: \(place)[\(index)] is \(part.kindName), expected {\"type\": \"text\", \"text\": ...}")
            }
            var fields = Fields(object: object, context: "request body, \(place)[\(index)]")
            let type = try fields.requiredString("type")
            guard type == "text" else {
                throw fields.fail("type", "is \"\(type)\": these models read text only")
            }
            let text = try fields.requiredString("text")
            try fields.finish()
            return text
        }.joined(separator: "\n")
    }

    /// A completion's prompt: a string or a list of strings (token ids are refused: each
    /// model has its own vocabulary, which a client does not know).
    static func texts(_ value: JSON) throws -> [String] {
        if let text = value.stringValue { return [text] }
        guard let items = value.arrayValue, !items.isEmpty else {
            throw ServerError.badRequest("request body: field \"prompt\" is \(value.kindName), expected a string or a non-empty list of strings")
        }
        guard items.count <= maximumChoices else {
            throw ServerError.badRequest("request body: field \"prompt\" has \(items.count) texts, over the limit of \(maximumChoices)")
        }
        return try items.enumerated().map { index, item in
            guard let text = item.stringValue else {
                throw ServerError.badRequest("request body: field \"prompt\"[\(index)] is \(item.kindName), expected a string (token ids are not read)")
            }
            return text
        }
    }

    static func stops(_ fields: inout Fields) throws -> [String] {
        guard let value = fields.value("stop") else { return [] }
        let stops: [String]
        if let one = value.stringValue {
            stops = [one]
        } else if let list = value.arrayValue {
            stops = try list.enumerated().map { index, item in
                guard let text = item.stringValue else { throw fields.fail("stop", "[\(index)] is \(item.kindName), expected a string") }
                return text
            }
        } else {
            throw fields.fail("stop", "is \(value.kindName), expected a string or a list of strings")
        }
        guard stops.count <= maximumStops else { throw fields.fail("stop", "has \(stops.count) strings, over the limit of \(maximumStops)") }
        if stops.contains("") { throw fields.fail("stop", "holds an empty string") }
        return stops
    }

    /// A chat model's decoding for choice `index`: its own (beam search) unless a temperature
    /// above 0 asks for sampling.
    func replyOptions(choice index: Int) throws -> ReplyOptions {
        var options = ReplyOptions()
        if let temperature, temperature > 0 {
            options.strategy = .sample
            options.sampling = SamplingOptions(temperature: temperature, topK: topK, topP: topP ?? 1)
        } else if topK != nil || topP != nil, temperature == nil {
            options.strategy = .sample
            options.sampling = SamplingOptions(temperature: 1, topK: topK, topP: topP ?? 1)
        }
        options.candidates = max(beam ?? options.candidates, options.strategy == .beam ? n : 1)
        if let lengthNormalization { options.lengthNormalization = lengthNormalization }
        if let repetitionPenalty { options.repetitionPenalty = RepetitionPenalty(repetitionPenalty) }
        if let rerank { options.reranking = rerank }
        if let mmiWeight { options.mmiWeight = mmiWeight }
        options.seed = (seed ?? 0) &+ UInt64(index)
        options.maximumTokens = maxTokens
        do { try options.validate() } catch let error as RecurrentError { throw ServerError.badRequest("request body: \(error.description)") }
        return options
    }

    /// A language model's sampling: temperature 1 unless given; 0 is the most likely token.
    var sampling: SamplingOptions {
        get throws {
            let sampling: SamplingOptions
            if let temperature, temperature == 0 {
                sampling = SamplingOptions(temperature: 1, topK: 1)
            } else {
                sampling = SamplingOptions(temperature: temperature ?? 1, topK: topK, topP: topP)
            }
            do { try sampling.validate() } catch let error as RecurrentError { throw ServerError.badRequest("request body: \(error.description)") }
            return sampling
        }
    }
}
