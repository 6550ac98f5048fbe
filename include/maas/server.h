/* libmaas: an HTTP server with an OpenAI-compatible API.
 *
 * One process loads one .maas model and serves it to many clients:
 *   POST /v1/completions       GPT-2 text completion (streaming with SSE)
 *   POST /v1/chat/completions  GPT-2 chat through a plain prompt template
 *   POST /v1/embeddings        BERT sentence embeddings
 *   POST /v1/qa                BERT extractive question answering
 *   GET  /v1/models, /health
 * docs/SERVER.md describes each endpoint, its parameters and limits.
 *
 * Requests that run the model take one of `n_parallel` slots; each slot owns
 * its own inference context over the one shared, read-only model.  When all
 * slots are busy, up to `max_queue` requests wait in arrival order, and
 * further requests get 503 with a Retry-After header.
 *
 * The server runs on libmicrohttpd with one thread per connection, so a slow
 * client only holds its own thread.  Errors are JSON in OpenAI's shape:
 *   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
 */
#ifndef MAAS_SERVER_H
#define MAAS_SERVER_H

#include "maas/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct maas_server maas_server;

/* Server settings.  Fill with maas_server_options_default, then change
 * fields.  Strings are copied by maas_server_start. */
typedef struct maas_server_options {
    const char *model_path;    /* .maas file to serve (required) */
    const char *model_id;      /* name in responses and /v1/models; NULL: the file name without .maas */
    const char *host;          /* address to bind; default "127.0.0.1" */
    int port;                  /* TCP port; 0 picks a free one (see maas_server_port); default 8080 */
    int n_threads;             /* compute threads per request; <= 0: cores / n_parallel, at least 1 */
    int n_parallel;            /* request slots, each with its own context; default 2 */
    int max_queue;             /* requests that may wait for a slot; default 16 */
    const char *api_key;       /* when set, requests need "Authorization: Bearer KEY"; NULL: no key */
    size_t max_body_bytes;     /* request bodies above this get 413; default 1 MiB */
    int max_connections;       /* open connections; further ones are refused; default 128 */
    int timeout_seconds;       /* an idle connection is closed after this; default 10 */
    int max_prompts;           /* entries in a prompt or input list; default 64 */
    bool access_log;           /* one line per request on stderr; default true */
    int token_delay_ms;        /* pause after each generated token, for tests of
                                  queueing and disconnects; default 0 */
} maas_server_options;

void maas_server_options_default(maas_server_options *opts);

/* Loads the model, creates the slots and starts listening.  The server runs
 * on its own threads until maas_server_stop.  Errors: those of loading the
 * model (see maas/file.h), MAAS_ERR_INVALID_ARGUMENT for an option out of
 * range, MAAS_ERR_UNSUPPORTED for a model architecture the server cannot
 * serve, MAAS_ERR_IO when the address cannot be bound. */
maas_status maas_server_start(const maas_server_options *opts, maas_server **out);

/* Returns the port the server listens on (useful after port 0). */
int maas_server_port(const maas_server *srv);

/* Returns the model name the server reports. */
const char *maas_server_model_id(const maas_server *srv);

/* Stops the server: closes the listening socket, answers queued and new
 * requests with 503, lets running requests finish for up to
 * `grace_seconds`, then cancels the rest and closes every connection.
 * Returns once every server thread has ended.  Safe to call once; call
 * maas_server_free afterwards. */
void maas_server_stop(maas_server *srv, double grace_seconds);

/* Stops the server if it still runs (with no grace period) and frees it.
 * Accepts NULL. */
void maas_server_free(maas_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_SERVER_H */
