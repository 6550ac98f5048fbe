/* Reference normalisation and element-wise kernels, on libm. */
#include <math.h>

#include "ref.h"

void maas_ref_layernorm_row(float *out, const float *x, const float *gamma,
                            const float *beta, int cols, float eps)
{
    /* out[cols], x[cols], gamma[cols], beta[cols]; out may equal x.
     * Mean and biased variance in double, so the oracle is not limited by
     * float accumulation. */
    double sum = 0.0;
    for (int c = 0; c < cols; c++)
        sum += x[c];
    double mean = sum / cols;

    double sq = 0.0;
    for (int c = 0; c < cols; c++) {
        double d = x[c] - mean;
        sq += d * d;
    }
    double inv_std = 1.0 / sqrt(sq / cols + (double)eps);

    for (int c = 0; c < cols; c++)
        out[c] = (float)((x[c] - mean) * inv_std) * gamma[c] + beta[c];
}

void maas_ref_softmax_row(float *x, int cols)
{
    /* Subtract the max for stability; -INFINITY entries become exp(-inf)=0.
     * A row whose max is -INFINITY is entirely masked and becomes zeros. */
    float max = -INFINITY;
    for (int c = 0; c < cols; c++)
        if (x[c] > max)
            max = x[c];
    if (max == -INFINITY) {
        for (int c = 0; c < cols; c++)
            x[c] = 0.0f;
        return;
    }

    double sum = 0.0;
    for (int c = 0; c < cols; c++) {
        x[c] = expf(x[c] - max);
        sum += x[c];
    }
    float inv = (float)(1.0 / sum);
    for (int c = 0; c < cols; c++)
        x[c] *= inv;
}

void maas_ref_gelu_erf(float *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

void maas_ref_gelu_tanh(float *out, const float *x, size_t n)
{
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void maas_ref_relu(float *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void maas_ref_tanh(float *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = tanhf(x[i]);
}

void maas_ref_add(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void maas_ref_add_bias_row(float *x, const float *bias, int cols)
{
    for (int c = 0; c < cols; c++)
        x[c] += bias[c];
}

void maas_ref_scale(float *x, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= scale;
}

float maas_ref_dot(const float *a, const float *b, int n)
{
    float acc = 0.0f;
    for (int i = 0; i < n; i++)
        acc += a[i] * b[i];
    return acc;
}

void maas_ref_axpy(float *y, float alpha, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

void maas_ref_layernorm_f32(float *out, const float *x, const float *gamma,
                            const float *beta, int rows, int cols, float eps)
{
    for (int r = 0; r < rows; r++)
        maas_ref_layernorm_row(out + (size_t)r * cols, x + (size_t)r * cols,
                               gamma, beta, cols, eps);
}

void maas_ref_softmax_f32(float *x, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        maas_ref_softmax_row(x + (size_t)r * cols, cols);
}
