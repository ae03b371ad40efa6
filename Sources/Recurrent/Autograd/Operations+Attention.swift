import Foundation

// Batched operations for attention over a padded source: all decoder steps of a batch attend
// in a few recorded operations (scores [B, T, S], masked softmax over S, weighted sum of the
// encoder outputs) instead of one small operation per step and sequence.

extension Variable {
    /// The product of matching matrices of two batches: a [B, M, K] times b [B, K, N] -> [B, M, N],
    /// or with `transposeOther` b [B, N, K] read as its transpose (scores of queries against keys).
    public func batchedMatmul(_ other: Variable, transposeOther: Bool = false) -> Variable {
        precondition(value.rank == 3 && other.value.rank == 3 && shape[0] == other.shape[0],
                     "batchedMatmul needs [B, M, K] and [B, K, N] (or [B, N, K]), got \(shape) and \(other.shape)")
        let (batch, m, k) = (shape[0], shape[1], shape[2])
        let n = transposeOther ? other.shape[1] : other.shape[2]
        precondition((transposeOther ? other.shape[2] : other.shape[1]) == k,
                     "batchedMatmul inner sizes differ: \(shape) and \(other.shape)\(transposeOther ? " (transposed)" : "")")
        let left = value, right = other.value
        var output = Tensor(zeros: [batch, m, n])
        // One product per batch entry: C_b = A_b op(B_b).
        forEachBatchProduct(left, right, &output, batch: batch) { a, b, c in
            Kernels.gemm(transB: transposeOther, m: m, n: n, k: k, a, lda: k, b, ldb: transposeOther ? k : n, c, ldc: n)
        }
        let needs = (requiresGrad, other.requiresGrad)
        return Variable.record(output, inputs: [self, other]) { grad in
            var leftGrad: Tensor? = nil, rightGrad: Tensor? = nil
            if needs.0 {
                // dA_b = dC_b op(B_b)^T [M, K]
                var dA = Tensor(zeros: left.shape)
                forEachBatchProduct(grad, right, &dA, batch: batch) { dc, b, da in
                    Kernels.gemm(transB: !transposeOther, m: m, n: k, k: n, dc, lda: n, b, ldb: transposeOther ? k : n, da, ldc: k)
                }
                leftGrad = dA
            }
            if needs.1 {
                var dB = Tensor(zeros: right.shape)
                if transposeOther {
                    // B_b is [N, K]: dB_b = dC_b^T A_b
                    forEachBatchProduct(grad, left, &dB, batch: batch) { dc, a, db in
                        Kernels.gemm(transA: true, m: n, n: k, k: m, dc, lda: n, a, ldb: k, db, ldc: k)
                    }
                } else {
                    // B_b is [K, N]: dB_b = A_b^T dC_b
                    forEachBatchProduct(left, grad, &dB, batch: batch) { a, dc, db in
                        Kernels.gemm(transA: true, m: k, n: n, k: m, a, lda: k, dc, ldb: n, db, ldc: n)
                    }
                }
                rightGrad = dB
            }
            return [leftGrad, rightGrad]
        }
    }

    /// Softmax over the last axis of [B, ..., S] where only the first `validCounts[b]` of the S
    /// entries of batch entry b count: the others (padding) get weight exactly 0 and no gradient.
    public func maskedSoftmax(validCounts: [Int]) -> Variable {
        precondition(value.rank >= 2 && validCounts.count == shape[0], "maskedSoftmax: \(validCounts.count) counts for \(shape)")
        let width = shape[value.rank - 1], batch = shape[0]
        let rowsPerEntry = batch > 0 ? value.count / max(width, 1) / batch : 0
        let valid = validCounts.map { min(max($0, 0), width) }
        var output = value
        output.withUnsafeMutableBufferPointer { y in
            for b in 0..<batch {
                for row in 0..<rowsPerEntry {
                    let start = (b * rowsPerEntry + row) * width
                    let count = valid[b]
                    let largest = y[start..<(start + count)].max() ?? 0
                    var total: Float = 0
                    for index in start..<(start + count) {
                        y[index] = Foundation.exp(y[index] - largest)
                        total += y[index]
                    }
                    for index in start..<(start + count) { y[index] /= total }
                    for index in (start + count)..<(start + width) { y[index] = 0 }
                }
            }
        }
        return Variable.record(output, inputs: [self]) { grad in
            // dx = y * (dy - <dy, y>); padded entries have y = 0, so their gradient is 0.
            var inputGrad = grad
            inputGrad.withUnsafeMutableBufferPointer { dx in
                output.withUnsafeBufferPointer { y in
                    for start in stride(from: 0, to: dx.count, by: max(width, 1)) {
                        var dot: Float = 0
                        for index in start..<(start + width) { dot += dx[index] * y[index] }
                        for index in start..<(start + width) { dx[index] = y[index] * (dx[index] - dot) }
                    }
                }
            }
            return [inputGrad]
        }
    }

    /// Adds row b of `rows` [B, F] to every step of sequence b of this [B, S, F] variable
    /// (additive attention adds the query's projection to every key's).
    public func addingToEveryStep(_ rows: Variable) -> Variable {
        precondition(value.rank == 3 && rows.shape == [shape[0], shape[2]],
                     "addingToEveryStep: \(rows.shape) does not fit [B, F] of \(shape)")
        let (batch, steps, features) = (shape[0], shape[1], shape[2])
        var output = value
        output.withUnsafeMutableBufferPointer { out in
            rows.value.withUnsafeBufferPointer { r in
                for b in 0..<batch {
                    for s in 0..<steps {
                        let base = (b * steps + s) * features
                        for f in 0..<features { out[base + f] += r[b * features + f] }
                    }
                }
            }
        }
        let needs = (requiresGrad, rows.requiresGrad)
        return Variable.record(output, inputs: [self, rows]) { grad in
            var rowGrad: Tensor? = nil
            if needs.1 {
                var summed = Tensor(zeros: [batch, features])
                summed.withUnsafeMutableBufferPointer { out in
                    grad.withUnsafeBufferPointer { g in
                        for b in 0..<batch {
                            for s in 0..<steps {
                                let base = (b * steps + s) * features
                                for f in 0..<features { out[b * features + f] += g[base + f] }
                            }
                        }
                    }
                }
                rowGrad = summed
            }
            return [needs.0 ? grad : nil, rowGrad]
        }
    }
}

/// Calls `body` with the base addresses of matrix b of each of three [B, ...] tensors.
private func forEachBatchProduct(
    _ first: Tensor, _ second: Tensor, _ result: inout Tensor, batch: Int,
    _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
) {
    guard batch > 0, first.count > 0, second.count > 0, result.count > 0 else { return }
    let (firstSize, secondSize, resultSize) = (first.count / batch, second.count / batch, result.count / batch)
    first.withUnsafeBufferPointer { a in
        second.withUnsafeBufferPointer { b in
            result.withUnsafeMutableBufferPointer { c in
                guard let a = a.baseAddress, let b = b.baseAddress, let c = c.baseAddress else { return }
                for index in 0..<batch { body(a + index * firstSize, b + index * secondSize, c + index * resultSize) }
            }
        }
    }
}
