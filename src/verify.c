/* Verification (docs/format.md section 8): a walk of the chain (walk.c)
 * that checks every signature in parallel and folds every record in order,
 * then what no single record shows: a loss that state.cbor is evidence of
 * (`truncated`), and the pins a caller holds from earlier (the genesis key,
 * the chain id, a record hash that must still be there).  Memory stays at a
 * window and a batch whatever the chain's length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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
    bool saw_pinned_hash;
};

typedef struct vstate {
    ac_report *rep;
    const ac_verify_options *opt;
    uint64_t total; /* records expected, for progress */
    witness_view prev_wit;
    bool have_prev_wit;
    /* The signed checkpoints kept (from record 0 only): the tree is
     * recomputed as the records pass, its root taken at each one's size. */
    kept_cp *kept;
    size_t nkept, next_kept;
    uint8_t (*roots)[AC_HASH_SIZE];
    mrange tree;
    ac_hasher *hasher;
    bool tree_failed;
} vstate;

static void warn(ac_report *rep, ac_warning w)
{
    rep->total_warn++;
    if (rep->nwarn < MAX_WARNINGS)
        rep->warnings[rep->nwarn++] = w;
}

static void fail(ac_report *rep, uint64_t index, ac_reason reason, const char *detail)
{
    rep->valid = 0;
    rep->fail_index = (int64_t)index;
    rep->reason = reason;
    snprintf(rep->detail, sizeof rep->detail, "record %llu: %s", (unsigned long long)index, detail);
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

static void check_witnesses(vstate *vs, const fold_in *v)
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

/* After each record that passed every check of the fold. */
static int on_record(void *ctx, const fold_in *v)
{
    vstate *vs = ctx;
    ac_report *rep = vs->rep;
    check_witnesses(vs, v);
    if (v->rec.chain_index == 0) {
        memcpy(rep->chain_id, v->chain_id, AC_HASH_SIZE);
        rep->has_chain_id = true;
    }
    memcpy(rep->head_hash, v->hash, AC_HASH_SIZE);
    rep->has_head = true;
    rep->records++;
    if (vs->opt->contains_hash != NULL &&
        memcmp(vs->opt->contains_hash, v->hash, AC_HASH_SIZE) == 0)
        rep->saw_pinned_hash = true;
    if (vs->next_kept < vs->nkept) {
        uint8_t leaf[AC_HASH_SIZE];
        if (tree_leaf(vs->hasher, v->body, v->len, leaf) != AC_OK ||
            mrange_push(&vs->tree, vs->hasher, leaf, NULL, NULL) != AC_OK)
            vs->tree_failed = true;
        while (vs->next_kept < vs->nkept && vs->kept[vs->next_kept].size == vs->tree.size)
            if (mrange_root(&vs->tree, vs->hasher, vs->roots[vs->next_kept++]) != AC_OK)
                vs->tree_failed = true;
    }
    return 0;
}

static void on_progress(void *ctx, uint64_t next_index)
{
    vstate *vs = ctx;
    vs->opt->progress(vs->opt->progress_ctx, next_index, vs->total);
}

void ac_verify_options_init(ac_verify_options *opt)
{
    if (opt == NULL)
        return;
    memset(opt, 0, sizeof *opt);
    opt->end = UINT64_MAX;
}

/* Past a damaged record the checked prefix ends: the history between it and
 * a range's start is read for what authority needs (each record at its
 * position; rotations by the authorized key with valid signatures), the
 * damage itself being for a verification from 0 to report. */
static int history_to(ac_chain *c, fold *f, uint64_t start, ac_error *err)
{
    scanner s;
    ac_hasher *h = hasher_new();
    int rc = h ? scan_init(&s, c->fd, c->dir, f->st.chain_size, f->st.record_count, c->seen_size,
                           4u << 20, err)
               : ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (rc != AC_OK) {
        hasher_free(h);
        return rc;
    }
    while (rc == AC_OK && f->st.record_count < start) {
        scan_frame fr;
        int st = scan_next(&s, &fr, err);
        if (st == SCAN_FLUSH)
            continue;
        ac_rec rec;
        if (st < 0) {
            rc = st;
        } else if (st != SCAN_FRAME || rec_decode(fr.body, fr.len, &rec, NULL) != 0 ||
                   rec.chain_index != fr.index) {
            rc = ac_fail(err, st == SCAN_END || st == SCAN_TORN ? AC_EINVAL : AC_ECORRUPT,
                         (int64_t)fr.index, "%s: record %llu, before the range, is %s; verify from 0",
                         c->dir, (unsigned long long)fr.index,
                         st == SCAN_END || st == SCAN_TORN ? "missing" : "damaged");
        } else {
            uint8_t new_key[AC_PUBKEY_SIZE];
            if (rec_rotation(&rec, new_key) == 1 &&
                memcmp(rec.signer, f->st.signer, AC_PUBKEY_SIZE) == 0 &&
                fold_check_sig(f, fr.body, fr.len, &rec, rec.signer) == 1 &&
                fold_rotate(f, fr.index, fr.off, new_key) != AC_OK)
                rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
            if (hasher_digest(h, fr.body, fr.len, f->st.head_hash) != AC_OK)
                rc = ac_fail(err, AC_ECRYPTO, -1, "SHA-256 failed");
            f->st.record_count = fr.index + 1;
            f->st.chain_size = fr.off + 4 + fr.len;
        }
    }
    scan_free(&s);
    hasher_free(h);
    return rc;
}

/* The fold as it stands before record `start` (> 0): authority from the
 * rotation history before it, the previous hash from the record before it
 * (format section 8). */
static int fold_before(ac_chain *c, uint64_t start, fold *f, ac_error *err)
{
    if (start >= c->f.st.record_count && !c->damaged)
        return ac_fail(err, AC_EINVAL, (int64_t)start, "%s: no record %llu (the chain has %llu)",
                       c->dir, (unsigned long long)start, (unsigned long long)c->f.st.record_count);
    if (fold_copy(f, &c->f) != AC_OK)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (start > c->f.st.record_count)
        return history_to(c, f, start, err);
    ac_record *prev;
    int rc = ac_chain_get(c, start - 1, &prev, err);
    if (rc != AC_OK)
        return rc;
    size_t len;
    (void)ac_record_bytes(prev, &len);
    if (fold_truncate(f, start) != AC_OK)
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    memcpy(f->st.head_hash, ac_record_hash(prev), AC_HASH_SIZE);
    f->st.chain_size = ac_record_offset(prev) + 4 + len;
    ac_record_free(prev);
    return rc;
}

/* What is judged after every record present passed (section 8).  0, or
 * the reason the chain fails, filled into the report. */
/* The kept checkpoints against the chain verified (section 8): a signed
 * one beyond the end means records are missing, one whose root differs
 * means the chain was rewritten; one not signed by the key authorized at
 * its size is no evidence, only a warning.  Returns whether one failed. */
static bool judge_checkpoints(ac_chain *c, const vstate *vs, const fold *f, bool to_end,
                              ac_report *rep)
{
    char origin[AC_NOTE_MAX_NAME + 1], why[200];
    bool fixed;
    if (vs->nkept == 0 || chain_origin(c, origin, &fixed, NULL) != AC_OK)
        return false;
    int64_t missing = -1, rewritten = -1;
    for (size_t i = 0; i < vs->nkept; i++) {
        const kept_cp *k = &vs->kept[i];
        uint8_t key[AC_PUBKEY_SIZE];
        checkpoint_key(f, k->size, key);
        if (kept_signed(k, origin, key) != 1) {
            warn(rep, (ac_warning){.code = AC_WARN_CHECKPOINT_UNVERIFIED, .index = -1,
                                   .bytes = k->size});
        } else if (k->size > f->st.record_count) {
            if (to_end && missing < 0)
                missing = (int64_t)k->size;
        } else if (i < vs->next_kept && !vs->tree_failed &&
                   memcmp(vs->roots[i], ac_checkpoint_root(k->cp), AC_HASH_SIZE) != 0) {
            if (rewritten < 0)
                rewritten = (int64_t)k->size;
        }
    }
    if (missing >= 0) {
        snprintf(why, sizeof why, "missing: a signed checkpoint covers %lld records",
                 (long long)missing);
        fail(rep, f->st.record_count, AC_REASON_TRUNCATED, why);
    } else if (rewritten >= 0) {
        snprintf(why, sizeof why, "the tree of %lld records is not the one a signed checkpoint "
                 "names: rewritten after it was checkpointed", (long long)rewritten);
        fail(rep, (uint64_t)rewritten - 1, AC_REASON_CHECKPOINT, why);
    }
    return missing >= 0 || rewritten >= 0;
}

static void judge_whole(ac_chain *c, const vstate *vs, const state_claim *claim,
                        const ac_verify_options *opt, const fold *f, const walk_end *end,
                        ac_report *rep)
{
    ac_loss loss;
    char why[200];
    bool to_end = end->kind == SCAN_END || end->kind == SCAN_TORN;
    if (to_end && state_claim_loss(claim, &f->st, &loss)) {
        snprintf(why, sizeof why, "missing: " AC_STATE_FILE " says %llu records were committed",
                 (unsigned long long)loss.committed_records);
        fail(rep, loss.records, AC_REASON_TRUNCATED, why);
    } else if (judge_checkpoints(c, vs, f, to_end, rep)) {
        /* failed: the reason is in the report */
    } else if (opt->genesis_key != NULL && f->st.record_count > 0 &&
               memcmp(opt->genesis_key, f->genesis, AC_PUBKEY_SIZE) != 0) {
        fail(rep, 0, AC_REASON_PINNED_KEY, "record 0 is not signed by the pinned key");
    } else if (opt->chain_id != NULL &&
               (f->st.record_count == 0 || memcmp(opt->chain_id, f->st.chain_id, AC_HASH_SIZE) != 0)) {
        fail(rep, 0, AC_REASON_PINNED_CHAIN_ID, "the chain id is not the pinned one");
    } else if (opt->contains_hash != NULL && !rep->saw_pinned_hash) {
        fail(rep, f->st.record_count, AC_REASON_PINNED_HEAD,
             "no record has the pinned hash: the chain was rolled back or rewritten");
    }
}

static int verify_run(ac_chain *c, const ac_verify_options *opt, ac_report *rep, ac_error *err)
{
    int rc = chain_open_file(c, false, err);
    if (rc != AC_OK)
        return rc;
    if (c->fd < 0)
        return ac_fail(err, AC_ENOTFOUND, -1, "%s: no " AC_CHAIN_FILE ": not a chain directory; "
                       "check the path", c->dir);
    state_claim claim;
    state_claim_read(c, &claim); /* before the file is sized: see state_claim_read */
    ac_error sync_err;
    rc = state_sync(c, &sync_err); /* damage is for the walk below to report */
    if (rc != AC_OK && rc != AC_ECORRUPT) {
        if (err != NULL)
            *err = sync_err;
        return rc;
    }
    fold f;
    fold_init(&f);
    if (opt->start > 0 && (rc = fold_before(c, opt->start, &f, err)) != AC_OK)
        return rc;
    vstate vs = {.rep = rep, .opt = opt};
    if (opt->start == 0 && (rc = kept_list(c, &vs.kept, &vs.nkept, err)) != AC_OK) {
        fold_free(&f);
        return rc;
    }
    if (vs.nkept > 0) {
        vs.roots = calloc(vs.nkept, sizeof *vs.roots);
        vs.hasher = hasher_new();
        if (vs.roots == NULL || vs.hasher == NULL)
            rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    }
    uint64_t known = c->damaged ? c->damage_index + 1 : c->f.st.record_count;
    vs.total = opt->end < known ? opt->end + 1 : known;
    walk_opts wo = {.check_sig = true, .end = opt->end,
                    .threads = opt->threads ? opt->threads : c->threads,
                    .each = on_record, .progress = opt->progress ? on_progress : NULL, .ctx = &vs};
    walk_end end;
    if (rc == AC_OK)
        rc = chain_walk(c, &f, c->seen_size, &wo, &end, err);
    if (rc == AC_OK) {
        if (end.kind == WALK_FAILED)
            fail(rep, end.index, end.reason, end.detail ? end.detail : "");
        else if (end.kind == SCAN_TORN)
            warn(rep, (ac_warning){.code = AC_WARN_TORN_TAIL, .index = -1, .offset = end.off,
                                   .bytes = end.tail_len});
        if (rep->valid)
            judge_whole(c, &vs, &claim, opt, &f, &end, rep);
    }
    fold_free(&f);
    kept_free(vs.kept, vs.nkept);
    free(vs.roots);
    hasher_free(vs.hasher);
    return rc;
}

ac_status ac_verify(ac_chain *c, const ac_verify_options *opt_in, ac_report **out, ac_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the report");
    ac_verify_options defaults;
    ac_verify_options_init(&defaults);
    const ac_verify_options *opt = opt_in ? opt_in : &defaults;
    if (opt->end < opt->start)
        return ac_fail(err, AC_EINVAL, -1, "%s: range ends before it starts", c->dir);
    ac_report *rep = calloc(1, sizeof *rep);
    if (rep)
        rep->warnings = calloc(MAX_WARNINGS, sizeof *rep->warnings);
    if (rep == NULL || rep->warnings == NULL) {
        ac_report_free(rep);
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    }
    rep->valid = 1;
    rep->fail_index = -1;
    int rc = verify_run(c, opt, rep, err);
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
