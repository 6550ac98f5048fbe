/* The BERT example programs (maas-qa, maas-embed, maas-faq) on bad input:
 * outputs over inputs, too-long texts, blank and invalid lines, files that
 * are not regular files, and out-of-range options.  Each case runs the
 * program through popen and checks its exit status, output and files. */
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
#include <cjson/cJSON.h>

#define TMP "build/tmp-test-bert-cli"
#define BIN "build/bin/"
#define QA_MODEL TMP "/qa.maas"
#define EMBED_MODEL TMP "/embed.maas"

static char output[1 << 20];

/* Runs a shell command with stderr merged into stdout, keeps the output
 * in `output` and returns the exit status (-1 when killed by a signal).
 * A command that redirects its own streams goes in { ...; } so the merge
 * does not override them. */
static int run(const char *format, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(cmd, sizeof cmd - 8, format, ap);
    va_end(ap);
    assert_true(n > 0 && n < (int)sizeof cmd - 8);
    strcat(cmd, " 2>&1");
    FILE *fp = popen(cmd, "r");
    assert_non_null(fp);
    size_t len = fread(output, 1, sizeof output - 1, fp);
    output[len] = '\0';
    int status = pclose(fp);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static long file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (long)sb.st_size;
}

static void copy_file(const char *from, const char *to)
{
    assert_int_equal(run("cp '%s' '%s'", from, to), 0);
}

/* A text of `words` words, longer than bert-tiny's 128 positions. */
static char *long_text(int words)
{
    char *text = malloc((size_t)words * 6 + 1);
    assert_non_null(text);
    text[0] = '\0';
    for (int i = 0; i < words; i++)
        strcat(text, i ? " order" : "order");
    return text;
}

static int setup(void **state)
{
    (void)state;
    mkdir("build", 0755);
    mkdir(TMP, 0755);
    mkdir(TMP "/dir", 0755);
    copy_file("build/fixtures/bert-qa-tiny.maas", QA_MODEL);
    copy_file("build/fixtures/bert-tiny.maas", EMBED_MODEL);
    const char *context = "Orders ship from our warehouse in Leeds within two days.";
    write_file(TMP "/context.txt", context, strlen(context));
    const char *faq = "Q: Where is my order?\nA: In Leeds.\n";
    write_file(TMP "/faq.txt", faq, strlen(faq));
    return 0;
}

/* An output path naming an input is rejected with status 2 before any
 * file is opened, and the input keeps its size. */
static void output_over_input_rejected(void **state)
{
    (void)state;
    long model_size = file_size(QA_MODEL), context_size = file_size(TMP "/context.txt");

    assert_int_equal(run(BIN "maas-qa -m " QA_MODEL " -c " TMP "/context.txt -q where "
                         "--logits-out " QA_MODEL), 2);
    assert_non_null(strstr(output, "is the input file"));
    assert_int_equal(file_size(QA_MODEL), model_size);

    assert_int_equal(run(BIN "maas-qa -m " QA_MODEL " -c " TMP "/context.txt -q where "
                         "--logits-out " TMP "/context.txt"), 2);
    assert_int_equal(file_size(TMP "/context.txt"), context_size);

    long embed_size = file_size(EMBED_MODEL);
    assert_int_equal(run(BIN "maas-embed -m " EMBED_MODEL " --pooling none --hidden-out "
                         EMBED_MODEL " hello"), 2);
    assert_int_equal(file_size(EMBED_MODEL), embed_size);

    write_file(TMP "/texts.txt", "hello\n", 6);
    assert_int_equal(run(BIN "maas-embed -m " EMBED_MODEL " -f " TMP "/texts.txt --pooling none "
                         "--hidden-out " TMP "/texts.txt"), 2);
    assert_int_equal(file_size(TMP "/texts.txt"), 6);

    /* maas-faq writes FAQ_FILE.faq-cache, here the model's path. */
    copy_file(EMBED_MODEL, TMP "/faq.txt.faq-cache");
    assert_int_equal(run(BIN "maas-faq -m " TMP "/faq.txt.faq-cache --faq " TMP "/faq.txt -q where"),
                     2);
    assert_non_null(strstr(output, "is the input file"));
    assert_int_equal(file_size(TMP "/faq.txt.faq-cache"), embed_size);
    unlink(TMP "/faq.txt.faq-cache");
}

/* A text over the limit fails, naming the text, its tokens and the
 * limit; --truncate embeds its first tokens. */
static void long_text_needs_truncate(void **state)
{
    (void)state;
    char *text = long_text(3000);
    write_file(TMP "/long.txt", text, strlen(text));
    free(text);

    assert_int_equal(run(BIN "maas-embed -m " EMBED_MODEL " \"$(cat " TMP "/long.txt)\""), 1);
    assert_non_null(strstr(output, "text 0 has "));
    assert_non_null(strstr(output, "limit of 128 tokens"));
    assert_non_null(strstr(output, "--truncate"));
    assert_int_equal(run(BIN "maas-embed -m " EMBED_MODEL " --truncate \"$(cat " TMP "/long.txt)\""),
                     0);

    assert_int_equal(run(BIN "maas-faq -m " EMBED_MODEL " --faq " TMP "/faq.txt --no-cache "
                         "-q \"$(cat " TMP "/long.txt)\""), 1);
    assert_non_null(strstr(output, "limit of 128 tokens"));
    assert_int_equal(run(BIN "maas-faq -m " EMBED_MODEL " --faq " TMP "/faq.txt --no-cache "
                         "--truncate -q \"$(cat " TMP "/long.txt)\""), 0);
}

/* Blank lines are empty texts, so embedding i belongs to line i + 1. */
static void embed_keeps_blank_lines(void **state)
{
    (void)state;
    assert_int_equal(run("printf 'a\\n\\nb\\n' | " BIN "maas-embed -m " EMBED_MODEL " --json"), 0);
    cJSON *root = cJSON_Parse(output);
    assert_non_null(root);
    cJSON *data = cJSON_GetObjectItem(root, "data");
    assert_int_equal(cJSON_GetArraySize(data), 3);
    const char *want[3] = {"a", "", "b"};
    for (int i = 0; i < 3; i++) {
        cJSON *item = cJSON_GetArrayItem(data, i);
        assert_int_equal(cJSON_GetObjectItem(item, "index")->valueint, i);
        assert_string_equal(cJSON_GetObjectItem(item, "text")->valuestring, want[i]);
    }
    cJSON_Delete(root);
}

/* maas-qa on standard input writes one JSON record per line, an error
 * record naming the line for an invalid or empty question. */
static void qa_stdin_errors_aligned(void **state)
{
    (void)state;
    int status = run("{ printf 'where\\n\\377\\376 bad\\n\\nwhere\\n' | " BIN "maas-qa -m "
                     QA_MODEL " -c " TMP "/context.txt --json 2>/dev/null; }");
    assert_int_equal(status, 1);
    const char *line = output;
    for (int i = 1; i <= 4; i++) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        char record[4096];
        assert_true(nl - line < (long)sizeof record);
        memcpy(record, line, (size_t)(nl - line));
        record[nl - line] = '\0';
        cJSON *item = cJSON_Parse(record);
        assert_non_null(item);
        assert_int_equal(cJSON_GetObjectItem(item, "line")->valueint, i);
        if (i == 2 || i == 3) {
            assert_non_null(cJSON_GetObjectItem(item, "error"));
        } else {
            assert_non_null(cJSON_GetObjectItem(item, "answer"));
        }
        cJSON_Delete(item);
        line = nl + 1;
    }
    assert_string_equal(line, "");

    assert_int_equal(run("{ printf 'where\\n\\377\\376 bad\\n' | " BIN "maas-qa -m " QA_MODEL
                         " -c " TMP "/context.txt >/dev/null; }"), 1);
    assert_non_null(strstr(output, "line 2: invalid UTF-8"));
}

/* A directory or FIFO as an input file is rejected with the reason. */
static void input_not_regular_file(void **state)
{
    (void)state;
    unlink(TMP "/fifo");
    assert_int_equal(mkfifo(TMP "/fifo", 0600), 0);
    const char *paths[2] = {TMP "/dir", TMP "/fifo"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run(BIN "maas-qa -m " QA_MODEL " -c %s -q where", paths[i]), 1);
        assert_non_null(strstr(output, "is not a regular file"));
        assert_int_equal(run(BIN "maas-embed -m " EMBED_MODEL " -f %s", paths[i]), 1);
        assert_non_null(strstr(output, "is not a regular file"));
        assert_int_equal(run(BIN "maas-faq -m " EMBED_MODEL " --faq %s -q where", paths[i]), 1);
        assert_non_null(strstr(output, "is not a regular file"));
    }
    assert_int_equal(run(BIN "maas-embed -m " EMBED_MODEL " -f " TMP "/missing.txt"), 1);
    assert_non_null(strstr(output, "No such file or directory"));
    unlink(TMP "/fifo");
}

/* Values the help does not document are rejected with status 2;
 * --doc-stride 0 (no overlap) is documented and accepted. */
static void out_of_range_options(void **state)
{
    (void)state;
    const char *faq_values[] = {"nan", "inf", "1.5", "-2", "x"};
    for (size_t i = 0; i < sizeof faq_values / sizeof *faq_values; i++) {
        assert_int_equal(run(BIN "maas-faq -m " EMBED_MODEL " --faq " TMP "/faq.txt -q where "
                             "--threshold %s", faq_values[i]), 2);
        assert_non_null(strstr(output, "--threshold"));
    }
    assert_int_equal(run(BIN "maas-qa -m " QA_MODEL " -c " TMP "/context.txt -q where "
                         "--max-seq-len 0"), 2);
    assert_int_equal(run(BIN "maas-qa -m " QA_MODEL " -c " TMP "/context.txt -q where "
                         "--doc-stride -1"), 2);
    assert_int_equal(run(BIN "maas-qa -m " QA_MODEL " -c " TMP "/context.txt -q where "
                         "--doc-stride 0"), 0);
    assert_int_equal(run(BIN "maas-qa --help"), 0);
    assert_non_null(strstr(output, "0 means no"));
}

/* A NUL byte in the context is rejected, so no answer text can differ
 * from the context between its offsets. */
static void qa_context_with_nul(void **state)
{
    (void)state;
    write_file(TMP "/nul.txt", "Hello\0world", 11);
    assert_int_equal(run(BIN "maas-qa -m " QA_MODEL " -c " TMP "/nul.txt -q what --json"), 1);
    assert_non_null(strstr(output, "NUL byte at byte 5"));
    assert_null(strstr(output, "\"answer\""));
}

/* FAQ format errors reach the user with the line number. */
static void faq_errors_name_line(void **state)
{
    (void)state;
    const char *faq = "Q: only question\n\nQ: q2\nA: a2\n";
    write_file(TMP "/bad-faq.txt", faq, strlen(faq));
    assert_int_equal(run(BIN "maas-faq -m " EMBED_MODEL " --faq " TMP "/bad-faq.txt -q where"), 1);
    assert_non_null(strstr(output, "bad-faq.txt:1:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(output_over_input_rejected),
        cmocka_unit_test(long_text_needs_truncate),
        cmocka_unit_test(embed_keeps_blank_lines),
        cmocka_unit_test(qa_stdin_errors_aligned),
        cmocka_unit_test(input_not_regular_file),
        cmocka_unit_test(out_of_range_options),
        cmocka_unit_test(qa_context_with_nul),
        cmocka_unit_test(faq_errors_name_line),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
