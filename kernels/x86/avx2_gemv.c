/* AVX2 matrix-vector products for one-token decode, on f32 and f16
 * weights, and the F16C conversion used for f16 weight panels.
 *
 * Each output is the dot product of one weight row with x, accumulated in
 * one vector register over 8-float steps and reduced at the end.  Four rows
 * are processed together so each load of x feeds four FMAs; the per-row
 * summation order is the same in the 4-row and 1-row loops, so results do
 * not depend on where a thread's slice starts. */
#include <string.h>

#include "x86/avx2.h"
#include "x86/avx2_math.h"

/* Returns a mask selecting the first `rem` (0..8) lanes. */
static inline __m256i tail_mask(int rem)
{
    static const int32_t ones_then_zeros[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
    return _mm256_loadu_si256((const __m256i *)(ones_then_zeros + 8 - rem));
}

/* Reduces four accumulators to one vector of their four sums in lanes 0..3. */
static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d)
{
    __m256 ab = _mm256_hadd_ps(a, b);
    __m256 cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd),
                      _mm256_extractf128_ps(abcd, 1));
}

/* Reduces one accumulator in the same order hsum4 uses. */
static inline float hsum1(__m256 a)
{
    __m256 z = _mm256_setzero_ps();
    return _mm_cvtss_f32(hsum4(a, z, z, z));
}

void maas_avx2_gemv_f32(float *out, const float *x, const float *w,
                        const float *bias, int K, int n0, int n1)
{
    /* out[N], x[K], w[N,K], bias[N] or NULL */
    int k_main = K / 8 * 8;
    __m256i mask = tail_mask(K - k_main);
    int n = n0;

    for (; n + 4 <= n1; n += 4) {
        const float *w0 = w + (size_t)n * K, *w1 = w0 + K, *w2 = w1 + K,
                    *w3 = w2 + K;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(),
               a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int k = 0; k < k_main; k += 8) {
            __m256 xv = _mm256_loadu_ps(x + k);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k), xv, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k), xv, a3);
        }
        if (k_main < K) {
            __m256 xv = _mm256_maskload_ps(x + k_main, mask);
            a0 = _mm256_fmadd_ps(_mm256_maskload_ps(w0 + k_main, mask), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_maskload_ps(w1 + k_main, mask), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_maskload_ps(w2 + k_main, mask), xv, a2);
            a3 = _mm256_fmadd_ps(_mm256_maskload_ps(w3 + k_main, mask), xv, a3);
        }
        __m128 sums = hsum4(a0, a1, a2, a3);
        if (bias)
            sums = _mm_add_ps(sums, _mm_loadu_ps(bias + n));
        _mm_storeu_ps(out + n, sums);
    }

    for (; n < n1; n++) {
        const float *w0 = w + (size_t)n * K;
        __m256 a0 = _mm256_setzero_ps();
        for (int k = 0; k < k_main; k += 8)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), _mm256_loadu_ps(x + k), a0);
        if (k_main < K)
            a0 = _mm256_fmadd_ps(_mm256_maskload_ps(w0 + k_main, mask),
                                 _mm256_maskload_ps(x + k_main, mask), a0);
        out[n] = hsum1(a0) + (bias ? bias[n] : 0.0f);
    }
}

/* Loads 8 f16 values as floats. */
static inline __m256 load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* Loads the first `rem` (< 8) f16 values as floats and zeros the rest,
 * without reading past them. */
static inline __m256 load_f16_tail(const uint16_t *p, int rem)
{
    uint16_t buf[8] = {0};
    memcpy(buf, p, (size_t)rem * sizeof *buf);
    return load_f16(buf);
}

void maas_avx2_gemv_f16(float *out, const float *x, const uint16_t *w,
                        const float *bias, int K, int n0, int n1)
{
    /* out[N], x[K], w[N,K] f16, bias[N] or NULL */
    int k_main = K / 8 * 8;
    int rem = K - k_main;
    __m256i mask = tail_mask(rem);
    int n = n0;

    for (; n + 4 <= n1; n += 4) {
        const uint16_t *w0 = w + (size_t)n * K, *w1 = w0 + K, *w2 = w1 + K,
                       *w3 = w2 + K;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(),
               a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        int k = 0;
        /* 32 weights (one cache line) per row per step, with a prefetch
         * 1 KB ahead: the hardware prefetcher alone leaves the four f16
         * streams short of memory bandwidth. */
        for (; k + 32 <= k_main; k += 32) {
            _mm_prefetch((const char *)(w0 + k) + 1024, _MM_HINT_T0);
            _mm_prefetch((const char *)(w1 + k) + 1024, _MM_HINT_T0);
            _mm_prefetch((const char *)(w2 + k) + 1024, _MM_HINT_T0);
            _mm_prefetch((const char *)(w3 + k) + 1024, _MM_HINT_T0);
            for (int j = k; j < k + 32; j += 8) {
                __m256 xv = _mm256_loadu_ps(x + j);
                a0 = _mm256_fmadd_ps(load_f16(w0 + j), xv, a0);
                a1 = _mm256_fmadd_ps(load_f16(w1 + j), xv, a1);
                a2 = _mm256_fmadd_ps(load_f16(w2 + j), xv, a2);
                a3 = _mm256_fmadd_ps(load_f16(w3 + j), xv, a3);
            }
        }
        for (; k < k_main; k += 8) {
            __m256 xv = _mm256_loadu_ps(x + k);
            a0 = _mm256_fmadd_ps(load_f16(w0 + k), xv, a0);
            a1 = _mm256_fmadd_ps(load_f16(w1 + k), xv, a1);
            a2 = _mm256_fmadd_ps(load_f16(w2 + k), xv, a2);
            a3 = _mm256_fmadd_ps(load_f16(w3 + k), xv, a3);
        }
        if (rem) {
            __m256 xv = _mm256_maskload_ps(x + k_main, mask);
            a0 = _mm256_fmadd_ps(load_f16_tail(w0 + k_main, rem), xv, a0);
            a1 = _mm256_fmadd_ps(load_f16_tail(w1 + k_main, rem), xv, a1);
            a2 = _mm256_fmadd_ps(load_f16_tail(w2 + k_main, rem), xv, a2);
            a3 = _mm256_fmadd_ps(load_f16_tail(w3 + k_main, rem), xv, a3);
        }
        __m128 sums = hsum4(a0, a1, a2, a3);
        if (bias)
            sums = _mm_add_ps(sums, _mm_loadu_ps(bias + n));
        _mm_storeu_ps(out + n, sums);
    }

    for (; n < n1; n++) {
        const uint16_t *w0 = w + (size_t)n * K;
        __m256 a0 = _mm256_setzero_ps();
        for (int k = 0; k < k_main; k += 8)
            a0 = _mm256_fmadd_ps(load_f16(w0 + k), _mm256_loadu_ps(x + k), a0);
        if (rem)
            a0 = _mm256_fmadd_ps(load_f16_tail(w0 + k_main, rem),
                                 _mm256_maskload_ps(x + k_main, mask), a0);
        out[n] = hsum1(a0) + (bias ? bias[n] : 0.0f);
    }
}

void maas_avx2_f16_to_f32(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(dst + i, load_f16(src + i));
        _mm256_storeu_ps(dst + i + 8, load_f16(src + i + 8));
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, load_f16(src + i));
    if (i < n) {
        float buf[8];
        _mm256_storeu_ps(buf, load_f16_tail(src + i, (int)(n - i)));
        memcpy(dst + i, buf, (n - i) * sizeof *buf);
    }
}
