import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import NIOCore
import Recurrent
import ServiceLifecycle
import SwiftProtobuf

/// The gRPC listener (HTTP/2, plaintext or TLS) as a service of the server's group: it starts beside
/// the HTTP listener and, on SIGTERM or SIGINT, stops accepting and lets RPCs in flight finish.
struct GRPCListener: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let onListening: @Sendable (String, Int) -> Void
    /// HOST:PORT as the options gave them, for errors.
    let place: String

    init(service: GRPCInferenceService, address: GRPCNIOTransportCore.SocketAddress, tls: TLSFiles?, maxMessageBytes: Int,
         onListening: @escaping @Sendable (String, Int) -> Void) {
        // Messages up to four times the limit (64 MiB at least) reach LimitedDeserializer, which
        // answers with a status; only beyond that does the transport reset the stream.
        let transportLimit = min(Int(Int32.max), max(4 * maxMessageBytes, 64 << 20))
        var security = HTTP2ServerTransport.Posix.TransportSecurity.plaintext
        if let tls {
            security = .tls(certificateChain: [.file(path: tls.certificatePath, format: .pem)], privateKey: .file(path: tls.keyPath, format: .pem))
        }
        let transport = HTTP2ServerTransport.Posix(
            address: address,
            transportSecurity: security,
            config: .defaults { $0.rpc.maxRequestPayloadSize = transportLimit })
        server = GRPCServer(transport: transport, services: [GRPCRoutes(service: service, maxMessageBytes: maxMessageBytes)])
        self.onListening = onListening
        place = address.ipv6.map { "[\($0.host)]:\($0.port)" } ?? address.ipv4.map { "\($0.host):\($0.port)" } ?? "\(address)"
    }

    func run() async throws {
        let listening = ListeningFlag()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { [server, place] in
                    do {
                        try await server.serve()
                    } catch let error where !listening.value {
                        throw RecurrentError.invalidArgument("gRPC cannot listen on \(place): \(Self.reason(error)); give another --grpc-port, or --no-grpc")
                    }
                }
                // When it cannot bind, serve() says why (above).
                guard let address = try? await server.listeningAddress else { return }
                listening.value = true
                if let ipv4 = address.ipv4 { onListening(ipv4.host, ipv4.port) }
                if let ipv6 = address.ipv6 { onListening("[\(ipv6.host)]", ipv6.port) }
            }
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }

    /// Why the transport did not start, as one phrase ("the address is in use").
    static func reason(_ error: any Error) -> String {
        var cause: (any Error)? = error
        while let current = cause {
            if let io = current as? IOError {
                return io.errnoCode == EADDRINUSE ? "the address is in use" : "\(io)"
            }
            cause = (current as? RuntimeError)?.cause ?? (current as? RPCError)?.cause
        }
        return "\(error)"
    }

    /// The address to bind: an IPv4 or IPv6 literal, or `localhost` (127.0.0.1); nil for a
    /// name, which the gRPC transport does not resolve.
    static func address(host: String, port: Int) -> GRPCNIOTransportCore.SocketAddress? {
        if host == "localhost" { return .ipv4(host: "127.0.0.1", port: port) }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return .ipv4(host: host, port: port) }
        if inet_pton(AF_INET6, host, &v6) == 1 { return .ipv6(host: host, port: port) }
        return nil
    }
}

/// Set once the listener is bound (read by the serving task, which then reports its own errors).
final class ListeningFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}

/// The service as the listener registers it: the generated routes, with inference's two methods
/// registered again behind a deserializer that refuses a message over --max-body-bytes with
/// RESOURCE_EXHAUSTED and a message naming the limit. (The transport's own limit, set well above
/// it, would only reset the stream.)
struct GRPCRoutes: RegistrableRPCService {
    let service: GRPCInferenceService
    let maxMessageBytes: Int

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        service.registerMethods(with: &router)
        router.registerHandler(forMethod: Inference_GRPCInferenceService.Method.ModelInfer.descriptor,
                               deserializer: LimitedDeserializer<Inference_ModelInferRequest>(limit: maxMessageBytes),
                               serializer: ProtobufSerializer<Inference_ModelInferResponse>()) { [service] request, context in
            try await service.modelInfer(request: request, context: context)
        }
        router.registerHandler(forMethod: Inference_GRPCInferenceService.Method.ModelStreamInfer.descriptor,
                               deserializer: LimitedDeserializer<Inference_ModelInferRequest>(limit: maxMessageBytes),
                               serializer: ProtobufSerializer<Inference_ModelStreamInferResponse>()) { [service] request, context in
            try await service.modelStreamInfer(request: request, context: context)
        }
    }
}

/// Protobuf decoding behind a size limit.
struct LimitedDeserializer<Message: SwiftProtobuf.Message>: MessageDeserializer {
    let limit: Int

    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> Message {
        guard bytes.count <= limit else {
            throw RPCError(code: .resourceExhausted, message: "the message is \(bytes.count) bytes, over the limit of \(limit) (--max-body-bytes)")
        }
        return try ProtobufDeserializer<Message>().deserialize(bytes)
    }
}
