/* fuzz_state: arbitrary state.cbor and index.bin beside a fixed valid chain.
 *
 * The caches are derived from chain.bin and validated before use, so they
 * must never change an answer: with whatever bytes are in them, opening the
 * chain, its state, every get, the head, an iteration and verification
 * (whole and from a middle record) give exactly what the same chain.bin
 * gives with no caches at all, and chain.bin is never written.  The one
 * exception is the evidence of loss (docs/format.md section 6): a
 * state.cbor of this chain that says more was committed than chain.bin
 * holds makes a valid verification fail with `truncated` at the first
 * missing record, and nothing else.
 *
 * Input: byte 0 is a set of flags (FS_*).  With FS_TRUNCATE the next two
 * bytes (big-endian, modulo the chain's size + 1) are how much of chain.bin
 * to keep: a stale or damaged chain under caches that may claim more; the
 * answers are then compared with that prefix's.  With both FS_STATE and
 * FS_INDEX the next two bytes are the length of the state.cbor part and
 * the rest is index.bin; with one of them the rest is that file.  With
 * FS_APPEND the key authorized at the chain's end then appends: it is
 * refused, or the chain verifies with one more record at the next index.  The chain is
 * AC_FUZZ_VECTORS/valid-two-rotations (six records, two key rotations, so the
 * authorized signer is not record 0's).  One temporary directory is reused. */
#include "fuzz.h"

#define FS_STATE 0x01u    /* write state.cbor */
#define FS_INDEX 0x02u    /* write index.bin */
#define FS_READONLY 0x04u /* open with AC_OPEN_READONLY */
#define FS_REOPEN 0x08u   /* run everything again with a second handle */
#define FS_DESCEND 0x10u  /* get the records last to first, before the state */
#define FS_TRUNCATE 0x20u /* keep only a prefix of chain.bin (2 bytes: its length) */
#define FS_APPEND 0x40u   /* then append with the authorized key */

#define MAX_RECS 64
#define CHAIN_VECTOR "valid-two-rotations"

typedef struct results {
    int open_rc, state_rc, empty;
    ac_state st;
    uint64_t n_get; /* records asked for: the count, plus one past the head */
    int get_rc[MAX_RECS + 1];
    uint8_t get_hash[MAX_RECS + 1][AC_HASH_SIZE];
    uint64_t get_off[MAX_RECS + 1];
    int head_rc;
    uint8_t head_hash[AC_HASH_SIZE];
    int iter_rc;
    uint64_t iter_n;
    uint8_t iter_last[AC_HASH_SIZE];
    int ver_rc[2];
    int valid[2];
    uint64_t records[2];
    int64_t fail[2];
    int reason[2];
    uint64_t warns[2];
} results;

static char work_dir[4096];
static uint8_t *chain_bytes;
static size_t chain_len;
static uint64_t chain_records;
static results want_full; /* the whole chain without caches */
static char ref_dir[4096];  /* a prefix of the chain, without caches */
static ac_key *keys[3];     /* k1, k2, k3: whoever is authorized at a prefix */

static void atexit_cleanup(void)
{
    for (size_t i = 0; i < 3; i++)
        ac_key_free(keys[i]);
    fuzz_remove_dir(work_dir);
    fuzz_remove_dir(ref_dir);
}

static void do_get(ac_chain *c, results *r, uint64_t i)
{
    ac_record *rec = NULL;
    r->get_rc[i] = ac_chain_get(c, i, &rec, NULL);
    if (rec != NULL) {
        memcpy(r->get_hash[i], ac_record_hash(rec), AC_HASH_SIZE);
        r->get_off[i] = ac_record_offset(rec);
        FUZZ_CHECK(ac_record_index(rec) == i, "get(%llu) returned record %llu",
                   (unsigned long long)i, (unsigned long long)ac_record_index(rec));
        ac_record_free(rec);
    }
}

static void do_iter(ac_chain *c, results *r, uint64_t start)
{
    ac_iter *it;
    r->iter_rc = ac_iter_open(c, start, UINT64_MAX, &it, NULL);
    if (r->iter_rc != AC_OK)
        return;
    for (;;) {
        ac_record *rec;
        int rc = ac_iter_next(it, &rec, NULL);
        if (rc <= 0) {
            r->iter_rc = rc;
            break;
        }
        FUZZ_CHECK(ac_record_index(rec) == start + r->iter_n, "iteration out of order");
        memcpy(r->iter_last, ac_record_hash(rec), AC_HASH_SIZE);
        r->iter_n++;
        ac_record_free(rec);
        if (r->iter_n > MAX_RECS)
            break;
    }
    ac_iter_free(it);
}

static void do_verify(ac_chain *c, results *r, int k, uint64_t start)
{
    ac_verify_options opt;
    ac_verify_options_init(&opt);
    opt.start = start;
    opt.threads = 1;
    ac_report *rep = NULL;
    r->ver_rc[k] = ac_verify(c, &opt, &rep, NULL);
    if (rep == NULL)
        return;
    r->valid[k] = ac_report_valid(rep);
    r->records[k] = ac_report_records(rep);
    r->fail[k] = ac_report_fail_index(rep);
    r->reason[k] = (int)ac_report_reason(rep);
    r->warns[k] = ac_report_warnings_total(rep);
    ac_report_free(rep);
}

/* Everything a reader asks of a chain, in one handle's life. */
static void run_ops(const char *dir, unsigned flags, results *r)
{
    memset(r, 0, sizeof *r);
    ac_chain *c = NULL;
    r->open_rc = ac_chain_open(dir, (flags & FS_READONLY) ? AC_OPEN_READONLY : 0, &c, NULL);
    if (r->open_rc != AC_OK)
        return;
    ac_chain_set_threads(c, 1);
    r->n_get = chain_records + 1;
    if (flags & FS_DESCEND)
        for (uint64_t i = r->n_get; i-- > 0;)
            do_get(c, r, i);
    r->state_rc = ac_chain_state(c, &r->st, NULL);
    r->empty = ac_chain_is_empty(c, NULL);
    if (!(flags & FS_DESCEND))
        for (uint64_t i = 0; i < r->n_get; i++)
            do_get(c, r, i);
    ac_record *head = NULL;
    r->head_rc = ac_chain_head(c, &head, NULL);
    if (head != NULL)
        memcpy(r->head_hash, ac_record_hash(head), AC_HASH_SIZE);
    ac_record_free(head);
    do_iter(c, r, 2);
    do_verify(c, r, 0, 0);
    do_verify(c, r, 1, 3);
    FUZZ_CHECK(ac_chain_close(c, NULL) == AC_OK, "close failed");
}

#define SAME(field, fmt, cast)                                                          \
    FUZZ_CHECK(got->field == want->field, "%s: " fmt " with caches, " fmt " without", #field, \
               (cast)got->field, (cast)want->field)
#define SAME_BYTES(field)                                                              \
    FUZZ_CHECK(memcmp(got->field, want->field, sizeof want->field) == 0,               \
               "%s differs with caches", #field)

static uint8_t chain_id[AC_HASH_SIZE]; /* the chain's, for the evidence rule */

/* Whether the state.cbor given says more was committed than `held` records
 * of `held_size` bytes (docs/format.md section 6; the harness's own reading
 * of the rule). */
static bool claims_loss(const uint8_t *st, size_t len, uint64_t held, uint64_t held_size)
{
    size_t pos = 0, vpos;
    det_token t;
    if (len == 0 || len > (64u << 10) || det_item_skip(st, len, &pos, AC_MAX_DEPTH) != 0 ||
        pos != len)
        return false;
    pos = 0;
    if (det_token_read(st, len, &pos, &t) != 0 || t.type != DET_MAP)
        return false;
    uint64_t count = 0, size = 0;
    if (det_map_find(st, len, "record_count", &vpos) != 0 ||
        det_token_read(st, len, &vpos, &t) != 0 || t.type != DET_UINT)
        return false;
    count = t.val;
    if (det_map_find(st, len, "chain_size", &vpos) == 0 &&
        det_token_read(st, len, &vpos, &t) == 0 && t.type == DET_UINT)
        size = t.val;
    if (held > 0 && (det_map_find(st, len, "chain_id", &vpos) != 0 ||
                     det_token_read(st, len, &vpos, &t) != 0 || t.type != DET_BYTES ||
                     t.val != AC_HASH_SIZE || memcmp(t.data, chain_id, AC_HASH_SIZE) != 0))
        return false;
    return count > held || size > held_size;
}

/* What the caches may change: a valid verification to `truncated` when the
 * state.cbor given is evidence of loss. */
static void allow_loss(results *want, const uint8_t *st, size_t st_len)
{
    static const uint64_t starts[2] = {0, 3};
    for (int k = 0; k < 2; k++) {
        uint64_t held = starts[k] + want->records[k];
        uint64_t held_size = want->state_rc == AC_OK ? want->st.chain_size : 0;
        if (want->ver_rc[k] == AC_OK && want->valid[k] && claims_loss(st, st_len, held, held_size)) {
            want->valid[k] = 0;
            want->fail[k] = (int64_t)held;
            want->reason[k] = AC_REASON_TRUNCATED;
        }
    }
}

static void compare(const results *got, const results *want)
{
    SAME(open_rc, "%d", int);
    SAME(state_rc, "%d", int);
    SAME(empty, "%d", int);
    SAME(st.head_index, "%llu", unsigned long long);
    SAME(st.record_count, "%llu", unsigned long long);
    SAME(st.created_at, "%llu", unsigned long long);
    SAME(st.last_append_at, "%llu", unsigned long long);
    SAME(st.chain_size, "%llu", unsigned long long);
    SAME(st.head_offset, "%llu", unsigned long long);
    SAME_BYTES(st.chain_id);
    SAME_BYTES(st.head_hash);
    SAME_BYTES(st.signer);
    for (uint64_t i = 0; i < want->n_get; i++) {
        FUZZ_CHECK(got->get_rc[i] == want->get_rc[i], "get(%llu): %d with caches, %d without",
                   (unsigned long long)i, got->get_rc[i], want->get_rc[i]);
        FUZZ_CHECK(memcmp(got->get_hash[i], want->get_hash[i], AC_HASH_SIZE) == 0 &&
                       got->get_off[i] == want->get_off[i],
                   "get(%llu) returned another record with caches", (unsigned long long)i);
    }
    SAME(head_rc, "%d", int);
    SAME_BYTES(head_hash);
    SAME(iter_rc, "%d", int);
    SAME(iter_n, "%llu", unsigned long long);
    SAME_BYTES(iter_last);
    for (int k = 0; k < 2; k++) {
        SAME(ver_rc[k], "%d", int);
        SAME(valid[k], "%d", int);
        SAME(records[k], "%llu", unsigned long long);
        SAME(fail[k], "%lld", long long);
        SAME(reason[k], "%d", int);
        SAME(warns[k], "%llu", unsigned long long);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char path[4096];
    fuzz_path(path, sizeof path, AC_FUZZ_VECTORS, CHAIN_VECTOR "/chain.bin");
    chain_bytes = fuzz_read_file(path, &chain_len);
    FUZZ_SETUP(chain_bytes != NULL);
    for (size_t i = 0; i < 3; i++) {
        int w = snprintf(path, sizeof path, "%s/keys/k%zu.pem", AC_FUZZ_VECTORS, i + 1);
        FUZZ_SETUP(w > 0 && (size_t)w < sizeof path);
        FUZZ_SETUP(ac_key_load(path, &keys[i], NULL) == AC_OK);
    }
    fuzz_tmpdir(work_dir, sizeof work_dir, "state");
    fuzz_tmpdir(ref_dir, sizeof ref_dir, "state-ref");
    FUZZ_SETUP(atexit(atexit_cleanup) == 0);
    fuzz_write_file(work_dir, AC_CHAIN_FILE, chain_bytes, chain_len);
    /* The truth: the chain alone, read-only so that no cache is made. */
    ac_chain *c;
    ac_state st;
    FUZZ_SETUP(ac_chain_open(work_dir, AC_OPEN_READONLY, &c, NULL) == AC_OK);
    FUZZ_SETUP(ac_chain_state(c, &st, NULL) == AC_OK && st.record_count < MAX_RECS);
    FUZZ_SETUP(ac_chain_close(c, NULL) == AC_OK);
    chain_records = st.record_count;
    memcpy(chain_id, st.chain_id, AC_HASH_SIZE);
    run_ops(work_dir, FS_READONLY, &want_full);
    FUZZ_SETUP(want_full.valid[0] == 1 && want_full.records[0] == chain_records);
    return 0;
}

/* Writes the caches; the state.cbor part is left in *st (NULL if none). */
static void put_caches(const uint8_t *data, size_t size, unsigned flags, const uint8_t **st,
                       size_t *st_len)
{
    const uint8_t *state = data, *index = data;
    size_t state_len = size, index_len = size;
    if ((flags & FS_STATE) && (flags & FS_INDEX)) {
        size_t split = size >= 2 ? (size_t)data[0] << 8 | data[1] : 0;
        data += size >= 2 ? 2 : size;
        size -= size >= 2 ? 2 : size;
        if (split > size)
            split = size;
        state = data, state_len = split;
        index = data + split, index_len = size - split;
    }
    *st = NULL;
    *st_len = 0;
    if (flags & FS_STATE) {
        fuzz_write_file(work_dir, AC_STATE_FILE, state, state_len);
        *st = state;
        *st_len = state_len;
    }
    if (flags & FS_INDEX)
        fuzz_write_file(work_dir, AC_INDEX_FILE, index, index_len);
}

/* The answers for the first `len` bytes of the chain, without caches. */
static void reference(size_t len, results *out)
{
    if (len == chain_len) {
        *out = want_full;
        return;
    }
    fuzz_clear_dir(ref_dir);
    fuzz_write_file(ref_dir, AC_CHAIN_FILE, chain_bytes, len);
    run_ops(ref_dir, FS_READONLY, out);
}

/* An append by the key authorized at the end of the prefix: refused, or
 * the chain verifies with one more record at the next index (no fork, nothing
 * lost), whatever the caches said. */
static void check_append(const results *want, size_t len)
{
    ac_key *key = keys[0];
    for (size_t i = 0; want->state_rc == AC_OK && i < 3; i++) {
        uint8_t pub[AC_PUBKEY_SIZE];
        ac_key_pubkey(keys[i], pub);
        if (memcmp(pub, want->st.signer, AC_PUBKEY_SIZE) == 0)
            key = keys[i];
    }
    ac_chain *c;
    FUZZ_CHECK(ac_chain_open(work_dir, 0, &c, NULL) == AC_OK, "open for append failed");
    ac_entry e;
    memset(&e, 0, sizeof e);
    e.content_type = "application/x-fuzz";
    ac_appended out;
    int rc = ac_append(c, key, &e, &out, NULL);
    FUZZ_CHECK(ac_chain_close(c, NULL) == AC_OK, "close after append failed");
    char path[4096];
    size_t now_len = 0;
    fuzz_path(path, sizeof path, work_dir, AC_CHAIN_FILE);
    uint8_t *now = fuzz_read_file(path, &now_len);
    FUZZ_SETUP(now != NULL);
    uint64_t complete = want->state_rc == AC_OK ? want->st.chain_size : 0;
    FUZZ_CHECK(now_len >= complete && memcmp(now, chain_bytes, complete) == 0,
               "append (rc %d) changed the %llu bytes of complete records", rc,
               (unsigned long long)complete);
    if (rc != AC_OK) {
        FUZZ_CHECK(now_len <= len && memcmp(now, chain_bytes, now_len) == 0,
                   "a refused append wrote to chain.bin");
        free(now);
        return;
    }
    free(now);
    uint64_t before = want->state_rc == AC_OK ? want->st.record_count : 0;
    FUZZ_CHECK(out.index == before, "appended at index %llu after %llu records",
               (unsigned long long)out.index, (unsigned long long)before);
    fuzz_unlink(work_dir, AC_STATE_FILE);
    fuzz_unlink(work_dir, AC_INDEX_FILE);
    FUZZ_CHECK(ac_chain_open(work_dir, AC_OPEN_READONLY, &c, NULL) == AC_OK, "reopen failed");
    ac_verify_options opt;
    ac_verify_options_init(&opt);
    opt.threads = 1;
    ac_report *rep = NULL;
    FUZZ_CHECK(ac_verify(c, &opt, &rep, NULL) == AC_OK, "verify after append could not run");
    FUZZ_CHECK(ac_report_valid(rep) && ac_report_records(rep) == before + 1,
               "after an append with caches: valid %d, %llu records (was %llu), fail %lld %s",
               ac_report_valid(rep), (unsigned long long)ac_report_records(rep),
               (unsigned long long)before, (long long)ac_report_fail_index(rep),
               ac_reason_name(ac_report_reason(rep)));
    ac_report_free(rep);
    FUZZ_CHECK(ac_chain_close(c, NULL) == AC_OK, "close failed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    data++, size--;
    size_t len = chain_len;
    if ((flags & FS_TRUNCATE) && size >= 2) {
        len = ((size_t)data[0] << 8 | data[1]) % (chain_len + 1);
        data += 2, size -= 2;
    }
    results want;
    reference(len, &want);
    fuzz_clear_dir(work_dir);
    fuzz_write_file(work_dir, AC_CHAIN_FILE, chain_bytes, len);
    const uint8_t *st;
    size_t st_len;
    put_caches(data, size, flags, &st, &st_len);
    if (st != NULL)
        allow_loss(&want, st, st_len);

    results got;
    run_ops(work_dir, flags, &got);
    compare(&got, &want);
    if (flags & FS_REOPEN) {
        /* Whatever the first handle left in the caches is trusted no more. */
        run_ops(work_dir, flags & ~(unsigned)FS_DESCEND, &got);
        compare(&got, &want);
    }
    char path[4096];
    size_t now_len = 0;
    fuzz_path(path, sizeof path, work_dir, AC_CHAIN_FILE);
    uint8_t *now = fuzz_read_file(path, &now_len);
    FUZZ_CHECK(now != NULL && now_len == len && memcmp(now, chain_bytes, len) == 0,
               "chain.bin was changed by readers");
    free(now);
    if (flags & FS_APPEND)
        check_append(&want, len);
    return 0;
}
