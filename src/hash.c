/* SHA-256 (through OpenSSL's EVP interface, which uses the CPU's SHA
 * instructions when it has them) and hex encoding. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "internal.h"

/* Large reads keep the per-call overhead (syscall, EVP dispatch) negligible
 * next to the hashing itself, so a file hashes at `openssl dgst` speed. */
enum { FILE_CHUNK = 1 << 20 };

struct ac_hasher {
    EVP_MD *md;      /* fetched once: fetching walks the provider tables */
    EVP_MD_CTX *ctx; /* reused: EVP_DigestInit_ex on the same md does not reallocate */
};

void ac_free(void *p)
{
    free(p);
}

/* ---------------------------------------------------------------- hasher */

ac_hasher *hasher_new(void)
{
    ac_hasher *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (h->md == NULL || h->ctx == NULL) {
        ERR_clear_error();
        hasher_free(h);
        return NULL;
    }
    return h;
}

void hasher_free(ac_hasher *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

int hasher_digest(ac_hasher *h, const void *data, size_t len, uint8_t out[AC_HASH_SIZE])
{
    unsigned int outlen = 0;
    if (h == NULL || (data == NULL && len > 0))
        return AC_EINVAL;
    if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 ||
        EVP_DigestUpdate(h->ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(h->ctx, out, &outlen) != 1 || outlen != AC_HASH_SIZE) {
        ERR_clear_error(); /* the error queue is per thread: leave it clean */
        return AC_ECRYPTO;
    }
    return AC_OK;
}

int hasher_digest2(ac_hasher *h, const void *a, size_t alen, const void *b, size_t blen,
                   uint8_t out[AC_HASH_SIZE])
{
    unsigned int outlen = 0;
    if (h == NULL || (a == NULL && alen > 0) || (b == NULL && blen > 0))
        return AC_EINVAL;
    if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 || EVP_DigestUpdate(h->ctx, a, alen) != 1 ||
        EVP_DigestUpdate(h->ctx, b, blen) != 1 ||
        EVP_DigestFinal_ex(h->ctx, out, &outlen) != 1 || outlen != AC_HASH_SIZE) {
        ERR_clear_error();
        return AC_ECRYPTO;
    }
    return AC_OK;
}

/* ---------------------------------------------------------------- public hashing */

ac_status ac_sha256(const void *data, size_t len, uint8_t out[AC_HASH_SIZE], ac_error *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return ac_fail(err, AC_EINVAL, -1, "sha256: no data or output buffer");
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    unsigned int outlen = 0;
    int ok = md != NULL && EVP_Digest(data, len, out, &outlen, md, NULL) == 1 &&
             outlen == AC_HASH_SIZE;
    EVP_MD_free(md);
    if (!ok) {
        ERR_clear_error();
        return ac_fail(err, AC_ECRYPTO, -1, "sha256: OpenSSL digest failed");
    }
    return AC_OK;
}

/* Feeds the open file `fd` through `ctx` chunk by chunk. */
static int hash_fd(int fd, const char *path, EVP_MD_CTX *ctx, uint64_t total,
                   ac_progress_fn progress, void *progress_ctx, ac_error *err)
{
    uint8_t *buf = malloc(FILE_CHUNK);
    if (buf == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "%s: no memory for a read buffer", path);
    uint64_t done = 0;
    int rc = AC_OK;
    for (;;) {
        ssize_t n = read(fd, buf, FILE_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ac_fail_errno(err, AC_EIO, -1, "%s: read", path);
            break;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            ERR_clear_error();
            rc = ac_fail(err, AC_ECRYPTO, -1, "%s: OpenSSL digest failed", path);
            break;
        }
        done += (uint64_t)n;
        /* A file that grows while we read must not report done > total. */
        if (progress != NULL)
            progress(progress_ctx, done, done > total ? done : total);
    }
    free(buf);
    return rc;
}

ac_status ac_sha256_file(const char *path, ac_progress_fn progress, void *progress_ctx,
                         uint8_t out[AC_HASH_SIZE], ac_error *err)
{
    if (path == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "sha256: no path or output buffer");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return ac_fail_errno(err, errno == ENOENT ? AC_ENOTFOUND : AC_EIO, -1, "%s: open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = ac_fail_errno(err, AC_EIO, -1, "%s: fstat", path);
        (void)close(fd); /* read-only: nothing to lose on close */
        return rc;
    }
    uint64_t total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    /* Only advice (doubles the kernel's readahead); hashing works without it,
     * and it fails harmlessly on pipes, so its result is deliberately ignored. */
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc;
    if (md == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        ERR_clear_error();
        rc = ac_fail(err, ctx == NULL ? AC_ENOMEM : AC_ECRYPTO, -1,
                     "%s: cannot set up SHA-256", path);
    } else {
        rc = hash_fd(fd, path, ctx, total, progress, progress_ctx, err);
    }
    unsigned int outlen = 0;
    if (rc == AC_OK && (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != AC_HASH_SIZE)) {
        ERR_clear_error();
        rc = ac_fail(err, AC_ECRYPTO, -1, "%s: OpenSSL digest failed", path);
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    (void)close(fd); /* read-only: close cannot lose data */
    return rc;
}

/* ---------------------------------------------------------------- hex */

void ac_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static int hex_nibble(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ac_status ac_hex_decode(const char *hex, uint8_t *out, size_t len, ac_error *err)
{
    if (hex == NULL || (out == NULL && len > 0) || len > SIZE_MAX / 2 - 1)
        return ac_fail(err, AC_EINVAL, -1, "hex: no input or output buffer");
    size_t want = 2 * len;
    /* strnlen: never read past the digits we need plus one, so an
     * unterminated input of the right size is still bounded. */
    size_t got = strnlen(hex, want + 1);
    if (got != want)
        return ac_fail(err, AC_EINVAL, -1, "hex: expected %zu hex digits, got %s%zu", want,
                       got > want ? "more than " : "", got);
    /* Check everything before writing anything: `out` is untouched on error. */
    for (size_t i = 0; i < want; i++) {
        unsigned char c = (unsigned char)hex[i];
        if (hex_nibble(c) < 0) {
            if (c >= 0x20 && c < 0x7f)
                return ac_fail(err, AC_EINVAL, -1, "hex: '%c' at position %zu is not a hex digit",
                               c, i);
            return ac_fail(err, AC_EINVAL, -1,
                           "hex: byte 0x%02x at position %zu is not a hex digit", c, i);
        }
    }
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(hex_nibble((unsigned char)hex[2 * i]) << 4 |
                           hex_nibble((unsigned char)hex[2 * i + 1]));
    return AC_OK;
}
