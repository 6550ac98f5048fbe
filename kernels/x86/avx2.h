/* AVX2 + FMA + F16C kernels.  Every function here executes AVX
 * instructions: call them only through the dispatch table, which checks
 * CPUID first.  Contracts match the maas_kernel_table entries. */
#ifndef MAAS_KERNELS_AVX2_H
#define MAAS_KERNELS_AVX2_H

#include "dispatch.h"

/* Replaces the entries of `t` that have AVX2 versions. */
void maas_avx2_fill_table(maas_kernel_table *t);

/* avx2_gemv.c */
void maas_avx2_gemv_f32(float *out, const float *x, const float *w,
                        const float *bias, int K, int n0, int n1);
void maas_avx2_gemv_f16(float *out, const float *x, const uint16_t *w,
                        const float *bias, int K, int n0, int n1);
void maas_avx2_f16_to_f32(float *dst, const uint16_t *src, size_t n);

/* avx2_norm.c */
void maas_avx2_layernorm_row(float *out, const float *x, const float *gamma,
                             const float *beta, int cols, float eps);
void maas_avx2_softmax_row(float *x, int cols);
void maas_avx2_add_bias_row(float *x, const float *bias, int cols);
void maas_avx2_gelu_erf_n(float *out, const float *x, size_t n);
void maas_avx2_gelu_tanh_n(float *out, const float *x, size_t n);
void maas_avx2_tanh_n(float *out, const float *x, size_t n);
void maas_avx2_relu_n(float *out, const float *x, size_t n);
void maas_avx2_add(float *out, const float *a, const float *b, size_t n);
void maas_avx2_scale(float *x, float scale, size_t n);
float maas_avx2_dot(const float *a, const float *b, int n);
void maas_avx2_axpy(float *y, float alpha, const float *x, int n);

/* avx2_conv.c */
void maas_avx2_conv2d_planes(float *out, const float *in, const float *weight,
                             const float *bias, const maas_conv2d_params *p,
                             int b, int co0, int co1);
void maas_avx2_maxpool2d_plane(float *out, const float *in, int in_h,
                               int in_w, int out_h, int out_w, int kernel,
                               int stride, int pad);

#endif /* MAAS_KERNELS_AVX2_H */
