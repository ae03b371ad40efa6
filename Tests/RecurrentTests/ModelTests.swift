import Foundation
import XCTest
@testable import Recurrent

/// Models saved to one file and loaded back, by Recurrent and by Python's safetensors.
final class ModelTests: ScratchDirectoryTestCase {
    func makeModel() -> Sequential {
        Sequential {
            Embedding(vocabularySize: 11, embeddingSize: 4, seed: 1)
            RecurrentLayer(.init(cell: .gru, inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, dropout: 0.1), seed: 2)
            LayerNorm(size: 12)
            RecurrentLayer(.init(cell: .lstm, inputSize: 12, hiddenSize: 5, output: .lastState), seed: 3)
            Dropout(probability: 0.2, seed: 4)
            Dense(inputSize: 5, outputSize: 3, seed: 5)
        }
    }

    func testSavedAndReloadedModelGivesIdenticalOutputs() throws {
        let model = Model(makeModel(), metadata: ["vocabulary": "[\"a\",\"b\"]"])
        let path = workDirectory.appendingPathComponent("m.model").path
        try model.save(to: path)
        let loaded = try Model(contentsOf: path)
        XCTAssertEqual(loaded.metadata["vocabulary"], "[\"a\",\"b\"]")
        XCTAssertEqual(loaded.layer.spec, model.layer.spec)
        let ids = Variable(Tensor(shape: [2, 5], scalars: [1, 2, 3, 4, 5, 10, 9, 8, 7, 0]))
        let before = model.layer(ids).value, after = loaded.layer(ids).value
        XCTAssertEqual(before.scalars, after.scalars, "outputs must be identical, bit for bit")
        XCTAssertEqual(before.shape, [2, 3])
        // No temporary file is left beside it.
        let files = try FileManager.default.contentsOfDirectory(atPath: workDirectory.path)
        XCTAssertEqual(files, ["m.model"])
    }

    func testModelFileLoadsInPythonWithPyTorchNamesAndValues() throws {
        guard pythonHasSafetensors() else { throw XCTSkip("python3 with safetensors is not installed (.ci/run installs it)") }
        let lstm = RecurrentLayer(.init(cell: .lstm, inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true), seed: 9)
        let model = Model(Sequential { lstm; Dense(inputSize: 8, outputSize: 2, seed: 1) })
        let path = workDirectory.appendingPathComponent("m.model").path
        try model.save(to: path)
        let script = """
            import json, sys
            from safetensors.numpy import load_file
            from safetensors import safe_open
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="numpy") as f:
                metadata = f.metadata()
            print(json.dumps({
                "names": sorted(tensors),
                "shapes": {k: list(v.shape) for k, v in tensors.items()},
                "dtypes": sorted({str(v.dtype) for v in tensors.values()}),
                "sums": {k: float(v.astype("float64").sum()) for k, v in tensors.items()},
                "format": metadata.get("format"),
                "architecture": json.loads(metadata["architecture"]) is not None,
            }))
            """
        let output = try runPython(script, arguments: [path])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        let expectedNames = model.layer.namedParameters.map(\.name).sorted()
        XCTAssertEqual(json["names"] as? [String], expectedNames)
        XCTAssertTrue(expectedNames.contains("0.weight_ih_l1_reverse"), "PyTorch's names under nn.Sequential's index")
        XCTAssertEqual(json["dtypes"] as? [String], ["float32"])
        XCTAssertEqual(json["format"] as? String, "recurrent-model")
        let shapes = try XCTUnwrap(json["shapes"] as? [String: [Int]])
        let sums = try XCTUnwrap(json["sums"] as? [String: Double])
        for (name, parameter) in model.layer.namedParameters {
            XCTAssertEqual(shapes[name], parameter.value.shape, name)
            let sum = parameter.value.scalars.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(sums[name] ?? .nan, sum, accuracy: 1e-9, name)
        }
    }

    func testArchitecturesThatDoNotFitAreRefused() throws {
        let bad = LayerSpec.sequential([
            .recurrent(.init(cell: .lstm, inputSize: 3, hiddenSize: 4)),
            .dense(inputSize: 5, outputSize: 1, bias: true),
        ])
        XCTAssertThrowsError(try bad.makeLayer()) { error in
            XCTAssertTrue("\(error)".contains("layer 1 (dense) takes 5 features but receives 4"), "\(error)")
        }
        XCTAssertThrowsError(try LayerSpec.recurrent(.init(cell: .gru, inputSize: 3, hiddenSize: -2)).makeLayer())
        XCTAssertThrowsError(try LayerSpec.dropout(probability: 1.5).makeLayer())
    }
}

func pythonHasSafetensors() -> Bool {
    (try? runPython("import safetensors.numpy", arguments: [])) != nil
}

/// Runs a Python script and returns its standard output; throws when it fails.
func runPython(_ script: String, arguments: [String]) throws -> String {
    let result = try runProgram("/usr/bin/env", ["python3", "-c", script] + arguments)
    guard result.status == 0 else { throw RecurrentError.invalidArgument("python3 exited with \(result.status)") }
    return result.stdout
}
