import ArgumentParser
import Foundation
import Recurrent

struct ForecastTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a forecaster on one series (a column) or on many (long or wide format) and score it.",
        discussion: """
            One series (--column NAME): the rows are split in time order into training, validation and test parts; the \
            scaler is fitted on the training part only. Ends with the test RMSE, MAE, sMAPE and MASE of the model, of \
            the naive forecast (the last value) and of the seasonal naive forecast (the value one season earlier), on \
            the same test windows.

            Many series: a long file (columns unique_id, ds, y, or --id-column, --date-column, --column) or a wide one \
            (--columns A,B,...: a series per column) trains one model over all of them. The last --horizon values of \
            every series are held out for early stopping; ends with their scores (MASE, sMAPE, RMSE, interval \
            coverage, weighted quantile loss) beside the naive and seasonal naive forecasts.
            """
    )

    @Argument(help: "The CSV file: a header, then one row per time step (or per series and step), oldest first.")
    var data: String

    @Option(help: "The column to forecast (one series; default: the file's one column of values), or the target column of a long file (default y).")
    var column: String?

    @OptionGroup var panel: ForecastPanelOptions

    @Option(help: "One series: other columns the model reads as input, comma-separated.")
    var covariates: String?

    @Option(help: "The column of dates (default: the first other column that holds dates).")
    var dateColumn: String?

    @Option(help: "Past steps the model sees (default: 20, or one and a half seasons when that is more).")
    var window: Int?

    @Option(help: "Steps forecast from each window.")
    var horizon: Int = 1

    @Option(help: "Reaching several steps: direct (one output per step) or recursive (one step at a time, fed back).")
    var strategy: ForecastStrategy = .direct

    @Option(help: "What the network's outputs are changes from: last-value, seasonal-naive, seasonal-change (the last value plus last season's change; one series), theta (the Theta method; many series), theta-seasonal-naive (the mean of those two; many series), none, or auto (the default; one series: the one with the smallest error on the training part; many series: the one of theta, seasonal-naive, theta-seasonal-naive and last-value with the lowest MASE on the held-out last horizon).")
    var reference: ReferenceArgument?

    @Option(help: "Season length in steps for the seasonal naive forecast (default: detected from the dates; 1: none).")
    var season: Int?

    @Option(help: "Fraction of the rows, at the end, kept for the test.")
    var testFraction: Double = 0.15

    @Option(help: "Fraction of the rows, before the test part, kept for validation (early stopping, best model).")
    var validationFraction: Double = 0.15

    @Option(help: "Missing values: refuse (name the cell), interpolate or drop (the row).")
    var missing: MissingValuePolicy = .refuse

    @Option(help: "Scaling fitted on the training part: standard or min-max.")
    var scaler: ScalerArgument = .standard

    @Option(help: "Stop when the validation loss has not improved for this many epochs (default: 20 for one series, 5 for many).")
    var patience: Int?

    @Flag(help: "End standard output with the test table as one JSON object.")
    var json = false

    @Option(help: "Draw the history, the test truth, the forecasts and the loss curves to this SVG file.")
    var plot: String?

    @OptionGroup var training: TrainingOptionsGroup

    func validate() throws {
        if let window, window <= 0 { throw ValidationError("--window must be positive, got \(window)") }
        if horizon <= 0 { throw ValidationError("--horizon must be positive, got \(horizon)") }
        if let season, season <= 0 { throw ValidationError("--season must be positive, got \(season)") }
        if !(testFraction > 0 && testFraction < 0.9) { throw ValidationError("--test-fraction must be in (0, 0.9), got \(testFraction)") }
        if !(validationFraction >= 0 && validationFraction + testFraction < 0.9) {
            throw ValidationError("--validation-fraction must be at least 0 and leave 10% of the rows for training")
        }
        if let patience, patience <= 0 { throw ValidationError("--patience must be positive, got \(patience)") }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            guard (1...100).contains(panel.ensemble) else {
                throw RecurrentError.invalidArgument("--ensemble must be between 1 and 100, got \(panel.ensemble)")
            }
            let table = try CSVTable(path: data)
            if let layout = try panel.layout(of: table, target: column, dateColumn: dateColumn) {
                try ForecastPanelTraining(command: self, table: table, layout: layout).run()
                return
            }
            if panel.ensemble != 1 { throw RecurrentError.invalidArgument("--ensemble trains a model of many series; one series takes one network") }
            if panel.lossScale != nil { throw RecurrentError.invalidArgument("--loss-scale weighs the windows of many series; a model of one series has one scale") }
            let covariateNames = (covariates ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let column = try self.column ?? valueColumn(of: table, excluding: Set(covariateNames + [dateColumn].compactMap { $0 }),
                                                        otherwise: { "give --column NAME (one series)\($0), --columns A,B (a series per column), "
                                                            + "or a long file with the columns unique_id, ds, y" })
            let series = try TimeSeriesData(table: table, target: column, covariates: covariateNames, dateColumn: dateColumn, missing: missing)
            var configuration = ForecastConfiguration()
            configuration.window = window
            configuration.horizon = horizon
            configuration.strategy = strategy
            configuration.season = season
            configuration.reference = reference?.reference
            configuration.testFraction = testFraction
            configuration.validationFraction = validationFraction
            configuration.missing = missing
            configuration.scaler = scaler.kind
            // The command trains more gently than the library's default (0.01): the README's
            // quality table was measured at 0.005.
            configuration.learningRate = 0.005
            training.apply(to: &configuration)
            var options = try training.trainingOptions(defaultEpochs: 100, defaultBatchSize: 32)
            options.patience = validationFraction > 0 ? patience ?? 20 : nil
            let progress = ConsoleProgress()
            let (forecaster, report) = try Forecaster.train(series, configuration: configuration, options: options, progress: progress)
            try forecaster.save(to: training.output)
            if let plot { try drawPlot(plot, series, forecaster, report) }
            print("\(data): \(series.count) rows of \"\(column)\"" + (covariateNames.isEmpty ? "" : " with \(covariateNames.joined(separator: ", "))")
                  + (series.dates.map { " from \($0.format(ordinal: $0.ordinals[0])) to \($0.format(ordinal: $0.ordinals[$0.ordinals.count - 1]))" } ?? ""))
            printTable(series, column, forecaster, report)
            if report.history.stopReason == .diverged {
                note("training diverged: \(report.history.message ?? "")")
                throw ExitCode.failure
            }
        }
    }

    func printTable(_ series: TimeSeriesData, _ column: String, _ forecaster: Forecaster, _ report: ForecastReport) {
        let c = forecaster.configuration
        let first = report.testStart, last = series.count - 1
        let span = series.dates.map { " (\($0.format(ordinal: $0.ordinals[first])) to \($0.format(ordinal: $0.ordinals[last])))" } ?? ""
        print("Model: \(c.cell.rawValue.uppercased()) \(c.numLayers)x\(c.hiddenSize), window \(c.window ?? 0), horizon \(c.horizon) "
              + "(\(c.strategy.rawValue)), \(report.history.trainLoss.count) epochs, kept epoch \(report.history.bestEpoch.map(String.init) ?? "last")"
              + " -> \(training.output)")
        if let weight = c.networkWeight, weight < 1 {
            print("The network did not clearly beat its reference (\(c.reference?.rawValue ?? "")) on the validation windows: the model adds "
                  + (weight == 0 ? "none" : "half") + " of its change to the reference")
        }
        print("Test: \(report.testWindows) windows of \(c.horizon) step\(c.horizon == 1 ? "" : "s")\(span)"
              + (report.season.map { ", season \($0)" } ?? ", no season"))
        print("  " + "forecast".padding(toLength: 24, withPad: " ", startingAt: 0) + "      RMSE        MAE   sMAPE%    MASE")
        var rows: [(String, ForecastScores)] = [("model", report.model), ("naive (last value)", report.naive)]
        if let seasonal = report.seasonalNaive { rows.append(("seasonal naive (lag \(report.season ?? 0))", seasonal)) }
        for (name, scores) in rows {
            print("  " + name.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + String(format: "%10.4g %10.4g %8.2f %7.3f", scores.rmse, scores.mae, scores.smape, scores.mase))
        }
        if json {
            print(ForecastOutput.json([
                "model": ForecastOutput.scores(report.model), "naive": ForecastOutput.scores(report.naive),
                "seasonal_naive": ForecastOutput.scores(report.seasonalNaive), "test_windows": report.testWindows,
            ]))
        }
    }

    func drawPlot(_ path: String, _ series: TimeSeriesData, _ forecaster: Forecaster, _ report: ForecastReport) throws {
        let horizon = forecaster.configuration.horizon
        let future = try? forecaster.forecast(after: series, steps: horizon == 1 && series.featureCount == 1 ? 12 : horizon)
        let test = report.testStart..<series.count
        var lines: [(name: String, start: Int, values: [Double], dashed: Bool)] = [
            ("test truth", test.lowerBound, test.map { series.target[$0] }, false),
            ("model, 1 step ahead", report.testStart, report.testOneStep, true),
        ]
        if let future { lines.append(("forecast after the data", series.count, future, true)) }
        let chart = ForecastOutput.seriesChart(series, title: "\(series.names[0]): test forecasts (\(data))",
                                               history: 0..<report.testStart, lines: lines)
        let history = report.history
        let losses = LineChart(title: "Training", xLabel: "epoch", yLabel: "MSE (scaled)", series: [
            LineChart.Series(name: "train loss", x: history.trainLoss.indices.map { Double($0 + 1) }, y: history.trainLoss),
            LineChart.Series(name: "validation loss", x: history.validationLoss.indices.map { Double($0 + 1) }, y: history.validationLoss),
        ], logarithmicY: true)
        try SVGDocument(panels: [.line(chart), .line(losses)]).write(to: path)
    }
}
