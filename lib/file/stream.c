/* Tensor data for the writer: row-major output from any strided view,
 * with dtype conversion, through a small buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file/stream.h"
#include "internal.h"

/* Elements per buffer.  Small enough that a block of rows of a transposed
 * view reads source cache lines that stay in cache: 16384 f32 is 64 KiB. */
#define STREAM_ELEMENTS 16384

static float load_float(const uint8_t *p, maas_dtype dtype)
{
    float f;
    uint16_t h;
    if (dtype == MAAS_DTYPE_F32) {
        memcpy(&f, p, 4);
        return f;
    }
    memcpy(&h, p, 2);
    return dtype == MAAS_DTYPE_F16 ? maas_f16_to_f32(h) : maas_bf16_to_f32(h);
}

static void store_float(uint8_t *p, maas_dtype dtype, float f)
{
    uint16_t h;
    if (dtype == MAAS_DTYPE_F32) {
        memcpy(p, &f, 4);
        return;
    }
    h = dtype == MAAS_DTYPE_F16 ? maas_f32_to_f16(f) : maas_f32_to_bf16(f);
    memcpy(p, &h, 2);
}

/* Copies `n` elements spaced `stride` elements apart at `src` into dense
 * `dst`, converting dtype `from` to `to`. */
static void convert_run(uint8_t *dst, maas_dtype to, const uint8_t *src, maas_dtype from,
                        int64_t stride, size_t n)
{
    size_t in_size = maas_dtype_size(from), out_size = maas_dtype_size(to);
    int64_t step = stride * (int64_t)in_size;
    if (from == to && stride == 1) {
        memcpy(dst, src, n * in_size);
        return;
    }
    if (from == to) {
        for (size_t i = 0; i < n; i++)
            memcpy(dst + i * out_size, src + (int64_t)i * step, in_size);
        return;
    }
    for (size_t i = 0; i < n; i++)
        store_float(dst + i * out_size, to, load_float(src + (int64_t)i * step, from));
}

/* Returns the address of row `r`, counting rows over every dimension but
 * the last in row-major order. */
static const uint8_t *row_address(const maas_tensor *t, int64_t r)
{
    int64_t offset = 0;
    for (int d = t->n_dims - 2; d >= 0; d--) {
        offset += (r % t->shape[d]) * t->stride[d];
        r /= t->shape[d];
    }
    return (const uint8_t *)t->data + offset * (int64_t)maas_dtype_size(t->dtype);
}

bool maas_stream_tensor(FILE *fp, const maas_tensor *src, maas_dtype to)
{
    int64_t numel = maas_tensor_numel(src);
    size_t out_size = maas_dtype_size(to);
    if (numel == 0)
        return true;
    if (src->dtype == to && maas_tensor_is_contiguous(src))
        return fwrite(src->data, out_size, (size_t)numel, fp) == (size_t)numel;

    uint8_t *buf = malloc((size_t)STREAM_ELEMENTS * out_size);
    if (!buf)
        return false;
    int64_t cols = src->shape[src->n_dims - 1];
    int64_t stride = src->stride[src->n_dims - 1];
    int64_t rows = numel / cols;
    bool ok = true;

    if (cols >= STREAM_ELEMENTS) {
        /* Long rows: each in pieces of one buffer. */
        for (int64_t r = 0; r < rows && ok; r++) {
            const uint8_t *row = row_address(src, r);
            for (int64_t c = 0; c < cols && ok; c += STREAM_ELEMENTS) {
                size_t n = (size_t)(cols - c < STREAM_ELEMENTS ? cols - c : STREAM_ELEMENTS);
                convert_run(buf, to, row + c * stride * (int64_t)maas_dtype_size(src->dtype),
                            src->dtype, stride, n);
                ok = fwrite(buf, out_size, n, fp) == n;
            }
        }
    } else {
        /* Short rows: a block of whole rows per buffer.  For a transposed
         * matrix the rows of a block read neighbouring source elements, so
         * each source cache line is loaded once per block. */
        int64_t block = STREAM_ELEMENTS / cols;
        for (int64_t r0 = 0; r0 < rows && ok; r0 += block) {
            int64_t nb = rows - r0 < block ? rows - r0 : block;
            for (int64_t r = 0; r < nb; r++)
                convert_run(buf + (size_t)(r * cols) * out_size, to, row_address(src, r0 + r),
                            src->dtype, stride, (size_t)cols);
            ok = fwrite(buf, out_size, (size_t)(nb * cols), fp) == (size_t)(nb * cols);
        }
    }
    int err = errno;
    free(buf);
    errno = err;
    return ok;
}
