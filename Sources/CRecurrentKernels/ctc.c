// The rows of the CTC loss's log-space forward-backward recursion (Training/CTCAlignment.swift
// runs the recursion; these are its Float rows): one vector body (ctc_impl.h) per instruction
// set, chosen at run time like the other kernels. Every lane gets the same operations, so a
// value does not depend on where in a row it sits.
#include "RecurrentKernels.h"
#include "kernels_internal.h"

#pragma clang fp contract(fast)

#define RK_ACTIVATIONS_VECTORS_ONLY 1

#if RK_X86
#pragma clang attribute push(__attribute__((target(RK_TARGET_AVX512))), apply_to = function)
#define RK_ISA avx512
#define RK_VL 16
#define RK_SCALEF 1
#include "activations_impl.h"
#include "ctc_impl.h"
#undef RK_ISA
#undef RK_VL
#undef RK_SCALEF
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target(RK_TARGET_AVX2))), apply_to = function)
#define RK_ISA avx2
#define RK_VL 8
#include "activations_impl.h"
#include "ctc_impl.h"
#undef RK_ISA
#undef RK_VL
#pragma clang attribute pop
#endif

#define RK_ISA generic
#define RK_VL 4
#include "activations_impl.h"
#include "ctc_impl.h"
#undef RK_ISA
#undef RK_VL

void rk_ctc_log_add_exp3(const float *x, const float *y, const float *z, const float *z_mask, const float *add,
                         float *out, int64_t n) {
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: ctc_log_add_exp3_avx512(x, y, z, z_mask, add, out, n); return;
    case RK_ISA_AVX2: ctc_log_add_exp3_avx2(x, y, z, z_mask, add, out, n); return;
#endif
    default: ctc_log_add_exp3_generic(x, y, z, z_mask, add, out, n);
    }
}

void rk_ctc_exp_sum(const float *a, const float *b, float c, float *out, int64_t n) {
    switch (rk_isa_level()) {
#if RK_X86
    case RK_ISA_AVX512: ctc_exp_sum_avx512(a, b, c, out, n); return;
    case RK_ISA_AVX2: ctc_exp_sum_avx2(a, b, c, out, n); return;
#endif
    default: ctc_exp_sum_generic(a, b, c, out, n);
    }
}
