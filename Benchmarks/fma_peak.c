// This core's clock and its FMA peak, to put the product's GFLOP/s beside what the core can do.
//   clang -O2 Benchmarks/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
// The clock: a chain of dependent integer adds, one a cycle. The peak: twelve independent chains
// of 8-lane fused multiply-adds (AVX2 + FMA), enough to keep two pipes of 4-cycle latency busy.
// Best of five of each; one thread.
#include <stdio.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

__attribute__((target("avx2,fma"))) static double fma_gflops(long n) {
    __m256 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i * 0.001f);
    const __m256 x = _mm256_set1_ps(0.9999f), y = _mm256_set1_ps(0.0001f);
    double start = now();
    for (long k = 0; k < n; k++) {
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], x, y);
        __asm__ volatile("" : "+x"(a[0]), "+x"(a[1]), "+x"(a[2]), "+x"(a[3]), "+x"(a[4]), "+x"(a[5]),
                         "+x"(a[6]), "+x"(a[7]), "+x"(a[8]), "+x"(a[9]), "+x"(a[10]), "+x"(a[11]));
    }
    double seconds = now() - start;
    float sum = 0;
    for (int i = 0; i < 12; i++) sum += a[i][0];
    if (sum == 12345.0f) printf(" ");  // keeps the sums alive
    return 12.0 * 16.0 * (double)n / seconds / 1e9;
}

static double clock_ghz(long n) {
    long v = 0;
    double start = now();
    for (long k = 0; k < n; k++)
        __asm__ volatile("add $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\t"
                         "add $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\tadd $1,%0" : "+r"(v));
    return 8.0 * (double)n / (now() - start) / 1e9;
}

int main(void) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "fma_peak: this CPU has no AVX2 + FMA\n");
        return 1;
    }
    double ghz = 0, gflops = 0;
    for (int r = 0; r < 5; r++) {
        double g = clock_ghz(300000000L), f = fma_gflops(100000000L);
        if (g > ghz) ghz = g;
        if (f > gflops) gflops = f;
    }
    printf("clock %.2f GHz, FMA loop %.1f GFLOP/s (%.1f flops a cycle) on one core\n", ghz, gflops, gflops / ghz);
    return 0;
}
#else
int main(void) {
    fprintf(stderr, "fma_peak: x86-64 only\n");
    return 1;
}
#endif
