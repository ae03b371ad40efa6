import Foundation
import XCTest
@testable import Recurrent

/// Clients written by others: tritonclient[http] and openai with their defaults, headless Chromium driven by
/// Selenium through the page, and schemathesis fuzzing /openapi.json. Each is skipped with a
/// message when its part is not installed (`.ci/run` installs them, scripts/serve_python_env.sh).
final class ExternalClientTests: XCTestCase {
    static var python: String? {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["RECURRENT_SERVE_PYTHON"],
                                     FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/recurrent-serve-venv/bin/python").path]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func pythonScript(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("Tests/RecurrentServerTests/Python/\(name)").path
    }

    /// Runs a program to its end; its output goes to the test log.
    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("external-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        print(output)
        return (process.terminationStatus, output)
    }

    func requireModule(_ module: String) throws -> String {
        guard let python = Self.python else {
            throw XCTSkip("the Python environment with tritonclient, selenium and schemathesis is not installed (scripts/serve_python_env.sh; .ci/run makes it)")
        }
        guard (try? run(python, ["-c", "import \(module)"]).0) == 0 else { throw XCTSkip("python module \(module) is not installed") }
        return python
    }

    /// A folder with lstm.in.safetensors (x, h0, c0, lengths) and lstm.out.safetensors, what
    /// `recurrent run` gave for it: the reference the client scripts compare with.
    func runReference(seed: UInt64) throws -> URL {
        try TestModels.make()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("triton-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed)
        var inputs = SafeTensors(tensors: ["x": .uniform(shape: [3, 6, 4], low: -2, high: 2, using: &rng),
                                           "h0": .uniform(shape: [2, 3, 6], low: -1, high: 1, using: &rng),
                                           "c0": .uniform(shape: [2, 3, 6], low: -1, high: 1, using: &rng)])
        inputs.integerTensors["lengths"] = IntegerTensor([6, 3, 5])
        try inputs.write(to: work.appendingPathComponent("lstm.in.safetensors").path)
        let ran = try runRecurrent(["run", TestModels.lstm, "--input", work.appendingPathComponent("lstm.in.safetensors").path,
                                    "-o", work.appendingPathComponent("lstm.out.safetensors").path])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        return work
    }

    func testTritonClientWithItsDefaults() throws {
        let python = try requireModule("tritonclient.http")
        let work = try runReference(seed: 31)
        defer { try? FileManager.default.removeItem(at: work) }
        let server = try ServerProcess(TestModels.all + [TestModels.m3])
        defer { XCTAssertEqual(server.stop(), 0) }
        let (status, output) = try run(python, [pythonScript("triton_client_check.py"), "127.0.0.1:\(server.port)", work.path])
        XCTAssertTrue(output.contains("m3 forecast of 6 steps"), output)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("all tritonclient checks passed"), output)
    }

    /// tritonclient.grpc against the gRPC port: the same checks, with sequences over its stream.
    func testTritonGRPCClientWithItsDefaults() throws {
        let python = try requireModule("tritonclient.grpc")
        let work = try runReference(seed: 32)
        defer { try? FileManager.default.removeItem(at: work) }
        let server = try ServerProcess(TestModels.all)
        defer { XCTAssertEqual(server.stop(), 0) }
        let (status, output) = try run(python, [pythonScript("triton_grpc_check.py"), "127.0.0.1:\(try server.grpcPort())", work.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("all tritonclient.grpc checks passed"), output)
    }

    /// OpenAI's own Python client (`openai` from PyPI) with its defaults: the model list, chat
    /// completions whole and streamed equal to `recurrent chat reply`, completions from the
    /// language model, and its error classes for refusals.
    func testOpenAIClientWithItsDefaults() throws {
        let python = try requireModule("openai")
        try TestModels.make()
        let reply = try runRecurrent(["chat", "reply", TestModels.chat, "how are you?", "--context", "hello", "--context", "hi"])
        XCTAssertEqual(reply.status, 0, reply.stderr)
        let server = try ServerProcess([TestModels.chat, TestModels.bard, TestModels.airline])
        defer { XCTAssertEqual(server.stop(), 0) }
        let (status, output) = try run(python, [pythonScript("openai_check.py"), server.base + "/v1", reply.stdout.trimmingCharacters(in: .newlines)])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("all openai client checks passed"), output)
    }

    func testThePageInHeadlessChromium() throws {
        let python = try requireModule("selenium")
        let browsers = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
        guard browsers.allSatisfy(FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("chromium and chromium-driver (Debian) are not installed; .ci/run installs them")
        }
        try TestModels.make()
        let server = try ServerProcess(TestModels.all + [TestModels.m3, TestModels.chat, TestModels.ecg, TestModels.tunes, TestModels.chorales, TestModels.strokes])
        defer { XCTAssertEqual(server.stop(), 0) }
        let shots = ProcessInfo.processInfo.environment["RECURRENT_PAGE_SCREENSHOTS"]
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-page-screenshots").path
        let (status, output) = try run(python, [pythonScript("page_check.py"), server.base, shots])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("all page checks passed"), output)
    }

    func testSchemathesisFuzzRunFindsNothing() throws {
        _ = try requireModule("schemathesis")
        try TestModels.make()
        let script = repositoryRoot.appendingPathComponent("scripts/serve_fuzz.sh").path
        let (status, output) = try run("/bin/bash", [script, "30"] + TestModels.all + [TestModels.m3, TestModels.chat, TestModels.ecg, TestModels.tunes, TestModels.chorales, TestModels.strokes], environment: ["RECURRENT_BINARY": recurrentBinary.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("fuzz run clean"), output)
    }
}
