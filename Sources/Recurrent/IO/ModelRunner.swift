/// One tensor of a model's interface: its name, element type and shape (-1 where any size goes).
public struct TensorSignature: Equatable, Sendable {
    public enum Datatype: String, Sendable {
        case float32 = "FP32", int64 = "INT64"
    }
    public var name: String
    public var datatype: Datatype
    public var shape: [Int]

    public init(name: String, datatype: Datatype, shape: [Int]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
    }
}

/// Runs a model on `recurrent run`'s named tensors held in memory, for servers and other
/// callers: x, and where the model keeps a recurrent state (a recurrent stack, or a language
/// model's stack) h0, c0 and lengths; giving y, and h_n and c_n with that state.
///
/// Shapes: a recurrent stack reads x [B, T, I] and gives y [B, T, D*H]; a language model reads
/// token ids x [B, T] and gives the next token's scores y [B, T, V]; states are [L*D, B, H].
/// Any other model reads x and gives y = model(x), as `recurrent run` does. Every input is
/// checked first: a bad one throws a `RecurrentError` naming the tensor, never stops the process.
///
/// Each batch row is computed on its own (the kernels sum in the same order whatever the batch),
/// so rows of a batch give the bits they give alone; with lengths, padding past a row's length
/// changes nothing of that row.
public final class ModelRunner {
    public let layer: any Layer
    /// The stack whose state h0/c0 and h_n/c_n carry, if any.
    public let recurrent: RecurrentLayer?
    let languageModel: LanguageModelNetwork?
    public let inputSignatures: [TensorSignature]
    public let outputSignatures: [TensorSignature]

    public init(_ layer: any Layer) {
        self.layer = layer
        languageModel = layer as? LanguageModelNetwork
        recurrent = (layer as? RecurrentLayer) ?? languageModel?.recurrent
        var inputs: [TensorSignature] = [], outputs: [TensorSignature] = []
        if let recurrent {
            let c = recurrent.configuration
            let state = [c.numLayers * c.directions, -1, c.hiddenSize]
            if let languageModel {
                inputs.append(TensorSignature(name: "x", datatype: .float32, shape: [-1, -1]))
                outputs.append(TensorSignature(name: "y", datatype: .float32, shape: [-1, -1, languageModel.architecture.vocabularySize]))
            } else {
                inputs.append(TensorSignature(name: "x", datatype: .float32, shape: [-1, -1, c.inputSize]))
                outputs.append(TensorSignature(name: "y", datatype: .float32, shape: [-1, -1, c.directions * c.hiddenSize]))
            }
            inputs.append(TensorSignature(name: "h0", datatype: .float32, shape: state))
            outputs.append(TensorSignature(name: "h_n", datatype: .float32, shape: state))
            if c.cell == .lstm {
                inputs.append(TensorSignature(name: "c0", datatype: .float32, shape: state))
                outputs.append(TensorSignature(name: "c_n", datatype: .float32, shape: state))
            }
            inputs.append(TensorSignature(name: "lengths", datatype: .int64, shape: [-1]))
        } else {
            let (input, output) = Self.probeShapes(layer)
            inputs.append(TensorSignature(name: "x", datatype: .float32, shape: input))
            outputs.append(TensorSignature(name: "y", datatype: .float32, shape: output))
        }
        inputSignatures = inputs
        outputSignatures = outputs
    }

    /// Whether h0, c0 and lengths apply, and sessions can carry a state from call to call.
    public var carriesState: Bool { recurrent != nil }
    /// Whether the state after a chunk continues the sequence (a bidirectional stack needs the
    /// whole sequence at once).
    public var canStream: Bool { recurrent.map { !$0.configuration.bidirectional } ?? false }

    public struct Inputs {
        public var x: Tensor
        public var h0: Tensor?
        public var c0: Tensor?
        public var lengths: [Int]?
        public init(x: Tensor, h0: Tensor? = nil, c0: Tensor? = nil, lengths: [Int]? = nil) {
            self.x = x
            self.h0 = h0
            self.c0 = c0
            self.lengths = lengths
        }
    }

    /// Runs without recording; outputs by name (y, h_n, c_n).
    public func run(_ inputs: Inputs) throws -> [String: Tensor] {
        try run(batch: [inputs])[0]
    }

    /// Checks every input against the model, naming the tensor at fault.
    public func validate(_ inputs: Inputs) throws {
        if let bad = inputs.x.scalars.firstIndex(where: { !$0.isFinite }) {
            throw RecurrentError.invalidArgument("x holds \(inputs.x.scalars[bad]) at flat index \(bad)")
        }
        guard let recurrent else {
            guard inputs.lengths == nil, inputs.h0 == nil, inputs.c0 == nil else {
                throw RecurrentError.invalidArgument("h0, c0 and lengths apply to a recurrent model only; this one is a \(layer.spec.kindName)")
            }
            try checkRank(inputs.x)
            try Self.validateInput(of: layer, inputs.x)
            return
        }
        var stepShape = inputs.x.shape
        if let languageModel {
            guard inputs.x.rank == 2 else { throw RecurrentError.shapeMismatch("x is \(inputs.x.shape), expected token ids [batch, seq]") }
            try languageModel.embedding.validate(inputs.x)
            stepShape.append(languageModel.architecture.embeddingSize)
        }
        let zero = recurrent.zeroState(batch: inputs.x.shape.first ?? 0)
        let state = inputs.h0 == nil && inputs.c0 == nil ? nil
            : RecurrentLayer.State(hidden: inputs.h0.map { Variable($0) } ?? zero.hidden, cell: inputs.c0.map { Variable($0) } ?? zero.cell)
        try recurrent.validate(input: stepShape, initialState: state, lengths: inputs.lengths)
    }

    /// A model of no recurrent state is checked by its first layer, if that layer checks; the
    /// rank must still be the one the model was probed with, so that nothing traps inside.
    private func checkRank(_ x: Tensor) throws {
        let expected = inputSignatures[0].shape
        guard x.rank == expected.count, zip(x.shape, expected).allSatisfy({ $1 < 0 || $0 == $1 }), !x.shape.contains(0) else {
            let shown = expected.map { $0 < 0 ? "-1" : String($0) }.joined(separator: ", ")
            throw RecurrentError.shapeMismatch("x is \(x.shape), expected [\(shown)] (-1: any positive size)")
        }
    }

    /// Checks x with the model's first layer, so that nothing invalid reaches a layer that would
    /// stop the process (an embedding's ids above all).
    static func validateInput(of layer: any Layer, _ x: Tensor) throws {
        switch layer {
        case let seq2seq as Seq2SeqNetwork: try seq2seq.sourceEmbedding.validate(x)
        case let checked as any InputValidating: try checked.validate(x)
        default: throw RecurrentError.invalidArgument("a \(layer.spec.kindName) cannot be run on tensors here")
        }
    }

    /// The shapes of x and y of a model without recurrent state: the first layer tells x's
    /// trailing size; y's sizes that change with the batch or the length read as -1.
    static func probeShapes(_ layer: any Layer) -> (input: [Int], output: [Int]) {
        var first: any Layer = layer
        while let sequential = first as? Sequential, let head = sequential.layers.first { first = head }
        let input: [Int]
        switch first {
        case let recurrent as RecurrentLayer: input = [-1, -1, recurrent.configuration.inputSize]
        case is Embedding: input = [-1, -1]
        case let dense as Dense: input = [-1, dense.inputSize]
        case let norm as LayerNorm: input = [-1, norm.size]
        case is Seq2SeqNetwork: input = [-1, -1]
        default: return ([-1], [-1])
        }
        func outputShape(batch: Int, time: Int) -> [Int] {
            let shape = input.map { $0 < 0 ? 0 : $0 }.enumerated().map { $0.offset == 0 ? batch : ($0.element == 0 ? time : $0.element) }
            return GradientMode.withoutRecording { layer(Variable(Tensor(zeros: shape))) }.shape
        }
        let small = outputShape(batch: 1, time: 1), large = outputShape(batch: 2, time: 3)
        guard small.count == large.count else { return (input, small.map { _ in -1 }) }
        return (input, zip(small, large).map { $0 == $1 ? $0 : -1 })
    }
}
