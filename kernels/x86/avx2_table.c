/* The AVX2 tier of the dispatch table. */
#include "x86/avx2.h"

void maas_avx2_fill_table(maas_kernel_table *t)
{
    t->gemv_f32 = maas_avx2_gemv_f32;
    t->gemv_f16 = maas_avx2_gemv_f16;
    t->f16_to_f32 = maas_avx2_f16_to_f32;
    t->layernorm_row = maas_avx2_layernorm_row;
    t->softmax_row = maas_avx2_softmax_row;
    t->add_bias_row = maas_avx2_add_bias_row;
    t->gelu_erf = maas_avx2_gelu_erf_n;
    t->gelu_tanh = maas_avx2_gelu_tanh_n;
    t->relu = maas_avx2_relu_n;
    t->tanh = maas_avx2_tanh_n;
    t->add = maas_avx2_add;
    t->scale = maas_avx2_scale;
    t->dot = maas_avx2_dot;
    t->axpy = maas_avx2_axpy;
    t->conv2d_direct = maas_avx2_conv2d_planes;
    t->maxpool2d_plane = maas_avx2_maxpool2d_plane;
}
