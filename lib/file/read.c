/* Opening a .maas file: map it, validate every field, then serve typed
 * lookups and tensor views that point into the mapping. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file/format.h"
#include "internal.h"
#include "jsonfile.h"
#include "maas/file.h"

typedef struct file_kv {
    const char *key;
    maas_value_type type;
    const uint8_t *value;   /* scalars and I32_ARRAY: the bytes; STRING: the characters */
    uint32_t count;         /* STRING_ARRAY and I32_ARRAY: element count */
    const char **strings;   /* STRING_ARRAY: element i's characters (malloc'ed) */
} file_kv;

typedef struct file_tensor {
    const char *name;
    maas_tensor view;       /* data points into the mapping */
    uint64_t offset;        /* from the data offset */
    uint64_t size;          /* bytes */
} file_tensor;

struct maas_file {
    char *path;
    uint8_t *map;
    size_t map_size;
    const char *arch;
    uint32_t kv_count;
    uint32_t tensor_count;
    file_kv *kvs;             /* file order */
    file_tensor *tensors;     /* file order */
    uint32_t *kv_sorted;      /* indices into kvs, sorted by key */
    uint32_t *tensor_sorted;  /* indices into tensors, sorted by name */
};

static const char *const value_type_names[MAAS_VALUE_TYPE_COUNT] = {
    [MAAS_VALUE_U32] = "u32",
    [MAAS_VALUE_I32] = "i32",
    [MAAS_VALUE_F32] = "f32",
    [MAAS_VALUE_BOOL] = "bool",
    [MAAS_VALUE_STRING] = "string",
    [MAAS_VALUE_STRING_ARRAY] = "string array",
    [MAAS_VALUE_I32_ARRAY] = "i32 array",
    [MAAS_VALUE_F64] = "f64",
};

const char *maas_value_type_name(maas_value_type type)
{
    return (unsigned)type < MAAS_VALUE_TYPE_COUNT ? value_type_names[type] : "unknown";
}

/* ---- parsing the metadata ---------------------------------------------- */

/* A read position inside the metadata, which spans [pos, end) of the
 * mapping; `where` names the entry being read, for messages. */
typedef struct meta_reader {
    const char *path;
    const uint8_t *base;
    uint64_t pos;
    uint64_t end;
    char where[160];
} meta_reader;

static maas_status need(meta_reader *r, uint64_t n, const char *field)
{
    if (n > r->end - r->pos)
        return maas_fail(MAAS_ERR_OUT_OF_BOUNDS,
                         "%s: %s: the %s at byte %" PRIu64 " needs %" PRIu64
                         " bytes but the metadata ends at byte %" PRIu64
                         " (the data offset); the file is corrupt",
                         r->path, r->where, field, r->pos, n, r->end);
    return MAAS_OK;
}

static maas_status read_u32(meta_reader *r, const char *field, uint32_t *out)
{
    maas_status s = need(r, 4, field);
    if (s != MAAS_OK)
        return s;
    *out = maas_load_u32(r->base + r->pos);
    r->pos += 4;
    return MAAS_OK;
}

static maas_status read_u64(meta_reader *r, const char *field, uint64_t *out)
{
    maas_status s = need(r, 8, field);
    if (s != MAAS_OK)
        return s;
    *out = maas_load_u64(r->base + r->pos);
    r->pos += 8;
    return MAAS_OK;
}

/* Reads a string: u32 length n, n non-NUL bytes, one NUL. */
static maas_status read_string(meta_reader *r, const char *field, const char **out)
{
    uint32_t len;
    maas_status s = read_u32(r, field, &len);
    if (s != MAAS_OK)
        return s;
    s = need(r, (uint64_t)len + 1, field);
    if (s != MAAS_OK)
        return s;

    const char *chars = (const char *)r->base + r->pos;
    const char *nul = memchr(chars, '\0', len);
    if (nul)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: %s: the %s at byte %" PRIu64 " contains a NUL byte at "
                         "position %td of its %u bytes; strings must be NUL-free",
                         r->path, r->where, field, r->pos, nul - chars, len);
    if (chars[len] != '\0')
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: %s: the %s at byte %" PRIu64 " (%u bytes) is not "
                         "followed by a NUL byte",
                         r->path, r->where, field, r->pos, len);
    r->pos += (uint64_t)len + 1;
    *out = chars;
    return MAAS_OK;
}

static maas_status read_kv(meta_reader *r, uint32_t index, file_kv *kv)
{
    snprintf(r->where, sizeof r->where, "key/value %u", index);
    maas_status s = read_string(r, "key", &kv->key);
    if (s != MAAS_OK)
        return s;
    snprintf(r->where, sizeof r->where, "key '%.100s'", kv->key);
    if (kv->key[0] == '\0')
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: key/value %u has an empty key",
                         r->path, index);

    uint32_t type;
    s = read_u32(r, "value type", &type);
    if (s != MAAS_OK)
        return s;
    kv->type = (maas_value_type)type;

    switch (type) {
    case MAAS_VALUE_U32:
    case MAAS_VALUE_I32:
    case MAAS_VALUE_F32:
    case MAAS_VALUE_F64: {
        uint64_t size = type == MAAS_VALUE_F64 ? 8 : 4;
        s = need(r, size, "value");
        if (s != MAAS_OK)
            return s;
        kv->value = r->base + r->pos;
        r->pos += size;
        return MAAS_OK;
    }
    case MAAS_VALUE_BOOL:
        s = need(r, 1, "value");
        if (s != MAAS_OK)
            return s;
        kv->value = r->base + r->pos;
        if (kv->value[0] > 1)
            return maas_fail(MAAS_ERR_BAD_FORMAT,
                             "%s: %s: bool value byte is %u, expected 0 or 1",
                             r->path, r->where, kv->value[0]);
        r->pos += 1;
        return MAAS_OK;
    case MAAS_VALUE_STRING: {
        const char *str;
        s = read_string(r, "string value", &str);
        kv->value = (const uint8_t *)str;
        return s;
    }
    case MAAS_VALUE_STRING_ARRAY: {
        s = read_u32(r, "element count", &kv->count);
        if (s != MAAS_OK)
            return s;
        /* Each element takes at least MAAS_FILE_MIN_STRING bytes. */
        if (kv->count > (r->end - r->pos) / MAAS_FILE_MIN_STRING)
            return maas_fail(MAAS_ERR_OUT_OF_BOUNDS,
                             "%s: %s: %u strings cannot fit in the %" PRIu64
                             " metadata bytes left",
                             r->path, r->where, kv->count, r->end - r->pos);
        kv->strings = malloc(((size_t)kv->count + 1) * sizeof *kv->strings);
        if (!kv->strings)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "%s: %s: cannot index %u strings",
                             r->path, r->where, kv->count);
        for (uint32_t i = 0; i < kv->count; i++) {
            s = read_string(r, "array element", &kv->strings[i]);
            if (s != MAAS_OK)
                return s;
        }
        return MAAS_OK;
    }
    case MAAS_VALUE_I32_ARRAY: {
        s = read_u32(r, "element count", &kv->count);
        if (s != MAAS_OK)
            return s;
        /* Zero padding to a 4-byte file offset, so the elements are aligned
         * in the page-aligned mapping. */
        uint64_t pad = (4 - r->pos % 4) % 4;
        s = need(r, pad, "alignment padding");
        if (s != MAAS_OK)
            return s;
        for (uint64_t i = 0; i < pad; i++)
            if (r->base[r->pos + i] != 0)
                return maas_fail(MAAS_ERR_BAD_FORMAT,
                                 "%s: %s: padding byte at %" PRIu64 " is not zero",
                                 r->path, r->where, r->pos + i);
        r->pos += pad;
        s = need(r, (uint64_t)kv->count * 4, "i32 elements");
        if (s != MAAS_OK)
            return s;
        kv->value = r->base + r->pos;
        r->pos += (uint64_t)kv->count * 4;
        return MAAS_OK;
    }
    default:
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: %s: unknown value type %u (this build reads 0 to %d)",
                         r->path, r->where, type, MAAS_VALUE_TYPE_COUNT - 1);
    }
}

static maas_status read_tensor(meta_reader *r, uint32_t index, uint8_t *data,
                               uint64_t data_size, file_tensor *t)
{
    snprintf(r->where, sizeof r->where, "tensor %u", index);
    maas_status s = read_string(r, "name", &t->name);
    if (s != MAAS_OK)
        return s;
    snprintf(r->where, sizeof r->where, "tensor '%.100s'", t->name);
    if (t->name[0] == '\0')
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: tensor %u has an empty name",
                         r->path, index);

    uint32_t dtype, n_dims;
    s = read_u32(r, "dtype", &dtype);
    if (s != MAAS_OK)
        return s;
    if (dtype >= MAAS_DTYPE_COUNT)
        return maas_fail(MAAS_ERR_UNKNOWN_DTYPE,
                         "%s: %s: unknown dtype code %u (this build reads 0 to %d: "
                         "f32, f16, bf16, i32, i64)",
                         r->path, r->where, dtype, MAAS_DTYPE_COUNT - 1);
    s = read_u32(r, "dimension count", &n_dims);
    if (s != MAAS_OK)
        return s;
    if (n_dims < 1 || n_dims > MAAS_MAX_DIMS)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: %s: %u dimensions, expected 1 to %d",
                         r->path, r->where, n_dims, MAAS_MAX_DIMS);

    /* Element count and byte size, refusing anything that overflows int64. */
    int64_t shape[MAAS_MAX_DIMS];
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t size;
        s = read_u64(r, "dimension", &size);
        if (s != MAAS_OK)
            return s;
        if (size > INT64_MAX || __builtin_mul_overflow(numel, size, &numel) ||
            numel > INT64_MAX)
            return maas_fail(MAAS_ERR_OVERFLOW,
                             "%s: %s: the element count overflows at dimension %u "
                             "(size %" PRIu64 ")",
                             r->path, r->where, d, size);
        shape[d] = (int64_t)size;
    }
    uint64_t bytes;
    if (__builtin_mul_overflow(numel, (uint64_t)maas_dtype_size((maas_dtype)dtype), &bytes))
        return maas_fail(MAAS_ERR_OVERFLOW, "%s: %s: the byte size of %" PRIu64
                         " %s elements overflows",
                         r->path, r->where, numel, maas_dtype_name((maas_dtype)dtype));

    s = read_u64(r, "data offset", &t->offset);
    if (s == MAAS_OK)
        s = read_u64(r, "data size", &t->size);
    if (s != MAAS_OK)
        return s;
    if (t->size != bytes)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: %s: stored size is %" PRIu64 " bytes but %" PRIu64
                         " %s elements take %" PRIu64,
                         r->path, r->where, t->size, numel,
                         maas_dtype_name((maas_dtype)dtype), bytes);
    if (t->offset % MAAS_FILE_ALIGN != 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: %s: data offset %" PRIu64 " is not a multiple of %u",
                         r->path, r->where, t->offset, MAAS_FILE_ALIGN);
    if (t->offset > data_size || t->size > data_size - t->offset)
        return maas_fail(MAAS_ERR_OUT_OF_BOUNDS,
                         "%s: %s: bytes [%" PRIu64 ", %" PRIu64 ") of the data section "
                         "lie outside its %" PRIu64 " bytes",
                         r->path, r->where, t->offset, t->offset + t->size, data_size);

    return maas_tensor_init(&t->view, (maas_dtype)dtype, (int)n_dims, shape,
                            data + t->offset);
}

/* ---- cross-entry checks ------------------------------------------------- */

static int compare_kv_keys(const void *a, const void *b, void *arg)
{
    const file_kv *kvs = arg;
    return strcmp(kvs[*(const uint32_t *)a].key, kvs[*(const uint32_t *)b].key);
}

static int compare_tensor_names(const void *a, const void *b, void *arg)
{
    const file_tensor *ts = arg;
    return strcmp(ts[*(const uint32_t *)a].name, ts[*(const uint32_t *)b].name);
}

static int compare_tensor_offsets(const void *a, const void *b, void *arg)
{
    const file_tensor *ts = arg;
    uint64_t x = ts[*(const uint32_t *)a].offset, y = ts[*(const uint32_t *)b].offset;
    return x < y ? -1 : x > y;
}

static uint32_t *sorted_indices(uint32_t n, int (*cmp)(const void *, const void *, void *),
                                void *arg)
{
    uint32_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
    if (!idx)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof *idx, cmp, arg);
    return idx;
}

static maas_status check_unique_and_disjoint(maas_file *f)
{
    f->kv_sorted = sorted_indices(f->kv_count, compare_kv_keys, f->kvs);
    f->tensor_sorted = sorted_indices(f->tensor_count, compare_tensor_names, f->tensors);
    uint32_t *by_offset = sorted_indices(f->tensor_count, compare_tensor_offsets, f->tensors);
    if (!f->kv_sorted || !f->tensor_sorted || !by_offset) {
        free(by_offset);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "%s: cannot index %u tensors",
                         f->path, f->tensor_count);
    }

    maas_status s = MAAS_OK;
    for (uint32_t i = 1; i < f->kv_count && s == MAAS_OK; i++)
        if (strcmp(f->kvs[f->kv_sorted[i - 1]].key, f->kvs[f->kv_sorted[i]].key) == 0)
            s = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: key '%s' appears twice",
                          f->path, f->kvs[f->kv_sorted[i]].key);
    for (uint32_t i = 1; i < f->tensor_count && s == MAAS_OK; i++)
        if (strcmp(f->tensors[f->tensor_sorted[i - 1]].name,
                   f->tensors[f->tensor_sorted[i]].name) == 0)
            s = maas_fail(MAAS_ERR_BAD_FORMAT, "%s: tensor '%s' appears twice",
                          f->path, f->tensors[f->tensor_sorted[i]].name);

    /* Sorted by offset, each non-empty tensor must end before the next one
     * starts.  Empty tensors own no bytes. */
    const file_tensor *prev = NULL;
    for (uint32_t i = 0; i < f->tensor_count && s == MAAS_OK; i++) {
        const file_tensor *t = &f->tensors[by_offset[i]];
        if (t->size == 0)
            continue;
        if (prev && prev->offset + prev->size > t->offset)
            s = maas_fail(MAAS_ERR_OVERLAP,
                          "%s: tensors '%s' (bytes %" PRIu64 "..%" PRIu64 ") and '%s' "
                          "(bytes %" PRIu64 "..%" PRIu64 ") overlap",
                          f->path, prev->name, prev->offset, prev->offset + prev->size,
                          t->name, t->offset, t->offset + t->size);
        prev = t;
    }
    free(by_offset);
    return s;
}

/* ---- open / close ------------------------------------------------------- */

/* Checks the fixed header and returns the data section's place. */
static maas_status check_header(const char *path, const uint8_t *map, uint64_t file_size,
                                uint64_t *data_offset, uint64_t *data_size)
{
    if (file_size < 4 || memcmp(map, MAAS_FILE_MAGIC, 4) != 0) {
        if (file_size >= 4)
            return maas_fail(MAAS_ERR_BAD_MAGIC,
                             "%s: not a .maas file (the first bytes are not \"MAAS\"); "
                             "convert checkpoints with maas-convert", path);
        return maas_fail(MAAS_ERR_TRUNCATED, "%s: %" PRIu64 " bytes is too short for a "
                         ".maas header (%u bytes)", path, file_size, MAAS_FILE_HEADER_SIZE);
    }
    if (file_size < MAAS_FILE_HEADER_SIZE)
        return maas_fail(MAAS_ERR_TRUNCATED, "%s: the file is truncated: %" PRIu64
                         " bytes, shorter than the %u-byte header",
                         path, file_size, MAAS_FILE_HEADER_SIZE);

    uint32_t version = maas_load_u32(map + MAAS_FILE_OFF_VERSION);
    if (version != MAAS_FILE_VERSION)
        return maas_fail(MAAS_ERR_BAD_VERSION,
                         "%s: format version %u, but this build of libmaas reads "
                         "version %u; convert the checkpoint again", path, version,
                         MAAS_FILE_VERSION);
    for (unsigned i = MAAS_FILE_OFF_RESERVED; i < MAAS_FILE_HEADER_SIZE; i++)
        if (map[i] != 0)
            return maas_fail(MAAS_ERR_BAD_FORMAT,
                             "%s: reserved header byte %u is not zero", path, i);

    *data_offset = maas_load_u64(map + MAAS_FILE_OFF_DATA_OFFSET);
    *data_size = maas_load_u64(map + MAAS_FILE_OFF_DATA_SIZE);
    if (*data_offset < MAAS_FILE_HEADER_SIZE || *data_offset % MAAS_FILE_ALIGN != 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: data offset %" PRIu64 " is not a multiple of %u after "
                         "the header", path, *data_offset, MAAS_FILE_ALIGN);
    uint64_t end;
    if (__builtin_add_overflow(*data_offset, *data_size, &end))
        return maas_fail(MAAS_ERR_OVERFLOW, "%s: data offset %" PRIu64 " plus data size %"
                         PRIu64 " overflows", path, *data_offset, *data_size);
    if (end > file_size)
        return maas_fail(MAAS_ERR_TRUNCATED,
                         "%s: the file is truncated: it has %" PRIu64 " bytes but its "
                         "header declares %" PRIu64, path, file_size, end);
    if (end < file_size)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: %" PRIu64 " unexpected bytes after the data section",
                         path, file_size - end);
    return MAAS_OK;
}

static maas_status parse(maas_file *f)
{
    uint64_t data_offset = 0, data_size = 0;
    maas_status s = check_header(f->path, f->map, f->map_size, &data_offset, &data_size);
    if (s != MAAS_OK)
        return s;

    meta_reader r = {.path = f->path, .base = f->map, .pos = MAAS_FILE_HEADER_SIZE,
                     .end = data_offset, .where = "header"};
    f->kv_count = maas_load_u32(f->map + MAAS_FILE_OFF_KV_COUNT);
    f->tensor_count = maas_load_u32(f->map + MAAS_FILE_OFF_TENSOR_COUNT);
    uint64_t meta = data_offset - MAAS_FILE_HEADER_SIZE;
    if ((uint64_t)f->kv_count * MAAS_FILE_MIN_KV > meta ||
        (uint64_t)f->tensor_count * MAAS_FILE_MIN_TENSOR > meta)
        return maas_fail(MAAS_ERR_OUT_OF_BOUNDS,
                         "%s: %u key/values and %u tensors cannot fit in %" PRIu64
                         " bytes of metadata", f->path, f->kv_count, f->tensor_count, meta);

    f->kvs = calloc((size_t)f->kv_count + 1, sizeof *f->kvs);
    f->tensors = calloc((size_t)f->tensor_count + 1, sizeof *f->tensors);
    if (!f->kvs || !f->tensors)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "%s: cannot allocate the directory", f->path);

    /* Architecture, key/values, tensor directory: the metadata in file order. */
    s = read_string(&r, "architecture name", &f->arch);
    if (s != MAAS_OK)
        return s;
    if (f->arch[0] == '\0')
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: the architecture name is empty", f->path);
    for (uint32_t i = 0; i < f->kv_count; i++) {
        s = read_kv(&r, i, &f->kvs[i]);
        if (s != MAAS_OK)
            return s;
    }
    for (uint32_t i = 0; i < f->tensor_count; i++) {
        s = read_tensor(&r, i, f->map + data_offset, data_size, &f->tensors[i]);
        if (s != MAAS_OK)
            return s;
    }

    /* The metadata must fill the space up to the data section, with under
     * 64 bytes of zero padding: anything else means the counts are wrong. */
    uint64_t expected = (r.pos + MAAS_FILE_ALIGN - 1) / MAAS_FILE_ALIGN * MAAS_FILE_ALIGN;
    if (expected != data_offset)
        return maas_fail(MAAS_ERR_BAD_FORMAT,
                         "%s: the metadata ends at byte %" PRIu64 " so the data section "
                         "should start at %" PRIu64 ", but the header says %" PRIu64,
                         f->path, r.pos, expected, data_offset);
    for (uint64_t i = r.pos; i < data_offset; i++)
        if (f->map[i] != 0)
            return maas_fail(MAAS_ERR_BAD_FORMAT,
                             "%s: padding byte %" PRIu64 " before the data is not zero",
                             f->path, i);

    return check_unique_and_disjoint(f);
}

maas_status maas_file_open(const char *path, maas_file **out)
{
    if (!path || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_file_open: path and out are required");
    if (!maas_host_is_little_endian())
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: .maas files are little-endian and this host is not", path);

    /* A FIFO or device is rejected before it can block the open. */
    int fd;
    uint64_t file_size;
    maas_status opened = maas_open_regular_file(path, &fd, &file_size);
    if (opened == MAAS_ERR_NOT_FOUND)
        return maas_fail(MAAS_ERR_IO, "cannot open %s: %s", path, strerror(ENOENT));
    if (opened != MAAS_OK)
        return opened;
    if (file_size == 0) {
        close(fd);
        return maas_fail(MAAS_ERR_TRUNCATED, "%s: the file is empty", path);
    }

    maas_file *f = calloc(1, sizeof *f);
    char *path_copy = strdup(path);
    if (!f || !path_copy) {
        free(f);
        free(path_copy);
        close(fd);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "%s: cannot allocate the file handle", path);
    }
    f->path = path_copy;
    f->map_size = (size_t)file_size;
    void *map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_err = errno;
    close(fd);
    if (map == MAP_FAILED) {
        f->map = NULL;
        maas_file_close(f);
        return maas_fail(MAAS_ERR_IO, "cannot map %s: %s", path, strerror(map_err));
    }
    f->map = map;

    maas_status s = parse(f);
    if (s != MAAS_OK) {
        maas_file_close(f);
        return s;
    }
    *out = f;
    return MAAS_OK;
}

void maas_file_close(maas_file *f)
{
    if (!f)
        return;
    if (f->kvs)
        for (uint32_t i = 0; i < f->kv_count; i++)
            free(f->kvs[i].strings);
    free(f->kvs);
    free(f->tensors);
    free(f->kv_sorted);
    free(f->tensor_sorted);
    if (f->map)
        munmap(f->map, f->map_size);
    free(f->path);
    free(f);
}

const char *maas_file_arch(const maas_file *f)
{
    return f->arch;
}

const char *maas_file_path(const maas_file *f)
{
    return f->path;
}

/* ---- key/values --------------------------------------------------------- */

static const file_kv *find_kv(const maas_file *f, const char *key)
{
    uint32_t lo = 0, hi = f->kv_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const file_kv *kv = &f->kvs[f->kv_sorted[mid]];
        int c = strcmp(key, kv->key);
        if (c == 0)
            return kv;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Finds `key` and checks its type is `type` (or `alt`, when not -1). */
static maas_status lookup(const maas_file *f, const char *key, maas_value_type type,
                          int alt, const file_kv **out)
{
    if (!key)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "%s: key is NULL", f->path);
    const file_kv *kv = find_kv(f, key);
    if (!kv)
        return maas_fail(MAAS_ERR_NOT_FOUND, "%s: key '%s' not found", f->path, key);
    if (kv->type != type && (int)kv->type != alt)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: key '%s' is a %s, expected a %s",
                         f->path, key, maas_value_type_name(kv->type),
                         maas_value_type_name(type));
    *out = kv;
    return MAAS_OK;
}

maas_status maas_file_get_u32(const maas_file *f, const char *key, uint32_t *out)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_U32, MAAS_VALUE_I32, &kv);
    if (s != MAAS_OK)
        return s;
    uint32_t v = maas_load_u32(kv->value);
    if (kv->type == MAAS_VALUE_I32 && (int32_t)v < 0)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: key '%s' is %d, expected a value >= 0",
                         f->path, key, (int32_t)v);
    *out = v;
    return MAAS_OK;
}

maas_status maas_file_get_i32(const maas_file *f, const char *key, int32_t *out)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_I32, -1, &kv);
    if (s != MAAS_OK)
        return s;
    *out = (int32_t)maas_load_u32(kv->value);
    return MAAS_OK;
}

maas_status maas_file_get_f32(const maas_file *f, const char *key, float *out)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_F32, MAAS_VALUE_F64, &kv);
    if (s != MAAS_OK)
        return s;
    if (kv->type == MAAS_VALUE_F64) {
        double d;
        memcpy(&d, kv->value, sizeof d);
        *out = (float)d;
    } else {
        memcpy(out, kv->value, sizeof *out);
    }
    return MAAS_OK;
}

maas_status maas_file_get_f64(const maas_file *f, const char *key, double *out)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_F64, MAAS_VALUE_F32, &kv);
    if (s != MAAS_OK)
        return s;
    if (kv->type == MAAS_VALUE_F32) {
        float v;
        memcpy(&v, kv->value, sizeof v);
        *out = v;
    } else {
        memcpy(out, kv->value, sizeof *out);
    }
    return MAAS_OK;
}

maas_status maas_file_get_bool(const maas_file *f, const char *key, bool *out)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_BOOL, -1, &kv);
    if (s != MAAS_OK)
        return s;
    *out = kv->value[0] != 0;
    return MAAS_OK;
}

maas_status maas_file_get_str(const maas_file *f, const char *key, const char **out)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_STRING, -1, &kv);
    if (s != MAAS_OK)
        return s;
    *out = (const char *)kv->value;
    return MAAS_OK;
}

maas_status maas_file_get_str_array(const maas_file *f, const char *key, uint32_t *count)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_STRING_ARRAY, -1, &kv);
    if (s != MAAS_OK)
        return s;
    *count = kv->count;
    return MAAS_OK;
}

maas_status maas_file_get_str_at(const maas_file *f, const char *key, uint32_t i,
                                 const char **out, uint32_t *len)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_STRING_ARRAY, -1, &kv);
    if (s != MAAS_OK)
        return s;
    if (i >= kv->count)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "%s: index %u is past the end of key '%s' (%u strings)",
                         f->path, i, key, kv->count);
    *out = kv->strings[i];
    if (len)
        *len = maas_load_u32((const uint8_t *)kv->strings[i] - 4);
    return MAAS_OK;
}

maas_status maas_file_get_i32_array(const maas_file *f, const char *key,
                                    const int32_t **values, uint32_t *count)
{
    const file_kv *kv;
    maas_status s = lookup(f, key, MAAS_VALUE_I32_ARRAY, -1, &kv);
    if (s != MAAS_OK)
        return s;
    *values = (const int32_t *)(const void *)kv->value;
    *count = kv->count;
    return MAAS_OK;
}

bool maas_file_has(const maas_file *f, const char *key)
{
    return key && find_kv(f, key) != NULL;
}

uint32_t maas_file_kv_count(const maas_file *f)
{
    return f->kv_count;
}

const char *maas_file_kv_key(const maas_file *f, uint32_t i, maas_value_type *type)
{
    if (i >= f->kv_count)
        return NULL;
    if (type)
        *type = f->kvs[i].type;
    return f->kvs[i].key;
}

/* ---- tensors ------------------------------------------------------------ */

static const file_tensor *find_tensor(const maas_file *f, const char *name)
{
    uint32_t lo = 0, hi = f->tensor_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const file_tensor *t = &f->tensors[f->tensor_sorted[mid]];
        int c = strcmp(name, t->name);
        if (c == 0)
            return t;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

maas_status maas_file_tensor(const maas_file *f, const char *name, maas_tensor *out)
{
    const file_tensor *t = name ? find_tensor(f, name) : NULL;
    if (!t)
        return maas_fail(MAAS_ERR_MISSING_TENSOR,
                         "%s: tensor '%s' not found; the %s model needs it",
                         f->path, name ? name : "(null)", f->arch);
    *out = t->view;
    return MAAS_OK;
}

static int format_shape(char *buf, size_t size, int n_dims, const int64_t *shape)
{
    int n = snprintf(buf, size, "[");
    for (int d = 0; d < n_dims && n > 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (n > 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, "]");
    return n;
}

maas_status maas_file_tensor_shaped(const maas_file *f, const char *name, int n_dims,
                                    const int64_t *shape, maas_tensor *out)
{
    maas_tensor t;
    maas_status s = maas_file_tensor(f, name, &t);
    if (s != MAAS_OK)
        return s;
    if (t.dtype != MAAS_DTYPE_F32 && t.dtype != MAAS_DTYPE_F16 && t.dtype != MAAS_DTYPE_BF16)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s: tensor '%s' has dtype %s, expected f32, f16 or bf16",
                         f->path, name, maas_dtype_name(t.dtype));

    bool same = t.n_dims == n_dims;
    for (int d = 0; same && d < n_dims; d++)
        same = t.shape[d] == shape[d];
    if (!same) {
        char want[96], got[96];
        format_shape(want, sizeof want, n_dims, shape);
        format_shape(got, sizeof got, t.n_dims, t.shape);
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "%s: tensor '%s' has shape %s, but the config needs %s",
                         f->path, name, got, want);
    }
    *out = t;
    return MAAS_OK;
}

uint32_t maas_file_tensor_count(const maas_file *f)
{
    return f->tensor_count;
}

const char *maas_file_tensor_name(const maas_file *f, uint32_t i)
{
    return i < f->tensor_count ? f->tensors[i].name : NULL;
}

maas_status maas_file_tensor_at(const maas_file *f, uint32_t i, maas_tensor *out)
{
    if (i >= f->tensor_count)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "%s: tensor index %u is past the end (%u tensors)",
                         f->path, i, f->tensor_count);
    *out = f->tensors[i].view;
    return MAAS_OK;
}
