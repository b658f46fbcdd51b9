/*
 * The benchmark's harness: failure and cleanup, timing, the table, and the
 * chain helpers every phase uses (setup.c reads the options and makes the
 * run's directory and key).
 *
 * Decision: timing treats the machine as noisy.  CLOCK_MONOTONIC; a warm-up
 * before each measurement; short measurements repeated in rounds that
 * alternate with their limit (swapping which side goes first, so drift and
 * noise hit both alike; operations that wait on the disk alternate one by
 * one) and summarised by the median; CPU-bound rows also report their ratio
 * per CPU-second, which other work on the machine cannot distort.
 * Everything runs warm: the files are in the page cache, as on a machine
 * that just wrote them.
 *
 * The only globals are the run's cleanup state and the signal flag: fatal()
 * and the signal handler must reach them from anywhere, including forked
 * children, which must never remove the directory their parent still uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bench.h"

/* ---------------------------------------------------------------- failure and cleanup */

static struct {
    char dir[PATH_MAX]; /* removed on exit unless --keep */
    bool keep, child;
} g_run;
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

void remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 && errno == ENOENT)
        return;
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "bench: cannot remove %s: %s\n", path, strerror(errno));
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1; /* the next check_stop cleans up and exits */
}

void harness_init(const char *dir, bool keep)
{
    snprintf(g_run.dir, sizeof g_run.dir, "%s", dir);
    g_run.keep = keep;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        fatal("sigaction: %s", strerror(errno));
}

void cleanup(void)
{
    if (g_run.child || g_run.dir[0] == '\0')
        return;
    if (g_run.keep)
        fprintf(stderr, "bench: kept %s\n", g_run.dir);
    else
        remove_tree(g_run.dir);
    g_run.dir[0] = '\0';
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (g_run.child)
        _exit(3);
    cleanup();
    exit(2);
}

void enter_child(void)
{
    g_run.child = true;
}

void check_ac(int rc, const ac_error *err, const char *what)
{
    if (rc != AC_OK)
        fatal("%s: %s (%s)", what, err->message, ac_strerror(rc));
}

void check_stop(void)
{
    if (g_stop)
        fatal("interrupted");
}

void join(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
    if (n < 0 || n >= PATH_MAX)
        fatal("path too long: %s/%s", a, b);
}

void unlink_maybe(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        fatal("cannot remove %s: %s", path, strerror(errno));
}

bool file_exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat sb;
    join(p, dir, name);
    return stat(p, &sb) == 0;
}

uint64_t file_size(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        fatal("cannot stat %s: %s", path, strerror(errno));
    return (uint64_t)sb.st_size;
}

/* ---------------------------------------------------------------- timing */

double now_s(void)
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

double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

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

rates alternate(round_fn lim, round_fn lib, void *ctx, unsigned rounds, double work)
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

/* Other processes' syncs come in bursts that can fill a whole round, so the
 * two sides alternate one operation at a time and each round sums their
 * times.  Rates: n per summed seconds, median of the rounds, after a warm-up
 * of 10 each. */
rates interleaved(op_fn lim, op_fn lib, void *ctx, unsigned rounds, unsigned n)
{
    double a[MAX_ROUNDS], b[MAX_ROUNDS];
    if (rounds > MAX_ROUNDS)
        rounds = MAX_ROUNDS;
    for (int i = 0; i < 10; i++) {
        lim(ctx);
        lib(ctx);
    }
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

void read_hash_init(read_hash *l, const char *chain_dir)
{
    l->buf = malloc(CHUNK);
    if (l->buf == NULL)
        fatal("out of memory");
    join(l->path, chain_dir, "chain.bin");
}

void read_hash_free(read_hash *l)
{
    free(l->buf);
    l->buf = NULL;
}

double lim_read_hash(void *p, unsigned round)
{
    const read_hash *x = p;
    const char *path = x->path;
    uint8_t *buf = x->buf, md[EVP_MAX_MD_SIZE];
    unsigned mdlen;
    (void)round;
    double t = now_s();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (fd < 0 || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        fatal("%s: cannot hash", path);
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && EVP_DigestUpdate(ctx, buf, (size_t)n) != 1))
            fatal("%s: read or hash failed", path);
        if (n == 0)
            break;
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        fatal("SHA-256 failed");
    EVP_MD_CTX_free(ctx);
    (void)close(fd); /* read-only */
    return now_s() - t;
}

/* ---------------------------------------------------------------- the table */

row *add_row(bench *b, const char *op, verdict v)
{
    table *t = &b->t;
    if (t->nrows == MAX_ROWS)
        fatal("too many rows");
    row *r = &t->rows[t->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->op, sizeof r->op, "%s", op);
    r->v = v;
    return r;
}

void note(bench *b, const char *fmt, ...)
{
    table *t = &b->t;
    if (t->nnotes == MAX_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->notes[t->nnotes++], sizeof t->notes[0], fmt, ap);
    va_end(ap);
}

/* 1234567.8 as "1,234,568"; below 100 with decimals. */
void fmt_num(char *out, size_t cap, double v)
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

void fmt_rate(char *out, size_t cap, double v, const char *unit)
{
    char num[32];
    fmt_num(num, sizeof num, v);
    snprintf(out, cap, "%s %s", num, unit);
}

void set_ratio(row *r, double rate, double limit, double target)
{
    double q = limit > 0 ? rate / limit : 0;
    snprintf(r->ratio, sizeof r->ratio, "%.1f %%", 100 * q);
    if (target > 0) {
        snprintf(r->target, sizeof r->target, ">= %.0f %%", 100 * target);
        r->v = q >= target ? V_PASS : V_FAIL;
    }
}

row *ratio_row(bench *b, const char *op, double rate, const char *unit, double limit,
               const char *limit_unit, double target)
{
    row *r = add_row(b, op, V_INFO);
    fmt_rate(r->rate, sizeof r->rate, rate, unit);
    fmt_rate(r->limit, sizeof r->limit, limit, limit_unit);
    set_ratio(r, rate, limit, target);
    return r;
}

void cpu_note(bench *b, const char *what, rates q)
{
    if (q.lim_cpu > 0)
        note(b, "%s per CPU-second: %.1f %% of its limit (%.0f against %.0f)", what,
             100 * q.lib_cpu / q.lim_cpu, q.lib_cpu, q.lim_cpu);
}

static const char *verdict_name(verdict v)
{
    static const char *const names[] = {"PASS", "FAIL", "info", "skip"};
    return names[v];
}

void print_table(const table *t, bool markdown)
{
    static const char *const head[6] = {"operation", "rate", "limit (same run)", "ratio",
                                        "target", "result"};
    if (markdown) {
        printf("| %s | %s | %s | %s | %s | %s |\n|---|--:|--:|--:|---|---|\n", head[0], head[1],
               head[2], head[3], head[4], head[5]);
        for (size_t i = 0; i < t->nrows; i++) {
            const row *r = &t->rows[i];
            printf("| %s | %s | %s | %s | %s | %s |\n", r->op, r->rate, r->limit, r->ratio,
                   r->target, verdict_name(r->v));
        }
    } else {
        printf("%-36s %18s %32s %8s  %-22s %s\n", head[0], head[1], head[2], head[3], head[4],
               head[5]);
        for (size_t i = 0; i < t->nrows; i++) {
            const row *r = &t->rows[i];
            printf("%-36s %18s %32s %8s  %-22s %s\n", r->op, r->rate, r->limit, r->ratio,
                   r->target, verdict_name(r->v));
        }
    }
    if (t->nnotes > 0)
        printf("\n");
    for (size_t i = 0; i < t->nnotes; i++)
        printf("%s%s\n", markdown ? "- " : "  * ", t->notes[i]);
}

/* ---------------------------------------------------------------- chains and entries */

/* The next n entries, each naming different content. */
static void fill_entries(bench *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ac_entry *e = &b->entries[i];
        uint64_t s = b->seq++;
        memset(e->content_hash, 0x5a, AC_HASH_SIZE);
        memcpy(e->content_hash, &s, sizeof s);
        e->content_type = CONTENT_TYPE;
        e->metadata = b->meta;
    }
}

ac_chain *open_chain(const char *dir, unsigned flags)
{
    ac_chain *c;
    ac_error err;
    check_ac(ac_chain_open(dir, flags, &c, &err), &err, dir);
    return c;
}

void close_chain(ac_chain *c)
{
    ac_error err;
    check_ac(ac_chain_close(c, &err), &err, "close");
}

void append_batches(bench *b, ac_chain *c, uint64_t n)
{
    ac_error err;
    while (n > 0) {
        size_t k = n < BATCH ? (size_t)n : BATCH;
        fill_entries(b, k);
        check_ac(ac_append_batch(c, b->key, b->entries, k, NULL, &err), &err, "batch append");
        n -= k;
        check_stop();
    }
}

ac_chain *new_chain(bench *b, const char *name, uint64_t n, char *path)
{
    join(path, b->dir, name);
    ac_chain *c = open_chain(path, AC_OPEN_CREATE);
    append_batches(b, c, n);
    return c;
}

void append_one(bench *b, ac_chain *c)
{
    ac_error err;
    fill_entries(b, 1);
    check_ac(ac_append(c, b->key, b->entries, NULL, &err), &err, "append");
}
