/* Validating reader for safetensors checkpoints, single-file or sharded. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "jsonfile.h"
#include "safetensors.h"

/* Every dtype the safetensors format defines with a whole-byte element
 * size; `maas` is -1 for the ones libmaas cannot compute with. */
static const struct {
    const char *name;
    unsigned size;
    int maas;
} st_dtypes[] = {
    {"F64", 8, -1},
    {"F32", 4, MAAS_DTYPE_F32},
    {"F16", 2, MAAS_DTYPE_F16},
    {"BF16", 2, MAAS_DTYPE_BF16},
    {"I64", 8, MAAS_DTYPE_I64},
    {"I32", 4, MAAS_DTYPE_I32},
    {"I16", 2, -1},
    {"I8", 1, -1},
    {"U64", 8, -1},
    {"U32", 4, -1},
    {"U16", 2, -1},
    {"U8", 1, -1},
    {"BOOL", 1, -1},
    {"F8_E4M3", 1, -1},
    {"F8_E5M2", 1, -1},
};

typedef struct st_map {
    char *path;
    uint8_t *base;
    size_t size;
} st_map;

struct maas_safetensors {
    st_map *maps;
    uint32_t map_count;
    maas_st_tensor *tensors;
    uint32_t count, cap;
    char **names;       /* owned copies of the tensor names */
    uint32_t *sorted;   /* indices into tensors, sorted by name */
};

/* ---- one file ----------------------------------------------------------- */

static maas_status add_tensor(maas_safetensors *st, const maas_st_tensor *t)
{
    if (st->count == st->cap) {
        uint32_t cap = st->cap ? st->cap * 2 : 64;
        maas_st_tensor *ts = realloc(st->tensors, (size_t)cap * sizeof *ts);
        if (!ts)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow the tensor list");
        st->tensors = ts;
        char **names = realloc(st->names, (size_t)cap * sizeof *names);
        if (!names)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow the tensor list");
        st->names = names;
        st->cap = cap;
    }
    char *name = strdup(t->name);
    if (!name)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot copy tensor name");
    st->tensors[st->count] = *t;
    st->tensors[st->count].name = name;
    st->names[st->count] = name;
    st->count++;
    return MAAS_OK;
}

/* Reads one header entry: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}. */
static maas_status parse_entry(const char *path, const cJSON *entry, uint64_t data_size,
                               maas_st_tensor *t, uint64_t *begin, uint64_t *end)
{
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: tensor '%s': the entry is not a JSON object",
                         path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offsets))
        return maas_fail(MAAS_ERR_BAD_JSON,
                         "%s: tensor '%s' needs a string \"dtype\", an array \"shape\" and "
                         "an array \"data_offsets\"", path, name);

    /* dtype */
    memset(t, 0, sizeof *t);
    t->name = name;
    t->path = path;
    unsigned elem_size = 0;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (strcmp(dtype->valuestring, st_dtypes[i].name) == 0) {
            t->dtype_name = st_dtypes[i].name;
            elem_size = st_dtypes[i].size;
            t->supported = st_dtypes[i].maas >= 0;
            t->dtype = t->supported ? (maas_dtype)st_dtypes[i].maas : MAAS_DTYPE_F32;
        }
    }
    if (!t->dtype_name)
        return maas_fail(MAAS_ERR_UNKNOWN_DTYPE, "%s: tensor '%s' has unknown dtype \"%.32s\"",
                         path, name, dtype->valuestring);

    /* shape, with the element count and byte size checked for overflow */
    int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > MAAS_ST_MAX_DIMS)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions, at most %d "
                         "are supported", path, name, n_dims, MAAS_ST_MAX_DIMS);
    t->n_dims = n_dims;
    uint64_t numel = 1;
    int d = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        if (!maas_json_is_int(dim, 0, 1e300))
            return maas_fail(MAAS_ERR_BAD_JSON, "%s: tensor '%s': shape entry %d is not a "
                             "non-negative integer", path, name, d);
        if (dim->valuedouble >= 0x1p63 ||
            __builtin_mul_overflow(numel, (uint64_t)dim->valuedouble, &numel) ||
            numel > INT64_MAX)
            return maas_fail(MAAS_ERR_OVERFLOW, "%s: tensor '%s': the element count overflows "
                             "at dimension %d", path, name, d);
        t->shape[d] = (int64_t)dim->valuedouble;
    }
    t->numel = numel;
    if (__builtin_mul_overflow(numel, (uint64_t)elem_size, &t->nbytes))
        return maas_fail(MAAS_ERR_OVERFLOW, "%s: tensor '%s': the byte size overflows",
                         path, name);

    /* byte range: inside the data section and as long as the shape needs */
    if (cJSON_GetArraySize(offsets) != 2 || !maas_json_is_int(offsets->child, 0, 0x1p62) ||
        !maas_json_is_int(offsets->child->next, 0, 0x1p62))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: tensor '%s': \"data_offsets\" must be two "
                         "non-negative integers", path, name);
    *begin = (uint64_t)offsets->child->valuedouble;
    *end = (uint64_t)offsets->child->next->valuedouble;
    if (*begin > *end)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64
                         ", %" PRIu64 "] begin after they end", path, name, *begin, *end);
    if (*end > data_size)
        return maas_fail(MAAS_ERR_TRUNCATED, "%s: tensor '%s' ends at data byte %" PRIu64
                         " but the file has only %" PRIu64 " data bytes; the file is "
                         "truncated", path, name, *end, data_size);
    if (*end - *begin != t->nbytes)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "%s: tensor '%s': data_offsets cover %" PRIu64
                         " bytes but %" PRIu64 " %s elements take %" PRIu64,
                         path, name, *end - *begin, numel, t->dtype_name, t->nbytes);
    return MAAS_OK;
}

typedef struct range {
    uint64_t begin, end;
    const char *name;
} range;

static int compare_ranges(const void *a, const void *b)
{
    const range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Parses the header of a mapped file and appends its tensors. */
static maas_status parse_header(maas_safetensors *st, const st_map *map)
{
    const char *path = map->path;
    if (map->size < 8)
        return maas_fail(MAAS_ERR_TRUNCATED, "%s: %zu bytes is too short for a safetensors "
                         "file (8-byte header length); the file is truncated", path, map->size);
    uint64_t header_len;
    memcpy(&header_len, map->base, 8);
    if (header_len > MAAS_ST_MAX_HEADER)
        return maas_fail(MAAS_ERR_OUT_OF_BOUNDS, "%s: header length %" PRIu64 " is over the "
                         "%u-byte limit; this is not a safetensors file or it is corrupt",
                         path, header_len, MAAS_ST_MAX_HEADER);
    if (header_len > map->size - 8)
        return maas_fail(MAAS_ERR_OUT_OF_BOUNDS, "%s: header length %" PRIu64 " reaches past "
                         "the end of the %zu-byte file", path, header_len, map->size);
    const char *text = (const char *)map->base + 8;
    uint64_t data_size = map->size - 8 - header_len;
    const uint8_t *data = map->base + 8 + header_len;
    if (memchr(text, '\0', header_len))
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: the JSON header contains a NUL byte", path);

    cJSON *json;
    maas_status s = maas_json_parse(text, header_len, path, &json);
    if (s != MAAS_OK)
        return s;
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: the header is not a JSON object", path);
    }

    /* Each entry, then the byte ranges sorted to find overlaps. */
    int n = cJSON_GetArraySize(json);
    range *ranges = calloc((size_t)n + 1, sizeof *ranges);
    if (!ranges) {
        cJSON_Delete(json);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "%s: cannot index %d tensors", path, n);
    }
    int n_ranges = 0;
    for (const cJSON *entry = json->child; entry && s == MAAS_OK; entry = entry->next) {
        if (strcmp(entry->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(entry))
                s = maas_fail(MAAS_ERR_BAD_JSON, "%s: \"__metadata__\" is not an object", path);
            continue;
        }
        maas_st_tensor t;
        uint64_t begin = 0, end = 0;
        s = parse_entry(path, entry, data_size, &t, &begin, &end);
        if (s != MAAS_OK)
            break;
        t.data = data + begin;
        s = add_tensor(st, &t);
        if (s != MAAS_OK)
            break;
        ranges[n_ranges++] = (range){begin, end, st->tensors[st->count - 1].name};
    }
    qsort(ranges, (size_t)n_ranges, sizeof *ranges, compare_ranges);
    const range *prev = NULL;
    for (int i = 0; i < n_ranges && s == MAAS_OK; i++) {
        if (ranges[i].begin == ranges[i].end)
            continue;
        if (prev && prev->end > ranges[i].begin)
            s = maas_fail(MAAS_ERR_OVERLAP, "%s: tensors '%s' (bytes %" PRIu64 "..%" PRIu64
                          ") and '%s' (bytes %" PRIu64 "..%" PRIu64 ") overlap", path,
                          prev->name, prev->begin, prev->end, ranges[i].name,
                          ranges[i].begin, ranges[i].end);
        prev = &ranges[i];
    }
    free(ranges);
    cJSON_Delete(json);
    return s;
}

static maas_status map_file(maas_safetensors *st, const char *path)
{
    st_map *maps = realloc(st->maps, ((size_t)st->map_count + 1) * sizeof *maps);
    if (!maps)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow the file list");
    st->maps = maps;
    st_map *m = &st->maps[st->map_count];
    memset(m, 0, sizeof *m);

    /* A FIFO or device is rejected before it can block the open. */
    int fd;
    uint64_t file_size;
    maas_status opened = maas_open_regular_file(path, &fd, &file_size);
    if (opened != MAAS_OK)
        return opened;
    m->path = strdup(path);
    if (!m->path) {
        close(fd);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot copy a path");
    }
    m->size = (size_t)file_size;
    if (m->size > 0) {
        void *base = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
            int err = errno;
            close(fd);
            free(m->path);
            return maas_fail(MAAS_ERR_IO, "cannot map %s: %s", path, strerror(err));
        }
        m->base = base;
    }
    close(fd);
    st->map_count++;
    return parse_header(st, m);
}

/* ---- the set of files --------------------------------------------------- */

static int compare_names(const void *a, const void *b, void *arg)
{
    const maas_st_tensor *tensors = arg;
    return strcmp(tensors[*(const uint32_t *)a].name, tensors[*(const uint32_t *)b].name);
}

/* Sorts the tensor names for lookups and rejects duplicates. */
static maas_status index_names(maas_safetensors *st)
{
    st->sorted = malloc(((size_t)st->count + 1) * sizeof *st->sorted);
    if (!st->sorted)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot index %u tensors", st->count);
    for (uint32_t i = 0; i < st->count; i++)
        st->sorted[i] = i;
    qsort_r(st->sorted, st->count, sizeof *st->sorted, compare_names, st->tensors);
    for (uint32_t i = 1; i < st->count; i++) {
        const maas_st_tensor *a = &st->tensors[st->sorted[i - 1]];
        const maas_st_tensor *b = &st->tensors[st->sorted[i]];
        if (strcmp(a->name, b->name) == 0)
            return maas_fail(a->path == b->path ? MAAS_ERR_BAD_JSON : MAAS_ERR_BAD_FORMAT,
                             "tensor '%s' appears twice (in %s and %s)", a->name, a->path,
                             b->path);
    }
    return MAAS_OK;
}

static maas_status finish(maas_safetensors *st, maas_status s, maas_safetensors **out)
{
    if (s == MAAS_OK)
        s = index_names(st);
    if (s != MAAS_OK) {
        maas_st_close(st);
        return s;
    }
    *out = st;
    return MAAS_OK;
}

maas_status maas_st_open(const char *path, maas_safetensors **out)
{
    if (!path || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "maas_st_open: path and out are required");
    maas_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a safetensors reader");
    return finish(st, map_file(st, path), out);
}

/* Returns the folder part of `path` (up to and including the last '/'),
 * as a length. */
static size_t folder_length(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

maas_status maas_st_open_index(const char *index_path, maas_safetensors **out)
{
    if (!index_path || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_st_open_index: path and out are required");
    cJSON *index;
    maas_status s = maas_json_read_file(index_path, &index);
    if (s != MAAS_OK)
        return s;
    const cJSON *weight_map = cJSON_GetObjectItemCaseSensitive(index, "weight_map");
    if (!cJSON_IsObject(weight_map)) {
        cJSON_Delete(index);
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: no \"weight_map\" object", index_path);
    }
    maas_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        cJSON_Delete(index);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a safetensors reader");
    }

    /* Open each distinct shard once, in the order the map first names it. */
    size_t dir_len = folder_length(index_path);
    for (const cJSON *e = weight_map->child; e && s == MAAS_OK; e = e->next) {
        if (!cJSON_IsString(e)) {
            s = maas_fail(MAAS_ERR_BAD_JSON, "%s: weight_map entry '%s' is not a file name",
                          index_path, e->string);
            break;
        }
        const char *file = e->valuestring;
        if (!file[0] || strchr(file, '/') || strcmp(file, "..") == 0 || strcmp(file, ".") == 0) {
            s = maas_fail(MAAS_ERR_BAD_JSON, "%s: shard name \"%s\" must be a plain file name "
                          "in the same folder", index_path, file);
            break;
        }
        char *path = malloc(dir_len + strlen(file) + 1);
        if (!path) {
            s = maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a path");
            break;
        }
        memcpy(path, index_path, dir_len);
        strcpy(path + dir_len, file);
        bool seen = false;
        for (uint32_t i = 0; i < st->map_count && !seen; i++)
            seen = strcmp(st->maps[i].path, path) == 0;
        if (!seen)
            s = map_file(st, path);
        free(path);
    }
    if (s == MAAS_OK)
        s = index_names(st);

    /* Every listed tensor must be in the shard the map names. */
    for (const cJSON *e = weight_map->child; e && s == MAAS_OK; e = e->next) {
        const maas_st_tensor *t = maas_st_find(st, e->string);
        const char *file = e->valuestring;
        bool in_shard = t && strncmp(t->path, index_path, dir_len) == 0 &&
                        strcmp(t->path + dir_len, file) == 0;
        if (!in_shard)
            s = maas_fail(MAAS_ERR_MISSING_TENSOR, "%s: tensor '%s' is listed in shard %s "
                          "but that shard does not contain it", index_path, e->string, file);
    }
    cJSON_Delete(index);
    if (s != MAAS_OK) {
        maas_st_close(st);
        return s;
    }
    *out = st;
    return MAAS_OK;
}

maas_status maas_st_open_dir(const char *dir, maas_safetensors **out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (maas_path_exists(path))
        return maas_st_open(path, out);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (maas_path_exists(path))
        return maas_st_open_index(path, out);
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    if (maas_path_exists(path))
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "%s has only a PyTorch pytorch_model.bin; re-save it as safetensors "
                         "(model.save_pretrained(dir, safe_serialization=True))", dir);
    return maas_fail(MAAS_ERR_NOT_FOUND, "%s has neither model.safetensors nor "
                     "model.safetensors.index.json", dir);
}

void maas_st_close(maas_safetensors *st)
{
    if (!st)
        return;
    for (uint32_t i = 0; i < st->map_count; i++) {
        if (st->maps[i].base)
            munmap(st->maps[i].base, st->maps[i].size);
        free(st->maps[i].path);
    }
    for (uint32_t i = 0; i < st->count; i++)
        free(st->names[i]);
    free(st->maps);
    free(st->names);
    free(st->tensors);
    free(st->sorted);
    free(st);
}

uint32_t maas_st_count(const maas_safetensors *st)
{
    return st->count;
}

const maas_st_tensor *maas_st_at(const maas_safetensors *st, uint32_t i)
{
    return i < st->count ? &st->tensors[i] : NULL;
}

const maas_st_tensor *maas_st_find(const maas_safetensors *st, const char *name)
{
    uint32_t lo = 0, hi = st->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const maas_st_tensor *t = &st->tensors[st->sorted[mid]];
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

maas_status maas_st_view(const maas_st_tensor *t, maas_tensor *out)
{
    if (!t->supported)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, which libmaas "
                         "does not support (F32, F16, BF16, I32, I64)", t->path, t->name,
                         t->dtype_name);
    if (t->n_dims > MAAS_MAX_DIMS)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions, libmaas "
                         "supports at most %d", t->path, t->name, t->n_dims, MAAS_MAX_DIMS);
    static const int64_t scalar[1] = {1};
    return maas_tensor_init(out, t->dtype, t->n_dims ? t->n_dims : 1,
                            t->n_dims ? t->shape : scalar, (void *)t->data);
}
