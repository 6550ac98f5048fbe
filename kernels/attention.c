/* Multi-head scaled dot-product attention.
 *
 * Decode (fewer than ATTN_MIN_GEMM_ROWS queries): threads take ranges of
 * heads and use dot products and AXPYs from the dispatch table, reading
 * each key and value row once.  Prefill: the work is cut into items of one
 * head and up to ATTN_QBLOCK query rows.  An item makes its score block with
 * one sgemm, applies the masks and the softmax per row, and multiplies by
 * the values with a second sgemm.  Each thread holds one item's score block
 * (or, in decode, one score row per head) at a time. */
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
    /* Per thread: one score block of up to ATTN_QBLOCK rows (prefill), or
     * one score row per head (decode). */
    int rows = Tq < ATTN_QBLOCK ? Tq : ATTN_QBLOCK;
    if (Tq < ATTN_MIN_GEMM_ROWS)
        rows = H;
    if (rows < 1)
        rows = 1;
    return (size_t)maas_resolve_threads(n_threads) * (size_t)rows *
           (size_t)(Tk > 0 ? Tk : 1);
}

static bool key_hidden(const uint8_t *key_mask, int q_pos0, int i, int j)
{
    return (key_mask && !key_mask[j]) || (q_pos0 >= 0 && j > q_pos0 + i);
}

/* Rows [i0, i1) of heads [h0, h1), one query at a time, keys in the outer
 * loop so each key and value row is read once, contiguously, for all the
 * heads (decode reads the whole KV cache this way).  scores[(h1-h0) * Tk]. */
static void attend_rows_dot(const maas_kernel_table *kt, float *out,
                            int out_stride, const float *q, int q_stride,
                            const float *k, int k_stride, const float *v,
                            int v_stride, int Tk, int D, int h0, int h1,
                            int i0, int i1, int q_pos0,
                            const uint8_t *key_mask, float *scores)
{
    float scale = 1.0f / sqrtf((float)D);
    int heads = h1 - h0;
    for (int i = i0; i < i1; i++) {
        const float *q_i = q + (size_t)i * q_stride + (size_t)h0 * D;
        float *out_i = out + (size_t)i * out_stride + (size_t)h0 * D;
        int visible = q_pos0 >= 0 && q_pos0 + i + 1 < Tk ? q_pos0 + i + 1 : Tk;

        /* Step 1: scaled scores, -INFINITY for hidden keys. */
        for (int j = 0; j < visible; j++) {
            bool hidden = key_hidden(key_mask, q_pos0, i, j);
            const float *k_j = k + (size_t)j * k_stride + (size_t)h0 * D;
            for (int h = 0; h < heads; h++)
                scores[(size_t)h * Tk + j] =
                    hidden ? -INFINITY
                           : kt->dot(q_i + (size_t)h * D, k_j + (size_t)h * D, D) *
                                 scale;
        }

        /* Step 2: probabilities; an all-hidden row becomes zeros. */
        for (int h = 0; h < heads; h++)
            kt->softmax_row(scores + (size_t)h * Tk, visible);

        /* Step 3: out_i = sum_j p_j v_j per head. */
        memset(out_i, 0, (size_t)heads * D * sizeof *out_i);
        for (int j = 0; j < visible; j++) {
            const float *v_j = v + (size_t)j * v_stride + (size_t)h0 * D;
            for (int h = 0; h < heads; h++) {
                float p = scores[(size_t)h * Tk + j];
                if (p != 0.0f)
                    kt->axpy(out_i + (size_t)h * D, p, v_j + (size_t)h * D, D);
            }
        }
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
    /* Causal: no row of the block reaches past key q_pos0 + i1 - 1. */
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

    int nt = maas_resolve_threads(n_threads);
    size_t macs = (size_t)Tq * Tk * H * D;
    if (macs < (1u << 15))
        nt = 1;

    /* Decode (a few queries): threads take contiguous ranges of heads. */
    if (Tq < ATTN_MIN_GEMM_ROWS) {
        if (nt > H)
            nt = H;
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            size_t h0, h1;
            maas_split_range((size_t)H, omp_get_num_threads(),
                             omp_get_thread_num(), 1, &h0, &h1);
            float *scores = scratch + (size_t)omp_get_thread_num() * H * Tk;
            if (h1 > h0)
                attend_rows_dot(kt, out, out_stride, q, q_stride, k, k_stride,
                                v, v_stride, Tk, D, (int)h0, (int)h1, 0, Tq,
                                q_pos0, key_mask, scores);
        }
        return;
    }

    /* Prefill: items of one head and up to ATTN_QBLOCK query rows. */
    int blocks = (Tq + ATTN_QBLOCK - 1) / ATTN_QBLOCK;
    int items = H * blocks;
    if (nt > items)
        nt = items;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int qblock = Tq < ATTN_QBLOCK ? Tq : ATTN_QBLOCK;
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
                                v, v_stride, Tk, D, h, h + 1, i0, i1, q_pos0,
                                key_mask, scores);
        }
    }
}
