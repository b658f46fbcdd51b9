/* What fuzz_chain and fuzz_verify check on a chain directory whose chain.bin
 * is arbitrary bytes (one temporary directory, emptied before each input):
 *  - opening never fails on content (damage is for verify to report);
 *  - verification gives the same report with one thread and with two, and
 *    through a read-only handle; a range agrees with the whole chain;
 *  - a chain that verifies reads back whole: the state counts its records,
 *    names its head and chain id and the key authorized after its rotations;
 *    iteration and get(i) return the same records; a torn tail is reported
 *    with its size;
 *  - an append signed by the key the writer's state names as authorized
 *    (or by "evil", when no test key is) either is refused, leaving chain.bin
 *    as it was apart from a torn tail moved aside, or leaves a chain whose
 *    report is as before plus the new record: a valid chain stays valid with
 *    one more record, an invalid one fails at the same record for the same
 *    reason.  On a valid chain, the authorized key is never refused;
 *  - the caches the writer leaves change no verdict. */
#ifndef AC_FUZZ_CHAIN_CHECKS_H
#define AC_FUZZ_CHAIN_CHECKS_H

#include "fuzz.h"

#define MAX_ITER 4096
#define MAX_RETIRED 256

static char work_dir[4096];
static const char *const key_names[] = {"k1", "k2", "k3", "evil"};
#define NKEYS (sizeof key_names / sizeof key_names[0])
static ac_key *keys[NKEYS];
static uint8_t pubs[NKEYS][AC_PUBKEY_SIZE];

/* The authorized key (SPEC 4.4): record 0's signer, then each valid
 * rotation's new key; a retired key never signs again, so rotating to one
 * leaves nobody (all zeros, which signs nothing) authorized. */
typedef struct authority {
    uint8_t key[AC_PUBKEY_SIZE];
    uint8_t retired[MAX_RETIRED][AC_PUBKEY_SIZE];
    size_t nretired;
    bool overflow; /* more rotations than kept: the key is unknown */
} authority;

static void authority_rotate_to(authority *a, const uint8_t new_key[AC_PUBKEY_SIZE])
{
    if (a->nretired == MAX_RETIRED) {
        a->overflow = true;
        return;
    }
    memcpy(a->retired[a->nretired++], a->key, AC_PUBKEY_SIZE);
    bool was_retired = false;
    for (size_t i = 0; i < a->nretired; i++)
        was_retired |= memcmp(a->retired[i], new_key, AC_PUBKEY_SIZE) == 0;
    if (was_retired)
        memset(a->key, 0, AC_PUBKEY_SIZE);
    else
        memcpy(a->key, new_key, AC_PUBKEY_SIZE);
}

typedef struct verdict {
    int rc;
    int valid;
    uint64_t records;
    int64_t fail;
    int reason;
    uint64_t warns;
    size_t nwarn;
    ac_warning first_warn;
    bool torn;
    ac_warning torn_warn;
    uint64_t by_code[4]; /* kept warnings by ac_warning_code */
} verdict;

static void chain_checks_cleanup(void)
{
    for (size_t i = 0; i < NKEYS; i++)
        ac_key_free(keys[i]);
    fuzz_remove_dir(work_dir);
}

/* Loads the test keys and makes the work directory. */
static void chain_checks_init(const char *tag)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char path[4096];
        int w = snprintf(path, sizeof path, "%s/keys/%s.pem", AC_FUZZ_VECTORS, key_names[i]);
        FUZZ_SETUP(w > 0 && (size_t)w < sizeof path);
        FUZZ_SETUP(ac_key_load(path, &keys[i], NULL) == AC_OK);
        ac_key_pubkey(keys[i], pubs[i]);
    }
    fuzz_tmpdir(work_dir, sizeof work_dir, tag);
    FUZZ_SETUP(atexit(chain_checks_cleanup) == 0);
}

static verdict verify_with(ac_chain *c, unsigned threads)
{
    verdict v;
    memset(&v, 0, sizeof v);
    ac_verify_options opt;
    ac_verify_options_init(&opt);
    opt.threads = threads;
    ac_report *rep = NULL;
    v.rc = ac_verify(c, &opt, &rep, NULL);
    if (rep == NULL)
        return v;
    v.valid = ac_report_valid(rep);
    v.records = ac_report_records(rep);
    v.fail = ac_report_fail_index(rep);
    v.reason = (int)ac_report_reason(rep);
    v.warns = ac_report_warnings_total(rep);
    v.nwarn = ac_report_warning_count(rep);
    if (v.nwarn > 0)
        v.first_warn = *ac_report_warning(rep, 0);
    for (size_t i = 0; i < v.nwarn; i++) {
        const ac_warning *w = ac_report_warning(rep, i);
        FUZZ_CHECK(w->code >= AC_WARN_TORN_TAIL && w->code <= AC_WARN_CHAIN_SIZE,
                   "warning code %d", (int)w->code);
        v.by_code[w->code]++;
        if (w->code == AC_WARN_TORN_TAIL) {
            FUZZ_CHECK(!v.torn, "two torn tails reported");
            v.torn = true;
            v.torn_warn = *w;
        }
    }
    ac_report_free(rep);
    return v;
}

static void same_verdict(const verdict *a, const verdict *b, const char *what)
{
    FUZZ_CHECK(a->rc == b->rc && a->valid == b->valid && a->records == b->records &&
                   a->fail == b->fail && a->reason == b->reason && a->warns == b->warns &&
                   a->nwarn == b->nwarn,
               "%s: rc %d/%d valid %d/%d records %llu/%llu fail %lld/%lld reason %d/%d warnings "
               "%llu/%llu",
               what, a->rc, b->rc, a->valid, b->valid, (unsigned long long)a->records,
               (unsigned long long)b->records, (long long)a->fail, (long long)b->fail, a->reason,
               b->reason, (unsigned long long)a->warns, (unsigned long long)b->warns);
    const ac_warning *x = &a->first_warn, *y = &b->first_warn;
    FUZZ_CHECK(a->nwarn == 0 || (x->code == y->code && x->index == y->index &&
                                 x->offset == y->offset && x->bytes == y->bytes &&
                                 x->delta_us == y->delta_us),
               "%s: first warnings differ", what);
}

static verdict verify_dir(unsigned flags, unsigned threads)
{
    ac_chain *c;
    FUZZ_CHECK(ac_chain_open(work_dir, flags, &c, NULL) == AC_OK, "reopen failed");
    verdict v = verify_with(c, threads);
    FUZZ_CHECK(ac_chain_close(c, NULL) == AC_OK, "close failed");
    return v;
}

/* What iterating the chain saw. */
typedef struct walk {
    uint64_t n;
    uint8_t last_hash[AC_HASH_SIZE];
    authority auth;
    uint8_t chain_id[AC_HASH_SIZE];
    int end_rc;
} walk;

static void walk_record(walk *w, const ac_record *rec)
{
    size_t len;
    const uint8_t *body = ac_record_bytes(rec, &len);
    ac_rec view;
    FUZZ_CHECK(rec_decode(body, len, &view, NULL) == 0, "a returned record does not decode");
    if (w->n == 0) {
        uint8_t *canon = malloc(len);
        FUZZ_SETUP(canon != NULL);
        size_t clen = rec_canonical(body, len, &view, canon);
        FUZZ_CHECK(ac_sha256(canon, clen, w->chain_id, NULL) == AC_OK, "sha256");
        free(canon);
        memcpy(w->auth.key, view.signer, AC_PUBKEY_SIZE);
    }
    uint8_t new_key[AC_PUBKEY_SIZE];
    if (rec_rotation(&view, new_key) == 1)
        authority_rotate_to(&w->auth, new_key);
    memcpy(w->last_hash, ac_record_hash(rec), AC_HASH_SIZE);
}

/* Iterates the chain; for each record, get(i) must return the same one. */
static void iterate(ac_chain *c, walk *w)
{
    memset(w, 0, sizeof *w);
    ac_iter *it;
    w->end_rc = ac_iter_open(c, 0, UINT64_MAX, &it, NULL);
    if (w->end_rc != AC_OK)
        return;
    while (w->n < MAX_ITER) {
        ac_record *rec;
        int rc = ac_iter_next(it, &rec, NULL);
        if (rc <= 0) {
            w->end_rc = rc;
            break;
        }
        FUZZ_CHECK(ac_record_index(rec) == w->n, "iteration gave record %llu at %llu",
                   (unsigned long long)ac_record_index(rec), (unsigned long long)w->n);
        walk_record(w, rec);
        ac_record *got;
        if (ac_chain_get(c, w->n, &got, NULL) == AC_OK) {
            FUZZ_CHECK(memcmp(ac_record_hash(got), ac_record_hash(rec), AC_HASH_SIZE) == 0 &&
                           ac_record_offset(got) == ac_record_offset(rec),
                       "get(%llu) and iteration disagree", (unsigned long long)w->n);
            ac_record_free(got);
        }
        ac_record_free(rec);
        w->n++;
    }
    ac_iter_free(it);
}

/* What a valid chain must read back as. */
static void check_valid_reads(ac_chain *c, const verdict *v, size_t size)
{
    ac_state st;
    int src = ac_chain_state(c, &st, NULL);
    walk *w = malloc(sizeof *w);
    FUZZ_SETUP(w != NULL);
    iterate(c, w);
    FUZZ_CHECK(w->end_rc == 0 && w->n == v->records,
               "a valid chain of %llu records iterates %llu (rc %d)",
               (unsigned long long)v->records, (unsigned long long)w->n, w->end_rc);
    ac_record *rec = NULL;
    FUZZ_CHECK(ac_chain_get(c, v->records, &rec, NULL) == AC_ENOTFOUND, "get past the head");
    uint64_t complete = 0;
    if (v->records == 0) {
        FUZZ_CHECK(src == AC_ENOTFOUND, "state of an empty chain: %d", src);
        FUZZ_CHECK(ac_chain_is_empty(c, NULL) == 1, "an empty valid chain is not empty");
    } else {
        FUZZ_CHECK(src == AC_OK, "state of a valid chain: %d", src);
        FUZZ_CHECK(st.record_count == v->records && st.head_index == v->records - 1,
                   "state counts %llu records, verify %llu", (unsigned long long)st.record_count,
                   (unsigned long long)v->records);
        FUZZ_CHECK(memcmp(st.head_hash, w->last_hash, AC_HASH_SIZE) == 0, "state head hash");
        FUZZ_CHECK(memcmp(st.chain_id, w->chain_id, AC_HASH_SIZE) == 0, "state chain id");
        FUZZ_CHECK(w->auth.overflow || memcmp(st.signer, w->auth.key, AC_PUBKEY_SIZE) == 0,
                   "state names another authorized key than the rotations do");
        FUZZ_CHECK(ac_chain_head(c, &rec, NULL) == AC_OK &&
                       memcmp(ac_record_hash(rec), w->last_hash, AC_HASH_SIZE) == 0,
                   "head is not the last record");
        ac_record_free(rec);
        complete = st.chain_size;
    }
    free(w);
    if (complete < size)
        FUZZ_CHECK(v->torn && v->torn_warn.offset == complete &&
                       v->torn_warn.bytes == size - complete,
                   "%zu bytes after the last complete frame at %llu, not reported as torn tail",
                   size - (size_t)complete, (unsigned long long)complete);
    else
        FUZZ_CHECK(!v->torn, "a torn tail reported on a chain without one");
}

/* verify(start, end) of a range agrees with the whole chain's verdict
 * (SPEC 8: a range after 0 checks its first link and takes the authorized key
 * from the history before it): on a valid chain every range is valid with
 * its own count; on a chain failing at f, a range that starts at or before f
 * and reaches it fails at f for the same reason. */
static void check_range(ac_chain *c, const verdict *whole, uint64_t start, uint64_t end)
{
    ac_verify_options opt;
    ac_verify_options_init(&opt);
    opt.start = start;
    opt.end = end;
    opt.threads = 1;
    ac_report *rep = NULL;
    ac_state st;
    int rc = ac_verify(c, &opt, &rep, NULL);
    if (rc == AC_EINVAL) {
        /* Only a start past the complete records the chain holds. */
        FUZZ_CHECK(ac_chain_state(c, &st, NULL) != AC_OK || start >= st.record_count,
                   "verify(%llu..) refused with %llu records", (unsigned long long)start,
                   (unsigned long long)st.record_count);
        return;
    }
    FUZZ_CHECK(rc == AC_OK && rep != NULL, "verify(%llu..%llu) could not run: %d",
               (unsigned long long)start, (unsigned long long)end, rc);
    bool reaches_fail = !whole->valid && (uint64_t)whole->fail <= end;
    int valid = ac_report_valid(rep);
    int64_t fail = ac_report_fail_index(rep);
    int reason = (int)ac_report_reason(rep);
    uint64_t records = ac_report_records(rep);
    ac_report_free(rep);
    if (reaches_fail) {
        FUZZ_CHECK(!valid && fail == whole->fail && reason == whole->reason &&
                       records == (uint64_t)whole->fail - start,
                   "verify(%llu..%llu): valid %d fail %lld reason %d records %llu; the whole "
                   "chain fails at %lld for reason %d",
                   (unsigned long long)start, (unsigned long long)end, valid, (long long)fail,
                   reason, (unsigned long long)records, (long long)whole->fail, whole->reason);
    } else {
        uint64_t last = end < whole->records - 1 ? end : whole->records - 1;
        FUZZ_CHECK(valid && records == last - start + 1,
                   "verify(%llu..%llu) of a chain valid there: valid %d fail %lld reason %d "
                   "records %llu",
                   (unsigned long long)start, (unsigned long long)end, valid, (long long)fail,
                   reason, (unsigned long long)records);
    }
}

static void check_ranges(ac_chain *c, const verdict *whole)
{
    /* The last record a range may start at: the head, or the failing one. */
    uint64_t top = whole->valid ? whole->records : (uint64_t)whole->fail + 1;
    if (top < 2)
        return;
    uint64_t starts[3] = {1, top / 2, top - 1};
    for (size_t i = 0; i < 3; i++) {
        check_range(c, whole, starts[i], UINT64_MAX);
        check_range(c, whole, starts[i], starts[i]);
    }
}

/* The writer's view of who may sign next, as one of the test keys. */
static size_t pick_key(ac_chain *c, bool *authorized)
{
    ac_state st;
    int rc = ac_chain_state(c, &st, NULL);
    *authorized = false;
    if (rc == AC_ENOTFOUND) {
        *authorized = true; /* a new chain: any key */
        return 0;
    }
    if (rc != AC_OK)
        return 0;
    for (size_t i = 0; i < NKEYS; i++)
        if (memcmp(st.signer, pubs[i], AC_PUBKEY_SIZE) == 0) {
            *authorized = true;
            return i;
        }
    return NKEYS - 1;
}

/* Whether the bytes data[off..size) for some off <= max_off were kept in a
 * chain.bin.torn-* file: what a writer cuts, it must keep (section 7). */
static bool torn_saved(const uint8_t *data, size_t size, size_t max_off)
{
    DIR *d = opendir(work_dir);
    FUZZ_SETUP(d != NULL);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, AC_CHAIN_FILE ".torn-", strlen(AC_CHAIN_FILE ".torn-")) != 0)
            continue;
        char path[4096];
        size_t len = 0;
        fuzz_path(path, sizeof path, work_dir, e->d_name);
        uint8_t *b = fuzz_read_file(path, &len);
        found = b != NULL && len > 0 && len <= size && size - len <= max_off &&
                memcmp(b, data + size - len, len) == 0;
        free(b);
    }
    FUZZ_SETUP(closedir(d) == 0);
    return found;
}

static size_t common_prefix(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

static void check_append(ac_chain **cp, const verdict *before, const uint8_t *data, size_t size)
{
    bool authorized;
    size_t k = pick_key(*cp, &authorized);
    ac_entry e;
    memset(&e, 0, sizeof e);
    e.content_type = "application/x-fuzz";
    ac_appended out;
    ac_error err;
    int rc = ac_append(*cp, keys[k], &e, &out, &err);
    FUZZ_CHECK(ac_chain_close(*cp, NULL) == AC_OK, "close after append failed");
    *cp = NULL;
    char path[4096];
    size_t len = 0;
    fuzz_path(path, sizeof path, work_dir, AC_CHAIN_FILE);
    uint8_t *now = fuzz_read_file(path, &len);
    FUZZ_SETUP(now != NULL);
    size_t same = common_prefix(now, len, data, size);
    free(now);
    FUZZ_CHECK(same == size || torn_saved(data, size, same),
               "append (rc %d) removed bytes %zu..%zu of chain.bin without keeping them", rc, same,
               size);
    if (rc != AC_OK) {
        FUZZ_CHECK(!(before->valid && authorized),
                   "append with the authorized key %s refused on a valid chain: %s", key_names[k],
                   err.message);
        FUZZ_CHECK(same == len, "a refused append wrote to chain.bin (%zu bytes, was %zu)", len,
                   size);
        return;
    }
    FUZZ_CHECK(len > same, "append succeeded but wrote nothing");
    verdict after = verify_dir(0, 1);
    if (before->valid) {
        FUZZ_CHECK(after.valid && after.records == before->records + 1,
                   "valid chain of %llu records, after append: valid %d, %llu records, fail %lld "
                   "reason %d",
                   (unsigned long long)before->records, after.valid,
                   (unsigned long long)after.records, (long long)after.fail, after.reason);
        FUZZ_CHECK(out.index == before->records, "appended at index %llu",
                   (unsigned long long)out.index);
    } else {
        FUZZ_CHECK(!after.valid && after.fail == before->fail && after.reason == before->reason,
                   "invalid chain (fail %lld reason %d) became: valid %d fail %lld reason %d",
                   (long long)before->fail, before->reason, after.valid, (long long)after.fail,
                   after.reason);
    }
    /* The writer left state.cbor and index.bin: without them, same answer. */
    fuzz_unlink(work_dir, AC_STATE_FILE);
    fuzz_unlink(work_dir, AC_INDEX_FILE);
    verdict bare = verify_dir(AC_OPEN_READONLY, 1);
    same_verdict(&after, &bare, "after append, caches vs none");
}

/* Every check above on chain.bin = data; returns the first verdict. */
static verdict chain_checks_run(const uint8_t *data, size_t size)
{
    fuzz_clear_dir(work_dir);
    fuzz_write_file(work_dir, AC_CHAIN_FILE, data, size);
    ac_chain *c;
    ac_error err;
    int rc = ac_chain_open(work_dir, 0, &c, &err);
    FUZZ_CHECK(rc == AC_OK, "open failed on content: %s", err.message);
    verdict one = verify_with(c, 1);
    verdict two = verify_with(c, 2);
    FUZZ_CHECK(one.rc == AC_OK, "verify could not run on a %zu-byte chain", size);
    same_verdict(&one, &two, "threads 1 vs 2");
    if (one.valid) {
        check_valid_reads(c, &one, size);
    } else {
        walk *w = malloc(sizeof *w);
        FUZZ_SETUP(w != NULL);
        iterate(c, w); /* must not crash; get(i) is compared inside */
        free(w);
    }
    check_ranges(c, &one);
    verdict ro = verify_dir(AC_OPEN_READONLY, 2);
    same_verdict(&one, &ro, "read-write vs read-only handle");
    check_append(&c, &one, data, size);
    return one;
}

#endif /* AC_FUZZ_CHAIN_CHECKS_H */
