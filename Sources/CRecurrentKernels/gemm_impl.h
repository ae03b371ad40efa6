// The body of the matrix product, written once and included by gemm.c once per instruction set,
// inside a `#pragma clang attribute` that gives every function here that set's target attribute.
//
// The including file defines:
//   RK_ISA           a token appended to every name (avx512, avx2, generic)
//   RK_VL            floats per vector register
//   RK_MR, RK_NR     the register tile: RK_MR rows of C by RK_NR columns (a multiple of RK_VL)
//   RK_NREGS         vector registers the micro-kernel may use
//   RK_SW1..RK_SW4   vectors of columns in the tiles that read B in place, for 1..4 rows
//   RK_ROWS_R        up to this many rows, B read in place goes through rows_body instead
//   RK_KC            depth of one packed block (the A micro-panel RK_MR x RK_KC stays in L1)
//   RK_NB            columns of one packed B block (RK_KC x RK_NB stays in L2)
//   RK_MB            rows of one packed A block (RK_MB x RK_KC stays in L3)
//   RK_DOT_M         largest M for which A * B^T is computed by dot products instead of packing
//   RK_DJ<R>, RK_DU<R>  dot-product tiles for R = 1, 2, 4 rows (columns, accumulators per column)
//   RK_SJ<R>, RK_SU<R>, RK_SPF  the same when B is larger than RK_DOT_CACHED floats, and how far
//                    ahead (floats) those prefetch B (rows_body prefetches beyond that size too)
//   RK_STREAM_M      largest M for which A * B reads B in place instead of packing it
//
// Everything is in terms of row-major C = alpha * op(A) * op(B) + beta * C. Vectors run along the
// columns of C (N); the micro-kernel broadcasts one element of A per row and multiplies it into
// RK_NR consecutive values of a row of op(B).

#define FN(name) RK_CAT(name, RK_ISA)
#define NV (RK_NR / RK_VL)
#define RK_MAXW 8
#if NV > RK_MAXW || RK_SW1 > RK_MAXW || RK_SW2 > RK_MAXW || RK_SW3 > RK_MAXW || RK_SW4 > RK_MAXW
#error "register tile wider than RK_MAXW vectors"
#endif
#if RK_STREAM_M > RK_MR
#error "the in-place product handles at most one micro-panel of rows"
#endif

typedef float FN(vf) __attribute__((ext_vector_type(RK_VL)));
typedef float FN(v8) __attribute__((ext_vector_type(8)));
#define VF FN(vf)
#define V8 FN(v8)

RK_INLINE VF FN(load)(const float *p) {
    VF v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
RK_INLINE void FN(store)(float *p, VF v) { __builtin_memcpy(p, &v, sizeof v); }

// Writes one row of a tile: c[0:nr] (op)= alpha * acc, for W vectors of accumulators, rounding
// alpha * acc and beta * c separately before adding them. A partial
// row goes through a small buffer with the same vector arithmetic as a full one, so that every
// element of C is computed the same way wherever it falls.
RK_INLINE void FN(store_row)(const int W, const VF *acc, float *restrict c, float alpha,
                             float beta, int mode, int nr) {
    // No fused multiply-adds here: the compiler could fuse either product, and might choose
    // differently in different kernels.
#pragma clang fp contract(off)
    VF va = (VF)alpha, vb = (VF)beta;
    if (nr == W * RK_VL) {
#pragma clang loop unroll(full)
        for (int v = 0; v < W; v++) {
            VF r = va * acc[v];
            if (mode == RK_STORE_ADD) r = FN(load)(c + v * RK_VL) + r;
            else if (mode == RK_STORE_SCALE) r = vb * FN(load)(c + v * RK_VL) + r;
            FN(store)(c + v * RK_VL, r);
        }
        return;
    }
    float tile[RK_MAXW * RK_VL];
    if (mode != RK_STORE_SET)
        for (int j = 0; j < nr; j++) tile[j] = c[j];
    for (int v = 0; v < W; v++) {
        if (v * RK_VL >= nr) break;
        VF r = va * acc[v];
        if (mode == RK_STORE_ADD) r = FN(load)(tile + v * RK_VL) + r;
        else if (mode == RK_STORE_SCALE) r = vb * FN(load)(tile + v * RK_VL) + r;
        FN(store)(tile + v * RK_VL, r);
    }
    for (int j = 0; j < nr; j++) c[j] = tile[j];
}

// C[R x nr] (op)= alpha * sum_k a[k * RK_MR + i] * b[k * ldbp + j] for k < kc, with W vectors
// of columns. a: a packed micro-panel (RK_MR values per k, only the first R used);
// b: W * RK_VL values per k, ldbp apart (the panel width when packed, ldb when B is read in
// place). The sum over k runs in order in one accumulator per element, so every element of C
// gets the same sequence of operations whatever tile shape, block or thread it falls in.
RK_INLINE void FN(micro_body)(const int R, const int W, int kc, const float *restrict a,
                              const float *restrict b, int64_t ldbp, float *restrict c,
                              int64_t ldc, float alpha, float beta, int mode, int nr) {
    VF acc[RK_MR][RK_MAXW];
    // alpha and beta wait in memory during the k loop: with 16 registers, a tile that fills 15
    // of them would otherwise lose an accumulator to the stack while alpha holds the 16th.
    float scales[2] = {alpha, beta};
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
        for (int v = 0; v < W; v++) acc[i][v] = (VF)0.0f;
    // The tile of C is needed only at the end: start fetching it now.
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
        for (int l = 0; l < W * RK_VL; l += 16) __builtin_prefetch(c + i * ldc + l, 1, 3);

#pragma clang loop unroll_count(4)
    for (int k = 0; k < kc; k++) {
        if (R * W + R + 1 <= RK_NREGS) {
            // All broadcasts first, then one vector of B at a time.
            VF ai[RK_MR];
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) ai[i] = (VF)a[i];
#pragma clang loop unroll(full)
            for (int v = 0; v < W; v++) {
                VF bv = FN(load)(b + v * RK_VL);
#pragma clang loop unroll(full)
                for (int i = 0; i < R; i++) acc[i][v] = ai[i] * bv + acc[i][v];
            }
        } else {
            // The row of B first, then one broadcast at a time (fewer registers when W < R).
            VF bv[RK_MAXW];
#pragma clang loop unroll(full)
            for (int v = 0; v < W; v++) bv[v] = FN(load)(b + v * RK_VL);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) {
                VF ai = (VF)a[i];
#pragma clang loop unroll(full)
                for (int v = 0; v < W; v++) acc[i][v] = ai * bv[v] + acc[i][v];
            }
        }
        a += RK_MR;
        b += ldbp;
    }
    __asm__ volatile("" : : "r"(scales) : "memory");
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) FN(store_row)(W, acc[i], c + i * ldc, scales[0], scales[1], mode, nr);
}

typedef void (*FN(micro_fn))(int, const float *, const float *, int64_t, float *, int64_t, float,
                             float, int, int);

// Register tiles for the packed product (R rows of RK_NR columns) and for the product that reads
// B in place (R rows of RK_SW<R> vectors: wider, since there are few rows).
#define RK_MICRO(R)                                                                                \
    static void FN(micro_##R)(int kc, const float *a, const float *b, int64_t ldbp, float *c,     \
                              int64_t ldc, float alpha, float beta, int mode, int nr) {            \
        FN(micro_body)(R, NV, kc, a, b, ldbp, c, ldc, alpha, beta, mode, nr);                     \
    }
#define RK_WIDE(R)                                                                                 \
    static void FN(wide_##R)(int kc, const float *a, const float *b, int64_t ldbp, float *c,      \
                             int64_t ldc, float alpha, float beta, int mode, int nr) {             \
        FN(micro_body)(R, RK_SW##R, kc, a, b, ldbp, c, ldc, alpha, beta, mode, nr);               \
    }
RK_MICRO(1)
RK_MICRO(2)
RK_MICRO(3)
RK_MICRO(4)
#if RK_MR > 4
RK_MICRO(5)
RK_MICRO(6)
#endif
#if RK_MR > 6
RK_MICRO(7)
RK_MICRO(8)
#endif
#if RK_MR > 8
RK_MICRO(9)
RK_MICRO(10)
RK_MICRO(11)
RK_MICRO(12)
#endif
#if RK_MR != 4 && RK_MR != 6 && RK_MR != 8 && RK_MR != 12
#error "RK_MR must be 4, 6, 8 or 12"
#endif
RK_WIDE(1)
RK_WIDE(2)
RK_WIDE(3)
RK_WIDE(4)

static const FN(micro_fn) FN(micro)[RK_MR + 1] = {
    0, FN(micro_1), FN(micro_2), FN(micro_3), FN(micro_4),
#if RK_MR > 4
    FN(micro_5), FN(micro_6),
#endif
#if RK_MR > 6
    FN(micro_7), FN(micro_8),
#endif
#if RK_MR > 8
    FN(micro_9), FN(micro_10), FN(micro_11), FN(micro_12),
#endif
};
static const FN(micro_fn) FN(wide)[5] = {0, FN(wide_1), FN(wide_2), FN(wide_3), FN(wide_4)};
static const int FN(wide_vectors)[5] = {0, RK_SW1, RK_SW2, RK_SW3, RK_SW4};

// 8 x 8 transpose: row r of the result holds element r of each input vector.
RK_INLINE void FN(transpose8)(V8 r[8]) {
    V8 t0 = __builtin_shufflevector(r[0], r[1], 0, 8, 1, 9, 4, 12, 5, 13);
    V8 t1 = __builtin_shufflevector(r[0], r[1], 2, 10, 3, 11, 6, 14, 7, 15);
    V8 t2 = __builtin_shufflevector(r[2], r[3], 0, 8, 1, 9, 4, 12, 5, 13);
    V8 t3 = __builtin_shufflevector(r[2], r[3], 2, 10, 3, 11, 6, 14, 7, 15);
    V8 t4 = __builtin_shufflevector(r[4], r[5], 0, 8, 1, 9, 4, 12, 5, 13);
    V8 t5 = __builtin_shufflevector(r[4], r[5], 2, 10, 3, 11, 6, 14, 7, 15);
    V8 t6 = __builtin_shufflevector(r[6], r[7], 0, 8, 1, 9, 4, 12, 5, 13);
    V8 t7 = __builtin_shufflevector(r[6], r[7], 2, 10, 3, 11, 6, 14, 7, 15);
    V8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    V8 u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    V8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    V8 u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    V8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    V8 u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    V8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    V8 u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    r[0] = __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11);
    r[1] = __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);
    r[2] = __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11);
    r[3] = __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);
    r[4] = __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);
    r[5] = __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
    r[6] = __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15);
    r[7] = __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);
}

// Copies a [rows x cols] block of a row-major matrix X (leading dimension ldx) transposed into
// dst, where element (r, c) lands at dst[c * ldd + r]. Used for both packings that transpose.
RK_INLINE void FN(transpose_block)(const float *restrict x, int64_t ldx, int rows, int cols,
                                   float *restrict dst, int64_t ldd) {
    int r = 0;
    for (; r + 8 <= rows; r += 8) {
        int c = 0;
        for (; c + 8 <= cols; c += 8) {
            V8 t[8];
            for (int q = 0; q < 8; q++) __builtin_memcpy(&t[q], x + (r + q) * ldx + c, sizeof t[q]);
            FN(transpose8)(t);
            for (int q = 0; q < 8; q++) __builtin_memcpy(dst + (c + q) * ldd + r, &t[q], sizeof t[q]);
        }
        for (; c < cols; c++)
            for (int q = 0; q < 8; q++) dst[c * ldd + r + q] = x[(r + q) * ldx + c];
    }
    for (; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[c * ldd + r] = x[r * ldx + c];
}

// Packs op(A)[i0 : i0+mc, p0 : p0+kc] as micro-panels of RK_MR rows: panel p holds
// ap[p * kc * RK_MR + k * RK_MR + i]. Rows past mc in the last panel are left as they are:
// the micro-kernel for the remaining rows never reads them.
static void FN(pack_a)(int ta, const float *A, int64_t lda, int i0, int mc, int p0, int kc,
                       float *restrict ap) {
    if (ta) {
        // op(A)[i, k] = A[k, i]: each k gives mr consecutive values of a panel. Panels go in
        // groups spanning about 64 columns, so that each row's cache lines are read once and
        // whole (panel by panel, a line would be fetched for MR values at a time) while only a
        // few packed panels are written at once.
        const int full = mc / RK_MR * RK_MR;
        const int group = (64 / RK_MR > 1 ? 64 / RK_MR : 1) * RK_MR;
        for (int g0 = 0; g0 < full; g0 += group) {
            const int g1 = full - g0 < group ? full : g0 + group;
            const float *src = A + (int64_t)p0 * lda + i0;
            for (int k = 0; k < kc; k++) {
                for (int ip = g0; ip < g1; ip += RK_MR) {
                    float *dst = ap + (int64_t)ip * kc + k * RK_MR;
#pragma clang loop unroll(full)
                    for (int i = 0; i < RK_MR; i++) dst[i] = src[k * lda + ip + i];
                }
            }
        }
        if (full < mc) {
            const int mr = mc - full;
            const float *src = A + (int64_t)p0 * lda + i0 + full;
            float *dst = ap + (int64_t)full * kc;
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < mr; i++) dst[k * RK_MR + i] = src[k * lda + i];
        }
        return;
    }
    for (int ip = 0; ip < mc; ip += RK_MR) {
        int mr = mc - ip < RK_MR ? mc - ip : RK_MR;
        float *dst = ap + (int64_t)ip * kc;
        FN(transpose_block)(A + (int64_t)(i0 + ip) * lda + p0, lda, mr, kc, dst, RK_MR);
    }
}

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] as micro-panels of RK_NR columns: panel p holds
// bp[p * kc * RK_NR + k * RK_NR + j], zero beyond nc.
static void FN(pack_b)(int tb, const float *B, int64_t ldb, int p0, int kc, int j0, int nc,
                       float *restrict bp) {
    if (!tb) {
        // A few rows of B at a time across all panels, so that the reads stay in L1 whatever ldb
        // is (a tall narrow strip of a wide matrix would map onto a handful of cache sets).
        const int full = nc / RK_NR * RK_NR;
        for (int k0 = 0; k0 < kc; k0 += 8) {
            int k1 = kc - k0 < 8 ? kc : k0 + 8;
            for (int jp = 0; jp < full; jp += RK_NR) {
                const float *src = B + (int64_t)p0 * ldb + j0 + jp;
                float *dst = bp + (int64_t)jp * kc;
                for (int k = k0; k < k1; k++) {
#pragma clang loop unroll(full)
                    for (int v = 0; v < NV; v++)
                        FN(store)(dst + k * RK_NR + v * RK_VL, FN(load)(src + k * ldb + v * RK_VL));
                }
            }
            if (full < nc) {
                int nr = nc - full;
                const float *src = B + (int64_t)p0 * ldb + j0 + full;
                float *dst = bp + (int64_t)full * kc;
                for (int k = k0; k < k1; k++) {
                    for (int j = 0; j < nr; j++) dst[k * RK_NR + j] = src[k * ldb + j];
                    for (int j = nr; j < RK_NR; j++) dst[k * RK_NR + j] = 0.0f;
                }
            }
        }
        return;
    }
    for (int jp = 0; jp < nc; jp += RK_NR) {
        int nr = nc - jp < RK_NR ? nc - jp : RK_NR;
        float *dst = bp + (int64_t)jp * kc;
        // op(B)[k, j] = B[j, k]: transpose rows j of B into the panel.
        FN(transpose_block)(B + (int64_t)(j0 + jp) * ldb + p0, ldb, nr, kc, dst, RK_NR);
        if (nr < RK_NR)
            for (int k = 0; k < kc; k++)
                for (int j = nr; j < RK_NR; j++) dst[k * RK_NR + j] = 0.0f;
    }
}

// Horizontal sums of RK_VL vectors at once: lane q of the result is the sum of the lanes of
// x[q]. Every sum uses the same tree (lane l paired with lane l + half, halving each step), so a
// result does not depend on which other sums it was computed with.
RK_INLINE VF FN(reduce_lanes)(VF *x) {
#if RK_VL == 16
    VF s1[8], s2[4], s3[2];
    for (int q = 0; q < 8; q++)
        s1[q] = __builtin_shufflevector(x[2 * q], x[2 * q + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18,
                                        19, 20, 21, 22, 23) +
                __builtin_shufflevector(x[2 * q], x[2 * q + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24,
                                        25, 26, 27, 28, 29, 30, 31);
    for (int q = 0; q < 4; q++)
        s2[q] = __builtin_shufflevector(s1[2 * q], s1[2 * q + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16,
                                        17, 18, 19, 24, 25, 26, 27) +
                __builtin_shufflevector(s1[2 * q], s1[2 * q + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20,
                                        21, 22, 23, 28, 29, 30, 31);
    for (int q = 0; q < 2; q++)
        s3[q] = __builtin_shufflevector(s2[2 * q], s2[2 * q + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16,
                                        17, 20, 21, 24, 25, 28, 29) +
                __builtin_shufflevector(s2[2 * q], s2[2 * q + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18,
                                        19, 22, 23, 26, 27, 30, 31);
    return __builtin_shufflevector(s3[0], s3[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                   26, 28, 30) +
           __builtin_shufflevector(s3[0], s3[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25,
                                   27, 29, 31);
#elif RK_VL == 8
    VF s1[4], s2[2];
    for (int q = 0; q < 4; q++)
        s1[q] = __builtin_shufflevector(x[2 * q], x[2 * q + 1], 0, 1, 2, 3, 8, 9, 10, 11) +
                __builtin_shufflevector(x[2 * q], x[2 * q + 1], 4, 5, 6, 7, 12, 13, 14, 15);
    for (int q = 0; q < 2; q++)
        s2[q] = __builtin_shufflevector(s1[2 * q], s1[2 * q + 1], 0, 1, 4, 5, 8, 9, 12, 13) +
                __builtin_shufflevector(s1[2 * q], s1[2 * q + 1], 2, 3, 6, 7, 10, 11, 14, 15);
    return __builtin_shufflevector(s2[0], s2[1], 0, 2, 4, 6, 8, 10, 12, 14) +
           __builtin_shufflevector(s2[0], s2[1], 1, 3, 5, 7, 9, 11, 13, 15);
#elif RK_VL == 4
    VF s1[2];
    for (int q = 0; q < 2; q++)
        s1[q] = __builtin_shufflevector(x[2 * q], x[2 * q + 1], 0, 1, 4, 5) +
                __builtin_shufflevector(x[2 * q], x[2 * q + 1], 2, 3, 6, 7);
    return __builtin_shufflevector(s1[0], s1[1], 0, 2, 4, 6) +
           __builtin_shufflevector(s1[0], s1[1], 1, 3, 5, 7);
#else
#error "RK_VL must be 4, 8 or 16"
#endif
}

// *c (op)= alpha * s, with the same roundings as store_row.
RK_INLINE void FN(store_scalar)(float *c, float s, float alpha, float beta, int mode) {
#pragma clang fp contract(off)
    float r = alpha * s;
    if (mode == RK_STORE_ADD) r = *c + r;
    else if (mode == RK_STORE_SCALE) r = beta * *c + r;
    *c = r;
}

// The sum of the lanes of one vector, by the same tree reduce_lanes uses for each of its sums
// (lane l with lane l + half, halving each step), so the two give identical results.
RK_INLINE float FN(reduce_one)(VF x) {
    float t[RK_VL];
    FN(store)(t, x);
    for (int h = RK_VL / 2; h >= 1; h /= 2)
        for (int l = 0; l < h; l++) t[l] = t[l] + t[l + h];
    return t[0];
}

// A * B^T for few rows, by dot products along K (both operands contiguous along K, nothing
// packed): C[i, j] (op)= alpha * dot(a row i, b row j) for R rows i and J columns j.
// Each dot product has U accumulators: lane l of accumulator u sums k = l + u * RK_VL modulo
// U * RK_VL, in order (a last partial group of vectors goes to the first accumulators); the U
// accumulators are added pairwise, their lanes summed by a fixed tree, and the last K % RK_VL
// products added in order.
RK_INLINE void FN(dot_body)(const int R, const int J, const int U, const int PF, int K, const float *a,
                            int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
                            int ncols, float alpha, float beta, int mode) {
    const float *bj[RK_VL];
    for (int j = 0; j < J; j++) bj[j] = b + (int64_t)(j < ncols ? j : ncols - 1) * ldb;
    VF acc[4][RK_VL][4];
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < J; j++)
#pragma clang loop unroll(full)
            for (int u = 0; u < U; u++) acc[i][j][u] = (VF)0.0f;
    int k = 0;
    for (; k + U * RK_VL <= K; k += U * RK_VL) {
#pragma clang loop unroll(full)
        for (int u = 0; u < U; u++) {
            VF av[4];
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) av[i] = FN(load)(a + i * lda + k + u * RK_VL);
#pragma clang loop unroll(full)
            for (int j = 0; j < J; j++) {
                if (PF) __builtin_prefetch(bj[j] + k + u * RK_VL + PF, 0, 0);
                VF bv = FN(load)(bj[j] + k + u * RK_VL);
#pragma clang loop unroll(full)
                for (int i = 0; i < R; i++) acc[i][j][u] = av[i] * bv + acc[i][j][u];
            }
        }
    }
#pragma clang loop unroll(full)
    for (int u = 0; u < U - 1; u++) {
        if (k + RK_VL > K) break;
        VF av[4];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) av[i] = FN(load)(a + i * lda + k);
#pragma clang loop unroll(full)
        for (int j = 0; j < J; j++) {
            VF bv = FN(load)(bj[j] + k);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) acc[i][j][u] = av[i] * bv + acc[i][j][u];
        }
        k += RK_VL;
    }
    VF sum[4 * RK_VL];
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
        for (int j = 0; j < J; j++) {
            VF v = acc[i][j][0];
            if (U == 2) v = acc[i][j][0] + acc[i][j][1];
            if (U == 4) v = (acc[i][j][0] + acc[i][j][1]) + (acc[i][j][2] + acc[i][j][3]);
            sum[i * J + j] = v;
        }
    float sums[4 * RK_VL];
    if (R * J == RK_VL) FN(store)(sums, FN(reduce_lanes)(sum));
    else
        for (int q = 0; q < R * J; q++) sums[q] = FN(reduce_one)(sum[q]);
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < ncols; j++) {
            float s = sums[i * J + j];
            for (int t = k; t < K; t++) s = a[i * lda + t] * bj[j][t] + s;
            FN(store_scalar)(c + i * ldc + j, s, alpha, beta, mode);
        }
    }
}

// Tiles for 1, 2 and 4 rows: RK_DJ<R> columns and RK_DU<R> accumulators per dot product while B
// fits in cache; RK_SJ<R>, RK_SU<R> and a software prefetch RK_SPF floats ahead when B streams
// from memory (fewer rows of B at a time keep the hardware prefetchers on track).
#define RK_DOT(R)                                                                                  \
    static void FN(dot_##R)(int K, const float *a, int64_t lda, const float *b, int64_t ldb,      \
                            float *c, int64_t ldc, int ncols, float alpha, float beta, int mode) { \
        FN(dot_body)(R, RK_DJ##R, RK_DU##R, 0, K, a, lda, b, ldb, c, ldc, ncols, alpha, beta,     \
                     mode);                                                                        \
    }                                                                                              \
    static void FN(dots_##R)(int K, const float *a, int64_t lda, const float *b, int64_t ldb,     \
                             float *c, int64_t ldc, int ncols, float alpha, float beta,            \
                             int mode) {                                                           \
        FN(dot_body)(R, RK_SJ##R, RK_SU##R, RK_SPF, K, a, lda, b, ldb, c, ldc, ncols, alpha, beta, \
                     mode);                                                                        \
    }
RK_DOT(1)
RK_DOT(2)
RK_DOT(4)

typedef void (*FN(dot_fn))(int, const float *, int64_t, const float *, int64_t, float *, int64_t,
                           int, float, float, int);

static void FN(gemm_dot)(int ta, int M, int N, int K, float alpha, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int n0,
                         int n1, float *work) {
    if (ta) {
        // op(A) rows are strided: copy them out (M is small).
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++) work[(int64_t)i * K + k] = A[(int64_t)k * lda + i];
        A = work;
        lda = K;
    }
    int mode = beta == 1.0f ? RK_STORE_ADD : beta == 0.0f ? RK_STORE_SET : RK_STORE_SCALE;
    // Decided on the whole of B, not on this call's columns, so that any split of the columns
    // uses the same tiles.
    int streaming = (int64_t)N * K > RK_DOT_CACHED;
    for (int i0 = 0; i0 < M;) {
        int R = M - i0 >= 4 ? 4 : M - i0 >= 2 ? 2 : 1;
        int J;
        FN(dot_fn) dot;
        if (streaming) {
            J = R == 4 ? RK_SJ4 : R == 2 ? RK_SJ2 : RK_SJ1;
            dot = R == 4 ? FN(dots_4) : R == 2 ? FN(dots_2) : FN(dots_1);
        } else {
            J = R == 4 ? RK_DJ4 : R == 2 ? RK_DJ2 : RK_DJ1;
            dot = R == 4 ? FN(dot_4) : R == 2 ? FN(dot_2) : FN(dot_1);
        }
        for (int j0 = n0; j0 < n1; j0 += J) {
            int ncols = n1 - j0 < J ? n1 - j0 : J;
            dot(K, A + (int64_t)i0 * lda, lda, B + (int64_t)j0 * ldb, ldb, C + (int64_t)i0 * ldc + j0,
                ldc, ncols, alpha, beta, mode);
        }
        i0 += R;
    }
}

// Few rows of op(A) * B, reading B in place along its rows: the sums for R rows x ncols columns
// (ncols <= RK_ROWS_CB) live in an L1 buffer, and four rows of B are read side by side, each
// contiguously, which memory streams well. Same per-element arithmetic as micro_body (the
// products for k = 0, 1, 2, ... added in order).
#define RK_ROWS_CB 1024
RK_INLINE void FN(rows_body)(const int R, const int PF, int kc, const float *restrict a,
                             const float *restrict b, int64_t ldb, float *restrict c, int64_t ldc,
                             float alpha, float beta, int mode, int ncols, float *restrict buf) {
    int nv = (ncols + RK_VL - 1) / RK_VL;
    int full = ncols / RK_VL;
    for (int i = 0; i < R; i++)
        for (int v = 0; v < nv; v++) FN(store)(buf + i * RK_ROWS_CB + v * RK_VL, (VF)0.0f);
    // The columns past the last whole vector, copied to a zero-padded row per k.
    float tail[4][RK_VL] = {{0}};
    int k = 0;
    for (; k + 4 <= kc; k += 4) {
        VF ai[4][4];
#pragma clang loop unroll(full)
        for (int q = 0; q < 4; q++)
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) ai[q][i] = (VF)a[(k + q) * RK_MR + i];
        const float *b0 = b + k * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
        for (int v = 0; v <= full; v++) {
            VF bv[4];
            if (v < full) {
                // When B streams from memory, the next four rows, one cache line each per 16 floats
                // (prefetches never fault). For a B that fits in cache they only get in the way.
                if (PF && (v * RK_VL) % 16 == 0) {
                    __builtin_prefetch(b0 + 4 * ldb + v * RK_VL, 0, 0);
                    __builtin_prefetch(b1 + 4 * ldb + v * RK_VL, 0, 0);
                    __builtin_prefetch(b2 + 4 * ldb + v * RK_VL, 0, 0);
                    __builtin_prefetch(b3 + 4 * ldb + v * RK_VL, 0, 0);
                }
                bv[0] = FN(load)(b0 + v * RK_VL);
                bv[1] = FN(load)(b1 + v * RK_VL);
                bv[2] = FN(load)(b2 + v * RK_VL);
                bv[3] = FN(load)(b3 + v * RK_VL);
            } else {
                if (full == nv) break;
                for (int j = full * RK_VL; j < ncols; j++) {
                    tail[0][j - full * RK_VL] = b0[j];
                    tail[1][j - full * RK_VL] = b1[j];
                    tail[2][j - full * RK_VL] = b2[j];
                    tail[3][j - full * RK_VL] = b3[j];
                }
#pragma clang loop unroll(full)
                for (int q = 0; q < 4; q++) bv[q] = FN(load)(tail[q]);
            }
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) {
                float *sp = buf + i * RK_ROWS_CB + v * RK_VL;
                VF sum = FN(load)(sp);
                sum = ai[0][i] * bv[0] + sum;
                sum = ai[1][i] * bv[1] + sum;
                sum = ai[2][i] * bv[2] + sum;
                sum = ai[3][i] * bv[3] + sum;
                FN(store)(sp, sum);
            }
        }
    }
    for (; k < kc; k++) {
        VF ai[4];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) ai[i] = (VF)a[k * RK_MR + i];
        const float *bk = b + k * ldb;
        for (int v = 0; v < nv; v++) {
            VF bv;
            if (v < full) bv = FN(load)(bk + v * RK_VL);
            else {
                for (int j = full * RK_VL; j < ncols; j++) tail[0][j - full * RK_VL] = bk[j];
                bv = FN(load)(tail[0]);
            }
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) {
                float *sp = buf + i * RK_ROWS_CB + v * RK_VL;
                FN(store)(sp, ai[i] * bv + FN(load)(sp));
            }
        }
    }
    for (int i = 0; i < R; i++) {
        for (int v = 0; v < nv; v++) {
            VF acc = FN(load)(buf + i * RK_ROWS_CB + v * RK_VL);
            int n = ncols - v * RK_VL < RK_VL ? ncols - v * RK_VL : RK_VL;
            FN(store_row)(1, &acc, c + i * ldc + v * RK_VL, alpha, beta, mode, n);
        }
    }
}

#define RK_ROWS(R)                                                                                 \
    static void FN(rows_##R)(int kc, const float *a, const float *b, int64_t ldb, float *c,       \
                             int64_t ldc, float alpha, float beta, int mode, int ncols,            \
                             float *buf) {                                                         \
        FN(rows_body)(R, 0, kc, a, b, ldb, c, ldc, alpha, beta, mode, ncols, buf);                \
    }                                                                                              \
    static void FN(rowsp_##R)(int kc, const float *a, const float *b, int64_t ldb, float *c,      \
                              int64_t ldc, float alpha, float beta, int mode, int ncols,           \
                              float *buf) {                                                        \
        FN(rows_body)(R, 1, kc, a, b, ldb, c, ldc, alpha, beta, mode, ncols, buf);                \
    }
RK_ROWS(1)
RK_ROWS(2)
RK_ROWS(3)
RK_ROWS(4)
typedef void (*FN(rows_fn))(int, const float *, const float *, int64_t, float *, int64_t, float,
                            float, int, int, float *);
static const FN(rows_fn) FN(rows)[5] = {0, FN(rows_1), FN(rows_2), FN(rows_3), FN(rows_4)};
static const FN(rows_fn) FN(rowsp)[5] = {0, FN(rowsp_1), FN(rowsp_2), FN(rowsp_3), FN(rowsp_4)};

// op(A) * B for few rows, reading B in place (each value of B is used by every row at once, so
// packing it would cost more than it saves). Same blocking along K and the same per-element
// arithmetic as the packed product, so both give identical results.
static void FN(gemm_stream)(int ta, int M, int N, int K, float alpha, const float *A,
                            int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                            int64_t ldc, int n0, int n1, float *work) {
    const FN(rows_fn) *rows = (int64_t)N * K > RK_DOT_CACHED ? FN(rowsp) : FN(rows);
    float *ap = work;
    float *edge = work + (int64_t)RK_MR * RK_KC;
    for (int p0 = 0; p0 < K; p0 += RK_KC) {
        int kc = K - p0 < RK_KC ? K - p0 : RK_KC;
        int mode = p0 > 0 || beta == 1.0f ? RK_STORE_ADD
                   : beta == 0.0f         ? RK_STORE_SET
                                          : RK_STORE_SCALE;
        FN(pack_a)(ta, A, lda, 0, M, p0, kc, ap);
        const float *bk = B + (int64_t)p0 * ldb;
        for (int i0 = 0; i0 < M; i0 += 4) {
            int R = M - i0 < 4 ? M - i0 : 4;
            const float *a = ap + i0;
            float *c = C + (int64_t)i0 * ldc;
            if (R <= RK_ROWS_R) {
                float *buf = edge + (int64_t)RK_NR * RK_KC;
                for (int j = n0; j < n1; j += RK_ROWS_CB) {
                    int ncols = n1 - j < RK_ROWS_CB ? n1 - j : RK_ROWS_CB;
                    rows[R](kc, a, bk + j, ldb, c + j, ldc, alpha, beta, mode, ncols, buf);
                }
                continue;
            }
            int sw = FN(wide_vectors)[R] * RK_VL;
            FN(micro_fn) wide = FN(wide)[R], narrow = FN(micro)[R];
            int j = n0;
            for (; j + sw <= n1; j += sw) wide(kc, a, bk + j, ldb, c + j, ldc, alpha, beta, mode, sw);
            for (; j + RK_NR <= n1; j += RK_NR)
                narrow(kc, a, bk + j, ldb, c + j, ldc, alpha, beta, mode, RK_NR);
            if (j < n1) {
                int nr = n1 - j;
                for (int k = 0; k < kc; k++) {
                    for (int q = 0; q < nr; q++) edge[k * RK_NR + q] = bk[k * ldb + j + q];
                    for (int q = nr; q < RK_NR; q++) edge[k * RK_NR + q] = 0.0f;
                }
                narrow(kc, a, edge, RK_NR, c + j, ldc, alpha, beta, mode, nr);
            }
        }
    }
}

// The packed product over the columns [n0, n1) of C.
static void FN(gemm_packed)(int ta, int tb, int M, int K, float alpha, const float *A, int64_t lda,
                            const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int n0,
                            int n1, float *work) {
    float *ap = work;
    int mb_max = M < RK_MB ? M : RK_MB;
    float *bp = work + (int64_t)((mb_max + RK_MR - 1) / RK_MR * RK_MR) * RK_KC;
    for (int i0 = 0; i0 < M; i0 += RK_MB) {
        int mb = M - i0 < RK_MB ? M - i0 : RK_MB;
        for (int p0 = 0; p0 < K; p0 += RK_KC) {
            int kc = K - p0 < RK_KC ? K - p0 : RK_KC;
            int mode = p0 > 0 || beta == 1.0f ? RK_STORE_ADD
                       : beta == 0.0f         ? RK_STORE_SET
                                              : RK_STORE_SCALE;
            FN(pack_a)(ta, A, lda, i0, mb, p0, kc, ap);
            for (int j0 = n0; j0 < n1; j0 += RK_NB) {
                int nb = n1 - j0 < RK_NB ? n1 - j0 : RK_NB;
                FN(pack_b)(tb, B, ldb, p0, kc, j0, nb, bp);
                for (int ip = 0; ip < mb; ip += RK_MR) {
                    int mr = mb - ip < RK_MR ? mb - ip : RK_MR;
                    FN(micro_fn) uk = FN(micro)[mr];
                    const float *a = ap + (int64_t)ip * kc;
                    float *c = C + (int64_t)(i0 + ip) * ldc + j0;
                    for (int jp = 0; jp < nb; jp += RK_NR) {
                        int nr = nb - jp < RK_NR ? nb - jp : RK_NR;
                        uk(kc, a, bp + (int64_t)jp * kc, RK_NR, c + jp, ldc, alpha, beta, mode, nr);
                    }
                }
            }
        }
    }
}

// C (one column) = alpha * op(A) b + beta * C, b = op(B)'s only column: a matrix-vector product,
// which packing would turn into a copy of all of A for one column of work. Each element's sum
// runs in a fixed order that depends only on K, so it does not depend on M or on which rows a
// thread was given. work: M + K floats.
static void FN(gemv)(int ta, int tb, int M, int K, float alpha, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float beta, float *C, int64_t ldc, float *work) {
    const float *b = B;
    if (!tb && ldb != 1) {
        float *gathered = work + M;
        for (int k = 0; k < K; k++) gathered[k] = B[(int64_t)k * ldb];
        b = gathered;
    }
    float *sum = work;
    if (ta) {
        // op(A)[i, k] = A[k, i]: row k of A adds b[k] times itself to every element. Eight
        // vectors of rows at a time keep eight sums going; each element has its own lane.
        int i = 0;
        for (; i + 8 * RK_VL <= M; i += 8 * RK_VL) {
            VF acc[8];
#pragma clang loop unroll(full)
            for (int g = 0; g < 8; g++) acc[g] = (VF)0.0f;
            for (int k = 0; k < K; k++) {
                const float *row = A + (int64_t)k * lda + i;
                const VF bk = (VF)b[k];
#pragma clang loop unroll(full)
                for (int g = 0; g < 8; g++) acc[g] = FN(load)(row + g * RK_VL) * bk + acc[g];
            }
#pragma clang loop unroll(full)
            for (int g = 0; g < 8; g++) FN(store)(sum + i + g * RK_VL, acc[g]);
        }
        for (; i < M; i += RK_VL) {
            const int m = M - i < RK_VL ? M - i : RK_VL;
            VF acc = (VF)0.0f;
            for (int k = 0; k < K; k++) {
                const float *row = A + (int64_t)k * lda + i;
                VF a = (VF)0.0f;
                if (m == RK_VL) a = FN(load)(row);
                else for (int v = 0; v < m; v++) a[v] = row[v];
                acc = a * (VF)b[k] + acc;
            }
            for (int v = 0; v < m; v++) sum[i + v] = acc[v];
        }
    } else {
        // Row i of A against b: lane v sums k = v, v + RK_VL, ... (the last vector padded with
        // zeros), then the lanes add up in order. Four rows at a time keep four sums going.
        for (int i = 0; i < M; i += 4) {
            const int rows = M - i < 4 ? M - i : 4;
            VF acc[4] = {(VF)0.0f, (VF)0.0f, (VF)0.0f, (VF)0.0f};
            int k = 0;
            for (; k + RK_VL <= K; k += RK_VL) {
                const VF bv = FN(load)(b + k);
                for (int r = 0; r < rows; r++) acc[r] = FN(load)(A + (int64_t)(i + r) * lda + k) * bv + acc[r];
            }
            if (k < K) {
                VF bv = (VF)0.0f;
                for (int v = 0; v < K - k; v++) bv[v] = b[k + v];
                for (int r = 0; r < rows; r++) {
                    VF a = (VF)0.0f;
                    for (int v = 0; v < K - k; v++) a[v] = A[(int64_t)(i + r) * lda + k + v];
                    acc[r] = a * bv + acc[r];
                }
            }
            for (int r = 0; r < rows; r++) {
                float total = acc[r][0];
                for (int v = 1; v < RK_VL; v++) total += acc[r][v];
                sum[i + r] = total;
            }
        }
    }
    for (int i = 0; i < M; i++) {
        float *c = C + (int64_t)i * ldc;
        *c = beta == 0.0f ? alpha * sum[i] : alpha * sum[i] + beta * *c;
    }
}

// Which of the ways computes this product. Depends only on the shape and transposes, never on
// the column range, so splitting the columns across threads does not change any result. `alike`
// (rk_sgemm_rows_alike): A * B^T with B in cache takes the dot products for any M, whose tiles
// give every row the same arithmetic, so the result does not depend on M either.
static int FN(path)(int tb, int M, int N, int K, int alike) {
    if (alike && tb && (int64_t)N * K <= RK_DOT_CACHED) return RK_PATH_DOT;
    if (N == 1) return RK_PATH_GEMV;
    if (tb && M <= RK_DOT_M) return RK_PATH_DOT;
    if (!tb && M <= RK_STREAM_M) return RK_PATH_STREAM;
    return RK_PATH_PACKED;
}

// The largest B (N x K floats) whose A * B^T rk_sgemm_rows_alike computes by dot products.
static int64_t FN(dot_cached_floats)(void) { return RK_DOT_CACHED; }

// Floats of work space a product with M rows and depth K needs.
static size_t FN(work_floats)(int ta, int tb, int M, int N, int K, int alike) {
    switch (FN(path)(tb, M, N, K, alike)) {
    case RK_PATH_GEMV: return (size_t)M + (size_t)K;
    case RK_PATH_DOT: return ta ? (size_t)M * (size_t)K : 0;  // op(A)'s rows copied out
    case RK_PATH_STREAM: return (size_t)RK_MR * RK_KC + (size_t)RK_NR * RK_KC + 4 * RK_ROWS_CB;
    default: {
        int mb = M < RK_MB ? M : RK_MB;
        mb = (mb + RK_MR - 1) / RK_MR * RK_MR;
        return (size_t)mb * RK_KC + (size_t)(RK_NB + RK_NR) * RK_KC;
    }
    }
}

static void FN(gemm)(int ta, int tb, int M, int N, int K, float alpha, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int n0, int n1,
                     int alike, float *work) {
    switch (FN(path)(tb, M, N, K, alike)) {
    case RK_PATH_GEMV:
        FN(gemv)(ta, tb, M, K, alpha, A, lda, B, ldb, beta, C, ldc, work);
        break;
    case RK_PATH_DOT:
        FN(gemm_dot)(ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, n0, n1, work);
        break;
    case RK_PATH_STREAM:
        FN(gemm_stream)(ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, n0, n1, work);
        break;
    default:
        FN(gemm_packed)(ta, tb, M, K, alpha, A, lda, B, ldb, beta, C, ldc, n0, n1, work);
    }
}

#undef VF
#undef V8
#undef NV
#undef FN
