/* The .maas reader and writer: round trips of every value type and dtype,
 * and malformed files that must each give their own status without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "maas.h"
#include "testutil.h"

static char tmp_dir[80];

static int make_tmp_dir(void **state)
{
    (void)state;
    return test_make_tmp_dir(tmp_dir, sizeof tmp_dir, "maas-test-file");
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    return test_remove_tmp_dir(tmp_dir);
}

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_dir, name);
}

static void write_bytes(const char *path, const uint8_t *bytes, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Writes `bytes` to a file and opens it; a successful open is closed. */
static maas_status open_bytes(const uint8_t *bytes, size_t len)
{
    char path[128];
    tmp_path(path, sizeof path, "case.maas");
    write_bytes(path, bytes, len);
    maas_file *f = NULL;
    maas_status s = maas_file_open(path, &f);
    if (s == MAAS_OK)
        maas_file_close(f);
    else
        assert_null(f);
    return s;
}


/* ---- round trips -------------------------------------------------------- */

static void value_types_round_trip(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "values.maas");

    maas_writer *w;
    assert_int_equal(maas_writer_create("gpt2", &w), MAAS_OK);
    assert_int_equal(maas_writer_set_u32(w, "n_layer", 4000000000u), MAAS_OK);
    assert_int_equal(maas_writer_set_i32(w, "neg", -7), MAAS_OK);
    assert_int_equal(maas_writer_set_i32(w, "pos", 12), MAAS_OK);
    assert_int_equal(maas_writer_set_f32(w, "eps", 1e-5f), MAAS_OK);
    assert_int_equal(maas_writer_set_f64(w, "wide", 0.1), MAAS_OK);
    assert_int_equal(maas_writer_set_bool(w, "yes", true), MAAS_OK);
    assert_int_equal(maas_writer_set_bool(w, "no", false), MAAS_OK);
    assert_int_equal(maas_writer_set_str(w, "act", "gelu_new"), MAAS_OK);
    assert_int_equal(maas_writer_set_str(w, "empty", ""), MAAS_OK);
    const char *tokens[] = {"\xc4\xa0the", "", "##ing", "xyz-ignored"};
    const uint32_t lens[] = {5, 0, 5, 3};
    assert_int_equal(maas_writer_set_str_array(w, "tokens", tokens, lens, 4), MAAS_OK);
    assert_int_equal(maas_writer_set_str_array(w, "none", NULL, NULL, 0), MAAS_OK);
    const int32_t ints[] = {-1, 0, 2147483647, -2147483647 - 1, 5};
    assert_int_equal(maas_writer_set_i32_array(w, "ints", ints, 5), MAAS_OK);
    assert_int_equal(maas_writer_set_str(w, "after", "x"), MAAS_OK);
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);

    maas_file *f;
    assert_int_equal(maas_file_open(path, &f), MAAS_OK);
    assert_string_equal(maas_file_arch(f), "gpt2");
    assert_string_equal(maas_file_path(f), path);

    uint32_t u;
    int32_t i;
    float x;
    double d;
    bool b;
    const char *str;
    assert_int_equal(maas_file_get_u32(f, "n_layer", &u), MAAS_OK);
    assert_int_equal(u, 4000000000u);
    assert_int_equal(maas_file_get_i32(f, "neg", &i), MAAS_OK);
    assert_int_equal(i, -7);
    assert_int_equal(maas_file_get_u32(f, "pos", &u), MAAS_OK); /* non-negative i32 */
    assert_int_equal(u, 12);
    assert_int_equal(maas_file_get_u32(f, "neg", &u), MAAS_ERR_BAD_FORMAT);
    assert_int_equal(maas_file_get_f32(f, "eps", &x), MAAS_OK);
    assert_true(x == 1e-5f);
    assert_int_equal(maas_file_get_f32(f, "wide", &x), MAAS_OK); /* f64 narrowed */
    assert_true(x == 0.1f);
    assert_int_equal(maas_file_get_f64(f, "wide", &d), MAAS_OK);
    assert_true(d == 0.1);
    assert_int_equal(maas_file_get_bool(f, "yes", &b), MAAS_OK);
    assert_true(b);
    assert_int_equal(maas_file_get_bool(f, "no", &b), MAAS_OK);
    assert_false(b);
    assert_int_equal(maas_file_get_str(f, "act", &str), MAAS_OK);
    assert_string_equal(str, "gelu_new");
    assert_int_equal(maas_file_get_str(f, "empty", &str), MAAS_OK);
    assert_string_equal(str, "");

    uint32_t count, len;
    assert_int_equal(maas_file_get_str_array(f, "tokens", &count), MAAS_OK);
    assert_int_equal(count, 4);
    for (uint32_t k = 0; k < 4; k++) {
        assert_int_equal(maas_file_get_str_at(f, "tokens", k, &str, &len), MAAS_OK);
        assert_int_equal(len, lens[k]);
        assert_memory_equal(str, tokens[k], lens[k]);
        assert_int_equal(str[len], '\0');
    }
    assert_int_equal(maas_file_get_str_at(f, "tokens", 4, &str, &len),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_file_get_str_array(f, "none", &count), MAAS_OK);
    assert_int_equal(count, 0);

    const int32_t *values;
    assert_int_equal(maas_file_get_i32_array(f, "ints", &values, &count), MAAS_OK);
    assert_int_equal(count, 5);
    assert_int_equal((uintptr_t)values % 4, 0);
    assert_memory_equal(values, ints, sizeof ints);
    assert_int_equal(maas_file_get_str(f, "after", &str), MAAS_OK);
    assert_string_equal(str, "x");

    /* Wrong type, absent key. */
    assert_int_equal(maas_file_get_str(f, "n_layer", &str), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("n_layer");
    assert_int_equal(maas_file_get_u32(f, "eps", &u), MAAS_ERR_BAD_FORMAT);
    assert_int_equal(maas_file_get_u32(f, "absent", &u), MAAS_ERR_NOT_FOUND);
    test_assert_error_mentions("absent");
    test_assert_error_mentions(path);
    assert_true(maas_file_has(f, "ints"));
    assert_false(maas_file_has(f, "absent"));

    /* Directory walk in file order. */
    assert_int_equal(maas_file_kv_count(f), 13);
    maas_value_type type;
    assert_string_equal(maas_file_kv_key(f, 0, &type), "n_layer");
    assert_int_equal(type, MAAS_VALUE_U32);
    assert_string_equal(maas_file_kv_key(f, 9, &type), "tokens");
    assert_int_equal(type, MAAS_VALUE_STRING_ARRAY);
    assert_null(maas_file_kv_key(f, 13, &type));
    assert_int_equal(maas_file_tensor_count(f), 0);
    maas_file_close(f);
}

static void fill_bytes(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void every_dtype_round_trip(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "dtypes.maas");

    static const struct {
        const char *name;
        maas_dtype dtype;
        int n_dims;
        int64_t shape[4];
    } cases[] = {
        {"f32.4d", MAAS_DTYPE_F32, 4, {2, 3, 1, 5}},
        {"f16.matrix", MAAS_DTYPE_F16, 2, {7, 3}},
        {"bf16.vector", MAAS_DTYPE_BF16, 1, {33}},
        {"i32.vector", MAAS_DTYPE_I32, 1, {9}},
        {"i64.3d", MAAS_DTYPE_I64, 3, {2, 2, 3}},
        {"empty", MAAS_DTYPE_F32, 2, {0, 4}},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    uint8_t *data[N];
    maas_writer *w;
    assert_int_equal(maas_writer_create("bert", &w), MAAS_OK);
    for (int k = 0; k < N; k++) {
        maas_tensor t;
        assert_int_equal(maas_tensor_init(&t, cases[k].dtype, cases[k].n_dims,
                                          cases[k].shape, NULL), MAAS_OK);
        size_t bytes = maas_tensor_nbytes(&t);
        data[k] = malloc(bytes + 1);
        fill_bytes(data[k], bytes, (unsigned)k + 1);
        t.data = data[k];
        assert_int_equal(maas_writer_add_tensor(w, cases[k].name, &t), MAAS_OK);
    }
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);

    maas_file *f;
    assert_int_equal(maas_file_open(path, &f), MAAS_OK);
    assert_int_equal(maas_file_tensor_count(f), N);
    for (int k = 0; k < N; k++) {
        maas_tensor t;
        assert_string_equal(maas_file_tensor_name(f, (uint32_t)k), cases[k].name);
        assert_int_equal(maas_file_tensor(f, cases[k].name, &t), MAAS_OK);
        assert_int_equal(t.dtype, cases[k].dtype);
        assert_int_equal(t.n_dims, cases[k].n_dims);
        for (int d = 0; d < cases[k].n_dims; d++)
            assert_int_equal(t.shape[d], cases[k].shape[d]);
        assert_true(maas_tensor_is_contiguous(&t));
        assert_int_equal((uintptr_t)t.data % 64, 0);
        assert_memory_equal(t.data, data[k], maas_tensor_nbytes(&t));

        maas_tensor again;
        assert_int_equal(maas_file_tensor_at(f, (uint32_t)k, &again), MAAS_OK);
        assert_ptr_equal(again.data, t.data);
    }

    maas_tensor t;
    assert_int_equal(maas_file_tensor_shaped(f, "f16.matrix", 2, (int64_t[]){7, 3}, &t), MAAS_OK);
    assert_int_equal(maas_file_tensor_shaped(f, "f16.matrix", 2, (int64_t[]){3, 7}, &t),
                     MAAS_ERR_SHAPE_MISMATCH);
    test_assert_error_mentions("f16.matrix");
    test_assert_error_mentions("[7, 3]");
    assert_int_equal(maas_file_tensor_shaped(f, "f16.matrix", 1, (int64_t[]){21}, &t),
                     MAAS_ERR_SHAPE_MISMATCH);
    assert_int_equal(maas_file_tensor_shaped(f, "i32.vector", 1, (int64_t[]){9}, &t),
                     MAAS_ERR_UNSUPPORTED);
    assert_int_equal(maas_file_tensor(f, "h.0.attn.c_attn.weight", &t), MAAS_ERR_MISSING_TENSOR);
    test_assert_error_mentions("h.0.attn.c_attn.weight");
    assert_int_equal(maas_file_tensor_at(f, N, &t), MAAS_ERR_INVALID_ARGUMENT);
    assert_null(maas_file_tensor_name(f, N));
    maas_file_close(f);
    for (int k = 0; k < N; k++)
        free(data[k]);
}

/* A transposed (strided) f32 view stored as f16 and as bf16: the file contains
 * the row-major transpose, rounded to nearest even. */
static void writer_converts_strided_views(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "convert.maas");

    enum { R = 5, C = 3 };
    float src[R * C];
    for (int k = 0; k < R * C; k++)
        src[k] = (float)k * 0.37f - 2.1f + 1e-4f * (float)k;
    maas_tensor m, mt;
    assert_int_equal(maas_tensor_init(&m, MAAS_DTYPE_F32, 2, (int64_t[]){R, C}, src), MAAS_OK);
    mt = m;  /* [C, R] view of the same memory */
    mt.shape[0] = C;
    mt.shape[1] = R;
    mt.stride[0] = 1;
    mt.stride[1] = C;
    uint16_t half[R * C];
    for (int k = 0; k < R * C; k++)
        half[k] = maas_f32_to_f16(src[k]);
    maas_tensor h;
    assert_int_equal(maas_tensor_init(&h, MAAS_DTYPE_F16, 2, (int64_t[]){R, C}, half), MAAS_OK);

    maas_writer *w;
    assert_int_equal(maas_writer_create("gpt2", &w), MAAS_OK);
    assert_int_equal(maas_writer_add_tensor(w, "t.f32", &mt), MAAS_OK);
    assert_int_equal(maas_writer_add_tensor_as(w, "t.f16", &mt, MAAS_DTYPE_F16), MAAS_OK);
    assert_int_equal(maas_writer_add_tensor_as(w, "t.bf16", &mt, MAAS_DTYPE_BF16), MAAS_OK);
    assert_int_equal(maas_writer_add_tensor_as(w, "h.f32", &h, MAAS_DTYPE_F32), MAAS_OK);
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);

    maas_file *f;
    assert_int_equal(maas_file_open(path, &f), MAAS_OK);
    maas_tensor t32, t16, tb, h32;
    assert_int_equal(maas_file_tensor_shaped(f, "t.f32", 2, (int64_t[]){C, R}, &t32), MAAS_OK);
    assert_int_equal(maas_file_tensor_shaped(f, "t.f16", 2, (int64_t[]){C, R}, &t16), MAAS_OK);
    assert_int_equal(maas_file_tensor_shaped(f, "t.bf16", 2, (int64_t[]){C, R}, &tb), MAAS_OK);
    assert_int_equal(maas_file_tensor_shaped(f, "h.f32", 2, (int64_t[]){R, C}, &h32), MAAS_OK);
    assert_int_equal(t16.dtype, MAAS_DTYPE_F16);
    assert_int_equal(tb.dtype, MAAS_DTYPE_BF16);
    for (int i = 0; i < C; i++) {
        for (int j = 0; j < R; j++) {
            float want = src[j * C + i];
            assert_true(((float *)t32.data)[i * R + j] == want);
            assert_int_equal(((uint16_t *)t16.data)[i * R + j], maas_f32_to_f16(want));
            assert_int_equal(((uint16_t *)tb.data)[i * R + j], maas_f32_to_bf16(want));
        }
    }
    for (int k = 0; k < R * C; k++)
        assert_true(((float *)h32.data)[k] == maas_f16_to_f32(half[k]));
    maas_file_close(f);
}

/* A permuted 3-D view, and a strided row longer than the writer's buffer. */
static void writer_streams_any_strides(void **state)
{
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "strides.maas");

    enum { A = 3, B = 4, D = 5, LONG = 40001 };
    float cube[A * B * D];
    for (int k = 0; k < A * B * D; k++)
        cube[k] = (float)k;
    maas_tensor c, perm;
    assert_int_equal(maas_tensor_init(&c, MAAS_DTYPE_F32, 3, (int64_t[]){A, B, D}, cube), MAAS_OK);
    perm = c;  /* [D, A, B] view: perm[i][j][k] = cube[j][k][i] */
    perm.shape[0] = D;
    perm.shape[1] = A;
    perm.shape[2] = B;
    perm.stride[0] = 1;
    perm.stride[1] = B * D;
    perm.stride[2] = D;

    float *line = malloc(2 * LONG * sizeof *line);
    for (int k = 0; k < 2 * LONG; k++)
        line[k] = (float)k * 0.25f;
    maas_tensor l;
    assert_int_equal(maas_tensor_init(&l, MAAS_DTYPE_F32, 1, (int64_t[]){LONG}, line), MAAS_OK);
    l.stride[0] = 2;  /* every other element */

    maas_writer *w;
    assert_int_equal(maas_writer_create("gpt2", &w), MAAS_OK);
    assert_int_equal(maas_writer_add_tensor(w, "perm", &perm), MAAS_OK);
    assert_int_equal(maas_writer_add_tensor_as(w, "line", &l, MAAS_DTYPE_F16), MAAS_OK);
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);

    maas_file *f;
    maas_tensor p, h;
    assert_int_equal(maas_file_open(path, &f), MAAS_OK);
    assert_int_equal(maas_file_tensor_shaped(f, "perm", 3, (int64_t[]){D, A, B}, &p), MAAS_OK);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < A; j++)
            for (int k = 0; k < B; k++)
                assert_true(((float *)p.data)[(i * A + j) * B + k] == cube[(j * B + k) * D + i]);
    assert_int_equal(maas_file_tensor_shaped(f, "line", 1, (int64_t[]){LONG}, &h), MAAS_OK);
    for (int k = 0; k < LONG; k++)
        assert_int_equal(((uint16_t *)h.data)[k], maas_f32_to_f16(line[2 * k]));
    maas_file_close(f);
    free(line);
}

static void progress_count(uint64_t done, uint64_t total, void *user)
{
    uint64_t *last = user;
    assert_true(done <= total);
    assert_true(done >= last[0]);
    last[0] = done;
    last[1] = total;
    last[2]++;
}

static void writer_rejects_bad_input(void **state)
{
    (void)state;
    maas_writer *w;
    assert_int_equal(maas_writer_create("", &w), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_writer_create("gpt2", &w), MAAS_OK);
    assert_int_equal(maas_writer_set_u32(w, "k", 1), MAAS_OK);
    assert_int_equal(maas_writer_set_f32(w, "k", 1.0f), MAAS_ERR_INVALID_ARGUMENT);
    test_assert_error_mentions("'k'");
    assert_int_equal(maas_writer_set_u32(w, "", 1), MAAS_ERR_INVALID_ARGUMENT);
    const char *with_nul[] = {"a\0b"};
    assert_int_equal(maas_writer_set_str_array(w, "s", with_nul, (uint32_t[]){3}, 1),
                     MAAS_ERR_INVALID_ARGUMENT);

    int32_t ints[4] = {1, 2, 3, 4};
    maas_tensor t;
    assert_int_equal(maas_tensor_init(&t, MAAS_DTYPE_I32, 1, (int64_t[]){4}, ints), MAAS_OK);
    assert_int_equal(maas_writer_add_tensor_as(w, "i", &t, MAAS_DTYPE_F32), MAAS_ERR_UNSUPPORTED);
    assert_int_equal(maas_writer_add_tensor(w, "i", &t), MAAS_OK);
    assert_int_equal(maas_writer_add_tensor(w, "i", &t), MAAS_ERR_INVALID_ARGUMENT);
    test_assert_error_mentions("'i'");

    /* A failed write leaves neither PATH nor PATH.tmp behind. */
    char path[160];
    snprintf(path, sizeof path, "%s/no-such-dir/out.maas", tmp_dir);
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_ERR_IO);
    test_assert_error_mentions("no-such-dir");
    tmp_path(path, sizeof path, "ok.maas");
    uint64_t seen[3] = {0, 0, 0};
    assert_int_equal(maas_writer_write(w, path, progress_count, seen), MAAS_OK);
    assert_int_equal(seen[2], 2);   /* after the 16-byte tensor, then at the padded end */
    assert_int_equal(seen[0], 64);
    assert_int_equal(seen[1], 64);
    struct stat st;
    char tmp[200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(stat(tmp, &st), -1);
    assert_int_equal(stat(path, &st), 0);
    maas_writer_free(w);
    maas_writer_free(NULL);
    maas_file_close(NULL);
}

/* ---- malformed files ---------------------------------------------------- */

/* A small valid file, read back into memory for mutation. */
static uint8_t *valid_file(size_t *len)
{
    char path[128];
    tmp_path(path, sizeof path, "base.maas");
    maas_writer *w;
    assert_int_equal(maas_writer_create("gpt2", &w), MAAS_OK);
    assert_int_equal(maas_writer_set_u32(w, "n_layer", 2), MAAS_OK);
    assert_int_equal(maas_writer_set_bool(w, "flag", true), MAAS_OK);
    assert_int_equal(maas_writer_set_str(w, "act", "gelu"), MAAS_OK);
    const char *tokens[] = {"alpha", "beta"};
    assert_int_equal(maas_writer_set_str_array(w, "toks", tokens, NULL, 2), MAAS_OK);
    static float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {6, 5, 4, 3, 2, 1};
    static uint16_t c[5] = {0x3c00, 0, 0, 0, 0x4000};
    maas_tensor t;
    maas_tensor_init(&t, MAAS_DTYPE_F32, 2, (int64_t[]){2, 3}, a);
    assert_int_equal(maas_writer_add_tensor(w, "a.weight", &t), MAAS_OK);
    maas_tensor_init(&t, MAAS_DTYPE_F32, 2, (int64_t[]){3, 2}, b);
    assert_int_equal(maas_writer_add_tensor(w, "b.weight", &t), MAAS_OK);
    maas_tensor_init(&t, MAAS_DTYPE_F16, 1, (int64_t[]){5}, c);
    assert_int_equal(maas_writer_add_tensor(w, "c.bias", &t), MAAS_OK);
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);
    return (uint8_t *)test_read_file(path, len);
}

/* Returns the offset just past the NUL of the string `s` (u32 length prefix
 * included in the match), so the bytes that follow a key or tensor name. */
static size_t after_string(const uint8_t *buf, size_t len, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    for (size_t i = 0; i + 4 + n + 1 <= len; i++) {
        if (memcmp(buf + i, &n, 4) == 0 && memcmp(buf + i + 4, s, n) == 0 &&
            buf[i + 4 + n] == 0)
            return i + 4 + n + 1;
    }
    fail_msg("string '%s' not found in the test file", s);
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void valid_base_opens(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = valid_file(&len);
    assert_int_equal(open_bytes(buf, len), MAAS_OK);
    free(buf);
}

static void truncated_at_every_byte(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = valid_file(&len);
    for (size_t cut = 0; cut < len; cut++) {
        maas_status s = open_bytes(buf, cut);
        if (s != MAAS_ERR_TRUNCATED)
            fail_msg("cut at %zu of %zu bytes gave %s, expected TRUNCATED: %s", cut, len,
                     maas_status_name(s), maas_last_error());
    }
    free(buf);
}

static void bad_header_fields(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = valid_file(&len);
    uint8_t *m = malloc(len + 64);

    memcpy(m, buf, len);
    m[0] = 'G';
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_MAGIC);
    test_assert_error_mentions("case.maas");

    memcpy(m, buf, len);
    put_u32(m + 4, 2);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_VERSION);
    test_assert_error_mentions("version 2");

    memcpy(m, buf, len);
    m[40] = 1;
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);

    memcpy(m, buf, len);
    put_u64(m + 16, 100);  /* data offset not a multiple of 64 */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);

    memcpy(m, buf, len);
    put_u64(m + 24, UINT64_MAX - 10);  /* data offset + size overflows */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OVERFLOW);

    memcpy(m, buf, len);
    memset(m + len, 0, 64);  /* bytes after the declared end */
    assert_int_equal(open_bytes(m, len + 64), MAAS_ERR_BAD_FORMAT);

    memcpy(m, buf, len);
    put_u32(m + 8, 100000000);  /* key/value count far beyond the metadata */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OUT_OF_BOUNDS);

    memcpy(m, buf, len);
    put_u32(m + 8, 3);  /* one key/value fewer: the metadata does not add up */
    assert_int_not_equal(open_bytes(m, len), MAAS_OK);

    /* A tiny non-.maas file and a missing one. */
    assert_int_equal(open_bytes((const uint8_t *)"{\"a\": 1}\n", 9), MAAS_ERR_BAD_MAGIC);
    assert_int_equal(open_bytes((const uint8_t *)"MA", 2), MAAS_ERR_TRUNCATED);
    maas_file *f = NULL;
    assert_int_equal(maas_file_open("/nonexistent/model.maas", &f), MAAS_ERR_IO);
    test_assert_error_mentions("/nonexistent/model.maas");
    assert_int_equal(maas_file_open(tmp_dir, &f), MAAS_ERR_IO);
    assert_null(f);

    /* A FIFO with no writer: opening it must fail at once, not block.  The
     * alarm ends the test program if the open blocks. */
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo.maas", tmp_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(10);
    assert_int_equal(maas_file_open(fifo, &f), MAAS_ERR_IO);
    alarm(0);
    test_assert_error_mentions("not a regular file");
    assert_null(f);
    free(m);
    free(buf);
}

static void bad_key_values(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = valid_file(&len);
    uint8_t *m = malloc(len);
    size_t flag = after_string(buf, len, "flag");  /* u32 type, then 1 byte */
    size_t act = after_string(buf, len, "act");    /* u32 type, then the string */

    memcpy(m, buf, len);
    put_u32(m + flag, 99);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("'flag'");
    test_assert_error_mentions("value type 99");

    memcpy(m, buf, len);
    m[flag + 4] = 2;
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("bool");

    memcpy(m, buf, len);
    put_u32(m + act + 4, 0x7fffffff);  /* string length past the metadata */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OUT_OF_BOUNDS);
    test_assert_error_mentions("'act'");

    memcpy(m, buf, len);
    m[act + 8 + 1] = 0;  /* "gelu" -> "g\0lu" */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("NUL");

    memcpy(m, buf, len);
    m[act + 8 + 4] = 'x';  /* terminator overwritten */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("not followed by a NUL");

    memcpy(m, buf, len);
    size_t toks = after_string(buf, len, "toks");
    put_u32(m + toks + 4, 0xffffffffu);  /* element count far too large */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OUT_OF_BOUNDS);

    /* Two keys with the same name: "flag" renamed to "toks". */
    memcpy(m, buf, len);
    memcpy(m + flag - 5, "toks", 4);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("appears twice");
    free(m);
    free(buf);
}

static void bad_tensor_entries(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = valid_file(&len);
    uint8_t *m = malloc(len);
    /* Each entry: u32 dtype, u32 n_dims, u64 shape[n_dims], u64 offset, u64 size. */
    size_t a = after_string(buf, len, "a.weight");
    size_t b = after_string(buf, len, "b.weight");
    size_t a_offset = a + 8 + 2 * 8, a_size = a_offset + 8;
    size_t b_offset = b + 8 + 2 * 8;

    memcpy(m, buf, len);
    put_u32(m + a, 77);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_UNKNOWN_DTYPE);
    test_assert_error_mentions("'a.weight'");
    test_assert_error_mentions("77");

    memcpy(m, buf, len);
    put_u32(m + a + 4, 0);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    memcpy(m, buf, len);
    put_u32(m + a + 4, 5);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);

    memcpy(m, buf, len);
    put_u64(m + a + 8, 1ull << 40);
    put_u64(m + a + 16, 1ull << 40);  /* 2^80 elements */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OVERFLOW);
    test_assert_error_mentions("'a.weight'");

    memcpy(m, buf, len);
    put_u64(m + a + 8, 1ull << 31);
    put_u64(m + a + 16, 1ull << 31);  /* 2^62 elements of 4 bytes: bytes overflow */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OVERFLOW);

    memcpy(m, buf, len);
    put_u64(m + a + 8, UINT64_MAX);  /* a dimension beyond int64 */
    put_u64(m + a + 16, 1);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OVERFLOW);

    memcpy(m, buf, len);
    put_u64(m + a + 8, 3);  /* shape [3, 3] but 24 bytes stored */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("'a.weight'");

    memcpy(m, buf, len);
    put_u64(m + a_offset, 1ull << 20);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OUT_OF_BOUNDS);
    test_assert_error_mentions("'a.weight'");

    memcpy(m, buf, len);
    put_u64(m + a_offset, UINT64_MAX - 63);  /* offset + size wraps around */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OUT_OF_BOUNDS);

    memcpy(m, buf, len);
    put_u64(m + a_offset, 4);
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("multiple of 64");

    memcpy(m, buf, len);
    put_u64(m + a_size, 28);  /* size disagrees with the shape */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);

    memcpy(m, buf, len);
    put_u64(m + b_offset, 0);  /* b.weight now shares a.weight's bytes */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_OVERLAP);
    test_assert_error_mentions("'a.weight'");
    test_assert_error_mentions("'b.weight'");

    memcpy(m, buf, len);
    m[b - 9] = 'a';  /* "b.weight" -> "a.weight" */
    assert_int_equal(open_bytes(m, len), MAAS_ERR_BAD_FORMAT);
    test_assert_error_mentions("appears twice");
    free(m);
    free(buf);
}

/* Random byte changes in the header and metadata must never crash (run
 * under AddressSanitizer) and either open or fail with a status. */
static void random_corruption_never_crashes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = valid_file(&len);
    uint8_t *m = malloc(len);
    uint64_t data_offset;
    memcpy(&data_offset, buf + 16, 8);
    unsigned seed = 12345;
    int failures = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(m, buf, len);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % data_offset;
            seed = seed * 1103515245u + 12345u;
            m[pos] = (uint8_t)(seed >> 16);
        }
        maas_status s = open_bytes(m, len);
        assert_true(s >= MAAS_OK && s < MAAS_STATUS_COUNT);
        failures += s != MAAS_OK;
    }
    assert_true(failures > 2000);
    free(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(value_types_round_trip),
        cmocka_unit_test(every_dtype_round_trip),
        cmocka_unit_test(writer_converts_strided_views),
        cmocka_unit_test(writer_streams_any_strides),
        cmocka_unit_test(writer_rejects_bad_input),
        cmocka_unit_test(valid_base_opens),
        cmocka_unit_test(truncated_at_every_byte),
        cmocka_unit_test(bad_header_fields),
        cmocka_unit_test(bad_key_values),
        cmocka_unit_test(bad_tensor_entries),
        cmocka_unit_test(random_corruption_never_crashes),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
