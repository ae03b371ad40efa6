import Foundation

/// What a chorale model is made of and how it reads scores. Stored in the model file.
public struct ChoraleModelConfiguration: Codable, Sendable, RecurrentHyperparameters {
    public var cell: CellKind = .lstm
    public var hiddenSize = 128
    public var numLayers = 1
    public var dropout: Float = 0.2
    public var learningRate = 0.002
    /// Quarter notes per step: 1/2 an eighth note, 1/4 a sixteenth.
    public var stepLength = Fraction(1, 2)
    /// Move every chorale to C major or C minor before reading it.
    public var transposeToC = true

    public init() {}

    public func validate() throws {
        for (value, name) in [(hiddenSize, "hidden size"), (numLayers, "layer count")] where value < 1 {
            throw RecurrentError.invalidArgument("the \(name) must be positive, got \(value)")
        }
        guard stepLength > .zero, stepLength <= Fraction(4) else {
            throw RecurrentError.invalidArgument("the step must be a positive fraction of a quarter note up to 4, got \(stepLength)")
        }
    }
}

/// Negative log-likelihood per step of piano rolls under a chorale model.
public struct ChoraleEvaluation: Codable, Sendable {
    public var chorales: Int
    public var steps: Int
    /// Nats per step (summed over the 88 keys).
    public var negativeLogLikelihood: Double
}

/// Piano rolls modelled step by step: the roll up to step t - 1 (a silent step first) ->
/// recurrent layers -> Dropout -> Dense over the 88 keys -> independent Bernoulli outputs
/// (`BernoulliHead`) for step t. The network is a `Sequential` of those three layers.
public final class ChoraleModel {
    public let model: Model
    public let configuration: ChoraleModelConfiguration
    let recurrent: RecurrentLayer
    let dropout: Dropout
    let output: Dense
    let head = BernoulliHead(unitCount: PianoRoll.pitchCount)

    init(model: Model, configuration: ChoraleModelConfiguration) throws {
        let layers = (model.layer as? Sequential)?.layers ?? []
        guard layers.count == 3, let recurrent = layers[0] as? RecurrentLayer, let dropout = layers[1] as? Dropout,
              let output = layers[2] as? Dense, recurrent.configuration.inputSize == PianoRoll.pitchCount,
              output.outputSize == PianoRoll.pitchCount else {
            throw RecurrentError.invalidArgument("the model is not a piano-roll network over \(PianoRoll.pitchCount) keys")
        }
        self.model = model
        self.configuration = configuration
        self.recurrent = recurrent
        self.dropout = dropout
        self.output = output
    }

    /// Loads a model written by `train` and `model.save(to:)`.
    public convenience init(contentsOf path: String) throws {
        let (model, configuration) = try Model.loadTask(path, task: "music-chorales", specKey: "chorales", as: ChoraleModelConfiguration.self,
                                                        kind: "a piano-roll model", trainCommand: "recurrent music train --format pianoroll SCORES")
        do {
            try self.init(model: model, configuration: configuration)
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: error.description)
        }
    }

    /// An untrained model.
    public static func untrained(configuration c: ChoraleModelConfiguration, seed: UInt64) throws -> ChoraleModel {
        try c.validate()
        let recurrentConfiguration = RecurrentConfiguration(cell: c.cell, inputSize: PianoRoll.pitchCount, hiddenSize: c.hiddenSize,
                                                            numLayers: c.numLayers, dropout: c.dropout, output: .sequence)
        try recurrentConfiguration.validate()
        let network = Sequential {
            RecurrentLayer(recurrentConfiguration, seed: seed)
            Dropout(probability: c.dropout, seed: seed &+ 1)
            Dense(inputSize: c.hiddenSize, outputSize: PianoRoll.pitchCount, seed: seed &+ 2)
        }
        let model = Model(network)
        try model.setMetadata("task", "music-chorales")
        try model.setMetadata("chorales", c)
        return try ChoraleModel(model: model, configuration: c)
    }

    /// Inputs [B, T, P] (each roll shifted one step later, a silent step first), targets
    /// [B, T, P] and the mask [B, T] of the real steps; T is the longest roll.
    static func teacherForcing(_ rolls: [PianoRoll]) -> (inputs: Tensor, targets: Tensor, mask: Tensor) {
        let p = PianoRoll.pitchCount, time = max(1, rolls.map(\.steps.count).max() ?? 1)
        var inputs = [Float](repeating: 0, count: rolls.count * time * p), targets = inputs
        var mask = [Float](repeating: 0, count: rolls.count * time)
        for (b, roll) in rolls.enumerated() {
            for (t, step) in roll.steps.enumerated() {
                mask[b * time + t] = 1
                for (key, on) in step.enumerated() where on {
                    targets[(b * time + t) * p + key] = 1
                    if t + 1 < time { inputs[(b * time + t + 1) * p + key] = 1 }
                }
            }
        }
        return (Tensor(shape: [rolls.count, time, p], scalars: inputs), Tensor(shape: [rolls.count, time, p], scalars: targets),
                Tensor(shape: [rolls.count, time], scalars: mask))
    }

    /// The logits [B, T, P] of every step; with `lengths`, steps past a roll's length are left
    /// out (their logits are not used).
    func logits(_ inputs: Tensor, lengths: [Int]? = nil) -> Variable {
        output(dropout(recurrent.forward(Variable(inputs), initialState: nil, lengths: lengths).output))
    }

    /// The mean negative log-likelihood per step, in batches of similar lengths.
    /// With a `communicator`, each process scores its share of the batches; the batches' sums
    /// are added in batch order, so the figure is the same, bit for bit, on any number of processes.
    public func evaluate(_ rolls: [PianoRoll], communicator: (any Communicator)? = nil) throws -> ChoraleEvaluation {
        let order = rolls.indices.sorted { (rolls[$0].steps.count, $0) < (rolls[$1].steps.count, $1) }
        let sums = try Communicators.mapInOrder(Batching.consecutive(order, batchSize: 32), over: communicator) { batches in
            try GradientMode.withoutRecording {
                try batches.map { batch in
                    let (inputs, targets, mask) = Self.teacherForcing(batch.map { rolls[$0] })
                    let count = Int(mask.sum())
                    let mean = try head.negativeLogLikelihood(logits: logits(inputs, lengths: Batching.lengths(mask: mask)), targets: targets, mask: mask).value.scalar
                    return LossSum(total: Double(mean) * Double(count), count: count)
                }
            }
        }
        let total = LossSum.combined(sums)
        return ChoraleEvaluation(chorales: rolls.count, steps: total.count, negativeLogLikelihood: total.mean)
    }

    /// Learns from `training` rolls, validating on `validation` after every epoch and keeping
    /// the best validated parameters.
    public static func train(training: [PianoRoll], validation: [PianoRoll], configuration: ChoraleModelConfiguration,
                             options: TrainingOptions, progress: ProgressReporter? = nil) throws -> (ChoraleModel, TrainingHistory, ChoraleEvaluation?) {
        guard !training.isEmpty else { throw RecurrentError.invalidArgument("there is no chorale to train on") }
        let choraleModel = try untrained(configuration: configuration, seed: options.seed)
        let trainer = Trainer(optimizer: try Adam(choraleModel.model.layer.parameters, learningRate: configuration.learningRate),
                              options: options, progress: progress)
        let lengths = training.map(\.steps.count)
        trainer.batchPlan = { order, epoch in
            Batching.bucketedByLength(order, lengths: lengths, batchSize: options.batchSize, seed: options.seed &+ UInt64(epoch))
        }
        var data = Fingerprint()
        for roll in training + validation {
            data.add(roll.steps.count)
            for step in roll.steps { data.add(step.indices.filter { step[$0] }) }
        }
        trainer.identity = try RunIdentity(configuration: configuration, data: data)
        trainer.validationSampleCount = validation.count
        // The loss is a mean over steps.
        trainer.shardWeight = { batch in Double(batch.reduce(0) { $0 + training[$1].steps.count }) }
        let history = try trainer.fit(sampleCount: training.count, loss: { batch in
            let (inputs, targets, mask) = teacherForcing(batch.map { training[$0] })
            return try choraleModel.head.negativeLogLikelihood(logits: choraleModel.logits(inputs, lengths: Batching.lengths(mask: mask)), targets: targets, mask: mask)
        }, validationLoss: validation.isEmpty ? nil : { try choraleModel.evaluate(validation).negativeLogLikelihood })
        try choraleModel.model.setMetadata("training", history)
        let figures = validation.isEmpty ? nil : try choraleModel.evaluate(validation)
        if let figures { try choraleModel.model.setMetadata("validation", figures) }
        return (choraleModel, history, figures)
    }

    /// `count` rolls of `steps` steps, drawn step by step from a silent start: each key on with
    /// its probability at `temperature`, at most `maximumVoices` keys at once (the likeliest).
    public func generate(count: Int, steps: Int, temperature: Float = 1, maximumVoices: Int = 4, seed: UInt64 = 0) throws -> [PianoRoll] {
        guard count >= 1, steps >= 1 else { throw RecurrentError.invalidArgument("generation needs at least one roll of one step") }
        guard temperature > 0, temperature.isFinite else { throw RecurrentError.invalidArgument("the temperature must be positive, got \(temperature)") }
        let p = PianoRoll.pitchCount
        var rng = SplitMix64(seed: seed)
        var rolls = [[[Bool]]](repeating: [], count: count)
        var state: RecurrentLayer.State? = nil
        var previous = [Float](repeating: 0, count: count * p)
        try GradientMode.withoutRecording {
            for _ in 0..<steps {
                let result = try recurrent.run(Variable(Tensor(shape: [count, 1, p], scalars: previous)), initialState: state)
                state = result.state
                let logits = output(result.output).value.scalars
                for row in 0..<count {
                    let step = head.sample(logits: Array(logits[(row * p)..<((row + 1) * p)]), temperature: temperature,
                                           maximumOn: maximumVoices, using: &rng)
                    rolls[row].append(step)
                    for key in 0..<p { previous[row * p + key] = step[key] ? 1 : 0 }
                }
            }
        }
        return rolls.map { PianoRoll(stepLength: configuration.stepLength, steps: $0) }
    }
}
