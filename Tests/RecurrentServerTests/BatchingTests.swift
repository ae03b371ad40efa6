import Foundation
import XCTest
@testable import Recurrent

/// Dynamic batching must not change a single bit: every request of a batch gets what it gets
/// alone, whatever the rows, lengths and states of the others.
final class BatchingTests: XCTestCase {
    /// Requests of 1 to 9 rows, 1 to 12 steps, some with lengths and initial states.
    func requests(for runner: ModelRunner, ids vocabulary: Int? = nil, sameShape: Bool = false, count: Int = 7) -> [ModelRunner.Inputs] {
        var rng = SplitMix64(seed: 7)
        let recurrent = runner.recurrent
        let inputSize = runner.inputSignatures[0].shape.last ?? 1
        return (0..<count).map { index in
            let batch = sameShape ? 3 : [1, 4, 2, 9, 1, 3, 5][index % 7]
            let time = sameShape ? 6 : [5, 1, 12, 7, 3, 12, 2][index % 7]
            let x: Tensor
            if let vocabulary {
                x = Tensor(shape: [batch, time], scalars: (0..<(batch * time)).map { _ in Float(Int(rng.next() % UInt64(vocabulary))) })
            } else {
                x = .uniform(shape: [batch, time, inputSize], low: -2, high: 2, using: &rng)
            }
            var inputs = ModelRunner.Inputs(x: x)
            guard let recurrent, !sameShape else { return inputs }
            let c = recurrent.configuration
            if index % 3 == 1 { inputs.lengths = (0..<batch).map { 1 + ($0 * 5 + index) % time } }
            if index % 2 == 0 {
                let shape = [c.numLayers * c.directions, batch, c.hiddenSize]
                inputs.h0 = .uniform(shape: shape, low: -1, high: 1, using: &rng)
                if c.cell == .lstm && index % 4 == 0 { inputs.c0 = .uniform(shape: shape, low: -1, high: 1, using: &rng) }
            }
            return inputs
        }
    }

    func assertBatchedEqualsAlone(_ layer: any Layer, ids vocabulary: Int? = nil, sameShape: Bool = false, _ what: String,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let runner = ModelRunner(layer)
        let parts = requests(for: runner, ids: vocabulary, sameShape: sameShape)
        let alone = try parts.map { try runner.run($0) }
        let together = try runner.run(batch: parts)
        XCTAssertEqual(together.count, parts.count, what, file: file, line: line)
        for (index, (single, batched)) in zip(alone, together).enumerated() {
            XCTAssertEqual(single.keys.sorted(), batched.keys.sorted(), "\(what) request \(index)", file: file, line: line)
            for (name, tensor) in single {
                XCTAssertEqual(batched[name]?.shape, tensor.shape, "\(what) request \(index) \(name)", file: file, line: line)
                let same = batched[name]?.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern)
                XCTAssertTrue(same, "\(what) request \(index) \(name): batched bits differ from the request alone", file: file, line: line)
            }
        }
    }

    func testRecurrentStacksGiveTheSameBitsBatchedAsAlone() throws {
        for threads in [1, 2] {
            let saved = Parallel.threadCount
            Parallel.threadCount = threads
            defer { Parallel.threadCount = saved }
            try assertBatchedEqualsAlone(LSTM(inputSize: 3, hiddenSize: 20, numLayers: 2, returnSequences: true, seed: 1), "LSTM x2, \(threads) threads")
            try assertBatchedEqualsAlone(GRU(inputSize: 5, hiddenSize: 70, returnSequences: true, seed: 2), "GRU 70, \(threads) threads")
            try assertBatchedEqualsAlone(RNN(inputSize: 2, hiddenSize: 9, returnSequences: true, seed: 3), "Elman, \(threads) threads")
            try assertBatchedEqualsAlone(LSTM(inputSize: 4, hiddenSize: 6, bidirectional: true, returnSequences: true, seed: 4),
                                         "bidirectional LSTM, \(threads) threads")
            // 64 hidden units and 30+ rows: the kernels split the batch between threads.
            try assertBatchedEqualsAlone(LSTM(inputSize: 1, hiddenSize: 64, returnSequences: true, seed: 5), "LSTM 64, \(threads) threads")
        }
    }

    func testLanguageModelGivesTheSameBitsBatchedAsAlone() throws {
        let network = LanguageModelNetwork(LanguageModelArchitecture(vocabularySize: 40, embeddingSize: 8, hiddenSize: 16, numLayers: 2), seed: 3)
        try assertBatchedEqualsAlone(network, ids: 40, "language model")
    }

    func testModelsWithoutStateBatchRequestsOfOneShape() throws {
        let forecaster = Sequential {
            LSTM(inputSize: 1, hiddenSize: 32, seed: 1)
            Dense(inputSize: 32, outputSize: 3, seed: 2)
        }
        try assertBatchedEqualsAlone(forecaster, sameShape: true, "LSTM -> Dense")
        let classifier = Sequential {
            Embedding(vocabularySize: 30, embeddingSize: 8, seed: 1)
            LSTM(inputSize: 8, hiddenSize: 12, bidirectional: true, returnSequences: true, seed: 2)
            Dropout(probability: 0.3, seed: 3)
            Dense(inputSize: 24, outputSize: 4, seed: 4)
        }
        try assertBatchedEqualsAlone(classifier, ids: 30, sameShape: true, "Embedding -> LSTM -> Dense")
        let runner = ModelRunner(forecaster)
        XCTAssertEqual(runner.inputSignatures.map(\.shape), [[-1, -1, 1]])
        XCTAssertEqual(runner.outputSignatures.map(\.shape), [[-1, 3]])
        let short = ModelRunner.Inputs(x: Tensor(zeros: [1, 4, 1])), long = ModelRunner.Inputs(x: Tensor(zeros: [1, 5, 1]))
        XCTAssertFalse(runner.canBatch(short, with: long), "without lengths, padding would change y")
    }

    func testRunnerMatchesRecurrentRunForTheFixtures() throws {
        for name in ["lstm_2layer", "gru_variable_length_bidirectional", "rnn_relu"] {
            let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../RecurrentTests/Fixtures/torch").standardized
            let file = try SafeTensors.read(from: directory.appendingPathComponent("\(name).safetensors").path)
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("\(name).json"))) as? [String: Any] ?? [:]
            let layer = RecurrentLayer(try TorchImport.configuration(fromJSONFile: directory.appendingPathComponent("\(name).json").path))
            try layer.loadParameters(TorchImport.recurrentParameters(in: file.tensors).parameters, from: name)
            var inputs = SafeTensors(tensors: ["x": try XCTUnwrap(file.tensors["x"]), "h0": try XCTUnwrap(file.tensors["h0"])])
            if let c0 = file.tensors["c0"] { inputs.tensors["c0"] = c0 }
            if let lengths = config["lengths"] as? [Int] { inputs.integerTensors["lengths"] = IntegerTensor(lengths) }
            let expected = try TensorRunner.run(layer, inputs: inputs, source: name)
            let ran = try ModelRunner(layer).run(.init(x: inputs.tensors["x"]!, h0: inputs.tensors["h0"], c0: inputs.tensors["c0"],
                                                       lengths: inputs.integerTensors["lengths"]?.values))
            XCTAssertEqual(ran, expected, name)
        }
    }

    func testTextGenerationStreamGivesGeneratesPieces() throws {
        let corpus = String(repeating: "the cat sat on the mat. the dog sat on the log.\n", count: 20)
        var configuration = LanguageModelConfiguration()
        configuration.hiddenSize = 16
        configuration.embeddingSize = 8
        configuration.numLayers = 1
        configuration.sequenceLength = 10
        var options = TrainingOptions()
        options.batchSize = 4
        options.maxSteps = 5
        let (model, _) = try LanguageModel.train(training: [corpus], validation: [], configuration: configuration, options: options)
        let sampling = SamplingOptions(temperature: 0.9, topK: 10)
        var pieces: [String] = []
        let generated = try model.generate(prompt: "the ", length: 40, sampling: sampling, seed: 3) { pieces.append($0) }
        var stream = try TextGenerationStream(model, prompt: "the ", length: 40, sampling: sampling, seed: 3)
        var streamed: [String] = []
        while let piece = stream.next() { if !piece.isEmpty { streamed.append(piece) } }
        XCTAssertEqual(streamed, pieces)
        XCTAssertEqual(streamed.joined(), generated)
        XCTAssertEqual(streamed.count, 40, "a character model adds one piece per token")
    }
}
