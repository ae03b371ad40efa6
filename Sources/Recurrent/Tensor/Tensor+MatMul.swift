import CRecurrentKernels

/// Matrix products on raw row-major buffers, split across `Parallel.threadCount` threads.
///
/// The split depends only on the shape and the thread count, and each part is computed by the
/// same C kernel with the same blocking along K, so a given thread count gives the same bits on
/// every run.
enum Kernels {
    /// Products cheaper than this run on the calling thread. Handing a part to a pooled worker
    /// that is awake costs under a microsecond; measured here, splitting pays from about 250K
    /// multiply-adds (64 x 64 x 64) up. The cost counts n * k * (m + 8): with few rows a product
    /// is bound by reading B, not by arithmetic.
    static let parallelThreshold = 1 << 18
    /// Split points are multiples of these: whole register tiles for every instruction set
    /// (columns: 32 = the widest tile; rows: 24, a multiple of every tile's row count).
    static let columnGrain = 32
    static let rowGrain = 24
    /// The largest B (N x K floats) for which rk_sgemm_rows_alike takes the dot products for
    /// A * B^T at any row count, for the instruction set in use (RK_DOT_CACHED in gemm.c).
    static var rowsAlikeDotFloats: Int { Int(rk_sgemm_rows_alike_cached_floats()) }

    /// How a product is divided between threads: `parts` ranges of columns or of rows, part p
    /// covering [cut(p), cut(p + 1)) (see `cut`).
    enum Split: Equatable {
        case none
        case columns(parts: Int)
        case rows(parts: Int)
    }

    /// The start of part p of `parts` nearly equal ranges of `extent`, on a multiple of `grain`
    /// (cut(0) = 0, cut(parts) = extent). With extent >= parts * grain every part is non-empty.
    @inline(__always)
    static func cut(_ p: Int, of extent: Int, parts: Int, grain: Int) -> Int {
        if p >= parts { return extent }
        let ideal = Double(extent) * Double(p) / Double(parts)
        return Int((ideal / Double(grain)).rounded()) * grain
    }

    /// The split for an m x n x k product on `threads` threads. Depends only on these numbers,
    /// and the C kernel gives every element the same bits whichever part computes it, so the
    /// result is the same for any thread count.
    static func split(m: Int, n: Int, k: Int, threads: Int) -> Split {
        guard threads > 1, n * max(k, 1) * (m + 8) >= parallelThreshold else { return .none }
        // Split the longer side: with columns split, every thread packs all of A (m x k); with rows
        // split, all of B (k x n). Recurrent layers' products (few rows, many columns) split by
        // columns, weight gradients with few inputs by rows.
        let columnParts = min(threads, n / columnGrain)
        let rowParts = min(threads, m / rowGrain)
        let byColumns = columnParts == rowParts ? n >= m : columnParts > rowParts
        if byColumns && columnParts > 1 { return .columns(parts: columnParts) }
        if !byColumns && rowParts > 1 { return .rows(parts: rowParts) }
        return .none
    }

    /// C[m,n] = alpha * op(A) op(B) + beta * C. With `rowsAlike`, an element's bits do not depend
    /// on m either (see rk_sgemm_rows_alike): for inference, where one step at a time must give
    /// what the whole sequence gives.
    static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int, rowsAlike: Bool = false
    ) {
        if m == 0 || n == 0 { return }
        let ta: Int32 = transA ? 1 : 0, tb: Int32 = transB ? 1 : 0
        let product = rowsAlike ? rk_sgemm_rows_alike : rk_sgemm
        switch split(m: m, n: n, k: k, threads: Parallel.threadCount) {
        case .none:
            product(ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                     beta, c, Int32(ldc), 0, Int32(n))
        case let .columns(parts):
            let pointers = UncheckedSendable((a, b, c))
            Parallel.forEach(parts: parts) { part in
                let (a, b, c) = pointers.value
                let n0 = cut(part, of: n, parts: parts, grain: columnGrain)
                let n1 = cut(part + 1, of: n, parts: parts, grain: columnGrain)
                product(ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                         beta, c, Int32(ldc), Int32(n0), Int32(n1))
            }
        case let .rows(parts):
            let pointers = UncheckedSendable((a, b, c))
            Parallel.forEach(parts: parts) { part in
                let (a, b, c) = pointers.value
                let m0 = cut(part, of: m, parts: parts, grain: rowGrain)
                let rows = cut(part + 1, of: m, parts: parts, grain: rowGrain) - m0
                // Rows m0..<m0+rows of op(A) start at row m0 of A, or at column m0 of A^T.
                let aPart = transA ? a + m0 : a + m0 * lda
                product(ta, tb, Int32(rows), Int32(n), Int32(k), alpha, aPart, Int32(lda), b,
                         Int32(ldb), beta, c + m0 * ldc, Int32(ldc), 0, Int32(n))
            }
        }
    }

    /// sums[j] += the sum over the rows of matrix[r, j], for a row-major [rows, width] matrix:
    /// bias gradients. A product with a column of ones, so it runs on the vector kernels and
    /// splits over threads like any other.
    static func addColumnSums(_ matrix: UnsafePointer<Float>, rows: Int, width: Int, into sums: UnsafeMutablePointer<Float>) {
        if rows == 0 || width == 0 { return }
        let ones = [Float](repeating: 1, count: rows)
        ones.withUnsafeBufferPointer { one in
            gemm(transA: true, m: width, n: 1, k: rows, matrix, lda: width, one.baseAddress!, ldb: 1, beta: 1, sums, ldc: 1)
        }
    }

    /// The instruction set the C kernels chose for this CPU: "avx512", "avx2", "neon" or "generic".
    static var instructionSet: String { String(cString: rk_isa_name()) }
}

extension Tensor {
    /// The transpose [n, m] of a rank-2 tensor [m, n], in blocks that stay in cache.
    func transposedMatrix() -> Tensor {
        precondition(rank == 2, "transposedMatrix needs a matrix, got \(shape)")
        let (m, n) = (shape[0], shape[1])
        var result = Tensor(zeros: [n, m])
        withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                let block = 32
                for i0 in stride(from: 0, to: m, by: block) {
                    for j0 in stride(from: 0, to: n, by: block) {
                        for i in i0..<min(i0 + block, m) {
                            for j in j0..<min(j0 + block, n) { target[j * m + i] = source[i * n + j] }
                        }
                    }
                }
            }
        }
        return result
    }

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
