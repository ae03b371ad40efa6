import Foundation
import XCTest
@testable import Recurrent

/// Helpers shared by the file-format tests.
extension XCTestCase {
    /// A fresh empty directory, removed when the test ends.
    func ioTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("recurrent-io-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock {
            // Undo any permission changes a test made, so the directory can be removed.
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
            try? FileManager.default.removeItem(at: url)
        }
        return url
    }

    /// The PyTorch reference files.
    func torchFixturesDirectory() throws -> URL {
        let fixtures = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return fixtures.appendingPathComponent("torch", isDirectory: true)
    }

    /// Runs `script` with python3 and the given arguments, returning standard output; skips the
    /// test when python3 or its safetensors package is not installed.
    func runPythonWithSafetensors(_ script: String, arguments: [String]) throws -> Data {
        func run(_ args: [String]) throws -> (status: Int32, output: Data, error: Data) {
            let result = try runProgram("/usr/bin/env", ["python3"] + args)
            return (result.status, Data(result.stdout.utf8), Data(result.stderr.utf8))
        }
        let probe = try? run(["-c", "import numpy, safetensors.numpy"])
        guard let probe, probe.status == 0 else {
            throw XCTSkip("python3 with numpy and safetensors is not available")
        }
        let result = try run(["-c", script] + arguments)
        guard result.status == 0 else {
            XCTFail("python3 failed: \(String(decoding: result.error, as: UTF8.self))")
            return Data()
        }
        return result.output
    }
}

final class SafeTensorsTests: XCTestCase {
    /// Values that are easy to get wrong: signed zero, infinities, a NaN with a payload,
    /// subnormals, extremes.
    static let awkwardFloats: [Float] = [
        0, -0.0, 1, -1.5, .infinity, -.infinity, Float(bitPattern: 0x7FC0_1234), .leastNonzeroMagnitude,
        .greatestFiniteMagnitude, -.leastNormalMagnitude, 3.1415927, 1e-20,
    ]

    static func sample() -> SafeTensors {
        var rng = SystemRandomNumberGenerator()
        return SafeTensors(
            tensors: [
                "weight_ih_l0": Tensor(shape: [3, 4], scalars: Array(awkwardFloats.prefix(12))),
                "0.bias": Tensor(shape: [5], scalars: (0..<5).map { _ in Float.random(in: -1...1, using: &rng) }),
                "scalar": Tensor(2.5),
                "empty": Tensor(shape: [2, 0, 3], scalars: []),
                "naïve \"quoted\" name\n": Tensor(shape: [1, 1], scalars: [42]),
            ],
            integerTensors: [
                "lengths": IntegerTensor([7, 4, 1]),
                "extremes": IntegerTensor(shape: [2, 1], values: [Int(Int64.min), Int(Int64.max)]),
            ],
            metadata: [
                "vocabulary": #"{"tokens":["a","b","\""],"unk":0}"#,
                "note": "multi\nline\ttabbed \u{01} ünïcödé / slash",
                "empty": "",
            ])
    }

    static func assertBitIdentical(_ a: SafeTensors, _ b: SafeTensors, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys), file: file, line: line)
        for (name, tensor) in a.tensors {
            XCTAssertEqual(b.tensors[name]?.shape, tensor.shape, "shape of \(name)", file: file, line: line)
            XCTAssertEqual(b.tensors[name]?.scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), "bits of \(name)", file: file, line: line)
        }
        XCTAssertEqual(a.integerTensors, b.integerTensors, file: file, line: line)
        XCTAssertEqual(a.metadata, b.metadata, file: file, line: line)
    }

    func testRoundTripIsBitIdentical() throws {
        let path = try ioTemporaryDirectory().appendingPathComponent("sample.safetensors").path
        let original = Self.sample()
        try original.write(to: path)
        let read = try SafeTensors.read(from: path)
        Self.assertBitIdentical(original, read)
        // Reading then writing again gives the same bytes.
        XCTAssertEqual(try read.encoded(), try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func testLayoutFollowsTheReference() throws {
        let file = SafeTensors(
            tensors: ["b": Tensor(shape: [3], scalars: [1, 2, 3]), "a": Tensor(shape: [1], scalars: [4])],
            integerTensors: ["z": IntegerTensor([5])],
            metadata: ["k": "v"])
        let data = try file.encoded()
        let headerLength = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) })
        XCTAssertEqual(headerLength % 8, 0, "header padded to a multiple of 8")
        let header = String(decoding: data[8..<(8 + headerLength)], as: UTF8.self)
        XCTAssertEqual(
            header.trimmingCharacters(in: .whitespaces),
            #"{"__metadata__":{"k":"v"},"z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"#
                + #""a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"#
                + #""b":{"dtype":"F32","shape":[3],"data_offsets":[12,24]}}"#)
        XCTAssertEqual(data.count, 8 + headerLength + 24)
        XCTAssertEqual(Array(data.suffix(4)), [0x00, 0x00, 0x40, 0x40], "3.0 as little-endian F32")
    }

    /// Builds a file from a header and data by hand, for dtypes this library does not write.
    static func handMade(header: String, data: [UInt8]) -> Data {
        let json = Array(header.utf8)
        return Data(withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data)
    }

    func testReadsHalfPrecisionAndBFloat16() throws {
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x3555, 0x0400]
        let expected: [Float] = [1, -2, 65504, 0x1p-24, -0.0, .infinity, 0.333251953125, 0x1p-14]
        let brains: [UInt16] = [0x3F80, 0xC000, 0x4049, 0xFF80]
        let expectedBrains: [Float] = [1, -2, 3.140625, -.infinity]
        let bytes = (halves + brains + [0x7E00]).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let header = #"{"h":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]},"#
            + #""b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]},"#
            + #""nan":{"dtype":"F16","shape":[],"data_offsets":[24,26]}}"#
        let file = try SafeTensors(decoding: Self.handMade(header: header, data: bytes), path: "hand.safetensors")
        XCTAssertEqual(file.tensors["h"]?.shape, [2, 4])
        XCTAssertEqual(file.tensors["h"]?.scalars.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(file.tensors["b"]?.scalars, expectedBrains)
        XCTAssertEqual(file.tensors["nan"]?.shape, [])
        XCTAssertTrue(file.tensors["nan"]?.scalar.isNaN ?? false)
    }

    func testReadsInt32AndFloat64() throws {
        let ints: [Int32] = [7, -4, Int32.max]
        let doubles: [Double] = [0.1, -1e300, 1e-50]
        let bytes = ints.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
            + doubles.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let header = #"{"lengths":{"dtype":"I32","shape":[3],"data_offsets":[0,12]},"#
            + #""d":{"dtype":"F64","shape":[3,1],"data_offsets":[12,36]}}"#
        let file = try SafeTensors(decoding: Self.handMade(header: header, data: bytes), path: "hand.safetensors")
        XCTAssertEqual(file.integerTensors["lengths"], IntegerTensor([7, -4, Int(Int32.max)]))
        XCTAssertEqual(file.tensors["d"], Tensor(shape: [3, 1], scalars: [0.1, -.infinity, 0]))
        XCTAssertTrue(file.metadata.isEmpty)
    }

    /// The subset of a fixture's .json configuration needed to predict tensor shapes.
    struct TorchConfiguration: Decodable {
        var cell: String
        var input_size: Int
        var hidden_size: Int
        var num_layers: Int
        var bidirectional: Bool
        var seq_len: Int
        var batch: Int
    }

    func testReadsPyTorchFixtures() throws {
        let directory = try torchFixturesDirectory()
        let configurations = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThanOrEqual(configurations.count, 9)
        for name in configurations {
            let base = String(name.dropLast(".json".count))
            let config = try JSONDecoder().decode(
                TorchConfiguration.self, from: Data(contentsOf: directory.appendingPathComponent(name)))
            let gates = ["rnn": 1, "lstm": 4, "gru": 3][config.cell] ?? 0
            XCTAssertGreaterThan(gates, 0, "\(base): cell \(config.cell)")
            let (h, d) = (config.hidden_size, config.bidirectional ? 2 : 1)

            var expected: [String: [Int]] = [
                "x": [config.batch, config.seq_len, config.input_size],
                "y": [config.batch, config.seq_len, d * h],
                "h0": [config.num_layers * d, config.batch, h],
                "h_n": [config.num_layers * d, config.batch, h],
            ]
            if config.cell == "lstm" {
                expected["c0"] = [config.num_layers * d, config.batch, h]
                expected["c_n"] = expected["c0"]
            }
            for layer in 0..<config.num_layers {
                for suffix in d == 2 ? ["", "_reverse"] : [""] {
                    let input = layer == 0 ? config.input_size : d * h
                    expected["weight_ih_l\(layer)\(suffix)"] = [gates * h, input]
                    expected["weight_hh_l\(layer)\(suffix)"] = [gates * h, h]
                    expected["bias_ih_l\(layer)\(suffix)"] = [gates * h]
                    expected["bias_hh_l\(layer)\(suffix)"] = [gates * h]
                }
            }
            for (tensor, shape) in expected where !["y", "h_n", "c_n"].contains(tensor) {
                expected["grad.\(tensor)"] = shape
            }

            let single = try SafeTensors.read(from: directory.appendingPathComponent("\(base).safetensors").path)
            let double = try SafeTensors.read(from: directory.appendingPathComponent("\(base).f64.safetensors").path)
            for (tensor, shape) in expected {
                XCTAssertEqual(single.tensors[tensor]?.shape, shape, "\(base) \(tensor)")
                XCTAssertEqual(double.tensors[tensor]?.shape, shape, "\(base).f64 \(tensor)")
            }
            // The float32 file is the float64 one rounded, and F64 reading rounds the same way.
            XCTAssertEqual(Set(single.tensors.keys), Set(double.tensors.keys), base)
            for (tensor, value) in single.tensors {
                XCTAssertEqual(value.scalars, double.tensors[tensor]?.scalars, "\(base) \(tensor)")
                XCTAssertTrue(value.scalars.contains { $0 != 0 } || value.count == 0, "\(base) \(tensor) is all zeros")
            }
        }
    }

    func testLSTMFixtureShapesMatchPyTorchLayout() throws {
        let path = try torchFixturesDirectory().appendingPathComponent("lstm_1layer.safetensors").path
        let file = try SafeTensors.read(from: path)
        // input_size 3, hidden_size 5: the four gates i|f|g|o stacked along the rows.
        XCTAssertEqual(file.tensors["weight_ih_l0"]?.shape, [20, 3])
        XCTAssertEqual(file.tensors["weight_hh_l0"]?.shape, [20, 5])
        XCTAssertEqual(file.tensors["bias_ih_l0"]?.shape, [20])
        XCTAssertEqual(file.tensors["x"]?.shape, [2, 7, 3])
    }

    func testPythonReadsSwiftFileAndWritesTheSameBytes() throws {
        let directory = try ioTemporaryDirectory()
        let swiftPath = directory.appendingPathComponent("swift.safetensors").path
        let pythonPath = directory.appendingPathComponent("python.safetensors").path
        let original = Self.sample()
        try original.write(to: swiftPath)

        // Loads with safetensors.numpy, prints every tensor (floats as their bits) and the metadata,
        // and saves the same tensors with the reference writer. (Without the metadata: the
        // reference writes it in hash-map order, which varies from run to run.)
        let script = """
            import sys, json, numpy as np
            from safetensors import safe_open
            from safetensors.numpy import load_file, save_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="np") as f:
                metadata = f.metadata()
            out = {}
            for name, a in tensors.items():
                bits = a.view(np.uint32) if a.dtype == np.float32 else a
                out[name] = {"dtype": str(a.dtype), "shape": list(a.shape), "values": bits.reshape(-1).tolist()}
            save_file(tensors, sys.argv[2])
            print(json.dumps({"tensors": out, "metadata": metadata}))
            """
        let output = try runPythonWithSafetensors(script, arguments: [swiftPath, pythonPath])

        struct Loaded: Decodable {
            struct Entry: Decodable { var dtype: String; var shape: [Int]; var values: [Int] }
            var tensors: [String: Entry]
            var metadata: [String: String]
        }
        let loaded = try JSONDecoder().decode(Loaded.self, from: output)
        XCTAssertEqual(loaded.metadata, original.metadata)
        XCTAssertEqual(Set(loaded.tensors.keys), Set(original.tensors.keys).union(original.integerTensors.keys))
        for (name, tensor) in original.tensors {
            XCTAssertEqual(loaded.tensors[name]?.dtype, "float32", name)
            XCTAssertEqual(loaded.tensors[name]?.shape, tensor.shape, name)
            XCTAssertEqual(loaded.tensors[name]?.values, tensor.scalars.map { Int($0.bitPattern) }, name)
        }
        for (name, tensor) in original.integerTensors {
            XCTAssertEqual(loaded.tensors[name]?.dtype, "int64", name)
            XCTAssertEqual(loaded.tensors[name]?.shape, tensor.shape, name)
            XCTAssertEqual(loaded.tensors[name]?.values, tensor.values, name)
        }
        var withoutMetadata = original
        withoutMetadata.metadata = [:]
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: pythonPath)), try withoutMetadata.encoded(),
            "the reference writer produces the same bytes")
    }

    func testWriteRejectsInconsistentInput() throws {
        let path = try ioTemporaryDirectory().appendingPathComponent("bad.safetensors").path
        var broken = Tensor(zeros: [2, 2])
        broken.scalars.append(1)  // five values under shape [2, 2]
        let cases: [(SafeTensors, String)] = [
            (SafeTensors(tensors: ["w": broken]), #"tensor "w" has shape [2, 2] but 5 values"#),
            (SafeTensors(integerTensors: ["n": IntegerTensor(shape: [-1], values: [])]), #"tensor "n" has shape [-1]"#),
            (SafeTensors(tensors: ["x": Tensor(1)], integerTensors: ["x": IntegerTensor([1])]), #""x" names both"#),
            (SafeTensors(tensors: ["__metadata__": Tensor(1)]), "reserved for metadata"),
        ]
        for (file, message) in cases {
            XCTAssertThrowsError(try file.write(to: path)) { error in
                guard case .invalidArgument(let text)? = error as? RecurrentError else {
                    return XCTFail("unexpected error \(error)")
                }
                XCTAssertTrue(text.contains(path) && text.contains(message), text)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing written for \(message)")
        }
    }
}
