/* libmaas: converting Hugging Face checkpoints to .maas files.
 *
 * maas_convert reads a Hugging Face model folder (config.json, the
 * safetensors weights, single-file or sharded, and the tokenizer files) and
 * writes one .maas file.  The architecture comes from config.json's
 * "model_type"; maas_convert_architectures lists the supported ones.  Every
 * hyperparameter is copied from config.json under its own key name, tensors
 * lose the model prefix ("transformer.", "bert.") and are stored in the
 * layouts docs/FORMAT.md gives (linear weights [out, in]).  The input is
 * untrusted: malformed files give a status, never a crash.
 *
 * The build/bin/maas-convert program is a command-line front end.
 */
#ifndef MAAS_CONVERT_H
#define MAAS_CONVERT_H

#include "maas/common.h"
#include "maas/file.h"
#include "maas/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct maas_convert_options {
    /* dtype of 2-D weight matrices (linear weights, embedding tables):
     * MAAS_DTYPE_F32 (0, the default of a zeroed struct) or MAAS_DTYPE_F16.
     * 1-D tensors (biases, LayerNorm) are always stored as f32. */
    maas_dtype dtype;
    /* Called while the output is written with bytes done and the total. */
    maas_progress_fn progress;
    void *progress_user;
} maas_convert_options;

/* What a conversion did, for the program's summary. */
typedef struct maas_convert_summary {
    char arch[16];             /* .maas architecture name: "gpt2", "bert" */
    char model_class[64];      /* config.json "architectures"[0], or "" */
    uint32_t n_layers;
    uint32_t hidden_size;
    uint32_t vocab_size;       /* from config.json */
    uint32_t n_tokens;         /* tokenizer vocabulary entries written */
    uint32_t n_tensors;        /* tensors written */
    uint32_t n_dropped;        /* checkpoint tensors left out: buffers, a tied lm_head */
    uint64_t n_params;         /* elements in the written tensors */
    uint64_t bytes_read;       /* checkpoint tensor bytes used */
    uint64_t bytes_written;    /* size of the .maas file */
    double seconds;            /* wall time of the whole conversion */
} maas_convert_summary;

/* Converts the Hugging Face folder `hf_dir` to `out_path` (written to
 * out_path.tmp, then renamed).  `options` and `summary` may be NULL.
 * Errors name the file and what is wrong: MAAS_ERR_NOT_FOUND (a missing
 * file or required config.json key), MAAS_ERR_UNSUPPORTED (architecture,
 * model class, dtype or config option this build cannot run),
 * MAAS_ERR_MISSING_TENSOR, MAAS_ERR_SHAPE_MISMATCH (a tensor disagrees with
 * config.json), MAAS_ERR_BAD_JSON, the safetensors reader's errors and
 * MAAS_ERR_IO. */
maas_status maas_convert(const char *hf_dir, const char *out_path,
                         const maas_convert_options *options,
                         maas_convert_summary *summary);

/* Returns the supported config.json "model_type" values, e.g. "gpt2, bert". */
const char *maas_convert_architectures(void);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_CONVERT_H */
