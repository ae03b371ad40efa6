import Foundation

/// Comparing what another runtime computed with Recurrent's reference outputs.
public enum ONNXComparison {
    /// The tolerance of `recurrent export onnx --check` and of the tests.
    public static let tolerance: Float = 1e-5

    public struct Difference: Sendable {
        /// The output whose difference is largest.
        public var output: String
        /// max |a - b| / max(|b|, 1) over its values: relative above 1, absolute below.
        public var relative: Float
        /// max |a - b| over its values.
        public var absolute: Float
    }

    /// The output that differs most, or an error naming an output that is missing or of
    /// another shape.
    public static func largestDifference(expected: [String: Tensor], actual: [String: Tensor]) throws -> Difference {
        var worst = Difference(output: "", relative: 0, absolute: 0)
        for name in expected.keys.sorted() {
            guard let reference = expected[name], let other = actual[name] else {
                throw RecurrentError.invalidArgument("output \"\(name)\" is missing from the runtime's outputs")
            }
            guard other.shape == reference.shape else {
                throw RecurrentError.shapeMismatch("output \"\(name)\" is \(other.shape), expected \(reference.shape)")
            }
            var relative: Float = 0, absolute: Float = 0
            for (a, b) in zip(other.scalars, reference.scalars) {
                // -inf = -inf (log-probabilities of padding) is no difference; NaN always is.
                let difference = a == b ? 0 : abs(a - b)
                let scaled = difference.isNaN ? Float.infinity : difference / max(abs(b), 1)
                relative = max(relative, scaled)
                absolute = max(absolute, difference.isNaN ? .infinity : difference)
            }
            if relative > worst.relative || worst.output.isEmpty {
                worst = Difference(output: name, relative: relative, absolute: absolute)
            }
        }
        return worst
    }

    /// A Python program that checks an ONNX file with `onnx.checker` (full check), runs it in
    /// ONNX Runtime on the inputs of a safetensors file and writes the outputs (float32) to
    /// another. Arguments: MODEL.onnx INPUTS OUTPUTS [THREADS] [stream]. With `stream`, the
    /// sequence input (time-major) is fed one step per call, each call's Y_h/Y_c becoming the
    /// next call's initial_h/initial_c, and outputs with a time axis are joined along it.
    public static let runtimeScript = #"""
        import sys
        import numpy as np
        import onnx
        import onnxruntime as ort
        from safetensors.numpy import load_file, save_file

        model, inputs, outputs = sys.argv[1:4]
        threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        stream = len(sys.argv) > 5 and sys.argv[5] == "stream"
        onnx.checker.check_model(onnx.load(model), full_check=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        types = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}
        given = load_file(inputs)
        feeds = {i.name: given[i.name].astype(types[i.type]) for i in session.get_inputs()}
        names = [o.name for o in session.get_outputs()]
        if not stream:
            results = dict(zip(names, session.run(None, feeds)))
        else:
            sequence = "tokens" if "tokens" in feeds else "x"
            if "sequence_lens" in feeds:
                feeds["sequence_lens"] = np.ones_like(feeds["sequence_lens"])
            steps, collected = feeds[sequence].shape[0], {}
            for t in range(steps):
                step_feeds = dict(feeds)
                step_feeds[sequence] = feeds[sequence][t:t + 1]
                for name, value in zip(names, session.run(None, step_feeds)):
                    if name.startswith("Y_"):
                        feeds["initial_" + name[2:]] = value
                        collected[name] = [value]
                    else:
                        collected.setdefault(name, []).append(value)
            results = {name: np.concatenate(parts, axis=0) for name, parts in collected.items()}
        save_file({name: np.ascontiguousarray(value, dtype=np.float32) for name, value in results.items()}, outputs)
        print(ort.__version__)
        """#

    /// Runs `runtimeScript` with `python` on `model` and `inputs`; returns ONNX Runtime's outputs
    /// and its version. Throws with Python's last line of errors when it fails, and
    /// `RecurrentError.io` naming the program when it cannot start.
    public static func runInONNXRuntime(model: String, inputs: [String: ONNXFeed], python: String = "python3",
                                        threads: Int = 1, stream: Bool = false) throws -> (outputs: [String: Tensor], version: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputPath = directory.appendingPathComponent("inputs.safetensors").path
        let outputPath = directory.appendingPathComponent("outputs.safetensors").path
        var floats: [String: Tensor] = [:], integers: [String: IntegerTensor] = [:]
        for (name, feed) in inputs {
            switch feed {
            case .float(let tensor): floats[name] = tensor
            case .int32(let tensor), .int64(let tensor): integers[name] = tensor
            }
        }
        try SafeTensors(tensors: floats, integerTensors: integers).write(to: inputPath)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", runtimeScript, model, inputPath, outputPath, String(threads)] + (stream ? ["stream"] : [])
        let standardOutput = Pipe(), standardError = Pipe()
        process.standardOutput = standardOutput
        process.standardError = standardError
        do {
            try process.run()
        } catch {
            throw RecurrentError.io(path: python, reason: "cannot run: \(error.localizedDescription)")
        }
        let errorData = standardError.fileHandleForReading.readDataToEndOfFile()
        let outputData = standardOutput.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let lastLine = String(decoding: errorData, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "no message"
            throw RecurrentError.invalidArgument("ONNX Runtime (\(python)) failed on \(model): \(lastLine)")
        }
        let version = String(decoding: outputData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (try SafeTensors.read(from: outputPath).tensors, version)
    }

    /// Whether `python` can import onnx, onnxruntime, numpy and safetensors.
    public static func pythonHasONNXRuntime(_ python: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import onnx, onnxruntime, numpy, safetensors.numpy"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
