/* The model behind the server: one loaded model, shared read-only, and one
 * inference context per request slot.  This layer hides whether the file
 * holds GPT-2 or BERT; the HTTP handlers ask which tasks it supports.
 *
 * Thread safety: maas_srv_engine_* calls on different slots may run at
 * once; calls on one slot must not overlap (the slot pool ensures that). */
#ifndef MAAS_SRV_ENGINE_H
#define MAAS_SRV_ENGINE_H

#include "maas/common.h"
#include "maas/tokenizer.h"

typedef struct maas_srv_engine maas_srv_engine;
typedef struct maas_srv_slot maas_srv_slot;

/* Tasks a model can serve, as bit flags. */
enum {
    MAAS_SRV_TASK_GENERATE = 1,  /* GPT-2: completions and chat */
    MAAS_SRV_TASK_EMBED = 2,     /* BERT encoders: embeddings */
    MAAS_SRV_TASK_QA = 4,        /* BERT with a span head: question answering */
};

/* Opens `path`, loads the model once and creates `n_slots` contexts, each
 * running its forward passes on `n_threads` threads. */
maas_status maas_srv_engine_open(const char *path, int n_threads, int n_slots,
                                 maas_srv_engine **out);
void maas_srv_engine_free(maas_srv_engine *e);

unsigned maas_srv_engine_tasks(const maas_srv_engine *e);
const char *maas_srv_engine_arch(const maas_srv_engine *e);
const maas_tokenizer *maas_srv_engine_tokenizer(const maas_srv_engine *e);

/* Returns the maximum sequence length in tokens (positions of the model). */
int maas_srv_engine_n_ctx(const maas_srv_engine *e);

/* Returns the length of one embedding vector (0 without MAAS_SRV_TASK_EMBED). */
int maas_srv_engine_embed_dim(const maas_srv_engine *e);

maas_srv_slot *maas_srv_engine_slot(maas_srv_engine *e, int i);

/* ---- generation (MAAS_SRV_TASK_GENERATE) ---- */

typedef struct maas_srv_sampling {
    float temperature;  /* 0: greedy (argmax) */
    float top_p;        /* 1: off */
    int top_k;          /* 0: off */
    uint64_t seed;
} maas_srv_sampling;

/* Resets the slot, runs the prompt `ids` (n >= 1 tokens) through the model
 * and seeds the slot's sampler. */
maas_status maas_srv_generate_begin(maas_srv_slot *s, const int32_t *ids, int n,
                                    const maas_srv_sampling *sampling);

/* Samples the next token from the logits of the last position. */
maas_status maas_srv_generate_sample(maas_srv_slot *s, int32_t *id);

/* Appends `id` to the sequence and computes the logits after it.
 * MAAS_ERR_CONTEXT_FULL at the model's position limit. */
maas_status maas_srv_generate_feed(maas_srv_slot *s, int32_t id);

/* ---- embeddings (MAAS_SRV_TASK_EMBED) ---- */

/* Embeds one text into `out` (maas_srv_engine_embed_dim floats) and stores
 * the number of tokens it used, special tokens included.
 * MAAS_ERR_CONTEXT_FULL when the text is longer than the model's limit;
 * MAAS_ERR_INVALID_UTF8 for invalid UTF-8. */
maas_status maas_srv_embed(maas_srv_slot *s, const char *text, size_t len,
                           float *out, int *n_tokens);

/* ---- question answering (MAAS_SRV_TASK_QA) ---- */

typedef struct maas_srv_answer {
    int start, end;  /* span [start, end) in the context, in characters (code points) */
    int byte_start, byte_end;  /* the same span in bytes */
    float score;     /* probability of the span, start and end softmax product */
} maas_srv_answer;

/* Finds up to `top_k` answers to `question` in `context`, best first, no
 * longer than `max_answer_tokens` tokens each; `*n` receives the count and
 * `*n_tokens` the tokens the model read. */
maas_status maas_srv_qa(maas_srv_slot *s, const char *question, size_t question_len,
                        const char *context, size_t context_len, int top_k,
                        int max_answer_tokens, maas_srv_answer *answers, int *n,
                        int *n_tokens);

#endif /* MAAS_SRV_ENGINE_H */
