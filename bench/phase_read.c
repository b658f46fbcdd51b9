/*
 * The big chain and what reads it: building it by batch appends, opening it
 * with valid caches, rebuilding the caches from chain.bin alone (against
 * reading and hashing the file), and random gets (against a pread of the
 * same frame).
 *
 * Decision: the limits read chain.bin through our own code, not the
 * library's: the random gets' offsets come from our own scan of the frames,
 * and the rebuild's limit is a plain read + SHA-256 of the whole file, so a
 * fault in the library's reader cannot flatter its own limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* ---------------------------------------------------------------- the big chain */

void phase_build(bench *b)
{
    fprintf(stderr, "bench: building a chain of %" PRIu64 " records by batch appends\n",
            b->o.records);
    double t = now_s();
    ac_chain *c = new_chain(b, "big", b->o.records, b->big);
    close_chain(c);
    double secs = now_s() - t;
    /* One get builds the offset index: from here on the caches are valid. */
    ac_error err;
    ac_record *rec;
    c = open_chain(b->big, 0);
    check_ac(ac_chain_get(c, b->o.records - 1, &rec, &err), &err, "get");
    ac_record_free(rec);
    if (b->frame == 0) /* --only skipped phase_durable */
        learn_frame_size(b, c);
    close_chain(c);
    char chain_bin[PATH_MAX];
    join(chain_bin, b->big, "chain.bin");
    b->big_bytes = file_size(chain_bin);
    note(b, "built the %" PRIu64 "-record chain (%.0f MB) in %.1f s: %.0f rec/s", b->o.records,
         (double)b->big_bytes / 1e6, secs, (double)b->o.records / secs);
    if (!file_exists(b->big, "state.cbor") || !file_exists(b->big, "index.bin"))
        note(b, "after building and one get, state.cbor %s and index.bin %s",
             file_exists(b->big, "state.cbor") ? "exists" : "is MISSING",
             file_exists(b->big, "index.bin") ? "exists" : "is MISSING");
}

/* ---------------------------------------------------------------- open and rebuild */

void phase_open(bench *b)
{
    fprintf(stderr, "bench: opening with valid caches\n");
    if (!file_exists(b->big, "state.cbor") || !file_exists(b->big, "index.bin"))
        note(b, "open: the caches were not all there, so this is not an open with valid caches");
    unsigned n = b->o.rounds * 30 + 1;
    double *t = malloc(n * sizeof *t);
    if (t == NULL)
        fatal("out of memory");
    for (unsigned i = 0; i < 5; i++) /* warm-up */
        close_chain(open_chain(b->big, 0));
    for (unsigned i = 0; i < n; i++) {
        double t0 = now_s();
        ac_chain *c = open_chain(b->big, 0);
        t[i] = now_s() - t0;
        close_chain(c);
    }
    double med = median(t, n), worst = t[n - 1];
    free(t);
    char op[64];
    snprintf(op, sizeof op, "open, %" PRIu64 " records, valid caches", b->o.records);
    row *r = add_row(b, op, med <= 1e-3 ? V_PASS : V_FAIL);
    snprintf(r->rate, sizeof r->rate, "%.3f ms", med * 1e3);
    snprintf(r->target, sizeof r->target, "<= 1 ms");
    note(b, "open: median %.3f ms, slowest of %u %.3f ms", med * 1e3, n, worst * 1e3);
}

typedef struct rebuild_ctx {
    read_hash lim; /* first: the ctx of lim_read_hash */
    bench *b;
    char state[PATH_MAX], index[PATH_MAX];
} rebuild_ctx;

/* The library: open without caches, read the last record (which needs the
 * offset index), close. */
static double lib_rebuild(void *p, unsigned round)
{
    rebuild_ctx *x = p;
    ac_error err;
    ac_record *rec;
    (void)round;
    unlink_maybe(x->state);
    unlink_maybe(x->index);
    double t = now_s();
    ac_chain *c = open_chain(x->b->big, 0);
    check_ac(ac_chain_get(c, x->b->o.records - 1, &rec, &err), &err, "get");
    close_chain(c);
    t = now_s() - t;
    ac_record_free(rec);
    return t;
}

void phase_rebuild(bench *b)
{
    fprintf(stderr, "bench: rebuilding the caches from chain.bin\n");
    rebuild_ctx x = {.b = b};
    read_hash_init(&x.lim, b->big);
    join(x.state, b->big, "state.cbor");
    join(x.index, b->big, "index.bin");
    unsigned rounds = b->o.rounds < 5 ? b->o.rounds : 5;
    rates q = alternate(lim_read_hash, lib_rebuild, &x, rounds, (double)b->big_bytes / 1e6);
    read_hash_free(&x.lim);
    ratio_row(b, "rebuild caches from chain.bin", q.lib, "MB/s", q.lim, "MB/s read+SHA-256",
              0.50);
    cpu_note(b, "rebuild", q);
    bool st = file_exists(b->big, "state.cbor"), ix = file_exists(b->big, "index.bin");
    double t0 = now_s();
    close_chain(open_chain(b->big, 0));
    double next_open = now_s() - t0;
    note(b, "rebuild: %.3f s for %.0f MB; afterwards state.cbor %s, index.bin %s, and the next "
            "open takes %.3f ms",
         b->big_bytes / 1e6 / q.lib, b->big_bytes / 1e6,
         st ? "was rewritten" : "was NOT rewritten", ix ? "was rewritten" : "was NOT rewritten",
         next_open * 1e3);
}

/* ---------------------------------------------------------------- random get */

typedef struct get_ctx {
    bench *b;
    ac_chain *chain;
    int fd;
    uint64_t *off;    /* frame offsets, from our own scan of chain.bin */
    uint32_t *len;    /* frame sizes, prefix included */
    uint64_t *idx;    /* the random indices */
    uint64_t per;     /* gets per round */
    uint8_t *buf;
} get_ctx;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t pread_full(int fd, uint8_t *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fatal("pread: %s", strerror(errno));
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return done;
}

/* Offsets and sizes of every frame, independently of the library. */
static void scan_frames(get_ctx *x, uint64_t size)
{
    uint64_t n = x->b->o.records, pos = 0, base = 0, have = 0, k = 0;
    x->off = malloc(n * sizeof *x->off);
    x->len = malloc(n * sizeof *x->len);
    if (x->off == NULL || x->len == NULL)
        fatal("out of memory");
    while (pos < size && k < n) {
        if (pos + 4 > base + have) {
            base = pos;
            have = pread_full(x->fd, x->buf, CHUNK, base);
            if (have < 4)
                fatal("chain.bin: short frame at %" PRIu64, pos);
        }
        uint32_t body = be32(x->buf + (pos - base));
        x->off[k] = pos;
        x->len[k++] = body + 4;
        pos += 4 + (uint64_t)body;
    }
    if (k != n)
        fatal("chain.bin holds %" PRIu64 " frames, expected %" PRIu64, k, n);
}

static double lim_pread(void *p, unsigned round)
{
    get_ctx *x = p;
    const uint64_t *idx = x->idx + (uint64_t)round * x->per;
    double t = now_s();
    for (uint64_t i = 0; i < x->per; i++) {
        uint64_t j = idx[i];
        if (pread(x->fd, x->buf, x->len[j], (off_t)x->off[j]) != (ssize_t)x->len[j])
            fatal("pread: short read");
    }
    return now_s() - t;
}

static double lib_get(void *p, unsigned round)
{
    get_ctx *x = p;
    const uint64_t *idx = x->idx + (uint64_t)round * x->per;
    ac_error err;
    double t = now_s();
    for (uint64_t i = 0; i < x->per; i++) {
        ac_record *rec;
        check_ac(ac_chain_get(x->chain, idx[i], &rec, &err), &err, "get");
        if (ac_record_index(rec) != idx[i])
            fatal("get(%" PRIu64 ") returned record %" PRIu64, idx[i], ac_record_index(rec));
        ac_record_free(rec);
    }
    return now_s() - t;
}

void phase_get(bench *b)
{
    fprintf(stderr, "bench: random get\n");
    char chain_bin[PATH_MAX];
    join(chain_bin, b->big, "chain.bin");
    unsigned rounds = b->o.rounds;
    get_ctx x = {.b = b, .per = b->o.gets / rounds + 1};
    x.fd = open(chain_bin, O_RDONLY | O_CLOEXEC);
    x.buf = malloc(CHUNK);
    x.idx = malloc((rounds + 1) * x.per * sizeof *x.idx);
    if (x.fd < 0 || x.buf == NULL || x.idx == NULL)
        fatal("%s: %s", chain_bin, strerror(errno));
    scan_frames(&x, b->big_bytes);
    uint64_t s = 0x9e3779b97f4a7c15u; /* xorshift64: the same indices on every run */
    for (uint64_t i = 0; i < (rounds + 1) * x.per; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x.idx[i] = s % b->o.records;
    }
    x.chain = open_chain(b->big, AC_OPEN_READONLY);
    rates q = alternate(lim_pread, lib_get, &x, rounds, (double)x.per);
    close_chain(x.chain);
    (void)close(x.fd); /* read-only */
    free(x.off);
    free(x.len);
    free(x.idx);
    free(x.buf);
    b->get_s = 1 / q.lib;
    row *r = ratio_row(b, "random get (ac_chain_get)", q.lib, "get/s", q.lim, "pread/s", 0.25);
    cpu_note(b, "random get", q);
    snprintf(r->target, sizeof r->target, ">= 25 %%, >= 250k/s");
    if (q.lib < 250000)
        r->v = V_FAIL;
}
