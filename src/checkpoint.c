/* A chain's signed checkpoints (docs/format.md section 14): its origin, the
 * checkpoints kept in checkpoints/<size>, signing a new one, and the roots
 * and proofs that go out under them.
 *
 * Decision: checkpoints/ is evidence, not cache.  A file is written once
 * (linked into place, never over another) and never deleted; the origin is
 * fixed by the first checkpoint.  A kept checkpoint counts only when it is
 * signed, under the chain's origin, by the key authorized at its size: then
 * its root vouches for the tree up to that size, which is what lets a new
 * checkpoint be computed from the last one and the leaves after it, and a
 * proof read from merkle.bin be checked before it is handed out. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define ORIGIN_FILE AC_CHECKPOINT_DIR "/origin"

/* ---------------------------------------------------------------- small files */

/* Reads a small file below the chain directory into a NUL-terminated buffer.
 * AC_OK, AC_ENOTFOUND, AC_ECORRUPT (not a regular file, too large), AC_EIO. */
static int read_small(ac_chain *c, const char *name, size_t max, uint8_t **out, size_t *len,
                      ac_error *err)
{
    int fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return AC_ENOTFOUND;
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot read", c->dir, name);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max) {
        close(fd);
        return ac_fail(err, AC_ECORRUPT, -1, "%s/%s: not a file of at most %zu bytes", c->dir,
                       name, max);
    }
    uint8_t *buf = malloc((size_t)sb.st_size + 1);
    ssize_t n = buf ? read(fd, buf, (size_t)sb.st_size) : -1;
    close(fd);
    if (n != sb.st_size) {
        free(buf);
        return ac_fail_errno(err, buf ? AC_EIO : AC_ENOMEM, -1, "%s/%s: cannot read", c->dir,
                             name);
    }
    buf[n] = 0;
    *out = buf;
    *len = (size_t)n;
    return AC_OK;
}

/* Writes `name` (below the chain directory) once: a temporary file, fsync,
 * then a hard link, which fails rather than replace a file already there.
 * AC_OK, AC_EEXIST, AC_EIO. */
static int write_once(ac_chain *c, const char *name, const void *data, size_t len, ac_error *err)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", name, (long)getpid());
    (void)unlinkat(c->dirfd, tmp, 0);
    int fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    int rc = AC_OK;
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
        rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot write", c->dir, tmp);
    if (fd >= 0)
        close(fd);
    if (rc == AC_OK && linkat(c->dirfd, tmp, c->dirfd, name, 0) != 0)
        rc = errno == EEXIST ? AC_EEXIST
                             : ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot link into place",
                                             c->dir, name);
    (void)unlinkat(c->dirfd, tmp, 0);
    if (rc == AC_OK) {
        int d = openat(c->dirfd, AC_CHECKPOINT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0 || fsync(d) != 0)
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHECKPOINT_DIR ": cannot sync", c->dir);
        if (d >= 0)
            close(d);
    }
    return rc;
}

/* ---------------------------------------------------------------- origin */

int chain_origin(ac_chain *c, char out[AC_NOTE_MAX_NAME + 1], bool *fixed, ac_error *err)
{
    uint8_t *buf;
    size_t len;
    *fixed = false;
    int rc = read_small(c, ORIGIN_FILE, AC_NOTE_MAX_NAME + 1, &buf, &len, err);
    if (rc == AC_ENOTFOUND) {
        /* The default: attestchain/ and the chain id. */
        char hex[2 * AC_HASH_SIZE + 1];
        ac_hex_encode(c->f.st.chain_id, AC_HASH_SIZE, hex);
        snprintf(out, AC_NOTE_MAX_NAME + 1, "attestchain/%s", hex);
        return AC_OK;
    }
    if (rc != AC_OK)
        return rc;
    bool ok = len >= 2 && buf[len - 1] == '\n' && note_name_valid((const char *)buf, len - 1);
    if (ok) {
        memcpy(out, buf, len - 1);
        out[len - 1] = '\0';
    }
    free(buf);
    if (!ok)
        return ac_fail(err, AC_ECORRUPT, -1, "%s/" ORIGIN_FILE ": not one line naming an origin "
                       "(no spaces or '+'); restore it from a copy", c->dir);
    *fixed = true;
    return AC_OK;
}

/* Fixes the origin for good, at the first checkpoint. */
static int fix_origin(ac_chain *c, const char *origin, ac_error *err)
{
    if (mkdirat(c->dirfd, AC_CHECKPOINT_DIR, 0755) != 0 && errno != EEXIST)
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHECKPOINT_DIR ": cannot create", c->dir);
    char line[AC_NOTE_MAX_NAME + 2];
    int n = snprintf(line, sizeof line, "%s\n", origin);
    int rc = write_once(c, ORIGIN_FILE, line, (size_t)n, err);
    return rc == AC_EEXIST ? AC_OK : rc; /* another writer fixed it first: checked by the caller */
}

/* ---------------------------------------------------------------- kept checkpoints */

void kept_free(kept_cp *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ac_checkpoint_free(k[i].cp);
        free(k[i].bytes);
    }
    free(k);
}

static int by_size(const void *a, const void *b)
{
    const kept_cp *x = a, *y = b;
    return x->size < y->size ? -1 : x->size > y->size;
}

int kept_list(ac_chain *c, kept_cp **out, size_t *count, ac_error *err)
{
    *out = NULL;
    *count = 0;
    int dfd = openat(c->dirfd, AC_CHECKPOINT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? AC_OK
                               : ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHECKPOINT_DIR
                                               ": cannot open", c->dir);
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHECKPOINT_DIR ": cannot list", c->dir);
    }
    kept_cp *k = NULL;
    size_t n = 0, cap = 0;
    int rc = AC_OK;
    struct dirent *e;
    while (rc == AC_OK && (e = readdir(d)) != NULL) {
        uint64_t size;
        if (!parse_decimal(e->d_name, strlen(e->d_name), &size) || size == 0)
            continue; /* origin, temporary files, anything else */
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            kept_cp *p = realloc(k, cap * sizeof *k);
            if (p == NULL) {
                rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
                break;
            }
            k = p;
        }
        char name[300];
        snprintf(name, sizeof name, AC_CHECKPOINT_DIR "/%s", e->d_name);
        kept_cp *x = &k[n];
        memset(x, 0, sizeof *x);
        x->size = size;
        if (read_small(c, name, AC_NOTE_MAX_SIZE, &x->bytes, &x->len, NULL) != AC_OK ||
            ac_checkpoint_parse(x->bytes, x->len, &x->cp, NULL) != AC_OK ||
            ac_checkpoint_size(x->cp) != size) {
            ac_checkpoint_free(x->cp);
            x->cp = NULL; /* kept in the list: verification warns about it */
        }
        n++;
    }
    closedir(d);
    if (rc != AC_OK) {
        kept_free(k, n);
        return rc;
    }
    if (n > 1)
        qsort(k, n, sizeof *k, by_size);
    *out = k;
    *count = n;
    return AC_OK;
}

int kept_load(ac_chain *c, char origin[AC_NOTE_MAX_NAME + 1], kept_cp **k, size_t *n,
              ac_error *err)
{
    bool fixed;
    *k = NULL;
    *n = 0;
    int rc = chain_origin(c, origin, &fixed, err);
    return rc == AC_OK ? kept_list(c, k, n, err) : rc;
}

int kept_signed(const kept_cp *k, const char *origin, const uint8_t key[AC_PUBKEY_SIZE])
{
    if (k->cp == NULL || strcmp(ac_checkpoint_origin(k->cp), origin) != 0)
        return 0;
    ac_vkey *v;
    if (ac_vkey_new(origin, AC_VKEY_ED25519, key, &v, NULL) != AC_OK)
        return AC_ENOMEM;
    const ac_vkey *keys[1] = {v};
    int ok = ac_checkpoint_verify(k->cp, keys, 1, NULL);
    ac_vkey_free(v);
    return ok < 0 ? ok : ok == 1;
}

void checkpoint_key(const fold *f, uint64_t size, uint8_t key[AC_PUBKEY_SIZE])
{
    if (size >= f->st.record_count)
        memcpy(key, f->st.signer, AC_PUBKEY_SIZE);
    else
        fold_key_at(f, size, key);
}

const kept_cp *kept_newest_signed(ac_chain *c, const kept_cp *k, size_t n, const char *origin,
                                  uint64_t least, uint64_t most)
{
    for (size_t i = n; i-- > 0;) {
        if (k[i].size > most || k[i].size < least)
            continue;
        uint8_t key[AC_PUBKEY_SIZE];
        checkpoint_key(&c->f, k[i].size, key);
        if (kept_signed(&k[i], origin, key) == 1)
            return &k[i];
    }
    return NULL;
}

/* ---------------------------------------------------------------- roots */

int tree_root_checked(ac_chain *c, uint64_t size, uint8_t root[AC_HASH_SIZE], ac_error *err)
{
    if (size > c->f.st.record_count)
        return ac_fail(err, AC_EINVAL, -1, "%s: no tree of %llu records (the chain has %llu)",
                       c->dir, (unsigned long long)size,
                       (unsigned long long)c->f.st.record_count);
    char origin[AC_NOTE_MAX_NAME + 1];
    kept_cp *k = NULL;
    size_t nk = 0;
    int rc = kept_load(c, origin, &k, &nk, err);
    if (rc == AC_OK)
        rc = tree_sync(c, err);
    const kept_cp *base = rc == AC_OK ? kept_newest_signed(c, k, nk, origin, 1, size) : NULL;
    mrange r;
    mrange_init(&r);
    for (int attempt = 0; rc == AC_OK && base != NULL; attempt++) {
        /* The signed root vouches for the complete subtrees that give it. */
        uint8_t got[AC_HASH_SIZE];
        rc = mrange_load(&r, base->size, tree_read, c, err);
        if (rc == AC_OK && mrange_root(&r, c->hasher, got) == AC_OK &&
            memcmp(got, ac_checkpoint_root(base->cp), AC_HASH_SIZE) == 0)
            break;
        if (attempt > 0) {
            rc = ac_fail(err, AC_ECORRUPT, (int64_t)base->size - 1,
                         "%s: chain.bin does not give the root of the checkpoint of %llu records "
                         "it signed: it was rewritten; run verify", c->dir,
                         (unsigned long long)base->size);
            break;
        }
        tree_forget(c); /* the cache is wrong: rebuilt from chain.bin */
        rc = tree_sync(c, err);
    }
    kept_free(k, nk);
    if (rc == AC_OK)
        rc = tree_push_chain(c, &r, size, false, err);
    if (rc == AC_OK && mrange_root(&r, c->hasher, root) != AC_OK)
        rc = ac_fail(err, AC_ECRYPTO, -1, "SHA-256 failed");
    /* A cache that disagrees is dropped: the next operation rebuilds it. */
    uint8_t cached[AC_HASH_SIZE];
    if (rc == AC_OK && (ac_merkle_tree_hash(size, tree_read, c, cached, NULL) != AC_OK ||
                        memcmp(cached, root, AC_HASH_SIZE) != 0))
        tree_forget(c);
    return rc;
}

/* ---------------------------------------------------------------- signing */

ac_status ac_chain_checkpoint(ac_chain *c, const ac_key *key, const char *origin_wanted,
                              char **out, size_t *len, ac_error *err)
{
    if (c == NULL || key == NULL || out == NULL || len == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain, no key or no place for the checkpoint");
    *out = NULL;
    int rc = state_sync(c, err);
    if (rc != AC_OK)
        return rc;
    if ((rc = state_check_committed(c, err)) != AC_OK)
        return rc;
    uint64_t size = c->f.st.record_count;
    if (size == 0)
        return ac_fail(err, AC_EINVAL, -1, "%s: the chain is empty: append a record first", c->dir);
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(key, pub);
    if (memcmp(pub, c->f.st.signer, AC_PUBKEY_SIZE) != 0) {
        char want[2 * AC_PUBKEY_SIZE + 1];
        ac_hex_encode(c->f.st.signer, AC_PUBKEY_SIZE, want);
        return ac_fail(err, AC_EUNAUTHORIZED, (int64_t)size,
                       "%s: a checkpoint of %llu records is signed by the key authorized to sign "
                       "record %llu, whose public key is %s", c->dir, (unsigned long long)size,
                       (unsigned long long)size, want);
    }
    char origin[AC_NOTE_MAX_NAME + 1];
    bool fixed;
    if ((rc = chain_origin(c, origin, &fixed, err)) != AC_OK)
        return rc;
    if (origin_wanted != NULL && strcmp(origin_wanted, origin) != 0) {
        if (fixed)
            return ac_fail(err, AC_EINVAL, -1, "%s: the chain's origin is %s, fixed by its first "
                           "checkpoint; it never changes", c->dir, origin);
        if (!note_name_valid(origin_wanted, strlen(origin_wanted)))
            return ac_fail(err, AC_EINVAL, -1, "the origin '%.80s' is not 1 to %u bytes of text "
                           "without spaces or '+'", origin_wanted, AC_NOTE_MAX_NAME);
        snprintf(origin, sizeof origin, "%s", origin_wanted);
    }
    if (!fixed) {
        bool now;
        char got[AC_NOTE_MAX_NAME + 1];
        if ((rc = fix_origin(c, origin, err)) != AC_OK ||
            (rc = chain_origin(c, got, &now, err)) != AC_OK)
            return rc;
        if (strcmp(got, origin) != 0)
            return ac_fail(err, AC_EINVAL, -1, "%s: the chain's origin is %s, fixed meanwhile by "
                           "another checkpoint", c->dir, got);
    }
    uint8_t root[AC_HASH_SIZE];
    if ((rc = tree_root_checked(c, size, root, err)) != AC_OK)
        return rc;
    char name[64];
    snprintf(name, sizeof name, AC_CHECKPOINT_DIR "/%" PRIu64, size);
    uint8_t *old;
    size_t old_len;
    rc = read_small(c, name, AC_NOTE_MAX_SIZE, &old, &old_len, NULL);
    if (rc == AC_OK) {
        /* Kept already: the same root changes nothing; another is a fork. */
        ac_checkpoint *cp;
        bool same = ac_checkpoint_parse(old, old_len, &cp, NULL) == AC_OK &&
                    memcmp(ac_checkpoint_root(cp), root, AC_HASH_SIZE) == 0;
        ac_checkpoint_free(cp);
        if (!same) {
            free(old);
            return ac_fail(err, AC_ECORRUPT, (int64_t)size - 1,
                           "%s/%s holds another root for %llu records: run verify", c->dir,
                           name, (unsigned long long)size);
        }
        *out = (char *)old;
        *len = old_len;
        return AC_OK;
    }
    if ((rc = ac_checkpoint_sign(origin, size, root, key, out, len, err)) != AC_OK)
        return rc;
    rc = write_once(c, name, *out, *len, err);
    if (rc == AC_EEXIST) /* made meanwhile by another writer: theirs stands */
        rc = ac_fail(err, AC_EEXIST, -1, "%s/%s was written meanwhile; run the command again",
                     c->dir, name);
    if (rc != AC_OK) {
        ac_free(*out);
        *out = NULL;
    }
    return rc;
}

ac_status ac_chain_origin(ac_chain *c, char **origin, ac_error *err)
{
    if (c == NULL || origin == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the origin");
    *origin = NULL;
    int rc = state_sync(c, err);
    if (rc != AC_OK)
        return rc;
    if (c->f.st.record_count == 0)
        return ac_fail(err, AC_ENOTFOUND, -1, "%s: the chain is empty", c->dir);
    char buf[AC_NOTE_MAX_NAME + 1];
    bool fixed;
    if ((rc = chain_origin(c, buf, &fixed, err)) != AC_OK)
        return rc;
    if ((*origin = strdup(buf)) == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    return AC_OK;
}

/* ---------------------------------------------------------------- proofs */

ac_status ac_chain_prove(ac_chain *c, uint64_t index, char **proof, size_t *len, ac_error *err)
{
    if (c == NULL || proof == NULL || len == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the proof");
    *proof = NULL;
    ac_record *rec;
    int rc = ac_chain_get_verified(c, index, &rec, err);
    if (rc != AC_OK)
        return rc;
    char origin[AC_NOTE_MAX_NAME + 1];
    kept_cp *k = NULL;
    size_t nk = 0;
    rc = kept_load(c, origin, &k, &nk, err);
    const kept_cp *cp = rc == AC_OK ? kept_newest_signed(c, k, nk, origin, index + 1,
                                                     c->f.st.record_count) : NULL;
    if (rc == AC_OK && cp == NULL)
        rc = ac_fail(err, AC_ENOTFOUND, (int64_t)index, "%s: no signed checkpoint covers record "
                     "%llu yet: make one with 'attestchain checkpoint'", c->dir,
                     (unsigned long long)index);
    size_t blen;
    const uint8_t *body = ac_record_bytes(rec, &blen);
    uint8_t leaf[AC_HASH_SIZE], hashes[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE];
    size_t count = 0;
    if (rc == AC_OK && tree_leaf(c->hasher, body, blen, leaf) != AC_OK)
        rc = ac_fail(err, AC_ECRYPTO, -1, "SHA-256 failed");
    /* From the cache, checked against the signed root; rebuilt once if not. */
    for (int attempt = 0; rc == AC_OK; attempt++) {
        int prc = tree_sync(c, err);
        if (prc == AC_OK)
            prc = ac_merkle_prove_record(index, cp->size, tree_read, c, hashes, &count, err);
        if (prc == AC_OK && ac_merkle_check_record((const uint8_t(*)[AC_HASH_SIZE])hashes, count,
                                                   index, leaf, cp->size,
                                                   ac_checkpoint_root(cp->cp), NULL) == 1)
            break;
        if (attempt > 0)
            rc = prc != AC_OK ? prc
                              : ac_fail(err, AC_ECORRUPT, (int64_t)index,
                                        "%s: record %llu is not in the tree of the checkpoint of "
                                        "%llu records: chain.bin was rewritten; run verify",
                                        c->dir, (unsigned long long)index,
                                        (unsigned long long)cp->size);
        tree_forget(c);
    }
    if (rc == AC_OK)
        rc = ac_proof_write(index, body, blen, (const uint8_t(*)[AC_HASH_SIZE])hashes, count,
                            cp->bytes, cp->len, proof, len, err);
    kept_free(k, nk);
    ac_record_free(rec);
    return rc;
}

/* The consistency proof from old_size to new_size, read from the tree
 * store and checked against the roots given (which the caller computed
 * from what a signature vouches for); the store is rebuilt once when it
 * fails.  AC_OK, AC_ECORRUPT (chain.bin no longer gives them), or an error. */
static int prove_tree_checked(ac_chain *c, uint64_t old_size, const uint8_t *old_root,
                              uint64_t new_size, const uint8_t *new_root,
                              uint8_t (*proof)[AC_HASH_SIZE], size_t *count, ac_error *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = tree_sync(c, err);
        if (rc == AC_OK)
            rc = ac_merkle_prove_tree(old_size, new_size, tree_read, c, proof, count, err);
        if (rc == AC_OK && ac_merkle_check_tree((const uint8_t(*)[AC_HASH_SIZE])proof, *count,
                                                old_size, old_root, new_size, new_root,
                                                NULL) == 1)
            return AC_OK;
        if (attempt > 0)
            return rc != AC_OK ? rc
                               : ac_fail(err, AC_ECORRUPT, -1, "%s: cannot prove the tree of "
                                         "%llu records a prefix of the tree of %llu; run verify",
                                         c->dir, (unsigned long long)old_size,
                                         (unsigned long long)new_size);
        tree_forget(c);
    }
}

ac_status ac_chain_consistency(ac_chain *c, uint64_t old_size, uint64_t new_size,
                               uint8_t (*proof)[AC_HASH_SIZE], size_t *count,
                               uint8_t old_root[AC_HASH_SIZE], uint8_t new_root[AC_HASH_SIZE],
                               ac_error *err)
{
    if (c == NULL || proof == NULL || count == NULL || old_root == NULL || new_root == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the proof");
    int rc = state_sync(c, err);
    if (rc != AC_OK)
        return rc;
    if (old_size == 0 || old_size > new_size || new_size > c->f.st.record_count)
        return ac_fail(err, AC_EINVAL, -1, "%s: sizes must satisfy 1 <= OLD <= NEW <= %llu "
                       "(the chain's records)", c->dir, (unsigned long long)c->f.st.record_count);
    if ((rc = tree_root_checked(c, old_size, old_root, err)) != AC_OK ||
        (rc = tree_root_checked(c, new_size, new_root, err)) != AC_OK)
        return rc;
    return prove_tree_checked(c, old_size, old_root, new_size, new_root, proof, count, err);
}

ac_status ac_chain_signers(ac_chain *c, ac_signer_span **out, size_t *n, ac_error *err)
{
    if (c == NULL || out == NULL || n == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the signers");
    *out = NULL;
    *n = 0;
    int rc = state_sync(c, err);
    if (rc != AC_OK)
        return rc;
    if (c->f.st.record_count == 0)
        return AC_OK;
    ac_signer_span *s = calloc(c->f.nrot + 1, sizeof *s);
    if (s == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    memcpy(s[0].key, c->f.genesis, AC_PUBKEY_SIZE);
    s[0].first = 0;
    size_t k = 1;
    for (size_t i = 0; i < c->f.nrot; i++) {
        s[k - 1].last = c->f.rot[i].index; /* the rotation is signed by the old key */
        memcpy(s[k].key, c->f.rot[i].key, AC_PUBKEY_SIZE);
        s[k].first = c->f.rot[i].index + 1;
        k++;
    }
    s[k - 1].last = UINT64_MAX;
    *out = s;
    *n = k;
    return AC_OK;
}

/* ---------------------------------------------------------------- evidence */

ac_status ac_chain_fork_evidence(ac_chain *c, char **out, size_t *len, ac_error *err)
{
    if (c == NULL || out == NULL || len == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the evidence");
    *out = NULL;
    int rc = state_sync(c, err);
    if (rc != AC_OK)
        return rc;
    char origin[AC_NOTE_MAX_NAME + 1];
    kept_cp *k = NULL;
    size_t nk = 0;
    if ((rc = kept_load(c, origin, &k, &nk, err)) != AC_OK)
        return rc;
    /* The chain's own roots at every kept size it reaches, from its leaves. */
    uint8_t(*roots)[AC_HASH_SIZE] = calloc(nk ? nk : 1, sizeof *roots);
    bool *signed_ok = calloc(nk ? nk : 1, sizeof *signed_ok);
    mrange r;
    mrange_init(&r);
    if (roots == NULL || signed_ok == NULL)
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    for (size_t i = 0; rc == AC_OK && i < nk && k[i].size <= c->f.st.record_count; i++) {
        uint8_t key[AC_PUBKEY_SIZE];
        checkpoint_key(&c->f, k[i].size, key);
        signed_ok[i] = kept_signed(&k[i], origin, key) == 1;
        if ((rc = tree_push_chain(c, &r, k[i].size, false, err)) == AC_OK &&
            mrange_root(&r, c->hasher, roots[i]) != AC_OK)
            rc = ac_fail(err, AC_ECRYPTO, -1, "SHA-256 failed");
    }
    /* A signed checkpoint the chain no longer gives, and a larger signed one
     * it does give: the key signed two histories, and the chain's tree
     * proves it (its root at the smaller size, and the consistency proof). */
    const kept_cp *a = NULL, *b = NULL;
    const uint8_t *root_a = NULL;
    for (size_t i = 0; rc == AC_OK && a == NULL && i < nk; i++) {
        if (!signed_ok[i] || memcmp(roots[i], ac_checkpoint_root(k[i].cp), AC_HASH_SIZE) == 0)
            continue;
        for (size_t j = nk; j-- > i + 1 && b == NULL;)
            if (signed_ok[j] && memcmp(roots[j], ac_checkpoint_root(k[j].cp), AC_HASH_SIZE) == 0)
                b = &k[j];
        if (b != NULL) {
            a = &k[i];
            root_a = roots[i];
        }
    }
    if (rc == AC_OK && a == NULL)
        rc = ac_fail(err, AC_ENOTFOUND, -1, "%s: no two signed checkpoints here that no single "
                     "history explains", c->dir);
    uint8_t proof[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE];
    size_t count = 0;
    if (rc == AC_OK) {
        /* The proof is checked against the roots computed from the leaves. */
        rc = prove_tree_checked(c, a->size, root_a, b->size, ac_checkpoint_root(b->cp), proof,
                                &count, err);
    }
    if (rc == AC_OK)
        rc = ac_evidence_checkpoints(a->bytes, a->len, b->bytes, b->len, root_a,
                                     (const uint8_t(*)[AC_HASH_SIZE])proof, count, out, len, err);
    free(roots);
    free(signed_ok);
    kept_free(k, nk);
    return rc;
}
