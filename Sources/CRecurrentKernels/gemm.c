// Blocked matrix product. One portable body, compiled for several instruction sets through
// clang's target attribute, the best one picked once at run time.
#include "RecurrentKernels.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define KC 256
#define NC 512

// Scales the columns [n0,n1) of C by beta (beta == 0 clears, so NaNs in C do not survive).
static void scale_columns(int M, float beta, float *C, int ldc, int n0, int n1) {
    if (beta == 1.0f) return;
    for (int i = 0; i < M; i++) {
        float *row = C + (int64_t)i * ldc;
        if (beta == 0.0f) memset(row + n0, 0, sizeof(float) * (size_t)(n1 - n0));
        else for (int j = n0; j < n1; j++) row[j] *= beta;
    }
}

// C[i, j0:j1] += sum_k a(i,k) * b(k, j0:j1) with B packed row-major as [kc, nb].
#define GEMM_BODY                                                                              \
    for (int k0 = 0; k0 < K; k0 += KC) {                                                       \
        int kc = K - k0 < KC ? K - k0 : KC;                                                    \
        for (int j0 = n0; j0 < n1; j0 += NC) {                                                 \
            int nb = n1 - j0 < NC ? n1 - j0 : NC;                                              \
            for (int k = 0; k < kc; k++) {                                                     \
                float *dst = packed + (int64_t)k * nb;                                         \
                if (transB) for (int j = 0; j < nb; j++) dst[j] = B[(int64_t)(j0 + j) * ldb + k0 + k]; \
                else memcpy(dst, B + (int64_t)(k0 + k) * ldb + j0, sizeof(float) * (size_t)nb); \
            }                                                                                  \
            for (int i = 0; i < M; i++) {                                                      \
                float *c = C + (int64_t)i * ldc + j0;                                          \
                for (int k = 0; k < kc; k++) {                                                 \
                    float a = alpha * (transA ? A[(int64_t)(k0 + k) * lda + i]                 \
                                              : A[(int64_t)i * lda + k0 + k]);                 \
                    const float *b = packed + (int64_t)k * nb;                                 \
                    for (int j = 0; j < nb; j++) c[j] += a * b[j];                             \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    }

#define DEFINE_GEMM(NAME, ATTR)                                                                \
    ATTR static void NAME(int transA, int transB, int M, int K, float alpha, const float *A,   \
                          int lda, const float *B, int ldb, float *C, int ldc, int n0, int n1, \
                          float *packed) {                                                     \
        GEMM_BODY                                                                              \
    }

DEFINE_GEMM(gemm_generic, )
#if defined(__x86_64__)
DEFINE_GEMM(gemm_avx2, __attribute__((target("avx2,fma"))))
DEFINE_GEMM(gemm_avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))))
#endif

typedef void (*gemm_fn)(int, int, int, int, float, const float *, int, const float *, int, float *,
                        int, int, int, float *);

static gemm_fn chosen_gemm(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return gemm_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gemm_avx2;
#endif
    return gemm_generic;
}

const char *rk_isa_name(void) {
#if defined(__x86_64__)
    gemm_fn f = chosen_gemm();
    if (f == gemm_avx512) return "avx512";
    if (f == gemm_avx2) return "avx2";
    return "generic";
#elif defined(__aarch64__)
    return "neon";
#else
    return "generic";
#endif
}

void rk_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc, int n0, int n1) {
    (void)N;
    if (n1 <= n0 || M <= 0) return;
    scale_columns(M, beta, C, ldc, n0, n1);
    if (K <= 0 || alpha == 0.0f) return;
    static gemm_fn fn = 0;
    if (!fn) fn = chosen_gemm();
    float stack[KC * 64];
    int width = n1 - n0 < NC ? n1 - n0 : NC;
    float *packed = (int64_t)KC * width <= (int64_t)(sizeof(stack) / sizeof(float)) ? stack
                    : (float *)malloc(sizeof(float) * (size_t)KC * (size_t)width);
    if (!packed) return;
    fn(transA, transB, M, K, alpha, A, lda, B, ldb, C, ldc, n0, n1, packed);
    if (packed != stack) free(packed);
}
