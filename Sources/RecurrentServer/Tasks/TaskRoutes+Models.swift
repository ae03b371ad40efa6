import Foundation
import Recurrent

// MARK: - Forecasters, classifiers, encoder-decoders

extension TaskRoute {
    /// The longest text the translate endpoint reads, in Unicode scalars.
    static let maximumSourceLength = 1_000

    static let forecast = TaskRoute(
        name: "forecast", summary: "The next values after a history, with their dates when the history has dates.", streams: false,
        applies: {
            switch $0 {
            case .forecaster, .globalForecaster: return true
            default: return false
            }
        },
        requestSchema: Schemas.forecastRequest, responseSchema: Schemas.forecastResponse
    ) { model, body, executor in
        if case .globalForecaster(let forecaster) = model.task { return try await forecastMany(forecaster, model: model, body: body, executor: executor) }
        guard case .forecaster(let forecaster) = model.task else { throw ServerError.notFound("no forecaster") }
        let features = forecaster.configuration.features
        var fields = try Fields(body, context: "request body")
        guard let history = try fields.numbers("history") else { throw fields.fail("history", "is missing") }
        let steps = try fields.integer("steps", in: 1...10_000) ?? forecaster.configuration.horizon
        let dates = try fields.strings("dates")
        var given = try fields.object("covariates") ?? Fields(object: [:], context: "request body, \"covariates\"")
        let covariates = try features.dropFirst().map { name -> (name: String, values: [Double]) in
            guard let values = try given.numbers(name) else {
                throw ServerError.badRequest("request body: field \"covariates\" lacks \"\(name)\" (the model reads \(features.joined(separator: ", ")))")
            }
            return (name, values)
        }
        try given.finish()
        try fields.finish()
        for (name, values) in [(features[0], history)] + covariates {
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ServerError.badRequest("request body: \(name)[\(bad)] is not a finite number")
            }
        }
        var axis: DateAxis? = nil
        if let dates {
            guard dates.count == history.count else {
                throw ServerError.badRequest("request body: \(dates.count) dates for \(history.count) history values")
            }
            guard let read = DateAxis(cells: dates) else {
                throw ServerError.badRequest("request body: field \"dates\" does not read as increasing dates (1949-01, 2012/01/01, 1700, ...)")
            }
            axis = read
        }
        let data = try ModelExecutor.mappingErrors {
            try TimeSeriesData(values: history, name: features[0], covariates: covariates, dates: axis)
        }
        let box = UncheckedBox(forecaster)
        let values = try await executor.run(model) { try box.value.forecast(after: data, steps: steps) }
        let nextDates = axis?.datesAfterEnd(count: steps)
        return .json(.object([
            "model_name": .string(model.name), "column": .string(features[0]),
            "forecast": .array(values.enumerated().map { step, value in
                var row: [String: JSON] = ["step": .number(Double(step + 1)), "value": .number(value)]
                if let nextDates { row["date"] = .string(nextDates[step]) }
                return .object(row)
            }),
        ]))
    }

    static let classify = TaskRoute(
        name: "classify", summary: "The label and every class's probability for each text.", streams: false,
        applies: { if case .classifier(let classifier) = $0 { return classifier.input.isText } else { return false } },
        requestSchema: Schemas.classifyRequest, responseSchema: Schemas.classifyResponse
    ) { model, body, executor in
        guard case .classifier(let classifier) = model.task else { throw ServerError.notFound("no classifier") }
        var fields = try Fields(body, context: "request body")
        let texts = try fields.strings("texts") ?? (try fields.string("text")).map { [$0] }
        try fields.finish()
        guard let texts, !texts.isEmpty else { throw ServerError.badRequest("request body: give \"text\" or a non-empty \"texts\"") }
        let box = UncheckedBox(classifier)
        let predictions = try await executor.run(model) { try box.value.predict(texts: texts) }
        let labels = classifier.labels
        return .json(.object([
            "model_name": .string(model.name), "labels": .array(labels.map(JSON.string)),
            "predictions": .array(zip(texts, predictions).map { text, prediction in
                .object(["text": .string(text), "label": .string(prediction.label),
                         "probabilities": .object(Dictionary(uniqueKeysWithValues: zip(labels, prediction.probabilities.map(JSON.number))))])
            }),
        ]))
    }

    static let translate = TaskRoute(
        name: "translate", summary: "The output of an encoder-decoder for a text, with its attention on request.", streams: false,
        applies: { if case .translator = $0 { return true } else { return false } },
        requestSchema: Schemas.translateRequest, responseSchema: Schemas.translateResponse
    ) { model, body, executor in
        guard case .translator(let translator) = model.task else { throw ServerError.notFound("no encoder-decoder") }
        var fields = try Fields(body, context: "request body")
        let text = try fields.requiredString("text")
        // Beam search's cost grows with the source (its output may reach 2 x its tokens + 10).
        guard text.unicodeScalars.count <= maximumSourceLength else {
            throw fields.fail("text", "has \(text.unicodeScalars.count) characters, over the limit of \(maximumSourceLength)")
        }
        let beam = try fields.integer("beam", in: 1...64) ?? 5
        let withAttention = try fields.bool("attention") ?? false
        try fields.finish()
        let box = UncheckedBox(translator)
        let translation = try await executor.run(model) { try box.value.translate([text], options: DecodingOptions(beamWidth: beam))[0] }
        var reply: [String: JSON] = [
            "model_name": .string(model.name), "translation": .string(translation.text),
            "tokens": .array(translation.tokens.map(JSON.string)), "source_tokens": .array(translation.sourceTokens.map(JSON.string)),
        ]
        if withAttention { reply["attention"] = .array(translation.attention.map { .array($0.map(JSON.number)) }) }
        return .json(.object(reply))
    }
}

// MARK: - Speech

extension TaskRoute {
    /// The longest recording the transcribe endpoint reads.
    static let maximumAudioSeconds = 600.0

    static let transcribe: TaskRoute = {
        var route = TaskRoute(
            name: "transcribe",
            summary: "The transcript of a recording (WAV; FLAC, MP3, Ogg where the server has libsndfile): the body itself (?beam=N in the query) or JSON with the file in base64.",
            streams: false, applies: { if case .recognizer = $0 { return true } else { return false } },
            requestSchema: Schemas.transcribeRequest, responseSchema: Schemas.transcribeResponse
        ) { model, body, executor in
            guard case .recognizer(let recognizer) = model.task else { throw ServerError.notFound("no speech recognizer") }
            var fields = try Fields(body, context: "request body")
            let encoded = try fields.requiredString("audio")
            let beam = try fields.integer("beam", in: 1...64) ?? 1
            try fields.finish()
            guard let bytes = Data(base64Encoded: encoded) else { throw fields.fail("audio", "is not base64") }
            let clip: AudioClip
            do { clip = try AudioFile.decode(Array(bytes), name: "audio") } catch let error as RecurrentError {
                throw ServerError.badRequest("request body: \(error.description)")
            }
            guard clip.duration <= maximumAudioSeconds else {
                throw fields.fail("audio", String(format: "lasts %.1f s, over the limit of %.0f s", clip.duration, maximumAudioSeconds))
            }
            let box = UncheckedBox(recognizer)
            let text = try await executor.run(model) {
                try box.value.transcribe(clip, name: "audio", decoding: SpeechDecoding(beamWidth: beam))
            }
            return .json(.object(["model_name": .string(model.name), "text": .string(text), "seconds": .number(clip.duration)]))
        }
        route.readsAudio = true
        return route
    }()
}

extension TaskRoute {
    /// A model of many series: each series of the request (`series`: objects with `unique_id`,
    /// `y`, optional `ds` and the model's covariates; or `history` and `dates` for one) becomes a
    /// row of the long table `forecast predict` reads, so the same checks apply, and each gets
    /// the mean and the bounds of every interval at each step, with its date; `forecast` repeats
    /// the first series' means as the one-series route gives them.
    static func forecastMany(_ forecaster: GlobalForecaster, model: ServedModel, body: JSON, executor: ModelExecutor) async throws -> TaskReply {
        let c = forecaster.configuration
        var fields = try Fields(body, context: "request body")
        let steps = try fields.integer("steps", in: 1...max(1, c.horizon)) ?? c.horizon
        let seed = UInt64(try fields.integer("seed", in: 0...Int(Int32.max)) ?? 0)
        var requests: [Fields] = []
        let oneSeries = fields.values["series"] == nil
        if oneSeries {
            guard let history = try fields.numbers("history") else { throw fields.fail("series", "is missing (or give \"history\" for one series)") }
            var one: [String: JSON] = ["unique_id": .string("series"), "y": .array(history.map(JSON.number))]
            if let dates = try fields.strings("dates") { one["ds"] = .array(dates.map(JSON.string)) }
            requests = [Fields(object: one, context: "request body")]
        } else {
            guard let items = fields.value("series")?.arrayValue, !items.isEmpty else { throw fields.fail("series", "is not a non-empty array of objects") }
            requests = try items.enumerated().map { index, item in
                guard let object = item.objectValue else { throw fields.fail("series", "[\(index)] is \(item.kindName), expected an object") }
                return Fields(object: object, context: "request body, \"series\"[\(index)]")
            }
        }
        try fields.finish()
        let header = ["unique_id", "ds", "y"] + c.knownCovariates + c.pastCovariates
        var rows: [[String]] = []
        for var series in requests {
            let id = try series.requiredString("unique_id")
            guard let y = try series.numbers("y"), !y.isEmpty else { throw series.fail("y", "is missing or empty") }
            if let bad = y.firstIndex(where: { !$0.isFinite }) { throw series.fail("y", "[\(bad)] is not a finite number") }
            let known = try c.knownCovariates.map { name -> [Double] in
                guard let values = try series.numbers(name) else { throw series.fail(name, "is missing (a covariate the model reads, known ahead)") }
                return values
            }
            let past = try c.pastCovariates.map { name -> [Double] in
                guard let values = try series.numbers(name) else { throw series.fail(name, "is missing (a covariate the model reads)") }
                guard values.count == y.count else { throw series.fail(name, "has \(values.count) values for \(y.count) of y") }
                return values
            }
            let count = known.map(\.count).max() ?? y.count
            let dates = try series.strings("ds")
            if let dates, dates.count != max(count, y.count) {
                throw series.fail("ds", "has \(dates.count) values for \(max(count, y.count)) rows (y, and the known covariates' future rows)")
            }
            try series.finish()
            for t in 0..<max(count, y.count) {
                var row = [id, dates?[t] ?? String(t + 1), t < y.count ? "\(y[t])" : ""]
                row += known.map { t < $0.count ? "\($0[t])" : "" }
                row += past.map { t < $0.count ? "\($0[t])" : "" }
                rows.append(row)
            }
        }
        let panel = try ModelExecutor.mappingErrors {
            try SeriesPanel(table: try CSVTable(header: header, rows: rows, path: "request body (as rows of unique_id, ds, y)"),
                            layout: .long(id: "unique_id", date: "ds", target: "y"), known: c.knownCovariates, past: c.pastCovariates, season: c.season)
        }
        let box = UncheckedBox(forecaster)
        let forecasts = try await executor.run(model) { try ModelExecutor.mappingErrors { try box.value.forecast(panel, seed: seed) } }
        let columns = forecaster.predictionColumns
        let table: [JSON] = forecaster.predictionRows(forecasts, panel: panel, steps: steps).map { row in
            var object: [String: JSON] = ["unique_id": .string(row.id), "ds": .string(row.ds)]
            for (name, value) in zip(columns.dropFirst(2), row.values) { object[name] = .number(value) }
            return .object(object)
        }
        var reply: [String: JSON] = ["model_name": .string(model.name), "forecasts": .array(table), "columns": .array(columns.map(JSON.string))]
        if oneSeries, let first = forecasts.first {
            reply["column"] = .string("y")
            reply["forecast"] = .array((0..<steps).map { k in
                var row: [String: JSON] = ["step": .number(Double(k + 1)), "value": .number(first.point[k])]
                if panel.calendar != nil { row["date"] = .string(panel.format(ordinal: first.ordinals[k])) }
                return .object(row)
            })
        }
        return .json(.object(reply))
    }
}
