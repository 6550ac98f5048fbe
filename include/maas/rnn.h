/* libmaas: character-level Elman RNN language models.
 *
 * An "rnn" .maas file holds, with PyTorch's names:
 *   embedding.weight            [V, E]
 *   rnn.weight_ih_l{k}          [Hd, E] for k = 0, [Hd, Hd] above
 *   rnn.weight_hh_l{k}          [Hd, Hd]
 *   rnn.bias_ih_l{k}, rnn.bias_hh_l{k}  [Hd]  (when the key "bias" is true)
 *   head.weight [V, Hd], head.bias [V]
 * and computes, for each layer k and position t,
 *   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  logits_t = head(h_t).
 * The vocabulary is one token per Unicode character (tokenizer.model "char").
 * docs/FORMAT.md lists the keys.
 *
 * Threads: a maas_rnn is immutable after loading and may be shared by any
 * number of threads, each with its own maas_rnn_context.
 */
#ifndef MAAS_RNN_H
#define MAAS_RNN_H

#include "maas/common.h"
#include "maas/file.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct maas_rnn maas_rnn;
typedef struct maas_rnn_context maas_rnn_context;

/* Builds a model over the tensors of an open "rnn" file.  f32 weights, the
 * embedding table in any float dtype and an f16 head are used in place.  The
 * recurrent weights and biases in f16 or bf16 (and a bf16 head) are
 * converted to f32 once, here, because the recurrent kernel takes f32.
 * Errors: MAAS_ERR_BAD_FORMAT for a missing or invalid key (named),
 * MAAS_ERR_UNSUPPORTED for a nonlinearity other than "tanh" or a tokenizer
 * other than "char", MAAS_ERR_MISSING_TENSOR, MAAS_ERR_SHAPE_MISMATCH,
 * MAAS_ERR_OUT_OF_MEMORY.  `f` must stay open until maas_rnn_free. */
maas_status maas_rnn_load(const maas_file *f, maas_rnn **out);

void maas_rnn_free(maas_rnn *m);

int maas_rnn_vocab_size(const maas_rnn *m);
int maas_rnn_embedding_dim(const maas_rnn *m);
int maas_rnn_hidden_size(const maas_rnn *m);
int maas_rnn_num_layers(const maas_rnn *m);

/* Splits UTF-8 `text` into one id per character.  At most max_ids ids are
 * written; *n_ids receives the number of characters in the text, so a
 * caller can size the array with a first call (ids may then be NULL and
 * max_ids 0).  MAAS_ERR_INVALID_UTF8, or MAAS_ERR_NOT_FOUND naming the
 * first character that is not in the vocabulary. */
maas_status maas_rnn_encode(const maas_rnn *m, const char *text, int32_t *ids,
                            int max_ids, int *n_ids);

/* Returns the UTF-8 string of token `id`, or NULL when id is out of range. */
const char *maas_rnn_token(const maas_rnn *m, int id);

/* Creates a context that runs up to `max_tokens` positions per forward pass
 * with `n_threads` threads (<= 0: every core), hidden state zero.  One
 * arena holds every layer's output, sized here.  MAAS_ERR_INVALID_ARGUMENT
 * for max_tokens < 1, MAAS_ERR_OVERFLOW or MAAS_ERR_OUT_OF_MEMORY.  `m`
 * must outlive the context. */
maas_status maas_rnn_context_create(const maas_rnn *m, int max_tokens, int n_threads,
                                    maas_rnn_context **out);

void maas_rnn_context_free(maas_rnn_context *ctx);

/* Sets every layer's hidden state to zeros (a new sequence). */
void maas_rnn_context_reset(maas_rnn_context *ctx);

/* Runs ids[T] through the model, starting from the context's hidden state
 * and leaving the state after the last position in it, so a long text can
 * be fed in pieces.  Writes logits[T, V] when logits is not NULL.
 * MAAS_ERR_INVALID_ARGUMENT for T outside 1..max_tokens or an id outside
 * 0..V-1 (the hidden state is then unchanged), MAAS_ERR_NON_FINITE when
 * the logits contain a NaN or infinity. */
maas_status maas_rnn_forward(maas_rnn_context *ctx, const int32_t *ids, int T,
                             float *logits);

/* Output of layer i from the last forward pass, for that pass's T:
 * i = 0 the embedding [T, E], i = 1..L RNN layer i-1 [T, Hd],
 * i = L+1 the logits [T, V].  NULL when i is out of range.  Valid until the
 * next forward pass on this context. */
const float *maas_rnn_layer_output(const maas_rnn_context *ctx, int i);

/* Logits of the last position of the last forward pass, [V]. */
const float *maas_rnn_last_logits(const maas_rnn_context *ctx);

/* Current hidden state of RNN layer k, [Hd], or NULL when k is out of range. */
const float *maas_rnn_hidden(const maas_rnn_context *ctx, int k);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_RNN_H */
