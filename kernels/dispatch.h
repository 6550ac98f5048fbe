/* The kernel function table: one entry per inner kernel that has per-ISA
 * versions, filled once from CPUID (dispatch.c).  The public functions in
 * maas/kernels.h split work over threads and call through this table, so
 * every tier shares the thread split and the argument checks. */
#ifndef MAAS_KERNELS_DISPATCH_H
#define MAAS_KERNELS_DISPATCH_H

#include "maas/kernels.h"

typedef struct maas_kernel_table {
    /* out[n] = w[n,:] . x + bias[n] for n in [n0, n1); w[N,K]. */
    void (*gemv_f32)(float *out, const float *x, const float *w,
                     const float *bias, int K, int n0, int n1);
    void (*gemv_f16)(float *out, const float *x, const uint16_t *w,
                     const float *bias, int K, int n0, int n1);
    void (*f16_to_f32)(float *dst, const uint16_t *src, size_t n);

    /* One row each: out[cols], x[cols]. */
    void (*layernorm_row)(float *out, const float *x, const float *gamma,
                          const float *beta, int cols, float eps);
    void (*softmax_row)(float *x, int cols);
    void (*add_bias_row)(float *x, const float *bias, int cols);

    /* Element-wise over n floats. */
    void (*gelu_erf)(float *out, const float *x, size_t n);
    void (*gelu_tanh)(float *out, const float *x, size_t n);
    void (*relu)(float *out, const float *x, size_t n);
    void (*tanh)(float *out, const float *x, size_t n);
    void (*add)(float *out, const float *a, const float *b, size_t n);
    void (*scale)(float *x, float scale, size_t n);

    /* Attention inner products. */
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float alpha, const float *x, int n);

    /* Direct convolution of batch item b, output channels [co0, co1). */
    void (*conv2d_direct)(float *out, const float *in, const float *weight,
                          const float *bias, const maas_conv2d_params *p,
                          int b, int co0, int co1);
    void (*maxpool2d_plane)(float *out, const float *in, int in_h, int in_w,
                            int out_h, int out_w, int kernel, int stride,
                            int pad);
} maas_kernel_table;

/* Portable direct convolution (conv_direct.c), the scalar tier's entry. */
void maas_portable_conv2d_planes(float *out, const float *in,
                                 const float *weight, const float *bias,
                                 const maas_conv2d_params *p, int b, int co0,
                                 int co1);

/* Returns the table of the tier in use, filling it on first use (which also
 * makes OpenBLAS single-threaded). */
const maas_kernel_table *maas_kernels_table(void);

/* Splits [0, n) into `parts` ranges whose boundaries are multiples of
 * `align` (except the end) and returns range `part` in *begin, *end. */
void maas_split_range(size_t n, int parts, int part, size_t align,
                      size_t *begin, size_t *end);

/* Returns how many threads to use for `work` units when each thread should
 * get at least `min_work` of them: between 1 and `n_threads`. */
int maas_threads_for(int n_threads, size_t work, size_t min_work);

#endif /* MAAS_KERNELS_DISPATCH_H */
