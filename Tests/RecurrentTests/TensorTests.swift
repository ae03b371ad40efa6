import XCTest
@testable import Recurrent

final class TensorTests: XCTestCase {
    /// op(a) op(b) in Double.
    func naiveProduct(_ a: Tensor, _ b: Tensor, transposeA ta: Bool, transposeB tb: Bool) -> [Double] {
        let m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1]
        let n = tb ? b.shape[0] : b.shape[1]
        var result = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = ta ? a.scalars[p * m + i] : a.scalars[i * k + p]
                    let bv = tb ? b.scalars[j * k + p] : b.scalars[p * n + j]
                    sum += Double(av) * Double(bv)
                }
                result[i * n + j] = sum
            }
        }
        return result
    }

    func random(_ shape: [Int], _ rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() - 0.5 })
    }

    func testMatmulAgainstNaive() {
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 300, 129), (130, 70, 600), (2, 1000, 257)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                var rng = SplitMix64(seed: UInt64(m * 1000 + n * 10 + k))
                let a = random(ta ? [k, m] : [m, k], &rng)
                let b = random(tb ? [n, k] : [k, n], &rng)
                let c = a.matmul(b, transposeSelf: ta, transposeOther: tb)
                XCTAssertEqual(c.shape, [m, n])
                let expected = naiveProduct(a, b, transposeA: ta, transposeB: tb)
                let worst = zip(c.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-4, "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb): largest difference \(worst)")
            }
        }
    }

    func testMatmulWithAnEmptyInnerDimensionIsZero() {
        let a = Tensor(zeros: [3, 0]), b = Tensor(zeros: [0, 4])
        XCTAssertEqual(a.matmul(b), Tensor(zeros: [3, 4]))
    }

    func testGemmIntoAccumulatesWithAlphaAndBeta() {
        var rng = SplitMix64(seed: 21)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, n, k) = (9, 70, 40)
            let a = random(ta ? [k, m] : [m, k], &rng)
            let b = random(tb ? [n, k] : [k, n], &rng)
            let start = random([m, n], &rng)
            var c = start
            Tensor.gemm(a, b, into: &c, transposeA: ta, transposeB: tb, alpha: -0.5, beta: 2)
            let product = naiveProduct(a, b, transposeA: ta, transposeB: tb)
            for index in 0..<(m * n) {
                let expected = -0.5 * product[index] + 2 * Double(start.scalars[index])
                XCTAssertEqual(Double(c.scalars[index]), expected, accuracy: 1e-5, "ta=\(ta) tb=\(tb)")
            }
            // beta = 0 overwrites whatever was there, NaN included.
            var poisoned = Tensor(repeating: .nan, shape: [m, n])
            Tensor.gemm(a, b, into: &poisoned, transposeA: ta, transposeB: tb)
            XCTAssertTrue(poisoned == a.matmul(b, transposeSelf: ta, transposeOther: tb), "ta=\(ta) tb=\(tb)")
        }
    }

    func testMatmulIsBitIdenticalAcrossRunsAndThreadCounts() {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        var rng = SplitMix64(seed: 8)
        for (m, n, k) in [(64, 1024, 256), (512, 512, 512), (3000, 64, 128), (1, 4096, 1024)] {
            let a = random([m, k], &rng), b = random([n, k], &rng)
            var results: [Tensor] = []
            for threads in [1, 2, 2, 1, 2] {
                Parallel.threadCount = threads
                results.append(a.matmul(b, transposeOther: true))
            }
            for result in results.dropFirst() {
                let same = zip(result.scalars, results[0].scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
                XCTAssertTrue(same, "m=\(m) n=\(n) k=\(k): results differ between runs or thread counts")
            }
        }
    }
}
