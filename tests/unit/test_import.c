/* Unit tests for src/import.c: records someone else signed are appended
 * byte for byte, in batches, through rotations; a batch with any bad record
 * (signature, index, link, authority, genesis pin, the caller's check)
 * writes nothing, not even an empty chain.bin; a damaged chain refuses. */
#include "testutil.h"

#include "internal.h"

/* The source: 6 records by k1, a rotation to k2, 5 records by k2 (12). */
#define SRC_RECORDS 12

typedef struct source {
    char base[4096], src[4200], dst[4200];
    uint8_t k2pub[AC_PUBKEY_SIZE], k1pub[AC_PUBKEY_SIZE];
    uint8_t *bodies[SRC_RECORDS];
    size_t lens[SRC_RECORDS];
} source;

static void source_make(source *s)
{
    tu_tmpdir(s->base, sizeof s->base);
    tu_path_in(s->src, sizeof s->src, s->base, "src");
    tu_path_in(s->dst, sizeof s->dst, s->base, "dst");
    ac_key *k1 = tu_new_key(s->k1pub), *k2 = tu_new_key(s->k2pub);
    ac_chain *c = tu_open_chain(s->src, AC_OPEN_CREATE);
    tu_append_ok(c, k1, 0, 6, NULL);
    TU_OK(ac_append_rotation(c, k1, s->k2pub, NULL, NULL));
    tu_append_ok(c, k2, 7, 5, NULL);
    for (uint64_t i = 0; i < SRC_RECORDS; i++) {
        ac_record *r;
        TU_OK(ac_chain_get_verified(c, i, &r, NULL));
        const uint8_t *b = ac_record_bytes(r, &s->lens[i]);
        s->bodies[i] = malloc(s->lens[i]);
        memcpy(s->bodies[i], b, s->lens[i]);
        ac_record_free(r);
    }
    tu_close_chain(c);
    ac_key_free(k1);
    ac_key_free(k2);
}

static void source_free(source *s)
{
    for (size_t i = 0; i < SRC_RECORDS; i++)
        free(s->bodies[i]);
    tu_rmtree(s->base);
}

static int import_range(const char *dir, source *s, size_t from, size_t n,
                        const ac_import_options *opt, ac_error *err)
{
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    int rc = ac_import(c, (const uint8_t *const *)s->bodies + from, s->lens + from, n, opt, err);
    tu_close_chain(c);
    return rc;
}

static void assert_same_prefix(source *s, size_t records)
{
    size_t a, b;
    uint8_t *src = tu_slurp(s->src, "chain.bin", &a);
    uint8_t *dst = tu_slurp(s->dst, "chain.bin", &b);
    assert_non_null(src);
    assert_non_null(dst);
    size_t want = 0;
    for (size_t i = 0; i < records; i++)
        want += 4 + s->lens[i];
    assert_int_equal(b, want);
    assert_memory_equal(src, dst, b);
    free(src);
    free(dst);
    ac_chain *c = tu_open_chain(s->dst, AC_OPEN_READONLY);
    ac_report_free(tu_verify_ok(c, records));
    tu_close_chain(c);
}

static void test_copy_in_batches(void **state)
{
    (void)state;
    source s;
    source_make(&s);
    ac_error err;
    /* Through the rotation at 6, in three batches. */
    TU_OK(import_range(s.dst, &s, 0, 4, NULL, &err));
    assert_same_prefix(&s, 4);
    TU_OK(import_range(s.dst, &s, 4, 5, NULL, &err));
    TU_OK(import_range(s.dst, &s, 9, 3, NULL, &err));
    assert_same_prefix(&s, SRC_RECORDS);
    /* The import's chain is an ordinary one: its head state follows the
     * rotation, and the authorized key may append. */
    ac_chain *c = tu_open_chain(s.dst, 0);
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));
    assert_int_equal(st.record_count, SRC_RECORDS);
    assert_memory_equal(st.signer, s.k2pub, AC_PUBKEY_SIZE);
    tu_close_chain(c);
    /* The offset index that the imports kept is the chain's, and right. */
    c = tu_open_chain(s.dst, AC_OPEN_READONLY);
    for (uint64_t i = 0; i < SRC_RECORDS; i++) {
        ac_record *r;
        size_t len;
        TU_OK(ac_chain_get(c, i, &r, NULL));
        const uint8_t *b = ac_record_bytes(r, &len);
        assert_int_equal(len, s.lens[i]);
        assert_memory_equal(b, s.bodies[i], len);
        ac_record_free(r);
    }
    tu_close_chain(c);
    size_t ilen;
    uint8_t *idx = tu_slurp(s.dst, "index.bin", &ilen);
    assert_non_null(idx);
    assert_int_equal(ilen, 16 + 8 * SRC_RECORDS);
    assert_memory_equal(idx + 8, st.chain_id, 8); /* format section 8: the chain's own */
    free(idx);
    source_free(&s);
}

/* The same record twice, a gap, or a record of another chain: nothing. */
static void test_index_and_link(void **state)
{
    (void)state;
    source s;
    source_make(&s);
    ac_error err;
    TU_OK(import_range(s.dst, &s, 0, 3, NULL, &err));
    tu_snap snap = tu_snap_take(s.dst, "chain.bin");
    assert_int_equal(import_range(s.dst, &s, 2, 3, NULL, &err), AC_ECORRUPT);
    assert_int_equal(err.index, 3);
    assert_non_null(strstr(err.message, "index"));
    assert_int_equal(import_range(s.dst, &s, 4, 2, NULL, &err), AC_ECORRUPT);
    assert_int_equal(err.index, 3);
    tu_assert_unchanged(&snap);
    snap = tu_snap_take(s.dst, "chain.bin");

    /* Record 3 of another chain by the same key links elsewhere. */
    source other;
    source_make(&other);
    uint8_t *save = s.bodies[3];
    size_t save_len = s.lens[3];
    s.bodies[3] = other.bodies[3];
    s.lens[3] = other.lens[3];
    assert_int_equal(import_range(s.dst, &s, 3, 2, NULL, &err), AC_ECORRUPT);
    assert_int_equal(err.index, 3);
    assert_non_null(strstr(err.message, "link"));
    s.bodies[3] = save;
    s.lens[3] = save_len;
    tu_assert_unchanged(&snap);
    source_free(&other);
    source_free(&s);
}

/* A bad signature in the middle of a batch: nothing of the batch, and on an
 * empty chain not even an empty chain.bin. */
static void test_all_or_none(void **state)
{
    (void)state;
    source s;
    source_make(&s);
    ac_error err;
    size_t sig_at = s.lens[5] - 10;
    s.bodies[5][sig_at] ^= 1;
    assert_int_equal(import_range(s.dst, &s, 0, 8, NULL, &err), AC_ECORRUPT);
    assert_int_equal(err.index, 5);
    assert_non_null(strstr(err.message, "signature"));
    assert_false(tu_exists(s.dst, "chain.bin"));
    s.bodies[5][sig_at] ^= 1;
    TU_OK(import_range(s.dst, &s, 0, 8, NULL, &err));
    assert_same_prefix(&s, 8);
    source_free(&s);
}

/* Record 7 signed by k1 after the rotation to k2 is unauthorized: made
 * here by signing record 7's fields again with k1. */
static void test_unauthorized_after_rotation(void **state)
{
    (void)state;
    source s;
    source_make(&s);
    ac_error err;
    TU_OK(import_range(s.dst, &s, 0, 7, NULL, &err));
    ac_rec rec;
    assert_int_equal(rec_decode(s.bodies[7], s.lens[7], &rec, NULL), 0);
    rec_fields f = {.chain_index = rec.chain_index, .claimed_ts = rec.claimed_ts,
                    .metadata = rec.metadata, .metadata_len = rec.metadata_len,
                    .witnesses = rec.witnesses, .witnesses_len = rec.witnesses_len};
    memcpy(f.record_id, rec.record_id, AC_RECORD_ID_SIZE);
    memcpy(f.prev_hash, rec.prev_hash, AC_HASH_SIZE);
    memcpy(f.content_hash, rec.content_hash, AC_HASH_SIZE);
    char ct[AC_MAX_CONTENT_TYPE + 1];
    memcpy(ct, rec.content_type, rec.content_type_len);
    ct[rec.content_type_len] = '\0';
    f.content_type = ct;
    /* k1 is not kept by source_make: a fresh key stands for "not k2". */
    ac_key *k = tu_new_key(f.signer);
    det_buf out = {0};
    size_t body_off;
    TU_OK(rec_build_frame(&f, k, &out, &body_off, NULL));
    const uint8_t *body = out.data + body_off;
    size_t len = out.len - body_off;
    ac_chain *c = tu_open_chain(s.dst, 0);
    tu_snap snap = tu_snap_take(s.dst, "chain.bin");
    assert_int_equal(ac_import(c, &body, &len, 1, NULL, &err), AC_EUNAUTHORIZED);
    assert_int_equal(err.index, 7);
    tu_assert_unchanged(&snap);
    tu_close_chain(c);
    det_buf_free(&out);
    ac_key_free(k);
    source_free(&s);
}

static void test_genesis_pin(void **state)
{
    (void)state;
    source s;
    source_make(&s);
    ac_error err;
    ac_import_options opt = {.genesis_key = s.k2pub};
    assert_int_equal(import_range(s.dst, &s, 0, 3, &opt, &err), AC_EUNAUTHORIZED);
    assert_false(tu_exists(s.dst, "chain.bin"));
    opt.genesis_key = s.k1pub;
    TU_OK(import_range(s.dst, &s, 0, 3, &opt, &err));
    /* Later batches are held to the chain's own record 0. */
    opt.genesis_key = s.k2pub;
    assert_int_equal(import_range(s.dst, &s, 3, 2, &opt, &err), AC_EUNAUTHORIZED);
    opt.genesis_key = s.k1pub;
    TU_OK(import_range(s.dst, &s, 3, 2, &opt, &err));
    assert_same_prefix(&s, 5);
    source_free(&s);
}

typedef struct seen {
    uint64_t records;
    uint8_t signer[AC_PUBKEY_SIZE];
    int answer;
} seen;

static int check_cb(void *ctx, uint64_t records, const uint8_t signer[AC_PUBKEY_SIZE],
                    ac_error *err)
{
    seen *s = ctx;
    s->records = records;
    memcpy(s->signer, signer, AC_PUBKEY_SIZE);
    if (s->answer != AC_OK)
        return ac_fail(err, s->answer, -1, "the caller says no");
    return AC_OK;
}

/* The caller's check sees who signs next (after the rotation, k2), and its
 * refusal writes nothing. */
static void test_caller_check(void **state)
{
    (void)state;
    source s;
    source_make(&s);
    ac_error err;
    seen got = {.answer = AC_ECORRUPT};
    ac_import_options opt = {.check = check_cb, .check_ctx = &got};
    TU_OK(import_range(s.dst, &s, 0, 2, NULL, &err));
    tu_snap snap = tu_snap_take(s.dst, "chain.bin");
    assert_int_equal(import_range(s.dst, &s, 2, 6, &opt, &err), AC_ECORRUPT);
    assert_string_equal(err.message, "the caller says no");
    tu_assert_unchanged(&snap);
    assert_int_equal(got.records, 8);
    assert_memory_equal(got.signer, s.k2pub, AC_PUBKEY_SIZE);
    got.answer = AC_OK;
    TU_OK(import_range(s.dst, &s, 2, 4, &opt, &err));
    assert_int_equal(got.records, 6);
    assert_memory_equal(got.signer, s.k1pub, AC_PUBKEY_SIZE);
    assert_same_prefix(&s, 6);
    source_free(&s);
}

/* A damaged chain takes no import, as it takes no append. */
static void test_damage_refused(void **state)
{
    (void)state;
    source s;
    source_make(&s);
    ac_error err;
    TU_OK(import_range(s.dst, &s, 0, 4, NULL, &err));
    tu_unlink(s.dst, "state.cbor");
    tu_unlink(s.dst, "index.bin");
    uint8_t x = 0xff;
    tu_poke(s.dst, "chain.bin", 4 + 20, &x, 1); /* inside record 0 */
    tu_snap snap = tu_snap_take(s.dst, "chain.bin");
    assert_int_equal(import_range(s.dst, &s, 4, 2, NULL, &err), AC_ECORRUPT);
    tu_assert_unchanged(&snap);
    source_free(&s);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    source s;
    source_make(&s);
    ac_error err;
    assert_int_equal(ac_import(NULL, NULL, NULL, 1, NULL, &err), AC_EINVAL);
    ac_chain *c = tu_open_chain(s.dst, AC_OPEN_CREATE);
    TU_OK(ac_import(c, NULL, NULL, 0, NULL, &err));
    assert_int_equal(ac_import(c, NULL, s.lens, 1, NULL, &err), AC_EINVAL);
    size_t zero = 0, huge = AC_MAX_RECORD_SIZE + 1;
    const uint8_t *b = s.bodies[0];
    assert_int_equal(ac_import(c, &b, &zero, 1, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_import(c, &b, &huge, 1, NULL, &err), AC_EINVAL);
    tu_close_chain(c);
    c = tu_open_chain(s.src, AC_OPEN_READONLY);
    assert_int_equal(ac_import(c, &b, s.lens, 1, NULL, &err), AC_EINVAL);
    tu_close_chain(c);
    assert_false(tu_exists(s.dst, "chain.bin"));
    source_free(&s);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_copy_in_batches),
        cmocka_unit_test(test_index_and_link),
        cmocka_unit_test(test_all_or_none),
        cmocka_unit_test(test_unauthorized_after_rotation),
        cmocka_unit_test(test_genesis_pin),
        cmocka_unit_test(test_caller_check),
        cmocka_unit_test(test_damage_refused),
        cmocka_unit_test(test_bad_arguments))
