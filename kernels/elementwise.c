/* Row-wise and element-wise kernels: the thread split lives here, the
 * arithmetic in the dispatch table. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "dispatch.h"
#include "internal.h"

/* Element-wise work below this many floats per thread stays on one thread. */
#define MIN_FLOATS_PER_THREAD 16384

/* Thread slices start on 64-byte boundaries of the arrays. */
#define ELEM_ALIGN 16

/* Returns in [*i0, *i1) the calling OpenMP thread's slice of n elements. */
static void thread_slice(size_t n, size_t *i0, size_t *i1)
{
    maas_split_range(n, omp_get_num_threads(), omp_get_thread_num(),
                     ELEM_ALIGN, i0, i1);
}

typedef void (*unary_fn)(float *out, const float *x, size_t n);

static void run_unary(unary_fn fn, float *out, const float *x, size_t n,
                      int n_threads)
{
    int nt = maas_threads_for(n_threads, n, MIN_FLOATS_PER_THREAD);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t i0, i1;
        thread_slice(n, &i0, &i1);
        if (i1 > i0)
            fn(out + i0, x + i0, i1 - i0);
    }
}

/* Returns the thread count for a row-wise kernel over [rows, cols], sized by
 * the element count but never above the row count. */
static int row_threads(int n_threads, int rows, int cols)
{
    size_t work = (size_t)rows * (size_t)cols;
    int nt = maas_threads_for(n_threads, work, MIN_FLOATS_PER_THREAD);
    if (nt > rows)
        nt = rows > 1 ? rows : 1;
    return nt;
}

void maas_layernorm_f32(float *out, const float *x, const float *gamma,
                        const float *beta, int rows, int cols, float eps,
                        int n_threads)
{
    /* out[R,C], x[R,C], gamma[C], beta[C] */
    const maas_kernel_table *kt = maas_kernels_table();
    int nt = row_threads(n_threads, rows, cols);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int r = 0; r < rows; r++)
        kt->layernorm_row(out + (size_t)r * cols, x + (size_t)r * cols, gamma,
                          beta, cols, eps);
}

void maas_softmax_f32(float *x, int rows, int cols, int n_threads)
{
    /* x[R,C], in place */
    const maas_kernel_table *kt = maas_kernels_table();
    int nt = row_threads(n_threads, rows, cols);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int r = 0; r < rows; r++)
        kt->softmax_row(x + (size_t)r * cols, cols);
}

void maas_gelu_erf_f32(float *out, const float *x, size_t n, int n_threads)
{
    run_unary(maas_kernels_table()->gelu_erf, out, x, n, n_threads);
}

void maas_gelu_tanh_f32(float *out, const float *x, size_t n, int n_threads)
{
    run_unary(maas_kernels_table()->gelu_tanh, out, x, n, n_threads);
}

void maas_relu_f32(float *out, const float *x, size_t n, int n_threads)
{
    run_unary(maas_kernels_table()->relu, out, x, n, n_threads);
}

void maas_tanh_f32(float *out, const float *x, size_t n, int n_threads)
{
    run_unary(maas_kernels_table()->tanh, out, x, n, n_threads);
}

void maas_add_f32(float *out, const float *a, const float *b, size_t n,
                  int n_threads)
{
    const maas_kernel_table *kt = maas_kernels_table();
    int nt = maas_threads_for(n_threads, n, MIN_FLOATS_PER_THREAD);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        size_t i0, i1;
        thread_slice(n, &i0, &i1);
        if (i1 > i0)
            kt->add(out + i0, a + i0, b + i0, i1 - i0);
    }
}

void maas_add_bias_f32(float *x, const float *bias, int rows, int cols,
                       int n_threads)
{
    /* x[R,C], bias[C] */
    const maas_kernel_table *kt = maas_kernels_table();
    int nt = row_threads(n_threads, rows, cols);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int r = 0; r < rows; r++)
        kt->add_bias_row(x + (size_t)r * cols, bias, cols);
}

void maas_scale_f32(float *x, float scale, size_t n)
{
    maas_kernels_table()->scale(x, scale, n);
}

/* ---- embeddings and reductions -------------------------------------------- */

maas_status maas_embedding(float *out, const maas_tensor *table,
                           const int32_t *ids, int T)
{
    /* out[T,C], table[V,C] (f32, f16 or bf16), ids[T] */
    if (!out || !table || !table->data || (!ids && T > 0))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_embedding: out, the table data and ids must "
                         "not be NULL");
    if (table->n_dims != 2 || table->stride[1] != 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_embedding: the table must be 2-D [V,C] with "
                         "contiguous rows, got %d dimensions", table->n_dims);
    if (table->dtype != MAAS_DTYPE_F32 && table->dtype != MAAS_DTYPE_F16 &&
        table->dtype != MAAS_DTYPE_BF16)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "maas_embedding: tables of dtype %s are not "
                         "supported; use f32, f16 or bf16",
                         maas_dtype_name(table->dtype) ?
                             maas_dtype_name(table->dtype) : "unknown");
    if (T < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_embedding: token count %d is negative", T);

    int64_t V = table->shape[0];
    size_t C = (size_t)table->shape[1];
    size_t elem = maas_dtype_size(table->dtype);
    const maas_kernel_table *kt = maas_kernels_table();

    for (int t = 0; t < T; t++) {
        if (ids[t] < 0 || ids[t] >= V)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "maas_embedding: token id %d at position %d is "
                             "outside the vocabulary 0..%lld", (int)ids[t], t,
                             (long long)V - 1);
        const uint8_t *row = (const uint8_t *)table->data +
                             (size_t)ids[t] * (size_t)table->stride[0] * elem;
        float *out_t = out + (size_t)t * C;
        if (table->dtype == MAAS_DTYPE_F32)
            memcpy(out_t, row, C * sizeof(float));
        else if (table->dtype == MAAS_DTYPE_F16)
            kt->f16_to_f32(out_t, (const uint16_t *)row, C);
        else
            maas_convert_to_f32(out_t, row, MAAS_DTYPE_BF16, C);
    }
    return MAAS_OK;
}

int maas_argmax_f32(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

bool maas_all_finite_f32(const float *x, size_t n)
{
    /* x * 0 is 0 for finite x and NaN for inf or NaN; the sum stays NaN. */
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++)
        acc += x[i] * 0.0f;
    return acc == 0.0f;
}
