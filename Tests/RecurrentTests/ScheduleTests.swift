import Foundation
import XCTest
@testable import Recurrent

/// Learning-rate schedules against PyTorch's schedulers (Fixtures/training/schedules.json).
final class ScheduleTests: XCTestCase {
    /// The schedule as the reference script describes it.
    final class ScheduleJSON: Decodable {
        let kind: String
        let stepSize: Int?
        let gamma: Double?
        let steps: Int?
        let minimum: Double?
        let startFactor: Double?
        let then: ScheduleJSON?

        func schedule() throws -> LearningRateSchedule {
            switch kind {
            case "constant": return .constant
            case "step": return .step(size: try XCTUnwrap(stepSize), gamma: try XCTUnwrap(gamma))
            case "cosine": return .cosineAnnealing(steps: try XCTUnwrap(steps), minimum: try XCTUnwrap(minimum))
            case "warmup":
                return .linearWarmup(steps: try XCTUnwrap(steps), startFactor: try XCTUnwrap(startFactor),
                                     then: try XCTUnwrap(then).schedule())
            default: throw RecurrentError.invalidArgument("unknown schedule \(kind) in the fixture")
            }
        }
    }

    struct ScheduleCase: Decodable {
        let name: String
        let schedule: ScheduleJSON
        let rates: [Double]
    }

    struct ScheduleFile: Decodable {
        let base: Double
        let cases: [ScheduleCase]
    }

    func testSchedulesMatchPyTorch() throws {
        let file = try TrainingFixtures.load("schedules", as: ScheduleFile.self)
        XCTAssertEqual(file.cases.count, 6)
        for c in file.cases {
            let schedule = try c.schedule.schedule()
            XCTAssertNoThrow(try schedule.validate(), c.name)
            let rates = c.rates.indices.map { schedule.learningRate(base: file.base, step: $0) }
            assertTrainingClose(rates, c.rates, c.name)
        }
    }

    func testCosineStaysAtItsMinimumAfterItsLength() {
        let schedule = LearningRateSchedule.linearWarmup(steps: 2, startFactor: 0, then: .cosineAnnealing(steps: 4, minimum: 0.01))
        XCTAssertEqual(schedule.learningRate(base: 1, step: 0), 0)
        XCTAssertEqual(schedule.learningRate(base: 1, step: 1), 0.5)
        XCTAssertEqual(schedule.learningRate(base: 1, step: 2), 1)
        XCTAssertEqual(schedule.learningRate(base: 1, step: 6), 0.01, accuracy: 1e-7)
        XCTAssertEqual(schedule.learningRate(base: 1, step: 100), 0.01, accuracy: 1e-7)
        XCTAssertEqual(schedule.learningRate(base: 1, step: -3), 0, "negative steps count as step 0")
    }

    func testApplySetsTheOptimizersRate() throws {
        let optimizer = try SGD([Variable(Tensor(zeros: [1]), requiresGrad: true)], learningRate: 0.5)
        LearningRateSchedule.step(size: 2, gamma: 0.1).apply(to: optimizer, base: 0.5, step: 5)
        XCTAssertEqual(optimizer.learningRate, 0.5 * 0.01, accuracy: 1e-9)
    }

    func testValidationAndCoding() throws {
        XCTAssertThrowsError(try LearningRateSchedule.step(size: 0, gamma: 0.5).validate())
        XCTAssertThrowsError(try LearningRateSchedule.cosineAnnealing(steps: 0).validate())
        XCTAssertThrowsError(try LearningRateSchedule.linearWarmup(steps: 3, startFactor: 2).validate())
        XCTAssertThrowsError(try LearningRateSchedule.linearWarmup(steps: 3, then: .step(size: -1, gamma: 1)).validate())
        let schedules: [LearningRateSchedule] = [
            .constant, .step(size: 3, gamma: 0.5), .cosineAnnealing(steps: 10, minimum: 1e-4),
            .linearWarmup(steps: 5, startFactor: 0.1, then: .cosineAnnealing(steps: 100)),
        ]
        let decoded = try JSONDecoder().decode([LearningRateSchedule].self, from: JSONEncoder().encode(schedules))
        XCTAssertEqual(decoded, schedules)
    }
}
