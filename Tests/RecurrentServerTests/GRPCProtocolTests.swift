import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import XCTest
@testable import Recurrent
@testable import RecurrentServer

/// The Open Inference Protocol over gRPC, as the built `recurrent serve` answers it on its gRPC
/// port: a gRPC client over HTTP/2 (grpc-swift, with the service's generated client), raw and
/// typed tensor contents, outputs equal to the model's bit for bit, sequences through streamed
/// inference, and errors as statuses naming what is wrong. tritonclient.grpc's own run is in
/// ExternalClientTests.
final class GRPCProtocolTests: XCTestCase {
    typealias Request = Inference_ModelInferRequest

    func withService<T: Sendable>(_ server: ServerProcess,
                                  _ body: @Sendable (Inference_GRPCInferenceService.Client<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
        let port = try server.grpcPort()
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in
            try await body(Inference_GRPCInferenceService.Client(wrapping: client))
        }
    }

    static func raw(_ floats: [Float]) -> Data {
        Data(floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
    }

    static func floats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { bytes in (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
    }

    static func input(_ name: String, _ datatype: String, _ shape: [Int], contents: Inference_InferTensorContents? = nil) -> Request.InferInputTensor {
        .with {
            $0.name = name
            $0.datatype = datatype
            $0.shape = shape.map(Int64.init)
            if let contents { $0.contents = contents }
        }
    }

    static func parameter(_ value: Any) -> Inference_InferParameter {
        .with {
            switch value {
            case let flag as Bool: $0.boolParam = flag
            case let number as Int: $0.int64Param = Int64(number)
            default: $0.stringParam = "\(value)"
            }
        }
    }

    /// One step of a sequence, its x as raw contents.
    static func step(_ x: [Float], id: Int, start: Bool, end: Bool) -> Request {
        .with {
            $0.modelName = "lstm"
            $0.inputs = [input("x", "FP32", [1, x.count / 4, 4])]
            $0.rawInputContents = [raw(x)]
            $0.parameters = ["sequence_id": parameter(id), "sequence_start": parameter(start), "sequence_end": parameter(end)]
        }
    }

    func testHealthMetadataAndInferenceEqualTheModelBitForBit() async throws {
        try TestModels.make()
        let server = try ServerProcess(TestModels.all)
        defer { XCTAssertEqual(server.stop(), 0, "SIGTERM ends the server with status 0") }
        var rng = SplitMix64(seed: 71)
        let x = Tensor.uniform(shape: [3, 5, 4], low: -2, high: 2, using: &rng)
        let h0 = Tensor.uniform(shape: [2, 3, 6], low: -1, high: 1, using: &rng)
        let lengths = [5, 2, 4]
        var direct = ModelRunner.Inputs(x: x)
        direct.h0 = h0
        direct.lengths = lengths
        let expected = try ModelRunner(Model(contentsOf: TestModels.lstm).layer).run(direct)
        let lengthBytes = Data(lengths.flatMap { withUnsafeBytes(of: Int64($0).littleEndian, Array.init) })

        try await withService(server) { service in
            let live = try await service.serverLive(.init())
            XCTAssertTrue(live.live)
            let ready = try await service.serverReady(.init())
            XCTAssertTrue(ready.ready)
            let metadata = try await service.serverMetadata(.init())
            XCTAssertEqual(metadata.name, "recurrent")
            XCTAssertTrue(metadata.extensions.contains("sequence"), "\(metadata.extensions)")
            let lstm = try await service.modelMetadata(.with { $0.name = "lstm" })
            XCTAssertEqual(lstm.inputs.map(\.name), ["x", "h0", "c0", "lengths"])
            XCTAssertEqual(lstm.inputs[0].shape, [-1, -1, 4])
            XCTAssertEqual(lstm.inputs[3].datatype, "INT64")
            XCTAssertEqual(lstm.outputs.map(\.name), ["y", "h_n", "c_n"])
            let bigruReady = try await service.modelReady(.with { $0.name = "bigru"; $0.version = "1" })
            XCTAssertTrue(bigruReady.ready)
            let index = try await service.repositoryIndex(.init())
            XCTAssertEqual(index.models.map(\.name), ["lstm", "bigru", "airline", "bard", "sentiment", "g2p", "digits"])

            // Raw contents (tritonclient.grpc's way) and typed contents (KServe's) give the same bits.
            let rawRequest = Request.with {
                $0.modelName = "lstm"
                $0.id = "raw-1"
                $0.inputs = [Self.input("x", "FP32", [3, 5, 4]), Self.input("h0", "FP32", [2, 3, 6]), Self.input("lengths", "INT64", [3])]
                $0.rawInputContents = [Self.raw(x.scalars), Self.raw(h0.scalars), lengthBytes]
            }
            let typedRequest = Request.with {
                $0.modelName = "lstm"
                $0.inputs = [Self.input("x", "FP32", [3, 5, 4], contents: .with { $0.fp32Contents = x.scalars }),
                             Self.input("h0", "FP32", [2, 3, 6], contents: .with { $0.fp32Contents = h0.scalars }),
                             Self.input("lengths", "INT64", [3], contents: .with { $0.int64Contents = lengths.map(Int64.init) })]
            }
            for request in [rawRequest, typedRequest] {
                let reply = try await service.modelInfer(request)
                XCTAssertEqual(reply.modelName, "lstm")
                XCTAssertEqual(reply.id, request.id)
                XCTAssertEqual(reply.outputs.map(\.name), ["y", "h_n", "c_n"])
                XCTAssertEqual(reply.rawOutputContents.count, 3)
                for (output, bytes) in zip(reply.outputs, reply.rawOutputContents) {
                    XCTAssertEqual(output.datatype, "FP32")
                    XCTAssertEqual(output.shape.map(Int.init), expected[output.name]?.shape, output.name)
                    XCTAssertEqual(Self.floats(bytes).map(\.bitPattern), expected[output.name]?.scalars.map(\.bitPattern),
                                   "\(output.name) differs from the model's")
                }
            }
            var onlyH = rawRequest
            onlyH.outputs = [.with { $0.name = "h_n" }]
            let chosen = try await service.modelInfer(onlyH)
            XCTAssertEqual(chosen.outputs.map(\.name), ["h_n"])
            XCTAssertEqual(Self.floats(chosen.rawOutputContents[0]).map(\.bitPattern), expected["h_n"]?.scalars.map(\.bitPattern))

            // A task model's own tensors: texts in as BYTES (a 4-byte length before each), labels out.
            let texts = ["A gorgeous, moving film.", "Tedious and empty."]
            let textBytes = Data(texts.flatMap { text in withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian, Array.init) + Array(text.utf8) })
            let classified = try await service.modelInfer(.with {
                $0.modelName = "sentiment"
                $0.inputs = [Self.input("text", "BYTES", [2])]
                $0.rawInputContents = [textBytes]
            })
            let labelIndex = try XCTUnwrap(classified.outputs.firstIndex { $0.name == "label" })
            XCTAssertEqual(classified.outputs[labelIndex].datatype, "BYTES")
            XCTAssertEqual(classified.outputs[labelIndex].shape, [2])
            let labelBytes = [UInt8](classified.rawOutputContents[labelIndex])
            var labels: [String] = [], offset = 0
            while offset + 4 <= labelBytes.count {
                let length = labelBytes[offset..<(offset + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
                labels.append(String(decoding: labelBytes[(offset + 4)..<(offset + 4 + length)], as: UTF8.self))
                offset += 4 + length
            }
            XCTAssertEqual(labels.count, 2)
            XCTAssertTrue(Set(labels).isSubset(of: ["fresh", "rotten"]), "\(labels)")
        }
        XCTAssertEqual(try server.metric(#"recurrent_inference_requests_total{model="lstm",endpoint="infer",outcome="success"}"#), 3,
                       "gRPC requests are counted like REST ones")
    }

    /// Triton's streamed inference: a sequence sent one step per message gives the whole call's
    /// y and h_n bit for bit; a refused message is answered in order with its error and the
    /// stream goes on.
    func testSequenceOverTheStreamEqualsTheWholeCall() async throws {
        try TestModels.make()
        let server = try ServerProcess([TestModels.lstm])
        defer { XCTAssertEqual(server.stop(), 0) }
        var rng = SplitMix64(seed: 72)
        let sequence = Tensor.uniform(shape: [1, 6, 4], low: -1, high: 1, using: &rng).scalars
        try await withService(server) { service in
            let whole = try await service.modelInfer(.with {
                $0.modelName = "lstm"
                $0.inputs = [Self.input("x", "FP32", [1, 6, 4])]
                $0.rawInputContents = [Self.raw(sequence)]
            })
            var messages = (0..<6).map { Self.step(Array(sequence[($0 * 4)..<($0 * 4 + 4)]), id: 9_007_199_254_740_993, start: $0 == 0, end: $0 == 5) }
            var wrong = messages[1]
            wrong.inputs[0].shape = [1, 1, 3]
            wrong.rawInputContents = [Self.raw([0.1, 0.2, 0.3])]
            wrong.id = "wrong"
            messages.insert(wrong, at: 2)
            let sent = messages
            let answers = try await service.modelStreamInfer(requestProducer: { writer in
                for message in sent { try await writer.write(message) }
            }, onResponse: { response in
                try await response.messages.reduce(into: [Inference_ModelStreamInferResponse]()) { $0.append($1) }
            })
            XCTAssertEqual(answers.count, 7)
            XCTAssertEqual(answers[2].inferResponse.id, "wrong")
            XCTAssertTrue(answers[2].errorMessage.contains("shape [1, 1, 3]"), answers[2].errorMessage)
            let steps = answers.enumerated().filter { $0.offset != 2 }.map(\.element)
            XCTAssertTrue(steps.allSatisfy(\.errorMessage.isEmpty), steps.map(\.errorMessage).joined(separator: "; "))
            let y = steps.flatMap { Self.floats($0.inferResponse.rawOutputContents[0]) }
            XCTAssertEqual(y.map(\.bitPattern), Self.floats(whole.rawOutputContents[0]).map(\.bitPattern), "y step by step")
            XCTAssertEqual(Self.floats(steps[5].inferResponse.rawOutputContents[1]).map(\.bitPattern),
                           Self.floats(whole.rawOutputContents[1]).map(\.bitPattern), "the last h_n")
        }
        XCTAssertEqual(try server.metric(#"recurrent_live_sequences{model="lstm"}"#), 0, "the ended sequence is let go")
    }

    func testRefusalsAreStatusesNamingWhatIsWrong() async throws {
        try TestModels.make()
        let server = try ServerProcess([TestModels.lstm, "--max-body-bytes", "4096"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let good = Request.with {
            $0.modelName = "lstm"
            $0.inputs = [Self.input("x", "FP32", [1, 2, 4])]
            $0.rawInputContents = [Self.raw(Array(repeating: 0.5, count: 8))]
        }
        var cases: [(Request, RPCError.Code, String)] = []
        var request = good
        request.modelName = "nope"
        cases.append((request, .notFound, "unknown model \"nope\""))
        request = good
        request.modelVersion = "2"
        cases.append((request, .notFound, "one version"))
        request = good
        request.inputs[0].shape = [1, 2, 3]
        request.rawInputContents = [Self.raw(Array(repeating: 0.5, count: 6))]
        cases.append((request, .invalidArgument, "shape [1, 2, 3]"))
        request = good
        request.parameters = ["colour": Self.parameter("red")]
        cases.append((request, .invalidArgument, "unknown parameter \"colour\""))
        request = good
        request.rawInputContents.append(Data([1, 2]))
        cases.append((request, .invalidArgument, "raw_input_contents holds 2 entries for 1 inputs"))
        request = good
        request.rawInputContents = [Data(count: 12)]
        cases.append((request, .invalidArgument, "raw_input_contents[0] is 12 bytes, but 8 FP32 values take 32"))
        request = good
        request.inputs[0].datatype = "FP16"
        request.rawInputContents = []
        cases.append((request, .invalidArgument, "FP16 values travel only in raw_input_contents"))
        request = good
        request.inputs[0].contents = .with { $0.fp32Contents = [1] }
        cases.append((request, .invalidArgument, "both contents and raw_input_contents"))
        cases.append((Self.step(Array(repeating: 0, count: 4), id: 424_242, start: false, end: false), .invalidArgument, "never started"))
        request = good
        request.inputs[0].shape = [1, 300, 4]
        request.rawInputContents = [Self.raw(Array(repeating: 0, count: 1200))]
        cases.append((request, .resourceExhausted, "over the limit of 4096 (--max-body-bytes)"))
        let all = cases
        try await withService(server) { service in
            for (request, code, fragment) in all {
                do {
                    _ = try await service.modelInfer(request)
                    XCTFail("\(fragment): answered")
                } catch let error as RPCError {
                    XCTAssertEqual(error.code, code, "\(fragment): \(error.message)")
                    XCTAssertTrue(error.message.contains(fragment), "\(error.message) should name \(fragment)")
                }
            }
            do {
                _ = try await service.modelMetadata(.with { $0.name = "missing" })
                XCTFail("metadata of an unknown model")
            } catch let error as RPCError {
                XCTAssertEqual(error.code, .notFound)
            }
            let reply = try await service.modelInfer(good)
            XCTAssertEqual(reply.outputs.count, 3, "the server keeps serving")
        }
    }
}
