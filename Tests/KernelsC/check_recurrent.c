// The fused recurrent loops (rk_recurrent_forward, rk_recurrent_backward) against a plain time
// loop in double, for LSTM, GRU and both Elman cells: sizes that leave partial unit blocks (150
// units: 9 blocks of 16 and a partial one, 2 of 64 and a partial one) and partial row tiles (7
// rows), varying lengths, both directions, one and two threads (which must give the same bits),
// inputs deeper than a step's depth chunk (300), a batch split across threads (20 rows of 64
// units), more rows than a step holds at once (70), gate inputs given instead of x, and the
// backward pass in windows of two steps.
//
// The reference backward pass starts from the values the kernel's forward pass saved (as the
// library does), so each direction is checked on its own.
// Tolerance: 5e-6 * (1 + |value|) for every output, saved value and gradient. A float step is
// within a few ulp of its exact value, and six steps compound that to about 1e-6 here; a wrong
// weight, unit, row or step is off by far more.
// Also: the steps' own tanh through an Elman cell of one unit (sum = x), within 6 ulp of tanh
// over a sweep of the float range (the bound stated in activations_impl.h).
#include "kernel_check.h"
#include <float.h>
#include <string.h>

#define TOLERANCE 5e-6

typedef struct {
    int cell, B, T, H, I;       // I = 0: the gate inputs are given, [B, T, G*H]
    int reverse, varying;       // varying: lengths 1 + (b * 5) % T, else every sequence full
} recurrent_case;

typedef struct {
    int G, S;                   // gates and values saved per unit
    int32_t *lengths;           // NULL when full
    float *inputWeight, *hiddenWeight, *inputBias, *hiddenBias;   // [G*H, I], [G*H, H], [G*H] x2
    float *x, *gateInputs;      // [B, T, I]; [B, T, G*H] when I = 0
    float *h0, *c0;             // [B, H]
    float *dY, *dHN, *dCN;      // [B, T, H], [B, H], [B, H]
} recurrent_inputs;

typedef struct {
    float *y, *h, *c, *saved, *hiddenBefore, *cellBefore;   // [B*T, H], [B, H] x2, [B*T, S*H], [B*T, H] x2
    float *dH0, *dC0, *dGate, *dHiddenGate;                 // [B, H] x2, [B*T, G*H] x2
} recurrent_outputs;

static const char *cell_names[] = {"elman-tanh", "elman-relu", "lstm", "gru"};

static int active(const recurrent_inputs *in, int b, int t) { return !in->lengths || t < in->lengths[b]; }

// n values of one row against the reference (labelled from index `first`), or, where the step
// is past the sequence's end (on = 0), unwritten: still NaN.
static void expect_row(check_tally *tally, const char *what, int first, const float *got, const double *want, int n, int on) {
    for (int j = 0; j < n; j++) expect_close(tally, what, first + j, got[j], on ? want[j] : NAN, TOLERANCE * (1 + fabs(want[j])));
}
static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

static recurrent_inputs make_inputs(recurrent_case c, check_random *random) {
    recurrent_inputs in = {0};
    in.G = c.cell == RK_CELL_LSTM ? 4 : c.cell == RK_CELL_GRU ? 3 : 1;
    in.S = c.cell == RK_CELL_LSTM ? 5 : c.cell == RK_CELL_GRU ? 4 : 1;
    const int64_t GH = (int64_t)in.G * c.H, BT = (int64_t)c.B * c.T, BH = (int64_t)c.B * c.H;
    if (c.varying) {
        in.lengths = malloc(sizeof(int32_t) * (size_t)c.B);
        for (int b = 0; b < c.B; b++) in.lengths[b] = 1 + (b * 5) % c.T;
    }
    const float inputBound = 0.3f / sqrtf((float)(c.I / 3 > 1 ? c.I / 3 : 1));
    in.inputWeight = floats(GH * c.I), in.hiddenWeight = floats(GH * c.H);
    in.inputBias = floats(GH), in.hiddenBias = floats(GH);
    fill_uniform(random, in.inputWeight, GH * c.I, -inputBound, inputBound);
    fill_uniform(random, in.hiddenWeight, GH * c.H, -0.15f, 0.15f);
    fill_uniform(random, in.inputBias, GH, -0.3f, 0.3f);
    fill_uniform(random, in.hiddenBias, GH, -0.3f, 0.3f);
    in.x = floats(BT * c.I);
    fill_uniform(random, in.x, BT * c.I, -1, 1);
    if (c.I == 0) {
        in.gateInputs = floats(BT * GH);
        fill_uniform(random, in.gateInputs, BT * GH, -1, 1);
    }
    in.h0 = floats(BH), in.c0 = floats(BH), in.dHN = floats(BH), in.dCN = floats(BH), in.dY = floats(BT * c.H);
    fill_uniform(random, in.h0, BH, -0.5f, 0.5f);
    fill_uniform(random, in.c0, BH, -0.5f, 0.5f);
    fill_uniform(random, in.dHN, BH, -1, 1);
    fill_uniform(random, in.dCN, BH, -1, 1);
    fill_uniform(random, in.dY, BT * c.H, -1, 1);
    return in;
}

static void free_inputs(recurrent_inputs *in) {
    free(in->lengths), free(in->inputWeight), free(in->hiddenWeight), free(in->inputBias), free(in->hiddenBias);
    free(in->x), free(in->gateInputs), free(in->h0), free(in->c0), free(in->dY), free(in->dHN), free(in->dCN);
}

static void free_outputs(recurrent_outputs *out) {
    free(out->y), free(out->h), free(out->c), free(out->saved), free(out->hiddenBefore), free(out->cellBefore);
    free(out->dH0), free(out->dC0), free(out->dGate), free(out->dHiddenGate);
}

// ---- Forward: the kernel, then the reference ----

// Runs the kernel's forward pass; outputs it does not write stay NaN.
static void kernel_forward(recurrent_case c, const recurrent_inputs *in, int threads, recurrent_outputs *out) {
    const int64_t BT = (int64_t)c.B * c.T, BH = (int64_t)c.B * c.H;
    float *packed = floats(rk_recurrent_packed_floats(in->G, c.H, c.I));
    rk_recurrent_pack(in->G, c.H, c.I, c.I ? in->inputWeight : NULL, in->hiddenWeight, packed);
    out->y = floats(BT * c.H), out->h = floats(BH), out->c = floats(BH), out->saved = floats(BT * in->S * c.H);
    out->hiddenBefore = floats(BT * c.H), out->cellBefore = floats(BT * c.H);
    memcpy(out->h, in->h0, sizeof(float) * (size_t)BH);
    memcpy(out->c, in->c0, sizeof(float) * (size_t)BH);
    float *spare = floats(BH);
    rk_recurrent_sequence s = {0};
    s.cell = c.cell, s.batch = c.B, s.time = c.T, s.hidden = c.H, s.input = c.I, s.reverse = c.reverse;
    s.lengths = in->lengths;
    if (c.I) {
        // W_ih x is part of the step: the gates' input part is b_ih alone.
        s.x = in->x, s.x_batch_stride = (int64_t)c.T * c.I, s.x_time_stride = c.I;
        s.gate_inputs = in->inputBias;
    } else {
        s.gate_inputs = in->gateInputs;
        s.gate_batch_stride = (int64_t)c.T * in->G * c.H, s.gate_time_stride = (int64_t)in->G * c.H;
    }
    s.packed = packed, s.hidden_bias = in->hiddenBias;
    s.hidden_state = out->h, s.cell_state = c.cell == RK_CELL_LSTM ? out->c : NULL, s.hidden_spare = spare;
    s.output = out->y, s.output_batch_stride = (int64_t)c.T * c.H, s.output_time_stride = c.H;
    s.cell_values = out->saved, s.hidden_before = out->hiddenBefore;
    s.cell_before = c.cell == RK_CELL_LSTM ? out->cellBefore : NULL;
    s.threads = threads;
    rk_recurrent_forward(&s);
    free(packed), free(spare);
}

// The gates' sums of row b at step t, before the nonlinearity: input part (x W_ih^T + b_ih, or
// the given gate inputs) in sx, hidden part (h W_hh^T + b_hh) in sh, [G*H] each.
static void gate_sums(recurrent_case c, const recurrent_inputs *in, const double *h, int b, int t, double *sx, double *sh) {
    const int GH = in->G * c.H;
    const int64_t row = (int64_t)b * c.T + t;
    for (int r = 0; r < GH; r++) {
        double input = 0, hidden = in->hiddenBias[r];
        if (c.I) {
            input = in->inputBias[r];
            for (int k = 0; k < c.I; k++) input += (double)in->x[row * c.I + k] * in->inputWeight[(int64_t)r * c.I + k];
        } else {
            input = in->gateInputs[row * GH + r];
        }
        for (int k = 0; k < c.H; k++) hidden += h[k] * in->hiddenWeight[(int64_t)r * c.H + k];
        sx[r] = input, sh[r] = hidden;
    }
}

// One cell update of row b: h and c (LSTM) in place, saved [S*H] and y [H] written.
static void cell_forward(int cell, int H, const double *sx, const double *sh, double *h, double *c, double *saved) {
    for (int j = 0; j < H; j++) {
        if (cell == RK_CELL_LSTM) {
            const double inputGate = sigmoid(sx[j] + sh[j]), forgetGate = sigmoid(sx[H + j] + sh[H + j]);
            const double cellCandidate = tanh(sx[2 * H + j] + sh[2 * H + j]);
            const double outputGate = sigmoid(sx[3 * H + j] + sh[3 * H + j]);
            c[j] = forgetGate * c[j] + inputGate * cellCandidate;
            const double squashed = tanh(c[j]);
            saved[j] = inputGate, saved[H + j] = forgetGate, saved[2 * H + j] = cellCandidate;
            saved[3 * H + j] = outputGate, saved[4 * H + j] = squashed;
        } else if (cell == RK_CELL_GRU) {
            const double reset = sigmoid(sx[j] + sh[j]), update = sigmoid(sx[H + j] + sh[H + j]);
            const double candidate = tanh(sx[2 * H + j] + reset * sh[2 * H + j]);
            saved[j] = reset, saved[H + j] = update, saved[2 * H + j] = candidate, saved[3 * H + j] = sh[2 * H + j];
        } else {
            const double sum = sx[j] + sh[j];
            saved[j] = cell == RK_CELL_ELMAN_RELU ? (sum > 0 ? sum : 0) : tanh(sum);
        }
    }
    for (int j = 0; j < H; j++) {
        if (cell == RK_CELL_LSTM) h[j] = saved[3 * H + j] * saved[4 * H + j];
        else if (cell == RK_CELL_GRU) h[j] = (1 - saved[H + j]) * saved[2 * H + j] + saved[H + j] * h[j];
        else h[j] = saved[j];
    }
}

// Checks the kernel's forward outputs against the reference loop; rows past a sequence's
// length must stay unwritten (NaN).
static void check_forward(check_tally *tally, const char *label, recurrent_case c, const recurrent_inputs *in,
                          const recurrent_outputs *out) {
    const int H = c.H, GH = in->G * H;
    double *h = doubles(H), *cs = doubles(H), *sx = doubles(GH), *sh = doubles(GH), *saved = doubles(in->S * H);
    char what[200];
    for (int b = 0; b < c.B; b++) {
        for (int j = 0; j < H; j++) h[j] = in->h0[(int64_t)b * H + j], cs[j] = in->c0[(int64_t)b * H + j];
        for (int k = 0; k < c.T; k++) {
            const int t = c.reverse ? c.T - 1 - k : k;
            const int64_t row = (int64_t)b * c.T + t;
            const int on = active(in, b, t);
            snprintf(what, sizeof what, "%s: step %d row %d hidden before, output", label, t, b);
            expect_row(tally, what, 0, out->hiddenBefore + row * H, h, H, on);
            if (c.cell == RK_CELL_LSTM) expect_row(tally, what, H, out->cellBefore + row * H, cs, H, on);
            if (on) {
                gate_sums(c, in, h, b, t, sx, sh);
                cell_forward(c.cell, H, sx, sh, h, cs, saved);
            }
            expect_row(tally, what, 2 * H, out->y + row * H, h, H, on);
            snprintf(what, sizeof what, "%s: step %d row %d saved values", label, t, b);
            expect_row(tally, what, 0, out->saved + row * in->S * H, saved, in->S * H, on);
        }
        snprintf(what, sizeof what, "%s: row %d last state", label, b);
        expect_row(tally, what, 0, out->h + (int64_t)b * H, h, H, 1);
        if (c.cell == RK_CELL_LSTM) expect_row(tally, what, H, out->c + (int64_t)b * H, cs, H, 1);
    }
    free(h), free(cs), free(sx), free(sh), free(saved);
}

// ---- Backward: the kernel (whole sequence or windows of two steps), then the reference ----

// Runs the kernel's backward pass from the forward pass's saved values in `out`, writing dH0,
// dC0 and the gate gradients of every step (zero where a sequence has ended).
static void kernel_backward(recurrent_case c, const recurrent_inputs *in, int threads, int window, recurrent_outputs *out) {
    const int64_t GH = (int64_t)in->G * c.H, BT = (int64_t)c.B * c.T, BH = (int64_t)c.B * c.H;
    float *packed = floats(rk_recurrent_backward_packed_floats(in->G, c.H));
    rk_recurrent_pack_backward(in->G, c.H, in->hiddenWeight, packed);
    out->dH0 = floats(BH), out->dC0 = floats(BH), out->dGate = floats(BT * GH), out->dHiddenGate = floats(BT * GH);
    memcpy(out->dH0, in->dHN, sizeof(float) * (size_t)BH);
    memcpy(out->dC0, in->dCN, sizeof(float) * (size_t)BH);
    const int steps = window ? window : c.T;
    float *dGate = floats(c.B * steps * GH), *dHiddenGate = floats(c.B * steps * GH);
    rk_recurrent_backward_sequence s = {0};
    s.cell = c.cell, s.batch = c.B, s.time = c.T, s.hidden = c.H, s.reverse = c.reverse, s.lengths = in->lengths;
    s.packed = packed, s.cell_values = out->saved, s.hidden_before = out->hiddenBefore;
    s.cell_before = c.cell == RK_CELL_LSTM ? out->cellBefore : NULL;
    s.output_gradient = in->dY, s.hidden_gradient = out->dH0, s.cell_gradient = c.cell == RK_CELL_LSTM ? out->dC0 : NULL;
    s.threads = threads;
    // Windows in the order the backward pass takes the steps: the last steps run first.
    const int windows = (c.T + steps - 1) / steps;
    for (int w = 0; w < windows; w++) {
        const int begin = c.reverse ? w * steps : (windows - 1 - w) * steps;
        const int end = begin + steps < c.T ? begin + steps : c.T, length = end - begin;
        memset(dGate, 0, sizeof(float) * (size_t)(c.B * steps * GH));
        memset(dHiddenGate, 0, sizeof(float) * (size_t)(c.B * steps * GH));
        s.gate_gradient = dGate;
        s.hidden_gate_gradient = c.cell == RK_CELL_GRU ? dHiddenGate : dGate;
        if (window) s.time_begin = begin, s.time_end = end, s.gate_batch_stride = length * GH, s.gate_time_stride = GH;
        rk_recurrent_backward(&s);
        for (int b = 0; b < c.B; b++) {
            const int64_t whole = ((int64_t)b * c.T + begin) * GH, part = (int64_t)b * length * GH;
            memcpy(out->dGate + whole, dGate + part, sizeof(float) * (size_t)(length * GH));
            memcpy(out->dHiddenGate + whole, s.hidden_gate_gradient + part, sizeof(float) * (size_t)(length * GH));
        }
    }
    free(packed), free(dGate), free(dHiddenGate);
}

// One row's cell derivatives at one step from its saved values: the gate gradients dGate and
// dHiddenGate [G*H], dc updated in place (LSTM), and what passes to the step before outside the
// recurrent product (GRU's z * dL/dh) in pass [H].
static void cell_backward(int cell, int H, const double *d, const float *saved, const float *hiddenBefore,
                          const float *cellBefore, double *dc, double *dGate, double *dHiddenGate, double *pass) {
    for (int j = 0; j < H; j++) {
        pass[j] = 0;
        if (cell == RK_CELL_LSTM) {
            const double inputGate = saved[j], forgetGate = saved[H + j], cellCandidate = saved[2 * H + j];
            const double outputGate = saved[3 * H + j], squashed = saved[4 * H + j];
            const double dCell = dc[j] + d[j] * outputGate * (1 - squashed * squashed);
            dGate[j] = dCell * cellCandidate * inputGate * (1 - inputGate);
            dGate[H + j] = dCell * cellBefore[j] * forgetGate * (1 - forgetGate);
            dGate[2 * H + j] = dCell * inputGate * (1 - cellCandidate * cellCandidate);
            dGate[3 * H + j] = d[j] * squashed * outputGate * (1 - outputGate);
            dc[j] = dCell * forgetGate;
            for (int g = 0; g < 4; g++) dHiddenGate[g * H + j] = dGate[g * H + j];
        } else if (cell == RK_CELL_GRU) {
            const double reset = saved[j], update = saved[H + j], candidate = saved[2 * H + j], hiddenPart = saved[3 * H + j];
            const double dCandidate = d[j] * (1 - update) * (1 - candidate * candidate);
            dGate[j] = dCandidate * hiddenPart * reset * (1 - reset);
            dGate[H + j] = d[j] * (hiddenBefore[j] - candidate) * update * (1 - update);
            dGate[2 * H + j] = dCandidate;
            dHiddenGate[j] = dGate[j], dHiddenGate[H + j] = dGate[H + j], dHiddenGate[2 * H + j] = dCandidate * reset;
            pass[j] = d[j] * update;
        } else {
            const double out = saved[j];
            dGate[j] = dHiddenGate[j] = d[j] * (cell == RK_CELL_ELMAN_RELU ? (out > 0 ? 1 : 0) : 1 - out * out);
        }
    }
}

static void check_backward(check_tally *tally, const char *label, recurrent_case c, const recurrent_inputs *in,
                           const recurrent_outputs *out) {
    const int H = c.H, GH = in->G * H;
    double *dh = doubles(H), *dc = doubles(H), *d = doubles(H), *pass = doubles(H);
    double *dGate = doubles(GH), *dHiddenGate = doubles(GH);
    char what[200];
    for (int b = 0; b < c.B; b++) {
        for (int j = 0; j < H; j++) dh[j] = in->dHN[(int64_t)b * H + j], dc[j] = in->dCN[(int64_t)b * H + j];
        for (int k = c.T - 1; k >= 0; k--) {
            const int t = c.reverse ? c.T - 1 - k : k;
            const int64_t row = (int64_t)b * c.T + t;
            const int on = active(in, b, t);
            for (int r = 0; r < GH; r++) dGate[r] = dHiddenGate[r] = 0;
            if (on) {
                for (int j = 0; j < H; j++) d[j] = dh[j] + in->dY[row * H + j];
                cell_backward(c.cell, H, d, out->saved + row * in->S * H, out->hiddenBefore + row * H,
                              out->cellBefore + row * H, dc, dGate, dHiddenGate, pass);
                for (int k2 = 0; k2 < H; k2++) {
                    double sum = pass[k2];
                    for (int r = 0; r < GH; r++) sum += dHiddenGate[r] * in->hiddenWeight[(int64_t)r * H + k2];
                    dh[k2] = sum;
                }
            }
            snprintf(what, sizeof what, "%s: step %d row %d gate gradients", label, t, b);
            expect_row(tally, what, 0, out->dGate + row * GH, dGate, GH, 1);
            if (c.cell == RK_CELL_GRU) expect_row(tally, what, GH, out->dHiddenGate + row * GH, dHiddenGate, GH, 1);
        }
        snprintf(what, sizeof what, "%s: row %d gradient of the first state", label, b);
        expect_row(tally, what, 0, out->dH0 + (int64_t)b * H, dh, H, 1);
        if (c.cell == RK_CELL_LSTM) expect_row(tally, what, H, out->dC0 + (int64_t)b * H, dc, H, 1);
    }
    free(dh), free(dc), free(d), free(dGate), free(dHiddenGate), free(pass);
}

// One case on one and two threads: forward and backward (whole, and in windows of two steps)
// against the reference, and the two thread counts bit for bit.
static void check_case(check_tally *tally, check_random *random, recurrent_case c) {
    recurrent_inputs in = make_inputs(c, random);
    const int64_t BT = (int64_t)c.B * c.T, BH = (int64_t)c.B * c.H, GH = (int64_t)in.G * c.H;
    recurrent_outputs one = {0}, two = {0}, windowed = {0};
    char label[160];
    snprintf(label, sizeof label, "%s B %d T %d H %d I %d%s%s", cell_names[c.cell], c.B, c.T, c.H, c.I,
             c.reverse ? " reverse" : "", c.varying ? " varying lengths" : "");
    kernel_forward(c, &in, 1, &one);
    check_forward(tally, label, c, &in, &one);
    kernel_backward(c, &in, 1, 0, &one);
    check_backward(tally, label, c, &in, &one);
    char windowLabel[180];
    snprintf(windowLabel, sizeof windowLabel, "%s, windows of 2 steps", label);
    windowed.saved = one.saved, windowed.hiddenBefore = one.hiddenBefore, windowed.cellBefore = one.cellBefore;
    kernel_backward(c, &in, 1, 2, &windowed);
    check_backward(tally, windowLabel, c, &in, &windowed);
    windowed.saved = windowed.hiddenBefore = windowed.cellBefore = NULL;

    kernel_forward(c, &in, 2, &two);
    kernel_backward(c, &in, 2, 0, &two);
    char threadLabel[180];
    snprintf(threadLabel, sizeof threadLabel, "%s, 2 threads against 1", label);
    const float *got[] = {two.y, two.h, two.c, two.saved, two.hiddenBefore, two.cellBefore,
                          two.dH0, two.dC0, two.dGate, two.dHiddenGate};
    const float *want[] = {one.y, one.h, one.c, one.saved, one.hiddenBefore, one.cellBefore,
                           one.dH0, one.dC0, one.dGate, one.dHiddenGate};
    const int64_t counts[] = {BT * c.H, BH, BH, BT * in.S * c.H, BT * c.H, BT * c.H, BH, BH, BT * GH, BT * GH};
    for (int part = 0; part < 10; part++) expect_same_bits(tally, threadLabel, got[part], want[part], counts[part]);
    free_outputs(&one), free_outputs(&two), free_outputs(&windowed), free_inputs(&in);
}

// The steps' tanh: an Elman cell of one unit with W_ih = 1, W_hh = 0 and no bias computes
// tanh(x) for each batch row x.
static void check_step_tanh(check_tally *tally) {
    const int B = 4096;
    float *x = floats(B), *y = floats(B), *h = floats(B), *spare = floats(B);
    const float one = 1.0f, zero = 0.0f;
    int n = 0;
    for (int e = -20; e <= 4 && n < B - 2; e++)
        for (int q = 0; q < 80 && n < B - 2; q++) {
            x[n++] = ldexpf(1.0f + q / 80.0f, e);
            x[n++] = -ldexpf(1.0f + q / 80.0f, e);
        }
    float *packed = floats(rk_recurrent_packed_floats(1, 1, 1));
    rk_recurrent_pack(1, 1, 1, &one, &zero, packed);
    for (int b = 0; b < n; b++) h[b] = 0;
    rk_recurrent_sequence s = {0};
    s.cell = RK_CELL_ELMAN_TANH, s.batch = n, s.time = 1, s.hidden = 1, s.input = 1;
    s.x = x, s.x_batch_stride = 1, s.x_time_stride = 1, s.gate_inputs = &zero, s.packed = packed, s.hidden_bias = &zero;
    s.hidden_state = h, s.hidden_spare = spare, s.output = y, s.output_batch_stride = 1, s.output_time_stride = 1;
    s.threads = 1;
    rk_recurrent_forward(&s);
    for (int b = 0; b < n; b++) {
        const double want = tanh((double)x[b]);
        // 6 units in the last place of the float nearest tanh(x), and never beyond +-1.
        const double ulp = nextafterf((float)fabs(want), INFINITY) - (float)fabs(want);
        expect_close(tally, "step tanh (Elman, one unit)", b, y[b], want, 6 * ulp);
        expect_close(tally, "step tanh within +-1", b, fabs(y[b]) <= 1, 1, 0);
    }
    free(x), free(y), free(h), free(spare), free(packed);
}

void check_recurrent(check_tally *tally) {
    check_random random = {23};
    for (int cell = 0; cell < 4; cell++) {
        for (int reverse = 0; reverse < 2; reverse++)
            for (int varying = 0; varying < 2; varying++)
                check_case(tally, &random, (recurrent_case){cell, 7, 6, 150, 3, reverse, varying});
        check_case(tally, &random, (recurrent_case){cell, 7, 6, 20, 300, 0, 1});     // inputs deeper than a depth chunk
        check_case(tally, &random, (recurrent_case){cell, 20, 6, 64, 3, 1, 1});      // the batch split across threads
        check_case(tally, &random, (recurrent_case){cell, 70, 3, 64, 3, 0, 1});      // more rows than a step holds
        check_case(tally, &random, (recurrent_case){cell, 7, 6, 150, 0, 0, 1});      // gate inputs given
    }
    check_step_tanh(tally);
}
