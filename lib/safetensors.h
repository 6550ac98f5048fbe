/* Reading Hugging Face safetensors checkpoints (one file, or the shards
 * listed by a model.safetensors.index.json), for the converter.
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes
 * of JSON mapping each tensor name to {"dtype", "shape", "data_offsets":
 * [begin, end]} (offsets from the end of the header), then the data.  The
 * files are untrusted: opening maps each file and checks the header length,
 * the JSON, every dtype, shape and byte range before any tensor is used.
 */
#ifndef MAAS_SAFETENSORS_H
#define MAAS_SAFETENSORS_H

#include "maas/tensor.h"

/* Largest header accepted, in bytes. */
#define MAAS_ST_MAX_HEADER 100000000u
/* Most dimensions accepted in a checkpoint tensor (libmaas tensors have
 * at most MAAS_MAX_DIMS; maas_st_view rejects the rest). */
#define MAAS_ST_MAX_DIMS 8

typedef struct maas_st_tensor {
    const char *name;
    const char *dtype_name;   /* the safetensors spelling: "F32", "BF16", "I64", ... */
    maas_dtype dtype;         /* meaningful only when `supported` */
    bool supported;           /* F32, F16, BF16, I32 or I64 */
    int n_dims;               /* 0 (a scalar) to MAAS_ST_MAX_DIMS */
    int64_t shape[MAAS_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t nbytes;
    const void *data;         /* inside the mapping; not aligned in general */
    const char *path;         /* the file it comes from */
} maas_st_tensor;

typedef struct maas_safetensors maas_safetensors;

/* Maps and validates one .safetensors file.  Errors: MAAS_ERR_IO,
 * MAAS_ERR_TRUNCATED (shorter than 8 bytes, or tensor data past the end),
 * MAAS_ERR_OUT_OF_BOUNDS (header length past the end or over the limit),
 * MAAS_ERR_BAD_JSON (invalid JSON or a malformed entry, duplicate names),
 * MAAS_ERR_UNKNOWN_DTYPE, MAAS_ERR_OVERFLOW (shape product or byte size),
 * MAAS_ERR_BAD_FORMAT (byte range disagrees with shape and dtype, or
 * begin > end), MAAS_ERR_OVERLAP (two tensors share bytes). */
maas_status maas_st_open(const char *path, maas_safetensors **out);

/* Opens every shard named by a model.safetensors.index.json ("weight_map":
 * tensor name -> file name in the same folder).  Besides maas_st_open's
 * errors: MAAS_ERR_BAD_JSON for a malformed index or a file name with a
 * path separator, MAAS_ERR_MISSING_TENSOR when a listed tensor is not in
 * its shard, MAAS_ERR_BAD_FORMAT when two shards hold the same name. */
maas_status maas_st_open_index(const char *index_path, maas_safetensors **out);

/* Opens DIR/model.safetensors, else DIR/model.safetensors.index.json.
 * MAAS_ERR_NOT_FOUND when neither exists; MAAS_ERR_UNSUPPORTED when only a
 * PyTorch pytorch_model.bin is there. */
maas_status maas_st_open_dir(const char *dir, maas_safetensors **out);

void maas_st_close(maas_safetensors *st);

/* Tensors in header order (file after file for shards). */
uint32_t maas_st_count(const maas_safetensors *st);
const maas_st_tensor *maas_st_at(const maas_safetensors *st, uint32_t i);

/* Returns the tensor called `name`, or NULL. */
const maas_st_tensor *maas_st_find(const maas_safetensors *st, const char *name);

/* Describes `t` as a maas_tensor over the mapped bytes (a scalar becomes
 * shape [1]).  MAAS_ERR_UNSUPPORTED for a dtype libmaas lacks or more than
 * MAAS_MAX_DIMS dimensions. */
maas_status maas_st_view(const maas_st_tensor *t, maas_tensor *out);

#endif /* MAAS_SAFETENSORS_H */
