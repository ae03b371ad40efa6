import Foundation
import XCTest
@testable import Recurrent

/// Metrics against PyTorch (Fixtures/training/metrics.json) and streaming against one-shot.
final class MetricTests: XCTestCase {
    struct MetricFile: Decodable {
        let logits: TrainingTensorJSON
        let classes: [Int]
        let ignoreIndex: Int
        let predictedClasses: [Int]
        let accuracy: Double
        let meanCrossEntropy: Double
        let perplexity: Double
        let bitsPerCharacter: Double
        let prediction: TrainingTensorJSON
        let target: TrainingTensorJSON
        let rootMeanSquaredError: Double
        let meanAbsoluteError: Double
    }

    func testMetricsMatchPyTorch() throws {
        let file = try TrainingFixtures.load("metrics", as: MetricFile.self)
        let logits = file.logits.tensor
        XCTAssertEqual(Metrics.predictedClasses(logits: logits), file.predictedClasses)
        let accuracy = try XCTUnwrap(Metrics.accuracy(logits: logits, targets: file.classes, ignoreIndex: file.ignoreIndex))
        assertTrainingClose([accuracy], [file.accuracy], "accuracy from logits")
        let fromIndices = try XCTUnwrap(Metrics.accuracy(predicted: file.predictedClasses, targets: file.classes,
                                                         ignoreIndex: file.ignoreIndex))
        assertTrainingClose([fromIndices], [file.accuracy], "accuracy from class indices")
        let crossEntropyLoss = try crossEntropy(logits: Variable(logits), targets: file.classes, ignoreIndex: file.ignoreIndex)
        let mean = crossEntropyLoss.value.scalar
        assertTrainingClose([mean], [file.meanCrossEntropy], "mean cross-entropy")
        assertTrainingClose([Metrics.perplexity(meanCrossEntropy: mean)], [file.perplexity], "perplexity")
        assertTrainingClose([Metrics.bitsPerCharacter(meanCrossEntropy: mean)], [file.bitsPerCharacter], "bits per character")
        let prediction = file.prediction.tensor, target = file.target.tensor
        assertTrainingClose([try XCTUnwrap(Metrics.rootMeanSquaredError(prediction, target))], [file.rootMeanSquaredError], "RMSE")
        assertTrainingClose([try XCTUnwrap(Metrics.meanAbsoluteError(prediction, target))], [file.meanAbsoluteError], "MAE")
    }

    /// Batches of different sizes, added one by one, give the metrics of all rows at once.
    func testStreamingEqualsOneShot() throws {
        let file = try TrainingFixtures.load("metrics", as: MetricFile.self)
        let logits = file.logits.tensor
        let classCount = try XCTUnwrap(logits.shape.last)
        var streamed = MetricAccumulator()
        var merged = MetricAccumulator(), secondHalf = MetricAccumulator()
        for (index, rows) in [0..<3, 3..<4, 4..<8].enumerated() {
            let batch = Tensor(shape: [rows.count, classCount],
                               scalars: Array(logits.scalars[(rows.lowerBound * classCount)..<(rows.upperBound * classCount)]))
            let targets = Array(file.classes[rows])
            try streamed.addClassification(logits: batch, targets: targets, ignoreIndex: file.ignoreIndex)
            if index == 0 {
                try merged.addClassification(logits: batch, targets: targets, ignoreIndex: file.ignoreIndex)
            } else {
                try secondHalf.addClassification(logits: batch, targets: targets, ignoreIndex: file.ignoreIndex)
            }
        }
        merged.merge(secondHalf)
        for accumulator in [streamed, merged] {
            assertTrainingClose([try XCTUnwrap(accumulator.accuracy)], [file.accuracy], "streamed accuracy")
            assertTrainingClose([try XCTUnwrap(accumulator.meanCrossEntropy)], [file.meanCrossEntropy], "streamed cross-entropy")
            assertTrainingClose([try XCTUnwrap(accumulator.value(of: .perplexity))], [file.perplexity], "streamed perplexity")
            assertTrainingClose([try XCTUnwrap(accumulator.value(of: .bitsPerCharacter))], [file.bitsPerCharacter], "streamed bpc")
            XCTAssertNil(accumulator.value(of: .rootMeanSquaredError), "no regression data added")
        }

        var regression = MetricAccumulator()
        let prediction = file.prediction.tensor, target = file.target.tensor
        for rows in [0..<1, 1..<4] {
            let columns = prediction.shape[1]
            func slice(_ tensor: Tensor) -> Tensor {
                Tensor(shape: [rows.count, columns], scalars: Array(tensor.scalars[(rows.lowerBound * columns)..<(rows.upperBound * columns)]))
            }
            try regression.addRegression(prediction: slice(prediction), target: slice(target))
        }
        assertTrainingClose([try XCTUnwrap(regression.value(of: .rootMeanSquaredError))], [file.rootMeanSquaredError], "streamed RMSE")
        assertTrainingClose([try XCTUnwrap(regression.value(of: .meanAbsoluteError))], [file.meanAbsoluteError], "streamed MAE")
    }

    func testMasksLossesAndEmptyAccumulators() throws {
        // Row 1 is masked out: its wrong prediction does not count.
        let logits = Tensor(shape: [3, 2], scalars: [2, 1, 0, 5, 1, 3])
        let accuracy = try Metrics.accuracy(logits: logits, targets: [0, 0, 1], mask: Tensor(shape: [3], scalars: [1, 0, 1]))
        XCTAssertEqual(accuracy, 1)
        XCTAssertEqual(try Metrics.accuracy(logits: logits, targets: [0, 0, 1]) ?? .nan, 2.0 / 3, accuracy: 1e-7)
        let masked = try Metrics.meanAbsoluteError(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), Tensor(zeros: [2, 2]),
                                                   mask: Tensor(shape: [2], scalars: [0, 1]))
        XCTAssertEqual(masked, 3.5)
        var losses = MetricAccumulator()
        XCTAssertNil(losses.loss)
        XCTAssertNil(losses.accuracy)
        losses.addLoss(1, count: 3)
        losses.addLoss(3, count: 1)
        XCTAssertEqual(losses.value(of: .loss), 1.5)
        XCTAssertNil(try Metrics.accuracy(predicted: [1], targets: [-100], ignoreIndex: -100))
        XCTAssertThrowsError(try Metrics.accuracy(logits: logits, targets: [0, 2, 1]), "class 2 of 2")
        XCTAssertThrowsError(try Metrics.rootMeanSquaredError(Tensor(zeros: [2]), Tensor(zeros: [3])))
        XCTAssertEqual(Metrics.bitsPerCharacter(meanCrossEntropy: Float(log(2.0))), 1, accuracy: 1e-7)
    }
}
