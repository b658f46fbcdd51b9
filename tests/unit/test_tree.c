/* Unit tests for src/tree.c: merkle.bin as appends extend it is byte for
 * byte what a rebuild from chain.bin writes (so the cheap path is the right
 * one), its root is the in-memory reference's at every size, and a store
 * that cannot be written is kept in memory with the same answers, whatever
 * the threads that hash the leaves. */
#include "testutil.h"

#include "internal.h"

/* The root of the first `size` leaves of dir's chain, from scratch. */
static void reference_root(const char *dir, uint64_t size, uint8_t root[AC_HASH_SIZE])
{
    size_t len;
    uint8_t *img = tu_slurp(dir, "chain.bin", &len);
    assert_non_null(img);
    ac_merkle_mem *mem;
    TU_OK(ac_merkle_mem_new(&mem, NULL));
    size_t off = 0;
    for (uint64_t i = 0; i < size; i++) {
        uint32_t n = (uint32_t)img[off] << 24 | (uint32_t)img[off + 1] << 16 |
                     (uint32_t)img[off + 2] << 8 | img[off + 3];
        TU_OK(ac_merkle_mem_append(mem, img + off + 4, n, NULL));
        off += 4 + (size_t)n;
    }
    TU_OK(ac_merkle_tree_hash(size, ac_merkle_mem_read, mem, root, NULL));
    ac_merkle_mem_free(mem);
    free(img);
}

/* dir's merkle.bin holds exactly want[0..len). */
static void assert_tree_file(const char *dir, const uint8_t *want, size_t len)
{
    size_t got_len;
    uint8_t *got = tu_slurp(dir, "merkle.bin", &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    free(got);
}

static void test_appends_extend_like_a_rebuild(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    tu_append_ok(c, key, 0, 3, NULL);
    TU_OK(tree_sync(c, NULL)); /* merkle.bin made and in step */
    uint64_t n = 3;
    static const size_t batches[] = {1, 5, 1, 17, 2, TU_BATCH_MAX, 1};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        tu_append_ok(c, key, n, batches[b], NULL);
        n += batches[b];
        assert_int_equal(c->tree_n, n); /* extended by the append itself */
        uint8_t got[AC_HASH_SIZE], want[AC_HASH_SIZE];
        TU_OK(ac_merkle_tree_hash(n, tree_read, c, got, NULL));
        reference_root(dir, n, want);
        assert_memory_equal(got, want, AC_HASH_SIZE);
    }
    tu_close_chain(c);
    size_t len;
    uint8_t *grown = tu_slurp(dir, "merkle.bin", &len);
    assert_true(tu_unlink(dir, "merkle.bin"));
    c = tu_open_chain(dir, 0);
    TU_OK(tree_sync(c, NULL));
    tu_close_chain(c);
    assert_tree_file(dir, grown, len);
    free(grown);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* A read-only handle, or a merkle.bin that cannot be written, keeps the store
 * in memory: the same roots. */
static void test_store_in_memory(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    tu_make_chain(dir, NULL, 40);
    (void)tu_unlink(dir, "merkle.bin"); /* the appends made one */
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    TU_OK(tree_sync(c, NULL));
    assert_int_equal(c->tree_fd, -1);
    assert_non_null(c->tree_mem);
    for (uint64_t size = 1; size <= 40; size += 13) {
        uint8_t got[AC_HASH_SIZE], want[AC_HASH_SIZE];
        TU_OK(ac_merkle_tree_hash(size, tree_read, c, got, NULL));
        reference_root(dir, size, want);
        assert_memory_equal(got, want, AC_HASH_SIZE);
    }
    tu_close_chain(c);
    assert_false(tu_exists(dir, "merkle.bin"));
    tu_rmtree(dir);
}

/* A rebuild long enough for every thread, several windows and batches cut
 * mid-window gives the same merkle.bin and roots whatever the threads. */
static void test_rebuild_many_windows(void **state)
{
    (void)state;
    enum { RECORDS = 12000 };
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = tu_new_key(NULL);
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    for (uint64_t n = 0; n < RECORDS; n += TU_BATCH_MAX)
        tu_append_ok(c, key, n, RECORDS - n < TU_BATCH_MAX ? RECORDS - n : TU_BATCH_MAX, NULL);
    tu_close_chain(c);
    size_t len;
    uint8_t *img = tu_slurp(dir, "chain.bin", &len);
    free(img);
    /* Over two of the scanner's 2 MiB windows, and records small enough that
     * a batch of 4096 fills before a window ends. */
    assert_true(len > 4u << 20 && len / RECORDS < 500);
    uint8_t *grown = tu_slurp(dir, "merkle.bin", &len);
    uint8_t want[AC_HASH_SIZE], want_part[AC_HASH_SIZE];
    reference_root(dir, RECORDS, want);
    reference_root(dir, RECORDS - 1, want_part);
    static const unsigned threads[] = {1, 2, 5};
    for (size_t t = 0; t < 3; t++) {
        assert_true(tu_unlink(dir, "merkle.bin"));
        c = tu_open_chain(dir, 0);
        ac_chain_set_threads(c, threads[t]);
        TU_OK(tree_sync(c, NULL));
        /* Leaves hashed afresh from a point inside the store. */
        mrange r;
        uint8_t got[AC_HASH_SIZE];
        TU_OK(mrange_load(&r, 777, tree_read, c, NULL));
        TU_OK(tree_push_chain(c, &r, RECORDS - 1, false, NULL));
        TU_OK(mrange_root(&r, c->hasher, got));
        assert_memory_equal(got, want_part, AC_HASH_SIZE);
        mrange_init(&r);
        TU_OK(tree_push_chain(c, &r, RECORDS, false, NULL));
        TU_OK(mrange_root(&r, c->hasher, got));
        assert_memory_equal(got, want, AC_HASH_SIZE);
        tu_close_chain(c);
        assert_tree_file(dir, grown, len);
    }
    free(grown);
    ac_key_free(key);
    tu_rmtree(dir);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_rebuild_many_windows),
        cmocka_unit_test(test_appends_extend_like_a_rebuild),
        cmocka_unit_test(test_store_in_memory))
