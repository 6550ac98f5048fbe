/* Status names, per-thread error messages, logging and CPU facts. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

#define MAAS_VERSION_STRING "0.1.0"
#define MAAS_ERROR_MAX 1024

static const char *const status_names[MAAS_STATUS_COUNT] = {
    [MAAS_OK] = "OK",
    [MAAS_ERR_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [MAAS_ERR_OUT_OF_MEMORY] = "OUT_OF_MEMORY",
    [MAAS_ERR_IO] = "IO",
    [MAAS_ERR_BAD_MAGIC] = "BAD_MAGIC",
    [MAAS_ERR_BAD_VERSION] = "BAD_VERSION",
    [MAAS_ERR_TRUNCATED] = "TRUNCATED",
    [MAAS_ERR_OUT_OF_BOUNDS] = "OUT_OF_BOUNDS",
    [MAAS_ERR_OVERFLOW] = "OVERFLOW",
    [MAAS_ERR_UNKNOWN_DTYPE] = "UNKNOWN_DTYPE",
    [MAAS_ERR_MISSING_TENSOR] = "MISSING_TENSOR",
    [MAAS_ERR_SHAPE_MISMATCH] = "SHAPE_MISMATCH",
    [MAAS_ERR_BAD_JSON] = "BAD_JSON",
    [MAAS_ERR_OVERLAP] = "OVERLAP",
    [MAAS_ERR_UNSUPPORTED] = "UNSUPPORTED",
    [MAAS_ERR_NOT_FOUND] = "NOT_FOUND",
    [MAAS_ERR_CONTEXT_FULL] = "CONTEXT_FULL",
    [MAAS_ERR_INVALID_UTF8] = "INVALID_UTF8",
    [MAAS_ERR_NON_FINITE] = "NON_FINITE",
    [MAAS_ERR_CANCELLED] = "CANCELLED",
    [MAAS_ERR_BAD_FORMAT] = "BAD_FORMAT",
};

const char *maas_status_name(maas_status status)
{
    if ((unsigned)status >= MAAS_STATUS_COUNT || !status_names[status])
        return "UNKNOWN";
    return status_names[status];
}

static _Thread_local char last_error[MAAS_ERROR_MAX];

const char *maas_last_error(void)
{
    return last_error;
}

void maas_clear_error(void)
{
    last_error[0] = '\0';
}

maas_status maas_fail(maas_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    maas_log(MAAS_LOG_DEBUG, "%s: %s", maas_status_name(status), last_error);
    return status;
}

/* ---- logging ---- */

static const char *const level_names[MAAS_LOG_LEVEL_COUNT] = {
    "error", "warn", "info", "debug",
};

static void log_to_stderr(maas_log_level level, const char *message, void *user)
{
    (void)user;
    fprintf(stderr, "libmaas: %s: %s\n", level_names[level], message);
}

static maas_log_fn log_fn = log_to_stderr;
static void *log_user;
static int log_level = -1; /* -1: not yet read from MAAS_LOG */

static int log_level_from_env(void)
{
    const char *env = getenv("MAAS_LOG");
    if (env) {
        for (int i = 0; i < MAAS_LOG_LEVEL_COUNT; i++)
            if (strcasecmp(env, level_names[i]) == 0)
                return i;
    }
    return MAAS_LOG_WARN;
}

void maas_log_set_callback(maas_log_fn fn, void *user)
{
    log_fn = fn ? fn : log_to_stderr;
    log_user = fn ? user : NULL;
}

void maas_log_set_level(maas_log_level max_level)
{
    log_level = max_level;
}

void maas_log(maas_log_level level, const char *fmt, ...)
{
    if (log_level < 0)
        log_level = log_level_from_env();
    if ((int)level > log_level)
        return;

    char message[MAAS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    log_fn(level, message, log_user);
}

_Noreturn void maas_assert_fail(const char *expr, const char *file, int line,
                                const char *func)
{
    fprintf(stderr, "libmaas: internal error: assertion '%s' failed at %s:%d in %s()\n",
            expr, file, line, func);
    abort();
}

/* ---- CPU facts ---- */

int maas_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int maas_resolve_threads(int n_threads)
{
    return n_threads > 0 ? n_threads : maas_cpu_count();
}

const char *maas_version(void)
{
    return MAAS_VERSION_STRING;
}
