/* libmaas: compute kernels on f32 activations.
 *
 * Every kernel has a plain-C reference (kernels/ref_*.c) that tests treat as
 * the oracle, and optimised paths (AVX2+FMA in kernels/x86/, OpenBLAS for
 * large products) chosen once at start-up from CPUID.  The same binary runs
 * on a CPU without AVX2, on the plain-C paths.
 *
 * Arrays are row-major, shapes outermost first (see maas/common.h).  Each
 * kernel splits its rows over `n_threads` threads (OpenMP); n_threads <= 0
 * means maas_cpu_count().  libmaas keeps OpenBLAS itself single-threaded and
 * does the splitting, so the two never oversubscribe the cores and several
 * contexts can run kernels from different threads at once.
 *
 * Kernels that cannot fail on valid pointers and sizes return void; callers
 * (the model code) check sizes once when they build a context.  Kernels whose
 * parameters come straight from a user or a file return a maas_status.
 */
#ifndef MAAS_KERNELS_H
#define MAAS_KERNELS_H

#include "maas/common.h"
#include "maas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dispatch ---------------------------------------------------------- */

/* Instruction-set tiers.  Stable values, append-only. */
typedef enum maas_isa {
    MAAS_ISA_SCALAR = 0,  /* portable C, any x86-64 or other CPU */
    MAAS_ISA_AVX2 = 1,    /* AVX2 + FMA + F16C */
    MAAS_ISA_COUNT
} maas_isa;

/* Returns the tier in use.  At start-up it is the best the CPU supports,
 * unless the environment variable MAAS_ISA=scalar forces the portable one. */
maas_isa maas_kernels_isa(void);

/* Selects a tier for all later kernel calls (tests use it to compare tiers).
 * MAAS_ERR_UNSUPPORTED when the CPU lacks it.  Not thread-safe: call it while
 * no kernel runs. */
maas_status maas_kernels_set_isa(maas_isa isa);

/* Returns "scalar" or "avx2". */
const char *maas_isa_name(maas_isa isa);

/* ---- matrix products ----------------------------------------------------- */

/* Linear layer with weights stored as Hugging Face nn.Linear stores them:
 *   out[M,N] = in[M,K] . w[N,K]^T + bias[N]      (bias may be NULL)
 * M > 1 goes through sgemm; M == 1 through a matrix-vector kernel. */
void maas_linear_f32(float *out, const float *in, const float *w,
                     const float *bias, int M, int K, int N, int n_threads);

/* The same with f16 weights, converted in cache-sized panels as they are
 * used, never as a whole matrix. */
void maas_linear_f16(float *out, const float *in, const uint16_t *w,
                     const float *bias, int M, int K, int N, int n_threads);

/* Linear layer on any weight tensor of shape [N,K] (f32 or f16). */
maas_status maas_linear(float *out, const float *in, const maas_tensor *w,
                        const float *bias, int M, int n_threads);

/* General product with leading dimensions (strides between rows, in floats):
 *   c[M,N] = alpha * a[M,K] . op(b) + beta * c[M,N]
 * where op(b) is b[K,N] when trans_b is false and b[N,K]^T when true. */
void maas_matmul_f32(float *c, int ldc, const float *a, int lda,
                     const float *b, int ldb, bool trans_b, int M, int K,
                     int N, float alpha, float beta, int n_threads);

/* ---- normalisation and activations -------------------------------------- */

/* out[R,C] = (x - mean) / sqrt(var + eps) * gamma[C] + beta[C], per row,
 * with the biased variance as PyTorch's LayerNorm.  out may equal x. */
void maas_layernorm_f32(float *out, const float *x, const float *gamma,
                        const float *beta, int rows, int cols, float eps,
                        int n_threads);

/* In-place softmax over each row of x[R,C], numerically stable.  Entries
 * equal to -INFINITY are masked; a row that is entirely masked becomes all
 * zeros (never NaN). */
void maas_softmax_f32(float *x, int rows, int cols, int n_threads);

/* GELU, exact form (BERT): 0.5 x (1 + erf(x / sqrt 2)).  out may equal x. */
void maas_gelu_erf_f32(float *out, const float *x, size_t n, int n_threads);

/* GELU, tanh approximation (GPT-2's gelu_new):
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).  out may equal x. */
void maas_gelu_tanh_f32(float *out, const float *x, size_t n, int n_threads);

/* out = max(x, 0).  out may equal x. */
void maas_relu_f32(float *out, const float *x, size_t n, int n_threads);

/* out = tanh(x).  out may equal x. */
void maas_tanh_f32(float *out, const float *x, size_t n, int n_threads);

/* out[i] = a[i] + b[i] (residual connection).  out may equal a or b. */
void maas_add_f32(float *out, const float *a, const float *b, size_t n,
                  int n_threads);

/* x[R,C] += bias[C] for every row. */
void maas_add_bias_f32(float *x, const float *bias, int rows, int cols,
                       int n_threads);

/* x[i] *= scale. */
void maas_scale_f32(float *x, float scale, size_t n);

/* ---- embeddings ---------------------------------------------------------- */

/* out[T,C] = table[ids[t], :] for a table of shape [V,C] (f32 or f16).
 * MAAS_ERR_INVALID_ARGUMENT when an id is outside 0..V-1, naming it. */
maas_status maas_embedding(float *out, const maas_tensor *table,
                           const int32_t *ids, int T);

/* ---- attention ----------------------------------------------------------- */

/* Scaled dot-product multi-head attention for one sequence.
 *   q[Tq, H*D]   row i at q + i*q_stride
 *   k[Tk, H*D]   row j at k + j*k_stride
 *   v[Tk, H*D]   row j at v + j*v_stride
 *   out[Tq, H*D] row i at out + i*out_stride
 * Head h uses columns h*D .. h*D+D-1.  scores = q.k^T / sqrt(D).
 * Causal (q_pos0 >= 0): query i sits at absolute position q_pos0 + i and
 *   sees keys 0 .. q_pos0 + i (a KV cache holds keys 0..Tk-1, so
 *   q_pos0 + Tq == Tk).  q_pos0 < 0 means no causal mask (BERT).
 * key_mask[Tk] (may be NULL): 0 hides key j (padding), non-zero keeps it.
 *   A query whose keys are all hidden outputs zeros.
 * scratch: at least maas_attention_scratch_floats(Tq, Tk, H, n_threads)
 *   floats. */
void maas_attention_f32(float *out, int out_stride, const float *q,
                        int q_stride, const float *k, int k_stride,
                        const float *v, int v_stride, int Tq, int Tk, int H,
                        int D, int q_pos0, const uint8_t *key_mask,
                        float *scratch, int n_threads);

size_t maas_attention_scratch_floats(int Tq, int Tk, int H, int n_threads);

/* ---- convolution and pooling (NCHW) ------------------------------------- */

typedef struct maas_conv2d_params {
    int batch, in_channels, in_h, in_w;   /* input  [B, Cin, H, W] */
    int out_channels, kernel_h, kernel_w; /* weight [Cout, Cin/groups, kh, kw] */
    int stride_h, stride_w;               /* >= 1 */
    int pad_h, pad_w;                     /* zero padding on each side, >= 0 */
    int dilation_h, dilation_w;           /* >= 1 */
    int groups;                           /* divides Cin and Cout */
} maas_conv2d_params;

/* Output size along one axis: floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1,
 * or a value <= 0 when the configuration gives no output. */
int maas_conv2d_out_size(int in, int kernel, int stride, int pad, int dilation);

/* Scratch floats that maas_conv2d_f32 needs for `p` (its im2col buffer). */
size_t maas_conv2d_scratch_floats(const maas_conv2d_params *p, int n_threads);

/* out[B, Cout, Ho, Wo] = conv(in, weight) + bias[Cout] (bias may be NULL).
 * MAAS_ERR_INVALID_ARGUMENT, naming the field, for a non-positive size,
 * groups that do not divide the channels, or an empty output. */
maas_status maas_conv2d_f32(float *out, const float *in, const float *weight,
                            const float *bias, const maas_conv2d_params *p,
                            float *scratch, int n_threads);

/* out[B, C, Ho, Wo] = max over kernel x kernel windows of in[B, C, H, W],
 * padding counting as -infinity, as PyTorch's MaxPool2d. */
maas_status maas_maxpool2d_f32(float *out, const float *in, int batch,
                               int channels, int in_h, int in_w, int kernel,
                               int stride, int pad, int n_threads);

/* ---- recurrent ------------------------------------------------------------ */

/* One tanh RNN layer over a whole sequence, PyTorch nn.RNN layout:
 *   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
 *   x[T, I], w_ih[Hd, I], w_hh[Hd, Hd], b_ih[Hd], b_hh[Hd] (biases may be NULL)
 *   h0[Hd] (NULL means zeros), out[T, Hd] receives every h_t.
 * All W_ih x_t are computed in one matrix product before the time loop. */
maas_status maas_rnn_tanh_f32(float *out, const float *x, const float *h0,
                              const float *w_ih, const float *w_hh,
                              const float *b_ih, const float *b_hh, int T,
                              int input_size, int hidden_size, int n_threads);

/* ---- reductions ----------------------------------------------------------- */

/* Returns the index of the largest x[i] (the first on ties). */
int maas_argmax_f32(const float *x, int n);

/* Returns true when every x[i] is finite. */
bool maas_all_finite_f32(const float *x, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_KERNELS_H */
