import Foundation

/// How a forecaster reaches steps beyond the next one.
public enum ForecastStrategy: String, Codable, Sendable, CaseIterable {
    /// One output per step ahead, all at once (the target only).
    case direct
    /// One step of every feature at a time, fed back as input for the next.
    case recursive
}

/// The value a forecaster's outputs are changes from.
public enum ForecastReference: String, Codable, Sendable, CaseIterable {
    /// The outputs are the values themselves.
    case none
    /// The window's last value (the naive forecast).
    case lastValue
    /// The value one season before the forecast step (the seasonal naive forecast).
    case seasonalNaive
    /// The last value plus the change over the same steps one season earlier: the seasonal
    /// pattern moved to the current level.
    case seasonalChange
    /// The standard Theta method's forecast from the whole history (models of many series only).
    case theta
    /// The mean of the Theta method's and the seasonal naive forecasts: a combination of two
    /// methods that err differently (models of many series only).
    case thetaSeasonalNaive
}

/// What a forecaster is made of and how it reads its data. Stored in the model file.
public struct ForecastConfiguration: Codable, Sendable {
    /// Past steps the model sees; nil: twice the season's half more than a season
    /// (`defaultWindow(season:)`), 20 without one.
    public var window: Int? = nil
    /// Steps it forecasts from each window.
    public var horizon: Int = 1
    public var strategy: ForecastStrategy = .direct
    /// The seasonal naive forecast's lag; nil: detected from the dates (`ForecastBaselines.detectSeason`);
    /// 1: no season.
    public var season: Int? = nil
    public var cell: CellKind = .lstm
    public var hiddenSize: Int = 32
    public var numLayers: Int = 1
    public var dropout: Float = 0
    public var learningRate: Double = 0.01
    /// Fractions of the series, in time order, kept for validation and for the test.
    public var validationFraction: Double = 0.15
    public var testFraction: Double = 0.15
    public var scaler: Scaler.Kind = .standard
    /// What the network's outputs add to (in scaled units); nil: the last value. A change from
    /// a reference lets the model follow a trend past the training range and start from a
    /// sound forecast.
    public var reference: ForecastReference? = nil
    /// How gaps in the data are handled, in training and when the model reads new data.
    public var missing: MissingValuePolicy = .refuse
    /// The network sees each window minus its last step (per feature) rather than the scaled
    /// levels, so levels past the training range (a trend) look like the ones it learnt from;
    /// the last step's level is kept as one extra input feature.
    public var relativeInputs: Bool = true
    /// Set by training: the standard deviation of each output on the training windows; outputs
    /// are trained divided by it, so small changes of a large level (CO2's weekly steps) still
    /// carry weight. [horizon * outputs per step]
    public var outputScales: [Double] = []
    /// Set by training: the share of the network's change added to the reference (nil: all),
    /// chosen on the validation windows (`Forecaster.networkWeight`).
    public var networkWeight: Double? = nil
    /// Set by training: the target's name, then the covariates', and the date column.
    public var features: [String] = []
    public var dateColumn: String? = nil

    public init() {}

    /// The window positions and weights whose sum the output for forecast step `step` (from 0)
    /// adds to. A seasonal reference needs a window longer than the season; with a shorter
    /// one it falls back to the last value.
    func referenceTerms(step: Int) -> [(position: Int, weight: Float)] {
        let window = self.window ?? 1, season = self.season ?? 1
        let seasonal = window - season + step % season
        switch reference ?? .lastValue {
        case .none, .theta, .thetaSeasonalNaive: return []
        case .lastValue: return [(window - 1, 1)]
        case .seasonalNaive where season > 1 && season < window: return [(seasonal, 1)]
        case .seasonalChange where season > 1 && season < window: return [(window - 1, 1), (seasonal, 1), (window - 1 - season, -1)]
        case .seasonalNaive, .seasonalChange: return [(window - 1, 1)]
        }
    }

    public static func defaultWindow(season: Int?) -> Int {
        guard let season, season > 1 else { return 20 }
        return max(20, season + season / 2)
    }
}

/// A recurrent forecaster: windows of a (multivariate) series -> recurrent stack -> Dense -> the
/// next values of the target (direct) or the next step of every feature (recursive).
///
///     let data = try TimeSeriesData(csv: "Data/airline-passengers.csv", target: "Passengers")
///     var configuration = ForecastConfiguration()
///     configuration.horizon = 3
///     let (forecaster, report) = try Forecaster.train(data, configuration: configuration)
///     print(report.model.mase, report.seasonalNaive?.mase ?? .nan)
///     let next = try forecaster.forecast(after: data, steps: 12)
public final class Forecaster {
    public let model: Model
    /// Resolved: window and season set, features named.
    public let configuration: ForecastConfiguration
    /// One feature per column of `configuration.features`, fitted on the training part.
    public let scaler: Scaler

    init(model: Model, configuration: ForecastConfiguration, scaler: Scaler) {
        self.model = model
        self.configuration = configuration
        self.scaler = scaler
    }

    /// Loads a forecaster saved with `save(to:)`.
    public convenience init(contentsOf path: String) throws {
        let model = try Model(contentsOf: path)
        try model.requireTask("forecast", path: path)
        guard let configuration = try model.metadata("forecast", as: ForecastConfiguration.self),
              let scaler = try model.metadata("scaler", as: Scaler.self), scaler.offsets.count == configuration.features.count,
              configuration.window ?? 0 > 0, configuration.horizon > 0 else {
            throw RecurrentError.invalidFile(path: path, reason: "the forecaster's configuration or scaler in its metadata is missing or does not fit")
        }
        self.init(model: model, configuration: configuration, scaler: scaler)
    }

    public func save(to path: String) throws { try model.save(to: path) }

    var window: Int { configuration.window ?? ForecastConfiguration.defaultWindow(season: configuration.season) }
    /// Outputs per window: the horizon's target values, or one step of every feature.
    var outputsPerStep: Int { configuration.strategy == .direct ? 1 : configuration.features.count }

    /// A univariate series in memory.
    public static func train(series: [Double], configuration: ForecastConfiguration = ForecastConfiguration(),
                             options: TrainingOptions = TrainingOptions(), progress: ProgressReporter? = nil) throws -> (Forecaster, ForecastReport) {
        try train(try TimeSeriesData(values: series), configuration: configuration, options: options, progress: progress)
    }

    /// Splits `data` in time order into train, validation and test parts, fits the scaler on the
    /// training part only, trains, and scores the test windows beside the naive forecasts.
    public static func train(_ data: TimeSeriesData, configuration: ForecastConfiguration = ForecastConfiguration(),
                             options: TrainingOptions = TrainingOptions(), progress: ProgressReporter? = nil) throws -> (Forecaster, ForecastReport) {
        var c = configuration
        let split = try ForecastSplit(data: data, configuration: &c)
        let features = data.featureCount
        let scaler = Scaler(kind: c.scaler, fittingColumns: data.columns.map { Array($0[..<split.trainEnd]) })
        let steps = (0..<data.count).map { t in (0..<features).map { Float(scaler.transform(data.columns[$0][t], feature: $0)) } }
        let direct = c.strategy == .direct
        let outputs = direct ? c.horizon : features
        let windows = SlidingWindows(steps: steps, window: split.window, horizon: direct ? c.horizon : 1,
                                     targetFeatures: direct ? [0] : Array(0..<features))
        if c.reference == nil {
            c.reference = ForecastBaselines.bestReference(Array(data.target[..<split.trainEnd]), season: c.season ?? 1, horizon: direct ? c.horizon : 1)
        }
        var targets = Self.changes(windows.targets, from: windows.inputs, featuresPerStep: direct ? 1 : features,
                                   reference: { c.referenceTerms(step: $0) })

        let layer = Sequential {
            RecurrentLayer(RecurrentConfiguration(cell: c.cell, inputSize: c.relativeInputs ? features + 1 : features, hiddenSize: c.hiddenSize, numLayers: c.numLayers,
                                                  dropout: c.dropout, output: .lastState), seed: options.seed)
            if c.dropout > 0 { Dropout(probability: c.dropout, seed: options.seed &+ 2) }
            Dense(inputSize: c.hiddenSize, outputSize: outputs, seed: options.seed &+ 1)
        }
        let trainIndices = split.windowStarts(endingBy: split.trainEnd, targetsFrom: 0, span: direct ? c.horizon : 1)
        let validationIndices = split.windowStarts(endingBy: split.validationEnd, targetsFrom: split.trainEnd, span: direct ? c.horizon : 1)
        c.outputScales = Self.standardDeviations(targets.gathering(trainIndices))
        let scales = c.outputScales
        targets.withUnsafeMutableBufferPointer { values in
            for i in values.indices { values[i] /= Float(scales[i % scales.count]) }
        }
        let inputs = c.relativeInputs ? Self.relativeToLastStep(windows.inputs) : windows.inputs
        let trainX = inputs.gathering(trainIndices), trainY = targets.gathering(trainIndices)
        let trainer = Trainer(optimizer: try Adam(layer.parameters, learningRate: c.learningRate), options: options, progress: progress)
        var fingerprint = Fingerprint()
        fingerprint.add([trainX, trainY])
        trainer.identity = try RunIdentity(configuration: c, data: fingerprint)
        trainer.validationSampleCount = validationIndices.count
        let validation: (() throws -> Double)? = validationIndices.isEmpty ? nil : {
            let x = inputs.gathering(validationIndices), y = targets.gathering(validationIndices)
            return Double(try Loss.meanSquaredError(layer(Variable(x)), y).value.scalar)
        }
        let history = try trainer.fit(sampleCount: trainIndices.count, loss: { batch in
            try Loss.meanSquaredError(layer(Variable(trainX.gathering(batch))), trainY.gathering(batch))
        }, validationLoss: validation)

        c.features = data.names
        c.dateColumn = data.dateColumn
        c.networkWeight = try Self.networkWeight(Forecaster(model: Model(layer), configuration: c, scaler: scaler), data,
                                                 windowEnds: validationIndices.map { $0 + split.window }, progress: progress)
        let forecaster = Forecaster(model: Model(layer), configuration: c, scaler: scaler)
        try forecaster.model.setMetadata("task", "forecast")
        try forecaster.model.setMetadata("forecast", c)
        try forecaster.model.setMetadata("scaler", scaler)
        try forecaster.model.setMetadata("training", history)
        let report = try forecaster.evaluate(data, split: split, history: history)
        try forecaster.model.setMetadata("test", report.model)
        return (forecaster, report)
    }

    /// How much of the network's change to add to the reference: the simplest of the reference
    /// alone (0), halfway (0.5) and the whole change (1) whose mean absolute error on the
    /// validation windows the next one does not beat by 5% (a margin within the noise of a few
    /// windows buys variance, not accuracy). A network that cannot beat seasonal naive on a
    /// clean seasonal series falls back to it, or to halfway.
    static func networkWeight(_ forecaster: Forecaster, _ data: TimeSeriesData, windowEnds: [Int],
                              progress: ProgressReporter?) throws -> Double? {
        guard !windowEnds.isEmpty else { return nil }
        let horizon = forecaster.configuration.horizon
        func error(_ weight: Double) throws -> Double {
            var c = forecaster.configuration
            c.networkWeight = weight
            let forecasts = try Forecaster(model: forecaster.model, configuration: c, scaler: forecaster.scaler)
                .forecastWindows(data, windowEnds: windowEnds, steps: horizon)
            return zip(windowEnds, forecasts).reduce(0) { sum, pair in
                pair.1.enumerated().reduce(sum) { $0 + abs(data.target[pair.0 + $1.offset] - $1.element) }
            } / Double(windowEnds.count * horizon)
        }
        let errors = try [0, 0.5, 1].map { ($0, try error($0)) }
        var chosen = errors[0]
        for candidate in errors.dropFirst() where candidate.1 < 0.95 * chosen.1 { chosen = candidate }
        progress?.note(String(format: "validation MAE: reference (%@) %.4g, halfway %.4g, network %.4g: adding %@ of the network's change",
                              forecaster.configuration.reference?.rawValue ?? "", errors[0].1, errors[1].1, errors[2].1,
                              chosen.0 == 1 ? "all" : chosen.0 == 0 ? "none" : "half"))
        return chosen.0
    }

    /// `targets` [N, S*K] minus the weighted input steps `reference(s)` of the same features
    /// ([N, W, F] inputs, the K target features being the first K).
    static func changes(_ targets: Tensor, from inputs: Tensor, featuresPerStep: Int,
                        reference: (Int) -> [(position: Int, weight: Float)]) -> Tensor {
        var result = targets
        let (count, window, features) = (inputs.shape[0], inputs.shape[1], inputs.shape[2])
        let perWindow = targets.count / max(count, 1)
        for j in 0..<perWindow {
            for term in reference(j / featuresPerStep) {
                for n in 0..<count {
                    result.scalars[n * perWindow + j] -= term.weight * inputs.scalars[(n * window + term.position) * features + j % featuresPerStep]
                }
            }
        }
        return result
    }

    /// [N, W, F] -> [N, W, F + 1]: every step minus the window's last step, then the last
    /// step's level of the target (the same at every step).
    static func relativeToLastStep(_ inputs: Tensor) -> Tensor {
        let (count, window, features) = (inputs.shape[0], inputs.shape[1], inputs.shape[2])
        var result = [Float](repeating: 0, count: count * window * (features + 1))
        for n in 0..<count {
            let last = (n * window + window - 1) * features
            for t in 0..<window {
                let from = (n * window + t) * features, to = (n * window + t) * (features + 1)
                for f in 0..<features { result[to + f] = inputs.scalars[from + f] - inputs.scalars[last + f] }
                result[to + features] = inputs.scalars[last]
            }
        }
        return Tensor(shape: [count, window, features + 1], scalars: result)
    }

    /// The standard deviation of each column of `values` [N, K]; 1 where it is below 1e-3 (the
    /// values being in units of the series' spread, such a column is constant but for rounding).
    static func standardDeviations(_ values: Tensor) -> [Double] {
        let (rows, columns) = (values.shape[0], values.shape[1])
        return (0..<columns).map { k in
            let column = (0..<rows).map { Double(values.scalars[$0 * columns + k]) }
            let mean = column.reduce(0, +) / Double(max(rows, 1))
            let deviation = (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(rows, 1))).squareRoot()
            return deviation > 1e-3 ? deviation : 1
        }
    }

    /// The model, naive and seasonal naive forecasts of every test window, scored in the data's units.
    func evaluate(_ data: TimeSeriesData, split: ForecastSplit, history: TrainingHistory) throws -> ForecastReport {
        let c = configuration, series = data.target, season = c.season ?? 1
        let starts = split.windowStarts(endingBy: data.count, targetsFrom: split.validationEnd, span: c.horizon)
            .filter { season <= 1 || ForecastBaselines.seasonalNaive(series, lastSeen: $0 + split.window - 1, step: 0, season: season) != nil }
        guard !starts.isEmpty else {
            throw RecurrentError.invalidArgument("\(data.source): no test window: the series is too short for the test fraction")
        }
        let predicted = try forecastWindows(data, windowEnds: starts.map { $0 + split.window }, steps: c.horizon)
        var truths: [Double] = [], model: [Double] = [], naive: [Double] = [], seasonal: [Double] = []
        for (row, start) in starts.enumerated() {
            let lastSeen = start + split.window - 1
            for step in 0..<c.horizon {
                truths.append(series[lastSeen + 1 + step])
                model.append(predicted[row][step])
                naive.append(ForecastBaselines.naive(series, lastSeen: lastSeen, step: step))
                if season > 1 { seasonal.append(ForecastBaselines.seasonalNaive(series, lastSeen: lastSeen, step: step, season: season) ?? 0) }
            }
        }
        let scale = ForecastBaselines.meanAbsoluteLagDifference(Array(series[..<split.trainEnd]), lag: season)
        return ForecastReport(
            testWindows: starts.count, model: ForecastScores(predictions: model, truths: truths, scale: scale),
            naive: ForecastScores(predictions: naive, truths: truths, scale: scale),
            seasonalNaive: season > 1 ? ForecastScores(predictions: seasonal, truths: truths, scale: scale) : nil,
            season: season > 1 ? season : nil, testStart: starts[0] + split.window,
            testOneStep: predicted.map { $0[0] }, history: history)
    }
}

/// Where a series divides into train, validation and test, in time order, and which windows
/// fall in each part (a window belongs to the part of its first target, and all its targets
/// lie inside that part or before it, so nothing leaks from a later part into an earlier one).
struct ForecastSplit {
    let count: Int
    let window: Int
    let trainEnd: Int
    let validationEnd: Int

    /// Resolves the season and window of `configuration` and checks the data are long enough.
    init(data: TimeSeriesData, configuration c: inout ForecastConfiguration) throws {
        guard c.horizon > 0, c.window ?? 1 > 0, c.season ?? 1 > 0 else {
            throw RecurrentError.invalidArgument("window, horizon and season must be positive")
        }
        guard c.reference != .theta, c.reference != .thetaSeasonalNaive else {
            throw RecurrentError.invalidArgument("the theta and theta-seasonal-naive references are for models of many series; one series takes last-value, seasonal-naive, seasonal-change or none")
        }
        guard c.validationFraction >= 0, c.testFraction > 0, c.validationFraction + c.testFraction < 0.9 else {
            throw RecurrentError.invalidArgument("test fraction \(c.testFraction) and validation fraction \(c.validationFraction) "
                + "must be positive and leave at least 10% for training")
        }
        count = data.count
        trainEnd = Int(Double(count) * (1 - c.validationFraction - c.testFraction))
        validationEnd = Int(Double(count) * (1 - c.testFraction))
        if c.season == nil { c.season = ForecastBaselines.detectSeason(Array(data.target[..<trainEnd]), dates: data.dates) ?? 1 }
        window = c.window ?? ForecastConfiguration.defaultWindow(season: c.season)
        c.window = window
        let trainingNeeds = window + c.horizon + 1
        guard trainEnd >= trainingNeeds, count - validationEnd >= c.horizon else {
            let column = data.names[0]
            throw RecurrentError.invalidFile(path: data.source, reason:
                "column \"\(column)\": \(count) rows are too few for a window of \(window) plus a horizon of \(c.horizon) "
                + "(the training part, \(Int((1 - c.validationFraction - c.testFraction) * 100))% of the rows, needs at least "
                + "\(trainingNeeds); the test part at least \(c.horizon))")
        }
    }

    /// Starts of the windows whose first target is at `targetsFrom` or later and whose `span`
    /// targets end by `end`.
    func windowStarts(endingBy end: Int, targetsFrom: Int, span: Int) -> [Int] {
        let first = max(0, targetsFrom - window)
        let last = end - span - window
        return last < first ? [] : Array(first...last)
    }
}
