/* Matrix products (linear f32/f16/bf16, general matmul) against the naive
 * reference loops, on every tier this CPU supports. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "maas.h"
#include "kerneltest.h"
#include "ref.h"
#include "testutil.h"

/* Shapes with awkward sizes: 1, 3, 17, 1023, and rows of 1023 floats (4 KB,
 * far longer than a 64-byte cache line). */
static const int SHAPES[][3] = {
    /* M, K, N */
    {1, 1, 1},   {1, 3, 17},    {1, 1023, 17}, {1, 17, 1023}, {1, 768, 64},
    {3, 17, 5},  {2, 1023, 33}, {17, 64, 1023}, {64, 96, 80},
};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Inputs are uniform in [-1, 1), so a dot product of K terms has rounding
 * error of order K * 2^-24 * (typical |sum| ~ sqrt(K)); 2e-6 * K bounds it
 * for every path (reference, BLAS, AVX2 with reordered sums). */
static double dot_tolerance(int K)
{
    return 2e-6 * K + 1e-6;
}

static void linear_f32_matches_reference(void **state)
{
    (void)state;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t s = 0; s < N_SHAPES; s++) {
            int M = SHAPES[s][0], K = SHAPES[s][1], N = SHAPES[s][2];
            float *in = kt_random((size_t)M * K, 11 + s, -1, 1);
            float *w = kt_random((size_t)N * K, 23 + s, -1, 1);
            float *bias = kt_random((size_t)N, 37 + s, -1, 1);
            float *want = kt_zeros((size_t)M * N);
            float *got = kt_zeros((size_t)M * N);

            maas_ref_linear_f32(want, in, w, bias, M, K, N);
            for (int nt = 1; nt <= 2; nt++) {
                maas_linear_f32(got, in, w, bias, M, K, N, nt);
                test_assert_close("linear_f32", got, want, (size_t)M * N,
                                  dot_tolerance(K), 1e-5);
            }
            maas_linear_f32(got, in, w, NULL, M, K, N, 2);
            maas_ref_linear_f32(want, in, w, NULL, M, K, N);
            test_assert_close("linear_f32 without bias", got, want,
                              (size_t)M * N, dot_tolerance(K), 1e-5);

            free(in), free(w), free(bias), free(want), free(got);
        }
    }
    kt_restore_isa();
}

static uint16_t *to_f16(const float *x, size_t n)
{
    uint16_t *h = malloc(n * sizeof *h);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        h[i] = maas_f32_to_f16(x[i]);
    return h;
}

static void linear_f16_matches_reference(void **state)
{
    (void)state;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t s = 0; s < N_SHAPES; s++) {
            int M = SHAPES[s][0], K = SHAPES[s][1], N = SHAPES[s][2];
            float *in = kt_random((size_t)M * K, 41 + s, -1, 1);
            float *w32 = kt_random((size_t)N * K, 43 + s, -1, 1);
            uint16_t *w = to_f16(w32, (size_t)N * K);
            float *bias = kt_random((size_t)N, 47 + s, -1, 1);
            float *want = kt_zeros((size_t)M * N);
            float *got = kt_zeros((size_t)M * N);

            /* Both sides convert the same f16 values exactly, so only the
             * summation order differs. */
            maas_ref_linear_f16(want, in, w, bias, M, K, N);
            for (int nt = 1; nt <= 2; nt++) {
                maas_linear_f16(got, in, w, bias, M, K, N, nt);
                test_assert_close("linear_f16", got, want, (size_t)M * N,
                                  dot_tolerance(K), 1e-5);
            }
            free(in), free(w32), free(w), free(bias), free(want), free(got);
        }
    }
    kt_restore_isa();
}

static void linear_tensor_dtypes(void **state)
{
    (void)state;
    int M = 5, K = 130, N = 19;
    float *in = kt_random((size_t)M * K, 3, -1, 1);
    float *w32 = kt_random((size_t)N * K, 5, -1, 1);
    float *wconv = kt_zeros((size_t)N * K);
    uint16_t *w16 = malloc((size_t)N * K * sizeof *w16);
    float *want = kt_zeros((size_t)M * N);
    float *got = kt_zeros((size_t)M * N);
    assert_non_null(w16);

    int64_t shape[2] = {N, K};
    maas_tensor t;
    for (int dtype = MAAS_DTYPE_F32; dtype <= MAAS_DTYPE_BF16; dtype++) {
        /* Round the weights to the dtype, then compare with the f32 oracle
         * on the rounded values. */
        const void *data = w32;
        for (size_t i = 0; i < (size_t)N * K; i++) {
            if (dtype == MAAS_DTYPE_F16)
                w16[i] = maas_f32_to_f16(w32[i]);
            else if (dtype == MAAS_DTYPE_BF16)
                w16[i] = maas_f32_to_bf16(w32[i]);
        }
        if (dtype != MAAS_DTYPE_F32)
            data = w16;
        assert_int_equal(maas_convert_to_f32(wconv, data, (maas_dtype)dtype,
                                             (size_t)N * K), MAAS_OK);
        assert_int_equal(maas_tensor_init(&t, (maas_dtype)dtype, 2, shape,
                                          (void *)data), MAAS_OK);
        for (int m_rows = 1; m_rows <= M; m_rows += M - 1) {
            maas_ref_linear_f32(want, in, wconv, NULL, m_rows, K, N);
            assert_int_equal(maas_linear(got, in, &t, NULL, m_rows, 2), MAAS_OK);
            test_assert_close("maas_linear", got, want, (size_t)m_rows * N,
                              dot_tolerance(K), 1e-5);
        }
    }

    /* An integer weight is rejected with a status. */
    assert_int_equal(maas_tensor_init(&t, MAAS_DTYPE_I32, 2, shape, w16), MAAS_OK);
    assert_int_equal(maas_linear(got, in, &t, NULL, M, 1), MAAS_ERR_UNSUPPORTED);
    assert_non_null(strstr(maas_last_error(), "i32"));

    free(in), free(w32), free(wconv), free(w16), free(want), free(got);
}

static void matmul_strides_and_transpose(void **state)
{
    (void)state;
    int M = 17, K = 33, N = 70;
    int lda = K + 3, ldc = N + 5;
    for (int trans = 0; trans <= 1; trans++) {
        int ldb = trans ? K + 2 : N + 7;
        size_t b_rows = trans ? (size_t)N : (size_t)K;
        float *a = kt_random((size_t)M * lda, 7, -1, 1);
        float *b = kt_random(b_rows * ldb, 9, -1, 1);
        float *want = kt_random((size_t)M * ldc, 13, -1, 1);
        float *got = malloc((size_t)M * ldc * sizeof *got);
        assert_non_null(got);
        memcpy(got, want, (size_t)M * ldc * sizeof *got);

        maas_ref_matmul_f32(want, ldc, a, lda, b, ldb, trans, M, K, N, 0.5f,
                            2.0f);
        maas_matmul_f32(got, ldc, a, lda, b, ldb, trans, M, K, N, 0.5f, 2.0f,
                        2);
        /* Padding columns between rows must be untouched. */
        test_assert_close("matmul", got, want, (size_t)M * ldc,
                          dot_tolerance(K), 1e-5);
        free(a), free(b), free(want), free(got);
    }
}

static void linear_threads_identical(void **state)
{
    (void)state;
    static const int shapes[][3] = {{1, 1023, 1023}, {64, 768, 1000}};
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t s = 0; s < 2; s++) {
            int M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
            float *in = kt_random((size_t)M * K, 1, -1, 1);
            float *w = kt_random((size_t)N * K, 2, -1, 1);
            uint16_t *w16 = to_f16(w, (size_t)N * K);
            float *one = kt_zeros((size_t)M * N);
            float *two = kt_zeros((size_t)M * N);

            maas_linear_f32(one, in, w, NULL, M, K, N, 1);
            maas_linear_f32(two, in, w, NULL, M, K, N, 2);
            assert_memory_equal(one, two, (size_t)M * N * sizeof *one);
            maas_linear_f16(one, in, w16, NULL, M, K, N, 1);
            maas_linear_f16(two, in, w16, NULL, M, K, N, 2);
            assert_memory_equal(one, two, (size_t)M * N * sizeof *one);
            free(in), free(w), free(w16), free(one), free(two);
        }
    }
    kt_restore_isa();
}

static void empty_products(void **state)
{
    (void)state;
    float bias[3] = {1.0f, 2.0f, 3.0f};
    float out[6] = {9, 9, 9, 9, 9, 9};
    float dummy[1] = {0};
    uint16_t dummy16[1] = {0};

    /* K = 0: the product is empty, so out = bias. */
    maas_linear_f32(out, dummy, dummy, bias, 2, 0, 3, 2);
    for (int i = 0; i < 6; i++)
        assert_true(out[i] == bias[i % 3]);
    maas_linear_f16(out, dummy, dummy16, NULL, 2, 0, 3, 2);
    for (int i = 0; i < 6; i++)
        assert_true(out[i] == 0.0f);

    /* M = 0 or N = 0: nothing is written. */
    out[0] = 9;
    maas_linear_f32(out, dummy, dummy, bias, 0, 4, 3, 2);
    maas_linear_f32(out, dummy, dummy, bias, 2, 4, 0, 2);
    maas_matmul_f32(out, 3, dummy, 4, dummy, 3, false, 0, 4, 3, 1.0f, 0.0f, 2);
    assert_true(out[0] == 9.0f);

    /* Zero rows in the row-wise kernels. */
    maas_layernorm_f32(out, out, bias, bias, 0, 3, 1e-5f, 2);
    maas_softmax_f32(out, 0, 3, 2);
    maas_attention_f32(out, 3, dummy, 3, dummy, 3, dummy, 3, 0, 1, 1, 3, -1,
                       NULL, dummy, 2);
    assert_true(out[0] == 9.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linear_f32_matches_reference),
        cmocka_unit_test(linear_f16_matches_reference),
        cmocka_unit_test(linear_tensor_dtypes),
        cmocka_unit_test(matmul_strides_and_transpose),
        cmocka_unit_test(linear_threads_identical),
        cmocka_unit_test(empty_products),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
