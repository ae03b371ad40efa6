import Foundation
import XCTest
@testable import Recurrent

/// One case of Fixtures/torch: a PyTorch layer's configuration, tensors and gradients.
struct TorchFixture {
    let name: String
    let configuration: [String: Any]
    let tensors: [String: Tensor]

    static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/torch")
    }

    init(name: String) throws {
        self.name = name
        let json = try Data(contentsOf: Self.directory.appendingPathComponent(name + ".json"))
        configuration = try JSONSerialization.jsonObject(with: json) as? [String: Any] ?? [:]
        tensors = try readFixtureTensors(Self.directory.appendingPathComponent(name + ".safetensors"))
    }

    var isLSTM: Bool { configuration["cell"] as? String == "lstm" }
    var lengths: [Int]? { configuration["lengths"] as? [Int] }

    func tensor(_ key: String) throws -> Tensor {
        guard let tensor = tensors[key] else { throw RecurrentError.invalidArgument("\(name): no tensor \(key)") }
        return tensor
    }

    func makeLayer() throws -> RecurrentLayer {
        let cell = CellKind(rawValue: configuration["cell"] as? String ?? "") ?? .rnn
        let nonlinearity: RecurrentConfiguration.Nonlinearity = configuration["nonlinearity"] as? String == "relu" ? .relu : .tanh
        let layer = RecurrentLayer(RecurrentConfiguration(
            cell: cell, inputSize: configuration["input_size"] as? Int ?? 0, hiddenSize: configuration["hidden_size"] as? Int ?? 0,
            numLayers: configuration["num_layers"] as? Int ?? 1, bidirectional: configuration["bidirectional"] as? Bool ?? false,
            nonlinearity: nonlinearity))
        for (parameterName, parameter) in layer.namedParameters {
            parameter.value = try tensor(parameterName)
        }
        return layer
    }
}

/// A minimal float32 safetensors reader for the fixtures.
func readFixtureTensors(_ url: URL) throws -> [String: Tensor] {
    let data = try Data(contentsOf: url)
    let headerLength = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + Int(headerLength))) as? [String: Any] ?? [:]
    var tensors: [String: Tensor] = [:]
    for (key, entry) in header where key != "__metadata__" {
        guard let entry = entry as? [String: Any], let shape = entry["shape"] as? [Int],
              let offsets = entry["data_offsets"] as? [Int] else { continue }
        let start = 8 + Int(headerLength) + offsets[0], end = 8 + Int(headerLength) + offsets[1]
        let values = data.subdata(in: start..<end).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        tensors[key] = Tensor(shape: shape, scalars: values)
    }
    return tensors
}
