/* src/merkle.c: RFC 6962 hashing, the stored-hash layout, roots, inclusion
 * and consistency proofs and their checks, tile math.
 *
 * Three kinds of evidence: the RFC 6962 test vectors (the 8 standard leaves,
 * their roots and node hashes, and every inclusion and consistency case
 * published with transparency-dev/merkle), an exhaustive comparison of every
 * proof of every small tree with a naive recursive reading of RFC 6962
 * written here, and hostile sizes and indices. */
#include "testutil.h"

#include "internal.h"
#include "merkle_vectors.h"

typedef uint8_t hash_t[AC_HASH_SIZE];

static void unhex(const char *hex, uint8_t *out, size_t *len)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *len = n;
}

/* A 32-byte hash from hex; false if the hex is not 32 bytes. */
static bool hash_hex(const char *hex, hash_t out)
{
    uint8_t buf[256];
    size_t n;
    if (strlen(hex) > 2 * sizeof buf)
        return false;
    unhex(hex, buf, &n);
    if (n != AC_HASH_SIZE)
        return false;
    memcpy(out, buf, AC_HASH_SIZE);
    return true;
}

/* ---------------------------------------------------------------- RFC 6962 vectors */

static const char *const leaf_inputs[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const root_hashes[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static ac_merkle_mem *rfc_tree(size_t n)
{
    ac_merkle_mem *m;
    TU_OK(ac_merkle_mem_new(&m, NULL));
    for (size_t i = 0; i < n; i++) {
        uint8_t data[64];
        size_t len;
        unhex(leaf_inputs[i], data, &len);
        TU_OK(ac_merkle_mem_append(m, data, len, NULL));
    }
    return m;
}

static void test_rfc6962_roots(void **state)
{
    (void)state;
    ac_merkle_mem *m = rfc_tree(8);
    for (uint64_t size = 0; size <= 8; size++) {
        hash_t root, want;
        TU_OK(ac_merkle_tree_hash(size, ac_merkle_mem_read, m, root, NULL));
        assert_true(hash_hex(root_hashes[size], want));
        assert_memory_equal(root, want, AC_HASH_SIZE);
    }
    /* Level 0 holds the leaf hashes, level 3 the root of 8. */
    uint64_t idx;
    hash_t got, want;
    TU_OK(ac_merkle_stored_index(0, 0, &idx, NULL));
    TU_OK(ac_merkle_mem_read(m, &idx, 1, &got, NULL));
    assert_true(hash_hex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", want));
    assert_memory_equal(got, want, AC_HASH_SIZE);
    TU_OK(ac_merkle_stored_index(2, 1, &idx, NULL));
    TU_OK(ac_merkle_mem_read(m, &idx, 1, &got, NULL));
    assert_true(hash_hex("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4", want));
    assert_memory_equal(got, want, AC_HASH_SIZE);
    TU_OK(ac_merkle_stored_index(3, 0, &idx, NULL));
    TU_OK(ac_merkle_mem_read(m, &idx, 1, &got, NULL));
    assert_true(hash_hex(root_hashes[8], want));
    assert_memory_equal(got, want, AC_HASH_SIZE);
    ac_merkle_mem_free(m);
}

/* The proof is exactly the published list of hex hashes. */
static void assert_hashes(const hash_t *proof, size_t n, const char *const *hex, size_t nhex)
{
    assert_int_equal(n, nhex);
    for (size_t j = 0; j < n; j++) {
        hash_t want;
        assert_true(hash_hex(hex[j], want));
        assert_memory_equal(proof[j], want, AC_HASH_SIZE);
    }
}

/* Our proofs for the published happy paths are exactly the published ones. */
static void test_vector_proofs_match(void **state)
{
    (void)state;
    ac_merkle_mem *m = rfc_tree(8);
    for (size_t i = 0; i < sizeof mv_inclusions / sizeof mv_inclusions[0]; i++) {
        const mv_inclusion *v = &mv_inclusions[i];
        if (!v->ok || v->size > 8)
            continue;
        hash_t proof[AC_MERKLE_MAX_PROOF];
        size_t n;
        TU_OK(ac_merkle_prove_record(v->index, v->size, ac_merkle_mem_read, m, proof, &n, NULL));
        assert_hashes((const hash_t *)proof, n, v->proof, v->nproof);
    }
    for (size_t i = 0; i < sizeof mv_consistencies / sizeof mv_consistencies[0]; i++) {
        const mv_consistency *v = &mv_consistencies[i];
        if (!v->ok || v->size2 > 8)
            continue;
        hash_t proof[AC_MERKLE_MAX_PROOF];
        size_t n;
        TU_OK(ac_merkle_prove_tree(v->size1, v->size2, ac_merkle_mem_read, m, proof, &n, NULL));
        assert_hashes((const hash_t *)proof, n, v->proof, v->nproof);
    }
    ac_merkle_mem_free(m);
}

/* Every published case, good and bad, gets the published verdict.  A case
 * whose hashes are not 32 bytes each cannot be expressed in this API: it
 * must be one that fails. */
static void test_vector_checks(void **state)
{
    (void)state;
    size_t ran = 0;
    for (size_t i = 0; i < sizeof mv_inclusions / sizeof mv_inclusions[0]; i++) {
        const mv_inclusion *v = &mv_inclusions[i];
        hash_t root, leaf, proof[16];
        bool shaped = hash_hex(v->root, root) && hash_hex(v->leaf, leaf);
        for (size_t j = 0; j < v->nproof; j++)
            shaped = shaped && hash_hex(v->proof[j], proof[j]);
        if (!shaped) {
            assert_false(v->ok);
            continue;
        }
        ac_error err;
        int got = ac_merkle_check_record((const hash_t *)proof, v->nproof, v->index, leaf, v->size,
                                         root, &err);
        if (got != (int)v->ok)
            fail_msg("inclusion %s: got %d, want %d (%s)", v->name, got, v->ok, err.message);
        ran++;
    }
    for (size_t i = 0; i < sizeof mv_consistencies / sizeof mv_consistencies[0]; i++) {
        const mv_consistency *v = &mv_consistencies[i];
        hash_t r1, r2, proof[16];
        bool shaped = hash_hex(v->root1, r1) && hash_hex(v->root2, r2);
        for (size_t j = 0; j < v->nproof; j++)
            shaped = shaped && hash_hex(v->proof[j], proof[j]);
        if (!shaped && v->ok) {
            /* Equal sizes and an empty proof compare the roots only: any
             * two equal strings pass, 32 bytes or not. */
            assert_true(v->size1 == v->size2 && v->nproof == 0 &&
                        strcmp(v->root1, v->root2) == 0);
            memset(r1, 0x5a, sizeof r1);
            assert_int_equal(ac_merkle_check_tree(NULL, 0, v->size1, r1, v->size2, r1, NULL), 1);
            continue;
        }
        if (!shaped)
            continue;
        ac_error err;
        int got = ac_merkle_check_tree((const hash_t *)proof, v->nproof, v->size1, r1, v->size2,
                                       r2, &err);
        if (got != (int)v->ok)
            fail_msg("consistency %s: got %d, want %d (%s)", v->name, got, v->ok, err.message);
        ran++;
    }
    assert_int_equal(ran, 139); /* the 184 cases less those whose hashes are not 32 bytes */
}

/* ---------------------------------------------------------------- naive RFC 6962 */

static hash_t *naive_leaves(size_t n)
{
    hash_t *l = malloc(n * sizeof *l);
    assert_non_null(l);
    for (size_t i = 0; i < n; i++) {
        uint8_t data[8];
        for (int j = 0; j < 8; j++)
            data[j] = (uint8_t)(i >> (8 * j));
        TU_OK(ac_merkle_leaf_hash(data, (i % 8) + 1, l[i], NULL));
    }
    return l;
}

static void mth(const hash_t *leaves, uint64_t lo, uint64_t hi, hash_t out)
{
    if (hi - lo == 1) {
        memcpy(out, leaves[lo], AC_HASH_SIZE);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < hi - lo)
        k *= 2;
    hash_t a, b;
    mth(leaves, lo, lo + k, a);
    mth(leaves, lo + k, hi, b);
    TU_OK(ac_merkle_node_hash(a, b, out, NULL));
}

static void path(const hash_t *leaves, uint64_t m, uint64_t lo, uint64_t hi, hash_t *out,
                 size_t *n)
{
    if (hi - lo <= 1)
        return;
    uint64_t k = 1;
    while (k * 2 < hi - lo)
        k *= 2;
    if (m < k) {
        path(leaves, m, lo, lo + k, out, n);
        mth(leaves, lo + k, hi, out[(*n)++]);
    } else {
        path(leaves, m - k, lo + k, hi, out, n);
        mth(leaves, lo, lo + k, out[(*n)++]);
    }
}

static void subproof(const hash_t *leaves, uint64_t m, uint64_t lo, uint64_t hi, bool b,
                     hash_t *out, size_t *n)
{
    if (m == hi - lo) {
        if (!b)
            mth(leaves, lo, hi, out[(*n)++]);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < hi - lo)
        k *= 2;
    if (m <= k) {
        subproof(leaves, m, lo, lo + k, b, out, n);
        mth(leaves, lo + k, hi, out[(*n)++]);
    } else {
        subproof(leaves, m - k, lo + k, hi, false, out, n);
        mth(leaves, lo, lo + k, out[(*n)++]);
    }
}

enum { EXHAUSTIVE = 70 };

static void test_exhaustive_small_trees(void **state)
{
    (void)state;
    hash_t *leaves = naive_leaves(EXHAUSTIVE);
    ac_merkle_mem *m;
    TU_OK(ac_merkle_mem_new(&m, NULL));
    for (size_t i = 0; i < EXHAUSTIVE; i++)
        TU_OK(ac_merkle_mem_append_leaf(m, leaves[i], NULL));
    uint64_t count;
    TU_OK(ac_merkle_stored_count(EXHAUSTIVE, &count, NULL));
    for (uint64_t size = 1; size <= EXHAUSTIVE; size++) {
        hash_t root, want;
        TU_OK(ac_merkle_tree_hash(size, ac_merkle_mem_read, m, root, NULL));
        mth(leaves, 0, size, want);
        assert_memory_equal(root, want, AC_HASH_SIZE);
        for (uint64_t i = 0; i < size; i++) {
            hash_t proof[AC_MERKLE_MAX_PROOF], naive[AC_MERKLE_MAX_PROOF];
            size_t n, nn = 0;
            TU_OK(ac_merkle_prove_record(i, size, ac_merkle_mem_read, m, proof, &n, NULL));
            path(leaves, i, 0, size, naive, &nn);
            assert_int_equal(n, nn);
            assert_memory_equal(proof, naive, n * AC_HASH_SIZE);
            assert_int_equal(ac_merkle_check_record((const hash_t *)proof, n, i, leaves[i], size, root, NULL), 1);
            /* Another leaf, another index, a flipped bit, one hash less. */
            assert_int_equal(ac_merkle_check_record((const hash_t *)proof, n, i, leaves[(i + 1) % EXHAUSTIVE], size, root, NULL), 0);
            if (size > 1)
                assert_int_equal(ac_merkle_check_record((const hash_t *)proof, n, (i + 1) % size, leaves[i], size, root, NULL), 0);
            if (n > 0) {
                proof[n - 1][7] ^= 0x10;
                assert_int_equal(ac_merkle_check_record((const hash_t *)proof, n, i, leaves[i], size, root, NULL), 0);
                proof[n - 1][7] ^= 0x10;
                assert_int_equal(ac_merkle_check_record((const hash_t *)proof, n - 1, i, leaves[i], size, root, NULL), 0);
            }
        }
        for (uint64_t old = 1; old <= size; old++) {
            hash_t proof[AC_MERKLE_MAX_PROOF], naive[AC_MERKLE_MAX_PROOF], old_root;
            size_t n, nn = 0;
            TU_OK(ac_merkle_prove_tree(old, size, ac_merkle_mem_read, m, proof, &n, NULL));
            subproof(leaves, old, 0, size, true, naive, &nn);
            assert_int_equal(n, nn);
            assert_memory_equal(proof, naive, n * AC_HASH_SIZE);
            mth(leaves, 0, old, old_root);
            assert_int_equal(ac_merkle_check_tree((const hash_t *)proof, n, old, old_root, size, root, NULL), 1);
            if (n > 0) {
                proof[0][0] ^= 1;
                assert_int_equal(ac_merkle_check_tree((const hash_t *)proof, n, old, old_root, size, root, NULL), 0);
                proof[0][0] ^= 1;
            }
            if (old < size) /* the proof does not fit the next size */
                assert_int_equal(ac_merkle_check_tree((const hash_t *)proof, n, old + 1, old_root, size, root, NULL), 0);
        }
    }
    ac_merkle_mem_free(m);
    free(leaves);
}

/* ---------------------------------------------------------------- stored layout */

static void test_stored_index_layout(void **state)
{
    (void)state;
    /* The order of the Go checksum database: 0:(0,0) 1:(0,1) 2:(1,0)
     * 3:(0,2) 4:(0,3) 5:(1,1) 6:(2,0) 7:(0,4). */
    static const struct { unsigned level; uint64_t n, idx; } cases[] = {
        {0, 0, 0}, {0, 1, 1}, {1, 0, 2}, {0, 2, 3}, {0, 3, 4}, {1, 1, 5}, {2, 0, 6}, {0, 4, 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t idx;
        TU_OK(ac_merkle_stored_index(cases[i].level, cases[i].n, &idx, NULL));
        assert_int_equal(idx, cases[i].idx);
    }
    static const uint64_t counts[] = {0, 1, 3, 4, 7, 8, 10, 11, 15};
    for (uint64_t n = 0; n < sizeof counts / sizeof counts[0]; n++) {
        uint64_t c;
        TU_OK(ac_merkle_stored_count(n, &c, NULL));
        assert_int_equal(c, counts[n]);
    }
    /* Appends extend the store by exactly the hashes each record adds. */
    ac_merkle_mem *m = rfc_tree(0);
    for (uint64_t n = 0; n < 300; n++) {
        hash_t leaf, add[AC_MERKLE_MAX_STORED];
        size_t k;
        uint64_t before, after;
        memset(leaf, (int)n, sizeof leaf);
        TU_OK(ac_merkle_stored_hashes(n, leaf, ac_merkle_mem_read, m, add, &k, NULL));
        TU_OK(ac_merkle_stored_count(n, &before, NULL));
        TU_OK(ac_merkle_stored_count(n + 1, &after, NULL));
        assert_int_equal(k, after - before);
        assert_memory_equal(add[0], leaf, AC_HASH_SIZE);
        TU_OK(ac_merkle_mem_append_leaf(m, leaf, NULL));
    }
    ac_merkle_mem_free(m);
}

/* ---------------------------------------------------------------- hostile input */

static void test_hostile_sizes(void **state)
{
    (void)state;
    ac_error err;
    uint64_t idx;
    assert_int_equal(ac_merkle_stored_index(62, 0, &idx, &err), AC_EINVAL);
    assert_int_equal(ac_merkle_stored_index(0, UINT64_MAX, &idx, &err), AC_EINVAL);
    assert_int_equal(ac_merkle_stored_index(61, 2, &idx, &err), AC_EINVAL);
    assert_int_equal(ac_merkle_stored_index(UINT32_MAX, 0, &idx, &err), AC_EINVAL);
    assert_int_equal(ac_merkle_stored_count(UINT64_MAX, &idx, &err), AC_EINVAL);
    TU_OK(ac_merkle_stored_count(AC_MERKLE_MAX_SIZE, &idx, NULL));
    TU_OK(ac_merkle_stored_index(61, 1, &idx, NULL));

    ac_merkle_mem *m = rfc_tree(8);
    hash_t proof[AC_MERKLE_MAX_PROOF], root;
    size_t n;
    assert_int_equal(ac_merkle_prove_record(8, 8, ac_merkle_mem_read, m, proof, &n, &err), AC_EINVAL);
    assert_int_equal(ac_merkle_prove_record(0, UINT64_MAX, ac_merkle_mem_read, m, proof, &n, &err), AC_EINVAL);
    assert_int_equal(ac_merkle_prove_tree(0, 8, ac_merkle_mem_read, m, proof, &n, &err), AC_EINVAL);
    assert_int_equal(ac_merkle_prove_tree(9, 8, ac_merkle_mem_read, m, proof, &n, &err), AC_EINVAL);
    /* A size the store does not hold: the reader's error comes back. */
    assert_int_equal(ac_merkle_prove_record(3, 1000, ac_merkle_mem_read, m, proof, &n, &err), AC_EINVAL);
    assert_non_null(strstr(err.message, "stored hash"));
    assert_int_equal(ac_merkle_tree_hash(AC_MERKLE_MAX_SIZE + 1, ac_merkle_mem_read, m, root, &err), AC_EINVAL);
    /* The largest tree: every proof index stays in range (the reader says no). */
    assert_int_equal(ac_merkle_prove_record(AC_MERKLE_MAX_SIZE - 1, AC_MERKLE_MAX_SIZE,
                                            ac_merkle_mem_read, m, proof, &n, &err), AC_EINVAL);
    assert_int_equal(ac_merkle_prove_tree(AC_MERKLE_MAX_SIZE - 3, AC_MERKLE_MAX_SIZE,
                                          ac_merkle_mem_read, m, proof, &n, &err), AC_EINVAL);

    /* Checks take any numbers and say no. */
    memset(proof, 0xab, sizeof proof);
    memset(root, 0, sizeof root);
    assert_int_equal(ac_merkle_check_record((const hash_t *)proof, AC_MERKLE_MAX_PROOF, UINT64_MAX - 1, root, UINT64_MAX, root, &err), 0);
    assert_int_equal(ac_merkle_check_record((const hash_t *)proof, 0, 0, root, 0, root, &err), 0);
    assert_int_equal(ac_merkle_check_record((const hash_t *)proof, AC_MERKLE_MAX_PROOF + 1, 0, root, 2, root, &err), 0);
    assert_int_equal(ac_merkle_check_record((const hash_t *)proof, 0, 0, root, 1, root, &err), 1);
    assert_int_equal(ac_merkle_check_tree((const hash_t *)proof, 0, 0, root, 0, root, &err), 0);
    assert_int_equal(ac_merkle_check_tree((const hash_t *)proof, AC_MERKLE_MAX_PROOF, UINT64_MAX - 1, root, UINT64_MAX, root, &err), 0);
    assert_int_equal(ac_merkle_check_tree((const hash_t *)proof, 3, 5, root, 4, root, &err), 0);
    assert_int_equal(ac_merkle_check_tree((const hash_t *)proof, 1, 4, root, 4, root, &err), 0);
    assert_int_equal(ac_merkle_check_tree((const hash_t *)proof, 0, 3, root, 5, root, &err), 0);
    ac_merkle_mem_free(m);
}

/* ---------------------------------------------------------------- tiles */

static void test_tile_paths(void **state)
{
    (void)state;
    char p[AC_TILE_PATH_MAX];
    TU_OK(ac_tile_path(0, 0, 1234067, AC_TILE_WIDTH, p, NULL));
    assert_string_equal(p, "tile/0/x001/x234/067");
    TU_OK(ac_tile_path(0, 2, 5, 17, p, NULL));
    assert_string_equal(p, "tile/2/005.p/17");
    TU_OK(ac_tile_path(1, 0, 0, 1, p, NULL));
    assert_string_equal(p, "tile/entries/000.p/1");
    TU_OK(ac_tile_path(1, 99, 1000, AC_TILE_WIDTH, p, NULL));
    assert_string_equal(p, "tile/entries/x001/000");
    TU_OK(ac_tile_path(0, 63, UINT64_MAX, 255, p, NULL));
    assert_string_equal(p, "tile/63/x018/x446/x744/x073/x709/x551/615.p/255");
    assert_int_equal(ac_tile_path(0, 64, 0, 1, p, NULL), AC_EINVAL);
    assert_int_equal(ac_tile_path(0, 0, 0, 0, p, NULL), AC_EINVAL);
    assert_int_equal(ac_tile_path(0, 0, 0, 257, p, NULL), AC_EINVAL);
}

static void test_tile_counts(void **state)
{
    (void)state;
    /* tlog-tiles' example: a tree of 70,000. */
    uint64_t full;
    unsigned partial;
    ac_tile_counts(70000, 0, &full, &partial);
    assert_int_equal(full, 273);
    assert_int_equal(partial, 112);
    ac_tile_counts(70000, 1, &full, &partial);
    assert_int_equal(full, 1);
    assert_int_equal(partial, 17);
    ac_tile_counts(70000, 2, &full, &partial);
    assert_int_equal(full, 0);
    assert_int_equal(partial, 1);
    ac_tile_counts(70000, 3, &full, &partial);
    assert_int_equal(full + partial, 0);
    ac_tile_counts(256, 1, &full, &partial);
    assert_int_equal(full, 0);
    assert_int_equal(partial, 1);
    ac_tile_counts(UINT64_MAX, 7, &full, &partial);
    assert_int_equal(full, 0);
    assert_int_equal(partial, 255);
    ac_tile_counts(UINT64_MAX, 4000000000u, &full, &partial);
    assert_int_equal(full + partial, 0);
}

static void test_tile_read(void **state)
{
    (void)state;
    enum { N = 600 };
    hash_t *leaves = naive_leaves(N);
    ac_merkle_mem *m;
    TU_OK(ac_merkle_mem_new(&m, NULL));
    for (size_t i = 0; i < N; i++)
        TU_OK(ac_merkle_mem_append_leaf(m, leaves[i], NULL));
    uint8_t *tile = malloc(AC_TILE_WIDTH * AC_HASH_SIZE);
    assert_non_null(tile);
    TU_OK(ac_tile_read(0, 1, AC_TILE_WIDTH, ac_merkle_mem_read, m, tile, NULL));
    assert_memory_equal(tile, leaves[256], AC_TILE_WIDTH * AC_HASH_SIZE);
    TU_OK(ac_tile_read(0, 2, N - 512, ac_merkle_mem_read, m, tile, NULL));
    assert_memory_equal(tile, leaves[512], (N - 512) * AC_HASH_SIZE);
    TU_OK(ac_tile_read(1, 0, 2, ac_merkle_mem_read, m, tile, NULL));
    hash_t want;
    mth(leaves, 0, 256, want);
    assert_memory_equal(tile, want, AC_HASH_SIZE);
    mth(leaves, 256, 512, want);
    assert_memory_equal(tile + AC_HASH_SIZE, want, AC_HASH_SIZE);
    ac_error err;
    assert_int_equal(ac_tile_read(0, 3, 1, ac_merkle_mem_read, m, tile, &err), AC_EINVAL);
    assert_int_equal(ac_tile_read(8, 0, 1, ac_merkle_mem_read, m, tile, &err), AC_EINVAL);
    assert_int_equal(ac_tile_read(0, UINT64_MAX, 1, ac_merkle_mem_read, m, tile, &err), AC_EINVAL);
    free(tile);
    ac_merkle_mem_free(m);
    free(leaves);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_rfc6962_roots),
        cmocka_unit_test(test_vector_proofs_match),
        cmocka_unit_test(test_vector_checks),
        cmocka_unit_test(test_exhaustive_small_trees),
        cmocka_unit_test(test_stored_index_layout),
        cmocka_unit_test(test_hostile_sizes),
        cmocka_unit_test(test_tile_paths),
        cmocka_unit_test(test_tile_counts),
        cmocka_unit_test(test_tile_read))
