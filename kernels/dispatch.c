/* Instruction-set dispatch: a function table per tier, the tier chosen once
 * from CPUID (or the MAAS_ISA environment variable), and the thread-split
 * helpers the public kernels share. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "dispatch.h"
#include "internal.h"
#include "ref.h"
#include "x86/avx2.h"

static maas_kernel_table g_tables[MAAS_ISA_COUNT];
static bool g_supported[MAAS_ISA_COUNT];
static maas_isa g_isa = MAAS_ISA_SCALAR;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void fill_scalar(maas_kernel_table *t)
{
    t->gemv_f32 = maas_ref_gemv_f32;
    t->gemv_f16 = maas_ref_gemv_f16;
    t->f16_to_f32 = maas_ref_f16_to_f32;
    t->layernorm_row = maas_ref_layernorm_row;
    t->softmax_row = maas_ref_softmax_row;
    t->add_bias_row = maas_ref_add_bias_row;
    t->gelu_erf = maas_ref_gelu_erf;
    t->gelu_tanh = maas_ref_gelu_tanh;
    t->relu = maas_ref_relu;
    t->tanh = maas_ref_tanh;
    t->add = maas_ref_add;
    t->scale = maas_ref_scale;
    t->dot = maas_ref_dot;
    t->axpy = maas_ref_axpy;
    t->conv2d_direct = maas_portable_conv2d_planes;
    t->maxpool2d_plane = maas_ref_maxpool2d_plane;
}

static bool cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
}

static void init_tables(void)
{
    /* Step 1: the scalar tier runs everywhere. */
    fill_scalar(&g_tables[MAAS_ISA_SCALAR]);
    g_supported[MAAS_ISA_SCALAR] = true;
    g_isa = MAAS_ISA_SCALAR;

    /* Step 2: the AVX2 tier starts from the scalar entries and replaces the
     * ones it has.  Its fill function is compiled with AVX enabled, so it
     * runs only after the CPU check. */
    if (cpu_has_avx2()) {
        g_tables[MAAS_ISA_AVX2] = g_tables[MAAS_ISA_SCALAR];
        maas_avx2_fill_table(&g_tables[MAAS_ISA_AVX2]);
        g_supported[MAAS_ISA_AVX2] = true;
        g_isa = MAAS_ISA_AVX2;
    }

    /* Step 3: MAAS_ISA=scalar forces the portable tier. */
    const char *env = getenv("MAAS_ISA");
    if (env && *env) {
        if (strcmp(env, "scalar") == 0)
            g_isa = MAAS_ISA_SCALAR;
        else if (strcmp(env, "avx2") == 0 && !g_supported[MAAS_ISA_AVX2])
            maas_log(MAAS_LOG_WARN, "MAAS_ISA=avx2 ignored: this CPU lacks "
                                    "AVX2, FMA or F16C; using scalar kernels");
        else if (strcmp(env, "avx2") != 0)
            maas_log(MAAS_LOG_WARN, "MAAS_ISA=%s ignored: expected scalar or "
                                    "avx2", env);
    }

    /* Step 4: libmaas splits work over its own OpenMP threads and calls
     * sgemm inside each, so OpenBLAS must not start threads of its own. */
    openblas_set_num_threads(1);
    maas_log(MAAS_LOG_DEBUG, "kernels: using the %s tier",
             maas_isa_name(g_isa));
}

const maas_kernel_table *maas_kernels_table(void)
{
    pthread_once(&g_once, init_tables);
    return &g_tables[g_isa];
}

maas_isa maas_kernels_isa(void)
{
    pthread_once(&g_once, init_tables);
    return g_isa;
}

maas_status maas_kernels_set_isa(maas_isa isa)
{
    pthread_once(&g_once, init_tables);
    if ((int)isa < 0 || isa >= MAAS_ISA_COUNT)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "unknown instruction-set tier %d: use MAAS_ISA_SCALAR "
                         "or MAAS_ISA_AVX2", (int)isa);
    if (!g_supported[isa])
        return maas_fail(MAAS_ERR_UNSUPPORTED,
                         "this CPU does not support the %s kernels; use "
                         "MAAS_ISA_SCALAR", maas_isa_name(isa));
    g_isa = isa;
    return MAAS_OK;
}

const char *maas_isa_name(maas_isa isa)
{
    switch (isa) {
    case MAAS_ISA_SCALAR:
        return "scalar";
    case MAAS_ISA_AVX2:
        return "avx2";
    default:
        return "unknown";
    }
}

void maas_split_range(size_t n, int parts, int part, size_t align,
                      size_t *begin, size_t *end)
{
    /* Count in blocks of `align` so every boundary but the end is aligned. */
    size_t blocks = (n + align - 1) / align;
    size_t per = blocks / (size_t)parts;
    size_t extra = blocks % (size_t)parts;
    size_t p = (size_t)part;
    size_t b0 = p * per + (p < extra ? p : extra);
    size_t b1 = b0 + per + (p < extra ? 1 : 0);
    *begin = b0 * align < n ? b0 * align : n;
    *end = b1 * align < n ? b1 * align : n;
}

int maas_threads_for(int n_threads, size_t work, size_t min_work)
{
    int nt = maas_resolve_threads(n_threads);
    size_t most = min_work > 0 ? work / min_work : work;
    if (most < 1)
        most = 1;
    if ((size_t)nt > most)
        nt = (int)most;
    return nt;
}
