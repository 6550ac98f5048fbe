/* Helpers shared by the cmocka tests: reading golden files and comparing
 * float arrays with a stated tolerance.  Header-only so each test program
 * stays one file.  Include after <cmocka.h>. */
#ifndef MAAS_TESTUTIL_H
#define MAAS_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads a whole file into a malloc'ed buffer with a NUL appended; fails the
 * test when the file cannot be read. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s (run the tests from the repository root)", path);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    if (fread(buf, 1, (size_t)size, fp) != (size_t)size)
        fail_msg("short read on %s", path);
    fclose(fp);
    buf[size] = '\0';
    if (len)
        *len = (size_t)size;
    return buf;
}

/* Reads a file of little-endian float32 values; *n receives the count. */
static inline float *test_read_f32(const char *path, size_t *n)
{
    size_t len;
    char *buf = test_read_file(path, &len);
    if (len % sizeof(float) != 0)
        fail_msg("%s: %zu bytes is not a whole number of float32 values", path, len);
    *n = len / sizeof(float);
    return (float *)buf;
}

/* Returns the largest |a[i] - b[i]|; NaN anywhere gives INFINITY. */
static inline double test_max_abs_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d))
            return INFINITY;
        if (d > worst)
            worst = d;
    }
    return worst;
}

/* Fails the test when any |got[i] - want[i]| > atol + rtol * |want[i]|,
 * naming the first bad index, both values and the largest difference. */
static inline void test_assert_close(const char *what, const float *got,
                                     const float *want, size_t n, double atol,
                                     double rtol)
{
    for (size_t i = 0; i < n; i++) {
        double tol = atol + rtol * fabs((double)want[i]);
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= tol))
            fail_msg("%s: element %zu is %.9g, expected %.9g (tolerance %.3g); "
                     "max abs diff over all %zu elements %.3g",
                     what, i, (double)got[i], (double)want[i], tol, n,
                     test_max_abs_diff(got, want, n));
    }
}

/* Creates a scratch folder named PREFIX-XXXXXX and writes its path to buf.
 * It goes to tmpfs when there is one, because the tests write and sync many
 * files, which is slow on a busy disk.  Returns 0, or -1 on failure, as
 * cmocka setup functions do. */
static inline int test_make_tmp_dir(char *buf, size_t size, const char *prefix)
{
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(buf, size, "%s/%s-XXXXXX", base, prefix);
    return mkdtemp(buf) ? 0 : -1;
}

/* Removes a scratch folder and everything in it.  Returns 0 or -1. */
static inline int test_remove_tmp_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Fails the test unless the calling thread's last libmaas error message
 * contains `text`.  Needs maas.h included before this header. */
static inline void test_assert_error_mentions(const char *text)
{
    if (!strstr(maas_last_error(), text))
        fail_msg("error message \"%s\" does not mention \"%s\"", maas_last_error(), text);
}

#endif /* MAAS_TESTUTIL_H */
