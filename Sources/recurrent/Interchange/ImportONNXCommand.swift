import ArgumentParser
import Foundation
import Recurrent

struct ImportONNXCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "Build a Recurrent model from an ONNX file.",
        discussion: """
            Reads graphs of ONNX RNN/LSTM/GRU nodes as torch.onnx.export writes them (opsets 14 to 17; stacked, \
            bidirectional, with or without sequence_lens, under an optional embedding Gather, with Gemm or \
            MatMul+Add heads), and files written by `recurrent export onnx` (whole, with their task). Any other \
            node is refused by name.
            """
    )

    @Argument(help: "The ONNX file.")
    var file: String

    @Option(name: .shortAndLong, help: "Where to write the model.")
    var output: String

    func run() throws {
        try reportingErrors {
            let model = try ONNXImport.model(contentsOf: file)
            try model.save(to: output)
            let outline = model.layer.spec.outline().first ?? model.layer.spec.kindName
            print("wrote \(output): \(outline), \(model.layer.parameterCount) parameters")
        }
    }
}
