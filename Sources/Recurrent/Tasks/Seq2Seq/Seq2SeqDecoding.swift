import Foundation

/// A decoded output: target ids (without the begin and end tokens) and, for each, the
/// attention weights over the source tokens.
struct Decoded {
    var tokens: [Int]
    var attention: [[Float]]
}

extension Seq2SeqNetwork.Encoded {
    /// The rows `rows` of every tensor (a row may repeat: beams of one source share its encoding).
    func gathering(_ rows: [Int]) -> Self {
        Self(outputs: Variable(outputs.value.gathering(rows)), keys: Variable(keys.value.gathering(rows)),
             lengths: rows.map { lengths[$0] }, state: state.gathering(rows))
    }
}

extension RecurrentLayer.State {
    /// Rows `rows` of the batch axis of [L, B, H].
    func gathering(_ rows: [Int]) -> Self {
        func gather(_ tensor: Tensor) -> Tensor {
            let (layers, batch, width) = (tensor.shape[0], tensor.shape[1], tensor.shape[2])
            var values = [Float]()
            values.reserveCapacity(layers * rows.count * width)
            for layer in 0..<layers {
                for row in rows { values += tensor.scalars[((layer * batch + row) * width)..<((layer * batch + row + 1) * width)] }
            }
            return Tensor(shape: [layers, rows.count, width], scalars: values)
        }
        return Self(hidden: Variable(gather(hidden.value)), cell: cell.map { Variable(gather($0.value)) })
    }
}

extension Translator {
    /// Ids the decoder may not produce: the unknown and begin tokens.
    var forbiddenOutputs: Set<Int> { [targetVocabulary.unknownID, beginID] }

    /// Log-probabilities of row `row` of logits [B, V], in Double.
    func logProbabilities(_ logits: Tensor, row: Int) -> [Double] {
        let width = logits.shape[1]
        let scores = logits.scalars[(row * width)..<((row + 1) * width)].map(Double.init)
        let top = scores.max() ?? 0
        let logTotal = log(scores.reduce(0) { $0 + exp($1 - top) }) + top
        return scores.map { $0 - logTotal }
    }

    /// The most likely token at every step, until the end token or the length limit.
    func greedy(_ encoded: Seq2SeqNetwork.Encoded, maxLengths: [Int]) -> [Decoded] {
        let count = encoded.lengths.count, forbidden = forbiddenOutputs
        var results = [Decoded](repeating: Decoded(tokens: [], attention: []), count: count)
        var finished = [Bool](repeating: false, count: count)
        var tokens = [Int](repeating: beginID, count: count), state = encoded.state
        for step in 0..<(maxLengths.max() ?? 0) {
            let result = network.step(tokens, state: state, encoded: encoded)
            state = result.state
            for row in 0..<count where !finished[row] {
                let scores = logProbabilities(result.logits.value, row: row)
                let best = scores.indices.filter { !forbidden.contains($0) }.max { scores[$0] < scores[$1] } ?? endID
                tokens[row] = best
                if best == endID || step >= maxLengths[row] { finished[row] = true; continue }
                results[row].tokens.append(best)
                results[row].attention.append(attentionRow(result.weights, row: row, length: encoded.lengths[row]))
            }
            if !finished.contains(false) { break }
        }
        return results
    }

    func attentionRow(_ weights: Variable?, row: Int, length: Int) -> [Float] {
        guard let weights else { return [] }
        let width = weights.shape[1]
        return Array(weights.value.scalars[(row * width)..<(row * width + length)])
    }

    struct Hypothesis {
        var source: Int
        var tokens: [Int]
        var logProbability: Double
        var attention: [[Float]]
    }

    /// Beam search: `beamWidth` hypotheses per source, extended by their best tokens; a
    /// hypothesis that emits the end token is finished and ranked by log-probability / length^alpha.
    /// A source is done when it has `beamWidth` finished hypotheses or reaches its length limit.
    func beamSearch(_ encoded: Seq2SeqNetwork.Encoded, maxLengths: [Int], options: DecodingOptions) -> [Decoded] {
        let count = encoded.lengths.count, width = options.beamWidth, forbidden = forbiddenOutputs
        func normalized(_ h: Hypothesis, length: Int) -> Double {
            h.logProbability / pow(Double(max(length, 1)), options.lengthNormalization)
        }
        var finished = [[(hypothesis: Hypothesis, score: Double)]](repeating: [], count: count)
        var alive = (0..<count).map { Hypothesis(source: $0, tokens: [], logProbability: 0, attention: []) }
        var rows = encoded.gathering(Array(0..<count)), state = rows.state
        for step in 0... {
            if alive.isEmpty { break }
            let result = network.step(alive.map { $0.tokens.last ?? beginID }, state: state, encoded: rows)
            var candidates = [[(parent: Int, token: Int, logProbability: Double)]](repeating: [], count: count)
            for (row, hypothesis) in alive.enumerated() {
                let scores = logProbabilities(result.logits.value, row: row)
                let best = scores.indices.filter { !forbidden.contains($0) }.sorted { scores[$0] > scores[$1] }.prefix(width)
                for token in best {
                    candidates[hypothesis.source].append((row, token, hypothesis.logProbability + scores[token]))
                }
            }
            var next: [Hypothesis] = [], parents: [Int] = []
            for source in 0..<count where !candidates[source].isEmpty {
                var kept = 0
                for candidate in candidates[source].sorted(by: { $0.logProbability > $1.logProbability }) {
                    if kept == width || finished[source].count >= width { break }
                    let parent = alive[candidate.parent]
                    var extended = parent
                    extended.logProbability = candidate.logProbability
                    if candidate.token == endID || step >= maxLengths[source] {
                        // The end token counts in the length; a forced stop ends without it.
                        finished[source].append((extended, normalized(extended, length: parent.tokens.count + 1)))
                        continue
                    }
                    extended.tokens.append(candidate.token)
                    extended.attention.append(attentionRow(result.weights, row: candidate.parent, length: encoded.lengths[source]))
                    next.append(extended)
                    parents.append(candidate.parent)
                    kept += 1
                }
            }
            // Sources with enough finished hypotheses stop growing.
            let keep = next.indices.filter { finished[next[$0].source].count < width }
            alive = keep.map { next[$0] }
            let gathered = rows.gathering(keep.map { parents[$0] })
            rows = gathered
            state = result.state.gathering(keep.map { parents[$0] })
            rows.state = state
        }
        return (0..<count).map { source in
            guard let best = finished[source].max(by: { $0.score < $1.score })?.hypothesis else { return Decoded(tokens: [], attention: []) }
            return Decoded(tokens: best.tokens, attention: best.attention)
        }
    }
}
