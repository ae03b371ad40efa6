import CRecurrentKernels
import Foundation
import XCTest
@testable import Recurrent

/// A parameter-like leaf with values uniform in [low, high).
func randomVariable(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Variable {
    var rng = SplitMix64(seed: seed)
    return Variable(.uniform(shape: shape, low: low, high: high, using: &rng), requiresGrad: true)
}

/// The largest absolute difference between two tensors of one shape.
func largestDifference(_ lhs: Tensor, _ rhs: Tensor) -> Float {
    XCTAssertEqual(lhs.shape, rhs.shape)
    return zip(lhs.scalars, rhs.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

final class OperationTests: XCTestCase {
    func testArithmeticForwardAndGradients() {
        let a = randomVariable([3, 4], seed: 1), b = randomVariable([3, 4], seed: 2)
        XCTAssertEqual((a + b).value, a.value + b.value)
        XCTAssertEqual((a - b).value, a.value - b.value)
        XCTAssertEqual((a * b).value, a.value * b.value)
        XCTAssertEqual((a * 2.5).value, a.value * 2.5)
        XCTAssertEqual((-a).value, -a.value)
        checkGradients(of: [a, b]) { a + b }
        checkGradients(of: [a, b]) { a - b }
        checkGradients(of: [a, b]) { a * b }
        checkGradients(of: [a]) { 3 * a }
        checkGradients(of: [a]) { -a.scaled(by: 0.5) }
        checkGradients(of: [a, b]) { (a * b - a) * b + b }
    }

    func testConstantsReceiveNoGradient() {
        let parameter = randomVariable([2, 3], seed: 3)
        let constant = Variable(Tensor(repeating: 2, shape: [2, 3]))
        (parameter * constant).sum().backward()
        XCTAssertNil(constant.grad)
        XCTAssertEqual(parameter.grad, Tensor(repeating: 2, shape: [2, 3]))
        // Nothing is recorded when no input needs a gradient, or while recording is off.
        XCTAssertFalse((constant * constant).requiresGrad)
        XCTAssertFalse(GradientMode.withoutRecording { parameter.tanh() }.requiresGrad)
    }

    /// backward() lets go of the saved values (as PyTorch does) unless asked to keep the graph
    /// for another pass, which then adds to the gradients.
    func testBackwardFreesTheGraphUnlessRetained() throws {
        let parameter = randomVariable([2, 3], seed: 3)
        let loss = (parameter * parameter).sum()
        loss.backward(retainGraph: true)
        XCTAssertNotNil(loss.creator?.backward)
        loss.backward()
        XCTAssertNil(loss.creator?.backward)
        XCTAssertEqual(loss.creator?.inputs.count, 0)
        let twice = parameter.value.scalars.map { 4 * $0 }
        assertClose(parameter.grad, Tensor(shape: [2, 3], scalars: twice), tolerance: 1e-6, "two passes add up")
    }

    func testAddingBiasBroadcastsOverRows() {
        let x = randomVariable([2, 3, 4], seed: 4), bias = randomVariable([4], seed: 5)
        let output = x.addingBias(bias).value
        for row in 0..<6 {
            for unit in 0..<4 {
                XCTAssertEqual(output.scalars[row * 4 + unit], x.value.scalars[row * 4 + unit] + bias.value.scalars[unit])
            }
        }
        checkGradients(of: [x, bias]) { x.addingBias(bias) }
    }

    func testNonlinearities() {
        // relu's kink at 0 would defeat finite differences: keep every value at least 0.1 from it.
        var rng = SplitMix64(seed: 6)
        let x = Variable(Tensor(shape: [4, 5], scalars: (0..<20).map { _ in
            let magnitude = rng.uniform(0.1, 2)
            return rng.nextFloat() < 0.5 ? -magnitude : magnitude
        }), requiresGrad: true)
        XCTAssertLessThan(largestDifference(x.tanh().value, x.value.map { Foundation.tanh($0) }), 1e-6)
        XCTAssertLessThan(largestDifference(x.sigmoid().value, x.value.map { 1 / (1 + Foundation.exp(-$0)) }), 1e-6)
        XCTAssertEqual(x.relu().value, x.value.map { max($0, 0) })
        checkGradients(of: [x]) { x.tanh() }
        checkGradients(of: [x]) { x.sigmoid() }
        checkGradients(of: [x]) { x.relu() }
    }

    func testReshape() {
        let x = randomVariable([2, 3, 4], seed: 7)
        XCTAssertEqual(x.reshaped([6, 4]).shape, [6, 4])
        XCTAssertEqual(x.reshaped([-1, 2]).shape, [12, 2])
        XCTAssertEqual(x.reshaped([4, -1]).value.scalars, x.value.scalars)
        checkGradients(of: [x]) { x.reshaped([3, 8]) * randomVariable([3, 8], seed: 8) }
    }

    func testLinearMatchesNaiveProduct() {
        let weight = randomVariable([5, 7], seed: 9), bias = randomVariable([5], seed: 10)
        for shape in [[6, 7], [2, 3, 7], [1, 7]] {
            let x = randomVariable(shape, seed: 11)
            let rows = x.value.count / 7
            for withBias in [true, false] {
                let output = x.linear(weight: weight, bias: withBias ? bias : nil).value
                XCTAssertEqual(output.shape, Array(shape.dropLast()) + [5])
                var worst: Float = 0
                for row in 0..<rows {
                    for unit in 0..<5 {
                        var expected = withBias ? Double(bias.value.scalars[unit]) : 0
                        for k in 0..<7 {
                            expected += Double(x.value.scalars[row * 7 + k]) * Double(weight.value.scalars[unit * 7 + k])
                        }
                        worst = max(worst, abs(output.scalars[row * 5 + unit] - Float(expected)))
                    }
                }
                XCTAssertLessThan(worst, 1e-5, "input \(shape), bias \(withBias)")
            }
        }
    }

    func testLinearGradients() {
        let weight = randomVariable([4, 6], seed: 12), bias = randomVariable([4], seed: 13)
        let matrix = randomVariable([5, 6], seed: 14), sequence = randomVariable([2, 3, 6], seed: 15)
        checkGradients(of: [matrix, weight, bias]) { matrix.linear(weight: weight, bias: bias) }
        checkGradients(of: [sequence, weight, bias]) { sequence.linear(weight: weight, bias: bias) }
        checkGradients(of: [sequence, weight]) { sequence.linear(weight: weight) }
    }

    /// In inference a linear layer gives every row the same bits whatever the number of rows (a
    /// sequence fed one step at a time scores as the whole sequence), on every instruction set,
    /// also for weights beyond the dot products' cache bound (a word vocabulary's output layer,
    /// multiplied by its kept transpose), and the kept transpose follows changes of the weight.
    func testLinearInferenceGivesEveryRowCountTheSameBits() {
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            defer { rk_force_isa(nil) }
            for (outputs, inputs) in [(1_100, 256), (300, 200), (5, 60_000), (700, 400)] {
                let weight = randomVariable([outputs, inputs], seed: 20), bias = randomVariable([outputs], seed: 21)
                let x = randomVariable([9, inputs], seed: 22)
                let whole = GradientMode.withoutRecording { x.linear(weight: weight, bias: bias).value.scalars }
                let xs = x.value.scalars
                GradientMode.withoutRecording {
                    for rows in [1, 2, 4, 5, 7] {
                        for first in stride(from: 0, to: 9, by: rows) {
                            let count = min(rows, 9 - first)
                            let part = Variable(Tensor(shape: [count, inputs], scalars: Array(xs[(first * inputs)..<((first + count) * inputs)])))
                            let got = part.linear(weight: weight, bias: bias).value.scalars
                            let expected = Array(whole[(first * outputs)..<((first + count) * outputs)])
                            XCTAssertTrue(zip(got, expected).allSatisfy { $0.bitPattern == $1.bitPattern },
                                          "\(isa) \(outputs)x\(inputs): rows \(first)..<\(first + count) alone differ from the whole batch")
                        }
                    }
                }
                // Recorded (training) and inference agree to rounding.
                let recorded = x.linear(weight: weight, bias: bias).value.scalars
                XCTAssertLessThan(zip(recorded, whole).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 1, 1e-5)
                // A changed weight is multiplied as it now is, not as it was kept.
                weight.value = weight.value.map { $0 * -0.5 }
                GradientMode.withoutRecording {
                    let changed = x.linear(weight: weight, bias: bias).value
                    let (ws, bs) = (weight.value.scalars, bias.value.scalars)
                    var expected = [Float](repeating: 0, count: 9 * outputs)
                    for row in 0..<9 {
                        for unit in 0..<outputs {
                            var sum = Double(bs[unit])
                            for k in 0..<inputs { sum += Double(xs[row * inputs + k]) * Double(ws[unit * inputs + k]) }
                            expected[row * outputs + unit] = Float(sum)
                        }
                    }
                    XCTAssertLessThan(zip(changed.scalars, expected).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 1, 1e-4,
                                      "\(isa) \(outputs)x\(inputs) after the weight changed")
                }
            }
        }
    }

    func testLinearOnEmptyBatch() {
        let weight = randomVariable([3, 2], seed: 16)
        let output = Variable(Tensor(zeros: [0, 2])).linear(weight: weight, bias: randomVariable([3], seed: 17))
        XCTAssertEqual(output.shape, [0, 3])
    }

    func testSumAndMean() {
        let x = randomVariable([3, 5], seed: 18)
        XCTAssertEqual(x.sum().shape, [])
        XCTAssertEqual(x.sum().value.scalar, x.value.sum(), accuracy: 1e-6)
        XCTAssertEqual(x.mean().value.scalar, x.value.sum() / 15, accuracy: 1e-6)
        checkGradients(of: [x]) { x.sum() }
        checkGradients(of: [x]) { (x * x).mean() }
    }

    func testSoftmax() {
        let x = randomVariable([2, 3, 4], seed: 19, low: -3, high: 3)
        let output = x.softmax().value
        for row in 0..<6 {
            let logits = x.value.scalars[(row * 4)..<(row * 4 + 4)].map { Double($0) }
            let total = logits.map { Foundation.exp($0) }.reduce(0, +)
            for unit in 0..<4 {
                XCTAssertEqual(Double(output.scalars[row * 4 + unit]), Foundation.exp(logits[unit]) / total, accuracy: 1e-6)
            }
        }
        // Shifting by the row maximum keeps huge logits finite.
        let huge = Variable(Tensor(shape: [1, 3], scalars: [1000, 1001, 999])).softmax().value
        XCTAssertTrue(huge.scalars.allSatisfy { $0.isFinite })
        XCTAssertEqual(huge.sum(), 1, accuracy: 1e-6)
        checkGradients(of: [x]) { x.softmax() }
    }

    func testSelectingTimeSteps() {
        let x = randomVariable([2, 4, 3], seed: 20)
        func step(_ b: Int, _ t: Int) -> [Float] { Array(x.value.scalars[((b * 4 + t) * 3)..<((b * 4 + t) * 3 + 3)]) }
        XCTAssertEqual(x.selectingTimeStep(1).value.scalars, step(0, 1) + step(1, 1))
        XCTAssertEqual(x.selectingTimeStep(-1).value.scalars, step(0, 3) + step(1, 3))
        XCTAssertEqual(x.selectingLastSteps(lengths: [2, 4]).value.scalars, step(0, 1) + step(1, 3))
        XCTAssertEqual(x.selectingLastSteps(lengths: nil).value, x.selectingTimeStep(-1).value)
        XCTAssertEqual(x.selectingLastSteps(lengths: [0, 1]).value.scalars, [0, 0, 0] + step(1, 0))
        checkGradients(of: [x]) { x.selectingTimeStep(2) }
        checkGradients(of: [x]) { x.selectingLastSteps(lengths: [3, 1]) }
    }

    func testMeanPoolingCountsOnlyValidSteps() {
        let x = randomVariable([3, 4, 2], seed: 21)
        let lengths = [4, 2, 0]
        let output = x.meanOverTime(lengths: lengths).value
        XCTAssertEqual(output.shape, [3, 2])
        for b in 0..<3 {
            for f in 0..<2 {
                let values = (0..<lengths[b]).map { x.value.scalars[(b * 4 + $0) * 2 + f] }
                let expected = values.isEmpty ? 0 : values.reduce(0, +) / Float(values.count)
                XCTAssertEqual(output.scalars[b * 2 + f], expected, accuracy: 1e-6)
            }
        }
        checkGradients(of: [x]) { x.meanOverTime(lengths: lengths) }
        checkGradients(of: [x]) { x.meanOverTime() }
        // Padding steps get no gradient.
        x.grad = nil
        x.meanOverTime(lengths: lengths).sum().backward()
        let grad = x.grad ?? Tensor(zeros: [0])
        XCTAssertEqual(Array(grad.scalars[(1 * 4 + 2) * 2..<(3 * 4) * 2]), [Float](repeating: 0, count: 12))
        XCTAssertEqual(grad.scalars[0], 0.25)
        XCTAssertEqual(grad.scalars[(1 * 4) * 2], 0.5)
    }

    func testMaxPoolingCountsOnlyValidStepsAndRoutesGradientToArgMax() {
        // Distinct values 0.1 apart, so a step of 1e-2 never changes which step wins.
        var rng = SplitMix64(seed: 22)
        let values = (0..<24).map { Float($0) * 0.1 - 1 }.shuffled(using: &rng)
        let x = Variable(Tensor(shape: [3, 4, 2], scalars: values), requiresGrad: true)
        let lengths = [4, 2, 1]
        let output = x.maxOverTime(lengths: lengths).value
        for b in 0..<3 {
            for f in 0..<2 {
                let expected = (0..<lengths[b]).map { x.value.scalars[(b * 4 + $0) * 2 + f] }.max() ?? 0
                XCTAssertEqual(output.scalars[b * 2 + f], expected)
            }
        }
        checkGradients(of: [x]) { x.maxOverTime(lengths: lengths) }
        checkGradients(of: [x]) { x.maxOverTime() }
        // A padding step holding the largest value is ignored, and the gradient reaches only the arg-max.
        let padded = Variable(Tensor(shape: [1, 3, 1], scalars: [0.5, 2, 9]), requiresGrad: true)
        let pooled = padded.maxOverTime(lengths: [2])
        XCTAssertEqual(pooled.value.scalars, [2])
        pooled.sum().backward()
        XCTAssertEqual(padded.grad?.scalars, [0, 1, 0])
        XCTAssertEqual(Variable(Tensor(zeros: [1, 3, 2])).maxOverTime(lengths: [0]).value.scalars, [0, 0])
    }
}
