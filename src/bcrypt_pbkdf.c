/* bcrypt_pbkdf, the key derivation of encrypted OpenSSH private keys
 * (OpenBSD's bcrypt_pbkdf(3), PROTOCOL.key): PBKDF2-like rounds of a
 * bcrypt hash (EksBlowfish keyed with SHA-512 of the passphrase and salt).
 * No Debian library exports it (libbsd, libssh and libssh2 keep theirs
 * private), so it is built here on OpenSSL: SHA-512, and Blowfish's cipher
 * (BF_encrypt, whose BF_KEY state is public, which the EksBlowfish key
 * schedule needs to write).  Blowfish's initial state is the fractional
 * part of pi in hex; it is computed here with OpenSSL's BIGNUM (Machin's
 * formula) rather than copied in as a table of 1042 words that no compiler
 * could check: the unit test checks its first and last words against the
 * published ones, and ssh-keygen's keys check the whole. */
#define OPENSSL_SUPPRESS_DEPRECATED /* BF_encrypt: low-level, and exactly what is needed */
#include <string.h>

#include <openssl/blowfish.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "internal.h"

enum {
    BF_WORDS = BF_ROUNDS + 2 + 4 * 256, /* P-array and S-boxes: 1042 words of pi */
    HASH_WORDS = 8,                     /* a bcrypt hash: 32 bytes */
    HASH_BYTES = 4 * HASH_WORDS,
    SHA512_BYTES = 64,
    PI_GUARD_BITS = 64, /* rounding of the series, far below the last word */
};

/* The bits of pi below the point, as 32-bit words: words[0] = 0x243f6a88.
 * pi = 16 atan(1/5) - 4 atan(1/239), in fixed point of `bits` bits. */
static int atan_inv(BIGNUM *sum, BN_ULONG x, int bits, BN_CTX *ctx)
{
    BIGNUM *term = BN_CTX_get(ctx), *part = BN_CTX_get(ctx);
    if (part == NULL || !BN_set_word(term, 1) || !BN_lshift(term, term, bits) ||
        BN_div_word(term, x) == (BN_ULONG)-1 || !BN_copy(sum, term))
        return -1;
    BN_ULONG x2 = x * x;
    for (BN_ULONG k = 1; !BN_is_zero(term); k++) {
        if (BN_div_word(term, x2) == (BN_ULONG)-1 || !BN_copy(part, term) ||
            BN_div_word(part, 2 * k + 1) == (BN_ULONG)-1)
            return -1;
        if (!(k & 1 ? BN_sub(sum, sum, part) : BN_add(sum, sum, part)))
            return -1;
    }
    return 0;
}

int bf_pi_words(uint32_t *words, size_t n)
{
    if (n > BF_WORDS)
        return -1;
    int frac_bits = (int)(32 * n), bits = frac_bits + PI_GUARD_BITS + 8;
    BN_CTX *ctx = BN_CTX_new();
    if (ctx == NULL)
        return -1;
    BN_CTX_start(ctx);
    BIGNUM *a = BN_CTX_get(ctx), *b = BN_CTX_get(ctx), *word = BN_CTX_get(ctx);
    int rc = -1;
    if (word != NULL && atan_inv(a, 5, bits, ctx) == 0 && atan_inv(b, 239, bits, ctx) == 0 &&
        BN_mul_word(a, 16) && BN_mul_word(b, 4) && BN_sub(a, a, b) &&
        BN_rshift(a, a, bits - frac_bits) && BN_mask_bits(a, frac_bits)) {
        /* a = frac(pi) * 2^frac_bits; word i is bits frac_bits-32(i+1) .. */
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (!BN_rshift(word, a, frac_bits - 32 * (int)(i + 1)) || !BN_mask_bits(word, 32))
                rc = -1;
            else
                words[i] = (uint32_t)BN_get_word(word);
        }
    }
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return rc;
}

/* The next 32-bit word of `data`, big-endian, cycling (Blowfish_stream2word). */
static uint32_t stream_word(const uint8_t *data, size_t len, size_t *pos)
{
    uint32_t w = 0;
    for (int i = 0; i < 4; i++) {
        if (*pos >= len)
            *pos = 0;
        w = w << 8 | data[(*pos)++];
    }
    return w;
}

static void bf_cipher(const BF_KEY *k, BF_LONG *l, BF_LONG *r)
{
    BF_LONG d[2] = {*l, *r};
    BF_encrypt(d, k);
    *l = d[0];
    *r = d[1];
}

/* EksBlowfish's key schedule: `key` into the P-array, then every P and S
 * word replaced by the chained encryption of zeros, each block XORed with
 * the next words of `salt` when there is one (Blowfish_expandstate), or not
 * (Blowfish_expand0state: salt NULL). */
static void bf_expand(BF_KEY *k, const uint8_t *salt, size_t salt_len, const uint8_t *key,
                      size_t key_len)
{
    size_t pos = 0;
    for (int i = 0; i < BF_ROUNDS + 2; i++)
        k->P[i] ^= stream_word(key, key_len, &pos);
    BF_LONG l = 0, r = 0;
    pos = 0;
    BF_LONG *all[2] = {k->P, k->S};
    size_t sizes[2] = {BF_ROUNDS + 2, 4 * 256};
    for (int part = 0; part < 2; part++) {
        for (size_t i = 0; i < sizes[part]; i += 2) {
            if (salt != NULL) {
                l ^= stream_word(salt, salt_len, &pos);
                r ^= stream_word(salt, salt_len, &pos);
            }
            bf_cipher(k, &l, &r);
            all[part][i] = l;
            all[part][i + 1] = r;
        }
    }
}

/* bcrypt_hash of OpenBSD's bcrypt_pbkdf.c: 64 rounds of EksBlowfish on the
 * SHA-512s, then "OxychromaticBlowfishSwatDynamite" encrypted 64 times. */
static void bcrypt_hash(const BF_KEY *init, const uint8_t pass[SHA512_BYTES],
                        const uint8_t salt[SHA512_BYTES], uint8_t out[HASH_BYTES], BF_KEY *k)
{
    static const uint8_t magic[HASH_BYTES] = "OxychromaticBlowfishSwatDynamite";
    memcpy(k, init, sizeof *k);
    bf_expand(k, salt, SHA512_BYTES, pass, SHA512_BYTES);
    for (int i = 0; i < 64; i++) {
        bf_expand(k, NULL, 0, salt, SHA512_BYTES);
        bf_expand(k, NULL, 0, pass, SHA512_BYTES);
    }
    BF_LONG c[HASH_WORDS];
    size_t pos = 0;
    for (int i = 0; i < HASH_WORDS; i++)
        c[i] = stream_word(magic, sizeof magic, &pos);
    for (int round = 0; round < 64; round++)
        for (int i = 0; i < HASH_WORDS; i += 2)
            bf_cipher(k, &c[i], &c[i + 1]);
    for (int i = 0; i < HASH_WORDS; i++) { /* little-endian words out */
        out[4 * i] = (uint8_t)c[i];
        out[4 * i + 1] = (uint8_t)(c[i] >> 8);
        out[4 * i + 2] = (uint8_t)(c[i] >> 16);
        out[4 * i + 3] = (uint8_t)(c[i] >> 24);
    }
    sodium_memzero(c, sizeof c);
}

static int sha512(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[SHA512_BYTES])
{
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, a, alen) == 1 && (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
             EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == SHA512_BYTES;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* The derivation proper, with Blowfish's initial state in `init` and room
 * for the working state in `k` (both wiped by the caller). */
static int derive(const BF_KEY *init, BF_KEY *k, const uint8_t *pass, size_t pass_len,
                  const uint8_t *salt, size_t salt_len, uint8_t *key, size_t key_len,
                  unsigned rounds)
{
    uint8_t sha_pass[SHA512_BYTES], sha_salt[SHA512_BYTES], out[HASH_BYTES], tmp[HASH_BYTES];
    size_t stride = (key_len + HASH_BYTES - 1) / HASH_BYTES;
    size_t amount = (key_len + stride - 1) / stride, left = key_len;
    int rc = sha512(pass, pass_len, NULL, 0, sha_pass);
    for (uint32_t count = 1; rc == 0 && left > 0; count++) {
        uint8_t count_be[4] = {(uint8_t)(count >> 24), (uint8_t)(count >> 16),
                               (uint8_t)(count >> 8), (uint8_t)count};
        if ((rc = sha512(salt, salt_len, count_be, sizeof count_be, sha_salt)) != 0)
            break;
        bcrypt_hash(init, sha_pass, sha_salt, tmp, k);
        memcpy(out, tmp, sizeof out);
        for (unsigned i = 1; rc == 0 && i < rounds; i++) {
            if ((rc = sha512(tmp, sizeof tmp, NULL, 0, sha_salt)) != 0)
                break;
            bcrypt_hash(init, sha_pass, sha_salt, tmp, k);
            for (size_t j = 0; j < sizeof out; j++)
                out[j] ^= tmp[j];
        }
        /* Not PBKDF2: the output bytes are spread over the key, stride apart. */
        size_t i;
        for (i = 0; i < amount && i < left; i++) {
            size_t dest = i * stride + (count - 1);
            if (dest >= key_len)
                break;
            key[dest] = out[i];
        }
        left -= i;
    }
    sodium_memzero(sha_pass, sizeof sha_pass);
    sodium_memzero(sha_salt, sizeof sha_salt);
    sodium_memzero(out, sizeof out);
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

int bcrypt_pbkdf(const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                 uint8_t *key, size_t key_len, unsigned rounds)
{
    /* OpenBSD's limits: what it refuses, no key file can hold. */
    if (rounds < 1 || salt_len == 0 || salt_len > (1u << 20) || key_len == 0 ||
        key_len > HASH_BYTES * HASH_BYTES)
        return -1;
    /* Two BF_KEYs (8 KiB) on the heap: the initial state and the working one. */
    BF_KEY *k = sodium_malloc(2 * sizeof(BF_KEY));
    if (k == NULL)
        return -1;
    uint32_t pi[BF_WORDS];
    int rc = bf_pi_words(pi, BF_WORDS);
    if (rc == 0) {
        for (int i = 0; i < BF_ROUNDS + 2; i++)
            k[0].P[i] = pi[i];
        for (int i = 0; i < 4 * 256; i++)
            k[0].S[i] = pi[BF_ROUNDS + 2 + i];
        rc = derive(&k[0], &k[1], pass, pass_len, salt, salt_len, key, key_len, rounds);
    }
    sodium_free(k); /* wipes it */
    return rc;
}
