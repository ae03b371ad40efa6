// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Recurrent",
    // MARK: products
    products: [
        .library(name: "Recurrent", targets: ["Recurrent"]),
        .executable(name: "recurrent", targets: ["recurrent"]),
        .executable(name: "recurrent-bench", targets: ["recurrent-bench"]),
        .library(name: "RecurrentServer", targets: ["RecurrentServer"]),
        .library(name: "RecurrentDistributed", targets: ["RecurrentDistributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // ONNX's protobuf messages (the Swift generated from onnx.proto is committed: no code generator at build time).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // YAML dialogue corpora (chatterbot-corpus): libyaml's full parser, with the line and column of each node.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The model server only: the library never depends on these.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The same protocol over gRPC (HTTP/2), for tritonclient.grpc and KServe's gRPC clients.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        // TLS for both listeners (--tls-cert, --tls-key); the gRPC transport builds on it too.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Reads compressed MusicXML (.mxl, a zip archive): deflate and CRC checks through zlib.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    // MARK: targets
    targets: [
        // Hot loops (matrix products, gate nonlinearities) in C, compiled once per instruction set
        // and chosen at run time, so the package needs no compiler flags and runs on any CPU.
        .target(name: "CRecurrentKernels"),
        .target(
            name: "Recurrent",
            dependencies: [
                "CRecurrentKernels", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"), .product(name: "Yams", package: "Yams"),
            ],
            exclude: ["IO/ONNX/README.md"]
        ),
        // The model server (Open Inference Protocol over HTTP and gRPC), apart so that the library stays free of it.
        .target(
            name: "RecurrentServer",
            dependencies: [
                "Recurrent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            exclude: ["GRPC/inference.proto", "GRPC/README.md"]
        ),
        // Data-parallel training over MPI. The C shim opens the MPI library at run time, so the
        // package builds, and everything else runs, on a machine without MPI.
        .target(name: "CMPIShim", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "RecurrentDistributed", dependencies: ["Recurrent", "CMPIShim"]),
        .executableTarget(
            name: "recurrent",
            dependencies: ["Recurrent", "RecurrentServer", "RecurrentDistributed", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "recurrent-bench", dependencies: ["Recurrent", "CRecurrentKernels"]),
        // MARK: tests
        .testTarget(
            name: "RecurrentTests",
            dependencies: ["Recurrent"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "RecurrentServerTests",
            dependencies: ["RecurrentServer", "Recurrent", .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport")],
            exclude: ["Python"]
        ),
    ]
)
