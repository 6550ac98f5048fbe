/* BERT: loading a model from a .maas file, contexts, and the encoder
 * forward pass on packed batches with its three heads. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"
#include "internal.h"

/* ---- pooling names ---- */

static const char *const pooling_names[MAAS_POOLING_COUNT] = {
    [MAAS_POOLING_MEAN] = "mean",
    [MAAS_POOLING_CLS] = "cls",
    [MAAS_POOLING_MAX] = "max",
};

const char *maas_pooling_name(maas_pooling pooling)
{
    if ((unsigned)pooling >= MAAS_POOLING_COUNT)
        return NULL;
    return pooling_names[pooling];
}

maas_status maas_pooling_from_name(const char *name, maas_pooling *out)
{
    for (int i = 0; name && i < MAAS_POOLING_COUNT; i++) {
        if (strcmp(name, pooling_names[i]) == 0) {
            *out = (maas_pooling)i;
            return MAAS_OK;
        }
    }
    return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                     "invalid pooling mode \"%s\": expected mean, cls or max",
                     name ? name : "(null)");
}

/* ---- loading ---- */

static maas_status get_int(const maas_file *f, const char *key, int min, int *out)
{
    uint32_t v;
    maas_status st = maas_file_get_u32(f, key, &v);
    if (st == MAAS_ERR_NOT_FOUND)
        return maas_fail(st, "%s: the BERT config key \"%s\" is missing; "
                         "reconvert the checkpoint with maas-convert",
                         maas_file_path(f), key);
    if (st != MAAS_OK)
        return st;
    if (v < (uint32_t)min || v > (uint32_t)1 << 30)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: \"%s\" is %u, expected %d .. 2^30",
                         maas_file_path(f), key, v, min);
    *out = (int)v;
    return MAAS_OK;
}

static maas_status read_config(const maas_file *f, maas_bert_config *c)
{
    maas_status st;
    if ((st = get_int(f, "num_hidden_layers", 1, &c->n_layers)) ||
        (st = get_int(f, "num_attention_heads", 1, &c->n_heads)) ||
        (st = get_int(f, "hidden_size", 1, &c->hidden_size)) ||
        (st = get_int(f, "intermediate_size", 1, &c->intermediate_size)) ||
        (st = get_int(f, "max_position_embeddings", 1, &c->max_positions)) ||
        (st = get_int(f, "vocab_size", 1, &c->vocab_size)) ||
        (st = get_int(f, "type_vocab_size", 1, &c->type_vocab_size)))
        return st;

    st = maas_file_get_f32(f, "layer_norm_eps", &c->layer_norm_eps);
    if (st == MAAS_ERR_NOT_FOUND)
        return maas_fail(st, "%s: the BERT config key \"layer_norm_eps\" is missing",
                         maas_file_path(f));
    if (st != MAAS_OK)
        return st;
    if (!(c->layer_norm_eps >= 0.0f) || !isfinite(c->layer_norm_eps))
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: layer_norm_eps is %g, expected a finite value >= 0",
                         maas_file_path(f), (double)c->layer_norm_eps);

    const char *act = "gelu";
    st = maas_file_get_str(f, "hidden_act", &act);
    if (st != MAAS_OK && st != MAAS_ERR_NOT_FOUND)
        return st;
    if (strcmp(act, "gelu") != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: hidden_act \"%s\" is not supported; libmaas runs BERT with "
                         "\"gelu\" (the exact erf form) only", maas_file_path(f), act);
    if (c->hidden_size % c->n_heads != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: hidden_size %d is not divisible by num_attention_heads %d",
                         maas_file_path(f), c->hidden_size, c->n_heads);

    /* sentence-transformers pooling: absent keys mean no such config. */
    c->pooling = MAAS_POOLING_MEAN;
    c->normalize = false;
    const char *mode;
    st = maas_file_get_str(f, "pooling.mode", &mode);
    if (st == MAAS_OK) {
        c->has_pooling_config = true;
        if (maas_pooling_from_name(mode, &c->pooling) != MAAS_OK)
            return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: pooling.mode \"%s\" is not supported "
                             "(expected mean, cls or max)", maas_file_path(f), mode);
    } else if (st != MAAS_ERR_NOT_FOUND) {
        return st;
    }
    st = maas_file_get_bool(f, "pooling.normalize", &c->normalize);
    if (st != MAAS_OK && st != MAAS_ERR_NOT_FOUND)
        return st;
    uint32_t max_seq_length = 0;
    st = maas_file_get_u32(f, "pooling.max_seq_length", &max_seq_length);
    if (st != MAAS_OK && st != MAAS_ERR_NOT_FOUND)
        return st;
    if (st == MAAS_OK && max_seq_length < 2)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: pooling.max_seq_length %u is too small "
                         "(expected >= 2, for [CLS] and [SEP])", maas_file_path(f), max_seq_length);
    /* A limit above the positions is unusable in sentence-transformers as
     * well (longer texts fail there), so the positions bound it. */
    if (max_seq_length > (uint32_t)c->max_positions)
        max_seq_length = (uint32_t)c->max_positions;
    c->embed_max_length = (int)max_seq_length;
    return MAAS_OK;
}

/* Finds a 2-D weight of shape [rows, cols] (f32 or f16). */
static maas_status get_matrix(const maas_file *f, const char *name, int64_t rows,
                              int64_t cols, maas_tensor *out)
{
    maas_status st = maas_file_tensor_shaped(f, name, 2, (int64_t[]){rows, cols}, out);
    if (st != MAAS_OK)
        return st;
    if (out->dtype != MAAS_DTYPE_F32 && out->dtype != MAAS_DTYPE_F16)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: tensor %s is %s; BERT weights must be f32 "
                         "or f16 (convert with --dtype f32 or f16)", maas_file_path(f), name,
                         maas_dtype_name(out->dtype));
    return MAAS_OK;
}

/* Finds a 1-D tensor of n elements as f32, converting f16/bf16 into memory
 * the model owns. */
static maas_status get_vector(maas_bert *m, const char *name, int64_t n, const float **out)
{
    maas_tensor t;
    maas_status st = maas_file_tensor_shaped(m->file, name, 1, (int64_t[]){n}, &t);
    if (st != MAAS_OK)
        return st;
    if (t.dtype == MAAS_DTYPE_F32) {
        *out = t.data;
        return MAAS_OK;
    }
    float *copy = malloc((size_t)n * sizeof(float));
    float **list = realloc(m->converted, (size_t)(m->n_converted + 1) * sizeof(float *));
    if (!copy || !list) {
        free(copy);
        if (list)
            m->converted = list;
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory converting %s to f32", name);
    }
    m->converted = list;
    m->converted[m->n_converted++] = copy;
    st = maas_convert_to_f32(copy, t.data, t.dtype, (size_t)n);
    if (st != MAAS_OK)
        return st;
    *out = copy;
    return MAAS_OK;
}

static maas_status load_layer(maas_bert *m, int i, bert_layer *L)
{
    const int64_t C = m->config.hidden_size, I = m->config.intermediate_size;
    char name[128];
    maas_status st;

#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "encoder.layer.%d.%s", i, suffix), name)
    if ((st = get_matrix(m->file, LAYER_NAME("attention.self.query.weight"), C, C, &L->query_w)) ||
        (st = get_vector(m, LAYER_NAME("attention.self.query.bias"), C, &L->query_b)) ||
        (st = get_matrix(m->file, LAYER_NAME("attention.self.key.weight"), C, C, &L->key_w)) ||
        (st = get_vector(m, LAYER_NAME("attention.self.key.bias"), C, &L->key_b)) ||
        (st = get_matrix(m->file, LAYER_NAME("attention.self.value.weight"), C, C, &L->value_w)) ||
        (st = get_vector(m, LAYER_NAME("attention.self.value.bias"), C, &L->value_b)) ||
        (st = get_matrix(m->file, LAYER_NAME("attention.output.dense.weight"), C, C, &L->attn_out_w)) ||
        (st = get_vector(m, LAYER_NAME("attention.output.dense.bias"), C, &L->attn_out_b)) ||
        (st = get_vector(m, LAYER_NAME("attention.output.LayerNorm.weight"), C, &L->attn_ln_g)) ||
        (st = get_vector(m, LAYER_NAME("attention.output.LayerNorm.bias"), C, &L->attn_ln_b)) ||
        (st = get_matrix(m->file, LAYER_NAME("intermediate.dense.weight"), I, C, &L->ffn_in_w)) ||
        (st = get_vector(m, LAYER_NAME("intermediate.dense.bias"), I, &L->ffn_in_b)) ||
        (st = get_matrix(m->file, LAYER_NAME("output.dense.weight"), C, I, &L->ffn_out_w)) ||
        (st = get_vector(m, LAYER_NAME("output.dense.bias"), C, &L->ffn_out_b)) ||
        (st = get_vector(m, LAYER_NAME("output.LayerNorm.weight"), C, &L->out_ln_g)) ||
        (st = get_vector(m, LAYER_NAME("output.LayerNorm.bias"), C, &L->out_ln_b)))
        return st;
#undef LAYER_NAME
    return MAAS_OK;
}

/* Returns true when the file has a tensor of that name. */
static bool has_tensor(const maas_file *f, const char *name)
{
    for (uint32_t i = 0; i < maas_file_tensor_count(f); i++)
        if (strcmp(maas_file_tensor_name(f, i), name) == 0)
            return true;
    return false;
}

static maas_status load_weights(maas_bert *m)
{
    const maas_bert_config *c = &m->config;
    const int64_t C = c->hidden_size;
    maas_status st;

    /* Embeddings, then the blocks in order, then the optional heads. */
    if ((st = get_matrix(m->file, "embeddings.word_embeddings.weight", c->vocab_size, C, &m->word_emb)) ||
        (st = get_matrix(m->file, "embeddings.position_embeddings.weight", c->max_positions, C, &m->pos_emb)) ||
        (st = get_matrix(m->file, "embeddings.token_type_embeddings.weight", c->type_vocab_size, C, &m->type_emb)) ||
        (st = get_vector(m, "embeddings.LayerNorm.weight", C, &m->emb_ln_g)) ||
        (st = get_vector(m, "embeddings.LayerNorm.bias", C, &m->emb_ln_b)))
        return st;

    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for %d BERT layers", c->n_layers);
    for (int i = 0; i < c->n_layers; i++)
        if ((st = load_layer(m, i, &m->layers[i])) != MAAS_OK)
            return st;

    m->config.has_pooler = has_tensor(m->file, "pooler.dense.weight");
    if (has_tensor(m->file, "qa_outputs.weight")) {
        if ((st = get_matrix(m->file, "qa_outputs.weight", 2, C, &m->qa_w)) ||
            (st = get_vector(m, "qa_outputs.bias", 2, &m->qa_b)))
            return st;
        m->config.has_qa_head = true;
    }
    return MAAS_OK;
}

maas_status maas_bert_load(const maas_file *file, maas_bert **out)
{
    if (!file || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_load: file and out must not be NULL");
    const char *arch = maas_file_arch(file);
    if (!arch || strcmp(arch, "bert") != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: architecture is \"%s\", expected \"bert\"",
                         maas_file_path(file), arch ? arch : "");

    maas_bert *m = calloc(1, sizeof *m);
    if (!m)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for the BERT model");
    m->file = file;

    maas_status st = read_config(file, &m->config);
    if (st == MAAS_OK)
        st = load_weights(m);
    if (st == MAAS_OK && maas_file_has(file, "tokenizer.model"))
        st = maas_tokenizer_from_file(file, &m->tokenizer);
    if (st != MAAS_OK) {
        maas_bert_free(m);
        return st;
    }
    *out = m;
    return MAAS_OK;
}

maas_status maas_bert_open(const char *path, maas_bert **out)
{
    if (!path || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_open: path and out must not be NULL");
    maas_file *f;
    maas_status st = maas_file_open(path, &f);
    if (st != MAAS_OK)
        return st;
    maas_bert *m;
    st = maas_bert_load(f, &m);
    if (st != MAAS_OK) {
        maas_file_close(f);
        return st;
    }
    m->owned_file = f;
    *out = m;
    return MAAS_OK;
}

void maas_bert_free(maas_bert *m)
{
    if (!m)
        return;
    maas_tokenizer_free(m->tokenizer);
    for (int i = 0; i < m->n_converted; i++)
        free(m->converted[i]);
    free(m->converted);
    free(m->layers);
    maas_file_close(m->owned_file);
    free(m);
}

const maas_bert_config *maas_bert_get_config(const maas_bert *m)
{
    return &m->config;
}

const maas_tokenizer *maas_bert_get_tokenizer(const maas_bert *m)
{
    return m->tokenizer;
}

/* ---- contexts ---- */

void maas_bert_context_params_default(const maas_bert *m, maas_bert_context_params *p)
{
    p->max_seq_len = m->config.max_positions;
    p->max_tokens = p->max_seq_len > 2048 ? p->max_seq_len : 2048;
    p->n_threads = 0;
}

maas_status maas_bert_context_create(const maas_bert *m, const maas_bert_context_params *params,
                                     maas_bert_context **out)
{
    if (!m || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_context_create: model and out must not be NULL");
    maas_bert_context_params p;
    if (params)
        p = *params;
    else
        maas_bert_context_params_default(m, &p);
    if (p.max_seq_len < 1 || p.max_seq_len > m->config.max_positions)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "max_seq_len %d is outside 1 .. %d (the model's max_position_embeddings)",
                         p.max_seq_len, m->config.max_positions);
    if (p.max_tokens < p.max_seq_len || p.max_tokens > (1 << 24))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "max_tokens %d must be at least max_seq_len %d and at most 2^24",
                         p.max_tokens, p.max_seq_len);
    p.n_threads = maas_resolve_threads(p.n_threads);

    const size_t N = (size_t)p.max_tokens, C = (size_t)m->config.hidden_size;
    const size_t I = (size_t)m->config.intermediate_size;
    const int S = p.max_seq_len, H = m->config.n_heads;

    /* Attention runs either one sequence at a time on every thread, or one
     * sequence per thread on a single thread each: size the scratch for both. */
    size_t one = maas_attention_scratch_floats(S, S, H, 1);
    size_t all = maas_attention_scratch_floats(S, S, H, p.n_threads);
    size_t per_thread = one * (size_t)p.n_threads;
    size_t scratch = all > per_thread ? all : per_thread;

    size_t sizes[] = {
        N * C * sizeof(float), N * C * sizeof(float), N * C * sizeof(float),
        N * C * sizeof(float), N * C * sizeof(float), N * C * sizeof(float),
        N * I * sizeof(float), scratch * sizeof(float),
        N * sizeof(int32_t), N * sizeof(int32_t), N * sizeof(int32_t),
        N * sizeof(int32_t), N * sizeof(int), N * sizeof(int32_t),
    };

    maas_bert_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for a BERT context");
    ctx->model = m;
    ctx->params = p;
    ctx->scratch_per_thread = one;
    maas_status st = maas_arena_init(&ctx->arena, maas_arena_size_for(sizes, sizeof sizes / sizeof *sizes));
    if (st != MAAS_OK) {
        free(ctx);
        return st;
    }

    /* Carve every buffer out of the one block, in the order of `sizes`. */
    maas_arena *a = &ctx->arena;
    ctx->x = maas_arena_alloc(a, sizes[0]);
    ctx->q = maas_arena_alloc(a, sizes[1]);
    ctx->k = maas_arena_alloc(a, sizes[2]);
    ctx->v = maas_arena_alloc(a, sizes[3]);
    ctx->attn = maas_arena_alloc(a, sizes[4]);
    ctx->tmp = maas_arena_alloc(a, sizes[5]);
    ctx->ffn = maas_arena_alloc(a, sizes[6]);
    ctx->scratch = maas_arena_alloc(a, sizes[7]);
    ctx->positions = maas_arena_alloc(a, sizes[8]);
    ctx->zero_types = maas_arena_alloc(a, sizes[9]);
    ctx->stage_ids = maas_arena_alloc(a, sizes[10]);
    ctx->stage_types = maas_arena_alloc(a, sizes[11]);
    ctx->stage_lens = maas_arena_alloc(a, sizes[12]);
    ctx->seq_start = maas_arena_alloc(a, sizes[13]);
    MAAS_ASSERT(ctx->seq_start != NULL);
    memset(ctx->zero_types, 0, sizes[9]);

    *out = ctx;
    return MAAS_OK;
}

void maas_bert_context_free(maas_bert_context *ctx)
{
    if (!ctx)
        return;
    maas_arena_free(&ctx->arena);
    free(ctx);
}

maas_bert_context_params maas_bert_context_get_params(const maas_bert_context *ctx)
{
    return ctx->params;
}

/* ---- forward pass ---- */

maas_status bert_check_batch(const maas_bert_context *ctx, const maas_bert_batch *b, int *n_tokens)
{
    if (!ctx || !b || !b->seq_lens || !b->ids)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "BERT batch: ctx, batch, seq_lens and ids must not be NULL");
    if (b->n_seqs < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "BERT batch: n_seqs is %d, expected >= 1", b->n_seqs);

    const maas_bert_config *c = &ctx->model->config;
    long total = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int len = b->seq_lens[s];
        if (len < 1)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "BERT batch: sequence %d has length %d, expected >= 1",
                             s, len);
        if (len > c->max_positions)
            return maas_fail(MAAS_ERR_CONTEXT_FULL,
                             "BERT batch: sequence %d has %d tokens, more than the model's %d positions "
                             "(max_position_embeddings); shorten or split the text", s, len, c->max_positions);
        if (len > ctx->params.max_seq_len)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "BERT batch: sequence %d has %d tokens, more than the context's max_seq_len %d; "
                             "create the context with a larger max_seq_len", s, len, ctx->params.max_seq_len);
        total += len;
        if (total > ctx->params.max_tokens)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "BERT batch: more than the context's max_tokens %d tokens in %d sequences; "
                             "split the batch or create a larger context", ctx->params.max_tokens, b->n_seqs);
    }
    for (long t = 0; t < total; t++) {
        if (b->ids[t] < 0 || b->ids[t] >= c->vocab_size)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "BERT batch: token %ld has id %d, outside 0 .. %d",
                             t, (int)b->ids[t], c->vocab_size - 1);
        if (b->type_ids && (b->type_ids[t] < 0 || b->type_ids[t] >= c->type_vocab_size))
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "BERT batch: token %ld has type id %d, outside 0 .. %d",
                             t, (int)b->type_ids[t], c->type_vocab_size - 1);
    }
    *n_tokens = (int)total;
    return MAAS_OK;
}

/* Self-attention of every sequence over its own tokens.  Many short
 * sequences run in parallel, one per thread; otherwise each sequence uses
 * every thread. */
static void attend_packed(maas_bert_context *ctx, const maas_bert_batch *b)
{
    const maas_bert_config *c = &ctx->model->config;
    const int C = c->hidden_size, H = c->n_heads, D = C / H;
    const int n_threads = ctx->params.n_threads;

    /* Each sequence's first row, from the prefix sums of the lengths. */
    int32_t row = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        ctx->seq_start[s] = row;
        row += b->seq_lens[s];
    }

    if (n_threads > 1 && b->n_seqs >= 2 * n_threads) {
        #pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1)
        for (int s = 0; s < b->n_seqs; s++) {
            size_t first = (size_t)ctx->seq_start[s] * (size_t)C;
            int T = b->seq_lens[s];
            float *scratch = ctx->scratch + (size_t)omp_get_thread_num() * ctx->scratch_per_thread;
            maas_attention_f32(ctx->attn + first, C, ctx->q + first, C, ctx->k + first, C,
                               ctx->v + first, C, T, T, H, D, -1, NULL, scratch, 1);
        }
        return;
    }

    for (int s = 0; s < b->n_seqs; s++) {
        size_t first = (size_t)ctx->seq_start[s] * (size_t)C;
        int T = b->seq_lens[s];
        maas_attention_f32(ctx->attn + first, C, ctx->q + first, C, ctx->k + first, C,
                           ctx->v + first, C, T, T, H, D, -1, NULL, ctx->scratch, n_threads);
    }
}

maas_status bert_encode(maas_bert_context *ctx, const maas_bert_batch *b)
{
    const maas_bert *m = ctx->model;
    const maas_bert_config *c = &m->config;
    const int C = c->hidden_size, I = c->intermediate_size;
    const int nt = ctx->params.n_threads;
    const float eps = c->layer_norm_eps;
    int N;
    maas_status st = bert_check_batch(ctx, b, &N);
    if (st != MAAS_OK)
        return st;
    const size_t NC = (size_t)N * (size_t)C;

    /* Position ids restart at 0 for every sequence. */
    for (int s = 0, row = 0; s < b->n_seqs; s++)
        for (int t = 0; t < b->seq_lens[s]; t++)
            ctx->positions[row++] = t;

    /* Embeddings: x = LayerNorm(word[ids] + position[pos] + type[type_ids]). */
    if ((st = maas_embedding(ctx->x, &m->word_emb, b->ids, N)) ||
        (st = maas_embedding(ctx->tmp, &m->pos_emb, ctx->positions, N)))
        return st;
    maas_add_f32(ctx->x, ctx->x, ctx->tmp, NC, nt);
    if ((st = maas_embedding(ctx->tmp, &m->type_emb, b->type_ids ? b->type_ids : ctx->zero_types, N)))
        return st;
    maas_add_f32(ctx->x, ctx->x, ctx->tmp, NC, nt);
    maas_layernorm_f32(ctx->x, ctx->x, m->emb_ln_g, m->emb_ln_b, N, C, eps, nt);

    for (int l = 0; l < c->n_layers; l++) {
        const bert_layer *L = &m->layers[l];

        /* Self-attention: q, k, v projections of every token, then each
         * sequence attends to its own tokens only. */
        if ((st = maas_linear(ctx->q, ctx->x, &L->query_w, L->query_b, N, nt)) ||
            (st = maas_linear(ctx->k, ctx->x, &L->key_w, L->key_b, N, nt)) ||
            (st = maas_linear(ctx->v, ctx->x, &L->value_w, L->value_b, N, nt)))
            return st;
        attend_packed(ctx, b);

        /* x = LayerNorm(x + attn . Wo^T + bo) */
        if ((st = maas_linear(ctx->tmp, ctx->attn, &L->attn_out_w, L->attn_out_b, N, nt)))
            return st;
        maas_add_f32(ctx->tmp, ctx->tmp, ctx->x, NC, nt);
        maas_layernorm_f32(ctx->x, ctx->tmp, L->attn_ln_g, L->attn_ln_b, N, C, eps, nt);

        /* x = LayerNorm(x + gelu(x . W1^T + b1) . W2^T + b2) */
        if ((st = maas_linear(ctx->ffn, ctx->x, &L->ffn_in_w, L->ffn_in_b, N, nt)))
            return st;
        maas_gelu_erf_f32(ctx->ffn, ctx->ffn, (size_t)N * (size_t)I, nt);
        if ((st = maas_linear(ctx->tmp, ctx->ffn, &L->ffn_out_w, L->ffn_out_b, N, nt)))
            return st;
        maas_add_f32(ctx->tmp, ctx->tmp, ctx->x, NC, nt);
        maas_layernorm_f32(ctx->x, ctx->tmp, L->out_ln_g, L->out_ln_b, N, C, eps, nt);
    }

    if (!maas_all_finite_f32(ctx->x, NC))
        return maas_fail(MAAS_ERR_NON_FINITE, "BERT: the last hidden state contains NaN or infinity "
                         "(check the model file's weights)");
    return MAAS_OK;
}

/* ---- heads ---- */

maas_status maas_bert_hidden(maas_bert_context *ctx, const maas_bert_batch *b, float *out)
{
    if (!out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_hidden: out must not be NULL");
    maas_status st = bert_encode(ctx, b);
    if (st != MAAS_OK)
        return st;
    long n = 0;
    for (int s = 0; s < b->n_seqs; s++)
        n += b->seq_lens[s];
    memcpy(out, ctx->x, (size_t)n * (size_t)ctx->model->config.hidden_size * sizeof(float));
    return MAAS_OK;
}

maas_status maas_bert_qa_logits(maas_bert_context *ctx, const maas_bert_batch *b, float *start,
                                float *end)
{
    if (!ctx || !start || !end)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_qa_logits: ctx, start and end must not be NULL");
    const maas_bert *m = ctx->model;
    if (!m->config.has_qa_head)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s has no question-answering head (qa_outputs); "
                         "use a BertForQuestionAnswering checkpoint", maas_file_path(m->file));
    maas_status st = bert_encode(ctx, b);
    if (st != MAAS_OK)
        return st;
    int N = 0;
    for (int s = 0; s < b->n_seqs; s++)
        N += b->seq_lens[s];

    /* logits[N, 2] = x . qa_w^T + qa_b; column 0 is start, 1 is end. */
    float *logits = ctx->tmp;
    if ((st = maas_linear(logits, ctx->x, &m->qa_w, m->qa_b, N, ctx->params.n_threads)))
        return st;
    for (int t = 0; t < N; t++) {
        start[t] = logits[2 * t];
        end[t] = logits[2 * t + 1];
    }
    return MAAS_OK;
}

/* out[C] = pooled rows x[T, C] of one sequence. */
static void pool_sequence(float *out, const float *x, int T, int C, maas_pooling pooling,
                          bool normalize)
{
    switch (pooling) {
    case MAAS_POOLING_CLS:
        memcpy(out, x, (size_t)C * sizeof(float));
        break;
    case MAAS_POOLING_MAX:
        memcpy(out, x, (size_t)C * sizeof(float));
        for (int t = 1; t < T; t++)
            for (int j = 0; j < C; j++)
                if (x[(size_t)t * C + j] > out[j])
                    out[j] = x[(size_t)t * C + j];
        break;
    default: {
        /* Sum in double: T rows of similar values lose bits in f32. */
        for (int j = 0; j < C; j++) {
            double sum = 0.0;
            for (int t = 0; t < T; t++)
                sum += x[(size_t)t * C + j];
            out[j] = (float)(sum / T);
        }
        break;
    }
    }

    /* Normalise as torch.nn.functional.normalize: v / max(||v||, 1e-12). */
    if (normalize) {
        double sq = 0.0;
        for (int j = 0; j < C; j++)
            sq += (double)out[j] * out[j];
        double norm = sqrt(sq);
        if (norm < 1e-12)
            norm = 1e-12;
        for (int j = 0; j < C; j++)
            out[j] = (float)(out[j] / norm);
    }
}

maas_status maas_bert_pool(maas_bert_context *ctx, const maas_bert_batch *b, maas_pooling pooling,
                           bool normalize, float *out)
{
    if (!out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_pool: out must not be NULL");
    if ((unsigned)pooling >= MAAS_POOLING_COUNT)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_pool: invalid pooling mode %d", (int)pooling);
    maas_status st = bert_encode(ctx, b);
    if (st != MAAS_OK)
        return st;
    const int C = ctx->model->config.hidden_size;
    long row = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        pool_sequence(out + (size_t)s * C, ctx->x + (size_t)row * C, b->seq_lens[s], C, pooling,
                      normalize);
        row += b->seq_lens[s];
    }
    return MAAS_OK;
}
