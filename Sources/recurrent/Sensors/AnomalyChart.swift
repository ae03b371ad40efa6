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
        let labelled = (signal.labels.map { AnomalyEvaluation.runs(of: $0.map { $0 == 1 }) } ?? []).map { ($0.lowerBound, $0.upperBound - 1) }
        if let band = Self.band("labelled", runs: labelled, low: low, high: high, color: "#2ca02c", opacity: 0.25) { top.bands.append(band) }
        if let band = Self.band("flagged", runs: ranges.map { ($0.start, $0.end) }, low: low, high: high, color: "#d62728", opacity: 0.3) {
            top.bands.append(band)
        }
        let (x, y) = Self.envelope(values)
        top.add(.init(name: signal.column, x: x, y: y, color: "#1f77b4"))
        var bottom = LineChart(title: "score (mean squared surprise)", xLabel: "step", yLabel: "score", logarithmicY: true)
        // The burn-in's steps score 0: left out of the logarithmic axis.
        let (sx, sy) = Self.envelope(scores)
        let scored = sx.indices.filter { sy[$0] > 0 }
        bottom.add(.init(name: "score", x: scored.map { sx[$0] }, y: scored.map { sy[$0] }, color: "#444444"))
        bottom.add(.init(name: "threshold", x: [0, Double(max(1, scores.count - 1))], y: [threshold, threshold], color: "#d62728", dashed: true))
        return SVGDocument(panels: [.line(top), .line(bottom)])
    }

    /// One band over all `runs` (first and last step of each), flat at `low` between them, so
    /// that the legend names it once.
    static func band(_ name: String, runs: [(Int, Int)], low: Double, high: Double, color: String, opacity: Double) -> LineChart.Band? {
        guard !runs.isEmpty else { return nil }
        var x: [Double] = [], top: [Double] = []
        for (first, last) in runs {
            x += [Double(first), Double(first), Double(last), Double(last)]
            top += [low, high, high, low]
        }
        return LineChart.Band(name: name, x: x, low: Array(repeating: low, count: x.count), high: top, color: color, opacity: opacity)
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
