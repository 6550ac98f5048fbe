/* 2-D convolution (im2col + sgemm, or direct) and max-pooling, NCHW. */
#include <omp.h>

#include <cblas.h>

#include "dispatch.h"
#include "internal.h"

/* im2col columns per thread-slice boundary. */
#define COL_ALIGN 16

/* sgemm tiles of the im2col path: fixed by the shape, never by the thread
 * count, so every thread count gives the same result bit for bit. */
#define CONV_TILE_COLS 256
#define CONV_TILE_ROWS 64

int maas_conv2d_out_size(int in, int kernel, int stride, int pad, int dilation)
{
    if (stride < 1)
        return 0;
    long long span = (long long)dilation * (kernel - 1) + 1;
    long long room = (long long)in + 2LL * pad - span;
    if (room < 0)
        return 0;
    return (int)(room / stride + 1);
}

static maas_status check_conv(const maas_conv2d_params *p, int *out_h,
                              int *out_w)
{
    if (!p)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_conv2d: params must not be NULL");

    /* Every size, stride and dilation must be positive, padding >= 0. */
    struct { const char *name; int value; int min; } fields[] = {
        {"batch", p->batch, 1},           {"in_channels", p->in_channels, 1},
        {"in_h", p->in_h, 1},             {"in_w", p->in_w, 1},
        {"out_channels", p->out_channels, 1},
        {"kernel_h", p->kernel_h, 1},     {"kernel_w", p->kernel_w, 1},
        {"stride_h", p->stride_h, 1},     {"stride_w", p->stride_w, 1},
        {"pad_h", p->pad_h, 0},           {"pad_w", p->pad_w, 0},
        {"dilation_h", p->dilation_h, 1}, {"dilation_w", p->dilation_w, 1},
        {"groups", p->groups, 1},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value < fields[i].min)
            return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                             "maas_conv2d: %s is %d, must be at least %d",
                             fields[i].name, fields[i].value, fields[i].min);

    if (p->in_channels % p->groups != 0 || p->out_channels % p->groups != 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_conv2d: groups=%d must divide in_channels=%d "
                         "and out_channels=%d", p->groups, p->in_channels,
                         p->out_channels);

    *out_h = maas_conv2d_out_size(p->in_h, p->kernel_h, p->stride_h, p->pad_h,
                                  p->dilation_h);
    *out_w = maas_conv2d_out_size(p->in_w, p->kernel_w, p->stride_w, p->pad_w,
                                  p->dilation_w);
    if (*out_h <= 0 || *out_w <= 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_conv2d: the output would be empty: input %dx%d "
                         "with kernel %dx%d, dilation %dx%d and padding %dx%d "
                         "is smaller than one window; pad more or use a "
                         "smaller kernel", p->in_h, p->in_w, p->kernel_h,
                         p->kernel_w, p->dilation_h, p->dilation_w, p->pad_h,
                         p->pad_w);
    return MAAS_OK;
}

static bool is_pointwise(const maas_conv2d_params *p)
{
    return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
           p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0;
}

/* Chooses the direct path where im2col's copy outweighs the product: few
 * multiply-adds per output (grouped/depthwise, or tiny channel counts). */
static bool use_direct(const maas_conv2d_params *p)
{
    int cin_g = p->in_channels / p->groups;
    int cout_g = p->out_channels / p->groups;
    int patch = cin_g * p->kernel_h * p->kernel_w;
    return cout_g < 4 || patch < 8;
}

size_t maas_conv2d_scratch_floats(const maas_conv2d_params *p, int n_threads)
{
    (void)n_threads;
    int out_h, out_w;
    if (check_conv(p, &out_h, &out_w) != MAAS_OK)
        return 0;
    maas_clear_error();
    if (use_direct(p) || is_pointwise(p))
        return 0;
    size_t patch = (size_t)(p->in_channels / p->groups) * p->kernel_h *
                   p->kernel_w;
    return patch * (size_t)out_h * (size_t)out_w;
}

/* Fills columns [c0, c1) of col[patch, Ho*Wo] for group g of batch item b:
 * col[(ci, ky, kx), (oy, ox)] = in[b, g*cin_g + ci, iy, ix], 0 in padding. */
static void im2col_slice(float *col, const float *in,
                         const maas_conv2d_params *p, int b, int g, int out_h,
                         int out_w, size_t c0, size_t c1)
{
    int cin_g = p->in_channels / p->groups;
    size_t n_cols = (size_t)out_h * out_w;
    size_t row = 0;

    for (int ci = 0; ci < cin_g; ci++) {
        const float *plane = in + ((size_t)b * p->in_channels + g * cin_g + ci) *
                                      p->in_h * p->in_w;
        for (int ky = 0; ky < p->kernel_h; ky++) {
            for (int kx = 0; kx < p->kernel_w; kx++, row++) {
                float *dst = col + row * n_cols;
                int oy = (int)(c0 / out_w);
                int ox = (int)(c0 % out_w);
                for (size_t c = c0; c < c1; c++) {
                    int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                    int ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                    bool inside = iy >= 0 && iy < p->in_h && ix >= 0 &&
                                  ix < p->in_w;
                    dst[c] = inside ? plane[(size_t)iy * p->in_w + ix] : 0.0f;
                    if (++ox == out_w) {
                        ox = 0;
                        oy++;
                    }
                }
            }
        }
    }
}

maas_status maas_conv2d_f32(float *out, const float *in, const float *weight,
                            const float *bias, const maas_conv2d_params *p,
                            float *scratch, int n_threads)
{
    /* out[B, Cout, Ho, Wo], in[B, Cin, H, W],
     * weight[Cout, Cin/groups, kh, kw], bias[Cout] or NULL,
     * scratch[maas_conv2d_scratch_floats(p)] */
    int out_h, out_w;
    maas_status st = check_conv(p, &out_h, &out_w);
    if (st != MAAS_OK)
        return st;
    if (!out || !in || !weight)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_conv2d: out, in and weight must not be NULL");

    const maas_kernel_table *kt = maas_kernels_table();
    int cin_g = p->in_channels / p->groups;
    int cout_g = p->out_channels / p->groups;
    int patch = cin_g * p->kernel_h * p->kernel_w;
    size_t n_cols = (size_t)out_h * out_w;
    size_t macs = (size_t)p->batch * p->out_channels * n_cols * patch;
    int nt = maas_threads_for(n_threads, macs, 1u << 16);

    /* Direct path: threads take output planes. */
    if (use_direct(p)) {
        int planes = p->batch * p->out_channels;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int plane = 0; plane < planes; plane++)
            kt->conv2d_direct(out, in, weight, bias, p,
                              plane / p->out_channels,
                              plane % p->out_channels,
                              plane % p->out_channels + 1);
        return MAAS_OK;
    }

    bool pointwise = is_pointwise(p);
    if (!pointwise && !scratch)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_conv2d: scratch is NULL but this convolution "
                         "needs maas_conv2d_scratch_floats() = %zu floats",
                         (size_t)patch * n_cols);

    /* im2col + sgemm per batch item and group:
     *   out[b, g] [cout_g, Ho*Wo] = weight[g] [cout_g, patch] . col [patch, Ho*Wo]
     * Threads first fill slices of col, then take fixed tiles of out. */
    int col_tiles = (int)((n_cols + CONV_TILE_COLS - 1) / CONV_TILE_COLS);
    int row_tiles = (cout_g + CONV_TILE_ROWS - 1) / CONV_TILE_ROWS;
    int tiles = col_tiles * row_tiles;
#pragma omp parallel num_threads(nt) if (nt > 1)
    for (int b = 0; b < p->batch; b++) {
        for (int g = 0; g < p->groups; g++) {
            const float *cols = scratch;
            if (pointwise) {
                cols = in + ((size_t)b * p->in_channels + g * cin_g) * n_cols;
            } else {
                size_t c0, c1;
                maas_split_range(n_cols, omp_get_num_threads(),
                                 omp_get_thread_num(), COL_ALIGN, &c0, &c1);
                if (c1 > c0)
                    im2col_slice(scratch, in, p, b, g, out_h, out_w, c0, c1);
#pragma omp barrier
            }

            float *out_g = out + ((size_t)b * p->out_channels +
                                  (size_t)g * cout_g) * n_cols;
            const float *w_g = weight + (size_t)g * cout_g * patch;
#pragma omp for schedule(static)
            for (int tile = 0; tile < tiles; tile++) {
                int r0 = (tile / col_tiles) * CONV_TILE_ROWS;
                int rows = cout_g - r0 < CONV_TILE_ROWS ? cout_g - r0
                                                        : CONV_TILE_ROWS;
                size_t c0 = (size_t)(tile % col_tiles) * CONV_TILE_COLS;
                size_t width = n_cols - c0 < CONV_TILE_COLS ? n_cols - c0
                                                            : CONV_TILE_COLS;

                /* out tile = bias, then += weight rows . col tile. */
                for (int r = r0; r < r0 + rows; r++) {
                    float value = bias ? bias[g * cout_g + r] : 0.0f;
                    for (size_t c = c0; c < c0 + width; c++)
                        out_g[r * n_cols + c] = value;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows,
                            (int)width, patch, 1.0f, w_g + (size_t)r0 * patch,
                            patch, cols + c0, (int)n_cols, 1.0f,
                            out_g + (size_t)r0 * n_cols + c0, (int)n_cols);
            }
            /* The implicit barrier of `omp for` keeps col intact until
             * every tile of this group has read it. */
        }
    }
    return MAAS_OK;
}

maas_status maas_maxpool2d_f32(float *out, const float *in, int batch,
                               int channels, int in_h, int in_w, int kernel,
                               int stride, int pad, int n_threads)
{
    /* out[B, C, Ho, Wo], in[B, C, H, W] */
    if (!out || !in)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_maxpool2d: out and in must not be NULL");
    if (batch < 1 || channels < 1 || in_h < 1 || in_w < 1 || kernel < 1 ||
        stride < 1 || pad < 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_maxpool2d: batch=%d channels=%d in=%dx%d "
                         "kernel=%d stride=%d must be positive and pad=%d "
                         "non-negative", batch, channels, in_h, in_w, kernel,
                         stride, pad);
    if (2 * pad > kernel)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_maxpool2d: pad=%d exceeds half the kernel %d "
                         "(PyTorch rejects it too); use pad <= kernel / 2",
                         pad, kernel);
    int out_h = maas_conv2d_out_size(in_h, kernel, stride, pad, 1);
    int out_w = maas_conv2d_out_size(in_w, kernel, stride, pad, 1);
    if (out_h <= 0 || out_w <= 0)
        return maas_fail(MAAS_ERR_INVALID_ARGUMENT,
                         "maas_maxpool2d: the output would be empty: input "
                         "%dx%d is smaller than kernel %d with pad %d",
                         in_h, in_w, kernel, pad);

    const maas_kernel_table *kt = maas_kernels_table();
    int planes = batch * channels;
    size_t work = (size_t)planes * out_h * out_w * kernel * kernel;
    int nt = maas_threads_for(n_threads, work, 1u << 15);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int plane = 0; plane < planes; plane++)
        kt->maxpool2d_plane(out + (size_t)plane * out_h * out_w,
                            in + (size_t)plane * in_h * in_w, in_h, in_w,
                            out_h, out_w, kernel, stride, pad);
    return MAAS_OK;
}
