import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import Recurrent
import ServiceLifecycle

/// How `recurrent serve` runs.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (printed when the server listens).
    public var port = 8000
    /// The port of the same protocol over gRPC (Triton's default, 8001; 0 picks a free one;
    /// nil serves HTTP only).
    public var grpcPort: Int? = 8001
    public var maxSessions = 1024
    /// Seconds a sequence may go without a request before its state is dropped.
    public var sessionIdleTimeout = 300.0
    public var maxBodyBytes = 16 << 20
    /// Requests joined into one batch at most (1: no batching).
    public var maxBatch = 8
    /// Microseconds the oldest request waits for others to join its batch.
    public var batchDelayMicroseconds = 0
    /// Threads for the kernels (nil: all cores).
    public var threads: Int? = nil
    /// PEM files of the certificate chain and its private key: HTTPS and gRPC over TLS when
    /// both are given.
    public var tlsCertificate: String? = nil
    public var tlsKey: String? = nil

    public init() {}

    public func validate() throws {
        for (value, name) in [(maxSessions, "--max-sessions"), (maxBodyBytes, "--max-body-bytes"), (maxBatch, "--max-batch")] where value < 1 {
            throw RecurrentError.invalidArgument("\(name) must be at least 1, got \(value)")
        }
        guard (0...65535).contains(port) else { throw RecurrentError.invalidArgument("--port must be in 0...65535, got \(port)") }
        if let grpcPort {
            guard (0...65535).contains(grpcPort) else { throw RecurrentError.invalidArgument("--grpc-port must be in 0...65535, got \(grpcPort)") }
            guard grpcPort == 0 || grpcPort != port else { throw RecurrentError.invalidArgument("--grpc-port and --port are both \(port); give them different ports") }
            guard GRPCListener.address(host: host, port: grpcPort) != nil else {
                throw RecurrentError.invalidArgument("--host \"\(host)\" is a name; gRPC binds an address (an IPv4 or IPv6 one, or localhost); give one, or --no-grpc")
            }
        }
        guard batchDelayMicroseconds >= 0 else { throw RecurrentError.invalidArgument("--batch-delay-us must not be negative, got \(batchDelayMicroseconds)") }
        guard sessionIdleTimeout > 0 else { throw RecurrentError.invalidArgument("--session-idle-timeout must be positive, got \(sessionIdleTimeout)") }
        if (tlsCertificate == nil) != (tlsKey == nil) {
            throw RecurrentError.invalidArgument(tlsKey == nil ? "--tls-cert needs --tls-key (the certificate's private key)" : "--tls-key needs --tls-cert (its certificate)")
        }
        if let threads, threads < 1 { throw RecurrentError.invalidArgument("--threads must be at least 1, got \(threads)") }
    }
}

/// A model server speaking the Open Inference Protocol (KServe v2) over HTTP, with Triton's
/// binary tensor, sequence and generate extensions, task endpoints, /metrics, /openapi.json and
/// a page at /; and the same protocol over gRPC, on a port of its own. Every model runs on one
/// thread (see `ModelExecutor`).
public final class ModelServer: Sendable {
    let models: [String: ServedModel]
    let modelOrder: [String]
    let options: ServerOptions
    let metrics = ServerMetrics()
    let executor: ModelExecutor
    let tls: TLSFiles?
    /// When the models were loaded, in seconds since 1970 (OpenAI's model list names it).
    let started = Int(Date().timeIntervalSince1970)

    /// Loads every model; `specs` are `PATH` (named by the file name without its extension) or
    /// `NAME=PATH`. A model that fails to load stops here with an error naming it.
    public init(specs: [String], options: ServerOptions) throws {
        try options.validate()
        guard !specs.isEmpty else { throw RecurrentError.invalidArgument("give at least one model file to serve") }
        var models: [String: ServedModel] = [:], order: [String] = []
        for spec in specs {
            let (name, path) = Self.parse(spec)
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw RecurrentError.invalidArgument("model name \"\(name)\" (from \"\(spec)\") must be letters, digits, '-', '_' or '.'; name it with NAME=PATH")
            }
            guard models[name] == nil else { throw RecurrentError.invalidArgument("two models are named \"\(name)\"; name them with NAME=PATH") }
            models[name] = try ServedModel(name: name, path: path)
            order.append(name)
        }
        self.models = models
        modelOrder = order
        self.options = options
        if let certificate = options.tlsCertificate, let key = options.tlsKey {
            tls = try TLSFiles(certificate: certificate, key: key)
        } else {
            tls = nil
        }
        if let threads = options.threads { Parallel.threadCount = threads }
        let sessions = SessionStore(limit: options.maxSessions, idleTimeout: options.sessionIdleTimeout)
        executor = ModelExecutor(options: .init(maxBatch: options.maxBatch, batchDelay: Double(options.batchDelayMicroseconds) * 1e-6),
                                 sessions: sessions, metrics: metrics)
        metrics.register(models: order)
    }

    static func parse(_ spec: String) -> (name: String, path: String) {
        if let equals = spec.firstIndex(of: "="), !spec[..<equals].contains("/") {
            return (String(spec[..<equals]), String(spec[spec.index(after: equals)...]))
        }
        let file = URL(fileURLWithPath: spec).deletingPathExtension().lastPathComponent
        return (file, spec)
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting connections, lets requests in flight
    /// finish, and returns. `onListening` receives the bound host and port of HTTP, and
    /// `onGRPCListening` those of gRPC.
    public func run(onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in },
                    onGRPCListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws {
        executor.start()
        defer { executor.stop() }
        let router = Router()
        Routes(server: self).register(on: router)
        var logger = Logger(label: "recurrent-serve")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            server: try tls.map { try HTTPServerBuilder.tls(.http1(), tlsConfiguration: $0.configuration) } ?? .http1(),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            onServerRunning: { channel in
                onListening(channel.localAddress?.ipAddress ?? "?", channel.localAddress?.port ?? 0)
            },
            logger: logger
        )
        var services: [any Service] = [app]
        if let grpcPort = options.grpcPort, let address = GRPCListener.address(host: options.host, port: grpcPort) {
            services.append(GRPCListener(service: GRPCInferenceService(server: self), address: address, tls: tls,
                                         maxMessageBytes: options.maxBodyBytes, onListening: onGRPCListening))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw RecurrentError.invalidArgument("HTTP cannot listen on \(options.host):\(options.port): the address is in use; give another --port")
        }
    }

    /// A model by name and version ("" or nil: the only one, "1"), for both protocols.
    func model(_ name: String?, version: String?) throws -> ServedModel {
        if let version, !version.isEmpty, version != "1" {
            throw ServerError.notFound("model \"\(name ?? "")\" has one version, \"1\"; not \"\(version)\"")
        }
        return try model(name)
    }

    func model(_ name: String?) throws -> ServedModel {
        guard let name, let model = models[name] else {
            throw ServerError.notFound("unknown model \"\(name ?? "")\" (serving: \(modelOrder.joined(separator: ", ")))")
        }
        return model
    }
}
