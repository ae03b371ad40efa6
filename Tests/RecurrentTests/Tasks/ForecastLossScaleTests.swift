import Foundation
import XCTest
@testable import Recurrent

/// `ForecastLossScale`: the windows' weights in MASE's units, the weighted pinball loss they give
/// (value and gradient), and the choice between the scales on the held-out window.
final class ForecastLossScaleTests: XCTestCase {
    /// Three quarterly series of 12 values: "flat" barely moves beside its level (its seasonal
    /// naive MAE is small, so MASE weighs it heavily), "wild" moves a lot, "still" never moves.
    func threeSeries() throws -> SeriesPanel {
        let values: [String: [Double]] = [
            "flat": [100, 101, 100, 102, 101, 103, 102, 103, 104, 103, 105, 104],
            "wild": [10, 30, 5, 25, 12, 40, 8, 20, 15, 35, 6, 28],
            "still": Array(repeating: 7, count: 12),
        ]
        var rows = ["unique_id,ds,y"]
        for id in ["flat", "wild", "still"] { for (t, y) in values[id]!.enumerated() { rows.append("\(id),\(t + 1),\(y)") } }
        return try SeriesPanel(table: try CSVTable(text: rows.joined(separator: "\n") + "\n", path: "three.csv"), columns: .init(), season: 4)
    }

    func configuration(_ scale: ForecastLossScale?) -> GlobalForecastConfiguration {
        var c = GlobalForecastConfiguration()
        c.horizon = 2
        c.window = 4
        c.season = 4
        c.hiddenSize = 4
        c.lossScale = scale
        return c
    }

    /// Each window weighs its level (mean |y| of its up to 4 values before the origin) over its
    /// series' mean |y(t) - y(t - 4)| on the 10 values before the held-out 2, divided by the
    /// mean of that ratio over the training targets; the series that never moves weighs 1.
    func testMASEWeightsAreTheLevelOverTheSeasonalNaiveError() throws {
        let panel = try threeSeries()
        let plain = WindowPlan(panel: panel, configuration: configuration(nil), holdout: 2)
        XCTAssertTrue((plain.training + plain.validation).allSatisfy { $0.weight == 1 })
        let plan = WindowPlan(panel: panel, configuration: configuration(.mase), holdout: 2)
        XCTAssertEqual(plan.training.count, 3 * 9)
        func scale(_ values: [Double]) -> Double {
            (4..<10).reduce(0) { $0 + abs(values[$1] - values[$1 - 4]) } / 6
        }
        func ratio(_ w: ForecastWindow) -> Double? {
            let values = panel.series[w.series].values, s = scale(values)
            guard s > 0 else { return nil }
            let context = values[max(0, w.origin - 4)..<w.origin]
            return context.reduce(0) { $0 + abs($1) } / Double(context.count) / s
        }
        var total = 0.0, targets = 0.0
        for w in plan.training { if let r = ratio(w) { total += r * Double(w.end - w.origin); targets += Double(w.end - w.origin) } }
        let mean = total / targets
        for w in plan.training + plan.validation {
            let expected = ratio(w).map { min(10, $0 / mean) } ?? 1
            XCTAssertEqual(Double(w.weight), expected, accuracy: 1e-5 * max(1, expected), "series \(w.series), origin \(w.origin)")
        }
        func weights(_ id: String) -> [Float] { plan.training.filter { panel.series[$0.series].id == id }.map(\.weight) }
        XCTAssertGreaterThan(try XCTUnwrap(weights("flat").min()), 5 * (try XCTUnwrap(weights("wild").max())), "the series that barely moves weighs far more")
        XCTAssertEqual(weights("still"), Array(repeating: 1, count: 9))
    }

    /// The loss of a batch is sum(weight * pinball) / sum(weight) over its targets (the pinball
    /// averaged over the quantile levels), computed here in Double; its gradient by the outputs
    /// matches central finite differences of that formula.
    func testWeightedLossValueAndGradientAgainstFiniteDifferences() throws {
        let panel = try threeSeries()
        let c = configuration(.mase)
        let forecaster = try GlobalForecaster.make(c, seed: 3)
        let plan = WindowPlan(panel: panel, configuration: c, holdout: 2)
        // Windows of each series, one of them cut short by the held-out values (one target).
        let windows = [plan.training[2], plan.training[8], plan.training[12], plan.training[20]]
        XCTAssertEqual(windows[1].end - windows[1].origin, 1)
        let batch = forecaster.batch(windows, panel: panel)
        let levels = c.quantileLevels, q = levels.count, horizon = c.horizon
        var rng = SplitMix64(seed: 17)
        // Predictions kept 0.05 or more from every target, so that no step crosses a kink.
        var scalars = Tensor.uniform(shape: [windows.count, horizon, q], low: -2, high: 2, using: &rng).scalars
        for i in scalars.indices where abs(scalars[i] - batch.targets.scalars[i / q]) < 0.05 { scalars[i] += 0.1 }
        let prediction = Variable(Tensor(shape: [windows.count, horizon, q], scalars: scalars), requiresGrad: true)
        func expected(_ p: [Double]) -> Double {
            var total = 0.0, weights = 0.0
            for (b, w) in windows.enumerated() {
                for k in 0..<(w.end - w.origin) {
                    let y = Double(batch.targets.scalars[b * horizon + k])
                    let term = levels.indices.reduce(0.0) { sum, l in
                        let d = y - p[(b * horizon + k) * q + l]
                        return sum + (d > 0 ? levels[l] * d : (levels[l] - 1) * d)
                    } / Double(q)
                    total += Double(w.weight) * term
                    weights += Double(w.weight)
                }
            }
            return total / weights
        }
        let loss = try pinballLoss(prediction, batch.targets, levels: levels, mask: batch.mask)
        let point = scalars.map(Double.init)
        XCTAssertEqual(Double(loss.value.scalar), expected(point), accuracy: 1e-5)
        loss.backward()
        let gradient = try XCTUnwrap(prediction.grad).scalars
        let epsilon = 1e-3
        for i in point.indices {
            var plus = point, minus = point
            plus[i] += epsilon
            minus[i] -= epsilon
            XCTAssertEqual(Double(gradient[i]), (expected(plus) - expected(minus)) / (2 * epsilon), accuracy: 1e-5, "output \(i)")
        }
        // The weights matter: the same batch without them gives another loss.
        let unweighted = try pinballLoss(prediction, batch.targets, levels: levels, mask: batch.mask.map { $0 > 0 ? 1 : 0 })
        XCTAssertGreaterThan(abs(unweighted.value.scalar - loss.value.scalar), 1e-3)
    }

    /// `chooseLossScale` trains a network under each scale (the same seed) and keeps the one whose
    /// held-out MASE is lower; `level` is the default's model exactly.
    func testAutoKeepsTheScaleWithTheLowerHeldOutMASE() throws {
        var panel = try ForecastPanelTests.m3Sample()
        panel.series = Array(panel.series.prefix(8))
        var options = TrainingOptions()
        options.epochs = 1
        options.batchSize = 128
        options.seed = 4
        var c = GlobalForecastConfiguration()
        c.horizon = 4
        c.hiddenSize = 8
        let (byDefault, _) = try GlobalForecaster.train(panel, configuration: c, options: options)
        var scores: [ForecastLossScale: Double] = [:], points: [ForecastLossScale: [[Double]]] = [:]
        for scale in ForecastLossScale.allCases {
            var candidate = c
            candidate.lossScale = scale
            let (network, _) = try GlobalForecaster.train(panel, configuration: candidate, options: options)
            scores[scale] = try network.backtest(panel, windows: 1, seed: 4).model.mase
            points[scale] = try network.forecast(panel).map(\.point)
        }
        XCTAssertEqual(try byDefault.forecast(panel).map(\.point), points[.level])
        XCTAssertNotEqual(points[.level], points[.mase])
        c.chooseLossScale = true
        let (chosen, _) = try GlobalForecaster.train(panel, configuration: c, options: options)
        let better: ForecastLossScale = scores[.mase]! < scores[.level]! ? .mase : .level
        XCTAssertEqual(chosen.configuration.lossScale, better, "held-out MASE \(scores)")
        XCTAssertEqual(try chosen.forecast(panel).map(\.point), points[better])
    }
}
