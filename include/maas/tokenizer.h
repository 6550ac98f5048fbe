/* libmaas: tokenizers that give the same ids as Hugging Face.
 *
 * Two kinds: GPT-2's byte-level BPE and BERT's WordPiece (with BERT's basic
 * tokenizer in front).  A tokenizer is read-only after creation: any number
 * of threads may encode and decode with one tokenizer at once.  Its one
 * mutable part, the cache of BPE results for short pre-tokens, is guarded
 * by striped mutexes inside the tokenizer.  Text is UTF-8; offsets count
 * bytes and characters (Unicode code points) of the text passed in.
 * docs/TOKENIZERS.md describes the behaviour in more detail.
 */
#ifndef MAAS_TOKENIZER_H
#define MAAS_TOKENIZER_H

#include "maas/common.h"
#include "maas/file.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct maas_tokenizer maas_tokenizer;

/* Stable values, append-only (stored in files as the "tokenizer.model" string). */
typedef enum maas_tokenizer_kind {
    MAAS_TOKENIZER_BPE = 0,        /* GPT-2 byte-level BPE ("gpt2-bpe") */
    MAAS_TOKENIZER_WORDPIECE = 1,  /* BERT WordPiece ("wordpiece") */
    MAAS_TOKENIZER_KIND_COUNT
} maas_tokenizer_kind;

/* Special tokens; maas_tokenizer_special_id returns -1 for one the
 * vocabulary lacks.  GPT-2 has only MAAS_SPECIAL_EOS (<|endoftext|>). */
typedef enum maas_special {
    MAAS_SPECIAL_UNK = 0,
    MAAS_SPECIAL_CLS = 1,
    MAAS_SPECIAL_SEP = 2,
    MAAS_SPECIAL_PAD = 3,
    MAAS_SPECIAL_MASK = 4,
    MAAS_SPECIAL_EOS = 5,
    MAAS_SPECIAL_COUNT
} maas_special;

/* Builds the tokenizer stored in a .maas file's "tokenizer." keys:
 * tokenizer.model ("gpt2-bpe" or "wordpiece"), tokenizer.tokens,
 * tokenizer.merges (BPE), tokenizer.do_lower_case (default true),
 * tokenizer.strip_accents (default: do_lower_case) and
 * tokenizer.tokenize_chinese_chars (default true) for WordPiece, and the
 * optional special ids tokenizer.unk_id, cls_id, sep_id, pad_id, mask_id,
 * eos_id (absent ones are found by their usual strings).  The tokenizer
 * copies what it needs, so the file may be closed afterwards.  Errors:
 * MAAS_ERR_NOT_FOUND without tokenizer.model, MAAS_ERR_UNSUPPORTED for
 * another model name, MAAS_ERR_BAD_FORMAT for an inconsistent vocabulary. */
maas_status maas_tokenizer_from_file(const maas_file *f, maas_tokenizer **out);

/* Builds a GPT-2 tokenizer from Hugging Face's vocab.json and merges.txt
 * (or OpenAI's encoder.json and vocab.bpe, which have the same content). */
maas_status maas_tokenizer_load_bpe(const char *vocab_json_path,
                                    const char *merges_path,
                                    maas_tokenizer **out);

/* Builds a WordPiece tokenizer from a vocab.txt (one token per line, the
 * line number is the id).  do_lower_case also strips accents, as BERT's
 * uncased models do. */
maas_status maas_tokenizer_load_wordpiece(const char *vocab_txt_path,
                                          bool do_lower_case,
                                          maas_tokenizer **out);

void maas_tokenizer_free(maas_tokenizer *tok);

maas_tokenizer_kind maas_tokenizer_get_kind(const maas_tokenizer *tok);
int32_t maas_tokenizer_vocab_size(const maas_tokenizer *tok);
int32_t maas_tokenizer_special_id(const maas_tokenizer *tok, maas_special which);

/* Returns the vocabulary string of `id` (for BPE in GPT-2's byte-to-unicode
 * spelling, e.g. "Ġthe"), or NULL for an id outside the vocabulary. */
const char *maas_tokenizer_token_text(const maas_tokenizer *tok, int32_t id);

/* Returns the id of a vocabulary string, or -1. */
int32_t maas_tokenizer_token_id(const maas_tokenizer *tok, const char *text);

/* The result of encoding.  Arrays have `n` entries and are owned by the
 * encoding; free them with maas_encoding_free.  For each token:
 *   ids          token id
 *   type_ids     0 for the first sequence, 1 for the second (BERT pairs)
 *   sequence_ids 0 or 1 for the sequence the token came from, -1 for a
 *                special token
 *   byte_start, byte_end, char_start, char_end
 *                the token's span [start, end) in its own sequence's text,
 *                in bytes and in code points; -1 for special tokens added
 *                by add_special, pairs or padding.  Special-token text
 *                found in the input (parse_special) keeps its sequence id
 *                and span.  GPT-2 byte spans are the token's exact bytes
 *                (they tile the text); its char span covers every
 *                character the token touches, so a token that is part of
 *                one multi-byte character gets that character's span.  For
 *                GPT-2, each byte of invalid UTF-8 counts as one character.
 *                WordPiece spans cover the original characters the token
 *                was normalised from (accents, case, CJK spacing and
 *                dropped characters inside a word included), so
 *                text[byte_start, byte_end) cuts the token out of the
 *                original text.
 *   attention_mask 1 for a real token, 0 for padding (added field). */
typedef struct maas_encoding {
    int n;
    int32_t *ids;
    int32_t *type_ids;
    int8_t *sequence_ids;
    int32_t *byte_start, *byte_end;
    int32_t *char_start, *char_end;
    int8_t *attention_mask;
    int capacity;  /* internal: allocated entries */
} maas_encoding;

void maas_encoding_free(maas_encoding *enc);

/* Encodes one sequence into *out (zero it or free it first; on failure
 * *out is untouched).  add_special adds [CLS] ... [SEP] for WordPiece and
 * nothing for GPT-2.  Special-token text in the input (e.g. "[CLS]" or
 * "<|endoftext|>") becomes that special id only when parse_special is true;
 * otherwise it is tokenized as ordinary text.
 *
 * Defaults: opts may be NULL, which means add_special = false and
 * parse_special = false.  parse_special defaults to false, unlike Hugging
 * Face's encode, because text typed by a customer must not be able to end
 * the document (GPT-2's "<|endoftext|>") or forge a [SEP]; set it for
 * prompts you write yourself.  With parse_special true the ids equal
 * Hugging Face's default encode (added tokens split out first).
 *
 * Invalid UTF-8: GPT-2 encodes the raw bytes (lossless), each invalid byte
 * pre-tokenised like a punctuation character.  WordPiece returns
 * MAAS_ERR_INVALID_UTF8 with the byte offset in the message: replacing the
 * bytes would silently change what a BERT model reads, and Hugging Face's
 * tokenizers only accept valid UTF-8, so there is no reference behaviour to
 * match. */
typedef struct maas_encode_options {
    bool add_special;
    bool parse_special;
} maas_encode_options;

maas_status maas_tokenizer_encode(const maas_tokenizer *tok, const char *text,
                                  size_t len, const maas_encode_options *opts,
                                  maas_encoding *out);

/* Truncation of a pair that is longer than max_length, as Hugging Face
 * names the strategies. */
typedef enum maas_truncation {
    MAAS_TRUNCATE_NONE = 0,           /* MAAS_ERR_CONTEXT_FULL when too long */
    MAAS_TRUNCATE_LONGEST_FIRST = 1,  /* the shorter sequence (the first on a tie) keeps
                                         up to half the budget, the longer the rest */
    MAAS_TRUNCATE_ONLY_SECOND = 2,    /* drop from the second sequence only */
    MAAS_TRUNCATE_ONLY_FIRST = 3
} maas_truncation;

typedef struct maas_pair_options {
    int max_length;              /* 0: no limit */
    maas_truncation truncation;
    bool pad_to_max_length;      /* pad with [PAD] (type 0, sequence -1) up to max_length */
    bool parse_special;          /* as in maas_encode_options (added field; default false) */
} maas_pair_options;

/* Encodes [CLS] a [SEP] b [SEP] with type ids 0 for a and 1 for b. */
maas_status maas_tokenizer_encode_pair(const maas_tokenizer *tok,
                                       const char *a, size_t a_len,
                                       const char *b, size_t b_len,
                                       const maas_pair_options *opts,
                                       maas_encoding *out);

/* Decodes ids to text in a malloc'ed NUL-terminated string (free with free()).
 * GPT-2: exact bytes, so decode(encode(s)) == s.  WordPiece: tokens joined
 * as Hugging Face's decode does ("##" pieces glued, specials dropped when
 * skip_special).  MAAS_ERR_INVALID_ARGUMENT for an id outside the vocabulary. */
maas_status maas_tokenizer_decode(const maas_tokenizer *tok, const int32_t *ids,
                                  int n, bool skip_special, char **out,
                                  size_t *out_len);

/* Streaming decoder for generation: feed one id at a time and receive only
 * complete UTF-8; bytes of a character split across tokens are held back
 * until its last byte arrives.  A decoder belongs to one thread (one
 * generation); many decoders may share one tokenizer. */
typedef struct maas_decoder maas_decoder;

maas_status maas_decoder_create(const maas_tokenizer *tok, maas_decoder **out);
void maas_decoder_free(maas_decoder *dec);

/* Size of a buffer that always fits the output of one maas_decoder_push
 * or maas_decoder_flush for GPT-2's vocabulary.  Its longest token is 128
 * bytes.  With up to 3 held-back bytes before it, and each byte that cannot
 * become valid UTF-8 grown to the 3 bytes of U+FFFD, the longest output
 * over all 50,257 tokens is 137 bytes plus the NUL. */
#define MAAS_DECODER_BUFFER_SIZE 256

/* Writes the text that became complete with `id` to buf (up to cap bytes,
 * NUL-terminated) and its byte count to *len (0 while a character is still
 * incomplete).  Bytes that can never become valid UTF-8 come out as U+FFFD.
 * MAAS_DECODER_BUFFER_SIZE bytes always suffice for GPT-2, and 64 do for
 * all but a few long tokens.  When the text does not fit, the call returns
 * MAAS_ERR_INVALID_ARGUMENT and leaves the decoder unchanged, so the
 * caller can retry with a larger buffer.  WordPiece pieces come with their
 * leading space ("##" pieces glued), without decode's clean-up. */
maas_status maas_decoder_push(maas_decoder *dec, int32_t id, char *buf,
                              size_t cap, size_t *len);

/* Returns the bytes still held back (an incomplete sequence at the end of
 * generation), each invalid byte as U+FFFD, and resets the decoder. */
maas_status maas_decoder_flush(maas_decoder *dec, char *buf, size_t cap,
                               size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_TOKENIZER_H */
