import CRecurrentKernels

/// Inverted dropout, PyTorch's `nn.Dropout(p)`: while `LearningPhase.isTraining`, each value is
/// zeroed with probability p and the survivors are scaled by 1/(1-p), so that inference, which
/// passes values through unchanged, sees the same expected activations.
///
/// Masks are drawn row by row (the first axis is the batch), each row from a generator keyed by
/// the layer's seed, the call and the row. Inside a training step (`LearningPhase.batchPosition`
/// set by the Trainer) the call is the step and the number of calls made in it, and the row is
/// the row's place in the global batch: a resumed run and processes that split a batch draw the
/// masks an uninterrupted single process draws. Outside a step, calls are counted from
/// construction: the same seed and the same sequence of calls give the same masks, and
/// `reseed(_:)` restarts the sequence.
public final class Dropout: Layer {
    public let probability: Float
    private var seed: UInt64
    /// Calls outside a training step since construction or `reseed`.
    private var calls: UInt64 = 0
    /// The step the calls in `callsInStep` belong to.
    private var stepOfCalls: Int? = nil
    private var callsInStep: UInt64 = 0

    public init(probability: Float, seed: UInt64 = 0) {
        precondition((0...1).contains(probability), "dropout probability \(probability) must lie in 0...1")
        self.probability = probability
        self.seed = seed
    }

    /// Restarts the mask sequence, as if the layer had just been built with `seed`.
    public func reseed(_ seed: UInt64) {
        self.seed = seed
        calls = 0
        stepOfCalls = nil
        callsInStep = 0
    }

    /// Any shape -> the same shape.
    public func callAsFunction(_ input: Variable) -> Variable {
        guard LearningPhase.isTraining, probability > 0 else { return input }
        // p = 1 drops everything; PyTorch returns zeros rather than dividing by zero.
        let keptScale: Float = probability < 1 ? 1 / (1 - probability) : 0
        let (callKey, firstRow) = nextCall()
        var mask = Tensor(zeros: input.shape)
        let rows = input.shape.first ?? 1, rowSize = input.value.count / max(1, rows)
        let probability = probability
        mask.withUnsafeMutableBufferPointer { values in
            guard let base = values.baseAddress else { return }
            // Each row from SplitMix64(seed: its key), one draw an element, in C (rk_dropout_mask):
            // the rows split over the threads give the same masks.
            let pointer = UncheckedSendable(base)
            Parallel.forEachRange(rows, grain: max(1, Tensor.elementwiseGrain / max(1, rowSize))) { range in
                for row in range {
                    rk_dropout_mask(mixSeeds(callKey, UInt64(truncatingIfNeeded: firstRow + row)), probability, keptScale,
                                    pointer.value + row * rowSize, Int64(rowSize))
                }
            }
        }
        // The mask is a constant: only the input receives a gradient (dy * mask).
        return input * Variable(mask)
    }

    /// The key of this call's masks and the global index of the input's first row.
    private func nextCall() -> (key: UInt64, firstRow: Int) {
        if let position = LearningPhase.batchPosition {
            if stepOfCalls != position.step {
                stepOfCalls = position.step
                callsInStep = 0
            }
            defer { callsInStep += 1 }
            let stepKey = mixSeeds(seed, UInt64(truncatingIfNeeded: position.step))
            return (mixSeeds(stepKey, callsInStep), position.firstRow)
        }
        defer { calls += 1 }
        return (mixSeeds(mixSeeds(seed, 0xD409_0E7), calls), 0)
    }

    public var namedParameters: [(name: String, parameter: Variable)] { [] }

    public var spec: LayerSpec { .dropout(probability: probability) }
}
