import Foundation
import XCTest
@testable import Recurrent

/// Limits that mean what they say: a step or time limit alone bounds a run, the first limit
/// reached stops it, and a cosine planned over the run has decayed when the run ends.
final class RunLimitTests: XCTestCase {
    /// SGD that records the learning rate of every step it takes.
    final class RecordingSGD: Optimizer {
        let inner: SGD
        var rates: [Double] = []
        init(_ parameters: [Variable], learningRate: Double) throws { inner = try SGD(parameters, learningRate: learningRate) }
        var parameters: [Variable] { inner.parameters }
        var learningRate: Double {
            get { inner.learningRate }
            set { inner.learningRate = newValue }
        }
        func step() {
            rates.append(inner.learningRate)
            inner.step()
        }
        func exportState() -> [String: Tensor] { inner.exportState() }
        func importState(_ state: [String: Tensor]) throws { try inner.importState(state) }
    }

    /// A one-weight regression, with `stepDelay` seconds of work in every step and
    /// `validationDelay` in every validation.
    func run(_ options: TrainingOptions, stepDelay: Double = 0, validationDelay: Double? = nil) throws -> (TrainingHistory, [Double]) {
        let dense = Dense(inputSize: 1, outputSize: 1, seed: 1)
        let optimizer = try RecordingSGD(dense.parameters, learningRate: 0.1)
        let trainer = Trainer(optimizer: optimizer, options: options)
        let x = Tensor(shape: [40, 1], scalars: (0..<40).map { Float($0) / 40 })
        let y = Tensor(shape: [40, 1], scalars: (0..<40).map { 2 * Float($0) / 40 })
        let history = try trainer.fit(sampleCount: 40, loss: { batch in
            if stepDelay > 0 { Thread.sleep(forTimeInterval: stepDelay) }
            return try Loss.meanSquaredError(dense(Variable(x.gathering(batch))), y.gathering(batch))
        }, validationLoss: validationDelay.map { delay in {
            Thread.sleep(forTimeInterval: delay)
            return Double(try Loss.meanSquaredError(dense(Variable(x)), y).value.scalar)
        } })
        return (history, optimizer.rates)
    }

    func testAStepLimitAloneBoundsTheRunAndPlansTheCosineOverIt() throws {
        var options = TrainingOptions()
        options.epochs = TrainingOptions.untilLimit
        options.batchSize = 8   // 5 steps an epoch
        options.maxSteps = 23
        options.schedule = .cosineOverRun(minimum: 0.001)
        let (history, rates) = try run(options)
        XCTAssertEqual(history.steps, 23)
        XCTAssertEqual(history.stopReason, .maxSteps)
        XCTAssertEqual(history.trainLoss.count, 5, "the part of epoch 5 is closed as an epoch")
        let cosine = LearningRateSchedule.cosineAnnealing(steps: 23, minimum: 0.001)
        XCTAssertEqual(rates, (0..<23).map { cosine.learningRate(base: 0.1, step: $0) })
        XCTAssertTrue(history.summary.hasPrefix("stopped by the step limit of 23, reached first, at step 23, epoch 5"), history.summary)
    }

    func testTheFirstLimitReachedStopsTheRun() throws {
        var options = TrainingOptions()
        options.batchSize = 8
        options.epochs = 3
        options.maxSteps = 100
        options.schedule = .cosineOverRun()
        let (byEpochs, rates) = try run(options)
        XCTAssertEqual(byEpochs.steps, 15)
        XCTAssertEqual(byEpochs.stopReason, .completed)
        XCTAssertEqual(rates.last, LearningRateSchedule.cosineAnnealing(steps: 15).learningRate(base: 0.1, step: 14))
        XCTAssertTrue(byEpochs.summary.hasPrefix("completed: all 3 epochs (the epoch limit), at step 15"), byEpochs.summary)
        options.maxSteps = 7
        let (bySteps, _) = try run(options)
        XCTAssertEqual(bySteps.steps, 7)
        XCTAssertEqual(bySteps.stopReason, .maxSteps)
    }

    func testATimeLimitHoldsValidationAndEndsWithTheCosineDecayed() throws {
        var options = TrainingOptions()
        options.epochs = TrainingOptions.untilLimit
        options.batchSize = 8
        options.maxMinutes = 1.5 / 60
        options.schedule = .cosineOverRun()
        // 20 ms a step and 150 ms a validation (every 5 steps): about 37 steps fit in 1.5 s with
        // their validations, where a plan counting steps alone would expect 75.
        let (history, rates) = try run(options, stepDelay: 0.02, validationDelay: 0.15)
        XCTAssertEqual(history.stopReason, .maxMinutes)
        XCTAssertLessThanOrEqual(history.seconds, 1.5 + 0.1, "validation included, the run ends in its time")
        XCTAssertGreaterThan(history.validationSeconds, 0)
        XCTAssertGreaterThan(history.steps, 10)
        let last = try XCTUnwrap(rates.last)
        XCTAssertLessThan(last, 0.1 * 0.25, "the cosine has decayed when the time runs out (rates \(rates))")
        XCTAssertTrue(history.summary.hasPrefix("stopped by the time limit of 0.025 min, reached first"), history.summary)
    }

    func testARunWithoutAnyBoundIsRefused() throws {
        var options = TrainingOptions()
        options.epochs = TrainingOptions.untilLimit
        XCTAssertThrowsError(try run(options)) { error in
            XCTAssertTrue("\(error)".contains("a run without an epoch count needs a step or time limit"), "\(error)")
        }
    }
}
