import Foundation

/// What a forecaster is made of and how it reads its data. Stored in the model file.
public struct ForecastConfiguration: Codable, Sendable {
    /// Past steps the model sees.
    public var window: Int = 20
    /// Steps it predicts at once (direct multi-output).
    public var horizon: Int = 1
    public var cell: CellKind = .lstm
    public var hiddenSize: Int = 32
    public var numLayers: Int = 1
    public var dropout: Float = 0
    public var learningRate: Double = 0.01
    /// Fractions of the series, in time order, kept for validation and for the test.
    public var validationFraction: Double = 0.15
    public var testFraction: Double = 0.15
    public var scaler: Scaler.Kind = .standard

    public init() {}
}

/// Test figures of a model beside the naive forecast (the last value seen), on the same windows,
/// in the data's own units.
public struct ForecastReport: Codable, Sendable {
    public var testWindows: Int
    public var modelRMSE: Double
    public var naiveRMSE: Double
    public var modelMAE: Double
    public var naiveMAE: Double
    public var history: TrainingHistory
}

/// A univariate forecaster: windows of a series -> recurrent stack -> Dense -> the next values.
public final class Forecaster {
    public let model: Model
    public let configuration: ForecastConfiguration
    public let scaler: Scaler

    init(model: Model, configuration: ForecastConfiguration, scaler: Scaler) {
        self.model = model
        self.configuration = configuration
        self.scaler = scaler
    }

    /// Splits `series` in time order, fits the scaler on the training part only, trains, and
    /// measures the test part against the naive forecast.
    public static func train(series: [Double], configuration: ForecastConfiguration, options: TrainingOptions,
                             progress: ProgressReporter? = nil) throws -> (Forecaster, ForecastReport) {
        let c = configuration
        guard c.window > 0, c.horizon > 0 else { throw RecurrentError.invalidArgument("window and horizon must be positive") }
        let trainEnd = Int(Double(series.count) * (1 - c.validationFraction - c.testFraction))
        let validationEnd = Int(Double(series.count) * (1 - c.testFraction))
        guard trainEnd >= c.window + c.horizon + 1 else {
            throw RecurrentError.invalidArgument(
                "\(series.count) values are too few for a window of \(c.window) and a horizon of \(c.horizon) "
                    + "(the training part needs at least \(c.window + c.horizon + 1))")
        }
        let scaler = Scaler(kind: c.scaler, fittingColumns: [Array(series[..<trainEnd])])
        let scaled = series.map { [Float(scaler.transform($0, feature: 0))] }
        let windows = SlidingWindows(steps: scaled, window: c.window, horizon: c.horizon, targetFeature: 0)
        // A window belongs to the part where its first target lies, so no target leaks backwards.
        let targetStart = { (index: Int) in index + c.window }
        let trainIndices = (0..<windows.count).filter { targetStart($0) + c.horizon <= trainEnd }
        let validationIndices = (0..<windows.count).filter { targetStart($0) >= trainEnd && targetStart($0) < validationEnd }
        let testIndices = (0..<windows.count).filter { targetStart($0) >= validationEnd }
        guard !testIndices.isEmpty else { throw RecurrentError.invalidArgument("no test windows: the series is too short for the test fraction") }

        let layer = Sequential {
            RecurrentLayer(RecurrentConfiguration(cell: c.cell, inputSize: 1, hiddenSize: c.hiddenSize, numLayers: c.numLayers,
                                                  dropout: c.dropout, output: .lastState), seed: options.seed)
            Dense(inputSize: c.hiddenSize, outputSize: c.horizon, seed: options.seed &+ 1)
        }
        let trainX = windows.inputs.gathering(trainIndices), trainY = windows.targets.gathering(trainIndices)
        let optimizer = try Adam(layer.parameters, learningRate: c.learningRate)
        let trainer = Trainer(optimizer: optimizer, options: options, progress: progress)
        let validation: (() throws -> Double)? = validationIndices.isEmpty ? nil : {
            let x = windows.inputs.gathering(validationIndices), y = windows.targets.gathering(validationIndices)
            return Double(try Loss.meanSquaredError(layer(Variable(x)), y).value.scalar)
        }
        let history = try trainer.fit(sampleCount: trainIndices.count, loss: { batch in
            try Loss.meanSquaredError(layer(Variable(trainX.gathering(batch))), trainY.gathering(batch))
        }, validationLoss: validation)

        let forecaster = Forecaster(model: Model(layer), configuration: c, scaler: scaler)
        try forecaster.model.setMetadata("task", "forecast")
        try forecaster.model.setMetadata("forecast", c)
        try forecaster.model.setMetadata("scaler", scaler)
        try forecaster.model.setMetadata("training", history)

        let testX = windows.inputs.gathering(testIndices)
        let predicted = GradientMode.withoutRecording { layer(Variable(testX)) }.value
        var modelErrors: [Double] = [], naiveErrors: [Double] = []
        for (row, index) in testIndices.enumerated() {
            let lastSeen = series[index + c.window - 1]
            for h in 0..<c.horizon {
                let truth = series[index + c.window + h]
                modelErrors.append(scaler.inverse(Double(predicted.scalars[row * c.horizon + h]), feature: 0) - truth)
                naiveErrors.append(lastSeen - truth)
            }
        }
        let report = ForecastReport(
            testWindows: testIndices.count, modelRMSE: rootMeanSquare(modelErrors), naiveRMSE: rootMeanSquare(naiveErrors),
            modelMAE: meanAbsolute(modelErrors), naiveMAE: meanAbsolute(naiveErrors), history: history)
        return (forecaster, report)
    }

    /// The next `steps` values after the end of `series`: direct for up to `horizon` steps, then
    /// recursively, feeding predictions back as inputs.
    public func forecast(after series: [Double], steps: Int) throws -> [Double] {
        let c = configuration
        guard series.count >= c.window else {
            throw RecurrentError.invalidArgument("forecasting needs at least \(c.window) values (the window), got \(series.count)")
        }
        var known = series.map { scaler.transform($0, feature: 0) }
        var result: [Double] = []
        while result.count < steps {
            let window = known.suffix(c.window).map { Float($0) }
            let x = Tensor(shape: [1, c.window, 1], scalars: window)
            let next = GradientMode.withoutRecording { model.layer(Variable(x)) }.value.scalars.map { Double($0) }
            known += next
            result += next.map { scaler.inverse($0, feature: 0) }
        }
        return Array(result.prefix(steps))
    }
}

func rootMeanSquare(_ values: [Double]) -> Double {
    values.isEmpty ? 0 : (values.reduce(0) { $0 + $1 * $1 } / Double(values.count)).squareRoot()
}

func meanAbsolute(_ values: [Double]) -> Double {
    values.isEmpty ? 0 : values.reduce(0) { $0 + abs($1) } / Double(values.count)
}
