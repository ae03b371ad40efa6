import Foundation

/// One hypothesis of a prefix beam search, with the parts of its score.
public struct CTCHypothesis: Equatable, Sendable {
    public var labels: [Int]
    /// log p_ctc(labels | the frames read): every alignment of those frames that collapses to
    /// exactly these labels.
    public var acousticLogProbability: Double
    /// The scorer's log-probability of the labels (0 without a scorer; after `finish`, with its
    /// end-of-text term).
    public var languageModelLogProbability: Double
    /// The words counted for the bonus (see `CTCPrefixBeamSearch`).
    public var words: Int
    /// acoustic + lmWeight * language model + wordBonus * words: what the search ranks by.
    public var score: Double
}

/// Prefix beam search over CTC scores (Hannun et al. 2014; the form of Graves & Jaitly 2014
/// and DeepSpeech), in log space, fed frame by frame so that a stream can show its best
/// partial transcript as it grows.
///
/// Each prefix keeps two probabilities: of the frames read emitting it and ending in a blank,
/// and ending in its last label; a label equal to the last one extends the prefix only after a
/// blank, and otherwise merges into it. Every frame, each of the `beamWidth` best prefixes grows
/// by every label whose log-probability is at least `pruneBelowLogProbability` (the blank and the
/// repeat of the last label, which add no prefix, always count), and the `beamWidth` best survive.
///
/// Shallow fusion ranks by log p_ctc + lmWeight * log p_lm + wordBonus * words, the scorer
/// applied as labels are appended (a character model scores each label; a word model scores a
/// word when the separator completes it, or at `finish`). Words: with a `wordSeparator`, a word
/// counts when the separator follows a label other than itself, and the last word at `finish`;
/// without one, every label counts (a length bonus).
public final class CTCPrefixBeamSearch {
    public let classes: Int
    public let blank: Int
    public let beamWidth: Int
    public let lmWeight: Double
    public let wordBonus: Double
    public let wordSeparator: Int?
    public let pruneBelowLogProbability: Double
    private let scorer: PrefixScorerHandles?

    /// The prefixes as a tree: node 0 is the empty prefix, every other one its parent plus a label.
    private var nodes: [(parent: Int, label: Int)] = []
    /// The hypotheses, best first.
    private var beam: [Hypothesis] = []
    /// For each node, its position in the beam while a frame is read, -1 otherwise.
    private var beamPosition: [Int] = []
    /// Frames read since the start or the last `finish`.
    public private(set) var framesConsumed = 0

    struct Hypothesis {
        var node: Int
        /// log p(frames read emit the prefix, the last frame a blank), and ending in the prefix's last label.
        var blankEnding: Double
        var labelEnding: Double
        var lmLogProbability: Double
        var words: Int
        var scorerState: Int
        var acoustic: Double { CTCPrefixBeamSearch.logAddExp(blankEnding, labelEnding) }
    }

    /// - classes: C, the blank included; blank in 0..<C; beamWidth at least 1; wordSeparator a
    ///   label (not the blank). A scorer that cannot read every label throws here.
    public init(classes: Int, blank: Int, beamWidth: Int, scorer: (any CTCPrefixScorer)? = nil, lmWeight: Double = 0.5,
                wordBonus: Double = 0, wordSeparator: Int? = nil, pruneBelowLogProbability: Double = log(1e-3)) throws {
        guard classes >= 1 else { throw RecurrentError.invalidArgument("prefix beam search: classes = \(classes); at least 1 (the blank)") }
        guard (0..<classes).contains(blank) else {
            throw RecurrentError.invalidArgument("prefix beam search: blank = \(blank) is not a class in 0..<\(classes)")
        }
        guard beamWidth >= 1 else { throw RecurrentError.invalidArgument("prefix beam search: the beam width must be at least 1, got \(beamWidth)") }
        if let wordSeparator, wordSeparator == blank || !(0..<classes).contains(wordSeparator) {
            throw RecurrentError.invalidArgument("prefix beam search: the word separator \(wordSeparator) is not a label in 0..<\(classes) other than the blank")
        }
        for (value, name) in [(lmWeight, "language model weight"), (wordBonus, "word bonus")] where !value.isFinite {
            throw RecurrentError.invalidArgument("prefix beam search: the \(name) must be finite, got \(value)")
        }
        guard !pruneBelowLogProbability.isNaN else { throw RecurrentError.invalidArgument("prefix beam search: the pruning threshold is NaN") }
        try scorer?.checkCovers(classes: classes, blank: blank)
        (self.classes, self.blank, self.beamWidth) = (classes, blank, beamWidth)
        (self.lmWeight, self.wordBonus, self.wordSeparator) = (lmWeight, wordBonus, wordSeparator)
        self.pruneBelowLogProbability = pruneBelowLogProbability
        self.scorer = scorer.map { makePrefixScorerStore($0) }
        reset()
    }

    /// Forgets what was read: the next frame starts a new utterance.
    public func reset() {
        nodes = [(parent: -1, label: -1)]
        beamPosition = []
        let state = scorer?.initialState() ?? 0
        beam = [Hypothesis(node: 0, blankEnding: 0, labelEnding: -.infinity, lmLogProbability: 0, words: 0, scorerState: state)]
        scorer?.keepOnly([state])
        framesConsumed = 0
    }

    /// Reads `frames` rows of [frames, C] log-probabilities (at most as many as the buffer holds).
    public func consume(logProbabilities: UnsafeBufferPointer<Float>, frames: Int) {
        for t in 0..<max(0, min(frames, logProbabilities.count / classes)) {
            step(UnsafeBufferPointer(rebasing: logProbabilities[(t * classes)..<((t + 1) * classes)]))
            framesConsumed += 1
        }
        compactNodesIfLarge()
    }

    public func consume(logProbabilities: [Float], frames: Int) {
        logProbabilities.withUnsafeBufferPointer { consume(logProbabilities: $0, frames: frames) }
    }

    /// The best hypothesis so far (without the end-of-text score and the last word's bonus).
    public var bestPartial: [Int] { beam.first.map { labels(of: $0.node) } ?? [] }

    /// The beam, best first, as it stands (before the finishing terms).
    public var hypotheses: [CTCHypothesis] {
        beam.map { describe($0, lm: $0.lmLogProbability, words: $0.words) }
    }

    /// The best hypothesis after the end-of-text score and the final word bonus; then starts over.
    public func finish() -> [Int] {
        finishHypotheses().first?.labels ?? []
    }

    /// Every hypothesis of the beam with the finishing terms, best first; then starts over.
    public func finishHypotheses() -> [CTCHypothesis] {
        let finished = beam.map { hypothesis -> CTCHypothesis in
            let endOfText = scorer?.finish(hypothesis.scorerState) ?? 0
            let node = nodes[hypothesis.node]
            let endsInWord = wordSeparator.map { hypothesis.node != 0 && node.label != $0 } ?? false
            return describe(hypothesis, lm: hypothesis.lmLogProbability + endOfText, words: hypothesis.words + (endsInWord ? 1 : 0))
        }
        reset()
        return Self.ranking(finished.map(\.score)).map { finished[$0] }
    }

    // MARK: - One frame

    private func step(_ row: UnsafeBufferPointer<Float>) {
        let blankScore = Double(row[blank])
        // The surviving prefixes, their probabilities rebuilt from this frame.
        var next = beam.map { hypothesis -> Hypothesis in
            var copy = hypothesis
            copy.blankEnding = hypothesis.acoustic + blankScore
            copy.labelEnding = hypothesis.node == 0 ? -.infinity : hypothesis.labelEnding + Double(row[nodes[hypothesis.node].label])
            return copy
        }
        // A prefix already in the beam as parent + label gets that extension merged into it:
        // mergeInto[i C + label] is its position when its parent is at position i.
        var mergeInto = [Int](repeating: -1, count: beam.count * classes)
        beamPosition += [Int](repeating: -1, count: nodes.count - beamPosition.count)
        for (index, hypothesis) in beam.enumerated() { beamPosition[hypothesis.node] = index }
        for (index, hypothesis) in beam.enumerated() where hypothesis.node != 0 {
            let parentPosition = beamPosition[nodes[hypothesis.node].parent]
            if parentPosition >= 0 { mergeInto[parentPosition * classes + nodes[hypothesis.node].label] = index }
        }
        for hypothesis in beam { beamPosition[hypothesis.node] = -1 }
        var extensions: [(parent: Int, label: Int, logProbability: Double)] = []
        for (index, hypothesis) in beam.enumerated() {
            let last = hypothesis.node == 0 ? -1 : nodes[hypothesis.node].label
            for label in 0..<classes where label != blank {
                let score = Double(row[label])
                guard score >= pruneBelowLogProbability, score > -.infinity else { continue }
                // A repeat of the last label starts a new one only after a blank.
                let incoming = (label == last ? hypothesis.blankEnding : hypothesis.acoustic) + score
                guard incoming > -.infinity else { continue }  // no alignment reaches it (a repeat without a blank yet)
                let merged = mergeInto[index * classes + label]
                if merged >= 0 {
                    next[merged].labelEnding = Self.logAddExp(next[merged].labelEnding, incoming)
                } else {
                    extensions.append((index, label, incoming))
                }
            }
        }
        let lmScores = scorer?.extend(extensions.map { beam[$0.parent].scorerState }, with: extensions.map(\.label))
        let grown = extensions.enumerated().map { index, growth -> Hypothesis in
            let parent = beam[growth.parent]
            let lm = lmScores?[index] ?? (state: 0, logProbability: 0)
            return Hypothesis(node: -1 - index, blankEnding: -.infinity, labelEnding: growth.logProbability,
                              lmLogProbability: parent.lmLogProbability + lm.logProbability,
                              words: parent.words + (completesWord(parent.node, with: growth.label) ? 1 : 0), scorerState: lm.state)
        }
        let candidates = next + grown
        beam = Self.ranking(candidates.map(score(of:)), keeping: beamWidth).map { index in
            var kept = candidates[index]
            if kept.node < 0 {  // a new prefix: give it its node
                let growth = extensions[-1 - kept.node]
                nodes.append((parent: beam[growth.parent].node, label: growth.label))
                kept.node = nodes.count - 1
            }
            return kept
        }
        scorer?.keepOnly(Set(beam.map(\.scorerState)))
    }

    private func completesWord(_ node: Int, with label: Int) -> Bool {
        guard let wordSeparator else { return true }
        return label == wordSeparator && node != 0 && nodes[node].label != wordSeparator
    }

    private func score(of hypothesis: Hypothesis) -> Double {
        hypothesis.acoustic + lmWeight * hypothesis.lmLogProbability + wordBonus * Double(hypothesis.words)
    }

    private func describe(_ hypothesis: Hypothesis, lm: Double, words: Int) -> CTCHypothesis {
        CTCHypothesis(labels: labels(of: hypothesis.node), acousticLogProbability: hypothesis.acoustic,
                      languageModelLogProbability: lm, words: words,
                      score: hypothesis.acoustic + lmWeight * lm + wordBonus * Double(words))
    }

    private func labels(of node: Int) -> [Int] {
        var labels: [Int] = [], node = node
        while node > 0 {
            labels.append(nodes[node].label)
            node = nodes[node].parent
        }
        return labels.reversed()
    }

    /// The indices of the `limit` best `scores`, best first; equal scores keep their order (existing prefixes before new ones, parents in
    /// beam order, labels ascending), so the result never depends on the sort's whims. NaN
    /// ranks last.
    static func ranking(_ scores: [Double], keeping limit: Int = .max) -> [Int] {
        let keys = scores.map { $0.isNaN ? -.infinity : $0 }
        func precedes(_ a: Int, _ b: Int) -> Bool { keys[a] != keys[b] ? keys[a] > keys[b] : a < b }
        guard limit < keys.count / 4 else { return Array(keys.indices.sorted(by: precedes).prefix(limit)) }
        // A few of many: insertion into a short sorted list.
        var best: [Int] = []
        best.reserveCapacity(limit + 1)
        for index in keys.indices {
            if best.count == limit, let worst = best.last, !precedes(index, worst) { continue }
            var position = best.count
            while position > 0 && precedes(index, best[position - 1]) { position -= 1 }
            best.insert(index, at: position)
            if best.count > limit { best.removeLast() }
        }
        return best
    }

    /// Keeps the prefix tree to the beam's ancestors once it has grown large (a long stream adds
    /// up to beamWidth nodes a frame).
    private func compactNodesIfLarge() {
        guard nodes.count > 4096 + 64 * beamWidth else { return }
        var newIndex: [Int: Int] = [0: 0]
        var kept: [(parent: Int, label: Int)] = [(parent: -1, label: -1)]
        func index(of node: Int) -> Int {
            if let known = newIndex[node] { return known }
            // Ancestors first, without recursion (prefixes can be thousands of labels long).
            var chain: [Int] = [], current = node
            while newIndex[current] == nil { chain.append(current); current = nodes[current].parent }
            for old in chain.reversed() {
                kept.append((parent: newIndex[nodes[old].parent] ?? 0, label: nodes[old].label))
                newIndex[old] = kept.count - 1
            }
            return newIndex[node] ?? 0
        }
        for position in beam.indices { beam[position].node = index(of: beam[position].node) }
        nodes = kept
        beamPosition = []
    }

    static func logAddExp(_ a: Double, _ b: Double) -> Double {
        let high = max(a, b)
        guard high > -.infinity else { return high }
        return high + log1p(exp(min(a, b) - high))
    }
}
