import ArgumentParser
import Foundation
import Recurrent

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a small LSTM forecaster on yearly sunspot numbers (1700-2008) and forecast the next years.",
        discussion: "Prints the test RMSE of the model beside the naive forecast (last year's value) and the next values."
    )

    @Option(help: "The sunspot CSV (default: Data/sunspots-yearly.csv of this repository).")
    var data: String?

    @Option(help: "Training epochs.")
    var epochs: Int = 60

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Threads for the kernels.")
    var threads: Int = min(2, ProcessInfo.processInfo.activeProcessorCount)

    func run() throws {
        try reportingErrors {
            Parallel.threadCount = max(1, threads)
            let path = data ?? Self.bundledSunspots
            let table = try CSVTable(path: path)
            let columns = try table.numericColumns(["YEAR", "SUNACTIVITY"])
            let (years, spots) = (columns[0], columns[1])
            print("Yearly sunspot numbers \(Int(years.first ?? 0))-\(Int(years.last ?? 0)): \(spots.count) values from \(path)")

            var configuration = ForecastConfiguration()
            configuration.window = 20
            configuration.hiddenSize = 32
            var options = TrainingOptions()
            options.epochs = epochs
            options.batchSize = 16
            options.seed = seed
            options.patience = 15
            print("Training LSTM(1 -> \(configuration.hiddenSize)) + Dense on windows of \(configuration.window ?? 0) years "
                  + "(70% train, 15% validation, 15% test, in time order)")
            fflush(nil)
            let progress = ConsoleProgress()
            let (forecaster, report) = try Forecaster.train(series: spots, configuration: configuration, options: options, progress: progress)
            if let message = report.history.message { note(message) }

            print("")
            print("Test (\(report.testWindows) years, \(Int(years[years.count - report.testWindows]))-\(Int(years.last ?? 0))):")
            func row(_ name: String, _ rmse: Double, _ mae: Double) -> String {
                "  " + name.padding(toLength: 27, withPad: " ", startingAt: 0) + String(format: "RMSE %6.2f   MAE %6.2f", rmse, mae)
            }
            print(row("LSTM", report.modelRMSE, report.modelMAE))
            print(row("naive (last year's value)", report.naiveRMSE, report.naiveMAE))
            let next = try forecaster.forecast(after: spots, steps: 5)
            let lastYear = Int(years.last ?? 0)
            print("Next 5 years: " + next.enumerated().map { String(format: "%d: %.1f", lastYear + $0 + 1, $1) }.joined(separator: ", "))
        }
    }

    /// Data/ of the checkout this binary was built from, or of the current directory.
    static var bundledSunspots: String {
        let relative = "Data/sunspots-yearly.csv"
        if FileManager.default.fileExists(atPath: relative) { return relative }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(relative).path
    }
}
