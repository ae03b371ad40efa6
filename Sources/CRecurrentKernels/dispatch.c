// The run-time choice of instruction set, made once and shared by every kernel.
#include "RecurrentKernels.h"
#include "kernels_internal.h"
#include <string.h>

static int detect_isa(void) {
#if RK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return RK_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return RK_ISA_AVX2;
#endif
    return RK_ISA_GENERIC;
}

static int detected_isa = 0;
static int forced_isa = 0;

static int best_isa(void) {
    int found = __atomic_load_n(&detected_isa, __ATOMIC_RELAXED);
    if (!found) {
        found = detect_isa();
        __atomic_store_n(&detected_isa, found, __ATOMIC_RELAXED);
    }
    return found;
}

int rk_isa_level(void) {
    int forced = __atomic_load_n(&forced_isa, __ATOMIC_RELAXED);
    return forced ? forced : best_isa();
}

const char *rk_isa_name(void) {
    switch (rk_isa_level()) {
    case RK_ISA_AVX512: return "avx512";
    case RK_ISA_AVX2: return "avx2";
    default:
#if defined(__aarch64__)
        return "neon";
#else
        return "generic";
#endif
    }
}

int rk_force_isa(const char *name) {
    int want;
    if (!name || !*name) want = 0;
    else if (!strcmp(name, "generic") || !strcmp(name, "neon")) want = RK_ISA_GENERIC;
    else if (!strcmp(name, "avx2")) want = RK_ISA_AVX2;
    else if (!strcmp(name, "avx512")) want = RK_ISA_AVX512;
    else return -1;
    if (want > best_isa()) return -1;
    __atomic_store_n(&forced_isa, want, __ATOMIC_RELAXED);
    return 0;
}
