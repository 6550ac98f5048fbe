/* AVX2 row-wise and element-wise kernels: layernorm, softmax, GELU, tanh,
 * ReLU, additions, and the dot product and AXPY used by attention. */
#include <math.h>
#include <string.h>

#include "x86/avx2.h"
#include "x86/avx2_math.h"

/* Applies `op` to 8 floats at a time, two independent vectors per step so
 * the long dependency chains of exp and the polynomials overlap; the last
 * n % 8 go through a padded stack buffer, so every element sees the same
 * vector code. */
#define MAAS_AVX2_UNARY(name, op)                                          \
    void name(float *out, const float *x, size_t n)                        \
    {                                                                      \
        size_t i = 0;                                                      \
        for (; i + 16 <= n; i += 16) {                                     \
            __m256 y0 = op(_mm256_loadu_ps(x + i));                        \
            __m256 y1 = op(_mm256_loadu_ps(x + i + 8));                    \
            _mm256_storeu_ps(out + i, y0);                                 \
            _mm256_storeu_ps(out + i + 8, y1);                             \
        }                                                                  \
        for (; i + 8 <= n; i += 8)                                         \
            _mm256_storeu_ps(out + i, op(_mm256_loadu_ps(x + i)));         \
        if (i < n) {                                                       \
            float buf[8] = {0};                                            \
            memcpy(buf, x + i, (n - i) * sizeof *buf);                     \
            _mm256_storeu_ps(buf, op(_mm256_loadu_ps(buf)));               \
            memcpy(out + i, buf, (n - i) * sizeof *buf);                   \
        }                                                                  \
    }

static inline __m256 relu8(__m256 x)
{
    return _mm256_max_ps(x, _mm256_setzero_ps());
}

MAAS_AVX2_UNARY(maas_avx2_gelu_erf_n, maas_avx2_gelu_erf)
MAAS_AVX2_UNARY(maas_avx2_gelu_tanh_n, maas_avx2_gelu_tanh)
MAAS_AVX2_UNARY(maas_avx2_tanh_n, maas_avx2_tanh)
MAAS_AVX2_UNARY(maas_avx2_relu_n, relu8)

void maas_avx2_add(float *out, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i),
                                                _mm256_loadu_ps(b + i)));
    for (; i < n; i++)
        out[i] = a[i] + b[i];
}

void maas_avx2_scale(float *x, float scale, size_t n)
{
    __m256 s = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), s));
    for (; i < n; i++)
        x[i] *= scale;
}

void maas_avx2_add_bias_row(float *x, const float *bias, int cols)
{
    maas_avx2_add(x, x, bias, (size_t)cols);
}

float maas_avx2_dot(const float *a, const float *b, int n)
{
    /* Two accumulators hide the FMA latency for head sizes of 64. */
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
                               _mm256_loadu_ps(b + i + 8), acc1);
    }
    if (i + 8 <= n) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        i += 8;
    }
    float sum = maas_avx2_hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

void maas_avx2_axpy(float *y, float alpha, const float *x, int n)
{
    __m256 a = _mm256_set1_ps(alpha);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + i),
                                                _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

void maas_avx2_layernorm_row(float *out, const float *x, const float *gamma,
                             const float *beta, int cols, float eps)
{
    /* out[cols], x[cols], gamma[cols], beta[cols]; out may equal x.
     * Two passes (mean, then the squared deviations) so a large mean does
     * not cancel the variance; a row of BERT or GPT-2 fits in L1. */
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int c = 0;
    for (; c + 16 <= cols; c += 16) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + c));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + c + 8));
    }
    float sum = maas_avx2_hsum(_mm256_add_ps(s0, s1));
    for (; c < cols; c++)
        sum += x[c];
    float mean = sum / (float)cols;

    __m256 m = _mm256_set1_ps(mean);
    s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (c = 0; c + 16 <= cols; c += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + c), m);
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + c + 8), m);
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    float sq = maas_avx2_hsum(_mm256_add_ps(s0, s1));
    for (; c < cols; c++)
        sq += (x[c] - mean) * (x[c] - mean);
    float inv_std = 1.0f / sqrtf(sq / (float)cols + eps);

    /* out = (x - mean) * inv_std * gamma + beta */
    __m256 is = _mm256_set1_ps(inv_std);
    for (c = 0; c + 8 <= cols; c += 8) {
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), m), is);
        _mm256_storeu_ps(out + c, _mm256_fmadd_ps(d, _mm256_loadu_ps(gamma + c),
                                                  _mm256_loadu_ps(beta + c)));
    }
    for (; c < cols; c++)
        out[c] = (x[c] - mean) * inv_std * gamma[c] + beta[c];
}

void maas_avx2_softmax_row(float *x, int cols)
{
    /* Pass 1: the max; a row that is all -INFINITY becomes zeros. */
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int c = 0;
    for (; c + 8 <= cols; c += 8)
        mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + c));
    float max = maas_avx2_hmax(mx);
    for (; c < cols; c++)
        max = x[c] > max ? x[c] : max;
    if (max == -INFINITY) {
        memset(x, 0, (size_t)cols * sizeof *x);
        return;
    }

    /* Pass 2: x = exp(x - max) and the sum; exp(-inf) is 0.  Two vectors
     * per step so the exp chains overlap. */
    __m256 m = _mm256_set1_ps(max);
    __m256 sum8 = _mm256_setzero_ps(), sum8b = _mm256_setzero_ps();
    for (c = 0; c + 16 <= cols; c += 16) {
        __m256 e0 = maas_avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(x + c), m));
        __m256 e1 = maas_avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(x + c + 8), m));
        _mm256_storeu_ps(x + c, e0);
        _mm256_storeu_ps(x + c + 8, e1);
        sum8 = _mm256_add_ps(sum8, e0);
        sum8b = _mm256_add_ps(sum8b, e1);
    }
    sum8 = _mm256_add_ps(sum8, sum8b);
    for (; c + 8 <= cols; c += 8) {
        __m256 e = maas_avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(x + c), m));
        _mm256_storeu_ps(x + c, e);
        sum8 = _mm256_add_ps(sum8, e);
    }
    float sum = maas_avx2_hsum(sum8);
    if (c < cols) {
        float buf[8];
        for (int i = 0; i < 8; i++)
            buf[i] = c + i < cols ? x[c + i] - max : -INFINITY;
        _mm256_storeu_ps(buf, maas_avx2_exp(_mm256_loadu_ps(buf)));
        for (int i = 0; c + i < cols; i++) {
            x[c + i] = buf[i];
            sum += buf[i];
        }
    }

    /* Pass 3: normalise. */
    maas_avx2_scale(x, 1.0f / sum, (size_t)cols);
}
