/* GPT-2 model: logits and greedy generation against Hugging Face golden
 * outputs (tools/make_gpt2_fixtures.py), the KV cache against full
 * recomputation, thread counts, the context window and non-finite values.
 *
 * Needs build/fixtures/gpt2-{tiny,odd}{,-f16}.maas (`make fixtures`). */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "maas.h"
#include "testutil.h"

static const char *const FIXTURES[] = {"gpt2-tiny", "gpt2-odd"};
#define N_FIXTURES 2

/* f32 weights: max |ours - HF| <= 1e-4 x max |HF logit|.  f16 weights are
 * compared with HF run on the same f16-rounded weights (in float32), with
 * twice that bound for the f16-to-f32 conversion path; and with the f32
 * golden, which differs by the rounding of the weights themselves (up to
 * 1.5e-3 x max |logit| on these fixtures), within 5e-3. */
#define F32_REL_TOL 1e-4
#define F16_REL_TOL 2e-4
#define F16_VS_F32_REL_TOL 5e-3

/* ---- helpers ------------------------------------------------------------------- */

static maas_gpt2 *open_model(const char *name, bool f16)
{
    char path[256];
    snprintf(path, sizeof path, "build/fixtures/%s%s.maas", name,
             f16 ? "-f16" : "");
    maas_gpt2 *model = NULL;
    maas_status st = maas_gpt2_open(path, &model);
    if (st != MAAS_OK)
        fail_msg("cannot load %s: %s (%s); run `make fixtures` first", path,
                 maas_status_name(st), maas_last_error());
    return model;
}

static maas_gpt2_context *new_context(const maas_gpt2 *model, int n_threads,
                                      int n_ctx)
{
    maas_gpt2_context_params p;
    maas_gpt2_context_params_default(&p);
    p.n_threads = n_threads;
    p.n_ctx = n_ctx;
    maas_gpt2_context *ctx = NULL;
    maas_status st = maas_gpt2_context_create(model, &p, &ctx);
    if (st != MAAS_OK)
        fail_msg("context: %s", maas_last_error());
    return ctx;
}

static cJSON *load_golden(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/golden/%s.json", name);
    char *text = test_read_file(path, NULL);
    cJSON *json = cJSON_Parse(text);
    free(text);
    if (!json)
        fail_msg("%s is not valid JSON", path);
    return json;
}

/* Copies a JSON array of integers into a malloc'ed array. */
static int32_t *json_ids(const cJSON *array, int *n)
{
    *n = cJSON_GetArraySize(array);
    int32_t *ids = malloc((size_t)(*n > 0 ? *n : 1) * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < *n; i++)
        ids[i] = (int32_t)cJSON_GetArrayItem(array, i)->valueint;
    return ids;
}

static float *golden_logits(const char *file, size_t *n)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/golden/%s", file);
    return test_read_f32(path, n);
}

static double max_abs(const float *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)x[i]) > m)
            m = fabs((double)x[i]);
    return m;
}

typedef struct token_list {
    int32_t ids[512];
    int n;
} token_list;

static bool collect_token(int32_t id, void *user)
{
    token_list *list = user;
    assert_true(list->n < 512);
    list->ids[list->n++] = id;
    return true;
}

/* Generates with the given sampling settings and returns the token ids. */
static maas_status generate_ids(maas_gpt2_context *ctx, const int32_t *prompt,
                                int n_prompt, const maas_sampling_params *sp,
                                int max_new, token_list *out,
                                maas_gpt2_generate_result *result)
{
    maas_gpt2_generate_params gp;
    maas_gpt2_generate_params_default(&gp);
    gp.sampling = *sp;
    gp.max_new_tokens = max_new;
    gp.on_token = collect_token;
    gp.user = out;
    out->n = 0;
    return maas_gpt2_generate_tokens(ctx, prompt, n_prompt, &gp, result);
}

static maas_sampling_params greedy_params(void)
{
    maas_sampling_params sp;
    maas_sampling_params_default(&sp);
    sp.temperature = 0.0f;
    return sp;
}

/* ---- logits against Hugging Face ------------------------------------------------------ */

static void check_prompt_logits(const char *name, bool f16)
{
    maas_gpt2 *model = open_model(name, f16);
    const maas_gpt2_config *cfg = maas_gpt2_get_config(model);
    maas_gpt2_context *ctx = new_context(model, 1, 0);
    cJSON *golden = load_golden(name);
    const cJSON *prompt;

    assert_int_equal(cfg->vocab_size,
                     cJSON_GetObjectItem(golden, "vocab_size")->valueint);
    cJSON_ArrayForEach(prompt, cJSON_GetObjectItem(golden, "prompts")) {
        const char *text = cJSON_GetObjectItem(prompt, "text")->valuestring;
        int n;
        int32_t *ids = json_ids(cJSON_GetObjectItem(prompt, "ids"), &n);

        /* The tokenizer in the file gives Hugging Face's ids. */
        maas_encoding enc = {0};
        maas_encode_options opts = {.add_special = false, .parse_special = true};
        assert_int_equal(maas_tokenizer_encode(maas_gpt2_get_tokenizer(model),
                                               text, strlen(text), &opts, &enc),
                         MAAS_OK);
        assert_int_equal(enc.n, n);
        assert_memory_equal(enc.ids, ids, (size_t)n * sizeof *ids);
        maas_encoding_free(&enc);

        /* Every position's logits in one batched pass. */
        size_t V = (size_t)cfg->vocab_size, count;
        float *got = malloc((size_t)n * V * sizeof *got);
        assert_non_null(got);
        maas_gpt2_context_reset(ctx);
        assert_int_equal(maas_gpt2_eval(ctx, ids, n, got), MAAS_OK);

        const char *key = f16 ? "logits_f16" : "logits";
        float *want = golden_logits(cJSON_GetObjectItem(prompt, key)->valuestring,
                                    &count);
        assert_int_equal(count, (size_t)n * V);
        double bound = (f16 ? F16_REL_TOL : F32_REL_TOL) * max_abs(want, count);
        double diff = test_max_abs_diff(got, want, count);
        if (!(diff <= bound))
            fail_msg("%s%s \"%s\": max abs diff %.3g exceeds %.3g", name,
                     f16 ? " f16" : "", text, diff, bound);

        /* The last row is also what get_logits returns. */
        assert_memory_equal(maas_gpt2_get_logits(ctx), got + (size_t)(n - 1) * V,
                            V * sizeof(float));

        /* f16 weights against the f32 golden: the rounding error only. */
        if (f16) {
            float *want32 = golden_logits(
                cJSON_GetObjectItem(prompt, "logits")->valuestring, &count);
            double bound32 = F16_VS_F32_REL_TOL * max_abs(want32, count);
            double diff32 = test_max_abs_diff(got, want32, count);
            if (!(diff32 <= bound32))
                fail_msg("%s f16 vs f32 \"%s\": max abs diff %.3g exceeds %.3g",
                         name, text, diff32, bound32);
            free(want32);
        }
        free(want);
        free(got);
        free(ids);
    }
    cJSON_Delete(golden);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
}

static void logits_match_hf_f32(void **state)
{
    (void)state;
    for (int i = 0; i < N_FIXTURES; i++)
        check_prompt_logits(FIXTURES[i], false);
}

static void logits_match_hf_f16(void **state)
{
    (void)state;
    for (int i = 0; i < N_FIXTURES; i++)
        check_prompt_logits(FIXTURES[i], true);
}

/* ---- greedy generation against Hugging Face ---------------------------------------------- */

static void check_greedy(const char *name, bool f16, bool penalty)
{
    maas_gpt2 *model = open_model(name, f16);
    maas_gpt2_context *ctx = new_context(model, 1, 0);
    cJSON *golden = load_golden(name);
    int index = cJSON_GetObjectItem(golden, "greedy_prompt")->valueint;
    const cJSON *prompt =
        cJSON_GetArrayItem(cJSON_GetObjectItem(golden, "prompts"), index);
    char key[64];
    snprintf(key, sizeof key, "greedy%s%s", penalty ? "_repetition_penalty" : "",
             f16 ? "_f16" : "");
    int n_prompt, n_want;
    int32_t *ids = json_ids(cJSON_GetObjectItem(prompt, "ids"), &n_prompt);
    int32_t *want = json_ids(cJSON_GetObjectItem(golden, key), &n_want);
    int max_new = cJSON_GetObjectItem(golden, "greedy_new_tokens")->valueint;

    maas_sampling_params sp = greedy_params();
    if (penalty)
        sp.repetition_penalty =
            (float)cJSON_GetObjectItem(golden, "repetition_penalty")->valuedouble;
    token_list got;
    maas_gpt2_generate_result r;
    assert_int_equal(generate_ids(ctx, ids, n_prompt, &sp, max_new, &got, &r),
                     MAAS_OK);

    /* Hugging Face stops at <|endoftext|> too, so the lists match exactly. */
    assert_int_equal(got.n, n_want);
    for (int i = 0; i < n_want; i++)
        if (got.ids[i] != want[i])
            fail_msg("%s %s: token %d is %d, Hugging Face chose %d", name, key,
                     i, got.ids[i], want[i]);
    assert_int_equal(r.n_generated, n_want);
    assert_int_equal(r.stop_reason, n_want == max_new ? MAAS_STOP_MAX_TOKENS
                                                      : MAAS_STOP_EOS);
    free(ids);
    free(want);
    cJSON_Delete(golden);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
}

static void greedy_matches_hf_generate(void **state)
{
    (void)state;
    for (int i = 0; i < N_FIXTURES; i++) {
        check_greedy(FIXTURES[i], false, false);
        check_greedy(FIXTURES[i], true, false);
    }
}

static void greedy_repetition_penalty_matches_hf(void **state)
{
    (void)state;
    for (int i = 0; i < N_FIXTURES; i++) {
        check_greedy(FIXTURES[i], false, true);
        check_greedy(FIXTURES[i], true, true);
    }
}

/* ---- KV cache and threads -------------------------------------------------------------- */

/* Feeding tokens one at a time through the cache gives the logits of one
 * batched pass over the whole sequence. */
static void kv_cache_equals_recompute(void **state)
{
    (void)state;
    for (int f = 0; f < N_FIXTURES; f++) {
        maas_gpt2 *model = open_model(FIXTURES[f], false);
        const int V = maas_gpt2_get_config(model)->vocab_size;
        const int n = 40;
        int32_t ids[40];
        for (int i = 0; i < n; i++)
            ids[i] = (int32_t)((i * 37 + 11) % V);

        maas_gpt2_context *full = new_context(model, 1, 0);
        float *want = malloc((size_t)n * V * sizeof *want);
        assert_non_null(want);
        assert_int_equal(maas_gpt2_eval(full, ids, n, want), MAAS_OK);

        /* A 5-token prompt, then single steps. */
        maas_gpt2_context *step = new_context(model, 1, 0);
        float *got = malloc((size_t)n * V * sizeof *got);
        assert_non_null(got);
        assert_int_equal(maas_gpt2_eval(step, ids, 5, got), MAAS_OK);
        for (int i = 5; i < n; i++) {
            assert_int_equal(maas_gpt2_eval(step, ids + i, 1, NULL), MAAS_OK);
            memcpy(got + (size_t)i * V, maas_gpt2_get_logits(step),
                   (size_t)V * sizeof(float));
        }
        int n_held;
        maas_gpt2_context_tokens(step, &n_held);
        assert_int_equal(n_held, n);

        double bound = F32_REL_TOL * max_abs(want, (size_t)n * V);
        double diff = test_max_abs_diff(got, want, (size_t)n * V);
        if (!(diff <= bound))
            fail_msg("%s: cached decoding differs from recomputation by %.3g "
                     "(bound %.3g)", FIXTURES[f], diff, bound);
        free(got);
        free(want);
        maas_gpt2_context_free(step);
        maas_gpt2_context_free(full);
        maas_gpt2_free(model);
    }
}

/* Small batches (n_batch 3) split a prompt over several passes; the logits
 * are those of one pass. */
static void prompt_batches_equal_one_pass(void **state)
{
    (void)state;
    maas_gpt2 *model = open_model("gpt2-odd", false);
    const int V = maas_gpt2_get_config(model)->vocab_size;
    int32_t ids[20];
    for (int i = 0; i < 20; i++)
        ids[i] = (int32_t)((i * 13 + 5) % V);

    maas_gpt2_context *one = new_context(model, 1, 0);
    maas_gpt2_context_params p;
    maas_gpt2_context_params_default(&p);
    p.n_threads = 1;
    p.n_batch = 3;
    maas_gpt2_context *split = NULL;
    assert_int_equal(maas_gpt2_context_create(model, &p, &split), MAAS_OK);

    float *a = malloc(20 * (size_t)V * sizeof *a), *b = malloc(20 * (size_t)V * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(maas_gpt2_eval(one, ids, 20, a), MAAS_OK);
    assert_int_equal(maas_gpt2_eval(split, ids, 20, b), MAAS_OK);
    double bound = F32_REL_TOL * max_abs(a, 20 * (size_t)V);
    assert_true(test_max_abs_diff(a, b, 20 * (size_t)V) <= bound);
    assert_memory_equal(maas_gpt2_get_logits(split), b + 19 * (size_t)V,
                        (size_t)V * sizeof(float));
    free(a);
    free(b);
    maas_gpt2_context_free(split);
    maas_gpt2_context_free(one);
    maas_gpt2_free(model);
}

static void one_and_two_threads_same_tokens(void **state)
{
    (void)state;
    for (int f = 0; f < N_FIXTURES; f++) {
        maas_gpt2 *model = open_model(FIXTURES[f], false);
        int32_t prompt[6] = {10, 20, 30, 40, 50, 60};
        maas_sampling_params sampled;
        maas_sampling_params_default(&sampled);
        sampled.temperature = 0.9f;
        sampled.top_k = 40;
        sampled.top_p = 0.95f;
        sampled.seed = 1234;
        const maas_sampling_params settings[2] = {greedy_params(), sampled};

        for (int s = 0; s < 2; s++) {
            token_list one, two;
            maas_gpt2_context *c1 = new_context(model, 1, 0);
            maas_gpt2_context *c2 = new_context(model, 2, 0);
            assert_int_equal(generate_ids(c1, prompt, 6, &settings[s], 48, &one,
                                          NULL), MAAS_OK);
            assert_int_equal(generate_ids(c2, prompt, 6, &settings[s], 48, &two,
                                          NULL), MAAS_OK);
            assert_int_equal(one.n, two.n);
            assert_memory_equal(one.ids, two.ids, (size_t)one.n * sizeof(int32_t));
            maas_gpt2_context_free(c1);
            maas_gpt2_context_free(c2);
        }
        maas_gpt2_free(model);
    }
}

/* Writes a GPT-2 with random weights (n_embd 256, 4 heads, 2 layers,
 * vocabulary 2048) large enough that the kernels use two threads for every
 * product, unlike the fixtures. */
static void write_medium_model(const char *path)
{
    enum { C = 256, L = 2, V = 2048, P = 128, I = 4 * C };
    maas_writer *w;
    assert_int_equal(maas_writer_create("gpt2", &w), MAAS_OK);
    maas_writer_set_u32(w, "n_layer", L);
    maas_writer_set_u32(w, "n_head", 4);
    maas_writer_set_u32(w, "n_embd", C);
    maas_writer_set_u32(w, "n_positions", P);
    maas_writer_set_u32(w, "vocab_size", V);
    maas_writer_set_u32(w, "n_inner", I);
    maas_writer_set_f32(w, "layer_norm_epsilon", 1e-5f);

    const struct {
        const char *name;
        int rows, cols;  /* cols 0: a vector */
    } parts[] = {
        {"ln_1.weight", C, 0}, {"ln_1.bias", C, 0},
        {"attn.c_attn.weight", 3 * C, C}, {"attn.c_attn.bias", 3 * C, 0},
        {"attn.c_proj.weight", C, C}, {"attn.c_proj.bias", C, 0},
        {"ln_2.weight", C, 0}, {"ln_2.bias", C, 0},
        {"mlp.c_fc.weight", I, C}, {"mlp.c_fc.bias", I, 0},
        {"mlp.c_proj.weight", C, I}, {"mlp.c_proj.bias", C, 0},
    };
    enum { N_PARTS = sizeof parts / sizeof parts[0] };
    float *data[2 + L * N_PARTS + 2];
    char names[2 + L * N_PARTS + 2][48];
    int n = 0;
    uint32_t seed = 12345;
    for (int t = 0; t < 2 + L * N_PARTS + 2; t++) {
        int rows, cols;
        if (t == 0) {
            rows = V, cols = C;
            snprintf(names[t], sizeof names[t], "wte.weight");
        } else if (t == 1) {
            rows = P, cols = C;
            snprintf(names[t], sizeof names[t], "wpe.weight");
        } else if (t < 2 + L * N_PARTS) {
            int layer = (t - 2) / N_PARTS, k = (t - 2) % N_PARTS;
            rows = parts[k].rows, cols = parts[k].cols;
            snprintf(names[t], sizeof names[t], "h.%d.%s", layer, parts[k].name);
        } else {
            rows = C, cols = 0;
            snprintf(names[t], sizeof names[t], "ln_f.%s",
                     t == 2 + L * N_PARTS ? "weight" : "bias");
        }
        size_t count = (size_t)rows * (size_t)(cols ? cols : 1);
        bool gain = strstr(names[t], "ln_") && strstr(names[t], "weight");
        data[t] = malloc(count * sizeof(float));
        assert_non_null(data[t]);
        for (size_t i = 0; i < count; i++) {
            seed = seed * 1664525u + 1013904223u;
            float u = (float)(seed >> 8) * 0x1p-24f - 0.5f;
            data[t][i] = gain ? 1.0f + 0.2f * u : 0.2f * u;
        }
        maas_tensor tensor;
        int64_t shape[2] = {rows, cols};
        assert_int_equal(maas_tensor_init(&tensor, MAAS_DTYPE_F32, cols ? 2 : 1,
                                          shape, data[t]), MAAS_OK);
        assert_int_equal(maas_writer_add_tensor(w, names[t], &tensor), MAAS_OK);
        n++;
    }
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    for (int t = 0; t < n; t++)
        free(data[t]);
    maas_writer_free(w);
}

/* The kernels split rows and columns over threads, never a sum, so two
 * threads give bit-identical logits, in the prompt pass and in decoding. */
static void two_threads_identical_logits(void **state)
{
    (void)state;
    const char *path = "build/tests/gpt2-medium-random.maas";
    write_medium_model(path);
    maas_gpt2 *model = NULL;
    assert_int_equal(maas_gpt2_open(path, &model), MAAS_OK);
    const int V = maas_gpt2_get_config(model)->vocab_size;
    int32_t prompt[48];
    for (int i = 0; i < 48; i++)
        prompt[i] = (int32_t)((i * 97 + 3) % V);

    float *l1 = malloc(48 * (size_t)V * sizeof *l1);
    float *l2 = malloc(48 * (size_t)V * sizeof *l2);
    assert_non_null(l1);
    assert_non_null(l2);
    maas_gpt2_context *c1 = new_context(model, 1, 0);
    maas_gpt2_context *c2 = new_context(model, 2, 0);
    assert_int_equal(maas_gpt2_eval(c1, prompt, 48, l1), MAAS_OK);
    assert_int_equal(maas_gpt2_eval(c2, prompt, 48, l2), MAAS_OK);
    assert_memory_equal(l1, l2, 48 * (size_t)V * sizeof *l1);
    for (int step = 0; step < 8; step++) {
        assert_int_equal(maas_gpt2_eval(c1, prompt + step, 1, NULL), MAAS_OK);
        assert_int_equal(maas_gpt2_eval(c2, prompt + step, 1, NULL), MAAS_OK);
        assert_memory_equal(maas_gpt2_get_logits(c1), maas_gpt2_get_logits(c2),
                            (size_t)V * sizeof(float));
    }

    /* And the same sampled tokens. */
    maas_sampling_params sp;
    maas_sampling_params_default(&sp);
    sp.seed = 77;
    token_list one, two;
    assert_int_equal(generate_ids(c1, prompt, 10, &sp, 40, &one, NULL), MAAS_OK);
    assert_int_equal(generate_ids(c2, prompt, 10, &sp, 40, &two, NULL), MAAS_OK);
    assert_int_equal(one.n, two.n);
    assert_memory_equal(one.ids, two.ids, (size_t)one.n * sizeof(int32_t));

    free(l1);
    free(l2);
    maas_gpt2_context_free(c1);
    maas_gpt2_context_free(c2);
    maas_gpt2_free(model);
    remove(path);
}

/* A second request with the same seed repeats the first; it reuses the
 * cached prompt and still gives what a fresh context gives. */
static void same_seed_repeats_with_cache(void **state)
{
    (void)state;
    maas_gpt2 *model = open_model("gpt2-tiny", false);
    maas_gpt2_context *ctx = new_context(model, 1, 0);
    maas_gpt2_context *fresh = new_context(model, 1, 0);
    int32_t prompt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    maas_sampling_params sp;
    maas_sampling_params_default(&sp);
    sp.seed = 99;

    token_list a, b, c;
    maas_gpt2_generate_result r;
    assert_int_equal(generate_ids(ctx, prompt, 8, &sp, 30, &a, &r), MAAS_OK);
    assert_int_equal(r.n_prompt_cached, 0);
    assert_int_equal(r.seed, 99);
    assert_int_equal(generate_ids(ctx, prompt, 8, &sp, 30, &b, &r), MAAS_OK);
    assert_int_equal(r.n_prompt_cached, 7);
    assert_int_equal(generate_ids(fresh, prompt, 8, &sp, 30, &c, NULL), MAAS_OK);
    assert_int_equal(a.n, 30);
    assert_int_equal(b.n, 30);
    assert_int_equal(c.n, 30);
    assert_memory_equal(a.ids, b.ids, 30 * sizeof(int32_t));
    assert_memory_equal(a.ids, c.ids, 30 * sizeof(int32_t));

    /* Another seed gives another continuation. */
    sp.seed = 100;
    assert_int_equal(generate_ids(ctx, prompt, 8, &sp, 30, &b, NULL), MAAS_OK);
    assert_memory_not_equal(a.ids, b.ids, 30 * sizeof(int32_t));
    maas_gpt2_context_free(fresh);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
}

/* Two threads generate at once from one model, each with its own context,
 * and get what each gets alone. */
typedef struct thread_job {
    const maas_gpt2 *model;
    int32_t prompt[4];
    uint64_t seed;
    token_list out;
    maas_status status;
} thread_job;

static void *run_job(void *arg)
{
    thread_job *job = arg;
    maas_gpt2_context *ctx = NULL;
    job->status = maas_gpt2_context_create(job->model, NULL, &ctx);
    if (job->status != MAAS_OK)
        return NULL;
    maas_sampling_params sp;
    maas_sampling_params_default(&sp);
    sp.seed = job->seed;
    sp.top_k = 20;
    job->status = generate_ids(ctx, job->prompt, 4, &sp, 40, &job->out, NULL);
    maas_gpt2_context_free(ctx);
    return NULL;
}

static void shared_model_across_threads(void **state)
{
    (void)state;
    maas_gpt2 *model = open_model("gpt2-odd", true);
    thread_job jobs[2] = {
        {.model = model, .prompt = {1, 2, 3, 4}, .seed = 5},
        {.model = model, .prompt = {9, 8, 7, 6}, .seed = 6},
    };
    thread_job alone[2];
    memcpy(alone, jobs, sizeof jobs);
    for (int i = 0; i < 2; i++)
        run_job(&alone[i]);

    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, run_job, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(jobs[i].status, MAAS_OK);
        assert_int_equal(alone[i].status, MAAS_OK);
        assert_int_equal(jobs[i].out.n, alone[i].out.n);
        assert_memory_equal(jobs[i].out.ids, alone[i].out.ids,
                            (size_t)jobs[i].out.n * sizeof(int32_t));
    }
    maas_gpt2_free(model);
}

/* ---- the context window -------------------------------------------------------------- */

static void every_position_works_then_full(void **state)
{
    (void)state;
    maas_gpt2 *model = open_model("gpt2-odd", false);
    const int P = maas_gpt2_get_config(model)->n_positions;
    const int V = maas_gpt2_get_config(model)->vocab_size;
    maas_gpt2_context *ctx = new_context(model, 1, 0);
    assert_int_equal(maas_gpt2_context_capacity(ctx), P);

    /* Positions 0 .. P-2 in one pass, then P-1 alone. */
    int32_t *ids = malloc((size_t)(P + 1) * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i <= P; i++)
        ids[i] = (int32_t)(i % V);
    assert_int_equal(maas_gpt2_eval(ctx, ids, P - 1, NULL), MAAS_OK);
    assert_int_equal(maas_gpt2_eval(ctx, ids + P - 1, 1, NULL), MAAS_OK);
    assert_non_null(maas_gpt2_get_logits(ctx));
    float last = maas_gpt2_get_logits(ctx)[0];

    /* Position P is refused and changes nothing. */
    assert_int_equal(maas_gpt2_eval(ctx, ids + P, 1, NULL), MAAS_ERR_CONTEXT_FULL);
    int n_held;
    maas_gpt2_context_tokens(ctx, &n_held);
    assert_int_equal(n_held, P);
    assert_non_null(maas_gpt2_get_logits(ctx));
    assert_true(maas_gpt2_get_logits(ctx)[0] == last);

    /* A prompt of P+1 tokens is refused before any work. */
    maas_gpt2_context_reset(ctx);
    assert_int_equal(maas_gpt2_eval(ctx, ids, P + 1, NULL), MAAS_ERR_CONTEXT_FULL);
    token_list out;
    maas_sampling_params sp = greedy_params();
    maas_gpt2_generate_result r;
    assert_int_equal(generate_ids(ctx, ids, P + 1, &sp, 5, &out, &r),
                     MAAS_ERR_CONTEXT_FULL);
    assert_int_equal(out.n, 0);

    /* Generation from P-3 prompt tokens: tokens at positions P-3 .. P-1
     * are evaluated, so 4 tokens are chosen, then the window is full. */
    assert_int_equal(generate_ids(ctx, ids, P - 3, &sp, 100, &out, &r), MAAS_OK);
    assert_int_equal(r.stop_reason, MAAS_STOP_CONTEXT_FULL);
    assert_int_equal(out.n, 4);
    assert_int_equal(r.n_generated, 4);
    free(ids);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
}

/* A context smaller than the model's window has the same edge. */
static void small_context_window(void **state)
{
    (void)state;
    maas_gpt2 *model = open_model("gpt2-tiny", false);
    maas_gpt2_context *ctx = new_context(model, 1, 16);
    assert_int_equal(maas_gpt2_context_capacity(ctx), 16);
    int32_t ids[17] = {0};
    assert_int_equal(maas_gpt2_eval(ctx, ids, 16, NULL), MAAS_OK);
    assert_int_equal(maas_gpt2_eval(ctx, ids, 1, NULL), MAAS_ERR_CONTEXT_FULL);
    assert_int_equal(maas_gpt2_context_truncate(ctx, 10), MAAS_OK);
    assert_null(maas_gpt2_get_logits(ctx));
    assert_int_equal(maas_gpt2_eval(ctx, ids, 6, NULL), MAAS_OK);
    assert_int_equal(maas_gpt2_context_truncate(ctx, 17), MAAS_ERR_INVALID_ARGUMENT);

    /* n_ctx above the model's window is rejected. */
    maas_gpt2_context_params p;
    maas_gpt2_context_params_default(&p);
    p.n_ctx = maas_gpt2_get_config(model)->n_positions + 1;
    maas_gpt2_context *big = NULL;
    assert_int_equal(maas_gpt2_context_create(model, &p, &big),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_null(big);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
}

static void out_of_vocabulary_id_rejected(void **state)
{
    (void)state;
    maas_gpt2 *model = open_model("gpt2-tiny", false);
    maas_gpt2_context *ctx = new_context(model, 1, 0);
    int32_t ids[3] = {1, maas_gpt2_get_config(model)->vocab_size, 2};
    assert_int_equal(maas_gpt2_eval(ctx, ids, 3, NULL), MAAS_ERR_INVALID_ARGUMENT);
    ids[1] = -1;
    assert_int_equal(maas_gpt2_eval(ctx, ids, 3, NULL), MAAS_ERR_INVALID_ARGUMENT);
    int n_held;
    maas_gpt2_context_tokens(ctx, &n_held);
    assert_int_equal(n_held, 0);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
}

/* ---- non-finite values --------------------------------------------------------------- */

/* Writes a copy of a fixture's config and tensors with one ln_f.bias
 * entry set to NaN (no tokenizer keys). */
static void write_nan_model(const char *src_path, const char *dst_path)
{
    maas_file *src;
    assert_int_equal(maas_file_open(src_path, &src), MAAS_OK);
    maas_writer *w;
    assert_int_equal(maas_writer_create("gpt2", &w), MAAS_OK);
    static const char *const u32_keys[] = {"n_layer", "n_head", "n_embd",
                                           "n_positions", "vocab_size",
                                           "n_inner", "eos_token_id"};
    for (size_t i = 0; i < sizeof u32_keys / sizeof u32_keys[0]; i++) {
        uint32_t v;
        assert_int_equal(maas_file_get_u32(src, u32_keys[i], &v), MAAS_OK);
        assert_int_equal(maas_writer_set_u32(w, u32_keys[i], v), MAAS_OK);
    }
    float eps;
    assert_int_equal(maas_file_get_f32(src, "layer_norm_epsilon", &eps), MAAS_OK);
    assert_int_equal(maas_writer_set_f32(w, "layer_norm_epsilon", eps), MAAS_OK);

    float bias[64];
    for (uint32_t i = 0; i < maas_file_tensor_count(src); i++) {
        const char *name = maas_file_tensor_name(src, i);
        maas_tensor t;
        assert_int_equal(maas_file_tensor_at(src, i, &t), MAAS_OK);
        if (!strcmp(name, "ln_f.bias")) {
            assert_true(t.shape[0] <= 64);
            memcpy(bias, t.data, (size_t)t.shape[0] * sizeof(float));
            bias[0] = NAN;
            t.data = bias;
        }
        assert_int_equal(maas_writer_add_tensor(w, name, &t), MAAS_OK);
    }
    assert_int_equal(maas_writer_write(w, dst_path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);
    maas_file_close(src);
}

static void non_finite_logits_stop_generation(void **state)
{
    (void)state;
    const char *path = "build/tests/gpt2-nan.maas";
    write_nan_model("build/fixtures/gpt2-tiny.maas", path);
    maas_gpt2 *model = NULL;
    assert_int_equal(maas_gpt2_open(path, &model), MAAS_OK);
    assert_null(maas_gpt2_get_tokenizer(model));
    maas_gpt2_context *ctx = new_context(model, 1, 0);

    int32_t prompt[3] = {5, 6, 7};
    token_list out;
    maas_sampling_params settings[2] = {greedy_params(), greedy_params()};
    settings[1].temperature = 0.8f;
    settings[1].seed = 1;
    for (int s = 0; s < 2; s++) {
        maas_gpt2_generate_result r;
        assert_int_equal(generate_ids(ctx, prompt, 3, &settings[s], 10, &out, &r),
                         MAAS_ERR_NON_FINITE);
        assert_int_equal(out.n, 0);
        assert_int_equal(r.n_generated, 0);
        assert_int_equal(r.stop_reason, MAAS_STOP_NONE);
    }

    /* Text generation needs a tokenizer, which this file lacks. */
    maas_gpt2_generate_params gp;
    maas_gpt2_generate_params_default(&gp);
    assert_int_equal(maas_gpt2_generate(ctx, "hi", 2, &gp, NULL),
                     MAAS_ERR_UNSUPPORTED);
    maas_gpt2_context_free(ctx);
    maas_gpt2_free(model);
    remove(path);
}

/* ---- loading errors ---------------------------------------------------------------------- */

static void load_errors_are_statuses(void **state)
{
    (void)state;
    maas_gpt2 *model = NULL;
    assert_int_equal(maas_gpt2_open("build/fixtures/no-such-model.maas", &model),
                     MAAS_ERR_IO);
    assert_null(model);
    assert_int_not_equal(maas_gpt2_open("tests/fixtures/gpt2-tiny/config.json",
                                        &model), MAAS_OK);
    assert_null(model);
    assert_true(strlen(maas_last_error()) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logits_match_hf_f32),
        cmocka_unit_test(logits_match_hf_f16),
        cmocka_unit_test(greedy_matches_hf_generate),
        cmocka_unit_test(greedy_repetition_penalty_matches_hf),
        cmocka_unit_test(kv_cache_equals_recompute),
        cmocka_unit_test(prompt_batches_equal_one_pass),
        cmocka_unit_test(one_and_two_threads_same_tokens),
        cmocka_unit_test(two_threads_identical_logits),
        cmocka_unit_test(same_seed_repeats_with_cache),
        cmocka_unit_test(shared_model_across_threads),
        cmocka_unit_test(every_position_works_then_full),
        cmocka_unit_test(small_context_window),
        cmocka_unit_test(out_of_vocabulary_id_rejected),
        cmocka_unit_test(non_finite_logits_stop_generation),
        cmocka_unit_test(load_errors_are_statuses),
    };
    return cmocka_run_group_tests_name("gpt2", tests, NULL, NULL);
}
