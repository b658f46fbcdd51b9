/* Unit tests for src/verify.c (format section 8): every shared vector gives
 * its case.json verdict, index, reason and warnings; ranges take the
 * authorized key and the previous hash from the history before them;
 * 1 and 4 threads give identical reports; witness warnings; progress. */
#include "testutil.h"

#include <dirent.h>

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

static ac_report *verify_range(ac_chain *c, uint64_t start, uint64_t end, unsigned threads)
{
    ac_verify_options opt;
    ac_verify_options_init(&opt);
    opt.start = start;
    opt.end = end;
    opt.threads = threads;
    ac_report *rep = NULL;
    ac_error err;
    int rc = ac_verify(c, &opt, &rep, &err);
    if (rc != AC_OK)
        fail_msg("verify %llu..%llu: %s", (unsigned long long)start, (unsigned long long)end,
                 err.message);
    return rep;
}

/* Two reports say exactly the same. */
static void assert_same_report(const ac_report *a, const ac_report *b)
{
    assert_int_equal(ac_report_valid(a), ac_report_valid(b));
    assert_int_equal(ac_report_records(a), ac_report_records(b));
    assert_int_equal(ac_report_fail_index(a), ac_report_fail_index(b));
    assert_int_equal(ac_report_reason(a), ac_report_reason(b));
    assert_string_equal(ac_report_detail(a), ac_report_detail(b));
    assert_int_equal(ac_report_warning_count(a), ac_report_warning_count(b));
    assert_int_equal(ac_report_warnings_total(a), ac_report_warnings_total(b));
    for (size_t i = 0; i < ac_report_warning_count(a); i++) {
        const ac_warning *x = ac_report_warning(a, i), *y = ac_report_warning(b, i);
        assert_int_equal(x->code, y->code);
        assert_int_equal(x->index, y->index);
        assert_int_equal(x->offset, y->offset);
        assert_int_equal(x->bytes, y->bytes);
        assert_int_equal(x->delta_us, y->delta_us);
    }
}

/* ---------------------------------------------------------------- the vectors */

/* The report against one case.json. */
static void check_case(const char *name, ac_chain *c, const ac_report *rep, json_t *cs)
{
    const char *expect = tu_case_string(cs, "expect");
    bool valid = strcmp(expect, "valid") == 0;
    if (ac_report_valid(rep) != (int)valid)
        fail_msg("%s: valid %d, expected %s (%s)", name, ac_report_valid(rep), expect,
                 ac_report_detail(rep));
    if (valid) {
        assert_int_equal(ac_report_fail_index(rep), -1);
        assert_int_equal(ac_report_reason(rep), AC_REASON_NONE);
        json_int_t records = json_integer_value(json_object_get(cs, "records"));
        assert_int_equal(ac_report_records(rep), (uint64_t)records);
        ac_state st;
        TU_OK(ac_chain_state(c, &st, NULL));
        char hex[2 * AC_HASH_SIZE + 1];
        ac_hex_encode(st.chain_id, AC_HASH_SIZE, hex);
        assert_string_equal(hex, tu_case_string(cs, "chain_id"));
        ac_hex_encode(st.head_hash, AC_HASH_SIZE, hex);
        assert_string_equal(hex, tu_case_string(cs, "head_hash"));
        assert_int_equal(st.record_count, (uint64_t)records);
        /* What verification itself computed, not the cache. */
        assert_non_null(ac_report_chain_id(rep));
        assert_non_null(ac_report_last_hash(rep));
        ac_hex_encode(ac_report_chain_id(rep), AC_HASH_SIZE, hex);
        assert_string_equal(hex, tu_case_string(cs, "chain_id"));
        ac_hex_encode(ac_report_last_hash(rep), AC_HASH_SIZE, hex);
        assert_string_equal(hex, tu_case_string(cs, "head_hash"));
    } else {
        json_int_t index = json_integer_value(json_object_get(cs, "index"));
        const char *reason = tu_case_string(cs, "reason");
        if (ac_report_fail_index(rep) != index ||
            strcmp(ac_reason_name(ac_report_reason(rep)), reason) != 0)
            fail_msg("%s: failed at %lld (%s), expected %lld (%s)", name,
                     (long long)ac_report_fail_index(rep),
                     ac_reason_name(ac_report_reason(rep)), (long long)index, reason);
        assert_int_equal(ac_report_records(rep), (uint64_t)index); /* those before it */
        assert_true(strlen(ac_report_detail(rep)) > 0);
        if (index == 0) {
            assert_null(ac_report_chain_id(rep));
            assert_null(ac_report_last_hash(rep));
        } else {
            assert_non_null(ac_report_chain_id(rep));
            assert_non_null(ac_report_last_hash(rep));
        }
    }
    /* Warnings: the same set of codes. */
    json_t *warns = json_object_get(cs, "warnings");
    assert_true(json_is_array(warns));
    for (size_t i = 0; i < ac_report_warning_count(rep); i++) {
        const char *got = ac_warning_name(ac_report_warning(rep, i)->code);
        bool listed = false;
        for (size_t k = 0; k < json_array_size(warns); k++)
            listed |= strcmp(json_string_value(json_array_get(warns, k)), got) == 0;
        if (!listed)
            fail_msg("%s: unexpected warning %s", name, got);
    }
    for (size_t k = 0; k < json_array_size(warns); k++) {
        const char *want = json_string_value(json_array_get(warns, k));
        bool seen = false;
        for (size_t i = 0; i < ac_report_warning_count(rep); i++)
            seen |= strcmp(ac_warning_name(ac_report_warning(rep, i)->code), want) == 0;
        if (!seen)
            fail_msg("%s: missing warning %s", name, want);
    }
}

static void test_vectors(void **state)
{
    (void)state;
    char root[4096];
    tu_vector_path(root, sizeof root, "");
    DIR *d = opendir(root);
    assert_non_null(d);
    struct dirent *e;
    size_t cases = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "valid-", 6) != 0 && strncmp(e->d_name, "invalid-", 8) != 0)
            continue;
        char dir[4200];
        tu_vector_path(dir, sizeof dir, e->d_name);
        json_t *cs = tu_load_case(e->d_name);
        /* Read-only: the shared vectors must not gain caches. */
        ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
        ac_report *one = verify_range(c, 0, UINT64_MAX, 1);
        ac_report *four = verify_range(c, 0, UINT64_MAX, 4);
        check_case(e->d_name, c, one, cs);
        assert_same_report(one, four);
        /* The torn tail's warning says where and how much. */
        if (strcmp(e->d_name, "valid-torn-tail") == 0) {
            assert_int_equal(ac_report_warning_count(one), 1);
            const ac_warning *w = ac_report_warning(one, 0);
            assert_int_equal(w->index, -1);
            assert_int_equal(w->offset, 1186);
            assert_int_equal(w->bytes, 54);
        }
        ac_report_free(one);
        ac_report_free(four);
        tu_close_chain(c);
        json_decref(cs);
        cases++;
    }
    assert_int_equal(closedir(d), 0);
    assert_true(cases >= 16);
}

/* ---------------------------------------------------------------- ranges */

/* valid-two-rotations: k1 signs 0..2 (2 rotates to k2), k2 signs 3..4
 * (4 rotates to k3), k3 signs 5.  Every range verifies, including those
 * that start after a rotation, where the first record's signer is only
 * authorized by the history before the range. */
static void test_ranges(void **state)
{
    (void)state;
    char dir[4200];
    tu_vector_path(dir, sizeof dir, "valid-two-rotations");
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    for (uint64_t s = 0; s < 6; s++) {
        for (uint64_t e = s; e <= 6; e++) {
            uint64_t end = e == 6 ? UINT64_MAX : e;
            ac_report *rep = verify_range(c, s, end, 2);
            if (!ac_report_valid(rep))
                fail_msg("range %llu..%llu: %s", (unsigned long long)s, (unsigned long long)e,
                         ac_report_detail(rep));
            assert_int_equal(ac_report_records(rep), (e == 6 ? 5 : e) - s + 1);
            /* The chain id is known only to a range from record 0. */
            assert_int_equal(ac_report_chain_id(rep) != NULL, s == 0);
            ac_record *last = NULL;
            TU_OK(ac_chain_get(c, e == 6 ? 5 : e, &last, NULL));
            assert_memory_equal(ac_report_last_hash(rep), ac_record_hash(last), AC_HASH_SIZE);
            ac_record_free(last);
            ac_report_free(rep);
        }
    }
    /* An end past the head stops at the head. */
    ac_report *rep = verify_range(c, 4, 100, 1);
    assert_int_equal(ac_report_valid(rep), 1);
    assert_int_equal(ac_report_records(rep), 2);
    ac_report_free(rep);
    /* Ranges that cannot run. */
    ac_verify_options opt;
    ac_verify_options_init(&opt);
    ac_error err;
    rep = (ac_report *)&rep;
    opt.start = 6;
    assert_int_equal(ac_verify(c, &opt, &rep, &err), AC_EINVAL);
    assert_null(rep);
    opt.start = 4;
    opt.end = 3;
    assert_int_equal(ac_verify(c, &opt, &rep, &err), AC_EINVAL);
    assert_null(rep);
    tu_close_chain(c);
}

/* A range that starts at a failing record fails there, for the same reason
 * as the whole chain: the previous hash and the authorized key come from
 * before the range, not from its first record. */
static void test_ranges_start_at_failure(void **state)
{
    (void)state;
    static const struct {
        const char *vector;
        uint64_t start;
        int64_t index;
        ac_reason reason;
        bool before_ok; /* whether records 0..start-1 verify on their own */
    } cases[] = {
        {"invalid-link", 3, 3, AC_REASON_LINK, true},
        {"invalid-revoked-key", 3, 3, AC_REASON_UNAUTHORIZED, true},
        {"invalid-unauthorized", 2, 2, AC_REASON_UNAUTHORIZED, true},
        {"invalid-content-tampered", 2, 2, AC_REASON_SIGNATURE, true},
        {"invalid-malleable-signature", 2, 2, AC_REASON_SIGNATURE, true},
        {"invalid-rotation-to-self", 1, 1, AC_REASON_ROTATION, true},
        /* A malformed rotation hands authority to nobody. */
        {"invalid-rotation-to-self", 2, 2, AC_REASON_UNAUTHORIZED, false},
        /* Chains whose end is damaged: the range is not judged by a state
         * that stops before the damage. */
        {"invalid-index-gap", 2, 2, AC_REASON_INDEX, true},
        {"invalid-noncanonical-int", 1, 1, AC_REASON_DECODE, true},
        {"invalid-oversize-frame", 2, 2, AC_REASON_FRAME, true},
        {"invalid-length-prefix-grown", 2, 2, AC_REASON_FRAME, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char dir[4200];
        tu_vector_path(dir, sizeof dir, cases[k].vector);
        ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
        ac_report *rep = verify_range(c, cases[k].start, UINT64_MAX, 1);
        if (ac_report_valid(rep) || ac_report_fail_index(rep) != cases[k].index ||
            ac_report_reason(rep) != cases[k].reason)
            fail_msg("%s from %llu: valid %d, index %lld, reason %s", cases[k].vector,
                     (unsigned long long)cases[k].start, ac_report_valid(rep),
                     (long long)ac_report_fail_index(rep), ac_reason_name(ac_report_reason(rep)));
        assert_int_equal(ac_report_records(rep), 0);
        ac_report_free(rep);
        /* The records before it are fine on their own. */
        if (cases[k].before_ok) {
            rep = verify_range(c, 0, cases[k].start - 1, 1);
            assert_int_equal(ac_report_valid(rep), 1);
            assert_int_equal(ac_report_records(rep), cases[k].start);
            ac_report_free(rep);
        }
        tu_close_chain(c);
    }
    /* From before the damage: the records up to it count, then the verdict. */
    char dir[4200];
    tu_vector_path(dir, sizeof dir, "invalid-index-gap");
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_report *rep = verify_range(c, 1, UINT64_MAX, 1);
    assert_int_equal(ac_report_fail_index(rep), 2);
    assert_int_equal(ac_report_reason(rep), AC_REASON_INDEX);
    assert_int_equal(ac_report_records(rep), 1);
    ac_report_free(rep);
    tu_close_chain(c);
}

/* ---------------------------------------------------------------- threads */

typedef struct progress_log {
    size_t calls;
    uint64_t last_done, last_total;
    bool backwards;
} progress_log;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_log *p = ctx;
    if (p->calls > 0 && done < p->last_done)
        p->backwards = true;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

/* A chain of n records, with a rotation at n / 2 (k1, then k2) when
 * `rotate`, each carrying `pad` bytes of metadata. */
static void build_chain_of(const char *dir, uint64_t n, bool rotate, size_t pad)
{
    ac_key *k1 = tu_load_key("k1"), *k2 = tu_load_key("k2");
    uint8_t p2[AC_PUBKEY_SIZE];
    ac_key_pubkey(k2, p2);
    ac_meta *m = NULL;
    char *text = NULL;
    if (pad > 0) {
        text = malloc(pad + 1);
        assert_non_null(text);
        memset(text, 'p', pad);
        text[pad] = '\0';
        TU_OK(ac_meta_new(&m, NULL));
        TU_OK(ac_meta_set_text(m, "pad", text, NULL));
    }
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    ac_entry e[64];
    for (size_t k = 0; k < 64; k++) {
        memset(e[k].content_hash, (int)k, AC_HASH_SIZE);
        e[k].content_type = "image/jpeg";
        e[k].metadata = m;
    }
    uint64_t half = rotate ? n / 2 : n, done = 0;
    while (done < n) {
        if (done == half) {
            TU_OK(ac_append_rotation(c, k1, p2, NULL, NULL));
            done++;
            continue;
        }
        uint64_t batch = done < half ? half - done : n - done;
        if (batch > 64)
            batch = 64;
        TU_OK(ac_append_batch(c, done < half ? k1 : k2, e, (size_t)batch, NULL, NULL));
        done += batch;
    }
    tu_close_chain(c);
    ac_meta_free(m);
    free(text);
    ac_key_free(k1);
    ac_key_free(k2);
}

/* 3000 records with a rotation at 1500, of about 2.4 KB each: the walk
 * reads them in several windows, and the rotation is not in the first. */
static void build_big_chain(const char *dir)
{
    build_chain_of(dir, 3000, true, 2000);
}

/* The offset in chain.bin of the signature bytes of record i. */
static uint64_t signature_offset(ac_chain *c, uint64_t i)
{
    ac_record *r = NULL;
    TU_OK(ac_chain_get(c, i, &r, NULL));
    size_t len;
    const uint8_t *b = ac_record_bytes(r, &len);
    uint64_t off = ac_record_offset(r) + 4 + (uint64_t)(ac_record_signature(r) - b);
    ac_record_free(r);
    return off;
}

static void flip_byte(const char *dir, uint64_t off)
{
    uint8_t b;
    tu_peek(dir, "chain.bin", off, &b, 1);
    b ^= 0x01;
    tu_poke(dir, "chain.bin", off, &b, 1);
}

static void compare_threads(ac_chain *c, uint64_t start, uint64_t end)
{
    ac_report *one = verify_range(c, start, end, 1);
    static const unsigned others[] = {2, 4, 7};
    for (size_t k = 0; k < 3; k++) {
        ac_report *more = verify_range(c, start, end, others[k]);
        assert_same_report(one, more);
        ac_report_free(more);
    }
    ac_report_free(one);
}

/* Opens dir without its caches: the rebuild must stop at record `index`. */
static void assert_rebuild_fails_at(const char *dir, uint64_t index)
{
    (void)tu_unlink(dir, "state.cbor");
    (void)tu_unlink(dir, "index.bin");
    (void)tu_unlink(dir, "merkle.bin");
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_state st;
    ac_error err;
    assert_int_equal(ac_chain_state(c, &st, &err), AC_ECORRUPT);
    assert_int_equal(err.index, (int64_t)index);
    tu_close_chain(c);
}

/* The 3000-record chain, built once for the tests that read it. */
static char big_base[2048], big_dir[2100];

static int big_setup(void **state)
{
    (void)state;
    tu_tmpdir(big_base, sizeof big_base);
    tu_path_in(big_dir, sizeof big_dir, big_base, "big");
    build_big_chain(big_dir);
    return 0;
}

static int big_teardown(void **state)
{
    (void)state;
    tu_rmtree(big_base);
    return 0;
}

static void test_threads_identical(void **state)
{
    (void)state;
    ac_chain *c = tu_open_chain(big_dir, AC_OPEN_READONLY);
    ac_report *rep = verify_range(c, 0, UINT64_MAX, 4);
    assert_int_equal(ac_report_valid(rep), 1);
    assert_int_equal(ac_report_records(rep), 3000);
    ac_report_free(rep);
    compare_threads(c, 0, UINT64_MAX);
    compare_threads(c, 1000, 2500);
    compare_threads(c, 1501, UINT64_MAX); /* starts after the rotation */
    uint64_t sig2345 = signature_offset(c, 2345), sig2999 = signature_offset(c, 2999);
    uint64_t sig700 = signature_offset(c, 700);
    tu_close_chain(c);

    /* Damage, in a copy: late in the chain, then earlier; the first
     * failure wins, the same for every thread count. */
    char dir[2100];
    tu_subdir(dir, sizeof dir, big_base, "damaged");
    tu_copy(big_dir, dir, "chain.bin");
    flip_byte(dir, sig2999);
    flip_byte(dir, sig2345);
    c = tu_open_chain(dir, AC_OPEN_READONLY);
    rep = verify_range(c, 0, UINT64_MAX, 4);
    assert_int_equal(ac_report_valid(rep), 0);
    assert_int_equal(ac_report_fail_index(rep), 2345);
    assert_int_equal(ac_report_reason(rep), AC_REASON_SIGNATURE);
    assert_int_equal(ac_report_records(rep), 2345);
    ac_report_free(rep);
    compare_threads(c, 0, UINT64_MAX);
    compare_threads(c, 2000, 2400);
    /* A range that ends before the damage is valid. */
    rep = verify_range(c, 0, 2344, 4);
    assert_int_equal(ac_report_valid(rep), 1);
    ac_report_free(rep);
    tu_close_chain(c);
    flip_byte(dir, sig700);
    c = tu_open_chain(dir, AC_OPEN_READONLY);
    rep = verify_range(c, 0, UINT64_MAX, 4);
    assert_int_equal(ac_report_fail_index(rep), 700);
    ac_report_free(rep);
    compare_threads(c, 0, UINT64_MAX);
    tu_close_chain(c);
    /* The rebuild (no state.cbor) meets it too: a damaged signature breaks
     * the next record's link. */
    assert_rebuild_fails_at(dir, 701);
    tu_rmtree(dir);
}

/* Small records, many to a window: the walk hands a full batch to the
 * threads before the window ends, and the next batch comes from the same
 * window. */
static void test_threads_small_records(void **state)
{
    (void)state;
    char dir[2100];
    tu_subdir(dir, sizeof dir, big_base, "small");
    build_chain_of(dir, 5000, false, 0);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_report *rep = verify_range(c, 0, UINT64_MAX, 2);
    assert_int_equal(ac_report_valid(rep), 1);
    assert_int_equal(ac_report_records(rep), 5000);
    ac_report_free(rep);
    uint64_t sig[] = {signature_offset(c, 4999), signature_offset(c, 4500),
                      signature_offset(c, 4096), signature_offset(c, 4095)};
    tu_close_chain(c);
    /* Each damage in turn, the latest first: the first failure wins. */
    static const uint64_t at[] = {4999, 4500, 4096, 4095};
    for (size_t k = 0; k < 4; k++) {
        flip_byte(dir, sig[k]);
        c = tu_open_chain(dir, AC_OPEN_READONLY);
        rep = verify_range(c, 0, UINT64_MAX, 2);
        assert_int_equal(ac_report_fail_index(rep), at[k]);
        ac_report_free(rep);
        compare_threads(c, 0, UINT64_MAX);
        tu_close_chain(c);
        /* The head's own signature is the one the rebuild checks. */
        assert_rebuild_fails_at(dir, at[k] < 4999 ? at[k] + 1 : 4999);
    }
    tu_rmtree(dir);
}

/* Progress is reported, never goes backwards, and ends at the range's end. */
static void test_progress(void **state)
{
    (void)state;
    ac_chain *c = tu_open_chain(big_dir, AC_OPEN_READONLY);
    static const struct {
        uint64_t start, end, want_done;
    } ranges[] = {{0, UINT64_MAX, 3000}, {0, 2999, 3000}, {500, 1999, 2000}};
    for (size_t k = 0; k < 3; k++) {
        for (unsigned threads = 1; threads <= 4; threads *= 4) {
            progress_log log = {0};
            ac_verify_options opt;
            ac_verify_options_init(&opt);
            opt.start = ranges[k].start;
            opt.end = ranges[k].end;
            opt.threads = threads;
            opt.progress = on_progress;
            opt.progress_ctx = &log;
            ac_report *rep = NULL;
            TU_OK(ac_verify(c, &opt, &rep, NULL));
            assert_int_equal(ac_report_valid(rep), 1);
            ac_report_free(rep);
            assert_true(log.calls >= 1);
            assert_false(log.backwards);
            assert_int_equal(log.last_done, ranges[k].want_done);
            assert_int_equal(log.last_total, ranges[k].want_done); /* never 0 */
        }
    }
    tu_close_chain(c);
}

/* ---------------------------------------------------------------- witness warnings */

typedef struct wit {
    bool boot, uptime, size;
    uint64_t uptime_us, chain_size;
} wit;

static void encode_wit(const wit *w, det_buf *b)
{
    static const uint8_t boot[16] = "BBBBBBBBBBBBBBBB";
    det_put_map(b, (size_t)w->boot + w->uptime + w->size);
    if (w->boot) {
        det_put_text(b, "boot_id", 7);
        det_put_bytes(b, boot, 16);
    }
    if (w->uptime) {
        det_put_text(b, "uptime_us", 9);
        det_put_uint(b, w->uptime_us);
    }
    if (w->size) {
        det_put_text(b, "chain_size", 10);
        det_put_uint(b, w->chain_size);
    }
}

/* A chain written here frame by frame, with witnesses chosen to draw (or
 * not) each warning of section 5; integrity is intact throughout. */
static void test_witness_warnings(void **state)
{
    (void)state;
    const uint64_t T = 1760000000000000ull, U = 50000000ull, S = 1000000ull;
    /* chain_size UINT64_MAX means "the frame's real offset". */
    const struct {
        uint64_t ts;
        wit w;
    } recs[] = {
        {T, {true, true, true, U, UINT64_MAX}},
        {T + S, {true, true, true, U + S, 999}},                   /* chain_size wrong */
        {T + 2 * S, {false, false, false, 0, 0}},                  /* no witnesses */
        {T + 3 * S / 2, {true, true, true, U + 5 * S / 2, UINT64_MAX}}, /* clock backwards */
        {T + 100 * S, {true, true, true, U + 3 * S, UINT64_MAX}},  /* wall clock jumped 98 s */
        {T + 101 * S, {true, true, true, U + 4 * S + S / 2, UINT64_MAX}}, /* 0.5 s off: fine */
    };
    const size_t n = sizeof recs / sizeof recs[0];
    ac_key *key = tu_load_key("k1");
    det_buf chain = {0}, w = {0};
    uint8_t prev[AC_HASH_SIZE] = {0};
    uint64_t offs[8];
    for (size_t i = 0; i < n; i++) {
        rec_fields f;
        memset(&f, 0, sizeof f);
        f.chain_index = i;
        f.claimed_ts = recs[i].ts;
        memcpy(f.prev_hash, prev, AC_HASH_SIZE);
        memset(f.content_hash, (int)i, AC_HASH_SIZE);
        f.content_type = "text/plain";
        f.metadata = (const uint8_t *)"\xa0";
        f.metadata_len = 1;
        wit wi = recs[i].w;
        if (wi.chain_size == UINT64_MAX)
            wi.chain_size = chain.len;
        w.len = 0;
        encode_wit(&wi, &w);
        f.witnesses = w.data;
        f.witnesses_len = w.len;
        ac_key_pubkey(key, f.signer);
        offs[i] = chain.len;
        size_t body_off;
        TU_OK(rec_build_frame(&f, key, &chain, &body_off, NULL));
        TU_OK(ac_sha256(chain.data + body_off, chain.len - body_off, prev, NULL));
    }
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    tu_spew(dir, "chain.bin", chain.data, chain.len);

    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_report *rep = verify_range(c, 0, UINT64_MAX, 1);
    if (!ac_report_valid(rep))
        fail_msg("%s", ac_report_detail(rep));
    assert_int_equal(ac_report_records(rep), n);
    assert_int_equal(ac_report_warning_count(rep), 3);
    assert_int_equal(ac_report_warnings_total(rep), 3);
    const ac_warning *x = ac_report_warning(rep, 0);
    assert_int_equal(x->code, AC_WARN_CHAIN_SIZE);
    assert_int_equal(x->index, 1);
    assert_int_equal(x->offset, offs[1]);
    assert_int_equal(x->bytes, 999);
    x = ac_report_warning(rep, 1);
    assert_int_equal(x->code, AC_WARN_CLOCK);
    assert_int_equal(x->index, 3);
    assert_int_equal(x->offset, offs[3]);
    assert_true(x->delta_us < 0);
    x = ac_report_warning(rep, 2);
    assert_int_equal(x->code, AC_WARN_CLOCK);
    assert_int_equal(x->index, 4);
    assert_true(x->delta_us == (int64_t)(98 * S)); /* 98.5 s of clock, 0.5 s of uptime */
    assert_null(ac_report_warning(rep, 3));
    assert_string_equal(ac_warning_name(AC_WARN_CHAIN_SIZE), "chain_size");
    assert_string_equal(ac_warning_name(AC_WARN_CLOCK), "clock");
    assert_string_equal(ac_warning_name(AC_WARN_TORN_TAIL), "torn_tail");
    ac_report *four = verify_range(c, 0, UINT64_MAX, 4);
    assert_same_report(rep, four);
    ac_report_free(four);
    ac_report_free(rep);
    /* A range starting at the wrong witness still sees it. */
    rep = verify_range(c, 1, 1, 1);
    assert_int_equal(ac_report_warning_count(rep), 1);
    assert_int_equal(ac_report_warning(rep, 0)->code, AC_WARN_CHAIN_SIZE);
    ac_report_free(rep);
    tu_close_chain(c);
    det_buf_free(&chain);
    det_buf_free(&w);
    ac_key_free(key);
    tu_rmtree(dir);
}

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const names[] = {"",          "frame", "decode",       "index",
                                        "genesis",   "link",  "signature",    "unauthorized",
                                        "rotation"};
    for (int r = AC_REASON_NONE; r <= AC_REASON_ROTATION; r++)
        assert_string_equal(ac_reason_name((ac_reason)r), names[r]);
}

int main(void)
{
    if (tu_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_ranges_start_at_failure),
        cmocka_unit_test(test_witness_warnings),
        cmocka_unit_test(test_reason_names),
    };
    /* These share one 3000-record chain, built by the group's setup. */
    const struct CMUnitTest big_tests[] = {
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_threads_small_records),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    failed += cmocka_run_group_tests(big_tests, big_setup, big_teardown);
    return failed;
}
