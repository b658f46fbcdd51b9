/* Ed25519 keys: libsodium signs, OpenSSL reads and writes the PKCS#8 and
 * SubjectPublicKeyInfo PEM files that `openssl genpkey -algorithm ed25519`
 * and Python's `cryptography` use (section 9 of the format), and sshkey.c
 * the OpenSSH files that `ssh-keygen -t ed25519` writes, so a user's SSH key
 * works as it is.  An encrypted key is never prompted for here: the library
 * says AC_EPASSPHRASE and the caller asks (or not). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "internal.h"

/* A PEM key is a few hundred bytes; anything far larger is not a key file,
 * and the bound keeps a mistaken path (a disk image, say) from being slurped. */
enum { KEY_FILE_MAX = 64 * 1024, SEED_SIZE = 32 };

struct ac_key {
    uint8_t sk[crypto_sign_SECRETKEYBYTES]; /* libsodium form: seed || public key */
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
};

/* sodium_init picks the fastest implementations and seeds its RNG; it is
 * idempotent and thread-safe, so every entry point that needs it calls it. */
static int sodium_ready(ac_error *err)
{
    if (sodium_init() < 0)
        return ac_fail(err, AC_ECRYPTO, -1, "libsodium failed to initialise");
    return AC_OK;
}

static int key_alloc(ac_key **out, ac_error *err)
{
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "no memory for a key");
    return AC_OK;
}

/* ---------------------------------------------------------------- file reading */

/* A read buffer that may hold a secret: wiped before it is freed. */
typedef struct key_file {
    uint8_t *data;
    size_t len;
} key_file;

static void key_file_free(key_file *f)
{
    if (f->data != NULL) {
        sodium_memzero(f->data, KEY_FILE_MAX + 1);
        free(f->data);
    }
    f->data = NULL;
    f->len = 0;
}

/* Checks that the open `fd` is a regular, non-empty file of sane size. */
static int key_file_check(int fd, const char *path, ac_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s: fstat", path);
    if (S_ISDIR(st.st_mode))
        return ac_fail(err, AC_EKEY, -1, "%s: is a directory, not a key file", path);
    if (!S_ISREG(st.st_mode))
        return ac_fail(err, AC_EKEY, -1, "%s: not a regular file", path);
    if (st.st_size == 0)
        return ac_fail(err, AC_EKEY, -1, "%s: empty file, not a key", path);
    if (st.st_size > KEY_FILE_MAX)
        return ac_fail(err, AC_EKEY, -1, "%s: %lld bytes is too large for a key file", path,
                       (long long)st.st_size);
    return AC_OK;
}

/* Reads at most KEY_FILE_MAX bytes of `fd`; a longer file is rejected. */
static int key_file_slurp(int fd, const char *path, key_file *f, ac_error *err)
{
    f->data = malloc(KEY_FILE_MAX + 1);
    if (f->data == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "%s: no memory to read the key", path);
    while (f->len <= KEY_FILE_MAX) {
        ssize_t n = read(fd, f->data + f->len, KEY_FILE_MAX + 1 - f->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ac_fail_errno(err, AC_EIO, -1, "%s: read", path);
        if (n == 0)
            break;
        f->len += (size_t)n;
    }
    if (f->len > KEY_FILE_MAX)
        return ac_fail(err, AC_EKEY, -1, "%s: too large for a key file", path);
    if (f->len == 0) /* it shrank after fstat */
        return ac_fail(err, AC_EKEY, -1, "%s: empty file, not a key", path);
    return AC_OK;
}

/* The whole of a small key file, wiped by key_file_free (also on error). */
static int key_file_read(const char *path, key_file *f, ac_error *err)
{
    f->data = NULL;
    f->len = 0;
    /* O_NONBLOCK: opening a FIFO by mistake must not hang; it is then
     * rejected as not a regular file.  No effect on regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return ac_fail_errno(err, errno == ENOENT ? AC_ENOTFOUND : AC_EIO, -1, "%s: open",
                             path);
    int rc = key_file_check(fd, path, err);
    if (rc == AC_OK)
        rc = key_file_slurp(fd, path, f, err);
    (void)close(fd); /* read-only: close cannot lose data */
    if (rc != AC_OK)
        key_file_free(f);
    return rc;
}

static bool contains(const key_file *f, const char *needle)
{
    return memmem(f->data, f->len, needle, strlen(needle)) != NULL;
}

/* ---------------------------------------------------------------- PEM parsing */

/* The passphrase handed to OpenSSL's PEM reader.  Without one it never
 * prompts on the terminal (OpenSSL's default does): the caller asks. */
typedef struct passphrase {
    const char *text;
    size_t len;
} passphrase;

static int pem_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const passphrase *pass = u;
    if (pass == NULL || pass->text == NULL || size < 0 || pass->len > (size_t)size)
        return -1;
    memcpy(buf, pass->text, pass->len);
    return (int)pass->len;
}

/* "RSA", "EC", "ED448", ... for messages about the wrong key type. */
static const char *pkey_type_name(const EVP_PKEY *pkey)
{
    const char *name = EVP_PKEY_get0_type_name(pkey);
    return name != NULL ? name : "unknown type";
}

/* Explains why a PEM block did not decode, from what the text holds;
 * `marker` ends the BEGIN line of the block we looked for. */
static int pem_diagnose(const key_file *f, const char *path, const char *marker,
                        const char *what, ac_error *err)
{
    if (!contains(f, "-----BEGIN "))
        return ac_fail(err, AC_EKEY, -1, "%s: not a PEM %s (no BEGIN line)", path, what);
    if (!contains(f, marker))
        return ac_fail(err, AC_EKEY, -1, "%s: holds no PEM %s", path, what);
    if (!contains(f, "-----END "))
        return ac_fail(err, AC_EKEY, -1, "%s: truncated PEM (no END line)", path);
    return ac_fail(err, AC_EKEY, -1, "%s: damaged PEM %s", path, what);
}

/* Decodes the PKCS#8 PEM in `f` (decrypted with `pass` when it is
 * encrypted; NULL: no passphrase) into a libsodium key pair. */
static int parse_pkcs8(const key_file *f, const char *path, const passphrase *pass, ac_key *key,
                       ac_error *err)
{
    if (f->len > INT_MAX)
        return ac_fail(err, AC_EKEY, -1, "%s: too large for a key file", path);
    if (!contains(f, "PRIVATE KEY-----") && contains(f, "-----BEGIN PUBLIC KEY-----"))
        return ac_fail(err, AC_EKEY, -1, "%s: holds a public key, not a private key", path);
    bool encrypted = contains(f, "-----BEGIN ENCRYPTED PRIVATE KEY-----");
    if (encrypted && pass == NULL)
        return ac_fail(err, AC_EPASSPHRASE, -1, "%s: encrypted private key: its passphrase is "
                       "needed", path);
    BIO *bio = BIO_new_mem_buf(f->data, (int)f->len);
    if (bio == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "%s: no memory to parse the key", path);
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_passphrase, (void *)pass);
    BIO_free(bio);
    ERR_clear_error(); /* the queue is per thread: leave nothing behind */
    if (pkey == NULL && encrypted)
        return ac_fail(err, AC_EPASSPHRASE, -1, "%s: wrong passphrase (or a damaged encrypted "
                       "key)", path);
    if (pkey == NULL)
        return pem_diagnose(f, path, "PRIVATE KEY-----", "private key", err);

    int rc = AC_OK;
    uint8_t seed[SEED_SIZE];
    size_t seed_len = sizeof seed;
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
        rc = ac_fail(err, AC_EKEY, -1, "%s: not an Ed25519 key (found %s)", path,
                     pkey_type_name(pkey));
    else if (EVP_PKEY_get_raw_private_key(pkey, seed, &seed_len) != 1 || seed_len != SEED_SIZE)
        rc = ac_fail(err, AC_EKEY, -1, "%s: cannot extract the Ed25519 private key", path);
    else if (crypto_sign_seed_keypair(key->pk, key->sk, seed) != 0)
        rc = ac_fail(err, AC_ECRYPTO, -1, "%s: libsodium cannot derive the key pair", path);
    sodium_memzero(seed, sizeof seed);
    EVP_PKEY_free(pkey); /* OpenSSL clears the Ed25519 private key on free */
    ERR_clear_error();
    return rc;
}

/* ---------------------------------------------------------------- public API */

ac_status ac_key_generate(ac_key **out, ac_error *err)
{
    if (out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "key: no output pointer");
    *out = NULL;
    int rc = sodium_ready(err);
    if (rc == AC_OK)
        rc = key_alloc(out, err);
    if (rc != AC_OK)
        return rc;
    if (crypto_sign_keypair((*out)->pk, (*out)->sk) != 0) {
        ac_key_free(*out);
        *out = NULL;
        return ac_fail(err, AC_ECRYPTO, -1, "libsodium failed to generate a key");
    }
    return AC_OK;
}

/* An OpenSSH private key into a libsodium key pair. */
static int parse_openssh(const key_file *f, const char *path, const passphrase *pass, ac_key *key,
                         ac_error *err)
{
    uint8_t seed[SEED_SIZE], pk[AC_PUBKEY_SIZE];
    int rc = ssh_private_parse(f->data, f->len, path,
                               pass != NULL ? (const uint8_t *)pass->text : NULL,
                               pass != NULL ? pass->len : 0, seed, pk, err);
    if (rc == AC_OK && crypto_sign_seed_keypair(key->pk, key->sk, seed) != 0)
        rc = ac_fail(err, AC_ECRYPTO, -1, "%s: libsodium cannot derive the key pair", path);
    if (rc == AC_OK && memcmp(key->pk, pk, AC_PUBKEY_SIZE) != 0)
        rc = ac_fail(err, AC_EKEY, -1, "%s: OpenSSH key whose public key does not match its "
                     "private key", path);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

/* A private key of any supported format, into a libsodium key pair. */
static int parse_private(const key_file *f, const char *path, const passphrase *pass, ac_key *key,
                         ac_error *err)
{
    if (contains(f, "-----BEGIN OPENSSH PRIVATE KEY-----"))
        return parse_openssh(f, path, pass, key, err);
    return parse_pkcs8(f, path, pass, key, err);
}

static int key_load(ac_key **out, const char *path, const passphrase *pass, ac_error *err)
{
    if (out == NULL || path == NULL)
        return ac_fail(err, AC_EINVAL, -1, "key: no path or output pointer");
    *out = NULL;
    int rc = sodium_ready(err);
    if (rc != AC_OK)
        return rc;
    key_file f;
    rc = key_file_read(path, &f, err);
    if (rc != AC_OK)
        return rc;
    ac_key *key = NULL;
    rc = key_alloc(&key, err);
    if (rc == AC_OK)
        rc = parse_private(&f, path, pass, key, err);
    key_file_free(&f);
    if (rc != AC_OK) {
        ac_key_free(key);
        return rc;
    }
    *out = key;
    return AC_OK;
}

ac_status ac_key_load(const char *path, ac_key **out, ac_error *err)
{
    return key_load(out, path, NULL, err);
}

ac_status ac_key_load_passphrase(const char *path, const char *passphrase_text, size_t len,
                                 ac_key **out, ac_error *err)
{
    if (passphrase_text == NULL && len > 0)
        return ac_fail(err, AC_EINVAL, -1, "key: no passphrase buffer");
    passphrase pass = {passphrase_text != NULL ? passphrase_text : "", len};
    return key_load(out, path, &pass, err);
}

/* PKCS#8 PEM of the key in a memory BIO (which OpenSSL clears when freed). */
static int key_to_pem(const ac_key *key, const char *path, BIO **out, ac_error *err)
{
    *out = NULL;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key->sk, SEED_SIZE);
    BIO *bio = BIO_new(BIO_s_secmem()); /* the secure heap when one is set up */
    int ok = pkey != NULL && bio != NULL &&
             PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1;
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    if (!ok) {
        BIO_free(bio);
        return ac_fail(err, AC_ECRYPTO, -1, "%s: OpenSSL cannot encode the key", path);
    }
    *out = bio;
    return AC_OK;
}

/* Makes the new directory entry durable too, not only the file's data. */
static int fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir)
        return 0; /* the path was accepted by open(); a too-long name is not our problem */
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* Some filesystems cannot fsync a directory (EINVAL): nothing more to do there. */
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : -1;
    int saved = errno;
    (void)close(fd); /* read-only descriptor */
    errno = saved;
    return rc;
}

/* Writes the PEM into a fresh file: the file is complete and durable, or gone. */
static int write_new_file(const char *path, const char *data, size_t len, ac_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return ac_fail(err, AC_EEXIST, -1, "%s: already exists; refusing to overwrite a key",
                           path);
        return ac_fail_errno(err, errno == ENOENT ? AC_ENOTFOUND : AC_EIO, -1, "%s: create",
                             path);
    }
    const char *step = NULL;
    if (write_full(fd, data, len) != 0)
        step = "write";
    else if (fsync(fd) != 0)
        step = "fsync";
    int saved = errno;
    if (close(fd) != 0 && step == NULL) {
        step = "close";
        saved = errno;
    }
    if (step == NULL && fsync_parent(path) != 0) {
        step = "fsync of its directory";
        saved = errno;
    }
    if (step == NULL)
        return AC_OK;
    (void)unlink(path); /* we created it (O_EXCL): remove the partial key */
    errno = saved;
    return ac_fail_errno(err, AC_EIO, -1, "%s: %s", path, step);
}

static int save_pkcs8(const ac_key *key, const char *path, ac_error *err)
{
    BIO *bio = NULL;
    int rc = key_to_pem(key, path, &bio, err);
    if (rc != AC_OK)
        return rc;
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(bio, &pem);
    if (pem == NULL || pem_len <= 0)
        rc = ac_fail(err, AC_ECRYPTO, -1, "%s: OpenSSL produced no PEM", path);
    else
        rc = write_new_file(path, pem, (size_t)pem_len, err);
    BIO_free(bio);
    return rc;
}

static int save_openssh(const ac_key *key, const char *path, const char *comment, ac_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = ssh_private_encode(key->sk, key->pk, comment != NULL ? comment : "", path, &text,
                                &len, err);
    if (rc == AC_OK)
        rc = write_new_file(path, text, len, err);
    sodium_free(text); /* wipes it */
    return rc;
}

ac_status ac_key_save_as(const ac_key *key, const char *path, ac_key_format format,
                         const char *comment, ac_error *err)
{
    if (key == NULL || path == NULL)
        return ac_fail(err, AC_EINVAL, -1, "key: no key or path");
    if (format == AC_KEY_PKCS8)
        return save_pkcs8(key, path, err);
    if (format == AC_KEY_OPENSSH) {
        int rc = sodium_ready(err); /* randombytes for the check words */
        return rc == AC_OK ? save_openssh(key, path, comment, err) : rc;
    }
    return ac_fail(err, AC_EINVAL, -1, "%s: unknown key file format %d", path, (int)format);
}

ac_status ac_key_save(const ac_key *key, const char *path, ac_error *err)
{
    return ac_key_save_as(key, path, AC_KEY_PKCS8, NULL, err);
}

int ac_key_file_exposed(const char *path, ac_error *err)
{
    if (path == NULL)
        return ac_fail(err, AC_EINVAL, -1, "key: no path");
    struct stat st;
    if (stat(path, &st) != 0)
        return ac_fail_errno(err, errno == ENOENT ? AC_ENOTFOUND : AC_EIO, -1, "%s: stat", path);
    return (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}

void ac_key_pubkey(const ac_key *key, uint8_t out[AC_PUBKEY_SIZE])
{
    memcpy(out, key->pk, AC_PUBKEY_SIZE);
}

void ac_key_free(ac_key *key)
{
    if (key == NULL)
        return;
    sodium_memzero(key, sizeof *key);
    free(key);
}

void key_sign(const ac_key *key, const uint8_t *msg, size_t len, uint8_t sig[AC_SIGNATURE_SIZE])
{
    /* Cannot fail for a key pair from libsodium; the length out-param is not needed. */
    (void)crypto_sign_detached(sig, NULL, msg, len, key->sk);
}

/* ---------------------------------------------------------------- public keys */

/* A SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"). */
static int parse_spki(const key_file *f, const char *path, uint8_t out[AC_PUBKEY_SIZE],
                      ac_error *err)
{
    if (f->len > INT_MAX)
        return ac_fail(err, AC_EKEY, -1, "%s: too large for a key file", path);
    BIO *bio = BIO_new_mem_buf(f->data, (int)f->len);
    if (bio == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "%s: no memory to parse the key", path);
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, pem_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (pkey == NULL)
        return pem_diagnose(f, path, "PUBLIC KEY-----", "public key", err);
    int rc = AC_OK;
    size_t len = AC_PUBKEY_SIZE;
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)
        rc = ac_fail(err, AC_EKEY, -1, "%s: not an Ed25519 key (found %s)", path,
                     pkey_type_name(pkey));
    else if (EVP_PKEY_get_raw_public_key(pkey, out, &len) != 1 || len != AC_PUBKEY_SIZE)
        rc = ac_fail(err, AC_EKEY, -1, "%s: cannot extract the Ed25519 public key", path);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return rc;
}

/* 64 hex digits, optionally followed by whitespace (a trailing newline). */
static int parse_hex(const key_file *f, const char *path, uint8_t out[AC_PUBKEY_SIZE],
                     ac_error *err)
{
    size_t len = f->len;
    while (len > 0 && (f->data[len - 1] == ' ' || f->data[len - 1] == '\t' ||
                       f->data[len - 1] == '\n' || f->data[len - 1] == '\r'))
        len--;
    char hex[2 * AC_PUBKEY_SIZE + 1];
    if (len != 2 * AC_PUBKEY_SIZE)
        return ac_fail(err, AC_EKEY, -1,
                       "%s: not a public key (expected 64 hex characters or a PEM public key)",
                       path);
    memcpy(hex, f->data, len);
    hex[len] = '\0';
    ac_error hex_err;
    if (ac_hex_decode(hex, out, AC_PUBKEY_SIZE, &hex_err) != AC_OK)
        return ac_fail(err, AC_EKEY, -1, "%s: not a public key (%s)", path, hex_err.message);
    return AC_OK;
}

/* Whether the file is an OpenSSH public key line: a key type ("ssh-ed25519",
 * "ecdsa-sha2-nistp256", ...), blanks, then the base64 of a key blob, which
 * starts with its type's length: "AAAA". */
static bool is_ssh_public(const key_file *f)
{
    size_t i = 0;
    while (i < f->len && (f->data[i] == ' ' || f->data[i] == '\t'))
        i++;
    size_t type = i;
    while (i < f->len && f->data[i] > ' ' && f->data[i] < 0x7f)
        i++;
    if (i == type || i == f->len || (f->data[i] != ' ' && f->data[i] != '\t'))
        return false;
    while (i < f->len && (f->data[i] == ' ' || f->data[i] == '\t'))
        i++;
    return f->len - i >= 4 && memcmp(f->data + i, "AAAA", 4) == 0;
}

static int pubkey_from_file(const key_file *f, const char *path, uint8_t out[AC_PUBKEY_SIZE],
                            ac_error *err)
{
    if (contains(f, "-----BEGIN PUBLIC KEY-----"))
        return parse_spki(f, path, out, err);
    if (is_ssh_public(f))
        return ssh_public_parse(f->data, f->len, path, out, err);
    if (contains(f, "-----BEGIN OPENSSH PRIVATE KEY-----"))
        return ssh_private_pubkey(f->data, f->len, path, out, err);
    if (!contains(f, "-----BEGIN "))
        return parse_hex(f, path, out, err);
    if (!contains(f, "PRIVATE KEY-----"))
        return ac_fail(err, AC_EKEY, -1, "%s: holds no PEM public key or private key", path);
    ac_key *key = NULL;
    int rc = key_alloc(&key, err);
    if (rc == AC_OK)
        rc = parse_private(f, path, NULL, key, err);
    if (rc == AC_OK)
        ac_key_pubkey(key, out);
    ac_key_free(key);
    return rc;
}

ac_status ac_pubkey_load(const char *path, uint8_t out[AC_PUBKEY_SIZE], ac_error *err)
{
    if (path == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "key: no path or output buffer");
    int rc = sodium_ready(err);
    if (rc != AC_OK)
        return rc;
    key_file f;
    rc = key_file_read(path, &f, err); /* may hold a private key: wiped below */
    if (rc != AC_OK)
        return rc;
    uint8_t pk[AC_PUBKEY_SIZE];
    rc = pubkey_from_file(&f, path, pk, err);
    key_file_free(&f);
    /* A point that is not canonical, off the main subgroup or of small order
     * can never verify a signature (libsodium rejects it), so say so now. */
    if (rc == AC_OK && crypto_core_ed25519_is_valid_point(pk) != 1)
        rc = ac_fail(err, AC_EKEY, -1, "%s: not a valid Ed25519 public key", path);
    if (rc == AC_OK)
        memcpy(out, pk, AC_PUBKEY_SIZE);
    return rc;
}
