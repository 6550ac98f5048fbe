/* FAQ files: parsing, format errors, search order against a plain cosine
 * computation, and the embedding cache's invalidation.  Uses the small
 * bert-tiny fixture; the real-model matching is in test_bert_minilm.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "maas.h"
#include "testutil.h"

#define TMP "build/tmp-test-faq"
#define MODEL "build/fixtures/bert-tiny.maas"

static void write_text(const char *path, const char *text)
{
    mkdir("build", 0755);
    mkdir(TMP, 0755);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static const char *const sample =
    "# comment\n"
    "Q: Where is my order?\n"
    "Q:   How can I track my parcel?  \n"
    "A: Open My orders.\n"
    "It shows the tracking link.\n"
    "\n"
    "q: How do I return an item?\n"
    "a: Print the label.\n"
    "\n"
    "Q: Do you ship abroad?\n"
    "A: Yes, to the EU.\n";

static void faq_parses_entries(void **state)
{
    (void)state;
    write_text(TMP "/ok.txt", sample);
    maas_faq *faq = NULL;
    assert_int_equal(maas_faq_load(TMP "/ok.txt", &faq), MAAS_OK);
    assert_int_equal(maas_faq_count(faq), 3);
    assert_int_equal(maas_faq_question_count(faq, 0), 2);
    assert_string_equal(maas_faq_question(faq, 0, 1), "How can I track my parcel?");
    assert_string_equal(maas_faq_answer(faq, 0), "Open My orders. It shows the tracking link.");
    assert_int_equal(maas_faq_question_count(faq, 1), 1);
    assert_string_equal(maas_faq_question(faq, 1, 0), "How do I return an item?");
    assert_string_equal(maas_faq_answer(faq, 2), "Yes, to the EU.");
    assert_null(maas_faq_question(faq, 3, 0));
    assert_null(maas_faq_question(faq, 0, 2));
    assert_null(maas_faq_answer(faq, -1));
    maas_faq_free(faq);
}

static void faq_format_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "A: an answer first\n",
        "Q: a question without answer\n",
        "Q: one\nA: two\nA: a second answer\n",
        "# only comments\n\n",
        "Q: fine\nA: fine\n\nsome stray text\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_text(TMP "/bad.txt", bad[i]);
        maas_faq *faq = NULL;
        assert_int_equal(maas_faq_load(TMP "/bad.txt", &faq), MAAS_ERR_BAD_FORMAT);
        assert_null(faq);
        assert_non_null(strstr(maas_last_error(), "bad.txt"));
    }
    maas_faq *faq = NULL;
    assert_int_equal(maas_faq_load(TMP "/no-such-file.txt", &faq), MAAS_ERR_IO);
}

/* A question without an answer, an empty question or an empty answer is
 * an error naming its line, never merged into the next entry. */
static void faq_incomplete_entries_named(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *where;
    } bad[] = {
        {"Q: only question\n\nQ: q2\nA: a2\n", "bad.txt:1:"},
        {"Q: q1\nA: a1\n\n# c\nQ: q2\nQ: q3\n\nQ: q4\nA: a4\n", "bad.txt:6:"},
        {"Q: q1\nA:\n\nQ: q2\nA: a2\n", "bad.txt:2:"},
        {"Q: q1\nA:   \nQ: q2\nA: a2\n", "bad.txt:2:"},
        {"Q: q1\nA: a1\nQ:\nA: a2\n", "bad.txt:3:"},
        {"Q: q1\nA: a1\n\nQ: last\n", "bad.txt:4:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_text(TMP "/bad.txt", bad[i].text);
        maas_faq *faq = NULL;
        assert_int_equal(maas_faq_load(TMP "/bad.txt", &faq), MAAS_ERR_BAD_FORMAT);
        assert_null(faq);
        if (!strstr(maas_last_error(), bad[i].where))
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, bad[i].where, maas_last_error());
    }

    /* An answer may start on the line after "A:". */
    write_text(TMP "/ok2.txt", "Q: q1\nA:\n  the answer\n");
    maas_faq *faq = NULL;
    assert_int_equal(maas_faq_load(TMP "/ok2.txt", &faq), MAAS_OK);
    assert_string_equal(maas_faq_answer(faq, 0), "the answer");
    maas_faq_free(faq);
}

/* Search ranks entries by their best question's cosine similarity, which
 * the test computes from maas_bert_embed's vectors. */
static void faq_search_ranks_by_cosine(void **state)
{
    (void)state;
    write_text(TMP "/ok.txt", sample);
    maas_faq *faq = NULL;
    maas_bert *model = NULL;
    maas_bert_context *ctx = NULL;
    assert_int_equal(maas_faq_load(TMP "/ok.txt", &faq), MAAS_OK);
    assert_int_equal(maas_bert_open(MODEL, &model), MAAS_OK);
    assert_int_equal(maas_bert_context_create(model, NULL, &ctx), MAAS_OK);

    maas_faq_match m[3];
    int n = 0;
    assert_int_equal(maas_faq_search(faq, ctx, "where is it", 3, m, &n), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_faq_embed(faq, ctx, NULL, NULL), MAAS_OK);
    const char *query = "where is my parcel";
    assert_int_equal(maas_faq_search(faq, ctx, query, 3, m, &n), MAAS_OK);
    assert_int_equal(n, 3);

    /* The reference: cosine of the query with each question. */
    const char *questions[4] = {"Where is my order?", "How can I track my parcel?",
                                "How do I return an item?", "Do you ship abroad?"};
    const int entry_of[4] = {0, 0, 1, 2};
    float v[5][32];
    const char *texts[5] = {query, questions[0], questions[1], questions[2], questions[3]};
    maas_embed_options o;
    maas_embed_options_default(model, &o);
    o.normalize = true;
    assert_int_equal(maas_bert_embed(ctx, texts, 5, &o, &v[0][0]), MAAS_OK);
    double best[3] = {-2, -2, -2};
    for (int q = 0; q < 4; q++) {
        double dot = 0;
        for (int j = 0; j < 32; j++)
            dot += (double)v[0][j] * v[q + 1][j];
        if (dot > best[entry_of[q]])
            best[entry_of[q]] = dot;
    }
    for (int i = 0; i < 3; i++) {
        assert_true(fabs(m[i].similarity - best[m[i].entry]) < 1e-5);
        if (i > 0)
            assert_true(m[i - 1].similarity >= m[i].similarity);
    }

    assert_int_equal(maas_faq_search(faq, ctx, "", 3, m, &n), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_faq_search(faq, ctx, query, 0, m, &n), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_faq_search(faq, ctx, query, 1, m, &n), MAAS_OK);
    assert_int_equal(n, 1);

    maas_bert_context_free(ctx);
    maas_bert_free(model);
    maas_faq_free(faq);
}

/* The cache is reused for the same FAQ text and model, and rebuilt when
 * the FAQ changes. */
static void faq_cache_invalidated_on_change(void **state)
{
    (void)state;
    maas_bert *model = NULL;
    maas_bert_context *ctx = NULL;
    assert_int_equal(maas_bert_open(MODEL, &model), MAAS_OK);
    assert_int_equal(maas_bert_context_create(model, NULL, &ctx), MAAS_OK);
    const char *cache = TMP "/cached.txt.faq-cache";
    write_text(TMP "/cached.txt", sample);
    unlink(cache);

    bool from_cache = true;
    maas_faq *faq = NULL;
    assert_int_equal(maas_faq_load(TMP "/cached.txt", &faq), MAAS_OK);
    assert_int_equal(maas_faq_embed(faq, ctx, cache, &from_cache), MAAS_OK);
    assert_false(from_cache);
    assert_int_equal(access(cache, R_OK), 0);
    maas_faq_match first;
    int n;
    assert_int_equal(maas_faq_search(faq, ctx, "track my parcel", 1, &first, &n), MAAS_OK);
    maas_faq_free(faq);

    /* Same text: from the cache, same results. */
    assert_int_equal(maas_faq_load(TMP "/cached.txt", &faq), MAAS_OK);
    assert_int_equal(maas_faq_embed(faq, ctx, cache, &from_cache), MAAS_OK);
    assert_true(from_cache);
    maas_faq_match again;
    assert_int_equal(maas_faq_search(faq, ctx, "track my parcel", 1, &again, &n), MAAS_OK);
    assert_int_equal(again.entry, first.entry);
    assert_true(again.similarity == first.similarity);
    maas_faq_free(faq);

    /* Changed text: embedded again. */
    write_text(TMP "/cached.txt", "Q: Where is my order?\nA: In the warehouse.\n");
    assert_int_equal(maas_faq_load(TMP "/cached.txt", &faq), MAAS_OK);
    assert_int_equal(maas_faq_embed(faq, ctx, cache, &from_cache), MAAS_OK);
    assert_false(from_cache);
    maas_faq_free(faq);

    /* Another model (the odd-sized fixture) with the same text: embedded again. */
    maas_bert *other = NULL;
    maas_bert_context *other_ctx = NULL;
    assert_int_equal(maas_bert_open("build/fixtures/bert-odd.maas", &other), MAAS_OK);
    assert_int_equal(maas_bert_context_create(other, NULL, &other_ctx), MAAS_OK);
    assert_int_equal(maas_faq_load(TMP "/cached.txt", &faq), MAAS_OK);
    assert_int_equal(maas_faq_embed(faq, other_ctx, cache, &from_cache), MAAS_OK);
    assert_false(from_cache);
    maas_faq_free(faq);

    maas_bert_context_free(other_ctx);
    maas_bert_free(other);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
}

/* Overwrites the float at `index` after the cache header with `value`. */
static void damage_cache(const char *path, long index, float value)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    /* The header: 8-byte magic, two u64 hashes, two u32 counts. */
    assert_int_equal(fseek(fp, 32 + index * (long)sizeof(float), SEEK_SET), 0);
    assert_int_equal(fwrite(&value, sizeof value, 1, fp), 1);
    assert_int_equal(fclose(fp), 0);
}

/* Replaces the first embedding value of a cache with `value` and writes a
 * matching FNV-1a checksum (64-bit, offset 0xcbf29ce484222325, prime
 * 0x100000001b3) of the `n_floats` embedding values after them, so only
 * the value checks can notice. */
static void damage_cache_keep_checksum(const char *path, size_t n_floats, float value)
{
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    float *emb = malloc(n_floats * sizeof(float));
    assert_non_null(emb);
    assert_int_equal(fseek(fp, 32, SEEK_SET), 0);
    assert_int_equal(fread(emb, sizeof(float), n_floats, fp), n_floats);
    emb[0] = value;
    uint64_t hash = 0xcbf29ce484222325ULL;
    const unsigned char *bytes = (const unsigned char *)emb;
    for (size_t i = 0; i < n_floats * sizeof(float); i++) {
        hash ^= bytes[i];
        hash *= 0x100000001b3ULL;
    }
    assert_int_equal(fseek(fp, 32, SEEK_SET), 0);
    assert_int_equal(fwrite(emb, sizeof(float), n_floats, fp), n_floats);
    assert_int_equal(fwrite(&hash, sizeof hash, 1, fp), 1);
    assert_int_equal(fclose(fp), 0);
    free(emb);
}

/* A damaged cache (a NaN, a wrong value, a cut file, a NaN or a norm
 * off 1 under a valid checksum) is not used: the questions are embedded
 * again and search gives the same results. */
static void faq_damaged_cache_rebuilt(void **state)
{
    (void)state;
    maas_bert *model = NULL;
    maas_bert_context *ctx = NULL;
    assert_int_equal(maas_bert_open(MODEL, &model), MAAS_OK);
    assert_int_equal(maas_bert_context_create(model, NULL, &ctx), MAAS_OK);
    const char *cache = TMP "/damaged.txt.faq-cache";
    write_text(TMP "/damaged.txt", sample);
    unlink(cache);

    maas_faq *faq = NULL;
    bool from_cache = true;
    maas_faq_match want;
    int n;
    assert_int_equal(maas_faq_load(TMP "/damaged.txt", &faq), MAAS_OK);
    assert_int_equal(maas_faq_embed(faq, ctx, cache, &from_cache), MAAS_OK);
    assert_false(from_cache);
    assert_int_equal(maas_faq_search(faq, ctx, "track my parcel", 1, &want, &n), MAAS_OK);
    maas_faq_free(faq);

    /* Damage: a NaN in the first embedding, a changed value in the last
     * (still finite), and a file cut short. */
    const float damage[2] = {NAN, 0.5f};
    const long where[2] = {0, 4 * 32 - 1};
    for (int i = 0; i < 5; i++) {
        if (i < 2) {
            damage_cache(cache, where[i], damage[i]);
        } else if (i == 2) {
            struct stat sb;
            assert_int_equal(stat(cache, &sb), 0);
            assert_int_equal(truncate(cache, sb.st_size - 4), 0);
        } else {
            /* 4 questions of 32 values: a NaN, then a value that breaks
             * the unit norm. */
            damage_cache_keep_checksum(cache, 4 * 32, i == 3 ? NAN : 2.0f);
        }
        assert_int_equal(maas_faq_load(TMP "/damaged.txt", &faq), MAAS_OK);
        assert_int_equal(maas_faq_embed(faq, ctx, cache, &from_cache), MAAS_OK);
        assert_false(from_cache);
        maas_faq_match got;
        assert_int_equal(maas_faq_search(faq, ctx, "track my parcel", 1, &got, &n), MAAS_OK);
        assert_int_equal(got.entry, want.entry);
        assert_true(fabsf(got.similarity - want.similarity) < 1e-6f);
        maas_faq_free(faq);

        /* The rebuilt cache is valid again. */
        assert_int_equal(maas_faq_load(TMP "/damaged.txt", &faq), MAAS_OK);
        assert_int_equal(maas_faq_embed(faq, ctx, cache, &from_cache), MAAS_OK);
        assert_true(from_cache);
        maas_faq_free(faq);
    }

    maas_bert_context_free(ctx);
    maas_bert_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(faq_parses_entries),
        cmocka_unit_test(faq_format_errors),
        cmocka_unit_test(faq_search_ranks_by_cosine),
        cmocka_unit_test(faq_cache_invalidated_on_change),
        cmocka_unit_test(faq_incomplete_entries_named),
        cmocka_unit_test(faq_damaged_cache_rebuilt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
