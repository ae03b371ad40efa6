import CRecurrentKernels
import XCTest
@testable import Recurrent

/// The fused step on int8 weights (rk_recurrent_pack_int8 / rk_recurrent_forward) against a
/// Double reference run on the dequantized weights, on every instruction set this CPU runs.
final class QuantizedKernelTests: XCTestCase {
    override func tearDown() {
        rk_force_isa(nil)
        Parallel.threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount)
        super.tearDown()
    }

    /// 7 rows (a full register tile and a partial one); 150 units (partial blocks of 16 and 64);
    /// 300 inputs and 150 units cross the 256-wide segments of the int8 sums in both parts.
    func testInt8StepMatchesDoubleReferenceOnEveryInstructionSet() throws {
        try checkStepAgainstDoubleReference(seed: 5) { input, hidden, cell in
            let (inputMatrix, hiddenMatrix) = (Int8Matrix(quantizing: input), Int8Matrix(quantizing: hidden))
            return ([inputMatrix.dequantized, hiddenMatrix.dequantized], { gates, units, inputs in
                PackedRecurrentWeights(gates: gates, hidden: units, input: inputs, int8: (inputMatrix, hiddenMatrix))
            })
        }
    }

    /// The bfloat16 step against the Double reference on the rounded weights: the values are
    /// exact, so only the float sums' rounding differs.
    func testBFloat16StepMatchesDoubleReferenceOnEveryInstructionSet() throws {
        try checkStepAgainstDoubleReference(seed: 6) { input, hidden, cell in
            func rounded(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, scalars: t.scalars.map(roundedToBFloat16)) }
            let (w, u) = (rounded(input), rounded(hidden))
            return ([w, u], { gates, units, inputs in
                w.scalars.withUnsafeBufferPointer { wp in
                    u.scalars.withUnsafeBufferPointer { up in
                        PackedRecurrentWeights(gates: gates, hidden: units, input: inputs, bf16InputWeight: wp.baseAddress!, hiddenWeight: up.baseAddress!)
                    }
                }
            })
        }
    }

    /// Random float weights made into stored ones by `store` (which gives the values they stand
    /// for and a packer): every cell's fused step on every instruction set and 1 and 2 threads
    /// against the Double reference run on those values.
    func checkStepAgainstDoubleReference(
        seed: UInt64,
        _ store: (Tensor, Tensor, any CellKernel) -> (values: [Tensor], pack: (Int, Int, Int) -> PackedRecurrentWeights)
    ) throws {
        let (batch, time, input, hidden) = (7, 4, 300, 150)
        for (name, cell) in RecurrentKernelTests.cells {
            var rng = SplitMix64(seed: seed)
            let width = cell.gateCount * hidden
            let (values, pack) = store(Tensor.uniform(shape: [width, input], low: -0.06, high: 0.06, using: &rng),
                                       Tensor.uniform(shape: [width, hidden], low: -0.1, high: 0.1, using: &rng), cell)
            let biases = (0..<2).map { _ in Tensor.uniform(shape: [width], low: -0.3, high: 0.3, using: &rng) }
            let x = Tensor.uniform(shape: [batch, time, input], low: -1, high: 1, using: &rng)
            let h0 = Tensor.uniform(shape: [batch, hidden], low: -0.5, high: 0.5, using: &rng)
            let c0 = cell.hasCellState ? Tensor.uniform(shape: [batch, hidden], low: -0.5, high: 0.5, using: &rng) : nil
            let weights = values + biases
            let expected = DoubleRecurrentReference(cell: name, weights: weights).run(x: x, h0: h0, c0: c0)
            for isa in KernelTests.instructionSets {
                XCTAssertEqual(rk_force_isa(isa), 0)
                for threads in [1, 2] {
                    Parallel.threadCount = threads
                    let kernel = SequenceKernel(batch: batch, time: time, input: input, hidden: hidden, cell: cell,
                                                lengths: Array(repeating: time, count: batch), reverse: false)
                    let packed = pack(cell.gateCount, hidden, input)
                    XCTAssertTrue(packed.int8 != nil || packed.bf16 != nil, "the stored form is packed, not floats")
                    let result = kernel.forward(x: x, h0: h0, c0: c0, weights: weights, saving: false, packed: packed)
                    let context = "\(name) \(isa) \(threads) threads"
                    assertClose(result.y, expected.y, tolerance: 2e-5, context + " y")
                    assertClose(result.hN, expected.hN, tolerance: 2e-5, context + " h_n")
                    if let cN = result.cN { assertClose(cN, expected.cN ?? Tensor(zeros: [0]), tolerance: 2e-5, context + " c_n") }
                }
            }
        }
    }

    /// Round to nearest, ties to even, at 8 bits of mantissa; infinities and NaN kept.
    func testBFloat16RoundsToNearestEven() throws {
        let step = Float(1) / 128  // bfloat16's spacing in [1, 2)
        XCTAssertEqual(roundedToBFloat16(1 + step / 2), 1, "a tie goes to the even 1")
        XCTAssertEqual(roundedToBFloat16(1 + 3 * step / 2), 1 + 2 * step, "a tie goes to the even 1 + 2 steps")
        XCTAssertEqual(roundedToBFloat16(1 + step / 2 + step / 64), 1 + step, "past the tie rounds up")
        XCTAssertEqual(roundedToBFloat16(-3.1415927), -3.140625)
        XCTAssertEqual(roundedToBFloat16(.infinity), .infinity)
        XCTAssertTrue(roundedToBFloat16(.nan).isNaN)
        XCTAssertEqual(roundedToBFloat16(Float.greatestFiniteMagnitude), .infinity, "past bfloat16's largest finite value")
    }

    func testQuantizationRoundsEachRowToItsScale() throws {
        let matrix = Int8Matrix(quantizing: Tensor(shape: [3, 4], scalars: [0.5, -1.27, 0.01, 1, 0, 0, 0, 0, 2, 2, -2, 0.3]))
        XCTAssertEqual(matrix.scales, [0.01, 0, 2 / 127])
        XCTAssertEqual(Array(matrix.values[0..<4]), [50, -127, 1, 100])
        XCTAssertEqual(Array(matrix.values[4..<8]), [0, 0, 0, 0])
        XCTAssertEqual(Array(matrix.values[8..<12]), [127, 127, -127, 19])
    }
}

/// One direction of an Elman ("tanh", "relu"), LSTM or GRU (reset after) layer in Double,
/// PyTorch's equations; weights W_ih [G*H, I], W_hh [G*H, H], b_ih, b_hh [G*H].
struct DoubleRecurrentReference {
    let cell: String
    let weights: [Tensor]

    func run(x: Tensor, h0: Tensor, c0: Tensor?) -> (y: Tensor, hN: Tensor, cN: Tensor?) {
        let (batch, time, input) = (x.shape[0], x.shape[1], x.shape[2]), hidden = h0.shape[1]
        let w = weights.map { $0.scalars.map(Double.init) }
        let gates = w[2].count / hidden
        var y = [Float](repeating: 0, count: batch * time * hidden)
        var hN = [Float](), cN = [Float]()
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        for b in 0..<batch {
            var h = (0..<hidden).map { Double(h0.scalars[b * hidden + $0]) }
            var c = (0..<hidden).map { Double(c0?.scalars[b * hidden + $0] ?? 0) }
            for t in 0..<time {
                let xt = (0..<input).map { Double(x.scalars[(b * time + t) * input + $0]) }
                // The input and hidden parts of every gate row, each with its bias.
                let inputPart = (0..<(gates * hidden)).map { r in (0..<input).reduce(w[2][r]) { $0 + w[0][r * input + $1] * xt[$1] } }
                let hiddenPart = (0..<(gates * hidden)).map { r in (0..<hidden).reduce(w[3][r]) { $0 + w[1][r * hidden + $1] * h[$1] } }
                let sum = zip(inputPart, hiddenPart).map(+)
                var next = h
                for j in 0..<hidden {
                    switch cell {
                    case "lstm":
                        let (i, f, g, o) = (sigmoid(sum[j]), sigmoid(sum[hidden + j]), Foundation.tanh(sum[2 * hidden + j]), sigmoid(sum[3 * hidden + j]))
                        c[j] = f * c[j] + i * g
                        next[j] = o * Foundation.tanh(c[j])
                    case "gru":
                        let (r, z) = (sigmoid(sum[j]), sigmoid(sum[hidden + j]))
                        let n = Foundation.tanh(inputPart[2 * hidden + j] + r * hiddenPart[2 * hidden + j])
                        next[j] = (1 - z) * n + z * h[j]
                    case "relu": next[j] = max(0, sum[j])
                    default: next[j] = Foundation.tanh(sum[j])
                    }
                }
                h = next
                for j in 0..<hidden { y[(b * time + t) * hidden + j] = Float(h[j]) }
            }
            hN += h.map(Float.init)
            cN += c.map(Float.init)
        }
        return (Tensor(shape: [batch, time, hidden], scalars: y), Tensor(shape: [batch, hidden], scalars: hN),
                c0 == nil ? nil : Tensor(shape: [batch, hidden], scalars: cN))
    }
}
