/*
 * The chain's Merkle tree (merkle.bin) and what it costs: batch appends
 * that keep the tree against the same appends that keep none, exporting the
 * big chain as tlog-tiles against copying its bytes, and rebuilding the
 * tree from chain.bin alone against reading and hashing the file.
 *
 * Decision: each side's work is checked, not assumed, because which side
 * keeps a tree depends on the library's caching rules.  An append extends
 * merkle.bin only when the store ends where the batch begins (tree.c,
 * tree_note_append): a chain whose merkle.bin is in sync keeps it so, one
 * whose merkle.bin was deleted is not rebuilt by appends.  So merkle.bin
 * must grow by exactly the stored hashes of the records appended on one side
 * and not at all on the other; an export must publish every record into an
 * empty directory; a rebuild must leave merkle.bin as large as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define TREE_FILE "merkle.bin"

static uint64_t stored_hashes(uint64_t records)
{
    uint64_t n;
    ac_error err;
    check_ac(ac_merkle_stored_count(records, &n, &err), &err, "stored count");
    return n;
}

static uint64_t tree_bytes(const char *chain)
{
    char p[PATH_MAX];
    join(p, chain, TREE_FILE);
    return file_size(p);
}

static uint64_t record_count(ac_chain *c)
{
    ac_state st;
    ac_error err;
    check_ac(ac_chain_state(c, &st, &err), &err, "state");
    return st.record_count;
}

/* ---------------------------------------------------------------- append with the tree kept */

typedef struct tree_append_ctx {
    bench *b;
    ac_chain *kept, *none;
    unsigned batches;
} tree_append_ctx;

static double timed_batches(bench *b, ac_chain *c, unsigned batches)
{
    double t = now_s();
    append_batches(b, c, (uint64_t)batches * BATCH);
    return now_s() - t;
}

static double lim_no_tree(void *p, unsigned round)
{
    tree_append_ctx *x = p;
    (void)round;
    return timed_batches(x->b, x->none, x->batches);
}

static double lib_tree_kept(void *p, unsigned round)
{
    tree_append_ctx *x = p;
    (void)round;
    return timed_batches(x->b, x->kept, x->batches);
}

/* A chain of 2 x BATCH records whose merkle.bin is in sync and loaded, as
 * after `attestchain checkpoint` and `prove`. */
static ac_chain *chain_with_tree(bench *b, char *path)
{
    ac_chain *c = new_chain(b, "tree-kept", 2 * BATCH, path);
    ac_error err;
    char *text;
    size_t len;
    check_ac(ac_chain_checkpoint(c, b->key, NULL, &text, &len, &err), &err, "checkpoint");
    ac_free(text);
    check_ac(ac_chain_prove(c, 2 * BATCH - 1, &text, &len, &err), &err, "prove");
    ac_free(text);
    return c;
}

/* A chain of 2 x BATCH records whose merkle.bin was deleted after the
 * first BATCH: the next append left an empty one, which appends never fill. */
static ac_chain *chain_without_tree(bench *b, char *path)
{
    char tree[PATH_MAX];
    close_chain(new_chain(b, "tree-none", BATCH, path));
    join(tree, path, TREE_FILE);
    unlink_maybe(tree);
    ac_chain *c = open_chain(path, 0);
    append_batches(b, c, BATCH);
    return c;
}

void phase_tree_append(bench *b)
{
    fprintf(stderr, "bench: batch appends keeping merkle.bin against keeping none\n");
    char kept_path[PATH_MAX], none_path[PATH_MAX];
    tree_append_ctx x = {.b = b, .batches = 4};
    x.kept = chain_with_tree(b, kept_path);
    x.none = chain_without_tree(b, none_path);
    uint64_t kept0 = record_count(x.kept), kept_bytes0 = tree_bytes(kept_path);
    uint64_t none_bytes0 = tree_bytes(none_path);
    unsigned rounds = 2 * b->o.rounds;
    rates q = alternate(lim_no_tree, lib_tree_kept, &x, rounds, (double)x.batches * BATCH);
    uint64_t kept1 = record_count(x.kept);
    uint64_t grew = tree_bytes(kept_path) - kept_bytes0;
    uint64_t none_grew = tree_bytes(none_path) - none_bytes0;
    uint64_t want = AC_HASH_SIZE * (stored_hashes(kept1) - stored_hashes(kept0));
    close_chain(x.kept);
    close_chain(x.none);
    row *r = ratio_row(b, "batch append, tree kept", q.lib, "rec/s", q.lim, "rec/s without tree",
                       0.95);
    cpu_note(b, "batch append with the tree kept", q);
    note(b, "tree kept: batches on a chain whose merkle.bin is in sync, so each append hashes "
            "its leaves and writes the stored hashes they complete (+%" PRIu64 " bytes); "
            "without: on one whose merkle.bin was deleted, which appends leave empty (+%" PRIu64
            " bytes)",
         grew, none_grew);
    if (grew != want || none_grew != 0) {
        r->v = V_FAIL;
        note(b, "tree kept: merkle.bin should have grown %" PRIu64 " bytes with the tree and "
                "none without: the sides did not measure what they say",
             want);
    }
}

/* ---------------------------------------------------------------- export */

typedef struct export_ctx {
    bench *b;
    ac_chain *chain;
    int dirfd; /* b->dir, for syncfs */
    char chain_bin[PATH_MAX];
    unsigned exports; /* made so far: export.0 .. export.N-1 */
    unsigned copies;  /* made so far: copy.0 .. copy.N-1 */
    uint8_t *buf;
    ac_export_stats st;
} export_ctx;

/* Nothing of the other side or of earlier phases left to write back: each
 * side's own sync then pays for its own writes, and both alike for what
 * other processes write meanwhile. */
static void settle(export_ctx *x)
{
    if (syncfs(x->dirfd) != 0)
        fatal("syncfs %s: %s", x->b->dir, strerror(errno));
}

/* b->dir/export.n: each export goes to a new directory, and none is deleted
 * until the phase ends, since ext4 is slow to create files for a while after
 * thousands were deleted (a new inode is not taken from those just freed). */
static void export_path(const export_ctx *x, unsigned n, char *out)
{
    char leaf[64];
    snprintf(leaf, sizeof leaf, "export.%u", n);
    join(out, x->b->dir, leaf);
}

/* b->dir/copy.n, the limit's copies: like the exports, each goes to a new
 * file, kept until the phase ends, so that neither side writes into the
 * page cache the other or an earlier round just freed (on a virtual
 * machine, memory the host has not backed yet is slow to touch first). */
static void copy_path(const export_ctx *x, unsigned n, char *out)
{
    char leaf[64];
    snprintf(leaf, sizeof leaf, "copy.%u", n);
    join(out, x->b->dir, leaf);
}

/* The limit: chain.bin read and written to a new file, made durable the way
 * the export makes its files durable (on an idle machine, syncfs writes back
 * just the copy). */
static double lim_copy(void *p, unsigned round)
{
    export_ctx *x = p;
    (void)round;
    char copy[PATH_MAX];
    copy_path(x, x->copies++, copy);
    settle(x);
    double t = now_s();
    int in = open(x->chain_bin, O_RDONLY | O_CLOEXEC);
    int out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (in < 0 || out < 0)
        fatal("copying %s: %s", x->chain_bin, strerror(errno));
    for (;;) {
        ssize_t n = read(in, x->buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && write(out, x->buf, (size_t)n) != n))
            fatal("copying %s: %s", x->chain_bin, strerror(errno));
        if (n == 0)
            break;
    }
    if (syncfs(out) != 0 || close(out) != 0)
        fatal("%s: %s", copy, strerror(errno));
    (void)close(in); /* read-only */
    return now_s() - t;
}

/* The library: the whole chain into a new directory. */
static double lib_export(void *p, unsigned round)
{
    export_ctx *x = p;
    ac_error err;
    char out[PATH_MAX];
    (void)round;
    export_path(x, x->exports++, out);
    settle(x);
    double t = now_s();
    check_ac(ac_chain_export(x->chain, out, &x->st, &err), &err, "export");
    t = now_s() - t;
    if (x->st.size != x->b->o.records || x->st.old_size != 0)
        fatal("export published %" PRIu64 " records over %" PRIu64 ", expected %" PRIu64
              " over none", x->st.size, x->st.old_size, x->b->o.records);
    return t;
}

void phase_export(bench *b)
{
    fprintf(stderr, "bench: exporting the chain as tlog-tiles against copying it\n");
    export_ctx x = {.b = b, .buf = malloc(CHUNK)};
    x.dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x.buf == NULL || x.dirfd < 0)
        fatal("%s: %s", b->dir, strerror(errno));
    join(x.chain_bin, b->big, "chain.bin");
    x.chain = open_chain(b->big, 0);
    ac_error err;
    char *text;
    size_t len;
    double t = now_s();
    check_ac(ac_chain_checkpoint(x.chain, b->key, NULL, &text, &len, &err), &err, "checkpoint");
    t = now_s() - t;
    ac_free(text);
    unsigned rounds = b->o.rounds < EXPORT_ROUNDS ? b->o.rounds : EXPORT_ROUNDS;
    rates q = alternate(lim_copy, lib_export, &x, rounds, (double)b->big_bytes / 1e6);
    close_chain(x.chain);
    char op[64];
    snprintf(op, sizeof op, "export, %" PRIu64 " records", b->o.records);
    ratio_row(b, op, q.lib, "MB/s", q.lim, "MB/s copy+syncfs", 0.50);
    note(b, "export: %" PRIu64 " files, %.0f MB into an empty directory, made durable by one "
            "syncfs; limit: chain.bin read and copied (%.0f MB), one syncfs; rates in MB of "
            "chain.bin; the first checkpoint (every leaf hashed) took %.2f s",
         x.st.files_written, (double)x.st.bytes_written / 1e6, (double)b->big_bytes / 1e6, t);
    /* Its own work: the bound whenever the disk keeps up. */
    note(b, "export per CPU-second: %.0f MB of chain.bin, the copy %.0f MB",
         q.lib_cpu, q.lim_cpu);
    for (unsigned i = 0; i < x.exports; i++) {
        char path[PATH_MAX];
        export_path(&x, i, path);
        remove_tree(path);
    }
    for (unsigned i = 0; i < x.copies; i++) {
        char path[PATH_MAX];
        copy_path(&x, i, path);
        unlink_maybe(path);
    }
    (void)close(x.dirfd); /* read-only */
    free(x.buf);
}

/* ---------------------------------------------------------------- rebuilding the tree */

typedef struct tree_rebuild_ctx {
    read_hash lim; /* first: the ctx of lim_read_hash */
    bench *b;
    char tree[PATH_MAX];
    uint64_t tree_bytes; /* merkle.bin in sync, before the phase */
} tree_rebuild_ctx;

/* The library: merkle.bin deleted, then a proof of the last record, which
 * needs the whole tree and so rebuilds it from chain.bin. */
static double lib_tree_rebuild(void *p, unsigned round)
{
    tree_rebuild_ctx *x = p;
    ac_error err;
    char *proof;
    size_t len;
    (void)round;
    unlink_maybe(x->tree);
    double t = now_s();
    ac_chain *c = open_chain(x->b->big, 0);
    check_ac(ac_chain_prove(c, x->b->o.records - 1, &proof, &len, &err), &err, "prove");
    close_chain(c);
    t = now_s() - t;
    ac_free(proof);
    if (file_size(x->tree) != x->tree_bytes)
        fatal("after the rebuild %s holds %" PRIu64 " bytes, %" PRIu64 " before it was deleted",
              x->tree, file_size(x->tree), x->tree_bytes);
    return t;
}

void phase_tree_rebuild(bench *b)
{
    fprintf(stderr, "bench: rebuilding merkle.bin from chain.bin\n");
    tree_rebuild_ctx x = {.b = b};
    read_hash_init(&x.lim, b->big);
    join(x.tree, b->big, TREE_FILE);
    x.tree_bytes = file_size(x.tree);
    unsigned rounds = b->o.rounds < 5 ? b->o.rounds : 5;
    rates q = alternate(lim_read_hash, lib_tree_rebuild, &x, rounds, (double)b->big_bytes / 1e6);
    read_hash_free(&x.lim);
    ratio_row(b, "rebuild merkle.bin from chain.bin", q.lib, "MB/s", q.lim, "MB/s read+SHA-256",
              0.50);
    cpu_note(b, "tree rebuild", q);
    note(b, "tree rebuild: merkle.bin deleted, then ac_chain_prove of the last record: %.3f s "
            "for %.0f MB, writing %" PRIu64 " stored hashes (%.0f MB)",
         b->big_bytes / 1e6 / q.lib, b->big_bytes / 1e6, stored_hashes(b->o.records),
         (double)x.tree_bytes / 1e6);
}
