/*
 * Benchmark rows of evidence that travels (issue 8), each next to its limit
 * measured in the same run, one core:
 *
 *   inclusion proofs at 1,000,000 records   ac_merkle_prove_record through an
 *       in-memory stored-hash store, random indices; target >= 100,000/s.
 *       Shown next to the rate of SHA-256 node hashes (the work a proof does
 *       besides its O(log N) reads).
 *   proofs checked through the library      ac_proof_verify of a .tlog-proof
 *       of a real record in a tree of 1,000,000 (parse, decode, checkpoint
 *       signature, inclusion, record signature); target >= 40 % of half the
 *       one-core Ed25519 verify rate (each proof costs two verifications).
 *
 *   bench_tlog [--quick]
 *
 * Method: CLOCK_MONOTONIC, one warm-up round of each side, then rounds that
 * alternate the operation and its limit (swapping which goes first), medians.
 * Exit status 0 when both targets are met, 1 when one is missed, 2 when the
 * benchmark could not run.  Kept apart from bench.c so that it can be merged
 * into its table as two rows.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "attestchain.h"

#define TREE_SIZE 1000000u
#define ROUNDS 7
#define PROOF_TARGET 100000.0 /* inclusion proofs per second */
#define VERIFY_SHARE 0.40     /* of half the Ed25519 verify rate */

typedef uint8_t hash_t[AC_HASH_SIZE];

static void fatal(const char *what, const ac_error *err)
{
    fprintf(stderr, "bench_tlog: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Operations per second of a side: runs `n` operations, returns seconds. */
typedef double (*side_fn)(void *ctx, unsigned n);

/* Medians of alternating rounds of the operation and its limit. */
static void alternate(side_fn op, side_fn lim, void *ctx, unsigned n_op, unsigned n_lim,
                      unsigned rounds, double *op_rate, double *lim_rate)
{
    double a[ROUNDS], b[ROUNDS];
    (void)op(ctx, n_op / 10 + 1);
    (void)lim(ctx, n_lim / 10 + 1);
    for (unsigned r = 0; r < rounds; r++) {
        if (r % 2) {
            a[r] = n_op / op(ctx, n_op);
            b[r] = n_lim / lim(ctx, n_lim);
        } else {
            b[r] = n_lim / lim(ctx, n_lim);
            a[r] = n_op / op(ctx, n_op);
        }
    }
    qsort(a, rounds, sizeof a[0], cmp_double);
    qsort(b, rounds, sizeof b[0], cmp_double);
    *op_rate = a[rounds / 2];
    *lim_rate = b[rounds / 2];
}

/* ---------------------------------------------------------------- fixture */

typedef struct fixture {
    ac_merkle_mem *tree;
    uint64_t rng;
    char *proof; /* a .tlog-proof of record 0 in the tree of TREE_SIZE */
    size_t proof_len;
    ac_vkey *vkey;
    uint8_t msg[512]; /* a record-sized message and its signature, for the limit */
    uint8_t sig[64], pub[32], lim_pub[32];
} fixture;

static uint64_t next_rand(fixture *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return f->rng;
}

/* A chain of one record in a temporary directory: its frame body. */
static uint8_t *one_record(const ac_key *key, size_t *len)
{
    char dir[] = "/tmp/ac-bench-tlog-XXXXXX";
    if (mkdtemp(dir) == NULL)
        fatal("mkdtemp", NULL);
    ac_chain *c;
    ac_error err;
    ac_entry e = {.content_type = "image/jpeg"};
    memset(e.content_hash, 0x11, sizeof e.content_hash);
    ac_record *r;
    if (ac_chain_open(dir, AC_OPEN_CREATE, &c, &err) != AC_OK ||
        ac_append(c, key, &e, NULL, &err) != AC_OK || ac_chain_get(c, 0, &r, &err) != AC_OK)
        fatal("making a record", &err);
    const uint8_t *b = ac_record_bytes(r, len);
    uint8_t *copy = malloc(*len);
    if (copy == NULL)
        fatal("out of memory", NULL);
    memcpy(copy, b, *len);
    ac_record_free(r);
    ac_chain_close(c, NULL);
    char path[64];
    const char *files[] = {"chain.bin", "state.cbor", "index.bin"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
    return copy;
}

static void setup(fixture *f)
{
    ac_error err;
    ac_key *key;
    if (ac_key_generate(&key, &err) != AC_OK || ac_merkle_mem_new(&f->tree, &err) != AC_OK)
        fatal("setup", &err);
    size_t rlen;
    uint8_t *rec = one_record(key, &rlen);
    if (ac_merkle_mem_append(f->tree, rec, rlen, &err) != AC_OK)
        fatal("tree", &err);
    for (uint32_t i = 1; i < TREE_SIZE; i++) {
        hash_t leaf;
        memset(leaf, 0, sizeof leaf);
        memcpy(leaf, &i, sizeof i);
        if (ac_merkle_mem_append_leaf(f->tree, leaf, &err) != AC_OK)
            fatal("tree", &err);
    }
    hash_t root, proof[AC_MERKLE_MAX_PROOF];
    size_t n, cplen;
    char *cp;
    ac_key_pubkey(key, f->pub);
    if (ac_merkle_tree_hash(TREE_SIZE, ac_merkle_mem_read, f->tree, root, &err) != AC_OK ||
        ac_merkle_prove_record(0, TREE_SIZE, ac_merkle_mem_read, f->tree, proof, &n, &err) != AC_OK ||
        ac_checkpoint_sign("example.org/bench", TREE_SIZE, root, key, &cp, &cplen, &err) != AC_OK ||
        ac_proof_write(0, rec, rlen, (const hash_t *)proof, n, (const uint8_t *)cp, cplen,
                       &f->proof, &f->proof_len, &err) != AC_OK ||
        ac_vkey_new("example.org/bench", AC_VKEY_ED25519, f->pub, &f->vkey, &err) != AC_OK)
        fatal("proof", &err);
    /* The limit: a valid signature on a record-sized message (an invalid
     * one can be refused early, which would flatter the limit). */
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    memcpy(f->msg, rec, rlen < sizeof f->msg ? rlen : sizeof f->msg);
    if (crypto_sign_keypair(f->lim_pub, sk) != 0 ||
        crypto_sign_detached(f->sig, NULL, f->msg, sizeof f->msg, sk) != 0)
        fatal("libsodium signing", NULL);
    sodium_memzero(sk, sizeof sk);
    ac_free(cp);
    free(rec);
    ac_key_free(key);
    f->rng = 0x9e3779b97f4a7c15u;
}

/* ---------------------------------------------------------------- sides */

static double prove_side(void *ctx, unsigned n)
{
    fixture *f = ctx;
    hash_t proof[AC_MERKLE_MAX_PROOF];
    size_t k;
    ac_error err;
    double t = now_s();
    for (unsigned i = 0; i < n; i++)
        if (ac_merkle_prove_record(next_rand(f) % TREE_SIZE, TREE_SIZE, ac_merkle_mem_read,
                                   f->tree, proof, &k, &err) != AC_OK)
            fatal("prove", &err);
    return now_s() - t;
}

static double node_hash_side(void *ctx, unsigned n)
{
    (void)ctx;
    hash_t a = {1}, b = {2};
    ac_error err;
    double t = now_s();
    for (unsigned i = 0; i < n; i++)
        if (ac_merkle_node_hash(a, b, a, &err) != AC_OK)
            fatal("node hash", &err);
    return now_s() - t;
}

static double verify_proof_side(void *ctx, unsigned n)
{
    fixture *f = ctx;
    const ac_vkey *keys[1] = {f->vkey};
    ac_proof_policy pol = {.log_keys = keys, .n_log_keys = 1};
    ac_error err;
    double t = now_s();
    for (unsigned i = 0; i < n; i++) {
        ac_proof_result *r;
        if (ac_proof_verify((const uint8_t *)f->proof, f->proof_len, &pol, &r, &err) != AC_OK)
            fatal("verify proof", &err);
        if (!ac_proof_result_valid(r))
            fatal(ac_proof_result_detail(r), NULL);
        ac_proof_result_free(r);
    }
    return now_s() - t;
}

static double ed25519_side(void *ctx, unsigned n)
{
    fixture *f = ctx;
    double t = now_s();
    for (unsigned i = 0; i < n; i++)
        if (crypto_sign_verify_detached(f->sig, f->msg, sizeof f->msg, f->lim_pub) != 0)
            fatal("the limit's signature does not verify", NULL);
    return now_s() - t;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (argc > 2 || (argc == 2 && !quick)) {
        fprintf(stderr, "usage: bench_tlog [--quick]\n");
        return 2;
    }
    if (sodium_init() < 0)
        fatal("libsodium", NULL);
    fixture f = {0};
    double t0 = now_s();
    setup(&f);
    printf("bench_tlog: a tree of %u records built in %.1f s\n", TREE_SIZE, now_s() - t0);
    unsigned rounds = quick ? 3 : ROUNDS;
    double proofs, hashes, checked, ed;
    alternate(prove_side, node_hash_side, &f, quick ? 20000 : 100000, quick ? 200000 : 1000000,
              rounds, &proofs, &hashes);
    alternate(verify_proof_side, ed25519_side, &f, quick ? 1000 : 5000, quick ? 2000 : 10000,
              rounds, &checked, &ed);
    double want = VERIFY_SHARE * ed / 2;
    bool ok1 = proofs >= PROOF_TARGET, ok2 = checked >= want;
    printf("%-40s %14s %34s %8s  %s\n", "operation", "rate", "limit (same run)", "ratio",
           "target");
    printf("%-40s %12.0f/s %20.0f node hashes/s %7.2fx  >= %.0f/s %s\n",
           "inclusion proof at 1,000,000 records", proofs, hashes, proofs / PROOF_TARGET,
           PROOF_TARGET, ok1 ? "PASS" : "FAIL");
    printf("%-40s %12.0f/s %18.0f Ed25519 verify/s %6.0f %%  >= %.0f %% of half %s\n",
           "proof checked (ac_proof_verify)", checked, ed, 100 * checked / (ed / 2),
           100 * VERIFY_SHARE, ok2 ? "PASS" : "FAIL");
    ac_merkle_mem_free(f.tree);
    ac_vkey_free(f.vkey);
    ac_free(f.proof);
    return ok1 && ok2 ? 0 : 1;
}
