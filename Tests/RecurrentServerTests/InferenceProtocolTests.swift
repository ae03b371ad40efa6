import Foundation
import XCTest
@testable import Recurrent

/// The Open Inference Protocol as the built `recurrent serve` speaks it: metadata, JSON and
/// binary tensors, outputs equal to `recurrent run`'s, sessions carrying state bit for bit.
final class InferenceProtocolTests: XCTestCase {
    var server: ServerProcess!
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("serve-protocol-\(UUID().uuidString)")

    override func setUpWithError() throws {
        try TestModels.make()
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        server = try ServerProcess(TestModels.all + ["--max-batch", "8"])
    }

    override func tearDownWithError() throws {
        XCTAssertEqual(server.stop(), 0, "SIGTERM ends the server with status 0")
        try? FileManager.default.removeItem(at: scratch)
    }

    func testHealthServerAndModelMetadata() throws {
        XCTAssertEqual(try server.get("/v2/health/live").status, 200)
        XCTAssertEqual(try server.get("/v2/health/ready").status, 200)
        let metadata = try server.get("/v2").json()
        let extensions = try XCTUnwrap(metadata["extensions"] as? [String])
        for name in ["binary_tensor_data", "sequence", "generate"] { XCTAssertTrue(extensions.contains(name), "\(name) in \(extensions)") }
        let lstm = try server.get("/v2/models/lstm").json()
        let inputs = try XCTUnwrap(lstm["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.map { $0["name"] as? String }, ["x", "h0", "c0", "lengths"])
        XCTAssertEqual(inputs[0]["shape"] as? [Int], [-1, -1, 4])
        XCTAssertEqual(inputs[1]["shape"] as? [Int], [2, -1, 6])
        XCTAssertEqual(inputs[3]["datatype"] as? String, "INT64")
        let outputs = try XCTUnwrap(lstm["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.map { $0["name"] as? String }, ["y", "h_n", "c_n"])
        XCTAssertEqual(try server.get("/v2/models/lstm/ready").json()["ready"] as? Bool, true)
        XCTAssertEqual(try server.get("/v2/models/lstm/versions/1").status, 200)
        XCTAssertEqual(try server.get("/v2/models/lstm/versions/2").status, 404)
        let bard = try server.get("/v2/models/bard").json()
        XCTAssertEqual((bard["inputs"] as? [[String: Any]])?.map { $0["name"] as? String }, ["x", "h0", "c0", "lengths", "text_input"])
        let index = try JSONSerialization.jsonObject(with: server.post("/v2/repository/index", json: [:]).body) as? [[String: Any]]
        XCTAssertEqual(index?.compactMap { $0["name"] as? String }, ["lstm", "bigru", "airline", "bard", "sentiment", "g2p", "digits"])
    }

    /// The inputs of the LSTM fixture case, through `recurrent run` and through the server.
    func testInferEqualsRecurrentRunBitForBit() throws {
        var rng = SplitMix64(seed: 11)
        let x = Tensor.uniform(shape: [3, 5, 4], low: -2, high: 2, using: &rng)
        let h0 = Tensor.uniform(shape: [2, 3, 6], low: -1, high: 1, using: &rng)
        let lengths = [5, 2, 4]
        var inputs = SafeTensors(tensors: ["x": x, "h0": h0])
        inputs.integerTensors["lengths"] = IntegerTensor(lengths)
        let inputPath = scratch.appendingPathComponent("in.safetensors").path, outputPath = scratch.appendingPathComponent("out.safetensors").path
        try inputs.write(to: inputPath)
        let run = try runRecurrent(["run", TestModels.lstm, "--input", inputPath, "-o", outputPath])
        XCTAssertEqual(run.status, 0, run.stderr)
        let expected = try SafeTensors.read(from: outputPath).tensors

        // JSON: x nested, h0 flat, lengths as INT64.
        let nested = (0..<3).map { b in (0..<5).map { t in (0..<4).map { Double(x.scalars[(b * 5 + t) * 4 + $0]) } } }
        let body: [String: Any] = ["inputs": [
            ["name": "x", "datatype": "FP32", "shape": [3, 5, 4], "data": nested],
            ["name": "h0", "datatype": "FP32", "shape": [2, 3, 6], "data": h0.scalars.map(Double.init)],
            ["name": "lengths", "datatype": "INT64", "shape": [3], "data": lengths],
        ]]
        let reply = try server.post("/v2/models/lstm/infer", json: body)
        XCTAssertEqual(reply.status, 200, reply.text)
        let outputs = try JSONDecoder().decode(InferenceReply.self, from: reply.body).outputs
        XCTAssertEqual(outputs.map(\.name), ["y", "h_n", "c_n"])
        for output in outputs {
            let name = output.name
            let values = try XCTUnwrap(output.data).map(Float.init)
            XCTAssertEqual(output.shape, expected[name]?.shape, name)
            XCTAssertEqual(values.map(\.bitPattern), expected[name]?.scalars.map(\.bitPattern), "\(name) differs from recurrent run's")
        }
    }

    /// Binary inputs after the JSON header, binary and JSON outputs mixed, as tritonclient sends them.
    func testBinaryTensorExtension() throws {
        var rng = SplitMix64(seed: 12)
        let x = Tensor.uniform(shape: [2, 7, 4], low: -1, high: 1, using: &rng)
        let raw = x.scalars.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let header = try JSONSerialization.data(withJSONObject: [
            "inputs": [["name": "x", "datatype": "FP32", "shape": [2, 7, 4], "parameters": ["binary_data_size": raw.count]]],
            "outputs": [["name": "y", "parameters": ["binary_data": true]], ["name": "h_n"]],
        ])
        let reply = try server.request("POST", "/v2/models/lstm/infer", body: header + Data(raw),
                                       headers: ["Inference-Header-Content-Length": String(header.count), "Content-Type": "application/octet-stream"])
        XCTAssertEqual(reply.status, 200, reply.text)
        let jsonLength = try XCTUnwrap(Int(reply.header("Inference-Header-Content-Length") ?? ""), "binary outputs follow a JSON header")
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: reply.body.prefix(jsonLength)) as? [String: Any])
        let outputs = try XCTUnwrap(document["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.map { $0["name"] as? String }, ["y", "h_n"])
        let size = try XCTUnwrap((outputs[0]["parameters"] as? [String: Any])?["binary_data_size"] as? Int)
        XCTAssertEqual(size, 2 * 7 * 6 * 4)
        XCTAssertEqual(reply.body.count, jsonLength + size)
        let y = reply.body.suffix(size).withUnsafeBytes { bytes in (0..<(size / 4)).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
        let expected = try ModelRunner(Model(contentsOf: TestModels.lstm).layer).run(.init(x: x))
        XCTAssertEqual(y.map(\.bitPattern), expected["y"]?.scalars.map(\.bitPattern))
        let decoded = try JSONDecoder().decode(InferenceReply.self, from: reply.body.prefix(jsonLength)).outputs
        XCTAssertEqual(decoded[1].data?.map { Float($0).bitPattern }, expected["h_n"]?.scalars.map(\.bitPattern))
    }

    func sequenceStep(_ x: [Float], steps: Int, id: Any, start: Bool, end: Bool, model: String = "lstm") throws -> HTTPReply {
        try server.post("/v2/models/\(model)/infer", json: [
            "parameters": ["sequence_id": id, "sequence_start": start, "sequence_end": end],
            "inputs": [["name": "x", "datatype": "FP32", "shape": [1, steps, x.count / steps], "data": x.map(Double.init)]],
        ])
    }

    func floats(_ reply: HTTPReply, _ name: String) throws -> [Float] {
        let outputs = try JSONDecoder().decode(InferenceReply.self, from: reply.body).outputs
        return try XCTUnwrap(outputs.first { $0.name == name }?.data, reply.text).map(Float.init)
    }

    /// Chunks of 1, 3, 2 and 1 steps, two sequences interleaved, give what one call on the whole
    /// sequence gives, bit for bit.
    func testSessionsCarryTheStateBitForBit() throws {
        var rng = SplitMix64(seed: 13)
        let first = Tensor.uniform(shape: [1, 7, 4], low: -1, high: 1, using: &rng).scalars
        let second = Tensor.uniform(shape: [1, 7, 4], low: -1, high: 1, using: &rng).scalars
        var wholeY: [[Float]] = [], wholeH: [[Float]] = []
        for sequence in [first, second] {
            let reply = try server.post("/v2/models/lstm/infer", json: ["inputs": [["name": "x", "datatype": "FP32", "shape": [1, 7, 4], "data": sequence.map(Double.init)]]])
            wholeY.append(try floats(reply, "y"))
            wholeH.append(try floats(reply, "h_n"))
        }
        var chunkedY: [[Float]] = [[], []], lastH: [[Float]] = [[], []]
        var step = 0
        for size in [1, 3, 2, 1] {
            for (index, sequence) in [first, second].enumerated() {
                let chunk = Array(sequence[(step * 4)..<((step + size) * 4)])
                let reply = try sequenceStep(chunk, steps: size, id: index == 0 ? 41 : "second", start: step == 0, end: step + size == 7)
                XCTAssertEqual(reply.status, 200, reply.text)
                chunkedY[index] += try floats(reply, "y")
                lastH[index] = try floats(reply, "h_n")
            }
            step += size
        }
        for index in 0..<2 {
            XCTAssertEqual(chunkedY[index].map(\.bitPattern), wholeY[index].map(\.bitPattern), "sequence \(index): y")
            XCTAssertEqual(lastH[index].map(\.bitPattern), wholeH[index].map(\.bitPattern), "sequence \(index): h_n")
        }
        let ended = try sequenceStep(Array(first.prefix(4)), steps: 1, id: 41, start: false, end: false)
        XCTAssertEqual(ended.status, 400)
        XCTAssertTrue(ended.text.contains("sequence_id 41"), ended.text)
        XCTAssertEqual(try server.metric(#"recurrent_live_sequences{model="lstm"}"#), 0, "ended sequences are let go")
    }

    func testSessionsOnModelsThatCannotStreamAreRefused() throws {
        let bidirectional = try server.post("/v2/models/bigru/infer", json: [
            "parameters": ["sequence_id": 5, "sequence_start": true],
            "inputs": [["name": "x", "datatype": "FP32", "shape": [1, 2, 3], "data": [0, 0, 0, 1, 1, 1]]],
        ])
        XCTAssertEqual(bidirectional.status, 400)
        XCTAssertTrue(bidirectional.text.contains("bidirectional"), bidirectional.text)
    }

    /// A language model streams one token at a time through a session, as one call on the
    /// whole text would score it: nine tokens, more rows than the product's few-rows path takes
    /// on any instruction set (4 on AVX2, 6 on AVX-512), so the dense layer's rows must get the
    /// same arithmetic at one row and at nine.
    func testLanguageModelSessionOneTokenAtATime() throws {
        try assertSessionScoresAsTheWholeText(server, model: "bard", ids: [3, 9, 1, 4, 4, 2, 7, 0, 5])
    }

    /// The same for a word-level model whose output layer (about 1,100 x 256) is beyond the dot
    /// products' cache bound: inference multiplies by its kept transpose, one row as many.
    func testWordLanguageModelSessionOneTokenAtATime() throws {
        let words = try ServerProcess([TestModels.words])
        let vocabulary = try XCTUnwrap((try words.get("/v2/models/words").json()["outputs"] as? [[String: Any]])?
            .first { $0["name"] as? String == "y" }?["shape"] as? [Int]).last ?? 0
        XCTAssertGreaterThan(vocabulary * 256, 262_144, "the output layer should be beyond the cache bound")
        try assertSessionScoresAsTheWholeText(words, model: "words", ids: [3, 900, 1, 40, 40, 2, 700, 0, 5, 1000, 12])
        XCTAssertEqual(words.stop(), 0)
    }

    private func assertSessionScoresAsTheWholeText(_ server: ServerProcess, model: String, ids: [Double],
                                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let whole = try server.post("/v2/models/\(model)/infer", json: ["inputs": [["name": "x", "datatype": "FP32", "shape": [1, ids.count], "data": ids]]])
        XCTAssertEqual(whole.status, 200, whole.text, file: file, line: line)
        var streamed: [Float] = []
        for (index, id) in ids.enumerated() {
            let reply = try server.post("/v2/models/\(model)/infer", json: [
                "parameters": ["sequence_id": 77, "sequence_start": index == 0, "sequence_end": index == ids.count - 1],
                "inputs": [["name": "x", "datatype": "FP32", "shape": [1, 1], "data": [id]]], "outputs": [["name": "y"]],
            ])
            XCTAssertEqual(reply.status, 200, reply.text, file: file, line: line)
            streamed += try floats(reply, "y")
        }
        let expected = try floats(whole, "y")
        XCTAssertEqual(streamed.count, expected.count, "\(model)", file: file, line: line)
        if let index = zip(streamed, expected).map({ $0.bitPattern == $1.bitPattern }).firstIndex(of: false) {
            XCTFail("\(model): value \(index) of y (token \(index / max(1, expected.count / ids.count))) is \(streamed[index]) one token at a time, \(expected[index]) in one call",
                    file: file, line: line)
        }
    }
}

/// An inference response, read with JSONDecoder: Foundation's JSONSerialization parses some
/// decimals to a neighbouring double, JSONDecoder to the nearest.
struct InferenceReply: Decodable {
    struct Output: Decodable {
        var name: String
        var datatype: String
        var shape: [Int]
        var data: [Double]?
    }
    var outputs: [Output]
}
