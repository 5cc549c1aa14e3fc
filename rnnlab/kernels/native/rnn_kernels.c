/* Compiled forward loops for rnnlab's LSTM and GRU (float32, Keras default activations tanh / sigmoid).
 *
 * They compute the equations of rnnlab/cells/{lstm,gru}.py with Keras's mask semantics (see
 * rnnlab/layers/rnn.py): at a masked step the state is kept and the output repeats the previous output, or is
 * zero with zero_output.
 *
 * rnn_forward_f32 runs a whole layer from its raw inputs x (B, T, D).  Each step's gate pre-activations
 *     z_t = bias + x_t @ W + h_{t-1} @ U
 * are one product with K = D + M, so the input projection is never stored for all steps.  Units are split into
 * blocks of VN (one SIMD vector); a block owns the columns of all its gates, so after its product a block can
 * finish its units' gates and states without waiting for any other block.  Threads (a small pool of our own)
 * share the work in one of two ways for the whole sequence: when the weights fit each core's cache, each thread
 * owns some rows (batch entries), which never wait for each other; otherwise each owns some blocks of units and
 * the threads meet once per step, when every unit of h_t is ready.  Threads that keep losing their cores to
 * other work hand the rest of the call to the caller's thread.  Each block's weights are packed into one
 * contiguous panel at the start of a call.
 *
 * gru_sequence_f32 is the single-threaded loop for GRU with reset_after=False, whose candidate needs the reset
 * gate of every unit before its recurrent product.
 *
 * Training (rnnlab/kernels/training.py) uses the same loop and pool: rnn_train_forward_f32 is rnn_forward_f32 that
 * also saves each step's gates and states, rnn_train_backward_f32 runs backpropagation through time over them,
 * and rnn_gemm_f32 computes the weight and input gradients as products over all B*T rows.
 *
 * tanh is a rational approximation tanh(x) ~ x * P(x^2) / Q(x^2) on [-9, 9] (|error| < 3e-7 in float32),
 * fitted for rnnlab; sigmoid(x) = 0.5 * tanh(x / 2) + 0.5.  Both vectorise.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
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

/* ------------------------------------------------------------------------------------------------ threads */

#define MAX_THREADS 64
typedef void (*task_fn)(void *arg, int tid, int nt);

static struct {
    int want;     /* threads to use, the caller included (set from Python) */
    int started;  /* pool threads running (0 until first needed, and again after fork) */
    pthread_t th[MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gen;      /* bumped for each task */
    int pending;  /* pool threads still inside the current task */
    task_fn fn;
    void *arg;
    int nt;
    int start_gen; /* gen when the threads were created: a thread's first task is the next one */
    int64_t busy_ns[MAX_THREADS]; /* how long each pool thread spent inside the current task */
} pool = {1, 0, {0}, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, {0}};

static int64_t now_ns(void);

/* One caller at a time uses the pool; a concurrent caller runs on its own thread. */
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER;

#define SPIN_IDLE 20000 /* pause instructions a pool thread spins before sleeping: roughly 0.1-1 ms */

static void *pool_main(void *p) {
    const int tid = (int)(intptr_t)p;
    int seen = pool.start_gen;
    for (;;) {
        int g, spins = 0;
        while ((g = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE)) == seen) {
            if (++spins < SPIN_IDLE) { cpu_relax(); continue; }
            pthread_mutex_lock(&pool.mu);
            while (__atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
            spins = 0;
        }
        seen = g;
        if (tid < pool.nt) {
            const int64_t start = now_ns();
            pool.fn(pool.arg, tid, pool.nt);
            pool.busy_ns[tid] = now_ns() - start;
        }
        __atomic_fetch_sub(&pool.pending, 1, __ATOMIC_ACQ_REL);
    }
    return 0;
}

static void pool_after_fork(void) { pool.started = 0; pool.gen = 0; }

static int pool_start(void) {
    static int atfork = 0;
    if (!atfork) { pthread_atfork(0, 0, pool_after_fork); atfork = 1; }
    int n = pool.want < MAX_THREADS ? pool.want : MAX_THREADS;
    int started = 1;
    pool.start_gen = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE);
    for (; started < n; ++started) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&pool.th[started], &attr, pool_main, (void *)(intptr_t)started);
        pthread_attr_destroy(&attr);
        if (rc) break;
    }
    pool.started = started;
    return started;
}

/* Set the number of threads (the caller included) that later calls may use. */
void rnnlab_set_threads(int n) {
    pthread_mutex_lock(&pool_owner);
    pool.want = n < 1 ? 1 : (n > MAX_THREADS ? MAX_THREADS : n);
    pthread_mutex_unlock(&pool_owner);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Run fn(arg, tid, nt) for tid < nt on the pool (the caller is tid 0); nt is capped by the pool's size.
 * Returns the threads used.  *own_ns: how long the caller's own part took; *wait_ns: how much longer the slowest
 * other thread took over its part (both 0 on one thread).  Time a pool thread took to wake up is not counted: a
 * thread asleep after an idle spell starts late without having lost its core to anyone. */
static int run_parallel(task_fn fn, void *arg, int nt, int64_t *own_ns, int64_t *wait_ns) {
    *own_ns = *wait_ns = 0;
    if (nt > 1 && pthread_mutex_trylock(&pool_owner) == 0) {
        int size = pool.started ? pool.started : pool_start();
        if (size > 1) {
            if (nt > size) nt = size;
            pool.fn = fn;
            pool.arg = arg;
            pool.nt = nt;
            __atomic_store_n(&pool.pending, size - 1, __ATOMIC_RELEASE);
            pthread_mutex_lock(&pool.mu);
            __atomic_add_fetch(&pool.gen, 1, __ATOMIC_ACQ_REL);
            pthread_cond_broadcast(&pool.cv);
            pthread_mutex_unlock(&pool.mu);
            const int64_t start = now_ns();
            fn(arg, 0, nt);
            const int64_t done = now_ns();
            int spins = 0;
            while (__atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) > 0) {
                cpu_relax();
                if (++spins > 4096) { sched_yield(); spins = 0; } /* a late thread may need our core */
            }
            *own_ns = done - start;
            int64_t slowest = 0;
            for (int t = 1; t < nt; ++t) slowest = pool.busy_ns[t] > slowest ? pool.busy_ns[t] : slowest;
            *wait_ns = slowest > *own_ns ? slowest - *own_ns : 0;
            pthread_mutex_unlock(&pool_owner);
            return nt;
        }
        pthread_mutex_unlock(&pool_owner);
    }
    fn(arg, 0, 1);
    return 1;
}

/* Until this time (CLOCK_MONOTONIC, ns), calls run on one thread: a recent call's threads kept losing their cores
 * to other work (another process, or NumPy's BLAS threads, which busy-wait about 0.1 s after each product).  The
 * wait starts at 20 ms and doubles, up to 1 s, while calls keep finding their threads slowed; a threaded call
 * that runs unhindered resets it. */
static int64_t contended_until = 0, contended_backoff = 0;
#define CONTENDED_BACKOFF_MIN_NS 20000000
#define CONTENDED_BACKOFF_MAX_NS 1000000000

/* A reusable barrier.  A wait far longer than the waiter's own work since its last barrier (over 4x, and over
 * 0.2 ms) means a thread lost its core to other work; after the second such wait in a call, the last thread to
 * arrive sets solo before releasing the others, and the caller's thread finishes the call alone. */
typedef struct { int count; int phase; int stalls; int solo; } barrier_t;
#define SOLO_AFTER_STALLS 2
static int solo_test_phase = -1; /* tests: go solo when this barrier of a call completes (-1: never) */

void rnnlab_test_solo_at(int phase) { solo_test_phase = phase; }

/* Wait for all nt threads; `since` is when this thread left its previous barrier.  Returns the time it leaves. */
static int64_t barrier_wait(barrier_t *b, int nt, int64_t since) {
    if (nt <= 1) return since;
    const int64_t arrived = now_ns();
    const int phase = __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == nt) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        if (__atomic_load_n(&b->stalls, __ATOMIC_RELAXED) >= SOLO_AFTER_STALLS || phase == solo_test_phase)
            b->solo = 1;
        __atomic_store_n(&b->phase, phase + 1, __ATOMIC_RELEASE);
        return arrived;
    }
    int spins = 0;
    while (__atomic_load_n(&b->phase, __ATOMIC_ACQUIRE) == phase) {
        cpu_relax();
        if (++spins > 4096) { sched_yield(); spins = 0; } /* the other thread may be waiting for our core */
    }
    const int64_t left = now_ns(), waited = left - arrived;
    if (waited > 4 * (arrived - since) && waited > 200000) __atomic_add_fetch(&b->stalls, 1, __ATOMIC_RELAXED);
    return left;
}

/* ------------------------------------------------------------------------------------ the block product */

#if defined(__AVX512F__)
#define VN 16
#define MR_MAX 6 /* 6 rows x 4 vectors = 24 accumulators of the 32 registers */
#else
#define VN 8
#define MR_MAX 3 /* 12 accumulators of 16 registers */
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

/* ftanh and fsigmoid on a whole vector.  With AVX-512 the division becomes a reciprocal estimate refined by one
 * Newton step (relative error ~1e-7, far below the approximation's own 3e-7): a vector division costs as much as
 * the rest of the gate arithmetic together. */
static inline vf vtanh(vf x) {
#if defined(__AVX512F__)
    __m512 v = _mm512_min_ps(_mm512_max_ps((__m512)x, _mm512_set1_ps(-9.0f)), _mm512_set1_ps(9.0f));
    x = (vf)v;
#else
    for (int j = 0; j < VN; ++j) x[j] = x[j] < 9.0f ? (x[j] > -9.0f ? x[j] : -9.0f) : 9.0f;
#endif
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
#define GEMM_CASES_4_TO_6 GEMM_CASE(4) GEMM_CASE(5) GEMM_CASE(6)
#define INPUT_CASES(G) INPUT_CASE(1, G) INPUT_CASE(2, G) INPUT_CASE(3, G) INPUT_CASE(4, G) INPUT_CASE(5, G) INPUT_CASE(6, G)
#else
#define PRODUCT_CASES_4_TO_6(GRUc)
#define GEMM_CASES_4_TO_6
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

/* --------------------------------------------------------------------------------------- the layer loop */

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
    float *own;     /* row split on several threads: each thread's own state arrays (see seq_steps) */
    int64_t own_stride;
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

/* Gates and states of one block of MR rows once the tile holds its pre-activations. */
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

static void seq_steps(seq_t *s, int tid, int nt) {
    const int B = s->B, T = s->T, D = s->D, M = s->M, G = s->G;
    int blk_begin = (int)((int64_t)s->nblocks * tid / nt), blk_end = (int)((int64_t)s->nblocks * (tid + 1) / nt);
    /* Unit split: this thread's blocks, all rows, a barrier per step; the threads pack their own blocks into the
     * one panel set.  Row split: all blocks, this thread's rows, which depend on no other thread's: each thread
     * packs every block into its own set, in its own cache, and never waits for another. */
    int row_begin = 0, row_end = B;
    const float *set = s->panels;
    if (s->row_split && nt > 1) {
        row_begin = (int)((int64_t)B * tid / nt);
        row_end = (int)((int64_t)B * (tid + 1) / nt);
        blk_begin = 0;
        blk_end = s->nblocks;
        set = s->panels + tid * s->set_floats;
    }
    if (s->packed)
        for (int blk = blk_begin; blk < blk_end; ++blk) {
            pack_block(s->W, D, M, G, blk * VN, (float *)panel(s, set, 0, blk).base);
            pack_block(s->U, M, M, G, blk * VN, (float *)panel(s, set, 1, blk).base);
        }
    const int rows = row_end - row_begin;
    const int per_step_barrier = nt > 1 && !s->row_split;
    const int save = s->save_gates != 0;
    float tile[MR_MAX * 4 * VN] __attribute__((aligned(64)));
    const int ntiles = (rows + MR_MAX - 1) / MR_MAX;
    const float *hcur = s->h;
    float *hnext = s->h2;
    /* Row split on several threads: each thread runs its rows' states (h twice, c, the last output) in arrays of
     * its own, far from every other thread's, and writes them back at the end.  In arrays shared by rows, a core's
     * prefetchers, running ahead along its own rows, kept pulling the next thread's rows into its cache, so that
     * every write of those rows first had to take them back (measured: the thread with the later rows ran 7%
     * slower).  The own arrays have all B rows, of which a thread uses its own. */
    seq_t own;
    const seq_t *shared = s;
    const int64_t off = (int64_t)row_begin * M, nfl = (int64_t)rows * M;
    if (s->own && nt > 1) {
        own = *s;
        float *base = s->own + (int64_t)tid * (4 * s->own_stride + 1024);
        float *h0 = base, *h1 = base + s->own_stride, *cb = base + 2 * s->own_stride, *pb = base + 3 * s->own_stride;
        memcpy(h0 + off, s->h + off, sizeof(float) * (size_t)nfl);
        memcpy(pb + off, s->prev + off, sizeof(float) * (size_t)nfl);
        if (s->c) { memcpy(cb + off, s->c + off, sizeof(float) * (size_t)nfl); own.c = cb; }
        own.prev = pb;
        own.h = h0;
        hcur = h0;
        hnext = h1;
        s = &own;
    }
    int64_t since = now_ns();
    /* With few rows per thread, a step's product is bound by streaming the weights from L2, not by arithmetic;
     * then the input part x_t @ W + bias of the next tc steps is computed ahead (xw), tiled over steps instead
     * of rows, so each W vector serves up to MR_MAX steps, and each step reads only U.  Its sums run in the order a
     * step's own product would run them, so the results are the same bits.  xw holds, per block and row, tc
     * tiles of 4 vectors, at ((blk * B + b) * tc + i) * 4 * VN for the i-th step of the chunk. */
    const int TS = 4 * VN, TC = s->tc;
    int t_lo = 0; /* the chunk's first time index */
    for (int step = 0; step < T; ++step) {
        const int t = s->reverse ? T - 1 - step : step;
        if (s->xw && step % TC == 0) {
            const int n_steps = T - step < TC ? T - step : TC;
            t_lo = s->reverse ? T - step - n_steps : step;
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
        for (int blk = blk_begin; blk < blk_end; ++blk) {
            const int u0 = blk * VN, n = M - u0 < VN ? M - u0 : VN;
            const float *bias_tile = s->bias_tiles + (int64_t)blk * TS;
            const panel_t pw = panel(s, set, 0, blk), pu = panel(s, set, 1, blk);
            /* rows in tiles of nearly equal size (8 rows: 4 + 4, not 6 + 2); every tile of 2 or more rows sums
             * in the same order, so a row's result does not depend on the batch it came in (except alone) */
            /* While the first G row tiles run, their k loops prefetch the next block's panels (G lines of 64
             * bytes per k), which would otherwise come from L3 when that block starts. */
            const int prefetch_next = s->packed && blk + 1 < blk_end;
            const panel_t pw_next = panel(s, set, 0, prefetch_next ? blk + 1 : blk);
            const panel_t pu_next = panel(s, set, 1, prefetch_next ? blk + 1 : blk);
            for (int tile_i = 0, r0 = row_begin; tile_i < ntiles; ++tile_i) {
                const int MR = (row_end - r0) / (ntiles - tile_i) + ((row_end - r0) % (ntiles - tile_i) != 0);
                const float *xa = s->x + ((int64_t)r0 * T + t) * D;
                const float *ha = hcur + (int64_t)r0 * M;
                const int pf = prefetch_next && tile_i < G;
                const char *pf_x = (const char *)pw_next.base + (pf ? (int64_t)tile_i * D * 64 : 0);
                const char *pf_h = (const char *)pu_next.base + (pf ? (int64_t)tile_i * M * 64 : 0);
                const int pf_step = pf ? 64 : 0;
                /* the step's sums start from the bias, or from the input part computed ahead */
                const float *init = s->xw ? s->xw + (((int64_t)blk * B + r0) * TC + (t - t_lo)) * TS : bias_tile;
                const int64_t init_rs = s->xw ? (int64_t)TC * TS : 0;
                const int DX = s->xw ? 0 : D;
                if (s->kind == 0) {
                    lstm_product(MR, DX, M, xa, (int64_t)T * D, ha, M, pw, pu, init, init_rs, tile, pf_x, pf_h, pf_step);
                    if (save) lstm_finish_save(s, n, r0, MR, u0, t, step, hcur, hnext, tile);
                    else if (n == VN) lstm_finish(s, VN, 0, r0, MR, u0, t, step, hcur, hnext, tile);
                    else lstm_finish(s, n, 0, r0, MR, u0, t, step, hcur, hnext, tile);
                } else {
                    gru_product(MR, DX, M, xa, (int64_t)T * D, ha, M, pw, pu, init, init_rs, tile, pf_x, pf_h, pf_step);
                    if (save) gru_finish_save(s, n, r0, MR, u0, t, step, hcur, hnext, tile);
                    else if (n == VN) gru_finish(s, VN, 0, r0, MR, u0, t, step, hcur, hnext, tile);
                    else gru_finish(s, n, 0, r0, MR, u0, t, step, hcur, hnext, tile);
                }
                r0 += MR;
            }
        }
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
    if (s != shared) { /* the final states back to the caller's arrays */
        memcpy(shared->h + off, hcur + off, sizeof(float) * (size_t)nfl);
        memcpy(shared->prev + off, s->prev + off, sizeof(float) * (size_t)nfl);
        if (shared->c) memcpy(shared->c + off, s->c + off, sizeof(float) * (size_t)nfl);
    }
}

/* Per-step multiply-adds (B x (D + M) x G*M) from which the work is shared among threads: below it one thread is
 * faster (measured: LSTM 1,100,32,64 (25k) 90 us on one thread, 100 us on two; 1,100,64,128 (98k) 300 us on one,
 * 210 us on two).  Weights are packed for each call by default: contiguous panels measured faster at every size
 * (e.g. LSTM 1,100,32,64: 110 us against 190 us reading U in place), even counting the packing. */
#define THREAD_MIN_WORK (1 << 16)
#define ROW_SPLIT_MAX_BYTES (2 << 20)
static int split_test_mode = -1; /* tests: 0 units, 1 rows, -1 by size */
#define PRECOMPUTE_MAX_ROWS 3 /* measured: 1-3 rows a thread gain 8-16%, 4 rows nothing, 16 rows lose 5% */
#define XW_CHUNK_FLOATS (64 << 10)
static int precompute_test_mode = -1; /* tests: 0 never compute the input part ahead, 1 always, -1 by size */

void rnnlab_test_precompute(int mode) { precompute_test_mode = mode; }

void rnnlab_test_split(int mode) { split_test_mode = mode; }

int rnn_vector_width(void) { return VN; }

/* How a call's threads (at most `threads`, and the pool's size) share its B rows or its `units` blocks of units.
 * Rows when the weights fit each core's cache (no waiting between threads; each thread keeps its own copy of the
 * packed weights, so at most 16) and each thread gets 2 rows or more; otherwise blocks of units, so each core reads
 * only its part of the weights.  Sets *row_split; returns the threads. */
static int share_work(int threads, int B, int64_t weight_bytes, int units, int *row_split) {
    *row_split = split_test_mode >= 0 ? split_test_mode : weight_bytes <= ROW_SPLIT_MAX_BYTES && B >= 4;
    int nt = threads < pool.want ? threads : pool.want; /* the pool's size (rnnlab_set_threads) */
    if (*row_split) {
        if (nt > B / 2) nt = B / 2;
        if (nt > 16) nt = 16;
    } else if (nt > units) {
        nt = units;
    }
    return nt < 1 ? 1 : nt;
}

/* The threads for a call (threads <= 0: automatic, by the multiply-adds per step or per row of work). */
static int choose_threads(int threads, int64_t work) {
    if (threads > 0) return threads;
    threads = work >= THREAD_MIN_WORK ? MAX_THREADS : 1;
    if (threads > 1 && now_ns() < __atomic_load_n(&contended_until, __ATOMIC_RELAXED)) threads = 1;
    return threads;
}

/* After an automatic threaded call: threads that met at a barrier only after long waits (solo), or that finished
 * long after the caller, were sharing cores with other work; calls in the next while run on one thread. */
static void note_contention(int used, int solo, int64_t own_ns, int64_t wait_ns) {
    if (used <= 1) return;
    if (solo || wait_ns > own_ns / 4 + 100000) {
        int64_t backoff = contended_backoff ? 2 * contended_backoff : CONTENDED_BACKOFF_MIN_NS;
        if (backoff > CONTENDED_BACKOFF_MAX_NS) backoff = CONTENDED_BACKOFF_MAX_NS;
        contended_backoff = backoff;
        __atomic_store_n(&contended_until, now_ns() + backoff, __ATOMIC_RELAXED);
    } else {
        contended_backoff = 0;
    }
}

/* A whole LSTM (kind 0) or GRU with reset_after (kind 1) layer from raw inputs.
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
 * (B, T, M), and for LSTM cs (B, T, M). */
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
    threads = choose_threads(threads, (int64_t)B * (D + M) * s.G * M);
    const int nt = share_work(threads, B, (int64_t)(D + M) * s.G * M * (int64_t)sizeof(float), s.nblocks,
                              &s.row_split);
    s.set_floats = s.packed ? ((int64_t)s.nblocks * (D + M) * s.G * VN + 15) / 16 * 16 : 0; /* 64-byte multiple */
    const int64_t panels = s.set_floats * (s.row_split ? nt : 1);
    const int64_t tiles = (int64_t)s.nblocks * 4 * VN;
    const int64_t hfloats = ((int64_t)B * M + 15) / 16 * 16;
    /* the input part ahead (seq_steps) when each thread has few rows: chunks of about 256 KB in all */
    const int rows_per_thread = s.row_split ? (B + nt - 1) / nt : B;
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
    const int64_t own_floats = s.row_split && nt > 1 ? nt * (4 * own_stride + 1024) : 0;
    float *work = (float *)malloc(sizeof(float) * ((size_t)hfloats + (size_t)tiles + (size_t)xw_floats +
                                                   (size_t)panels + (size_t)own_floats) + 4096 + 128);
    if (!work) return -1;
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
    const int used = run_parallel(seq_task, &s, nt, &own_ns, &wait_ns);
    /* Threads that met at the per-step barrier only after long waits (unit split), or that finished their rows
     * long after the caller (row split), were sharing cores with other work: one thread is faster then. */
    if (automatic) note_contention(used, s.barrier.solo, own_ns, wait_ns);
    /* odd step count: h_T is in the second buffer (threads with their own arrays wrote it back themselves) */
    if (T % 2 && !(s.own && used > 1)) memcpy(h, s.h2, sizeof(float) * (size_t)B * M);
    if (!mask && T > 0) memcpy(prev, h, sizeof(float) * (size_t)B * M); /* the last output */
    free(work);
    return 0;
}

/* ------------------------------------------------------------------ training: backpropagation through time */

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

#define GROUP (4 * VN)

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
 * initial states out when want_initial.  threads as rnn_forward_f32.  Returns 0, or -1 when out of memory. */
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
    const int used = run_parallel(bwd_task, &s, nt, &own_ns, &wait_ns);
    if (automatic) note_contention(used, s.barrier.solo, own_ns, wait_ns);
    free(work);
    return 0;
}

/* C (R1 + R2, N) = [A1; A2] @ Bm, the products of a training call's backward pass on rnnlab's threads: the weight
 * gradients [x, h_prev]^T @ dz over all B*T rows, and the input gradient dz @ W^T.  Element (r, k) of A1 is at
 * A1[r * a1_rs + k * a1_ks] (likewise A2, for rows R1 ..; R2 may be 0), element (k, n) of Bm at
 * Bm[k * b_ks + n * b_ns]; C is row-major.  colsum (N), or NULL: Bm's column sums (a bias gradient).  Both operands
 * are packed, GEMM_KC values of k at a time (A also GEMM_MC rows at a time), into the layouts of MR_MAX x GROUP
 * register tiles.  Threads share C's panels of GROUP columns, or its rows when C has fewer panels than threads
 * (the input gradient). */
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
    const int used = run_parallel(gemm_task, &s, nt, &own_ns, &wait_ns);
    if (automatic) note_contention(used, 0, own_ns, wait_ns);
    return s.failed ? -1 : 0;
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
 * h and prev (each B*M, in/out) followed, when has_out, by the outputs (B, T, M). */
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

/* ------------------------------------------------------------------ Python entry point (when built with it) */
#ifdef RNNLAB_PYEXT
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* The address of a C-contiguous buffer (None -> NULL), or -1 with an exception set. */
static int get_buffer(PyObject *obj, Py_buffer *view, int writable, void **ptr) {
    if (obj == Py_None) { view->obj = NULL; *ptr = NULL; return 0; }
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
    *ptr = view->buf;
    return 0;
}

static int all_finite(const float *x, int64_t n) {
    uint32_t bad = 0; /* NaN and +-Inf have every exponent bit set */
    for (int64_t i = 0; i < n; ++i) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

/* forward(kind, B, T, D, M, x, W, U, bias, h, c, prev, out, mask, reverse, zero_output, threads, packed)
 * Arrays are C-contiguous buffers (bias, c, out, mask may be None).  Returns False, without computing, when x
 * holds NaN or infinity; True otherwise. */
static PyObject *py_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 18) { PyErr_SetString(PyExc_TypeError, "forward() takes 18 arguments"); return NULL; }
    int ints[4];
    for (int k = 0; k < 4; ++k) {
        ints[k] = (int)PyLong_AsLong(args[1 + k]);
        if (ints[k] == -1 && PyErr_Occurred()) return NULL;
    }
    const int kind = (int)PyLong_AsLong(args[0]);
    const int reverse = PyObject_IsTrue(args[14]), zero = PyObject_IsTrue(args[15]);
    const int threads = (int)PyLong_AsLong(args[16]), packed = (int)PyLong_AsLong(args[17]);
    if (PyErr_Occurred()) return NULL;
    Py_buffer views[9];
    void *ptrs[9];
    static const int writable[9] = {0, 0, 0, 0, 1, 1, 1, 1, 0};
    int n = 0;
    for (; n < 9; ++n)
        if (get_buffer(args[5 + n], &views[n], writable[n], &ptrs[n]) < 0) break;
    PyObject *result = NULL;
    if (n == 9) {
        const int B = ints[0], T = ints[1], D = ints[2], M = ints[3];
        int ok, rc = 0;
        Py_BEGIN_ALLOW_THREADS
        ok = all_finite((const float *)ptrs[0], (int64_t)B * T * D);
        if (ok)
            rc = rnn_forward_f32(kind, B, T, D, M, ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], ptrs[5], ptrs[6],
                                 ptrs[7], ptrs[8], reverse, zero, threads, packed);
        Py_END_ALLOW_THREADS
        result = rc ? PyErr_NoMemory() : PyBool_FromLong(ok);
    }
    for (int k = 0; k < n; ++k)
        if (views[k].obj) PyBuffer_Release(&views[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"forward", (PyCFunction)(void (*)(void))py_forward, METH_FASTCALL, "Run a whole LSTM/GRU layer."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "rnn_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit_rnn_kernels(void) { return PyModule_Create(&module); }
#endif
