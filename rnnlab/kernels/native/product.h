/* The register-blocked product of the native kernels: a tile of MR rows (up to MR_MAX) times a panel of weights
 * for one block of VN units and all its gates, accumulated in registers (block_product, row_product).
 * lstm_product and gru_product compute a step's gate pre-activations bias + x_t @ W + h_{t-1} @ U in the forward
 * pass (forward.c); the backward pass (backward.c) reuses lstm_product for src_t @ U^T.  input_product computes
 * x_t @ W + bias ahead for several steps of one row.
 *
 * Part of the one compilation unit rnn_kernels.c (see there). */
#ifndef RNNLAB_PRODUCT_H
#define RNNLAB_PRODUCT_H

#include <stdint.h>
#include "simd.h"

/* A register tile's width in the backward pass and the GEMM: 4 vectors of units (a group). */
#define GROUP (4 * VN)

/* A weight panel: for k < K, the VN columns of gate g start at base + k * ks + g * gs. */
typedef struct { const float *base; int64_t ks, gs; } panel_t;

/* The pre-activations of one block for MR rows: acc[r][slot] = init[slot] + X[r] @ Wpanel + H[r] @ Upanel, for
 * the 4 slots of a row's tile.  LSTM (GRU == 0): gate g of both products goes to slot g.  GRU: gates z, r of both
 * products go to slots 0, 1; the candidate's input part to slot 2 and its recurrent part to slot 3 (the reset gate
 * multiplies only the recurrent part).  Rows of X are xs floats apart, rows of H hs. */
static inline __attribute__((always_inline)) void block_product(const int MR, const int GRU, int D, int M,
                                                                const float *restrict X, int64_t xs,
                                                                const float *restrict H, int64_t hs, panel_t PW,
                                                                panel_t PU, const float *restrict init,
                                                                int64_t init_rs, float *restrict tile,
                                                                const char *pf_x, const char *pf_h, int pf_step) {
    const int NG = GRU ? 3 : 4;
    vf acc[MR_MAX][4];
    for (int r = 0; r < MR; ++r)
        for (int g = 0; g < 4; ++g) acc[r][g] = vload(init + r * init_rs + g * VN);
    const float *restrict w = PW.base;
    for (int k = 0; k < D; ++k, w += PW.ks) {
        __builtin_prefetch(pf_x + (int64_t)k * pf_step, 0, 2); /* the next block's panel, one line per k */
        vf wv[4];
        for (int g = 0; g < NG; ++g) wv[g] = vload(w + g * PW.gs);
        for (int r = 0; r < MR; ++r) {
            const float a = X[r * xs + k];
            for (int g = 0; g < NG; ++g) acc[r][g] += a * wv[g];
        }
    }
    w = PU.base;
    for (int k = 0; k < M; ++k, w += PU.ks) {
        __builtin_prefetch(pf_h + (int64_t)k * pf_step, 0, 2);
        vf wv[4];
        for (int g = 0; g < NG; ++g) wv[g] = vload(w + g * PU.gs);
        for (int r = 0; r < MR; ++r) {
            const float a = H[r * hs + k];
            for (int g = 0; g < NG; ++g) acc[r][GRU && g == 2 ? 3 : g] += a * wv[g];
        }
    }
    for (int r = 0; r < MR; ++r)
        for (int g = 0; g < 4; ++g) vstore(tile + (r * 4 + g) * VN, acc[r][g]);
}

/* One row: each k loop is split in two interleaved halves with their own accumulators, so that twice as many
 * independent chains of multiply-adds hide the FMA latency (one row has too few otherwise). */
static inline __attribute__((always_inline)) void half_product(const int NG, const int GRU, int K,
                                                               const float *restrict A, panel_t P, vf *acc,
                                                               vf *acc2) {
    const float *restrict w = P.base;
    int k = 0;
    for (; k + 1 < K; k += 2, w += 2 * P.ks) {
        const float a0 = A[k], a1 = A[k + 1];
        for (int g = 0; g < NG; ++g) {
            const int s = GRU && g == 2 ? 3 : g;
            acc[s] += a0 * vload(w + g * P.gs);
            acc2[s] += a1 * vload(w + P.ks + g * P.gs);
        }
    }
    if (k < K)
        for (int g = 0; g < NG; ++g) acc[GRU && g == 2 ? 3 : g] += A[k] * vload(w + g * P.gs);
}

static inline __attribute__((always_inline)) void row_product(const int GRU, int D, int M, const float *restrict X,
                                                              const float *restrict H, panel_t PW, panel_t PU,
                                                              const float *restrict init, float *restrict tile) {
    const int NG = GRU ? 3 : 4;
    vf acc[4], acc2[4];
    for (int g = 0; g < 4; ++g) { acc[g] = vload(init + g * VN); acc2[g] = acc[g] - acc[g]; }
    half_product(NG, 0, D, X, PW, acc, acc2);
    half_product(NG, GRU, M, H, PU, acc, acc2);
    for (int g = 0; g < 4; ++g) vstore(tile + g * VN, acc[g] + acc2[g]);
}

#define PRODUCT_CASE(MRc, GRUc) \
    case MRc: block_product(MRc, GRUc, D, M, X, xs, H, hs, PW, PU, init, init_rs, tile, pf_x, pf_h, pf_step); break;

/* lstm_product, gru_product: the pre-activations of a tile of MR rows (1 .. MR_MAX), each MR its own unrolled
 * instance.  pf_x, pf_h: memory to prefetch into L2 while the products run, one cache line per k from each
 * (pf_step 64), or pf_step 0 for none. */
#define DEFINE_PRODUCT(name, GRUc)                                                                                  \
    static void name(int MR, int D, int M, const float *X, int64_t xs, const float *H, int64_t hs, panel_t PW,     \
                     panel_t PU, const float *init, int64_t init_rs, float *tile, const char *pf_x,                \
                     const char *pf_h, int pf_step) {                                                              \
        switch (MR) {                                                                                               \
            case 1: row_product(GRUc, D, M, X, H, PW, PU, init, tile); break;                                       \
            PRODUCT_CASE(2, GRUc) PRODUCT_CASE(3, GRUc) PRODUCT_CASES_4_TO_6(GRUc)                                  \
        }                                                                                                           \
    }
#if MR_MAX > 3
#define PRODUCT_CASES_4_TO_6(GRUc) PRODUCT_CASE(4, GRUc) PRODUCT_CASE(5, GRUc) PRODUCT_CASE(6, GRUc)
#define INPUT_CASES(G) INPUT_CASE(1, G) INPUT_CASE(2, G) INPUT_CASE(3, G) INPUT_CASE(4, G) INPUT_CASE(5, G) INPUT_CASE(6, G)
#else
#define PRODUCT_CASES_4_TO_6(GRUc)
#define INPUT_CASES(G) INPUT_CASE(1, G) INPUT_CASE(2, G) INPUT_CASE(3, G)
#endif
DEFINE_PRODUCT(lstm_product, 0)
DEFINE_PRODUCT(gru_product, 1)

/* x_t @ W + bias for MR consecutive steps of one row (rows of X xs floats apart), with block_product's order of
 * sums for every MR, 1 included: what a step's product would hold after its input part (see seq_steps). */
#define INPUT_CASE(MRc, GRUc) \
    case MRc: block_product(MRc, GRUc, D, 0, X, xs, X, 0, PW, PW, init, 0, tile, (const char *)X, (const char *)X, 0); break;
static void input_product(int GRU, int MR, int D, const float *X, int64_t xs, panel_t PW, const float *init,
                          float *tile) {
    if (GRU) {
        switch (MR) { INPUT_CASES(1) }
    } else {
        switch (MR) { INPUT_CASES(0) }
    }
}

#endif /* RNNLAB_PRODUCT_H */
