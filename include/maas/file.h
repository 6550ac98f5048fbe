/* libmaas: reading and writing .maas model files.
 *
 * A .maas file holds one model: its architecture name, hyperparameters and
 * tokenizer as typed key/values, a tensor directory, and tensor data aligned
 * to 64 bytes.  docs/FORMAT.md specifies the bytes.  maas_file_open maps the
 * file and validates every field before returning, so a maas_file that opened
 * is safe to read; tensors are views into the mapping (no copy).
 *
 * Key names: hyperparameters use the key names of the checkpoint's
 * config.json verbatim (for example "n_layer", "layer_norm_epsilon",
 * "hidden_size"); tokenizer keys start with "tokenizer."; see
 * docs/FORMAT.md for the full list per architecture.
 *
 * A maas_file is immutable once open: any number of threads may read it at
 * once.  Close it only after every model built on it is freed.
 */
#ifndef MAAS_FILE_H
#define MAAS_FILE_H

#include "maas/common.h"
#include "maas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Value types of key/values.  Stored in files: stable, append-only. */
typedef enum maas_value_type {
    MAAS_VALUE_U32 = 0,
    MAAS_VALUE_I32 = 1,
    MAAS_VALUE_F32 = 2,
    MAAS_VALUE_BOOL = 3,
    MAAS_VALUE_STRING = 4,
    MAAS_VALUE_STRING_ARRAY = 5,
    MAAS_VALUE_I32_ARRAY = 6,
    MAAS_VALUE_F64 = 7,
    MAAS_VALUE_TYPE_COUNT
} maas_value_type;

/* Returns "u32", "i32", "f32", "bool", "string", "string array",
 * "i32 array", "f64", or "unknown". */
const char *maas_value_type_name(maas_value_type type);

typedef struct maas_file maas_file;

/* Opens and validates a .maas file.  Errors: MAAS_ERR_IO, MAAS_ERR_BAD_MAGIC,
 * MAAS_ERR_BAD_VERSION, MAAS_ERR_TRUNCATED, MAAS_ERR_OUT_OF_BOUNDS,
 * MAAS_ERR_OVERFLOW, MAAS_ERR_UNKNOWN_DTYPE, MAAS_ERR_OVERLAP,
 * MAAS_ERR_BAD_FORMAT; the message names the file and the field or tensor.
 * MAAS_ERR_UNSUPPORTED on a big-endian host (the format is little-endian). */
maas_status maas_file_open(const char *path, maas_file **out);

void maas_file_close(maas_file *f);

/* Returns the architecture name ("gpt2", "bert", ...). */
const char *maas_file_arch(const maas_file *f);

/* Returns the path the file was opened from. */
const char *maas_file_path(const maas_file *f);

/* Typed lookups.  MAAS_ERR_NOT_FOUND when the key is absent,
 * MAAS_ERR_BAD_FORMAT when it has another type (get_f32 also accepts an
 * F64 value and get_u32 a non-negative I32).  Strings point into the file
 * and are NUL-terminated. */
maas_status maas_file_get_u32(const maas_file *f, const char *key, uint32_t *out);
maas_status maas_file_get_i32(const maas_file *f, const char *key, int32_t *out);
maas_status maas_file_get_f32(const maas_file *f, const char *key, float *out);
/* Reads an F64 value, or an F32 one widened. */
maas_status maas_file_get_f64(const maas_file *f, const char *key, double *out);
maas_status maas_file_get_bool(const maas_file *f, const char *key, bool *out);
maas_status maas_file_get_str(const maas_file *f, const char *key, const char **out);

/* String array: count, then element i (NUL-terminated, its byte length in
 * *len when len is not NULL; elements may contain any bytes but NUL). */
maas_status maas_file_get_str_array(const maas_file *f, const char *key, uint32_t *count);
maas_status maas_file_get_str_at(const maas_file *f, const char *key, uint32_t i,
                                 const char **out, uint32_t *len);

/* I32 array: count and a pointer to the elements (little-endian, aligned). */
maas_status maas_file_get_i32_array(const maas_file *f, const char *key,
                                    const int32_t **values, uint32_t *count);

/* Returns true when the key exists. */
bool maas_file_has(const maas_file *f, const char *key);

/* Finds a tensor by name; `out` views the mapped data.  MAAS_ERR_MISSING_TENSOR
 * when absent. */
maas_status maas_file_tensor(const maas_file *f, const char *name, maas_tensor *out);

/* Like maas_file_tensor, and also checks the dtype is one of f32/f16/bf16
 * and the shape equals `shape` (n_dims entries); MAAS_ERR_SHAPE_MISMATCH
 * names the tensor, the expected and the found shape. */
maas_status maas_file_tensor_shaped(const maas_file *f, const char *name, int n_dims,
                                    const int64_t *shape, maas_tensor *out);

/* Directory walk: number of tensors, and name / tensor i in file order. */
uint32_t maas_file_tensor_count(const maas_file *f);
const char *maas_file_tensor_name(const maas_file *f, uint32_t i);
maas_status maas_file_tensor_at(const maas_file *f, uint32_t i, maas_tensor *out);

/* Number of key/values, and key i with its type, in file order. */
uint32_t maas_file_kv_count(const maas_file *f);
const char *maas_file_kv_key(const maas_file *f, uint32_t i, maas_value_type *type);

/* ---- writing ----------------------------------------------------------- */

/* A writer collects key/values and tensors in memory (tensor data is
 * copied only when written) and writes the file in one pass. */
typedef struct maas_writer maas_writer;

maas_status maas_writer_create(const char *arch, maas_writer **out);
void maas_writer_free(maas_writer *w);

maas_status maas_writer_set_u32(maas_writer *w, const char *key, uint32_t v);
maas_status maas_writer_set_i32(maas_writer *w, const char *key, int32_t v);
maas_status maas_writer_set_f32(maas_writer *w, const char *key, float v);
maas_status maas_writer_set_f64(maas_writer *w, const char *key, double v);
maas_status maas_writer_set_bool(maas_writer *w, const char *key, bool v);
maas_status maas_writer_set_str(maas_writer *w, const char *key, const char *v);
/* strings[i] has lens[i] bytes (no NUL inside); lens may be NULL for C strings. */
maas_status maas_writer_set_str_array(maas_writer *w, const char *key,
                                      const char *const *strings,
                                      const uint32_t *lens, uint32_t count);
maas_status maas_writer_set_i32_array(maas_writer *w, const char *key,
                                      const int32_t *values, uint32_t count);

/* Adds a tensor.  The writer copies `t`'s description, not its data: the
 * data must stay valid until maas_writer_write returns.  Non-contiguous
 * tensors are written in row-major order. */
maas_status maas_writer_add_tensor(maas_writer *w, const char *name, const maas_tensor *t);

/* Like maas_writer_add_tensor, but stores the elements converted to
 * `dtype` while writing, without a copy in memory.  Float tensors (f32,
 * f16, bf16) convert to any float dtype, rounding to nearest even; other
 * dtypes must equal `dtype`.  MAAS_ERR_UNSUPPORTED otherwise. */
maas_status maas_writer_add_tensor_as(maas_writer *w, const char *name,
                                      const maas_tensor *t, maas_dtype dtype);

/* Writes the file (to PATH.tmp, then renamed, so a failure never leaves a
 * half-written PATH).  `progress` (may be NULL) is called after each tensor
 * with the data bytes written so far and the total; the last call has
 * done == total. */
typedef void (*maas_progress_fn)(uint64_t done, uint64_t total, void *user);
maas_status maas_writer_write(maas_writer *w, const char *path,
                              maas_progress_fn progress, void *user);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_FILE_H */
