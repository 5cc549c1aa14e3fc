/* The matrix products of a training call's backward pass on rnnlab's threads (rnn_gemm_f32).
 *
 * Part of the one compilation unit rnn_kernels.c (see there). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"
#include "product.h"

/* C (R1 + R2, N) = [A1; A2] @ Bm, the products of a training call's backward pass on rnnlab's threads: the weight
 * gradients [x, h_prev]^T @ dz over all B*T rows, and the input gradient dz @ W^T.  Element (r, k) of A1 is at
 * A1[r * a1_rs + k * a1_ks] (likewise A2, for rows R1 ..; R2 may be 0), element (k, n) of Bm at
 * Bm[k * b_ks + n * b_ns]; C is row-major.  colsum (N), or NULL: Bm's column sums (a bias gradient).  Both operands
 * are packed, GEMM_KC values of k at a time (A also GEMM_MC rows at a time), into the layouts of MR_MAX x GROUP
 * register tiles.  Threads share C's panels of GROUP columns, or its rows when C has fewer panels than threads
 * (the input gradient).  For rnnlab/kernels/fused_training.py _gemm (the weight gradients) and _input_grad. */
#define GEMM_KC 128
#define GEMM_MC (32 * MR_MAX)
typedef struct {
    int R1, R2, K, N, npanels, split_rows;
    const float *A1, *A2, *Bm;
    int64_t a1_rs, a1_ks, a2_rs, a2_ks, b_ks, b_ns;
    float *C, *colsum;
    int failed;
} gemm_t;

/* ap[(tile * GEMM_KC + k) * MR_MAX + i] = A(r0 + tile * MR_MAX + i, k0 + k), zeros past the last row. */
static void gemm_pack_a(const gemm_t *s, int r0, int rows, int k0, int kc, float *ap) {
    const int padded = (rows + MR_MAX - 1) / MR_MAX * MR_MAX;
    if (s->a1_rs == 1 && (s->R2 == 0 || s->a2_rs == 1)) { /* A's columns are contiguous: read along them */
        const int split = s->R1 - r0; /* local rows below this come from A1 */
        for (int k = 0; k < kc; ++k) {
            const float *a1 = s->A1 + (int64_t)(k0 + k) * s->a1_ks + r0;
            const float *a2 = s->R2 ? s->A2 + (int64_t)(k0 + k) * s->a2_ks + r0 - s->R1 : 0;
            for (int i0 = 0; i0 < padded; i0 += MR_MAX) {
                float *d = ap + ((int64_t)(i0 / MR_MAX) * GEMM_KC + k) * MR_MAX;
                if (i0 + MR_MAX <= rows && i0 + MR_MAX <= split) {
                    for (int i = 0; i < MR_MAX; ++i) d[i] = a1[i0 + i];
                } else if (i0 + MR_MAX <= rows && i0 >= split) {
                    for (int i = 0; i < MR_MAX; ++i) d[i] = a2[i0 + i];
                } else {
                    for (int i = 0; i < MR_MAX; ++i)
                        d[i] = i0 + i >= rows ? 0.0f : (i0 + i < split ? a1[i0 + i] : a2[i0 + i]);
                }
            }
        }
        return;
    }
    for (int i = 0; i < padded; ++i) {
        const int r = r0 + i;
        float *d = ap + (int64_t)(i / MR_MAX) * GEMM_KC * MR_MAX + i % MR_MAX;
        if (i >= rows) { for (int k = 0; k < kc; ++k) d[k * MR_MAX] = 0.0f; continue; }
        const float *src = r < s->R1 ? s->A1 + (int64_t)r * s->a1_rs : s->A2 + (int64_t)(r - s->R1) * s->a2_rs;
        const int64_t ks = r < s->R1 ? s->a1_ks : s->a2_ks;
        if (ks == 1) for (int k = 0; k < kc; ++k) d[k * MR_MAX] = src[k0 + k];
        else for (int k = 0; k < kc; ++k) d[k * MR_MAX] = src[(int64_t)(k0 + k) * ks];
    }
}

/* bp[(p * GEMM_KC + k) * GROUP + j] = Bm(k0 + k, (p0 + p) * GROUP + j), zeros past the last column; adds the
 * values to colsum. */
static void gemm_pack_b(const gemm_t *s, int p0, int np, int k0, int kc, float *bp) {
    const int N = s->N;
    for (int p = 0; p < np; ++p) {
        const int n0 = (p0 + p) * GROUP, n = N - n0 < GROUP ? N - n0 : GROUP;
        float *d = bp + (int64_t)p * GEMM_KC * GROUP;
        if (s->b_ns == 1) {
            for (int k = 0; k < kc; ++k) {
                const float *row = s->Bm + (int64_t)(k0 + k) * s->b_ks + n0;
                int j = 0;
                for (; j < n; ++j) d[k * GROUP + j] = row[j];
                for (; j < GROUP; ++j) d[k * GROUP + j] = 0.0f;
                if (s->colsum) for (j = 0; j < n; ++j) s->colsum[n0 + j] += row[j];
            }
        } else {
            for (int j = 0; j < GROUP; ++j) {
                const float *col = s->Bm + (int64_t)(n0 + j) * s->b_ns;
                float sum = 0.0f;
                for (int k = 0; k < kc; ++k) {
                    const float v = j < n ? col[(int64_t)(k0 + k) * s->b_ks] : 0.0f;
                    d[k * GROUP + j] = v;
                    sum += v;
                }
                if (s->colsum && j < n) s->colsum[n0 + j] += sum;
            }
        }
    }
}

static inline __attribute__((always_inline)) void gemm_tile(const int MR, int kc, const float *restrict a,
                                                            const float *restrict b, float *restrict c, int64_t ldc,
                                                            int ncols, int first) {
    vf acc[MR_MAX][4];
    float tmp[MR_MAX * GROUP] __attribute__((aligned(64)));
    for (int r = 0; r < MR; ++r)
        for (int g = 0; g < 4; ++g) {
            if (first) acc[r][g] = (vf){0};
            else if (ncols == GROUP) acc[r][g] = vload(c + r * ldc + g * VN);
            else {
                for (int j = 0; j < VN; ++j) tmp[r * GROUP + g * VN + j] = g * VN + j < ncols ? c[r * ldc + g * VN + j] : 0.0f;
                acc[r][g] = vload(tmp + r * GROUP + g * VN);
            }
        }
    for (int k = 0; k < kc; ++k) {
        vf wv[4];
        for (int g = 0; g < 4; ++g) wv[g] = vload(b + (int64_t)k * GROUP + g * VN);
        for (int r = 0; r < MR; ++r) {
            const float av = a[k * MR_MAX + r];
            for (int g = 0; g < 4; ++g) acc[r][g] += av * wv[g];
        }
    }
    for (int r = 0; r < MR; ++r)
        for (int g = 0; g < 4; ++g) {
            if (ncols == GROUP) vstore(c + r * ldc + g * VN, acc[r][g]);
            else vstore(tmp + r * GROUP + g * VN, acc[r][g]);
        }
    if (ncols != GROUP)
        for (int r = 0; r < MR; ++r)
            for (int j = 0; j < ncols; ++j) c[r * ldc + j] = tmp[r * GROUP + j];
}

#define GEMM_CASE(MRc) case MRc: gemm_tile(MRc, kc, a, b, c, ldc, ncols, first); break;
#if MR_MAX > 3
#define GEMM_CASES_4_TO_6 GEMM_CASE(4) GEMM_CASE(5) GEMM_CASE(6)
#else
#define GEMM_CASES_4_TO_6
#endif
static void gemm_tile_any(int MR, int kc, const float *a, const float *b, float *c, int64_t ldc, int ncols, int first) {
    switch (MR) {
        GEMM_CASE(1) GEMM_CASE(2) GEMM_CASE(3) GEMM_CASES_4_TO_6
    }
}

static void gemm_task(void *arg, int tid, int nt) {
    gemm_t *s = (gemm_t *)arg;
    const int R = s->R1 + s->R2, K = s->K, N = s->N, tiles = (R + MR_MAX - 1) / MR_MAX;
    int p_begin = 0, p_end = s->npanels, r_begin = 0, r_end = R;
    if (s->split_rows) { /* whole tiles of rows */
        r_begin = (int)((int64_t)tiles * tid / nt) * MR_MAX;
        r_end = (int)((int64_t)tiles * (tid + 1) / nt) * MR_MAX;
        if (r_end > R) r_end = R;
    } else {
        p_begin = (int)((int64_t)s->npanels * tid / nt);
        p_end = (int)((int64_t)s->npanels * (tid + 1) / nt);
    }
    const int np = p_end - p_begin;
    if (np <= 0 || r_end <= r_begin) return;
    float *ap = (float *)aligned_alloc(64, sizeof(float) * (size_t)GEMM_MC * GEMM_KC);
    float *bp = (float *)aligned_alloc(64, sizeof(float) * (size_t)np * GEMM_KC * GROUP);
    if (!ap || !bp) { free(ap); free(bp); __atomic_store_n(&s->failed, 1, __ATOMIC_RELAXED); return; }
    if (s->colsum)
        for (int n = p_begin * GROUP; n < N && n < p_end * GROUP; ++n) s->colsum[n] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += GEMM_KC) {
        const int kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
        gemm_pack_b(s, p_begin, np, k0, kc, bp);
        for (int m0 = r_begin; m0 < r_end; m0 += GEMM_MC) {
            const int rows = r_end - m0 < GEMM_MC ? r_end - m0 : GEMM_MC;
            gemm_pack_a(s, m0, rows, k0, kc, ap);
            for (int p = 0; p < np; ++p) {
                const int n0 = (p_begin + p) * GROUP, ncols = N - n0 < GROUP ? N - n0 : GROUP;
                const float *b = bp + (int64_t)p * GEMM_KC * GROUP;
                for (int i = 0; i < rows; i += MR_MAX) {
                    const int MR = rows - i < MR_MAX ? rows - i : MR_MAX;
                    if (k0 && i + MR_MAX < rows) /* the next tile's partial sums, while this one runs */
                        for (int r = 0; r < MR_MAX && i + MR_MAX + r < rows; ++r)
                            for (int j = 0; j < ncols; j += 16)
                                __builtin_prefetch(s->C + (int64_t)(m0 + i + MR_MAX + r) * N + n0 + j, 1, 3);
                    gemm_tile_any(MR, kc, ap + (int64_t)(i / MR_MAX) * GEMM_KC * MR_MAX, b,
                                  s->C + (int64_t)(m0 + i) * N + n0, N, ncols, k0 == 0);
                }
            }
        }
    }
    free(ap);
    free(bp);
}

int rnn_gemm_f32(int R1, const float *A1, int64_t a1_rs, int64_t a1_ks, int R2, const float *A2, int64_t a2_rs,
                 int64_t a2_ks, int K, int N, const float *Bm, int64_t b_ks, int64_t b_ns, float *C, float *colsum,
                 int threads) {
    gemm_t s;
    memset(&s, 0, sizeof s);
    s.R1 = R1; s.R2 = R2; s.K = K; s.N = N; s.A1 = A1; s.A2 = A2;
    s.a1_rs = a1_rs; s.a1_ks = a1_ks; s.a2_rs = a2_rs; s.a2_ks = a2_ks; s.b_ks = b_ks; s.b_ns = b_ns;
    s.Bm = Bm; s.C = C; s.colsum = colsum;
    s.npanels = (N + GROUP - 1) / GROUP;
    const int R = R1 + R2;
    if (K <= 0 || R <= 0 || N <= 0) {
        if (R > 0 && N > 0) memset(C, 0, sizeof(float) * (size_t)R * N);
        if (colsum && N > 0) memset(colsum, 0, sizeof(float) * (size_t)N);
        return 0;
    }
    const int automatic = threads <= 0;
    threads = choose_threads(threads, (int64_t)R * N * (K < 64 ? K : 64));
    int nt = threads < pool.want ? threads : pool.want;
    /* rows when the panels are too few to share (never with column sums, which each panel's owner adds up) */
    s.split_rows = !colsum && s.npanels < 2 * nt;
    const int units = s.split_rows ? (R + MR_MAX - 1) / MR_MAX : s.npanels;
    if (nt > units) nt = units;
    if (nt < 1) nt = 1;
    int64_t own_ns, wait_ns;
    const int used = run_parallel(gemm_task, &s, nt, 0, &own_ns, &wait_ns);
    if (automatic) note_contention(used, 0, own_ns, wait_ns);
    return s.failed ? -1 : 0;
}
