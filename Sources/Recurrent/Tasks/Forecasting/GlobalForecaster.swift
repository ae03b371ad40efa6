import Foundation

/// What a global forecaster outputs for each step ahead.
public enum ForecastHead: String, Codable, Sendable, CaseIterable {
    /// The quantiles of the intervals and the median, trained by the pinball loss.
    case quantiles
    /// A distribution trained by likelihood (see `DistributionKind`).
    case gaussian, studentT, negativeBinomial

    public var distribution: DistributionKind? {
        switch self {
        case .quantiles: return nil
        case .gaussian: return .gaussian
        case .studentT: return .studentT
        case .negativeBinomial: return .negativeBinomial
        }
    }
}

/// How much each training window's loss weighs (the loss of every window is taken in units of
/// its level, the mean absolute value of the window).
public enum ForecastLossScale: String, Codable, Sendable, CaseIterable {
    /// Every window alike: errors relative to the series' level, as sMAPE weighs them.
    case level
    /// Each window by its level over its series' in-sample seasonal naive MAE: errors in MASE's
    /// units (normalized to weigh 1 on average, at most `WindowPlan.maximumWeight`).
    case mase
}

/// What a global forecaster is made of and how it reads its data. Stored in the model file.
public struct GlobalForecastConfiguration: Codable, Sendable, RecurrentHyperparameters {
    /// Steps forecast from each origin.
    public var horizon: Int = 1
    /// Past steps the model reads; nil: the larger of two seasons, twice the horizon and 10.
    public var window: Int? = nil
    /// Direct: every step ahead at once from the window's encoding (the encoder reads the known
    /// covariates of those steps after the window). Recursive (DeepAR): one step at a time, each step's
    /// draw fed back, which gives sample paths; it needs a distribution head.
    public var strategy: ForecastStrategy = .direct
    public var head: ForecastHead = .quantiles
    /// Central prediction intervals, in percent.
    public var intervals: [Int] = [80, 95]
    /// What the outputs add to: the last value, the value one season before, or the Theta
    /// method's forecast (nil: Theta, measured best on the M3 monthly series).
    public var reference: ForecastReference? = nil
    /// Set by training: the Theta reference takes an additive season out of a series that has
    /// no multiplicative one (not all positive, or an index below 0.01), as statsforecast does;
    /// nil in model files written before, whose Theta method smooths such a series season and
    /// all (its forecast has no season).
    public var thetaAdditiveSeasons: Bool? = nil
    /// True: training sets `reference` to the candidate (Theta, seasonal naive, their mean, last value) with
    /// the lowest MASE on the held-out last horizon of the training series (`referenceErrors`).
    public var chooseReference: Bool? = nil
    /// How the windows' losses are weighed (nil: `level`).
    public var lossScale: ForecastLossScale? = nil
    /// True: training sets `lossScale` to the one whose network forecasts the held-out last
    /// horizon of the training series with the lower MASE (a network is trained for each).
    public var chooseLossScale: Bool? = nil
    /// Networks trained from seeds derived from the training seed (member 0 takes the seed
    /// itself); forecasts are the element-wise median of theirs. nil: one network.
    public var ensemble: Int? = nil
    public var cell: CellKind = .lstm
    public var hiddenSize: Int = 64
    public var numLayers: Int = 1
    public var dropout: Float = 0
    public var learningRate: Double = 0.003
    /// Sine and cosine of the step's place in its calendar cycles (or in the season) as inputs.
    public var calendarFeatures: Bool = true
    /// Draws per series for a distribution head's intervals and a recursive model's paths.
    public var samples: Int = 200
    /// How the training file was laid out (set by the command line), for reading new data.
    public var layout: PanelLayout? = nil
    /// Set by training: the season, how steps are written, the covariates and their scalings.
    public var season: Int = 1
    public var calendar: CalendarFeatures? = nil
    public var knownCovariates: [String] = []
    public var pastCovariates: [String] = []
    /// [mean, standard deviation] of each known then past covariate, and of log(1 + scale).
    public var covariateScaling: [[Double]] = []
    public var scaleScaling: [Double] = [0, 1]
    /// Set by training: per interval, the factor its half-widths around the median are scaled
    /// by so that it covers its share of the held-out values (split conformal calibration).
    public var intervalScales: [Double] = []
    /// The series trained on, so that forecasts for others can be told apart.
    public var seriesIDs: [String] = []

    public init() {}

    /// The quantile levels of the intervals, with the median between: [0.025, 0.1, 0.5, 0.9, 0.975].
    public var quantileLevels: [Double] {
        let tails = intervals.map { (1 - Double($0) / 100) / 2 }
        return (tails + [0.5] + tails.map { 1 - $0 }).sorted()
    }

    public var resolvedWindow: Int { window ?? max(2 * season, 2 * horizon, 10) }
    var resolvedReference: ForecastReference { reference ?? .theta }
    var calendarCount: Int { calendarFeatures ? calendar?.count ?? 0 : 0 }
    /// Whether a direct model's encoder reads the horizon's known covariates after the window
    /// (the calendar of those steps follows from the window's, so it alone needs no such steps).
    var readsFuture: Bool { strategy == .direct && !knownCovariates.isEmpty }
    /// Inputs per encoder step: the scaled value, the calendar, the covariates, the window's
    /// statics (log(1 + scale); for a direct model the reference's first and last step), and
    /// when the encoder reads the horizon's covariates, a flag marking those steps.
    var stepInputs: Int {
        let statics = strategy == .direct ? 3 : 1
        return 1 + calendarCount + knownCovariates.count + (strategy == .direct ? pastCovariates.count : 0) + statics + (readsFuture ? 1 : 0)
    }
    /// Steps an encoder reads: the window, and the horizon when it reads the known future; a
    /// recursive model reads the window and the horizon's values but the last (teacher forcing).
    var encoderSteps: Int { resolvedWindow + (strategy == .recursive ? horizon - 1 : readsFuture ? horizon : 0) }
    /// Outputs per step: the quantiles or the distribution's raw parameters.
    var outputsPerStep: Int { head.distribution?.parameterCount ?? quantileLevels.count }

    public var networkCount: Int { ensemble ?? 1 }

    func validate() throws {
        guard (1...100).contains(networkCount) else {
            throw RecurrentError.invalidArgument("the ensemble holds 1 to 100 networks, got \(networkCount)")
        }
        guard horizon > 0, window ?? 1 > 0, samples > 0 else {
            throw RecurrentError.invalidArgument("horizon, window and samples must be positive (got \(horizon), \(window ?? 1), \(samples))")
        }
        if let bad = intervals.first(where: { !(1...99).contains($0) }) {
            throw RecurrentError.invalidArgument("interval \(bad)% is not between 1% and 99%")
        }
        if reference == .seasonalChange {
            throw RecurrentError.invalidArgument("a model of many series adds to the last value, the seasonal naive forecast or nothing (reference seasonal-change is for one series)")
        }
        if strategy == .recursive {
            guard head.distribution != nil else {
                throw RecurrentError.invalidArgument("the recursive strategy draws sample paths: it needs a distribution head (gaussian, student-t or negative-binomial), not quantiles")
            }
            guard pastCovariates.isEmpty else {
                throw RecurrentError.invalidArgument("past-only covariates (\(pastCovariates.joined(separator: ", "))) are unknown beyond the data: a recursive model cannot feed them forward; use the direct strategy")
            }
        }
    }
}

/// One recurrent model for many series (DeepAR, MQ-RNN): each window is read in units of its own
/// level (the mean absolute value of the window, as DeepAR scales), with the step's calendar
/// phase and covariates beside it, and the model forecasts quantiles or a distribution for every
/// step ahead, in those units, as changes from a naive reference forecast. Known-future
/// covariates of the forecast steps are read by the encoder after the window (a flag marks those
/// steps); past-only covariates only within the window.
///
///     let panel = try SeriesPanel(csv: "Data/m3-monthly-sample-train.csv", season: 12)
///     var configuration = GlobalForecastConfiguration()
///     configuration.horizon = 18
///     let (forecaster, history) = try GlobalForecaster.train(panel, configuration: configuration)
///     let forecasts = try forecaster.forecast(panel)       // median, 80% and 95% intervals
public final class GlobalForecaster {
    public let model: Model
    public private(set) var configuration: GlobalForecastConfiguration
    /// The recurrent encoder [B, T, stepInputs] -> [B, H] (direct: its last state; recursive: every step).
    let encoder: RecurrentLayer
    /// The output layers: hidden -> hidden -> outputs (tanh between).
    let hiddenLayer: Dense
    let outputLayer: Dense
    /// Every network of an ensemble (this one's layers are the first's); empty for one network.
    var members: [GlobalForecaster] = []

    init(model: Model, configuration: GlobalForecastConfiguration) throws {
        guard let stack = model.layer as? Sequential, stack.layers.count == 3, let encoder = stack.layers[0] as? RecurrentLayer,
              let hidden = stack.layers[1] as? Dense, let output = stack.layers[2] as? Dense,
              encoder.configuration.inputSize == configuration.stepInputs,
              hidden.inputSize == encoder.configuration.hiddenSize,
              output.outputSize == (configuration.strategy == .direct ? configuration.horizon : 1) * configuration.outputsPerStep else {
            throw RecurrentError.invalidArgument("the network does not match the forecasting configuration")
        }
        self.model = model
        self.configuration = configuration
        self.encoder = encoder
        hiddenLayer = hidden
        outputLayer = output
    }

    /// A fresh network for `configuration`.
    static func make(_ c: GlobalForecastConfiguration, seed: UInt64) throws -> GlobalForecaster {
        let encoder = RecurrentLayer(RecurrentConfiguration(cell: c.cell, inputSize: c.stepInputs, hiddenSize: c.hiddenSize,
                                                            numLayers: c.numLayers, dropout: c.dropout, output: .lastState), seed: seed)
        let steps = c.strategy == .direct ? c.horizon : 1
        let hidden = Dense(inputSize: c.hiddenSize, outputSize: c.hiddenSize, seed: seed &+ 1)
        let output = Dense(inputSize: c.hiddenSize, outputSize: steps * c.outputsPerStep, seed: seed &+ 2)
        let model = Model(Sequential([encoder, hidden, output]))
        try model.setMetadata("task", "global-forecast")
        try model.setMetadata("forecast", c)
        return try GlobalForecaster(model: model, configuration: c)
    }

    /// Loads a forecaster saved with `save(to:)`.
    public convenience init(contentsOf path: String) throws {
        let model = try Model(contentsOf: path)
        try model.requireTask("global-forecast", path: path)
        guard let configuration = try model.metadata("forecast", as: GlobalForecastConfiguration.self) else {
            throw RecurrentError.invalidFile(path: path, reason: "the forecaster's configuration is missing from its metadata")
        }
        do { try self.init(model: model, configuration: configuration) } catch {
            throw RecurrentError.invalidFile(path: path, reason: "its network does not match its forecasting configuration")
        }
        if configuration.networkCount > 1 { members = try Self.loadMembers(of: self, path: path) }
    }

    public func save(to path: String) throws { try model.save(to: path) }

    /// The output layers on encodings [..., H].
    func outputs(_ encoding: Variable) -> Variable { outputLayer(hiddenLayer(encoding).tanh()) }

    /// Trains one model on every series of `panel`. The last `horizon` values of each series long
    /// enough are held out for validation (early stopping and the best epoch); the model then
    /// forecasts from whole series. Windows shorter than the model's are padded, not dropped.
    public static func train(_ panel: SeriesPanel, configuration: GlobalForecastConfiguration = GlobalForecastConfiguration(),
                             options: TrainingOptions = TrainingOptions(), progress: ProgressReporter? = nil) throws
        -> (GlobalForecaster, TrainingHistory) {
        try panel.checkShapes()
        var c = configuration
        c.season = panel.season
        c.calendar = CalendarFeatures(calendar: panel.calendar, step: panel.step, season: panel.season)
        c.knownCovariates = panel.knownCovariateNames
        c.pastCovariates = panel.pastCovariateNames
        c.seriesIDs = panel.series.map(\.id)
        c.thetaAdditiveSeasons = true
        try c.validate()
        let holdout = c.horizon
        let trainingParts = panel.series.map { Array($0.values.prefix(max(1, $0.count - holdout))) }
        c.covariateScaling = Self.covariateScaling(panel, trainingLengths: trainingParts.map(\.count))
        let logScales = trainingParts.map { log1p(Self.level($0[...])) }
        let mean = logScales.reduce(0, +) / Double(max(1, logScales.count))
        let spread = (logScales.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, logScales.count))).squareRoot()
        c.scaleScaling = [mean, spread > 1e-9 ? spread : 1]
        if c.head == .negativeBinomial, let bad = panel.series.first(where: { $0.values.contains { $0 < 0 || $0 != $0.rounded() } }) {
            throw RecurrentError.invalidFile(path: panel.source, reason: "series \"\(bad.id)\" holds values that are not counts; the negative binomial head needs whole numbers >= 0")
        }
        // Several networks in a row (the loss scale's choice, an ensemble) are one data-parallel
        // job: every rank trains each of them, and the end of training, after which ranks other
        // than 0 may leave, is signalled once, after the last.
        let job = options.communicator, several = NetworkRuns.trainsSeveral(c)
        var options = options
        if several, let job { options.communicator = RunsInARow(job) }
        var runs = try NetworkRuns(c, options: options, progress: progress)
        if c.chooseReference == true {
            let errors = referenceErrors(panel, configuration: c, holdout: holdout)
            c.reference = errors.min { $0.mase < $1.mase }?.reference ?? c.resolvedReference
            progress?.note("held-out MASE of the references: " + errors.map { String(format: "%@ %.4f", $0.reference.rawValue, $0.mase) }
                .joined(separator: ", ") + "; the network adds to \(c.resolvedReference.rawValue)")
        }
        var member = c
        member.ensemble = nil
        var networks: [GlobalForecaster] = [], histories: [TrainingHistory] = []
        if c.chooseLossScale == true {
            let chosen = try chooseLossScale(panel, configuration: member, runs: &runs, holdout: holdout, progress: progress)
            c.lossScale = chosen.network.configuration.lossScale
            member.lossScale = c.lossScale
            networks.append(chosen.network)
            histories.append(chosen.history)
        }
        for index in networks.count..<c.networkCount {
            let seed = memberSeed(options.seed, index)
            if c.networkCount > 1 { progress?.note("network \(index + 1) of \(c.networkCount), seed \(seed)") }
            let (network, history) = try runs.fit(panel, configuration: member, seed: seed, holdout: holdout, progress: progress)
            networks.append(network)
            histories.append(history)
            if history.stopReason == .diverged { break }
        }
        if several { job?.trainingEnded() }
        let forecaster = networks.count == 1 ? networks[0] : try ensemble(networks, configuration: c)
        let history = combined(histories, timing: runs.histories)
        if panel.series.contains(where: { $0.count - holdout >= 2 }) {
            try forecaster.calibrateIntervals(panel, holdout: holdout, seed: options.seed)
        }
        try forecaster.model.setMetadata("training", history)
        return (forecaster, history)
    }

    /// One network trained with early stopping on the held-out values (not calibrated).
    static func fitNetwork(_ panel: SeriesPanel, configuration c: GlobalForecastConfiguration, options: TrainingOptions,
                           holdout: Int, progress: ProgressReporter?) throws -> (GlobalForecaster, TrainingHistory) {
        let forecaster = try make(c, seed: options.seed)
        let windows = WindowPlan(panel: panel, configuration: c, holdout: holdout)
        guard !windows.training.isEmpty else {
            throw RecurrentError.invalidFile(path: panel.source, reason: "no series has two values before its last \(holdout): nothing to train on")
        }
        let trainer = Trainer(optimizer: try Adam(forecaster.model.layer.parameters, learningRate: c.learningRate), options: options, progress: progress)
        var data = Fingerprint()
        for series in panel.series { data.add(series.id); data.add(Tensor(shape: [series.values.count], scalars: series.values.map(Float.init))) }
        data.add(windows.training.count)
        trainer.identity = try RunIdentity(configuration: c, data: data)
        trainer.validationSampleCount = windows.validation.count
        // The loss is a weighted mean over the targets a batch holds (the mask's weights).
        trainer.shardWeight = { indices in
            indices.reduce(0) { $0 + Double(windows.training[$1].weight) * Double(forecaster.targetCount(windows.training[$1], panel: panel)) }
        }
        let validation: (() throws -> Double)? = windows.validation.isEmpty ? nil : {
            var total = 0.0
            for start in stride(from: 0, to: windows.validation.count, by: 512) {
                let part = Array(windows.validation[start..<min(start + 512, windows.validation.count)])
                total += Double(try forecaster.loss(forecaster.batch(part, panel: panel)).value.scalar) * Double(part.count)
            }
            return total / Double(windows.validation.count)
        }
        let history = try trainer.fit(sampleCount: windows.training.count, loss: { indices in
            try forecaster.loss(forecaster.batch(indices.map { windows.training[$0] }, panel: panel))
        }, validationLoss: validation)
        return (forecaster, history)
    }

    /// Trains the first network under each loss scale and keeps the one whose point forecasts of
    /// the held-out last `holdout` values (forecast from the values before them) have the lower
    /// MASE; both networks chose their epoch on those values, so neither is favoured.
    static func chooseLossScale(_ panel: SeriesPanel, configuration c: GlobalForecastConfiguration, runs: inout NetworkRuns,
                                holdout: Int, progress: ProgressReporter?) throws -> (network: GlobalForecaster, history: TrainingHistory) {
        let seed = runs.options.seed
        var best: (network: GlobalForecaster, history: TrainingHistory, mase: Double)?
        var notes: [String] = []
        for scale in ForecastLossScale.allCases {
            var candidate = c
            candidate.lossScale = scale
            progress?.note("loss scale \(scale.rawValue)")
            let (network, history) = try runs.fit(panel, configuration: candidate, seed: seed, holdout: holdout, progress: progress)
            let mase: Double = try history.stopReason == .diverged ? .infinity : network.backtest(panel, windows: 1, seed: seed).model.mase
            notes.append(String(format: "%@ %.4f", scale.rawValue, mase))
            if best.map({ mase < $0.mase }) ?? true { best = (network, history, mase) }
        }
        guard let best else { throw RecurrentError.invalidArgument("no loss scale to choose from") }
        progress?.note("held-out MASE of the loss scales: \(notes.joined(separator: ", ")); keeping \(best.network.configuration.lossScale?.rawValue ?? "level")")
        return (best.network, best.history)
    }

    /// Scales each interval around the median so that it covers its share of the held-out values
    /// (the last `holdout` of each series long enough), forecast from the values before them.
    func calibrateIntervals(_ panel: SeriesPanel, holdout: Int, seed: UInt64) throws {
        var cut = panel
        cut.series = panel.series.filter { $0.count - holdout >= 2 }
        let truths = cut.series.map { Array($0.values.suffix(holdout)) }
        for i in cut.series.indices {
            cut.series[i].values.removeLast(holdout)
            cut.series[i].pastCovariates = cut.series[i].pastCovariates.map { Array($0.dropLast(holdout)) }
        }
        configuration.intervalScales = []
        let forecasts = try forecast(cut, seed: seed)
        let median = configuration.quantileLevels.firstIndex(of: 0.5) ?? 0
        configuration.intervalScales = configuration.intervals.indices.map { i in
            // The factor each value needs to fall inside; the interval's share of them is enough.
            var needed: [Double] = []
            for (forecast, truth) in zip(forecasts, truths) {
                for (k, y) in truth.enumerated() {
                    let center = forecast.quantiles[median][k]
                    let half = y >= center ? forecast.upper[i][k] - center : center - forecast.lower[i][k]
                    needed.append(half > 0 ? abs(y - center) / half : (y == center ? 0 : .infinity))
                }
            }
            let share = Double(configuration.intervals[i]) / 100
            let factor = ProbabilisticScores.quantile(sorted: needed.sorted(), level: share)
            return factor.isFinite && factor > 0 ? factor : 1
        }
        try model.setMetadata("forecast", configuration)
    }

    /// The mean absolute value, DeepAR's scale; 1 for an all-zero stretch.
    static func level(_ values: ArraySlice<Double>) -> Double {
        let mean = values.reduce(0) { $0 + abs($1) } / Double(max(1, values.count))
        return mean > 0 ? mean : 1
    }

    /// [mean, sd] of every known and past covariate over the training parts of the series.
    static func covariateScaling(_ panel: SeriesPanel, trainingLengths: [Int]) -> [[Double]] {
        let known = panel.knownCovariateNames.indices.map { k in zip(panel.series, trainingLengths).flatMap { $0.knownCovariates[k].prefix($1) } }
        let past = panel.pastCovariateNames.indices.map { k in zip(panel.series, trainingLengths).flatMap { $0.pastCovariates[k].prefix($1) } }
        return (known + past).map { values in
            let mean = values.reduce(0, +) / Double(max(1, values.count))
            let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, values.count))).squareRoot()
            return [mean, sd > 1e-12 ? sd : 1]
        }
    }
}
