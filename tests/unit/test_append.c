/* Unit tests for src/append.c (format section 7): batches are all or
 * nothing, the authorized key and rotations, the torn tail cut and kept,
 * a stale checkpoint never forks the chain, damage is refused without
 * touching chain.bin, and two handles on one chain take turns. */
#include "testutil.h"

#include <dirent.h>

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

/* The chain verifies, holds exactly `records` records with indices
 * 0..records-1, and has no torn tail. */
static void assert_chain_good(const char *dir, uint64_t records)
{
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_report *rep = tu_verify_ok(c, records);
    for (size_t i = 0; i < ac_report_warning_count(rep); i++)
        assert_int_not_equal(ac_report_warning(rep, i)->code, AC_WARN_TORN_TAIL);
    ac_report_free(rep);
    ac_iter *it = NULL;
    TU_OK(ac_iter_open(c, 0, UINT64_MAX, &it, NULL));
    ac_record *r;
    uint64_t n = 0;
    while (ac_iter_next(it, &r, NULL) == 1) {
        assert_int_equal(ac_record_index(r), n);
        ac_record_free(r);
        n++;
    }
    assert_int_equal(n, records);
    ac_iter_free(it);
    tu_close_chain(c);
}

/* A chain of a few records in base/src (base a new temporary directory),
 * and its chain.bin image with the frames parsed here: the original that
 * each case of a test copies and damages. */
typedef struct source {
    char base[4096], src[4200];
    uint8_t *chain;
    size_t clen;
    size_t offs[8];
} source;

static void source_make(source *s, const ac_key *key, size_t records)
{
    assert_true(records <= 8);
    tu_tmpdir(s->base, sizeof s->base);
    tu_path_in(s->src, sizeof s->src, s->base, "src");
    tu_make_chain(s->src, key, records);
    s->chain = tu_slurp(s->src, "chain.bin", &s->clen);
    assert_non_null(s->chain);
    assert_int_equal(tu_frame_offsets(s->chain, s->clen, s->offs, 8, NULL), records);
}

static void source_free(source *s)
{
    free(s->chain);
    tu_rmtree(s->base);
}

/* Names of files beside the chain that hold cut torn tails. */
static size_t torn_files(const char *dir, char names[][256], size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "chain.bin.torn-", 15) == 0 && n < max)
            snprintf(names[n++], 256, "%s", e->d_name);
    assert_int_equal(closedir(d), 0);
    return n;
}

/* ---------------------------------------------------------------- batches */

static void test_batch_indices(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    ac_appended out[8];
    TU_OK(tu_try_append(c, key, 0, 5, out, NULL));
    TU_OK(tu_try_append(c, key, 5, 3, out + 5, NULL));
    for (uint64_t i = 0; i < 8; i++) {
        assert_int_equal(out[i].index, i);
        ac_record *r = NULL;
        TU_OK(ac_chain_get(c, i, &r, NULL));
        size_t len;
        const uint8_t *b = ac_record_bytes(r, &len);
        uint8_t h[AC_HASH_SIZE];
        TU_OK(ac_sha256(b, len, h, NULL));
        assert_memory_equal(out[i].hash, h, AC_HASH_SIZE);
        tu_content_hash(i, h);
        assert_memory_equal(ac_record_content_hash(r), h, AC_HASH_SIZE);
        ac_record_free(r);
    }
    /* An empty batch adds nothing. */
    tu_snap before = tu_snap_take(dir, "chain.bin");
    TU_OK(tu_try_append(c, key, 99, 0, NULL, NULL));
    tu_assert_unchanged(&before);
    ac_appended one;
    ac_entry e = {.content_type = "text/plain"};
    TU_OK(ac_append(c, key, &e, &one, NULL));
    assert_int_equal(one.index, 8);
    TU_OK(ac_append(c, key, &e, NULL, NULL)); /* out may be NULL */
    tu_close_chain(c);
    assert_chain_good(dir, 10);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* A batch with one bad entry anywhere writes none of its records and
 * leaves `out` alone. */
static void test_batch_all_or_none(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    tu_make_chain(dir, key, 3);
    ac_chain *c = tu_open_chain(dir, 0);
    const char *bad_types[] = {"", "text/plain\n", "a\x01", NULL, AC_ROTATION_CONTENT_TYPE};
    char long_type[300];
    memset(long_type, 'x', sizeof long_type);
    long_type[256] = '\0';
    for (size_t b = 0; b < 6; b++) {
        for (size_t pos = 0; pos < 5; pos += 2) {
            ac_entry e[5];
            for (size_t k = 0; k < 5; k++) {
                tu_content_hash(100 + k, e[k].content_hash);
                e[k].content_type = "text/plain";
                e[k].metadata = NULL;
            }
            e[pos].content_type = b < 5 ? bad_types[b] : long_type;
            ac_appended out[5];
            memset(out, 0xee, sizeof out);
            tu_snap before = tu_snap_take(dir, "chain.bin");
            ac_error err;
            assert_int_equal(ac_append_batch(c, key, e, 5, out, &err), AC_EINVAL);
            assert_int_equal(err.code, AC_EINVAL);
            tu_assert_unchanged(&before);
            for (size_t k = 0; k < sizeof out; k++)
                assert_int_equal(((uint8_t *)out)[k], 0xee);
        }
    }
    /* The next good batch continues the chain where it was. */
    tu_append_ok(c, key, 3, 5, NULL);
    tu_close_chain(c);
    assert_chain_good(dir, 8);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- authorization */

static void test_unauthorized_key(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t pub[AC_PUBKEY_SIZE], evil_pub[AC_PUBKEY_SIZE];
    ac_key *key = tu_new_key(pub), *evil = tu_new_key(evil_pub);
    tu_make_chain(dir, key, 3);
    tu_snap chain = tu_snap_take(dir, "chain.bin"), st = tu_snap_take(dir, "state.cbor");
    assert_true(st.present);
    ac_chain *c = tu_open_chain(dir, 0);
    ac_error err;
    assert_int_equal(tu_try_append(c, evil, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    assert_int_equal(err.code, AC_EUNAUTHORIZED);
    assert_int_equal(err.index, 3);
    assert_non_null(strstr(err.message, dir));
    assert_int_equal(tu_try_append(c, evil, 0, 4, NULL, &err), AC_EUNAUTHORIZED);
    uint8_t other[AC_PUBKEY_SIZE];
    memset(other, 7, sizeof other);
    assert_int_equal(ac_append_rotation(c, evil, other, NULL, &err), AC_EUNAUTHORIZED);
    /* A rotation by an outsider to the real key is refused too. */
    assert_int_equal(ac_append_rotation(c, evil, pub, NULL, &err), AC_EUNAUTHORIZED);
    tu_close_chain(c);
    tu_assert_unchanged(&chain);
    tu_assert_unchanged(&st);
    c = tu_open_chain(dir, 0);
    tu_append_ok(c, key, 3, 1, NULL);
    tu_close_chain(c);
    assert_chain_good(dir, 4);
    ac_key_free(key);
    ac_key_free(evil);
    tu_rmtree(dir);
}

/* After a rotation the retired key is refused and the new key accepted:
 * on the handle that appended the rotation, on a new handle, and in a
 * batch. */
static void test_rotation(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t p1[AC_PUBKEY_SIZE], p2[AC_PUBKEY_SIZE], p3[AC_PUBKEY_SIZE];
    ac_key *k1 = tu_new_key(p1), *k2 = tu_new_key(p2), *k3 = tu_new_key(p3);
    tu_make_chain(dir, k1, 2);
    ac_chain *c = tu_open_chain(dir, 0);
    ac_appended rot;
    TU_OK(ac_append_rotation(c, k1, p2, &rot, NULL));
    assert_int_equal(rot.index, 2);
    tu_snap before = tu_snap_take(dir, "chain.bin");
    ac_error err;
    assert_int_equal(tu_try_append(c, k1, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    tu_assert_unchanged(&before);
    tu_append_ok(c, k2, 3, 2, NULL);
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));
    assert_memory_equal(st.signer, p2, AC_PUBKEY_SIZE);
    tu_close_chain(c);

    /* A new handle knows it from the chain. */
    c = tu_open_chain(dir, 0);
    assert_int_equal(tu_try_append(c, k1, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    TU_OK(ac_append_rotation(c, k2, p3, &rot, NULL));
    assert_int_equal(rot.index, 5);
    assert_int_equal(tu_try_append(c, k2, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    assert_int_equal(tu_try_append(c, k1, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    tu_append_ok(c, k3, 6, 3, NULL);
    /* The retired keys cannot rotate either. */
    assert_int_equal(ac_append_rotation(c, k1, p2, NULL, &err), AC_EUNAUTHORIZED);
    assert_int_equal(ac_append_rotation(c, k2, p1, NULL, &err), AC_EUNAUTHORIZED);
    tu_close_chain(c);
    assert_chain_good(dir, 9);
    ac_key_free(k1);
    ac_key_free(k2);
    ac_key_free(k3);
    tu_rmtree(dir);
}

/* A rotation to the signer's own key is refused (format 4.4 [fix]); and a
 * rotation is only appended through ac_append_rotation. */
static void test_rotation_to_self(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t p1[AC_PUBKEY_SIZE];
    ac_key *k1 = tu_new_key(p1);
    tu_make_chain(dir, k1, 2);
    tu_snap before = tu_snap_take(dir, "chain.bin");
    ac_chain *c = tu_open_chain(dir, 0);
    ac_error err;
    assert_int_equal(ac_append_rotation(c, k1, p1, NULL, &err), AC_EINVAL);
    assert_int_equal(err.code, AC_EINVAL);
    ac_entry e = {.content_type = AC_ROTATION_CONTENT_TYPE};
    assert_int_equal(ac_append(c, k1, &e, NULL, &err), AC_EINVAL);
    tu_close_chain(c);
    tu_assert_unchanged(&before);
    c = tu_open_chain(dir, 0);
    tu_append_ok(c, k1, 2, 1, NULL); /* k1 is still the signer */
    tu_close_chain(c);
    assert_chain_good(dir, 3);
    ac_key_free(k1);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- torn tails */

/* An incomplete last frame of every kind is cut before the append, and
 * exactly its bytes are kept in one chain.bin.torn-* file beside the chain. */
static void test_torn_tail_cut(void **state)
{
    (void)state;
    ac_key *key = tu_new_key(NULL);
    source src;
    source_make(&src, key, 3);
    size_t frame1 = src.offs[2] - src.offs[1]; /* prefix and body of record 1 */
    const size_t keeps[] = {1, 2, 3, 4, 5, 100, frame1 - 1};
    for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++) {
        for (int with_state = 0; with_state <= 1; with_state++) {
            char dir[4200];
            tu_subdir(dir, sizeof dir, src.base, "t%zu-%d", k, with_state);
            /* The crash: the first `keep` bytes of a frame after the last. */
            uint8_t *img = malloc(src.clen + keeps[k]);
            assert_non_null(img);
            memcpy(img, src.chain, src.clen);
            memcpy(img + src.clen, src.chain + src.offs[1], keeps[k]);
            tu_spew(dir, "chain.bin", img, src.clen + keeps[k]);
            if (with_state)
                tu_copy(src.src, dir, "state.cbor");
            /* Verification reports it as a warning with its size. */
            ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
            ac_report *rep = tu_verify_ok(c, 3);
            assert_int_equal(ac_report_warning_count(rep), 1);
            const ac_warning *w = ac_report_warning(rep, 0);
            assert_int_equal(w->code, AC_WARN_TORN_TAIL);
            assert_int_equal(w->offset, src.clen);
            assert_int_equal(w->bytes, keeps[k]);
            ac_report_free(rep);
            tu_close_chain(c);

            c = tu_open_chain(dir, 0);
            tu_append_ok(c, key, 3, 1, NULL);
            tu_close_chain(c);
            char names[4][256];
            assert_int_equal(torn_files(dir, names, 4), 1);
            size_t tlen;
            uint8_t *torn = tu_slurp(dir, names[0], &tlen);
            assert_int_equal(tlen, keeps[k]);
            assert_memory_equal(torn, img + src.clen, tlen);
            free(torn);
            /* The log kept every complete frame, then the new one. */
            size_t nlen;
            uint8_t *now = tu_slurp(dir, "chain.bin", &nlen);
            assert_memory_equal(now, src.chain, src.clen);
            size_t noffs[8];
            assert_int_equal(tu_frame_offsets(now, nlen, noffs, 8, NULL), 4);
            assert_int_equal(noffs[3], src.clen);
            free(now);
            free(img);
            assert_chain_good(dir, 4);
        }
    }
    source_free(&src);
    ac_key_free(key);
}

/* ---------------------------------------------------------------- stale checkpoints */

/* The crash window of the Python store: chain.bin has frames that the
 * checkpoint does not name.  Here an older state.cbor is put back after
 * more appends; the next append must take the next index, not reuse one. */
static void test_stale_state(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    tu_make_chain(dir, key, 3);
    tu_snap old = tu_snap_take(dir, "state.cbor");
    assert_true(old.present);
    for (uint64_t round = 0; round < 3; round++) {
        uint64_t count = 3 + 3 * round;
        ac_chain *c = tu_open_chain(dir, 0);
        tu_append_ok(c, key, count, 2, NULL);
        tu_close_chain(c);
        tu_spew(dir, "state.cbor", old.data, old.len); /* back to 3 records */
        c = tu_open_chain(dir, 0);
        ac_state st;
        TU_OK(ac_chain_state(c, &st, NULL));
        assert_int_equal(st.record_count, count + 2);
        tu_append_ok(c, key, count + 2, 1, NULL);
        tu_close_chain(c);
        assert_chain_good(dir, count + 3);
    }
    /* The exact window: one frame more than the checkpoint, on a handle
     * that has never seen the chain. */
    tu_snap now = tu_snap_take(dir, "state.cbor");
    ac_chain *c = tu_open_chain(dir, 0);
    tu_append_ok(c, key, 12, 1, NULL);
    tu_close_chain(c);
    tu_spew(dir, "state.cbor", now.data, now.len);
    c = tu_open_chain(dir, 0);
    tu_append_ok(c, key, 13, 1, NULL);
    tu_close_chain(c);
    assert_chain_good(dir, 14);
    free(now.data);
    free(old.data);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- damage */

/* Damage that is not a torn tail: append refuses with AC_ECORRUPT, cuts
 * nothing and writes nothing.  Without a checkpoint the writer rebuilds its
 * state from chain.bin and meets the damage; with one, it checks the head
 * (format section 6), so only damage at the head is its business there
 * (verify finds the rest). */
static void test_damage_refused(void **state)
{
    (void)state;
    ac_key *key = tu_new_key(NULL);
    source src;
    source_make(&src, key, 5);
    size_t len2 = src.offs[3] - src.offs[2] - 4, len4 = src.clen - src.offs[4] - 4;
    enum { ZERO_PREFIX, GROWN_PREFIX, OVERSIZE_PREFIX, GROWN_LAST, BAD_HEAD, BAD_RECORD0, KINDS };
    for (int kind = 0; kind < KINDS; kind++) {
        for (int with_state = 0; with_state <= 1; with_state++) {
            /* Mid-chain damage under a valid checkpoint is verify's to find. */
            bool mid = kind == ZERO_PREFIX || kind == GROWN_PREFIX || kind == OVERSIZE_PREFIX ||
                       kind == BAD_RECORD0;
            if (mid && with_state)
                continue;
            char dir[4200];
            tu_subdir(dir, sizeof dir, src.base, "d%d-%d", kind, with_state);
            tu_spew(dir, "chain.bin", src.chain, src.clen);
            if (with_state)
                tu_copy(src.src, dir, "state.cbor");
            uint8_t b[4];
            uint64_t at = src.offs[2];
            size_t n = 4;
            switch (kind) {
            case ZERO_PREFIX: tu_put_be32(b, 0); break;
            case GROWN_PREFIX: tu_put_be32(b, (uint32_t)len2 + 9); break;
            case OVERSIZE_PREFIX: tu_put_be32(b, AC_MAX_RECORD_SIZE + 1); break;
            /* The last frame's prefix grown past the end of the file: it
             * looks torn, but a record starts inside it (section 7). */
            case GROWN_LAST: tu_put_be32(b, (uint32_t)len4 + 50), at = src.offs[4]; break;
            /* The head record's map of 11 becomes a map of 12: same size. */
            case BAD_HEAD: b[0] = 0xac, at = src.offs[4] + 4, n = 1; break;
            case BAD_RECORD0: b[0] = 0xac, at = 4, n = 1; break;
            }
            tu_poke(dir, "chain.bin", at, b, n);
            tu_snap before = tu_snap_take(dir, "chain.bin");
            ac_chain *c = NULL;
            ac_error err;
            TU_OK(ac_chain_open(dir, 0, &c, &err)); /* a damaged chain still opens */
            int rc = tu_try_append(c, key, 5, 1, NULL, &err);
            if (rc != AC_ECORRUPT)
                fail_msg("damage %d (checkpoint %d): append gave %d: %s", kind, with_state, rc,
                         rc ? err.message : "");
            assert_int_equal(err.code, AC_ECORRUPT);
            assert_non_null(strstr(err.message, "chain.bin"));
            tu_close_chain(c);
            tu_assert_unchanged(&before);
            char names[2][256];
            assert_int_equal(torn_files(dir, names, 2), 0);
        }
    }
    source_free(&src);
    ac_key_free(key);
}

/* ---------------------------------------------------------------- concurrency */

/* Two handles on one chain, appending in turn: each sees the other's
 * records, the indices are consecutive, and the chain verifies. */
static void test_two_handles(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    ac_chain *a = tu_open_chain(dir, AC_OPEN_CREATE), *b = tu_open_chain(dir, AC_OPEN_CREATE);
    uint64_t next = 0;
    for (int round = 0; round < 6; round++) {
        tu_append_ok(a, key, next, 1, NULL);
        next += 1;
        tu_append_ok(b, key, next, 2, NULL);
        next += 2;
        ac_state sa, sb;
        TU_OK(ac_chain_state(a, &sa, NULL));
        TU_OK(ac_chain_state(b, &sb, NULL));
        assert_int_equal(sa.record_count, next);
        assert_memory_equal(&sa, &sb, sizeof sa);
    }
    tu_close_chain(a);
    tu_close_chain(b);
    assert_chain_good(dir, next);
    /* The last close wrote the real head, whichever handle it was. */
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));
    assert_int_equal(st.record_count, next);
    tu_close_chain(c);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* An append removes a state.cbor another handle wrote since this handle's
 * last append (on its close): that state would be behind the chain. */
static void test_state_written_between_appends(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    ac_chain *a = tu_open_chain(dir, AC_OPEN_CREATE);
    tu_append_ok(a, key, 0, 2, NULL);
    assert_false(tu_exists(dir, "state.cbor")); /* a owes it */
    for (uint64_t next = 2; next < 8; next += 2) {
        ac_chain *b = tu_open_chain(dir, 0);
        tu_append_ok(b, key, next, 1, NULL);
        tu_close_chain(b);
        assert_true(tu_exists(dir, "state.cbor")); /* b's close wrote it */
        tu_append_ok(a, key, next + 1, 1, NULL);
        assert_false(tu_exists(dir, "state.cbor"));
    }
    tu_close_chain(a);
    assert_chain_good(dir, 8);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* A NULL handle, key or out-parameter is AC_EINVAL with a message, never a
 * crash (ac_append_rotation(c, NULL, ...) once crashed). */
static void test_null_arguments(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    uint8_t pub[AC_PUBKEY_SIZE] = {1};
    ac_entry e = {.content_type = "text/plain"};
    ac_error err;
    ac_record *r;
    ac_report *rep;
    ac_iter *it;
    ac_state st;
    ac_loss loss;
    assert_int_equal(ac_append_rotation(c, NULL, pub, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_append_rotation(c, key, NULL, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_append_rotation(NULL, key, pub, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_append(NULL, key, &e, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_append(c, NULL, &e, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_chain_get(NULL, 0, &r, &err), AC_EINVAL);
    assert_int_equal(ac_chain_get_verified(c, 0, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_chain_head(NULL, &r, &err), AC_EINVAL);
    assert_int_equal(ac_chain_state(NULL, &st, &err), AC_EINVAL);
    assert_int_equal(ac_chain_loss(NULL, &loss, &err), AC_EINVAL);
    assert_int_equal(ac_verify(NULL, NULL, &rep, &err), AC_EINVAL);
    assert_int_equal(ac_iter_open(NULL, 0, 0, &it, &err), AC_EINVAL);
    assert_int_equal(ac_iter_next(NULL, &r, &err), AC_EINVAL);
    assert_true(err.message[0] != '\0');
    assert_string_equal(ac_version(), AC_VERSION_STRING);
    tu_close_chain(c);
    ac_key_free(key);
    tu_rmtree(dir);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_batch_indices),
        cmocka_unit_test(test_batch_all_or_none),
        cmocka_unit_test(test_unauthorized_key),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_rotation_to_self),
        cmocka_unit_test(test_torn_tail_cut),
        cmocka_unit_test(test_stale_state),
        cmocka_unit_test(test_damage_refused),
        cmocka_unit_test(test_two_handles),
        cmocka_unit_test(test_state_written_between_appends))
