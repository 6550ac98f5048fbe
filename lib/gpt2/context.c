/* GPT-2 contexts: the KV cache, the activation arena and the forward pass. */
#include <stdlib.h>
#include <string.h>

#include "gpt2_internal.h"
#include "internal.h"

#define GPT2_DEFAULT_BATCH 128

void maas_gpt2_context_params_default(maas_gpt2_context_params *params)
{
    memset(params, 0, sizeof *params);
}

/* Buffers carved from the arena, in allocation order. */
enum {
    BUF_TOKENS, BUF_K_CACHE, BUF_V_CACHE, BUF_X, BUF_XN, BUF_QKV, BUF_ATTN,
    BUF_PROJ, BUF_HIDDEN, BUF_POSITIONS, BUF_ATTN_SCRATCH, BUF_LOGITS,
    BUF_COUNT
};

/* Computes the byte size of every buffer; false when a size overflows. */
static bool buffer_sizes(const maas_gpt2_config *c, int n_ctx, int n_batch,
                         int max_threads, size_t sizes[BUF_COUNT])
{
    const size_t C = (size_t)c->n_embd, B = (size_t)n_batch, f = sizeof(float);
    size_t cache;
    bool ok = maas_mul_size((size_t)c->n_layer, (size_t)n_ctx, &cache) &&
              maas_mul_size(cache, C * f, &cache);

    sizes[BUF_TOKENS] = (size_t)n_ctx * sizeof(int32_t);
    sizes[BUF_K_CACHE] = cache;
    sizes[BUF_V_CACHE] = cache;
    sizes[BUF_X] = B * C * f;
    sizes[BUF_XN] = B * C * f;
    sizes[BUF_QKV] = B * 3 * C * f;
    sizes[BUF_ATTN] = B * C * f;
    sizes[BUF_PROJ] = B * C * f;
    sizes[BUF_HIDDEN] = B * (size_t)c->n_inner * f;
    sizes[BUF_POSITIONS] = B * sizeof(int32_t);
    ok = ok && maas_mul_size(maas_attention_scratch_floats(n_batch, n_ctx,
                                                           c->n_head,
                                                           max_threads),
                             f, &sizes[BUF_ATTN_SCRATCH]);
    sizes[BUF_LOGITS] = (size_t)c->vocab_size * f;
    return ok;
}

maas_status maas_gpt2_context_create(const maas_gpt2 *model,
                                     const maas_gpt2_context_params *params,
                                     maas_gpt2_context **out)
{
    if (!model || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_gpt2_context_create: model and out must not "
                         "be NULL");
    maas_gpt2_context_params defaults;
    if (!params) {
        maas_gpt2_context_params_default(&defaults);
        params = &defaults;
    }
    const maas_gpt2_config *c = &model->config;

    /* Resolve the sizes. */
    if (params->n_ctx < 0 || params->n_ctx > c->n_positions)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "n_ctx %d is invalid: expected 0 (the model's "
                         "n_positions) or 1..%d", params->n_ctx,
                         c->n_positions);
    if (params->n_batch < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "n_batch %d is invalid: expected 0 (default) or more",
                         params->n_batch);
    int n_ctx = params->n_ctx ? params->n_ctx : c->n_positions;
    int n_batch = params->n_batch ? params->n_batch : GPT2_DEFAULT_BATCH;
    if (n_batch > n_ctx)
        n_batch = n_ctx;
    int n_threads = maas_resolve_threads(params->n_threads);
    int max_threads = n_threads > maas_cpu_count() ? n_threads : maas_cpu_count();

    /* One arena for the cache and every activation buffer. */
    size_t sizes[BUF_COUNT];
    if (!buffer_sizes(c, n_ctx, n_batch, max_threads, sizes))
        return maas_fail(MAAS_ERR_OVERFLOW,
                         "the KV cache for n_ctx %d does not fit in memory",
                         n_ctx);
    maas_gpt2_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for a context");
    size_t total = maas_arena_size_for(sizes, BUF_COUNT);
    maas_status st = maas_arena_init(&ctx->arena, total);
    if (st != MAAS_OK) {
        free(ctx);
        return maas_fail(st, "cannot allocate %zu bytes for a GPT-2 context "
                         "of %d tokens; a smaller n_ctx needs less", total,
                         n_ctx);
    }
    void *buf[BUF_COUNT];
    for (int i = 0; i < BUF_COUNT; i++) {
        buf[i] = maas_arena_alloc(&ctx->arena, sizes[i]);
        MAAS_ASSERT(buf[i] != NULL);
    }

    ctx->model = model;
    ctx->n_ctx = n_ctx;
    ctx->n_batch = n_batch;
    ctx->n_threads = n_threads;
    ctx->max_threads = max_threads;
    ctx->tokens = buf[BUF_TOKENS];
    ctx->k_cache = buf[BUF_K_CACHE];
    ctx->v_cache = buf[BUF_V_CACHE];
    ctx->x = buf[BUF_X];
    ctx->xn = buf[BUF_XN];
    ctx->qkv = buf[BUF_QKV];
    ctx->attn = buf[BUF_ATTN];
    ctx->proj = buf[BUF_PROJ];
    ctx->hidden = buf[BUF_HIDDEN];
    ctx->positions = buf[BUF_POSITIONS];
    ctx->attn_scratch = buf[BUF_ATTN_SCRATCH];
    ctx->logits = buf[BUF_LOGITS];
    *out = ctx;
    return MAAS_OK;
}

void maas_gpt2_context_free(maas_gpt2_context *ctx)
{
    if (!ctx)
        return;
    maas_arena_free(&ctx->arena);
    free(ctx);
}

const maas_gpt2 *maas_gpt2_context_model(const maas_gpt2_context *ctx)
{
    return ctx->model;
}

maas_status maas_gpt2_context_set_threads(maas_gpt2_context *ctx, int n_threads)
{
    int n = maas_resolve_threads(n_threads);
    if (n > ctx->max_threads)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "%d threads is more than this context was created "
                         "for (%d); create it with more threads", n,
                         ctx->max_threads);
    ctx->n_threads = n;
    return MAAS_OK;
}

int maas_gpt2_context_capacity(const maas_gpt2_context *ctx)
{
    return ctx->n_ctx;
}

size_t maas_gpt2_context_memory(const maas_gpt2_context *ctx)
{
    return ctx->arena.capacity + sizeof *ctx;
}

const int32_t *maas_gpt2_context_tokens(const maas_gpt2_context *ctx, int *n)
{
    if (n)
        *n = ctx->n_tokens;
    return ctx->tokens;
}

void maas_gpt2_context_reset(maas_gpt2_context *ctx)
{
    ctx->n_tokens = 0;
    ctx->has_logits = false;
}

maas_status maas_gpt2_context_truncate(maas_gpt2_context *ctx, int n_keep)
{
    if (n_keep < 0 || n_keep > ctx->n_tokens)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "cannot keep %d tokens: the context holds %d",
                         n_keep, ctx->n_tokens);
    ctx->n_tokens = n_keep;
    ctx->has_logits = false;
    return MAAS_OK;
}

const float *maas_gpt2_get_logits(const maas_gpt2_context *ctx)
{
    return ctx->has_logits ? ctx->logits : NULL;
}

/* Applies the MLP's activation in place to x[n]. */
static void activate(gpt2_activation act, float *x, size_t n, int n_threads)
{
    switch (act) {
    case GPT2_ACT_GELU_TANH:
        maas_gelu_tanh_f32(x, x, n, n_threads);
        break;
    case GPT2_ACT_GELU_ERF:
        maas_gelu_erf_f32(x, x, n, n_threads);
        break;
    case GPT2_ACT_RELU:
        maas_relu_f32(x, x, n, n_threads);
        break;
    }
}

/* Runs one transformer block on x[T, C] for tokens at positions
 * pos0 .. pos0+T-1, storing their keys and values in the cache. */
static maas_status block_forward(maas_gpt2_context *ctx, int layer, int T,
                                 int pos0)
{
    const maas_gpt2 *m = ctx->model;
    const maas_gpt2_config *c = &m->config;
    const gpt2_layer *l = &m->layers[layer];
    const int C = c->n_embd, H = c->n_head, D = C / H, I = c->n_inner;
    const int nt = ctx->n_threads;
    float *k_cache = ctx->k_cache + (size_t)layer * ctx->n_ctx * C;  /* [n_ctx, C] */
    float *v_cache = ctx->v_cache + (size_t)layer * ctx->n_ctx * C;  /* [n_ctx, C] */
    maas_status st;

    /* Attention: xn = ln_1(x); qkv[T, 3C] = xn . c_attn^T + b. */
    maas_layernorm_f32(ctx->xn, ctx->x, l->ln_1_weight, l->ln_1_bias, T, C,
                       c->layer_norm_epsilon, nt);
    st = maas_linear(ctx->qkv, ctx->xn, &l->attn_qkv_weight, l->attn_qkv_bias,
                     T, nt);
    if (st != MAAS_OK)
        return st;

    /* Append the new keys and values (columns C..2C and 2C..3C of qkv). */
    for (int t = 0; t < T; t++) {
        const float *row = ctx->qkv + (size_t)t * 3 * C;
        memcpy(k_cache + (size_t)(pos0 + t) * C, row + C, (size_t)C * sizeof(float));
        memcpy(v_cache + (size_t)(pos0 + t) * C, row + 2 * C, (size_t)C * sizeof(float));
    }

    /* Causal attention of the T queries over keys 0 .. pos0+T-1. */
    maas_attention_f32(ctx->attn, C, ctx->qkv, 3 * C, k_cache, C, v_cache, C,
                       T, pos0 + T, H, D, pos0, NULL, ctx->attn_scratch, nt);

    /* x += attn . c_proj^T + b. */
    st = maas_linear(ctx->proj, ctx->attn, &l->attn_proj_weight,
                     l->attn_proj_bias, T, nt);
    if (st != MAAS_OK)
        return st;
    maas_add_f32(ctx->x, ctx->x, ctx->proj, (size_t)T * C, nt);

    /* MLP: x += act(ln_2(x) . c_fc^T + b) . c_proj^T + b. */
    maas_layernorm_f32(ctx->xn, ctx->x, l->ln_2_weight, l->ln_2_bias, T, C,
                       c->layer_norm_epsilon, nt);
    st = maas_linear(ctx->hidden, ctx->xn, &l->mlp_fc_weight, l->mlp_fc_bias,
                     T, nt);
    if (st != MAAS_OK)
        return st;
    activate(m->activation, ctx->hidden, (size_t)T * I, nt);
    st = maas_linear(ctx->proj, ctx->hidden, &l->mlp_proj_weight,
                     l->mlp_proj_bias, T, nt);
    if (st != MAAS_OK)
        return st;
    maas_add_f32(ctx->x, ctx->x, ctx->proj, (size_t)T * C, nt);
    return MAAS_OK;
}

/* Evaluates T <= n_batch tokens at positions n_tokens .. n_tokens+T-1.
 * Writes the logits of every token to all_logits[T, V] when it is not
 * NULL, and those of the last token to ctx->logits when `last` is set. */
static maas_status batch_forward(maas_gpt2_context *ctx, const int32_t *ids,
                                 int T, float *all_logits, bool last)
{
    const maas_gpt2 *m = ctx->model;
    const maas_gpt2_config *c = &m->config;
    const int C = c->n_embd, nt = ctx->n_threads, pos0 = ctx->n_tokens;
    maas_status st;

    /* x[T, C] = wte[ids] + wpe[positions]. */
    for (int t = 0; t < T; t++)
        ctx->positions[t] = pos0 + t;
    if ((st = maas_embedding(ctx->x, &m->wte, ids, T)) != MAAS_OK ||
        (st = maas_embedding(ctx->proj, &m->wpe, ctx->positions, T)) != MAAS_OK)
        return st;
    maas_add_f32(ctx->x, ctx->x, ctx->proj, (size_t)T * C, nt);

    for (int layer = 0; layer < c->n_layer; layer++)
        if ((st = block_forward(ctx, layer, T, pos0)) != MAAS_OK)
            return st;

    /* logits = ln_f(x) . lm_head^T, for every row or only the last. */
    if (all_logits) {
        maas_layernorm_f32(ctx->xn, ctx->x, m->ln_f_weight, m->ln_f_bias, T,
                           C, c->layer_norm_epsilon, nt);
        st = maas_linear(all_logits, ctx->xn, &m->lm_head, NULL, T, nt);
        if (st != MAAS_OK)
            return st;
        if (last)
            memcpy(ctx->logits, all_logits + (size_t)(T - 1) * c->vocab_size,
                   (size_t)c->vocab_size * sizeof(float));
    } else if (last) {
        const float *x_last = ctx->x + (size_t)(T - 1) * C;
        maas_layernorm_f32(ctx->xn, x_last, m->ln_f_weight, m->ln_f_bias, 1,
                           C, c->layer_norm_epsilon, nt);
        st = maas_linear(ctx->logits, ctx->xn, &m->lm_head, NULL, 1, nt);
        if (st != MAAS_OK)
            return st;
    }

    memcpy(ctx->tokens + pos0, ids, (size_t)T * sizeof(int32_t));
    ctx->n_tokens += T;
    return MAAS_OK;
}

maas_status maas_gpt2_eval(maas_gpt2_context *ctx, const int32_t *ids, int n,
                           float *all_logits)
{
    const maas_gpt2_config *c = &ctx->model->config;

    /* Check everything before touching the cache. */
    if (n < 1 || !ids)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_gpt2_eval: expected at least one token, got %d",
                         n);
    if (n > ctx->n_ctx - ctx->n_tokens)
        return maas_fail(MAAS_ERR_CONTEXT_FULL,
                         "%d more tokens do not fit: the context holds %d of "
                         "%d positions (the model's window is %d)", n,
                         ctx->n_tokens, ctx->n_ctx, c->n_positions);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "token %d (index %d) is outside the vocabulary "
                             "0..%d", ids[i], i, c->vocab_size - 1);

    /* Batches of up to n_batch tokens; only the last one needs logits
     * unless the caller wants every row. */
    const int n_before = ctx->n_tokens;
    ctx->has_logits = false;
    for (int start = 0; start < n; start += ctx->n_batch) {
        int T = n - start < ctx->n_batch ? n - start : ctx->n_batch;
        float *rows = all_logits ? all_logits + (size_t)start * c->vocab_size
                                 : NULL;
        maas_status st = batch_forward(ctx, ids + start, T, rows,
                                       start + T == n);
        if (st != MAAS_OK) {
            ctx->n_tokens = n_before;
            return st;
        }
    }
    ctx->has_logits = true;
    return MAAS_OK;
}
