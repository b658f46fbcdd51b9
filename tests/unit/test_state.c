/* Unit tests for src/state.c (format section 6): state.cbor is a cache.
 * Missing, garbage, lacking the extension keys, naming another head or
 * another signer: the state is rebuilt from chain.bin and comes out right,
 * and the next append takes the next index.  A valid one (unknown keys
 * included) is used without reading records.  And the rotation history
 * before a record, for ranges. */
#include "testutil.h"

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

static int append_one(ac_chain *c, const ac_key *key, ac_appended *out, ac_error *err)
{
    ac_entry e = {.content_type = "text/plain"};
    memset(e.content_hash, 0x5a, AC_HASH_SIZE);
    return ac_append(c, key, &e, out, err);
}

/* state.cbor's fields, each optional, and one optional extra key, encoded
 * in deterministic order. */
enum { F_SIGNER, F_CHAIN_ID, F_HEAD_HASH, F_CHAIN_SIZE, F_CREATED_AT, F_HEAD_INDEX,
       F_HEAD_OFFSET, F_RECORD_COUNT, F_LAST_APPEND_AT, F_CTIME, F_ROTATIONS, F_EXTRA, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "signer",     "chain_id",    "head_hash",    "chain_size",     "created_at",
    "head_index", "head_offset", "record_count", "last_append_at", "chain_ctime_ns",
    "rotation_offsets", NULL,
};

/* The extension keys' values for the chain a state is written for: the
 * change time of its chain.bin, the offset of the reference chain's one
 * rotation (record 3). */
static uint64_t ext_ctime, rot_off;

static int name_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

static void encode_state(const ac_state *st, unsigned omit, const char *extra, det_buf *b)
{
    const char *names[F_COUNT];
    size_t n = 0;
    for (int k = 0; k < F_EXTRA; k++)
        if (!(omit & (1u << k)))
            names[n++] = field_names[k];
    if (extra)
        names[n++] = extra;
    qsort(names, n, sizeof names[0], name_cmp);
    det_put_map(b, n);
    for (size_t i = 0; i < n; i++) {
        det_put_text(b, names[i], strlen(names[i]));
        const char *k = names[i];
        if (strcmp(k, "signer") == 0)
            det_put_bytes(b, st->signer, AC_PUBKEY_SIZE);
        else if (strcmp(k, "chain_id") == 0)
            det_put_bytes(b, st->chain_id, AC_HASH_SIZE);
        else if (strcmp(k, "head_hash") == 0)
            det_put_bytes(b, st->head_hash, AC_HASH_SIZE);
        else if (strcmp(k, "chain_size") == 0)
            det_put_uint(b, st->chain_size);
        else if (strcmp(k, "created_at") == 0)
            det_put_uint(b, st->created_at);
        else if (strcmp(k, "head_index") == 0)
            det_put_uint(b, st->head_index);
        else if (strcmp(k, "head_offset") == 0)
            det_put_uint(b, st->head_offset);
        else if (strcmp(k, "record_count") == 0)
            det_put_uint(b, st->record_count);
        else if (strcmp(k, "last_append_at") == 0)
            det_put_uint(b, st->last_append_at);
        else if (strcmp(k, "chain_ctime_ns") == 0)
            det_put_uint(b, ext_ctime);
        else if (strcmp(k, "rotation_offsets") == 0) {
            det_put_array(b, 1);
            det_put_uint(b, rot_off);
        } else
            det_put_text(b, "from a later version", 20);
    }
    assert_false(b->failed);
}

static void write_state(const char *dir, const ac_state *st, unsigned omit, const char *extra)
{
    char p[4200];
    struct stat sb;
    tu_path_in(p, sizeof p, dir, "chain.bin");
    ext_ctime = stat(p, &sb) == 0 ? (uint64_t)sb.st_ctim.tv_sec * 1000000000u +
                                        (uint64_t)sb.st_ctim.tv_nsec : 0;
    det_buf b = {0};
    encode_state(st, omit, extra, &b);
    tu_spew(dir, "state.cbor", b.data, b.len);
    det_buf_free(&b);
}

/* ---------------------------------------------------------------- the reference chain */

/* Six records: k1 signs 0..3, record 3 rotates to k2, k2 signs 4..5.  Its
 * true state is computed by a read-only handle without any cache. */
static char base[2048], ref[2100];
static ac_state truth;

static int ref_setup(void **state)
{
    (void)state;
    tu_tmpdir(base, sizeof base);
    tu_path_in(ref, sizeof ref, base, "ref");
    ac_key *k1 = tu_load_key("k1"), *k2 = tu_load_key("k2");
    uint8_t p2[AC_PUBKEY_SIZE];
    ac_key_pubkey(k2, p2);
    ac_chain *c = tu_open_chain(ref, AC_OPEN_CREATE);
    for (int i = 0; i < 3; i++)
        TU_OK(append_one(c, k1, NULL, NULL));
    TU_OK(ac_append_rotation(c, k1, p2, NULL, NULL));
    for (int i = 0; i < 2; i++)
        TU_OK(append_one(c, k2, NULL, NULL));
    tu_close_chain(c);
    size_t slen;
    uint8_t *saved = tu_slurp(ref, "state.cbor", &slen);
    assert_non_null(saved);
    assert_true(tu_unlink(ref, "state.cbor"));
    (void)tu_unlink(ref, "index.bin");
    c = tu_open_chain(ref, AC_OPEN_READONLY);
    TU_OK(ac_chain_state(c, &truth, NULL));
    assert_int_equal(c->f.nrot, 1);
    rot_off = c->f.rot[0].offset;
    tu_close_chain(c);
    tu_spew(ref, "state.cbor", saved, slen); /* the writer's checkpoint, for the tests */
    free(saved);
    assert_int_equal(truth.record_count, 6);
    assert_memory_equal(truth.signer, p2, AC_PUBKEY_SIZE);
    ac_key_free(k1);
    ac_key_free(k2);
    return 0;
}

static int ref_teardown(void **state)
{
    (void)state;
    tu_rmtree(base);
    return 0;
}

/* A fresh copy of the reference chain.bin (no caches) in base/<name>. */
static void fresh_copy(const char *name, char *dir, size_t n)
{
    tu_subdir(dir, n, base, "%s", name);
    tu_copy(ref, dir, "chain.bin");
}

/* The state comes out right through every entry point, an append takes
 * index 6 with k2 (k1 is refused), and the checkpoint written on close is
 * the new truth. */
static void assert_rebuilt(const char *dir)
{
    ac_chain *c = tu_open_chain(dir, 0);
    ac_state st;
    assert_int_equal(ac_chain_is_empty(c, NULL), 0);
    TU_OK(ac_chain_state(c, &st, NULL));
    assert_memory_equal(&st, &truth, sizeof st);
    ac_record *head = NULL;
    TU_OK(ac_chain_head(c, &head, NULL));
    assert_int_equal(ac_record_index(head), 5);
    assert_memory_equal(ac_record_hash(head), truth.head_hash, AC_HASH_SIZE);
    ac_record_free(head);
    ac_key *k1 = tu_load_key("k1"), *k2 = tu_load_key("k2");
    ac_error err;
    assert_int_equal(append_one(c, k1, NULL, &err), AC_EUNAUTHORIZED);
    ac_appended out;
    TU_OK(append_one(c, k2, &out, NULL));
    assert_int_equal(out.index, 6);
    tu_close_chain(c);
    c = tu_open_chain(dir, AC_OPEN_READONLY);
    TU_OK(ac_chain_state(c, &st, NULL));
    assert_int_equal(st.record_count, 7);
    assert_memory_equal(st.head_hash, out.hash, AC_HASH_SIZE);
    ac_report_free(tu_verify_ok(c, 7));
    tu_close_chain(c);
    ac_key_free(k1);
    ac_key_free(k2);
}

/* ---------------------------------------------------------------- rebuilt */

static void test_missing(void **state)
{
    (void)state;
    char dir[2200];
    fresh_copy("missing", dir, sizeof dir);
    assert_rebuilt(dir);
}

static void test_garbage(void **state)
{
    (void)state;
    det_buf valid = {0};
    encode_state(&truth, 0, NULL, &valid);
    uint8_t noise[700];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)(i * 131u + 7u);
    uint8_t *big = calloc(1, 4096);
    assert_non_null(big);
    memcpy(big, valid.data, valid.len);
    static const uint8_t array[] = {0x83, 0x01, 0x02, 0x03};
    static const uint8_t float_map[] = {0xa1, 0x61, 'a', 0xf9, 0x3c, 0x00};
    const struct {
        const char *name;
        const uint8_t *data;
        size_t len;
    } cases[] = {
        {"empty", noise, 0},
        {"one-byte", noise, 1},
        {"noise", noise, sizeof noise},
        {"half", valid.data, valid.len / 2},
        {"all-but-one", valid.data, valid.len - 1},
        {"trailing", big, valid.len + 1}, /* a valid map, then a zero byte */
        {"big", big, 4096},
        {"array", array, sizeof array},
        {"float", float_map, sizeof float_map},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char dir[2200];
        fresh_copy(cases[k].name, dir, sizeof dir);
        tu_spew(dir, "state.cbor", cases[k].data, cases[k].len);
        assert_rebuilt(dir);
    }
    /* A map with our keys in the wrong order: not deterministic, not used. */
    det_buf swapped = {0};
    det_put_map(&swapped, 9);
    for (int k = F_LAST_APPEND_AT; k >= F_SIGNER; k--) {
        det_buf one = {0};
        encode_state(&truth, ~(1u << k) & ((1u << F_EXTRA) - 1), NULL, &one);
        det_put(&swapped, one.data + 1, one.len - 1); /* the pair, without its map head */
        det_buf_free(&one);
    }
    char dir[2200];
    fresh_copy("unordered", dir, sizeof dir);
    tu_spew(dir, "state.cbor", swapped.data, swapped.len);
    assert_rebuilt(dir);
    det_buf_free(&swapped);

    /* Not a regular file. */
    char p[2300];
    fresh_copy("directory", dir, sizeof dir);
    tu_path_in(p, sizeof p, dir, "state.cbor");
    assert_int_equal(mkdir(p, 0700), 0);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));
    assert_memory_equal(&st, &truth, sizeof st);
    tu_close_chain(c);
    fresh_copy("symlink", dir, sizeof dir);
    tu_path_in(p, sizeof p, dir, "state.cbor");
    char target[2300];
    tu_path_in(target, sizeof target, ref, "state.cbor");
    assert_int_equal(symlink(target, p), 0);
    size_t olen, tlen;
    uint8_t *orig = tu_slurp(ref, "state.cbor", &olen);
    assert_rebuilt(dir);
    /* The link was not written through. */
    uint8_t *t = tu_slurp(ref, "state.cbor", &tlen);
    assert_int_equal(tlen, olen);
    assert_memory_equal(t, orig, tlen);
    free(t);
    free(orig);
    free(big);
    det_buf_free(&valid);
}

/* The Python store's checkpoint has only six keys: not enough to trust. */
static void test_lacking_extension_keys(void **state)
{
    (void)state;
    const unsigned ext = 1u << F_SIGNER | 1u << F_CHAIN_SIZE | 1u << F_HEAD_OFFSET;
    const unsigned omits[] = {ext, 1u << F_SIGNER, 1u << F_CHAIN_SIZE, 1u << F_HEAD_OFFSET,
                              1u << F_HEAD_HASH, 1u << F_RECORD_COUNT};
    for (size_t k = 0; k < sizeof omits / sizeof omits[0]; k++) {
        char name[32], dir[2200];
        snprintf(name, sizeof name, "lacking-%zu", k);
        fresh_copy(name, dir, sizeof dir);
        write_state(dir, &truth, omits[k], NULL);
        assert_rebuilt(dir);
    }
}

/* A checkpoint that names something other than chain.bin's head. */
static void test_wrong_fields(void **state)
{
    (void)state;
    uint8_t evil[AC_PUBKEY_SIZE], k1[AC_PUBKEY_SIZE];
    tu_load_pub("evil", evil);
    tu_load_pub("k1", k1);
    for (int k = 0; k < 10; k++) {
        ac_state st = truth;
        switch (k) {
        case 0: st.head_hash[7] ^= 0x10; break;
        case 1: st.head_offset -= 1; break;
        case 2: st.head_offset = 0; break;
        /* A consistent state one record behind, naming the real head. */
        case 3: st.head_index -= 1, st.record_count -= 1; break;
        case 4: memcpy(st.signer, evil, AC_PUBKEY_SIZE); break;
        case 5: memcpy(st.signer, k1, AC_PUBKEY_SIZE); break; /* the retired key */
        case 6: st.chain_size -= 1; break;
        /* Another chain's identity on this chain's head. */
        case 7: st.chain_id[0] ^= 0x01; break;
        /* Times that are not record 0's and the head's. */
        case 8: st.created_at += 1; break;
        case 9: st.last_append_at -= 1; break;
        }
        char name[32], dir[2200];
        snprintf(name, sizeof name, "wrong-%d", k);
        fresh_copy(name, dir, sizeof dir);
        write_state(dir, &st, 0, NULL);
        assert_rebuilt(dir);
    }
}

/* A checkpoint that says more was committed than chain.bin holds: the state
 * is what the file holds, but appending would fork whatever was lost, so
 * it is refused (format section 7) and nothing is written. */
static void test_more_committed_than_held(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        ac_state st = truth;
        if (k == 0)
            st.chain_size += 100;
        else
            st.record_count += 1, st.head_index += 1;
        char name[32], dir[2200];
        snprintf(name, sizeof name, "lost-%d", k);
        fresh_copy(name, dir, sizeof dir);
        write_state(dir, &st, 0, NULL);
        tu_snap before = tu_snap_take(dir, "chain.bin");
        ac_chain *c = tu_open_chain(dir, 0);
        ac_state got;
        TU_OK(ac_chain_state(c, &got, NULL));
        assert_memory_equal(&got, &truth, sizeof got);
        ac_key *k2 = tu_load_key("k2");
        ac_error err;
        assert_int_equal(append_one(c, k2, NULL, &err), AC_ECORRUPT);
        assert_non_null(strstr(err.message, "state.cbor"));
        tu_close_chain(c);
        tu_assert_unchanged(&before);
        ac_key_free(k2);
    }
}

/* The evil key named by a checkpoint is still refused. */
static void test_wrong_signer_refused(void **state)
{
    (void)state;
    char dir[2200];
    fresh_copy("evil-signer", dir, sizeof dir);
    ac_key *evil = tu_load_key("evil");
    ac_state st = truth;
    ac_key_pubkey(evil, st.signer);
    write_state(dir, &st, 0, NULL);
    tu_snap before = tu_snap_take(dir, "chain.bin");
    ac_chain *c = tu_open_chain(dir, 0);
    ac_error err;
    assert_int_equal(append_one(c, evil, NULL, &err), AC_EUNAUTHORIZED);
    tu_close_chain(c);
    tu_assert_unchanged(&before);
    ac_key_free(evil);
}

/* ---------------------------------------------------------------- trusted */

static void test_valid_is_used(void **state)
{
    (void)state;
    const char *extras[] = {NULL, "zzz_future", "a", "a_much_longer_future_key_name"};
    for (size_t k = 0; k < sizeof extras / sizeof extras[0]; k++) {
        char name[32], dir[2200];
        snprintf(name, sizeof name, "used-%zu", k);
        fresh_copy(name, dir, sizeof dir);
        /* A state written after the damage covers the file as it is: it
         * is believed (its record 0, rotation and head check out), and
         * the damage between is for verify to find. */
        tu_break_frame1_prefix(dir);
        write_state(dir, &truth, 0, extras[k]);
        ac_chain *c = tu_open_chain(dir, 0);
        ac_state st;
        ac_error err;
        int rc = ac_chain_state(c, &st, &err);
        if (rc != AC_OK)
            fail_msg("extra key %s: %s", extras[k] ? extras[k] : "(none)", err.message);
        assert_memory_equal(&st, &truth, sizeof st);
        tu_close_chain(c);
    }
    /* The control: garbage is not used, so the damage is met. */
    char dir[2200];
    fresh_copy("not-used", dir, sizeof dir);
    tu_spew(dir, "state.cbor", "garbage", 7);
    tu_break_frame1_prefix(dir);
    ac_chain *c = tu_open_chain(dir, 0);
    ac_state st;
    assert_int_equal(ac_chain_state(c, &st, NULL), AC_ECORRUPT);
    tu_close_chain(c);
}

/* valid-seed-written with the state.cbor the Python store left beside it
 * (case.json's state_cbor_hex, without the extension keys). */
static void test_python_checkpoint(void **state)
{
    (void)state;
    static const char *const hex =
        "a668636861696e5f69645820c6c99e514e19acf7afdd70e98ff859cf47d7a5bf680b0319272c5a8cdcfd88"
        "0e69686561645f68617368582061eedb10504a2f6c757a3c6caa34562ec3cae7ebc1384ed24a582777b8bf"
        "649d6a637265617465645f61741b0006614bb389581a6a686561645f696e646578076c7265636f72645f63"
        "6f756e74086e6c6173745f617070656e645f61741b0006614bb389770b";
    uint8_t st_bytes[256];
    size_t n = strlen(hex) / 2;
    assert_true(n <= sizeof st_bytes);
    TU_OK(ac_hex_decode(hex, st_bytes, n, NULL));
    char dir[2200], vec[4096];
    tu_subdir(dir, sizeof dir, base, "python");
    tu_vector_path(vec, sizeof vec, "valid-seed-written");
    tu_copy(vec, dir, "chain.bin");
    tu_spew(dir, "state.cbor", st_bytes, n);

    ac_chain *c = tu_open_chain(dir, 0);
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));
    char h[2 * AC_HASH_SIZE + 1];
    ac_hex_encode(st.chain_id, AC_HASH_SIZE, h);
    assert_string_equal(h, "c6c99e514e19acf7afdd70e98ff859cf47d7a5bf680b0319272c5a8cdcfd880e");
    ac_hex_encode(st.head_hash, AC_HASH_SIZE, h);
    assert_string_equal(h, "61eedb10504a2f6c757a3c6caa34562ec3cae7ebc1384ed24a582777b8bf649d");
    assert_int_equal(st.record_count, 8);
    assert_int_equal(st.head_index, 7);
    assert_int_equal(st.chain_size, 3386);
    assert_int_equal(st.head_offset, 2985);
    assert_int_equal(st.created_at, 1795827622828058ull);
    assert_int_equal(st.last_append_at, 1795827622835979ull);
    uint8_t k2[AC_PUBKEY_SIZE];
    tu_load_pub("k2", k2);
    assert_memory_equal(st.signer, k2, AC_PUBKEY_SIZE);
    ac_key *k1 = tu_load_key("k1"), *key2 = tu_load_key("k2");
    ac_error err;
    assert_int_equal(append_one(c, k1, NULL, &err), AC_EUNAUTHORIZED);
    ac_appended out;
    TU_OK(append_one(c, key2, &out, NULL));
    assert_int_equal(out.index, 8);
    tu_close_chain(c);
    c = tu_open_chain(dir, AC_OPEN_READONLY);
    ac_report_free(tu_verify_ok(c, 9));
    tu_close_chain(c);
    ac_key_free(k1);
    ac_key_free(key2);
}

/* ---------------------------------------------------------------- history */

/* The authorized key before each record of valid-two-rotations (rotations
 * at 2, to k2, and 4, to k3), from the fold the handle keeps and from it
 * cut back to each record: the one rotation rule, wherever it is asked. */
static void test_history(void **state)
{
    (void)state;
    char dir[4096];
    tu_vector_path(dir, sizeof dir, "valid-two-rotations");
    uint8_t keys[3][AC_PUBKEY_SIZE];
    const char *names[3] = {"k1", "k2", "k3"};
    for (int k = 0; k < 3; k++)
        tu_load_pub(names[k], keys[k]);
    static const int signer_before[6] = {-1, 0, 0, 1, 1, 2};
    static const uint64_t offsets[7] = {0, 394, 790, 1275, 1671, 2156, 2552};
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    assert_int_equal(c->f.nrot, 2);
    assert_int_equal(c->f.rot[0].offset, offsets[2]);
    assert_int_equal(c->f.rot[1].offset, offsets[4]);
    for (uint64_t before = 1; before <= 5; before++) {
        uint8_t key[AC_PUBKEY_SIZE];
        fold_key_at(&c->f, before, key);
        assert_memory_equal(key, keys[signer_before[before]], AC_PUBKEY_SIZE);
        fold f;
        TU_OK(fold_copy(&f, &c->f));
        TU_OK(fold_truncate(&f, before));
        assert_memory_equal(f.st.signer, keys[signer_before[before]], AC_PUBKEY_SIZE);
        /* The keys retired by then, and only those. */
        for (int k = 0; k < 3; k++)
            assert_int_equal(key_set_has(&f.retired, keys[k]), k < signer_before[before]);
        fold_free(&f);
    }
    tu_close_chain(c);
}

TU_MAIN(ref_setup, ref_teardown,
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_lacking_extension_keys),
        cmocka_unit_test(test_wrong_fields),
        cmocka_unit_test(test_more_committed_than_held),
        cmocka_unit_test(test_wrong_signer_refused),
        cmocka_unit_test(test_valid_is_used),
        cmocka_unit_test(test_python_checkpoint),
        cmocka_unit_test(test_history))
