/* Unit tests for src/key.c: generation, PKCS#8 PEM save and load (with the
 * openssl tool and Python's cryptography as the other side), public key
 * files, signatures, and every kind of bad key file. */
#include "testutil.h"

#include <signal.h>
#include <sys/resource.h>

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

static void sh(const char *fmt, ...) AC_PRINTF(1, 2);

/* Runs a shell command built from fmt; it must succeed. */
static void sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    tu_vformat(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

static void pubkey_hex(const uint8_t pk[AC_PUBKEY_SIZE], char hex[2 * AC_PUBKEY_SIZE + 1])
{
    ac_hex_encode(pk, AC_PUBKEY_SIZE, hex);
}

/* Loading `path` fails with `code` and a message naming the file and saying `why`. */
static void assert_load_fails(const char *path, int code, const char *why)
{
    ac_key *key = (ac_key *)&key; /* must be reset to NULL */
    ac_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(ac_key_load(path, &key, &err), code);
    assert_null(key);
    assert_int_equal(err.code, code);
    assert_non_null(strstr(err.message, path));
    if (why != NULL && strstr(err.message, why) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, why);
    assert_null(strchr(err.message, '\n')); /* one line */
}

static void assert_pubkey_load_fails(const char *path, int code, const char *why)
{
    uint8_t pk[AC_PUBKEY_SIZE];
    ac_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(ac_pubkey_load(path, pk, &err), code);
    assert_int_equal(err.code, code);
    assert_non_null(strstr(err.message, path));
    if (why != NULL && strstr(err.message, why) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, why);
}

/* The signature `openssl pkeyutl` makes of msg with the PEM key at `pem`. */
static void openssl_sign(const char *dir, const char *pem, const void *msg, size_t len,
                         uint8_t sig[AC_SIGNATURE_SIZE])
{
    char msgp[4200], sigp[4200];
    tu_path_in(msgp, sizeof msgp, dir, "msg.bin");
    tu_path_in(sigp, sizeof sigp, dir, "msg.sig");
    tu_write_path(msgp, msg, len);
    sh("openssl pkeyutl -sign -rawin -inkey '%s' -in '%s' -out '%s'", pem, msgp, sigp);
    size_t n;
    char *s = tu_read_text(sigp, &n);
    assert_int_equal(n, AC_SIGNATURE_SIZE);
    memcpy(sig, s, AC_SIGNATURE_SIZE);
    free(s);
}

/* ---------------------------------------------------------------- tests */

static void test_generate_save_load(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_path_in(path, sizeof path, dir, "k.pem");
    ac_error err;
    ac_key *key = NULL, *back = NULL;
    TU_OK(ac_key_generate(&key, &err));
    TU_OK(ac_key_save(key, path, &err));

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(ac_key_file_exposed(path, &err), 0);
    char *pem = tu_read_text(path, NULL);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----\n"));
    assert_non_null(strstr(pem, "-----END PRIVATE KEY-----\n"));
    free(pem);

    TU_OK(ac_key_load(path, &back, &err));
    uint8_t pk1[AC_PUBKEY_SIZE], pk2[AC_PUBKEY_SIZE];
    ac_key_pubkey(key, pk1);
    ac_key_pubkey(back, pk2);
    assert_memory_equal(pk1, pk2, AC_PUBKEY_SIZE);

    /* Same secret: Ed25519 is deterministic, so the signatures are equal, and valid. */
    const char msg[] = "attest this";
    uint8_t s1[AC_SIGNATURE_SIZE], s2[AC_SIGNATURE_SIZE];
    key_sign(key, (const uint8_t *)msg, sizeof msg - 1, s1);
    key_sign(back, (const uint8_t *)msg, sizeof msg - 1, s2);
    assert_memory_equal(s1, s2, AC_SIGNATURE_SIZE);
    assert_int_equal(crypto_sign_verify_detached(s1, (const uint8_t *)msg, sizeof msg - 1, pk1),
                     0);
    s1[0] ^= 1;
    assert_int_not_equal(
        crypto_sign_verify_detached(s1, (const uint8_t *)msg, sizeof msg - 1, pk1), 0);

    /* Two generated keys differ. */
    ac_key *other = NULL;
    TU_OK(ac_key_generate(&other, &err));
    ac_key_pubkey(other, pk2);
    assert_memory_not_equal(pk1, pk2, AC_PUBKEY_SIZE);
    ac_key_free(other);
    ac_key_free(key);
    ac_key_free(back);
    ac_key_free(NULL);
    tu_rmtree(dir);
}

static void test_save_refuses_overwrite(void **state)
{
    (void)state;
    char dir[4096], path[4200], link[4200], target[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_path_in(path, sizeof path, dir, "k.pem");
    ac_key *a = NULL, *b = NULL;
    ac_error err;
    TU_OK(ac_key_generate(&a, &err));
    TU_OK(ac_key_generate(&b, &err));
    TU_OK(ac_key_save(a, path, &err));
    char *before = tu_read_text(path, NULL);

    assert_int_equal(ac_key_save(b, path, &err), AC_EEXIST);
    assert_non_null(strstr(err.message, path));
    char *after = tu_read_text(path, NULL);
    assert_string_equal(before, after);

    /* A dangling symlink is not followed: the target is never created. */
    tu_path_in(link, sizeof link, dir, "link.pem");
    tu_path_in(target, sizeof target, dir, "target.pem");
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(ac_key_save(b, link, &err), AC_EEXIST);
    assert_int_equal(access(target, F_OK), -1);

    char missing[4200];
    tu_path_in(missing, sizeof missing, dir, "no/such/dir/k.pem");
    assert_int_equal(ac_key_save(b, missing, &err), AC_ENOTFOUND);
    assert_int_equal(err.sys_errno, ENOENT);

    free(before);
    free(after);
    ac_key_free(a);
    ac_key_free(b);
    tu_rmtree(dir);
}

/* A write that fails part way (file size limit) leaves no partial key behind. */
static void test_save_failed_write_unlinks(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_path_in(path, sizeof path, dir, "k.pem");
    ac_key *key = NULL;
    ac_error err;
    TU_OK(ac_key_generate(&key, &err));

    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 20; /* the PEM is 119 bytes */
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = ac_key_save(key, path, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, old);

    assert_int_equal(rc, AC_EIO);
    assert_int_equal(err.sys_errno, EFBIG);
    assert_non_null(strstr(err.message, path));
    assert_int_equal(access(path, F_OK), -1);
    TU_OK(ac_key_save(key, path, &err)); /* and the path is free again */
    ac_key_free(key);
    tu_rmtree(dir);
}

/* The shared vector keys (written by Python's cryptography) give their .pub. */
static void test_load_vector_keys(void **state)
{
    (void)state;
    const char *names[] = {"k1", "k2", "k3", "evil"};
    for (size_t i = 0; i < 4; i++) {
        char pem[4200], pub[4200];
        tu_vector_key(pem, sizeof pem, names[i], "pem");
        tu_vector_key(pub, sizeof pub, names[i], "pub");
        char *want = tu_read_text(pub, NULL);
        want[strcspn(want, "\r\n")] = '\0';

        ac_key *key = NULL;
        ac_error err;
        TU_OK(ac_key_load(pem, &key, &err));
        uint8_t pk[AC_PUBKEY_SIZE];
        char hex[2 * AC_PUBKEY_SIZE + 1];
        ac_key_pubkey(key, pk);
        pubkey_hex(pk, hex);
        assert_string_equal(hex, want);

        /* Both the .pub hex file and the private key give the public key. */
        TU_OK(ac_pubkey_load(pub, pk, &err));
        pubkey_hex(pk, hex);
        assert_string_equal(hex, want);
        TU_OK(ac_pubkey_load(pem, pk, &err));
        pubkey_hex(pk, hex);
        assert_string_equal(hex, want);
        ac_key_free(key);
        free(want);
    }
}

/* openssl genpkey -> ac_key_load, and ac_key_save -> openssl pkey / pkeyutl. */
static void test_openssl_interop(void **state)
{
    (void)state;
    char dir[4096], gen[4200], genpub[4200], saved[4200], savedpub[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_path_in(gen, sizeof gen, dir, "gen.pem");
    tu_path_in(genpub, sizeof genpub, dir, "gen.pub.pem");
    tu_path_in(saved, sizeof saved, dir, "saved.pem");
    tu_path_in(savedpub, sizeof savedpub, dir, "saved.pub.pem");
    const char msg[] = "interop message";
    uint8_t pk[AC_PUBKEY_SIZE], pk_file[AC_PUBKEY_SIZE];
    uint8_t ours[AC_SIGNATURE_SIZE], theirs[AC_SIGNATURE_SIZE];
    ac_error err;

    /* openssl writes, we read. */
    sh("openssl genpkey -algorithm ed25519 -out '%s' 2>/dev/null", gen);
    sh("openssl pkey -in '%s' -pubout -out '%s'", gen, genpub);
    ac_key *key = NULL;
    TU_OK(ac_key_load(gen, &key, &err));
    ac_key_pubkey(key, pk);
    TU_OK(ac_pubkey_load(genpub, pk_file, &err));
    assert_memory_equal(pk, pk_file, AC_PUBKEY_SIZE);
    key_sign(key, (const uint8_t *)msg, sizeof msg - 1, ours);
    openssl_sign(dir, gen, msg, sizeof msg - 1, theirs);
    assert_memory_equal(ours, theirs, AC_SIGNATURE_SIZE);
    ac_key_free(key);

    /* We write, openssl reads. */
    TU_OK(ac_key_generate(&key, &err));
    TU_OK(ac_key_save(key, saved, &err));
    sh("openssl pkey -in '%s' -noout", saved);
    sh("openssl pkey -in '%s' -pubout -out '%s'", saved, savedpub);
    ac_key_pubkey(key, pk);
    TU_OK(ac_pubkey_load(savedpub, pk_file, &err));
    assert_memory_equal(pk, pk_file, AC_PUBKEY_SIZE);
    key_sign(key, (const uint8_t *)msg, sizeof msg - 1, ours);
    openssl_sign(dir, saved, msg, sizeof msg - 1, theirs);
    assert_memory_equal(ours, theirs, AC_SIGNATURE_SIZE);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* Python's cryptography writes PKCS#8 that we read, and reads ours. */
static void test_python_interop(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import cryptography' 2>/dev/null") != 0) {
        print_message("SKIP python interop: no python3-cryptography\n");
        return;
    }
    char dir[4096], pem[4200], pub[4200], saved[4200], savedpub[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_path_in(pem, sizeof pem, dir, "py.pem");
    tu_path_in(pub, sizeof pub, dir, "py.pub");
    tu_path_in(saved, sizeof saved, dir, "ours.pem");
    tu_path_in(savedpub, sizeof savedpub, dir, "ours.pub");
    static const char gen_py[] =
        "import sys\n"
        "from cryptography.hazmat.primitives import serialization as s\n"
        "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n"
        "k = Ed25519PrivateKey.generate()\n"
        "open(sys.argv[1], 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8,"
        " s.NoEncryption()))\n"
        "open(sys.argv[2], 'w').write(k.public_key().public_bytes(s.Encoding.Raw,"
        " s.PublicFormat.Raw).hex() + '\\n')\n";
    static const char read_py[] =
        "import sys\n"
        "from cryptography.hazmat.primitives import serialization as s\n"
        "k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), None)\n"
        "open(sys.argv[2], 'w').write(k.public_key().public_bytes(s.Encoding.Raw,"
        " s.PublicFormat.Raw).hex())\n";
    char script[4200];
    tu_path_in(script, sizeof script, dir, "gen.py");
    tu_write_path(script, gen_py, sizeof gen_py - 1);
    sh("/usr/bin/python3 '%s' '%s' '%s'", script, pem, pub);

    ac_key *key = NULL;
    ac_error err;
    uint8_t pk[AC_PUBKEY_SIZE], pk_file[AC_PUBKEY_SIZE];
    TU_OK(ac_key_load(pem, &key, &err));
    ac_key_pubkey(key, pk);
    TU_OK(ac_pubkey_load(pub, pk_file, &err));
    assert_memory_equal(pk, pk_file, AC_PUBKEY_SIZE);
    ac_key_free(key);

    TU_OK(ac_key_generate(&key, &err));
    TU_OK(ac_key_save(key, saved, &err));
    tu_path_in(script, sizeof script, dir, "read.py");
    tu_write_path(script, read_py, sizeof read_py - 1);
    sh("/usr/bin/python3 '%s' '%s' '%s'", script, saved, savedpub);
    char *hex = tu_read_text(savedpub, NULL);
    char want[2 * AC_PUBKEY_SIZE + 1];
    ac_key_pubkey(key, pk);
    pubkey_hex(pk, want);
    assert_string_equal(hex, want);
    free(hex);
    ac_key_free(key);
    tu_rmtree(dir);
}

static void test_load_rejects_other_key_types(void **state)
{
    (void)state;
    char dir[4096], p[4200];
    tu_tmpdir(dir, sizeof dir);
    sh("cd '%s' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem "
       "2>/dev/null && openssl pkey -in rsa.pem -traditional -out rsa-trad.pem && "
       "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null && "
       "openssl genpkey -algorithm ed448 -out ed448.pem && "
       "openssl genpkey -algorithm x25519 -out x25519.pem && "
       "openssl pkey -in rsa.pem -pubout -out rsa.pub.pem",
       dir);
    assert_load_fails(tu_path_in(p, sizeof p, dir, "rsa.pem"), AC_EKEY,
                      "not an Ed25519 key (found RSA)");
    assert_load_fails(tu_path_in(p, sizeof p, dir, "rsa-trad.pem"), AC_EKEY, "(found RSA)");
    assert_load_fails(tu_path_in(p, sizeof p, dir, "ec.pem"), AC_EKEY,
                      "not an Ed25519 key (found EC)");
    assert_load_fails(tu_path_in(p, sizeof p, dir, "ed448.pem"), AC_EKEY, "(found ED448)");
    assert_load_fails(tu_path_in(p, sizeof p, dir, "x25519.pem"), AC_EKEY, "(found X25519)");
    assert_load_fails(tu_path_in(p, sizeof p, dir, "rsa.pub.pem"), AC_EKEY, "public key");

    assert_pubkey_load_fails(tu_path_in(p, sizeof p, dir, "rsa.pub.pem"), AC_EKEY, "(found RSA)");
    assert_pubkey_load_fails(tu_path_in(p, sizeof p, dir, "ec.pem"), AC_EKEY, "(found EC)");
    tu_rmtree(dir);
}

static void test_load_rejects_bad_files(void **state)
{
    (void)state;
    char dir[4096], p[4200], k1[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_vector_key(k1, sizeof k1, "k1", "pem");
    size_t len;
    char *pem = tu_read_text(k1, &len);

    tu_write_path(tu_path_in(p, sizeof p, dir, "truncated.pem"), pem, len / 2);
    assert_load_fails(p, AC_EKEY, "truncated");
    tu_write_path(tu_path_in(p, sizeof p, dir, "header-only.pem"),
                  "-----BEGIN PRIVATE KEY-----\n", 28);
    assert_load_fails(p, AC_EKEY, "truncated");

    /* "MC4C" -> "MC5C" turns the INTEGER tag of the version into garbage. */
    char *damaged = strdup(pem);
    assert_non_null(damaged);
    char *at = strstr(damaged, "MC4C");
    assert_non_null(at);
    at[2] = '5';
    tu_write_path(tu_path_in(p, sizeof p, dir, "damaged.pem"), damaged, len);
    assert_load_fails(p, AC_EKEY, "damaged");

    tu_write_path(tu_path_in(p, sizeof p, dir, "empty.pem"), "", 0);
    assert_load_fails(p, AC_EKEY, "empty");
    tu_write_path(tu_path_in(p, sizeof p, dir, "text.pem"), "hello\n", 6);
    assert_load_fails(p, AC_EKEY, "not a PEM");
    assert_load_fails(dir, AC_EKEY, "directory");

    assert_load_fails(tu_path_in(p, sizeof p, dir, "missing.pem"), AC_ENOTFOUND, "No such file");
    ac_key *key = NULL;
    ac_error err;
    assert_int_equal(ac_key_load(p, &key, &err), AC_ENOTFOUND);
    assert_int_equal(err.sys_errno, ENOENT);

    /* An encrypted key without its passphrase: AC_EPASSPHRASE, without
     * prompting (stdin is /dev/null: a prompt would read nothing and fail). */
    sh("openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:secret -out '%s' </dev/null",
       tu_path_in(p, sizeof p, dir, "enc.pem"));
    assert_load_fails(p, AC_EPASSPHRASE, "encrypted");

    /* A FIFO is not opened for a blocking read. */
    assert_int_equal(mkfifo(tu_path_in(p, sizeof p, dir, "fifo"), 0600), 0);
    assert_load_fails(p, AC_EKEY, "not a regular file");

    /* A huge file is not slurped. */
    sh("head -c 100000 /dev/zero > '%s'", tu_path_in(p, sizeof p, dir, "huge.pem"));
    assert_load_fails(p, AC_EKEY, "too large");

    free(damaged);
    free(pem);
    tu_rmtree(dir);
}

static void test_pubkey_load_formats(void **state)
{
    (void)state;
    char dir[4096], p[4200], k1pub[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_vector_key(k1pub, sizeof k1pub, "k1", "pub");
    char *hex = tu_read_text(k1pub, NULL);
    hex[strcspn(hex, "\r\n")] = '\0';
    assert_int_equal(strlen(hex), 64);
    uint8_t want[AC_PUBKEY_SIZE], pk[AC_PUBKEY_SIZE];
    TU_OK(ac_hex_decode(hex, want, sizeof want, NULL));
    ac_error err;

    char buf[256];
    const char *endings[] = {"", "\n", "\r\n", "  \t\n\n"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "%s%s", hex, endings[i]);
        tu_write_path(tu_path_in(p, sizeof p, dir, "v.pub"), buf, strlen(buf));
        memset(pk, 0, sizeof pk);
        TU_OK(ac_pubkey_load(p, pk, &err));
        assert_memory_equal(pk, want, AC_PUBKEY_SIZE);
        assert_int_equal(unlink(p), 0);
    }
    /* Uppercase hex too. */
    for (char *c = hex; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    tu_write_path(tu_path_in(p, sizeof p, dir, "upper.pub"), hex, 64);
    TU_OK(ac_pubkey_load(p, pk, &err));
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);

    /* SubjectPublicKeyInfo made by openssl from the vector private key. */
    char k1[4200];
    tu_vector_key(k1, sizeof k1, "k1", "pem");
    sh("openssl pkey -in '%s' -pubout -out '%s'", k1, tu_path_in(p, sizeof p, dir, "spki.pem"));
    TU_OK(ac_pubkey_load(p, pk, &err));
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);

    /* Truncated SPKI. */
    size_t len;
    char *spki = tu_read_text(p, &len);
    tu_write_path(tu_path_in(p, sizeof p, dir, "spki-cut.pem"), spki, len - 20);
    assert_pubkey_load_fails(p, AC_EKEY, "truncated");
    free(spki);
    free(hex);
    tu_rmtree(dir);
}

static void test_pubkey_load_rejects(void **state)
{
    (void)state;
    char dir[4096], p[4200];
    tu_tmpdir(dir, sizeof dir);
    const char *h63 = "c0336f46e45b1879e631507c73e8398c5eeb435dfa3d908a97c74b19aa73e1e";
    tu_write_path(tu_path_in(p, sizeof p, dir, "short.pub"), h63, strlen(h63));
    assert_pubkey_load_fails(p, AC_EKEY, "64 hex");
    const char *bad = "c0336f46e45b1879e631507c73e8398c5eeb435dfa3d908a97c74b19aa73e1ez";
    tu_write_path(tu_path_in(p, sizeof p, dir, "bad.pub"), bad, strlen(bad));
    assert_pubkey_load_fails(p, AC_EKEY, "'z'");
    /* Leading whitespace or two keys are not "64 hex characters". */
    char two[200];
    snprintf(two, sizeof two, " %s0\n", h63);
    tu_write_path(tu_path_in(p, sizeof p, dir, "lead.pub"), two, strlen(two));
    assert_pubkey_load_fails(p, AC_EKEY, NULL);
    /* The identity point has small order: it can never verify a signature. */
    const char *ident = "0100000000000000000000000000000000000000000000000000000000000000";
    tu_write_path(tu_path_in(p, sizeof p, dir, "ident.pub"), ident, strlen(ident));
    assert_pubkey_load_fails(p, AC_EKEY, "not a valid Ed25519 public key");

    tu_write_path(tu_path_in(p, sizeof p, dir, "empty.pub"), "", 0);
    assert_pubkey_load_fails(p, AC_EKEY, "empty");
    assert_pubkey_load_fails(dir, AC_EKEY, "directory");
    assert_pubkey_load_fails(tu_path_in(p, sizeof p, dir, "missing.pub"), AC_ENOTFOUND, NULL);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- OpenSSH keys */

/* The raw public key in an "ssh-ed25519 AAAA..." line, as ssh-keygen -y prints it. */
static void ssh_line_pubkey(const char *line, uint8_t out[AC_PUBKEY_SIZE])
{
    const char *b64 = strchr(line, ' ');
    assert_non_null(b64);
    b64++;
    uint8_t blob[64];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(blob, sizeof blob, b64, strcspn(b64, " \n"), NULL, &n,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, 51);
    assert_memory_equal(blob + 4, "ssh-ed25519", 11);
    memcpy(out, blob + 19, AC_PUBKEY_SIZE);
}

/* `ssh-keygen -y` of a key file (with passphrase `pass`, or none). */
static void ssh_keygen_pub(const char *dir, const char *key, const char *pass,
                           uint8_t out[AC_PUBKEY_SIZE])
{
    char pubp[4200];
    tu_path_in(pubp, sizeof pubp, dir, "y.pub");
    sh("ssh-keygen -y -P '%s' -f '%s' > '%s'", pass, key, pubp);
    char *line = tu_read_text(pubp, NULL);
    ssh_line_pubkey(line, out);
    free(line);
}

/* Keys ssh-keygen makes load (plain, and encrypted with their passphrase),
 * give the public key ssh-keygen gives, and sign what it verifies. */
static void test_openssh_keys_from_ssh_keygen(void **state)
{
    (void)state;
    char dir[4096], plain[4200], enc[4200], pubfile[4300];
    tu_tmpdir(dir, sizeof dir);
    tu_path_in(plain, sizeof plain, dir, "id_plain");
    tu_path_in(enc, sizeof enc, dir, "id_enc");
    sh("ssh-keygen -q -t ed25519 -N '' -C 'plain key' -f '%s'", plain);
    sh("ssh-keygen -q -t ed25519 -N 'pass phrase' -f '%s'", enc);
    ac_error err;
    uint8_t want[AC_PUBKEY_SIZE], pk[AC_PUBKEY_SIZE];
    ac_key *key = NULL;

    ssh_keygen_pub(dir, plain, "", want);
    TU_OK(ac_key_load(plain, &key, &err));
    ac_key_pubkey(key, pk);
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);
    /* A signature ssh-keygen's key makes here is one libsodium verifies with it. */
    uint8_t sig[AC_SIGNATURE_SIZE];
    key_sign(key, (const uint8_t *)"m", 1, sig);
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1, want), 0);
    ac_key_free(key);
    snprintf(pubfile, sizeof pubfile, "%s.pub", plain);
    TU_OK(ac_pubkey_load(pubfile, pk, &err));
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);
    TU_OK(ac_pubkey_load(plain, pk, &err));
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);
    /* A passphrase given for an unencrypted key is not needed, and harmless. */
    TU_OK(ac_key_load_passphrase(plain, "x", 1, &key, &err));
    ac_key_free(key);

    ssh_keygen_pub(dir, enc, "pass phrase", want);
    assert_load_fails(enc, AC_EPASSPHRASE, "passphrase is needed");
    key = (ac_key *)&key;
    assert_int_equal(ac_key_load_passphrase(enc, "pass phrasE", 11, &key, &err), AC_EPASSPHRASE);
    assert_null(key);
    assert_non_null(strstr(err.message, "wrong passphrase"));
    TU_OK(ac_key_load_passphrase(enc, "pass phrase", 11, &key, &err));
    ac_key_pubkey(key, pk);
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);
    ac_key_free(key);
    /* The public half of an encrypted OpenSSH key is in the clear. */
    TU_OK(ac_pubkey_load(enc, pk, &err));
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);

    /* Other key types are named. */
    char ecdsa[4200];
    tu_path_in(ecdsa, sizeof ecdsa, dir, "id_ecdsa");
    sh("ssh-keygen -q -t ecdsa -N '' -f '%s'", ecdsa);
    assert_load_fails(ecdsa, AC_EKEY, "found ecdsa-sha2-nistp256");
    snprintf(pubfile, sizeof pubfile, "%s.pub", ecdsa);
    assert_pubkey_load_fails(pubfile, AC_EKEY, "found ecdsa-sha2-nistp256");
    tu_rmtree(dir);
}

/* keygen --format openssh: ssh-keygen reads it, re-encrypts it, and the
 * result loads again with the passphrase. */
static void test_save_openssh(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_path_in(path, sizeof path, dir, "ours");
    ac_error err;
    ac_key *key = NULL, *back = NULL;
    uint8_t pk[AC_PUBKEY_SIZE], want[AC_PUBKEY_SIZE];
    TU_OK(ac_key_generate(&key, &err));
    ac_key_pubkey(key, want);
    TU_OK(ac_key_save_as(key, path, AC_KEY_OPENSSH, "me@host", &err));
    assert_int_equal(ac_key_save_as(key, path, AC_KEY_OPENSSH, NULL, &err), AC_EEXIST);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    ssh_keygen_pub(dir, path, "", pk);
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);
    TU_OK(ac_key_load(path, &back, &err));
    ac_key_pubkey(back, pk);
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);
    ac_key_free(back);
    sh("ssh-keygen -q -p -N 'new pass' -f '%s'", path);
    assert_load_fails(path, AC_EPASSPHRASE, "passphrase");
    TU_OK(ac_key_load_passphrase(path, "new pass", 8, &back, &err));
    ac_key_pubkey(back, pk);
    assert_memory_equal(pk, want, AC_PUBKEY_SIZE);
    ac_key_free(back);
    char other[4200];
    assert_int_equal(ac_key_save_as(key, tu_path_in(other, sizeof other, dir, "x"),
                                    (ac_key_format)7, NULL, &err),
                     AC_EINVAL);
    ac_key_free(key);
    tu_rmtree(dir);
}

/* An encrypted PKCS#8 key (openssl genpkey -aes256). */
static void test_encrypted_pkcs8(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_path_in(path, sizeof path, dir, "enc.pem");
    sh("openssl genpkey -algorithm ed25519 -aes256 -pass pass:sesame -out '%s' 2>/dev/null", path);
    assert_load_fails(path, AC_EPASSPHRASE, "passphrase is needed");
    ac_key *key = NULL;
    ac_error err;
    assert_int_equal(ac_key_load_passphrase(path, "sesamE", 6, &key, &err), AC_EPASSPHRASE);
    assert_null(key);
    TU_OK(ac_key_load_passphrase(path, "sesame", 6, &key, &err));
    ac_key_free(key);
    assert_pubkey_load_fails(path, AC_EPASSPHRASE, "passphrase");
    tu_rmtree(dir);
}

static void test_file_exposed(void **state)
{
    (void)state;
    char dir[4096], p[4200];
    tu_tmpdir(dir, sizeof dir);
    tu_write_path(tu_path_in(p, sizeof p, dir, "k.pem"), "x", 1);
    ac_error err;
    const struct {
        mode_t mode;
        int exposed;
    } cases[] = {{0600, 0}, {0400, 0}, {0620, 0}, {0602, 0}, {0640, 1}, {0604, 1}, {0644, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(chmod(p, cases[i].mode), 0);
        assert_int_equal(ac_key_file_exposed(p, &err), cases[i].exposed);
    }
    assert_int_equal(ac_key_file_exposed(tu_path_in(p, sizeof p, dir, "missing"), &err),
                     AC_ENOTFOUND);
    assert_non_null(strstr(err.message, p));
    tu_rmtree(dir);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_generate_save_load),
        cmocka_unit_test(test_save_refuses_overwrite),
        cmocka_unit_test(test_save_failed_write_unlinks),
        cmocka_unit_test(test_load_vector_keys),
        cmocka_unit_test(test_openssl_interop),
        cmocka_unit_test(test_python_interop),
        cmocka_unit_test(test_load_rejects_other_key_types),
        cmocka_unit_test(test_load_rejects_bad_files),
        cmocka_unit_test(test_pubkey_load_formats),
        cmocka_unit_test(test_pubkey_load_rejects),
        cmocka_unit_test(test_openssh_keys_from_ssh_keygen),
        cmocka_unit_test(test_save_openssh), cmocka_unit_test(test_encrypted_pkcs8),
        cmocka_unit_test(test_file_exposed))
