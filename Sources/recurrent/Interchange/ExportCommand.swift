import ArgumentParser
import Foundation
import Recurrent

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a Recurrent model in another framework's format.",
        subcommands: [ExportONNXCommand.self]
    )
}

struct ExportONNXCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "Write a model as ONNX, for ONNX Runtime and other runtimes.",
        discussion: """
            Recurrent layers become ONNX RNN/LSTM/GRU nodes (layout 0, gates in ONNX's order); their state is \
            explicit: inputs initial_h/initial_c and outputs Y_h/Y_c [layers*directions, batch, hidden], so a \
            runtime without state can stream one step per call. Sequences are [sequence, batch, ...] unless \
            --batch-first. The task's preprocessing (vocabulary, scaler, tokenizer settings) is in the file's \
            metadata as JSON. An encoder-decoder gives NAME.encoder.onnx and NAME.decoder.onnx (one decoder step).
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the ONNX file.")
    var output: String

    @Option(help: "The ONNX opset (14 to 17).")
    var opset: Int = 17

    @Flag(help: "Sequences in and out as [batch, sequence, ...] (transposed at the graph's edges).")
    var batchFirst = false

    @Flag(help: "Run the written graphs in ONNX Runtime (Python's onnxruntime) and in Recurrent on the same random inputs; exit 1 when they differ by more than 1e-5.")
    var check = false

    @Option(help: "The Python with onnx and onnxruntime, for --check.")
    var python = ProcessInfo.processInfo.environment["RECURRENT_PYTHON"] ?? "python3"

    func validate() throws {
        guard ONNXExportOptions.supportedOpsets.contains(opset) else {
            throw ValidationError("--opset \(opset) is not supported; choose 14 to 17")
        }
    }

    func run() throws {
        try reportingErrors {
            let model = try Model(contentsOf: self.model)
            let options = ONNXExportOptions(opset: opset, batchFirst: batchFirst)
            let graphs = try ONNXExport.graphs(model, options: options)
            var written: [(path: String, graph: ONNXGraphFile)] = []
            for graph in graphs {
                let path = graphs.count == 1 ? output : ONNXExport.graphPath(output, role: graph.role)
                try AtomicFile.write(graph.data, to: path)
                written.append((path, graph))
                print("wrote \(path): opset \(opset), inputs \(describe(graph.inputs)); outputs \(describe(graph.outputs))")
            }
            if check { try checkInONNXRuntime(model, written, options: options) }
        }
    }

    func describe(_ signatures: [ONNXTensorSignature]) -> String {
        signatures.map { "\($0.name) \($0.elementType) [\($0.dims.joined(separator: ", "))]" }.joined(separator: ", ")
    }

    func checkInONNXRuntime(_ model: Model, _ written: [(path: String, graph: ONNXGraphFile)], options: ONNXExportOptions) throws {
        guard ONNXComparison.pythonHasONNXRuntime(python) else {
            note("note: \(python) cannot import onnx and onnxruntime (pip install onnx onnxruntime safetensors, or --python PATH); check skipped")
            return
        }
        for (path, graph) in written {
            let inputs = try ONNXExport.sampleInputs(model, role: graph.role, options: options)
            let expected = try ONNXExport.referenceOutputs(model, role: graph.role, inputs: inputs, options: options)
            let (actual, version) = try ONNXComparison.runInONNXRuntime(model: path, inputs: inputs, python: python)
            let difference = try ONNXComparison.largestDifference(expected: expected, actual: actual)
            let summary = String(format: "%@: ONNX Runtime %@ against Recurrent on random inputs: largest difference %.3g (output %@, %.3g absolute)",
                                 path, version, difference.relative, difference.output, difference.absolute)
            print(summary)
            guard difference.relative <= ONNXComparison.tolerance else {
                throw RecurrentError.invalidArgument("\(path): ONNX Runtime's output \"\(difference.output)\" differs from Recurrent's by \(difference.relative), beyond \(ONNXComparison.tolerance)")
            }
        }
    }
}
