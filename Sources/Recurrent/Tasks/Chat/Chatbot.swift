import Foundation

/// What a chat model is made of and how it trains. Stored in the model file.
public struct ChatConfiguration: Codable, Sendable, RecurrentHyperparameters {
    /// Turns before a reply that the model reads (the reply answers the last of them).
    public var contextTurns = 2
    /// The longest turn the model reads, in tokens. A longer context turn keeps its last tokens
    /// (what the reply answers); a longer reply keeps its first, up to its last full stop,
    /// question or exclamation mark within them when there is one.
    public var maxTurnTokens = 40
    /// The vocabulary's size cap, the special tokens included; rarer words read as `<unk>`.
    public var maximumVocabulary: Int? = 8000
    public var lowercase = true
    public var cell: CellKind = .lstm
    /// The decoders' hidden size; each direction of the bidirectional encoders has half of it.
    public var hiddenSize = 256
    public var numLayers = 1
    public var embeddingSize = 128
    public var dropout: Float = 0.2
    public var learningRate = 2e-3
    /// Lower the learning rate along half a cosine over the planned steps (when the options'
    /// schedule is constant).
    public var cosineDecay = true
    /// Train the reply -> context model (MMI-bidi reranking) beside the one that talks.
    public var trainContextModel = true
    /// Train a language model of replies (MMI-antiLM reranking) beside the one that talks.
    public var trainReplyLanguageModel = true
    /// Groups (plays, conversations) held out for the test, and of the rest, for validation.
    public var testFraction = 0.1
    public var validationFraction = 0.1

    public init() {}

    public func validate() throws {
        for (value, name) in [(contextTurns, "number of context turns"), (maxTurnTokens, "longest turn"),
                              (embeddingSize, "embedding size"), (hiddenSize, "hidden size")] where value < 1 {
            throw RecurrentError.invalidArgument("the \(name) must be positive, got \(value)")
        }
        if let maximumVocabulary, maximumVocabulary < 5 {
            throw RecurrentError.invalidArgument("the vocabulary cap must leave room beside the 4 special tokens, got \(maximumVocabulary)")
        }
    }

    func architecture(vocabularySize: Int) -> ChatArchitecture {
        let seq2seq = Seq2SeqArchitecture(sourceVocabularySize: vocabularySize, targetVocabularySize: vocabularySize,
                                          embeddingSize: embeddingSize, cell: cell, hiddenSize: hiddenSize, numLayers: numLayers,
                                          bidirectionalEncoder: true, dropout: dropout, attention: .luong, luongScore: .general)
        let language = LanguageModelArchitecture(vocabularySize: vocabularySize, embeddingSize: embeddingSize, cell: cell,
                                                 hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout)
        return ChatArchitecture(replies: seq2seq, contexts: trainContextModel ? seq2seq : nil,
                                replyLanguageModel: trainReplyLanguageModel ? language : nil)
    }
}

/// Which groups a model's training held out, so that `evaluate` can score exactly those.
public struct ChatHeldOut: Codable, Sendable {
    public var test: [String]
    public var validation: [String]
}

struct ChatSpec: Codable {
    var configuration: ChatConfiguration
    var tokenizer: Tokenizer
    var vocabulary: Vocabulary
    var heldOut: ChatHeldOut
}

/// A chat model: reads the last turns of a conversation and writes a reply, by beam search or
/// sampling, its candidates optionally reranked by maximum mutual information.
public final class Chatbot {
    public let model: Model
    let spec: ChatSpec
    let network: ChatNetwork

    static let separatorToken = "<sep>", beginToken = "<bos>", endToken = "<eos>"
    static let specials = [separatorToken, beginToken, endToken]

    public var configuration: ChatConfiguration { spec.configuration }
    public var vocabulary: Vocabulary { spec.vocabulary }
    public var tokenizer: Tokenizer { spec.tokenizer }
    public var heldOut: ChatHeldOut { spec.heldOut }
    var separatorID: Int { vocabulary.id(Self.separatorToken) }
    var beginID: Int { vocabulary.id(Self.beginToken) }
    var endID: Int { vocabulary.id(Self.endToken) }

    init(model: Model, spec: ChatSpec) throws {
        guard let network = model.layer as? ChatNetwork else { throw RecurrentError.invalidArgument("the network is not a chat network") }
        let sizes = [network.architecture.replies.sourceVocabularySize, network.architecture.replies.targetVocabularySize]
            + [network.architecture.contexts?.sourceVocabularySize, network.architecture.contexts?.targetVocabularySize,
               network.architecture.replyLanguageModel?.vocabularySize].compactMap { $0 }
        guard sizes.allSatisfy({ $0 == spec.vocabulary.count }), Self.specials.allSatisfy(spec.vocabulary.contains) else {
            throw RecurrentError.invalidArgument("the networks do not match the vocabulary of \(spec.vocabulary.count) tokens")
        }
        self.model = model
        self.spec = spec
        self.network = network
    }

    /// Loads a model file written by `recurrent chat train` (or `save(to:)`). Any other model is
    /// refused, naming what it is.
    public convenience init(contentsOf path: String) throws {
        let (model, spec) = try Model.loadTask(path, task: "chat", specKey: "chat", as: ChatSpec.self,
                                               kind: "a chat model", trainCommand: "recurrent chat train")
        do {
            try self.init(model: model, spec: spec)
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
    }

    public func save(to path: String) throws { try model.save(to: path) }

    static func make(spec: ChatSpec, seed: UInt64) throws -> Chatbot {
        let architecture = spec.configuration.architecture(vocabularySize: spec.vocabulary.count)
        try architecture.validate()
        let model = Model(ChatNetwork(architecture, seed: seed))
        try model.setMetadata("task", "chat")
        try model.setMetadata("chat", spec)
        return try Chatbot(model: model, spec: spec)
    }

    // MARK: - Reading turns

    /// A turn as the model reads it, and whether it had to be cut.
    struct ReadTurn {
        var tokens: [String]
        var truncated: Bool
    }

    /// A turn before the reply: its last `maxTurnTokens` tokens.
    func contextTurn(_ text: String) -> ReadTurn {
        let tokens = tokenizer.tokenize(text), limit = configuration.maxTurnTokens
        return ReadTurn(tokens: Array(tokens.suffix(limit)), truncated: tokens.count > limit)
    }

    /// A reply to learn: its first `maxTurnTokens` tokens, cut back to the last sentence end
    /// among them when there is one, so that the model learns to end replies where people do.
    func replyTurn(_ text: String) -> ReadTurn {
        let tokens = tokenizer.tokenize(text), limit = configuration.maxTurnTokens
        guard tokens.count > limit else { return ReadTurn(tokens: tokens, truncated: false) }
        let kept = tokens.prefix(limit)
        let end = kept.lastIndex { $0 == "." || $0 == "?" || $0 == "!" }
        return ReadTurn(tokens: Array(end.map { kept[...$0] } ?? kept), truncated: true)
    }

    /// The encoder's input: the last `contextTurns` turns, each read as `contextTurn`, joined by
    /// the separator token; and how many of them were cut.
    func contextIDs(_ turns: [String]) -> (ids: [Int], truncated: Int) {
        let read = turns.suffix(configuration.contextTurns).map(contextTurn)
        let ids = read.map { vocabulary.ids($0.tokens) }.joined(separator: [separatorID])
        return (Array(ids), read.filter(\.truncated).count)
    }

    /// Text from output ids.
    func text(_ ids: [Int]) -> String { tokenizer.detokenize(ids.map(vocabulary.token)) }
}
