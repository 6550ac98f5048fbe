/* The server's model layer over maas/gpt2.h and maas/bert.h: one model
 * loaded once, one context (and for GPT-2 one sampler) per slot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "maas/bert.h"
#include "maas/gpt2.h"
#include "server/engine.h"

struct maas_srv_slot {
    maas_srv_engine *engine;
    maas_gpt2_context *gpt2;
    maas_sampler *sampler;
    maas_bert_context *bert;
};

struct maas_srv_engine {
    maas_file *file;      /* read once for the architecture name */
    char arch[32];
    unsigned tasks;
    maas_gpt2 *gpt2;
    maas_bert *bert;
    const maas_tokenizer *tokenizer;
    int n_ctx, embed_dim;
    int n_slots;
    maas_srv_slot *slots;  /* [n_slots] */
};

static maas_status open_gpt2(maas_srv_engine *e, const char *path, int n_threads)
{
    maas_status st = maas_gpt2_open(path, &e->gpt2);
    if (st != MAAS_OK)
        return st;
    e->tokenizer = maas_gpt2_get_tokenizer(e->gpt2);
    if (!e->tokenizer)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s has no tokenizer; convert the model with its tokenizer files",
                         path);
    e->n_ctx = maas_gpt2_get_config(e->gpt2)->n_positions;
    e->tasks = MAAS_SRV_TASK_GENERATE;

    maas_gpt2_context_params params;
    maas_gpt2_context_params_default(&params);
    params.n_threads = n_threads;
    for (int i = 0; i < e->n_slots; i++) {
        st = maas_gpt2_context_create(e->gpt2, &params, &e->slots[i].gpt2);
        if (st != MAAS_OK)
            return st;
    }
    return MAAS_OK;
}

static maas_status open_bert(maas_srv_engine *e, const char *path, int n_threads)
{
    maas_status st = maas_bert_open(path, &e->bert);
    if (st != MAAS_OK)
        return st;
    e->tokenizer = maas_bert_get_tokenizer(e->bert);
    if (!e->tokenizer)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s has no tokenizer; convert the model with its vocab.txt", path);
    const maas_bert_config *config = maas_bert_get_config(e->bert);
    e->n_ctx = config->max_positions;
    e->embed_dim = config->hidden_size;

    /* A QA checkpoint's pooled hidden states are no sentence embedding, so
     * it serves embeddings only when it also carries a pooling config. */
    if (config->has_qa_head)
        e->tasks |= MAAS_SRV_TASK_QA;
    if (!config->has_qa_head || config->has_pooling_config)
        e->tasks |= MAAS_SRV_TASK_EMBED;

    maas_bert_context_params params;
    maas_bert_context_params_default(e->bert, &params);
    params.n_threads = n_threads;
    for (int i = 0; i < e->n_slots; i++) {
        st = maas_bert_context_create(e->bert, &params, &e->slots[i].bert);
        if (st != MAAS_OK)
            return st;
    }
    return MAAS_OK;
}

maas_status maas_srv_engine_open(const char *path, int n_threads, int n_slots,
                                 maas_srv_engine **out)
{
    maas_srv_engine *e = calloc(1, sizeof *e);
    if (!e)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate the model state");
    e->n_slots = n_slots;
    e->slots = calloc((size_t)n_slots, sizeof *e->slots);
    if (!e->slots) {
        free(e);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %d slots", n_slots);
    }
    for (int i = 0; i < n_slots; i++)
        e->slots[i].engine = e;

    /* The architecture name picks the model type. */
    maas_status st = maas_file_open(path, &e->file);
    if (st == MAAS_OK) {
        snprintf(e->arch, sizeof e->arch, "%s", maas_file_arch(e->file));
        maas_file_close(e->file);
        e->file = NULL;
        if (strcmp(e->arch, "gpt2") == 0)
            st = open_gpt2(e, path, n_threads);
        else if (strcmp(e->arch, "bert") == 0)
            st = open_bert(e, path, n_threads);
        else
            st = maas_fail(MAAS_ERR_UNSUPPORTED,
                           "%s holds a '%s' model; the server serves gpt2 and bert models",
                           path, e->arch);
    }
    if (st != MAAS_OK) {
        maas_srv_engine_free(e);
        return st;
    }
    *out = e;
    return MAAS_OK;
}

void maas_srv_engine_free(maas_srv_engine *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_slots; i++) {
        maas_sampler_free(e->slots[i].sampler);
        maas_gpt2_context_free(e->slots[i].gpt2);
        maas_bert_context_free(e->slots[i].bert);
    }
    free(e->slots);
    maas_gpt2_free(e->gpt2);
    maas_bert_free(e->bert);
    maas_file_close(e->file);
    free(e);
}

unsigned maas_srv_engine_tasks(const maas_srv_engine *e)
{
    return e->tasks;
}

const char *maas_srv_engine_arch(const maas_srv_engine *e)
{
    return e->arch;
}

const maas_tokenizer *maas_srv_engine_tokenizer(const maas_srv_engine *e)
{
    return e->tokenizer;
}

int maas_srv_engine_n_ctx(const maas_srv_engine *e)
{
    return e->n_ctx;
}

int maas_srv_engine_embed_dim(const maas_srv_engine *e)
{
    return (e->tasks & MAAS_SRV_TASK_EMBED) ? e->embed_dim : 0;
}

maas_srv_slot *maas_srv_engine_slot(maas_srv_engine *e, int i)
{
    MAAS_ASSERT(i >= 0 && i < e->n_slots);
    return &e->slots[i];
}

/* ---- generation ---- */

maas_status maas_srv_generate_begin(maas_srv_slot *s, const int32_t *ids, int n,
                                    const maas_srv_sampling *sampling)
{
    if (!s->gpt2)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "this model does not generate text");

    /* A new sampler per request: the settings are fixed at creation. */
    maas_sampling_params params;
    maas_sampling_params_default(&params);
    params.temperature = sampling->temperature;
    params.top_p = sampling->top_p;
    params.top_k = sampling->top_k;
    params.seed = sampling->seed;
    maas_sampler_free(s->sampler);
    s->sampler = NULL;
    int vocab = maas_gpt2_get_config(s->engine->gpt2)->vocab_size;
    maas_status st = maas_sampler_create(&params, vocab, &s->sampler);
    if (st != MAAS_OK)
        return st;

    /* Keep the cached prefix the new prompt shares with the last request
     * (a chat resends its history), but always evaluate at least the last
     * prompt token so its logits are fresh. */
    int n_held;
    const int32_t *held = maas_gpt2_context_tokens(s->gpt2, &n_held);
    int keep = 0;
    while (keep < n_held && keep < n - 1 && held[keep] == ids[keep])
        keep++;
    st = maas_gpt2_context_truncate(s->gpt2, keep);
    if (st != MAAS_OK)
        return st;
    return maas_gpt2_eval(s->gpt2, ids + keep, n - keep, NULL);
}

maas_status maas_srv_generate_sample(maas_srv_slot *s, int32_t *id)
{
    const float *logits = maas_gpt2_get_logits(s->gpt2);
    MAAS_ASSERT(logits && s->sampler);
    int n_held;
    const int32_t *held = maas_gpt2_context_tokens(s->gpt2, &n_held);
    return maas_sampler_sample(s->sampler, logits, held, n_held, id);
}

maas_status maas_srv_generate_feed(maas_srv_slot *s, int32_t id)
{
    return maas_gpt2_eval(s->gpt2, &id, 1, NULL);
}

/* ---- embeddings ---- */

maas_status maas_srv_embed(maas_srv_slot *s, const char *text, size_t len, float *out,
                           int *n_tokens)
{
    if (!s->bert || !(s->engine->tasks & MAAS_SRV_TASK_EMBED))
        return maas_fail(MAAS_ERR_UNSUPPORTED, "this model does not compute embeddings");

    /* Count the tokens for the usage report: [CLS] text [SEP]. */
    maas_encoding enc = {0};
    maas_encode_options enc_opts = {.add_special = true, .parse_special = false};
    maas_status st = maas_tokenizer_encode(s->engine->tokenizer, text, len, &enc_opts, &enc);
    if (st != MAAS_OK)
        return st;
    *n_tokens = enc.n;
    maas_encoding_free(&enc);

    /* Over-long inputs are rejected as OpenAI does, not cut short. */
    maas_embed_options opts;
    maas_embed_options_default(s->engine->bert, &opts);
    opts.truncate = false;
    const char *texts[1] = {text};
    return maas_bert_embed(s->bert, texts, 1, &opts, out);
}

/* ---- question answering ---- */

maas_status maas_srv_qa(maas_srv_slot *s, const char *question, size_t question_len,
                        const char *context, size_t context_len, int top_k,
                        int max_answer_tokens, maas_srv_answer *answers, int *n,
                        int *n_tokens)
{
    *n = 0;
    *n_tokens = 0;
    if (!s->bert || !(s->engine->tasks & MAAS_SRV_TASK_QA))
        return maas_fail(MAAS_ERR_UNSUPPORTED, "this model has no question-answering head");

    maas_qa_options opts;
    maas_qa_options_default(&opts);
    opts.top_k = top_k;
    opts.max_answer_len = max_answer_tokens;
    maas_qa_result result = {0};
    maas_status st = maas_bert_qa(s->bert, question, question_len, context, context_len,
                                  &opts, &result);
    if (st != MAAS_OK)
        return st;

    /* Usage counts the tokens the model read.  NOTE: every window is counted
     * at the first window's length, so a context split into several windows
     * is over-counted by less than one window. */
    for (int w = 0; w < result.n_windows; w++)
        *n_tokens += result.first_window_len;
    for (int i = 0; i < result.n_answers && i < top_k; i++) {
        const maas_qa_answer *a = &result.answers[i];
        answers[i] = (maas_srv_answer){.start = a->start,
                                       .end = a->end,
                                       .byte_start = a->byte_start,
                                       .byte_end = a->byte_end,
                                       .score = a->score};
        (*n)++;
    }
    maas_qa_result_free(&result);
    return MAAS_OK;
}
