/* GPT-2 checkpoints (GPT2LMHeadModel, GPT2Model) to .maas.
 *
 * Hugging Face GPT-2 uses Conv1D layers whose weights are stored [in, out];
 * the converter transposes them to the [out, in] layout of every .maas
 * linear weight.  Checkpoints come with or without the "transformer."
 * prefix (the original OpenAI-converted file has none), and older ones
 * carry the attention-mask buffers attn.bias and attn.masked_bias, which
 * are dropped. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "convert/converter.h"
#include "internal.h"

static void gpt2_canonical_name(const char *src, char *out, size_t size)
{
    const char *prefix = "transformer.";
    if (strncmp(src, prefix, strlen(prefix)) == 0)
        src += strlen(prefix);
    snprintf(out, size, "%s", src);
}

/* "h.{i}.attn.bias" and "h.{i}.attn.masked_bias": causal-mask buffers. */
static bool gpt2_is_dropped(const char *name)
{
    unsigned layer;
    int end = 0;
    if (sscanf(name, "h.%u.attn.%n", &layer, &end) != 1 || end == 0)
        return false;
    return strcmp(name + end, "bias") == 0 || strcmp(name + end, "masked_bias") == 0;
}

static maas_status gpt2_hyperparameters(maas_cv *cv, uint32_t *n_layer, uint32_t *n_embd,
                                        uint32_t *n_inner, uint32_t *n_pos, uint32_t *vocab,
                                        bool *tied)
{
    uint32_t n_head;
    float eps;
    const char *activation;
    maas_status s;

    /* Options that change the attention maths this library implements. */
    if ((s = maas_cv_reject_bool(cv, "scale_attn_weights", false,
                                 "attention scores are always divided by sqrt(head size)")) ||
        (s = maas_cv_reject_bool(cv, "scale_attn_by_inverse_layer_idx", true,
                                 "per-layer score scaling is not implemented")) ||
        (s = maas_cv_reject_bool(cv, "add_cross_attention", true,
                                 "cross-attention layers are not implemented")))
        return s;

    if ((s = maas_cv_u32(cv, "n_layer", n_layer)) || (s = maas_cv_u32(cv, "n_head", &n_head)) ||
        (s = maas_cv_u32(cv, "n_embd", n_embd)) || (s = maas_cv_u32(cv, "n_positions", n_pos)) ||
        (s = maas_cv_u32(cv, "vocab_size", vocab)) ||
        (s = maas_cv_f32(cv, "layer_norm_epsilon", &eps)) ||
        (s = maas_cv_str(cv, "activation_function", &activation)))
        return s;
    if (n_head == 0 || *n_embd == 0 || *n_embd % n_head != 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: n_embd %u is not a positive multiple of "
                         "n_head %u", cv->config_path, *n_embd, n_head);
    if (!(eps > 0.0f) || !isfinite(eps))
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: layer_norm_epsilon is %g; expected a "
                         "finite number > 0", cv->config_path, (double)eps);

    /* The activations lib/gpt2 implements: the tanh form of GELU under its
     * three names, the exact (erf) GELU, and ReLU. */
    static const char *const activations[] = {"gelu_new", "gelu_pytorch_tanh", "gelu_fast",
                                               "gelu", "relu"};
    bool known = false;
    for (size_t i = 0; i < sizeof activations / sizeof activations[0]; i++)
        known = known || strcmp(activation, activations[i]) == 0;
    if (!known)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: activation_function \"%s\" is not "
                         "supported; expected gelu_new, gelu_pytorch_tanh, gelu_fast, gelu or "
                         "relu", cv->config_path, activation);

    /* n_inner: null (or absent, as in the original gpt2 config) means 4 * n_embd. */
    const cJSON *inner = maas_cv_config(cv, "n_inner");
    if (inner) {
        if ((s = maas_cv_u32(cv, "n_inner", n_inner)))
            return s;
    } else {
        *n_inner = 4 * *n_embd;
        if ((s = maas_writer_set_u32(cv->w, "n_inner", *n_inner)))
            return s;
    }

    /* tie_word_embeddings: absent means true, the Hugging Face default
     * (the original gpt2 config.json has no such key). */
    const cJSON *tie = maas_cv_config(cv, "tie_word_embeddings");
    if (tie && !cJSON_IsBool(tie))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"tie_word_embeddings\" must be true or false",
                         cv->config_path);
    *tied = !tie || cJSON_IsTrue(tie);
    if ((s = maas_writer_set_bool(cv->w, "tie_word_embeddings", *tied)))
        return s;

    if ((s = maas_cv_token_id(cv, "bos_token_id", *vocab)) ||
        (s = maas_cv_token_id(cv, "eos_token_id", *vocab)))
        return s;
    cv->summary->n_layers = *n_layer;
    cv->summary->hidden_size = *n_embd;
    cv->summary->vocab_size = *vocab;
    return MAAS_OK;
}

static maas_status gpt2_convert(maas_cv *cv)
{
    uint32_t n_layer, n_embd, n_inner, n_pos, vocab;
    bool tied = true;
    maas_status s = gpt2_hyperparameters(cv, &n_layer, &n_embd, &n_inner, &n_pos, &vocab, &tied);
    if (s == MAAS_OK)
        s = maas_cv_check_layer_count(cv, "h.", "n_layer", n_layer);
    if (s != MAAS_OK)
        return s;
    const int64_t C = n_embd, F = n_inner, P = n_pos, V = vocab;
    const int T = MAAS_CV_TRANSPOSE;
    char name[128];

    /* Embeddings, then each block as the forward pass meets it. */
    if ((s = maas_cv_matrix(cv, "wte.weight", V, C, 0)) ||
        (s = maas_cv_matrix(cv, "wpe.weight", P, C, 0)))
        return s;
    for (uint32_t i = 0; i < n_layer; i++) {
#define N(suffix) maas_cv_name(name, sizeof name, "h.%u.%s", i, suffix)
        if ((s = maas_cv_vector(cv, N("ln_1.weight"), C, 0)) ||
            (s = maas_cv_vector(cv, N("ln_1.bias"), C, 0)) ||
            (s = maas_cv_matrix(cv, N("attn.c_attn.weight"), 3 * C, C, T)) ||
            (s = maas_cv_vector(cv, N("attn.c_attn.bias"), 3 * C, 0)) ||
            (s = maas_cv_matrix(cv, N("attn.c_proj.weight"), C, C, T)) ||
            (s = maas_cv_vector(cv, N("attn.c_proj.bias"), C, 0)) ||
            (s = maas_cv_vector(cv, N("ln_2.weight"), C, 0)) ||
            (s = maas_cv_vector(cv, N("ln_2.bias"), C, 0)) ||
            (s = maas_cv_matrix(cv, N("mlp.c_fc.weight"), F, C, T)) ||
            (s = maas_cv_vector(cv, N("mlp.c_fc.bias"), F, 0)) ||
            (s = maas_cv_matrix(cv, N("mlp.c_proj.weight"), C, F, T)) ||
            (s = maas_cv_vector(cv, N("mlp.c_proj.bias"), C, 0)))
            return s;
#undef N
    }
    if ((s = maas_cv_vector(cv, "ln_f.weight", C, 0)) ||
        (s = maas_cv_vector(cv, "ln_f.bias", C, 0)))
        return s;

    /* The LM head: tied heads reuse wte (a stored copy is dropped), untied
     * ones must be in the checkpoint.  GPT2Model checkpoints have none. */
    if (tied)
        maas_cv_drop(cv, "lm_head.weight");
    else if ((s = maas_cv_matrix(cv, "lm_head.weight", V, C, 0)))
        return s;

    return maas_cv_tokenizer_bpe(cv, vocab);
}

static const char *const gpt2_classes[] = {"GPT2LMHeadModel", "GPT2Model", NULL};

const maas_cv_arch maas_cv_gpt2 = {
    .name = "gpt2",
    .model_type = "gpt2",
    .classes = gpt2_classes,
    .canonical_name = gpt2_canonical_name,
    .is_dropped = gpt2_is_dropped,
    .convert = gpt2_convert,
};
