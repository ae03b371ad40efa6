import Foundation
import Recurrent

// MARK: - Anomaly detectors

extension TaskRoute {
    /// The most readings one request scores.
    static let maximumReadings = 1_000_000
    static let maximumDeviations = 1e6

    /// `POST /v2/models/{m}/detect`: scores readings as `recurrent anomaly detect` does. A whole
    /// signal in one request (with labels, the detection figures too), or a monitored signal a
    /// few readings at a time: with `sequence_id` (and `sequence_start` on the first request) the
    /// server keeps the detector's state between requests, so the readings sent in pieces score
    /// exactly as the whole signal would, and each reply says at once which readings crossed the
    /// threshold.
    static let detect = TaskRoute(
        name: "detect",
        summary: "An anomaly detector's score for every reading, the readings above the threshold and their ranges; with sequence_id, a signal monitored a few readings at a time.",
        streams: false, applies: { if case .anomalyDetector = $0 { return true } else { return false } },
        requestSchema: Schemas.detectRequest, responseSchema: Schemas.detectResponse
    ) { model, body, executor in
        guard case .anomalyDetector(let detector) = model.task else { throw ServerError.notFound("no anomaly detector") }
        var fields = try Fields(body, context: "request body")
        guard let values = try fields.numbers("values"), !values.isEmpty else { throw fields.fail("values", "is missing or empty") }
        guard values.count <= maximumReadings else { throw fields.fail("values", "has \(values.count) readings, over the limit of \(maximumReadings)") }
        if let bad = values.firstIndex(where: { !$0.isFinite || abs($0) > Double(Float.greatestFiniteMagnitude) }) {
            throw fields.fail("values", "[\(bad)] is \(values[bad]), not a finite 32-bit number")
        }
        // A reading millions of standard deviations from the training signal is a unit or a
        // sensor fault, not a measurement; past that the network's sums overflow.
        let (mean, spread) = detector.scale
        if let bad = values.firstIndex(where: { abs($0 - mean) / spread > maximumDeviations }) {
            throw fields.fail("values", String(format: "[%d] is %g, %.3g standard deviations from the training signal's mean %g; over %.0g is refused",
                                               bad, values[bad], abs(values[bad] - mean) / spread, mean, maximumDeviations))
        }
        let labels = try fields.numbers("labels")
        if let labels {
            guard labels.count == values.count else { throw fields.fail("labels", "has \(labels.count) values for \(values.count) readings") }
            if let bad = labels.firstIndex(where: { $0 != 0 && $0 != 1 }) { throw fields.fail("labels", "[\(bad)] is \(labels[bad]), expected 0 or 1") }
        }
        let threshold = try fields.number("threshold") ?? detector.threshold
        guard threshold >= 0 else { throw fields.fail("threshold", "is \(threshold), expected 0 or more") }
        var parameters: [String: JSON] = [:]
        for name in ["sequence_id", "sequence_start", "sequence_end"] { parameters[name] = fields.value(name) }
        try fields.finish()
        let sequence = try SequenceControl.read(parameters, model: model.name)
        if sequence != nil, labels != nil {
            throw fields.fail("labels", "cannot be given with sequence_id: the figures need the whole signal")
        }
        let box = UncheckedBox(detector)
        let readings = values.map(Float.init)
        let scored = try await executor.run(model) { () -> (first: Int, steps: [AnomalyStep]) in
            let scorer: StreamingAnomalyScorer
            if let sequence {
                scorer = try executor.sessions.taskState(for: sequence) { try StreamingAnomalyScorer(box.value) }
            } else {
                scorer = try StreamingAnomalyScorer(box.value)
            }
            let first = scorer.stepsSeen
            let steps = readings.map { scorer.push($0) }
            if let bad = steps.firstIndex(where: { !$0.score.isFinite || !$0.surprise.isFinite || !($0.forecast ?? 0).isFinite }) {
                // The state is spoilt for what follows: the sequence ends here.
                if let sequence { executor.sessions.store(SequenceControl(model: sequence.model, id: sequence.id, start: false, end: true), task: scorer, now: 0) }
                throw ServerError.badRequest("request body: the score of values[\(bad)] is not finite" + (sequence == nil ? "" : "; the sequence is ended"))
            }
            if let sequence { executor.sessions.store(sequence, task: scorer, now: ModelExecutor.now()) }
            return (first, steps)
        }
        let scores = scored.steps.map(\.score)
        // Ranges over this request's readings, numbered from the sequence's first reading.
        let ranges = detector.ranges(scores, threshold: threshold).map {
            AnomalyRange(start: $0.start + scored.first, end: $0.end + scored.first, peak: $0.peak + scored.first, peakScore: $0.peakScore)
        }
        var reply: [String: JSON] = [
            "model_name": .string(model.name), "threshold": .number(threshold), "first_step": .number(Double(scored.first)),
            "scores": .array(scores.map(JSON.number)),
            "surprises": .array(scored.steps.map { .number($0.surprise) }),
            "forecasts": .array(scored.steps.map { $0.forecast.map(JSON.number) ?? .null }),
            "spreads": .array(scored.steps.map { $0.spread.map(JSON.number) ?? .null }),
            "alarms": .array(scores.indices.filter { scores[$0] > threshold }.map { .number(Double($0 + scored.first)) }),
            "ranges": .array(ranges.map {
                .object(["start": .number(Double($0.start)), "end": .number(Double($0.end)), "peak": .number(Double($0.peak)),
                         "peak_score": .number($0.peakScore)])
            }),
        ]
        if let labels {
            let evaluation = AnomalyEvaluation(ranges: ranges, scores: scores, labels: labels.map { Int($0) },
                                               smoothing: detector.configuration.smoothing)
            func figures(_ s: DetectionScores) -> JSON {
                .object(["precision": .number(s.precision), "recall": .number(s.recall), "f1": .number(s.f1)])
            }
            reply["evaluation"] = .object([
                "pointwise": figures(evaluation.pointwise), "point_adjusted": figures(evaluation.pointAdjusted),
                "top_location": .number(Double(evaluation.topLocation)), "top_hit": .bool(evaluation.topHit),
                "labelled_ranges": .number(Double(evaluation.labelledRanges)), "flagged_ranges": .number(Double(evaluation.flaggedRanges)),
            ])
        }
        return .json(.object(reply))
    }
}
