/* Walking the chain: the scanner hands out frames, a pool of threads does
 * each record's independent work (decoding, hashing and, for verification,
 * the Ed25519 check), and then the fold runs over the batch in order.  The
 * rebuild of the head state and verification are the same walk at two
 * depths; memory stays at a window and a batch whatever the chain's length. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define WINDOW (8u << 20)
/* Below this many bytes to read, threads cost more than they save. */
#define THREADS_FROM (1u << 20)

typedef struct vpool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    fold_in *batch;
    size_t n;
    atomic_size_t next;
    unsigned busy;       /* workers still on the current batch */
    uint64_t generation; /* bumped per batch */
    bool stop;
    pthread_t *threads;
    unsigned nthreads;    /* helpers, besides the calling thread */
    size_t scratch_size;  /* for canonical bytes: the largest frame possible */
    bool check_sig;
} vpool;

static void run_batch(vpool *p, ac_hasher *h, uint8_t *scratch)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 8);
        if (i >= p->n)
            return;
        size_t end = i + 8 < p->n ? i + 8 : p->n;
        for (; i < end; i++)
            fold_prepare(&p->batch[i], h, scratch, p->check_sig);
    }
}

static void *worker(void *arg)
{
    vpool *p = arg;
    ac_hasher *h = hasher_new();
    uint8_t *scratch = malloc(p->scratch_size);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        if (h != NULL && scratch != NULL)
            run_batch(p, h, scratch); /* without them the caller does the work */
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    hasher_free(h);
    free(scratch);
    return NULL;
}

static void pool_stop(vpool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
}

static int pool_start(vpool *p, unsigned helpers, size_t scratch_size, bool check_sig)
{
    memset(p, 0, sizeof *p);
    p->scratch_size = scratch_size;
    p->check_sig = check_sig;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return -1;
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc(helpers ? helpers : 1, sizeof *p->threads);
    if (p->threads == NULL) {
        pool_stop(p);
        return -1;
    }
    for (; p->nthreads < helpers; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
            break; /* fewer helpers is slower, not wrong */
    return 0;
}

/* Checks a batch with every thread, the caller's included. */
static void pool_run(vpool *p, fold_in *batch, size_t n, ac_hasher *h, uint8_t *scratch)
{
    pthread_mutex_lock(&p->mu);
    p->batch = batch;
    p->n = n;
    atomic_store(&p->next, 0);
    p->busy = p->nthreads;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    run_batch(p, h, scratch);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* ---------------------------------------------------------------- the walk */

static unsigned thread_count(unsigned want)
{
    if (want == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        want = n > 0 ? (unsigned)n : 1;
    }
    return want > 256 ? 256 : want;
}

typedef struct walker {
    fold *f;
    const walk_opts *o;
    walk_end *end;
    vpool pool;
    bool pooled;
    ac_hasher *hasher;
    uint8_t *scratch;
    fold_in *batch;
    size_t cap;
    bool stop;
    int rc;
} walker;

/* Prepares a batch (in parallel when pooled), then folds it in order. */
static void flush(walker *w, size_t n)
{
    if (w->pooled)
        pool_run(&w->pool, w->batch, n, w->hasher, w->scratch);
    else
        for (size_t i = 0; i < n; i++)
            fold_prepare(&w->batch[i], w->hasher, w->scratch, w->o->check_sig);
    for (size_t i = 0; i < n && !w->stop; i++) {
        fold_in *in = &w->batch[i];
        const char *detail;
        ac_reason reason = fold_step(w->f, in, &detail, &w->rc);
        if (w->rc != AC_OK) {
            w->stop = true;
        } else if (reason != AC_REASON_NONE) {
            *w->end = (walk_end){.kind = WALK_FAILED, .reason = reason, .detail = detail,
                                 .index = w->f->st.record_count, .off = in->off};
            w->stop = true;
        } else {
            if (w->o->each != NULL && w->o->each(w->o->ctx, in) != 0) {
                *w->end = (walk_end){.kind = WALK_STOPPED, .index = in->rec.chain_index + 1};
                w->stop = true;
            } else if (in->rec.chain_index == w->o->end) {
                *w->end = (walk_end){.kind = WALK_RANGE_DONE, .index = w->o->end + 1};
                w->stop = true;
            }
        }
    }
    if (w->o->progress)
        w->o->progress(w->o->ctx, w->f->st.record_count);
}

static int walk_frames(ac_chain *c, walker *w, uint64_t size, ac_error *err)
{
    scanner s;
    fold *f = w->f;
    int rc = scan_init(&s, c->fd, c->dir, f->st.chain_size, f->st.record_count, size, WINDOW, err);
    size_t n = 0;
    while (rc == AC_OK && !w->stop) {
        scan_frame fr;
        int st = scan_next(&s, &fr, err);
        if (st == SCAN_FRAME) {
            w->batch[n] = (fold_in){.off = fr.off, .body = fr.body, .len = fr.len};
            /* Stop at the range's end: no work on records not asked for. */
            if (++n == w->cap || fr.index == w->o->end) {
                flush(w, n);
                n = 0;
            }
            continue;
        }
        /* What came before the window's end or the tail. */
        flush(w, n);
        n = 0;
        if (st < 0) {
            rc = st;
        } else if (w->stop || st == SCAN_FLUSH) {
            continue;
        } else {
            *w->end = (walk_end){.kind = st, .index = fr.index, .off = fr.off,
                                 .tail_len = fr.tail_len};
            if (st == SCAN_DAMAGED)
                *w->end = (walk_end){.kind = WALK_FAILED, .reason = AC_REASON_FRAME,
                                     .detail = fr.what, .index = fr.index, .off = fr.off};
            break;
        }
    }
    scan_free(&s);
    if (rc == AC_OK && w->rc != AC_OK)
        rc = ac_fail(err, w->rc, -1, "out of memory");
    return rc;
}

int chain_walk(ac_chain *c, fold *f, uint64_t size, const walk_opts *o, walk_end *end,
               ac_error *err)
{
    *end = (walk_end){.kind = SCAN_END, .index = f->st.record_count, .off = f->st.chain_size};
    if (c->fd < 0 || size <= f->st.chain_size)
        return AC_OK;
    walker w = {.f = f, .o = o, .end = end};
    uint64_t span = size - f->st.chain_size;
    /* Buffers to the span: no frame is larger, and a batch need not hold
     * more frames than it could. */
    size_t scratch = span < AC_MAX_RECORD_SIZE ? (size_t)span + 1 : AC_MAX_RECORD_SIZE;
    w.cap = span / 64 < 16 ? 16 : span / 64 > (1u << 14) ? 1u << 14 : (size_t)(span / 64);
    unsigned threads = span < THREADS_FROM ? 1 : thread_count(o->threads);
    w.batch = calloc(w.cap, sizeof *w.batch);
    w.scratch = malloc(scratch);
    w.hasher = hasher_new();
    int rc = AC_OK;
    if (!w.batch || !w.scratch || !w.hasher)
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    else if (threads > 1 && pool_start(&w.pool, threads - 1, scratch, o->check_sig) == 0)
        w.pooled = true; /* without the pool the caller's thread does it all */
    if (rc == AC_OK)
        rc = walk_frames(c, &w, size, err);
    if (w.pooled)
        pool_stop(&w.pool);
    free(w.batch);
    free(w.scratch);
    hasher_free(w.hasher);
    return rc;
}

int walk_prepare(fold_in *batch, size_t n, unsigned threads, bool check_sig)
{
    ac_hasher *h = hasher_new();
    uint8_t *scratch = malloc(AC_MAX_RECORD_SIZE);
    int rc = h && scratch ? AC_OK : AC_ENOMEM;
    vpool pool;
    threads = thread_count(threads);
    if (rc == AC_OK && threads > 1 && n >= 64 &&
        pool_start(&pool, threads - 1, AC_MAX_RECORD_SIZE, check_sig) == 0) {
        pool_run(&pool, batch, n, h, scratch);
        pool_stop(&pool);
    } else if (rc == AC_OK) {
        for (size_t i = 0; i < n; i++)
            fold_prepare(&batch[i], h, scratch, check_sig);
    }
    hasher_free(h);
    free(scratch);
    return rc;
}
