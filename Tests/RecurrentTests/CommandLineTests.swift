import Foundation
import XCTest
@testable import Recurrent

/// The built `recurrent` binary, as a user runs it.
final class CommandLineTests: ScratchDirectoryTestCase {
    func testImportTorchThenRunReproducesPyTorchForEveryFixture() throws {
        for name in RecurrentParityTests.fixtureNames {
            let fixture = try TorchFixture(name: name)
            let directory = TorchFixture.directory.path
            let model = path("\(name).model")
            let imported = try runCLI(["import", "torch", "\(directory)/\(name).safetensors", "--config", "\(directory)/\(name).json", "-o", model])
            XCTAssertEqual(imported.status, 0, "\(name): \(imported.stderr)")

            var inputs = SafeTensors(tensors: ["x": try fixture.tensor("x"), "h0": try fixture.tensor("h0")])
            if fixture.isLSTM { inputs.tensors["c0"] = try fixture.tensor("c0") }
            if let lengths = fixture.lengths { inputs.integerTensors["lengths"] = IntegerTensor(lengths) }
            try inputs.write(to: path("\(name).in.safetensors"))

            let ran = try runCLI(["run", model, "--input", path("\(name).in.safetensors"), "-o", path("\(name).out.safetensors")])
            XCTAssertEqual(ran.status, 0, "\(name): \(ran.stderr)")
            let outputs = try SafeTensors.read(from: path("\(name).out.safetensors"))
            let expectedNames = fixture.isLSTM ? ["c_n", "h_n", "y"] : ["h_n", "y"]
            XCTAssertEqual(outputs.tensors.keys.sorted(), expectedNames, name)
            for key in expectedNames {
                assertClose(outputs.tensors[key], try fixture.tensor(key), tolerance: 1e-5, "\(name) \(key) through the CLI")
            }
        }
    }

    func testInfoDescribesTheModel() throws {
        let directory = TorchFixture.directory.path
        let model = path("gru.model")
        _ = try runCLI(["import", "torch", "\(directory)/gru_bidirectional_2layer.safetensors",
                        "--config", "\(directory)/gru_bidirectional_2layer.json", "-o", model])
        let info = try runCLI(["info", model])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("GRU(3 -> 4, 2 layers, bidirectional"), info.stdout)
        // 2 directions x (layer 0: 12*3 + 12*4 + 24; layer 1: 12*8 + 12*4 + 24)
        let parameterCount = 2 * (36 + 48 + 24) + 2 * (96 + 48 + 24)
        XCTAssertTrue(info.stdout.contains("parameters: \(parameterCount)"), info.stdout)
        XCTAssertTrue(info.stdout.contains("weight_ih_l1_reverse [12, 8]"), info.stdout)
    }

    func testDemoBeatsTheNaiveForecast() throws {
        let demo = try runCLI(["demo", "--epochs", "30"])
        XCTAssertEqual(demo.status, 0, demo.stderr)
        func rmse(after label: String) -> Double? {
            guard let line = demo.stdout.split(separator: "\n").first(where: { $0.contains(label) && $0.contains("RMSE") }),
                  let range = line.range(of: "RMSE") else { return nil }
            return Double(line[range.upperBound...].split(separator: " ").first ?? "")
        }
        let model = try XCTUnwrap(rmse(after: "LSTM"), demo.stdout)
        let naive = try XCTUnwrap(rmse(after: "naive"), demo.stdout)
        XCTAssertLessThan(model, naive, demo.stdout)
        XCTAssertTrue(demo.stdout.contains("Next 5 years: 2009:"), demo.stdout)
        XCTAssertTrue(demo.stderr.contains("epoch 1/30"), "progress lines go to standard error")
    }

    // MARK: - Bad input: one line naming the file and the problem, exit 1, no output left behind

    func testBadImportInputs() throws {
        let directory = TorchFixture.directory.path
        let weights = "\(directory)/lstm_1layer.safetensors", config = "\(directory)/lstm_1layer.json"
        let output = path("out.model")
        try assertFails(["import", "torch", path("missing.safetensors"), "--config", config, "-o", output],
                        mentioning: ["missing.safetensors", "No such file"], leavesNo: output)
        try assertFails(["import", "torch", weights, "--config", path("missing.json"), "-o", output],
                        mentioning: ["missing.json"], leavesNo: output)

        let badConfigs: [(String, String)] = [
            (#"{"cell": "transformer", "input_size": 3, "hidden_size": 5}"#, "\"cell\" is \"transformer\""),
            (#"{"cell": "lstm", "hidden_size": 5}"#, "\"input_size\" is missing"),
            (#"{"cell": "lstm", "input_size": "three", "hidden_size": 5}"#, "\"input_size\" must be a whole number"),
            (#"{"cell": "lstm", "input_size": 3, "hidden_size": 5, "bidirectional": 1}"#, "\"bidirectional\" must be true or false"),
            (#"{"cell": "lstm", "input_size": 0, "hidden_size": 5}"#, "input_size is 0"),
            (#"[1, 2]"#, "JSON object"),
            (#"{"cell": "lstm", "#, "not valid JSON"),
        ]
        for (index, (text, fragment)) in badConfigs.enumerated() {
            let configPath = path("config\(index).json")
            try text.write(toFile: configPath, atomically: true, encoding: .utf8)
            try assertFails(["import", "torch", weights, "--config", configPath, "-o", output],
                            mentioning: ["config\(index).json", fragment], leavesNo: output)
        }

        // The weights do not fit the configuration: a hidden size of 6 instead of 5.
        let wrongSize = path("wrong-size.json")
        try #"{"cell": "lstm", "input_size": 3, "hidden_size": 6}"#.write(toFile: wrongSize, atomically: true, encoding: .utf8)
        try assertFails(["import", "torch", weights, "--config", wrongSize, "-o", output],
                        mentioning: ["lstm_1layer.safetensors", "weight_ih_l0", "[20, 3]", "[24, 3]"], leavesNo: output)
        // Two layers configured, one in the file: a missing tensor.
        let twoLayers = path("two-layers.json")
        try #"{"cell": "lstm", "input_size": 3, "hidden_size": 5, "num_layers": 2}"#.write(toFile: twoLayers, atomically: true, encoding: .utf8)
        try assertFails(["import", "torch", weights, "--config", twoLayers, "-o", output],
                        mentioning: ["\"weight_ih_l1\" is missing"], leavesNo: output)
        // A GRU's weights read as an LSTM: wrong shapes. A bidirectional file read as one direction: an unknown tensor.
        let oneDirection = path("one-direction.json")
        try #"{"cell": "lstm", "input_size": 3, "hidden_size": 4}"#.write(toFile: oneDirection, atomically: true, encoding: .utf8)
        try assertFails(["import", "torch", "\(directory)/lstm_bidirectional.safetensors", "--config", oneDirection, "-o", output],
                        mentioning: ["unexpected tensor \"bias_hh_l0_reverse\""], leavesNo: output)

        // A truncated and a corrupted weights file.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: weights))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: path("truncated.safetensors")))
        try assertFails(["import", "torch", path("truncated.safetensors"), "--config", config, "-o", output],
                        mentioning: ["truncated.safetensors"], leavesNo: output)
        var corrupted = bytes
        corrupted.replaceSubrange(8..<20, with: Data("garbage!!!!!".utf8))
        try corrupted.write(to: URL(fileURLWithPath: path("corrupted.safetensors")))
        try assertFails(["import", "torch", path("corrupted.safetensors"), "--config", config, "-o", output],
                        mentioning: ["corrupted.safetensors"], leavesNo: output)

        // An output path that cannot be written.
        try assertFails(["import", "torch", weights, "--config", config, "-o", path("no-such-directory/out.model")],
                        mentioning: ["no-such-directory/out.model"], leavesNo: path("no-such-directory/out.model"))
    }

    func testBadRunInputs() throws {
        let directory = TorchFixture.directory.path
        let model = path("lstm.model")
        let imported = try runCLI(["import", "torch", "\(directory)/lstm_1layer.safetensors", "--config", "\(directory)/lstm_1layer.json", "-o", model])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let output = path("out.safetensors")
        func inputFile(_ name: String, _ file: SafeTensors) throws -> String {
            try file.write(to: path(name))
            return path(name)
        }
        let x = Tensor(zeros: [2, 4, 3])
        let cases: [(SafeTensors, [String])] = [
            (SafeTensors(tensors: ["h0": Tensor(zeros: [1, 2, 5])]), ["\"x\"", "missing"]),
            (SafeTensors(tensors: ["x": Tensor(zeros: [2, 4, 7])]), ["x is [2, 4, 7]", "expected [batch, seq, 3]"]),
            (SafeTensors(tensors: ["x": x, "h1": x]), ["unknown tensor \"h1\""]),
            (SafeTensors(tensors: ["x": x, "h0": Tensor(zeros: [1, 3, 5])]), ["h0 is [1, 3, 5]"]),
            (SafeTensors(tensors: ["x": x], integerTensors: ["lengths": IntegerTensor([4, 9])]), ["lengths[1] = 9"]),
            (SafeTensors(tensors: ["x": x], integerTensors: ["lengths": IntegerTensor([4])]), ["lengths has 1"]),
            (SafeTensors(tensors: ["x": x, "lengths": Tensor(shape: [2], scalars: [4, 4])]), ["\"lengths\" must be int64"]),
            (SafeTensors(integerTensors: ["x": IntegerTensor(shape: [1, 1, 3], values: [1, 2, 3])]), ["\"x\" must be float32"]),
            (SafeTensors(tensors: ["x": Tensor(shape: [1, 1, 3], scalars: [1, .nan, 3])]), ["\"x\" holds nan"]),
        ]
        for (index, (file, fragments)) in cases.enumerated() {
            let input = try inputFile("in\(index).safetensors", file)
            try assertFails(["run", model, "--input", input, "-o", output], mentioning: ["in\(index).safetensors"] + fragments, leavesNo: output)
        }
        let good = try inputFile("good.safetensors", SafeTensors(tensors: ["x": x]))
        try assertFails(["run", path("missing.model"), "--input", good, "-o", output], mentioning: ["missing.model"], leavesNo: output)
        try assertFails(["run", "\(directory)/lstm_1layer.safetensors", "--input", good, "-o", output],
                        mentioning: ["lstm_1layer.safetensors", "not a Recurrent model file"], leavesNo: output)
        try assertFails(["run", model, "--input", path("missing.safetensors"), "-o", output],
                        mentioning: ["missing.safetensors", "No such file"], leavesNo: output)
        try assertFails(["run", model, "--input", good, "-o", path("no-such-directory/out.safetensors")],
                        mentioning: ["no-such-directory/out.safetensors"], leavesNo: path("no-such-directory/out.safetensors"))
        try assertFails(["info", path("missing.model")], mentioning: ["missing.model"])
    }
}

extension XCTestCase {
    /// Bad input: one line naming the file and the problem, exit 1, no output left behind.
    func assertFails(_ arguments: [String], mentioning fragments: [String], leavesNo output: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try runCLI(arguments)
        XCTAssertNotEqual(result.status, 0, "\(arguments) should fail", file: file, line: line)
        let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(message.hasPrefix("recurrent: error:") || message.hasPrefix("Error:"), message, file: file, line: line)
        XCTAssertEqual(message.split(separator: "\n").count, 1, "one line: \(message)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(message.contains(fragment), "\"\(fragment)\" not in: \(message)", file: file, line: line)
        }
        XCTAssertFalse(message.contains("Fatal error"), message, file: file, line: line)
        if let output {
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "\(output) was left behind", file: file, line: line)
        }
    }
}

// MARK: - Running the binary

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// The directory of the built products: the test bundle sits beside the executables.
var productsDirectory: URL {
    Bundle.main.bundleURL
}

func runCLI(_ arguments: [String], binary: String = "recurrent", input: String? = nil) throws -> CommandResult {
    try runProgram(productsDirectory.appendingPathComponent(binary).path, arguments, input: input)
}
