/* BERT WordPiece: the basic tokenizer (clean text, space out CJK
 * ideographs, strip accents and lowercase for uncased vocabularies, split on
 * whitespace and punctuation), then greedy longest-match-first WordPiece
 * with "##" continuations.
 *
 * Normalisation and splitting run in one pass over the original code
 * points.  Every normalised character remembers the original character it
 * came from, so each token's span points back into the original text even
 * where characters were dropped (controls, accents) or expanded. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* A word collected by the basic tokenizer, in normalised form.  Only the
 * first WORD_CHARS_MAX characters are kept: a longer word becomes [UNK]
 * anyway, and only its length and span are needed then. */
#define WORD_CHARS_MAX 101

typedef struct wp_word {
    int n_chars;                          /* all characters, kept or not */
    int n_bytes;                          /* bytes of the kept characters */
    char utf8[WORD_CHARS_MAX * 4];
    int16_t offset[WORD_CHARS_MAX + 1];   /* byte offset of character i in utf8 */
    int32_t orig_byte[WORD_CHARS_MAX];    /* original span of character i */
    int32_t orig_byte_end[WORD_CHARS_MAX];
    int32_t orig_char[WORD_CHARS_MAX];
    int32_t last_byte_end, last_char;     /* span end of the last character */
} wp_word;

static void word_append(wp_word *w, int32_t cp, int32_t byte, int32_t byte_end, int32_t ch)
{
    if (w->n_chars < WORD_CHARS_MAX) {
        int i = w->n_chars;
        w->offset[i] = (int16_t)w->n_bytes;
        w->n_bytes += tok_utf8_encode(cp, w->utf8 + w->n_bytes);
        w->offset[i + 1] = (int16_t)w->n_bytes;
        w->orig_byte[i] = byte;
        w->orig_byte_end[i] = byte_end;
        w->orig_char[i] = ch;
    }
    w->n_chars++;
    w->last_byte_end = byte_end;
    w->last_char = ch;
}

/* Runs WordPiece on the collected word and appends its tokens. */
static maas_status word_flush(const maas_tokenizer *tok, wp_word *w, int8_t seq, maas_encoding *out)
{
    int n = w->n_chars;
    if (n == 0)
        return MAAS_OK;
    w->n_chars = 0;
    w->n_bytes = 0;
    int32_t unk = tok->special[MAAS_SPECIAL_UNK];
    int32_t word_start = w->orig_byte[0], word_char = w->orig_char[0];
    if (n > tok->max_input_chars_per_word)
        return tok_encoding_push(out, unk, 0, seq, word_start, w->last_byte_end, word_char,
                                 w->last_char + 1);

    /* Greedy longest match: the longest vocabulary piece at each start,
     * "##"-prefixed after the first. */
    int32_t ids[WORD_CHARS_MAX];
    int starts[WORD_CHARS_MAX], ends[WORD_CHARS_MAX];
    int n_pieces = 0;
    char key[WORD_CHARS_MAX * 4 + 2] = "##";
    for (int start = 0; start < n;) {
        int prefix = start > 0 ? 2 : 0;
        int32_t found = -1;
        int end = n;
        for (; end > start; end--) {
            int bytes = w->offset[end] - w->offset[start];
            if ((uint32_t)(bytes + prefix) > tok->max_token_len)
                continue;
            memcpy(key + 2, w->utf8 + w->offset[start], (size_t)bytes);
            found = tok_strmap_get(&tok->vocab, key + 2 - prefix, (size_t)(bytes + prefix));
            if (found >= 0)
                break;
        }
        if (found < 0)
            return tok_encoding_push(out, unk, 0, seq, word_start, w->last_byte_end, word_char,
                                     w->last_char + 1);
        ids[n_pieces] = found;
        starts[n_pieces] = start;
        ends[n_pieces] = end;
        n_pieces++;
        start = end;
    }

    for (int p = 0; p < n_pieces; p++) {
        int s = starts[p], e = ends[p] - 1;
        maas_status st = tok_encoding_push(out, ids[p], 0, seq, w->orig_byte[s],
                                           w->orig_byte_end[e], w->orig_char[s],
                                           w->orig_char[e] + 1);
        if (st != MAAS_OK)
            return st;
    }
    return MAAS_OK;
}

/* Appends a one-character word (punctuation or a CJK ideograph). */
static maas_status single_word(const maas_tokenizer *tok, wp_word *w, int32_t cp, int32_t byte,
                               int32_t byte_end, int32_t ch, int8_t seq, maas_encoding *out)
{
    maas_status st = word_flush(tok, w, seq, out);
    if (st != MAAS_OK)
        return st;
    word_append(w, cp, byte, byte_end, ch);
    return word_flush(tok, w, seq, out);
}

/* Encodes text[0..len), which contains no special token.  base_byte and
 * base_char locate it in the caller's text. */
static maas_status encode_segment(const maas_tokenizer *tok, const unsigned char *text, size_t len,
                                  int32_t base_byte, int32_t base_char, int8_t seq, wp_word *w,
                                  maas_encoding *out)
{
    int32_t ch = base_char;
    maas_status st = MAAS_OK;
    for (size_t i = 0; i < len && st == MAAS_OK; ch++) {
        int32_t cp;
        int n = tok_utf8_decode(text + i, len - i, &cp);
        if (n == 0)
            return maas_fail(MAAS_ERR_INVALID_UTF8,
                             "invalid UTF-8 at byte %zu (0x%02x); WordPiece needs valid UTF-8 text",
                             (size_t)base_byte + i, text[i]);
        int32_t byte = base_byte + (int32_t)i, byte_end = byte + n;
        i += (size_t)n;

        /* ASCII: the same rules without the Unicode tables. */
        if (cp < 0x80) {
            if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r')
                st = word_flush(tok, w, seq, out);
            else if (cp < 0x20 || cp == 0x7f)
                continue;  /* NUL and the other C0 controls are dropped */
            else if (tok_bert_is_punctuation(cp))
                st = single_word(tok, w, cp, byte, byte_end, ch, seq, out);
            else if (tok->do_lower_case && cp >= 'A' && cp <= 'Z')
                word_append(w, cp + ('a' - 'A'), byte, byte_end, ch);
            else
                word_append(w, cp, byte, byte_end, ch);
            continue;
        }

        /* Clean text: drop NUL, U+FFFD and controls; whitespace ends a word. */
        if (cp == 0 || cp == 0xfffd || tok_bert_is_control(cp))
            continue;
        if (tok_bert_is_whitespace(cp)) {
            st = word_flush(tok, w, seq, out);
            continue;
        }

        /* Normalise, then split punctuation and CJK ideographs off. */
        int32_t norm[TOK_NORM_MAX];
        int m = tok_bert_normalize_char(cp, tok->strip_accents, tok->do_lower_case, norm);
        bool alone = tok->tokenize_chinese_chars && tok_bert_is_chinese(cp);
        for (int k = 0; k < m && st == MAAS_OK; k++) {
            if (alone || tok_bert_is_punctuation(norm[k]))
                st = single_word(tok, w, norm[k], byte, byte_end, ch, seq, out);
            else if (tok_bert_is_whitespace(norm[k]))
                st = word_flush(tok, w, seq, out);
            else
                word_append(w, norm[k], byte, byte_end, ch);
        }
    }
    if (st == MAAS_OK)
        st = word_flush(tok, w, seq, out);
    return st;
}

static int32_t count_chars(const unsigned char *text, size_t len)
{
    int32_t chars = 0;
    for (size_t i = 0; i < len; chars++) {
        int32_t cp;
        int n = tok_utf8_decode(text + i, len - i, &cp);
        i += n ? (size_t)n : 1;
    }
    return chars;
}

maas_status tok_wordpiece_encode(const maas_tokenizer *tok, const char *text, size_t len,
                                 bool parse_special, int8_t seq, maas_encoding *out)
{
    const unsigned char *u = (const unsigned char *)text;
    wp_word word;
    wp_word *w = &word;
    w->n_chars = 0;
    w->n_bytes = 0;
    maas_status st = tok_encoding_reserve(out, out->n + (int)(len / 4) + 4);
    size_t pos = 0;
    int32_t char_pos = 0;
    while (st == MAAS_OK && pos < len) {
        size_t at = len - pos, match = 0;
        int32_t special = -1;
        if (parse_special)
            special = tok_find_special(tok, text + pos, len - pos, &at, &match);
        st = encode_segment(tok, u + pos, at, (int32_t)pos, char_pos, seq, w, out);
        if (st != MAAS_OK)
            break;
        char_pos += count_chars(u + pos, at);
        pos += at;
        if (special >= 0) {
            int32_t chars = count_chars(u + pos, match);
            st = tok_encoding_push(out, special, 0, seq, (int32_t)pos, (int32_t)(pos + match),
                                   char_pos, char_pos + chars);
            pos += match;
            char_pos += chars;
        }
    }
    return st;
}
