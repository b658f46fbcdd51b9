/*
 * Appending, against what bounds it: a durable append against one
 * write+fdatasync of a frame's size, a batch append against one core's
 * Ed25519 signing, and an append at the big chain's size against one at
 * 1,000 records.
 *
 * Decision: each limit is the one irreducible cost of the operation (the
 * disk's sync, the signature), so the ratio is the library's overhead and
 * nothing else.  The disk-bound rows alternate operation by operation
 * (interleaved), because other processes' syncs come in bursts that would
 * otherwise land on one side only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

/* ---------------------------------------------------------------- durable append */

typedef struct durable_ctx {
    bench *b;
    ac_chain *chain;
    int fd;
    uint8_t *buf;
} durable_ctx;

static void lim_fsync(void *p)
{
    durable_ctx *d = p;
    if (write(d->fd, d->buf, d->b->frame) != (ssize_t)d->b->frame || fdatasync(d->fd) != 0)
        fatal("write+fdatasync: %s", strerror(errno));
}

static void lib_append(void *p)
{
    durable_ctx *d = p;
    append_one(d->b, d->chain);
}

/* The size of the records this run writes, from a chain that holds some. */
void learn_frame_size(bench *b, ac_chain *c)
{
    ac_error err;
    ac_record *rec;
    size_t len;
    check_ac(ac_chain_head(c, &rec, &err), &err, "head");
    (void)ac_record_bytes(rec, &len);
    ac_record_free(rec);
    b->frame = len + 4;
    /* The signature entry: "signature" (1 + 9 bytes) and 64 bytes (2 + 64). */
    b->canon = len - 76;
}

void phase_durable(bench *b)
{
    char path[PATH_MAX], lim_path[PATH_MAX];
    fprintf(stderr, "bench: durable appends, one per call\n");
    ac_chain *c = new_chain(b, "durable", 0, path);
    for (int i = 0; i < 20; i++) /* warm-up: the first append creates the files */
        append_one(b, c);
    learn_frame_size(b, c);
    join(lim_path, b->dir, "fsync.dat");
    durable_ctx d = {.b = b, .chain = c};
    d.fd = open(lim_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    d.buf = calloc(1, b->frame);
    if (d.fd < 0 || d.buf == NULL)
        fatal("%s: %s", lim_path, strerror(errno));
    rates q = interleaved(lim_fsync, lib_append, &d, b->o.rounds, b->o.appends);
    ratio_row(b, "durable append, 1 per call", q.lib, "rec/s", q.lim, "write+fdatasync/s", 0.80);
    note(b, "durable append: %.1f us per record against %.1f us per write+fdatasync of %zu bytes",
         1e6 / q.lib, 1e6 / q.lim, b->frame);
    if (close(d.fd) != 0)
        fatal("%s: %s", lim_path, strerror(errno));
    free(d.buf);
    close_chain(c);
    unlink_maybe(lim_path);
}

/* ---------------------------------------------------------------- batch append */

typedef struct batch_ctx {
    bench *b;
    ac_chain *chain;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t *msg;
    unsigned batches;
} batch_ctx;

static double lim_sign(void *p, unsigned round)
{
    batch_ctx *x = p;
    uint8_t sig[crypto_sign_BYTES];
    (void)round;
    double t = now_s();
    for (unsigned i = 0; i < x->batches * BATCH; i++) {
        memcpy(x->msg, &i, sizeof i); /* a different message each time */
        if (crypto_sign_detached(sig, NULL, x->msg, x->b->canon, x->sk) != 0)
            fatal("crypto_sign_detached failed");
    }
    return now_s() - t;
}

static double lib_batch(void *p, unsigned round)
{
    batch_ctx *x = p;
    (void)round;
    double t = now_s();
    append_batches(x->b, x->chain, (uint64_t)x->batches * BATCH);
    return now_s() - t;
}

void phase_batch(bench *b)
{
    char path[PATH_MAX];
    fprintf(stderr, "bench: batch appends of %d\n", BATCH);
    batch_ctx x = {.b = b, .batches = 2};
    x.chain = new_chain(b, "batch", BATCH, path);
    x.msg = malloc(b->canon);
    if (x.msg == NULL)
        fatal("out of memory");
    randombytes_buf(x.msg, b->canon);
    if (crypto_sign_keypair(x.pk, x.sk) != 0)
        fatal("crypto_sign_keypair failed");
    rates q = alternate(lim_sign, lib_batch, &x, b->o.rounds, (double)x.batches * BATCH);
    ratio_row(b, "batch append, 1000 per call", q.lib, "rec/s", q.lim, "sign/s, 1 core", 0.75);
    cpu_note(b, "batch append", q);
    sodium_memzero(x.sk, sizeof x.sk);
    free(x.msg);
    close_chain(x.chain);
}

/* ---------------------------------------------------------------- append against chain length */

typedef struct scale_ctx {
    bench *b;
    ac_chain *small, *large;
} scale_ctx;

static void at_small(void *p)
{
    scale_ctx *x = p;
    append_one(x->b, x->small);
}

static void at_large(void *p)
{
    scale_ctx *x = p;
    append_one(x->b, x->large);
}

/* A reader's get of the newest record right after another handle appended
 * it: the common case of a tool that shows what was just attested. */
static void probe_fresh_get(bench *b)
{
    ac_error err;
    ac_state st;
    ac_record *rec;
    ac_chain *c = open_chain(b->big, AC_OPEN_READONLY);
    check_ac(ac_chain_state(c, &st, &err), &err, "state");
    double t = now_s();
    check_ac(ac_chain_get(c, st.head_index, &rec, &err), &err, "get");
    t = now_s() - t;
    ac_record_free(rec);
    close_chain(c);
    note(b, "a read-only handle's get of the newest record, just appended through another "
            "handle, took %.3f ms (random gets average %.4f ms)",
         t * 1e3, b->get_s * 1e3);
}

void phase_scale(bench *b)
{
    fprintf(stderr, "bench: appends at %" PRIu64 " records against at 1,000\n", b->o.records);
    char path[PATH_MAX];
    scale_ctx x = {.b = b};
    x.small = new_chain(b, "small", BATCH, path);
    x.large = open_chain(b->big, 0);
    rates q = interleaved(at_small, at_large, &x, b->o.rounds, b->o.appends);
    double at1k = q.lim, at_big = q.lib;
    close_chain(x.small);
    close_chain(x.large);
    char op[64], lim[24];
    snprintf(op, sizeof op, "append at %" PRIu64 " records", b->o.records);
    row *r = add_row(b, op, V_INFO);
    fmt_rate(r->rate, sizeof r->rate, at_big, "rec/s");
    fmt_num(lim, sizeof lim, at1k);
    snprintf(r->limit, sizeof r->limit, "%s rec/s at 1,000", lim);
    set_ratio(r, at_big, at1k, 0.90);
    probe_fresh_get(b);
}
