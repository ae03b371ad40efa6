import Foundation

/// What a stroke model is made of and how it reads drawings. Stored in the model file.
public struct StrokeModelConfiguration: Codable, Sendable, RecurrentHyperparameters {
    public var cell: CellKind = .lstm
    public var hiddenSize = 256
    public var numLayers = 1
    public var dropout: Float = 0
    public var learningRate = 0.001
    public var embeddingSize = 32
    public var componentCount = 20
    /// Condition on the character (an embedding joined to every step).
    public var conditional = true
    /// When conditional, start the recurrent state from the character's embedding too
    /// (`StrokeNetworkArchitecture.initialStateFromCharacter`).
    public var initialStateFromCharacter = true
    /// Simplification tolerance, in the drawing's units (KanjiVG: a 109-unit square).
    public var epsilon = 1.0

    public init() {}

    /// Files written before `initialStateFromCharacter` existed read as false: they started from zeros.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        cell = try values.decode(CellKind.self, forKey: .cell)
        hiddenSize = try values.decode(Int.self, forKey: .hiddenSize)
        numLayers = try values.decode(Int.self, forKey: .numLayers)
        dropout = try values.decode(Float.self, forKey: .dropout)
        learningRate = try values.decode(Double.self, forKey: .learningRate)
        embeddingSize = try values.decode(Int.self, forKey: .embeddingSize)
        componentCount = try values.decode(Int.self, forKey: .componentCount)
        conditional = try values.decode(Bool.self, forKey: .conditional)
        initialStateFromCharacter = try values.decodeIfPresent(Bool.self, forKey: .initialStateFromCharacter) ?? false
        epsilon = try values.decode(Double.self, forKey: .epsilon)
    }
}

/// The drawings of a run as stroke-5 sequences, with the characters and the scale.
public struct StrokeDataset: Sendable {
    public var characters: [String]
    /// Offsets are divided by this: their standard deviation over the training drawings.
    public var scale: Double
    /// Where every drawing starts from: the centre of the training drawings' bounds.
    public var origin: DrawingPoint
    public var training: [(character: Int, steps: [[Float]])]
    public var validation: [(character: Int, steps: [[Float]])]
    /// Per character, the mean first offset (dx, dy) of its training drawings: where the pen
    /// starts, relative to `origin`, in scaled units.
    public var firstOffsets: [[Float]]

    /// Base forms train and variants of their characters validate (KanjiVG's `-Kaisho` files...);
    /// without variants, every 20th drawing validates.
    public init(drawings: [StrokeDrawing]) throws {
        var trainingDrawings = drawings.filter { $0.variant == nil }
        var validationDrawings = drawings.filter { $0.variant != nil }
        if validationDrawings.isEmpty || trainingDrawings.isEmpty {
            trainingDrawings = drawings.indices.filter { ($0 + 1) % 20 != 0 }.map { drawings[$0] }
            validationDrawings = drawings.indices.filter { ($0 + 1) % 20 == 0 }.map { drawings[$0] }
        }
        guard !trainingDrawings.isEmpty else { throw RecurrentError.invalidArgument("there is no drawing to train on") }
        characters = Array(Set(trainingDrawings.map(\.label))).sorted()
        let index = Dictionary(uniqueKeysWithValues: characters.enumerated().map { ($1, $0) })
        validationDrawings = validationDrawings.filter { index[$0.label] != nil }
        let points = trainingDrawings.flatMap { $0.strokes.joined() }
        let xs = points.map(\.x), ys = points.map(\.y)
        let centre = DrawingPoint(x: ((xs.min() ?? 0) + (xs.max() ?? 0)) / 2, y: ((ys.min() ?? 0) + (ys.max() ?? 0)) / 2)
        let offsets = trainingDrawings.flatMap { $0.stroke5(origin: centre, scale: 1).dropLast().flatMap { [Double($0[0]), Double($0[1])] } }
        let mean = offsets.reduce(0, +) / Double(max(offsets.count, 1))
        let deviation = max(1e-6, (offsets.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(offsets.count, 1))).squareRoot())
        origin = centre
        scale = deviation
        training = trainingDrawings.map { (index[$0.label] ?? 0, $0.stroke5(origin: centre, scale: deviation)) }
        validation = validationDrawings.map { (index[$0.label] ?? 0, $0.stroke5(origin: centre, scale: deviation)) }
        var sums = [[Float]](repeating: [0, 0, 0], count: characters.count)
        for (character, steps) in training where steps.count > 1 {
            sums[character][0] += steps[0][0]; sums[character][1] += steps[0][1]; sums[character][2] += 1
        }
        firstOffsets = sums.map { $0[2] > 0 ? [$0[0] / $0[2], $0[1] / $0[2]] : [0, 0] }
    }
}

struct StrokeModelSpec: Codable {
    var configuration: StrokeModelConfiguration
    var characters: [String]
    var scale: Double
    var originX: Double
    var originY: Double
    /// `StrokeDataset.firstOffsets`; absent from files written before it existed.
    var firstOffsets: [[Float]]?
}

/// Pen strokes written by a recurrent network with a mixture density output (Graves 2013,
/// sketch-rnn's decoder), conditioned on the character to draw.
public final class StrokeModel {
    public let model: Model
    public let network: StrokeNetwork
    let spec: StrokeModelSpec
    public var characters: [String] { spec.characters }
    /// The simplification tolerance its drawings were read with.
    public var epsilon: Double { spec.configuration.epsilon }
    var head: MixtureDensityHead { network.architecture.head }

    init(model: Model, network: StrokeNetwork, spec: StrokeModelSpec) {
        self.model = model
        self.network = network
        self.spec = spec
    }

    public convenience init(contentsOf path: String) throws {
        let (model, spec) = try Model.loadTask(path, task: "strokes", specKey: "strokes", as: StrokeModelSpec.self,
                                               kind: "a stroke model", trainCommand: "recurrent strokes train SVG_DIR")
        guard let network = model.layer as? StrokeNetwork, network.architecture.characterCount == (spec.configuration.conditional ? spec.characters.count : 0) else {
            throw RecurrentError.invalidFile(path: path, reason: "the stroke network does not match its \(spec.characters.count) characters")
        }
        self.init(model: model, network: network, spec: spec)
    }

    /// Inputs [B, T, 5] (each sequence one step later, after the start step (0, 0, 1, 0, 0)),
    /// targets [B, T, 5], the mask [B, T] of real steps, and the characters.
    static func teacherForcing(_ drawings: [(character: Int, steps: [[Float]])]) -> (inputs: Tensor, targets: Tensor, mask: Tensor, characters: [Int]) {
        let time = max(1, drawings.map(\.steps.count).max() ?? 1)
        var inputs = [Float](repeating: 0, count: drawings.count * time * 5), targets = inputs
        var mask = [Float](repeating: 0, count: drawings.count * time)
        for (b, drawing) in drawings.enumerated() {
            inputs[b * time * 5 + 2] = 1
            for (t, step) in drawing.steps.enumerated() {
                mask[b * time + t] = 1
                for k in 0..<5 {
                    targets[(b * time + t) * 5 + k] = step[k]
                    if t + 1 < time { inputs[(b * time + t + 1) * 5 + k] = step[k] }
                }
            }
        }
        return (Tensor(shape: [drawings.count, time, 5], scalars: inputs), Tensor(shape: [drawings.count, time, 5], scalars: targets),
                Tensor(shape: [drawings.count, time], scalars: mask), drawings.map(\.character))
    }

    /// The mean negative log-likelihood per stroke-5 step (the end step included), in units of
    /// the scaled offsets.
    public func evaluate(_ drawings: [(character: Int, steps: [[Float]])]) throws -> Double {
        try Self.evaluate(network, drawings)
    }

    static func evaluate(_ network: StrokeNetwork, _ drawings: [(character: Int, steps: [[Float]])]) throws -> Double {
        let order = drawings.indices.sorted { (drawings[$0].steps.count, $0) < (drawings[$1].steps.count, $1) }
        var total = 0.0, steps = 0.0
        try GradientMode.withoutRecording {
            for batch in Batching.consecutive(order, batchSize: 64) {
                let (inputs, targets, mask, characters) = teacherForcing(batch.map { drawings[$0] })
                let output = network.run(inputs, characters: characters, state: nil, lengths: Batching.lengths(mask: mask)).output
                let count = Double(mask.sum())
                total += Double(try network.architecture.head.negativeLogLikelihood(output: output, targets: targets, mask: mask).value.scalar) * count
                steps += count
            }
        }
        return steps > 0 ? total / steps : 0
    }

    /// Trains on `data.training`. The held-out drawings choose the epoch whose weights are kept
    /// (and can stop training early) unless `keepingLastEpoch`: then they are only measured at
    /// the end. With one drawing per character, the epoch best on held-out variants comes long
    /// before the model can draw its characters freely.
    public static func train(_ data: StrokeDataset, configuration c: StrokeModelConfiguration, options: TrainingOptions,
                             keepingLastEpoch: Bool = false, progress: ProgressReporter? = nil) throws -> (StrokeModel, TrainingHistory, Double?) {
        let architecture = StrokeNetworkArchitecture(characterCount: c.conditional ? data.characters.count : 0, embeddingSize: c.embeddingSize,
                                                     cell: c.cell, hiddenSize: c.hiddenSize, numLayers: c.numLayers, dropout: c.dropout,
                                                     componentCount: c.componentCount, initialStateFromCharacter: c.initialStateFromCharacter)
        try architecture.validate()
        let network = StrokeNetwork(architecture, seed: options.seed)
        let spec = StrokeModelSpec(configuration: c, characters: data.characters, scale: data.scale, originX: data.origin.x, originY: data.origin.y,
                                   firstOffsets: data.firstOffsets)
        let strokeModel = StrokeModel(model: Model(network), network: network, spec: spec)
        let trainer = Trainer(optimizer: try Adam(network.parameters, learningRate: c.learningRate), options: options, progress: progress)
        let lengths = data.training.map(\.steps.count)
        trainer.batchPlan = { order, epoch in
            Batching.bucketedByLength(order, lengths: lengths, batchSize: options.batchSize, seed: options.seed &+ UInt64(epoch))
        }
        var fingerprint = Fingerprint()
        for drawing in data.training + data.validation {
            fingerprint.add(drawing.character)
            fingerprint.add(Tensor(shape: [drawing.steps.count * 5], scalars: Array(drawing.steps.joined())))
        }
        trainer.identity = try RunIdentity(configuration: c, data: fingerprint)
        trainer.validationSampleCount = keepingLastEpoch ? 0 : data.validation.count
        // The loss is a mean over stroke-5 steps.
        trainer.shardWeight = { batch in Double(batch.reduce(0) { $0 + data.training[$1].steps.count }) }
        let history = try trainer.fit(sampleCount: data.training.count, loss: { batch in
            let (inputs, targets, mask, characters) = teacherForcing(batch.map { data.training[$0] })
            let output = network.run(inputs, characters: characters, state: nil, lengths: Batching.lengths(mask: mask)).output
            return try architecture.head.negativeLogLikelihood(output: output, targets: targets, mask: mask)
        }, validationLoss: data.validation.isEmpty || keepingLastEpoch ? nil : { try evaluate(network, data.validation) })
        try strokeModel.model.setMetadata("task", "strokes")
        try strokeModel.model.setMetadata("strokes", spec)
        try strokeModel.model.setMetadata("training", history)
        let validation = data.validation.isEmpty ? nil : try evaluate(network, data.validation)
        return (strokeModel, history, validation)
    }

    /// Whether the model file holds each character's mean first offset (files written before
    /// it existed do not).
    public var knowsFirstOffsets: Bool { spec.firstOffsets?.count == characters.count }

    /// Draws each of `characters` (indices into `self.characters`), a batch at once, from the
    /// start step until the end state or `maximumSteps`, sampling at `temperature`. With
    /// `firstOffsetFromData`, the pen starts where the character's training drawings start on
    /// average instead of where the model samples.
    public func generate(characters requested: [Int], temperature: Double = 0.5, seed: UInt64 = 0, maximumSteps: Int = 250,
                         firstOffsetFromData: Bool = false) throws -> [[[DrawingPoint]]] {
        guard temperature > 0, temperature.isFinite else { throw RecurrentError.invalidArgument("the temperature must be positive, got \(temperature)") }
        guard !requested.isEmpty, requested.allSatisfy({ characters.indices.contains($0) }) else {
            throw RecurrentError.invalidArgument("generation needs characters the model knows")
        }
        let firstOffsets = firstOffsetFromData ? spec.firstOffsets ?? [] : []
        guard !firstOffsetFromData || knowsFirstOffsets else {
            throw RecurrentError.invalidArgument("this model file does not hold its characters' first offsets (it was written before they were stored); train it again")
        }
        let count = requested.count, width = head.outputSize
        var rng = SplitMix64(seed: seed)
        var steps = [[[Float]]](repeating: [], count: count)
        var ended = [Bool](repeating: false, count: count)
        var previous = [Float](repeating: 0, count: count * 5)
        for row in 0..<count { previous[row * 5 + 2] = 1 }
        var state: RecurrentLayer.State? = nil
        GradientMode.withoutRecording {
            for t in 0..<maximumSteps where ended.contains(false) {
                let result = network.run(Tensor(shape: [count, 1, 5], scalars: previous), characters: requested, state: state)
                state = result.state
                let output = result.output.value.scalars
                for row in 0..<count where !ended[row] {
                    let (dx, dy, pen) = head.distribution(output[(row * width)..<((row + 1) * width)], temperature: temperature).sample(using: &rng)
                    var step: [Float] = [Float(dx), Float(dy), pen == 0 ? 1 : 0, pen == 1 ? 1 : 0, pen == 2 ? 1 : 0]
                    if t == 0, !firstOffsets.isEmpty { step = firstOffsets[requested[row]] + [1, 0, 0] }
                    steps[row].append(step)
                    previous.replaceSubrange((row * 5)..<(row * 5 + 5), with: step)
                    if pen == 2 { ended[row] = true }
                }
            }
        }
        let origin = DrawingPoint(x: spec.originX, y: spec.originY)
        return steps.map { StrokeDrawing.strokes(fromStroke5: $0, origin: origin, scale: spec.scale) }
    }
}

/// Drawings in a grid of square cells as SVG, each labelled underneath.
public struct StrokeGridPicture {
    public var drawings: [[[DrawingPoint]]]
    public var labels: [String]
    public var columns: Int
    /// The drawings' own square (KanjiVG: 0...109).
    public var box: Double

    public init(drawings: [[[DrawingPoint]]], labels: [String], columns: Int = 6, box: Double = 109) {
        self.drawings = drawings
        self.labels = labels
        self.columns = max(1, columns)
        self.box = box
    }

    public func render() -> String {
        let cell = 130.0, label = 22.0
        let rows = (drawings.count + columns - 1) / columns
        let width = Double(min(columns, max(drawings.count, 1))) * cell, height = Double(rows) * (cell + label)
        var body = ""
        for (index, strokes) in drawings.enumerated() {
            let x0 = Double(index % columns) * cell, y0 = Double(index / columns) * (cell + label)
            let s = (cell - 10) / box
            let frame = "x=\"\(x0 + 4)\" y=\"\(y0 + 4)\" width=\"\(cell - 8)\" height=\"\(cell - 8)\""
            body += "<rect \(frame) fill=\"none\" stroke=\"#ddd\"/>\n"
            // Strokes that wander out of the box are cut at its edge rather than drawn over the neighbours.
            body += "<clipPath id=\"cell\(index)\"><rect \(frame)/></clipPath>\n<g clip-path=\"url(#cell\(index))\">\n"
            for stroke in strokes where stroke.count >= 2 {
                let points = stroke.map { String(format: "%.1f,%.1f", x0 + 5 + $0.x * s, y0 + 5 + $0.y * s) }.joined(separator: " ")
                body += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"black\" stroke-width=\"3\" stroke-linecap=\"round\" stroke-linejoin=\"round\"/>\n"
            }
            body += "</g>\n"
            let text = index < labels.count ? PianoRollPicture.escaped(labels[index]) : ""
            body += "<text x=\"\(x0 + cell / 2)\" y=\"\(y0 + cell + 14)\" font-size=\"13\" text-anchor=\"middle\" font-family=\"sans-serif\">\(text)</text>\n"
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
    }

    public func write(to path: String) throws { try AtomicFile.write(Data(render().utf8), to: path) }
}
