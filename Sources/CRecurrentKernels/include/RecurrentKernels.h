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
/// An element's result depends only on the shape (M, K, transB, whether N is 1) and the
/// instruction set, not on [n0, n1) or on the position of the element, so any split of the
/// columns gives the same bits (and so does any split of the rows when B is not transposed).
void rk_sgemm(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc, int n0, int n1);

/// The instruction set the kernels chose at run time: "avx512", "avx2", "neon" or "generic".
const char *rk_isa_name(void);

/// Makes the kernels use the instruction set `name` ("avx512", "avx2", "generic"; NULL or ""
/// restores the automatic choice), for tests and benchmarks. Returns 0, or -1 when this CPU
/// cannot run it or the name is unknown.
int rk_force_isa(const char *name);

/// rk_sgemm for op(A) * B^T computed so that an element of C gets the same bits whatever M is:
/// while B (N x K) fits in cache (N * K <= 262,144 floats) every row goes through the dot
/// products of the few-rows path (one accumulator per dot product, a fixed tree over the lanes);
/// otherwise, and without transB, it is rk_sgemm. For inference, where a sequence fed one step
/// at a time (M = 1) must give the bits of the whole sequence at once.
void rk_sgemm_rows_alike(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc, int n0, int n1);

/// The bound above for the instruction set in use: the largest N * K for which
/// rk_sgemm_rows_alike with transB gives every row count the same bits.
int64_t rk_sgemm_rows_alike_cached_floats(void);

/// Asks the C library's allocator (glibc) to keep freed blocks of up to 32 MB on its heap for
/// reuse, and up to 256 MB of free heap, instead of returning them to the system at once: a
/// training step frees and allocates the same tens of MB at every iteration. Does nothing when
/// the environment already sets glibc's malloc parameters, or without glibc. Returns 1 if it
/// changed them.
int rk_keep_freed_memory(void);

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
/// Binary cross-entropy on logits x against targets y in [0, 1], element-wise: terms[i] =
/// (1 - y) x + softplus(-x) (softplus(-x) = max(-x, 0) + log1p(e^-|x|), never overflowing) and
/// slopes[i] = d terms / dx = (1 - y) - sigmoid(-x); about 2 ulp.
/// Dropout's mask from a SplitMix64 generator at `state`: mask[i] = kept where the generator's
/// (i + 1)-th uniform float ((z >> 40) / 2^24) is >= probability, else 0; the values
/// `SplitMix64(seed: state)` gives drawn one after another.
void rk_dropout_mask(uint64_t state, float probability, float kept, float *mask, int64_t n);
void rk_bce_with_logits(const float *x, const float *y, float *terms, float *slopes, int64_t n);

/// The constants of one Adam step for one parameter (see Adam.step in Swift).
typedef struct {
    float shrink;            // 1 - lr * weight decay for AdamW, else 1
    float l2;                // weight decay added to the gradient (Adam), else 0
    float average_share;     // 1 - beta1
    float square_decay;      // beta2
    float square_share;      // 1 - beta2
    float step_size;         // lr / (1 - beta1^t)
    float correction2_root;  // sqrt(1 - beta2^t)
    float epsilon;
} rk_adam_constants;

/// One Adam update of n parameters p with gradients g, first and second moments m and v, and
/// the largest second moments v_max for AMSGrad (NULL without):
///   p *= shrink; g' = g + l2 p; m += (1 - beta1)(g' - m); v = beta2 v + (1 - beta2) g'^2;
///   v_max = max(v_max, v); p -= step_size m / (sqrt(v or v_max) / correction2_root + epsilon).
void rk_adam(float *p, const float *g, float *m, float *v, float *v_max, int64_t n, const rk_adam_constants *c);

/// One row of CTC's log-space recursion, over n positions:
///   out[s] = log(e^x[s] + e^y[s] + e^(z[s] + z_mask[s])) + (add ? add[s] : 0),
/// log 0 = -infinity in and out (z_mask is 0 or -infinity). Within a few ulp of the exact value.
void rk_ctc_log_add_exp3(const float *x, const float *y, const float *z, const float *z_mask, const float *add,
                         float *out, int64_t n);
/// out[s] = e^(a[s] + (b ? b[s] : 0) + c) over n values, the argument clamped to [-104, 88]
/// (about 1 ulp; e^-infinity = 0).
void rk_ctc_exp_sum(const float *a, const float *b, float c, float *out, int64_t n);


// ---- Recurrent layers: the time loop with the recurrent product fused into the cell ----

/// The cells rk_recurrent_forward runs (PyTorch's gate orders: LSTM i|f|g|o, GRU r|z|n with the
/// reset gate applied after the product).
enum { RK_CELL_ELMAN_TANH = 0, RK_CELL_ELMAN_RELU = 1, RK_CELL_LSTM = 2, RK_CELL_GRU = 3 };

/// Hidden units per block of the packed weights: 64 for one gate (Elman), 16 otherwise.
int rk_recurrent_block_units(int gates);
/// Floats that rk_recurrent_pack writes for `gates` gates, `hidden` units and `input` inputs.
int64_t rk_recurrent_packed_floats(int gates, int hidden, int input);
/// Packs [W_ih | W_hh] (W_ih [G*H, I] may be NULL when input == 0; W_hh [G*H, H]) by blocks of
/// rk_recurrent_block_units(G) hidden units: block u holds, for each k < I + H, the G gates'
/// rows of its units side by side (gate-major, zero past H), so one pass over a block yields
/// every gate of its units. The layout is the same for every instruction set.
void rk_recurrent_pack(int gates, int hidden, int input, const float *input_weight,
                       const float *hidden_weight, float *packed);
/// rk_recurrent_pack for the blocks [block0, block1) alone (blocks apart may be packed at once).
void rk_recurrent_pack_blocks(int gates, int hidden, int input, const float *input_weight,
                              const float *hidden_weight, float *packed, int block0, int block1);

/// Floats of the row scales that rk_recurrent_pack_int8 writes: per block, the G gates' scales of
/// W_ih's rows then of W_hh's (zero past H).
int64_t rk_recurrent_packed_scales(int gates, int hidden);
/// rk_recurrent_pack for int8 weights quantized by rows (row r of W_ih is input_scale[r] times
/// input_weight's row r, likewise W_hh): the same layout, rk_recurrent_packed_floats(G, H, I)
/// bytes, and the scales beside them (rk_recurrent_packed_scales floats). input_weight and
/// input_scale may be NULL when input == 0.
/// The bfloat16 nearest to x (round to nearest, ties to even), as its 16 bits: the top half of
/// x's float when x is exact in bfloat16; NaN stays a (quiet) NaN.
uint16_t rk_bfloat16_bits(float x);
/// rk_recurrent_pack for bfloat16 weights: the same layout, each value the top 16 bits of the
/// float (rounded to nearest, ties to even; the floats of a bfloat16 model are exact).
void rk_recurrent_pack_bf16(int gates, int hidden, int input, const float *input_weight,
                            const float *hidden_weight, uint16_t *packed);
void rk_recurrent_pack_int8(int gates, int hidden, int input, const int8_t *input_weight, const float *input_scale,
                            const int8_t *hidden_weight, const float *hidden_scale, int8_t *packed, float *scales);

/// One layer in one direction over a batch of sequences (see rk_recurrent_forward).
/// Rows are batch-first: value (b, t) of a [B, T, ...] buffer sits at b * batch_stride + t * time_stride.
typedef struct {
    int cell, batch, time, hidden, input;
    int reverse;                 // run t = T-1 ... 0
    const int32_t *lengths;      // [B]: sequence b takes part in steps t < lengths[b]; NULL: all T
    // x, read only when the packed weights include W_ih (input > 0). GRU then sums its
    // candidate's input part x W_in apart from W_hn h, as its cell needs them apart.
    const float *x;
    int64_t x_batch_stride, x_time_stride;
    // The input part of the gates, [.., G*H]: x W_ih^T + b_ih, or just b_ih with strides 0.
    const float *gate_inputs;
    int64_t gate_batch_stride, gate_time_stride;
    const float *packed;         // rk_recurrent_pack(G, H, input, ...)
    const float *hidden_bias;    // b_hh [G*H]
    float *hidden_state;         // [B, H]: h0 in, h_n out
    float *cell_state;           // [B, H]: c0 in, c_n out (LSTM only)
    float *hidden_spare;         // [B, H] work space
    float *output;               // y, [.., H] at active steps only; may be NULL
    int64_t output_batch_stride, output_time_stride;
    // What the backward pass needs, rows b * T + t; all NULL in inference.
    float *cell_values;          // [B*T, S*H]: LSTM i|f|g|o|tanh(c'), GRU r|z|n|W_hn h + b_hn, Elman h'
    float *hidden_before;        // [B*T, H] the state entering each step
    float *cell_before;          // [B*T, H] LSTM memory entering each step
    int threads;                 // split each step's units (or the batch) over up to this many threads
    // Int8 weights (rk_recurrent_pack_int8), read instead of `packed` when not NULL: each sum
    // runs over the int8 values converted to float, times its row's scale (activations stay float).
    const int8_t *packed_int8;
    const float *packed_scales;  // rk_recurrent_packed_scales(G, H) floats
    // bfloat16 weights (rk_recurrent_pack_bf16), read instead of `packed` when not NULL: each
    // value widened to the float it is the top half of, the sums as the float step's.
    const uint16_t *packed_bf16;
} rk_recurrent_sequence;

/// Runs the time loop. Each step computes the recurrent product, the gate nonlinearities and
/// the state update together, one block of units at a time, the blocks split across threads;
/// a layer whose packed weights are small splits the batch instead, each thread running the
/// whole loop for its rows.
/// Rows past their length keep their state and get no output. Every value is computed the same
/// way whatever the thread count, so results do not depend on it.
void rk_recurrent_forward(const rk_recurrent_sequence *sequence);

/// Floats that rk_recurrent_pack_backward writes.
int64_t rk_recurrent_backward_packed_floats(int gates, int hidden);
/// Packs W_hh [G*H, H] for dL/dh = dG W_hh, by blocks of 64 hidden units (columns of W_hh):
/// block u holds, for each k < G*H, its 64 columns of row k (zero past H).
void rk_recurrent_pack_backward(int gates, int hidden, const float *hidden_weight, float *packed);
/// rk_recurrent_pack_backward for the blocks [block0, block1) of 64 units alone.
void rk_recurrent_pack_backward_blocks(int gates, int hidden, const float *hidden_weight, float *packed, int block0, int block1);

/// Backpropagation through time of one layer in one direction over a window of steps (the
/// gradients of the gates at those steps, and those of the state entering the window); the
/// weight gradients follow from the gate gradients as products over the window. Saved values
/// are rows b * T + t, as in rk_recurrent_sequence; the gate gradients cover the window only,
/// so that a long sequence needs them for a few steps at a time.
typedef struct {
    int cell, batch, time, hidden;
    int reverse;
    const int32_t *lengths;            // as in the forward pass
    int time_begin, time_end;          // the window: steps t in [time_begin, time_end), run in
                                       // backward order; both 0 for the whole sequence
    const float *packed;               // rk_recurrent_pack_backward(G, H, W_hh)
    const float *cell_values;          // saved by the forward pass
    const float *hidden_before;        // [B*T, H] (read by GRU)
    const float *cell_before;          // [B*T, H] (read by LSTM)
    const float *output_gradient;      // dL/dy [B*T, H], or NULL for zero
    float *hidden_gradient;            // [B, H]: dL/dh after the window in, before it out
    float *cell_gradient;              // [B, H]: dL/dc likewise (LSTM)
    // The gate gradients of step (b, t) sit at b * gate_batch_stride + (t - time_begin) *
    // gate_time_stride (0, 0: b * T * G*H + t * G*H, the whole sequence batch-first).
    float *gate_gradient;              // zeros in, dL/d(x W_ih^T + b_ih) out, G*H per step
    float *hidden_gate_gradient;       // dL/d(h W_hh^T + b_hh); GRU's own buffer, the same as
                                       // gate_gradient for the other cells
    int64_t gate_batch_stride, gate_time_stride;
    int threads;
} rk_recurrent_backward_sequence;

/// Runs the backward time loop over the window: each step's recurrent product for a block of
/// units, then the cell's derivatives of the step before on the same units, one parallel region
/// per step. On return dL/dh and dL/dc are those of the state entering the window.
void rk_recurrent_backward(const rk_recurrent_backward_sequence *sequence);

#ifdef __cplusplus
}
#endif
#endif
