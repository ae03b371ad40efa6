import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Recurrent

/// OpenAI's API for the models that write text, so that its clients (the `openai` packages,
/// LangChain, chat front ends) talk to them unchanged: `GET /v1/models`, `POST
/// /v1/chat/completions` (chat models, and language models reading the conversation as text)
/// and `POST /v1/completions` (language models, and chat models replying to the prompt), with
/// server-sent events on `"stream": true`. Errors are OpenAI's `{"error": {"message", "type",
/// "param", "code"}}`.
struct OpenAIRoutes {
    let routes: Routes
    var server: ModelServer { routes.server }

    /// What a language model reads as a conversation: the turns, each followed by a blank line;
    /// its reply ends at the next blank line.
    static let turnSeparator = "\n\n"
    /// A language model's reply in a chat, in tokens, when the request sets none.
    static let defaultChatTokens = 100

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v1/models") { _, _ in
            Reply.json(.object(["object": .string("list"), "data": .array(server.modelOrder.compactMap { try? description(server.model($0)) })]))
        }
        router.get("/v1/models/:model") { _, context in
            do {
                return Reply.json(description(try server.model(context.parameters.get("model"))))
            } catch {
                return Self.error(ModelExecutor.serverError(error), param: "model")
            }
        }
        router.post("/v1/chat/completions") { request, _ in
            await handle(request, chat: true)
        }
        router.post("/v1/completions") { request, _ in
            await handle(request, chat: false)
        }
    }

    func description(_ model: ServedModel) -> JSON {
        .object(["id": .string(model.name), "object": .string("model"), "created": .number(Double(server.started)),
                 "owned_by": .string("recurrent"), "task": .string(model.task.name)])
    }

    static func writesText(_ task: ServedTask) -> Bool {
        switch task {
        case .chatbot, .languageModel: return true
        default: return false
        }
    }

    /// The names of the models these routes serve, in the server's order.
    static func textModels(_ server: ModelServer) -> [String] {
        server.modelOrder.filter { (try? server.model($0)).map { writesText($0.task) } ?? false }
    }

    // MARK: - Completions

    func handle(_ request: Request, chat: Bool) async -> Response {
        let started = ModelExecutor.now()
        let endpoint = chat ? "chat.completions" : "completions"
        var served: ServedModel?
        do {
            let parsed = try OpenAIRequest(try Routes.document(try await routes.collect(request)), chat: chat)
            let model: ServedModel
            do { model = try server.model(parsed.model) } catch let error as ServerError {
                throw OpenAIError(error, param: "model", code: "model_not_found")
            }
            served = model
            guard Self.writesText(model.task) else {
                let writers = Self.textModels(server)
                throw OpenAIError(.badRequest("model \"\(model.name)\" (\(model.task.name)) does not write text; /v1/\(endpoint.replacingOccurrences(of: ".", with: "/")) "
                                              + "serves chat models and language models (here: \(writers.isEmpty ? "none" : writers.joined(separator: ", ")))"),
                                  param: "model", code: "model_not_supported")
            }
            try Self.check(parsed, for: model)
            let completion = Completion(model: model, request: parsed, chat: chat, executor: server.executor)
            if parsed.stream {
                return completion.events { outcome in
                    server.metrics.request(model: model.name, endpoint: endpoint, outcome: outcome, seconds: ModelExecutor.now() - started)
                }
            }
            let response = Reply.json(try await completion.whole())
            server.metrics.request(model: model.name, endpoint: endpoint, outcome: "success", seconds: ModelExecutor.now() - started)
            return response
        } catch {
            let failure = error as? OpenAIError ?? OpenAIError(ModelExecutor.serverError(error))
            if let served {
                server.metrics.request(model: served.name, endpoint: endpoint, outcome: failure.error.outcome, seconds: ModelExecutor.now() - started)
            }
            return Self.error(failure.error, param: failure.param, code: failure.code)
        }
    }

    /// What can be refused before a stream starts (an error then is a 400, not an event after
    /// a 200): the decoding options, and a reranking the model was not trained for.
    static func check(_ request: OpenAIRequest, for model: ServedModel) throws {
        switch model.task {
        case .chatbot(let chatbot):
            let options = try request.replyOptions(choice: 0)
            guard chatbot.availableRerankings.contains(options.reranking) else {
                throw OpenAIError(.badRequest("request body: field \"rerank\" is \"\(options.reranking.rawValue)\", which model \"\(model.name)\" "
                                              + "was not trained for (it can: \(chatbot.availableRerankings.map(\.rawValue).joined(separator: ", ")))"),
                                  param: "rerank")
            }
        case .languageModel:
            _ = try request.sampling
        default:
            break
        }
    }

    static func errorBody(_ error: ServerError, param: String? = nil, code: String? = nil) -> JSON {
        let type: String
        switch error.status {
        case 429: type = "rate_limit_exceeded"
        case 400..<500: type = "invalid_request_error"
        default: type = "server_error"
        }
        return .object(["error": .object(["message": .string(error.message), "type": .string(type),
                                          "param": param.map(JSON.string) ?? .null, "code": code.map(JSON.string) ?? .null])])
    }

    static func error(_ error: ServerError, param: String? = nil, code: String? = nil) -> Response {
        Reply.json(errorBody(error, param: param, code: code), status: HTTPResponse.Status(code: error.status))
    }
}

/// A refusal with the field it is about, in OpenAI's shape.
struct OpenAIError: Error {
    let error: ServerError
    var param: String?
    var code: String?

    init(_ error: ServerError, param: String? = nil, code: String? = nil) {
        self.error = error
        self.param = param ?? Self.field(of: error.message)
        self.code = code
    }

    /// The field a message names (`field "top_p" ...`), for `param`.
    static func field(of message: String) -> String? {
        guard let start = message.range(of: "field \"")?.upperBound, let end = message[start...].firstIndex(of: "\"") else { return nil }
        return String(message[start..<end])
    }
}

/// One request's choices, written whole or piece by piece.
struct Completion: Sendable {
    let model: ServedModel
    let request: OpenAIRequest
    let chat: Bool
    let executor: ModelExecutor
    let id: String
    let created: Int

    init(model: ServedModel, request: OpenAIRequest, chat: Bool, executor: ModelExecutor) {
        self.model = model
        self.request = request
        self.chat = chat
        self.executor = executor
        id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        created = Int(Date().timeIntervalSince1970)
    }

    /// What one choice reports as it is written: pieces of text, then its end.
    enum Event: Sendable {
        case text(choice: Int, String)
        case finished(choice: Int, reason: String)
    }

    struct Usage: Sendable {
        var prompt = 0
        var completion = 0
    }

    /// Writes every choice in order, handing each piece to `emit`; returns the tokens read and written.
    func run(_ emit: (Event) async throws -> Void) async throws -> Usage {
        var usage = Usage()
        switch model.task {
        case .chatbot(let chatbot):
            let prompts: [(context: [String], message: String, echo: String)]
            switch request.prompt {
            case .conversation(let turns): prompts = [(Array(turns.dropLast()), turns[turns.count - 1], "")]
            case .texts(let texts): prompts = texts.map { ([], $0, request.echo ? $0 : "") }
            }
            for (promptIndex, prompt) in prompts.enumerated() {
                let replies = try await chatReplies(chatbot, context: prompt.context, message: prompt.message)
                usage.prompt += replies.contextTokens
                for (k, reply) in replies.candidates.enumerated() {
                    let choice = promptIndex * request.n + k
                    if !prompt.echo.isEmpty { try await emit(.text(choice: choice, prompt.echo)) }
                    var words = Self.words(reply.text).makeIterator()
                    try await send(choice: choice, stops: request.stop, reason: reply.reachedLimit ? "length" : "stop", next: { words.next() }, emit)
                    usage.completion += reply.tokenCount
                }
            }
        case .languageModel:
            let prompts: [String]
            var stops = request.stop
            var length = request.maxTokens ?? 16
            switch request.prompt {
            case .conversation(let turns):
                prompts = [turns.joined(separator: OpenAIRoutes.turnSeparator) + OpenAIRoutes.turnSeparator]
                stops.append(OpenAIRoutes.turnSeparator)
                length = request.maxTokens ?? OpenAIRoutes.defaultChatTokens
            case .texts(let texts):
                prompts = texts
            }
            let sampling = try request.sampling
            for (promptIndex, prompt) in prompts.enumerated() {
                for k in 0..<request.n {
                    let choice = promptIndex * request.n + k
                    let generation = try await TextGeneration.start(model, prompt: prompt, length: length, sampling: sampling,
                                                                    seed: (request.seed ?? 0) &+ UInt64(choice), executor: executor)
                    if k == 0 { usage.prompt += generation.promptTokens }
                    if request.echo { try await emit(.text(choice: choice, prompt)) }
                    try await send(choice: choice, stops: stops, reason: "length", next: { try await generation.next(executor) }, emit)
                    usage.completion += generation.generatedTokens
                }
            }
        default:
            throw ServerError.badRequest("model \"\(model.name)\" does not write text")
        }
        return usage
    }

    /// One choice's pieces (`next` until nil) through the stop strings, then its finish reason:
    /// "stop" where a stop string cut it, else `reason`.
    func send(choice: Int, stops: [String], reason: String, next: () async throws -> String?,
              _ emit: (Event) async throws -> Void) async throws {
        var scanner = StopScanner(stops: stops)
        while let piece = try await next() {
            let (shown, stopped) = scanner.add(piece)
            if !shown.isEmpty { try await emit(.text(choice: choice, shown)) }
            if stopped { return try await emit(.finished(choice: choice, reason: "stop")) }
        }
        if !scanner.held.isEmpty { try await emit(.text(choice: choice, scanner.held)) }
        try await emit(.finished(choice: choice, reason: reason))
    }

    /// A chat model's n replies: the n best of one beam search, or n draws.
    func chatReplies(_ chatbot: Chatbot, context: [String], message: String) async throws -> (candidates: [ReplyCandidate], contextTokens: Int) {
        let nothing = ReplyCandidate(text: "", score: 0, tokenCount: 0, reachedLimit: false)
        let first = try request.replyOptions(choice: 0)
        let reply = try await ChatRequest.reply(model, chatbot: chatbot, message: message, context: context, options: first, executor: executor)
        guard first.strategy == .sample else {
            var candidates = Array(reply.candidates.prefix(request.n))
            if candidates.isEmpty { candidates = [nothing] }
            // A beam holds fewer finished replies than asked only when the model has few ways to
            // answer: the last is repeated so that every asked choice is there.
            while candidates.count < request.n { candidates.append(candidates[candidates.count - 1]) }
            return (candidates, reply.contextTokenCount)
        }
        var candidates = [reply.candidates.first ?? nothing]
        for k in 1..<max(1, request.n) {
            let options = try request.replyOptions(choice: k)
            let drawn = try await ChatRequest.reply(model, chatbot: chatbot, message: message, context: context, options: options, executor: executor)
            candidates.append(drawn.candidates.first ?? nothing)
        }
        return (candidates, reply.contextTokenCount)
    }

    /// A written reply in pieces a word long (each with the spaces before it), for streaming.
    static func words(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = "", holdsWord = false
        for character in text {
            if character.isWhitespace, holdsWord {
                pieces.append(current)
                current = ""
                holdsWord = false
            }
            current.append(character)
            if !character.isWhitespace { holdsWord = true }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    // MARK: - Answers

    /// The whole answer as one document.
    func whole() async throws -> JSON {
        let count = request.n * promptCount
        var texts = [String](repeating: "", count: count)
        var reasons = [String](repeating: "stop", count: count)
        let usage = try await run { event in
            switch event {
            case .text(let choice, let piece): texts[choice] += piece
            case .finished(let choice, let reason): reasons[choice] = reason
            }
        }
        let choices: [JSON] = (0..<count).map { index in
            var choice: [String: JSON] = ["index": .number(Double(index)), "finish_reason": .string(reasons[index]), "logprobs": .null]
            if chat {
                choice["message"] = .object(["role": .string("assistant"), "content": .string(texts[index]), "refusal": .null])
            } else {
                choice["text"] = .string(texts[index])
            }
            return .object(choice)
        }
        return .object([
            "id": .string(id), "object": .string(chat ? "chat.completion" : "text_completion"), "created": .number(Double(created)),
            "model": .string(model.name), "system_fingerprint": .string("recurrent"), "choices": .array(choices),
            "usage": usageJSON(usage),
        ])
    }

    var promptCount: Int {
        if case .texts(let texts) = request.prompt { return texts.count }
        return 1
    }

    func usageJSON(_ usage: Usage) -> JSON {
        .object(["prompt_tokens": .number(Double(usage.prompt)), "completion_tokens": .number(Double(usage.completion)),
                 "total_tokens": .number(Double(usage.prompt + usage.completion))])
    }

    func chunk(_ choices: [JSON], usage: JSON = .null) -> JSON {
        .object(["id": .string(id), "object": .string(chat ? "chat.completion.chunk" : "text_completion"), "created": .number(Double(created)),
                 "model": .string(model.name), "system_fingerprint": .string("recurrent"), "choices": .array(choices), "usage": usage])
    }

    func choiceChunk(_ index: Int, text: String? = nil, role: Bool = false, finish: String? = nil) -> JSON {
        var choice: [String: JSON] = ["index": .number(Double(index)), "logprobs": .null, "finish_reason": finish.map(JSON.string) ?? .null]
        if chat {
            var delta: [String: JSON] = [:]
            if role { delta["role"] = .string("assistant") }
            if let text { delta["content"] = .string(text) }
            choice["delta"] = .object(delta)
        } else {
            choice["text"] = .string(text ?? "")
        }
        return .object(choice)
    }

    /// Server-sent events as OpenAI writes them: `data: {chunk}` per piece, a chunk with each
    /// choice's finish reason, the usage when asked, then `data: [DONE]`. A failure after the
    /// first event is one last event with OpenAI's error object.
    func events(finished: @escaping @Sendable (String) -> Void) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: .init { writer in
            func send(_ json: JSON) async throws {
                try await writer.write(ByteBuffer(string: "data: " + JSONWriter.encode(json) + "\n\n"))
            }
            var outcome = "success"
            do {
                var opened = Set<Int>()
                let usage = try await run { event in
                    switch event {
                    case .text(let choice, let piece):
                        let first = opened.insert(choice).inserted
                        try await send(chunk([choiceChunk(choice, text: piece, role: first)]))
                    case .finished(let choice, let reason):
                        if opened.insert(choice).inserted, chat { try await send(chunk([choiceChunk(choice, text: "", role: true)])) }
                        try await send(chunk([choiceChunk(choice, finish: reason)]))
                    }
                }
                if request.includeUsage { try await send(chunk([], usage: usageJSON(usage))) }
            } catch {
                let failure = error as? OpenAIError ?? OpenAIError(ModelExecutor.serverError(error))
                outcome = failure.error.outcome
                try await send(OpenAIRoutes.errorBody(failure.error, param: failure.param, code: failure.code))
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
            finished(outcome)
        })
    }
}

/// Holds back the end of a text that may be the start of a stop string, and cuts the text
/// before the first stop string found.
struct StopScanner {
    let stops: [String]
    /// Text not yet shown: it may begin a stop string.
    private(set) var held = ""
    private var stopped = false

    init(stops: [String]) { self.stops = stops }

    /// The text that can be shown after `piece`, and whether a stop string was met.
    mutating func add(_ piece: String) -> (shown: String, stopped: Bool) {
        guard !stopped else { return ("", true) }
        guard !stops.isEmpty else { return (piece, false) }
        held += piece
        if let cut = stops.compactMap({ held.range(of: $0)?.lowerBound }).min() {
            stopped = true
            let shown = String(held[..<cut])
            held = ""
            return (shown, true)
        }
        // The longest end of `held` that begins some stop string stays held.
        var keep = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, held.count), to: 0, by: -1) where length > keep {
                if held.hasSuffix(String(stop.prefix(length))) { keep = length; break }
            }
        }
        let shown = String(held.dropLast(keep))
        held = String(held.suffix(keep))
        return (shown, false)
    }
}
