/* The threads that share a batch of independent work: decoding, hashing and
 * checking the records of a walk (walk.c), hashing the leaves of the tree
 * (tree.c).
 *
 * Decision: the caller posts a batch and goes on with its own serial work
 * (scanning the next window, folding the batch before) while the helpers
 * start on it, then joins in and waits.  So a walk keeps every core busy
 * without a second copy of its frames: the batch's bodies stay in the
 * window they were read into.  Items are taken a few at a time (as many as
 * make the counter's cost small beside theirs) from one atomic counter, so
 * a slow item never holds the others back. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pool_fn fn;
    void *ctx;
    size_t n, take;
    atomic_size_t next;
    unsigned busy;       /* helpers still on the current batch */
    uint64_t generation; /* bumped per batch */
    bool stop, posted;
    pthread_t *threads;
    unsigned helpers;
};

static void run_items(pool *p, ac_hasher *h, uint8_t *scratch)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, p->take);
        if (i >= p->n)
            return;
        size_t end = p->n - i > p->take ? i + p->take : p->n;
        for (; i < end; i++)
            p->fn(p->ctx, i, h, scratch);
    }
}

static void *helper(void *arg)
{
    pool *p = arg;
    ac_hasher *h = hasher_new();
    uint8_t *scratch = malloc(AC_MAX_RECORD_SIZE);
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
            run_items(p, h, scratch); /* without them the others do the work */
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    hasher_free(h);
    free(scratch);
    return NULL;
}

static unsigned pool_threads(unsigned want)
{
    if (want == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        want = n > 0 ? (unsigned)n : 1;
    }
    return want > POOL_MAX_THREADS ? POOL_MAX_THREADS : want;
}

pool *pool_new(unsigned threads)
{
    pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    unsigned want = pool_threads(threads) - 1;
    bool mu = pthread_mutex_init(&p->mu, NULL) == 0;
    bool work = mu && pthread_cond_init(&p->work, NULL) == 0;
    bool done = work && pthread_cond_init(&p->done, NULL) == 0;
    if (!done) {
        if (work)
            pthread_cond_destroy(&p->work);
        if (mu)
            pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    p->threads = want > 0 ? calloc(want, sizeof *p->threads) : NULL;
    for (; p->threads != NULL && p->helpers < want; p->helpers++)
        if (pthread_create(&p->threads[p->helpers], NULL, helper, p) != 0)
            break; /* fewer helpers is slower, not wrong */
    return p;
}

void pool_free(pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->helpers; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
}

void pool_post(pool *p, pool_fn fn, void *ctx, size_t n, size_t take)
{
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->take = take > 0 ? take : 1;
    atomic_store(&p->next, 0);
    p->posted = true;
    if (p->helpers > 0 && n > p->take) { /* one take is the caller's alone */
        p->busy = p->helpers;
        p->generation++;
        pthread_cond_broadcast(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
}

void pool_finish(pool *p, ac_hasher *h, uint8_t *scratch)
{
    if (!p->posted)
        return;
    run_items(p, h, scratch);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    p->posted = false;
    pthread_mutex_unlock(&p->mu);
}

void pool_run(pool *p, pool_fn fn, void *ctx, size_t n, size_t take, ac_hasher *h,
              uint8_t *scratch)
{
    pool_post(p, fn, ctx, n, take);
    pool_finish(p, h, scratch);
}
