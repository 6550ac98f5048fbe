/* BERT sentence embeddings from text: tokenize, pack into batches that fit
 * the context, pool. */
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"
#include "internal.h"

void maas_embed_options_default(const maas_bert *m, maas_embed_options *opts)
{
    opts->pooling = m->config.pooling;
    opts->normalize = m->config.normalize;
    opts->max_length = m->config.embed_max_length;
    opts->truncate = false;
}

/* Pools the staged sequences into out[n_seqs, C]. */
static maas_status flush_stage(maas_bert_context *ctx, int n_seqs, const maas_embed_options *o,
                               float *out)
{
    if (n_seqs == 0)
        return MAAS_OK;
    maas_bert_batch batch = {
        .n_seqs = n_seqs,
        .seq_lens = ctx->stage_lens,
        .ids = ctx->stage_ids,
        .type_ids = NULL,
    };
    return maas_bert_pool(ctx, &batch, o->pooling, o->normalize, out);
}

maas_status maas_bert_embed(maas_bert_context *ctx, const char *const *texts, int n_texts,
                            const maas_embed_options *opts, float *out)
{
    if (!ctx || !texts || !out || n_texts < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_bert_embed: ctx, texts and out must not be NULL and n_texts must be >= 0");
    const maas_bert *m = ctx->model;
    if (!m->tokenizer)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s has no tokenizer; reconvert the checkpoint "
                         "folder with its vocab.txt", maas_file_path(m->file));
    maas_embed_options o;
    if (opts)
        o = *opts;
    else
        maas_embed_options_default(m, &o);
    if ((unsigned)o.pooling >= MAAS_POOLING_COUNT)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_embed: invalid pooling mode %d",
                         (int)o.pooling);
    /* The context cannot run longer sequences, so its max_seq_len caps the
     * limit (texts over it then fail, or are cut when truncate is set). */
    int max_len = ctx->params.max_seq_len;
    if (o.max_length > 0 && o.max_length < max_len)
        max_len = o.max_length;
    if (o.max_length < 0 || max_len < 2)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_bert_embed: max_length %d is invalid; expected 0 (the context's "
                         "max_seq_len) or 2 .. %d", o.max_length, ctx->params.max_seq_len);

    const int C = m->config.hidden_size;
    const maas_encode_options enc_opts = {.add_special = true, .parse_special = false};
    int first_text = 0;  /* first text of the staged batch */
    int n_staged = 0, staged_tokens = 0;
    maas_status st = MAAS_OK;

    for (int i = 0; i < n_texts; i++) {
        if (!texts[i])
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_bert_embed: text %d is NULL", i);

        /* Tokenize as [CLS] text [SEP]; cut to max_length keeping the [SEP]. */
        maas_encoding enc = {0};
        st = maas_tokenizer_encode(m->tokenizer, texts[i], strlen(texts[i]), &enc_opts, &enc);
        if (st != MAAS_OK) {
            maas_encoding_free(&enc);
            return st;
        }
        int len = enc.n;
        if (len > max_len) {
            if (!o.truncate) {
                maas_encoding_free(&enc);
                return maas_fail(MAAS_ERR_CONTEXT_FULL,
                                 "text %d has %d tokens, more than the limit of %d tokens per "
                                 "text; shorten it, or enable truncation to embed only its "
                                 "first %d tokens", i, len, max_len, max_len);
            }
            enc.ids[max_len - 1] = enc.ids[len - 1];
            len = max_len;
        }

        /* Run the staged batch first when this text does not fit beside it. */
        if (staged_tokens + len > ctx->params.max_tokens) {
            st = flush_stage(ctx, n_staged, &o, out + (size_t)first_text * C);
            if (st != MAAS_OK) {
                maas_encoding_free(&enc);
                return st;
            }
            first_text = i;
            n_staged = 0;
            staged_tokens = 0;
        }
        memcpy(ctx->stage_ids + staged_tokens, enc.ids, (size_t)len * sizeof(int32_t));
        ctx->stage_lens[n_staged++] = len;
        staged_tokens += len;
        maas_encoding_free(&enc);
    }
    return flush_stage(ctx, n_staged, &o, out + (size_t)first_text * C);
}
