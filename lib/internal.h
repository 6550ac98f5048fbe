/* Helpers shared by the library's own sources; not installed. */
#ifndef MAAS_INTERNAL_H
#define MAAS_INTERNAL_H

#include "maas/common.h"

/* Records `status` with a printf-style message as the calling thread's last
 * error and returns `status`, so a failure path reads
 *     return maas_fail(MAAS_ERR_IO, "cannot open %s: %s", path, strerror(errno)); */
maas_status maas_fail(maas_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears the calling thread's last error. */
void maas_clear_error(void);

/* Sends a line to the log callback when `level` is enabled. */
void maas_log(maas_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports a broken internal invariant (a libmaas bug) and aborts. */
_Noreturn void maas_assert_fail(const char *expr, const char *file, int line,
                                const char *func);

/* Always-on check of an internal invariant.  Caller input is never checked
 * with it: bad input gets a status and a message instead. */
#define MAAS_ASSERT(cond)                                              \
    do {                                                               \
        if (!(cond))                                                   \
            maas_assert_fail(#cond, __FILE__, __LINE__, __func__);     \
    } while (0)

/* Resolves a caller's thread count: n <= 0 means every available core. */
int maas_resolve_threads(int n_threads);

/* Overflow-checked size arithmetic: return false when the result does not fit. */
static inline bool maas_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool maas_add_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

#endif /* MAAS_INTERNAL_H */
