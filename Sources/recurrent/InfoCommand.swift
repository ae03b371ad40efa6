import ArgumentParser
import Foundation
import Recurrent

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print a model's architecture, parameter count and metadata."
    )

    @Argument(help: "The model file.")
    var model: String

    func run() throws {
        try reportingErrors {
            let model = try Model(contentsOf: self.model)
            print("model: \(self.model)")
            print("architecture:")
            for line in model.layer.spec.outline() { print("  " + line) }
            print("parameters: \(model.layer.parameterCount)")
            for (name, parameter) in model.layer.namedParameters {
                print("  \(name) \(parameter.value.shape)")
            }
            if !model.metadata.isEmpty {
                print("metadata:")
                for key in model.metadata.keys.sorted() {
                    let value = model.metadata[key] ?? ""
                    print("  \(key): \(value.count > 300 ? String(value.prefix(300)) + "..." : value)")
                }
            }
        }
    }
}
