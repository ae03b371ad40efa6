import Foundation

/// How a beam search runs.
public struct BeamSearchOptions: Sendable {
    /// Hypotheses kept per input; 1 is greedy decoding.
    public var beamWidth: Int = 5
    /// Finished hypotheses are ranked by log-probability / length^alpha (0: raw log-probability,
    /// which favours short outputs). The end token counts in the length.
    public var lengthNormalization: Double = 1
    public var repetitionPenalty = RepetitionPenalty()

    public init(beamWidth: Int = 5, lengthNormalization: Double = 1, repetitionPenalty: RepetitionPenalty = RepetitionPenalty()) {
        self.beamWidth = beamWidth
        self.lengthNormalization = lengthNormalization
        self.repetitionPenalty = repetitionPenalty
    }

    public func validate() throws {
        guard beamWidth >= 1 else { throw RecurrentError.invalidArgument("the beam width must be at least 1, got \(beamWidth)") }
        guard lengthNormalization >= 0, lengthNormalization.isFinite else {
            throw RecurrentError.invalidArgument("the length normalization must be 0 or more, got \(lengthNormalization)")
        }
        try repetitionPenalty.validate()
    }

    func normalized(_ score: Double, length: Int) -> Double {
        score / pow(Double(max(length, 1)), lengthNormalization)
    }
}

/// Searches for the most likely outputs of a `StepwiseDecoder`, for a batch of inputs at once.
/// The decoder's start state has one row per input; `maxLengths[i]` caps input i's output
/// (a hypothesis still going at that length stops there, without an end token), and
/// `attentionLengths[i]` (when the decoder attends) trims each attention row to input i's tokens.
public struct SequenceSearch<Decoder: StepwiseDecoder> {
    public let decoder: Decoder
    public let vocabulary: DecodingVocabulary

    public init(_ decoder: Decoder, vocabulary: DecodingVocabulary) {
        self.decoder = decoder
        self.vocabulary = vocabulary
    }

    /// The most likely token at every step (after the repetition penalty), until the end token
    /// or the length limit: one hypothesis per input.
    public func greedy(from start: Decoder.State, maxLengths: [Int], attentionLengths: [Int]? = nil,
                       repetitionPenalty: RepetitionPenalty = RepetitionPenalty()) -> [Hypothesis] {
        let count = maxLengths.count
        var results = (0..<count).map { _ in Hypothesis(tokens: [], logProbability: 0, score: 0) }
        var finished = [Bool](repeating: false, count: count)
        var tokens = [Int](repeating: vocabulary.beginID, count: count), state = start
        for step in 0..<(maxLengths.max() ?? 0) {
            let result = decoder.step(tokens, state: state)
            state = result.state
            for row in 0..<count where !finished[row] {
                var logits = logitRow(result.logits, row)
                let logProbabilities = logSoftmax(logits)
                repetitionPenalty.apply(to: &logits, previous: results[row].tokens)
                let penalized = repetitionPenalty.penalty == 1 ? logProbabilities : logSoftmax(logits)
                let best = topIndices(penalized, count: 1, excluding: vocabulary.forbidden).first ?? vocabulary.endID
                tokens[row] = best
                if step >= maxLengths[row] { finished[row] = true; continue }
                results[row].logProbability += logProbabilities[best]
                results[row].score += penalized[best]
                if best == vocabulary.endID { finished[row] = true; continue }
                results[row].tokens.append(best)
                if let weights = attentionRow(result.attention, row: row, input: row, lengths: attentionLengths) { results[row].attention.append(weights) }
            }
            if !finished.contains(false) { break }
        }
        return results
    }

    /// Beam search: `beamWidth` hypotheses per input, each extended by its best tokens; a
    /// hypothesis that emits the end token is finished. An input is done when it has
    /// `beamWidth` finished hypotheses or reaches its length limit. Returns each input's finished
    /// hypotheses, best first by penalized log-probability / length^alpha (its n-best list).
    public func beam(from start: Decoder.State, maxLengths: [Int], attentionLengths: [Int]? = nil,
                     options: BeamSearchOptions) -> [[Hypothesis]] {
        let count = maxLengths.count, width = options.beamWidth
        var finished = [[Hypothesis]](repeating: [], count: count)
        var alive = (0..<count).map { Alive(input: $0, hypothesis: Hypothesis(tokens: [], logProbability: 0, score: 0), penalized: 0) }
        var state = start
        for step in 0... {
            if alive.isEmpty { break }
            let result = decoder.step(alive.map { $0.hypothesis.tokens.last ?? vocabulary.beginID }, state: state)
            var candidates = [[(parent: Int, token: Int, logProbability: Double, penalized: Double)]](repeating: [], count: count)
            for (row, parent) in alive.enumerated() {
                var logits = logitRow(result.logits, row)
                let logProbabilities = logSoftmax(logits)
                options.repetitionPenalty.apply(to: &logits, previous: parent.hypothesis.tokens)
                let penalized = options.repetitionPenalty.penalty == 1 ? logProbabilities : logSoftmax(logits)
                for token in topIndices(penalized, count: width, excluding: vocabulary.forbidden) {
                    candidates[parent.input].append((row, token, parent.hypothesis.logProbability + logProbabilities[token],
                                                     parent.penalized + penalized[token]))
                }
            }
            var next: [Alive] = [], parents: [Int] = []
            for input in 0..<count where !candidates[input].isEmpty {
                var kept = 0, stopped = Set<Int>()
                for candidate in candidates[input].sorted(by: { $0.penalized > $1.penalized }) {
                    if kept == width || finished[input].count >= width { break }
                    var extended = alive[candidate.parent]
                    let ended = candidate.token == vocabulary.endID
                    if ended || step >= maxLengths[input] {
                        // The end token counts in the length; a forced stop ends without it, once per parent.
                        if !ended && !stopped.insert(candidate.parent).inserted { continue }
                        var hypothesis = extended.hypothesis
                        if ended { hypothesis.logProbability = candidate.logProbability }
                        let penalized = ended ? candidate.penalized : extended.penalized
                        hypothesis.score = options.normalized(penalized, length: hypothesis.tokens.count + (ended ? 1 : 0))
                        finished[input].append(hypothesis)
                        continue
                    }
                    extended.hypothesis.tokens.append(candidate.token)
                    extended.hypothesis.logProbability = candidate.logProbability
                    extended.penalized = candidate.penalized
                    if let weights = attentionRow(result.attention, row: candidate.parent, input: input, lengths: attentionLengths) {
                        extended.hypothesis.attention.append(weights)
                    }
                    next.append(extended)
                    parents.append(candidate.parent)
                    kept += 1
                }
            }
            // Inputs with enough finished hypotheses stop growing.
            let keep = next.indices.filter { finished[next[$0].input].count < width }
            alive = keep.map { next[$0] }
            state = decoder.selecting(result.state, rows: keep.map { parents[$0] })
        }
        return finished.map { $0.sorted { $0.score > $1.score } }
    }

    /// A hypothesis still growing: its input and its penalized log-probability so far.
    struct Alive {
        var input: Int
        var hypothesis: Hypothesis
        var penalized: Double
    }

    func attentionRow(_ weights: Tensor?, row: Int, input: Int, lengths: [Int]?) -> [Float]? {
        guard let weights else { return nil }
        let width = weights.shape[1], length = min(width, lengths?[input] ?? width)
        return Array(weights.scalars[(row * width)..<(row * width + length)])
    }
}
