import Foundation
import XCTest
@testable import Recurrent

/// `recurrent export onnx` and `recurrent import onnx`, run as a user runs them; bad input gives
/// one line naming the file and what is wrong, exit code 1, and no model written.
final class ONNXCommandTests: ScratchDirectoryTestCase {
    func fixture(_ name: String) -> String { ONNXImportTests.directory.appendingPathComponent(name + ".onnx").path }

    func fixtureProto(_ name: String) throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: fixture(name))))
    }

    func write(_ proto: Onnx_ModelProto, _ name: String) throws -> String {
        let path = self.path(name)
        try proto.serializedData().write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs `recurrent import onnx FILE -o MODEL`, expecting failure with `message` in one line.
    func assertImportRefused(_ file: String, _ message: String, line: UInt = #line) throws {
        let output = path("refused.model")
        let result = try runCLI(["import", "onnx", file, "-o", output])
        XCTAssertEqual(result.status, 1, result.stderr, line: line)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("recurrent: error: \(file): "), result.stderr, line: line)
        XCTAssertTrue(result.stderr.contains(message), "expected \"\(message)\" in: \(result.stderr)", line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), line: line)
    }

    func testImportWritesAModelThatRuns() throws {
        let output = path("imported.model")
        let result = try runCLI(["import", "onnx", fixture("gru_final_state_gemm_o17"), "-o", output])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "wrote \(output): Sequential, 354 parameters\n")
        let model = try Model(contentsOf: output)
        XCTAssertEqual(model.layer.spec.outline()[1], "  0: GRU(3 -> 5, 2 layers, returns the last state)")
    }

    func testBadFilesAreRefusedInOneLine() throws {
        try assertImportRefused(try write("not a model at all\n", to: "text.onnx"), "not an ONNX model")
        let whole = try Data(contentsOf: URL(fileURLWithPath: fixture("lstm_o14")))
        let truncated = path("truncated.onnx")
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        try assertImportRefused(truncated, "its protobuf does not decode")
        try assertImportRefused(path("missing.onnx"), "cannot read: No such file or directory")
        let folder = path("folder.onnx")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try assertImportRefused(folder, "cannot read: Is a directory")

        var proto = try fixtureProto("lstm_o14")
        proto.opsetImport[0].version = 18
        try assertImportRefused(try write(proto, "opset18.onnx"), "opset 18 is not supported (14 to 17")
        proto.opsetImport[0].version = 11
        try assertImportRefused(try write(proto, "opset11.onnx"), "opset 11 is not supported")
    }

    func testUnsupportedNodesAndAttributesAreNamed() throws {
        var relu = try fixtureProto("gru_every_step_matmul_add_o17")
        var node = Onnx_NodeProto()
        node.name = "/act/Relu"
        node.opType = "Relu"
        node.input = [relu.graph.output[0].name]
        node.output = ["activated"]
        relu.graph.node.append(node)
        relu.graph.output[0].name = "activated"
        try assertImportRefused(try write(relu, "relu.onnx"), "node \"/act/Relu\" (Relu): operator Relu is not supported")

        var layout = try fixtureProto("lstm_o14")
        let lstm = try XCTUnwrap(layout.graph.node.firstIndex { $0.opType == "LSTM" })
        layout.graph.node[lstm].attribute.append(.int("layout", 1))
        try assertImportRefused(try write(layout, "layout.onnx"),
                                "(LSTM): attribute layout = 1 (batch-first inside the operator) is not supported, and ONNX Runtime refuses it too")

        var clip = try fixtureProto("lstm_o14")
        clip.graph.node[lstm].attribute.append(.float("clip", 3))
        try assertImportRefused(try write(clip, "clip.onnx"), "(LSTM): attribute clip is not supported")

        var activations = try fixtureProto("rnn_tanh_bidirectional_o17")
        let rnn = try XCTUnwrap(activations.graph.node.firstIndex { $0.opType == "RNN" })
        activations.graph.node[rnn].attribute.removeAll { $0.name == "activations" }
        activations.graph.node[rnn].attribute.append(.strings("activations", ["Tanh", "Sigmoid"]))
        try assertImportRefused(try write(activations, "activations.onnx"), "(RNN): activations [\"tanh\", \"sigmoid\"] are not supported")
    }

    func testShapesThatDoNotMatchTheWeightsAreNamed() throws {
        var hidden = try fixtureProto("lstm_o14")
        let lstm = try XCTUnwrap(hidden.graph.node.firstIndex { $0.opType == "LSTM" })
        let index = try XCTUnwrap(hidden.graph.node[lstm].attribute.firstIndex { $0.name == "hidden_size" })
        hidden.graph.node[lstm].attribute[index].i = 6
        try assertImportRefused(try write(hidden, "hidden.onnx"), "W \"")
        try assertImportRefused(try write(hidden, "hidden.onnx"), "expected [1, 24, input size] for hidden_size 6")

        var head = try fixtureProto("lstm_last_step_gemm_o14")
        let gemm = try XCTUnwrap(head.graph.node.first { $0.opType == "Gemm" })
        let weight = try XCTUnwrap(head.graph.initializer.firstIndex { $0.name == gemm.input[1] })
        head.graph.initializer[weight] = Onnx_TensorProto(Tensor(zeros: [4, 7]), name: gemm.input[1])
        try assertImportRefused(try write(head, "head.onnx"), "takes 7 features, the input has 5")

        var short = try fixtureProto("lstm_o14")
        let w = try XCTUnwrap(short.graph.node[lstm].input[1] as String?)
        let tensor = try XCTUnwrap(short.graph.initializer.firstIndex { $0.name == w })
        short.graph.initializer[tensor].rawData = short.graph.initializer[tensor].rawData.prefix(40)
        try assertImportRefused(try write(short, "short.onnx"), "has 40 bytes of data, expected")
    }

    func testExportWritesAndChecksInONNXRuntime() throws {
        let layer = randomized(GRU(inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, resetAfter: false, returnSequences: true), seed: 1)
        let model = path("gru.model")
        try Model(layer).save(to: model)
        let output = path("gru.onnx")
        var arguments = ["export", "onnx", model, "-o", output, "--opset", "15", "--batch-first"]
        if onnxRuntimeAvailable { arguments += ["--check", "--python", onnxPython] }
        let result = try runCLI(arguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "wrote \(output): opset 15, inputs x float [batch, sequence, 2], sequence_lens int32 [batch], "
            + "initial_h float [4, batch, 3]; outputs y float [batch, sequence, 6], Y_h float [4, batch, 3]")
        if onnxRuntimeAvailable {
            XCTAssertTrue(lines.last?.contains("against Recurrent on random inputs: largest difference") ?? false, result.stdout)
        }
        let imported = try ONNXImport.model(contentsOf: output)
        XCTAssertEqual(imported.layer.spec, layer.spec)
    }

    /// A runtime whose outputs are off by 1e-3 (a wrapper around the real Python that shifts
    /// them) fails the check: exit 1, one line naming the output.
    func testCheckFailsBeyondTheTolerance() throws {
        try skipUnlessONNXRuntime()
        let wrapper = try write("""
            #!/usr/bin/env bash
            "\(onnxPython)" "$@" || exit $?
            if [ "$#" -ge 5 ]; then
              "\(onnxPython)" -c "import sys; from safetensors.numpy import load_file, save_file; t = load_file(sys.argv[1]); \
            save_file({k: v + (1e-3 if k == 'y' else 0) for k, v in t.items()}, sys.argv[1])" "$5"
            fi
            """, to: "shifted-python")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
        let model = path("rnn.model")
        try Model(randomized(RNN(inputSize: 2, hiddenSize: 3, returnSequences: true), seed: 3)).save(to: model)
        let result = try runCLI(["export", "onnx", model, "-o", path("rnn.onnx"), "--check", "--python", wrapper])
        XCTAssertEqual(result.status, 1, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("largest difference 0.001 (output y"), result.stdout)
        XCTAssertTrue(result.stderr.hasPrefix("recurrent: error: \(path("rnn.onnx")): ONNX Runtime's output \"y\" differs from Recurrent's by 0.00"),
                      result.stderr)
    }

    func testExportRefusesBadOptionsAndWritesNothing() throws {
        let model = path("lstm.model")
        try Model(LSTM(inputSize: 2, hiddenSize: 3)).save(to: model)
        let output = path("lstm.onnx")
        let opset = try runCLI(["export", "onnx", model, "-o", output, "--opset", "18"])
        XCTAssertNotEqual(opset.status, 0)
        XCTAssertTrue(opset.stderr.contains("--opset 18 is not supported; choose 14 to 17"), opset.stderr)
        let missing = try runCLI(["export", "onnx", path("none.model"), "-o", output])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }
}
