/* Plain-C reference kernels: the oracle every optimised path is tested
 * against, and the scalar tier of the dispatch table.  Single-threaded,
 * no intrinsics, written for clarity rather than speed.  Shapes follow
 * maas/kernels.h. */
#ifndef MAAS_KERNELS_REF_H
#define MAAS_KERNELS_REF_H

#include "maas/kernels.h"

/* ---- matrix products (ref_matmul.c) ---- */

/* out[n] = dot(w[n, 0:K], x[0:K]) + bias[n] for n in [n0, n1).
 *   out[N], x[K], w[N,K], bias[N] or NULL */
void maas_ref_gemv_f32(float *out, const float *x, const float *w,
                       const float *bias, int K, int n0, int n1);
void maas_ref_gemv_f16(float *out, const float *x, const uint16_t *w,
                       const float *bias, int K, int n0, int n1);

/* dst[i] = f32(src[i]) for i < n. */
void maas_ref_f16_to_f32(float *dst, const uint16_t *src, size_t n);

/* Naive triple loops with the public functions' contracts. */
void maas_ref_linear_f32(float *out, const float *in, const float *w,
                         const float *bias, int M, int K, int N);
void maas_ref_linear_f16(float *out, const float *in, const uint16_t *w,
                         const float *bias, int M, int K, int N);
void maas_ref_matmul_f32(float *c, int ldc, const float *a, int lda,
                         const float *b, int ldb, bool trans_b, int M, int K,
                         int N, float alpha, float beta);

/* ---- normalisation and activations (ref_norm.c) ---- */

/* One row of maas_layernorm_f32: out[cols], x[cols], gamma[cols], beta[cols]. */
void maas_ref_layernorm_row(float *out, const float *x, const float *gamma,
                            const float *beta, int cols, float eps);
/* One row of maas_softmax_f32, in place: x[cols]. */
void maas_ref_softmax_row(float *x, int cols);

void maas_ref_gelu_erf(float *out, const float *x, size_t n);
void maas_ref_gelu_tanh(float *out, const float *x, size_t n);
void maas_ref_relu(float *out, const float *x, size_t n);
void maas_ref_tanh(float *out, const float *x, size_t n);
void maas_ref_add(float *out, const float *a, const float *b, size_t n);
/* x[cols] += bias[cols] (one row). */
void maas_ref_add_bias_row(float *x, const float *bias, int cols);
void maas_ref_scale(float *x, float scale, size_t n);
/* Returns sum of a[i] * b[i]. */
float maas_ref_dot(const float *a, const float *b, int n);
/* y[i] += alpha * x[i]. */
void maas_ref_axpy(float *y, float alpha, const float *x, int n);

/* Whole-array oracles with the public functions' contracts. */
void maas_ref_layernorm_f32(float *out, const float *x, const float *gamma,
                            const float *beta, int rows, int cols, float eps);
void maas_ref_softmax_f32(float *x, int rows, int cols);

/* ---- attention (ref_attention.c) ---- */

/* maas_attention_f32 computed one query and one head at a time.
 * scratch: at least Tk floats. */
void maas_ref_attention_f32(float *out, int out_stride, const float *q,
                            int q_stride, const float *k, int k_stride,
                            const float *v, int v_stride, int Tq, int Tk,
                            int H, int D, int q_pos0, const uint8_t *key_mask,
                            float *scratch);

/* ---- convolution and pooling (ref_conv.c) ---- */

/* Direct convolution with the loops in the order of the formula; the caller
 * has checked `p` (maas_conv2d_f32 does). */
void maas_ref_conv2d_f32(float *out, const float *in, const float *weight,
                         const float *bias, const maas_conv2d_params *p);

/* The output planes of batch item b and channels [co0, co1) only; the direct
 * path of the scalar tier. */
void maas_ref_conv2d_planes(float *out, const float *in, const float *weight,
                            const float *bias, const maas_conv2d_params *p,
                            int b, int co0, int co1);

/* Max-pool of one [H, W] plane into [Ho, Wo]. */
void maas_ref_maxpool2d_plane(float *out, const float *in, int in_h, int in_w,
                              int out_h, int out_w, int kernel, int stride,
                              int pad);

/* ---- recurrent (ref_rnn.c) ---- */

/* The tanh RNN computed step by step with naive products. */
void maas_ref_rnn_tanh_f32(float *out, const float *x, const float *h0,
                           const float *w_ih, const float *w_hh,
                           const float *b_ih, const float *b_hh, int T,
                           int input_size, int hidden_size);

#endif /* MAAS_KERNELS_REF_H */
