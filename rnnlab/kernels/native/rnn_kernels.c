/* Compiled time loops for rnnlab's LSTM and GRU (float32, Keras default activations tanh / sigmoid).
 *
 * They compute the equations of rnnlab/cells/{lstm,gru}.py with Keras's mask semantics (see
 * rnnlab/layers/rnn.py): at a masked step the state is kept and the output repeats the previous output, or is
 * zero with zero_output.  Inputs arrive already projected (xw = x @ kernel + input bias, one GEMM for all steps)
 * and in processing order.  Batch rows are independent over the whole sequence; built with OpenMP, threads
 * split them (rnnlab builds without it, see rnnlab/kernels/native/__init__.py).
 *
 * tanh is a rational approximation tanh(x) ~ x * P(x^2) / Q(x^2) on [-9, 9] (|error| < 3e-7 in float32),
 * fitted for rnnlab; sigmoid(x) = 0.5 * tanh(x / 2) + 0.5.  Both vectorise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
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

/* z[0:G] += h[0:K] @ W[0:K, 0:G] where W rows are `stride` floats apart. */
static inline void matvec_acc(float *restrict z, const float *restrict h, const float *restrict W, int K, int G,
                              int stride) {
    for (int k = 0; k < K; ++k) {
        const float hk = h[k];
        const float *restrict w = W + (int64_t)k * stride;
        for (int j = 0; j < G; ++j) z[j] += hk * w[j];
    }
}

/* Register tile of the recurrent product: RT rows x NV vectors of VN floats, in GCC/Clang vector types so that
 * the accumulators stay in registers for the whole K loop. */
#if defined(__AVX512F__)
#define VB 64 /* bytes per vector: 16 floats */
#define NV 4
#else
#define VB 32 /* 8 floats (AVX2, NEON pairs, or compiler-split) */
#define NV 2
#endif
#define VN (VB / 4)
#define JT (NV * VN)
#define RT 4
typedef float vf __attribute__((vector_size(VB)));

static inline vf vload(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* Z[r, :] += H[r, :] @ W for rows r < R: Z (R, G) row stride G, H (R, K) row stride hs, W (K, G) row stride ws.
 * A column panel of W (K x JT) is reused for every row while it sits in cache; each RT x JT block of Z is
 * accumulated in registers over the whole K loop. */
static void gemm_acc(float *restrict Z, const float *restrict H, int hs, const float *restrict W, int ws, int R,
                     int K, int G) {
    int j0 = 0;
    for (; j0 + JT <= G; j0 += JT) {
        int r0 = 0;
        for (; r0 + RT <= R; r0 += RT) {
            vf acc[RT][NV];
            for (int r = 0; r < RT; ++r)
                for (int v = 0; v < NV; ++v) acc[r][v] = vload(Z + (int64_t)(r0 + r) * G + j0 + v * VN);
            for (int k = 0; k < K; ++k) {
                const float *restrict w = W + (int64_t)k * ws + j0;
                vf wv[NV];
                for (int v = 0; v < NV; ++v) wv[v] = vload(w + v * VN);
                for (int r = 0; r < RT; ++r) {
                    const float hk = H[(int64_t)(r0 + r) * hs + k];
                    for (int v = 0; v < NV; ++v) acc[r][v] += hk * wv[v];
                }
            }
            for (int r = 0; r < RT; ++r)
                for (int v = 0; v < NV; ++v) vstore(Z + (int64_t)(r0 + r) * G + j0 + v * VN, acc[r][v]);
        }
        for (; r0 < R; ++r0) { /* leftover rows */
            vf acc[NV];
            for (int v = 0; v < NV; ++v) acc[v] = vload(Z + (int64_t)r0 * G + j0 + v * VN);
            for (int k = 0; k < K; ++k) {
                const float hk = H[(int64_t)r0 * hs + k];
                const float *restrict w = W + (int64_t)k * ws + j0;
                for (int v = 0; v < NV; ++v) acc[v] += hk * vload(w + v * VN);
            }
            for (int v = 0; v < NV; ++v) vstore(Z + (int64_t)r0 * G + j0 + v * VN, acc[v]);
        }
    }
    if (j0 < G) /* leftover columns */
        for (int r = 0; r < R; ++r) matvec_acc(Z + (int64_t)r * G + j0, H + (int64_t)r * hs, W + j0, K, G - j0, ws);
}

/* Threads for a whole-sequence loop (1 unless built with OpenMP and the work is large), and this thread's rows:
 * a contiguous range, a multiple of RT long, so each thread keeps its rows for the whole sequence. */
static int thread_count(int64_t work, int B) {
#ifdef _OPENMP
    if (work >= (1 << 18) && B >= 2 * RT) return omp_get_max_threads();
#endif
    (void)work; (void)B;
    return 1;
}

static void thread_rows(int B, int *r_begin, int *R) {
    int tid = 0, nt = 1;
#ifdef _OPENMP
    tid = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    const int per = ((B + nt - 1) / nt + RT - 1) / RT * RT;
    const int begin = tid * per < B ? tid * per : B;
    const int end = begin + per < B ? begin + per : B;
    *r_begin = begin;
    *R = end - begin;
}

/* Gate activations and state update of one LSTM row, from pre-activations z = [i | f | c_hat | o]. */
static inline void lstm_row_update(float *restrict z, float *restrict h, float *restrict c, float *restrict prev,
                                   float *restrict out_t, int M, int keep, int zero_output) {
    for (int j = 0; j < 2 * M; ++j) z[j] = fsigmoid(z[j]);
    for (int j = 2 * M; j < 3 * M; ++j) z[j] = ftanh(z[j]);
    for (int j = 3 * M; j < 4 * M; ++j) z[j] = fsigmoid(z[j]);
    for (int j = 0; j < M; ++j) {
        const float cn = z[M + j] * c[j] + z[j] * z[2 * M + j];
        const float hn = z[3 * M + j] * ftanh(cn);
        float o;
        if (keep) { c[j] = cn; h[j] = hn; o = hn; }
        else { o = zero_output ? 0.0f : prev[j]; }
        prev[j] = o;
        if (out_t) out_t[j] = o;
    }
}

/* Whole LSTM sequence. xw (B, T, 4M); U (M, 4M); buf holds h, c, prev (each B*M, in/out: initial states in,
 * final states and last output out) followed, when has_out, by the outputs (B, T, M); mask (B, T) or NULL.
 * Rows are independent over the whole sequence, so threads split the rows and run every step on their own. */
void lstm_sequence_f32(int B, int T, int M, const float *xw, const float *U, float *buf, const uint8_t *mask,
                       int zero_output, int has_out) {
    const int G = 4 * M;
    float *h = buf, *c = buf + (int64_t)B * M, *prev = buf + 2 * (int64_t)B * M;
    float *out = has_out ? buf + 3 * (int64_t)B * M : 0;
#pragma omp parallel num_threads(thread_count((int64_t)B * G * M, B))
    {
        int r_begin, R;
        thread_rows(B, &r_begin, &R);
        float *z = R > 0 ? (float *)malloc(sizeof(float) * (size_t)R * G) : 0;
        for (int t = 0; t < T && R > 0; ++t) {
            for (int r = 0; r < R; ++r)
                memcpy(z + (int64_t)r * G, xw + ((int64_t)(r_begin + r) * T + t) * G, sizeof(float) * G);
            gemm_acc(z, h + (int64_t)r_begin * M, M, U, G, R, M, G);
            for (int r = 0; r < R; ++r) {
                const int b = r_begin + r;
                const int keep = mask ? mask[(int64_t)b * T + t] : 1;
                lstm_row_update(z + (int64_t)r * G, h + (int64_t)b * M, c + (int64_t)b * M, prev + (int64_t)b * M,
                                out ? out + ((int64_t)b * T + t) * M : 0, M, keep, zero_output);
            }
        }
        free(z);
    }
}

/* One LSTM step for all rows, from pre-activations z (B, 4M) computed elsewhere (e.g. a BLAS GEMM). */
void lstm_step_f32(int B, int M, float *z, float *h, float *c, float *prev, const uint8_t *keep,
                   int zero_output, float *out_t, int64_t out_stride) {
    const int G = 4 * M;
#pragma omp parallel for schedule(static) if ((int64_t)B * G > 16384)
    for (int b = 0; b < B; ++b) {
        lstm_row_update(z + (int64_t)b * G, h + (int64_t)b * M, c + (int64_t)b * M, prev + (int64_t)b * M,
                        out_t ? out_t + (int64_t)b * out_stride : 0, M, keep ? keep[b] : 1, zero_output);
    }
}

/* GRU row update. reset_after: rh = h @ U + rec_bias (3M) is given; else rh holds h @ U[:, :2M] (2M) and the
 * candidate's recurrent product (r * h) @ U[:, 2M:] is computed here. */
static inline void gru_row_update(const float *restrict xw, float *restrict rh, float *restrict h,
                                  float *restrict prev, float *restrict out_t, const float *restrict U, int M,
                                  int reset_after, int keep, int zero_output, float *restrict tmp) {
    float *restrict zr = tmp;          /* 2M: z | r */
    float *restrict hh = tmp + 2 * M;  /* M: candidate */
    for (int j = 0; j < 2 * M; ++j) zr[j] = fsigmoid(xw[j] + rh[j]);
    if (reset_after) {
        for (int j = 0; j < M; ++j) hh[j] = xw[2 * M + j] + zr[M + j] * rh[2 * M + j];
    } else {
        float *restrict rhp = tmp + 3 * M; /* M: r * h */
        for (int j = 0; j < M; ++j) { rhp[j] = zr[M + j] * h[j]; hh[j] = xw[2 * M + j]; }
        matvec_acc(hh, rhp, U + 2 * M, M, M, 3 * M);
    }
    for (int j = 0; j < M; ++j) {
        const float cand = ftanh(hh[j]);
        const float hn = cand + zr[j] * (h[j] - cand);
        float o;
        if (keep) { o = hn; } else { o = zero_output ? 0.0f : prev[j]; }
        prev[j] = o;
        if (out_t) out_t[j] = o;
        hh[j] = hn;
    }
    if (keep) memcpy(h, hh, sizeof(float) * M);
}

/* Whole GRU sequence; buf holds h and prev (each B*M, in/out) followed, when has_out, by the outputs. */
void gru_sequence_f32(int B, int T, int M, const float *xw, const float *U, const float *rec_bias, float *buf,
                      const uint8_t *mask, int zero_output, int has_out, int reset_after) {
    const int G = 3 * M;
    const int R3 = reset_after ? G : 2 * M; /* width of the recurrent product computed up front */
    float *h = buf, *prev = buf + (int64_t)B * M;
    float *out = has_out ? buf + 2 * (int64_t)B * M : 0;
#pragma omp parallel num_threads(thread_count((int64_t)B * G * M, B))
    {
        int r_begin, R;
        thread_rows(B, &r_begin, &R);
        float *rh = R > 0 ? (float *)malloc(sizeof(float) * (size_t)R * R3) : 0;
        float *tmp = (float *)malloc(sizeof(float) * 4 * (size_t)M);
        for (int t = 0; t < T && R > 0; ++t) {
            for (int r = 0; r < R; ++r) {
                if (reset_after && rec_bias) memcpy(rh + (int64_t)r * R3, rec_bias, sizeof(float) * R3);
                else memset(rh + (int64_t)r * R3, 0, sizeof(float) * R3);
            }
            gemm_acc(rh, h + (int64_t)r_begin * M, M, U, G, R, M, R3);
            for (int r = 0; r < R; ++r) {
                const int b = r_begin + r;
                const int keep = mask ? mask[(int64_t)b * T + t] : 1;
                gru_row_update(xw + ((int64_t)b * T + t) * G, rh + (int64_t)r * R3, h + (int64_t)b * M,
                               prev + (int64_t)b * M, out ? out + ((int64_t)b * T + t) * M : 0, U, M, reset_after,
                               keep, zero_output, tmp);
            }
        }
        free(rh);
        free(tmp);
    }
}

/* One GRU step for all rows from xw_t rows (stride xw_stride) and recurrent products rh (B, 3M or 2M). */
void gru_step_f32(int B, int M, const float *xw_t, int64_t xw_stride, float *rh, const float *U, float *h,
                  float *prev, const uint8_t *keep, int zero_output, float *out_t, int64_t out_stride,
                  int reset_after) {
    const int R = reset_after ? 3 * M : 2 * M;
#pragma omp parallel for schedule(static) if ((int64_t)B * 3 * M > 16384)
    for (int b = 0; b < B; ++b) {
        float tmp[4 * M];
        gru_row_update(xw_t + (int64_t)b * xw_stride, rh + (int64_t)b * R, h + (int64_t)b * M,
                       prev + (int64_t)b * M, out_t ? out_t + (int64_t)b * out_stride : 0, U, M, reset_after,
                       keep ? keep[b] : 1, zero_output, tmp);
    }
}
