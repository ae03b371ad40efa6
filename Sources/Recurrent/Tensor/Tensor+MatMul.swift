import CRecurrentKernels

/// Matrix products on raw row-major buffers, split across `Parallel.threadCount` threads by
/// columns of the result.
enum Kernels {
    /// C[m,n] = alpha * op(A) op(B) + beta * C.
    static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        let work = m * n * max(k, 1)
        // Small products are not worth waking a second thread for.
        let parts = work < 1 << 18 ? 1 : min(Parallel.threadCount, max(1, n / 32))
        let chunk = ((n + parts - 1) / parts + 15) / 16 * 16
        let pointers = UncheckedSendable((a, b, c))
        Parallel.forEach(parts: parts) { part in
            let n0 = part * chunk, n1 = min(n, n0 + chunk)
            guard n0 < n1 else { return }
            let (a, b, c) = pointers.value
            rk_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                     a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc), Int32(n0), Int32(n1))
        }
    }

    static var instructionSet: String { String(cString: rk_isa_name()) }
}

extension Tensor {
    /// The matrix product of two rank-2 tensors, optionally transposing either.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank == 2 && other.rank == 2, "matmul needs matrices, got \(shape) and \(other.shape)")
        let m = transposeSelf ? shape[1] : shape[0]
        let k = transposeSelf ? shape[0] : shape[1]
        let k2 = transposeOther ? other.shape[1] : other.shape[0]
        let n = transposeOther ? other.shape[0] : other.shape[1]
        precondition(k == k2, "matmul inner sizes differ: \(shape) and \(other.shape)")
        var result = Tensor(zeros: [m, n])
        if k == 0 || m == 0 || n == 0 { return result }
        withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                result.withUnsafeMutableBufferPointer { c in
                    Kernels.gemm(transA: transposeSelf, transB: transposeOther, m: m, n: n, k: k,
                                 a.baseAddress!, lda: shape[1], b.baseAddress!, ldb: other.shape[1],
                                 c.baseAddress!, ldc: n)
                }
            }
        }
        return result
    }
}
