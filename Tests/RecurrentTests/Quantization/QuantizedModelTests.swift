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
    /// bfloat16 moves each weight by at most 2^-9 of itself, less than int8's bound.
    func testQuantizedLayerStaysWithinBoundOfTheFloatLayer() throws {
        for kind in WeightQuantization.allCases {
            for cell in [CellKind.lstm, .gru, .rnn] {
                let layer = makeLayer(cell, seed: 3)
                let x = input(seed: 4)
                let float = try GradientMode.withoutRecording { try layer.run(Variable(x)) }.output.value
                layer.quantize(kind)
                XCTAssertEqual(layer.quantization, kind)
                let quantized = try GradientMode.withoutRecording { try layer.run(Variable(x)) }.output.value
                let worst = zip(float.scalars, quantized.scalars).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, 0.01, "\(kind) \(cell): largest difference from the float layer")
                XCTAssertGreaterThan(worst, 0, "\(kind) \(cell): the quantized weights were not used")
            }
        }
    }

    /// A bfloat16 layer's fused step gives what the Swift steps give on its rounded weights
    /// (within float rounding): the packed halves are those values.
    func testBFloat16LayerComputesWithItsRoundedWeights() throws {
        for cell in [CellKind.lstm, .gru, .rnn] {
            let layer = makeLayer(cell, seed: 5)
            layer.quantize(.bf16)
            for p in layer.parameters where p.value.rank == 2 {
                XCTAssertTrue(p.value.scalars.allSatisfy { $0.bitPattern & 0xFFFF == 0 }, "\(cell): weights are bfloat16 values")
            }
            let x = input(seed: 6)
            let fused = try GradientMode.withoutRecording { try layer.run(Variable(x)) }.output.value
            let float = makeLayer(cell, seed: 5)
            try float.loadParameters(layer.namedTensors, from: "test")
            let plain = try GradientMode.withoutRecording { try float.run(Variable(x)) }.output.value
            assertClose(fused, plain, tolerance: 1e-5, "\(cell): bfloat16 step against the float step on the same values")
        }
    }

    func testStreamingStepByStepEqualsTheWholeSequence() throws {
        for (cell, kind) in [(CellKind.lstm, WeightQuantization.int8), (.gru, .int8), (.rnn, .int8), (.lstm, .bf16), (.gru, .bf16), (.rnn, .bf16)] {
            let layer = makeLayer(cell, seed: 8)
            layer.quantize(kind)
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
                XCTAssertEqual(output, expected, "\(kind) \(cell) step \(t)")
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

    /// bfloat16 weights are BF16 tensors (half the bytes), read back as the same values and
    /// results; the file stays version 1, since any reader takes BF16 as floats.
    func testModelFileKeepsTheBFloat16WeightsAndTheirResults() throws {
        let model = Model(Sequential([makeLayer(.gru, seed: 1), Dense(inputSize: 96, outputSize: 5, seed: 2)]))
        try model.save(to: path("float.model"))
        for layer in model.layer.recurrentLayers { layer.quantize(.bf16) }
        let x = Variable(input(seed: 3))
        let before = GradientMode.withoutRecording { model.layer(x) }.value
        try model.save(to: path("bf16.model"))
        let file = try SafeTensors.read(from: path("bf16.model"))
        XCTAssertEqual(file.metadata["format_version"], "1")
        XCTAssertEqual(file.bfloat16Names.sorted(), ["0.weight_hh_l0", "0.weight_hh_l1", "0.weight_ih_l0", "0.weight_ih_l1"])
        let header = try String(decoding: FileContents.read(path("bf16.model")).prefix(4096), as: UTF8.self)
        XCTAssertTrue(header.contains(#""0.weight_hh_l0":{"dtype":"BF16","shape":[288,96]"#), header)
        let floatBytes = try FileContents.read(path("float.model")).count, halfBytes = try FileContents.read(path("bf16.model")).count
        let weightValues = file.bfloat16Names.reduce(0) { $0 + (file.tensors[$1]?.count ?? 0) }
        XCTAssertEqual(floatBytes - halfBytes, 2 * weightValues, accuracy: 64, "two bytes fewer per recurrent weight")
        let loaded = try Model(contentsOf: path("bf16.model"))
        XCTAssertEqual(loaded.layer.recurrentLayers.first?.quantization, .bf16)
        XCTAssertEqual(loaded.layer.namedTensors, model.layer.namedTensors)
        XCTAssertEqual(GradientMode.withoutRecording { loaded.layer(x) }.value, before)
        // Only recurrent weights may be stored so, both of a direction together.
        var stray = file
        stray.bfloat16Names = ["1.weight"]
        try stray.write(to: path("stray.model"))
        XCTAssertThrowsError(try Model(contentsOf: path("stray.model"))) { error in
            XCTAssertTrue("\(error)".contains(#"tensor "1.weight" is bfloat16, but only the weights of recurrent layers can be"#), "\(error)")
        }
        var half = file
        half.bfloat16Names = ["0.weight_ih_l1"]
        try half.write(to: path("half.model"))
        XCTAssertThrowsError(try Model(contentsOf: path("half.model"))) { error in
            XCTAssertTrue("\(error)".contains(#"tensor "0.weight_hh_l1" is not bfloat16, but its direction's other weight is"#), "\(error)")
        }
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
        for kind in WeightQuantization.allCases {
            let layer = Sequential([makeLayer(.lstm, seed: 1)])
            layer.recurrentLayers[0].quantize(kind)
            XCTAssertThrowsError(try layer.fit(inputs: input(seed: 2), targets: Tensor(zeros: [3, 40, 96]), loss: Loss.meanSquaredError,
                                               optimizer: try Adam(layer.parameters, learningRate: 1e-3))) { error in
                XCTAssertTrue("\(error)".contains("\(kind.rawValue), for inference only"), "\(error)")
            }
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
        // bfloat16: the same, closer.
        let half = path("bf16.model")
        let halving = try runCLI(["quantize", model, "--bf16", "-o", half])
        XCTAssertEqual(halving.status, 0, halving.stderr)
        XCTAssertTrue(halving.stdout.contains("4 recurrent weight matrices as bfloat16"), halving.stdout)
        let ranHalf = try runCLI(["run", half, "--input", path("in.safetensors"), "-o", path("out-bf16.safetensors")])
        XCTAssertEqual(ranHalf.status, 0, ranHalf.stderr)
        let halfY = try SafeTensors.read(from: path("out-bf16.safetensors")).tensors["y"]
        let fromLibrary = try GradientMode.withoutRecording {
            try XCTUnwrap(try Model(contentsOf: half).layer.recurrentLayers.first).run(
                Variable(try fixture.tensor("x")), initialState: .init(hidden: Variable(try fixture.tensor("h0")), cell: Variable(try fixture.tensor("c0"))))
        }
        XCTAssertEqual(halfY, fromLibrary.output.value)
        assertClose(halfY, try fixture.tensor("y"), tolerance: 0.005, "bfloat16 y beside PyTorch's float y")
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
        try assertFails(["quantize", model, "-o", path("out.model")], mentioning: ["--int8", "--bf16"], leavesNo: path("out.model"))
        try assertFails(["quantize", model, "--int8", "--bf16", "-o", path("out.model")], mentioning: ["one quantization"], leavesNo: path("out.model"))
        try assertFails(["quantize", quantized, "--bf16", "-o", path("again.model")],
                        mentioning: [quantized, "already int8"], leavesNo: path("again.model"))
        let unknown = try runCLI(["quantize", model, "--int4", "-o", path("out.model")])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.hasPrefix("recurrent quantize: error: Unknown option '--int4'"), unknown.stderr)
    }
}
