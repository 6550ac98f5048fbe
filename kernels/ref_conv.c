/* Reference convolution and pooling: direct loops. */
#include <math.h>

#include "conv_geometry.h"
#include "ref.h"

void maas_ref_conv2d_planes(float *out, const float *in, const float *weight,
                            const float *bias, const maas_conv2d_params *p,
                            int b, int co0, int co1)
{
    /* out[B, Cout, Ho, Wo], in[B, Cin, H, W],
     * weight[Cout, Cin/groups, kh, kw], bias[Cout] */
    maas_conv_geometry geometry = maas_conv_geometry_of(p);
    int out_h = geometry.out_h, out_w = geometry.out_w;
    int cin_g = geometry.cin_g, cout_g = geometry.cout_g;

    for (int co = co0; co < co1; co++) {
        int g = co / cout_g;
        float *out_plane = out + ((size_t)b * p->out_channels + co) *
                                     out_h * out_w;
        for (int oy = 0; oy < out_h; oy++) {
            for (int ox = 0; ox < out_w; ox++) {
                float acc = bias ? bias[co] : 0.0f;
                for (int ci = 0; ci < cin_g; ci++) {
                    const float *in_plane =
                        in + ((size_t)b * p->in_channels + g * cin_g + ci) *
                                 p->in_h * p->in_w;
                    const float *w = weight + ((size_t)co * cin_g + ci) *
                                                  p->kernel_h * p->kernel_w;
                    for (int ky = 0; ky < p->kernel_h; ky++) {
                        int iy = oy * p->stride_h - p->pad_h +
                                 ky * p->dilation_h;
                        if (iy < 0 || iy >= p->in_h)
                            continue;
                        for (int kx = 0; kx < p->kernel_w; kx++) {
                            int ix = ox * p->stride_w - p->pad_w +
                                     kx * p->dilation_w;
                            if (ix < 0 || ix >= p->in_w)
                                continue;
                            acc += w[ky * p->kernel_w + kx] *
                                   in_plane[(size_t)iy * p->in_w + ix];
                        }
                    }
                }
                out_plane[(size_t)oy * out_w + ox] = acc;
            }
        }
    }
}

void maas_ref_conv2d_f32(float *out, const float *in, const float *weight,
                         const float *bias, const maas_conv2d_params *p)
{
    for (int b = 0; b < p->batch; b++)
        maas_ref_conv2d_planes(out, in, weight, bias, p, b, 0,
                               p->out_channels);
}

void maas_ref_maxpool2d_plane(float *out, const float *in, int in_h, int in_w,
                              int out_h, int out_w, int kernel, int stride,
                              int pad)
{
    /* out[Ho, Wo], in[H, W]; padding counts as -infinity. */
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            float best = -INFINITY;
            for (int ky = 0; ky < kernel; ky++) {
                int iy = oy * stride - pad + ky;
                if (iy < 0 || iy >= in_h)
                    continue;
                for (int kx = 0; kx < kernel; kx++) {
                    int ix = ox * stride - pad + kx;
                    if (ix < 0 || ix >= in_w)
                        continue;
                    float v = in[(size_t)iy * in_w + ix];
                    /* NaN propagates, as in PyTorch. */
                    if (v > best || isnan(v))
                        best = v;
                }
            }
            out[(size_t)oy * out_w + ox] = best;
        }
    }
}
