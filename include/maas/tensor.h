/* libmaas: tensors, dtypes and the activation arena.
 *
 * A maas_tensor describes memory it does not own: a weight inside a mapped
 * model file, or an activation inside a context's arena.  Views share the
 * storage of the tensor they come from.
 */
#ifndef MAAS_TENSOR_H
#define MAAS_TENSOR_H

#include "maas/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types.  The values are stored in .maas files: stable, append-only. */
typedef enum maas_dtype {
    MAAS_DTYPE_F32 = 0,
    MAAS_DTYPE_F16 = 1,   /* IEEE 754 half precision */
    MAAS_DTYPE_BF16 = 2,  /* bfloat16: the top 16 bits of an f32 */
    MAAS_DTYPE_I32 = 3,
    MAAS_DTYPE_I64 = 4,
    MAAS_DTYPE_COUNT
} maas_dtype;

#define MAAS_MAX_DIMS 4

typedef struct maas_tensor {
    maas_dtype dtype;
    int n_dims;                     /* 1..MAAS_MAX_DIMS */
    int64_t shape[MAAS_MAX_DIMS];   /* outermost first; unused entries are 1 */
    int64_t stride[MAAS_MAX_DIMS];  /* in elements; contiguous: stride[n_dims-1] == 1 */
    void *data;                     /* first element; not owned */
} maas_tensor;

/* Returns the size of one element in bytes, or 0 for an invalid dtype. */
size_t maas_dtype_size(maas_dtype dtype);

/* Returns "f32", "f16", "bf16", "i32", "i64", or NULL for an invalid dtype. */
const char *maas_dtype_name(maas_dtype dtype);

/* Parses a name returned by maas_dtype_name.  MAAS_ERR_UNKNOWN_DTYPE otherwise. */
maas_status maas_dtype_from_name(const char *name, maas_dtype *out);

/* Fills `out` as a contiguous tensor over `data` with the given shape.
 * MAAS_ERR_INVALID_ARGUMENT for n_dims outside 1..4 or a negative size;
 * MAAS_ERR_OVERFLOW when the element count overflows int64. */
maas_status maas_tensor_init(maas_tensor *out, maas_dtype dtype, int n_dims,
                             const int64_t *shape, void *data);

/* Returns the number of elements (product of the shape). */
int64_t maas_tensor_numel(const maas_tensor *t);

/* Returns the size in bytes of a contiguous tensor of this shape. */
size_t maas_tensor_nbytes(const maas_tensor *t);

/* Returns true when the elements lie densely in row-major order. */
bool maas_tensor_is_contiguous(const maas_tensor *t);

/* Makes `out` a view of rows [start, start + count) along dimension `dim`.
 * MAAS_ERR_INVALID_ARGUMENT when the range is outside the tensor. */
maas_status maas_tensor_slice(const maas_tensor *t, int dim, int64_t start,
                              int64_t count, maas_tensor *out);

/* Makes `out` a view with a new shape over the same elements; `t` must be
 * contiguous and the element counts must agree. */
maas_status maas_tensor_reshape(const maas_tensor *t, int n_dims,
                                const int64_t *shape, maas_tensor *out);

/* Half-precision conversions, exact for every finite value (round to
 * nearest even when narrowing; NaN stays NaN). */
float maas_f16_to_f32(uint16_t h);
uint16_t maas_f32_to_f16(float f);
float maas_bf16_to_f32(uint16_t h);
uint16_t maas_f32_to_bf16(float f);

/* Converts `n` elements of any float dtype (f32, f16, bf16) to f32. */
maas_status maas_convert_to_f32(float *out, const void *in, maas_dtype dtype, size_t n);

/* A bump allocator for activations.  One block is allocated up front from
 * sizes computed from the model's config; a forward pass then takes buffers
 * from it without calling malloc.  Every buffer is 64-byte aligned.
 * Not thread-safe: one arena per context. */
typedef struct maas_arena {
    uint8_t *base;    /* the block, 64-byte aligned */
    size_t capacity;  /* bytes */
    size_t used;      /* bytes handed out since the last reset */
    size_t peak;      /* largest `used` seen */
} maas_arena;

/* Allocates a block of `capacity` bytes.  MAAS_ERR_OUT_OF_MEMORY on failure. */
maas_status maas_arena_init(maas_arena *arena, size_t capacity);

/* Frees the block; the arena may be re-initialised.  Accepts a zeroed arena. */
void maas_arena_free(maas_arena *arena);

/* Returns `bytes` of 64-byte-aligned memory, or NULL (with the last error
 * set) when the arena is full.  A full arena is a libmaas sizing bug, so
 * callers treat NULL as MAAS_ERR_OUT_OF_MEMORY. */
void *maas_arena_alloc(maas_arena *arena, size_t bytes);

/* Allocates a contiguous tensor from the arena. */
maas_status maas_arena_tensor(maas_arena *arena, maas_dtype dtype, int n_dims,
                              const int64_t *shape, maas_tensor *out);

/* Forgets every allocation; the memory is reused by later calls. */
void maas_arena_reset(maas_arena *arena);

/* Returns the bytes an arena needs to hold buffers of the given sizes, each
 * rounded up to the 64-byte alignment. */
size_t maas_arena_size_for(const size_t *sizes, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_TENSOR_H */
