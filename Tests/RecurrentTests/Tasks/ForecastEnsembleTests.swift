import Foundation
import XCTest
@testable import Recurrent

/// Ensembles of global forecasters and the choice of their reference on the held-out window.
final class ForecastEnsembleTests: XCTestCase {
    func smallPanel() throws -> SeriesPanel {
        var panel = try ForecastPanelTests.m3Sample()
        panel.series = Array(panel.series.prefix(8))
        return panel
    }

    func smallConfiguration() -> GlobalForecastConfiguration {
        var configuration = GlobalForecastConfiguration()
        configuration.horizon = 4
        configuration.hiddenSize = 8
        return configuration
    }

    func oneEpoch(seed: UInt64) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = 1
        options.batchSize = 128
        options.seed = seed
        return options
    }

    /// A time limit bounds the whole training of several networks: the loss scale's two and a
    /// second member share 1.5 s, each stopped by its share.
    func testATimeLimitIsSharedByTheNetworksOfOneTraining() throws {
        let panel = try smallPanel()
        var configuration = smallConfiguration()
        configuration.chooseLossScale = true
        configuration.ensemble = 2
        var options = oneEpoch(seed: 3)
        options.epochs = TrainingOptions.untilLimit
        options.batchSize = 8
        options.maxMinutes = 1.5 / 60
        options.patience = nil
        let (forecaster, history) = try GlobalForecaster.train(panel, configuration: configuration, options: options)
        XCTAssertEqual(forecaster.configuration.networkCount, 2)
        XCTAssertEqual(history.stopReason, .maxMinutes, history.summary)
        XCTAssertTrue(history.summary.contains("time limit of 0.00833333 min"), "a third of 0.025 min each: \(history.summary)")
        XCTAssertLessThanOrEqual(history.seconds, 1.5 + 0.3, "three networks in the time of the whole")
        XCTAssertGreaterThan(history.seconds, 1.0)
    }

    /// Three copies of one network forecast exactly what it forecasts alone (points, calibrated
    /// intervals), and so does the ensemble read back from its file.
    func testEnsembleOfIdenticalNetworksEqualsTheSingleModel() throws {
        let panel = try smallPanel(), configuration = smallConfiguration()
        let (single, _) = try GlobalForecaster.train(panel, configuration: configuration, options: oneEpoch(seed: 2))
        let copies = try GlobalForecaster.ensemble([single, single, single], configuration: single.configuration)
        try copies.calibrateIntervals(panel, holdout: configuration.horizon, seed: 0)
        XCTAssertEqual(copies.configuration.intervalScales, single.configuration.intervalScales)
        let expected = try single.forecast(panel), forecasts = try copies.forecast(panel)
        XCTAssertEqual(forecasts.map(\.point), expected.map(\.point))
        XCTAssertEqual(forecasts.map(\.lower), expected.map(\.lower))
        XCTAssertEqual(forecasts.map(\.upper), expected.map(\.upper))
        XCTAssertEqual(forecasts.map(\.id), expected.map(\.id))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-\(UUID().uuidString).model").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try copies.save(to: path)
        let loaded = try GlobalForecaster(contentsOf: path)
        XCTAssertEqual(loaded.members.count, 3)
        XCTAssertEqual(try loaded.forecast(panel).map(\.upper), expected.map(\.upper))
    }

    /// `ensemble = 3` trains three networks: the first from the seed itself (it forecasts what the
    /// single model of that seed forecasts), the others from other seeds; the ensemble's point
    /// forecast is the median of the three, and survives saving.
    func testTrainedEnsembleForecastsTheMedianOfItsNetworks() throws {
        let panel = try smallPanel()
        var configuration = smallConfiguration()
        let (single, _) = try GlobalForecaster.train(panel, configuration: configuration, options: oneEpoch(seed: 5))
        configuration.ensemble = 3
        let (ensemble, history) = try GlobalForecaster.train(panel, configuration: configuration, options: oneEpoch(seed: 5))
        XCTAssertEqual(ensemble.members.count, 3)
        XCTAssertEqual(ensemble.configuration.networkCount, 3)
        XCTAssertEqual(history.trainLoss.count, 1)
        let each = try ensemble.members.map { try $0.forecast(panel) }
        XCTAssertEqual(each[0].map(\.point), try single.forecast(panel).map(\.point), "network 1 is the single model of seed 5")
        XCTAssertNotEqual(each[1].map(\.point), each[0].map(\.point), "network 2 starts from another seed")
        XCTAssertEqual(GlobalForecaster.memberSeed(5, 0), 5)
        XCTAssertNotEqual(GlobalForecaster.memberSeed(5, 1), GlobalForecaster.memberSeed(5, 2))
        // The members' generators share no numbers with the first network's (nor its layers',
        // seeded seed + 1, seed + 2, ...): none of their first 1,000 draws appears among the others'.
        for base: UInt64 in [0, 5] {
            let seeds = (0..<5).flatMap { index in (0..<4).map { GlobalForecaster.memberSeed(base, index) &+ UInt64($0) } }
            var seen: Set<UInt64> = [], repeats = 0
            for seed in seeds {
                var generator = SplitMix64(seed: seed)
                for _ in 0..<1_000 where !seen.insert(generator.next()).inserted { repeats += 1 }
            }
            XCTAssertEqual(repeats, 0, "ensemble members of seed \(base) draw numbers another member or layer draws")
        }
        let forecasts = try ensemble.forecast(panel)
        for (s, forecast) in forecasts.enumerated() {
            for k in 0..<configuration.horizon {
                let points = each.map { $0[s].point[k] }.sorted()
                XCTAssertEqual(forecast.point[k], points[1], "series \(s), step \(k + 1)")
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-\(UUID().uuidString).model").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ensemble.save(to: path)
        XCTAssertEqual(try GlobalForecaster(contentsOf: path).forecast(panel).map(\.point), forecasts.map(\.point))
        // A file whose other networks are lost is refused, naming what is missing.
        let model = try Model(contentsOf: path)
        model.metadata[GlobalForecaster.membersKey] = "[]"
        try model.save(to: path)
        XCTAssertThrowsError(try GlobalForecaster(contentsOf: path)) { error in
            XCTAssertTrue("\(error)".contains("the ensemble's 2 other networks are missing"), "\(error)")
        }
    }

    /// Six years of a season of four whose shape changed after year four, the last year held
    /// out: the seasonal naive forecast repeats year five exactly (MASE 0); the Theta method's
    /// seasonal indices average both shapes and miss; the last value misses more. The choice
    /// reads only the values before the held-out year, and training takes the winner.
    func testReferenceIsChosenOnTheHeldOutWindow() throws {
        var rows = ["unique_id,ds,y"]
        for (id, level) in [("a", 100.0), ("b", 40.0)] {
            let shapes: [[Double]] = [[1.0, 1.4, 0.8, 0.6], [0.6, 0.8, 1.6, 1.0]]
            for t in 0..<24 { rows.append("\(id),\(t + 1),\(level * shapes[t < 16 ? 0 : 1][t % 4])") }
        }
        let panel = try SeriesPanel(table: try CSVTable(text: rows.joined(separator: "\n") + "\n", path: "shapes.csv"), columns: .init(), season: 4)
        var configuration = GlobalForecastConfiguration()
        configuration.horizon = 4
        configuration.hiddenSize = 4
        configuration.season = 4
        let errors = GlobalForecaster.referenceErrors(panel, configuration: configuration, holdout: 4)
        XCTAssertEqual(errors.map(\.reference), [.theta, .seasonalNaive, .thetaSeasonalNaive, .lastValue])
        XCTAssertEqual(errors[1].mase, 0, accuracy: 1e-12)
        // The Theta method and the last value forecast from the first five years alone; their
        // mean: half of Theta's miss of the year that the seasonal naive forecast hits.
        let scale: Double = (0.4 + 0.6 + 0.8 + 0.4) / 16
        var theta = 0.0, mean = 0.0
        for series in panel.series {
            let level: Double = series.values[0]
            let forecast: [Double] = ThetaMethod.forecast(series.values[..<20], horizon: 4, season: 4)
            for k in 0..<4 {
                let truth = series.values[20 + k]
                theta += abs(truth - forecast[k]) / 4 / (scale * level) / 2
                mean += abs(truth - (forecast[k] + series.values[16 + k]) / 2) / 4 / (scale * level) / 2
            }
        }
        XCTAssertEqual(errors[0].mase, theta, accuracy: 1e-9)
        XCTAssertEqual(errors[2].mase, mean, accuracy: 1e-9)
        XCTAssertEqual(errors[2].mase, errors[0].mase / 2, accuracy: 1e-9)
        XCTAssertGreaterThan(errors[0].mase, 0.05)
        // Year five ends at 1.0 level; year six is 0.6, 0.8, 1.6, 1.0: errors 0.4, 0.2, 0.6, 0.
        // The scale: the mean |y(t) - y(t - 4)| over the first 20 values, 0.4 + 0.6 + 0.8 + 0.4 in 16.
        XCTAssertEqual(errors[3].mase, (1.2 / 4) / scale, accuracy: 1e-9)
        configuration.chooseReference = true
        var options = TrainingOptions()
        options.epochs = 1
        let (forecaster, _) = try GlobalForecaster.train(panel, configuration: configuration, options: options)
        XCTAssertEqual(forecaster.configuration.reference, .seasonalNaive)
    }
}
