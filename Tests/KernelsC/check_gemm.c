// rk_sgemm against a double-precision product, on shapes that take every path of gemm_impl.h
// (matrix-vector, dot products, B read in place with and without prefetch, packed) with edge
// sizes around each instruction set's tiles and blocks, all four transposes, padded leading
// dimensions, and alpha/beta cases; and the documented independence of the column split.
//
// Tolerance: |C - C_exact| <= (K + 4) * 2^-23 * (|alpha| sum_k |a_ik b_kj| + |beta c_ij|), twice
// the classic bound for a float sum of K products (K u, u = 2^-24): any right way of summing
// passes, a wrong element, index or tail does not.
#include "kernel_check.h"
#include <string.h>

typedef struct {
    int M, N, K;
} gemm_shape;

// Rows: 1..9 cross the dot-product (M <= 4, 6 with AVX-512) and in-place (M <= 4, 6, 8) limits
// and the register tiles (4, 6, 8 rows); 970 rows cross a row block (960). Columns: 1 is the
// matrix-vector path; 12, 13, 29, 31 around the 8-, 12-, 16- and 32-column tiles; 390 and 530
// past a column block (384, 512). Depth: 256 and 257 around a depth block; 1100 x 260 floats of B
// are past the size (256 K floats) where the narrow paths prefetch.
static const gemm_shape shapes[] = {
    {1, 1, 1},   {1, 1, 37},   {5, 1, 300},  {1, 7, 5},    {2, 13, 33},  {3, 50, 17},  {4, 29, 260},
    {5, 31, 64}, {6, 100, 70}, {7, 12, 9},   {8, 12, 256}, {9, 25, 257}, {17, 37, 300}, {33, 390, 40},
    {12, 530, 20}, {64, 64, 64}, {100, 130, 70}, {970, 9, 13}, {2, 1100, 260}, {3, 1100, 260},
};

typedef struct {
    float alpha, beta;
} gemm_scaling;
static const gemm_scaling scalings[] = {{1.0f, 0.0f}, {-0.7f, 1.0f}, {0.5f, -1.5f}};

// C0 [M, ldc] in, want and scale [M*N] out: alpha op(A) op(B) + beta C0 in double, and the sum
// of the magnitudes of its terms.
static void reference_gemm(int transA, int transB, gemm_shape s, float alpha, const float *A, int lda, const float *B,
                           int ldb, float beta, const float *C0, int ldc, double *want, double *scale) {
    for (int i = 0; i < s.M; i++)
        for (int j = 0; j < s.N; j++) {
            double sum = 0, magnitude = 0;
            for (int k = 0; k < s.K; k++) {
                const double a = transA ? A[(int64_t)k * lda + i] : A[(int64_t)i * lda + k];
                const double b = transB ? B[(int64_t)j * ldb + k] : B[(int64_t)k * ldb + j];
                sum += a * b;
                magnitude += fabs(a * b);
            }
            const double c = beta == 0.0f ? 0.0 : (double)beta * C0[(int64_t)i * ldc + j];
            want[(int64_t)i * s.N + j] = alpha * sum + c;
            scale[(int64_t)i * s.N + j] = fabs(alpha) * magnitude + fabs(c);
        }
}

static void check_shape(check_tally *tally, check_random *random, int transA, int transB, gemm_shape s,
                        gemm_scaling scaling) {
    // Leading dimensions a few floats past the widths, so that rows do not sit back to back.
    const int lda = (transA ? s.M : s.K) + 3, ldb = (transB ? s.K : s.N) + 5, ldc = s.N + 2;
    const int64_t aRows = transA ? s.K : s.M, bRows = transB ? s.N : s.K;
    float *A = floats(aRows * lda), *B = floats(bRows * ldb), *C0 = floats((int64_t)s.M * ldc);
    fill_uniform(random, A, aRows * lda, -1, 1);
    fill_uniform(random, B, bRows * ldb, -1, 1);
    fill_uniform(random, C0, (int64_t)s.M * ldc, -1, 1);
    // beta == 0 must overwrite C without reading it: NaN there must not survive.
    if (scaling.beta == 0.0f)
        for (int64_t i = 0; i < (int64_t)s.M * ldc; i++) C0[i] = NAN;
    double *want = doubles((int64_t)s.M * s.N), *scale = doubles((int64_t)s.M * s.N);
    reference_gemm(transA, transB, s, scaling.alpha, A, lda, B, ldb, scaling.beta, C0, ldc, want, scale);

    float *whole = floats((int64_t)s.M * ldc), *split = floats((int64_t)s.M * ldc);
    memcpy(whole, C0, sizeof(float) * (size_t)s.M * (size_t)ldc);
    memcpy(split, C0, sizeof(float) * (size_t)s.M * (size_t)ldc);
    rk_sgemm(transA, transB, s.M, s.N, s.K, scaling.alpha, A, lda, B, ldb, scaling.beta, whole, ldc, 0, s.N);
    // The same product in three column ranges, as threads would split it: the same bits.
    const int cut1 = s.N / 3, cut2 = s.N - s.N / 4;
    rk_sgemm(transA, transB, s.M, s.N, s.K, scaling.alpha, A, lda, B, ldb, scaling.beta, split, ldc, 0, cut1);
    rk_sgemm(transA, transB, s.M, s.N, s.K, scaling.alpha, A, lda, B, ldb, scaling.beta, split, ldc, cut1, cut2);
    rk_sgemm(transA, transB, s.M, s.N, s.K, scaling.alpha, A, lda, B, ldb, scaling.beta, split, ldc, cut2, s.N);

    char label[120];
    snprintf(label, sizeof label, "gemm %c%c %dx%dx%d alpha %g beta %g", transA ? 't' : 'n', transB ? 't' : 'n', s.M,
             s.N, s.K, scaling.alpha, scaling.beta);
    const double unit = 0x1.0p-23 * (s.K + 4);
    for (int i = 0; i < s.M; i++) {
        for (int j = 0; j < s.N; j++) {
            const int64_t e = (int64_t)i * s.N + j;
            expect_close(tally, label, e, whole[(int64_t)i * ldc + j], want[e], unit * scale[e] + 1e-30);
        }
        // The padding past N is not C's: it must stay as it was.
        expect_same_bits(tally, label, whole + (int64_t)i * ldc + s.N, C0 + (int64_t)i * ldc + s.N, ldc - s.N);
    }
    char splitLabel[140];
    snprintf(splitLabel, sizeof splitLabel, "%s, columns split", label);
    expect_same_bits(tally, splitLabel, split, whole, (int64_t)s.M * ldc);
    free(A), free(B), free(C0), free(want), free(scale), free(whole), free(split);
}

// alpha == 0 or K == 0 only scales C (beta == 0 clears it, NaN included).
static void check_scaling_only(check_tally *tally) {
    const float A[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, B[6] = {1, 2, 3, 4, 5, 6};
    float C[6] = {1, -2, 3, NAN, 5, 6};
    rk_sgemm(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 2.0f, C, 3, 0, 3);
    const double doubled[6] = {2, -4, 6, NAN, 10, 12};
    for (int e = 0; e < 6; e++) expect_close(tally, "gemm K = 0, beta 2", e, C[e], doubled[e], 0);
    rk_sgemm(0, 0, 2, 3, 2, 0.0f, A, 2, B, 3, 0.0f, C, 3, 1, 3);
    const double cleared[6] = {2, 0, 0, NAN, 0, 0};
    for (int e = 0; e < 6; e++) expect_close(tally, "gemm alpha 0, beta 0, columns 1..3", e, C[e], cleared[e], 0);
}

void check_gemm(check_tally *tally) {
    check_random random = {7};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int transA = 0; transA < 2; transA++)
            for (int transB = 0; transB < 2; transB++)
                for (size_t c = 0; c < sizeof scalings / sizeof scalings[0]; c++)
                    check_shape(tally, &random, transA, transB, shapes[s], scalings[c]);
    check_scaling_only(tally);
}
