// The elementwise kernels against double-precision references, within the error bounds their
// declarations in RecurrentKernels.h state:
//   rk_sigmoid   relative 2.1e-7 where the result is a normal float, one subnormal step (2^-149)
//                below, exactly 0 and 1 at the ends, NaN in NaN out
//   rk_tanh      relative 1.5e-7, exactly +-1 for large |x|, tanh(-0) = -0, NaN in NaN out
//   rk_ctc_log_add_exp3   "a few ulp": 4 ulp of the result, the largest term and log 3 together
//   rk_ctc_exp_sum        "about 1 ulp": 2 ulp (relative 2.4e-7), 0 below e^-104
//   rk_adam      the documented update in double from the same float inputs; relative 1e-6 of
//                the magnitudes of the terms (a handful of float roundings)
// Lengths that are not a multiple of any vector length, so the tails run too.
#include "kernel_check.h"
#include <float.h>
#include <string.h>

// Every float sign and binade from 2^-30 to 2^7 at 64 points each, and the special values.
static int64_t sweep(float *x) {
    int64_t n = 0;
    const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e30f, -1e30f, FLT_MAX, -FLT_MAX,
                              FLT_MIN, -FLT_MIN, 1e-40f, -1e-40f, 88.7f, -88.7f, 103.9f, -103.9f, 104.5f, -104.5f};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) x[n++] = specials[i];
    for (int e = -30; e <= 7; e++)
        for (int q = 0; q < 64; q++) {
            const float v = ldexpf(1.0f + q / 64.0f + 1.0f / 4096.0f, e);
            x[n++] = v;
            x[n++] = -v;
        }
    return n;
}

static void check_sigmoid_tanh(check_tally *tally) {
    float *x = floats(8192), *y = floats(8192);
    const int64_t n = sweep(x);
    rk_sigmoid(x, y, n);
    for (int64_t i = 0; i < n; i++) {
        const double want = 1.0 / (1.0 + exp(-(double)x[i]));
        // Results that round to a subnormal (or to 0) may be one step off; 0 and 1 at the ends exactly.
        double tolerance = want < FLT_MIN ? 0x1.0p-149 : 2.1e-7 * want;
        if (x[i] > 20.0f) tolerance = 0x1.0p-24;            // rounds to 1 (or its neighbour below)
        if (isinf(x[i])) tolerance = 0;
        expect_close(tally, "rk_sigmoid", i, y[i], isnan(x[i]) ? NAN : want, tolerance);
    }
    rk_tanh(x, y, n);
    for (int64_t i = 0; i < n; i++) {
        // Past |x| = 10, tanh is within 5e-9 of +-1 and the kernel gives +-1 exactly.
        const double want = fabs(x[i]) > 10.0f ? copysign(1.0, x[i]) : tanh((double)x[i]);
        expect_close(tally, "rk_tanh", i, y[i], isnan(x[i]) ? NAN : want, fabs(x[i]) > 10.0f ? 0 : 1.5e-7 * fabs(want));
        if (x[i] == 0.0f) expect_close(tally, "rk_tanh keeps the sign of zero", i, signbit(y[i]), signbit(x[i]), 0);
    }
    free(x), free(y);
}

// out = log(e^x + e^y + e^(z + mask)) + add, with log 0 = -infinity among the inputs.
static void check_ctc_log_add_exp3(check_tally *tally, check_random *random, int withAdd) {
    const int64_t n = 1003;
    float *x = floats(n), *y = floats(n), *z = floats(n), *mask = floats(n), *add = floats(n), *out = floats(n);
    for (int64_t i = 0; i < n; i++) {
        x[i] = random_uniform(random, -40, 8);
        y[i] = random_uniform(random, -40, 8);
        z[i] = random_uniform(random, -40, 8);
        mask[i] = random_next(random) % 3 == 0 ? -INFINITY : 0.0f;
        add[i] = random_uniform(random, -5, 0);
        // Some rows with one, two or all three terms log 0, and terms far apart.
        if (i % 17 == 0) x[i] = -INFINITY;
        if (i % 23 == 0) y[i] = -INFINITY;
        if (i % 69 == 0) x[i] = y[i] = z[i] = -INFINITY;
        if (i % 31 == 0) y[i] = x[i] - 60.0f;
    }
    rk_ctc_log_add_exp3(x, y, z, mask, withAdd ? add : NULL, out, n);
    const char *label = withAdd ? "rk_ctc_log_add_exp3 with add" : "rk_ctc_log_add_exp3";
    for (int64_t i = 0; i < n; i++) {
        const double zm = (double)z[i] + mask[i];
        const double high = fmax(fmax(x[i], y[i]), zm);
        double want = -INFINITY;
        if (high > -INFINITY) want = high + log(exp(x[i] - high) + exp(y[i] - high) + exp(zm - high));
        double result = want;
        if (withAdd) {
            // The kernel rounds the sum to a float, then adds: allow that rounding too.
            want += add[i];
        }
        // The sum of the three exponentials, in [1, 3], is rounded to a float before its log: an
        // absolute error of up to ulp(3) / 2 whatever the result, so near 0 (high just below 0)
        // the bound is absolute, not relative.
        const double tolerance = 4 * 0x1.0p-24 * (fabs(result) + fabs(high) + fabs(want) + log(3.0));
        expect_close(tally, label, i, out[i], want, tolerance);
    }
    free(x), free(y), free(z), free(mask), free(add), free(out);
}

// out = e^(a + b + c), the argument clamped to [-104, 88]; the argument is rounded as the kernel
// does ((a + c) + b in float) before the exact exponential.
static void check_ctc_exp_sum(check_tally *tally, check_random *random, int withB) {
    const int64_t n = 1001;
    float *a = floats(n), *b = floats(n), *out = floats(n);
    fill_uniform(random, a, n, -120, 95);
    fill_uniform(random, b, n, -3, 3);
    a[0] = -INFINITY, a[1] = NAN, a[2] = 200.0f, a[3] = -200.0f;
    const float c = -0.75f;
    rk_ctc_exp_sum(a, withB ? b : NULL, c, out, n);
    const char *label = withB ? "rk_ctc_exp_sum with b" : "rk_ctc_exp_sum";
    for (int64_t i = 0; i < n; i++) {
        float v = a[i] + c;
        if (withB) v = v + b[i];
        const double clamped = isnan(v) ? v : fmin(fmax((double)v, -104.0), 88.0);
        const double want = exp(clamped);
        const double tolerance = want < FLT_MIN ? 0x1.0p-149 : 2.4e-7 * want;
        expect_close(tally, label, i, out[i], want, tolerance);
    }
    free(a), free(b), free(out);
}

static void check_adam(check_tally *tally, check_random *random, int amsgrad, int decoupled) {
    const int64_t n = 517;
    float *p = floats(n), *g = floats(n), *m = floats(n), *v = floats(n), *vMax = floats(n);
    fill_uniform(random, p, n, -2, 2);
    fill_uniform(random, g, n, -1, 1);
    fill_uniform(random, m, n, -0.3f, 0.3f);
    fill_uniform(random, v, n, 0, 0.2f);
    fill_uniform(random, vMax, n, 0, 0.3f);
    const float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.999f, decay = 0.01f;
    const int step = 3;
    const rk_adam_constants c = {
        .shrink = decoupled ? 1 - lr * decay : 1, .l2 = decoupled ? 0 : decay, .average_share = 1 - beta1,
        .square_decay = beta2, .square_share = 1 - beta2, .step_size = lr / (1 - powf(beta1, step)),
        .correction2_root = sqrtf(1 - powf(beta2, step)), .epsilon = 1e-8f};
    double *want = doubles(4 * n), *scale = doubles(4 * n);
    for (int64_t i = 0; i < n; i++) {
        const double param = (double)p[i] * c.shrink, grad = g[i] + (double)c.l2 * param;
        const double average = m[i] + (double)c.average_share * (grad - m[i]);
        const double square = (double)c.square_decay * v[i] + (double)c.square_share * grad * grad;
        const double second = amsgrad ? fmax(vMax[i], square) : square;
        const double update = c.step_size * average / (sqrt(second) / c.correction2_root + c.epsilon);
        want[i] = param - update, scale[i] = fabs(param) + fabs(update);
        want[n + i] = average, scale[n + i] = fabs(m[i]) + fabs(grad);
        want[2 * n + i] = square, scale[2 * n + i] = square;
        want[3 * n + i] = second, scale[3 * n + i] = second;
    }
    rk_adam(p, g, m, v, amsgrad ? vMax : NULL, n, &c);
    char label[80];
    snprintf(label, sizeof label, "rk_adam%s%s", amsgrad ? " amsgrad" : "", decoupled ? " decoupled" : "");
    const float *got[4] = {p, m, v, vMax};
    for (int part = 0; part < (amsgrad ? 4 : 3); part++)
        for (int64_t i = 0; i < n; i++)
            expect_close(tally, label, part * n + i, got[part][i], want[part * n + i], 1e-6 * scale[part * n + i] + 1e-30);
    free(p), free(g), free(m), free(v), free(vMax), free(want), free(scale);
}

void check_elementwise(check_tally *tally) {
    check_random random = {11};
    check_sigmoid_tanh(tally);
    for (int withAdd = 0; withAdd < 2; withAdd++) check_ctc_log_add_exp3(tally, &random, withAdd);
    for (int withB = 0; withB < 2; withB++) check_ctc_exp_sum(tally, &random, withB);
    for (int amsgrad = 0; amsgrad < 2; amsgrad++)
        for (int decoupled = 0; decoupled < 2; decoupled++) check_adam(tally, &random, amsgrad, decoupled);
}
