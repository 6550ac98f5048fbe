/* GPT-2 model loading: hyperparameters from the file's config keys, then
 * every tensor in the order the forward pass uses it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2_internal.h"
#include "internal.h"

/* Limits that keep every size product below 2^31 elements per row count
 * and far from overflow; real checkpoints are far smaller. */
#define GPT2_MAX_DIM (1 << 20)

static maas_status read_positive(const maas_file *f, const char *key, int *out)
{
    uint32_t v;
    maas_status st = maas_file_get_u32(f, key, &v);
    if (st != MAAS_OK)
        return maas_fail(st, "%s: GPT-2 config key \"%s\": %s",
                         maas_file_path(f), key, maas_last_error());
    if (v < 1 || v > GPT2_MAX_DIM)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: GPT-2 config key \"%s\" is %u; expected 1..%d",
                         maas_file_path(f), key, v, GPT2_MAX_DIM);
    *out = (int)v;
    return MAAS_OK;
}

static maas_status read_config(const maas_file *f, maas_gpt2_config *c,
                               gpt2_activation *act)
{
    const char *path = maas_file_path(f);
    maas_status st;

    /* Sizes that every GPT-2 config.json has. */
    if ((st = read_positive(f, "n_layer", &c->n_layer)) != MAAS_OK ||
        (st = read_positive(f, "n_head", &c->n_head)) != MAAS_OK ||
        (st = read_positive(f, "n_embd", &c->n_embd)) != MAAS_OK ||
        (st = read_positive(f, "n_positions", &c->n_positions)) != MAAS_OK ||
        (st = read_positive(f, "vocab_size", &c->vocab_size)) != MAAS_OK)
        return st;
    if (c->n_embd % c->n_head != 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: n_embd %d is not a multiple of n_head %d",
                         path, c->n_embd, c->n_head);

    /* n_inner is null in most config.json files, meaning 4 * n_embd. */
    if (maas_file_has(f, "n_inner")) {
        if ((st = read_positive(f, "n_inner", &c->n_inner)) != MAAS_OK)
            return st;
    } else {
        c->n_inner = 4 * c->n_embd;
    }

    st = maas_file_get_f32(f, "layer_norm_epsilon", &c->layer_norm_epsilon);
    if (st != MAAS_OK)
        return maas_fail(st, "%s: GPT-2 config key \"layer_norm_epsilon\": %s",
                         path, maas_last_error());
    if (!(c->layer_norm_epsilon >= 0.0f))
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: layer_norm_epsilon is %g; expected >= 0", path,
                         (double)c->layer_norm_epsilon);

    /* GPT2Config's default activation is gelu_new. */
    const char *name = "gelu_new";
    if (maas_file_has(f, "activation_function") &&
        (st = maas_file_get_str(f, "activation_function", &name)) != MAAS_OK)
        return st;
    if (!strcmp(name, "gelu_new") || !strcmp(name, "gelu_pytorch_tanh") ||
        !strcmp(name, "gelu_fast"))
        *act = GPT2_ACT_GELU_TANH;
    else if (!strcmp(name, "gelu"))
        *act = GPT2_ACT_GELU_ERF;
    else if (!strcmp(name, "relu"))
        *act = GPT2_ACT_RELU;
    else
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: activation_function \"%s\" is not supported; "
                         "expected gelu_new, gelu_pytorch_tanh, gelu_fast, "
                         "gelu or relu", path, name);

    /* End of text: the config's eos_token_id, else the tokenizer's. */
    uint32_t eos;
    int32_t eos_i32;
    c->eos_token_id = -1;
    if (maas_file_get_u32(f, "eos_token_id", &eos) == MAAS_OK)
        c->eos_token_id = (int32_t)eos;
    else if (maas_file_get_i32(f, "tokenizer.eos_id", &eos_i32) == MAAS_OK)
        c->eos_token_id = eos_i32;
    if (c->eos_token_id >= c->vocab_size)
        c->eos_token_id = -1;
    maas_clear_error();
    return MAAS_OK;
}

/* Finds a 1-D f32 tensor of `n` elements. */
static maas_status get_vector(const maas_file *f, const char *name, int n,
                              const float **out)
{
    int64_t shape[1] = {n};
    maas_tensor t;
    maas_status st = maas_file_tensor_shaped(f, name, 1, shape, &t);
    if (st != MAAS_OK)
        return st;
    if (t.dtype != MAAS_DTYPE_F32)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: tensor %s is %s; 1-D tensors must be f32 "
                         "(convert again with maas-convert)",
                         maas_file_path(f), name, maas_dtype_name(t.dtype));
    *out = t.data;
    return MAAS_OK;
}

/* Finds a 2-D f32 or f16 weight of shape [rows, cols]. */
static maas_status get_matrix(const maas_file *f, const char *name, int rows,
                              int cols, maas_tensor *out)
{
    int64_t shape[2] = {rows, cols};
    maas_status st = maas_file_tensor_shaped(f, name, 2, shape, out);
    if (st != MAAS_OK)
        return st;
    if (out->dtype != MAAS_DTYPE_F32 && out->dtype != MAAS_DTYPE_F16)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: tensor %s is %s; weights must be f32 or f16 "
                         "(convert with maas-convert --dtype f32 or f16)",
                         maas_file_path(f), name, maas_dtype_name(out->dtype));
    return MAAS_OK;
}

/* Finds the tensors of block i, in file order.  A row with a NULL `matrix`
 * is a vector of `rows` elements. */
static maas_status load_layer(const maas_file *f, const maas_gpt2_config *c,
                              int i, gpt2_layer *l)
{
    const int C = c->n_embd, I = c->n_inner;
    const struct {
        const char *suffix;
        int rows, cols;
        maas_tensor *matrix;
        const float **vector;
    } parts[] = {
        {"ln_1.weight", C, 0, NULL, &l->ln_1_weight},
        {"ln_1.bias", C, 0, NULL, &l->ln_1_bias},
        {"attn.c_attn.weight", 3 * C, C, &l->attn_qkv_weight, NULL},
        {"attn.c_attn.bias", 3 * C, 0, NULL, &l->attn_qkv_bias},
        {"attn.c_proj.weight", C, C, &l->attn_proj_weight, NULL},
        {"attn.c_proj.bias", C, 0, NULL, &l->attn_proj_bias},
        {"ln_2.weight", C, 0, NULL, &l->ln_2_weight},
        {"ln_2.bias", C, 0, NULL, &l->ln_2_bias},
        {"mlp.c_fc.weight", I, C, &l->mlp_fc_weight, NULL},
        {"mlp.c_fc.bias", I, 0, NULL, &l->mlp_fc_bias},
        {"mlp.c_proj.weight", C, I, &l->mlp_proj_weight, NULL},
        {"mlp.c_proj.bias", C, 0, NULL, &l->mlp_proj_bias},
    };

    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        char name[96];
        snprintf(name, sizeof name, "h.%d.%s", i, parts[k].suffix);
        maas_status st = parts[k].matrix
            ? get_matrix(f, name, parts[k].rows, parts[k].cols, parts[k].matrix)
            : get_vector(f, name, parts[k].rows, parts[k].vector);
        if (st != MAAS_OK)
            return st;
    }
    return MAAS_OK;
}

maas_status maas_gpt2_load(const maas_file *file, maas_gpt2 **out)
{
    if (!file || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_gpt2_load: file and out must not be NULL");
    if (strcmp(maas_file_arch(file), "gpt2") != 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: architecture is \"%s\", expected \"gpt2\"",
                         maas_file_path(file), maas_file_arch(file));

    maas_gpt2 *m = calloc(1, sizeof *m);
    if (!m)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for the model");
    m->file = file;
    maas_status st = read_config(file, &m->config, &m->activation);
    if (st != MAAS_OK)
        goto fail;
    const maas_gpt2_config *c = &m->config;

    /* Embeddings, then the blocks, then the final LayerNorm and head. */
    if ((st = get_matrix(file, "wte.weight", c->vocab_size, c->n_embd,
                         &m->wte)) ||
        (st = get_matrix(file, "wpe.weight", c->n_positions, c->n_embd,
                         &m->wpe)))
        goto fail;
    m->config.weight_dtype = m->wte.dtype;

    m->layers = calloc((size_t)c->n_layer, sizeof *m->layers);
    if (!m->layers) {
        st = maas_fail(MAAS_ERR_OUT_OF_MEMORY, "out of memory for %d layers",
                       c->n_layer);
        goto fail;
    }
    for (int i = 0; i < c->n_layer; i++)
        if ((st = load_layer(file, c, i, &m->layers[i])) != MAAS_OK)
            goto fail;

    if ((st = get_vector(file, "ln_f.weight", c->n_embd, &m->ln_f_weight)) ||
        (st = get_vector(file, "ln_f.bias", c->n_embd, &m->ln_f_bias)))
        goto fail;

    /* The converter writes lm_head.weight only when it is not tied. */
    if (maas_file_tensor(file, "lm_head.weight", &m->lm_head) == MAAS_OK) {
        if ((st = get_matrix(file, "lm_head.weight", c->vocab_size, c->n_embd,
                             &m->lm_head)) != MAAS_OK)
            goto fail;
        m->config.tied_lm_head = false;
    } else {
        m->lm_head = m->wte;
        m->config.tied_lm_head = true;
    }

    /* The tokenizer is optional: token-id generation works without it. */
    if (maas_file_has(file, "tokenizer.model")) {
        if ((st = maas_tokenizer_from_file(file, &m->tokenizer)) != MAAS_OK)
            goto fail;
        if (maas_tokenizer_vocab_size(m->tokenizer) > c->vocab_size) {
            st = maas_fail(MAAS_ERR_BAD_FORMAT,
                           "%s: the tokenizer has %d tokens but vocab_size "
                           "is %d", maas_file_path(file),
                           (int)maas_tokenizer_vocab_size(m->tokenizer),
                           c->vocab_size);
            goto fail;
        }
    }
    maas_clear_error();
    *out = m;
    return MAAS_OK;

fail:
    maas_gpt2_free(m);
    return st;
}

maas_status maas_gpt2_open(const char *path, maas_gpt2 **out)
{
    if (!path || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_gpt2_open: path and out must not be NULL");
    maas_file *f;
    maas_status st = maas_file_open(path, &f);
    if (st != MAAS_OK)
        return st;
    maas_gpt2 *m;
    st = maas_gpt2_load(f, &m);
    if (st != MAAS_OK) {
        maas_file_close(f);
        return st;
    }
    m->owned_file = f;
    *out = m;
    return MAAS_OK;
}

void maas_gpt2_free(maas_gpt2 *model)
{
    if (!model)
        return;
    maas_tokenizer_free(model->tokenizer);
    free(model->layers);
    maas_file_close(model->owned_file);
    free(model);
}

const maas_gpt2_config *maas_gpt2_get_config(const maas_gpt2 *model)
{
    return &model->config;
}

const maas_tokenizer *maas_gpt2_get_tokenizer(const maas_gpt2 *model)
{
    return model->tokenizer;
}

size_t maas_gpt2_weight_bytes_per_token(const maas_gpt2 *model)
{
    const maas_gpt2_config *c = &model->config;
    const size_t C = (size_t)c->n_embd, I = (size_t)c->n_inner;
    size_t bytes = 0;

    /* One row of each embedding table. */
    bytes += C * maas_dtype_size(model->wte.dtype);
    bytes += C * maas_dtype_size(model->wpe.dtype);

    /* Per block: four weight matrices, their biases, two LayerNorms. */
    for (int i = 0; i < c->n_layer; i++) {
        const gpt2_layer *l = &model->layers[i];
        bytes += maas_tensor_nbytes(&l->attn_qkv_weight);
        bytes += maas_tensor_nbytes(&l->attn_proj_weight);
        bytes += maas_tensor_nbytes(&l->mlp_fc_weight);
        bytes += maas_tensor_nbytes(&l->mlp_proj_weight);
        bytes += (3 * C + C + I + C + 4 * C) * sizeof(float);
    }

    /* Final LayerNorm and the LM head over the whole vocabulary. */
    bytes += 2 * C * sizeof(float);
    bytes += maas_tensor_nbytes(&model->lm_head);
    return bytes;
}
