import Foundation
import XCTest
@testable import Recurrent

/// The task endpoints give what the library gives for the same model file, and the documents
/// around them (OpenAPI, metrics, the page's files) are served.
final class TaskEndpointTests: XCTestCase {
    var server: ServerProcess!

    override func setUpWithError() throws {
        try TestModels.make()
        server = try ServerProcess(TestModels.all)
    }

    override func tearDownWithError() throws { XCTAssertEqual(server.stop(), 0) }

    func testGenerateAndItsStreamGiveTheLibrarysText() throws {
        let model = try LanguageModel(contentsOf: TestModels.bard)
        let sampling = SamplingOptions(temperature: 0.8, topK: 20)
        let expected = try model.generate(prompt: "ROMEO.", length: 60, sampling: sampling, seed: 5)
        let body: [String: Any] = ["text_input": "ROMEO.", "parameters": ["max_tokens": 60, "temperature": 0.8, "top_k": 20, "seed": 5]]
        let reply = try server.post("/v2/models/bard/generate", json: body)
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(try reply.json()["text_output"] as? String, expected)
        let stream = try server.post("/v2/models/bard/generate_stream", json: body)
        XCTAssertEqual(stream.header("Content-Type"), "text/event-stream")
        let events = stream.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertEqual(events.count, 60, "one event per token of a character model")
        let pieces = try events.map { event -> String in
            XCTAssertTrue(event.hasPrefix("data: "), event)
            let object = try JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as? [String: Any]
            return try XCTUnwrap(object?["text_output"] as? String)
        }
        XCTAssertEqual(pieces.joined(), expected)
        let complete = try server.post("/v2/models/bard/complete", json: ["text": "The ki", "count": 3])
        let completions = try XCTUnwrap(complete.json()["completions"] as? [[String: Any]])
        XCTAssertEqual(completions.compactMap { $0["text"] as? String }, try model.complete("The ki", count: 3).map(\.text))
    }

    func testForecastGivesTheLibrarysValuesAndDates() throws {
        let forecaster = try Forecaster(contentsOf: TestModels.airline)
        let table = try TimeSeriesData(csv: repositoryRoot.appendingPathComponent("Data/airline-passengers.csv").path, target: "Passengers")
        let history = Array(table.target.prefix(60)), dates = try XCTUnwrap(table.dates)
        let dateCells = (0..<60).map { dates.format(ordinal: dates.ordinals[$0]) }
        let expected = try forecaster.forecast(after: history, steps: 5)
        let reply = try server.post("/v2/models/airline/forecast", json: ["history": history, "dates": dateCells, "steps": 5])
        XCTAssertEqual(reply.status, 200, reply.text)
        struct Row: Decodable { var step: Int; var value: Double; var date: String? }
        struct Reply: Decodable { var forecast: [Row] }
        let rows = try JSONDecoder().decode(Reply.self, from: reply.body).forecast
        XCTAssertEqual(rows.map(\.value), expected)
        XCTAssertEqual(rows.map(\.step), [1, 2, 3, 4, 5])
        XCTAssertEqual(rows.compactMap(\.date), ["1954-01", "1954-02", "1954-03", "1954-04", "1954-05"])
        let short = try server.post("/v2/models/airline/forecast", json: ["history": [1, 2, 3]])
        XCTAssertEqual(short.status, 400)
        XCTAssertTrue(short.text.contains("at least"), short.text)
    }

    /// A model of many series answers for the series a request holds what `recurrent forecast
    /// predict --json` prints for the same rows, every number; one `history` is one series.
    func testForecastOfManySeriesGivesTheCommandLinesValues() throws {
        let many = try ServerProcess([TestModels.m3])
        defer { _ = many.stop() }
        let panel = try SeriesPanel(csv: repositoryRoot.appendingPathComponent("Data/m3-monthly-sample-train.csv").path, season: 12)
        let chosen = Array(panel.series.prefix(3))
        var csv = "unique_id,ds,y\n"
        for series in chosen { for (t, y) in series.values.enumerated() { csv += "\(series.id),\(t + 1),\(y)\n" } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("m3-three-\(getpid()).csv").path
        try csv.write(toFile: file, atomically: true, encoding: .utf8)
        let predicted = try runRecurrent(["forecast", "predict", TestModels.m3, file, "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        struct Rows: Decodable { var forecasts: [[String: JSONValue]] }
        let line = try XCTUnwrap(predicted.stdout.split(separator: "\n").last)
        let expected = try JSONDecoder().decode(Rows.self, from: Data(line.utf8)).forecasts
        let body: [String: Any] = ["series": chosen.map { ["unique_id": $0.id, "y": $0.values, "ds": $0.values.indices.map { String($0 + 1) }] }]
        let reply = try many.post("/v2/models/m3/forecast", json: body)
        XCTAssertEqual(reply.status, 200, reply.text)
        let got = try JSONDecoder().decode(Rows.self, from: reply.body).forecasts
        XCTAssertEqual(got.count, 3 * 12)
        XCTAssertEqual(got, expected)
        XCTAssertEqual(got.first?["ds"], .string(String(chosen[0].count + 1)), "the step after the last")
        // One history: the same as one series of it.
        let one = try many.post("/v2/models/m3/forecast", json: ["history": chosen[1].values, "steps": 4])
        XCTAssertEqual(one.status, 200, one.text)
        struct One: Decodable { var forecast: [Row]; struct Row: Decodable { var step: Int; var value: Double } }
        let means = expected.filter { $0["unique_id"] == .string(chosen[1].id) }.prefix(4).compactMap { row -> Double? in
            if case .number(let value)? = row["mean"] { return value } else { return nil }
        }
        XCTAssertEqual(try JSONDecoder().decode(One.self, from: one.body).forecast.map(\.value), means)
        // And through the inference protocol: the history tensor in, the forecast tensor out.
        let inferred = try many.post("/v2/models/m3/infer", json: [
            "inputs": [["name": "history", "datatype": "FP64", "shape": [chosen[1].count], "data": chosen[1].values]],
            "parameters": ["steps": 4],
        ])
        XCTAssertEqual(inferred.status, 200, inferred.text)
        struct Inferred: Decodable { var outputs: [Output]; struct Output: Decodable { var name: String; var shape: [Int]; var data: [Double] } }
        let output = try XCTUnwrap(try JSONDecoder().decode(Inferred.self, from: inferred.body).outputs.first)
        XCTAssertEqual(output.name, "forecast")
        XCTAssertEqual(output.shape, [4])
        XCTAssertEqual(output.data, means)
        // Bad requests: a 400 naming the field at fault.
        let cases: [([String: Any], String)] = [
            (["series": [["unique_id": "a"]]], #""series"[0]: field "y" is missing"#),
            (["series": [["unique_id": "a", "y": [1, 2, 3]], 4]], #"field "series" [1] is a number, expected an object"#),
            (["series": [["unique_id": "a", "y": [1, 2, 3], "ds": ["1", "2"]]]], #"field "ds" has 2 values for 3 rows"#),
            (["series": [["unique_id": "a", "y": [1, 2, 3], "colour": [1]]]], #"unknown field "colour""#),
            (["series": [["unique_id": "a", "y": [1, 2, 3], "ds": ["1", "3", "2"]], ["unique_id": "a", "y": [4]]]], "request body"),
            (["history": [1, 2, 3], "steps": 13], #"field "steps" is 13, expected a whole number in 1...12"#),
            // Found by schemathesis: values past float32's range forecast NaN.
            (["history": [7.8e121, 2.2e-313, -12411.5, -6.2e16, -5.6e16, 1.7976931348623157e308, 2.5e16]],
             "the forecast is not finite; its values reach 1.7976931348623157e+308"),
        ]
        for (request, fragment) in cases {
            let bad = try many.post("/v2/models/m3/forecast", json: request)
            XCTAssertEqual(bad.status, 400, "\(request): \(bad.text)")
            let message = try XCTUnwrap(try bad.json()["error"] as? String, bad.text)
            XCTAssertTrue(message.contains(fragment), "\(fragment) in \(message)")
        }
    }

    func testClassifyGivesTheLibrarysProbabilities() throws {
        let classifier = try Classifier(contentsOf: TestModels.sentiment)
        let texts = ["A gorgeous, moving film.", "Tedious and empty.", "words nobody ever wrote zzqx"]
        let expected = try classifier.predict(texts: texts)
        let reply = try server.post("/v2/models/sentiment/classify", json: ["texts": texts])
        XCTAssertEqual(reply.status, 200, reply.text)
        struct Prediction: Decodable { var label: String; var probabilities: [String: Double] }
        struct Reply: Decodable { var predictions: [Prediction] }
        let predictions = try JSONDecoder().decode(Reply.self, from: reply.body).predictions
        XCTAssertEqual(predictions.count, texts.count)
        for (prediction, wanted) in zip(predictions, expected) {
            XCTAssertEqual(prediction.label, wanted.label)
            XCTAssertEqual(classifier.labels.map { prediction.probabilities[$0] ?? -1 }, wanted.probabilities)
        }
    }

    func testTranslateGivesTheLibrarysOutputAndAttention() throws {
        let translator = try Translator(contentsOf: TestModels.g2p)
        let expected = try translator.translate(["recurrent"], options: DecodingOptions(beamWidth: 3))[0]
        let reply = try server.post("/v2/models/g2p/translate", json: ["text": "recurrent", "beam": 3, "attention": true])
        XCTAssertEqual(reply.status, 200, reply.text)
        struct Reply: Decodable { var translation: String; var source_tokens: [String]; var attention: [[Double]] }
        let document = try JSONDecoder().decode(Reply.self, from: reply.body)
        XCTAssertEqual(document.translation, expected.text)
        XCTAssertEqual(document.source_tokens, expected.sourceTokens)
        XCTAssertEqual(document.attention, expected.attention)
        XCTAssertEqual(expected.attention.first?.count, 9, "one weight per letter of the source")
        let plain = try server.post("/v2/models/g2p/translate", json: ["text": "recurrent", "beam": 3]).json()
        XCTAssertNil(plain["attention"], "attention only on request")
        let long = try server.post("/v2/models/g2p/translate", json: ["text": String(repeating: "a", count: 1_001)])
        XCTAssertEqual(long.status, 400)
        XCTAssertTrue(long.text.contains("over the limit of 1000"), long.text)
    }

    /// A WAV file as the body (options in the query), or in base64 inside JSON: the library's
    /// transcript either way; audio that is not a WAV file is a 400 naming the problem.
    func testTranscribeGivesTheLibrarysTranscript() throws {
        let recognizer = try SpeechRecognizer(contentsOf: TestModels.digits)
        let file = repositoryRoot.appendingPathComponent("Data/speech/asterisk-en/digits/7.wav").path
        let clip = try WAVFile.read(path: file)
        let wav = try Data(contentsOf: URL(fileURLWithPath: file))
        let raw = try server.request("POST", "/v2/models/digits/transcribe", body: wav, headers: ["Content-Type": "audio/wav"])
        XCTAssertEqual(raw.status, 200, raw.text)
        XCTAssertEqual(try raw.json()["text"] as? String, try recognizer.transcribe(clip, name: file))
        XCTAssertEqual(try XCTUnwrap(try raw.json()["seconds"] as? Double), clip.duration, accuracy: 1e-9)
        let beam = try server.request("POST", "/v2/models/digits/transcribe?beam=4", body: wav, headers: ["Content-Type": "audio/wav"])
        let json = try server.post("/v2/models/digits/transcribe", json: ["audio": wav.base64EncodedString(), "beam": 4])
        let expected = try recognizer.transcribe(clip, name: file, decoding: SpeechDecoding(beamWidth: 4))
        XCTAssertEqual(try beam.json()["text"] as? String, expected)
        XCTAssertEqual(try json.json()["text"] as? String, expected)
        let notAudio = try server.request("POST", "/v2/models/digits/transcribe", body: Data("hello there".utf8), headers: ["Content-Type": "audio/wav"])
        XCTAssertEqual(notAudio.status, 400, notAudio.text)
        XCTAssertTrue(notAudio.text.contains("not a RIFF/WAVE file"), notAudio.text)
        let wrongModel = try server.post("/v2/models/bard/transcribe", json: ["audio": wav.base64EncodedString()])
        XCTAssertEqual(wrongModel.status, 404, wrongModel.text)
    }

    func testOpenAPIDocumentsEveryRouteAndMetricsCountRequests() throws {
        let document = try server.get("/openapi.json").json()
        XCTAssertEqual(document["openapi"] as? String, "3.0.3")
        let paths = try XCTUnwrap(document["paths"] as? [String: Any])
        for path in ["/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/{model_name}", "/v2/models/{model_name}/ready",
                     "/v2/models/{model_name}/infer", "/v2/models/{model_name}/generate", "/v2/models/{model_name}/generate_stream",
                     "/v2/models/{model_name}/complete", "/v2/models/{model_name}/forecast", "/v2/models/{model_name}/classify",
                     "/v2/models/{model_name}/translate", "/metrics", "/openapi.json", "/", "/v2/repository/index"] {
            XCTAssertNotNil(paths[path], "\(path) is documented")
        }
        _ = try server.post("/v2/models/sentiment/classify", json: ["text": "fine"])
        let metrics = try server.get("/metrics").text
        for series in [#"recurrent_inference_requests_total{model="sentiment",endpoint="classify",outcome="success"} 1"#,
                       #"recurrent_inference_queue_duration_seconds_bucket{model="sentiment""#,
                       #"recurrent_inference_compute_duration_seconds_count{model="sentiment"} 1"#,
                       #"recurrent_inference_batch_size_bucket{model="lstm""#, #"recurrent_live_sequences{model="lstm"} 0"#] {
            XCTAssertTrue(metrics.contains(series), "metrics hold \(series)")
        }
    }

    func testThePageAndItsFilesAreServed() throws {
        let page = try server.get("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.header("Content-Type")?.hasPrefix("text/html") ?? false)
        XCTAssertTrue(page.text.contains(#"<script src="/page.js"></script>"#))
        XCTAssertTrue(try server.get("/page.js").text.contains("generate_stream"))
        XCTAssertTrue(try server.get("/page.css").header("Content-Type")?.hasPrefix("text/css") ?? false)
    }
}

/// Any JSON value, compared exactly (numbers as the decoder reads them).
enum JSONValue: Decodable, Equatable {
    case number(Double), string(String), other

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) { self = .number(number) }
        else if let text = try? container.decode(String.self) { self = .string(text) }
        else { self = .other }
    }
}

/// An anomaly detector's route gives `recurrent anomaly detect`'s ranges and figures, and a
/// signal monitored a few readings at a time scores exactly as the whole signal.
final class DetectEndpointTests: XCTestCase {
    func testDetectGivesTheCommandLinesRangesAndMonitoringScoresExactly() throws {
        try TestModels.make()
        let server = try ServerProcess([TestModels.ecg])
        defer { XCTAssertEqual(server.stop(), 0) }
        let csv = repositoryRoot.appendingPathComponent("Data/sensors/mitdb.csv").path
        let table = try CSVTable(path: csv)
        let signal = try LabelledSignal(table: table, column: "data", labelColumn: "label")
        let detector = try AnomalyDetector(contentsOf: TestModels.ecg)
        let expected = try detector.score(signal.values).scores
        let cli = try runRecurrent(["anomaly", "detect", TestModels.ecg, csv, "--labels", "label", "--threshold", "3", "--json"])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let printed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(cli.stdout.split(separator: "\n").last).utf8)) as? [String: Any])
        let cliRanges = try XCTUnwrap(printed["ranges"] as? [[String: Any]])
        XCTAssertGreaterThan(cliRanges.count, 2, "the threshold flags ranges")

        let values = signal.values.map(Double.init), labels = try XCTUnwrap(signal.labels)
        let whole = try server.post("/v2/models/ecg/detect", json: ["values": values, "labels": labels, "threshold": 3])
        XCTAssertEqual(whole.status, 200, whole.text)
        let reply = try whole.json()
        // JSONDecoder reads numbers exactly (JSONSerialization can be an ulp off).
        struct Scores: Decodable { var scores: [Double]; var alarms: [Int]; var first_step: Int }
        let served = try JSONDecoder().decode(Scores.self, from: whole.body).scores
        XCTAssertEqual(served.count, expected.count)
        let differing = zip(served, expected).enumerated().filter { $1.0 != $1.1 }
        XCTAssertTrue(differing.isEmpty, "\(differing.count) scores differ, the first \(differing.prefix(3))")
        let ranges = try XCTUnwrap(reply["ranges"] as? [[String: Any]])
        for key in ["start", "end", "peak"] {
            XCTAssertEqual(ranges.map { $0[key] as? Int }, cliRanges.map { $0[key] as? Int }, key)
        }
        XCTAssertEqual(ranges.map { String(format: "%.4f", $0["peak_score"] as? Double ?? -1) },
                       cliRanges.map { String(format: "%.4f", $0["peak_score"] as? Double ?? -1) })
        let evaluation = try XCTUnwrap(reply["evaluation"] as? [String: Any]), cliEvaluation = try XCTUnwrap(printed["evaluation"] as? [String: Any])
        for part in ["pointwise", "point_adjusted"] {
            let mine = try XCTUnwrap(evaluation[part] as? [String: Double]), theirs = try XCTUnwrap(cliEvaluation[part] as? [String: Double])
            XCTAssertEqual(mine.mapValues { String(format: "%.4f", $0) }, theirs.mapValues { String(format: "%.4f", $0) }, part)
        }
        XCTAssertEqual(evaluation["top_location"] as? Int, cliEvaluation["top_location"] as? Int)
        let alarms = try XCTUnwrap(reply["alarms"] as? [Int])
        XCTAssertEqual(alarms, expected.indices.filter { expected[$0] > 3 })

        // Monitored in pieces of uneven sizes through one sequence: the same scores, bit for bit,
        // each reply numbered from the sequence's first reading.
        var monitored: [Double] = [], monitoredAlarms: [Int] = [], start = 0
        for (k, size) in [1, 99, 700, 1, 2200, 4499].enumerated() {
            let piece = Array(values[start..<(start + size)])
            let body: [String: Any] = ["values": piece, "threshold": 3, "sequence_id": "bed-7", "sequence_start": k == 0, "sequence_end": k == 5]
            let part = try server.post("/v2/models/ecg/detect", json: body)
            XCTAssertEqual(part.status, 200, part.text)
            let decoded = try JSONDecoder().decode(Scores.self, from: part.body)
            XCTAssertEqual(decoded.first_step, start)
            monitored += decoded.scores
            monitoredAlarms += decoded.alarms
            if k == 2 { XCTAssertEqual(try server.metric(#"recurrent_live_sequences{model="ecg"}"#), 1) }
            start += size
        }
        XCTAssertEqual(start, values.count)
        XCTAssertTrue(monitored == expected, "monitored in pieces: the whole signal's scores")
        XCTAssertEqual(monitoredAlarms, alarms)
        // Through the inference protocol (and so gRPC): values in, scores out, a sequence in two requests.
        struct Inferred: Decodable { var outputs: [Output]; struct Output: Decodable { var name: String; var data: [Double] } }
        var inferred: [Double] = []
        for (k, range) in [0..<3000, 3000..<values.count].enumerated() {
            let reply = try server.post("/v2/models/ecg/infer", json: [
                "inputs": [["name": "values", "datatype": "FP64", "shape": [range.count], "data": Array(values[range])]],
                "parameters": ["sequence_id": 77, "sequence_start": k == 0, "sequence_end": k == 1],
            ])
            XCTAssertEqual(reply.status, 200, reply.text)
            let output = try XCTUnwrap(try JSONDecoder().decode(Inferred.self, from: reply.body).outputs.first)
            XCTAssertEqual(output.name, "scores")
            inferred += output.data
        }
        XCTAssertTrue(inferred == expected, "the inference protocol's scores are the whole signal's")
        XCTAssertEqual(try server.metric(#"recurrent_live_sequences{model="ecg"}"#), 0, "the ended sequence is let go")

        let cases: [([String: Any], Int, String)] = [
            (["values": [1, 2], "sequence_id": "bed-7"], 400, "was never started"),
            (["values": [1, 2], "labels": [0, 1], "sequence_id": 5, "sequence_start": true], 400, "cannot be given with sequence_id"),
            (["values": []], 400, #"field "values" is missing or empty"#),
            (["values": [1, 2], "labels": [0, 2]], 400, #""labels" [1] is 2.0, expected 0 or 1"#),
            (["values": [1, 2], "labels": [0]], 400, "has 1 values for 2 readings"),
            (["values": [1, 1e39]], 400, "not a finite 32-bit number"),
            // Found by schemathesis: a reading of -3.4e38 made every later score NaN.
            (["values": [0.1, -3.4028234663852886e+38, 0.2]], 400, "standard deviations from the training signal's mean"),
            (["values": [1], "threshold": -1], 400, "expected 0 or more"),
            (["values": [1], "window": 3], 400, #"unknown field "window""#),
        ]
        for (body, status, fragment) in cases {
            let bad = try server.post("/v2/models/ecg/detect", json: body)
            XCTAssertEqual(bad.status, status, "\(body): \(bad.text)")
            XCTAssertTrue(((try? bad.json()["error"] as? String) ?? "").contains(fragment), "\(fragment) in \(bad.text)")
        }
    }
}

/// Tune, chorale and stroke models give over HTTP the files `recurrent music generate` and
/// `recurrent strokes generate` write, byte for byte.
final class CreativeEndpointTests: XCTestCase {
    func testComposeAndDrawGiveTheCommandLinesFiles() throws {
        try TestModels.make()
        let server = try ServerProcess(["tunes=\(TestModels.tunes)", "chorales=\(TestModels.chorales)", "strokes=\(TestModels.strokes)"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("creative-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        func file(_ name: String) -> String { work.appendingPathComponent(name).path }
        struct Composed: Decodable { var abc: String?; var midi: String; var svg: String?; var tunes: [Tune]?; struct Tune: Decodable { var abc: String; var reads: Bool } }

        // Tunes: the ABC printed and the MIDI file written.
        let cli = try runRecurrent(["music", "generate", TestModels.tunes, "--count", "3", "--seed", "4", "--temperature", "0.9", "--midi", file("tunes.mid")])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let tunes = try server.post("/v2/models/tunes/compose", json: ["count": 3, "seed": 4, "temperature": 0.9])
        XCTAssertEqual(tunes.status, 200, tunes.text)
        let composed = try JSONDecoder().decode(Composed.self, from: tunes.body)
        XCTAssertEqual(composed.abc, cli.stdout)
        XCTAssertEqual(composed.tunes?.count, 3)
        XCTAssertEqual(Data(base64Encoded: composed.midi), try Data(contentsOf: URL(fileURLWithPath: file("tunes.mid"))))

        // Chorales: the MIDI file and the piano-roll picture.
        let rolls = try runRecurrent(["music", "generate", TestModels.chorales, "--count", "2", "--seed", "5", "--length", "24",
                                      "-o", file("rolls.svg"), "--midi", file("rolls.mid")])
        XCTAssertEqual(rolls.status, 0, rolls.stderr)
        let chorales = try server.post("/v2/models/chorales/compose", json: ["count": 2, "seed": 5, "length": 24])
        XCTAssertEqual(chorales.status, 200, chorales.text)
        let piece = try JSONDecoder().decode(Composed.self, from: chorales.body)
        XCTAssertEqual(Data(base64Encoded: piece.midi), try Data(contentsOf: URL(fileURLWithPath: file("rolls.mid"))))
        XCTAssertEqual(piece.svg, try String(contentsOfFile: file("rolls.svg"), encoding: .utf8))

        // Strokes: the grid's SVG, for characters asked for and for characters drawn at random.
        for condition in ["一二", nil] {
            var arguments = ["strokes", "generate", TestModels.strokes, "--count", "4", "--seed", "6", "-o", file("grid.svg")]
            var body: [String: Any] = ["count": 4, "seed": 6]
            if let condition { arguments += ["--condition", condition]; body["condition"] = condition }
            let drawn = try runRecurrent(arguments)
            XCTAssertEqual(drawn.status, 0, drawn.stderr)
            let reply = try server.post("/v2/models/strokes/draw", json: body)
            XCTAssertEqual(reply.status, 200, reply.text)
            XCTAssertEqual(try reply.json()["svg"] as? String, try String(contentsOfFile: file("grid.svg"), encoding: .utf8))
            let drawings = try XCTUnwrap(try reply.json()["drawings"] as? [[String: Any]])
            XCTAssertEqual(drawings.count, 4)
            if condition != nil { XCTAssertEqual(drawings.compactMap { $0["character"] as? String }, ["一", "二", "一", "二"]) }
        }

        let cases: [(String, [String: Any], String)] = [
            ("strokes/draw", ["condition": "猫"], "never learnt to draw"),
            ("strokes/draw", ["temperature": 0], "expected above 0"),
            // Found by schemathesis: at 1.5e307 every point was NaN.
            ("strokes/draw", ["temperature": 1.5e307], "at most 10"),
            ("strokes/draw", ["count": 65], "1...64"),
            ("chorales/compose", ["meter": "6/8"], #"unknown field "meter""#),
            ("tunes/compose", ["key": "Q#"], "is not a key"),
            ("tunes/compose", ["tempo": 0], "expected 1 to 1000"),
            ("tunes/draw", [:], "has no draw endpoint"),
        ]
        for (route, body, fragment) in cases {
            let bad = try server.post("/v2/models/\(route)", json: body)
            XCTAssertTrue((400..<500).contains(bad.status), "\(route) \(body): \(bad.text)")
            XCTAssertTrue(((try? bad.json()["error"] as? String) ?? "").contains(fragment), "\(fragment) in \(bad.text)")
        }
    }
}
