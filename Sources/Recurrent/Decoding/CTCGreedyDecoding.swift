/// Best-path decoding of CTC scores: the most probable class at each frame (the first on
/// ties), repeats merged, blanks removed. `logProbabilities` holds `frames` rows of `classes`
/// scores, row-major [frames, C]; any monotone scores (logits, probabilities) give the same
/// result. Rows past the end of the buffer are not read: at most count / C frames are decoded.
public func ctcGreedyDecode(logProbabilities: UnsafeBufferPointer<Float>, frames: Int, classes: Int, blank: Int) -> [Int] {
    var decoder = CTCGreedyDecoder(classes: classes, blank: blank)
    decoder.consume(logProbabilities: logProbabilities, frames: frames)
    return decoder.labels
}

/// `ctcGreedyDecode` of an array of [frames, C] scores.
public func ctcGreedyDecode(logProbabilities: [Float], frames: Int, classes: Int, blank: Int) -> [Int] {
    logProbabilities.withUnsafeBufferPointer { ctcGreedyDecode(logProbabilities: $0, frames: frames, classes: classes, blank: blank) }
}

/// Best-path decoding fed frame by frame, for a stream: `labels` is the transcript so far, and
/// a repeat split across two chunks merges as it would in one.
public struct CTCGreedyDecoder: Sendable {
    public let classes: Int
    public let blank: Int
    /// The labels decoded so far.
    public private(set) var labels: [Int] = []
    /// The class of the last frame read (nil before the first): a label repeated from it merges.
    private var previous: Int?

    /// A decoder over `classes` classes (none when classes < 1) with the blank `blank`.
    public init(classes: Int, blank: Int) {
        self.classes = max(classes, 0)
        self.blank = blank
    }

    /// Reads `frames` rows of [frames, C] scores (at most as many as the buffer holds).
    public mutating func consume(logProbabilities: UnsafeBufferPointer<Float>, frames: Int) {
        guard classes > 0 else { return }
        for t in 0..<max(0, min(frames, logProbabilities.count / classes)) {
            let row = UnsafeBufferPointer(rebasing: logProbabilities[(t * classes)..<((t + 1) * classes)])
            let best = TrainingMath.argmax(row)
            if best != blank && best != previous { labels.append(best) }
            previous = best
        }
    }

    public mutating func consume(logProbabilities: [Float], frames: Int) {
        logProbabilities.withUnsafeBufferPointer { consume(logProbabilities: $0, frames: frames) }
    }

    /// Forgets what was read, for the next utterance.
    public mutating func reset() {
        labels = []
        previous = nil
    }
}
