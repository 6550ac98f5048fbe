/* Normalisation, softmax, activations and small helpers against the
 * reference loops and analytic values, on every tier this CPU supports. */
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

/* Awkward lengths: 1, 3, 17, 1023, 3072 (GPT-2's MLP width) and one that
 * is long enough to be split over two threads. */
static const size_t LENGTHS[] = {1, 3, 17, 1023, 3072, 70001};
#define N_LENGTHS (sizeof LENGTHS / sizeof LENGTHS[0])

static void gelu_analytic_values(void **state)
{
    (void)state;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        float x[3] = {1.0f, 0.0f, -1.0f}, y[3];
        /* 0.5 * (1 + erf(1/sqrt 2)) = Phi(1) = 0.8413447460... */
        maas_gelu_erf_f32(y, x, 3, 1);
        assert_float_equal(y[0], 0.8413447f, 2e-7);
        assert_float_equal(y[1], 0.0f, 0.0);
        assert_float_equal(y[2], -0.1586553f, 2e-7);
        /* 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715)) = 0.8411919906... */
        maas_gelu_tanh_f32(y, x, 3, 1);
        assert_float_equal(y[0], 0.8411920f, 2e-7);
        assert_float_equal(y[1], 0.0f, 0.0);
        assert_float_equal(y[2], -0.1588080f, 2e-7);
    }
    kt_restore_isa();
}

/* Compares an element-wise kernel with double-precision maths on inputs
 * covering [-12, 12] and the tails.  Tolerance: 2e-6 relative plus 1e-7
 * absolute (the absolute part covers GELU near its zeros). */
static double gelu_erf_double(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_tanh_double(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

static void activations_extreme_and_nan(void **state)
{
    (void)state;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        /* Far tails: GELU is x above and 0 below, tanh is +-1. */
        float x[4] = {-1e30f, -100.0f, 100.0f, 1e30f}, y[4];
        maas_gelu_erf_f32(y, x, 4, 1);
        assert_true(y[0] == 0.0f && y[1] == 0.0f);
        assert_true(y[2] == 100.0f && y[3] == 1e30f);
        maas_gelu_tanh_f32(y, x, 4, 1);
        assert_true(y[0] == 0.0f && y[1] == 0.0f);
        assert_true(y[2] == 100.0f && y[3] == 1e30f);
        maas_tanh_f32(y, x, 4, 1);
        assert_true(y[0] == -1.0f && y[1] == -1.0f);
        assert_true(y[2] == 1.0f && y[3] == 1.0f);

        /* NaN stays NaN, so maas_all_finite_f32 can catch it downstream. */
        float nan_in[3] = {NAN, 0.5f, NAN}, nan_out[3];
        maas_tanh_f32(nan_out, nan_in, 3, 1);
        assert_true(isnan(nan_out[0]) && isnan(nan_out[2]));
        maas_gelu_erf_f32(nan_out, nan_in, 3, 1);
        assert_true(isnan(nan_out[0]) && isnan(nan_out[2]));
        maas_gelu_tanh_f32(nan_out, nan_in, 3, 1);
        assert_true(isnan(nan_out[0]) && isnan(nan_out[2]));
        float row[9] = {1, 2, 3, 4, NAN, 6, 7, 8, 9};
        maas_softmax_f32(row, 1, 9, 1);
        assert_false(maas_all_finite_f32(row, 9));
    }
    kt_restore_isa();
}

static void activations_match_double(void **state)
{
    (void)state;
    size_t n = 20001;
    float *x = kt_zeros(n), *got = kt_zeros(n), *want = kt_zeros(n);
    for (size_t i = 0; i < n; i++)
        x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);

    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t i = 0; i < n; i++)
            want[i] = (float)gelu_erf_double(x[i]);
        maas_gelu_erf_f32(got, x, n, 2);
        test_assert_close("gelu_erf", got, want, n, 1e-7, 2e-6);

        for (size_t i = 0; i < n; i++)
            want[i] = (float)gelu_tanh_double(x[i]);
        maas_gelu_tanh_f32(got, x, n, 2);
        test_assert_close("gelu_tanh", got, want, n, 1e-7, 2e-6);

        for (size_t i = 0; i < n; i++)
            want[i] = (float)tanh(x[i]);
        maas_tanh_f32(got, x, n, 2);
        test_assert_close("tanh", got, want, n, 1e-7, 2e-6);
    }
    kt_restore_isa();
    free(x), free(got), free(want);
}

static void elementwise_match_reference(void **state)
{
    (void)state;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t l = 0; l < N_LENGTHS; l++) {
            size_t n = LENGTHS[l];
            float *a = kt_random(n, 3 + l, -4, 4);
            float *b = kt_random(n, 5 + l, -4, 4);
            float *want = kt_zeros(n), *got = kt_zeros(n);

            /* Exact operations: results must be identical. */
            maas_ref_relu(want, a, n);
            maas_relu_f32(got, a, n, 2);
            assert_memory_equal(got, want, n * sizeof *got);

            maas_ref_add(want, a, b, n);
            maas_add_f32(got, a, b, n, 2);
            assert_memory_equal(got, want, n * sizeof *got);

            memcpy(got, a, n * sizeof *got);
            memcpy(want, a, n * sizeof *got);
            maas_ref_scale(want, 0.125f, n);
            maas_scale_f32(got, 0.125f, n);
            assert_memory_equal(got, want, n * sizeof *got);

            /* In place (out == x) must work. */
            memcpy(got, a, n * sizeof *got);
            maas_ref_gelu_erf(want, a, n);
            maas_gelu_erf_f32(got, got, n, 2);
            test_assert_close("gelu_erf in place", got, want, n, 1e-7, 2e-6);

            free(a), free(b), free(want), free(got);
        }
    }
    kt_restore_isa();
}

static void add_bias_rows(void **state)
{
    (void)state;
    int rows = 33, cols = 1023;
    float *x = kt_random((size_t)rows * cols, 9, -1, 1);
    float *bias = kt_random((size_t)cols, 10, -1, 1);
    float *want = kt_zeros((size_t)rows * cols);
    memcpy(want, x, (size_t)rows * cols * sizeof *x);
    for (int r = 0; r < rows; r++)
        maas_ref_add_bias_row(want + (size_t)r * cols, bias, cols);
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        float *got = kt_zeros((size_t)rows * cols);
        memcpy(got, x, (size_t)rows * cols * sizeof *x);
        maas_add_bias_f32(got, bias, rows, cols, 2);
        assert_memory_equal(got, want, (size_t)rows * cols * sizeof *got);
        free(got);
    }
    kt_restore_isa();
    free(x), free(bias), free(want);
}

static void layernorm_matches_reference(void **state)
{
    (void)state;
    static const int shapes[][2] = {{1, 1}, {3, 3}, {5, 17}, {4, 768}, {9, 1023}};
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t s = 0; s < 5; s++) {
            int rows = shapes[s][0], cols = shapes[s][1];
            size_t n = (size_t)rows * cols;
            /* An offset mean of 3 tests the variance's cancellation. */
            float *x = kt_random(n, 21 + s, 2, 4);
            float *gamma = kt_random((size_t)cols, 22 + s, 0.5f, 1.5f);
            float *beta = kt_random((size_t)cols, 23 + s, -1, 1);
            float *want = kt_zeros(n), *got = kt_zeros(n);
            for (int e = 0; e < 2; e++) {
                float eps = e ? 1e-12f : 1e-5f;
                maas_ref_layernorm_f32(want, x, gamma, beta, rows, cols, eps);
                maas_layernorm_f32(got, x, gamma, beta, rows, cols, eps, 2);
                /* Normalised values are O(1): 2e-5 absolute. */
                test_assert_close("layernorm", got, want, n, 2e-5, 0);
                /* In place. */
                memcpy(got, x, n * sizeof *x);
                maas_layernorm_f32(got, got, gamma, beta, rows, cols, eps, 1);
                test_assert_close("layernorm in place", got, want, n, 2e-5, 0);
            }
            free(x), free(gamma), free(beta), free(want), free(got);
        }
    }
    kt_restore_isa();
}

static void layernorm_constant_row(void **state)
{
    (void)state;
    /* A constant row has variance 0: the output is beta, with eps keeping
     * the division finite. */
    float x[8], out[8], gamma[8], beta[8];
    for (int i = 0; i < 8; i++)
        x[i] = 5.0f, gamma[i] = 2.0f, beta[i] = (float)i;
    maas_layernorm_f32(out, x, gamma, beta, 1, 8, 1e-12f, 1);
    for (int i = 0; i < 8; i++)
        assert_float_equal(out[i], (float)i, 1e-6);
}

static void softmax_matches_reference(void **state)
{
    (void)state;
    static const int shapes[][2] = {{1, 1}, {2, 3}, {5, 17}, {3, 1023}, {12, 1024}};
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t s = 0; s < 5; s++) {
            int rows = shapes[s][0], cols = shapes[s][1];
            size_t n = (size_t)rows * cols;
            float *want = kt_random(n, 31 + s, -30, 30);
            /* Mask every third entry. */
            for (size_t i = 0; i < n; i += 3)
                want[i] = -INFINITY;
            float *got = kt_zeros(n);
            memcpy(got, want, n * sizeof *got);
            maas_ref_softmax_f32(want, rows, cols);
            maas_softmax_f32(got, rows, cols, 2);
            /* Probabilities in [0, 1]: 1e-6 absolute, 1e-5 relative. */
            test_assert_close("softmax", got, want, n, 1e-6, 1e-5);
            free(want), free(got);
        }
    }
    kt_restore_isa();
}

static void softmax_masked_rows(void **state)
{
    (void)state;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        /* Row 0 fully masked gives zeros; row 1 keeps only entry 2. */
        float x[2][19];
        for (int c = 0; c < 19; c++)
            x[0][c] = x[1][c] = -INFINITY;
        x[1][2] = 7.0f;
        maas_softmax_f32(&x[0][0], 2, 19, 1);
        for (int c = 0; c < 19; c++) {
            assert_true(x[0][c] == 0.0f);
            assert_true(x[1][c] == (c == 2 ? 1.0f : 0.0f));
        }
        /* Large equal logits: uniform, no overflow. */
        float y[4] = {1e30f, 1e30f, 1e30f, 1e30f};
        maas_softmax_f32(y, 1, 4, 1);
        for (int c = 0; c < 4; c++)
            assert_float_equal(y[c], 0.25f, 1e-7);
    }
    kt_restore_isa();
}

static void rows_threads_identical(void **state)
{
    (void)state;
    /* Large enough that two threads really split the work. */
    int rows = 129, cols = 768;
    size_t n = (size_t)rows * cols;
    float *x = kt_random(n, 61, -4, 4);
    float *gamma = kt_random((size_t)cols, 62, 0.5f, 1.5f);
    float *beta = kt_random((size_t)cols, 63, -1, 1);
    float *one = kt_zeros(n), *two = kt_zeros(n);
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        maas_layernorm_f32(one, x, gamma, beta, rows, cols, 1e-5f, 1);
        maas_layernorm_f32(two, x, gamma, beta, rows, cols, 1e-5f, 2);
        assert_memory_equal(one, two, n * sizeof *one);

        memcpy(one, x, n * sizeof *x);
        memcpy(two, x, n * sizeof *x);
        maas_softmax_f32(one, rows, cols, 1);
        maas_softmax_f32(two, rows, cols, 2);
        assert_memory_equal(one, two, n * sizeof *one);

        maas_gelu_erf_f32(one, x, n, 1);
        maas_gelu_erf_f32(two, x, n, 2);
        assert_memory_equal(one, two, n * sizeof *one);

        maas_gelu_tanh_f32(one, x, n, 1);
        maas_gelu_tanh_f32(two, x, n, 2);
        assert_memory_equal(one, two, n * sizeof *one);
    }
    kt_restore_isa();
    free(x), free(gamma), free(beta), free(one), free(two);
}

static void reductions(void **state)
{
    (void)state;
    float x[5] = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
    assert_int_equal(maas_argmax_f32(x, 5), 1);
    assert_int_equal(maas_argmax_f32(x, 1), 0);
    assert_true(maas_all_finite_f32(x, 5));
    x[4] = NAN;
    assert_false(maas_all_finite_f32(x, 5));
    x[4] = -INFINITY;
    assert_false(maas_all_finite_f32(x, 5));
    assert_true(maas_all_finite_f32(x, 4));
}

static void embedding_lookup(void **state)
{
    (void)state;
    int V = 7, C = 19;
    float *table32 = kt_random((size_t)V * C, 77, -1, 1);
    uint16_t *table16 = malloc((size_t)V * C * sizeof *table16);
    assert_non_null(table16);
    for (int i = 0; i < V * C; i++)
        table16[i] = maas_f32_to_f16(table32[i]);

    int32_t ids[4] = {6, 0, 3, 6};
    float out[4 * 19];
    int64_t shape[2] = {V, C};
    maas_tensor t;

    assert_int_equal(maas_tensor_init(&t, MAAS_DTYPE_F32, 2, shape, table32), MAAS_OK);
    assert_int_equal(maas_embedding(out, &t, ids, 4), MAAS_OK);
    for (int i = 0; i < 4; i++)
        assert_memory_equal(out + i * C, table32 + ids[i] * C, C * sizeof(float));

    assert_int_equal(maas_tensor_init(&t, MAAS_DTYPE_F16, 2, shape, table16), MAAS_OK);
    assert_int_equal(maas_embedding(out, &t, ids, 4), MAAS_OK);
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < C; c++)
            assert_true(out[i * C + c] == maas_f16_to_f32(table16[ids[i] * C + c]));

    /* An id outside the vocabulary is rejected and named. */
    ids[2] = 7;
    assert_int_equal(maas_embedding(out, &t, ids, 4), MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "7"));
    ids[2] = -1;
    assert_int_equal(maas_embedding(out, &t, ids, 4), MAAS_ERR_INVALID_ARGUMENT);

    free(table32), free(table16);
}

static void isa_selection(void **state)
{
    (void)state;
    assert_int_equal(maas_kernels_set_isa(MAAS_ISA_SCALAR), MAAS_OK);
    assert_int_equal(maas_kernels_isa(), MAAS_ISA_SCALAR);
    assert_string_equal(maas_isa_name(MAAS_ISA_SCALAR), "scalar");
    assert_string_equal(maas_isa_name(MAAS_ISA_AVX2), "avx2");
    assert_int_equal(maas_kernels_set_isa((maas_isa)99), MAAS_ERR_INVALID_ARGUMENT);
    kt_restore_isa();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gelu_analytic_values),
        cmocka_unit_test(activations_extreme_and_nan),
        cmocka_unit_test(activations_match_double),
        cmocka_unit_test(elementwise_match_reference),
        cmocka_unit_test(add_bias_rows),
        cmocka_unit_test(layernorm_matches_reference),
        cmocka_unit_test(layernorm_constant_row),
        cmocka_unit_test(softmax_matches_reference),
        cmocka_unit_test(softmax_masked_rows),
        cmocka_unit_test(rows_threads_identical),
        cmocka_unit_test(reductions),
        cmocka_unit_test(embedding_lookup),
        cmocka_unit_test(isa_selection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
