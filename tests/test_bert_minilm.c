/* The real all-MiniLM-L6-v2: embeddings against sentence-transformers
 * (golden vectors from tools/make_minilm_golden.py) and the FAQ demo's
 * matching of paraphrased customer questions.
 *
 * Needs build/models/all-MiniLM-L6-v2.maas, which tools/fetch-minilm.sh
 * downloads and converts (`make demo` runs it); without it every test is
 * skipped with a message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "maas.h"
#include "testutil.h"

#define MINILM "build/models/all-MiniLM-L6-v2.maas"
#define FAQ "examples/data/shop-faq.txt"
#define PARAPHRASES "tests/fixtures/shop-faq-paraphrases.tsv"

static int setup(void **state)
{
    if (access(MINILM, R_OK) != 0) {
        print_message("skipping: %s is missing; run `bash tools/fetch-minilm.sh` "
                      "(or `make demo`) to download and convert all-MiniLM-L6-v2\n", MINILM);
        *state = NULL;
        return 0;
    }
    maas_bert *model = NULL;
    if (maas_bert_open(MINILM, &model) != MAAS_OK) {
        print_message("cannot open %s: %s\n", MINILM, maas_last_error());
        return -1;
    }
    *state = model;
    return 0;
}

static int teardown(void **state)
{
    maas_bert_free(*state);
    return 0;
}

static void embeddings_match_sentence_transformers(void **state)
{
    maas_bert *model = *state;
    if (!model)
        skip();
    const maas_bert_config *cfg = maas_bert_get_config(model);
    assert_int_equal(cfg->hidden_size, 384);
    assert_int_equal(cfg->pooling, MAAS_POOLING_MEAN);
    assert_true(cfg->normalize);

    char *text = test_read_file("tests/fixtures/golden/minilm.json", NULL);
    cJSON *json = cJSON_Parse(text);
    free(text);
    assert_non_null(json);
    cJSON *sentences = cJSON_GetObjectItem(json, "sentences");
    int n = cJSON_GetArraySize(sentences);
    assert_true(n >= 50);
    const char **texts = malloc((size_t)n * sizeof *texts);
    for (int i = 0; i < n; i++)
        texts[i] = cJSON_GetArrayItem(sentences, i)->valuestring;
    size_t n_want;
    float *want = test_read_f32("tests/fixtures/golden/minilm.bin", &n_want);
    assert_int_equal(n_want, (size_t)n * 384);

    maas_bert_context_params p;
    maas_bert_context_params_default(model, &p);
    p.n_threads = 1;
    maas_bert_context *ctx = NULL;
    assert_int_equal(maas_bert_context_create(model, &p, &ctx), MAAS_OK);
    float *got = malloc(n_want * sizeof(float));
    maas_embed_options o;
    maas_embed_options_default(model, &o);
    /* The converter stores sentence_bert_config.json's max_seq_length (256
     * for this model) as the limit, as sentence-transformers applies it. */
    assert_int_equal(o.max_length, 256);
    assert_false(o.truncate);
    assert_int_equal(maas_bert_embed(ctx, texts, n, &o, got), MAAS_OK);

    /* Cosine similarity of each sentence's vector with the golden one. */
    double worst = 1.0;
    int worst_i = 0;
    for (int i = 0; i < n; i++) {
        double dot = 0, na = 0, nb = 0;
        for (int j = 0; j < 384; j++) {
            double a = got[i * 384 + j], b = want[i * 384 + j];
            dot += a * b;
            na += a * a;
            nb += b * b;
        }
        double cosine = dot / sqrt(na * nb);
        if (cosine < worst) {
            worst = cosine;
            worst_i = i;
        }
    }
    print_message("%d sentences: lowest cosine %.7f (sentence %d), max abs diff %.2e\n", n, worst,
                  worst_i, test_max_abs_diff(got, want, n_want));
    if (!(worst >= 0.9999))
        fail_msg("sentence %d (\"%s\"): cosine %.7f with sentence-transformers, expected >= 0.9999",
                 worst_i, texts[worst_i], worst);

    free(got);
    free(want);
    free(texts);
    maas_bert_context_free(ctx);
    cJSON_Delete(json);
}

static void faq_matches_paraphrases(void **state)
{
    maas_bert *model = *state;
    if (!model)
        skip();
    maas_faq *faq = NULL;
    assert_int_equal(maas_faq_load(FAQ, &faq), MAAS_OK);
    maas_bert_context_params one_thread;
    maas_bert_context_params_default(model, &one_thread);
    one_thread.n_threads = 1;
    maas_bert_context *ctx = NULL;
    assert_int_equal(maas_bert_context_create(model, &one_thread, &ctx), MAAS_OK);
    assert_int_equal(maas_faq_embed(faq, ctx, NULL, NULL), MAAS_OK);

    char *text = test_read_file(PARAPHRASES, NULL);
    int n_cases = 0, n_wrong = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *tab = strchr(line, '\t');
        if (!tab)
            fail_msg("%s: line \"%s\" has no tab", PARAPHRASES, line);
        *tab = '\0';
        const char *intended = line, *question = tab + 1;
        n_cases++;

        maas_faq_match m[2];
        int n = 0;
        assert_int_equal(maas_faq_search(faq, ctx, question, 2, m, &n), MAAS_OK);
        assert_int_equal(n, 2);
        const char *got = maas_faq_question(faq, m[0].entry, 0);
        if (strcmp(got, intended) != 0 || m[0].similarity < MAAS_FAQ_DEFAULT_THRESHOLD) {
            print_message("\"%s\": matched \"%s\" (%.2f), expected \"%s\"; runner-up \"%s\" (%.2f)\n",
                          question, got, (double)m[0].similarity, intended,
                          maas_faq_question(faq, m[1].entry, 0), (double)m[1].similarity);
            n_wrong++;
        }
    }
    print_message("%d paraphrased questions, %d matched wrongly or below the threshold %.2f\n",
                  n_cases, n_wrong, (double)MAAS_FAQ_DEFAULT_THRESHOLD);
    assert_true(n_cases >= 30);
    assert_int_equal(n_wrong, 0);

    free(text);
    maas_bert_context_free(ctx);
    maas_faq_free(faq);
}

/* Off-topic questions stay below the threshold, so maas-faq says it does
 * not know instead of guessing. */
static void faq_off_topic_below_threshold(void **state)
{
    maas_bert *model = *state;
    if (!model)
        skip();
    maas_faq *faq = NULL;
    assert_int_equal(maas_faq_load(FAQ, &faq), MAAS_OK);
    maas_bert_context_params one_thread;
    maas_bert_context_params_default(model, &one_thread);
    one_thread.n_threads = 1;
    maas_bert_context *ctx = NULL;
    assert_int_equal(maas_bert_context_create(model, &one_thread, &ctx), MAAS_OK);
    assert_int_equal(maas_faq_embed(faq, ctx, NULL, NULL), MAAS_OK);
    const char *off_topic[] = {
        "What is the meaning of life?",
        "what's the weather like in London today?",
        "who won the football match yesterday",
    };
    for (size_t i = 0; i < sizeof off_topic / sizeof *off_topic; i++) {
        maas_faq_match m;
        int n = 0;
        assert_int_equal(maas_faq_search(faq, ctx, off_topic[i], 1, &m, &n), MAAS_OK);
        if (m.similarity >= MAAS_FAQ_DEFAULT_THRESHOLD)
            fail_msg("\"%s\" matched \"%s\" with %.2f, above the threshold", off_topic[i],
                     maas_faq_question(faq, m.entry, m.question), (double)m.similarity);
    }
    maas_bert_context_free(ctx);
    maas_faq_free(faq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embeddings_match_sentence_transformers),
        cmocka_unit_test(faq_matches_paraphrases),
        cmocka_unit_test(faq_off_topic_below_threshold),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
