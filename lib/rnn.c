/* Character-level Elman RNN language models: embedding, a stack of tanh
 * nn.RNN layers, and a linear head, read from an "rnn" .maas file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "internal.h"
#include "maas/kernels.h"
#include "maas/rnn.h"
#include "weights.h"

/* Largest value accepted for a size key. */
#define RNN_MAX_DIM 65536
#define RNN_MAX_LAYERS 64

typedef struct rnn_layer {
    int input_size;            /* E for layer 0, Hd above */
    const float *w_ih;         /* [Hd, input_size] */
    const float *w_hh;         /* [Hd, Hd] */
    const float *b_ih, *b_hh;  /* [Hd] or NULL */
} rnn_layer;

typedef struct char_id {
    int32_t codepoint;
    int32_t id;
} char_id;

struct maas_rnn {
    const maas_file *file;
    int vocab, embed, hidden, n_layers;
    maas_tensor embedding;     /* [V, E] */
    rnn_layer *layers;
    maas_tensor head_w;        /* [V, Hd], f32 or f16 */
    const float *head_b;       /* [V] or NULL */
    char_id *by_codepoint;     /* [V], sorted by codepoint */
    maas_weight_copies copies; /* f32 copies of non-f32 weights */
};

struct maas_rnn_context {
    const maas_rnn *m;
    int max_tokens, n_threads, T;
    maas_arena arena;
    int32_t *ids;              /* [max_tokens] */
    float *embedded;           /* [max_tokens, E] */
    float **outputs;           /* per layer [max_tokens, Hd] */
    float *logits;             /* [max_tokens, V] */
    float *hidden;             /* [L, Hd] */
};

/* ---- loading ---------------------------------------------------------------- */

static maas_status get_dim(const maas_file *f, const char *key, int max, int *out)
{
    uint32_t v;
    if (maas_file_get_u32(f, key, &v) != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: rnn key %s is missing or not a u32",
                         maas_file_path(f), key);
    if (v < 1 || v > (uint32_t)max)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: rnn key %s is %u; expected 1..%d",
                         maas_file_path(f), key, v, max);
    *out = (int)v;
    return MAAS_OK;
}

/* Finds tensor `name` with the given shape and returns it as f32. */
static maas_status load_f32(maas_rnn *m, const char *name, int n_dims, const int64_t *shape,
                            const float **out)
{
    return maas_weight_load_f32(m->file, name, n_dims, shape, &m->copies, out);
}

static maas_status load_layer(maas_rnn *m, int k, bool bias)
{
    rnn_layer *layer = &m->layers[k];
    char name[64];
    maas_status st;
    int64_t ih[2] = {m->hidden, k == 0 ? m->embed : m->hidden};
    int64_t hh[2] = {m->hidden, m->hidden};
    int64_t b[1] = {m->hidden};

    layer->input_size = (int)ih[1];
    snprintf(name, sizeof name, "rnn.weight_ih_l%d", k);
    if ((st = load_f32(m, name, 2, ih, &layer->w_ih)))
        return st;
    snprintf(name, sizeof name, "rnn.weight_hh_l%d", k);
    if ((st = load_f32(m, name, 2, hh, &layer->w_hh)))
        return st;
    if (!bias)
        return MAAS_OK;
    snprintf(name, sizeof name, "rnn.bias_ih_l%d", k);
    if ((st = load_f32(m, name, 1, b, &layer->b_ih)))
        return st;
    snprintf(name, sizeof name, "rnn.bias_hh_l%d", k);
    return load_f32(m, name, 1, b, &layer->b_hh);
}

static int compare_codepoints(const void *a, const void *b)
{
    const char_id *x = a, *y = b;
    return (x->codepoint > y->codepoint) - (x->codepoint < y->codepoint);
}

/* Reads tokenizer.tokens: each token must be exactly one character. */
static maas_status load_vocab(maas_rnn *m)
{
    const maas_file *f = m->file;
    const char *model;
    uint32_t count;

    if (maas_file_get_str(f, "tokenizer.model", &model) != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: key tokenizer.model is missing",
                         maas_file_path(f));
    if (strcmp(model, "char") != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: tokenizer.model is \"%s\"; the rnn model supports \"char\"",
                         maas_file_path(f), model);
    if (maas_file_get_str_array(f, "tokenizer.tokens", &count) != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: key tokenizer.tokens is missing",
                         maas_file_path(f));
    if (count != (uint32_t)m->vocab)
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH, "%s: tokenizer.tokens has %u entries but "
                         "vocab_size is %d", maas_file_path(f), count, m->vocab);

    m->by_codepoint = calloc((size_t)m->vocab, sizeof *m->by_codepoint);
    if (!m->by_codepoint)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate the rnn vocabulary");
    for (int i = 0; i < m->vocab; i++) {
        const char *tok;
        uint32_t len;
        utf8proc_int32_t cp;
        maas_file_get_str_at(f, "tokenizer.tokens", (uint32_t)i, &tok, &len);
        utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)tok, len, &cp);
        if (used <= 0 || (uint32_t)used != len)
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: token %d (\"%s\") is not exactly one "
                             "UTF-8 character", maas_file_path(f), i, tok);
        m->by_codepoint[i] = (char_id){cp, i};
    }
    qsort(m->by_codepoint, (size_t)m->vocab, sizeof *m->by_codepoint, compare_codepoints);
    for (int i = 1; i < m->vocab; i++)
        if (m->by_codepoint[i].codepoint == m->by_codepoint[i - 1].codepoint)
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: tokens %d and %d are the same character",
                             maas_file_path(f), m->by_codepoint[i - 1].id,
                             m->by_codepoint[i].id);
    return MAAS_OK;
}

static maas_status load_model(maas_rnn *m)
{
    const maas_file *f = m->file;
    const char *nonlinearity;
    bool bias;
    maas_status st;

    /* Step 1: hyperparameters. */
    if (maas_file_get_str(f, "nonlinearity", &nonlinearity) != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: rnn key nonlinearity is missing",
                         maas_file_path(f));
    if (strcmp(nonlinearity, "tanh") != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: nonlinearity is \"%s\"; only \"tanh\" is "
                         "supported", maas_file_path(f), nonlinearity);
    if (maas_file_get_bool(f, "bias", &bias) != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: rnn key bias is missing or not a bool",
                         maas_file_path(f));
    if ((st = get_dim(f, "vocab_size", RNN_MAX_DIM * 16, &m->vocab)) ||
        (st = get_dim(f, "embedding_dim", RNN_MAX_DIM, &m->embed)) ||
        (st = get_dim(f, "hidden_size", RNN_MAX_DIM, &m->hidden)) ||
        (st = get_dim(f, "num_layers", RNN_MAX_LAYERS, &m->n_layers)) ||
        (st = load_vocab(m)))
        return st;

    /* Step 2: embedding table, kept in its stored dtype for maas_embedding. */
    int64_t emb[2] = {m->vocab, m->embed};
    if ((st = maas_file_tensor_shaped(f, "embedding.weight", 2, emb, &m->embedding)))
        return st;

    /* Step 3: the recurrent layers, as f32 for maas_rnn_tanh_f32. */
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    if (!m->layers)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %d rnn layers", m->n_layers);
    for (int k = 0; k < m->n_layers; k++)
        if ((st = load_layer(m, k, bias)))
            return st;

    /* Step 4: the head, with bf16 weights converted for maas_linear. */
    int64_t head[2] = {m->vocab, m->hidden};
    int64_t head_b[1] = {m->vocab};
    if ((st = maas_weight_load_linear(f, "head.weight", head, &m->copies, &m->head_w)))
        return st;
    /* nn.Linear's bias is independent of the RNN's, so it is optional. */
    maas_tensor probe;
    if (maas_file_tensor(f, "head.bias", &probe) != MAAS_OK) {
        maas_clear_error();
        return MAAS_OK;
    }
    return load_f32(m, "head.bias", 1, head_b, &m->head_b);
}

maas_status maas_rnn_load(const maas_file *f, maas_rnn **out)
{
    if (!f || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_rnn_load: file and out must not be NULL");
    if (strcmp(maas_file_arch(f), "rnn") != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s has architecture \"%s\", not \"rnn\"",
                         maas_file_path(f), maas_file_arch(f));
    maas_rnn *m = calloc(1, sizeof *m);
    if (!m)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate an rnn model");
    m->file = f;
    maas_status st = load_model(m);
    if (st != MAAS_OK) {
        maas_rnn_free(m);
        return st;
    }
    *out = m;
    return MAAS_OK;
}

void maas_rnn_free(maas_rnn *m)
{
    if (!m)
        return;
    maas_weight_copies_free(&m->copies);
    free(m->layers);
    free(m->by_codepoint);
    free(m);
}

int maas_rnn_vocab_size(const maas_rnn *m) { return m->vocab; }
int maas_rnn_embedding_dim(const maas_rnn *m) { return m->embed; }
int maas_rnn_hidden_size(const maas_rnn *m) { return m->hidden; }
int maas_rnn_num_layers(const maas_rnn *m) { return m->n_layers; }

/* ---- characters ------------------------------------------------------------------ */

maas_status maas_rnn_encode(const maas_rnn *m, const char *text, int32_t *ids, int max_ids,
                            int *n_ids)
{
    if (!m || !text || !n_ids || (max_ids > 0 && !ids))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_rnn_encode: model, text, n_ids (and ids when max_ids > 0) "
                         "must not be NULL");
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    size_t left = strlen(text);
    int n = 0;
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t used = utf8proc_iterate(p, (utf8proc_ssize_t)left, &cp);
        if (used <= 0)
            return maas_fail(MAAS_ERR_INVALID_UTF8, "invalid UTF-8 at byte %zu of the text",
                             (size_t)(p - (const utf8proc_uint8_t *)text));
        char_id key = {cp, 0};
        const char_id *hit = bsearch(&key, m->by_codepoint, (size_t)m->vocab,
                                     sizeof *m->by_codepoint, compare_codepoints);
        if (!hit)
            return maas_fail(MAAS_ERR_NOT_FOUND,
                             "character \"%.*s\" (U+%04X) at byte %zu is not in the model's "
                             "vocabulary", (int)used, (const char *)p, (unsigned)cp,
                             (size_t)(p - (const utf8proc_uint8_t *)text));
        if (n < max_ids)
            ids[n] = hit->id;
        if (n == INT32_MAX)
            return maas_fail(MAAS_ERR_OVERFLOW, "the text has more than %d characters", n);
        n++;
        p += used;
        left -= (size_t)used;
    }
    *n_ids = n;
    return MAAS_OK;
}

const char *maas_rnn_token(const maas_rnn *m, int id)
{
    const char *tok;
    if (!m || id < 0 || id >= m->vocab)
        return NULL;
    if (maas_file_get_str_at(m->file, "tokenizer.tokens", (uint32_t)id, &tok, NULL) != MAAS_OK)
        return NULL;
    return tok;
}

/* ---- contexts and the forward pass ------------------------------------------------- */

maas_status maas_rnn_context_create(const maas_rnn *m, int max_tokens, int n_threads,
                                    maas_rnn_context **out)
{
    if (!m || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_rnn_context_create: model and out must not be NULL");
    if (max_tokens < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "max_tokens is %d; it must be at least 1",
                         max_tokens);
    maas_rnn_context *ctx = calloc(1, sizeof *ctx);
    float **outputs = calloc((size_t)m->n_layers, sizeof *outputs);
    if (!ctx || !outputs) {
        free(ctx);
        free(outputs);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate an rnn context");
    }
    ctx->m = m;
    ctx->max_tokens = max_tokens;
    ctx->n_threads = maas_resolve_threads(n_threads);
    ctx->outputs = outputs;

    /* Step 1: sizes.  ids, embedding, one output per layer, logits, state. */
    size_t n_sizes = (size_t)m->n_layers + 4;
    size_t sizes[RNN_MAX_LAYERS + 4];
    size_t T = (size_t)max_tokens;
    bool ok = maas_mul_size(T, sizeof(int32_t), &sizes[0]) &&
              maas_mul_size(T * sizeof(float), (size_t)m->embed, &sizes[1]) &&
              maas_mul_size(T * sizeof(float), (size_t)m->vocab, &sizes[2]) &&
              maas_mul_size((size_t)m->n_layers * sizeof(float), (size_t)m->hidden, &sizes[3]);
    for (int k = 0; ok && k < m->n_layers; k++)
        ok = maas_mul_size(T * sizeof(float), (size_t)m->hidden, &sizes[4 + k]);
    if (!ok) {
        maas_rnn_context_free(ctx);
        return maas_fail(MAAS_ERR_OVERFLOW, "rnn activations for %d tokens overflow size_t",
                         max_tokens);
    }

    /* Step 2: one arena for all of them. */
    maas_status st = maas_arena_init(&ctx->arena, maas_arena_size_for(sizes, n_sizes));
    if (st != MAAS_OK) {
        maas_rnn_context_free(ctx);
        return st;
    }
    ctx->ids = maas_arena_alloc(&ctx->arena, sizes[0]);
    ctx->embedded = maas_arena_alloc(&ctx->arena, sizes[1]);
    ctx->logits = maas_arena_alloc(&ctx->arena, sizes[2]);
    ctx->hidden = maas_arena_alloc(&ctx->arena, sizes[3]);
    MAAS_ASSERT(ctx->ids && ctx->embedded && ctx->logits && ctx->hidden);
    for (int k = 0; k < m->n_layers; k++) {
        ctx->outputs[k] = maas_arena_alloc(&ctx->arena, sizes[4 + k]);
        MAAS_ASSERT(ctx->outputs[k]);
    }
    maas_rnn_context_reset(ctx);
    *out = ctx;
    return MAAS_OK;
}

void maas_rnn_context_free(maas_rnn_context *ctx)
{
    if (!ctx)
        return;
    maas_arena_free(&ctx->arena);
    free(ctx->outputs);
    free(ctx);
}

void maas_rnn_context_reset(maas_rnn_context *ctx)
{
    memset(ctx->hidden, 0, (size_t)ctx->m->n_layers * ctx->m->hidden * sizeof(float));
    ctx->T = 0;
}

maas_status maas_rnn_forward(maas_rnn_context *ctx, const int32_t *ids, int T, float *logits)
{
    if (!ctx || !ids)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_rnn_forward: context and ids must not be NULL");
    if (T < 1 || T > ctx->max_tokens)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "T is %d; it must be in 1..%d (the context's max_tokens)", T,
                         ctx->max_tokens);
    const maas_rnn *m = ctx->m;
    maas_status st;

    /* Step 1: embedding lookup, which rejects an id outside the vocabulary. */
    if ((st = maas_embedding(ctx->embedded, &m->embedding, ids, T)) != MAAS_OK)
        return st;
    memcpy(ctx->ids, ids, (size_t)T * sizeof *ids);
    ctx->T = T;

    /* Step 2: each layer runs the whole sequence from its saved state,
     * h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), then keeps h_{T-1}. */
    const float *x = ctx->embedded;
    for (int k = 0; k < m->n_layers; k++) {
        const rnn_layer *layer = &m->layers[k];
        float *h = ctx->hidden + (size_t)k * m->hidden;
        st = maas_rnn_tanh_f32(ctx->outputs[k], x, h, layer->w_ih, layer->w_hh, layer->b_ih,
                               layer->b_hh, T, layer->input_size, m->hidden, ctx->n_threads);
        if (st != MAAS_OK)
            return st;
        memcpy(h, ctx->outputs[k] + (size_t)(T - 1) * m->hidden, (size_t)m->hidden * sizeof *h);
        x = ctx->outputs[k];
    }

    /* Step 3: the head gives logits[T, V]. */
    if ((st = maas_linear(ctx->logits, x, &m->head_w, m->head_b, T, ctx->n_threads)))
        return st;
    if (!maas_all_finite_f32(ctx->logits, (size_t)T * m->vocab))
        return maas_fail(MAAS_ERR_NON_FINITE, "the rnn logits contain a NaN or infinity");
    if (logits)
        memcpy(logits, ctx->logits, (size_t)T * m->vocab * sizeof *logits);
    return MAAS_OK;
}

const float *maas_rnn_layer_output(const maas_rnn_context *ctx, int i)
{
    if (!ctx || i < 0 || i > ctx->m->n_layers + 1)
        return NULL;
    if (i == 0)
        return ctx->embedded;
    if (i == ctx->m->n_layers + 1)
        return ctx->logits;
    return ctx->outputs[i - 1];
}

const float *maas_rnn_last_logits(const maas_rnn_context *ctx)
{
    if (!ctx || ctx->T < 1)
        return NULL;
    return ctx->logits + (size_t)(ctx->T - 1) * ctx->m->vocab;
}

const float *maas_rnn_hidden(const maas_rnn_context *ctx, int k)
{
    if (!ctx || k < 0 || k >= ctx->m->n_layers)
        return NULL;
    return ctx->hidden + (size_t)k * ctx->m->hidden;
}
