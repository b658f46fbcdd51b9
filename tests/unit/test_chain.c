/* Unit tests for src/chain.c: opening chain directories (created, missing,
 * read-only, with chain.bin replaced by a directory or a symlink), the
 * empty chain, reading records by index, the head and iteration ranges, the
 * state against what was appended, the checkpoint written on close, and a
 * reopen that reads no record. */
#include "testutil.h"

#include <cbor.h>

#include "internal.h"

/* ---------------------------------------------------------------- opening */

static void test_open_missing_dir(void **state)
{
    (void)state;
    char base[4096], dir[4200];
    tu_tmpdir(base, sizeof base);
    tu_path_in(dir, sizeof dir, base, "nope");
    ac_chain *c = (ac_chain *)&c; /* must be cleared */
    ac_error err;
    assert_int_equal(ac_chain_open(dir, 0, &c, &err), AC_ENOTFOUND);
    assert_null(c);
    assert_int_equal(err.code, AC_ENOTFOUND);
    assert_non_null(strstr(err.message, dir));
    /* Read-only never creates, even when asked to. */
    assert_int_equal(ac_chain_open(dir, AC_OPEN_CREATE | AC_OPEN_READONLY, &c, &err),
                     AC_ENOTFOUND);
    assert_false(tu_exists(base, "nope"));
    /* Created with mode 0700. */
    c = tu_open_chain(dir, AC_OPEN_CREATE);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_string_equal(ac_chain_dir(c), dir);
    tu_close_chain(c);
    /* Opening alone writes nothing. */
    assert_false(tu_exists(dir, "chain.bin"));
    assert_false(tu_exists(dir, "state.cbor"));
    /* A regular file where the directory should be. */
    char file[4200];
    tu_path_in(file, sizeof file, base, "file");
    tu_spew(base, "file", "x", 1);
    assert_int_not_equal(ac_chain_open(file, 0, &c, &err), AC_OK);
    assert_null(c);
    assert_int_not_equal(ac_chain_open(file, AC_OPEN_CREATE, &c, &err), AC_OK);
    assert_null(c);
    /* No directory at all. */
    assert_int_equal(ac_chain_open("", 0, &c, &err), AC_EINVAL);
    assert_int_equal(ac_chain_open(NULL, 0, &c, &err), AC_EINVAL);
    assert_null(c);
    assert_int_equal(ac_chain_close(NULL, NULL), AC_OK);
    tu_rmtree(base);
}

static void assert_empty(ac_chain *c)
{
    ac_error err;
    assert_int_equal(ac_chain_is_empty(c, &err), 1);
    ac_state st;
    assert_int_equal(ac_chain_state(c, &st, &err), AC_ENOTFOUND);
    ac_record *r = (ac_record *)&r;
    assert_int_equal(ac_chain_head(c, &r, &err), AC_ENOTFOUND);
    assert_null(r);
    assert_int_equal(ac_chain_get(c, 0, &r, &err), AC_ENOTFOUND);
    assert_null(r);
    ac_iter *it = NULL;
    TU_OK(ac_iter_open(c, 0, UINT64_MAX, &it, &err));
    assert_int_equal(ac_iter_next(it, &r, &err), 0);
    assert_null(r);
    ac_iter_free(it);
    if (tu_exists(ac_chain_dir(c), "chain.bin")) {
        ac_report_free(tu_verify_ok(c, 0));
    } else { /* a directory without chain.bin is no chain to verify */
        ac_report *rep = NULL;
        assert_int_equal(ac_verify(c, NULL, &rep, &err), AC_ENOTFOUND);
        assert_null(rep);
    }
}

static void test_empty_chain(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_chain *c = tu_open_chain(dir, 0); /* no chain.bin */
    assert_empty(c);
    tu_close_chain(c);
    assert_false(tu_exists(dir, "state.cbor"));
    tu_spew(dir, "chain.bin", "", 0); /* an empty chain.bin */
    c = tu_open_chain(dir, 0);
    assert_empty(c);
    tu_close_chain(c);
    c = tu_open_chain(dir, AC_OPEN_READONLY);
    assert_empty(c);
    tu_close_chain(c);
    assert_false(tu_exists(dir, "state.cbor"));
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- records */

/* Record i as tu_append_ok appended it, signed by `pub`. */
static void check_record(const ac_record *r, uint64_t i, const uint8_t pub[AC_PUBKEY_SIZE],
                         const uint8_t prev[AC_HASH_SIZE])
{
    uint8_t h[AC_HASH_SIZE];
    assert_int_equal(ac_record_index(r), i);
    assert_int_equal(ac_record_version(r), 1);
    tu_content_hash(i, h);
    assert_memory_equal(ac_record_content_hash(r), h, AC_HASH_SIZE);
    assert_string_equal(ac_record_content_type(r), tu_content_type(i));
    assert_memory_equal(ac_record_signer(r), pub, AC_PUBKEY_SIZE);
    assert_memory_equal(ac_record_prev_hash(r), prev, AC_HASH_SIZE);
    size_t len;
    const uint8_t *b = ac_record_bytes(r, &len);
    TU_OK(ac_sha256(b, len, h, NULL));
    assert_memory_equal(ac_record_hash(r), h, AC_HASH_SIZE);
    /* The record id is a UUIDv7 of the claimed time. */
    const uint8_t *id = ac_record_id(r);
    uint64_t ms = 0;
    for (int k = 0; k < 6; k++)
        ms = ms << 8 | id[k];
    assert_true(ms == ac_record_claimed_ts(r) / 1000);
    assert_int_equal(id[6] >> 4, 7);
    char *json = NULL;
    TU_OK(ac_record_metadata_json(r, &json, NULL));
    char want[64];
    snprintf(want, sizeof want, "\"%llu\"", (unsigned long long)i);
    assert_non_null(strstr(json, want));
    ac_free(json);
}

static void test_append_get_head_iter(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key *key = tu_new_key(pub);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    ac_appended res[10];
    tu_append_ok(c, key, 0, 1, res);
    tu_append_ok(c, key, 1, 4, res + 1);
    tu_append_ok(c, key, 5, 1, res + 5);
    tu_append_ok(c, key, 6, 4, res + 6);
    assert_int_equal(ac_chain_is_empty(c, NULL), 0);

    uint8_t prev[AC_HASH_SIZE] = {0};
    uint64_t last_ts = 0, next_off = 0;
    size_t flen;
    uint8_t *file = tu_slurp(dir, "chain.bin", &flen);
    for (uint64_t i = 0; i < 10; i++) {
        ac_record *r = NULL;
        TU_OK(ac_chain_get(c, i, &r, NULL));
        check_record(r, i, pub, prev);
        assert_int_equal(res[i].index, i);
        assert_memory_equal(res[i].hash, ac_record_hash(r), AC_HASH_SIZE);
        assert_true(ac_record_claimed_ts(r) >= last_ts);
        last_ts = ac_record_claimed_ts(r);
        /* Frames follow each other; the body is what the file holds there. */
        assert_true(ac_record_offset(r) == next_off);
        size_t len;
        const uint8_t *b = ac_record_bytes(r, &len);
        assert_true(next_off + 4 + len <= flen);
        assert_memory_equal(file + next_off + 4, b, len);
        next_off += 4 + len;
        memcpy(prev, ac_record_hash(r), AC_HASH_SIZE);
        ac_record_free(r);
    }
    assert_true(next_off == flen);
    free(file);

    ac_record *head = NULL;
    TU_OK(ac_chain_head(c, &head, NULL));
    assert_int_equal(ac_record_index(head), 9);
    assert_memory_equal(ac_record_hash(head), res[9].hash, AC_HASH_SIZE);
    ac_record_free(head);

    ac_error err;
    ac_record *r = (ac_record *)&r;
    assert_int_equal(ac_chain_get(c, 10, &r, &err), AC_ENOTFOUND);
    assert_null(r);
    assert_int_equal(err.code, AC_ENOTFOUND);
    assert_int_equal(err.index, 10);
    assert_int_equal(ac_chain_get(c, UINT64_MAX, &r, &err), AC_ENOTFOUND);

    /* Ranges, inclusive at both ends; past the head is clipped. */
    static const struct {
        uint64_t start, end, first, count;
    } ranges[] = {
        {0, UINT64_MAX, 0, 10}, {3, 6, 3, 4}, {9, 9, 9, 1},   {8, 100, 8, 2}, {0, 0, 0, 1},
        {6, 3, 0, 0},           {10, UINT64_MAX, 0, 0},       {100, 200, 0, 0},
    };
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        ac_iter *it = NULL;
        TU_OK(ac_iter_open(c, ranges[k].start, ranges[k].end, &it, NULL));
        uint64_t got = 0;
        ac_record *x;
        int rc;
        while ((rc = ac_iter_next(it, &x, NULL)) == 1) {
            assert_int_equal(ac_record_index(x), ranges[k].first + got);
            assert_memory_equal(ac_record_hash(x), res[ranges[k].first + got].hash, AC_HASH_SIZE);
            ac_record_free(x);
            got++;
        }
        assert_int_equal(rc, 0);
        if (got != ranges[k].count)
            fail_msg("range %llu..%llu: %llu records", (unsigned long long)ranges[k].start,
                     (unsigned long long)ranges[k].end, (unsigned long long)got);
        assert_int_equal(ac_iter_next(it, &x, NULL), 0); /* stays at the end */
        ac_iter_free(it);
    }
    ac_iter_free(NULL);
    tu_close_chain(c);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* The state is what was appended, by definition of each field. */
static void test_state_fields(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t pub[AC_PUBKEY_SIZE], pub2[AC_PUBKEY_SIZE];
    ac_key *key = tu_new_key(pub), *key2 = tu_new_key(pub2);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    ac_appended res[7];
    tu_append_ok(c, key, 0, 7, res);
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));

    ac_record *r0 = NULL, *r6 = NULL;
    TU_OK(ac_chain_get(c, 0, &r0, NULL));
    TU_OK(ac_chain_get(c, 6, &r6, NULL));
    size_t len;
    const uint8_t *b = ac_record_bytes(r0, &len);
    ac_rec view;
    assert_int_equal(rec_decode(b, len, &view, NULL), 0);
    uint8_t *canon = malloc(len);
    assert_non_null(canon);
    size_t clen = rec_canonical(b, len, &view, canon);
    uint8_t id[AC_HASH_SIZE];
    TU_OK(ac_sha256(canon, clen, id, NULL));
    free(canon);

    size_t flen;
    free(tu_slurp(dir, "chain.bin", &flen));
    assert_memory_equal(st.chain_id, id, AC_HASH_SIZE);
    assert_int_equal(st.head_index, 6);
    assert_memory_equal(st.head_hash, res[6].hash, AC_HASH_SIZE);
    assert_int_equal(st.record_count, 7);
    assert_int_equal(st.created_at, ac_record_claimed_ts(r0));
    assert_int_equal(st.last_append_at, ac_record_claimed_ts(r6));
    assert_int_equal(st.chain_size, flen);
    assert_int_equal(st.head_offset, ac_record_offset(r6));
    assert_memory_equal(st.signer, pub, AC_PUBKEY_SIZE);
    ac_record_free(r0);
    ac_record_free(r6);

    /* After a rotation the next signer is the new key; nothing else of
     * record 0 changes. */
    ac_appended rot;
    TU_OK(ac_append_rotation(c, key, pub2, &rot, NULL));
    assert_int_equal(rot.index, 7);
    tu_close_chain(c);
    /* Read back by a new handle (the writing handle's own view after a
     * rotation is test_append's matter). */
    c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_state st2;
    TU_OK(ac_chain_state(c, &st2, NULL));
    assert_memory_equal(st2.signer, pub2, AC_PUBKEY_SIZE);
    assert_memory_equal(st2.chain_id, id, AC_HASH_SIZE);
    assert_int_equal(st2.created_at, st.created_at);
    assert_int_equal(st2.record_count, 8);
    assert_memory_equal(st2.head_hash, rot.hash, AC_HASH_SIZE);
    tu_close_chain(c);
    ac_key_free(key);
    ac_key_free(key2);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- the checkpoint */

/* state.cbor, read with libcbor: exactly the eleven keys in deterministic
 * order, with the state's values. */
static void check_state_file(const char *dir, const ac_state *st)
{
    size_t len;
    uint8_t *buf = tu_slurp(dir, "state.cbor", &len);
    assert_non_null(buf);
    size_t pos = 0;
    assert_int_equal(det_item_skip(buf, len, &pos, AC_MAX_DEPTH), 0); /* deterministic */
    assert_int_equal(pos, len);
    struct cbor_load_result res;
    cbor_item_t *m = cbor_load(buf, len, &res);
    assert_non_null(m);
    assert_true(cbor_isa_map(m));
    assert_int_equal(cbor_map_size(m), 11);
    static const char *const order[11] = {"signer",     "chain_id",    "head_hash",
                                          "chain_size", "created_at",  "head_index",
                                          "head_offset", "record_count", "chain_ctime_ns",
                                          "last_append_at", "rotation_offsets"};
    const uint64_t uints[10] = {0, 0, 0, st->chain_size, st->created_at, st->head_index,
                                st->head_offset, st->record_count, 0, st->last_append_at};
    const uint8_t *bytes[3] = {st->signer, st->chain_id, st->head_hash};
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t k = 0; k < 11; k++) {
        if (!tu_cbor_key_is(p[k].key, order[k]))
            fail_msg("state.cbor key %zu is not %s", k, order[k]);
        if (k == 8) {
            assert_true(cbor_isa_uint(p[k].value)); /* chain.bin's change time */
        } else if (k == 10) {
            assert_true(cbor_isa_array(p[k].value)); /* no rotations here */
            assert_int_equal(cbor_array_size(p[k].value), 0);
        } else if (k < 3) {
            assert_true(cbor_isa_bytestring(p[k].value));
            assert_int_equal(cbor_bytestring_length(p[k].value), 32);
            assert_memory_equal(cbor_bytestring_handle(p[k].value), bytes[k], 32);
        } else {
            assert_true(cbor_isa_uint(p[k].value));
            assert_int_equal(cbor_get_int(p[k].value), uints[k]);
        }
    }
    cbor_decref(&m);
    free(buf);
}

static void test_close_writes_state(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    tu_append_ok(c, key, 0, 5, NULL);
    /* While appending, state.cbor is not left behind the log (section 6). */
    assert_false(tu_exists(dir, "state.cbor"));
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));
    tu_close_chain(c);
    check_state_file(dir, &st);
    assert_false(tu_exists(dir, "state.cbor.tmp"));

    /* A handle that only reads leaves it alone. */
    tu_snap before = tu_snap_take(dir, "state.cbor");
    c = tu_open_chain(dir, 0);
    ac_record *r = NULL;
    TU_OK(ac_chain_get(c, 2, &r, NULL));
    ac_record_free(r);
    tu_close_chain(c);
    tu_assert_unchanged(&before);

    /* Appending again removes it; closing writes the new head. */
    c = tu_open_chain(dir, 0);
    tu_append_ok(c, key, 5, 2, NULL);
    assert_false(tu_exists(dir, "state.cbor"));
    TU_OK(ac_chain_state(c, &st, NULL));
    tu_close_chain(c);
    assert_int_equal(st.record_count, 7);
    check_state_file(dir, &st);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* With valid caches, opening and reading record i read no other record but
 * record 0 and the head, which vouch for the state; a chain.bin changed
 * since state.cbor was written (its change time moved) is scanned again,
 * so damage made after the checkpoint is found, and no cache is rewritten
 * over it. */
static void test_reopen_reads_no_records(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    tu_make_chain(dir, NULL, 20);
    ac_chain *c = tu_open_chain(dir, 0);
    ac_state want;
    TU_OK(ac_chain_state(c, &want, NULL));
    ac_record *r = NULL;
    TU_OK(ac_chain_get(c, 13, &r, NULL)); /* builds index.bin */
    ac_record_free(r);
    tu_close_chain(c);
    assert_true(tu_exists(dir, "index.bin"));
    assert_true(tu_exists(dir, "state.cbor"));
    c = tu_open_chain(dir, 0);
    ac_state got;
    TU_OK(ac_chain_state(c, &got, NULL));
    assert_memory_equal(&got, &want, sizeof got);
    assert_false(c->state_stale); /* believed, not rebuilt */
    tu_close_chain(c);

    /* Damage record 1's length prefix after the checkpoint. */
    tu_break_frame1_prefix(dir);
    tu_snap idx = tu_snap_take(dir, "index.bin"), st = tu_snap_take(dir, "state.cbor");
    c = tu_open_chain(dir, 0);
    ac_error err;
    assert_int_equal(ac_chain_state(c, &got, &err), AC_ECORRUPT);
    assert_non_null(strstr(err.message, "record 1"));
    TU_OK(ac_chain_get(c, 0, &r, NULL)); /* the good record before it still reads */
    ac_record_free(r);
    assert_int_equal(ac_chain_get(c, 13, &r, &err), AC_ECORRUPT);
    tu_close_chain(c);
    /* Neither cache was rewritten. */
    tu_assert_unchanged(&idx);
    tu_assert_unchanged(&st);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- read-only, odd files */

static void test_readonly(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    tu_make_chain(dir, key, 4);
    assert_true(tu_unlink(dir, "state.cbor"));
    (void)tu_unlink(dir, "index.bin");
    tu_snap before = tu_snap_take(dir, "chain.bin");

    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    for (uint64_t i = 0; i < 4; i++) {
        ac_record *r = NULL;
        TU_OK(ac_chain_get(c, i, &r, NULL));
        assert_int_equal(ac_record_index(r), i);
        ac_record_free(r);
    }
    ac_entry e = {.content_type = "text/plain"};
    ac_error err;
    assert_int_equal(ac_append(c, key, &e, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_append_batch(c, key, &e, 1, NULL, &err), AC_EINVAL);
    tu_close_chain(c);
    /* Nothing written: no checkpoint, no index, the log as it was. */
    assert_false(tu_exists(dir, "state.cbor"));
    assert_false(tu_exists(dir, "index.bin"));
    tu_assert_unchanged(&before);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* chain.bin replaced by a directory, a symlink to a real chain, or a
 * dangling symlink: refused with an error, in both modes, never followed. */
static void test_chain_bin_not_a_file(void **state)
{
    (void)state;
    char base[4096], real[4200], dir[4200], p[4300], target[4300];
    tu_tmpdir(base, sizeof base);
    tu_path_in(real, sizeof real, base, "real");
    tu_make_chain(real, NULL, 3);
    tu_subdir(dir, sizeof dir, base, "odd");
    tu_path_in(p, sizeof p, dir, "chain.bin");
    tu_path_in(target, sizeof target, real, "chain.bin");
    tu_snap before = tu_snap_take(real, "chain.bin");

    const unsigned modes[] = {0, AC_OPEN_READONLY, AC_OPEN_CREATE};
    for (int kind = 0; kind < 3; kind++) {
        if (kind == 0)
            assert_int_equal(mkdir(p, 0700), 0);
        else if (kind == 1)
            assert_int_equal(symlink(target, p), 0);
        else
            assert_int_equal(symlink("/nonexistent/chain.bin", p), 0);
        for (size_t m = 0; m < 3; m++) {
            ac_chain *c = NULL;
            ac_error err;
            memset(&err, 0, sizeof err);
            int rc = ac_chain_open(dir, modes[m], &c, &err);
            if (rc == AC_OK)
                fail_msg("kind %d mode %u: opened", kind, modes[m]);
            assert_null(c);
            assert_int_equal(err.code, rc);
            assert_non_null(strstr(err.message, "chain.bin"));
        }
        if (kind == 0)
            assert_int_equal(rmdir(p), 0);
        else
            assert_int_equal(unlink(p), 0);
    }
    tu_assert_unchanged(&before);
    assert_false(tu_exists("/nonexistent", "chain.bin"));
    tu_rmtree(base);
}

/* An iteration covers the chain as it was when it opened: an append
 * through the same handle meanwhile neither breaks it nor joins it. */
static void test_iter_then_append(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    tu_make_chain(dir, key, 3);
    ac_chain *c = tu_open_chain(dir, 0);
    ac_iter *it = NULL;
    ac_record *r = NULL;
    ac_error err;
    TU_OK(ac_iter_open(c, 0, UINT64_MAX, &it, &err));
    assert_int_equal(ac_iter_next(it, &r, &err), 1);
    ac_record_free(r);
    tu_append_ok(c, key, 3, 1, NULL);
    for (uint64_t i = 1; i < 3; i++) {
        assert_int_equal(ac_iter_next(it, &r, &err), 1);
        assert_int_equal(ac_record_index(r), i);
        ac_record_free(r);
    }
    assert_int_equal(ac_iter_next(it, &r, &err), 0);
    ac_iter_free(it);
    tu_close_chain(c);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* Iterating into damage hands out the records before it, then reports it:
 * never a silent end. */
static void test_iter_reports_damage(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    tu_make_chain(dir, NULL, 4);
    tu_break_frame1_prefix(dir);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_iter *it = NULL;
    ac_record *r = NULL;
    ac_error err;
    TU_OK(ac_iter_open(c, 0, UINT64_MAX, &it, &err));
    assert_int_equal(ac_iter_next(it, &r, &err), 1);
    ac_record_free(r);
    assert_int_equal(ac_iter_next(it, &r, &err), AC_ECORRUPT);
    assert_int_equal(err.index, 1);
    assert_null(r);
    ac_iter_free(it);
    /* A range that stops before the damage ends cleanly. */
    TU_OK(ac_iter_open(c, 0, 0, &it, &err));
    assert_int_equal(ac_iter_next(it, &r, &err), 1);
    ac_record_free(r);
    assert_int_equal(ac_iter_next(it, &r, &err), 0);
    ac_iter_free(it);
    tu_close_chain(c);
    tu_rmtree(dir);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_iter_then_append),
        cmocka_unit_test(test_iter_reports_damage),
        cmocka_unit_test(test_open_missing_dir),
        cmocka_unit_test(test_empty_chain),
        cmocka_unit_test(test_append_get_head_iter),
        cmocka_unit_test(test_state_fields),
        cmocka_unit_test(test_close_writes_state),
        cmocka_unit_test(test_reopen_reads_no_records),
        cmocka_unit_test(test_readonly),
        cmocka_unit_test(test_chain_bin_not_a_file))
