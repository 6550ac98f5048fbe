/* Attention against the one-query-at-a-time reference: padding mask,
 * causal mask with a KV cache offset, decode and prefill block sizes, and
 * fully masked queries. */
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

typedef struct attn_case {
    int Tq, Tk, H, D, q_pos0;
    bool pad_mask;
} attn_case;

/* Tq of 1 and 3 take the dot-product path, 70 and 130 cross the 64-row
 * blocks of the sgemm path; D of 17 is not a multiple of the SIMD width. */
static const attn_case CASES[] = {
    {1, 1, 1, 1, 0, false},     {1, 17, 2, 64, 16, false},
    {3, 40, 3, 17, 37, true},   {70, 70, 2, 64, -1, true},
    {70, 70, 2, 64, 0, false},  {5, 133, 12, 64, 128, false},
    {130, 130, 1, 32, 0, true}, {33, 45, 4, 8, -1, false},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

static void run_case(const attn_case *c, int n_threads, float *got,
                     float *want, uint32_t seed)
{
    int C = c->H * c->D;
    /* Interleaved rows, as a fused QKV projection stores them: stride 3C. */
    int stride = 3 * C;
    size_t rows = (size_t)(c->Tq > c->Tk ? c->Tq : c->Tk);
    float *qkv = kt_random(rows * stride, seed, -1, 1);
    const float *q = qkv, *k = qkv + C, *v = qkv + 2 * C;
    uint8_t *mask = NULL;
    if (c->pad_mask) {
        mask = malloc((size_t)c->Tk);
        assert_non_null(mask);
        for (int j = 0; j < c->Tk; j++)
            mask[j] = (j % 5) != 3;
    }

    float *scratch = kt_zeros(maas_attention_scratch_floats(c->Tq, c->Tk, c->H,
                                                            n_threads));
    float *ref_scratch = kt_zeros((size_t)c->Tk);
    maas_ref_attention_f32(want, C, q, stride, k, stride, v, stride, c->Tq,
                           c->Tk, c->H, c->D, c->q_pos0, mask, ref_scratch);
    maas_attention_f32(got, C, q, stride, k, stride, v, stride, c->Tq, c->Tk,
                       c->H, c->D, c->q_pos0, mask, scratch, n_threads);
    free(qkv), free(mask), free(scratch), free(ref_scratch);
}

static void attention_matches_reference(void **state)
{
    (void)state;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t i = 0; i < N_CASES; i++) {
            const attn_case *c = &CASES[i];
            size_t n = (size_t)c->Tq * c->H * c->D;
            float *got = kt_zeros(n), *want = kt_zeros(n);
            for (int nt = 1; nt <= 2; nt++) {
                run_case(c, nt, got, want, 100 + (uint32_t)i);
                /* Outputs are convex combinations of values in [-1, 1]:
                 * 1e-5 absolute covers reordered sums over D and Tk. */
                test_assert_close("attention", got, want, n, 1e-5, 0);
            }
            free(got), free(want);
        }
    }
    kt_restore_isa();
}

static void attention_threads_identical(void **state)
{
    (void)state;
    attn_case c = {70, 70, 3, 64, 0, true};
    size_t n = (size_t)c.Tq * c.H * c.D;
    float *one = kt_zeros(n), *two = kt_zeros(n), *want = kt_zeros(n);
    run_case(&c, 1, one, want, 5);
    run_case(&c, 2, two, want, 5);
    assert_memory_equal(one, two, n * sizeof *one);
    free(one), free(two), free(want);
}

static void attention_all_keys_masked(void **state)
{
    (void)state;
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        /* Tq 1 (dot path) and 8 (sgemm path), every key hidden: zeros. */
        for (int Tq = 1; Tq <= 8; Tq += 7) {
            int Tk = 9, H = 2, D = 16, C = H * D;
            float *q = kt_random((size_t)Tq * C, 1, -1, 1);
            float *kv = kt_random((size_t)Tk * C, 2, -1, 1);
            uint8_t mask[9] = {0};
            float *out = kt_random((size_t)Tq * C, 3, -1, 1);
            float *scratch = kt_zeros(maas_attention_scratch_floats(Tq, Tk, H, 2));
            maas_attention_f32(out, C, q, C, kv, C, kv, C, Tq, Tk, H, D, -1,
                               mask, scratch, 2);
            for (int i = 0; i < Tq * C; i++)
                assert_true(out[i] == 0.0f);
            free(q), free(kv), free(out), free(scratch);
        }
    }
    kt_restore_isa();
}

static void attention_single_key_copies_value(void **state)
{
    (void)state;
    /* With one visible key the softmax weight is exactly 1: out = v. */
    int Tk = 4, H = 2, D = 5, C = H * D;
    float *q = kt_random((size_t)C, 8, -1, 1);
    float *k = kt_random((size_t)Tk * C, 9, -1, 1);
    float *v = kt_random((size_t)Tk * C, 10, -1, 1);
    uint8_t mask[4] = {0, 0, 1, 0};
    float out[10];
    float *scratch = kt_zeros(maas_attention_scratch_floats(1, Tk, H, 1));
    maas_attention_f32(out, C, q, C, k, C, v, C, 1, Tk, H, D, 3, mask, scratch, 1);
    for (int i = 0; i < C; i++)
        assert_float_equal(out[i], v[2 * C + i], 1e-7);
    free(q), free(k), free(v), free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attention_matches_reference),
        cmocka_unit_test(attention_threads_identical),
        cmocka_unit_test(attention_all_keys_masked),
        cmocka_unit_test(attention_single_key_copies_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
