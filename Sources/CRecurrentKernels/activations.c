// Element-wise kernels (gate nonlinearities, the Adam update): one vector body
// (activations_impl.h) per instruction set, chosen at run time like the matrix product.
#include "RecurrentKernels.h"
#include "kernels_internal.h"

#pragma clang fp contract(fast)

#if RK_X86
#pragma clang attribute push(__attribute__((target(RK_TARGET_AVX512))), apply_to = function)
#define RK_ISA avx512
#define RK_VL 16
#define RK_SCALEF 1
#include "activations_impl.h"
#undef RK_ISA
#undef RK_VL
#undef RK_SCALEF
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target(RK_TARGET_AVX2))), apply_to = function)
#define RK_ISA avx2
#define RK_VL 8
#include "activations_impl.h"
#undef RK_ISA
#undef RK_VL
#pragma clang attribute pop
#endif

#define RK_ISA generic
#define RK_VL 4
#include "activations_impl.h"
#undef RK_ISA
#undef RK_VL

void rk_sigmoid(const float *x, float *y, int64_t n) {
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: sigmoid_avx512(x, y, n); return;
    case RK_ISA_AVX2: sigmoid_avx2(x, y, n); return;
#endif
    default: sigmoid_generic(x, y, n);
    }
}

void rk_tanh(const float *x, float *y, int64_t n) {
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: tanh_avx512(x, y, n); return;
    case RK_ISA_AVX2: tanh_avx2(x, y, n); return;
#endif
    default: tanh_generic(x, y, n);
    }
}

void rk_bce_with_logits(const float *x, const float *y, float *terms, float *slopes, int64_t n) {
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: bce_avx512(x, y, terms, slopes, n); return;
    case RK_ISA_AVX2: bce_avx2(x, y, terms, slopes, n); return;
#endif
    default: bce_generic(x, y, terms, slopes, n);
    }
}

void rk_dropout_mask(uint64_t state, float probability, float kept, float *mask, int64_t n) {
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: dropout_mask_avx512(state, probability, kept, mask, n); return;
    case RK_ISA_AVX2: dropout_mask_avx2(state, probability, kept, mask, n); return;
#endif
    default: dropout_mask_generic(state, probability, kept, mask, n);
    }
}

void rk_adam(float *p, const float *g, float *m, float *v, float *v_max, int64_t n, const rk_adam_constants *c) {
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: adam_avx512(p, g, m, v, v_max, n, c); return;
    case RK_ISA_AVX2: adam_avx2(p, g, m, v, v_max, n, c); return;
#endif
    default: adam_generic(p, g, m, v, v_max, n, c);
    }
}
