/* Tensors, dtypes, half-precision conversion and the activation arena. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "maas/tensor.h"

#define MAAS_ALIGN 64

static const struct {
    const char *name;
    size_t size;
} dtype_info[MAAS_DTYPE_COUNT] = {
    [MAAS_DTYPE_F32] = {"f32", 4},
    [MAAS_DTYPE_F16] = {"f16", 2},
    [MAAS_DTYPE_BF16] = {"bf16", 2},
    [MAAS_DTYPE_I32] = {"i32", 4},
    [MAAS_DTYPE_I64] = {"i64", 8},
};

size_t maas_dtype_size(maas_dtype dtype)
{
    return (unsigned)dtype < MAAS_DTYPE_COUNT ? dtype_info[dtype].size : 0;
}

const char *maas_dtype_name(maas_dtype dtype)
{
    return (unsigned)dtype < MAAS_DTYPE_COUNT ? dtype_info[dtype].name : NULL;
}

maas_status maas_dtype_from_name(const char *name, maas_dtype *out)
{
    for (int i = 0; i < MAAS_DTYPE_COUNT; i++) {
        if (name && strcmp(name, dtype_info[i].name) == 0) {
            *out = (maas_dtype)i;
            return MAAS_OK;
        }
    }
    return maas_fail(MAAS_ERR_UNKNOWN_DTYPE,
                     "unknown dtype '%s' (expected f32, f16, bf16, i32 or i64)",
                     name ? name : "(null)");
}

maas_status maas_tensor_init(maas_tensor *out, maas_dtype dtype, int n_dims,
                             const int64_t *shape, void *data)
{
    if ((unsigned)dtype >= MAAS_DTYPE_COUNT)
        return maas_fail(MAAS_ERR_UNKNOWN_DTYPE, "invalid dtype value %d", (int)dtype);
    if (n_dims < 1 || n_dims > MAAS_MAX_DIMS)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "a tensor has 1 to %d dimensions, got %d", MAAS_MAX_DIMS, n_dims);

    maas_tensor t = {.dtype = dtype, .n_dims = n_dims, .data = data};
    int64_t numel = 1;
    for (int i = 0; i < MAAS_MAX_DIMS; i++) {
        int64_t size = i < n_dims ? shape[i] : 1;
        if (size < 0)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "dimension %d has negative size %lld", i, (long long)size);
        if (__builtin_mul_overflow(numel, size, &numel))
            return maas_fail(MAAS_ERR_OVERFLOW, "tensor element count overflows");
        t.shape[i] = size;
    }

    /* Row-major strides, innermost dimension contiguous. */
    int64_t stride = 1;
    for (int i = MAAS_MAX_DIMS - 1; i >= 0; i--) {
        t.stride[i] = stride;
        stride *= t.shape[i] > 0 ? t.shape[i] : 1;
    }
    *out = t;
    return MAAS_OK;
}

int64_t maas_tensor_numel(const maas_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++)
        n *= t->shape[i];
    return n;
}

size_t maas_tensor_nbytes(const maas_tensor *t)
{
    return (size_t)maas_tensor_numel(t) * maas_dtype_size(t->dtype);
}

bool maas_tensor_is_contiguous(const maas_tensor *t)
{
    int64_t expected = 1;
    for (int i = t->n_dims - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expected)
            return false;
        expected *= t->shape[i];
    }
    return true;
}

maas_status maas_tensor_slice(const maas_tensor *t, int dim, int64_t start,
                              int64_t count, maas_tensor *out)
{
    if (dim < 0 || dim >= t->n_dims)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "slice dimension %d outside 0..%d", dim, t->n_dims - 1);
    if (start < 0 || count < 0 || start > t->shape[dim] || count > t->shape[dim] - start)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "slice [%lld, %lld) outside dimension %d of size %lld",
                         (long long)start, (long long)(start + count), dim,
                         (long long)t->shape[dim]);

    maas_tensor v = *t;
    v.shape[dim] = count;
    v.data = (char *)t->data + start * t->stride[dim] * (int64_t)maas_dtype_size(t->dtype);
    *out = v;
    return MAAS_OK;
}

maas_status maas_tensor_reshape(const maas_tensor *t, int n_dims,
                                const int64_t *shape, maas_tensor *out)
{
    if (!maas_tensor_is_contiguous(t))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "reshape needs a contiguous tensor");
    maas_tensor v;
    maas_status s = maas_tensor_init(&v, t->dtype, n_dims, shape, t->data);
    if (s != MAAS_OK)
        return s;
    if (maas_tensor_numel(&v) != maas_tensor_numel(t))
        return maas_fail(MAAS_ERR_SHAPE_MISMATCH,
                         "reshape from %lld to %lld elements",
                         (long long)maas_tensor_numel(t), (long long)maas_tensor_numel(&v));
    *out = v;
    return MAAS_OK;
}

/* ---- half precision ---- */

float maas_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;

    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* infinity or NaN */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13); /* normal: rebias 15 -> 127 */
    } else if (mant == 0) {
        bits = sign; /* signed zero */
    } else {
        /* Subnormal: value is mant * 2^-24, exact in f32. */
        float f = (float)mant * 0x1p-24f;
        return sign ? -f : f;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t maas_f32_to_f16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t abs = bits & 0x7fffffffu;

    if (abs > 0x7f800000u)
        return sign | 0x7e00 | (uint16_t)((abs >> 13) & 0x3ff); /* NaN stays NaN */
    if (abs >= 0x477ff000u)
        return sign | 0x7c00; /* rounds to infinity (>= 65520) */
    if (abs < 0x38800000u) {
        /* Result is subnormal or zero: round |f| * 2^24 to the nearest
         * integer, ties to even, which rint does in the default mode. */
        float a;
        memcpy(&a, &abs, sizeof a);
        return sign | (uint16_t)rintf(a * 0x1p24f);
    }

    /* Normal: drop 13 mantissa bits with round-to-nearest-even. */
    uint32_t rounded = abs + 0xfff + ((abs >> 13) & 1);
    return sign | (uint16_t)((rounded - 0x38000000u) >> 13);
}

float maas_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t maas_f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((bits >> 16) | 0x40); /* quiet NaN */
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

maas_status maas_convert_to_f32(float *out, const void *in, maas_dtype dtype, size_t n)
{
    const uint16_t *h = in;
    switch (dtype) {
    case MAAS_DTYPE_F32:
        memmove(out, in, n * sizeof(float));
        return MAAS_OK;
    case MAAS_DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            out[i] = maas_f16_to_f32(h[i]);
        return MAAS_OK;
    case MAAS_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            out[i] = maas_bf16_to_f32(h[i]);
        return MAAS_OK;
    default:
        return maas_fail(MAAS_ERR_UNKNOWN_DTYPE,
                         "cannot convert dtype %s to f32", maas_dtype_name(dtype) ? maas_dtype_name(dtype) : "(invalid)");
    }
}

/* ---- arena ---- */

static size_t align_up(size_t n)
{
    return (n + MAAS_ALIGN - 1) & ~(size_t)(MAAS_ALIGN - 1);
}

maas_status maas_arena_init(maas_arena *arena, size_t capacity)
{
    memset(arena, 0, sizeof *arena);
    size_t bytes = align_up(capacity ? capacity : MAAS_ALIGN);
    if (bytes < capacity)
        return maas_fail(MAAS_ERR_OVERFLOW, "arena size %zu overflows", capacity);
    void *base = aligned_alloc(MAAS_ALIGN, bytes);
    if (!base)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a %zu-byte arena", bytes);
    arena->base = base;
    arena->capacity = bytes;
    return MAAS_OK;
}

void maas_arena_free(maas_arena *arena)
{
    if (!arena)
        return;
    free(arena->base);
    memset(arena, 0, sizeof *arena);
}

void *maas_arena_alloc(maas_arena *arena, size_t bytes)
{
    size_t size = align_up(bytes);
    if (size < bytes || size > arena->capacity - arena->used) {
        maas_fail(MAAS_ERR_OUT_OF_MEMORY,
                  "arena full: %zu bytes requested, %zu of %zu in use",
                  bytes, arena->used, arena->capacity);
        return NULL;
    }
    void *p = arena->base + arena->used;
    arena->used += size;
    if (arena->used > arena->peak)
        arena->peak = arena->used;
    return p;
}

maas_status maas_arena_tensor(maas_arena *arena, maas_dtype dtype, int n_dims,
                              const int64_t *shape, maas_tensor *out)
{
    maas_tensor t;
    maas_status s = maas_tensor_init(&t, dtype, n_dims, shape, NULL);
    if (s != MAAS_OK)
        return s;
    size_t bytes;
    if (!maas_mul_size((size_t)maas_tensor_numel(&t), maas_dtype_size(dtype), &bytes))
        return maas_fail(MAAS_ERR_OVERFLOW, "tensor byte size overflows");
    t.data = maas_arena_alloc(arena, bytes);
    if (!t.data)
        return MAAS_ERR_OUT_OF_MEMORY;
    *out = t;
    return MAAS_OK;
}

void maas_arena_reset(maas_arena *arena)
{
    arena->used = 0;
}

size_t maas_arena_size_for(const size_t *sizes, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += align_up(sizes[i]);
    return total;
}
