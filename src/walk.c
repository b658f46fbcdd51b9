/* Walking the chain: the scanner hands out frames, a pool of threads does
 * each record's independent work (decoding, hashing and, for verification,
 * the Ed25519 check), and then the fold runs over the batch in order.  The
 * rebuild of the head state and verification are the same walk at two
 * depths; memory stays at two windows and two batches whatever the chain's
 * length.
 *
 * Decision: a pipeline.  While the helpers prepare one batch, this thread
 * folds the batch before it and scans the next; the scanner's second buffer
 * keeps the posted batch's bodies in place meanwhile.  The serial work (the
 * scan, the fold) then hides behind the parallel work instead of leaving
 * the other cores idle. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WINDOW (2u << 20) /* each of the scanner's two buffers */

typedef struct batch {
    fold_in *in;
    size_t n;
    bool check_sig;
} batch;

typedef struct walker {
    fold *f;
    const walk_opts *o;
    walk_end *end;
    pool *pool;
    ac_hasher *hasher;
    uint8_t *scratch;
    batch b[2];  /* the one being filled (b[fill]) and the one posted */
    int fill;
    bool posted; /* b[!fill] is in the pool's hands */
    size_t cap;
    bool stop;
    int rc;
} walker;

static void prepare_item(void *ctx, size_t i, ac_hasher *h, uint8_t *scratch)
{
    batch *b = ctx;
    fold_prepare(&b->in[i], h, scratch, b->check_sig);
}

/* Helps prepare the posted batch, then folds it in order. */
static void fold_posted(walker *w)
{
    if (!w->posted)
        return;
    batch *b = &w->b[!w->fill];
    pool_finish(w->pool, w->hasher, w->scratch);
    w->posted = false;
    for (size_t i = 0; i < b->n && !w->stop; i++) {
        fold_in *in = &b->in[i];
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

/* The pipeline's step: the batch posted before is folded, and the one just
 * filled posted, so that the helpers prepare it while this thread scans the
 * next frames (whose window the scanner keeps apart: double-buffered). */
static void hand_over(walker *w)
{
    fold_posted(w);
    batch *b = &w->b[w->fill];
    if (w->stop || b->n == 0) {
        b->n = 0;
        return;
    }
    pool_post(w->pool, prepare_item, b, b->n, 8);
    w->posted = true;
    w->fill = !w->fill;
    w->b[w->fill].n = 0;
}

/* Everything scanned, folded. */
static void drain(walker *w)
{
    hand_over(w);
    fold_posted(w);
}

static int walk_frames(ac_chain *c, walker *w, uint64_t size, ac_error *err)
{
    scanner s;
    fold *f = w->f;
    int rc = scan_init(&s, c->fd, c->dir, f->st.chain_size, f->st.record_count, size, WINDOW, err);
    if (rc == AC_OK && fwin_double(&s.w) != 0)
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    while (rc == AC_OK && !w->stop) {
        scan_frame fr;
        int st = scan_next(&s, &fr, err);
        if (st == SCAN_FRAME) {
            batch *b = &w->b[w->fill];
            b->in[b->n++] = (fold_in){.off = fr.off, .body = fr.body, .len = fr.len};
            /* Stop at the range's end: no work on records not asked for. */
            if (fr.index == w->o->end)
                drain(w);
            else if (b->n == w->cap)
                hand_over(w);
            continue;
        }
        if (st == SCAN_FLUSH) {
            hand_over(w);
            continue;
        }
        /* What came before the tail or the error. */
        drain(w);
        if (st < 0) {
            rc = st;
        } else if (!w->stop) {
            *w->end = (walk_end){.kind = st, .index = fr.index, .off = fr.off,
                                 .tail_len = fr.tail_len};
            if (st == SCAN_DAMAGED)
                *w->end = (walk_end){.kind = WALK_FAILED, .reason = AC_REASON_FRAME,
                                     .detail = fr.what, .index = fr.index, .off = fr.off};
            break;
        }
    }
    fold_posted(w); /* no helper may be left on a buffer about to go */
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
    w.cap = span / 64 < 16 ? 16 : span / 64 > 4096 ? 4096 : (size_t)(span / 64);
    for (int i = 0; i < 2; i++)
        w.b[i] = (batch){.in = calloc(w.cap, sizeof(fold_in)), .check_sig = o->check_sig};
    w.scratch = malloc(scratch);
    w.hasher = hasher_new();
    w.pool = pool_new(span < POOL_THREADS_FROM ? 1 : o->threads);
    int rc = AC_OK;
    if (!w.b[0].in || !w.b[1].in || !w.scratch || !w.hasher || !w.pool)
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (rc == AC_OK)
        rc = walk_frames(c, &w, size, err);
    pool_free(w.pool);
    free(w.b[0].in);
    free(w.b[1].in);
    free(w.scratch);
    hasher_free(w.hasher);
    return rc;
}

int walk_prepare(fold_in *in, size_t n, unsigned threads, bool check_sig)
{
    batch b = {.in = in, .n = n, .check_sig = check_sig};
    ac_hasher *h = hasher_new();
    uint8_t *scratch = malloc(AC_MAX_RECORD_SIZE);
    pool *p = pool_new(n >= 64 ? threads : 1);
    int rc = h && scratch && p ? AC_OK : AC_ENOMEM;
    if (rc == AC_OK)
        pool_run(p, prepare_item, &b, n, 8, h, scratch);
    pool_free(p);
    hasher_free(h);
    free(scratch);
    return rc;
}
