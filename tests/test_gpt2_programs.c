/* The command lines of maas-generate, maas-chat and maas-server, run as
 * child processes: output paths that would overwrite an input, the
 * --logits-out file, seeds over the whole unsigned 64-bit range, the
 * temperature, and the messages for invalid option values.
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
#define CHAT "build/bin/maas-chat"
#define SERVER "build/bin/maas-server"
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

/* ---- seeds ------------------------------------------------------------------------ */

/* Reads the seed from maas-generate's "seed N, stopped by ..." line. */
static bool find_seed(const char *err, unsigned long long *seed)
{
    const char *line = strstr(err, "seed ");
    return line && sscanf(line, "seed %llu", seed) == 1;
}

/* A run with a random seed prints it, and --seed with that value repeats
 * the text.  Random seeds have 63 bits, so they almost always exceed 2^31. */
static void printed_seed_repeats_run(void **state)
{
    (void)state;
    run_result first = run(GENERATE " -m " MODEL " -p Hello -n 12 -t 1");
    assert_int_equal(first.exit_code, 0);
    unsigned long long seed;
    if (!find_seed(first.err, &seed))
        fail_msg("no seed line in:\n%s", first.err);

    run_result again = run(GENERATE " -m " MODEL " -p Hello -n 12 -t 1 --seed %llu", seed);
    if (again.exit_code != 0)
        fail_msg("--seed %llu: exit %d; stderr:\n%s", seed, again.exit_code, again.err);
    assert_string_equal(again.out, first.out);
    unsigned long long again_seed;
    assert_true(find_seed(again.err, &again_seed));
    assert_true(again_seed == seed);

    run_result_free(&first);
    run_result_free(&again);
}

/* Seeds from 2^31 to 2^64 - 2 are used as given, so the printed seed
 * matches and two runs give the same text. */
static void large_seeds_accepted(void **state)
{
    (void)state;
    const char *seeds[] = {"2147483648", "9223372036854775807", "12345678901234567890",
                           "18446744073709551614"};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        run_result a = run(GENERATE " -m " MODEL " -p Hello -n 12 -t 1 --seed %s", seeds[i]);
        run_result b = run(GENERATE " -m " MODEL " -p Hello -n 12 -t 1 -s %s", seeds[i]);
        if (a.exit_code != 0)
            fail_msg("--seed %s: exit %d; stderr:\n%s", seeds[i], a.exit_code, a.err);
        assert_int_equal(b.exit_code, 0);
        assert_string_equal(a.out, b.out);
        unsigned long long printed;
        assert_true(find_seed(a.err, &printed));
        assert_true(printed == strtoull(seeds[i], NULL, 10));
        run_result_free(&a);
        run_result_free(&b);
    }
}

/* Seeds that are not -1 or a number in 0..2^64 - 1 exit 2 with a message
 * naming the option and the value. */
static void invalid_seeds_rejected(void **state)
{
    (void)state;
    const char *seeds[] = {"-2", "abc", "18446744073709551616", "1.5", "-18446744073709551615"};
    const char *programs[] = {GENERATE " -m " MODEL " -p Hello -n 1", "printf Hi | " CHAT
                                                                       " -m " MODEL " -n 1"};
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
            run_result r = run("%s --seed '%s'", programs[p], seeds[i]);
            char quoted[64];
            snprintf(quoted, sizeof quoted, "'%s'", seeds[i]);
            if (r.exit_code != 2)
                fail_msg("%s --seed %s: exit %d, expected 2", programs[p], seeds[i],
                         r.exit_code);
            assert_contains(r.err, "--seed");
            assert_contains(r.err, quoted);
            run_result_free(&r);
        }
    }
}

/* maas-chat accepts a seed above 2^63, and the same seed repeats the reply. */
static void chat_large_seed_repeats(void **state)
{
    (void)state;
    const char *cmd = "printf Hi | " CHAT " -m " MODEL " -n 8 -t 1 --seed 12345678901234567890";
    run_result a = run("%s", cmd);
    run_result b = run("%s", cmd);
    if (a.exit_code != 0)
        fail_msg("exit %d; stderr:\n%s", a.exit_code, a.err);
    assert_int_equal(b.exit_code, 0);
    assert_string_equal(a.out, b.out);
    run_result_free(&a);
    run_result_free(&b);
}

/* ---- temperature ------------------------------------------------------------------ */

/* A negative temperature exits 2 with a message naming --temp and the
 * value, in both programs. */
static void negative_temperature_rejected(void **state)
{
    (void)state;
    const char *temps[] = {"-1", "-0.5", "-1e-30"};
    const char *programs[] = {GENERATE " -m " MODEL " -p Hello -n 1", "printf Hi | " CHAT
                                                                       " -m " MODEL " -n 1"};
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++) {
            run_result r = run("%s --temp %s", programs[p], temps[i]);
            char quoted[64];
            snprintf(quoted, sizeof quoted, "'%s'", temps[i]);
            if (r.exit_code != 2)
                fail_msg("%s --temp %s: exit %d, expected 2", programs[p], temps[i],
                         r.exit_code);
            assert_contains(r.err, "--temp");
            assert_contains(r.err, quoted);
            run_result_free(&r);
        }
    }
}

/* --temp 0 and --top-k 1 both choose the most likely token, give the same
 * text and print no seed, which would repeat nothing. */
static void greedy_run_prints_no_seed(void **state)
{
    (void)state;
    run_result temp0 = run(GENERATE " -m " MODEL " -p Hello -n 12 -t 1 --temp 0");
    run_result top1 = run(GENERATE " -m " MODEL " -p Hello -n 12 -t 1 --top-k 1");
    assert_int_equal(temp0.exit_code, 0);
    assert_int_equal(top1.exit_code, 0);
    assert_string_equal(temp0.out, top1.out);
    if (strstr(temp0.err, "seed"))
        fail_msg("--temp 0 printed a seed:\n%s", temp0.err);
    if (strstr(top1.err, "seed"))
        fail_msg("--top-k 1 printed a seed:\n%s", top1.err);
    assert_contains(temp0.err, "stopped by max_tokens");
    run_result_free(&temp0);
    run_result_free(&top1);
}

/* ---- option values ------------------------------------------------------------------ */

/* Each invalid option value exits 2 with a message naming the option and
 * the value, before any model is loaded or port opened. */
static void invalid_values_name_option(void **state)
{
    (void)state;
    const char *generate = GENERATE " -m " MODEL " -p Hello -n 1";
    const char *chat = "printf Hi | " CHAT " -m " MODEL " -n 1";
    const char *server = SERVER " -m " MODEL " --no-access-log";
    const struct {
        const char *program, *option, *value;
    } cases[] = {
        {generate, "-n", "abc"},          {generate, "-n", "-2"},
        {generate, "-t", "0"},            {generate, "-t", "1025"},
        {generate, "-c", "0"},            {generate, "-b", "12x"},
        {generate, "--top-k", "-1"},      {generate, "--top-p", "1.5"},
        {generate, "--min-p", "-0.1"},    {generate, "--repeat-penalty", "0"},
        {generate, "--temp", "nan"},      {generate, "--top-p", ""},
        {chat, "-n", "0"},                {chat, "-t", "2000"},
        {chat, "-c", "1.5"},              {chat, "--top-p", "2"},
        {chat, "--min-p", "x"},           {chat, "--repeat-penalty", "-1"},
        {server, "--port", "70000"},      {server, "--parallel", "0"},
        {server, "--max-body", "100"},    {server, "--timeout", "abc"},
        {server, "--queue", "-1"},        {server, "-t", "99999999999999999999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = run("%s %s '%s'", cases[i].program, cases[i].option, cases[i].value);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", cases[i].value);
        if (r.exit_code != 2)
            fail_msg("%s %s '%s': exit %d, expected 2", cases[i].program, cases[i].option,
                     cases[i].value, r.exit_code);
        assert_contains(r.err, cases[i].option);
        assert_contains(r.err, quoted);
        run_result_free(&r);
    }
}

/* maas-server names an option given without its value. */
static void server_missing_value_named(void **state)
{
    (void)state;
    const char *options[] = {"--port", "--model", "--host", "--timeout"};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        run_result r = run(SERVER " -m " MODEL " %s", options[i]);
        assert_int_equal(r.exit_code, 2);
        assert_contains(r.err, options[i]);
        assert_contains(r.err, "missing value");
        run_result_free(&r);
    }
}

/* Values at the ends of the ranges are accepted: -n -1, --top-p 0 and 1,
 * --seed 0 and more (-t 1024 and the 2^30 limits are not run). */
static void range_ends_accepted(void **state)
{
    (void)state;
    const char *commands[] = {
        GENERATE " -m " MODEL " -p Hello -c 16 -b 1 -n -1 -t 1 --top-k 0 --top-p 1"
                 " --min-p 0 --repeat-penalty 1e-3 --temp 0",
        GENERATE " -m " MODEL " -p Hello -n 0 --top-p 0 --min-p 1 --seed 0",
        "printf Hi | " CHAT " -m " MODEL " -n 1 -t 1 -c 64 --top-k 0 --top-p 1 --min-p 0"
        " --repeat-penalty 1 --temp 0 --seed -1",
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        run_result r = run("%s", commands[i]);
        if (r.exit_code != 0)
            fail_msg("%s: exit %d; stderr:\n%s", commands[i], r.exit_code, r.err);
        run_result_free(&r);
    }
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
        cmocka_unit_test(printed_seed_repeats_run),
        cmocka_unit_test(large_seeds_accepted),
        cmocka_unit_test(invalid_seeds_rejected),
        cmocka_unit_test(chat_large_seed_repeats),
        cmocka_unit_test(negative_temperature_rejected),
        cmocka_unit_test(greedy_run_prints_no_seed),
        cmocka_unit_test(invalid_values_name_option),
        cmocka_unit_test(server_missing_value_named),
        cmocka_unit_test(range_ends_accepted),
    };
    return cmocka_run_group_tests(tests, make_scratch, remove_scratch);
}
