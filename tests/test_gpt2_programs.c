/* The command line of maas-generate, run as a child process: output paths
 * that would overwrite an input and the --logits-out file.
 *
 * Needs build/bin/ and build/fixtures/gpt2-tiny.maas (`make all fixtures`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "maas.h"
#include "testutil.h"

#define GENERATE "build/bin/maas-generate"
#define MODEL "build/fixtures/gpt2-tiny.maas"

/* A scratch folder under build/tests, made once for the whole program. */
static char scratch[] = "build/tests/gpt2-programs-XXXXXX";

/* What a program run printed and how it ended. */
typedef struct run_result {
    char *out;      /* stdout, NUL-terminated */
    char *err;      /* stderr, NUL-terminated */
    int exit_code;  /* the exit status, or 128 + the signal that killed it */
} run_result;

/* Runs a shell command with its stdout and stderr captured. */
static run_result run(const char *fmt, ...)
{
    char cmd[2048], err_path[256];
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", scratch);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd - sizeof err_path - 8);
    strcat(cmd, " 2>");
    strcat(cmd, err_path);

    FILE *fp = popen(cmd, "r");
    assert_non_null(fp);
    size_t cap = 1 << 16, len = 0;
    run_result r = {.out = malloc(cap)};
    assert_non_null(r.out);
    len = fread(r.out, 1, cap - 1, fp);
    r.out[len] = '\0';
    int status = pclose(fp);
    if (WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.exit_code = 128 + WTERMSIG(status);
    else
        r.exit_code = -1;
    r.err = test_read_file(err_path, NULL);
    return r;
}

static void run_result_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* Fails unless `text` contains `part`, showing both. */
static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("expected \"%s\" in:\n%s", part, text);
}

/* Copies a file byte for byte. */
static void copy_file(const char *src, const char *dst)
{
    size_t len;
    char *data = test_read_file(src, &len);
    FILE *fp = fopen(dst, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    free(data);
}

/* Fails unless the file at `path` has exactly the bytes of `want`. */
static void assert_same_bytes(const char *path, const char *want, size_t want_len)
{
    size_t len;
    char *data = test_read_file(path, &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(data, want, len);
    free(data);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* ---- --logits-out ------------------------------------------------------------- */

/* --logits-out naming the model (by any path to the same file) exits 2 and
 * leaves the model as it was, instead of truncating the mapped file. */
static void logits_out_over_model_rejected(void **state)
{
    (void)state;
    char model[300], same_file[300], hard_link[300];
    snprintf(model, sizeof model, "%s/g.maas", scratch);
    snprintf(same_file, sizeof same_file, "%s/./g.maas", scratch);
    snprintf(hard_link, sizeof hard_link, "%s/link.maas", scratch);
    copy_file(MODEL, model);
    unlink(hard_link);
    assert_int_equal(link(model, hard_link), 0);
    size_t model_len;
    char *model_bytes = test_read_file(MODEL, &model_len);

    const char *outputs[] = {model, same_file, hard_link};
    for (int i = 0; i < 3; i++) {
        run_result r = run(GENERATE " -m %s -p Hello -n 3 --temp 0 --logits-out %s",
                           model, outputs[i]);
        if (r.exit_code != 2)
            fail_msg("--logits-out %s: exit %d, expected 2; stderr:\n%s", outputs[i],
                     r.exit_code, r.err);
        assert_contains(r.err, "--logits-out");
        assert_contains(r.err, outputs[i]);
        assert_same_bytes(model, model_bytes, model_len);
        run_result_free(&r);
    }

    free(model_bytes);
    unlink(hard_link);
    unlink(model);
}

/* --logits-out naming the -f prompt file exits 2 and keeps the prompt. */
static void logits_out_over_prompt_rejected(void **state)
{
    (void)state;
    char prompt[300];
    snprintf(prompt, sizeof prompt, "%s/prompt.txt", scratch);
    const char *text = "Hello world";
    write_text(prompt, text);

    run_result r = run(GENERATE " -m " MODEL " -f %s -n 3 --temp 0 --logits-out %s",
                       prompt, prompt);
    if (r.exit_code != 2)
        fail_msg("exit %d, expected 2; stderr:\n%s", r.exit_code, r.err);
    assert_contains(r.err, "--logits-out");
    assert_contains(r.err, prompt);
    assert_same_bytes(prompt, text, strlen(text));
    run_result_free(&r);
    unlink(prompt);
}

/* --logits-out to a new file writes n_prompt x V float32 values equal to
 * the library's logits for every prompt position. */
static void logits_out_writes_every_position(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/logits.bin", scratch);
    unlink(path);
    run_result r = run(GENERATE " -m " MODEL " -p 'Hello world' -n 0 -t 1 --logits-out %s",
                       path);
    if (r.exit_code != 0)
        fail_msg("exit %d, expected 0; stderr:\n%s", r.exit_code, r.err);
    run_result_free(&r);

    maas_gpt2 *model;
    maas_gpt2_context *ctx;
    assert_int_equal(maas_gpt2_open(MODEL, &model), MAAS_OK);
    assert_int_equal(maas_gpt2_context_create(model, NULL, &ctx), MAAS_OK);
    maas_encoding enc = {0};
    maas_encode_options eo = {.add_special = false, .parse_special = true};
    assert_int_equal(maas_tokenizer_encode(maas_gpt2_get_tokenizer(model), "Hello world", 11,
                                           &eo, &enc),
                     MAAS_OK);
    int vocab = maas_gpt2_get_config(model)->vocab_size;
    size_t count = (size_t)enc.n * (size_t)vocab;
    float *want = malloc(count * sizeof *want);
    assert_non_null(want);
    assert_int_equal(maas_gpt2_eval(ctx, enc.ids, enc.n, want), MAAS_OK);

    size_t n;
    float *got = test_read_f32(path, &n);
    assert_int_equal(n, count);
    test_assert_close("--logits-out values", got, want, n, 1e-5, 1e-5);

    free(got);
    free(want);
    maas_encoding_free(&enc);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
    unlink(path);
}

/* ---- setup ----------------------------------------------------------------------- */

static int make_scratch(void **state)
{
    (void)state;
    if (access(GENERATE, X_OK) != 0 || access(MODEL, R_OK) != 0) {
        fprintf(stderr, "%s or %s is missing; run `make all fixtures`\n", GENERATE, MODEL);
        return -1;
    }
    return mkdtemp(scratch) ? 0 : -1;
}

/* Removes the scratch folder with whatever a failed test left in it. */
static int remove_scratch(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logits_out_over_model_rejected),
        cmocka_unit_test(logits_out_over_prompt_rejected),
        cmocka_unit_test(logits_out_writes_every_position),
    };
    return cmocka_run_group_tests(tests, make_scratch, remove_scratch);
}
