import Foundation
import XCTest
@testable import Recurrent

/// Every layer kind and task network exported, checked by onnx.checker (full check) and run in
/// ONNX Runtime against Recurrent's own outputs (within 1e-5), with variable lengths and states
/// fed in; a stream fed one step per call through the state inputs.
final class ONNXExportTests: ScratchDirectoryTestCase {
    func recurrent(_ cell: CellKind, layers: Int = 1, bidirectional: Bool = false, relu: Bool = false, resetAfter: Bool = true,
                   bias: Bool = true, output: RecurrentOutput = .sequence, seed: UInt64 = 1) -> RecurrentLayer {
        randomized(RecurrentLayer(RecurrentConfiguration(cell: cell, inputSize: 3, hiddenSize: 5, numLayers: layers,
                                                         bidirectional: bidirectional, nonlinearity: relu ? .relu : .tanh, bias: bias,
                                                         gruResetAfter: resetAfter, output: output)), seed: seed)
    }

    func testEveryRecurrentKindMatchesONNXRuntime() throws {
        try skipUnlessONNXRuntime()
        let layers: [(String, RecurrentLayer)] = [
            ("elman tanh", recurrent(.rnn)), ("elman relu, 2 layers", recurrent(.rnn, layers: 2, relu: true)),
            ("lstm", recurrent(.lstm)), ("lstm 2 layers bidirectional", recurrent(.lstm, layers: 2, bidirectional: true)),
            ("gru reset after", recurrent(.gru)), ("gru reset before", recurrent(.gru, resetAfter: false)),
            ("gru reset before, bidirectional, 2 layers", recurrent(.gru, layers: 2, bidirectional: true, resetAfter: false)),
            ("lstm without bias", recurrent(.lstm, layers: 2, bias: false)),
            ("elman bidirectional, last state", recurrent(.rnn, bidirectional: true, output: .lastState)),
        ]
        for (name, layer) in layers {
            for options in [ONNXExportOptions(opset: 17), ONNXExportOptions(opset: 14, batchFirst: true)] {
                let difference = try assertONNXRuntimeMatches(Model(layer), options: options, directory: workDirectory)
                print("ONNX export \(name), opset \(options.opset)\(options.batchFirst ? ", batch-first" : ""): largest difference \(difference)")
            }
        }
    }

    func testLayerStackWithDenseLayerNormAndDropout() throws {
        try skipUnlessONNXRuntime()
        let model = Sequential {
            Dense(inputSize: 3, outputSize: 4, seed: 1)
            LayerNorm(size: 4)
            RecurrentLayer(RecurrentConfiguration(cell: .gru, inputSize: 4, hiddenSize: 6, numLayers: 2, output: .sequence), seed: 2)
            Dropout(probability: 0.3)
            Dense(inputSize: 6, outputSize: 2, seed: 3)
        }
        try assertONNXRuntimeMatches(Model(randomized(model, seed: 4)), options: ONNXExportOptions(opset: 17, batchFirst: true),
                                     directory: workDirectory)
        XCTAssertThrowsError(try ONNXExport.graphs(Model(model), options: ONNXExportOptions(opset: 16))) { error in
            XCTAssertTrue("\(error)".contains("LayerNormalization, opset 17"), "\(error)")
        }
    }

    func testForecasterTakesFullWindowsWithoutLengths() throws {
        var configuration = ForecastConfiguration()
        configuration.hiddenSize = 5
        configuration.numLayers = 2
        configuration.window = 8
        configuration.horizon = 3
        var options = TrainingOptions()
        options.epochs = 1
        let series = (0..<80).map { 10 + sin(Double($0) / 3) + Double($0) * 0.05 }
        let (forecaster, _) = try Forecaster.train(series: series, configuration: configuration, options: options)
        let graph = try ONNXExport.graphs(forecaster.model)[0]
        XCTAssertEqual(graph.inputs.map(\.name), ["x", "initial_h", "initial_c"])
        XCTAssertEqual(graph.outputs.map(\.name), ["y", "Y_h", "Y_c"])
        XCTAssertEqual(graph.outputs[0].dims, ["batch", "3"])
        let proto = try Onnx_ModelProto(serializedBytes: graph.data)
        let scaler = try XCTUnwrap(proto.metadataProps.first { $0.key == "scaler" }?.value)
        XCTAssertEqual(try JSONDecoder().decode(Scaler.self, from: Data(scaler.utf8)), forecaster.scaler)
        try skipUnlessONNXRuntime()
        try assertONNXRuntimeMatches(forecaster.model, options: ONNXExportOptions(batchFirst: true), directory: workDirectory)
    }

    func testClassifiersOfEveryPooling() throws {
        try skipUnlessONNXRuntime()
        for (index, pooling) in Pooling.allCases.enumerated() {
            var configuration = ClassificationConfiguration()
            configuration.hiddenSize = 6
            configuration.embeddingSize = 4
            configuration.bidirectional = index != 1
            configuration.numLayers = 2
            configuration.pooling = pooling
            configuration.cell = [.lstm, .gru, .rnn][index]
            let vocabulary = Vocabulary(counting: ["a", "b", "c", "d", "a", "b"])
            let text = ClassifierSpec(configuration: configuration, input: .text(labelColumn: "label", textColumn: "text"),
                                      labels: ["x", "y", "z"], vocabulary: vocabulary, scaler: nil)
            let textModel = try Classifier.make(spec: text, seed: UInt64(index)).model
            try assertONNXRuntimeMatches(textModel, options: ONNXExportOptions(batchFirst: index == 2), directory: workDirectory)
            let numeric = ClassifierSpec(configuration: configuration, input: .features(labelColumn: "label", featuresPerStep: 3),
                                         labels: ["x", "y"], vocabulary: nil, scaler: nil)
            try assertONNXRuntimeMatches(try Classifier.make(spec: numeric, seed: 9).model, directory: workDirectory)
        }
    }

    func testClassifierMetadataCarriesTheVocabularyAndLabels() throws {
        let vocabulary = Vocabulary(counting: ["good", "bad", "film"])
        let spec = ClassifierSpec(configuration: ClassificationConfiguration(), input: .text(labelColumn: "label", textColumn: "text"),
                                  labels: ["fresh", "rotten"], vocabulary: vocabulary, scaler: nil)
        let model = try Classifier.make(spec: spec, seed: 0).model
        let proto = try Onnx_ModelProto(serializedBytes: try ONNXExport.graphs(model)[0].data)
        let properties = Dictionary(uniqueKeysWithValues: proto.metadataProps.map { ($0.key, $0.value) })
        let classifier = try JSONDecoder().decode(ClassifierSpec.self, from: Data((properties["classifier"] ?? "").utf8))
        XCTAssertEqual(classifier.labels, ["fresh", "rotten"])
        XCTAssertEqual(classifier.vocabulary, vocabulary)
        XCTAssertEqual(classifier.input.tokenizer, spec.input.tokenizer)
        XCTAssertEqual(properties["task"], "\"classify\"")
        XCTAssertEqual(proto.irVersion, 8)
        XCTAssertEqual(proto.opsetImport.map(\.version), [17])
        XCTAssertEqual(proto.graph.node.filter { $0.opType == "LSTM" }.count, 1)
    }

    func testLanguageModelWithTiedWeightsStoresTheTableOnce() throws {
        let network = randomized(LanguageModelNetwork(LanguageModelArchitecture(vocabularySize: 13, embeddingSize: 6, cell: .lstm,
                                                                                  hiddenSize: 6, numLayers: 2, tiedWeights: true)), seed: 3)
        let model = Model(network)
        let proto = try Onnx_ModelProto(serializedBytes: try ONNXExport.graphs(model)[0].data)
        XCTAssertEqual(proto.graph.initializer.filter { $0.dims == [13, 6] }.map(\.name), ["encoder.weight"])
        let readers = proto.graph.node.filter { $0.input.contains("encoder.weight") }.map(\.opType).sorted()
        XCTAssertEqual(readers, ["Gather", "Transpose"])
        try skipUnlessONNXRuntime()
        try assertONNXRuntimeMatches(model, directory: workDirectory)
        try assertONNXRuntimeMatches(model, options: ONNXExportOptions(opset: 15, batchFirst: true), directory: workDirectory)
    }

    func testSeq2SeqEncoderAndDecoderStepOfEveryAttention() throws {
        try skipUnlessONNXRuntime()
        for (index, attention) in AttentionKind.allCases.enumerated() {
            for score in attention == .luong ? LuongScore.allCases : [.general] {
                let architecture = Seq2SeqArchitecture(sourceVocabularySize: 9, targetVocabularySize: 7, embeddingSize: 4,
                                                       cell: [.lstm, .gru, .rnn][index], hiddenSize: 6, numLayers: 2,
                                                       bidirectionalEncoder: index != 2, attention: attention, luongScore: score)
                let model = Model(randomized(Seq2SeqNetwork(architecture), seed: UInt64(index)))
                let files = try ONNXExport.graphs(model).map(\.role)
                XCTAssertEqual(files, ["encoder", "decoder"])
                try assertONNXRuntimeMatches(model, options: ONNXExportOptions(batchFirst: index == 0), directory: workDirectory)
            }
        }
    }

    func testSpeechRecognizerGivesCTCLogProbabilities() throws {
        try skipUnlessONNXRuntime()
        var configuration = SpeechConfiguration()
        configuration.hiddenSize = 6
        configuration.numLayers = 2
        configuration.melBins = 5
        configuration.subsample = 2
        for bidirectional in [true, false] {
            configuration.bidirectional = bidirectional
            let recognizer = try SpeechRecognizer.untrained(configuration: configuration, alphabet: ["a", "b", " "], sampleRate: 8000, seed: 2)
            let graph = try ONNXExport.graphs(recognizer.model)[0]
            XCTAssertEqual(graph.inputs.map(\.name), ["x", "sequence_lens", "initial_h", "initial_c"])
            XCTAssertEqual(graph.outputs.map(\.name), ["logits", "log_probs", "Y_h", "Y_c"])
            XCTAssertEqual(graph.inputs[0].dims, ["sequence", "batch", "10"])
            try assertONNXRuntimeMatches(recognizer.model, directory: workDirectory)
        }
    }

    /// A stateless runtime streams: one step per call, Y_h/Y_c fed back as initial_h/initial_c,
    /// gives what the whole sequence gives at once.
    func testStreamingOneStepPerCallThroughTheStateInputs() throws {
        try skipUnlessONNXRuntime()
        let language = Model(randomized(LanguageModelNetwork(LanguageModelArchitecture(vocabularySize: 11, embeddingSize: 5, cell: .gru,
                                                                                         hiddenSize: 7, numLayers: 2)), seed: 5))
        let stack = Model(Sequential {
            recurrent(.lstm, layers: 2, seed: 6)
            randomized(Dense(inputSize: 5, outputSize: 2), seed: 7)
        })
        for model in [language, stack] {
            let path = self.path("stream.onnx")
            try ONNXExport.write(model, to: path)
            var inputs = try ONNXExport.sampleInputs(model, role: "model", batch: 2, time: 9, seed: 3)
            if inputs["sequence_lens"] != nil { inputs["sequence_lens"] = .int32(IntegerTensor([9, 9])) }
            let expected = try ONNXExport.referenceOutputs(model, role: "model", inputs: inputs)
            let streamed = try ONNXComparison.runInONNXRuntime(model: path, inputs: inputs, python: onnxPython, stream: true).outputs
            let difference = try ONNXComparison.largestDifference(expected: expected, actual: streamed)
            XCTAssertLessThanOrEqual(difference.relative, ONNXComparison.tolerance, "\(difference.output): \(difference.relative)")
        }
    }

    func testOpsetsOutsideTheSupportedRangeAreRefused() {
        for opset in [13, 18] {
            XCTAssertThrowsError(try ONNXExport.graphs(Model(recurrent(.lstm)), options: ONNXExportOptions(opset: opset))) { error in
                XCTAssertEqual("\(error)", "opset \(opset) is not supported; choose 14 to 17")
            }
        }
    }
}
