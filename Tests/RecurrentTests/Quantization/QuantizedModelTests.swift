import CRecurrentKernels
import XCTest
@testable import Recurrent

/// Quantized recurrent layers and models: their outputs beside the float ones, streaming, the
/// model file, the refusal to train, and `recurrent quantize` through the built binary.
final class QuantizedModelTests: ScratchDirectoryTestCase {
    func makeLayer(_ cell: CellKind, seed: UInt64) -> RecurrentLayer {
        RecurrentLayer(RecurrentConfiguration(cell: cell, inputSize: 24, hiddenSize: 96, numLayers: 2, output: .sequence), seed: seed)
    }

    func input(seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.uniform(shape: [3, 40, 24], low: -1, high: 1, using: &rng)
    }

    /// Each weight moves by at most half its row's step (max |w| / 254, here 1/sqrt(96) / 254 =
    /// 4e-4); through 2 layers and 40 steps the outputs (in [-1, 1]) move by far less than 0.01.
    func testQuantizedLayerStaysWithinBoundOfTheFloatLayer() throws {
        for cell in [CellKind.lstm, .gru, .rnn] {
            let layer = makeLayer(cell, seed: 3)
            let x = input(seed: 4)
            let float = try GradientMode.withoutRecording { try layer.run(Variable(x)) }.output.value
            layer.quantize(.int8)
            XCTAssertEqual(layer.quantization, .int8)
            let int8 = try GradientMode.withoutRecording { try layer.run(Variable(x)) }.output.value
            let worst = zip(float.scalars, int8.scalars).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 0.01, "\(cell): largest difference from the float layer")
            XCTAssertGreaterThan(worst, 0, "\(cell): the int8 weights were not used")
        }
    }

    func testStreamingStepByStepEqualsTheWholeSequence() throws {
        for cell in [CellKind.lstm, .gru, .rnn] {
            let layer = makeLayer(cell, seed: 8)
            layer.quantize(.int8)
            let x = input(seed: 9)
            let whole = try GradientMode.withoutRecording { try layer.run(Variable(x)) }.output.value
            let stream = try RecurrentStream(layer, batch: 3)
            for t in 0..<40 {
                var step: [Float] = [], expected: [Float] = []
                for b in 0..<3 {
                    step += x.scalars[((b * 40 + t) * 24)..<((b * 40 + t + 1) * 24)]
                    expected += whole.scalars[((b * 40 + t) * 96)..<((b * 40 + t + 1) * 96)]
                }
                let output = try stream.step(step)
                XCTAssertEqual(output, expected, "\(cell) step \(t)")
            }
        }
    }

    func testModelFileKeepsTheInt8WeightsAndTheirResults() throws {
        let model = Model(Sequential([makeLayer(.lstm, seed: 1), Dense(inputSize: 96, outputSize: 5, seed: 2)]))
        for layer in model.layer.recurrentLayers { layer.quantize(.int8) }
        let x = Variable(input(seed: 3))
        let before = GradientMode.withoutRecording { model.layer(x) }.value
        try model.save(to: path("int8.model"))
        let file = try SafeTensors.read(from: path("int8.model"))
        XCTAssertEqual(file.metadata["format_version"], "2")
        XCTAssertEqual(file.int8Tensors.keys.sorted(), ["0.weight_hh_l0", "0.weight_hh_l1", "0.weight_ih_l0", "0.weight_ih_l1"])
        XCTAssertEqual(file.tensors["0.weight_ih_l0.scale"]?.shape, [384])
        let loaded = try Model(contentsOf: path("int8.model"))
        XCTAssertTrue(loaded.layer.isQuantized)
        XCTAssertEqual(loaded.layer.namedQuantizedMatrices, model.layer.namedQuantizedMatrices)
        XCTAssertEqual(GradientMode.withoutRecording { loaded.layer(x) }.value, before)
        // A float model stays version 1, readable by every build.
        try Model(Sequential([makeLayer(.gru, seed: 1)])).save(to: path("float.model"))
        XCTAssertEqual(try SafeTensors.read(from: path("float.model")).metadata["format_version"], "1")
    }

    func testBrokenQuantizedFilesAreRefused() throws {
        let model = Model(Sequential([makeLayer(.gru, seed: 1)]))
        for layer in model.layer.recurrentLayers { layer.quantize(.int8) }
        try model.save(to: path("int8.model"))
        var file = try SafeTensors.read(from: path("int8.model"))
        file.tensors["0.weight_hh_l1.scale"] = nil
        try file.write(to: path("no-scale.model"))
        XCTAssertThrowsError(try Model(contentsOf: path("no-scale.model"))) { error in
            XCTAssertTrue("\(error)".contains(#"needs its row scales "0.weight_hh_l1.scale""#), "\(error)")
        }
        file = try SafeTensors.read(from: path("int8.model"))
        file.metadata["format_version"] = "1"
        try file.write(to: path("version1.model"))
        XCTAssertThrowsError(try Model(contentsOf: path("version1.model"))) { error in
            XCTAssertTrue("\(error)".contains("holds int8 values, which a version 1 model file does not have"), "\(error)")
        }
    }

    func testTrainingAQuantizedModelIsRefused() throws {
        let layer = Sequential([makeLayer(.lstm, seed: 1)])
        layer.recurrentLayers[0].quantize(.int8)
        XCTAssertThrowsError(try layer.fit(inputs: input(seed: 2), targets: Tensor(zeros: [3, 40, 96]), loss: Loss.meanSquaredError,
                                           optimizer: try Adam(layer.parameters, learningRate: 1e-3))) { error in
            XCTAssertTrue("\(error)".contains("int8, for inference only"), "\(error)")
        }
    }

    func testQuantizeThenRunThroughTheCLI() throws {
        let directory = TorchFixture.directory.path, name = "lstm_2layer"
        let fixture = try TorchFixture(name: name)
        let model = path("float.model"), quantized = path("int8.model")
        let imported = try runCLI(["import", "torch", "\(directory)/\(name).safetensors", "--config", "\(directory)/\(name).json", "-o", model])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let quantizing = try runCLI(["quantize", model, "--int8", "-o", quantized])
        XCTAssertEqual(quantizing.status, 0, quantizing.stderr)
        XCTAssertTrue(quantizing.stdout.contains("4 recurrent weight matrices as int8"), quantizing.stdout)
        try SafeTensors(tensors: ["x": try fixture.tensor("x"), "h0": try fixture.tensor("h0"), "c0": try fixture.tensor("c0")])
            .write(to: path("in.safetensors"))
        let ran = try runCLI(["run", quantized, "--input", path("in.safetensors"), "-o", path("out.safetensors")])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let outputs = try SafeTensors.read(from: path("out.safetensors"))
        // The library's own quantized model gives the same values.
        let library = try Model(contentsOf: quantized)
        let expected = try GradientMode.withoutRecording {
            try XCTUnwrap(library.layer.recurrentLayers.first).run(
                Variable(try fixture.tensor("x")), initialState: .init(hidden: Variable(try fixture.tensor("h0")), cell: Variable(try fixture.tensor("c0"))))
        }
        XCTAssertEqual(outputs.tensors["y"], expected.output.value)
        // And PyTorch's float outputs within the bound of the int8 weights.
        assertClose(outputs.tensors["y"], try fixture.tensor("y"), tolerance: 0.01, "int8 y beside PyTorch's float y")
    }

    func testBadQuantizeInputs() throws {
        let directory = TorchFixture.directory.path
        let model = path("float.model"), quantized = path("int8.model")
        _ = try runCLI(["import", "torch", "\(directory)/gru_1layer.safetensors", "--config", "\(directory)/gru_1layer.json", "-o", model])
        XCTAssertEqual(try runCLI(["quantize", model, "--int8", "-o", quantized]).status, 0)
        try assertFails(["quantize", quantized, "--int8", "-o", path("again.model")],
                        mentioning: [quantized, "already int8"], leavesNo: path("again.model"))
        try assertFails(["quantize", path("missing.model"), "--int8", "-o", path("out.model")],
                        mentioning: ["missing.model"], leavesNo: path("out.model"))
        try assertFails(["quantize", model, "-o", path("out.model")], mentioning: ["--int8"], leavesNo: path("out.model"))
        let unknown = try runCLI(["quantize", model, "--int4", "-o", path("out.model")])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.hasPrefix("recurrent quantize: error: Unknown option '--int4'"), unknown.stderr)
    }
}
