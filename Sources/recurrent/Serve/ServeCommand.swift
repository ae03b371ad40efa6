import ArgumentParser
import Foundation
import Recurrent
import RecurrentServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve models over HTTP and gRPC (the Open Inference Protocol, with task endpoints and a page at /).",
        discussion: """
            Each MODEL is a model file, named by its file name without the extension, or NAME=PATH. \
            Routes: /v2/models/NAME/infer (tensors x, h0, c0, lengths -> y, h_n, c_n, with sessions through \
            sequence_id), the task endpoints (generate, generate_stream, complete, forecast, classify, translate), \
            /metrics, /openapi.json and a page at /. The same protocol over gRPC (inference.GRPCInferenceService, \
            as tritonclient.grpc speaks it, with streamed inference) on --grpc-port. SIGTERM or SIGINT stops \
            accepting, finishes the requests in flight and exits 0.
            """
    )

    @Argument(help: "Model files to serve (PATH or NAME=PATH).")
    var models: [String]

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: a free one, printed on standard error).")
    var port = 8000

    @Option(help: "The port of the gRPC service (0: a free one, printed on standard error).")
    var grpcPort = 8001

    @Flag(help: "Serve HTTP only, without the gRPC service.")
    var noGrpc = false

    @Option(help: "Sequences whose state the server holds at most; a new one beyond is refused with 429.")
    var maxSessions = 1024

    @Option(help: "Seconds a sequence may go without a request before its state is dropped.")
    var sessionIdleTimeout = 300.0

    @Option(help: "The largest request body accepted, in bytes (413 beyond; over gRPC the largest message, RESOURCE_EXHAUSTED beyond).")
    var maxBodyBytes = 16 << 20

    @Option(help: "Requests joined into one batch at most (1: no batching).")
    var maxBatch = 8

    @Option(help: "Microseconds the oldest request waits for others to join its batch.")
    var batchDelayUs = 0

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    @Option(help: "A PEM certificate (chain): serve HTTPS, and gRPC over TLS, with --tls-key.")
    var tlsCert: String?

    @Option(help: "The certificate's PEM private key (without a passphrase).")
    var tlsKey: String?

    func run() throws {
        var options = ServerOptions()
        options.host = host
        options.port = port
        options.grpcPort = noGrpc ? nil : grpcPort
        options.maxSessions = maxSessions
        options.sessionIdleTimeout = sessionIdleTimeout
        options.maxBodyBytes = maxBodyBytes
        options.maxBatch = maxBatch
        options.batchDelayMicroseconds = batchDelayUs
        options.threads = threads
        options.tlsCertificate = tlsCert
        options.tlsKey = tlsKey
        var server: ModelServer?
        try reportingErrors { server = try ModelServer(specs: models, options: options) }
        guard let server else { throw ExitCode.failure }
        try ServeCommand.runBlocking(server, models: models.count, tls: tlsCert != nil)
    }

    /// The command line's root is synchronous: the server runs on its own task while this
    /// thread waits for it to stop.
    static func runBlocking(_ server: ModelServer, models: Int, tls: Bool) throws {
        let scheme = tls ? "https" : "http"
        let finished = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        Task.detached {
            do {
                try await server.run(
                    onListening: { host, port in note("serving \(models) model\(models == 1 ? "" : "s") on \(scheme)://\(host):\(port)") },
                    onGRPCListening: { host, port in note("gRPC (inference.GRPCInferenceService\(tls ? ", TLS" : "")) on \(host):\(port)") })
            } catch {
                failure.set("\(error)")
            }
            finished.signal()
        }
        finished.wait()
        if let message = failure.message {
            note("recurrent: error: \(message)")
            throw ExitCode.failure
        }
    }
}

/// The server task's failure, read once the task has signalled.
private final class ErrorBox: @unchecked Sendable {
    private(set) var message: String?
    func set(_ text: String) { message = text }
}
