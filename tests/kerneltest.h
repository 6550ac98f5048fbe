/* Helpers for the kernel tests: seeded random data and a loop over the
 * instruction-set tiers this CPU supports.  Include after <cmocka.h>. */
#ifndef MAAS_KERNELTEST_H
#define MAAS_KERNELTEST_H

#include <stdint.h>
#include <stdlib.h>

#include "maas.h"

/* xorshift32: the same sequence on every machine, unlike rand(). */
static inline float kt_uniform(uint32_t *state, float lo, float hi)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return lo + (hi - lo) * (float)(x >> 8) * 0x1p-24f;
}

/* Returns a malloc'ed array of n floats uniform in [lo, hi). */
static inline float *kt_random(size_t n, uint32_t seed, float lo, float hi)
{
    float *a = malloc((n ? n : 1) * sizeof *a);
    assert_non_null(a);
    uint32_t state = seed ? seed : 1;
    for (size_t i = 0; i < n; i++)
        a[i] = kt_uniform(&state, lo, hi);
    return a;
}

static inline float *kt_zeros(size_t n)
{
    float *a = calloc(n ? n : 1, sizeof *a);
    assert_non_null(a);
    return a;
}

/* Selects tier `isa`; returns false (the caller skips it) when this CPU
 * lacks it. */
static inline bool kt_use_isa(maas_isa isa)
{
    return maas_kernels_set_isa(isa) == MAAS_OK;
}

/* Restores the best tier after a test. */
static inline void kt_restore_isa(void)
{
    if (maas_kernels_set_isa(MAAS_ISA_AVX2) != MAAS_OK)
        maas_kernels_set_isa(MAAS_ISA_SCALAR);
}

#endif /* MAAS_KERNELTEST_H */
