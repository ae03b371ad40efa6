import Foundation
import XCTest
@testable import Recurrent

/// Greedy decoding and prefix beam search: against hand-made cases and against the exact
/// labelling probabilities found by enumerating every alignment.
final class CTCDecodingTests: XCTestCase {
    /// Log-probabilities [T, C] that make `classes[t]` the best class at frame t.
    func peaked(_ classes: [Int], count C: Int) -> [Float] {
        classes.flatMap { best in (0..<C).map { $0 == best ? log(0.7) : log(0.3 / Float(C - 1)) } }
    }

    func testGreedyMergesRepeatsAndDropsBlanks() {
        // a a _ a b b _ b  ->  a a b b  (a blank separates equal labels; adjacent repeats merge)
        let frames = [1, 1, 0, 1, 2, 2, 0, 2]
        XCTAssertEqual(ctcGreedyDecode(logProbabilities: peaked(frames, count: 3), frames: 8, classes: 3, blank: 0), [1, 1, 2, 2])
        // The blank last: class 0 is a label.
        XCTAssertEqual(ctcGreedyDecode(logProbabilities: peaked([0, 0, 2, 0, 1, 2, 2], count: 3), frames: 7, classes: 3, blank: 2), [0, 0, 1])
        XCTAssertEqual(ctcGreedyDecode(logProbabilities: peaked([0, 0, 0], count: 3), frames: 3, classes: 3, blank: 0), [])
        // Only the frames the buffer holds are read.
        XCTAssertEqual(ctcGreedyDecode(logProbabilities: peaked([1, 2], count: 3), frames: 5, classes: 3, blank: 0), [1, 2])
        XCTAssertEqual(ctcGreedyDecode(logProbabilities: [], frames: 3, classes: 0, blank: 0), [])

        // Fed in pieces, a repeat split across two of them still merges.
        var decoder = CTCGreedyDecoder(classes: 3, blank: 0)
        let scores = peaked(frames, count: 3)
        decoder.consume(logProbabilities: Array(scores[0..<(5 * 3)]), frames: 5)
        XCTAssertEqual(decoder.labels, [1, 1, 2])
        decoder.consume(logProbabilities: Array(scores[(5 * 3)...]), frames: 3)
        XCTAssertEqual(decoder.labels, [1, 1, 2, 2])
        decoder.reset()
        decoder.consume(logProbabilities: peaked([2, 2], count: 3), frames: 2)
        XCTAssertEqual(decoder.labels, [2])
    }

    /// A beam wide enough to hold every prefix, without pruning, is exact: its best labelling is
    /// the most probable one, and each hypothesis's acoustic score is log p(labelling), the sum
    /// over every alignment of the T frames that collapses to it.
    func testWideBeamIsExactAgainstEveryAlignmentEnumerated() throws {
        for (seed, frames, classes, blank) in [(1, 5, 3, 0), (2, 6, 4, 0), (3, 5, 4, 3), (4, 4, 5, 2), (5, 6, 3, 1)] {
            let scores = randomLogProbabilities(frames: frames, classes: classes, seed: UInt64(seed), sharpness: 2)
            let exact = exactLabellingProbabilities(scores, frames: frames, classes: classes, blank: blank)
            let search = try CTCPrefixBeamSearch(classes: classes, blank: blank, beamWidth: 100_000, pruneBelowLogProbability: -.infinity)
            search.consume(logProbabilities: scores, frames: frames)
            let hypotheses = search.hypotheses
            XCTAssertEqual(hypotheses.count, exact.count, "seed \(seed): every labelling of non-zero probability is in the beam")
            for hypothesis in hypotheses {
                let want = try XCTUnwrap(exact[hypothesis.labels], "seed \(seed): \(hypothesis.labels)")
                XCTAssertEqual(hypothesis.acousticLogProbability, log(want), accuracy: 1e-9, "seed \(seed): \(hypothesis.labels)")
            }
            let best = try XCTUnwrap(exact.max { $0.value < $1.value }).key
            XCTAssertEqual(search.bestPartial, best, "seed \(seed)")
            XCTAssertEqual(search.finish(), best, "seed \(seed)")
            XCTAssertEqual(exact.values.reduce(0, +), 1, accuracy: 1e-6, "the enumeration covers every alignment (frames rounded to Float)")
        }
    }

    /// Frames fed in pieces of 1, 3 or 7 give the same beam, bit for bit, as all at once; and
    /// the best partial transcript after each piece is the one a search stopped there has.
    func testChunkedFeedingEqualsAllAtOnce() throws {
        let (frames, classes) = (40, 6)
        let scores = randomLogProbabilities(frames: frames, classes: classes, seed: 9, sharpness: 3)
        for scorer in [nil, FavouringScorer(preferred: 2)] as [FavouringScorer?] {
            func makeSearch() throws -> CTCPrefixBeamSearch {
                try CTCPrefixBeamSearch(classes: classes, blank: 0, beamWidth: 8, scorer: scorer, lmWeight: 0.7, wordBonus: 0.3, wordSeparator: 5)
            }
            let whole = try makeSearch()
            whole.consume(logProbabilities: scores, frames: frames)
            let expected = whole.finishHypotheses()
            XCTAssertGreaterThan(expected.count, 1)
            for chunk in [1, 3, 7] {
                let search = try makeSearch()
                var start = 0
                while start < frames {
                    let count = min(chunk, frames - start)
                    search.consume(logProbabilities: Array(scores[(start * classes)..<((start + count) * classes)]), frames: count)
                    start += count
                    let stopped = try makeSearch()
                    stopped.consume(logProbabilities: Array(scores[0..<(start * classes)]), frames: start)
                    XCTAssertEqual(search.bestPartial, stopped.bestPartial, "chunks of \(chunk), after \(start) frames")
                }
                XCTAssertEqual(search.framesConsumed, frames)
                XCTAssertEqual(search.finishHypotheses(), expected, "chunks of \(chunk)")
                XCTAssertEqual(search.framesConsumed, 0, "finish starts over")
            }
        }
    }

    /// Two transcripts the acoustics cannot tell apart: the scorer decides, in either direction,
    /// and only through a non-zero weight; its end-of-text term is added at finish.
    func testFusionBreaksAnAcousticTieTowardsTheScorersChoice() throws {
        let scores: [Float] = [log(0.2), log(0.4), log(0.4)]  // blank, a, b: "a" and "b" tie
        for preferred in [1, 2] {
            let scorer = FavouringScorer(preferred: preferred)
            let search = try CTCPrefixBeamSearch(classes: 3, blank: 0, beamWidth: 4, scorer: scorer, lmWeight: 1)
            search.consume(logProbabilities: scores, frames: 1)
            XCTAssertEqual(search.bestPartial, [preferred])
            let finished = search.finishHypotheses()
            XCTAssertEqual(finished.first?.labels, [preferred])
            XCTAssertEqual(finished.first?.languageModelLogProbability ?? 0, log(0.9) + scorer.endOfText, accuracy: 1e-12)
            XCTAssertGreaterThan(scorer.largestBatch, 1, "the labels of a frame are scored as one batch")
        }
        let unweighted = try CTCPrefixBeamSearch(classes: 3, blank: 0, beamWidth: 4, scorer: FavouringScorer(preferred: 2), lmWeight: 0)
        unweighted.consume(logProbabilities: scores, frames: 1)
        XCTAssertEqual(unweighted.finish(), [1], "without weight the tie keeps the lower label")

        // The end-of-text term alone can turn the result at finish.
        let ending = FavouringScorer(preferred: 1, endOfTextPenalty: 3)
        let search = try CTCPrefixBeamSearch(classes: 3, blank: 0, beamWidth: 4, scorer: ending, lmWeight: 1)
        search.consume(logProbabilities: [log(0.02), log(0.55), log(0.43)], frames: 1)
        XCTAssertEqual(search.bestPartial, [1])
        XCTAssertEqual(search.finish(), [2], "hypotheses ending in label 1 pay at the end")
    }

    /// blank, "a", " " over three frames: "a" (p = 0.324) beats "a a" (0.162) acoustically, but
    /// with a bonus above log 2 per word, the two words win.
    func testWordBonusFavoursMoreWords() throws {
        let scores: [Float] = [log(0.1), log(0.9), log(1e-30),
                               log(0.6), log(1e-30), log(0.4),
                               log(0.55), log(0.45), log(1e-30)]
        for (bonus, expected) in [(0.0, [1]), (1.0, [1, 2, 1]), (0.6, [1])] {
            let search = try CTCPrefixBeamSearch(classes: 3, blank: 0, beamWidth: 16, wordBonus: bonus, wordSeparator: 2,
                                                 pruneBelowLogProbability: -.infinity)
            search.consume(logProbabilities: scores, frames: 3)
            let finished = search.finishHypotheses()
            XCTAssertEqual(finished.first?.labels, expected, "bonus \(bonus)")
            XCTAssertEqual(finished.first { $0.labels == [1, 2, 1] }?.words, 2)
            XCTAssertEqual(finished.first { $0.labels == [1, 2] }?.words, 1)
        }
    }

    func testBadSearchSettingsThrow() {
        func message(_ make: () throws -> CTCPrefixBeamSearch) -> String {
            do { _ = try make(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message { try CTCPrefixBeamSearch(classes: 5, blank: 0, beamWidth: 0) },
                       "prefix beam search: the beam width must be at least 1, got 0")
        XCTAssertEqual(message { try CTCPrefixBeamSearch(classes: 5, blank: 5, beamWidth: 4) },
                       "prefix beam search: blank = 5 is not a class in 0..<5")
        XCTAssertEqual(message { try CTCPrefixBeamSearch(classes: 5, blank: 0, beamWidth: 4, wordSeparator: 0) },
                       "prefix beam search: the word separator 0 is not a label in 0..<5 other than the blank")
        XCTAssertEqual(message { try CTCPrefixBeamSearch(classes: 5, blank: 0, beamWidth: 4, lmWeight: .nan) },
                       "prefix beam search: the language model weight must be finite, got nan")
        XCTAssertEqual(message { try CTCPrefixBeamSearch(classes: 0, blank: 0, beamWidth: 4) },
                       "prefix beam search: classes = 0; at least 1 (the blank)")
        XCTAssertEqual(message { try CTCPrefixBeamSearch(classes: 5, blank: 0, beamWidth: 4, scorer: FavouringScorer(preferred: 1, covers: 4)) },
                       "the scorer reads 4 classes")
        // Scores shorter than the frames claimed: only whole rows are read.
        let search = try? CTCPrefixBeamSearch(classes: 3, blank: 0, beamWidth: 2)
        search?.consume(logProbabilities: [0, -9, -9, -9, 0], frames: 4)
        XCTAssertEqual(search?.framesConsumed, 1)
    }

    // MARK: - Helpers

    /// log_softmax of random logits (times `sharpness`), [frames, C].
    func randomLogProbabilities(frames: Int, classes: Int, seed: UInt64, sharpness: Float) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<frames).flatMap { _ -> [Float] in
            let logits = (0..<classes).map { _ in sharpness * Float.random(in: -1...1, using: &rng) }
            let shift = log(logits.map { exp(Double($0)) }.reduce(0, +))
            return logits.map { Float(Double($0) - shift) }
        }
    }

    /// p(labelling) for every labelling: each of the C^T alignments, collapsed, its probability added.
    func exactLabellingProbabilities(_ scores: [Float], frames: Int, classes: Int, blank: Int) -> [[Int]: Double] {
        var result: [[Int]: Double] = [:]
        var path = [Int](repeating: 0, count: frames)
        for index in 0..<Int(pow(Double(classes), Double(frames))) {
            var rest = index, logProbability = 0.0
            for t in 0..<frames {
                path[t] = rest % classes
                rest /= classes
                logProbability += Double(scores[t * classes + path[t]])
            }
            var labels: [Int] = []
            for t in 0..<frames where path[t] != blank && (t == 0 || path[t] != path[t - 1]) { labels.append(path[t]) }
            result[labels, default: 0] += exp(logProbability)
        }
        return result
    }
}

/// A scorer that gives one label probability 0.9 and every other 0.1, counts how many labels it
/// is asked at once, and can penalise hypotheses that end in its favourite at finish.
final class FavouringScorer: CTCPrefixScorer {
    let preferred: Int
    let endOfTextPenalty: Double
    let covers: Int?
    private(set) var largestBatch = 0
    var endOfText: Double { -0.05 }

    init(preferred: Int, endOfTextPenalty: Double = 0, covers: Int? = nil) {
        self.preferred = preferred
        self.endOfTextPenalty = endOfTextPenalty
        self.covers = covers
    }

    /// The last label read.
    func initialState() -> Int { -1 }

    func extend(_ states: [Int], with labels: [Int]) -> [(state: Int, logProbability: Double)] {
        largestBatch = max(largestBatch, labels.count)
        return labels.map { ($0, log($0 == preferred ? 0.9 : 0.1)) }
    }

    func finish(_ state: Int) -> Double { endOfText - (state == preferred ? endOfTextPenalty : 0) }

    func checkCovers(classes: Int, blank: Int) throws {
        if let covers, covers != classes { throw RecurrentError.invalidArgument("the scorer reads \(covers) classes") }
    }
}
