/* Convolutional classifiers: a sequence of conv2d, ReLU, max-pool, flatten
 * and linear layers read from a "cnn" .maas file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "maas/cnn.h"
#include "maas/kernels.h"
#include "weights.h"

/* Largest value accepted for a size or count key, so that products of a
 * few of them stay far from int overflow. */
#define CNN_MAX_DIM 65536
#define CNN_MAX_LAYERS 1024

typedef struct cnn_layer {
    maas_cnn_layer_kind kind;
    const char *name;          /* tensor prefix, e.g. "3" for "3.weight" */
    int in_shape[3], in_dims;  /* per image: [C, H, W] or [N] */
    int out_shape[3], out_dims;
    size_t in_size, out_size;  /* elements per image */

    maas_conv2d_params conv;   /* conv2d; batch is set per forward pass */
    const float *conv_w;       /* [Cout, Cin/groups, kh, kw] */

    int pool_kernel, pool_stride, pool_pad;

    maas_tensor linear_w;      /* [N, K], f32 or f16 */
    const float *bias;         /* [Cout] or [N], or NULL */
} cnn_layer;

struct maas_cnn {
    const maas_file *file;
    int in_c, in_h, in_w;
    float input_scale;
    int n_classes;
    uint32_t n_labels;
    int n_layers;
    cnn_layer *layers;
    maas_weight_copies copies; /* f32 copies of non-f32 weights */
};

struct maas_cnn_context {
    const maas_cnn *m;
    int max_batch, n_threads, batch;
    maas_arena arena;
    float *input;              /* [max_batch, C*H*W], scaled */
    float **outputs;           /* per layer [max_batch, out_size] */
    float *scratch;
    size_t scratch_floats;
};

static const char *const kind_names[MAAS_CNN_LAYER_KIND_COUNT] = {
    "conv2d", "relu", "maxpool2d", "flatten", "linear",
};

const char *maas_cnn_layer_kind_name(maas_cnn_layer_kind kind)
{
    return (unsigned)kind < MAAS_CNN_LAYER_KIND_COUNT ? kind_names[kind] : NULL;
}

/* ---- reading keys ---------------------------------------------------------- */

static maas_status get_int(const maas_file *f, const char *key, int min, int *out)
{
    uint32_t v;
    maas_status st = maas_file_get_u32(f, key, &v);
    if (st != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key %s is missing or not a u32 (%s)",
                         maas_file_path(f), key, maas_last_error());
    if (v < (uint32_t)min || v > CNN_MAX_DIM)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key %s is %u; expected %d..%d",
                         maas_file_path(f), key, v, min, CNN_MAX_DIM);
    *out = (int)v;
    return MAAS_OK;
}

/* Reads an i32 array of exactly `n` entries, each in min..CNN_MAX_DIM. */
static maas_status get_ints(const maas_file *f, const char *key, int n, int min, int *out)
{
    const int32_t *v;
    uint32_t count;
    maas_status st = maas_file_get_i32_array(f, key, &v, &count);
    if (st != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key %s is missing or not an i32 array (%s)",
                         maas_file_path(f), key, maas_last_error());
    if (count != (uint32_t)n)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key %s has %u entries; expected %d",
                         maas_file_path(f), key, count, n);
    for (int i = 0; i < n; i++) {
        if (v[i] < min || v[i] > CNN_MAX_DIM)
            return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key %s[%d] is %d; expected %d..%d",
                             maas_file_path(f), key, i, (int)v[i], min, CNN_MAX_DIM);
        out[i] = v[i];
    }
    return MAAS_OK;
}

static maas_status get_flag(const maas_file *f, const char *key, bool *out)
{
    if (maas_file_get_bool(f, key, out) != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key %s is missing or not a bool (%s)",
                         maas_file_path(f), key, maas_last_error());
    return MAAS_OK;
}

/* Formats "layers.<i>.<field>" into buf. */
static const char *layer_key(char *buf, size_t size, int i, const char *field)
{
    snprintf(buf, size, "layers.%d.%s", i, field);
    return buf;
}

/* ---- loading ---------------------------------------------------------------- */

/* Finds "<layer name>.<suffix>" with the given shape and returns it as f32. */
static maas_status load_f32(maas_cnn *m, const cnn_layer *layer, const char *suffix,
                            int n_dims, const int64_t *shape, const float **out)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%s", layer->name, suffix);
    return maas_weight_load_f32(m->file, name, n_dims, shape, &m->copies, out);
}

static maas_status load_bias(maas_cnn *m, cnn_layer *layer, int i, int n)
{
    char key[64];
    bool has_bias;
    maas_status st = get_flag(m->file, layer_key(key, sizeof key, i, "bias"), &has_bias);
    if (st != MAAS_OK || !has_bias)
        return st;
    int64_t shape[1] = {n};
    return load_f32(m, layer, "bias", 1, shape, &layer->bias);
}

static maas_status load_conv2d(maas_cnn *m, cnn_layer *layer, int i)
{
    const maas_file *f = m->file;
    char key[64];
    int in_channels, out_channels, groups, kernel[2], stride[2], pad[2], dilation[2];
    maas_status st;

    if ((st = get_int(f, layer_key(key, sizeof key, i, "in_channels"), 1, &in_channels)) ||
        (st = get_int(f, layer_key(key, sizeof key, i, "out_channels"), 1, &out_channels)) ||
        (st = get_int(f, layer_key(key, sizeof key, i, "groups"), 1, &groups)) ||
        (st = get_ints(f, layer_key(key, sizeof key, i, "kernel_size"), 2, 1, kernel)) ||
        (st = get_ints(f, layer_key(key, sizeof key, i, "stride"), 2, 1, stride)) ||
        (st = get_ints(f, layer_key(key, sizeof key, i, "padding"), 2, 0, pad)) ||
        (st = get_ints(f, layer_key(key, sizeof key, i, "dilation"), 2, 1, dilation)))
        return st;

    if (layer->in_dims != 3 || layer->in_shape[0] != in_channels)
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: layer %d (conv2d %s) expects %d input channels of an image, "
                         "but the previous layer gives %s of %d",
                         maas_file_path(f), i, layer->name, in_channels,
                         layer->in_dims == 3 ? "channels" : "a flat vector", layer->in_shape[0]);
    if (in_channels % groups != 0 || out_channels % groups != 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: layer %d (conv2d %s): groups %d must divide in_channels %d "
                         "and out_channels %d", maas_file_path(f), i, layer->name, groups,
                         in_channels, out_channels);

    maas_conv2d_params *p = &layer->conv;
    *p = (maas_conv2d_params){
        .batch = 1, .in_channels = in_channels, .in_h = layer->in_shape[1],
        .in_w = layer->in_shape[2], .out_channels = out_channels,
        .kernel_h = kernel[0], .kernel_w = kernel[1], .stride_h = stride[0],
        .stride_w = stride[1], .pad_h = pad[0], .pad_w = pad[1],
        .dilation_h = dilation[0], .dilation_w = dilation[1], .groups = groups,
    };
    int out_h = maas_conv2d_out_size(p->in_h, kernel[0], stride[0], pad[0], dilation[0]);
    int out_w = maas_conv2d_out_size(p->in_w, kernel[1], stride[1], pad[1], dilation[1]);
    if (out_h <= 0 || out_w <= 0)
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: layer %d (conv2d %s) gives an empty output on a %dx%d input",
                         maas_file_path(f), i, layer->name, p->in_h, p->in_w);
    layer->out_dims = 3;
    layer->out_shape[0] = out_channels;
    layer->out_shape[1] = out_h;
    layer->out_shape[2] = out_w;

    int64_t shape[4] = {out_channels, in_channels / groups, kernel[0], kernel[1]};
    if ((st = load_f32(m, layer, "weight", 4, shape, &layer->conv_w)))
        return st;
    return load_bias(m, layer, i, out_channels);
}

static maas_status load_maxpool2d(maas_cnn *m, cnn_layer *layer, int i)
{
    const maas_file *f = m->file;
    char key[64];
    maas_status st;

    if ((st = get_int(f, layer_key(key, sizeof key, i, "kernel_size"), 1, &layer->pool_kernel)) ||
        (st = get_int(f, layer_key(key, sizeof key, i, "stride"), 1, &layer->pool_stride)) ||
        (st = get_int(f, layer_key(key, sizeof key, i, "padding"), 0, &layer->pool_pad)))
        return st;
    if (layer->in_dims != 3)
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: layer %d (maxpool2d %s) needs an image input, not a flat vector",
                         maas_file_path(f), i, layer->name);
    /* PyTorch's rule: padding at most half the window. */
    if (2 * layer->pool_pad > layer->pool_kernel)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: layer %d (maxpool2d %s): padding %d is more than half the "
                         "kernel size %d", maas_file_path(f), i, layer->name,
                         layer->pool_pad, layer->pool_kernel);

    int out_h = maas_conv2d_out_size(layer->in_shape[1], layer->pool_kernel,
                                     layer->pool_stride, layer->pool_pad, 1);
    int out_w = maas_conv2d_out_size(layer->in_shape[2], layer->pool_kernel,
                                     layer->pool_stride, layer->pool_pad, 1);
    if (out_h <= 0 || out_w <= 0)
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: layer %d (maxpool2d %s) gives an empty output on a %dx%d input",
                         maas_file_path(f), i, layer->name, layer->in_shape[1],
                         layer->in_shape[2]);
    layer->out_dims = 3;
    layer->out_shape[0] = layer->in_shape[0];
    layer->out_shape[1] = out_h;
    layer->out_shape[2] = out_w;
    return MAAS_OK;
}

static maas_status load_linear(maas_cnn *m, cnn_layer *layer, int i)
{
    const maas_file *f = m->file;
    char key[64], name[256];
    int in_features, out_features;
    maas_status st;

    if ((st = get_int(f, layer_key(key, sizeof key, i, "in_features"), 1, &in_features)) ||
        (st = get_int(f, layer_key(key, sizeof key, i, "out_features"), 1, &out_features)))
        return st;
    if (layer->in_dims != 1 || (size_t)in_features != layer->in_size)
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: layer %d (linear %s) expects a flat vector of %d, but the "
                         "previous layer gives %s of %zu elements (add a flatten layer "
                         "before it?)", maas_file_path(f), i, layer->name, in_features,
                         layer->in_dims == 1 ? "a vector" : "an image", layer->in_size);
    layer->out_dims = 1;
    layer->out_shape[0] = out_features;

    /* f32 and f16 weights go to maas_linear as they are, bf16 is converted. */
    int64_t shape[2] = {out_features, in_features};
    snprintf(name, sizeof name, "%s.weight", layer->name);
    if ((st = maas_weight_load_linear(f, name, shape, &m->copies, &layer->linear_w)))
        return st;
    return load_bias(m, layer, i, out_features);
}

static size_t shape_size(const int *shape, int n_dims)
{
    size_t n = 1;
    for (int d = 0; d < n_dims; d++)
        n *= (size_t)shape[d];
    return n;
}

static maas_status load_layer(maas_cnn *m, int i, const int *in_shape, int in_dims)
{
    cnn_layer *layer = &m->layers[i];
    char key[64];
    const char *type;
    maas_status st;

    /* Step 1: type, tensor prefix and input shape. */
    if (maas_file_get_str(m->file, layer_key(key, sizeof key, i, "type"), &type) != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key %s is missing or not a string",
                         maas_file_path(m->file), key);
    if (maas_file_get_str(m->file, layer_key(key, sizeof key, i, "name"), &layer->name) != MAAS_OK)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key %s is missing or not a string",
                         maas_file_path(m->file), key);
    layer->kind = MAAS_CNN_LAYER_KIND_COUNT;
    for (int k = 0; k < MAAS_CNN_LAYER_KIND_COUNT; k++)
        if (strcmp(type, kind_names[k]) == 0)
            layer->kind = (maas_cnn_layer_kind)k;
    memcpy(layer->in_shape, in_shape, sizeof layer->in_shape);
    layer->in_dims = in_dims;
    layer->in_size = shape_size(in_shape, in_dims);

    /* Step 2: the kind's own keys and tensors.  Each sets the output shape. */
    switch (layer->kind) {
    case MAAS_CNN_CONV2D:
        st = load_conv2d(m, layer, i);
        break;
    case MAAS_CNN_MAXPOOL2D:
        st = load_maxpool2d(m, layer, i);
        break;
    case MAAS_CNN_LINEAR:
        st = load_linear(m, layer, i);
        break;
    case MAAS_CNN_RELU:
        memcpy(layer->out_shape, in_shape, sizeof layer->out_shape);
        layer->out_dims = in_dims;
        st = MAAS_OK;
        break;
    case MAAS_CNN_FLATTEN:
        layer->out_dims = 1;
        layer->out_shape[0] = (int)layer->in_size;
        layer->out_shape[1] = layer->out_shape[2] = 1;
        st = MAAS_OK;
        break;
    default:
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: layer %d has type \"%s\"; supported types are conv2d, relu, "
                         "maxpool2d, flatten and linear", maas_file_path(m->file), i, type);
    }
    if (st != MAAS_OK)
        return st;
    layer->out_size = shape_size(layer->out_shape, layer->out_dims);
    if (layer->out_size > (size_t)CNN_MAX_DIM * CNN_MAX_DIM)
        return maas_fail(MAAS_ERR_OVERFLOW, "%s: layer %d output has %zu elements per image",
                         maas_file_path(m->file), i, layer->out_size);
    return MAAS_OK;
}

maas_status maas_cnn_load(const maas_file *f, maas_cnn **out)
{
    if (!f || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_cnn_load: file and out must not be NULL");
    if (strcmp(maas_file_arch(f), "cnn") != 0)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s has architecture \"%s\", not \"cnn\"",
                         maas_file_path(f), maas_file_arch(f));

    maas_cnn *m = calloc(1, sizeof *m);
    if (!m)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a cnn model");
    m->file = f;

    /* Step 1: input shape and scale, labels, layer count. */
    int in_shape[3];
    maas_status st = get_ints(f, "input_shape", 3, 1, in_shape);
    if (st == MAAS_OK && maas_file_get_f32(f, "input_scale", &m->input_scale) != MAAS_OK)
        st = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key input_scale is missing or not a float",
                       maas_file_path(f));
    if (st == MAAS_OK && !isfinite(m->input_scale))
        st = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key input_scale is not finite",
                       maas_file_path(f));
    if (st == MAAS_OK && maas_file_has(f, "labels") &&
        maas_file_get_str_array(f, "labels", &m->n_labels) != MAAS_OK)
        st = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: cnn key labels is not a string array",
                       maas_file_path(f));
    if (st == MAAS_OK)
        st = get_int(f, "num_layers", 1, &m->n_layers);
    if (st == MAAS_OK && m->n_layers > CNN_MAX_LAYERS)
        st = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: num_layers %d is above the limit of %d",
                       maas_file_path(f), m->n_layers, CNN_MAX_LAYERS);
    if (st != MAAS_OK) {
        maas_cnn_free(m);
        return st;
    }
    m->in_c = in_shape[0];
    m->in_h = in_shape[1];
    m->in_w = in_shape[2];

    /* Step 2: every layer, each taking the shape the previous one gives. */
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    if (!m->layers) {
        maas_cnn_free(m);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %d cnn layers", m->n_layers);
    }
    int shape[3] = {in_shape[0], in_shape[1], in_shape[2]};
    int dims = 3;
    for (int i = 0; i < m->n_layers; i++) {
        if ((st = load_layer(m, i, shape, dims)) != MAAS_OK) {
            maas_cnn_free(m);
            return st;
        }
        memcpy(shape, m->layers[i].out_shape, sizeof shape);
        dims = m->layers[i].out_dims;
    }

    /* Step 3: the last layer gives one score per class. */
    if (dims != 1) {
        maas_cnn_free(m);
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: the last layer gives an image, not a vector of class scores "
                         "(end the model with flatten and linear)", maas_file_path(f));
    }
    m->n_classes = shape[0];
    if (m->n_labels != 0 && m->n_labels != (uint32_t)m->n_classes) {
        maas_cnn_free(m);
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH, "%s: %u labels for %d classes",
                         maas_file_path(f), m->n_labels, m->n_classes);
    }
    *out = m;
    return MAAS_OK;
}

void maas_cnn_free(maas_cnn *m)
{
    if (!m)
        return;
    maas_weight_copies_free(&m->copies);
    free(m->layers);
    free(m);
}

/* ---- queries ------------------------------------------------------------------ */

void maas_cnn_input_shape(const maas_cnn *m, int *channels, int *height, int *width)
{
    if (channels)
        *channels = m->in_c;
    if (height)
        *height = m->in_h;
    if (width)
        *width = m->in_w;
}

float maas_cnn_input_scale(const maas_cnn *m) { return m->input_scale; }

int maas_cnn_n_classes(const maas_cnn *m) { return m->n_classes; }

int maas_cnn_n_layers(const maas_cnn *m) { return m->n_layers; }

const char *maas_cnn_label(const maas_cnn *m, int c)
{
    const char *label;
    if (c < 0 || (uint32_t)c >= m->n_labels)
        return NULL;
    if (maas_file_get_str_at(m->file, "labels", (uint32_t)c, &label, NULL) != MAAS_OK)
        return NULL;
    return label;
}

maas_cnn_layer_kind maas_cnn_layer_kind_at(const maas_cnn *m, int i)
{
    return i >= 0 && i < m->n_layers ? m->layers[i].kind : MAAS_CNN_LAYER_KIND_COUNT;
}

size_t maas_cnn_layer_shape(const maas_cnn *m, int i, int shape[3], int *n_dims)
{
    if (i < 0 || i >= m->n_layers)
        return 0;
    const cnn_layer *layer = &m->layers[i];
    if (shape)
        memcpy(shape, layer->out_shape, 3 * sizeof *shape);
    if (n_dims)
        *n_dims = layer->out_dims;
    return layer->out_size;
}

/* ---- contexts and the forward pass --------------------------------------------- */

maas_status maas_cnn_context_create(const maas_cnn *m, int max_batch, int n_threads,
                                    maas_cnn_context **out)
{
    if (!m || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_cnn_context_create: model and out must not be NULL");
    if (max_batch < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "max_batch is %d; it must be at least 1",
                         max_batch);

    maas_cnn_context *ctx = calloc(1, sizeof *ctx);
    float **outputs = calloc((size_t)m->n_layers, sizeof *outputs);
    size_t *sizes = calloc((size_t)m->n_layers + 2, sizeof *sizes);
    if (!ctx || !outputs || !sizes) {
        free(ctx);
        free(outputs);
        free(sizes);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a cnn context");
    }
    ctx->m = m;
    ctx->max_batch = max_batch;
    ctx->n_threads = maas_resolve_threads(n_threads);
    ctx->outputs = outputs;

    /* Step 1: sizes of the input, each layer's output and the conv scratch.
     * A flatten layer reuses its input buffer, so it needs none. */
    bool ok = maas_mul_size((size_t)max_batch * sizeof(float),
                            (size_t)m->in_c * m->in_h * m->in_w, &sizes[0]);
    for (int i = 0; ok && i < m->n_layers; i++) {
        const cnn_layer *layer = &m->layers[i];
        if (layer->kind != MAAS_CNN_FLATTEN)
            ok = maas_mul_size((size_t)max_batch * sizeof(float), layer->out_size, &sizes[i + 1]);
        if (layer->kind == MAAS_CNN_CONV2D) {
            /* Every batch size, since the kernel may size its im2col
             * buffer per thread and per image. */
            maas_conv2d_params p = layer->conv;
            for (int b = 1; b <= max_batch; b++) {
                p.batch = b;
                size_t need = maas_conv2d_scratch_floats(&p, ctx->n_threads);
                if (need > ctx->scratch_floats)
                    ctx->scratch_floats = need;
            }
        }
    }
    ok = ok && maas_mul_size(ctx->scratch_floats, sizeof(float), &sizes[m->n_layers + 1]);
    if (!ok) {
        free(sizes);
        maas_cnn_context_free(ctx);
        return maas_fail(MAAS_ERR_OVERFLOW, "cnn activations for a batch of %d overflow size_t",
                         max_batch);
    }

    /* Step 2: one arena, then point every buffer into it. */
    maas_status st = maas_arena_init(&ctx->arena, maas_arena_size_for(sizes, m->n_layers + 2));
    if (st != MAAS_OK) {
        free(sizes);
        maas_cnn_context_free(ctx);
        return st;
    }
    ctx->input = maas_arena_alloc(&ctx->arena, sizes[0]);
    MAAS_ASSERT(ctx->input);
    const float *prev = ctx->input;
    for (int i = 0; i < m->n_layers; i++) {
        if (m->layers[i].kind == MAAS_CNN_FLATTEN) {
            ctx->outputs[i] = (float *)prev;
        } else {
            ctx->outputs[i] = maas_arena_alloc(&ctx->arena, sizes[i + 1]);
            MAAS_ASSERT(ctx->outputs[i]);
        }
        prev = ctx->outputs[i];
    }
    if (ctx->scratch_floats > 0) {
        ctx->scratch = maas_arena_alloc(&ctx->arena, sizes[m->n_layers + 1]);
        MAAS_ASSERT(ctx->scratch);
    }
    free(sizes);
    *out = ctx;
    return MAAS_OK;
}

void maas_cnn_context_free(maas_cnn_context *ctx)
{
    if (!ctx)
        return;
    maas_arena_free(&ctx->arena);
    free(ctx->outputs);
    free(ctx);
}

/* Runs layer i on in[B, in_size] into its output buffer. */
static maas_status run_layer(maas_cnn_context *ctx, int i, const float *in, int batch)
{
    const cnn_layer *layer = &ctx->m->layers[i];
    float *out = ctx->outputs[i];
    size_t n = (size_t)batch * layer->out_size;

    switch (layer->kind) {
    case MAAS_CNN_CONV2D: {
        maas_conv2d_params p = layer->conv;
        p.batch = batch;
        MAAS_ASSERT(maas_conv2d_scratch_floats(&p, ctx->n_threads) <= ctx->scratch_floats);
        return maas_conv2d_f32(out, in, layer->conv_w, layer->bias, &p, ctx->scratch,
                               ctx->n_threads);
    }
    case MAAS_CNN_RELU:
        maas_relu_f32(out, in, n, ctx->n_threads);
        return MAAS_OK;
    case MAAS_CNN_MAXPOOL2D:
        return maas_maxpool2d_f32(out, in, batch, layer->in_shape[0], layer->in_shape[1],
                                  layer->in_shape[2], layer->pool_kernel, layer->pool_stride,
                                  layer->pool_pad, ctx->n_threads);
    case MAAS_CNN_FLATTEN:
        /* NCHW rows are already [C*H*W] per image: the buffer is shared. */
        MAAS_ASSERT(out == in);
        return MAAS_OK;
    case MAAS_CNN_LINEAR:
        return maas_linear(out, in, &layer->linear_w, layer->bias, batch, ctx->n_threads);
    default:
        MAAS_ASSERT(!"unknown cnn layer kind");
        return MAAS_ERR_UNSUPPORTED;
    }
}

maas_status maas_cnn_forward(maas_cnn_context *ctx, const float *images, int batch,
                             float *logits)
{
    if (!ctx || !images)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_cnn_forward: context and images must not be NULL");
    if (batch < 1 || batch > ctx->max_batch)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "batch %d is outside 1..%d (the context's max_batch)", batch,
                         ctx->max_batch);
    const maas_cnn *m = ctx->m;
    ctx->batch = batch;

    /* Step 1: scale the input, e.g. pixels 0..16 to 0..1. */
    size_t n_in = (size_t)batch * m->in_c * m->in_h * m->in_w;
    for (size_t j = 0; j < n_in; j++)
        ctx->input[j] = images[j] * m->input_scale;

    /* Step 2: the layers in order, each reading the previous output. */
    const float *in = ctx->input;
    for (int i = 0; i < m->n_layers; i++) {
        maas_status st = run_layer(ctx, i, in, batch);
        if (st != MAAS_OK)
            return st;
        in = ctx->outputs[i];
    }

    /* Step 3: the last layer's output is the logits. */
    size_t n_out = (size_t)batch * m->n_classes;
    if (!maas_all_finite_f32(in, n_out))
        return maas_fail(MAAS_ERR_NON_FINITE, "the cnn logits contain a NaN or infinity");
    if (logits)
        memcpy(logits, in, n_out * sizeof *logits);
    return MAAS_OK;
}

maas_status maas_cnn_classify(maas_cnn_context *ctx, const float *images, int batch,
                              int *classes)
{
    if (!classes)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_cnn_classify: classes must not be NULL");
    maas_status st = maas_cnn_forward(ctx, images, batch, NULL);
    if (st != MAAS_OK)
        return st;
    const maas_cnn *m = ctx->m;
    const float *logits = ctx->outputs[m->n_layers - 1];
    for (int b = 0; b < batch; b++)
        classes[b] = maas_argmax_f32(logits + (size_t)b * m->n_classes, m->n_classes);
    return MAAS_OK;
}

const float *maas_cnn_layer_output(const maas_cnn_context *ctx, int i)
{
    if (!ctx || i < 0 || i >= ctx->m->n_layers)
        return NULL;
    return ctx->outputs[i];
}
