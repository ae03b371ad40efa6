import Foundation

/// One model's opinion of every hypothesis of an n-best list, and how much it counts.
public struct RerankingTerm: Sendable {
    public var weight: Double
    /// One score per hypothesis, in the list's order.
    public var scores: [Double]

    public init(weight: Double, scores: [Double]) {
        self.weight = weight
        self.scores = scores
    }
}

/// Reranks an n-best list: each hypothesis scores its own log-probability over
/// length^`lengthNormalization` (the end token counted), plus every term's weight times its
/// score for the hypothesis; best first. With an anti-language-model term (negative weight on
/// log p(T)) or a backward-model term (positive weight on log p(S|T)) this is the maximum
/// mutual information reranking of Li et al. (2016).
public func rerank(_ hypotheses: [Hypothesis], lengthNormalization: Double, terms: [RerankingTerm]) throws -> [Hypothesis] {
    for term in terms where term.scores.count != hypotheses.count {
        throw RecurrentError.shapeMismatch("reranking: \(term.scores.count) scores for \(hypotheses.count) hypotheses")
    }
    let rescored = hypotheses.enumerated().map { index, hypothesis -> Hypothesis in
        var rescored = hypothesis
        rescored.score = hypothesis.logProbability / pow(Double(hypothesis.tokens.count + 1), lengthNormalization)
            + terms.reduce(0) { $0 + $1.weight * $1.scores[index] }
        return rescored
    }
    // A stable order: equal scores keep the list's order.
    return rescored.enumerated().sorted { ($0.element.score, -$0.offset) > ($1.element.score, -$1.offset) }.map(\.element)
}
