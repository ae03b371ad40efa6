import XCTest
@testable import Recurrent

final class LayerTests: XCTestCase {
    // MARK: Dense

    func testDenseInitializationFollowsPyTorch() {
        let dense = Dense(inputSize: 16, outputSize: 8, seed: 1)
        XCTAssertEqual(dense.weight.shape, [8, 16])
        XCTAssertEqual(dense.bias?.shape, [8])
        XCTAssertEqual(dense.namedParameters.map(\.name), ["weight", "bias"])
        // nn.Linear: kaiming_uniform(a = sqrt 5) is U(-1/sqrt(in), 1/sqrt(in)); the bias uses the same bound.
        XCTAssertLessThanOrEqual(dense.weight.value.maxAbs, 0.25)
        XCTAssertLessThanOrEqual(dense.bias?.value.maxAbs ?? 1, 0.25)
        XCTAssertGreaterThan(dense.weight.value.maxAbs, 0.2, "the values should fill the interval")
        XCTAssertEqual(Dense(inputSize: 16, outputSize: 8, seed: 1).weight.value, dense.weight.value)
        XCTAssertNotEqual(Dense(inputSize: 16, outputSize: 8, seed: 2).weight.value, dense.weight.value)
        let withoutBias = Dense(inputSize: 3, outputSize: 2, bias: false)
        XCTAssertEqual(withoutBias.namedParameters.map(\.name), ["weight"])
        XCTAssertEqual(withoutBias.spec, .dense(inputSize: 3, outputSize: 2, bias: false))
        XCTAssertEqual(dense.spec, .dense(inputSize: 16, outputSize: 8, bias: true))
        XCTAssertEqual(dense.parameterCount, 8 * 16 + 8)
    }

    func testDenseEqualsNaiveProductOnMatricesAndSequences() {
        let dense = Dense(inputSize: 5, outputSize: 3, seed: 3)
        for shape in [[4, 5], [2, 3, 5]] {
            let x = randomVariable(shape, seed: 4)
            let output = dense(x).value
            XCTAssertEqual(output.shape, Array(shape.dropLast()) + [3])
            for row in 0..<(x.value.count / 5) {
                for unit in 0..<3 {
                    var expected = dense.bias?.value.scalars[unit] ?? 0
                    for k in 0..<5 { expected += x.value.scalars[row * 5 + k] * dense.weight.value.scalars[unit * 5 + k] }
                    XCTAssertEqual(output.scalars[row * 3 + unit], expected, accuracy: 1e-5)
                }
            }
        }
    }

    func testDenseGradients() {
        let dense = Dense(inputSize: 4, outputSize: 3, seed: 5)
        let matrix = randomVariable([5, 4], seed: 6), sequence = randomVariable([2, 3, 4], seed: 7)
        checkGradients(of: [matrix] + dense.parameters) { dense(matrix) }
        checkGradients(of: [sequence] + dense.parameters) { dense(sequence) }
    }

    func testDenseValidatesInputWidth() {
        let dense = Dense(inputSize: 4, outputSize: 2)
        XCTAssertNoThrow(try dense.validate(Tensor(zeros: [3, 4])))
        XCTAssertThrowsError(try dense.validate(Tensor(zeros: [3, 5])))
    }

    // MARK: Embedding

    func testEmbeddingLooksUpRowsAndSumsGradientsOfRepeatedIds() throws {
        let embedding = Embedding(vocabularySize: 5, embeddingSize: 3, seed: 8)
        XCTAssertEqual(embedding.weight.shape, [5, 3])
        XCTAssertEqual(embedding.namedParameters.map(\.name), ["weight"])
        XCTAssertEqual(embedding.spec, .embedding(vocabularySize: 5, embeddingSize: 3))
        let ids: [[Int]] = [[1, 3, 1], [0, 1, 4]]
        let output = try embedding.lookup(ids)
        XCTAssertEqual(output.shape, [2, 3, 3])
        for (position, id) in ids.joined().enumerated() {
            XCTAssertEqual(Array(output.value.scalars[(position * 3)..<(position * 3 + 3)]),
                           Array(embedding.weight.value.scalars[(id * 3)..<(id * 3 + 3)]))
        }
        let idVariable = Variable(Tensor(shape: [2, 3], scalars: ids.joined().map(Float.init)))
        XCTAssertEqual(embedding(idVariable).value, output.value)
        XCTAssertEqual(try embedding.embed(idVariable).value, output.value)
        checkGradients(of: [embedding.weight]) { embedding(idVariable) }
        // Id 1 appears three times: its row collects three gradients; id 2 never appears.
        embedding.weight.grad = nil
        embedding(idVariable).sum().backward()
        let grad = embedding.weight.grad ?? Tensor(zeros: [0])
        XCTAssertEqual(Array(grad.scalars[3..<6]), [3, 3, 3])
        XCTAssertEqual(Array(grad.scalars[6..<9]), [0, 0, 0])
    }

    func testEmbeddingInitializationIsStandardNormal() {
        let table = Embedding(vocabularySize: 1000, embeddingSize: 20, seed: 9).weight.value.scalars
        let mean = table.reduce(0, +) / Float(table.count)
        let variance = table.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(table.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }

    func testEmbeddingRejectsInvalidIdsWithTheirPosition() {
        let embedding = Embedding(vocabularySize: 5, embeddingSize: 2)
        XCTAssertThrowsError(try embedding.lookup([[1, 2], [3, 7]])) { error in
            XCTAssertEqual(error as? RecurrentError,
                           .invalidArgument("token id 7 at [1, 1] is not in the vocabulary 0..<5"))
        }
        XCTAssertThrowsError(try embedding.lookup([[1, -1]]))
        XCTAssertThrowsError(try embedding.lookup([[1, 2], [3]])) { error in
            guard case .shapeMismatch = error as? RecurrentError else { return XCTFail("\(error)") }
        }
        for bad: Float in [5, -1, 2.5, .nan, .infinity] {
            let ids = Variable(Tensor(shape: [1, 3], scalars: [0, 1, bad]))
            XCTAssertThrowsError(try embedding.embed(ids)) { error in
                XCTAssertTrue("\(error)".contains("at [0, 2]"), "\(error)")
            }
        }
        XCTAssertNoThrow(try embedding.validate(Tensor(shape: [2, 2], scalars: [0, 4, 2, 3])))
        // A model starting with an embedding checks ids the same way.
        let model = Sequential { embedding; Dense(inputSize: 2, outputSize: 1) }
        XCTAssertThrowsError(try model.validate(Tensor(shape: [1, 1], scalars: [9])))
        XCTAssertNoThrow(try model.validate(Tensor(shape: [1, 1], scalars: [4])))
    }

    // MARK: Dropout

    func testDropoutPassesThroughInInference() {
        let dropout = Dropout(probability: 0.5, seed: 10)
        XCTAssertEqual(dropout.spec, .dropout(probability: 0.5))
        XCTAssertTrue(dropout.namedParameters.isEmpty)
        let x = randomVariable([4, 6], seed: 11)
        XCTAssertFalse(LearningPhase.isTraining)
        XCTAssertEqual(dropout(x).value, x.value)
    }

    func testDropoutInTrainingZeroesAndScalesByInverseKeepProbability() {
        let dropout = Dropout(probability: 0.25, seed: 12)
        let ones = Variable(Tensor(repeating: 1, shape: [100, 100]))
        let output = LearningPhase.training { dropout(ones) }.value
        XCTAssertTrue(output.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        let dropped = Float(output.scalars.filter { $0 == 0 }.count) / Float(output.count)
        XCTAssertEqual(dropped, 0.25, accuracy: 0.02)
        XCTAssertEqual(output.sum() / Float(output.count), 1, accuracy: 0.03, "the expectation is preserved")
        // The same seed gives the same masks; later calls draw new ones.
        let twin = Dropout(probability: 0.25, seed: 12)
        XCTAssertEqual(LearningPhase.training { twin(ones) }.value, output)
        XCTAssertNotEqual(LearningPhase.training { twin(ones) }.value, output)
        twin.reseed(12)
        XCTAssertEqual(LearningPhase.training { twin(ones) }.value, output)
        // p = 1 drops everything, p = 0 nothing.
        XCTAssertEqual(LearningPhase.training { Dropout(probability: 1)(ones) }.value.maxAbs, 0)
        XCTAssertEqual(LearningPhase.training { Dropout(probability: 0)(ones) }.value, ones.value)
    }

    func testDropoutGradientWithFixedMask() {
        let dropout = Dropout(probability: 0.4, seed: 13)
        let x = randomVariable([3, 5], seed: 14)
        checkGradients(of: [x]) {
            dropout.reseed(13)
            return LearningPhase.training { dropout(x) }
        }
    }

    // MARK: LayerNorm

    func testLayerNormNormalizesTheLastAxis() {
        let norm = LayerNorm(size: 6)
        XCTAssertEqual(norm.weight.value, Tensor(repeating: 1, shape: [6]))
        XCTAssertEqual(norm.bias.value, Tensor(zeros: [6]))
        XCTAssertEqual(norm.namedParameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(norm.spec, .layerNorm(size: 6, epsilon: 1e-5))
        let x = randomVariable([2, 3, 6], seed: 15, low: -2, high: 5)
        let output = norm(x).value
        for row in 0..<6 {
            let input = x.value.scalars[(row * 6)..<(row * 6 + 6)].map { Double($0) }
            let inputMean = input.reduce(0, +) / 6
            let inputVariance = input.map { ($0 - inputMean) * ($0 - inputMean) }.reduce(0, +) / 6
            let values = output.scalars[(row * 6)..<(row * 6 + 6)].map { Double($0) }
            let mean = values.reduce(0, +) / 6
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
            XCTAssertEqual(mean, 0, accuracy: 1e-6)
            // Biased variance plus epsilon in the denominator, as PyTorch computes it.
            XCTAssertEqual(variance, inputVariance / (inputVariance + 1e-5), accuracy: 1e-5)
        }
        // The affine part: y = xhat * weight + bias.
        norm.weight.value = Tensor(shape: [6], scalars: [1, 2, 3, -1, 0.5, 0])
        norm.bias.value = Tensor(shape: [6], scalars: [0, 1, -1, 2, 0, 3])
        let affine = norm(x).value
        for position in 0..<output.count {
            let unit = position % 6
            XCTAssertEqual(affine.scalars[position],
                           output.scalars[position] * norm.weight.value.scalars[unit] + norm.bias.value.scalars[unit],
                           accuracy: 1e-5)
        }
    }

    func testLayerNormGradients() {
        let norm = LayerNorm(size: 5)
        norm.weight.value = randomVariable([5], seed: 16, low: 0.5, high: 1.5).value
        norm.bias.value = randomVariable([5], seed: 17).value
        let x = randomVariable([2, 3, 5], seed: 18, low: -2, high: 2)
        checkGradients(of: [x, norm.weight, norm.bias]) { norm(x) }
    }

    // MARK: Sequential

    func testSequentialNamesParametersAsPyTorchAndForwardsInOrder() {
        let first = Dense(inputSize: 4, outputSize: 6, seed: 19)
        let norm = LayerNorm(size: 6)
        let last = Dense(inputSize: 6, outputSize: 2, seed: 20)
        let model = Sequential {
            first
            Dropout(probability: 0.5)
            norm
            last
        }
        XCTAssertEqual(model.namedParameters.map(\.name),
                       ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"])
        XCTAssertTrue(model.namedParameters[0].parameter === first.weight)
        XCTAssertEqual(model.spec, .sequential([
            .dense(inputSize: 4, outputSize: 6, bias: true), .dropout(probability: 0.5),
            .layerNorm(size: 6, epsilon: 1e-5), .dense(inputSize: 6, outputSize: 2, bias: true),
        ]))
        let x = randomVariable([3, 4], seed: 21)
        XCTAssertEqual(model(x).value, last(norm(first(x))).value)
        checkGradients(of: [x] + model.parameters) { model(x) }
        XCTAssertEqual(Sequential([first, norm]).namedParameters.map(\.name), ["0.weight", "0.bias", "1.weight", "1.bias"])
    }

    func testSequentialBuilderControlFlowNestingAndTiedWeights() {
        let addNorm = false
        let model = Sequential {
            Dense(inputSize: 3, outputSize: 3)
            if addNorm { LayerNorm(size: 3) } else { Dropout(probability: 0.1) }
            for _ in 0..<2 { Dense(inputSize: 3, outputSize: 3) }
            Sequential { Dense(inputSize: 3, outputSize: 1, bias: false) }
        }
        XCTAssertEqual(model.layers.count, 5)
        XCTAssertEqual(model.namedParameters.map(\.name),
                       ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias", "4.0.weight"])
        // A layer used twice shares its parameters: they are listed once, under the first name.
        let shared = Dense(inputSize: 3, outputSize: 3)
        let tied = Sequential { shared; Dense(inputSize: 3, outputSize: 3); shared }
        XCTAssertEqual(tied.namedParameters.map(\.name), ["0.weight", "0.bias", "1.weight", "1.bias"])
    }
}
