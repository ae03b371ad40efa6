/// Counts of (true class, predicted class) pairs, and the figures drawn from them: accuracy,
/// per-class precision, recall and F1, and macro-F1 (the unweighted mean of the classes' F1,
/// as scikit-learn's `f1_score(average="macro")` computes it, a class with no true and no
/// predicted sample counting 0).
public struct ConfusionMatrix: Codable, Equatable, Sendable {
    /// counts[truth][prediction], C x C.
    public private(set) var counts: [[Int]]

    public init(classCount: Int) {
        counts = Array(repeating: Array(repeating: 0, count: max(0, classCount)), count: max(0, classCount))
    }

    /// Tallies pairs; a class outside 0..<C throws.
    public init(classCount: Int, truth: [Int], predicted: [Int]) throws {
        self.init(classCount: classCount)
        guard truth.count == predicted.count else {
            throw RecurrentError.shapeMismatch("confusion matrix: \(truth.count) true classes for \(predicted.count) predictions")
        }
        for (t, p) in zip(truth, predicted) { try add(truth: t, predicted: p) }
    }

    public mutating func add(truth: Int, predicted: Int) throws {
        guard counts.indices.contains(truth), counts.indices.contains(predicted) else {
            throw RecurrentError.invalidArgument("confusion matrix: class \(truth) or \(predicted) is outside 0..<\(classCount)")
        }
        counts[truth][predicted] += 1
    }

    public var classCount: Int { counts.count }
    public var total: Int { counts.joined().reduce(0, +) }
    public var correct: Int { counts.indices.reduce(0) { $0 + counts[$1][$1] } }
    public var accuracy: Double { total > 0 ? Double(correct) / Double(total) : 0 }

    /// Of the samples predicted as `c`, the fraction that are `c` (0 when none is predicted).
    public func precision(_ c: Int) -> Double {
        let predicted = counts.reduce(0) { $0 + $1[c] }
        return predicted > 0 ? Double(counts[c][c]) / Double(predicted) : 0
    }

    /// Of the samples of class `c`, the fraction predicted as `c` (0 when there are none).
    public func recall(_ c: Int) -> Double {
        let actual = counts[c].reduce(0, +)
        return actual > 0 ? Double(counts[c][c]) / Double(actual) : 0
    }

    /// 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall.
    public func f1(_ c: Int) -> Double {
        let truePositives = counts[c][c]
        let falsePositives = counts.reduce(0) { $0 + $1[c] } - truePositives
        let falseNegatives = counts[c].reduce(0, +) - truePositives
        let denominator = 2 * truePositives + falsePositives + falseNegatives
        return denominator > 0 ? Double(2 * truePositives) / Double(denominator) : 0
    }

    public var macroF1: Double {
        classCount > 0 ? (0..<classCount).reduce(0) { $0 + f1($1) } / Double(classCount) : 0
    }

    /// The matrix as aligned text, rows the true labels and columns the predicted ones.
    public func table(labels: [String]) -> [String] {
        let names = (0..<classCount).map { $0 < labels.count ? labels[$0] : "\($0)" }
        let width = max(6, (names.map(\.count) + counts.joined().map { String($0).count }).max() ?? 0)
        func cell(_ text: String) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        let header = cell("") + " " + names.map(cell).joined(separator: " ")
        return ["rows: true label, columns: predicted label", header] + counts.enumerated().map { row, values in
            cell(names[row]) + " " + values.map { cell(String($0)) }.joined(separator: " ")
        }
    }
}
