/* Builds safetensors files byte by byte for the tests, independently of
 * libmaas's writer and reader: an 8-byte little-endian header length, the
 * JSON header (padded with spaces to a multiple of 8), then the data.
 * Header-only; include after <cmocka.h>. */
#ifndef MAAS_ST_BUILD_H
#define MAAS_ST_BUILD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_build {
    char json[1 << 16];
    size_t json_len;
    uint8_t *data;
    size_t data_len;
    int count;
} st_build;

static inline void stb_init(st_build *b)
{
    memset(b, 0, sizeof *b);
    b->json_len = (size_t)snprintf(b->json, sizeof b->json, "{");
}

static inline void stb_free(st_build *b)
{
    free(b->data);
    b->data = NULL;
}

/* Appends a tensor with its bytes placed right after the previous one. */
static inline void stb_add(st_build *b, const char *name, const char *dtype, int n_dims,
                           const int64_t *shape, const void *bytes, size_t nbytes)
{
    size_t begin = b->data_len;
    b->data = realloc(b->data, begin + nbytes + 1);
    assert_non_null(b->data);
    if (nbytes)
        memcpy(b->data + begin, bytes, nbytes);
    b->data_len += nbytes;

    char shape_s[256];
    size_t n = (size_t)snprintf(shape_s, sizeof shape_s, "[");
    for (int d = 0; d < n_dims; d++)
        n += (size_t)snprintf(shape_s + n, sizeof shape_s - n, "%s%lld", d ? "," : "",
                              (long long)shape[d]);
    snprintf(shape_s + n, sizeof shape_s - n, "]");
    b->json_len += (size_t)snprintf(b->json + b->json_len, sizeof b->json - b->json_len,
                                    "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,"
                                    "\"data_offsets\":[%zu,%zu]}",
                                    b->count ? "," : "", name, dtype, shape_s, begin,
                                    begin + nbytes);
    b->count++;
}

/* Returns the file bytes (malloc'ed) and their count. */
static inline uint8_t *stb_bytes(const st_build *b, size_t *len)
{
    char json[sizeof b->json + 16];
    size_t n = (size_t)snprintf(json, sizeof json, "%s}", b->json);
    while (n % 8 != 0)
        json[n++] = ' ';
    uint8_t *out = malloc(8 + n + b->data_len + 1);
    assert_non_null(out);
    uint64_t header_len = n;
    memcpy(out, &header_len, 8);
    memcpy(out + 8, json, n);
    if (b->data_len)
        memcpy(out + 8 + n, b->data, b->data_len);
    *len = 8 + n + b->data_len;
    return out;
}

static inline void stb_write_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static inline void stb_write(const st_build *b, const char *path)
{
    size_t len;
    uint8_t *bytes = stb_bytes(b, &len);
    stb_write_bytes(path, bytes, len);
    free(bytes);
}

/* Writes a safetensors file with a raw header text and raw data. */
static inline void stb_write_raw(const char *path, const char *header, const void *data,
                                 size_t data_len)
{
    size_t n = strlen(header);
    uint8_t *out = malloc(8 + n + data_len + 1);
    assert_non_null(out);
    uint64_t header_len = n;
    memcpy(out, &header_len, 8);
    memcpy(out + 8, header, n);
    if (data_len)
        memcpy(out + 8 + n, data, data_len);
    stb_write_bytes(path, out, 8 + n + data_len);
    free(out);
}

#endif /* MAAS_ST_BUILD_H */
