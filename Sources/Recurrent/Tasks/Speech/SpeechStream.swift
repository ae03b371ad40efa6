import Foundation

/// Transcribes audio as it arrives: samples in (at the model's rate), the partial transcript
/// out. Features, the stacking of frames, the recurrent state and the decoder's hypotheses are
/// carried from one chunk to the next, so nothing is computed twice, and the final transcript
/// is the one `transcribe` gives for the whole clip.
///
/// Needs a unidirectional model with global feature normalisation (`isStreamable`): a
/// bidirectional layer, or per-utterance statistics, need the whole utterance first.
public final class SpeechStream {
    let recognizer: SpeechRecognizer
    var features: StreamingFilterbank
    var decoder: any SpeechFrameDecoder
    var state: RecurrentLayer.State? = nil
    /// Normalised frames not yet stacked into a whole step.
    var pending: [Float] = []
    public private(set) var samplesHeard = 0

    public init(_ recognizer: SpeechRecognizer, decoding: SpeechDecoding = SpeechDecoding()) throws {
        guard !recognizer.configuration.bidirectional else {
            throw RecurrentError.invalidArgument("a bidirectional model needs the whole utterance and cannot transcribe a stream; "
                + "train one with --unidirectional")
        }
        guard recognizer.configuration.resolvedNormalization == .global else {
            throw RecurrentError.invalidArgument("this model normalises each utterance by its own statistics, which a stream does not "
                + "have yet; train it with --normalization global")
        }
        self.recognizer = recognizer
        self.features = StreamingFilterbank(recognizer.filterbank)
        self.decoder = try recognizer.makeDecoder(decoding)
    }

    /// The best transcript so far.
    public var partialTranscript: String { recognizer.text(decoder.bestPartial) }

    /// Reads more samples (mono, at the model's rate, in [-1, 1]) and returns the partial
    /// transcript after them.
    @discardableResult
    public func push(_ samples: [Float]) throws -> String {
        samplesHeard += samples.count
        try advance(features.push(samples), final: false)
        return partialTranscript
    }

    /// Ends the stream: the last frames, a last partial step, the decoder's end; the transcript.
    public func finish() throws -> String {
        try advance(features.finish(), final: true)
        return recognizer.text(decoder.finish())
    }

    func advance(_ frames: Tensor, final: Bool) throws {
        var frames = frames
        if frames.count > 0 { recognizer.normalize(&frames) }
        pending += frames.scalars
        let stepWidth = recognizer.spec.filterbank.featureCount * recognizer.configuration.subsample
        if final, pending.count % stepWidth != 0 {
            pending += [Float](repeating: 0, count: stepWidth - pending.count % stepWidth)
        }
        let steps = pending.count / stepWidth
        guard steps > 0 else { return }
        let input = Tensor(shape: [1, steps, stepWidth], scalars: Array(pending.prefix(steps * stepWidth)))
        pending.removeFirst(steps * stepWidth)
        let scores = try GradientMode.withoutRecording { () throws -> Tensor in
            let result = try recognizer.recurrent.run(Variable(input), initialState: state)
            state = result.state
            return recognizer.output(result.output).value
        }
        decoder.consume(logProbabilities: scores.logSoftmaxRows(width: recognizer.classCount), frames: steps)
    }
}
