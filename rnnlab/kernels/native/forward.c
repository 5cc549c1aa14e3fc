/* The forward pass of the native kernels: a whole LSTM or GRU (reset_after) layer from its raw inputs, for
 * inference (rnn_forward_f32) and for training (rnn_train_forward_f32, which also saves what backward.c reads), and
 * GRU with reset_after=False on one thread (gru_sequence_f32).
 *
 * rnn_forward_f32 runs a whole layer from its raw inputs x (B, T, D).  Each step's gate pre-activations
 *     z_t = bias + x_t @ W + h_{t-1} @ U
 * are one product (product.h) with K = D + M, so the input projection is never stored for all steps.  Units are
 * split into blocks of VN (one SIMD vector); a block owns the columns of all its gates, so after its product a
 * block can finish its units' gates and states without waiting for any other block.  Threads (pool.h) share the
 * work in one of two ways for the whole sequence: when the weights fit each core's cache, each thread owns some
 * rows (batch entries), which never wait for each other; otherwise each owns some blocks of units and the threads
 * meet once per step, when every unit of h_t is ready.  Each block's weights are packed into one contiguous panel
 * at the start of a call.
 *
 * gru_sequence_f32 is the single-threaded loop for GRU with reset_after=False, whose candidate needs the reset
 * gate of every unit before its recurrent product.
 *
 * Part of the one compilation unit rnn_kernels.c (see there). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"
#include "product.h"

#define SEGMENT_STEPS 8 /* a row slice's steps run by one claim (see seq_rows_claimed) */
#ifndef ROW_SLICES_PER_THREAD
#define ROW_SLICES_PER_THREAD 2
#endif
/* A slice has at least this many rows while there are enough for one slice a thread: a step's product takes its
 * rows in tiles, and tiles of 2 rows read each weight twice as often per multiply-add as tiles of 4.  Measured
 * (AVX-512, 2 threads, steady): LSTM 8,100,64,128 with 4 slices of 2 rows 1,090-1,220 us, with 2 slices of 4
 * rows 940-1,050 us; GRU 700-750 us against 860-900 us; B=32 (slices of 8 rows either way) unchanged. */
#define ROW_SLICE_MIN_ROWS 4
typedef struct {
    int row_begin, row_end;
    int done;    /* steps run */
    int claimed; /* a thread is running its next segment */
    char pad[48];
} row_slice_t;

typedef struct {
    int kind; /* 0 LSTM (gates i f c o), 1 GRU with reset_after (gates z r h) */
    int B, T, D, M, G, nblocks, packed;
    const float *x, *W, *U, *bias; /* bias: LSTM (4M); GRU (2, 3M): input row then recurrent row; or NULL */
    float *h, *h2, *c, *prev, *out; /* h: (B, M) in/out; h2: second h buffer; c: LSTM only */
    float *panels;                  /* packed panel sets (when packed): W's blocks (D x G x VN each), then U's */
    int64_t set_floats;             /* floats per set: one set, or with the row split one per thread */
    float *bias_tiles;              /* per block, the 4 slots' initial values (VN each) */
    const uint8_t *mask;            /* (B, T) or NULL */
    int reverse, zero_output, threads;
    int row_split; /* threads share the rows (batch) instead of the units */
    float *xw;      /* few rows per thread: x_t @ W + bias computed ahead for chunks of tc steps (see seq_steps) */
    int tc;
    float *own;     /* row split on several threads: each slice's own state arrays (see seq_rows_claimed) */
    int64_t own_stride;
    row_slice_t *slices; /* row split on several threads: the slices of rows that threads claim */
    int nslices, slices_left;
    int caller_waiting;     /* row split: the caller has nothing left to claim; other threads hand theirs back */
    int64_t caller_wait_ns; /* row split: how long the caller waited for slices running on other threads */
    barrier_t barrier;
    /* Training (rnn_train_forward_f32), else NULL: per step, in processing order, what backpropagation reads:
     * save_gates (B, T, G*M) the gate activations (LSTM i f c_hat o; GRU z r h_hat), save_h (B, T, M) the
     * hidden state before the step, save_c (B, T, M) LSTM's cell state before it, save_aux (B, T, M) LSTM
     * tanh(c_t), GRU the candidate's recurrent term h_{t-1} @ U_h + b_h. */
    float *save_gates, *save_h, *save_c, *save_aux;
} seq_t;

static void pack_block(const float *src, int K, int M, int G, int u0, float *dst) {
    const int n = M - u0 < VN ? M - u0 : VN;
    if (n == VN) { /* whole vectors */
        for (int k = 0; k < K; ++k) {
            const float *row = src + (int64_t)k * G * M + u0;
            float *d = dst + (int64_t)k * G * VN;
            for (int g = 0; g < G; ++g) vstore(d + g * VN, vload(row + (int64_t)g * M));
        }
        return;
    }
    for (int k = 0; k < K; ++k)
        for (int g = 0; g < G; ++g) {
            float *d = dst + ((int64_t)k * G + g) * VN;
            const float *s = src + (int64_t)k * G * M + (int64_t)g * M + u0;
            int j = 0;
            for (; j < n; ++j) d[j] = s[j];
            for (; j < VN; ++j) d[j] = 0.0f;
        }
}

/* Block blk's panel of W (which 0) or U (which 1), in the packed panel set `set` (see seq_task). */
static panel_t panel(const seq_t *s, const float *set, int which, int blk) {
    const float *src = which ? s->U : s->W;
    const int K = which ? s->M : s->D;
    panel_t p;
    if (s->packed) {
        p.base = set + (which ? (int64_t)s->nblocks * s->D * s->G * VN : 0) + (int64_t)blk * K * s->G * VN;
        p.ks = (int64_t)s->G * VN;
        p.gs = VN;
    } else {
        p.base = src + (int64_t)blk * VN;
        p.ks = (int64_t)s->G * s->M;
        p.gs = s->M;
    }
    return p;
}

/* With SAVE (training), a row's step also writes what backpropagation reads (see seq_t). */
static inline __attribute__((always_inline)) void save_states(const seq_t *s, const int n, int b, int u0, int step,
                                                              const float *hcur, float **gates, float **aux) {
    const int M = s->M;
    const int64_t row = (int64_t)b * s->T + step;
    const float *hc = hcur + (int64_t)b * M + u0;
    float *sh = s->save_h + row * M + u0;
    float *sc = s->save_c ? s->save_c + row * M + u0 : 0;
    const float *c = s->c + (int64_t)b * M + u0;
    if (n == VN) {
        vstream(sh, vload(hc));
        if (sc) vstream(sc, vload(c));
    } else {
        for (int j = 0; j < n; ++j) sh[j] = hc[j];
        if (sc) for (int j = 0; j < n; ++j) sc[j] = c[j];
    }
    *gates = s->save_gates + row * s->G * M + u0;
    *aux = s->save_aux + row * M + u0;
}

/* Gates and states of one block of MR rows once the tile holds its pre-activations.
 * lstm_finish mirrors rnnlab/cells/lstm.py lstm_step (forward), after the product; a masked row keeps its state. */
static inline __attribute__((always_inline)) void lstm_finish(const seq_t *s, const int n, const int SAVE, int r0,
                                                              int MR, int u0, int t, int step, const float *hcur,
                                                              float *hnext, const float *tile) {
    const int M = s->M;
    for (int r = 0; r < MR; ++r) {
        const int b = r0 + r;
        const float *z = tile + r * 4 * VN;
        float *c = s->c + (int64_t)b * M + u0, *prev = s->prev + (int64_t)b * M + u0;
        float *hn = hnext + (int64_t)b * M + u0;
        float *o = s->out ? s->out + ((int64_t)b * s->T + step) * M + u0 : 0;
        float *sg = 0, *sa = 0;
        if (SAVE) save_states(s, n, b, u0, step, hcur, &sg, &sa);
        if ((!s->mask || s->mask[(int64_t)b * s->T + t]) && n == VN) {
            const vf ig = vsigmoid(vload(z)), fg = vsigmoid(vload(z + VN)), gg = vtanh(vload(z + 2 * VN));
            const vf og = vsigmoid(vload(z + 3 * VN));
            const vf cn = fg * vload(c) + ig * gg;
            const vf tc = vtanh(cn);
            const vf hv = og * tc;
            vstore(c, cn);
            vstore(hn, hv);
            if (s->mask) vstore(prev, hv); /* without a mask, prev is h_T: set once at the end */
            if (o) vstore(o, hv);
            if (SAVE) {
                vstream(sg, ig); vstream(sg + M, fg); vstream(sg + 2 * M, gg); vstream(sg + 3 * M, og);
                vstream(sa, tc);
            }
        } else if (!s->mask || s->mask[(int64_t)b * s->T + t]) {
            float hv[VN];
            for (int j = 0; j < n; ++j) {
                const float i = fsigmoid(z[j]), f = fsigmoid(z[VN + j]), g = ftanh(z[2 * VN + j]);
                const float og = fsigmoid(z[3 * VN + j]);
                const float cn = f * c[j] + i * g, tc = ftanh(cn);
                c[j] = cn;
                hv[j] = og * tc;
                if (SAVE) { sg[j] = i; sg[M + j] = f; sg[2 * M + j] = g; sg[3 * M + j] = og; sa[j] = tc; }
            }
            for (int j = 0; j < n; ++j) { hn[j] = hv[j]; if (s->mask) prev[j] = hv[j]; }
            if (o) for (int j = 0; j < n; ++j) o[j] = hv[j];
        } else {
            const float *hc = hcur + (int64_t)b * M + u0;
            for (int j = 0; j < n; ++j) hn[j] = hc[j];
            if (s->zero_output) for (int j = 0; j < n; ++j) prev[j] = 0.0f;
            if (o) for (int j = 0; j < n; ++j) o[j] = prev[j];
            if (SAVE) for (int j = 0; j < n; ++j) { sg[j] = sg[M + j] = sg[2 * M + j] = sg[3 * M + j] = sa[j] = 0.0f; }
        }
    }
}

/* mirrors rnnlab/cells/gru.py gru_step (forward, reset_after=True), after the product */
static inline __attribute__((always_inline)) void gru_finish(const seq_t *s, const int n, const int SAVE, int r0,
                                                             int MR, int u0, int t, int step, const float *hcur,
                                                             float *hnext, const float *tile) {
    const int M = s->M;
    for (int r = 0; r < MR; ++r) {
        const int b = r0 + r;
        const float *z = tile + r * 4 * VN; /* slots: z, r, input part of h, recurrent part of h */
        const float *hc = hcur + (int64_t)b * M + u0;
        float *prev = s->prev + (int64_t)b * M + u0, *hn = hnext + (int64_t)b * M + u0;
        float *o = s->out ? s->out + ((int64_t)b * s->T + step) * M + u0 : 0;
        float *sg = 0, *sa = 0;
        if (SAVE) save_states(s, n, b, u0, step, hcur, &sg, &sa);
        if ((!s->mask || s->mask[(int64_t)b * s->T + t]) && n == VN) {
            const vf zg = vsigmoid(vload(z)), rg = vsigmoid(vload(z + VN)), rec = vload(z + 3 * VN);
            const vf cand = vtanh(vload(z + 2 * VN) + rg * rec);
            const vf hv = cand + zg * (vload(hc) - cand);
            vstore(hn, hv);
            if (s->mask) vstore(prev, hv); /* without a mask, prev is h_T: set once at the end */
            if (o) vstore(o, hv);
            if (SAVE) { vstream(sg, zg); vstream(sg + M, rg); vstream(sg + 2 * M, cand); vstream(sa, rec); }
        } else if (!s->mask || s->mask[(int64_t)b * s->T + t]) {
            float hv[VN];
            for (int j = 0; j < n; ++j) {
                const float zg = fsigmoid(z[j]), rg = fsigmoid(z[VN + j]);
                const float cand = ftanh(z[2 * VN + j] + rg * z[3 * VN + j]);
                hv[j] = cand + zg * (hc[j] - cand);
                if (SAVE) { sg[j] = zg; sg[M + j] = rg; sg[2 * M + j] = cand; sa[j] = z[3 * VN + j]; }
            }
            for (int j = 0; j < n; ++j) { hn[j] = hv[j]; if (s->mask) prev[j] = hv[j]; }
            if (o) for (int j = 0; j < n; ++j) o[j] = hv[j];
        } else {
            for (int j = 0; j < n; ++j) hn[j] = hc[j];
            if (s->zero_output) for (int j = 0; j < n; ++j) prev[j] = 0.0f;
            if (o) for (int j = 0; j < n; ++j) o[j] = prev[j];
            if (SAVE) for (int j = 0; j < n; ++j) { sg[j] = sg[M + j] = sg[2 * M + j] = sa[j] = 0.0f; }
        }
    }
}

static void seq_steps(seq_t *s, int tid, int nt);

static int block_order_test_mode = -1; /* tests: 0 blocks always in order, 1 or -1 in reverse every other step */

void rnnlab_test_block_order(int mode) { block_order_test_mode = mode; }

/* A step's product reads each block's panel of weights (K rows of k, G vectors each) once per tile of rows.  A
 * panel larger than PANEL_CHUNK_BYTES would not stay in L1 from one tile to the next (32 KB of L1 data cache, which
 * also holds the rows of x and h): then the tiles of up to GROUP_ROWS rows take it in chunks of k rows that do.
 * Measured on AVX2 (Zen 3, one thread): LSTM 8,50,64,128 60 -> 67 GFLOP/s, 32,20,128,256 about the same (+1%);
 * 24 KB chunks gained less. */
#ifndef PANEL_CHUNK_BYTES
#define PANEL_CHUNK_BYTES (16 << 10)
#endif
#define GROUP_ROWS (16 * MR_MAX)

/* The rows of k in one chunk of a panel of K rows and G gates: equal chunks, each at most PANEL_CHUNK_BYTES. */
static int panel_chunk(int K, int G) {
    const int64_t bytes = (int64_t)K * G * VN * (int64_t)sizeof(float);
    const int64_t chunks = (bytes + PANEL_CHUNK_BYTES - 1) / PANEL_CHUNK_BYTES;
    return chunks <= 1 ? (K > 0 ? K : 1) : (int)((K + chunks - 1) / chunks);
}

/* The training forward's finish, kept out of line so that the inference loop compiles as it would without it. */
static __attribute__((noinline)) void lstm_finish_save(const seq_t *s, int n, int r0, int MR, int u0, int t, int step,
                                                       const float *hcur, float *hnext, const float *tile) {
    lstm_finish(s, n, 1, r0, MR, u0, t, step, hcur, hnext, tile);
}

static __attribute__((noinline)) void gru_finish_save(const seq_t *s, int n, int r0, int MR, int u0, int t, int step,
                                                      const float *hcur, float *hnext, const float *tile) {
    gru_finish(s, n, 1, r0, MR, u0, t, step, hcur, hnext, tile);
}

static void seq_task(void *arg, int tid, int nt) {
    seq_steps((seq_t *)arg, tid, nt);
#if defined(__AVX512F__)
    _mm_sfence(); /* the streamed (vstream) stores are visible before the caller reads them */
#endif
}

/* Step `step` (in processing order) of rows [row_begin, row_end) and blocks [blk_begin, blk_end): h_{t-1} from
 * hcur, h_t into hnext.  With xw (few rows per thread), the input part of the next tc steps is computed first when
 * the step starts a chunk of them.  Mirrors one step of rnnlab/layers/rnn.py reference_loop over lstm_finish or
 * gru_finish. */
static inline void seq_step(const seq_t *s, const float *set, int step, int blk_begin, int blk_end, int row_begin,
                            int row_end, const float *hcur, float *hnext) {
    const int B = s->B, T = s->T, D = s->D, M = s->M, G = s->G;
    const int t = s->reverse ? T - 1 - step : step;
    const int save = s->save_gates != 0;
    float acc[GROUP_ROWS * 4 * VN] __attribute__((aligned(64))); /* a group of row tiles' sums */
    /* With few rows per thread, a step's product is bound by streaming the weights from L2, not by arithmetic;
     * then the input part x_t @ W + bias of the next tc steps is computed ahead (xw), tiled over steps instead
     * of rows, so each W vector serves up to MR_MAX steps, and each step reads only U.  Its sums run in the order a
     * step's own product would run them, so the results are the same bits.  xw holds, per block and row, tc
     * tiles of 4 vectors, at ((blk * B + b) * tc + i) * 4 * VN for the i-th step of the chunk. */
    const int TS = 4 * VN, TC = s->tc;
    const int chunk_step = s->xw ? step - step % TC : 0;  /* the chunk's first step */
    const int n_steps = s->xw ? (T - chunk_step < TC ? T - chunk_step : TC) : 0;
    const int t_lo = s->reverse ? T - chunk_step - n_steps : chunk_step; /* the chunk's first time index */
    if (s->xw && step == chunk_step) {
        const int nt_steps = (n_steps + MR_MAX - 1) / MR_MAX;
        for (int blk = blk_begin; blk < blk_end; ++blk)
            for (int b = row_begin; b < row_end; ++b)
                for (int i = 0, i0 = 0; i < nt_steps; ++i) {
                    const int MR = (n_steps - i0) / (nt_steps - i) + ((n_steps - i0) % (nt_steps - i) != 0);
                    input_product(s->kind, MR, D, s->x + ((int64_t)b * T + t_lo + i0) * D, D, panel(s, set, 0, blk),
                                  s->bias_tiles + (int64_t)blk * TS, s->xw + (((int64_t)blk * B + b) * TC + i0) * TS);
                    i0 += MR;
                }
    }
    const int DX = s->xw ? 0 : D; /* the product's input part: none when it was computed ahead */
    /* The k rows of a panel that one pass over a group of row tiles reads (see PANEL_CHUNK_BYTES) */
    const int K = DX + M, kc = panel_chunk(K, G);
    /* Every other step takes the blocks in reverse order: the panels a step read last are still in L1 when the
     * next step starts with them, where one order would always find L1 holding the panels needed last.  Blocks
     * are independent within a step, so the results are the same bits in either order. */
    const int backwards = (step & 1) && block_order_test_mode != 0;
    for (int bi = 0; bi < blk_end - blk_begin; ++bi) {
        const int blk = backwards ? blk_end - 1 - bi : blk_begin + bi;
        const int u0 = blk * VN, n = M - u0 < VN ? M - u0 : VN;
        const float *bias_tile = s->bias_tiles + (int64_t)blk * TS;
        const panel_t pw = panel(s, set, 0, blk), pu = panel(s, set, 1, blk);
        /* While the first G row tiles run, their k loops prefetch the next block's panels (G lines of 64
         * bytes per k), which would otherwise come from L3 when that block starts. */
        const int prefetch_next = s->packed && bi + 1 < blk_end - blk_begin;
        const int blk_next = !prefetch_next ? blk : backwards ? blk - 1 : blk + 1;
        const panel_t pw_next = panel(s, set, 0, blk_next);
        const panel_t pu_next = panel(s, set, 1, blk_next);
        /* rows in groups of nearly equal size, at most GROUP_ROWS, each in tiles of nearly equal size (8 rows:
         * 4 + 4, not 6 + 2);
         * every tile of 2 or more rows sums in the same order, so a row's result does not depend on the batch it
         * came in (except alone) */
        const int ngroups = (row_end - row_begin + GROUP_ROWS - 1) / GROUP_ROWS;
        for (int gi = 0, g0 = row_begin, tile_i = 0; gi < ngroups; ++gi) {
            const int g1 = g0 + (row_end - g0) / (ngroups - gi) + ((row_end - g0) % (ngroups - gi) != 0);
            const int ntiles = (g1 - g0 + MR_MAX - 1) / MR_MAX;
            /* the group's tiles take the panel in chunks of kc rows of k, their sums parked in `acc` between
             * chunks: the same operations in the same order as in one pass */
            for (int k0 = 0; k0 < K; k0 += kc) {
                const int k1 = K - k0 < kc ? K : k0 + kc;
                const int x0 = k0 < DX ? k0 : DX, x1 = k1 < DX ? k1 : DX;    /* the chunk's part of x_t */
                const int h0 = k0 > DX ? k0 - DX : 0, h1 = k1 > DX ? k1 - DX : 0; /* and of h_{t-1} */
                panel_t cw = pw, cu = pu;
                cw.base += (int64_t)x0 * pw.ks;
                cu.base += (int64_t)h0 * pu.ks;
                for (int i = 0, r0 = g0; i < ntiles; ++i, ++tile_i) {
                    const int MR = (g1 - r0) / (ntiles - i) + ((g1 - r0) % (ntiles - i) != 0);
                    const float *xa = s->x + ((int64_t)r0 * T + t) * D + x0;
                    const float *ha = hcur + (int64_t)r0 * M + h0;
                    const int pf = prefetch_next && tile_i < G;
                    const char *pf_x = (const char *)pw_next.base + (pf ? (int64_t)tile_i * D * 64 : 0);
                    const char *pf_h = (const char *)pu_next.base + (pf ? (int64_t)tile_i * M * 64 : 0);
                    const int pf_step = pf ? 64 : 0;
                    float *tile = acc + (int64_t)(r0 - g0) * TS;
                    /* the step's sums start from the bias, or from the input part computed ahead, or from the
                     * previous chunk's */
                    const float *init = k0 ? tile
                                      : s->xw ? s->xw + (((int64_t)blk * B + r0) * TC + (t - t_lo)) * TS : bias_tile;
                    const int64_t init_rs = k0 ? TS : s->xw ? (int64_t)TC * TS : 0;
                    if (s->kind == 0)
                        lstm_product(MR, x1 - x0, h1 - h0, xa, (int64_t)T * D, ha, M, cw, cu, init, init_rs, tile,
                                     pf_x, pf_h, pf_step);
                    else
                        gru_product(MR, x1 - x0, h1 - h0, xa, (int64_t)T * D, ha, M, cw, cu, init, init_rs, tile,
                                    pf_x, pf_h, pf_step);
                    r0 += MR;
                }
            }
            for (int i = 0, r0 = g0; i < ntiles; ++i) {
                const int MR = (g1 - r0) / (ntiles - i) + ((g1 - r0) % (ntiles - i) != 0);
                const float *tile = acc + (int64_t)(r0 - g0) * TS;
                if (s->kind == 0) {
                    if (save) lstm_finish_save(s, n, r0, MR, u0, t, step, hcur, hnext, tile);
                    else if (n == VN) lstm_finish(s, VN, 0, r0, MR, u0, t, step, hcur, hnext, tile);
                    else lstm_finish(s, n, 0, r0, MR, u0, t, step, hcur, hnext, tile);
                } else {
                    if (save) gru_finish_save(s, n, r0, MR, u0, t, step, hcur, hnext, tile);
                    else if (n == VN) gru_finish(s, VN, 0, r0, MR, u0, t, step, hcur, hnext, tile);
                    else gru_finish(s, n, 0, r0, MR, u0, t, step, hcur, hnext, tile);
                }
                r0 += MR;
            }
            g0 = g1;
        }
    }
}

static void pack_blocks(const seq_t *s, const float *set, int blk_begin, int blk_end) {
    if (s->packed)
        for (int blk = blk_begin; blk < blk_end; ++blk) {
            pack_block(s->W, s->D, s->M, s->G, blk * VN, (float *)panel(s, set, 0, blk).base);
            pack_block(s->U, s->M, s->M, s->G, blk * VN, (float *)panel(s, set, 1, blk).base);
        }
}

/* ------------------------------------------------------------------ row split: rows claimed as threads come
 *
 * The rows are cut into a few slices (row_slice_t), and each slice's steps into segments of SEGMENT_STEPS.  A
 * thread claims a slice, runs its next segment, and releases it; a slice's segments run in order, on whichever
 * thread claims them.  Each thread packs the weights into a panel set of its own first.  A thread that comes late
 * (asleep after an idle spell, or sharing its core with NumPy's BLAS threads or another library's) claims less,
 * or nothing, and the caller runs the rest: the call never waits for a thread that has not started.  When the
 * caller finds nothing left to claim, the other threads hand their slices back after the step they are on, so it
 * waits for at most one step of a slowed thread (and for the time that thread is off its core).  Each slice keeps its rows' states (h twice, c, the last output) in arrays of
 * its own, far from every other slice's: in arrays shared by rows, a core's prefetchers, running ahead along its
 * own rows, kept pulling the next thread's rows into its cache, so that every write of those rows first had to
 * take them back (measured: the thread with the later rows ran 7% slower).  Each slice's arrays have all B rows,
 * of which it uses its own. */

/* A slice to run next: `prefer` (the one this thread ran last) when it is free, else the free slice with the
 * fewest steps done; -1 when none is free. */
static int claim_slice(seq_t *s, int prefer) {
    for (;;) {
        int best = -1, best_done = s->T;
        for (int k = 0; k < s->nslices; ++k) {
            row_slice_t *r = &s->slices[k];
            const int done = __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
            if (done >= s->T || __atomic_load_n(&r->claimed, __ATOMIC_RELAXED)) continue;
            if (k == prefer) { best = k; break; }
            if (done < best_done) { best = k; best_done = done; }
        }
        if (best < 0) return -1;
        int free_ = 0;
        if (!__atomic_compare_exchange_n(&s->slices[best].claimed, &free_, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            continue;
        /* Between the scan and the claim, another thread may have claimed this slice, run its last segment and
         * released it: then it is done, and running it again would count it as finished twice (slices_left
         * below zero, and a caller waiting for zero forever). */
        if (__atomic_load_n(&s->slices[best].done, __ATOMIC_ACQUIRE) < s->T) return best;
        __atomic_store_n(&s->slices[best].claimed, 0, __ATOMIC_RELEASE);
    }
}

static void seq_rows_claimed(seq_t *s, int tid) {
    const int T = s->T, M = s->M;
    const float *set = s->panels + tid * s->set_floats;
    pack_blocks(s, set, 0, s->nblocks);
    int prefer = tid < s->nslices ? tid : -1, spins = 0;
    int64_t waited = 0;
    for (;;) {
        if (tid != 0 && __atomic_load_n(&s->caller_waiting, __ATOMIC_ACQUIRE)) break; /* the caller runs the rest */
        const int k = claim_slice(s, prefer);
        if (k < 0) {
            /* nothing free: done, or the rest is running on other threads; the caller waits for it, and asks them
             * to hand their slices back after the step they are on */
            if (tid != 0 || __atomic_load_n(&s->slices_left, __ATOMIC_ACQUIRE) == 0) break;
            __atomic_store_n(&s->caller_waiting, 1, __ATOMIC_RELEASE);
            const int64_t w0 = now_ns();
            cpu_relax();
            if (++spins > 4096) { sched_yield(); spins = 0; } /* a slowed thread may need our core */
            waited += now_ns() - w0;
            continue;
        }
        row_slice_t *r = &s->slices[k];
        const int b0 = r->row_begin, b1 = r->row_end, step0 = r->done;
        const int64_t off = (int64_t)b0 * M, nfl = (int64_t)(b1 - b0) * M;
        seq_t own = *s;
        float *base = s->own + (int64_t)k * (4 * s->own_stride + 1024);
        float *hbuf[2] = {base, base + s->own_stride};
        own.c = s->c ? base + 2 * s->own_stride : 0;
        own.prev = base + 3 * s->own_stride;
        if (step0 == 0) {
            memcpy(hbuf[0] + off, s->h + off, sizeof(float) * (size_t)nfl);
            memcpy(own.prev + off, s->prev + off, sizeof(float) * (size_t)nfl);
            if (s->c) memcpy(own.c + off, s->c + off, sizeof(float) * (size_t)nfl);
        }
        int step1 = T - step0 < SEGMENT_STEPS ? T : step0 + SEGMENT_STEPS;
        for (int step = step0; step < step1; ++step) {
            if (tid != 0 && step > step0 && __atomic_load_n(&s->caller_waiting, __ATOMIC_ACQUIRE)) {
                step1 = step; /* hand the slice back to the waiting caller */
                break;
            }
            seq_step(&own, set, step, 0, s->nblocks, b0, b1, hbuf[step & 1], hbuf[(step + 1) & 1]);
        }
        if (step1 == T) { /* the final states back to the caller's arrays */
            memcpy(s->h + off, hbuf[T & 1] + off, sizeof(float) * (size_t)nfl);
            memcpy(s->prev + off, own.prev + off, sizeof(float) * (size_t)nfl);
            if (s->c) memcpy(s->c + off, own.c + off, sizeof(float) * (size_t)nfl);
            __atomic_fetch_sub(&s->slices_left, 1, __ATOMIC_ACQ_REL);
        }
        __atomic_store_n(&r->done, step1, __ATOMIC_RELEASE);
        __atomic_store_n(&r->claimed, 0, __ATOMIC_RELEASE);
        prefer = k;
    }
    if (tid == 0) s->caller_wait_ns = waited;
}

/* One thread's share of the whole sequence: mirrors rnnlab/layers/rnn.py reference_loop (the steps in
 * processing order, the mask, zero_output) over lstm_finish or gru_finish.  Row split on several threads:
 * seq_rows_claimed.  Unit split: this thread's blocks, all rows, a barrier per step; the threads pack their own
 * blocks into the one panel set.  One thread: everything. */
static void seq_steps(seq_t *s, int tid, int nt) {
    if (s->row_split && nt > 1) {
        seq_rows_claimed(s, tid);
        return;
    }
    int blk_begin = (int)((int64_t)s->nblocks * tid / nt), blk_end = (int)((int64_t)s->nblocks * (tid + 1) / nt);
    pack_blocks(s, s->panels, blk_begin, blk_end);
    const int per_step_barrier = nt > 1;
    const float *hcur = s->h;
    float *hnext = s->h2;
    int64_t since = now_ns();
    for (int step = 0; step < s->T; ++step) {
        seq_step(s, s->panels, step, blk_begin, blk_end, 0, s->B, hcur, hnext);
        if (per_step_barrier) {
            since = barrier_wait(&s->barrier, nt, since); /* every unit of h_t is written before it is read */
            if (nt > 1 && s->barrier.solo) { /* cores are contended: thread 0 takes every block (all are packed) */
                if (tid != 0) return;
                nt = 1;
                blk_begin = 0;
                blk_end = s->nblocks;
            }
        }
        const float *tmp = hcur;
        hcur = hnext;
        hnext = (float *)tmp;
    }
}

/* Weights are packed for each call by default: contiguous panels measured faster at every size (e.g. LSTM
 * 1,100,32,64: 110 us against 190 us reading U in place), even counting the packing. */
#define PRECOMPUTE_MAX_ROWS 3 /* measured: 1-3 rows a thread gain 8-16%, 4 rows nothing, 16 rows lose 5% */
#define XW_CHUNK_FLOATS (64 << 10)
static int precompute_test_mode = -1; /* tests: 0 never compute the input part ahead, 1 always, -1 by size */

void rnnlab_test_precompute(int mode) { precompute_test_mode = mode; }

int rnn_vector_width(void) { return VN; }

/* A whole LSTM (kind 0) or GRU with reset_after (kind 1) layer from raw inputs, for rnnlab/kernels/native_loops.py
 * native_layer (through _run, or pyext.c's forward).
 * x (B, T, D); W (D, G*M); U (M, G*M); bias as in seq_t or NULL; h (B, M) and, for LSTM, c (B, M): initial
 * states in, final states out; prev (B, M) out: the last output (zeros in); out (B, T, M) in processing order,
 * or NULL; mask (B, T) or NULL; reverse: process t = T-1 .. 0.
 * threads: 0 chooses by size (else at most this many, capped by rnnlab_set_threads); packed: -1 or 1 packs the
 * weights, 0 reads them in place (tests; a partial last block is always packed).  Returns 0, or -1 when out of memory. */
static int run_forward(seq_t *sp, int kind, int B, int T, int D, int M, const float *x, const float *W,
                       const float *U, const float *bias, float *h, float *c, float *prev, float *out,
                       const uint8_t *mask, int reverse, int zero_output, int threads, int packed);

int rnn_forward_f32(int kind, int B, int T, int D, int M, const float *x, const float *W, const float *U,
                    const float *bias, float *h, float *c, float *prev, float *out, const uint8_t *mask,
                    int reverse, int zero_output, int threads, int packed) {
    seq_t s;
    memset(&s, 0, sizeof s);
    return run_forward(&s, kind, B, T, D, M, x, W, U, bias, h, c, prev, out, mask, reverse, zero_output, threads,
                       packed);
}

/* rnn_forward_f32 that also saves, per step, what backpropagation reads (see seq_t): gates (B, T, G*M), hs and aux
 * (B, T, M), and for LSTM cs (B, T, M).  The forward pass of rnnlab/kernels/fused_training.py _sequence_call. */
int rnn_train_forward_f32(int kind, int B, int T, int D, int M, const float *x, const float *W, const float *U,
                          const float *bias, float *h, float *c, float *prev, float *out, const uint8_t *mask,
                          int reverse, int zero_output, int threads, float *gates, float *hs, float *cs,
                          float *aux) {
    seq_t s;
    memset(&s, 0, sizeof s);
    s.save_gates = gates; s.save_h = hs; s.save_c = kind == 0 ? cs : 0; s.save_aux = aux;
    return run_forward(&s, kind, B, T, D, M, x, W, U, bias, h, c, prev, out, mask, reverse, zero_output, threads,
                       -1);
}

static int run_forward(seq_t *sp, int kind, int B, int T, int D, int M, const float *x, const float *W,
                       const float *U, const float *bias, float *h, float *c, float *prev, float *out,
                       const uint8_t *mask, int reverse, int zero_output, int threads, int packed) {
    seq_t s = *sp;
    s.kind = kind;
    s.B = B; s.T = T; s.D = D; s.M = M;
    s.G = kind == 0 ? 4 : 3;
    s.nblocks = (M + VN - 1) / VN;
    s.packed = packed < 0 ? 1 : packed;
    s.packed = s.packed || (M % VN) != 0;
    s.x = x; s.W = W; s.U = U; s.bias = bias;
    s.h = h; s.c = c; s.prev = prev; s.out = out; s.mask = mask;
    s.reverse = reverse; s.zero_output = zero_output;
    const int automatic = threads <= 0;
    const int64_t step_work = (int64_t)B * (D + M) * s.G * M;
    threads = choose_threads(threads, step_work);
    /* a stream's next call is expected (pool.h, note_call_start) unless this one may not use threads: forced to
     * one, or kept on one by choose_threads because other work held the cores in a recent call */
    if (step_work >= THREAD_MIN_WORK && pool.want > 1) note_call_start(threads > 1);
    /* automatic and worth threads: one thread or several, whichever has been faster for calls of this size */
    const int measured = automatic && threads > 1;
    if (measured && !speed_choice(step_work)) threads = 1;
    const int nt = share_work(threads, B, (int64_t)(D + M) * s.G * M * (int64_t)sizeof(float), s.nblocks,
                              &s.row_split);
    s.set_floats = s.packed ? ((int64_t)s.nblocks * (D + M) * s.G * VN + 15) / 16 * 16 : 0; /* 64-byte multiple */
    const int64_t panels = s.set_floats * (s.row_split ? nt : 1);
    const int64_t tiles = (int64_t)s.nblocks * 4 * VN;
    const int64_t hfloats = ((int64_t)B * M + 15) / 16 * 16;
    /* row split on several threads: ROW_SLICES_PER_THREAD slices a thread, of ROW_SLICE_MIN_ROWS rows or more,
     * but at least one slice a thread (share_work gives each thread 2 rows or more) (seq_rows_claimed) */
    if (s.row_split && nt > 1) {
        int nslices = nt * ROW_SLICES_PER_THREAD;
        if (nslices > B / ROW_SLICE_MIN_ROWS) nslices = B / ROW_SLICE_MIN_ROWS;
        s.nslices = nslices < nt ? nt : nslices;
        s.slices_left = s.nslices;
    }
    /* the input part ahead (seq_step) when each thread, or slice, has few rows: chunks of about 256 KB in all */
    const int rows_per_thread = s.nslices ? (B + s.nslices - 1) / s.nslices : B;
    int64_t xw_floats = 0;
    if (B > 0 && T > 0 && D > 0 &&
        (precompute_test_mode >= 0 ? precompute_test_mode : rows_per_thread <= PRECOMPUTE_MAX_ROWS)) {
        const int64_t per_step = (int64_t)B * tiles;
        int64_t tc = XW_CHUNK_FLOATS / per_step;
        if (tc < MR_MAX) tc = MR_MAX;
        if (tc > T) tc = T;
        s.tc = (int)tc;
        xw_floats = per_step * tc;
    }
    const int64_t own_stride = (hfloats + 1023) / 1024 * 1024; /* whole pages */
    const int64_t own_floats = s.nslices * (4 * own_stride + 1024);
    float *work = (float *)malloc(sizeof(float) * ((size_t)hfloats + (size_t)tiles + (size_t)xw_floats +
                                                   (size_t)panels + (size_t)own_floats) + 4096 + 128);
    row_slice_t slices[MAX_THREADS * ROW_SLICES_PER_THREAD] __attribute__((aligned(64)));
    if (!work) return -1;
    for (int k = 0; k < s.nslices; ++k) {
        slices[k].row_begin = (int)((int64_t)B * k / s.nslices);
        slices[k].row_end = (int)((int64_t)B * (k + 1) / s.nslices);
        slices[k].done = slices[k].claimed = 0;
    }
    s.slices = slices;
    s.h2 = (float *)(((uintptr_t)work + 63) & ~(uintptr_t)63); /* rows of h on cache lines, as the caller's */
    s.bias_tiles = s.h2 + hfloats;
    if (xw_floats) s.xw = s.bias_tiles + tiles;
    float *after = s.bias_tiles + tiles + xw_floats;
    if (s.packed) s.panels = (float *)(((uintptr_t)after + 63) & ~(uintptr_t)63);
    if (own_floats) {
        s.own = (float *)(((uintptr_t)((s.packed ? s.panels : after) + panels) + 4095) & ~(uintptr_t)4095);
        s.own_stride = own_stride;
    }
    /* each block's initial accumulators: the bias (GRU: input + recurrent bias for z and r; the candidate's
     * input and recurrent biases apart, in slots 2 and 3); zeros past the last unit */
    memset(s.bias_tiles, 0, sizeof(float) * (size_t)tiles);
    if (bias)
        for (int blk = 0; blk < s.nblocks; ++blk) {
            float *bt = s.bias_tiles + (int64_t)blk * 4 * VN;
            const int u0 = blk * VN, n = M - u0 < VN ? M - u0 : VN;
            for (int g = 0; g < s.G; ++g)
                for (int j = 0; j < n; ++j) {
                    float v = bias[(int64_t)g * M + u0 + j];
                    if (kind == 1) {
                        const float rec = bias[(int64_t)s.G * M + (int64_t)g * M + u0 + j];
                        if (g < 2) v += rec;
                        else bt[3 * VN + j] = rec;
                    }
                    bt[g * VN + j] = v;
                }
        }
    int64_t own_ns, wait_ns;
    const int64_t call_start = now_ns();
    const int used = run_parallel(seq_task, &s, nt, s.nslices > 0, &own_ns, &wait_ns);
    if (measured) speed_record(step_work, used > 1, step_work * T, now_ns() - call_start);
    if (s.nslices && used > 1) { /* the caller's wait for slices on slowed threads is the threads' delay */
        own_ns -= s.caller_wait_ns;
        wait_ns = s.caller_wait_ns;
    }
    /* Threads that met at the per-step barrier only after long waits (unit split), or that finished their rows
     * long after the caller (row split), were sharing cores with other work: one thread is faster then. */
    if (automatic) note_contention(used, s.barrier.solo, own_ns, wait_ns);
    /* odd step count: h_T is in the second buffer (threads with their own arrays wrote it back themselves) */
    if (T % 2 && !(s.own && used > 1)) memcpy(h, s.h2, sizeof(float) * (size_t)B * M);
    if (!mask && T > 0) memcpy(prev, h, sizeof(float) * (size_t)B * M); /* the last output */
    free(work);
    return 0;
}

/* ------------------------------------------------------------------ GRU with reset_after=False (one thread) */

static inline void matvec_acc(float *restrict z, const float *restrict h, const float *restrict W, int K, int G,
                              int stride) {
    for (int k = 0; k < K; ++k) {
        const float hk = h[k];
        const float *restrict w = W + (int64_t)k * stride;
        for (int j = 0; j < G; ++j) z[j] += hk * w[j];
    }
}

/* Whole GRU sequence, reset_after=False, from the projected inputs xw (B, T, 3M) in processing order; buf holds
 * h and prev (each B*M, in/out) followed, when has_out, by the outputs (B, T, M).  For
 * rnnlab/kernels/native_loops.py _gru_v1_sequence.
 * mirrors rnnlab/cells/gru.py gru_step (forward, reset_after=False) in the loop of rnnlab/layers/rnn.py
  * reference_loop */
void gru_sequence_f32(int B, int T, int M, const float *xw, const float *U, float *buf, const uint8_t *mask,
                      int zero_output, int has_out) {
    const int G = 3 * M;
    float *h = buf, *prev = buf + (int64_t)B * M;
    float *out = has_out ? buf + 2 * (int64_t)B * M : 0;
    float *tmp = (float *)malloc(sizeof(float) * 4 * (size_t)M);
    if (!tmp) return;
    float *zr = tmp, *hh = tmp + 2 * M, *rhp = tmp + 3 * M;
    for (int t = 0; t < T; ++t)
        for (int b = 0; b < B; ++b) {
            const float *x = xw + ((int64_t)b * T + t) * G;
            float *hb = h + (int64_t)b * M, *pb = prev + (int64_t)b * M;
            float *o = out ? out + ((int64_t)b * T + t) * M : 0;
            const int keep = mask ? mask[(int64_t)b * T + t] : 1;
            for (int j = 0; j < 2 * M; ++j) zr[j] = x[j];
            matvec_acc(zr, hb, U, M, 2 * M, G);
            for (int j = 0; j < 2 * M; ++j) zr[j] = fsigmoid(zr[j]);
            for (int j = 0; j < M; ++j) { rhp[j] = zr[M + j] * hb[j]; hh[j] = x[2 * M + j]; }
            matvec_acc(hh, rhp, U + 2 * M, M, M, G);
            for (int j = 0; j < M; ++j) {
                const float cand = ftanh(hh[j]);
                hh[j] = cand + zr[j] * (hb[j] - cand);
            }
            if (keep) {
                memcpy(hb, hh, sizeof(float) * M);
                memcpy(pb, hh, sizeof(float) * M);
            } else if (zero_output) {
                memset(pb, 0, sizeof(float) * M);
            }
            if (o) memcpy(o, pb, sizeof(float) * M);
        }
    free(tmp);
}
