import ArgumentParser
import Foundation
import Recurrent

struct ForecastEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a trained forecaster on a CSV file by rolling-origin backtesting.",
        discussion: """
            Cuts every series K times, horizon steps apart, the last cut a horizon before its end; forecasts from the \
            values before each cut and scores the next horizon values (every metric per window and overall), beside \
            the naive and seasonal naive forecasts. The model is not retrained. With the training file followed by \
            the test periods, one window scores the test periods.
            """
    )

    @Argument(help: "A model written by `recurrent forecast train`.")
    var model: String

    @Argument(help: "The CSV file, laid out as the training file.")
    var data: String

    @Option(help: "Rolling windows (origins), a horizon apart.")
    var backtestWindows: Int = 1

    @Flag(help: "End standard output with the scores as one JSON object.")
    var json = false

    @Option(help: "Draw the first series' last window, truth and forecast with its intervals to this SVG file.")
    var plot: String?

    @Option(help: "The seed of the draws (distribution heads, sample paths).")
    var seed: UInt64 = 0

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    func validate() throws {
        if backtestWindows <= 0 { throw ValidationError("--backtest-windows must be positive, got \(backtestWindows)") }
    }

    func run() throws {
        try reportingErrors {
            if let threads { Parallel.threadCount = max(1, threads) }
            if try Model(contentsOf: model).task == "global-forecast" {
                let forecaster = try GlobalForecaster(contentsOf: model)
                let c = forecaster.configuration
                guard let layout = c.layout else { throw RecurrentError.invalidFile(path: model, reason: "does not say how its data were laid out") }
                let panel = try SeriesPanel(table: try CSVTable(path: data), layout: layout, known: c.knownCovariates,
                                            past: c.pastCovariates, season: c.season)
                try DistributedLaunch.splittingWork("evaluation") { communicator in
                    let report = try forecaster.backtest(panel, windows: backtestWindows, seed: seed, communicator: communicator)
                    if let plot, DistributedLaunch.isFirst(communicator) {
                        try ForecastPanelOutput.plot(panel, forecaster: forecaster, truthSteps: c.horizon, seed: seed, to: plot)
                    }
                    print("\(data): \(panel.series.count) series; \(report.windows.count) window\(report.windows.count == 1 ? "" : "s") of \(c.horizon) steps")
                    ForecastPanelOutput.printScores(report, intervals: c.intervals, json: json)
                }
            } else {
                let forecaster = try Forecaster(contentsOf: model)
                let c = forecaster.configuration
                let series = try TimeSeriesData(csv: data, target: c.features[0], covariates: Array(c.features.dropFirst()),
                                                dateColumn: c.dateColumn, missing: c.missing)
                try DistributedLaunch.splittingWork("evaluation") { communicator in
                    let report = try forecaster.backtest(series, windows: backtestWindows, communicator: communicator)
                    print("\(data): \(series.count) rows of \"\(c.features[0])\"; \(report.windows.count) window\(report.windows.count == 1 ? "" : "s") of \(c.horizon) steps")
                    ForecastPanelOutput.printScores(report, intervals: [], json: json)
                }
            }
        }
    }
}
