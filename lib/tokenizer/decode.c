/* Decoding ids back to text, whole or one id at a time. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* A growable byte string. */
typedef struct tok_buf {
    char *data;
    size_t len, cap;
} tok_buf;

static maas_status buf_append(tok_buf *b, const void *src, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow decoded text to %zu bytes", cap);
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MAAS_OK;
}

static bool is_special_id(const maas_tokenizer *tok, int32_t id)
{
    for (int i = 0; i < MAAS_SPECIAL_COUNT; i++)
        if (tok->special[i] == id)
            return true;
    return false;
}

/* Hugging Face's clean-up of spaces that WordPiece decoding leaves before
 * punctuation and English contractions, applied in this order. */
static const char *const cleanup_from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm",
                                           " do not", " 's", " 've", " 're"};
static const char *const cleanup_to[] = {".", "?", "!", ",", "'", "n't", "'m",
                                         " don't", "'s", "'ve", "'re"};

/* Replaces every `from` with `to` (not longer) in place. */
static void replace_all(tok_buf *b, const char *from, const char *to)
{
    size_t nf = strlen(from), nt = strlen(to);
    size_t r = 0, w = 0;
    while (r < b->len) {
        if (r + nf <= b->len && memcmp(b->data + r, from, nf) == 0) {
            memcpy(b->data + w, to, nt);
            w += nt;
            r += nf;
        } else {
            b->data[w++] = b->data[r++];
        }
    }
    b->len = w;
    if (b->data)
        b->data[w] = '\0';
}

static void cleanup(tok_buf *b)
{
    for (size_t i = 0; i < sizeof cleanup_from / sizeof cleanup_from[0]; i++)
        replace_all(b, cleanup_from[i], cleanup_to[i]);
}

/* Splits the WordPiece text of one token into a leading space and the
 * text.  A "##" piece glues to the previous one without the "##", so it
 * gets no space, and neither does the first piece. */
static void wordpiece_span(const maas_tokenizer *tok, int32_t id, bool first, const char **space,
                           const char **text, size_t *len)
{
    const char *s = tok->tokens[id];
    size_t n = tok->token_lens[id];
    *space = first ? "" : " ";
    if (!first && n >= 2 && s[0] == '#' && s[1] == '#') {
        *space = "";
        s += 2;
        n -= 2;
    }
    *text = s;
    *len = n;
}

/* Appends the WordPiece text of one token. */
static maas_status wordpiece_piece(const maas_tokenizer *tok, int32_t id, bool first, tok_buf *b)
{
    const char *space, *text;
    size_t len;
    wordpiece_span(tok, id, first, &space, &text, &len);
    maas_status st = buf_append(b, space, strlen(space));
    if (st != MAAS_OK)
        return st;
    return buf_append(b, text, len);
}

maas_status maas_tokenizer_decode(const maas_tokenizer *tok, const int32_t *ids, int n,
                                  bool skip_special, char **out, size_t *out_len)
{
    if (!tok || !out || (n > 0 && !ids) || n < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "decode needs a tokenizer, an output pointer and n >= 0 ids");
    tok_buf b = {0};
    maas_status st = buf_append(&b, "", 0);
    bool first = true;
    for (int i = 0; i < n && st == MAAS_OK; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= tok->vocab_size) {
            st = maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                           "id %d at position %d is outside the vocabulary of %d tokens", id, i,
                           tok->vocab_size);
            break;
        }
        if (skip_special && is_special_id(tok, id))
            continue;
        if (tok->kind == MAAS_TOKENIZER_BPE) {
            st = buf_append(&b, tok->token_bytes[id], tok->token_nbytes[id]);
        } else {
            /* Each piece is cleaned on its own, as Hugging Face's
             * WordPiece decoder does (transformers 5 adds no second
             * clean-up over the whole text for BERT). */
            tok_buf piece = {0};
            st = wordpiece_piece(tok, id, first, &piece);
            if (st == MAAS_OK) {
                cleanup(&piece);
                st = buf_append(&b, piece.data, piece.len);
            }
            free(piece.data);
        }
        first = false;
    }
    if (st != MAAS_OK) {
        free(b.data);
        return st;
    }
    *out = b.data;
    if (out_len)
        *out_len = b.len;
    return MAAS_OK;
}

/* ---- streaming ---------------------------------------------------------- */

struct maas_decoder {
    const maas_tokenizer *tok;
    bool first;
    size_t held;
    unsigned char pending[4];  /* start of an incomplete UTF-8 character */
};

maas_status maas_decoder_create(const maas_tokenizer *tok, maas_decoder **out)
{
    if (!tok || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "decoder needs a tokenizer and an output pointer");
    maas_decoder *dec = calloc(1, sizeof *dec);
    if (!dec)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a decoder");
    dec->tok = tok;
    dec->first = true;
    *out = dec;
    return MAAS_OK;
}

void maas_decoder_free(maas_decoder *dec)
{
    free(dec);
}

/* Length a UTF-8 sequence announces by its lead byte; 0 when the byte can
 * never start one. */
static int utf8_expected(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        return 2;
    if (b >= 0xe0 && b <= 0xef)
        return 3;
    if (b >= 0xf0 && b <= 0xf4)
        return 4;
    return 0;
}

/* True when s[0..n) (n shorter than the lead byte announces) can still
 * become a valid character with more bytes. */
static bool utf8_prefix_ok(const unsigned char *s, size_t n)
{
    unsigned char full[4];
    int need = utf8_expected(s[0]);
    memcpy(full, s, n);
    /* Complete it with the smallest continuation bytes allowed after s[1]. */
    for (int i = (int)n; i < need; i++)
        full[i] = 0x80;
    if (n == 1) {
        /* Any lead byte can still be completed, e.g. E0 A0 80 or F4 80 80 80. */
        return need > 1;
    }
    int32_t cp;
    if (tok_utf8_decode(full, (size_t)need, &cp) != 0)
        return true;
    /* 0x80 continuations may fall below the minimum: try the largest. */
    for (int i = (int)n; i < need; i++)
        full[i] = 0xbf;
    return tok_utf8_decode(full, (size_t)need, &cp) != 0;
}

static const char replacement[] = "\xef\xbf\xbd";

/* Copies n bytes to buf at *len when they fit with the final NUL; adds n
 * to *needed either way, so a failure can report the size required. */
static bool out_append(char *buf, size_t cap, size_t *len, size_t *needed, const void *src,
                       size_t n)
{
    *needed += n;
    if (*needed + 1 > cap)
        return false;
    memcpy(buf + *len, src, n);
    *len += n;
    return true;
}

/* Writes the complete characters of `pending + prefix + bytes` to buf and
 * keeps an incomplete tail (at most 3 bytes) held back in dec.  It
 * allocates only when the bytes exceed `stage`, which GPT-2's tokens (at
 * most 128 bytes) never do. */
static maas_status emit_bytes(maas_decoder *dec, const char *prefix, size_t prefix_n,
                              const unsigned char *bytes, size_t n, char *buf, size_t cap,
                              size_t *len, bool final)
{
    unsigned char stage[4 + 256];
    unsigned char *heap = NULL;
    unsigned char *src = stage;
    size_t total = dec->held + prefix_n + n;
    if (total > sizeof stage) {
        heap = malloc(total);
        if (!heap)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", total);
        src = heap;
    }
    memcpy(src, dec->pending, dec->held);
    if (prefix_n > 0)
        memcpy(src + dec->held, prefix, prefix_n);
    if (n > 0)
        memcpy(src + dec->held + prefix_n, bytes, n);

    /* Complete characters go out as they are, and bytes that can never
     * become one go out as U+FFFD.  An unfinished character at the end
     * waits for the next token unless this is the final flush. */
    size_t i = 0, keep_from = total, out_len = 0, needed = 0;
    bool fits = true;
    while (i < total) {
        int32_t cp;
        int k = tok_utf8_decode(src + i, total - i, &cp);
        if (k > 0) {
            fits = out_append(buf, cap, &out_len, &needed, src + i, (size_t)k) && fits;
            i += (size_t)k;
            continue;
        }
        int need = utf8_expected(src[i]);
        bool truncated = need > 1 && (size_t)need > total - i && utf8_prefix_ok(src + i, total - i);
        if (truncated && !final) {
            keep_from = i;
            break;
        }
        fits = out_append(buf, cap, &out_len, &needed, replacement, 3) && fits;
        i += 1;
    }

    maas_status st = MAAS_OK;
    if (fits) {
        buf[out_len] = '\0';
        *len = out_len;
        dec->held = total - keep_from;
        memcpy(dec->pending, src + keep_from, dec->held);
    } else {
        buf[0] = '\0';
        st = maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                       "the output buffer holds %zu bytes but this token decodes to %zu; "
                       "pass a larger buffer",
                       cap, needed + 1);
    }
    free(heap);
    return st;
}

maas_status maas_decoder_push(maas_decoder *dec, int32_t id, char *buf, size_t cap, size_t *len)
{
    if (!dec || !buf || !len || cap == 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "decoder push needs a decoder and a buffer");
    const maas_tokenizer *tok = dec->tok;
    if (id < 0 || id >= tok->vocab_size)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "id %d is outside the vocabulary of %d tokens",
                         id, tok->vocab_size);
    if (tok->kind == MAAS_TOKENIZER_BPE)
        return emit_bytes(dec, NULL, 0, tok->token_bytes[id], tok->token_nbytes[id], buf, cap,
                          len, false);

    /* WordPiece: the piece with its space, no clean-up (it needs context). */
    const char *space, *text;
    size_t text_len;
    wordpiece_span(tok, id, dec->first, &space, &text, &text_len);
    maas_status st = emit_bytes(dec, space, strlen(space), (const unsigned char *)text, text_len,
                                buf, cap, len, false);
    if (st == MAAS_OK)
        dec->first = false;
    return st;
}

maas_status maas_decoder_flush(maas_decoder *dec, char *buf, size_t cap, size_t *len)
{
    if (!dec || !buf || !len || cap == 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "decoder flush needs a decoder and a buffer");
    maas_status st = emit_bytes(dec, NULL, 0, NULL, 0, buf, cap, len, true);
    if (st == MAAS_OK) {
        dec->held = 0;
        dec->first = true;
    }
    return st;
}
