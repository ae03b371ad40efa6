import Foundation
import XCTest
@testable import Recurrent

/// ONNX files written by torch.onnx.export (scripts/onnx_fixtures.py, committed in
/// Fixtures/onnx) imported and run here give PyTorch's outputs.
final class ONNXImportTests: ScratchDirectoryTestCase {
    struct Case: Decodable {
        var name: String
        var opset: Int
        var kind: String
        var batch_first: Bool
        var inputs: [String]
        var outputs: [String]
    }

    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/onnx") }

    static func cases() throws -> [Case] {
        struct Listing: Decodable { var cases: [Case] }
        return try JSONDecoder().decode(Listing.self, from: Data(contentsOf: directory.appendingPathComponent("cases.json"))).cases
    }

    /// Runs an imported model on a case's inputs, as PyTorch's module was run; outputs in the
    /// case's layout.
    func run(_ model: Model, _ fixture: Case, _ tensors: SafeTensors) throws -> [String: Tensor] {
        func batchFirst(_ tensor: Tensor) -> Tensor { fixture.batch_first ? tensor : tensor.swappingFirstTwoAxes() }
        let x: Tensor
        if let tokens = tensors.integerTensors["tokens"] {
            x = batchFirst(Tensor(shape: tokens.shape, scalars: tokens.values.map(Float.init)))
        } else {
            x = batchFirst(try XCTUnwrap(tensors.tensors["x"]))
        }
        guard fixture.kind == "stack" else {
            let y = GradientMode.withoutRecording { model.layer(Variable(x)) }.value
            return ["y": y.rank == 3 ? batchFirst(y) : y]
        }
        let layer = try XCTUnwrap(model.layer as? RecurrentLayer)
        let state = tensors.tensors["h0"].map { RecurrentLayer.State(hidden: Variable($0), cell: tensors.tensors["c0"].map { Variable($0) }) }
        let result = try GradientMode.withoutRecording {
            try layer.run(Variable(x), initialState: state, lengths: tensors.integerTensors["lengths"]?.values)
        }
        var outputs = ["y": batchFirst(result.output.value), "h_n": result.state.hidden.value]
        if let cell = result.state.cell { outputs["c_n"] = cell.value }
        return outputs
    }

    func testTorchExportsGiveTorchOutputs() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 13)
        XCTAssertEqual(Set(cases.map(\.opset)), [14, 15, 16, 17])
        for fixture in cases {
            let model = try ONNXImport.model(contentsOf: Self.directory.appendingPathComponent(fixture.name + ".onnx").path)
            let tensors = try SafeTensors.read(from: Self.directory.appendingPathComponent(fixture.name + ".safetensors").path)
            let outputs = try run(model, fixture, tensors)
            var expected: [String: Tensor] = [:]
            for name in fixture.outputs { expected[name] = try XCTUnwrap(tensors.tensors["expected." + name], "\(fixture.name): \(name)") }
            let difference = try ONNXComparison.largestDifference(expected: expected, actual: outputs)
            XCTAssertLessThanOrEqual(difference.relative, 1e-5, "\(fixture.name): \(difference.output) differs by \(difference.relative)")
            print("ONNX import \(fixture.name): largest difference from PyTorch \(difference.relative)")
        }
    }

    func testImportedShapesAndGateOrder() throws {
        let gru = try ONNXImport.model(contentsOf: Self.directory.appendingPathComponent("gru_reset_before_bidirectional_o17.onnx").path)
        let configuration = try XCTUnwrap(gru.layer as? RecurrentLayer).configuration
        XCTAssertEqual(configuration.cell, .gru)
        XCTAssertFalse(configuration.gruResetAfter)
        XCTAssertTrue(configuration.bidirectional)
        let head = try ONNXImport.model(contentsOf: Self.directory.appendingPathComponent("embedding_gru_final_state_o15.onnx").path)
        XCTAssertEqual(head.layer.spec.outline(), ["Sequential", "  0: Embedding(11 tokens -> 6)",
                                                   "  1: GRU(6 -> 5, returns the last state)", "  2: Dense(5 -> 4)"])
        XCTAssertEqual(head.metadata["onnx_layout"], "batch-first")
    }

    /// Export then import gives the same parameters, bit for bit, and the same metadata.
    func testRoundTripIsBitForBit() throws {
        var classifier = ClassificationConfiguration()
        classifier.pooling = .mean
        classifier.hiddenSize = 5
        classifier.bidirectional = true
        let spec = ClassifierSpec(configuration: classifier, input: .features(labelColumn: "label", featuresPerStep: 2),
                                  labels: ["a", "b"], vocabulary: nil, scaler: nil)
        let models: [Model] = [
            Model(randomized(RecurrentLayer(RecurrentConfiguration(cell: .gru, inputSize: 3, hiddenSize: 4, numLayers: 2,
                                                                   bidirectional: true, gruResetAfter: false)), seed: 1)),
            Model(randomized(Sequential {
                RecurrentLayer(RecurrentConfiguration(cell: .rnn, inputSize: 2, hiddenSize: 3, nonlinearity: .relu, bias: false,
                                                      output: .lastState))
                LayerNorm(size: 3)
                Dense(inputSize: 3, outputSize: 2)
            }, seed: 2)),
            try Classifier.make(spec: spec, seed: 3).model,
            Model(randomized(LanguageModelNetwork(LanguageModelArchitecture(vocabularySize: 9, embeddingSize: 4, hiddenSize: 4,
                                                                            tiedWeights: true)), seed: 4), metadata: ["note": "kept"]),
            Model(randomized(Seq2SeqNetwork(Seq2SeqArchitecture(sourceVocabularySize: 6, targetVocabularySize: 5, embeddingSize: 3,
                                                                hiddenSize: 4, attention: .bahdanau)), seed: 5)),
        ]
        for (index, model) in models.enumerated() {
            let path = self.path("model\(index).onnx")
            let written = try ONNXExport.write(model, to: path, options: ONNXExportOptions(opset: 17, batchFirst: index % 2 == 1))
            let imported = try ONNXImport.model(contentsOf: written[0])
            XCTAssertEqual(imported.layer.spec, model.layer.spec)
            XCTAssertEqual(imported.metadata, model.metadata)
            assertBitForBit(imported.layer, model.layer, "model \(index)")
        }
    }

    /// A PyTorch graph imported, exported and imported again keeps every bit.
    func testTorchGraphReexportedKeepsEveryBit() throws {
        for name in ["gru_bidirectional_2layers_batchfirst_o15", "lstm_bidirectional_final_state_o16", "embedding_gru_final_state_o15"] {
            let first = try ONNXImport.model(contentsOf: Self.directory.appendingPathComponent(name + ".onnx").path)
            try ONNXExport.write(first, to: path("again.onnx"))
            let second = try ONNXImport.model(contentsOf: path("again.onnx"))
            assertBitForBit(second.layer, first.layer, name)
        }
    }

    func assertBitForBit(_ actual: any Layer, _ expected: any Layer, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let left = actual.namedParameters, right = expected.namedParameters
        XCTAssertEqual(left.map(\.name), right.map(\.name), what, file: file, line: line)
        for ((name, a), (_, b)) in zip(left, right) {
            XCTAssertEqual(a.value.shape, b.value.shape, "\(what) \(name)", file: file, line: line)
            XCTAssertEqual(a.value.scalars.map(\.bitPattern), b.value.scalars.map(\.bitPattern), "\(what) \(name)", file: file, line: line)
        }
    }
}
