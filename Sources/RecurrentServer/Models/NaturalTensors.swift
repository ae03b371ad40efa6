import Foundation
import Recurrent

/// A task model's own inputs through the inference protocol, where they fit it: a language
/// model continues `text_input` (BYTES [1]) into `text_output`; a text classifier reads `text`
/// (BYTES [N]) into `label` and `probabilities` [N, C]; an encoder-decoder reads `text` into
/// `translation`; a forecaster reads `history` (FP64 [T], or [T, F] with covariates) into
/// `forecast` [steps] (a model of many series: one series' values, without covariates); a speech recognizer reads `audio` (BYTES [N], WAV files) into `text`;
/// a chat model reads `text_input` (BYTES [N]: the conversation, oldest first) into its reply, `text_output`;
/// an anomaly detector reads `values` (FP64 [T]; with the sequence parameters, a monitored signal) into `scores`.
/// Options travel as request parameters (max_tokens, steps, beam...).
enum NaturalTensors {
    static func signatures(for task: ServedTask) -> (inputs: [TensorSignatureDescription], outputs: [TensorSignatureDescription]) {
        func bytes(_ name: String, _ shape: [Int]) -> TensorSignatureDescription { .init(name: name, datatype: "BYTES", shape: shape) }
        switch task {
        case .tensorsOnly:
            return ([], [])
        case .languageModel:
            return ([bytes("text_input", [1])], [bytes("text_output", [1])])
        case .classifier(let classifier):
            guard classifier.input.isText else { return ([], []) }
            return ([bytes("text", [-1])], [bytes("label", [-1]), .init(name: "probabilities", datatype: "FP32", shape: [-1, classifier.labels.count])])
        case .translator:
            return ([bytes("text", [-1])], [bytes("translation", [-1])])
        case .recognizer:
            return ([bytes("audio", [-1])], [bytes("text", [-1])])
        case .chatbot:
            return ([bytes("text_input", [-1])], [bytes("text_output", [1])])
        case .anomalyDetector:
            return ([.init(name: "values", datatype: "FP64", shape: [-1])], [.init(name: "scores", datatype: "FP64", shape: [-1])])
        case .tunes, .chorales, .strokes:
            return ([], [])
        case .forecaster(let forecaster):
            let features = forecaster.configuration.features.count
            return ([.init(name: "history", datatype: "FP64", shape: features == 1 ? [-1] : [-1, features])],
                    [.init(name: "forecast", datatype: "FP64", shape: [-1])])
        case .globalForecaster(let forecaster):
            // One series' values, for a model that reads no covariates (the forecast route takes
            // several series and covariates).
            let c = forecaster.configuration
            guard c.knownCovariates.isEmpty, c.pastCovariates.isEmpty else { return ([], []) }
            return ([.init(name: "history", datatype: "FP64", shape: [-1])], [.init(name: "forecast", datatype: "FP64", shape: [-1])])
        }
    }

    static func infer(_ model: ServedModel, request: InferenceRequest, executor: ModelExecutor) async throws -> [ResponseTensor] {
        guard request.inputs.count == 1, let input = request.inputs.first else {
            throw ServerError.badRequest("model \"\(model.name)\" reads one input, \(signatures(for: model.task).inputs.map(\.name).joined(separator: ", "))")
        }
        let signature = signatures(for: model.task).inputs[0]
        guard input.datatype == signature.datatype else {
            throw ServerError.badRequest("input \"\(input.name)\": datatype \(input.datatype), expected \(signature.datatype)")
        }
        guard input.shape.count == signature.shape.count, zip(input.shape, signature.shape).allSatisfy({ $1 < 0 ? $0 > 0 : $0 == $1 }) else {
            throw ServerError.badRequest("input \"\(input.name)\": shape \(input.shape), expected \(signature.shape)")
        }
        var parameters = Fields(object: request.parameters, context: "parameters")
        _ = parameters.value("binary_data_output")
        switch (model.task, input.values) {
        case (.languageModel, .bytes(let texts)):
            var body: [String: JSON] = ["text_input": .string(try text(texts[0], input: input.name, index: 0))]
            for key in ["max_tokens", "temperature", "top_k", "top_p", "seed"] {
                if let value = parameters.value(key) { body[key] = value }
            }
            try parameters.finish()
            guard case .json(let reply) = try await TaskRoute.generate.handle(model, .object(body), executor),
                  let output = reply["text_output"]?.stringValue else { throw ServerError.internalFault("generation gave no text") }
            return [ResponseTensor(name: "text_output", shape: [1], values: .bytes([Array(output.utf8)]))]
        case (.classifier(let classifier), .bytes(let texts)):
            try parameters.finish()
            let strings = try texts.enumerated().map { try text($1, input: input.name, index: $0) }
            let box = UncheckedBox(classifier)
            let predictions = try await executor.run(model) { try box.value.predict(texts: strings) }
            return [ResponseTensor(name: "label", shape: [strings.count], values: .bytes(predictions.map { Array($0.label.utf8) })),
                    ResponseTensor(name: "probabilities", shape: [strings.count, classifier.labels.count],
                                   values: .float32(predictions.flatMap { $0.probabilities.map(Float.init) }))]
        case (.translator(let translator), .bytes(let texts)):
            let beam = try parameters.integer("beam", in: 1...64) ?? 5
            try parameters.finish()
            let strings = try texts.enumerated().map { try text($1, input: input.name, index: $0) }
            let box = UncheckedBox(translator)
            let translations = try await executor.run(model) { try box.value.translate(strings, options: DecodingOptions(beamWidth: beam)) }
            return [ResponseTensor(name: "translation", shape: [strings.count], values: .bytes(translations.map { Array($0.text.utf8) }))]
        case (.forecaster(let forecaster), .float64(let values)):
            let c = forecaster.configuration
            let steps = try parameters.integer("steps", in: 1...10_000) ?? c.horizon
            try parameters.finish()
            let featureCount = c.features.count, rows = values.count / featureCount
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ServerError.badRequest("input \"history\" holds \(values[bad]) at flat index \(bad)")
            }
            let column = { (feature: Int) in (0..<rows).map { values[$0 * featureCount + feature] } }
            let data = try ModelExecutor.mappingErrors {
                try TimeSeriesData(values: column(0), name: c.features[0],
                                   covariates: c.features.indices.dropFirst().map { (c.features[$0], column($0)) })
            }
            let box = UncheckedBox(forecaster)
            let forecast = try await executor.run(model) { try box.value.forecast(after: data, steps: steps) }
            return [ResponseTensor(name: "forecast", shape: [forecast.count], values: .float64(forecast))]
        case (.globalForecaster(let forecaster), .float64(let values)):
            let steps = try parameters.integer("steps", in: 1...max(1, forecaster.configuration.horizon)) ?? forecaster.configuration.horizon
            try parameters.finish()
            let document = JSON.object(["history": .array(values.map(JSON.number)), "steps": .number(Double(steps))])
            guard case .json(let reply) = try await TaskRoute.forecast.handle(model, document, executor),
                  let rows = reply["forecast"]?.arrayValue else { throw ServerError.internalFault("the forecast gave no values") }
            let forecast = rows.compactMap { $0["value"]?.numberValue }
            return [ResponseTensor(name: "forecast", shape: [forecast.count], values: .float64(forecast))]
        case (.recognizer, .bytes(let files)):
            let beam = try parameters.integer("beam", in: 1...64) ?? 1
            try parameters.finish()
            var texts: [[UInt8]] = []
            for file in files {
                let document = JSON.object(["audio": .string(Data(file).base64EncodedString()), "beam": .number(Double(beam))])
                guard case .json(let reply) = try await TaskRoute.transcribe.handle(model, document, executor),
                      let text = reply["text"]?.stringValue else { throw ServerError.internalFault("transcription gave no text") }
                texts.append(Array(text.utf8))
            }
            return [ResponseTensor(name: "text", shape: [texts.count], values: .bytes(texts))]
        case (.anomalyDetector, .float64(let values)):
            // The detect route's body: the readings, and a monitored sequence's parameters.
            var body: [String: JSON] = ["values": .array(values.map(JSON.number))]
            for key in ["threshold", "sequence_id", "sequence_start", "sequence_end"] {
                if let value = parameters.value(key) { body[key] = value }
            }
            try parameters.finish()
            guard case .json(let reply) = try await TaskRoute.detect.handle(model, .object(body), executor),
                  let scores = reply["scores"]?.arrayValue?.compactMap(\.numberValue) else { throw ServerError.internalFault("detection gave no scores") }
            return [ResponseTensor(name: "scores", shape: [scores.count], values: .float64(scores))]
        case (.chatbot(let chatbot), .bytes(let texts)):
            let turns = try texts.enumerated().map { try text($1, input: input.name, index: $0) }
            let options = try ChatRequest.options(&parameters)
            try parameters.finish()
            guard turns.count <= TaskRoute.maximumTurns else {
                throw ServerError.badRequest("input \"\(input.name)\": \(turns.count) turns, over the limit of \(TaskRoute.maximumTurns)")
            }
            let reply = try await ChatRequest.reply(model, chatbot: chatbot, message: turns[turns.count - 1], context: Array(turns.dropLast()),
                                                    options: options, executor: executor)
            return [ResponseTensor(name: "text_output", shape: [1], values: .bytes([Array(reply.text.utf8)]))]
        default:
            throw ServerError.badRequest("input \"\(input.name)\" does not apply to model \"\(model.name)\"")
        }
    }

    static func text(_ bytes: [UInt8], input: String, index: Int) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ServerError.badRequest("input \"\(input)\": element \(index) is not UTF-8 text")
        }
        return text
    }
}
