/* Reference tanh RNN: one naive matrix-vector product per step. */
#include <math.h>
#include <string.h>

#include "ref.h"

void maas_ref_rnn_tanh_f32(float *out, const float *x, const float *h0,
                           const float *w_ih, const float *w_hh,
                           const float *b_ih, const float *b_hh, int T,
                           int input_size, int hidden_size)
{
    /* out[T, Hd], x[T, I], h0[Hd], w_ih[Hd, I], w_hh[Hd, Hd] */
    for (int t = 0; t < T; t++) {
        const float *x_t = x + (size_t)t * input_size;
        const float *h_prev = t > 0 ? out + (size_t)(t - 1) * hidden_size : h0;
        float *h_t = out + (size_t)t * hidden_size;

        for (int j = 0; j < hidden_size; j++) {
            float acc = 0.0f;
            for (int i = 0; i < input_size; i++)
                acc += w_ih[(size_t)j * input_size + i] * x_t[i];
            if (b_ih)
                acc += b_ih[j];
            if (h_prev)
                for (int i = 0; i < hidden_size; i++)
                    acc += w_hh[(size_t)j * hidden_size + i] * h_prev[i];
            if (b_hh)
                acc += b_hh[j];
            h_t[j] = tanhf(acc);
        }
    }
}
