/* libmaas: BERT encoders: hidden states, sentence embeddings and extractive
 * question answering.
 *
 * Two objects:
 *   maas_bert          the model: weights (views into a .maas file), config
 *                      and tokenizer.  Read-only after maas_bert_load, so any
 *                      number of threads may share one model.
 *   maas_bert_context  the working memory of one forward pass at a time: one
 *                      arena sized when the context is created, so a forward
 *                      pass never calls malloc.  A context is used by one
 *                      thread at a time; a server gives each worker its own.
 *
 * The encoder is the one of Hugging Face's BertModel: word + position +
 * token-type embeddings, LayerNorm, then post-LayerNorm blocks (self-attention,
 * add, LayerNorm, GELU feed-forward with the exact erf form, add, LayerNorm),
 * with the LayerNorm epsilon from the file's config.
 *
 * Batches are packed: the sequences of a batch lie back to back, with no
 * padding, and each sequence attends only to its own tokens.  A sequence
 * therefore gets the same output in any batch as alone (what a padding mask
 * gives in a padded batch), and a batch costs about its real tokens.
 *
 * Errors follow maas/common.h: a status, the message in maas_last_error().
 * Positions: a sequence longer than the model's max_position_embeddings gives
 * MAAS_ERR_CONTEXT_FULL.
 */
#ifndef MAAS_BERT_H
#define MAAS_BERT_H

#include "maas/common.h"
#include "maas/file.h"
#include "maas/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct maas_bert maas_bert;
typedef struct maas_bert_context maas_bert_context;

/* Pooling of a sequence's last hidden state into one vector, as
 * sentence-transformers' Pooling module does it.  Stable values, append-only. */
typedef enum maas_pooling {
    MAAS_POOLING_MEAN = 0,  /* mean over the sequence's tokens */
    MAAS_POOLING_CLS = 1,   /* the first token ([CLS]) */
    MAAS_POOLING_MAX = 2,   /* element-wise maximum over the tokens */
    MAAS_POOLING_COUNT
} maas_pooling;

/* Returns "mean", "cls" or "max", or NULL for an invalid value. */
const char *maas_pooling_name(maas_pooling pooling);

/* Parses a name returned by maas_pooling_name.  MAAS_ERR_INVALID_ARGUMENT
 * for any other string. */
maas_status maas_pooling_from_name(const char *name, maas_pooling *out);

/* Hyperparameters, read from the file's config keys (see docs/FORMAT.md). */
typedef struct maas_bert_config {
    int n_layers;             /* num_hidden_layers */
    int n_heads;              /* num_attention_heads */
    int hidden_size;          /* C */
    int intermediate_size;    /* feed-forward width */
    int max_positions;        /* max_position_embeddings: the longest sequence */
    int vocab_size;           /* V */
    int type_vocab_size;      /* token types (2 for BERT) */
    float layer_norm_eps;
    bool has_qa_head;         /* qa_outputs.weight/bias are present */
    bool has_pooler;          /* pooler.dense is present (not used by any head) */
    bool has_pooling_config;  /* the file has sentence-transformers "pooling.*" keys */
    maas_pooling pooling;     /* "pooling.mode"; MAAS_POOLING_MEAN when absent */
    bool normalize;           /* "pooling.normalize"; false when absent */
    int embed_max_length;     /* "pooling.max_seq_length": sentence-transformers'
                                 token limit per text; 0 when absent */
} maas_bert_config;

/* ---- model ---------------------------------------------------------------- */

/* Builds a BERT model from an open .maas file whose architecture is "bert".
 * Checks every hyperparameter and every tensor's shape; 2-D weights may be
 * f32 or f16.  The model views the file's tensors, so `file` must stay open
 * until maas_bert_free.  The tokenizer is built from the file's "tokenizer."
 * keys when present (text functions need it).
 * Errors: MAAS_ERR_UNSUPPORTED for another architecture, a hidden_act other
 * than "gelu", or hidden_size not divisible by num_attention_heads;
 * MAAS_ERR_NOT_FOUND for a missing config key; MAAS_ERR_MISSING_TENSOR and
 * MAAS_ERR_SHAPE_MISMATCH naming the tensor; MAAS_ERR_OUT_OF_MEMORY. */
maas_status maas_bert_load(const maas_file *file, maas_bert **out);

/* Opens the .maas file at `path` and builds the model on it; the model owns
 * the file and closes it in maas_bert_free.  Errors: those of maas_file_open
 * and maas_bert_load. */
maas_status maas_bert_open(const char *path, maas_bert **out);

/* Frees the model (and the file when maas_bert_open opened it).  Free every
 * context of the model first.  Accepts NULL. */
void maas_bert_free(maas_bert *model);

/* Returns the model's hyperparameters; valid until maas_bert_free. */
const maas_bert_config *maas_bert_get_config(const maas_bert *model);

/* Returns the model's tokenizer, or NULL when the file has none.  Owned by
 * the model; read-only and safe to use from any thread. */
const maas_tokenizer *maas_bert_get_tokenizer(const maas_bert *model);

/* ---- context -------------------------------------------------------------- */

typedef struct maas_bert_context_params {
    int max_tokens;   /* tokens per forward pass, summed over a batch */
    int max_seq_len;  /* longest sequence in a batch, <= max_positions */
    int n_threads;    /* kernel threads; <= 0 means every core */
} maas_bert_context_params;

/* Fills the defaults: max_seq_len = the model's max_positions, max_tokens =
 * the larger of 2048 and max_seq_len, n_threads = 0 (every core). */
void maas_bert_context_params_default(const maas_bert *model,
                                      maas_bert_context_params *params);

/* Creates a context and its arena, sized from the model and `params` (NULL
 * means the defaults).  MAAS_ERR_INVALID_ARGUMENT for max_seq_len outside
 * 1..max_positions or max_tokens < max_seq_len; MAAS_ERR_OUT_OF_MEMORY. */
maas_status maas_bert_context_create(const maas_bert *model,
                                     const maas_bert_context_params *params,
                                     maas_bert_context **out);

/* Frees the context.  Accepts NULL. */
void maas_bert_context_free(maas_bert_context *ctx);

/* Returns the parameters the context was created with (defaults resolved). */
maas_bert_context_params maas_bert_context_get_params(const maas_bert_context *ctx);

/* ---- forward pass on token ids ------------------------------------------- */

/* A packed batch: n_seqs sequences of token ids back to back.
 *   seq_lens[n_seqs]  each >= 1 (include [CLS] and [SEP] yourself)
 *   ids[sum T]        token ids, 0 .. vocab_size-1
 *   type_ids[sum T]   token types, 0 .. type_vocab_size-1; NULL means all 0
 * Position ids restart at 0 for every sequence. */
typedef struct maas_bert_batch {
    int n_seqs;
    const int *seq_lens;
    const int32_t *ids;
    const int32_t *type_ids;
} maas_bert_batch;

/* Each of the three calls below runs the encoder on `batch` and writes one
 * head's output to caller memory.  Errors common to all:
 *   MAAS_ERR_INVALID_ARGUMENT  n_seqs < 1, a length < 1, an id or type id
 *                              out of range (named), more tokens than the
 *                              context's max_tokens, or a sequence longer than
 *                              its max_seq_len (create a larger context or
 *                              split the batch)
 *   MAAS_ERR_CONTEXT_FULL      a sequence longer than max_positions
 *   MAAS_ERR_NON_FINITE        a NaN or infinity in the output */

/* out[sum T, C]: the last hidden state of every token, sequences back to back. */
maas_status maas_bert_hidden(maas_bert_context *ctx, const maas_bert_batch *batch,
                             float *out);

/* start[sum T], end[sum T]: the question-answering head's logits.
 * MAAS_ERR_UNSUPPORTED when the model has no qa_outputs. */
maas_status maas_bert_qa_logits(maas_bert_context *ctx, const maas_bert_batch *batch,
                                float *start, float *end);

/* out[n_seqs, C]: each sequence's pooled last hidden state, scaled to unit L2
 * norm when `normalize` is true (a zero vector stays zero). */
maas_status maas_bert_pool(maas_bert_context *ctx, const maas_bert_batch *batch,
                           maas_pooling pooling, bool normalize, float *out);

/* ---- sentence embeddings from text --------------------------------------- */

typedef struct maas_embed_options {
    maas_pooling pooling;
    bool normalize;
    int max_length;  /* tokens per text incl. [CLS] and [SEP]; 0 or a value above
                        the context's max_seq_len means that max_seq_len */
    bool truncate;   /* true: cut longer texts to max_length (as sentence-transformers
                        does); false: MAAS_ERR_CONTEXT_FULL */
} maas_embed_options;

/* Fills the options from the file: its pooling mode and normalisation (mean,
 * not normalised, when the file has no sentence-transformers config),
 * max_length = the file's "pooling.max_seq_length" (sentence-transformers'
 * max_seq_length, e.g. 256 for all-MiniLM-L6-v2) or 0 when absent, and
 * truncate false, so a longer text fails instead of being embedded in part. */
void maas_embed_options_default(const maas_bert *model, maas_embed_options *opts);

/* Embeds n_texts NUL-terminated UTF-8 texts: tokenizes each as [CLS] text
 * [SEP], runs them in packed batches that fit the context, and writes
 * out[n_texts, C].  opts NULL means maas_embed_options_default.
 * An empty text is embedded as [CLS] [SEP], as sentence-transformers does.
 * Errors: those of maas_bert_pool, MAAS_ERR_UNSUPPORTED when the model has
 * no tokenizer, MAAS_ERR_INVALID_UTF8 naming the text and byte, and
 * MAAS_ERR_CONTEXT_FULL naming the text (0-based index), its token count and
 * max_length for a longer text when truncate is false. */
maas_status maas_bert_embed(maas_bert_context *ctx, const char *const *texts,
                            int n_texts, const maas_embed_options *opts,
                            float *out);

/* ---- extractive question answering --------------------------------------- */

/* Options with the meaning and defaults of Hugging Face's question-answering
 * pipeline (transformers 4.x QuestionAnsweringPipeline). */
typedef struct maas_qa_options {
    int max_seq_len;     /* window length in tokens, question and specials
                            included; 0: min(384, max_positions) */
    int doc_stride;      /* context tokens shared by consecutive windows;
                            -1: min(max_seq_len / 2, 128) */
    int max_answer_len;  /* longest answer in tokens (15) */
    int top_k;           /* answers returned (1) */
    bool handle_impossible_answer;  /* also offer the empty answer, scored by
                                       the [CLS] probabilities (false) */
    bool align_to_words; /* widen an answer to whole words (true) */
} maas_qa_options;

/* Fills the defaults listed above. */
void maas_qa_options_default(maas_qa_options *opts);

typedef struct maas_qa_answer {
    char *text;        /* the exact bytes context[byte_start, byte_end), NUL-terminated */
    int start, end;    /* character (code point) offsets [start, end) in the context */
    int byte_start, byte_end;
    float score;       /* start probability x end probability, summed when the
                          same text (compared case-insensitively) is found
                          several times; the offsets are then those of the
                          first span found (earliest window, best score) */
} maas_qa_answer;

/* The result of maas_bert_qa, owned by the caller: free it with
 * maas_qa_result_free. */
typedef struct maas_qa_result {
    int n_answers;             /* 0 .. top_k; 0 means no answer */
    maas_qa_answer *answers;   /* best first; the empty answer of
                                  handle_impossible_answer has text "" and
                                  offsets 0 */
    int n_windows;             /* windows the context was cut into */
    int first_window_len;      /* tokens in the first window */
    float *first_start_logits; /* [first_window_len] start logits of the first
                                  window, NULL when n_windows is 0 */
    float *first_end_logits;   /* [first_window_len] end logits */
} maas_qa_result;

/* Finds the answer to `question` in `context` as Hugging Face's
 * question-answering pipeline does with a fast tokenizer:
 *  1. encodes [CLS] question [SEP] context-window [SEP]; the context is cut
 *     into windows of max_seq_len tokens that share doc_stride tokens, so
 *     every context token is in at least one window;
 *  2. per window, softmax over the start and end logits of the context tokens
 *     and [CLS] (question, [SEP] and other tokens get probability 0);
 *  3. scores each span start <= end < start + max_answer_len inside the
 *     context as start probability x end probability and keeps the
 *     top_k * 2 + 10 best per window (top_k when align_to_words is false);
 *  4. maps each span to characters through the tokenizer's offsets, widened
 *     to whole words when align_to_words, adds up the scores of equal texts
 *     and returns the top_k best.
 * An empty context (or one with no tokens) gives n_answers 0 and status OK.
 * Spans with score 0 (probabilities that underflow) are never returned.
 * Errors: MAAS_ERR_UNSUPPORTED without a QA head or tokenizer;
 * MAAS_ERR_INVALID_ARGUMENT for an empty question, a NUL byte in the
 * question or context (named by byte offset), top_k or max_answer_len
 * < 1, a negative doc_stride or one that is not smaller than the context
 * tokens per window (the windows would not advance), max_seq_len above the
 * context's max_seq_len; MAAS_ERR_CONTEXT_FULL when the question leaves no
 * room for context in a window or max_seq_len exceeds max_positions;
 * MAAS_ERR_INVALID_UTF8; MAAS_ERR_OUT_OF_MEMORY.  `out` is zeroed on failure. */
maas_status maas_bert_qa(maas_bert_context *ctx, const char *question,
                         size_t question_len, const char *context,
                         size_t context_len, const maas_qa_options *opts,
                         maas_qa_result *out);

/* Frees the arrays of a result and zeroes it.  Accepts NULL and a zeroed result. */
void maas_qa_result_free(maas_qa_result *result);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_BERT_H */
