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
        // The model server (Open Inference Protocol over HTTP), apart so that the library stays free of it.
        .target(
            name: "RecurrentServer",
            dependencies: [
                "Recurrent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
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
        .testTarget(name: "RecurrentServerTests", dependencies: ["RecurrentServer", "Recurrent"], exclude: ["Python"]),
    ]
)
