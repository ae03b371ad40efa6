// The C kernels against plain references computed in double, with stated tolerances. Built
// for the machine's own CPU (every instruction set the dispatcher offers there) and for ARM64
// (NEON, run under qemu-aarch64) by scripts/arm64-check.sh; see docs/speed.md.
#ifndef KERNEL_CHECK_H
#define KERNEL_CHECK_H

#include "RecurrentKernels.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// Counts for one group of checks (gemm, elementwise, recurrent) on one instruction set.
typedef struct {
    const char *isa;
    long checks;       // values compared
    long failures;
    double worst;      // the largest error / tolerance seen (below 1 passes)
    char worst_label[160];
} check_tally;

// |got - want| <= tolerance, or both NaN, or both the same infinity. Records the ratio and
// prints the first few failures with their label and index.
void expect_close(check_tally *tally, const char *label, int64_t index, double got, double want, double tolerance);
// got and want bit for bit (NaNs of any payload match).
void expect_same_bits(check_tally *tally, const char *label, const float *got, const float *want, int64_t n);

// A deterministic generator: splitmix64, and uniform floats in [low, high).
typedef struct { uint64_t state; } check_random;
uint64_t random_next(check_random *random);
float random_uniform(check_random *random, float low, float high);
void fill_uniform(check_random *random, float *values, int64_t n, float low, float high);

float *floats(int64_t n);          // malloc'd, filled with NaN so unwritten values show
double *doubles(int64_t n);        // malloc'd zeros

void check_gemm(check_tally *tally);
void check_elementwise(check_tally *tally);
void check_recurrent(check_tally *tally);

#endif
