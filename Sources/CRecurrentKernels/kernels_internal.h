// Shared by the kernel files; not part of the public interface.
#ifndef RECURRENT_KERNELS_INTERNAL_H
#define RECURRENT_KERNELS_INTERNAL_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#define RK_X86 1
#else
#define RK_X86 0
#endif

// The target attributes of the x86 instances (used with #pragma clang attribute).
#define RK_TARGET_AVX512 "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,f16c"
#define RK_TARGET_AVX2 "avx2,fma,f16c"

#define RK_CAT2(a, b) a##_##b
#define RK_CAT(a, b) RK_CAT2(a, b)
#define RK_INLINE static inline __attribute__((always_inline))

// Instruction sets, in increasing order; every kernel has an instance for each.
enum { RK_ISA_GENERIC = 1, RK_ISA_AVX2 = 2, RK_ISA_AVX512 = 3 };

// The instruction set kernels use: the best this CPU runs, unless rk_force_isa chose another.
int rk_isa_level(void);

#endif
