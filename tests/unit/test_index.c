/* Unit tests for src/index.c: index.bin is a cache of frame offsets.
 * Whatever it holds (nothing, garbage, a truncated or another chain's
 * index, a wrong entry, a directory or a symlink), get(i) and iteration
 * return the right records, and a writable handle leaves a correct index
 * behind. */
#include "testutil.h"

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

/* Appends n records whose metadata sizes vary, so that frames differ in
 * length and no offset can be guessed from another. */
static void append_varied(ac_chain *c, const ac_key *key, uint64_t first, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        ac_meta *m = NULL;
        TU_OK(ac_meta_new(&m, NULL));
        char v[200];
        size_t len = ((first + k) * 37) % 150;
        memset(v, 'v', len);
        v[len] = '\0';
        TU_OK(ac_meta_set_text(m, "pad", v, NULL));
        ac_entry e = {.content_type = "text/plain", .metadata = m};
        memset(e.content_hash, (int)(first + k), AC_HASH_SIZE);
        ac_appended out;
        TU_OK(ac_append(c, key, &e, &out, NULL));
        assert_int_equal(out.index, first + k);
        ac_meta_free(m);
    }
}

/* The frames of a chain directory's chain.bin, parsed here. */
typedef struct layout {
    uint8_t *file;
    size_t size;
    size_t n;
    size_t off[128];
    uint8_t chain_id[AC_HASH_SIZE];
} layout;

static void read_layout(const char *dir, layout *l)
{
    memset(l, 0, sizeof *l);
    l->file = tu_slurp(dir, "chain.bin", &l->size);
    assert_non_null(l->file);
    size_t end;
    l->n = tu_frame_offsets(l->file, l->size, l->off, 128, &end);
    assert_int_equal(end, l->size); /* complete frames, all of them */
    /* chain_id: SHA-256 of record 0 without its signature. */
    const uint8_t *b0 = l->file + 4;
    size_t len0 = (size_t)(l->off[1] - 4);
    ac_rec r;
    assert_int_equal(rec_decode(b0, len0, &r, NULL), 0);
    uint8_t *canon = malloc(len0);
    assert_non_null(canon);
    size_t clen = rec_canonical(b0, len0, &r, canon);
    TU_OK(ac_sha256(canon, clen, l->chain_id, NULL));
    free(canon);
}

/* index.bin as index.c documents it: 8 bytes of magic, the first 8 bytes
 * of the chain id, then one little-endian u64 offset per record. */
static uint8_t *expected_index(const layout *l, size_t *len)
{
    *len = 16 + 8 * l->n;
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    memcpy(b, "ACIDX\0\0\1", 8);
    memcpy(b + 8, l->chain_id, 8);
    for (size_t i = 0; i < l->n; i++)
        for (int k = 0; k < 8; k++)
            b[16 + 8 * i + (size_t)k] = (uint8_t)(l->off[i] >> (8 * k));
    return b;
}

/* Every record by get, in an order that jumps about, and iterations from
 * several starts: each is the frame at the offset parsed here. */
static void assert_reads_right(ac_chain *c, const layout *l)
{
    for (size_t step = 0; step < l->n; step++) {
        uint64_t i = (step * 17 + 5) % l->n;
        ac_record *r = NULL;
        ac_error err;
        int rc = ac_chain_get(c, i, &r, &err);
        if (rc != AC_OK)
            fail_msg("get %llu: %s", (unsigned long long)i, err.message);
        assert_int_equal(ac_record_index(r), i);
        assert_true(ac_record_offset(r) == l->off[i]);
        size_t len;
        const uint8_t *b = ac_record_bytes(r, &len);
        assert_memory_equal(b, l->file + l->off[i] + 4, len);
        ac_record_free(r);
    }
    static const uint64_t starts[] = {0, 1, 17, 39};
    for (size_t s = 0; s < 4; s++) {
        if (starts[s] >= l->n)
            continue;
        ac_iter *it = NULL;
        TU_OK(ac_iter_open(c, starts[s], UINT64_MAX, &it, NULL));
        ac_record *r;
        uint64_t want = starts[s];
        int rc;
        ac_error err;
        while ((rc = ac_iter_next(it, &r, &err)) == 1) {
            assert_int_equal(ac_record_index(r), want);
            assert_true(ac_record_offset(r) == l->off[want]);
            ac_record_free(r);
            want++;
        }
        if (rc != 0)
            fail_msg("iterating from %llu: %s", (unsigned long long)starts[s], err.message);
        assert_int_equal(want, l->n);
        ac_iter_free(it);
    }
}

static void assert_index_is(const char *dir, const layout *l)
{
    size_t want_len, got_len;
    uint8_t *want = expected_index(l, &want_len);
    uint8_t *got = tu_slurp(dir, "index.bin", &got_len);
    assert_non_null(got);
    if (got_len != want_len || memcmp(got, want, want_len) != 0)
        fail_msg("%s/index.bin: %zu bytes, expected %zu, or different entries", dir, got_len,
                 want_len);
    free(want);
    free(got);
}

/* ---------------------------------------------------------------- fixtures */

static char base[2048], ref[2100], other[2100];
static layout ref_layout;

static int setup(void **state)
{
    (void)state;
    tu_tmpdir(base, sizeof base);
    tu_path_in(ref, sizeof ref, base, "ref");
    tu_path_in(other, sizeof other, base, "other");
    ac_key *key = tu_new_key(NULL);
    ac_chain *c = tu_open_chain(ref, AC_OPEN_CREATE);
    append_varied(c, key, 0, 40);
    tu_close_chain(c);
    /* Another chain: another key, so another chain id. */
    ac_key_free(key);
    key = tu_new_key(NULL);
    c = tu_open_chain(other, AC_OPEN_CREATE);
    append_varied(c, key, 0, 30);
    ac_record *r = NULL;
    TU_OK(ac_chain_get(c, 29, &r, NULL)); /* gives it an index.bin */
    ac_record_free(r);
    tu_close_chain(c);
    ac_key_free(key);
    read_layout(ref, &ref_layout);
    assert_int_equal(ref_layout.n, 40);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(ref_layout.file);
    tu_rmtree(base);
    return 0;
}

/* A copy of the reference chain.bin and state.cbor in base/<name>, with
 * index.bin holding `idx` (or no index.bin for NULL). */
static void chain_with_index(const char *name, const void *idx, size_t idx_len, char *dir,
                             size_t n)
{
    tu_subdir(dir, n, base, "%s", name);
    tu_spew(dir, "chain.bin", ref_layout.file, ref_layout.size);
    tu_copy(ref, dir, "state.cbor");
    if (idx != NULL)
        tu_spew(dir, "index.bin", idx, idx_len);
}

/* The handle reads right, and leaves the correct index behind. */
static void assert_repaired(const char *dir)
{
    ac_chain *c = tu_open_chain(dir, 0);
    assert_reads_right(c, &ref_layout);
    tu_close_chain(c);
    assert_index_is(dir, &ref_layout);
    /* And a second handle reads right through it. */
    c = tu_open_chain(dir, AC_OPEN_READONLY);
    assert_reads_right(c, &ref_layout);
    tu_close_chain(c);
}

/* ---------------------------------------------------------------- tests */

static void test_created(void **state)
{
    (void)state;
    char dir[2200];
    chain_with_index("created", NULL, 0, dir, sizeof dir);
    assert_repaired(dir);
}

static void test_garbage_and_truncated(void **state)
{
    (void)state;
    size_t good_len;
    uint8_t *good = expected_index(&ref_layout, &good_len);
    uint8_t noise[500];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)(i * 113u + 1u);
    const struct {
        const char *name;
        const uint8_t *data;
        size_t len;
    } cases[] = {
        {"noise", noise, sizeof noise},
        {"empty", noise, 0},
        {"partial-header", good, 10},
        {"header-only", good, 16},
        {"three-and-a-half", good, 16 + 3 * 8 + 4},
        {"all-but-one-byte", good, good_len - 1},
        {"all-but-one-entry", good, good_len - 8},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char dir[2200];
        chain_with_index(cases[k].name, cases[k].data, cases[k].len, dir, sizeof dir);
        assert_repaired(dir);
    }
    free(good);
}

static void test_other_chain(void **state)
{
    (void)state;
    size_t len;
    uint8_t *idx = tu_slurp(other, "index.bin", &len);
    assert_non_null(idx);
    assert_int_equal(len, 16 + 8 * 30);
    char dir[2200];
    chain_with_index("from-other", idx, len, dir, sizeof dir);
    assert_repaired(dir);
    free(idx);
}

/* The right header, a wrong entry: anywhere, pointing at another frame or
 * into a body. */
static void test_wrong_entries(void **state)
{
    (void)state;
    static const struct {
        size_t entry;
        int how; /* 0: the next frame's offset, 1: one byte on, 2: past the end */
    } cases[] = {{17, 0}, {17, 1}, {0, 1}, {1, 0}, {39, 1}, {38, 0}, {20, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t len;
        uint8_t *idx = expected_index(&ref_layout, &len);
        size_t e = cases[k].entry;
        uint64_t v = cases[k].how == 0   ? ref_layout.off[e + 1]
                     : cases[k].how == 1 ? ref_layout.off[e] + 1
                                         : (uint64_t)ref_layout.size + 1000;
        for (int b = 0; b < 8; b++)
            idx[16 + 8 * e + (size_t)b] = (uint8_t)(v >> (8 * b));
        char name[32], dir[2200];
        snprintf(name, sizeof name, "wrong-%zu", k);
        chain_with_index(name, idx, len, dir, sizeof dir);
        assert_repaired(dir);
        free(idx);
    }
}

/* More entries than records (an index from a longer past of this chain):
 * the extra ones are never used. */
static void test_longer(void **state)
{
    (void)state;
    size_t len;
    uint8_t *good = expected_index(&ref_layout, &len);
    uint8_t *longer = malloc(len + 5 * 8);
    assert_non_null(longer);
    memcpy(longer, good, len);
    memset(longer + len, 0x5c, 5 * 8);
    char dir[2200];
    chain_with_index("longer", longer, len + 40, dir, sizeof dir);
    ac_chain *c = tu_open_chain(dir, 0);
    assert_reads_right(c, &ref_layout);
    ac_record *r = (ac_record *)&r;
    assert_int_equal(ac_chain_get(c, 40, &r, NULL), AC_ENOTFOUND);
    assert_null(r);
    tu_close_chain(c);
    free(good);
    free(longer);
}

/* index.bin a directory or a symlink: read around it, never through it. */
static void test_not_a_file(void **state)
{
    (void)state;
    char dir[2200], p[2300];
    chain_with_index("index-dir", NULL, 0, dir, sizeof dir);
    tu_path_in(p, sizeof p, dir, "index.bin");
    assert_int_equal(mkdir(p, 0700), 0);
    ac_chain *c = tu_open_chain(dir, 0);
    assert_reads_right(c, &ref_layout);
    tu_close_chain(c);

    /* A link to a file of garbage: not followed, so not rewritten. */
    char target[2300];
    tu_path_in(target, sizeof target, base, "target.bin");
    tu_spew(base, "target.bin", "not an index", 12);
    chain_with_index("index-link", NULL, 0, dir, sizeof dir);
    tu_path_in(p, sizeof p, dir, "index.bin");
    assert_int_equal(symlink(target, p), 0);
    c = tu_open_chain(dir, 0);
    assert_reads_right(c, &ref_layout);
    tu_close_chain(c);
    size_t tlen;
    uint8_t *t = tu_slurp(base, "target.bin", &tlen);
    assert_int_equal(tlen, 12);
    assert_memory_equal(t, "not an index", 12);
    free(t);
}

/* A read-only handle reads right through a damaged index and leaves it be. */
static void test_readonly(void **state)
{
    (void)state;
    size_t len;
    uint8_t *idx = expected_index(&ref_layout, &len);
    idx[16 + 8 * 10] ^= 0x40; /* entry 10 */
    char dir[2200];
    chain_with_index("readonly", idx, len, dir, sizeof dir);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    assert_reads_right(c, &ref_layout);
    tu_close_chain(c);
    size_t got_len;
    uint8_t *got = tu_slurp(dir, "index.bin", &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, idx, len);
    free(got);
    free(idx);
    /* Without any index.bin, none is created. */
    chain_with_index("readonly-none", NULL, 0, dir, sizeof dir);
    c = tu_open_chain(dir, AC_OPEN_READONLY);
    assert_reads_right(c, &ref_layout);
    tu_close_chain(c);
    assert_false(tu_exists(dir, "index.bin"));
}

/* Appends extend the index: after more records, by this handle or
 * another, it holds all of them. */
static void test_extended_by_appends(void **state)
{
    (void)state;
    char dir[2200];
    tu_path_in(dir, sizeof dir, base, "extended");
    ac_key *key = tu_new_key(NULL);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    append_varied(c, key, 0, 10);
    ac_record *r = NULL;
    TU_OK(ac_chain_get(c, 9, &r, NULL)); /* the index is open and complete */
    ac_record_free(r);
    append_varied(c, key, 10, 7);
    tu_close_chain(c);
    layout l;
    read_layout(dir, &l);
    assert_int_equal(l.n, 17);
    assert_index_is(dir, &l);
    free(l.file);

    /* Another handle appends while this one holds the index open. */
    c = tu_open_chain(dir, 0);
    TU_OK(ac_chain_get(c, 16, &r, NULL));
    ac_record_free(r);
    ac_chain *d = tu_open_chain(dir, 0);
    append_varied(d, key, 17, 3);
    tu_close_chain(d);
    read_layout(dir, &l);
    assert_int_equal(l.n, 20);
    assert_reads_right(c, &l);
    tu_close_chain(c);
    assert_index_is(dir, &l);
    free(l.file);
    ac_key_free(key);
}

TU_MAIN(setup, teardown,
        cmocka_unit_test(test_created),
        cmocka_unit_test(test_garbage_and_truncated),
        cmocka_unit_test(test_other_chain),
        cmocka_unit_test(test_wrong_entries),
        cmocka_unit_test(test_longer),
        cmocka_unit_test(test_not_a_file),
        cmocka_unit_test(test_readonly),
        cmocka_unit_test(test_extended_by_appends))
