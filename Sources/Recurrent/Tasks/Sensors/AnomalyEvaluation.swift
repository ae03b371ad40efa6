import Foundation

/// Precision, recall and F1 of flagged steps against labelled ones.
public struct DetectionScores: Codable, Sendable, Equatable {
    public var precision: Double
    public var recall: Double
    public var f1: Double

    init(truePositives: Int, flagged: Int, anomalous: Int) {
        precision = flagged == 0 ? 0 : Double(truePositives) / Double(flagged)
        recall = anomalous == 0 ? 0 : Double(truePositives) / Double(anomalous)
        f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
    }
}

/// Flagged ranges against 0/1 labels: point-wise, point-adjusted (a labelled range counts as
/// found in full when any of its steps is flagged, the convention of Xu et al. 2018), and the
/// UCR anomaly archive's rule: is the highest score within `tolerance` steps of a labelled range.
public struct AnomalyEvaluation: Codable, Sendable {
    public var pointwise: DetectionScores
    public var pointAdjusted: DetectionScores
    /// The step of the highest score, moved back to the middle of the readings the score averages.
    public var topLocation: Int
    public var topHit: Bool
    public var labelledRanges: Int
    public var flaggedRanges: Int

    /// `scores` and `labels` cover the same steps; `smoothing` is the score's averaging span.
    public init(ranges: [AnomalyRange], scores: [Double], labels: [Int], smoothing: Int, tolerance: Int = 100) {
        var flagged = [Bool](repeating: false, count: labels.count)
        for range in ranges { for t in range.start...min(range.end, labels.count - 1) { flagged[t] = true } }
        let labelled = Self.runs(of: labels.map { $0 == 1 })
        var adjusted = flagged
        for run in labelled where run.contains(where: { flagged[$0] }) { for t in run { adjusted[t] = true } }
        func detection(_ marks: [Bool]) -> DetectionScores {
            DetectionScores(truePositives: zip(marks, labels).filter { $0 && $1 == 1 }.count,
                            flagged: marks.filter { $0 }.count, anomalous: labels.filter { $0 == 1 }.count)
        }
        pointwise = detection(flagged)
        pointAdjusted = detection(adjusted)
        let top = scores.indices.max { scores[$0] < scores[$1] } ?? 0
        topLocation = max(0, top - (smoothing - 1) / 2)
        let location = topLocation
        topHit = labelled.contains { run in (run.lowerBound - tolerance)...(run.upperBound - 1 + tolerance) ~= location }
        labelledRanges = labelled.count
        flaggedRanges = ranges.count
    }

    /// The runs of true marks as ranges of steps.
    public static func runs(of marks: [Bool]) -> [Range<Int>] {
        var runs: [Range<Int>] = [], start: Int? = nil
        for (t, mark) in (marks + [false]).enumerated() {
            if mark, start == nil { start = t }
            if !mark, let s = start { runs.append(s..<t); start = nil }
        }
        return runs
    }

    /// `{"pointwise": {...}, "point_adjusted": {...}, "top_location": .., "top_hit": ..}` on one line.
    public var json: String {
        func figures(_ s: DetectionScores) -> String {
            String(format: "{\"precision\": %.4f, \"recall\": %.4f, \"f1\": %.4f}", s.precision, s.recall, s.f1)
        }
        return "{\"pointwise\": \(figures(pointwise)), \"point_adjusted\": \(figures(pointAdjusted)), "
            + "\"top_location\": \(topLocation), \"top_hit\": \(topHit), \"labelled_ranges\": \(labelledRanges), "
            + "\"flagged_ranges\": \(flaggedRanges)}"
    }
}
