/* Reference matrix products: naive loops, accumulated in float in the
 * order of the index, so they are simple to trust. */
#include "ref.h"

void maas_ref_gemv_f32(float *out, const float *x, const float *w,
                       const float *bias, int K, int n0, int n1)
{
    /* out[N], x[K], w[N,K], bias[N] */
    for (int n = n0; n < n1; n++) {
        const float *w_n = w + (size_t)n * K;
        float acc = 0.0f;
        for (int k = 0; k < K; k++)
            acc += w_n[k] * x[k];
        out[n] = acc + (bias ? bias[n] : 0.0f);
    }
}

void maas_ref_gemv_f16(float *out, const float *x, const uint16_t *w,
                       const float *bias, int K, int n0, int n1)
{
    /* out[N], x[K], w[N,K] f16, bias[N] */
    for (int n = n0; n < n1; n++) {
        const uint16_t *w_n = w + (size_t)n * K;
        float acc = 0.0f;
        for (int k = 0; k < K; k++)
            acc += maas_f16_to_f32(w_n[k]) * x[k];
        out[n] = acc + (bias ? bias[n] : 0.0f);
    }
}

void maas_ref_f16_to_f32(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = maas_f16_to_f32(src[i]);
}

void maas_ref_linear_f32(float *out, const float *in, const float *w,
                         const float *bias, int M, int K, int N)
{
    /* out[M,N], in[M,K], w[N,K], bias[N] */
    for (int m = 0; m < M; m++)
        maas_ref_gemv_f32(out + (size_t)m * N, in + (size_t)m * K, w, bias,
                          K, 0, N);
}

void maas_ref_linear_f16(float *out, const float *in, const uint16_t *w,
                         const float *bias, int M, int K, int N)
{
    /* out[M,N], in[M,K], w[N,K] f16, bias[N] */
    for (int m = 0; m < M; m++)
        maas_ref_gemv_f16(out + (size_t)m * N, in + (size_t)m * K, w, bias,
                          K, 0, N);
}

void maas_ref_matmul_f32(float *c, int ldc, const float *a, int lda,
                         const float *b, int ldb, bool trans_b, int M, int K,
                         int N, float alpha, float beta)
{
    /* c[M,N] (row stride ldc), a[M,K] (lda), b[K,N] or b[N,K] (ldb) */
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                float b_kn = trans_b ? b[(size_t)n * ldb + k]
                                     : b[(size_t)k * ldb + n];
                acc += a[(size_t)m * lda + k] * b_kn;
            }
            float *c_mn = c + (size_t)m * ldc + n;
            /* beta == 0 overwrites c, so NaN in uninitialised c is ignored
             * as BLAS does. */
            *c_mn = alpha * acc + (beta == 0.0f ? 0.0f : beta * *c_mn);
        }
    }
}
