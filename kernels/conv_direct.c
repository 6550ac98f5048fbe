/* Portable direct convolution for the scalar tier: the row-sweep algorithm
 * of the AVX2 version in plain C.  Each output plane starts as the bias and
 * gets one sweep per tap (ci, ky, kx) over the output columns whose tap
 * lands inside the input.  The inner loop has no bounds test, so the
 * compiler may vectorise it for the baseline instruction set.  The
 * reference loops in ref_conv.c stay the oracle. */
#include "conv_geometry.h"
#include "dispatch.h"

void maas_portable_conv2d_planes(float *out, const float *in,
                                 const float *weight, const float *bias,
                                 const maas_conv2d_params *p, int b, int co0,
                                 int co1)
{
    /* out[B, Cout, Ho, Wo], in[B, Cin, H, W],
     * weight[Cout, Cin/groups, kh, kw], bias[Cout] or NULL */
    maas_conv_geometry geometry = maas_conv_geometry_of(p);
    int out_h = geometry.out_h, out_w = geometry.out_w;
    int cin_g = geometry.cin_g, cout_g = geometry.cout_g;
    size_t plane_out = geometry.plane_out, plane_in = geometry.plane_in;

    for (int co = co0; co < co1; co++) {
        int g = co / cout_g;
        float *o = out + ((size_t)b * p->out_channels + co) * plane_out;

        /* Step 1: the bias. */
        float b0 = bias ? bias[co] : 0.0f;
        for (size_t i = 0; i < plane_out; i++)
            o[i] = b0;

        /* Step 2: one sweep of the plane per tap. */
        for (int ci = 0; ci < cin_g; ci++) {
            const float *src = in + ((size_t)b * p->in_channels + g * cin_g + ci) *
                                        plane_in;
            const float *w = weight + ((size_t)co * cin_g + ci) * p->kernel_h *
                                          p->kernel_w;
            for (int ky = 0; ky < p->kernel_h; ky++) {
                for (int kx = 0; kx < p->kernel_w; kx++) {
                    float wv = w[ky * p->kernel_w + kx];
                    int off = kx * p->dilation_w - p->pad_w;
                    int lo, hi;
                    maas_conv_valid_columns(off, p->stride_w, p->in_w, out_w,
                                            &lo, &hi);
                    for (int oy = 0; oy < out_h && lo < hi; oy++) {
                        int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                        if (iy < 0 || iy >= p->in_h)
                            continue;
                        const float *restrict row = src + (size_t)iy * p->in_w + off;
                        float *restrict orow = o + (size_t)oy * out_w;
                        if (p->stride_w == 1)
                            for (int ox = lo; ox < hi; ox++)
                                orow[ox] += wv * row[ox];
                        else
                            for (int ox = lo; ox < hi; ox++)
                                orow[ox] += wv * row[(size_t)ox * p->stride_w];
                    }
                }
            }
        }
    }
}
