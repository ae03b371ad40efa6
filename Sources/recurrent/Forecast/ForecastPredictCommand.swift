import ArgumentParser
import Foundation
import Recurrent

struct ForecastPredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Forecast the values after the end of a CSV file with a trained forecaster.",
        discussion: "The file must hold the model's columns; its last rows (the model's window) are the starting point."
    )

    @Argument(help: "A model written by `recurrent forecast train`.")
    var model: String

    @Argument(help: "The CSV file to continue.")
    var data: String

    @Option(help: "How many values to forecast (default: the model's horizon).")
    var steps: Int?

    @Flag(help: "Print the forecast as one JSON object.")
    var json = false

    @Option(help: "Draw the history and the forecast to this SVG file.")
    var plot: String?

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive, got \(steps)") }
    }

    func run() throws {
        try reportingErrors {
            if let threads { Parallel.threadCount = max(1, threads) }
            let forecaster = try Forecaster(contentsOf: model)
            let c = forecaster.configuration
            let series = try TimeSeriesData(csv: data, target: c.features[0], covariates: Array(c.features.dropFirst()),
                                            dateColumn: c.dateColumn, missing: c.missing)
            let count = steps ?? c.horizon
            let values = try forecaster.forecast(after: series, steps: count)
            let dates = series.dates?.datesAfterEnd(count: count)
            if json {
                let rows: [[String: Any]] = values.enumerated().map { k, value in
                    var row: [String: Any] = ["step": k + 1, "value": value]
                    if let dates { row["date"] = dates[k] }
                    return row
                }
                print(ForecastOutput.json(["column": c.features[0], "forecast": rows]))
            } else {
                for (k, value) in values.enumerated() {
                    print("\(dates?[k] ?? String(k + 1))\t\(String(format: "%.6g", value))")
                }
            }
            if let plot {
                let shown = max(0, series.count - max(4 * count, 3 * (c.window ?? 20)))..<series.count
                let chart = ForecastOutput.seriesChart(series, title: "\(c.features[0]): forecast after \(data)", history: shown,
                                                       lines: [("forecast", series.count, values, true)])
                try SVGDocument(panels: [.line(chart)]).write(to: plot)
            }
        }
    }
}
