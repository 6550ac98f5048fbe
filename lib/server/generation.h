/* One text-generation request (completions or chat) from the moment it
 * holds a slot until its response is sent, streamed or whole. */
#ifndef MAAS_SRV_GENERATION_H
#define MAAS_SRV_GENERATION_H

#include "server/server_internal.h"

#define MAAS_SRV_MAX_STOPS 7  /* OpenAI's 4, plus the chat template's 3 */

typedef struct maas_srv_generation {
    maas_server *srv;
    maas_srv_request *req;
    bool chat;                 /* chat.completion objects instead of text_completion */

    /* Request, validated. */
    int n_prompts;
    int32_t **prompt_ids;      /* [n_prompts][prompt_len[i]] */
    int *prompt_len;
    int max_tokens;
    maas_srv_sampling sampling;
    const char *stops[MAAS_SRV_MAX_STOPS];
    size_t stop_len[MAAS_SRV_MAX_STOPS];
    char *stop_copies[MAAS_SRV_MAX_STOPS];  /* owned: the JSON tree ends with the handler */
    int n_stops;
    bool stream, include_usage;
    bool ignore_eos;           /* extension: <|endoftext|> is an ordinary token */

    /* Response identity. */
    char id[48];
    int64_t created;

    /* Progress of the current choice. */
    int slot;                  /* -1 until acquired */
    int choice;                /* index of the prompt being answered */
    int generated;             /* tokens sampled for this choice */
    bool choice_open;          /* maas_srv_generate_begin ran for `choice` */
    bool strip_leading_space;  /* chat: drop whitespace before the first word */
    bool all_done;
    maas_decoder *decoder;
    maas_srv_stopper stopper;
    const char *finish_reason;
    long prompt_tokens, completion_tokens;

    /* Streaming: bytes produced but not yet given to libmicrohttpd. */
    char *out;
    size_t out_len, out_pos, out_cap;
} maas_srv_generation;

/* Frees the request data of a generation that never started. */
void maas_srv_generation_free(maas_srv_generation *g);

/* Takes a slot, runs the request and queues its response (whole, or a
 * stream of server-sent events).  Takes ownership of `g` in every case. */
enum MHD_Result maas_srv_generation_run(maas_srv_generation *g);

#endif /* MAAS_SRV_GENERATION_H */
