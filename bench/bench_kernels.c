/* Kernel benchmarks on the shapes GPT-2 124M and BERT-base use, and conv2d
 * on ResNet-style shapes, beside OpenBLAS (with its own threads) and the
 * machine's memory bandwidth measured in the same run.
 *
 *   bench_kernels [--quick] [--json] [--threads N] [--isa scalar|avx2]
 *                 [--filter SUBSTRING] [--cpu-time]
 *
 * Each case runs until it has REPS samples or has spent its time budget,
 * and reports the median.  Times go to stdout as a table (or JSON lines
 * with --json); progress goes nowhere, so the output can be piped. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "maas.h"
#include "conv.h"
#include "dispatch.h"

/* ---- options and output ---------------------------------------------------- */

static struct {
    bool json, quick, cpu_time;
    int threads;
    const char *filter;
    double budget_s;  /* time spent per case at most */
    int max_reps;
} g_opt;

static double g_bandwidth_gbs;  /* triad, set before the kernels run */

/* Seconds per call of one case. */
typedef struct timing {
    double median, min;
} timing;

/* Returns wall-clock seconds, or with --cpu-time the CPU seconds of the
 * whole process (all threads summed). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(g_opt.cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC,
                  &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*bench_fn)(void *ctx);

/* Runs fn once to warm up, then repeatedly; returns the median and the
 * fastest sample. */
static timing time_median(bench_fn fn, void *ctx)
{
    double samples[256];
    int n = 0;
    fn(ctx);
    double start = now_s();
    while (n < g_opt.max_reps && n < 256) {
        double t0 = now_s();
        fn(ctx);
        samples[n++] = now_s() - t0;
        if (n >= 3 && now_s() - start > g_opt.budget_s)
            break;
    }
    qsort(samples, (size_t)n, sizeof samples[0], cmp_double);
    return (timing){samples[n / 2], samples[0]};
}

static bool selected(const char *group, const char *name)
{
    return !g_opt.filter || strstr(group, g_opt.filter) ||
           strstr(name, g_opt.filter);
}

static void print_header(void)
{
    if (g_opt.json)
        return;
    printf("%-10s %-38s %3s %10s %9s %9s %9s  %s\n", "kernel", "shape", "thr",
           "median ms", "min ms", "GFLOP/s", "GB/s", "median vs reference");
    printf("%-10s %-38s %3s %10s %9s %9s %9s  %s\n", "----------",
           "--------------------------------------", "---", "----------",
           "---------", "---------", "---------", "-------------------");
}

/* Prints one row.  flops or bytes may be 0 (not meaningful); `versus`
 * names the comparison and `ratio` is the median of ours over its, as a
 * speed (its time / our time), 0 for none. */
static void report(const char *kernel, const char *shape, timing t,
                   double flops, double bytes, const char *versus,
                   double ratio)
{
    double seconds = t.median, min_s = t.min;
    double gflops = flops > 0 ? flops / seconds * 1e-9 : 0;
    double gbs = bytes > 0 ? bytes / seconds * 1e-9 : 0;
    if (g_opt.json) {
        printf("{\"kernel\": \"%s\", \"shape\": \"%s\", \"threads\": %d, "
               "\"isa\": \"%s\", \"median_ms\": %.4f, \"min_ms\": %.4f, "
               "\"gflops\": %.3f, \"gbs\": %.3f, \"versus\": \"%s\", "
               "\"ratio\": %.4f}\n",
               kernel, shape, g_opt.threads, maas_isa_name(maas_kernels_isa()),
               seconds * 1e3, min_s * 1e3, gflops, gbs, versus ? versus : "",
               ratio);
    } else {
        char g1[32] = "", g2[32] = "", ref[96] = "";
        if (gflops > 0)
            snprintf(g1, sizeof g1, "%.2f", gflops);
        if (gbs > 0)
            snprintf(g2, sizeof g2, "%.2f", gbs);
        if (versus && ratio > 0)
            snprintf(ref, sizeof ref, "%5.1f%% of %s", 100.0 * ratio, versus);
        printf("%-10s %-38s %3d %10.4f %9.4f %9s %9s  %s\n", kernel, shape,
               g_opt.threads, seconds * 1e3, min_s * 1e3, g1, g2, ref);
    }
    fflush(stdout);
}

static float *random_floats(size_t n, unsigned seed)
{
    float *a = NULL;
    if (posix_memalign((void **)&a, 64, (n ? n : 1) * sizeof *a) != 0) {
        fprintf(stderr, "bench_kernels: out of memory for %zu floats\n", n);
        exit(1);
    }
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        a[i] = (float)(s >> 8) * 0x1p-23f - 1.0f;
    }
    return a;
}

/* ---- memory bandwidth (STREAM-like) -------------------------------------- */

typedef struct {
    float *a, *b, *c;
    size_t n;
} stream_ctx;

static void stream_copy(void *p)
{
    stream_ctx *s = p;
#pragma omp parallel for num_threads(g_opt.threads) schedule(static)
    for (size_t i = 0; i < s->n; i++)
        s->c[i] = s->a[i];
}

static void stream_triad(void *p)
{
    stream_ctx *s = p;
#pragma omp parallel for num_threads(g_opt.threads) schedule(static)
    for (size_t i = 0; i < s->n; i++)
        s->a[i] = s->b[i] + 3.0f * s->c[i];
}

static void bench_bandwidth(void)
{
    /* 3 arrays of 64 MB: far beyond any L3 of a server CPU today. */
    stream_ctx s = {random_floats(16u << 20, 1), random_floats(16u << 20, 2),
                    random_floats(16u << 20, 3), 16u << 20};
    double bytes_copy = 2.0 * sizeof(float) * s.n;
    double bytes_triad = 3.0 * sizeof(float) * s.n;
    timing t_copy = time_median(stream_copy, &s);
    timing t_triad = time_median(stream_triad, &s);
    g_bandwidth_gbs = bytes_triad / t_triad.median * 1e-9;
    report("stream", "copy 3 x 64 MB arrays", t_copy, 0, bytes_copy, NULL, 0);
    report("stream", "triad a = b + 3c", t_triad, 0, bytes_triad, NULL, 0);
    free(s.a), free(s.b), free(s.c);
}

/* ---- matrix products -------------------------------------------------------- */

typedef struct {
    int M, K, N;
    float *in, *w, *bias, *out;
    uint16_t *w16;
} linear_ctx;

static void run_linear_f32(void *p)
{
    linear_ctx *c = p;
    maas_linear_f32(c->out, c->in, c->w, c->bias, c->M, c->K, c->N, g_opt.threads);
}

static void run_linear_f16(void *p)
{
    linear_ctx *c = p;
    maas_linear_f16(c->out, c->in, c->w16, c->bias, c->M, c->K, c->N, g_opt.threads);
}

/* OpenBLAS with its own threads, no bias: the baseline. */
static void run_openblas(void *p)
{
    linear_ctx *c = p;
    if (c->M == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, c->N, c->K, 1.0f, c->w, c->K,
                    c->in, 1, 0.0f, c->out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->M, c->N, c->K,
                    1.0f, c->in, c->K, c->w, c->K, 0.0f, c->out, c->N);
}

/* Times fn with OpenBLAS on --threads threads.  Afterwards OpenBLAS's
 * workers keep polling for new work for a while; the pause lets them go to
 * sleep before the next libmaas case, which they would otherwise slow. */
static timing run_openblas_threaded(bench_fn fn, void *ctx)
{
    openblas_set_num_threads(g_opt.threads);
    timing t = time_median(fn, ctx);
    openblas_set_num_threads(1);
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    return t;
}

static void bench_linear(const char *model, const char *layer, int M, int K,
                         int N, bool f16)
{
    char shape[96];
    snprintf(shape, sizeof shape, "%s %s M=%d K=%d N=%d", model, layer, M, K, N);
    const char *kernel = f16 ? "linear16" : (M == 1 ? "gemv" : "linear");
    if (!selected(kernel, shape))
        return;

    linear_ctx c = {M, K, N, random_floats((size_t)M * K, 4),
                    random_floats((size_t)N * K, 5), random_floats((size_t)N, 6),
                    random_floats((size_t)M * N, 7), NULL};
    if (f16) {
        c.w16 = malloc((size_t)N * K * sizeof *c.w16);
        for (size_t i = 0; i < (size_t)N * K; i++)
            c.w16[i] = maas_f32_to_f16(c.w[i]);
    }

    double flops = 2.0 * M * K * N;
    double weight_bytes = (double)N * K * (f16 ? 2 : 4);
    timing t = time_median(f16 ? run_linear_f16 : run_linear_f32, &c);
    timing t_blas = run_openblas_threaded(run_openblas, &c);
    const char *versus = M == 1 ? "OpenBLAS sgemv f32" : "OpenBLAS sgemm f32";
    /* One-row products read the whole weight once: report its GB/s. */
    report(kernel, shape, t, flops, M == 1 ? weight_bytes : 0, versus, t_blas.median / t.median);
    if (!f16)
        report("openblas", shape, t_blas, flops, M == 1 ? weight_bytes : 0,
               NULL, 0);

    free(c.in), free(c.w), free(c.bias), free(c.out), free(c.w16);
}

/* ---- row-wise and element-wise -------------------------------------------- */

typedef struct {
    int rows, cols;
    float *x, *y, *gamma, *beta;
    int which;  /* 0 layernorm, 1 softmax, 2 gelu erf, 3 gelu tanh, 4 add */
} rows_ctx;

static void run_rows(void *p)
{
    rows_ctx *c = p;
    size_t n = (size_t)c->rows * c->cols;
    switch (c->which) {
    case 0:
        maas_layernorm_f32(c->y, c->x, c->gamma, c->beta, c->rows, c->cols,
                           1e-5f, g_opt.threads);
        break;
    case 1:
        /* Softmax is in place: restore nothing, the values stay finite. */
        maas_softmax_f32(c->y, c->rows, c->cols, g_opt.threads);
        break;
    case 2:
        maas_gelu_erf_f32(c->y, c->x, n, g_opt.threads);
        break;
    case 3:
        maas_gelu_tanh_f32(c->y, c->x, n, g_opt.threads);
        break;
    default:
        maas_add_f32(c->y, c->x, c->y, n, g_opt.threads);
        break;
    }
}

static void bench_rows(const char *kernel, int which, const char *what,
                       int rows, int cols)
{
    char shape[96];
    snprintf(shape, sizeof shape, "%s [%d, %d]", what, rows, cols);
    if (!selected(kernel, shape))
        return;
    size_t n = (size_t)rows * cols;
    rows_ctx c = {rows, cols, random_floats(n, 8), random_floats(n, 9),
                  random_floats((size_t)cols, 10), random_floats((size_t)cols, 11),
                  which};
    /* Inputs in [-4, 4): GELU and softmax see both their polynomial and
     * their exponential ranges, as MLP pre-activations and scores do. */
    maas_scale_f32(c.x, 4.0f, n);
    maas_scale_f32(c.y, 4.0f, n);
    timing t = time_median(run_rows, &c);
    /* Bytes that must cross the memory bus: read x, write y (add reads 2). */
    double bytes = (which == 4 ? 12.0 : 8.0) * (double)n;
    double ratio = g_bandwidth_gbs > 0
                       ? bytes / t.median * 1e-9 / g_bandwidth_gbs : 0;
    report(kernel, shape, t, 0, bytes, "triad bandwidth", ratio);
    free(c.x), free(c.y), free(c.gamma), free(c.beta);
}

/* ---- attention ---------------------------------------------------------------- */

typedef struct {
    int Tq, Tk, H, D, q_pos0;
    float *q, *kv, *out, *scratch;
} attn_ctx;

static void run_attention(void *p)
{
    attn_ctx *c = p;
    int C = c->H * c->D;
    maas_attention_f32(c->out, C, c->q, C, c->kv, 2 * C, c->kv + C, 2 * C,
                       c->Tq, c->Tk, c->H, c->D, c->q_pos0, NULL, c->scratch,
                       g_opt.threads);
}

static void bench_attention(const char *model, int Tq, int Tk, bool causal)
{
    char shape[96];
    snprintf(shape, sizeof shape, "%s Tq=%d Tk=%d H=12 D=64%s", model, Tq, Tk,
             causal ? " causal" : "");
    if (!selected("attention", shape))
        return;
    int H = 12, D = 64, C = H * D;
    attn_ctx c = {Tq, Tk, H, D, causal ? Tk - Tq : -1,
                  random_floats((size_t)Tq * C, 12),
                  random_floats((size_t)Tk * 2 * C, 13),
                  random_floats((size_t)Tq * C, 14), NULL};
    c.scratch = random_floats(maas_attention_scratch_floats(Tq, Tk, H, g_opt.threads), 15);
    timing t = time_median(run_attention, &c);
    /* Two products of 2 Tq Tk D flops per head; causal prefill does about
     * half of that work. */
    double flops = 4.0 * Tq * Tk * H * D;
    if (causal && Tq > 1)
        flops *= 0.5 * (1.0 + 1.0 / Tq);
    /* Decode reads the whole KV cache once. */
    double bytes = Tq == 1 ? 2.0 * Tk * C * sizeof(float) : 0;
    report("attention", shape, t, flops, bytes, NULL, 0);
    free(c.q), free(c.kv), free(c.out), free(c.scratch);
}

/* ---- convolution, pooling, RNN ----------------------------------------------- */

typedef struct {
    maas_conv2d_params p;
    float *in, *w, *bias, *out, *scratch, *col;
    int M, N, K;  /* the equivalent sgemm of one group */
    maas_conv_path path;
} conv_ctx;

static void run_conv(void *p)
{
    conv_ctx *c = p;
    maas_conv2d_f32_path(c->out, c->in, c->w, c->bias, &c->p, c->scratch,
                         g_opt.threads, c->path);
}

static void run_conv_sgemm(void *p)
{
    conv_ctx *c = p;
    for (int g = 0; g < c->p.groups; g++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->M, c->N, c->K,
                    1.0f, c->w, c->K, c->col, c->N, 0.0f, c->out, c->N);
}

/* Times conv2d as maas_conv2d_f32 runs it and OpenBLAS sgemm on the
 * im2col matrix it multiplies (the ceiling of the im2col path).  With
 * both_paths, also each algorithm forced, to check the automatic choice. */
static void bench_conv(const char *what, int Cin, int HW, int Cout, int k,
                       int stride, int pad, int groups, bool both_paths)
{
    char shape[96];
    snprintf(shape, sizeof shape, "%s %dx%dx%d k%d s%d%s -> %d", what, Cin, HW,
             HW, k, stride, groups > 1 ? " dw" : "", Cout);
    if (!selected("conv2d", shape))
        return;
    maas_conv2d_params p = {1, Cin, HW, HW, Cout, k, k, stride, stride,
                            pad, pad, 1, 1, groups};
    int oh = maas_conv2d_out_size(HW, k, stride, pad, 1);
    conv_ctx c = {p, random_floats((size_t)Cin * HW * HW, 16),
                  random_floats((size_t)Cout * Cin / groups * k * k, 17),
                  random_floats((size_t)Cout, 18),
                  random_floats((size_t)Cout * oh * oh, 19), NULL, NULL,
                  Cout / groups, oh * oh, Cin / groups * k * k, MAAS_CONV_AUTO};
    c.scratch = random_floats(maas_conv2d_scratch_floats(&p, g_opt.threads), 20);
    c.col = random_floats((size_t)c.K * c.N, 21);
    double flops = 2.0 * groups * c.M * c.N * c.K;

    timing t = time_median(run_conv, &c);
    timing t_direct = {0, 0}, t_im2col = {0, 0};
    if (both_paths) {
        c.path = MAAS_CONV_DIRECT;
        t_direct = time_median(run_conv, &c);
        c.path = MAAS_CONV_IM2COL;
        t_im2col = time_median(run_conv, &c);
    }
    timing t_gemm = run_openblas_threaded(run_conv_sgemm, &c);
    report("conv2d", shape, t, flops, 0, "OpenBLAS sgemm of its im2col",
           t_gemm.median / t.median);
    if (both_paths) {
        report("conv-dir", shape, t_direct, flops, 0, "automatic choice",
               t.median / t_direct.median);
        report("conv-i2c", shape, t_im2col, flops, 0, "automatic choice",
               t.median / t_im2col.median);
    }
    free(c.in), free(c.w), free(c.bias), free(c.out), free(c.scratch), free(c.col);
}

typedef struct {
    int C, HW;
    float *in, *out;
} pool_ctx;

static void run_pool(void *p)
{
    pool_ctx *c = p;
    maas_maxpool2d_f32(c->out, c->in, 1, c->C, c->HW, c->HW, 3, 2, 1, g_opt.threads);
}

typedef struct {
    int steps, input, hidden;
    float *x, *w_ih, *w_hh, *b, *out;
} rnn_ctx;

static void run_rnn(void *p)
{
    rnn_ctx *c = p;
    maas_rnn_tanh_f32(c->out, c->x, NULL, c->w_ih, c->w_hh, c->b, c->b, c->steps,
                      c->input, c->hidden, g_opt.threads);
}

static void bench_misc(void)
{
    if (selected("maxpool", "resnet stem 64x112x112 k3 s2 p1")) {
        pool_ctx c = {64, 112, random_floats(64u * 112 * 112, 22),
                      random_floats(64u * 56 * 56, 23)};
        timing t = time_median(run_pool, &c);
        double bytes = 4.0 * (64.0 * 112 * 112 + 64.0 * 56 * 56);
        report("maxpool", "resnet stem 64x112x112 k3 s2 p1", t, 0, bytes,
               "triad bandwidth", bytes / t.median * 1e-9 / g_bandwidth_gbs);
        free(c.in), free(c.out);
    }
    if (selected("rnn", "T=128 I=256 H=512")) {
        rnn_ctx c = {128, 256, 512, random_floats(128u * 256, 24),
                     random_floats(512u * 256, 25), random_floats(512u * 512, 26),
                     random_floats(512, 27), random_floats(128u * 512, 28)};
        maas_scale_f32(c.w_hh, 0.05f, 512u * 512);
        timing t = time_median(run_rnn, &c);
        double flops = 2.0 * 128 * 512 * (256 + 512);
        report("rnn", "T=128 I=256 H=512", t, flops, 0, NULL, 0);
        free(c.x), free(c.w_ih), free(c.w_hh), free(c.b), free(c.out);
    }
}

/* ---- accuracy ------------------------------------------------------------------ */

static double gelu_erf_exact(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_tanh_exact(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* Prints the largest relative error of each activation of the tier in use
 * against double-precision libm, on 2^21 + 1 points evenly spaced over
 * [-10, 10]: over outputs of magnitude >= 1e-3 (the bulk) and >= 1e-6
 * (into GELU's negative tail; below that PyTorch's float formula itself
 * keeps no relative accuracy). */
static void bench_accuracy(void)
{
    if (!selected("accuracy", ""))
        return;
    size_t n = (1u << 21) + 1;
    float *x = random_floats(n, 30), *y = random_floats(n, 31);
    for (size_t i = 0; i < n; i++)
        x[i] = -10.0f + 20.0f * (float)i / (float)(n - 1);

    static const char *names[3] = {"gelu_erf", "gelu_tanh", "tanh"};
    for (int f = 0; f < 3; f++) {
        if (f == 0)
            maas_gelu_erf_f32(y, x, n, g_opt.threads);
        else if (f == 1)
            maas_gelu_tanh_f32(y, x, n, g_opt.threads);
        else
            maas_tanh_f32(y, x, n, g_opt.threads);
        double worst_bulk = 0, worst_tail = 0, worst_x = 0;
        for (size_t i = 0; i < n; i++) {
            double want = f == 0 ? gelu_erf_exact(x[i])
                        : f == 1 ? gelu_tanh_exact(x[i]) : tanh((double)x[i]);
            if (fabs(want) < 1e-6)
                continue;
            double rel = fabs(y[i] - want) / fabs(want);
            if (fabs(want) >= 1e-3 && rel > worst_bulk)
                worst_bulk = rel;
            if (rel > worst_tail)
                worst_tail = rel, worst_x = x[i];
        }
        if (g_opt.json)
            printf("{\"kernel\": \"accuracy\", \"function\": \"%s\", "
                   "\"isa\": \"%s\", \"max_rel_error_bulk\": %.3g, "
                   "\"max_rel_error\": %.3g, \"at\": %.5f}\n",
                   names[f], maas_isa_name(maas_kernels_isa()), worst_bulk,
                   worst_tail, worst_x);
        else
            printf("accuracy   %-10s max relative error vs double: %.2g where "
                   "|out| >= 1e-3, %.2g where |out| >= 1e-6 (at x = %.3f)\n",
                   names[f], worst_bulk, worst_tail, worst_x);
    }
    free(x), free(y);
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_kernels [--quick] [--json] [--threads N] "
            "[--isa scalar|avx2] [--filter SUBSTRING] [--cpu-time]\n"
            "  --quick    fewer shapes and a shorter time budget per case\n"
            "  --json     one JSON object per line instead of the table\n"
            "  --threads  threads for libmaas and for OpenBLAS's baseline "
            "(default: all cores)\n"
            "  --isa      force an instruction-set tier (default: the best)\n"
            "  --filter   run only cases whose kernel or shape contains it\n"
            "  --cpu-time time with the process's CPU time instead of the wall\n"
            "             clock: steadier on a shared machine, meaningful with\n"
            "             --threads 1 (with more threads it sums them)\n");
}

int main(int argc, char **argv)
{
    g_opt.threads = maas_cpu_count();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            g_opt.json = true;
        } else if (strcmp(argv[i], "--cpu-time") == 0) {
            g_opt.cpu_time = true;
        } else if (strcmp(argv[i], "--quick") == 0) {
            g_opt.quick = true;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            g_opt.threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            g_opt.filter = argv[++i];
        } else if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
            const char *isa = argv[++i];
            maas_isa want = strcmp(isa, "scalar") == 0 ? MAAS_ISA_SCALAR : MAAS_ISA_AVX2;
            if (maas_kernels_set_isa(want) != MAAS_OK) {
                fprintf(stderr, "bench_kernels: %s\n", maas_last_error());
                return 1;
            }
        } else {
            usage();
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (g_opt.threads < 1) {
        fprintf(stderr, "bench_kernels: --threads must be at least 1\n");
        return 2;
    }
    g_opt.budget_s = g_opt.quick ? 0.08 : 0.4;
    g_opt.max_reps = g_opt.quick ? 15 : 50;

    /* Fill the dispatch table now: it sets OpenBLAS to one thread, and the
     * baselines below raise that to --threads only while they run. */
    maas_isa isa = maas_kernels_isa();
    if (!g_opt.json)
        printf("libmaas %s kernels, %s tier, %d threads, %s time, OpenBLAS %s\n\n",
               maas_version(), maas_isa_name(isa), g_opt.threads,
               g_opt.cpu_time ? "CPU" : "wall-clock", openblas_get_config());
    print_header();

    bench_bandwidth();

    /* Prefill products: GPT-2 124M and BERT-base share C = 768 and an MLP
     * of 3072; GPT-2 fuses Q, K and V into one 2304-wide product. */
    int T = g_opt.quick ? 128 : 512;
    bench_linear("gpt2", "qkv", T, 768, 2304, false);
    bench_linear("gpt2", "attn.proj", T, 768, 768, false);
    bench_linear("gpt2", "mlp.fc", T, 768, 3072, false);
    bench_linear("gpt2", "mlp.proj", T, 3072, 768, false);
    bench_linear("bert", "query", 128, 768, 768, false);
    bench_linear("gpt2", "mlp.fc f16", T, 768, 3072, true);

    /* Decode products: one token. */
    bench_linear("gpt2", "qkv", 1, 768, 2304, false);
    bench_linear("gpt2", "mlp.fc", 1, 768, 3072, false);
    bench_linear("gpt2", "mlp.proj", 1, 3072, 768, false);
    bench_linear("gpt2", "qkv f16", 1, 768, 2304, true);
    bench_linear("gpt2", "mlp.fc f16", 1, 768, 3072, true);
    if (!g_opt.quick) {
        bench_linear("gpt2", "lm_head", 1, 768, 50257, false);
        bench_linear("gpt2", "lm_head f16", 1, 768, 50257, true);
    }

    /* Row-wise and element-wise: model shapes, then large inputs (64 MB
     * and more) for the bandwidth comparison. */
    bench_rows("layernorm", 0, "gpt2", T, 768);
    bench_rows("softmax", 1, "gpt2 scores", 12 * T, T);
    bench_rows("gelu_tanh", 3, "gpt2 mlp", T, 3072);
    bench_rows("gelu_erf", 2, "bert mlp", 128, 3072);
    bench_rows("add", 4, "residual", T, 768);
    int big = g_opt.quick ? 8192 : 32768;
    bench_rows("layernorm", 0, "large", big, 768);
    bench_rows("softmax", 1, "large", big, 768);
    bench_rows("gelu_erf", 2, "large", big, 768);
    bench_rows("gelu_tanh", 3, "large", big, 768);

    /* Attention. */
    bench_attention("gpt2 prefill", T, T, true);
    bench_attention("bert", 128, 128, false);
    bench_attention("gpt2 decode", 1, T, true);
    if (!g_opt.quick)
        bench_attention("gpt2 decode", 1, 1024, true);

    /* Convolutions: ResNet-18/34 stages on a 224x224 image. */
    bench_conv("resnet stem", 3, 224, 64, 7, 2, 3, 1, false);
    bench_conv("resnet s1", 64, 56, 64, 3, 1, 1, 1, false);
    bench_conv("resnet s2", 128, 28, 128, 3, 1, 1, 1, false);
    bench_conv("resnet s3", 256, 14, 256, 3, 1, 1, 1, false);
    if (!g_opt.quick) {
        bench_conv("resnet s4", 512, 7, 512, 3, 1, 1, 1, false);
        bench_conv("1x1", 256, 56, 64, 1, 1, 0, 1, false);
    }

    /* Small convolutions, where the direct path competes with im2col. */
    bench_conv("lenet c1", 1, 28, 6, 5, 1, 0, 1, true);
    bench_conv("lenet c2", 6, 14, 16, 5, 1, 0, 1, true);
    bench_conv("cifar", 3, 32, 32, 3, 1, 1, 1, true);
    bench_conv("mobilenet", 32, 112, 32, 3, 1, 1, 32, true);
    bench_misc();
    bench_accuracy();
    return 0;
}
