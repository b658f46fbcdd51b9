/* ac_writer: appends records through the library, for the crash, power-cut
 * and concurrency tests (tests/e2e/t_crash.py, t_powercut.py, t_concurrency.py).
 *
 *   ac_writer DIR KEYFILE TAG COUNT [BATCH]
 *
 * Appends COUNT records (0: until killed) in batches of BATCH (default 1).
 * Record n of this writer attests SHA-256("TAG:n") with metadata
 * {"writer": TAG, "n": "<n>"}, so a test can tell whose record is where.
 * After each batch is durable it prints one line per record,
 * "<chain_index> <record hash hex>", and flushes: a line on stdout is an
 * acknowledgement, and a record acknowledged must survive any later kill.
 *
 * COUNT "-" reads stdin instead: one record per line read, until EOF, with
 * the handle kept open in between (so a test can interleave other writers
 * with one long-lived handle).
 *
 *   ac_writer DIR KEYFILE --rotate NEWKEYFILE
 *
 * appends one key-rotation record, signed by KEYFILE, handing authority to
 * NEWKEYFILE's key, and prints its line.
 *
 * Exit status: 0 done, 2 a library error (one line on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attestchain.h"

#define MAX_BATCH 4096

typedef struct writer {
    ac_chain *chain;
    ac_key *key;
    const char *tag;
    unsigned long long next_n; /* this writer's record counter */
} writer;

static int fail(const char *what, const ac_error *err)
{
    fprintf(stderr, "ac_writer: %s: %s\n", what, err->message);
    return 2;
}

/* Fills entry e for this writer's record n; the metadata is owned by *meta. */
static int make_entry(writer *w, unsigned long long n, ac_entry *e, ac_meta **meta,
                      ac_error *err)
{
    char content[256], num[32];
    int len = snprintf(content, sizeof content, "%s:%llu", w->tag, n);
    if (len < 0 || (size_t)len >= sizeof content)
        return AC_EINVAL;
    snprintf(num, sizeof num, "%llu", n);
    int rc = ac_sha256(content, (size_t)len, e->content_hash, err);
    if (rc == AC_OK)
        rc = ac_meta_new(meta, err);
    if (rc == AC_OK)
        rc = ac_meta_set_text(*meta, "writer", w->tag, err);
    if (rc == AC_OK)
        rc = ac_meta_set_text(*meta, "n", num, err);
    e->content_type = "application/x-attestchain-test";
    e->metadata = *meta;
    return rc;
}

/* Appends one batch of `k` records and prints them once durable. */
static int append_batch(writer *w, size_t k)
{
    static ac_entry entries[MAX_BATCH];
    static ac_meta *metas[MAX_BATCH];
    static ac_appended out[MAX_BATCH];
    ac_error err = {0};
    int rc = AC_OK;
    size_t made = 0;
    for (; made < k && rc == AC_OK; made++) {
        metas[made] = NULL;
        rc = make_entry(w, w->next_n + made, &entries[made], &metas[made], &err);
    }
    if (rc == AC_OK)
        rc = ac_append_batch(w->chain, w->key, entries, k, out, &err);
    for (size_t i = 0; i < made; i++)
        ac_meta_free(metas[i]);
    if (rc != AC_OK)
        return fail("append", &err);
    w->next_n += k;
    for (size_t i = 0; i < k; i++) {
        char hex[2 * AC_HASH_SIZE + 1];
        ac_hex_encode(out[i].hash, AC_HASH_SIZE, hex);
        if (printf("%llu %s\n", (unsigned long long)out[i].index, hex) < 0)
            return 2;
    }
    return fflush(stdout) == 0 ? 0 : 2;
}

static int run(writer *w, const char *count_arg, size_t batch)
{
    if (strcmp(count_arg, "-") == 0) {
        char line[64];
        while (fgets(line, sizeof line, stdin) != NULL) {
            int rc = append_batch(w, 1);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    char *end;
    unsigned long long count = strtoull(count_arg, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "ac_writer: bad COUNT '%s'\n", count_arg);
        return 2;
    }
    for (unsigned long long done = 0; count == 0 || done < count;) {
        size_t k = batch;
        if (count != 0 && count - done < k)
            k = (size_t)(count - done);
        int rc = append_batch(w, k);
        if (rc != 0)
            return rc;
        done += k;
    }
    return 0;
}

static int rotate(writer *w, const char *new_key_path)
{
    ac_key *nk;
    ac_error err = {0};
    ac_appended out;
    if (ac_key_load(new_key_path, &nk, &err) != AC_OK)
        return fail("new key", &err);
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(nk, pub);
    ac_key_free(nk);
    if (ac_append_rotation(w->chain, w->key, pub, &out, &err) != AC_OK)
        return fail("rotate", &err);
    char hex[2 * AC_HASH_SIZE + 1];
    ac_hex_encode(out.hash, AC_HASH_SIZE, hex);
    printf("%llu %s\n", (unsigned long long)out.index, hex);
    return fflush(stdout) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: ac_writer DIR KEYFILE TAG COUNT|- [BATCH]\n"
                        "       ac_writer DIR KEYFILE --rotate NEWKEYFILE\n");
        return 2;
    }
    size_t batch = 1;
    if (argc == 6) {
        batch = (size_t)strtoul(argv[5], NULL, 10);
        if (batch == 0 || batch > MAX_BATCH) {
            fprintf(stderr, "ac_writer: BATCH must be 1..%d\n", MAX_BATCH);
            return 2;
        }
    }
    writer w = {.tag = argv[3]};
    ac_error err = {0};
    if (ac_key_load(argv[2], &w.key, &err) != AC_OK)
        return fail("key", &err);
    if (ac_chain_open(argv[1], AC_OPEN_CREATE, &w.chain, &err) != AC_OK) {
        ac_key_free(w.key);
        return fail("open", &err);
    }
    int rc = strcmp(argv[3], "--rotate") == 0 ? rotate(&w, argv[4]) : run(&w, argv[4], batch);
    if (ac_chain_close(w.chain, &err) != AC_OK && rc == 0)
        rc = fail("close", &err);
    ac_key_free(w.key);
    return rc;
}
