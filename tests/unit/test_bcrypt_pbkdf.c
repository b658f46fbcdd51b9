/* Unit tests for src/bcrypt_pbkdf.c: Blowfish's initial state (pi, computed)
 * against the words every Blowfish implementation publishes, and the
 * derivation against Python's bcrypt.kdf (pyca/bcrypt, Debian's
 * python3-bcrypt), over key lengths that exercise its strided output, one
 * and many rounds, and passphrases with every byte value.  ssh-keygen's own
 * encrypted keys are the end-to-end check (test_sshkey.c, t_sshkeys.py). */
#include "testutil.h"

#include "internal.h"

static void test_pi_words(void **state)
{
    (void)state;
    uint32_t w[1042];
    assert_int_equal(bf_pi_words(w, 1042), 0);
    /* P[0], P[1], P[17], S1[0], S4[254], S4[255] of Schneier's tables. */
    assert_int_equal(w[0], 0x243f6a88u);
    assert_int_equal(w[1], 0x85a308d3u);
    assert_int_equal(w[17], 0x8979fb1bu);
    assert_int_equal(w[18], 0xd1310ba6u);
    assert_int_equal(w[1040], 0x578fdfe3u);
    assert_int_equal(w[1041], 0x3ac372e6u);
    /* Fewer words are the same words. */
    uint32_t few[18];
    assert_int_equal(bf_pi_words(few, 18), 0);
    assert_memory_equal(few, w, sizeof few);
    assert_int_equal(bf_pi_words(w, 1043), -1);
}

/* Python's bcrypt.kdf of the hex passphrase and salt, as hex. */
static void python_kdf(const char *pass_hex, const char *salt_hex, size_t key_len,
                       unsigned rounds, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -W ignore -c 'import bcrypt; print(bcrypt.kdf(password=bytes.fromhex"
             "(\"%s\"), salt=bytes.fromhex(\"%s\"), desired_key_bytes=%zu, rounds=%u, "
             "ignore_few_rounds=True).hex())'",
             pass_hex, salt_hex, key_len, rounds);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (fgets(out, (int)cap, p) == NULL)
        out[0] = '\0';
    int rc = pclose(p);
    if (rc != 0)
        fail_msg("python3 bcrypt.kdf failed (%d): install python3-bcrypt (scripts/deps.sh)", rc);
    out[strcspn(out, "\n")] = '\0';
}

static void check_against_python(const uint8_t *pass, size_t pass_len, const uint8_t *salt,
                                 size_t salt_len, size_t key_len, unsigned rounds)
{
    char pass_hex[2 * 256 + 1], salt_hex[2 * 64 + 1], want[2 * 1024 + 2], got[2 * 1024 + 1];
    uint8_t key[1024];
    ac_hex_encode(pass, pass_len, pass_hex);
    ac_hex_encode(salt, salt_len, salt_hex);
    python_kdf(pass_hex, salt_hex, key_len, rounds, want, sizeof want);
    assert_int_equal(bcrypt_pbkdf(pass, pass_len, salt, salt_len, key, key_len, rounds), 0);
    ac_hex_encode(key, key_len, got);
    if (strcmp(got, want) != 0)
        fail_msg("bcrypt_pbkdf(%s, %s, %zu, %u):\n got  %s\n want %s", pass_hex, salt_hex,
                 key_len, rounds, got, want);
}

static void test_against_python(void **state)
{
    (void)state;
    const uint8_t pass[] = "correct horse battery staple";
    const uint8_t salt[16] = {0x5a, 0x17, 0x00, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    /* 48 bytes: aes256-ctr's key and IV, what ssh-keygen derives. */
    check_against_python(pass, sizeof pass - 1, salt, sizeof salt, 48, 16);
    check_against_python(pass, sizeof pass - 1, salt, sizeof salt, 32, 1);
    check_against_python(pass, sizeof pass - 1, salt, sizeof salt, 1, 2);
    check_against_python(pass, sizeof pass - 1, salt, sizeof salt, 33, 3);
    check_against_python(pass, sizeof pass - 1, salt, 1, 100, 2);
    uint8_t every[256];
    for (size_t i = 0; i < sizeof every; i++)
        every[i] = (uint8_t)i;
    check_against_python(every, sizeof every, every + 100, 64, 64, 4);
    check_against_python(every + 1, 1, salt, sizeof salt, 512, 1); /* Python's most */
}

static void test_limits(void **state)
{
    (void)state;
    uint8_t key[1025];
    const uint8_t p[] = "p", s[] = "salt";
    assert_int_equal(bcrypt_pbkdf(p, 1, s, 4, key, 16, 0), -1);
    assert_int_equal(bcrypt_pbkdf(p, 1, s, 0, key, 16, 1), -1);
    assert_int_equal(bcrypt_pbkdf(p, 1, s, 4, key, 0, 1), -1);
    assert_int_equal(bcrypt_pbkdf(p, 1, s, 4, key, 1025, 1), -1);
    assert_int_equal(bcrypt_pbkdf(p, 1, s, 4, key, 1024, 1), 0);
}

TU_MAIN(NULL, NULL, cmocka_unit_test(test_pi_words), cmocka_unit_test(test_against_python),
        cmocka_unit_test(test_limits))
