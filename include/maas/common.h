/* libmaas: status codes, error messages, logging and threads.
 *
 * Conventions used by every libmaas header:
 *   - Fallible calls return a maas_status; objects come back through
 *     out-parameters and are left untouched on failure.
 *   - After a failure, maas_last_error() returns a message that names the bad
 *     value and, where there is one, the fix.
 *   - Every *_free / *_close accepts NULL.
 *   - Nothing in the library exits or aborts on bad input or out-of-memory.
 *     Only a broken internal invariant (a libmaas bug) aborts, through
 *     MAAS_ASSERT, after logging file, line and function.
 *
 * Shapes are written outermost dimension first, as PyTorch and Hugging Face
 * write them, and arrays are row-major.  The letters:
 *   B batch, T tokens (sequence positions), C channels (hidden size),
 *   H attention heads, D head size (C / H), V vocabulary, K inner (reduced)
 *   dimension of a product, N output features.
 */
#ifndef MAAS_COMMON_H
#define MAAS_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result of every fallible call.  Values are stable and only ever appended. */
typedef enum maas_status {
    MAAS_OK = 0,
    MAAS_ERR_INVALID_ARGUMENT = 1,  /* a caller-supplied value is out of range */
    MAAS_ERR_OUT_OF_MEMORY = 2,
    MAAS_ERR_IO = 3,                /* open, read, write or mmap failed */
    MAAS_ERR_BAD_MAGIC = 4,         /* not a file of the expected kind */
    MAAS_ERR_BAD_VERSION = 5,       /* a format version this build cannot read */
    MAAS_ERR_TRUNCATED = 6,         /* the file ends before a declared field */
    MAAS_ERR_OUT_OF_BOUNDS = 7,     /* an offset or size points outside the file */
    MAAS_ERR_OVERFLOW = 8,          /* a size computation overflows */
    MAAS_ERR_UNKNOWN_DTYPE = 9,
    MAAS_ERR_MISSING_TENSOR = 10,   /* the architecture needs a tensor the file lacks */
    MAAS_ERR_SHAPE_MISMATCH = 11,   /* a tensor's shape disagrees with the config */
    MAAS_ERR_BAD_JSON = 12,         /* invalid JSON, or JSON of the wrong structure */
    MAAS_ERR_OVERLAP = 13,          /* two tensors share bytes */
    MAAS_ERR_UNSUPPORTED = 14,      /* valid input this build does not handle */
    MAAS_ERR_NOT_FOUND = 15,        /* a key, file or token that does not exist */
    MAAS_ERR_CONTEXT_FULL = 16,     /* the sequence would pass the model's position limit */
    MAAS_ERR_INVALID_UTF8 = 17,
    MAAS_ERR_NON_FINITE = 18,       /* a NaN or infinity appeared in the output */
    MAAS_ERR_CANCELLED = 19,        /* the caller stopped the operation */
    MAAS_ERR_BAD_FORMAT = 20,       /* a malformed field not covered above */
    MAAS_STATUS_COUNT
} maas_status;

/* Returns the status's constant name without the prefix, e.g. "BAD_MAGIC".
 * Never NULL; an unknown value gives "UNKNOWN". */
const char *maas_status_name(maas_status status);

/* Returns the message of the most recent failure on the calling thread, or ""
 * when there was none.  The string stays valid until the next libmaas call on
 * that thread.  Messages are per thread, so several threads can share one
 * model and still read their own errors. */
const char *maas_last_error(void);

/* Log levels, most severe first. */
typedef enum maas_log_level {
    MAAS_LOG_ERROR = 0,
    MAAS_LOG_WARN = 1,
    MAAS_LOG_INFO = 2,
    MAAS_LOG_DEBUG = 3,
    MAAS_LOG_LEVEL_COUNT
} maas_log_level;

typedef void (*maas_log_fn)(maas_log_level level, const char *message, void *user);

/* Sends library log lines to `fn` (NULL restores the default, which writes
 * "libmaas: LEVEL: message" to stderr).  Lines above `max_level` are dropped;
 * the default level is MAAS_LOG_WARN, or the value of the environment
 * variable MAAS_LOG (error, warn, info, debug).  Not thread-safe: call it
 * before starting threads that use libmaas. */
void maas_log_set_callback(maas_log_fn fn, void *user);
void maas_log_set_level(maas_log_level max_level);

/* Returns the number of cores available to this process (at least 1). */
int maas_cpu_count(void);

/* Returns the library version, "MAJOR.MINOR.PATCH". */
const char *maas_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_COMMON_H */
