/* UTF-8 decoding and the Unicode character tests of both tokenizers, over
 * utf8proc's character database.  Hugging Face's Unicode tables come from
 * other Unicode versions, and where they disagree with utf8proc the
 * generated override tables give Hugging Face's classification.  Only
 * characters assigned in recent Unicode versions are affected. */
#include <utf8proc.h>

#include "tok_internal.h"
#include "tok_unicode_overrides.h"

#define COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* Binary search in sorted, disjoint ranges. */
static bool in_ranges(int32_t cp, const tok_range *r, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].first)
            hi = mid;
        else if (cp > r[mid].last)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

int tok_utf8_decode(const unsigned char *s, size_t len, int32_t *cp)
{
    unsigned char b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }

    /* Lead byte: sequence length and the smallest value it may encode. */
    int n;
    int32_t value, min;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        n = 2;
        value = b0 & 0x1f;
        min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        n = 3;
        value = b0 & 0x0f;
        min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        n = 4;
        value = b0 & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)n > len)
        return 0;

    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        value = (value << 6) | (s[i] & 0x3f);
    }
    if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        return 0;
    *cp = value;
    return n;
}

int tok_utf8_encode(int32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The Unicode White_Space property (25 code points).  Both Oniguruma's \s
 * (GPT-2's pattern in Hugging Face tokenizers) and Rust's
 * char::is_whitespace (BERT's pre-tokenizer) use exactly this set. */
static bool is_white_space(int32_t cp)
{
    if (cp < 0x80)
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0d);
    switch (cp) {
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202f: case 0x205f: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

int tok_gpt2_class(int32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
            return TOK_GPT2_LETTER;
        if (cp >= '0' && cp <= '9')
            return TOK_GPT2_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d))
            return TOK_GPT2_SPACE;
        return TOK_GPT2_OTHER;
    }
    if (is_white_space(cp))
        return TOK_GPT2_SPACE;
    if (in_ranges(cp, tok_gpt2_letter_ranges, COUNT(tok_gpt2_letter_ranges)))
        return TOK_GPT2_LETTER;
    if (in_ranges(cp, tok_gpt2_number_ranges, COUNT(tok_gpt2_number_ranges)))
        return TOK_GPT2_NUMBER;
    if (in_ranges(cp, tok_gpt2_other_ranges, COUNT(tok_gpt2_other_ranges)))
        return TOK_GPT2_OTHER;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return TOK_GPT2_LETTER;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return TOK_GPT2_NUMBER;
    default:
        return TOK_GPT2_OTHER;
    }
}

bool tok_bert_is_whitespace(int32_t cp)
{
    return is_white_space(cp);
}

/* Hugging Face's BertNormalizer drops "control" characters: every C*
 * category (Cc, Cf, Co, Cs, Cn) except tab, newline and carriage return,
 * which it counts as whitespace. */
bool tok_bert_is_control(int32_t cp)
{
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return false;
    if (cp >= 0x80 && in_ranges(cp, tok_bert_dropped_ranges, COUNT(tok_bert_dropped_ranges)))
        return true;
    if (cp >= 0x80 && in_ranges(cp, tok_bert_kept_ranges, COUNT(tok_bert_kept_ranges)))
        return false;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
        return true;
    default:
        return false;
    }
}

/* ASCII symbols (!"#$%&'()*+,-./ :;<=>?@ [\]^_` {|}~) and every Unicode
 * P* category. */
bool tok_bert_is_punctuation(int32_t cp)
{
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126))
        return true;
    if (cp < 0x80)
        return false;
    if (in_ranges(cp, tok_bert_punct_ranges, COUNT(tok_bert_punct_ranges)))
        return true;
    if (in_ranges(cp, tok_bert_not_punct_ranges, COUNT(tok_bert_not_punct_ranges)))
        return false;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return true;
    default:
        return false;
    }
}

/* The CJK Unified Ideographs blocks BERT puts spaces around (not Japanese
 * kana or Korean hangul, which BERT treats as letters).  The range from
 * U+2B920 (not U+2B820, where Extension E starts) is the one Hugging Face
 * tokenizers 0.23 uses, so U+2B820..U+2B91F stay letters there and here. */
bool tok_bert_is_chinese(int32_t cp)
{
    return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
           (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
           (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
           (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/* Lowercases one code point.  utf8proc gives the simple (one to one)
 * mapping; U+0130 (capital I with dot above) is the one code point whose
 * full lowercase, which Rust's char::to_lowercase returns, is two code
 * points: "i" and U+0307. */
static int lower_char(int32_t cp, int32_t *out)
{
    if (cp == 0x130) {
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    out[0] = utf8proc_tolower(cp);
    return 1;
}

/* Looks cp up in the uncased overrides; returns the code point count or
 * -1 when cp has no override. */
static int uncased_override(int32_t cp, int32_t *out)
{
    size_t lo = 0, hi = COUNT(tok_bert_uncased_map);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_bert_uncased_map[mid].cp) {
            hi = mid;
        } else if (cp > tok_bert_uncased_map[mid].cp) {
            lo = mid + 1;
        } else {
            int n = 0;
            while (n < 3 && tok_bert_uncased_map[mid].to[n] != 0) {
                out[n] = tok_bert_uncased_map[mid].to[n];
                n++;
            }
            return n;
        }
    }
    return -1;
}

/* NOTE: the overrides cover the uncased form only (strip_accents and lower
 * together, as uncased BERT vocabularies use them).  A vocabulary that
 * lowercases without stripping accents follows utf8proc alone. */
int tok_bert_normalize_char(int32_t cp, bool strip_accents, bool lower, int32_t *out)
{
    if (strip_accents && lower && cp >= 0x80) {
        int n = uncased_override(cp, out);
        if (n >= 0)
            return n;
    }
    int32_t decomposed[TOK_NORM_MAX];
    int n = 1;
    decomposed[0] = cp;

    /* NFD, then drop nonspacing marks (Mn). */
    if (strip_accents && cp >= 0x80) {
        int last_class = 0;
        utf8proc_ssize_t got = utf8proc_decompose_char(
            cp, decomposed, TOK_NORM_MAX / 2, UTF8PROC_DECOMPOSE, &last_class);
        if (got < 1 || got > TOK_NORM_MAX / 2) {
            decomposed[0] = cp;
            got = 1;
        }
        n = 0;
        for (utf8proc_ssize_t i = 0; i < got; i++)
            if (utf8proc_category(decomposed[i]) != UTF8PROC_CATEGORY_MN)
                decomposed[n++] = decomposed[i];
    }

    if (!lower) {
        for (int i = 0; i < n; i++)
            out[i] = decomposed[i];
        return n;
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        m += lower_char(decomposed[i], out + m);
    return m;
}
