/* libmaas: matching customer questions to a file of FAQ entries with
 * sentence embeddings (a BERT model such as all-MiniLM-L6-v2).
 *
 * The FAQ file is UTF-8 text:
 *   # A line starting with '#' is a comment.
 *   Q: Where is my order?
 *   Q: How can I track my parcel?
 *   A: Open "My orders" and choose Track.  The answer may continue on
 *   the following lines until a blank line or the next "Q:".
 * An entry is one or more "Q:" lines (ways a customer may ask) followed by
 * one "A:" answer.  A customer question is compared with every "Q:" line by
 * cosine similarity; an entry scores the best of its questions.
 *
 * A maas_faq is read-only after maas_faq_embed: several threads may search
 * it at once, each with its own maas_bert_context.
 */
#ifndef MAAS_FAQ_H
#define MAAS_FAQ_H

#include "maas/bert.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct maas_faq maas_faq;

/* Cosine similarity below which maas-faq answers "I don't know".  Chosen on
 * examples/data/shop-faq.txt with all-MiniLM-L6-v2: its paraphrase test set
 * (tests/fixtures/shop-faq-paraphrases.tsv) scores 0.39 and above on the
 * intended entries, off-topic questions 0.26 and below.  Another model or
 * FAQ may need another value. */
#define MAAS_FAQ_DEFAULT_THRESHOLD 0.35f

typedef struct maas_faq_match {
    int entry;         /* index of the entry, 0 .. maas_faq_count - 1 */
    int question;      /* index of its best-matching "Q:" line within the entry */
    float similarity;  /* cosine similarity, -1 .. 1 */
} maas_faq_match;

/* Reads and parses a FAQ file.  MAAS_ERR_IO when it cannot be read;
 * MAAS_ERR_BAD_FORMAT naming the line for an answer without a question, a
 * question without an answer (before a blank line, another entry or the
 * end of the file), an empty question or answer, or a file with no
 * entries. */
maas_status maas_faq_load(const char *path, maas_faq **out);

void maas_faq_free(maas_faq *faq);

/* Sets what maas_faq_embed and maas_faq_search do with a text longer than
 * the model's embedding limit (maas_embed_options.max_length): false (the
 * default) fails with MAAS_ERR_CONTEXT_FULL, true cuts it as
 * sentence-transformers does.  Call it before maas_faq_embed. */
void maas_faq_set_truncate(maas_faq *faq, bool truncate);

int maas_faq_count(const maas_faq *faq);
int maas_faq_question_count(const maas_faq *faq, int entry);
/* The strings are owned by the faq; NULL for an index out of range. */
const char *maas_faq_question(const maas_faq *faq, int entry, int question);
const char *maas_faq_answer(const maas_faq *faq, int entry);

/* Embeds every "Q:" line with ctx's model (its pooling, always L2
 * normalised).  With cache_path, reuses the embeddings stored there when
 * they were made from the same FAQ text and the same model file (path,
 * size and modification time) and pass a check (checksum, finite values,
 * unit norms), and otherwise writes them there.  A cache that fails the
 * check is rebuilt with a warning; one that cannot be written only logs
 * a warning.  *from_cache (may be NULL)
 * tells which happened.  Errors: those of maas_bert_embed. */
maas_status maas_faq_embed(maas_faq *faq, maas_bert_context *ctx, const char *cache_path,
                           bool *from_cache);

/* Finds the k entries most similar to `query`, best first, in out[k];
 * *n_out receives min(k, entries).  Needs maas_faq_embed first (with a
 * context of the same model).  MAAS_ERR_INVALID_ARGUMENT for k < 1, an
 * empty query or a FAQ not embedded yet; errors of maas_bert_embed. */
maas_status maas_faq_search(const maas_faq *faq, maas_bert_context *ctx, const char *query,
                            int k, maas_faq_match *out, int *n_out);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_FAQ_H */
