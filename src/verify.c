/* Verification (format section 8).  chain.bin is read in large windows; the
 * expensive, independent work of each record (decoding, hashing, the Ed25519
 * check) is shared among threads, and the order-dependent checks (index,
 * link, authorization) then run over the window in order.  Memory stays at a
 * few windows whatever the chain's length. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"

#define WINDOW (8u << 20)
#define MAX_WARNINGS 1000

struct ac_report {
    int valid;
    uint64_t records;
    bool has_chain_id, has_head;
    uint8_t chain_id[AC_HASH_SIZE];
    uint8_t head_hash[AC_HASH_SIZE];
    int64_t fail_index;
    ac_reason reason;
    char detail[256];
    ac_warning *warnings;
    size_t nwarn;
    uint64_t total_warn;
};

/* One frame of the window and what the workers found. */
typedef struct vrec {
    uint64_t off;
    const uint8_t *body;
    uint32_t len;
    bool decoded, sig_ok;
    int rotation; /* rec_rotation's answer */
    const char *why;
    ac_rec rec;
    uint8_t hash[AC_HASH_SIZE];
    uint8_t new_key[AC_PUBKEY_SIZE];
    uint8_t chain_id[AC_HASH_SIZE]; /* record 0 only */
} vrec;

typedef struct vpool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    vrec *batch;
    size_t n;
    atomic_size_t next;
    unsigned busy;       /* workers still on the current batch */
    uint64_t generation; /* bumped per batch */
    bool stop;
    pthread_t *threads;
    unsigned nthreads;    /* helpers, besides the calling thread */
    size_t scratch_size;  /* for canonical bytes: the largest frame possible */
} vpool;

/* ---------------------------------------------------------------- per-record work */

static void check_one(vrec *v, ac_hasher *h, uint8_t *scratch)
{
    v->decoded = rec_decode(v->body, v->len, &v->rec, &v->why) == 0;
    if (!v->decoded)
        return;
    if (hasher_digest(h, v->body, v->len, v->hash) != AC_OK)
        memset(v->hash, 0, sizeof v->hash); /* cannot match: reported as a link failure */
    size_t clen = rec_canonical(v->body, v->len, &v->rec, scratch);
    if (v->rec.chain_index == 0 && hasher_digest(h, scratch, clen, v->chain_id) != AC_OK)
        memset(v->chain_id, 0, sizeof v->chain_id);
    /* libsodium rejects a non-canonical S and small-order keys and R. */
    v->sig_ok = crypto_sign_verify_detached(v->rec.signature, scratch, clen, v->rec.signer) == 0;
    v->rotation = rec_rotation(&v->rec, v->new_key);
}

static void run_batch(vpool *p, ac_hasher *h, uint8_t *scratch)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 8);
        if (i >= p->n)
            return;
        size_t end = i + 8 < p->n ? i + 8 : p->n;
        for (; i < end; i++)
            check_one(&p->batch[i], h, scratch);
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

static int pool_start(vpool *p, unsigned helpers, size_t scratch_size)
{
    memset(p, 0, sizeof *p);
    p->scratch_size = scratch_size;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return -1;
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc(helpers ? helpers : 1, sizeof *p->threads);
    if (p->threads == NULL)
        return pool_stop(p), -1;
    for (; p->nthreads < helpers; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
            break; /* fewer helpers is slower, not wrong */
    return 0;
}

/* Checks a batch with every thread, the caller's included. */
static void pool_run(vpool *p, vrec *batch, size_t n, ac_hasher *h, uint8_t *scratch)
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

/* ---------------------------------------------------------------- ordered checks */

typedef struct vstate {
    ac_report *rep;
    uint64_t expect;       /* index of the next record */
    uint64_t end;          /* last index to check */
    bool have_prev;
    uint8_t prev_hash[AC_HASH_SIZE];
    bool have_signer;
    uint8_t signer[AC_PUBKEY_SIZE]; /* all zeros: nobody (rotated to a retired key) */
    key_set retired;
    witness_view prev_wit;
    bool have_prev_wit;
    bool stop;
    bool nomem;
} vstate;

static void warn(ac_report *rep, ac_warning w)
{
    rep->total_warn++;
    if (rep->nwarn < MAX_WARNINGS)
        rep->warnings[rep->nwarn++] = w;
}

static void fail(vstate *vs, ac_reason reason, const char *detail)
{
    ac_report *rep = vs->rep;
    rep->valid = 0;
    rep->fail_index = (int64_t)vs->expect;
    rep->reason = reason;
    snprintf(rep->detail, sizeof rep->detail, "record %llu: %s", (unsigned long long)vs->expect,
             detail);
    vs->stop = true;
}

/* A signed difference as sign and magnitude: exact for any two uint64. */
typedef struct smag {
    bool neg;
    uint64_t mag;
} smag;

static smag sdiff(uint64_t a, uint64_t b)
{
    return a >= b ? (smag){false, a - b} : (smag){true, b - a};
}

/* Whether the claimed clock and the uptime moved apart between two records
 * of one boot by more than 1 s + 0.1 % of the uptime's move (section 5):
 * |(c2 - c1) - (u2 - u1)|, computed exactly whatever a hostile chain holds
 * (a sum past 2^64 only saturates, far above any limit). */
static bool clock_disagrees(uint64_t c1, uint64_t c2, uint64_t u1, uint64_t u2, int64_t *delta)
{
    smag dc = sdiff(c2, c1), du = sdiff(u2, u1), d;
    if (dc.neg != du.neg)
        d = (smag){dc.neg, dc.mag > UINT64_MAX - du.mag ? UINT64_MAX : dc.mag + du.mag};
    else
        d = dc.mag >= du.mag ? (smag){dc.neg, dc.mag - du.mag} : (smag){!dc.neg, du.mag - dc.mag};
    int64_t m = d.mag > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d.mag;
    *delta = d.neg ? -m : m;
    return d.mag > 1000000u + du.mag / 1000u;
}

static void check_witnesses(vstate *vs, const vrec *v)
{
    witness_view w;
    witness_read(&v->rec, &w);
    ac_warning base = {.index = (int64_t)v->rec.chain_index, .offset = v->off};
    if (w.has_chain_size && w.chain_size != v->off) {
        ac_warning x = base;
        x.code = AC_WARN_CHAIN_SIZE;
        x.bytes = w.chain_size;
        warn(vs->rep, x);
    }
    const witness_view *p = &vs->prev_wit;
    if (vs->have_prev_wit) {
        ac_warning x = base;
        x.code = AC_WARN_CLOCK;
        bool same_boot = w.has_boot_id && p->has_boot_id && w.has_uptime && p->has_uptime &&
                         memcmp(w.boot_id, p->boot_id, 16) == 0;
        if (w.claimed_ts < p->claimed_ts) {
            uint64_t back = p->claimed_ts - w.claimed_ts;
            x.delta_us = back > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)back;
            warn(vs->rep, x);
        } else if (same_boot && clock_disagrees(p->claimed_ts, w.claimed_ts, p->uptime_us,
                                                w.uptime_us, &x.delta_us)) {
            warn(vs->rep, x);
        }
    }
    vs->prev_wit = w;
    vs->have_prev_wit = true;
}

/* The checks of section 8 in the table's order: the first reason wins. */
static void check_ordered(vstate *vs, const vrec *v)
{
    static const uint8_t zero[AC_HASH_SIZE];
    if (!v->decoded)
        return fail(vs, AC_REASON_DECODE, v->why ? v->why : "does not decode");
    if (v->rec.chain_index != vs->expect)
        return fail(vs, AC_REASON_INDEX, "chain_index is not its position");
    if (vs->expect == 0 && memcmp(v->rec.prev_hash, zero, AC_HASH_SIZE) != 0)
        return fail(vs, AC_REASON_GENESIS, "record 0 has a non-zero prev_hash");
    if (vs->expect > 0 && memcmp(v->rec.prev_hash, vs->prev_hash, AC_HASH_SIZE) != 0)
        return fail(vs, AC_REASON_LINK, "prev_hash is not the hash of the record before it");
    if (!v->sig_ok)
        return fail(vs, AC_REASON_SIGNATURE, "signature does not verify");
    if (!vs->have_signer) {
        memcpy(vs->signer, v->rec.signer, AC_PUBKEY_SIZE);
        vs->have_signer = true;
    }
    if (memcmp(v->rec.signer, vs->signer, AC_PUBKEY_SIZE) != 0)
        return fail(vs, AC_REASON_UNAUTHORIZED, "signed by a key not authorized here");
    if (v->rotation < 0)
        return fail(vs, AC_REASON_ROTATION, "malformed key rotation");
    if (v->rotation > 0 && authority_rotate(&vs->retired, vs->signer, v->new_key) != AC_OK) {
        vs->nomem = true;
        vs->stop = true;
        return;
    }
    memcpy(vs->prev_hash, v->hash, AC_HASH_SIZE);
    check_witnesses(vs, v);
    if (vs->expect == 0) {
        memcpy(vs->rep->chain_id, v->chain_id, AC_HASH_SIZE);
        vs->rep->has_chain_id = true;
    }
    memcpy(vs->rep->head_hash, v->hash, AC_HASH_SIZE);
    vs->rep->has_head = true;
    vs->rep->records++;
    if (vs->expect++ == vs->end)
        vs->stop = true;
}

/* ---------------------------------------------------------------- driver */

typedef struct vctx {
    ac_chain *c;
    vstate vs;
    vpool pool;
    ac_hasher *hasher;
    uint8_t *scratch;
    vrec *batch;
    size_t cap;
    const ac_verify_options *opt;
    uint64_t total; /* records expected, for progress */
    uint64_t size;  /* bytes of chain.bin verified */
} vctx;

/* Section 7: an incomplete last frame is a torn tail unless a record starts
 * inside it, which makes it a damaged length prefix. */
static int tail(vctx *x, uint64_t off, uint64_t size, ac_error *err)
{
    uint8_t *buf;
    if (read_span(x->c->fd, off, size, &buf) != 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": read failed", x->c->dir);
    bool inside = frame_record_inside(buf, (size_t)(size - off));
    free(buf);
    if (inside) {
        fail(&x->vs, AC_REASON_FRAME, "length prefix runs past the end of the file");
    } else {
        ac_warning w = {.code = AC_WARN_TORN_TAIL, .index = -1, .offset = off, .bytes = size - off};
        warn(x->vs.rep, w);
    }
    return AC_OK;
}

static int flush(vctx *x, size_t n)
{
    pool_run(&x->pool, x->batch, n, x->hasher, x->scratch);
    for (size_t i = 0; i < n && !x->vs.stop; i++)
        check_ordered(&x->vs, &x->batch[i]);
    if (x->opt->progress)
        x->opt->progress(x->opt->progress_ctx, x->vs.expect, x->total);
    return AC_OK;
}

static int scan(vctx *x, uint64_t start_off, uint64_t size, ac_error *err)
{
    frame_win w;
    if (fwin_init(&w, x->c->fd, start_off, size, WINDOW) != 0)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    size_t n = 0;
    int rc = AC_OK;
    while (rc == AC_OK && !x->vs.stop) {
        vrec *v = &x->batch[n];
        fwin_status s = fwin_next(&w, &v->off, &v->body, &v->len);
        if (s == FW_FRAME) {
            /* Stop at the range's end: no work on records not asked for. */
            if (++n == x->cap || x->vs.expect + n > x->vs.end) {
                rc = flush(x, n);
                n = 0;
            }
            continue;
        }
        uint64_t at = v->off;
        rc = flush(x, n); /* what came before the window's end or the damage */
        n = 0;
        if (x->vs.stop || rc != AC_OK)
            break;
        if (s == FW_REFILL) {
            if (fwin_refill(&w) != 0)
                rc = ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": read failed", x->c->dir);
            continue;
        }
        if (s == FW_BAD_LEN)
            fail(&x->vs, AC_REASON_FRAME, "length prefix is 0 or over 1048576");
        else if (s == FW_TORN)
            rc = tail(x, at, size, err);
        break;
    }
    fwin_free(&w);
    return rc;
}

static unsigned thread_count(const ac_chain *c, const ac_verify_options *opt)
{
    unsigned t = opt->threads ? opt->threads : c->threads;
    if (t == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        t = n > 0 ? (unsigned)n : 1;
    }
    return t > 256 ? 256 : t;
}

void ac_verify_options_init(ac_verify_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->end = UINT64_MAX;
}

/* Where a range starting after 0 begins: the authorized key and the hash of
 * the record before it come from the history before it. */
static int start_point(vctx *x, uint64_t start, uint64_t *off, ac_error *err)
{
    *off = 0;
    if (start == 0)
        return AC_OK;
    int rc = state_history(x->c, start, x->vs.signer, x->vs.prev_hash, off, &x->vs.retired, err);
    x->vs.have_signer = x->vs.have_prev = rc == AC_OK;
    return rc;
}

static int run(vctx *x, ac_error *err)
{
    ac_chain *c = x->c;
    /* The size the buffers were made for: frames appended meanwhile wait
     * for the next verification. */
    uint64_t size = x->size, start = x->opt->start;
    int rc = state_sync(c, false, NULL); /* damage is for the scan below to report */
    if (x->opt->end < start)
        return ac_fail(err, AC_EINVAL, -1, "%s: range ends before it starts", c->dir);
    x->vs.expect = start;
    x->vs.end = x->opt->end;
    /* For progress only, counted from record 0 like `done`: the range's end,
     * or the records the state knows of (damage aside). */
    x->total = x->opt->end < c->st.record_count ? x->opt->end + 1 : c->st.record_count;
    uint64_t off;
    if ((rc = start_point(x, start, &off, err)) != AC_OK)
        return rc;
    if (start > 0 && off >= size)
        return ac_fail(err, AC_EINVAL, (int64_t)start, "%s: no record %llu (the chain has %llu)",
                       c->dir, (unsigned long long)start, (unsigned long long)start);
    if (size == 0 || c->fd < 0)
        return AC_OK;
    return scan(x, off, size, err);
}

int ac_verify(ac_chain *c, const ac_verify_options *opt_in, ac_report **out, ac_error *err)
{
    *out = NULL;
    ac_verify_options defaults;
    ac_verify_options_init(&defaults);
    vctx x = {.c = c, .opt = opt_in ? opt_in : &defaults};
    /* Buffers to the chain's size: no frame is larger than the file, and a
     * batch need not hold more frames than the file could. */
    uint64_t size = 0;
    int rc = chain_open_file(c, false, err);
    if (rc == AC_OK)
        rc = chain_file_size(c, &size, err);
    if (rc != AC_OK)
        return rc;
    x.size = size;
    size_t scratch = size < AC_MAX_RECORD_SIZE ? (size_t)size + 1 : AC_MAX_RECORD_SIZE;
    x.cap = size / 64 < 16 ? 16 : size / 64 > (1u << 14) ? 1u << 14 : (size_t)(size / 64);
    ac_report *rep = calloc(1, sizeof *rep);
    x.batch = calloc(x.cap, sizeof *x.batch);
    x.scratch = malloc(scratch);
    x.hasher = hasher_new();
    if (rep)
        rep->warnings = calloc(MAX_WARNINGS, sizeof *rep->warnings);
    if (!rep || !rep->warnings || !x.batch || !x.scratch || !x.hasher ||
        pool_start(&x.pool, thread_count(c, x.opt) - 1, scratch) != 0)
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (rc == AC_OK) {
        rep->valid = 1;
        rep->fail_index = -1;
        x.vs.rep = rep;
        rc = run(&x, err);
        if (rc == AC_OK && x.vs.nomem)
            rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
        pool_stop(&x.pool);
        key_set_free(&x.vs.retired);
    }
    free(x.batch);
    free(x.scratch);
    hasher_free(x.hasher);
    if (rc != AC_OK) {
        ac_report_free(rep);
        return rc;
    }
    *out = rep;
    return AC_OK;
}

void ac_report_free(ac_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->warnings);
    free(rep);
}

int ac_report_valid(const ac_report *r) { return r->valid; }
uint64_t ac_report_records(const ac_report *r) { return r->records; }
int64_t ac_report_fail_index(const ac_report *r) { return r->fail_index; }
ac_reason ac_report_reason(const ac_report *r) { return r->reason; }
const char *ac_report_detail(const ac_report *r) { return r->detail; }
size_t ac_report_warning_count(const ac_report *r) { return r->nwarn; }
uint64_t ac_report_warnings_total(const ac_report *r) { return r->total_warn; }

const uint8_t *ac_report_chain_id(const ac_report *r)
{
    return r->has_chain_id ? r->chain_id : NULL;
}

const uint8_t *ac_report_last_hash(const ac_report *r)
{
    return r->has_head ? r->head_hash : NULL;
}

const ac_warning *ac_report_warning(const ac_report *r, size_t i)
{
    return i < r->nwarn ? &r->warnings[i] : NULL;
}
