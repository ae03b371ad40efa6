import Foundation

/// Reading PyTorch's description of a recurrent layer: its constructor arguments and the
/// parameter names of its state dict.
public enum TorchImport {
    /// PyTorch's constructor arguments as JSON keys; others are ignored.
    struct Arguments: Decodable {
        var cell: String?
        var input_size: Int?
        var hidden_size: Int?
        var num_layers: Int?
        var bidirectional: Bool?
        var nonlinearity: String?
        var bias: Bool?
    }

    /// Reads `{"cell": "lstm", "input_size": 3, "hidden_size": 5, "num_layers": 1,
    /// "bidirectional": false, "nonlinearity": "tanh", "bias": true}`.
    public static func configuration(fromJSONFile path: String) throws -> RecurrentConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecurrentError.io(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: path, reason: reason) }
        let arguments: Arguments
        do {
            arguments = try JSONDecoder().decode(Arguments.self, from: data)
        } catch DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw fail(key.isEmpty ? "must hold a JSON object of constructor arguments" : "\"\(key)\" must be \(type == Bool.self ? "true or false" : type == Int.self ? "a whole number" : "a string")")
        } catch {
            throw fail("is not valid JSON")
        }
        guard let cellName = arguments.cell else { throw fail("\"cell\" is missing: expected \"rnn\", \"lstm\" or \"gru\"") }
        guard let cell = CellKind(rawValue: cellName.lowercased()) else {
            throw fail("\"cell\" is \"\(cellName)\": expected \"rnn\", \"lstm\" or \"gru\"")
        }
        guard let inputSize = arguments.input_size else { throw fail("\"input_size\" is missing") }
        guard let hiddenSize = arguments.hidden_size else { throw fail("\"hidden_size\" is missing") }
        let nonlinearityName = arguments.nonlinearity ?? "tanh"
        guard let nonlinearity = RecurrentConfiguration.Nonlinearity(rawValue: nonlinearityName) else {
            throw fail("\"nonlinearity\" is \"\(nonlinearityName)\": expected \"tanh\" or \"relu\"")
        }
        let configuration = RecurrentConfiguration(
            cell: cell, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: arguments.num_layers ?? 1,
            bidirectional: arguments.bidirectional ?? false, nonlinearity: nonlinearity, bias: arguments.bias ?? true)
        do {
            try configuration.validate()
        } catch let error as RecurrentError {
            throw fail(error.description)
        }
        return configuration
    }

    /// Splits a state dict into the tensors named like recurrent parameters
    /// (`weight_ih_l0`, `bias_hh_l1_reverse`, ...) and the names of the others.
    public static func recurrentParameters(in tensors: [String: Tensor]) -> (parameters: [String: Tensor], ignored: [String]) {
        var parameters: [String: Tensor] = [:], ignored: [String] = []
        for (name, tensor) in tensors {
            if isRecurrentParameterName(name) { parameters[name] = tensor } else { ignored.append(name) }
        }
        return (parameters, ignored.sorted())
    }

    static func isRecurrentParameterName(_ name: String) -> Bool {
        var rest = Substring(name)
        guard let kind = ["weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"].first(where: { rest.hasPrefix($0) }) else { return false }
        rest = rest.dropFirst(kind.count)
        if rest.hasSuffix("_reverse") { rest = rest.dropLast("_reverse".count) }
        return !rest.isEmpty && rest.allSatisfy(\.isNumber)
    }
}
