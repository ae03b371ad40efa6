// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Recurrent",
    // MARK: products
    products: [
        .library(name: "Recurrent", targets: ["Recurrent"]),
        .executable(name: "recurrent", targets: ["recurrent"]),
        .executable(name: "recurrent-bench", targets: ["recurrent-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Reads compressed MusicXML (.mxl, a zip archive): deflate and CRC checks through zlib.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    // MARK: targets
    targets: [
        // Hot loops (matrix products, gate nonlinearities) in C, compiled once per instruction set
        // and chosen at run time, so the package needs no compiler flags and runs on any CPU.
        .target(name: "CRecurrentKernels"),
        .target(name: "Recurrent", dependencies: ["CRecurrentKernels", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .executableTarget(
            name: "recurrent",
            dependencies: ["Recurrent", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "recurrent-bench", dependencies: ["Recurrent", "CRecurrentKernels"]),
        // MARK: tests
        .testTarget(
            name: "RecurrentTests",
            dependencies: ["Recurrent"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
