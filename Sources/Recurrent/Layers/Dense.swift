/// A fully connected layer, PyTorch's `nn.Linear`: y = x W^T + b over the last axis, so it
/// works on [N, I] and on whole sequences [B, T, I] alike. No activation: compose one.
public final class Dense: Layer {
    /// [O, I], PyTorch's layout: one row per output unit.
    public let weight: Variable
    /// [O], or nil when built with `bias: false`.
    public let bias: Variable?

    public var inputSize: Int { weight.shape[1] }
    public var outputSize: Int { weight.shape[0] }

    /// Initialized as `nn.Linear` does: weight and bias uniform in (-1/sqrt(I), 1/sqrt(I))
    /// (kaiming_uniform with a = sqrt(5)), drawn in that order from a generator seeded with `seed`.
    public init(inputSize: Int, outputSize: Int, bias: Bool = true, seed: UInt64 = 0) {
        precondition(inputSize >= 0 && outputSize >= 0, "Dense sizes must not be negative: \(inputSize) -> \(outputSize)")
        var rng = SplitMix64(seed: seed)
        let bound: Float = inputSize > 0 ? 1 / Float(inputSize).squareRoot() : 0
        weight = Variable(.uniform(shape: [outputSize, inputSize], low: -bound, high: bound, using: &rng),
                          requiresGrad: true)
        self.bias = bias
            ? Variable(.uniform(shape: [outputSize], low: -bound, high: bound, using: &rng), requiresGrad: true)
            : nil
    }

    /// A layer around an existing weight [O, I], which it shares rather than copies: weight
    /// tying (an output layer reusing an `Embedding`'s table [V, E] as its [V, E] weight). The
    /// bias, if any, is fresh: uniform in (-1/sqrt(I), 1/sqrt(I)) from `seed`.
    public init(sharing weight: Variable, bias: Bool = true, seed: UInt64 = 0) {
        precondition(weight.shape.count == 2, "Dense(sharing:) needs a weight [O, I], got \(weight.shape)")
        var rng = SplitMix64(seed: seed)
        let bound: Float = weight.shape[1] > 0 ? 1 / Float(weight.shape[1]).squareRoot() : 0
        self.weight = weight
        self.bias = bias
            ? Variable(.uniform(shape: [weight.shape[0]], low: -bound, high: bound, using: &rng), requiresGrad: true)
            : nil
    }

    /// [..., I] -> [..., O]. The last axis must be `inputSize` (see `validate`).
    public func callAsFunction(_ input: Variable) -> Variable {
        input.linear(weight: weight, bias: bias)
    }

    public var namedParameters: [(name: String, parameter: Variable)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public var spec: LayerSpec { .dense(inputSize: inputSize, outputSize: outputSize, bias: bias != nil) }
}

extension Dense: InputValidating {
    /// Throws unless `input` has at least one axis and its last one is `inputSize`.
    public func validate(_ input: Tensor) throws {
        guard input.rank >= 1, input.shape[input.rank - 1] == inputSize else {
            throw RecurrentError.shapeMismatch("Dense expects inputs [..., \(inputSize)], got \(input.shape)")
        }
    }
}
