/* Tokenizer construction (one builder for vocabulary files and .maas
 * files), lookups, encodings, single and pair encoding. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* GPT-2's byte-to-unicode table: printable Latin-1 bytes map to themselves
 * and the other 68 bytes to U+0100 upwards in byte order, so every byte
 * has a visible, non-space character. */
static int32_t byte_to_unicode(int b)
{
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff))
        return b;
    int n = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || (i >= 0xae && i <= 0xff)))
            n++;
    return 0x100 + n;
}

/* Inverse of byte_to_unicode; -1 for a code point that spells no byte. */
static int unicode_to_byte(int32_t cp)
{
    if (cp < 0x100) {
        if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff))
            return cp;
        return -1;
    }
    if (cp >= 0x100 + 68)
        return -1;
    int n = 0;
    for (int b = 0; b < 256; b++)
        if (byte_to_unicode(b) >= 0x100 && n++ == cp - 0x100)
            return b;
    return -1;
}

void tok_spec_defaults(tok_spec *spec, maas_tokenizer_kind kind)
{
    memset(spec, 0, sizeof *spec);
    spec->kind = kind;
    spec->tokenize_chinese_chars = true;
    for (int i = 0; i < MAAS_SPECIAL_COUNT; i++)
        spec->special[i] = -1;
}

static const char *const special_strings[MAAS_SPECIAL_COUNT] = {
    [MAAS_SPECIAL_UNK] = "[UNK]",  [MAAS_SPECIAL_CLS] = "[CLS]",
    [MAAS_SPECIAL_SEP] = "[SEP]",  [MAAS_SPECIAL_PAD] = "[PAD]",
    [MAAS_SPECIAL_MASK] = "[MASK]", [MAAS_SPECIAL_EOS] = "<|endoftext|>",
};

static maas_status copy_vocabulary(maas_tokenizer *tok, const tok_spec *spec)
{
    size_t total = 0;
    tok->tokens = calloc(spec->n_tokens, sizeof *tok->tokens);
    tok->token_lens = calloc(spec->n_tokens, sizeof *tok->token_lens);
    if (!tok->tokens || !tok->token_lens)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a vocabulary of %u tokens",
                         spec->n_tokens);
    for (uint32_t i = 0; i < spec->n_tokens; i++) {
        size_t len = spec->token_lens ? spec->token_lens[i] : strlen(spec->tokens[i]);
        if (len == 0)
            return maas_fail(MAAS_ERR_BAD_FORMAT,
                             "vocabulary token %u is empty; every token needs at least one byte", i);
        tok->token_lens[i] = (uint32_t)len;
        total += len + 1;
        if (len > tok->max_token_len)
            tok->max_token_len = (uint32_t)len;
    }
    tok->arena = malloc(total);
    if (!tok->arena)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of vocabulary", total);
    char *p = tok->arena;
    for (uint32_t i = 0; i < spec->n_tokens; i++) {
        memcpy(p, spec->tokens[i], tok->token_lens[i]);
        p[tok->token_lens[i]] = '\0';
        tok->tokens[i] = p;
        p += tok->token_lens[i] + 1;
    }
    tok->vocab_size = (int32_t)spec->n_tokens;

    maas_status st = tok_strmap_init(&tok->vocab, spec->n_tokens,
                                     (const char *const *)tok->tokens, tok->token_lens);
    if (st != MAAS_OK)
        return st;
    for (uint32_t i = 0; i < spec->n_tokens; i++)
        tok_strmap_put(&tok->vocab, (int32_t)i);
    return MAAS_OK;
}

/* Spells out every BPE token's raw bytes (the inverse byte-to-unicode
 * mapping); a character outside the table stands for its own UTF-8 bytes. */
static maas_status build_token_bytes(maas_tokenizer *tok)
{
    size_t total = 0;
    for (int32_t i = 0; i < tok->vocab_size; i++)
        total += tok->token_lens[i];
    tok->bytes_arena = malloc(total ? total : 1);
    tok->token_bytes = calloc((uint32_t)tok->vocab_size, sizeof *tok->token_bytes);
    tok->token_nbytes = calloc((uint32_t)tok->vocab_size, sizeof *tok->token_nbytes);
    if (!tok->bytes_arena || !tok->token_bytes || !tok->token_nbytes)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate the byte spelling of %d tokens",
                         tok->vocab_size);

    uint8_t *p = tok->bytes_arena;
    for (int32_t i = 0; i < tok->vocab_size; i++) {
        const unsigned char *s = (const unsigned char *)tok->tokens[i];
        size_t len = tok->token_lens[i], at = 0;
        tok->token_bytes[i] = p;
        while (at < len) {
            int32_t cp;
            int n = tok_utf8_decode(s + at, len - at, &cp);
            if (n == 0) {
                *p++ = s[at++];
                continue;
            }
            int b = unicode_to_byte(cp);
            if (b >= 0) {
                *p++ = (uint8_t)b;
            } else {
                memcpy(p, s + at, (size_t)n);
                p += n;
            }
            at += (size_t)n;
        }
        tok->token_nbytes[i] = (uint32_t)(p - tok->token_bytes[i]);
    }
    return MAAS_OK;
}

static maas_status build_merges(maas_tokenizer *tok, const tok_spec *spec)
{
    /* Single bytes: every one of the 256 must be in the vocabulary. */
    for (int b = 0; b < 256; b++) {
        char spelled[4];
        int n = tok_utf8_encode(byte_to_unicode(b), spelled);
        tok->byte_ids[b] = tok_strmap_get(&tok->vocab, spelled, (size_t)n);
        if (tok->byte_ids[b] < 0)
            return maas_fail(MAAS_ERR_BAD_FORMAT,
                             "the BPE vocabulary lacks the token \"%.*s\" for byte 0x%02x; "
                             "a byte-level vocabulary needs all 256 byte tokens",
                             n, spelled, b);
    }

    maas_status st = tok_pairmap_init(&tok->merges, spec->n_merges);
    if (st != MAAS_OK)
        return st;
    char buf[1024];
    for (uint32_t r = 0; r < spec->n_merges; r++) {
        const char *m = spec->merges[r];
        size_t len = spec->merge_lens ? spec->merge_lens[r] : strlen(m);
        const char *space = memchr(m, ' ', len);
        if (!space || space == m || space == m + len - 1 || memchr(space + 1, ' ', len - (size_t)(space - m) - 1))
            return maas_fail(MAAS_ERR_BAD_FORMAT,
                             "merge %u \"%.*s\" is not two tokens separated by one space",
                             r, (int)(len > 200 ? 200 : len), m);
        size_t left_len = (size_t)(space - m), right_len = len - left_len - 1;
        int32_t left = tok_strmap_get(&tok->vocab, m, left_len);
        int32_t right = tok_strmap_get(&tok->vocab, space + 1, right_len);
        if (len > sizeof buf)
            return maas_fail(MAAS_ERR_BAD_FORMAT, "merge %u is %zu bytes long, more than %zu",
                             r, len, sizeof buf);
        memcpy(buf, m, left_len);
        memcpy(buf + left_len, space + 1, right_len);
        int32_t merged = tok_strmap_get(&tok->vocab, buf, left_len + right_len);
        if (left < 0 || right < 0 || merged < 0)
            return maas_fail(MAAS_ERR_BAD_FORMAT,
                             "merge %u \"%.*s\" names a token that is not in the vocabulary",
                             r, (int)len, m);
        tok_pairmap_put(&tok->merges, left, right, (int32_t)r, merged);
    }
    return MAAS_OK;
}

static maas_status create_cache(maas_tokenizer *tok)
{
    tok->cache = calloc(1, sizeof *tok->cache);
    if (!tok->cache)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate the BPE cache");
    tok->cache->slots = calloc(TOK_CACHE_SLOTS, sizeof *tok->cache->slots);
    if (!tok->cache->slots)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate the BPE cache");
    for (int i = 0; i < TOK_CACHE_STRIPES; i++)
        pthread_mutex_init(&tok->cache->locks[i], NULL);
    return MAAS_OK;
}

maas_status tok_build(const tok_spec *spec, maas_tokenizer **out)
{
    if (spec->kind != MAAS_TOKENIZER_BPE && spec->kind != MAAS_TOKENIZER_WORDPIECE)
        return maas_fail(MAAS_ERR_UNSUPPORTED, "unknown tokenizer kind %d", (int)spec->kind);
    if (spec->n_tokens == 0 || spec->n_tokens > INT32_MAX / 2)
        return maas_fail(MAAS_ERR_BAD_FORMAT, "a vocabulary of %u tokens is not usable",
                         spec->n_tokens);

    maas_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate a tokenizer");
    tok->kind = spec->kind;
    tok->do_lower_case = spec->do_lower_case;
    tok->strip_accents = spec->strip_accents;
    tok->tokenize_chinese_chars = spec->tokenize_chinese_chars;
    tok->max_input_chars_per_word = 100;

    /* Step 1: vocabulary strings and the string -> id map. */
    maas_status st = copy_vocabulary(tok, spec);

    /* Step 2: special ids, from the spec or by their usual strings. */
    for (int i = 0; st == MAAS_OK && i < MAAS_SPECIAL_COUNT; i++) {
        int32_t id = spec->special[i];
        if (id >= tok->vocab_size) {
            st = maas_fail(MAAS_ERR_BAD_FORMAT, "special token id %d is outside the vocabulary of %d",
                           id, tok->vocab_size);
            break;
        }
        if (id < 0) {
            bool usual = (tok->kind == MAAS_TOKENIZER_BPE) == (i == MAAS_SPECIAL_EOS);
            id = usual ? tok_strmap_get(&tok->vocab, special_strings[i], strlen(special_strings[i]))
                        : -1;
        }
        tok->special[i] = id;
    }

    /* Step 3: BPE byte tables, merges and the cache. */
    if (st == MAAS_OK && tok->kind == MAAS_TOKENIZER_BPE) {
        st = build_merges(tok, spec);
        if (st == MAAS_OK)
            st = build_token_bytes(tok);
        if (st == MAAS_OK)
            st = create_cache(tok);
    }
    if (st == MAAS_OK && tok->kind == MAAS_TOKENIZER_WORDPIECE && tok->special[MAAS_SPECIAL_UNK] < 0)
        st = maas_fail(MAAS_ERR_BAD_FORMAT,
                       "the WordPiece vocabulary has no [UNK] token; add one (BERT's is id 100)");

    if (st != MAAS_OK) {
        maas_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return MAAS_OK;
}

void maas_tokenizer_free(maas_tokenizer *tok)
{
    if (!tok)
        return;
    tok_strmap_free(&tok->vocab);
    tok_pairmap_free(&tok->merges);
    if (tok->cache) {
        for (int i = 0; i < TOK_CACHE_STRIPES; i++)
            pthread_mutex_destroy(&tok->cache->locks[i]);
        free(tok->cache->slots);
        free(tok->cache);
    }
    free(tok->tokens);
    free(tok->token_lens);
    free(tok->arena);
    free(tok->token_bytes);
    free(tok->token_nbytes);
    free(tok->bytes_arena);
    free(tok);
}

maas_tokenizer_kind maas_tokenizer_get_kind(const maas_tokenizer *tok)
{
    return tok->kind;
}

int32_t maas_tokenizer_vocab_size(const maas_tokenizer *tok)
{
    return tok->vocab_size;
}

int32_t maas_tokenizer_special_id(const maas_tokenizer *tok, maas_special which)
{
    if ((unsigned)which >= MAAS_SPECIAL_COUNT)
        return -1;
    return tok->special[which];
}

const char *maas_tokenizer_token_text(const maas_tokenizer *tok, int32_t id)
{
    if (id < 0 || id >= tok->vocab_size)
        return NULL;
    return tok->tokens[id];
}

int32_t maas_tokenizer_token_id(const maas_tokenizer *tok, const char *text)
{
    if (!text)
        return -1;
    return tok_strmap_get(&tok->vocab, text, strlen(text));
}

/* ---- encodings ---------------------------------------------------------- */

void maas_encoding_free(maas_encoding *enc)
{
    if (!enc)
        return;
    free(enc->ids);
    free(enc->type_ids);
    free(enc->sequence_ids);
    free(enc->byte_start);
    free(enc->byte_end);
    free(enc->char_start);
    free(enc->char_end);
    free(enc->attention_mask);
    memset(enc, 0, sizeof *enc);
}

maas_status tok_encoding_reserve(maas_encoding *enc, int need)
{
    if (need <= enc->capacity)
        return MAAS_OK;
    int cap = enc->capacity ? enc->capacity : 16;
    while (cap < need) {
        if (cap > INT32_MAX / 2)
            return maas_fail(MAAS_ERR_OVERFLOW, "an encoding of %d tokens is too long", need);
        cap *= 2;
    }
    void **fields[] = {
        (void **)&enc->ids,        (void **)&enc->type_ids,   (void **)&enc->sequence_ids,
        (void **)&enc->byte_start, (void **)&enc->byte_end,   (void **)&enc->char_start,
        (void **)&enc->char_end,   (void **)&enc->attention_mask,
    };
    const size_t sizes[] = {4, 4, 1, 4, 4, 4, 4, 1};
    for (size_t f = 0; f < sizeof sizes / sizeof sizes[0]; f++) {
        void *p = realloc(*fields[f], (size_t)cap * sizes[f]);
        if (!p)
            return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow an encoding to %d tokens", cap);
        *fields[f] = p;
    }
    enc->capacity = cap;
    return MAAS_OK;
}

maas_status tok_encoding_push(maas_encoding *enc, int32_t id, int32_t type_id, int8_t seq,
                              int32_t byte_start, int32_t byte_end, int32_t char_start,
                              int32_t char_end)
{
    if (enc->n == enc->capacity) {
        maas_status st = tok_encoding_reserve(enc, enc->n + 1);
        if (st != MAAS_OK)
            return st;
    }
    int i = enc->n++;
    enc->ids[i] = id;
    enc->type_ids[i] = type_id;
    enc->sequence_ids[i] = seq;
    enc->byte_start[i] = byte_start;
    enc->byte_end[i] = byte_end;
    enc->char_start[i] = char_start;
    enc->char_end[i] = char_end;
    enc->attention_mask[i] = 1;
    return MAAS_OK;
}

int32_t tok_find_special(const maas_tokenizer *tok, const char *text, size_t len, size_t *pos,
                         size_t *match_len)
{
    int32_t best = -1;
    size_t best_pos = len, best_len = 0;
    for (int i = 0; i < MAAS_SPECIAL_COUNT; i++) {
        int32_t id = tok->special[i];
        if (id < 0)
            continue;
        const char *s = tok->tokens[id];
        size_t n = tok->token_lens[id];
        const char *hit = memmem(text, len, s, n);
        if (!hit)
            continue;
        size_t at = (size_t)(hit - text);
        if (at < best_pos || (at == best_pos && n > best_len)) {
            best = id;
            best_pos = at;
            best_len = n;
        }
    }
    *pos = best_pos;
    *match_len = best_len;
    return best;
}

static maas_status encode_sequence(const maas_tokenizer *tok, const char *text, size_t len,
                                   bool parse_special, int8_t seq, maas_encoding *out)
{
    if (len > INT32_MAX / 2)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "text of %zu bytes is too long; split it below 1 GiB", len);
    if (!text && len > 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "text is NULL but its length is %zu", len);
    if (tok->kind == MAAS_TOKENIZER_BPE)
        return tok_bpe_encode(tok, text, len, parse_special, seq, out);
    return tok_wordpiece_encode(tok, text, len, parse_special, seq, out);
}

static maas_status push_special(const maas_tokenizer *tok, maas_special which, int32_t type_id,
                                maas_encoding *out)
{
    int32_t id = tok->special[which];
    if (id < 0)
        return maas_fail(MAAS_ERR_NOT_FOUND, "the vocabulary has no %s token",
                         special_strings[which]);
    return tok_encoding_push(out, id, type_id, -1, -1, -1, -1, -1);
}

maas_status maas_tokenizer_encode(const maas_tokenizer *tok, const char *text, size_t len,
                                  const maas_encode_options *opts, maas_encoding *out)
{
    maas_encode_options defaults = {0};
    if (!opts)
        opts = &defaults;
    if (!tok || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "tokenizer and output must not be NULL");

    maas_encoding enc = {0};
    bool wrap = opts->add_special && tok->kind == MAAS_TOKENIZER_WORDPIECE;
    maas_status st = MAAS_OK;
    if (wrap)
        st = push_special(tok, MAAS_SPECIAL_CLS, 0, &enc);
    if (st == MAAS_OK)
        st = encode_sequence(tok, text, len, opts->parse_special, 0, &enc);
    if (st == MAAS_OK && wrap)
        st = push_special(tok, MAAS_SPECIAL_SEP, 0, &enc);
    if (st != MAAS_OK) {
        maas_encoding_free(&enc);
        return st;
    }
    *out = enc;
    return MAAS_OK;
}

/* Removes tokens from the ends of a and b until they fit in `budget`
 * tokens, following Hugging Face's strategies. */
static maas_status truncate_pair(maas_truncation strategy, int budget, int *na, int *nb)
{
    int total = *na + *nb;
    if (total <= budget)
        return MAAS_OK;
    switch (strategy) {
    case MAAS_TRUNCATE_NONE:
        return maas_fail(MAAS_ERR_CONTEXT_FULL,
                         "the pair has %d tokens, more than the %d that fit; "
                         "choose a truncation strategy or raise max_length",
                         total, budget);
    case MAAS_TRUNCATE_ONLY_FIRST:
    case MAAS_TRUNCATE_ONLY_SECOND: {
        /* As in Hugging Face, the truncated sequence must keep at least
         * one token. */
        bool first = strategy == MAAS_TRUNCATE_ONLY_FIRST;
        int *target = first ? na : nb;
        int excess = total - budget;
        if (*target <= excess)
            return maas_fail(MAAS_ERR_CONTEXT_FULL,
                             "the pair has %d tokens and only %d fit, but the %s sequence has %d; "
                             "truncating only that sequence cannot make the pair fit",
                             total, budget, first ? "first" : "second", *target);
        *target -= excess;
        return MAAS_OK;
    }
    case MAAS_TRUNCATE_LONGEST_FIRST:
        /* The shorter sequence (the first on a tie) keeps up to half the
         * budget, rounded down, and the longer one takes the rest, which
         * matches Hugging Face tokenizers 0.23 on every tested length. */
        if (*na <= *nb) {
            *na = *na < budget / 2 ? *na : budget / 2;
            *nb = *nb < budget - *na ? *nb : budget - *na;
        } else {
            *nb = *nb < budget / 2 ? *nb : budget / 2;
            *na = *na < budget - *nb ? *na : budget - *nb;
        }
        return MAAS_OK;
    default:
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "unknown truncation strategy %d", (int)strategy);
    }
}

static maas_status append_part(maas_encoding *dst, const maas_encoding *src, int n, int32_t type_id)
{
    for (int i = 0; i < n; i++) {
        maas_status st = tok_encoding_push(dst, src->ids[i], type_id, src->sequence_ids[i],
                                           src->byte_start[i], src->byte_end[i],
                                           src->char_start[i], src->char_end[i]);
        if (st != MAAS_OK)
            return st;
    }
    return MAAS_OK;
}

maas_status maas_tokenizer_encode_pair(const maas_tokenizer *tok, const char *a, size_t a_len,
                                       const char *b, size_t b_len, const maas_pair_options *opts,
                                       maas_encoding *out)
{
    maas_pair_options defaults = {0};
    if (!opts)
        opts = &defaults;
    if (!tok || !out)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "tokenizer and output must not be NULL");
    if (opts->max_length < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT, "max_length %d is negative", opts->max_length);

    /* Step 1: encode both sequences without special tokens. */
    maas_encoding ea = {0}, eb = {0}, enc = {0};
    maas_status st = encode_sequence(tok, a, a_len, opts->parse_special, 0, &ea);
    if (st == MAAS_OK)
        st = encode_sequence(tok, b, b_len, opts->parse_special, 1, &eb);

    /* Step 2: truncate to the budget left after the special tokens. */
    bool bert = tok->kind == MAAS_TOKENIZER_WORDPIECE;
    int added = bert ? 3 : 0;
    int na = ea.n, nb = eb.n;
    if (st == MAAS_OK && opts->max_length > 0) {
        if (opts->max_length < added)
            st = maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                           "max_length %d leaves no room for the %d special tokens of a pair",
                           opts->max_length, added);
        else
            st = truncate_pair(opts->truncation, opts->max_length - added, &na, &nb);
    }

    /* Step 3: [CLS] a [SEP] b [SEP] for BERT, a b for GPT-2. */
    if (st == MAAS_OK && bert)
        st = push_special(tok, MAAS_SPECIAL_CLS, 0, &enc);
    if (st == MAAS_OK)
        st = append_part(&enc, &ea, na, 0);
    if (st == MAAS_OK && bert)
        st = push_special(tok, MAAS_SPECIAL_SEP, 0, &enc);
    if (st == MAAS_OK)
        st = append_part(&enc, &eb, nb, 1);
    if (st == MAAS_OK && bert)
        st = push_special(tok, MAAS_SPECIAL_SEP, 1, &enc);

    /* Step 4: padding. */
    if (st == MAAS_OK && opts->pad_to_max_length && opts->max_length > 0) {
        int32_t pad = tok->special[MAAS_SPECIAL_PAD];
        if (pad < 0 && enc.n < opts->max_length)
            st = maas_fail(MAAS_ERR_NOT_FOUND,
                           "padding needs a [PAD] token and the vocabulary has none");
        while (st == MAAS_OK && enc.n < opts->max_length) {
            st = tok_encoding_push(&enc, pad, 0, -1, -1, -1, -1, -1);
            if (st == MAAS_OK)
                enc.attention_mask[enc.n - 1] = 0;
        }
    }

    maas_encoding_free(&ea);
    maas_encoding_free(&eb);
    if (st != MAAS_OK) {
        maas_encoding_free(&enc);
        return st;
    }
    *out = enc;
    return MAAS_OK;
}
