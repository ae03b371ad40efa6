import ArgumentParser
import Foundation
import Recurrent

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model on tensors from a .safetensors file.",
        discussion: """
            IN holds x [batch, seq, input] (float32) and optionally h0, c0 [layers*directions, batch, hidden] \
            and lengths (int64 [batch]). OUT receives y (batch-first), and for a recurrent model h_n and, \
            for an LSTM, c_n, with PyTorch's shapes and conventions.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "The input tensors (.safetensors).")
    var input: String

    @Option(name: .shortAndLong, help: "Where to write the outputs (.safetensors).")
    var output: String

    func run() throws {
        try reportingErrors {
            let model = try Model(contentsOf: self.model)
            let inputs = try SafeTensors.read(from: input)
            let outputs = try TensorRunner.run(model.layer, inputs: inputs, source: input)
            try SafeTensors(tensors: outputs).write(to: output)
            let shapes = outputs.keys.sorted().map { "\($0) \(outputs[$0]?.shape ?? [])" }.joined(separator: ", ")
            print("wrote \(output): \(shapes)")
        }
    }
}
