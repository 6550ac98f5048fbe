/* Sizes and column bounds of a direct convolution, shared by the reference,
 * portable and AVX2 loops.  The functions are static inline, so each tier
 * compiles them with its own flags and the scalar tier never calls into an
 * AVX2-compiled object. */
#ifndef MAAS_KERNELS_CONV_GEOMETRY_H
#define MAAS_KERNELS_CONV_GEOMETRY_H

#include <stddef.h>

#include "maas/kernels.h"

typedef struct maas_conv_geometry {
    int out_h, out_w;     /* output plane [Ho, Wo] */
    int cin_g, cout_g;    /* input and output channels per group */
    size_t plane_in;      /* H * W floats */
    size_t plane_out;     /* Ho * Wo floats */
} maas_conv_geometry;

/* Derives the output plane and per-group channel counts of `p`, which the
 * caller has checked (maas_conv2d_f32 does). */
static inline maas_conv_geometry maas_conv_geometry_of(const maas_conv2d_params *p)
{
    maas_conv_geometry g;
    g.out_h = maas_conv2d_out_size(p->in_h, p->kernel_h, p->stride_h, p->pad_h,
                                   p->dilation_h);
    g.out_w = maas_conv2d_out_size(p->in_w, p->kernel_w, p->stride_w, p->pad_w,
                                   p->dilation_w);
    g.cin_g = p->in_channels / p->groups;
    g.cout_g = p->out_channels / p->groups;
    g.plane_in = (size_t)p->in_h * p->in_w;
    g.plane_out = (size_t)g.out_h * g.out_w;
    return g;
}

/* Output columns [*lo, *hi) whose tap at offset `off` (= kx*dilation - pad)
 * lands inside [0, in_w): lo*stride + off >= 0 and
 * (hi-1)*stride + off < in_w.  Returns *hi == *lo when no column does. */
static inline void maas_conv_valid_columns(int off, int stride, int in_w,
                                           int out_w, int *lo, int *hi)
{
    int first = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int last = in_w - 1 - off < 0 ? -1 : (in_w - 1 - off) / stride;
    *lo = first < out_w ? first : out_w;
    *hi = last + 1 < out_w ? last + 1 : out_w;
    if (*hi < *lo)
        *hi = *lo;
}

#endif /* MAAS_KERNELS_CONV_GEOMETRY_H */
