import Foundation
import XCTest
@testable import Recurrent

/// A Markov chain as a decoder: the next token's logits depend on the previous token only.
/// Tokens: 0 begin, 1 end, 2... words. The state is the number of rows.
private struct MarkovDecoder: StepwiseDecoder {
    let logits: [[Float]]

    func step(_ tokens: [Int], state: Int) -> (logits: Tensor, state: Int, attention: Tensor?) {
        (Tensor(shape: [tokens.count, logits[0].count], scalars: tokens.flatMap { logits[$0] }), tokens.count, nil)
    }

    func selecting(_ state: Int, rows: [Int]) -> Int { rows.count }

    func logProbability(_ tokens: [Int], ended: Bool) -> Double {
        var previous = 0, total = 0.0
        for token in tokens + (ended ? [1] : []) {
            total += logSoftmax(logits[previous])[token]
            previous = token
        }
        return total
    }
}

final class ChatTests: ScratchDirectoryTestCase {
    private let vocabulary = DecodingVocabulary(beginID: 0, endID: 1, forbidden: [0])

    private func randomMarkov(tokens: Int, seed: UInt64) -> MarkovDecoder {
        var rng = SplitMix64(seed: seed)
        return MarkovDecoder(logits: (0..<tokens).map { _ in (0..<tokens).map { _ in rng.nextFloat() * 4 - 2 } })
    }

    /// Every output the search can finish with, by enumeration: words then the end token, up to
    /// `maxLength` words, and `maxLength` words stopped without it.
    private func exhaustive(_ decoder: MarkovDecoder, words: [Int], maxLength: Int, alpha: Double) -> [(tokens: [Int], score: Double)] {
        var prefixes: [[Int]] = [[]], all: [(tokens: [Int], score: Double)] = []
        for length in 0...maxLength {
            for prefix in prefixes {
                all.append((prefix, decoder.logProbability(prefix, ended: true) / pow(Double(length + 1), alpha)))
                if length == maxLength { all.append((prefix, decoder.logProbability(prefix, ended: false) / pow(Double(length), alpha))) }
            }
            prefixes = prefixes.flatMap { prefix in words.map { prefix + [$0] } }
        }
        return all.sorted { $0.score > $1.score }
    }

    func testWideBeamSearchFindsTheExhaustiveBestWithLengthNormalization() throws {
        for (seed, alpha) in [(UInt64(1), 0.0), (2, 1.0), (3, 0.7)] {
            let decoder = randomMarkov(tokens: 5, seed: seed)
            let search = SequenceSearch(decoder, vocabulary: vocabulary)
            let found = search.beam(from: 1, maxLengths: [3], options: BeamSearchOptions(beamWidth: 200, lengthNormalization: alpha))[0]
            let truth = exhaustive(decoder, words: [2, 3, 4], maxLength: 3, alpha: alpha)
            XCTAssertEqual(found.count, truth.count, "every output once (seed \(seed))")
            for (hypothesis, expected) in zip(found.prefix(10), truth.prefix(10)) {
                XCTAssertEqual(hypothesis.tokens, expected.tokens, "seed \(seed), alpha \(alpha)")
                XCTAssertEqual(hypothesis.score, expected.score, accuracy: 1e-9)
            }
            // A narrow beam finds no better output than the exhaustive best, and greedy is its first step.
            let narrow = search.beam(from: 1, maxLengths: [3], options: BeamSearchOptions(beamWidth: 2, lengthNormalization: alpha))[0]
            XCTAssertLessThanOrEqual(narrow[0].score, truth[0].score + 1e-12)
            let greedy = search.greedy(from: 1, maxLengths: [3])[0]
            XCTAssertEqual(greedy.logProbability, decoder.logProbability(greedy.tokens, ended: greedy.tokens.count < 3), accuracy: 1e-9)
        }
    }

    func testRepetitionPenaltyAndRerankingArithmetic() throws {
        var logits: [Float] = [2, -2, 1, 0.5]
        RepetitionPenalty(2).apply(to: &logits, previous: [0, 1, 1])
        XCTAssertEqual(logits, [1, -4, 1, 0.5], "positive scores divided, negative multiplied, each token once")

        let hypotheses = [Hypothesis(tokens: [5], logProbability: -2, score: 0), Hypothesis(tokens: [6, 7, 8], logProbability: -4, score: 0)]
        // Scores: -2/2 - 0.5 * (-1) = -0.5 and -4/4 - 0.5 * (-6) = 2: the longer, rarer reply wins.
        let reranked = try rerank(hypotheses, lengthNormalization: 1, terms: [RerankingTerm(weight: -0.5, scores: [-1, -6])])
        XCTAssertEqual(reranked.map(\.tokens), [[6, 7, 8], [5]])
        XCTAssertEqual(reranked.map(\.score), [2, -0.5])
        XCTAssertThrowsError(try rerank(hypotheses, lengthNormalization: 1, terms: [RerankingTerm(weight: 1, scores: [1])]))
    }

    func testSamplingIsSeededAndTinyTopPIsGreedy() throws {
        let decoder = randomMarkov(tokens: 8, seed: 9)
        let search = SequenceSearch(decoder, vocabulary: vocabulary)
        let limits = [Int](repeating: 6, count: 5)
        var rng = SplitMix64(seed: 4), again = SplitMix64(seed: 4), other = SplitMix64(seed: 5)
        let drawn = search.sample(from: 5, maxLengths: limits, sampling: SamplingOptions(temperature: 1.5), rng: &rng)
        XCTAssertEqual(drawn.map(\.tokens), search.sample(from: 5, maxLengths: limits, sampling: SamplingOptions(temperature: 1.5), rng: &again).map(\.tokens))
        XCTAssertNotEqual(drawn.map(\.tokens), search.sample(from: 5, maxLengths: limits, sampling: SamplingOptions(temperature: 1.5), rng: &other).map(\.tokens))
        for hypothesis in drawn {
            XCTAssertEqual(hypothesis.logProbability, decoder.logProbability(hypothesis.tokens, ended: hypothesis.tokens.count < 6), accuracy: 1e-9)
        }
        let nucleus = search.sample(from: 5, maxLengths: limits, sampling: SamplingOptions(topP: 1e-6), rng: &rng)
        XCTAssertEqual(nucleus.map(\.tokens), search.greedy(from: 5, maxLengths: limits).map(\.tokens))
    }

    /// A small chat model trained for a few steps on real conversations.
    private func tinyChatbot(steps: Int = 30) throws -> (Chatbot, Dialogue) {
        let dialogue = try Dialogue(paths: ["greetings.yml", "conversations.yml", "emotion.yml"].map { repositoryFile("Data/dialogue/chatterbot/" + $0) })
        var configuration = ChatConfiguration()
        configuration.hiddenSize = 16
        configuration.embeddingSize = 8
        configuration.maxTurnTokens = 12
        configuration.dropout = 0
        var options = TrainingOptions()
        options.epochs = 50
        options.maxSteps = steps
        options.batchSize = 16
        return (try Chatbot.train(dialogue, configuration: configuration, options: options).0, dialogue)
    }

    func testSearchScoresAgreeWithTeacherForcingAndMMIRerankingIsAsDefined() throws {
        let (chatbot, _) = try tinyChatbot(steps: 5)
        let context = chatbot.contextIDs(["hello", "how are you?"]).ids
        XCTAssertEqual(context.filter { $0 == chatbot.separatorID }.count, 1, "two turns, one separator")
        let lastTurn = chatbot.vocabulary.ids(chatbot.contextTurn("how are you?").tokens)
        var options = ReplyOptions()
        options.candidates = 4
        options.repetitionPenalty = RepetitionPenalty(1)
        let candidates = try chatbot.generate(contexts: [context], lastTurns: [lastTurn], options: options)[0]
        XCTAssertFalse(candidates.isEmpty)
        let ended = candidates.filter { $0.tokens.count < chatbot.configuration.maxTurnTokens }
        let forced = try chatbot.network.replies.logProbabilities(sources: ended.map { _ in context }, targets: ended.map(\.tokens),
                                                                   beginID: chatbot.beginID, endID: chatbot.endID)
        for (hypothesis, expected) in zip(ended, forced) {
            XCTAssertEqual(hypothesis.logProbability, expected, accuracy: 1e-3, "step by step and teacher forcing give one probability")
        }

        for reranking in [ReplyReranking.antiLM, .bidi] {
            options.reranking = reranking
            options.mmiWeight = 0.7
            let reranked = try chatbot.generate(contexts: [context], lastTurns: [lastTurn], options: options)[0]
            XCTAssertEqual(Set(reranked.map(\.tokens)), Set(candidates.map(\.tokens)), "reranking reorders the same candidates")
            let outputs = reranked.map(\.tokens)
            let opinion: [Double]
            if reranking == .antiLM {
                let language = try XCTUnwrap(chatbot.network.replyLanguageModel)
                opinion = try zip(language.logProbabilities(outputs, beginID: chatbot.beginID, endID: chatbot.endID), outputs).map {
                    -0.7 * $0 / Double($1.count + 1)
                }
            } else {
                let backward = try XCTUnwrap(chatbot.network.contexts)
                opinion = try backward.logProbabilities(sources: outputs, targets: outputs.map { _ in lastTurn },
                                                        beginID: chatbot.beginID, endID: chatbot.endID).map { 0.7 * $0 / Double(lastTurn.count + 1) }
            }
            for (hypothesis, term) in zip(reranked, opinion) {
                XCTAssertEqual(hypothesis.score, hypothesis.logProbability / Double(hypothesis.tokens.count + 1) + term, accuracy: 1e-6)
            }
            XCTAssertEqual(reranked.map(\.score), reranked.map(\.score).sorted(by: >), "best first")
        }
    }

    func testChatbotRepliesKeepsContextSavesAndLoads() throws {
        let (chatbot, dialogue) = try tinyChatbot()
        let heldOut = try chatbot.heldOutTest(dialogue)
        let training = try chatbot.heldOutPart(.train, of: dialogue)
        XCTAssertTrue(Set(heldOut.groups).isDisjoint(with: training.groups), "held-out conversations are not trained on")
        XCTAssertFalse(heldOut.conversations.isEmpty)

        let reply = try chatbot.reply(to: "Hello", context: ["Hi"])
        XCTAssertFalse(reply.candidates.isEmpty)
        XCTAssertEqual(reply.text, reply.candidates[0].text)
        XCTAssertEqual(reply.truncatedTurns, 0)
        let long = try chatbot.reply(to: Array(repeating: "word", count: 30).joined(separator: " "))
        XCTAssertEqual(long.truncatedTurns, 1, "a turn longer than the model reads is cut and counted")
        XCTAssertThrowsError(try chatbot.reply(to: "   ")) { XCTAssertTrue("\($0)".contains("the message is empty"), "\($0)") }

        var session = ChatSession(chatbot: chatbot)
        XCTAssertNil(try session.respond(to: ""), "an empty line is ignored")
        let first = try XCTUnwrap(try session.respond(to: "Hello"))
        XCTAssertEqual(session.turns, ["Hello"] + (first.text.isEmpty ? [] : [first.text]))
        _ = try session.respond(to: "How are you?")
        XCTAssertEqual(session.turns.filter { $0 == "How are you?" }.count, 1)

        let file = path("tiny-chat.model")
        try chatbot.save(to: file)
        let loaded = try Chatbot(contentsOf: file)
        XCTAssertEqual(try loaded.reply(to: "Hello", context: ["Hi"]).text, reply.text)
        let (score, samples) = try loaded.evaluate(heldOut)
        XCTAssertEqual(samples.count, score.exchanges)
        XCTAssertTrue((0...1).contains(score.distinct2) && (0...1).contains(score.bleu))
        XCTAssertGreaterThan(score.perplexity, 1)

        let other = path("dense.model")
        try Model(Dense(inputSize: 2, outputSize: 2)).save(to: other)
        XCTAssertThrowsError(try Chatbot(contentsOf: other)) { XCTAssertTrue("\($0)".contains("not a chat model"), "\($0)") }
    }

    func testDistinctNCountsUniqueNGrams() {
        let outputs = [["i", "do", "not", "know"], ["i", "do", "not", "know"], ["go", "away"]]
        XCTAssertEqual(Chatbot.distinct(outputs, n: 1), 6.0 / 10.0)
        XCTAssertEqual(Chatbot.distinct(outputs, n: 2), 4.0 / 7.0)
        XCTAssertEqual(Chatbot.distinct([["a"]], n: 2), 0)
    }
}
