/* Finding the records of some content: "was this file attested, when, by
 * whom?".  One walk of the chain (walk.c, at the depth of a rebuild), with no
 * cache to trust or keep valid: each record is decoded and hashed anyway, on
 * every core, and the fold follows its index, its link and the signing
 * authority at a compare each; only the records reported (and the rare
 * rotations, which move the authority) pay for an Ed25519 check.  So a
 * record reported is one that verification accepts as far as the scan
 * reached it: in place, linked to every record before it, signed by the key
 * authorized there (format section 8; section 6: a record shown to a user
 * has its own signature, chain_index and link checked). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PROGRESS_EVERY 4096u /* records between progress calls */

/* A wanted hash and its position in the caller's array, sorted by hash. */
typedef struct wanted {
    uint8_t hash[AC_HASH_SIZE];
    size_t which;
} wanted;

static int wanted_cmp(const void *a, const void *b)
{
    const wanted *x = a, *y = b;
    int c = memcmp(x->hash, y->hash, AC_HASH_SIZE);
    if (c != 0)
        return c;
    return x->which < y->which ? -1 : x->which > y->which;
}

/* The first of the wanted entries with this hash, or NULL. */
static const wanted *wanted_find(const wanted *w, size_t n, const uint8_t hash[AC_HASH_SIZE])
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(w[mid].hash, hash, AC_HASH_SIZE) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && memcmp(w[lo].hash, hash, AC_HASH_SIZE) == 0 ? &w[lo] : NULL;
}

/* What the walk's callback needs. */
typedef struct finder {
    ac_chain *c;
    fold *f;
    const wanted *w;
    size_t n;
    ac_find_fn found;
    void *ctx;
    ac_progress_fn progress;
    void *progress_ctx;
    uint64_t total;
    int rc;       /* AC_OK, or why the walk stopped */
    ac_error *err;
} finder;

/* After each record the fold accepted (its index, link, signer and any
 * rotation checked): a wanted one has its own signature checked, then goes
 * to the caller. */
static int on_record(void *ctx, const fold_in *in)
{
    finder *x = ctx;
    const wanted *hit = wanted_find(x->w, x->n, in->rec.content_hash);
    if (hit == NULL)
        return 0;
    uint64_t i = in->rec.chain_index;
    int sig = in->sig >= 0 ? in->sig : fold_check_sig(x->f, in->body, in->len, &in->rec,
                                                      in->rec.signer);
    if (sig != 1) {
        x->rc = sig < 0 ? ac_fail(x->err, AC_ENOMEM, -1, "out of memory")
                        : ac_fail(x->err, AC_ECORRUPT, (int64_t)i, "%s/" AC_CHAIN_FILE
                                  ": record %llu: its signature does not verify; run verify",
                                  x->c->dir, (unsigned long long)i);
        return 1;
    }
    ac_record *rec;
    const char *why = "";
    if (record_new(in->body, in->len, in->off, in->hash, &rec, &why) != AC_OK) {
        x->rc = ac_fail(x->err, AC_ENOMEM, (int64_t)i, "out of memory");
        return 1;
    }
    int stop = 0;
    for (; hit < x->w + x->n && memcmp(hit->hash, in->rec.content_hash, AC_HASH_SIZE) == 0; hit++)
        if (x->found(x->ctx, hit->which, rec) != 0) {
            stop = 1; /* the caller has seen enough */
            break;
        }
    ac_record_free(rec);
    return stop;
}

static void on_progress(void *ctx, uint64_t next_index)
{
    finder *x = ctx;
    if (x->progress != NULL)
        x->progress(x->progress_ctx, next_index, x->total);
}

/* One walk of the chain from record 0, at the rebuild's depth. */
static int find_walk(finder *x, ac_error *err)
{
    ac_chain *c = x->c;
    int rc = state_sync(c, NULL); /* damage is for the walk to meet */
    if (rc != AC_OK && rc != AC_ECORRUPT)
        return state_sync(c, err);
    if (c->fd < 0 || c->seen_size == 0)
        return AC_OK; /* an empty chain holds nothing */
    fold f;
    fold_init(&f);
    x->f = &f;
    x->total = c->damaged ? c->damage_index + 1 : c->f.st.record_count;
    walk_opts o = {.end = UINT64_MAX, .threads = 0, .each = on_record,
                   .progress = on_progress, .ctx = x};
    walk_end e;
    rc = chain_walk(c, &f, c->seen_size, &o, &e, err);
    if (rc == AC_OK && x->rc != AC_OK)
        rc = x->rc;
    else if (rc == AC_OK && e.kind == WALK_FAILED)
        rc = ac_fail(err, AC_ECORRUPT, (int64_t)e.index, "%s/" AC_CHAIN_FILE ": record %llu: %s; "
                     "run verify", c->dir, (unsigned long long)e.index,
                     e.detail ? e.detail : ac_reason_name(e.reason));
    fold_free(&f);
    return rc;
}

ac_status ac_find(ac_chain *chain, const uint8_t (*hashes)[AC_HASH_SIZE], size_t n, ac_find_fn found,
                  void *ctx, ac_progress_fn progress, void *progress_ctx, ac_error *err)
{
    if (chain == NULL || (hashes == NULL && n > 0) || found == NULL)
        return ac_fail(err, AC_EINVAL, -1, "find: no chain, hashes or callback");
    if (n > SIZE_MAX / sizeof(wanted))
        return ac_fail(err, AC_EINVAL, -1, "find: too many hashes");
    wanted *w = malloc((n ? n : 1) * sizeof *w);
    if (w == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "%s: no memory to search the chain", chain->dir);
    for (size_t i = 0; i < n; i++) {
        memcpy(w[i].hash, hashes[i], AC_HASH_SIZE);
        w[i].which = i;
    }
    qsort(w, n, sizeof *w, wanted_cmp);
    finder x = {.c = chain, .w = w, .n = n, .found = found, .ctx = ctx, .progress = progress,
                .progress_ctx = progress_ctx, .err = err};
    int rc = find_walk(&x, err);
    if (rc == AC_OK && progress != NULL)
        progress(progress_ctx, x.total, x.total);
    free(w);
    return rc;
}
