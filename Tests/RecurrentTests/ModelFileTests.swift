import Foundation
import XCTest
@testable import Recurrent

final class ModelFileTests: XCTestCase {
    static let architecture = LayerSpec.sequential([
        .embedding(vocabularySize: 50, embeddingSize: 8),
        .recurrent(RecurrentConfiguration(
            cell: .lstm, inputSize: 8, hiddenSize: 6, numLayers: 2, bidirectional: true,
            dropout: 0.1, output: .lastState)),
        .dropout(probability: 0.25),
        .layerNorm(size: 12, epsilon: 1e-5),
        .sequential([.dense(inputSize: 12, outputSize: 3, bias: true)]),
    ])

    static func model() -> ModelFile {
        var rng = SplitMix64(seed: 11)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() * 2 - 1 })
        }
        return ModelFile(
            architecture: architecture,
            tensors: [
                "0.weight": random([50, 8]),
                "1.weight_ih_l0": random([24, 8]),
                "1.weight_hh_l0_reverse": random([24, 6]),
                "1.bias_ih_l1": random([24]),
                "3.weight": random([12]),
                "4.0.weight": random([3, 12]),
                "4.0.bias": random([3]),
            ],
            metadata: [
                "preprocessing": #"{"lowercase":true,"max_length":200}"#,
                "vocabulary": #"["<pad>","<unk>","the","\"quoted\"","naïve"]"#,
                "training": #"{"epochs":[{"loss":0.693,"accuracy":0.5}]}"#,
            ])
    }

    func temporaryPath(_ name: String = "model.safetensors") throws -> String {
        try ioTemporaryDirectory().appendingPathComponent(name).path
    }

    func testRoundTrip() throws {
        let path = try temporaryPath()
        let model = Self.model()
        try model.write(to: path)
        let read = try ModelFile.read(from: path)
        XCTAssertEqual(read.architecture, model.architecture)
        XCTAssertEqual(read.metadata, model.metadata)
        XCTAssertEqual(Set(read.tensors.keys), Set(model.tensors.keys))
        for (name, tensor) in model.tensors {
            XCTAssertEqual(read.tensors[name]?.shape, tensor.shape, name)
            XCTAssertEqual(read.tensors[name]?.scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), name)
        }
        XCTAssertEqual(read, model)
    }

    func testFileIsPlainSafetensorsWithFormatMetadata() throws {
        let path = try temporaryPath()
        try Self.model().write(to: path)
        let file = try SafeTensors.read(from: path)
        XCTAssertEqual(file.metadata["format"], "recurrent-model")
        XCTAssertEqual(file.metadata["format_version"], "1")
        let architecture = try XCTUnwrap(file.metadata["architecture"])
        XCTAssertEqual(try JSONDecoder().decode(LayerSpec.self, from: Data(architecture.utf8)), Self.architecture)
        XCTAssertEqual(file.metadata["vocabulary"], Self.model().metadata["vocabulary"])
        XCTAssertEqual(file.tensors, Self.model().tensors)
        // Writing the same model twice gives the same bytes.
        let again = try temporaryPath("again.safetensors")
        try Self.model().write(to: again)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: again)))
    }

    func testEmptyModel() throws {
        let path = try temporaryPath()
        let model = ModelFile(architecture: .dropout(probability: 0.5), tensors: [:])
        try model.write(to: path)
        XCTAssertEqual(try ModelFile.read(from: path), model)
    }

    /// Writes a safetensors file with `metadata`, reads it as a model, and checks the message.
    func assertRejected(
        metadata: [String: String], integerTensors: [String: IntegerTensor] = [:], mentioning mentions: [String],
        line: UInt = #line
    ) throws {
        let path = try temporaryPath()
        try SafeTensors(tensors: ["w": Tensor(1)], integerTensors: integerTensors, metadata: metadata).write(to: path)
        XCTAssertThrowsError(try ModelFile.read(from: path), line: line) { error in
            guard let error = error as? RecurrentError, case .invalidFile(path, _) = error else {
                return XCTFail("expected invalidFile for \(path), got \(error)", line: line)
            }
            let message = error.description
            XCTAssertFalse(message.contains("\n"), message, line: line)
            for mention in [path] + mentions {
                XCTAssertTrue(message.contains(mention), "\"\(message)\" should mention \(mention)", line: line)
            }
        }
    }

    static func validMetadata() throws -> [String: String] {
        let json = try JSONEncoder().encode(architecture)
        return ["format": "recurrent-model", "format_version": "1", "architecture": String(decoding: json, as: UTF8.self)]
    }

    func testPlainWeightsFileIsNotAModel() throws {
        let fixture = try torchFixturesDirectory().appendingPathComponent("lstm_1layer.safetensors").path
        XCTAssertThrowsError(try ModelFile.read(from: fixture)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(fixture), message)
            XCTAssertTrue(message.contains(#"no "format""#) && message.contains("SafeTensors.read"), message)
        }
    }

    func testOtherFormatIsRejected() throws {
        var metadata = try Self.validMetadata()
        metadata["format"] = "pt"
        try assertRejected(metadata: metadata, mentioning: [#"format is "pt""#, #"expected "recurrent-model" version 2"#])
    }

    func testNewerVersionAsksForUpgrade() throws {
        var metadata = try Self.validMetadata()
        metadata["format_version"] = "3"
        try assertRejected(metadata: metadata, mentioning: ["version 3 is newer", "version 2", "upgrade"])
    }

    func testUnknownVersionIsRejected() throws {
        var metadata = try Self.validMetadata()
        metadata["format_version"] = "0.9"
        try assertRejected(metadata: metadata, mentioning: [#"version "0.9" is not supported"#, "version 2"])
        metadata["format_version"] = nil
        try assertRejected(metadata: metadata, mentioning: [#"no "format_version""#])
    }

    func testMissingArchitectureIsRejected() throws {
        var metadata = try Self.validMetadata()
        metadata["architecture"] = nil
        try assertRejected(metadata: metadata, mentioning: [#"no "architecture""#, "LayerSpec"])
    }

    func testUndecodableArchitectureIsRejected() throws {
        var metadata = try Self.validMetadata()
        metadata["architecture"] = #"{"convolution":{"kernel":3}}"#
        try assertRejected(metadata: metadata, mentioning: ["architecture does not decode as a LayerSpec"])
        metadata["architecture"] = #"{"dense":{"inputSize":3}}"#
        try assertRejected(metadata: metadata, mentioning: ["architecture does not decode as a LayerSpec", "outputSize"])
        metadata["architecture"] = "not json"
        try assertRejected(metadata: metadata, mentioning: ["architecture does not decode as a LayerSpec"])
    }

    func testIntegerTensorIsRejected() throws {
        try assertRejected(
            metadata: try Self.validMetadata(), integerTensors: ["lengths": IntegerTensor([3])],
            mentioning: [#"tensor "lengths" holds integers"#])
    }

    func testReservedMetadataKeyIsRejectedOnWrite() throws {
        let path = try temporaryPath()
        var model = Self.model()
        model.metadata["format_version"] = "7"
        XCTAssertThrowsError(try model.write(to: path)) { error in
            XCTAssertEqual(
                error as? RecurrentError,
                .invalidArgument(#"\#(path): metadata key "format_version" is reserved by the model file format"#))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testUnwritablePathIsAnIOError() throws {
        let path = try ioTemporaryDirectory().appendingPathComponent("no/such/dir/model.safetensors").path
        XCTAssertThrowsError(try Self.model().write(to: path)) { error in
            guard case .io(path, _)? = error as? RecurrentError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try ModelFile.read(from: path)) { error in
            guard case .io(path, _)? = error as? RecurrentError else { return XCTFail("\(error)") }
        }
    }
}
