/* Unit tests for src/find.c: the records of given content hashes, found in
 * one pass, in order, once per hash asked for; stopping early; the empty
 * chain; rotations followed; and every invalid shared vector refused at the
 * record verification names, when all its records are asked for. */
#include "testutil.h"

#include <dirent.h>

#include "internal.h"

/* What the callback saw: (which, index) pairs. */
typedef struct seen {
    size_t which[512];
    uint64_t index[512];
    uint8_t signer[512][AC_PUBKEY_SIZE];
    size_t n;
    size_t stop_after; /* 0: never stop */
} seen;

static int collect(void *ctx, size_t which, const ac_record *rec)
{
    seen *s = ctx;
    assert_true(s->n < 512);
    s->which[s->n] = which;
    s->index[s->n] = ac_record_index(rec);
    memcpy(s->signer[s->n], ac_record_signer(rec), AC_PUBKEY_SIZE);
    s->n++;
    return s->stop_after != 0 && s->n >= s->stop_after;
}

/* Progress calls: how many, and the last done/total. */
typedef struct calls {
    uint64_t n, done, total;
} calls;

static void progress_count(void *ctx, uint64_t done, uint64_t total)
{
    calls *c = ctx;
    assert_true(done <= total);
    assert_true(done >= c->done);
    c->n++;
    c->done = done;
    c->total = total;
}

static void test_find_in_order(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key *key = tu_new_key(pub);
    tu_make_chain(dir, key, 9000);
    ac_key_free(key);
    uint8_t h[5][AC_HASH_SIZE];
    tu_content_hash(8999, h[0]);
    tu_content_hash(57, h[1]);
    memset(h[2], 0xee, AC_HASH_SIZE); /* in no record */
    tu_content_hash(0, h[3]);
    tu_content_hash(57, h[4]); /* asked twice: reported twice */
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    seen s = {0};
    calls progress = {0};
    ac_error err;
    TU_OK(ac_find(c, (const uint8_t(*)[AC_HASH_SIZE])h, 5, collect, &s, progress_count, &progress,
                  &err));
    assert_int_equal(s.n, 4);
    static const size_t want_which[] = {3, 1, 4, 0};
    static const uint64_t want_index[] = {0, 57, 57, 8999};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(s.which[i], want_which[i]);
        assert_int_equal(s.index[i], want_index[i]);
        assert_memory_equal(s.signer[i], pub, AC_PUBKEY_SIZE);
    }
    assert_true(progress.n >= 1);
    assert_int_equal(progress.done, 9000); /* the last call: all done */
    assert_int_equal(progress.total, 9000);
    /* The callback stops the search: AC_OK, nothing after. */
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    TU_OK(ac_find(c, (const uint8_t(*)[AC_HASH_SIZE])h, 5, collect, &s, NULL, NULL, &err));
    assert_int_equal(s.n, 2);
    /* Nothing asked, nothing found. */
    memset(&s, 0, sizeof s);
    TU_OK(ac_find(c, NULL, 0, collect, &s, NULL, NULL, &err));
    assert_int_equal(s.n, 0);
    assert_int_equal(ac_find(c, NULL, 1, collect, &s, NULL, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_find(NULL, h, 1, collect, &s, NULL, NULL, &err), AC_EINVAL);
    tu_close_chain(c);
    tu_rmtree(dir);
}

static void test_empty_chain(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    uint8_t h[1][AC_HASH_SIZE] = {{0}};
    seen s = {0};
    TU_OK(ac_find(c, (const uint8_t(*)[AC_HASH_SIZE])h, 1, collect, &s, NULL, NULL, NULL));
    assert_int_equal(s.n, 0);
    tu_close_chain(c);
    tu_rmtree(dir);
}

/* A tampered record found is refused even though the rest of the chain was
 * not asked about; a record not asked about is still linked. */
static void test_tampered_signature(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    tu_make_chain(dir, NULL, 3);
    size_t len;
    uint8_t *img = tu_slurp(dir, "chain.bin", &len);
    size_t offs[3];
    assert_int_equal(tu_frame_offsets(img, len, offs, 3, NULL), 3);
    /* The last byte of record 2's body is in its entropy witnesses, after the
     * signature: flip one bit of the signature instead, found by its key. */
    static const uint8_t sig_key[] = {0x69, 's', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', 0x58, 0x40};
    uint8_t *at = memmem(img + offs[2], len - offs[2], sig_key, sizeof sig_key);
    assert_non_null(at);
    at[sizeof sig_key] ^= 1;
    tu_spew(dir, "chain.bin", img, len);
    free(img);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    uint8_t h[2][AC_HASH_SIZE];
    tu_content_hash(1, h[0]);
    tu_content_hash(2, h[1]);
    seen s = {0};
    ac_error err;
    /* Record 1 only: record 2 is not shown, and its signature not checked. */
    TU_OK(ac_find(c, (const uint8_t(*)[AC_HASH_SIZE])h, 1, collect, &s, NULL, NULL, &err));
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof s);
    assert_int_equal(ac_find(c, (const uint8_t(*)[AC_HASH_SIZE])h, 2, collect, &s, NULL, NULL,
                             &err),
                     AC_ECORRUPT);
    assert_int_equal(err.index, 2);
    assert_non_null(strstr(err.message, "record 2"));
    assert_non_null(strstr(err.message, "signature"));
    assert_int_equal(s.n, 1); /* record 1 was reported before the damage */
    tu_close_chain(c);
    tu_rmtree(dir);
}

/* The content hashes of the records in dir/chain.bin that decode, at most
 * `max`, found without the library's reader (which stops at damage). */
static size_t chain_hashes(const char *dir, uint8_t (*h)[AC_HASH_SIZE], size_t max)
{
    size_t len, offs[512];
    uint8_t *img = tu_slurp(dir, "chain.bin", &len);
    size_t frames = tu_frame_offsets(img, len, offs, 512, NULL), n = 0;
    for (size_t i = 0; i < frames && n < max; i++) {
        ac_rec view;
        const char *why;
        if (rec_decode(img + offs[i] + 4, tu_get_be32(img + offs[i]), &view, &why) == 0)
            memcpy(h[n++], view.content_hash, AC_HASH_SIZE);
    }
    free(img);
    return n;
}

/* Every shared vector, with all its records asked for: a valid chain gives
 * each of them; an invalid one fails at the index its case names. */
static void test_vectors(void **state)
{
    (void)state;
    char root[TU_PATH_MAX];
    tu_vector_path(root, sizeof root, "");
    DIR *d = opendir(root);
    assert_non_null(d);
    struct dirent *e;
    size_t checked = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "valid-", 6) != 0 && strncmp(e->d_name, "invalid-", 8) != 0)
            continue;
        char src[TU_PATH_MAX], tmp[4096];
        tu_vector_path(src, sizeof src, e->d_name);
        tu_tmpdir(tmp, sizeof tmp);
        tu_copy(src, tmp, "chain.bin");
        json_t *cs = tu_load_case(e->d_name);
        bool valid = strcmp(tu_case_string(cs, "expect"), "valid") == 0;
        ac_chain *c = tu_open_chain(tmp, AC_OPEN_READONLY);
        static uint8_t h[512][AC_HASH_SIZE];
        size_t n = chain_hashes(tmp, h, 512);
        seen s = {0};
        ac_error err;
        int rc = ac_find(c, (const uint8_t(*)[AC_HASH_SIZE])h, n, collect, &s, NULL, NULL, &err);
        if (valid) {
            if (rc != AC_OK)
                fail_msg("%s: %s", e->d_name, err.message);
            assert_int_equal(s.n, (size_t)json_integer_value(json_object_get(cs, "records")));
        } else {
            if (rc != AC_ECORRUPT)
                fail_msg("%s: find returned %d, want AC_ECORRUPT", e->d_name, rc);
            json_int_t want = json_integer_value(json_object_get(cs, "index"));
            if (err.index != want)
                fail_msg("%s: failed at %lld (%s), want %lld", e->d_name, (long long)err.index,
                         err.message, (long long)want);
        }
        tu_close_chain(c);
        json_decref(cs);
        tu_rmtree(tmp);
        checked++;
    }
    closedir(d);
    assert_true(checked >= 15);
}

TU_MAIN(NULL, NULL, cmocka_unit_test(test_find_in_order), cmocka_unit_test(test_empty_chain),
        cmocka_unit_test(test_tampered_signature), cmocka_unit_test(test_vectors))
