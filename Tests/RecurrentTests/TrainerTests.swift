import Foundation
import XCTest
@testable import Recurrent

final class TrainerTests: XCTestCase {
    /// Yearly sunspots, the demo's real series.
    func sunspots() throws -> [Double] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let table = try CSVTable(path: root.appendingPathComponent("Data/sunspots-yearly.csv").path)
        return try table.numericColumns(["SUNACTIVITY"])[0]
    }

    func quickOptions(seed: UInt64) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = 3
        options.batchSize = 16
        options.seed = seed
        return options
    }

    func testSameSeedAndThreadsGiveTheSameModelBitForBit() throws {
        let series = try sunspots()
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        for threads in [1, 2] {
            Parallel.threadCount = threads
            var configuration = ForecastConfiguration()
            configuration.hiddenSize = 64   // large enough that products are split across threads
            configuration.numLayers = 2
            configuration.dropout = 0.2
            let (first, _) = try Forecaster.train(series: series, configuration: configuration, options: quickOptions(seed: 7))
            let (second, _) = try Forecaster.train(series: series, configuration: configuration, options: quickOptions(seed: 7))
            let (other, _) = try Forecaster.train(series: series, configuration: configuration, options: quickOptions(seed: 8))
            let a = first.model.layer.namedTensors, b = second.model.layer.namedTensors, c = other.model.layer.namedTensors
            XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
            for key in a.keys {
                XCTAssertEqual(a[key]?.scalars, b[key]?.scalars, "\(key) differs between two runs with seed 7 on \(threads) threads")
            }
            XCTAssertFalse(a.isEmpty)
            XCTAssertTrue(a.keys.contains { a[$0]?.scalars != c[$0]?.scalars }, "another seed should give another model")
        }
    }

    func testTrainingLowersTheLossAndKeepsTheBestEpoch() throws {
        var options = quickOptions(seed: 1)
        options.epochs = 12
        let (_, report) = try Forecaster.train(series: try sunspots(), configuration: ForecastConfiguration(), options: options)
        let history = report.history
        XCTAssertEqual(history.trainLoss.count, 12)
        XCTAssertLessThan(history.trainLoss.last ?? .infinity, history.trainLoss.first ?? 0)
        let best = try XCTUnwrap(history.bestEpoch)
        XCTAssertEqual(history.validationLoss[best - 1], history.validationLoss.min())
        XCTAssertLessThan(report.modelRMSE, report.naiveRMSE)
    }

    func testNonFiniteLossStopsAndKeepsTheLastGoodParameters() throws {
        let dense = Dense(inputSize: 2, outputSize: 1, seed: 3)
        let optimizer = try SGD(dense.parameters, learningRate: 0.1)
        var options = TrainingOptions()
        options.epochs = 5
        options.batchSize = 1
        let trainer = Trainer(optimizer: optimizer, options: options)
        let x = Tensor(shape: [4, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        var calls = 0
        var parametersBeforeBadStep: [Tensor] = []
        let history = try trainer.fit(sampleCount: 4, loss: { batch in
            calls += 1
            if calls == 6 {
                parametersBeforeBadStep = dense.parameters.map(\.value)
                // The step that diverges: the loss is infinite.
                return dense(Variable(x.gathering(batch))).sum() * Float.infinity
            }
            return dense(Variable(x.gathering(batch))).sum()
        })
        XCTAssertEqual(history.stopReason, .diverged)
        XCTAssertEqual(history.steps, 5)
        XCTAssertTrue(history.message?.contains("step 6") ?? false, history.message ?? "")
        XCTAssertEqual(dense.parameters.map(\.value), parametersBeforeBadStep)
        XCTAssertTrue(dense.parameters.allSatisfy { $0.value.scalars.allSatisfy(\.isFinite) })
    }

    func testUnshuffledBatchesComeInOrderAndAStepLimitStillValidates() throws {
        let dense = Dense(inputSize: 1, outputSize: 1, seed: 3)
        var options = TrainingOptions()
        options.epochs = 5
        options.batchSize = 2
        options.shuffle = false
        options.maxSteps = 4
        let trainer = Trainer(optimizer: try SGD(dense.parameters, learningRate: 0.01), options: options)
        let x = Tensor(shape: [6, 1], scalars: [1, 2, 3, 4, 5, 6])
        var batches: [[Int]] = [], validations = 0
        let history = try trainer.fit(sampleCount: 6, loss: { batch in
            batches.append(batch)
            return try Loss.meanSquaredError(dense(Variable(x.gathering(batch))), x.gathering(batch))
        }, validationLoss: { validations += 1; return Double(10 - validations) })
        XCTAssertEqual(batches, [[0, 1], [2, 3], [4, 5], [0, 1]])
        // Epoch 1, then the one step of epoch 2 the limit allowed: both validated, the later kept.
        XCTAssertEqual(validations, 2)
        XCTAssertEqual(history.validationLoss, [9, 8])
        XCTAssertEqual(history.bestEpoch, 2)
        XCTAssertEqual(history.stopReason, .maxSteps)
    }

    func testLimitsOnStepsAndEarlyStopping() throws {
        let dense = Dense(inputSize: 1, outputSize: 1, seed: 3)
        var options = TrainingOptions()
        options.epochs = 50
        options.batchSize = 2
        options.maxSteps = 7
        let trainer = Trainer(optimizer: try SGD(dense.parameters, learningRate: 0.01), options: options)
        let x = Tensor(shape: [4, 1], scalars: [1, 2, 3, 4])
        let history = try trainer.fit(sampleCount: 4, loss: { try Loss.meanSquaredError(dense(Variable(x.gathering($0))), x.gathering($0)) })
        XCTAssertEqual(history.steps, 7)
        XCTAssertEqual(history.stopReason, .maxSteps)

        options.maxSteps = nil
        options.patience = 2
        let stalled = Trainer(optimizer: try SGD(dense.parameters, learningRate: 0.01), options: options)
        var validations = [5.0, 4.0, 4.5, 4.2, 1.0].makeIterator()
        let early = try stalled.fit(sampleCount: 4, loss: { try Loss.meanSquaredError(dense(Variable(x.gathering($0))), x.gathering($0)) },
                                    validationLoss: { validations.next() ?? 0 })
        XCTAssertEqual(early.stopReason, .earlyStopping)
        XCTAssertEqual(early.bestEpoch, 2)
        XCTAssertEqual(early.validationLoss, [5.0, 4.0, 4.5, 4.2])
    }

    func testShuffleIsSeededAndAPermutation() {
        var a = Array(0..<100), b = Array(0..<100), c = Array(0..<100)
        var rngA = SplitMix64(seed: 5), rngB = SplitMix64(seed: 5), rngC = SplitMix64(seed: 6)
        shuffle(&a, using: &rngA); shuffle(&b, using: &rngB); shuffle(&c, using: &rngC)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(a.sorted(), Array(0..<100))
    }

    /// Off a terminal: a plain line per interval inside an epoch, one per epoch, nothing between.
    func testPlainProgressWritesALineEveryIntervalAndEveryEpoch() {
        let progress = ConsoleProgress(isTerminal: false)
        var lines: [String] = []
        progress.output = { lines.append($0) }
        func status(_ step: Int) -> TrainingStatus {
            TrainingStatus(epoch: 1, epochs: 2, step: step, plannedSteps: 10, trainLoss: 0.5, validationLoss: nil, elapsedSeconds: Double(step))
        }
        progress.step(status(1))
        progress.step(status(2))
        XCTAssertEqual(lines, [], "the interval (a minute) has not passed")
        progress.plainLineInterval = 0
        progress.step(status(3))
        XCTAssertEqual(lines, ["epoch 1/2  step 3/10  loss 0.5000  1.0 steps/s  7s left\n"])
        progress.epochEnded(status(5))
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[1].hasPrefix("epoch 1/2  step 5  loss 0.5000"), lines[1])
    }
}

final class FitTests: XCTestCase {
    /// The seeds' small example: after training on rising patterns, [1, 2, 3, 4] -> about 5.
    func testKerasStyleFitLearnsToContinueASequence() throws {
        var samples: [Float] = [], targets: [Float] = []
        for start in stride(from: Float(0), to: 20, by: 0.5) {
            for step in 0..<4 { samples.append((start + Float(step)) / 10) }
            targets.append((start + 4) / 10)
        }
        let count = targets.count
        let model = Sequential {
            LSTM(inputSize: 1, hiddenSize: 16, seed: 1)
            Dense(inputSize: 16, outputSize: 1, seed: 2)
        }
        var options = TrainingOptions()
        options.epochs = 150
        options.batchSize = 8
        let history = try model.fit(inputs: Tensor(shape: [count, 4, 1], scalars: samples), targets: Tensor(shape: [count, 1], scalars: targets),
                                    loss: .meanSquaredError, optimizer: try Adam(model.parameters, learningRate: 0.01),
                                    options: options, validationFraction: 0.1)
        XCTAssertNotNil(history.bestEpoch)
        let next = try model.predict(Tensor(shape: [1, 4, 1], scalars: [0.1, 0.2, 0.3, 0.4])).scalar * 10
        XCTAssertEqual(next, 5, accuracy: 0.3, "[1, 2, 3, 4] should give about 5")
        XCTAssertThrowsError(try model.predict(Tensor(zeros: [1, 4, 2]))) { error in
            XCTAssertTrue("\(error)".contains("x is [1, 4, 2]"), "\(error)")
        }
    }
}

/// A user's own model type: a GRU whose last state is added to a linear shortcut of the last
/// input, composed without any backward code.
final class ShortcutForecaster: Layer {
    let recurrent = GRU(inputSize: 2, hiddenSize: 3, seed: 4)
    let head = Dense(inputSize: 3, outputSize: 1, seed: 5)
    let shortcut = Dense(inputSize: 2, outputSize: 1, seed: 6)

    func callAsFunction(_ input: Variable) -> Variable {
        head(recurrent(input)) + shortcut(input.selectingTimeStep(-1))
    }
    var namedParameters: [(name: String, parameter: Variable)] {
        recurrent.namedParameters.map { ("recurrent." + $0.name, $0.parameter) }
            + head.namedParameters.map { ("head." + $0.name, $0.parameter) }
            + shortcut.namedParameters.map { ("shortcut." + $0.name, $0.parameter) }
    }
    var spec: LayerSpec { .sequential([]) }
}

final class CustomLayerTests: XCTestCase {
    func testGradientsFlowThroughAUsersOwnComposition() {
        let model = ShortcutForecaster()
        var rng = SplitMix64(seed: 1)
        let x = Variable(Tensor.uniform(shape: [2, 5, 2], low: -1, high: 1, using: &rng), requiresGrad: true)
        checkGradients(of: [x] + model.parameters) { model(x) }
    }
}
