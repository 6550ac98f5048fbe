/* libmaas: serve BERT and GPT-2 language models on CPUs.
 *
 * Include this one header; it pulls in every part of the public API:
 *   maas/common.h     status codes, errors, logging, conventions for shapes
 *   maas/tensor.h     tensors, dtypes, the activation arena
 *   maas/kernels.h    compute kernels (matmul, attention, layernorm, ...)
 *   maas/file.h       the .maas model file: reading and writing
 *   maas/convert.h    converting Hugging Face checkpoints to .maas
 *   maas/tokenizer.h  GPT-2 byte-level BPE and BERT WordPiece
 *   maas/gpt2.h       GPT-2: KV-cache model, sampler, streaming generation
 *   maas/bert.h       BERT: hidden states, sentence embeddings, question answering
 *   maas/faq.h        matching customer questions to FAQ entries
 *   maas/cnn.h        convolutional classifiers (conv2d, max-pool, linear)
 *   maas/rnn.h        character-level tanh RNN language models
 * Link with `pkg-config --libs maas` (or -lmaas -lopenblas -lutf8proc
 * -lcjson -fopenmp -lm).
 */
#ifndef MAAS_H
#define MAAS_H

#include "maas/common.h"
#include "maas/tensor.h"
#include "maas/kernels.h"
#include "maas/file.h"
#include "maas/convert.h"
#include "maas/tokenizer.h"
#include "maas/gpt2.h"
#include "maas/bert.h"
#include "maas/faq.h"
#include "maas/cnn.h"
#include "maas/rnn.h"

#endif /* MAAS_H */
