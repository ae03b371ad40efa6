import Foundation

/// One scored reading.
public struct AnomalyStep: Sendable {
    /// The forecast of this reading made at the previous step, in the signal's units (nil at the
    /// first step).
    public var forecast: Double?
    /// The forecast's standard deviation, in the signal's units.
    public var spread: Double?
    /// (value - forecast) / spread; 0 at the first step.
    public var surprise: Double
    /// The mean of the squared surprises of the last `smoothing` readings; 0 during the burn-in,
    /// while the state still warms up.
    public var score: Double
}

/// Scores readings one at a time as they arrive, the recurrent state carried from each to the
/// next (`RecurrentStream`): for a device that must raise an alarm without waiting for the rest
/// of the recording. Scoring a whole series (`AnomalyDetector.score`) runs this same loop, so the
/// two agree exactly.
public final class StreamingAnomalyScorer {
    let detector: AnomalyDetector
    let stream: RecurrentStream
    let weight: [Float], bias: [Float]
    let hidden: Int
    /// Raw Gaussian parameters for the next reading, in standardised units.
    var next: (mean: Float, rawScale: Float)? = nil
    /// The squared surprises of the last `smoothing` readings, as a ring, and their sum.
    var recent: [Double]
    var recentSum = 0.0
    public private(set) var stepsSeen = 0

    public init(_ detector: AnomalyDetector) throws {
        self.detector = detector
        stream = try RecurrentStream(detector.recurrent, batch: 1)
        weight = detector.head.weight.value.scalars
        bias = detector.head.bias?.value.scalars ?? [0, 0]
        hidden = detector.configuration.hiddenSize
        recent = Array(repeating: 0, count: detector.configuration.smoothing)
    }

    /// Scores `value`, then forecasts the next reading.
    public func push(_ value: Float) -> AnomalyStep {
        let z = detector.standardised(value)
        var step = AnomalyStep(forecast: nil, spread: nil, surprise: 0, score: 0)
        if let next {
            let sigma = Double(softplus(Double(next.rawScale))) + DistributionKind.minimumScale
            step.surprise = (Double(z) - Double(next.mean)) / sigma
            step.forecast = detector.spec.mean + Double(next.mean) * detector.spec.standardDeviation
            step.spread = sigma * detector.spec.standardDeviation
        }
        let slot = stepsSeen % recent.count
        recentSum += step.surprise * step.surprise - recent[slot]
        recent[slot] = step.surprise * step.surprise
        stepsSeen += 1
        if stepsSeen > detector.configuration.burnIn { step.score = max(0, recentSum) / Double(recent.count) }
        var input = z
        let output = withUnsafePointer(to: &input) { stream.step($0) }
        var mean = bias[0], rawScale = bias[1]
        for h in 0..<hidden {
            mean += weight[h] * output[h]
            rawScale += weight[hidden + h] * output[h]
        }
        next = (mean, rawScale)
        return step
    }

    /// Back to the state before the first reading.
    public func reset() {
        stream.reset()
        next = nil
        recent = Array(repeating: 0, count: recent.count)
        recentSum = 0
        stepsSeen = 0
    }
}

/// The scores of a whole series and the ranges above a threshold.
public struct AnomalyScores: Sendable {
    public var surprises: [Double]
    public var scores: [Double]
    public var forecasts: [Double?]
}

/// A run of flagged steps: [start, end] inclusive, 0-based; its highest score and where.
public struct AnomalyRange: Codable, Sendable, Equatable {
    public var start: Int
    public var end: Int
    public var peak: Int
    public var peakScore: Double

    public init(start: Int, end: Int, peak: Int, peakScore: Double) {
        self.start = start
        self.end = end
        self.peak = peak
        self.peakScore = peakScore
    }
}

extension AnomalyDetector {
    /// Scores every step of `values`, one at a time with the state carried.
    public func score(_ values: [Float], progress: ProgressReporter? = nil) throws -> AnomalyScores {
        let scorer = try StreamingAnomalyScorer(self)
        var result = AnomalyScores(surprises: [], scores: [], forecasts: [])
        result.surprises.reserveCapacity(values.count)
        result.scores.reserveCapacity(values.count)
        result.forecasts.reserveCapacity(values.count)
        for value in values {
            let step = scorer.push(value)
            result.surprises.append(step.surprise)
            result.scores.append(step.score)
            result.forecasts.append(step.forecast)
        }
        return result
    }

    /// The runs of steps scoring above `threshold`, merged when closer than `mergeGap`. A run
    /// starts `smoothing - 1` steps before its first flagged score: those readings' surprises
    /// make up the score.
    public func ranges(_ scores: [Double], threshold: Double) -> [AnomalyRange] {
        Self.ranges(scores, threshold: threshold, smoothing: configuration.smoothing, mergeGap: configuration.mergeGap)
    }

    static func ranges(_ scores: [Double], threshold: Double, smoothing: Int, mergeGap: Int) -> [AnomalyRange] {
        var ranges: [AnomalyRange] = []
        for (t, score) in scores.enumerated() where score > threshold {
            let start = max(0, t - smoothing + 1)
            if var last = ranges.last, start <= last.end + mergeGap + 1 {
                last.end = t
                if score > last.peakScore { (last.peak, last.peakScore) = (t, score) }
                ranges[ranges.count - 1] = last
            } else {
                ranges.append(AnomalyRange(start: start, end: t, peak: t, peakScore: score))
            }
        }
        return ranges
    }
}
