import Foundation

/// What an encoder-decoder is made of and how it trains. Stored in the model file.
public struct Seq2SeqConfiguration: Codable, Sendable {
    public var cell: CellKind = .lstm
    /// The decoder's hidden size; a bidirectional encoder has half of it in each direction.
    public var hiddenSize: Int = 256
    public var numLayers: Int = 1
    public var bidirectionalEncoder: Bool = true
    public var embeddingSize: Int = 64
    public var dropout: Float = 0.2
    public var attention: AttentionKind = .luong
    public var luongScore: LuongScore = .general
    /// The chance, at each decoder step in training, of feeding the model's own previous
    /// prediction instead of the true previous token (scheduled sampling; 0 is pure teacher forcing).
    public var samplingProbability: Double = 0
    public var learningRate: Double = 2e-3
    /// Lower the learning rate along half a cosine over the planned steps (when the options'
    /// schedule is constant).
    public var cosineDecay: Bool = true
    /// The fraction of the training sources (all pairs of a source together) held out for
    /// validation.
    public var validationFraction: Double = 0.05
    /// Sources greedily decoded after every epoch to report the validation token and word error rates.
    public var monitoredSources: Int = 500

    public init() {}

    func architecture(sourceVocabularySize: Int, targetVocabularySize: Int) -> Seq2SeqArchitecture {
        Seq2SeqArchitecture(sourceVocabularySize: sourceVocabularySize, targetVocabularySize: targetVocabularySize,
                            embeddingSize: embeddingSize, cell: cell, hiddenSize: hiddenSize, numLayers: numLayers,
                            bidirectionalEncoder: bidirectionalEncoder, dropout: dropout, attention: attention,
                            luongScore: luongScore)
    }
}

/// How sources and targets are read, as trained: kept in the model file so that evaluation and
/// translation read text exactly as training did.
public struct Seq2SeqInput: Codable, Equatable, Sendable {
    public var sourceTokenizer: Tokenizer
    public var targetTokenizer: Tokenizer
    /// The stress marks of cmudict phonemes, as trained (evaluation reads references the same way).
    public var stress: StressMarks

    public init(sourceTokenizer: Tokenizer, targetTokenizer: Tokenizer, stress: StressMarks = .keep) {
        self.sourceTokenizer = sourceTokenizer
        self.targetTokenizer = targetTokenizer
        self.stress = stress
    }

    /// CMUdict: lowercase characters in, phonemes (target words) out.
    public static func cmudict(stress: StressMarks) -> Seq2SeqInput {
        Seq2SeqInput(sourceTokenizer: Tokenizer(level: .char, lowercase: true), targetTokenizer: Tokenizer(level: .word), stress: stress)
    }
}

/// How outputs are searched for.
public struct DecodingOptions: Sendable {
    /// 1 is greedy decoding.
    public var beamWidth: Int = 5
    /// Hypotheses are ranked by log-probability / length^alpha (0: raw log-probability, which
    /// favours short outputs).
    public var lengthNormalization: Double = 1
    /// An output ends after at most maxLengthFactor * (source tokens) + maxLengthExtra tokens.
    public var maxLengthFactor: Int = 2
    public var maxLengthExtra: Int = 10

    public init(beamWidth: Int = 5) { self.beamWidth = beamWidth }

    func maxLength(sourceLength: Int) -> Int { maxLengthFactor * sourceLength + maxLengthExtra }
}

/// One translation: the output tokens and text, and the attention of each output token over
/// the source tokens (empty without attention).
public struct Translation: Codable, Sendable {
    public var sourceText: String
    public var sourceTokens: [String]
    public var tokens: [String]
    public var text: String
    /// [output token][source token]
    public var attention: [[Double]]
}

struct Seq2SeqSpec: Codable {
    var configuration: Seq2SeqConfiguration
    var input: Seq2SeqInput
    var sourceVocabulary: Vocabulary
    var targetVocabulary: Vocabulary
}

/// A trained encoder-decoder with the tokenizers and vocabularies it reads and writes with.
/// Source tokens never seen in training read as the unknown token `<unk>`; sources longer than
/// any seen in training are read all the same (outputs may then be poorer).
public final class Translator {
    public let model: Model
    let spec: Seq2SeqSpec
    let network: Seq2SeqNetwork

    static let beginToken = "<bos>", endToken = "<eos>"
    var beginID: Int { spec.targetVocabulary.id(Self.beginToken) }
    var endID: Int { spec.targetVocabulary.id(Self.endToken) }

    public var configuration: Seq2SeqConfiguration { spec.configuration }
    public var input: Seq2SeqInput { spec.input }
    public var sourceVocabulary: Vocabulary { spec.sourceVocabulary }
    public var targetVocabulary: Vocabulary { spec.targetVocabulary }

    init(model: Model, spec: Seq2SeqSpec) throws {
        guard let network = model.layer as? Seq2SeqNetwork,
              network.architecture.sourceVocabularySize == spec.sourceVocabulary.count,
              network.architecture.targetVocabularySize == spec.targetVocabulary.count,
              spec.targetVocabulary.contains(Self.beginToken), spec.targetVocabulary.contains(Self.endToken)
        else { throw RecurrentError.invalidArgument("the model is not an encoder-decoder matching its vocabularies") }
        self.model = model
        self.spec = spec
        self.network = network
    }

    /// Loads a model file written by `recurrent seq2seq train` (or `save(to:)`).
    public convenience init(contentsOf path: String) throws {
        let (model, spec) = try Model.loadTask(path, task: "seq2seq", specKey: "seq2seq", as: Seq2SeqSpec.self)
        do {
            try self.init(model: model, spec: spec)
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
    }

    public func save(to path: String) throws { try model.save(to: path) }

    static func make(spec: Seq2SeqSpec, seed: UInt64) throws -> Translator {
        let architecture = spec.configuration.architecture(sourceVocabularySize: spec.sourceVocabulary.count,
                                                           targetVocabularySize: spec.targetVocabulary.count)
        try architecture.validate()
        let model = Model(Seq2SeqNetwork(architecture, seed: seed))
        try model.setMetadata("task", "seq2seq")
        try model.setMetadata("seq2seq", spec)
        return try Translator(model: model, spec: spec)
    }

    // MARK: - Encoding text

    func sourceIDs(_ text: String) -> [Int] { sourceVocabulary.ids(input.sourceTokenizer.tokenize(text)) }
    func targetTokens(_ text: String) -> [String] { input.targetTokenizer.tokenize(text) }

    /// Source ids [B, S] padded, and the lengths, of sources already tokenized.
    func sourceBatch(_ sources: [[Int]]) -> PaddedBatch { PaddedBatch(tokenIDs: sources) }

    // MARK: - Translating

    /// Translates each text (batched by length); an empty text is an error naming it.
    public func translate(_ texts: [String], options: DecodingOptions = DecodingOptions()) throws -> [Translation] {
        let sources = try texts.enumerated().map { index, text in
            let tokens = input.sourceTokenizer.tokenize(text)
            guard !tokens.isEmpty else { throw RecurrentError.invalidArgument("text \(index + 1) is empty: there is nothing to translate") }
            return tokens
        }
        let outputs = try decode(sources.map { sourceVocabulary.ids($0) }, options: options)
        return zip(zip(texts, sources), outputs).map { text, output in
            let tokens = output.tokens.map(targetVocabulary.token)
            return Translation(sourceText: text.0, sourceTokens: text.1, tokens: tokens, text: input.targetTokenizer.detokenize(tokens),
                               attention: output.attention.filter { !$0.isEmpty }.map { $0.map(Double.init) })
        }
    }

    /// Decodes id sequences in batches of similar lengths, without recording.
    func decode(_ sources: [[Int]], options: DecodingOptions, batchSize: Int = 128) throws -> [Hypothesis] {
        guard options.beamWidth >= 1 else { throw RecurrentError.invalidArgument("the beam width must be at least 1, got \(options.beamWidth)") }
        var results = [Hypothesis](repeating: Hypothesis(tokens: [], logProbability: 0, score: 0), count: sources.count)
        let order = sources.indices.sorted { (sources[$0].count, $0) < (sources[$1].count, $1) }
        for batch in Batching.consecutive(order, batchSize: max(1, batchSize / options.beamWidth)) {
            let decoded = GradientMode.withoutRecording {
                let padded = sourceBatch(batch.map { sources[$0] })
                let encoded = network.encode(padded.values, lengths: padded.lengths)
                let limits = padded.lengths.map(options.maxLength)
                return options.beamWidth == 1
                    ? greedy(encoded, maxLengths: limits)
                    : beamSearch(encoded, maxLengths: limits, options: options)
            }
            for (position, index) in batch.enumerated() { results[index] = decoded[position] }
        }
        return results
    }

    // MARK: - Evaluating

    /// Exact match, token error rate and BLEU of the outputs for `pairs`: one output per distinct
    /// source, scored against all of that source's targets.
    public func evaluate(_ pairs: Seq2SeqPairs, options: DecodingOptions = DecodingOptions(), indices: [Int]? = nil,
                         communicator: (any Communicator)? = nil) throws -> Seq2SeqScore {
        let chosen = indices.map { Set($0) }
        var groups: [(source: [Int], references: [[String]])] = []
        for (source, members) in pairs.groupedBySource() {
            let kept = members.filter { chosen?.contains($0) ?? true }
            guard !kept.isEmpty else { continue }
            let ids = sourceIDs(source)
            guard !ids.isEmpty else {
                throw RecurrentError.invalidFile(path: pairs.path, reason: "line \(pairs.lineNumbers[kept[0]]): the source has no tokens")
            }
            groups.append((ids, kept.map { targetTokens(pairs.targets[$0]) }))
        }
        // With a communicator, each process decodes its share of the sources.
        let outputs = try Communicators.mapInOrder(groups.map(\.source), over: communicator) {
            try decode(Array($0), options: options).map(\.tokens)
        }
        var score = Seq2SeqScore()
        for (group, output) in zip(groups, outputs) {
            score.add(output: output.map(targetVocabulary.token), references: group.references)
        }
        return score
    }
}
