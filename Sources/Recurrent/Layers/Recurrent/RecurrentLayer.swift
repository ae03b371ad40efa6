/// A stack of recurrent layers (Elman, LSTM or GRU), optionally bidirectional, with PyTorch's
/// semantics, parameter names and layouts: `weight_ih_l{k}[_reverse]` [G*H, I_k],
/// `weight_hh_l{k}` [G*H, H], `bias_ih_l{k}` and `bias_hh_l{k}` [G*H].
///
/// Input x is batch-first [B, T, I]. `run` returns y [B, T, D*H] (the top layer's output at every
/// step, zero past each sequence's length), h_n [L*D, B, H] and for LSTM c_n [L*D, B, H].
/// Used as a `Layer`, it returns y or the final state of the top layer (`configuration.output`).
public class RecurrentLayer: Layer {
    public let configuration: RecurrentConfiguration
    /// [layer][direction]
    let directions: [[DirectionParameters]]
    let interLayerDropout: [Dropout]

    struct DirectionParameters {
        let inputWeight: Variable    // W_ih [G*H, I_k]
        let hiddenWeight: Variable   // W_hh [G*H, H]
        let inputBias: Variable?     // b_ih [G*H]
        let hiddenBias: Variable?    // b_hh [G*H]
        /// W_ih and W_hh packed for inference, while they stay unchanged.
        let packedForInference = PackedWeightCache()
        /// Their int8 form, when the layer is quantized for inference.
        let quantized = QuantizedWeightSlot()
    }

    /// PyTorch's initialization: every weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)].
    public init(_ configuration: RecurrentConfiguration, seed: UInt64 = 0) {
        self.configuration = configuration
        var rng = SplitMix64(seed: seed)
        let c = configuration, width = c.gateCount * c.hiddenSize
        let bound = 1 / Float(c.hiddenSize).squareRoot()
        func parameter(_ shape: [Int]) -> Variable {
            Variable(Tensor.uniform(shape: shape, low: -bound, high: bound, using: &rng), requiresGrad: true)
        }
        directions = (0..<c.numLayers).map { layer in
            let inputSize = layer == 0 ? c.inputSize : c.hiddenSize * c.directions
            return (0..<c.directions).map { _ in
                DirectionParameters(inputWeight: parameter([width, inputSize]), hiddenWeight: parameter([width, c.hiddenSize]),
                                    inputBias: c.bias ? parameter([width]) : nil, hiddenBias: c.bias ? parameter([width]) : nil)
            }
        }
        interLayerDropout = (0..<max(0, c.numLayers - 1)).map {
            Dropout(probability: c.dropout, seed: seed &+ 1000 &+ UInt64($0))
        }
    }

    public var namedParameters: [(name: String, parameter: Variable)] {
        var named: [(name: String, parameter: Variable)] = []
        for (layer, pair) in directions.enumerated() {
            for (direction, p) in pair.enumerated() {
                let suffix = "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                named.append(("weight_ih" + suffix, p.inputWeight))
                named.append(("weight_hh" + suffix, p.hiddenWeight))
                if let bias = p.inputBias { named.append(("bias_ih" + suffix, bias)) }
                if let bias = p.hiddenBias { named.append(("bias_hh" + suffix, bias)) }
            }
        }
        return named
    }

    public var spec: LayerSpec { .recurrent(configuration) }

    /// The recurrent state of the whole stack: [L*D, B, H] each.
    public struct State {
        public var hidden: Variable
        public var cell: Variable?
        public init(hidden: Variable, cell: Variable? = nil) {
            self.hidden = hidden
            self.cell = cell
        }
        /// The same state cut off from the graph, for truncated backpropagation through time.
        public func detached() -> State { State(hidden: hidden.detached(), cell: cell?.detached()) }
    }

    public struct Result {
        /// y [B, T, D*H]
        public var output: Variable
        public var state: State
    }

    public func callAsFunction(_ input: Variable) -> Variable {
        let result = forward(input, initialState: nil, lengths: nil)
        switch configuration.output {
        case .sequence: return result.output
        case .lastState: return lastState(result.state)
        }
    }

    /// The top layer's final state, both directions side by side: [B, D*H].
    public func lastState(_ state: State) -> Variable {
        let top = (configuration.numLayers - 1) * configuration.directions
        return Variable.concatenateLastAxis((0..<configuration.directions).map { state.hidden.select(top + $0) })
    }

    /// Runs the stack after checking shapes and lengths; errors name the tensor at fault.
    /// `sequenceInput` [B, E]: inputs that are the same at every step of a sequence (a
    /// condition: a character, a speaker, a series' features), the last E of the first layer's
    /// inputs. The result is that of x with s appended to every step, but W_ih's columns for s
    /// are multiplied once per sequence instead of at every step.
    public func run(_ input: Variable, sequenceInput: Variable? = nil, initialState: State? = nil, lengths: [Int]? = nil) throws -> Result {
        try validate(input: input.shape, sequenceInput: sequenceInput?.shape, initialState: initialState, lengths: lengths)
        return forward(input, sequenceInput: sequenceInput, initialState: initialState, lengths: lengths)
    }

    func validate(input: [Int], sequenceInput: [Int]? = nil, initialState: State?, lengths: [Int]?) throws {
        let c = configuration
        if let sequenceInput {
            guard input.count == 3, sequenceInput.count == 2, sequenceInput[0] == input[0], sequenceInput[1] > 0,
                  input[2] + sequenceInput[1] == c.inputSize else {
                throw RecurrentError.shapeMismatch("x is \(input) and the sequence input \(sequenceInput), expected [batch, seq, I] and [batch, E] with I + E = \(c.inputSize)")
            }
        } else {
            guard input.count == 3, input[2] == c.inputSize else {
                throw RecurrentError.shapeMismatch("x is \(input), expected [batch, seq, \(c.inputSize)]")
            }
        }
        let stateShape = [c.numLayers * c.directions, input[0], c.hiddenSize]
        if let state = initialState {
            guard state.hidden.shape == stateShape else {
                throw RecurrentError.shapeMismatch("h0 is \(state.hidden.shape), expected \(stateShape)")
            }
            if let cell = state.cell, cell.shape != stateShape {
                throw RecurrentError.shapeMismatch("c0 is \(cell.shape), expected \(stateShape)")
            }
            if state.cell != nil && c.cell != .lstm {
                throw RecurrentError.invalidArgument("c0 given, but a \(c.cell.rawValue) layer has no cell state")
            }
        }
        if let lengths {
            guard lengths.count == input[0] else {
                throw RecurrentError.shapeMismatch("lengths has \(lengths.count) values, expected one per sequence (\(input[0]))")
            }
            if let (index, bad) = lengths.enumerated().first(where: { $0.element < 1 || $0.element > input[1] }) {
                throw RecurrentError.invalidArgument("lengths[\(index)] = \(bad) is out of range 1...\(input[1])")
            }
        }
    }

    func forward(_ input: Variable, sequenceInput: Variable? = nil, initialState: State?, lengths: [Int]?) -> Result {
        let c = configuration
        let (batch, time) = (input.shape[0], input.shape[1])
        let lengths = lengths ?? Array(repeating: time, count: batch)
        var layerInput = input, sequenceInput = sequenceInput
        if let s = sequenceInput, directions[0].contains(where: { $0.quantized.current != nil }) {
            // The quantized weights are packed whole: the sequence input joins every step.
            layerInput = Variable.concatenateLastAxis([input, s.repeatedSteps(time)])
            sequenceInput = nil
        }
        var finalHidden: [Variable] = [], finalCell: [Variable] = []
        for (layer, pair) in directions.enumerated() {
            if layer > 0 { layerInput = interLayerDropout[layer - 1](layerInput) }
            var outputs: [Variable] = []
            for (direction, parameters) in pair.enumerated() {
                let index = layer * c.directions + direction
                let h0 = initialState?.hidden.select(index) ?? Variable(Tensor(zeros: [batch, c.hiddenSize]))
                let c0 = c.cell == .lstm ? (initialState?.cell?.select(index) ?? Variable(Tensor(zeros: [batch, c.hiddenSize]))) : nil
                let kernel = SequenceKernel(batch: batch, time: time, input: layerInput.shape[2], hidden: c.hiddenSize,
                                            cell: cellKernel, lengths: lengths, reverse: direction == 1)
                let (y, hN, cN) = Self.sequence(kernel, x: layerInput, sequenceInput: layer == 0 ? sequenceInput : nil,
                                                h0: h0, c0: c0, parameters: parameters)
                outputs.append(y)
                finalHidden.append(hN)
                if let cN { finalCell.append(cN) }
            }
            layerInput = Variable.concatenateLastAxis(outputs)
        }
        let state = State(hidden: Variable.stack(finalHidden), cell: finalCell.isEmpty ? nil : Variable.stack(finalCell))
        return Result(output: layerInput, state: state)
    }

    var cellKernel: CellKernel {
        switch configuration.cell {
        case .rnn: return ElmanKernel(relu: configuration.nonlinearity == .relu)
        case .lstm: return LSTMKernel()
        case .gru: return GRUKernel(resetAfter: configuration.gruResetAfter)
        }
    }

    /// One layer in one direction as a single recorded operation with a fused backward.
    /// `sequenceInput` [B, E] takes the last E columns of W_ih (see `run`).
    static func sequence(_ kernel: SequenceKernel, x: Variable, sequenceInput: Variable? = nil, h0: Variable, c0: Variable?,
                         parameters p: DirectionParameters) -> (Variable, Variable, Variable?)
    {
        let width = kernel.gateWidth
        let zeroBias = Tensor(zeros: [width])
        let inputBias = p.inputBias?.value ?? zeroBias
        // With a sequence input, W_ih [G*H, I + E] splits into W_x (the steps') and W_s; the
        // gates' input part W_s s + b_ih is one row per sequence.
        let split = sequenceInput.map { s in SequenceInputWeights(inputWeight: p.inputWeight.value, stepColumns: kernel.input, sequenceInput: s.value, inputBias: inputBias) }
        let weights = [split?.stepWeight ?? p.inputWeight.value, p.hiddenWeight.value, inputBias, p.hiddenBias?.value ?? zeroBias]
        var inputs = [x, h0, p.inputWeight, p.hiddenWeight]
        if let c0 { inputs.append(c0) }
        if let bias = p.inputBias { inputs.append(bias) }
        if let bias = p.hiddenBias { inputs.append(bias) }
        if let sequenceInput { inputs.append(sequenceInput) }
        // Inference keeps nothing for a backward pass.
        let recording = Variable.willRecord(inputs: inputs)
        let packed: PackedRecurrentWeights?
        if recording {
            p.packedForInference.drop()
            packed = nil
        } else {
            packed = p.packedForInference.packed(
                for: kernel, versions: (p.inputWeight.valueVersion, p.hiddenWeight.valueVersion), weights: weights,
                quantized: p.quantized.current)
        }
        let (y, hN, cN, saved) = kernel.forward(x: x.value, h0: h0.value, c0: c0?.value, weights: weights, saving: recording,
                                                packed: packed, sequenceGates: split?.gates)
        guard let saved else { return (Variable(y), Variable(hN), cN.map { Variable($0) }) }
        let xValue = x.value, hasCell = c0 != nil, hasBias = p.inputBias != nil, needsInputGradient = x.requiresGrad
        let outputs = Variable.record([y, hN] + (cN.map { [$0] } ?? []), inputs: inputs) { grads in
            let result = kernel.backward(x: xValue, weights: weights, saved: saved, dY: grads[0], dHN: grads[1],
                                         dCN: grads.count > 2 ? grads[2] : nil, needsInputGradient: needsInputGradient,
                                         sequenceSums: split != nil)
            var inputWeightGradient = result.dWeights[0], sequenceInputGradient: Tensor?
            if let split, let sums = result.dSequenceGates {
                (inputWeightGradient, sequenceInputGradient) = split.gradients(stepWeightGradient: inputWeightGradient, gateSums: sums)
            }
            var inputGrads: [Tensor?] = [result.dX, result.dH0, inputWeightGradient, result.dWeights[1]]
            if hasCell { inputGrads.append(result.dC0) }
            if hasBias { inputGrads += [result.dWeights[2], result.dWeights[3]] }
            if split != nil { inputGrads.append(sequenceInputGradient) }
            return inputGrads
        }
        return (outputs[0], outputs[1], outputs.count > 2 ? outputs[2] : nil)
    }
}

/// `LSTM(inputSize: 1, hiddenSize: 64)`: a long short-term memory stack.
public final class LSTM: RecurrentLayer {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bidirectional: Bool = false, dropout: Float = 0,
                returnSequences: Bool = false, seed: UInt64 = 0) {
        super.init(RecurrentConfiguration(cell: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                          bidirectional: bidirectional, dropout: dropout,
                                          output: returnSequences ? .sequence : .lastState), seed: seed)
    }
}

/// `GRU(inputSize: 8, hiddenSize: 32)`: a gated recurrent unit stack (PyTorch's reset-after form
/// unless `resetAfter: false`).
public final class GRU: RecurrentLayer {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bidirectional: Bool = false, dropout: Float = 0,
                resetAfter: Bool = true, returnSequences: Bool = false, seed: UInt64 = 0) {
        super.init(RecurrentConfiguration(cell: .gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                          bidirectional: bidirectional, dropout: dropout, gruResetAfter: resetAfter,
                                          output: returnSequences ? .sequence : .lastState), seed: seed)
    }
}

/// `RNN(inputSize: 8, hiddenSize: 32)`: an Elman network, h' = act(W_ih x + b_ih + W_hh h + b_hh).
public final class RNN: RecurrentLayer {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bidirectional: Bool = false,
                nonlinearity: RecurrentConfiguration.Nonlinearity = .tanh, dropout: Float = 0,
                returnSequences: Bool = false, seed: UInt64 = 0) {
        super.init(RecurrentConfiguration(cell: .rnn, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                          bidirectional: bidirectional, nonlinearity: nonlinearity, dropout: dropout,
                                          output: returnSequences ? .sequence : .lastState), seed: seed)
    }
}

// MARK: - Streaming

extension RecurrentLayer {
    /// Advances the stack by one time step for streaming: x [B, I] -> the top layer's output
    /// [B, H], and the new state. Nothing is recorded. Pass `nil` to start from zeros.
    /// Bidirectional stacks need the whole sequence and cannot stream.
    public func step(_ x: Tensor, state: State?) throws -> (output: Tensor, state: State) {
        guard !configuration.bidirectional else {
            throw RecurrentError.invalidArgument("a bidirectional layer needs the whole sequence; it cannot run step by step")
        }
        guard x.rank == 2 else { throw RecurrentError.shapeMismatch("x is \(x.shape), expected [batch, \(configuration.inputSize)]") }
        let input = x.reshaped([x.shape[0], 1, x.shape[1]])
        let result = try GradientMode.withoutRecording { try run(Variable(input), initialState: state) }
        return (result.output.value.reshaped([x.shape[0], result.output.shape[2]]), result.state)
    }

    /// A zero state for a batch of `batch` sequences.
    public func zeroState(batch: Int) -> State {
        let shape = [configuration.numLayers * configuration.directions, batch, configuration.hiddenSize]
        return State(hidden: Variable(Tensor(zeros: shape)), cell: configuration.cell == .lstm ? Variable(Tensor(zeros: shape)) : nil)
    }
}

extension RecurrentLayer: InputValidating {
    /// x must be [batch, seq, inputSize].
    public func validate(_ input: Tensor) throws {
        try validate(input: input.shape, initialState: nil, lengths: nil)
    }
}
