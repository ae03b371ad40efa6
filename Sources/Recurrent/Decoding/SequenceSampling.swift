import Foundation

extension SequenceSearch {
    /// Draws one output per row of `start`: every next token from `sampling`'s distribution
    /// (temperature, top-k, top-p) over the scores after the repetition penalty, never a forbidden
    /// token, until the end token or the row's length limit. The same seed gives the same outputs.
    /// Each hypothesis's score is its log-probability under the model.
    public func sample(from start: Decoder.State, maxLengths: [Int], sampling: SamplingOptions,
                       repetitionPenalty: RepetitionPenalty = RepetitionPenalty(), rng: inout SplitMix64) -> [Hypothesis] {
        var results = maxLengths.map { _ in Hypothesis(tokens: [], logProbability: 0, score: 0) }
        // The rows still drawing, by input index, and the decoder state of exactly those rows.
        var drawing = maxLengths.indices.filter { maxLengths[$0] > 0 }
        var state = drawing.count == maxLengths.count ? start : decoder.selecting(start, rows: drawing)
        var previous = [Int](repeating: vocabulary.beginID, count: maxLengths.count)
        while !drawing.isEmpty {
            let result = decoder.step(drawing.map { previous[$0] }, state: state)
            var going: [Int] = [], rows: [Int] = []
            for (row, input) in drawing.enumerated() {
                var logits = logitRow(result.logits, row)
                let logProbabilities = logSoftmax(logits)
                repetitionPenalty.apply(to: &logits, previous: results[input].tokens)
                let token = sampling.sample(logits: logits, excluding: vocabulary.forbidden, using: &rng)
                results[input].logProbability += logProbabilities[token]
                if token == vocabulary.endID { continue }
                results[input].tokens.append(token)
                previous[input] = token
                guard results[input].tokens.count < maxLengths[input] else { continue }
                going.append(input)
                rows.append(row)
            }
            drawing = going
            state = decoder.selecting(result.state, rows: rows)
        }
        for index in results.indices { results[index].score = results[index].logProbability }
        return results
    }
}
