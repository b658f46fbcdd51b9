/*
 * The attestchain benchmark: what the harness (harness.c) and its phases
 * (phase_*.c, run in order by bench.c) share.
 *
 * Decision: every row of the table is an operation timed next to the limit
 * the machine sets for it, both measured in the same run on the same
 * filesystem, so the ratio means the same on a fast machine and on a slow or
 * noisy one.  A phase builds its fixture, hands its two sides to the
 * harness's alternate() or interleaved() and adds its row; the harness owns
 * everything else (options, timing, the table, failure and cleanup), so that
 * a phase reads as what it measures and against what.
 */
#ifndef BENCH_H
#define BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "attestchain.h"

#define BATCH 1000              /* records per batch append */
#define CHUNK (4u << 20)        /* read size of the limits' file scans */
#define MIB (1024.0 * 1024.0)
#define CONTENT_TYPE "application/octet-stream"
#define MAX_ROUNDS 32
#define EXPORT_ROUNDS 3         /* at most: each writes the chain twice over */
#define MAX_ROWS 32
#define MAX_NOTES 32

/* ---------------------------------------------------------------- the run */

typedef struct opts {
    uint64_t records; /* size of the big chain */
    uint64_t file_mb; /* size of the file hashed through the tool, MiB */
    uint64_t single;  /* records verified by one thread */
    uint64_t gets;    /* random gets (and as many preads) */
    unsigned rounds;  /* rounds of each alternating measurement */
    unsigned appends; /* single appends per round */
    const char *base; /* where the temporary directory goes */
    const char *tool;
    const char *only; /* comma-separated phase names, or NULL: every phase */
    bool keep, markdown;
} opts;

typedef enum verdict { V_PASS, V_FAIL, V_INFO, V_SKIP } verdict;

typedef struct row {
    char op[64], rate[32], limit[48], ratio[16], target[32];
    verdict v;
} row;

/* The table and the notes printed below it, in the order they were added. */
typedef struct table {
    row rows[MAX_ROWS];
    size_t nrows;
    char notes[MAX_NOTES][320];
    size_t nnotes;
} table;

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
    ac_entry entries[BATCH]; /* the next batch to append */
    table t;
} bench;

/* ---------------------------------------------------------------- setup.c */

/* Options, the temporary directory, the key; exits on --help or a bad option. */
void bench_start(bench *b, int argc, char **argv);
/* Whether --only lets the named phase run (every phase without --only). */
bool phase_wanted(const bench *b, const char *name);
/* Prints the header and the table; returns the exit status (0 or 1). */
int bench_finish(bench *b, double t0, double load_start);
double load1(void); /* the 1-minute load average, or -1 */

/* ---------------------------------------------------------------- harness.c */

/* The directory fatal() removes (unless keep); SIGINT and SIGTERM stop the
 * run at the next check_stop(). */
void harness_init(const char *dir, bool keep);
void cleanup(void); /* removes the directory now (unless keep) */
/* Failure: prints, removes the temporary directory (unless --keep), exits 2
 * (3 in a forked child, which never removes anything). */
__attribute__((format(printf, 1, 2), noreturn)) void fatal(const char *fmt, ...);
void check_ac(int rc, const ac_error *err, const char *what);
void check_stop(void); /* exits cleanly after SIGINT or SIGTERM */
void enter_child(void); /* in a forked child: fatal() exits 3, cleans nothing */

void join(char *out, const char *a, const char *b);
void unlink_maybe(const char *path);
bool file_exists(const char *dir, const char *name);
uint64_t file_size(const char *path);
void remove_tree(const char *path); /* rm -r (nothing if absent), reporting what it cannot */

/* Timing. */
double now_s(void);
double median(double *v, size_t n);

/* One round of a measurement: does its work and returns the seconds it took. */
typedef double (*round_fn)(void *ctx, unsigned round);

/* Work per second of an operation and of its limit, by the wall clock and
 * per second of this process's CPU time (which other work on the machine
 * cannot take away, so it isolates the library's own cost). */
typedef struct rates {
    double lim, lib, lim_cpu, lib_cpu;
} rates;

/* Rates of an operation and of its limit, `work` units per round, measured
 * in alternating rounds after one warm-up round of each; medians. */
rates alternate(round_fn lim, round_fn lib, void *ctx, unsigned rounds, double work);

/* One operation of a measurement that alternates operation by operation. */
typedef void (*op_fn)(void *ctx);

/* For operations that wait on the disk: the two sides alternate one
 * operation at a time; n per round; medians (no CPU rates). */
rates interleaved(op_fn lim, op_fn lib, void *ctx, unsigned rounds, unsigned n);

/* The limit of a rebuild from chain.bin: the file read whole and hashed with
 * SHA-256, through buf (CHUNK bytes).  lim_read_hash is a round_fn whose ctx
 * begins with a read_hash. */
typedef struct read_hash {
    char path[PATH_MAX];
    uint8_t *buf;
} read_hash;
/* The limit over chain_dir/chain.bin; its buffer goes with read_hash_free. */
void read_hash_init(read_hash *l, const char *chain_dir);
void read_hash_free(read_hash *l);
double lim_read_hash(void *ctx, unsigned round);

/* The table. */
void print_table(const table *t, bool markdown);
row *add_row(bench *b, const char *op, verdict v);
__attribute__((format(printf, 2, 3))) void note(bench *b, const char *fmt, ...);
void fmt_num(char *out, size_t cap, double v);
void fmt_rate(char *out, size_t cap, double v, const char *unit);
/* Fills the ratio columns: rate / limit against a minimum ratio (0: none). */
void set_ratio(row *r, double rate, double limit, double target);
/* A row of a rate in `unit` against a limit in `limit_unit`. */
row *ratio_row(bench *b, const char *op, double rate, const char *unit, double limit,
               const char *limit_unit, double target);
/* The ratio per CPU-second of a CPU-bound row, as a note. */
void cpu_note(bench *b, const char *what, rates q);

/* Chains and entries. */
ac_chain *open_chain(const char *dir, unsigned flags);
void close_chain(ac_chain *c);
void append_batches(bench *b, ac_chain *c, uint64_t n);
void append_one(bench *b, ac_chain *c);
/* A new chain of n records in b->dir/name; its path in `path`. */
ac_chain *new_chain(bench *b, const char *name, uint64_t n, char *path);

/* ---------------------------------------------------------------- the phases */

/* b->frame and b->canon, from a chain of this run's records. */
void learn_frame_size(bench *b, ac_chain *c);
void phase_durable(bench *b);      /* phase_append.c */
void phase_batch(bench *b);
void phase_scale(bench *b);
void phase_build(bench *b);        /* phase_read.c */
void phase_open(bench *b);
void phase_rebuild(bench *b);
void phase_get(bench *b);
void phase_verify(bench *b);       /* phase_verify.c */
void phase_tree_append(bench *b);  /* phase_tree.c */
void phase_export(bench *b);
void phase_tree_rebuild(bench *b);
void phase_file(bench *b);         /* phase_file.c */

#endif
