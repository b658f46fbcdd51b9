/* Import (docs/format.md section 15): frames someone else signed, appended
 * byte for byte.  Nothing here knows a rule of the chain: the signatures
 * are checked by fold_prepare (in parallel, before the lock is taken), and
 * every record goes through fold_step on a copy of the chain's fold, so a
 * batch is judged exactly as verification would judge it.  Only when all of
 * it passes (and the caller's own check, under the lock) are the frames
 * written, through the writers' path that append uses (append.c). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static int import_fail(ac_chain *c, ac_reason reason, uint64_t index, const char *detail,
                       ac_error *err)
{
    int code = reason == AC_REASON_UNAUTHORIZED ? AC_EUNAUTHORIZED : AC_ECORRUPT;
    return ac_fail(err, code, (int64_t)index, "%s: record %llu to import: %s: %s; nothing imported",
                   c->dir, (unsigned long long)index, ac_reason_name(reason), detail);
}

/* The batch folded onto a copy of `base`: AC_OK with *next the fold after
 * it and the frames in `frames`, or the first failure. */
static int fold_batch(ac_chain *c, const fold *base, fold_in *in, size_t n,
                      const ac_import_options *opt, fold *next, det_buf *frames, uint64_t *offs,
                      ac_error *err)
{
    if (fold_copy(next, base) != AC_OK)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t index = next->st.record_count;
        in[i].off = next->st.chain_size;
        const char *detail;
        int rc;
        ac_reason reason = fold_step(next, &in[i], &detail, &rc);
        if (rc != AC_OK)
            return ac_fail(err, rc, (int64_t)index, "out of memory");
        if (reason != AC_REASON_NONE)
            return import_fail(c, reason, index, detail, err);
        offs[i] = in[i].off;
        uint8_t prefix[4] = {(uint8_t)(in[i].len >> 24), (uint8_t)(in[i].len >> 16),
                             (uint8_t)(in[i].len >> 8), (uint8_t)in[i].len};
        det_put(frames, prefix, sizeof prefix);
        det_put(frames, in[i].body, in[i].len);
    }
    if (frames->failed)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (opt->genesis_key != NULL && next->st.record_count > 0 &&
        sodium_memcmp(next->genesis, opt->genesis_key, AC_PUBKEY_SIZE) != 0)
        return ac_fail(err, AC_EUNAUTHORIZED, 0,
                       "%s: record 0 is not signed by the pinned genesis key; nothing imported",
                       c->dir);
    return AC_OK;
}

static int import_locked(ac_chain *c, fold_in *in, size_t n, const ac_import_options *opt,
                         ac_error *err)
{
    int rc = append_begin(c, err);
    if (rc != AC_OK)
        return rc;
    fold next;
    det_buf frames = {0};
    uint64_t *offs = calloc(n, sizeof *offs);
    fold_init(&next);
    rc = offs ? fold_batch(c, &c->f, in, n, opt, &next, &frames, offs, err)
              : ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (rc == AC_OK && opt->check != NULL)
        rc = opt->check(opt->check_ctx, next.st.record_count, next.st.signer, err);
    if (rc == AC_OK)
        rc = append_ready(c, err);
    if (rc == AC_OK)
        rc = append_commit(c, &frames, err);
    if (rc == AC_OK) {
        uint64_t first = c->f.st.record_count;
        fold old = c->f;
        c->f = next;
        fold_init(&next);
        fold_free(&old);
        append_committed(c, first, offs, n, &frames);
    }
    fold_free(&next);
    det_buf_free(&frames);
    free(offs);
    return rc;
}

/* A chain not yet created: a batch that could never be imported must not
 * leave an empty chain.bin behind, so it is judged before the file is made
 * (and again under the lock, in case another writer made it meanwhile). */
static int check_first(ac_chain *c, fold_in *in, size_t n, const ac_import_options *opt,
                       ac_error *err)
{
    fold empty, next;
    det_buf frames = {0};
    uint64_t *offs = calloc(n, sizeof *offs);
    fold_init(&empty);
    fold_init(&next);
    int rc = offs ? fold_batch(c, &empty, in, n, opt, &next, &frames, offs, err)
                  : ac_fail(err, AC_ENOMEM, -1, "out of memory");
    fold_free(&next);
    det_buf_free(&frames);
    free(offs);
    return rc;
}

ac_status ac_import(ac_chain *c, const uint8_t *const *bodies, const size_t *lens, size_t n,
                    const ac_import_options *opt, ac_error *err)
{
    static const ac_import_options defaults;
    int rc = chain_writable(c, err);
    if (rc != AC_OK || n == 0)
        return rc;
    if (bodies == NULL || lens == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no records");
    if (opt == NULL)
        opt = &defaults;
    fold_in *in = calloc(n, sizeof *in);
    if (in == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    for (size_t i = 0; i < n && rc == AC_OK; i++) {
        if (bodies[i] == NULL || lens[i] == 0 || lens[i] > AC_MAX_RECORD_SIZE)
            rc = ac_fail(err, AC_EINVAL, -1,
                         "%s: entry %zu to import: a frame body of 1 to %u bytes is needed",
                         c->dir, i, AC_MAX_RECORD_SIZE);
        in[i] = (fold_in){.body = bodies[i], .len = (uint32_t)lens[i]};
    }
    /* The Ed25519 checks, the costly part, before the lock is taken. */
    if (rc == AC_OK && walk_prepare(in, n, opt->threads ? opt->threads : c->threads, true) != AC_OK)
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (rc == AC_OK)
        rc = chain_open_file(c, false, err);
    if (rc == AC_OK && c->fd < 0)
        rc = check_first(c, in, n, opt, err);
    if (rc == AC_OK)
        rc = chain_open_file(c, true, err);
    if (rc == AC_OK)
        rc = lock_chain(c, err);
    if (rc == AC_OK) {
        rc = import_locked(c, in, n, opt, err);
        unlock_chain(c);
    }
    free(in);
    return rc;
}
