/* Weights as f32 arrays for kernels that take only f32 (conv2d, the RNN). */
#ifndef MAAS_WEIGHTS_H
#define MAAS_WEIGHTS_H

#include "maas/tensor.h"

/* Points *data at t's elements as a contiguous f32 array.  A contiguous f32
 * tensor is used in place and *owned is set to NULL.  Any other float tensor
 * (f16, bf16 or strided) is converted into a malloc'ed copy, returned in
 * both *data and *owned for the caller to free.  MAAS_ERR_UNSUPPORTED for
 * integer dtypes (naming `name`), MAAS_ERR_OUT_OF_MEMORY. */
maas_status maas_weight_f32(const maas_tensor *t, const char *name, const float **data,
                            float **owned);

#endif /* MAAS_WEIGHTS_H */
