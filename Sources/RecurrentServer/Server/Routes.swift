import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The HTTP routes: the Open Inference Protocol's, the task endpoints, metrics, the OpenAPI
/// document and the page.
struct Routes {
    let server: ModelServer

    static let inferenceHeaderLength = HTTPField.Name("Inference-Header-Content-Length")!
    static let extensions = ["binary_tensor_data", "sequence", "generate", "model_configuration", "model_repository"]

    func register(on router: Router<BasicRequestContext>) {
        router.add(middleware: ErrorMiddleware(allowedMethods: Self.allowedMethods))
        router.get("/v2/health/live") { _, _ in Reply.json(.object(["live": .bool(true)])) }
        router.get("/v2/health/ready") { _, _ in Reply.json(.object(["ready": .bool(true)])) }
        router.get("/v2") { _, _ in
            Reply.json(.object(["name": .string("recurrent"), "version": .string("1"), "extensions": .array(Self.extensions.map(JSON.string))]))
        }
        router.post("/v2/repository/index") { request, _ in
            do {
                let body = try await collect(request)
                if !body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
                    var fields = try Fields(try Self.document(body), context: "request body")
                    _ = try fields.bool("ready")
                    try fields.finish()
                }
                return Reply.json(.array(server.modelOrder.map {
                    .object(["name": .string($0), "version": .string("1"), "state": .string("READY")])
                }))
            } catch {
                return Reply.error(ModelExecutor.serverError(error))
            }
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: server.metrics.text())))
        }
        router.get("/openapi.json") { _, _ in
            Reply.json(OpenAPIDocument.make(models: server.modelOrder, textModels: OpenAIRoutes.textModels(server)))
        }
        router.get("/") { _, _ in Reply.text(Page.html, type: "text/html; charset=utf-8") }
        router.get("/page.css") { _, _ in Reply.text(Page.css, type: "text/css; charset=utf-8") }
        router.get("/page.js") { _, _ in Reply.text(Page.script, type: "text/javascript; charset=utf-8") }
        OpenAIRoutes(routes: self).register(on: router)

        // Each model route also answers under /versions/1, the only version a file has.
        for prefix in ["/v2/models/:model", "/v2/models/:model/versions/:version"] {
            router.get(RouterPath(prefix)) { _, context in
                try reply { try metadata(model(context)) }
            }
            router.get(RouterPath(prefix + "/ready")) { _, context in
                try reply { .object(["name": .string(try model(context).name), "ready": .bool(true)]) }
            }
            router.get(RouterPath(prefix + "/config")) { _, context in
                try reply { try model(context).details }
            }
            router.post(RouterPath(prefix + "/infer")) { request, context in
                await instrument(context, endpoint: "infer") { model in
                    let body = try await collect(request)
                    let inference = try InferenceRequest(body: body, headerLength: request.headers[Self.inferenceHeaderLength])
                    let response = try await Inference.run(model, request: inference, executor: server.executor)
                    let binaryNames = Set((inference.outputs ?? []).filter(\.binary).map(\.name))
                    let encoded = response.encode { inference.outputs == nil ? inference.binaryByDefault : binaryNames.contains($0) }
                    var headers: HTTPFields = [.contentType: encoded.jsonLength == nil ? "application/json" : "application/octet-stream"]
                    if let length = encoded.jsonLength { headers[Self.inferenceHeaderLength] = String(length) }
                    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: encoded.body)))
                }
            }
            for route in TaskRoute.all {
                router.post(RouterPath(prefix + "/" + route.name)) { request, context in
                    await instrument(context, endpoint: route.name) { model in
                        guard route.applies(model.task) else {
                            throw ServerError.notFound("model \"\(model.name)\" (\(model.task.name)) has no \(route.name) endpoint; it has: "
                                                       + (TaskRoute.all.filter { $0.applies(model.task) }.map(\.name) + ["infer"]).joined(separator: ", "))
                        }
                        let body = try await collect(request)
                        let document: JSON
                        if route.readsAudio, body.first != UInt8(ascii: "{") {
                            document = Self.audioDocument(body, query: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
                        } else {
                            document = try Self.document(body)
                        }
                        switch try await route.handle(model, document, server.executor) {
                        case .json(let value): return Reply.json(value)
                        case .events(let events): return Reply.events(events)
                        }
                    }
                }
            }
        }
    }

    /// A request body as JSON; malformed JSON is a 400 naming where it breaks.
    static func document(_ body: [UInt8]) throws -> JSON {
        do { return try JSONReader.parse(body) } catch let failure as JSONReader.Failure {
            throw ServerError.badRequest("request body: \(failure)")
        }
    }

    /// A raw audio body as the JSON request the endpoint reads: the bytes in base64 under
    /// "audio", and each query parameter beside it (numbers as numbers).
    static func audioDocument(_ body: [UInt8], query: [(String, String)]) -> JSON {
        var fields: [String: JSON] = ["audio": .string(Data(body).base64EncodedString())]
        for (key, value) in query { fields[key] = Double(value).map(JSON.number) ?? .string(value) }
        return .object(fields)
    }

    func model(_ context: BasicRequestContext) throws -> ServedModel {
        try server.model(context.parameters.get("model"), version: context.parameters.get("version"))
    }

    /// A GET about a model, with its error as JSON.
    func reply(_ body: () throws -> JSON) throws -> Response {
        do { return Reply.json(try body()) } catch let error as ServerError { return Reply.error(error) }
    }

    /// Runs a model's POST, counting it by outcome and timing it; errors become JSON replies.
    func instrument(_ context: BasicRequestContext, endpoint: String, _ body: (ServedModel) async throws -> Response) async -> Response {
        let started = ModelExecutor.now()
        let model: ServedModel
        do { model = try self.model(context) } catch {
            return Reply.error(ModelExecutor.serverError(error))
        }
        let response: Response
        let outcome: String
        do {
            response = try await body(model)
            outcome = "success"
        } catch {
            let failure = ModelExecutor.serverError(error)
            response = Reply.error(failure)
            outcome = failure.outcome
        }
        server.metrics.request(model: model.name, endpoint: endpoint, outcome: outcome, seconds: ModelExecutor.now() - started)
        return response
    }

    /// The whole body, refused with 413 past --max-body-bytes (by its Content-Length before any
    /// byte is read, when it has one).
    func collect(_ request: Request) async throws -> [UInt8] {
        let limit = server.options.maxBodyBytes
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw ServerError.tooLarge("the body is \(declared) bytes, over the limit of \(limit) (--max-body-bytes)")
        }
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw ServerError(status: 415, message: "Content-Encoding \"\(encoding)\" is not accepted; send the body uncompressed")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw ServerError.tooLarge("the body is over the limit of \(limit) bytes (--max-body-bytes)")
        }
    }

    func metadata(_ model: ServedModel) -> JSON {
        .object([
            "name": .string(model.name), "versions": .array([.string("1")]), "platform": .string("recurrent"),
            "inputs": .array(model.inputs.map(\.json)), "outputs": .array(model.outputs.map(\.json)),
        ])
    }
}

/// Response builders.
enum Reply {
    static func json(_ value: JSON, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: JSONWriter.encode(value))))
    }

    static func text(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func error(_ error: ServerError) -> Response {
        json(.object(["error": .string(error.message)]), status: HTTPResponse.Status(code: error.status))
    }

    /// Server-sent events: `data: {json}` per event; a failure after the first event is sent as
    /// one last event `{"error": ...}`, as Triton does.
    static func events(_ events: AsyncThrowingStream<JSON, any Error>) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: .init { writer in
            do {
                for try await event in events {
                    try await writer.write(ByteBuffer(string: "data: " + JSONWriter.encode(event) + "\n\n"))
                }
            } catch {
                let failure = ModelExecutor.serverError(error)
                try await writer.write(ByteBuffer(string: "data: " + JSONWriter.encode(.object(["error": .string(failure.message)])) + "\n\n"))
            }
            try await writer.finish(nil)
        })
    }
}

extension Routes {
    /// The methods a path answers (405 for others), by its route pattern.
    static func allowedMethods(_ path: String) -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let fixed: [String: [String]] = ["": ["GET"], "v2": ["GET"], "metrics": ["GET"], "openapi.json": ["GET"], "page.css": ["GET"],
                                         "page.js": ["GET"], "v2/health/live": ["GET"], "v2/health/ready": ["GET"],
                                         "v2/repository/index": ["POST"], "v1/models": ["GET"], "v1/chat/completions": ["POST"],
                                         "v1/completions": ["POST"]]
        if let methods = fixed[parts.joined(separator: "/")] { return methods }
        if parts.count == 3, parts[0] == "v1", parts[1] == "models" { return ["GET"] }
        // v2/models/{m}[/versions/{v}][/endpoint]
        guard parts.count >= 3, parts[0] == "v2", parts[1] == "models" else { return [] }
        var rest = Array(parts.dropFirst(3))
        if rest.count >= 2, rest[0] == "versions" { rest.removeFirst(2) }
        switch rest.count {
        case 0: return ["GET"]
        case 1 where ["ready", "config"].contains(rest[0]): return ["GET"]
        case 1 where rest[0] == "infer" || TaskRoute.named(rest[0]) != nil: return ["POST"]
        default: return []
        }
    }
}

/// Turns the router's own errors (no such route, a method the route does not answer, a body
/// over the limit) into JSON replies.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let allowedMethods: @Sendable (String) -> [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // OpenAI's routes answer errors in OpenAI's shape.
        let reply: (ServerError) -> Response = request.uri.path.hasPrefix("/v1/") ? { OpenAIRoutes.error($0) } : { Reply.error($0) }
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = allowedMethods(request.uri.path)
            guard allowed.isEmpty || allowed.contains(request.method.rawValue) else {
                var response = reply(ServerError(status: 405, message: "\(request.uri.path) answers \(allowed.joined(separator: ", ")), not \(request.method)"))
                response.headers[.allow] = allowed.joined(separator: ", ")
                return response
            }
            return reply(.notFound("no route \(request.method) \(request.uri.path) (see /openapi.json)"))
        } catch let error as HTTPError {
            return reply(ServerError(status: error.status.code, message: error.body ?? "\(error.status)"))
        } catch let error as ServerError {
            return reply(error)
        } catch is NIOTooManyBytesError {
            return reply(.tooLarge("the body is over the limit (--max-body-bytes)"))
        }
    }
}
