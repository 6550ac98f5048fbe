/* GPT-2 byte-level BPE: pre-tokenisation with GPT-2's pattern, then merges
 * by rank inside each pre-token.
 *
 * The pattern, as OpenAI's encoder and Hugging Face's ByteLevel
 * pre-tokenizer write it:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * It is matched here by hand, alternative by alternative, over code points
 * classified by tok_gpt2_class.  A byte that is not valid UTF-8 counts as
 * one "other" character, so invalid input still splits somewhere sensible
 * and every byte reaches the BPE step. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* tok_gpt2_class of each ASCII character, filled on first use. */
static uint8_t ascii_class[128];
static pthread_once_t ascii_once = PTHREAD_ONCE_INIT;

static void fill_ascii_class(void)
{
    for (int c = 0; c < 128; c++)
        ascii_class[c] = (uint8_t)tok_gpt2_class(c);
}

/* Decodes the character at text[i]: its class and byte length (1 for an
 * invalid byte, which is classed as other). */
static inline int char_at(const unsigned char *text, size_t len, size_t i, int32_t *cp, int *cls)
{
    unsigned char b = text[i];
    if (b < 0x80) {
        *cp = b;
        *cls = ascii_class[b];
        return 1;
    }
    int n = tok_utf8_decode(text + i, len - i, cp);
    if (n == 0) {
        *cp = -1;
        *cls = TOK_GPT2_OTHER;
        return 1;
    }
    *cls = tok_gpt2_class(*cp);
    return n;
}

/* Returns the byte length of the pre-token that starts at text[i] and
 * stores its length in characters. */
static size_t next_pretoken(const unsigned char *text, size_t len, size_t i, size_t *n_chars)
{
    int32_t cp;
    int cls;
    size_t n = (size_t)char_at(text, len, i, &cp, &cls);

    /* 's 't 're 've 'm 'll 'd (lowercase only, as in GPT-2's pattern). */
    if (cp == '\'' && i + 1 < len) {
        unsigned char c1 = text[i + 1], c2 = i + 2 < len ? text[i + 2] : 0;
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
            *n_chars = 2;
            return 2;
        }
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
            *n_chars = 3;
            return 3;
        }
    }

    /* ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then
     * a run of one class. */
    size_t start = i, chars = 0;
    int run_class = cls;
    if (cp == ' ' && i + 1 < len) {
        int32_t cp2;
        int cls2;
        int n2 = char_at(text, len, i + 1, &cp2, &cls2);
        if (cls2 != TOK_GPT2_SPACE) {
            run_class = cls2;
            i += 1;
            chars = 1;
            n = (size_t)n2;
        }
    }
    if (run_class != TOK_GPT2_SPACE) {
        for (;;) {
            i += n;
            chars++;
            if (i >= len)
                break;
            int c;
            n = (size_t)char_at(text, len, i, &cp, &c);
            if (c != run_class)
                break;
        }
        *n_chars = chars;
        return i - start;
    }

    /* `\s+(?!\S)` then `\s+`: a run of whitespace gives up its last
     * character when text follows, so that character can join the next
     * word as its optional leading space. */
    size_t last = i;
    for (;;) {
        last = i;
        i += n;
        chars++;
        if (i >= len)
            break;
        int c;
        n = (size_t)char_at(text, len, i, &cp, &c);
        if (c != TOK_GPT2_SPACE)
            break;
    }
    if (i < len && chars >= 2) {
        *n_chars = chars - 1;
        return last - start;
    }
    *n_chars = chars;
    return i - start;
}

/* ---- merges ------------------------------------------------------------- */

typedef struct bpe_symbol {
    int32_t id;
    int32_t prev, next;
    int32_t len;    /* bytes; 0 once merged into its left neighbour */
} bpe_symbol;

typedef struct bpe_candidate {
    int32_t rank;
    int32_t pos;
    int32_t merged;
} bpe_candidate;

/* Min-heap ordered by rank, then by position, as Hugging Face's BPE
 * orders its merge queue. */
static inline bool candidate_before(const bpe_candidate *a, const bpe_candidate *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(bpe_candidate *heap, int *n, bpe_candidate c)
{
    int i = (*n)++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!candidate_before(&c, &heap[parent]))
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = c;
}

static bpe_candidate heap_pop(bpe_candidate *heap, int *n)
{
    bpe_candidate top = heap[0];
    bpe_candidate last = heap[--(*n)];
    int i = 0;
    for (;;) {
        int child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && candidate_before(&heap[child + 1], &heap[child]))
            child++;
        if (!candidate_before(&heap[child], &last))
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n > 0)
        heap[i] = last;
    return top;
}

static void push_pair(const maas_tokenizer *tok, const bpe_symbol *sym, int32_t left,
                      bpe_candidate *heap, int *n_heap)
{
    int32_t right = sym[left].next;
    if (right < 0)
        return;
    int32_t rank, merged;
    if (tok_pairmap_get(&tok->merges, sym[left].id, sym[right].id, &rank, &merged))
        heap_push(heap, n_heap, (bpe_candidate){rank, left, merged});
}

/* Splits one pre-token into token ids (ids has room for len entries);
 * returns the id count.  sym has room for len symbols and heap for 3 * len
 * candidates: len - 1 initial pairs plus at most two per merge. */
static int bpe_word(const maas_tokenizer *tok, const unsigned char *word, int len, int32_t *ids,
                    bpe_symbol *sym, bpe_candidate *heap)
{
    /* Step 1: one symbol per byte. */
    for (int i = 0; i < len; i++) {
        sym[i].id = tok->byte_ids[word[i]];
        sym[i].prev = i - 1;
        sym[i].next = i + 1 < len ? i + 1 : -1;
        sym[i].len = 1;
    }

    /* Step 2: merge the lowest-ranked adjacent pair until none is left;
     * a queued candidate is stale when either symbol changed since. */
    int n_heap = 0;
    for (int i = 0; i + 1 < len; i++)
        push_pair(tok, sym, i, heap, &n_heap);
    while (n_heap > 0) {
        bpe_candidate top = heap_pop(heap, &n_heap);
        bpe_symbol *left = &sym[top.pos];
        if (left->len == 0 || left->next < 0)
            continue;
        int32_t right_pos = left->next;
        int32_t rank, merged;
        if (!tok_pairmap_get(&tok->merges, left->id, sym[right_pos].id, &rank, &merged) ||
            merged != top.merged)
            continue;

        left->id = merged;
        left->len += sym[right_pos].len;
        left->next = sym[right_pos].next;
        sym[right_pos].len = 0;
        if (left->next >= 0)
            sym[left->next].prev = top.pos;

        if (left->prev >= 0)
            push_pair(tok, sym, left->prev, heap, &n_heap);
        push_pair(tok, sym, top.pos, heap, &n_heap);
    }

    /* Step 3: read the surviving symbols left to right. */
    int n = 0;
    for (int i = 0; i >= 0; i = sym[i].next)
        ids[n++] = sym[i].id;
    return n;
}

/* ---- cache -------------------------------------------------------------- */

static bool cache_get(tok_cache *cache, const unsigned char *word, int len, int32_t *ids, int *n)
{
    uint32_t slot = tok_hash((const char *)word, (size_t)len) & (TOK_CACHE_SLOTS - 1);
    pthread_mutex_t *lock = &cache->locks[slot % TOK_CACHE_STRIPES];
    tok_cache_slot *s = &cache->slots[slot];
    bool hit = false;
    pthread_mutex_lock(lock);
    if (s->key_len == len && memcmp(s->key, word, (size_t)len) == 0) {
        memcpy(ids, s->ids, (size_t)s->n_ids * sizeof *ids);
        *n = s->n_ids;
        hit = true;
    }
    pthread_mutex_unlock(lock);
    return hit;
}

static void cache_put(tok_cache *cache, const unsigned char *word, int len, const int32_t *ids, int n)
{
    if (len > TOK_CACHE_KEY_MAX || n > TOK_CACHE_IDS_MAX)
        return;
    uint32_t slot = tok_hash((const char *)word, (size_t)len) & (TOK_CACHE_SLOTS - 1);
    pthread_mutex_t *lock = &cache->locks[slot % TOK_CACHE_STRIPES];
    tok_cache_slot *s = &cache->slots[slot];
    pthread_mutex_lock(lock);
    s->key_len = (uint8_t)len;
    s->n_ids = (uint8_t)n;
    memcpy(s->key, word, (size_t)len);
    memcpy(s->ids, ids, (size_t)n * sizeof *ids);
    pthread_mutex_unlock(lock);
}

/* ---- encoding ----------------------------------------------------------- */

/* Scratch space reused across the pre-tokens of one call. */
typedef struct bpe_scratch {
    int cap;
    int32_t *ids;
    bpe_symbol *sym;
    bpe_candidate *heap;
    int32_t *char_of_byte;
} bpe_scratch;

static maas_status scratch_reserve(bpe_scratch *s, int len)
{
    if (len <= s->cap)
        return MAAS_OK;
    int cap = s->cap ? s->cap : 64;
    while (cap < len)
        cap *= 2;
    free(s->ids);
    free(s->sym);
    free(s->heap);
    free(s->char_of_byte);
    s->ids = malloc((size_t)cap * sizeof *s->ids);
    s->sym = malloc((size_t)cap * sizeof *s->sym);
    s->heap = malloc((size_t)cap * 3 * sizeof *s->heap);
    s->char_of_byte = malloc((size_t)(cap + 1) * sizeof *s->char_of_byte);
    s->cap = cap;
    if (!s->ids || !s->sym || !s->heap || !s->char_of_byte) {
        s->cap = 0;
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate BPE space for a %d-byte word", len);
    }
    return MAAS_OK;
}

static void scratch_free(bpe_scratch *s)
{
    free(s->ids);
    free(s->sym);
    free(s->heap);
    free(s->char_of_byte);
}

/* Encodes text[0..len), which contains no special token.  base_byte and
 * base_char locate it in the caller's text. */
static maas_status encode_segment(const maas_tokenizer *tok, const unsigned char *text, size_t len,
                                  int32_t base_byte, int32_t base_char, int8_t seq,
                                  bpe_scratch *scratch, maas_encoding *out)
{
    size_t pos = 0;
    int32_t char_pos = base_char;
    int32_t cached[TOK_CACHE_IDS_MAX];
    while (pos < len) {
        size_t n_chars;
        size_t n = next_pretoken(text, len, pos, &n_chars);
        const unsigned char *word = text + pos;
        int32_t *ids;
        int n_ids;
        bool ascii = n_chars == n;

        /* Step 1: ids of the pre-token, from the cache when it is there. */
        if (n == 1) {
            cached[0] = tok->byte_ids[word[0]];
            ids = cached;
            n_ids = 1;
        } else if (n <= TOK_CACHE_KEY_MAX && cache_get(tok->cache, word, (int)n, cached, &n_ids)) {
            ids = cached;
        } else {
            maas_status st = scratch_reserve(scratch, (int)n);
            if (st != MAAS_OK)
                return st;
            n_ids = bpe_word(tok, word, (int)n, scratch->ids, scratch->sym, scratch->heap);
            ids = scratch->ids;
            cache_put(tok->cache, word, (int)n, ids, n_ids);
        }

        /* Step 2: the character index of each byte, for char spans. */
        if (!ascii) {
            maas_status st = scratch_reserve(scratch, (int)n);
            if (st != MAAS_OK)
                return st;
            int32_t c = char_pos;
            for (size_t b = 0; b < n;) {
                int32_t cp;
                int cls;
                int k = char_at(word, n, b, &cp, &cls);
                for (int j = 0; j < k; j++)
                    scratch->char_of_byte[b + (size_t)j] = c;
                b += (size_t)k;
                c++;
            }
        }

        /* Step 3: append the tokens with their spans. */
        int32_t at = 0;
        for (int t = 0; t < n_ids; t++) {
            int32_t nb = (int32_t)tok->token_nbytes[ids[t]];
            int32_t cs, ce;
            if (ascii) {
                cs = char_pos + at;
                ce = char_pos + at + nb;
            } else {
                cs = scratch->char_of_byte[at];
                ce = scratch->char_of_byte[at + nb - 1] + 1;
            }
            int32_t bs = base_byte + (int32_t)pos + at;
            maas_status st = tok_encoding_push(out, ids[t], 0, seq, bs, bs + nb, cs, ce);
            if (st != MAAS_OK)
                return st;
            at += nb;
        }
        MAAS_ASSERT((size_t)at == n);
        pos += n;
        char_pos += (int32_t)n_chars;
    }
    return MAAS_OK;
}

/* Counts characters as the pre-tokenizer does (an invalid byte is one). */
static int32_t count_chars(const unsigned char *text, size_t len)
{
    int32_t chars = 0;
    for (size_t i = 0; i < len; chars++) {
        int32_t cp;
        int cls;
        i += (size_t)char_at(text, len, i, &cp, &cls);
    }
    return chars;
}

maas_status tok_bpe_encode(const maas_tokenizer *tok, const char *text, size_t len,
                           bool parse_special, int8_t seq, maas_encoding *out)
{
    const unsigned char *u = (const unsigned char *)text;
    bpe_scratch scratch = {0};
    pthread_once(&ascii_once, fill_ascii_class);
    maas_status st = tok_encoding_reserve(out, out->n + (int)(len / 3) + 4);
    size_t pos = 0;
    int32_t char_pos = 0;
    while (st == MAAS_OK && pos < len) {
        size_t at = len - pos, match = 0;
        int32_t special = -1;
        if (parse_special)
            special = tok_find_special(tok, text + pos, len - pos, &at, &match);
        st = encode_segment(tok, u + pos, at, (int32_t)pos, char_pos, seq, &scratch, out);
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
    scratch_free(&scratch);
    return st;
}
