/*
 * The attestchain benchmark (issue 4).  Each operation is timed next to the
 * limit the machine sets for it, both measured in the same run on the same
 * filesystem, so the ratio means the same on a fast machine and on a slow or
 * noisy one.  Prints one table; exit status 0 when every target is met, 1
 * when one is missed, 2 when the benchmark could not run.
 *
 *   bench [--records N] [--file-mb N] [--quick] [--dir DIR] [--tool PATH]
 *         [--single N] [--gets N] [--keep] [--markdown]
 *
 * Method: CLOCK_MONOTONIC; a warm-up before each measurement; short
 * measurements repeated in rounds that alternate with their limit (so drift
 * and noise hit both alike; operations that wait on the disk alternate one
 * by one) and summarised by the median.  Everything runs
 * warm: the files are in the page cache, as on a machine that just wrote
 * them.  Peak memory of verification is taken from a forked child
 * (getrusage ru_maxrss), so earlier phases do not count.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "attestchain.h"

#define BATCH 1000              /* records per batch append */
#define CHUNK (4u << 20)        /* read size of the limits' file scans */
#define MIB (1024.0 * 1024.0)
#define CONTENT_TYPE "application/octet-stream"
#define MAX_ROUNDS 32

/* ---------------------------------------------------------------- options */

typedef struct opts {
    uint64_t records; /* size of the big chain */
    uint64_t file_mb; /* size of the file hashed through the tool, MiB */
    uint64_t single;  /* records verified by one thread */
    uint64_t gets;    /* random gets (and as many preads) */
    unsigned rounds;  /* rounds of each alternating measurement */
    unsigned appends; /* single appends per round */
    const char *base; /* where the temporary directory goes */
    const char *tool;
    bool keep, markdown;
} opts;

typedef struct bench {
    opts o;
    char dir[PATH_MAX];      /* temporary directory of this run */
    char big[PATH_MAX];      /* the big chain */
    char key_path[PATH_MAX]; /* the key as PEM, for the tool */
    char tool[PATH_MAX];
    ac_key *key;
    ac_meta *meta;
    size_t frame;     /* bytes of one frame, prefix included */
    size_t canon;     /* bytes of one record's canonical (signed) form */
    unsigned cores;   /* online CPUs */
    uint64_t big_bytes;
    uint64_t seq;     /* makes every content hash different */
    double get_s;     /* seconds per random get */
} bench;

/* ---------------------------------------------------------------- failure and cleanup */

static char g_dir[PATH_MAX]; /* removed on exit unless --keep */
static bool g_keep, g_child;
static volatile sig_atomic_t g_stop;

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int rc = type == FTW_DP ? rmdir(path) : unlink(path);
    if (rc != 0)
        fprintf(stderr, "bench: cannot remove %s: %s\n", path, strerror(errno));
    return 0; /* remove what can be removed */
}

static void cleanup(void)
{
    if (g_child || g_dir[0] == '\0')
        return;
    if (g_keep)
        fprintf(stderr, "bench: kept %s\n", g_dir);
    else if (nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "bench: cannot remove %s: %s\n", g_dir, strerror(errno));
    g_dir[0] = '\0';
}

__attribute__((format(printf, 1, 2), noreturn)) static void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (g_child)
        _exit(3);
    cleanup();
    exit(2);
}

static void check_ac(int rc, const ac_error *err, const char *what)
{
    if (rc != AC_OK)
        fatal("%s: %s (%s)", what, err->message, ac_strerror(rc));
}

static void check_stop(void)
{
    if (g_stop)
        fatal("interrupted");
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1; /* the next check_stop cleans up and exits */
}

static void join(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
    if (n < 0 || n >= PATH_MAX)
        fatal("path too long: %s/%s", a, b);
}

static void unlink_maybe(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        fatal("cannot remove %s: %s", path, strerror(errno));
}

static bool file_exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat sb;
    join(p, dir, name);
    return stat(p, &sb) == 0;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        fatal("cannot stat %s: %s", path, strerror(errno));
    return (uint64_t)sb.st_size;
}

/* ---------------------------------------------------------------- timing */

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        fatal("clock_gettime: %s", strerror(errno));
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One round of a measurement: does its work and returns the seconds it took. */
typedef double (*round_fn)(void *ctx, unsigned round);

/* Work per second of an operation and of its limit, by the wall clock and
 * per second of this process's CPU time (which other work on the machine
 * cannot take away, so it isolates the library's own cost). */
typedef struct rates {
    double lim, lib, lim_cpu, lib_cpu;
} rates;

static double process_cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        fatal("clock_gettime: %s", strerror(errno));
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One round: wall rate into *wall, CPU rate into *cpu. */
static void one_round(round_fn fn, void *ctx, unsigned r, double work, double *wall, double *cpu)
{
    double c = process_cpu_s();
    *wall = work / fn(ctx, r);
    c = process_cpu_s() - c;
    *cpu = c > 0 ? work / c : 0;
}

/* Rates of an operation and of its limit, measured in alternating rounds
 * after one warm-up round of each; medians. */
static rates alternate(round_fn lim, round_fn lib, void *ctx, unsigned rounds, double work)
{
    double a[MAX_ROUNDS], b[MAX_ROUNDS], ac[MAX_ROUNDS], bc[MAX_ROUNDS];
    if (rounds > MAX_ROUNDS)
        rounds = MAX_ROUNDS;
    (void)lim(ctx, 0);
    (void)lib(ctx, 0);
    for (unsigned r = 0; r < rounds; r++) {
        check_stop();
        /* Swap the order each round: neither side always runs second. */
        if (r % 2) {
            one_round(lib, ctx, r, work, &b[r], &bc[r]);
            one_round(lim, ctx, r, work, &a[r], &ac[r]);
        } else {
            one_round(lim, ctx, r, work, &a[r], &ac[r]);
            one_round(lib, ctx, r, work, &b[r], &bc[r]);
        }
    }
    rates out = {median(a, rounds), median(b, rounds), median(ac, rounds), median(bc, rounds)};
    return out;
}

/* One operation of a measurement that alternates operation by operation. */
typedef void (*op_fn)(void *ctx);

/* For operations that wait on the disk: other processes' syncs come in
 * bursts that can fill a whole round, so the two sides alternate one
 * operation at a time and each round sums their times.  Rates: n per
 * summed seconds, median of the rounds, after a warm-up of 10 each. */
static rates interleaved(op_fn lim, op_fn lib, void *ctx, unsigned rounds, unsigned n)
{
    double a[MAX_ROUNDS], b[MAX_ROUNDS];
    if (rounds > MAX_ROUNDS)
        rounds = MAX_ROUNDS;
    for (int i = 0; i < 10; i++)
        lim(ctx), lib(ctx);
    for (unsigned r = 0; r < rounds; r++) {
        double ta = 0, tb = 0;
        check_stop();
        for (unsigned i = 0; i < n; i++) {
            double t0 = now_s();
            if (i % 2)
                lib(ctx);
            else
                lim(ctx);
            double t1 = now_s();
            if (i % 2)
                lim(ctx);
            else
                lib(ctx);
            double t2 = now_s();
            ta += i % 2 ? t2 - t1 : t1 - t0;
            tb += i % 2 ? t1 - t0 : t2 - t1;
        }
        a[r] = n / ta;
        b[r] = n / tb;
    }
    rates out = {median(a, rounds), median(b, rounds), 0, 0};
    return out;
}

/* ---------------------------------------------------------------- the table */

typedef enum verdict { V_PASS, V_FAIL, V_INFO, V_SKIP } verdict;

typedef struct row {
    char op[64], rate[32], limit[48], ratio[16], target[32];
    verdict v;
} row;

static row g_rows[24];
static size_t g_nrows;
static char g_notes[24][256];
static size_t g_nnotes;

static row *add_row(const char *op, verdict v)
{
    if (g_nrows == sizeof g_rows / sizeof g_rows[0])
        fatal("too many rows");
    row *r = &g_rows[g_nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->op, sizeof r->op, "%s", op);
    r->v = v;
    return r;
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
    if (g_nnotes == sizeof g_notes / sizeof g_notes[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_notes[g_nnotes++], sizeof g_notes[0], fmt, ap);
    va_end(ap);
}

/* 1234567.8 as "1,234,568"; below 100 with decimals. */
static void fmt_num(char *out, size_t cap, double v)
{
    if (v < 10) {
        snprintf(out, cap, "%.2f", v);
        return;
    }
    if (v < 100) {
        snprintf(out, cap, "%.1f", v);
        return;
    }
    char digits[32], *p = out;
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t n = strlen(digits);
    for (size_t i = 0; i < n && (size_t)(p - out) + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            *p++ = ',';
        *p++ = digits[i];
    }
    *p = '\0';
}

static void fmt_rate(char *out, size_t cap, double v, const char *unit)
{
    char num[32];
    fmt_num(num, sizeof num, v);
    snprintf(out, cap, "%s %s", num, unit);
}

/* Fills the ratio columns: rate / limit against a minimum ratio. */
static void set_ratio(row *r, double rate, double limit, double target)
{
    double q = limit > 0 ? rate / limit : 0;
    snprintf(r->ratio, sizeof r->ratio, "%.1f %%", 100 * q);
    if (target > 0) {
        snprintf(r->target, sizeof r->target, ">= %.0f %%", 100 * target);
        r->v = q >= target ? V_PASS : V_FAIL;
    }
}

static const char *verdict_name(verdict v)
{
    static const char *const names[] = {"PASS", "FAIL", "info", "skip"};
    return names[v];
}

static void print_table(bool markdown)
{
    static const char *const head[6] = {"operation", "rate", "limit (same run)", "ratio",
                                        "target", "result"};
    if (markdown) {
        printf("| %s | %s | %s | %s | %s | %s |\n|---|--:|--:|--:|---|---|\n", head[0], head[1],
               head[2], head[3], head[4], head[5]);
        for (size_t i = 0; i < g_nrows; i++) {
            const row *r = &g_rows[i];
            printf("| %s | %s | %s | %s | %s | %s |\n", r->op, r->rate, r->limit, r->ratio,
                   r->target, verdict_name(r->v));
        }
    } else {
        printf("%-36s %18s %32s %8s  %-22s %s\n", head[0], head[1], head[2], head[3], head[4],
               head[5]);
        for (size_t i = 0; i < g_nrows; i++) {
            const row *r = &g_rows[i];
            printf("%-36s %18s %32s %8s  %-22s %s\n", r->op, r->rate, r->limit, r->ratio,
                   r->target, verdict_name(r->v));
        }
    }
    if (g_nnotes > 0)
        printf("\n");
    for (size_t i = 0; i < g_nnotes; i++)
        printf("%s%s\n", markdown ? "- " : "  * ", g_notes[i]);
}

/* The ratio per CPU-second of a CPU-bound row: what it would be on an idle
 * machine, whatever else ran during this one. */
static void cpu_note(const char *what, rates q)
{
    if (q.lim_cpu > 0)
        note("%s per CPU-second: %.1f %% of its limit (%.0f against %.0f)", what,
             100 * q.lib_cpu / q.lim_cpu, q.lib_cpu, q.lim_cpu);
}

/* ---------------------------------------------------------------- chains and entries */

static ac_entry g_entries[BATCH];

/* The next n entries, each naming different content. */
static void fill_entries(bench *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ac_entry *e = &g_entries[i];
        uint64_t s = b->seq++;
        memset(e->content_hash, 0x5a, AC_HASH_SIZE);
        memcpy(e->content_hash, &s, sizeof s);
        e->content_type = CONTENT_TYPE;
        e->metadata = b->meta;
    }
}

static ac_chain *open_chain(const char *dir, unsigned flags)
{
    ac_chain *c;
    ac_error err;
    check_ac(ac_chain_open(dir, flags, &c, &err), &err, dir);
    return c;
}

static void close_chain(ac_chain *c)
{
    ac_error err;
    check_ac(ac_chain_close(c, &err), &err, "close");
}

static void append_batches(bench *b, ac_chain *c, uint64_t n)
{
    ac_error err;
    while (n > 0) {
        size_t k = n < BATCH ? (size_t)n : BATCH;
        fill_entries(b, k);
        check_ac(ac_append_batch(c, b->key, g_entries, k, NULL, &err), &err, "batch append");
        n -= k;
        check_stop();
    }
}

/* A new chain of n records in b->dir/name. */
static ac_chain *new_chain(bench *b, const char *name, uint64_t n, char *path)
{
    join(path, b->dir, name);
    ac_chain *c = open_chain(path, AC_OPEN_CREATE);
    append_batches(b, c, n);
    return c;
}

static void append_one(bench *b, ac_chain *c)
{
    ac_error err;
    fill_entries(b, 1);
    check_ac(ac_append(c, b->key, g_entries, NULL, &err), &err, "append");
}

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
static void learn_frame_size(bench *b, ac_chain *c)
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

static void phase_durable(bench *b)
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
    double lim = q.lim, lib = q.lib;
    row *r = add_row("durable append, 1 per call", V_INFO);
    fmt_rate(r->rate, sizeof r->rate, lib, "rec/s");
    fmt_rate(r->limit, sizeof r->limit, lim, "write+fdatasync/s");
    set_ratio(r, lib, lim, 0.80);
    note("durable append: %.1f us per record against %.1f us per write+fdatasync of %zu bytes",
         1e6 / lib, 1e6 / lim, b->frame);
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

static void phase_batch(bench *b)
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
    double lim = q.lim, lib = q.lib;
    row *r = add_row("batch append, 1000 per call", V_INFO);
    fmt_rate(r->rate, sizeof r->rate, lib, "rec/s");
    fmt_rate(r->limit, sizeof r->limit, lim, "sign/s, 1 core");
    set_ratio(r, lib, lim, 0.75);
    cpu_note("batch append", q);
    sodium_memzero(x.sk, sizeof x.sk);
    free(x.msg);
    close_chain(x.chain);
}

/* ---------------------------------------------------------------- the big chain */

static void phase_build(bench *b)
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
    close_chain(c);
    char chain_bin[PATH_MAX];
    join(chain_bin, b->big, "chain.bin");
    b->big_bytes = file_size(chain_bin);
    note("built the %" PRIu64 "-record chain (%.0f MB) in %.1f s: %.0f rec/s", b->o.records,
         (double)b->big_bytes / 1e6, secs, (double)b->o.records / secs);
    if (!file_exists(b->big, "state.cbor") || !file_exists(b->big, "index.bin"))
        note("after building and one get, state.cbor %s and index.bin %s",
             file_exists(b->big, "state.cbor") ? "exists" : "is MISSING",
             file_exists(b->big, "index.bin") ? "exists" : "is MISSING");
}

/* ---------------------------------------------------------------- verification */

typedef struct vres {
    int rc, valid;
    uint64_t records;
    double secs, cpu_secs; /* wall clock; CPU time of every thread (filled by the parent) */
    char msg[sizeof(((ac_error *)0)->message)];
} vres;

static void verify_child(bench *b, unsigned threads, uint64_t end, int wfd)
{
    vres r = {0};
    ac_chain *c;
    ac_error err;
    r.rc = ac_chain_open(b->big, AC_OPEN_READONLY, &c, &err);
    if (r.rc == AC_OK) {
        ac_verify_options o;
        ac_report *rep;
        ac_verify_options_init(&o);
        o.threads = threads;
        o.end = end;
        double t = now_s();
        r.rc = ac_verify(c, &o, &rep, &err);
        r.secs = now_s() - t;
        if (r.rc == AC_OK) {
            r.valid = ac_report_valid(rep);
            r.records = ac_report_records(rep);
            snprintf(r.msg, sizeof r.msg, "%s", ac_report_detail(rep));
            ac_report_free(rep);
        }
        (void)ac_chain_close(c, NULL); /* read-only: nothing to write */
    }
    if (r.rc != AC_OK)
        snprintf(r.msg, sizeof r.msg, "%s", err.message);
    _exit(write(wfd, &r, sizeof r) == (ssize_t)sizeof r ? 0 : 3);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f != NULL)
        (void)fclose(f); /* read-only */
    return kib;
}

/* Verifies records 0..end in a forked child; its peak RSS in *maxrss_kib. */
static void run_verify(bench *b, unsigned threads, uint64_t end, vres *out, long *maxrss_kib)
{
    int fds[2];
    if (pipe(fds) != 0)
        fatal("pipe: %s", strerror(errno));
    (void)fflush(stdout);
    (void)fflush(stderr);
    (void)malloc_trim(0); /* what this process no longer uses would count in the child */
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        g_child = true;
        /* Ctrl-C ends the child at once; the parent cleans up. */
        (void)signal(SIGINT, SIG_DFL);
        (void)signal(SIGTERM, SIG_DFL);
        (void)close(fds[0]);
        verify_child(b, threads, end, fds[1]);
    }
    (void)close(fds[1]);
    ssize_t n = read(fds[0], out, sizeof *out);
    (void)close(fds[0]);
    if (n != (ssize_t)sizeof *out)
        (void)kill(pid, SIGKILL); /* interrupted, say: no orphan goes on verifying */
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid)
        fatal("wait4: %s", strerror(errno));
    check_stop();
    if (n != (ssize_t)sizeof *out || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fatal("the verifying child failed (status %d)", st);
    if (out->rc != AC_OK)
        fatal("verify: %s", out->msg);
    if (!out->valid || out->records != end + 1)
        fatal("verify says the chain is invalid after %" PRIu64 " records: %s", out->records,
              out->msg);
    *maxrss_kib = ru.ru_maxrss;
    out->cpu_secs = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Signed messages of the records' size, for the verify limit. */
typedef struct sig_set {
    size_t len;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t *msgs, *sigs;
} sig_set;

enum { SIGSET = 500 };

static void sig_set_make(sig_set *s, size_t len)
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    s->len = len;
    s->msgs = malloc((size_t)SIGSET * len);
    s->sigs = malloc((size_t)SIGSET * crypto_sign_BYTES);
    if (s->msgs == NULL || s->sigs == NULL || crypto_sign_keypair(s->pk, sk) != 0)
        fatal("out of memory");
    randombytes_buf(s->msgs, (size_t)SIGSET * len);
    for (size_t i = 0; i < SIGSET; i++)
        if (crypto_sign_detached(s->sigs + i * crypto_sign_BYTES, NULL, s->msgs + i * len, len,
                                 sk) != 0)
            fatal("crypto_sign_detached failed");
    sodium_memzero(sk, sizeof sk);
}

static void sig_set_free(sig_set *s)
{
    free(s->msgs);
    free(s->sigs);
}

/* Verifies the whole set once; 0, or -1 if a good signature failed. */
static int sig_set_verify(const sig_set *s)
{
    for (size_t i = 0; i < SIGSET; i++)
        if (crypto_sign_verify_detached(s->sigs + i * crypto_sign_BYTES, s->msgs + i * s->len,
                                        s->len, s->pk) != 0)
            return -1;
    return 0;
}

static double cpu_now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        fatal("clock_gettime: %s", strerror(errno));
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One core's verify rate: the median of a few passes over the set, by the
 * wall clock and (in *per_cpu_s) per second of CPU time. */
static double verify_one_core(const sig_set *s, unsigned rounds, double *per_cpu_s)
{
    double wall[MAX_ROUNDS], cpu_rates[MAX_ROUNDS];
    rounds = rounds < 1 ? 1 : rounds > MAX_ROUNDS ? MAX_ROUNDS : rounds;
    for (unsigned r = 0; r <= rounds; r++) { /* pass 0 warms up */
        double t = now_s(), c = cpu_now_s();
        if (sig_set_verify(s) != 0)
            fatal("a good signature did not verify");
        if (r > 0) {
            wall[r - 1] = SIGSET / (now_s() - t);
            cpu_rates[r - 1] = SIGSET / (cpu_now_s() - c);
        }
    }
    *per_cpu_s = median(cpu_rates, rounds);
    return median(wall, rounds);
}

static void *verify_thread(void *arg)
{
    const sig_set *s = arg;
    for (int pass = 0; pass < 4; pass++)
        if (sig_set_verify(s) != 0)
            return arg; /* non-NULL: failed */
    return NULL;
}

/* What `threads` threads of bare libsodium verification achieve together
 * right now: tells a busy or throttled machine from a slow library. */
static double verify_parallel(const sig_set *s, unsigned threads)
{
    pthread_t th[64];
    threads = threads > 64 ? 64 : threads;
    double t = now_s();
    unsigned started = 0;
    for (; started < threads; started++)
        if (pthread_create(&th[started], NULL, verify_thread, (void *)s) != 0)
            fatal("pthread_create failed");
    bool ok = true;
    for (unsigned i = 0; i < started; i++) {
        void *res;
        ok &= pthread_join(th[i], &res) == 0 && res == NULL;
    }
    if (!ok)
        fatal("a good signature did not verify");
    return 4.0 * SIGSET * threads / (now_s() - t);
}

static void verify_rows(bench *b, const vres *all, const vres *single, double one, double par,
                        long peak_kib)
{
    double rate = (double)all->records / all->secs, rate1 = (double)single->records / single->secs;
    char op[64], lim[24];
    snprintf(op, sizeof op, "verify, %u threads (default)", b->cores);
    row *r = add_row(op, V_INFO);
    fmt_rate(r->rate, sizeof r->rate, rate, "rec/s");
    fmt_num(lim, sizeof lim, one);
    snprintf(r->limit, sizeof r->limit, "%u x %s verify/s", b->cores, lim);
    set_ratio(r, rate, one * b->cores, 0.80);

    r = add_row("verify, peak resident memory", peak_kib < 64 * 1024 ? V_PASS : V_FAIL);
    snprintf(r->rate, sizeof r->rate, "%.1f MiB", (double)peak_kib / 1024);
    snprintf(r->target, sizeof r->target, "< 64 MiB");

    snprintf(op, sizeof op, "verify, 1 thread (%" PRIu64 " rec)", single->records);
    r = add_row(op, V_INFO);
    fmt_rate(r->rate, sizeof r->rate, rate1, "rec/s");
    fmt_rate(r->limit, sizeof r->limit, one, "verify/s");
    set_ratio(r, rate1, one, 0);
    note("verify: %u threads of bare crypto_sign_verify_detached manage %.0f/s together "
         "(%.0f %% of %u x one core), so the library reaches %.1f %% of what the cores "
         "delivered",
         b->cores, par, 100 * par / (one * b->cores), b->cores, 100 * rate / par);
}

static void phase_verify(bench *b)
{
    fprintf(stderr, "bench: verifying with every core and with one\n");
    sig_set s;
    sig_set_make(&s, b->canon);
    /* Limits taken around each long run, so that load that comes and goes
     * weighs on both alike. */
    unsigned half = b->o.rounds / 2 + 1;
    double lim[4], par[2], cpu[4];
    long parent_kib = rss_kib(), peak_kib, peak1_kib;
    vres all, single;
    lim[0] = verify_one_core(&s, half, &cpu[0]);
    par[0] = verify_parallel(&s, b->cores);
    parent_kib = rss_kib();
    run_verify(b, 0, b->o.records - 1, &all, &peak_kib);
    lim[1] = verify_one_core(&s, half, &cpu[1]);
    par[1] = verify_parallel(&s, b->cores);
    uint64_t n1 = b->o.single < b->o.records ? b->o.single : b->o.records;
    lim[2] = verify_one_core(&s, half, &cpu[2]);
    run_verify(b, 1, n1 - 1, &single, &peak1_kib);
    lim[3] = verify_one_core(&s, half, &cpu[3]);
    sig_set_free(&s);
    double one = median(lim, 4), one_cpu = median(cpu, 4);
    verify_rows(b, &all, &single, one, (par[0] + par[1]) / 2, peak_kib);
    /* CPU time is what other work on the machine cannot take away: records
     * per CPU-second against verifies per CPU-second shows the library's own
     * overhead, and CPU over wall time how many cores it kept busy. */
    note("verify per CPU-second: %.0f records with %u threads (%.1f cores busy on average), "
         "%.0f with 1, against %.0f bare verifies: %.1f %% and %.1f %%",
         all.records / all.cpu_secs, b->cores, all.cpu_secs / all.secs,
         single.records / single.cpu_secs, one_cpu, 100 * all.records / all.cpu_secs / one_cpu,
         100 * single.records / single.cpu_secs / one_cpu);
    note("verify: %" PRIu64 " records in %.2f s with %u threads, %" PRIu64
         " in %.2f s with 1; peak RSS %.1f MiB and %.1f MiB (each counts the %.1f MiB the "
         "benchmark held when it forked)",
         all.records, all.secs, b->cores, single.records, single.secs, (double)peak_kib / 1024,
         (double)peak1_kib / 1024, (double)parent_kib / 1024);
}

/* ---------------------------------------------------------------- open and rebuild */

static void phase_open(bench *b)
{
    fprintf(stderr, "bench: opening with valid caches\n");
    if (!file_exists(b->big, "state.cbor") || !file_exists(b->big, "index.bin"))
        note("open: the caches were not all there, so this is not an open with valid caches");
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
    row *r = add_row(op, med <= 1e-3 ? V_PASS : V_FAIL);
    snprintf(r->rate, sizeof r->rate, "%.3f ms", med * 1e3);
    snprintf(r->target, sizeof r->target, "<= 1 ms");
    note("open: median %.3f ms, slowest of %u %.3f ms", med * 1e3, n, worst * 1e3);
}

typedef struct rebuild_ctx {
    bench *b;
    char chain_bin[PATH_MAX], state[PATH_MAX], index[PATH_MAX];
    uint8_t *buf;
} rebuild_ctx;

/* The limit: read the whole of chain.bin and SHA-256 it. */
static double lim_read_hash(void *p, unsigned round)
{
    rebuild_ctx *x = p;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen;
    (void)round;
    double t = now_s();
    int fd = open(x->chain_bin, O_RDONLY | O_CLOEXEC);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (fd < 0 || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        fatal("%s: cannot hash", x->chain_bin);
    for (;;) {
        ssize_t n = read(fd, x->buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && EVP_DigestUpdate(ctx, x->buf, (size_t)n) != 1))
            fatal("%s: read or hash failed", x->chain_bin);
        if (n == 0)
            break;
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        fatal("SHA-256 failed");
    EVP_MD_CTX_free(ctx);
    (void)close(fd); /* read-only */
    return now_s() - t;
}

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

static void phase_rebuild(bench *b)
{
    fprintf(stderr, "bench: rebuilding the caches from chain.bin\n");
    rebuild_ctx x = {.b = b, .buf = malloc(CHUNK)};
    if (x.buf == NULL)
        fatal("out of memory");
    join(x.chain_bin, b->big, "chain.bin");
    join(x.state, b->big, "state.cbor");
    join(x.index, b->big, "index.bin");
    unsigned rounds = b->o.rounds < 5 ? b->o.rounds : 5;
    rates q = alternate(lim_read_hash, lib_rebuild, &x, rounds, (double)b->big_bytes / 1e6);
    double lim = q.lim, lib = q.lib;
    free(x.buf);
    row *r = add_row("rebuild caches from chain.bin", V_INFO);
    fmt_rate(r->rate, sizeof r->rate, lib, "MB/s");
    fmt_rate(r->limit, sizeof r->limit, lim, "MB/s read+SHA-256");
    set_ratio(r, lib, lim, 0.50);
    cpu_note("rebuild", q);
    bool st = file_exists(b->big, "state.cbor"), ix = file_exists(b->big, "index.bin");
    double t0 = now_s();
    close_chain(open_chain(b->big, 0));
    double next_open = now_s() - t0;
    note("rebuild: %.3f s for %.0f MB; afterwards state.cbor %s, index.bin %s, and the next "
         "open takes %.3f ms",
         b->big_bytes / 1e6 / lib, b->big_bytes / 1e6, st ? "was rewritten" : "was NOT rewritten",
         ix ? "was rewritten" : "was NOT rewritten", next_open * 1e3);
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

static void phase_get(bench *b)
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
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x.idx[i] = s % b->o.records;
    }
    x.chain = open_chain(b->big, AC_OPEN_READONLY);
    rates q = alternate(lim_pread, lib_get, &x, rounds, (double)x.per);
    double lim = q.lim, lib = q.lib;
    close_chain(x.chain);
    (void)close(x.fd); /* read-only */
    free(x.off);
    free(x.len);
    free(x.idx);
    free(x.buf);
    b->get_s = 1 / lib;
    row *r = add_row("random get (ac_chain_get)", V_INFO);
    fmt_rate(r->rate, sizeof r->rate, lib, "get/s");
    fmt_rate(r->limit, sizeof r->limit, lim, "pread/s");
    set_ratio(r, lib, lim, 0.25);
    cpu_note("random get", q);
    snprintf(r->target, sizeof r->target, ">= 25 %%, >= 250k/s");
    if (lib < 250000)
        r->v = V_FAIL;
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
    note("a read-only handle's get of the newest record, just appended through another handle, "
         "took %.3f ms (random gets average %.4f ms)",
         t * 1e3, b->get_s * 1e3);
}

static void phase_scale(bench *b)
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
    row *r = add_row(op, V_INFO);
    fmt_rate(r->rate, sizeof r->rate, at_big, "rec/s");
    fmt_num(lim, sizeof lim, at1k);
    snprintf(r->limit, sizeof r->limit, "%s rec/s at 1,000", lim);
    set_ratio(r, at_big, at1k, 0.90);
    probe_fresh_get(b);
}

/* ---------------------------------------------------------------- hashing a big file */

/* Runs argv with stdout to /dev/null and stderr to b->dir/cmd.err; seconds. */
static double time_cmd(bench *b, char *const argv[], int *status)
{
    char errpath[PATH_MAX];
    join(errpath, b->dir, "cmd.err");
    (void)fflush(stdout);
    (void)fflush(stderr);
    double t = now_s();
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        g_child = true;
        int out = open("/dev/null", O_WRONLY), err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, status, 0) != pid)
        fatal("waitpid: %s", strerror(errno));
    check_stop();
    return now_s() - t;
}

/* The first line the last command wrote to stderr. */
static void cmd_error(bench *b, char *out, size_t cap)
{
    char errpath[PATH_MAX];
    join(errpath, b->dir, "cmd.err");
    FILE *f = fopen(errpath, "r");
    out[0] = '\0';
    if (f != NULL) {
        if (fgets(out, (int)cap, f) != NULL)
            out[strcspn(out, "\n")] = '\0';
        (void)fclose(f); /* read-only */
    }
}

static void make_file(const char *path, uint64_t bytes)
{
    uint8_t *buf = malloc(CHUNK);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (buf == NULL || fd < 0)
        fatal("%s: %s", path, strerror(errno));
    randombytes_buf(buf, CHUNK);
    for (uint64_t done = 0; done < bytes;) {
        size_t n = bytes - done < CHUNK ? (size_t)(bytes - done) : CHUNK;
        buf[0]++; /* no two chunks alike */
        if (write(fd, buf, n) != (ssize_t)n)
            fatal("%s: write: %s", path, strerror(errno));
        done += n;
        check_stop();
    }
    /* Written back now, so that writeback does not run during the timings. */
    if (fdatasync(fd) != 0 || close(fd) != 0)
        fatal("%s: %s", path, strerror(errno));
    free(buf);
}

typedef struct file_ctx {
    bench *b;
    char *openssl_argv[5];
    char *tool_argv[8];
    int tool_status;   /* the first failing wait status, or 0 */
    unsigned tool_runs;
    uint8_t hash[AC_HASH_SIZE]; /* the file's SHA-256, by the library */
} file_ctx;

static double lim_openssl(void *p, unsigned round)
{
    file_ctx *x = p;
    int st;
    (void)round;
    double t = time_cmd(x->b, x->openssl_argv, &st);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fatal("openssl dgst failed (status %d)", st);
    return t;
}

static double lib_tool(void *p, unsigned round)
{
    file_ctx *x = p;
    int st;
    (void)round;
    double t = time_cmd(x->b, x->tool_argv, &st);
    if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && x->tool_status == 0)
        x->tool_status = st ? st : -1;
    x->tool_runs++;
    return t;
}

static double lib_sha256_file(void *p, unsigned round)
{
    file_ctx *x = p;
    ac_error err;
    (void)round;
    double t = now_s();
    check_ac(ac_sha256_file(x->openssl_argv[3], NULL, NULL, x->hash, &err), &err,
             "ac_sha256_file");
    return now_s() - t;
}

/* Whether the tool did the work it was timed on: one record per run, each
 * naming the file's SHA-256.  Empty when it did, else what is wrong. */
static void check_tool_chain(const char *dir, const file_ctx *x, char *why, size_t cap)
{
    ac_chain *c = open_chain(dir, AC_OPEN_READONLY);
    ac_error err;
    ac_state st;
    ac_record *rec;
    why[0] = '\0';
    if (ac_chain_state(c, &st, &err) != AC_OK || ac_chain_head(c, &rec, &err) != AC_OK) {
        snprintf(why, cap, "its chain cannot be read: %s", err.message);
    } else {
        if (st.record_count != x->tool_runs)
            snprintf(why, cap, "%u runs left %" PRIu64 " records", x->tool_runs,
                     st.record_count);
        else if (memcmp(ac_record_content_hash(rec), x->hash, AC_HASH_SIZE) != 0)
            snprintf(why, cap, "its record does not name the file's SHA-256");
        ac_record_free(rec);
    }
    close_chain(c);
}

static void tool_row(bench *b, file_ctx *x, const char *chain, unsigned rounds, double mb)
{
    char op[64], why[600];
    snprintf(op, sizeof op, "tool append of a %" PRIu64 " MiB file", b->o.file_mb);
    if (access(b->tool, X_OK) != 0) {
        row *r = add_row(op, V_SKIP);
        snprintf(r->rate, sizeof r->rate, "-");
        note("no tool at %s: build it (make) or pass --tool PATH", b->tool);
        return;
    }
    rates q = alternate(lim_openssl, lib_tool, x, rounds, mb);
    row *r = add_row(op, V_INFO);
    fmt_rate(r->rate, sizeof r->rate, q.lib, "MB/s");
    fmt_rate(r->limit, sizeof r->limit, q.lim, "MB/s openssl dgst");
    set_ratio(r, q.lib, q.lim, 0.85);
    if (x->tool_status != 0) {
        cmd_error(b, why, sizeof why);
        r->v = V_FAIL;
        note("the tool failed (wait status %d): %s", x->tool_status, why);
        return;
    }
    check_tool_chain(chain, x, why, sizeof why);
    if (why[0] != '\0') {
        r->v = V_FAIL;
        note("the tool exited 0 but %s", why);
    }
}

static void phase_file(bench *b)
{
    char file[PATH_MAX], chain[PATH_MAX];
    uint64_t bytes = b->o.file_mb << 20;
    double mb = (double)bytes / 1e6;
    fprintf(stderr, "bench: hashing a %" PRIu64 " MiB file\n", b->o.file_mb);
    join(file, b->dir, "big.file");
    join(chain, b->dir, "toolchain");
    make_file(file, bytes);
    if (mkdir(chain, 0700) != 0)
        fatal("%s: %s", chain, strerror(errno));
    file_ctx x = {.b = b,
                  .openssl_argv = {"openssl", "dgst", "-sha256", file, NULL},
                  .tool_argv = {b->tool, "append", "-C", chain, "-k", b->key_path, file, NULL}};
    unsigned rounds = b->o.rounds < 5 ? b->o.rounds : 5;
    /* The library's own file hashing first: it tells the tool's costs from
     * the library's, and gives the hash the tool's records must name. */
    rates q = alternate(lim_openssl, lib_sha256_file, &x, rounds, mb);
    tool_row(b, &x, chain, rounds, mb);
    row *r = add_row("ac_sha256_file of that file", V_INFO);
    fmt_rate(r->rate, sizeof r->rate, q.lib, "MB/s");
    fmt_rate(r->limit, sizeof r->limit, q.lim, "MB/s openssl dgst");
    set_ratio(r, q.lib, q.lim, 0);
    unlink_maybe(file);
}

/* ---------------------------------------------------------------- set-up */

static void usage(FILE *f)
{
    fputs("usage: bench [--records N] [--file-mb N] [--quick] [--dir DIR] [--tool PATH]\n"
          "             [--single N] [--gets N] [--keep] [--markdown]\n"
          "  --records N  records in the big chain (default 1000000; --quick 20000)\n"
          "  --file-mb N  MiB of the file hashed through the tool (default 1024; --quick 64)\n"
          "  --single N   records verified by one thread (default 100000)\n"
          "  --gets N     random gets (default 200000)\n"
          "  --quick      a small, fast run (sizes above, fewer rounds)\n"
          "  --dir DIR    where the temporary directory goes (default $TMPDIR or /var/tmp)\n"
          "  --tool PATH  the attestchain tool (default: ../attestchain beside this program)\n"
          "  --keep       keep the temporary directory\n"
          "  --markdown   print the table in Markdown\n"
          "Exit status: 0 every target met, 1 a target missed, 2 could not run.\n",
          f);
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (s == NULL || errno != 0 || *end != '\0' || v == 0 || s[0] == '-')
        fatal("%s needs a positive number", opt);
    return v;
}

static void set_defaults(opts *o, bool quick)
{
    o->records = quick ? 20000 : 1000000;
    o->file_mb = quick ? 64 : 1024;
    o->single = quick ? 20000 : 100000;
    o->gets = quick ? 20000 : 200000;
    o->rounds = quick ? 3 : 7;
    o->appends = quick ? 50 : 200;
    const char *t = getenv("TMPDIR");
    o->base = t && *t ? t : "/var/tmp";
}

static void parse_args(opts *o, int argc, char **argv)
{
    bool quick = false;
    for (int i = 1; i < argc; i++)
        quick |= strcmp(argv[i], "--quick") == 0;
    set_defaults(o, quick);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0 || strcmp(a, "--keep") == 0 || strcmp(a, "--markdown") == 0) {
            o->keep |= a[2] == 'k';
            o->markdown |= a[2] == 'm';
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (v == NULL) {
            usage(stderr);
            fatal("unknown option or missing value: %s", a);
        }
        i++;
        if (strcmp(a, "--records") == 0)
            o->records = parse_u64(a, v);
        else if (strcmp(a, "--file-mb") == 0 && parse_u64(a, v) > (1u << 20))
            fatal("--file-mb: at most 1048576");
        else if (strcmp(a, "--file-mb") == 0)
            o->file_mb = parse_u64(a, v);
        else if (strcmp(a, "--single") == 0)
            o->single = parse_u64(a, v);
        else if (strcmp(a, "--gets") == 0)
            o->gets = parse_u64(a, v);
        else if (strcmp(a, "--dir") == 0)
            o->base = v;
        else if (strcmp(a, "--tool") == 0)
            o->tool = v;
        else
            fatal("unknown option %s (see --help)", a);
    }
    if (o->records < BATCH)
        fatal("--records: at least %d (appends at that size are the comparison)", BATCH);
}

/* The tool beside this program's directory: build/bench/bench -> build/attestchain. */
static void find_tool(bench *b)
{
    if (b->o.tool != NULL) {
        snprintf(b->tool, sizeof b->tool, "%s", b->o.tool);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        fatal("readlink /proc/self/exe: %s", strerror(errno));
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
    }
    join(b->tool, exe, "attestchain");
}

/* A temporary directory with room for everything this run writes. */
static void make_dir(bench *b)
{
    int n = snprintf(b->dir, sizeof b->dir, "%s/acbench.XXXXXX", b->o.base);
    if (n < 0 || n >= (int)sizeof b->dir || mkdtemp(b->dir) == NULL)
        fatal("cannot create a directory in %s: %s", b->o.base, strerror(errno));
    snprintf(g_dir, sizeof g_dir, "%s", b->dir);
    struct statvfs vfs;
    if (statvfs(b->dir, &vfs) != 0)
        fatal("statvfs %s: %s", b->dir, strerror(errno));
    /* About 420 bytes a frame and 8 an index entry, with room to spare. */
    double need = (double)b->o.records * 600 + (double)(b->o.file_mb << 20) + 256 * MIB;
    double have = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (have < need)
        fatal("%s has %.0f MB free; this run needs about %.0f MB (use --dir or smaller sizes)",
              b->o.base, have / 1e6, need / 1e6);
}

static const char *fs_name(const char *path)
{
    struct statfs s;
    if (statfs(path, &s) != 0)
        return "?";
    switch ((unsigned long)s.f_type) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    default: return "other";
    }
}

static void cpu_model(char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    snprintf(out, cap, "unknown CPU");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            snprintf(out, cap, "%s", colon + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    if (f != NULL)
        (void)fclose(f); /* read-only */
}

static void setup(bench *b)
{
    ac_error err;
    if (sodium_init() < 0)
        fatal("sodium_init failed");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    b->cores = cores > 0 ? (unsigned)cores : 1;
    find_tool(b);
    make_dir(b);
    join(b->key_path, b->dir, "key.pem");
    check_ac(ac_key_generate(&b->key, &err), &err, "key");
    check_ac(ac_key_save(b->key, b->key_path, &err), &err, "save key");
    check_ac(ac_meta_new(&b->meta, &err), &err, "metadata");
    check_ac(ac_meta_set_text(b->meta, "source", "bench", &err), &err, "metadata");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        fatal("sigaction: %s", strerror(errno));
}

/* The 1-minute load average, or -1. */
static double load1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

static void print_header(const bench *b, double load_start)
{
    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    double load_end = load1();
    printf("attestchain %s benchmark: %u online cores (%s), %s in %s\n", AC_VERSION_STRING,
           b->cores, cpu, fs_name(b->dir), b->o.base);
    printf("%" PRIu64 " records of %zu bytes (%.0f MB chain), %" PRIu64
           " MiB file; %u rounds, medians; load average %.2f before, %.2f after\n\n",
           b->o.records, b->frame, (double)b->big_bytes / 1e6, b->o.file_mb, b->o.rounds,
           load_start, load_end);
    /* Other work on the machine takes cores and disk from one side of a
     * ratio more than from the other: say so rather than let it pass. */
    if (load_start > 0.5 || load_end > 1.5)
        note("the machine was busy with other work during this run: the ratios are less "
             "reliable than on an idle machine");
}

int main(int argc, char **argv)
{
    static bench b; /* static: PATH_MAX buffers stay off the stack */
    parse_args(&b.o, argc, argv);
    g_keep = b.o.keep;
    double t0 = now_s(), load_start = load1();
    setup(&b);
    phase_durable(&b);
    phase_batch(&b);
    phase_build(&b);
    phase_verify(&b); /* early, while this process is small: see run_verify */
    phase_open(&b);
    phase_rebuild(&b);
    phase_get(&b);
    phase_scale(&b);
    phase_file(&b);

    print_header(&b, load_start);
    print_table(b.o.markdown);
    bool failed = false;
    for (size_t i = 0; i < g_nrows; i++)
        failed |= g_rows[i].v == V_FAIL;
    printf("\n%s in %.0f s\n", failed ? "some targets MISSED" : "every target met", now_s() - t0);
    ac_key_free(b.key);
    ac_meta_free(b.meta);
    if (fflush(stdout) != 0 || ferror(stdout))
        fatal("cannot write the table: %s", strerror(errno));
    cleanup();
    return failed ? 1 : 0;
}
