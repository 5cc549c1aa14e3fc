/* The backward pass of the native kernels: backpropagation through time over what rnn_train_forward_f32
 * (forward.c) saved, for LSTM and GRU with reset_after.
 *
 * Part of the one compilation unit rnn_kernels.c (see there). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"
#include "product.h"

/* rnn_train_backward_f32 runs a layer's whole backward pass over the buffers rnn_train_forward_f32 saved, from the
 * last step to the first, all in processing order.  Step t's state gradient
 *     dL/dh_{t-1} = src_t @ U^T (+ GRU's z * dh_t, or a masked row's pass-through)
 * (src: LSTM dz, GRU drh) is a product with K = G*M, in tiles of 4 SIMD vectors of units (a group) against U^T
 * packed per group; the elementwise work of each group follows its product.  Rows never depend on each other, so
 * threads share the rows when U fits each core's cache (each with its own packed copy), else the groups, meeting
 * once per step. */
typedef struct {
    int kind, B, T, M, G, ngroups, row_split, zero_output, want_initial;
    const float *U;                       /* (M, G*M) */
    const float *gates, *hs, *cs, *aux;   /* saved by rnn_train_forward_f32 */
    const uint8_t *mask;                  /* (B, T) in processing order, or NULL */
    const float *d_out, *d_last;          /* (B, T, M) and (B, M) output gradients, or NULL */
    float *dz, *drh;  /* out (B, T, G*M): at the pre-activations x_t @ W (+ ...); GRU: at h_{t-1} @ U + b_rec */
    float *dh, *dc;   /* (B, M): in, the gradients w.r.t. the final states; out (want_initial), the initial ones */
    float *dh_pass, *carry;               /* (B, M) zeroed scratch */
    float *panels;
    int64_t set_floats;
    barrier_t barrier;
} bwd_t;

/* Group gi's panel of U^T: for k < G*M, the GROUP units u0 + j at panel[k * GROUP + j] (zeros past M). */
static void pack_transposed_group(const float *U, int M, int GM, int gi, float *panel) {
    const int u0 = gi * GROUP;
    for (int j = 0; j < GROUP; ++j) {
        if (u0 + j < M) {
            const float *row = U + (int64_t)(u0 + j) * GM;
            for (int k = 0; k < GM; ++k) panel[(int64_t)k * GROUP + j] = row[k];
        } else {
            for (int k = 0; k < GM; ++k) panel[(int64_t)k * GROUP + j] = 0.0f;
        }
    }
}

/* One row's step backward for n units from u0; dhm holds src_{t+1} @ U^T for them (or the final state's
 * gradient at the last step).  LSTM, with dh = dL/dh_t and dc = dL/dc_t:
 *   dc += dh o (1 - tanh(c)^2);  dz = [dc c_hat i(1-i), dc c_prev f(1-f), dc i (1-c_hat^2), dh tanh(c) o(1-o)];
 *   dL/dc_{t-1} = dc f.
 * GRU (reset_after): dz_pre = dh (h_prev - h_hat) z(1-z); da = dh (1-z)(1-h_hat^2); dr_pre = da rh r(1-r);
 *   dz = [dz_pre, dr_pre, da]; drh = [dz_pre, dr_pre, da r]; the pass-through dh z joins dL/dh_{t-1}.
 * A masked row adds nothing to dz and passes its state gradient (and, without zero_output, its output gradient)
 * to the previous step unchanged. */
/* mirrors rnnlab/cells/lstm.py lstm_step_backward, without its product dz @ U^T (the next step's tile) */
static inline __attribute__((always_inline)) void bwd_lstm_units(int M, int n, const float *restrict sv,
                                                                 const float *restrict dhm, float *restrict dps,
                                                                 const float *restrict gt, const float *restrict th,
                                                                 const float *restrict cp, float *restrict dc,
                                                                 float *restrict dz) {
    for (int j = 0; j < n; ++j) {
        const float dh = sv[j] + dhm[j] + dps[j];
        const float i = gt[j], f = gt[M + j], g = gt[2 * M + j], o = gt[3 * M + j], t = th[j];
        const float dcv = dc[j] + dh * o * (1.0f - t * t);
        dz[j] = dcv * g * i * (1.0f - i);
        dz[M + j] = dcv * cp[j] * f * (1.0f - f);
        dz[2 * M + j] = dcv * i * (1.0f - g * g);
        dz[3 * M + j] = dh * t * o * (1.0f - o);
        dc[j] = dcv * f;
        dps[j] = 0.0f;
    }
}

/* mirrors rnnlab/cells/gru.py gru_step_backward (reset_after=True), without its product drh @ U^T */
static inline __attribute__((always_inline)) void bwd_gru_units(int M, int n, const float *restrict sv,
                                                                const float *restrict dhm, float *restrict dps,
                                                                const float *restrict gt, const float *restrict rec,
                                                                const float *restrict hp, float *restrict dz,
                                                                float *restrict drh) {
    for (int j = 0; j < n; ++j) {
        const float dh = sv[j] + dhm[j] + dps[j];
        const float z = gt[j], r = gt[M + j], hh = gt[2 * M + j];
        const float dzp = dh * (hp[j] - hh) * z * (1.0f - z);
        const float da = dh * (1.0f - z) * (1.0f - hh * hh);
        const float drp = da * rec[j] * r * (1.0f - r);
        dz[j] = drh[j] = dzp;
        dz[M + j] = drh[M + j] = drp;
        dz[2 * M + j] = da;
        drh[2 * M + j] = da * r;
        dps[j] = dh * z;
    }
}

static void bwd_row(const bwd_t *s, int b, int step, int u0, int n, const float *restrict dhm) {
    const int M = s->M, T = s->T;
    const int64_t GM = (int64_t)s->G * M, row = (int64_t)b * T + step;
    float sv[GROUP] __attribute__((aligned(64)));
    const float *d_out = s->d_out ? s->d_out + row * M + u0 : 0;
    const float *d_last = s->d_last && step == T - 1 ? s->d_last + (int64_t)b * M + u0 : 0;
    const int carry = s->mask && !s->zero_output;
    float *restrict car = s->carry + (int64_t)b * M + u0, *restrict dps = s->dh_pass + (int64_t)b * M + u0;
    for (int j = 0; j < n; ++j) sv[j] = (d_out ? d_out[j] : 0.0f) + (d_last ? d_last[j] : 0.0f) + (carry ? car[j] : 0.0f);
    float *restrict dz = s->dz + row * GM + u0;
    float *restrict drh = s->kind ? s->drh + row * GM + u0 : 0;
    if (s->mask && !s->mask[row]) {
        for (int j = 0; j < n; ++j) {
            dps[j] += dhm[j];
            dz[j] = dz[M + j] = dz[2 * M + j] = 0.0f;
            if (s->kind) drh[j] = drh[M + j] = drh[2 * M + j] = 0.0f;
            else dz[3 * M + j] = 0.0f;
        }
        if (carry) for (int j = 0; j < n; ++j) car[j] = s->zero_output ? 0.0f : sv[j];
        return;
    }
    if (carry) for (int j = 0; j < n; ++j) car[j] = 0.0f;
    const float *gt = s->gates + row * GM + u0, *aux = s->aux + row * M + u0;
    if (s->kind == 0) bwd_lstm_units(M, n, sv, dhm, dps, gt, aux, s->cs + row * M + u0, s->dc + (int64_t)b * M + u0, dz);
    else bwd_gru_units(M, n, sv, dhm, dps, gt, aux, s->hs + row * M + u0, dz, drh);
}

/* Fetch into L2 what step `step` of rows [r0, r1) and groups [g0, g1) will read and write: a row's saved arrays of
 * one step are a page or more apart from the next row's, too scattered for the hardware prefetchers, and DRAM
 * latency would otherwise stall every row's elementwise work (measured: half the backward pass's time). */
static void bwd_prefetch(const bwd_t *s, int step, int r0, int r1, int g0, int g1) {
    const int M = s->M, u_begin = g0 * GROUP, u_end = g1 * GROUP < M ? g1 * GROUP : M;
    const int64_t GM = (int64_t)s->G * M;
    for (int b = r0; b < r1; ++b) {
        const int64_t row = (int64_t)b * s->T + step;
        for (int u = u_begin; u < u_end; u += 16) {
            for (int g = 0; g < s->G; ++g) {
                __builtin_prefetch(s->gates + row * GM + (int64_t)g * M + u, 0, 2);
                __builtin_prefetch(s->dz + row * GM + (int64_t)g * M + u, 1, 2);
                if (s->drh) __builtin_prefetch(s->drh + row * GM + (int64_t)g * M + u, 1, 2);
            }
            __builtin_prefetch(s->aux + row * M + u, 0, 2);
            __builtin_prefetch(s->kind ? s->hs + row * M + u : s->cs + row * M + u, 0, 2);
            if (s->d_out) __builtin_prefetch(s->d_out + row * M + u, 0, 2);
        }
    }
}

/* One thread's share of the backward pass: mirrors rnnlab/layers/rnn.py reference_loop_backward, a loop from
 * the last step to the first over bwd_lstm_units or bwd_gru_units. */
static void bwd_task(void *arg, int tid, int nt) {
    bwd_t *s = (bwd_t *)arg;
    const int B = s->B, T = s->T, M = s->M, GM = s->G * s->M;
    int g_begin = (int)((int64_t)s->ngroups * tid / nt), g_end = (int)((int64_t)s->ngroups * (tid + 1) / nt);
    int row_begin = 0, row_end = B;
    float *set = s->panels;
    if (s->row_split && nt > 1) {
        row_begin = (int)((int64_t)B * tid / nt);
        row_end = (int)((int64_t)B * (tid + 1) / nt);
        g_begin = 0;
        g_end = s->ngroups;
        set = s->panels + tid * s->set_floats;
    }
    for (int gi = g_begin; gi < g_end; ++gi) pack_transposed_group(s->U, M, GM, gi, set + (int64_t)gi * GM * GROUP);
    const int per_step_barrier = nt > 1 && !s->row_split;
    const float *src = s->kind ? s->drh : s->dz;
    float tile[MR_MAX * GROUP] __attribute__((aligned(64)));
    float zeros[GROUP] __attribute__((aligned(64)));
    memset(zeros, 0, sizeof zeros);
    const panel_t none = {zeros, 0, 0};
    const int rows = row_end - row_begin, ntiles = (rows + MR_MAX - 1) / MR_MAX;
    int64_t since = now_ns();
    if (T > 0) bwd_prefetch(s, T - 1, row_begin, row_end, g_begin, g_end);
    for (int step = T - 1; step >= (s->want_initial ? -1 : 0); --step) { /* step -1: the initial state's gradient */
        if (step > 0) bwd_prefetch(s, step - 1, row_begin, row_end, g_begin, g_end);
        for (int gi = g_begin; gi < g_end; ++gi) {
            const int u0 = gi * GROUP, n = M - u0 < GROUP ? M - u0 : GROUP;
            const panel_t pu = {set + (int64_t)gi * GM * GROUP, GROUP, VN};
            for (int tile_i = 0, r0 = row_begin; tile_i < ntiles; ++tile_i) {
                const int MR = (row_end - r0) / (ntiles - tile_i) + ((row_end - r0) % (ntiles - tile_i) != 0);
                if (step == T - 1) {
                    for (int r = 0; r < MR; ++r) memcpy(tile + r * GROUP, s->dh + (int64_t)(r0 + r) * M + u0, sizeof(float) * n);
                } else {
                    const float *a = src + ((int64_t)r0 * T + step + 1) * GM;
                    lstm_product(MR, 0, GM, zeros, 0, a, (int64_t)T * GM, none, pu, zeros, 0, tile, (const char *)zeros,
                                 (const char *)zeros, 0);
                }
                for (int r = 0; r < MR; ++r) {
                    const int b = r0 + r;
                    if (step >= 0) {
                        bwd_row(s, b, step, u0, n, tile + r * GROUP);
                    } else { /* dL/dh_0 = src_0 @ U^T + the pass-through */
                        float *dh = s->dh + (int64_t)b * M + u0;
                        const float *dps = s->dh_pass + (int64_t)b * M + u0;
                        for (int j = 0; j < n; ++j) dh[j] = tile[r * GROUP + j] + dps[j];
                    }
                }
                r0 += MR;
            }
        }
        if (per_step_barrier) {
            since = barrier_wait(&s->barrier, nt, since); /* src_t is whole before step t-1's product reads it */
            if (s->barrier.solo) { /* cores are contended: thread 0 takes every group (all are packed) */
                if (tid != 0) return;
                nt = 1;
                g_begin = 0;
                g_end = s->ngroups;
            }
        }
    }
}

/* The backward pass of a layer trained with rnn_train_forward_f32 (kind 0 LSTM, 1 GRU with reset_after); see
 * bwd_t.  dh and, for LSTM, dc (B, M): the gradients w.r.t. the final states in (zeros for none), those w.r.t. the
 * initial states out when want_initial.  threads as rnn_forward_f32.  Returns 0, or -1 when out of memory.
 * The backward pass of rnnlab/kernels/fused_training.py _sequence_call. */
int rnn_train_backward_f32(int kind, int B, int T, int M, const float *U, const float *gates, const float *hs,
                           const float *cs, const float *aux, const uint8_t *mask, int zero_output,
                           const float *d_out, const float *d_last, float *dz, float *drh, float *dh, float *dc,
                           int want_initial, int threads) {
    bwd_t s;
    memset(&s, 0, sizeof s);
    s.kind = kind; s.B = B; s.T = T; s.M = M; s.G = kind == 0 ? 4 : 3;
    s.ngroups = (M + GROUP - 1) / GROUP;
    s.zero_output = zero_output; s.want_initial = want_initial;
    s.U = U; s.gates = gates; s.hs = hs; s.cs = cs; s.aux = aux; s.mask = mask;
    s.d_out = d_out; s.d_last = d_last; s.dz = dz; s.drh = drh; s.dh = dh; s.dc = dc;
    const int automatic = threads <= 0;
    const int64_t GM = (int64_t)s.G * M;
    threads = choose_threads(threads, (int64_t)B * GM * M);
    const int nt = share_work(threads, B, GM * M * (int64_t)sizeof(float), s.ngroups, &s.row_split);
    s.set_floats = (int64_t)s.ngroups * GM * GROUP;
    const int64_t panels = s.set_floats * (s.row_split ? nt : 1);
    float *work = (float *)malloc(sizeof(float) * (2 * (size_t)B * M + (size_t)panels) + 64);
    if (!work) return -1;
    s.dh_pass = work;
    s.carry = work + (int64_t)B * M;
    memset(work, 0, sizeof(float) * 2 * (size_t)B * M);
    s.panels = (float *)(((uintptr_t)(work + 2 * (int64_t)B * M) + 63) & ~(uintptr_t)63);
    int64_t own_ns, wait_ns;
    const int used = run_parallel(bwd_task, &s, nt, 0, &own_ns, &wait_ns);
    if (automatic) note_contention(used, s.barrier.solo, own_ns, wait_ns);
    free(work);
    return 0;
}
