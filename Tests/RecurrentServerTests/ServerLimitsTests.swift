import Foundation
import XCTest
@testable import Recurrent

/// Sessions' limit and idle timeout, dynamic batching across concurrent clients, bad input,
/// start-up failures and a graceful stop, against the built binary.
final class ServerLimitsTests: XCTestCase {
    override func setUpWithError() throws { try TestModels.make() }

    func start(_ x: [Double], id: Int, server: ServerProcess, end: Bool = false) throws -> HTTPReply {
        try server.post("/v2/models/lstm/infer", json: [
            "parameters": ["sequence_id": id, "sequence_start": true, "sequence_end": end],
            "inputs": [["name": "x", "datatype": "FP32", "shape": [1, 1, 4], "data": x]],
        ])
    }

    func next(id: Int, server: ServerProcess, end: Bool = false) throws -> HTTPReply {
        try server.post("/v2/models/lstm/infer", json: [
            "parameters": ["sequence_id": id, "sequence_end": end],
            "inputs": [["name": "x", "datatype": "FP32", "shape": [1, 1, 4], "data": [0.5, 0.5, 0.5, 0.5]]],
        ])
    }

    func testSessionLimitRefusesWithoutEvictingAndIdleSessionsEnd() throws {
        let server = try ServerProcess([TestModels.lstm, "--max-sessions", "2", "--session-idle-timeout", "1.5"])
        defer { XCTAssertEqual(server.stop(), 0) }
        XCTAssertEqual(try start([1, 2, 3, 4], id: 1, server: server).status, 200)
        XCTAssertEqual(try start([1, 2, 3, 4], id: 2, server: server).status, 200)
        let refused = try start([1, 2, 3, 4], id: 3, server: server)
        XCTAssertEqual(refused.status, 429, refused.text)
        XCTAssertTrue(refused.text.contains("--max-sessions"), refused.text)
        XCTAssertEqual(try next(id: 1, server: server).status, 200, "the live sequences were not evicted")
        XCTAssertEqual(try next(id: 2, server: server, end: true).status, 200)
        XCTAssertEqual(try start([1, 2, 3, 4], id: 3, server: server).status, 200, "an ended sequence frees its place")
        XCTAssertEqual(try server.metric(#"recurrent_live_sequences{model="lstm"}"#), 2)
        Thread.sleep(forTimeInterval: 3.5)
        let idle = try next(id: 1, server: server)
        XCTAssertEqual(idle.status, 400, "an idle sequence ends after the timeout")
        XCTAssertTrue(idle.text.contains("never started, has ended or idled out"), idle.text)
        XCTAssertEqual(try server.metric(#"recurrent_live_sequences{model="lstm"}"#), 0)
    }

    /// 24 concurrent clients with different lengths: each reply equals the one the same request
    /// gets alone, and the batch-size histogram shows batches of more than one request.
    func testConcurrentRequestsAreBatchedAndGetTheirOwnBits() throws {
        let server = try ServerProcess([TestModels.lstm, "--max-batch", "8", "--batch-delay-us", "20000"])
        defer { XCTAssertEqual(server.stop(), 0) }
        var rng = SplitMix64(seed: 21)
        let requests: [[String: Any]] = (0..<24).map { index in
            let rows = 1 + index % 3, steps = 1 + (index * 7) % 9
            let x = Tensor.uniform(shape: [rows, steps, 4], low: -1, high: 1, using: &rng)
            return ["inputs": [["name": "x", "datatype": "FP32", "shape": [rows, steps, 4], "data": x.scalars.map(Double.init)]]]
        }
        let bodies = try requests.map { try JSONSerialization.data(withJSONObject: $0) }
        let alone = try bodies.map { try server.request("POST", "/v2/models/lstm/infer", body: $0).body }
        let batchesBefore = try server.metric(#"recurrent_inference_batch_size_count{model="lstm"}"#) ?? 0
        let together = LockedValue<[Int: Data]>()
        together.set([:])
        DispatchQueue.concurrentPerform(iterations: requests.count) { index in
            let body = (try? server.request("POST", "/v2/models/lstm/infer", body: bodies[index]).body) ?? Data()
            together.update { $0?[index] = body }
        }
        let replies = together.get() ?? [:]
        for index in requests.indices {
            XCTAssertEqual(replies[index], alone[index], "request \(index): the batched reply differs from the reply alone")
        }
        let batches = (try server.metric(#"recurrent_inference_batch_size_count{model="lstm"}"#) ?? 0) - batchesBefore
        XCTAssertLessThan(batches, Double(requests.count), "concurrent requests were joined into batches")
    }

    func testBadInputGetsA4xxNamingTheProblemAndTheServerKeepsServing() throws {
        let server = try ServerProcess([TestModels.lstm, TestModels.bard, TestModels.sentiment, "--max-body-bytes", "4000"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let x: [String: Any] = ["name": "x", "datatype": "FP32", "shape": [1, 1, 4], "data": [1, 2, 3, 4]]
        func infer(_ body: String, model: String = "lstm", headers: [String: String] = [:]) throws -> HTTPReply {
            try server.request("POST", "/v2/models/\(model)/infer", body: Data(body.utf8), headers: headers)
        }
        func json(_ object: Any) -> String { String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data(), as: UTF8.self) }
        let floats = [Float](repeating: 1, count: 4).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let binaryHeader = json(["inputs": [["name": "x", "datatype": "FP32", "shape": [1, 1, 4], "parameters": ["binary_data_size": 12]]]])
        let cases: [(String, HTTPReply, Int, String)] = [
            ("malformed JSON", try infer(#"{"inputs": [ "#), 400, "malformed JSON at byte"),
            ("not an object", try infer("[1, 2]"), 400, "expected a JSON object"),
            ("wrong datatype", try infer(json(["inputs": [x.merging(["datatype": "INT32"]) { $1 }]])), 400, "input \"x\": datatype INT32, expected FP32"),
            ("wrong shape", try infer(json(["inputs": [x.merging(["shape": [1, 4, 1]]) { $1 }]])), 400, "input \"x\": shape [1, 4, 1]"),
            ("data count", try infer(json(["inputs": [x.merging(["shape": [1, 2, 4]]) { $1 }]])), 400, "holds 8 values, the data 4"),
            ("missing x", try infer(json(["inputs": [] as [Any]])), 400, "input \"x\" is missing"),
            ("unknown input", try infer(json(["inputs": [x, ["name": "z", "datatype": "FP32", "shape": [1], "data": [1]]]])), 400, "unknown input \"z\""),
            ("unknown parameter", try infer(json(["inputs": [x], "parameters": ["colour": "red"]])), 400, "unknown parameter \"colour\""),
            ("unknown field", try infer(json(["inputs": [x], "extra": 1])), 400, "unknown field \"extra\""),
            ("lengths out of range", try infer(json(["inputs": [x, ["name": "lengths", "datatype": "INT64", "shape": [1], "data": [3]]]])), 400,
             "lengths[0] = 3 is out of range 1...1"),
            ("h0 shape", try infer(json(["inputs": [x, ["name": "h0", "datatype": "FP32", "shape": [2, 2, 6], "data": [Double](repeating: 0, count: 24)]]])),
             400, "input \"h0\": shape [2, 2, 6] has batch 2"),
            ("never started", try infer(json(["inputs": [x], "parameters": ["sequence_id": 99]])), 400, "sequence_id 99"),
            ("binary sizes", try infer(binaryHeader, headers: ["Inference-Header-Content-Length": String(binaryHeader.utf8.count)]) , 400,
             "binary_data_size is 12 but only 0 bytes"),
            ("binary too short", try server.request("POST", "/v2/models/lstm/infer", body: Data(binaryHeader.utf8) + Data(floats.prefix(12)),
                                                      headers: ["Inference-Header-Content-Length": String(binaryHeader.utf8.count)]), 400,
             "binary_data_size is 12 bytes, but 4 FP32 values take 16"),
            ("header length", try infer(json(["inputs": [x]]), headers: ["Inference-Header-Content-Length": "99999"]), 400, "Inference-Header-Content-Length is 99999"),
            ("unknown model", try infer(json(["inputs": [x]]), model: "nope"), 404, "unknown model \"nope\""),
            ("body over the limit", try infer(json(["inputs": [x.merging(["data": [Double](repeating: 1.5, count: 2000)]) { $1 }]])), 413, "--max-body-bytes"),
            ("compressed", try infer(json(["inputs": [x]]), headers: ["Content-Encoding": "gzip"]), 415, "Content-Encoding"),
            ("id out of vocabulary", try infer(json(["inputs": [["name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 100000]]]]), model: "bard"), 400,
             "token id 100000 at [0, 1] is not in the vocabulary"),
            ("mixed inputs", try infer(json(["inputs": [["name": "text_input", "datatype": "BYTES", "shape": [1], "data": ["a"]],
                                                        ["name": "x", "datatype": "FP32", "shape": [1, 1], "data": [1]]]]), model: "bard"), 400, "mix the task's"),
            ("generate option", try server.post("/v2/models/bard/generate", json: ["text_input": "A", "temperature": 0]), 400, "temperature must be positive"),
            ("generate unknown field", try server.post("/v2/models/bard/generate", json: ["text_input": "A", "maxtokens": 3]), 400, "unknown field \"maxtokens\""),
            ("endpoint of another task", try server.post("/v2/models/lstm/generate", json: ["text_input": "A"]), 404, "has no generate endpoint"),
            ("classify empty", try server.post("/v2/models/sentiment/classify", json: ["texts": [String]()]), 400, "non-empty \"texts\""),
            ("wrong method", try server.request("GET", "/v2/models/lstm/infer"), 405, "answers POST"),
            ("no route", try server.get("/v3"), 404, "no route GET /v3"),
        ]
        for (what, reply, status, fragment) in cases {
            XCTAssertEqual(reply.status, status, "\(what): \(reply.text)")
            let message = (try? reply.json()["error"] as? String) ?? nil
            XCTAssertTrue(message?.contains(fragment) ?? false, "\(what): expected an error naming \"\(fragment)\", got \(reply.text)")
        }
        XCTAssertEqual(try infer(json(["inputs": [x]])).status, 200, "the server still serves after bad requests")
        XCTAssertGreaterThanOrEqual(try server.metric(#"recurrent_inference_requests_total{model="lstm",endpoint="infer",outcome="client_error"}"#) ?? 0, 15)
    }

    func testAModelThatFailsToLoadStopsTheStartWithOneLine() throws {
        let missing = try runRecurrent(["serve", "/nonexistent/none.model", "--port", "0", "--grpc-port", "0"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("none.model"), missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        let notAModel = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-model-\(getpid()).model")
        try Data("hello".utf8).write(to: notAModel)
        defer { try? FileManager.default.removeItem(at: notAModel) }
        let garbage = try runRecurrent(["serve", notAModel.path, "--port", "0", "--grpc-port", "0"])
        XCTAssertEqual(garbage.status, 1)
        XCTAssertTrue(garbage.stderr.hasPrefix("recurrent: error: \(notAModel.path)"), garbage.stderr)
        let twice = try runRecurrent(["serve", TestModels.lstm, "lstm=\(TestModels.bigru)", "--port", "0", "--grpc-port", "0"])
        XCTAssertEqual(twice.status, 1)
        XCTAssertTrue(twice.stderr.contains("two models are named \"lstm\""), twice.stderr)
    }

    /// A port another server holds stops the start with an error naming the protocol and port.
    func testAPortInUseIsNamed() throws {
        try TestModels.make()
        let server = try ServerProcess([TestModels.lstm])
        defer { XCTAssertEqual(server.stop(), 0) }
        let grpcPort = try server.grpcPort()
        let grpcTaken = try runRecurrent(["serve", TestModels.lstm, "--port", "0", "--grpc-port", String(grpcPort)])
        XCTAssertEqual(grpcTaken.status, 1)
        XCTAssertTrue(grpcTaken.stderr.contains("gRPC cannot listen on 127.0.0.1:\(grpcPort): the address is in use"), grpcTaken.stderr)
        let httpTaken = try runRecurrent(["serve", TestModels.lstm, "--port", String(server.port), "--grpc-port", "0"])
        XCTAssertEqual(httpTaken.status, 1)
        XCTAssertTrue(httpTaken.stderr.contains("HTTP cannot listen on 127.0.0.1:\(server.port): the address is in use"), httpTaken.stderr)
        XCTAssertEqual(try server.get("/v2/health/ready").status, 200, "the first server goes on")
    }

    /// SIGTERM while a long generation is in flight: it completes, then the server exits 0.
    func testSigtermFinishesRequestsInFlightThenExitsZero() throws {
        let server = try ServerProcess([TestModels.bard])
        let reply = LockedValue<HTTPReply>()
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            if let answer = try? server.post("/v2/models/bard/generate", json: ["text_input": "A", "max_tokens": 10000]) { reply.set(answer) }
            finished.signal()
        }
        Thread.sleep(forTimeInterval: 0.1)
        kill(server.process.processIdentifier, SIGTERM)
        XCTAssertEqual(finished.wait(timeout: .now() + 120), .success)
        let answer = try XCTUnwrap(reply.get(), "the request in flight was answered")
        XCTAssertEqual(answer.status, 200, answer.text)
        XCTAssertEqual((try answer.json()["text_output"] as? String)?.unicodeScalars.count, 10000)
        XCTAssertEqual(server.stop(), 0)
    }
}
