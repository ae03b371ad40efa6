import CRecurrentKernels

/// Matrix products on raw row-major buffers, split across `Parallel.threadCount` threads.
///
/// The split depends only on the shape and the thread count, and each part is computed by the
/// same C kernel with the same blocking along K, so a given thread count gives the same bits on
/// every run.
enum Kernels {
    /// Products below this many multiply-adds run on the calling thread: waking a second one
    /// costs a few microseconds, about what 1M multiply-adds take on one core.
    static let parallelThreshold = 1 << 20
    /// Column split points are multiples of this, so that every part keeps whole register tiles.
    static let columnGrain = 64
    /// Row split points are multiples of this (a multiple of every micro-kernel's row count).
    static let rowGrain = 24

    /// How a product is divided between threads.
    enum Split: Equatable {
        case none
        /// `parts` ranges of columns, each a multiple of `chunk` wide except the last.
        case columns(parts: Int, chunk: Int)
        /// `parts` ranges of rows.
        case rows(parts: Int, chunk: Int)
    }

    /// The split for an m x n x k product on `threads` threads.
    static func split(m: Int, n: Int, k: Int, threads: Int) -> Split {
        guard threads > 1, m * n * max(k, 1) >= parallelThreshold else { return .none }
        func chunk(_ extent: Int, _ parts: Int, _ grain: Int) -> Int {
            ((extent + parts - 1) / parts + grain - 1) / grain * grain
        }
        // Columns first: each thread then packs only its own part of B and reads all of A, which
        // for the products recurrent layers make (few rows, many columns) is the small operand.
        let columnParts = min(threads, n / columnGrain)
        if columnParts >= threads || (columnParts > 1 && m < rowGrain * threads) {
            let width = chunk(n, columnParts, columnGrain)
            return .columns(parts: (n + width - 1) / width, chunk: width)
        }
        let rowParts = min(threads, m / rowGrain)
        if rowParts > 1 {
            let height = chunk(m, rowParts, rowGrain)
            return .rows(parts: (m + height - 1) / height, chunk: height)
        }
        if columnParts > 1 {
            let width = chunk(n, columnParts, columnGrain)
            return .columns(parts: (n + width - 1) / width, chunk: width)
        }
        return .none
    }

    /// C[m,n] = alpha * op(A) op(B) + beta * C.
    static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        let ta: Int32 = transA ? 1 : 0, tb: Int32 = transB ? 1 : 0
        switch split(m: m, n: n, k: k, threads: Parallel.threadCount) {
        case .none:
            rk_sgemm(ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                     beta, c, Int32(ldc), 0, Int32(n))
        case let .columns(parts, chunk):
            let pointers = UncheckedSendable((a, b, c))
            Parallel.forEach(parts: parts) { part in
                let n0 = part * chunk, n1 = min(n, n0 + chunk)
                let (a, b, c) = pointers.value
                rk_sgemm(ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                         beta, c, Int32(ldc), Int32(n0), Int32(n1))
            }
        case let .rows(parts, chunk):
            let pointers = UncheckedSendable((a, b, c))
            Parallel.forEach(parts: parts) { part in
                let m0 = part * chunk, rows = min(m, m0 + chunk) - m0
                let (a, b, c) = pointers.value
                // Rows m0..<m0+rows of op(A) start at row m0 of A, or at column m0 of A^T.
                let aPart = transA ? a + m0 : a + m0 * lda
                rk_sgemm(ta, tb, Int32(rows), Int32(n), Int32(k), alpha, aPart, Int32(lda), b,
                         Int32(ldb), beta, c + m0 * ldc, Int32(ldc), 0, Int32(n))
            }
        }
    }

    /// The instruction set the C kernels chose for this CPU: "avx512", "avx2", "neon" or "generic".
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
        Tensor.gemm(self, other, into: &result, transposeA: transposeSelf, transposeB: transposeOther)
        return result
    }

    /// `c = alpha * op(a) op(b) + beta * c` for rank-2 tensors, writing into `c`'s storage
    /// (no allocation when `c` is uniquely referenced): for loops that reuse their buffers.
    /// With `beta == 0` the old values of `c` are ignored, NaNs included.
    public static func gemm(
        _ a: Tensor, _ b: Tensor, into c: inout Tensor, transposeA: Bool = false,
        transposeB: Bool = false, alpha: Float = 1, beta: Float = 0
    ) {
        precondition(a.rank == 2 && b.rank == 2 && c.rank == 2,
                     "gemm needs matrices, got \(a.shape), \(b.shape) and \(c.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let k2 = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == k2, "gemm inner sizes differ: \(a.shape) and \(b.shape)")
        precondition(c.shape == [m, n], "gemm result is \(c.shape), expected [\(m), \(n)]")
        if m == 0 || n == 0 { return }
        if k == 0 {
            // An empty sum: only the scaling of c is left.
            c.withUnsafeMutableBufferPointer { cp in
                for i in cp.indices { cp[i] = beta == 0 ? 0 : beta * cp[i] }
            }
            return
        }
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    Kernels.gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                 ap.baseAddress!, lda: a.shape[1], bp.baseAddress!, ldb: b.shape[1],
                                 beta: beta, cp.baseAddress!, ldc: n)
                }
            }
        }
    }
}
