/// A filterbank fed audio as it arrives: emits exactly the rows (the same bits) that
/// `Filterbank.features` gives for the whole clip, each as soon as it is determined.
///
/// A frame's log-mels are known once its last sample has arrived; with deltas a row waits for
/// n = (deltaWindow - 1) / 2 more frames (2n with delta-deltas), and `finish()` gives the last
/// rows, whose regressions repeat the final frame. Memory stays bounded: only the samples of
/// the next frame and the rows the look-ahead still needs are kept.
public struct StreamingFilterbank: Sendable {
    public let filterbank: Filterbank
    /// Samples from the start of the next frame on.
    private var pending: [Float] = []
    /// Samples still to pass over before `pending` starts (when the shift is longer than a frame).
    private var skip = 0
    private var assembler: FeatureAssembler
    private var finished = false

    public init(_ filterbank: Filterbank) {
        self.filterbank = filterbank
        assembler = FeatureAssembler(filterbank.options)
    }

    /// Rows emitted so far.
    public var emittedFrames: Int { assembler.emitted }

    /// Takes the next samples (any number, at the filterbank's rate) and returns the rows now
    /// determined: [n, F], n >= 0. After `finish()` it takes nothing more and returns no rows.
    public mutating func push(_ samples: [Float]) -> Tensor {
        if finished { return Tensor(zeros: [0, filterbank.featureCount]) }
        pending += samples
        if skip > 0 {
            let skipped = min(skip, pending.count)
            pending.removeFirst(skipped)
            skip -= skipped
        }
        let frames = filterbank.frameCount(sampleCount: pending.count)
        var logMels = [Float](repeating: 0, count: frames * filterbank.options.melBins)
        pending.withUnsafeBufferPointer { input in
            logMels.withUnsafeMutableBufferPointer { output in
                filterbank.computeLogMels(input.baseAddress, frames: frames, into: output.baseAddress)
            }
        }
        let consumed = frames * filterbank.frameShift
        skip = max(0, consumed - pending.count)
        pending.removeFirst(min(pending.count, consumed))
        return emit(logMels, final: false)
    }

    /// Ends the clip: returns the rows still held back for the deltas' look-ahead. Samples
    /// that never filled a frame are dropped, as `features` drops them.
    public mutating func finish() -> Tensor {
        if finished { return Tensor(zeros: [0, filterbank.featureCount]) }
        finished = true
        pending = []
        return emit([], final: true)
    }

    private mutating func emit(_ logMels: [Float], final: Bool) -> Tensor {
        var rows: [Float] = []
        assembler.append(logMels, final: final, to: &rows)
        let width = filterbank.featureCount
        return Tensor(shape: [rows.count / width, width], scalars: rows)
    }
}
