/* Streaming a tensor's elements to a file, for the .maas writer. */
#ifndef MAAS_FILE_STREAM_H
#define MAAS_FILE_STREAM_H

#include <stdbool.h>
#include <stdio.h>

#include "maas/tensor.h"

/* Writes the elements of `src` to `fp` in row-major order as dtype `to`,
 * following src's strides (so a transposed view is written transposed) and
 * rounding to nearest even when narrowing.  `to` must equal src->dtype
 * unless both are float dtypes.  Returns false with errno set when a write
 * or the buffer allocation fails. */
bool maas_stream_tensor(FILE *fp, const maas_tensor *src, maas_dtype to);

#endif /* MAAS_FILE_STREAM_H */
