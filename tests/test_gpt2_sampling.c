/* GPT-2 sampling and streaming: the sampler's filters on hand-made logits
 * (expected sets computed from the probabilities), seeds, and stop strings
 * held back in streamed text on the gpt2-tiny fixture. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "maas.h"
#include "testutil.h"

#define DRAWS 4000

/* Logits whose softmax is `probs` (natural log; an additive constant does
 * not change the softmax). */
static void logits_from_probs(float *logits, const double *probs, int n)
{
    for (int i = 0; i < n; i++)
        logits[i] = (float)log(probs[i]) + 3.0f;
}

static maas_sampler *new_sampler(float temperature, int top_k, float top_p,
                                 float min_p, uint64_t seed, int V)
{
    maas_sampling_params p;
    maas_sampling_params_default(&p);
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    maas_sampler *s = NULL;
    maas_status st = maas_sampler_create(&p, V, &s);
    if (st != MAAS_OK)
        fail_msg("sampler: %s", maas_last_error());
    return s;
}

/* Draws DRAWS tokens and counts each id. */
static void count_draws(maas_sampler *s, const float *logits, int V, int *counts)
{
    memset(counts, 0, (size_t)V * sizeof *counts);
    for (int i = 0; i < DRAWS; i++) {
        int32_t id = -1;
        assert_int_equal(maas_sampler_sample(s, logits, NULL, 0, &id), MAAS_OK);
        assert_true(id >= 0 && id < V);
        counts[id]++;
    }
}

/* Asserts that exactly the ids with allowed[i] != 0 were drawn. */
static void assert_drawn_set(const int *counts, const int *allowed, int V,
                             const char *what)
{
    for (int i = 0; i < V; i++) {
        if (allowed[i] && counts[i] == 0)
            fail_msg("%s: token %d should be kept but was never drawn", what, i);
        if (!allowed[i] && counts[i] != 0)
            fail_msg("%s: token %d should be filtered but was drawn %d times",
                     what, i, counts[i]);
    }
}

/* ---- greedy and its equivalents ---------------------------------------------------- */

static void greedy_takes_largest_lowest_on_ties(void **state)
{
    (void)state;
    const float logits[6] = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f, 0.0f};
    int32_t id;
    maas_sampler *s = new_sampler(0.0f, 0, 1.0f, 0.0f, 1, 6);
    assert_int_equal(maas_sampler_sample(s, logits, NULL, 0, &id), MAAS_OK);
    assert_int_equal(id, 1);
    maas_sampler_free(s);

    /* A negative temperature is greedy too. */
    s = new_sampler(-1.0f, 0, 1.0f, 0.0f, 1, 6);
    assert_int_equal(maas_sampler_sample(s, logits, NULL, 0, &id), MAAS_OK);
    assert_int_equal(id, 1);
    maas_sampler_free(s);
}

/* top-k 1 is greedy whatever the temperature and seed. */
static void top_k_one_is_greedy_any_temperature(void **state)
{
    (void)state;
    float logits[50];
    for (int i = 0; i < 50; i++)
        logits[i] = sinf((float)i * 1.7f);
    int32_t want = 0;
    for (int i = 1; i < 50; i++)
        if (logits[i] > logits[want])
            want = i;

    const float temps[] = {0.0f, 0.1f, 1.0f, 5.0f, 100.0f};
    for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++)
        for (uint64_t seed = 1; seed <= 20; seed++) {
            maas_sampler *s = new_sampler(temps[t], 1, 1.0f, 0.0f, seed, 50);
            int32_t id;
            assert_int_equal(maas_sampler_sample(s, logits, NULL, 0, &id), MAAS_OK);
            assert_int_equal(id, want);
            maas_sampler_free(s);
        }
}

/* top_p 0 keeps only the best token: greedy. */
static void top_p_zero_is_greedy(void **state)
{
    (void)state;
    const double probs[4] = {0.3, 0.4, 0.2, 0.1};
    float logits[4];
    logits_from_probs(logits, probs, 4);
    int counts[4];
    maas_sampler *s = new_sampler(1.0f, 0, 0.0f, 0.0f, 7, 4);
    count_draws(s, logits, 4, counts);
    assert_int_equal(counts[1], DRAWS);
    maas_sampler_free(s);
}

/* ---- filters -------------------------------------------------------------------------- */

/* The nucleus is the smallest set of most probable tokens whose total
 * reaches top_p: with probabilities .4 .25 .2 .1 .05, top_p .6 keeps two
 * (.65), .7 keeps three (.85), .9 keeps four (.95) and 1 keeps all. */
static void top_p_keeps_smallest_set_reaching_p(void **state)
{
    (void)state;
    const double probs[5] = {0.25, 0.05, 0.4, 0.1, 0.2};
    float logits[5];
    logits_from_probs(logits, probs, 5);
    const struct {
        float top_p;
        int allowed[5];
    } cases[] = {
        {0.3f, {0, 0, 1, 0, 0}},
        {0.6f, {1, 0, 1, 0, 0}},
        {0.7f, {1, 0, 1, 0, 1}},
        {0.9f, {1, 0, 1, 1, 1}},
        {1.0f, {1, 1, 1, 1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        maas_sampler *s = new_sampler(1.0f, 0, cases[c].top_p, 0.0f, 3, 5);
        int counts[5];
        char what[64];
        snprintf(what, sizeof what, "top_p %.2f", (double)cases[c].top_p);
        count_draws(s, logits, 5, counts);
        assert_drawn_set(counts, cases[c].allowed, 5, what);
        maas_sampler_free(s);
    }
}

/* The same on a large vocabulary where most tokens are unlikely, so the
 * nucleus is found among the likely tokens only. */
static void top_p_large_vocabulary(void **state)
{
    (void)state;
    enum { V = 5000 };
    static float logits[V];
    static int counts[V], allowed[V];
    for (int i = 0; i < V; i++)
        logits[i] = -10.0f - (float)(i % 7);
    /* Three likely tokens: probabilities about .5, .3, .2 of nearly all mass. */
    logits[4000] = (float)log(0.5) + 20.0f;
    logits[17] = (float)log(0.3) + 20.0f;
    logits[2500] = (float)log(0.2) + 20.0f;
    memset(allowed, 0, sizeof allowed);
    allowed[4000] = allowed[17] = 1;
    maas_sampler *s = new_sampler(1.0f, 0, 0.75f, 0.0f, 11, V);
    count_draws(s, logits, V, counts);
    assert_drawn_set(counts, allowed, V, "top_p 0.75 over 5000 tokens");
    maas_sampler_free(s);
}

static void top_k_keeps_k_largest(void **state)
{
    (void)state;
    const double probs[6] = {0.1, 0.3, 0.05, 0.25, 0.2, 0.1};
    float logits[6];
    logits_from_probs(logits, probs, 6);
    const struct {
        int top_k;
        int allowed[6];
    } cases[] = {
        {2, {0, 1, 0, 1, 0, 0}},
        {3, {0, 1, 0, 1, 1, 0}},
        {0, {1, 1, 1, 1, 1, 1}},   /* 0: no top-k */
        {6, {1, 1, 1, 1, 1, 1}},   /* k == V */
        {60, {1, 1, 1, 1, 1, 1}},  /* k > V */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        maas_sampler *s = new_sampler(1.0f, cases[c].top_k, 1.0f, 0.0f, 5, 6);
        int counts[6];
        char what[64];
        snprintf(what, sizeof what, "top_k %d", cases[c].top_k);
        count_draws(s, logits, 6, counts);
        assert_drawn_set(counts, cases[c].allowed, 6, what);
        maas_sampler_free(s);
    }
}

/* min_p drops tokens below min_p times the best probability. */
static void min_p_relative_to_best(void **state)
{
    (void)state;
    const double probs[4] = {0.1, 0.45, 0.3, 0.15};  /* relative 0.22 1 0.67 0.33 */
    float logits[4];
    logits_from_probs(logits, probs, 4);
    const int allowed[4] = {0, 1, 1, 0};
    int counts[4];
    maas_sampler *s = new_sampler(1.0f, 0, 1.0f, 0.5f, 9, 4);
    count_draws(s, logits, 4, counts);
    assert_drawn_set(counts, allowed, 4, "min_p 0.5");
    maas_sampler_free(s);
}

/* With no filter the draws follow the softmax: each frequency within 0.03
 * of its probability over 4000 draws (about 4 standard deviations). */
static void draws_follow_probabilities(void **state)
{
    (void)state;
    const double probs[4] = {0.5, 0.3, 0.15, 0.05};
    float logits[4];
    logits_from_probs(logits, probs, 4);
    int counts[4];
    maas_sampler *s = new_sampler(1.0f, 0, 1.0f, 0.0f, 2024, 4);
    count_draws(s, logits, 4, counts);
    for (int i = 0; i < 4; i++)
        assert_true(fabs((double)counts[i] / DRAWS - probs[i]) < 0.03);
    maas_sampler_free(s);

    /* Temperature 2 flattens: p ~ sqrt(probs), renormalised. */
    double flat[4], total = 0.0;
    for (int i = 0; i < 4; i++)
        total += flat[i] = sqrt(probs[i]);
    s = new_sampler(2.0f, 0, 1.0f, 0.0f, 2025, 4);
    count_draws(s, logits, 4, counts);
    for (int i = 0; i < 4; i++)
        assert_true(fabs((double)counts[i] / DRAWS - flat[i] / total) < 0.03);
    maas_sampler_free(s);
}

/* Hugging Face's rule: a seen token's logit is divided by the penalty when
 * positive and multiplied by it when negative, once however often seen. */
static void repetition_penalty_rule(void **state)
{
    (void)state;
    maas_sampling_params p;
    maas_sampling_params_default(&p);
    p.temperature = 0.0f;
    p.repetition_penalty = 2.0f;
    maas_sampler *s = NULL;
    assert_int_equal(maas_sampler_create(&p, 4, &s), MAAS_OK);

    /* 3.0 / 2 = 1.5 < 1.8, so token 1 wins. */
    const float logits[4] = {3.0f, 1.8f, -0.5f, -0.6f};
    const int32_t seen_twice[3] = {0, 0, 0};
    int32_t id;
    assert_int_equal(maas_sampler_sample(s, logits, seen_twice, 3, &id), MAAS_OK);
    assert_int_equal(id, 1);

    /* Negative logits: -0.5 * 2 = -1.0 falls below -0.6. */
    const float negative[4] = {-3.0f, -2.0f, -0.5f, -0.6f};
    const int32_t seen[1] = {2};
    assert_int_equal(maas_sampler_sample(s, negative, seen, 1, &id), MAAS_OK);
    assert_int_equal(id, 3);

    /* No history, no change; a history id outside the vocabulary is an error. */
    assert_int_equal(maas_sampler_sample(s, logits, NULL, 0, &id), MAAS_OK);
    assert_int_equal(id, 0);
    const int32_t bad[2] = {1, 4};
    assert_int_equal(maas_sampler_sample(s, logits, bad, 2, &id),
                     MAAS_ERR_INVALID_ARGUMENT);
    /* The failed call left no mark on token 1: it is penalised again
     * (3.5 / 2 = 1.75 < 3.0). */
    const float close[4] = {3.0f, 3.5f, 0.0f, 0.0f};
    const int32_t one[1] = {1};
    assert_int_equal(maas_sampler_sample(s, close, one, 1, &id), MAAS_OK);
    assert_int_equal(id, 0);
    maas_sampler_free(s);
}

/* ---- seeds and errors ---------------------------------------------------------------------- */

static void same_seed_same_draws(void **state)
{
    (void)state;
    float logits[100];
    for (int i = 0; i < 100; i++)
        logits[i] = cosf((float)i);
    int32_t a[64], b[64], c[64];
    maas_sampler *s1 = new_sampler(1.0f, 0, 1.0f, 0.0f, 42, 100);
    maas_sampler *s2 = new_sampler(1.0f, 0, 1.0f, 0.0f, 42, 100);
    maas_sampler *s3 = new_sampler(1.0f, 0, 1.0f, 0.0f, 43, 100);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(maas_sampler_sample(s1, logits, NULL, 0, &a[i]), MAAS_OK);
        assert_int_equal(maas_sampler_sample(s2, logits, NULL, 0, &b[i]), MAAS_OK);
        assert_int_equal(maas_sampler_sample(s3, logits, NULL, 0, &c[i]), MAAS_OK);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);

    /* Reseeding restarts the stream. */
    maas_sampler_reseed(s1, 42);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(maas_sampler_sample(s1, logits, NULL, 0, &b[i]), MAAS_OK);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(maas_sampler_seed(s1), 42);

    /* A random seed is reported and repeats when reused. */
    maas_sampler *r = new_sampler(1.0f, 0, 1.0f, 0.0f, MAAS_SEED_RANDOM, 100);
    uint64_t drawn = maas_sampler_seed(r);
    assert_true(drawn != MAAS_SEED_RANDOM);
    maas_sampler *again = new_sampler(1.0f, 0, 1.0f, 0.0f, drawn, 100);
    for (int i = 0; i < 16; i++) {
        int32_t x, y;
        assert_int_equal(maas_sampler_sample(r, logits, NULL, 0, &x), MAAS_OK);
        assert_int_equal(maas_sampler_sample(again, logits, NULL, 0, &y), MAAS_OK);
        assert_int_equal(x, y);
    }
    maas_sampler_free(again);
    maas_sampler_free(r);
    maas_sampler_free(s1);
    maas_sampler_free(s2);
    maas_sampler_free(s3);
}

static void non_finite_logits_rejected(void **state)
{
    (void)state;
    const float bad_values[3] = {NAN, INFINITY, -INFINITY};
    for (int greedy = 0; greedy < 2; greedy++)
        for (int b = 0; b < 3; b++) {
            float logits[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
            logits[5] = bad_values[b];
            maas_sampler *s = new_sampler(greedy ? 0.0f : 1.0f, 0, 1.0f, 0.0f,
                                          1, 8);
            int32_t id = -7;
            assert_int_equal(maas_sampler_sample(s, logits, NULL, 0, &id),
                             MAAS_ERR_NON_FINITE);
            assert_int_equal(id, -7);
            assert_non_null(strstr(maas_last_error(), "logit 5"));
            maas_sampler_free(s);
        }
}

static void invalid_params_rejected(void **state)
{
    (void)state;
    maas_sampling_params p;
    maas_sampler *s = NULL;
    maas_sampling_params_default(&p);
    p.top_p = 1.5f;
    assert_int_equal(maas_sampler_create(&p, 10, &s), MAAS_ERR_INVALID_ARGUMENT);
    maas_sampling_params_default(&p);
    p.top_p = NAN;
    assert_int_equal(maas_sampler_create(&p, 10, &s), MAAS_ERR_INVALID_ARGUMENT);
    maas_sampling_params_default(&p);
    p.min_p = -0.1f;
    assert_int_equal(maas_sampler_create(&p, 10, &s), MAAS_ERR_INVALID_ARGUMENT);
    maas_sampling_params_default(&p);
    p.repetition_penalty = 0.0f;
    assert_int_equal(maas_sampler_create(&p, 10, &s), MAAS_ERR_INVALID_ARGUMENT);
    maas_sampling_params_default(&p);
    p.top_k = -1;
    assert_int_equal(maas_sampler_create(&p, 10, &s), MAAS_ERR_INVALID_ARGUMENT);
    maas_sampling_params_default(&p);
    p.temperature = NAN;
    assert_int_equal(maas_sampler_create(&p, 10, &s), MAAS_ERR_INVALID_ARGUMENT);
    maas_sampling_params_default(&p);
    assert_int_equal(maas_sampler_create(&p, 0, &s), MAAS_ERR_INVALID_ARGUMENT);
    assert_null(s);
}

/* ---- streaming and stop strings on the fixture ----------------------------------------------- */

typedef struct text_capture {
    char text[4096];
    size_t len;
    int pieces;
    int stop_after;    /* return false after this many pieces; 0 never */
    bool all_utf8;
} text_capture;

static bool capture_text(const char *text, size_t len, void *user)
{
    text_capture *c = user;
    assert_true(len > 0);
    assert_true(c->len + len < sizeof c->text);
    /* Every piece is complete UTF-8 on its own. */
    for (size_t at = 0; at < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + at,
                                              (utf8proc_ssize_t)(len - at), &cp);
        if (n < 0) {
            c->all_utf8 = false;
            break;
        }
        at += (size_t)n;
    }
    memcpy(c->text + c->len, text, len);
    c->len += len;
    c->text[c->len] = '\0';
    c->pieces++;
    return c->stop_after == 0 || c->pieces < c->stop_after;
}

typedef struct fixture {
    maas_gpt2 *model;
    maas_gpt2_context *ctx;
} fixture;

static int open_fixture(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    maas_status st = maas_gpt2_open("build/fixtures/gpt2-tiny.maas", &f->model);
    if (st != MAAS_OK)
        fail_msg("%s; run `make fixtures` first", maas_last_error());
    assert_int_equal(maas_gpt2_context_create(f->model, NULL, &f->ctx), MAAS_OK);
    *state = f;
    return 0;
}

static int close_fixture(void **state)
{
    fixture *f = *state;
    maas_gpt2_context_free(f->ctx);
    maas_gpt2_free(f->model);
    free(f);
    return 0;
}

static const char PROMPT[] = "你好，世界。The dog";

/* Greedy text of 40 tokens with the given stop strings. */
static maas_status stream(fixture *f, const char *const *stop, int n_stop,
                          text_capture *out, maas_gpt2_generate_result *r)
{
    maas_gpt2_generate_params gp;
    maas_gpt2_generate_params_default(&gp);
    gp.sampling.temperature = 0.0f;
    gp.max_new_tokens = 40;
    gp.stop = stop;
    gp.n_stop = n_stop;
    gp.on_text = capture_text;
    gp.user = out;
    out->len = 0;
    out->pieces = 0;
    out->text[0] = '\0';
    out->all_utf8 = true;
    return maas_gpt2_generate(f->ctx, PROMPT, strlen(PROMPT), &gp, r);
}

/* Replaces every byte that does not start a valid UTF-8 character with
 * U+FFFD, as a streaming decoder must before delivering text. */
static size_t replace_invalid_utf8(const char *in, size_t n, char *out)
{
    size_t len = 0;
    for (size_t at = 0; at < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)in + at,
                                              (utf8proc_ssize_t)(n - at), &cp);
        if (k > 0) {
            memcpy(out + len, in + at, (size_t)k);
            len += (size_t)k;
            at += (size_t)k;
        } else {
            memcpy(out + len, "\xEF\xBF\xBD", 3);
            len += 3;
            at++;
        }
    }
    return len;
}

static bool collect_id(int32_t id, void *user)
{
    int32_t *ids = user;
    ids[++ids[0]] = id;
    return true;
}

/* The streamed pieces join into the decoded text of the generated ids. */
static void streamed_text_equals_decode(void **state)
{
    fixture *f = *state;
    text_capture full = {0};
    int32_t ids[64] = {0};  /* ids[0] counts, ids[1..] are the tokens */
    maas_gpt2_generate_params gp;
    maas_gpt2_generate_params_default(&gp);
    gp.sampling.temperature = 0.0f;
    gp.max_new_tokens = 40;
    /* Both callbacks share `user`, so the text and the ids come from two
     * runs (greedy, so the same tokens). */
    gp.on_text = capture_text;
    gp.user = &full;
    full.all_utf8 = true;
    maas_gpt2_generate_result r;
    assert_int_equal(maas_gpt2_generate(f->ctx, PROMPT, strlen(PROMPT), &gp, &r),
                     MAAS_OK);
    assert_true(full.all_utf8);
    assert_int_equal(r.stop_reason, MAAS_STOP_MAX_TOKENS);
    assert_int_equal(r.n_generated, 40);
    gp.on_text = NULL;
    gp.on_token = collect_id;
    gp.user = ids;
    assert_int_equal(maas_gpt2_generate(f->ctx, PROMPT, strlen(PROMPT), &gp, &r),
                     MAAS_OK);
    assert_int_equal(ids[0], 40);

    /* The context contains the prompt and all generated tokens but the last. */
    int n_held;
    const int32_t *held = maas_gpt2_context_tokens(f->ctx, &n_held);
    assert_int_equal(n_held, r.n_prompt + 39);
    assert_memory_equal(held + r.n_prompt, ids + 1, 39 * sizeof(int32_t));

    /* Streamed text == the exact bytes of the 40 tokens, with each byte of
     * an invalid sequence shown as U+FFFD. */
    char *decoded;
    size_t decoded_len;
    assert_int_equal(maas_tokenizer_decode(maas_gpt2_get_tokenizer(f->model),
                                           ids + 1, 40, false, &decoded,
                                           &decoded_len), MAAS_OK);
    char *want = malloc(3 * decoded_len + 1);
    assert_non_null(want);
    size_t want_len = replace_invalid_utf8(decoded, decoded_len, want);
    assert_int_equal(full.len, want_len);
    assert_memory_equal(full.text, want, want_len);
    free(want);
    free(decoded);
}

/* A stop string taken from the middle of the greedy text ends generation
 * there, and no byte of it (or after it) is delivered. */
static void stop_string_never_delivered(void **state)
{
    fixture *f = *state;
    text_capture full = {0}, cut = {0};
    maas_gpt2_generate_result r;
    assert_int_equal(stream(f, NULL, 0, &full, &r), MAAS_OK);
    assert_true(full.len > 20);

    /* Cut at every ASCII-safe offset with several stop lengths, so stop
     * strings start inside tokens and span token boundaries. */
    int checked = 0;
    for (size_t start = 1; start + 4 < full.len && checked < 12; start += 3) {
        if (((unsigned char)full.text[start] & 0xC0) == 0x80)
            continue;
        for (size_t len = 1; len <= 4; len += 3) {
            if (((unsigned char)full.text[start + len] & 0xC0) == 0x80)
                continue;
            char stop[8];
            memcpy(stop, full.text + start, len);
            stop[len] = '\0';
            if (strlen(stop) != len)
                continue;
            const char *stops[1] = {stop};
            assert_int_equal(stream(f, stops, 1, &cut, &r), MAAS_OK);

            /* Delivered: exactly the text before the first occurrence. */
            const char *first = memmem(full.text, full.len, stop, len);
            assert_non_null(first);
            size_t want = (size_t)(first - full.text);
            assert_int_equal(cut.len, want);
            assert_memory_equal(cut.text, full.text, want);
            assert_int_equal(r.stop_reason, MAAS_STOP_STRING);
            assert_int_equal(r.stop_index, 0);
            assert_true(cut.all_utf8);
            checked++;
        }
    }
    assert_true(checked >= 6);
}

/* A stop string whose beginning appears but never completes keeps text
 * back only until it is ruled out, so everything is delivered in the end. */
static void partial_stop_string_released(void **state)
{
    fixture *f = *state;
    text_capture full = {0}, got = {0};
    maas_gpt2_generate_result r;
    assert_int_equal(stream(f, NULL, 0, &full, &r), MAAS_OK);

    char never[32];
    snprintf(never, sizeof never, "%.3s\x01never", full.text + full.len / 2);
    const char *end_stop = "\x02tail";
    const char *stops[2] = {never, end_stop};
    assert_int_equal(stream(f, stops, 2, &got, &r), MAAS_OK);
    assert_int_equal(r.stop_reason, MAAS_STOP_MAX_TOKENS);
    assert_int_equal(r.stop_index, -1);
    assert_int_equal(got.len, full.len);
    assert_memory_equal(got.text, full.text, full.len);
}

/* Of two stop strings, the one that occurs first in the text wins. */
static void earliest_stop_string_wins(void **state)
{
    fixture *f = *state;
    text_capture full = {0}, got = {0};
    maas_gpt2_generate_result r;
    assert_int_equal(stream(f, NULL, 0, &full, &r), MAAS_OK);
    assert_true(full.len > 30);

    /* Two-byte ASCII stop strings, one from near the start and one from
     * near the end of the text. */
    char late[3] = {0}, early[3] = {0};
    for (size_t i = 2; i + 1 < full.len && !early[0]; i++)
        if (full.text[i] > 0 && full.text[i] < 0x7f && full.text[i + 1] > 0 &&
            full.text[i + 1] < 0x7f)
            memcpy(early, full.text + i, 2);
    for (size_t i = full.len - 2; i > full.len / 2 && !late[0]; i--)
        if (full.text[i] > 0 && full.text[i] < 0x7f && full.text[i + 1] > 0 &&
            full.text[i + 1] < 0x7f)
            memcpy(late, full.text + i, 2);
    assert_true(early[0] && late[0]);
    const char *stops[2] = {late, early};
    assert_int_equal(stream(f, stops, 2, &got, &r), MAAS_OK);
    const char *a = memmem(full.text, full.len, late, strlen(late));
    const char *b = memmem(full.text, full.len, early, strlen(early));
    assert_non_null(a);
    assert_non_null(b);
    size_t want = (size_t)((a <= b ? a : b) - full.text);
    assert_int_equal(got.len, want);
    assert_int_equal(r.stop_index, a <= b ? 0 : 1);
}

static void callback_stops_generation(void **state)
{
    fixture *f = *state;
    text_capture got = {0};
    got.stop_after = 2;
    maas_gpt2_generate_params gp;
    maas_gpt2_generate_params_default(&gp);
    gp.sampling.temperature = 0.0f;
    gp.max_new_tokens = 40;
    gp.on_text = capture_text;
    gp.user = &got;
    got.all_utf8 = true;
    maas_gpt2_generate_result r;
    assert_int_equal(maas_gpt2_generate(f->ctx, PROMPT, strlen(PROMPT), &gp, &r),
                     MAAS_OK);
    assert_int_equal(r.stop_reason, MAAS_STOP_CALLBACK);
    assert_int_equal(got.pieces, 2);
    assert_true(r.n_generated < 40);
}

static void invalid_stop_strings_rejected(void **state)
{
    fixture *f = *state;
    text_capture got = {0};
    maas_gpt2_generate_result r;
    const char *empty[1] = {""};
    assert_int_equal(stream(f, empty, 1, &got, &r), MAAS_ERR_INVALID_ARGUMENT);
    const char *bad_utf8[1] = {"a\xC3("};
    assert_int_equal(stream(f, bad_utf8, 1, &got, &r), MAAS_ERR_INVALID_UTF8);
    const char *many[MAAS_GPT2_MAX_STOP + 1];
    for (int i = 0; i <= MAAS_GPT2_MAX_STOP; i++)
        many[i] = "x";
    assert_int_equal(stream(f, many, MAAS_GPT2_MAX_STOP + 1, &got, &r),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(got.len, 0);
}

int main(void)
{
    const struct CMUnitTest sampler_tests[] = {
        cmocka_unit_test(greedy_takes_largest_lowest_on_ties),
        cmocka_unit_test(top_k_one_is_greedy_any_temperature),
        cmocka_unit_test(top_p_zero_is_greedy),
        cmocka_unit_test(top_p_keeps_smallest_set_reaching_p),
        cmocka_unit_test(top_p_large_vocabulary),
        cmocka_unit_test(top_k_keeps_k_largest),
        cmocka_unit_test(min_p_relative_to_best),
        cmocka_unit_test(draws_follow_probabilities),
        cmocka_unit_test(repetition_penalty_rule),
        cmocka_unit_test(same_seed_same_draws),
        cmocka_unit_test(non_finite_logits_rejected),
        cmocka_unit_test(invalid_params_rejected),
    };
    const struct CMUnitTest stream_tests[] = {
        cmocka_unit_test(streamed_text_equals_decode),
        cmocka_unit_test(stop_string_never_delivered),
        cmocka_unit_test(partial_stop_string_released),
        cmocka_unit_test(earliest_stop_string_wins),
        cmocka_unit_test(callback_stops_generation),
        cmocka_unit_test(invalid_stop_strings_rejected),
    };
    int failed = cmocka_run_group_tests_name("gpt2 sampler", sampler_tests,
                                             NULL, NULL);
    failed += cmocka_run_group_tests_name("gpt2 streaming", stream_tests,
                                          open_fixture, close_fixture);
    return failed;
}
