/* libmaas: convolutional classifiers (PyTorch nn.Sequential style).
 *
 * A "cnn" .maas file holds a sequence of layers, each one of
 *   conv2d     weight [Cout, Cin/groups, kh, kw], optional bias [Cout]
 *   relu
 *   maxpool2d  square window, as PyTorch's MaxPool2d with ceil_mode off
 *   flatten    [C, H, W] -> [C*H*W], as nn.Flatten
 *   linear     weight [N, K] (nn.Linear layout), optional bias [N]
 * applied to images of shape [C, H, W] (NCHW for a batch).  The layer list,
 * its hyperparameters and the input scale are key/values of the file;
 * docs/FORMAT.md lists them.  maas-convert builds such a file from a
 * safetensors state_dict plus a model.json description.
 *
 * Threads: a maas_cnn is immutable after loading and may be shared by any
 * number of threads, each with its own maas_cnn_context.
 */
#ifndef MAAS_CNN_H
#define MAAS_CNN_H

#include <stdio.h>

#include "maas/common.h"
#include "maas/file.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct maas_cnn maas_cnn;
typedef struct maas_cnn_context maas_cnn_context;

/* Layer kinds.  Stable values, append-only. */
typedef enum maas_cnn_layer_kind {
    MAAS_CNN_CONV2D = 0,
    MAAS_CNN_RELU = 1,
    MAAS_CNN_MAXPOOL2D = 2,
    MAAS_CNN_FLATTEN = 3,
    MAAS_CNN_LINEAR = 4,
    MAAS_CNN_LAYER_KIND_COUNT
} maas_cnn_layer_kind;

/* Builds a classifier over the tensors of an open "cnn" file.  f32 weights
 * and f16 linear weights are used in place.  Other float weights (f16 or bf16
 * conv2d weights and biases, bf16 linear weights) are converted to f32 once,
 * here, because the kernels that read them take f32.  Every layer's input
 * and output shape is derived and checked against the tensors.
 * Errors: MAAS_ERR_BAD_FORMAT for a missing or invalid key (named),
 * MAAS_ERR_MISSING_TENSOR, MAAS_ERR_SHAPE_MISMATCH naming the layer,
 * MAAS_ERR_UNSUPPORTED for an unknown layer type or a dtype that is not a
 * float, MAAS_ERR_OUT_OF_MEMORY.  `f` must stay open until maas_cnn_free. */
maas_status maas_cnn_load(const maas_file *f, maas_cnn **out);

void maas_cnn_free(maas_cnn *m);

/* Input image shape [C, H, W]. */
void maas_cnn_input_shape(const maas_cnn *m, int *channels, int *height, int *width);

/* Factor applied to every input value before the first layer (for example
 * 1/16 for pixels stored as 0..16). */
float maas_cnn_input_scale(const maas_cnn *m);

/* Number of classes: the size of the last layer's output. */
int maas_cnn_n_classes(const maas_cnn *m);

/* Returns the name of class `c` from the file's labels, or NULL when the
 * file has none or c is out of range. */
const char *maas_cnn_label(const maas_cnn *m, int c);

int maas_cnn_n_layers(const maas_cnn *m);

/* Kind of layer i (0 <= i < maas_cnn_n_layers), or MAAS_CNN_LAYER_KIND_COUNT
 * when i is out of range. */
maas_cnn_layer_kind maas_cnn_layer_kind_at(const maas_cnn *m, int i);

/* Returns "conv2d", "relu", "maxpool2d", "flatten", "linear", or NULL. */
const char *maas_cnn_layer_kind_name(maas_cnn_layer_kind kind);

/* Output shape of layer i for one image: [C, H, W] (n_dims 3) or [N]
 * (n_dims 1).  Returns the element count, or 0 when i is out of range.
 * shape needs room for 3 entries.  shape and n_dims may be NULL. */
size_t maas_cnn_layer_shape(const maas_cnn *m, int i, int shape[3], int *n_dims);

/* Creates a context that runs batches of up to `max_batch` images with
 * `n_threads` threads (<= 0: every core).  It owns one arena holding the
 * scaled input, every layer's output and the convolution scratch, sized
 * here, so forward passes never allocate.  MAAS_ERR_INVALID_ARGUMENT for
 * max_batch < 1, MAAS_ERR_OVERFLOW or MAAS_ERR_OUT_OF_MEMORY when the
 * arena does not fit.  `m` must outlive the context. */
maas_status maas_cnn_context_create(const maas_cnn *m, int max_batch, int n_threads,
                                    maas_cnn_context **out);

void maas_cnn_context_free(maas_cnn_context *ctx);

/* Runs the model on unscaled images[B, C, H, W] (the input scale is applied
 * here) and writes logits[B, n_classes] when logits is not NULL.
 * MAAS_ERR_INVALID_ARGUMENT when batch is outside 1..max_batch,
 * MAAS_ERR_NON_FINITE when the logits contain a NaN or infinity. */
maas_status maas_cnn_forward(maas_cnn_context *ctx, const float *images, int batch,
                             float *logits);

/* Runs maas_cnn_forward and writes the index of the largest logit of each
 * image to classes[B] (the first one on ties). */
maas_status maas_cnn_classify(maas_cnn_context *ctx, const float *images, int batch,
                              int *classes);

/* Output of layer i from the last forward pass, [B, layer size] for the B of
 * that pass, or NULL when i is out of range.  Valid until the next forward
 * pass on this context. */
const float *maas_cnn_layer_output(const maas_cnn_context *ctx, int i);

/* ---- images in plain text ------------------------------------------------------ */

/* Reads images in the plain text format of docs/FORMAT.md ("Images for
 * maas-digits"): one image a line, a label (an integer class, or ? when
 * unknown) and then `image_size` numbers in [C, H, W] order.  Blank lines and
 * lines starting with # are skipped.  On success *images is a malloc'ed
 * [count, image_size] array, *labels a malloc'ed [count] array (-1 for ?),
 * both freed by the caller.  `name` labels the input in messages.
 * MAAS_ERR_BAD_FORMAT naming the line for a wrong count of numbers or text
 * that is not a number, MAAS_ERR_IO on a read error, MAAS_ERR_OUT_OF_MEMORY. */
maas_status maas_cnn_read_images(FILE *fp, const char *name, size_t image_size,
                                 float **images, int **labels, size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* MAAS_CNN_H */
