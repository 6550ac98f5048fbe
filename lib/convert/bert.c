/* BERT checkpoints (BertModel, BertForQuestionAnswering) to .maas.
 *
 * BertModel checkpoints (sentence-transformers folders among them) have no
 * prefix; task models put the encoder under "bert." and add their head
 * (qa_outputs for question answering).  Old checkpoints name LayerNorm
 * parameters gamma/beta, and most carry the embeddings.position_ids
 * buffer, which is dropped.  Linear weights are already [out, in]. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "convert/converter.h"
#include "internal.h"

static void bert_canonical_name(const char *src, char *out, size_t size)
{
    const char *prefix = "bert.";
    if (strncmp(src, prefix, strlen(prefix)) == 0)
        src += strlen(prefix);
    snprintf(out, size, "%s", src);

    /* Legacy LayerNorm names: "LayerNorm.gamma" -> weight, "LayerNorm.beta" -> bias. */
    size_t n = strlen(out);
    const char *gamma = "LayerNorm.gamma", *beta = "LayerNorm.beta";
    if (n >= strlen(gamma) && strcmp(out + n - strlen(gamma), gamma) == 0)
        snprintf(out + n - strlen("gamma"), size - (n - strlen("gamma")), "weight");
    else if (n >= strlen(beta) && strcmp(out + n - strlen(beta), beta) == 0)
        snprintf(out + n - strlen("beta"), size - (n - strlen("beta")), "bias");
}

static bool bert_is_dropped(const char *name)
{
    return strcmp(name, "embeddings.position_ids") == 0 ||
           strcmp(name, "embeddings.token_type_ids") == 0;
}

static maas_status bert_hyperparameters(maas_cv *cv, uint32_t *n_layer, uint32_t *hidden,
                                        uint32_t *inner, uint32_t *n_pos, uint32_t *vocab,
                                        uint32_t *n_types)
{
    uint32_t n_head;
    float eps;
    const char *act;
    maas_status s;

    /* Options that change the maths this library implements. */
    const cJSON *pos_type = maas_cv_config(cv, "position_embedding_type");
    if (pos_type && (!cJSON_IsString(pos_type) || strcmp(pos_type->valuestring, "absolute")))
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: position_embedding_type \"%s\" is not "
                         "supported (only \"absolute\")", cv->config_path,
                         cJSON_IsString(pos_type) ? pos_type->valuestring : "?");
    if ((s = maas_cv_reject_bool(cv, "is_decoder", true,
                                 "BERT runs here as a bidirectional encoder only")) ||
        (s = maas_cv_reject_bool(cv, "add_cross_attention", true,
                                 "cross-attention layers are not implemented")))
        return s;

    if ((s = maas_cv_u32(cv, "num_hidden_layers", n_layer)) ||
        (s = maas_cv_u32(cv, "num_attention_heads", &n_head)) ||
        (s = maas_cv_u32(cv, "hidden_size", hidden)) ||
        (s = maas_cv_u32(cv, "intermediate_size", inner)) ||
        (s = maas_cv_u32(cv, "max_position_embeddings", n_pos)) ||
        (s = maas_cv_u32(cv, "vocab_size", vocab)) ||
        (s = maas_cv_u32(cv, "type_vocab_size", n_types)) ||
        (s = maas_cv_f32(cv, "layer_norm_eps", &eps)) ||
        (s = maas_cv_str(cv, "hidden_act", &act)))
        return s;
    if (n_head == 0 || *hidden == 0 || *hidden % n_head != 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: hidden_size %u is not a positive multiple "
                         "of num_attention_heads %u", cv->config_path, *hidden, n_head);
    if (!(eps > 0.0f) || !isfinite(eps))
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: layer_norm_eps is %g; expected a finite "
                         "number > 0", cv->config_path, (double)eps);
    /* lib/bert implements only the exact (erf) GELU. */
    if (strcmp(act, "gelu") != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported; "
                         "libmaas runs BERT with \"gelu\" (the exact erf form) only",
                         cv->config_path, act);
    if ((s = maas_cv_token_id(cv, "pad_token_id", *vocab)))
        return s;
    cv->summary->n_layers = *n_layer;
    cv->summary->hidden_size = *hidden;
    cv->summary->vocab_size = *vocab;
    return MAAS_OK;
}

/* A dense layer [out, in] with its bias [out]. */
static maas_status dense(maas_cv *cv, const char *prefix, int64_t out, int64_t in, int flags,
                         bool *found)
{
    char w[160], b[160];
    maas_status s = maas_cv_tensor(cv, maas_cv_name(w, sizeof w, "%s.weight", prefix), 2,
                                   (int64_t[]){out, in}, flags, found);
    if (s != MAAS_OK || (found && !*found))
        return s;
    return maas_cv_vector(cv, maas_cv_name(b, sizeof b, "%s.bias", prefix), out, 0);
}

static maas_status layer_norm(maas_cv *cv, const char *prefix, int64_t n)
{
    char w[160], b[160];
    maas_status s = maas_cv_vector(cv, maas_cv_name(w, sizeof w, "%s.weight", prefix), n, 0);
    if (s == MAAS_OK)
        s = maas_cv_vector(cv, maas_cv_name(b, sizeof b, "%s.bias", prefix), n, 0);
    return s;
}

static maas_status bert_convert(maas_cv *cv)
{
    uint32_t n_layer, hidden, inner, n_pos, vocab, n_types;
    maas_status s = bert_hyperparameters(cv, &n_layer, &hidden, &inner, &n_pos, &vocab,
                                         &n_types);
    if (s == MAAS_OK)
        s = maas_cv_check_layer_count(cv, "encoder.layer.", "num_hidden_layers", n_layer);
    if (s != MAAS_OK)
        return s;
    const int64_t C = hidden, I = inner;
    char p[128];

    /* Embeddings, then each encoder layer in forward order. */
    if ((s = maas_cv_matrix(cv, "embeddings.word_embeddings.weight", vocab, C, 0)) ||
        (s = maas_cv_matrix(cv, "embeddings.position_embeddings.weight", n_pos, C, 0)) ||
        (s = maas_cv_matrix(cv, "embeddings.token_type_embeddings.weight", n_types, C, 0)) ||
        (s = layer_norm(cv, "embeddings.LayerNorm", C)))
        return s;
    for (uint32_t i = 0; i < n_layer; i++) {
#define P(suffix) maas_cv_name(p, sizeof p, "encoder.layer.%u.%s", i, suffix)
        if ((s = dense(cv, P("attention.self.query"), C, C, 0, NULL)) ||
            (s = dense(cv, P("attention.self.key"), C, C, 0, NULL)) ||
            (s = dense(cv, P("attention.self.value"), C, C, 0, NULL)) ||
            (s = dense(cv, P("attention.output.dense"), C, C, 0, NULL)) ||
            (s = layer_norm(cv, P("attention.output.LayerNorm"), C)) ||
            (s = dense(cv, P("intermediate.dense"), I, C, 0, NULL)) ||
            (s = dense(cv, P("output.dense"), C, I, 0, NULL)) ||
            (s = layer_norm(cv, P("output.LayerNorm"), C)))
            return s;
#undef P
    }

    /* Optional heads: the pooler (BertModel) and the span head of
     * BertForQuestionAnswering (start and end logits). */
    bool found;
    if ((s = dense(cv, "pooler.dense", C, C, MAAS_CV_OPTIONAL, &found)) ||
        (s = dense(cv, "qa_outputs", 2, C, MAAS_CV_OPTIONAL, &found)))
        return s;

    if ((s = maas_cv_pooling(cv)))
        return s;
    return maas_cv_tokenizer_wordpiece(cv, vocab);
}

static const char *const bert_classes[] = {"BertModel", "BertForQuestionAnswering", NULL};

const maas_cv_arch maas_cv_bert = {
    .name = "bert",
    .model_type = "bert",
    .classes = bert_classes,
    .canonical_name = bert_canonical_name,
    .is_dropped = bert_is_dropped,
    .convert = bert_convert,
};
