import Foundation

/// The Levenshtein distance between two token sequences: the fewest insertions, deletions and
/// substitutions that turn one into the other.
public func editDistance<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// Corpus figures of translations against references: exact matches, the token error rate
/// (edit distance over reference length, both summed over the corpus: the phoneme error rate
/// on CMUdict) and corpus BLEU-4 with the brevity penalty (Papineni et al., 2002: clipped n-gram
/// counts and lengths summed over the corpus, uniform weights, no smoothing).
///
/// A source with several references counts as exact when the output equals any of them, and is
/// otherwise scored (edits and BLEU) against the closest one: the fewest edits, then the
/// shortest.
public struct Seq2SeqScore: Codable, Equatable, Sendable {
    public var pairs = 0
    public var exactMatches = 0
    public var edits = 0
    public var referenceTokens = 0
    /// Clipped n-gram matches and n-gram counts of the outputs, n = 1...4.
    public var ngramMatches = [Int](repeating: 0, count: 4)
    public var ngramTotals = [Int](repeating: 0, count: 4)
    public var outputTokens = 0

    public init() {}

    /// Adds one source's output and its references (at least one).
    public mutating func add(output: [String], references: [[String]]) {
        guard let closest = references.min(by: {
            (editDistance(output, $0), $0.count) < (editDistance(output, $1), $1.count)
        }) else { return }
        // An output equal to a reference is 0 edits from it, so that reference is the closest.
        let reference = closest
        pairs += 1
        if output == reference { exactMatches += 1 }
        edits += editDistance(output, reference)
        referenceTokens += reference.count
        outputTokens += output.count
        for n in 1...4 {
            let outputCounts = ngramCounts(output, n), referenceCounts = ngramCounts(reference, n)
            ngramTotals[n - 1] += max(0, output.count - n + 1)
            ngramMatches[n - 1] += outputCounts.reduce(0) { $0 + min($1.value, referenceCounts[$1.key] ?? 0) }
        }
    }

    public var exactMatch: Double { pairs > 0 ? Double(exactMatches) / Double(pairs) : 0 }
    public var tokenErrorRate: Double { referenceTokens > 0 ? Double(edits) / Double(referenceTokens) : 0 }

    /// BP * exp(mean of log p_n), BP = exp(1 - r / c) when the outputs are shorter than the
    /// references; 0 when some order has no match.
    public var bleu: Double {
        guard outputTokens > 0, ngramMatches.allSatisfy({ $0 > 0 }) else { return 0 }
        let logPrecision = zip(ngramMatches, ngramTotals).map { log(Double($0) / Double($1)) }.reduce(0, +) / 4
        let brevity = outputTokens < referenceTokens ? exp(1 - Double(referenceTokens) / Double(outputTokens)) : 1
        return brevity * exp(logPrecision)
    }

    /// `{"pairs": N, "exact_match": .., "token_error_rate": .., "bleu": ..}` on one line.
    public var json: String {
        String(format: "{\"pairs\": %d, \"exact_match\": %.4f, \"token_error_rate\": %.4f, \"bleu\": %.4f}",
               pairs, exactMatch, tokenErrorRate, bleu)
    }

    private func ngramCounts(_ tokens: [String], _ n: Int) -> [[String]: Int] {
        guard tokens.count >= n else { return [:] }
        var counts: [[String]: Int] = [:]
        for start in 0...(tokens.count - n) { counts[Array(tokens[start..<(start + n)]), default: 0] += 1 }
        return counts
    }
}
