/* Unit tests for src/hash.c: SHA-256 of buffers and files, the reusable
 * hasher, and hex encoding. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "internal.h"

static const char *const EMPTY_SHA =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char *const ABC_SHA =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/* FIPS 180-2 appendix B.3: one million 'a'. */
static const char *const MILLION_A_SHA =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void assert_digest_hex(const uint8_t d[AC_HASH_SIZE], const char *want)
{
    char hex[2 * AC_HASH_SIZE + 1];
    ac_hex_encode(d, AC_HASH_SIZE, hex);
    assert_string_equal(hex, want);
}

/* Writes `len` bytes of a fixed pseudo-random pattern into `path`. */
static void write_pattern_file(const char *path, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t x = 2463534242u; /* xorshift32: cheap, not a multiple of any chunk size */
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        assert_int_not_equal(fputc((int)(x & 0xff), f), EOF);
    }
    assert_int_equal(fclose(f), 0);
}

/* The digest `openssl dgst -sha256 -r` gives for the file, as hex. */
static void openssl_dgst(const char *path, char out[2 * AC_HASH_SIZE + 1])
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "openssl dgst -sha256 -r '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512] = "";
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    assert_true(strlen(line) > 2 * AC_HASH_SIZE);
    memcpy(out, line, 2 * AC_HASH_SIZE);
    out[2 * AC_HASH_SIZE] = '\0';
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    uint8_t d[AC_HASH_SIZE];
    ac_error err;
    TU_OK(ac_sha256("", 0, d, &err));
    assert_digest_hex(d, EMPTY_SHA);
    TU_OK(ac_sha256(NULL, 0, d, &err)); /* no data at all is the empty message */
    assert_digest_hex(d, EMPTY_SHA);
    TU_OK(ac_sha256("abc", 3, d, &err));
    assert_digest_hex(d, ABC_SHA);

    char *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    TU_OK(ac_sha256(a, 1000000, d, &err));
    assert_digest_hex(d, MILLION_A_SHA);
    free(a);

    assert_int_equal(ac_sha256(NULL, 5, d, &err), AC_EINVAL);
    assert_int_equal(err.code, AC_EINVAL);
}

static void test_hasher_reuse(void **state)
{
    (void)state;
    ac_hasher *h = hasher_new();
    assert_non_null(h);
    uint8_t d[AC_HASH_SIZE], want[AC_HASH_SIZE];
    /* The context is reused: each digest must be independent of the last. */
    for (int round = 0; round < 3; round++) {
        TU_OK(hasher_digest(h, "abc", 3, d));
        assert_digest_hex(d, ABC_SHA);
        TU_OK(hasher_digest(h, "", 0, d));
        assert_digest_hex(d, EMPTY_SHA);
    }
    uint8_t buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof buf; n += 511) {
        TU_OK(hasher_digest(h, buf, n, d));
        TU_OK(ac_sha256(buf, n, want, NULL));
        assert_memory_equal(d, want, AC_HASH_SIZE);
    }
    assert_int_not_equal(hasher_digest(h, NULL, 1, d), AC_OK);
    hasher_free(h);
    hasher_free(NULL);
}

typedef struct progress_log {
    uint64_t calls, last_done, last_total;
    int went_backwards;
} progress_log;

static void record_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_log *log = ctx;
    if (done < log->last_done || done > total)
        log->went_backwards = 1;
    log->calls++;
    log->last_done = done;
    log->last_total = total;
}

/* A multi-MiB file whose size is not a multiple of the read size, checked
 * against the openssl command line tool. */
static void test_sha256_file_matches_openssl(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big.bin", dir);
    const size_t size = 5u * 1024 * 1024 + 12345;
    write_pattern_file(path, size);

    char want[2 * AC_HASH_SIZE + 1];
    openssl_dgst(path, want);
    uint8_t d[AC_HASH_SIZE];
    progress_log log = {0};
    ac_error err;
    TU_OK(ac_sha256_file(path, record_progress, &log, d, &err));
    assert_digest_hex(d, want);
    assert_true(log.calls >= 6); /* at least one call per 1 MiB chunk */
    assert_int_equal(log.last_done, size);
    assert_int_equal(log.last_total, size);
    assert_false(log.went_backwards);

    TU_OK(ac_sha256_file(path, NULL, NULL, d, NULL)); /* progress is optional */
    assert_digest_hex(d, want);
    tu_rmtree(dir);
}

static void test_sha256_file_edges(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    tu_tmpdir(dir, sizeof dir);
    uint8_t d[AC_HASH_SIZE];
    ac_error err;

    snprintf(path, sizeof path, "%s/empty", dir);
    write_pattern_file(path, 0);
    TU_OK(ac_sha256_file(path, NULL, NULL, d, &err));
    assert_digest_hex(d, EMPTY_SHA);

    /* Exactly one read buffer, and one byte either side of it. */
    const size_t sizes[] = {1u << 20, (1u << 20) - 1, (1u << 20) + 1};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/f%zu", dir, i);
        write_pattern_file(path, sizes[i]);
        char want[2 * AC_HASH_SIZE + 1];
        openssl_dgst(path, want);
        TU_OK(ac_sha256_file(path, NULL, NULL, d, &err));
        assert_digest_hex(d, want);
    }

    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(ac_sha256_file(path, NULL, NULL, d, &err), AC_ENOTFOUND);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_non_null(strstr(err.message, path));

    assert_int_equal(ac_sha256_file(dir, NULL, NULL, d, &err), AC_EIO);
    assert_int_equal(err.sys_errno, EISDIR);
    assert_non_null(strstr(err.message, dir));
    tu_rmtree(dir);
}

static void test_hex_round_trip(void **state)
{
    (void)state;
    uint8_t in[256], back[256];
    char hex[2 * sizeof in + 1];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)i;
    ac_hex_encode(in, sizeof in, hex);
    assert_int_equal(strlen(hex), 2 * sizeof in);
    assert_memory_equal(hex, "000102030405", 12);
    assert_string_equal(hex + 2 * 250, "fafbfcfdfeff");
    TU_OK(ac_hex_decode(hex, back, sizeof back, NULL));
    assert_memory_equal(in, back, sizeof in);

    uint8_t two[2];
    TU_OK(ac_hex_decode("ABcd", two, 2, NULL)); /* either case */
    assert_int_equal(two[0], 0xab);
    assert_int_equal(two[1], 0xcd);

    ac_hex_encode(in, 0, hex);
    assert_string_equal(hex, "");
    TU_OK(ac_hex_decode("", back, 0, NULL));
}

static void test_hex_rejects(void **state)
{
    (void)state;
    uint8_t out[4] = {1, 2, 3, 4};
    ac_error err;
    const char *bad[] = {"0011223",   /* one digit short */
                         "001122334", /* one digit long */
                         "0011223g",  /* not hex */
                         "00 11223",  /* space */
                         "0x112233",  /* prefix */
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(ac_hex_decode(bad[i], out, 4, &err), AC_EINVAL);
        assert_int_equal(err.code, AC_EINVAL);
        assert_true(strlen(err.message) > 0);
    }
    /* Nothing was written on failure. */
    assert_int_equal(out[0], 1);
    assert_int_equal(out[3], 4);

    assert_int_equal(ac_hex_decode("0011223g", out, 4, &err), AC_EINVAL);
    assert_non_null(strstr(err.message, "'g'"));
    assert_non_null(strstr(err.message, "position 7"));
    assert_int_equal(ac_hex_decode("0011223", out, 4, &err), AC_EINVAL);
    assert_non_null(strstr(err.message, "expected 8"));
    assert_int_equal(ac_hex_decode("00\n12233", out, 4, &err), AC_EINVAL);
    assert_non_null(strstr(err.message, "0x0a"));
    assert_int_equal(ac_hex_decode(NULL, out, 4, &err), AC_EINVAL);
    assert_int_equal(ac_hex_decode("0011223g", out, 4, NULL), AC_EINVAL); /* err may be NULL */
}

static void test_ac_free(void **state)
{
    (void)state;
    ac_free(NULL);
    ac_free(malloc(16));
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_hasher_reuse),
        cmocka_unit_test(test_sha256_file_matches_openssl),
        cmocka_unit_test(test_sha256_file_edges),
        cmocka_unit_test(test_hex_round_trip),
        cmocka_unit_test(test_hex_rejects),
        cmocka_unit_test(test_ac_free))
