/* Shared state and helpers of the checkpoint converter.  Each architecture
 * has one file (gpt2.c, bert.c, ...) with a maas_cv_arch entry listed in
 * archs.c; convert.c drives a conversion. */
#ifndef MAAS_CONVERTER_H
#define MAAS_CONVERTER_H

#include <cjson/cJSON.h>

#include "maas/convert.h"
#include "safetensors.h"

typedef struct maas_cv maas_cv;

typedef struct maas_cv_arch {
    const char *name;            /* .maas architecture name */
    const char *model_type;      /* config.json "model_type" */
    const char *const *classes;  /* accepted config.json "architectures" values, NULL-ended */
    /* Writes the canonical .maas name of checkpoint tensor `src` into `out`
     * (model prefix removed, legacy names updated). */
    void (*canonical_name)(const char *src, char *out, size_t size);
    /* True for checkpoint buffers that are dropped (canonical names). */
    bool (*is_dropped)(const char *name);
    /* Adds the keys, tensors and tokenizer to cv's writer. */
    maas_status (*convert)(maas_cv *cv);
} maas_cv_arch;

extern const maas_cv_arch maas_cv_gpt2;
extern const maas_cv_arch maas_cv_bert;
extern const maas_cv_arch maas_cv_cnn;   /* sequential.c */
extern const maas_cv_arch maas_cv_rnn;   /* sequential.c */

/* NULL-ended table of supported architectures (archs.c). */
extern const maas_cv_arch *const maas_cv_archs[];

struct maas_cv {
    const char *dir;
    char config_path[4096];
    cJSON *config;
    const maas_cv_arch *arch;
    maas_safetensors *st;
    char **canon;            /* canonical name of each checkpoint tensor */
    bool *used;              /* checkpoint tensor i was written or dropped */
    maas_writer *w;
    maas_dtype matrix_dtype; /* dtype of 2-D weights in the output */
    maas_convert_summary *summary;
    char pooling_config_path[4096]; /* the Pooling module's config.json, "" when none */
};

/* ---- config.json -------------------------------------------------------- */

/* Reads required integer `key` from config.json, writes it as a u32 key of
 * the same name and returns it.  MAAS_ERR_NOT_FOUND when absent,
 * MAAS_ERR_BAD_JSON when not an integer in 0..2^32-1. */
maas_status maas_cv_u32(maas_cv *cv, const char *key, uint32_t *out);

/* Like maas_cv_u32 for an optional key: absent or null writes nothing and
 * sets *present to false. */
maas_status maas_cv_u32_opt(maas_cv *cv, const char *key, uint32_t *out, bool *present);

/* Like maas_cv_u32_opt for a token id ("bos_token_id", ...): it must be
 * below vocab_size, else MAAS_ERR_BAD_FORMAT names the key. */
maas_status maas_cv_token_id(maas_cv *cv, const char *key, uint32_t vocab_size);

/* Reads required number `key` and writes it as an f32 key. */
maas_status maas_cv_f32(maas_cv *cv, const char *key, float *out);

/* Reads required string `key` and writes it as a string key. */
maas_status maas_cv_str(maas_cv *cv, const char *key, const char **out);

/* Returns config.json's item `key`, or NULL when absent or null. */
const cJSON *maas_cv_config(const maas_cv *cv, const char *key);

/* MAAS_ERR_UNSUPPORTED when boolean `key` is present and equals `bad`. */
maas_status maas_cv_reject_bool(maas_cv *cv, const char *key, bool bad, const char *why);

/* ---- tensors ------------------------------------------------------------ */

enum {
    MAAS_CV_TRANSPOSE = 1,  /* checkpoint stores [in, out]; write [out, in] */
    MAAS_CV_OPTIONAL = 2,   /* absent is accepted and reported in *found */
};

/* Writes checkpoint tensor `name` (canonical) with the expected .maas shape
 * (n_dims, shape).  Float only; 2-D tensors get the output matrix dtype,
 * the rest f32.  MAAS_ERR_MISSING_TENSOR names the tensor when absent and
 * not optional, MAAS_ERR_SHAPE_MISMATCH when the shape disagrees with
 * config.json, MAAS_ERR_UNSUPPORTED for a non-float dtype. */
maas_status maas_cv_tensor(maas_cv *cv, const char *name, int n_dims, const int64_t *shape,
                           int flags, bool *found);

/* Shorthands for the usual shapes. */
maas_status maas_cv_vector(maas_cv *cv, const char *name, int64_t n, int flags);
maas_status maas_cv_matrix(maas_cv *cv, const char *name, int64_t rows, int64_t cols,
                           int flags);

/* Marks checkpoint tensor `name` (canonical) as deliberately not written. */
void maas_cv_drop(maas_cv *cv, const char *name);

/* Returns true when the checkpoint has tensor `name` (canonical). */
bool maas_cv_has(const maas_cv *cv, const char *name);

/* MAAS_ERR_SHAPE_MISMATCH naming the first checkpoint tensor of a layer
 * at or past n_layer: one whose canonical name is `prefix`, a layer number
 * and a dot ("h.3.ln_1.weight" for prefix "h.").  `key` is the config
 * key of the layer count, for the message. */
maas_status maas_cv_check_layer_count(const maas_cv *cv, const char *prefix, const char *key,
                                      uint32_t n_layer);

/* Writes `name` to `buf` with printf formatting, for per-layer names. */
const char *maas_cv_name(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- tokenizer and sentence-transformers files (tokenizer.c, pooling.c) -- */

/* GPT-2 byte-level BPE: vocab.json + merges.txt, else tokenizer.json. */
maas_status maas_cv_tokenizer_bpe(maas_cv *cv, uint32_t vocab_size);

/* BERT WordPiece: vocab.txt, else tokenizer.json, with the settings of
 * tokenizer_config.json / tokenizer.json. */
maas_status maas_cv_tokenizer_wordpiece(maas_cv *cv, uint32_t vocab_size);

/* "pooling.mode" and "pooling.normalize" from modules.json and the
 * Pooling module's config.json, when the folder is a sentence-transformers
 * model; nothing otherwise. */
maas_status maas_cv_pooling(maas_cv *cv);

/* Joins dir and name into buf ("dir/name"). */
const char *maas_cv_path(const maas_cv *cv, char *buf, size_t size, const char *name);

#endif /* MAAS_CONVERTER_H */
