/* The conversion driver: config.json, architecture lookup, the checkpoint's
 * tensors, and the helpers every architecture file uses. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "convert/converter.h"
#include "internal.h"
#include "jsonfile.h"

/* ---- config.json -------------------------------------------------------- */

const cJSON *maas_cv_config(const maas_cv *cv, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(cv->config, key);
    return item && !cJSON_IsNull(item) ? item : NULL;
}

maas_status maas_cv_u32_opt(maas_cv *cv, const char *key, uint32_t *out, bool *present)
{
    const cJSON *item = maas_cv_config(cv, key);
    *present = item != NULL;
    if (!item)
        return MAAS_OK;
    if (!maas_json_is_int(item, 0, UINT32_MAX))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"%s\" must be an integer from 0 to %u",
                         cv->config_path, key, UINT32_MAX);
    *out = (uint32_t)item->valuedouble;
    return maas_writer_set_u32(cv->w, key, *out);
}

maas_status maas_cv_u32(maas_cv *cv, const char *key, uint32_t *out)
{
    bool present;
    maas_status s = maas_cv_u32_opt(cv, key, out, &present);
    if (s == MAAS_OK && !present)
        return maas_fail(MAAS_ERR_NOT_FOUND, "%s: required key \"%s\" is missing",
                         cv->config_path, key);
    return s;
}

maas_status maas_cv_token_id(maas_cv *cv, const char *key, uint32_t vocab_size)
{
    uint32_t id;
    bool present;
    const cJSON *item = maas_cv_config(cv, key);
    if (item && maas_json_is_int(item, 0, UINT32_MAX) && item->valuedouble >= vocab_size)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: %s %.0f is outside the vocabulary of %u "
                         "tokens (ids 0..%u)", cv->config_path, key, item->valuedouble,
                         vocab_size, vocab_size ? vocab_size - 1 : 0);
    return maas_cv_u32_opt(cv, key, &id, &present);
}

maas_status maas_cv_f32(maas_cv *cv, const char *key, float *out)
{
    const cJSON *item = maas_cv_config(cv, key);
    if (!item)
        return maas_fail(MAAS_ERR_NOT_FOUND, "%s: required key \"%s\" is missing",
                         cv->config_path, key);
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"%s\" must be a number", cv->config_path, key);
    *out = (float)item->valuedouble;
    return maas_writer_set_f32(cv->w, key, *out);
}

maas_status maas_cv_str(maas_cv *cv, const char *key, const char **out)
{
    const cJSON *item = maas_cv_config(cv, key);
    if (!item)
        return maas_fail(MAAS_ERR_NOT_FOUND, "%s: required key \"%s\" is missing",
                         cv->config_path, key);
    if (!cJSON_IsString(item))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"%s\" must be a string", cv->config_path, key);
    *out = item->valuestring;
    return maas_writer_set_str(cv->w, key, *out);
}

maas_status maas_cv_reject_bool(maas_cv *cv, const char *key, bool bad, const char *why)
{
    const cJSON *item = maas_cv_config(cv, key);
    if (item && cJSON_IsBool(item) && (bool)cJSON_IsTrue(item) == bad)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: \"%s\": %s is not supported (%s)",
                         cv->config_path, key, bad ? "true" : "false", why);
    return MAAS_OK;
}

/* ---- tensors ------------------------------------------------------------ */

const char *maas_cv_name(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return buf;
}

const char *maas_cv_path(const maas_cv *cv, char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", cv->dir, name);
    return buf;
}

static int find_index(const maas_cv *cv, const char *name)
{
    uint32_t n = maas_st_count(cv->st);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(cv->canon[i], name) == 0)
            return (int)i;
    return -1;
}

bool maas_cv_has(const maas_cv *cv, const char *name)
{
    return find_index(cv, name) >= 0;
}

void maas_cv_drop(maas_cv *cv, const char *name)
{
    int i = find_index(cv, name);
    if (i >= 0 && !cv->used[i]) {
        cv->used[i] = true;
        cv->summary->n_dropped++;
    }
}

maas_status maas_cv_check_layer_count(const maas_cv *cv, const char *prefix, const char *key,
                                      uint32_t n_layer)
{
    size_t prefix_len = strlen(prefix);
    uint32_t n = maas_st_count(cv->st);
    for (uint32_t i = 0; i < n; i++) {
        const char *name = cv->canon[i];
        if (strncmp(name, prefix, prefix_len) != 0)
            continue;
        char *end;
        unsigned long layer = strtoul(name + prefix_len, &end, 10);
        if (end == name + prefix_len || *end != '.' || layer < n_layer)
            continue;
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: tensor '%s' belongs to layer %lu, but %s has %s %u (layers 0 "
                         "to %u); set %s to the checkpoint's layer count",
                         maas_st_at(cv->st, i)->path, maas_st_at(cv->st, i)->name, layer,
                         cv->config_path, key, n_layer, n_layer ? n_layer - 1 : 0, key);
    }
    return MAAS_OK;
}

static void format_dims(char *buf, size_t size, int n_dims, const int64_t *shape)
{
    int n = snprintf(buf, size, "[");
    for (int d = 0; d < n_dims && n > 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, "]");
}

maas_status maas_cv_tensor(maas_cv *cv, const char *name, int n_dims, const int64_t *shape,
                           int flags, bool *found)
{
    int index = find_index(cv, name);
    if (found)
        *found = index >= 0;
    if (index < 0) {
        if (flags & MAAS_CV_OPTIONAL)
            return MAAS_OK;
        return maas_fail(MAAS_ERR_MISSING_TENSOR,
                         "%s: the checkpoint has no tensor '%s', which a %s model needs",
                         cv->dir, name, cv->arch->name);
    }
    const maas_st_tensor *src = maas_st_at(cv->st, (uint32_t)index);
    if (!src->supported || (src->dtype != MAAS_DTYPE_F32 && src->dtype != MAAS_DTYPE_F16 &&
                            src->dtype != MAAS_DTYPE_BF16))
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: tensor '%s' has dtype %s; weights must be F32, F16 or BF16",
                         src->path, src->name, src->dtype_name);

    /* The checkpoint's shape: the expected one, reversed for a transpose. */
    int64_t want[MAAS_MAX_DIMS];
    for (int d = 0; d < n_dims; d++)
        want[d] = (flags & MAAS_CV_TRANSPOSE) ? shape[n_dims - 1 - d] : shape[d];
    bool same = src->n_dims == n_dims;
    for (int d = 0; same && d < n_dims; d++)
        same = src->shape[d] == want[d];
    if (!same) {
        char got_s[128], want_s[128];
        format_dims(got_s, sizeof got_s, src->n_dims, src->shape);
        format_dims(want_s, sizeof want_s, n_dims, want);
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: tensor '%s' has shape %s, but config.json implies %s",
                         src->path, src->name, got_s, want_s);
    }

    maas_tensor t;
    maas_status s = maas_st_view(src, &t);
    if (s != MAAS_OK)
        return s;
    if (flags & MAAS_CV_TRANSPOSE) {
        /* A strided [out, in] view of the [in, out] bytes; the writer
         * stores it row-major, so the file contains the transpose. */
        MAAS_ASSERT(n_dims == 2);
        t.shape[0] = shape[0];
        t.shape[1] = shape[1];
        t.stride[0] = 1;
        t.stride[1] = shape[0];
    }
    maas_dtype dtype = n_dims == 2 ? cv->matrix_dtype : MAAS_DTYPE_F32;
    s = maas_writer_add_tensor_as(cv->w, name, &t, dtype);
    if (s != MAAS_OK)
        return s;

    cv->used[index] = true;
    cv->summary->n_tensors++;
    cv->summary->n_params += src->numel;
    cv->summary->bytes_read += src->nbytes;
    return MAAS_OK;
}

maas_status maas_cv_vector(maas_cv *cv, const char *name, int64_t n, int flags)
{
    return maas_cv_tensor(cv, name, 1, (int64_t[]){n}, flags, NULL);
}

maas_status maas_cv_matrix(maas_cv *cv, const char *name, int64_t rows, int64_t cols,
                           int flags)
{
    return maas_cv_tensor(cv, name, 2, (int64_t[]){rows, cols}, flags, NULL);
}

/* ---- the driver --------------------------------------------------------- */

const char *maas_convert_architectures(void)
{
    static char list[256];
    if (!list[0]) {
        size_t n = 0;
        for (int i = 0; maas_cv_archs[i] && n < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                                  maas_cv_archs[i]->model_type);
    }
    return list;
}

/* Picks the architecture from "model_type" and checks "architectures". */
static maas_status find_arch(maas_cv *cv)
{
    const cJSON *type = maas_cv_config(cv, "model_type");
    if (!cJSON_IsString(type))
        return maas_fail(MAAS_ERR_NOT_FOUND, "%s: required key \"model_type\" is missing or "
                         "not a string", cv->config_path);
    for (int i = 0; maas_cv_archs[i]; i++)
        if (strcmp(type->valuestring, maas_cv_archs[i]->model_type) == 0)
            cv->arch = maas_cv_archs[i];
    if (!cv->arch)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported "
                         "(supported: %s)", cv->config_path, type->valuestring,
                         maas_convert_architectures());
    snprintf(cv->summary->arch, sizeof cv->summary->arch, "%s", cv->arch->name);

    const cJSON *classes = maas_cv_config(cv, "architectures");
    if (!classes)
        return MAAS_OK;
    const cJSON *first = cJSON_IsArray(classes) ? classes->child : NULL;
    if (!cJSON_IsString(first))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: \"architectures\" must be an array of strings",
                         cv->config_path);
    snprintf(cv->summary->model_class, sizeof cv->summary->model_class, "%s",
             first->valuestring);
    for (const char *const *c = cv->arch->classes; *c; c++)
        if (strcmp(*c, first->valuestring) == 0)
            return MAAS_OK;

    char supported[256];
    size_t n = 0;
    for (const char *const *c = cv->arch->classes; *c && n < sizeof supported; c++)
        n += (size_t)snprintf(supported + n, sizeof supported - n, "%s%s",
                              c == cv->arch->classes ? "" : ", ", *c);
    return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: model class %s is not supported (supported "
                     "%s classes: %s)", cv->config_path, first->valuestring, cv->arch->name,
                     supported);
}

/* Computes each checkpoint tensor's canonical name; two checkpoint
 * tensors that map to one name (say "h.0.ln_1.weight" and
 * "transformer.h.0.ln_1.weight") are rejected. */
static maas_status name_tensors(maas_cv *cv)
{
    uint32_t n = maas_st_count(cv->st);
    cv->canon = calloc((size_t)n + 1, sizeof *cv->canon);
    cv->used = calloc((size_t)n + 1, sizeof *cv->used);
    if (!cv->canon || !cv->used)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot index %u tensors", n);
    for (uint32_t i = 0; i < n; i++) {
        const char *src = maas_st_at(cv->st, i)->name;
        size_t size = strlen(src) + 16;
        cv->canon[i] = malloc(size);
        if (!cv->canon[i])
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot copy a tensor name");
        cv->arch->canonical_name(src, cv->canon[i], size);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(cv->canon[i], cv->canon[j]) == 0)
                return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: tensors '%s' and '%s' are both "
                                 "'%s' once the model prefix is removed", cv->dir,
                                 maas_st_at(cv->st, j)->name, src, cv->canon[i]);
        if (cv->arch->is_dropped(cv->canon[i])) {
            cv->used[i] = true;
            cv->summary->n_dropped++;
        }
    }
    return MAAS_OK;
}

/* Every checkpoint tensor must be written or known to be droppable: a
 * leftover (a classification head, say) means another model class. */
static maas_status check_all_used(const maas_cv *cv)
{
    uint32_t n = maas_st_count(cv->st);
    for (uint32_t i = 0; i < n; i++)
        if (!cv->used[i])
            return maas_fail(MAAS_ERR_UNSUPPORTED,
                             "%s: tensor '%s' is not part of any supported %s model; this "
                             "checkpoint's model class or head is not supported",
                             maas_st_at(cv->st, i)->path, maas_st_at(cv->st, i)->name,
                             cv->arch->name);
    return MAAS_OK;
}

/* MAAS_ERR_INVALID_ARGUMENT when out_path names the same file (device and
 * inode) as `input`, which writing the output would replace. */
static maas_status check_not_input(const char *out_path, const struct stat *out_st,
                                   const char *input)
{
    struct stat in_st;
    if (!input[0] || stat(input, &in_st) != 0)
        return MAAS_OK;
    if (in_st.st_dev == out_st->st_dev && in_st.st_ino == out_st->st_ino)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "the output %s is the input file %s of "
                         "the conversion; choose another output path", out_path, input);
    return MAAS_OK;
}

/* Rejects an output path that is one of the files the conversion reads:
 * the config, the checkpoint shards and their index, the tokenizer files
 * and the Pooling module's config. */
static maas_status check_output_path(const maas_cv *cv, const char *out_path)
{
    struct stat out_st;
    if (stat(out_path, &out_st) != 0)
        return MAAS_OK;

    maas_status s = check_not_input(out_path, &out_st, cv->config_path);
    if (s == MAAS_OK)
        s = check_not_input(out_path, &out_st, cv->pooling_config_path);
    static const char *const names[] = {
        "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
        "vocab.json", "merges.txt", "vocab.txt", "modules.json",
    };
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0] && s == MAAS_OK; i++)
        s = check_not_input(out_path, &out_st, maas_cv_path(cv, path, sizeof path, names[i]));
    uint32_t n = cv->st ? maas_st_count(cv->st) : 0;
    const char *previous = NULL;
    for (uint32_t i = 0; i < n && s == MAAS_OK; i++) {
        const char *shard = maas_st_at(cv->st, i)->path;
        if (!previous || strcmp(shard, previous) != 0)
            s = check_not_input(out_path, &out_st, shard);
        previous = shard;
    }
    return s;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static maas_status run(maas_cv *cv, const char *out_path, const maas_convert_options *opt)
{
    maas_status s = maas_json_read_file(cv->config_path, &cv->config);
    if (s == MAAS_ERR_NOT_FOUND)
        return maas_fail(s, "%s has no config.json; give the folder of a Hugging Face "
                         "checkpoint (config.json, model.safetensors, tokenizer files)",
                         cv->dir);
    if (s != MAAS_OK)
        return s;
    if (!cJSON_IsObject(cv->config))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s is not a JSON object", cv->config_path);
    s = find_arch(cv);
    if (s != MAAS_OK)
        return s;

    s = maas_st_open_dir(cv->dir, &cv->st);
    if (s == MAAS_OK)
        s = name_tensors(cv);
    if (s == MAAS_OK)
        s = maas_writer_create(cv->arch->name, &cv->w);
    if (s == MAAS_OK)
        s = cv->arch->convert(cv);
    if (s == MAAS_OK)
        s = check_all_used(cv);
    if (s == MAAS_OK)
        s = check_output_path(cv, out_path);
    if (s == MAAS_OK)
        s = maas_writer_write(cv->w, out_path, opt->progress, opt->progress_user);
    if (s != MAAS_OK)
        return s;

    struct stat st;
    if (stat(out_path, &st) == 0)
        cv->summary->bytes_written = (uint64_t)st.st_size;
    return MAAS_OK;
}

maas_status maas_convert(const char *hf_dir, const char *out_path,
                         const maas_convert_options *options, maas_convert_summary *summary)
{
    if (!hf_dir || !out_path)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_convert: a model folder and an output path are required");
    maas_convert_options opt = {0};
    if (options)
        opt = *options;
    if (opt.dtype != MAAS_DTYPE_F32 && opt.dtype != MAAS_DTYPE_F16)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_convert: output dtype must be f32 or f16, not %s",
                         maas_dtype_name(opt.dtype) ? maas_dtype_name(opt.dtype) : "invalid");

    double start = now_seconds();
    maas_convert_summary local;
    maas_convert_summary *sum = summary ? summary : &local;
    memset(sum, 0, sizeof *sum);
    maas_cv cv = {.dir = hf_dir, .matrix_dtype = opt.dtype, .summary = sum};
    snprintf(cv.config_path, sizeof cv.config_path, "%s/config.json", hf_dir);
    /* PyTorch models that are not Hugging Face checkpoints ("cnn", "rnn")
     * describe themselves in a model.json with the same "model_type" key. */
    if (!maas_path_exists(cv.config_path)) {
        char alt[sizeof cv.config_path];
        snprintf(alt, sizeof alt, "%s/model.json", hf_dir);
        if (maas_path_exists(alt))
            memcpy(cv.config_path, alt, sizeof alt);
    }

    maas_status s = run(&cv, out_path, &opt);

    if (cv.canon)
        for (uint32_t i = 0; i < maas_st_count(cv.st); i++)
            free(cv.canon[i]);
    free(cv.canon);
    free(cv.used);
    maas_writer_free(cv.w);
    maas_st_close(cv.st);
    cJSON_Delete(cv.config);
    sum->seconds = now_seconds() - start;
    return s;
}
