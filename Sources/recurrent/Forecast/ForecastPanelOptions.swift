import ArgumentParser
import Foundation
import Recurrent

extension ForecastHead: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "quantiles": self = .quantiles
        case "gaussian": self = .gaussian
        case "student-t": self = .studentT
        case "negative-binomial": self = .negativeBinomial
        default: return nil
        }
    }
    public static var allValueStrings: [String] { ["quantiles", "gaussian", "student-t", "negative-binomial"] }
}

/// `--loss-scale`: a `ForecastLossScale`, or `auto` (chosen on the held-out last horizon).
enum LossScaleArgument: String, ExpressibleByArgument, CaseIterable {
    case level, mase, auto
    var scale: ForecastLossScale? { ForecastLossScale(rawValue: rawValue) }
}

/// `forecast train`'s options for many series.
struct ForecastPanelOptions: ParsableArguments {
    @Option(help: "Many series, long format: the column naming each row's series (default unique_id, used when the file has it).")
    var idColumn: String?

    @Option(help: "Many series, wide format: the columns that are series, comma-separated.")
    var columns: String?

    @Option(help: "Many series: columns known ahead (calendar, promotions, prices), given in rows past each series' last value too.")
    var knownCovariates: String?

    @Option(help: "Many series: columns observed with the target only.")
    var pastCovariates: String?

    @Option(help: "Many series: quantiles (pinball loss), gaussian, student-t or negative-binomial (likelihood).")
    var head: ForecastHead = .quantiles

    @Option(help: "Many series: central prediction intervals in percent, comma-separated.")
    var intervals: String = "80,95"

    @Option(help: "Many series: draws per series for a distribution head's intervals and the recursive strategy's paths.")
    var samples: Int = 200

    @Flag(help: "Many series: leave out the calendar (or season) phase inputs.")
    var noCalendarFeatures = false

    @Option(help: "Many series: train this many networks from seeds derived from --seed (the first takes --seed itself) and forecast the element-wise median of their forecasts.")
    var ensemble: Int = 1

    @Option(help: "Many series: how each window's loss weighs: level (in units of the window's level, as sMAPE), mase (in units of its series' in-sample seasonal naive error, as MASE), or auto (the default: a network trained with each, the one with the lower MASE on the held-out last horizon kept).")
    var lossScale: LossScaleArgument?

    func validate() throws {
        if samples <= 0 { throw ValidationError("--samples must be positive, got \(samples)") }
        _ = try intervalList()
    }

    static func names(_ list: String?) -> [String] {
        (list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func intervalList() throws -> [Int] {
        let values = Self.names(intervals).map { Int($0) }
        guard !values.isEmpty, values.allSatisfy({ $0.map { (1...99).contains($0) } ?? false }) else {
            throw ValidationError("--intervals must be whole percents between 1 and 99, comma-separated, got \"\(intervals)\"")
        }
        return values.compactMap { $0 }
    }

    /// The layout of many series, or nil for one series (a `--column` of a file without ids).
    func layout(of table: CSVTable, target: String?, dateColumn: String?) throws -> PanelLayout? {
        if let columns {
            guard idColumn == nil else { throw RecurrentError.invalidArgument("--columns (wide) and --id-column (long) exclude each other") }
            return .wide(columns: Self.names(columns), date: dateColumn)
        }
        if idColumn != nil || (target == nil || target == "y") && table.header.contains("unique_id") {
            return .long(id: idColumn ?? "unique_id", date: dateColumn ?? "ds", target: target ?? "y")
        }
        return nil
    }
}
