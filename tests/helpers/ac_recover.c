/* ac_recover: what a writer does first after a crash or power cut, on each of
 * many prepared chain directories in one process (tests/e2e/t_powercut.py makes
 * thousands of them; one process each would spend the run loading libraries).
 *
 *   ac_recover KEYFILE TAG DIR...
 *
 * For each DIR: open it, verify, append one record attesting
 * SHA-256("TAG:DIR"), verify with the same handle, close (which writes
 * state.cbor), open it again read-only and verify once more.  One line per DIR:
 *
 *   DIR V1 APPEND V2 V3
 *
 * where each V is "valid/records/torn/reason" (valid 1 or 0, torn the torn
 * tail's size in bytes, reason "-" when valid, "E" fields when verify could
 * not run) and APPEND is "rc/index/hash" (rc 0 on success, else the negative
 * ac_status, index and hash "-").  A failure's message goes to stderr,
 * prefixed by DIR.  Exit status 0 once every DIR is done, 2 on bad usage. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "attestchain.h"

static void print_verdict(ac_chain *c, const char *dir)
{
    ac_report *rep;
    ac_error err = {0};
    ac_verify_options opt;
    ac_verify_options_init(&opt);
    if (ac_verify(c, &opt, &rep, &err) != AC_OK) {
        printf(" E/E/E/E");
        fprintf(stderr, "%s: verify: %s\n", dir, err.message);
        return;
    }
    uint64_t torn = 0;
    for (size_t i = 0; i < ac_report_warning_count(rep); i++) {
        const ac_warning *w = ac_report_warning(rep, i);
        if (w->code == AC_WARN_TORN_TAIL)
            torn = w->bytes;
    }
    const char *reason = ac_reason_name(ac_report_reason(rep));
    printf(" %d/%" PRIu64 "/%" PRIu64 "/%s", ac_report_valid(rep), ac_report_records(rep), torn,
           *reason ? reason : "-");
    ac_report_free(rep);
}

static void append_one(ac_chain *c, const ac_key *key, const char *tag, const char *dir)
{
    char content[4200];
    ac_entry e = {.content_type = "application/x-attestchain-test"};
    ac_appended out;
    ac_error err = {0};
    int len = snprintf(content, sizeof content, "%s:%s", tag, dir);
    int rc = len > 0 && (size_t)len < sizeof content ? AC_OK : AC_EINVAL;
    if (rc == AC_OK)
        rc = ac_sha256(content, (size_t)len, e.content_hash, &err);
    if (rc == AC_OK)
        rc = ac_append(c, key, &e, &out, &err);
    if (rc != AC_OK) {
        printf(" %d/-/-", rc);
        fprintf(stderr, "%s: append: %s\n", dir, err.message);
        return;
    }
    char hex[2 * AC_HASH_SIZE + 1];
    ac_hex_encode(out.hash, AC_HASH_SIZE, hex);
    printf(" 0/%" PRIu64 "/%s", out.index, hex);
}

static void recover(const ac_key *key, const char *tag, const char *dir)
{
    ac_chain *c;
    ac_error err = {0};
    printf("%s", dir);
    if (ac_chain_open(dir, 0, &c, &err) != AC_OK) {
        printf(" E/E/E/E %d/-/- E/E/E/E E/E/E/E\n", err.code);
        fprintf(stderr, "%s: open: %s\n", dir, err.message);
        return;
    }
    print_verdict(c, dir);
    append_one(c, key, tag, dir);
    print_verdict(c, dir);
    if (ac_chain_close(c, &err) != AC_OK)
        fprintf(stderr, "%s: close: %s\n", dir, err.message);
    if (ac_chain_open(dir, AC_OPEN_READONLY, &c, &err) != AC_OK) {
        printf(" E/E/E/E\n");
        fprintf(stderr, "%s: reopen: %s\n", dir, err.message);
        return;
    }
    print_verdict(c, dir);
    ac_chain_close(c, NULL);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: ac_recover KEYFILE TAG DIR...\n");
        return 2;
    }
    ac_key *key;
    ac_error err = {0};
    if (ac_key_load(argv[1], &key, &err) != AC_OK) {
        fprintf(stderr, "ac_recover: %s\n", err.message);
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        recover(key, argv[2], argv[i]);
        if (fflush(stdout) != 0)
            break;
    }
    ac_key_free(key);
    return ferror(stdout) ? 2 : 0;
}
