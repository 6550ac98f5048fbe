/* Small JSON files through cJSON. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "jsonfile.h"

maas_status maas_open_regular_file(const char *path, int *fd, uint64_t *size)
{
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f < 0) {
        if (errno == ENOENT)
            return maas_fail(MAAS_ERR_NOT_FOUND, "%s not found", path);
        return maas_fail(MAAS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(f, &st) != 0) {
        int err = errno;
        close(f);
        return maas_fail(MAAS_ERR_IO, "cannot stat %s: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return maas_fail(MAAS_ERR_IO, "%s is not a regular file (a FIFO, directory or device)",
                         path);
    }
    int flags = fcntl(f, F_GETFL);
    if (flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int err = errno;
        close(f);
        return maas_fail(MAAS_ERR_IO, "cannot clear O_NONBLOCK on %s: %s", path, strerror(err));
    }
    *fd = f;
    if (size)
        *size = (uint64_t)st.st_size;
    return MAAS_OK;
}

maas_status maas_read_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
    int fd;
    uint64_t file_size;
    maas_status s = maas_open_regular_file(path, &fd, &file_size);
    if (s != MAAS_OK)
        return s;
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        int err = errno;
        close(fd);
        return maas_fail(MAAS_ERR_IO, "cannot open %s: %s", path, strerror(err));
    }
    if (file_size > max_bytes) {
        fclose(fp);
        return maas_fail(MAAS_ERR_IO, "%s has %llu bytes, more than the %zu this reader accepts",
                         path, (unsigned long long)file_size, max_bytes);
    }
    size_t size = (size_t)file_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(fp);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for %s", size, path);
    }
    size_t got = fread(buf, 1, size, fp);
    int err = ferror(fp) ? errno : 0;
    fclose(fp);
    if (got != size) {
        free(buf);
        return maas_fail(MAAS_ERR_IO, "cannot read %s: %s", path,
                         err ? strerror(err) : "the file shrank while reading");
    }
    buf[size] = '\0';
    *out = buf;
    if (len)
        *len = size;
    return MAAS_OK;
}

maas_status maas_json_parse(const char *text, size_t len, const char *what, cJSON **out)
{
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!json) {
        const char *at = cJSON_GetErrorPtr();
        size_t offset = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
        return maas_fail(MAAS_ERR_BAD_JSON, "%s: invalid JSON near byte %zu", what, offset);
    }
    /* cJSON stops after the first value; only whitespace may follow. */
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(json);
            return maas_fail(MAAS_ERR_BAD_JSON, "%s: unexpected data after the JSON value at "
                             "byte %zu", what, (size_t)(p - text));
        }
    }
    *out = json;
    return MAAS_OK;
}

maas_status maas_json_read_file(const char *path, cJSON **out)
{
    char *text;
    size_t len;
    maas_status s = maas_read_file(path, MAAS_JSON_MAX_FILE, &text, &len);
    if (s != MAAS_OK)
        return s;
    s = maas_json_parse(text, len, path, out);
    free(text);
    return s;
}

bool maas_json_is_int(const cJSON *item, double min, double max)
{
    if (!cJSON_IsNumber(item))
        return false;
    double v = item->valuedouble;
    return isfinite(v) && v == floor(v) && v >= min && v <= max;
}

bool maas_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
