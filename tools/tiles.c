/* The tree of a published chain, read from its tiles (tlog-tiles, format
 * section 14): hashes of complete subtrees, consistency proofs and entry
 * bundles.  Decision: nothing read here is believed; callers compare what
 * it yields with signed roots.  A mirror that has records [0, M) and a
 * signed root of them needs only the O(log M) complete subtrees that the
 * tree of M is made of to extend it with new leaves: the cost of a pull
 * grows with what is new, not with the chain. */
#include <stdlib.h>
#include <string.h>

#include "federation.h"

#define CACHED 8 /* tiles kept: a root or a proof touches a few per level */

typedef struct tile {
    unsigned level, width;
    uint64_t n;
    uint8_t *hashes;
} tile;

struct tiles {
    source *src;
    uint64_t size;
    tile cache[CACHED];
    size_t next; /* the slot to reuse */
};

int tiles_new(source *src, uint64_t size, tiles **out)
{
    tiles *t = calloc(1, sizeof *t);
    if (t == NULL)
        return fail_msg("out of memory");
    t->src = src;
    t->size = size;
    *out = t;
    return EXIT_GOOD;
}

void tiles_free(tiles *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < CACHED; i++)
        free(t->cache[i].hashes);
    free(t);
}

/* Hash tile (level, n) as published for the tiles' size. */
static int get_tile(tiles *t, unsigned level, uint64_t n, const uint8_t **out)
{
    uint64_t full;
    unsigned partial;
    ac_tile_counts(t->size, level, &full, &partial);
    unsigned width = n < full ? AC_TILE_WIDTH : n == full && partial > 0 ? partial : 0;
    if (width == 0)
        return fail_msg("%s: tile %u/%llu is beyond the tree of %llu records", source_name(t->src),
                        level, (unsigned long long)n, (unsigned long long)t->size);
    for (size_t i = 0; i < CACHED; i++)
        if (t->cache[i].hashes && t->cache[i].level == level && t->cache[i].n == n &&
            t->cache[i].width == width) {
            *out = t->cache[i].hashes;
            return EXIT_GOOD;
        }
    char path[AC_TILE_PATH_MAX];
    ac_error err;
    if (ac_tile_path(0, level, n, width, path, &err) != AC_OK)
        return fail_ac(&err, NULL);
    uint8_t *data;
    size_t len;
    int st = source_need(t->src, path, (size_t)width * AC_HASH_SIZE, &data, &len);
    if (st != EXIT_GOOD)
        return st;
    if (len != (size_t)width * AC_HASH_SIZE) {
        free(data);
        return refuse("%s/%s: %zu bytes, not %u hashes; nothing imported", source_name(t->src),
                      path, len, width);
    }
    tile *slot = &t->cache[t->next];
    t->next = (t->next + 1) % CACHED;
    free(slot->hashes);
    *slot = (tile){.level = level, .n = n, .width = width, .hashes = data};
    *out = data;
    return EXIT_GOOD;
}

/* The stored hash (level, k): the complete subtree of leaves
 * [k * 2^level, (k+1) * 2^level), from the tile at level / 8, combining
 * 2^(level % 8) of its hashes when the level falls between tiles. */
static int subtree_hash(tiles *t, unsigned level, uint64_t k, uint8_t out[AC_HASH_SIZE])
{
    unsigned tl = level / AC_TILE_HEIGHT, r = level % AC_TILE_HEIGHT;
    uint64_t first = k << r; /* index among the hashes at level 8 * tl */
    const uint8_t *h = NULL;
    int st = get_tile(t, tl, first / AC_TILE_WIDTH, &h);
    if (st != EXIT_GOOD)
        return st;
    size_t at = (size_t)(first % AC_TILE_WIDTH), span = (size_t)1 << r;
    uint64_t full;
    unsigned partial;
    ac_tile_counts(t->size, tl, &full, &partial);
    size_t width = first / AC_TILE_WIDTH < full ? AC_TILE_WIDTH : partial;
    if (at + span > width)
        return fail_msg("%s: no complete subtree %u/%llu in the tree of %llu records",
                        source_name(t->src), level, (unsigned long long)k,
                        (unsigned long long)t->size);
    uint8_t level_hashes[AC_TILE_WIDTH][AC_HASH_SIZE];
    memcpy(level_hashes, h + at * AC_HASH_SIZE, span * AC_HASH_SIZE);
    ac_error err;
    for (; span > 1; span /= 2)
        for (size_t i = 0; i < span / 2; i++)
            if (ac_merkle_node_hash(level_hashes[2 * i], level_hashes[2 * i + 1], level_hashes[i],
                                    &err) != AC_OK)
                return fail_ac(&err, NULL);
    memcpy(out, level_hashes[0], AC_HASH_SIZE);
    return EXIT_GOOD;
}

static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static int root_of(tiles *t, uint64_t known, const uint8_t (*leaves)[AC_HASH_SIZE], uint64_t lo,
                   uint64_t hi, uint8_t out[AC_HASH_SIZE])
{
    uint64_t n = hi - lo;
    if (lo >= known && n == 1) {
        memcpy(out, leaves[lo - known], AC_HASH_SIZE);
        return EXIT_GOOD;
    }
    if (hi <= known && (n & (n - 1)) == 0 && lo % n == 0) {
        unsigned level = (unsigned)__builtin_ctzll(n);
        return subtree_hash(t, level, lo >> level, out);
    }
    uint64_t k = split_point(n);
    uint8_t left[AC_HASH_SIZE], right[AC_HASH_SIZE];
    ac_error err;
    int st = root_of(t, known, leaves, lo, lo + k, left);
    if (st == EXIT_GOOD)
        st = root_of(t, known, leaves, lo + k, hi, right);
    if (st == EXIT_GOOD && ac_merkle_node_hash(left, right, out, &err) != AC_OK)
        st = fail_ac(&err, NULL);
    return st;
}

int tiles_root(tiles *t, uint64_t known, const uint8_t (*leaves)[AC_HASH_SIZE], uint64_t hi,
               uint8_t out[AC_HASH_SIZE])
{
    if (hi == 0 || hi > t->size || known > hi)
        return hi == 0 ? (ac_sha256("", 0, out, NULL) == AC_OK ? EXIT_GOOD
                                                                : fail_msg("SHA-256 failed"))
                       : fail_msg("tiles: a root beyond the tree");
    return root_of(t, known, leaves, 0, hi, out);
}

/* ---------------------------------------------------------------- proofs */

/* The stored-hash position x as (level, k): record n stores its leaf, then
 * one hash per subtree it completes, so x lies in record n's run where
 * stored_count(n) <= x < stored_count(n + 1). */
static bool split_stored(uint64_t x, unsigned *level, uint64_t *k)
{
    uint64_t lo = 0, hi = x + 1; /* stored_count(n) >= n */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2, c;
        if (ac_merkle_stored_count(mid, &c, NULL) != AC_OK)
            return false;
        if (c <= x)
            lo = mid;
        else
            hi = mid;
    }
    uint64_t start;
    if (ac_merkle_stored_count(lo, &start, NULL) != AC_OK || x - start > 63)
        return false;
    *level = (unsigned)(x - start);
    *k = lo >> *level;
    return true;
}

static int read_stored(void *ctx, const uint64_t *idx, size_t n, uint8_t (*out)[AC_HASH_SIZE],
                       ac_error *err)
{
    tiles *t = ctx;
    for (size_t i = 0; i < n; i++) {
        unsigned level;
        uint64_t k;
        if (!split_stored(idx[i], &level, &k) || subtree_hash(t, level, k, out[i]) != EXIT_GOOD) {
            return set_error(err, AC_ENOTFOUND, "%s: a hash the proof needs is not in the tiles",
                             source_name(t->src));
        }
    }
    return AC_OK;
}

int tiles_prove(tiles *t, uint64_t old_size, uint8_t (*proof)[AC_HASH_SIZE], size_t *count)
{
    ac_error err;
    if (ac_merkle_prove_tree(old_size, t->size, read_stored, t, proof, count, &err) != AC_OK)
        return fail_ac(&err, NULL);
    return EXIT_GOOD;
}

/* ---------------------------------------------------------------- bundles */

int tiles_bundle(tiles *t, uint64_t n, uint8_t **buf, const uint8_t **bodies, size_t *lens,
                 size_t *count)
{
    uint64_t full;
    unsigned partial;
    ac_tile_counts(t->size, 0, &full, &partial);
    unsigned width = n < full ? AC_TILE_WIDTH : n == full && partial > 0 ? partial : 0;
    char path[AC_TILE_PATH_MAX];
    ac_error err;
    if (width == 0 || ac_tile_path(1, 0, n, width, path, &err) != AC_OK)
        return fail_msg("%s: no entry bundle %llu in the tree of %llu records",
                        source_name(t->src), (unsigned long long)n, (unsigned long long)t->size);
    uint8_t *data;
    size_t len, at = 0, i = 0;
    int st = source_need(t->src, path, BUNDLE_MAX, &data, &len);
    if (st != EXIT_GOOD)
        return st;
    while (i < width && len - at >= 2) {
        size_t l = (size_t)data[at] << 8 | data[at + 1];
        if (l == 0 || l > len - at - 2)
            break;
        bodies[i] = data + at + 2;
        lens[i++] = l;
        at += 2 + l;
    }
    if (i != width || at != len) {
        free(data);
        return refuse("%s/%s: not %u entries (2-byte length, record) and nothing else; nothing "
                      "imported", source_name(t->src), path, width);
    }
    *buf = data;
    *count = width;
    return EXIT_GOOD;
}
