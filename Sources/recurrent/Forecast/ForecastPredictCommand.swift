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

    @Option(help: "How many values to forecast (default: the model's horizon; at most that for a model of many series).")
    var steps: Int?

    @Option(help: "Many series: the seed of the draws (distribution heads, sample paths).")
    var seed: UInt64 = 0

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
            if try Model(contentsOf: model).task == "global-forecast" {
                try predictMany(try GlobalForecaster(contentsOf: model))
                return
            }
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

    /// Many series: `unique_id, ds, mean, lo-80, hi-80, ...` as CSV (or one JSON object).
    func predictMany(_ forecaster: GlobalForecaster) throws {
        let c = forecaster.configuration
        guard let layout = c.layout else { throw RecurrentError.invalidFile(path: model, reason: "does not say how its data were laid out") }
        let panel = try SeriesPanel(table: try CSVTable(path: data), layout: layout, known: c.knownCovariates, past: c.pastCovariates, season: c.season)
        let count = steps ?? c.horizon
        guard count <= c.horizon else {
            throw RecurrentError.invalidArgument("this model forecasts \(c.horizon) steps (its horizon); asked for \(count)")
        }
        try DistributedLaunch.splittingWork("prediction") { communicator in
            let forecasts = try forecaster.forecast(panel, seed: seed, communicator: communicator)
            guard DistributedLaunch.isFirst(communicator) else { return }
            try printMany(forecasts, panel: panel, forecaster: forecaster, count: count)
        }
    }

    func printMany(_ forecasts: [SeriesForecast], panel: SeriesPanel, forecaster: GlobalForecaster, count: Int) throws {
        let c = forecaster.configuration
        let trained = Set(c.seriesIDs), unseen = panel.series.map(\.id).filter { !trained.contains($0) }
        if !unseen.isEmpty {
            note("\(unseen.count) series the model was not trained on (\(unseen.prefix(3).joined(separator: ", "))\(unseen.count > 3 ? ", ..." : "")): "
                 + "forecast from their own history")
        }
        let columns = forecaster.predictionColumns, table = forecaster.predictionRows(forecasts, panel: panel, steps: count)
        if json {
            let rows: [[String: Any]] = table.map { row in
                var object: [String: Any] = ["unique_id": row.id, "ds": row.ds]
                for (name, value) in zip(columns.dropFirst(2), row.values) { object[name] = value }
                return object
            }
            print(ForecastOutput.json(["forecasts": rows]))
        } else {
            print(columns.joined(separator: ","))
            for row in table { print(([csvField(row.id), csvField(row.ds)] + row.values.map { "\($0)" }).joined(separator: ",")) }
        }
        if let plot { try ForecastPanelOutput.plot(panel, forecaster: forecaster, truthSteps: nil, seed: seed, to: plot) }
    }

    func csvField(_ text: String) -> String {
        text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
