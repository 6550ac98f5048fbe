/* tanh RNN over a sequence: the input products of all steps in one sgemm,
 * then one matrix-vector product per step for the recurrence. */
#include <string.h>

#include "dispatch.h"
#include "internal.h"

maas_status maas_rnn_tanh_f32(float *out, const float *x, const float *h0,
                              const float *w_ih, const float *w_hh,
                              const float *b_ih, const float *b_hh, int T,
                              int input_size, int hidden_size, int n_threads)
{
    /* out[T, Hd], x[T, I], h0[Hd] or NULL, w_ih[Hd, I], w_hh[Hd, Hd],
     * b_ih[Hd] and b_hh[Hd] or NULL */
    if (!out || !x || !w_ih || !w_hh)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_rnn_tanh: out, x, w_ih and w_hh must not be "
                         "NULL");
    if (T < 1 || input_size < 1 || hidden_size < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_rnn_tanh: T=%d, input_size=%d and "
                         "hidden_size=%d must be positive", T, input_size,
                         hidden_size);

    const maas_kernel_table *kt = maas_kernels_table();

    /* Step 1: out[t] = W_ih x_t + b_ih for every t at once. */
    maas_linear_f32(out, x, w_ih, b_ih, T, input_size, hidden_size, n_threads);

    /* Step 2: in time order, out[t] += b_hh + W_hh h_{t-1}, then tanh.
     * NOTE: this recurrence runs on one thread; it is a chain of small
     * matrix-vector products whose rows could be split if hidden sizes grow. */
    for (int t = 0; t < T; t++) {
        float *h_t = out + (size_t)t * hidden_size;
        const float *h_prev = t > 0 ? h_t - hidden_size : h0;
        if (b_hh)
            kt->add_bias_row(h_t, b_hh, hidden_size);
        if (h_prev)
            for (int j = 0; j < hidden_size; j++)
                h_t[j] += kt->dot(w_hh + (size_t)j * hidden_size, h_prev,
                                  hidden_size);
        kt->tanh(h_t, h_t, (size_t)hidden_size);
    }
    return MAAS_OK;
}
