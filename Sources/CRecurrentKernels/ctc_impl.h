// The vector rows of CTC's log-space recursion (see ctc.c), written once with clang vector
// extensions and included by ctc.c once per instruction set, after activations_impl.h (whose
// exp_nonpositive, ~1 ulp and 0 below -104, and log_reduced they use).

#define FN(name) RK_CAT(name, RK_ISA)
#define AF FN(af)
#define AI FN(ai)

// log(v) for positive normal v (Cephes' logf, about 1 ulp): v = m 2^e with m in
// [sqrt(1/2), sqrt(2)), then log_reduced (activations_impl.h) on f = m - 1 and e.
RK_INLINE AF FN(ctc_log)(AF v) {
    AI bits = (AI)v;
    AI e = ((bits >> 23) & (AI)0xff) - (AI)126;               // v = m 2^e, m in [0.5, 1)
    AF m = (AF)((bits & (AI)0x007fffff) | (AI)0x3f000000);
    AI below = m < (AF)0.707106781186547524f;                 // -1 where m < sqrt(1/2)
    e = e + below;
    AF f = below ? m + m - (AF)1.0f : m - (AF)1.0f;
    return FN(log_reduced)(f, __builtin_convertvector(e, AF));
}

// log(e^x + e^y + e^z): the largest term contributes 1, the other two an exponential each, so
// the sum lies in [1, 3]. All three -infinity (log 0) give -infinity.
RK_INLINE AF FN(ctc_log_add_exp)(AF x, AF y, AF z) {
    AF xyHigh = x > y ? x : y, xyLow = x > y ? y : x;
    AF high = xyHigh > z ? xyHigh : z;
    AF low = xyLow > z ? z : xyLow;
    AF middle = xyHigh > z ? (xyLow > z ? xyLow : z) : xyHigh;
    AI empty = high == (AF)-__builtin_inff();
    AF shift = empty ? (AF)0.0f : high;
    AF sum = (AF)1.0f + FN(exp_nonpositive)(middle - shift) + FN(exp_nonpositive)(low - shift);
    return empty ? high : shift + FN(ctc_log)(sum);
}

// e^v, the argument clamped to [-104, 88] (e^-104 rounds to 0; e^88 is near the largest float);
// NaN stays NaN. exp_nonpositive's steps, with 2^n for n up to 127 as well.
RK_INLINE AF FN(ctc_exp)(AF v) {
    AF vc = v > (AF)-104.0f ? v : (AF)-104.0f;
    vc = vc < (AF)88.0f ? vc : (AF)88.0f;
    AF fn;
    AI n;
    AF p = FN(exp_reduced)(FN(reduce_ln2)(vc, vc, &fn, &n));
#ifdef RK_SCALEF
    AF result = FN(scale)(p, fn);
#else
    AI n1 = n >> 1;
    AI n2 = n - n1;
    AF result = p * (AF)((n1 + 127) << 23) * (AF)((n2 + 127) << 23);
#endif
    return v == v ? result : v;
}

static void FN(ctc_log_add_exp3)(const float *x, const float *y, const float *z, const float *z_mask, const float *add,
                                 float *out, int64_t n) {
    int64_t i = 0;
    for (; i + RK_VL <= n; i += RK_VL) {
        AF r = FN(ctc_log_add_exp)(FN(aload)(x + i), FN(aload)(y + i), FN(aload)(z + i) + FN(aload)(z_mask + i));
        if (add) r = r + FN(aload)(add + i);
        FN(astore)(out + i, r);
    }
    if (i < n) {
        // The last few through the same vector code, padded with log 0.
        float tx[RK_VL], ty[RK_VL], tz[RK_VL], tr[RK_VL];
        for (int j = 0; j < RK_VL; j++) tx[j] = ty[j] = tz[j] = -__builtin_inff();
        for (int64_t j = i; j < n; j++) tx[j - i] = x[j], ty[j - i] = y[j], tz[j - i] = z[j] + z_mask[j];
        AF r = FN(ctc_log_add_exp)(FN(aload)(tx), FN(aload)(ty), FN(aload)(tz));
        FN(astore)(tr, r);
        for (int64_t j = i; j < n; j++) out[j] = tr[j - i] + (add ? add[j] : 0.0f);
    }
}

static void FN(ctc_exp_sum)(const float *a, const float *b, float c, float *out, int64_t n) {
    int64_t i = 0;
    for (; i + RK_VL <= n; i += RK_VL) {
        AF v = FN(aload)(a + i) + (AF)c;
        if (b) v = v + FN(aload)(b + i);
        FN(astore)(out + i, FN(ctc_exp)(v));
    }
    if (i < n) {
        float tv[RK_VL] = {0}, tr[RK_VL];
        for (int64_t j = i; j < n; j++) tv[j - i] = a[j] + c + (b ? b[j] : 0.0f);
        FN(astore)(tr, FN(ctc_exp)(FN(aload)(tv)));
        for (int64_t j = i; j < n; j++) out[j] = tr[j - i];
    }
}

#undef AF
#undef AI
#undef FN
