/* conv2d and max-pooling against naive loops written here, a hand-computed
 * case, and the rejected configurations. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "maas.h"
#include "conv.h"
#include "kerneltest.h"
#include "ref.h"
#include "testutil.h"

/* The seven loops of the definition, accumulated in double. */
static void naive_conv2d(float *out, const float *in, const float *w,
                         const float *bias, const maas_conv2d_params *p,
                         int out_h, int out_w)
{
    int cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    for (int b = 0; b < p->batch; b++)
        for (int co = 0; co < p->out_channels; co++)
            for (int oy = 0; oy < out_h; oy++)
                for (int ox = 0; ox < out_w; ox++) {
                    double acc = bias ? bias[co] : 0.0;
                    int g = co / cout_g;
                    for (int ci = 0; ci < cin_g; ci++)
                        for (int ky = 0; ky < p->kernel_h; ky++)
                            for (int kx = 0; kx < p->kernel_w; kx++) {
                                int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                                int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                                if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
                                    continue;
                                size_t in_i = (((size_t)b * p->in_channels + g * cin_g + ci) *
                                               p->in_h + iy) * p->in_w + ix;
                                size_t w_i = (((size_t)co * cin_g + ci) * p->kernel_h + ky) *
                                             p->kernel_w + kx;
                                acc += (double)w[w_i] * in[in_i];
                            }
                    out[(((size_t)b * p->out_channels + co) * out_h + oy) * out_w + ox] =
                        (float)acc;
                }
}

static maas_conv2d_params conv(int B, int Cin, int H, int W, int Cout, int kh,
                               int kw, int s, int pad, int d, int groups)
{
    maas_conv2d_params p = {B, Cin, H, W, Cout, kh, kw, s, s, pad, pad, d, d, groups};
    return p;
}

static void conv2d_matches_naive(void **state)
{
    (void)state;
    const maas_conv2d_params cases[] = {
        conv(1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1),     /* smallest */
        conv(2, 3, 17, 19, 8, 3, 3, 1, 1, 1, 1),   /* RGB stem, batch 2 */
        conv(1, 16, 9, 9, 32, 3, 3, 2, 1, 1, 1),   /* stride 2 */
        conv(1, 8, 12, 11, 6, 3, 3, 1, 2, 2, 1),   /* dilation 2 */
        conv(1, 8, 10, 10, 8, 3, 3, 1, 1, 1, 8),   /* depthwise */
        conv(1, 12, 7, 7, 18, 3, 3, 1, 1, 1, 3),   /* grouped */
        conv(2, 64, 8, 8, 70, 1, 1, 1, 0, 1, 1),   /* pointwise */
        conv(1, 64, 17, 17, 65, 3, 3, 1, 1, 1, 1), /* 64+ channels, odd size */
        conv(1, 4, 9, 14, 5, 2, 5, 3, 0, 1, 1),    /* rectangular kernel */
    };
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const maas_conv2d_params *p = &cases[i];
            int oh = maas_conv2d_out_size(p->in_h, p->kernel_h, p->stride_h, p->pad_h, p->dilation_h);
            int ow = maas_conv2d_out_size(p->in_w, p->kernel_w, p->stride_w, p->pad_w, p->dilation_w);
            assert_true(oh > 0 && ow > 0);
            size_t n_in = (size_t)p->batch * p->in_channels * p->in_h * p->in_w;
            size_t patch = (size_t)(p->in_channels / p->groups) * p->kernel_h * p->kernel_w;
            size_t n_out = (size_t)p->batch * p->out_channels * oh * ow;
            float *in = kt_random(n_in, 3 + i, -1, 1);
            float *w = kt_random(patch * p->out_channels, 4 + i, -1, 1);
            float *bias = kt_random((size_t)p->out_channels, 5 + i, -1, 1);
            float *want = kt_zeros(n_out);
            float *one = kt_zeros(n_out), *two = kt_zeros(n_out);
            float *scratch = kt_zeros(maas_conv2d_scratch_floats(p, 2));

            naive_conv2d(want, in, w, bias, p, oh, ow);
            /* The plain-C reference of the library agrees with the naive loops. */
            maas_ref_conv2d_f32(one, in, w, bias, p);
            test_assert_close("reference conv2d", one, want, n_out, 1e-4, 0);
            /* Both algorithms, whichever the automatic choice is. */
            for (int path = MAAS_CONV_AUTO; path <= MAAS_CONV_IM2COL; path++) {
                assert_int_equal(maas_conv2d_f32_path(one, in, w, bias, p, scratch, 1,
                                                      (maas_conv_path)path), MAAS_OK);
                assert_int_equal(maas_conv2d_f32_path(two, in, w, bias, p, scratch, 2,
                                                      (maas_conv_path)path), MAAS_OK);
                /* Sums of up to 576 products of values in [-1, 1]: 1e-4
                 * absolute. */
                test_assert_close("conv2d", one, want, n_out, 1e-4, 0);
                assert_memory_equal(one, two, n_out * sizeof *one);
            }
            free(in), free(w), free(bias), free(want), free(one), free(two), free(scratch);
        }
    }
    kt_restore_isa();
}

static void conv2d_hand_computed(void **state)
{
    (void)state;
    /* x[iy][ix] = 5 iy + ix + 1 on a 5x5 plane; weight[ky][kx] = 3 ky + kx + 1
     * times (co + 1); padding 1, stride 2, dilation 2 gives a 2x2 output:
     * floor((5 + 2 - 2*2 - 1) / 2) + 1 = 2.  Taps, channel 0:
     *   (0,0): 5*7 + 6*9 + 8*17 + 9*19 = 396
     *   (0,1): 4*7 + 5*9 + 7*17 + 8*19 = 344
     *   (1,0): 2*7 + 3*9 + 5*17 + 6*19 = 240
     *   (1,1): 1*7 + 2*9 + 4*17 + 5*19 = 188
     * Both algorithms are forced in turn. */
    float in[25], w[4 * 9], bias[4] = {0.5f, 0.5f, 0.5f, 0.5f}, out[16];
    for (int i = 0; i < 25; i++)
        in[i] = (float)(i + 1);
    for (int co = 0; co < 4; co++)
        for (int i = 0; i < 9; i++)
            w[co * 9 + i] = (float)((i + 1) * (co + 1));
    const float base[4] = {396, 344, 240, 188};

    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (int path = MAAS_CONV_DIRECT; path <= MAAS_CONV_IM2COL; path++) {
            maas_conv2d_params p = conv(1, 1, 5, 5, 4, 3, 3, 2, 1, 2, 1);
            float scratch[9 * 4];
            assert_true(maas_conv2d_scratch_floats(&p, 1) <= 9 * 4);
            assert_int_equal(maas_conv2d_f32_path(out, in, w, bias, &p, scratch, 1,
                                                  (maas_conv_path)path), MAAS_OK);
            /* Small integers: every path is exact. */
            for (int co = 0; co < 4; co++)
                for (int i = 0; i < 4; i++)
                    assert_float_equal(out[co * 4 + i], base[i] * (co + 1) + 0.5f, 0.0);
        }
    }
    kt_restore_isa();
}

static void conv2d_rejects_bad_params(void **state)
{
    (void)state;
    float buf[64] = {0};
    /* Kernel 5 on a 3x3 input without padding: empty output. */
    maas_conv2d_params p = conv(1, 1, 3, 3, 1, 5, 5, 1, 0, 1, 1);
    assert_int_equal(maas_conv2d_out_size(3, 5, 1, 0, 1), 0);
    assert_int_equal(maas_conv2d_f32(buf, buf, buf, NULL, &p, buf, 1),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "empty"));
    assert_int_equal(maas_conv2d_scratch_floats(&p, 1), 0);

    /* Dilation makes a 3x3 kernel span 7: empty on 5x5 with no padding. */
    p = conv(1, 1, 5, 5, 1, 3, 3, 1, 0, 3, 1);
    assert_int_equal(maas_conv2d_f32(buf, buf, buf, NULL, &p, buf, 1),
                     MAAS_ERR_INVALID_ARGUMENT);

    /* groups must divide both channel counts. */
    p = conv(1, 4, 3, 3, 6, 1, 1, 1, 0, 1, 4);
    assert_int_equal(maas_conv2d_f32(buf, buf, buf, NULL, &p, buf, 1),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "groups"));

    /* Zero stride. */
    p = conv(1, 1, 3, 3, 1, 1, 1, 0, 0, 1, 1);
    assert_int_equal(maas_conv2d_f32(buf, buf, buf, NULL, &p, buf, 1),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "stride_h"));
}

static void maxpool_matches_naive(void **state)
{
    (void)state;
    static const int cases[][5] = {
        /* H, W, kernel, stride, pad */
        {8, 8, 2, 2, 0}, {7, 9, 3, 2, 1}, {1, 1, 1, 1, 0}, {17, 17, 3, 1, 1},
    };
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        for (size_t i = 0; i < 4; i++) {
            int H = cases[i][0], W = cases[i][1], k = cases[i][2], s = cases[i][3],
                pad = cases[i][4], B = 2, C = 3;
            int oh = maas_conv2d_out_size(H, k, s, pad, 1);
            int ow = maas_conv2d_out_size(W, k, s, pad, 1);
            float *in = kt_random((size_t)B * C * H * W, 7 + i, -1, 1);
            float *out = kt_zeros((size_t)B * C * oh * ow);
            assert_int_equal(maas_maxpool2d_f32(out, in, B, C, H, W, k, s, pad, 2), MAAS_OK);
            for (int pl = 0; pl < B * C; pl++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++) {
                        float best = -INFINITY;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                                if (iy >= 0 && iy < H && ix >= 0 && ix < W &&
                                    in[((size_t)pl * H + iy) * W + ix] > best)
                                    best = in[((size_t)pl * H + iy) * W + ix];
                            }
                        assert_true(out[((size_t)pl * oh + oy) * ow + ox] == best);
                    }
            free(in), free(out);
        }
    }
    kt_restore_isa();

    /* NaN propagates through the window, as in PyTorch. */
    for (int isa = 0; isa < MAAS_ISA_COUNT; isa++) {
        if (!kt_use_isa((maas_isa)isa))
            continue;
        float *in = kt_random(2 * 20 * 20, 99, -1, 1), out[2 * 10 * 10];
        in[5 * 20 + 9] = NAN;
        assert_int_equal(maas_maxpool2d_f32(out, in, 1, 2, 20, 20, 2, 2, 0, 1), MAAS_OK);
        assert_true(isnan(out[2 * 10 + 4]));
        assert_false(isnan(out[2 * 10 + 5]));
        assert_false(isnan(out[100 + 2 * 10 + 4]));
        free(in);
    }
    kt_restore_isa();

    float buf[16] = {0};
    assert_int_equal(maas_maxpool2d_f32(buf, buf, 1, 1, 4, 4, 2, 2, 2, 1),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_maxpool2d_f32(buf, buf, 1, 1, 2, 2, 3, 1, 0, 1),
                     MAAS_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv2d_matches_naive),
        cmocka_unit_test(conv2d_hand_computed),
        cmocka_unit_test(conv2d_rejects_bad_params),
        cmocka_unit_test(maxpool_matches_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
