/* AVX2 + FMA + F16C kernels.  Every function here executes AVX
 * instructions: call them only through the dispatch table, which checks
 * CPUID first. */
#ifndef MAAS_KERNELS_AVX2_H
#define MAAS_KERNELS_AVX2_H

#include "dispatch.h"

/* Replaces the entries of `t` that have AVX2 versions. */
void maas_avx2_fill_table(maas_kernel_table *t);

#endif /* MAAS_KERNELS_AVX2_H */
