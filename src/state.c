/* The head state (format section 6): kept in memory, checkpointed in
 * state.cbor, and never trusted without checking it against chain.bin. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---------------------------------------------------------------- state.cbor */

enum { S_SIGNER, S_CHAIN_ID, S_HEAD_HASH, S_CHAIN_SIZE, S_CREATED_AT, S_HEAD_INDEX,
       S_HEAD_OFFSET, S_RECORD_COUNT, S_LAST_APPEND_AT, S_KEYS };

/* In deterministic order: shorter first, then bytewise. */
static const char *const state_keys[S_KEYS] = {
    "signer", "chain_id", "head_hash", "chain_size", "created_at", "head_index",
    "head_offset", "record_count", "last_append_at",
};

static uint64_t *state_uint(ac_state *s, int k)
{
    switch (k) {
    case S_CHAIN_SIZE: return &s->chain_size;
    case S_CREATED_AT: return &s->created_at;
    case S_HEAD_INDEX: return &s->head_index;
    case S_HEAD_OFFSET: return &s->head_offset;
    case S_RECORD_COUNT: return &s->record_count;
    case S_LAST_APPEND_AT: return &s->last_append_at;
    default: return NULL;
    }
}

static uint8_t *state_bytes(ac_state *s, int k)
{
    switch (k) {
    case S_SIGNER: return s->signer;
    case S_CHAIN_ID: return s->chain_id;
    case S_HEAD_HASH: return s->head_hash;
    default: return NULL;
    }
}

static void state_encode(const ac_state *st, det_buf *b)
{
    ac_state s = *st;
    det_put_map(b, S_KEYS);
    for (int k = 0; k < S_KEYS; k++) {
        det_put_text(b, state_keys[k], strlen(state_keys[k]));
        uint64_t *u = state_uint(&s, k);
        if (u != NULL)
            det_put_uint(b, *u);
        else
            det_put_bytes(b, state_bytes(&s, k), AC_HASH_SIZE);
    }
}

/* Parses state.cbor; unknown keys are ignored, every key of ours is needed. */
static int state_decode(const uint8_t *buf, size_t len, ac_state *out)
{
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    if (det_item_skip(buf, len, &pos, AC_MAX_DEPTH) != 0 || pos != len)
        return -1;
    unsigned seen = 0;
    for (int k = 0; k < S_KEYS; k++) {
        size_t vpos;
        det_token t;
        if (det_map_find(buf, len, state_keys[k], &vpos) != 0 ||
            det_token_read(buf, len, &vpos, &t) != 0)
            continue;
        uint64_t *u = state_uint(out, k);
        if (u != NULL && t.type == DET_UINT) {
            *u = t.val;
            seen |= 1u << k;
        } else if (u == NULL && t.type == DET_BYTES && t.val == AC_HASH_SIZE) {
            memcpy(state_bytes(out, k), t.data, AC_HASH_SIZE);
            seen |= 1u << k;
        }
    }
    return seen == (1u << S_KEYS) - 1 ? 0 : -1;
}

/* state.cbor's bytes into buf; their length, or -1 (errno ENOENT when there
 * is no such file). */
static ssize_t state_read(ac_chain *c, uint8_t *buf, size_t cap)
{
    int fd = openat(c->dirfd, AC_STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct stat sb;
    ssize_t n = -1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < (off_t)cap)
        n = read(fd, buf, cap);
    close(fd);
    if (n < 0)
        errno = EINVAL; /* there is a file, but not one to read */
    return n;
}

static int state_load(ac_chain *c, ac_state *out)
{
    uint8_t buf[1024];
    ssize_t n = state_read(c, buf, sizeof buf);
    return n > 0 ? state_decode(buf, (size_t)n, out) : -1;
}

/* A uint under `key` in the map buf, if there is one. */
static bool find_uint(const uint8_t *buf, size_t len, const char *key, uint64_t *v)
{
    size_t pos;
    det_token t;
    if (det_map_find(buf, len, key, &pos) != 0 || det_token_read(buf, len, &pos, &t) != 0 ||
        t.type != DET_UINT)
        return false;
    *v = t.val;
    return true;
}

int state_check_committed(ac_chain *c, bool *present, ac_error *err)
{
    uint8_t buf[1024];
    ssize_t n = state_read(c, buf, sizeof buf);
    *present = n >= 0 || errno != ENOENT;
    size_t pos = 0;
    if (n <= 0 || det_item_skip(buf, (size_t)n, &pos, AC_MAX_DEPTH) != 0)
        return AC_OK; /* no checkpoint to speak of */
    uint64_t size, count;
    /* Python-written checkpoints carry only the count: use what there is. */
    bool lost = (find_uint(buf, (size_t)n, "chain_size", &size) && size > c->st.chain_size) ||
                (find_uint(buf, (size_t)n, "record_count", &count) && count > c->st.record_count);
    if (!lost)
        return AC_OK;
    return ac_fail(err, AC_ECORRUPT, (int64_t)c->st.record_count,
                   "%s/" AC_CHAIN_FILE ": holds less than " AC_STATE_FILE " says was committed "
                   "(%llu complete records): records were lost and appending would fork the "
                   "chain; restore chain.bin from a copy, or remove " AC_STATE_FILE
                   " to accept the loss",
                   c->dir, (unsigned long long)c->st.record_count);
}

int state_save(ac_chain *c, ac_error *err)
{
    if (c->readonly || c->st.record_count == 0)
        return AC_OK;
    det_buf b = {0};
    state_encode(&c->st, &b);
    if (b.failed)
        return det_buf_free(&b), ac_fail(err, AC_ENOMEM, -1, "out of memory");
    static const char tmp[] = AC_STATE_FILE ".tmp";
    int fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    int rc = AC_OK;
    if (fd < 0) {
        rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot create", c->dir, tmp);
    } else {
        ssize_t w = write(fd, b.data, b.len);
        if (w != (ssize_t)b.len || fsync(fd) != 0) {
            if (w >= 0 && w != (ssize_t)b.len)
                errno = ENOSPC;
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/%s: cannot write", c->dir, tmp);
        }
        close(fd);
        if (rc == AC_OK && renameat(c->dirfd, tmp, c->dirfd, AC_STATE_FILE) != 0)
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/" AC_STATE_FILE ": cannot rename into place",
                               c->dir);
        if (rc != AC_OK)
            unlinkat(c->dirfd, tmp, 0);
    }
    det_buf_free(&b);
    if (rc == AC_OK)
        c->owes_state = c->state_stale = false;
    return rc;
}

int state_remove(ac_chain *c, ac_error *err)
{
    if (unlinkat(c->dirfd, AC_STATE_FILE, 0) == 0) {
        if (fsync(c->dirfd) != 0)
            return ac_fail_errno(err, AC_EIO, -1, "%s: cannot sync directory", c->dir);
    } else if (errno != ENOENT) {
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_STATE_FILE ": cannot remove", c->dir);
    }
    c->owes_state = true;
    return AC_OK;
}

/* ---------------------------------------------------------------- checking */

/* Whether record 0 gives the checkpoint's chain id and creation time: a
 * status or an index must not carry another chain's identity. */
static bool chain_id_matches(ac_chain *c, const ac_state *st, uint64_t file_size)
{
    uint8_t *body;
    uint32_t len;
    if (frame_read_at(c->fd, 0, file_size, &body, &len) != AC_OK)
        return false;
    ac_rec rec;
    uint8_t id[AC_HASH_SIZE];
    bool ok = rec_chain_id(body, len, c->hasher, id, &rec) == AC_OK &&
              memcmp(id, st->chain_id, AC_HASH_SIZE) == 0 && rec.claimed_ts == st->created_at;
    free(body);
    return ok;
}

/* Whether the frame at st->head_offset ends at st->chain_size and hashes to
 * st->head_hash: what makes a checkpoint trustworthy. */
static bool head_matches(ac_chain *c, const ac_state *st, uint64_t file_size)
{
    if (st->record_count == 0)
        return st->chain_size == 0;
    if (st->chain_size > file_size || st->head_index + 1 != st->record_count)
        return false;
    uint8_t *body;
    uint32_t len;
    if (frame_read_at(c->fd, st->head_offset, file_size, &body, &len) != AC_OK)
        return false;
    uint8_t h[AC_HASH_SIZE], next_signer[AC_PUBKEY_SIZE];
    ac_rec rec;
    bool ok = st->head_offset + 4 + len == st->chain_size &&
              hasher_digest(c->hasher, body, len, h) == AC_OK &&
              memcmp(h, st->head_hash, AC_HASH_SIZE) == 0 &&
              rec_decode(body, len, &rec, NULL) == 0 && rec.chain_index == st->head_index &&
              rec.claimed_ts == st->last_append_at;
    /* The head also tells who signs next: its own signer, or the key it
     * rotates to.  A checkpoint naming anyone else is not believed. */
    if (ok && rec_rotation(&rec, next_signer) != 1)
        memcpy(next_signer, rec.signer, AC_PUBKEY_SIZE);
    ok = ok && memcmp(next_signer, st->signer, AC_PUBKEY_SIZE) == 0;
    free(body);
    return ok && chain_id_matches(c, st, file_size);
}

/* Rotation records are rare: a cheap search for the content type picks the
 * few frames worth decoding. */
static bool maybe_rotation(const uint8_t *body, uint32_t len)
{
    static const char rot[] = AC_ROTATION_CONTENT_TYPE;
    return memmem(body, len, rot, sizeof rot - 1) != NULL;
}

typedef struct roll {
    ac_state st;
    key_set retired;     /* keys retired by rotations before the head */
    bool retired_known;  /* false while the roll began after record 0 and has
                            not needed the history before it */
    uint64_t base;       /* records before the roll began */
    uint64_t *offs; /* offsets of the frames found */
    size_t n, cap;
} roll;

/* A roll that began at a checkpoint learns the keys retired before it only
 * when a rotation needs them (a rotation back to one leaves nobody
 * authorized), by a scan of the history; rotations are rare. */
static int learn_retired(ac_chain *c, roll *r)
{
    if (r->retired_known)
        return AC_OK;
    uint8_t signer[AC_PUBKEY_SIZE], prev[AC_HASH_SIZE];
    uint64_t off;
    key_set before = {0};
    if (state_history(c, r->base, signer, prev, &off, &before, NULL) == AC_OK) {
        for (size_t i = 0; i < r->retired.n; i++) /* none yet, in practice */
            if (key_set_add(&before, r->retired.keys[i]) != AC_OK) {
                key_set_free(&before);
                return AC_ENOMEM;
            }
        key_set_free(&r->retired);
        r->retired = before;
    }
    r->retired_known = true; /* a damaged history: verify will say where */
    return AC_OK;
}

static int roll_frame(ac_chain *c, roll *r, uint64_t off, const uint8_t *body, uint32_t len)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        uint64_t *p = realloc(r->offs, cap * sizeof *p);
        if (p == NULL)
            return AC_ENOMEM;
        r->offs = p;
        r->cap = cap;
    }
    ac_rec rec;
    if (r->st.record_count == 0) {
        int rc = rec_chain_id(body, len, c->hasher, r->st.chain_id, &rec);
        if (rc != AC_OK)
            return rc;
        r->st.created_at = rec.claimed_ts;
        memcpy(r->st.signer, rec.signer, AC_PUBKEY_SIZE);
    }
    uint8_t new_key[AC_PUBKEY_SIZE];
    if (maybe_rotation(body, len) && rec_decode(body, len, &rec, NULL) == 0 &&
        memcmp(rec.signer, r->st.signer, AC_PUBKEY_SIZE) == 0 &&
        rec_rotation(&rec, new_key) == 1 &&
        (learn_retired(c, r) != AC_OK || authority_rotate(&r->retired, r->st.signer, new_key) != AC_OK))
        return AC_ENOMEM;
    r->offs[r->n++] = off;
    r->st.record_count++;
    r->st.head_offset = off;
    r->st.chain_size = off + 4 + len;
    return AC_OK;
}

/* The head record of a roll: decoded, hashed, and at its position. */
static int roll_head(ac_chain *c, roll *r)
{
    uint8_t *body;
    uint32_t len;
    int rc = frame_read_at(c->fd, r->st.head_offset, r->st.chain_size, &body, &len);
    if (rc != AC_OK)
        return rc;
    ac_rec rec;
    if (rec_decode(body, len, &rec, NULL) != 0 || rec.chain_index != r->st.record_count - 1)
        rc = AC_ECORRUPT;
    else
        rc = hasher_digest(c->hasher, body, len, r->st.head_hash);
    r->st.head_index = r->st.record_count - 1;
    r->st.last_append_at = rec.claimed_ts;
    free(body);
    return rc;
}

static int corrupt(ac_chain *c, uint64_t index, const char *what, uint64_t off, ac_error *err)
{
    return ac_fail(err, AC_ECORRUPT, (int64_t)index,
                   "%s/" AC_CHAIN_FILE ": record %llu: %s at offset %llu; run verify", c->dir,
                   (unsigned long long)index, what, (unsigned long long)off);
}

/* Decides whether the incomplete frame at `off` is a torn tail. */
static int check_tail(ac_chain *c, roll *r, uint64_t off, uint64_t size, ac_error *err)
{
    uint8_t *buf;
    if (read_span(c->fd, off, size, &buf) != 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": read failed", c->dir);
    bool inside = frame_record_inside(buf, (size_t)(size - off));
    free(buf);
    if (inside)
        return corrupt(c, r->st.record_count, "length prefix runs past the end of the file", off, err);
    c->torn_off = off;
    c->torn_len = size - off;
    return AC_OK;
}

/* Scans the frames after r->st.chain_size up to `size`.  Damage stops the
 * scan but keeps what was found before it, so that reads still work. */
static int roll_forward(ac_chain *c, roll *r, uint64_t size, bool *head_ok, ac_error *err)
{
    frame_win w;
    const ac_state base_copy = r->st, *base = &base_copy;
    uint64_t before = r->st.record_count;
    *head_ok = false;
    if (fwin_init(&w, c->fd, r->st.chain_size, size, 4u << 20) != 0)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    int rc = AC_OK;
    for (bool done = false; !done && rc == AC_OK;) {
        uint64_t off;
        const uint8_t *body;
        uint32_t len;
        switch (fwin_next(&w, &off, &body, &len)) {
        case FW_FRAME:
            rc = roll_frame(c, r, off, body, len);
            if (rc == AC_ECORRUPT)
                rc = corrupt(c, r->st.record_count, "record 0 does not decode", off, err);
            else if (rc == AC_ENOMEM)
                rc = ac_fail(err, rc, -1, "out of memory");
            break;
        case FW_REFILL:
            if (fwin_refill(&w) != 0)
                rc = ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": read failed", c->dir);
            break;
        case FW_END: done = true; break;
        case FW_TORN: rc = check_tail(c, r, off, size, err); done = true; break;
        case FW_BAD_LEN: rc = corrupt(c, r->st.record_count, "invalid length prefix", off, err); break;
        case FW_IO:
            rc = ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": read failed", c->dir);
            break;
        }
    }
    fwin_free(&w);
    if (rc != AC_OK && rc != AC_ECORRUPT)
        return rc;
    /* The last frame must decode at its position to be a head.  If it does
     * not, the state ends at the last frame before it that does, so that
     * the good records stay readable; appends refuse, verify reports. */
    while (r->st.record_count > before) {
        int hrc = roll_head(c, r);
        if (hrc == AC_OK)
            break;
        if (hrc != AC_ECORRUPT)
            return ac_fail(err, hrc, -1, "%s/" AC_CHAIN_FILE ": cannot read the head record", c->dir);
        if (rc == AC_OK)
            rc = corrupt(c, r->st.record_count - 1, "record does not decode at its position",
                         r->st.head_offset, err);
        r->n--;
        r->st.record_count--;
        r->st.chain_size = r->offs[r->n];
        r->st.head_offset = r->n > 0 ? r->offs[r->n - 1] : base->head_offset;
    }
    if (r->st.record_count == before) {
        /* Nothing new is good: what we started from stands, signer included. */
        r->st = *base;
    }
    *head_ok = true;
    return rc;
}

/* Whether the checkpoint can be taken without reading a record: it covers
 * exactly the file.  Its head is checked before anything relies on it. */
static bool covers_file(const ac_state *st, uint64_t size)
{
    return st->record_count > 0 && st->chain_size == size &&
           st->head_index + 1 == st->record_count && st->head_offset < size;
}

int state_sync(ac_chain *c, bool check_head, ac_error *err)
{
    uint64_t size;
    int rc = chain_open_file(c, false, err);
    if (rc == AC_OK)
        rc = chain_file_size(c, &size, err);
    if (rc != AC_OK)
        return rc;
    if (c->have_state && c->st.chain_size == size && c->torn_len == 0) {
        if (c->head_checked || !check_head)
            return AC_OK;
        if (head_matches(c, &c->st, size))
            return c->head_checked = true, AC_OK;
        c->have_state = false;
    }
    roll r = {0};
    c->torn_off = c->torn_len = 0;
    /* Trust, in turn: what this handle knew, the checkpoint, nothing. */
    bool checked = true;
    if (c->have_state && head_matches(c, &c->st, size)) {
        r.st = c->st;
    } else if (state_load(c, &r.st) != 0) {
        memset(&r.st, 0, sizeof r.st);
    } else if (!check_head && covers_file(&r.st, size)) {
        checked = false; /* opening with valid caches reads no record */
    } else if (!head_matches(c, &r.st, size)) {
        memset(&r.st, 0, sizeof r.st);
    }
    uint64_t first = r.st.record_count;
    r.retired_known = first == 0;
    r.base = first;
    bool head_ok;
    rc = roll_forward(c, &r, size, &head_ok, err);
    /* After damage the state covers the good frames before it: reads work,
     * appends see the size mismatch and refuse. */
    c->have_state = head_ok;
    if (head_ok) {
        c->st = r.st;
        c->head_checked = checked || r.st.record_count > first;
        c->state_stale |= r.n > 0 && !c->readonly;
        if (r.n > 0)
            index_note(c, first, r.offs, r.n);
    }
    free(r.offs);
    key_set_free(&r.retired);
    return rc;
}

int state_history(ac_chain *c, uint64_t before, uint8_t signer[AC_PUBKEY_SIZE],
                  uint8_t prev_hash[AC_HASH_SIZE], uint64_t *next_off, key_set *retired,
                  ac_error *err)
{
    roll r = {.retired_known = true};
    frame_win w;
    uint64_t size;
    int rc = chain_file_size(c, &size, err);
    if (rc != AC_OK)
        return rc;
    if (fwin_init(&w, c->fd, 0, size, 4u << 20) != 0)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    while (rc == AC_OK && r.st.record_count < before) {
        uint64_t off;
        const uint8_t *body;
        uint32_t len;
        fwin_status s = fwin_next(&w, &off, &body, &len);
        if (s == FW_REFILL) {
            if (fwin_refill(&w) != 0)
                rc = ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": read failed", c->dir);
            continue;
        }
        if (s == FW_END || s == FW_TORN) {
            rc = ac_fail(err, AC_EINVAL, (int64_t)before, "%s: no record %llu (the chain has %llu)",
                         c->dir, (unsigned long long)before, (unsigned long long)r.st.record_count);
            break;
        }
        if (s != FW_FRAME) {
            rc = ac_fail(err, AC_ECORRUPT, (int64_t)r.st.record_count,
                         "%s/" AC_CHAIN_FILE ": record %llu, before the range, is damaged; verify "
                         "from 0", c->dir, (unsigned long long)r.st.record_count);
            break;
        }
        r.n = 0; /* only the last offset matters here */
        rc = roll_frame(c, &r, off, body, len);
        if (rc == AC_OK && r.st.record_count == before)
            rc = hasher_digest(c->hasher, body, len, prev_hash);
        else if (rc == AC_ECORRUPT)
            rc = corrupt(c, 0, "record 0 does not decode", off, err);
        else if (rc == AC_ENOMEM)
            rc = ac_fail(err, rc, -1, "out of memory");
    }
    fwin_free(&w);
    free(r.offs);
    if (rc == AC_OK) {
        memcpy(signer, r.st.signer, AC_PUBKEY_SIZE);
        *next_off = r.st.chain_size;
        *retired = r.retired;
    } else {
        key_set_free(&r.retired);
    }
    return rc;
}
