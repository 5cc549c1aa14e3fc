/* SIMD maths of the native kernels: the vector type vf (VN floats, one register) with its loads and stores, and
 * tanh and sigmoid for one float (ftanh, fsigmoid) and for a vector (vtanh, vsigmoid).
 *
 * tanh is a rational approximation tanh(x) ~ x * P(x^2) / Q(x^2) on [-9, 9] (|error| < 3e-7 in float32),
 * fitted for rnnlab; sigmoid(x) = 0.5 * tanh(x / 2) + 0.5.  Both vectorise.
 *
 * Part of the one compilation unit rnn_kernels.c (see there). */
#ifndef RNNLAB_SIMD_H
#define RNNLAB_SIMD_H

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

static inline float ftanh(float x) {
    x = x < 9.0f ? x : 9.0f;
    x = x > -9.0f ? x : -9.0f;
    const float s = x * x;
    const float p = 9.99999925e-01f + s * (1.33862192e-01f + s * (3.50195122e-03f + s * (2.07210762e-05f + s * 1.35229366e-08f)));
    const float q = 1.0f + s * (4.67195241e-01f + s * (2.59006953e-02f + s * (3.29636014e-04f + s * 7.84268889e-07f)));
    return x * p / q;
}

static inline float fsigmoid(float x) { return 0.5f * ftanh(0.5f * x) + 0.5f; }

/* VN: the floats in one vector register of the variant being compiled (setup.py).  MR_MAX: the rows of a register
 * tile (product.h, gemm.c), as many as leave registers for 4 accumulator vectors a row. */
#if defined(__AVX512F__)
#define VN 16
#define MR_MAX 6 /* 6 rows x 4 vectors = 24 accumulators of the 32 registers */
#elif defined(__AVX__)
#define VN 8
#define MR_MAX 3 /* 12 accumulators of 16 registers */
#else
#define VN 4 /* the portable baseline: 128-bit registers (SSE2 on x86-64, NEON on aarch64) */
#define MR_MAX 3
#endif
typedef float vf __attribute__((vector_size(VN * 4)));

static inline vf vload(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }
/* A store that bypasses the caches where the line is whole and aligned: for what a training forward saves for its
 * backward pass (megabytes, read back only after the whole sequence), which would otherwise first read each line. */
static inline void vstream(float *p, vf v) {
#if defined(__AVX512F__)
    if (((uintptr_t)p & 63) == 0) { _mm512_stream_ps(p, (__m512)v); return; }
#endif
    vstore(p, v);
}

/* ftanh's clamp to [-9, 9] on a whole vector, with its exact semantics (min then max, as x86's minps and maxps
 * compute a < b ? a : b and a > b ? a : b: a NaN becomes 9).  Written per element, the clamp compiled to a compare
 * and a branch per float (measured: a third of an LSTM step on AVX2). */
static inline vf vclamp9(vf x) {
#if defined(__AVX512F__)
    return (vf)_mm512_max_ps(_mm512_min_ps((__m512)x, _mm512_set1_ps(9.0f)), _mm512_set1_ps(-9.0f));
#elif defined(__AVX__)
    return (vf)_mm256_max_ps(_mm256_min_ps((__m256)x, _mm256_set1_ps(9.0f)), _mm256_set1_ps(-9.0f));
#else
    typedef int32_t vi __attribute__((vector_size(VN * 4)));
    const vf hi = (vf){0} + 9.0f, lo = (vf){0} - 9.0f;
    vi m = x < hi;                                  /* all ones where x < 9 (false for NaN) */
    x = (vf)((m & (vi)x) | (~m & (vi)hi));
    m = x > lo;
    return (vf)((m & (vi)x) | (~m & (vi)lo));
#endif
}

/* ftanh and fsigmoid on a whole vector.  With AVX-512 the division becomes a reciprocal estimate refined by one
 * Newton step (relative error ~1e-7, far below the approximation's own 3e-7): a vector division costs as much as
 * the rest of the gate arithmetic together. */
static inline vf vtanh(vf x) {
    x = vclamp9(x);
    const vf s = x * x;
    const vf p = 9.99999925e-01f + s * (1.33862192e-01f + s * (3.50195122e-03f + s * (2.07210762e-05f + s * 1.35229366e-08f)));
    const vf q = 1.0f + s * (4.67195241e-01f + s * (2.59006953e-02f + s * (3.29636014e-04f + s * 7.84268889e-07f)));
#if defined(__AVX512F__)
    vf r = (vf)_mm512_rcp14_ps((__m512)q);
    r = r * (2.0f - q * r);
    return x * p * r;
#else
    return x * p / q;
#endif
}

static inline vf vsigmoid(vf x) { return 0.5f * vtanh(0.5f * x) + 0.5f; }

#endif /* RNNLAB_SIMD_H */
