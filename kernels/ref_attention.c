/* Reference attention: one query row and one head at a time. */
#include <math.h>
#include <string.h>

#include "ref.h"

void maas_ref_attention_f32(float *out, int out_stride, const float *q,
                            int q_stride, const float *k, int k_stride,
                            const float *v, int v_stride, int Tq, int Tk,
                            int H, int D, int q_pos0, const uint8_t *key_mask,
                            float *scratch)
{
    /* out[Tq, H*D], q[Tq, H*D], k[Tk, H*D], v[Tk, H*D], scratch[Tk] */
    float scale = 1.0f / sqrtf((float)D);

    for (int h = 0; h < H; h++) {
        for (int i = 0; i < Tq; i++) {
            const float *q_i = q + (size_t)i * q_stride + (size_t)h * D;
            float *out_i = out + (size_t)i * out_stride + (size_t)h * D;

            /* Scores; hidden keys (padding, or after the query when causal)
             * get -INFINITY so the softmax gives them weight 0. */
            for (int j = 0; j < Tk; j++) {
                bool hidden = (key_mask && !key_mask[j]) ||
                              (q_pos0 >= 0 && j > q_pos0 + i);
                if (hidden) {
                    scratch[j] = -INFINITY;
                    continue;
                }
                const float *k_j = k + (size_t)j * k_stride + (size_t)h * D;
                scratch[j] = maas_ref_dot(q_i, k_j, D) * scale;
            }

            maas_ref_softmax_row(scratch, Tk);

            /* Weighted sum of the values. */
            memset(out_i, 0, (size_t)D * sizeof *out_i);
            for (int j = 0; j < Tk; j++) {
                if (scratch[j] == 0.0f)
                    continue;
                const float *v_j = v + (size_t)j * v_stride + (size_t)h * D;
                maas_ref_axpy(out_i, scratch[j], v_j, D);
            }
        }
    }
}
