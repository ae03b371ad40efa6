import Foundation

/// How the next token is drawn from a model's scores: softmax(logits / temperature), then only
/// the `topK` most likely tokens and the smallest set whose probability reaches `topP` (nucleus
/// sampling), renormalized.
public struct SamplingOptions: Codable, Equatable, Sendable {
    /// Below 1 sharpens the distribution (more predictable text), above 1 flattens it.
    public var temperature: Double = 1
    public var topK: Int? = nil
    public var topP: Double? = nil

    public init(temperature: Double = 1, topK: Int? = nil, topP: Double? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    public func validate() throws {
        guard temperature > 0, temperature.isFinite else {
            throw RecurrentError.invalidArgument("the temperature must be positive, got \(temperature) (use a small value such as 0.1 for nearly greedy text)")
        }
        if let topK, topK < 1 { throw RecurrentError.invalidArgument("top-k must be at least 1, got \(topK)") }
        if let topP, !(topP > 0 && topP <= 1) { throw RecurrentError.invalidArgument("top-p must be in (0, 1], got \(topP)") }
    }

    /// The distribution sampling draws from: `probabilities[i]` for token i, zero outside the
    /// top-k and the nucleus, and for `excluded` tokens (the unknown token, say).
    public func distribution(logits: [Float], excluding excluded: Set<Int> = []) -> [Double] {
        var probabilities = softmax(logits.map { Double($0) / temperature }, excluding: excluded)
        let ranked = probabilities.indices.filter { probabilities[$0] > 0 }.sorted { probabilities[$0] > probabilities[$1] }
        var keep = ranked.count
        if let topK { keep = min(keep, topK) }
        if let topP {
            var mass = 0.0, needed = 0
            for index in ranked.prefix(keep) {
                mass += probabilities[index]
                needed += 1
                if mass >= topP { break }
            }
            keep = min(keep, needed)
        }
        for index in ranked.dropFirst(keep) { probabilities[index] = 0 }
        let total = probabilities.reduce(0, +)
        return total > 0 ? probabilities.map { $0 / total } : probabilities
    }

    /// Draws one token id.
    public func sample(logits: [Float], excluding excluded: Set<Int> = [], using rng: inout SplitMix64) -> Int {
        let probabilities = distribution(logits: logits, excluding: excluded)
        let draw = Double(rng.next() >> 11) / Double(1 << 53)
        var cumulative = 0.0
        for (index, probability) in probabilities.enumerated() where probability > 0 {
            cumulative += probability
            if draw < cumulative { return index }
        }
        // Rounding can leave the sum a hair under 1: the last possible token takes the rest.
        return probabilities.lastIndex { $0 > 0 } ?? 0
    }
}

/// softmax over `values`, computed around the maximum; excluded entries get probability 0.
func softmax(_ values: [Double], excluding excluded: Set<Int> = []) -> [Double] {
    let allowed = values.indices.filter { !excluded.contains($0) && !values[$0].isNaN }
    guard let maximum = allowed.map({ values[$0] }).max() else { return values.map { _ in 0 } }
    var result = [Double](repeating: 0, count: values.count)
    for index in allowed { result[index] = exp(values[index] - maximum) }
    let total = result.reduce(0, +)
    return result.map { $0 / total }
}
