import Foundation

/// What an anomaly detector is made of and how it trains. Stored in the model file.
public struct AnomalyConfiguration: Codable, Sendable {
    /// Steps of each training window (the forecaster's context while it learns).
    public var window: Int = 100
    public var cell: CellKind = .gru
    public var hiddenSize: Int = 32
    public var learningRate: Double = 0.01
    /// The first steps of each window are not scored in training: the state is still warming up.
    public var burnIn: Int = 20
    /// The score of a step is the mean squared standardised error of the last `smoothing` steps:
    /// one surprising sample in a QRS complex is common; a run of them is not.
    public var smoothing: Int = 20
    /// Flagged steps closer than this are one range.
    public var mergeGap: Int = 20

    public init() {}
}

/// What the detector learnt beyond its layers: the scaling of the normal data and the default
/// threshold.
struct AnomalySpec: Codable {
    var configuration: AnomalyConfiguration
    var column: String
    var mean: Double
    var standardDeviation: Double
    /// The highest score over the normal training steps: above it, a step is flagged.
    var threshold: Double
}

/// Anomaly detection by forecasting: a recurrent network reads the standardised signal and
/// gives, for the next step, a Gaussian (a mean and a standard deviation); the surprise of each
/// arriving value is its standardised error under that Gaussian. A forecaster rather than an
/// autoencoder because it scores each value the moment it arrives, with the state carried from
/// the previous step (`StreamingAnomalyScorer`), and because its predicted spread says where the
/// signal is normally hard to predict (the steep QRS complex of an ECG) so that those steps do
/// not raise false alarms.
///
/// The model file holds a `Sequential` of [RecurrentLayer (sequence output), Dense(H -> 2)].
public final class AnomalyDetector {
    public let model: Model
    var spec: AnomalySpec
    let recurrent: RecurrentLayer
    let head: Dense

    public var configuration: AnomalyConfiguration { spec.configuration }
    /// The column of the CSV the detector reads.
    public var column: String { spec.column }
    /// The default threshold on the score (the highest score over the normal training steps).
    public var threshold: Double { spec.threshold }

    init(model: Model, spec: AnomalySpec) throws {
        let layers = (model.layer as? Sequential)?.layers ?? []
        guard layers.count == 2, let recurrent = layers[0] as? RecurrentLayer, let head = layers[1] as? Dense,
              recurrent.configuration.inputSize == 1, !recurrent.configuration.bidirectional, head.outputSize == 2
        else { throw RecurrentError.invalidArgument("the model is not an anomaly detector") }
        self.model = model
        self.spec = spec
        self.recurrent = recurrent
        self.head = head
    }

    /// Loads a model file written by `recurrent anomaly train` (or `save(to:)`).
    public convenience init(contentsOf path: String) throws {
        let (model, spec) = try Model.loadTask(path, task: "anomaly", specKey: "anomaly", as: AnomalySpec.self,
                                               kind: "an anomaly detector", trainCommand: "recurrent anomaly train")
        do {
            try self.init(model: model, spec: spec)
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
    }

    public func save(to path: String) throws {
        try model.setMetadata("anomaly", spec)
        try model.save(to: path)
    }

    static func make(spec: AnomalySpec, seed: UInt64) throws -> AnomalyDetector {
        let c = spec.configuration
        let recurrentConfiguration = RecurrentConfiguration(cell: c.cell, inputSize: 1, hiddenSize: c.hiddenSize, numLayers: 1,
                                                            bidirectional: false, dropout: 0, output: .sequence)
        try recurrentConfiguration.validate()
        let model = Model(Sequential {
            RecurrentLayer(recurrentConfiguration, seed: seed &+ 1)
            Dense(inputSize: c.hiddenSize, outputSize: 2, seed: seed &+ 2)
        })
        try model.setMetadata("task", "anomaly")
        try model.setMetadata("anomaly", spec)
        return try AnomalyDetector(model: model, spec: spec)
    }

    /// Raw Gaussian parameters [B, T, 2] for the step after each of the standardised inputs
    /// [B, T, 1].
    func forecast(_ inputs: Variable) throws -> Variable {
        head(try recurrent.run(inputs).output)
    }

    /// The training signal's mean and standard deviation, by which readings are standardised.
    public var scale: (mean: Double, standardDeviation: Double) { (spec.mean, spec.standardDeviation) }

    func standardised(_ value: Float) -> Float { Float((Double(value) - spec.mean) / spec.standardDeviation) }
}
