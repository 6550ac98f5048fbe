/* POST /v1/completions and POST /v1/chat/completions: request validation.
 * generation.c runs the validated request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "server/generation.h"

/* Seeds given in JSON must be exact in a double. */
#define MAX_SEED 9007199254740991LL  /* 2^53 - 1 */

/* Fields of OpenAI's API this server does not implement.  Silently
 * ignoring them would change results, so a value other than the neutral
 * one gets 400.  Unknown fields are ignored, as OpenAI does. */
static bool check_unsupported(const cJSON *body, maas_srv_error *err)
{
    static const char *const must_be_falsy[] = {"echo", "logprobs", "top_logprobs",
                                                "suffix", "tools", "functions",
                                                "response_format", "logit_bias"};
    for (size_t i = 0; i < sizeof must_be_falsy / sizeof must_be_falsy[0]; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, must_be_falsy[i]);
        bool neutral = !item || cJSON_IsNull(item) || cJSON_IsFalse(item) ||
                       (cJSON_IsObject(item) && !item->child) ||
                       (cJSON_IsArray(item) && !item->child) ||
                       (cJSON_IsString(item) && item->valuestring[0] == '\0');
        /* response_format {"type": "text"} is the default. */
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
        if (strcmp(must_be_falsy[i], "response_format") == 0 && cJSON_IsString(type) &&
            strcmp(type->valuestring, "text") == 0)
            neutral = true;
        if (!neutral) {
            err->param = must_be_falsy[i];
            snprintf(err->message, sizeof err->message,
                     "'%s' is not supported by this server; remove it", must_be_falsy[i]);
            return false;
        }
    }

    static const char *const must_be_zero[] = {"presence_penalty", "frequency_penalty"};
    for (size_t i = 0; i < 2; i++) {
        double v = 0.0;
        if (!maas_srv_get_number(body, must_be_zero[i], -2.0, 2.0, &v, err))
            return false;
        if (v != 0.0) {
            err->param = must_be_zero[i];
            snprintf(err->message, sizeof err->message,
                     "'%s' is not supported by this server; send 0 or leave it out",
                     must_be_zero[i]);
            return false;
        }
    }

    long long best_of = 1;
    if (!maas_srv_get_int(body, "best_of", 1, 1, &best_of, err))
        return false;
    return true;
}

/* Sampling, stop strings, streaming and n: the fields both endpoints share. */
static bool read_common(maas_srv_generation *g, const cJSON *body, maas_srv_error *err)
{
    int vocab = maas_tokenizer_vocab_size(maas_srv_engine_tokenizer(g->srv->engine));

    if (!check_unsupported(body, err))
        return false;

    const char *model = NULL;
    if (!maas_srv_get_string(body, "model", &model, err))
        return false;

    long long n = 1;
    if (!maas_srv_get_int(body, "n", 1, 1000000, &n, err))
        return false;
    if (n != 1) {
        err->param = "n";
        snprintf(err->message, sizeof err->message,
                 "'n' is %lld; this server generates one choice per prompt, so 'n' must "
                 "be 1 (send several requests instead)",
                 n);
        return false;
    }

    double temperature = 1.0, top_p = 1.0;
    long long top_k = 0;
    if (!maas_srv_get_number(body, "temperature", 0.0, 2.0, &temperature, err) ||
        !maas_srv_get_number(body, "top_p", 0.0, 1.0, &top_p, err) ||
        !maas_srv_get_int(body, "top_k", 0, vocab, &top_k, err))
        return false;

    /* Without a seed each request gets a different one. */
    long long seed = -1;
    const cJSON *seed_item = cJSON_GetObjectItemCaseSensitive(body, "seed");
    if (!maas_srv_get_int(body, "seed", -MAX_SEED, MAX_SEED, &seed, err))
        return false;
    uint64_t seed_bits;
    if (seed_item && !cJSON_IsNull(seed_item)) {
        seed_bits = (uint64_t)seed;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed_bits = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
                    atomic_fetch_add(&g->srv->next_id, 1);
    }
    g->sampling = (maas_srv_sampling){.temperature = (float)temperature,
                                      .top_p = (float)top_p,
                                      .top_k = (int)top_k,
                                      .seed = seed_bits};

    /* Stop strings: a string or up to 4 strings; empty ones are ignored. */
    maas_srv_texts stops;
    if (!maas_srv_get_texts(body, "stop", 4, false, &stops, err))
        return false;
    for (int i = 0; i < stops.n; i++) {
        if (stops.len[i] == 0)
            continue;
        g->stop_copies[g->n_stops] = strndup(stops.text[i], stops.len[i]);
        if (!g->stop_copies[g->n_stops]) {
            maas_srv_texts_free(&stops);
            err->param = "stop";
            snprintf(err->message, sizeof err->message, "out of memory reading 'stop'");
            return false;
        }
        g->stops[g->n_stops] = g->stop_copies[g->n_stops];
        g->stop_len[g->n_stops] = stops.len[i];
        g->n_stops++;
    }
    maas_srv_texts_free(&stops);

    if (!maas_srv_get_bool(body, "stream", &g->stream, err) ||
        !maas_srv_get_bool(body, "ignore_eos", &g->ignore_eos, err))
        return false;
    const cJSON *options = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    if (options && !cJSON_IsNull(options)) {
        if (!cJSON_IsObject(options)) {
            err->param = "stream_options";
            snprintf(err->message, sizeof err->message, "'stream_options' must be an object");
            return false;
        }
        if (!maas_srv_get_bool(options, "include_usage", &g->include_usage, err))
            return false;
    }
    return true;
}

/* Tokenizes `text` into prompt `i`.  An empty prompt becomes the
 * end-of-text token, as OpenAI does for GPT models. */
static maas_status tokenize_prompt(maas_srv_generation *g, int i, const char *text,
                                   size_t len)
{
    const maas_tokenizer *tok = maas_srv_engine_tokenizer(g->srv->engine);
    maas_encoding enc = {0};
    maas_encode_options opts = {.add_special = false, .parse_special = false};
    maas_status st = maas_tokenizer_encode(tok, text, len, &opts, &enc);
    if (st != MAAS_OK)
        return st;

    int n = enc.n > 0 ? enc.n : 1;
    g->prompt_ids[i] = malloc((size_t)n * sizeof(int32_t));
    if (!g->prompt_ids[i]) {
        maas_encoding_free(&enc);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot store a prompt of %d tokens", n);
    }
    if (enc.n > 0)
        memcpy(g->prompt_ids[i], enc.ids, (size_t)n * sizeof(int32_t));
    else
        g->prompt_ids[i][0] = maas_tokenizer_special_id(tok, MAAS_SPECIAL_EOS);
    g->prompt_len[i] = n;
    maas_encoding_free(&enc);
    return MAAS_OK;
}

/* Tokenizes every prompt and checks max_tokens against the context window.
 * `max_tokens` < 0 means "fill the context". */
static enum MHD_Result prepare_prompts(maas_srv_generation *g, const maas_srv_texts *prompts,
                                       long long max_tokens, bool *ok)
{
    maas_srv_request *req = g->req;
    int n_ctx = maas_srv_engine_n_ctx(g->srv->engine);
    *ok = false;

    g->n_prompts = prompts->n;
    g->prompt_ids = calloc((size_t)prompts->n, sizeof *g->prompt_ids);
    g->prompt_len = calloc((size_t)prompts->n, sizeof *g->prompt_len);
    if (!g->prompt_ids || !g->prompt_len)
        return maas_srv_send_error(req, 500, "server_error", NULL, NULL, "out of memory");

    int longest = 0;
    for (int i = 0; i < prompts->n; i++) {
        maas_status st = tokenize_prompt(g, i, prompts->text[i], prompts->len[i]);
        if (st != MAAS_OK)
            return maas_srv_send_status(req, st, "prompt");
        if (g->prompt_len[i] > longest)
            longest = g->prompt_len[i];
    }

    /* OpenAI's check: prompt plus completion must fit the context. */
    if (max_tokens < 0)
        max_tokens = n_ctx - longest;
    if (longest + max_tokens > n_ctx || max_tokens < 1)
        return maas_srv_send_error(
            req, 400, "invalid_request_error", max_tokens < 1 ? "messages" : "max_tokens",
            "context_length_exceeded",
            "this model's maximum context length is %d tokens, but you requested %lld "
            "tokens (%d in the prompt, %lld for the completion); shorten the prompt or "
            "lower max_tokens",
            n_ctx, longest + max_tokens, longest, max_tokens);
    g->max_tokens = (int)max_tokens;
    *ok = true;
    return MHD_YES;
}

static maas_srv_generation *generation_new(maas_srv_request *req, bool chat)
{
    maas_srv_generation *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->srv = req->srv;
    g->req = req;
    g->chat = chat;
    g->slot = -1;
    return g;
}

static enum MHD_Result wrong_model(maas_srv_request *req, const char *endpoint)
{
    maas_server *srv = req->srv;
    return maas_srv_send_error(req, 400, "invalid_request_error", "model",
                               "unsupported_endpoint",
                               "model '%s' (%s) cannot serve %s; it is not a text "
                               "generation model (GET /v1/models lists its endpoints)",
                               srv->model_id, maas_srv_engine_arch(srv->engine), endpoint);
}

enum MHD_Result maas_srv_handle_completions(maas_srv_request *req, const cJSON *body)
{
    maas_server *srv = req->srv;
    if (!(maas_srv_engine_tasks(srv->engine) & MAAS_SRV_TASK_GENERATE))
        return wrong_model(req, "/v1/completions");

    maas_srv_generation *g = generation_new(req, false);
    if (!g)
        return maas_srv_send_error(req, 500, "server_error", NULL, NULL, "out of memory");

    /* Parameters.  OpenAI's default max_tokens for completions is 16. */
    maas_srv_error err = {0};
    long long max_tokens = 16;
    maas_srv_texts prompts = {0};
    int n_ctx = maas_srv_engine_n_ctx(srv->engine);
    if (!read_common(g, body, &err) ||
        !maas_srv_get_int(body, "max_tokens", 1, n_ctx, &max_tokens, &err) ||
        !maas_srv_get_texts(body, "prompt", srv->opts.max_prompts, true, &prompts, &err)) {
        maas_srv_generation_free(g);
        return maas_srv_bad_request(req, err.param, "%s", err.message);
    }

    bool ok;
    enum MHD_Result result = prepare_prompts(g, &prompts, max_tokens, &ok);
    maas_srv_texts_free(&prompts);
    if (!ok) {
        maas_srv_generation_free(g);
        return result;
    }
    return maas_srv_generation_run(g);
}

enum MHD_Result maas_srv_handle_chat(maas_srv_request *req, const cJSON *body)
{
    maas_server *srv = req->srv;
    if (!(maas_srv_engine_tasks(srv->engine) & MAAS_SRV_TASK_GENERATE))
        return wrong_model(req, "/v1/chat/completions");

    maas_srv_generation *g = generation_new(req, true);
    if (!g)
        return maas_srv_send_error(req, 500, "server_error", NULL, NULL, "out of memory");

    /* Parameters.  Without a limit the reply may fill the context, as
     * OpenAI's chat endpoint allows; max_completion_tokens is the newer
     * name of max_tokens. */
    maas_srv_error err = {0};
    long long max_tokens = -1;
    int n_ctx = maas_srv_engine_n_ctx(srv->engine);
    if (!read_common(g, body, &err) ||
        !maas_srv_get_int(body, "max_tokens", 1, n_ctx, &max_tokens, &err) ||
        !maas_srv_get_int(body, "max_completion_tokens", 1, n_ctx, &max_tokens, &err)) {
        maas_srv_generation_free(g);
        return maas_srv_bad_request(req, err.param, "%s", err.message);
    }

    /* The template's turn markers end the reply like stop strings. */
    for (int i = 0; i < MAAS_SRV_CHAT_N_STOPS; i++) {
        g->stops[g->n_stops] = maas_srv_chat_stops[i];
        g->stop_len[g->n_stops] = strlen(maas_srv_chat_stops[i]);
        g->n_stops++;
    }

    char *prompt = maas_srv_chat_render(cJSON_GetObjectItemCaseSensitive(body, "messages"),
                                        &err);
    if (!prompt) {
        maas_srv_generation_free(g);
        return maas_srv_bad_request(req, err.param, "%s", err.message);
    }
    size_t prompt_len = strlen(prompt);
    maas_srv_texts prompts = {.n = 1, .text = (const char *[]){prompt}, .len = &prompt_len};
    bool ok;
    enum MHD_Result result = prepare_prompts(g, &prompts, max_tokens, &ok);
    free(prompt);
    if (!ok) {
        maas_srv_generation_free(g);
        return result;
    }
    return maas_srv_generation_run(g);
}
