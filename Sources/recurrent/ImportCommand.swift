import ArgumentParser
import Foundation
import Recurrent

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Build a Recurrent model from another framework's weights.",
        subcommands: [ImportTorchCommand.self, ImportONNXCommand.self]
    )
}

struct ImportTorchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torch",
        abstract: "Import the state dict of a PyTorch nn.RNN, nn.LSTM or nn.GRU (batch_first).",
        discussion: """
            CONFIG.json holds the constructor arguments: "cell" ("rnn", "lstm" or "gru"), "input_size", \
            "hidden_size", "num_layers", "bidirectional", "nonlinearity" (for "rnn"), "bias" (optional); \
            other keys are ignored. Tensors in WEIGHTS whose names are not recurrent parameters \
            (weight_ih_l0, bias_hh_l1_reverse, ...) are ignored with a note; a parameter that is \
            missing, unexpected or of the wrong shape is an error.
            """
    )

    @Argument(help: "The state dict, as a .safetensors file.")
    var weights: String

    @Option(help: "The layer's constructor arguments, as JSON.")
    var config: String

    @Option(name: .shortAndLong, help: "Where to write the model.")
    var output: String

    func run() throws {
        try reportingErrors {
            let configuration = try TorchImport.configuration(fromJSONFile: config)
            let file = try SafeTensors.read(from: weights)
            let layer = RecurrentLayer(configuration)
            let (parameters, ignored) = TorchImport.recurrentParameters(in: file.tensors)
            try layer.loadParameters(parameters, from: weights)
            let model = Model(layer, metadata: ["source": "pytorch state dict \((weights as NSString).lastPathComponent)"])
            try model.save(to: output)
            if !ignored.isEmpty {
                note("ignored \(ignored.count) tensors that are not recurrent parameters: \(ignored.prefix(8).joined(separator: ", "))\(ignored.count > 8 ? ", ..." : "")")
            }
            print("wrote \(output): \(configuration.cell.rawValue), \(layer.parameterCount) parameters")
        }
    }
}
