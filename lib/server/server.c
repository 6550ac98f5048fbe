/* The HTTP side of the server: libmicrohttpd set-up, routing, the checks
 * every request passes (key, content type, body size, UTF-8, JSON), error
 * responses, the access log and the stop sequence. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "server/server_internal.h"

enum route {
    ROUTE_NONE,
    ROUTE_COMPLETIONS,
    ROUTE_CHAT,
    ROUTE_EMBEDDINGS,
    ROUTE_QA,
    ROUTE_MODELS,
    ROUTE_MODEL,   /* /v1/models/{id} */
    ROUTE_HEALTH,
};

static const struct {
    const char *path;
    const char *method;
    enum route route;
} routes[] = {
    {"/v1/completions", "POST", ROUTE_COMPLETIONS},
    {"/v1/chat/completions", "POST", ROUTE_CHAT},
    {"/v1/embeddings", "POST", ROUTE_EMBEDDINGS},
    {"/v1/qa", "POST", ROUTE_QA},
    {"/v1/models", "GET", ROUTE_MODELS},
    {"/health", "GET", ROUTE_HEALTH},
};

double maas_srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void maas_srv_make_id(maas_server *srv, const char *prefix, char *out, size_t cap)
{
    /* The counter is mixed with the start time so ids differ across restarts. */
    uint64_t n = atomic_fetch_add(&srv->next_id, 1);
    uint64_t x = n * 0x9e3779b97f4a7c15ull ^ (uint64_t)srv->created;
    snprintf(out, cap, "%s-%016llx", prefix, (unsigned long long)x);
}

/* ---- responses ---- */

enum MHD_Result maas_srv_send_json(maas_srv_request *req, unsigned status, cJSON *body)
{
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"message\":\"out of memory writing the response\","
            "\"type\":\"server_error\",\"param\":null,\"code\":null}}";
        status = 500;
        text = strdup(oom);
        if (!text)
            return MHD_NO;
    }

    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == 503)
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == 401)
        MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405)
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW,
                                strcmp(req->method, "GET") == 0 ? "POST" : "GET");

    enum MHD_Result result = MHD_queue_response(req->connection, status, response);
    MHD_destroy_response(response);
    req->status = (int)status;
    req->handled = true;
    return result;
}

enum MHD_Result maas_srv_send_error(maas_srv_request *req, unsigned status,
                                    const char *type, const char *param,
                                    const char *code, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    cJSON *root = cJSON_CreateObject();
    cJSON *error = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(error, "message", message);
    cJSON_AddStringToObject(error, "type", type);
    if (param)
        cJSON_AddStringToObject(error, "param", param);
    else
        cJSON_AddNullToObject(error, "param");
    if (code)
        cJSON_AddStringToObject(error, "code", code);
    else
        cJSON_AddNullToObject(error, "code");
    return maas_srv_send_json(req, status, root);
}

enum MHD_Result maas_srv_send_status(maas_srv_request *req, maas_status status,
                                     const char *param)
{
    const char *message = maas_last_error();
    switch (status) {
    case MAAS_ERR_INVALID_ARGUMENT:
    case MAAS_ERR_CONTEXT_FULL:
    case MAAS_ERR_INVALID_UTF8:
    case MAAS_ERR_UNSUPPORTED:
        return maas_srv_send_error(req, 400, "invalid_request_error", param,
                                   status == MAAS_ERR_CONTEXT_FULL ? "context_length_exceeded"
                                                                   : NULL,
                                   "%s", message);
    case MAAS_ERR_CANCELLED:
        return maas_srv_send_error(req, 503, "server_error", NULL, "server_stopping",
                                   "the server is stopping; retry on another replica");
    default:
        maas_log(MAAS_LOG_ERROR, "request %s %s failed: %s: %s", req->method, req->path,
                 maas_status_name(status), message);
        return maas_srv_send_error(req, 500, "server_error", NULL, NULL,
                                   "the model failed: %s: %s", maas_status_name(status),
                                   message);
    }
}

/* ---- slots ---- */

bool maas_srv_client_gone(void *request)
{
    maas_srv_request *req = request;
    if (req->fd < 0)
        return false;

    /* POLLRDHUP: the client closed (or half-closed) its side. */
    struct pollfd pfd = {.fd = req->fd, .events = POLLRDHUP};
    if (poll(&pfd, 1, 0) <= 0)
        return false;
    return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static bool waiting_should_end(void *request)
{
    maas_srv_request *req = request;
    return atomic_load(&req->srv->draining) || maas_srv_client_gone(req);
}

int maas_srv_slot_acquire(maas_srv_request *req, enum MHD_Result *result)
{
    maas_server *srv = req->srv;
    int slot = maas_srv_pool_acquire(&srv->pool, waiting_should_end, req);
    if (slot >= 0) {
        atomic_fetch_add(&srv->running, 1);
        return slot;
    }

    if (slot == MAAS_SRV_POOL_FULL) {
        *result = maas_srv_send_error(req, 503, "server_error", NULL, "server_busy",
                                      "all %d slots are busy and %d requests are queued; "
                                      "retry after the Retry-After delay",
                                      srv->opts.n_parallel, srv->opts.max_queue);
    } else if (slot == MAAS_SRV_POOL_GAVE_UP && !atomic_load(&srv->draining)) {
        /* The client left while queued: nobody reads the answer. */
        atomic_store(&req->client_gone, true);
        *result = MHD_NO;
        req->status = 499;
    } else {
        *result = maas_srv_send_error(req, 503, "server_error", NULL, "server_stopping",
                                      "the server is stopping; retry on another replica");
    }
    return -1;
}

void maas_srv_slot_release(maas_server *srv, int slot)
{
    atomic_fetch_sub(&srv->running, 1);
    maas_srv_pool_release(&srv->pool, slot);
}

/* ---- request life cycle ---- */

void maas_srv_request_release(maas_srv_request *req)
{
    if (atomic_fetch_sub(&req->refs, 1) != 1)
        return;
    free(req->body);
    free(req);
}

static bool key_matches(const char *given, const char *key)
{
    /* Compares every byte so the time taken does not reveal the key. */
    size_t n = strlen(key), m = strlen(given);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)key[i] ^ (unsigned char)(i < m ? given[i] : 0);
    return diff == 0;
}

static bool authorized(maas_srv_request *req)
{
    const char *key = req->srv->api_key;
    if (!key || req->route == ROUTE_HEALTH)
        return true;
    const char *header =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Authorization");
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    header += 7;
    while (*header == ' ')
        header++;
    return key_matches(header, key);
}

/* True for "application/json", with or without parameters such as charset. */
static bool is_json_content_type(const char *value)
{
    if (!value)
        return false;
    while (*value == ' ')
        value++;
    static const char json[] = "application/json";
    if (strncasecmp(value, json, sizeof json - 1) != 0)
        return false;
    char next = value[sizeof json - 1];
    return next == '\0' || next == ';' || next == ' ';
}

/* Finds the route of a path and method; *known_path tells a wrong method
 * (405) from an unknown path (404). */
static enum route find_route(const char *path, const char *method, bool *known_path)
{
    *known_path = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(path, routes[i].path) != 0)
            continue;
        *known_path = true;
        if (strcmp(method, routes[i].method) == 0)
            return routes[i].route;
    }
    if (strncmp(path, "/v1/models/", 11) == 0 && path[11] != '\0') {
        *known_path = true;
        if (strcmp(method, "GET") == 0)
            return ROUTE_MODEL;
    }
    return ROUTE_NONE;
}

/* Checks that need only the headers; queues an error and returns false
 * when one fails. */
static bool check_headers(maas_srv_request *req, enum MHD_Result *result)
{
    maas_server *srv = req->srv;

    bool known_path;
    req->route = find_route(req->path, req->method, &known_path);
    if (req->route == ROUTE_NONE) {
        if (known_path)
            *result = maas_srv_send_error(req, 405, "invalid_request_error", NULL,
                                          "method_not_allowed", "%s is not allowed on %s",
                                          req->method, req->path);
        else
            *result = maas_srv_send_error(req, 404, "invalid_request_error", NULL,
                                          "not_found", "unknown URL: %s %s", req->method,
                                          req->path);
        return false;
    }

    if (!authorized(req)) {
        *result = maas_srv_send_error(req, 401, "invalid_request_error", NULL,
                                      "invalid_api_key",
                                      "missing or invalid API key; send the header "
                                      "'Authorization: Bearer YOUR_KEY'");
        return false;
    }

    if (strcmp(req->method, "POST") != 0)
        return true;

    const char *type = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!is_json_content_type(type)) {
        *result = maas_srv_send_error(req, 415, "invalid_request_error", NULL,
                                      "unsupported_media_type",
                                      "Content-Type is '%s'; send the body as "
                                      "'application/json'",
                                      type ? type : "(none)");
        return false;
    }

    const char *length = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length) {
        errno = 0;
        char *end;
        unsigned long long n = strtoull(length, &end, 10);
        if (errno != 0 || n > srv->opts.max_body_bytes) {
            *result = maas_srv_send_error(req, 413, "invalid_request_error", NULL,
                                          "request_too_large",
                                          "the body has %s bytes; the limit is %zu",
                                          length, srv->opts.max_body_bytes);
            return false;
        }
    }
    return true;
}

/* Appends upload data to the body, up to the limit; past it the rest is
 * read and dropped, and the request is answered with 413 at the end. */
static void collect_body(maas_srv_request *req, const char *data, size_t n)
{
    size_t limit = req->srv->opts.max_body_bytes;
    if (req->body_too_large || n > limit - req->body_len) {
        req->body_too_large = true;
        return;
    }
    if (req->body_len + n + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + n + 1)
            cap *= 2;
        char *body = realloc(req->body, cap);
        if (!body) {
            req->body_too_large = true;
            return;
        }
        req->body = body;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
}

/* Parses the complete body and calls the endpoint handler. */
static enum MHD_Result dispatch(maas_srv_request *req)
{
    maas_server *srv = req->srv;

    if (atomic_load(&srv->draining))
        return maas_srv_send_error(req, 503, "server_error", NULL, "server_stopping",
                                   "the server is stopping; retry on another replica");
    if (req->route == ROUTE_HEALTH)
        return maas_srv_handle_health(req);
    if (req->route == ROUTE_MODELS || req->route == ROUTE_MODEL)
        return maas_srv_handle_models(req);

    if (req->body_too_large)
        return maas_srv_send_error(req, 413, "invalid_request_error", NULL,
                                   "request_too_large", "the body is larger than %zu bytes",
                                   srv->opts.max_body_bytes);
    if (req->body_len == 0)
        return maas_srv_send_error(req, 400, "invalid_request_error", NULL, NULL,
                                   "the body is empty; send a JSON object");

    long bad = maas_srv_utf8_invalid_at(req->body, req->body_len);
    if (bad >= 0)
        return maas_srv_send_error(req, 400, "invalid_request_error", NULL, "invalid_utf8",
                                   "the body is not valid UTF-8 (byte 0x%02x at offset %ld)",
                                   (unsigned char)req->body[bad], bad);

    const char *nul = memchr(req->body, '\0', req->body_len);
    if (nul)
        return maas_srv_send_error(req, 400, "invalid_request_error", NULL, "invalid_json",
                                   "the body contains a NUL byte at offset %ld; JSON text "
                                   "cannot contain one",
                                   (long)(nul - req->body));

    /* The body is NUL-terminated, and cJSON wants the terminator inside the
     * length when it must end the text. */
    const char *parse_end = NULL;
    cJSON *body = cJSON_ParseWithLengthOpts(req->body, req->body_len + 1, &parse_end, true);
    if (!body) {
        long at = parse_end ? (long)(parse_end - req->body) : 0;
        return maas_srv_send_error(req, 400, "invalid_request_error", NULL, "invalid_json",
                                   "the body is not valid JSON (error near byte %ld)", at);
    }
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return maas_srv_send_error(req, 400, "invalid_request_error", NULL, "invalid_json",
                                   "the body must be a JSON object");
    }

    enum MHD_Result result;
    switch (req->route) {
    case ROUTE_COMPLETIONS:
        result = maas_srv_handle_completions(req, body);
        break;
    case ROUTE_CHAT:
        result = maas_srv_handle_chat(req, body);
        break;
    case ROUTE_EMBEDDINGS:
        result = maas_srv_handle_embeddings(req, body);
        break;
    case ROUTE_QA:
        result = maas_srv_handle_qa(req, body);
        break;
    default:
        MAAS_ASSERT(!"route without a handler");
    }
    cJSON_Delete(body);
    return result;
}

/* libmicrohttpd's own messages (a handler that closed a connection, a
 * client that sent garbage) are routine for a server, so they are logged at
 * the info level (MAAS_LOG=info shows them). */
static void log_from_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    maas_log(MAAS_LOG_INFO, "libmicrohttpd: %s", line);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    maas_server *srv = cls;
    maas_srv_request *req = *req_cls;

    /* First call: only the headers have arrived. */
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->srv = srv;
        req->connection = connection;
        req->method = method;
        req->path = url;
        req->start_ms = maas_srv_now_ms();
        req->fd = -1;
        atomic_init(&req->refs, 1);
        atomic_fetch_add(&srv->open_requests, 1);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info)
            req->fd = info->connect_fd;
        *req_cls = req;

        enum MHD_Result result;
        if (!check_headers(req, &result))
            return result;
        return MHD_YES;
    }
    if (req->handled) {
        /* Answered from the headers: drop any body that still arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* Middle calls: body data. */
    if (*upload_data_size > 0) {
        collect_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* Last call: the whole request is here. */
    return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)connection;
    maas_server *srv = cls;
    maas_srv_request *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;

    if (srv->opts.access_log) {
        const char *note = "";
        if (atomic_load(&req->client_gone) || code == MHD_REQUEST_TERMINATED_CLIENT_ABORT)
            note = " client-closed";
        else if (code == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
            note = " timed-out";
        else if (code == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
            note = " shutdown";
        else if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            note = " write-failed";

        time_t now = time(NULL);
        struct tm tm;
        char stamp[32];
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "%s %s %s %d tokens=%ld ms=%.1f%s\n", stamp, req->method, req->path,
                req->status, atomic_load(&req->tokens), maas_srv_now_ms() - req->start_ms,
                note);
    }

    /* method and path belong to libmicrohttpd and end with this call. */
    req->method = req->path = NULL;
    maas_srv_request_release(req);
    atomic_fetch_sub(&srv->open_requests, 1);
}

/* ---- start and stop ---- */

void maas_server_options_default(maas_server_options *opts)
{
    *opts = (maas_server_options){
        .host = "127.0.0.1",
        .port = 8080,
        .n_parallel = 2,
        .max_queue = 16,
        .max_body_bytes = 1 << 20,
        .max_connections = 128,
        .timeout_seconds = 10,
        .max_prompts = 64,
        .access_log = true,
    };
}

static char *copy_string(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *ok = false;
    return copy;
}

/* Model name: the file name without directories and without ".maas". */
static char *default_model_id(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".maas") == 0)
        n -= 5;
    return strndup(base, n);
}

static maas_status check_options(const maas_server_options *o)
{
    if (!o->model_path)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "no model file; pass -m MODEL.maas");
    if (o->port < 0 || o->port > 65535)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "port %d is outside 0..65535", o->port);
    if (o->n_parallel < 1 || o->n_parallel > 256)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "parallel slots %d is outside 1..256", o->n_parallel);
    if (o->max_queue < 0 || o->max_queue > 100000)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "queue size %d is outside 0..100000",
                         o->max_queue);
    if (o->max_body_bytes < 1024)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "body limit %zu bytes is below 1024", o->max_body_bytes);
    if (o->max_connections < 1 || o->timeout_seconds < 1 || o->max_prompts < 1)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "connections, timeout and prompt count must be at least 1");
    return MAAS_OK;
}

/* Fills `addr` from the host string: IPv4 or IPv6 literal. */
static maas_status parse_address(const char *host, int port, struct sockaddr_storage *addr,
                                 bool *ipv6)
{
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *ipv6 = false;
        return MAAS_OK;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *ipv6 = true;
        return MAAS_OK;
    }
    return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                     "host '%s' is not an IPv4 or IPv6 address; use e.g. 127.0.0.1 or ::1",
                     host);
}

maas_status maas_server_start(const maas_server_options *opts, maas_server **out)
{
    maas_status st = check_options(opts);
    if (st != MAAS_OK)
        return st;

    struct sockaddr_storage addr;
    bool ipv6 = false;
    st = parse_address(opts->host ? opts->host : "127.0.0.1", opts->port, &addr, &ipv6);
    if (st != MAAS_OK)
        return st;

    maas_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate the server");
    srv->opts = *opts;
    bool ok = true;
    srv->model_path = copy_string(opts->model_path, &ok);
    srv->host = copy_string(opts->host ? opts->host : "127.0.0.1", &ok);
    srv->api_key = copy_string(opts->api_key && *opts->api_key ? opts->api_key : NULL, &ok);
    srv->model_id = opts->model_id ? copy_string(opts->model_id, &ok)
                                   : default_model_id(opts->model_path);
    if (!ok || !srv->model_id) {
        maas_server_free(srv);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot copy the server options");
    }
    srv->opts.model_path = srv->model_path;
    srv->opts.model_id = srv->model_id;
    srv->opts.host = srv->host;
    srv->opts.api_key = srv->api_key;
    srv->created = (int64_t)time(NULL);

    /* Threads per request: share the cores between the slots. */
    if (srv->opts.n_threads <= 0) {
        int per_slot = maas_cpu_count() / srv->opts.n_parallel;
        srv->opts.n_threads = per_slot > 0 ? per_slot : 1;
    }

    /* Load the model and the slots' contexts. */
    st = maas_srv_engine_open(srv->model_path, srv->opts.n_threads, srv->opts.n_parallel,
                              &srv->engine);
    if (st == MAAS_OK)
        st = maas_srv_pool_init(&srv->pool, srv->opts.n_parallel, srv->opts.max_queue);
    if (st != MAAS_OK) {
        maas_server_free(srv);
        return st;
    }

    /* One thread per connection: a handler may block while the model runs. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_request, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->opts.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->opts.timeout_seconds,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, log_from_mhd, NULL,
        MHD_OPTION_END);
    if (!srv->daemon) {
        int err = errno;
        maas_server_free(srv);
        return maas_fail(MAAS_ERR_IO, "cannot listen on %s port %d: %s",
                         opts->host ? opts->host : "127.0.0.1", opts->port,
                         err ? strerror(err) : "libmicrohttpd failed to start");
    }

    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : opts->port;
    *out = srv;
    return MAAS_OK;
}

int maas_server_port(const maas_server *srv)
{
    return srv->port;
}

const char *maas_server_model_id(const maas_server *srv)
{
    return srv->model_id;
}

void maas_server_stop(maas_server *srv, double grace_seconds)
{
    if (!srv || srv->stopped || !srv->daemon)
        return;
    srv->stopped = true;

    /* 1. Stop accepting connections and turn away queued requests. */
    MHD_socket listen_fd = MHD_quiesce_daemon(srv->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    atomic_store(&srv->draining, true);
    maas_srv_pool_close(&srv->pool);

    /* 2. Let running requests finish within the grace period. */
    double deadline = maas_srv_now_ms() + grace_seconds * 1e3;
    while (atomic_load(&srv->running) > 0 && maas_srv_now_ms() < deadline)
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);

    /* 3. Cancel the rest: each ends at its next token with a 503 or an
     * error event.  Give those answers up to a second to reach their
     * clients, because stopping the daemon cuts every connection. */
    atomic_store(&srv->cancel, true);
    deadline = maas_srv_now_ms() + 1000.0;
    while (atomic_load(&srv->open_requests) > 0 && maas_srv_now_ms() < deadline)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);

    /* 4. Close every connection and join its thread. */
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}

void maas_server_free(maas_server *srv)
{
    if (!srv)
        return;
    maas_server_stop(srv, 0.0);
    maas_srv_pool_destroy(&srv->pool);
    maas_srv_engine_free(srv->engine);
    free(srv->model_path);
    free(srv->model_id);
    free(srv->host);
    free(srv->api_key);
    free(srv);
}
