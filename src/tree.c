/* The chain's Merkle tree (docs/format.md section 14): merkle.bin, a cache
 * of the stored hashes (merkle.c's layout) behind a 16-byte header (magic,
 * then the first 8 bytes of the chain id), extended by every append with the
 * hashes the new records complete and rebuilt from chain.bin when it is
 * short, damaged or another chain's.
 *
 * Decision: merkle.bin is a cache anyone who can write the directory can
 * forge, so nothing signed or published rests on it alone.  A checkpoint's
 * root is computed from the roots of a checkpoint signed before (whose
 * complete subtrees must give its signed root) and the leaves after it,
 * hashed from chain.bin; a proof read from the cache is checked against a
 * signed root before it is handed out, and the cache rebuilt when it fails.
 * The right edge of the tree (one hash per set bit of its size: a "compact
 * range") is kept in memory, so an append writes its new hashes without
 * reading any.  Leaves read back from chain.bin (a rebuild, the root of a
 * checkpoint) are hashed on every core while this thread hashes the nodes,
 * in order. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define TREE_HEADER 16
static const uint8_t tree_magic[8] = {'A', 'C', 'M', 'R', 'K', 0, 0, 1};

/* ---------------------------------------------------------------- compact range */

void mrange_init(mrange *r)
{
    memset(r, 0, sizeof *r);
}

int tree_leaf(ac_hasher *h, const uint8_t *body, size_t len, uint8_t out[AC_HASH_SIZE])
{
    return hasher_digest2(h, "\x00", 1, body, len, out);
}

int mrange_push(mrange *r, ac_hasher *h, const uint8_t leaf[AC_HASH_SIZE],
                uint8_t (*stored)[AC_HASH_SIZE], size_t *nstored)
{
    if (r->size >= AC_MERKLE_MAX_SIZE)
        return AC_EINVAL;
    uint8_t cur[AC_HASH_SIZE];
    memcpy(cur, leaf, AC_HASH_SIZE);
    size_t k = 0;
    if (stored != NULL)
        memcpy(stored[k++], cur, AC_HASH_SIZE);
    /* Each trailing 1 bit of the old size is a subtree the leaf completes. */
    for (uint64_t s = r->size; s & 1; s >>= 1) {
        if (merkle_node(h, r->h[--r->n], cur, cur) != AC_OK)
            return AC_ECRYPTO;
        if (stored != NULL)
            memcpy(stored[k++], cur, AC_HASH_SIZE);
    }
    memcpy(r->h[r->n++], cur, AC_HASH_SIZE);
    r->size++;
    if (nstored != NULL)
        *nstored = k;
    return AC_OK;
}

int mrange_root(const mrange *r, ac_hasher *h, uint8_t root[AC_HASH_SIZE])
{
    if (r->n == 0)
        return hasher_digest(h, "", 0, root);
    memcpy(root, r->h[r->n - 1], AC_HASH_SIZE);
    for (size_t i = r->n - 1; i-- > 0;)
        if (merkle_node(h, r->h[i], root, root) != AC_OK)
            return AC_ECRYPTO;
    return AC_OK;
}

int mrange_load(mrange *r, uint64_t size, ac_merkle_read_fn read, void *ctx, ac_error *err)
{
    mrange_init(r);
    uint64_t idx[64], start = 0;
    size_t n = 0;
    /* The complete subtrees of a tree of `size`: one per set bit, largest first. */
    for (int level = 63; level >= 0; level--) {
        if (!(size >> level & 1))
            continue;
        int rc = ac_merkle_stored_index((unsigned)level, start >> level, &idx[n++], err);
        if (rc != AC_OK)
            return rc;
        start += UINT64_C(1) << level;
    }
    int rc = n ? read(ctx, idx, n, r->h, err) : AC_OK;
    if (rc == AC_OK) {
        r->n = n;
        r->size = size;
    }
    return rc;
}

/* ---------------------------------------------------------------- merkle.bin */

static int tree_io_fail(ac_chain *c, ac_error *err)
{
    return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_TREE_FILE ": read failed", c->dir);
}

int tree_read(void *ctx, const uint64_t *idx, size_t n, uint8_t (*out)[AC_HASH_SIZE],
              ac_error *err)
{
    /* A span of the file this small is read whole: a tile's hashes, or a
     * proof's, lie close together, and one read beats one each. */
    enum { SPAN_MAX = 1u << 20 };
    ac_chain *c = ctx;
    uint64_t have, lo = UINT64_MAX, hi = 0;
    if (ac_merkle_stored_count(c->tree_n, &have, NULL) != AC_OK)
        have = 0;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= have)
            return ac_fail(err, AC_ECORRUPT, -1, "%s/" AC_TREE_FILE ": no stored hash %llu",
                           c->dir, (unsigned long long)idx[i]);
        lo = idx[i] < lo ? idx[i] : lo;
        hi = idx[i] > hi ? idx[i] : hi;
    }
    if (n == 0)
        return AC_OK;
    if (c->tree_mem != NULL) {
        for (size_t i = 0; i < n; i++)
            memcpy(out[i], c->tree_mem + AC_HASH_SIZE * idx[i], AC_HASH_SIZE);
        return AC_OK;
    }
    uint64_t span = (hi - lo + 1) * AC_HASH_SIZE;
    uint8_t *buf = n > 1 && span <= SPAN_MAX ? malloc((size_t)span) : NULL;
    if (buf != NULL) {
        off_t at = (off_t)(TREE_HEADER + AC_HASH_SIZE * lo);
        bool ok = pread(c->tree_fd, buf, (size_t)span, at) == (ssize_t)span;
        for (size_t i = 0; ok && i < n; i++)
            memcpy(out[i], buf + AC_HASH_SIZE * (idx[i] - lo), AC_HASH_SIZE);
        free(buf);
        return ok ? AC_OK : tree_io_fail(c, err);
    }
    for (size_t i = 0; i < n; i++)
        if (pread(c->tree_fd, out[i], AC_HASH_SIZE, (off_t)(TREE_HEADER + AC_HASH_SIZE * idx[i])) !=
            AC_HASH_SIZE)
            return tree_io_fail(c, err);
    return AC_OK;
}

void tree_close(ac_chain *c)
{
    if (c->tree_fd >= 0)
        close(c->tree_fd);
    c->tree_fd = -1;
    free(c->tree_mem);
    c->tree_mem = NULL;
    c->tree_mem_cap = 0;
    c->tree_loaded = false;
    c->tree_n = 0;
    mrange_init(&c->tree_range);
}

/* Appends stored hashes at position `pos` of the store. */
static int store_put(ac_chain *c, uint64_t pos, const uint8_t *hashes, size_t n, ac_error *err)
{
    if (c->tree_fd >= 0) {
        size_t len = n * AC_HASH_SIZE;
        off_t at = (off_t)(TREE_HEADER + AC_HASH_SIZE * pos);
        if (pwrite(c->tree_fd, hashes, len, at) == (ssize_t)len)
            return AC_OK;
        /* A full disk or a read-only file: carry on in memory, from 0. */
        tree_close(c);
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_TREE_FILE ": cannot write", c->dir);
    }
    uint64_t need = (pos + n) * AC_HASH_SIZE;
    if (need > c->tree_mem_cap) {
        size_t cap = c->tree_mem_cap ? c->tree_mem_cap : 1u << 16;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(c->tree_mem, cap);
        if (p == NULL)
            return ac_fail(err, AC_ENOMEM, -1, "out of memory");
        c->tree_mem = p;
        c->tree_mem_cap = cap;
    }
    memcpy(c->tree_mem + AC_HASH_SIZE * pos, hashes, n * AC_HASH_SIZE);
    return AC_OK;
}

/* The largest record count whose stored hashes fit in `hashes`. */
static uint64_t records_in(uint64_t hashes, uint64_t most)
{
    uint64_t lo = 0, hi = most;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2, need;
        if (ac_merkle_stored_count(mid, &need, NULL) == AC_OK && need <= hashes)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Opens merkle.bin and takes what it holds for the chain's records, or
 * starts it afresh; without a writable file, the store is kept in memory. */
static int tree_load(ac_chain *c, ac_error *err)
{
    tree_close(c);
    int flags = (c->readonly ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC | O_NOFOLLOW;
    int fd = openat(c->dirfd, AC_TREE_FILE, flags, 0644);
    struct stat sb;
    uint8_t h[TREE_HEADER];
    bool usable = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    bool matches = usable && sb.st_size >= TREE_HEADER && pread(fd, h, TREE_HEADER, 0) == TREE_HEADER &&
                   memcmp(h, tree_magic, 8) == 0 && memcmp(h + 8, c->f.st.chain_id, 8) == 0;
    c->tree_loaded = true;
    if (matches) {
        c->tree_fd = fd;
        uint64_t n = records_in(((uint64_t)sb.st_size - TREE_HEADER) / AC_HASH_SIZE,
                                c->f.st.record_count);
        c->tree_n = n;
        if (mrange_load(&c->tree_range, n, tree_read, c, NULL) == AC_OK)
            return AC_OK;
        c->tree_n = 0; /* unreadable: start again */
        mrange_init(&c->tree_range);
        matches = false;
    }
    if (usable && !c->readonly) {
        memcpy(h, tree_magic, 8);
        memcpy(h + 8, c->f.st.chain_id, 8);
        if (ftruncate(fd, 0) == 0 && pwrite(fd, h, TREE_HEADER, 0) == TREE_HEADER) {
            c->tree_fd = fd;
            return AC_OK;
        }
    }
    if (fd >= 0 && c->tree_fd != fd)
        close(fd);
    c->tree_fd = -1; /* in memory, from record 0 */
    (void)err;
    return AC_OK;
}

/* ---------------------------------------------------------------- leaves from chain.bin */

#define LEAF_BATCH 4096
#define LEAF_WINDOW (2u << 20) /* each of the scanner's two buffers */
#define STORE_BATCH 8192       /* stored hashes per write */

typedef struct leaf_batch {
    const uint8_t *body[LEAF_BATCH];
    uint32_t len[LEAF_BATCH];
    uint8_t leaf[LEAF_BATCH][AC_HASH_SIZE];
    size_t n;
    atomic_bool failed;
} leaf_batch;

/* Hashing leaves from chain.bin, as walk.c walks records: the helpers hash
 * one batch while this thread pushes the one before into the range (the
 * node hashes, in order) and scans the next into the other buffer. */
typedef struct leafer {
    ac_chain *c;
    mrange *r;
    bool store; /* the pushes' stored hashes go to the chain's store */
    pool *pool;
    leaf_batch *b[2]; /* being filled (b[fill]) and posted */
    int fill;
    bool posted;
    uint8_t (*held)[AC_HASH_SIZE]; /* stored hashes not yet written */
    size_t nheld;
    uint64_t pos; /* where they go in the store */
} leafer;

static void hash_leaf(void *ctx, size_t i, ac_hasher *h, uint8_t *scratch)
{
    leaf_batch *b = ctx;
    (void)scratch;
    if (tree_leaf(h, b->body[i], b->len[i], b->leaf[i]) != AC_OK)
        atomic_store(&b->failed, true);
}

static int flush_held(leafer *l, ac_error *err)
{
    int rc = l->nheld > 0 ? store_put(l->c, l->pos, l->held[0], l->nheld, err) : AC_OK;
    l->pos += l->nheld;
    l->nheld = 0;
    return rc;
}

/* Waits for the posted batch's leaves and pushes them into the range. */
static int push_posted(leafer *l, ac_error *err)
{
    if (!l->posted)
        return AC_OK;
    leaf_batch *b = l->b[!l->fill];
    pool_finish(l->pool, l->c->hasher, NULL);
    l->posted = false;
    int rc = atomic_load(&b->failed) ? ac_fail(err, AC_ECRYPTO, -1, "SHA-256 failed") : AC_OK;
    for (size_t i = 0; rc == AC_OK && i < b->n; i++) {
        size_t k = 0;
        if (mrange_push(l->r, l->c->hasher, b->leaf[i], l->store ? l->held + l->nheld : NULL,
                        &k) != AC_OK)
            rc = ac_fail(err, AC_ECRYPTO, -1, "SHA-256 failed");
        l->nheld += k;
        if (rc == AC_OK && l->nheld >= STORE_BATCH)
            rc = flush_held(l, err);
    }
    return rc;
}

/* The batch before pushed, the one filled posted. */
static int leaves_hand_over(leafer *l, ac_error *err)
{
    int rc = push_posted(l, err);
    leaf_batch *b = l->b[l->fill];
    if (rc != AC_OK || b->n == 0)
        return rc;
    atomic_store(&b->failed, false);
    pool_post(l->pool, hash_leaf, b, b->n, 32);
    l->posted = true;
    l->fill = !l->fill;
    l->b[l->fill]->n = 0;
    return AC_OK;
}

int tree_push_chain(ac_chain *c, mrange *r, uint64_t n, bool store, ac_error *err)
{
    if (r->size >= n)
        return AC_OK;
    leafer l = {.c = c, .r = r, .store = store};
    scanner s;
    int rc = scan_from_record(c, r->size, LEAF_WINDOW, &s, err);
    uint64_t span = s.w.end - s.w.base, scanned = r->size;
    if (store)
        (void)ac_merkle_stored_count(r->size, &l.pos, NULL);
    l.b[0] = malloc(sizeof *l.b[0]);
    l.b[1] = malloc(sizeof *l.b[1]);
    l.held = store ? malloc((STORE_BATCH + AC_MERKLE_MAX_STORED) * AC_HASH_SIZE) : NULL;
    l.pool = pool_new(span < POOL_THREADS_FROM ? 1 : c->threads);
    if (rc == AC_OK && (!l.b[0] || !l.b[1] || (store && !l.held) || !l.pool ||
                        fwin_double(&s.w) != 0))
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (rc == AC_OK)
        l.b[0]->n = l.b[1]->n = 0;
    while (rc == AC_OK && scanned < n) {
        scan_frame f;
        int st = scan_next(&s, &f, err);
        if (st == SCAN_FRAME) {
            leaf_batch *b = l.b[l.fill];
            b->body[b->n] = f.body;
            b->len[b->n++] = f.len;
            scanned++;
            if (b->n == LEAF_BATCH)
                rc = leaves_hand_over(&l, err);
        } else if (st == SCAN_FLUSH) {
            rc = leaves_hand_over(&l, err);
        } else {
            rc = scan_end_error(&s, st, &f, err);
        }
    }
    if (rc == AC_OK)
        rc = leaves_hand_over(&l, err);
    if (rc == AC_OK)
        rc = push_posted(&l, err);
    if (l.posted) /* no helper may be left on a buffer about to go */
        pool_finish(l.pool, c->hasher, NULL);
    if (rc == AC_OK && store)
        rc = flush_held(&l, err);
    pool_free(l.pool);
    scan_free(&s);
    free(l.b[0]);
    free(l.b[1]);
    free(l.held);
    return rc;
}

/* Folds records c->tree_n.. of chain.bin into the store. */
static int tree_extend(ac_chain *c, ac_error *err)
{
    int rc = tree_push_chain(c, &c->tree_range, c->f.st.record_count, true, err);
    /* On a failed write the store was closed: it holds nothing now. */
    c->tree_n = c->tree_range.size;
    return rc;
}

int tree_sync(ac_chain *c, ac_error *err)
{
    int rc = state_sync(c, err);
    if (rc != AC_OK)
        return rc;
    if (!c->tree_loaded || c->tree_n > c->f.st.record_count)
        tree_load(c, err);
    if (c->tree_n == c->f.st.record_count)
        return AC_OK;
    rc = tree_extend(c, err);
    if (rc == AC_EIO && c->tree_fd < 0 && c->tree_mem == NULL) {
        /* merkle.bin could not be written: the same again, in memory. */
        c->tree_loaded = true;
        rc = tree_extend(c, err);
    }
    return rc;
}

void tree_forget(ac_chain *c)
{
    if (c->tree_fd >= 0 && !c->readonly)
        (void)ftruncate(c->tree_fd, TREE_HEADER);
    tree_close(c);
}

void tree_note_append(ac_chain *c, uint64_t first, const uint8_t *frames, size_t len)
{
    /* Only a store that ends where the batch begins is extended; any other
     * catches up when a tree operation next needs it. */
    if (!c->tree_loaded)
        (void)tree_load(c, NULL);
    if (c->tree_n != first || (c->tree_fd < 0 && c->tree_mem == NULL))
        return;
    /* The batch's hashes go out in one write: under 2 per record. */
    enum { HASHES = 4096 };
    uint8_t(*buf)[AC_HASH_SIZE] = malloc((HASHES + AC_MERKLE_MAX_STORED) * AC_HASH_SIZE);
    if (buf == NULL) {
        tree_close(c); /* a cache: rebuilt when next needed */
        return;
    }
    uint64_t pos;
    (void)ac_merkle_stored_count(first, &pos, NULL);
    size_t held = 0;
    bool ok = true;
    for (size_t at = 0; ok && at + 4 <= len;) {
        uint32_t n = (uint32_t)frames[at] << 24 | (uint32_t)frames[at + 1] << 16 |
                     (uint32_t)frames[at + 2] << 8 | frames[at + 3];
        uint8_t leaf[AC_HASH_SIZE];
        size_t k;
        ok = tree_leaf(c->hasher, frames + at + 4, n, leaf) == AC_OK &&
             mrange_push(&c->tree_range, c->hasher, leaf, buf + held, &k) == AC_OK;
        held += ok ? k : 0;
        c->tree_n++;
        at += 4 + (size_t)n;
        if (ok && (held >= HASHES || at + 4 > len)) {
            ok = store_put(c, pos, buf[0], held, NULL) == AC_OK;
            pos += held;
            held = 0;
        }
    }
    free(buf);
    if (!ok)
        tree_close(c); /* a cache: rebuilt when next needed */
}
