/* Internal entry to conv2d with a chosen algorithm, for tests and the
 * benchmark that compare the two paths. */
#ifndef MAAS_KERNELS_CONV_H
#define MAAS_KERNELS_CONV_H

#include "maas/kernels.h"

typedef enum maas_conv_path {
    MAAS_CONV_AUTO = 0,  /* what maas_conv2d_f32 picks */
    MAAS_CONV_DIRECT,    /* loops over taps, vectorised along output rows */
    MAAS_CONV_IM2COL,    /* im2col tiles + sgemm */
} maas_conv_path;

/* maas_conv2d_f32 with the algorithm forced (AUTO chooses as it does). */
maas_status maas_conv2d_f32_path(float *out, const float *in,
                                 const float *weight, const float *bias,
                                 const maas_conv2d_params *p, float *scratch,
                                 int n_threads, maas_conv_path path);

#endif /* MAAS_KERNELS_CONV_H */
