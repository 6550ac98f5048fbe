/* The character-level RNN against PyTorch: the model trained by
 * tools/train_charnn.py, every layer's output within 1e-5 and 200 greedy
 * characters equal to PyTorch's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>

#include "maas.h"
#include "testutil.h"

#define MODEL_F32 "build/fixtures/charnn-kjv.maas"
#define MODEL_F16 "build/fixtures/charnn-kjv-f16.maas"
#define GOLDEN "tests/fixtures/golden/charnn-kjv/"
#define LAYER_TOL 1e-5

typedef struct charnn {
    maas_file *file;
    maas_rnn *model;
    cJSON *greedy;      /* greedy.json */
} charnn;

static charnn open_charnn(const char *path)
{
    charnn c = {0};
    if (maas_file_open(path, &c.file) != MAAS_OK)
        fail_msg("cannot open %s (run `make fixtures` first): %s", path, maas_last_error());
    if (maas_rnn_load(c.file, &c.model) != MAAS_OK)
        fail_msg("cannot load %s: %s", path, maas_last_error());
    char *text = test_read_file(GOLDEN "greedy.json", NULL);
    c.greedy = cJSON_Parse(text);
    free(text);
    assert_non_null(c.greedy);
    return c;
}

static void close_charnn(charnn *c)
{
    cJSON_Delete(c->greedy);
    maas_rnn_free(c->model);
    maas_file_close(c->file);
}

static const char *golden_str(const charnn *c, const char *key)
{
    const cJSON *item = cJSON_GetObjectItem(c->greedy, key);
    assert_true(cJSON_IsString(item));
    return item->valuestring;
}

/* Reads ids.txt: the ids of golden_text, separated by spaces. */
static int32_t *read_ids(int *n)
{
    char *text = test_read_file(GOLDEN "ids.txt", NULL);
    int count = 0, cap = 1024;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    for (char *tok = strtok(text, " \n"); tok; tok = strtok(NULL, " \n")) {
        assert_true(count < cap);
        ids[count++] = atoi(tok);
    }
    free(text);
    *n = count;
    return ids;
}

static void test_charnn_encode_matches_torch(void **state)
{
    (void)state;
    charnn c = open_charnn(MODEL_F32);
    int n_want, n;
    int32_t *want = read_ids(&n_want);
    const char *text = golden_str(&c, "golden_text");

    /* A first call with no array counts the characters. */
    assert_int_equal(maas_rnn_encode(c.model, text, NULL, 0, &n), MAAS_OK);
    assert_int_equal(n, n_want);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    assert_int_equal(maas_rnn_encode(c.model, text, ids, n, &n), MAAS_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(ids[i], want[i]);

    /* Tokens spell the text back. */
    char spelled[1024] = "";
    for (int i = 0; i < n; i++)
        strcat(spelled, maas_rnn_token(c.model, ids[i]));
    assert_string_equal(spelled, text);
    assert_null(maas_rnn_token(c.model, -1));
    assert_null(maas_rnn_token(c.model, maas_rnn_vocab_size(c.model)));
    free(ids);
    free(want);
    close_charnn(&c);
}

static void test_charnn_encode_rejects_bad_text(void **state)
{
    (void)state;
    charnn c = open_charnn(MODEL_F32);
    int32_t ids[8];
    int n;
    /* The King James text has no X, no digits and no non-ASCII letters. */
    assert_int_equal(maas_rnn_encode(c.model, "aX", ids, 8, &n), MAAS_ERR_NOT_FOUND);
    assert_non_null(strstr(maas_last_error(), "\"X\""));
    assert_non_null(strstr(maas_last_error(), "byte 1"));
    assert_int_equal(maas_rnn_encode(c.model, "caf\xc3\xa9", ids, 8, &n), MAAS_ERR_NOT_FOUND);
    assert_non_null(strstr(maas_last_error(), "U+00E9"));
    assert_int_equal(maas_rnn_encode(c.model, "a\xff", ids, 8, &n), MAAS_ERR_INVALID_UTF8);
    close_charnn(&c);
}

static void check_layers(const charnn *c, maas_rnn_context *ctx, int T, int row0,
                         const char *tag)
{
    static const char *const files[] = {"embedding.bin", "rnn_l0.bin", "rnn_l1.bin",
                                        "logits.bin"};
    const maas_rnn *m = c->model;
    const int widths[] = {maas_rnn_embedding_dim(m), maas_rnn_hidden_size(m),
                          maas_rnn_hidden_size(m), maas_rnn_vocab_size(m)};
    assert_int_equal(maas_rnn_num_layers(m), 2);
    for (int i = 0; i < 4; i++) {
        char path[256], what[96];
        size_t n;
        snprintf(path, sizeof path, GOLDEN "%s", files[i]);
        snprintf(what, sizeof what, "%s: %s", tag, files[i]);
        float *want = test_read_f32(path, &n);
        assert_true(n >= (size_t)(row0 + T) * widths[i]);
        test_assert_close(what, maas_rnn_layer_output(ctx, i), want + (size_t)row0 * widths[i],
                          (size_t)T * widths[i], LAYER_TOL, 0.0);
        print_message("%s: max abs diff %.3g\n", what,
                      test_max_abs_diff(maas_rnn_layer_output(ctx, i),
                                        want + (size_t)row0 * widths[i], (size_t)T * widths[i]));
        free(want);
    }
}

static void test_charnn_layers_match_torch(void **state)
{
    (void)state;
    charnn c = open_charnn(MODEL_F32);
    int T;
    int32_t *ids = read_ids(&T);
    maas_rnn_context *ctx;
    assert_int_equal(maas_rnn_context_create(c.model, T, 1, &ctx), MAAS_OK);
    assert_null(maas_rnn_last_logits(ctx));

    /* The whole text in one pass from a zero state, on every kernel tier. */
    maas_isa best = maas_kernels_isa();
    for (int isa = 0; isa <= (int)best; isa++) {
        assert_int_equal(maas_kernels_set_isa((maas_isa)isa), MAAS_OK);
        maas_rnn_context_reset(ctx);
        assert_int_equal(maas_rnn_forward(ctx, ids, T, NULL), MAAS_OK);
        check_layers(&c, ctx, T, 0, maas_isa_name((maas_isa)isa));
    }
    assert_int_equal(maas_kernels_set_isa(best), MAAS_OK);

    /* The same text in two pieces, the second continuing from the state
     * the first left: the second piece's rows must match. */
    int half = T / 2;
    maas_rnn_context_reset(ctx);
    assert_int_equal(maas_rnn_forward(ctx, ids, half, NULL), MAAS_OK);
    check_layers(&c, ctx, half, 0, "first piece");
    assert_int_equal(maas_rnn_forward(ctx, ids + half, T - half, NULL), MAAS_OK);
    check_layers(&c, ctx, T - half, half, "second piece");

    /* The saved state of the top layer is its last output. */
    size_t n;
    float *top = test_read_f32(GOLDEN "rnn_l1.bin", &n);
    int H = maas_rnn_hidden_size(c.model);
    test_assert_close("final hidden state", maas_rnn_hidden(ctx, 1), top + (size_t)(T - 1) * H,
                      (size_t)H, LAYER_TOL, 0.0);
    assert_null(maas_rnn_hidden(ctx, 2));
    free(top);
    free(ids);
    maas_rnn_context_free(ctx);
    close_charnn(&c);
}

/* Greedy decoding as tools/train_charnn.py does it: the prefix in one
 * pass, then one character at a time. */
static void greedy_decode(const charnn *c, int n_threads, char *out, size_t out_size)
{
    const char *prefix = golden_str(c, "prefix");
    int n;
    int32_t ids[256];
    assert_int_equal(maas_rnn_encode(c->model, prefix, ids, 256, &n), MAAS_OK);
    maas_rnn_context *ctx;
    assert_int_equal(maas_rnn_context_create(c->model, n, n_threads, &ctx), MAAS_OK);
    assert_int_equal(maas_rnn_forward(ctx, ids, n, NULL), MAAS_OK);
    int steps = cJSON_GetObjectItem(c->greedy, "n")->valueint;
    out[0] = '\0';
    for (int i = 0; i < steps; i++) {
        int32_t next = maas_argmax_f32(maas_rnn_last_logits(ctx), maas_rnn_vocab_size(c->model));
        assert_true(strlen(out) + 4 < out_size);
        strcat(out, maas_rnn_token(c->model, next));
        assert_int_equal(maas_rnn_forward(ctx, &next, 1, NULL), MAAS_OK);
    }
    maas_rnn_context_free(ctx);
}

static void test_charnn_greedy_matches_torch(void **state)
{
    (void)state;
    charnn c = open_charnn(MODEL_F32);
    char got[1024];
    for (int threads = 1; threads <= 2; threads++) {
        greedy_decode(&c, threads, got, sizeof got);
        assert_int_equal(strlen(got), 200);
        assert_string_equal(got, golden_str(&c, "text"));
    }
    close_charnn(&c);
}

/* The example program prints the prefix and PyTorch's greedy text. */
static void test_maas_charnn_program_output(void **state)
{
    (void)state;
    charnn c = open_charnn(MODEL_F32);
    char command[512], want[1024], got[1024] = "";
    snprintf(command, sizeof command, "build/bin/maas-charnn -m " MODEL_F32 " -p '%s' -n %d "
             "2>/dev/null", golden_str(&c, "prefix"),
             cJSON_GetObjectItem(c.greedy, "n")->valueint);
    snprintf(want, sizeof want, "%s%s\n", golden_str(&c, "prefix"), golden_str(&c, "text"));
    FILE *out = popen(command, "r");
    assert_non_null(out);
    size_t n = fread(got, 1, sizeof got - 1, out);
    got[n] = '\0';
    assert_int_equal(pclose(out), 0);
    assert_string_equal(got, want);
    close_charnn(&c);
}

/* Bad option values exit with status 2 and a message naming the option
 * and the value, before any generation starts. */
static void test_maas_charnn_program_errors(void **state)
{
    (void)state;
    const struct {
        const char *args, *option, *value;
    } cases[] = {
        {"-n 20x", "-n", "'20x'"},
        {"-n -1", "-n", "'-1'"},
        {"-n 99999999999999999999999", "-n", "'99999999999999999999999'"},
        {"--temp abc", "--temp", "'abc'"},
        {"--temp -1", "--temp", "'-1'"},
        {"--temp nan", "--temp", "'nan'"},
        {"--seed 5x", "--seed", "'5x'"},
        {"--seed -2", "--seed", "'-2'"},
        {"-t abc", "-t", "'abc'"},
        {"-t -3", "-t", "'-3'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char command[512], out[4096];
        snprintf(command, sizeof command, "timeout 20 build/bin/maas-charnn -m " MODEL_F32
                 " -p 'And God' %s 2>&1", cases[i].args);
        FILE *fp = popen(command, "r");
        assert_non_null(fp);
        size_t n = fread(out, 1, sizeof out - 1, fp);
        out[n] = '\0';
        int status = pclose(fp);
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (code != 2)
            fail_msg("%s: exit status %d, expected 2; output: %.200s", command, code, out);
        if (!strstr(out, cases[i].option) || !strstr(out, cases[i].value))
            fail_msg("%s: output \"%.200s\" does not name %s and %s", command, out,
                     cases[i].option, cases[i].value);
    }
}

/* f16 weights change the logits by rounding only. */
static void test_charnn_f16_close_to_torch(void **state)
{
    (void)state;
    charnn c = open_charnn(MODEL_F16);
    int T;
    int32_t *ids = read_ids(&T);
    maas_rnn_context *ctx;
    assert_int_equal(maas_rnn_context_create(c.model, T, 1, &ctx), MAAS_OK);
    assert_int_equal(maas_rnn_forward(ctx, ids, T, NULL), MAAS_OK);
    size_t n;
    float *want = test_read_f32(GOLDEN "logits.bin", &n);
    test_assert_close("f16 logits", maas_rnn_layer_output(ctx, 3), want, n, 5e-2, 2e-2);
    free(want);
    free(ids);
    maas_rnn_context_free(ctx);
    close_charnn(&c);
}

static void test_charnn_forward_rejects_bad_input(void **state)
{
    (void)state;
    charnn c = open_charnn(MODEL_F32);
    maas_rnn_context *ctx = NULL;
    assert_int_equal(maas_rnn_context_create(c.model, 0, 1, &ctx), MAAS_ERR_INVALID_ARGUMENT);
    assert_null(ctx);
    assert_int_equal(maas_rnn_context_create(c.model, 4, 1, &ctx), MAAS_OK);
    int32_t ids[5] = {1, 2, 3, 4, 5};
    assert_int_equal(maas_rnn_forward(ctx, ids, 5, NULL), MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "max_tokens"));

    /* An id past the vocabulary is rejected and leaves the state alone. */
    int32_t bad[2] = {0, maas_rnn_vocab_size(c.model)};
    assert_int_equal(maas_rnn_forward(ctx, bad, 2, NULL), MAAS_ERR_INVALID_ARGUMENT);
    const float *h = maas_rnn_hidden(ctx, 0);
    for (int i = 0; i < maas_rnn_hidden_size(c.model); i++)
        assert_true(h[i] == 0.0f);
    maas_rnn_context_free(ctx);
    maas_rnn_context_free(NULL);
    maas_rnn_free(NULL);
    close_charnn(&c);
}

static void test_rnn_load_rejects_other_arch(void **state)
{
    (void)state;
    maas_file *f;
    maas_rnn *m = NULL;
    if (maas_file_open("build/fixtures/digits-cnn.maas", &f) != MAAS_OK)
        fail_msg("cannot open build/fixtures/digits-cnn.maas: %s", maas_last_error());
    assert_int_equal(maas_rnn_load(f, &m), MAAS_ERR_UNSUPPORTED);
    assert_non_null(strstr(maas_last_error(), "\"cnn\""));
    assert_null(m);
    maas_file_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charnn_encode_matches_torch),
        cmocka_unit_test(test_charnn_encode_rejects_bad_text),
        cmocka_unit_test(test_charnn_layers_match_torch),
        cmocka_unit_test(test_charnn_greedy_matches_torch),
        cmocka_unit_test(test_maas_charnn_program_output),
        cmocka_unit_test(test_maas_charnn_program_errors),
        cmocka_unit_test(test_charnn_f16_close_to_torch),
        cmocka_unit_test(test_charnn_forward_rejects_bad_input),
        cmocka_unit_test(test_rnn_load_rejects_other_arch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
