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
/// Computes only the columns [n0, n1) of C, so that callers can split N across threads.
void rk_sgemm(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc, int n0, int n1);

/// The instruction set the kernels chose at run time: "avx512", "avx2", "neon" or "generic".
const char *rk_isa_name(void);

/// y = sigmoid(x), elementwise over n values (in place allowed).
void rk_sigmoid(const float *x, float *y, int64_t n);
/// y = tanh(x), elementwise over n values (in place allowed).
void rk_tanh(const float *x, float *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
