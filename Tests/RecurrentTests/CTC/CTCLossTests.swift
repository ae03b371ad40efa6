import CRecurrentKernels
import Foundation
import XCTest
@testable import Recurrent

/// The CTC loss against PyTorch's ctc_loss (Fixtures/ctc, made by make_ctc_fixtures.py there):
/// the Double instance of the recursion at float64 tolerances, the Float one through the public
/// API at float32 tolerances, and against central finite differences.
final class CTCLossTests: XCTestCase {
    /// Every case in float64: per-utterance losses, the reduced loss, and the gradients of both
    /// entry points (logits: w (softmax - gamma), which is also PyTorch's log_probs gradient;
    /// log-probabilities: the exact -w gamma).
    func testDoubleRecursionMatchesPyTorchFloat64OnEveryCase() throws {
        for name in CTCFixture.names {
            let fixture = try CTCFixture(name: name, float64: true)
            for kind in [CTCBatch.Input.logits, .logProbabilities] {
                let (losses, total, gradient) = try Self.evaluateInDouble(fixture, kind)
                try checkLosses(fixture, losses: losses, total: fixture.reduction == .none ? nil : total)
                let references = kind == .logits ? ["grad.logits", "grad.log_probs_torch"] : ["grad.log_probs"]
                for reference in references {
                    try checkGradient(fixture, gradient, against: reference, label: "Double \(kind)")
                }
            }
        }
    }

    /// Every case in float32 through `ctcLoss(logits:)` and `ctcLoss(logProbabilities:)` and
    /// `backward`, against the float64 truth at the float32 tolerances, on every instruction set
    /// of the row kernels this CPU runs.
    func testFloatLossMatchesPyTorchOnEveryCase() throws {
        defer { rk_force_isa(nil) }
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            try checkFloatLossOnEveryCase(label: isa)
        }
    }

    func checkFloatLossOnEveryCase(label: String) throws {
        for name in CTCFixture.names {
            let fixture = try CTCFixture(name: name, float64: false)
            for kind in [CTCBatch.Input.logits, .logProbabilities] {
                let input = Variable(Tensor(shape: [fixture.batch, fixture.frames, fixture.classes],
                                            scalars: try fixture.values(kind == .logits ? "logits" : "log_probs").map(Float.init)),
                                     requiresGrad: true)
                let loss = try Self.loss(fixture, input, kind)
                let seed = try fixture.values("grad_output").map(Float.init)
                loss.backward(seed: Tensor(shape: loss.shape, scalars: seed))
                let truth = try CTCFixture(name: name, float64: true)
                let reduced = fixture.reduction == .none ? nil : Double(loss.value.scalar)
                try checkLosses(truth, losses: fixture.reduction == .none ? loss.value.scalars.map(Double.init) : nil, total: reduced,
                                tolerance: fixture.lossTolerance)
                let gradient = try XCTUnwrap(input.grad).scalars.map(Double.init)
                try checkGradient(truth, gradient, against: kind == .logits ? "grad.logits" : "grad.log_probs",
                                  label: "Float \(kind) \(label)", tolerance: fixture.gradientTolerance)
            }
        }
    }

    /// The Float row kernels (rk_ctc_log_add_exp3, rk_ctc_exp_sum) against the same rows in
    /// Double, on every instruction set: log 0 where every term is log 0, a few steps of Float
    /// elsewhere (relative to the result, at least 1), at every length up to a few vectors.
    func testFloatRowKernelsMatchDoubleOnEveryInstructionSet() {
        defer { rk_force_isa(nil) }
        var rng = SplitMix64(seed: 11)
        func draw() -> Float {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: return -.infinity
            case 1: return Float.random(in: -2500 ... -2000, using: &rng)
            default: return Float.random(in: -30...5, using: &rng)
            }
        }
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            for count in 0...40 {
                let (x, y, z) = ((0..<count).map { _ in draw() }, (0..<count).map { _ in draw() }, (0..<count).map { _ in draw() })
                let mask: [Float] = (0..<count).map { _ in Bool.random(using: &rng) ? 0 : -.infinity }
                let add = (0..<count).map { _ in Float.random(in: -3...0, using: &rng) }
                var out = [Float](repeating: .nan, count: count), exps = out
                Float.logAddExpRow(x, y, z, zMask: mask, add: add, into: &out, count: count)
                Float.exponentialRow(x, plus: y, plus: 0.5, into: &exps, count: count)
                for s in 0..<count {
                    let want = CTCLattice.logAddExp(Double(x[s]), Double(y[s]), Double(z[s]) + Double(mask[s])) + Double(add[s])
                    if want == -.infinity {
                        XCTAssertEqual(out[s], -.infinity, "\(isa) \(s)")
                    } else {
                        XCTAssertLessThanOrEqual(abs(Double(out[s]) - want), 5e-7 * max(1, abs(want)), "\(isa) log-add-exp of \(x[s]), \(y[s]), \(z[s])")
                    }
                    let exponential = exp(Double((x[s] + 0.5) + y[s]))  // the argument summed in Float, as the kernel does
                    XCTAssertLessThanOrEqual(abs(Double(exps[s]) - exponential), 5e-7 * exponential + 1e-44, "\(isa) e^\(x[s] + y[s] + 0.5)")
                }
            }
        }
    }

    /// The gradients of sum_b u_b loss_b (random u) against central differences in Double, on
    /// an input not normalized per frame for the log-probabilities entry (its derivative -gamma
    /// holds for any scores), with repeats, an empty target and a short utterance.
    func testGradientsMatchCentralFiniteDifferencesInDouble() throws {
        var rng = SplitMix64(seed: 3)
        let (B, T, C) = (3, 6, 4)
        let targets = [[1, 2, 2], [], [3, 1]], inputLengths = [6, 4, 5]
        let input = (0..<(B * T * C)).map { _ in Double(Float.random(in: -2...2, using: &rng)) }
        let weights = (0..<B).map { _ in Double(Float.random(in: 0.5...1.5, using: &rng)) }
        let batch = try CTCBatch(shape: [B, T, C], targets: targets, inputLengths: inputLengths, blank: 0)
        for kind in [CTCBatch.Input.logits, .logProbabilities] {
            func loss(_ values: [Double], slopes: UnsafeMutableBufferPointer<Double>? = nil) -> Double {
                let losses = values.withUnsafeBufferPointer { batch.evaluate($0, as: kind, slopes: slopes) }
                return batch.reduce(losses, factors: weights)
            }
            var analytic = [Double](repeating: 0, count: input.count)
            _ = analytic.withUnsafeMutableBufferPointer { slopes in
                let value = loss(input, slopes: slopes)
                batch.scale(slopes, by: weights)
                return value
            }
            var worst = 0.0
            let step = 1e-6
            for index in input.indices {
                var plus = input, minus = input
                plus[index] += step
                minus[index] -= step
                let numeric = (loss(plus) - loss(minus)) / (2 * step)
                worst = max(worst, abs(numeric - analytic[index]))
            }
            let scale = analytic.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0.05, "\(kind): the gradient is all but zero, so the check says nothing")
            XCTAssertLessThan(worst, 1e-7, "\(kind): largest difference from finite differences \(worst) (gradient scale \(scale))")
            // Frames past an utterance's length have no gradient.
            for t in inputLengths[1]..<T { for c in 0..<C { XCTAssertEqual(analytic[(1 * T + t) * C + c], 0) } }
        }
    }

    /// Each utterance is one task on the thread pool: 1 and 2 threads give the same bits.
    func testSameBitsOnOneAndTwoThreads() throws {
        let fixture = try CTCFixture(name: "speechlike_blank_last_mean", float64: false)
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        var results: [([Float], [Float])] = []
        for threads in [1, 2] {
            Parallel.threadCount = threads
            let logits = Variable(Tensor(shape: [fixture.batch, fixture.frames, fixture.classes],
                                         scalars: try fixture.values("logits").map(Float.init)), requiresGrad: true)
            let loss = try ctcLoss(logits: logits, targets: fixture.targets, inputLengths: fixture.inputLengths,
                                   blank: fixture.blank, reduction: .none)
            loss.backward(seed: Tensor(shape: [fixture.batch], scalars: [0.3, -1.2, 0.7, 2.0]))
            results.append((loss.value.scalars, try XCTUnwrap(logits.grad).scalars))
        }
        XCTAssertEqual(results[0].0.map(\.bitPattern), results[1].0.map(\.bitPattern))
        XCTAssertEqual(results[0].1.map(\.bitPattern), results[1].1.map(\.bitPattern))
    }

    /// Infeasible utterances: +inf (0 with zeroInfinity), a zero gradient and never NaN, while
    /// the feasible utterance beside them keeps its gradient; input length 0 is allowed.
    func testInfeasibleUtterancesGiveInfinityAndZeroGradient() throws {
        let (B, T, C) = (4, 3, 3)
        var rng = SplitMix64(seed: 8)
        let scalars = (0..<(B * T * C)).map { _ in Float.random(in: -1...1, using: &rng) }
        let targets = [[1, 1], [1, 2], [], [2]], lengths = [2, 3, 0, 0]
        for zeroInfinity in [false, true] {
            let logits = Variable(Tensor(shape: [B, T, C], scalars: scalars), requiresGrad: true)
            let loss = try ctcLoss(logits: logits, targets: targets, inputLengths: lengths, reduction: .none, zeroInfinity: zeroInfinity)
            loss.backward(seed: Tensor(repeating: 1, shape: [B]))
            let values = loss.value.scalars, gradient = try XCTUnwrap(logits.grad).scalars
            XCTAssertEqual(values[0], zeroInfinity ? 0 : .infinity, "[1, 1] needs 3 frames")
            XCTAssertTrue(values[1].isFinite && values[1] > 0)
            XCTAssertEqual(values[2], 0, "an empty target in 0 frames has probability 1")
            XCTAssertEqual(values[3], zeroInfinity ? 0 : .infinity, "a label in 0 frames")
            XCTAssertFalse(gradient.contains { $0.isNaN })
            for b in [0, 2, 3] { XCTAssertEqual(Array(gradient[(b * T * C)..<((b + 1) * T * C)]), [Float](repeating: 0, count: T * C)) }
            XCTAssertTrue(gradient[(T * C)..<(2 * T * C)].contains { $0 != 0 })
        }
        let mean = try ctcLoss(logits: Variable(Tensor(shape: [B, T, C], scalars: scalars)), targets: targets, inputLengths: lengths)
        XCTAssertEqual(mean.value.scalar, .infinity)
    }

    func testBadInputThrowsOneLineNamingTheFieldAndIndex() {
        let logits = Variable(Tensor(zeros: [2, 5, 4]))
        func message(_ targets: [[Int]], _ lengths: [Int], blank: Int = 0) -> String {
            do {
                _ = try ctcLoss(logits: logits, targets: targets, inputLengths: lengths, blank: blank)
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(message([[1], [2, 0]], [5, 5]), "ctc loss: targets[1][1] = 0 is the blank")
        XCTAssertEqual(message([[1], [4]], [5, 5]), "ctc loss: targets[1][0] = 4 is not a class in 0..<4")
        XCTAssertEqual(message([[-1], [1]], [5, 5]), "ctc loss: targets[0][0] = -1 is not a class in 0..<4")
        XCTAssertEqual(message([[1], [2]], [5, 6]), "ctc loss: inputLengths[1] = 6 is out of range 0...5")
        XCTAssertEqual(message([[1], [2]], [-1, 5]), "ctc loss: inputLengths[0] = -1 is out of range 0...5")
        XCTAssertEqual(message([[1]], [5, 5]), "shape mismatch: ctc loss: 1 targets for a batch of 2")
        XCTAssertEqual(message([[1], [2]], [5]), "shape mismatch: ctc loss: 1 input lengths for a batch of 2")
        XCTAssertEqual(message([[1], [2]], [5, 5], blank: 4), "ctc loss: blank = 4 is not a class in 0..<4")
        XCTAssertEqual(message([[1], [2]], [5, 5], blank: 3), "no error")
        XCTAssertThrowsError(try ctcLoss(logProbabilities: Variable(Tensor(zeros: [5, 4])), targets: [[1]], inputLengths: [5]))
    }

    // MARK: - Helpers

    static func loss(_ fixture: CTCFixture, _ input: Variable, _ kind: CTCBatch.Input) throws -> Variable {
        kind == .logits
            ? try ctcLoss(logits: input, targets: fixture.targets, inputLengths: fixture.inputLengths, blank: fixture.blank,
                          reduction: fixture.reduction, zeroInfinity: fixture.zeroInfinity)
            : try ctcLoss(logProbabilities: input, targets: fixture.targets, inputLengths: fixture.inputLengths,
                          blank: fixture.blank, reduction: fixture.reduction, zeroInfinity: fixture.zeroInfinity)
    }

    /// The library's generic path in Double: losses, the reduced loss, and dL/dinput [B, T, C]
    /// for L = sum(loss * grad_output).
    static func evaluateInDouble(_ fixture: CTCFixture, _ kind: CTCBatch.Input) throws -> ([Double], Double, [Double]) {
        let batch = try CTCBatch(shape: [fixture.batch, fixture.frames, fixture.classes], targets: fixture.targets,
                                 inputLengths: fixture.inputLengths, blank: fixture.blank)
        let input = try fixture.values(kind == .logits ? "logits" : "log_probs")
        var slopes = [Double](repeating: 0, count: input.count)
        let raw = input.withUnsafeBufferPointer { values in
            slopes.withUnsafeMutableBufferPointer { batch.evaluate(values, as: kind, slopes: $0) }
        }
        let losses = batch.applying(zeroInfinity: fixture.zeroInfinity, to: raw)
        let factors = batch.reductionFactors(fixture.reduction)
        let seed = try fixture.values("grad_output")
        let weights = fixture.reduction == .none ? seed : factors.map { $0 * seed[0] }
        slopes.withUnsafeMutableBufferPointer { batch.scale($0, by: weights) }
        return (losses, batch.reduce(losses, factors: factors), slopes)
    }

    func checkLosses(_ truth: CTCFixture, losses: [Double]?, total: Double?, tolerance: Double? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let tolerance = tolerance ?? truth.lossTolerance
        func check(_ got: Double, _ want: Double, _ what: String) {
            if want.isInfinite || got.isInfinite {
                XCTAssertEqual(got, want, "\(truth.name): \(what)", file: file, line: line)
            } else {
                XCTAssertLessThanOrEqual(abs(got - want), tolerance * max(abs(want), 1e-300),
                                         "\(truth.name): \(what) \(got), PyTorch \(want)", file: file, line: line)
            }
        }
        let wanted = try truth.values("losses")
        for (b, got) in (losses ?? []).enumerated() { check(got, wanted[b], "losses[\(b)]") }
        if let total { check(total, try truth.values("loss")[0], "the reduced loss") }
    }

    /// max |got - want| <= tolerance * max |want| over the feasible utterances (PyTorch's
    /// gradient is NaN on the others without zero_infinity); ours must be 0 on those.
    func checkGradient(_ truth: CTCFixture, _ gradient: [Double], against key: String, label: String, tolerance: Double? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let want = try truth.values(key), size = truth.frames * truth.classes
        let feasible = (0..<truth.batch).filter { !truth.infeasible.contains($0) }
        let indices = feasible.flatMap { (($0 * size)..<(($0 + 1) * size)) }
        let scale = indices.map { abs(want[$0]) }.max() ?? 0
        let worst = indices.map { abs(gradient[$0] - want[$0]) }.max() ?? 0
        XCTAssertGreaterThan(scale, 0, "\(truth.name) \(key)", file: file, line: line)
        XCTAssertLessThanOrEqual(worst, (tolerance ?? truth.gradientTolerance) * scale,
                                 "\(truth.name) \(label) vs \(key): largest difference \(worst / scale) of the largest value",
                                 file: file, line: line)
        for b in truth.infeasible {
            XCTAssertTrue(gradient[(b * size)..<((b + 1) * size)].allSatisfy { $0 == 0 }, "\(truth.name): utterance \(b)", file: file, line: line)
        }
        if ProcessInfo.processInfo.environment["SHOW_DIFF"] != nil { print(truth.name, label, key, worst / scale) }
    }
}
