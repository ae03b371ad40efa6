import Foundation
import NIOSSL
import Recurrent

/// The server's certificate chain and private key (PEM files), read and checked when the
/// server starts, so that a wrong file stops the start with one line rather than failing each
/// handshake. Both listeners use them: HTTPS, and gRPC over TLS.
struct TLSFiles: Sendable {
    let certificatePath: String
    let keyPath: String
    /// For the HTTP listener (HTTP/1.1 over TLS).
    let configuration: TLSConfiguration

    init(certificate certificatePath: String, key keyPath: String) throws {
        for (path, option) in [(certificatePath, "--tls-cert"), (keyPath, "--tls-key")] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw RecurrentError.invalidArgument("\(option) \(path): no such file")
            }
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw RecurrentError.invalidFile(path: certificatePath, reason: "--tls-cert: not a PEM certificate (\(error))")
        }
        guard !chain.isEmpty else {
            throw RecurrentError.invalidFile(path: certificatePath, reason: "--tls-cert: holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw RecurrentError.invalidFile(path: keyPath, reason: "--tls-key: not a PEM private key without a passphrase (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["http/1.1"]
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw RecurrentError.invalidArgument("--tls-key \(keyPath) does not go with --tls-cert \(certificatePath) (\(error))")
        }
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.configuration = configuration
    }
}
