/* Small JSON files through cJSON. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "jsonfile.h"

maas_status maas_read_file(const char *path, size_t max_bytes, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT)
            return maas_fail(MAAS_ERR_NOT_FOUND, "%s not found", path);
        return maas_fail(MAAS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return maas_fail(MAAS_ERR_IO, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(fp);
        return maas_fail(MAAS_ERR_IO, "%s has %lld bytes, more than the %zu this reader accepts",
                         path, (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
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
