import Foundation
import XCTest
@testable import Recurrent

/// Forecasting from Swift: dates, reading series, baselines and scores, training and forecasting.
final class ForecastTests: XCTestCase {
    static func dataPath(_ name: String) -> String {
        repositoryFile("Data/\(name)")
    }

    func testDatesReadInEveryFormAndContinueAfterTheEnd() throws {
        let cases: [([String], DateFormat, [String])] = [
            (["1949-01", "1949-02", "1949-03"], .yearMonth, ["1949-04", "1949-05"]),
            (["1960-11", "1960-12"], .yearMonth, ["1961-01"]),
            (["2012/02/27", "2012/02/28"], .yearMonthDay, ["2012/02/29", "2012/03/01"]),
            (["19580329", "19580405", "19580412"], .compactYearMonthDay, ["19580419"]),
            (["2000-01-01", "2000-02-01"], .yearMonthDay, ["2000-03-01"]),
            (["2010/12/31 22:00:00", "2010/12/31 23:00:00"], .dateTime, ["2011/01/01 00:00:00"]),
            (["1700", "1701", "1702"], .decimalYear, ["1703", "1704"]),
            (["1958.0", "1958.5"], .decimalYear, ["1959"]),
            // The year last: month first unless a month would pass 12 or the separator is a dot;
            // written back with the column's padding.
            (["1/1/1949", "2/1/1949", "12/1/1949"], .yearMonthDay, ["1/1/1950", "2/1/1950"]),
            (["12/30/2019", "12/31/2019"], .yearMonthDay, ["1/1/2020"]),
            (["30/12/2019", "31/12/2019"], .yearMonthDay, ["1/1/2020"]),
            (["30/12/2019", "31/12/2019", "01/01/2020"], .yearMonthDay, ["02/01/2020"]),
            (["28.02.2012", "29.02.2012"], .yearMonthDay, ["01.03.2012"]),
            (["01-31-2012", "02-01-2012"], .yearMonthDay, ["02-02-2012"]),
            (["31.12.2010 23:00", "01.01.2011 00:00"], .dateTime, ["01.01.2011 01:00:00"]),
            (["3/13/2011 1:00", "3/13/2011 2:00"], .dateTime, ["3/13/2011 03:00:00"]),
            // Zones: the ordinals in UTC (so the change to summer time is one hour, no gap), the
            // dates after the end in the last row's zone, with the rows' "T".
            (["2015-01-01T00:00:00Z", "2015-01-01T01:00:00Z"], .dateTime, ["2015-01-01T02:00:00Z"]),
            (["2016-03-27 01:00:00+01:00", "2016-03-27 03:00:00+02:00"], .dateTime, ["2016-03-27 04:00:00+02:00"]),
            (["2016-03-27T00:59:59.5-0500", "2016-03-27T01:59:59.5-0500"], .dateTime, ["2016-03-27T03:00:00-0500"]),
        ]
        for (cells, format, expected) in cases {
            let axis = try XCTUnwrap(DateAxis(cells: cells), "\(cells)")
            XCTAssertEqual(axis.format, format, "\(cells)")
            XCTAssertEqual(axis.datesAfterEnd(count: expected.count), expected, "\(cells)")
        }
        XCTAssertNil(DateAxis(cells: ["112", "118"]), "passenger counts are no dates")
        XCTAssertNil(DateAxis(cells: ["2012/02/30"]), "no 30 February")
        XCTAssertNil(DateAxis(cells: ["13/13/2012"]), "no month 13 either way round")
        // Two-digit years, written last as spreadsheets write them: this century's up to ten
        // years ahead, the last century's beyond; the dates after the end keep two digits.
        let spreadsheet = try XCTUnwrap(DateAxis(cells: ["11/1/49", "12/1/49"]))
        XCTAssertEqual(spreadsheet.order, .monthDayYear)
        XCTAssertEqual(spreadsheet.calendarSeasons, [12])
        XCTAssertEqual(spreadsheet.datesAfterEnd(count: 2), ["1/1/50", "2/1/50"])
        XCTAssertEqual(spreadsheet.decimalYear(spreadsheet.ordinals[0]), 1949 + 10.0 / 12, accuracy: 1e-9)
        XCTAssertEqual(DateAxis(cells: ["31.12.99", "01.01.00"])?.datesAfterEnd(count: 1), ["02.01.00"])
        XCTAssertEqual(DateAxis(cells: ["31.12.99", "01.01.00"])?.step, 1, "1999 to 2000 is a day")
        let now = try XCTUnwrap(Calendar(identifier: .gregorian).date(from: DateComponents(year: 2026, month: 12, day: 7)))
        XCTAssertEqual([0, 26, 36, 37, 49, 99].map { DateAxis.century(ofTwoDigitYear: $0, now: now) }, [2000, 2026, 2036, 1937, 1949, 1999])
        XCTAssertNil(DateAxis(cells: ["49-01-31"]), "a two-digit year first is not read")
        XCTAssertNil(DateAxis(cells: ["2015-01-01T00:00:00+2:00"]), "a zone's hours have two digits")
        XCTAssertEqual(DateAxis(cells: ["2016-03-27 01:00:00+01:00", "2016-03-27 03:00:00+02:00"])?.step, 3600)
        XCTAssertEqual(DateAxis(cells: ["1/2/2012", "1/3/2012"])?.order, .monthDayYear)
        XCTAssertEqual(DateAxis(cells: ["1/2/2012", "13/2/2012"])?.order, .dayMonthYear)
        XCTAssertNil(DateAxis(cells: ["2012-01-02"])?.order, "year first is the form files always had")
        XCTAssertEqual(DateAxis(cells: ["1/1/1949", "2/1/1949"])?.calendarSeasons, [12])
        XCTAssertEqual(DateAxis(cells: ["30.12.2019", "31.12.2019"])?.calendarSeasons, [7, 365])
        XCTAssertEqual(DateAxis(cells: ["1949-01", "1949-02"])?.calendarSeasons, [12])
        XCTAssertEqual(DateAxis(cells: ["19580329", "19580405"])?.calendarSeasons, [52])
        XCTAssertEqual(DateAxis(cells: ["1700", "1701"])?.calendarSeasons, [])
    }

    func testSeriesFromCSVFollowTheMissingValuePolicyAndKeepDatesInStep() throws {
        let text = "\"when\",\"level\",\"rain\"\n2020-01,1,5\n2020-02,,6\n2020-03,3,7\n2020-04,4,x\n"
        let good = try CSVTable(text: text.replacingOccurrences(of: ",x", with: ",8"), path: "levels.csv")
        let interpolated = try TimeSeriesData(table: good, target: "level", covariates: ["rain"], missing: .interpolate)
        XCTAssertEqual(interpolated.target, [1, 2, 3, 4])
        XCTAssertEqual(interpolated.columns[1], [5, 6, 7, 8])
        XCTAssertEqual(interpolated.dateColumn, "when")
        let dropped = try TimeSeriesData(table: good, target: "level", missing: .drop)
        XCTAssertEqual(dropped.target, [1, 3, 4])
        XCTAssertEqual(dropped.dates.map { $0.ordinals.map { $0 - 2020 * 12 } }, [0, 2, 3])
        XCTAssertThrowsError(try TimeSeriesData(table: good, target: "level")) { error in
            XCTAssertEqual("\(error)", "levels.csv: line 3, column 2 (\"level\"): missing value (choose a policy: interpolate or drop)")
        }
        let bad = try CSVTable(text: text, path: "levels.csv")
        XCTAssertThrowsError(try TimeSeriesData(table: bad, target: "level", covariates: ["rain"], missing: .interpolate)) { error in
            XCTAssertEqual("\(error)", "levels.csv: line 5, column 3 (\"rain\"): \"x\" is not a number")
        }
        let backwards = try CSVTable(text: "date,v\n2020-03,1\n2020-02,2\n", path: "b.csv")
        XCTAssertThrowsError(try TimeSeriesData(table: backwards, target: "v")) { error in
            XCTAssertTrue("\(error)".contains("b.csv: line 3, column 1 (\"date\"): the date \"2020-02\" does not come after"), "\(error)")
        }
    }

    func testSemicolonTabAndBarSeparatedFilesReadAsTheCommaFileDoes() throws {
        let comma = "date,level,note\n2020-01,1.5,\"a; b\"\n2020-02,-2.25,c\n2020-03,3,\"d, e\"\n"
        let reference = try TimeSeriesData(table: CSVTable(text: comma, path: "c.csv"), target: "level")
        XCTAssertEqual(reference.target, [1.5, -2.25, 3])
        // Spreadsheets in many locales write semicolons and decimal commas.
        let semicolon = "date;level;note\n2020-01;1,5;\"a; b\"\n2020-02;-2,25;c\n2020-03;3;d, e\n"
        let tab = comma.replacingOccurrences(of: ",", with: "\t")
            .replacingOccurrences(of: "\"a; b\"", with: "a; b").replacingOccurrences(of: "\"d\te\"", with: "d, e")
        let bar = "date|level|note\n2020-01|1.5|a\n2020-02|-2.25|c\n2020-03|3|d\n"
        for (text, expected) in [(semicolon, ";"), (tab, "\t"), (bar, "|")] as [(String, Unicode.Scalar)] {
            let table = try CSVTable(text: text, path: "s.csv")
            XCTAssertEqual(table.delimiter, expected)
            XCTAssertEqual(table.header, ["date", "level", "note"])
            let series = try TimeSeriesData(table: table, target: "level")
            XCTAssertEqual(series.target, reference.target)
            XCTAssertEqual(series.dates?.ordinals, reference.dates?.ordinals)
        }
        XCTAssertEqual(try CSVTable(text: semicolon, path: "s.csv").rows[2][2], "d, e")
        // A comma file keeps its commas even where every text cell holds a semicolon; a decimal
        // comma there is a quoted text, not a number.
        XCTAssertEqual(try CSVTable(text: "a,b\n1,x;y\n2,z;w\n", path: "c.csv").delimiter, ",")
        let quoted = try CSVTable(text: "a,b\n\"1,5\",2\n", path: "q.csv")
        XCTAssertThrowsError(try TimeSeriesData(table: quoted, target: "a")) { error in
            XCTAssertEqual("\(error)", "q.csv: line 2, column 1 (\"a\"): \"1,5\" is not a number")
        }
        // Spreadsheets' "Unicode text": UTF-16 with a byte-order mark, tab-separated. A file in
        // another encoding names the line, column and byte where it stops being UTF-8.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, bigEndian) in [("le.csv", false), ("be.csv", true)] {
            var bytes: [UInt8] = bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE]
            for unit in tab.replacingOccurrences(of: "\n", with: "\r\n").utf16 {
                bytes += bigEndian ? [UInt8(unit >> 8), UInt8(unit & 0xFF)] : [UInt8(unit & 0xFF), UInt8(unit >> 8)]
            }
            let url = folder.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            let table = try CSVTable(path: url.path)
            XCTAssertEqual(table.header, ["date", "level", "note"], name)
            XCTAssertEqual(try TimeSeriesData(table: table, target: "level").target, reference.target, name)
        }
        let latin1 = folder.appendingPathComponent("latin1.csv")
        try Data("city,v\nZ\u{FC}rich,1\n".data(using: .isoLatin1)!).write(to: latin1)
        XCTAssertThrowsError(try CSVTable(path: latin1.path)) { error in
            XCTAssertTrue("\(error)".contains("line 2, column 2 (byte offset 8): byte 0xFC is not UTF-8"), "\(error)")
        }
        // One column: no separator needed. A ragged semicolon file names its line and separator.
        XCTAssertEqual(try CSVTable(text: "v\n1\n2\n", path: "one.csv").rows, [["1"], ["2"]])
        XCTAssertThrowsError(try CSVTable(text: "d;v\n1;2\n3;4;5\n", path: "r.csv")) { error in
            XCTAssertEqual("\(error)", "r.csv: line 3: 3 fields, but the header has 2 (fields separated by \";\")")
        }
    }

    func testBaselinesAndScoresMatchHandComputedValues() {
        let series: [Double] = [1, 5, 2, 6, 3, 7]
        // Season 2: after index 3 the next step (index 4) repeats index 2, the one after index 3.
        XCTAssertEqual(ForecastBaselines.seasonalNaive(series, lastSeen: 3, step: 0, season: 2), 2)
        XCTAssertEqual(ForecastBaselines.seasonalNaive(series, lastSeen: 3, step: 1, season: 2), 6)
        XCTAssertEqual(ForecastBaselines.seasonalNaive(series, lastSeen: 3, step: 2, season: 2), 2)
        XCTAssertNil(ForecastBaselines.seasonalNaive(series, lastSeen: 0, step: 0, season: 2))
        XCTAssertEqual(ForecastBaselines.meanAbsoluteLagDifference(series, lag: 2), 1)
        let scores = ForecastScores(predictions: [2, 4], truths: [1, 4], scale: 0.5)
        XCTAssertEqual(scores.rmse, (0.5).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(scores.mae, 0.5, accuracy: 1e-12)
        XCTAssertEqual(scores.smape, 100 * (1.0 / 3), accuracy: 1e-9)
        XCTAssertEqual(scores.mase, 1, accuracy: 1e-12)
        XCTAssertEqual(ForecastBaselines.bestReference(series, season: 2), .seasonalChange)
    }

    func testSeasonsAreDetectedWhereTheDataBearThemOut() throws {
        let airline = try TimeSeriesData(csv: Self.dataPath("airline-passengers.csv"), target: "Passengers")
        XCTAssertEqual(ForecastBaselines.detectSeason(airline.target, dates: airline.dates), 12)
        let co2 = try TimeSeriesData(csv: Self.dataPath("co2-weekly.csv"), target: "co2", missing: .interpolate)
        XCTAssertEqual(ForecastBaselines.detectSeason(co2.target, dates: co2.dates), 52)
        let sunspots = try TimeSeriesData(csv: Self.dataPath("sunspots-yearly.csv"), target: "SUNACTIVITY")
        XCTAssertNil(ForecastBaselines.detectSeason(sunspots.target, dates: sunspots.dates))
    }

    /// The seeds' example: after training on a rising series, [1, 2, 3, 4] gives about 5 and
    /// [22, 24, 23, 25] about 26.
    func testSmallExamplesForecastTheNextValue() throws {
        var configuration = ForecastConfiguration()
        configuration.window = 4
        var options = TrainingOptions()
        options.epochs = 60
        options.batchSize = 8
        let (forecaster, report) = try Forecaster.train(series: (1...60).map(Double.init), configuration: configuration, options: options)
        XCTAssertEqual(try forecaster.forecast(after: [1, 2, 3, 4], steps: 1)[0], 5, accuracy: 0.5)
        XCTAssertEqual(try forecaster.forecast(after: [22, 24, 23, 25], steps: 1)[0], 26, accuracy: 1)
        XCTAssertLessThan(report.model.mae, report.naive.mae)
        // The scaler saw the training part only: 70% of 60 rows, 1...42.
        XCTAssertEqual(forecaster.scaler.offsets[0], 21.5, accuracy: 1e-9)
    }

    func testMultivariateDirectAndRecursiveForecastsOnRealWeather() throws {
        let weather = try TimeSeriesData(csv: Self.dataPath("seattle-weather-daily.csv"), target: "temp_max", covariates: ["temp_min"])
        XCTAssertEqual(weather.dateColumn, "date")
        var options = TrainingOptions()
        options.epochs = 2
        options.batchSize = 64
        var configuration = ForecastConfiguration()
        configuration.window = 14
        configuration.horizon = 3
        configuration.hiddenSize = 8
        for strategy in ForecastStrategy.allCases {
            configuration.strategy = strategy
            let (forecaster, report) = try Forecaster.train(weather, configuration: configuration, options: options)
            XCTAssertEqual(report.testWindows, weather.count - Int(Double(weather.count) * 0.85) - 2, "\(strategy)")
            XCTAssertTrue(report.model.rmse.isFinite && report.model.rmse < 3 * report.naive.rmse, "\(strategy): \(report.model)")
            let next = try forecaster.forecast(after: weather, steps: 3)
            XCTAssertEqual(next.count, 3)
            XCTAssertTrue(next.allSatisfy { (-10...45).contains($0) }, "\(strategy): \(next)")
            if strategy == .direct {
                XCTAssertThrowsError(try forecaster.forecast(after: weather, steps: 4), "covariates' future is unknown")
            } else {
                XCTAssertEqual(try forecaster.forecast(after: weather, steps: 5).prefix(3).map { $0 }, next)
            }
        }
    }

    func testSavedForecasterForecastsTheSame() throws {
        let airline = try TimeSeriesData(csv: Self.dataPath("airline-passengers.csv"), target: "Passengers")
        var options = TrainingOptions()
        options.epochs = 3
        let (forecaster, report) = try Forecaster.train(airline, options: options)
        XCTAssertEqual(report.season, 12)
        XCTAssertEqual(forecaster.configuration.window, 20)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("airline-\(UUID().uuidString).model").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try forecaster.save(to: path)
        let loaded = try Forecaster(contentsOf: path)
        XCTAssertEqual(try loaded.forecast(after: airline, steps: 14), try forecaster.forecast(after: airline, steps: 14))
    }

    func testChartsDrawEverySeriesAndCell() {
        var chart = LineChart(title: "a < b", xLabel: "x", yLabel: "y")
        chart.add(LineChart.Series(name: "one", x: [0, 1, 2], y: [1, 3, 2]))
        chart.add(LineChart.Series(name: "two", x: [0, 1, 2], y: [2, .nan, 1], dashed: true))
        let map = HeatMap(title: "weights", values: [[0, 1, 2], [3, 4, 5]], rowLabels: ["a", "b"])
        let svg = SVGDocument(panels: [.line(chart), .heatMap(map)]).render()
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertTrue(svg.contains("a &lt; b"))
        XCTAssertTrue(svg.contains("stroke-dasharray"))
        XCTAssertTrue(svg.contains("fill=\"rgb(8,48,107)\""), "the largest value is darkest")
        XCTAssertTrue(svg.contains("fill=\"rgb(255,255,255)\""), "the smallest value is white")
    }
    func testWholeNumberAxesTickOnlyAtWholeNumbers() {
        let epochs = AxisScale(low: 1, high: 3, from: 0, to: 100)
        var whole = epochs
        whole.wholeNumbers = true
        XCTAssertTrue(epochs.ticks().values.contains { $0 != $0.rounded() }, "fractions without the flag")
        XCTAssertEqual(whole.ticks().values, [1, 2, 3])
        var wide = AxisScale(low: 0, high: 24, from: 0, to: 100)
        wide.wholeNumbers = true
        XCTAssertTrue(wide.ticks().values.allSatisfy { $0 == $0.rounded() })
        XCTAssertGreaterThanOrEqual(wide.ticks().values.count, 4)
    }

    func testLegendSitsInTheCornerTheLinesLeaveFree() throws {
        // A falling loss fills the top-left and the bottom-right: the legend goes top-right.
        var chart = LineChart(title: "loss", xLabel: "epoch", yLabel: "loss")
        chart.add(LineChart.Series(name: "train", x: [1, 2, 3, 4, 5, 6], y: [2.4, 1.0, 0.7, 0.6, 0.55, 0.5]))
        let frame = SVGFrame(x: 0, y: 0, width: 900, height: 380)
        let svg = chart.render(in: frame)
        let box = try XCTUnwrap(svg.range(of: "<rect class=\"legend\" x=\"").map { svg[$0.upperBound...] })
        let legendX = try XCTUnwrap(Double(box.prefix { $0 != "\"" }))
        XCTAssertGreaterThan(legendX, frame.x + frame.width / 2)
        // A rising line leaves the top-left free.
        var rising = LineChart(title: "level", xLabel: "t", yLabel: "y")
        rising.add(LineChart.Series(name: "level", x: [1, 2, 3, 4, 5, 6], y: [0.5, 0.55, 0.6, 0.7, 1.0, 2.4]))
        let risingSVG = rising.render(in: frame)
        let risingBox = try XCTUnwrap(risingSVG.range(of: "<rect class=\"legend\" x=\"").map { risingSVG[$0.upperBound...] })
        XCTAssertLessThan(try XCTUnwrap(Double(risingBox.prefix { $0 != "\"" })), frame.x + frame.width / 2)
    }
}
