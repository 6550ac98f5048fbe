/* Writing a .maas file: collect key/values and tensor descriptions, then
 * lay out the metadata and stream the tensor data in one pass. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file/format.h"
#include "file/stream.h"
#include "internal.h"
#include "maas/file.h"

typedef struct writer_kv {
    char *key;
    maas_value_type type;
    uint8_t scalar[8];   /* U32, I32, F32, F64, BOOL: the little-endian bytes */
    char *blob;          /* STRING, STRING_ARRAY: the strings, each NUL-terminated */
    uint32_t *lens;      /* STRING_ARRAY: byte length of each string */
    int32_t *ints;       /* I32_ARRAY */
    uint32_t count;
} writer_kv;

typedef struct writer_tensor {
    char *name;
    maas_tensor src;     /* the caller's description; data not owned */
    maas_dtype dtype;    /* dtype stored in the file */
    uint64_t offset;     /* from the data offset */
    uint64_t size;       /* bytes in the file */
} writer_tensor;

struct maas_writer {
    char *arch;
    writer_kv *kvs;
    uint32_t kv_count, kv_cap;
    writer_tensor *tensors;
    uint32_t tensor_count, tensor_cap;
};

maas_status maas_writer_create(const char *arch, maas_writer **out)
{
    if (!arch || !arch[0] || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_writer_create: a non-empty architecture name is required");
    maas_writer *w = calloc(1, sizeof *w);
    if (w)
        w->arch = strdup(arch);
    if (!w || !w->arch) {
        free(w);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a writer");
    }
    *out = w;
    return MAAS_OK;
}

void maas_writer_free(maas_writer *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->kv_count; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].blob);
        free(w->kvs[i].lens);
        free(w->kvs[i].ints);
    }
    for (uint32_t i = 0; i < w->tensor_count; i++)
        free(w->tensors[i].name);
    free(w->kvs);
    free(w->tensors);
    free(w->arch);
    free(w);
}

/* ---- key/values --------------------------------------------------------- */

/* Appends a key/value slot for `key`, rejecting duplicates. */
static maas_status new_kv(maas_writer *w, const char *key, maas_value_type type,
                          writer_kv **out)
{
    if (!w || !key || !key[0])
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: a non-empty key is required");
    if (strlen(key) > UINT32_MAX - 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: key is too long");
    for (uint32_t i = 0; i < w->kv_count; i++)
        if (strcmp(w->kvs[i].key, key) == 0)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: key '%s' is already set", key);
    if (w->kv_count == UINT32_MAX)
        return maas_fail(MAAS_ERR_OVERFLOW, "writer: too many key/values");
    if (w->kv_count == w->kv_cap) {
        uint32_t cap = w->kv_cap ? w->kv_cap * 2 : 16;
        writer_kv *kvs = realloc(w->kvs, (size_t)cap * sizeof *kvs);
        if (!kvs)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot grow the key list");
        w->kvs = kvs;
        w->kv_cap = cap;
    }
    writer_kv *kv = &w->kvs[w->kv_count];
    memset(kv, 0, sizeof *kv);
    kv->key = strdup(key);
    if (!kv->key)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot copy key '%s'", key);
    kv->type = type;
    w->kv_count++;
    *out = kv;
    return MAAS_OK;
}

static maas_status set_scalar(maas_writer *w, const char *key, maas_value_type type,
                              const void *bytes, size_t size)
{
    writer_kv *kv;
    maas_status s = new_kv(w, key, type, &kv);
    if (s == MAAS_OK)
        memcpy(kv->scalar, bytes, size);
    return s;
}

maas_status maas_writer_set_u32(maas_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, MAAS_VALUE_U32, &v, sizeof v);
}

maas_status maas_writer_set_i32(maas_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, MAAS_VALUE_I32, &v, sizeof v);
}

maas_status maas_writer_set_f32(maas_writer *w, const char *key, float v)
{
    return set_scalar(w, key, MAAS_VALUE_F32, &v, sizeof v);
}

maas_status maas_writer_set_f64(maas_writer *w, const char *key, double v)
{
    return set_scalar(w, key, MAAS_VALUE_F64, &v, sizeof v);
}

maas_status maas_writer_set_bool(maas_writer *w, const char *key, bool v)
{
    uint8_t byte = v ? 1 : 0;
    return set_scalar(w, key, MAAS_VALUE_BOOL, &byte, 1);
}

maas_status maas_writer_set_str(maas_writer *w, const char *key, const char *v)
{
    if (!v)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: key '%s' has a NULL string",
                         key ? key : "(null)");
    writer_kv *kv;
    maas_status s = new_kv(w, key, MAAS_VALUE_STRING, &kv);
    if (s != MAAS_OK)
        return s;
    kv->blob = strdup(v);
    if (!kv->blob) {
        w->kv_count--;
        free(kv->key);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot copy the value of '%s'", key);
    }
    return MAAS_OK;
}

maas_status maas_writer_set_str_array(maas_writer *w, const char *key,
                                      const char *const *strings,
                                      const uint32_t *lens, uint32_t count)
{
    if (count > 0 && !strings)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: key '%s' has NULL strings",
                         key ? key : "(null)");

    /* Lengths, NUL checks and the total, before allocating anything. */
    size_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!strings[i])
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "writer: key '%s': string %u is NULL", key ? key : "(null)", i);
        size_t len = lens ? lens[i] : strlen(strings[i]);
        if (lens && memchr(strings[i], '\0', len))
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "writer: key '%s': string %u contains a NUL byte",
                             key ? key : "(null)", i);
        if (len > UINT32_MAX - 1 || !maas_add_size(total, len + 1, &total))
            return maas_fail(MAAS_ERR_OVERFLOW, "writer: key '%s' is too large",
                             key ? key : "(null)");
    }

    writer_kv *kv;
    maas_status s = new_kv(w, key, MAAS_VALUE_STRING_ARRAY, &kv);
    if (s != MAAS_OK)
        return s;
    kv->blob = malloc(total + 1);
    kv->lens = malloc(((size_t)count + 1) * sizeof *kv->lens);
    if (!kv->blob || !kv->lens) {
        free(kv->blob);
        free(kv->lens);
        free(kv->key);
        w->kv_count--;
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot copy %u strings of '%s'",
                         count, key);
    }
    char *p = kv->blob;
    for (uint32_t i = 0; i < count; i++) {
        size_t len = lens ? lens[i] : strlen(strings[i]);
        memcpy(p, strings[i], len);
        p[len] = '\0';
        p += len + 1;
        kv->lens[i] = (uint32_t)len;
    }
    kv->count = count;
    return MAAS_OK;
}

maas_status maas_writer_set_i32_array(maas_writer *w, const char *key,
                                      const int32_t *values, uint32_t count)
{
    if (count > 0 && !values)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: key '%s' has NULL values",
                         key ? key : "(null)");
    writer_kv *kv;
    maas_status s = new_kv(w, key, MAAS_VALUE_I32_ARRAY, &kv);
    if (s != MAAS_OK)
        return s;
    kv->ints = malloc(((size_t)count + 1) * sizeof *kv->ints);
    if (!kv->ints) {
        free(kv->key);
        w->kv_count--;
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot copy %u values of '%s'",
                         count, key);
    }
    if (count)
        memcpy(kv->ints, values, (size_t)count * sizeof *values);
    kv->count = count;
    return MAAS_OK;
}

/* ---- tensors ------------------------------------------------------------ */

static bool is_float(maas_dtype d)
{
    return d == MAAS_DTYPE_F32 || d == MAAS_DTYPE_F16 || d == MAAS_DTYPE_BF16;
}

maas_status maas_writer_add_tensor_as(maas_writer *w, const char *name,
                                      const maas_tensor *t, maas_dtype dtype)
{
    if (!w || !name || !name[0] || !t)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "writer: a tensor needs a non-empty name and a description");
    if ((unsigned)t->dtype >= MAAS_DTYPE_COUNT || (unsigned)dtype >= MAAS_DTYPE_COUNT)
        return maas_fail(MAAS_ERR_UNKNOWN_DTYPE, "writer: tensor '%s' has an invalid dtype",
                         name);
    if (t->dtype != dtype && !(is_float(t->dtype) && is_float(dtype)))
        return maas_fail(MAAS_ERR_UNSUPPORTED, "writer: tensor '%s': cannot store %s as %s",
                         name, maas_dtype_name(t->dtype), maas_dtype_name(dtype));
    if (t->n_dims < 1 || t->n_dims > MAAS_MAX_DIMS)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: tensor '%s' has %d dimensions",
                         name, t->n_dims);

    uint64_t numel = 1;
    for (int d = 0; d < t->n_dims; d++) {
        if (t->shape[d] < 0)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "writer: tensor '%s' has a negative dimension", name);
        if (__builtin_mul_overflow(numel, (uint64_t)t->shape[d], &numel))
            return maas_fail(MAAS_ERR_OVERFLOW, "writer: tensor '%s' is too large", name);
    }
    uint64_t size;
    if (numel > INT64_MAX ||
        __builtin_mul_overflow(numel, (uint64_t)maas_dtype_size(dtype), &size))
        return maas_fail(MAAS_ERR_OVERFLOW, "writer: tensor '%s' is too large", name);
    if (numel > 0 && !t->data)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: tensor '%s' has no data", name);

    for (uint32_t i = 0; i < w->tensor_count; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: tensor '%s' is already added",
                             name);
    if (w->tensor_count == UINT32_MAX)
        return maas_fail(MAAS_ERR_OVERFLOW, "writer: too many tensors");
    if (w->tensor_count == w->tensor_cap) {
        uint32_t cap = w->tensor_cap ? w->tensor_cap * 2 : 64;
        writer_tensor *ts = realloc(w->tensors, (size_t)cap * sizeof *ts);
        if (!ts)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot grow the tensor list");
        w->tensors = ts;
        w->tensor_cap = cap;
    }
    writer_tensor *wt = &w->tensors[w->tensor_count];
    wt->name = strdup(name);
    if (!wt->name)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot copy name '%s'", name);
    wt->src = *t;
    wt->dtype = dtype;
    wt->size = size;
    wt->offset = 0;
    w->tensor_count++;
    return MAAS_OK;
}

maas_status maas_writer_add_tensor(maas_writer *w, const char *name, const maas_tensor *t)
{
    if (!t)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "writer: tensor '%s' has no description",
                         name ? name : "(null)");
    return maas_writer_add_tensor_as(w, name, t, t->dtype);
}

/* ---- metadata bytes ----------------------------------------------------- */

typedef struct byte_buf {
    uint8_t *data;
    size_t len, cap;
    bool failed;   /* an allocation failed; later appends do nothing */
} byte_buf;

static void buf_put(byte_buf *b, const void *bytes, size_t n)
{
    if (b->failed)
        return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        uint8_t *data = realloc(b->data, cap);
        if (!data) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void buf_u32(byte_buf *b, uint32_t v)
{
    buf_put(b, &v, 4);
}

static void buf_u64(byte_buf *b, uint64_t v)
{
    buf_put(b, &v, 8);
}

static void buf_zeros(byte_buf *b, size_t n)
{
    static const uint8_t zeros[MAAS_FILE_ALIGN];
    while (n > 0) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        buf_put(b, zeros, k);
        n -= k;
    }
}

static void buf_string(byte_buf *b, const char *s, uint32_t len)
{
    buf_u32(b, len);
    buf_put(b, s, len);
    buf_zeros(b, 1);
}

static uint64_t align_up(uint64_t n)
{
    return (n + MAAS_FILE_ALIGN - 1) / MAAS_FILE_ALIGN * MAAS_FILE_ALIGN;
}

/* Builds the header and metadata (padded to the data offset), assigning
 * each tensor its offset. */
static maas_status build_metadata(maas_writer *w, byte_buf *b, uint64_t *data_size)
{
    /* Header, with the data offset and size filled in at the end. */
    buf_put(b, MAAS_FILE_MAGIC, 4);
    buf_u32(b, MAAS_FILE_VERSION);
    buf_u32(b, w->kv_count);
    buf_u32(b, w->tensor_count);
    buf_zeros(b, MAAS_FILE_HEADER_SIZE - 16);

    buf_string(b, w->arch, (uint32_t)strlen(w->arch));

    for (uint32_t i = 0; i < w->kv_count; i++) {
        const writer_kv *kv = &w->kvs[i];
        buf_string(b, kv->key, (uint32_t)strlen(kv->key));
        buf_u32(b, kv->type);
        switch (kv->type) {
        case MAAS_VALUE_U32:
        case MAAS_VALUE_I32:
        case MAAS_VALUE_F32:
            buf_put(b, kv->scalar, 4);
            break;
        case MAAS_VALUE_F64:
            buf_put(b, kv->scalar, 8);
            break;
        case MAAS_VALUE_BOOL:
            buf_put(b, kv->scalar, 1);
            break;
        case MAAS_VALUE_STRING:
            buf_string(b, kv->blob, (uint32_t)strlen(kv->blob));
            break;
        case MAAS_VALUE_STRING_ARRAY: {
            buf_u32(b, kv->count);
            const char *p = kv->blob;
            for (uint32_t j = 0; j < kv->count; j++) {
                buf_string(b, p, kv->lens[j]);
                p += kv->lens[j] + 1;
            }
            break;
        }
        case MAAS_VALUE_I32_ARRAY:
            buf_u32(b, kv->count);
            buf_zeros(b, (4 - b->len % 4) % 4);
            buf_put(b, kv->ints, (size_t)kv->count * 4);
            break;
        default:
            MAAS_ASSERT(!"unknown value type in writer");
        }
    }

    uint64_t offset = 0;
    for (uint32_t i = 0; i < w->tensor_count; i++) {
        writer_tensor *t = &w->tensors[i];
        t->offset = offset;
        buf_string(b, t->name, (uint32_t)strlen(t->name));
        buf_u32(b, t->dtype);
        buf_u32(b, (uint32_t)t->src.n_dims);
        for (int d = 0; d < t->src.n_dims; d++)
            buf_u64(b, (uint64_t)t->src.shape[d]);
        buf_u64(b, t->offset);
        buf_u64(b, t->size);
        if (__builtin_add_overflow(offset, t->size, &offset))
            return maas_fail(MAAS_ERR_OVERFLOW, "writer: the data section is too large");
        offset = align_up(offset);
    }
    *data_size = offset;

    buf_zeros(b, align_up(b->len) - b->len);
    if (b->failed)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot build the metadata");
    uint64_t data_offset = b->len;
    memcpy(b->data + MAAS_FILE_OFF_DATA_OFFSET, &data_offset, 8);
    memcpy(b->data + MAAS_FILE_OFF_DATA_SIZE, data_size, 8);
    return MAAS_OK;
}

maas_status maas_writer_write(maas_writer *w, const char *path,
                              maas_progress_fn progress, void *user)
{
    if (!w || !path)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_writer_write: writer and path are required");

    byte_buf meta = {0};
    uint64_t data_size = 0;
    maas_status s = build_metadata(w, &meta, &data_size);
    if (s != MAAS_OK) {
        free(meta.data);
        return s;
    }

    size_t tmp_len = strlen(path) + 5;
    char *tmp = malloc(tmp_len);
    if (!tmp) {
        free(meta.data);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "writer: cannot allocate a path");
    }
    snprintf(tmp, tmp_len, "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        s = maas_fail(MAAS_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        free(meta.data);
        return s;
    }

    /* Metadata, then each tensor at its offset with zero padding between. */
    bool ok = fwrite(meta.data, 1, meta.len, fp) == meta.len;
    static const uint8_t zeros[MAAS_FILE_ALIGN];
    uint64_t pos = 0;
    for (uint32_t i = 0; ok && i < w->tensor_count; i++) {
        const writer_tensor *t = &w->tensors[i];
        ok = fwrite(zeros, 1, t->offset - pos, fp) == t->offset - pos &&
             maas_stream_tensor(fp, &t->src, t->dtype);
        pos = t->offset + t->size;
        if (ok && progress)
            progress(pos, data_size, user);
    }
    if (ok)
        ok = fwrite(zeros, 1, data_size - pos, fp) == data_size - pos;
    if (ok && progress && pos != data_size)
        progress(data_size, data_size, user);  /* the final padding, so done reaches total */
    int err = errno;
    if (ok && fflush(fp) != 0) {
        ok = false;
        err = errno;
    }
    if (ok && fsync(fileno(fp)) != 0) {
        ok = false;
        err = errno;
    }
    if (fclose(fp) != 0 && ok) {
        ok = false;
        err = errno;
    }
    free(meta.data);

    if (!ok) {
        s = maas_fail(MAAS_ERR_IO, "cannot write %s: %s", tmp, strerror(err));
        unlink(tmp);
        free(tmp);
        return s;
    }
    if (rename(tmp, path) != 0) {
        s = maas_fail(MAAS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    return MAAS_OK;
}
