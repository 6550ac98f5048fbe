/* Tensors, half-precision conversion and the arena. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "maas.h"

static void f16_known_values(void **state)
{
    (void)state;
    assert_int_equal(maas_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(maas_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(maas_f32_to_f16(65504.0f), 0x7bff);    /* largest finite */
    assert_int_equal(maas_f32_to_f16(65520.0f), 0x7c00);    /* rounds to infinity */
    assert_int_equal(maas_f32_to_f16(0x1p-24f), 0x0001);    /* smallest subnormal */
    assert_int_equal(maas_f32_to_f16(0x1p-25f), 0x0000);    /* tie rounds to even zero */
    assert_int_equal(maas_f32_to_f16(0.1f), 0x2e66);
    assert_int_equal(maas_f32_to_f16(-0.0f), 0x8000);
    assert_true(isnan(maas_f16_to_f32(maas_f32_to_f16(NAN))));
    assert_true(maas_f16_to_f32(0x7c00) == INFINITY);
    assert_true(maas_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(maas_f16_to_f32(0x3555) == 0x1.554p-2f);
}

static void f16_round_trip_every_value(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = maas_f16_to_f32((uint16_t)h);
        if (isnan(f))
            continue;
        assert_int_equal(maas_f32_to_f16(f), h);
    }
}

static void bf16_rounds_to_nearest_even(void **state)
{
    (void)state;
    assert_int_equal(maas_f32_to_bf16(1.0f), 0x3f80);
    /* 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties to even gives 1. */
    assert_int_equal(maas_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
    assert_int_equal(maas_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    assert_true(maas_bf16_to_f32(0x3f81) == 1.0f + 0x1p-7f);
}

static void tensor_strides_and_views(void **state)
{
    (void)state;
    float data[24];
    for (int i = 0; i < 24; i++)
        data[i] = (float)i;
    maas_tensor t;
    assert_int_equal(maas_tensor_init(&t, MAAS_DTYPE_F32, 3, (int64_t[]){2, 3, 4}, data), MAAS_OK);
    assert_int_equal(t.stride[0], 12);
    assert_int_equal(t.stride[1], 4);
    assert_int_equal(t.stride[2], 1);
    assert_int_equal(maas_tensor_numel(&t), 24);
    assert_true(maas_tensor_is_contiguous(&t));

    maas_tensor row;
    assert_int_equal(maas_tensor_slice(&t, 1, 1, 2, &row), MAAS_OK);
    assert_true(((float *)row.data)[0] == 4.0f);
    assert_false(maas_tensor_is_contiguous(&row));
    assert_int_equal(maas_tensor_slice(&t, 1, 2, 2, &row), MAAS_ERR_INVALID_ARGUMENT);

    maas_tensor flat;
    assert_int_equal(maas_tensor_reshape(&t, 2, (int64_t[]){6, 4}, &flat), MAAS_OK);
    assert_int_equal(maas_tensor_reshape(&t, 2, (int64_t[]){5, 4}, &flat), MAAS_ERR_SHAPE_MISMATCH);
    assert_int_equal(maas_tensor_init(&t, MAAS_DTYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, data),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_tensor_init(&t, MAAS_DTYPE_F32, 2, (int64_t[]){INT64_MAX, 4}, data),
                     MAAS_ERR_OVERFLOW);
}

static void arena_aligns_and_fills(void **state)
{
    (void)state;
    maas_arena arena;
    assert_int_equal(maas_arena_init(&arena, 256), MAAS_OK);
    void *a = maas_arena_alloc(&arena, 3);
    void *b = maas_arena_alloc(&arena, 100);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal((uintptr_t)a % 64, 0);
    assert_int_equal((uintptr_t)b % 64, 0);
    assert_int_equal(arena.used, 192);
    assert_null(maas_arena_alloc(&arena, 65));
    assert_string_not_equal(maas_last_error(), "");
    maas_arena_reset(&arena);
    assert_int_equal(arena.used, 0);
    assert_int_equal(arena.peak, 192);
    maas_arena_free(&arena);
    maas_arena_free(&arena);
    assert_int_equal(maas_arena_size_for((size_t[]){1, 64, 65}, 3), 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(f16_known_values),
        cmocka_unit_test(f16_round_trip_every_value),
        cmocka_unit_test(bf16_rounds_to_nearest_even),
        cmocka_unit_test(tensor_strides_and_views),
        cmocka_unit_test(arena_aligns_and_fills),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
