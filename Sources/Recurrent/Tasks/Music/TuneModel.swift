import Foundation

/// What a tune model is made of and how it reads ABC. Stored in the model file.
public struct TuneModelConfiguration: Codable, Sendable, RecurrentHyperparameters {
    public var tokenizer = ABCTokenizer()
    public var cell: CellKind = .lstm
    public var embeddingSize = 32
    public var hiddenSize = 256
    public var numLayers = 2
    public var dropout: Float = 0.2
    public var learningRate = 0.002
    /// Every k-th tune of the collection (k = 1 / fraction, rounded) is held out for validation.
    public var validationFraction = 0.05

    public init() {}

    public func validate() throws {
        for (value, name) in [(embeddingSize, "embedding size"), (hiddenSize, "hidden size"), (numLayers, "layer count")] where value < 1 {
            throw RecurrentError.invalidArgument("the \(name) must be positive, got \(value)")
        }
        guard (0..<0.5).contains(validationFraction) else {
            throw RecurrentError.invalidArgument("the validation fraction must be in [0, 0.5), got \(validationFraction)")
        }
    }
}

/// Tunes read from ABC files and split for training: each tune's tokens between the start and
/// end tokens.
public struct TuneCollection: Sendable {
    public var tunes: [ABCTune]
    /// The tunes that did not read, one line each (only when reading skips them).
    public var skipped: [String]

    /// Reads ABC files, or every `.abc` file in folders (in name order).
    public init(paths: [String], skippingUnreadable: Bool = false) throws {
        var tunes: [ABCTune] = [], skipped: [String] = []
        for file in try Self.abcFiles(paths) {
            let read = try ABCReader.read(path: file, skippingUnreadable: skippingUnreadable)
            tunes += read.tunes
            skipped += read.skipped
        }
        guard !tunes.isEmpty else {
            throw RecurrentError.invalidArgument("no tune could be read from \(paths.joined(separator: ", "))")
        }
        self.tunes = tunes
        self.skipped = skipped
    }

    static func abcFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw RecurrentError.io(path: path, reason: "no such file or folder")
            }
            if isFolder.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                let found = names.filter { $0.lowercased().hasSuffix(".abc") }.sorted().map { (path as NSString).appendingPathComponent($0) }
                guard !found.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "the folder holds no .abc file") }
                files += found
            } else {
                files.append(path)
            }
        }
        return files
    }

    /// Every k-th tune (k = round(1 / fraction)), counting from the k-th, validates; the rest
    /// train. A fraction of 0 validates nothing.
    public func split(validationFraction: Double) -> (training: [ABCTune], validation: [ABCTune]) {
        guard validationFraction > 0 else { return (tunes, []) }
        let every = max(2, Int((1 / validationFraction).rounded()))
        let indices = tunes.indices
        return (indices.filter { ($0 + 1) % every != 0 }.map { tunes[$0] }, indices.filter { ($0 + 1) % every == 0 }.map { tunes[$0] })
    }
}

/// The description of a tune model stored in its file beside the network.
struct TuneModelSpec: Codable {
    var configuration: TuneModelConfiguration
    var vocabulary: Vocabulary
}

/// A language model over ABC tokens: it learns tunes and writes new ones.
///
/// The network is `LanguageModelNetwork` (embedding -> recurrent layers -> Dense over the
/// tokens); each tune is one sequence from a zero state, `<s> M:.. K:.. music </s>`.
public final class TuneModel {
    public let model: Model
    public let network: LanguageModelNetwork
    let spec: TuneModelSpec
    public var configuration: TuneModelConfiguration { spec.configuration }
    public var vocabulary: Vocabulary { spec.vocabulary }

    init(model: Model, network: LanguageModelNetwork, spec: TuneModelSpec) {
        self.model = model
        self.network = network
        self.spec = spec
    }

    /// Loads a model written by `train` and `model.save(to:)`.
    public convenience init(contentsOf path: String) throws {
        let (model, spec) = try Model.loadTask(path, task: "music-tunes", specKey: "tunes", as: TuneModelSpec.self,
                                               kind: "a tune model", trainCommand: "recurrent music train TUNES.abc")
        guard let network = model.layer as? LanguageModelNetwork, network.architecture.vocabularySize == spec.vocabulary.count else {
            throw RecurrentError.invalidFile(path: path, reason: "the tune model's network does not match its vocabulary of \(spec.vocabulary.count) tokens")
        }
        self.init(model: model, network: network, spec: spec)
    }

    /// A tune's token ids with the start and end tokens around them.
    public func encode(_ tune: ABCTune) -> [Int] {
        vocabulary.ids([ABCTokenizer.tuneStart] + configuration.tokenizer.tokens(tune) + [ABCTokenizer.tuneEnd])
    }

    /// Mean cross-entropy per predicted token (every token after `<s>`, `</s>` included) over
    /// `tunes`, each read from a zero state, in batches of up to 32 tunes of similar length.
    public func evaluate(_ tunes: [ABCTune], communicator: (any Communicator)? = nil) throws -> TuneEvaluation {
        try Self.evaluate(network: network, sequences: tunes.map(encode), communicator: communicator)
    }

    /// With a `communicator`, each process scores its share of the batches; the batches' sums
    /// are added in batch order, so the figure is the same, bit for bit, on any number of processes.
    static func evaluate(network: LanguageModelNetwork, sequences: [[Int]], communicator: (any Communicator)? = nil) throws -> TuneEvaluation {
        let order = sequences.indices.sorted { (sequences[$0].count, $0) < (sequences[$1].count, $1) }
        let sums = try Communicators.mapInOrder(Batching.consecutive(order, batchSize: 32), over: communicator) { batches in
            try GradientMode.withoutRecording {
                try batches.map { batch in
                    let (inputs, targets, mask) = teacherForcing(batch.map { sequences[$0] })
                    let logits = network.run(Variable(inputs), state: nil, lengths: Batching.lengths(mask: mask)).logits
                    return LossSum(total: Double(try crossEntropy(logits: logits, targets: targets, mask: mask, reduction: .sum).value.scalar),
                                   count: Int(mask.sum()))
                }
            }
        }
        let total = LossSum.combined(sums)
        return TuneEvaluation(tokens: total.count, crossEntropy: total.mean)
    }

    /// Inputs [B, T] (each sequence but its last token, padded with 0), the next tokens [B * T]
    /// and the mask [B, T] of the steps that predict a real token.
    static func teacherForcing(_ sequences: [[Int]]) -> (inputs: Tensor, targets: [Int], mask: Tensor) {
        let time = max(1, (sequences.map(\.count).max() ?? 1) - 1)
        var inputs = [Float](repeating: 0, count: sequences.count * time)
        var targets = [Int](repeating: 0, count: sequences.count * time)
        var mask = [Float](repeating: 0, count: sequences.count * time)
        for (b, sequence) in sequences.enumerated() where sequence.count >= 2 {
            for t in 0..<(sequence.count - 1) {
                inputs[b * time + t] = Float(sequence[t])
                targets[b * time + t] = sequence[t + 1]
                mask[b * time + t] = 1
            }
        }
        return (Tensor(shape: [sequences.count, time], scalars: inputs), targets, Tensor(shape: [sequences.count, time], scalars: mask))
    }
}

/// Cross-entropy of held-out tunes under a tune model.
public struct TuneEvaluation: Codable, Sendable {
    public var tokens: Int
    /// Nats per token.
    public var crossEntropy: Double
    public var bitsPerToken: Double { crossEntropy / log(2) }
}
