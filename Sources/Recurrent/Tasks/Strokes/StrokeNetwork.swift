/// The sizes of a stroke network. Stored in model files as its `LayerSpec`.
public struct StrokeNetworkArchitecture: Codable, Equatable, Sendable {
    /// C: the characters it can be asked for (0: unconditional).
    public var characterCount: Int
    public var embeddingSize: Int
    public var cell: CellKind
    public var hiddenSize: Int
    public var numLayers: Int
    public var dropout: Float
    /// M: the Gaussians of the mixture density output.
    public var componentCount: Int
    /// The recurrent layers start from tanh(W e + b) of the character's embedding e (as
    /// sketch-rnn's decoder starts from its latent vector) rather than from zeros. Files written
    /// before it existed lack it and read as false.
    public var initialStateFromCharacter: Bool

    public init(characterCount: Int, embeddingSize: Int = 32, cell: CellKind = .lstm, hiddenSize: Int = 256, numLayers: Int = 1,
                dropout: Float = 0, componentCount: Int = 20, initialStateFromCharacter: Bool = true) {
        self.characterCount = characterCount
        self.embeddingSize = embeddingSize
        self.cell = cell
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.dropout = dropout
        self.componentCount = componentCount
        self.initialStateFromCharacter = initialStateFromCharacter
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(characterCount: try values.decode(Int.self, forKey: .characterCount),
                  embeddingSize: try values.decode(Int.self, forKey: .embeddingSize),
                  cell: try values.decode(CellKind.self, forKey: .cell),
                  hiddenSize: try values.decode(Int.self, forKey: .hiddenSize),
                  numLayers: try values.decode(Int.self, forKey: .numLayers),
                  dropout: try values.decode(Float.self, forKey: .dropout),
                  componentCount: try values.decode(Int.self, forKey: .componentCount),
                  initialStateFromCharacter: try values.decodeIfPresent(Bool.self, forKey: .initialStateFromCharacter) ?? false)
    }

    /// Whether the network has layers from the embedding to the initial state.
    var startsFromCharacter: Bool { characterCount > 0 && initialStateFromCharacter }

    public var head: MixtureDensityHead { MixtureDensityHead(componentCount: componentCount, penStates: .stroke5) }

    public var recurrentConfiguration: RecurrentConfiguration {
        RecurrentConfiguration(cell: cell, inputSize: 5 + (characterCount > 0 ? embeddingSize : 0), hiddenSize: hiddenSize,
                               numLayers: numLayers, dropout: dropout, output: .sequence)
    }

    /// Sizes come from files and from users, so they are checked before anything is built.
    public func validate() throws {
        guard (0...(1 << 22)).contains(characterCount), (1...(1 << 16)).contains(embeddingSize) else {
            throw RecurrentError.invalidArgument("stroke network: \(characterCount) characters and embedding size \(embeddingSize) are out of range")
        }
        try head.validate()
        try recurrentConfiguration.validate()
    }
}

/// Stroke-5 steps [B, T, 5] and each drawing's character -> Embedding [B, E], joined to every
/// step as the recurrent layer's sequence input (its weights multiplied once per drawing) -> recurrent layers -> Dropout -> Dense [B, T, 6M + 3]: the
/// mixture density head's raw outputs for the next step. With `initialStateFromCharacter`, the
/// recurrent layers start from h0 = tanh(W_h e + b_h) (and c0 = tanh(W_c e + b_c)) per layer, so
/// the first offset, which decides where the pen starts, depends on the character through the
/// state as well as the input.
///
/// As a `Layer`, its input is [B, T, 6]: the five stroke values, then the character's index.
public final class StrokeNetwork: Layer {
    public let architecture: StrokeNetworkArchitecture
    public let characters: Embedding?
    /// Per layer: embedding [B, E] -> h0 [B, H] (before tanh); empty without
    /// `initialStateFromCharacter`.
    public let initialHidden: [Dense]
    /// Per layer: embedding -> c0 (LSTM only).
    public let initialCell: [Dense]
    public let recurrent: RecurrentLayer
    let dropout: Dropout
    public let output: Dense

    public init(_ architecture: StrokeNetworkArchitecture, seed: UInt64 = 0) {
        self.architecture = architecture
        characters = architecture.characterCount > 0
            ? Embedding(vocabularySize: architecture.characterCount, embeddingSize: architecture.embeddingSize, seed: seed) : nil
        let layers = architecture.startsFromCharacter ? architecture.numLayers : 0
        let (e, h) = (architecture.embeddingSize, architecture.hiddenSize)
        initialHidden = (0..<layers).map { Dense(inputSize: e, outputSize: h, seed: seed &+ 10 &+ UInt64($0)) }
        initialCell = architecture.cell == .lstm ? (0..<layers).map { Dense(inputSize: e, outputSize: h, seed: seed &+ 100 &+ UInt64($0)) } : []
        recurrent = RecurrentLayer(architecture.recurrentConfiguration, seed: seed &+ 1)
        dropout = Dropout(probability: architecture.dropout, seed: seed &+ 2)
        output = Dense(inputSize: architecture.hiddenSize, outputSize: architecture.head.outputSize, seed: seed &+ 3)
    }

    /// [B, T, 6] (stroke-5 values, then the character index) -> [B, T, 6M + 3].
    public func callAsFunction(_ input: Variable) -> Variable {
        let (b, t) = (input.shape[0], input.shape[1])
        let values = input.value.scalars
        let steps = Tensor(shape: [b, t, 5], scalars: (0..<(b * t)).flatMap { values[($0 * 6)..<($0 * 6 + 5)] })
        let characterIDs = (0..<b).map { Int(values[$0 * t * 6 + 5]) }
        return run(steps, characters: characterIDs, state: nil).output
    }

    /// Steps [B, T, 5] of drawings of `characters` (one index each), from `state` -> the raw
    /// outputs [B, T, 6M + 3] and the state after the last step. A nil `state` starts the
    /// drawings: from the characters' initial state, or zeros.
    /// With `lengths`, each drawing stops at its length (outputs past it are not used).
    public func run(_ steps: Tensor, characters ids: [Int], state: RecurrentLayer.State?, lengths: [Int]? = nil) -> (output: Variable, state: RecurrentLayer.State) {
        var state = state, embedded: Variable?
        if let characters {
            embedded = characters(Variable(Tensor(shape: [ids.count, 1], scalars: ids.map(Float.init)))).reshaped([ids.count, architecture.embeddingSize])
            if state == nil { state = initialState(characters: ids) }
        }
        let result = recurrent.forward(Variable(steps), sequenceInput: embedded, initialState: state, lengths: lengths)
        return (output(dropout(result.output)), result.state)
    }

    /// The state a drawing of each character starts from ([L, B, H] each), or nil (zeros) when
    /// the network has no layers for it.
    public func initialState(characters ids: [Int]) -> RecurrentLayer.State? {
        guard let characters, !initialHidden.isEmpty else { return nil }
        let embedded = characters(Variable(Tensor(shape: [ids.count, 1], scalars: ids.map(Float.init))))
            .reshaped([ids.count, architecture.embeddingSize])
        func start(_ layers: [Dense]) -> Variable? { layers.isEmpty ? nil : Variable.stack(layers.map { $0(embedded).tanh() }) }
        return start(initialHidden).map { RecurrentLayer.State(hidden: $0, cell: start(initialCell)) }
    }

    public var namedParameters: [(name: String, parameter: Variable)] {
        var named: [(name: String, parameter: Variable)] = characters.map { [("character.weight", $0.weight)] } ?? []
        for (layer, dense) in initialHidden.enumerated() { named += dense.namedParameters.map { ("initial.hidden_l\(layer).\($0.name)", $0.parameter) } }
        for (layer, dense) in initialCell.enumerated() { named += dense.namedParameters.map { ("initial.cell_l\(layer).\($0.name)", $0.parameter) } }
        named += recurrent.namedParameters.map { ("rnn." + $0.name, $0.parameter) }
        named += output.namedParameters.map { ("output." + $0.name, $0.parameter) }
        return named
    }

    public var spec: LayerSpec { .strokes(architecture) }
}
