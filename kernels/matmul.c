/* Matrix products: OpenBLAS sgemm for several rows, the dispatch table's
 * matrix-vector kernel for one row.
 *
 * The output columns (N) are cut into chunks whose width depends only on
 * the shape, and threads take whole chunks, each calling single-threaded
 * sgemm.  OpenBLAS's summation order for an element can depend on the
 * width of the product it sits in, so fixed chunks are what makes the
 * result identical for every thread count. */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>

#include <cblas.h>

#include "dispatch.h"
#include "internal.h"

/* Output columns per thread-slice boundary of the matrix-vector path: a
 * multiple of the AVX2 register tile. */
#define SLICE_ALIGN 16

/* Output columns per sgemm chunk.  OpenBLAS 0.3.21's sgemm with a
 * transposed right operand runs 2 to 3 times slower when that product has
 * 320 or fewer columns than with 352 or more (measured on the Zen kernels,
 * one thread, M from 32 to 1024, K = 768).  384 is past that cliff, within
 * 5% of one whole-width call there, and divides the widths of BERT and
 * GPT-2 (768, 2304, 3072) into equal shares for two or four threads. */
#define GEMM_CHUNK 384

/* Products below this many multiply-adds run on one thread: starting the
 * team would cost more than it saves. */
#define MIN_MACS_PER_THREAD (1u << 15)

/* Weight rows converted per panel of a 16-bit linear layer: the sgemm
 * chunk width, for the same reason.  The panel takes 384 x K floats per
 * thread (1.2 MB for K = 768, 4.7 MB for K = 3072). */
#define PANEL_ROWS GEMM_CHUNK

/* ---- per-thread panel buffer --------------------------------------------- */

static pthread_key_t g_panel_key;
static pthread_once_t g_panel_once = PTHREAD_ONCE_INIT;
static _Thread_local float *t_panel;
static _Thread_local size_t t_panel_floats;

static void panel_key_init(void)
{
    /* The destructor frees a thread's buffer when the thread exits. */
    if (pthread_key_create(&g_panel_key, free) != 0)
        maas_log(MAAS_LOG_WARN, "pthread_key_create failed: f16 panel "
                                "buffers will not be freed at thread exit");
}

/* Returns this thread's panel buffer of at least `floats` floats, or NULL
 * when it cannot be allocated (callers then fall back to matrix-vector
 * products, which need no buffer). */
static float *panel_buffer(size_t floats)
{
    if (t_panel_floats >= floats)
        return t_panel;
    pthread_once(&g_panel_once, panel_key_init);
    float *buf = NULL;
    if (posix_memalign((void **)&buf, 64, floats * sizeof(float)) != 0)
        return NULL;
    free(t_panel);
    t_panel = buf;
    t_panel_floats = floats;
    pthread_setspecific(g_panel_key, buf);
    return buf;
}

/* ---- f32 weights ---------------------------------------------------------- */

static int threads_for_product(int n_threads, int M, int K, int N)
{
    size_t macs = (size_t)M * (size_t)K * (size_t)N;
    int nt = maas_threads_for(n_threads, macs, MIN_MACS_PER_THREAD);
    size_t slices = ((size_t)N + SLICE_ALIGN - 1) / SLICE_ALIGN;
    if ((size_t)nt > slices)
        nt = slices > 1 ? (int)slices : 1;
    return nt;
}

/* Handles products with an empty dimension, which BLAS would reject for
 * their zero leading dimensions: out = bias (or 0) when K is 0.  Returns
 * true when the product was empty. */
static bool empty_product(float *out, const float *bias, int M, int K, int N)
{
    if (M <= 0 || N <= 0)
        return true;
    if (K > 0)
        return false;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            out[(size_t)m * N + n] = bias ? bias[n] : 0.0f;
    return true;
}

void maas_linear_f32(float *out, const float *in, const float *w,
                     const float *bias, int M, int K, int N, int n_threads)
{
    /* out[M,N], in[M,K], w[N,K], bias[N] or NULL */
    const maas_kernel_table *kt = maas_kernels_table();
    if (empty_product(out, bias, M, K, N))
        return;
    int nt = threads_for_product(n_threads, M, K, N);

    if (M == 1) {
        /* One row: each thread computes a slice of the outputs. */
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            size_t n0, n1;
            maas_split_range((size_t)N, omp_get_num_threads(),
                             omp_get_thread_num(), SLICE_ALIGN, &n0, &n1);
            if (n1 > n0)
                kt->gemv_f32(out, in, w, bias, K, (int)n0, (int)n1);
        }
        return;
    }

    /* Several rows: out[:, n0:n1] = in . w[n0:n1, :]^T per chunk, then the
     * bias per row while the chunk is still in cache. */
    int chunks = (N + GEMM_CHUNK - 1) / GEMM_CHUNK;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int chunk = 0; chunk < chunks; chunk++) {
        int n0 = chunk * GEMM_CHUNK;
        int cols = N - n0 < GEMM_CHUNK ? N - n0 : GEMM_CHUNK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, cols, K, 1.0f,
                    in, K, w + (size_t)n0 * K, K, 0.0f, out + n0, N);
        if (bias)
            for (int m = 0; m < M; m++)
                kt->add_bias_row(out + (size_t)m * N + n0, bias + n0, cols);
    }
}

void maas_matmul_f32(float *c, int ldc, const float *a, int lda,
                     const float *b, int ldb, bool trans_b, int M, int K,
                     int N, float alpha, float beta, int n_threads)
{
    /* c[M,N] (ldc), a[M,K] (lda), b[K,N] or b[N,K] when trans_b (ldb) */
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        /* c = beta c: BLAS would reject the zero leading dimensions. */
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
                c[(size_t)m * ldc + n] = beta == 0.0f ? 0.0f : beta * c[(size_t)m * ldc + n];
        return;
    }
    int nt = threads_for_product(n_threads, M, K, N);
    int chunks = (N + GEMM_CHUNK - 1) / GEMM_CHUNK;

#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int chunk = 0; chunk < chunks; chunk++) {
        int n0 = chunk * GEMM_CHUNK;
        int cols = N - n0 < GEMM_CHUNK ? N - n0 : GEMM_CHUNK;
        const float *b_chunk = trans_b ? b + (size_t)n0 * ldb : b + n0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, cols, K, alpha, a,
                    lda, b_chunk, ldb, beta, c + n0, ldc);
    }
}

/* ---- half-precision weights ----------------------------------------------- */

typedef void (*convert_fn)(float *dst, const uint16_t *src, size_t n);

static void convert_bf16(float *dst, const uint16_t *src, size_t n)
{
    maas_convert_to_f32(dst, src, MAAS_DTYPE_BF16, n);
}

/* Returns w[0:K] . x[0:K] for 16-bit weights, converting 256 at a time. */
static float dot_converted(const uint16_t *w, const float *x, int K,
                           convert_fn convert)
{
    const maas_kernel_table *kt = maas_kernels_table();
    float chunk[256];
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += 256) {
        int len = K - k0 < 256 ? K - k0 : 256;
        convert(chunk, w + k0, (size_t)len);
        acc += kt->dot(chunk, x + k0, len);
    }
    return acc;
}

/* Columns [n0, n0 + cols) of a linear layer on 16-bit weights: convert the
 * panel of weight rows to f32 in this thread's buffer, multiply it with
 * sgemm.  Only one panel per thread is ever converted at a time. */
static void linear_panel(float *out, const float *in, const uint16_t *w,
                         const float *bias, int M, int K, int N, int n0,
                         int cols, convert_fn convert)
{
    const maas_kernel_table *kt = maas_kernels_table();
    float *panel = panel_buffer((size_t)PANEL_ROWS * K);

    if (!panel) {
        /* No buffer: convert each weight row in small stack chunks. */
        for (int n = n0; n < n0 + cols; n++)
            for (int m = 0; m < M; m++)
                out[(size_t)m * N + n] =
                    dot_converted(w + (size_t)n * K, in + (size_t)m * K, K,
                                  convert) + (bias ? bias[n] : 0.0f);
        return;
    }

    convert(panel, w + (size_t)n0 * K, (size_t)cols * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, cols, K, 1.0f, in,
                K, panel, K, 0.0f, out + n0, N);
    if (bias)
        for (int m = 0; m < M; m++)
            kt->add_bias_row(out + (size_t)m * N + n0, bias + n0, cols);
}

static void linear_16bit(float *out, const float *in, const uint16_t *w,
                         const float *bias, int M, int K, int N, int n_threads,
                         convert_fn convert, bool is_f16)
{
    const maas_kernel_table *kt = maas_kernels_table();
    if (empty_product(out, bias, M, K, N))
        return;
    int nt = threads_for_product(n_threads, M, K, N);

    if (M == 1 && is_f16) {
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            size_t n0, n1;
            maas_split_range((size_t)N, omp_get_num_threads(),
                             omp_get_thread_num(), SLICE_ALIGN, &n0, &n1);
            if (n1 > n0)
                kt->gemv_f16(out, in, w, bias, K, (int)n0, (int)n1);
        }
        return;
    }

    int rows = PANEL_ROWS;
    int panels = (N + rows - 1) / rows;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int p = 0; p < panels; p++) {
        int n0 = p * rows;
        int cols = N - n0 < rows ? N - n0 : rows;
        linear_panel(out, in, w, bias, M, K, N, n0, cols, convert);
    }
}
void maas_linear_f16(float *out, const float *in, const uint16_t *w,
                     const float *bias, int M, int K, int N, int n_threads)
{
    /* out[M,N], in[M,K], w[N,K] f16, bias[N] or NULL */
    linear_16bit(out, in, w, bias, M, K, N, n_threads,
                 maas_kernels_table()->f16_to_f32, true);
}

maas_status maas_linear(float *out, const float *in, const maas_tensor *w,
                        const float *bias, int M, int n_threads)
{
    /* out[M,N], in[M,K], w[N,K] (f32, f16 or bf16), bias[N] or NULL */
    if (!out || !in || !w || !w->data)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_linear: out, in and the weight data must not "
                         "be NULL");
    if (w->n_dims != 2 || !maas_tensor_is_contiguous(w))
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_linear: the weight must be a contiguous 2-D "
                         "tensor [N,K], got %d dimensions%s", w->n_dims,
                         maas_tensor_is_contiguous(w) ? "" : " (not contiguous)");
    if (M < 1 || w->shape[0] < 1 || w->shape[1] < 1 || w->shape[0] > INT32_MAX ||
        w->shape[1] > INT32_MAX)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_linear: sizes must be positive and fit an int: "
                         "M=%d, weight [%lld, %lld]", M,
                         (long long)w->shape[0], (long long)w->shape[1]);
    int N = (int)w->shape[0];
    int K = (int)w->shape[1];

    switch (w->dtype) {
    case MAAS_DTYPE_F32:
        maas_linear_f32(out, in, w->data, bias, M, K, N, n_threads);
        return MAAS_OK;
    case MAAS_DTYPE_F16:
        maas_linear_f16(out, in, w->data, bias, M, K, N, n_threads);
        return MAAS_OK;
    case MAAS_DTYPE_BF16:
        linear_16bit(out, in, w->data, bias, M, K, N, n_threads, convert_bf16,
                     false);
        return MAAS_OK;
    default:
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "maas_linear: weights of dtype %s are not supported; "
                         "use f32, f16 or bf16",
                         maas_dtype_name(w->dtype) ? maas_dtype_name(w->dtype)
                                                   : "unknown");
    }
}
