import Foundation

/// Scores of forecasts over many series and steps.
public struct PanelScores: Codable, Sendable, Equatable {
    /// Forecast values scored, and series-windows.
    public var points: Int
    public var series: Int
    /// The mean over series of each one's MASE (its MAE over the in-sample MAE of the seasonal
    /// naive forecast before the origin; series whose in-sample MAE is 0 are left out).
    public var mase: Double
    /// Symmetric MAPE in percent (0...200), over every point (M3's definition).
    public var smape: Double
    public var rmse: Double
    public var mae: Double
    /// The share of values inside each interval, by its percent ("80": 0.79); empty for a point forecast.
    public var coverage: [String: Double]
    /// The mean weighted quantile loss over the quantile levels: 2 sum(pinball) / sum(|y|), the
    /// scaled CRPS approximated at those levels (GluonTS's mean_wQuantileLoss); nil for a point forecast.
    public var weightedQuantileLoss: Double?
}

/// One rolling origin: every series cut `stepsFromEnd` steps before its end.
public struct BacktestWindow: Codable, Sendable {
    public var stepsFromEnd: Int
    public var model: PanelScores
    public var naive: PanelScores
    public var seasonalNaive: PanelScores
}

/// Rolling-origin evaluation, as statsforecast's `cross_validation`: K windows of `horizon`
/// steps, the last one ending with the data.
public struct BacktestReport: Codable, Sendable {
    public var horizon: Int
    public var season: Int
    public var windows: [BacktestWindow]
    public var model: PanelScores
    public var naive: PanelScores
    public var seasonalNaive: PanelScores
    /// Series too short for some window (fewer than one value before its origin there).
    public var skipped: [String]
}

/// The pieces of a forecast and its truth that the scores add up.
struct ScoredForecast {
    var truth: [Double]
    var point: [Double]
    var lower: [[Double]] = []
    var upper: [[Double]] = []
    var quantiles: [[Double]] = []
    /// The in-sample MAE of the seasonal naive forecast (MASE's denominator).
    var scale: Double
}

extension PanelScores {
    init(_ forecasts: [ScoredForecast], intervals: [Int], levels: [Double]) {
        var squared = 0.0, absolute = 0.0, symmetric = 0.0, points = 0, maseSum = 0.0, maseCount = 0
        var covered = [Int](repeating: 0, count: intervals.count), pinballs = 0.0, magnitude = 0.0
        for f in forecasts {
            var seriesAbsolute = 0.0
            for (k, (y, p)) in zip(f.truth, f.point).enumerated() {
                let error = abs(y - p)
                squared += error * error; absolute += error; seriesAbsolute += error
                symmetric += abs(y) + abs(p) > 0 ? 200 * error / (abs(y) + abs(p)) : 0
                points += 1
                magnitude += abs(y)
                for i in intervals.indices where !f.lower.isEmpty && f.lower[i][k] <= y && y <= f.upper[i][k] { covered[i] += 1 }
                for (l, level) in levels.enumerated() where !f.quantiles.isEmpty { pinballs += 2 * pinball(prediction: f.quantiles[l][k], truth: y, level: level).value }
            }
            if f.scale > 0, !f.truth.isEmpty { maseSum += seriesAbsolute / Double(f.truth.count) / f.scale; maseCount += 1 }
        }
        let n = Double(max(points, 1))
        self.points = points
        series = forecasts.count
        mase = maseCount > 0 ? maseSum / Double(maseCount) : .nan
        smape = symmetric / n
        rmse = (squared / n).squareRoot()
        mae = absolute / n
        let interval = forecasts.first?.lower.isEmpty == false
        coverage = interval ? Dictionary(uniqueKeysWithValues: zip(intervals.map(String.init), covered.map { Double($0) / n })) : [:]
        weightedQuantileLoss = forecasts.first?.quantiles.isEmpty == false && magnitude > 0 ? pinballs / magnitude / Double(levels.count) : nil
    }
}

extension GlobalForecaster {
    /// Forecasts from K rolling origins, `horizon` steps apart and the last `horizon` steps
    /// before the end of each series, each from the values before its origin (the model is not
    /// retrained), and scores them beside the naive and seasonal naive forecasts. With a
    /// `communicator`, each process forecasts its share of the series of every window.
    public func backtest(_ panel: SeriesPanel, windows: Int = 1, seed: UInt64 = 0, communicator: (any Communicator)? = nil) throws -> BacktestReport {
        let c = configuration, horizon = c.horizon
        guard windows >= 1 else { throw RecurrentError.invalidArgument("the number of backtest windows must be positive, got \(windows)") }
        var report = BacktestReport(horizon: horizon, season: c.season, windows: [], model: .empty, naive: .empty, seasonalNaive: .empty, skipped: [])
        var all: (model: [ScoredForecast], naive: [ScoredForecast], seasonal: [ScoredForecast]) = ([], [], [])
        var skipped = Set<String>()
        for window in 0..<windows {
            let fromEnd = horizon * (windows - window)
            var cut = panel
            cut.series = panel.series.filter { $0.count - fromEnd >= 1 }
            skipped.formUnion(panel.series.filter { $0.count - fromEnd < 1 }.map(\.id))
            guard !cut.series.isEmpty else { continue }
            let truths = cut.series.map { Array($0.values[($0.count - fromEnd)..<($0.count - fromEnd + horizon)]) }
            for i in cut.series.indices {
                let keep = cut.series[i].count - fromEnd
                cut.series[i].values = Array(cut.series[i].values.prefix(keep))
                cut.series[i].pastCovariates = cut.series[i].pastCovariates.map { Array($0.prefix(keep)) }
            }
            let forecasts = try forecast(cut, seed: seed &+ UInt64(window), communicator: communicator)
            var model: [ScoredForecast] = [], naive: [ScoredForecast] = [], seasonal: [ScoredForecast] = []
            for (series, (forecast, truth)) in zip(cut.series, zip(forecasts, truths)) {
                let values = series.values, lag = c.season > 1 && values.count > c.season ? c.season : 1
                let scale = ForecastBaselines.meanAbsoluteLagDifference(values, lag: lag)
                model.append(ScoredForecast(truth: truth, point: forecast.point, lower: forecast.lower, upper: forecast.upper,
                                            quantiles: forecast.quantiles, scale: scale))
                naive.append(ScoredForecast(truth: truth, point: Array(repeating: values[values.count - 1], count: horizon), scale: scale))
                let seasonalPoint = (0..<horizon).map { k in
                    ForecastBaselines.seasonalNaive(values, lastSeen: values.count - 1, step: k, season: lag) ?? values[values.count - 1]
                }
                seasonal.append(ScoredForecast(truth: truth, point: seasonalPoint, scale: scale))
            }
            report.windows.append(BacktestWindow(stepsFromEnd: fromEnd, model: PanelScores(model, intervals: c.intervals, levels: c.quantileLevels),
                                                 naive: PanelScores(naive, intervals: [], levels: []),
                                                 seasonalNaive: PanelScores(seasonal, intervals: [], levels: [])))
            all.model += model; all.naive += naive; all.seasonal += seasonal
        }
        guard !all.model.isEmpty else {
            throw RecurrentError.invalidFile(path: panel.source, reason: "no series is longer than \(horizon * windows) steps: no backtest window fits")
        }
        report.model = PanelScores(all.model, intervals: c.intervals, levels: c.quantileLevels)
        report.naive = PanelScores(all.naive, intervals: [], levels: [])
        report.seasonalNaive = PanelScores(all.seasonal, intervals: [], levels: [])
        report.skipped = panel.series.map(\.id).filter(skipped.contains)
        return report
    }
}

extension PanelScores {
    static let empty = PanelScores(points: 0, series: 0, mase: .nan, smape: .nan, rmse: .nan, mae: .nan, coverage: [:], weightedQuantileLoss: nil)
}

extension Forecaster {
    /// The same rolling-origin evaluation for a model of one series: K origins a horizon apart,
    /// each forecast from the rows before it. With a `communicator`, each process forecasts its
    /// share of the windows (each forecast is deterministic: the same on any process).
    public func backtest(_ data: TimeSeriesData, windows: Int = 1, communicator: (any Communicator)? = nil) throws -> BacktestReport {
        let horizon = configuration.horizon, season = configuration.season ?? 1
        guard windows >= 1 else { throw RecurrentError.invalidArgument("the number of backtest windows must be positive, got \(windows)") }
        var report = BacktestReport(horizon: horizon, season: season, windows: [], model: .empty, naive: .empty, seasonalNaive: .empty, skipped: [])
        var all: (model: [ScoredForecast], naive: [ScoredForecast], seasonal: [ScoredForecast]) = ([], [], [])
        func before(_ cut: Int) -> TimeSeriesData {
            var before = data
            before.columns = data.columns.map { Array($0.prefix(cut)) }
            before.dates?.ordinals = Array(data.dates?.ordinals.prefix(cut) ?? [])
            return before
        }
        let cuts = (0..<windows).map { data.count - horizon * (windows - $0) }.filter { $0 >= self.window }
        let points = try Communicators.mapInOrder(cuts, over: communicator) { part in
            try part.map { try forecast(after: before($0), steps: horizon) }
        }
        for (cut, point) in zip(cuts, points) {
            let fromEnd = data.count - cut
            let values = Array(data.target.prefix(cut)), truth = Array(data.target[cut..<(cut + horizon)])
            let lag = season > 1 && values.count > season ? season : 1
            let scale = ForecastBaselines.meanAbsoluteLagDifference(values, lag: lag)
            let model = ScoredForecast(truth: truth, point: point, scale: scale)
            let naive = ScoredForecast(truth: truth, point: Array(repeating: values[cut - 1], count: horizon), scale: scale)
            let seasonal = ScoredForecast(truth: truth, point: (0..<horizon).map {
                ForecastBaselines.seasonalNaive(values, lastSeen: cut - 1, step: $0, season: lag) ?? values[cut - 1]
            }, scale: scale)
            report.windows.append(BacktestWindow(stepsFromEnd: fromEnd, model: PanelScores([model], intervals: [], levels: []),
                                                 naive: PanelScores([naive], intervals: [], levels: []),
                                                 seasonalNaive: PanelScores([seasonal], intervals: [], levels: [])))
            all.model.append(model); all.naive.append(naive); all.seasonal.append(seasonal)
        }
        guard !all.model.isEmpty else {
            throw RecurrentError.invalidFile(path: data.source, reason: "\(data.count) rows leave no window of \(horizon) after the model's window of \(self.window)")
        }
        report.model = PanelScores(all.model, intervals: [], levels: [])
        report.naive = PanelScores(all.naive, intervals: [], levels: [])
        report.seasonalNaive = PanelScores(all.seasonal, intervals: [], levels: [])
        return report
    }
}
