// Runs every group of kernel checks on every instruction set this CPU runs (on ARM64 that is
// NEON alone) and prints one line per group and a closing summary. Exit status 1 on any failure.
//
//   kernel-check [isa...]    (default: avx512 avx2 generic, those this CPU runs)
#include "kernel_check.h"
#include <string.h>

#define MAX_PRINTED_FAILURES 12

static long printed_failures = 0;

static void record(check_tally *tally, const char *label, int64_t index, double ratio, int failed, double got,
                   double want, double tolerance) {
    tally->checks++;
    if (failed && !(ratio > 1)) ratio = INFINITY;   // a NaN, or an infinity or sign that differs
    if (ratio > tally->worst) {
        tally->worst = ratio;
        snprintf(tally->worst_label, sizeof tally->worst_label, "%s [%lld]", label, (long long)index);
    }
    if (!failed) return;
    tally->failures++;
    if (printed_failures++ < MAX_PRINTED_FAILURES)
        fprintf(stderr, "FAIL %s %s [%lld]: got %.9g, want %.9g (tolerance %.3g)\n", tally->isa, label,
                (long long)index, got, want, tolerance);
}

void expect_close(check_tally *tally, const char *label, int64_t index, double got, double want, double tolerance) {
    if (isnan(want) || isinf(want)) {
        const int same = isnan(want) ? isnan(got) : got == want;
        record(tally, label, index, 0, !same, got, want, tolerance);
        return;
    }
    const double error = fabs(got - want);
    const double ratio = tolerance > 0 ? error / tolerance : (error == 0 ? 0 : INFINITY);
    // A NaN error (got NaN) fails: the comparison is false.
    record(tally, label, index, ratio, !(error <= tolerance), got, want, tolerance);
}

void expect_same_bits(check_tally *tally, const char *label, const float *got, const float *want, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const int same = (isnan(got[i]) && isnan(want[i])) || memcmp(&got[i], &want[i], sizeof(float)) == 0;
        record(tally, label, i, 0, !same, got[i], want[i], 0);
    }
}

uint64_t random_next(check_random *random) {
    uint64_t z = (random->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float random_uniform(check_random *random, float low, float high) {
    const double unit = (double)(random_next(random) >> 11) * 0x1.0p-53;
    return (float)(low + (high - low) * unit);
}

void fill_uniform(check_random *random, float *values, int64_t n, float low, float high) {
    for (int64_t i = 0; i < n; i++) values[i] = random_uniform(random, low, high);
}

float *floats(int64_t n) {
    float *values = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!values) {
        fputs("kernel-check: out of memory\n", stderr);
        exit(2);
    }
    for (int64_t i = 0; i < n; i++) values[i] = NAN;
    return values;
}

double *doubles(int64_t n) {
    double *values = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!values) {
        fputs("kernel-check: out of memory\n", stderr);
        exit(2);
    }
    return values;
}

typedef struct {
    const char *name;
    void (*run)(check_tally *);
} check_group;

int main(int argc, char **argv) {
    static const char *default_sets[] = {"avx512", "avx2", "generic"};
    const char **sets = argc > 1 ? (const char **)argv + 1 : default_sets;
    const int set_count = argc > 1 ? argc - 1 : 3;
    const check_group groups[] = {{"gemm", check_gemm}, {"elementwise", check_elementwise}, {"recurrent", check_recurrent}};
    long checks = 0, failures = 0;
    char ran[64] = "";
    for (int s = 0; s < set_count; s++) {
        if (rk_force_isa(sets[s]) != 0) {
            if (argc > 1) {
                fprintf(stderr, "kernel-check: this CPU does not run the instruction set '%s'\n", sets[s]);
                return 2;
            }
            continue;
        }
        const char *isa = rk_isa_name();
        strncat(ran, ran[0] ? ", " : "", sizeof ran - strlen(ran) - 1);
        strncat(ran, isa, sizeof ran - strlen(ran) - 1);
        for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
            check_tally tally = {isa, 0, 0, 0, ""};
            groups[g].run(&tally);
            printf("%-8s %-12s %8ld values  %s  worst error/tolerance %.3g (%s)\n", isa, groups[g].name, tally.checks,
                   tally.failures ? "FAILED" : "ok    ", tally.worst, tally.worst_label);
            fflush(stdout);
            checks += tally.checks;
            failures += tally.failures;
        }
    }
    rk_force_isa(NULL);
    if (!ran[0]) {
        fputs("kernel-check: none of the instruction sets asked for runs here\n", stderr);
        return 2;
    }
    if (failures) printf("kernel-check: %ld of %ld values out of tolerance (%s)\n", failures, checks, ran);
    else printf("kernel-check: all %ld values within tolerance (%s)\n", checks, ran);
    return failures ? 1 : 0;
}
