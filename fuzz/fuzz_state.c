/* fuzz_state: arbitrary state.cbor and index.bin beside a fixed valid chain.
 *
 * The caches are derived from chain.bin and validated before use, so they
 * must never change an answer: with whatever bytes are in them, opening the
 * chain, its state, every get, the head, an iteration and verification
 * (whole and from a middle record) give exactly what the same chain.bin
 * gives with no caches at all, and chain.bin is never written.
 *
 * Input: byte 0 is a set of flags (FS_*).  With both FS_STATE and FS_INDEX
 * the next two bytes (big-endian) are the length of the state.cbor part and
 * the rest is index.bin; with one of them the rest is that file.  The chain is
 * AC_FUZZ_VECTORS/valid-two-rotations (six records, two key rotations, so the
 * authorized signer is not record 0's).  One temporary directory is reused. */
#include "fuzz.h"

#define FS_STATE 0x01u    /* write state.cbor */
#define FS_INDEX 0x02u    /* write index.bin */
#define FS_READONLY 0x04u /* open with AC_OPEN_READONLY */
#define FS_REOPEN 0x08u   /* run everything again with a second handle */
#define FS_DESCEND 0x10u  /* get the records last to first, before the state */

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
static results want; /* the chain without caches */

static void atexit_cleanup(void) { fuzz_remove_dir(work_dir); }

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
    r->open_rc = ac_chain_open(&c, dir, (flags & FS_READONLY) ? AC_OPEN_READONLY : 0, NULL);
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
    FUZZ_CHECK(got->field == want.field, "%s: " fmt " with caches, " fmt " without", #field, \
               (cast)got->field, (cast)want.field)
#define SAME_BYTES(field)                                                              \
    FUZZ_CHECK(memcmp(got->field, want.field, sizeof want.field) == 0,                 \
               "%s differs with caches", #field)

static void compare(const results *got)
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
    for (uint64_t i = 0; i < want.n_get; i++) {
        FUZZ_CHECK(got->get_rc[i] == want.get_rc[i], "get(%llu): %d with caches, %d without",
                   (unsigned long long)i, got->get_rc[i], want.get_rc[i]);
        FUZZ_CHECK(memcmp(got->get_hash[i], want.get_hash[i], AC_HASH_SIZE) == 0 &&
                       got->get_off[i] == want.get_off[i],
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
    fuzz_tmpdir(work_dir, sizeof work_dir, "state");
    FUZZ_SETUP(atexit(atexit_cleanup) == 0);
    fuzz_write_file(work_dir, AC_CHAIN_FILE, chain_bytes, chain_len);
    /* The truth: the chain alone, read-only so that no cache is made. */
    ac_chain *c;
    ac_state st;
    FUZZ_SETUP(ac_chain_open(&c, work_dir, AC_OPEN_READONLY, NULL) == AC_OK);
    FUZZ_SETUP(ac_chain_state(c, &st, NULL) == AC_OK && st.record_count < MAX_RECS);
    FUZZ_SETUP(ac_chain_close(c, NULL) == AC_OK);
    chain_records = st.record_count;
    run_ops(work_dir, FS_READONLY, &want);
    FUZZ_SETUP(want.valid[0] == 1 && want.records[0] == chain_records);
    return 0;
}

static void put_caches(const uint8_t *data, size_t size, unsigned flags)
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
    if (flags & FS_STATE)
        fuzz_write_file(work_dir, AC_STATE_FILE, state, state_len);
    if (flags & FS_INDEX)
        fuzz_write_file(work_dir, AC_INDEX_FILE, index, index_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    fuzz_clear_dir(work_dir);
    fuzz_write_file(work_dir, AC_CHAIN_FILE, chain_bytes, chain_len);
    put_caches(data + 1, size - 1, flags);

    results got;
    run_ops(work_dir, flags, &got);
    compare(&got);
    if (flags & FS_REOPEN) {
        /* Whatever the first handle left in the caches is trusted no more. */
        run_ops(work_dir, flags & ~(unsigned)FS_DESCEND, &got);
        compare(&got);
    }
    char path[4096];
    size_t len = 0;
    fuzz_path(path, sizeof path, work_dir, AC_CHAIN_FILE);
    uint8_t *now = fuzz_read_file(path, &len);
    FUZZ_CHECK(now != NULL && len == chain_len && memcmp(now, chain_bytes, len) == 0,
               "chain.bin was changed by readers");
    free(now);
    return 0;
}
