/*
 * Verification of the big chain, with every core and with one, against
 * libsodium's own Ed25519 verify rate on messages of the records' size.
 *
 * Decision: each verification runs in a forked child, so that its peak
 * resident memory (getrusage ru_maxrss) counts only what verification
 * allocates, not what earlier phases left in this process; and the limit is
 * measured around each long run (before, between, after), so that load that
 * comes and goes weighs on both sides alike.  Bare verification on every
 * core at once is measured too, to tell a busy or throttled machine from a
 * slow library.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

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
        enter_child();
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
    row *r = add_row(b, op, V_INFO);
    fmt_rate(r->rate, sizeof r->rate, rate, "rec/s");
    fmt_num(lim, sizeof lim, one);
    snprintf(r->limit, sizeof r->limit, "%u x %s verify/s", b->cores, lim);
    set_ratio(r, rate, one * b->cores, 0.80);

    r = add_row(b, "verify, peak resident memory", peak_kib < 64 * 1024 ? V_PASS : V_FAIL);
    snprintf(r->rate, sizeof r->rate, "%.1f MiB", (double)peak_kib / 1024);
    snprintf(r->target, sizeof r->target, "< 64 MiB");

    snprintf(op, sizeof op, "verify, 1 thread (%" PRIu64 " rec)", single->records);
    ratio_row(b, op, rate1, "rec/s", one, "verify/s", 0);
    note(b, "verify: %u threads of bare crypto_sign_verify_detached manage %.0f/s together "
            "(%.0f %% of %u x one core), so the library reaches %.1f %% of what the cores "
         "delivered",
         b->cores, par, 100 * par / (one * b->cores), b->cores, 100 * rate / par);
}

void phase_verify(bench *b)
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
    note(b, "verify per CPU-second: %.0f records with %u threads (%.1f cores busy on average), "
         "%.0f with 1, against %.0f bare verifies: %.1f %% and %.1f %%",
         all.records / all.cpu_secs, b->cores, all.cpu_secs / all.secs,
         single.records / single.cpu_secs, one_cpu, 100 * all.records / all.cpu_secs / one_cpu,
         100 * single.records / single.cpu_secs / one_cpu);
    note(b, "verify: %" PRIu64 " records in %.2f s with %u threads, %" PRIu64
         " in %.2f s with 1; peak RSS %.1f MiB and %.1f MiB (each counts the %.1f MiB the "
         "benchmark held when it forked)",
         all.records, all.secs, b->cores, single.records, single.secs, (double)peak_kib / 1024,
         (double)peak1_kib / 1024, (double)parent_kib / 1024);
}
