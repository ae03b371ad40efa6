import ArgumentParser
import Foundation
import Recurrent

/// `forecast train` on many series: one global model, then its scores on the held-out last
/// horizon of every series.
struct ForecastPanelTraining {
    let command: ForecastTrainCommand
    let table: CSVTable
    let layout: PanelLayout

    func run() throws {
        let c = command, options = c.panel
        if c.covariates != nil { throw RecurrentError.invalidArgument("many series: name covariates with --known-covariates or --past-covariates") }
        let known = ForecastPanelOptions.names(options.knownCovariates), past = ForecastPanelOptions.names(options.pastCovariates)
        let panel = try SeriesPanel(table: table, layout: layout, known: known, past: past, season: c.season)
        var configuration = GlobalForecastConfiguration()
        configuration.horizon = c.horizon
        configuration.window = c.window
        configuration.strategy = c.strategy
        configuration.head = options.head
        configuration.intervals = try options.intervalList()
        // Both chosen on the held-out last horizon unless given: the choices that scored best
        // on the competitions (docs/forecasting.md), at twice one network's training time.
        configuration.reference = c.reference?.reference
        configuration.chooseReference = c.reference == nil || c.reference == .auto ? true : nil
        configuration.lossScale = options.lossScale?.scale
        configuration.chooseLossScale = options.lossScale == nil || options.lossScale == .auto ? true : nil
        configuration.ensemble = options.ensemble > 1 ? options.ensemble : nil
        configuration.calendarFeatures = !options.noCalendarFeatures
        configuration.samples = options.samples
        configuration.layout = layout
        c.training.apply(to: &configuration)
        var trainingOptions = try c.training.trainingOptions(defaultEpochs: 40, defaultBatchSize: 256)
        trainingOptions.patience = c.patience ?? 5
        let (forecaster, history) = try GlobalForecaster.train(panel, configuration: configuration, options: trainingOptions, progress: ConsoleProgress())
        try forecaster.save(to: c.training.output)
        let report = try forecaster.backtest(panel, windows: 1, seed: c.training.seed)
        if let plot = c.plot {
            try ForecastPanelOutput.plot(panel, forecaster: forecaster, truthSteps: c.horizon, seed: c.training.seed, to: plot)
        }
        let values = panel.series.reduce(0) { $0 + $1.count }
        print("\(c.data): \(panel.series.count) series, \(values) values, season \(panel.season)"
              + (known.isEmpty ? "" : ", known covariates \(known.joined(separator: ", "))")
              + (past.isEmpty ? "" : ", past covariates \(past.joined(separator: ", "))"))
        let fc = forecaster.configuration
        let networks: String = fc.networkCount > 1 ? "\(fc.networkCount) x " : ""
        let reference: ForecastReference = fc.reference ?? .theta
        let referenceName: String = ReferenceArgument.allCases.first { $0.reference == reference }?.rawValue ?? ""
        print("Model: \(networks)\(fc.cell.rawValue.uppercased()) \(fc.numLayers)x\(fc.hiddenSize), reference \(referenceName), "
              + "loss scale \((fc.lossScale ?? .level).rawValue), window \(fc.resolvedWindow), horizon \(fc.horizon) "
              + "(\(fc.strategy.rawValue), \(fc.head.rawValue)), \(history.trainLoss.count) epochs in \(String(format: "%.0f", history.seconds)) s, "
              + "kept epoch \(history.bestEpoch.map(String.init) ?? "last") -> \(c.training.output)")
        print("Held out: the last \(fc.horizon) values of \(report.model.series) series (they chose the epoch kept)")
        ForecastPanelOutput.printScores(report, intervals: fc.intervals, json: c.json)
        if history.stopReason == .diverged {
            note("training diverged: \(history.message ?? "")")
            throw ExitCode.failure
        }
    }
}

/// Tables, CSV, JSON and plots of forecasts of many series.
enum ForecastPanelOutput {
    static func number(_ value: Double) -> String { value.isFinite ? String(format: "%.4g", value) : "-" }

    static func scoresJSON(_ scores: PanelScores) -> [String: Any] {
        var object: [String: Any] = ["mase": finite(scores.mase), "smape": finite(scores.smape), "rmse": finite(scores.rmse),
                                     "mae": finite(scores.mae), "points": scores.points, "series": scores.series]
        if !scores.coverage.isEmpty { object["coverage"] = scores.coverage }
        if let loss = scores.weightedQuantileLoss { object["weighted_quantile_loss"] = finite(loss) }
        return object
    }

    static func finite(_ value: Double) -> Any { value.isFinite ? value : NSNull() }

    /// The model, naive and seasonal naive scores; per window too when there are several.
    static func printScores(_ report: BacktestReport, intervals: [Int], json: Bool) {
        let coverage = intervals.map { "cover\($0)%" }
        print("  " + "forecast".padding(toLength: 26, withPad: " ", startingAt: 0)
              + ["MASE", "sMAPE%", "RMSE"].map { $0.leftPadded(9) }.joined() + coverage.map { $0.leftPadded(10) }.joined() + "wQL".leftPadded(8))
        func row(_ name: String, _ scores: PanelScores) {
            print("  " + name.padding(toLength: 26, withPad: " ", startingAt: 0)
                  + [scores.mase, scores.smape, scores.rmse].map { number($0).leftPadded(9) }.joined()
                  + intervals.map { (scores.coverage[String($0)].map { String(format: "%.3f", $0) } ?? "-").leftPadded(10) }.joined()
                  + (scores.weightedQuantileLoss.map { String(format: "%.4f", $0) } ?? "-").leftPadded(8))
        }
        if report.windows.count > 1 {
            for window in report.windows { row("window -\(window.stepsFromEnd)", window.model) }
        }
        row("model", report.model)
        row("naive (last value)", report.naive)
        if report.season > 1 { row("seasonal naive (lag \(report.season))", report.seasonalNaive) }
        if !report.skipped.isEmpty {
            note("\(report.skipped.count) series too short for some window: \(report.skipped.prefix(5).joined(separator: ", "))\(report.skipped.count > 5 ? ", ..." : "")")
        }
        if json {
            print(ForecastOutput.json([
                "model": scoresJSON(report.model), "naive": scoresJSON(report.naive), "seasonal_naive": scoresJSON(report.seasonalNaive),
                "horizon": report.horizon, "season": report.season,
                "windows": report.windows.map { ["steps_from_end": $0.stepsFromEnd, "model": scoresJSON($0.model),
                                                 "naive": scoresJSON($0.naive), "seasonal_naive": scoresJSON($0.seasonalNaive)] as [String: Any] },
            ]))
        }
    }

    /// A grid of the first series: their last values, then the forecast with its intervals. With
    /// `truthSteps`, the forecast starts that many steps before the end and the truth is drawn.
    static func plot(_ panel: SeriesPanel, forecaster: GlobalForecaster, truthSteps: Int?, seed: UInt64,
                     to path: String, count: Int = 12) throws {
        let c = forecaster.configuration
        var shown = panel
        shown.series = Array(panel.series.prefix(count)).filter { $0.count - (truthSteps ?? 0) >= 1 }
        let cut = truthSteps ?? 0
        var cutPanel = shown
        for i in cutPanel.series.indices {
            cutPanel.series[i].values = Array(cutPanel.series[i].values.prefix(cutPanel.series[i].count - cut))
            cutPanel.series[i].pastCovariates = cutPanel.series[i].pastCovariates.map { Array($0.prefix(cutPanel.series[i].count)) }
        }
        let forecasts = try forecaster.forecast(cutPanel, seed: seed)
        var panels: [SVGDocument.Panel] = []
        for (series, forecast) in zip(shown.series, forecasts) {
            let history = max(0, series.count - cut - max(3 * c.horizon, 2 * c.season))..<(series.count - cut)
            var chart = LineChart(title: "\(series.id)", xLabel: panel.calendar == nil ? "step" : "date", yLabel: "")
            let x = forecast.ordinals.map { position(panel, $0) }
            for (i, interval) in c.intervals.enumerated().sorted(by: { $0.element > $1.element }) {
                chart.bands.append(LineChart.Band(name: "\(interval)% interval", x: x, low: forecast.lower[i], high: forecast.upper[i],
                                                  opacity: interval >= 90 ? 0.15 : 0.3))
            }
            chart.add(LineChart.Series(name: "history", x: history.map { position(panel, series.ordinals[$0]) },
                                       y: history.map { series.values[$0] }, color: "#555"))
            if cut > 0 {
                let truth = (series.count - cut)..<series.count
                chart.add(LineChart.Series(name: "truth", x: truth.map { position(panel, series.ordinals[$0]) },
                                           y: truth.map { series.values[$0] }, color: "#d62728"))
            }
            chart.add(LineChart.Series(name: c.head == .quantiles ? "median" : "mean", x: x, y: forecast.point, color: "#1f77b4", dashed: true))
            panels.append(.line(chart))
        }
        var document = SVGDocument(panels: panels, columns: panels.count > 1 ? 3 : 1)
        document.width = panels.count > 1 ? 1500 : 900
        document.panelHeight = 300
        try document.write(to: path)
    }

    /// The x coordinate of an ordinal: a decimal year for dates, the step number otherwise.
    static func position(_ panel: SeriesPanel, _ ordinal: Double) -> Double {
        panel.calendar.map { $0.decimalYear(ordinal) } ?? ordinal
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? " " + self : String(repeating: " ", count: width - count) + self }
}
