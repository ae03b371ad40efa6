import Foundation
import XCTest
@testable import Recurrent

/// `LanguageModelScorer`: a language model trained here briefly on Hamlet, read through the
/// CTC scorer protocol, against the model's own next-token distribution; and fusion with it.
final class CTCLanguageModelScorerTests: XCTestCase {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz' ")

    /// A 2-layer LSTM over lowercase characters, two short epochs on the start of Hamlet.
    nonisolated(unsafe) static let characterModel: Result<LanguageModel, Error> = Result {
        try trainModel(level: .char, cell: .lstm, layers: 2, characters: 24_000)
    }
    /// A 1-layer GRU over lowercase words (no cell state to carry).
    nonisolated(unsafe) static let wordModel: Result<LanguageModel, Error> = Result {
        try trainModel(level: .word, cell: .gru, layers: 1, characters: 24_000)
    }

    static func trainModel(level: Tokenizer.Level, cell: CellKind, layers: Int, characters: Int) throws -> LanguageModel {
        var configuration = LanguageModelConfiguration()
        configuration.tokenizer = Tokenizer(level: level, lowercase: true)
        configuration.cell = cell
        configuration.embeddingSize = 16
        configuration.hiddenSize = 32
        configuration.numLayers = layers
        configuration.sequenceLength = level == .word ? 16 : 32
        configuration.learningRate = 0.01
        var options = TrainingOptions()
        options.batchSize = 8
        options.epochs = 2
        return try LanguageModel.train(training: [try playExcerpt("hamlet", characters: characters)], validation: [],
                                       configuration: configuration, options: options).0
    }

    /// log_softmax of the model's scores after reading `ids` from a zero state, in Double.
    func modelLogProbabilities(_ model: LanguageModel, after ids: [Int]) -> [Double] {
        let logits = model.read(ids).logits.map(Double.init)
        let largest = logits.max() ?? 0
        let shift = largest + log(logits.map { exp($0 - largest) }.reduce(0, +))
        return logits.map { $0 - shift }
    }

    func label(_ character: Character, blank: Int = 0) throws -> Int {
        let index = try XCTUnwrap(Self.alphabet.firstIndex(of: character))
        return index < blank ? index : index + 1
    }

    /// Each character of a prompt scores what the model itself gives it after the start token
    /// and the characters before; finish adds the line break's; a batch of unrelated states
    /// gives what each gives alone.
    func testCharacterScorerEqualsTheModelsOwnNextTokenLogSoftmax() throws {
        let model = try Self.characterModel.get()
        let scorer = try LanguageModelScorer(model: model, alphabet: Self.alphabet, blank: 0)
        let prompt = "the king's men"
        let ids = [model.startID] + model.vocabulary.ids(model.tokenizer.tokenize(prompt))
        var state = scorer.initialState(), states = [state]
        for (index, character) in prompt.enumerated() {
            let result = try XCTUnwrap(scorer.extend([state], with: [label(character)]).first)
            let expected = modelLogProbabilities(model, after: Array(ids[0...index]))[ids[index + 1]]
            XCTAssertEqual(result.logProbability, expected, accuracy: 1e-5, "\"\(character)\" after \"\(prompt.prefix(index))\"")
            state = result.state
            states.append(state)
        }
        let endOfLine = modelLogProbabilities(model, after: ids)[model.vocabulary.id("\n")]
        XCTAssertEqual(scorer.finish(state), endOfLine, accuracy: 1e-5)
        XCTAssertLessThan(endOfLine, -0.01)

        // Several states at once, each with its own label, in one batch.
        let picks = [3, 0, 9, 5], labels = try ["g", "q", "m", " "].map { try label($0) }
        let batched = scorer.extend(picks.map { states[$0] }, with: labels)
        for (pick, (label, result)) in zip(picks, zip(labels, batched)) {
            let alone = try XCTUnwrap(scorer.extend([states[pick]], with: [label]).first)
            XCTAssertEqual(result.logProbability, alone.logProbability, accuracy: 1e-5)
            let expected = modelLogProbabilities(model, after: Array(ids[0...pick]))[model.vocabulary.id(String(Self.alphabet[label - 1]))]
            XCTAssertEqual(result.logProbability, expected, accuracy: 1e-5)
        }
    }

    /// "t", then "q" (0.55) or "h" (0.45), then "e": the acoustics say "tqe", the model says
    /// "the" by far more than the acoustic margin, and fusion follows the model.
    func testFusionWithTheCharacterModelFollowsTheModelOverASmallAcousticMargin() throws {
        let model = try Self.characterModel.get()
        let classes = Self.alphabet.count + 1
        var scores: [Float] = []
        for frame in [["t": 0.9], ["q": 0.55, "h": 0.45], ["e": 0.9]] as [[Character: Float]] {
            var row = [Float](repeating: log(1e-4), count: classes)
            row[0] = log(0.05)
            for (character, probability) in frame { row[try label(character)] = log(probability) }
            scores += row
        }
        func modelLogProbability(_ text: String) -> Double {
            let ids = [model.startID] + model.vocabulary.ids(model.tokenizer.tokenize(text)) + [model.vocabulary.id("\n")]
            return (1..<ids.count).map { modelLogProbabilities(model, after: Array(ids[0..<$0]))[ids[$0]] }.reduce(0, +)
        }
        XCTAssertGreaterThan(modelLogProbability("the") - modelLogProbability("tqe"), 2 * log(0.55 / 0.45),
                             "the trained model must prefer \"the\" clearly for this test to say anything")
        let alone = try CTCPrefixBeamSearch(classes: classes, blank: 0, beamWidth: 8)
        alone.consume(logProbabilities: scores, frames: 3)
        XCTAssertEqual(alone.finish(), try "tqe".map { try label($0) })
        let scorer = try model.prefixScorer(alphabet: Self.alphabet)
        let fused = try CTCPrefixBeamSearch(classes: classes, blank: 0, beamWidth: 8, scorer: scorer, lmWeight: 1)
        fused.consume(logProbabilities: scores, frames: 3)
        let best = try XCTUnwrap(fused.finishHypotheses().first)
        XCTAssertEqual(best.labels, try "the".map { try label($0) })
        XCTAssertEqual(best.languageModelLogProbability, modelLogProbability("the"), accuracy: 1e-4)
    }

    /// A word model (blank last here): letters cost nothing, a space scores the word they
    /// made, an unknown word scores the unknown token, finish scores the open word and the full
    /// stop after it.
    func testWordScorerScoresEachWordWhenASpaceEndsIt() throws {
        let model = try Self.wordModel.get()
        let blank = Self.alphabet.count
        let scorer = try LanguageModelScorer(model: model, alphabet: Self.alphabet, blank: blank)
        func read(_ text: String, from state: LanguageModelScorer.State) throws -> (LanguageModelScorer.State, [Double]) {
            var state = state, scores: [Double] = []
            for character in text {
                let result = try XCTUnwrap(scorer.extend([state], with: [label(character, blank: blank)]).first)
                (state, scores) = (result.state, scores + [result.logProbability])
            }
            return (state, scores)
        }
        let vocabulary = model.vocabulary
        XCTAssertTrue(vocabulary.contains("my") && vocabulary.contains("lord") && !vocabulary.contains("zzyzx"))
        let start = model.startID
        let (afterMy, myScores) = try read("my ", from: scorer.initialState())
        XCTAssertEqual(Array(myScores.prefix(2)), [0, 0])
        XCTAssertEqual(myScores[2], modelLogProbabilities(model, after: [start])[vocabulary.id("my")], accuracy: 1e-5)
        let (_, doubled) = try read(" ", from: afterMy)
        XCTAssertEqual(doubled, [0], "a second space ends no word")
        let (_, unknownScores) = try read("zzyzx ", from: afterMy)
        XCTAssertEqual(unknownScores.last ?? 0, modelLogProbabilities(model, after: [start, vocabulary.id("my")])[vocabulary.unknownID],
                       accuracy: 1e-5)
        let (open, _) = try read("lord", from: afterMy)
        let context = [start, vocabulary.id("my")]
        let expected = modelLogProbabilities(model, after: context)[vocabulary.id("lord")]
            + modelLogProbabilities(model, after: context + [vocabulary.id("lord")])[vocabulary.id(".")]
        XCTAssertEqual(scorer.finish(open), expected, accuracy: 1e-5)
    }

    func testScorersThatCannotReadTheAlphabetAreRefused() throws {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        let characterModel = try Self.characterModel.get(), wordModel = try Self.wordModel.get()
        XCTAssertEqual(message { _ = try LanguageModelScorer(model: wordModel, alphabet: Array("abc'")) },
                       "language model scorer: a word-level language model scores whole words, but no class of the alphabet is a space to end them")
        XCTAssertEqual(message { _ = try LanguageModelScorer(model: characterModel, alphabet: Array("¤§")) },
                       "language model scorer: the language model knows none of the alphabet's characters")
        XCTAssertEqual(message { _ = try LanguageModelScorer(model: characterModel, alphabet: Array("ab"), blank: 3) },
                       "language model scorer: blank = 3 is not a class in 0...2 for 2 characters")
        XCTAssertEqual(message { _ = try LanguageModelScorer(model: characterModel, characterOfClass: ["a", "b"]) },
                       "language model scorer: exactly one class must be the blank (no character), found 0")
        let bytes = LanguageModelNetwork(LanguageModelArchitecture(vocabularySize: 4, embeddingSize: 2, hiddenSize: 3))
        var byteConfiguration = LanguageModelConfiguration()
        byteConfiguration.tokenizer = Tokenizer(level: .byte)
        let byteModel = LanguageModel(model: Model(bytes), network: bytes, configuration: byteConfiguration,
                                      vocabulary: Vocabulary(tokens: [Vocabulary.unknown, "a", "b", "\n"]))
        XCTAssertEqual(message { _ = try LanguageModelScorer(model: byteModel, alphabet: Array("abé")) },
                       "language model scorer: the byte-level language model reads class 3 (\"é\") as 2 tokens; each class must be one token")
        XCTAssertEqual(message { _ = try LanguageModelScorer(model: byteModel, alphabet: Array("ab")) }, "no error")

        // A mapping that does not cover the search's classes, or puts the blank elsewhere.
        let scorer = try LanguageModelScorer(model: characterModel, alphabet: Self.alphabet)
        XCTAssertEqual(message { _ = try CTCPrefixBeamSearch(classes: Self.alphabet.count + 2, blank: 0, beamWidth: 4, scorer: scorer) },
                       "language model scorer: maps 29 classes, but the search has 30")
        XCTAssertEqual(message { _ = try CTCPrefixBeamSearch(classes: Self.alphabet.count + 1, blank: 28, beamWidth: 4, scorer: scorer) },
                       "language model scorer: the blank is class 0 in the scorer's mapping, but class 28 in the search")
        XCTAssertEqual(message { _ = try CTCPrefixBeamSearch(classes: Self.alphabet.count + 1, blank: 0, beamWidth: 4, scorer: scorer) },
                       "no error")
    }
}
