/* BERT model against Hugging Face goldens (tools/make_bert_fixtures.py):
 * last hidden state, packed batches, pooling, QA logits, the
 * question-answering pipeline's answers, the position limit, bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "maas.h"
#include "testutil.h"

#define GOLDEN "tests/fixtures/golden/"
#define MODELS "build/fixtures/"

/* f32 models against f32 PyTorch: the tolerance the issue sets. */
#define F32_TOL 1e-4
/* f16 weights round every weight to 11 significant bits, so outputs move by
 * about 1e-3 relative; this only checks the f16 path is wired correctly. */
#define F16_TOL 3e-2

static cJSON *read_json(const char *path)
{
    char *text = test_read_file(path, NULL);
    cJSON *json = cJSON_Parse(text);
    free(text);
    if (!json)
        fail_msg("%s is not valid JSON", path);
    return json;
}

static maas_bert *open_model(const char *path)
{
    maas_bert *model = NULL;
    maas_status st = maas_bert_open(path, &model);
    if (st != MAAS_OK)
        fail_msg("cannot open %s: %s (%s); run `make fixtures` first", path, maas_status_name(st),
                 maas_last_error());
    return model;
}

static maas_bert_context *make_context(const maas_bert *model, int max_tokens, int n_threads)
{
    maas_bert_context_params p;
    maas_bert_context_params_default(model, &p);
    if (max_tokens > 0) {
        p.max_tokens = max_tokens;
        if (p.max_seq_len > max_tokens)
            p.max_seq_len = max_tokens;
    }
    p.n_threads = n_threads;
    maas_bert_context *ctx = NULL;
    maas_status st = maas_bert_context_create(model, &p, &ctx);
    if (st != MAAS_OK)
        fail_msg("context: %s", maas_last_error());
    return ctx;
}

/* The sentences of a golden JSON as packed token ids. */
typedef struct sentences {
    int n;
    int lens[64];
    int32_t ids[4096];
    int total;
    cJSON *json;
} sentences;

static void load_sentences(const char *name, sentences *s)
{
    char path[256];
    snprintf(path, sizeof path, GOLDEN "%s.json", name);
    s->json = read_json(path);
    cJSON *ids = cJSON_GetObjectItem(s->json, "ids");
    s->n = cJSON_GetArraySize(ids);
    s->total = 0;
    for (int i = 0; i < s->n; i++) {
        cJSON *seq = cJSON_GetArrayItem(ids, i);
        s->lens[i] = cJSON_GetArraySize(seq);
        for (int t = 0; t < s->lens[i]; t++)
            s->ids[s->total++] = (int32_t)cJSON_GetArrayItem(seq, t)->valueint;
    }
}

static float *golden_f32(const char *name, const char *suffix, size_t expect)
{
    char path[256];
    snprintf(path, sizeof path, GOLDEN "%s.%s", name, suffix);
    size_t n;
    float *data = test_read_f32(path, &n);
    if (n != expect)
        fail_msg("%s has %zu floats, expected %zu", path, n, expect);
    return data;
}

/* ---- last hidden state ---- */

static void check_hidden_alone(const char *name, const char *model_path, double tol, int threads)
{
    sentences s;
    load_sentences(name, &s);
    maas_bert *model = open_model(model_path);
    const int C = maas_bert_get_config(model)->hidden_size;
    maas_bert_context *ctx = make_context(model, 0, threads);
    float *want = golden_f32(name, "hidden.bin", (size_t)s.total * C);
    float *got = malloc((size_t)s.total * C * sizeof(float));

    /* Each sentence alone. */
    int first = 0;
    for (int i = 0; i < s.n; i++) {
        maas_bert_batch b = {1, &s.lens[i], s.ids + first, NULL};
        assert_int_equal(maas_bert_hidden(ctx, &b, got + (size_t)first * C), MAAS_OK);
        first += s.lens[i];
    }
    char what[128];
    snprintf(what, sizeof what, "%s last hidden state, one sentence at a time", name);
    test_assert_close(what, got, want, (size_t)s.total * C, tol, 0);

    free(got);
    free(want);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
    cJSON_Delete(s.json);
}

static void hidden_tiny_matches_golden(void **state)
{
    (void)state;
    check_hidden_alone("bert-tiny", MODELS "bert-tiny.maas", F32_TOL, 1);
}

static void hidden_odd_sizes_match_golden(void **state)
{
    (void)state;
    check_hidden_alone("bert-odd", MODELS "bert-odd.maas", F32_TOL, 2);
}

static void hidden_f16_weights_close(void **state)
{
    (void)state;
    check_hidden_alone("bert-tiny", MODELS "bert-tiny-f16.maas", F16_TOL, 1);
    check_hidden_alone("bert-odd", MODELS "bert-odd-f16.maas", F16_TOL, 2);
}

/* The whole set packed in one batch against Hugging Face's padded batch with
 * an attention mask; 1 and 2 threads (2 threads attend one sequence per
 * thread). */
static void check_packed_batch(const char *name, const char *model_path, int threads)
{
    sentences s;
    load_sentences(name, &s);
    maas_bert *model = open_model(model_path);
    const int C = maas_bert_get_config(model)->hidden_size;
    maas_bert_context *ctx = make_context(model, 0, threads);
    float *want = golden_f32(name, "batch_hidden.bin", (size_t)s.total * C);
    float *got = malloc((size_t)s.total * C * sizeof(float));

    maas_bert_batch b = {s.n, s.lens, s.ids, NULL};
    assert_int_equal(maas_bert_hidden(ctx, &b, got), MAAS_OK);
    char what[128];
    snprintf(what, sizeof what, "%s packed batch vs padded batch, %d threads", name, threads);
    test_assert_close(what, got, want, (size_t)s.total * C, F32_TOL, 0);

    free(got);
    free(want);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
    cJSON_Delete(s.json);
}

static void packed_batch_matches_padded(void **state)
{
    (void)state;
    check_packed_batch("bert-tiny", MODELS "bert-tiny.maas", 1);
    check_packed_batch("bert-tiny", MODELS "bert-tiny.maas", 2);
    check_packed_batch("bert-odd", MODELS "bert-odd.maas", 1);
    check_packed_batch("bert-odd", MODELS "bert-odd.maas", 2);
}

/* ---- pooling ---- */

static void check_pooled(const char *name, const char *model_path, maas_pooling want_pooling,
                         bool want_normalize)
{
    sentences s;
    load_sentences(name, &s);
    maas_bert *model = open_model(model_path);
    const maas_bert_config *cfg = maas_bert_get_config(model);
    const int C = cfg->hidden_size;
    assert_true(cfg->has_pooling_config);
    assert_int_equal(cfg->pooling, want_pooling);
    assert_int_equal(cfg->normalize, want_normalize);
    float *want = golden_f32(name, "pooled.bin", (size_t)s.n * C);
    float *got = malloc((size_t)s.n * C * sizeof(float));
    char what[160];

    /* From ids, with the file's pooling. */
    maas_bert_context *ctx = make_context(model, 0, 1);
    maas_bert_batch b = {s.n, s.lens, s.ids, NULL};
    assert_int_equal(maas_bert_pool(ctx, &b, cfg->pooling, cfg->normalize, got), MAAS_OK);
    snprintf(what, sizeof what, "%s pooled from ids", name);
    test_assert_close(what, got, want, (size_t)s.n * C, F32_TOL, 0);

    /* From text, through the tokenizer, in a context so small that the
     * sentences need several passes. */
    cJSON *texts_json = cJSON_GetObjectItem(s.json, "sentences");
    const char *texts[64];
    for (int i = 0; i < s.n; i++)
        texts[i] = cJSON_GetArrayItem(texts_json, i)->valuestring;
    maas_bert_context *small = NULL;
    maas_bert_context_params p;
    maas_bert_context_params_default(model, &p);
    p.max_seq_len = 32;
    p.max_tokens = 40;
    p.n_threads = 1;
    assert_int_equal(maas_bert_context_create(model, &p, &small), MAAS_OK);
    memset(got, 0, (size_t)s.n * C * sizeof(float));
    assert_int_equal(maas_bert_embed(small, texts, s.n, NULL, got), MAAS_OK);
    snprintf(what, sizeof what, "%s embedded from text in several passes", name);
    test_assert_close(what, got, want, (size_t)s.n * C, F32_TOL, 0);

    free(got);
    free(want);
    maas_bert_context_free(small);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
    cJSON_Delete(s.json);
}

static void pooled_mean_normalized(void **state)
{
    (void)state;
    check_pooled("bert-tiny", MODELS "bert-tiny.maas", MAAS_POOLING_MEAN, true);
}

static void pooled_cls_odd_sizes(void **state)
{
    (void)state;
    check_pooled("bert-odd", MODELS "bert-odd.maas", MAAS_POOLING_CLS, false);
}

static void pooling_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < MAAS_POOLING_COUNT; i++) {
        maas_pooling p;
        assert_int_equal(maas_pooling_from_name(maas_pooling_name((maas_pooling)i), &p), MAAS_OK);
        assert_int_equal(p, i);
    }
    maas_pooling p;
    assert_int_equal(maas_pooling_from_name("sum", &p), MAAS_ERR_INVALID_ARGUMENT);
    assert_null(maas_pooling_name(MAAS_POOLING_COUNT));
}

/* One model shared by two threads, each with its own context: both get the
 * golden embeddings. */
typedef struct shared_job {
    const maas_bert *model;
    const sentences *s;
    float *out;
    maas_status status;
} shared_job;

static void *embed_in_thread(void *arg)
{
    shared_job *job = arg;
    maas_bert_context_params p;
    maas_bert_context_params_default(job->model, &p);
    p.n_threads = 1;
    maas_bert_context *ctx = NULL;
    job->status = maas_bert_context_create(job->model, &p, &ctx);
    const maas_bert_config *cfg = maas_bert_get_config(job->model);
    maas_bert_batch b = {job->s->n, job->s->lens, job->s->ids, NULL};
    for (int round = 0; round < 20 && job->status == MAAS_OK; round++)
        job->status = maas_bert_pool(ctx, &b, cfg->pooling, cfg->normalize, job->out);
    maas_bert_context_free(ctx);
    return NULL;
}

static void model_shared_across_threads(void **state)
{
    (void)state;
    sentences s;
    load_sentences("bert-tiny", &s);
    maas_bert *model = open_model(MODELS "bert-tiny.maas");
    const int C = maas_bert_get_config(model)->hidden_size;
    float *want = golden_f32("bert-tiny", "pooled.bin", (size_t)s.n * C);
    shared_job jobs[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        jobs[i] = (shared_job){model, &s, malloc((size_t)s.n * C * sizeof(float)), MAAS_OK};
        assert_int_equal(pthread_create(&threads[i], NULL, embed_in_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].status, MAAS_OK);
        test_assert_close("pooled in a second thread", jobs[i].out, want, (size_t)s.n * C, F32_TOL, 0);
        free(jobs[i].out);
    }
    free(want);
    maas_bert_free(model);
    cJSON_Delete(s.json);
}

/* ---- question answering ---- */

static void qa_logits_match_golden(void **state)
{
    (void)state;
    cJSON *json = read_json(GOLDEN "bert-qa-tiny.json");
    cJSON *cases = cJSON_GetObjectItem(json, "logit_cases");
    maas_bert *model = open_model(MODELS "bert-qa-tiny.maas");
    assert_true(maas_bert_get_config(model)->has_qa_head);
    maas_bert_context *ctx = make_context(model, 0, 1);

    int lens[8], n = cJSON_GetArraySize(cases), total = 0;
    int32_t ids[2048], types[2048];
    for (int i = 0; i < n; i++) {
        cJSON *c = cJSON_GetArrayItem(cases, i);
        cJSON *cid = cJSON_GetObjectItem(c, "ids"), *ctype = cJSON_GetObjectItem(c, "type_ids");
        lens[i] = cJSON_GetArraySize(cid);
        for (int t = 0; t < lens[i]; t++) {
            ids[total + t] = cJSON_GetArrayItem(cid, t)->valueint;
            types[total + t] = cJSON_GetArrayItem(ctype, t)->valueint;
        }
        total += lens[i];
    }
    float *want_start = golden_f32("bert-qa-tiny", "start_logits.bin", (size_t)total);
    float *want_end = golden_f32("bert-qa-tiny", "end_logits.bin", (size_t)total);
    float start[2048], end[2048];
    maas_bert_batch b = {n, lens, ids, types};
    assert_int_equal(maas_bert_qa_logits(ctx, &b, start, end), MAAS_OK);
    test_assert_close("QA start logits", start, want_start, (size_t)total, F32_TOL, 0);
    test_assert_close("QA end logits", end, want_end, (size_t)total, F32_TOL, 0);

    free(want_start);
    free(want_end);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
    cJSON_Delete(json);
}

static int json_int(cJSON *obj, const char *key, int fallback)
{
    cJSON *item = cJSON_GetObjectItem(obj, key);
    return item ? item->valueint : fallback;
}

static void check_pipeline_cases(const char *model_path, int max_tokens, double score_tol)
{
    cJSON *json = read_json(GOLDEN "bert-qa-tiny.json");
    cJSON *cases = cJSON_GetObjectItem(json, "pipeline");
    maas_bert *model = open_model(model_path);
    maas_bert_context *ctx = make_context(model, max_tokens, 1);

    for (int i = 0; i < cJSON_GetArraySize(cases); i++) {
        cJSON *c = cJSON_GetArrayItem(cases, i);
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const char *question = cJSON_GetObjectItem(c, "question")->valuestring;
        const char *context = cJSON_GetObjectItem(c, "context")->valuestring;
        maas_qa_options o;
        maas_qa_options_default(&o);
        o.top_k = json_int(c, "top_k", 1);
        o.max_seq_len = json_int(c, "max_seq_len", 0);
        o.doc_stride = json_int(c, "doc_stride", -1);
        o.max_answer_len = json_int(c, "max_answer_len", 15);
        o.handle_impossible_answer = cJSON_IsTrue(cJSON_GetObjectItem(c, "handle_impossible_answer"));

        maas_qa_result r;
        maas_status st = maas_bert_qa(ctx, question, strlen(question), context, strlen(context), &o, &r);
        if (st != MAAS_OK)
            fail_msg("case %s: %s", name, maas_last_error());
        if (r.n_windows != json_int(c, "windows", -1))
            fail_msg("case %s: %d windows, the pipeline used %d", name, r.n_windows,
                     json_int(c, "windows", -1));

        cJSON *answers = cJSON_GetObjectItem(c, "answers");
        if (r.n_answers != cJSON_GetArraySize(answers))
            fail_msg("case %s: %d answers, expected %d", name, r.n_answers, cJSON_GetArraySize(answers));
        for (int a = 0; a < r.n_answers; a++) {
            cJSON *want = cJSON_GetArrayItem(answers, a);
            const char *text = cJSON_GetObjectItem(want, "answer")->valuestring;
            double score = cJSON_GetObjectItem(want, "score")->valuedouble;
            if (strcmp(r.answers[a].text, text) != 0)
                fail_msg("case %s answer %d: \"%s\", expected \"%s\"", name, a, r.answers[a].text, text);
            if (r.answers[a].start != json_int(want, "start", -1) ||
                r.answers[a].end != json_int(want, "end", -1))
                fail_msg("case %s answer %d: characters [%d, %d), expected [%d, %d)", name, a,
                         r.answers[a].start, r.answers[a].end, json_int(want, "start", -1),
                         json_int(want, "end", -1));
            if (!(fabs(r.answers[a].score - score) <= score_tol))
                fail_msg("case %s answer %d: score %.7f, expected %.7f", name, a,
                         (double)r.answers[a].score, score);
            /* The text is the context's own bytes at the reported offsets. */
            assert_memory_equal(context + r.answers[a].byte_start, r.answers[a].text,
                                strlen(r.answers[a].text));
        }
        maas_qa_result_free(&r);
    }

    maas_bert_context_free(ctx);
    maas_bert_free(model);
    cJSON_Delete(json);
}

static void qa_answers_match_pipeline(void **state)
{
    (void)state;
    check_pipeline_cases(MODELS "bert-qa-tiny.maas", 0, 1e-4);
}

/* A context with room for one 384-token window per pass: the windows of the
 * long cases run in several passes. */
static void qa_windows_in_several_passes(void **state)
{
    (void)state;
    check_pipeline_cases(MODELS "bert-qa-tiny.maas", 400, 1e-4);
}

/* The result's first-window logits are the model's logits of
 * [CLS] question [SEP] context [SEP]. */
static void qa_first_window_logits(void **state)
{
    (void)state;
    cJSON *json = read_json(GOLDEN "bert-qa-tiny.json");
    cJSON *cases = cJSON_GetObjectItem(json, "logit_cases");
    size_t total = 0;
    for (int i = 0; i < cJSON_GetArraySize(cases); i++)
        total += (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(cases, i), "ids"));
    float *want_start = golden_f32("bert-qa-tiny", "start_logits.bin", total);
    float *want_end = golden_f32("bert-qa-tiny", "end_logits.bin", total);

    cJSON *c0 = cJSON_GetArrayItem(cases, 0);
    const char *question = cJSON_GetObjectItem(c0, "question")->valuestring;
    const char *context = cJSON_GetObjectItem(c0, "context")->valuestring;
    int len = cJSON_GetArraySize(cJSON_GetObjectItem(c0, "ids"));
    maas_bert *model = open_model(MODELS "bert-qa-tiny.maas");
    maas_bert_context *ctx = make_context(model, 0, 1);
    maas_qa_result r;
    assert_int_equal(maas_bert_qa(ctx, question, strlen(question), context, strlen(context), NULL, &r),
                     MAAS_OK);
    assert_int_equal(r.n_windows, 1);
    assert_int_equal(r.first_window_len, len);
    test_assert_close("first window start logits", r.first_start_logits, want_start, (size_t)len,
                      F32_TOL, 0);
    test_assert_close("first window end logits", r.first_end_logits, want_end, (size_t)len, F32_TOL, 0);

    maas_qa_result_free(&r);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
    free(want_start);
    free(want_end);
    cJSON_Delete(json);
}

static void qa_empty_context_no_answer(void **state)
{
    (void)state;
    maas_bert *model = open_model(MODELS "bert-qa-tiny.maas");
    maas_bert_context *ctx = make_context(model, 0, 1);
    maas_qa_result r;
    assert_int_equal(maas_bert_qa(ctx, "Where?", 6, "", 0, NULL, &r), MAAS_OK);
    assert_int_equal(r.n_answers, 0);
    assert_int_equal(r.n_windows, 0);
    assert_null(r.first_start_logits);
    maas_qa_result_free(&r);
    assert_int_equal(maas_bert_qa(ctx, "Where?", 6, "   \n ", 5, NULL, &r), MAAS_OK);
    assert_int_equal(r.n_answers, 0);
    maas_qa_result_free(&r);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
}

static void qa_bad_options_rejected(void **state)
{
    (void)state;
    maas_bert *model = open_model(MODELS "bert-qa-tiny.maas");
    maas_bert_context *ctx = make_context(model, 0, 1);
    const char *ctx_text = "Orders placed before 2 pm on a business day ship the same day from our "
                           "warehouse in Leeds, and standard shipping takes two to four days.";
    size_t n = strlen(ctx_text);
    maas_qa_result r;
    maas_qa_options o;

    /* A window of 24 tokens has room for 24 - Q - 3 context tokens; a
     * stride of that many would not advance. */
    const char *question = "When do orders ship";
    maas_encoding qenc = {0};
    maas_encode_options no_special = {false, false};
    assert_int_equal(maas_tokenizer_encode(maas_bert_get_tokenizer(model), question, strlen(question),
                                           &no_special, &qenc), MAAS_OK);
    int room = 24 - qenc.n - 3;
    maas_encoding_free(&qenc);
    maas_qa_options_default(&o);
    o.max_seq_len = 24;
    o.doc_stride = room;
    assert_int_equal(maas_bert_qa(ctx, question, strlen(question), ctx_text, n, &o, &r),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(r.n_answers, 0);
    o.doc_stride = room - 1;
    assert_int_equal(maas_bert_qa(ctx, question, strlen(question), ctx_text, n, &o, &r), MAAS_OK);
    assert_true(r.n_windows > 1);
    maas_qa_result_free(&r);
    o.doc_stride = -2;
    assert_int_equal(maas_bert_qa(ctx, "When?", 5, ctx_text, n, &o, &r), MAAS_ERR_INVALID_ARGUMENT);

    maas_qa_options_default(&o);
    o.top_k = 0;
    assert_int_equal(maas_bert_qa(ctx, "When?", 5, ctx_text, n, &o, &r), MAAS_ERR_INVALID_ARGUMENT);
    maas_qa_options_default(&o);
    o.max_answer_len = 0;
    assert_int_equal(maas_bert_qa(ctx, "When?", 5, ctx_text, n, &o, &r), MAAS_ERR_INVALID_ARGUMENT);

    /* Past the model's 512 positions, and a question that fills the window. */
    maas_qa_options_default(&o);
    o.max_seq_len = 513;
    assert_int_equal(maas_bert_qa(ctx, "When?", 5, ctx_text, n, &o, &r), MAAS_ERR_CONTEXT_FULL);
    maas_qa_options_default(&o);
    o.max_seq_len = 8;
    assert_int_equal(maas_bert_qa(ctx, "When do orders ship from Leeds?", 31, ctx_text, n, &o, &r),
                     MAAS_ERR_CONTEXT_FULL);

    /* Empty question, invalid UTF-8, a model without a QA head. */
    assert_int_equal(maas_bert_qa(ctx, "", 0, ctx_text, n, NULL, &r), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_bert_qa(ctx, "When?", 5, "ab\xff", 3, NULL, &r), MAAS_ERR_INVALID_UTF8);
    maas_bert *plain = open_model(MODELS "bert-tiny.maas");
    maas_bert_context *plain_ctx = make_context(plain, 0, 1);
    assert_int_equal(maas_bert_qa(plain_ctx, "When?", 5, ctx_text, n, NULL, &r), MAAS_ERR_UNSUPPORTED);
    float s[4], e[4];
    int len = 2;
    int32_t ids[2] = {2, 3};
    maas_bert_batch b = {1, &len, ids, NULL};
    assert_int_equal(maas_bert_qa_logits(plain_ctx, &b, s, e), MAAS_ERR_UNSUPPORTED);

    maas_bert_context_free(plain_ctx);
    maas_bert_free(plain);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
}

/* ---- limits and bad input ---- */

static void position_limit_enforced(void **state)
{
    (void)state;
    maas_bert *model = open_model(MODELS "bert-odd.maas");
    const maas_bert_config *cfg = maas_bert_get_config(model);
    assert_int_equal(cfg->max_positions, 40);
    maas_bert_context *ctx = make_context(model, 0, 1);
    const int C = cfg->hidden_size;
    int32_t ids[41];
    for (int i = 0; i < 41; i++)
        ids[i] = 10 + i;
    float *out = malloc(41 * (size_t)C * sizeof(float));

    int len = 41;
    maas_bert_batch b = {1, &len, ids, NULL};
    assert_int_equal(maas_bert_hidden(ctx, &b, out), MAAS_ERR_CONTEXT_FULL);
    assert_non_null(strstr(maas_last_error(), "40"));
    len = 40;
    assert_int_equal(maas_bert_hidden(ctx, &b, out), MAAS_OK);

    /* A context cannot be larger than the positions. */
    maas_bert_context_params p;
    maas_bert_context_params_default(model, &p);
    p.max_seq_len = 41;
    maas_bert_context *big = NULL;
    assert_int_equal(maas_bert_context_create(model, &p, &big), MAAS_ERR_INVALID_ARGUMENT);
    assert_null(big);

    /* Text longer than the positions: rejected by default, naming the
     * text, its token count and the limit; cut when asked. */
    char text[1024] = "";
    for (int i = 0; i < 60; i++)
        strcat(text, "order ");
    const char *texts[2] = {"short", text};
    maas_embed_options o;
    maas_embed_options_default(model, &o);
    assert_false(o.truncate);
    assert_int_equal(maas_bert_embed(ctx, texts, 2, &o, out), MAAS_ERR_CONTEXT_FULL);
    assert_non_null(strstr(maas_last_error(), "text 1 has "));
    assert_non_null(strstr(maas_last_error(), "limit of"));
    o.truncate = true;
    assert_int_equal(maas_bert_embed(ctx, texts, 2, &o, out), MAAS_OK);

    free(out);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
}

/* A NUL byte in the context or question is rejected, because the answer
 * text could not equal the context between its offsets. */
static void qa_nul_byte_rejected(void **state)
{
    (void)state;
    maas_bert *model = open_model(MODELS "bert-qa-tiny.maas");
    maas_bert_context *ctx = make_context(model, 0, 1);
    maas_qa_result r;
    const char context[] = "Hello\0world";
    assert_int_equal(maas_bert_qa(ctx, "what", 4, context, sizeof context - 1, NULL, &r),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "NUL byte at byte 5"));
    assert_int_equal(r.n_answers, 0);
    const char question[] = "wh\0at";
    assert_int_equal(maas_bert_qa(ctx, question, sizeof question - 1, "Hello world", 11, NULL, &r),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "NUL byte at byte 2"));
    maas_bert_context_free(ctx);
    maas_bert_free(model);
}

/* "pooling.max_seq_length" (sentence_bert_config.json's max_seq_length,
 * 128 in the fixtures) is the embedding limit, bounded by the positions. */
static void embed_limit_from_file(void **state)
{
    (void)state;
    maas_bert *tiny = open_model(MODELS "bert-tiny.maas");
    assert_int_equal(maas_bert_get_config(tiny)->embed_max_length, 128);
    maas_embed_options o;
    maas_embed_options_default(tiny, &o);
    assert_int_equal(o.max_length, 128);
    maas_bert_free(tiny);

    maas_bert *odd = open_model(MODELS "bert-odd.maas");
    assert_int_equal(maas_bert_get_config(odd)->max_positions, 40);
    assert_int_equal(maas_bert_get_config(odd)->embed_max_length, 40);
    maas_bert_free(odd);

    /* A folder without sentence-transformers files has no limit key. */
    maas_bert *qa = open_model(MODELS "bert-qa-tiny.maas");
    assert_int_equal(maas_bert_get_config(qa)->embed_max_length, 0);
    maas_embed_options_default(qa, &o);
    assert_int_equal(o.max_length, 0);
    maas_bert_free(qa);
}

/* An empty text is embedded as [CLS] [SEP], like sentence-transformers. */
static void embed_empty_text(void **state)
{
    (void)state;
    maas_bert *model = open_model(MODELS "bert-tiny.maas");
    maas_bert_context *ctx = make_context(model, 0, 1);
    const maas_tokenizer *tok = maas_bert_get_tokenizer(model);
    int32_t ids[2] = {maas_tokenizer_special_id(tok, MAAS_SPECIAL_CLS),
                      maas_tokenizer_special_id(tok, MAAS_SPECIAL_SEP)};
    int len = 2;
    maas_bert_batch b = {1, &len, ids, NULL};
    const maas_bert_config *cfg = maas_bert_get_config(model);
    float want[32], got[3 * 32];
    assert_int_equal(cfg->hidden_size, 32);
    assert_int_equal(maas_bert_pool(ctx, &b, cfg->pooling, cfg->normalize, want), MAAS_OK);
    const char *texts[3] = {"a", "", "b"};
    assert_int_equal(maas_bert_embed(ctx, texts, 3, NULL, got), MAAS_OK);
    for (int j = 0; j < 32; j++)
        assert_float_equal(got[32 + j], want[j], 1e-6);
    maas_bert_context_free(ctx);
    maas_bert_free(model);
}

static void bad_batches_rejected(void **state)
{
    (void)state;
    maas_bert *model = open_model(MODELS "bert-tiny.maas");
    const maas_bert_config *cfg = maas_bert_get_config(model);
    maas_bert_context *ctx = make_context(model, 64, 1);
    float out[64 * 32];
    int32_t ids[3] = {2, 50, 3}, types[3] = {0, 1, 2};
    int len = 3;

    maas_bert_batch b = {1, &len, ids, NULL};
    ids[1] = cfg->vocab_size;
    assert_int_equal(maas_bert_hidden(ctx, &b, out), MAAS_ERR_INVALID_ARGUMENT);
    ids[1] = -1;
    assert_int_equal(maas_bert_hidden(ctx, &b, out), MAAS_ERR_INVALID_ARGUMENT);
    ids[1] = 50;
    b.type_ids = types;
    assert_int_equal(maas_bert_hidden(ctx, &b, out), MAAS_ERR_INVALID_ARGUMENT);
    b.type_ids = NULL;
    b.n_seqs = 0;
    assert_int_equal(maas_bert_hidden(ctx, &b, out), MAAS_ERR_INVALID_ARGUMENT);
    b.n_seqs = 1;
    len = 0;
    assert_int_equal(maas_bert_hidden(ctx, &b, out), MAAS_ERR_INVALID_ARGUMENT);
    len = 3;
    assert_int_equal(maas_bert_hidden(ctx, &b, NULL), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_bert_pool(ctx, &b, MAAS_POOLING_COUNT, false, out), MAAS_ERR_INVALID_ARGUMENT);

    /* More tokens than the context holds. */
    int lens[3] = {30, 30, 30};
    int32_t many[90];
    for (int i = 0; i < 90; i++)
        many[i] = 5;
    maas_bert_batch big = {3, lens, many, NULL};
    assert_int_equal(maas_bert_hidden(ctx, &big, out), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_bert_hidden(ctx, &b, out), MAAS_OK);

    /* Text input: invalid UTF-8 and NULL texts. */
    const char *bad[2] = {"fine", "caf\xc3"};
    assert_int_equal(maas_bert_embed(ctx, bad, 2, NULL, out), MAAS_ERR_INVALID_UTF8);
    const char *null_text[1] = {NULL};
    assert_int_equal(maas_bert_embed(ctx, null_text, 1, NULL, out), MAAS_ERR_INVALID_ARGUMENT);

    maas_bert_context_free(ctx);
    maas_bert_free(model);

    /* Files that are not BERT models. */
    maas_bert *none = NULL;
    assert_int_not_equal(maas_bert_open("tests/fixtures/golden/bert-tiny.json", &none), MAAS_OK);
    assert_null(none);
    assert_int_not_equal(maas_bert_open("build/fixtures/no-such-model.maas", &none), MAAS_OK);
    maas_bert_free(NULL);
    maas_bert_context_free(NULL);
    maas_qa_result_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hidden_tiny_matches_golden),
        cmocka_unit_test(hidden_odd_sizes_match_golden),
        cmocka_unit_test(hidden_f16_weights_close),
        cmocka_unit_test(packed_batch_matches_padded),
        cmocka_unit_test(pooled_mean_normalized),
        cmocka_unit_test(pooled_cls_odd_sizes),
        cmocka_unit_test(pooling_names_round_trip),
        cmocka_unit_test(model_shared_across_threads),
        cmocka_unit_test(qa_logits_match_golden),
        cmocka_unit_test(qa_answers_match_pipeline),
        cmocka_unit_test(qa_windows_in_several_passes),
        cmocka_unit_test(qa_first_window_logits),
        cmocka_unit_test(qa_empty_context_no_answer),
        cmocka_unit_test(qa_bad_options_rejected),
        cmocka_unit_test(position_limit_enforced),
        cmocka_unit_test(bad_batches_rejected),
        cmocka_unit_test(qa_nul_byte_rejected),
        cmocka_unit_test(embed_limit_from_file),
        cmocka_unit_test(embed_empty_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
