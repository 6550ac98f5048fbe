/* Dispatch: the MAAS_ISA environment variable, tier selection, and the
 * per-tier table entries that have no public wrapper of their own. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "maas.h"
#include "dispatch.h"
#include "kerneltest.h"

static void env_forces_scalar(void **state)
{
    (void)state;
    /* main() set MAAS_ISA=scalar before the first kernel call. */
    assert_int_equal(maas_kernels_isa(), MAAS_ISA_SCALAR);
}

static void set_isa_switches_tables(void **state)
{
    (void)state;
    assert_int_equal(maas_kernels_set_isa(MAAS_ISA_SCALAR), MAAS_OK);
    const maas_kernel_table *scalar = maas_kernels_table();
    if (maas_kernels_set_isa(MAAS_ISA_AVX2) == MAAS_OK) {
        assert_int_equal(maas_kernels_isa(), MAAS_ISA_AVX2);
        assert_ptr_not_equal(maas_kernels_table(), scalar);
        assert_ptr_not_equal(maas_kernels_table()->gemv_f32, scalar->gemv_f32);
    } else {
        /* A CPU without AVX2 keeps the scalar tier and says why. */
        assert_int_equal(maas_kernels_isa(), MAAS_ISA_SCALAR);
        assert_non_null(strstr(maas_last_error(), "avx2"));
    }
    assert_int_equal(maas_kernels_set_isa(MAAS_ISA_COUNT), MAAS_ERR_INVALID_ARGUMENT);
}

static void f16_conversion_every_value(void **state)
{
    (void)state;
    /* Every f16 bit pattern through each tier's panel converter, against
     * the scalar conversion of the tensor core (exact for every value). */
    uint16_t *h = malloc(65536 * sizeof *h);
    float *got = malloc(65536 * sizeof *got);
    assert_non_null(h);
    assert_non_null(got);
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        /* An odd length exercises the tail. */
        maas_kernels_table()->f16_to_f32(got, h, 65535);
        got[65535] = 0.0f;
        maas_kernels_table()->f16_to_f32(got + 65535, h + 65535, 1);
        for (uint32_t i = 0; i < 65536; i++) {
            float want = maas_f16_to_f32(h[i]);
            if (isnan(want))
                assert_true(isnan(got[i]));
            else
                assert_memory_equal(&got[i], &want, sizeof want);
        }
    }
    kt_restore_isa();
    free(h), free(got);
}

static void split_range_covers_everything(void **state)
{
    (void)state;
    /* Ranges are contiguous, aligned except at the end, and cover [0, n). */
    static const size_t ns[] = {0, 1, 15, 16, 17, 1000, 1023};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        for (int parts = 1; parts <= 5; parts++) {
            size_t next = 0;
            for (int part = 0; part < parts; part++) {
                size_t b, e;
                maas_split_range(ns[i], parts, part, 16, &b, &e);
                assert_int_equal(b, next);
                assert_true(e >= b);
                assert_true(b % 16 == 0 || b == ns[i]);
                next = e;
            }
            assert_int_equal(next, ns[i]);
        }
    }
}

int main(void)
{
    /* Must precede every libmaas kernel call: the tier is chosen once. */
    setenv("MAAS_ISA", "scalar", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_forces_scalar),
        cmocka_unit_test(set_isa_switches_tables),
        cmocka_unit_test(f16_conversion_every_value),
        cmocka_unit_test(split_range_covers_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
