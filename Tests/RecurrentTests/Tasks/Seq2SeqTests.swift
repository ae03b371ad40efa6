import Foundation
import XCTest
@testable import Recurrent

final class Seq2SeqTests: XCTestCase {
    // MARK: - Attention operations

    func testBatchedMatmulGradientsMatchFiniteDifferences() {
        var rng = SplitMix64(seed: 3)
        let a = Variable(.uniform(shape: [2, 3, 4], low: -1, high: 1, using: &rng), requiresGrad: true)
        let b = Variable(.uniform(shape: [2, 4, 5], low: -1, high: 1, using: &rng), requiresGrad: true)
        let bT = Variable(.uniform(shape: [2, 5, 4], low: -1, high: 1, using: &rng), requiresGrad: true)
        checkGradients(of: [a, b]) { a.batchedMatmul(b) }
        checkGradients(of: [a, bT]) { a.batchedMatmul(bT, transposeOther: true) }
    }

    func testBatchedMatmulMatchesPerEntryProducts() {
        var rng = SplitMix64(seed: 4)
        let a = Tensor.uniform(shape: [2, 3, 4], low: -1, high: 1, using: &rng)
        let b = Tensor.uniform(shape: [2, 5, 4], low: -1, high: 1, using: &rng)
        let product = Variable(a).batchedMatmul(Variable(b), transposeOther: true).value
        for entry in 0..<2 {
            let expected = a.gathering([entry]).reshaped([3, 4]).matmul(b.gathering([entry]).reshaped([5, 4]), transposeOther: true)
            assertClose(product.gathering([entry]).reshaped([3, 5]), expected, tolerance: 1e-6, "entry \(entry)")
        }
    }

    func testMaskedSoftmaxGivesPaddingZeroWeightAndGradient() {
        var rng = SplitMix64(seed: 5)
        let scores = Variable(.uniform(shape: [2, 3, 4], low: -2, high: 2, using: &rng), requiresGrad: true)
        let weights = scores.maskedSoftmax(validCounts: [4, 2]).value
        for row in 0..<3 {
            let first = weights.scalars[(row * 4)..<(row * 4 + 4)]
            XCTAssertEqual(first.reduce(0, +), 1, accuracy: 1e-6)
            let second = Array(weights.scalars[(12 + row * 4)..<(12 + row * 4 + 4)])
            XCTAssertEqual(second[0] + second[1], 1, accuracy: 1e-6)
            XCTAssertEqual(second[2], 0)
            XCTAssertEqual(second[3], 0)
        }
        checkGradients(of: [scores]) { scores.maskedSoftmax(validCounts: [4, 2]) }
        scores.grad = nil
        scores.maskedSoftmax(validCounts: [4, 2]).backward(seed: Tensor.uniform(shape: [2, 3, 4], low: -1, high: 1, using: &rng))
        for row in 0..<3 { XCTAssertEqual(scores.grad?.scalars[12 + row * 4 + 3], 0) }
    }

    func testAddingToEveryStepGradients() {
        var rng = SplitMix64(seed: 6)
        let keys = Variable(.uniform(shape: [2, 3, 4], low: -1, high: 1, using: &rng), requiresGrad: true)
        let query = Variable(.uniform(shape: [2, 4], low: -1, high: 1, using: &rng), requiresGrad: true)
        checkGradients(of: [keys, query]) { keys.addingToEveryStep(query).tanh() }
    }

    /// The whole network's loss (embeddings, encoder, attention, decoder, output) against finite
    /// differences, for every kind of attention and for the step-by-step path.
    func testNetworkLossGradientsMatchFiniteDifferences() throws {
        let pairs = EncodedPairs(sources: [[1, 2, 3], [2, 1]], targets: [[3, 4], [4, 3, 5]])
        for (attention, score, sampling) in [(AttentionKind.luong, LuongScore.general, false), (.luong, .dot, false),
                                             (.bahdanau, .general, false), (.none, .general, false)] {
            let translator = try tinyTranslator(attention: attention, score: score, cell: attention == .none ? .gru : .lstm)
            let network = translator.network
            let checked = [network.sourceEmbedding.weight, network.encoder.parameters[1], network.decoder.parameters[0],
                           network.output.weight] + (network.combine.map { [$0.weight] } ?? [])
                + (network.luongWeight.map { [$0.weight] } ?? []) + (network.bahdanauQuery.map { [$0.weight] } ?? [])
            // Sampling probability 1 feeds the argmax, which the tiny steps of finite differences leave unchanged.
            checkGradients(of: checked, tolerance: 4e-3) {
                var rng = SplitMix64(seed: 1)
                return try! translator.loss(pairs, indices: [0, 1], samplingProbability: sampling ? 1 : 0, rng: &rng)
            }
        }
    }

    func testStepByStepDecoderMatchesWholeSequenceDecoder() throws {
        let translator = try tinyTranslator(attention: .luong, score: .general, cell: .lstm)
        let pairs = EncodedPairs(sources: [[1, 2, 3], [2, 1]], targets: [[3, 4], [4, 3, 5]])
        var rng = SplitMix64(seed: 1)
        let whole = try translator.loss(pairs, indices: [0, 1], rng: &rng).value.scalar
        // Sampling probability > 0 takes the step path; a generator that never samples keeps the true tokens.
        var never = SplitMix64(seed: 1)
        let stepwise = try translator.loss(pairs, indices: [0, 1], samplingProbability: 1e-12, rng: &never).value.scalar
        XCTAssertEqual(whole, stepwise, accuracy: 1e-5)
    }

    func testDecodedAttentionIgnoresPaddingAndBeamOfOneIsGreedy() throws {
        let pairs = try cmudictSample(count: 300)
        var configuration = smallConfiguration()
        configuration.attention = .bahdanau
        configuration.learningRate = 1e-2
        var options = TrainingOptions()
        options.epochs = 5
        options.batchSize = 16
        let (translator, _) = try Translator.train(pairs: pairs, input: .cmudict(stress: .keep), configuration: configuration, options: options)
        let sources = ["cat", "abbreviation", "x"].map(translator.sourceIDs)
        let greedy = try translator.decode(sources, options: DecodingOptions(beamWidth: 1))
        let padded = translator.sourceBatch(sources)
        let beam = GradientMode.withoutRecording {
            translator.beamSearch(translator.network.encode(padded.values, lengths: padded.lengths),
                                  maxLengths: padded.lengths.map(DecodingOptions().maxLength), options: DecodingOptions(beamWidth: 1))
        }
        XCTAssertTrue(greedy.contains { !$0.tokens.isEmpty }, "the trained model writes something")
        for (index, source) in sources.enumerated() {
            XCTAssertEqual(greedy[index].tokens, beam[index].tokens, "source \(index)")
            for weights in greedy[index].attention {
                XCTAssertEqual(weights.count, source.count, "one weight per real source token")
                XCTAssertEqual(weights.reduce(0, +), 1, accuracy: 1e-5)
            }
        }
        // Wider beams find outputs at least as likely under the model's own ranking.
        XCTAssertEqual(try translator.decode(sources, options: DecodingOptions(beamWidth: 4)).count, 3)
    }

    func testEveryAttentionAndSamplingLearnsOnRealPairs() throws {
        let pairs = try cmudictSample(count: 300)
        for (attention, sampling) in [(AttentionKind.luong, 0.0), (.bahdanau, 0.0), (.none, 0.0), (.luong, 0.25)] {
            var configuration = smallConfiguration()
            configuration.attention = attention
            configuration.samplingProbability = sampling
            configuration.learningRate = 1e-2
            var options = TrainingOptions()
            options.epochs = 5
            options.batchSize = 16
            let (_, report) = try Translator.train(pairs: pairs, input: .cmudict(stress: .keep), configuration: configuration, options: options)
            let losses = report.history.trainLoss
            XCTAssertLessThan(losses.last ?? .infinity, 0.85 * (losses.first ?? 0), "\(attention) sampling \(sampling): \(losses)")
        }
    }

    // MARK: - Metrics

    func testEditDistanceKnownCases() {
        XCTAssertEqual(editDistance(Array("kitten"), Array("sitting")), 3)
        XCTAssertEqual(editDistance(Array("flaw"), Array("lawn")), 2)
        XCTAssertEqual(editDistance([String](), ["a", "b"]), 2)
        XCTAssertEqual(editDistance(["a", "b"], ["a", "b"]), 0)
    }

    func testCorpusBLEUAgainstHandCounts() {
        var score = Seq2SeqScore()
        score.add(output: "the cat sat on the mat".split(separator: " ").map(String.init),
                  references: ["the cat is on the mat".split(separator: " ").map(String.init)])
        score.add(output: ["a", "b", "c", "d", "e"], references: [["a", "b", "c", "d", "e"]])
        // Clipped matches over totals, summed over both pairs: 1-grams 5+5 of 6+5, 2-grams 3+4 of 5+4,
        // 3-grams 1+3 of 4+3, 4-grams 0+2 of 3+2; equal lengths, so no brevity penalty.
        XCTAssertEqual(score.bleu, pow(10.0 / 11 * 7 / 9 * 4 / 7 * 2 / 5, 0.25), accuracy: 1e-12)
        XCTAssertEqual(score.exactMatch, 0.5)
        XCTAssertEqual(score.tokenErrorRate, 1.0 / 11, accuracy: 1e-12)

        var short = Seq2SeqScore()
        short.add(output: ["a", "b", "c", "d"], references: [["a", "b", "c", "d", "e"]])
        XCTAssertEqual(short.bleu, exp(1 - 5.0 / 4), accuracy: 1e-12)
    }

    func testSeveralReferencesScoreAgainstTheClosest() {
        var score = Seq2SeqScore()
        score.add(output: ["T", "AH", "M", "EY", "T", "OW"], references: [["T", "AH", "M", "AA", "T", "OW"], ["T", "AH", "M", "EY", "T", "OW"]])
        score.add(output: ["R", "IY", "D"], references: [["R", "EH", "D"], ["R", "IY", "D", "Z", "Z"]])
        XCTAssertEqual(score.exactMatches, 1)
        XCTAssertEqual(score.edits, 1)
        XCTAssertEqual(score.referenceTokens, 9)
    }

    // MARK: - Reading pairs

    func testReadsCMUdictAlternativesCommentsAndStress() throws {
        let file = try temporaryFile("tomato T AH0 M EY1 T OW2\n# a comment line\n\nlonely # no phonemes\n")
        XCTAssertThrowsError(try Seq2SeqPairs(contentsOf: file, format: .cmudict)) { error in
            XCTAssertEqual("\(error)", "\(file): line 4, column 7: \"lonely\" has no phonemes")
        }
        let good = try temporaryFile("tomato T AH0 M EY1 T OW2\ntomato(2) T AH0 M AA1 T OW2 # british\n\nread R IY1 D\n")
        let pairs = try Seq2SeqPairs(contentsOf: good, format: .cmudict, stress: .drop)
        XCTAssertEqual(pairs.sources, ["tomato", "tomato", "read"])
        XCTAssertEqual(pairs.targets, ["T AH M EY T OW", "T AH M AA T OW", "R IY D"])
        XCTAssertEqual(pairs.lineNumbers, [1, 2, 4])
        XCTAssertEqual(pairs.groupedBySource().map(\.pairs), [[0, 1], [2]])
    }

    func testTSVErrorsNameTheLine() throws {
        let noTab = try temporaryFile("hello\tworld\nhola mundo\n")
        XCTAssertThrowsError(try Seq2SeqPairs(contentsOf: noTab, format: .tsv)) { error in
            XCTAssertEqual("\(error)", "\(noTab): line 2: no TAB between source and target (expected source<TAB>target)")
        }
        let emptyTarget = try temporaryFile("hello\tworld\nhola\t \n")
        XCTAssertThrowsError(try Seq2SeqPairs(contentsOf: emptyTarget, format: .tsv)) { error in
            XCTAssertEqual("\(error)", "\(emptyTarget): line 2, column 6: empty target")
        }
    }

    // MARK: - Helpers

    func smallConfiguration() -> Seq2SeqConfiguration {
        var c = Seq2SeqConfiguration()
        c.hiddenSize = 32
        c.embeddingSize = 16
        c.dropout = 0
        c.learningRate = 5e-3
        c.monitoredSources = 20
        return c
    }

    func tinyTranslator(attention: AttentionKind, score: LuongScore, cell: CellKind) throws -> Translator {
        var c = Seq2SeqConfiguration()
        c.hiddenSize = 4
        c.embeddingSize = 3
        c.numLayers = 2
        c.dropout = 0
        c.cell = cell
        c.attention = attention
        c.luongScore = score
        let spec = Seq2SeqSpec(configuration: c, input: .cmudict(stress: .keep),
                               sourceVocabulary: Vocabulary(tokens: ["<unk>", "a", "b", "c"]),
                               targetVocabulary: Vocabulary(tokens: ["<unk>", "<bos>", "<eos>", "X", "Y", "Z"]))
        return try Translator.make(spec: spec, seed: 7)
    }

    func cmudictSample(count: Int) throws -> Seq2SeqPairs {
        let all = try Seq2SeqPairs(contentsOf: repositoryFile("Data/cmudict/train.dict"), format: .cmudict)
        // Every 300th entry: words from the whole alphabet, not only those starting with "a".
        let picked = stride(from: 0, to: all.count, by: max(1, all.count / count)).prefix(count)
        return Seq2SeqPairs(path: all.path, sources: picked.map { all.sources[$0] }, targets: picked.map { all.targets[$0] },
                            lineNumbers: picked.map { all.lineNumbers[$0] })
    }

    func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("seq2seq-\(UUID().uuidString).txt").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}

/// A file of the repository, found from this source file's location.
func repositoryFile(_ relativePath: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(relativePath).path
}
