/// JSON Schemas of the request and response bodies, for /openapi.json. Written as JSON values so
/// that the document and the handlers sit side by side in the repository.
enum Schemas {
    static func object(_ properties: [String: JSON], required: [String] = [], additional: Bool = false) -> JSON {
        var schema: [String: JSON] = ["type": .string("object"), "properties": .object(properties),
                                      "additionalProperties": .bool(additional)]
        if !required.isEmpty { schema["required"] = .array(required.map(JSON.string)) }
        return .object(schema)
    }

    static func type(_ name: String, _ extra: [String: JSON] = [:]) -> JSON {
        .object(extra.merging(["type": .string(name)]) { first, _ in first })
    }

    static func array(_ items: JSON, minItems: Int? = nil) -> JSON {
        var schema: [String: JSON] = ["type": .string("array"), "items": items]
        if let minItems { schema["minItems"] = .number(Double(minItems)) }
        return .object(schema)
    }

    static let string = type("string")
    static let number = type("number")
    static let boolean = type("boolean")
    static func integer(_ minimum: Int, _ maximum: Int) -> JSON {
        type("integer", ["minimum": .number(Double(minimum)), "maximum": .number(Double(maximum))])
    }

    static let error = object(["error": string], required: ["error"])
    /// One server-sent event: its data is a response document as JSON text.
    static let event = object(["data": string, "event": string, "id": string], required: ["data"], additional: true)

    // MARK: - The inference protocol

    static let tensorData: JSON = .object(["description": .string("Flat or nested values in row-major order."), "type": .string("array")])
    static let datatype = type("string", ["enum": .array(["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                                                          "FP16", "FP32", "FP64", "BYTES"].map(JSON.string))])
    static let shape = array(type("integer", ["minimum": .number(0)]))
    static let requestTensor = object([
        "name": string, "shape": shape, "datatype": datatype, "data": tensorData,
        "parameters": object(["binary_data_size": type("integer", ["minimum": .number(0)])]),
    ], required: ["name", "shape", "datatype"])
    static let inferenceRequest = object([
        "id": string,
        "parameters": object([
            "sequence_id": .object(["oneOf": .array([type("integer", ["minimum": .number(0)]), string])]),
            "sequence_start": boolean, "sequence_end": boolean, "binary_data_output": boolean,
            "priority": type("integer"), "timeout": type("integer"),
            "steps": integer(1, 10_000), "max_tokens": integer(0, 10_000), "temperature": number, "top_k": integer(1, 1_000_000),
            "top_p": number, "seed": type("integer", ["minimum": .number(0)]), "beam": integer(1, 64),
        ]),
        "inputs": array(requestTensor),
        "outputs": array(object(["name": string, "parameters": object(["binary_data": boolean])], required: ["name"])),
    ], required: ["inputs"])
    static let inferenceResponse = object([
        "model_name": string, "model_version": string, "id": string, "parameters": type("object"),
        "outputs": array(object(["name": string, "shape": shape, "datatype": datatype, "data": tensorData,
                                 "parameters": type("object")], required: ["name", "shape", "datatype"], additional: true)),
    ], required: ["model_name", "outputs"])
    static let tensorMetadata = object(["name": string, "datatype": string, "shape": array(type("integer"))], required: ["name", "datatype", "shape"])
    static let modelMetadata = object([
        "name": string, "versions": array(string), "platform": string, "inputs": array(tensorMetadata), "outputs": array(tensorMetadata),
    ], required: ["name", "platform", "inputs", "outputs"])
    static let serverMetadata = object(["name": string, "version": string, "extensions": array(string)], required: ["name", "version", "extensions"])

    // MARK: - Task endpoints

    static let generationOptions: [String: JSON] = [
        "max_tokens": integer(0, 10_000), "temperature": type("number", ["minimum": .number(0), "exclusiveMinimum": .bool(true)]),
        "top_k": integer(1, 1_000_000),
        "top_p": type("number", ["minimum": .number(0), "exclusiveMinimum": .bool(true), "maximum": .number(1)]),
        "seed": type("integer", ["minimum": .number(0)]),
    ]
    static let generateRequest = object(generationOptions.merging([
        "text_input": string, "stream": boolean, "parameters": object(generationOptions),
    ]) { first, _ in first })
    static let generateResponse = object(["model_name": string, "model_version": string, "text_output": string], required: ["text_output"])
    static let completeRequest = object(["text": string, "count": integer(1, 100)], required: ["text"])
    static let completeResponse = object([
        "model_name": string, "completions": array(object(["text": string, "probability": number], required: ["text", "probability"])),
    ], required: ["completions"])
    /// One series (`history`, a model of one series or of many) or several (`series`, a model of
    /// many: each with `unique_id`, `y`, optional `ds`, and the model's covariates by name).
    static let forecastRequest: JSON = {
        let series = object(["unique_id": string, "y": array(number, minItems: 1), "ds": array(string)], required: ["unique_id", "y"],
                            additional: true)
        guard case .object(var schema) = object([
            "history": array(number, minItems: 1), "dates": array(string), "steps": integer(1, 10_000),
            "covariates": .object(["type": .string("object"), "additionalProperties": array(number)]),
            "series": array(series, minItems: 1), "seed": integer(0, Int(Int32.max)),
        ]) else { return .null }
        schema["anyOf"] = .array([.object(["required": .array([.string("history")])]), .object(["required": .array([.string("series")])])])
        return .object(schema)
    }()
    static let forecastResponse = object([
        "model_name": string, "column": string,
        "forecast": array(object(["step": type("integer"), "value": number, "date": string], required: ["step", "value"])),
        "columns": array(string),
        "forecasts": array(.object(["type": .string("object"), "additionalProperties": .object([:])])),
    ])
    static let nonEmptyString = type("string", ["minLength": .number(1)])
    static let classifyRequest: JSON = {
        guard case .object(var schema) = object(["text": nonEmptyString, "texts": array(nonEmptyString, minItems: 1)]) else { return .null }
        schema["anyOf"] = .array([.object(["required": .array([.string("text")])]), .object(["required": .array([.string("texts")])])])
        return .object(schema)
    }()
    static let classifyResponse = object([
        "model_name": string, "labels": array(string),
        "predictions": array(object(["text": string, "label": string,
                                     "probabilities": .object(["type": .string("object"), "additionalProperties": number])],
                                    required: ["label", "probabilities"])),
    ], required: ["labels", "predictions"])
    static let translateRequest = object(["text": type("string", ["minLength": .number(1), "maxLength": .number(1_000)]), "beam": integer(1, 64), "attention": boolean], required: ["text"])
    static let transcribeRequest = object(["audio": type("string", ["minLength": .number(1), "format": .string("byte")]), "beam": integer(1, 64)],
                                          required: ["audio"])
    static let transcribeResponse = object(["model_name": string, "text": string, "seconds": number], required: ["text", "seconds"])
    static let translateResponse = object([
        "model_name": string, "translation": string, "tokens": array(string), "source_tokens": array(string),
        "attention": array(array(number)),
    ], required: ["translation", "tokens", "source_tokens"])

    // MARK: - Chat models

    static let positive = type("number", ["minimum": .number(0), "exclusiveMinimum": .bool(true)])
    static func range(_ low: Double, _ high: Double) -> JSON { type("number", ["minimum": .number(low), "maximum": .number(high)]) }
    static let replyOptions: [String: JSON] = [
        "decoding": type("string", ["enum": .array(["beam", "sample"].map(JSON.string))]), "beam": integer(1, 64),
        "length_normalization": range(0, 10), "temperature": positive,
        "top_p": type("number", ["minimum": .number(0), "exclusiveMinimum": .bool(true), "maximum": .number(1)]),
        "repetition_penalty": range(0.01, 100), "rerank": type("string", ["enum": .array(["none", "mmi-antilm", "mmi-bidi"].map(JSON.string))]),
        "mmi_weight": range(0, 100), "seed": type("integer", ["minimum": .number(0)]), "max_tokens": integer(1, 10_000),
    ]
    // MARK: - Anomaly detectors

    static let detectRequest = object([
        "values": type("array", ["items": type("number", ["minimum": .number(-Double(Float.greatestFiniteMagnitude)),
                                                          "maximum": .number(Double(Float.greatestFiniteMagnitude))]),
                                  "minItems": .number(1), "maxItems": .number(1_000_000)]),
        "labels": array(type("integer", ["enum": .array([.number(0), .number(1)])])),
        "threshold": type("number", ["minimum": .number(0)]),
        "sequence_id": .object(["oneOf": .array([type("integer", ["minimum": .number(0)]), string])]),
        "sequence_start": boolean, "sequence_end": boolean,
    ], required: ["values"])
    static let detectResponse = object([
        "model_name": string, "threshold": number, "first_step": type("integer"),
        "scores": array(number), "surprises": array(number),
        "forecasts": array(nullable(number)), "spreads": array(nullable(number)), "alarms": array(type("integer")),
        "ranges": array(object(["start": type("integer"), "end": type("integer"), "peak": type("integer"), "peak_score": number],
                               required: ["start", "end", "peak", "peak_score"])),
        "evaluation": type("object", ["additionalProperties": .bool(true)]),
    ], required: ["threshold", "first_step", "scores", "alarms", "ranges"])

    // MARK: - Tunes, chorales, strokes

    static let boundedTemperature = type("number", ["minimum": .number(0), "exclusiveMinimum": .bool(true), "maximum": .number(10)])
    static let composeRequest = object([
        "count": integer(1, 64), "temperature": boundedTemperature, "seed": type("integer", ["minimum": .number(0)]), "length": integer(1, 10_000),
        "tempo": type("number", ["minimum": .number(1), "maximum": .number(1000)]), "meter": string, "key": string,
    ])
    static let composeResponse = object([
        "model_name": string, "abc": string, "midi": type("string", ["format": .string("byte")]), "svg": string,
        "tunes": array(object(["abc": string, "reads": boolean, "truncated": boolean, "read_error": string], required: ["abc", "reads"])),
        "steps": type("integer"), "notes": type("integer"),
    ], required: ["midi"])
    static let drawRequest = object([
        "count": integer(1, 64), "temperature": boundedTemperature, "seed": type("integer", ["minimum": .number(0)]), "columns": integer(1, 64),
        "condition": type("string", ["minLength": .number(1)]), "first_offset_from_data": boolean,
    ])
    static let drawResponse = object([
        "model_name": string, "svg": string,
        "drawings": array(object(["character": string, "strokes": array(array(array(number)))], required: ["character", "strokes"])),
    ], required: ["svg", "drawings"])

    // MARK: - OpenAI's API

    /// A field OpenAI's API also takes as null (left out).
    static func nullable(_ schema: JSON) -> JSON {
        guard case .object(var fields) = schema else { return schema }
        fields["nullable"] = .bool(true)
        return .object(fields)
    }

    static func oneOf(_ schemas: JSON...) -> JSON { .object(["oneOf": .array(schemas)]) }
    static let anything: JSON = .object([:])
    static func enumeration(_ values: [String]) -> JSON { type("string", ["enum": .array(values.map(JSON.string))]) }

    static let openAIError = object(["error": object([
        "message": string, "type": string, "param": nullable(string), "code": nullable(string),
    ], required: ["message", "type"])], required: ["error"])

    static let openAIModel = object(["id": string, "object": enumeration(["model"]), "created": type("integer"), "owned_by": string, "task": string],
                                    required: ["id", "object", "created", "owned_by"])
    static let openAIModels = object(["object": enumeration(["list"]), "data": array(openAIModel)], required: ["object", "data"])

    /// What both completion routes read (every value may also be null).
    static func openAIOptions(models: [String], chat: Bool) -> [String: JSON] {
        var options: [String: JSON] = [
            "model": enumeration(models),
            "temperature": type("number", ["minimum": .number(0), "maximum": .number(2)]),
            "top_p": type("number", ["minimum": .number(0), "exclusiveMinimum": .bool(true), "maximum": .number(1)]),
            "top_k": integer(1, 1_000_000), "n": integer(1, 16), "seed": type("integer"),
            "stop": oneOf(type("string", ["minLength": .number(1)]),
                          type("array", ["items": type("string", ["minLength": .number(1)]), "maxItems": .number(4)])),
            "stream": boolean, "stream_options": object(["include_usage": boolean, "include_obfuscation": boolean]),
            "beam": integer(1, 64), "length_penalty": range(0, 10), "repetition_penalty": range(0.01, 100),
            "rerank": enumeration(["none", "mmi-antilm", "mmi-bidi"]), "mmi_weight": range(0, 100),
            "frequency_penalty": number, "presence_penalty": number, "logit_bias": type("object"),
            "logprobs": oneOf(boolean, type("integer", ["minimum": .number(0)])), "top_logprobs": integer(0, 20),
            "user": string, "metadata": type("object"), "store": boolean, "service_tier": string, "prompt_cache_key": string,
            "safety_identifier": string,
        ]
        if chat {
            let part = object(["type": enumeration(["text"]), "text": string], required: ["type", "text"])
            let message = object([
                "role": enumeration(["system", "developer", "user", "assistant", "tool", "function"]),
                "content": nullable(oneOf(string, array(part))), "name": nullable(string),
                "tool_call_id": anything, "tool_calls": anything, "function_call": anything, "refusal": anything, "audio": anything,
            ], required: ["role"])
            options["messages"] = type("array", ["items": message, "minItems": .number(1), "maxItems": .number(1_000)])
            options["max_tokens"] = integer(1, 10_000)
            options["max_completion_tokens"] = integer(1, 10_000)
            options["tools"] = anything
            options["functions"] = anything
            options["tool_choice"] = anything
            options["function_call"] = anything
            options["parallel_tool_calls"] = boolean
            options["response_format"] = object(["type": string, "json_schema": anything])
            options["modalities"] = array(string)
            options["audio"] = anything
            options["prediction"] = anything
            options["web_search_options"] = anything
            options["reasoning_effort"] = string
            options["verbosity"] = string
        } else {
            options["prompt"] = oneOf(string, type("array", ["items": string, "minItems": .number(1), "maxItems": .number(16)]))
            options["max_tokens"] = integer(0, 10_000)
            options["echo"] = boolean
            options["suffix"] = string
            options["best_of"] = integer(1, 16)
        }
        return options.mapValues { nullable($0) }
    }

    static func openAIRequest(models: [String], chat: Bool) -> JSON {
        object(openAIOptions(models: models, chat: chat), required: ["model", chat ? "messages" : "prompt"])
    }

    static func openAIResponse(chat: Bool) -> JSON {
        let usage = object(["prompt_tokens": type("integer"), "completion_tokens": type("integer"), "total_tokens": type("integer")],
                           required: ["prompt_tokens", "completion_tokens", "total_tokens"])
        var choice: [String: JSON] = ["index": type("integer"), "finish_reason": enumeration(["stop", "length"]),
                                      "logprobs": nullable(type("object"))]
        if chat {
            choice["message"] = object(["role": enumeration(["assistant"]), "content": string, "refusal": nullable(string)],
                                       required: ["role", "content"])
        } else {
            choice["text"] = string
        }
        return object([
            "id": string, "object": enumeration([chat ? "chat.completion" : "text_completion"]), "created": type("integer"),
            "model": string, "system_fingerprint": string,
            "choices": array(object(choice, required: ["index", "finish_reason", chat ? "message" : "text"])), "usage": usage,
        ], required: ["id", "object", "created", "model", "choices"])
    }

    static let replyRequest = object(replyOptions.merging([
        "message": type("string", ["minLength": .number(1), "maxLength": .number(100_000)]),
        "context": type("array", ["items": type("string", ["maxLength": .number(100_000)]), "maxItems": .number(999)]),
    ]) { first, _ in first }, required: ["message"])
    static let replyResponse = object([
        "model_name": string, "reply": string, "tokens": array(string),
        "candidates": array(object(["text": string, "score": number], required: ["text", "score"])), "truncated_turns": type("integer"),
    ], required: ["reply", "candidates"])
}
