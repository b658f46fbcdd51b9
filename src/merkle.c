/* The RFC 6962 Merkle tree over the records, computed from stored hashes.
 *
 * Decision: the tree is kept as the sequence of the hashes of its complete
 * subtrees in the order they complete as records are appended (the layout of
 * the Go checksum database's tlog package), and every function here reaches
 * it through a caller's read callback.  Such a store only ever grows at its
 * end (an append writes O(log N) new hashes after reading O(log N) old ones),
 * any root, inclusion proof, consistency proof or tile comes from O(log N)
 * reads in one batch, and the same code serves a file, a memory array or a
 * test.  The incomplete subtrees on the right edge of a tree are never
 * stored: they are recomputed from the complete ones below them.
 *
 * The proofs follow the recursive definitions of RFC 6962 2.1.1 and 2.1.2:
 * each proof hash is the hash of a range of leaves.  Only a range that ends
 * at the tree's right edge can be incomplete, and one proof holds at most
 * one such range (once the recursion turns left it stays inside a complete
 * subtree), which bounds the reads of a proof by AC_MERKLE_MAX_PROOF plus
 * the 64 pieces of one range.  The checks are RFC 9162's iterative
 * algorithms, which need no store.  Sizes and indices are bounded before any
 * arithmetic: nothing here can overflow on hostile input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { MAX_PIECES = 64, MAX_READS = AC_MERKLE_MAX_PROOF + MAX_PIECES };

/* ---------------------------------------------------------------- hashing */

int merkle_node(ac_hasher *h, const uint8_t left[AC_HASH_SIZE], const uint8_t right[AC_HASH_SIZE],
                uint8_t out[AC_HASH_SIZE])
{
    uint8_t buf[1 + 2 * AC_HASH_SIZE];
    buf[0] = 0x01;
    memcpy(buf + 1, left, AC_HASH_SIZE);
    memcpy(buf + 1 + AC_HASH_SIZE, right, AC_HASH_SIZE);
    return hasher_digest(h, buf, sizeof buf, out);
}

static int no_hasher(ac_error *err)
{
    return ac_fail(err, AC_ENOMEM, -1, "merkle: cannot set up SHA-256 (out of memory?)");
}

static int hash_failed(ac_error *err)
{
    return ac_fail(err, AC_ECRYPTO, -1, "merkle: SHA-256 failed");
}

ac_status ac_merkle_leaf_hash(const void *data, size_t len, uint8_t out[AC_HASH_SIZE], ac_error *err)
{
    if (data == NULL && len > 0)
        return ac_fail(err, AC_EINVAL, -1, "merkle: no leaf data");
    ac_hasher *h = hasher_new();
    if (h == NULL)
        return no_hasher(err);
    int rc = hasher_digest2(h, "\x00", 1, data, len, out);
    hasher_free(h);
    return rc == AC_OK ? AC_OK : hash_failed(err);
}

ac_status ac_merkle_node_hash(const uint8_t left[AC_HASH_SIZE], const uint8_t right[AC_HASH_SIZE],
                              uint8_t out[AC_HASH_SIZE], ac_error *err)
{
    ac_hasher *h = hasher_new();
    if (h == NULL)
        return no_hasher(err);
    int rc = merkle_node(h, left, right, out);
    hasher_free(h);
    return rc == AC_OK ? AC_OK : hash_failed(err);
}

/* ---------------------------------------------------------------- stored hashes */

/* Hashes stored by the first m records: each record i stores its leaf and
 * one more hash per trailing 1 bit of i, so m + m/2 + m/4 + ... (m <= 2^62:
 * the sum stays below 2^63). */
static uint64_t stored_before(uint64_t m)
{
    uint64_t total = 0;
    for (; m > 0; m >>= 1)
        total += m;
    return total;
}

ac_status ac_merkle_stored_index(unsigned level, uint64_t n, uint64_t *out, ac_error *err)
{
    /* The subtree completes with record (n+1) * 2^level - 1, which must be
     * below AC_MERKLE_MAX_SIZE. */
    if (level >= 62 || n >= (AC_MERKLE_MAX_SIZE >> level))
        return ac_fail(err, AC_EINVAL, -1,
                       "merkle: subtree %llu at level %u lies beyond the largest tree",
                       (unsigned long long)n, level);
    uint64_t last = ((n + 1) << level) - 1;
    /* Stored after the hashes of the records before `last`, its leaf and the
     * levels 1..level-1 it completes first. */
    *out = stored_before(last) + level;
    return AC_OK;
}

ac_status ac_merkle_stored_count(uint64_t size, uint64_t *out, ac_error *err)
{
    if (size > AC_MERKLE_MAX_SIZE)
        return ac_fail(err, AC_EINVAL, -1, "merkle: a tree of %llu records is too large",
                       (unsigned long long)size);
    *out = stored_before(size);
    return AC_OK;
}

/* Position of a complete subtree known to lie within AC_MERKLE_MAX_SIZE. */
static uint64_t stored_at(unsigned level, uint64_t n)
{
    return stored_before(((n + 1) << level) - 1) + level;
}

static int read_hashes(ac_merkle_read_fn read, void *ctx, const uint64_t *idx, size_t n,
                       uint8_t (*out)[AC_HASH_SIZE], ac_error *err)
{
    if (n == 0)
        return AC_OK;
    int rc = read(ctx, idx, n, out, err);
    if (rc > 0 || rc < AC_ECRYPTO) /* a callback that breaks the convention */
        return ac_fail(err, AC_EIO, -1, "merkle: the hash reader returned %d", rc);
    return rc;
}

ac_status ac_merkle_stored_hashes(uint64_t n, const uint8_t leaf[AC_HASH_SIZE], ac_merkle_read_fn read,
                                  void *ctx, uint8_t (*out)[AC_HASH_SIZE], size_t *count, ac_error *err)
{
    if (n >= AC_MERKLE_MAX_SIZE)
        return ac_fail(err, AC_EINVAL, -1, "merkle: record %llu is beyond the largest tree",
                       (unsigned long long)n);
    /* Record n completes one subtree per trailing 1 bit: at each level its
     * left sibling, (level, (n >> level) - 1), is already stored. */
    uint64_t idx[AC_MERKLE_MAX_STORED];
    uint8_t left[AC_MERKLE_MAX_STORED][AC_HASH_SIZE];
    size_t k = 0;
    for (unsigned level = 0; ((n >> level) & 1) == 1; level++, k++)
        idx[k] = stored_at(level, (n >> level) - 1);
    int rc = read_hashes(read, ctx, idx, k, left, err);
    if (rc != AC_OK)
        return rc;
    ac_hasher *h = hasher_new();
    if (h == NULL)
        return no_hasher(err);
    memcpy(out[0], leaf, AC_HASH_SIZE);
    for (size_t i = 0; i < k && rc == AC_OK; i++)
        rc = merkle_node(h, left[i], out[i], out[i + 1]);
    hasher_free(h);
    if (rc != AC_OK)
        return hash_failed(err);
    *count = k + 1;
    return AC_OK;
}

/* ---------------------------------------------------------------- ranges */

/* A proof plan: the leaf ranges whose hashes make a root or a proof, and the
 * stored hashes (complete, aligned subtrees) that make each range. */
typedef struct plan {
    uint64_t lo[AC_MERKLE_MAX_PROOF], hi[AC_MERKLE_MAX_PROOF];
    size_t nranges;
    uint64_t idx[MAX_READS];
    size_t nidx;
} plan;

/* Largest power of two below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k)
        k <<= 1;
    return k;
}

/* Adds the range [lo, hi) (lo is a multiple of a power of two >= hi - lo,
 * as every range of RFC 6962's recursion is): its complete subtrees from
 * the left, largest first. */
static int plan_range(plan *p, uint64_t lo, uint64_t hi, ac_error *err)
{
    if (p->nranges == AC_MERKLE_MAX_PROOF)
        return ac_fail(err, AC_EINVAL, -1, "merkle: proof longer than %d hashes",
                       AC_MERKLE_MAX_PROOF);
    p->lo[p->nranges] = lo;
    p->hi[p->nranges] = hi;
    p->nranges++;
    while (lo < hi) {
        unsigned level = 63;
        while ((UINT64_C(1) << level) > hi - lo)
            level--;
        if (p->nidx == MAX_READS)
            return ac_fail(err, AC_EINVAL, -1, "merkle: proof needs too many hashes");
        p->idx[p->nidx++] = stored_at(level, lo >> level);
        lo += UINT64_C(1) << level;
    }
    return AC_OK;
}

/* Computes the hashes of the planned ranges, in order, into out. */
static int plan_run(const plan *p, ac_merkle_read_fn read, void *ctx,
                    uint8_t (*out)[AC_HASH_SIZE], ac_error *err)
{
    uint8_t got[MAX_READS][AC_HASH_SIZE];
    int rc = read_hashes(read, ctx, p->idx, p->nidx, got, err);
    if (rc != AC_OK)
        return rc;
    ac_hasher *h = hasher_new();
    if (h == NULL)
        return no_hasher(err);
    size_t next = 0;
    for (size_t r = 0; r < p->nranges && rc == AC_OK; r++) {
        /* The range's pieces, largest first, fold from the right. */
        size_t pieces = (size_t)__builtin_popcountll(p->hi[r] - p->lo[r]);
        size_t last = next + pieces - 1;
        memcpy(out[r], got[last], AC_HASH_SIZE);
        for (size_t i = last; i > next && rc == AC_OK; i--)
            rc = merkle_node(h, got[i - 1], out[r], out[r]);
        next += pieces;
    }
    hasher_free(h);
    return rc == AC_OK ? AC_OK : hash_failed(err);
}

static int check_size(uint64_t size, ac_error *err)
{
    if (size > AC_MERKLE_MAX_SIZE)
        return ac_fail(err, AC_EINVAL, -1, "merkle: a tree of %llu records is too large",
                       (unsigned long long)size);
    return AC_OK;
}

ac_status ac_merkle_tree_hash(uint64_t size, ac_merkle_read_fn read, void *ctx,
                              uint8_t out[AC_HASH_SIZE], ac_error *err)
{
    int rc = check_size(size, err);
    if (rc != AC_OK)
        return rc;
    if (size == 0)
        return ac_sha256("", 0, out, err);
    plan p = {.nranges = 0};
    uint8_t root[1][AC_HASH_SIZE];
    if ((rc = plan_range(&p, 0, size, err)) != AC_OK ||
        (rc = plan_run(&p, read, ctx, root, err)) != AC_OK)
        return rc;
    memcpy(out, root[0], AC_HASH_SIZE);
    return AC_OK;
}

/* The planned ranges' hashes as a proof of *count hashes. */
static int plan_proof(const plan *p, ac_merkle_read_fn read, void *ctx,
                      uint8_t (*proof)[AC_HASH_SIZE], size_t *count, ac_error *err)
{
    int rc = plan_run(p, read, ctx, proof, err);
    if (rc == AC_OK)
        *count = p->nranges;
    return rc;
}

/* RFC 6962 PATH(m, D[lo:hi]), bottom-up: the deepest sibling first. */
static int plan_path(plan *p, uint64_t m, uint64_t lo, uint64_t hi, ac_error *err)
{
    uint64_t los[AC_MERKLE_MAX_PROOF], his[AC_MERKLE_MAX_PROOF];
    size_t n = 0;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        if (m < k) { /* the sibling is the right part */
            los[n] = lo + k, his[n] = hi;
            hi = lo + k;
        } else {
            los[n] = lo, his[n] = lo + k;
            lo += k;
            m -= k;
        }
        n++;
    }
    for (size_t i = n; i > 0; i--) {
        int rc = plan_range(p, los[i - 1], his[i - 1], err);
        if (rc != AC_OK)
            return rc;
    }
    return AC_OK;
}

/* RFC 6962 SUBPROOF(m, D[lo:hi], b), bottom-up. */
static int plan_subproof(plan *p, uint64_t m, uint64_t lo, uint64_t hi, ac_error *err)
{
    uint64_t los[AC_MERKLE_MAX_PROOF], his[AC_MERKLE_MAX_PROOF];
    size_t n = 0;
    bool whole = true; /* b: D[lo:hi] is the old tree as a whole so far */
    while (m != hi - lo) {
        uint64_t k = split_point(hi - lo);
        if (m <= k) {
            los[n] = lo + k, his[n] = hi;
            hi = lo + k;
        } else {
            los[n] = lo, his[n] = lo + k;
            lo += k;
            m -= k;
            whole = false;
        }
        n++;
    }
    int rc = AC_OK;
    if (!whole) /* the old tree's last subtree itself */
        rc = plan_range(p, lo, hi, err);
    for (size_t i = n; i > 0 && rc == AC_OK; i--)
        rc = plan_range(p, los[i - 1], his[i - 1], err);
    return rc;
}

ac_status ac_merkle_prove_record(uint64_t index, uint64_t size, ac_merkle_read_fn read, void *ctx,
                                 uint8_t (*proof)[AC_HASH_SIZE], size_t *count, ac_error *err)
{
    int rc = check_size(size, err);
    if (rc != AC_OK)
        return rc;
    if (index >= size)
        return ac_fail(err, AC_EINVAL, (int64_t)(index & INT64_MAX),
                       "merkle: record %llu is not in a tree of %llu records",
                       (unsigned long long)index, (unsigned long long)size);
    plan p = {.nranges = 0};
    rc = plan_path(&p, index, 0, size, err);
    return rc == AC_OK ? plan_proof(&p, read, ctx, proof, count, err) : rc;
}

ac_status ac_merkle_prove_tree(uint64_t old_size, uint64_t new_size, ac_merkle_read_fn read, void *ctx,
                               uint8_t (*proof)[AC_HASH_SIZE], size_t *count, ac_error *err)
{
    int rc = check_size(new_size, err);
    if (rc != AC_OK)
        return rc;
    if (old_size < 1 || old_size > new_size)
        return ac_fail(err, AC_EINVAL, -1,
                       "merkle: no consistency proof from %llu to %llu records (need 1 <= old <= new)",
                       (unsigned long long)old_size, (unsigned long long)new_size);
    plan p = {.nranges = 0};
    rc = plan_subproof(&p, old_size, 0, new_size, err);
    return rc == AC_OK ? plan_proof(&p, read, ctx, proof, count, err) : rc;
}

/* ---------------------------------------------------------------- checks */

static int not_proven(ac_error *err, const char *what)
{
    ac_fail(err, AC_ECORRUPT, -1, "merkle: %s", what);
    return 0;
}

/* RFC 9162's walk from node fn of the last node sn up to the root: each
 * proof hash is a left sibling (folded in on the left of `sr` and, unless
 * NULL, of `fr`, the old tree's path) or a right sibling (folded into `sr`
 * on the right).  1 when the walk used every hash and ended at the root, 0
 * when the proof's length does not fit the sizes, or the hasher's error. */
static int walk(ac_hasher *h, const uint8_t (*proof)[AC_HASH_SIZE], size_t count, uint64_t fn,
                uint64_t sn, uint8_t fr[AC_HASH_SIZE], uint8_t sr[AC_HASH_SIZE])
{
    for (size_t i = 0; i < count; i++) {
        if (sn == 0)
            return 0;
        int rc;
        if ((fn & 1) || fn == sn) {
            rc = fr != NULL ? merkle_node(h, proof[i], fr, fr) : AC_OK;
            if (rc == AC_OK)
                rc = merkle_node(h, proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            rc = merkle_node(h, sr, proof[i], sr);
        }
        if (rc != AC_OK)
            return rc;
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0;
}

/* walk() with a hasher of its own. */
static int walk_once(const uint8_t (*proof)[AC_HASH_SIZE], size_t count, uint64_t fn, uint64_t sn,
                     uint8_t fr[AC_HASH_SIZE], uint8_t sr[AC_HASH_SIZE], ac_error *err)
{
    ac_hasher *h = hasher_new();
    if (h == NULL)
        return no_hasher(err);
    int rc = walk(h, proof, count, fn, sn, fr, sr);
    hasher_free(h);
    return rc < 0 ? hash_failed(err) : rc;
}

int ac_merkle_check_record(const uint8_t (*proof)[AC_HASH_SIZE], size_t count, uint64_t index,
                           const uint8_t leaf[AC_HASH_SIZE], uint64_t size,
                           const uint8_t root[AC_HASH_SIZE], ac_error *err)
{
    if (index >= size)
        return not_proven(err, "the index is not below the tree size");
    if (count > AC_MERKLE_MAX_PROOF)
        return not_proven(err, "the inclusion proof is too long");
    uint8_t r[AC_HASH_SIZE];
    memcpy(r, leaf, AC_HASH_SIZE);
    int rc = walk_once(proof, count, index, size - 1, NULL, r, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return not_proven(err, "the inclusion proof has the wrong length for the index and size");
    if (memcmp(r, root, AC_HASH_SIZE) != 0)
        return not_proven(err, "the inclusion proof does not lead to the root");
    return 1;
}

int ac_merkle_check_tree(const uint8_t (*proof)[AC_HASH_SIZE], size_t count, uint64_t old_size,
                         const uint8_t old_root[AC_HASH_SIZE], uint64_t new_size,
                         const uint8_t new_root[AC_HASH_SIZE], ac_error *err)
{
    if (old_size < 1 || old_size > new_size)
        return not_proven(err, "the sizes are not 1 <= old <= new");
    if (count > AC_MERKLE_MAX_PROOF)
        return not_proven(err, "the consistency proof is too long");
    if (old_size == new_size) {
        if (count != 0)
            return not_proven(err, "a consistency proof between equal sizes must be empty");
        if (memcmp(old_root, new_root, AC_HASH_SIZE) != 0)
            return not_proven(err, "two trees of one size with different roots");
        return 1;
    }
    /* When the old tree is a complete subtree its root starts the path;
     * otherwise the proof's first hash does. */
    bool complete = (old_size & (old_size - 1)) == 0;
    if (!complete && count == 0)
        return not_proven(err, "the consistency proof is empty");
    uint64_t fn = old_size - 1, sn = new_size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[AC_HASH_SIZE], sr[AC_HASH_SIZE];
    memcpy(fr, complete ? old_root : proof[0], AC_HASH_SIZE);
    memcpy(sr, fr, AC_HASH_SIZE);
    size_t start = complete ? 0 : 1;
    int rc = walk_once(count > start ? proof + start : NULL, count - start, fn, sn, fr, sr, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return not_proven(err, "the consistency proof has the wrong length for the sizes");
    if (memcmp(fr, old_root, AC_HASH_SIZE) != 0)
        return not_proven(err, "the consistency proof does not lead to the old root");
    if (memcmp(sr, new_root, AC_HASH_SIZE) != 0)
        return not_proven(err, "the consistency proof does not lead to the new root");
    return 1;
}

/* ---------------------------------------------------------------- tiles */

void ac_tile_counts(uint64_t size, unsigned level, uint64_t *full, unsigned *partial)
{
    /* Hashes at tree level 8 * level: complete subtrees of 256^level leaves. */
    uint64_t hashes = level >= 64 / AC_TILE_HEIGHT ? 0 : size >> (level * AC_TILE_HEIGHT);
    *full = hashes / AC_TILE_WIDTH;
    *partial = (unsigned)(hashes % AC_TILE_WIDTH);
}

ac_status ac_tile_path(int entries, unsigned level, uint64_t n, unsigned width, char *buf, ac_error *err)
{
    if ((!entries && level > 63) || width < 1 || width > AC_TILE_WIDTH)
        return ac_fail(err, AC_EINVAL, -1, "tile: no tile at level %u of width %u", level, width);
    /* n in groups of three digits, most significant first. */
    unsigned groups[8];
    size_t ng = 0;
    do {
        groups[ng++] = (unsigned)(n % 1000);
        n /= 1000;
    } while (n > 0);
    size_t used = 0;
    int w = entries ? snprintf(buf, AC_TILE_PATH_MAX, "tile/entries/")
                    : snprintf(buf, AC_TILE_PATH_MAX, "tile/%u/", level);
    used = (size_t)w;
    for (size_t i = ng; i > 0; i--) {
        w = snprintf(buf + used, AC_TILE_PATH_MAX - used, i > 1 ? "x%03u/" : "%03u",
                     groups[i - 1]);
        used += (size_t)w;
    }
    if (width < AC_TILE_WIDTH)
        snprintf(buf + used, AC_TILE_PATH_MAX - used, ".p/%u", width);
    return AC_OK;
}

ac_status ac_tile_read(unsigned level, uint64_t n, unsigned width, ac_merkle_read_fn read, void *ctx,
                       uint8_t *out, ac_error *err)
{
    unsigned tree_level = level * AC_TILE_HEIGHT;
    if (width < 1 || width > AC_TILE_WIDTH || tree_level >= 62 ||
        n >= (AC_MERKLE_MAX_SIZE >> tree_level) / AC_TILE_WIDTH)
        return ac_fail(err, AC_EINVAL, -1, "tile: no tile %llu at level %u of width %u",
                       (unsigned long long)n, level, width);
    uint64_t idx[AC_TILE_WIDTH];
    for (unsigned i = 0; i < width; i++)
        idx[i] = stored_at(tree_level, n * AC_TILE_WIDTH + i);
    return read_hashes(read, ctx, idx, width, (uint8_t(*)[AC_HASH_SIZE])out, err);
}

/* ---------------------------------------------------------------- memory store */

struct ac_merkle_mem {
    uint8_t (*hashes)[AC_HASH_SIZE];
    uint64_t count, cap; /* stored hashes */
    uint64_t size;       /* records */
};

ac_status ac_merkle_mem_new(ac_merkle_mem **out, ac_error *err)
{
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "merkle: no memory for a tree");
    return AC_OK;
}

void ac_merkle_mem_free(ac_merkle_mem *mem)
{
    if (mem == NULL)
        return;
    free(mem->hashes);
    free(mem);
}

uint64_t ac_merkle_mem_size(const ac_merkle_mem *mem)
{
    return mem->size;
}

int ac_merkle_mem_read(void *ctx, const uint64_t *idx, size_t n, uint8_t (*out)[AC_HASH_SIZE],
                       ac_error *err)
{
    const ac_merkle_mem *mem = ctx;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= mem->count)
            return ac_fail(err, AC_EINVAL, -1,
                           "merkle: stored hash %llu asked of a tree that stores %llu",
                           (unsigned long long)idx[i], (unsigned long long)mem->count);
        memcpy(out[i], mem->hashes[idx[i]], AC_HASH_SIZE);
    }
    return AC_OK;
}

ac_status ac_merkle_mem_append_leaf(ac_merkle_mem *mem, const uint8_t leaf[AC_HASH_SIZE], ac_error *err)
{
    uint8_t add[AC_MERKLE_MAX_STORED][AC_HASH_SIZE];
    size_t k;
    int rc = ac_merkle_stored_hashes(mem->size, leaf, ac_merkle_mem_read, mem, add, &k, err);
    if (rc != AC_OK)
        return rc;
    if (mem->cap - mem->count < k) {
        uint64_t cap = mem->cap ? mem->cap * 2 : 64;
        void *p = cap > SIZE_MAX / AC_HASH_SIZE ? NULL : realloc(mem->hashes, (size_t)cap * AC_HASH_SIZE);
        if (p == NULL)
            return ac_fail(err, AC_ENOMEM, -1, "merkle: no memory for %llu hashes",
                           (unsigned long long)cap);
        mem->hashes = p;
        mem->cap = cap;
    }
    memcpy(mem->hashes[mem->count], add, k * AC_HASH_SIZE);
    mem->count += k;
    mem->size++;
    return AC_OK;
}

ac_status ac_merkle_mem_append(ac_merkle_mem *mem, const void *data, size_t len, ac_error *err)
{
    uint8_t leaf[AC_HASH_SIZE];
    int rc = ac_merkle_leaf_hash(data, len, leaf, err);
    return rc == AC_OK ? ac_merkle_mem_append_leaf(mem, leaf, err) : rc;
}
