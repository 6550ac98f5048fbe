/* Multi-head scaled dot-product attention.
 *
 * The work is cut into items of one head and up to ATTN_QBLOCK query rows.
 * An item with few rows (decode) uses dot products and AXPYs from the
 * dispatch table; a larger one (prefill) makes its score block with one
 * sgemm, applies the masks and the softmax per row, and multiplies by the
 * values with a second sgemm.  Each thread holds one item's score block at a
 * time, never the scores of all heads. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include <cblas.h>

#include "dispatch.h"
#include "internal.h"

/* Query rows per work item: bounds the score block to ATTN_QBLOCK x Tk. */
#define ATTN_QBLOCK 64

/* Items with fewer query rows than this use dot products, not sgemm. */
#define ATTN_MIN_GEMM_ROWS 4

size_t maas_attention_scratch_floats(int Tq, int Tk, int H, int n_threads)
{
    (void)H;
    int rows = Tq < ATTN_QBLOCK ? Tq : ATTN_QBLOCK;
    if (rows < 1)
        rows = 1;
    return (size_t)maas_resolve_threads(n_threads) * (size_t)rows *
           (size_t)(Tk > 0 ? Tk : 1);
}

static bool key_hidden(const uint8_t *key_mask, int q_pos0, int i, int j)
{
    return (key_mask && !key_mask[j]) || (q_pos0 >= 0 && j > q_pos0 + i);
}

/* Rows [i0, i1) of head h, one query at a time.  scores[Tk]. */
static void attend_rows_dot(const maas_kernel_table *kt, float *out,
                            int out_stride, const float *q, int q_stride,
                            const float *k, int k_stride, const float *v,
                            int v_stride, int Tk, int D, int h, int i0, int i1,
                            int q_pos0, const uint8_t *key_mask, float *scores)
{
    float scale = 1.0f / sqrtf((float)D);
    for (int i = i0; i < i1; i++) {
        const float *q_i = q + (size_t)i * q_stride + (size_t)h * D;
        float *out_i = out + (size_t)i * out_stride + (size_t)h * D;
        int visible = q_pos0 >= 0 && q_pos0 + i + 1 < Tk ? q_pos0 + i + 1 : Tk;

        /* Step 1: scaled scores, -INFINITY for hidden keys. */
        for (int j = 0; j < visible; j++)
            scores[j] = key_hidden(key_mask, q_pos0, i, j)
                            ? -INFINITY
                            : kt->dot(q_i, k + (size_t)j * k_stride +
                                               (size_t)h * D, D) * scale;

        /* Step 2: probabilities; an all-hidden row becomes zeros. */
        kt->softmax_row(scores, visible);

        /* Step 3: out_i = sum_j p_j v_j. */
        memset(out_i, 0, (size_t)D * sizeof *out_i);
        for (int j = 0; j < visible; j++)
            if (scores[j] != 0.0f)
                kt->axpy(out_i, scores[j],
                         v + (size_t)j * v_stride + (size_t)h * D, D);
    }
}

/* Rows [i0, i1) of head h with two sgemm calls.  scores[(i1-i0) * Tk]. */
static void attend_rows_gemm(const maas_kernel_table *kt, float *out,
                             int out_stride, const float *q, int q_stride,
                             const float *k, int k_stride, const float *v,
                             int v_stride, int Tk, int D, int h, int i0,
                             int i1, int q_pos0, const uint8_t *key_mask,
                             float *scores)
{
    int rows = i1 - i0;
    /* Causal: no row of the block sees past key q_pos0 + i1 - 1. */
    int keys = q_pos0 >= 0 && q_pos0 + i1 < Tk ? q_pos0 + i1 : Tk;
    float scale = 1.0f / sqrtf((float)D);

    /* Step 1: scores[rows, keys] = scale * q_h[i0:i1] . k_h[0:keys]^T. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, D, scale,
                q + (size_t)i0 * q_stride + (size_t)h * D, q_stride,
                k + (size_t)h * D, k_stride, 0.0f, scores, keys);

    /* Step 2: masks and softmax per row. */
    for (int r = 0; r < rows; r++) {
        float *s = scores + (size_t)r * keys;
        if (key_mask || q_pos0 >= 0)
            for (int j = 0; j < keys; j++)
                if (key_hidden(key_mask, q_pos0, i0 + r, j))
                    s[j] = -INFINITY;
        kt->softmax_row(s, keys);
    }

    /* Step 3: out_h[i0:i1] = scores . v_h[0:keys]. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, D, keys, 1.0f,
                scores, keys, v + (size_t)h * D, v_stride, 0.0f,
                out + (size_t)i0 * out_stride + (size_t)h * D, out_stride);
}

void maas_attention_f32(float *out, int out_stride, const float *q,
                        int q_stride, const float *k, int k_stride,
                        const float *v, int v_stride, int Tq, int Tk, int H,
                        int D, int q_pos0, const uint8_t *key_mask,
                        float *scratch, int n_threads)
{
    /* out[Tq, H*D], q[Tq, H*D], k[Tk, H*D], v[Tk, H*D];
     * scratch[maas_attention_scratch_floats(Tq, Tk, H, n_threads)] */
    const maas_kernel_table *kt = maas_kernels_table();
    if (Tq <= 0 || H <= 0 || D <= 0)
        return;

    /* No keys at all: every query is fully masked. */
    if (Tk <= 0) {
        for (int i = 0; i < Tq; i++)
            memset(out + (size_t)i * out_stride, 0, (size_t)H * D * sizeof *out);
        return;
    }

    int qblock = Tq < ATTN_QBLOCK ? Tq : ATTN_QBLOCK;
    int blocks = (Tq + ATTN_QBLOCK - 1) / ATTN_QBLOCK;
    int items = H * blocks;
    int nt = maas_resolve_threads(n_threads);
    size_t macs = (size_t)Tq * Tk * H * D;
    if (macs < (1u << 15))
        nt = 1;
    if (nt > items)
        nt = items > 1 ? items : 1;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *scores = scratch + (size_t)omp_get_thread_num() * qblock * Tk;
#pragma omp for schedule(static)
        for (int item = 0; item < items; item++) {
            int h = item / blocks;
            int i0 = (item % blocks) * ATTN_QBLOCK;
            int i1 = i0 + ATTN_QBLOCK < Tq ? i0 + ATTN_QBLOCK : Tq;
            if (i1 - i0 >= ATTN_MIN_GEMM_ROWS)
                attend_rows_gemm(kt, out, out_stride, q, q_stride, k,
                                 k_stride, v, v_stride, Tk, D, h, i0, i1,
                                 q_pos0, key_mask, scores);
            else
                attend_rows_dot(kt, out, out_stride, q, q_stride, k, k_stride,
                                v, v_stride, Tk, D, h, i0, i1, q_pos0,
                                key_mask, scores);
        }
    }
}
