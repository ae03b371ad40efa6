import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// The built `recurrent` binary.
var recurrentBinary: URL { Bundle.main.bundleURL.appendingPathComponent("recurrent") }
/// The repository's root, from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs the built binary with `arguments` to its end: exit status, standard output and error.
func runRecurrent(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = recurrentBinary
    process.arguments = arguments
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: output.path + ".out", contents: nil)
    FileManager.default.createFile(atPath: output.path + ".err", contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output.path + ".out"))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: output.path + ".err"))
    try process.run()
    process.waitUntilExit()
    defer {
        try? FileManager.default.removeItem(atPath: output.path + ".out")
        try? FileManager.default.removeItem(atPath: output.path + ".err")
    }
    return (process.terminationStatus, (try? String(contentsOfFile: output.path + ".out", encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: output.path + ".err", encoding: .utf8)) ?? "")
}

struct HTTPReply {
    var status: Int
    var headers: [String: String]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    func json() throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text.prefix(300))")
    }
    func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
}

/// `recurrent serve` on a free loopback port, stopped (SIGTERM) when the test is done.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private(set) var port = 0
    private let errorLog: URL

    init(_ arguments: [String]) throws {
        errorLog = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        process.executableURL = recurrentBinary
        process.arguments = ["serve"] + arguments + ["--port", "0"] + (arguments.contains("--no-grpc") ? [] : ["--grpc-port", "0"])
        process.standardError = try FileHandle(forWritingTo: errorLog)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let range = stderr.range(of: #"https?://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
               let port = Int(stderr[range].split(separator: ":").last ?? "") {
                self.port = port
                return
            }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        process.terminate()
        throw XCTSkip("the server did not start: \(stderr)")
    }

    var stderr: String { (try? String(contentsOf: errorLog, encoding: .utf8)) ?? "" }

    /// The gRPC port the server printed (it may follow the HTTP line by a moment).
    func grpcPort() throws -> Int {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let range = stderr.range(of: #"gRPC \(inference\.GRPCInferenceService(, TLS)?\) on 127\.0\.0\.1:(\d+)"#, options: .regularExpression),
               let port = Int(stderr[range].split(separator: ":").last ?? "") {
                return port
            }
            usleep(20_000)
        }
        return try XCTUnwrap(nil as Int?, "the server printed no gRPC port: \(stderr)")
    }
    var base: String { "http://127.0.0.1:\(port)" }

    /// SIGTERM, then the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: errorLog)
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate() } }

    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) throws -> HTTPReply {
        var request = URLRequest(url: try XCTUnwrap(URL(string: base + path)))
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if body != nil && headers["Content-Type"] == nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let done = DispatchSemaphore(value: 0)
        let result = LockedValue<Result<HTTPReply, any Error>>()
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                result.set(.failure(error))
            } else if let response = response as? HTTPURLResponse {
                var fields: [String: String] = [:]
                for (key, value) in response.allHeaderFields { fields["\(key)"] = "\(value)" }
                result.set(.success(HTTPReply(status: response.statusCode, headers: fields, body: data ?? Data())))
            }
            done.signal()
        }.resume()
        done.wait()
        return try XCTUnwrap(result.get()).get()
    }

    func post(_ path: String, json: Any, headers: [String: String] = [:]) throws -> HTTPReply {
        try request("POST", path, body: try JSONSerialization.data(withJSONObject: json), headers: headers)
    }

    func get(_ path: String) throws -> HTTPReply { try request("GET", path) }

    /// The value of a metric line, e.g. `recurrent_live_sequences{model="lstm"}`.
    func metric(_ series: String) throws -> Double? {
        let text = try get("/metrics").text
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(series + " ") }) else { return nil }
        return Double(line.split(separator: " ").last ?? "")
    }
}

final class LockedValue<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T?
    func set(_ newValue: T) { lock.lock(); value = newValue; lock.unlock() }
    func get() -> T? { lock.lock(); defer { lock.unlock() }; return value }
    /// Changes the value under the lock, so that concurrent changes are not lost.
    func update(_ change: (inout T?) -> Void) { lock.lock(); change(&value); lock.unlock() }
}
