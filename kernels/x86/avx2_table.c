/* The AVX2 tier of the dispatch table. */
#include "x86/avx2.h"

void maas_avx2_fill_table(maas_kernel_table *t)
{
    /* TODO: no AVX2 kernel is registered yet, so this tier still runs the
     * scalar entries it was copied from. */
    (void)t;
}
