/* GPT-2 internals shared by the files in lib/gpt2: the model's weight
 * views and the context's buffers.  Not installed. */
#ifndef MAAS_GPT2_INTERNAL_H
#define MAAS_GPT2_INTERNAL_H

#include "maas/gpt2.h"
#include "maas/kernels.h"

/* The MLP's activation function, from the config's activation_function. */
typedef enum gpt2_activation {
    GPT2_ACT_GELU_TANH,  /* gelu_new, gelu_pytorch_tanh, gelu_fast */
    GPT2_ACT_GELU_ERF,   /* gelu */
    GPT2_ACT_RELU,       /* relu */
} gpt2_activation;

/* One transformer block.  Linear weights are [out, in] views into the
 * mapped file (f32 or f16); vectors are f32. */
typedef struct gpt2_layer {
    const float *ln_1_weight, *ln_1_bias;  /* [C] */
    maas_tensor attn_qkv_weight;           /* [3C, C] */
    const float *attn_qkv_bias;            /* [3C] */
    maas_tensor attn_proj_weight;          /* [C, C] */
    const float *attn_proj_bias;           /* [C] */
    const float *ln_2_weight, *ln_2_bias;  /* [C] */
    maas_tensor mlp_fc_weight;             /* [I, C] */
    const float *mlp_fc_bias;              /* [I] */
    maas_tensor mlp_proj_weight;           /* [C, I] */
    const float *mlp_proj_bias;            /* [C] */
} gpt2_layer;

struct maas_gpt2 {
    maas_gpt2_config config;
    gpt2_activation activation;
    const maas_file *file;
    maas_file *owned_file;       /* set by maas_gpt2_open, closed on free */
    maas_tokenizer *tokenizer;   /* NULL when the file has none */
    maas_tensor wte;             /* [V, C] token embedding */
    maas_tensor wpe;             /* [P, C] position embedding */
    maas_tensor lm_head;         /* [V, C]: wte itself when tied */
    const float *ln_f_weight, *ln_f_bias;  /* [C] */
    gpt2_layer *layers;          /* [n_layer] */
};

struct maas_gpt2_context {
    const maas_gpt2 *model;
    int n_ctx;          /* KV cache capacity in tokens */
    int n_batch;        /* rows of the activation buffers */
    int n_threads;
    int max_threads;    /* the attention scratch is sized for this many */
    int n_tokens;       /* tokens held in the cache */
    bool has_logits;    /* logits contains the last evaluated token's */

    /* Everything below points into `arena`, allocated once at creation. */
    maas_arena arena;
    int32_t *tokens;    /* [n_ctx] */
    float *k_cache;     /* [n_layer, n_ctx, C] */
    float *v_cache;     /* [n_layer, n_ctx, C] */
    float *x;           /* [B, C] residual stream */
    float *xn;          /* [B, C] LayerNorm output */
    float *qkv;         /* [B, 3C] */
    float *attn;        /* [B, C] attention output, before c_proj */
    float *proj;        /* [B, C] output of a projection */
    float *hidden;      /* [B, I] MLP hidden layer */
    int32_t *positions; /* [B] */
    float *attn_scratch;
    float *logits;      /* [V] */
};

#endif /* MAAS_GPT2_INTERNAL_H */
