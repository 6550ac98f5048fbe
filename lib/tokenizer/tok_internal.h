/* Internal layout of maas_tokenizer, shared by the tokenizer sources. */
#ifndef MAAS_TOK_INTERNAL_H
#define MAAS_TOK_INTERNAL_H

#include <pthread.h>

#include "internal.h"
#include "maas/tokenizer.h"

/* ---- hash maps (tok_map.c) ------------------------------------------- */

/* String -> id map over strings owned elsewhere (the tokenizer's arena).
 * Open addressing with linear probing; slots store the hash and the id. */
typedef struct tok_strmap {
    uint32_t mask;             /* slot count - 1 (a power of two) */
    uint32_t *hashes;          /* [slots] full 32-bit hash, 0 for empty */
    int32_t *ids;              /* [slots] */
    const char *const *keys;   /* [vocab] key strings by id */
    const uint32_t *key_lens;  /* [vocab] */
} tok_strmap;

maas_status tok_strmap_init(tok_strmap *m, uint32_t capacity,
                            const char *const *keys, const uint32_t *key_lens);
void tok_strmap_free(tok_strmap *m);
/* Inserts `id` (whose key is keys[id]); a later id with an equal key
 * replaces the earlier one, as Hugging Face's vocabulary maps do. */
void tok_strmap_put(tok_strmap *m, int32_t id);
int32_t tok_strmap_get(const tok_strmap *m, const char *s, size_t len);
uint32_t tok_hash(const char *s, size_t len);

/* Pair of ids -> (rank, merged id) map for BPE merges. */
typedef struct tok_pairmap {
    uint32_t mask;
    uint64_t *keys;   /* [slots] (left << 32 | right) + 1, 0 for empty */
    int32_t *ranks;   /* [slots] */
    int32_t *merged;  /* [slots] id of the merged token */
} tok_pairmap;

maas_status tok_pairmap_init(tok_pairmap *m, uint32_t capacity);
void tok_pairmap_free(tok_pairmap *m);
/* A pair that repeats keeps its last rank, as Hugging Face's merge map
 * (built by collecting into a HashMap) does. */
void tok_pairmap_put(tok_pairmap *m, int32_t left, int32_t right, int32_t rank,
                     int32_t merged);
/* Returns false when the pair has no merge. */
bool tok_pairmap_get(const tok_pairmap *m, int32_t left, int32_t right,
                     int32_t *rank, int32_t *merged);

/* ---- Unicode helpers (tok_unicode.c) ---------------------------------- */

/* Decodes one UTF-8 sequence at s[0..len).  Returns its byte length and
 * stores the code point, or returns 0 for an invalid or truncated sequence
 * (overlong forms, surrogates and values past U+10FFFF are invalid). */
int tok_utf8_decode(const unsigned char *s, size_t len, int32_t *cp);
/* Writes cp as UTF-8 (1 to 4 bytes) and returns the byte count. */
int tok_utf8_encode(int32_t cp, char *out);

/* Character classes of GPT-2's pre-tokenisation pattern. */
enum { TOK_GPT2_LETTER = 0, TOK_GPT2_NUMBER = 1, TOK_GPT2_SPACE = 2, TOK_GPT2_OTHER = 3 };
int tok_gpt2_class(int32_t cp);

/* BERT's character tests, as Hugging Face's BertNormalizer and
 * BertPreTokenizer define them. */
bool tok_bert_is_whitespace(int32_t cp);
bool tok_bert_is_control(int32_t cp);
bool tok_bert_is_punctuation(int32_t cp);
bool tok_bert_is_chinese(int32_t cp);
/* Writes the normalised form of cp to out and returns its code point count
 * (at most TOK_NORM_MAX).  The form is NFD without nonspacing marks when
 * strip_accents is set, then lowercased when lower is set. */
#define TOK_NORM_MAX 24
int tok_bert_normalize_char(int32_t cp, bool strip_accents, bool lower,
                            int32_t *out);

/* ---- the tokenizer ----------------------------------------------------- */

/* A cache of BPE results for short pre-tokens, shared by all threads that
 * use one tokenizer.  Direct-mapped (a new word replaces the old one in its
 * slot) and guarded by one mutex per stripe of slots, so lookups from
 * different threads rarely wait on each other. */
#define TOK_CACHE_SLOTS 16384
#define TOK_CACHE_STRIPES 64
#define TOK_CACHE_KEY_MAX 30
#define TOK_CACHE_IDS_MAX 14
typedef struct tok_cache_slot {
    uint8_t key_len;   /* 0: empty */
    uint8_t n_ids;
    char key[TOK_CACHE_KEY_MAX];
    int32_t ids[TOK_CACHE_IDS_MAX];
} tok_cache_slot;

typedef struct tok_cache {
    pthread_mutex_t locks[TOK_CACHE_STRIPES];
    tok_cache_slot *slots;  /* [TOK_CACHE_SLOTS] */
} tok_cache;

struct maas_tokenizer {
    maas_tokenizer_kind kind;
    int32_t vocab_size;
    char **tokens;          /* [vocab] NUL-terminated strings in `arena` */
    uint32_t *token_lens;   /* [vocab] */
    char *arena;
    tok_strmap vocab;
    int32_t special[MAAS_SPECIAL_COUNT];
    uint32_t max_token_len; /* bytes of the longest vocabulary string */

    /* BPE */
    tok_pairmap merges;
    int32_t byte_ids[256];    /* id of the token spelling each single byte */
    uint8_t **token_bytes;    /* [vocab] raw bytes each token stands for */
    uint32_t *token_nbytes;   /* [vocab] */
    uint8_t *bytes_arena;
    tok_cache *cache;

    /* WordPiece */
    bool do_lower_case;
    bool strip_accents;
    bool tokenize_chinese_chars;
    int max_input_chars_per_word;   /* longer words become [UNK]: 100 */
};

/* Everything the builder needs, whether it comes from vocabulary files or
 * from a .maas file's "tokenizer." keys.  Strings are copied. */
typedef struct tok_spec {
    maas_tokenizer_kind kind;
    uint32_t n_tokens;
    const char *const *tokens;
    const uint32_t *token_lens;    /* may be NULL for C strings */
    uint32_t n_merges;
    const char *const *merges;     /* "left right" by rank */
    const uint32_t *merge_lens;    /* may be NULL */
    bool do_lower_case;
    bool strip_accents;
    bool tokenize_chinese_chars;
    int32_t special[MAAS_SPECIAL_COUNT];  /* -1: look the usual string up */
} tok_spec;

void tok_spec_defaults(tok_spec *spec, maas_tokenizer_kind kind);
maas_status tok_build(const tok_spec *spec, maas_tokenizer **out);

/* Grows an encoding's arrays to hold at least `need` tokens. */
maas_status tok_encoding_reserve(maas_encoding *enc, int need);

/* Appends one token to an encoding, growing its arrays. */
maas_status tok_encoding_push(maas_encoding *enc, int32_t id, int32_t type_id,
                              int8_t seq, int32_t byte_start, int32_t byte_end,
                              int32_t char_start, int32_t char_end);

/* Encoders of one sequence without special tokens around it.  Spans are
 * relative to `text`; seq is the sequence id stored with each token. */
maas_status tok_bpe_encode(const maas_tokenizer *tok, const char *text, size_t len,
                           bool parse_special, int8_t seq, maas_encoding *out);
maas_status tok_wordpiece_encode(const maas_tokenizer *tok, const char *text,
                                 size_t len, bool parse_special, int8_t seq,
                                 maas_encoding *out);

/* Finds the leftmost (then longest) special-token string in text[0..len)
 * that the vocabulary has; returns its id and stores its byte position, or
 * returns -1. */
int32_t tok_find_special(const maas_tokenizer *tok, const char *text, size_t len,
                         size_t *pos, size_t *match_len);

#endif /* MAAS_TOK_INTERNAL_H */
