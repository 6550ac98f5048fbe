/* Weights as f32 arrays for kernels that take only f32 (conv2d, the RNN). */
#ifndef MAAS_WEIGHTS_H
#define MAAS_WEIGHTS_H

#include "maas/file.h"
#include "maas/tensor.h"

/* Points *data at t's elements as a contiguous f32 array.  A contiguous f32
 * tensor is used in place and *owned is set to NULL.  Any other float tensor
 * (f16, bf16 or strided) is converted into a malloc'ed copy, returned in
 * both *data and *owned for the caller to free.  MAAS_ERR_UNSUPPORTED for
 * integer dtypes (naming `name`), MAAS_ERR_OUT_OF_MEMORY. */
maas_status maas_weight_f32(const maas_tensor *t, const char *name, const float **data,
                            float **owned);

/* The f32 copies a model made of its non-f32 weights, freed with the model.
 * Zero-initialise it. */
typedef struct maas_weight_copies {
    float **data;  /* [count] malloc'ed arrays */
    int count;
} maas_weight_copies;

/* Adds `copy` to the list (a NULL copy is ignored).  On MAAS_ERR_OUT_OF_MEMORY
 * the copy is freed, so the caller never frees it. */
maas_status maas_weight_copies_add(maas_weight_copies *copies, float *copy);

/* Frees every copy and the list itself, leaving an empty list to reuse. */
void maas_weight_copies_free(maas_weight_copies *copies);

/* Finds tensor `name` in f with the given shape and points *out at it as
 * contiguous f32, keeping any converted copy in `copies`.  Errors as
 * maas_file_tensor_shaped and maas_weight_f32. */
maas_status maas_weight_load_f32(const maas_file *f, const char *name, int n_dims,
                                 const int64_t *shape, maas_weight_copies *copies,
                                 const float **out);

/* Finds the 2-D weight `name` of shape [N, K] for maas_linear.  f32 and f16
 * tensors are used as stored.  Any other float dtype is converted to an f32
 * copy kept in `copies`, and *out then describes that copy. */
maas_status maas_weight_load_linear(const maas_file *f, const char *name,
                                    const int64_t shape[2], maas_weight_copies *copies,
                                    maas_tensor *out);

#endif /* MAAS_WEIGHTS_H */
