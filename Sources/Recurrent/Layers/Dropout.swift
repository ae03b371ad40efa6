/// Inverted dropout, PyTorch's `nn.Dropout(p)`: while `LearningPhase.isTraining`, each value is
/// zeroed with probability p and the survivors are scaled by 1/(1-p), so that inference, which
/// passes values through unchanged, sees the same expected activations.
///
/// Masks come from the layer's own generator, seeded at construction: the same seed and the same
/// sequence of calls give the same masks. `reseed(_:)` restarts the sequence.
public final class Dropout: Layer {
    public let probability: Float
    private var generator: SplitMix64

    public init(probability: Float, seed: UInt64 = 0) {
        precondition((0...1).contains(probability), "dropout probability \(probability) must lie in 0...1")
        self.probability = probability
        generator = SplitMix64(seed: seed)
    }

    /// Restarts the mask sequence, as if the layer had just been built with `seed`.
    public func reseed(_ seed: UInt64) { generator = SplitMix64(seed: seed) }

    /// Any shape -> the same shape.
    public func callAsFunction(_ input: Variable) -> Variable {
        guard LearningPhase.isTraining, probability > 0 else { return input }
        // p = 1 drops everything; PyTorch returns zeros rather than dividing by zero.
        let keptScale: Float = probability < 1 ? 1 / (1 - probability) : 0
        var mask = Tensor(zeros: input.shape)
        mask.withUnsafeMutableBufferPointer { values in
            for index in values.indices where generator.nextFloat() >= probability {
                values[index] = keptScale
            }
        }
        // The mask is a constant: only the input receives a gradient (dy * mask).
        return input * Variable(mask)
    }

    public var namedParameters: [(name: String, parameter: Variable)] { [] }

    public var spec: LayerSpec { .dropout(probability: probability) }
}
