/* rnnlab's own small thread pool, and how a call shares its work among the pool's threads.
 *
 * No OpenMP and no BLAS: the kernels never wait on threads that spin for someone else.  run_parallel runs one
 * task on the pool (the caller is thread 0); barrier_wait meets the threads once per step when they share units;
 * threads that keep losing their cores to other work make the call finish on the caller's thread (solo), and
 * calls in the next while run on one thread (contended_until).  share_work and choose_threads decide, per call,
 * how many threads to use and whether they share rows or units.
 *
 * Part of the one compilation unit rnn_kernels.c (see there). */
#ifndef RNNLAB_POOL_H
#define RNNLAB_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define MAX_THREADS 64
typedef void (*task_fn)(void *arg, int tid, int nt);

static struct {
    int want;     /* threads to use, the caller included (set from Python) */
    int started;  /* pool threads running (0 until first needed, and again after fork) */
    pthread_t th[MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gen;      /* bumped for each task */
    int64_t join; /* the current task's gen << 32, JOIN_CLOSED once the caller takes no more threads, and the
                     pool threads that joined it (see run_parallel) */
    int left;     /* pool threads that joined the current task and are done with it */
    task_fn fn;
    void *arg;
    int nt;
    int start_gen; /* gen when the threads were created: a thread's first task is the next one */
    int64_t busy_ns[MAX_THREADS]; /* how long each pool thread spent inside the current task */
} pool = {1, 0, {0}, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, {0}};

static int64_t now_ns(void);

/* One caller at a time uses the pool; a concurrent caller runs on its own thread. */
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER;

#define SPIN_IDLE 20000 /* pause instructions a pool thread spins before sleeping: roughly 0.1-1 ms */
#define JOIN_CLOSED ((int64_t)1 << 31)
#define JOIN_COUNT(v) ((int)((v) & (JOIN_CLOSED - 1)))

/* Join task g: false when it is no longer the current task, or its caller takes no more threads (then the
 * thread must not touch the task: its memory may be gone). */
static int pool_join(uint32_t g) {
    int64_t v = __atomic_load_n(&pool.join, __ATOMIC_ACQUIRE);
    while ((uint32_t)(v >> 32) == g && !(v & JOIN_CLOSED))
        if (__atomic_compare_exchange_n(&pool.join, &v, v + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 1;
    return 0;
}

/* ------------------------------------------------------------------ calls at a regular pace
 *
 * A stream (a 50 Hz sensor) calls at a regular interval, longer than the pool threads' short spin: each call then
 * found its second thread asleep and that thread's core idle, and two threads were no faster than one (measured:
 * LSTM 8,100,64,128 after 20 ms gaps, 2,450 us on two threads and on one; 1,440 us with a thread kept spinning).
 * So each forward call that may use threads notes when it starts; after two gaps within a quarter of each other,
 * the next call is expected one gap later, and the pool threads wake EXPECT_LEAD_NS before it and spin for it at
 * most EXPECT_WINDOW_NS: about 1 ms of a core per call when the stream keeps its pace, instead of a core spinning
 * all the time.  Gaps over EXPECT_MAX_GAP_NS, or irregular ones, expect nothing; nor does a call that may not
 * use threads (forced to one, or kept on one while other work holds the cores: contended_until below), since
 * spinning then only takes a core from that other work (measured beside ONNX Runtime: GRU 8,100,64,128 1.15x the
 * single thread's time when the pool spun ahead of every call). */
#define EXPECT_LEAD_NS 1000000
#define EXPECT_WINDOW_NS 3000000
#define EXPECT_MAX_GAP_NS 250000000
static int64_t last_call_ns = 0, last_gap_ns = 0, next_call_ns = 0;
static int pool_sleepers = 0; /* pool threads asleep on pool.cv */
static void note_call_start(int next_threaded) {
    const int64_t now = now_ns();
    const int64_t gap = now - __atomic_exchange_n(&last_call_ns, now, __ATOMIC_RELAXED);
    const int64_t before = __atomic_exchange_n(&last_gap_ns, gap, __ATOMIC_RELAXED);
    const int64_t diff = gap > before ? gap - before : before - gap;
    const int regular = next_threaded && gap > 2 * EXPECT_LEAD_NS && gap < EXPECT_MAX_GAP_NS && diff < before / 4;
    __atomic_store_n(&next_call_ns, regular ? now + gap : 0, __ATOMIC_SEQ_CST);
    if (regular && __atomic_load_n(&pool_sleepers, __ATOMIC_SEQ_CST)) { /* asleep threads: expect the next call */
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
}

/* Tests: whether a call is expected now (the last calls came at a regular pace). */
int rnnlab_test_call_expected(void) { return __atomic_load_n(&next_call_ns, __ATOMIC_SEQ_CST) != 0; }

/* A pool thread that has spun in vain: when a call is expected, sleep until EXPECT_LEAD_NS before it, then spin
 * for it until the window closes.  Returns when the gen moved on or the window passed (the caller then sleeps). */
static void await_expected_call(int seen) {
    const int64_t due = __atomic_load_n(&next_call_ns, __ATOMIC_RELAXED), now = now_ns();
    if (!due || due - EXPECT_LEAD_NS <= now || due - now > EXPECT_MAX_GAP_NS) return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the pool's condition variable waits on the realtime clock */
    const int64_t wake = (int64_t)until.tv_sec * 1000000000 + until.tv_nsec + (due - EXPECT_LEAD_NS - now);
    until.tv_sec = (time_t)(wake / 1000000000);
    until.tv_nsec = (long)(wake % 1000000000);
    pthread_mutex_lock(&pool.mu);
    int rc = 0;
    while (rc == 0 && __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE) == seen)
        rc = pthread_cond_timedwait(&pool.cv, &pool.mu, &until);
    pthread_mutex_unlock(&pool.mu);
    const int64_t stop = due + EXPECT_WINDOW_NS - EXPECT_LEAD_NS;
    while (__atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE) == seen && now_ns() < stop)
        for (int i = 0; i < 64; ++i) cpu_relax();
}

static void *pool_main(void *p) {
    const int tid = (int)(intptr_t)p;
    int seen = pool.start_gen;
    for (;;) {
        int g, spins = 0;
        while ((g = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE)) == seen) {
            if (++spins < SPIN_IDLE) { cpu_relax(); continue; }
            await_expected_call(seen);
            if (__atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE) != seen) continue;
            /* asleep until the next task, or until a call that runs without this thread expects another:
             * then this thread wakes for that one (a stream that runs on one thread would otherwise never
             * find out that two are faster) */
            const int64_t expected = __atomic_load_n(&next_call_ns, __ATOMIC_RELAXED);
            if (expected - EXPECT_LEAD_NS > now_ns()) continue; /* a call that ran without this thread expects
                                                                    the next: await that one */
            pthread_mutex_lock(&pool.mu);
            __atomic_add_fetch(&pool_sleepers, 1, __ATOMIC_SEQ_CST);
            while (__atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE) == seen &&
                   __atomic_load_n(&next_call_ns, __ATOMIC_SEQ_CST) == expected)
                pthread_cond_wait(&pool.cv, &pool.mu);
            __atomic_sub_fetch(&pool_sleepers, 1, __ATOMIC_ACQ_REL);
            pthread_mutex_unlock(&pool.mu);
            spins = SPIN_IDLE; /* a new expectation: straight to await_expected_call */
        }
        seen = g;
        if (!pool_join((uint32_t)g)) continue; /* too late: the caller finished without this thread */
        if (tid < pool.nt) {
            const int64_t start = now_ns();
            pool.fn(pool.arg, tid, pool.nt);
            pool.busy_ns[tid] = now_ns() - start;
        }
        __atomic_fetch_add(&pool.left, 1, __ATOMIC_ACQ_REL);
    }
    return 0;
}

/* fork: the forking thread takes both locks first, so that neither is copied into the child locked by a thread
 * that the child does not have (a pool thread on its way to sleep holds pool.mu; another Python thread's call
 * holds pool_owner: fork waits for that call to end).  The child starts with no pool threads. */
static void pool_before_fork(void) {
    pthread_mutex_lock(&pool_owner);
    pthread_mutex_lock(&pool.mu);
}
static void pool_after_fork_parent(void) {
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool_owner);
}
static void pool_after_fork_child(void) {
    pool.started = 0; pool.gen = 0; pool.join = 0; pool.left = 0; pool_sleepers = 0;
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool_owner);
}

static int pool_start(void) {
    static int atfork = 0;
    if (!atfork) { pthread_atfork(pool_before_fork, pool_after_fork_parent, pool_after_fork_child); atfork = 1; }
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

/* The threads later calls may use (rnnlab.config.get_num_threads, threadpoolctl). */
int rnnlab_get_threads(void) { return pool.want; }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Run fn(arg, tid, nt) for tid < nt on the pool (the caller is tid 0); nt is capped by the pool's size.
 * Returns the threads used.  *own_ns: how long the caller's own part took; *wait_ns: how much longer the slowest
 * other thread took over its part (both 0 on one thread).  Time a pool thread took to wake up is not counted: a
 * thread asleep after an idle spell starts late without having lost its core to anyone.
 *
 * dynamic: fn's threads claim the work as they come (forward.c's row split), so the caller may finish it alone.
 * Then the caller waits only for the pool threads that joined the task before its own part returned; a thread
 * that wakes later skips it.  Otherwise each tid < nt owns a share, and the caller waits for every thread. */
static int run_parallel(task_fn fn, void *arg, int nt, int dynamic, int64_t *own_ns, int64_t *wait_ns) {
    *own_ns = *wait_ns = 0;
    if (nt > 1 && pthread_mutex_trylock(&pool_owner) == 0) {
        int size = pool.started ? pool.started : pool_start();
        if (size > 1) {
            if (nt > size) nt = size;
            pool.fn = fn;
            pool.arg = arg;
            pool.nt = nt;
            for (int t = 0; t < nt; ++t) pool.busy_ns[t] = 0;
            __atomic_store_n(&pool.left, 0, __ATOMIC_RELAXED);
            const uint32_t g = (uint32_t)__atomic_load_n(&pool.gen, __ATOMIC_RELAXED) + 1;
            __atomic_store_n(&pool.join, (int64_t)g << 32, __ATOMIC_RELEASE);
            pthread_mutex_lock(&pool.mu);
            __atomic_store_n(&pool.gen, (int)g, __ATOMIC_RELEASE);
            pthread_cond_broadcast(&pool.cv);
            pthread_mutex_unlock(&pool.mu);
            const int64_t start = now_ns();
            fn(arg, 0, nt);
            const int64_t done = now_ns();
            int spins = 0;
            if (!dynamic) /* every thread has a share: wait until all have joined */
                while (JOIN_COUNT(__atomic_load_n(&pool.join, __ATOMIC_ACQUIRE)) < size - 1) {
                    cpu_relax();
                    if (++spins > 4096) { sched_yield(); spins = 0; } /* a late thread may need our core */
                }
            const int joined = JOIN_COUNT(__atomic_fetch_or(&pool.join, JOIN_CLOSED, __ATOMIC_ACQ_REL));
            while (__atomic_load_n(&pool.left, __ATOMIC_ACQUIRE) < joined) {
                cpu_relax();
                if (++spins > 4096) { sched_yield(); spins = 0; }
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

/* ------------------------------------------------------------------------------------ sharing a call's work */

/* Per-step multiply-adds (B x (D + M) x G*M) from which the work is shared among threads: below it one thread is
 * faster (measured: LSTM 1,100,32,64 (25k) 90 us on one thread, 100 us on two; 1,100,64,128 (98k) 300 us on one,
 * 210 us on two). */
#define THREAD_MIN_WORK (1 << 16)
#define ROW_SPLIT_MAX_BYTES (2 << 20)
static int split_test_mode = -1; /* tests: 0 units, 1 rows, -1 by size */

void rnnlab_test_split(int mode) { split_test_mode = mode; }

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

/* ------------------------------------------------------------------ one thread or several, by measured speed
 *
 * Whether a forward call's threads help depends on what else the process and the machine are doing: NumPy's BLAS
 * threads spinning after a product, another library's pool, a core asleep after an idle spell, other processes.
 * So automatic forward calls measure it: for each size of call (a power-of-two bucket of the work per step),
 * the nanoseconds per unit of work on one thread and on several, as moving averages.  A call runs the faster
 * mode; every PROBE_EVERY-th call of a bucket runs the other, so that a change of conditions is seen. */
#define SPEED_BUCKETS 64
#define PROBE_EVERY 16
static struct { float ns_per_unit[2]; unsigned calls; } speed[SPEED_BUCKETS]; /* [0] one thread, [1] several */

static int speed_bucket(int64_t work) {
    int b = 0;
    while (work > 1 && b < SPEED_BUCKETS - 1) { work >>= 1; ++b; }
    return b;
}

/* Several threads (1) or one (0) for an automatic call of `work` multiply-adds per step. */
static int speed_choice(int64_t work) {
    const int b = speed_bucket(work);
    const float one = speed[b].ns_per_unit[0], several = speed[b].ns_per_unit[1];
    const unsigned n = __atomic_add_fetch(&speed[b].calls, 1, __ATOMIC_RELAXED);
    if (several == 0.0f) return 1; /* not measured yet: several first, then one */
    if (one == 0.0f) return 0;
    const int best = several < one;
    return n % PROBE_EVERY == 0 ? !best : best;
}

/* Record how long an automatic call of `work` multiply-adds per step and `units` of work in all took. */
static void speed_record(int64_t work, int several, int64_t units, int64_t ns) {
    if (units <= 0) return;
    const int b = speed_bucket(work);
    const float rate = (float)ns / (float)units, old = speed[b].ns_per_unit[several];
    const float other = speed[b].ns_per_unit[!several];
    /* a call 20% faster than the other mode's average counts whole: after conditions change (a stream's threads now
     * woken ahead, another library gone quiet), one probe is enough to switch, instead of several blended in */
    const int whole = old == 0.0f || (rate < 0.8f * other && rate < old);
    speed[b].ns_per_unit[several] = whole ? rate : 0.75f * old + 0.25f * rate;
}

#endif /* RNNLAB_POOL_H */
