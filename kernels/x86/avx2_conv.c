/* AVX2 direct convolution and max-pooling.
 *
 * The direct convolution sweeps each output plane once per tap
 * (ci, ky, kx): out_row[ox] += w * in_row[ox*sw + kx*dw - pw] for the
 * output columns whose tap lands inside the input.  With stride 1 those
 * input columns are contiguous and the update is a vector FMA; the plane
 * of one output channel stays in L1 across the taps. */
#include <math.h>
#include <string.h>

#include "conv_geometry.h"
#include "ref.h"
#include "x86/avx2.h"
#include "x86/avx2_math.h"

void maas_avx2_conv2d_planes(float *out, const float *in, const float *weight,
                             const float *bias, const maas_conv2d_params *p,
                             int b, int co0, int co1)
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
                    __m256 w8 = _mm256_set1_ps(wv);
                    int off = kx * p->dilation_w - p->pad_w;
                    int lo, hi;
                    maas_conv_valid_columns(off, p->stride_w, p->in_w, out_w,
                                            &lo, &hi);

                    for (int oy = 0; oy < out_h; oy++) {
                        int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                        if (iy < 0 || iy >= p->in_h)
                            continue;
                        const float *row = src + (size_t)iy * p->in_w;
                        float *orow = o + (size_t)oy * out_w;
                        int ox = lo;
                        if (p->stride_w == 1)
                            for (; ox + 8 <= hi; ox += 8)
                                _mm256_storeu_ps(
                                    orow + ox,
                                    _mm256_fmadd_ps(w8, _mm256_loadu_ps(row + ox + off),
                                                    _mm256_loadu_ps(orow + ox)));
                        for (; ox < hi; ox++)
                            orow[ox] = fmaf(wv, row[ox * p->stride_w + off], orow[ox]);
                    }
                }
            }
        }
    }
}

void maas_avx2_maxpool2d_plane(float *out, const float *in, int in_h,
                               int in_w, int out_h, int out_w, int kernel,
                               int stride, int pad)
{
    /* out[Ho, Wo], in[H, W]; padding counts as -infinity and NaN
     * propagates, as in PyTorch.  Per output row: the column-wise max of
     * the kernel's input rows (vectorised), then the max over each window
     * of that row.  Rows wider than the stack buffer use the reference. */
    float colmax[4096];
    if (in_w > 4096) {
        maas_ref_maxpool2d_plane(out, in, in_h, in_w, out_h, out_w, kernel,
                                 stride, pad);
        return;
    }
    for (int oy = 0; oy < out_h; oy++) {
        int y0 = oy * stride - pad;
        int y1 = y0 + kernel;
        if (y0 < 0)
            y0 = 0;
        if (y1 > in_h)
            y1 = in_h;

        /* Step 1: colmax[x] = max over rows y0..y1-1 of in[y][x]. */
        memcpy(colmax, in + (size_t)y0 * in_w, (size_t)in_w * sizeof *colmax);
        for (int y = y0 + 1; y < y1; y++) {
            const float *row = in + (size_t)y * in_w;
            int x = 0;
            for (; x + 8 <= in_w; x += 8) {
                __m256 acc = _mm256_loadu_ps(colmax + x);
                __m256 v = _mm256_loadu_ps(row + x);
                /* max_ps returns its second operand when either is NaN:
                 * keep a NaN already in acc, then take a NaN from v. */
                __m256 m = _mm256_max_ps(v, acc);
                m = _mm256_blendv_ps(m, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                _mm256_storeu_ps(colmax + x, m);
            }
            for (; x < in_w; x++)
                if (row[x] > colmax[x] || isnan(row[x]))
                    colmax[x] = row[x];
        }

        /* Step 2: windows along the row. */
        float *orow = out + (size_t)oy * out_w;
        for (int ox = 0; ox < out_w; ox++) {
            int x0 = ox * stride - pad;
            int x1 = x0 + kernel;
            if (x0 < 0)
                x0 = 0;
            if (x1 > in_w)
                x1 = in_w;
            float best = -INFINITY;
            for (int x = x0; x < x1; x++)
                if (colmax[x] > best || isnan(colmax[x]))
                    best = colmax[x];
            orow[ox] = best;
        }
    }
}
