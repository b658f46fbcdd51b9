/* Appending (format section 7): under flock(LOCK_EX) on chain.bin, bring the
 * state up to date, cut a torn tail (keeping its bytes), refuse a key that is
 * not authorized, write every frame of the batch with one pwrite, fdatasync
 * once, and only then report the records appended.  A failure leaves
 * chain.bin as it was. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"

int lock_chain(ac_chain *c, ac_error *err)
{
    while (flock(c->fd, LOCK_EX) != 0) {
        if (errno != EINTR)
            return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": cannot lock", c->dir);
    }
    c->state_gone = false; /* what was seen before the lock says nothing now */
    return AC_OK;
}

void unlock_chain(ac_chain *c)
{
    c->state_gone = false;
    (void)flock(c->fd, LOCK_UN);
}

int chain_writable(const ac_chain *c, ac_error *err)
{
    if (c == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain");
    if (c->readonly)
        return ac_fail(err, AC_EINVAL, -1, "%s: opened read-only", c->dir);
    return AC_OK;
}

int chain_checkpoint(ac_chain *c, ac_error *err)
{
    /* Under the lock and after a sync, so that the checkpoint names the real
     * head even when other writers appended after this handle did. */
    int rc = lock_chain(c, err);
    if (rc != AC_OK)
        return rc;
    rc = state_sync(c, err);
    if (rc == AC_OK)
        rc = state_save(c, err);
    else if (rc == AC_ECORRUPT)
        rc = AC_OK; /* no checkpoint for a damaged chain: verify reports it */
    unlock_chain(c);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        p += w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 0;
}

/* Copies [off, off + len) of the chain into fd, in chunks: a torn tail of
 * garbage can be large. */
static int copy_span(ac_chain *c, uint64_t off, uint64_t len, int fd)
{
    enum { CHUNK = 1u << 20 };
    for (uint64_t done = 0; done < len;) {
        uint64_t n = len - done < CHUNK ? len - done : CHUNK;
        uint8_t *bytes;
        if (read_span(c->fd, off + done, off + done + n, &bytes) != 0)
            return -1;
        int w = write_all(fd, bytes, (size_t)n, done);
        free(bytes);
        if (w != 0)
            return -1;
        done += n;
    }
    return 0;
}

/* Saves an incomplete last frame beside the chain, then cuts it off. */
static int cut_torn_tail(ac_chain *c, ac_error *err)
{
    uint64_t off = c->torn_off, len = c->torn_len;
    char name[96];
    snprintf(name, sizeof name, AC_CHAIN_FILE ".torn-%" PRIu64 "-%" PRIu64, off, ac_now_us());
    int fd = openat(c->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    int rc = AC_OK;
    if (fd < 0 || copy_span(c, off, len, fd) != 0 || fsync(fd) != 0)
        rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot save torn tail", c->dir, name);
    if (fd >= 0)
        close(fd);
    if (rc != AC_OK) {
        unlinkat(c->dirfd, name, 0);
        return rc;
    }
    if (fsync(c->dirfd) != 0 || ftruncate(c->fd, (off_t)off) != 0 || fdatasync(c->fd) != 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": cannot cut torn tail", c->dir);
    c->torn_off = c->torn_len = 0;
    return AC_OK;
}

int append_begin(ac_chain *c, ac_error *err)
{
    int rc = state_sync(c, err);
    return rc == AC_OK ? state_check_committed(c, err) : rc;
}

int append_ready(ac_chain *c, ac_error *err)
{
    int rc;
    if (c->torn_len > 0 && (rc = cut_torn_tail(c, err)) != AC_OK)
        return rc;
    /* Looked at every time, not once per handle: another handle may have
     * written state.cbor on its close since our last append. */
    return state_remove(c, err);
}

/* Under the lock: the state current and undamaged, nothing committed lost,
 * the key authorized, and only then the torn tail cut. */
static int prepare(ac_chain *c, const ac_key *key, ac_error *err)
{
    int rc = append_begin(c, err);
    if (rc != AC_OK)
        return rc;
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(key, pub);
    if (c->f.st.record_count > 0 && sodium_is_zero(c->f.st.signer, AC_PUBKEY_SIZE))
        return ac_fail(err, AC_EUNAUTHORIZED, (int64_t)c->f.st.record_count,
                       "%s: record %llu: no key may sign: a rotation handed authority to a key "
                       "it had retired before", c->dir, (unsigned long long)c->f.st.record_count);
    if (c->f.st.record_count > 0 && sodium_memcmp(pub, c->f.st.signer, AC_PUBKEY_SIZE) != 0) {
        char want[2 * AC_PUBKEY_SIZE + 1];
        ac_hex_encode(c->f.st.signer, AC_PUBKEY_SIZE, want);
        return ac_fail(err, AC_EUNAUTHORIZED, (int64_t)c->f.st.record_count,
                       "%s: record %llu: this key is not authorized to sign; sign with the key "
                       "whose public key is %s", c->dir, (unsigned long long)c->f.st.record_count,
                       want);
    }
    return append_ready(c, err);
}

typedef struct pending {
    ac_entry entry;
    const uint8_t *meta;
    size_t meta_len;
} pending;

/* A rotation just built hands authority to its new key from the next record. */
static int take_rotation(const uint8_t *body, size_t len, ac_state *st, ac_error *err)
{
    ac_rec rec;
    uint8_t new_key[AC_PUBKEY_SIZE];
    if (rec_decode(body, len, &rec, NULL) != 0 || rec_rotation(&rec, new_key) != 1)
        return ac_fail(err, AC_EINVAL, (int64_t)st->record_count,
                       "record %llu: malformed key rotation", (unsigned long long)st->record_count);
    memcpy(st->signer, new_key, AC_PUBKEY_SIZE);
    return AC_OK;
}

/* Builds the frames of the batch after the current head into `out`. */
static int build_batch(ac_chain *c, const ac_key *key, const pending *p, size_t n, det_buf *out,
                       uint64_t *offs, ac_appended *res, ac_state *st, ac_error *err)
{
    rec_fields f;
    memset(&f, 0, sizeof f);
    ac_key_pubkey(key, f.signer);
    det_buf wit = {0};
    if (c->boot_id_state == 0)
        c->boot_id_state = witness_boot_id(c->boot_id) == 0 ? 1 : -1;
    const uint8_t *boot_id = c->boot_id_state > 0 ? c->boot_id : NULL;
    /* One call to the system's randomness for the whole batch. */
    uint8_t *random = malloc(10 * n);
    if (random == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    randombytes_buf(random, 10 * n);
    int rc = AC_OK;
    for (size_t i = 0; i < n && rc == AC_OK; i++) {
        uint64_t frame_off = st->chain_size;
        f.chain_index = st->record_count;
        f.claimed_ts = ac_now_us();
        rec_uuid7(f.claimed_ts, random + 10 * i, f.record_id);
        if (st->record_count == 0)
            memset(f.prev_hash, 0, AC_HASH_SIZE);
        else
            memcpy(f.prev_hash, st->head_hash, AC_HASH_SIZE);
        memcpy(f.content_hash, p[i].entry.content_hash, AC_HASH_SIZE);
        f.content_type = p[i].entry.content_type;
        f.metadata = p[i].meta;
        f.metadata_len = p[i].meta_len;
        wit.len = 0;
        witness_collect(boot_id, frame_off, &wit);
        if (wit.failed) {
            rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
            break;
        }
        f.witnesses = wit.data;
        f.witnesses_len = wit.len;
        size_t body_off;
        if ((rc = rec_build_frame(&f, key, out, &body_off, err)) != AC_OK)
            break;
        size_t body_len = out->len - body_off;
        if (st->record_count == 0) {
            rc = rec_chain_id(out->data + body_off, body_len, c->hasher, st->chain_id, NULL);
            if (rc == AC_ENOMEM) {
                rc = ac_fail(err, rc, -1, "out of memory");
                break;
            }
            st->created_at = f.claimed_ts;
            memcpy(st->signer, f.signer, AC_PUBKEY_SIZE);
        }
        if (rc == AC_OK)
            rc = hasher_digest(c->hasher, out->data + body_off, body_len, st->head_hash);
        if (rc != AC_OK) {
            rc = ac_fail(err, rc, (int64_t)f.chain_index, "record %llu: cannot compute its hashes",
                         (unsigned long long)f.chain_index);
            break;
        }
        if (strcmp(f.content_type, AC_ROTATION_CONTENT_TYPE) == 0 &&
            (rc = take_rotation(out->data + body_off, body_len, st, err)) != AC_OK)
            break;
        offs[i] = frame_off;
        res[i].index = f.chain_index;
        memcpy(res[i].hash, st->head_hash, AC_HASH_SIZE);
        st->head_index = f.chain_index;
        st->head_offset = frame_off;
        st->record_count++;
        st->chain_size = frame_off + 4 + body_len;
        st->last_append_at = f.claimed_ts;
    }
    det_buf_free(&wit);
    sodium_memzero(random, 10 * n);
    free(random);
    return rc;
}

int append_commit(ac_chain *c, const det_buf *frames, ac_error *err)
{
    uint64_t at = c->f.st.chain_size;
    if (write_all(c->fd, frames->data, frames->len, at) == 0 && fdatasync(c->fd) == 0)
        return AC_OK;
    int rc = ac_fail_errno(err, AC_EIO, (int64_t)c->f.st.record_count,
                           "%s/" AC_CHAIN_FILE ": record %llu: append failed, nothing was added",
                           c->dir, (unsigned long long)c->f.st.record_count);
    int saved = errno;
    if (ftruncate(c->fd, (off_t)at) != 0 || fdatasync(c->fd) != 0)
        rc = ac_fail_errno(err, AC_EIO, (int64_t)c->f.st.record_count,
                           "%s/" AC_CHAIN_FILE ": append failed and its partial write could not be "
                           "removed; run verify", c->dir);
    errno = saved;
    return rc;
}

void append_committed(ac_chain *c, uint64_t first, const uint64_t *offs, size_t n,
                      const det_buf *frames)
{
    index_note(c, first, offs, n);
    tree_note_append(c, first, frames->data, frames->len);
}

/* Section 4.4: a retired key is never authorized again, so handing
 * authority to one would leave nobody able to sign. */
static int check_rotation_target(ac_chain *c, const uint8_t *new_key, ac_error *err)
{
    if (new_key == NULL || !key_set_has(&c->f.retired, new_key))
        return AC_OK;
    return ac_fail(err, AC_EINVAL, (int64_t)c->f.st.record_count,
                   "%s: the new key was retired by an earlier rotation and can never sign "
                   "again; rotate to a fresh key", c->dir);
}

static int append_locked(ac_chain *c, const ac_key *key, const pending *p, size_t n,
                         const uint8_t *rotation_key, ac_appended *res, ac_error *err)
{
    int rc = prepare(c, key, err);
    if (rc == AC_OK)
        rc = check_rotation_target(c, rotation_key, err);
    if (rc != AC_OK)
        return rc;
    det_buf frames = {0};
    uint64_t *offs = calloc(n, sizeof *offs);
    ac_state st = c->f.st;
    if (offs == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    rc = build_batch(c, key, p, n, &frames, offs, res, &st, err);
    if (rc == AC_OK)
        rc = append_commit(c, &frames, err);
    if (rc == AC_OK) {
        uint64_t first = c->f.st.record_count;
        if (first == 0) {
            ac_key_pubkey(key, c->f.genesis);
            ac_key_pubkey(key, c->f.st.signer);
        }
        /* A rotation is a batch's only entry: the fold learns it. */
        if (rotation_key != NULL && fold_rotate(&c->f, first, offs[0], rotation_key) != AC_OK) {
            state_forget(c); /* out of memory: the next sync rebuilds */
        } else {
            c->f.st = st;
            append_committed(c, first, offs, n, &frames);
        }
    }
    free(offs);
    det_buf_free(&frames);
    return rc;
}

static int check_entries(const ac_entry *e, size_t n, pending *p, bool rotation_ok, ac_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].content_type == NULL)
            return ac_fail(err, AC_EINVAL, -1, "entry %zu: no content type", i);
        if (!rotation_ok && strcmp(e[i].content_type, AC_ROTATION_CONTENT_TYPE) == 0)
            return ac_fail(err, AC_EINVAL, -1,
                           "entry %zu: key rotations are appended with ac_append_rotation", i);
        int rc = rec_check_content_type(e[i].content_type, err);
        if (rc != AC_OK)
            return rc;
        p[i].entry = e[i];
        rc = meta_encoded(e[i].metadata, &p[i].meta, &p[i].meta_len, err);
        if (rc != AC_OK)
            return rc;
    }
    return AC_OK;
}

/* `rotation_key`: the new key of a rotation entry, or NULL for plain entries. */
static int append_entries(ac_chain *c, const ac_key *key, const ac_entry *entries, size_t n,
                          ac_appended *out, const uint8_t *rotation_key, ac_error *err)
{
    int rc = chain_writable(c, err);
    if (rc != AC_OK || n == 0)
        return rc;
    if (key == NULL || entries == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no key or no entries");
    pending *p = calloc(n, sizeof *p);
    ac_appended *res = calloc(n, sizeof *res);
    rc = p && res ? check_entries(entries, n, p, rotation_key != NULL, err)
                  : ac_fail(err, AC_ENOMEM, -1, "out of memory");
    if (rc == AC_OK)
        rc = chain_open_file(c, true, err);
    if (rc == AC_OK)
        rc = lock_chain(c, err);
    if (rc == AC_OK) {
        rc = append_locked(c, key, p, n, rotation_key, res, err);
        unlock_chain(c);
    }
    if (rc == AC_OK && out != NULL)
        memcpy(out, res, n * sizeof *res);
    free(p);
    free(res);
    return rc;
}

ac_status ac_append_batch(ac_chain *c, const ac_key *key, const ac_entry *entries, size_t n,
                          ac_appended *out, ac_error *err)
{
    return append_entries(c, key, entries, n, out, NULL, err);
}

ac_status ac_append(ac_chain *c, const ac_key *key, const ac_entry *entry, ac_appended *out,
                    ac_error *err)
{
    return append_entries(c, key, entry, 1, out, NULL, err);
}

ac_status ac_append_rotation(ac_chain *c, const ac_key *old_key, const uint8_t new_pubkey[AC_PUBKEY_SIZE],
                             ac_appended *out, ac_error *err)
{
    if (c == NULL || old_key == NULL || new_pubkey == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain, no key or no new public key");
    uint8_t old_pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(old_key, old_pub);
    if (sodium_memcmp(old_pub, new_pubkey, AC_PUBKEY_SIZE) == 0)
        return ac_fail(err, AC_EINVAL, -1, "%s: the new key is the key it would retire", c->dir);
    char hex[2 * AC_PUBKEY_SIZE + 1];
    ac_hex_encode(new_pubkey, AC_PUBKEY_SIZE, hex);
    ac_meta *meta;
    int rc = ac_meta_new(&meta, err);
    if (rc != AC_OK)
        return rc;
    ac_entry e = {.content_type = AC_ROTATION_CONTENT_TYPE, .metadata = meta};
    rc = ac_meta_set_text(meta, "new_pubkey", hex, err);
    if (rc == AC_OK)
        rc = ac_sha256(new_pubkey, AC_PUBKEY_SIZE, e.content_hash, err);
    if (rc == AC_OK)
        rc = append_entries(c, old_key, &e, 1, out, new_pubkey, err);
    ac_meta_free(meta);
    return rc;
}

ac_status ac_chain_recover(ac_chain *c, ac_loss *out, char *kept_as, size_t kept_size,
                           ac_error *err)
{
    if (c == NULL || out == NULL || kept_as == NULL || kept_size == 0)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the answer");
    kept_as[0] = '\0';
    if (c->readonly)
        return ac_fail(err, AC_EINVAL, -1, "%s: opened read-only", c->dir);
    int rc = chain_open_file(c, true, err);
    if (rc == AC_OK)
        rc = lock_chain(c, err);
    if (rc != AC_OK)
        return rc;
    rc = state_sync(c, err);
    if (rc == AC_OK)
        rc = state_recover(c, out, kept_as, kept_size, err);
    unlock_chain(c);
    return rc;
}
