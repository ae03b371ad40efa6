import Foundation
import XCTest
@testable import Recurrent

/// `recurrent forecast train|predict|evaluate` on many series, through the built binary.
final class ForecastPanelCommandTests: ScratchDirectoryTestCase {
    func lastJSON(_ stdout: String) throws -> [String: Any] {
        let line = try XCTUnwrap(stdout.split(separator: "\n").last, stdout)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
    }

    /// The M3 sample's training and test parts in one long file, series by series.
    func m3Full() throws -> String {
        let train = try String(contentsOfFile: ForecastTests.dataPath("m3-monthly-sample-train.csv"), encoding: .utf8)
        let test = try String(contentsOfFile: ForecastTests.dataPath("m3-monthly-sample-test.csv"), encoding: .utf8)
        return try write(train + test.split(separator: "\n").dropFirst().joined(separator: "\n") + "\n", to: "m3-full.csv")
    }

    func testTrainPredictEvaluateOnTheLongFormat() throws {
        let train = ForecastTests.dataPath("m3-monthly-sample-train.csv"), model = path("m3.model"), plot = path("grid.svg")
        let trained = try runCLI(["forecast", "train", train, "--season", "12", "--horizon", "6", "--epochs", "2", "--hidden", "16",
                                  "--json", "--plot", plot, "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("24 series, 2387 values, season 12"), trained.stdout)
        let table = try lastJSON(trained.stdout)
        let scores = try XCTUnwrap(table["model"] as? [String: Any])
        XCTAssertEqual(Set((scores["coverage"] as? [String: Double] ?? [:]).keys), ["80", "95"])
        XCTAssertEqual(scores["points"] as? Int, 24 * 6)
        XCTAssertNotNil(scores["weighted_quantile_loss"] as? Double)
        XCTAssertNotNil((table["seasonal_naive"] as? [String: Any])?["mase"] as? Double)
        let svg = try String(contentsOfFile: plot, encoding: .utf8)
        XCTAssertEqual(svg.components(separatedBy: "class=\"band\"").count - 1, 12 * 2, "12 series, two intervals each")
        XCTAssertTrue(svg.contains(">N1402<") && svg.contains("95% interval"))

        let predicted = try runCLI(["forecast", "predict", model, train])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        let rows = predicted.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.first, ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"])
        XCTAssertEqual(rows.count, 1 + 24 * 6)
        let panel = try SeriesPanel(csv: train, season: 12)
        XCTAssertEqual(rows[1][0], panel.series[0].id)
        XCTAssertEqual(rows[1][1], String(panel.series[0].count + 1), "the step after the last")
        for row in rows.dropFirst() {
            let v = row.dropFirst(2).compactMap(Double.init)
            XCTAssertTrue(v.count == 5 && v[3] <= v[1] && v[1] <= v[0] && v[0] <= v[2] && v[2] <= v[4], "\(row)")
        }
        let json = try runCLI(["forecast", "predict", model, train, "--steps", "2", "--json"])
        let forecasts = try XCTUnwrap(try lastJSON(json.stdout)["forecasts"] as? [[String: Any]])
        XCTAssertEqual(forecasts.count, 48)
        // Foundation's JSON reader on Linux may land one unit in the last place off what it reads.
        let csvMean = try XCTUnwrap(Double(rows[1][2]))
        XCTAssertEqual(try XCTUnwrap(forecasts[0]["mean"] as? Double), csvMean, accuracy: csvMean.ulp * 2)

        // The test months follow the training file: one window scores them, two add the six before.
        let full = try m3Full()
        let evaluated = try runCLI(["forecast", "evaluate", model, full, "--backtest-windows", "2", "--json"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let backtest = try lastJSON(evaluated.stdout)
        let windows = try XCTUnwrap(backtest["windows"] as? [[String: Any]])
        XCTAssertEqual(windows.map { $0["steps_from_end"] as? Int }, [12, 6])
        XCTAssertTrue(evaluated.stdout.contains("window -12") && evaluated.stdout.contains("window -6"), evaluated.stdout)
        // The last window's seasonal naive sMAPE, by hand: the last six test months against the
        // same months a year before.
        let fullPanel = try SeriesPanel(csv: full, season: 12)
        var symmetric = 0.0
        for series in fullPanel.series {
            let cut = series.count - 6
            for k in 0..<6 {
                let f = series.values[cut - 12 + k], y = series.values[cut + k]
                symmetric += 200 * abs(y - f) / (abs(y) + abs(f))
            }
        }
        let seasonal = try XCTUnwrap(windows[1]["seasonal_naive"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(seasonal["smape"] as? Double), symmetric / Double(24 * 6), accuracy: 1e-9)
    }

    func testBadPanelInputsFailOnOneLineAndWriteNoModel() throws {
        let output = path("out.model")
        func fails(_ text: String, _ extra: [String], _ fragments: [String], line: UInt = #line) throws {
            let file = try write(text, to: "bad.csv")
            try assertFails(["forecast", "train", file, "-o", output] + extra, mentioning: ["bad.csv"] + fragments, leavesNo: output, line: line)
        }
        try fails("unique_id,ds,y\na,1,5\na,2,6\na,2,7\n", ["--season", "1"], ["line 4, column 2 (\"ds\")", "second row for \"2\""])
        try fails("unique_id,ds,y\na,1,5\na,2,x\n", ["--season", "1"], ["line 3, column 3 (\"y\")", "\"x\" is not a number"])
        try fails("unique_id,ds,y\na,1,5\na,2,6\n", [], ["column \"ds\" holds step numbers", "--season"])
        try fails("unique_id,ds,y\na,2001-01,5\na,2001-03,6\na,2001-04,6\n", [], ["line 3", "series \"a\"", "jumps 2"])
        try fails("id,t,sales\na,1,5\n", ["--id-column", "id", "--date-column", "t", "--column", "y", "--season", "1"], ["no column \"y\""])
        let recursive = try write("unique_id,ds,y\na,1,5\na,2,6\n", to: "recursive.csv")
        try assertFails(["forecast", "train", recursive, "--season", "1", "--strategy", "recursive", "-o", output],
                        mentioning: ["needs a distribution head"], leavesNo: output)

        // Unsorted rows are sorted; a series shorter than the window is padded, not dropped.
        var rows = ["unique_id,ds,y"]
        let airline = try TimeSeriesData(csv: ForecastTests.dataPath("airline-passengers.csv"), target: "Passengers")
        for (t, value) in airline.target.enumerated().reversed() { rows.append("air,\(airline.dates?.format(ordinal: airline.dates?.ordinals[t] ?? 0) ?? ""),\(value)") }
        rows += ["tiny,1960-10,300", "tiny,1960-12,320", "tiny,1960-11,310"]
        let mixed = try write(rows.joined(separator: "\n") + "\n", to: "mixed.csv")
        let model = path("mixed.model")
        let trained = try runCLI(["forecast", "train", mixed, "--horizon", "2", "--epochs", "1", "--hidden", "8", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("2 series, 147 values, season 12"), trained.stdout)
        let predicted = try runCLI(["forecast", "predict", model, mixed])
        XCTAssertTrue(predicted.stdout.contains("\nair,1961-01,") && predicted.stdout.contains("\ntiny,1961-01,"), predicted.stdout)

        // Series the model never saw: forecast from their own history, with a note.
        let other = try write("unique_id,ds,y\nnew,1960-01,100\nnew,1960-02,110\nnew,1960-03,120\n", to: "other.csv")
        let unseen = try runCLI(["forecast", "predict", model, other])
        XCTAssertEqual(unseen.status, 0, unseen.stderr)
        XCTAssertTrue(unseen.stderr.contains("1 series the model was not trained on (new)"), unseen.stderr)
        XCTAssertTrue(unseen.stdout.contains("new,1960-04,"), unseen.stdout)
        try assertFails(["forecast", "predict", model, other, "--steps", "3"], mentioning: ["forecasts 2 steps (its horizon); asked for 3"])
        let yearly = try write("unique_id,ds,y\nnew,1960,100\nnew,1961,110\n", to: "yearly.csv")
        try assertFails(["forecast", "predict", model, yearly], mentioning: ["yearly.csv", "not written at the model's frequency"])
    }

    /// `--ensemble 2 --reference auto`: two networks in one file, the reference chosen on the
    /// held-out months and named; `predict` reads the file back; bad sizes are refused.
    func testEnsembleWithTheReferenceChosenOnTheHeldOutWindow() throws {
        let train = ForecastTests.dataPath("m3-monthly-sample-train.csv"), model = path("pair.model")
        let trained = try runCLI(["forecast", "train", train, "--season", "12", "--horizon", "6", "--epochs", "1", "--hidden", "8",
                                  "--ensemble", "2", "--reference", "auto", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("network 2 of 2") && trained.stderr.contains("held-out MASE of the references: theta "), trained.stderr)
        let panel = try SeriesPanel(csv: train, season: 12)
        var configuration = GlobalForecastConfiguration()
        configuration.horizon = 6
        configuration.season = 12
        let name: [ForecastReference: String] = [.theta: "theta", .seasonalNaive: "seasonal-naive", .thetaSeasonalNaive: "theta-seasonal-naive", .lastValue: "last-value"]
        let chosen = try XCTUnwrap(GlobalForecaster.referenceErrors(panel, configuration: configuration, holdout: 6).min { $0.mase < $1.mase })
        XCTAssertTrue(trained.stdout.contains("Model: 2 x LSTM 1x8, reference \(name[chosen.reference] ?? ""),"), trained.stdout)
        let predicted = try runCLI(["forecast", "predict", model, train])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        XCTAssertEqual(predicted.stdout.split(separator: "\n").count, 1 + 24 * 6)
        XCTAssertEqual(try GlobalForecaster(contentsOf: model).members.count, 2)
        let output = path("refused.model")
        try assertFails(["forecast", "train", train, "--season", "12", "--ensemble", "0", "-o", output],
                        mentioning: ["--ensemble must be between 1 and 100, got 0"], leavesNo: output)
        try assertFails(["forecast", "train", ForecastTests.dataPath("airline-passengers.csv"), "--column", "Passengers", "--ensemble", "2", "-o", output],
                        mentioning: ["--ensemble trains a model of many series"], leavesNo: output)
    }

    /// `--loss-scale auto` trains a network under each scale, names both held-out MASEs and
    /// keeps the lower; `--loss-scale mase` is named on the model line; other values, and the
    /// option on one series, are refused on one line with no model written.
    func testLossScaleIsChosenOnTheHeldOutWindowOrGiven() throws {
        let train = ForecastTests.dataPath("m3-monthly-sample-train.csv"), model = path("scaled.model")
        let common = ["forecast", "train", train, "--season", "12", "--horizon", "6", "--epochs", "1", "--hidden", "8", "-o", model]
        let auto = try runCLI(common + ["--loss-scale", "auto"])
        XCTAssertEqual(auto.status, 0, auto.stderr)
        let line = try XCTUnwrap(auto.stderr.split(separator: "\n").first { $0.contains("held-out MASE of the loss scales: ") }, auto.stderr)
        let words = line.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: ";", with: "").split(separator: " ").map(String.init)
        let level = try XCTUnwrap(words.firstIndex(of: "level").flatMap { Double(words[$0 + 1]) }, String(line))
        let mase = try XCTUnwrap(words.firstIndex(of: "mase").flatMap { Double(words[$0 + 1]) }, String(line))
        let kept = mase < level ? "mase" : "level"
        XCTAssertTrue(line.hasSuffix("keeping \(kept)"), String(line))
        XCTAssertTrue(auto.stdout.contains("reference theta, loss scale \(kept), window 24"), auto.stdout)
        XCTAssertEqual(try GlobalForecaster(contentsOf: model).configuration.lossScale?.rawValue, kept)
        let given = try runCLI(common + ["--loss-scale", "mase"])
        XCTAssertEqual(given.status, 0, given.stderr)
        XCTAssertTrue(given.stdout.contains("loss scale mase,"), given.stdout)
        let output = path("refused.model")
        let bad = try runCLI(["forecast", "train", train, "--season", "12", "--loss-scale", "median", "-o", output])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("'median'") && bad.stderr.contains("--loss-scale"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        try assertFails(["forecast", "train", ForecastTests.dataPath("airline-passengers.csv"), "--column", "Passengers", "--loss-scale", "mase", "-o", output],
                        mentioning: ["--loss-scale weighs the windows of many series"], leavesNo: output)
    }

    /// The one-series commands keep working, and `evaluate` backtests them too.
    func testEvaluateBacktestsAOneSeriesModel() throws {
        let data = ForecastTests.dataPath("airline-passengers.csv"), model = path("airline.model")
        let trained = try runCLI(["forecast", "train", data, "--column", "Passengers", "--horizon", "3", "--epochs", "2", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let evaluated = try runCLI(["forecast", "evaluate", model, data, "--backtest-windows", "4", "--json"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let report = try lastJSON(evaluated.stdout)
        XCTAssertEqual((report["windows"] as? [Any])?.count, 4)
        let passengers = try TimeSeriesData(csv: data, target: "Passengers").target
        // The last window's naive forecast repeats month 141 for months 142...144.
        let naive = try XCTUnwrap((report["windows"] as? [[String: Any]])?.last?["naive"] as? [String: Any])
        let expected = (141..<144).reduce(0) { $0 + abs(passengers[$1] - passengers[140]) } / 3
        XCTAssertEqual(try XCTUnwrap(naive["mae"] as? Double), expected, accuracy: 1e-9)
    }
}
