import Foundation

/// A model that writes sequences a token at a time for many rows at once, each row a partial
/// output (a hypothesis of a beam, a sample being drawn): what greedy search, beam search and
/// sampling need of it. An encoder-decoder's decoder over an encoded batch is one.
public protocol StepwiseDecoder {
    associatedtype State
    /// Feeds each row its previous token: tokens [n] -> the scores of the next token [n, V]
    /// (logits), the state after, and for a model that attends to an input, each row's
    /// attention weights [n, S].
    func step(_ tokens: [Int], state: State) -> (logits: Tensor, state: State, attention: Tensor?)
    /// The state of `rows`, in that order (a row may repeat: hypotheses sharing a prefix).
    func selecting(_ state: State, rows: [Int]) -> State
}

/// A decoded sequence and what the search knows of it.
public struct Hypothesis: Codable, Sendable {
    /// The output tokens, without the begin and end tokens.
    public var tokens: [Int]
    /// The model's log-probability of the tokens and, when it ended by itself, of the end token
    /// (without any repetition penalty).
    public var logProbability: Double
    /// What the search ranked by: the penalized log-probability over length^alpha, or after
    /// reranking, the reranked score.
    public var score: Double
    /// For each output token, the attention weights over the input's tokens (empty without attention).
    public var attention: [[Float]]

    public init(tokens: [Int], logProbability: Double, score: Double, attention: [[Float]] = []) {
        self.tokens = tokens
        self.logProbability = logProbability
        self.score = score
        self.attention = attention
    }
}

/// The tokens that start and end every output, those it may never hold, and the penalty on
/// tokens it repeats.
public struct DecodingVocabulary: Sendable {
    public var beginID: Int
    public var endID: Int
    /// Never produced (the unknown and begin tokens, say).
    public var forbidden: Set<Int>

    public init(beginID: Int, endID: Int, forbidden: Set<Int>) {
        self.beginID = beginID
        self.endID = endID
        self.forbidden = forbidden
    }
}

/// The repetition penalty of Keskar et al. (2019, CTRL): the score of every token the output
/// already holds is divided by `penalty` when positive and multiplied by it when negative,
/// so that the token grows less likely. 1 changes nothing.
public struct RepetitionPenalty: Sendable, Equatable {
    public var penalty: Double

    public init(_ penalty: Double = 1) { self.penalty = penalty }

    public func validate() throws {
        guard penalty >= 1, penalty.isFinite else {
            throw RecurrentError.invalidArgument("the repetition penalty must be 1 (none) or more, got \(penalty)")
        }
    }

    /// Penalizes `logits` of the tokens in `previous`, in place.
    public func apply(to logits: inout [Float], previous: [Int]) {
        guard penalty != 1 else { return }
        let factor = Float(penalty)
        for token in Set(previous) where logits.indices.contains(token) {
            logits[token] = logits[token] > 0 ? logits[token] / factor : logits[token] * factor
        }
    }
}

/// Row `row` of logits [n, V].
func logitRow(_ logits: Tensor, _ row: Int) -> [Float] {
    let width = logits.shape[1]
    return Array(logits.scalars[(row * width)..<((row + 1) * width)])
}

/// log softmax of `scores`, in Double, computed around the maximum.
func logSoftmax(_ scores: [Float]) -> [Double] {
    let top = Double(scores.max() ?? 0)
    let logTotal = log(scores.reduce(0.0) { $0 + exp(Double($1) - top) }) + top
    return scores.map { Double($0) - logTotal }
}

/// The `count` indices with the largest values, best first (ties: the lower index), skipping `excluded`.
func topIndices(_ values: [Double], count: Int, excluding excluded: Set<Int>) -> [Int] {
    var best: [Int] = []
    best.reserveCapacity(count + 1)
    for index in values.indices where !excluded.contains(index) && !values[index].isNaN {
        if best.count == count, let last = best.last, values[index] <= values[last] { continue }
        let position = best.firstIndex { values[index] > values[$0] } ?? best.count
        best.insert(index, at: position)
        if best.count > count { best.removeLast() }
    }
    return best
}
