/* Vector maths for the AVX2 kernels: exp, erf, tanh and the GELU forms on
 * eight floats at a time.  Include only from files compiled with
 * -mavx2 -mfma.
 *
 * The polynomial coefficients were fitted for libmaas by weighted least
 * squares on Chebyshev nodes against mpmath in double precision.  The
 * relative errors quoted are the largest seen over a dense grid with the
 * polynomial evaluated in float, as here. */
#ifndef MAAS_AVX2_MATH_H
#define MAAS_AVX2_MATH_H

#include <immintrin.h>

/* Returns a + b x + c x^2 + ... evaluated by Horner's rule with FMA. */
#define MAAS_FMA(acc, x, c) _mm256_fmadd_ps((acc), (x), _mm256_set1_ps(c))

static inline float maas_avx2_hsum(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static inline float maas_avx2_hmax(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_max_ps(lo, hi);
    lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_max_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

/* Returns exp(r) * 2^n for |r| <= ln2 / 2 and integral n in [-126, 127]:
 * exp(r) = 1 + r + r^2 P(r), then n + 127 goes into the exponent field. */
static inline __m256 maas_avx2_exp_reduced(__m256 n, __m256 r)
{
    __m256 p = _mm256_set1_ps(1.393364859e-03f);
    p = MAAS_FMA(p, r, 8.363179862e-03f);
    p = MAAS_FMA(p, r, 4.166646674e-02f);
    p = MAAS_FMA(p, r, 1.666657627e-01f);
    p = MAAS_FMA(p, r, 5.000000000e-01f);
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));

    __m256i ni = _mm256_cvtps_epi32(n);
    __m256 scale = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(p, scale);
}

/* exp(x), relative error below 1.2e-7 for x in [-87.3, 88]; 0 below that
 * range (including -INFINITY), exp(88) = 1.65e38 above it (callers divide
 * by it or add it to 1, so a finite ceiling is as good as infinity).
 * x = n ln 2 + r with |r| <= ln2 / 2, ln 2 split in two parts (Cody-Waite)
 * so r is exact to float precision. */
static inline __m256 maas_avx2_exp(__m256 x)
{
    const __m256 lo_limit = _mm256_set1_ps(-87.33654f);
    __m256 underflow = _mm256_cmp_ps(x, lo_limit, _CMP_LT_OQ);
    /* max_ps and min_ps return their second operand when one is NaN, so x
     * goes second and a NaN passes through to the result. */
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(lo_limit, x));

    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    return _mm256_andnot_ps(underflow, maas_avx2_exp_reduced(n, r));
}

/* 1 + erf(z + z_lo), the factor of the exact GELU, without a branch, for
 * z_lo a correction far below z's last bit (0 when z is exact):
 *   erfc(a) = exp(-a^2 + a R(a)) for a = |z| <= 4, R fitted to
 *             (log(erfc(a)) + a^2) / a,
 *   1 + erf(z) = 2 - erfc(z) for z >= 0 and erfc(-z) for z < 0.
 * a^2 is split exactly into hi + lo with an FMA, and only the small parts
 * are added together, so the exponent (down to -18) keeps float precision
 * in its low part.  Writing a R(a) keeps log erfc exact near 0.  Relative error of
 * the result: below 1e-6 over |z| <= 4 (measured by bench_kernels).
 * Beyond |z| = 4 erfc is taken as 0: it is below 1.6e-8 there, and 1 + erf
 * rounds to 2 in float for positive z. */
static inline __m256 maas_avx2_one_plus_erf(__m256 z, __m256 z_lo)
{
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 a = _mm256_andnot_ps(sign_bit, z);
    __m256 t_lo = _mm256_xor_ps(z_lo, _mm256_and_ps(sign_bit, z));
    __m256 beyond = _mm256_cmp_ps(a, _mm256_set1_ps(4.0f), _CMP_GE_OQ);
    __m256 t = _mm256_min_ps(a, _mm256_set1_ps(4.0f));

    /* R(t) = c0 + c1 t + ... + c11 t^11 by Estrin's scheme: pairs, then
     * pairs of pairs, so the dependency chain is 5 deep instead of 11. */
    __m256 t2 = _mm256_mul_ps(t, t);
    __m256 t4 = _mm256_mul_ps(t2, t2);
    __m256 t8 = _mm256_mul_ps(t4, t4);
#define MAAS_PAIR(c0, c1) MAAS_FMA(_mm256_set1_ps(c1), t, c0)
    __m256 p01 = MAAS_PAIR(-1.128379107e+00f, 3.633796275e-01f);
    __m256 p23 = MAAS_PAIR(-1.027643681e-01f, 1.908392832e-02f);
    __m256 p45 = MAAS_PAIR(3.366209858e-04f, -1.917761285e-03f);
    __m256 p67 = MAAS_PAIR(8.425936103e-04f, -2.217995352e-04f);
    __m256 p89 = MAAS_PAIR(3.902276876e-05f, -4.499295301e-06f);
    __m256 pab = MAAS_PAIR(3.079425426e-07f, -9.476350371e-09f);
#undef MAAS_PAIR
    __m256 q0 = _mm256_fmadd_ps(p23, t2, p01);
    __m256 q1 = _mm256_fmadd_ps(p67, t2, p45);
    __m256 q2 = _mm256_fmadd_ps(pab, t2, p89);
    __m256 R = _mm256_fmadd_ps(q2, t8, _mm256_fmadd_ps(q1, t4, q0));

    /* exponent = -hi + (t R - lo) with hi + lo = (t + t_lo)^2 to twice
     * float precision; reduce by n ln 2 against -hi first, where the
     * subtraction is exact. */
    __m256 lo = _mm256_fmsub_ps(t, t, t2);
    lo = _mm256_fmadd_ps(_mm256_add_ps(t, t), t_lo, lo);
    __m256 small = _mm256_fmsub_ps(t, R, lo);
    __m256 x = _mm256_sub_ps(small, t2);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f),
                                _mm256_sub_ps(_mm256_setzero_ps(), t2));
    r = _mm256_add_ps(r, small);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 erfc = _mm256_andnot_ps(beyond, maas_avx2_exp_reduced(n, r));

    __m256 negative = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), erfc,
                            negative);
}

/* tanh(x), relative error below 3e-7:
 *   |x| < 0.625:  x + x^3 P(x^2)
 *   otherwise:    sign(x) (1 - 2 / (exp(2|x|) + 1)), |x| clamped to 10
 *                 (tanh rounds to 1 in float from 9.01 on). */
static inline __m256 maas_avx2_tanh(__m256 x)
{
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 a = _mm256_andnot_ps(sign_bit, x);
    __m256 small = _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    int small_lanes = _mm256_movemask_ps(small);
    __m256 result = _mm256_setzero_ps();

    if (small_lanes != 0) {
        __m256 s = _mm256_mul_ps(a, a);
        __m256 p = _mm256_set1_ps(-6.139020436e-03f);
        p = MAAS_FMA(p, s, 2.103332803e-02f);
        p = MAAS_FMA(p, s, -5.386101827e-02f);
        p = MAAS_FMA(p, s, 1.333287060e-01f);
        p = MAAS_FMA(p, s, -3.333333135e-01f);
        result = _mm256_fmadd_ps(_mm256_mul_ps(a, s), p, a);
    }
    if (small_lanes != 0xff) {
        __m256 e = maas_avx2_exp(
            _mm256_mul_ps(_mm256_min_ps(_mm256_set1_ps(10.0f), a),
                          _mm256_set1_ps(2.0f)));
        __m256 large = _mm256_sub_ps(
            _mm256_set1_ps(1.0f),
            _mm256_div_ps(_mm256_set1_ps(2.0f),
                          _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
        result = _mm256_blendv_ps(large, result, small);
    }
    return _mm256_or_ps(result, _mm256_and_ps(sign_bit, x));
}

/* GELU, exact form: 0.5 x (1 + erf(x / sqrt 2)).  x / sqrt 2 is carried
 * as z + z_lo (1/sqrt 2 = 0.70710677f + 1.2101617e-8): the rounding of z
 * alone would cost erfc 2 z^2 2^-24 of relative accuracy. */
static inline __m256 maas_avx2_gelu_erf(__m256 x)
{
    const __m256 c_hi = _mm256_set1_ps(0.70710677f);
    __m256 z = _mm256_mul_ps(x, c_hi);
    __m256 z_lo = _mm256_fmsub_ps(x, c_hi, z);
    z_lo = _mm256_fmadd_ps(x, _mm256_set1_ps(1.2101617e-8f), z_lo);
    __m256 half_x = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
    return _mm256_mul_ps(half_x, maas_avx2_one_plus_erf(z, z_lo));
}

/* GELU, tanh form: 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3),
 * computed as x / (1 + exp(-2u)), the same value without tanh's
 * cancellation for negative u. */
static inline __m256 maas_avx2_gelu_tanh(__m256 x)
{
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(x2, x),
                                   _mm256_set1_ps(0.044715f), x);
    /* -2u = -2 sqrt(2/pi) inner.  Where exp(-2u) would pass exp's finite
     * ceiling the result is 0 (x times a weight below 1e-38). */
    __m256 arg = _mm256_mul_ps(inner, _mm256_set1_ps(-1.5957691216057308f));
    __m256 vanishes = _mm256_cmp_ps(arg, _mm256_set1_ps(88.0f), _CMP_GT_OQ);
    __m256 e = maas_avx2_exp(arg);
    __m256 y = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_andnot_ps(vanishes, y);
}

#endif /* MAAS_AVX2_MATH_H */
