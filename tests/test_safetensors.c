/* The safetensors reader on files built byte by byte: valid files of
 * every supported dtype, sharded checkpoints, and malformed files that must
 * each give their own status without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "maas.h"
#include "safetensors.h"
#include "st_build.h"
#include "testutil.h"

static char tmp_dir[80];

static int make_tmp_dir(void **state)
{
    (void)state;
    return test_make_tmp_dir(tmp_dir, sizeof tmp_dir, "maas-test-st");
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    return test_remove_tmp_dir(tmp_dir);
}

static const char *tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_dir, name);
    return buf;
}


/* Opens bytes written to a file; a successful open is closed. */
static maas_status open_bytes(const void *bytes, size_t len)
{
    char path[128];
    stb_write_bytes(tmp_path(path, sizeof path, "case.safetensors"), bytes, len);
    maas_safetensors *st = NULL;
    maas_status s = maas_st_open(path, &st);
    maas_st_close(st);
    return s;
}

static maas_status open_raw(const char *header, size_t data_len)
{
    char path[128];
    uint8_t *data = calloc(1, data_len + 1);
    stb_write_raw(tmp_path(path, sizeof path, "raw.safetensors"), header, data, data_len);
    free(data);
    maas_safetensors *st = NULL;
    maas_status s = maas_st_open(path, &st);
    maas_st_close(st);
    return s;
}

/* ---- valid files ------------------------------------------------------- */

static float f32_data[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-8f, 7.0f};
static uint16_t f16_data[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
static uint16_t bf16_data[3] = {0x3f80, 0x4049, 0xbf80};
static int64_t i64_data[5] = {0, 1, 2, 3, 4};
static int32_t i32_data[2] = {-5, 5};
static uint8_t u8_data[3] = {1, 2, 3};
static double f64_scalar = 2.5;

static void build_valid(st_build *b)
{
    stb_init(b);
    stb_add(b, "w", "F32", 2, (int64_t[]){2, 3}, f32_data, sizeof f32_data);
    stb_add(b, "h", "F16", 1, (int64_t[]){4}, f16_data, sizeof f16_data);
    stb_add(b, "b", "BF16", 3, (int64_t[]){1, 3, 1}, bf16_data, sizeof bf16_data);
    stb_add(b, "embeddings.position_ids", "I64", 2, (int64_t[]){1, 5}, i64_data,
            sizeof i64_data);
    stb_add(b, "i", "I32", 1, (int64_t[]){2}, i32_data, sizeof i32_data);
    stb_add(b, "u", "U8", 1, (int64_t[]){3}, u8_data, sizeof u8_data);
    stb_add(b, "scalar", "F64", 0, NULL, &f64_scalar, sizeof f64_scalar);
    stb_add(b, "empty", "F32", 2, (int64_t[]){0, 3}, NULL, 0);
}

static void valid_file_reads_back(void **state)
{
    (void)state;
    st_build b;
    build_valid(&b);
    /* A __metadata__ entry is allowed and skipped. */
    memmove(b.json + 1 + 39, b.json + 1, b.json_len - 1);
    memcpy(b.json + 1, "\"__metadata__\":{\"format\":\"pt\",\"x\":\"y\"},", 39);
    b.json_len += 39;
    char path[128];
    stb_write(&b, tmp_path(path, sizeof path, "valid.safetensors"));

    maas_safetensors *st;
    assert_int_equal(maas_st_open(path, &st), MAAS_OK);
    assert_int_equal(maas_st_count(st), 8);
    assert_string_equal(maas_st_at(st, 0)->name, "w");
    assert_null(maas_st_at(st, 8));
    assert_null(maas_st_find(st, "__metadata__"));
    assert_null(maas_st_find(st, "missing"));

    const maas_st_tensor *w = maas_st_find(st, "w");
    assert_non_null(w);
    assert_string_equal(w->dtype_name, "F32");
    assert_true(w->supported);
    assert_int_equal(w->dtype, MAAS_DTYPE_F32);
    assert_int_equal(w->n_dims, 2);
    assert_int_equal(w->shape[0], 2);
    assert_int_equal(w->shape[1], 3);
    assert_int_equal(w->numel, 6);
    assert_int_equal(w->nbytes, 24);
    assert_memory_equal(w->data, f32_data, sizeof f32_data);
    maas_tensor t;
    assert_int_equal(maas_st_view(w, &t), MAAS_OK);
    assert_int_equal(t.shape[1], 3);
    assert_ptr_equal(t.data, w->data);

    const maas_st_tensor *h = maas_st_find(st, "h");
    assert_int_equal(h->dtype, MAAS_DTYPE_F16);
    assert_memory_equal(h->data, f16_data, sizeof f16_data);
    const maas_st_tensor *bf = maas_st_find(st, "b");
    assert_int_equal(bf->dtype, MAAS_DTYPE_BF16);
    assert_int_equal(bf->n_dims, 3);
    assert_memory_equal(bf->data, bf16_data, sizeof bf16_data);
    const maas_st_tensor *pos = maas_st_find(st, "embeddings.position_ids");
    assert_int_equal(pos->dtype, MAAS_DTYPE_I64);
    assert_memory_equal(pos->data, i64_data, sizeof i64_data);
    assert_int_equal(maas_st_find(st, "i")->dtype, MAAS_DTYPE_I32);

    /* Dtypes libmaas lacks are read and validated, but give no view. */
    const maas_st_tensor *u = maas_st_find(st, "u");
    assert_false(u->supported);
    assert_string_equal(u->dtype_name, "U8");
    assert_int_equal(maas_st_view(u, &t), MAAS_ERR_UNSUPPORTED);
    test_assert_error_mentions("U8");
    const maas_st_tensor *scalar = maas_st_find(st, "scalar");
    assert_int_equal(scalar->n_dims, 0);
    assert_int_equal(scalar->numel, 1);
    assert_memory_equal(scalar->data, &f64_scalar, 8);
    assert_int_equal(maas_st_find(st, "empty")->nbytes, 0);
    maas_st_close(st);
    stb_free(&b);
}

/* ---- malformed files ---------------------------------------------------- */

static void truncated_at_every_byte(void **state)
{
    (void)state;
    st_build b;
    build_valid(&b);
    size_t len;
    uint8_t *bytes = stb_bytes(&b, &len);
    uint64_t header_len;
    memcpy(&header_len, bytes, 8);
    assert_int_equal(open_bytes(bytes, len), MAAS_OK);
    for (size_t cut = 0; cut < len; cut++) {
        maas_status want = cut < 8 ? MAAS_ERR_TRUNCATED
                         : cut < 8 + header_len ? MAAS_ERR_OUT_OF_BOUNDS
                         : MAAS_ERR_TRUNCATED;
        maas_status got = open_bytes(bytes, cut);
        if (got != want)
            fail_msg("cut at %zu of %zu bytes gave %s, expected %s: %s", cut, len,
                     maas_status_name(got), maas_status_name(want), maas_last_error());
    }
    free(bytes);
    stb_free(&b);
}

static void header_length_past_end(void **state)
{
    (void)state;
    uint8_t bytes[64] = {0};
    uint64_t n = 1000;
    memcpy(bytes, &n, 8);
    memcpy(bytes + 8, "{}      ", 8);
    assert_int_equal(open_bytes(bytes, sizeof bytes), MAAS_ERR_OUT_OF_BOUNDS);
    test_assert_error_mentions("header length 1000");

    n = UINT64_MAX - 4;  /* 8 + n would wrap around */
    memcpy(bytes, &n, 8);
    assert_int_equal(open_bytes(bytes, sizeof bytes), MAAS_ERR_OUT_OF_BOUNDS);
    test_assert_error_mentions("limit");
}

static void invalid_json(void **state)
{
    (void)state;
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", ", 0), MAAS_ERR_BAD_JSON);
    test_assert_error_mentions("raw.safetensors");
    assert_int_equal(open_raw("{} trailing", 0), MAAS_ERR_BAD_JSON);
    assert_int_equal(open_raw("[1, 2]", 0), MAAS_ERR_BAD_JSON);
    assert_int_equal(open_raw("", 0), MAAS_ERR_BAD_JSON);
    assert_int_equal(open_raw("{\"w\": 5}", 0), MAAS_ERR_BAD_JSON);
    assert_int_equal(open_raw("{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4),
                     MAAS_ERR_BAD_JSON);
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], "
                              "\"data_offsets\": [0, 4]}}", 4), MAAS_ERR_BAD_JSON);
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], "
                              "\"data_offsets\": [0, 4]}}", 4), MAAS_ERR_BAD_JSON);
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], "
                              "\"data_offsets\": [0, 4, 8]}}", 8), MAAS_ERR_BAD_JSON);
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], "
                              "\"data_offsets\": [0, 4]}, "
                              "\"w\": {\"dtype\": \"F32\", \"shape\": [1], "
                              "\"data_offsets\": [4, 8]}}", 8), MAAS_ERR_BAD_JSON);
    test_assert_error_mentions("appears twice");
    assert_int_equal(open_raw("{\"__metadata__\": 3}", 0), MAAS_ERR_BAD_JSON);

    /* A NUL byte inside the header. */
    char header[] = "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}";
    uint8_t bytes[8 + sizeof header + 4] = {0};
    uint64_t n = sizeof header - 1;
    memcpy(bytes, &n, 8);
    memcpy(bytes + 8, header, n);
    bytes[8 + 3] = 0;
    assert_int_equal(open_bytes(bytes, 8 + n + 4), MAAS_ERR_BAD_JSON);
}

static void overlapping_offsets(void **state)
{
    (void)state;
    assert_int_equal(open_raw("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], "
                              "\"data_offsets\": [0, 8]}, "
                              "\"b\": {\"dtype\": \"F32\", \"shape\": [2], "
                              "\"data_offsets\": [4, 12]}}", 12), MAAS_ERR_OVERLAP);
    test_assert_error_mentions("'a'");
    test_assert_error_mentions("'b'");
    assert_int_equal(open_raw("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], "
                              "\"data_offsets\": [0, 8]}, "
                              "\"b\": {\"dtype\": \"I64\", \"shape\": [1], "
                              "\"data_offsets\": [0, 8]}}", 8), MAAS_ERR_OVERLAP);
    /* Adjacent ranges and empty tensors do not overlap. */
    assert_int_equal(open_raw("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], "
                              "\"data_offsets\": [0, 8]}, "
                              "\"e\": {\"dtype\": \"F32\", \"shape\": [0], "
                              "\"data_offsets\": [4, 4]}, "
                              "\"b\": {\"dtype\": \"F32\", \"shape\": [2], "
                              "\"data_offsets\": [8, 16]}}", 16), MAAS_OK);
}

static void overflowing_shape(void **state)
{
    (void)state;
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, "
                              "4294967296, 16], \"data_offsets\": [0, 4]}}", 4),
                     MAAS_ERR_OVERFLOW);
    test_assert_error_mentions("'w'");
    /* 2^62 elements fit, but 2^62 * 4 bytes do not. */
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904], "
                              "\"data_offsets\": [0, 4]}}", 4), MAAS_ERR_OVERFLOW);
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [1e300], "
                              "\"data_offsets\": [0, 4]}}", 4), MAAS_ERR_OVERFLOW);
}

static void unknown_dtype(void **state)
{
    (void)state;
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F5\", \"shape\": [1], "
                              "\"data_offsets\": [0, 4]}}", 4), MAAS_ERR_UNKNOWN_DTYPE);
    test_assert_error_mentions("F5");
    test_assert_error_mentions("'w'");
}

static void size_mismatch(void **state)
{
    (void)state;
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], "
                              "\"data_offsets\": [0, 20]}}", 24), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("'w'");
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], "
                              "\"data_offsets\": [8, 4]}}", 8), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("begin after");
    /* A range past the data is a truncated file. */
    assert_int_equal(open_raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], "
                              "\"data_offsets\": [0, 8]}}", 4), MAAS_ERR_TRUNCATED);
}

/* Random byte changes in the header must never crash (run under
 * AddressSanitizer) and give a status. */
static void random_corruption_never_crashes(void **state)
{
    (void)state;
    st_build b;
    build_valid(&b);
    size_t len;
    uint8_t *bytes = stb_bytes(&b, &len);
    uint8_t *m = malloc(len);
    uint64_t header_len;
    memcpy(&header_len, bytes, 8);
    unsigned seed = 99;
    int failures = 0;
    for (int iter = 0; iter < 2000; iter++) {
        memcpy(m, bytes, len);
        for (int k = 0; k < 1 + iter % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = 8 + (seed >> 8) % header_len;
            seed = seed * 1103515245u + 12345u;
            m[pos] = (uint8_t)(seed >> 16);
        }
        maas_status s = open_bytes(m, len);
        assert_true(s >= MAAS_OK && s < MAAS_STATUS_COUNT);
        failures += s != MAAS_OK;
    }
    assert_true(failures > 500);
    free(m);
    free(bytes);
    stb_free(&b);
}

/* ---- sharded checkpoints and folders ------------------------------------ */

static void write_text(const char *path, const char *text)
{
    stb_write_bytes(path, text, strlen(text));
}

static void sharded_checkpoint(void **state)
{
    (void)state;
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/sharded", tmp_dir);
    assert_int_equal(mkdir(dir, 0755), 0);

    st_build b;
    stb_init(&b);
    stb_add(&b, "a", "F32", 1, (int64_t[]){2}, f32_data, 8);
    stb_add(&b, "b", "F16", 1, (int64_t[]){4}, f16_data, 8);
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    stb_write(&b, path);
    stb_free(&b);
    stb_init(&b);
    stb_add(&b, "c", "I64", 1, (int64_t[]){5}, i64_data, sizeof i64_data);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    stb_write(&b, path);
    stb_free(&b);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_text(path, "{\"metadata\": {\"total_size\": 56}, \"weight_map\": {"
                     "\"a\": \"model-00001-of-00002.safetensors\", "
                     "\"b\": \"model-00001-of-00002.safetensors\", "
                     "\"c\": \"model-00002-of-00002.safetensors\"}}");

    maas_safetensors *st;
    assert_int_equal(maas_st_open_dir(dir, &st), MAAS_OK);
    assert_int_equal(maas_st_count(st), 3);
    assert_memory_equal(maas_st_find(st, "a")->data, f32_data, 8);
    assert_memory_equal(maas_st_find(st, "b")->data, f16_data, 8);
    assert_memory_equal(maas_st_find(st, "c")->data, i64_data, sizeof i64_data);
    assert_non_null(strstr(maas_st_find(st, "c")->path, "00002"));
    maas_st_close(st);

    /* A tensor listed under the wrong shard. */
    write_text(path, "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", "
                     "\"c\": \"model-00001-of-00002.safetensors\", "
                     "\"b\": \"model-00002-of-00002.safetensors\"}}");
    assert_int_equal(maas_st_open_dir(dir, &st), MAAS_ERR_MISSING_TENSOR);
    test_assert_error_mentions("'c'");

    /* A shard name that leaves the folder. */
    write_text(path, "{\"weight_map\": {\"a\": \"../model-00001-of-00002.safetensors\"}}");
    assert_int_equal(maas_st_open_dir(dir, &st), MAAS_ERR_BAD_JSON);
    write_text(path, "{\"weight_map\": {\"a\": \"missing.safetensors\"}}");
    assert_int_equal(maas_st_open_dir(dir, &st), MAAS_ERR_NOT_FOUND);
    test_assert_error_mentions("missing.safetensors");
    write_text(path, "{\"weight_map\": [1]}");
    assert_int_equal(maas_st_open_dir(dir, &st), MAAS_ERR_BAD_JSON);

    /* The same name in two shards. */
    stb_init(&b);
    stb_add(&b, "a", "F32", 1, (int64_t[]){2}, f32_data, 8);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    stb_write(&b, path);
    stb_free(&b);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_text(path, "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", "
                     "\"b\": \"model-00002-of-00002.safetensors\"}}");
    assert_int_equal(maas_st_open_dir(dir, &st), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("appears twice");
}

static void folder_without_safetensors(void **state)
{
    (void)state;
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/empty", tmp_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    maas_safetensors *st = NULL;
    assert_int_equal(maas_st_open_dir(dir, &st), MAAS_ERR_NOT_FOUND);
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    write_text(path, "not really a pickle");
    assert_int_equal(maas_st_open_dir(dir, &st), MAAS_ERR_UNSUPPORTED);
    test_assert_error_mentions("safetensors");
    assert_null(st);
    assert_int_equal(maas_st_open("/nonexistent.safetensors", &st), MAAS_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_file_reads_back),
        cmocka_unit_test(truncated_at_every_byte),
        cmocka_unit_test(header_length_past_end),
        cmocka_unit_test(invalid_json),
        cmocka_unit_test(overlapping_offsets),
        cmocka_unit_test(overflowing_shape),
        cmocka_unit_test(unknown_dtype),
        cmocka_unit_test(size_mismatch),
        cmocka_unit_test(random_corruption_never_crashes),
        cmocka_unit_test(sharded_checkpoint),
        cmocka_unit_test(folder_without_safetensors),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
