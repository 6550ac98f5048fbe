/* maas_convert on checkpoints built inside the test (safetensors bytes
 * written directly, not through libmaas) and on the committed fixtures:
 * every tensor must equal the source bytes (transposed where the layout
 * rules require, or rounded to f16), every key must match config.json and the
 * tokenizer files, and unsupported input must fail naming the problem. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "maas.h"
#include "st_build.h"
#include "testutil.h"

static char tmp_dir[80];

static int make_tmp_dir(void **state)
{
    (void)state;
    return test_make_tmp_dir(tmp_dir, sizeof tmp_dir, "maas-test-convert");
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    return test_remove_tmp_dir(tmp_dir);
}


static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    stb_write_bytes(path, text, strlen(text));
}

/* Creates tmp_dir/name (and returns it in buf). */
static const char *new_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp_dir, name);
    assert_int_equal(mkdir(buf, 0755), 0);
    return buf;
}

/* ---- checkpoints built in the test -------------------------------------- */

typedef struct src_tensor {
    char ck_name[128];    /* name in the checkpoint */
    char maas_name[128];  /* expected .maas name, "" when the converter drops it */
    const char *dtype;    /* safetensors dtype */
    int n_dims;
    int64_t shape[4];     /* checkpoint shape */
    bool transpose;       /* the .maas tensor is the transpose */
    uint8_t *bytes;
    size_t nbytes;
} src_tensor;

typedef struct checkpoint {
    src_tensor t[160];
    int n;
} checkpoint;

static unsigned rng_state = 1;

static float next_float(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return ((float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f) * 0.7f;
}

/* Adds a float tensor of random values stored as `dtype`. */
static void add_float(checkpoint *ck, const char *ck_name, const char *maas_name,
                      const char *dtype, int n_dims, const int64_t *shape, bool transpose)
{
    assert_true(ck->n < 160);
    src_tensor *t = &ck->t[ck->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->ck_name, sizeof t->ck_name, "%s", ck_name);
    snprintf(t->maas_name, sizeof t->maas_name, "%s", maas_name);
    t->dtype = dtype;
    t->n_dims = n_dims;
    size_t numel = 1;
    for (int d = 0; d < n_dims; d++) {
        t->shape[d] = shape[d];
        numel *= (size_t)shape[d];
    }
    t->transpose = transpose;
    size_t size = strcmp(dtype, "F32") == 0 ? 4 : 2;
    t->nbytes = numel * size;
    t->bytes = malloc(t->nbytes + 1);
    for (size_t i = 0; i < numel; i++) {
        float f = next_float();
        if (size == 4) {
            memcpy(t->bytes + 4 * i, &f, 4);
        } else {
            uint16_t h = strcmp(dtype, "F16") == 0 ? maas_f32_to_f16(f) : maas_f32_to_bf16(f);
            memcpy(t->bytes + 2 * i, &h, 2);
        }
    }
}

/* Adds a raw tensor (buffers, integer tensors) that the converter drops. */
static void add_raw(checkpoint *ck, const char *ck_name, const char *dtype, int n_dims,
                    const int64_t *shape, size_t elem_size)
{
    src_tensor *t = &ck->t[ck->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->ck_name, sizeof t->ck_name, "%s", ck_name);
    t->dtype = dtype;
    t->n_dims = n_dims;
    size_t numel = 1;
    for (int d = 0; d < n_dims; d++) {
        t->shape[d] = shape[d];
        numel *= (size_t)shape[d];
    }
    t->nbytes = numel * elem_size;
    t->bytes = calloc(1, t->nbytes + 1);
    for (size_t i = 0; i < t->nbytes; i++)
        t->bytes[i] = (uint8_t)i;
}

static void checkpoint_free(checkpoint *ck)
{
    for (int i = 0; i < ck->n; i++)
        free(ck->t[i].bytes);
    ck->n = 0;
}

static void remove_tensor(checkpoint *ck, const char *ck_name)
{
    for (int i = 0; i < ck->n; i++) {
        if (strcmp(ck->t[i].ck_name, ck_name) == 0) {
            free(ck->t[i].bytes);
            ck->t[i] = ck->t[--ck->n];
            return;
        }
    }
    fail_msg("no tensor %s to remove", ck_name);
}

/* Writes model.safetensors, or two shards and an index when `sharded`. */
static void write_checkpoint(const checkpoint *ck, const char *dir, bool sharded)
{
    char path[512];
    if (!sharded) {
        st_build b;
        stb_init(&b);
        for (int i = 0; i < ck->n; i++)
            stb_add(&b, ck->t[i].ck_name, ck->t[i].dtype, ck->t[i].n_dims, ck->t[i].shape,
                    ck->t[i].bytes, ck->t[i].nbytes);
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        stb_write(&b, path);
        stb_free(&b);
        return;
    }

    static char index[1 << 16];
    size_t n = (size_t)snprintf(index, sizeof index, "{\"metadata\": {}, \"weight_map\": {");
    for (int shard = 0; shard < 2; shard++) {
        st_build b;
        stb_init(&b);
        for (int i = shard; i < ck->n; i += 2) {
            stb_add(&b, ck->t[i].ck_name, ck->t[i].dtype, ck->t[i].n_dims, ck->t[i].shape,
                    ck->t[i].bytes, ck->t[i].nbytes);
            n += (size_t)snprintf(index + n, sizeof index - n,
                                  "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
                                  i ? ", " : "", ck->t[i].ck_name, shard + 1);
        }
        snprintf(path, sizeof path, "%s/model-0000%d-of-00002.safetensors", dir, shard + 1);
        stb_write(&b, path);
        stb_free(&b);
    }
    snprintf(index + n, sizeof index - n, "}}");
    write_text(dir, "model.safetensors.index.json", index);
}

/* Returns source element i of t as f32. */
static float src_value(const src_tensor *t, size_t i)
{
    if (strcmp(t->dtype, "F32") == 0) {
        float f;
        memcpy(&f, t->bytes + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, t->bytes + 2 * i, 2);
    return strcmp(t->dtype, "F16") == 0 ? maas_f16_to_f32(h) : maas_bf16_to_f32(h);
}

/* Checks that the .maas file contains exactly the checkpoint's kept tensors,
 * each equal to its source (transposed where marked), 2-D ones stored as
 * `matrix_dtype` and the rest as f32. */
static void check_tensors(const checkpoint *ck, const maas_file *f, maas_dtype matrix_dtype)
{
    uint32_t expected = 0;
    for (int k = 0; k < ck->n; k++) {
        const src_tensor *s = &ck->t[k];
        if (!s->maas_name[0])
            continue;
        expected++;
        maas_tensor t;
        if (maas_file_tensor(f, s->maas_name, &t) != MAAS_OK)
            fail_msg("%s: %s", s->maas_name, maas_last_error());
        maas_dtype want_dtype = s->n_dims == 2 ? matrix_dtype : MAAS_DTYPE_F32;
        if (t.dtype != want_dtype)
            fail_msg("%s: dtype %s, expected %s", s->maas_name, maas_dtype_name(t.dtype),
                     maas_dtype_name(want_dtype));
        assert_int_equal(t.n_dims, s->n_dims);
        int64_t rows = s->n_dims == 2 ? s->shape[0] : 1;
        int64_t cols = s->shape[s->n_dims - 1];
        if (s->transpose) {
            assert_int_equal(t.shape[0], cols);
            assert_int_equal(t.shape[1], rows);
        } else {
            for (int d = 0; d < s->n_dims; d++)
                assert_int_equal(t.shape[d], s->shape[d]);
        }

        /* Element (r, c) of the source lands at (c, r) when transposed. */
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < cols; c++) {
                float want = src_value(s, (size_t)(r * cols + c));
                size_t at = s->transpose ? (size_t)(c * rows + r) : (size_t)(r * cols + c);
                if (t.dtype == MAAS_DTYPE_F32) {
                    float got = ((const float *)t.data)[at];
                    if (memcmp(&got, &want, 4) != 0)
                        fail_msg("%s[%lld, %lld]: %.9g, expected %.9g", s->maas_name,
                                 (long long)r, (long long)c, (double)got, (double)want);
                } else {
                    uint16_t got = ((const uint16_t *)t.data)[at];
                    if (got != maas_f32_to_f16(want))
                        fail_msg("%s[%lld, %lld]: f16 0x%04x, expected 0x%04x", s->maas_name,
                                 (long long)r, (long long)c, got, maas_f32_to_f16(want));
                }
            }
        }
    }
    assert_int_equal(maas_file_tensor_count(f), expected);
}

static maas_status convert_dir(const char *dir, const char *out, maas_dtype dtype,
                               maas_convert_summary *summary)
{
    maas_convert_options opt = {.dtype = dtype};
    return maas_convert(dir, out, &opt, summary);
}

static void assert_u32_key(const maas_file *f, const char *key, uint32_t want)
{
    uint32_t got;
    if (maas_file_get_u32(f, key, &got) != MAAS_OK)
        fail_msg("%s: %s", key, maas_last_error());
    if (got != want)
        fail_msg("key %s is %u, expected %u", key, got, want);
}

static void assert_str_key(const maas_file *f, const char *key, const char *want)
{
    const char *got;
    if (maas_file_get_str(f, key, &got) != MAAS_OK)
        fail_msg("%s: %s", key, maas_last_error());
    assert_string_equal(got, want);
}

static void assert_bool_key(const maas_file *f, const char *key, bool want)
{
    bool got;
    if (maas_file_get_bool(f, key, &got) != MAAS_OK)
        fail_msg("%s: %s", key, maas_last_error());
    assert_int_equal(got, want);
}

static void assert_i32_key(const maas_file *f, const char *key, int32_t want)
{
    int32_t got;
    if (maas_file_get_i32(f, key, &got) != MAAS_OK)
        fail_msg("%s: %s", key, maas_last_error());
    assert_int_equal(got, want);
}

static void assert_strings(const maas_file *f, const char *key, const char *const *want,
                           uint32_t n)
{
    uint32_t count;
    assert_int_equal(maas_file_get_str_array(f, key, &count), MAAS_OK);
    assert_int_equal(count, n);
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        uint32_t len;
        assert_int_equal(maas_file_get_str_at(f, key, i, &s, &len), MAAS_OK);
        assert_string_equal(s, want[i]);
        assert_int_equal(len, strlen(want[i]));
    }
}

/* ---- GPT-2 ---------------------------------------------------------------- */

/* The test vocabulary: GPT-2's 256 byte tokens (ids 0..255, in byte
 * order), three merged tokens and <|endoftext|> (G_EOS). */
enum { G_LAYERS = 2, G_EMBD = 6, G_POS = 5, G_VOCAB = 260, G_EOS = 259 };

typedef struct gpt2_options {
    const char *prefix;  /* "transformer." or "" */
    const char *dtype;   /* checkpoint float dtype */
    bool tied;
    int n_inner;         /* 0: null in config.json (4 * n_embd) */
    bool buffers;        /* add attn.bias / attn.masked_bias */
} gpt2_options;

static void build_gpt2(checkpoint *ck, const gpt2_options *o)
{
    const int64_t C = G_EMBD, F = o->n_inner ? o->n_inner : 4 * G_EMBD;
    char ck_name[128], name[128];
    const char *dt = o->dtype;
    ck->n = 0;

#define ADD(maas, n_dims, transpose, ...)                                              \
    do {                                                                                \
        snprintf(name, sizeof name, "%s", maas);                                        \
        snprintf(ck_name, sizeof ck_name, "%s%s", o->prefix, maas);                     \
        add_float(ck, ck_name, name, dt, n_dims, (int64_t[]){__VA_ARGS__}, transpose);  \
    } while (0)

    ADD("wte.weight", 2, false, G_VOCAB, C);
    ADD("wpe.weight", 2, false, G_POS, C);
    for (int i = 0; i < G_LAYERS; i++) {
        char p[32];
        snprintf(p, sizeof p, "h.%d.", i);
        char n[128];
#define L(suffix) (snprintf(n, sizeof n, "%s%s", p, suffix), n)
        ADD(L("ln_1.weight"), 1, false, C);
        ADD(L("ln_1.bias"), 1, false, C);
        ADD(L("attn.c_attn.weight"), 2, true, C, 3 * C);  /* Conv1D: [in, out] */
        ADD(L("attn.c_attn.bias"), 1, false, 3 * C);
        ADD(L("attn.c_proj.weight"), 2, true, C, C);
        ADD(L("attn.c_proj.bias"), 1, false, C);
        ADD(L("ln_2.weight"), 1, false, C);
        ADD(L("ln_2.bias"), 1, false, C);
        ADD(L("mlp.c_fc.weight"), 2, true, C, F);
        ADD(L("mlp.c_fc.bias"), 1, false, F);
        ADD(L("mlp.c_proj.weight"), 2, true, F, C);
        ADD(L("mlp.c_proj.bias"), 1, false, C);
        if (o->buffers) {
            snprintf(ck_name, sizeof ck_name, "%sh.%d.attn.bias", o->prefix, i);
            add_raw(ck, ck_name, "U8", 4, (int64_t[]){1, 1, G_POS, G_POS}, 1);
            snprintf(ck_name, sizeof ck_name, "%sh.%d.attn.masked_bias", o->prefix, i);
            add_raw(ck, ck_name, "F32", 0, NULL, 4);
        }
#undef L
    }
    ADD("ln_f.weight", 1, false, C);
    ADD("ln_f.bias", 1, false, C);
#undef ADD
    if (!o->tied)
        add_float(ck, "lm_head.weight", "lm_head.weight", dt, 2, (int64_t[]){G_VOCAB, C}, false);
}

static char gpt2_token_text[G_VOCAB][16];
static const char *gpt2_tokens[G_VOCAB];

/* Fills gpt2_tokens.  Byte b's token is the character U+00bb when b is
 * printable in Latin-1, else U+0100 + (the count of non-printable bytes
 * before b): the bytes_to_unicode table of OpenAI's GPT-2 encoder.py. */
static void fill_gpt2_tokens(void)
{
    int shifted = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) ||
                         (b >= 0xae && b <= 0xff);
        int cp = printable ? b : 256 + shifted++;
        char *t = gpt2_token_text[b];
        if (cp < 0x80) {
            t[0] = (char)cp;
        } else {
            t[0] = (char)(0xc0 | (cp >> 6));
            t[1] = (char)(0x80 | (cp & 0x3f));
        }
        gpt2_tokens[b] = t;
    }
    const char *merged[] = {"ab", "\xc4\xa0" "a", "\xc4\xa0the", "<|endoftext|>"};
    for (int i = 0; i < 4; i++) {
        snprintf(gpt2_token_text[256 + i], sizeof gpt2_token_text[0], "%s", merged[i]);
        gpt2_tokens[256 + i] = gpt2_token_text[256 + i];
    }
}

static const char *const gpt2_merges[] = {"a b", "\xc4\xa0 a"};

static void write_gpt2_config(const char *dir, const gpt2_options *o)
{
    char inner[16], config[2048];
    if (o->n_inner)
        snprintf(inner, sizeof inner, "%d", o->n_inner);
    else
        snprintf(inner, sizeof inner, "null");
    snprintf(config, sizeof config,
             "{\"activation_function\": \"gelu_new\", \"architectures\": [\"GPT2LMHeadModel\"],"
             " \"bos_token_id\": %d, \"eos_token_id\": %d, \"layer_norm_epsilon\": 1e-05,"
             " \"model_type\": \"gpt2\", \"n_embd\": %d, \"n_head\": 2, \"n_inner\": %s,"
             " \"n_layer\": %d, \"n_positions\": %d, \"scale_attn_weights\": true,"
             " \"tie_word_embeddings\": %s, \"vocab_size\": %d}",
             G_EOS, G_EOS, G_EMBD, inner, G_LAYERS, G_POS, o->tied ? "true" : "false",
             G_VOCAB);
    write_text(dir, "config.json", config);
}

static void write_gpt2_tokenizer_files(const char *dir)
{
    fill_gpt2_tokens();
    cJSON *vocab = cJSON_CreateObject();
    for (int i = 0; i < G_VOCAB; i++)
        cJSON_AddNumberToObject(vocab, gpt2_tokens[i], i);
    char *text = cJSON_PrintUnformatted(vocab);
    write_text(dir, "vocab.json", text);
    free(text);
    cJSON_Delete(vocab);
    write_text(dir, "merges.txt", "#version: 0.2\na b\n\xc4\xa0 a\n");
    write_text(dir, "tokenizer_config.json",
               "{\"model_max_length\": 5, \"eos_token\": \"<|endoftext|>\"}");
}

static void check_gpt2_keys(const maas_file *f, const gpt2_options *o)
{
    assert_string_equal(maas_file_arch(f), "gpt2");
    assert_u32_key(f, "n_layer", G_LAYERS);
    assert_u32_key(f, "n_head", 2);
    assert_u32_key(f, "n_embd", G_EMBD);
    assert_u32_key(f, "n_positions", G_POS);
    assert_u32_key(f, "vocab_size", G_VOCAB);
    assert_u32_key(f, "n_inner", o->n_inner ? (uint32_t)o->n_inner : 4 * G_EMBD);
    assert_u32_key(f, "bos_token_id", G_EOS);
    assert_u32_key(f, "eos_token_id", G_EOS);
    float eps;
    assert_int_equal(maas_file_get_f32(f, "layer_norm_epsilon", &eps), MAAS_OK);
    assert_true(eps == 1e-5f);
    assert_str_key(f, "activation_function", "gelu_new");
    assert_bool_key(f, "tie_word_embeddings", o->tied);

    assert_str_key(f, "tokenizer.model", "gpt2-bpe");
    assert_strings(f, "tokenizer.tokens", gpt2_tokens, G_VOCAB);
    assert_strings(f, "tokenizer.merges", gpt2_merges, 2);
    assert_i32_key(f, "tokenizer.eos_id", G_EOS);
    assert_false(maas_file_has(f, "tokenizer.cls_id"));
}

static void gpt2_prefixed_tied(void **state)
{
    (void)state;
    char dir[128], out[256];
    new_dir(dir, sizeof dir, "gpt2-prefixed");
    gpt2_options o = {.prefix = "transformer.", .dtype = "F32", .tied = true, .buffers = true};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_gpt2(ck, &o);
    write_checkpoint(ck, dir, false);
    write_gpt2_config(dir, &o);
    write_gpt2_tokenizer_files(dir);

    /* f32: exact copies; f16: the 2-D weights rounded, vectors still f32. */
    for (int pass = 0; pass < 2; pass++) {
        maas_dtype dtype = pass ? MAAS_DTYPE_F16 : MAAS_DTYPE_F32;
        snprintf(out, sizeof out, "%s/gpt2-%s.maas", tmp_dir, maas_dtype_name(dtype));
        maas_convert_summary sum;
        if (convert_dir(dir, out, dtype, &sum) != MAAS_OK)
            fail_msg("%s", maas_last_error());
        assert_string_equal(sum.arch, "gpt2");
        assert_string_equal(sum.model_class, "GPT2LMHeadModel");
        assert_int_equal(sum.n_dropped, 2 * G_LAYERS);
        assert_int_equal(sum.n_tensors, 4 + 12 * G_LAYERS);
        assert_int_equal(sum.n_tokens, G_VOCAB);

        maas_file *f;
        assert_int_equal(maas_file_open(out, &f), MAAS_OK);
        check_tensors(ck, f, dtype);
        check_gpt2_keys(f, &o);
        assert_u32_key(f, "tokenizer.model_max_length", 5);
        maas_tensor t;
        assert_int_equal(maas_file_tensor(f, "lm_head.weight", &t), MAAS_ERR_MISSING_TENSOR);
        maas_file_close(f);
    }
    checkpoint_free(ck);
    free(ck);
}

/* No prefix, an untied lm_head, f16 weights in the checkpoint, an explicit
 * n_inner and only a tokenizer.json (merges as pairs, an added token). */
static void gpt2_plain_untied_f16_source(void **state)
{
    (void)state;
    char dir[128], out[256];
    new_dir(dir, sizeof dir, "gpt2-plain");
    gpt2_options o = {.prefix = "", .dtype = "F16", .tied = false, .n_inner = 10};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_gpt2(ck, &o);
    write_checkpoint(ck, dir, false);
    write_gpt2_config(dir, &o);

    /* The vocabulary without <|endoftext|>, which comes as an added token. */
    fill_gpt2_tokens();
    cJSON *vocab = cJSON_CreateObject();
    for (int i = 0; i < G_EOS; i++)
        cJSON_AddNumberToObject(vocab, gpt2_tokens[i], i);
    char *vocab_text = cJSON_PrintUnformatted(vocab);
    cJSON_Delete(vocab);
    size_t size = strlen(vocab_text) + 512;
    char *tokenizer = malloc(size);
    snprintf(tokenizer, size,
             "{\"added_tokens\": [{\"id\": %d, \"content\": \"<|endoftext|>\", "
             "\"special\": true}], \"model\": {\"type\": \"BPE\", \"vocab\": %s, "
             "\"merges\": [[\"a\", \"b\"], [\"\\u0120\", \"a\"]]}}", G_EOS, vocab_text);
    write_text(dir, "tokenizer.json", tokenizer);
    free(tokenizer);
    free(vocab_text);

    snprintf(out, sizeof out, "%s/gpt2-plain.maas", tmp_dir);
    if (convert_dir(dir, out, MAAS_DTYPE_F32, NULL) != MAAS_OK)
        fail_msg("%s", maas_last_error());
    maas_file *f;
    assert_int_equal(maas_file_open(out, &f), MAAS_OK);
    check_tensors(ck, f, MAAS_DTYPE_F32);
    check_gpt2_keys(f, &o);
    assert_false(maas_file_has(f, "tokenizer.model_max_length"));
    maas_file_close(f);
    checkpoint_free(ck);
    free(ck);
}

/* A sharded checkpoint converts to the same bytes as the single file. */
static void gpt2_sharded_matches_single(void **state)
{
    (void)state;
    char one[128], two[128], out1[256], out2[256];
    gpt2_options o = {.prefix = "transformer.", .dtype = "BF16", .tied = true};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_gpt2(ck, &o);
    new_dir(one, sizeof one, "gpt2-single");
    new_dir(two, sizeof two, "gpt2-sharded");
    write_checkpoint(ck, one, false);
    write_checkpoint(ck, two, true);
    write_gpt2_config(one, &o);
    write_gpt2_config(two, &o);
    write_gpt2_tokenizer_files(one);
    write_gpt2_tokenizer_files(two);

    snprintf(out1, sizeof out1, "%s/single.maas", tmp_dir);
    snprintf(out2, sizeof out2, "%s/sharded.maas", tmp_dir);
    assert_int_equal(convert_dir(one, out1, MAAS_DTYPE_F16, NULL), MAAS_OK);
    if (convert_dir(two, out2, MAAS_DTYPE_F16, NULL) != MAAS_OK)
        fail_msg("%s", maas_last_error());
    size_t len1, len2;
    char *a = test_read_file(out1, &len1), *b = test_read_file(out2, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(a, b, len1);
    free(a);
    free(b);

    maas_file *f;
    assert_int_equal(maas_file_open(out2, &f), MAAS_OK);
    check_tensors(ck, f, MAAS_DTYPE_F16);
    maas_file_close(f);
    checkpoint_free(ck);
    free(ck);
}

/* ---- BERT ---------------------------------------------------------------- */

enum { B_LAYERS = 2, B_HIDDEN = 6, B_INTER = 10, B_POS = 7, B_VOCAB = 12 };

typedef struct bert_options {
    const char *prefix;  /* "bert." or "" */
    const char *dtype;
    bool legacy_names;   /* LayerNorm.gamma / LayerNorm.beta */
    bool pooler;
    bool qa;
} bert_options;

static void build_bert(checkpoint *ck, const bert_options *o)
{
    const int64_t C = B_HIDDEN, I = B_INTER;
    char ck_name[160], name[160];
    ck->n = 0;

    /* `maas` is the .maas name; the checkpoint adds the prefix and may use
     * gamma/beta for LayerNorm parameters. */
#define ADD(maas, n_dims, ...)                                                            \
    do {                                                                                   \
        snprintf(name, sizeof name, "%s", maas);                                           \
        snprintf(ck_name, sizeof ck_name, "%s%s", o->prefix, maas);                        \
        if (o->legacy_names && strstr(ck_name, "LayerNorm.")) {                            \
            char *dot = strstr(ck_name, "LayerNorm.") + strlen("LayerNorm.");             \
            strcpy(dot, strcmp(dot, "weight") == 0 ? "gamma" : "beta");                    \
        }                                                                                  \
        add_float(ck, ck_name, name, o->dtype, n_dims, (int64_t[]){__VA_ARGS__}, false);   \
    } while (0)

    ADD("embeddings.word_embeddings.weight", 2, B_VOCAB, C);
    ADD("embeddings.position_embeddings.weight", 2, B_POS, C);
    ADD("embeddings.token_type_embeddings.weight", 2, 2, C);
    ADD("embeddings.LayerNorm.weight", 1, C);
    ADD("embeddings.LayerNorm.bias", 1, C);
    snprintf(ck_name, sizeof ck_name, "%sembeddings.position_ids", o->prefix);
    add_raw(ck, ck_name, "I64", 2, (int64_t[]){1, B_POS}, 8);
    for (int i = 0; i < B_LAYERS; i++) {
        char n[128];
#define L(suffix) (snprintf(n, sizeof n, "encoder.layer.%d.%s", i, suffix), n)
        ADD(L("attention.self.query.weight"), 2, C, C);
        ADD(L("attention.self.query.bias"), 1, C);
        ADD(L("attention.self.key.weight"), 2, C, C);
        ADD(L("attention.self.key.bias"), 1, C);
        ADD(L("attention.self.value.weight"), 2, C, C);
        ADD(L("attention.self.value.bias"), 1, C);
        ADD(L("attention.output.dense.weight"), 2, C, C);
        ADD(L("attention.output.dense.bias"), 1, C);
        ADD(L("attention.output.LayerNorm.weight"), 1, C);
        ADD(L("attention.output.LayerNorm.bias"), 1, C);
        ADD(L("intermediate.dense.weight"), 2, I, C);
        ADD(L("intermediate.dense.bias"), 1, I);
        ADD(L("output.dense.weight"), 2, C, I);
        ADD(L("output.dense.bias"), 1, C);
        ADD(L("output.LayerNorm.weight"), 1, C);
        ADD(L("output.LayerNorm.bias"), 1, C);
#undef L
    }
    if (o->pooler) {
        ADD("pooler.dense.weight", 2, C, C);
        ADD("pooler.dense.bias", 1, C);
    }
#undef ADD
    if (o->qa) {
        add_float(ck, "qa_outputs.weight", "qa_outputs.weight", o->dtype, 2,
                  (int64_t[]){2, C}, false);
        add_float(ck, "qa_outputs.bias", "qa_outputs.bias", o->dtype, 1, (int64_t[]){2},
                  false);
    }
}

static const char *const bert_tokens[B_VOCAB] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "", "\xc3\xa9t\xc3\xa9",
    "a b", "!",
};

static void write_bert_files(const char *dir, const char *model_class)
{
    char config[2048];
    snprintf(config, sizeof config,
             "{\"architectures\": [\"%s\"], \"hidden_act\": \"gelu\", \"hidden_size\": %d,"
             " \"intermediate_size\": %d, \"layer_norm_eps\": 1e-12,"
             " \"max_position_embeddings\": %d, \"model_type\": \"bert\","
             " \"num_attention_heads\": 2, \"num_hidden_layers\": %d, \"pad_token_id\": 0,"
             " \"position_embedding_type\": \"absolute\", \"type_vocab_size\": 2,"
             " \"vocab_size\": %d}",
             model_class, B_HIDDEN, B_INTER, B_POS, B_LAYERS, B_VOCAB);
    write_text(dir, "config.json", config);
    /* An empty line is the token "" (id 8), as in Hugging Face's load_vocab. */
    write_text(dir, "vocab.txt",
               "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\n##s\n\n\xc3\xa9t\xc3\xa9\na b\n!\n");
}

static void check_bert_keys(const maas_file *f)
{
    assert_string_equal(maas_file_arch(f), "bert");
    assert_u32_key(f, "num_hidden_layers", B_LAYERS);
    assert_u32_key(f, "num_attention_heads", 2);
    assert_u32_key(f, "hidden_size", B_HIDDEN);
    assert_u32_key(f, "intermediate_size", B_INTER);
    assert_u32_key(f, "max_position_embeddings", B_POS);
    assert_u32_key(f, "vocab_size", B_VOCAB);
    assert_u32_key(f, "type_vocab_size", 2);
    assert_u32_key(f, "pad_token_id", 0);
    float eps;
    assert_int_equal(maas_file_get_f32(f, "layer_norm_eps", &eps), MAAS_OK);
    assert_true(eps == 1e-12f);
    assert_str_key(f, "hidden_act", "gelu");
    assert_str_key(f, "tokenizer.model", "wordpiece");
    assert_strings(f, "tokenizer.tokens", bert_tokens, B_VOCAB);
    assert_false(maas_file_has(f, "tokenizer.merges"));
    assert_i32_key(f, "tokenizer.pad_id", 0);
    assert_i32_key(f, "tokenizer.unk_id", 1);
    assert_i32_key(f, "tokenizer.cls_id", 2);
    assert_i32_key(f, "tokenizer.sep_id", 3);
    assert_i32_key(f, "tokenizer.mask_id", 4);
    assert_false(maas_file_has(f, "tokenizer.eos_id"));
}

/* BertForQuestionAnswering: "bert." prefix, qa_outputs, gamma/beta names,
 * bf16 weights, the position_ids buffer, tokenizer_config.json settings. */
static void bert_qa_legacy_names(void **state)
{
    (void)state;
    char dir[128], out[256];
    new_dir(dir, sizeof dir, "bert-qa");
    bert_options o = {.prefix = "bert.", .dtype = "BF16", .legacy_names = true, .qa = true};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_bert(ck, &o);
    write_checkpoint(ck, dir, false);
    write_bert_files(dir, "BertForQuestionAnswering");
    write_text(dir, "tokenizer_config.json",
               "{\"do_lower_case\": false, \"strip_accents\": true, \"model_max_length\": 7,"
               " \"tokenize_chinese_chars\": true, \"unk_token\": {\"content\": \"[UNK]\"}}");

    for (int pass = 0; pass < 2; pass++) {
        maas_dtype dtype = pass ? MAAS_DTYPE_F16 : MAAS_DTYPE_F32;
        snprintf(out, sizeof out, "%s/bert-qa-%d.maas", tmp_dir, pass);
        maas_convert_summary sum;
        if (convert_dir(dir, out, dtype, &sum) != MAAS_OK)
            fail_msg("%s", maas_last_error());
        assert_int_equal(sum.n_dropped, 1);
        maas_file *f;
        assert_int_equal(maas_file_open(out, &f), MAAS_OK);
        check_tensors(ck, f, dtype);
        check_bert_keys(f);
        assert_bool_key(f, "tokenizer.do_lower_case", false);
        assert_bool_key(f, "tokenizer.strip_accents", true);
        assert_bool_key(f, "tokenizer.tokenize_chinese_chars", true);
        assert_u32_key(f, "tokenizer.model_max_length", 7);
        assert_false(maas_file_has(f, "pooling.mode"));
        maas_tensor t;
        assert_int_equal(maas_file_tensor(f, "pooler.dense.weight", &t), MAAS_ERR_MISSING_TENSOR);
        maas_file_close(f);
    }
    checkpoint_free(ck);
    free(ck);
}

/* A sentence-transformers BertModel folder: no prefix, a pooler, mean
 * pooling plus Normalize, settings only in tokenizer.json. */
static void bert_sentence_transformers(void **state)
{
    (void)state;
    char dir[128], sub[192], out[256];
    new_dir(dir, sizeof dir, "bert-st");
    bert_options o = {.prefix = "", .dtype = "F32", .pooler = true};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_bert(ck, &o);
    write_checkpoint(ck, dir, false);
    write_bert_files(dir, "BertModel");
    write_text(dir, "tokenizer.json",
               "{\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": true,"
               " \"strip_accents\": null, \"handle_chinese_chars\": false},"
               " \"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}");
    write_text(dir, "modules.json",
               "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": "
               "\"sentence_transformers.models.Transformer\"}, {\"idx\": 1, \"name\": \"1\","
               " \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},"
               " {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": "
               "\"sentence_transformers.models.Normalize\"}]");
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_text(sub, "config.json",
               "{\"word_embedding_dimension\": 6, \"pooling_mode_cls_token\": false,"
               " \"pooling_mode_mean_tokens\": true, \"pooling_mode_max_tokens\": false,"
               " \"pooling_mode_mean_sqrt_len_tokens\": false}");

    snprintf(out, sizeof out, "%s/bert-st.maas", tmp_dir);
    if (convert_dir(dir, out, MAAS_DTYPE_F32, NULL) != MAAS_OK)
        fail_msg("%s", maas_last_error());
    maas_file *f;
    assert_int_equal(maas_file_open(out, &f), MAAS_OK);
    check_tensors(ck, f, MAAS_DTYPE_F32);
    check_bert_keys(f);
    assert_str_key(f, "pooling.mode", "mean");
    assert_bool_key(f, "pooling.normalize", true);
    assert_bool_key(f, "tokenizer.do_lower_case", true);
    assert_bool_key(f, "tokenizer.tokenize_chinese_chars", false);
    assert_false(maas_file_has(f, "tokenizer.strip_accents"));
    maas_file_close(f);

    /* Max pooling without Normalize; then a mode libmaas lacks. */
    write_text(dir, "modules.json",
               "[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
               " {\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}]");
    write_text(sub, "config.json", "{\"pooling_mode_max_tokens\": true}");
    assert_int_equal(convert_dir(dir, out, MAAS_DTYPE_F32, NULL), MAAS_OK);
    assert_int_equal(maas_file_open(out, &f), MAAS_OK);
    assert_str_key(f, "pooling.mode", "max");
    assert_bool_key(f, "pooling.normalize", false);
    maas_file_close(f);
    write_text(sub, "config.json", "{\"pooling_mode_mean_sqrt_len_tokens\": true}");
    assert_int_equal(convert_dir(dir, out, MAAS_DTYPE_F32, NULL), MAAS_ERR_UNSUPPORTED);
    test_assert_error_mentions("pooling_mode_mean_sqrt_len_tokens");
    write_text(dir, "modules.json",
               "[{\"path\": \"2_Dense\", \"type\": \"sentence_transformers.models.Dense\"}]");
    assert_int_equal(convert_dir(dir, out, MAAS_DTYPE_F32, NULL), MAAS_ERR_UNSUPPORTED);
    test_assert_error_mentions("Dense");
    checkpoint_free(ck);
    free(ck);
}

/* ---- unsupported and broken checkpoints ---------------------------------- */

/* Replaces the first `from` in dir/name with `to`. */
static void replace_in_file(const char *dir, const char *name, const char *from, const char *to)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    char *at = strstr(text, from);
    if (!at)
        fail_msg("%s does not contain \"%s\"", path, from);
    static char edited[1 << 16];
    snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    write_text(dir, name, edited);
}

/* Builds a BERT folder, replaces `from` with `to` in file `name`, and
 * checks the conversion fails with `want` and a message naming `mention`. */
static void expect_bert_failure(const char *case_name, const char *name, const char *from,
                                const char *to, maas_status want, const char *mention)
{
    char dir[128], out[256];
    new_dir(dir, sizeof dir, case_name);
    bert_options o = {.prefix = "", .dtype = "F32", .pooler = true};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_bert(ck, &o);
    write_checkpoint(ck, dir, false);
    write_bert_files(dir, "BertModel");
    if (from[0])
        replace_in_file(dir, name, from, to);
    else
        write_text(dir, name, to);

    snprintf(out, sizeof out, "%s/%s.maas", tmp_dir, case_name);
    maas_status s = convert_dir(dir, out, MAAS_DTYPE_F32, NULL);
    if (s != want)
        fail_msg("%s: got %s, expected %s: %s", case_name, maas_status_name(s),
                 maas_status_name(want), maas_last_error());
    test_assert_error_mentions(mention);
    struct stat st;
    assert_int_equal(stat(out, &st), -1);
    checkpoint_free(ck);
    free(ck);
}

static void expect_bert_failures(void)
{
    expect_bert_failure("bert-act", "config.json", "\"hidden_act\": \"gelu\"",
                        "\"hidden_act\": \"gelu_new\"", MAAS_ERR_UNSUPPORTED, "hidden_act");
    expect_bert_failure("bert-eps", "config.json", "\"layer_norm_eps\": 1e-12",
                        "\"layer_norm_eps\": 0", MAAS_ERR_BAD_FORMAT, "layer_norm_eps");
    expect_bert_failure("bert-heads", "config.json", "\"num_attention_heads\": 2",
                        "\"num_attention_heads\": 4", MAAS_ERR_BAD_FORMAT,
                        "num_attention_heads 4");
    expect_bert_failure("bert-pad", "config.json", "\"pad_token_id\": 0",
                        "\"pad_token_id\": 12", MAAS_ERR_BAD_FORMAT, "pad_token_id 12");
    expect_bert_failure("bert-layers", "config.json", "\"num_hidden_layers\": 2",
                        "\"num_hidden_layers\": 1", MAAS_ERR_SHAPE_MISMATCH,
                        "'encoder.layer.1.");
    expect_bert_failure("bert-empty-vocab", "vocab.txt", "", "", MAAS_ERR_BAD_FORMAT,
                        "vocab.txt has no tokens");
    expect_bert_failure("bert-no-unk", "vocab.txt", "[UNK]\n", "[UNKNOWN]\n",
                        MAAS_ERR_BAD_FORMAT, "\"[UNK]\"");
}

/* Builds a GPT-2 folder, applies `edit`, and checks the conversion fails
 * with `want` and a message naming `mention`, leaving no output file. */
static void expect_gpt2_failure(const char *name, void (*edit)(checkpoint *, const char *),
                                maas_status want, const char *mention)
{
    char dir[128], out[256];
    new_dir(dir, sizeof dir, name);
    gpt2_options o = {.prefix = "", .dtype = "F32", .tied = true};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_gpt2(ck, &o);
    write_gpt2_config(dir, &o);
    write_gpt2_tokenizer_files(dir);
    edit(ck, dir);
    write_checkpoint(ck, dir, false);

    snprintf(out, sizeof out, "%s/%s.maas", tmp_dir, name);
    maas_status s = convert_dir(dir, out, MAAS_DTYPE_F32, NULL);
    if (s != want)
        fail_msg("%s: got %s, expected %s: %s", name, maas_status_name(s),
                 maas_status_name(want), maas_last_error());
    test_assert_error_mentions(mention);
    struct stat st;
    assert_int_equal(stat(out, &st), -1);
    checkpoint_free(ck);
    free(ck);
}

static void drop_fc_bias(checkpoint *ck, const char *dir)
{
    (void)dir;
    remove_tensor(ck, "h.1.mlp.c_fc.bias");
}

static void wrong_wpe_shape(checkpoint *ck, const char *dir)
{
    (void)dir;
    remove_tensor(ck, "wpe.weight");
    add_float(ck, "wpe.weight", "wpe.weight", "F32", 2, (int64_t[]){G_POS + 1, G_EMBD}, false);
}

static void int_weight(checkpoint *ck, const char *dir)
{
    (void)dir;
    remove_tensor(ck, "ln_f.bias");
    add_raw(ck, "ln_f.bias", "I32", 1, (int64_t[]){G_EMBD}, 4);
}

static void extra_head(checkpoint *ck, const char *dir)
{
    (void)dir;
    add_float(ck, "multiple_choice_head.summary.weight", "", "F32", 2,
              (int64_t[]){1, G_EMBD}, false);
}

static void both_prefixes(checkpoint *ck, const char *dir)
{
    (void)dir;
    add_float(ck, "transformer.ln_f.bias", "", "F32", 1, (int64_t[]){G_EMBD}, false);
}

static void llama_config(checkpoint *ck, const char *dir)
{
    (void)ck;
    write_text(dir, "config.json", "{\"model_type\": \"llama\"}");
}

static void double_heads_class(checkpoint *ck, const char *dir)
{
    (void)ck;
    write_text(dir, "config.json", "{\"model_type\": \"gpt2\", "
                                   "\"architectures\": [\"GPT2DoubleHeadsModel\"]}");
}

static void config_without_n_head(checkpoint *ck, const char *dir)
{
    (void)ck;
    write_text(dir, "config.json",
               "{\"activation_function\": \"gelu_new\", \"layer_norm_epsilon\": 1e-05,"
               " \"model_type\": \"gpt2\", \"n_embd\": 6, \"n_layer\": 2,"
               " \"n_positions\": 5, \"vocab_size\": 9}");
}

static void inverse_layer_scaling(checkpoint *ck, const char *dir)
{
    (void)ck;
    write_text(dir, "config.json",
               "{\"activation_function\": \"gelu_new\", \"layer_norm_epsilon\": 1e-05,"
               " \"model_type\": \"gpt2\", \"n_embd\": 6, \"n_head\": 2, \"n_layer\": 2,"
               " \"n_positions\": 5, \"vocab_size\": 9,"
               " \"scale_attn_by_inverse_layer_idx\": true}");
}

static void no_tokenizer(checkpoint *ck, const char *dir)
{
    (void)ck;
    char path[512];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    assert_int_equal(remove(path), 0);
}

static void bad_merges(checkpoint *ck, const char *dir)
{
    (void)ck;
    write_text(dir, "merges.txt", "#version: 0.2\na b\nabc\n");
}

static void vocab_with_gap(checkpoint *ck, const char *dir)
{
    (void)ck;
    write_text(dir, "vocab.json", "{\"a\": 0, \"b\": 5}");
}

static void bad_config_json(checkpoint *ck, const char *dir)
{
    (void)ck;
    write_text(dir, "config.json", "{\"model_type\": \"gpt2\",");
}

#define CONFIG_EDIT(fn, from, to)                                \
    static void fn(checkpoint *ck, const char *dir)              \
    {                                                            \
        (void)ck;                                                \
        replace_in_file(dir, "config.json", from, to);           \
    }

CONFIG_EDIT(zero_epsilon, "\"layer_norm_epsilon\": 1e-05", "\"layer_norm_epsilon\": 0")
CONFIG_EDIT(negative_epsilon, "\"layer_norm_epsilon\": 1e-05", "\"layer_norm_epsilon\": -1e-05")
CONFIG_EDIT(huge_epsilon, "\"layer_norm_epsilon\": 1e-05", "\"layer_norm_epsilon\": 1e300")
CONFIG_EDIT(swish_activation, "\"gelu_new\"", "\"swish\"")
CONFIG_EDIT(heads_not_dividing, "\"n_head\": 2", "\"n_head\": 4")
CONFIG_EDIT(eos_past_vocab, "\"eos_token_id\": 259", "\"eos_token_id\": 260")
CONFIG_EDIT(bos_past_vocab, "\"bos_token_id\": 259", "\"bos_token_id\": 100000")
CONFIG_EDIT(fewer_layers, "\"n_layer\": 2", "\"n_layer\": 1")

static void merge_of_unknown_tokens(checkpoint *ck, const char *dir)
{
    (void)ck;
    write_text(dir, "merges.txt", "#version: 0.2\na b\nx y\n");
}

/* vocab.json with byte 'A' (0x41) renamed, so one byte has no token. */
static void vocab_without_byte(checkpoint *ck, const char *dir)
{
    (void)ck;
    replace_in_file(dir, "vocab.json", "\"A\":", "\"AA\":");
}

static void unsupported_checkpoints(void **state)
{
    (void)state;
    expect_gpt2_failure("missing", drop_fc_bias, MAAS_ERR_MISSING_TENSOR, "'h.1.mlp.c_fc.bias'");
    expect_gpt2_failure("shape", wrong_wpe_shape, MAAS_ERR_SHAPE_MISMATCH, "wpe.weight");
    expect_gpt2_failure("int", int_weight, MAAS_ERR_UNSUPPORTED, "I32");
    expect_gpt2_failure("extra", extra_head, MAAS_ERR_UNSUPPORTED, "multiple_choice_head");
    expect_gpt2_failure("prefixes", both_prefixes, MAAS_ERR_BAD_FORMAT, "transformer.ln_f.bias");
    expect_gpt2_failure("llama", llama_config, MAAS_ERR_UNSUPPORTED, "llama");
    expect_gpt2_failure("class", double_heads_class, MAAS_ERR_UNSUPPORTED, "GPT2DoubleHeadsModel");
    expect_gpt2_failure("key", config_without_n_head, MAAS_ERR_NOT_FOUND, "n_head");
    expect_gpt2_failure("scaling", inverse_layer_scaling, MAAS_ERR_UNSUPPORTED,
                        "scale_attn_by_inverse_layer_idx");
    expect_gpt2_failure("tokenizer", no_tokenizer, MAAS_ERR_NOT_FOUND, "merges.txt");
    expect_gpt2_failure("merges", bad_merges, MAAS_ERR_BAD_FORMAT, "line 3");
    expect_gpt2_failure("gap", vocab_with_gap, MAAS_ERR_BAD_FORMAT, "\"b\"");
    expect_gpt2_failure("json", bad_config_json, MAAS_ERR_BAD_JSON, "config.json");
    expect_gpt2_failure("eps-zero", zero_epsilon, MAAS_ERR_BAD_FORMAT, "layer_norm_epsilon");
    expect_gpt2_failure("eps-negative", negative_epsilon, MAAS_ERR_BAD_FORMAT,
                        "layer_norm_epsilon");
    expect_gpt2_failure("eps-huge", huge_epsilon, MAAS_ERR_BAD_FORMAT, "layer_norm_epsilon");
    expect_gpt2_failure("swish", swish_activation, MAAS_ERR_UNSUPPORTED, "activation_function");
    expect_gpt2_failure("heads", heads_not_dividing, MAAS_ERR_BAD_FORMAT, "n_head 4");
    expect_gpt2_failure("eos-id", eos_past_vocab, MAAS_ERR_BAD_FORMAT, "eos_token_id 260");
    expect_gpt2_failure("bos-id", bos_past_vocab, MAAS_ERR_BAD_FORMAT, "bos_token_id 100000");
    expect_gpt2_failure("layers", fewer_layers, MAAS_ERR_SHAPE_MISMATCH, "'h.1.ln_1.weight'");
    expect_gpt2_failure("merge-tokens", merge_of_unknown_tokens, MAAS_ERR_BAD_FORMAT,
                        "merges.txt line 3: merge \"x y\"");
    expect_gpt2_failure("byte-token", vocab_without_byte, MAAS_ERR_BAD_FORMAT, "byte 0x41");
    expect_bert_failures();

    maas_convert_options opt = {.dtype = MAAS_DTYPE_BF16};
    assert_int_equal(maas_convert(tmp_dir, "/tmp/x.maas", &opt, NULL), MAAS_ERR_INVALID_ARGUMENT);
    assert_int_equal(maas_convert("/nonexistent-dir", "/tmp/x.maas", NULL, NULL),
                     MAAS_ERR_NOT_FOUND);
    test_assert_error_mentions("config.json");
}

/* Replaces dir/name with a FIFO that has no writer, then checks that the
 * conversion fails at once naming it.  The alarm ends the test program if
 * an open blocks. */
static void expect_fifo_rejected(const char *dir, const char *name)
{
    char path[512], out[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(out, sizeof out, "%s/fifo.maas", tmp_dir);
    char *saved = malloc(strlen(path) + 8);
    snprintf(saved, strlen(path) + 8, "%s.saved", path);
    assert_int_equal(rename(path, saved), 0);
    assert_int_equal(mkfifo(path, 0600), 0);

    alarm(10);
    maas_status s = convert_dir(dir, out, MAAS_DTYPE_F32, NULL);
    alarm(0);
    if (s != MAAS_ERR_IO)
        fail_msg("%s as a FIFO: got %s, expected IO: %s", name, maas_status_name(s),
                 maas_last_error());
    test_assert_error_mentions(name);
    test_assert_error_mentions("not a regular file");

    assert_int_equal(remove(path), 0);
    assert_int_equal(rename(saved, path), 0);
    free(saved);
}

static void fifo_inputs_rejected(void **state)
{
    (void)state;
    char dir[128];
    new_dir(dir, sizeof dir, "fifo");
    gpt2_options o = {.prefix = "", .dtype = "F32", .tied = true};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_gpt2(ck, &o);
    write_gpt2_config(dir, &o);
    write_gpt2_tokenizer_files(dir);
    write_checkpoint(ck, dir, false);

    expect_fifo_rejected(dir, "config.json");
    expect_fifo_rejected(dir, "model.safetensors");
    expect_fifo_rejected(dir, "merges.txt");
    expect_fifo_rejected(dir, "tokenizer_config.json");
    checkpoint_free(ck);
    free(ck);
}

/* Checks that converting `dir` to `out` fails with
 * MAAS_ERR_INVALID_ARGUMENT, naming `input` and leaving it unchanged. */
static void expect_output_is_input(const char *dir, const char *out, const char *input)
{
    struct stat before, after;
    assert_int_equal(stat(input, &before), 0);
    maas_status s = convert_dir(dir, out, MAAS_DTYPE_F32, NULL);
    if (s != MAAS_ERR_INVALID_ARGUMENT)
        fail_msg("output %s: got %s, expected INVALID_ARGUMENT: %s", out,
                 maas_status_name(s), maas_last_error());
    test_assert_error_mentions(input);
    assert_int_equal(stat(input, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_ino, before.st_ino);
}

static void output_over_input_rejected(void **state)
{
    (void)state;
    char dir[128], path[512], link_path[512];
    new_dir(dir, sizeof dir, "self-overwrite");
    gpt2_options o = {.prefix = "", .dtype = "F32", .tied = true};
    checkpoint *ck = calloc(1, sizeof *ck);
    build_gpt2(ck, &o);
    write_gpt2_config(dir, &o);
    write_gpt2_tokenizer_files(dir);
    write_checkpoint(ck, dir, false);

    const char *inputs[] = {"model.safetensors", "config.json", "vocab.json", "merges.txt",
                            "tokenizer_config.json"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, inputs[i]);
        expect_output_is_input(dir, path, path);
    }

    /* Another name for the same file (a hard link) is caught by its inode. */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(link_path, sizeof link_path, "%s/linked.maas", tmp_dir);
    assert_int_equal(link(path, link_path), 0);
    expect_output_is_input(dir, link_path, path);
    checkpoint_free(ck);
    free(ck);
}

/* ---- committed fixtures -------------------------------------------------- */

/* The .maas name of a checkpoint tensor by the layout rules, or NULL when
 * the converter drops it; *transpose is set for GPT-2 Conv1D weights. */
static const char *fixture_name(const char *arch, const char *src, char *buf, size_t size,
                                bool *transpose)
{
    *transpose = false;
    const char *prefix = strcmp(arch, "gpt2") == 0 ? "transformer." : "bert.";
    if (strncmp(src, prefix, strlen(prefix)) == 0)
        src += strlen(prefix);
    snprintf(buf, size, "%s", src);
    size_t n = strlen(buf);
    if (strcmp(arch, "gpt2") == 0) {
        const char *conv1d[] = {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                                "mlp.c_proj.weight"};
        for (int i = 0; i < 4; i++)
            if (n > strlen(conv1d[i]) && strcmp(buf + n - strlen(conv1d[i]), conv1d[i]) == 0)
                *transpose = true;
        if ((n > 10 && strcmp(buf + n - 10, ".attn.bias") == 0) ||
            (n > 17 && strcmp(buf + n - 17, ".attn.masked_bias") == 0))
            return NULL;
    } else {
        if (strcmp(buf, "embeddings.position_ids") == 0 ||
            strcmp(buf, "embeddings.token_type_ids") == 0)
            return NULL;
        if (n > 6 && strcmp(buf + n - 6, ".gamma") == 0)
            strcpy(buf + n - 6, ".weight");
        else if (n > 5 && strcmp(buf + n - 5, ".beta") == 0)
            strcpy(buf + n - 5, ".bias");
    }
    return buf;
}

/* Converts one fixture folder and compares it with the checkpoint read
 * here through cJSON, not through libmaas's safetensors reader. */
static void check_fixture(const char *dir, maas_dtype dtype)
{
    char path[512], out[512];
    snprintf(out, sizeof out, "%s/fixture.maas", tmp_dir);
    if (convert_dir(dir, out, dtype, NULL) != MAAS_OK)
        fail_msg("%s: %s", dir, maas_last_error());
    maas_file *f;
    assert_int_equal(maas_file_open(out, &f), MAAS_OK);
    const char *arch = maas_file_arch(f);

    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = test_read_file(path, NULL);
    cJSON *config = cJSON_Parse(text);
    free(text);
    assert_non_null(config);
    const char *gpt2_u32[] = {"n_layer", "n_head", "n_embd", "n_positions", "vocab_size"};
    const char *bert_u32[] = {"num_hidden_layers", "num_attention_heads", "hidden_size",
                              "intermediate_size", "max_position_embeddings", "vocab_size",
                              "type_vocab_size"};
    bool gpt2 = strcmp(arch, "gpt2") == 0;
    const char **keys = gpt2 ? gpt2_u32 : bert_u32;
    int n_keys = gpt2 ? 5 : 7;
    for (int i = 0; i < n_keys; i++)
        assert_u32_key(f, keys[i],
                       (uint32_t)cJSON_GetObjectItem(config, keys[i])->valuedouble);
    float eps;
    const char *eps_key = gpt2 ? "layer_norm_epsilon" : "layer_norm_eps";
    assert_int_equal(maas_file_get_f32(f, eps_key, &eps), MAAS_OK);
    assert_true(eps == (float)cJSON_GetObjectItem(config, eps_key)->valuedouble);
    const char *act_key = gpt2 ? "activation_function" : "hidden_act";
    assert_str_key(f, act_key, cJSON_GetObjectItem(config, act_key)->valuestring);
    bool tied = !gpt2 || !cJSON_IsFalse(cJSON_GetObjectItem(config, "tie_word_embeddings"));
    cJSON_Delete(config);

    /* Every checkpoint tensor: its .maas tensor equals the source. */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t len;
    uint8_t *bytes = (uint8_t *)test_read_file(path, &len);
    uint64_t header_len;
    memcpy(&header_len, bytes, 8);
    cJSON *header = cJSON_ParseWithLength((const char *)bytes + 8, header_len);
    assert_non_null(header);
    checkpoint *ck = calloc(1, sizeof *ck);
    for (const cJSON *e = header->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0)
            continue;
        char name[256];
        bool transpose;
        const char *maas_name = fixture_name(arch, e->string, name, sizeof name, &transpose);
        if (!maas_name || (gpt2 && tied && strcmp(maas_name, "lm_head.weight") == 0))
            continue;
        src_tensor *t = &ck->t[ck->n++];
        memset(t, 0, sizeof *t);
        snprintf(t->maas_name, sizeof t->maas_name, "%s", maas_name);
        t->dtype = cJSON_GetObjectItem(e, "dtype")->valuestring;
        const cJSON *shape = cJSON_GetObjectItem(e, "shape");
        for (const cJSON *d = shape->child; d; d = d->next)
            t->shape[t->n_dims++] = (int64_t)d->valuedouble;
        t->transpose = transpose;
        const cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
        size_t begin = (size_t)off->child->valuedouble, end = (size_t)off->child->next->valuedouble;
        assert_true(8 + header_len + end <= len);
        t->bytes = bytes + 8 + header_len + begin;
        t->nbytes = end - begin;
    }
    check_tensors(ck, f, dtype);
    free(ck);
    cJSON_Delete(header);
    free(bytes);
    maas_file_close(f);
}

static void committed_fixtures(void **state)
{
    (void)state;
    DIR *d = opendir("tests/fixtures");
    int checked = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char dir[512], path[600];
        snprintf(dir, sizeof dir, "tests/fixtures/%s", e->d_name);
        /* Hugging Face checkpoints only: a folder with config.json and
         * model.safetensors (the CNN and RNN fixtures have no config.json). */
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        struct stat st;
        if (e->d_name[0] == '.' || stat(path, &st) != 0)
            continue;
        snprintf(path, sizeof path, "%s/config.json", dir);
        if (stat(path, &st) != 0)
            continue;
        check_fixture(dir, MAAS_DTYPE_F32);
        check_fixture(dir, MAAS_DTYPE_F16);
        checked++;
    }
    if (d)
        closedir(d);
    if (checked == 0)
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpt2_prefixed_tied),
        cmocka_unit_test(gpt2_plain_untied_f16_source),
        cmocka_unit_test(gpt2_sharded_matches_single),
        cmocka_unit_test(bert_qa_legacy_names),
        cmocka_unit_test(bert_sentence_transformers),
        cmocka_unit_test(unsupported_checkpoints),
        cmocka_unit_test(fifo_inputs_rejected),
        cmocka_unit_test(output_over_input_rejected),
        cmocka_unit_test(committed_fixtures),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
