import Foundation

extension LayerSpec {
    /// Builds the layer this spec describes, with fresh parameters. Sizes come from files, so
    /// they are checked here rather than trusted.
    public func makeLayer(seed: UInt64 = 0) throws -> any Layer {
        func positive(_ value: Int, _ what: String) throws {
            guard (1...(1 << 24)).contains(value) else {
                throw RecurrentError.invalidArgument("architecture: \(what) is \(value), expected 1...\(1 << 24)")
            }
        }
        switch self {
        case .dense(let inputSize, let outputSize, let bias):
            try positive(inputSize, "dense input size"); try positive(outputSize, "dense output size")
            return Dense(inputSize: inputSize, outputSize: outputSize, bias: bias, seed: seed)
        case .embedding(let vocabularySize, let embeddingSize):
            try positive(vocabularySize, "vocabulary size"); try positive(embeddingSize, "embedding size")
            return Embedding(vocabularySize: vocabularySize, embeddingSize: embeddingSize, seed: seed)
        case .dropout(let probability):
            guard probability >= 0, probability < 1 else {
                throw RecurrentError.invalidArgument("architecture: dropout probability \(probability) is outside [0, 1)")
            }
            return Dropout(probability: probability, seed: seed)
        case .layerNorm(let size, let epsilon):
            try positive(size, "layer norm size")
            return LayerNorm(size: size, epsilon: epsilon)
        case .recurrent(let configuration):
            try configuration.validate()
            return RecurrentLayer(configuration, seed: seed)
        case .languageModel(let architecture):
            try architecture.validate()
            return LanguageModelNetwork(architecture, seed: seed)
        case .seq2seq(let architecture):
            try architecture.validate()
            return Seq2SeqNetwork(architecture, seed: seed)
        case .strokes(let architecture):
            try architecture.validate()
            return StrokeNetwork(architecture, seed: seed)
        case .chat(let architecture):
            try architecture.validate()
            return ChatNetwork(architecture, seed: seed)
        case .sequential(let specs):
            try checkSizesFit()
            return Sequential(try specs.enumerated().map { try $1.makeLayer(seed: seed &+ UInt64($0)) })
        }
    }
}

extension RecurrentConfiguration {
    /// Checks the sizes, as PyTorch's constructor would.
    public func validate() throws {
        for (value, what) in [(inputSize, "input_size"), (hiddenSize, "hidden_size")] where !(1...(1 << 24)).contains(value) {
            throw RecurrentError.invalidArgument("\(what) is \(value), expected a positive size")
        }
        guard (1...64).contains(numLayers) else {
            throw RecurrentError.invalidArgument("num_layers is \(numLayers), expected 1...64")
        }
        guard dropout >= 0, dropout < 1 else {
            throw RecurrentError.invalidArgument("dropout is \(dropout), expected a probability in [0, 1)")
        }
    }
}

extension Layer {
    /// Replaces every parameter with the tensor of the same name. Every parameter must be
    /// present with its exact shape and finite values, and no tensor may be left over: a mismatch
    /// names the tensor.
    public func loadParameters(_ tensors: [String: Tensor], from source: String) throws {
        let named = namedParameters
        let expectedNames = named.map(\.name).joined(separator: ", ")
        for (name, parameter) in named {
            guard let tensor = tensors[name] else {
                throw RecurrentError.invalidFile(path: source, reason: "tensor \"\(name)\" is missing (the model needs \(expectedNames))")
            }
            guard tensor.shape == parameter.value.shape else {
                throw RecurrentError.invalidFile(path: source,
                    reason: "tensor \"\(name)\" has shape \(tensor.shape), expected \(parameter.value.shape)")
            }
            if let bad = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
                throw RecurrentError.invalidFile(path: source, reason: "tensor \"\(name)\" holds \(tensor.scalars[bad]) at flat index \(bad)")
            }
        }
        let known = Set(named.map(\.name))
        if let unknown = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw RecurrentError.invalidFile(path: source, reason: "unexpected tensor \"\(unknown)\" (the model has \(expectedNames))")
        }
        for (name, parameter) in named { parameter.value = tensors[name] ?? parameter.value }
    }

    /// The parameters under their names, for a model file.
    public var namedTensors: [String: Tensor] {
        Dictionary(namedParameters.map { ($0.name, $0.parameter.value) }, uniquingKeysWith: { first, _ in first })
    }
}

/// A model ready to use: the layer (usually a `Sequential`) and the metadata that travels with
/// it (preprocessing, vocabulary, task, training record), saved together in one file.
public final class Model {
    public let layer: any Layer
    public var metadata: [String: String]

    public init(_ layer: any Layer, metadata: [String: String] = [:]) {
        self.layer = layer
        self.metadata = metadata
    }

    /// Loads a model file: rebuilds the architecture and loads every parameter by name.
    public convenience init(contentsOf path: String) throws {
        let file = try ModelFile.read(from: path)
        let layer: any Layer
        do {
            layer = try file.architecture.makeLayer()
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
        var tensors = file.tensors
        for (name, matrix) in file.int8Tensors { tensors[name] = matrix.dequantized }
        try layer.loadParameters(tensors, from: path)
        try layer.installQuantizedWeights(file.int8Tensors, from: path)
        try layer.installBFloat16Weights(file.bfloat16Names, from: path)
        self.init(layer, metadata: file.metadata)
    }

    /// Loads a model file written by one task's `train`, with the task's description stored as
    /// JSON under `specKey`. A model of another task is refused naming the file, what it is, and
    /// the command that makes the right one (`requireTask`).
    static func loadTask<Spec: Decodable>(_ path: String, task: String, specKey: String, as type: Spec.Type,
                                          kind: String? = nil, trainCommand: String? = nil) throws -> (model: Model, spec: Spec) {
        let model = try Model(contentsOf: path)
        try model.requireTask(task, path: path, kind: kind, trainCommand: trainCommand)
        guard let spec = try model.metadata(specKey, as: Spec.self) else {
            throw RecurrentError.invalidFile(path: path, reason: "its \"\(specKey)\" description is missing from the metadata")
        }
        return (model, spec)
    }

    /// Writes the model atomically (a temporary name, then a rename).
    /// Quantized recurrent weights are written as they are (int8 with their scales, bfloat16).
    public func save(to path: String) throws {
        let int8 = layer.namedQuantizedMatrices
        try ModelFile(architecture: layer.spec, tensors: layer.namedTensors.filter { int8[$0.key] == nil }, int8Tensors: int8,
                      metadata: metadata, bfloat16Names: layer.namedBFloat16Parameters).write(to: path)
    }

    /// Metadata decoded from JSON, or nil when absent.
    public func metadata<T: Decodable>(_ key: String, as type: T.Type) throws -> T? {
        guard let text = metadata[key] else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw RecurrentError.invalidArgument("model metadata \"\(key)\" does not decode: \(error)")
        }
    }

    /// Stores `value` as JSON under `key`.
    public func setMetadata<T: Encodable>(_ key: String, _ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        metadata[key] = String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
