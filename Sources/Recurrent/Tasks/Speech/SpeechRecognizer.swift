import Foundation

/// How a speech recognizer's features are normalised before the network reads them.
public enum SpeechNormalization: String, Codable, Sendable, CaseIterable {
    /// Each utterance's own mean and standard deviation per feature (needs the whole utterance).
    case utterance
    /// The training set's mean and standard deviation per feature, stored in the model (what a
    /// stream can use: nothing depends on audio yet to come).
    case global
}

/// What a speech recognizer is made of and how it trains. Stored in the model file.
public struct SpeechConfiguration: Codable, Sendable {
    public var cell: CellKind = .lstm
    public var hiddenSize: Int = 192
    public var numLayers: Int = 2
    /// Both directions read the whole utterance; a unidirectional model can transcribe a stream.
    public var bidirectional: Bool = true
    public var dropout: Float = 0.3
    public var learningRate: Double = 2e-3
    /// The rate features are computed at; audio at other rates is resampled. nil: the rate of
    /// the first training file.
    public var sampleRate: Int? = nil
    public var melBins: Int = 40
    /// 0: log-mels; 1: with deltas; 2: with deltas and delta-deltas.
    public var deltaOrder: Int = 0
    /// Stack this many consecutive frames into one step of the network (2 or 3 as DeepSpeech 2
    /// and LAS do): the recurrent layers run at 1/K of the frame rate.
    public var subsample: Int = 3
    /// nil: per utterance for bidirectional models, global for unidirectional ones (streamable).
    public var normalization: SpeechNormalization? = nil
    /// Time and frequency masks on the training batches (Park et al., 2019); nil: none.
    public var specAugment: SpecAugment? = nil
    /// Lower the learning rate along half a cosine over the planned steps.
    public var cosineDecay: Bool = true
    /// The share of the training transcripts held out for validation when no validation
    /// manifest is given (all files of one text together).
    public var validationFraction: Double = 0.1

    public init() {}

    public var resolvedNormalization: SpeechNormalization { normalization ?? (bidirectional ? .utterance : .global) }

    /// The network in one line, for people.
    public var summary: String {
        "\(melBins) log-mels\(deltaOrder > 0 ? " + \(deltaOrder == 1 ? "deltas" : "deltas and delta-deltas")" : "")"
            + " (\(resolvedNormalization.rawValue) normalisation\(specAugment == nil ? "" : ", SpecAugment"))"
            + " -> \(subsample) frame\(subsample == 1 ? "" : "s") a step -> \(bidirectional ? "bidirectional " : "")\(cell.rawValue.uppercased()) "
            + "\(hiddenSize) x \(numLayers) -> characters + blank (CTC)"
    }

    public func validate() throws {
        guard (1...8).contains(subsample) else { throw RecurrentError.invalidArgument("subsample must be 1 to 8 frames, got \(subsample)") }
        guard melBins >= 1 else { throw RecurrentError.invalidArgument("mel bins must be positive, got \(melBins)") }
        guard (0...2).contains(deltaOrder) else { throw RecurrentError.invalidArgument("delta order must be 0, 1 or 2, got \(deltaOrder)") }
        if let sampleRate, sampleRate < 1000 { throw RecurrentError.invalidArgument("the sample rate must be at least 1000 Hz, got \(sampleRate)") }
        guard (0..<1).contains(validationFraction) else {
            throw RecurrentError.invalidArgument("the validation fraction must lie in [0, 1), got \(validationFraction)")
        }
    }
}

extension SpeechConfiguration: RecurrentHyperparameters {}

/// Everything beyond the layers that a recognizer needs to hear new audio as it heard its
/// training audio.
struct SpeechSpec: Codable {
    var configuration: SpeechConfiguration
    /// The characters the network writes; class 0 is CTC's blank, character i is class i + 1.
    var alphabet: [String]
    var filterbank: FilterbankOptions
    /// Per feature over the training set, for global normalisation.
    var featureStatistics: FeatureStatistics?
}

/// Speech recognition by CTC: log-mel filterbank features -> K frames stacked into one step ->
/// stacked (bidirectional) recurrent layers -> Dense over the characters and the blank.
/// The model file holds a `Sequential` of [RecurrentLayer, Dropout, Dense]; features, stacking
/// and lengths are applied here between its layers.
public final class SpeechRecognizer {
    public let model: Model
    let spec: SpeechSpec
    let recurrent: RecurrentLayer
    let dropout: Dropout
    let output: Dense
    let filterbank: Filterbank

    public var configuration: SpeechConfiguration { spec.configuration }
    public var alphabet: [String] { spec.alphabet }
    public var sampleRate: Int { spec.filterbank.sampleRate }
    public var classCount: Int { spec.alphabet.count + 1 }
    public var isStreamable: Bool { !configuration.bidirectional && configuration.resolvedNormalization == .global }
    static let blank = 0

    init(model: Model, spec: SpeechSpec) throws {
        let layers = (model.layer as? Sequential)?.layers ?? []
        let featureCount = spec.filterbank.featureCount
        guard layers.count == 3, let recurrent = layers[0] as? RecurrentLayer, let dropout = layers[1] as? Dropout,
              let output = layers[2] as? Dense, output.outputSize == spec.alphabet.count + 1,
              recurrent.configuration.inputSize == featureCount * spec.configuration.subsample,
              spec.alphabet.allSatisfy({ $0.count == 1 })
        else {
            throw RecurrentError.invalidArgument("the model is not a speech recognizer over \(spec.alphabet.count) characters")
        }
        if spec.configuration.resolvedNormalization == .global {
            guard let statistics = spec.featureStatistics, statistics.featureCount == featureCount,
                  statistics.standardDeviation.count == featureCount else {
                throw RecurrentError.invalidArgument("the model's global feature statistics do not have \(featureCount) values")
            }
        }
        self.model = model
        self.spec = spec
        self.recurrent = recurrent
        self.dropout = dropout
        self.output = output
        self.filterbank = try Filterbank(spec.filterbank)
    }

    /// Loads a model file written by `recurrent speech train` (or `save(to:)`).
    public convenience init(contentsOf path: String) throws {
        let (model, spec) = try Model.loadTask(path, task: "speech", specKey: "speech", as: SpeechSpec.self,
                                               kind: "a speech recognizer", trainCommand: "recurrent speech train")
        do {
            try self.init(model: model, spec: spec)
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
    }

    public func save(to path: String) throws { try model.save(to: path) }

    /// An untrained recognizer writing `alphabet` (one character each) from audio at
    /// `sampleRate`; global normalisation starts from the identity (mean 0, deviation 1).
    public static func untrained(configuration: SpeechConfiguration, alphabet: [String], sampleRate: Int, seed: UInt64 = 0) throws -> SpeechRecognizer {
        try configuration.validate()
        guard !alphabet.isEmpty, alphabet.allSatisfy({ $0.count == 1 }), Set(alphabet).count == alphabet.count else {
            throw RecurrentError.invalidArgument("the alphabet must be distinct single characters, got \(alphabet)")
        }
        var filterbank = FilterbankOptions(sampleRate: sampleRate)
        filterbank.melBins = configuration.melBins
        filterbank.deltaOrder = configuration.deltaOrder
        try filterbank.validate()
        let count = filterbank.featureCount
        return try make(spec: SpeechSpec(configuration: configuration, alphabet: alphabet, filterbank: filterbank,
                                         featureStatistics: FeatureStatistics(mean: [Float](repeating: 0, count: count),
                                                                              standardDeviation: [Float](repeating: 1, count: count))),
                        seed: seed)
    }

    static func make(spec: SpeechSpec, seed: UInt64) throws -> SpeechRecognizer {
        let c = spec.configuration
        let recurrentConfiguration = RecurrentConfiguration(
            cell: c.cell, inputSize: spec.filterbank.featureCount * c.subsample, hiddenSize: c.hiddenSize,
            numLayers: c.numLayers, bidirectional: c.bidirectional, dropout: c.dropout, output: .sequence)
        try recurrentConfiguration.validate()
        let layer = Sequential {
            RecurrentLayer(recurrentConfiguration, seed: seed &+ 1)
            Dropout(probability: c.dropout, seed: seed &+ 2)
            Dense(inputSize: c.hiddenSize * recurrentConfiguration.directions, outputSize: spec.alphabet.count + 1, seed: seed &+ 3)
        }
        let model = Model(layer)
        try model.setMetadata("task", "speech")
        try model.setMetadata("speech", spec)
        return try SpeechRecognizer(model: model, spec: spec)
    }

    // MARK: - Text

    /// Lowercase, every run of white space one space, none at the ends: how transcripts are
    /// compared and learned.
    public static func normalizedText(_ text: String) -> String {
        text.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// The class labels of a transcript, or nil when it holds a character outside the alphabet.
    func labels(_ text: String) -> [Int]? {
        var labels: [Int] = []
        for character in Self.normalizedText(text) {
            guard let index = spec.alphabet.firstIndex(of: String(character)) else { return nil }
            labels.append(index + 1)
        }
        return labels
    }

    func text(_ labels: [Int]) -> String {
        labels.compactMap { $0 >= 1 && $0 <= spec.alphabet.count ? spec.alphabet[$0 - 1] : nil }.joined()
    }

    /// Steps CTC needs for `labels`: one per label and one blank between each pair of equal ones.
    static func minimumSteps(_ labels: [Int]) -> Int {
        labels.count + zip(labels, labels.dropFirst()).filter { $0 == $1 }.count
    }

    // MARK: - Features

    /// Normalised features [T, F] of a clip, resampled to the model's rate; a clip with no
    /// frame or no sound is an error naming `name`.
    public func features(_ clip: AudioClip, name: String) throws -> Tensor {
        try Self.checkAudible(clip, name: name)
        let audio = clip.sampleRate == sampleRate ? clip : clip.resampled(to: sampleRate)
        var features = filterbank.features(audio.samples)
        guard features.shape[0] > 0 else {
            throw RecurrentError.invalidFile(path: name, reason: String(format: "is too short: %.3f s holds no %.0f ms frame", clip.duration, spec.filterbank.frameLengthMs))
        }
        normalize(&features)
        return features
    }

    /// Refuses a clip with no samples, or with no sound: one line naming `name`.
    public static func checkAudible(_ clip: AudioClip, name: String) throws {
        guard !clip.samples.isEmpty else { throw RecurrentError.invalidFile(path: name, reason: "holds no audio samples") }
        // Below -60 dBFS at its loudest a recording holds no speech (digital silence, hum).
        guard clip.peakAmplitude >= 1e-3 else {
            throw RecurrentError.invalidFile(path: name, reason: String(format: "is silent: its loudest sample is %.1e of full scale", clip.peakAmplitude))
        }
    }

    func normalize(_ features: inout Tensor) {
        switch configuration.resolvedNormalization {
        case .utterance: FeatureNormalization.normalizePerUtterance(&features)
        // The statistics' width was checked when the model was built.
        case .global: try? FeatureNormalization.normalize(&features, with: spec.featureStatistics ?? FeatureStatistics(of: features))
        }
    }

    // MARK: - Running

    /// Steps of the network after stacking: ceil(frames / K).
    func stackedLength(_ frames: Int) -> Int { (frames + configuration.subsample - 1) / configuration.subsample }

    /// Character scores [B, T', C] of utterances' features, and each one's length T'.
    func logits(_ features: [Tensor]) throws -> (logits: Variable, lengths: [Int]) {
        let k = configuration.subsample, width = spec.filterbank.featureCount
        let steps = features.map { matrix -> [Float] in
            let padded = stackedLength(matrix.shape[0]) * k * width
            return matrix.scalars + [Float](repeating: 0, count: padded - matrix.count)
        }
        let batch = PaddedBatch(steps: steps, featuresPerStep: k * width)
        let result = try recurrent.run(Variable(batch.values), lengths: batch.lengths)
        return (output(dropout(result.output)), batch.lengths)
    }

    /// Transcripts of utterances' features, computed in batches of similar lengths without
    /// recording.
    func transcribe(features: [Tensor], decoding: SpeechDecoding, batchSize: Int = 16) throws -> [String] {
        var transcripts = [String](repeating: "", count: features.count)
        let order = features.indices.sorted { (features[$0].shape[0], $0) < (features[$1].shape[0], $1) }
        for batch in Batching.consecutive(order, batchSize: batchSize) {
            let (scores, lengths) = try GradientMode.withoutRecording { try logits(batch.map { features[$0] }) }
            let time = scores.shape[1], classes = classCount
            let logProbabilities = scores.value.logSoftmaxRows(width: classes)
            for (row, index) in batch.enumerated() {
                let start = row * time * classes
                let rows = Array(logProbabilities[start..<(start + lengths[row] * classes)])
                transcripts[index] = text(try decode(rows, frames: lengths[row], decoding: decoding))
            }
        }
        return transcripts
    }

    /// The transcript of one clip.
    public func transcribe(_ clip: AudioClip, name: String, decoding: SpeechDecoding = SpeechDecoding()) throws -> String {
        try transcribe(features: [features(clip, name: name)], decoding: decoding)[0]
    }
}

extension Tensor {
    /// log_softmax over rows of `width` values.
    func logSoftmaxRows(width: Int) -> [Float] {
        var result = scalars
        result.withUnsafeMutableBufferPointer { values in
            for start in stride(from: 0, to: values.count, by: width) {
                var top = -Float.infinity
                for i in start..<(start + width) { top = Swift.max(top, values[i]) }
                var total: Float = 0
                for i in start..<(start + width) { total += Foundation.exp(values[i] - top) }
                let shift = top + Foundation.log(total)
                for i in start..<(start + width) { values[i] -= shift }
            }
        }
        return result
    }
}
