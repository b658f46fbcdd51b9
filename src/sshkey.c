/* OpenSSH key files for Ed25519 (OpenSSH's PROTOCOL.key, RFC 4253 section 6.6
 * and RFC 8709 for the key blobs): the private key that `ssh-keygen -t
 * ed25519` writes, unencrypted or encrypted with a passphrase (bcrypt_pbkdf
 * and an AES mode from OpenSSL), and the one-line public key
 * ("ssh-ed25519 AAAA... comment").  Files are hostile input: every length is
 * checked against what is left before it is used, and the decoded secret
 * lives in buffers from sodium_malloc, wiped when freed. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "internal.h"

#define SSH_ED25519 "ssh-ed25519"
#define SSH_MAGIC "openssh-key-v1" /* and its NUL */
#define SSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define SSH_END "-----END OPENSSH PRIVATE KEY-----"

enum {
    SEED_BYTES = 32,
    SK_BYTES = 64,             /* seed || public key, as OpenSSH keeps it */
    BASE64_COLUMNS = 70,       /* ssh-keygen's line width */
    MAX_ROUNDS = 1u << 16,     /* far past ssh-keygen's default of 16: a bound on the work a
                                  hostile file can ask for */
    COMMENT_MAX = 1024,        /* a longer comment is refused when writing */
};

/* ---------------------------------------------------------------- reading */

/* A cursor over SSH wire data (uint32 and string, RFC 4251 section 5). */
typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
} rd;

static bool rd_u32(rd *r, uint32_t *v)
{
    if (r->len - r->pos < 4)
        return false;
    const uint8_t *b = r->p + r->pos;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    r->pos += 4;
    return true;
}

static bool rd_string(rd *r, const uint8_t **s, size_t *n)
{
    uint32_t len;
    if (!rd_u32(r, &len) || r->len - r->pos < len)
        return false;
    *s = r->p + r->pos;
    *n = len;
    r->pos += len;
    return true;
}

/* A printable copy of untrusted bytes, cut short, for an error message. */
static void printable(const uint8_t *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    out[k] = '\0';
    if (k == 0)
        snprintf(out, cap, "nothing");
}

static bool is(const uint8_t *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* A public key blob: string "ssh-ed25519", string key (32 bytes), nothing
 * more.  AC_OK or AC_EKEY (naming the key type found). */
static int parse_blob(const uint8_t *blob, size_t len, const char *path, uint8_t pk[AC_PUBKEY_SIZE],
                      ac_error *err)
{
    rd r = {blob, len, 0};
    const uint8_t *type, *key;
    size_t tlen, klen;
    if (!rd_string(&r, &type, &tlen))
        return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH public key", path);
    if (!is(type, tlen, SSH_ED25519)) {
        char name[40];
        printable(type, tlen, name, sizeof name);
        return ac_fail(err, AC_EKEY, -1, "%s: not an Ed25519 key (found %s)", path, name);
    }
    if (!rd_string(&r, &key, &klen) || klen != AC_PUBKEY_SIZE || r.pos != r.len)
        return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH Ed25519 public key", path);
    memcpy(pk, key, AC_PUBKEY_SIZE);
    return AC_OK;
}

/* The base64 between the armour lines, decoded into a sodium_malloc'd
 * buffer (*out, *out_len; free with sodium_free). */
static int unarmour(const uint8_t *text, size_t len, const char *path, uint8_t **out,
                    size_t *out_len, ac_error *err)
{
    const uint8_t *begin = memmem(text, len, SSH_BEGIN, strlen(SSH_BEGIN));
    if (begin == NULL)
        return ac_fail(err, AC_EKEY, -1, "%s: no OpenSSH private key in it", path);
    const uint8_t *b64 = begin + strlen(SSH_BEGIN);
    const uint8_t *end = memmem(b64, len - (size_t)(b64 - text), SSH_END, strlen(SSH_END));
    if (end == NULL)
        return ac_fail(err, AC_EKEY, -1, "%s: truncated OpenSSH private key (no END line)", path);
    size_t b64_len = (size_t)(end - b64), cap = b64_len / 4 * 3 + 3;
    *out = sodium_malloc(cap);
    if (*out == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "%s: no memory to read the key", path);
    const char *stop = NULL;
    if (sodium_base642bin(*out, cap, (const char *)b64, b64_len, " \t\r\n", out_len, &stop,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        stop != (const char *)end) {
        sodium_free(*out);
        *out = NULL;
        return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH private key (bad base64)", path);
    }
    return AC_OK;
}

/* The outer layer of the key file: everything up to the private section. */
typedef struct ssh_outer {
    const uint8_t *cipher, *kdf, *kdf_opts, *section;
    size_t cipher_len, kdf_len, kdf_opts_len, section_len;
    uint8_t pk[AC_PUBKEY_SIZE];
} ssh_outer;

static int parse_outer(const uint8_t *bin, size_t len, const char *path, ssh_outer *o,
                       ac_error *err)
{
    rd r = {bin, len, 0};
    uint32_t nkeys = 0;
    const uint8_t *blob;
    size_t blob_len;
    if (len < sizeof SSH_MAGIC || memcmp(bin, SSH_MAGIC, sizeof SSH_MAGIC) != 0)
        return ac_fail(err, AC_EKEY, -1, "%s: not an openssh-key-v1 private key", path);
    r.pos = sizeof SSH_MAGIC;
    if (!rd_string(&r, &o->cipher, &o->cipher_len) || !rd_string(&r, &o->kdf, &o->kdf_len) ||
        !rd_string(&r, &o->kdf_opts, &o->kdf_opts_len) || !rd_u32(&r, &nkeys))
        return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH private key", path);
    if (nkeys != 1)
        return ac_fail(err, AC_EKEY, -1, "%s: holds %lu keys; one key per file, please", path,
                       (unsigned long)nkeys);
    if (!rd_string(&r, &blob, &blob_len) || !rd_string(&r, &o->section, &o->section_len))
        return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH private key", path);
    /* The public key is in the clear even in an encrypted file. */
    return parse_blob(blob, blob_len, path, o->pk, err);
}

/* ---------------------------------------------------------------- decryption */

typedef struct ssh_cipher {
    const char *name;
    const char *evp; /* OpenSSL's name */
    size_t key_len, iv_len, block;
} ssh_cipher;

/* What ssh-keygen writes (aes256-ctr, its default) and the other unauthenticated
 * modes it can be told to use. */
static const ssh_cipher ciphers[] = {
    {"aes256-ctr", "AES-256-CTR", 32, 16, 16}, {"aes192-ctr", "AES-192-CTR", 24, 16, 16},
    {"aes128-ctr", "AES-128-CTR", 16, 16, 16}, {"aes256-cbc", "AES-256-CBC", 32, 16, 16},
};

static const ssh_cipher *find_cipher(const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < sizeof ciphers / sizeof ciphers[0]; i++)
        if (is(name, len, ciphers[i].name))
            return &ciphers[i];
    return NULL;
}

static int aes_decrypt(const ssh_cipher *c, const uint8_t *key_iv, const uint8_t *in, size_t len,
                       uint8_t *out)
{
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, c->evp, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    int ok = cipher != NULL && ctx != NULL && len <= INT32_MAX &&
             EVP_DecryptInit_ex2(ctx, cipher, key_iv, key_iv + c->key_len, NULL) == 1 &&
             EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
             EVP_DecryptUpdate(ctx, out, &n1, in, (int)len) == 1 &&
             EVP_DecryptFinal_ex(ctx, out + n1, &n2) == 1 && (size_t)n1 + (size_t)n2 == len;
    EVP_CIPHER_CTX_free(ctx); /* clears the key schedule */
    EVP_CIPHER_free(cipher);
    ERR_clear_error();
    return ok ? 0 : -1;
}

/* Decrypts the private section into `plain` (section_len bytes). */
static int decrypt_section(const ssh_outer *o, const char *path, const uint8_t *pass,
                           size_t pass_len, uint8_t *plain, ac_error *err)
{
    const ssh_cipher *c = find_cipher(o->cipher, o->cipher_len);
    if (c == NULL) {
        char name[40];
        printable(o->cipher, o->cipher_len, name, sizeof name);
        return ac_fail(err, AC_EKEY, -1, "%s: OpenSSH key encrypted with %s, which is not "
                       "supported; re-encrypt it with 'ssh-keygen -p -Z aes256-ctr -f %s'",
                       path, name, path);
    }
    rd r = {o->kdf_opts, o->kdf_opts_len, 0};
    const uint8_t *salt;
    size_t salt_len;
    uint32_t rounds;
    if (!is(o->kdf, o->kdf_len, "bcrypt") || !rd_string(&r, &salt, &salt_len) ||
        !rd_u32(&r, &rounds) || r.pos != r.len)
        return ac_fail(err, AC_EKEY, -1, "%s: OpenSSH key with an unknown key derivation", path);
    if (rounds == 0 || rounds > MAX_ROUNDS)
        return ac_fail(err, AC_EKEY, -1, "%s: OpenSSH key asks for %lu bcrypt rounds (at most "
                       "%u are taken)", path, (unsigned long)rounds, (unsigned)MAX_ROUNDS);
    if (o->section_len % c->block != 0)
        return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH private key (section length)",
                       path);
    if (pass == NULL)
        return ac_fail(err, AC_EPASSPHRASE, -1, "%s: encrypted OpenSSH key: its passphrase is "
                       "needed", path);
    uint8_t key_iv[64];
    int rc = AC_OK;
    if (bcrypt_pbkdf(pass, pass_len, salt, salt_len, key_iv, c->key_len + c->iv_len, rounds) != 0)
        rc = ac_fail(err, AC_ECRYPTO, -1, "%s: bcrypt_pbkdf failed", path);
    else if (aes_decrypt(c, key_iv, o->section, o->section_len, plain) != 0)
        rc = ac_fail(err, AC_ECRYPTO, -1, "%s: OpenSSL cannot decrypt the key", path);
    sodium_memzero(key_iv, sizeof key_iv);
    return rc;
}

/* The decrypted private section: two equal check words (a wrong passphrase
 * makes them differ), the key, a comment, and padding 1, 2, 3, ... */
static int parse_section(const uint8_t *s, size_t len, const ssh_outer *o, bool encrypted,
                         const char *path, uint8_t seed[SEED_BYTES], ac_error *err)
{
    rd r = {s, len, 0};
    uint32_t check1, check2;
    const uint8_t *type, *pk, *sk, *comment;
    size_t tlen, pklen, sklen, clen;
    if (!rd_u32(&r, &check1) || !rd_u32(&r, &check2))
        return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH private key", path);
    if (check1 != check2)
        return encrypted ? ac_fail(err, AC_EPASSPHRASE, -1, "%s: wrong passphrase", path)
                         : ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH private key", path);
    if (!rd_string(&r, &type, &tlen) || !is(type, tlen, SSH_ED25519) ||
        !rd_string(&r, &pk, &pklen) || pklen != AC_PUBKEY_SIZE || !rd_string(&r, &sk, &sklen) ||
        sklen != SK_BYTES || !rd_string(&r, &comment, &clen))
        return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH Ed25519 private key", path);
    for (uint8_t pad = 1; r.pos < r.len; pad++)
        if (s[r.pos++] != pad)
            return ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH private key (padding)", path);
    if (memcmp(pk, o->pk, AC_PUBKEY_SIZE) != 0 || memcmp(sk + SEED_BYTES, pk, AC_PUBKEY_SIZE) != 0)
        return ac_fail(err, AC_EKEY, -1, "%s: OpenSSH key whose public and private halves "
                       "differ", path);
    memcpy(seed, sk, SEED_BYTES);
    return AC_OK;
}

int ssh_private_parse(const uint8_t *text, size_t len, const char *path, const uint8_t *pass,
                      size_t pass_len, uint8_t seed[SEED_BYTES], uint8_t pk[AC_PUBKEY_SIZE],
                      ac_error *err)
{
    uint8_t *bin = NULL, *plain = NULL;
    size_t bin_len = 0;
    ssh_outer o;
    int rc = unarmour(text, len, path, &bin, &bin_len, err);
    if (rc == AC_OK)
        rc = parse_outer(bin, bin_len, path, &o, err);
    bool encrypted = rc == AC_OK && !is(o.cipher, o.cipher_len, "none");
    if (rc == AC_OK && !encrypted && !is(o.kdf, o.kdf_len, "none"))
        rc = ac_fail(err, AC_EKEY, -1, "%s: damaged OpenSSH private key (cipher none, kdf set)",
                     path);
    if (rc == AC_OK && encrypted) {
        plain = sodium_malloc(o.section_len ? o.section_len : 1);
        rc = plain != NULL ? decrypt_section(&o, path, pass, pass_len, plain, err)
                           : ac_fail(err, AC_ENOMEM, -1, "%s: no memory to read the key", path);
    }
    if (rc == AC_OK)
        rc = parse_section(encrypted ? plain : o.section, o.section_len, &o, encrypted, path, seed,
                           err);
    if (rc == AC_OK)
        memcpy(pk, o.pk, AC_PUBKEY_SIZE);
    sodium_free(plain);
    sodium_free(bin);
    return rc;
}

int ssh_private_pubkey(const uint8_t *text, size_t len, const char *path,
                       uint8_t pk[AC_PUBKEY_SIZE], ac_error *err)
{
    uint8_t *bin = NULL;
    size_t bin_len = 0;
    ssh_outer o;
    int rc = unarmour(text, len, path, &bin, &bin_len, err);
    if (rc == AC_OK)
        rc = parse_outer(bin, bin_len, path, &o, err);
    if (rc == AC_OK)
        memcpy(pk, o.pk, AC_PUBKEY_SIZE);
    sodium_free(bin);
    return rc;
}

static bool is_blank(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* Where the blanks from `at` end. */
static size_t skip_blanks(const uint8_t *text, size_t len, size_t at)
{
    while (at < len && is_blank(text[at]))
        at++;
    return at;
}

/* Where the word at `at` ends: at a blank or a line end. */
static size_t word_end(const uint8_t *text, size_t len, size_t at)
{
    while (at < len && !is_blank(text[at]) && text[at] != '\n' && text[at] != '\r')
        at++;
    return at;
}

int ssh_public_parse(const uint8_t *text, size_t len, const char *path,
                     uint8_t pk[AC_PUBKEY_SIZE], ac_error *err)
{
    size_t type = skip_blanks(text, len, 0), type_end = word_end(text, len, type);
    if (!is(text + type, type_end - type, SSH_ED25519)) {
        char name[40];
        printable(text + type, type_end - type, name, sizeof name);
        return ac_fail(err, AC_EKEY, -1, "%s: not an Ed25519 key (found %s)", path, name);
    }
    size_t b64 = skip_blanks(text, len, type_end), b64_end = word_end(text, len, b64);
    uint8_t blob[128];
    size_t blob_len = 0;
    if (b64_end == b64 ||
        sodium_base642bin(blob, sizeof blob, (const char *)text + b64, b64_end - b64, NULL,
                          &blob_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return ac_fail(err, AC_EKEY, -1, "%s: damaged ssh-ed25519 public key (bad base64)", path);
    return parse_blob(blob, blob_len, path, pk, err);
}

/* ---------------------------------------------------------------- writing */

/* A bounded writer of SSH wire data. */
typedef struct wr {
    uint8_t *p;
    size_t len, cap;
    bool full;
} wr;

static void wr_bytes(wr *w, const void *b, size_t n)
{
    if (w->full || w->cap - w->len < n) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, b, n);
    w->len += n;
}

static void wr_u32(wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    wr_bytes(w, b, 4);
}

static void wr_string(wr *w, const void *s, size_t n)
{
    wr_u32(w, (uint32_t)n);
    wr_bytes(w, s, n);
}

static void wr_blob(wr *w, const uint8_t pk[AC_PUBKEY_SIZE])
{
    wr_u32(w, (uint32_t)(4 + strlen(SSH_ED25519) + 4 + AC_PUBKEY_SIZE));
    wr_string(w, SSH_ED25519, strlen(SSH_ED25519));
    wr_string(w, pk, AC_PUBKEY_SIZE);
}

/* The binary key file, as ssh-keygen writes it without a passphrase. */
static void encode_binary(wr *w, const uint8_t seed[SEED_BYTES], const uint8_t pk[AC_PUBKEY_SIZE],
                          const char *comment, uint32_t check)
{
    size_t clen = strlen(comment);
    size_t section = 8 + 4 + strlen(SSH_ED25519) + 4 + AC_PUBKEY_SIZE + 4 + SK_BYTES + 4 + clen;
    size_t pad = (8 - section % 8) % 8;
    wr_bytes(w, SSH_MAGIC, sizeof SSH_MAGIC);
    wr_string(w, "none", 4);
    wr_string(w, "none", 4);
    wr_string(w, "", 0);
    wr_u32(w, 1);
    wr_blob(w, pk);
    wr_u32(w, (uint32_t)(section + pad));
    wr_u32(w, check);
    wr_u32(w, check);
    wr_string(w, SSH_ED25519, strlen(SSH_ED25519));
    wr_string(w, pk, AC_PUBKEY_SIZE);
    wr_u32(w, SK_BYTES);
    wr_bytes(w, seed, SEED_BYTES);
    wr_bytes(w, pk, AC_PUBKEY_SIZE);
    wr_string(w, comment, clen);
    for (size_t i = 1; i <= pad; i++)
        wr_bytes(w, &(uint8_t){(uint8_t)i}, 1);
}

int ssh_private_encode(const uint8_t seed[SEED_BYTES], const uint8_t pk[AC_PUBKEY_SIZE],
                       const char *comment, const char *path, char **out, size_t *out_len,
                       ac_error *err)
{
    if (strlen(comment) > COMMENT_MAX)
        return ac_fail(err, AC_EINVAL, -1, "%s: comment longer than %d bytes", path, COMMENT_MAX);
    enum { BIN_CAP = 512 + COMMENT_MAX };
    enum { B64_CAP = BIN_CAP / 3 * 4 + 8 };
    enum { TEXT_CAP = B64_CAP + B64_CAP / BASE64_COLUMNS + 128 };
    uint8_t *bin = sodium_malloc(BIN_CAP);
    char *b64 = sodium_malloc(B64_CAP), *text = sodium_malloc(TEXT_CAP);
    int rc = AC_OK;
    if (bin == NULL || b64 == NULL || text == NULL)
        rc = ac_fail(err, AC_ENOMEM, -1, "%s: no memory to encode the key", path);
    wr w = {bin, 0, BIN_CAP, false};
    if (rc == AC_OK) {
        encode_binary(&w, seed, pk, comment, randombytes_random());
        if (w.full)
            rc = ac_fail(err, AC_EINVAL, -1, "%s: key too large to encode", path);
    }
    if (rc == AC_OK) {
        sodium_bin2base64(b64, B64_CAP, bin, w.len, sodium_base64_VARIANT_ORIGINAL);
        size_t n = (size_t)snprintf(text, TEXT_CAP, "%s\n", SSH_BEGIN);
        for (size_t at = 0, b64_len = strlen(b64); at < b64_len; at += BASE64_COLUMNS)
            n += (size_t)snprintf(text + n, TEXT_CAP - n, "%.*s\n", BASE64_COLUMNS, b64 + at);
        n += (size_t)snprintf(text + n, TEXT_CAP - n, "%s\n", SSH_END);
        *out = text;
        *out_len = n;
        text = NULL;
    }
    sodium_free(bin);
    sodium_free(b64);
    sodium_free(text);
    return rc;
}
