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
}
