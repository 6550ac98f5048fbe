/* tanh RNN against the step-by-step reference. */
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

static void rnn_matches_step_reference(void **state)
{
    (void)state;
    static const int cases[][3] = {
        /* T, input_size, hidden_size */
        {1, 1, 1}, {3, 17, 5}, {20, 8, 64}, {7, 300, 129},
    };
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t i = 0; i < 4; i++) {
            int T = cases[i][0], I = cases[i][1], Hd = cases[i][2];
            /* Weights scaled by 1/sqrt(fan-in) keep the state away from
             * tanh's flat tails, where errors would hide. */
            float wi = 1.0f / sqrtf((float)I), wh = 1.0f / sqrtf((float)Hd);
            float *x = kt_random((size_t)T * I, 1 + i, -1, 1);
            float *w_ih = kt_random((size_t)Hd * I, 2 + i, -wi, wi);
            float *w_hh = kt_random((size_t)Hd * Hd, 3 + i, -wh, wh);
            float *b_ih = kt_random((size_t)Hd, 4 + i, -0.1f, 0.1f);
            float *b_hh = kt_random((size_t)Hd, 5 + i, -0.1f, 0.1f);
            float *h0 = kt_random((size_t)Hd, 6 + i, -0.5f, 0.5f);
            float *want = kt_zeros((size_t)T * Hd), *got = kt_zeros((size_t)T * Hd);

            for (int variant = 0; variant < 2; variant++) {
                /* Variant 1: no biases and h0 = zeros (NULL). */
                const float *bi = variant ? NULL : b_ih, *bh = variant ? NULL : b_hh;
                const float *h = variant ? NULL : h0;
                maas_ref_rnn_tanh_f32(want, x, h, w_ih, w_hh, bi, bh, T, I, Hd);
                assert_int_equal(maas_rnn_tanh_f32(got, x, h, w_ih, w_hh, bi, bh,
                                                   T, I, Hd, 2), MAAS_OK);
                /* tanh outputs in [-1, 1]; error compounds mildly over T
                 * steps: 1e-5 absolute. */
                test_assert_close("rnn", got, want, (size_t)T * Hd, 1e-5, 0);
            }
            free(x), free(w_ih), free(w_hh), free(b_ih), free(b_hh), free(h0);
            free(want), free(got);
        }
    }
    kt_restore_isa();
}

static void rnn_threads_identical(void **state)
{
    (void)state;
    int T = 33, I = 200, Hd = 300;
    float *x = kt_random((size_t)T * I, 1, -1, 1);
    float *w_ih = kt_random((size_t)Hd * I, 2, -0.07f, 0.07f);
    float *w_hh = kt_random((size_t)Hd * Hd, 3, -0.05f, 0.05f);
    float *one = kt_zeros((size_t)T * Hd), *two = kt_zeros((size_t)T * Hd);
    assert_int_equal(maas_rnn_tanh_f32(one, x, NULL, w_ih, w_hh, NULL, NULL, T, I, Hd, 1), MAAS_OK);
    assert_int_equal(maas_rnn_tanh_f32(two, x, NULL, w_ih, w_hh, NULL, NULL, T, I, Hd, 2), MAAS_OK);
    assert_memory_equal(one, two, (size_t)T * Hd * sizeof *one);
    free(x), free(w_ih), free(w_hh), free(one), free(two);
}

static void rnn_rejects_bad_sizes(void **state)
{
    (void)state;
    float buf[4] = {0};
    assert_int_equal(maas_rnn_tanh_f32(buf, buf, NULL, buf, buf, NULL, NULL, 0,
                                       1, 1, 1), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_rnn_tanh_f32(NULL, buf, NULL, buf, buf, NULL, NULL, 1,
                                       1, 1, 1), MAAS_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rnn_matches_step_reference),
        cmocka_unit_test(rnn_threads_identical),
        cmocka_unit_test(rnn_rejects_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
