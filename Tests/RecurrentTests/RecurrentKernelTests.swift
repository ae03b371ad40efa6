import CRecurrentKernels
import XCTest
@testable import Recurrent

/// The fused recurrent steps (rk_recurrent_forward) against the Swift steps they replace, on
/// every instruction set this CPU runs, with sizes that leave partial unit blocks and row tiles,
/// variable lengths and both directions; and their independence of the thread count.
final class RecurrentKernelTests: XCTestCase {
    override func tearDown() {
        rk_force_isa(nil)
        SequenceKernel.fusedStepsEnabled = true
        FloatBuffer.poisonsUnzeroed = false
        Parallel.threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount)
        super.tearDown()
    }

    nonisolated(unsafe) static let cells: [(String, CellKernel)] = [
        ("tanh", ElmanKernel(relu: false)), ("relu", ElmanKernel(relu: true)), ("lstm", LSTMKernel()),
        ("gru", GRUKernel(resetAfter: true)),
    ]

    struct Outputs {
        var tensors: [String: Tensor]
    }

    /// Runs one sequence forward and backward (7 rows: a full register tile and a partial one; 150 units: 9 blocks of
    /// 16 and a partial one, 2 blocks of 64 and a partial one) and returns every output, saved
    /// value and gradient.
    func run(_ cell: CellKernel, reverse: Bool, lengths: [Int], fused: Bool, hidden: Int = 150, input: Int = 3) -> [String: Tensor] {
        let (batch, time) = (lengths.count, 6)
        SequenceKernel.fusedStepsEnabled = fused
        defer { SequenceKernel.fusedStepsEnabled = true }
        var rng = SplitMix64(seed: 31)
        let width = cell.gateCount * hidden
        let inputBound = 0.3 / Float(max(1, input / 3)).squareRoot()
        let weights = [Tensor.uniform(shape: [width, input], low: -inputBound, high: inputBound, using: &rng),
                       Tensor.uniform(shape: [width, hidden], low: -0.15, high: 0.15, using: &rng),
                       Tensor.uniform(shape: [width], low: -0.3, high: 0.3, using: &rng),
                       Tensor.uniform(shape: [width], low: -0.3, high: 0.3, using: &rng)]
        let x = Tensor.uniform(shape: [batch, time, input], low: -1, high: 1, using: &rng)
        let h0 = Tensor.uniform(shape: [batch, hidden], low: -0.5, high: 0.5, using: &rng)
        let c0 = cell.hasCellState ? Tensor.uniform(shape: [batch, hidden], low: -0.5, high: 0.5, using: &rng) : nil
        let kernel = SequenceKernel(batch: batch, time: time, input: input, hidden: hidden, cell: cell,
                                    lengths: lengths, reverse: reverse)
        let result = kernel.forward(x: x, h0: h0, c0: c0, weights: weights, saving: true)
        var tensors = ["y": result.y, "hN": result.hN]
        if let saved = result.saved {
            // Gradients from arbitrary dL/dy, dL/dh_n and dL/dc_n.
            let dY = Tensor.uniform(shape: [batch, time, hidden], low: -1, high: 1, using: &rng)
            let dHN = Tensor.uniform(shape: [batch, hidden], low: -1, high: 1, using: &rng)
            let dCN = cell.hasCellState ? Tensor.uniform(shape: [batch, hidden], low: -1, high: 1, using: &rng) : nil
            let gradients = kernel.backward(x: x, weights: weights, saved: saved, dY: dY, dHN: dHN, dCN: dCN)
            tensors["dX"] = gradients.dX
            tensors["dH0"] = gradients.dH0
            if let dC0 = gradients.dC0 { tensors["dC0"] = dC0 }
            for (index, name) in ["dWeightIH", "dWeightHH", "dBiasIH", "dBiasHH"].enumerated() {
                tensors[name] = gradients.dWeights[index]
            }
        }
        if let cN = result.cN { tensors["cN"] = cN }
        if let saved = result.saved {
            let rows = batch * time
            // Rows past a sequence's length are never written by either path.
            tensors["cellValues"] = saved.cellValues.tensor([rows, cell.savedWidth * hidden])
            tensors["hiddenBefore"] = saved.hiddenBefore.tensor([rows, hidden])
            if let before = saved.cellBefore { tensors["cellBefore"] = before.tensor([rows, hidden]) }
        }
        return tensors
    }

    /// Buffers the fused loops are trusted to fill (every row but the padding, which is zeroed)
    /// start as NaN here, so a value they leave unwritten shows. Batches sorted by length, as
    /// bucketed batches are, let the fused steps leave out the rows of finished sequences (the
    /// first rows when ascending, the last when descending).
    func testFusedStepsMatchTheSwiftSteps() throws {
        FloatBuffer.poisonsUnzeroed = true
        let full = Array(repeating: 6, count: 7), varying = [6, 2, 5, 1, 6, 3, 4]
        let ascending = [1, 2, 2, 3, 5, 6, 6], descending = [6, 5, 5, 3, 2, 1, 1]
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            for (name, cell) in Self.cells {
                for reverse in [false, true] {
                    for lengths in [full, varying, ascending, descending] {
                        let reference = run(cell, reverse: reverse, lengths: lengths, fused: false)
                        let fused = run(cell, reverse: reverse, lengths: lengths, fused: true)
                        XCTAssertEqual(Set(fused.keys), Set(reference.keys))
                        for (key, value) in reference {
                            assertClose(fused[key], value, tolerance: 1e-5,
                                        "\(isa) \(name) reverse \(reverse) lengths \(lengths) \(key)")
                        }
                    }
                }
            }
        }
    }

    /// Inputs longer than the depth the AVX2 and plain steps take at a time (128 packed rows):
    /// chunks that end inside x, and (256) one that starts where h does, where GRU's candidate
    /// switches from its input sum to its hidden sum; fused or not, on every instruction set.
    func testInputsLongerThanAStepsDepthChunk() throws {
        FloatBuffer.poisonsUnzeroed = true
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            for (name, cell) in Self.cells {
                for input in [256, 300] {
                    let lengths = [6, 2, 5, 1, 6, 3, 4]
                    let reference = run(cell, reverse: false, lengths: lengths, fused: false, hidden: 20, input: input)
                    let fused = run(cell, reverse: false, lengths: lengths, fused: true, hidden: 20, input: input)
                    for (key, value) in reference {
                        assertClose(fused[key], value, tolerance: 1e-5, "\(isa) \(name) input \(input) \(key)")
                    }
                }
            }
        }
    }

    /// With 7 rows and with 20 (several row tiles per block), fused or not, on every instruction
    /// set; at 64 units two threads split the batch (48 rows: large enough to split for every
    /// cell), and 70 rows on one thread take two groups of rows through each block.
    func testFusedStepsGiveTheSameBitsOnOneAndTwoThreads() throws {
        let sizes = [([6, 2, 5, 1, 6, 3, 4], 150), ((0..<20).map { 1 + $0 % 6 }, 150), ((0..<48).map { 1 + $0 % 6 }, 64),
                     ((0..<70).map { 1 + $0 % 6 }, 64)]
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            for ((lengths, hidden), (name, cell)) in sizes.flatMap({ size in Self.cells.map { (size, $0) } }) {
                let label = "\(isa) \(name) \(lengths.count) rows, \(hidden) units"
                Parallel.threadCount = 1
                let one = run(cell, reverse: false, lengths: lengths, fused: true, hidden: hidden)
                Parallel.threadCount = 2
                let two = run(cell, reverse: false, lengths: lengths, fused: true, hidden: hidden)
                for (key, value) in one {
                    XCTAssertEqual(two[key]?.scalars, value.scalars, "\(label): \(key)")
                }
                let reference = run(cell, reverse: true, lengths: lengths, fused: false, hidden: hidden)
                let fused = run(cell, reverse: true, lengths: lengths, fused: true, hidden: hidden)
                for (key, value) in reference {
                    assertClose(fused[key], value, tolerance: 1e-5, "\(label), 2 threads: \(key)")
                }
            }
        }
    }

    /// The backward pass in windows of 1, 2 and 4 steps (the last one shorter) gives the
    /// gradients of one window over the whole sequence, fused or not, in both directions.
    func testBackwardWindowsGiveTheWholeSequenceGradients() throws {
        defer { SequenceKernel.forcedBackwardWindowSteps = nil }
        FloatBuffer.poisonsUnzeroed = true
        let cells = Self.cells + [("gru reset-before", GRUKernel(resetAfter: false) as CellKernel)]
        // Varying lengths (the last with short sequences first and last, so that a late window's
        // products take the middle sequences alone), and every sequence full (where the fused
        // loops skip zeroing).
        let cases = [[6, 2, 5, 1, 6, 3, 4], [1, 3, 2, 4, 6, 5, 1], Array(repeating: 6, count: 7)].flatMap { lengths in cells.map { (lengths, $0.0, $0.1) } }
        for (lengths, name, cell) in cases {
            for fused in [true, false] {
                for reverse in [false, true] {
                    SequenceKernel.forcedBackwardWindowSteps = nil
                    let whole = run(cell, reverse: reverse, lengths: lengths, fused: fused)
                    for steps in [1, 2, 4] {
                        SequenceKernel.forcedBackwardWindowSteps = steps
                        let kernel = SequenceKernel(batch: 7, time: 6, input: 3, hidden: 150, cell: cell,
                                                    lengths: lengths, reverse: reverse)
                        let windows = kernel.backwardWindows
                        XCTAssertEqual(windows.count, (6 + steps - 1) / steps, "\(name) \(steps)")
                        XCTAssertEqual(windows.map(\.length).reduce(0, +), 6, "\(name) \(steps)")
                        XCTAssertEqual(windows.first?.begin, reverse ? 0 : (5 / steps) * steps, "\(name) \(steps)")
                        let windowed = run(cell, reverse: reverse, lengths: lengths, fused: fused)
                        for key in ["dX", "dH0", "dC0", "dWeightIH", "dWeightHH", "dBiasIH", "dBiasHH"] {
                            guard let value = whole[key] else { continue }
                            assertClose(windowed[key], value, tolerance: 1e-5,
                                        "\(name) fused \(fused) reverse \(reverse) windows of \(steps): \(key)")
                        }
                    }
                }
            }
        }
    }

    /// The fused steps' own sigmoid and tanh (clamped, without subnormals) saturate cleanly on
    /// huge pre-activations and pass NaN on, on every instruction set (ReLU is unbounded).
    func testFusedStepsSaturateAndPassNaNOn() throws {
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            for (name, cell) in Self.cells where name != "relu" {
                let kernel = SequenceKernel(batch: 3, time: 2, input: 1, hidden: 20, cell: cell, lengths: [2, 2, 2], reverse: false)
                let width = kernel.gateWidth
                let weights = [Tensor(repeating: 1, shape: [width, 1]), Tensor(zeros: [width, 20]),
                               Tensor(zeros: [width]), Tensor(zeros: [width])]
                // Rows: huge positive, huge negative, NaN at the second step.
                let x = Tensor(shape: [3, 2, 1], scalars: [1e30, 1e4, -1e30, -1e4, 0.5, .nan])
                let c0 = cell.hasCellState ? Tensor(zeros: [3, 20]) : nil
                let y = kernel.forward(x: x, h0: Tensor(zeros: [3, 20]), c0: c0, weights: weights, saving: false).y
                for b in 0..<2 {
                    for value in y.scalars[(b * 40)..<(b * 40 + 40)] {
                        XCTAssertTrue(value.isFinite && abs(value) <= 1, "\(isa) \(name) row \(b): \(value)")
                    }
                }
                XCTAssertTrue(y.scalars[80..<100].allSatisfy(\.isFinite), "\(isa) \(name): first step of the NaN row")
                XCTAssertTrue(y.scalars[100..<120].allSatisfy(\.isNaN), "\(isa) \(name): NaN passes on")
            }
        }
    }

    /// The fused steps' tanh (a rational function, not the exp-based rk_tanh) within 6 ulp of
    /// Double's over the float range, never beyond +-1, through an Elman cell whose sum is x itself
    /// (W_ih = 1, W_hh = 0, no bias): every input is one batch row.
    func testFusedTanhIsWithinSixUlp() throws {
        let inputs = KernelTests.sweep
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            let kernel = SequenceKernel(batch: inputs.count, time: 1, input: 1, hidden: 1, cell: ElmanKernel(relu: false),
                                        lengths: Array(repeating: 1, count: inputs.count), reverse: false)
            let weights = [Tensor(repeating: 1, shape: [1, 1]), Tensor(zeros: [1, 1]), Tensor(zeros: [1]), Tensor(zeros: [1])]
            let x = Tensor(shape: [inputs.count, 1, 1], scalars: inputs)
            let y = kernel.forward(x: x, h0: Tensor(zeros: [inputs.count, 1]), c0: nil, weights: weights, saving: false).y
            var worst = 0.0
            for (input, output) in zip(inputs, y.scalars) {
                if input.isNaN {
                    XCTAssertTrue(output.isNaN, "\(isa): tanh(NaN) = \(output)")
                    continue
                }
                let expected = Foundation.tanh(Double(input))
                let ulp = Double(Float(expected).magnitude.ulp)
                let error = abs(Double(output) - expected) / ulp
                worst = max(worst, error)
                XCTAssertTrue(error <= 6 && abs(output) <= 1, "\(isa): tanh(\(input)) = \(output), expected \(expected)")
                if error > 6 || abs(output) > 1 { break }
            }
            XCTAssertLessThanOrEqual(worst, 6, isa)
        }
    }

    /// Inference saves nothing and gives the training forward's outputs bit for bit.
    func testInferenceSkipsTheSavedValues() throws {
        for (name, cell) in Self.cells {
            let kernel = SequenceKernel(batch: 2, time: 3, input: 2, hidden: 20, cell: cell,
                                        lengths: [3, 2], reverse: false)
            var rng = SplitMix64(seed: 5)
            let weights = [Tensor.uniform(shape: [kernel.gateWidth, 2], low: -0.5, high: 0.5, using: &rng),
                           Tensor.uniform(shape: [kernel.gateWidth, 20], low: -0.5, high: 0.5, using: &rng),
                           Tensor(zeros: [kernel.gateWidth]), Tensor(zeros: [kernel.gateWidth])]
            let x = Tensor.uniform(shape: [2, 3, 2], low: -1, high: 1, using: &rng)
            let c0 = cell.hasCellState ? Tensor(zeros: [2, 20]) : nil
            let training = kernel.forward(x: x, h0: Tensor(zeros: [2, 20]), c0: c0, weights: weights, saving: true)
            let inference = kernel.forward(x: x, h0: Tensor(zeros: [2, 20]), c0: c0, weights: weights, saving: false)
            XCTAssertNil(inference.saved, name)
            XCTAssertNotNil(training.saved, name)
            XCTAssertEqual(inference.y.scalars, training.y.scalars, name)
            XCTAssertEqual(inference.hN.scalars, training.hN.scalars, name)
        }
    }
}
