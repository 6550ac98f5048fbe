/* Streaming generation: prompt reuse through the KV cache, the sampling
 * loop, and stop strings held back until they are ruled out. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "gpt2_internal.h"
#include "internal.h"

/* Bytes one decoder push may return: a token's bytes plus up to three held
 * from an unfinished character (64 is the tokenizer's own bound). */
#define PIECE_MAX 256

static const char *const stop_reason_names[MAAS_STOP_REASON_COUNT] = {
    [MAAS_STOP_NONE] = "none",
    [MAAS_STOP_EOS] = "eos",
    [MAAS_STOP_MAX_TOKENS] = "max_tokens",
    [MAAS_STOP_STRING] = "stop_string",
    [MAAS_STOP_CALLBACK] = "callback",
    [MAAS_STOP_CONTEXT_FULL] = "context_full",
};

const char *maas_stop_reason_name(maas_stop_reason reason)
{
    if ((unsigned)reason >= MAAS_STOP_REASON_COUNT)
        return "unknown";
    return stop_reason_names[reason];
}

void maas_gpt2_generate_params_default(maas_gpt2_generate_params *params)
{
    memset(params, 0, sizeof *params);
    maas_sampling_params_default(&params->sampling);
    params->max_new_tokens = 128;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- text output with stop strings ------------------------------------------ */

/* The generated text not yet delivered: at most the longest stop string
 * minus one byte, plus the newest piece. */
typedef struct text_stream {
    const maas_gpt2_generate_params *params;
    size_t *stop_len;   /* [n_stop] */
    char *pending;
    size_t n_pending;
    size_t capacity;
    bool stopped;       /* a callback returned false */
    int stop_index;     /* the stop string found, or -1 */
} text_stream;

static void deliver(text_stream *ts, const char *text, size_t len)
{
    if (len == 0 || ts->stopped || !ts->params->on_text)
        return;
    if (!ts->params->on_text(text, len, ts->params->user))
        ts->stopped = true;
}

/* Returns the offset of the earliest stop string in the pending text, or
 * -1; sets ts->stop_index. */
static long find_stop(text_stream *ts)
{
    const maas_gpt2_generate_params *p = ts->params;
    long best = -1;
    for (int i = 0; i < p->n_stop; i++) {
        const char *hit = memmem(ts->pending, ts->n_pending, p->stop[i],
                                 ts->stop_len[i]);
        if (hit && (best < 0 || hit - ts->pending < best)) {
            best = hit - ts->pending;
            ts->stop_index = i;
        }
    }
    return best;
}

/* Returns the length of the longest suffix of the pending text that is a
 * proper prefix of a stop string: those bytes may still become one. */
static size_t held_back_length(const text_stream *ts)
{
    const maas_gpt2_generate_params *p = ts->params;
    size_t hold = 0;
    for (int i = 0; i < p->n_stop; i++) {
        size_t k = ts->stop_len[i] - 1;
        if (k > ts->n_pending)
            k = ts->n_pending;
        for (; k > hold; k--)
            if (!memcmp(ts->pending + ts->n_pending - k, p->stop[i], k)) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Appends a piece and delivers what can no longer be part of a stop string.
 * Returns true when a stop string was found (the text before it delivered).
 * With `final`, delivers everything that is not a stop string. */
static bool stream_text(text_stream *ts, const char *piece, size_t len,
                        bool final)
{
    MAAS_ASSERT(ts->n_pending + len <= ts->capacity);
    memcpy(ts->pending + ts->n_pending, piece, len);
    ts->n_pending += len;

    long stop_at = find_stop(ts);
    if (stop_at >= 0) {
        deliver(ts, ts->pending, (size_t)stop_at);
        ts->n_pending = 0;
        return true;
    }
    size_t hold = final ? 0 : held_back_length(ts);
    size_t ready = ts->n_pending - hold;
    deliver(ts, ts->pending, ready);
    memmove(ts->pending, ts->pending + ready, hold);
    ts->n_pending = hold;
    return false;
}

/* ---- argument checks ----------------------------------------------------------- */

static maas_status check_params(const maas_gpt2 *m,
                                const maas_gpt2_generate_params *p)
{
    maas_status st = maas_sampling_params_validate(&p->sampling);
    if (st != MAAS_OK)
        return st;
    if (p->n_stop < 0 || p->n_stop > MAAS_GPT2_MAX_STOP ||
        (p->n_stop > 0 && !p->stop))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "n_stop %d is invalid: expected 0..%d stop strings",
                         p->n_stop, MAAS_GPT2_MAX_STOP);
    for (int i = 0; i < p->n_stop; i++) {
        if (!p->stop[i] || !p->stop[i][0])
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "stop string %d is empty; remove it", i);
        const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)p->stop[i];
        utf8proc_int32_t cp;
        for (utf8proc_ssize_t at = 0; s[at];) {
            utf8proc_ssize_t n = utf8proc_iterate(s + at, -1, &cp);
            if (n < 0)
                return maas_fail(MAAS_ERR_INVALID_UTF8,
                                 "stop string %d is not valid UTF-8 at byte "
                                 "%ld", i, (long)at);
            at += n;
        }
    }
    if ((p->on_text || p->n_stop > 0) && !m->tokenizer)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s has no tokenizer, so text output and stop "
                         "strings are unavailable; use on_token",
                         maas_file_path(m->file));
    return MAAS_OK;
}

/* ---- the loop ---------------------------------------------------------------------- */

/* Evaluates the prompt, reusing the longest prefix already in the cache.
 * At least the last prompt token is evaluated, for its logits. */
static maas_status eval_prompt(maas_gpt2_context *ctx, const int32_t *ids,
                               int n, maas_gpt2_generate_result *r)
{
    int common = 0;
    while (common < ctx->n_tokens && common < n - 1 &&
           ctx->tokens[common] == ids[common])
        common++;
    ctx->n_tokens = common;
    ctx->has_logits = false;
    r->n_prompt_cached = common;

    double start = now_seconds();
    maas_status st = maas_gpt2_eval(ctx, ids + common, n - common, NULL);
    r->prompt_seconds = now_seconds() - start;
    return st;
}

typedef struct generation {
    maas_gpt2_context *ctx;
    const maas_gpt2_generate_params *params;
    maas_gpt2_generate_result *result;
    maas_sampler *sampler;
    maas_decoder *decoder;  /* NULL when no text is needed */
    text_stream text;
} generation;

/* Ends the text: the decoder's unfinished bytes, then everything held back. */
static void finish_text(generation *g)
{
    if (!g->decoder)
        return;
    char piece[PIECE_MAX];
    size_t len = 0;
    if (maas_decoder_flush(g->decoder, piece, sizeof piece, &len) != MAAS_OK)
        len = 0;
    if (stream_text(&g->text, piece, len, true)) {
        g->result->stop_reason = MAAS_STOP_STRING;
        g->result->stop_index = g->text.stop_index;
    }
}

/* Chooses tokens until a stop condition. */
static maas_status run_generation(generation *g)
{
    maas_gpt2_context *ctx = g->ctx;
    const maas_gpt2_generate_params *p = g->params;
    maas_gpt2_generate_result *r = g->result;
    const int32_t eos = ctx->model->config.eos_token_id;
    double start = now_seconds();

    for (;;) {
        /* Choose the next token from the last evaluated position. */
        int32_t token;
        maas_status st = maas_sampler_sample(g->sampler, ctx->logits,
                                             ctx->tokens, ctx->n_tokens,
                                             &token);
        if (st != MAAS_OK)
            return maas_fail(st, "after %d generated tokens: %s",
                             r->n_generated, maas_last_error());
        r->n_generated++;
        r->generate_seconds = now_seconds() - start;

        if (p->on_token && !p->on_token(token, p->user)) {
            r->stop_reason = MAAS_STOP_CALLBACK;
            return MAAS_OK;
        }
        if (token == eos && !p->ignore_eos) {
            r->stop_reason = MAAS_STOP_EOS;
            finish_text(g);
            return MAAS_OK;
        }

        /* Its text, minus what might begin a stop string. */
        if (g->decoder && token != eos) {
            char piece[PIECE_MAX];
            size_t len = 0;
            st = maas_decoder_push(g->decoder, token, piece, sizeof piece, &len);
            if (st != MAAS_OK)
                return st;
            if (stream_text(&g->text, piece, len, false)) {
                r->stop_reason = MAAS_STOP_STRING;
                r->stop_index = g->text.stop_index;
                return MAAS_OK;
            }
        }
        if (g->text.stopped) {
            r->stop_reason = MAAS_STOP_CALLBACK;
            return MAAS_OK;
        }

        /* Limits, then one decoding step for the token just chosen. */
        if (p->max_new_tokens > 0 && r->n_generated >= p->max_new_tokens) {
            r->stop_reason = MAAS_STOP_MAX_TOKENS;
            finish_text(g);
            return MAAS_OK;
        }
        if (ctx->n_tokens >= ctx->n_ctx) {
            r->stop_reason = MAAS_STOP_CONTEXT_FULL;
            finish_text(g);
            return MAAS_OK;
        }
        st = maas_gpt2_eval(ctx, &token, 1, NULL);
        if (st != MAAS_OK)
            return st;
    }
}

maas_status maas_gpt2_generate_tokens(maas_gpt2_context *ctx,
                                      const int32_t *ids, int n,
                                      const maas_gpt2_generate_params *params,
                                      maas_gpt2_generate_result *result)
{
    maas_gpt2_generate_result local;
    maas_gpt2_generate_result *r = result ? result : &local;
    memset(r, 0, sizeof *r);
    r->stop_index = -1;
    r->n_prompt = n;
    if (!ctx || !ids || !params || n < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_gpt2_generate_tokens: expected a context, "
                         "parameters and at least one prompt token (got %d)",
                         n);

    /* Checks before any work. */
    const maas_gpt2 *m = ctx->model;
    maas_status st = check_params(m, params);
    if (st != MAAS_OK)
        return st;
    if (n > ctx->n_ctx)
        return maas_fail(MAAS_ERR_CONTEXT_FULL,
                         "the prompt has %d tokens but the context holds at "
                         "most %d (the model's window is %d); shorten it",
                         n, ctx->n_ctx, m->config.n_positions);

    /* Per-request state: sampler (random state from the seed), decoder,
     * and the buffer of text held back for stop strings. */
    generation g = {.ctx = ctx, .params = params, .result = r};
    size_t longest_stop = 0;
    size_t stop_len[MAAS_GPT2_MAX_STOP];
    for (int i = 0; i < params->n_stop; i++) {
        stop_len[i] = strlen(params->stop[i]);
        if (stop_len[i] > longest_stop)
            longest_stop = stop_len[i];
    }
    g.text = (text_stream){.params = params, .stop_len = stop_len,
                           .capacity = longest_stop + 2 * PIECE_MAX,
                           .stop_index = -1};
    st = maas_sampler_create(&params->sampling, m->config.vocab_size,
                             &g.sampler);
    if (st != MAAS_OK)
        return st;
    r->seed = maas_sampler_seed(g.sampler);
    if (m->tokenizer && (params->on_text || params->n_stop > 0)) {
        g.text.pending = malloc(g.text.capacity);
        if (!g.text.pending) {
            st = maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for text");
            goto done;
        }
        if ((st = maas_decoder_create(m->tokenizer, &g.decoder)) != MAAS_OK)
            goto done;
    }

    /* Prompt pass, then one token per step. */
    st = eval_prompt(ctx, ids, n, r);
    if (st == MAAS_OK)
        st = run_generation(&g);

done:
    maas_decoder_free(g.decoder);
    free(g.text.pending);
    maas_sampler_free(g.sampler);
    return st;
}

maas_status maas_gpt2_generate(maas_gpt2_context *ctx, const char *prompt,
                               size_t len,
                               const maas_gpt2_generate_params *params,
                               maas_gpt2_generate_result *result)
{
    if (result) {
        memset(result, 0, sizeof *result);
        result->stop_index = -1;
    }
    if (!ctx || !prompt || !params)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_gpt2_generate: context, prompt and params "
                         "must not be NULL");
    const maas_tokenizer *tok = ctx->model->tokenizer;
    if (!tok)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s has no tokenizer; convert the checkpoint with "
                         "its vocab.json and merges.txt, or pass token ids",
                         maas_file_path(ctx->model->file));
    if (len == 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "the prompt is empty; GPT-2 needs at least one "
                         "token to continue");

    /* Special-token text such as <|endoftext|> becomes its id, as the
     * Hugging Face tokenizer does by default. */
    maas_encoding enc = {0};
    maas_encode_options opts = {.add_special = false, .parse_special = true};
    maas_status st = maas_tokenizer_encode(tok, prompt, len, &opts, &enc);
    if (st != MAAS_OK)
        return st;
    st = maas_gpt2_generate_tokens(ctx, enc.ids, enc.n, params, result);
    maas_encoding_free(&enc);
    return st;
}
