import Foundation
import XCTest
@testable import Recurrent

/// Losses against PyTorch (Fixtures/training/losses.json, made by make_training_references.py)
/// and against finite differences.
final class LossTests: XCTestCase {
    struct LossCase: Decodable {
        let name: String
        let loss: String
        let reduction: String
        let prediction: TrainingTensorJSON
        let target: TrainingTensorJSON?
        let classes: [Int]?
        let mask: TrainingTensorJSON?
        let delta: Float?
        let ignoreIndex: Int?
        let classWeights: [Float]?
        let labelSmoothing: Float
        let posWeight: [Float]?
        let seed: TrainingTensorJSON
        let value: TrainingTensorJSON
        let gradient: TrainingTensorJSON
    }

    struct LossFile: Decodable { let cases: [LossCase] }

    /// The case through the loss functions.
    private func computeWithFunctions(_ c: LossCase, _ prediction: Variable) throws -> Variable {
        let reduction = try XCTUnwrap(LossReduction(rawValue: c.reduction))
        let mask = c.mask?.tensor
        switch c.loss {
        case "mse": return try meanSquaredError(prediction, XCTUnwrap(c.target).tensor, mask: mask, reduction: reduction)
        case "mae": return try meanAbsoluteError(prediction, XCTUnwrap(c.target).tensor, mask: mask, reduction: reduction)
        case "huber":
            return try huberLoss(prediction, XCTUnwrap(c.target).tensor, delta: XCTUnwrap(c.delta), mask: mask, reduction: reduction)
        case "cross_entropy":
            return try crossEntropy(
                logits: prediction, targets: XCTUnwrap(c.classes),
                classWeights: c.classWeights.map { Tensor(shape: [$0.count], scalars: $0) },
                ignoreIndex: c.ignoreIndex, mask: mask, labelSmoothing: c.labelSmoothing, reduction: reduction)
        case "bce_with_logits":
            return try binaryCrossEntropyWithLogits(
                prediction, XCTUnwrap(c.target).tensor, positiveWeight: c.posWeight.map { Tensor(shape: [$0.count], scalars: $0) },
                mask: mask, reduction: reduction)
        default:
            throw RecurrentError.invalidArgument("unknown loss \(c.loss) in the fixture")
        }
    }

    /// The case through the `Loss` enum, with cross-entropy targets given as a tensor of indices.
    private func computeWithEnum(_ c: LossCase, _ prediction: Variable) throws -> Variable {
        let reduction = try XCTUnwrap(LossReduction(rawValue: c.reduction))
        let loss: Loss
        switch c.loss {
        case "mse": loss = .meanSquaredError
        case "mae": loss = .meanAbsoluteError
        case "huber": loss = .huber(delta: try XCTUnwrap(c.delta))
        case "cross_entropy":
            loss = .crossEntropy(ignoreIndex: c.ignoreIndex, classWeights: c.classWeights, labelSmoothing: c.labelSmoothing)
            let classes = try XCTUnwrap(c.classes)
            let target = Tensor(shape: [classes.count], scalars: classes.map(Float.init))
            return try loss(prediction, target, mask: c.mask?.tensor, reduction: reduction)
        case "bce_with_logits": loss = .binaryCrossEntropy(positiveWeight: c.posWeight)
        default: throw RecurrentError.invalidArgument("unknown loss \(c.loss) in the fixture")
        }
        return try loss(prediction, try XCTUnwrap(c.target).tensor, mask: c.mask?.tensor, reduction: reduction)
    }

    private func checkAgainstPyTorch(_ compute: (LossCase, Variable) throws -> Variable) throws {
        let file = try TrainingFixtures.load("losses", as: LossFile.self)
        XCTAssertEqual(file.cases.count, 28)
        for c in file.cases {
            let prediction = Variable(c.prediction.tensor, requiresGrad: true)
            let loss = try compute(c, prediction)
            XCTAssertEqual(loss.shape, c.value.shape, c.name)
            assertTrainingClose(loss.value.scalars, c.value.values, "\(c.name) value")
            loss.backward(seed: c.seed.tensor)
            let gradient = try XCTUnwrap(prediction.grad, c.name)
            assertTrainingClose(gradient.scalars, c.gradient.values, "\(c.name) gradient")
        }
    }

    func testLossFunctionsMatchPyTorch() throws { try checkAgainstPyTorch(computeWithFunctions) }

    func testLossEnumMatchesPyTorch() throws { try checkAgainstPyTorch(computeWithEnum) }

    // MARK: - Finite differences

    private var rng = SplitMix64(seed: 2024)

    private func randomTensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor.normal(shape: shape, std: scale, using: &rng)
    }

    func testRegressionLossGradientsByFiniteDifferences() throws {
        let target = randomTensor([3, 4, 2])
        // Differences kept away from the kinks of |d| (at 0) and of Huber (at +-delta).
        let offsets = randomTensor([3, 4, 2]).map { $0 >= 0 ? 0.3 + $0 : -0.3 + $0 }
        let prediction = Variable(target + offsets, requiresGrad: true)
        let stepMask = Tensor(shape: [3, 4], scalars: [1, 1, 0, 1, 0.5, 1, 1, 0, 1, 1, 1, 2])
        for reduction in [LossReduction.mean, .sum, .none] {
            for mask in [nil, stepMask] {
                checkGradients(of: [prediction]) { lossOrFail { try meanSquaredError(prediction, target, mask: mask, reduction: reduction) } }
                checkGradients(of: [prediction]) { lossOrFail { try meanAbsoluteError(prediction, target, mask: mask, reduction: reduction) } }
            }
        }
        let differences = offsets.scalars.map(abs)
        let delta: Float = 0.9
        XCTAssertTrue(differences.allSatisfy { abs($0 - delta) > 0.02 }, "a difference sits on Huber's kink")
        XCTAssertTrue(differences.contains { $0 < delta } && differences.contains { $0 > delta })
        for reduction in [LossReduction.mean, .sum, .none] {
            checkGradients(of: [prediction]) { lossOrFail { try huberLoss(prediction, target, delta: delta, mask: stepMask, reduction: reduction) } }
        }
    }

    func testCrossEntropyGradientsByFiniteDifferences() throws {
        let logits = Variable(randomTensor([2, 4, 5], scale: 2), requiresGrad: true)
        let targets = [0, 4, -1, 2, 3, -1, 1, 1]
        let weights = Tensor(shape: [5], scalars: [0.5, 2, 1, 0.25, 3])
        let mask = Tensor(shape: [2, 4], scalars: [1, 1, 1, 0, 0.5, 1, 2, 1])
        for reduction in [LossReduction.mean, .sum, .none] {
            for smoothing: Float in [0, 0.15] {
                for classWeights in [nil, weights] {
                    for rowMask in [nil, mask] {
                        checkGradients(of: [logits]) {
                            lossOrFail {
                                try crossEntropy(logits: logits, targets: targets, classWeights: classWeights, ignoreIndex: -1,
                                                 mask: rowMask, labelSmoothing: smoothing, reduction: reduction)
                            }
                        }
                    }
                }
            }
        }
    }

    func testBinaryCrossEntropyGradientsByFiniteDifferences() throws {
        let logits = Variable(randomTensor([3, 2, 4], scale: 2), requiresGrad: true)
        let target = Tensor(shape: [3, 2, 4], scalars: (0..<24).map { _ in rng.nextFloat() })
        let positiveWeight = Tensor(shape: [4], scalars: [0.5, 1, 2, 4])
        let mask = Tensor(shape: [3, 2], scalars: [1, 0, 1, 1, 0.5, 1])
        for reduction in [LossReduction.mean, .sum, .none] {
            for weight in [nil, positiveWeight] {
                for stepMask in [nil, mask] {
                    checkGradients(of: [logits]) {
                        lossOrFail {
                            try binaryCrossEntropyWithLogits(logits, target, positiveWeight: weight, mask: stepMask, reduction: reduction)
                        }
                    }
                }
            }
        }
    }

    /// The loss, or a failed test and a constant when it throws (it should not on these inputs).
    private func lossOrFail(file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Variable) -> Variable {
        do { return try body() } catch {
            XCTFail("loss threw \(error)", file: file, line: line)
            return Variable(Tensor(0))
        }
    }

    // MARK: - Semantics and errors

    func testMaskOfZeroEqualsIgnoreIndex() throws {
        let logitValues = randomTensor([5, 3])
        let classes = [2, 0, 1, 1, 0]
        let ignored = Variable(logitValues, requiresGrad: true)
        let masked = Variable(logitValues, requiresGrad: true)
        let weights = Tensor(shape: [3], scalars: [1, 2, 0.5])
        let viaIgnore = try crossEntropy(logits: ignored, targets: [2, -100, 1, -100, 0], classWeights: weights, ignoreIndex: -100)
        let viaMask = try crossEntropy(logits: masked, targets: classes, classWeights: weights,
                                       mask: Tensor(shape: [5], scalars: [1, 0, 1, 0, 1]))
        XCTAssertEqual(viaIgnore.value.scalar, viaMask.value.scalar, accuracy: 1e-6)
        viaIgnore.backward()
        viaMask.backward()
        assertTrainingClose(try XCTUnwrap(masked.grad).scalars, try XCTUnwrap(ignored.grad).scalars.map(Double.init), "gradients")
    }

    func testFullyMaskedBatchGivesZeroLossAndGradient() throws {
        let logits = Variable(randomTensor([3, 4]), requiresGrad: true)
        let loss = try crossEntropy(logits: logits, targets: [-100, -100, -100], ignoreIndex: -100)
        XCTAssertEqual(loss.value.scalar, 0)
        loss.backward()
        XCTAssertEqual(logits.grad?.maxAbs, 0)
        let prediction = Variable(randomTensor([2, 3]), requiresGrad: true)
        let regression = try meanSquaredError(prediction, randomTensor([2, 3]), mask: Tensor(zeros: [2]))
        XCTAssertEqual(regression.value.scalar, 0)
        regression.backward()
        XCTAssertEqual(prediction.grad?.maxAbs, 0)
    }

    func testHugeLogitsStayFinite() throws {
        let logits = Variable(Tensor(shape: [2, 3], scalars: [3e4, -3e4, 0, -1e5, 1e5, 99_990]), requiresGrad: true)
        let loss = try crossEntropy(logits: logits, targets: [1, 2])
        XCTAssertEqual(loss.value.scalar, (6e4 + 10) / 2, accuracy: 1)
        loss.backward()
        XCTAssertTrue(try XCTUnwrap(logits.grad).scalars.allSatisfy(\.isFinite))
        let binary = try binaryCrossEntropyWithLogits(
            Variable(Tensor(shape: [2], scalars: [200, -200]), requiresGrad: true), Tensor(shape: [2], scalars: [0, 1]))
        XCTAssertEqual(binary.value.scalar, 200, accuracy: 1e-3)
    }

    func testInvalidArgumentsThrow() {
        let prediction = Variable(randomTensor([2, 3]), requiresGrad: true)
        XCTAssertThrowsError(try meanSquaredError(prediction, randomTensor([3, 2])))
        XCTAssertThrowsError(try meanSquaredError(prediction, randomTensor([2, 3]), mask: Tensor(zeros: [3])))
        XCTAssertThrowsError(try huberLoss(prediction, randomTensor([2, 3]), delta: 0))
        XCTAssertThrowsError(try crossEntropy(logits: prediction, targets: [0, 3]), "class 3 of 3")
        XCTAssertThrowsError(try crossEntropy(logits: prediction, targets: [0, -100]), "-100 without ignoreIndex")
        XCTAssertThrowsError(try crossEntropy(logits: prediction, targets: [0]), "one target for two rows")
        XCTAssertThrowsError(try crossEntropy(logits: prediction, targets: [0, 1], classWeights: Tensor(zeros: [2])))
        XCTAssertThrowsError(try crossEntropy(logits: prediction, targets: [0, 1], labelSmoothing: 1.5))
        XCTAssertThrowsError(try crossEntropy(logits: prediction, targets: [0, 1], mask: Tensor(shape: [2], scalars: [1, -1])))
        XCTAssertThrowsError(try binaryCrossEntropyWithLogits(prediction, randomTensor([2, 3]), positiveWeight: Tensor(zeros: [2])))
        XCTAssertThrowsError(try classIndices(from: Tensor(shape: [2], scalars: [1, 1.5])))
        XCTAssertThrowsError(try Loss.meanSquaredError(prediction, classes: [0, 1]))
        XCTAssertEqual(try classIndices(from: Tensor(shape: [3], scalars: [2, 0, -100])), [2, 0, -100])
    }

    func testLossEnumIsCodable() throws {
        let losses: [Loss] = [.meanSquaredError, .huber(delta: 0.5), .crossEntropy(ignoreIndex: -100, classWeights: [1, 2], labelSmoothing: 0.1),
                              .binaryCrossEntropy(positiveWeight: [3]), .crossEntropy()]
        let decoded = try JSONDecoder().decode([Loss].self, from: JSONEncoder().encode(losses))
        XCTAssertEqual(decoded, losses)
        XCTAssertTrue(Loss.crossEntropy().takesClassTargets)
        XCTAssertFalse(Loss.huber().takesClassTargets)
        XCTAssertEqual(Loss.crossEntropy(ignoreIndex: 7).ignoreIndex, 7)
    }
}

// MARK: - Reading the training fixtures

/// A tensor as the reference script writes it.
struct TrainingTensorJSON: Decodable {
    let shape: [Int]
    let values: [Double]
    var tensor: Tensor { Tensor(shape: shape, scalars: values.map { Float($0) }) }
}

enum TrainingFixtures {
    /// Decodes Fixtures/training/NAME.json, with snake_case keys read as camelCase.
    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures/training") else {
            throw RecurrentError.io(path: "Fixtures/training/\(name).json", reason: "not in the test bundle")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: Data(contentsOf: url))
    }
}

/// Asserts |actual - expected| <= tolerance * max(|expected|, 1e-2) everywhere: relative, with
/// a floor so values that cancel to nearly 0 are held to an absolute 1e-7 instead. Reports the
/// largest difference.
func assertTrainingClose<Value: BinaryFloatingPoint>(
    _ actual: [Value], _ expected: [Double], tolerance: Double = 1e-5, _ message: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("\(message): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    var worst = 0.0, worstIndex = 0
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        let difference = abs(Double(a) - e) / max(abs(e), 1e-2)
        if !(difference <= worst) { worst = difference; worstIndex = index }
    }
    if !(worst <= tolerance) {
        XCTFail("\(message): largest relative difference \(worst) at \(worstIndex) "
                + "(\(actual[worstIndex]) vs \(expected[worstIndex]))", file: file, line: line)
    }
}
