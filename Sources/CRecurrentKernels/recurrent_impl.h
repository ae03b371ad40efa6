// The fused recurrent step, written once and included by recurrent.c once per instruction set
// (inside a `#pragma clang attribute` that gives every function here that set's target), after
// activations_impl.h for the same set, whose vector sigmoid and tanh it uses.
//
// The including file defines RK_ISA, RK_VL and RK_NREGS as for the matrix product, and for
// cells of 1, 3 and 4 gates:
//   RK_ROWS<G>   rows of the register tile (batch rows computed together)
//   RK_SUB<G>    vectors of units per gate in the tile, which is G * RK_SUB<G> vectors wide
//
// A step, for one block of units and a tile of batch rows: the recurrent product of those rows
// against every gate of those units (the packed block holds them side by side), kept in
// registers, then the gate nonlinearities and the state update on the sums, written straight to
// the new state, the output and what the backward pass keeps.

#define FN(name) RK_CAT(name, RK_ISA)
#define VF RK_CAT(af, RK_ISA)
#define RK_TILE_MAXR 8
#define RK_TILE_MAXW 4
#define RK_BACKWARD_KC 1024
// How many rows of k the backward pass's row tiles take at a time within a part of
// RK_BACKWARD_KC (the whole part unless the including file says otherwise).
#ifndef RK_BACKWARD_DEPTH
#define RK_BACKWARD_DEPTH RK_BACKWARD_KC
#endif
// Where the including file sets RK_STEP_KC, the forward step goes through a block's packed rows
// RK_STEP_KC at a time, for RK_STEP_ROWS batch rows at once, whose partial sums wait in memory:
// every row tile finds those rows in L1 instead of streaming the whole block from L2 once per
// tile. That pays where a tile covers only part of a block's units, so that each pass over the
// block uses part of every line it reads (AVX2 and narrower: charlm-medium inference 1.5x with
// AVX2 here); with AVX-512 a tile covers the block's 16 units and one pass measured faster.
// RK_TILE_UNROLL: how many steps of k the tiles' loop is unrolled (4 unless the including file
// says otherwise: with 16 registers a full tile leaves none for unrolling).
#define RK_PRAGMA(x) _Pragma(#x)
#ifndef RK_TILE_UNROLL
#define RK_TILE_UNROLL 4
#endif
#define RK_UNROLL_COUNT(n) RK_PRAGMA(clang loop unroll_count(n))
#define RK_STEP_UNROLL RK_UNROLL_COUNT(RK_TILE_UNROLL)
#ifndef RK_STEP_KC
#define RK_STEP_KC 0
#endif
#define RK_STEP_ROWS 64
// RK_PAIRS4 (where the including file sets it): LSTM's step in two passes of two gates by the
// block's 16 units, instead of one pass of four gates by part of them: each pass reads whole
// cache lines of the packed rows (AVX2: a 3 x 4 tile of 8 lanes covers 8 of 16 units of four gates,
// half of each line it fetches; from L2 that halves its speed).
#ifndef RK_PAIRS4
#define RK_PAIRS4 0
#endif

RK_INLINE VF FN(rload)(const float *p) {
    VF v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
RK_INLINE void FN(rstore)(float *p, VF v) { __builtin_memcpy(p, &v, sizeof v); }

// The first n values at p (zeros after them), for the last units of a layer whose size is not a
// multiple of the vector length.
RK_INLINE VF FN(load_n)(const float *p, int n) {
    if (n >= RK_VL) return FN(rload)(p);
    float tail[RK_VL] = {0};
    for (int j = 0; j < n; j++) tail[j] = p[j];
    return FN(rload)(tail);
}
RK_INLINE void FN(store_n)(float *p, VF v, int n) {
    if (n >= RK_VL) {
        FN(rstore)(p, v);
        return;
    }
    float tail[RK_VL];
    FN(rstore)(tail, v);
    for (int j = 0; j < n; j++) p[j] = tail[j];
}

// One step of k of accumulate (below).
RK_INLINE void FN(accumulate_k)(const int R, const int W, const int S, const int U,
                                VF acc[RK_TILE_MAXR][RK_TILE_MAXW], const float *a, int64_t lda, int k,
                                const float *b) {
    if (R * W + R + 1 <= RK_NREGS) {
        // Broadcasts first, then one vector of the weights at a time.
        VF ai[RK_TILE_MAXR];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) ai[i] = (VF)a[i * lda + k];
#pragma clang loop unroll(full)
        for (int v = 0; v < W; v++) {
            VF bv = FN(rload)(b + (v / S) * U + (v % S) * RK_VL);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) acc[i][v] = ai[i] * bv + acc[i][v];
        }
    } else {
        // The weights first, then one broadcast at a time.
        VF bv[RK_TILE_MAXW];
#pragma clang loop unroll(full)
        for (int v = 0; v < W; v++) bv[v] = FN(rload)(b + (v / S) * U + (v % S) * RK_VL);
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            VF ai = (VF)a[i * lda + k];
#pragma clang loop unroll(full)
            for (int v = 0; v < W; v++) acc[i][v] = ai * bv[v] + acc[i][v];
        }
    }
}

// acc[i][v] += sum over k < K of a[i * lda + k] * b[k * ldp + offset(v)], where vector v of the
// tile is gate v / S, sub-vector v % S of the units: offset(v) = (v / S) * U + (v % S) * RK_VL.
// Each sum runs over k in order in one accumulator, so its bits depend on nothing but its
// operands. Returns b advanced past the K rows.
RK_INLINE const float *FN(accumulate)(const int R, const int W, const int S, const int U,
                                      VF acc[RK_TILE_MAXR][RK_TILE_MAXW], const float *a,
                                      int64_t lda, int K, const float *b, int64_t ldp) {
    // A tile that fills the registers is not unrolled where RK_TILE_UNROLL says so (unrolling
    // there spills sums); smaller tiles, one row when streaming, keep 4.
    if (R * W + R + 1 >= RK_NREGS) {
        RK_STEP_UNROLL
        for (int k = 0; k < K; k++, b += ldp) FN(accumulate_k)(R, W, S, U, acc, a, lda, k, b);
    } else {
#pragma clang loop unroll_count(4)
        for (int k = 0; k < K; k++, b += ldp) FN(accumulate_k)(R, W, S, U, acc, a, lda, k, b);
    }
    return b;
}

// pre[i][v] (W vectors per row) = [x_i | h_i] . packed columns of the tile, over the packed
// rows k in [k0, k1) of I + H: the gates' sums of R batch rows before bias and nonlinearity,
// begun afresh at k0 = 0 and otherwise continued from the partial sums in pre (the same sums, in
// the same order, as in one pass). GRU's candidate (G = 3, gate 2) needs its input part apart
// from its hidden part: its accumulators sum x W_in over k < I into preX ([R][S] vectors), then
// start afresh on h W_hn for pre.
RK_INLINE void FN(tile_body)(const int R, const int G, const int GT, const int S, const int U, const float *x,
                             int64_t ldx, int I, const float *h, int64_t ldh, const float *panel,
                             float *restrict pre, float *restrict preX, int k0, int k1) {
    const int W = GT * S, ldpre = G * S * RK_VL;
    const int64_t ldp = (int64_t)G * U;
    VF acc[RK_TILE_MAXR][RK_TILE_MAXW];
#define RK_APART(v) (G == 3 && GT == 3 && (v) / S == 2)
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
        for (int v = 0; v < W; v++)
            acc[i][v] = k0 == 0                      ? (VF)0.0f
                        : RK_APART(v) && k0 < I ? FN(rload)(preX + (i * S + v % S) * RK_VL)
                                                  : FN(rload)(pre + i * ldpre + v * RK_VL);
    const float *b = panel + k0 * ldp;
    if (k0 < I) {
        b = FN(accumulate)(R, W, S, U, acc, x + k0, ldx, (k1 < I ? k1 : I) - k0, b, ldp);
        if (G == 3) {
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
                for (int v = 0; v < W; v++)
                    if (RK_APART(v)) {
                        FN(rstore)(preX + (i * S + v % S) * RK_VL, acc[i][v]);
                        acc[i][v] = (VF)0.0f;
                    }
        }
    }
#undef RK_APART
    if (k1 > I) {
        const int h0 = k0 > I ? k0 - I : 0;
        FN(accumulate)(R, W, S, U, acc, h + h0, ldh, k1 - I - h0, b, ldp);
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++)
#pragma clang loop unroll(full)
        for (int v = 0; v < W; v++) FN(rstore)(pre + i * ldpre + v * RK_VL, acc[i][v]);
}

typedef void (*FN(tile_fn))(const float *, int64_t, int, const float *, int64_t, const float *, float *,
                            float *, int, int);
#define RK_TILE(NAME, G, GT, S, U, R)                                                              \
    static void FN(NAME##_##R)(const float *x, int64_t ldx, int I, const float *h, int64_t ldh,   \
                               const float *panel, float *pre, float *preX, int k0, int k1) {      \
        FN(tile_body)(R, G, GT, S, U, x, ldx, I, h, ldh, panel, pre, preX, k0, k1);                \
    }
#define RK_TILES_OF(NAME, G, GT, S, U)                                                             \
    RK_TILE(NAME, G, GT, S, U, 1)                                                                  \
    RK_TILE(NAME, G, GT, S, U, 2)                                                                  \
    RK_TILE(NAME, G, GT, S, U, 3)                                                                  \
    RK_TILE(NAME, G, GT, S, U, 4)                                                                  \
    RK_TILE(NAME, G, GT, S, U, 5)                                                                  \
    RK_TILE(NAME, G, GT, S, U, 6)                                                                  \
    RK_TILE(NAME, G, GT, S, U, 7)                                                                  \
    RK_TILE(NAME, G, GT, S, U, 8)                                                                  \
    static const FN(tile_fn) FN(NAME)[RK_TILE_MAXR + 1] = {                                        \
        0, FN(NAME##_1), FN(NAME##_2), FN(NAME##_3), FN(NAME##_4),                                 \
        FN(NAME##_5), FN(NAME##_6), FN(NAME##_7), FN(NAME##_8)};
#define RK_TILES(NAME, G, S, U) RK_TILES_OF(NAME, G, G, S, U)
RK_TILES(tiles1, 1, RK_SUB1, 64)
RK_TILES(tiles3, 3, RK_SUB3, 16)
RK_TILES(tiles4, 4, RK_SUB4, 16)
#if RK_PAIRS4
// LSTM tiles of two gates by the block's 16 units, for the step in two passes (see step_body).
RK_TILES_OF(pairs4, 4, 2, 16 / RK_VL, 16)
#endif
#undef RK_TILES
#undef RK_TILES_OF
#undef RK_TILE

// The cell on units [j, j + m) of one row's chunk (see finish); m is RK_VL but for a layer's
// last units, so that the common case compiles without the partial loads' tests.
RK_INLINE void FN(finish_vector)(const int CELL, const int chunk, const int H, const float *pre, const float *preX, int j, int m,
                                 const float *hp, float *hn, const float *gx, const float *bias, float *y,
                                 float *saved, float *c, float *hiddenBefore, float *cellBefore) {
    const VF one = (VF)1.0f;
    const VF hPrev = FN(load_n)(hp + j, m);
    if (hiddenBefore) FN(store_n)(hiddenBefore + j, hPrev, m);
#define RK_PRE(g) FN(rload)(pre + (g) * chunk + j)
#define RK_GATE(g) ((FN(load_n)(gx + (g) * H + j, m) + RK_PRE(g)) + FN(load_n)(bias + (g) * H + j, m))
    VF h;
    if (CELL == RK_CELL_LSTM) {
        VF inputGate = FN(step_sigmoid)(RK_GATE(0)), forgetGate = FN(step_sigmoid)(RK_GATE(1));
        VF cellCandidate = FN(step_tanh)(RK_GATE(2)), outputGate = FN(step_sigmoid)(RK_GATE(3));
        VF cellPrev = FN(load_n)(c + j, m);
        if (cellBefore) FN(store_n)(cellBefore + j, cellPrev, m);
        VF cellNext = forgetGate * cellPrev + inputGate * cellCandidate;
        VF squashed = FN(step_tanh)(cellNext);
        h = outputGate * squashed;
        FN(store_n)(c + j, cellNext, m);
        if (saved) {
            FN(store_n)(saved + j, inputGate, m);
            FN(store_n)(saved + H + j, forgetGate, m);
            FN(store_n)(saved + 2 * H + j, cellCandidate, m);
            FN(store_n)(saved + 3 * H + j, outputGate, m);
            FN(store_n)(saved + 4 * H + j, squashed, m);
        }
    } else if (CELL == RK_CELL_GRU) {
        VF reset = FN(step_sigmoid)(RK_GATE(0)), update = FN(step_sigmoid)(RK_GATE(1));
        VF hiddenPart = RK_PRE(2) + FN(load_n)(bias + 2 * H + j, m);
        // The candidate's input part: computed beforehand (with b_in), or summed by the tile (preX).
        VF inputPart = FN(load_n)(gx + 2 * H + j, m);
        if (preX) inputPart = FN(rload)(preX + j) + inputPart;
        VF candidate = FN(step_tanh)(inputPart + reset * hiddenPart);
        h = (one - update) * candidate + update * hPrev;
        if (saved) {
            FN(store_n)(saved + j, reset, m);
            FN(store_n)(saved + H + j, update, m);
            FN(store_n)(saved + 2 * H + j, candidate, m);
            FN(store_n)(saved + 3 * H + j, hiddenPart, m);
        }
    } else {
        VF sum = RK_GATE(0);
        h = CELL == RK_CELL_ELMAN_RELU ? (sum > (VF)0.0f ? sum : (VF)0.0f) : FN(step_tanh)(sum);
        if (saved) FN(store_n)(saved + j, h, m);
    }
#undef RK_GATE
#undef RK_PRE
    FN(store_n)(hn + j, h, m);
    if (y) FN(store_n)(y + j, h, m);
}

// The cell on one batch row b and the n units from uc (n <= chunk): pre holds the recurrent sums,
// gate g's at pre + g * chunk.
RK_INLINE void FN(finish)(const int CELL, const int chunk, const rk_recurrent_sequence *s,
                          const rk_step_job *job, int b, int uc, int n, const float *pre, const float *preX) {
    const int H = s->hidden, t = job->t;
    const float *hp = job->h_prev + (int64_t)b * H + uc;
    float *hn = job->h_next + (int64_t)b * H + uc;
    if (s->lengths && t >= s->lengths[b]) {
        // Past its length a sequence keeps its state.
        memcpy(hn, hp, sizeof(float) * (size_t)n);
        return;
    }
    const int64_t row = (int64_t)b * s->time + t;
    const float *gx = s->gate_inputs + b * s->gate_batch_stride + t * s->gate_time_stride + uc;
    const float *bias = s->hidden_bias + uc;
    float *y = s->output ? s->output + b * s->output_batch_stride + t * s->output_time_stride + uc : 0;
    const int savedWidth = saved_width(CELL);
    float *saved = s->cell_values ? s->cell_values + row * savedWidth * H + uc : 0;
    float *c = CELL == RK_CELL_LSTM ? s->cell_state + (int64_t)b * H + uc : 0;
    float *hiddenBefore = s->hidden_before ? s->hidden_before + row * H + uc : 0;
    float *cellBefore = CELL == RK_CELL_LSTM && s->cell_before ? s->cell_before + row * H + uc : 0;
    int j = 0;
    for (; j + RK_VL <= n; j += RK_VL)
        FN(finish_vector)(CELL, chunk, H, pre, preX, j, RK_VL, hp, hn, gx, bias, y, saved, c, hiddenBefore, cellBefore);
    if (j < n) FN(finish_vector)(CELL, chunk, H, pre, preX, j, n - j, hp, hn, gx, bias, y, saved, c, hiddenBefore, cellBefore);
}

// One step for the blocks [block0, block1) of units: every batch row, R rows at a time.
RK_INLINE void FN(step_body)(const int CELL, const int G, const int GT, const int S, const int U, const int RMAX,
                             const FN(tile_fn) *tiles, const rk_step_job *job, int block0,
                             int block1) {
    const rk_recurrent_sequence *s = job->s;
    const int H = s->hidden, I = s->input, B = s->batch, t = job->t, K = I + H;
    const int chunk = S * RK_VL;
    // Partial sums of RK_STEP_ROWS rows for every chunk of the block's units: G * U floats per
    // row, at most 64 (4 x 16 for LSTM, 3 x 16 for GRU, 1 x 64 for Elman).
    float pre[RK_STEP_ROWS * 64];
    // GRU's candidate input parts (see tile_body): U floats per row.
    float preX[RK_STEP_ROWS * 16];
    const int inputApart = CELL == RK_CELL_GRU && I > 0;
    const int64_t blockFloats = (int64_t)K * G * U, rowFloats = (int64_t)G * chunk;
    const int lo = job->row_lo, hi = job->row_hi;
    for (int block = block0; block < block1; block++) {
        const int u0 = block * U;
        // Rows before and after the active ones keep their state (see finish).
        const size_t bytes = sizeof(float) * (size_t)(H - u0 < U ? H - u0 : U);
        for (int b = 0; b < lo; b++) memcpy(job->h_next + (int64_t)b * H + u0, job->h_prev + (int64_t)b * H + u0, bytes);
        for (int b = hi; b < B; b++) memcpy(job->h_next + (int64_t)b * H + u0, job->h_prev + (int64_t)b * H + u0, bytes);
        for (int r0 = lo; r0 < hi; r0 += RK_STEP_ROWS) {
            const int rows = hi - r0 < RK_STEP_ROWS ? hi - r0 : RK_STEP_ROWS;
            // Rows in tiles of nearly equal height (no thin last tile).
            const int tileCount = (rows + RMAX - 1) / RMAX;
            // One tile of rows reuses nothing: it goes through the block in one pass.
            const int depth = tileCount > 1 && RK_STEP_KC > 0 ? RK_STEP_KC : K;
            for (int k0 = 0, k1; k0 < K; k0 = k1) {
                k1 = part_end(k0, K, depth);
                const int last = k1 == K;
                for (int uc = u0; uc < u0 + U && uc < H; uc += chunk) {
                    const float *panel = s->packed + block * blockFloats + (uc - u0);
                    const int n = H - uc < chunk ? H - uc : chunk;
                    float *chunkPre = pre + (int64_t)((uc - u0) / chunk) * RK_STEP_ROWS * rowFloats;
                    float *chunkPreX = preX + (int64_t)((uc - u0) / chunk) * RK_STEP_ROWS * chunk;
                    // Tiles of GT < G gates take the gates GT at a time, a pass over the rows each.
                    for (int gate = 0; gate < G; gate += GT) {
                        for (int tile = 0, b0 = r0; tile < tileCount; tile++) {
                            const int R = rows / tileCount + (tile < rows % tileCount ? 1 : 0);
                            const float *x = I > 0 ? s->x + b0 * s->x_batch_stride + t * s->x_time_stride : 0;
                            float *tilePre = chunkPre + (b0 - r0) * rowFloats;
                            float *tilePreX = chunkPreX + (b0 - r0) * chunk;
                            tiles[R](x, s->x_batch_stride, I, job->h_prev + (int64_t)b0 * H, H, panel + gate * U,
                                     tilePre + gate * chunk, tilePreX, k0, k1);
                            if (last && gate + GT == G)
                                for (int i = 0; i < R; i++)
                                    FN(finish)(CELL, chunk, s, job, b0 + i, uc, n, tilePre + i * rowFloats,
                                               inputApart ? tilePreX + i * chunk : 0);
                            b0 += R;
                        }
                    }
                }
            }
        }
    }
}

static void FN(step_blocks)(const rk_step_job *job, int block0, int block1) {
    switch (job->s->cell) {
    case RK_CELL_LSTM:
#if RK_PAIRS4
        FN(step_body)(RK_CELL_LSTM, 4, 2, 16 / RK_VL, 16, RK_ROWS4, FN(pairs4), job, block0, block1);
#else
        FN(step_body)(RK_CELL_LSTM, 4, 4, RK_SUB4, 16, RK_ROWS4, FN(tiles4), job, block0, block1);
#endif
        break;
    case RK_CELL_GRU:
        FN(step_body)(RK_CELL_GRU, 3, 3, RK_SUB3, 16, RK_ROWS3, FN(tiles3), job, block0, block1);
        break;
    case RK_CELL_ELMAN_RELU:
        FN(step_body)(RK_CELL_ELMAN_RELU, 1, 1, RK_SUB1, 64, RK_ROWS1, FN(tiles1), job, block0, block1);
        break;
    default:
        FN(step_body)(RK_CELL_ELMAN_TANH, 1, 1, RK_SUB1, 64, RK_ROWS1, FN(tiles1), job, block0, block1);
    }
}

// ---- Backward ----

// The cell's derivatives at step t for batch row b and the n units from uc: dL/dh (plus dL/dy)
// and dL/dc become the gate gradients; dL/dh keeps what passes to the step before without the
// recurrent product (zero, or z * dL/dh for GRU), dL/dc what passes through the forget gate.
RK_INLINE void FN(backward_units)(const int CELL, const rk_backward_job *job, int b, int t, int uc, int n) {
    const rk_recurrent_backward_sequence *s = job->s;
    if (s->lengths && t >= s->lengths[b]) return;
    const int H = s->hidden;
    const int G = gate_count(CELL);
    const int savedWidth = saved_width(CELL);
    const int64_t row = (int64_t)b * s->time + t;
    float *dh = s->hidden_gradient + (int64_t)b * H + uc;
    const float *dy = s->output_gradient ? s->output_gradient + row * H + uc : 0;
    const float *saved = s->cell_values + row * savedWidth * H + uc;
    const int64_t gateRow = b * job->batch_stride + (t - job->begin) * job->time_stride;
    float *dGate = s->gate_gradient + gateRow + uc;
    float *dHiddenGate = s->hidden_gate_gradient + gateRow + uc;
    const VF one = (VF)1.0f, zero = (VF)0.0f;
    for (int j = 0; j < n; j += RK_VL) {
        const int m = n - j < RK_VL ? n - j : RK_VL;
#define RK_SAVED(k) FN(load_n)(saved + (k) * H + j, m)
        VF d = FN(load_n)(dh + j, m);
        if (dy) d = d + FN(load_n)(dy + j, m);
        if (CELL == RK_CELL_LSTM) {
            float *dc = s->cell_gradient + (int64_t)b * H + uc;
            VF inputGate = RK_SAVED(0), forgetGate = RK_SAVED(1), cellCandidate = RK_SAVED(2);
            VF outputGate = RK_SAVED(3), squashed = RK_SAVED(4);
            VF cellBefore = FN(load_n)(s->cell_before + row * H + uc + j, m);
            VF dCell = FN(load_n)(dc + j, m) + d * outputGate * (one - squashed * squashed);
            FN(store_n)(dGate + j, dCell * cellCandidate * inputGate * (one - inputGate), m);
            FN(store_n)(dGate + H + j, dCell * cellBefore * forgetGate * (one - forgetGate), m);
            FN(store_n)(dGate + 2 * H + j, dCell * inputGate * (one - cellCandidate * cellCandidate), m);
            FN(store_n)(dGate + 3 * H + j, d * squashed * outputGate * (one - outputGate), m);
            FN(store_n)(dc + j, dCell * forgetGate, m);
            FN(store_n)(dh + j, zero, m);
        } else if (CELL == RK_CELL_GRU) {
            VF reset = RK_SAVED(0), update = RK_SAVED(1), candidate = RK_SAVED(2), hiddenPart = RK_SAVED(3);
            VF hiddenBefore = FN(load_n)(s->hidden_before + row * H + uc + j, m);
            VF dCandidate = d * (one - update) * (one - candidate * candidate);
            VF dUpdate = d * (hiddenBefore - candidate) * update * (one - update);
            VF dReset = dCandidate * hiddenPart * reset * (one - reset);
            FN(store_n)(dGate + j, dReset, m);
            FN(store_n)(dGate + H + j, dUpdate, m);
            FN(store_n)(dGate + 2 * H + j, dCandidate, m);
            FN(store_n)(dHiddenGate + j, dReset, m);
            FN(store_n)(dHiddenGate + H + j, dUpdate, m);
            FN(store_n)(dHiddenGate + 2 * H + j, dCandidate * reset, m);
            FN(store_n)(dh + j, d * update, m);
        } else {
            VF out = RK_SAVED(0);
            VF derivative = CELL == RK_CELL_ELMAN_RELU ? (out > zero ? one : zero) : one - out * out;
            FN(store_n)(dGate + j, d * derivative, m);
            FN(store_n)(dh + j, zero, m);
        }
#undef RK_SAVED
    }
}

// Starts fetching what backward_units reads and writes for row b at step t (see prefetch_row).
RK_INLINE void FN(prefetch_backward_row)(const int CELL, const rk_backward_job *job, int b, int t, int uc, int n) {
    const rk_recurrent_backward_sequence *s = job->s;
    const int H = s->hidden;
    const int G = gate_count(CELL);
    const int savedWidth = saved_width(CELL);
    const int64_t row = (int64_t)b * s->time + t;
    const int64_t gateRow = b * job->batch_stride + (t - job->begin) * job->time_stride;
    for (int j = 0; j < n; j += 16) {
        for (int k = 0; k < savedWidth; k++) __builtin_prefetch(s->cell_values + (row * savedWidth + k) * H + uc + j, 0, 3);
        for (int g = 0; g < G; g++) {
            __builtin_prefetch(s->gate_gradient + gateRow + g * H + uc + j, 1, 3);
            if (CELL == RK_CELL_GRU) __builtin_prefetch(s->hidden_gate_gradient + gateRow + g * H + uc + j, 1, 3);
        }
        if (s->output_gradient) __builtin_prefetch(s->output_gradient + row * H + uc + j, 0, 3);
        if (CELL == RK_CELL_LSTM) __builtin_prefetch(s->cell_before + row * H + uc + j, 0, 3);
        if (CELL == RK_CELL_GRU) __builtin_prefetch(s->hidden_before + row * H + uc + j, 0, 3);
    }
}

// For the blocks [block0, block1) of 64 units: dL/dh += dG(t_product) W_hh on those units for
// every row, then the cell's derivatives at t_cell on the same units.
RK_INLINE void FN(backward_body)(const int CELL, const rk_backward_job *job, int block0, int block1) {
    const rk_recurrent_backward_sequence *s = job->s;
    const int H = s->hidden;
    const int G = gate_count(CELL);
    const int K = G * H, chunk = RK_SUB1 * RK_VL;
    // The sums of RK_STEP_ROWS rows for one chunk of units, continued from one depth to the next.
    float pre[RK_STEP_ROWS * RK_SUB1 * RK_VL];
    for (int block = block0; block < block1; block++) {
        const int u0 = block * 64;
        for (int uc = u0; uc < u0 + 64 && uc < H; uc += chunk) {
            const int n = H - uc < chunk ? H - uc : chunk;
            if (job->t_product >= 0) {
                // The sum runs in parts of RK_BACKWARD_KC (RK_BACKWARD_KC x 64 floats of the
                // block, 256 KB, stay in L2 across the row tiles); dL/dh takes each part's sum in
                // turn. Within a part, the row tiles go RK_BACKWARD_DEPTH rows of k at a time,
                // their sums waiting in `pre`, so that they find those rows in L1 (the same sums
                // in the same order as in one pass).
                const float *dG = s->hidden_gate_gradient + (int64_t)(job->t_product - job->begin) * job->time_stride;
                // Rows past their length at t_product have no gate gradients (zeros): skipped.
                for (int r0 = job->product_lo; r0 < job->product_hi; r0 += RK_STEP_ROWS) {
                    const int rows = job->product_hi - r0 < RK_STEP_ROWS ? job->product_hi - r0 : RK_STEP_ROWS;
                    const int tileCount = (rows + RK_ROWS1 - 1) / RK_ROWS1;
                    for (int c0 = 0; c0 < K; c0 += RK_BACKWARD_KC) {
                        const int kc = K - c0 < RK_BACKWARD_KC ? K - c0 : RK_BACKWARD_KC;
                        const float *panel = s->packed + ((int64_t)block * K + c0) * 64 + (uc - u0);
                        const int depth = tileCount > 1 ? RK_BACKWARD_DEPTH : kc;
                        for (int k0 = 0, k1; k0 < kc; k0 = k1) {
                            k1 = part_end(k0, kc, depth);
                            const int last = k1 == kc;
                            for (int tile = 0, b0 = r0; tile < tileCount; tile++) {
                                const int R = rows / tileCount + (tile < rows % tileCount ? 1 : 0);
                                float *tilePre = pre + (b0 - r0) * chunk;
                                if (job->t_cell >= 0 && last && c0 + kc == K)
                                    for (int i = 0; i < R; i++) FN(prefetch_backward_row)(CELL, job, b0 + i, job->t_cell, uc, n);
                                FN(tiles1)[R](0, 0, 0, dG + (int64_t)b0 * job->batch_stride + c0, job->batch_stride, panel,
                                              tilePre, 0, k0, k1);
                                if (last)
                                    for (int i = 0; i < R; i++) {
                                        float *dh = s->hidden_gradient + (int64_t)(b0 + i) * H + uc;
                                        for (int j = 0; j < n; j += RK_VL) {
                                            const int m = n - j < RK_VL ? n - j : RK_VL;
                                            FN(store_n)(dh + j, FN(load_n)(dh + j, m) + FN(rload)(tilePre + i * chunk + j), m);
                                        }
                                    }
                                b0 += R;
                            }
                        }
                    }
                }
            }
            if (job->t_cell >= 0)
                for (int b = job->cell_lo; b < job->cell_hi; b++) FN(backward_units)(CELL, job, b, job->t_cell, uc, n);
        }
    }
}

static void FN(backward_blocks)(const rk_backward_job *job, int block0, int block1) {
    switch (job->s->cell) {
    case RK_CELL_LSTM: FN(backward_body)(RK_CELL_LSTM, job, block0, block1); break;
    case RK_CELL_GRU: FN(backward_body)(RK_CELL_GRU, job, block0, block1); break;
    case RK_CELL_ELMAN_RELU: FN(backward_body)(RK_CELL_ELMAN_RELU, job, block0, block1); break;
    default: FN(backward_body)(RK_CELL_ELMAN_TANH, job, block0, block1);
    }
}

// Rows of the quantized tiles: the float tiles' unless the including file says otherwise.
#ifndef RK_QROWS1
#define RK_QROWS1 RK_ROWS1
#endif
#ifndef RK_QROWS3
#define RK_QROWS3 RK_ROWS3
#endif
#ifndef RK_QROWS4
#define RK_QROWS4 RK_ROWS4
#endif
#define RK_Q int8
#define RK_Q_T int8_t
#define RK_Q_SCALED 1
#define RK_Q_SEGMENT 256
#include "recurrent_quantized_impl.h"
#undef RK_Q
#undef RK_Q_T
#undef RK_Q_SCALED
#undef RK_Q_SEGMENT
#define RK_Q bf16
#define RK_Q_T uint16_t
#define RK_Q_SCALED 0
#define RK_Q_SEGMENT (1 << 30)
#include "recurrent_quantized_impl.h"
#undef RK_Q
#undef RK_Q_T
#undef RK_Q_SCALED
#undef RK_Q_SEGMENT

#undef RK_TILE_MAXR
#undef RK_TILE_MAXW
#undef RK_BACKWARD_KC
#undef RK_STEP_ROWS
#undef VF
#undef FN
