// The numeric kernels under Recurrent's tensors. Row-major, float32, single-threaded:
// the Swift side splits work across threads, so every kernel here works on a range it is given.
#ifndef RECURRENT_KERNELS_H
#define RECURRENT_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X or X^T.
/// A is [M,K] (or [K,M] when transA), B is [K,N] (or [N,K] when transB).
/// Computes only the columns [n0, n1) of C, so that callers can split N across threads; to split
/// M, pass the rows' part of A (A + m0 * lda, or A + m0 when transA) and of C.
/// beta == 0 overwrites C without reading it; alpha == 0 (or K == 0) only scales C.
/// Thread-safe; each thread reuses its own packing buffer, so calls allocate only while growing it.
/// An element's result depends only on the shape (M, K, transB) and the instruction set, not on
/// [n0, n1) or on the position of the element, so any split of the columns gives the same bits
/// (and so does any split of the rows when B is not transposed).
void rk_sgemm(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc, int n0, int n1);

/// The instruction set the kernels chose at run time: "avx512", "avx2", "neon" or "generic".
const char *rk_isa_name(void);

/// Makes the kernels use the instruction set `name` ("avx512", "avx2", "generic"; NULL or ""
/// restores the automatic choice), for tests and benchmarks. Returns 0, or -1 when this CPU
/// cannot run it or the name is unknown.
int rk_force_isa(const char *name);

/// One part of a job split by rk_parallel_for.
typedef void (*rk_part_fn)(void *context, int part);

/// Runs fn(context, part) for every part in [0, parts), on the calling thread and up to
/// threads - 1 pooled worker threads, and returns when all are done. Workers stay awake briefly
/// between jobs, so back-to-back calls do not pay for waking threads. A call made while another
/// runs (from another thread, or from inside a part) runs all its parts on the calling thread.
void rk_parallel_for(int parts, int threads, rk_part_fn fn, void *context);

/// y = sigmoid(x), elementwise over n values (in place allowed). Relative error below 2.1e-7
/// wherever the result is a normal float (subnormal results are within one step), exactly 0 and 1
/// at the ends; NaN in, NaN out.
void rk_sigmoid(const float *x, float *y, int64_t n);
/// y = tanh(x), elementwise over n values (in place allowed). Relative error below 1.5e-7,
/// exactly +-1 for large |x|, tanh(-0) = -0; NaN in, NaN out.
void rk_tanh(const float *x, float *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
