import Foundation
import XCTest
@testable import Recurrent

/// The bundled plays, from this checkout.
let shakespeareFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Data/shakespeare").path

/// The first `characters` characters of a bundled play.
func playExcerpt(_ name: String, characters: Int) throws -> String {
    String(try TextCorpus.readUTF8("\(shakespeareFolder)/\(name).txt").prefix(characters))
}

final class LanguageModelTests: XCTestCase {
    func testTiedWeightsShareOneVariableAndGetBothGradients() {
        let architecture = LanguageModelArchitecture(vocabularySize: 7, embeddingSize: 4, cell: .gru, hiddenSize: 4, tiedWeights: true)
        let network = LanguageModelNetwork(architecture, seed: 5)
        XCTAssertTrue(network.output.weight === network.embedding.weight)
        let names = network.namedParameters.map(\.name)
        XCTAssertEqual(names.filter { $0.hasSuffix(".weight") && !$0.hasPrefix("rnn.") }, ["encoder.weight"])
        XCTAssertFalse(names.contains("decoder.weight"))
        XCTAssertEqual(network.parameterCount, 7 * 4 + (12 * 4 + 12 * 4 + 24) + 7)
        // The tied table gets the embedding's and the output layer's gradients together.
        let ids = Variable(Tensor(shape: [2, 3], scalars: [1, 6, 2, 0, 3, 3]))
        checkGradients(of: network.parameters) { network(ids) }

        let untied = LanguageModelNetwork(LanguageModelArchitecture(vocabularySize: 7, embeddingSize: 3, hiddenSize: 4, tiedWeights: false))
        XCTAssertTrue(untied.namedParameters.map(\.name).contains("decoder.weight"))
        XCTAssertThrowsError(try LanguageModelArchitecture(vocabularySize: 7, embeddingSize: 3, hiddenSize: 4, tiedWeights: true).validate())
    }

    func testCarriedStateAcrossWindowsEqualsOneLongRun() {
        let network = LanguageModelNetwork(LanguageModelArchitecture(vocabularySize: 9, embeddingSize: 3, hiddenSize: 5, numLayers: 2), seed: 2)
        let ids: [Float] = [1, 4, 2, 8, 3, 3, 0, 7, 5, 6, 2, 1]
        let whole = network(Variable(Tensor(shape: [2, 6], scalars: ids))).value
        let first = network.run(Variable(Tensor(shape: [2, 4], scalars: Array(ids[0..<4]) + ids[6..<10])), state: nil)
        let second = network.run(Variable(Tensor(shape: [2, 2], scalars: Array(ids[4..<6]) + ids[10..<12])), state: first.state.detached())
        let width = 9
        for row in 0..<2 {
            let expected = Array(whole.scalars[(row * 6 + 4) * width..<(row * 6 + 6) * width])
            let carried = Array(second.logits.value.scalars[(row * 2) * width..<(row * 2 + 2) * width])
            for (a, b) in zip(expected, carried) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        }
    }

    func testStreamsContinueRowByRowAndPredictTheNextToken() {
        let streams = TokenStreams(ids: Array(0..<23), streams: 3, windowLength: 3)
        XCTAssertEqual(streams.rows, [Array(0..<7), Array(7..<14), Array(14..<21)])
        XCTAssertEqual(streams.windowCount, 2)
        let (inputs, targets) = streams.window(0)
        XCTAssertEqual(inputs.shape, [3, 3])
        XCTAssertEqual(inputs.scalars, [0, 1, 2, 7, 8, 9, 14, 15, 16])
        XCTAssertEqual(targets, [1, 2, 3, 8, 9, 10, 15, 16, 17])
        let last = streams.window(1)
        XCTAssertEqual(last.inputs.scalars, [3, 4, 5, 10, 11, 12, 17, 18, 19])
        XCTAssertEqual(last.targets, [4, 5, 6, 11, 12, 13, 18, 19, 20])
    }

    func testCoveringStreamsPredictEveryTokenButTheFirstOnce() {
        let streams = TokenStreams(covering: Array(0..<23), streams: 3, windowLength: 3)
        XCTAssertEqual(streams.rows, [Array(0...7), Array(7...14), Array(14...21)])
        XCTAssertEqual(streams.tail, [21, 22])
        XCTAssertEqual(streams.predictedCount, 22)
        let targets = (0..<streams.windowCount).flatMap { streams.window($0).targets } + streams.tail.dropFirst()
        XCTAssertEqual(targets.sorted(), Array(1..<23))
        let short = TokenStreams(covering: [4, 5], streams: 8, windowLength: 3)
        XCTAssertEqual(short.rows, [[4, 5]])
        XCTAssertEqual(short.predictedCount, 1)
    }

    /// `evaluate` against the network run once over each row's whole span (the last row's
    /// running on through the tail), with the log-softmax computed here in Double.
    func testEvaluationScoresEveryTokenAsEachRowInOnePiece() throws {
        var configuration = LanguageModelConfiguration()
        configuration.sequenceLength = 7
        let text = try playExcerpt("macbeth", characters: 400)
        let vocabulary = Vocabulary(counting: configuration.tokenizer.tokenize(text))
        let network = LanguageModelNetwork(LanguageModelArchitecture(vocabularySize: vocabulary.count, embeddingSize: 6, hiddenSize: 10,
                                                                     numLayers: 2), seed: 9)
        let model = LanguageModel(model: Model(network), network: network, configuration: configuration, vocabulary: vocabulary)
        let ids = vocabulary.ids(configuration.tokenizer.tokenize(text))
        for rows in [1, 3, 5] {
            let perRow = (ids.count - 1) / rows
            var total = 0.0
            for row in 0..<rows {
                let span = Array(ids[(row * perRow)...(row == rows - 1 ? ids.count - 1 : (row + 1) * perRow)])
                let logits = network(Variable(Tensor(shape: [1, span.count], scalars: span.map(Float.init)))).value.scalars
                for (step, target) in span.dropFirst().enumerated() {
                    let scores = logits[(step * vocabulary.count)..<((step + 1) * vocabulary.count)].map(Double.init)
                    let largest = scores.max() ?? 0
                    total -= scores[target] - largest - log(scores.reduce(0) { $0 + exp($1 - largest) })
                }
            }
            let evaluation = try model.evaluate(text, streams: rows)
            XCTAssertEqual(evaluation.tokens, ids.count - 1)
            XCTAssertEqual(evaluation.crossEntropy, total / Double(ids.count - 1), accuracy: 1e-5, "\(rows) rows")
        }
    }

    func testSamplingFollowsTemperatureTopKAndTopP() throws {
        let logits: [Float] = [2, 1, 0, -1]
        let plain = SamplingOptions().distribution(logits: logits)
        let expected = logits.map { exp(Double($0)) }
        let total = expected.reduce(0, +)
        for (p, e) in zip(plain, expected) { XCTAssertEqual(p, e / total, accuracy: 1e-12) }
        let cold = SamplingOptions(temperature: 0.5).distribution(logits: logits)
        XCTAssertEqual(cold[0] / cold[1], exp(2.0), accuracy: 1e-9)
        let topTwo = SamplingOptions(topK: 2).distribution(logits: logits)
        XCTAssertEqual(topTwo[2], 0); XCTAssertEqual(topTwo[3], 0)
        XCTAssertEqual(topTwo[0], exp(2.0) / (exp(2.0) + exp(1.0)), accuracy: 1e-12)
        // The nucleus of 0.7: the first token has 0.644, the first two 0.881.
        let nucleus = SamplingOptions(topP: 0.7).distribution(logits: logits)
        XCTAssertEqual(nucleus.filter { $0 > 0 }.count, 2)
        XCTAssertEqual(SamplingOptions().distribution(logits: logits, excluding: [0])[0], 0)

        var rng = SplitMix64(seed: 1)
        var counts = [0, 0, 0, 0]
        for _ in 0..<20_000 { counts[SamplingOptions().sample(logits: logits, using: &rng)] += 1 }
        for (count, p) in zip(counts, plain) { XCTAssertEqual(Double(count) / 20_000, p, accuracy: 0.015) }
        XCTAssertThrowsError(try SamplingOptions(temperature: 0).validate())
        XCTAssertThrowsError(try SamplingOptions(topP: 1.5).validate())
    }

    func testCorpusErrorsNameTheFileAndPosition() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try TextCorpus(paths: [folder.path])) { XCTAssertTrue("\($0)".contains("no .txt files"), "\($0)") }
        let bad = folder.appendingPathComponent("bad.txt")
        try Data("first line\nsecond é\u{0}".utf8 + [0xFF] + Data(" rest".utf8)).write(to: bad)
        XCTAssertThrowsError(try TextCorpus(paths: [folder.path])) {
            XCTAssertEqual("\($0)", "\(bad.path): line 2, column 10 (byte offset 21): byte 0xFF is not UTF-8; save the file as UTF-8")
        }
        try Data(" \n\n".utf8).write(to: bad)
        XCTAssertThrowsError(try TextCorpus(paths: [folder.path])) { XCTAssertTrue("\($0)".contains("the corpus is empty"), "\($0)") }
    }

    func testPlaysAreHeldOutWholeAndSpreadThroughTheNameOrder() throws {
        let corpus = TextCorpus(documents: (0..<20).map { TextCorpus.Document(path: "\($0)", text: "play \($0)") })
        let (training, validation) = try corpus.split(validationFraction: 0.1)
        XCTAssertEqual(validation, ["play 9", "play 19"])
        XCTAssertEqual(training.count, 18)
        let single = TextCorpus(documents: [.init(path: "one", text: (1...10).map(String.init).joined(separator: "\n"))])
        XCTAssertEqual(try single.split(validationFraction: 0.2).validation, ["9\n10"])
    }

    func testTrainsOnAPlayThenSavesLoadsGeneratesAndCompletes() throws {
        var configuration = LanguageModelConfiguration()
        configuration.embeddingSize = 16
        configuration.hiddenSize = 48
        configuration.numLayers = 1
        configuration.sequenceLength = 32
        configuration.learningRate = 0.01
        var options = TrainingOptions()
        options.batchSize = 8
        options.epochs = 2
        let training = try playExcerpt("hamlet", characters: 24_000), validation = try playExcerpt("macbeth", characters: 4_000)
        let (model, report) = try LanguageModel.train(training: [training], validation: [validation],
                                                      configuration: configuration, options: options)
        // Uniform guessing over the vocabulary costs log2(V) bits; two short epochs must beat it well.
        let uniformBits = log2(Double(model.vocabulary.count))
        let bits = try XCTUnwrap(report.validation?.bitsPerCharacter)
        XCTAssertLessThan(bits, uniformBits - 1, "validation \(bits) bits vs uniform \(uniformBits)")
        XCTAssertEqual(report.history.validationLoss.count, 2)
        XCTAssertEqual(report.validation?.tokens, validation.unicodeScalars.count - 1)
        XCTAssertEqual(report.stepLosses.count, report.history.steps)
        XCTAssertEqual(report.validations.map(\.step), [report.history.steps / 2, report.history.steps])
        XCTAssertEqual(report.validations.map(\.crossEntropy), report.history.validationLoss)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lm-\(UUID().uuidString).model").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.model.save(to: path)
        let loaded = try LanguageModel(contentsOf: path)
        XCTAssertEqual(try loaded.evaluate(validation).crossEntropy, try model.evaluate(validation).crossEntropy, accuracy: 1e-9)
        // The held-out text has characters Hamlet lacks? They count as unknown; evaluation goes on.
        XCTAssertNoThrow(try loaded.evaluate("Zzz ~~~ \u{1F600} to be"))

        var pieces: [String] = []
        let text = try loaded.generate(prompt: "To be", length: 40, sampling: SamplingOptions(temperature: 0.8), seed: 3) { pieces.append($0) }
        XCTAssertEqual(text.unicodeScalars.count, 40)
        XCTAssertEqual(pieces.joined(), text)
        XCTAssertEqual(try loaded.generate(prompt: "To be", length: 40, sampling: SamplingOptions(temperature: 0.8), seed: 3), text)
        XCTAssertThrowsError(try loaded.generate(prompt: "\u{1F600}\u{1F601}", length: 5))

        let completions = try loaded.complete("What is th", count: 3)
        XCTAssertEqual(completions.count, 3)
        XCTAssertTrue(completions.allSatisfy { $0.text.hasPrefix("th") && $0.text.count > 2 || $0.text == "th" }, "\(completions)")
        XCTAssertEqual(completions.map(\.probability), completions.map(\.probability).sorted(by: >))
        XCTAssertTrue(completions.allSatisfy { $0.probability > 0 && $0.probability <= 1 })
    }
}
