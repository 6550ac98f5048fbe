/* Benchmarks of the CNN and RNN models and of conv2d on ResNet-style shapes.
 *
 *   build/bench/bench_cnn_rnn [--threads N] [--json] [--conv-only] [--quick]
 *
 * Prints, as a table (or one JSON object with --json):
 *   - the digit classifier (build/fixtures/digits-cnn.maas): images/s at
 *     batch 1 and batch 64;
 *   - maas_conv2d_f32 on ResNet-18/50 and MobileNet layer shapes at batch 1:
 *     median time and GFLOP/s (2 * MACs / time);
 *   - the character RNN (build/fixtures/charnn-kjv.maas): characters/s for
 *     a 256-character prompt in one pass and for one-character steps.
 * Times are medians over repeats.  bench/cnn_rnn_vs_torch.py runs the same
 * work in PyTorch beside it.  Run `make fixtures` first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maas.h"

#define DIGITS_MODEL "build/fixtures/digits-cnn.maas"
#define DIGITS_IMAGES "tests/fixtures/digits-cnn/heldout.txt"
#define CHARNN_MODEL "build/fixtures/charnn-kjv.maas"

typedef struct conv_shape {
    const char *name;
    int in_c, size, out_c, kernel, stride, pad, groups;
} conv_shape;

/* Layer shapes of a 224x224 image at batch 1: the ResNet stem, the 3x3
 * convolutions of each ResNet-18 stage, ResNet-50 bottleneck 1x1s and a
 * MobileNet depthwise layer.  `size` is the layer's input height and width. */
static const conv_shape conv_shapes[] = {
    {"resnet stem 7x7/2 3->64 @224", 3, 224, 64, 7, 2, 3, 1},
    {"resnet 3x3 64->64 @56", 64, 56, 64, 3, 1, 1, 1},
    {"resnet 3x3/2 64->128 @56", 64, 56, 128, 3, 2, 1, 1},
    {"resnet 3x3 128->128 @28", 128, 28, 128, 3, 1, 1, 1},
    {"resnet 3x3 256->256 @14", 256, 14, 256, 3, 1, 1, 1},
    {"resnet 3x3 512->512 @7", 512, 7, 512, 3, 1, 1, 1},
    {"bottleneck 1x1 256->64 @56", 256, 56, 64, 1, 1, 0, 1},
    {"bottleneck 1x1 64->256 @56", 64, 56, 256, 1, 1, 0, 1},
    {"mobilenet depthwise 3x3 32 @112", 32, 112, 32, 3, 1, 1, 32},
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of `n` values (sorted in place). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_cnn_rnn: %s: %s\n", what, maas_last_error());
    exit(1);
}

static float random_uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

/* ---- conv2d ------------------------------------------------------------------ */

/* Returns the median seconds of one maas_conv2d_f32 call on shape s. */
static double time_conv(const conv_shape *s, int n_threads, int repeats)
{
    maas_conv2d_params p = {
        .batch = 1, .in_channels = s->in_c, .in_h = s->size, .in_w = s->size,
        .out_channels = s->out_c, .kernel_h = s->kernel, .kernel_w = s->kernel,
        .stride_h = s->stride, .stride_w = s->stride, .pad_h = s->pad, .pad_w = s->pad,
        .dilation_h = 1, .dilation_w = 1, .groups = s->groups,
    };
    int out_hw = maas_conv2d_out_size(s->size, s->kernel, s->stride, s->pad, 1);
    size_t n_in = (size_t)s->in_c * s->size * s->size;
    size_t n_w = (size_t)s->out_c * (s->in_c / s->groups) * s->kernel * s->kernel;
    size_t n_out = (size_t)s->out_c * out_hw * out_hw;
    float *in = malloc(n_in * sizeof *in), *w = malloc(n_w * sizeof *w);
    float *bias = malloc((size_t)s->out_c * sizeof *bias), *out = malloc(n_out * sizeof *out);
    float *scratch = malloc((maas_conv2d_scratch_floats(&p, n_threads) + 1) * sizeof *scratch);
    if (!in || !w || !bias || !out || !scratch) {
        fprintf(stderr, "bench_cnn_rnn: out of memory\n");
        exit(1);
    }
    uint64_t rng = 7;
    for (size_t i = 0; i < n_in; i++)
        in[i] = random_uniform(&rng);
    for (size_t i = 0; i < n_w; i++)
        w[i] = random_uniform(&rng);
    for (int i = 0; i < s->out_c; i++)
        bias[i] = random_uniform(&rng);

    double times[64];
    if (maas_conv2d_f32(out, in, w, bias, &p, scratch, n_threads) != MAAS_OK)
        die(s->name);
    for (int r = 0; r < repeats; r++) {
        double t0 = now_seconds();
        maas_conv2d_f32(out, in, w, bias, &p, scratch, n_threads);
        times[r] = now_seconds() - t0;
    }
    free(in);
    free(w);
    free(bias);
    free(out);
    free(scratch);
    return median(times, repeats);
}

static double conv_flops(const conv_shape *s)
{
    int out_hw = maas_conv2d_out_size(s->size, s->kernel, s->stride, s->pad, 1);
    return 2.0 * s->out_c * out_hw * out_hw * (double)(s->in_c / s->groups) * s->kernel *
           s->kernel;
}

/* ---- the digit classifier ------------------------------------------------------------ */

/* Returns images/s over the held-out images at the given batch size. */
static double digits_rate(const maas_cnn *m, const float *images, size_t n, int batch,
                          int n_threads, int repeats)
{
    maas_cnn_context *ctx;
    if (maas_cnn_context_create(m, batch, n_threads, &ctx) != MAAS_OK)
        die("cnn context");
    int *classes = malloc(n * sizeof *classes);
    double times[64];
    for (int r = 0; r <= repeats; r++) {
        double t0 = now_seconds();
        for (size_t i = 0; i + (size_t)batch <= n; i += (size_t)batch)
            if (maas_cnn_classify(ctx, images + i * 64, batch, classes + i) != MAAS_OK)
                die("cnn forward");
        if (r > 0)
            times[r - 1] = now_seconds() - t0;
    }
    free(classes);
    maas_cnn_context_free(ctx);
    size_t done = n / (size_t)batch * (size_t)batch;
    return (double)done / median(times, repeats);
}

/* ---- the character RNN ------------------------------------------------------------ */

/* Returns characters/s: a 256-character prompt per pass when `prompt`,
 * else 256 one-character steps. */
static double charnn_rate(const maas_rnn *m, bool prompt, int n_threads, int repeats)
{
    enum { N = 256 };
    maas_rnn_context *ctx;
    if (maas_rnn_context_create(m, N, n_threads, &ctx) != MAAS_OK)
        die("rnn context");
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (i * 7) % maas_rnn_vocab_size(m);
    double times[64];
    for (int r = 0; r <= repeats; r++) {
        maas_rnn_context_reset(ctx);
        double t0 = now_seconds();
        if (prompt) {
            if (maas_rnn_forward(ctx, ids, N, NULL) != MAAS_OK)
                die("rnn forward");
        } else {
            for (int i = 0; i < N; i++)
                if (maas_rnn_forward(ctx, &ids[i], 1, NULL) != MAAS_OK)
                    die("rnn forward");
        }
        if (r > 0)
            times[r - 1] = now_seconds() - t0;
    }
    maas_rnn_context_free(ctx);
    return N / median(times, repeats);
}

int main(int argc, char **argv)
{
    int n_threads = 1;
    bool json = false, conv_only = false, quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            n_threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--conv-only") == 0) {
            conv_only = true;
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else {
            fprintf(stderr, "usage: bench_cnn_rnn [--threads N] [--json] [--conv-only] "
                            "[--quick]\n");
            return 2;
        }
    }
    int repeats = quick ? 3 : 15;
    if (json)
        printf("{\"threads\": %d, \"isa\": \"%s\", \"conv2d\": [", n_threads,
               maas_isa_name(maas_kernels_isa()));
    else
        printf("libmaas %s, %s kernels, %d thread(s), median of %d runs\n\n%-34s %10s %9s\n",
               maas_version(), maas_isa_name(maas_kernels_isa()), n_threads, repeats,
               "conv2d (batch 1)", "ms", "GFLOP/s");

    /* Step 1: conv2d on each shape. */
    size_t n_shapes = sizeof conv_shapes / sizeof conv_shapes[0];
    for (size_t i = 0; i < n_shapes; i++) {
        const conv_shape *s = &conv_shapes[i];
        double t = time_conv(s, n_threads, repeats);
        double gflops = conv_flops(s) / t * 1e-9;
        if (json)
            printf("%s{\"name\": \"%s\", \"in_channels\": %d, \"size\": %d, "
                   "\"out_channels\": %d, \"kernel\": %d, \"stride\": %d, \"padding\": %d, "
                   "\"groups\": %d, \"ms\": %.4f, \"gflops\": %.2f}", i ? ", " : "", s->name,
                   s->in_c, s->size, s->out_c, s->kernel, s->stride, s->pad, s->groups, t * 1e3,
                   gflops);
        else
            printf("%-34s %10.3f %9.2f\n", s->name, t * 1e3, gflops);
        fflush(stdout);
    }
    if (conv_only) {
        if (json)
            printf("]}\n");
        return 0;
    }

    /* Step 2: the digit classifier. */
    maas_file *f;
    maas_cnn *cnn;
    if (maas_file_open(DIGITS_MODEL, &f) != MAAS_OK || maas_cnn_load(f, &cnn) != MAAS_OK)
        die(DIGITS_MODEL " (run `make fixtures`)");
    FILE *fp = fopen(DIGITS_IMAGES, "r");
    if (!fp) {
        perror(DIGITS_IMAGES);
        return 1;
    }
    float *images;
    int *labels;
    size_t n;
    if (maas_cnn_read_images(fp, DIGITS_IMAGES, 64, &images, &labels, &n) != MAAS_OK)
        die(DIGITS_IMAGES);
    fclose(fp);
    double rate1 = digits_rate(cnn, images, n, 1, n_threads, repeats);
    double rate64 = digits_rate(cnn, images, n, 64, n_threads, repeats);
    free(images);
    free(labels);
    maas_cnn_free(cnn);
    maas_file_close(f);

    /* Step 3: the character RNN. */
    maas_file *rf;
    maas_rnn *rnn;
    if (maas_file_open(CHARNN_MODEL, &rf) != MAAS_OK || maas_rnn_load(rf, &rnn) != MAAS_OK)
        die(CHARNN_MODEL " (run `make fixtures`)");
    double prompt_rate = charnn_rate(rnn, true, n_threads, repeats);
    double step_rate = charnn_rate(rnn, false, n_threads, repeats);
    maas_rnn_free(rnn);
    maas_file_close(rf);

    if (json) {
        printf("], \"digits_images_per_s\": {\"batch_1\": %.0f, \"batch_64\": %.0f}, "
               "\"charnn_chars_per_s\": {\"prompt_256\": %.0f, \"one_at_a_time\": %.0f}}\n",
               rate1, rate64, prompt_rate, step_rate);
    } else {
        printf("\n%-34s %10s\n", "digit classifier", "images/s");
        printf("%-34s %10.0f\n%-34s %10.0f\n", "batch 1", rate1, "batch 64", rate64);
        printf("\n%-34s %10s\n", "character RNN (2 x 128 tanh)", "chars/s");
        printf("%-34s %10.0f\n%-34s %10.0f\n", "256-character prompt, one pass", prompt_rate,
               "one character per step", step_rate);
    }
    return 0;
}
