/// The kind of recurrent cell.
public enum CellKind: String, Codable, Sendable, CaseIterable {
    /// Elman: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu.
    case rnn
    /// LSTM, gates i|f|g|o as PyTorch orders them.
    case lstm
    /// GRU, gates r|z|n as PyTorch orders them.
    case gru
}

/// What a recurrent layer stack returns when used as a `Layer` (for instance in `Sequential`).
public enum RecurrentOutput: String, Codable, Sendable {
    /// y [B, T, D*H]: the top layer's output at every step.
    case sequence
    /// [B, D*H]: the top layer's final state (each sequence's own last step, both directions).
    case lastState
}

/// PyTorch's constructor arguments for nn.RNN / nn.LSTM / nn.GRU (always batch-first), plus the
/// variants PyTorch lacks.
public struct RecurrentConfiguration: Codable, Equatable, Sendable {
    public var cell: CellKind
    public var inputSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var bidirectional: Bool
    /// "tanh" or "relu", for `.rnn`.
    public var nonlinearity: Nonlinearity
    /// Dropout on the outputs of every layer but the last, in training.
    public var dropout: Float
    public var bias: Bool
    /// GRU only: apply the reset gate after the recurrent product (PyTorch, the default) or
    /// before it (Keras `reset_after=False`, ONNX `linear_before_reset=0`).
    public var gruResetAfter: Bool
    public var output: RecurrentOutput

    public enum Nonlinearity: String, Codable, Sendable { case tanh, relu }

    public init(
        cell: CellKind, inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bidirectional: Bool = false,
        nonlinearity: Nonlinearity = .tanh, dropout: Float = 0, bias: Bool = true,
        gruResetAfter: Bool = true, output: RecurrentOutput = .sequence
    ) {
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bidirectional = bidirectional
        self.nonlinearity = nonlinearity
        self.dropout = dropout
        self.bias = bias
        self.gruResetAfter = gruResetAfter
        self.output = output
    }

    public var directions: Int { bidirectional ? 2 : 1 }
    /// Rows of the fused gate matrices per hidden unit: 1 (rnn), 4 (lstm), 3 (gru).
    public var gateCount: Int {
        switch cell {
        case .rnn: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }
}
