/* Weights as f32 arrays for kernels that take only f32. */
#include <stdlib.h>

#include "internal.h"
#include "weights.h"

/* Returns element i of a float tensor, walking its strides. */
static float element_f32(const maas_tensor *t, int64_t i)
{
    int64_t offset = 0;
    for (int d = t->n_dims - 1; d >= 0; d--) {
        offset += (i % t->shape[d]) * t->stride[d];
        i /= t->shape[d];
    }
    switch (t->dtype) {
    case MAAS_DTYPE_F32:
        return ((const float *)t->data)[offset];
    case MAAS_DTYPE_F16:
        return maas_f16_to_f32(((const uint16_t *)t->data)[offset]);
    default:
        return maas_bf16_to_f32(((const uint16_t *)t->data)[offset]);
    }
}

maas_status maas_weight_f32(const maas_tensor *t, const char *name, const float **data,
                            float **owned)
{
    *owned = NULL;
    if (t->dtype != MAAS_DTYPE_F32 && t->dtype != MAAS_DTYPE_F16 && t->dtype != MAAS_DTYPE_BF16)
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "tensor %s has dtype %s; weights must be f32, f16 or bf16",
                         name, maas_dtype_name(t->dtype) ? maas_dtype_name(t->dtype) : "invalid");
    if (t->dtype == MAAS_DTYPE_F32 && maas_tensor_is_contiguous(t)) {
        *data = t->data;
        return MAAS_OK;
    }

    int64_t n = maas_tensor_numel(t);
    float *copy = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!copy)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %lld floats for tensor %s",
                         (long long)n, name);
    if (maas_tensor_is_contiguous(t)) {
        maas_status st = maas_convert_to_f32(copy, t->data, t->dtype, (size_t)n);
        if (st != MAAS_OK) {
            free(copy);
            return st;
        }
    } else {
        for (int64_t i = 0; i < n; i++)
            copy[i] = element_f32(t, i);
    }
    *data = copy;
    *owned = copy;
    return MAAS_OK;
}

maas_status maas_weight_copies_add(maas_weight_copies *copies, float *copy)
{
    if (!copy)
        return MAAS_OK;
    float **grown = realloc(copies->data, (size_t)(copies->count + 1) * sizeof *grown);
    if (!grown) {
        free(copy);
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot grow the list of f32 weight copies");
    }
    copies->data = grown;
    copies->data[copies->count++] = copy;
    return MAAS_OK;
}

void maas_weight_copies_free(maas_weight_copies *copies)
{
    for (int i = 0; i < copies->count; i++)
        free(copies->data[i]);
    free(copies->data);
    copies->data = NULL;
    copies->count = 0;
}

maas_status maas_weight_load_f32(const maas_file *f, const char *name, int n_dims,
                                 const int64_t *shape, maas_weight_copies *copies,
                                 const float **out)
{
    maas_tensor t;
    maas_status st = maas_file_tensor_shaped(f, name, n_dims, shape, &t);
    if (st != MAAS_OK)
        return st;
    float *owned;
    if ((st = maas_weight_f32(&t, name, out, &owned)) != MAAS_OK)
        return st;
    return maas_weight_copies_add(copies, owned);
}

maas_status maas_weight_load_linear(const maas_file *f, const char *name,
                                    const int64_t shape[2], maas_weight_copies *copies,
                                    maas_tensor *out)
{
    maas_status st = maas_file_tensor_shaped(f, name, 2, shape, out);
    if (st != MAAS_OK)
        return st;
    if (out->dtype == MAAS_DTYPE_F32 || out->dtype == MAAS_DTYPE_F16)
        return MAAS_OK;

    const float *data;
    float *owned;
    if ((st = maas_weight_f32(out, name, &data, &owned)) ||
        (st = maas_weight_copies_add(copies, owned)))
        return st;
    return maas_tensor_init(out, MAAS_DTYPE_F32, 2, shape, (void *)data);
}
