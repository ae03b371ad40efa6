// Gate nonlinearities, written once with clang vector extensions and included by activations.c
// once per instruction set (inside a `#pragma clang attribute` giving every function here that
// set's target attribute). The including file defines RK_ISA (a name suffix) and RK_VL (floats
// per vector), and RK_SCALEF where the set scales by 2^n in one instruction (AVX-512's vscalefps).
//
// exp(-|x|) is computed Cephes-style: n = round(y / ln 2), r = y - n ln 2 in two parts, a degree-6
// polynomial for e^r (about 1 ulp) and a scale by 2^n in two steps, so results down to the
// subnormal range come out right. sigmoid and tanh (for |x| >= 0.625) are then a division or
// two away; tanh on |x| < 0.625 uses Cephes' odd polynomial, which keeps the relative error small
// near zero where 1 - e^(-2|x|) would cancel. Every lane gets the same operations, so results do
// not depend on where in the array (or in which call) a value sits.

#ifdef RK_SCALEF
#include <immintrin.h>
#endif

#define FN(name) RK_CAT(name, RK_ISA)
typedef float FN(af) __attribute__((ext_vector_type(RK_VL)));
typedef int32_t FN(ai) __attribute__((ext_vector_type(RK_VL)));
#define AF FN(af)
#define AI FN(ai)

RK_INLINE AF FN(aload)(const float *p) {
    AF v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
RK_INLINE void FN(astore)(float *p, AF v) { __builtin_memcpy(p, &v, sizeof v); }

// e^r for |r| <= ln(2) / 2: Cephes' degree-7 polynomial (about 1 ulp).
RK_INLINE AF FN(exp_reduced)(AF r) {
    AF p = (AF)1.9875691500e-4f;
    p = p * r + (AF)1.3981999507e-3f;
    p = p * r + (AF)8.3334519073e-3f;
    p = p * r + (AF)4.1665795894e-2f;
    p = p * r + (AF)1.6666665459e-1f;
    p = p * r + (AF)5.0000001201e-1f;
    p = p * (r * r) + r + (AF)1.0f;
    return p;
}

// y = n ln 2 + r: n = round(number / ln 2) through the 1.5 * 2^23 trick (the low bits of t
// hold n), r = y - n ln 2 with ln 2 in two parts. `number` is y, or a stand-in where y is NaN
// (|number| < 2^22), so that n is defined while a NaN y still makes r NaN. n comes as a float
// (*fn) and, for scaling by integer arithmetic, as an integer (*n).
RK_INLINE AF FN(reduce_ln2)(AF y, AF number, AF *fn, AI *n) {
    const float magic = 12582912.0f;
    AF t = number * (AF)1.44269504088896341f + (AF)magic;
    *n = (AI)t - (AI)(AF)magic;
    *fn = t - (AF)magic;
    AF r = y - *fn * (AF)0.693359375f;
    return r - *fn * (AF)-2.12194440e-4f;
}

#ifdef RK_SCALEF
// p * 2^fn (fn a whole number) rounded once, into the subnormal range too: the same value as
// the two-step product below, in one instruction.
RK_INLINE AF FN(scale)(AF p, AF fn) { return (AF)_mm512_scalef_ps((__m512)p, (__m512)fn); }
#endif

// e^y for y <= 0: NaN stays NaN, and below -104 the result is 0.
RK_INLINE AF FN(exp_nonpositive)(AF y) {
    // A copy without NaN or infinities for the integer part (NaN fails both comparisons).
    AF yc = y > (AF)-104.0f ? y : (AF)-104.0f;
    yc = yc < (AF)0.0f ? yc : (AF)0.0f;
    AF fn;
    AI n;
    AF p = FN(exp_reduced)(FN(reduce_ln2)(yc, yc, &fn, &n));
#ifdef RK_SCALEF
    AF result = FN(scale)(p, fn);
#else
    // 2^n (n in [-150, 0]) in two factors, each a normal float, so subnormal results round once.
    AI n1 = n >> 1;
    AI n2 = n - n1;
    AF s1 = (AF)((n1 + 127) << 23);
    AF s2 = (AF)((n2 + 127) << 23);
    AF result = p * s1 * s2;
#endif
    return y == y ? result : y;
}

// Cephes' logf after its range reduction: log(2^e (1 + f)) for f = m - 1, m in [sqrt(1/2),
// sqrt(2)), e a whole number as a float; a degree-8 polynomial in f plus e ln 2 in two parts,
// about 1 ulp. The callers reduce their own arguments (ctc_log, log1p_unit).
RK_INLINE AF FN(log_reduced)(AF f, AF e) {
    AF z = f * f;
    AF p = (AF)7.0376836292e-2f;
    p = p * f + (AF)-1.1514610310e-1f;
    p = p * f + (AF)1.1676998740e-1f;
    p = p * f + (AF)-1.2420140846e-1f;
    p = p * f + (AF)1.4249322787e-1f;
    p = p * f + (AF)-1.6668057665e-1f;
    p = p * f + (AF)2.0000714765e-1f;
    p = p * f + (AF)-2.4999993993e-1f;
    p = p * f + (AF)3.3333331174e-1f;
    AF y = p * f * z + e * (AF)-2.12194440e-4f - (AF)0.5f * z;
    return f + y + e * (AF)0.693359375f;
}

RK_INLINE AF FN(sigmoid_v)(AF x) {
    AI sign = (AI)x & (AI)(int32_t)0x80000000;
    AF ax = (AF)((AI)x & (AI)0x7fffffff);
    AF e = FN(exp_nonpositive)(-ax);
    AF positive = (AF)1.0f / ((AF)1.0f + e);
    // sigmoid(-a) = e^-a / (1 + e^-a); NaN (either sign) takes this branch too and stays NaN.
    return ((sign == 0) & (x == x)) ? positive : e * positive;
}

// tanh from |x|, its sign and e = e^(-2|x|): (1 - e) / (1 + e), or Cephes' odd polynomial on
// |x| < 0.625, where 1 - e would cancel.
RK_INLINE AF FN(tanh_from)(AF ax, AI sign, AF e) {
    AF large = ((AF)1.0f - e) / ((AF)1.0f + e);
    AF z = ax * ax;
    AF p = (AF)-5.70498872745e-3f;
    p = p * z + (AF)2.06390887954e-2f;
    p = p * z + (AF)-5.37397155531e-2f;
    p = p * z + (AF)1.33314422036e-1f;
    p = p * z + (AF)-3.33332819422e-1f;
    AF small = p * z * ax + ax;
    AF t = ax < (AF)0.625f ? small : large;
    return (AF)((AI)t | sign);
}

RK_INLINE AF FN(tanh_v)(AF x) {
    AI sign = (AI)x & (AI)(int32_t)0x80000000;
    AF ax = (AF)((AI)x & (AI)0x7fffffff);
    return FN(tanh_from)(ax, sign, FN(exp_nonpositive)(ax * (AF)-2.0f));
}

// The fused recurrent steps' versions. Sigmoid: the same polynomial for e^r, with the argument
// clamped to [-87, 87] so that 2^n is one normal float; it gives up only the subnormal range
// (sigmoid stays 1.6e-38 short of 0, where the function above reaches it through subnormals) for
// about a quarter fewer operations. tanh: a rational function (below). NaN still gives NaN.
RK_INLINE AF FN(step_exp)(AF y) {
    AF yc = y < (AF)-87.0f ? (AF)-87.0f : y;   // NaN fails both comparisons and stays
    yc = yc > (AF)87.0f ? (AF)87.0f : yc;
    AF fn;
    AI n;
#ifdef RK_SCALEF
    // A NaN yc makes fn, r and the result NaN; no integer part is needed.
    AF r = FN(reduce_ln2)(yc, yc, &fn, &n);
    return FN(scale)(FN(exp_reduced)(r), fn);
#else
    AF finite = yc == yc ? yc : (AF)0.0f;      // the integer part needs a number
    return FN(exp_reduced)(FN(reduce_ln2)(yc, finite, &fn, &n)) * (AF)((n + 127) << 23);
#endif
}

RK_INLINE AF FN(step_sigmoid)(AF x) { return (AF)1.0f / ((AF)1.0f + FN(step_exp)(-x)); }

// tanh as x P(x^2) / Q(x^2) on |x| <= 9 (beyond, tanh rounds to +-1), P of degree 5 and Q of
// degree 4: a minimax fit of the relative error (2.6e-8 in exact arithmetic), whose float
// evaluation is within 5.2 ulp of tanh for every float with fused multiply-adds and 5.9 without
// (checked exhaustively), and never beyond +-1 (clamped). It takes less than half the time of the
// exp-based tanh above (AVX-512, here); tanh is two of an LSTM cell's five functions, and an
// Elman cell's one. Odd, so tanh(-0) = -0; NaN stays NaN.
RK_INLINE AF FN(step_tanh)(AF x) {
    AF xc = x < (AF)-9.0f ? (AF)-9.0f : x;   // NaN fails both comparisons and stays
    xc = xc > (AF)9.0f ? (AF)9.0f : xc;
    AF z = xc * xc;
    AF p = (AF)-1.045653494e-11f;
    p = p * z + (AF)2.794280896e-08f;
    p = p * z + (AF)2.680715261e-05f;
    p = p * z + (AF)3.805719316e-03f;
    p = p * z + (AF)1.362910271e-01f;
    p = p * z + (AF)1.0f;
    AF q = (AF)1.206792035e-06f;
    q = q * z + (AF)3.830504429e-04f;
    q = q * z + (AF)2.701396681e-02f;
    q = q * z + (AF)4.696242213e-01f;
    q = q * z + (AF)1.0f;
    AF t = xc * p / q;
    t = t > (AF)1.0f ? (AF)1.0f : t;
    return t < (AF)-1.0f ? (AF)-1.0f : t;
}

// Files that only need the vector functions above define RK_ACTIVATIONS_VECTORS_ONLY.
#ifndef RK_ACTIVATIONS_VECTORS_ONLY

// log(1 + s) for s in [0, 1]: u = 1 + s, log u by Cephes' logf (log_reduced: u = 2^e m, m in
// [sqrt(1/2), sqrt(2))), times s / (u - 1), which restores what rounding 1 + s lost (Goldberg's
// log1p); s below half an ulp of 1 gives s itself.
RK_INLINE AF FN(log1p_unit)(AF s) {
    AF u = (AF)1.0f + s;
    AI big = u > (AF)1.41421356237f;
    AF m = big ? u * (AF)0.5f : u;
    AF e = big ? (AF)1.0f : (AF)0.0f;
    AF logU = FN(log_reduced)(m - (AF)1.0f, e);
    AF d = u - (AF)1.0f;
    return d == (AF)0.0f ? s : logU * (s / (d == (AF)0.0f ? (AF)1.0f : d));
}

// Binary cross-entropy on logits for RK_VL elements (see rk_bce_with_logits): the term
// (1 - y) x + softplus(-x) and its slope (1 - y) - sigmoid(-x), softplus(-x) = max(-x, 0) +
// log1p(e^-|x|) with one exponential for both.
RK_INLINE void FN(bce_v)(const float *xp, const float *yp, float *terms, float *slopes) {
    AF x = FN(aload)(xp), y = FN(aload)(yp);
    AF ax = (AF)((AI)x & (AI)0x7fffffff);
    AF small = FN(exp_nonpositive)(-ax);
    AF negative = -x;
    AF softplus = (negative > (AF)0.0f ? negative : (AF)0.0f) + FN(log1p_unit)(small);
    AF off = (AF)1.0f - y;
    FN(astore)(terms, off * x + softplus);
    AF sigmoidOfNegative = x >= (AF)0.0f ? small / ((AF)1.0f + small) : (AF)1.0f / ((AF)1.0f + small);
    FN(astore)(slopes, off - sigmoidOfNegative);
}

// Dropout's mask (see rk_dropout_mask): element i takes SplitMix64's (i + 1)-th output from
// `state`, each independent of the others, so the loop vectorizes (64-bit multiplies).
static void FN(dropout_mask)(uint64_t state, float probability, float kept, float *mask, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = state + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        const float uniform = (float)(z >> 40) * (1.0f / 16777216.0f);
        mask[i] = uniform >= probability ? kept : 0.0f;
    }
}

static void FN(bce)(const float *x, const float *y, float *terms, float *slopes, int64_t n) {
    int64_t i = 0;
    for (; i + RK_VL <= n; i += RK_VL) FN(bce_v)(x + i, y + i, terms + i, slopes + i);
    if (i < n) {
        float tx[RK_VL] = {0}, ty[RK_VL] = {0}, tt[RK_VL], ts[RK_VL];
        for (int64_t j = i; j < n; j++) tx[j - i] = x[j], ty[j - i] = y[j];
        FN(bce_v)(tx, ty, tt, ts);
        for (int64_t j = i; j < n; j++) terms[j] = tt[j - i], slopes[j] = ts[j - i];
    }
}

#define RK_ELEMENTWISE(NAME, OP)                                                                   \
    static void FN(NAME)(const float *x, float *y, int64_t n) {                                    \
        int64_t i = 0;                                                                             \
        for (; i + RK_VL <= n; i += RK_VL) FN(astore)(y + i, OP(FN(aload)(x + i)));               \
        if (i < n) {                                                                               \
            float tail[RK_VL] = {0};                                                               \
            for (int64_t j = i; j < n; j++) tail[j - i] = x[j];                                    \
            FN(astore)(tail, OP(FN(aload)(tail)));                                                 \
            for (int64_t j = i; j < n; j++) y[j] = tail[j - i];                                    \
        }                                                                                          \
    }
RK_ELEMENTWISE(sigmoid, FN(sigmoid_v))
RK_ELEMENTWISE(tanh, FN(tanh_v))
#undef RK_ELEMENTWISE

// The Adam update of RK_VL parameters (see rk_adam).
RK_INLINE void FN(adam_v)(float *p, const float *g, float *m, float *v, float *vMax, const rk_adam_constants *c) {
    AF param = FN(aload)(p);
    if (c->shrink != 1.0f) param = param * (AF)c->shrink;
    AF grad = FN(aload)(g) + (AF)c->l2 * param;
    AF average = FN(aload)(m);
    average = average + (AF)c->average_share * (grad - average);
    AF square = (AF)c->square_decay * FN(aload)(v) + (AF)c->square_share * (grad * grad);
    AF second = square;
    if (vMax) {
        AF largest = FN(aload)(vMax);
        second = largest > square ? largest : square;
        FN(astore)(vMax, second);
    }
    param = param - (AF)c->step_size * (average / (__builtin_elementwise_sqrt(second) / (AF)c->correction2_root + (AF)c->epsilon));
    FN(astore)(p, param);
    FN(astore)(m, average);
    FN(astore)(v, square);
}

static void FN(adam)(float *p, const float *g, float *m, float *v, float *vMax, int64_t n, const rk_adam_constants *c) {
    int64_t i = 0;
    for (; i + RK_VL <= n; i += RK_VL) FN(adam_v)(p + i, g + i, m + i, v + i, vMax ? vMax + i : 0, c);
    if (i < n) {
        // The last few through the same vector code, padded with zeros.
        float tp[RK_VL] = {0}, tg[RK_VL] = {0}, tm[RK_VL] = {0}, tv[RK_VL] = {0}, tx[RK_VL] = {0};
        for (int64_t j = i; j < n; j++) {
            tp[j - i] = p[j], tg[j - i] = g[j], tm[j - i] = m[j], tv[j - i] = v[j];
            if (vMax) tx[j - i] = vMax[j];
        }
        FN(adam_v)(tp, tg, tm, tv, vMax ? tx : 0, c);
        for (int64_t j = i; j < n; j++) {
            p[j] = tp[j - i], m[j] = tm[j - i], v[j] = tv[j - i];
            if (vMax) vMax[j] = tx[j - i];
        }
    }
}
#endif

#undef AF
#undef AI
#undef FN
