/* libmaas: GPT-2 text generation.
 *
 * Three objects, each with a create/free pair:
 *
 *   maas_gpt2          A loaded checkpoint.  The weights are views into a
 *                      mapped .maas file and are never written, so any
 *                      number of threads may share one model, each with its
 *                      own context.
 *   maas_gpt2_context  One generation stream: the KV cache, the tokens it
 *                      holds, and one activation arena sized from the config
 *                      when the context is created.  Evaluating tokens never
 *                      calls malloc.  Use a context from one thread at a time.
 *   maas_sampler       The sampling settings and random state of one
 *                      request, with its own buffers (one thread at a time).
 *
 * The model follows Hugging Face's GPT2LMHeadModel: learned token and
 * position embeddings, pre-LayerNorm blocks (epsilon from the config), a
 * fused QKV projection, causal multi-head attention, a GELU MLP, a final
 * LayerNorm and an LM head that is the token embedding unless the file has
 * a separate lm_head.weight.  Weights may be f32 or f16
 * (`maas-convert --dtype f16`); activations and the KV cache are f32.
 *
 * Positions: a context holds at most n_ctx tokens (n_positions unless the
 * caller asks for fewer).  Positions 0 .. n_ctx-1 all work; evaluating a
 * token that would need position n_ctx fails with MAAS_ERR_CONTEXT_FULL and
 * changes nothing.
 *
 * A typical program (examples/maas-generate.c is a complete one):
 *
 *     maas_gpt2 *model;  maas_gpt2_context *ctx;
 *     maas_gpt2_open("gpt2.maas", &model);
 *     maas_gpt2_context_create(model, NULL, &ctx);
 *     maas_gpt2_generate_params gp;
 *     maas_gpt2_generate_params_default(&gp);
 *     gp.max_new_tokens = 50;
 *     gp.on_text = print_piece;            // called with each UTF-8 piece
 *     maas_gpt2_generate(ctx, "Hello", 5, &gp, NULL);
 *     maas_gpt2_context_free(ctx);
 *     maas_gpt2_free(model);
 *
 * Every call that can fail returns a maas_status and sets maas_last_error()
 * (see maas/common.h).
 */
#ifndef MAAS_GPT2_H
#define MAAS_GPT2_H

#include "maas/common.h"
#include "maas/file.h"
#include "maas/tensor.h"
#include "maas/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- model ---------------------------------------------------------------- */

typedef struct maas_gpt2 maas_gpt2;

/* Hyperparameters, read from the file's config keys (config.json names). */
typedef struct maas_gpt2_config {
    int n_layer;
    int n_head;
    int n_embd;                /* C, a multiple of n_head */
    int n_inner;               /* width of the MLP's hidden layer */
    int n_positions;           /* P, the context window */
    int vocab_size;            /* V */
    float layer_norm_epsilon;
    int32_t eos_token_id;      /* <|endoftext|>, or -1 when the file has none */
    maas_dtype weight_dtype;   /* dtype of wte.weight: MAAS_DTYPE_F32 or F16 */
    bool tied_lm_head;         /* true when the LM head is wte.weight */
} maas_gpt2_config;

/* Builds a model over the tensors of an open .maas file whose architecture
 * is "gpt2".  The model keeps pointers into `file`: close the file only
 * after maas_gpt2_free.  Also builds the tokenizer when the file has
 * "tokenizer." keys (see maas_gpt2_get_tokenizer).
 * Errors: MAAS_ERR_BAD_FORMAT (another architecture, or a hyperparameter
 * out of range), MAAS_ERR_NOT_FOUND (a required key), MAAS_ERR_MISSING_TENSOR,
 * MAAS_ERR_SHAPE_MISMATCH, MAAS_ERR_UNSUPPORTED (an activation function
 * other than gelu_new, gelu_pytorch_tanh, gelu or relu, or a weight dtype
 * other than f32 and f16), MAAS_ERR_OUT_OF_MEMORY.  The message names the
 * file and the key or tensor. */
maas_status maas_gpt2_load(const maas_file *file, maas_gpt2 **out);

/* Opens the .maas file at `path` and builds a model that owns it (the file
 * is closed by maas_gpt2_free).  Errors: those of maas_file_open and
 * maas_gpt2_load. */
maas_status maas_gpt2_open(const char *path, maas_gpt2 **out);

/* Frees the model (and its file when it came from maas_gpt2_open).  Every
 * context built on it must be freed first.  Accepts NULL. */
void maas_gpt2_free(maas_gpt2 *model);

/* Returns the model's hyperparameters; valid until maas_gpt2_free. */
const maas_gpt2_config *maas_gpt2_get_config(const maas_gpt2 *model);

/* Returns the tokenizer stored in the model's file, or NULL when the file
 * has none (then only the token-id functions work).  Owned by the model. */
const maas_tokenizer *maas_gpt2_get_tokenizer(const maas_gpt2 *model);

/* Returns the bytes of weights one decoding step reads: every linear weight
 * and bias, the LayerNorm parameters, the LM head and one row of each
 * embedding table.  Dividing it by the memory bandwidth gives the fastest a
 * token can be generated. */
size_t maas_gpt2_weight_bytes_per_token(const maas_gpt2 *model);

/* ---- context: KV cache and evaluation -------------------------------------- */

typedef struct maas_gpt2_context maas_gpt2_context;

typedef struct maas_gpt2_context_params {
    int n_threads;  /* threads for kernels; <= 0 means maas_cpu_count() */
    int n_ctx;      /* tokens the KV cache holds; 0 means n_positions, the
                       maximum.  Fewer saves memory. */
    int n_batch;    /* prompt tokens per batched pass (matrix-matrix
                       products); 0 means min(n_ctx, 128) */
} maas_gpt2_context_params;

/* Fills `params` with the defaults (every field 0: all cores, the full
 * window, batches of up to 128 tokens). */
void maas_gpt2_context_params_default(maas_gpt2_context_params *params);

/* Creates an empty context: allocates the KV cache (2 x n_layer x n_ctx x C
 * floats) and the activation arena in one go.  `params` may be NULL for the
 * defaults.  The model must outlive the context.
 * Errors: MAAS_ERR_INVALID_ARGUMENT (n_ctx above n_positions or negative,
 * negative n_batch), MAAS_ERR_OUT_OF_MEMORY. */
maas_status maas_gpt2_context_create(const maas_gpt2 *model,
                                     const maas_gpt2_context_params *params,
                                     maas_gpt2_context **out);

/* Frees the context.  Accepts NULL. */
void maas_gpt2_context_free(maas_gpt2_context *ctx);

/* Returns the model the context was created from. */
const maas_gpt2 *maas_gpt2_context_model(const maas_gpt2_context *ctx);

/* Sets the thread count for later calls; <= 0 means maas_cpu_count().
 * Results do not depend on it: the kernels split rows and columns over
 * threads, never a sum, so the floats are the same (tested for 1 and 2).  Errors: MAAS_ERR_INVALID_ARGUMENT above the largest of
 * maas_cpu_count() and the count given at creation (the attention scratch
 * was sized for that). */
maas_status maas_gpt2_context_set_threads(maas_gpt2_context *ctx, int n_threads);

/* Returns the capacity in tokens (n_ctx). */
int maas_gpt2_context_capacity(const maas_gpt2_context *ctx);

/* Returns the bytes the context allocated (KV cache, arena, buffers). */
size_t maas_gpt2_context_memory(const maas_gpt2_context *ctx);

/* Returns the tokens whose keys and values are in the cache, in order, and
 * their count in *n (n may be NULL).  Valid until the next call that
 * changes the context. */
const int32_t *maas_gpt2_context_tokens(const maas_gpt2_context *ctx, int *n);

/* Drops every token, so the next evaluation starts at position 0. */
void maas_gpt2_context_reset(maas_gpt2_context *ctx);

/* Keeps the first n_keep tokens and drops the rest (their keys and values
 * are overwritten by later evaluations).  The logits are cleared.
 * Errors: MAAS_ERR_INVALID_ARGUMENT when n_keep is negative or above the
 * number of tokens held. */
maas_status maas_gpt2_context_truncate(maas_gpt2_context *ctx, int n_keep);

/* Evaluates `n` tokens after those already held, at positions
 * n_held .. n_held+n-1: prompts go through in batches of n_batch tokens
 * (matrix-matrix products), and a single token (n == 1) is one decoding
 * step.  Afterwards maas_gpt2_get_logits returns the logits of the last
 * token.  When `all_logits` is not NULL it receives the logits of every
 * token, all_logits[n, V] row-major.
 * Errors: MAAS_ERR_INVALID_ARGUMENT (n < 1, or an id outside 0..V-1, named
 * with its index) and MAAS_ERR_CONTEXT_FULL (n_held + n > n_ctx) are found
 * before any work, and the context is unchanged.  A failure inside a kernel
 * leaves the context with only the tokens it held before the call and no
 * logits. */
maas_status maas_gpt2_eval(maas_gpt2_context *ctx, const int32_t *ids, int n,
                           float *all_logits);

/* Returns the logits[V] of the last token evaluated, or NULL when there are
 * none (a new, reset or truncated context).  Valid until the next call that
 * changes the context.  The values are not checked: a model with broken
 * weights can produce NaN here, and the sampler rejects it. */
const float *maas_gpt2_get_logits(const maas_gpt2_context *ctx);

/* ---- sampling ---------------------------------------------------------------- */

/* Seed value that requests a random seed from the operating system. */
#define MAAS_SEED_RANDOM UINT64_MAX

/* How the next token is chosen from the logits.  The steps run in this
 * order, as Hugging Face's generate applies them:
 *   1. repetition_penalty: each token already in the history (prompt and
 *      generated) has its logit divided by the penalty when positive and
 *      multiplied by it when negative.  1 is off; must be > 0.
 *   2. temperature <= 0 (or top_k == 1): greedy, the largest logit (the
 *      lowest id on ties).  Steps 3-6 are skipped.
 *   3. logits are divided by the temperature.
 *   4. top_k: keep the k largest logits.  0 or >= V keeps all.
 *   5. top_p: keep the smallest set of most probable tokens whose total
 *      probability reaches top_p.  1 keeps all; 0 keeps only the best.
 *   6. min_p: drop tokens whose probability is below min_p times the best
 *      one's.  0 is off.
 *   7. draw from what is left, renormalised, with the sampler's random
 *      state (xoshiro256**, seeded through splitmix64). */
typedef struct maas_sampling_params {
    float temperature;          /* default 1 */
    int top_k;                  /* default 0 (off) */
    float top_p;                /* default 1 (off), in [0, 1] */
    float min_p;                /* default 0 (off), in [0, 1] */
    float repetition_penalty;   /* default 1 (off), > 0 */
    uint64_t seed;              /* default MAAS_SEED_RANDOM */
} maas_sampling_params;

/* Fills `params` with the defaults: plain sampling from the softmax at
 * temperature 1 with no filter and a random seed (the OpenAI API's
 * defaults). */
void maas_sampling_params_default(maas_sampling_params *params);

/* Checks every field; MAAS_ERR_INVALID_ARGUMENT names the first bad one
 * (NaN, top_p or min_p outside [0, 1], repetition_penalty <= 0, top_k < 0). */
maas_status maas_sampling_params_validate(const maas_sampling_params *params);

typedef struct maas_sampler maas_sampler;

/* Creates a sampler for logits of `vocab_size` entries and seeds its random
 * state from params->seed.  All buffers are allocated here, none while
 * sampling.  Errors: MAAS_ERR_INVALID_ARGUMENT (see the validate call, or
 * vocab_size < 1), MAAS_ERR_OUT_OF_MEMORY. */
maas_status maas_sampler_create(const maas_sampling_params *params,
                                int vocab_size, maas_sampler **out);

/* Frees the sampler.  Accepts NULL. */
void maas_sampler_free(maas_sampler *sampler);

/* Returns the seed in use: params->seed, or the one drawn for
 * MAAS_SEED_RANDOM (print it to repeat a run). */
uint64_t maas_sampler_seed(const maas_sampler *sampler);

/* Restarts the random state from `seed` (MAAS_SEED_RANDOM draws a new one),
 * so the next draws repeat those after creation with that seed. */
void maas_sampler_reseed(maas_sampler *sampler, uint64_t seed);

/* Chooses the next token from logits[vocab_size] (not modified).
 * `history` (n_history ids, may be NULL when 0) is what the repetition
 * penalty looks at.  Errors: MAAS_ERR_NON_FINITE when a logit is NaN or
 * infinite (the message gives its index; *out is not set),
 * MAAS_ERR_INVALID_ARGUMENT for a history id outside the vocabulary. */
maas_status maas_sampler_sample(maas_sampler *sampler, const float *logits,
                                const int32_t *history, int n_history,
                                int32_t *out);

/* ---- streaming generation ------------------------------------------------------ */

/* Why a generation ended.  Stable values, append-only. */
typedef enum maas_stop_reason {
    MAAS_STOP_NONE = 0,          /* not ended normally: the call failed */
    MAAS_STOP_EOS = 1,           /* the model produced <|endoftext|> */
    MAAS_STOP_MAX_TOKENS = 2,    /* max_new_tokens were generated */
    MAAS_STOP_STRING = 3,        /* a stop string appeared (not delivered) */
    MAAS_STOP_CALLBACK = 4,      /* a callback returned false */
    MAAS_STOP_CONTEXT_FULL = 5,  /* the next token would need position n_ctx */
    MAAS_STOP_REASON_COUNT
} maas_stop_reason;

/* Returns "none", "eos", "max_tokens", "stop_string", "callback" or
 * "context_full". */
const char *maas_stop_reason_name(maas_stop_reason reason);

/* Receives a piece of generated text: `len` bytes of complete UTF-8 (not
 * NUL-terminated; valid only during the call).  Return false to stop. */
typedef bool (*maas_gpt2_text_fn)(const char *text, size_t len, void *user);

/* Receives each generated token id as soon as it is chosen, before its
 * text (which may be held back).  Return false to stop.  The token that
 * completes a stop string and <|endoftext|> are reported too. */
typedef bool (*maas_gpt2_token_fn)(int32_t id, void *user);

typedef struct maas_gpt2_generate_params {
    maas_sampling_params sampling;
    int max_new_tokens;         /* > 0: at most this many; <= 0: until the
                                   window is full.  Default 128. */
    const char *const *stop;    /* n_stop non-empty UTF-8 stop strings */
    int n_stop;                 /* at most MAAS_GPT2_MAX_STOP */
    bool ignore_eos;            /* keep going after <|endoftext|> (its text
                                   is empty) */
    maas_gpt2_text_fn on_text;  /* may be NULL */
    maas_gpt2_token_fn on_token;/* may be NULL */
    void *user;                 /* passed to both callbacks */
} maas_gpt2_generate_params;

#define MAAS_GPT2_MAX_STOP 16

/* Fills `params`: default sampling, max_new_tokens 128, no stop strings,
 * no callbacks. */
void maas_gpt2_generate_params_default(maas_gpt2_generate_params *params);

typedef struct maas_gpt2_generate_result {
    int n_prompt;               /* prompt tokens */
    int n_prompt_cached;        /* of those, reused from the context's cache */
    int n_generated;            /* tokens chosen, including a final
                                   <|endoftext|> or stop-string token */
    maas_stop_reason stop_reason;
    int stop_index;             /* the stop string matched, or -1 */
    uint64_t seed;              /* the seed used (see maas_sampler_seed) */
    double prompt_seconds;      /* time of the prompt pass */
    double generate_seconds;    /* time from the first to the last token */
} maas_gpt2_generate_result;

/* Generates a continuation of `prompt` (len bytes of UTF-8; the model's
 * tokenizer encodes it) and streams it.
 *
 * Prompt reuse: the context keeps the tokens of its previous call.  The
 * longest common prefix of those and the new prompt's tokens is kept in
 * the KV cache and only the rest is evaluated, so a chat that resends the
 * whole conversation pays only for the new turn.  Call
 * maas_gpt2_context_reset first to start from nothing (the output is the
 * same either way).  Each call starts a new random state from
 * params->sampling.seed: the same seed repeats the same text.  Afterwards
 * the context holds the prompt and the generated tokens except the last
 * one, which was chosen but not evaluated.
 *
 * Streaming: on_text receives text as soon as it is complete UTF-8.  Text
 * that could be the start of a stop string is held back until the next
 * tokens show it is not; a matched stop string and everything after it are
 * never delivered.  When generation ends for another reason the held-back
 * text is delivered (bytes of an unfinished UTF-8 character become U+FFFD).
 * A callback that returns false ends generation at once (held-back text is
 * dropped) with stop_reason MAAS_STOP_CALLBACK.
 *
 * Ending: at <|endoftext|> (its text is not delivered) unless ignore_eos,
 * after max_new_tokens, at a stop string, or when the next token would need
 * position n_ctx (MAAS_STOP_CONTEXT_FULL, status MAAS_OK: the window is
 * used up, like the OpenAI API's finish_reason "length").
 *
 * `result` (may be NULL) is filled on success and on failure alike.
 * Errors: MAAS_ERR_UNSUPPORTED (the model has no tokenizer),
 * MAAS_ERR_INVALID_ARGUMENT (bad sampling values, an empty prompt, more
 * than MAAS_GPT2_MAX_STOP or empty stop strings), MAAS_ERR_INVALID_UTF8 (a
 * stop string), MAAS_ERR_CONTEXT_FULL (the prompt alone does not fit in
 * n_ctx: nothing is generated), MAAS_ERR_NON_FINITE (the logits contain NaN
 * or infinity: generation stops there, and no token is chosen from them),
 * MAAS_ERR_OUT_OF_MEMORY. */
maas_status maas_gpt2_generate(maas_gpt2_context *ctx, const char *prompt,
                               size_t len,
                               const maas_gpt2_generate_params *params,
                               maas_gpt2_generate_result *result);

/* The same from prompt token ids (n >= 1).  Text callbacks need the
 * model's tokenizer (MAAS_ERR_UNSUPPORTED without one), and so do stop
 * strings; on_token works without it. */
maas_status maas_gpt2_generate_tokens(maas_gpt2_context *ctx,
                                      const int32_t *ids, int n,
                                      const maas_gpt2_generate_params *params,
                                      maas_gpt2_generate_result *result);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_GPT2_H */
