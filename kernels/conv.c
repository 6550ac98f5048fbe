/* 2-D convolution (im2col + sgemm, or direct) and max-pooling, NCHW. */
#include <omp.h>
#include <string.h>

#include <cblas.h>

#include "dispatch.h"
#include "conv.h"
#include "internal.h"

/* Tiles of the im2col path: at most CONV_TILE_COLS output positions by
 * CONV_TILE_ROWS output channels (or all channels when there are many
 * column tiles).  They depend on the shape only, never on the thread
 * count, so every thread count gives the same result bit for bit.  A
 * column tile's im2col block is at most patch x 128 floats: 288 KB for a
 * 3x3 convolution over 64 channels, about a core's L2. */
#define CONV_TILE_COLS 128
#define CONV_TILE_ROWS 64

typedef struct conv_tiling {
    size_t width;   /* output positions per column tile (the last may be less) */
    int col_tiles;
    int rows;       /* output channels per row tile (the last may be less) */
    int row_tiles;
} conv_tiling;

/* Cuts n_cols into equal tiles of at most CONV_TILE_COLS, rounded up to 16
 * so sgemm sees whole register tiles, and the channels into row tiles when
 * there are too few column tiles to share among threads. */
static conv_tiling plan_tiles(size_t n_cols, int cout_g)
{
    conv_tiling t;
    size_t tiles = (n_cols + CONV_TILE_COLS - 1) / CONV_TILE_COLS;
    t.width = (n_cols + tiles - 1) / tiles;
    t.width = (t.width + 15) / 16 * 16;
    if (t.width > n_cols)
        t.width = n_cols;
    t.col_tiles = (int)((n_cols + t.width - 1) / t.width);
    t.rows = t.col_tiles >= 8 ? cout_g : CONV_TILE_ROWS;
    if (t.rows > cout_g)
        t.rows = cout_g;
    t.row_tiles = (cout_g + t.rows - 1) / t.rows;
    return t;
}

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
 * multiply-adds per output pixel and channel (depthwise and other narrow
 * groups, or patches of a few taps).  The thresholds come from
 * bench_kernels' direct-versus-im2col rows on a 2-core AMD EPYC (Zen 1). */
static bool use_direct(const maas_conv2d_params *p)
{
    int cin_g = p->in_channels / p->groups;
    int cout_g = p->out_channels / p->groups;
    int patch = cin_g * p->kernel_h * p->kernel_w;
    return cout_g < 8 || patch < 8;
}

size_t maas_conv2d_scratch_floats(const maas_conv2d_params *p, int n_threads)
{
    /* The im2col path needs one patch x tile block per thread; the direct
     * and pointwise paths need none, but the size covers the im2col path
     * whichever is chosen, so callers may force it. */
    int out_h, out_w;
    if (check_conv(p, &out_h, &out_w) != MAAS_OK)
        return 0;
    maas_clear_error();
    if (is_pointwise(p))
        return 0;
    size_t patch = (size_t)(p->in_channels / p->groups) * p->kernel_h *
                   p->kernel_w;
    size_t width = plan_tiles((size_t)out_h * out_w, 1).width;
    return (size_t)maas_resolve_threads(n_threads) * patch * width;
}

/* Fills col[patch, width] with the input taps of output positions
 * [c0, c0 + width) of group g of batch item b:
 *   col[(ci, ky, kx), c] = in[b, g*cin_g + ci, iy, ix], 0 in the padding,
 * with (oy, ox) = divmod(c, Wo), iy = oy*sh - ph + ky*dh, ix likewise. */
static void im2col_tile(float *col, const float *in, const maas_conv2d_params *p,
                        int b, int g, int out_w, size_t c0, size_t width)
{
    int cin_g = p->in_channels / p->groups;
    size_t row = 0;

    for (int ci = 0; ci < cin_g; ci++) {
        const float *plane = in + ((size_t)b * p->in_channels + g * cin_g + ci) *
                                      p->in_h * p->in_w;
        for (int ky = 0; ky < p->kernel_h; ky++) {
            for (int kx = 0; kx < p->kernel_w; kx++, row++) {
                float *dst = col + row * width;
                int x_off = kx * p->dilation_w - p->pad_w;
                /* Output columns [x_lo, x_hi) read inside the input row. */
                int x_lo = x_off >= 0 ? 0 : (-x_off + p->stride_w - 1) / p->stride_w;
                int x_hi = p->in_w - 1 - x_off < 0
                               ? 0 : (p->in_w - 1 - x_off) / p->stride_w + 1;
                if (x_hi > out_w)
                    x_hi = out_w;
                size_t c = c0;
                /* One output row (or part of one) at a time. */
                while (c < c0 + width) {
                    int oy = (int)(c / out_w);
                    int ox0 = (int)(c % out_w);
                    int ox1 = out_w;
                    if ((size_t)(ox1 - ox0) > c0 + width - c)
                        ox1 = ox0 + (int)(c0 + width - c);
                    float *d = dst + (c - c0) - ox0;  /* d[ox] for this row */
                    int iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
                    int lo = x_lo > ox0 ? x_lo : ox0;
                    int hi = x_hi < ox1 ? x_hi : ox1;
                    if (iy < 0 || iy >= p->in_h || lo >= hi) {
                        memset(d + ox0, 0, (size_t)(ox1 - ox0) * sizeof *d);
                    } else {
                        const float *src = plane + (size_t)iy * p->in_w + x_off;
                        memset(d + ox0, 0, (size_t)(lo - ox0) * sizeof *d);
                        if (p->stride_w == 1)
                            memcpy(d + lo, src + lo, (size_t)(hi - lo) * sizeof *d);
                        else
                            for (int ox = lo; ox < hi; ox++)
                                d[ox] = src[(size_t)ox * p->stride_w];
                        memset(d + hi, 0, (size_t)(ox1 - hi) * sizeof *d);
                    }
                    c += (size_t)(ox1 - ox0);
                }
            }
        }
    }
}

maas_status maas_conv2d_f32_path(float *out, const float *in,
                                 const float *weight, const float *bias,
                                 const maas_conv2d_params *p, float *scratch,
                                 int n_threads, maas_conv_path path)
{
    /* out[B, Cout, Ho, Wo], in[B, Cin, H, W],
     * weight[Cout, Cin/groups, kh, kw], bias[Cout] or NULL,
     * scratch[maas_conv2d_scratch_floats(p, n_threads)] */
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
    if (path == MAAS_CONV_AUTO)
        path = use_direct(p) ? MAAS_CONV_DIRECT : MAAS_CONV_IM2COL;

    /* Direct path: threads take output planes. */
    if (path == MAAS_CONV_DIRECT) {
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
                         maas_conv2d_scratch_floats(p, n_threads));

    /* im2col + sgemm, one tile at a time:
     *   out[b, g][r0:r0+rows, c0:c0+width] =
     *       weight[g][r0:r0+rows, :] . col[:, c0:c0+width] + bias
     * Items run column tile by column tile, so a thread that takes several
     * row tiles of one column tile fills its im2col block once. */
    conv_tiling tiling = plan_tiles(n_cols, cout_g);
    int row_tiles = tiling.row_tiles;
    int per_group = tiling.col_tiles * row_tiles;
    int items = p->batch * p->groups * per_group;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *col = pointwise ? NULL
                               : scratch + (size_t)omp_get_thread_num() *
                                               patch * tiling.width;
        int filled = -1;  /* the column tile (item / row_tiles) in col */
#pragma omp for schedule(static)
        for (int item = 0; item < items; item++) {
            int bg = item / per_group;
            int b = bg / p->groups, g = bg % p->groups;
            int col_tile = (item % per_group) / row_tiles;
            int r0 = (item % row_tiles) * tiling.rows;
            int rows = cout_g - r0 < tiling.rows ? cout_g - r0 : tiling.rows;
            size_t c0 = (size_t)col_tile * tiling.width;
            size_t width = n_cols - c0 < tiling.width ? n_cols - c0
                                                      : tiling.width;

            /* Step 1: the tile's input taps (the input itself for 1x1). */
            const float *taps;
            int ld_taps;
            if (pointwise) {
                taps = in + ((size_t)b * p->in_channels + g * cin_g) * n_cols + c0;
                ld_taps = (int)n_cols;
            } else {
                if (filled != item / row_tiles) {
                    im2col_tile(col, in, p, b, g, out_w, c0, width);
                    filled = item / row_tiles;
                }
                taps = col;
                ld_taps = (int)width;
            }

            /* Step 2: bias, then the product accumulated onto it. */
            float *out_tile = out + ((size_t)b * p->out_channels +
                                     (size_t)g * cout_g + r0) * n_cols + c0;
            for (int r = 0; r < rows; r++) {
                float value = bias ? bias[g * cout_g + r0 + r] : 0.0f;
                for (size_t c = 0; c < width; c++)
                    out_tile[r * n_cols + c] = value;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows,
                        (int)width, patch, 1.0f,
                        weight + ((size_t)g * cout_g + r0) * patch, patch, taps,
                        ld_taps, 1.0f, out_tile, (int)n_cols);
        }
    }
    return MAAS_OK;
}

maas_status maas_conv2d_f32(float *out, const float *in, const float *weight,
                            const float *bias, const maas_conv2d_params *p,
                            float *scratch, int n_threads)
{
    return maas_conv2d_f32_path(out, in, weight, bias, p, scratch, n_threads,
                                MAAS_CONV_AUTO);
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
