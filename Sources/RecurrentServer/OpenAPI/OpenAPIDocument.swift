/// The OpenAPI 3.0 document of every route, served at /openapi.json. Task endpoints come from
/// `TaskRoute.all`, so a new one is documented by being added there.
enum OpenAPIDocument {
    /// `textModels`: the models OpenAI's routes serve (chat and language models).
    static func make(models: [String], textModels: [String] = []) -> JSON {
        var paths: [String: JSON] = [
            "/v2/health/live": get("Whether the server is up.", schema: Schemas.object(["live": Schemas.boolean]), tag: "health"),
            "/v2/health/ready": get("Whether the server is ready for requests.", schema: Schemas.object(["ready": Schemas.boolean]), tag: "health"),
            "/v2": get("The server's name, version and protocol extensions.", schema: Schemas.serverMetadata, tag: "health"),
            "/metrics": getText("Prometheus metrics (text exposition format 0.0.4).", type: "text/plain"),
            "/openapi.json": get("This document.", schema: Schemas.type("object", ["additionalProperties": .bool(true)]), tag: "health"),
            "/": getText("A page to try each model in a browser.", type: "text/html"),
        ]
        paths["/v2/repository/index"] = .object(["post": .object([
            "summary": .string("The models served (Triton's model repository index)."), "tags": .array([.string("models")]),
            "requestBody": .object(["required": .bool(false), "content": content(Schemas.object(["ready": Schemas.boolean]))]),
            "responses": .object(errors(["400", "413", "415"]).merging(["200": .object(["description": .string("OK"), "content": content(
                Schemas.array(Schemas.object(["name": Schemas.string, "version": Schemas.string, "state": Schemas.string],
                                             required: ["name", "state"])))])]) { first, _ in first }),
        ])])
        let model = parameter("model_name", in: "path", schema: Schemas.type("string", ["enum": .array(models.map(JSON.string))]))
        paths["/v2/models/{model_name}"] = get("The model's inputs and outputs (names, datatypes, shapes; -1: any size).",
                                               schema: Schemas.modelMetadata, tag: "models", parameters: [model])
        paths["/v2/models/{model_name}/ready"] = get("Whether the model is ready.", schema: Schemas.object(["name": Schemas.string, "ready": Schemas.boolean]),
                                                     tag: "models", parameters: [model])
        paths["/v2/models/{model_name}/config"] = get("The model's task, endpoints and what its task needs (labels, window...).",
                                                      schema: Schemas.type("object", ["additionalProperties": .bool(true)]), tag: "models", parameters: [model])
        paths["/v2/models/{model_name}/infer"] = post(
            "Run the model on tensors: x, h0, c0, lengths -> y, h_n, c_n (as `recurrent run`), or the task's own tensors. "
                + "The binary tensor extension is accepted (header Inference-Header-Content-Length: the JSON's length, binary inputs after it), "
                + "and the sequence extension's parameters keep a sequence's state between requests.",
            request: Schemas.inferenceRequest, response: Schemas.inferenceResponse, tag: "inference", parameters: [model], extra: ["429"])
        for route in TaskRoute.all {
            paths["/v2/models/{model_name}/\(route.name)"] = post(route.summary, request: route.requestSchema, response: route.responseSchema,
                                                                  tag: "tasks", parameters: [model], streams: route.streams)
        }
        addOpenAI(to: &paths, models: models, textModels: textModels)
        return .object([
            "openapi": .string("3.0.3"),
            "info": .object(["title": .string("Recurrent model server"), "version": .string("1"),
                             "description": .string("The Open Inference Protocol (KServe v2) over REST with Triton's binary tensor, sequence and generate extensions, task endpoints, and OpenAI's API for the models that write text.")]),
            "paths": .object(paths),
        ])
    }

    /// OpenAI's routes, with OpenAI's error objects.
    static func addOpenAI(to paths: inout [String: JSON], models: [String], textModels: [String]) {
        let writers = textModels.isEmpty ? models : textModels
        func errors(_ codes: [String]) -> [String: JSON] {
            Dictionary(uniqueKeysWithValues: Self.errors(codes).map { code, _ in
                (code, JSON.object(["description": .string("An error in OpenAI's shape."), "content": content(Schemas.openAIError)]))
            })
        }
        var list = errors([])
        list["200"] = .object(["description": .string("OK"), "content": content(Schemas.openAIModels)])
        paths["/v1/models"] = .object(["get": .object(["summary": .string("The models served (OpenAI's model list)."), "tags": .array([.string("openai")]),
                                                       "responses": .object(list)])])
        var one = errors(["404"])
        one["200"] = .object(["description": .string("OK"), "content": content(Schemas.openAIModel)])
        paths["/v1/models/{model}"] = .object(["get": .object([
            "summary": .string("One model (OpenAI's model object)."), "tags": .array([.string("openai")]),
            "parameters": .array([parameter("model", in: "path", schema: Schemas.type("string", ["enum": .array(models.map(JSON.string))]))]),
            "responses": .object(one),
        ])])
        for chat in [true, false] {
            var responses = errors(["400", "404", "413", "415", "500"])
            responses["200"] = .object([
                "description": .string("The completion; with \"stream\": true, server-sent events (`data: {chunk}` per piece, then `data: [DONE]`)."),
                "content": .object(["application/json": .object(["schema": Schemas.openAIResponse(chat: chat)]),
                                    "text/event-stream": .object(["schema": Schemas.event])]),
            ])
            let summary = chat
                ? "A reply to a conversation (OpenAI's chat completions): chat models reply as `recurrent chat reply` does; language models continue the turns, each followed by a blank line, up to the next blank line."
                : "Continuations of a prompt (OpenAI's completions): language models continue it; chat models reply to it."
            paths[chat ? "/v1/chat/completions" : "/v1/completions"] = .object(["post": .object([
                "summary": .string(summary), "tags": .array([.string("openai")]),
                "requestBody": .object(["required": .bool(true), "content": content(Schemas.openAIRequest(models: writers, chat: chat))]),
                "responses": .object(responses),
            ])])
        }
    }

    static func parameter(_ name: String, in location: String, schema: JSON) -> JSON {
        .object(["name": .string(name), "in": .string(location), "required": .bool(true), "schema": schema])
    }

    static func content(_ schema: JSON, type: String = "application/json") -> JSON {
        .object([type: .object(["schema": schema])])
    }

    static func errors(_ codes: [String]) -> [String: JSON] {
        let meanings = ["400": "A malformed or invalid request; the message names the field.", "404": "No such model, version or endpoint.",
                        "413": "The body is over --max-body-bytes.", "415": "A compressed body.",
                        "429": "--max-sessions sequences are live.", "500": "A fault of the server."]
        return Dictionary(uniqueKeysWithValues: codes.map { ($0, JSON.object(["description": .string(meanings[$0] ?? "An error."),
                                                                             "content": content(Schemas.error)])) })
    }

    static func get(_ summary: String, schema: JSON, tag: String, parameters: [JSON] = []) -> JSON {
        var responses = errors(parameters.isEmpty ? [] : ["404"])
        responses["200"] = .object(["description": .string("OK"), "content": content(schema)])
        return .object(["get": .object(["summary": .string(summary), "tags": .array([.string(tag)]), "parameters": .array(parameters),
                                        "responses": .object(responses)])])
    }

    static func getText(_ summary: String, type: String) -> JSON {
        .object(["get": .object(["summary": .string(summary), "responses": .object([
            "200": .object(["description": .string("OK"), "content": content(Schemas.string, type: type)]),
        ])])])
    }

    static func post(_ summary: String, request: JSON, response: JSON, tag: String, parameters: [JSON], extra: [String] = [],
                     streams: Bool = false) -> JSON {
        var responses = errors(["400", "404", "413", "415", "500"] + extra)
        responses["200"] = .object(["description": .string(streams ? "Server-sent events, `data: {json}` per token." : "OK"),
                                    "content": streams ? content(Schemas.event, type: "text/event-stream") : content(response)])
        return .object(["post": .object([
            "summary": .string(summary), "tags": .array([.string(tag)]), "parameters": .array(parameters),
            "requestBody": .object(["required": .bool(true), "content": content(request)]),
            "responses": .object(responses),
        ])])
    }
}
