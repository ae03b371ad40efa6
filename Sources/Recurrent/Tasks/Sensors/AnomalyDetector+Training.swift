import Foundation

/// One signal for anomaly detection: its values, optional 0/1 labels, and the file they came
/// from (for error messages).
public struct LabelledSignal: Sendable {
    public var path: String
    public var column: String
    public var values: [Float]
    /// 1 marks an anomalous step; nil when the file has no labels.
    public var labels: [Int]?
    public var lineNumbers: [Int]

    public init(path: String, column: String, values: [Float], labels: [Int]? = nil, lineNumbers: [Int]? = nil) {
        self.path = path
        self.column = column
        self.values = values
        self.labels = labels
        self.lineNumbers = lineNumbers ?? values.indices.map { $0 + 2 }
    }

    /// Reads `column` (numbers) and `labelColumn` (0 or 1) of a CSV; anything else is an error
    /// naming the line and column.
    public init(table: CSVTable, column: String, labelColumn: String? = nil) throws {
        let valueIndex = try table.columnIndex(column)
        let labelIndex = try labelColumn.map(table.columnIndex)
        path = table.path
        self.column = column
        values = try table.rows.indices.map { try table.number(row: $0, column: valueIndex) }
        labels = try labelIndex.map { index in
            try table.rows.indices.map { row in
                switch table.rows[row][index].trimmingCharacters(in: .whitespaces) {
                case "0": return 0
                case "1": return 1
                case let cell:
                    throw RecurrentError.invalidFile(path: table.path,
                        reason: "\(table.location(row: row, column: index)): label \"\(cell)\" is not 0 (normal) or 1 (anomalous)")
                }
            }
        }
        lineNumbers = table.lineNumbers
    }
}

extension AnomalyDetector {
    /// Trains on the steps taken as normal: `normal[t]` true (all of them when nil). Windows of
    /// `window + 1` normal steps are cut every quarter window; the loss is the Gaussian negative
    /// log-likelihood of each next value after the burn-in. The threshold is then the highest
    /// score over the normal steps.
    public static func train(signal: LabelledSignal, normal: [Bool]? = nil, configuration: AnomalyConfiguration,
                             options: TrainingOptions, progress: ProgressReporter? = nil) throws -> (AnomalyDetector, TrainingHistory) {
        let c = configuration
        guard c.window > c.burnIn, c.burnIn >= 0, c.smoothing > 0, c.hiddenSize > 0, c.mergeGap >= 0 else {
            throw RecurrentError.invalidArgument("the window (\(c.window)) must exceed the burn-in (\(c.burnIn)); smoothing and hidden size must be positive")
        }
        let normal = normal ?? Array(repeating: true, count: signal.values.count)
        let normalValues = zip(signal.values, normal).filter(\.1).map { Double($0.0) }
        guard normalValues.count > c.window else {
            throw RecurrentError.invalidFile(path: signal.path, reason: "\(normalValues.count) normal steps of \"\(signal.column)\" "
                + "are too few for one training window of \(c.window) steps and the next value; give a shorter --window")
        }
        let mean = normalValues.reduce(0, +) / Double(normalValues.count)
        let deviation = (normalValues.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(normalValues.count)).squareRoot()
        guard deviation > 0 else {
            throw RecurrentError.invalidFile(path: signal.path, reason: "column \"\(signal.column)\" is constant (\(mean)) over the "
                + "normal steps: it cannot be standardised")
        }
        let starts = windowStarts(normal: normal, length: c.window + 1, stride: max(1, c.window / 4))
        guard !starts.isEmpty else {
            throw RecurrentError.invalidFile(path: signal.path, reason: "no run of \(c.window + 1) consecutive normal steps: "
                + "give a shorter --window")
        }
        let detector = try make(spec: AnomalySpec(configuration: c, column: signal.column, mean: mean, standardDeviation: deviation,
                                                  threshold: 0), seed: options.seed)
        let z = signal.values.map(detector.standardised)
        let optimizer = try Adam(detector.model.layer.parameters, learningRate: c.learningRate)
        var options = options
        if options.schedule == .constant {
            let batches = (starts.count + options.batchSize - 1) / max(1, options.batchSize)
            // Under a step or time limit alone the epochs are `TrainingOptions.untilLimit`: the product saturates.
            let (planned, overflow) = batches.multipliedReportingOverflow(by: options.epochs)
            options.schedule = .cosineAnnealing(steps: max(1, min(options.maxSteps ?? Int.max, overflow ? Int.max : planned)))
        }
        let mask = Tensor(shape: [1, c.window], scalars: (0..<c.window).map { $0 < c.burnIn ? 0 : 1 })
        let trainer = Trainer(optimizer: optimizer, options: options, progress: progress)
        var data = Fingerprint()
        data.add(starts)
        data.add(Tensor(shape: [z.count], scalars: z))
        trainer.identity = try RunIdentity(configuration: c, data: data)
        let history = try trainer.fit(sampleCount: starts.count, loss: { batch in
            let inputs = batch.flatMap { z[starts[$0]..<(starts[$0] + c.window)] }
            let targets = batch.flatMap { z[(starts[$0] + 1)...(starts[$0] + c.window)] }
            let raw = try detector.forecast(Variable(Tensor(shape: [batch.count, c.window, 1], scalars: inputs)))
            let batchMask = Tensor(shape: [batch.count, c.window], scalars: Array((0..<batch.count).map { _ in mask.scalars }.joined()))
            return try DistributionKind.gaussian.negativeLogLikelihood(raw, Tensor(shape: [batch.count, c.window], scalars: targets),
                                                                       mask: batchMask)
        })
        try detector.model.setMetadata("training", history)
        let scores = try detector.score(signal.values).scores
        detector.spec.threshold = zip(scores, normal).dropFirst(c.window).filter(\.1).map(\.0).max() ?? 0
        return (detector, history)
    }

    /// The first step of every run of `length` steps that are all normal, every `stride` steps.
    static func windowStarts(normal: [Bool], length: Int, stride: Int) -> [Int] {
        var starts: [Int] = [], runStart = 0
        for t in 0...normal.count {
            if t < normal.count, normal[t] { continue }
            var start = runStart
            while start + length <= t {
                starts.append(start)
                start += stride
            }
            runStart = t + 1
        }
        return starts
    }
}
