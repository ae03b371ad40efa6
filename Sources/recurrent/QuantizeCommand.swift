import ArgumentParser
import Foundation
import Recurrent

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Store a model's recurrent weights as int8 for faster inference.",
        discussion: """
            W_ih and W_hh of every recurrent layer become int8 by rows (each row's largest magnitude \
            maps to 127), the activations staying float, as in PyTorch's dynamic quantization. `run`, \
            the task verbs and streaming then read the int8 weights. A quantized model is for \
            inference only: train, and quantize again, from the float model.
            """
    )

    @Argument(help: "The float model file.")
    var model: String

    @Flag(help: "Int8 weights with a float scale per row.")
    var int8 = false

    @Option(name: .shortAndLong, help: "Where to write the quantized model.")
    var output: String

    func run() throws {
        try reportingErrors {
            guard int8 else { throw RecurrentError.invalidArgument("choose the quantization: --int8") }
            let model = try Model(contentsOf: self.model)
            let recurrent = model.layer.recurrentLayers
            guard !recurrent.isEmpty else {
                throw RecurrentError.invalidArgument("\(self.model): the model has no recurrent layer to quantize")
            }
            guard !model.layer.isQuantized else {
                throw RecurrentError.invalidArgument("\(self.model): its recurrent weights are already int8; quantize the float model")
            }
            for layer in recurrent { layer.quantize(.int8) }
            try model.save(to: output)
            let matrices = model.layer.namedQuantizedMatrices
            let bytes = matrices.values.reduce(0) { $0 + $1.values.count }
            print("wrote \(output): \(matrices.count) recurrent weight matrices as int8 (\(bytes) values)")
        }
    }
}
