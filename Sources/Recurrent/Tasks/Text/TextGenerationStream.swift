/// Text generation one token at a time: each `next()` samples one token and returns the text it
/// adds, so that a caller (a server) can interleave generations with other work and stop one
/// whose reader went away. The pieces are those `LanguageModel.generate` emits, in order.
public struct TextGenerationStream {
    let model: LanguageModel
    let sampling: SamplingOptions
    var state: RecurrentLayer.State
    var logits: [Float]
    var rng: SplitMix64
    var shown: String
    var pendingBytes: [UInt8] = []
    /// Tokens still to sample.
    public private(set) var remaining: Int
    var finished = false

    public init(_ model: LanguageModel, prompt: String = "", length: Int, sampling: SamplingOptions = SamplingOptions(),
                seed: UInt64 = 0) throws {
        try sampling.validate()
        guard length >= 0 else { throw RecurrentError.invalidArgument("the length must not be negative, got \(length)") }
        self.model = model
        self.sampling = sampling
        (state, logits) = model.read(try model.encode(prompt))
        rng = SplitMix64(seed: seed)
        shown = prompt
        remaining = length
    }

    /// The text the next token adds (empty while bytes wait to form a character), or nil when
    /// the length is reached and every pending byte was shown.
    public mutating func next() -> String? {
        guard remaining > 0 else {
            guard !finished else { return nil }
            finished = true
            return pendingBytes.isEmpty ? nil : String(decoding: pendingBytes, as: UTF8.self)
        }
        let id = sampling.sample(logits: logits, excluding: [model.vocabulary.unknownID], using: &rng)
        let piece = model.piece(for: model.vocabulary.token(id), after: shown, pendingBytes: &pendingBytes)
        shown += piece
        remaining -= 1
        if remaining > 0 { (state, logits) = model.step(id, state: state) }
        return piece
    }
}
