/* Running a completion or chat request on a slot: token by token, with stop
 * strings, and either one JSON response or a stream of server-sent events
 * ending with "data: [DONE]". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "server/generation.h"

void maas_srv_generation_free(maas_srv_generation *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_prompts; i++)
        free(g->prompt_ids ? g->prompt_ids[i] : NULL);
    free(g->prompt_ids);
    free(g->prompt_len);
    for (int i = 0; i < MAAS_SRV_MAX_STOPS; i++)
        free(g->stop_copies[i]);
    maas_decoder_free(g->decoder);
    maas_srv_stopper_free(&g->stopper);
    free(g->out);
    free(g);
}

/* ---- one token at a time ---- */

static maas_status open_choice(maas_srv_generation *g)
{
    maas_srv_slot *slot = maas_srv_engine_slot(g->srv->engine, g->slot);
    maas_status st = maas_srv_generate_begin(slot, g->prompt_ids[g->choice],
                                             g->prompt_len[g->choice], &g->sampling);
    if (st != MAAS_OK)
        return st;

    /* Drop bytes a stop string left in the decoder from the previous choice. */
    char rest[64];
    size_t rest_len;
    st = maas_decoder_flush(g->decoder, rest, sizeof rest, &rest_len);
    if (st != MAAS_OK)
        return st;

    maas_srv_stopper_free(&g->stopper);
    maas_srv_stopper_init(&g->stopper, g->stops, g->stop_len, g->n_stops);
    g->generated = 0;
    g->finish_reason = NULL;
    g->choice_open = true;
    g->strip_leading_space = g->chat;
    g->prompt_tokens += g->prompt_len[g->choice];
    atomic_fetch_add(&g->req->tokens, g->prompt_len[g->choice]);
    return MAAS_OK;
}

/* Chat replies start after "Assistant:", so the model's first token
 * usually begins with a space.  Whitespace is dropped until the first other
 * character, in streamed and whole replies alike. */
static void strip_leading(maas_srv_generation *g, const char **text, size_t *n)
{
    if (!g->strip_leading_space)
        return;
    while (*n > 0 && isspace((unsigned char)**text)) {
        (*text)++;
        (*n)--;
    }
    if (*n > 0)
        g->strip_leading_space = false;
}

/* Runs one step of the current choice.  *text / *n receive the text that
 * became safe to send (possibly empty); *finished turns true when the
 * choice ended, with g->finish_reason set. */
static maas_status step(maas_srv_generation *g, const char **text, size_t *n, bool *finished)
{
    maas_srv_slot *slot = maas_srv_engine_slot(g->srv->engine, g->slot);
    *text = "";
    *n = 0;
    *finished = false;

    /* 1. Sample.  The end-of-text token ends the choice without text. */
    int32_t id;
    maas_status st = maas_srv_generate_sample(slot, &id);
    if (st != MAAS_OK)
        return st;
    int32_t eos = maas_tokenizer_special_id(maas_srv_engine_tokenizer(g->srv->engine),
                                            MAAS_SPECIAL_EOS);
    char piece[256];
    size_t piece_len = 0;
    const char *ignored;
    size_t ignored_len;
    size_t start = g->stopper.sent;
    if (id == eos && !g->ignore_eos) {
        g->finish_reason = "stop";
    } else if (id == eos) {
        /* Ignored end of text: counted, fed back, and without text. */
        g->generated++;
        g->completion_tokens++;
        atomic_fetch_add(&g->req->tokens, 1);
        if (g->generated >= g->max_tokens)
            g->finish_reason = "length";
    } else {
        g->generated++;
        g->completion_tokens++;
        atomic_fetch_add(&g->req->tokens, 1);

        /* 2. Decode to complete UTF-8 and run it through the stop strings. */
        st = maas_decoder_push(g->decoder, id, piece, sizeof piece, &piece_len);
        if (st != MAAS_OK)
            return st;
        st = maas_srv_stopper_push(&g->stopper, piece, piece_len, &ignored, &ignored_len);
        if (st != MAAS_OK)
            return st;
        if (g->stopper.stopped)
            g->finish_reason = "stop";
        else if (g->generated >= g->max_tokens)
            g->finish_reason = "length";
    }

    /* 3. At the end, flush held-back bytes unless a stop string cut the text. */
    if (g->finish_reason && !g->stopper.stopped) {
        st = maas_decoder_flush(g->decoder, piece, sizeof piece, &piece_len);
        if (st == MAAS_OK)
            st = maas_srv_stopper_push(&g->stopper, piece, piece_len, &ignored, &ignored_len);
        if (st != MAAS_OK)
            return st;
        if (!g->stopper.stopped)
            maas_srv_stopper_finish(&g->stopper, &ignored, &ignored_len);
    }

    /* The pushes hand out adjacent ranges of the stopper's buffer, which may
     * have moved, so the text is taken from offsets. */
    *text = g->stopper.text ? g->stopper.text + start : "";
    *n = g->stopper.sent - start;
    strip_leading(g, text, n);

    /* 4. Continue: feed the token back for the next step. */
    if (!g->finish_reason) {
        int delay_ms = g->srv->opts.token_delay_ms;
        if (delay_ms > 0)
            nanosleep(&(struct timespec){delay_ms / 1000, delay_ms % 1000 * 1000000L}, NULL);
        return maas_srv_generate_feed(slot, id);
    }
    g->choice_open = false;
    *finished = true;
    return MAAS_OK;
}

/* Returns the reason to stop early, or NULL to go on. */
static const char *interrupted(maas_srv_generation *g)
{
    if (atomic_load(&g->srv->cancel))
        return "cancelled";
    if (maas_srv_client_gone(g->req)) {
        atomic_store(&g->req->client_gone, true);
        return "client";
    }
    return NULL;
}

static void add_usage(cJSON *root, const maas_srv_generation *g)
{
    cJSON *usage = cJSON_AddObjectToObject(root, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)g->prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens", (double)g->completion_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens",
                            (double)(g->prompt_tokens + g->completion_tokens));
}

static cJSON *response_head(const maas_srv_generation *g, const char *object)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", g->id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", (double)g->created);
    cJSON_AddStringToObject(root, "model", g->srv->model_id);
    return root;
}

/* ---- whole response ---- */

static enum MHD_Result run_whole(maas_srv_generation *g)
{
    maas_srv_request *req = g->req;
    cJSON *root = response_head(g, g->chat ? "chat.completion" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    maas_status st = MAAS_OK;
    const char *stop_reason = NULL;

    for (; g->choice < g->n_prompts && st == MAAS_OK; g->choice++) {
        if (!g->choice_open)
            st = open_choice(g);
        bool finished = false;
        while (st == MAAS_OK && !finished) {
            if ((stop_reason = interrupted(g)) != NULL)
                break;
            const char *text;
            size_t n;
            st = step(g, &text, &n, &finished);
        }
        if (stop_reason || st != MAAS_OK)
            break;

        size_t len;
        const char *text = maas_srv_stopper_text(&g->stopper, &len);
        while (g->chat && len > 0 && isspace((unsigned char)*text))
            text++, len--;
        char *copy = strndup(text, len);
        cJSON *choice = cJSON_CreateObject();
        cJSON_AddNumberToObject(choice, "index", g->choice);
        if (g->chat) {
            cJSON *message = cJSON_AddObjectToObject(choice, "message");
            cJSON_AddStringToObject(message, "role", "assistant");
            cJSON_AddStringToObject(message, "content", copy ? copy : "");
        } else {
            cJSON_AddStringToObject(choice, "text", copy ? copy : "");
        }
        free(copy);
        cJSON_AddNullToObject(choice, "logprobs");
        cJSON_AddStringToObject(choice, "finish_reason", g->finish_reason);
        cJSON_AddItemToArray(choices, choice);
    }

    enum MHD_Result result;
    if (stop_reason && strcmp(stop_reason, "client") == 0) {
        /* The client has gone: close the connection without a response. */
        cJSON_Delete(root);
        req->status = 499;
        result = MHD_NO;
    } else if (stop_reason) {
        cJSON_Delete(root);
        result = maas_srv_send_error(req, 503, "server_error", NULL, "server_stopping",
                                     "the server stopped before the completion finished");
    } else if (st != MAAS_OK) {
        cJSON_Delete(root);
        result = maas_srv_send_status(req, st, NULL);
    } else {
        add_usage(root, g);
        result = maas_srv_send_json(req, 200, root);
    }

    maas_srv_slot_release(g->srv, g->slot);
    maas_srv_generation_free(g);
    return result;
}

/* ---- streamed response ---- */

static bool out_append(maas_srv_generation *g, const char *data, size_t n)
{
    if (g->out_len + n > g->out_cap) {
        size_t cap = g->out_cap ? g->out_cap : 1024;
        while (cap < g->out_len + n)
            cap *= 2;
        char *out = realloc(g->out, cap);
        if (!out)
            return false;
        g->out = out;
        g->out_cap = cap;
    }
    memcpy(g->out + g->out_len, data, n);
    g->out_len += n;
    return true;
}

/* Appends "data: JSON\n\n" and frees `event`. */
static bool out_event(maas_srv_generation *g, cJSON *event)
{
    char *json = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);
    bool ok = json && out_append(g, "data: ", 6) && out_append(g, json, strlen(json)) &&
              out_append(g, "\n\n", 2);
    free(json);
    return ok;
}

/* One chunk: a piece of text for the current choice, or its end. */
static bool out_chunk(maas_srv_generation *g, const char *text, size_t n,
                      const char *finish_reason, bool role)
{
    cJSON *chunk = response_head(g, g->chat ? "chat.completion.chunk" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(chunk, "choices");
    cJSON *choice = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, choice);
    cJSON_AddNumberToObject(choice, "index", g->choice);

    char *copy = strndup(text, n);
    if (g->chat) {
        cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
        if (role)
            cJSON_AddStringToObject(delta, "role", "assistant");
        if (role || n > 0)
            cJSON_AddStringToObject(delta, "content", copy ? copy : "");
    } else {
        cJSON_AddStringToObject(choice, "text", copy ? copy : "");
    }
    free(copy);
    cJSON_AddNullToObject(choice, "logprobs");
    if (finish_reason)
        cJSON_AddStringToObject(choice, "finish_reason", finish_reason);
    else
        cJSON_AddNullToObject(choice, "finish_reason");
    if (g->include_usage)
        cJSON_AddNullToObject(chunk, "usage");
    return out_event(g, chunk);
}

static bool out_error(maas_srv_generation *g, const char *type, const char *code,
                      const char *message)
{
    cJSON *event = cJSON_CreateObject();
    cJSON *error = cJSON_AddObjectToObject(event, "error");
    cJSON_AddStringToObject(error, "message", message);
    cJSON_AddStringToObject(error, "type", type);
    cJSON_AddNullToObject(error, "param");
    if (code)
        cJSON_AddStringToObject(error, "code", code);
    else
        cJSON_AddNullToObject(error, "code");
    return out_event(g, event);
}

/* Runs one step and appends the events it produced to g->out. */
static maas_status stream_advance(maas_srv_generation *g)
{
    if (!g->choice_open) {
        maas_status st = open_choice(g);
        if (st != MAAS_OK)
            return st;
        if (g->chat && !out_chunk(g, "", 0, NULL, true))
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot write a stream event");
    }

    const char *text;
    size_t n;
    bool finished;
    maas_status st = step(g, &text, &n, &finished);
    if (st != MAAS_OK)
        return st;
    bool ok = true;
    if (n > 0)
        ok = out_chunk(g, text, n, NULL, false);
    if (finished) {
        ok = ok && out_chunk(g, "", 0, g->finish_reason, false);
        g->choice++;
        if (g->choice == g->n_prompts) {
            if (g->include_usage) {
                cJSON *last = response_head(
                    g, g->chat ? "chat.completion.chunk" : "text_completion");
                cJSON_AddArrayToObject(last, "choices");
                add_usage(last, g);
                ok = ok && out_event(g, last);
            }
            ok = ok && out_append(g, "data: [DONE]\n\n", 14);
            g->all_done = true;
        }
    }
    if (!ok)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot write a stream event");
    return MAAS_OK;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    maas_srv_generation *g = cls;

    /* Produce until there is something to send. */
    while (g->out_pos == g->out_len) {
        g->out_pos = g->out_len = 0;
        if (g->all_done)
            return MHD_CONTENT_READER_END_OF_STREAM;

        const char *reason = interrupted(g);
        if (reason && strcmp(reason, "client") == 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (reason) {
            g->all_done = true;
            if (!out_error(g, "server_error", "server_stopping",
                           "the server stopped before the completion finished"))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }

        maas_status st = stream_advance(g);
        if (st != MAAS_OK) {
            /* Headers are sent already: report the failure as an event. */
            maas_log(MAAS_LOG_ERROR, "stream %s failed: %s: %s", g->id, maas_status_name(st),
                     maas_last_error());
            g->all_done = true;
            char message[512];
            snprintf(message, sizeof message, "the model failed: %s: %s",
                     maas_status_name(st), maas_last_error());
            if (!out_error(g, "server_error", NULL, message))
                return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }

    size_t n = g->out_len - g->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, g->out + g->out_pos, n);
    g->out_pos += n;
    return (ssize_t)n;
}

/* Called by libmicrohttpd when the response is destroyed: after the last
 * byte, or as soon as the client hung up or the server stopped. */
static void stream_free(void *cls)
{
    maas_srv_generation *g = cls;
    maas_srv_request *req = g->req;
    maas_srv_slot_release(g->srv, g->slot);
    maas_srv_generation_free(g);
    maas_srv_request_release(req);
}

static enum MHD_Result run_stream(maas_srv_generation *g)
{
    maas_srv_request *req = g->req;

    /* The first prompt runs before the headers go out, so its errors still
     * get a proper status. */
    maas_status st = open_choice(g);
    if (st != MAAS_OK) {
        enum MHD_Result result = maas_srv_send_status(req, st, "prompt");
        maas_srv_slot_release(g->srv, g->slot);
        maas_srv_generation_free(g);
        return result;
    }
    if (g->chat && !out_chunk(g, "", 0, NULL, true)) {
        maas_srv_slot_release(g->srv, g->slot);
        maas_srv_generation_free(g);
        return maas_srv_send_error(req, 500, "server_error", NULL, NULL, "out of memory");
    }

    struct MHD_Response *response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, g, stream_free);
    if (!response) {
        maas_srv_slot_release(g->srv, g->slot);
        maas_srv_generation_free(g);
        return MHD_NO;
    }
    atomic_fetch_add(&req->refs, 1);  /* released by stream_free */
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(response, "X-Accel-Buffering", "no");
    enum MHD_Result result = MHD_queue_response(req->connection, 200, response);
    MHD_destroy_response(response);
    req->status = 200;
    req->handled = true;
    return result;
}

enum MHD_Result maas_srv_generation_run(maas_srv_generation *g)
{
    maas_srv_request *req = g->req;
    maas_srv_make_id(g->srv, g->chat ? "chatcmpl" : "cmpl", g->id, sizeof g->id);
    g->created = (int64_t)time(NULL);

    maas_status st = maas_decoder_create(maas_srv_engine_tokenizer(g->srv->engine),
                                         &g->decoder);
    if (st != MAAS_OK) {
        maas_srv_generation_free(g);
        return maas_srv_send_status(req, st, NULL);
    }

    enum MHD_Result result;
    g->slot = maas_srv_slot_acquire(req, &result);
    if (g->slot < 0) {
        maas_srv_generation_free(g);
        return result;
    }
    return g->stream ? run_stream(g) : run_whole(g);
}
