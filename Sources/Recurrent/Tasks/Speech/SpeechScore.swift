import Foundation

/// Corpus error rates of transcripts against references: character and word edit distances,
/// each summed over the corpus and divided by the references' summed length (how CER and WER
/// are reported for LibriSpeech and Common Voice).
public struct SpeechScore: Codable, Equatable, Sendable {
    public var utterances = 0
    public var characterEdits = 0
    public var referenceCharacters = 0
    public var wordEdits = 0
    public var referenceWords = 0
    public var secondsOfAudio = 0.0

    public init() {}

    /// Adds one utterance; both texts are compared after `SpeechRecognizer.normalizedText`.
    public mutating func add(transcript: String, reference: String, seconds: Double = 0) {
        let (hypothesis, truth) = (SpeechRecognizer.normalizedText(transcript), SpeechRecognizer.normalizedText(reference))
        utterances += 1
        characterEdits += editDistance(Array(hypothesis), Array(truth))
        referenceCharacters += truth.count
        let (hypothesisWords, truthWords) = (hypothesis.split(separator: " "), truth.split(separator: " "))
        wordEdits += editDistance(hypothesisWords, truthWords)
        referenceWords += truthWords.count
        secondsOfAudio += seconds
    }

    public var characterErrorRate: Double { Double(characterEdits) / Double(max(referenceCharacters, 1)) }
    public var wordErrorRate: Double { Double(wordEdits) / Double(max(referenceWords, 1)) }

    /// `{"utterances": N, "cer": .., "wer": .., "seconds_of_audio": ..}`
    public var jsonLine: String {
        String(format: "{\"utterances\": %d, \"cer\": %.4f, \"wer\": %.4f, \"seconds_of_audio\": %.1f}",
               utterances, characterErrorRate, wordErrorRate, secondsOfAudio)
    }
}

extension SpeechRecognizer {
    /// CER and WER over a manifest. Audio the model cannot hear (not a WAV, silent, too short),
    /// and an utterance too short for its transcript under CTC, are errors naming the file and
    /// line: a figure that silently left utterances out would not compare with others.
    /// With a `communicator`, each process transcribes its share of the utterances.
    public func evaluate(_ manifest: SpeechManifest, decoding: SpeechDecoding = SpeechDecoding(),
                         communicator: (any Communicator)? = nil) throws -> (SpeechScore, [String]) {
        let set = try evaluationSet(manifest.utterances)
        for (index, utterance) in manifest.utterances.enumerated() {
            let steps = stackedLength(set.features[index].shape[0])
            let needed = labels(utterance.text).map(Self.minimumSteps) ?? Self.normalizedText(utterance.text).count
            guard needed <= steps else {
                throw RecurrentError.invalidFile(path: manifest.path,
                    reason: "line \(utterance.line): \(utterance.audioPath) is too short for its transcript under CTC "
                        + "(\(steps) steps after \(configuration.subsample)x subsampling, \(needed) needed)")
            }
        }
        let transcripts = try Communicators.mapInOrder(set.features, over: communicator) {
            try transcribe(features: Array($0), decoding: decoding)
        }
        var score = SpeechScore()
        for (transcript, reference) in zip(transcripts, set.references) { score.add(transcript: transcript, reference: reference) }
        score.secondsOfAudio = set.seconds
        return (score, transcripts)
    }
}
