/// Layers applied one after another, PyTorch's `nn.Sequential`.
///
///     let model = Sequential {
///         Embedding(vocabularySize: 100, embeddingSize: 16, seed: 1)
///         Dropout(probability: 0.1, seed: 2)
///         Dense(inputSize: 16, outputSize: 4, seed: 3)
///     }
///
/// Parameter names are the children's names prefixed with their position, as PyTorch's
/// state dict spells them ("0.weight", "2.bias"), so weights map one-to-one between the two.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public convenience init(@LayerBuilder _ build: () -> [any Layer]) { self.init(build()) }

    public func callAsFunction(_ input: Variable) -> Variable {
        layers.reduce(input) { output, layer in layer(output) }
    }

    /// Each child's parameters under "<index>.<name>". A variable shared by two children (tied
    /// weights) is listed once, under its first name, as `named_parameters()` does, so an
    /// optimizer updates it once per step.
    public var namedParameters: [(name: String, parameter: Variable)] {
        var seen = Set<ObjectIdentifier>()
        var result: [(name: String, parameter: Variable)] = []
        for (index, layer) in layers.enumerated() {
            for (name, parameter) in layer.namedParameters where seen.insert(ObjectIdentifier(parameter)).inserted {
                result.append(("\(index).\(name)", parameter))
            }
        }
        return result
    }

    public var spec: LayerSpec { .sequential(layers.map(\.spec)) }
}

extension Sequential: InputValidating {
    /// Validates the input with the first layer when that layer can check its inputs (an
    /// `Embedding` checks token ids); later layers receive what earlier ones produce.
    public func validate(_ input: Tensor) throws {
        try (layers.first as? any InputValidating)?.validate(input)
    }
}

/// A layer that can check an input from outside before it is run, throwing a `RecurrentError`
/// that names the problem, instead of stopping the process inside `callAsFunction`.
public protocol InputValidating {
    func validate(_ input: Tensor) throws
}

/// Collects the layers written in a `Sequential { ... }` block, including those under `if`,
/// `if`/`else` and `for`.
@resultBuilder
public enum LayerBuilder {
    public static func buildExpression(_ layer: any Layer) -> [any Layer] { [layer] }
    public static func buildExpression(_ layers: [any Layer]) -> [any Layer] { layers }
    public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
    public static func buildEither(first part: [any Layer]) -> [any Layer] { part }
    public static func buildEither(second part: [any Layer]) -> [any Layer] { part }
    public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildLimitedAvailability(_ part: [any Layer]) -> [any Layer] { part }
}
