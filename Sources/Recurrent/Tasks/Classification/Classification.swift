import Foundation

/// How the recurrent outputs of a sequence become one vector for the classifier.
public enum Pooling: String, Codable, Sendable, CaseIterable {
    /// The final state of the top layer (both directions when bidirectional).
    case last
    /// The mean of the top layer's outputs over the valid steps.
    case mean
    /// The feature-wise maximum of the top layer's outputs over the valid steps.
    case max
}

/// What a sequence classifier is made of and how it trains. Stored in the model file.
public struct ClassificationConfiguration: Codable, Sendable {
    public var cell: CellKind = .lstm
    public var hiddenSize: Int = 128
    public var numLayers: Int = 1
    public var bidirectional: Bool = false
    /// Max pooling measured best on all three bundled data sets (README).
    public var pooling: Pooling = .max
    /// Token vector size, for text.
    public var embeddingSize: Int = 64
    /// Tokens seen fewer times in the training rows read as the unknown token, which so gets
    /// trained too.
    public var minimumTokenCount: Int = 2
    public var maximumVocabularySize: Int = 50_000
    /// Dropout on the token vectors, between recurrent layers and before the output layer.
    public var dropout: Float = 0.3
    public var learningRate: Double = 2e-3
    /// Lower the learning rate along half a cosine, from `learningRate` to 0 over all the planned
    /// epochs, so late epochs settle instead of jumping around the minimum (when the options'
    /// schedule is constant).
    public var cosineDecay: Bool = true
    public var testFraction: Double = 0.2
    /// The fraction of the non-test rows held out for validation (best epoch, early stopping).
    public var validationFraction: Double = 0.1
    /// Weight each class by n / (C * count) in the loss, so rare classes count as much as common ones.
    public var balanceClasses: Bool = false

    public init() {}
}

/// Test figures of a classifier: the confusion matrix and what it gives.
public struct ClassificationReport: Codable, Sendable {
    public var labels: [String]
    public var confusion: ConfusionMatrix
    public var accuracy: Double { confusion.accuracy }
    public var macroF1: Double { confusion.macroF1 }
    public var count: Int { confusion.total }

    /// `{"accuracy": .., "macro_f1": .., "n": N, "labels": [...], "confusion": [[...]]}` on one line.
    public var json: String {
        let labelList = labels.map { jsonString($0) }.joined(separator: ", ")
        let rows = confusion.counts.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ")
        return String(format: "{\"accuracy\": %.4f, \"macro_f1\": %.4f, ", accuracy, macroF1)
            + "\"n\": \(count), \"labels\": [\(labelList)], \"confusion\": [\(rows)]}"
    }
}

/// A label and the probability of every class, in the order of the classifier's labels.
public struct ClassPrediction: Sendable {
    public var label: String
    public var probabilities: [Double]
}

/// Everything beyond the layers that a classifier needs to read new rows as it read its
/// training rows: the input, the labels, and the vocabulary or the scaler.
struct ClassifierSpec: Codable {
    var configuration: ClassificationConfiguration
    var input: ClassificationInput
    var labels: [String]
    var vocabulary: Vocabulary?
    var scaler: Scaler?
}

/// Sequence classification: token vectors (text) or numeric steps -> stacked, optionally
/// bidirectional recurrent layers -> last state, mean or max over the valid steps -> Dense ->
/// class scores (softmax for probabilities). The model file holds a `Sequential` of
/// [Embedding (text only), RecurrentLayer, Dropout, Dense]; the pooling and lengths are applied
/// here between its layers.
public final class Classifier {
    public let model: Model
    let spec: ClassifierSpec
    let embedding: Embedding?
    let recurrent: RecurrentLayer
    let dropout: Dropout
    let output: Dense

    public var labels: [String] { spec.labels }
    public var input: ClassificationInput { spec.input }
    public var configuration: ClassificationConfiguration { spec.configuration }

    init(model: Model, spec: ClassifierSpec) throws {
        let layers = (model.layer as? Sequential)?.layers ?? []
        let embedding = layers.first as? Embedding
        let rest = Array(layers.dropFirst(embedding == nil ? 0 : 1))
        guard rest.count == 3, let recurrent = rest[0] as? RecurrentLayer, let dropout = rest[1] as? Dropout,
              let output = rest[2] as? Dense, output.outputSize == spec.labels.count,
              (embedding != nil) == spec.input.isText, (spec.vocabulary != nil) == spec.input.isText
        else {
            throw RecurrentError.invalidArgument("the model is not a sequence classifier of \(spec.labels.count) classes")
        }
        self.model = model
        self.spec = spec
        self.embedding = embedding
        self.recurrent = recurrent
        self.dropout = dropout
        self.output = output
    }

    /// Loads a model file written by `recurrent classify train` (or `save(to:)`).
    public convenience init(contentsOf path: String) throws {
        let (model, spec) = try Model.loadTask(path, task: "classify", specKey: "classifier", as: ClassifierSpec.self)
        do {
            try self.init(model: model, spec: spec)
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
    }

    public func save(to path: String) throws { try model.save(to: path) }

    /// Builds an untrained classifier for `classCount` labels over `inputSize` features per step
    /// (or a vocabulary, for text).
    static func make(spec: ClassifierSpec, seed: UInt64) throws -> Classifier {
        let c = spec.configuration
        let stepSize = spec.vocabulary == nil ? spec.input.featuresPerStep : c.embeddingSize
        let recurrentConfiguration = RecurrentConfiguration(
            cell: c.cell, inputSize: stepSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, bidirectional: c.bidirectional,
            dropout: c.dropout, output: c.pooling == .last ? .lastState : .sequence)
        try recurrentConfiguration.validate()
        let features = c.hiddenSize * recurrentConfiguration.directions
        let layer = Sequential {
            if let vocabulary = spec.vocabulary {
                Embedding(vocabularySize: vocabulary.count, embeddingSize: c.embeddingSize, seed: seed &+ 1)
            }
            RecurrentLayer(recurrentConfiguration, seed: seed &+ 2)
            Dropout(probability: c.dropout, seed: seed &+ 3)
            Dense(inputSize: features, outputSize: spec.labels.count, seed: seed &+ 4)
        }
        let model = Model(layer)
        try model.setMetadata("task", "classify")
        try model.setMetadata("classifier", spec)
        return try Classifier(model: model, spec: spec)
    }

    // MARK: - Running

    /// Class scores [B, C] of a padded batch (ids [B, T] for text, steps [B, T, F] otherwise).
    public func logits(_ batch: PaddedBatch) throws -> Variable {
        var x = Variable(batch.values)
        if let embedding { x = dropout(try embedding.embed(x)) }
        let result = try recurrent.run(x, lengths: batch.lengths)
        let pooled: Variable
        switch spec.configuration.pooling {
        case .last: pooled = recurrent.lastState(result.state)
        case .mean: pooled = result.output.meanOverTime(lengths: batch.lengths)
        case .max: pooled = result.output.maxOverTime(lengths: batch.lengths)
        }
        return output(dropout(pooled))
    }

    /// The model's inputs for `rows`: token ids through the vocabulary (unknown tokens to
    /// `<unk>`), or values through the scaler.
    func encoded(_ rows: ClassificationRows) -> SequenceInputs {
        if let vocabulary = spec.vocabulary { return .tokens(rows.tokens.map(vocabulary.ids)) }
        let perStep = spec.input.featuresPerStep
        let scaled = rows.values.map { values in
            values.enumerated().map { i, value in Float(spec.scaler?.transform(Double(value), feature: i % perStep) ?? Double(value)) }
        }
        return .steps(scaled, featuresPerStep: perStep)
    }

    /// Class probabilities [N][C] of encoded inputs, computed in batches of similar lengths
    /// without recording.
    func probabilities(_ inputs: SequenceInputs, indices: [Int]? = nil, batchSize: Int = 256) throws -> [[Double]] {
        let indices = indices ?? Array(0..<inputs.count)
        var result = [[Double]](repeating: [], count: indices.count)
        let positions = Batching.consecutive(Array(indices.indices).sorted {
            (inputs.length(indices[$0]), $0) < (inputs.length(indices[$1]), $1)
        }, batchSize: batchSize)
        for batchPositions in positions {
            let scores = try GradientMode.withoutRecording { try logits(inputs.batch(batchPositions.map { indices[$0] })) }
            let classCount = labels.count
            for (row, position) in batchPositions.enumerated() {
                result[position] = softmax(Array(scores.value.scalars[(row * classCount)..<((row + 1) * classCount)]))
            }
        }
        return result
    }

    /// The label and probabilities of each row of `rows` (read with this classifier's input).
    /// With a `communicator`, each process computes its share of the rows and every process
    /// gets all of them, in order.
    public func predict(_ rows: ClassificationRows, communicator: (any Communicator)? = nil) throws -> [ClassPrediction] {
        let inputs = encoded(rows)
        return try Communicators.mapInOrder(Array(0..<rows.count), over: communicator) {
            try probabilities(inputs, indices: Array($0))
        }.map(prediction)
    }

    /// The label and probabilities of each text; an empty text is an error naming it.
    public func predict(texts: [String]) throws -> [ClassPrediction] {
        guard let tokenizer = spec.input.tokenizer, let vocabulary = spec.vocabulary else {
            throw RecurrentError.invalidArgument("this classifier reads numeric sequences, not text: give rows with --input")
        }
        let tokens = try texts.enumerated().map { index, text in
            let tokens = tokenizer.tokenize(text)
            guard !tokens.isEmpty else { throw RecurrentError.invalidArgument("text \(index + 1) is empty") }
            return vocabulary.ids(tokens)
        }
        return try probabilities(.tokens(tokens)).map(prediction)
    }

    /// Accuracy, macro-F1 and the confusion matrix on labelled rows; a label the model never saw
    /// is an error naming the row.
    /// With a `communicator`, each process predicts its share of the rows.
    public func evaluate(_ rows: ClassificationRows, indices: [Int]? = nil, communicator: (any Communicator)? = nil) throws -> ClassificationReport {
        let indices = indices ?? Array(0..<rows.count)
        let truth = try rows.classIndices(in: labels)
        let inputs = encoded(rows)
        let predicted = try Communicators.mapInOrder(indices, over: communicator) { part in
            try probabilities(inputs, indices: Array(part)).map { argmax($0) }
        }
        let confusion = try ConfusionMatrix(classCount: labels.count, truth: indices.map { truth[$0] }, predicted: predicted)
        return ClassificationReport(labels: labels, confusion: confusion)
    }

    private func prediction(_ probabilities: [Double]) -> ClassPrediction {
        ClassPrediction(label: labels[argmax(probabilities)], probabilities: probabilities)
    }
}

/// Encoded sequences of one kind, batched on demand.
enum SequenceInputs {
    case tokens([[Int]])
    case steps([[Float]], featuresPerStep: Int)

    var count: Int {
        switch self {
        case .tokens(let ids): return ids.count
        case .steps(let values, _): return values.count
        }
    }

    func length(_ index: Int) -> Int {
        switch self {
        case .tokens(let ids): return ids[index].count
        case .steps(let values, let perStep): return values[index].count / max(1, perStep)
        }
    }

    /// Adds the rows at `indices` to a run's data fingerprint.
    func fingerprint(rows indices: [Int], into fingerprint: inout Fingerprint) {
        for index in indices {
            switch self {
            case .tokens(let ids): fingerprint.add(ids[index])
            case .steps(let values, _): fingerprint.add(Tensor(shape: [values[index].count], scalars: values[index]))
            }
        }
    }

    func batch(_ indices: [Int]) -> PaddedBatch {
        switch self {
        case .tokens(let ids): return PaddedBatch(tokenIDs: indices.map { ids[$0] })
        case .steps(let values, let perStep): return PaddedBatch(steps: indices.map { values[$0] }, featuresPerStep: perStep)
        }
    }
}

func softmax(_ scores: [Float]) -> [Double] {
    let top = Double(scores.max() ?? 0)
    let exponentials = scores.map { exp(Double($0) - top) }
    let total = exponentials.reduce(0, +)
    return exponentials.map { $0 / total }
}

func argmax(_ values: [Double]) -> Int {
    values.indices.max { values[$0] < values[$1] || (values[$0] == values[$1] && $0 > $1) } ?? 0
}

func jsonString(_ text: String) -> String {
    let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
    return String(decoding: data, as: UTF8.self)
}
