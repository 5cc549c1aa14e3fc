/* Elementwise halves of rnnlab's fused training time loop (float32; LSTM and GRU with reset_after=True and
 * Keras's default activations, tanh and sigmoid).
 *
 * The time loop itself lives in rnnlab/kernels/training.py: each step there does the recurrent matrix product
 * with NumPy's BLAS -- in the transposed form U^T @ h^T, (G*U, B), which BLAS computes faster for small batches
 * than h @ U; a step here first transposes it back -- and calls one function here for everything elementwise
 * around it.  All buffers are
 * batch-major, (B, T, width), so the weight gradients after the loop are single GEMMs over B*T rows:
 *
 *   xa   (B, T, G*U)  projected inputs x_t @ kernel (+ the input bias, unless in_bias is given: then the step
 *                     adds it); the forward overwrites step t's slice with its gate activations
 *                     (LSTM i, f, c_hat, o; GRU z, r, h_hat)
 *   hs   (B, T, U)    the hidden state before each step;  cs (B, T, U) the LSTM cell state before each step
 *   aux  (B, T, U)    LSTM: tanh(c_t);  GRU: the candidate's recurrent term (h_prev @ U_h + b_h)
 *   dz   (B, T, G*U)  backward: gradient at the pre-activations (= at xw, what the kernel gradient needs)
 *   drh  (B, T, 3U)   GRU backward: gradient at h_prev @ recurrent_kernel + recurrent_bias
 *
 * Masks follow Keras (rnnlab/layers/rnn.py): a masked row keeps its state; its output repeats the previous
 * output, or is zero with zero_output.  Backward, a masked row passes its state gradient (and, without
 * zero_output, its output gradient) unchanged to the previous step and contributes nothing to dz.
 *
 * exp is computed with a Cody-Waite range reduction and a degree-7 polynomial (relative error ~1e-7) so that
 * the loops vectorise; sigmoid(x) = 1 / (1 + exp(-x)), tanh(x) = 2 sigmoid(2x) - 1.
 */
#include <stdint.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

typedef struct {
    int64_t B, T, U;
    int64_t zero_output;
    float *xa, *hs, *cs, *aux;
    float *out;            /* (B, T, U) outputs, or NULL: then `last` (B, U) holds the latest output */
    float *last;
    float *h_final, *c_final; /* (B, U) states after the last step */
    const uint8_t *mask;   /* (B, T) or NULL */
    const float *rec_t;    /* (G*U, B): the caller's recurrent product recurrent_kernel^T @ h_prev^T ... */
    float *rec;            /* (B, G*U): ... transposed here, h_prev @ recurrent_kernel */
    const float *in_bias;  /* (G*U,) input bias still to add to xa, or NULL */
    const float *rec_bias; /* GRU: (3U,) recurrent bias or NULL */
    float *dz, *drh;
    const float *dh_t;     /* (U, B): the caller's recurrent_kernel @ dz_{t+1}^T ... */
    float *dh_mm;          /* (B, U): ... transposed here, the recurrent part of dL/dh_t */
    float *dh_pass;        /* (B, U): the rest of dL/dh_t (GRU's z * dh; a masked row's pass-through) */
    float *dc;             /* (B, U): dL/dc_t (LSTM) */
    float *carry;          /* (B, U): gradient reaching the previous output (masks without zero_output) */
    float *scratch;        /* (B, U) */
    const float *d_out;    /* (B, T, U) gradient w.r.t. the output sequence, or NULL */
    const float *d_last;   /* (B, U) gradient w.r.t. the last output, or NULL */
} RnnTrain;

static inline float fexp(float x) {
    x = x < 87.0f ? x : 87.0f;
    x = x > -87.0f ? x : -87.0f;
    const float n = __builtin_rintf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f; /* ln 2 split in two: the first part is exact in float */
    r = r + n * 2.12194440e-4f;
    float p = 1.9841270e-4f;       /* 1/7!, ..., 1/2!, 1, 1 */
    p = p * r + 1.3888889e-3f;
    p = p * r + 8.3333333e-3f;
    p = p * r + 4.1666667e-2f;
    p = p * r + 1.6666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }

static inline float ftanh(float x) { return 2.0f / (1.0f + fexp(-2.0f * x)) - 1.0f; }

static inline void add_row(int64_t n, float *restrict a, const float *restrict b) {
    for (int64_t j = 0; j < n; ++j) a[j] += b[j];
}

#if defined(__AVX__)
/* dst[c * ds + r] = src[r * ss + c] for an 8 x 8 block, in registers (unpack, shuffle, then swap halves). */
static inline void transpose8x8(const float *src, int64_t ss, float *dst, int64_t ds) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ss), r2 = _mm256_loadu_ps(src + 2 * ss),
           r3 = _mm256_loadu_ps(src + 3 * ss), r4 = _mm256_loadu_ps(src + 4 * ss),
           r5 = _mm256_loadu_ps(src + 5 * ss), r6 = _mm256_loadu_ps(src + 6 * ss),
           r7 = _mm256_loadu_ps(src + 7 * ss);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ds, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ds, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ds, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ds, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ds, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ds, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ds, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

/* dst (cols, rows) = src (rows, cols)^T: 8 x 8 register blocks where AVX exists, element by element for the
 * rest. */
static void transpose(const float *restrict src, int64_t rows, int64_t cols, float *restrict dst) {
    int64_t j0 = 0;
#if defined(__AVX__)
    /* 8 output rows at a time, each written front to back (few lines in flight: output rows are often 4 KiB
     * apart, and columns-first order would thrash their cache set). */
    for (; j0 + 8 <= cols; j0 += 8) {
        int64_t i0 = 0;
        for (; i0 + 8 <= rows; i0 += 8) transpose8x8(src + i0 * cols + j0, cols, dst + j0 * rows + i0, rows);
        for (; i0 < rows; ++i0)
            for (int64_t j = j0; j < j0 + 8; ++j) dst[j * rows + i0] = src[i0 * cols + j];
    }
#endif
    for (; j0 < cols; ++j0)
        for (int64_t i = 0; i < rows; ++i) dst[j0 * rows + i] = src[i * cols + j0];
}

static inline int64_t at(const RnnTrain *p, int64_t b, int64_t t) { return b * p->T + t; }

/* Output slots of step t for row b: the next state (hs at t+1, or the final state) and the output. */
static inline float *next_h(const RnnTrain *p, int64_t b, int64_t t) {
    return t + 1 < p->T ? p->hs + at(p, b, t + 1) * p->U : p->h_final + b * p->U;
}

static inline float *next_c(const RnnTrain *p, int64_t b, int64_t t) {
    return t + 1 < p->T ? p->cs + at(p, b, t + 1) * p->U : p->c_final + b * p->U;
}

/* The output of step t for row b, and the previous output (NULL: zeros). */
static inline float *output_slot(const RnnTrain *p, int64_t b, int64_t t, const float **prev) {
    if (p->out) {
        *prev = t > 0 ? p->out + at(p, b, t - 1) * p->U : NULL;
        return p->out + at(p, b, t) * p->U;
    }
    *prev = p->last + b * p->U; /* updated in place */
    return p->last + b * p->U;
}

static inline void masked_output(const RnnTrain *p, float *o, const float *prev) {
    const int64_t U = p->U;
    if (p->zero_output || prev == NULL)
        memset(o, 0, sizeof(float) * U);
    else if (o != prev)
        memcpy(o, prev, sizeof(float) * U);
}

/* dL/d(output of step t) for row b, into s: d_out[t] + d_last (last step) + carry. */
static inline void output_grad(const RnnTrain *p, int64_t b, int64_t t, float *restrict s) {
    const int64_t U = p->U;
    if (p->d_out)
        memcpy(s, p->d_out + at(p, b, t) * U, sizeof(float) * U);
    else
        memset(s, 0, sizeof(float) * U);
    if (p->d_last && t == p->T - 1) {
        const float *restrict d = p->d_last + b * U;
        for (int64_t u = 0; u < U; ++u) s[u] += d[u];
    }
    if (p->carry) {
        const float *restrict d = p->carry + b * U;
        for (int64_t u = 0; u < U; ++u) s[u] += d[u];
    }
}

/* A masked row, backward: nothing reaches dz; the state gradient passes through (dh_pass = dh_mm + dh_pass,
 * dc unchanged) and the output gradient goes on to the previous output unless outputs are zeroed. */
static inline void masked_backward(const RnnTrain *p, int64_t b, const float *restrict s, float *restrict dz,
                                   float *restrict drh, int64_t G) {
    const int64_t U = p->U;
    float *restrict dps = p->dh_pass + b * U;
    const float *restrict dhm = p->dh_mm + b * U;
    for (int64_t u = 0; u < U; ++u) dps[u] += dhm[u];
    memset(dz, 0, sizeof(float) * G);
    if (drh) memset(drh, 0, sizeof(float) * G);
    if (p->carry) {
        float *restrict c = p->carry + b * U;
        if (p->zero_output)
            memset(c, 0, sizeof(float) * U);
        else
            memcpy(c, s, sizeof(float) * U);
    }
}

/* ------------------------------------------------------------------------------------------------ LSTM */

/* One row: c = f c_prev + i c_hat, tc = tanh(c), h = o tc (written to the next state and the output). */
static void lstm_cell_update(int64_t U, const float *restrict a, const float *restrict cp, float *restrict cn,
                             float *restrict tc, float *restrict hn, float *restrict o) {
    const float *restrict gi = a, *restrict gf = a + U, *restrict gc = a + 2 * U, *restrict go = a + 3 * U;
    for (int64_t u = 0; u < U; ++u) {
        const float c = gf[u] * cp[u] + gi[u] * gc[u];
        const float th = ftanh(c);
        const float h = go[u] * th;
        cn[u] = c;
        tc[u] = th;
        hn[u] = h;
        o[u] = h;
    }
}

/* One row backward (see lstm_train_backward_step); s holds dL/dh_t without dh_mm. */
static void lstm_row_backward(int64_t U, const float *restrict a, const float *restrict tc, const float *restrict cp,
                              const float *restrict s, const float *restrict dhm, float *restrict dc,
                              float *restrict dz) {
    const float *restrict gi = a, *restrict gf = a + U, *restrict gc = a + 2 * U, *restrict go = a + 3 * U;
    for (int64_t u = 0; u < U; ++u) {
        const float dh = s[u] + dhm[u];
        const float i = gi[u], f = gf[u], g = gc[u], o = go[u], th = tc[u];
        const float dcv = dc[u] + dh * o * (1.0f - th * th);
        dz[u] = dcv * g * i * (1.0f - i);
        dz[U + u] = dcv * cp[u] * f * (1.0f - f);
        dz[2 * U + u] = dcv * i * (1.0f - g * g);
        dz[3 * U + u] = dh * th * o * (1.0f - o);
        dc[u] = dcv * f;
    }
}

/* Step t forward: z = xa[t] + rec; i, f, o = sigmoid, c_hat = tanh; c = f c_prev + i c_hat; h = o tanh(c). */
void lstm_train_forward_step(const RnnTrain *p, int64_t t) {
    const int64_t U = p->U, G = 4 * U;
    transpose(p->rec_t, G, p->B, p->rec);
    for (int64_t b = 0; b < p->B; ++b) {
        float *restrict a = p->xa + at(p, b, t) * G;
        const float *restrict r = p->rec + b * G;
        if (p->in_bias) add_row(G, a, p->in_bias);
        for (int64_t j = 0; j < 2 * U; ++j) a[j] = fsigmoid(a[j] + r[j]);
        for (int64_t j = 2 * U; j < 3 * U; ++j) a[j] = ftanh(a[j] + r[j]);
        for (int64_t j = 3 * U; j < G; ++j) a[j] = fsigmoid(a[j] + r[j]);
        const float *restrict hp = p->hs + at(p, b, t) * U;
        const float *restrict cp = p->cs + at(p, b, t) * U;
        float *restrict hn = next_h(p, b, t);
        float *restrict cn = next_c(p, b, t);
        const float *prev;
        float *o = output_slot(p, b, t, &prev);
        if (p->mask && !p->mask[at(p, b, t)]) {
            memcpy(hn, hp, sizeof(float) * U);
            memcpy(cn, cp, sizeof(float) * U);
            masked_output(p, o, prev);
            continue;
        }
        lstm_cell_update(U, a, cp, cn, p->aux + at(p, b, t) * U, hn, o);
    }
}

/* Step t backward. With dh = dL/dh_t and dc = dL/dc_t:
 *   do = dh tanh(c);  dc += dh o (1 - tanh(c)^2);  di = dc c_hat;  df = dc c_prev;  dc_hat = dc i
 *   dz = [di i(1-i), df f(1-f), dc_hat (1-c_hat^2), do o(1-o)];  dL/dc_{t-1} = dc f.
 * dL/dh_{t-1} = dz @ recurrent_kernel^T is the caller's GEMM (into dh_mm). */
void lstm_train_backward_step(const RnnTrain *p, int64_t t) {
    const int64_t U = p->U, G = 4 * U;
    transpose(p->dh_t, U, p->B, p->dh_mm);
    for (int64_t b = 0; b < p->B; ++b) {
        float *restrict s = p->scratch + b * U;
        output_grad(p, b, t, s);
        float *restrict dz = p->dz + at(p, b, t) * G;
        if (p->mask && !p->mask[at(p, b, t)]) {
            masked_backward(p, b, s, dz, NULL, G);
            continue;
        }
        if (p->dh_pass) {
            float *restrict dps = p->dh_pass + b * U;
            for (int64_t u = 0; u < U; ++u) {
                s[u] += dps[u];
                dps[u] = 0.0f;
            }
        }
        if (p->carry) memset(p->carry + b * U, 0, sizeof(float) * U);
        lstm_row_backward(U, p->xa + at(p, b, t) * G, p->aux + at(p, b, t) * U, p->cs + at(p, b, t) * U, s,
                          p->dh_mm + b * U, p->dc + b * U, dz);
    }
}

/* ------------------------------------------------------------------------------------------------ GRU */

/* One row backward (see gru_train_backward_step); s holds the output gradient. */
static void gru_row_backward(int64_t U, const float *restrict a, const float *restrict rhh, const float *restrict hp,
                             const float *restrict s, const float *restrict dhm, float *restrict dps,
                             float *restrict dz, float *restrict drh) {
    const float *restrict gz = a, *restrict gr = a + U, *restrict gh = a + 2 * U;
    for (int64_t u = 0; u < U; ++u) {
        const float dh = s[u] + dhm[u] + dps[u];
        const float z = gz[u], r = gr[u], hh = gh[u];
        const float dzp = dh * (hp[u] - hh) * z * (1.0f - z);
        const float da = dh * (1.0f - z) * (1.0f - hh * hh);
        const float drp = da * rhh[u] * r * (1.0f - r);
        dz[u] = dzp;
        dz[U + u] = drp;
        dz[2 * U + u] = da;
        drh[u] = dzp;
        drh[U + u] = drp;
        drh[2 * U + u] = da * r;
        dps[u] = dh * z;
    }
}

/* Step t forward (reset_after=True): rh = rec + rec_bias; z, r = sigmoid(xa_zr + rh_zr);
 * h_hat = tanh(xa_h + r rh_h); h = z h_prev + (1 - z) h_hat.  aux keeps rh_h. */
void gru_train_forward_step(const RnnTrain *p, int64_t t) {
    const int64_t U = p->U, G = 3 * U;
    transpose(p->rec_t, G, p->B, p->rec);
    const float *restrict rb = p->rec_bias;
    for (int64_t b = 0; b < p->B; ++b) {
        float *restrict a = p->xa + at(p, b, t) * G;
        const float *restrict r = p->rec + b * G;
        float *restrict rhh = p->aux + at(p, b, t) * U;
        if (p->in_bias) add_row(G, a, p->in_bias);
        if (rb) {
            for (int64_t j = 0; j < 2 * U; ++j) a[j] = fsigmoid(a[j] + r[j] + rb[j]);
            for (int64_t u = 0; u < U; ++u) rhh[u] = r[2 * U + u] + rb[2 * U + u];
        } else {
            for (int64_t j = 0; j < 2 * U; ++j) a[j] = fsigmoid(a[j] + r[j]);
            for (int64_t u = 0; u < U; ++u) rhh[u] = r[2 * U + u];
        }
        const float *restrict gr = a + U;
        float *restrict gh = a + 2 * U;
        for (int64_t u = 0; u < U; ++u) gh[u] = ftanh(gh[u] + gr[u] * rhh[u]);
        const float *restrict hp = p->hs + at(p, b, t) * U;
        float *restrict hn = next_h(p, b, t);
        const float *prev;
        float *o = output_slot(p, b, t, &prev);
        if (p->mask && !p->mask[at(p, b, t)]) {
            memcpy(hn, hp, sizeof(float) * U);
            masked_output(p, o, prev);
            continue;
        }
        const float *restrict gz = a;
        for (int64_t u = 0; u < U; ++u) {
            const float h = gz[u] * hp[u] + (1.0f - gz[u]) * gh[u];
            hn[u] = h;
            o[u] = h;
        }
    }
}

/* Step t backward (reset_after=True). With dh = dL/dh_t:
 *   dz_pre = dh (h_prev - h_hat) z(1-z);  da = dh (1-z)(1-h_hat^2);  dr_pre = da rh_h r(1-r)
 *   dz = [dz_pre, dr_pre, da] (at xw);  drh = [dz_pre, dr_pre, da r] (at rh);  dh_pass = dh z.
 * dL/dh_{t-1} = dh_pass + drh @ recurrent_kernel^T (the caller's GEMM, into dh_mm). */
void gru_train_backward_step(const RnnTrain *p, int64_t t) {
    const int64_t U = p->U, G = 3 * U;
    transpose(p->dh_t, U, p->B, p->dh_mm);
    for (int64_t b = 0; b < p->B; ++b) {
        float *restrict s = p->scratch + b * U;
        output_grad(p, b, t, s);
        float *restrict dz = p->dz + at(p, b, t) * G;
        float *restrict drh = p->drh + at(p, b, t) * G;
        if (p->mask && !p->mask[at(p, b, t)]) {
            masked_backward(p, b, s, dz, drh, G);
            continue;
        }
        if (p->carry) memset(p->carry + b * U, 0, sizeof(float) * U);
        gru_row_backward(U, p->xa + at(p, b, t) * G, p->aux + at(p, b, t) * U, p->hs + at(p, b, t) * U, s,
                         p->dh_mm + b * U, p->dh_pass + b * U, dz, drh);
    }
}
