// The fused recurrent step on weights stored narrower than float, included by recurrent_impl.h
// once per weight type (so once per instruction set and type, with its FN, VF, tiles' limits and
// the cells' `finish`). The including file defines
//   RK_Q          the type's name in function names: int8 or bf16
//   RK_Q_T        the stored element: int8_t or uint16_t
//   RK_Q_SCALED   1 when each row has a float scale (int8), 0 when the values are the weights
//   RK_Q_SEGMENT  values of k summed before a row's scale is applied (int8; any for bf16)
// and FN(RK_Q load) below converts RK_VL stored values to floats.
//
// Streaming at batch 1 reads every weight once per step and does one multiply-add with it, so
// the step is bound by the bytes of the weights: int8 reads a quarter of float's, bfloat16 half.
// int8: each sum runs over a segment of k (the input part, then the hidden part, RK_Q_SEGMENT
// values at a time) on the int8 values converted to float, and is then scaled by its row's scale
// into the tile's sums in memory: r = sum over segments of scale_row * sum_k a_k q_k. The
// segments are fixed by I and H alone, so the bits do not depend on the batch, the tile or the
// thread count. bfloat16: each value is the top half of a float, widened exactly, and each sum
// runs over all of k in one accumulator, as the float step's does. The activations stay float,
// as in PyTorch's dynamic quantization of recurrent layers.

#define QN(name) FN(RK_CAT(RK_Q, name))
typedef RK_Q_T QN(vec) __attribute__((ext_vector_type(RK_VL)));

// RK_VL stored values at p as floats.
RK_INLINE VF QN(load)(const RK_Q_T *p) {
    QN(vec) q;
    __builtin_memcpy(&q, p, sizeof q);
#if RK_Q_SCALED
    return __builtin_convertvector(q, VF);
#else
    // bfloat16: the 16 bits go to the top of a float's 32.
    typedef uint32_t QN(wide) __attribute__((ext_vector_type(RK_VL)));
    QN(wide) w = __builtin_convertvector(q, QN(wide)) << 16;
    VF f;
    __builtin_memcpy(&f, &w, sizeof f);
    return f;
#endif
}

// FN(accumulate) on stored weights: acc[i][v] += sum over k < K of a[i * lda + k] * b[k * ldp +
// offset(v)]. Returns b advanced past the K rows.
// With 16 registers, tiles of several rows take the rows' broadcasts first and widen one vector of
// weights at a time when that fits (sums, broadcasts, a vector of weights and one to widen it in),
// and then run their loop without unrolling where RK_TILE_UNROLL says so: with 16 registers,
// widening all of a row's vectors first kept sums on the stack. One row (streaming) widens the
// row's vectors first, unrolled.
RK_INLINE const RK_Q_T *QN(accumulate)(const int R, const int W, const int S, const int U,
                                       VF acc[RK_TILE_MAXR][RK_TILE_MAXW], const float *a, int64_t lda,
                                       int K, const RK_Q_T *b, int64_t ldp) {
    if (RK_NREGS <= 16 && R > 1 && R * W + R + 2 <= RK_NREGS) {
        RK_STEP_UNROLL
        for (int k = 0; k < K; k++) {
            VF ai[RK_TILE_MAXR];
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) ai[i] = (VF)a[i * lda + k];
#pragma clang loop unroll(full)
            for (int v = 0; v < W; v++) {
                const VF bv = QN(load)(b + (v / S) * U + (v % S) * RK_VL);
#pragma clang loop unroll(full)
                for (int i = 0; i < R; i++) acc[i][v] = ai[i] * bv + acc[i][v];
            }
            b += ldp;
        }
        return b;
    }
#pragma clang loop unroll_count(4)
    for (int k = 0; k < K; k++) {
        VF bv[RK_TILE_MAXW];
#pragma clang loop unroll(full)
        for (int v = 0; v < W; v++) bv[v] = QN(load)(b + (v / S) * U + (v % S) * RK_VL);
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            VF ai = (VF)a[i * lda + k];
#pragma clang loop unroll(full)
            for (int v = 0; v < W; v++) acc[i][v] = ai * bv[v] + acc[i][v];
        }
        b += ldp;
    }
    return b;
}

// pre[i][v] (W vectors per row) = the gates' sums of R batch rows over the whole of [x_i | h_i],
// before bias and nonlinearity; GRU's candidate keeps its input part apart in preX ([R][S]
// vectors), as in tile_body. `scales` (int8): the tile's row scales of W_ih, then of W_hh G * U
// later.
RK_INLINE void QN(tile_body)(const int R, const int G, const int S, const int U, const float *x, int64_t ldx,
                             int I, const float *h, int64_t ldh, int H, const RK_Q_T *panel, const float *scales,
                             float *restrict pre, float *restrict preX) {
    const int W = G * S;
    const int64_t ldp = (int64_t)G * U;
    for (int j = 0; j < R * W * RK_VL; j++) pre[j] = 0.0f;
    if (G == 3)
        for (int j = 0; j < R * S * RK_VL; j++) preX[j] = 0.0f;
    const RK_Q_T *b = panel;
    for (int part = 0; part < 2; part++) {
        const float *a = part == 0 ? x : h;
        const int64_t lda = part == 0 ? ldx : ldh;
        const int n = part == 0 ? I : H;
#if RK_Q_SCALED
        const float *scale = scales + part * ldp;
#else
        (void)scales;
#endif
        for (int k0 = 0; k0 < n; k0 += RK_Q_SEGMENT) {
            VF acc[RK_TILE_MAXR][RK_TILE_MAXW];
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
                for (int v = 0; v < W; v++) acc[i][v] = (VF)0.0f;
            const int kn = n - k0 < RK_Q_SEGMENT ? n - k0 : RK_Q_SEGMENT;
            b = QN(accumulate)(R, W, S, U, acc, a + k0, lda, kn, b, ldp);
#pragma clang loop unroll(full)
            for (int v = 0; v < W; v++) {
#if RK_Q_SCALED
                const VF rowScale = FN(rload)(scale + (v / S) * U + (v % S) * RK_VL);
#endif
                const int apart = G == 3 && v / S == 2 && part == 0;
#pragma clang loop unroll(full)
                for (int i = 0; i < R; i++) {
                    float *sum = apart ? preX + (i * S + v % S) * RK_VL : pre + (i * W + v) * RK_VL;
#if RK_Q_SCALED
                    FN(rstore)(sum, acc[i][v] * rowScale + FN(rload)(sum));
#else
                    FN(rstore)(sum, acc[i][v] + FN(rload)(sum));
#endif
                }
            }
        }
    }
}

typedef void (*QN(tile_fn))(const float *, int64_t, int, const float *, int64_t, int, const RK_Q_T *,
                            const float *, float *, float *);
#define RK_Q_TILE(NAME, G, S, U, R)                                                                    \
    static void QN(NAME##_##R)(const float *x, int64_t ldx, int I, const float *h, int64_t ldh, int H,  \
                               const RK_Q_T *panel, const float *scales, float *pre, float *preX) {     \
        QN(tile_body)(R, G, S, U, x, ldx, I, h, ldh, H, panel, scales, pre, preX);                     \
    }
#define RK_Q_TILES(NAME, G, S, U)                                                                      \
    RK_Q_TILE(NAME, G, S, U, 1)                                                                        \
    RK_Q_TILE(NAME, G, S, U, 2)                                                                        \
    RK_Q_TILE(NAME, G, S, U, 3)                                                                        \
    RK_Q_TILE(NAME, G, S, U, 4)                                                                        \
    RK_Q_TILE(NAME, G, S, U, 5)                                                                        \
    RK_Q_TILE(NAME, G, S, U, 6)                                                                        \
    RK_Q_TILE(NAME, G, S, U, 7)                                                                        \
    RK_Q_TILE(NAME, G, S, U, 8)                                                                        \
    static const QN(tile_fn) QN(NAME)[RK_TILE_MAXR + 1] = {                                            \
        0, QN(NAME##_1), QN(NAME##_2), QN(NAME##_3), QN(NAME##_4),                                     \
        QN(NAME##_5), QN(NAME##_6), QN(NAME##_7), QN(NAME##_8)};
RK_Q_TILES(tiles1, 1, RK_SUB1, 64)
RK_Q_TILES(tiles3, 3, RK_SUB3, 16)
RK_Q_TILES(tiles4, 4, RK_SUB4, 16)
#undef RK_Q_TILES
#undef RK_Q_TILE

// One step for the blocks [block0, block1) of units on stored weights: every batch row, R rows
// at a time, each tile in one pass over the block (a quarter or half of float's bytes stays in
// L2 across tiles).
RK_INLINE void QN(step_body)(const int CELL, const int G, const int S, const int U, const int RMAX,
                             const QN(tile_fn) *tiles, const rk_step_job *job, int block0, int block1) {
    const rk_recurrent_sequence *s = job->s;
    const int H = s->hidden, I = s->input, B = s->batch, t = job->t, K = I + H;
    const int chunk = S * RK_VL;
    const int64_t rowFloats = (int64_t)G * chunk, blockValues = (int64_t)K * G * U;
    float pre[RK_TILE_MAXR * 64];
    float preX[RK_TILE_MAXR * 16];
    const int inputApart = CELL == RK_CELL_GRU && I > 0;
    const int tileCount = (B + RMAX - 1) / RMAX;
    for (int block = block0; block < block1; block++) {
        const int u0 = block * U;
        for (int uc = u0; uc < u0 + U && uc < H; uc += chunk) {
            const RK_Q_T *panel = s->RK_CAT(packed, RK_Q) + block * blockValues + (uc - u0);
#if RK_Q_SCALED
            const float *scales = s->packed_scales + (int64_t)block * 2 * G * U + (uc - u0);
#else
            const float *scales = 0;
#endif
            const int n = H - uc < chunk ? H - uc : chunk;
            for (int tile = 0, b0 = 0; tile < tileCount; tile++) {
                const int R = B / tileCount + (tile < B % tileCount ? 1 : 0);
                const float *x = I > 0 ? s->x + b0 * s->x_batch_stride + t * s->x_time_stride : 0;
                tiles[R](x, s->x_batch_stride, I, job->h_prev + (int64_t)b0 * H, H, H, panel, scales, pre, preX);
                for (int i = 0; i < R; i++)
                    FN(finish)(CELL, chunk, s, job, b0 + i, uc, n, pre + i * rowFloats, inputApart ? preX + i * chunk : 0);
                b0 += R;
            }
        }
    }
}

static void QN(step_blocks)(const rk_step_job *job, int block0, int block1) {
    switch (job->s->cell) {
    case RK_CELL_LSTM:
        QN(step_body)(RK_CELL_LSTM, 4, RK_SUB4, 16, RK_QROWS4, QN(tiles4), job, block0, block1);
        break;
    case RK_CELL_GRU:
        QN(step_body)(RK_CELL_GRU, 3, RK_SUB3, 16, RK_QROWS3, QN(tiles3), job, block0, block1);
        break;
    case RK_CELL_ELMAN_RELU:
        QN(step_body)(RK_CELL_ELMAN_RELU, 1, RK_SUB1, 64, RK_QROWS1, QN(tiles1), job, block0, block1);
        break;
    default:
        QN(step_body)(RK_CELL_ELMAN_TANH, 1, RK_SUB1, 64, RK_QROWS1, QN(tiles1), job, block0, block1);
    }
}

#undef QN
