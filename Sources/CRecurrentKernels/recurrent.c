// Recurrent layers' time loop: each step's recurrent product fused with the cell.
//
// Design
// ------
// * W_hh (and, for streaming, W_ih beside it) is packed once per sequence by blocks of hidden
//   units (16, or 64 for Elman's single gate): a block holds, for every k, the rows of all gates
//   of its units side by side. One pass over a block gives every gate of those units, so the
//   nonlinearities and the state update run on sums still in registers, and a thread that owns a
//   range of blocks does a whole step for its units without waiting for anyone: one parallel
//   region (one synchronization) per step.
// * The register tile: R batch rows by G gates x S vectors of units (recurrent_impl.h; with
//   AVX2's 16 registers, LSTM takes two gates by all 16 units in each of two passes, so that a
//   tile reads whole cache lines of the block); the rows' values of h are broadcast from the
//   state itself (no packing), and the block's weights
//   (H x G x 16 floats: 256 KB at H = 1024, LSTM) stay in L2 across the rows of the batch.
// * One body per instruction set, chosen at run time like the matrix product; the packed layout
//   is the same for all of them.
// * Small layers split the batch instead: when the packed weights fit in each core's L2 with
//   room to spare, each thread runs the whole time loop for its share of the rows (rows are
//   independent in the recurrence), with no synchronization per step; at 64 units a step is a few
//   microseconds, of which a synchronization would take a large share.
// * Determinism: every sum runs over k in order in one accumulator, whatever the tile, block or
//   thread, so any thread count gives the same bits.
#include "RecurrentKernels.h"
#include "kernels_internal.h"
#include <string.h>

#pragma clang fp contract(fast)

// The blocks of units one part of a parallel step owns: [next, end), taken one at a time, so
// that a part done early takes the rest of another's (each block's result is the same whoever
// computes it). One cache line each.
#define RK_MAX_PARTS 64
typedef struct {
    int next, end;
    char pad[56];
} rk_block_range;

// Steps with fewer multiply-adds than this run on one thread: handing half of a small step to
// another core costs more than it saves.
#define RK_RECURRENT_SPLIT (1 << 17)

// How many parts a step of `work` multiply-adds over `blocks` blocks is split into: one below
// RK_RECURRENT_SPLIT, else one per thread, at most one per block.
static int part_count(int threads, double work, int blocks) {
    if (threads <= 1 || work < RK_RECURRENT_SPLIT) return 1;
    const int parts = threads < blocks ? threads : blocks;
    return parts < RK_MAX_PARTS ? parts : RK_MAX_PARTS;
}

// The longest sequence: steps past it contribute nothing (T when lengths is NULL).
static int longest_length(const int32_t *lengths, int B, int T) {
    if (!lengths) return T;
    int longest = 0;
    for (int b = 0; b < B; b++) longest = lengths[b] > longest ? lengths[b] : longest;
    return longest;
}

// The rows [*lo, *hi) of the batch that contain every sequence still running at step t (all
// rows without lengths). Rows outside only carry their state: with a batch sorted by length,
// as bucketed batches are, the steps past the shorter sequences skip their products.
static void active_rows(const int32_t *lengths, int B, int t, int *lo, int *hi) {
    *lo = 0;
    *hi = B;
    if (!lengths) return;
    while (*lo < B && t >= lengths[*lo]) (*lo)++;
    while (*hi > *lo && t >= lengths[*hi - 1]) (*hi)--;
}

// Packed weights up to this size are read by every thread from its own L2 when the batch is
// split (1 MB or more per core on the CPUs this is tuned for; GRU at 256 units, 768 KB, gains
// 15% in training over splitting each step, LSTM at 256 units, 1.3 MB, would not fit).
#define RK_ROW_SPLIT_BYTES (800 << 10)
// A thread's share of a split batch has at least this many rows (a register tile or so).
#define RK_ROW_SPLIT_ROWS 8

// How many parts of the batch run the time loop side by side (1: split each step by units).
static int row_parts(int threads, int B, int64_t packedBytes) {
    if (threads <= 1 || packedBytes > RK_ROW_SPLIT_BYTES) return 1;
    const int most = B / RK_ROW_SPLIT_ROWS;
    const int parts = threads < most ? threads : most;
    return parts > 1 ? (parts < RK_MAX_PARTS ? parts : RK_MAX_PARTS) : 1;
}

// Rows [row_begin(p), row_begin(p + 1)) of the batch belong to part p of `parts`.
static int row_begin(int part, int parts, int B) { return (int)((int64_t)part * B / parts); }

// Gives each of the parts its even share of the blocks.
static void assign_ranges(rk_block_range *ranges, int parts, int blocks) {
    for (int p = 0; p < parts; p++) {
        ranges[p].next = (int)((int64_t)p * blocks / parts);
        ranges[p].end = (int)((int64_t)(p + 1) * blocks / parts);
    }
}

// The next block for `part`: from its own range first (whose weights its core has cached from
// the steps before), then from the others'; -1 when none is left. *q starts at 0.
static int next_block(rk_block_range *ranges, int parts, int part, int *q) {
    for (; *q < parts; (*q)++) {
        rk_block_range *range = &ranges[(part + *q) % parts];
        const int block = __atomic_fetch_add(&range->next, 1, __ATOMIC_RELAXED);
        if (block < range->end) return block;
    }
    return -1;
}

// The end of the part of a sum over k in [k0, K) that goes `depth` rows at a time: k0 + depth,
// or K when fewer than depth + depth / 2 rows are left, so that a short last part joins the one
// before (a call per row tile and part costs the tile's sums' loads and stores: forecast-small's
// 65 rows are one part, not 64 and 1). Where the parts end never changes the sums (each tile
// continues its sums from one part to the next), only how often they wait in memory.
static inline int part_end(int k0, int K, int depth) { return K - k0 < depth + depth / 2 ? K : k0 + depth; }

// Gates per unit and values saved per unit of each cell (also used, with a constant cell, by
// the per-instruction-set bodies in recurrent_impl.h).
static inline int gate_count(int cell) {
    return cell == RK_CELL_LSTM ? 4 : cell == RK_CELL_GRU ? 3 : 1;
}

// Values per unit the forward pass saves for the backward pass (see rk_recurrent_sequence).
static inline int saved_width(int cell) {
    return cell == RK_CELL_LSTM ? 5 : cell == RK_CELL_GRU ? 4 : 1;
}

// The gate gradients of step (b, t) sit at b * batch + (t - time_begin) * time (see
// rk_recurrent_backward_sequence: both strides 0 mean the whole sequence, batch-first).
static void gate_strides(const rk_recurrent_backward_sequence *s, int64_t *batch, int64_t *time) {
    const int64_t width = (int64_t)gate_count(s->cell) * s->hidden;
    const int given = s->gate_batch_stride || s->gate_time_stride;
    *batch = given ? s->gate_batch_stride : s->time * width;
    *time = given ? s->gate_time_stride : width;
}

// One step's shared description, handed to the parts of a parallel step.
typedef struct rk_step_job rk_step_job;
struct rk_step_job {
    const rk_recurrent_sequence *s;
    int t;
    int row_lo, row_hi;  // the rows active at t (active_rows)
    const float *h_prev;
    float *h_next;
    int blocks, parts;
    void (*run)(const rk_step_job *, int, int);
    rk_block_range ranges[RK_MAX_PARTS];
};

// One backward step's shared description: the product with the gate gradients of step
// t_product and the cell's derivatives at step t_cell (-1: none).
typedef struct rk_backward_job rk_backward_job;
struct rk_backward_job {
    const rk_recurrent_backward_sequence *s;
    int t_product, t_cell;
    int product_lo, product_hi, cell_lo, cell_hi;  // the rows active at t_product and t_cell
    int begin;                       // the window's first step
    int64_t batch_stride, time_stride;  // of the gate gradients
    int blocks, parts;
    void (*run)(const rk_backward_job *, int, int);
    rk_block_range ranges[RK_MAX_PARTS];
};

#define RK_ACTIVATIONS_VECTORS_ONLY 1

#if RK_X86
#pragma clang attribute push(__attribute__((target(RK_TARGET_AVX512))), apply_to = function)
#define RK_ISA avx512
#define RK_VL 16
#define RK_SCALEF 1
#define RK_NREGS 32
#define RK_ROWS1 6
#define RK_SUB1 4
#define RK_ROWS3 8
#define RK_SUB3 1
#define RK_ROWS4 6
#define RK_SUB4 1
#include "activations_impl.h"
#include "recurrent_impl.h"
#include "recurrent_undef.h"
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target(RK_TARGET_AVX2))), apply_to = function)
#define RK_ISA avx2
#define RK_VL 8
#define RK_NREGS 16
// 16 registers: a tile of 3 rows x 4 vectors (12 sums, 3 broadcasts, 1 vector of weights) fills
// them exactly, so its depth loop is not unrolled (unrolled 4 times, clang kept two sums on the
// stack, a store and a reload every step of k: `large` inference 9.8k -> 13k steps/s without);
// smaller tiles (one row, streaming) stay unrolled. GRU's 4 rows x 3 vectors spilled the same
// way; 3 rows fit.
#define RK_ROWS1 3
#define RK_SUB1 4
#define RK_ROWS3 3
#define RK_SUB3 1
#define RK_ROWS4 3
#define RK_SUB4 1
// LSTM in two passes of two gates by a block's 16 units (3 rows x 4 vectors again), each
// reading whole lines of the packed rows, 64 rows of k at a time (16 KB of a block's lines, which
// the row tiles then find in Zen 3's 32 KB L1): charlm-medium inference +10% on one thread
// against one pass of four gates by 8 units, 128 rows at a time, with the same bits.
#define RK_STEP_KC 64
#define RK_PAIRS4 1
// The backward pass's row tiles likewise go 64 rows of k at a time (8 KB of a block's lines for
// a tile's 32 units): charlm-medium's backward time loop +38% on one thread, +20% on two, with
// the same bits (C harness, four alternating runs).
#define RK_BACKWARD_DEPTH 64
// The quantized tiles widen their weights in registers too: 2 rows where the float tile has 3
// over 4 vectors (8 sums, 2 broadcasts, a vector of weights and one to widen: no spill).
#define RK_QROWS1 2
#define RK_QROWS4 2
#define RK_TILE_UNROLL 1
#include "activations_impl.h"
#include "recurrent_impl.h"
#include "recurrent_undef.h"
#pragma clang attribute pop
#endif

#define RK_ISA generic
#define RK_VL 4
#if defined(__aarch64__)
#define RK_NREGS 32
#define RK_ROWS1 6
#define RK_ROWS3 8
#define RK_ROWS4 6
#else
#define RK_NREGS 15
#define RK_ROWS1 2
#define RK_ROWS3 3
#define RK_ROWS4 2
#endif
#define RK_SUB1 4
#define RK_SUB3 1
#define RK_SUB4 1
#define RK_STEP_KC 128
#include "activations_impl.h"
#include "recurrent_impl.h"
#include "recurrent_undef.h"

typedef struct {
    const void *s;
    int parts;
} rk_rows_job;

// Part p of a forward pass split by rows: the same sequence over rows of the batch, on one thread.
static void forward_rows_part(void *context, int part) {
    const rk_rows_job *job = (const rk_rows_job *)context;
    const rk_recurrent_sequence *s = (const rk_recurrent_sequence *)job->s;
    const int row0 = row_begin(part, job->parts, s->batch), row1 = row_begin(part + 1, job->parts, s->batch);
    const int64_t H = s->hidden, steps = (int64_t)row0 * s->time;
    rk_recurrent_sequence p = *s;
    p.batch = row1 - row0;
    p.threads = 1;
    if (s->lengths) p.lengths = s->lengths + row0;
    if (s->x) p.x = s->x + row0 * s->x_batch_stride;
    p.gate_inputs = s->gate_inputs + row0 * s->gate_batch_stride;
    p.hidden_state = s->hidden_state + row0 * H;
    if (s->cell_state) p.cell_state = s->cell_state + row0 * H;
    p.hidden_spare = s->hidden_spare + row0 * H;
    if (s->output) p.output = s->output + row0 * s->output_batch_stride;
    if (s->cell_values) p.cell_values = s->cell_values + steps * saved_width(s->cell) * H;
    if (s->hidden_before) p.hidden_before = s->hidden_before + steps * H;
    if (s->cell_before) p.cell_before = s->cell_before + steps * H;
    rk_recurrent_forward(&p);
}

// Part p of a backward pass split by rows, likewise.
static void backward_rows_part(void *context, int part) {
    const rk_rows_job *job = (const rk_rows_job *)context;
    const rk_recurrent_backward_sequence *s = (const rk_recurrent_backward_sequence *)job->s;
    const int row0 = row_begin(part, job->parts, s->batch), row1 = row_begin(part + 1, job->parts, s->batch);
    const int64_t H = s->hidden, steps = (int64_t)row0 * s->time;
    rk_recurrent_backward_sequence p = *s;
    p.batch = row1 - row0;
    p.threads = 1;
    if (s->lengths) p.lengths = s->lengths + row0;
    gate_strides(s, &p.gate_batch_stride, &p.gate_time_stride);
    p.gate_gradient = s->gate_gradient + row0 * p.gate_batch_stride;
    p.hidden_gate_gradient = s->hidden_gate_gradient + row0 * p.gate_batch_stride;
    p.cell_values = s->cell_values + steps * saved_width(s->cell) * H;
    if (s->hidden_before) p.hidden_before = s->hidden_before + steps * H;
    if (s->cell_before) p.cell_before = s->cell_before + steps * H;
    if (s->output_gradient) p.output_gradient = s->output_gradient + steps * H;
    p.hidden_gradient = s->hidden_gradient + row0 * H;
    if (s->cell_gradient) p.cell_gradient = s->cell_gradient + row0 * H;
    rk_recurrent_backward(&p);
}

int rk_recurrent_block_units(int gates) { return gates == 1 ? 64 : 16; }

int64_t rk_recurrent_packed_floats(int gates, int hidden, int input) {
    int units = rk_recurrent_block_units(gates);
    int64_t blocks = (hidden + units - 1) / units;
    return blocks * (int64_t)(input + hidden) * gates * units;
}

void rk_recurrent_pack(int gates, int hidden, int input, const float *input_weight,
                       const float *hidden_weight, float *packed) {
    const int U = rk_recurrent_block_units(gates);
    rk_recurrent_pack_blocks(gates, hidden, input, input_weight, hidden_weight, packed, 0, (hidden + U - 1) / U);
}

void rk_recurrent_pack_blocks(int gates, int hidden, int input, const float *input_weight,
                              const float *hidden_weight, float *packed, int block0, int block1) {
    const int U = rk_recurrent_block_units(gates), K = input + hidden;
    const int64_t ldp = (int64_t)gates * U;
    for (int block = block0; block < block1; block++) {
        float *panel = packed + (int64_t)block * K * ldp;
        for (int g = 0; g < gates; g++) {
            for (int u = 0; u < U; u++) {
                const int unit = block * U + u;
                float *column = panel + g * U + u;
                if (unit >= hidden) {
                    for (int k = 0; k < K; k++) column[k * ldp] = 0.0f;
                    continue;
                }
                // Row g*H + unit of each matrix, read in order, lands down one column of the panel.
                const int64_t row = (int64_t)g * hidden + unit;
                for (int k = 0; k < input; k++) column[k * ldp] = input_weight[row * input + k];
                for (int k = 0; k < hidden; k++) column[(input + k) * ldp] = hidden_weight[row * hidden + k];
            }
        }
    }
}

uint16_t rk_bfloat16_bits(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

void rk_recurrent_pack_bf16(int gates, int hidden, int input, const float *input_weight,
                            const float *hidden_weight, uint16_t *packed) {
    const int U = rk_recurrent_block_units(gates), K = input + hidden;
    const int64_t ldp = (int64_t)gates * U;
    const int blocks = (hidden + U - 1) / U;
    for (int block = 0; block < blocks; block++) {
        uint16_t *panel = packed + (int64_t)block * K * ldp;
        for (int g = 0; g < gates; g++) {
            for (int u = 0; u < U; u++) {
                const int unit = block * U + u;
                uint16_t *column = panel + g * U + u;
                if (unit >= hidden) {
                    for (int k = 0; k < K; k++) column[k * ldp] = 0;
                    continue;
                }
                const int64_t row = (int64_t)g * hidden + unit;
                for (int k = 0; k < input; k++) column[k * ldp] = rk_bfloat16_bits(input_weight[row * input + k]);
                for (int k = 0; k < hidden; k++) column[(input + k) * ldp] = rk_bfloat16_bits(hidden_weight[row * hidden + k]);
            }
        }
    }
}

int64_t rk_recurrent_packed_scales(int gates, int hidden) {
    const int units = rk_recurrent_block_units(gates);
    return (int64_t)(hidden + units - 1) / units * 2 * gates * units;
}

void rk_recurrent_pack_int8(int gates, int hidden, int input, const int8_t *input_weight, const float *input_scale,
                            const int8_t *hidden_weight, const float *hidden_scale, int8_t *packed, float *scales) {
    const int U = rk_recurrent_block_units(gates), K = input + hidden;
    const int64_t ldp = (int64_t)gates * U;
    const int blocks = (hidden + U - 1) / U;
    for (int block = 0; block < blocks; block++) {
        int8_t *panel = packed + (int64_t)block * K * ldp;
        float *blockScales = scales + (int64_t)block * 2 * ldp;
        for (int g = 0; g < gates; g++) {
            for (int u = 0; u < U; u++) {
                const int unit = block * U + u;
                int8_t *column = panel + g * U + u;
                if (unit >= hidden) {
                    for (int k = 0; k < K; k++) column[k * ldp] = 0;
                    blockScales[g * U + u] = blockScales[ldp + g * U + u] = 0.0f;
                    continue;
                }
                const int64_t row = (int64_t)g * hidden + unit;
                for (int k = 0; k < input; k++) column[k * ldp] = input_weight[row * input + k];
                for (int k = 0; k < hidden; k++) column[(input + k) * ldp] = hidden_weight[row * hidden + k];
                blockScales[g * U + u] = input > 0 ? input_scale[row] : 0.0f;
                blockScales[ldp + g * U + u] = hidden_scale[row];
            }
        }
    }
}

static void step_part(void *context, int part) {
    rk_step_job *job = (rk_step_job *)context;
    int q = 0;
    for (int block; (block = next_block(job->ranges, job->parts, part, &q)) >= 0;) job->run(job, block, block + 1);
}

void rk_recurrent_forward(const rk_recurrent_sequence *s) {
    const int B = s->batch, T = s->time, H = s->hidden;
    if (B <= 0 || T <= 0 || H <= 0) return;
    const int G = gate_count(s->cell), U = rk_recurrent_block_units(G);
    const int64_t packedBytes = rk_recurrent_packed_floats(G, H, s->input) * (s->packed_int8 ? 1 : s->packed_bf16 ? 2 : (int64_t)sizeof(float));
    const int rowParts = row_parts(s->threads, B, packedBytes);
    if (rowParts > 1) {
        rk_rows_job rows = {s, rowParts};
        rk_parallel_for(rowParts, rowParts, forward_rows_part, &rows);
        return;
    }
    rk_step_job job;
    job.s = s;
    job.blocks = (H + U - 1) / U;
    const int int8 = s->packed_int8 != 0, bf16 = s->packed_bf16 != 0;
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: job.run = int8 ? int8_step_blocks_avx512 : bf16 ? bf16_step_blocks_avx512 : step_blocks_avx512; break;
    case RK_ISA_AVX2: job.run = int8 ? int8_step_blocks_avx2 : bf16 ? bf16_step_blocks_avx2 : step_blocks_avx2; break;
#endif
    default: job.run = int8 ? int8_step_blocks_generic : bf16 ? bf16_step_blocks_generic : step_blocks_generic; break;
    }
    const double work = (double)B * G * H * (double)(s->input + H);
    job.parts = part_count(s->threads, work, job.blocks);
    const int longest = longest_length(s->lengths, B, T);
    float *h = s->hidden_state, *spare = s->hidden_spare;
    for (int k = 0; k < T; k++) {
        const int t = s->reverse ? T - 1 - k : k;
        if (t >= longest) continue;
        job.t = t;
        active_rows(s->lengths, B, t, &job.row_lo, &job.row_hi);
        job.h_prev = h;
        job.h_next = spare;
        if (job.parts > 1) {
            assign_ranges(job.ranges, job.parts, job.blocks);
            rk_parallel_for(job.parts, job.parts, step_part, &job);
        } else {
            job.run(&job, 0, job.blocks);
        }
        float *swap = h;
        h = spare;
        spare = swap;
    }
    if (h != s->hidden_state) memcpy(s->hidden_state, h, sizeof(float) * (size_t)B * (size_t)H);
}

int64_t rk_recurrent_backward_packed_floats(int gates, int hidden) {
    int64_t blocks = (hidden + 63) / 64;
    return blocks * (int64_t)gates * hidden * 64;
}

void rk_recurrent_pack_backward(int gates, int hidden, const float *hidden_weight, float *packed) {
    rk_recurrent_pack_backward_blocks(gates, hidden, hidden_weight, packed, 0, (hidden + 63) / 64);
}

void rk_recurrent_pack_backward_blocks(int gates, int hidden, const float *hidden_weight, float *packed, int block0, int block1) {
    const int K = gates * hidden;
    for (int block = block0; block < block1; block++) {
        const int u0 = block * 64, n = hidden - u0 < 64 ? hidden - u0 : 64;
        float *panel = packed + (int64_t)block * K * 64;
        for (int k = 0; k < K; k++) {
            memcpy(panel + (int64_t)k * 64, hidden_weight + (int64_t)k * hidden + u0, sizeof(float) * (size_t)n);
            for (int u = n; u < 64; u++) panel[(int64_t)k * 64 + u] = 0.0f;
        }
    }
}

static void backward_part(void *context, int part) {
    rk_backward_job *job = (rk_backward_job *)context;
    int q = 0;
    for (int block; (block = next_block(job->ranges, job->parts, part, &q)) >= 0;) job->run(job, block, block + 1);
}

static void run_backward(rk_backward_job *job) {
    if (job->parts > 1) {
        assign_ranges(job->ranges, job->parts, job->blocks);
        rk_parallel_for(job->parts, job->parts, backward_part, job);
    } else {
        job->run(job, 0, job->blocks);
    }
}

void rk_recurrent_backward(const rk_recurrent_backward_sequence *s) {
    const int B = s->batch, T = s->time, H = s->hidden;
    if (B <= 0 || T <= 0 || H <= 0) return;
    const int G = gate_count(s->cell);
    const int rowParts = row_parts(s->threads, B, rk_recurrent_backward_packed_floats(G, H) * (int64_t)sizeof(float));
    if (rowParts > 1) {
        rk_rows_job rows = {s, rowParts};
        rk_parallel_for(rowParts, rowParts, backward_rows_part, &rows);
        return;
    }
    rk_backward_job job;
    job.s = s;
    job.begin = s->time_end > s->time_begin ? s->time_begin : 0;
    gate_strides(s, &job.batch_stride, &job.time_stride);
    job.blocks = (H + 63) / 64;
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: job.run = backward_blocks_avx512; break;
    case RK_ISA_AVX2: job.run = backward_blocks_avx2; break;
#endif
    default: job.run = backward_blocks_generic; break;
    }
    const double work = (double)B * G * H * (double)H;
    job.parts = part_count(s->threads, work, job.blocks);
    const int longest = longest_length(s->lengths, B, T);
    const int end = s->time_end > s->time_begin ? s->time_end : T;
    // Loop positions from last to first; steps no sequence reaches contribute nothing.
    job.t_product = -1;
    for (int k = T - 1; k >= 0; k--) {
        const int t = s->reverse ? T - 1 - k : k;
        if (t >= longest || t < job.begin || t >= end) continue;
        job.t_cell = t;
        active_rows(s->lengths, B, t, &job.cell_lo, &job.cell_hi);
        run_backward(&job);
        job.t_product = t;
        job.product_lo = job.cell_lo;
        job.product_hi = job.cell_hi;
    }
    job.t_cell = -1;
    if (job.t_product >= 0) run_backward(&job);
}
