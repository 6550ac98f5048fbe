/* Types and helpers shared by the server's sources; not installed.
 *
 * Flow of one request: server.c receives it from libmicrohttpd, checks
 * route, key, content type and body size, collects the body, validates it
 * as UTF-8 JSON and hands the parsed object to an endpoint handler
 * (completions.c, embeddings.c, qa.c, info.c).  A handler that runs the
 * model first takes a slot from the pool (pool.c). */
#ifndef MAAS_SRV_INTERNAL_H
#define MAAS_SRV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "maas/server.h"
#include "server/engine.h"

/* ---- slot pool with a bounded wait queue (pool.c) ---- */

typedef struct maas_srv_waiter maas_srv_waiter;

typedef struct maas_srv_pool {
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    int n_slots;
    bool *busy;              /* [n_slots] */
    int n_busy;
    int max_queue;
    int n_waiting;
    maas_srv_waiter *head, *tail;  /* waiters in arrival order */
    bool closed;             /* set on shutdown: no slot is handed out again */
} maas_srv_pool;

/* Outcomes of maas_srv_pool_acquire besides a slot index >= 0. */
enum {
    MAAS_SRV_POOL_FULL = -2,      /* every slot busy and the queue full */
    MAAS_SRV_POOL_CLOSED = -3,    /* the server is stopping */
    MAAS_SRV_POOL_GAVE_UP = -4,   /* `give_up` returned true while waiting */
};

maas_status maas_srv_pool_init(maas_srv_pool *p, int n_slots, int max_queue);
void maas_srv_pool_destroy(maas_srv_pool *p);

/* Takes a free slot, waiting in arrival order when none is free.  While
 * waiting, calls give_up(arg) every 50 ms (for a client that hung up).
 * Returns the slot index or one of the MAAS_SRV_POOL_* outcomes. */
int maas_srv_pool_acquire(maas_srv_pool *p, bool (*give_up)(void *), void *arg);
void maas_srv_pool_release(maas_srv_pool *p, int slot);

/* Makes every waiting and future acquire return MAAS_SRV_POOL_CLOSED. */
void maas_srv_pool_close(maas_srv_pool *p);

/* Counts for /health. */
void maas_srv_pool_counts(maas_srv_pool *p, int *busy, int *waiting);

/* ---- the server ---- */

struct maas_server {
    maas_server_options opts;  /* strings below are owned copies */
    char *model_path, *model_id, *host, *api_key;
    int64_t created;           /* Unix time the model was loaded */

    maas_srv_engine *engine;
    maas_srv_pool pool;
    struct MHD_Daemon *daemon;
    int port;

    atomic_bool draining;      /* stop requested: answer new requests with 503 */
    atomic_bool cancel;        /* grace period over: running requests end now */
    atomic_int running;        /* requests holding a slot */
    atomic_int open_requests;  /* requests between their first call and their log line */
    atomic_uint_fast64_t next_id;
    bool stopped;
};

/* ---- one HTTP request (server.c) ---- */

typedef struct maas_srv_request {
    maas_server *srv;
    struct MHD_Connection *connection;
    int fd;                    /* the client's socket, to notice a hang-up */
    const char *method, *path; /* valid for the request's lifetime (owned by libmicrohttpd) */
    int route;

    char *body;
    size_t body_len, body_cap;
    bool body_too_large;
    bool handled;

    double start_ms;
    int status;                /* HTTP status sent, for the access log */
    atomic_long tokens;        /* prompt plus generated tokens, for the access log */
    atomic_bool client_gone;   /* a stream ended because the client hung up */
    atomic_int refs;           /* the connection, plus a streaming response */
} maas_srv_request;

void maas_srv_request_release(maas_srv_request *req);

/* Returns true when the client closed its side of the connection. */
bool maas_srv_client_gone(void *request);

/* Returns milliseconds on a monotonic clock. */
double maas_srv_now_ms(void);

/* Queues a JSON body (takes ownership of `body`, a cJSON tree) with status. */
enum MHD_Result maas_srv_send_json(maas_srv_request *req, unsigned status, cJSON *body);

/* Queues an OpenAI-style error.  `type` is "invalid_request_error",
 * "authentication_error", "server_error", ...; `param` and `code` may be
 * NULL (JSON null).  A 503 also gets "Retry-After: 1". */
enum MHD_Result maas_srv_send_error(maas_srv_request *req, unsigned status,
                                    const char *type, const char *param,
                                    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Shorthand for a 400 invalid_request_error naming `param`. */
#define maas_srv_bad_request(req, param, ...)                                 \
    maas_srv_send_error((req), 400, "invalid_request_error", (param), NULL,    \
                        __VA_ARGS__)

/* Maps a library status from the model to an HTTP error response. */
enum MHD_Result maas_srv_send_status(maas_srv_request *req, maas_status status,
                                     const char *param);

/* Takes a slot for `req` or queues the 503 or cancellation answer and
 * returns -1.  Release with maas_srv_slot_release. */
int maas_srv_slot_acquire(maas_srv_request *req, enum MHD_Result *result);
void maas_srv_slot_release(maas_server *srv, int slot);

/* Writes a response id: PREFIX-<16 hex digits>, unique within the process. */
void maas_srv_make_id(maas_server *srv, const char *prefix, char *out, size_t cap);

/* ---- JSON parameter checks (params.c) ----
 * Each getter reads an optional member of `obj`.  A missing member or JSON
 * null leaves *out at its default and returns true; a member of the wrong
 * type or out of range stores a message in `err` and returns false. */

typedef struct maas_srv_error {
    const char *param;
    char message[256];
} maas_srv_error;

bool maas_srv_get_int(const cJSON *obj, const char *name, long long lo, long long hi,
                      long long *out, maas_srv_error *err);
bool maas_srv_get_number(const cJSON *obj, const char *name, double lo, double hi,
                         double *out, maas_srv_error *err);
bool maas_srv_get_bool(const cJSON *obj, const char *name, bool *out, maas_srv_error *err);
bool maas_srv_get_string(const cJSON *obj, const char *name, const char **out,
                         maas_srv_error *err);

/* A list of texts from a member that is a string or an array of strings
 * (prompt, input, stop).  Pointers refer into the cJSON tree. */
typedef struct maas_srv_texts {
    int n;
    const char **text;
    size_t *len;
} maas_srv_texts;

/* Reads a string or a list of 1..max_items strings into `out` (free with
 * maas_srv_texts_free).  `required` makes a missing member an error. */
bool maas_srv_get_texts(const cJSON *obj, const char *name, int max_items, bool required,
                        maas_srv_texts *out, maas_srv_error *err);
void maas_srv_texts_free(maas_srv_texts *t);

/* Returns the offset of the first invalid UTF-8 byte in s[0..len), or -1
 * when all of it is valid.  Surrogates and overlong forms are invalid. */
long maas_srv_utf8_invalid_at(const char *s, size_t len);

/* Encodes `n` bytes as standard base64 (RFC 4648, with padding) into a
 * malloc'ed NUL-terminated string; NULL on out-of-memory. */
char *maas_srv_base64(const void *data, size_t n);

/* ---- stop strings (stop.c) ----
 * Collects generated text and decides how much of it is safe to send:
 * text that could be the start of a stop string is held back until the
 * next piece shows whether the stop string follows. */

typedef struct maas_srv_stopper {
    const char *const *stops;
    const size_t *stop_len;
    int n_stops;
    char *text;          /* everything generated so far, NUL-terminated */
    size_t len, cap;
    size_t sent;         /* bytes of `text` already handed out */
    size_t end;          /* length of the final text once a stop string matched */
    bool stopped;        /* a stop string matched; `text` ends at `end` */
} maas_srv_stopper;

void maas_srv_stopper_init(maas_srv_stopper *st, const char *const *stops,
                           const size_t *stop_len, int n_stops);
void maas_srv_stopper_free(maas_srv_stopper *st);

/* Appends `piece` and returns through *out and *out_len the text that can
 * now be sent (possibly empty).  After a stop string matched, nothing past
 * it is ever returned.  MAAS_ERR_OUT_OF_MEMORY on allocation failure. */
maas_status maas_srv_stopper_push(maas_srv_stopper *st, const char *piece, size_t n,
                                  const char **out, size_t *out_len);

/* Returns the held-back rest at the end of generation. */
void maas_srv_stopper_finish(maas_srv_stopper *st, const char **out, size_t *out_len);

/* Returns the final text (up to the stop string) and its length. */
const char *maas_srv_stopper_text(const maas_srv_stopper *st, size_t *len);

/* ---- chat prompt template (chat.c) ---- */

/* Renders an OpenAI `messages` array into GPT-2 prompt text (malloc'ed).
 * On a bad message returns NULL and fills `err`. */
char *maas_srv_chat_render(const cJSON *messages, maas_srv_error *err);

/* The stop strings that end an assistant reply in that template. */
#define MAAS_SRV_CHAT_N_STOPS 3
extern const char *const maas_srv_chat_stops[MAAS_SRV_CHAT_N_STOPS];

/* ---- endpoint handlers: each answers `req` from the parsed `body` ---- */

enum MHD_Result maas_srv_handle_completions(maas_srv_request *req, const cJSON *body);
enum MHD_Result maas_srv_handle_chat(maas_srv_request *req, const cJSON *body);
enum MHD_Result maas_srv_handle_embeddings(maas_srv_request *req, const cJSON *body);
enum MHD_Result maas_srv_handle_qa(maas_srv_request *req, const cJSON *body);
enum MHD_Result maas_srv_handle_models(maas_srv_request *req);
enum MHD_Result maas_srv_handle_health(maas_srv_request *req);

#endif /* MAAS_SRV_INTERNAL_H */
