import Foundation
import XCTest
@testable import Recurrent

/// Anomaly detection: ranges and figures worked by hand, the streaming scorer against the layer
/// it was trained through, and the bundled mitdb excerpt.
final class AnomalyDetectionTests: ScratchDirectoryTestCase {
    func testRangesMergeAndReachBackOverTheSmoothingSpan() {
        let scores: [Double] = [0, 5, 0, 0, 5, 5, 0, 0, 0, 0, 0, 5]
        XCTAssertEqual(AnomalyDetector.ranges(scores, threshold: 1, smoothing: 2, mergeGap: 1), [
            AnomalyRange(start: 0, end: 5, peak: 1, peakScore: 5),
            AnomalyRange(start: 10, end: 11, peak: 11, peakScore: 5),
        ])
    }

    func testPointwisePointAdjustedAndTopHitByHand() {
        let labels = [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
        let ranges = [AnomalyRange(start: 3, end: 3, peak: 3, peakScore: 2), AnomalyRange(start: 7, end: 8, peak: 8, peakScore: 3)]
        let scores: [Double] = [0, 0, 0, 2, 0, 0, 0, 1, 3, 0]
        let e = AnomalyEvaluation(ranges: ranges, scores: scores, labels: labels, smoothing: 1)
        // Flagged {3, 7, 8}: one of three is anomalous, one of three anomalies is found.
        XCTAssertEqual(e.pointwise.precision, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(e.pointwise.recall, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(e.pointwise.f1, 1.0 / 3, accuracy: 1e-12)
        // Step 3 finds the labelled range {2, 3, 4} in full: flagged {2, 3, 4, 7, 8}.
        XCTAssertEqual(e.pointAdjusted.precision, 0.6, accuracy: 1e-12)
        XCTAssertEqual(e.pointAdjusted.recall, 1, accuracy: 1e-12)
        XCTAssertEqual(e.pointAdjusted.f1, 0.75, accuracy: 1e-12)
        XCTAssertEqual(e.topLocation, 8)
        XCTAssertTrue(e.topHit, "step 8 lies within 100 steps of the range 2-4")
        XCTAssertFalse(AnomalyEvaluation(ranges: ranges, scores: scores, labels: labels, smoothing: 1, tolerance: 3).topHit,
                       "step 8 is 4 steps after the range")
        XCTAssertEqual(e.labelledRanges, 1)
        XCTAssertEqual(e.flaggedRanges, 2)
    }

    func testWindowStartsStayInsideNormalRuns() {
        let normal = [true, true, true, true, false, true, true, true, true, true]
        XCTAssertEqual(AnomalyDetector.windowStarts(normal: normal, length: 3, stride: 1), [0, 1, 5, 6, 7])
        XCTAssertEqual(AnomalyDetector.windowStarts(normal: normal, length: 3, stride: 2), [0, 5, 7])
    }

    func mitdb() throws -> LabelledSignal {
        try LabelledSignal(table: CSVTable(path: repositoryFile("Data/sensors/mitdb.csv")), column: "data", labelColumn: "label")
    }

    func trainedOnMitdb(epochs: Int = 60) throws -> AnomalyDetector {
        let signal = try mitdb()
        var options = TrainingOptions()
        options.epochs = epochs
        return try AnomalyDetector.train(signal: signal, normal: signal.values.indices.map { $0 < 3000 },
                                         configuration: AnomalyConfiguration(), options: options).0
    }

    /// The step-at-a-time scorer gives the surprises of the whole-sequence forward pass that
    /// training differentiates.
    func testStreamingScorerMatchesTheTrainedForwardPass() throws {
        let detector = try trainedOnMitdb(epochs: 2)
        let values = Array(try mitdb().values[6900..<7300])
        let z = values.map(detector.standardised)
        let raw = try detector.forecast(Variable(Tensor(shape: [1, z.count, 1], scalars: z))).value.scalars
        let streamed = try detector.score(values)
        for t in 1..<z.count {
            let sigma = softplus(Double(raw[2 * (t - 1) + 1])) + DistributionKind.minimumScale
            let expected = (Double(z[t]) - Double(raw[2 * (t - 1)])) / sigma
            XCTAssertEqual(streamed.surprises[t], expected, accuracy: 1e-3 * max(1, abs(expected)), "step \(t)")
        }
        let scorer = try StreamingAnomalyScorer(detector)
        let again = values.map { scorer.push($0).score }
        XCTAssertEqual(again, streamed.scores, "one reading at a time, the state carried")
        scorer.reset()
        XCTAssertEqual(values.map { scorer.push($0).score }, streamed.scores, "reset returns to the first reading's state")
    }

    /// mitdb, trained on the first 3,000 steps: the abnormal beat is the top score and is flagged
    /// (README: point-adjusted F1 1.00).
    func testMitdbAbnormalBeatIsFound() throws {
        let detector = try trainedOnMitdb()
        let signal = try mitdb()
        let scores = try detector.score(signal.values).scores
        let ranges = detector.ranges(scores, threshold: detector.threshold)
        let e = AnomalyEvaluation(ranges: ranges, scores: scores, labels: signal.labels ?? [], smoothing: detector.configuration.smoothing)
        XCTAssertTrue(e.topHit, "top score at \(e.topLocation)")
        XCTAssertGreaterThanOrEqual(e.pointAdjusted.f1, 0.9, e.json)
        XCTAssertTrue(ranges.allSatisfy { $0.start >= 3000 }, "nothing in the normal part scores above its own maximum")
    }

    func testBadSignalsAreErrorsNamingTheFile() throws {
        let labels = try write("v,label\n1,0\n2,2\n", to: "labels.csv")
        XCTAssertThrowsError(try LabelledSignal(table: CSVTable(path: labels), column: "v", labelColumn: "label")) {
            let message = String(describing: $0)
            XCTAssertTrue(message.contains("labels.csv") && message.contains("line 3") && message.contains("not 0"), message)
        }
        let short = LabelledSignal(path: "short.csv", column: "v", values: (0..<50).map { Float($0 % 7) })
        XCTAssertThrowsError(try AnomalyDetector.train(signal: short, configuration: AnomalyConfiguration(), options: TrainingOptions())) {
            let message = String(describing: $0)
            XCTAssertTrue(message.contains("short.csv") && message.contains("window of 100"), message)
        }
        let flat = LabelledSignal(path: "flat.csv", column: "v", values: Array(repeating: 3, count: 500))
        XCTAssertThrowsError(try AnomalyDetector.train(signal: flat, configuration: AnomalyConfiguration(), options: TrainingOptions())) {
            let message = String(describing: $0)
            XCTAssertTrue(message.contains("flat.csv") && message.contains("constant"), message)
        }
    }
}
