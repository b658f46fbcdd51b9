/* Unit tests for src/sshkey.c: the encoder's output parses back, and hostile
 * OpenSSH key files (every truncation of the decoded body, every byte
 * flipped, lengths that point past the end, other ciphers, absurd bcrypt
 * rounds, a public line of another type) are refused with one clean error,
 * never read out of bounds (ASan runs these in make check). */
#include "testutil.h"

#include "internal.h"

static const uint8_t seed[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* The key file text for `seed`, and its public key. */
static char *encoded(uint8_t pk[AC_PUBKEY_SIZE], size_t *len)
{
    uint8_t sk[64];
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    char *text = NULL;
    TU_OK(ssh_private_encode(seed, pk, "comment", "k", &text, len, NULL));
    return text;
}

/* The armoured text of a binary body. */
static size_t armour(const uint8_t *bin, size_t n, char *out, size_t cap)
{
    char b64[4096];
    assert_true(n / 3 * 4 + 8 < sizeof b64);
    sodium_bin2base64(b64, sizeof b64, bin, n, sodium_base64_VARIANT_ORIGINAL);
    int w = snprintf(out, cap, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n"
                               "-----END OPENSSH PRIVATE KEY-----\n", b64);
    assert_true(w > 0 && (size_t)w < cap);
    return (size_t)w;
}

static size_t unarmour(const char *text, uint8_t *bin, size_t cap)
{
    const char *b = strchr(text, '\n') + 1, *e = strstr(text, "-----END");
    size_t n = 0;
    assert_int_equal(sodium_base642bin(bin, cap, b, (size_t)(e - b), "\n", &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    return n;
}

/* Parses `text`; it must fail with one of the key codes and a one-line
 * message naming the file. */
static void assert_refused(const char *text, size_t len)
{
    uint8_t s[32], pk[AC_PUBKEY_SIZE];
    ac_error err;
    memset(&err, 0, sizeof err);
    int rc = ssh_private_parse((const uint8_t *)text, len, "hostile", (const uint8_t *)"p", 1, s,
                               pk, &err);
    if (rc == AC_OK)
        return; /* a flip in the padding of the comment's bytes can leave a valid key */
    assert_true(rc == AC_EKEY || rc == AC_EPASSPHRASE);
    assert_non_null(strstr(err.message, "hostile"));
    assert_null(strchr(err.message, '\n'));
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t pk[AC_PUBKEY_SIZE], s[32], pk2[AC_PUBKEY_SIZE];
    size_t len;
    char *text = encoded(pk, &len);
    assert_int_equal(strlen(text), len);
    TU_OK(ssh_private_parse((const uint8_t *)text, len, "k", NULL, 0, s, pk2, NULL));
    assert_memory_equal(s, seed, sizeof seed);
    assert_memory_equal(pk2, pk, AC_PUBKEY_SIZE);
    TU_OK(ssh_private_pubkey((const uint8_t *)text, len, "k", pk2, NULL));
    assert_memory_equal(pk2, pk, AC_PUBKEY_SIZE);
    sodium_free(text);
    char long_comment[1100];
    memset(long_comment, 'c', sizeof long_comment - 1);
    long_comment[sizeof long_comment - 1] = '\0';
    assert_int_equal(ssh_private_encode(seed, pk, long_comment, "k", &text, &len, NULL), AC_EINVAL);
}

static void test_truncations_and_flips(void **state)
{
    (void)state;
    uint8_t pk[AC_PUBKEY_SIZE], bin[2048];
    size_t len;
    char *text = encoded(pk, &len);
    size_t n = unarmour(text, bin, sizeof bin);
    char buf[4096];
    for (size_t cut = 0; cut < n; cut++)
        assert_refused(buf, armour(bin, cut, buf, sizeof buf));
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            bin[i] ^= (uint8_t)(1u << bit);
            assert_refused(buf, armour(bin, n, buf, sizeof buf));
            bin[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Every prefix of the text itself. */
    for (size_t cut = 0; cut < len; cut += 7)
        assert_refused(text, cut);
    sodium_free(text);
}

/* Writers of SSH wire data into a test buffer; each returns the new end. */
static size_t put_u32(uint8_t *b, size_t at, uint32_t v)
{
    tu_put_be32(b + at, v);
    return at + 4;
}

static size_t put_str(uint8_t *b, size_t at, const void *s, size_t n)
{
    at = put_u32(b, at, (uint32_t)n);
    memcpy(b + at, s, n);
    return at + n;
}

/* An encrypted key file body: cipher, bcrypt with `rounds`, the public blob
 * of pk, and a private section of 16 zero bytes. */
static size_t encrypted_body(uint8_t *b, const char *cipher, uint32_t rounds,
                             const uint8_t pk[AC_PUBKEY_SIZE])
{
    static const uint8_t magic[] = "openssh-key-v1";
    uint8_t opts[24], blob[51], zeros[16] = {0}, salt[16];
    memset(salt, 7, sizeof salt);
    size_t o = put_str(opts, 0, salt, sizeof salt);
    put_u32(opts, o, rounds);
    size_t k = put_str(blob, 0, "ssh-ed25519", 11);
    put_str(blob, k, pk, AC_PUBKEY_SIZE);
    memcpy(b, magic, sizeof magic);
    size_t at = put_str(b, sizeof magic, cipher, strlen(cipher));
    at = put_str(b, at, "bcrypt", 6);
    at = put_str(b, at, opts, sizeof opts);
    at = put_u32(b, at, 1);
    at = put_str(b, at, blob, sizeof blob);
    return put_str(b, at, zeros, sizeof zeros);
}

static void test_hostile_headers(void **state)
{
    (void)state;
    uint8_t pk[AC_PUBKEY_SIZE], bin[2048], s[32], out[AC_PUBKEY_SIZE];
    size_t len;
    char *text = encoded(pk, &len);
    size_t n = unarmour(text, bin, sizeof bin);
    sodium_free(text);
    char buf[4096];
    ac_error err;
    const uint8_t *pass = (const uint8_t *)"p";
    /* The cipher name's length, pointing far past the end. */
    put_u32(bin, 15, 0xfffffff0u);
    size_t t = armour(bin, n, buf, sizeof buf);
    assert_int_equal(ssh_private_parse((uint8_t *)buf, t, "h", NULL, 0, s, out, &err), AC_EKEY);
    /* A cipher not taken: named, with what to do. */
    t = armour(bin, encrypted_body(bin, "blowfish-cbc", 16, pk), buf, sizeof buf);
    assert_int_equal(ssh_private_parse((uint8_t *)buf, t, "h", pass, 1, s, out, &err), AC_EKEY);
    assert_non_null(strstr(err.message, "blowfish-cbc"));
    assert_non_null(strstr(err.message, "ssh-keygen -p"));
    /* 2^32-1 bcrypt rounds: refused before any work. */
    t = armour(bin, encrypted_body(bin, "aes256-ctr", 0xffffffffu, pk), buf, sizeof buf);
    assert_int_equal(ssh_private_parse((uint8_t *)buf, t, "h", pass, 1, s, out, &err), AC_EKEY);
    assert_non_null(strstr(err.message, "rounds"));
    /* 16 rounds: without a passphrase, one is asked for; with one, the zero
     * section decrypts to check words that differ: a wrong passphrase. */
    t = armour(bin, encrypted_body(bin, "aes256-ctr", 16, pk), buf, sizeof buf);
    assert_int_equal(ssh_private_parse((uint8_t *)buf, t, "h", NULL, 0, s, out, &err),
                     AC_EPASSPHRASE);
    assert_int_equal(ssh_private_parse((uint8_t *)buf, t, "h", pass, 1, s, out, &err),
                     AC_EPASSPHRASE);
    assert_non_null(strstr(err.message, "wrong passphrase"));
    /* Its public key is readable all the same. */
    TU_OK(ssh_private_pubkey((uint8_t *)buf, t, "h", out, &err));
    assert_memory_equal(out, pk, AC_PUBKEY_SIZE);
}

static void test_public_lines(void **state)
{
    (void)state;
    uint8_t pk[AC_PUBKEY_SIZE], out[AC_PUBKEY_SIZE];
    uint8_t sk[64];
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    uint8_t blob[51] = {0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9',
                        0, 0, 0, 32};
    memcpy(blob + 19, pk, 32);
    char b64[128], line[256];
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, sizeof line, "ssh-ed25519 %s me@host\n", b64);
    TU_OK(ssh_public_parse((uint8_t *)line, strlen(line), "p", out, NULL));
    assert_memory_equal(out, pk, 32);
    snprintf(line, sizeof line, "  ssh-ed25519\t%s", b64);
    TU_OK(ssh_public_parse((uint8_t *)line, strlen(line), "p", out, NULL));
    ac_error err;
    snprintf(line, sizeof line, "ssh-rsa %s", b64);
    assert_int_equal(ssh_public_parse((uint8_t *)line, strlen(line), "p", out, &err), AC_EKEY);
    assert_non_null(strstr(err.message, "found ssh-rsa"));
    /* The blob says another type than the line. */
    blob[4 + 4] = 'x';
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, sizeof line, "ssh-ed25519 %s", b64);
    assert_int_equal(ssh_public_parse((uint8_t *)line, strlen(line), "p", out, &err), AC_EKEY);
    for (size_t cut = 0; cut < strlen(line); cut++)
        assert_int_equal(ssh_public_parse((uint8_t *)line, cut, "p", out, NULL), AC_EKEY);
    snprintf(line, sizeof line, "ssh-ed25519 !!!!");
    assert_int_equal(ssh_public_parse((uint8_t *)line, strlen(line), "p", out, &err), AC_EKEY);
}

TU_MAIN(NULL, NULL, cmocka_unit_test(test_round_trip), cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_hostile_headers), cmocka_unit_test(test_public_lines))
