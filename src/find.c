/* Finding the records of some content: "was this file attested, when, by
 * whom?".  One sequential pass over the chain through the public iterator,
 * with no cache to trust or keep valid: each record is hashed and decoded
 * anyway by the iterator, so following its index, its link and the signing
 * authority costs a compare each, and only the records reported (and the
 * rare rotations, which move the authority) pay for an Ed25519 check.  So a
 * record reported is one that verification accepts as far as the scan
 * reached it: in place, linked to every record before it, signed by the key
 * authorized there (format section 8; section 6: a record shown to a user
 * has its own signature, chain_index and link checked). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

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

/* What the scan carries from record to record. */
typedef struct scan {
    const char *dir;
    uint8_t prev_hash[AC_HASH_SIZE];
    uint8_t signer[AC_PUBKEY_SIZE]; /* authorized for the next record */
    key_set retired;
    uint8_t *scratch; /* canonical bytes */
} scan;

static int corrupt(const scan *s, uint64_t i, const char *why, ac_error *err)
{
    return ac_fail(err, AC_ECORRUPT, (int64_t)i, "%s/" AC_CHAIN_FILE ": record %llu: %s", s->dir,
                   (unsigned long long)i, why);
}

static bool signature_ok(scan *s, const uint8_t *body, size_t len, const ac_rec *view)
{
    size_t clen = rec_canonical(body, len, view, s->scratch);
    return crypto_sign_verify_detached(view->signature, s->scratch, clen, view->signer) == 0;
}

/* Checks record `rec` against the one before it and moves the authority on;
 * `found` asks for its signature to be checked too. */
static int scan_record(scan *s, const ac_record *rec, bool found, ac_error *err)
{
    uint64_t i = ac_record_index(rec);
    size_t len;
    const uint8_t *body = ac_record_bytes(rec, &len);
    const ac_rec view = *record_view(rec); /* decoded and checked by the iterator */
    if (i == 0)
        memcpy(s->signer, view.signer, AC_PUBKEY_SIZE); /* the genesis signer */
    if (memcmp(view.prev_hash, s->prev_hash, AC_HASH_SIZE) != 0)
        return corrupt(s, i, i == 0 ? "record 0 has a non-zero prev_hash"
                                    : "its prev_hash is not the hash of the record before it",
                       err);
    if (memcmp(view.signer, s->signer, AC_PUBKEY_SIZE) != 0)
        return corrupt(s, i, "signed by a key not authorized there", err);
    uint8_t new_key[AC_PUBKEY_SIZE];
    int is_rotation = rec_rotation(&view, new_key);
    if (is_rotation < 0)
        return corrupt(s, i, "a malformed key rotation", err);
    if ((found || is_rotation == 1) && !signature_ok(s, body, len, &view))
        return corrupt(s, i, "its signature does not verify", err);
    if (is_rotation == 1 && authority_rotate(&s->retired, s->signer, new_key) != AC_OK)
        return ac_fail(err, AC_ENOMEM, (int64_t)i, "%s: no memory for the key history", s->dir);
    memcpy(s->prev_hash, ac_record_hash(rec), AC_HASH_SIZE);
    return AC_OK;
}

static int find_scan(ac_chain *chain, scan *s, const wanted *w, size_t n, ac_find_fn found,
                     void *ctx, ac_progress_fn progress, void *progress_ctx, ac_error *err)
{
    ac_state st;
    int rc = ac_chain_state(chain, &st, err);
    if (rc == AC_ENOTFOUND)
        return AC_OK; /* an empty chain holds nothing */
    if (rc != AC_OK)
        return rc;
    ac_iter *it = NULL;
    rc = ac_iter_open(chain, 0, UINT64_MAX, &it, err);
    ac_record *rec = NULL;
    while (rc == AC_OK && (rc = ac_iter_next(it, &rec, err)) == 1) {
        const wanted *hit = wanted_find(w, n, ac_record_content_hash(rec));
        rc = scan_record(s, rec, hit != NULL, err);
        for (; rc == AC_OK && hit != NULL && hit < w + n &&
               memcmp(hit->hash, ac_record_content_hash(rec), AC_HASH_SIZE) == 0;
             hit++)
            if (found(ctx, hit->which, rec) != 0)
                rc = 1; /* the caller has seen enough */
        uint64_t done = ac_record_index(rec) + 1;
        ac_record_free(rec);
        if (rc == AC_OK && progress != NULL && done % PROGRESS_EVERY == 0)
            progress(progress_ctx, done, st.record_count);
    }
    ac_iter_free(it);
    if (rc >= 0 && progress != NULL)
        progress(progress_ctx, st.record_count, st.record_count);
    return rc < 0 ? rc : AC_OK;
}

int ac_find(ac_chain *chain, const uint8_t (*hashes)[AC_HASH_SIZE], size_t n, ac_find_fn found,
            void *ctx, ac_progress_fn progress, void *progress_ctx, ac_error *err)
{
    if (chain == NULL || (hashes == NULL && n > 0) || found == NULL)
        return ac_fail(err, AC_EINVAL, -1, "find: no chain, hashes or callback");
    if (n > SIZE_MAX / sizeof(wanted))
        return ac_fail(err, AC_EINVAL, -1, "find: too many hashes");
    if (sodium_init() < 0)
        return ac_fail(err, AC_ECRYPTO, -1, "libsodium failed to initialise");
    wanted *w = malloc((n ? n : 1) * sizeof *w);
    scan s = {.dir = ac_chain_dir(chain), .scratch = malloc(AC_MAX_RECORD_SIZE)};
    int rc = AC_OK;
    if (w == NULL || s.scratch == NULL)
        rc = ac_fail(err, AC_ENOMEM, -1, "%s: no memory to search the chain", s.dir);
    for (size_t i = 0; rc == AC_OK && i < n; i++) {
        memcpy(w[i].hash, hashes[i], AC_HASH_SIZE);
        w[i].which = i;
    }
    if (rc == AC_OK) {
        qsort(w, n, sizeof *w, wanted_cmp);
        rc = find_scan(chain, &s, w, n, found, ctx, progress, progress_ctx, err);
    }
    key_set_free(&s.retired);
    free(s.scratch);
    free(w);
    return rc;
}
