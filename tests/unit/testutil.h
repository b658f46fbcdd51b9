/* Shared helpers for the cmocka unit tests: temporary directories, whole
 * files in and out, snapshots, raw pokes into chain.bin, frame parsing, the
 * shared vectors (files, keys, case.json), chain handles that fail the test
 * with the library's message, test chains of N records, and main().
 *
 * Everything is static inline, so the Makefile builds each tests/unit/test_X.c
 * on its own.  A helper fails the running test (cmocka) on any error it is
 * not asked to report; the caller checks only what the test is about. */
#ifndef AC_TESTUTIL_H
#define AC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cbor.h>
#include <jansson.h>
#include <sodium.h>

#include "attestchain.h"

#define TU_OK(call) assert_int_equal((call), AC_OK)

/* Room for a path below a temporary or vector directory. */
#define TU_PATH_MAX 4352

/* ---------------------------------------------------------------- paths */

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp) into buf. */
static inline void tu_tmpdir(char *buf, size_t n)
{
    const char *base = getenv("TMPDIR");
    int w = snprintf(buf, n, "%s/ac-test-XXXXXX", base && *base ? base : "/tmp");
    assert_true(w > 0 && (size_t)w < n);
    assert_non_null(mkdtemp(buf));
}

/* rm -rf of a test directory. */
static inline void tu_rmtree(const char *dir)
{
    char cmd[TU_PATH_MAX + 16];
    int w = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_true(w > 0 && (size_t)w < sizeof cmd);
    assert_int_equal(system(cmd), 0);
}

/* dir/name into buf, which must hold it whole; returns buf. */
static inline const char *tu_path_in(char *buf, size_t n, const char *dir, const char *name)
{
    int w = snprintf(buf, n, "%s/%s", dir, name);
    assert_true(w > 0 && (size_t)w < n);
    return buf;
}

/* Path of a file in the project's copy of the shared vectors. */
static inline void tu_vector_path(char *buf, size_t n, const char *rel)
{
    const char *root = getenv("AC_VECTORS");
    int w = snprintf(buf, n, "%s/%s", root && *root ? root : "tests/vectors", rel);
    assert_true(w > 0 && (size_t)w < n);
}

/* vsnprintf into buf, which must hold the whole text. */
static inline void tu_vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
    int w = vsnprintf(buf, n, fmt, ap);
    assert_true(w > 0 && (size_t)w < n);
}

static inline void tu_subdir(char *dir, size_t n, const char *base, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Creates base/<fmt...> (mode 0700), which must not exist yet; its path
 * goes into dir. */
static inline void tu_subdir(char *dir, size_t n, const char *base, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    tu_vformat(name, sizeof name, fmt, ap);
    va_end(ap);
    tu_path_in(dir, n, base, name);
    if (mkdir(dir, 0700) != 0)
        fail_msg("mkdir %s: %s", dir, strerror(errno));
}

/* Whether dir/name exists (a dangling symlink counts: lstat). */
static inline bool tu_exists(const char *dir, const char *name)
{
    char p[TU_PATH_MAX];
    struct stat sb;
    return lstat(tu_path_in(p, sizeof p, dir, name), &sb) == 0;
}

/* Removes dir/name: true if it was there, false if it was not. */
static inline bool tu_unlink(const char *dir, const char *name)
{
    char p[TU_PATH_MAX];
    if (unlink(tu_path_in(p, sizeof p, dir, name)) == 0)
        return true;
    if (errno != ENOENT)
        fail_msg("unlink %s: %s", p, strerror(errno));
    return false;
}

/* ---------------------------------------------------------------- whole files */

/* The whole of the regular file at `path` and its size in *len, with a NUL
 * after it so that text reads as a string.  NULL (and *len 0) if there is
 * no such file; anything else that is not a whole read fails the test. */
static inline uint8_t *tu_read_path(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno != ENOENT)
            fail_msg("open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    assert_int_equal(fstat(fileno(f), &sb), 0);
    if (!S_ISREG(sb.st_mode))
        fail_msg("%s is not a regular file", path);
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = malloc(size + 1);
    assert_non_null(buf);
    /* The size was taken first: a file that grew or shrank since is an error. */
    if (fread(buf, 1, size, f) != size || fgetc(f) != EOF)
        fail_msg("%s: not %zu bytes when read", path, size);
    assert_int_equal(fclose(f), 0);
    buf[size] = '\0';
    *len = size;
    return buf;
}

/* A text file that must exist, NUL-terminated; its size in *len if not NULL. */
static inline char *tu_read_text(const char *path, size_t *len)
{
    size_t n;
    uint8_t *b = tu_read_path(path, &n);
    if (b == NULL)
        fail_msg("%s does not exist", path);
    if (len != NULL)
        *len = n;
    return (char *)b;
}

/* dir/name, as tu_read_path. */
static inline uint8_t *tu_slurp(const char *dir, const char *name, size_t *len)
{
    char p[TU_PATH_MAX];
    return tu_read_path(tu_path_in(p, sizeof p, dir, name), len);
}

/* Creates or replaces the file at `path` with exactly these bytes. */
static inline void tu_write_path(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline void tu_spew(const char *dir, const char *name, const void *data, size_t len)
{
    char p[TU_PATH_MAX];
    tu_write_path(tu_path_in(p, sizeof p, dir, name), data, len);
}

/* Copies from_dir/name to to_dir/name; the source must exist. */
static inline void tu_copy(const char *from_dir, const char *to_dir, const char *name)
{
    size_t len;
    uint8_t *b = tu_slurp(from_dir, name, &len);
    if (b == NULL)
        fail_msg("%s/%s does not exist", from_dir, name);
    tu_spew(to_dir, name, b, len);
    free(b);
}

/* A snapshot of a file, to show later that it did not change: neither
 * appeared, went, nor changed a byte. */
typedef struct tu_snap {
    char path[TU_PATH_MAX];
    uint8_t *data;
    size_t len;
    bool present;
} tu_snap;

static inline tu_snap tu_snap_take(const char *dir, const char *name)
{
    tu_snap s;
    tu_path_in(s.path, sizeof s.path, dir, name);
    s.data = tu_read_path(s.path, &s.len);
    s.present = s.data != NULL;
    return s;
}

/* Fails unless the file is as it was; frees the snapshot's data. */
static inline void tu_assert_unchanged(tu_snap *s)
{
    size_t len;
    uint8_t *now = tu_read_path(s->path, &len);
    if ((now != NULL) != s->present || len != s->len ||
        (len > 0 && memcmp(now, s->data, len) != 0))
        fail_msg("%s changed (%s, %zu bytes; was %s, %zu bytes)", s->path,
                 now ? "present" : "absent", len, s->present ? "present" : "absent", s->len);
    free(now);
    free(s->data);
    s->data = NULL;
}

/* open(2) of the existing file dir/name; a failure fails the test. */
static inline int tu_open_in(const char *dir, const char *name, int flags)
{
    char p[TU_PATH_MAX];
    int fd = open(tu_path_in(p, sizeof p, dir, name), flags);
    if (fd < 0)
        fail_msg("open %s: %s", p, strerror(errno));
    return fd;
}

/* Writes n bytes at `off` of the existing file dir/name. */
static inline void tu_poke(const char *dir, const char *name, uint64_t off, const void *bytes,
                           size_t n)
{
    int fd = tu_open_in(dir, name, O_RDWR);
    assert_int_equal(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* Reads n bytes at `off` of dir/name, which must hold them. */
static inline void tu_peek(const char *dir, const char *name, uint64_t off, void *bytes, size_t n)
{
    int fd = tu_open_in(dir, name, O_RDONLY);
    assert_int_equal(pread(fd, bytes, n, (off_t)off), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* ---------------------------------------------------------------- frames */

/* The 4-byte big-endian length prefix of a frame. */
static inline uint32_t tu_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void tu_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Offsets of the complete frames (their length prefixes) at the start of a
 * chain.bin image, at most `max`; *end (if not NULL) gets the offset just
 * past the last of them.  Parsed here, not by frame.c, so that the tests
 * do not take the library's word for where frames are. */
static inline size_t tu_frame_offsets(const uint8_t *b, size_t len, size_t *offs, size_t max,
                                      size_t *end)
{
    size_t n = 0, at = 0;
    while (len - at >= 4 && n < max) {
        size_t body = tu_get_be32(b + at);
        if (body > len - at - 4)
            break;
        offs[n++] = at;
        at += 4 + body;
    }
    if (end != NULL)
        *end = at;
    return n;
}

/* Writes 0xffffffff (over the size limit) over record 1's length prefix in
 * dir/chain.bin: a rebuild from chain.bin fails there, while record 0 (the
 * chain id) and the head, which a checkpoint is checked against, stay
 * whole.  So a handle that still answers used the caches. */
static inline void tu_break_frame1_prefix(const char *dir)
{
    uint8_t pfx[4];
    static const uint8_t bad[4] = {0xff, 0xff, 0xff, 0xff};
    tu_peek(dir, "chain.bin", 0, pfx, 4);
    tu_poke(dir, "chain.bin", 4 + (uint64_t)tu_get_be32(pfx), bad, 4);
}

/* ---------------------------------------------------------------- the vectors */

/* A vector file (rel below tests/vectors) that must exist, as tu_read_path. */
static inline uint8_t *tu_read_vector(const char *rel, size_t *len)
{
    char path[TU_PATH_MAX];
    tu_vector_path(path, sizeof path, rel);
    uint8_t *b = tu_read_path(path, len);
    if (b == NULL)
        fail_msg("cannot open %s", path);
    return b;
}

/* Path of the vectors' key file keys/<name>.<ext> ("pem" or "pub"). */
static inline void tu_vector_key(char *buf, size_t n, const char *name, const char *ext)
{
    char rel[128];
    int w = snprintf(rel, sizeof rel, "keys/%s.%s", name, ext);
    assert_true(w > 0 && (size_t)w < sizeof rel);
    tu_vector_path(buf, n, rel);
}

/* The vectors' private key <name> ("k1", "k2", "k3", "evil"). */
static inline ac_key *tu_load_key(const char *name)
{
    char path[TU_PATH_MAX];
    tu_vector_key(path, sizeof path, name, "pem");
    ac_key *k = NULL;
    ac_error err;
    if (ac_key_load(path, &k, &err) != AC_OK)
        fail_msg("load %s: %s", path, err.message);
    return k;
}

/* The public key of the vectors' <name>, from its .pub file. */
static inline void tu_load_pub(const char *name, uint8_t out[AC_PUBKEY_SIZE])
{
    char path[TU_PATH_MAX];
    tu_vector_key(path, sizeof path, name, "pub");
    ac_error err;
    if (ac_pubkey_load(path, out, &err) != AC_OK)
        fail_msg("load %s: %s", path, err.message);
}

/* A vector's case.json (free it with json_decref). */
static inline json_t *tu_load_case(const char *vector)
{
    char rel[512], path[TU_PATH_MAX];
    int w = snprintf(rel, sizeof rel, "%s/case.json", vector);
    assert_true(w > 0 && (size_t)w < sizeof rel);
    tu_vector_path(path, sizeof path, rel);
    json_error_t jerr;
    json_t *cs = json_load_file(path, 0, &jerr);
    if (cs == NULL)
        fail_msg("%s: %s", path, jerr.text);
    return cs;
}

/* A member of case.json that must be a string. */
static inline const char *tu_case_string(const json_t *cs, const char *key)
{
    const char *s = json_string_value(json_object_get(cs, key));
    if (s == NULL)
        fail_msg("case.json: no string \"%s\"", key);
    return s;
}

/* ---------------------------------------------------------------- libcbor */

/* Whether a map key loaded by libcbor is the text string `want`. */
static inline bool tu_cbor_key_is(const cbor_item_t *k, const char *want)
{
    return cbor_isa_string(k) && cbor_string_length(k) == strlen(want) &&
           memcmp(cbor_string_handle(k), want, strlen(want)) == 0;
}

/* ---------------------------------------------------------------- chains */

/* Opens a chain; any failure fails the test with the library's message. */
static inline ac_chain *tu_open_chain(const char *dir, unsigned flags)
{
    ac_chain *c = NULL;
    ac_error err;
    if (ac_chain_open(dir, flags, &c, &err) != AC_OK)
        fail_msg("open %s: %s", dir, err.message);
    assert_non_null(c);
    return c;
}

static inline void tu_close_chain(ac_chain *c)
{
    ac_error err;
    if (ac_chain_close(c, &err) != AC_OK)
        fail_msg("close: %s", err.message);
}

/* A new key; its public half into pub if not NULL. */
static inline ac_key *tu_new_key(uint8_t pub[AC_PUBKEY_SIZE])
{
    ac_key *k = NULL;
    TU_OK(ac_key_generate(&k, NULL));
    if (pub != NULL)
        ac_key_pubkey(k, pub);
    return k;
}

/* Verifies the whole chain, which must be valid with exactly `records`
 * records; returns the report (free it) for further checks. */
static inline ac_report *tu_verify_ok(ac_chain *c, uint64_t records)
{
    ac_report *rep = NULL;
    ac_error err;
    if (ac_verify(c, NULL, &rep, &err) != AC_OK)
        fail_msg("verify %s: %s", ac_chain_dir(c), err.message);
    if (!ac_report_valid(rep))
        fail_msg("%s: invalid at %lld: %s", ac_chain_dir(c), (long long)ac_report_fail_index(rep),
                 ac_report_detail(rep));
    assert_int_equal(ac_report_records(rep), records);
    return rep;
}

/* ---------------------------------------------------------------- test chains */

/* Record i of a test chain: content hash SHA-256("content <i>"), one of
 * three content types, metadata {"n": "<i>"}, so that each record's
 * contents tell it from every other. */
static inline void tu_content_hash(uint64_t i, uint8_t out[AC_HASH_SIZE])
{
    char s[64];
    int n = snprintf(s, sizeof s, "content %llu", (unsigned long long)i);
    assert_true(n > 0 && (size_t)n < sizeof s);
    TU_OK(ac_sha256(s, (size_t)n, out, NULL));
}

static inline const char *tu_content_type(uint64_t i)
{
    static const char *const types[] = {"image/jpeg", "text/plain", "application/pdf"};
    return types[i % 3];
}

/* The most records one tu_try_append call takes. */
#define TU_BATCH_MAX 64

/* Appends test records first..first+n-1 as one batch; returns the status
 * of ac_append_batch (out and err as there). */
static inline int tu_try_append(ac_chain *c, const ac_key *key, uint64_t first, size_t n,
                                ac_appended *out, ac_error *err)
{
    ac_entry e[TU_BATCH_MAX];
    ac_meta *m[TU_BATCH_MAX];
    assert_true(n <= TU_BATCH_MAX);
    for (size_t k = 0; k < n; k++) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)(first + k));
        TU_OK(ac_meta_new(&m[k], NULL));
        TU_OK(ac_meta_set_text(m[k], "n", v, NULL));
        tu_content_hash(first + k, e[k].content_hash);
        e[k].content_type = tu_content_type(first + k);
        e[k].metadata = m[k];
    }
    int rc = ac_append_batch(c, key, e, n, out, err);
    for (size_t k = 0; k < n; k++)
        ac_meta_free(m[k]);
    return rc;
}

/* tu_try_append, which must succeed with indices first..first+n-1; the
 * results into out if not NULL. */
static inline void tu_append_ok(ac_chain *c, const ac_key *key, uint64_t first, size_t n,
                                ac_appended *out)
{
    ac_appended got[TU_BATCH_MAX];
    ac_error err;
    if (tu_try_append(c, key, first, n, got, &err) != AC_OK)
        fail_msg("append at %llu: %s", (unsigned long long)first, err.message);
    for (size_t k = 0; k < n; k++)
        if (got[k].index != first + k)
            fail_msg("appended index %llu, expected %llu", (unsigned long long)got[k].index,
                     (unsigned long long)(first + k));
    if (out != NULL && n > 0)
        memcpy(out, got, n * sizeof got[0]);
}

/* A closed chain of n test records in dir (created if missing), signed by
 * `key`, or for NULL by a new key thrown away after. */
static inline void tu_make_chain(const char *dir, const ac_key *key, size_t n)
{
    ac_key *own = key == NULL ? tu_new_key(NULL) : NULL;
    ac_chain *c = tu_open_chain(dir, AC_OPEN_CREATE);
    for (size_t done = 0; done < n;) {
        size_t k = n - done < TU_BATCH_MAX ? n - done : TU_BATCH_MAX;
        tu_append_ok(c, key != NULL ? key : own, done, k, NULL);
        done += k;
    }
    tu_close_chain(c);
    ac_key_free(own);
}

/* ---------------------------------------------------------------- text */

/* `text` with its first `from` replaced by `to`, into out (cap bytes). */
static inline void tu_replace_first(const char *text, const char *from, const char *to, char *out,
                                    size_t cap)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    int w = snprintf(out, cap, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    assert_true(w > 0 && (size_t)w < cap);
}

/* ---------------------------------------------------------------- main */

/* What every test program does before its tests. */
static inline int tu_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

/* main(): one group of tests, with a group setup and teardown (or NULL). */
#define TU_MAIN(setup, teardown, ...)                                          \
    int main(void)                                                             \
    {                                                                          \
        if (tu_init() != 0)                                                    \
            return 1;                                                          \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                       \
        return cmocka_run_group_tests(tests, (setup), (teardown));             \
    }

#endif
