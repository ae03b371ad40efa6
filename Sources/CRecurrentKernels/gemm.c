// Single-precision matrix product, C = alpha * op(A) op(B) + beta * C, row-major.
//
// Design
// ------
// * One body (gemm_impl.h) written with clang vector extensions, included once per instruction
//   set under `#pragma clang attribute push(target(...))`: AVX-512 (16-float vectors, 8 x 32
//   register tile), AVX2+FMA (8-float, 6 x 16) and a generic build (4-float: SSE2 on x86-64 with
//   a 4 x 8 tile, NEON on ARM64 with 8 x 12). The best one this CPU runs is chosen once, at run
//   time, with __builtin_cpu_supports (dispatch.c). No compiler flags are needed, and the package
//   runs on any x86-64 or ARM64 CPU.
// * BLIS-style packed product. Vectors run along the columns of C; the micro-kernel broadcasts one
//   value of op(A) per row and multiplies it into a row of the packed B panel. Loops, outermost
//   first: rows of A in blocks of RK_MB = 960 (so that a thread's block of C stays in L3 across
//   depth blocks) -> depth in blocks of RK_KC = 256 (pack the A block, 960 x 256 = 960 KB)
//   -> columns in blocks of RK_NB = 512 (pack the B block, 256 x 512 = 512 KB, half of the
//   1 MB L2) -> micro-panels of A (8 x 256 = 8 KB, stay in L1) -> micro-panels of B, streamed
//   from L2, with the tile of C prefetched before the k loop. Packing transposes when needed
//   (8 x 8 shuffles), so all four transpose cases run the same micro-kernel; the last rows use
//   kernels for fewer rows, the last columns a zero-padded panel and a partial store.
// * Few rows (a recurrent step at small batch), where packing B would cost more than the product:
//   op(A) * B with M <= 8 reads B in place, in wider register tiles, or for one row (and up to
//   four on AVX2/generic) four rows of B side by side into an L1 buffer of sums; A * B^T with
//   M <= 6 takes dot products along K over rows of both operands, in narrower tiles with a
//   software prefetch once B is over 1 MB. These paths are chosen on the whole shape (M, N, K,
//   transB), never on the column range.
// * Determinism: each element of C is summed over k in order, in blocks of 256, in one
//   accumulator, and the stores round alpha * sum and beta * C separately (no contraction there),
//   so an element's bits depend neither on its tile nor on the column range or, for op(A) * B,
//   the row block. The Swift side (Kernels.gemm) splits columns or rows across threads, so any
//   thread count gives the same bits as one thread. The dot-product path (A * B^T, M <= 6) sums
//   lanes in a fixed tree; results differ between instruction sets, not between runs.
// * Packing buffers are per thread (_Thread_local, freed at thread exit), grown on demand and
//   reused: no allocation per call once warm; calls from several threads at once are safe.
//
// Measured (recurrent-bench gemm vs Benchmarks/gemm_numpy.py side by side, best of repeats,
// each run started on an idle machine; the machine is shared, so single runs vary by ~10%)
// ---------------------------------------------------------------------------------------------
// AMD EPYC reporting CPU family 26 (Zen 5: two 512-bit FMA pipes; an FMA loop reaches 236-240
// GFLOP/s per core), 2 cores; numpy 2.4 with OpenBLAS 0.3.31, which runs its AVX2 (Haswell)
// kernels here.
//   square n            128    256    512    1024   2048
//   1 thread GFLOP/s    240    241    224    215    212    numpy 106..123   ratio 1.92-2.03x
//   2 threads           410    431    442    393    373    numpy 194..225   ratio 1.76-2.12x
// Recurrent shapes (M x N x K; nt = A * B^T as in the forward step, nn = dX = dG * W,
// tn = A^T * B as in weight gradients), ratio to numpy, 1 / 2 threads:
//   nt 1x1024x256  1.37 / 2.36   nt 8x1024x256  1.97 / 2.40   nt 64x1024x256  1.95 / 2.01
//   nt 1x4096x1024 0.99 / 1.07   nt 64x4096x1024 1.71 / 1.85  nn 1x1024x256  0.96 / 1.90
//   nn 64x1024x256 1.90 / 2.08   nn 64x1024x4096 1.67 / 1.53  tn 4096x1024x64 2.37 / 2.22
// One row against a 16 MB B is bound by memory bandwidth for both (about 80 GB/s on one core).
// The AVX2 instance reaches about 105 GFLOP/s on this machine (its FMA peak at 8 floats), the
// generic SSE2 one about 40.
#include "RecurrentKernels.h"
#include "kernels_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma clang fp contract(fast)

// How a micro-kernel leaves its tile in C.
enum { RK_STORE_SET = 0, RK_STORE_ADD = 1, RK_STORE_SCALE = 2 };
// The ways a product can be computed (see the path function in gemm_impl.h).
enum { RK_PATH_PACKED = 0, RK_PATH_STREAM = 1, RK_PATH_DOT = 2, RK_PATH_GEMV = 3 };

// ---- Instances of gemm_impl.h, one per instruction set ----

#if RK_X86
// AVX-512: 32 registers of 16 floats. 8 x 32 tile = 16 accumulators.
#pragma clang attribute push(__attribute__((target(RK_TARGET_AVX512))), apply_to = function)
#define RK_ISA avx512
#define RK_VL 16
#define RK_NREGS 32
#define RK_MR 8
#define RK_NR 32
#define RK_KC 256
#define RK_NB 512
#define RK_MB 960
#define RK_SW1 8
#define RK_SW2 8
#define RK_SW3 8
#define RK_SW4 6
#define RK_DOT_M 6
#define RK_DJ1 16
#define RK_DU1 1
#define RK_DJ2 8
#define RK_DU2 1
#define RK_DJ4 4
#define RK_DU4 1
#define RK_SJ1 4
#define RK_SU1 2
#define RK_SJ2 4
#define RK_SU2 2
#define RK_SJ4 4
#define RK_SU4 1
#define RK_SPF 256
#define RK_DOT_CACHED (256 * 1024)
#define RK_STREAM_M 8
#define RK_ROWS_R 1
#include "gemm_impl.h"
#include "gemm_undef.h"
#pragma clang attribute pop

// AVX2 + FMA: 16 registers of 8 floats. 6 x 16 tile = 12 accumulators.
#pragma clang attribute push(__attribute__((target(RK_TARGET_AVX2))), apply_to = function)
#define RK_ISA avx2
#define RK_VL 8
#define RK_NREGS 16
#define RK_MR 6
#define RK_NR 16
#define RK_KC 256
#define RK_NB 512
#define RK_MB 960
#define RK_SW1 8
#define RK_SW2 4
#define RK_SW3 4
#define RK_SW4 3
#define RK_DOT_M 4
#define RK_DJ1 8
#define RK_DU1 1
#define RK_DJ2 4
#define RK_DU2 1
#define RK_DJ4 2
#define RK_DU4 1
#define RK_SJ1 4
#define RK_SU1 2
#define RK_SJ2 2
#define RK_SU2 2
#define RK_SJ4 2
#define RK_SU4 1
#define RK_SPF 256
#define RK_DOT_CACHED (256 * 1024)
#define RK_STREAM_M 6
#define RK_ROWS_R 4
#include "gemm_impl.h"
#include "gemm_undef.h"
#pragma clang attribute pop
#endif

// The portable instance: SSE2 on x86-64 (16 registers, no FMA), NEON on ARM64 (32 registers).
#define RK_ISA generic
#define RK_VL 4
#if defined(__aarch64__)
#define RK_NREGS 32
#define RK_MR 8
#define RK_NR 12
#define RK_SW1 8
#define RK_SW2 8
#define RK_SW3 6
#define RK_SW4 4
#else
#define RK_NREGS 15
#define RK_MR 4
#define RK_NR 8
#define RK_SW1 4
#define RK_SW2 2
#define RK_SW3 2
#define RK_SW4 2
#endif
#define RK_KC 256
#define RK_NB 384
#define RK_MB 960
#define RK_DOT_M 4
#define RK_DJ1 4
#define RK_DU1 1
#define RK_DJ2 2
#define RK_DU2 1
#define RK_DJ4 1
#define RK_DU4 1
#define RK_SJ1 4
#define RK_SU1 1
#define RK_SJ2 2
#define RK_SU2 1
#define RK_SJ4 1
#define RK_SU4 1
#define RK_SPF 256
#define RK_DOT_CACHED (256 * 1024)
#define RK_STREAM_M 4
#define RK_ROWS_R 4
#include "gemm_impl.h"
#include "gemm_undef.h"

typedef void (*gemm_fn)(int, int, int, int, int, float, const float *, int64_t, const float *,
                        int64_t, float, float *, int64_t, int, int, int, float *);

// ---- Per-thread packing buffers ----

// Each thread keeps one buffer, grown on demand and reused by every later call on that thread,
// so products allocate nothing once warm; it is freed when the thread exits.
static _Thread_local float *work_buffer = 0;
static _Thread_local size_t work_capacity = 0;

#if !defined(_WIN32)
#include <pthread.h>
static pthread_key_t work_key;
static pthread_once_t work_key_once = PTHREAD_ONCE_INIT;
static void make_work_key(void) { pthread_key_create(&work_key, free); }
#endif

static float *thread_work(size_t floats) {
    if (floats <= work_capacity) return work_buffer;
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    float *fresh = (float *)aligned_alloc(64, bytes);
    if (!fresh) {
        // A few MB at most; without them there is no way to compute the product.
        fputs("rk_sgemm: out of memory for packing buffers\n", stderr);
        abort();
    }
    free(work_buffer);
    work_buffer = fresh;
    work_capacity = bytes / sizeof(float);
#if !defined(_WIN32)
    pthread_once(&work_key_once, make_work_key);
    pthread_setspecific(work_key, fresh);
#endif
    return fresh;
}

// Scales the columns [n0,n1) of C by beta (beta == 0 clears, so NaNs in C do not survive).
static void scale_columns(int M, float beta, float *C, int64_t ldc, int n0, int n1) {
    if (beta == 1.0f) return;
    for (int i = 0; i < M; i++) {
        float *row = C + i * ldc;
        if (beta == 0.0f) memset(row + n0, 0, sizeof(float) * (size_t)(n1 - n0));
        else for (int j = n0; j < n1; j++) row[j] *= beta;
    }
}

// rk_sgemm, or with `alike` rk_sgemm_rows_alike (see the path function in gemm_impl.h).
static void sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc, int n0, int n1, int alike) {
    if (n1 <= n0 || M <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_columns(M, beta, C, ldc, n0, n1);
        return;
    }
    int isa = rk_isa_level();
    gemm_fn fn;
    size_t need;
    switch (isa) {
#if RK_X86
    case RK_ISA_AVX512:
        fn = gemm_avx512;
        need = work_floats_avx512(transA, transB, M, N, K, alike);
        break;
    case RK_ISA_AVX2:
        fn = gemm_avx2;
        need = work_floats_avx2(transA, transB, M, N, K, alike);
        break;
#endif
    default:
        fn = gemm_generic;
        need = work_floats_generic(transA, transB, M, N, K, alike);
        break;
    }
    float *work = thread_work(need);
    fn(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, n0, n1, alike, work);
}

void rk_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc, int n0, int n1) {
    sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, n0, n1, 0);
}

void rk_sgemm_rows_alike(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc, int n0, int n1) {
    sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, n0, n1, 1);
}

int64_t rk_sgemm_rows_alike_cached_floats(void) {
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: return dot_cached_floats_avx512();
    case RK_ISA_AVX2: return dot_cached_floats_avx2();
#endif
    default: return dot_cached_floats_generic();
    }
}
