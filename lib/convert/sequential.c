/* Converting PyTorch models described by a model.json: "cnn" (an
 * nn.Sequential of conv2d, ReLU, max-pool, flatten and linear layers) and
 * "rnn" (embedding, nn.RNN, linear head).  The state_dict names are kept
 * as they are.  docs/FORMAT.md ("CNN and RNN models") lists the keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/converter.h"
#include "internal.h"
#include "jsonfile.h"

/* Largest size or count accepted from model.json. */
#define SEQ_MAX_DIM 65536.0

static void keep_name(const char *src, char *out, size_t size)
{
    snprintf(out, size, "%s", src);
}

static bool keep_all(const char *name)
{
    (void)name;
    return false;
}

/* Reads integer `field` of `obj` (a layer, named `what` in messages) in
 * min..SEQ_MAX_DIM. */
static maas_status json_int(const maas_cv *cv, const cJSON *obj, const char *what,
                            const char *field, double min, int *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!item)
        return maas_fail(MAAS_ERR_NOT_FOUND, "%s: %s has no \"%s\"", cv->config_path, what, field);
    if (!maas_json_is_int(item, min, SEQ_MAX_DIM))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: %s: \"%s\" must be an integer in %.0f..%.0f",
                         cv->config_path, what, field, min, SEQ_MAX_DIM);
    *out = (int)item->valuedouble;
    return MAAS_OK;
}

/* Reads `field` as an [h, w] pair, where a single integer means both. */
static maas_status json_pair(const maas_cv *cv, const cJSON *obj, const char *what,
                             const char *field, double min, int out[2])
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (item && cJSON_IsNumber(item)) {
        maas_status s = json_int(cv, obj, what, field, min, &out[0]);
        out[1] = out[0];
        return s;
    }
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 2 ||
        !maas_json_is_int(cJSON_GetArrayItem(item, 0), min, SEQ_MAX_DIM) ||
        !maas_json_is_int(cJSON_GetArrayItem(item, 1), min, SEQ_MAX_DIM))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: %s: \"%s\" must be two integers in %.0f..%.0f",
                         cv->config_path, what, field, min, SEQ_MAX_DIM);
    out[0] = (int)cJSON_GetArrayItem(item, 0)->valuedouble;
    out[1] = (int)cJSON_GetArrayItem(item, 1)->valuedouble;
    return MAAS_OK;
}

static maas_status json_bool(const maas_cv *cv, const cJSON *obj, const char *what,
                             const char *field, bool *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!cJSON_IsBool(item))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: %s: \"%s\" must be true or false",
                         cv->config_path, what, field);
    *out = cJSON_IsTrue(item);
    return MAAS_OK;
}

/* Writes key "layers.<i>.<field>". */
static maas_status set_layer_u32(maas_cv *cv, int i, const char *field, int v)
{
    char key[64];
    return maas_writer_set_u32(cv->w, maas_cv_name(key, sizeof key, "layers.%d.%s", i, field),
                               (uint32_t)v);
}

static maas_status set_layer_pair(maas_cv *cv, int i, const char *field, const int v[2])
{
    char key[64];
    int32_t pair[2] = {v[0], v[1]};
    return maas_writer_set_i32_array(cv->w, maas_cv_name(key, sizeof key, "layers.%d.%s", i,
                                                         field), pair, 2);
}

/* ---- cnn -------------------------------------------------------------------- */

static maas_status convert_conv2d(maas_cv *cv, const cJSON *layer, const char *what, int i,
                                  const char *name)
{
    int in_c, out_c, groups, kernel[2], stride[2], pad[2], dilation[2];
    bool bias = false;
    char tensor[256];
    maas_status s;

    if ((s = json_int(cv, layer, what, "in_channels", 1, &in_c)) ||
        (s = json_int(cv, layer, what, "out_channels", 1, &out_c)) ||
        (s = json_int(cv, layer, what, "groups", 1, &groups)) ||
        (s = json_pair(cv, layer, what, "kernel_size", 1, kernel)) ||
        (s = json_pair(cv, layer, what, "stride", 1, stride)) ||
        (s = json_pair(cv, layer, what, "padding", 0, pad)) ||
        (s = json_pair(cv, layer, what, "dilation", 1, dilation)) ||
        (s = json_bool(cv, layer, what, "bias", &bias)))
        return s;
    if (in_c % groups != 0 || out_c % groups != 0)
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: %s: groups %d must divide in_channels %d and "
                         "out_channels %d", cv->config_path, what, groups, in_c, out_c);

    if ((s = set_layer_u32(cv, i, "in_channels", in_c)) ||
        (s = set_layer_u32(cv, i, "out_channels", out_c)) ||
        (s = set_layer_u32(cv, i, "groups", groups)) ||
        (s = set_layer_pair(cv, i, "kernel_size", kernel)) ||
        (s = set_layer_pair(cv, i, "stride", stride)) ||
        (s = set_layer_pair(cv, i, "padding", pad)) ||
        (s = set_layer_pair(cv, i, "dilation", dilation)))
        return s;
    char key[64];
    if ((s = maas_writer_set_bool(cv->w, maas_cv_name(key, sizeof key, "layers.%d.bias", i),
                                  bias)))
        return s;

    int64_t shape[4] = {out_c, in_c / groups, kernel[0], kernel[1]};
    if ((s = maas_cv_tensor(cv, maas_cv_name(tensor, sizeof tensor, "%s.weight", name), 4, shape,
                            0, NULL)))
        return s;
    if (!bias)
        return MAAS_OK;
    return maas_cv_vector(cv, maas_cv_name(tensor, sizeof tensor, "%s.bias", name), out_c, 0);
}

static maas_status convert_maxpool2d(maas_cv *cv, const cJSON *layer, const char *what, int i)
{
    int kernel, stride, pad;
    maas_status s;
    if ((s = json_int(cv, layer, what, "kernel_size", 1, &kernel)) ||
        (s = json_int(cv, layer, what, "stride", 1, &stride)) ||
        (s = json_int(cv, layer, what, "padding", 0, &pad)) ||
        (s = set_layer_u32(cv, i, "kernel_size", kernel)) ||
        (s = set_layer_u32(cv, i, "stride", stride)) ||
        (s = set_layer_u32(cv, i, "padding", pad)))
        return s;
    return MAAS_OK;
}

static maas_status convert_linear(maas_cv *cv, const cJSON *layer, const char *what, int i,
                                  const char *name)
{
    int in_f, out_f;
    bool bias = false;
    char tensor[256], key[64];
    maas_status s;
    if ((s = json_int(cv, layer, what, "in_features", 1, &in_f)) ||
        (s = json_int(cv, layer, what, "out_features", 1, &out_f)) ||
        (s = json_bool(cv, layer, what, "bias", &bias)) ||
        (s = set_layer_u32(cv, i, "in_features", in_f)) ||
        (s = set_layer_u32(cv, i, "out_features", out_f)) ||
        (s = maas_writer_set_bool(cv->w, maas_cv_name(key, sizeof key, "layers.%d.bias", i),
                                  bias)) ||
        (s = maas_cv_matrix(cv, maas_cv_name(tensor, sizeof tensor, "%s.weight", name), out_f,
                            in_f, 0)))
        return s;
    if (!bias)
        return MAAS_OK;
    return maas_cv_vector(cv, maas_cv_name(tensor, sizeof tensor, "%s.bias", name), out_f, 0);
}

static maas_status convert_layer(maas_cv *cv, const cJSON *layer, int i)
{
    char what[64], key[64];
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(layer, "type");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(layer, "name");
    snprintf(what, sizeof what, "layers[%d]", i);
    if (!cJSON_IsObject(layer) || !cJSON_IsString(type) || !cJSON_IsString(name))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: %s must be an object with string \"type\" and "
                         "\"name\"", cv->config_path, what);
    snprintf(what, sizeof what, "layers[%d] (%.16s %.24s)", i, type->valuestring,
             name->valuestring);

    maas_status s;
    if ((s = maas_writer_set_str(cv->w, maas_cv_name(key, sizeof key, "layers.%d.type", i),
                                 type->valuestring)) ||
        (s = maas_writer_set_str(cv->w, maas_cv_name(key, sizeof key, "layers.%d.name", i),
                                 name->valuestring)))
        return s;

    const char *t = type->valuestring;
    if (strcmp(t, "conv2d") == 0)
        return convert_conv2d(cv, layer, what, i, name->valuestring);
    if (strcmp(t, "maxpool2d") == 0)
        return convert_maxpool2d(cv, layer, what, i);
    if (strcmp(t, "linear") == 0)
        return convert_linear(cv, layer, what, i, name->valuestring);
    if (strcmp(t, "relu") == 0 || strcmp(t, "flatten") == 0)
        return MAAS_OK;
    return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: %s: layer type \"%s\" is not supported "
                     "(supported: conv2d, relu, maxpool2d, flatten, linear)", cv->config_path,
                     what, t);
}

static maas_status convert_cnn(maas_cv *cv)
{
    maas_status s;

    /* Step 1: input shape [C, H, W], input scale and optional class labels. */
    const cJSON *shape = maas_cv_config(cv, "input_shape");
    int32_t in_shape[3];
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 3)
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"input_shape\" must be [channels, height, "
                         "width]", cv->config_path);
    for (int d = 0; d < 3; d++) {
        const cJSON *v = cJSON_GetArrayItem(shape, d);
        if (!maas_json_is_int(v, 1, SEQ_MAX_DIM))
            return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"input_shape\"[%d] must be an integer in "
                             "1..%.0f", cv->config_path, d, SEQ_MAX_DIM);
        in_shape[d] = (int32_t)v->valuedouble;
    }
    float scale;
    if ((s = maas_writer_set_i32_array(cv->w, "input_shape", in_shape, 3)) ||
        (s = maas_cv_f32(cv, "input_scale", &scale)))
        return s;

    const cJSON *labels = maas_cv_config(cv, "labels");
    if (labels) {
        int n = cJSON_IsArray(labels) ? cJSON_GetArraySize(labels) : -1;
        const char *names[1024];
        if (n < 1 || n > 1024)
            return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"labels\" must be an array of 1..1024 "
                             "strings", cv->config_path);
        for (int c = 0; c < n; c++) {
            const cJSON *v = cJSON_GetArrayItem(labels, c);
            if (!cJSON_IsString(v))
                return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"labels\"[%d] is not a string",
                                 cv->config_path, c);
            names[c] = v->valuestring;
        }
        if ((s = maas_writer_set_str_array(cv->w, "labels", names, NULL, (uint32_t)n)))
            return s;
        cv->summary->vocab_size = (uint32_t)n;
    }

    /* Step 2: the layers in order. */
    const cJSON *layers = maas_cv_config(cv, "layers");
    int n_layers = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : 0;
    if (n_layers < 1 || n_layers > 1024)
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"layers\" must be an array of 1..1024 layers",
                         cv->config_path);
    if ((s = maas_writer_set_u32(cv->w, "num_layers", (uint32_t)n_layers)))
        return s;
    cv->summary->n_layers = (uint32_t)n_layers;
    int i = 0;
    for (const cJSON *layer = layers->child; layer; layer = layer->next, i++)
        if ((s = convert_layer(cv, layer, i)))
            return s;
    return MAAS_OK;
}

static const char *const no_classes[] = {NULL};

const maas_cv_arch maas_cv_cnn = {
    .name = "cnn",
    .model_type = "cnn",
    .classes = no_classes,
    .canonical_name = keep_name,
    .is_dropped = keep_all,
    .convert = convert_cnn,
};

/* ---- rnn -------------------------------------------------------------------- */

/* Writes the vocabulary as a "char" tokenizer: one character per token. */
static maas_status convert_vocab(maas_cv *cv, uint32_t vocab_size)
{
    const cJSON *vocab = maas_cv_config(cv, "vocab");
    if (!cJSON_IsArray(vocab) || (uint32_t)cJSON_GetArraySize(vocab) != vocab_size)
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"vocab\" must be an array of vocab_size (%u) "
                         "strings", cv->config_path, vocab_size);
    const char **tokens = calloc(vocab_size, sizeof *tokens);
    if (!tokens)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %u tokens", vocab_size);
    uint32_t i = 0;
    for (const cJSON *v = vocab->child; v; v = v->next, i++) {
        if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
            free(tokens);
            return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"vocab\"[%u] is not a non-empty string",
                             cv->config_path, i);
        }
        tokens[i] = v->valuestring;
    }
    maas_status s = maas_writer_set_str(cv->w, "tokenizer.model", "char");
    if (s == MAAS_OK)
        s = maas_writer_set_str_array(cv->w, "tokenizer.tokens", tokens, NULL, vocab_size);
    free(tokens);
    cv->summary->n_tokens = vocab_size;
    return s;
}

static maas_status convert_rnn(maas_cv *cv)
{
    uint32_t V, E, H, L;
    const char *nonlinearity;
    maas_status s;

    /* Step 1: hyperparameters and the vocabulary. */
    if ((s = maas_cv_str(cv, "nonlinearity", &nonlinearity)))
        return s;
    if (strcmp(nonlinearity, "tanh") != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: nonlinearity \"%s\" is not supported "
                         "(supported: tanh)", cv->config_path, nonlinearity);
    const cJSON *bias_item = maas_cv_config(cv, "bias");
    if (!cJSON_IsBool(bias_item))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"bias\" must be true or false",
                         cv->config_path);
    bool bias = cJSON_IsTrue(bias_item);
    if ((s = maas_writer_set_bool(cv->w, "bias", bias)) ||
        (s = maas_cv_u32(cv, "vocab_size", &V)) || (s = maas_cv_u32(cv, "embedding_dim", &E)) ||
        (s = maas_cv_u32(cv, "hidden_size", &H)) || (s = maas_cv_u32(cv, "num_layers", &L)))
        return s;
    if (V < 1 || E < 1 || H < 1 || L < 1 || V > 1048576 || E > SEQ_MAX_DIM ||
        H > SEQ_MAX_DIM || L > 64)
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: vocab_size %u, embedding_dim %u, hidden_size "
                         "%u or num_layers %u is outside its range (1..1048576, 1..65536, "
                         "1..65536, 1..64)", cv->config_path, V, E, H, L);
    const cJSON *source = maas_cv_config(cv, "text_source");
    if (cJSON_IsString(source) &&
        (s = maas_writer_set_str(cv->w, "text_source", source->valuestring)))
        return s;
    if ((s = convert_vocab(cv, V)))
        return s;
    cv->summary->n_layers = L;
    cv->summary->hidden_size = H;
    cv->summary->vocab_size = V;

    /* Step 2: embedding, the recurrent layers, the head. */
    char name[64];
    if ((s = maas_cv_matrix(cv, "embedding.weight", V, E, 0)))
        return s;
    for (uint32_t k = 0; k < L; k++) {
        if ((s = maas_cv_matrix(cv, maas_cv_name(name, sizeof name, "rnn.weight_ih_l%u", k), H,
                                k == 0 ? E : H, 0)) ||
            (s = maas_cv_matrix(cv, maas_cv_name(name, sizeof name, "rnn.weight_hh_l%u", k), H,
                                H, 0)))
            return s;
        if (bias &&
            ((s = maas_cv_vector(cv, maas_cv_name(name, sizeof name, "rnn.bias_ih_l%u", k), H, 0)) ||
             (s = maas_cv_vector(cv, maas_cv_name(name, sizeof name, "rnn.bias_hh_l%u", k), H, 0))))
            return s;
    }
    if ((s = maas_cv_matrix(cv, "head.weight", V, H, 0)))
        return s;
    return maas_cv_vector(cv, "head.bias", V, MAAS_CV_OPTIONAL);
}

const maas_cv_arch maas_cv_rnn = {
    .name = "rnn",
    .model_type = "rnn",
    .classes = no_classes,
    .canonical_name = keep_name,
    .is_dropped = keep_all,
    .convert = convert_rnn,
};
