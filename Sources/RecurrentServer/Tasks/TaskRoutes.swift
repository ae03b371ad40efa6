import Foundation
import Recurrent

/// What a task endpoint answers: one JSON document, or server-sent events (one per token).
enum TaskReply: Sendable {
    case json(JSON)
    case events(AsyncThrowingStream<JSON, any Error>)
}

/// A task endpoint, `POST /v2/models/{model}/{name}`: which models it serves, its request and
/// response schemas (for /openapi.json) and its handler. Adding a task (a speech model's
/// `transcribe`, say) is one entry of `all`.
struct TaskRoute: Sendable {
    let name: String
    let summary: String
    /// Whether it answers with server-sent events.
    let streams: Bool
    let applies: @Sendable (ServedTask) -> Bool
    let requestSchema: JSON
    let responseSchema: JSON
    let handle: @Sendable (ServedModel, JSON, ModelExecutor) async throws -> TaskReply
    /// Takes a body that is not JSON (a WAV file) as the request's "audio", in base64, with
    /// the query's parameters beside it.
    var readsAudio = false

    static let all: [TaskRoute] = [generate, generateStream, complete, forecast, classify, translate, transcribe, reply, detect, compose, draw]

    static func named(_ name: String) -> TaskRoute? { all.first { $0.name == name } }
}

// MARK: - Language models

extension TaskRoute {
    static func isLanguageModel(_ task: ServedTask) -> Bool {
        if case .languageModel = task { return true }
        return false
    }

    static let generate = TaskRoute(
        name: "generate", summary: "Continue a text (Triton's generate extension).", streams: false, applies: isLanguageModel,
        requestSchema: Schemas.generateRequest, responseSchema: Schemas.generateResponse
    ) { model, body, executor in
        let generation = try await TextGeneration.start(model, body: body, executor: executor)
        var text = ""
        while let piece = try await generation.next(executor) { text += piece }
        return .json(.object(["model_name": .string(model.name), "model_version": .string("1"), "text_output": .string(text)]))
    }

    static let generateStream = TaskRoute(
        name: "generate_stream", summary: "Continue a text, one server-sent event per token (Triton's generate extension).",
        streams: true, applies: isLanguageModel, requestSchema: Schemas.generateRequest, responseSchema: Schemas.generateResponse
    ) { model, body, executor in
        let generation = try await TextGeneration.start(model, body: body, executor: executor)
        let name = model.name
        return .events(AsyncThrowingStream { continuation in
            let producer = Task {
                do {
                    while let piece = try await generation.next(executor) {
                        guard !piece.isEmpty else { continue }
                        continuation.yield(.object(["model_name": .string(name), "model_version": .string("1"), "text_output": .string(piece)]))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in producer.cancel() }
        })
    }

    static let complete = TaskRoute(
        name: "complete", summary: "The most likely next words, or completions of the word being typed.", streams: false,
        applies: isLanguageModel, requestSchema: Schemas.completeRequest, responseSchema: Schemas.completeResponse
    ) { model, body, executor in
        guard case .languageModel(let languageModel) = model.task else { throw ServerError.notFound("no language model") }
        var fields = try Fields(body, context: "request body")
        let text = try fields.requiredString("text")
        let count = try fields.integer("count", in: 1...100) ?? 5
        try fields.finish()
        let model_ = UncheckedBox(languageModel)
        let completions = try await executor.run(model) { try model_.value.complete(text, count: count) }
        return .json(.object(["model_name": .string(model.name), "completions": .array(completions.map {
            .object(["text": .string($0.text), "probability": .number($0.probability)])
        })]))
    }
}

/// A generation in progress, advanced one token per trip to the model thread so that other
/// requests run between its tokens and a reader who leaves stops it.
final class TextGeneration: @unchecked Sendable {
    private var stream: TextGenerationStream
    private let model: ServedModel

    private let length: Int

    private init(stream: TextGenerationStream, model: ServedModel) {
        self.stream = stream
        self.model = model
        length = stream.remaining
    }

    static let maximumTokens = 10_000

    /// The prompt (`text_input`) and sampling options, from the body or its "parameters".
    static func read(_ body: JSON) throws -> (prompt: String, length: Int, sampling: SamplingOptions, seed: UInt64) {
        var fields = try Fields(body, context: "request body")
        let prompt = try fields.string("text_input") ?? ""
        var options = try fields.object("parameters") ?? Fields(object: [:], context: "request body, \"parameters\"")
        _ = try fields.bool("stream")
        let read = try readOptions(&fields)
        let nested = try readOptions(&options)
        try fields.finish()
        try options.finish()
        if let twice = Set(options.values.keys).intersection(fields.values.keys).sorted().first {
            throw ServerError.badRequest("request body: \"\(twice)\" is given both at the top level and in \"parameters\"; give it once")
        }
        return (prompt, nested.length ?? read.length ?? 100, SamplingOptions(
            temperature: nested.temperature ?? read.temperature ?? 1, topK: nested.topK ?? read.topK, topP: nested.topP ?? read.topP),
                UInt64(nested.seed ?? read.seed ?? 0))
    }

    private static func readOptions(_ fields: inout Fields) throws
        -> (length: Int?, temperature: Double?, topK: Int?, topP: Double?, seed: Int?) {
        (try fields.integer("max_tokens", in: 0...maximumTokens), try fields.number("temperature"),
         try fields.integer("top_k", in: 1...1_000_000), try fields.number("top_p"), try fields.integer("seed", in: 0...Int(Int64.max)))
    }

    static func start(_ model: ServedModel, body: JSON, executor: ModelExecutor) async throws -> TextGeneration {
        let request = try read(body)
        return try await start(model, prompt: request.prompt, length: request.length, sampling: request.sampling, seed: request.seed,
                               executor: executor)
    }

    static func start(_ model: ServedModel, prompt: String, length: Int, sampling: SamplingOptions, seed: UInt64,
                      executor: ModelExecutor) async throws -> TextGeneration {
        guard case .languageModel(let languageModel) = model.task else { throw ServerError.notFound("no language model") }
        let box = UncheckedBox(languageModel)
        return try await executor.run(model) {
            let generation = TextGeneration(stream: try TextGenerationStream(box.value, prompt: prompt, length: length, sampling: sampling, seed: seed),
                                            model: model)
            generation.promptTokens = try box.value.encode(prompt).count
            return generation
        }
    }

    /// The tokens the prompt was read as, and the tokens drawn so far.
    private(set) var promptTokens = 0
    var generatedTokens: Int { length - stream.remaining }

    /// The next piece of text, or nil at the end.
    func next(_ executor: ModelExecutor) async throws -> String? {
        try Task.checkCancellation()
        return try await executor.run(model) { self.stream.next() }
    }
}
