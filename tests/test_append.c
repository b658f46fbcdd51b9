/* Unit tests for src/append.c (format section 7): batches are all or
 * nothing, the authorized key and rotations, the torn tail cut and kept,
 * a stale checkpoint never forks the chain, damage is refused without
 * touching chain.bin, and two handles on one chain take turns. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <sodium.h>

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

static void path_in(char *buf, size_t n, const char *dir, const char *name)
{
    int w = snprintf(buf, n, "%s/%s", dir, name);
    assert_true(w > 0 && (size_t)w < n);
}

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
    char p[4200];
    path_in(p, sizeof p, dir, name);
    *len = 0;
    FILE *f = fopen(p, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *buf = malloc(8 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 8 << 20, f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void spew(const char *dir, const char *name, const void *data, size_t len)
{
    char p[4200];
    path_in(p, sizeof p, dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A snapshot of a file, to show later that it did not change. */
typedef struct snap {
    uint8_t *data;
    size_t len;
    bool present;
} snap;

static snap take(const char *dir, const char *name)
{
    snap s;
    s.data = slurp(dir, name, &s.len);
    s.present = s.data != NULL;
    return s;
}

static void assert_unchanged(const char *dir, const char *name, snap *s)
{
    snap now = take(dir, name);
    if (now.present != s->present || now.len != s->len ||
        (s->len > 0 && memcmp(now.data, s->data, s->len) != 0))
        fail_msg("%s changed (%zu bytes, was %zu)", name, now.len, s->len);
    free(now.data);
    free(s->data);
    s->data = NULL;
}

static void content_of(uint64_t i, uint8_t out[AC_HASH_SIZE])
{
    char s[64];
    int n = snprintf(s, sizeof s, "content %llu", (unsigned long long)i);
    TU_OK(ac_sha256(s, (size_t)n, out, NULL));
}

/* Appends n (<= 64) records as one batch; returns the call's status. */
static int try_append(ac_chain *c, const ac_key *key, uint64_t tag, size_t n, ac_appended *out,
                      ac_error *err)
{
    ac_entry e[64];
    assert_true(n <= 64);
    for (size_t k = 0; k < n; k++) {
        content_of(tag + k, e[k].content_hash);
        e[k].content_type = "application/octet-stream";
        e[k].metadata = NULL;
    }
    return ac_append_batch(c, key, e, n, out, err);
}

static void append_ok(ac_chain *c, const ac_key *key, uint64_t want_first, size_t n)
{
    ac_appended out[64];
    ac_error err;
    int rc = try_append(c, key, want_first, n, out, &err);
    if (rc != AC_OK)
        fail_msg("append: %s", err.message);
    for (size_t k = 0; k < n; k++)
        if (out[k].index != want_first + k)
            fail_msg("appended index %llu, expected %llu", (unsigned long long)out[k].index,
                     (unsigned long long)(want_first + k));
}

static ac_chain *open_chain(const char *dir, unsigned flags)
{
    ac_chain *c = NULL;
    ac_error err;
    int rc = ac_chain_open(&c, dir, flags, &err);
    if (rc != AC_OK)
        fail_msg("open %s: %s", dir, err.message);
    return c;
}

static void close_chain(ac_chain *c)
{
    ac_error err;
    int rc = ac_chain_close(c, &err);
    if (rc != AC_OK)
        fail_msg("close: %s", err.message);
}

static ac_key *new_key(uint8_t pub[AC_PUBKEY_SIZE])
{
    ac_key *k = NULL;
    TU_OK(ac_key_generate(&k, NULL));
    if (pub)
        ac_key_pubkey(k, pub);
    return k;
}

/* A closed chain of n records signed by key. */
static void make_chain(const char *dir, const ac_key *key, size_t n)
{
    ac_chain *c = open_chain(dir, AC_OPEN_CREATE);
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 64 ? n - done : 64;
        append_ok(c, key, done, k);
        done += k;
    }
    close_chain(c);
}

/* The chain verifies, holds exactly `records` records with indices
 * 0..records-1, and reports no warning other than `allowed_warning`. */
static void assert_chain_good(const char *dir, uint64_t records)
{
    ac_chain *c = open_chain(dir, AC_OPEN_READONLY);
    ac_report *rep = NULL;
    TU_OK(ac_verify(c, NULL, &rep, NULL));
    if (!ac_report_valid(rep))
        fail_msg("%s: invalid at %lld: %s", dir, (long long)ac_report_fail_index(rep),
                 ac_report_detail(rep));
    assert_int_equal(ac_report_records(rep), records);
    for (size_t i = 0; i < ac_report_warning_count(rep); i++)
        assert_int_not_equal(ac_report_warning(rep, i)->code, AC_WARN_TORN_TAIL);
    ac_report_free(rep);
    ac_iter *it = NULL;
    TU_OK(ac_iter_open(c, 0, UINT64_MAX, &it, NULL));
    ac_record *r;
    uint64_t n = 0;
    while (ac_iter_next(it, &r, NULL) == 1) {
        assert_int_equal(ac_record_index(r), n);
        ac_record_free(r);
        n++;
    }
    assert_int_equal(n, records);
    ac_iter_free(it);
    close_chain(c);
}

/* Offsets of the complete frames of a chain.bin image. */
static size_t frame_offsets(const uint8_t *b, size_t len, size_t *offs, size_t max)
{
    size_t n = 0, at = 0;
    while (len - at >= 4 && n < max) {
        size_t body = (size_t)b[at] << 24 | (size_t)b[at + 1] << 16 | (size_t)b[at + 2] << 8 |
                      b[at + 3];
        if (body > len - at - 4)
            break;
        offs[n++] = at;
        at += 4 + body;
    }
    return n;
}

/* Names of files beside the chain that hold cut torn tails. */
static size_t torn_files(const char *dir, char names[][256], size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "chain.bin.torn-", 15) == 0 && n < max)
            snprintf(names[n++], 256, "%s", e->d_name);
    assert_int_equal(closedir(d), 0);
    return n;
}

/* ---------------------------------------------------------------- batches */

static void test_batch_indices(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = new_key(NULL);
    ac_chain *c = open_chain(dir, AC_OPEN_CREATE);
    ac_appended out[8];
    TU_OK(try_append(c, key, 0, 5, out, NULL));
    TU_OK(try_append(c, key, 5, 3, out + 5, NULL));
    for (uint64_t i = 0; i < 8; i++) {
        assert_int_equal(out[i].index, i);
        ac_record *r = NULL;
        TU_OK(ac_chain_get(c, i, &r, NULL));
        size_t len;
        const uint8_t *b = ac_record_bytes(r, &len);
        uint8_t h[AC_HASH_SIZE];
        TU_OK(ac_sha256(b, len, h, NULL));
        assert_memory_equal(out[i].hash, h, AC_HASH_SIZE);
        content_of(i, h);
        assert_memory_equal(ac_record_content_hash(r), h, AC_HASH_SIZE);
        ac_record_free(r);
    }
    /* An empty batch adds nothing. */
    snap before = take(dir, "chain.bin");
    TU_OK(try_append(c, key, 99, 0, NULL, NULL));
    assert_unchanged(dir, "chain.bin", &before);
    ac_appended one;
    ac_entry e = {.content_type = "text/plain"};
    TU_OK(ac_append(c, key, &e, &one, NULL));
    assert_int_equal(one.index, 8);
    TU_OK(ac_append(c, key, &e, NULL, NULL)); /* out may be NULL */
    close_chain(c);
    assert_chain_good(dir, 10);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* A batch with one bad entry anywhere writes none of its records and
 * leaves `out` alone. */
static void test_batch_all_or_none(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = new_key(NULL);
    make_chain(dir, key, 3);
    ac_chain *c = open_chain(dir, 0);
    const char *bad_types[] = {"", "text/plain\n", "a\x01", NULL, AC_ROTATION_CONTENT_TYPE};
    char long_type[300];
    memset(long_type, 'x', sizeof long_type);
    long_type[256] = '\0';
    for (size_t b = 0; b < 6; b++) {
        for (size_t pos = 0; pos < 5; pos += 2) {
            ac_entry e[5];
            for (size_t k = 0; k < 5; k++) {
                content_of(100 + k, e[k].content_hash);
                e[k].content_type = "text/plain";
                e[k].metadata = NULL;
            }
            e[pos].content_type = b < 5 ? bad_types[b] : long_type;
            ac_appended out[5];
            memset(out, 0xee, sizeof out);
            snap before = take(dir, "chain.bin");
            ac_error err;
            assert_int_equal(ac_append_batch(c, key, e, 5, out, &err), AC_EINVAL);
            assert_int_equal(err.code, AC_EINVAL);
            assert_unchanged(dir, "chain.bin", &before);
            for (size_t k = 0; k < sizeof out; k++)
                assert_int_equal(((uint8_t *)out)[k], 0xee);
        }
    }
    /* The next good batch continues the chain where it was. */
    append_ok(c, key, 3, 5);
    close_chain(c);
    assert_chain_good(dir, 8);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- authorization */

static void test_unauthorized_key(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t pub[AC_PUBKEY_SIZE], evil_pub[AC_PUBKEY_SIZE];
    ac_key *key = new_key(pub), *evil = new_key(evil_pub);
    make_chain(dir, key, 3);
    snap chain = take(dir, "chain.bin"), st = take(dir, "state.cbor");
    assert_true(st.present);
    ac_chain *c = open_chain(dir, 0);
    ac_error err;
    assert_int_equal(try_append(c, evil, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    assert_int_equal(err.code, AC_EUNAUTHORIZED);
    assert_int_equal(err.index, 3);
    assert_non_null(strstr(err.message, dir));
    assert_int_equal(try_append(c, evil, 0, 4, NULL, &err), AC_EUNAUTHORIZED);
    uint8_t other[AC_PUBKEY_SIZE];
    memset(other, 7, sizeof other);
    assert_int_equal(ac_append_rotation(c, evil, other, NULL, &err), AC_EUNAUTHORIZED);
    /* A rotation by an outsider to the real key is refused too. */
    assert_int_equal(ac_append_rotation(c, evil, pub, NULL, &err), AC_EUNAUTHORIZED);
    close_chain(c);
    assert_unchanged(dir, "chain.bin", &chain);
    assert_unchanged(dir, "state.cbor", &st);
    c = open_chain(dir, 0);
    append_ok(c, key, 3, 1);
    close_chain(c);
    assert_chain_good(dir, 4);
    ac_key_free(key);
    ac_key_free(evil);
    tu_rmtree(dir);
}

/* After a rotation the retired key is refused and the new key accepted:
 * on the handle that appended the rotation, on a new handle, and in a
 * batch. */
static void test_rotation(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t p1[AC_PUBKEY_SIZE], p2[AC_PUBKEY_SIZE], p3[AC_PUBKEY_SIZE];
    ac_key *k1 = new_key(p1), *k2 = new_key(p2), *k3 = new_key(p3);
    make_chain(dir, k1, 2);
    ac_chain *c = open_chain(dir, 0);
    ac_appended rot;
    TU_OK(ac_append_rotation(c, k1, p2, &rot, NULL));
    assert_int_equal(rot.index, 2);
    snap before = take(dir, "chain.bin");
    ac_error err;
    assert_int_equal(try_append(c, k1, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    assert_unchanged(dir, "chain.bin", &before);
    append_ok(c, k2, 3, 2);
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));
    assert_memory_equal(st.signer, p2, AC_PUBKEY_SIZE);
    close_chain(c);

    /* A new handle knows it from the chain. */
    c = open_chain(dir, 0);
    assert_int_equal(try_append(c, k1, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    TU_OK(ac_append_rotation(c, k2, p3, &rot, NULL));
    assert_int_equal(rot.index, 5);
    assert_int_equal(try_append(c, k2, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    assert_int_equal(try_append(c, k1, 0, 1, NULL, &err), AC_EUNAUTHORIZED);
    append_ok(c, k3, 6, 3);
    /* The retired keys cannot rotate either. */
    assert_int_equal(ac_append_rotation(c, k1, p2, NULL, &err), AC_EUNAUTHORIZED);
    assert_int_equal(ac_append_rotation(c, k2, p1, NULL, &err), AC_EUNAUTHORIZED);
    close_chain(c);
    assert_chain_good(dir, 9);
    ac_key_free(k1);
    ac_key_free(k2);
    ac_key_free(k3);
    tu_rmtree(dir);
}

/* A rotation to the signer's own key is refused (format 4.4 [fix]); and a
 * rotation is only appended through ac_append_rotation. */
static void test_rotation_to_self(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint8_t p1[AC_PUBKEY_SIZE];
    ac_key *k1 = new_key(p1);
    make_chain(dir, k1, 2);
    snap before = take(dir, "chain.bin");
    ac_chain *c = open_chain(dir, 0);
    ac_error err;
    assert_int_equal(ac_append_rotation(c, k1, p1, NULL, &err), AC_EINVAL);
    assert_int_equal(err.code, AC_EINVAL);
    ac_entry e = {.content_type = AC_ROTATION_CONTENT_TYPE};
    assert_int_equal(ac_append(c, k1, &e, NULL, &err), AC_EINVAL);
    close_chain(c);
    assert_unchanged(dir, "chain.bin", &before);
    c = open_chain(dir, 0);
    append_ok(c, k1, 2, 1); /* k1 is still the signer */
    close_chain(c);
    assert_chain_good(dir, 3);
    ac_key_free(k1);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- torn tails */

/* An incomplete last frame of every kind is cut before the append, and
 * exactly its bytes are kept in one chain.bin.torn-* file beside the chain. */
static void test_torn_tail_cut(void **state)
{
    (void)state;
    ac_key *key = new_key(NULL);
    char base[4096], src[4200];
    tu_tmpdir(base, sizeof base);
    path_in(src, sizeof src, base, "src");
    make_chain(src, key, 3);
    size_t clen;
    uint8_t *chain = slurp(src, "chain.bin", &clen);
    size_t offs[8];
    assert_int_equal(frame_offsets(chain, clen, offs, 8), 3);
    size_t frame1 = offs[2] - offs[1]; /* prefix and body of record 1 */
    const size_t keeps[] = {1, 2, 3, 4, 5, 100, frame1 - 1};
    for (size_t k = 0; k < sizeof keeps / sizeof keeps[0]; k++) {
        for (int with_state = 0; with_state <= 1; with_state++) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/t%zu-%d", base, k, with_state);
            assert_int_equal(mkdir(dir, 0700), 0);
            /* The crash: the first `keep` bytes of a frame after the last. */
            uint8_t *img = malloc(clen + keeps[k]);
            assert_non_null(img);
            memcpy(img, chain, clen);
            memcpy(img + clen, chain + offs[1], keeps[k]);
            spew(dir, "chain.bin", img, clen + keeps[k]);
            if (with_state) {
                size_t slen;
                uint8_t *st = slurp(src, "state.cbor", &slen);
                assert_non_null(st);
                spew(dir, "state.cbor", st, slen);
                free(st);
            }
            /* Verification reports it as a warning with its size. */
            ac_chain *c = open_chain(dir, AC_OPEN_READONLY);
            ac_report *rep = NULL;
            TU_OK(ac_verify(c, NULL, &rep, NULL));
            assert_int_equal(ac_report_valid(rep), 1);
            assert_int_equal(ac_report_records(rep), 3);
            assert_int_equal(ac_report_warning_count(rep), 1);
            const ac_warning *w = ac_report_warning(rep, 0);
            assert_int_equal(w->code, AC_WARN_TORN_TAIL);
            assert_int_equal(w->offset, clen);
            assert_int_equal(w->bytes, keeps[k]);
            ac_report_free(rep);
            close_chain(c);

            c = open_chain(dir, 0);
            append_ok(c, key, 3, 1);
            close_chain(c);
            char names[4][256];
            assert_int_equal(torn_files(dir, names, 4), 1);
            size_t tlen;
            uint8_t *torn = slurp(dir, names[0], &tlen);
            assert_int_equal(tlen, keeps[k]);
            assert_memory_equal(torn, img + clen, tlen);
            free(torn);
            /* The log kept every complete frame, then the new one. */
            size_t nlen;
            uint8_t *now = slurp(dir, "chain.bin", &nlen);
            assert_memory_equal(now, chain, clen);
            size_t noffs[8];
            assert_int_equal(frame_offsets(now, nlen, noffs, 8), 4);
            assert_int_equal(noffs[3], clen);
            free(now);
            free(img);
            assert_chain_good(dir, 4);
        }
    }
    free(chain);
    ac_key_free(key);
    tu_rmtree(base);
}

/* ---------------------------------------------------------------- stale checkpoints */

/* The crash window of the Python store: chain.bin has frames that the
 * checkpoint does not name.  Here an older state.cbor is put back after
 * more appends; the next append must take the next index, not reuse one. */
static void test_stale_state(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = new_key(NULL);
    make_chain(dir, key, 3);
    snap old = take(dir, "state.cbor");
    assert_true(old.present);
    for (uint64_t round = 0; round < 3; round++) {
        uint64_t count = 3 + 3 * round;
        ac_chain *c = open_chain(dir, 0);
        append_ok(c, key, count, 2);
        close_chain(c);
        spew(dir, "state.cbor", old.data, old.len); /* back to 3 records */
        c = open_chain(dir, 0);
        ac_state st;
        TU_OK(ac_chain_state(c, &st, NULL));
        assert_int_equal(st.record_count, count + 2);
        append_ok(c, key, count + 2, 1);
        close_chain(c);
        assert_chain_good(dir, count + 3);
    }
    /* The exact window: one frame more than the checkpoint, on a handle
     * that has never seen the chain. */
    snap now = take(dir, "state.cbor");
    ac_chain *c = open_chain(dir, 0);
    append_ok(c, key, 12, 1);
    close_chain(c);
    spew(dir, "state.cbor", now.data, now.len);
    c = open_chain(dir, 0);
    append_ok(c, key, 13, 1);
    close_chain(c);
    assert_chain_good(dir, 14);
    free(now.data);
    free(old.data);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- damage */

static void poke(const char *dir, size_t off, const uint8_t *bytes, size_t n)
{
    char p[4200];
    path_in(p, sizeof p, dir, "chain.bin");
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Damage that is not a torn tail: append refuses with AC_ECORRUPT, cuts
 * nothing and writes nothing.  Without a checkpoint the writer rebuilds its
 * state from chain.bin and meets the damage; with one, it checks the head
 * (format section 6), so only damage at the head is its business there
 * (verify finds the rest). */
static void test_damage_refused(void **state)
{
    (void)state;
    ac_key *key = new_key(NULL);
    char base[4096], src[4200];
    tu_tmpdir(base, sizeof base);
    path_in(src, sizeof src, base, "src");
    make_chain(src, key, 5);
    size_t clen;
    uint8_t *chain = slurp(src, "chain.bin", &clen);
    size_t offs[8];
    assert_int_equal(frame_offsets(chain, clen, offs, 8), 5);
    size_t len2 = offs[3] - offs[2] - 4, len4 = clen - offs[4] - 4;
    enum { ZERO_PREFIX, GROWN_PREFIX, OVERSIZE_PREFIX, GROWN_LAST, BAD_HEAD, BAD_RECORD0, KINDS };
    for (int kind = 0; kind < KINDS; kind++) {
        for (int with_state = 0; with_state <= 1; with_state++) {
            /* Mid-chain damage under a valid checkpoint is verify's to find. */
            bool mid = kind == ZERO_PREFIX || kind == GROWN_PREFIX || kind == OVERSIZE_PREFIX ||
                       kind == BAD_RECORD0;
            if (mid && with_state)
                continue;
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/d%d-%d", base, kind, with_state);
            assert_int_equal(mkdir(dir, 0700), 0);
            spew(dir, "chain.bin", chain, clen);
            if (with_state) {
                size_t slen;
                uint8_t *st = slurp(src, "state.cbor", &slen);
                spew(dir, "state.cbor", st, slen);
                free(st);
            }
            uint8_t b[4];
            switch (kind) {
            case ZERO_PREFIX: put_be32(b, 0); poke(dir, offs[2], b, 4); break;
            case GROWN_PREFIX: put_be32(b, (uint32_t)len2 + 9); poke(dir, offs[2], b, 4); break;
            case OVERSIZE_PREFIX: put_be32(b, AC_MAX_RECORD_SIZE + 1); poke(dir, offs[2], b, 4); break;
            /* The last frame's prefix grown past the end of the file: it
             * looks torn, but a record starts inside it (section 7). */
            case GROWN_LAST: put_be32(b, (uint32_t)len4 + 50); poke(dir, offs[4], b, 4); break;
            /* The head record's map of 11 becomes a map of 12: same size. */
            case BAD_HEAD: b[0] = 0xac; poke(dir, offs[4] + 4, b, 1); break;
            case BAD_RECORD0: b[0] = 0xac; poke(dir, 4, b, 1); break;
            }
            snap before = take(dir, "chain.bin");
            ac_chain *c = NULL;
            ac_error err;
            TU_OK(ac_chain_open(&c, dir, 0, &err)); /* a damaged chain still opens */
            int rc = try_append(c, key, 5, 1, NULL, &err);
            if (rc != AC_ECORRUPT)
                fail_msg("damage %d (checkpoint %d): append gave %d: %s", kind, with_state, rc,
                         rc ? err.message : "");
            assert_int_equal(err.code, AC_ECORRUPT);
            assert_non_null(strstr(err.message, "chain.bin"));
            close_chain(c);
            assert_unchanged(dir, "chain.bin", &before);
            char names[2][256];
            assert_int_equal(torn_files(dir, names, 2), 0);
        }
    }
    free(chain);
    ac_key_free(key);
    tu_rmtree(base);
}

/* ---------------------------------------------------------------- concurrency */

/* Two handles on one chain, appending in turn: each sees the other's
 * records, the indices are consecutive, and the chain verifies. */
static void test_two_handles(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    ac_key *key = new_key(NULL);
    ac_chain *a = open_chain(dir, AC_OPEN_CREATE), *b = open_chain(dir, AC_OPEN_CREATE);
    uint64_t next = 0;
    for (int round = 0; round < 6; round++) {
        append_ok(a, key, next, 1);
        next += 1;
        append_ok(b, key, next, 2);
        next += 2;
        ac_state sa, sb;
        TU_OK(ac_chain_state(a, &sa, NULL));
        TU_OK(ac_chain_state(b, &sb, NULL));
        assert_int_equal(sa.record_count, next);
        assert_memory_equal(&sa, &sb, sizeof sa);
    }
    close_chain(a);
    close_chain(b);
    assert_chain_good(dir, next);
    /* The last close wrote the real head, whichever handle it was. */
    ac_chain *c = open_chain(dir, AC_OPEN_READONLY);
    ac_state st;
    TU_OK(ac_chain_state(c, &st, NULL));
    assert_int_equal(st.record_count, next);
    close_chain(c);
    ac_key_free(key);
    tu_rmtree(dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_indices),
        cmocka_unit_test(test_batch_all_or_none),
        cmocka_unit_test(test_unauthorized_key),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_rotation_to_self),
        cmocka_unit_test(test_torn_tail_cut),
        cmocka_unit_test(test_stale_state),
        cmocka_unit_test(test_damage_refused),
        cmocka_unit_test(test_two_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
