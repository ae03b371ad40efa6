import Foundation

/// How character scores become text: best path (beam 1), or a prefix beam search, optionally
/// fused with a language model trained by `recurrent text train` (shallow fusion: the
/// transcript's CTC log-probability + lmWeight x its language-model log-probability +
/// wordBonus x its number of words).
public struct SpeechDecoding {
    public var beamWidth: Int
    public var languageModel: LanguageModel?
    public var lmWeight: Double
    public var wordBonus: Double

    public init(beamWidth: Int = 1, languageModel: LanguageModel? = nil, lmWeight: Double = 0.5, wordBonus: Double = 0) {
        self.beamWidth = beamWidth
        self.languageModel = languageModel
        self.lmWeight = lmWeight
        self.wordBonus = wordBonus
    }

    public func validate() throws {
        guard beamWidth >= 1 else { throw RecurrentError.invalidArgument("the beam width must be at least 1, got \(beamWidth)") }
        guard lmWeight >= 0, lmWeight.isFinite, wordBonus.isFinite else {
            throw RecurrentError.invalidArgument("the LM weight must be 0 or more and the word bonus finite, got \(lmWeight) and \(wordBonus)")
        }
    }

    var isGreedy: Bool { beamWidth == 1 && languageModel == nil }
}

extension SpeechRecognizer {
    /// A decoder for one utterance at a time, fed frames as they come.
    func makeDecoder(_ decoding: SpeechDecoding) throws -> any SpeechFrameDecoder {
        try decoding.validate()
        if decoding.isGreedy { return CTCGreedyDecoder(classes: classCount, blank: Self.blank) }
        let scorer = try decoding.languageModel.map {
            try LanguageModelScorer(model: $0, alphabet: spec.alphabet.compactMap(\.first), blank: Self.blank)
        }
        let separator = spec.alphabet.firstIndex(of: " ").map { $0 + 1 }
        return try CTCPrefixBeamSearch(classes: classCount, blank: Self.blank, beamWidth: decoding.beamWidth, scorer: scorer,
                                       lmWeight: decoding.lmWeight, wordBonus: decoding.wordBonus, wordSeparator: separator)
    }

    /// The labels of one utterance's log-probabilities [frames, C].
    func decode(_ logProbabilities: [Float], frames: Int, decoding: SpeechDecoding) throws -> [Int] {
        var decoder = try makeDecoder(decoding)
        decoder.consume(logProbabilities: logProbabilities, frames: frames)
        return decoder.finish()
    }
}

/// Frames in, the best labels so far out: best path or a beam.
protocol SpeechFrameDecoder {
    mutating func consume(logProbabilities: [Float], frames: Int)
    var bestPartial: [Int] { get }
    mutating func finish() -> [Int]
}

extension CTCGreedyDecoder: SpeechFrameDecoder {
    var bestPartial: [Int] { labels }
    func finish() -> [Int] { labels }
}

extension CTCPrefixBeamSearch: SpeechFrameDecoder {}
