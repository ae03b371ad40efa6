import Foundation

/// Forecast errors in the data's own units, over every forecast step of every test window.
public struct ForecastScores: Codable, Sendable, Equatable {
    public var rmse: Double
    public var mae: Double
    /// Symmetric mean absolute percentage error, in percent (0...200).
    public var smape: Double
    /// Mean absolute scaled error: MAE over the in-sample MAE of the (seasonal) naive forecast
    /// on the training part. Below 1 beats that forecast on the training data's scale.
    public var mase: Double

    /// Scores of `predictions` against `truths`; `scale` is MASE's denominator.
    public init(predictions: [Double], truths: [Double], scale: Double) {
        let errors = zip(predictions, truths).map { $0 - $1 }
        let count = Double(max(errors.count, 1))
        rmse = (errors.reduce(0) { $0 + $1 * $1 } / count).squareRoot()
        mae = errors.reduce(0) { $0 + abs($1) } / count
        smape = 200 / count * zip(predictions, truths).reduce(0) { sum, pair in
            let denominator = abs(pair.0) + abs(pair.1)
            return denominator > 0 ? sum + abs(pair.0 - pair.1) / denominator : sum
        }
        mase = scale > 0 ? mae / scale : .infinity
    }
}

/// The naive forecasts a model must beat, and the season of a series.
public enum ForecastBaselines {
    /// The last value seen, for every step ahead.
    public static func naive(_ series: [Double], lastSeen: Int, step: Int) -> Double { series[lastSeen] }

    /// The value one season before the forecast step (two seasons before when the step lies
    /// more than a season ahead, and so on), or nil when that lies before the data.
    /// `step` counts from 0 for the step right after `lastSeen`.
    public static func seasonalNaive(_ series: [Double], lastSeen: Int, step: Int, season: Int) -> Double? {
        let index = lastSeen + 1 + step - season * (step / season + 1)
        return index >= 0 ? series[index] : nil
    }

    /// The in-sample mean absolute error of the lag-`lag` forecast over `series`: MASE's scale.
    public static func meanAbsoluteLagDifference(_ series: [Double], lag: Int) -> Double {
        guard lag > 0, series.count > lag else { return 0 }
        return (lag..<series.count).reduce(0) { $0 + abs(series[$1] - series[$1 - lag]) } / Double(series.count - lag)
    }

    /// The reference whose forecasts over the `horizon` have the smallest mean absolute error on
    /// `training`, from every origin: the last value, or with a season also the seasonal naive
    /// value and the last value plus last season's change. Scored over the whole horizon, not
    /// its first step only: a year ahead, the seasonal naive value often beats the others that
    /// win a month ahead.
    public static func bestReference(_ training: [Double], season: Int, horizon: Int = 1) -> ForecastReference {
        guard season > 1, training.count > season + horizon + 1 else { return .lastValue }
        // Origin o: the last value seen is o - 1; step k forecasts o + k.
        let origins = (season + 1)...(training.count - horizon)
        func error(_ forecast: (Int, Int) -> Double) -> Double {
            origins.reduce(0) { sum, o in (0..<horizon).reduce(sum) { $0 + abs(training[o + $1] - forecast(o, $1)) } }
        }
        let candidates: [(ForecastReference, Double)] = [
            (.lastValue, error { o, _ in training[o - 1] }),
            (.seasonalNaive, error { o, k in training[o - season + k % season] }),
            (.seasonalChange, error { o, k in training[o - 1] + training[o - season + k % season] - training[o - 1 - season] }),
        ]
        return candidates.min { $0.1 < $1.1 }?.0 ?? .lastValue
    }

    /// The season the dates' spacing suggests (12 for months, 52 for weeks, 24 for hours, ...),
    /// kept only when the series bears it out: the autocorrelation of its first differences at
    /// that lag is at least 0.2. Nil for yearly data, data without dates, or no clear season.
    public static func detectSeason(_ series: [Double], dates: DateAxis?) -> Int? {
        guard let candidates = dates?.calendarSeasons else { return nil }
        let differences = zip(series.dropFirst(), series).map { $0 - $1 }
        let scored = candidates.filter { $0 >= 2 && $0 * 2 < differences.count }
            .map { ($0, autocorrelation(differences, lag: $0)) }
        guard let best = scored.max(by: { $0.1 < $1.1 }), best.1 >= 0.2 else { return nil }
        return best.0
    }

    static func autocorrelation(_ values: [Double], lag: Int) -> Double { autocorrelations(values, lags: lag...lag)[0] }

    /// The sample autocorrelation at each of `lags` (0 for a constant series or a lag past its
    /// end), the mean and variance computed once for all of them.
    static func autocorrelations(_ values: [Double], lags: ClosedRange<Int>) -> [Double] {
        let mean = values.reduce(0, +) / Double(max(values.count, 1))
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return lags.map { lag in
            guard variance > 0, lag < values.count else { return 0 }
            return (lag..<values.count).reduce(0) { $0 + (values[$1] - mean) * (values[$1 - lag] - mean) } / variance
        }
    }
}

/// Test figures of a model beside the naive and seasonal naive forecasts, on the same windows.
public struct ForecastReport: Codable, Sendable {
    public var testWindows: Int
    public var model: ForecastScores
    public var naive: ForecastScores
    /// Nil when the forecaster has no season.
    public var seasonalNaive: ForecastScores?
    public var season: Int?
    /// The series index of the first test window's first forecast step.
    public var testStart: Int
    /// The model's one-step-ahead forecasts from each test window, for series indices
    /// testStart, testStart + 1, ...
    public var testOneStep: [Double]
    public var history: TrainingHistory

    public var modelRMSE: Double { model.rmse }
    public var naiveRMSE: Double { naive.rmse }
    public var modelMAE: Double { model.mae }
    public var naiveMAE: Double { naive.mae }
}
