/* BERT model internals shared by model.c, embed.c and qa.c. */
#ifndef MAAS_BERT_INTERNAL_H
#define MAAS_BERT_INTERNAL_H

#include "maas/bert.h"
#include "maas/kernels.h"
#include "maas/tensor.h"

/* One encoder block.  Linear weights are [out, in] tensors (f32 or f16);
 * biases and LayerNorm parameters are f32 vectors. */
typedef struct bert_layer {
    maas_tensor query_w, key_w, value_w;  /* [C, C] */
    const float *query_b, *key_b, *value_b;  /* [C] */
    maas_tensor attn_out_w;               /* [C, C] */
    const float *attn_out_b;              /* [C] */
    const float *attn_ln_g, *attn_ln_b;   /* [C] */
    maas_tensor ffn_in_w;                 /* [I, C] */
    const float *ffn_in_b;                /* [I] */
    maas_tensor ffn_out_w;                /* [C, I] */
    const float *ffn_out_b;               /* [C] */
    const float *out_ln_g, *out_ln_b;     /* [C] */
} bert_layer;

struct maas_bert {
    maas_bert_config config;
    const maas_file *file;
    maas_file *owned_file;      /* set by maas_bert_open, closed on free */
    maas_tokenizer *tokenizer;  /* NULL when the file has no tokenizer keys */

    maas_tensor word_emb;       /* [V, C] */
    maas_tensor pos_emb;        /* [P, C] */
    maas_tensor type_emb;       /* [type_vocab_size, C] */
    const float *emb_ln_g, *emb_ln_b;  /* [C] */
    bert_layer *layers;         /* [n_layers] */
    maas_tensor qa_w;           /* [2, C], when has_qa_head */
    const float *qa_b;          /* [2] */

    float **converted;          /* 1-D tensors converted to f32 at load, freed with the model */
    int n_converted;
};

struct maas_bert_context {
    const maas_bert *model;
    maas_bert_context_params params;
    maas_arena arena;

    /* Activations, sized for params.max_tokens rows (N). */
    float *x;                   /* [N, C] hidden state */
    float *q, *k, *v;           /* [N, C] */
    float *attn;                /* [N, C] attention output before its projection */
    float *tmp;                 /* [N, C] residual branch */
    float *ffn;                 /* [N, I] */
    float *scratch;             /* attention scratch */
    size_t scratch_per_thread;  /* floats of one single-threaded attention call */
    int32_t *positions;         /* [N] position ids */
    int32_t *zero_types;        /* [N] zeros, for batches without type ids */

    /* Staging for the text functions. */
    int32_t *stage_ids;         /* [N] */
    int32_t *stage_types;       /* [N] */
    int *stage_lens;            /* [N] */
    int32_t *seq_start;         /* [N] first row of each sequence in a batch */
};

/* Runs the encoder on a checked batch; the last hidden state is left in
 * ctx->x [sum T, C]. */
maas_status bert_encode(maas_bert_context *ctx, const maas_bert_batch *batch);

/* Checks a batch against the model and context; sets *n_tokens. */
maas_status bert_check_batch(const maas_bert_context *ctx,
                             const maas_bert_batch *batch, int *n_tokens);

#endif /* MAAS_BERT_INTERNAL_H */
