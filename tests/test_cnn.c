/* The CNN assembler against PyTorch: the digit classifier trained by
 * tools/train_digits.py (per-layer outputs within 1e-5, every held-out
 * prediction equal), and maas_conv2d_f32 on the trained model's shapes and
 * on common CNN shapes against a naive convolution in double precision. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "maas.h"
#include "testutil.h"

#define MODEL_F32 "build/fixtures/digits-cnn.maas"
#define MODEL_F16 "build/fixtures/digits-cnn-f16.maas"
#define HELDOUT "tests/fixtures/digits-cnn/heldout.txt"
#define GOLDEN "tests/fixtures/golden/digits-cnn/"
#define LAYER_TOL 1e-5

typedef struct digits {
    maas_file *file;
    maas_cnn *model;
    float *images;   /* [n, 64], pixels 0..16 */
    int *labels;     /* [n] */
    size_t n;
} digits;

static digits open_digits(const char *path)
{
    digits d = {0};
    if (maas_file_open(path, &d.file) != MAAS_OK)
        fail_msg("cannot open %s (run `make fixtures` first): %s", path, maas_last_error());
    if (maas_cnn_load(d.file, &d.model) != MAAS_OK)
        fail_msg("cannot load %s: %s", path, maas_last_error());
    FILE *fp = fopen(HELDOUT, "r");
    assert_non_null(fp);
    assert_int_equal(maas_cnn_read_images(fp, HELDOUT, 64, &d.images, &d.labels, &d.n), MAAS_OK);
    fclose(fp);
    return d;
}

static void close_digits(digits *d)
{
    free(d->images);
    free(d->labels);
    maas_cnn_free(d->model);
    maas_file_close(d->file);
}

/* Reads predictions.txt: one class a line. */
static int *read_predictions(size_t *n)
{
    char *text = test_read_file(GOLDEN "predictions.txt", NULL);
    size_t count = 0, cap = 512;
    int *pred = malloc(cap * sizeof *pred);
    for (char *tok = strtok(text, "\n"); tok; tok = strtok(NULL, "\n")) {
        assert_true(count < cap);
        pred[count++] = atoi(tok);
    }
    free(text);
    *n = count;
    return pred;
}

static cJSON *read_summary(void)
{
    char *text = test_read_file(GOLDEN "summary.json", NULL);
    cJSON *json = cJSON_Parse(text);
    free(text);
    assert_non_null(json);
    return json;
}

/* ---- the trained model ------------------------------------------------------ */

static void test_digits_model_shape(void **state)
{
    (void)state;
    digits d = open_digits(MODEL_F32);
    int c, h, w;
    maas_cnn_input_shape(d.model, &c, &h, &w);
    assert_int_equal(c, 1);
    assert_int_equal(h, 8);
    assert_int_equal(w, 8);
    assert_true(maas_cnn_input_scale(d.model) == 1.0f / 16.0f);
    assert_int_equal(maas_cnn_n_classes(d.model), 10);
    assert_string_equal(maas_cnn_label(d.model, 7), "7");
    assert_null(maas_cnn_label(d.model, 10));

    /* Layer shapes as PyTorch printed them. */
    cJSON *summary = read_summary();
    const cJSON *shapes = cJSON_GetObjectItem(summary, "layer_shapes");
    assert_int_equal(maas_cnn_n_layers(d.model), cJSON_GetArraySize(shapes));
    for (int i = 0; i < maas_cnn_n_layers(d.model); i++) {
        const cJSON *want = cJSON_GetArrayItem(shapes, i);
        int shape[3], n_dims;
        maas_cnn_layer_shape(d.model, i, shape, &n_dims);
        assert_int_equal(n_dims, cJSON_GetArraySize(want));
        for (int k = 0; k < n_dims; k++)
            assert_int_equal(shape[k], cJSON_GetArrayItem(want, k)->valueint);
    }
    assert_int_equal(maas_cnn_layer_kind_at(d.model, 0), MAAS_CNN_CONV2D);
    assert_int_equal(maas_cnn_layer_kind_at(d.model, 2), MAAS_CNN_MAXPOOL2D);
    assert_int_equal(maas_cnn_layer_kind_at(d.model, 6), MAAS_CNN_FLATTEN);
    assert_int_equal(maas_cnn_layer_kind_at(d.model, 9), MAAS_CNN_LINEAR);
    assert_int_equal(maas_cnn_layer_kind_at(d.model, 10), MAAS_CNN_LAYER_KIND_COUNT);
    cJSON_Delete(summary);
    close_digits(&d);
}

static void test_digits_layers_match_torch(void **state)
{
    (void)state;
    digits d = open_digits(MODEL_F32);
    cJSON *summary = read_summary();
    int n_img = cJSON_GetObjectItem(summary, "golden_images")->valueint;
    cJSON_Delete(summary);

    /* The held-out file scaled by 1/16 is what PyTorch saw. */
    size_t n;
    float *input = test_read_f32(GOLDEN "input.bin", &n);
    assert_int_equal(n, (size_t)n_img * 64);
    for (size_t j = 0; j < n; j++)
        assert_true(d.images[j] / 16.0f == input[j]);
    free(input);

    /* Every kernel tier the CPU has. */
    maas_cnn_context *ctx;
    assert_int_equal(maas_cnn_context_create(d.model, n_img, 2, &ctx), MAAS_OK);
    maas_isa best = maas_kernels_isa();
    for (int isa = 0; isa <= (int)best; isa++) {
        assert_int_equal(maas_kernels_set_isa((maas_isa)isa), MAAS_OK);
        assert_int_equal(maas_cnn_forward(ctx, d.images, n_img, NULL), MAAS_OK);
        for (int i = 0; i < maas_cnn_n_layers(d.model); i++) {
            char path[256], what[64];
            snprintf(path, sizeof path, GOLDEN "layer_%02d.bin", i);
            snprintf(what, sizeof what, "%s: layer %d (%s)", maas_isa_name((maas_isa)isa), i,
                     maas_cnn_layer_kind_name(maas_cnn_layer_kind_at(d.model, i)));
            float *want = test_read_f32(path, &n);
            assert_int_equal(n, (size_t)n_img * maas_cnn_layer_shape(d.model, i, NULL, NULL));
            test_assert_close(what, maas_cnn_layer_output(ctx, i), want, n, LAYER_TOL, 0.0);
            print_message("%s: max abs diff %.3g\n", what,
                          test_max_abs_diff(maas_cnn_layer_output(ctx, i), want, n));
            free(want);
        }
    }
    assert_int_equal(maas_kernels_set_isa(best), MAAS_OK);
    maas_cnn_context_free(ctx);
    close_digits(&d);
}

/* Classifies every held-out image in batches of `batch`. */
static int *classify_all(const digits *d, int batch, int n_threads)
{
    maas_cnn_context *ctx;
    assert_int_equal(maas_cnn_context_create(d->model, batch, n_threads, &ctx), MAAS_OK);
    int *classes = malloc(d->n * sizeof *classes);
    for (size_t i = 0; i < d->n; i += (size_t)batch) {
        int b = (int)(d->n - i < (size_t)batch ? d->n - i : (size_t)batch);
        assert_int_equal(maas_cnn_classify(ctx, d->images + i * 64, b, classes + i), MAAS_OK);
    }
    maas_cnn_context_free(ctx);
    return classes;
}

static void test_digits_predictions_match_torch(void **state)
{
    (void)state;
    digits d = open_digits(MODEL_F32);
    size_t n_pred;
    int *want = read_predictions(&n_pred);
    assert_int_equal(n_pred, d.n);
    cJSON *summary = read_summary();
    int want_correct = cJSON_GetObjectItem(summary, "correct")->valueint;
    assert_int_equal(cJSON_GetObjectItem(summary, "images")->valueint, (int)d.n);
    cJSON_Delete(summary);

    /* Batch 1, an odd batch and 64, one and two threads: same classes. */
    const int batches[][2] = {{1, 1}, {7, 1}, {64, 2}};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        int *got = classify_all(&d, batches[b][0], batches[b][1]);
        int correct = 0;
        for (size_t i = 0; i < d.n; i++) {
            if (got[i] != want[i])
                fail_msg("batch %d: image %zu classified %d, PyTorch says %d", batches[b][0], i,
                         got[i], want[i]);
            correct += got[i] == d.labels[i];
        }
        assert_int_equal(correct, want_correct);
        free(got);
    }
    free(want);
    close_digits(&d);
}

/* The example program prints PyTorch's class for every held-out image. */
static void test_maas_digits_program_output(void **state)
{
    (void)state;
    size_t n_want;
    int *want = read_predictions(&n_want);
    FILE *out = popen("build/bin/maas-digits -m " MODEL_F32 " -t 1 -b 50 " HELDOUT
                      " 2>/dev/null", "r");
    assert_non_null(out);
    char line[64];
    size_t n = 0;
    while (fgets(line, sizeof line, out)) {
        assert_true(n < n_want);
        if (atoi(line) != want[n])
            fail_msg("maas-digits line %zu is %s, PyTorch says %d", n + 1, line, want[n]);
        n++;
    }
    assert_int_equal(pclose(out), 0);
    assert_int_equal(n, n_want);
    free(want);
}

/* Runs `command` with stderr merged into stdout under a 20 s timeout and
 * returns the output (malloc'ed) and the exit status. */
static char *run_program(const char *command, int *exit_status)
{
    char full[1024];
    snprintf(full, sizeof full, "timeout 20 %s 2>&1", command);
    FILE *out = popen(full, "r");
    assert_non_null(out);
    size_t cap = 1 << 16;
    char *text = malloc(cap);
    size_t n = fread(text, 1, cap - 1, out);
    text[n] = '\0';
    int status = pclose(out);
    *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return text;
}

/* Writes `text` to a new file in /tmp and returns its path in `path`. */
static void write_temp_file(char *path, size_t size, const char *name, const char *text)
{
    snprintf(path, size, "/tmp/maas-test-cnn-%ld-%s", (long)getpid(), name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Bad options and bad input files give exit status 2 (usage) or 1 and a
 * message naming the option or file and the value; --help exits 0. */
static void test_maas_digits_program_errors(void **state)
{
    (void)state;
    char empty[256], comments[256], label[256], line[4096];
    write_temp_file(empty, sizeof empty, "empty.txt", "");
    write_temp_file(comments, sizeof comments, "comments.txt", "# no images\n\n");

    /* Line 3 contains the label 42, which a 10-class model does not have. */
    FILE *fp = fopen(HELDOUT, "r");
    assert_non_null(fp);
    do
        assert_non_null(fgets(line, sizeof line, fp));
    while (line[0] == '#');
    fclose(fp);
    char *values = strchr(line, ' ');
    assert_non_null(values);
    char text[8192];
    snprintf(text, sizeof text, "# labelled digits\n? %s42 %s", values + 1, values + 1);
    write_temp_file(label, sizeof label, "label.txt", text);

    char missing[256];
    snprintf(missing, sizeof missing, "/tmp/maas-test-cnn-%ld-missing.txt", (long)getpid());
    const struct {
        const char *args;
        int status;
        const char *mention[2];
    } cases[] = {
        {"-t abc", 2, {"-t", "'abc'"}},
        {"-t -3", 2, {"-t", "'-3'"}},
        {"-t 1x", 2, {"-t", "'1x'"}},
        {"-b 0", 2, {"-b", "'0'"}},
        {"-b 20x", 2, {"-b", "'20x'"}},
        {"-b 100000000", 2, {"-b", "'100000000'"}},
        {"-t 1", 1, {"no images in", empty}},
        {"-t 1", 1, {"no images in", comments}},
        {"-t 1", 1, {"label 42", ":3:"}},
        {"-t 1", 1, {"maas-digits", missing}},
    };
    const char *files[] = {HELDOUT, HELDOUT, HELDOUT, HELDOUT, HELDOUT, HELDOUT,
                           empty, comments, label, missing};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char command[1024];
        snprintf(command, sizeof command, "build/bin/maas-digits -m " MODEL_F32 " %s %s",
                 cases[i].args, files[i]);
        int status;
        char *out = run_program(command, &status);
        if (status != cases[i].status)
            fail_msg("%s: exit status %d, expected %d; output: %s", command, status,
                     cases[i].status, out);
        for (int k = 0; k < 2; k++)
            if (!strstr(out, cases[i].mention[k]))
                fail_msg("%s: output \"%s\" does not mention \"%s\"", command, out,
                         cases[i].mention[k]);
        free(out);
    }

    int status;
    char *out = run_program("build/bin/maas-digits --help", &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "usage: maas-digits"));
    free(out);
    remove(empty);
    remove(comments);
    remove(label);
}

/* f16 linear weights change the logits by rounding only. */
static void test_digits_f16_close_to_torch(void **state)
{
    (void)state;
    digits d = open_digits(MODEL_F16);
    maas_cnn_context *ctx;
    float logits[4 * 10];
    assert_int_equal(maas_cnn_context_create(d.model, 4, 1, &ctx), MAAS_OK);
    assert_int_equal(maas_cnn_forward(ctx, d.images, 4, logits), MAAS_OK);
    size_t n;
    float *want = test_read_f32(GOLDEN "layer_09.bin", &n);
    assert_int_equal(n, 40);
    test_assert_close("f16 logits", logits, want, n, 2e-2, 1e-2);
    free(want);
    maas_cnn_context_free(ctx);
    close_digits(&d);
}

static void test_digits_context_limits(void **state)
{
    (void)state;
    digits d = open_digits(MODEL_F32);
    maas_cnn_context *ctx = NULL;
    assert_int_equal(maas_cnn_context_create(d.model, 0, 1, &ctx), MAAS_ERR_INVALID_ARGUMENT);
    assert_null(ctx);
    assert_int_equal(maas_cnn_context_create(d.model, 2, 1, &ctx), MAAS_OK);
    assert_int_equal(maas_cnn_forward(ctx, d.images, 3, NULL), MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "max_batch"));
    assert_int_equal(maas_cnn_forward(ctx, d.images, 0, NULL), MAAS_ERR_INVALID_ARGUMENT);
    assert_null(maas_cnn_layer_output(ctx, -1));
    assert_null(maas_cnn_layer_output(ctx, maas_cnn_n_layers(d.model)));
    maas_cnn_context_free(ctx);
    maas_cnn_context_free(NULL);
    maas_cnn_free(NULL);
    close_digits(&d);
}

/* ---- malformed models and image files -------------------------------------------- */

/* Writes a one-conv model with one key or tensor changed, and loads it. */
static maas_status load_variant(const char *variant)
{
    static float weight[2 * 1 * 3 * 3], bias[2], lin_w[3 * 8], lin_b[3];
    const char *path = "build/tests/test_cnn_variant.maas";
    maas_writer *w;
    assert_int_equal(maas_writer_create("cnn", &w), MAAS_OK);
    int32_t in_shape[3] = {1, 4, 4}, k3[2] = {3, 3}, one[2] = {1, 1}, pad[2] = {1, 1};
    maas_writer_set_i32_array(w, "input_shape", in_shape, 3);
    maas_writer_set_f32(w, "input_scale", 1.0f);
    bool no_flatten = strcmp(variant, "no-flatten") == 0;
    maas_writer_set_u32(w, "num_layers", no_flatten ? 3 : 4);
    maas_writer_set_str(w, "layers.0.type", strcmp(variant, "bad-type") == 0 ? "conv3d" : "conv2d");
    maas_writer_set_str(w, "layers.0.name", "0");
    maas_writer_set_u32(w, "layers.0.in_channels", 1);
    maas_writer_set_u32(w, "layers.0.out_channels", 2);
    if (strcmp(variant, "no-groups") != 0)
        maas_writer_set_u32(w, "layers.0.groups", 1);
    maas_writer_set_i32_array(w, "layers.0.kernel_size", k3, 2);
    maas_writer_set_i32_array(w, "layers.0.stride", one, 2);
    maas_writer_set_i32_array(w, "layers.0.padding", pad, 2);
    maas_writer_set_i32_array(w, "layers.0.dilation", one, 2);
    maas_writer_set_bool(w, "layers.0.bias", true);
    maas_writer_set_str(w, "layers.1.type", "maxpool2d");
    maas_writer_set_str(w, "layers.1.name", "1");
    maas_writer_set_u32(w, "layers.1.kernel_size", 2);
    maas_writer_set_u32(w, "layers.1.stride", 2);
    maas_writer_set_u32(w, "layers.1.padding", 0);
    int lin = 2;
    if (!no_flatten) {
        maas_writer_set_str(w, "layers.2.type", "flatten");
        maas_writer_set_str(w, "layers.2.name", "2");
        lin = 3;
    }
    char key[64];
    snprintf(key, sizeof key, "layers.%d.type", lin);
    maas_writer_set_str(w, key, "linear");
    snprintf(key, sizeof key, "layers.%d.name", lin);
    maas_writer_set_str(w, key, "3");
    snprintf(key, sizeof key, "layers.%d.in_features", lin);
    maas_writer_set_u32(w, key, 8);
    snprintf(key, sizeof key, "layers.%d.out_features", lin);
    maas_writer_set_u32(w, key, 3);
    snprintf(key, sizeof key, "layers.%d.bias", lin);
    maas_writer_set_bool(w, key, true);

    maas_tensor t;
    int64_t ws[4] = {2, 1, 3, strcmp(variant, "bad-shape") == 0 ? 2 : 3};
    maas_tensor_init(&t, MAAS_DTYPE_F32, 4, ws, weight);
    maas_writer_add_tensor(w, "0.weight", &t);
    int64_t bs[1] = {2};
    maas_tensor_init(&t, MAAS_DTYPE_F32, 1, bs, bias);
    maas_writer_add_tensor(w, "0.bias", &t);
    int64_t ls[2] = {3, 8};
    maas_tensor_init(&t, MAAS_DTYPE_F32, 2, ls, lin_w);
    maas_writer_add_tensor(w, "3.weight", &t);
    if (strcmp(variant, "no-bias-tensor") != 0) {
        int64_t lbs[1] = {3};
        maas_tensor_init(&t, MAAS_DTYPE_F32, 1, lbs, lin_b);
        maas_writer_add_tensor(w, "3.bias", &t);
    }
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);

    maas_file *f;
    maas_cnn *m = NULL;
    assert_int_equal(maas_file_open(path, &f), MAAS_OK);
    maas_status st = maas_cnn_load(f, &m);
    if (st == MAAS_OK) {
        assert_int_equal(maas_cnn_n_classes(m), 3);
        assert_int_equal(maas_cnn_layer_shape(m, 1, NULL, NULL), 8);
    }
    maas_cnn_free(m);
    maas_file_close(f);
    remove(path);
    return st;
}

static void test_cnn_load_rejects_bad_models(void **state)
{
    (void)state;
    assert_int_equal(load_variant("valid"), MAAS_OK);
    assert_int_equal(load_variant("no-groups"), MAAS_ERR_BAD_FORMAT);
    assert_non_null(strstr(maas_last_error(), "layers.0.groups"));
    assert_int_equal(load_variant("bad-type"), MAAS_ERR_UNSUPPORTED);
    assert_non_null(strstr(maas_last_error(), "conv3d"));
    assert_int_equal(load_variant("no-flatten"), MAAS_ERR_SHAPE_MISMATCH);
    assert_non_null(strstr(maas_last_error(), "flatten"));
    assert_int_equal(load_variant("bad-shape"), MAAS_ERR_SHAPE_MISMATCH);
    assert_non_null(strstr(maas_last_error(), "0.weight"));
    assert_int_equal(load_variant("no-bias-tensor"), MAAS_ERR_MISSING_TENSOR);
    assert_non_null(strstr(maas_last_error(), "3.bias"));
}

static void test_read_images_rejects_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        maas_status status;
        const char *message;
    } cases[] = {
        {"# comment\n\n3 1 2 3 4\n? 0 0 0 0.5\n", MAAS_OK, NULL},
        {"3 1 2 3\n", MAAS_ERR_BAD_FORMAT, "<t>:1: 3 values"},
        {"3 1 2 3 4 5\n", MAAS_ERR_BAD_FORMAT, "<t>:1: more than 4"},
        {"1 1 1 1 1\nx 1 2 3 4\n", MAAS_ERR_BAD_FORMAT, "<t>:2: label \"x\""},
        {"1 1 1 one 1\n", MAAS_ERR_BAD_FORMAT, "value 3 (\"one\")"},
        {"1 1 1 nan 1\n", MAAS_ERR_BAD_FORMAT, "not a finite"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *fp = fmemopen((void *)cases[i].text, strlen(cases[i].text), "r");
        float *images = NULL;
        int *labels = NULL;
        size_t n = 0;
        maas_status st = maas_cnn_read_images(fp, "<t>", 4, &images, &labels, &n);
        fclose(fp);
        assert_int_equal(st, cases[i].status);
        if (st != MAAS_OK) {
            assert_non_null(strstr(maas_last_error(), cases[i].message));
            continue;
        }
        assert_int_equal(n, 2);
        assert_int_equal(labels[0], 3);
        assert_int_equal(labels[1], -1);
        assert_true(images[3] == 4.0f && images[7] == 0.5f);
        free(images);
        free(labels);
    }
}

/* ---- conv2d against a naive convolution ------------------------------------------- */

/* Seven loops in double precision, PyTorch's definition. */
static void naive_conv2d(float *out, const float *in, const float *weight, const float *bias,
                         const maas_conv2d_params *p)
{
    int oh = maas_conv2d_out_size(p->in_h, p->kernel_h, p->stride_h, p->pad_h, p->dilation_h);
    int ow = maas_conv2d_out_size(p->in_w, p->kernel_w, p->stride_w, p->pad_w, p->dilation_w);
    int cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    for (int b = 0; b < p->batch; b++)
        for (int co = 0; co < p->out_channels; co++) {
            int g = co / cout_g;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int ci = 0; ci < cin_g; ci++)
                        for (int ky = 0; ky < p->kernel_h; ky++)
                            for (int kx = 0; kx < p->kernel_w; kx++) {
                                int iy = y * p->stride_h - p->pad_h + ky * p->dilation_h;
                                int ix = x * p->stride_w - p->pad_w + kx * p->dilation_w;
                                if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w)
                                    continue;
                                size_t ii = (((size_t)b * p->in_channels + g * cin_g + ci) *
                                             p->in_h + iy) * p->in_w + ix;
                                size_t wi = (((size_t)co * cin_g + ci) * p->kernel_h + ky) *
                                            p->kernel_w + kx;
                                acc += (double)in[ii] * weight[wi];
                            }
                    out[(((size_t)b * p->out_channels + co) * oh + y) * ow + x] = (float)acc;
                }
        }
}

static uint64_t rng_state = 12345;

static float random_uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static void check_conv2d(const char *what, maas_conv2d_params p, bool with_bias)
{
    int oh = maas_conv2d_out_size(p.in_h, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h);
    int ow = maas_conv2d_out_size(p.in_w, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w);
    assert_true(oh > 0 && ow > 0);
    size_t n_in = (size_t)p.batch * p.in_channels * p.in_h * p.in_w;
    size_t n_w = (size_t)p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
    size_t n_out = (size_t)p.batch * p.out_channels * oh * ow;
    float *in = malloc(n_in * sizeof *in), *w = malloc(n_w * sizeof *w);
    float *bias = malloc((size_t)p.out_channels * sizeof *bias);
    float *got = malloc(n_out * sizeof *got), *want = malloc(n_out * sizeof *want);
    for (size_t i = 0; i < n_in; i++)
        in[i] = random_uniform();
    for (size_t i = 0; i < n_w; i++)
        w[i] = random_uniform();
    for (int i = 0; i < p.out_channels; i++)
        bias[i] = random_uniform();

    naive_conv2d(want, in, w, with_bias ? bias : NULL, &p);

    /* Every kernel tier the CPU has, with one and two threads. */
    maas_isa best = maas_kernels_isa();
    for (int isa = 0; isa <= (int)best; isa++) {
        assert_int_equal(maas_kernels_set_isa((maas_isa)isa), MAAS_OK);
        for (int threads = 1; threads <= 2; threads++) {
            char label[160];
            snprintf(label, sizeof label, "%s (%s, %d thread%s)", what,
                     maas_isa_name((maas_isa)isa), threads, threads > 1 ? "s" : "");
            size_t scratch_floats = maas_conv2d_scratch_floats(&p, threads);
            float *scratch = malloc((scratch_floats + 1) * sizeof *scratch);
            memset(got, 0xff, n_out * sizeof *got);
            assert_int_equal(maas_conv2d_f32(got, in, w, with_bias ? bias : NULL, &p, scratch,
                                             threads), MAAS_OK);
            /* Sums of up to 7*7*3 or 3*3*64 products of values in [-1, 1]. */
            test_assert_close(label, got, want, n_out, 1e-4, 1e-4);
            free(scratch);
        }
    }
    assert_int_equal(maas_kernels_set_isa(best), MAAS_OK);
    free(in);
    free(w);
    free(bias);
    free(got);
    free(want);
}

#define CONV(b, ci, h, wd, co, k, s, pd, d, g)                                            \
    ((maas_conv2d_params){.batch = b, .in_channels = ci, .in_h = h, .in_w = wd,             \
                          .out_channels = co, .kernel_h = k, .kernel_w = k, .stride_h = s, \
                          .stride_w = s, .pad_h = pd, .pad_w = pd, .dilation_h = d,        \
                          .dilation_w = d, .groups = g})

static void test_conv2d_digit_model_shapes(void **state)
{
    (void)state;
    check_conv2d("digits conv 0: 1->16 3x3 pad 1 on 8x8", CONV(4, 1, 8, 8, 16, 3, 1, 1, 1, 1), true);
    check_conv2d("digits conv 3: 16->32 3x3 pad 1 on 4x4", CONV(4, 16, 4, 4, 32, 3, 1, 1, 1, 1), true);
}

static void test_conv2d_common_cnn_shapes(void **state)
{
    (void)state;
    check_conv2d("3x3 stride 1 pad 1, 64->64 on 14x14", CONV(1, 64, 14, 14, 64, 3, 1, 1, 1, 1), false);
    check_conv2d("3x3 stride 2 pad 1, 32->64 on 15x15", CONV(2, 32, 15, 15, 64, 3, 2, 1, 1, 1), true);
    check_conv2d("1x1, 64->128 on 7x7", CONV(2, 64, 7, 7, 128, 1, 1, 0, 1, 1), true);
    check_conv2d("1x1 stride 2, 64->32 on 9x9", CONV(1, 64, 9, 9, 32, 1, 2, 0, 1, 1), false);
    check_conv2d("7x7 stride 2 pad 3, 3->64 on 32x32", CONV(1, 3, 32, 32, 64, 7, 2, 3, 1, 1), true);
    check_conv2d("depthwise 3x3, 32 groups on 10x10", CONV(2, 32, 10, 10, 32, 3, 1, 1, 1, 32), true);
    check_conv2d("depthwise 3x3 stride 2, x2 multiplier", CONV(1, 16, 11, 11, 32, 3, 2, 1, 1, 16), true);
    check_conv2d("grouped 3x3, 4 groups", CONV(1, 16, 6, 6, 8, 3, 1, 1, 1, 4), true);
    check_conv2d("3x3 dilation 2 pad 2", CONV(1, 8, 9, 9, 8, 3, 1, 2, 2, 1), true);
    check_conv2d("non-square 2x5 kernel",
                 ((maas_conv2d_params){.batch = 1, .in_channels = 3, .in_h = 6, .in_w = 11,
                                       .out_channels = 5, .kernel_h = 2, .kernel_w = 5,
                                       .stride_h = 1, .stride_w = 2, .pad_h = 0, .pad_w = 1,
                                       .dilation_h = 1, .dilation_w = 1, .groups = 1}), true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digits_model_shape),
        cmocka_unit_test(test_digits_layers_match_torch),
        cmocka_unit_test(test_digits_predictions_match_torch),
        cmocka_unit_test(test_maas_digits_program_output),
        cmocka_unit_test(test_maas_digits_program_errors),
        cmocka_unit_test(test_digits_f16_close_to_torch),
        cmocka_unit_test(test_digits_context_limits),
        cmocka_unit_test(test_cnn_load_rejects_bad_models),
        cmocka_unit_test(test_read_images_rejects_bad_lines),
        cmocka_unit_test(test_conv2d_digit_model_shapes),
        cmocka_unit_test(test_conv2d_common_cnn_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
