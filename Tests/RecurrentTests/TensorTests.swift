import XCTest
@testable import Recurrent

final class TensorTests: XCTestCase {
    func testMatmulAgainstNaive() {
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 300, 129), (130, 70, 600)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                var rng = SplitMix64(seed: UInt64(m * 1000 + n * 10 + k))
                let a = Tensor(shape: ta ? [k, m] : [m, k], scalars: (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 })
                let b = Tensor(shape: tb ? [n, k] : [k, n], scalars: (0..<(k * n)).map { _ in rng.nextFloat() - 0.5 })
                let c = a.matmul(b, transposeSelf: ta, transposeOther: tb)
                var worst: Float = 0
                for i in 0..<m {
                    for j in 0..<n {
                        var expected = 0.0
                        for p in 0..<k {
                            let av = ta ? a.scalars[p * m + i] : a.scalars[i * k + p]
                            let bv = tb ? b.scalars[j * k + p] : b.scalars[p * n + j]
                            expected += Double(av) * Double(bv)
                        }
                        worst = max(worst, abs(c.scalars[i * n + j] - Float(expected)))
                    }
                }
                XCTAssertLessThan(worst, 1e-4, "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb): largest difference \(worst)")
            }
        }
    }
}
