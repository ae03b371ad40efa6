import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import XCTest
@testable import Recurrent
@testable import RecurrentServer

/// `recurrent serve --tls-cert --tls-key`: HTTPS read by curl trusting the certificate, gRPC over
/// TLS by a grpc-swift client trusting it, plaintext refused on both ports, and certificate files
/// that are wrong stopping the start with one line. The certificates are made by openssl at test
/// time (skipped without it).
final class TLSServingTests: XCTestCase {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("serve-tls-\(UUID().uuidString)")

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let log = scratch.appendingPathComponent("run-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// A self-signed certificate for localhost and 127.0.0.1, with its key.
    func makeCertificate(_ name: String) throws -> (certificate: String, key: String) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { throw XCTSkip("openssl is not installed") }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let certificate = scratch.appendingPathComponent("\(name).crt").path, key = scratch.appendingPathComponent("\(name).key").path
        let made = try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=localhost",
                                                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        XCTAssertEqual(made.status, 0, made.output)
        return (certificate, key)
    }

    func testHTTPSAndGRPCOverTLS() async throws {
        try TestModels.make()
        let (certificate, key) = try makeCertificate("server")
        let server = try ServerProcess([TestModels.lstm, "--tls-cert", certificate, "--tls-key", key])
        defer { XCTAssertEqual(server.stop(), 0, "SIGTERM ends the server with status 0") }
        XCTAssertTrue(server.stderr.contains("https://127.0.0.1:"), server.stderr)
        let https = "https://127.0.0.1:\(server.port)"

        // HTTPS: curl trusting the certificate gets answers; without trusting it, or in plaintext, none.
        let ready = try run("/usr/bin/curl", ["-sS", "--cacert", certificate, "\(https)/v2/health/ready"])
        XCTAssertEqual(ready.status, 0, ready.output)
        XCTAssertTrue(ready.output.contains("\"ready\":true"), ready.output)
        let infer = try run("/usr/bin/curl", ["-sS", "--cacert", certificate, "\(https)/v2/models/lstm/infer", "-d",
                                              #"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2, 4], "data": [1, 2, 3, 4, 5, 6, 7, 8]}]}"#])
        XCTAssertTrue(infer.output.contains("\"h_n\""), infer.output)
        let untrusted = try run("/usr/bin/curl", ["-sS", "\(https)/v2/health/ready"])
        XCTAssertNotEqual(untrusted.status, 0, "a client that does not trust the certificate is refused: \(untrusted.output)")
        let plain = try run("/usr/bin/curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(server.port)/v2/health/ready"])
        XCTAssertFalse(plain.output.contains("\"ready\":true"), "plaintext HTTP is not served on the TLS port: \(plain.output)")

        // gRPC over TLS, trusting the certificate: inference equal to the model's bits.
        let port = try server.grpcPort()
        var rng = SplitMix64(seed: 81)
        let x = Tensor.uniform(shape: [2, 3, 4], low: -1, high: 1, using: &rng)
        let expected = try ModelRunner(Model(contentsOf: TestModels.lstm).layer).run(.init(x: x))
        let secure = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port),
            transportSecurity: .tls { $0.trustRoots = .certificates([.file(path: certificate, format: .pem)]) })
        let reply = try await withGRPCClient(transport: secure) { client in
            try await Inference_GRPCInferenceService.Client(wrapping: client).modelInfer(.with {
                $0.modelName = "lstm"
                $0.inputs = [GRPCProtocolTests.input("x", "FP32", [2, 3, 4])]
                $0.rawInputContents = [GRPCProtocolTests.raw(x.scalars)]
            })
        }
        XCTAssertEqual(GRPCProtocolTests.floats(reply.rawOutputContents[0]).map(\.bitPattern), expected["y"]?.scalars.map(\.bitPattern))
        let plaintext = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        do {
            _ = try await withGRPCClient(transport: plaintext) { [options] client in
                try await Inference_GRPCInferenceService.Client(wrapping: client).serverLive(.init(), options: options)
            }
            XCTFail("plaintext gRPC answered on the TLS port")
        } catch let error as RPCError {
            XCTAssertTrue([.unavailable, .deadlineExceeded, .internalError].contains(error.code), "\(error.code): \(error.message)")
        }
    }

    func testWrongCertificateFilesStopTheStartWithOneLine() throws {
        try TestModels.make()
        let (certificate, key) = try makeCertificate("one")
        let (_, otherKey) = try makeCertificate("two")
        let garbage = scratch.appendingPathComponent("garbage.pem").path
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--tls-cert", certificate], "--tls-cert needs --tls-key"),
            (["--tls-cert", scratch.appendingPathComponent("none.crt").path, "--tls-key", key], "none.crt: no such file"),
            (["--tls-cert", garbage, "--tls-key", key], "garbage.pem"),
            (["--tls-cert", certificate, "--tls-key", garbage], "--tls-key: not a PEM private key"),
            (["--tls-cert", certificate, "--tls-key", otherKey], "does not go with --tls-cert"),
        ]
        for (options, fragment) in cases {
            let result = try runRecurrent(["serve", TestModels.lstm, "--port", "0", "--grpc-port", "0"] + options)
            XCTAssertEqual(result.status, 1, "\(options): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(fragment), "\(options): \(result.stderr) should name \(fragment)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "one line: \(result.stderr)")
        }
    }
}
