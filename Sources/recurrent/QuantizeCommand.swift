import ArgumentParser
import Foundation
import Recurrent

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Store a model's recurrent weights as int8 or bfloat16 for faster inference.",
        discussion: """
            W_ih and W_hh of every recurrent layer become int8 by rows (--int8: each row's largest \
            magnitude maps to 127) or bfloat16 (--bf16: each value rounded to the nearest float with \
            8 bits of mantissa), the activations staying float, as in PyTorch's dynamic quantization. \
            `run`, the task verbs and streaming then read the stored weights: a quarter (int8) or half \
            (bfloat16) of float's bytes. A quantized model is for inference only: train, and quantize \
            again, from the float model.
            """
    )

    @Argument(help: "The float model file.")
    var model: String

    @Flag(help: "Int8 weights with a float scale per row.")
    var int8 = false

    @Flag(help: "bfloat16 weights (float's top 16 bits, rounded to nearest).")
    var bf16 = false

    @Option(name: .shortAndLong, help: "Where to write the quantized model.")
    var output: String

    func run() throws {
        try reportingErrors {
            if int8 && bf16 { throw RecurrentError.invalidArgument("choose one quantization: --int8 or --bf16, not both") }
            guard int8 || bf16 else { throw RecurrentError.invalidArgument("choose the quantization: --int8 or --bf16") }
            let kind: WeightQuantization = int8 ? .int8 : .bf16
            let model = try Model(contentsOf: self.model)
            let recurrent = model.layer.recurrentLayers
            guard !recurrent.isEmpty else {
                throw RecurrentError.invalidArgument("\(self.model): the model has no recurrent layer to quantize")
            }
            if let stored = model.layer.quantization {
                throw RecurrentError.invalidArgument("\(self.model): its recurrent weights are already \(stored.rawValue); quantize the float model")
            }
            for layer in recurrent { layer.quantize(kind) }
            try model.save(to: output)
            switch kind {
            case .int8:
                let matrices = model.layer.namedQuantizedMatrices
                let bytes = matrices.values.reduce(0) { $0 + $1.values.count }
                print("wrote \(output): \(matrices.count) recurrent weight matrices as int8 (\(bytes) values)")
            case .bf16:
                let names = model.layer.namedBFloat16Parameters, tensors = model.layer.namedTensors
                let values = names.reduce(0) { $0 + (tensors[$1]?.count ?? 0) }
                print("wrote \(output): \(names.count) recurrent weight matrices as bfloat16 (\(values) values)")
            }
        }
    }
}
