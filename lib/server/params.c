/* Typed, range-checked reads of request JSON, UTF-8 validation and base64. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

static bool fail_param(maas_srv_error *err, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail_param(maas_srv_error *err, const char *name, const char *fmt, ...)
{
    err->param = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* Returns the member, or NULL when it is missing or JSON null. */
static const cJSON *member(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNull(item) ? NULL : item;
}

bool maas_srv_get_int(const cJSON *obj, const char *name, long long lo, long long hi,
                      long long *out, maas_srv_error *err)
{
    const cJSON *item = member(obj, name);
    if (!item)
        return true;
    if (!cJSON_IsNumber(item))
        return fail_param(err, name, "'%s' must be an integer", name);

    double v = item->valuedouble;
    if (v != floor(v))
        return fail_param(err, name, "'%s' must be an integer, got %g", name, v);
    if (v < (double)lo || v > (double)hi)
        return fail_param(err, name, "'%s' is %g; it must be between %lld and %lld",
                          name, v, lo, hi);
    *out = (long long)v;
    return true;
}

bool maas_srv_get_number(const cJSON *obj, const char *name, double lo, double hi,
                         double *out, maas_srv_error *err)
{
    const cJSON *item = member(obj, name);
    if (!item)
        return true;
    if (!cJSON_IsNumber(item))
        return fail_param(err, name, "'%s' must be a number", name);

    double v = item->valuedouble;
    if (!isfinite(v) || v < lo || v > hi)
        return fail_param(err, name, "'%s' is %g; it must be between %g and %g", name, v,
                          lo, hi);
    *out = v;
    return true;
}

bool maas_srv_get_bool(const cJSON *obj, const char *name, bool *out, maas_srv_error *err)
{
    const cJSON *item = member(obj, name);
    if (!item)
        return true;
    if (!cJSON_IsBool(item))
        return fail_param(err, name, "'%s' must be true or false", name);
    *out = cJSON_IsTrue(item);
    return true;
}

bool maas_srv_get_string(const cJSON *obj, const char *name, const char **out,
                         maas_srv_error *err)
{
    const cJSON *item = member(obj, name);
    if (!item)
        return true;
    if (!cJSON_IsString(item))
        return fail_param(err, name, "'%s' must be a string", name);
    *out = item->valuestring;
    return true;
}

void maas_srv_texts_free(maas_srv_texts *t)
{
    free(t->text);
    free(t->len);
    *t = (maas_srv_texts){0};
}

bool maas_srv_get_texts(const cJSON *obj, const char *name, int max_items, bool required,
                        maas_srv_texts *out, maas_srv_error *err)
{
    *out = (maas_srv_texts){0};
    const cJSON *item = member(obj, name);
    if (!item) {
        if (required)
            return fail_param(err, name, "'%s' is required", name);
        return true;
    }

    /* A string is a list of one. */
    int n = 1;
    if (cJSON_IsArray(item)) {
        n = cJSON_GetArraySize(item);
        if (n == 0 && required)
            return fail_param(err, name, "'%s' must not be an empty list", name);
        if (n > max_items)
            return fail_param(err, name, "'%s' has %d entries; at most %d are allowed", name,
                              n, max_items);
    } else if (!cJSON_IsString(item)) {
        return fail_param(err, name, "'%s' must be a string or a list of strings", name);
    }

    out->text = calloc((size_t)n + 1, sizeof *out->text);
    out->len = calloc((size_t)n + 1, sizeof *out->len);
    if (!out->text || !out->len) {
        maas_srv_texts_free(out);
        return fail_param(err, name, "out of memory reading '%s'", name);
    }

    const cJSON *entry = cJSON_IsArray(item) ? item->child : item;
    for (int i = 0; i < n; i++, entry = entry->next) {
        if (!cJSON_IsString(entry)) {
            maas_srv_texts_free(out);
            return fail_param(err, name,
                              "'%s[%d]' must be a string (token-id lists are not supported)",
                              name, i);
        }
        out->text[i] = entry->valuestring;
        out->len[i] = strlen(entry->valuestring);
    }
    out->n = n;
    return true;
}

long maas_srv_utf8_invalid_at(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }

        /* Lead byte: sequence length and the smallest code point it may encode. */
        int extra;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return (long)i;
        }
        if (len - i <= (size_t)extra)
            return (long)i;
        for (int k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return (long)i;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return (long)i;
        i += (size_t)extra + 1;
    }
    return -1;
}

char *maas_srv_base64(const void *data, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = data;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;

    /* Each 3 input bytes become 4 characters of 6 bits each. */
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }

    /* Tail of 1 or 2 bytes, padded with '='. */
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}
