/* ac_reader: reads a chain through the library, for the durability tests.
 *
 *   ac_reader verify DIR        one JSON line, as `attestchain verify --json`:
 *                               {"valid":..,"records":..,"index":..,"reason":..,
 *                                "torn":<torn tail bytes or 0>,"warnings":N}
 *                               exit 0 valid, 1 invalid, 2 error
 *   ac_reader log DIR           "<index> <record hash> <content hash>" a line
 *   ac_reader index DIR         opens read-write and gets the head record by
 *                               index, which writes index.bin (a snapshot of
 *                               it is one of the power-cut test's inputs)
 *   ac_reader get DIR           one handle (read-write, so it keeps index.bin)
 *                               kept open: for each index read on stdin,
 *                               prints "<index> <record hash>" or
 *                               "ERR <message>", flushed
 *   ac_reader watch DIR STOP    until the file STOP exists: open (alternately
 *                               read-only and read-write), verify, walk every
 *                               record checking index and link, get() a few
 *                               records at random, close.  Any error, invalid
 *                               verdict or broken link ends it with exit 1
 *                               and one line on stderr; otherwise it prints
 *                               "rounds=R records=N torn=T" and exits 0.
 *
 * The watcher is the library's side of "no reader ever errs on a frame that
 * is still being written" (t_concurrency.py). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attestchain.h"

static int fail(const char *what, const ac_error *err)
{
    fprintf(stderr, "ac_reader: %s: %s\n", what, err->message);
    return 2;
}

/* The torn-tail bytes the report mentions, or 0. */
static uint64_t torn_bytes(const ac_report *rep)
{
    for (size_t i = 0; i < ac_report_warning_count(rep); i++) {
        const ac_warning *w = ac_report_warning(rep, i);
        if (w->code == AC_WARN_TORN_TAIL)
            return w->bytes;
    }
    return 0;
}

static int cmd_verify(const char *dir)
{
    ac_chain *c;
    ac_report *rep;
    ac_error err = {0};
    ac_verify_options opt;
    if (ac_chain_open(dir, AC_OPEN_READONLY, &c, &err) != AC_OK)
        return fail("open", &err);
    ac_verify_options_init(&opt);
    if (ac_verify(c, &opt, &rep, &err) != AC_OK) {
        ac_chain_close(c, NULL);
        return fail("verify", &err);
    }
    int valid = ac_report_valid(rep);
    int64_t idx = ac_report_fail_index(rep);
    char index_text[32] = "null";
    if (idx >= 0)
        snprintf(index_text, sizeof index_text, "%" PRId64, idx);
    printf("{\"valid\": %s, \"records\": %" PRIu64 ", \"index\": %s, \"reason\": \"%s\", "
           "\"torn\": %" PRIu64 ", \"warnings\": %zu}\n",
           valid ? "true" : "false", ac_report_records(rep), index_text,
           ac_reason_name(ac_report_reason(rep)), torn_bytes(rep), ac_report_warning_count(rep));
    ac_report_free(rep);
    ac_chain_close(c, NULL);
    if (fflush(stdout) != 0)
        return 2;
    return valid ? 0 : 1;
}

static int cmd_log(const char *dir)
{
    ac_chain *c;
    ac_iter *it;
    ac_record *r;
    ac_error err = {0};
    if (ac_chain_open(dir, AC_OPEN_READONLY, &c, &err) != AC_OK)
        return fail("open", &err);
    if (ac_iter_open(c, 0, UINT64_MAX, &it, &err) != AC_OK) {
        ac_chain_close(c, NULL);
        return fail("iterate", &err);
    }
    int rc;
    while ((rc = ac_iter_next(it, &r, &err)) == 1) {
        char h[2 * AC_HASH_SIZE + 1], ch[2 * AC_HASH_SIZE + 1];
        ac_hex_encode(ac_record_hash(r), AC_HASH_SIZE, h);
        ac_hex_encode(ac_record_content_hash(r), AC_HASH_SIZE, ch);
        printf("%" PRIu64 " %s %s\n", ac_record_index(r), h, ch);
        ac_record_free(r);
    }
    ac_iter_free(it);
    ac_chain_close(c, NULL);
    if (rc < 0)
        return fail("iterate", &err);
    return fflush(stdout) == 0 ? 0 : 2;
}

static int cmd_index(const char *dir)
{
    ac_chain *c;
    ac_record *r;
    ac_error err = {0};
    if (ac_chain_open(dir, 0, &c, &err) != AC_OK)
        return fail("open", &err);
    int rc = ac_chain_is_empty(c, &err);
    if (rc == 0) {
        ac_state st;
        rc = ac_chain_state(c, &st, &err);
        if (rc == AC_OK)
            rc = ac_chain_get(c, st.head_index, &r, &err);
        if (rc == AC_OK)
            ac_record_free(r);
    }
    ac_chain_close(c, NULL);
    return rc < 0 ? fail("get", &err) : 0;
}

static int cmd_get(const char *dir)
{
    ac_chain *c;
    ac_error err = {0};
    char line[64];
    if (ac_chain_open(dir, 0, &c, &err) != AC_OK)
        return fail("open", &err);
    while (fgets(line, sizeof line, stdin) != NULL) {
        uint64_t i = strtoull(line, NULL, 10);
        ac_record *r;
        if (ac_chain_get(c, i, &r, &err) != AC_OK) {
            printf("ERR %s\n", err.message);
        } else {
            char h[2 * AC_HASH_SIZE + 1];
            ac_hex_encode(ac_record_hash(r), AC_HASH_SIZE, h);
            printf("%" PRIu64 " %s\n", ac_record_index(r), h);
            ac_record_free(r);
        }
        if (fflush(stdout) != 0)
            break;
    }
    ac_chain_close(c, NULL);
    return 0;
}

/* Walks records 0..head: each at its position and linked to the one before. */
static int walk(ac_chain *c, uint64_t *count, ac_error *err)
{
    ac_iter *it;
    ac_record *r;
    uint8_t prev[AC_HASH_SIZE] = {0};
    int rc = ac_iter_open(c, 0, UINT64_MAX, &it, err);
    if (rc != AC_OK)
        return rc;
    uint64_t n = 0;
    while ((rc = ac_iter_next(it, &r, err)) == 1) {
        int bad = ac_record_index(r) != n || memcmp(ac_record_prev_hash(r), prev, AC_HASH_SIZE) != 0;
        memcpy(prev, ac_record_hash(r), AC_HASH_SIZE);
        ac_record_free(r);
        if (bad) {
            snprintf(err->message, sizeof err->message, "record %" PRIu64 ": wrong index or link", n);
            rc = AC_ECORRUPT;
            break;
        }
        n++;
    }
    ac_iter_free(it);
    *count = n;
    return rc < 0 ? rc : AC_OK;
}

/* get() of a few records at random: each must be the record at its index. */
static int spot_check(ac_chain *c, uint64_t count, ac_error *err)
{
    for (int k = 0; k < 4 && count > 0; k++) {
        uint64_t i = (uint64_t)rand() % count;
        ac_record *r;
        int rc = ac_chain_get(c, i, &r, err);
        if (rc != AC_OK)
            return rc;
        int bad = ac_record_index(r) != i;
        ac_record_free(r);
        if (bad) {
            snprintf(err->message, sizeof err->message, "get(%" PRIu64 ") returned another record", i);
            return AC_ECORRUPT;
        }
    }
    return AC_OK;
}

/* One reader round on a fresh handle. */
static int watch_round(const char *dir, unsigned flags, uint64_t *records, uint64_t *torn,
                       ac_error *err)
{
    ac_chain *c;
    ac_report *rep = NULL;
    ac_verify_options opt;
    int rc = ac_chain_open(dir, flags, &c, err);
    if (rc != AC_OK)
        return rc;
    ac_verify_options_init(&opt);
    rc = ac_verify(c, &opt, &rep, err);
    if (rc == AC_ENOTFOUND) { /* no chain.bin yet: the writers have not begun */
        ac_chain_close(c, NULL);
        return AC_OK;
    }
    if (rc == AC_OK && !ac_report_valid(rep)) {
        snprintf(err->message, sizeof err->message, "verify: invalid at record %" PRId64 " (%s): %s",
                 ac_report_fail_index(rep), ac_reason_name(ac_report_reason(rep)),
                 ac_report_detail(rep));
        rc = AC_ECORRUPT;
    }
    if (rc == AC_OK && torn_bytes(rep) > 0)
        (*torn)++;
    ac_report_free(rep);
    if (rc == AC_OK)
        rc = walk(c, records, err);
    if (rc == AC_OK)
        rc = spot_check(c, *records, err);
    ac_chain_close(c, NULL);
    return rc;
}

static int cmd_watch(const char *dir, const char *stop)
{
    uint64_t rounds = 0, records = 0, torn = 0;
    srand((unsigned)getpid());
    while (access(stop, F_OK) != 0) {
        ac_error err = {0};
        /* Read-write handles also write index.bin, racing the writers. */
        unsigned flags = rounds % 2 ? 0 : AC_OPEN_READONLY;
        if (watch_round(dir, flags, &records, &torn, &err) != AC_OK) {
            fprintf(stderr, "ac_reader: watch round %" PRIu64 " (%s): %s\n", rounds,
                    flags ? "read-only" : "read-write", err.message);
            return 1;
        }
        rounds++;
    }
    printf("rounds=%" PRIu64 " records=%" PRIu64 " torn=%" PRIu64 "\n", rounds, records, torn);
    return fflush(stdout) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argv[2]);
    if (argc == 3 && strcmp(argv[1], "log") == 0)
        return cmd_log(argv[2]);
    if (argc == 3 && strcmp(argv[1], "get") == 0)
        return cmd_get(argv[2]);
    if (argc == 3 && strcmp(argv[1], "index") == 0)
        return cmd_index(argv[2]);
    if (argc == 4 && strcmp(argv[1], "watch") == 0)
        return cmd_watch(argv[2], argv[3]);
    fprintf(stderr, "usage: ac_reader verify DIR | log DIR | index DIR | get DIR | watch DIR STOPFILE\n");
    return 2;
}
