/* Tokenizers against Hugging Face: golden ids and offsets for 1,040 strings
 * in tests/fixtures/golden/tokenizers.json, written by
 * tools/gen_tokenizer_golden.py with transformers' fast tokenizers.  Also
 * properties that need no reference: GPT-2 round trips on any bytes, BERT
 * offsets that cut each token out of the original text, invalid UTF-8,
 * long words, streaming decode, .maas files, the CLI and threads. */
#include <pthread.h>
#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <utf8proc.h>

#include "maas.h"
#include "testutil.h"

/* Counts the allocations of the test's own thread, so a test can check
 * that a call allocates nothing.  The definitions replace the C library's
 * malloc, calloc and realloc for the whole program and forward to glibc's
 * own entry points.  Sanitizers replace malloc themselves, so these
 * builds skip the count. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNT_ALLOCATIONS 0
#else
#define COUNT_ALLOCATIONS 1
static _Thread_local bool counting_allocations;
static _Thread_local size_t n_allocations;

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);

void *malloc(size_t size)
{
    n_allocations += counting_allocations;
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    n_allocations += counting_allocations;
    return __libc_calloc(count, size);
}

void *realloc(void *ptr, size_t size)
{
    n_allocations += counting_allocations;
    return __libc_realloc(ptr, size);
}
#endif

#define GPT2_VOCAB "tests/fixtures/tokenizers/gpt2/vocab.json"
#define GPT2_MERGES "tests/fixtures/tokenizers/gpt2/merges.txt"
#define BERT_VOCAB "tests/fixtures/tokenizers/bert-base-uncased/vocab.txt"
#define GOLDEN "tests/fixtures/golden/tokenizers.json"

static maas_tokenizer *gpt2, *bert, *cased;
static cJSON *golden;

static int setup(void **state)
{
    (void)state;
    if (maas_tokenizer_load_bpe(GPT2_VOCAB, GPT2_MERGES, &gpt2) != MAAS_OK ||
        maas_tokenizer_load_wordpiece(BERT_VOCAB, true, &bert) != MAAS_OK ||
        maas_tokenizer_load_wordpiece(BERT_VOCAB, false, &cased) != MAAS_OK) {
        fprintf(stderr, "cannot load the tokenizers: %s\n", maas_last_error());
        return -1;
    }
    char *text = test_read_file(GOLDEN, NULL);
    golden = cJSON_Parse(text);
    free(text);
    return golden ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    maas_tokenizer_free(gpt2);
    maas_tokenizer_free(bert);
    maas_tokenizer_free(cased);
    cJSON_Delete(golden);
    return 0;
}

/* Returns a case's text and byte length.  Texts with NUL bytes also come
 * as hex ("text_hex"), decoded here into a buffer that lives until the
 * next call. */
static const char *case_text(const cJSON *c, size_t *len)
{
    static _Thread_local char decoded[512];
    const cJSON *hex = cJSON_GetObjectItem(c, "text_hex");
    if (!hex) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        *len = strlen(text);
        return text;
    }
    size_t n = strlen(hex->valuestring) / 2;
    assert_true(n < sizeof decoded);
    for (size_t i = 0; i < n; i++) {
        unsigned byte;
        sscanf(hex->valuestring + 2 * i, "%2x", &byte);
        decoded[i] = (char)byte;
    }
    *len = n;
    return decoded;
}

/* Prints a string with escapes, for failure messages. */
static const char *escaped(const char *s, size_t len)
{
    static char buf[256];
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < sizeof buf; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}

/* Fails with the first differing position when ids differ from the array. */
static void assert_ids(const char *what, const char *text, size_t len, const maas_encoding *enc,
                       const cJSON *want)
{
    int n = cJSON_GetArraySize(want);
    int i = 0;
    for (const cJSON *w = want ? want->child : NULL; w; w = w->next, i++) {
        if (i >= enc->n || enc->ids[i] != w->valueint)
            fail_msg("%s of \"%s\": token %d is %d, expected %d (%d tokens, expected %d)", what,
                     escaped(text, len), i, i < enc->n ? enc->ids[i] : -1, w->valueint, enc->n, n);
    }
    if (enc->n != n)
        fail_msg("%s of \"%s\": %d tokens, expected %d", what, escaped(text, len), enc->n, n);
}

/* Checks char offsets against Hugging Face's (which give (0, 0) for the
 * special tokens that libmaas marks with -1), and byte offsets against the
 * char offsets through an independent char -> byte table. */
static void assert_offsets(const char *what, const char *text, size_t len, const maas_encoding *enc,
                           const cJSON *want)
{
    int32_t *byte_of_char = malloc((len + 2) * sizeof *byte_of_char);
    assert_non_null(byte_of_char);
    int32_t chars = 0;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
        assert_true(n > 0);
        byte_of_char[chars++] = (int32_t)i;
        i += (size_t)n;
    }
    byte_of_char[chars] = (int32_t)len;

    assert_int_equal(cJSON_GetArraySize(want), 2 * enc->n);
    const cJSON *w = want->child;
    for (int i = 0; i < enc->n; i++, w = w->next->next) {
        int start = w->valueint, end = w->next->valueint;
        if (enc->sequence_ids[i] < 0) {
            assert_int_equal(start, 0);
            assert_int_equal(end, 0);
            assert_int_equal(enc->char_start[i], -1);
            continue;
        }
        if (enc->char_start[i] != start || enc->char_end[i] != end)
            fail_msg("%s of \"%s\": token %d spans chars [%d, %d), expected [%d, %d)", what,
                     escaped(text, len), i, enc->char_start[i], enc->char_end[i], start, end);
        assert_int_equal(enc->byte_start[i], byte_of_char[start]);
        assert_int_equal(enc->byte_end[i], byte_of_char[end]);
    }
    free(byte_of_char);
}

static void golden_gpt2_ids(void **state)
{
    (void)state;
    int count = 0;
    for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next, count++) {
        size_t len;
        const char *text = case_text(c, &len);
        maas_encoding enc = {0};
        maas_encode_options parse = {.add_special = true, .parse_special = true};
        assert_int_equal(maas_tokenizer_encode(gpt2, text, len, &parse, &enc), MAAS_OK);
        assert_ids("GPT-2 ids", text, len, &enc, cJSON_GetObjectItem(c, "gpt2"));
        maas_encoding_free(&enc);

        const cJSON *plain = cJSON_GetObjectItem(c, "gpt2_plain");
        assert_int_equal(maas_tokenizer_encode(gpt2, text, len, NULL, &enc), MAAS_OK);
        assert_ids("GPT-2 ids without special parsing", text, len, &enc,
                   plain ? plain : cJSON_GetObjectItem(c, "gpt2"));
        maas_encoding_free(&enc);
    }
    assert_true(count >= 1000);
}

static void golden_bert_ids_offsets(void **state)
{
    (void)state;
    for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next) {
        size_t len;
        const char *text = case_text(c, &len);
        maas_encoding enc = {0};
        maas_encode_options parse = {.add_special = true, .parse_special = true};
        assert_int_equal(maas_tokenizer_encode(bert, text, len, &parse, &enc), MAAS_OK);
        assert_ids("BERT ids", text, len, &enc, cJSON_GetObjectItem(c, "bert"));
        assert_offsets("BERT offsets", text, len, &enc, cJSON_GetObjectItem(c, "bert_offsets"));
        maas_encoding_free(&enc);

        const cJSON *plain = cJSON_GetObjectItem(c, "bert_plain");
        maas_encode_options wrap = {.add_special = true};
        assert_int_equal(maas_tokenizer_encode(bert, text, len, &wrap, &enc), MAAS_OK);
        assert_ids("BERT ids without special parsing", text, len, &enc,
                   plain ? plain : cJSON_GetObjectItem(c, "bert"));
        maas_encoding_free(&enc);
    }
}

static void golden_cased_ids_offsets(void **state)
{
    (void)state;
    for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next) {
        size_t len;
        const char *text = case_text(c, &len);
        maas_encoding enc = {0};
        maas_encode_options parse = {.add_special = true, .parse_special = true};
        assert_int_equal(maas_tokenizer_encode(cased, text, len, &parse, &enc), MAAS_OK);
        assert_ids("cased WordPiece ids", text, len, &enc, cJSON_GetObjectItem(c, "cased"));
        const cJSON *offsets = cJSON_GetObjectItem(c, "cased_offsets");
        if (offsets)
            assert_offsets("cased WordPiece offsets", text, len, &enc, offsets);
        maas_encoding_free(&enc);
    }
}

static void golden_bert_decode(void **state)
{
    (void)state;
    int checked = 0;
    for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next) {
        const cJSON *want = cJSON_GetObjectItem(c, "bert_decoded");
        if (!want)
            continue;
        const cJSON *ids_json = cJSON_GetObjectItem(c, "bert");
        int n = cJSON_GetArraySize(ids_json), i = 0;
        int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
        for (const cJSON *x = ids_json->child; x; x = x->next)
            ids[i++] = x->valueint;
        char *text;
        size_t len;
        assert_int_equal(maas_tokenizer_decode(bert, ids, n, true, &text, &len), MAAS_OK);
        if (strcmp(text, want->valuestring) != 0)
            fail_msg("decode gave \"%s\", expected \"%s\"", text, want->valuestring);
        assert_int_equal(len, strlen(want->valuestring));
        free(text);
        free(ids);
        checked++;
    }
    assert_true(checked >= 200);
}

static maas_truncation strategy_of(const char *name)
{
    if (strcmp(name, "longest_first") == 0)
        return MAAS_TRUNCATE_LONGEST_FIRST;
    if (strcmp(name, "only_second") == 0)
        return MAAS_TRUNCATE_ONLY_SECOND;
    if (strcmp(name, "only_first") == 0)
        return MAAS_TRUNCATE_ONLY_FIRST;
    return MAAS_TRUNCATE_NONE;
}

static void golden_bert_pairs(void **state)
{
    (void)state;
    for (const cJSON *p = cJSON_GetObjectItem(golden, "pairs")->child; p; p = p->next) {
        const char *a = cJSON_GetObjectItem(p, "a")->valuestring;
        const char *b = cJSON_GetObjectItem(p, "b")->valuestring;
        maas_pair_options opts = {
            .max_length = cJSON_GetObjectItem(p, "max_length")->valueint,
            .truncation = strategy_of(cJSON_GetObjectItem(p, "truncation")->valuestring),
            .pad_to_max_length = cJSON_IsTrue(cJSON_GetObjectItem(p, "pad")),
        };
        maas_encoding enc = {0};
        maas_status st = maas_tokenizer_encode_pair(bert, a, strlen(a), b, strlen(b), &opts, &enc);
        if (cJSON_GetObjectItem(p, "error")) {
            if (st != MAAS_ERR_CONTEXT_FULL)
                fail_msg("pair \"%s\" / \"%s\" with max_length %d (%s): status %s, expected "
                         "CONTEXT_FULL as Hugging Face raises",
                         a, b, opts.max_length, cJSON_GetObjectItem(p, "truncation")->valuestring,
                         maas_status_name(st));
            continue;
        }
        assert_int_equal(st, MAAS_OK);
        assert_ids("pair ids", a, strlen(a), &enc, cJSON_GetObjectItem(p, "ids"));
        const cJSON *t = cJSON_GetObjectItem(p, "type_ids")->child;
        for (int i = 0; i < enc.n; i++, t = t->next) {
            assert_int_equal(enc.type_ids[i], t->valueint);
            bool pad = enc.ids[i] == maas_tokenizer_special_id(bert, MAAS_SPECIAL_PAD);
            assert_int_equal(enc.attention_mask[i], pad ? 0 : 1);
        }
        maas_encoding_free(&enc);
    }
}

/* Pair encoding parses special-token text only when asked; the type ids
 * and spans of the second sequence restart at its own text. */
static void pair_special_text(void **state)
{
    (void)state;
    const char *a = "is [SEP] here", *b = "yes";
    maas_pair_options opts = {0};
    maas_encoding enc = {0};
    assert_int_equal(maas_tokenizer_encode_pair(bert, a, strlen(a), b, strlen(b), &opts, &enc), MAAS_OK);
    /* [CLS] is [ sep ] here [SEP] yes [SEP] */
    const int32_t plain[] = {101, 2003, 1031, 19802, 1033, 2182, 102, 2748, 102};
    assert_int_equal(enc.n, 9);
    assert_memory_equal(enc.ids, plain, sizeof plain);
    assert_int_equal(enc.type_ids[7], 1);
    assert_int_equal(enc.sequence_ids[7], 1);
    assert_int_equal(enc.byte_start[7], 0);
    assert_int_equal(enc.byte_end[7], 3);
    maas_encoding_free(&enc);

    opts.parse_special = true;
    assert_int_equal(maas_tokenizer_encode_pair(bert, a, strlen(a), b, strlen(b), &opts, &enc), MAAS_OK);
    const int32_t parsed[] = {101, 2003, 102, 2182, 102, 2748, 102};
    assert_int_equal(enc.n, 7);
    assert_memory_equal(enc.ids, parsed, sizeof parsed);
    assert_int_equal(enc.sequence_ids[2], 0);
    assert_int_equal(enc.byte_start[2], 3);
    assert_int_equal(enc.byte_end[2], 8);
    maas_encoding_free(&enc);
}

/* Round trip of one byte string through GPT-2, with the byte spans
 * tiling the input and char spans never going backwards. */
static void check_gpt2_round_trip(const char *text, size_t len)
{
    maas_encoding enc = {0};
    assert_int_equal(maas_tokenizer_encode(gpt2, text, len, NULL, &enc), MAAS_OK);
    int32_t at = 0;
    for (int i = 0; i < enc.n; i++) {
        assert_int_equal(enc.byte_start[i], at);
        assert_true(enc.byte_end[i] > enc.byte_start[i]);
        assert_true(enc.char_end[i] > enc.char_start[i]);
        at = enc.byte_end[i];
    }
    assert_int_equal(at, (int32_t)len);
    char *back;
    size_t back_len;
    assert_int_equal(maas_tokenizer_decode(gpt2, enc.ids, enc.n, false, &back, &back_len), MAAS_OK);
    if (back_len != len || memcmp(back, text, len) != 0)
        fail_msg("decode(encode(\"%s\")) differs (%zu bytes back, %zu in)", escaped(text, len),
                 back_len, len);
    free(back);
    maas_encoding_free(&enc);
}

static void gpt2_round_trip_golden_strings(void **state)
{
    (void)state;
    for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next) {
        size_t len;
        const char *text = case_text(c, &len);
        check_gpt2_round_trip(text, len);
    }
}

static void gpt2_round_trip_random_bytes(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    char buf[200];
    const char *pieces[] = {"a", " ", "\xe6\x88\x91", "\xf0\x9f\x98\x80", "\xc3", "\xe6\x88",
                            "\x80", "\xff", "'s", "\n", "1", "\xed\xa0\x80", "<|endoftext|>"};
    for (int round = 0; round < 3000; round++) {
        size_t len = 0;
        int n = (int)(seed % 40);
        for (int k = 0; k < n; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            if (round % 2 == 0) {
                buf[len++] = (char)(seed >> 56);
            } else {
                const char *p = pieces[(seed >> 40) % (sizeof pieces / sizeof pieces[0])];
                size_t pl = strlen(p);
                memcpy(buf + len, p, pl);
                len += pl;
            }
            if (len > sizeof buf - 16)
                break;
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        check_gpt2_round_trip(buf, len);
    }
}

/* Normalises original text as BERT's uncased tokenizer does, through
 * utf8proc's whole-string NFD (not the library's per-character path):
 * drop controls, private use and U+FFFD, NFD, drop Mn, lowercase. */
static char *reference_normalize(const char *s, size_t len)
{
    utf8proc_uint8_t *nfd = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nfd,
                                      UTF8PROC_DECOMPOSE);
    assert_true(n >= 0);
    char *out = malloc((size_t)n * 2 + 8);
    size_t o = 0;
    for (utf8proc_ssize_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        i += utf8proc_iterate(nfd + i, n - i, &cp);
        utf8proc_category_t cat = utf8proc_category(cp);
        if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_CC ||
            cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO || cp == 0xfffd)
            continue;
        o += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)out + o);
    }
    out[o] = '\0';
    free(nfd);
    return out;
}

/* Tokens cut from one original character (a Hangul syllable splits into
 * jamo pieces) share its span, so tokens with equal spans are compared as
 * one group. */
static void bert_offsets_cut_tokens(void **state)
{
    (void)state;
    int checked = 0;
    int32_t unk = maas_tokenizer_special_id(bert, MAAS_SPECIAL_UNK);
    char joined[4096];
    for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next) {
        size_t len;
        const char *text = case_text(c, &len);
        maas_encoding enc = {0};
        assert_int_equal(maas_tokenizer_encode(bert, text, len, NULL, &enc), MAAS_OK);
        for (int i = 0; i < enc.n;) {
            int end = i + 1;
            while (end < enc.n && enc.byte_start[end] < enc.byte_end[end - 1])
                end++;
            bool has_unk = false;
            size_t o = 0;
            for (int k = i; k < end; k++) {
                const char *token = maas_tokenizer_token_text(bert, enc.ids[k]);
                if (enc.ids[k] == unk)
                    has_unk = true;
                if (strncmp(token, "##", 2) == 0 && strlen(token) > 2)
                    token += 2;
                assert_true(o + strlen(token) < sizeof joined);
                strcpy(joined + o, token);
                o += strlen(token);
            }
            if (!has_unk) {
                char *cut = reference_normalize(text + enc.byte_start[i],
                                                (size_t)(enc.byte_end[end - 1] - enc.byte_start[i]));
                if (strcmp(cut, joined) != 0)
                    fail_msg("tokens %d..%d of \"%s\" are \"%s\" but their span normalises to \"%s\"",
                             i, end - 1, escaped(text, len), joined, cut);
                free(cut);
                checked++;
            }
            i = end;
        }
        maas_encoding_free(&enc);
    }
    assert_true(checked > 5000);
}

static void bert_accent_cjk_spans(void **state)
{
    (void)state;
    const char *text = "Caf\xc3\xa9 \xe6\x88\x91\xe9\x9c\x80zero\xe2\x80\x8bwidth";
    maas_encoding enc = {0};
    assert_int_equal(maas_tokenizer_encode(bert, text, strlen(text), NULL, &enc), MAAS_OK);
    /* "cafe" covers the 5 bytes of "Café", 我 its 3 bytes, and the
     * zero-width space stays inside the span of the word around it. */
    assert_string_equal(maas_tokenizer_token_text(bert, enc.ids[0]), "cafe");
    assert_int_equal(enc.byte_start[0], 0);
    assert_int_equal(enc.byte_end[0], 5);
    assert_int_equal(enc.char_end[0], 4);
    assert_string_equal(maas_tokenizer_token_text(bert, enc.ids[1]), "\xe6\x88\x91");
    assert_int_equal(enc.byte_start[1], 6);
    assert_int_equal(enc.byte_end[1], 9);
    assert_int_equal(enc.char_start[1], 5);
    assert_int_equal(enc.char_end[1], 6);
    int last = enc.n - 1;
    assert_int_equal(enc.byte_end[last], (int32_t)strlen(text));
    maas_encoding_free(&enc);
}

static void invalid_utf8(void **state)
{
    (void)state;
    const char *bad = "abc\xff\xfe def \xe6\x88";
    maas_encoding enc = {0};
    assert_int_equal(maas_tokenizer_encode(bert, bad, strlen(bad), NULL, &enc), MAAS_ERR_INVALID_UTF8);
    assert_non_null(strstr(maas_last_error(), "byte 3"));
    assert_int_equal(enc.n, 0);

    const char *truncated = "ok \xe6\x88";
    assert_int_equal(maas_tokenizer_encode(bert, truncated, strlen(truncated), NULL, &enc),
                     MAAS_ERR_INVALID_UTF8);
    assert_non_null(strstr(maas_last_error(), "byte 3"));

    const char *surrogate = "\xed\xa0\x80";
    assert_int_equal(maas_tokenizer_encode(bert, surrogate, 3, NULL, &enc), MAAS_ERR_INVALID_UTF8);
    const char *overlong = "\xc0\xaf";
    assert_int_equal(maas_tokenizer_encode(bert, overlong, 2, NULL, &enc), MAAS_ERR_INVALID_UTF8);

    /* GPT-2 keeps every byte: the byte-level tokens of 0xff and 0xfe. */
    check_gpt2_round_trip(bad, strlen(bad));
    assert_int_equal(maas_tokenizer_encode(gpt2, "\xff", 1, NULL, &enc), MAAS_OK);
    assert_int_equal(enc.n, 1);
    assert_string_equal(maas_tokenizer_token_text(gpt2, enc.ids[0]), "\xc3\xbf"); /* U+00FF */
    maas_encoding_free(&enc);
}

static void long_words(void **state)
{
    (void)state;
    size_t n = 200000;
    char *word = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        word[i] = (char)('a' + (i * 7 + i / 13) % 26);
    word[n] = '\0';

    /* BERT: one [UNK] spanning the whole word. */
    maas_encoding enc = {0};
    assert_int_equal(maas_tokenizer_encode(bert, word, n, NULL, &enc), MAAS_OK);
    assert_int_equal(enc.n, 1);
    assert_int_equal(enc.ids[0], maas_tokenizer_special_id(bert, MAAS_SPECIAL_UNK));
    assert_int_equal(enc.byte_end[0], (int32_t)n);
    maas_encoding_free(&enc);

    /* 100 characters is still split into pieces, 101 is [UNK]. */
    assert_int_equal(maas_tokenizer_encode(bert, word, 100, NULL, &enc), MAAS_OK);
    assert_true(enc.n > 1);
    maas_encoding_free(&enc);
    assert_int_equal(maas_tokenizer_encode(bert, word, 101, NULL, &enc), MAAS_OK);
    assert_int_equal(enc.n, 1);
    maas_encoding_free(&enc);

    /* GPT-2: a 200,000-byte pre-token round-trips. */
    check_gpt2_round_trip(word, n);
    free(word);
}

/* Streams ids through a decoder; every chunk must be valid UTF-8 and the
 * chunks must add up to the text. */
static void stream_and_compare(const maas_tokenizer *tok, const char *text)
{
    maas_encoding enc = {0};
    assert_int_equal(maas_tokenizer_encode(tok, text, strlen(text), NULL, &enc), MAAS_OK);
    maas_decoder *dec;
    assert_int_equal(maas_decoder_create(tok, &dec), MAAS_OK);
    char all[1024] = "", chunk[64];
    size_t len, total = 0;
    int held_back = 0;
    for (int i = 0; i < enc.n; i++) {
        assert_int_equal(maas_decoder_push(dec, enc.ids[i], chunk, sizeof chunk, &len), MAAS_OK);
        assert_int_equal(strlen(chunk), len);
        utf8proc_int32_t cp;
        for (size_t at = 0; at < len;) {
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)chunk + at,
                                                  (utf8proc_ssize_t)(len - at), &cp);
            if (k <= 0)
                fail_msg("chunk %d of \"%s\" is not complete UTF-8", i, text);
            at += (size_t)k;
        }
        if (len == 0)
            held_back++;
        memcpy(all + total, chunk, len);
        total += len;
    }
    assert_int_equal(maas_decoder_flush(dec, chunk, sizeof chunk, &len), MAAS_OK);
    assert_int_equal(len, 0);
    all[total] = '\0';
    assert_string_equal(all, text);
    if (tok == gpt2)
        assert_true(held_back > 0);
    maas_decoder_free(dec);
    maas_encoding_free(&enc);
}

static void streaming_decode(void **state)
{
    (void)state;
    stream_and_compare(gpt2, "\xe6\x88\x91\xe9\x9c\x80\xe8\xa6\x81\xe6\x9f\xa5\xe8\xaf\xa2"
                             "\xe8\xae\xa2\xe5\x8d\x95\xe7\x8a\xb6\xe6\x80\x81"); /* 我需要查询订单状态 */
    stream_and_compare(gpt2, "ok \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d"
                             "\xf0\x9f\x91\xa7 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd done");
    stream_and_compare(bert, "hello world");

    /* An incomplete character at the end comes out of flush as U+FFFD. */
    maas_decoder *dec;
    assert_int_equal(maas_decoder_create(gpt2, &dec), MAAS_OK);
    maas_encoding enc = {0};
    assert_int_equal(maas_tokenizer_encode(gpt2, "\xe6\x88", 2, NULL, &enc), MAAS_OK);
    char chunk[64];
    size_t len;
    for (int i = 0; i < enc.n; i++) {
        assert_int_equal(maas_decoder_push(dec, enc.ids[i], chunk, sizeof chunk, &len), MAAS_OK);
        assert_int_equal(len, 0);
    }
    assert_int_equal(maas_decoder_flush(dec, chunk, sizeof chunk, &len), MAAS_OK);
    assert_string_equal(chunk, "\xef\xbf\xbd\xef\xbf\xbd");
    maas_encoding_free(&enc);
    maas_decoder_free(dec);

    /* GPT-2's longest token (128 bytes) does not fit in 64 bytes: the push
     * fails without losing state, and a retry with the documented size
     * works. */
    int32_t longest = -1;
    size_t longest_len = 0;
    for (int32_t id = 0; id < maas_tokenizer_vocab_size(gpt2); id++) {
        char *bytes;
        size_t n;
        assert_int_equal(maas_tokenizer_decode(gpt2, &id, 1, false, &bytes, &n), MAAS_OK);
        if (n > longest_len) {
            longest_len = n;
            longest = id;
        }
        free(bytes);
    }
    assert_int_equal(longest_len, 128);
    char big[MAAS_DECODER_BUFFER_SIZE];
    assert_int_equal(maas_decoder_create(gpt2, &dec), MAAS_OK);
    assert_int_equal(maas_decoder_push(dec, longest, chunk, sizeof chunk, &len),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "decodes to 129"));
    assert_int_equal(maas_decoder_push(dec, longest, big, sizeof big, &len), MAAS_OK);
    assert_int_equal(len, 128);
    maas_decoder_free(dec);
}

/* Pushing ids and flushing write into the caller's buffer and allocate
 * nothing, for GPT-2's bytes (with characters split across tokens) and
 * for WordPiece pieces. */
static void streaming_decode_allocates_nothing(void **state)
{
    (void)state;
#if COUNT_ALLOCATIONS
    const struct {
        const maas_tokenizer *tok;
        const char *text;
    } cases[] = {
        {gpt2, "ok \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd done \xe6\x88\x91\xe9\x9c\x80"},
        {bert, "hello world, unbelievable tokenization"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        maas_encoding enc = {0};
        assert_int_equal(maas_tokenizer_encode(cases[c].tok, cases[c].text,
                                               strlen(cases[c].text), NULL, &enc),
                         MAAS_OK);
        maas_decoder *dec;
        assert_int_equal(maas_decoder_create(cases[c].tok, &dec), MAAS_OK);
        char chunk[MAAS_DECODER_BUFFER_SIZE];
        size_t len, total = 0;

        n_allocations = 0;
        counting_allocations = true;
        for (int i = 0; i < enc.n; i++) {
            assert_int_equal(maas_decoder_push(dec, enc.ids[i], chunk, sizeof chunk, &len),
                             MAAS_OK);
            total += len;
        }
        assert_int_equal(maas_decoder_flush(dec, chunk, sizeof chunk, &len), MAAS_OK);
        counting_allocations = false;

        if (n_allocations != 0)
            fail_msg("%zu allocations while decoding %d ids of \"%s\"", n_allocations, enc.n,
                     cases[c].text);
        assert_true(total > 0);
        maas_decoder_free(dec);
        maas_encoding_free(&enc);
    }
#else
    skip();
#endif
}

static void special_ids(void **state)
{
    (void)state;
    assert_int_equal(maas_tokenizer_get_kind(gpt2), MAAS_TOKENIZER_BPE);
    assert_int_equal(maas_tokenizer_vocab_size(gpt2), 50257);
    assert_int_equal(maas_tokenizer_special_id(gpt2, MAAS_SPECIAL_EOS), 50256);
    assert_int_equal(maas_tokenizer_special_id(gpt2, MAAS_SPECIAL_CLS), -1);
    assert_int_equal(maas_tokenizer_token_id(gpt2, "\xc4\xa0the"), 262); /* "Ġthe" */
    assert_int_equal(maas_tokenizer_get_kind(bert), MAAS_TOKENIZER_WORDPIECE);
    assert_int_equal(maas_tokenizer_vocab_size(bert), 30522);
    assert_int_equal(maas_tokenizer_special_id(bert, MAAS_SPECIAL_PAD), 0);
    assert_int_equal(maas_tokenizer_special_id(bert, MAAS_SPECIAL_UNK), 100);
    assert_int_equal(maas_tokenizer_special_id(bert, MAAS_SPECIAL_CLS), 101);
    assert_int_equal(maas_tokenizer_special_id(bert, MAAS_SPECIAL_SEP), 102);
    assert_int_equal(maas_tokenizer_special_id(bert, MAAS_SPECIAL_MASK), 103);
    assert_int_equal(maas_tokenizer_special_id(bert, MAAS_SPECIAL_EOS), -1);
    assert_null(maas_tokenizer_token_text(bert, 30522));
    assert_int_equal(maas_tokenizer_token_id(bert, "no-such-token"), -1);
}

static void errors_named(void **state)
{
    (void)state;
    maas_tokenizer *tok = NULL;
    assert_int_equal(maas_tokenizer_load_wordpiece("tests/fixtures/no-such-vocab.txt", true, &tok),
                     MAAS_ERR_IO);
    assert_non_null(strstr(maas_last_error(), "no-such-vocab.txt"));
    assert_int_equal(maas_tokenizer_load_bpe(BERT_VOCAB, GPT2_MERGES, &tok), MAAS_ERR_BAD_JSON);
    assert_null(tok);
    int32_t bad = 50257;
    char *text;
    assert_int_equal(maas_tokenizer_decode(gpt2, &bad, 1, false, &text, NULL),
                     MAAS_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(maas_last_error(), "50257"));
}

/* Writes a .maas file holding `tok`'s vocabulary (and GPT-2's merges)
 * under the "tokenizer." keys, as the converter does. */
static void write_tokenizer_file(const maas_tokenizer *tok, const char *path, bool lower)
{
    bool bpe = maas_tokenizer_get_kind(tok) == MAAS_TOKENIZER_BPE;
    maas_writer *w;
    assert_int_equal(maas_writer_create(bpe ? "gpt2" : "bert", &w), MAAS_OK);
    int32_t n = maas_tokenizer_vocab_size(tok);
    const char **tokens = malloc((size_t)n * sizeof *tokens);
    for (int32_t i = 0; i < n; i++)
        tokens[i] = maas_tokenizer_token_text(tok, i);
    assert_int_equal(maas_writer_set_str(w, "tokenizer.model", bpe ? "gpt2-bpe" : "wordpiece"), MAAS_OK);
    assert_int_equal(maas_writer_set_str_array(w, "tokenizer.tokens", tokens, NULL, (uint32_t)n), MAAS_OK);
    char *merges_text = NULL;
    const char **merges = NULL;
    if (bpe) {
        size_t len;
        merges_text = test_read_file(GPT2_MERGES, &len);
        merges = malloc(60000 * sizeof *merges);
        uint32_t count = 0;
        for (char *line = strtok(merges_text, "\n"); line; line = strtok(NULL, "\n"))
            if (strncmp(line, "#version", 8) != 0)
                merges[count++] = line;
        assert_int_equal(maas_writer_set_str_array(w, "tokenizer.merges", merges, NULL, count), MAAS_OK);
        assert_int_equal(maas_writer_set_i32(w, "tokenizer.eos_id", 50256), MAAS_OK);
    } else {
        assert_int_equal(maas_writer_set_bool(w, "tokenizer.do_lower_case", lower), MAAS_OK);
        assert_int_equal(maas_writer_set_i32(w, "tokenizer.unk_id", 100), MAAS_OK);
        assert_int_equal(maas_writer_set_i32(w, "tokenizer.cls_id", 101), MAAS_OK);
        assert_int_equal(maas_writer_set_i32(w, "tokenizer.sep_id", 102), MAAS_OK);
    }
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);
    free(tokens);
    free(merges);
    free(merges_text);
}

/* A tokenizer read back from a .maas file encodes every golden string
 * exactly as the one built from the vocabulary files. */
static void from_file_matches_loaders(void **state)
{
    (void)state;
    const maas_tokenizer *originals[] = {gpt2, bert, cased};
    for (int t = 0; t < 3; t++) {
        char path[] = "/tmp/maas-tokenizer-test-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        write_tokenizer_file(originals[t], path, originals[t] != cased);

        maas_file *f;
        maas_tokenizer *tok;
        assert_int_equal(maas_file_open(path, &f), MAAS_OK);
        assert_int_equal(maas_tokenizer_from_file(f, &tok), MAAS_OK);
        maas_file_close(f);  /* the tokenizer keeps no pointer into the file */
        unlink(path);
        assert_int_equal(maas_tokenizer_vocab_size(tok), maas_tokenizer_vocab_size(originals[t]));
        for (int s = 0; s < MAAS_SPECIAL_COUNT; s++)
            assert_int_equal(maas_tokenizer_special_id(tok, (maas_special)s),
                             maas_tokenizer_special_id(originals[t], (maas_special)s));
        for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next) {
            size_t len;
            const char *text = case_text(c, &len);
            maas_encoding a = {0}, b = {0};
            maas_encode_options opts = {.add_special = true};
            assert_int_equal(maas_tokenizer_encode(tok, text, len, &opts, &a), MAAS_OK);
            assert_int_equal(maas_tokenizer_encode(originals[t], text, len, &opts, &b), MAAS_OK);
            assert_int_equal(a.n, b.n);
            assert_memory_equal(a.ids, b.ids, (size_t)a.n * sizeof *a.ids);
            maas_encoding_free(&a);
            maas_encoding_free(&b);
        }
        maas_tokenizer_free(tok);
    }
}

/* Each converted fixture model (build/fixtures/NAME.maas, written by
 * maas-convert before the tests run) encodes the golden strings as its
 * source folder's vocabulary files do. */
static void converted_fixtures_match_folders(void **state)
{
    (void)state;
    const char *names[] = {"gpt2-tiny", "gpt2-odd", "bert-tiny", "bert-qa-tiny", "bert-odd"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char model[256], vocab[256], merges[256];
        snprintf(model, sizeof model, "build/fixtures/%s.maas", names[k]);
        maas_file *f;
        if (maas_file_open(model, &f) != MAAS_OK)
            fail_msg("cannot open %s (%s); build it with make fixtures", model, maas_last_error());
        maas_tokenizer *from_model, *from_folder;
        assert_int_equal(maas_tokenizer_from_file(f, &from_model), MAAS_OK);
        bool bpe = maas_tokenizer_get_kind(from_model) == MAAS_TOKENIZER_BPE;
        if (bpe) {
            snprintf(vocab, sizeof vocab, "tests/fixtures/%s/vocab.json", names[k]);
            snprintf(merges, sizeof merges, "tests/fixtures/%s/merges.txt", names[k]);
            assert_int_equal(maas_tokenizer_load_bpe(vocab, merges, &from_folder), MAAS_OK);
        } else {
            bool lower = true;
            if (maas_file_has(f, "tokenizer.do_lower_case"))
                assert_int_equal(maas_file_get_bool(f, "tokenizer.do_lower_case", &lower), MAAS_OK);
            snprintf(vocab, sizeof vocab, "tests/fixtures/%s/vocab.txt", names[k]);
            assert_int_equal(maas_tokenizer_load_wordpiece(vocab, lower, &from_folder), MAAS_OK);
        }
        maas_file_close(f);

        for (int s = 0; s < MAAS_SPECIAL_COUNT; s++)
            assert_int_equal(maas_tokenizer_special_id(from_model, (maas_special)s),
                             maas_tokenizer_special_id(from_folder, (maas_special)s));
        for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next) {
            size_t len;
            const char *text = case_text(c, &len);
            maas_encoding a = {0}, b = {0};
            maas_encode_options opts = {.add_special = true};
            assert_int_equal(maas_tokenizer_encode(from_model, text, len, &opts, &a), MAAS_OK);
            assert_int_equal(maas_tokenizer_encode(from_folder, text, len, &opts, &b), MAAS_OK);
            if (a.n != b.n || memcmp(a.ids, b.ids, (size_t)a.n * sizeof *a.ids) != 0)
                fail_msg("%s encodes \"%s\" differently from its folder's vocabulary", model,
                         escaped(text, len));
            maas_encoding_free(&a);
            maas_encoding_free(&b);
        }
        maas_tokenizer_free(from_model);
        maas_tokenizer_free(from_folder);
    }
}

static void from_file_without_tokenizer(void **state)
{
    (void)state;
    char path[] = "/tmp/maas-tokenizer-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    maas_writer *w;
    assert_int_equal(maas_writer_create("bert", &w), MAAS_OK);
    assert_int_equal(maas_writer_set_u32(w, "hidden_size", 8), MAAS_OK);
    assert_int_equal(maas_writer_write(w, path, NULL, NULL), MAAS_OK);
    maas_writer_free(w);
    maas_file *f;
    maas_tokenizer *tok = NULL;
    assert_int_equal(maas_file_open(path, &f), MAAS_OK);
    assert_int_equal(maas_tokenizer_from_file(f, &tok), MAAS_ERR_NOT_FOUND);
    assert_non_null(strstr(maas_last_error(), "tokenizer.model"));
    assert_null(tok);
    maas_file_close(f);
    unlink(path);
}

#define CLI "build/bin/maas-tokenize"

/* Runs a shell command and returns its stdout (malloc'ed) and exit code. */
static char *run_command(const char *cmd, int *exit_code)
{
    FILE *fp = popen(cmd, "r");
    assert_non_null(fp);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    n = fread(out, 1, cap - 1, fp);
    out[n] = '\0';
    int status = pclose(fp);
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

/* Prints the golden ids as the CLI should: space-separated, one line. */
static void ids_line(const cJSON *ids, char *line, size_t cap)
{
    size_t o = 0;
    for (const cJSON *x = ids->child; x; x = x->next)
        o += (size_t)snprintf(line + o, cap - o, x == ids->child ? "%d" : " %d", x->valueint);
    snprintf(line + o, cap - o, "\n");
}

/* maas-tokenize -f FILE prints the golden ids of the file's exact bytes. */
static void cli_prints_golden_ids(void **state)
{
    (void)state;
    if (access(CLI, X_OK) != 0)
        fail_msg("%s is missing; build it with make", CLI);
    char path[] = "/tmp/maas-tokenize-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int checked = 0;
    for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c && checked < 12; c = c->next) {
        size_t len;
        const char *text = case_text(c, &len);
        if (len < 8 || len > 200)
            continue;
        FILE *fp = fopen(path, "wb");
        fwrite(text, 1, len, fp);
        fclose(fp);

        const char *kinds[2][2] = {{"gpt2", "--vocab " GPT2_VOCAB " --merges " GPT2_MERGES},
                                   {"bert", "--vocab " BERT_VOCAB}};
        for (int k = 0; k < 2; k++) {
            char plain_key[32], cmd[512], want[8192];
            snprintf(plain_key, sizeof plain_key, "%s_plain", kinds[k][0]);
            const cJSON *ids = cJSON_GetObjectItem(c, plain_key);
            if (!ids)
                ids = cJSON_GetObjectItem(c, kinds[k][0]);
            ids_line(ids, want, sizeof want);
            snprintf(cmd, sizeof cmd, CLI " %s -f %s", kinds[k][1], path);
            int code;
            char *got = run_command(cmd, &code);
            assert_int_equal(code, 0);
            if (strcmp(got, want) != 0)
                fail_msg("%s printed \"%s\" for \"%s\", expected \"%s\"", cmd, got,
                         escaped(text, len), want);
            free(got);
        }
        checked++;
    }
    unlink(path);
    assert_int_equal(checked, 12);
}

/* A broken merges.txt is reported against merges.txt with its line, and
 * invalid bytes are shown escaped, both by the library and by the CLI. */
static void bad_merges_named_escaped(void **state)
{
    (void)state;
    char path[] = "/tmp/maas-merges-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    static const struct {
        const char *text;
        maas_status status;
        const char *mention;
    } cases[] = {
        {"#version: 0.2\n\xc4\xa0 t\n\xff\xfe x\n", MAAS_ERR_INVALID_UTF8, "line 3"},
        {"#version: 0.2\nab\xff\n", MAAS_ERR_BAD_FORMAT, "line 2"},
        {"#version: 0.2\n\xc4\xa0 t\nzzzq qqq\n", MAAS_ERR_BAD_FORMAT, "line 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *fp = fopen(path, "wb");
        fputs(cases[i].text, fp);
        fclose(fp);

        maas_tokenizer *tok = NULL;
        assert_int_equal(maas_tokenizer_load_bpe(GPT2_VOCAB, path, &tok), cases[i].status);
        assert_null(tok);
        const char *message = maas_last_error();
        assert_non_null(strstr(message, path));
        assert_non_null(strstr(message, cases[i].mention));
        assert_null(strstr(message, GPT2_VOCAB));
        assert_null(strchr(message, '\xff'));
        if (i < 2)
            assert_non_null(strstr(message, "\\xff"));

        /* The CLI prints the same message on stderr (merged into stdout here). */
        char cmd[512];
        snprintf(cmd, sizeof cmd, CLI " --vocab " GPT2_VOCAB " --merges %s hi 2>&1", path);
        int code;
        char *out = run_command(cmd, &code);
        assert_int_equal(code, 1);
        assert_non_null(strstr(out, path));
        assert_non_null(strstr(out, cases[i].mention));
        assert_null(strchr(out, '\xff'));
        free(out);
    }
    unlink(path);
}

static void cli_options_and_errors(void **state)
{
    (void)state;
    int code;
    char *out = run_command(CLI " --vocab " BERT_VOCAB " --no-special --tokens 'Hello, world'", &code);
    assert_int_equal(code, 0);
    assert_string_equal(out, "7592 1010 2088\nhello , world\n");
    free(out);

    out = run_command("printf 'Hello [SEP]' | " CLI " --vocab " BERT_VOCAB " --parse-special", &code);
    assert_int_equal(code, 0);
    assert_string_equal(out, "101 7592 102 102\n");
    free(out);

    out = run_command(CLI " -m tests/fixtures/no-such-model.maas x 2>&1", &code);
    assert_int_equal(code, 1);
    assert_non_null(strstr(out, "no-such-model.maas"));
    free(out);

    out = run_command(CLI " -m " GPT2_VOCAB " x 2>&1", &code);
    assert_int_equal(code, 1);
    assert_non_null(strstr(out, "vocab.json"));
    free(out);

    out = run_command(CLI " --frobnicate 2>&1", &code);
    assert_int_equal(code, 2);
    free(out);
}

typedef struct thread_job {
    const maas_tokenizer *tok;
    int ok;
} thread_job;

/* Encodes every golden string and compares with the golden GPT-2 ids. */
static void *encode_all(void *arg)
{
    thread_job *job = arg;
    job->ok = 1;
    for (int round = 0; round < 3; round++) {
        for (const cJSON *c = cJSON_GetObjectItem(golden, "cases")->child; c; c = c->next) {
            size_t len;
            const char *text = case_text(c, &len);
            const cJSON *want = cJSON_GetObjectItem(c, "gpt2_plain");
            if (!want)
                want = cJSON_GetObjectItem(c, "gpt2");
            maas_encoding enc = {0};
            if (maas_tokenizer_encode(job->tok, text, len, NULL, &enc) != MAAS_OK ||
                enc.n != cJSON_GetArraySize(want)) {
                job->ok = 0;
            } else {
                int i = 0;
                for (const cJSON *w = want->child; w; w = w->next, i++)
                    if (enc.ids[i] != w->valueint)
                        job->ok = 0;
            }
            maas_encoding_free(&enc);
        }
    }
    return NULL;
}

static void shared_across_threads(void **state)
{
    (void)state;
    pthread_t threads[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].tok = gpt2;
        assert_int_equal(pthread_create(&threads[i], NULL, encode_all, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].ok, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(special_ids),
        cmocka_unit_test(golden_gpt2_ids),
        cmocka_unit_test(golden_bert_ids_offsets),
        cmocka_unit_test(golden_cased_ids_offsets),
        cmocka_unit_test(golden_bert_decode),
        cmocka_unit_test(golden_bert_pairs),
        cmocka_unit_test(pair_special_text),
        cmocka_unit_test(gpt2_round_trip_golden_strings),
        cmocka_unit_test(gpt2_round_trip_random_bytes),
        cmocka_unit_test(bert_offsets_cut_tokens),
        cmocka_unit_test(bert_accent_cjk_spans),
        cmocka_unit_test(invalid_utf8),
        cmocka_unit_test(long_words),
        cmocka_unit_test(streaming_decode),
        cmocka_unit_test(streaming_decode_allocates_nothing),
        cmocka_unit_test(errors_named),
        cmocka_unit_test(from_file_matches_loaders),
        cmocka_unit_test(from_file_without_tokenizer),
        cmocka_unit_test(converted_fixtures_match_folders),
        cmocka_unit_test(shared_across_threads),
        cmocka_unit_test(cli_prints_golden_ids),
        cmocka_unit_test(cli_options_and_errors),
        cmocka_unit_test(bad_merges_named_escaped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
