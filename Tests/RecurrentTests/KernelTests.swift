import CRecurrentKernels
import Foundation
import XCTest
@testable import Recurrent

/// The C kernels, on every instruction set this CPU can run: matrix products against a Double
/// reference, and the gate nonlinearities against Double's exp and tanh.
final class KernelTests: XCTestCase {
    /// The instruction sets to test: the automatic choice and every lesser one this CPU runs.
    static let instructionSets: [String] = ["avx512", "avx2", "generic"].filter { rk_force_isa($0) == 0 }

    override func tearDown() {
        rk_force_isa(nil)
        super.tearDown()
    }

    /// The first index where two arrays differ bit for bit (NaNs compared by pattern), if any.
    func firstDifference(_ x: [Float], _ y: [Float]) -> Int? {
        if x.count != y.count { return min(x.count, y.count) }
        return x.indices.first { x[$0].bitPattern != y[$0].bitPattern }
    }

    func forEachInstructionSet(_ body: (String) throws -> Void) rethrows {
        XCTAssertFalse(Self.instructionSets.isEmpty)
        for isa in Self.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            try body(isa)
        }
        rk_force_isa(nil)
    }

    // MARK: - GEMM

    /// One product's operands, stored with padded leading dimensions.
    struct Problem {
        var m, n, k: Int
        var transA, transB: Bool
        var alpha, beta: Float
        var lda, ldb, ldc: Int
        var a, b, c: [Float]

        init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float,
             pad: Int, rng: inout SplitMix64) {
            (self.m, self.n, self.k, self.transA, self.transB, self.alpha, self.beta) = (m, n, k, transA, transB, alpha, beta)
            lda = (transA ? m : k) + pad
            ldb = (transB ? k : n) + pad
            ldc = n + pad
            a = (0..<((transA ? k : m) * lda)).map { _ in rng.nextFloat() * 2 - 1 }
            b = (0..<((transB ? n : k) * ldb)).map { _ in rng.nextFloat() * 2 - 1 }
            c = (0..<(m * ldc)).map { _ in rng.nextFloat() * 2 - 1 }
        }

        func opA(_ i: Int, _ p: Int) -> Float { transA ? a[p * lda + i] : a[i * lda + p] }
        func opB(_ p: Int, _ j: Int) -> Float { transB ? b[j * ldb + p] : b[p * ldb + j] }

        /// Runs rk_sgemm on columns [n0, n1) of a copy of c.
        func run(n0: Int, n1: Int) -> [Float] {
            var out = c
            rk_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
                     b, Int32(ldb), beta, &out, Int32(ldc), Int32(n0), Int32(n1))
            return out
        }

        /// Checks `out` against the Double reference on [n0, n1) and that nothing else changed.
        func check(_ out: [Float], n0: Int, n1: Int, _ label: String) {
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<ldc {
                    let got = out[i * ldc + j]
                    guard j >= n0 && j < n1 else {
                        if got.bitPattern != c[i * ldc + j].bitPattern {
                            XCTFail("\(label): C[\(i), \(j)] outside the column range changed")
                            return
                        }
                        continue
                    }
                    var sum = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        let product = Double(opA(i, p)) * Double(opB(p, j))
                        sum += product
                        magnitude += abs(product)
                    }
                    let old = Double(c[i * ldc + j])
                    let expected = Double(alpha) * sum + (beta == 0 ? 0 : Double(beta) * old)
                    // Float rounding in a sum of k products, then the scaling: a bound, not an estimate.
                    let bound = 1.2e-7 * Double(k + 4) * (abs(Double(alpha)) * magnitude + abs(Double(beta) * old)) + 1e-30
                    let error = abs(Double(got) - expected)
                    worst = max(worst, error / bound)
                    if !(error <= bound) {
                        XCTFail("\(label): C[\(i), \(j)] = \(got), expected \(expected) (bound \(bound))")
                        return
                    }
                }
            }
        }
    }

    static let awkwardSizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33,
                               47, 63, 64, 65, 96, 127, 129, 255, 257, 300, 513]

    func testGemmMatchesDoubleReferenceOnAwkwardShapes() {
        forEachInstructionSet { isa in
            var rng = SplitMix64(seed: 42)
            for trial in 0..<160 {
                let sizes = Self.awkwardSizes
                let m = sizes[Int(rng.next() % UInt64(sizes.count))]
                let n = sizes[Int(rng.next() % UInt64(sizes.count))]
                // Depth past one packed block (256) now and then.
                let k = trial % 10 == 0 ? 600 : sizes[Int(rng.next() % UInt64(sizes.count))]
                let scalings: [(Float, Float)] = [(1, 0), (1, 1), (0.5, -1.5), (-2, 0.25)]
                let (alpha, beta) = scalings[trial % scalings.count]
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    let problem = Problem(m: m, n: n, k: k, transA: ta, transB: tb, alpha: alpha, beta: beta,
                                          pad: trial % 3, rng: &rng)
                    let label = "\(isa) m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) alpha=\(alpha) beta=\(beta)"
                    problem.check(problem.run(n0: 0, n1: n), n0: 0, n1: n, label)
                }
            }
        }
    }

    /// A product with one column (a matrix-vector product) gives each element the same bits
    /// whichever rows a call computes, as a split of the rows across threads does.
    func testOneColumnProductsDoNotDependOnTheRowSplit() {
        forEachInstructionSet { isa in
            var rng = SplitMix64(seed: 11)
            for (m, k) in [(300, 77), (129, 1600), (17, 5)] {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    let problem = Problem(m: m, n: 1, k: k, transA: ta, transB: tb, alpha: 0.5, beta: 1, pad: 2, rng: &rng)
                    let whole = problem.run(n0: 0, n1: 1)
                    problem.check(whole, n0: 0, n1: 1, "\(isa) m=\(m) k=\(k) ta=\(ta) tb=\(tb)")
                    var split = problem.c
                    for (m0, m1) in [(0, m / 3), (m / 3, m)] {
                        let rows = m1 - m0
                        let aOffset = ta ? m0 : m0 * problem.lda
                        problem.a.withUnsafeBufferPointer { a in
                            split.withUnsafeMutableBufferPointer { c in
                                rk_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(rows), 1, Int32(k), problem.alpha,
                                         a.baseAddress! + aOffset, Int32(problem.lda), problem.b, Int32(problem.ldb),
                                         problem.beta, c.baseAddress! + m0 * problem.ldc, Int32(problem.ldc), 0, 1)
                            }
                        }
                    }
                    XCTAssertEqual(split.map(\.bitPattern), whole.map(\.bitPattern), "\(isa) m=\(m) k=\(k) ta=\(ta) tb=\(tb)")
                }
            }
        }
    }

    func testGemmOnTheShapesOfRecurrentLayers() {
        // Batch x 4*hidden x hidden, forward (A * W^T, A * W) and backward (dY^T * X, dY * W).
        forEachInstructionSet { isa in
            var rng = SplitMix64(seed: 7)
            // (1, 512) and (3, 512): B of a million values, read by the streaming tiles.
            for (batch, hidden) in [(1, 64), (2, 64), (5, 128), (8, 96), (16, 256), (33, 64), (64, 128), (1, 512), (3, 512)] {
                let n = 4 * hidden
                for (ta, tb) in [(false, true), (false, false), (true, false), (false, true)] {
                    let problem = Problem(m: ta ? n : batch, n: ta ? hidden : n, k: ta ? batch : hidden,
                                          transA: ta, transB: tb, alpha: 1, beta: 1, pad: 0, rng: &rng)
                    problem.check(problem.run(n0: 0, n1: problem.n), n0: 0, n1: problem.n,
                                  "\(isa) batch=\(batch) hidden=\(hidden) ta=\(ta) tb=\(tb)")
                }
            }
        }
    }

    func testGemmColumnRangesTouchOnlyTheirColumnsAndAgreeBitForBit() {
        forEachInstructionSet { isa in
            var rng = SplitMix64(seed: 99)
            for (m, n, k) in [(1, 200, 70), (3, 129, 33), (7, 300, 300), (20, 257, 64), (70, 530, 19)] {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    let problem = Problem(m: m, n: n, k: k, transA: ta, transB: tb, alpha: 0.75, beta: 0.5,
                                          pad: 1, rng: &rng)
                    let whole = problem.run(n0: 0, n1: n)
                    for (n0, n1) in [(0, 0), (5, 6), (0, 64), (17, 101), (n / 2, n), (n - 1, n)] {
                        let part = problem.run(n0: n0, n1: n1)
                        let label = "\(isa) m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) [\(n0), \(n1))"
                        problem.check(part, n0: n0, n1: n1, label)
                        for i in 0..<m {
                            for j in n0..<n1 where part[i * problem.ldc + j] != whole[i * problem.ldc + j] {
                                XCTFail("\(label): C[\(i), \(j)] differs from the whole product's")
                                return
                            }
                        }
                    }
                }
            }
        }
    }

    func testGemmRowBlocksOfANonTransposedBAgreeBitForBit() {
        // Few rows read B in place, more rows pack it: both must give the same bits, so that a
        // split of the rows across threads changes nothing.
        forEachInstructionSet { isa in
            var rng = SplitMix64(seed: 5)
            for ta in [false, true] {
                let problem = Problem(m: 29, n: 150, k: 300, transA: ta, transB: false, alpha: 1.5, beta: -0.5,
                                      pad: 0, rng: &rng)
                let whole = problem.run(n0: 0, n1: problem.n)
                for rows in [1, 2, 3, 4, 5, 8] {
                    var out = problem.c
                    var m0 = 0
                    while m0 < problem.m {
                        let count = min(rows, problem.m - m0)
                        let aOffset = ta ? m0 : m0 * problem.lda
                        problem.a.withUnsafeBufferPointer { a in
                            out.withUnsafeMutableBufferPointer { c in
                                rk_sgemm(ta ? 1 : 0, 0, Int32(count), Int32(problem.n), Int32(problem.k), problem.alpha,
                                         a.baseAddress! + aOffset, Int32(problem.lda), problem.b, Int32(problem.ldb),
                                         problem.beta, c.baseAddress! + m0 * problem.ldc, Int32(problem.ldc),
                                         0, Int32(problem.n))
                            }
                        }
                        m0 += count
                    }
                    if let index = firstDifference(out, whole) {
                        XCTFail("\(isa) ta=\(ta): blocks of \(rows) rows differ from the whole at \(index)")
                    }
                }
            }
        }
    }

    func testGemmSpecialScalings() {
        forEachInstructionSet { isa in
            var rng = SplitMix64(seed: 3)
            for (m, n, k, tb) in [(2, 40, 9, true), (2, 40, 9, false), (30, 70, 300, false), (30, 70, 300, true)] {
                // beta = 0 ignores C entirely, NaNs included.
                var problem = Problem(m: m, n: n, k: k, transA: false, transB: tb, alpha: 1, beta: 0, pad: 0, rng: &rng)
                problem.c = [Float](repeating: .nan, count: problem.c.count)
                let cleared = problem.run(n0: 0, n1: n)
                XCTAssertFalse(cleared.contains { $0.isNaN }, "\(isa) beta = 0 kept a NaN of C")
                // alpha = 0 only scales C (and reads neither A nor B's values into it).
                problem = Problem(m: m, n: n, k: k, transA: false, transB: tb, alpha: 0, beta: -2, pad: 0, rng: &rng)
                problem.a = problem.a.map { _ in .nan }
                XCTAssertNil(firstDifference(problem.run(n0: 0, n1: n), problem.c.map { -2 * $0 }), "\(isa) alpha = 0")
            }
            // K = 0: C = beta * C.
            var c: [Float] = [1, 2, 3, 4, 5, 6]
            let none: [Float] = [0]
            rk_sgemm(0, 0, 2, 3, 0, 1, none, 1, none, 3, 0.5, &c, 3, 0, 3)
            XCTAssertEqual(c, [0.5, 1, 1.5, 2, 2.5, 3])
        }
    }

    func testGemmThreadCountsGiveIdenticalResultsRunToRun() {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        var rng = SplitMix64(seed: 11)
        // Shapes big enough to be split, along columns and along rows.
        for (m, n, k) in [(64, 1024, 256), (4, 2048, 512), (700, 96, 300), (300, 300, 300), (1, 4096, 1024)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let problem = Problem(m: m, n: n, k: k, transA: ta, transB: tb, alpha: 1, beta: 0, pad: 0, rng: &rng)
                var results: [[Float]] = []
                for threads in [1, 2, 1, 2] {
                    Parallel.threadCount = threads
                    var out = problem.c
                    problem.a.withUnsafeBufferPointer { a in
                        problem.b.withUnsafeBufferPointer { b in
                            out.withUnsafeMutableBufferPointer { c in
                                Kernels.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a.baseAddress!, lda: problem.lda,
                                             b.baseAddress!, ldb: problem.ldb, c.baseAddress!, ldc: problem.ldc)
                            }
                        }
                    }
                    results.append(out)
                }
                let label = "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb)"
                XCTAssertNil(firstDifference(results[0], results[2]), "\(label): one thread, two runs differ")
                XCTAssertNil(firstDifference(results[1], results[3]), "\(label): two threads, two runs differ")
                XCTAssertNil(firstDifference(results[0], results[1]), "\(label): one and two threads differ")
                if m * n <= 64 * 1024 { problem.check(results[1], n0: 0, n1: n, label) }
            }
        }
    }

    func testGemmSplitsFollowTheShape() {
        XCTAssertEqual(Kernels.split(m: 8, n: 64, k: 64, threads: 2), .none)
        XCTAssertEqual(Kernels.split(m: 1, n: 256, k: 64, threads: 2), .none)
        XCTAssertEqual(Kernels.split(m: 64, n: 64, k: 64, threads: 2), .columns(parts: 2))
        XCTAssertEqual(Kernels.split(m: 64, n: 1024, k: 256, threads: 1), .none)
        XCTAssertEqual(Kernels.split(m: 64, n: 1024, k: 256, threads: 2), .columns(parts: 2))
        XCTAssertEqual(Kernels.split(m: 1, n: 4096, k: 1024, threads: 2), .columns(parts: 2))
        XCTAssertEqual(Kernels.split(m: 5000, n: 64, k: 256, threads: 2), .rows(parts: 2))
        XCTAssertEqual(Kernels.split(m: 700, n: 40, k: 300, threads: 3), .rows(parts: 3))
        // Too narrow and too short to share: one thread.
        XCTAssertEqual(Kernels.split(m: 30, n: 40, k: 5000, threads: 2), .none)
        XCTAssertEqual(Kernels.split(m: 47, n: 31, k: 5000, threads: 2), .none)
        // Cuts: near the middle, on whole tiles, every part non-empty.
        func cuts(_ extent: Int, _ parts: Int, _ grain: Int) -> [Int] {
            (0...parts).map { Kernels.cut($0, of: extent, parts: parts, grain: grain) }
        }
        XCTAssertEqual(cuts(1024, 2, 32), [0, 512, 1024])
        XCTAssertEqual(cuts(1000, 2, 32), [0, 512, 1000])
        XCTAssertEqual(cuts(130, 2, 32), [0, 64, 130])
        XCTAssertEqual(cuts(5000, 2, 24), [0, 2496, 5000])
        XCTAssertEqual(cuts(700, 3, 24), [0, 240, 456, 700])
        for extent in 64...700 {
            for parts in 2...max(2, min(8, extent / 32)) where extent >= parts * 32 {
                let c = cuts(extent, parts, 32)
                XCTAssertTrue(zip(c, c.dropFirst()).allSatisfy { $0 < $1 }, "\(extent) in \(parts): \(c)")
                XCTAssertTrue(c.dropLast().allSatisfy { $0 % 32 == 0 }, "\(extent) in \(parts): \(c)")
            }
        }
    }

    // MARK: - Gate nonlinearities

    /// Float inputs spread over the whole range (every 4099th bit pattern), plus the edges.
    static let sweep: [Float] = {
        var values: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, -Float.nan, .leastNonzeroMagnitude,
                               -.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
                               -.greatestFiniteMagnitude, 0.625, -0.625, 0.62499994, 9, -9, 20, -20, 88, -88,
                               -87.5, -100, -103.9, -104, -110]
        var bits: UInt64 = 0
        while bits < 1 << 32 {
            values.append(Float(bitPattern: UInt32(bits)))
            bits += 4099
        }
        for i in -4000...4000 { values.append(Float(i) / 100) }
        return values
    }()

    /// Checks f against a Double reference: relative error below 1e-6 where the result is a
    /// normal float, and at most one subnormal step below that; NaN in, NaN out.
    func checkActivation(_ name: String, _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int64) -> Void,
                         reference: (Double) -> Double) {
        forEachInstructionSet { isa in
            let inputs = Self.sweep
            var outputs = [Float](repeating: 0, count: inputs.count)
            kernel(inputs, &outputs, Int64(inputs.count))
            var worst = 0.0
            for (x, y) in zip(inputs, outputs) {
                if x.isNaN {
                    if !y.isNaN { XCTFail("\(isa) \(name)(NaN) = \(y)"); return }
                    continue
                }
                let expected = reference(Double(x))
                let error = abs(Double(y) - expected)
                if abs(expected) >= Double(Float.leastNormalMagnitude) {
                    worst = max(worst, error / abs(expected))
                    if error > 1e-6 * abs(expected) {
                        XCTFail("\(isa) \(name)(\(x)) = \(y), expected \(expected)")
                        return
                    }
                } else if error > Double(Float.leastNonzeroMagnitude) {
                    XCTFail("\(isa) \(name)(\(x)) = \(y), expected \(expected) (subnormal)")
                    return
                }
            }
            XCTAssertLessThan(worst, 1e-6)
        }
    }

    static func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }

    func testSigmoidIsAccurateOverTheFloatRange() {
        checkActivation("sigmoid", rk_sigmoid, reference: Self.sigmoid)
    }

    func testTanhIsAccurateOverTheFloatRange() {
        checkActivation("tanh", rk_tanh, reference: { Foundation.tanh($0) })
    }

    func testActivationsSaturateExactlyAndKeepSigns() {
        forEachInstructionSet { isa in
            let inputs: [Float] = [.infinity, -.infinity, 100, -100, 30, -30, 0, -0.0, 1e-30, -1e-30]
            var s = [Float](repeating: 0, count: inputs.count), t = s
            rk_sigmoid(inputs, &s, Int64(inputs.count))
            rk_tanh(inputs, &t, Int64(inputs.count))
            XCTAssertEqual(s[0], 1, isa); XCTAssertEqual(s[1], 0, isa); XCTAssertEqual(s[2], 1, isa)
            XCTAssertEqual(Double(s[3]), Self.sigmoid(-100), accuracy: 1e-45, isa)
            XCTAssertEqual(s[4], 1, isa); XCTAssertEqual(s[6], 0.5, isa); XCTAssertEqual(s[7], 0.5, isa)
            XCTAssertEqual(t[0], 1, isa); XCTAssertEqual(t[1], -1, isa); XCTAssertEqual(t[2], 1, isa)
            XCTAssertEqual(t[3], -1, isa); XCTAssertEqual(t[4], 1, isa); XCTAssertEqual(t[5], -1, isa)
            XCTAssertEqual(t[6].bitPattern, Float(0).bitPattern, isa)
            XCTAssertEqual(t[7].bitPattern, Float(-0.0).bitPattern, "\(isa): tanh(-0) keeps its sign")
            XCTAssertEqual(t[8], 1e-30, isa); XCTAssertEqual(t[9], -1e-30, isa)
        }
    }

    /// Binary cross-entropy on logits over the float range, for targets 0, 1 and between,
    /// against Double: softplus(-x) = log1p(e^-x) for x >= 0 and -x + log1p(e^x) below, the
    /// slope (1 - y) - sigmoid(-x). Relative error below 2e-6 of the term (its two parts added:
    /// (1 - y) x and softplus cancel where x is large and y near 1) and 1e-6 of the slope's scale.
    func testBinaryCrossEntropyOnLogitsIsAccurateOverTheFloatRange() {
        forEachInstructionSet { isa in
            let logits = Self.sweep.filter { $0.isFinite && abs($0) < 1e30 }
            for target: Float in [0, 1, 0.3] {
                let targets = [Float](repeating: target, count: logits.count)
                var terms = [Float](repeating: 0, count: logits.count), slopes = terms
                rk_bce_with_logits(logits, targets, &terms, &slopes, Int64(logits.count))
                for (i, x) in logits.enumerated() {
                    let d = Double(x), y = Double(target)
                    let softplus = max(-d, 0) + Foundation.log1p(exp(-abs(d)))
                    let term = (1 - y) * d + softplus
                    let slope = (1 - y) - Self.sigmoid(-d)
                    let scale = abs((1 - y) * d) + softplus
                    if abs(Double(terms[i]) - term) > 2e-6 * scale + 1e-45 {
                        XCTFail("\(isa) term(x \(x), y \(target)) = \(terms[i]), expected \(term)")
                        return
                    }
                    if abs(Double(slopes[i]) - slope) > 1e-6 * max(abs(slope), Self.sigmoid(-d)) + 1e-45 {
                        XCTFail("\(isa) slope(x \(x), y \(target)) = \(slopes[i]), expected \(slope)")
                        return
                    }
                }
            }
        }
    }

    /// Dropout's mask in C is SplitMix64's draws one after another, as the generator gives them
    /// in Swift, on every instruction set and length.
    func testDropoutMaskIsTheGeneratorsDraws() {
        forEachInstructionSet { isa in
            for (seed, probability) in [(UInt64(7), Float(0.3)), (0xFFFF_FFFF_FFFF_FFF0, 0.5), (12345, 0.9)] {
                var generator = SplitMix64(seed: seed)
                let expected = (0..<301).map { _ in generator.nextFloat() >= probability ? Float(2.5) : 0 }
                for count in [0, 1, 7, 16, 17, 64, 301] {
                    var mask = [Float](repeating: -1, count: count)
                    mask.withUnsafeMutableBufferPointer { p in
                        if let base = p.baseAddress { rk_dropout_mask(seed, probability, 2.5, base, Int64(count)) }
                    }
                    XCTAssertEqual(mask, Array(expected[..<count]), "\(isa) seed \(seed) length \(count)")
                }
            }
        }
    }

    func testActivationsHandleEveryLengthAndWorkInPlace() {
        forEachInstructionSet { isa in
            var rng = SplitMix64(seed: 1)
            let values = (0..<67).map { _ in rng.nextFloat() * 16 - 8 }
            var whole = [Float](repeating: 0, count: values.count)
            rk_tanh(values, &whole, Int64(values.count))
            for count in 0...values.count {
                var inPlace = Array(values[..<count])
                inPlace.withUnsafeMutableBufferPointer { p in
                    if let base = p.baseAddress { rk_tanh(base, base, Int64(count)) }
                }
                // Every lane gets the same operations: a value's result does not depend on its position.
                XCTAssertNil(firstDifference(inPlace, Array(whole[..<count])), "\(isa) length \(count)")
            }
        }
    }
}
