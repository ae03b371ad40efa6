import CRecurrentKernels

/// Runs a unidirectional recurrent stack one step at a time, for real-time use: every buffer is
/// allocated once, each step touches only the weights and the state, and nothing is recorded.
///
/// The stream copies the layer's weights when it is made: later training does not reach it.
/// The results are those of `RecurrentLayer.step`, bit for bit (the same kernels).
public final class RecurrentStream {
    public let configuration: RecurrentConfiguration
    public let batch: Int
    let layers: [LayerBuffers]
    /// [B, I] of the current step, copied in by `step`.
    let input: FloatBuffer

    final class LayerBuffers {
        let kernel: SequenceKernel
        let inputWeight: FloatBuffer, hiddenWeight: FloatBuffer, inputBias: FloatBuffer, hiddenBias: FloatBuffer
        /// The weights as the fused step reads them (SequenceKernel.packWeights); nil for a cell
        /// without a fused step.
        private(set) var packed: PackedRecurrentWeights?
        let state: StateBuffers
        let output: FloatBuffer   // [B, H]
        let gateInputs: FloatBuffer?   // [B, G*H] unless the fused step reads x itself
        /// Only for a cell without a fused step.
        let saved: SequenceKernel.Saved?

        init(kernel: SequenceKernel, parameters: RecurrentLayer.DirectionParameters) {
            self.kernel = kernel
            func copy(_ tensor: Tensor?, count: Int) -> FloatBuffer {
                let buffer = FloatBuffer(count: count)
                tensor?.scalars.withUnsafeBufferPointer { source in
                    if let base = source.baseAddress { buffer.pointer.update(from: base, count: min(count, source.count)) }
                }
                return buffer
            }
            let width = kernel.gateWidth
            inputWeight = copy(parameters.inputWeight.value, count: width * kernel.input)
            hiddenWeight = copy(parameters.hiddenWeight.value, count: width * kernel.hidden)
            inputBias = copy(parameters.inputBias?.value, count: width)
            hiddenBias = copy(parameters.hiddenBias?.value, count: width)
            state = StateBuffers(batch: kernel.batch, hidden: kernel.hidden, gateWidth: width, hasCell: kernel.cell.hasCellState)
            output = FloatBuffer(count: kernel.batch * kernel.hidden)
            gateInputs = kernel.fusesInput ? nil : FloatBuffer(count: kernel.batch * width)
            saved = kernel.fusedCell == nil ? kernel.makeSaved() : nil
            packed = nil
            if kernel.fusedCell != nil {
                packed = kernel.packWeights(inputWeight: inputWeight.pointer, hiddenWeight: hiddenWeight.pointer,
                                            quantized: parameters.quantized.current)
            }
        }

        var weights: SequenceKernel.WeightPointers {
            (UnsafePointer(inputWeight.pointer), UnsafePointer(hiddenWeight.pointer),
             UnsafePointer(inputBias.pointer), UnsafePointer(hiddenBias.pointer))
        }

        func step(_ x: UnsafePointer<Float>) {
            kernel.run(x: x, weights: weights, gateInputs: gateInputs?.pointer, saved: saved, state: state,
                       y: output.pointer, packed: packed)
        }
    }

    public init(_ layer: RecurrentLayer, batch: Int = 1) throws {
        let c = layer.configuration
        guard !c.bidirectional else {
            throw RecurrentError.invalidArgument("a bidirectional layer needs the whole sequence; it cannot run step by step")
        }
        guard batch > 0 else { throw RecurrentError.invalidArgument("a stream needs a batch of at least 1, got \(batch)") }
        configuration = c
        self.batch = batch
        input = FloatBuffer(count: batch * c.inputSize)
        layers = layer.directions.enumerated().map { index, pair in
            let kernel = SequenceKernel(batch: batch, time: 1, input: index == 0 ? c.inputSize : c.hiddenSize,
                                        hidden: c.hiddenSize, cell: layer.cellKernel,
                                        lengths: Array(repeating: 1, count: batch), reverse: false)
            return LayerBuffers(kernel: kernel, parameters: pair[0])
        }
    }

    /// Back to the zero state.
    public func reset() {
        for layer in layers {
            layer.state.hidden.zero()
            layer.state.cell?.zero()
        }
    }

    /// Advances every sequence by one step: x [B, I] (row-major) -> the top layer's output [B, H].
    /// The returned pointer stays valid, and is overwritten, until the next step.
    @discardableResult
    public func step(_ x: UnsafePointer<Float>) -> UnsafePointer<Float> {
        var current = UnsafePointer(x)
        for layer in layers {
            layer.step(current)
            current = UnsafePointer(layer.output.pointer)
        }
        return current
    }

    /// `step` on an array of B*I values, returning B*H values.
    public func step(_ x: [Float]) throws -> [Float] {
        guard x.count == batch * configuration.inputSize else {
            throw RecurrentError.shapeMismatch("a step takes \(batch) x \(configuration.inputSize) values, got \(x.count)")
        }
        let output = x.withUnsafeBufferPointer { step($0.baseAddress ?? UnsafePointer(input.pointer)) }
        return Array(UnsafeBufferPointer(start: output, count: batch * configuration.hiddenSize))
    }

    /// The current state, [L, B, H] each.
    public var state: RecurrentLayer.State {
        let shape = [configuration.numLayers, batch, configuration.hiddenSize]
        let hidden = layers.flatMap { Array(UnsafeBufferPointer(start: $0.state.hidden.pointer, count: $0.state.hidden.count)) }
        let cells = layers.compactMap(\.state.cell).flatMap { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) }
        return RecurrentLayer.State(hidden: Variable(Tensor(shape: shape, scalars: hidden)),
                                    cell: configuration.cell == .lstm ? Variable(Tensor(shape: shape, scalars: cells)) : nil)
    }
}
