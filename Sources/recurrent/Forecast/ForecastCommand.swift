import ArgumentParser
import Foundation
import Recurrent

struct ForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast one series or many: train, predict, evaluate.",
        subcommands: [ForecastTrainCommand.self, ForecastPredictCommand.self, ForecastEvaluateCommand.self]
    )
}

extension MissingValuePolicy: ExpressibleByArgument {}
extension ForecastStrategy: ExpressibleByArgument {}

/// `--scaler standard|min-max`.
enum ScalerArgument: String, ExpressibleByArgument, CaseIterable {
    case standard
    case minMax = "min-max"
    var kind: Scaler.Kind { self == .standard ? .standard : .minMax }
}

/// `--reference last-value|seasonal-naive|seasonal-change|theta|theta-seasonal-naive|none|auto`.
enum ReferenceArgument: String, ExpressibleByArgument, CaseIterable {
    case lastValue = "last-value"
    case seasonalNaive = "seasonal-naive"
    case seasonalChange = "seasonal-change"
    case theta
    case thetaSeasonalNaive = "theta-seasonal-naive"
    case none
    case auto
    /// nil for `auto`: one series chooses its reference by default; many choose when asked.
    var reference: ForecastReference? {
        switch self {
        case .auto: return nil
        case .lastValue: return .lastValue
        case .seasonalNaive: return .seasonalNaive
        case .seasonalChange: return .seasonalChange
        case .theta: return .theta
        case .thetaSeasonalNaive: return .thetaSeasonalNaive
        case .none: return .none
        }
    }
}

/// What `train` and `predict` share: the JSON of a forecast table and the plots.
enum ForecastOutput {
    static func json(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func scores(_ scores: ForecastScores?) -> Any {
        guard let scores else { return NSNull() }
        return ["rmse": scores.rmse, "mae": scores.mae, "smape": scores.smape, "mase": scores.mase]
    }

    /// The x coordinate of series index `t`: the date as a decimal year, or the row number.
    static func position(_ data: TimeSeriesData, _ t: Double) -> Double {
        guard let dates = data.dates, let first = dates.ordinals.first else { return t }
        let lastIndex = dates.ordinals.count - 1
        let ordinal = t <= Double(lastIndex) ? dates.ordinals[Int(t)] : dates.ordinals[lastIndex] + (t - Double(lastIndex)) * dates.step
        return dates.decimalYear(t >= 0 ? ordinal : first)
    }

    /// History, and each named forecast starting at its series index, in one chart.
    static func seriesChart(_ data: TimeSeriesData, title: String, history: Range<Int>,
                            lines: [(name: String, start: Int, values: [Double], dashed: Bool)]) -> LineChart {
        var chart = LineChart(title: title, xLabel: data.dates == nil ? "row" : "date (years)", yLabel: data.names[0])
        chart.add(LineChart.Series(name: "history", x: history.map { position(data, Double($0)) },
                                   y: history.map { data.target[$0] }, color: "#555"))
        for line in lines {
            chart.add(LineChart.Series(name: line.name, x: line.values.indices.map { position(data, Double(line.start + $0)) },
                                       y: line.values, dashed: line.dashed))
        }
        return chart
    }
}
