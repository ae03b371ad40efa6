import Foundation
import XCTest
@testable import Recurrent

/// `recurrent forecast train|predict` through the built binary.
final class ForecastCommandLineTests: ScratchDirectoryTestCase {
    func lastJSON(_ stdout: String) throws -> [String: Any] {
        let line = try XCTUnwrap(stdout.split(separator: "\n").last, stdout)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
    }

    func testTrainScoresTheSameTestWindowsAsTheBaselinesThenPredictContinuesTheDates() throws {
        let data = ForecastTests.dataPath("airline-passengers.csv"), model = path("airline.model"), plot = path("airline.svg")
        let trained = try runCLI(["forecast", "train", data, "--column", "Passengers", "--epochs", "3", "--json", "--plot", plot, "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("epoch 1/3"), "progress goes to standard error: \(trained.stderr)")
        let table = try lastJSON(trained.stdout)
        // 144 months: the test part starts at row 122 (1959-03); one window per test month.
        XCTAssertEqual(table["test_windows"] as? Int, 22)
        let passengers = try TimeSeriesData(csv: data, target: "Passengers").target
        let naiveErrors: [Double] = (122..<144).map { abs(passengers[$0] - passengers[$0 - 1]) }
        let seasonalErrors: [Double] = (122..<144).map { abs(passengers[$0] - passengers[$0 - 12]) }
        let naiveMAE = naiveErrors.reduce(0, +) / 22, seasonalMAE = seasonalErrors.reduce(0, +) / 22
        let naive = try XCTUnwrap(table["naive"] as? [String: Double]), seasonal = try XCTUnwrap(table["seasonal_naive"] as? [String: Double])
        XCTAssertEqual(try XCTUnwrap(naive["mae"]), naiveMAE, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(seasonal["mae"]), seasonalMAE, accuracy: 1e-9)
        let modelScores = try XCTUnwrap(table["model"] as? [String: Double])
        XCTAssertEqual(Set(modelScores.keys), ["rmse", "mae", "smape", "mase"])
        XCTAssertTrue(trained.stdout.contains("seasonal naive (lag 12)"), trained.stdout)
        let svg = try String(contentsOfFile: plot, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("test truth") && svg.contains("validation loss"))

        let predicted = try runCLI(["forecast", "predict", model, data, "--steps", "3", "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        let forecast = try XCTUnwrap(try lastJSON(predicted.stdout)["forecast"] as? [[String: Any]])
        XCTAssertEqual(forecast.compactMap { $0["date"] as? String }, ["1961-01", "1961-02", "1961-03"])
        XCTAssertTrue(forecast.allSatisfy { ($0["value"] as? Double).map { (200...900).contains($0) } ?? false }, "\(forecast)")
        let plain = try runCLI(["forecast", "predict", model, data, "--steps", "2"])
        XCTAssertTrue(plain.stdout.hasPrefix("1961-01\t"), plain.stdout)
    }

    /// The seeds' example from the command line: a counting series, then [22, 24, 23, 25] -> about 26.
    func testSmallExampleFromTheCommandLine() throws {
        let ramp = try write("value\n" + (1...60).map { "\($0)\n" }.joined(), to: "ramp.csv")
        let model = path("ramp.model")
        let trained = try runCLI(["forecast", "train", ramp, "--column", "value", "--window", "4", "--epochs", "60", "--batch-size", "8", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        for (rows, expected, tolerance) in [("22\n24\n23\n25\n", 26.0, 1.0), ("1\n2\n3\n4\n", 5.0, 0.5)] {
            let input = try write("value\n" + rows, to: "input.csv")
            let predicted = try runCLI(["forecast", "predict", model, input, "--json"])
            XCTAssertEqual(predicted.status, 0, predicted.stderr)
            let forecast = try XCTUnwrap(try lastJSON(predicted.stdout)["forecast"] as? [[String: Any]])
            XCTAssertEqual(try XCTUnwrap(forecast.first?["value"] as? Double), expected, accuracy: tolerance, rows)
            XCTAssertNil(forecast.first?["date"], "no dates in the data, none in the forecast")
        }
    }

    func testBadForecastInputsNameFileLineAndColumn() throws {
        let output = path("out.model")
        let sunspots = ForecastTests.dataPath("sunspots-yearly.csv")
        func fails(_ arguments: [String], _ fragments: [String], line: UInt = #line) throws {
            try assertFails(arguments, mentioning: fragments, leavesNo: output, line: line)
        }
        try fails(["forecast", "train", sunspots, "--column", "SPOTS", "-o", output], ["sunspots-yearly.csv", "no column \"SPOTS\"", "\"SUNACTIVITY\""])
        let text = try write("date,v\n2001-01,1\n2001-02,2\n2001-03,three\n", to: "text.csv")
        try fails(["forecast", "train", text, "--column", "v", "-o", output], ["text.csv", "line 4, column 2 (\"v\")", "\"three\" is not a number"])
        let gap = try write("date,v\n2001-01,1\n2001-02,\n2001-03,3\n", to: "gap.csv")
        try fails(["forecast", "train", gap, "--column", "v", "-o", output], ["gap.csv", "line 3, column 2 (\"v\")", "missing value"])
        let short = try write("v\n" + (1...15).map { "\($0)\n" }.joined(), to: "short.csv")
        try fails(["forecast", "train", short, "--column", "v", "--window", "10", "-o", output],
                  ["short.csv", "column \"v\"", "15 rows are too few for a window of 10 plus a horizon of 1"])
        let empty = try write("", to: "empty.csv")
        try fails(["forecast", "train", empty, "--column", "v", "-o", output], ["empty.csv", "is empty"])
        let headerOnly = try write("v\n", to: "header.csv")
        try fails(["forecast", "train", headerOnly, "--column", "v", "-o", output], ["header.csv", "no data rows"])

        // Without --column: the one column of values is taken (the year column reads as dates);
        // with two, the error names them.
        let two = try write("date,a,b\n2001-01,1,5\n2001-02,2,4\n2001-03,3,3\n", to: "two.csv")
        try fails(["forecast", "train", two, "-o", output], ["two.csv", "give --column NAME", "the columns of numbers are \"a\", \"b\""])
        let model = path("sunspots.model")
        let trained = try runCLI(["forecast", "train", sunspots, "--epochs", "1", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("reading \"SUNACTIVITY\", the file's one column of values"), trained.stderr)
        XCTAssertTrue(trained.stdout.contains("309 rows of \"SUNACTIVITY\" from 1700 to 2008"), trained.stdout)
        let other = try write("YEAR,spots\n1700,5\n", to: "other.csv")
        try assertFails(["forecast", "predict", model, other], mentioning: ["other.csv", "no column \"SUNACTIVITY\""])
        let few = try write("YEAR,SUNACTIVITY\n1700,5\n1701,11\n", to: "few.csv")
        try assertFails(["forecast", "predict", model, few], mentioning: ["few.csv", "at least 20 rows", "got 2"])
        try assertFails(["forecast", "predict", sunspots, sunspots], mentioning: ["sunspots-yearly.csv"])
    }
}
