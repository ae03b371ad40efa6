import Recurrent

/// The signal with its flagged ranges (red) and labelled anomalies (green) above, the score and
/// the threshold below. Long signals are drawn as the lowest and highest value of each of 4,000
/// buckets, so that no spike is lost.
struct AnomalyChart {
    var signal: LabelledSignal
    var scores: [Double]
    var threshold: Double
    var ranges: [AnomalyRange]

    var document: SVGDocument {
        let values = signal.values.map(Double.init)
        let low = values.min() ?? 0, high = values.max() ?? 1
        var top = LineChart(title: "\(signal.column): flagged ranges in red, labelled anomalies in green", xLabel: "step", yLabel: signal.column)
        if let labels = signal.labels {
            for run in AnomalyEvaluation.runs(of: labels.map { $0 == 1 }) {
                top.bands.append(.init(name: "labelled", x: [Double(run.lowerBound), Double(run.upperBound - 1)],
                                       low: [low, low], high: [high, high], color: "#2ca02c", opacity: 0.25))
            }
        }
        for range in ranges {
            top.bands.append(.init(name: "flagged", x: [Double(range.start), Double(range.end)],
                                   low: [low, low], high: [high, high], color: "#d62728", opacity: 0.3))
        }
        let (x, y) = Self.envelope(values)
        top.add(.init(name: signal.column, x: x, y: y, color: "#1f77b4"))
        var bottom = LineChart(title: "score (mean squared surprise)", xLabel: "step", yLabel: "score", logarithmicY: true)
        let (sx, sy) = Self.envelope(scores.map { max($0, 1e-3) })
        bottom.add(.init(name: "score", x: sx, y: sy, color: "#444444"))
        bottom.add(.init(name: "threshold", x: [0, Double(max(1, scores.count - 1))], y: [threshold, threshold], color: "#d62728", dashed: true))
        return SVGDocument(panels: [.line(top), .line(bottom)])
    }

    /// At most 8,000 points: the lowest and highest value of each bucket, in order of steps.
    static func envelope(_ values: [Double]) -> ([Double], [Double]) {
        let buckets = 4_000
        guard values.count > 2 * buckets else { return (values.indices.map(Double.init), values) }
        var x: [Double] = [], y: [Double] = []
        let size = (values.count + buckets - 1) / buckets
        for start in stride(from: 0, to: values.count, by: size) {
            let part = start..<min(values.count, start + size)
            let lowest = part.min { values[$0] < values[$1] } ?? start, highest = part.max { values[$0] < values[$1] } ?? start
            for t in [lowest, highest].sorted() { x.append(Double(t)); y.append(values[t]) }
        }
        return (x, y)
    }
}
