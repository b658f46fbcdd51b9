/* Chain handles: opening a chain directory, reading records by index, and
 * iterating.  Readers take no lock: frames are written whole and only the
 * complete frames below the size seen are read. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int open_dir(ac_chain *c, const char *dir, unsigned flags, ac_error *err)
{
    c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->dirfd >= 0)
        return AC_OK;
    if (errno == ENOENT && (flags & AC_OPEN_CREATE) && !(flags & AC_OPEN_READONLY)) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return ac_fail_errno(err, AC_EIO, -1, "%s: cannot create chain directory", dir);
        c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->dirfd >= 0)
            return AC_OK;
    }
    if (errno == ENOENT)
        return ac_fail(err, AC_ENOTFOUND, -1, "%s: no such chain directory", dir);
    if (errno == ENOTDIR)
        return ac_fail(err, AC_EINVAL, -1, "%s: not a directory", dir);
    return ac_fail_errno(err, AC_EIO, -1, "%s: cannot open chain directory", dir);
}

int chain_open_file(ac_chain *c, bool create, ac_error *err)
{
    if (c->fd >= 0)
        return AC_OK;
    /* O_NOFOLLOW: a chain.bin swapped for a symlink is refused, not followed. */
    int mode = c->readonly ? O_RDONLY : O_RDWR;
    int fd = openat(c->dirfd, AC_CHAIN_FILE, mode | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && create) {
        fd = openat(c->dirfd, AC_CHAIN_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                    0644);
        if (fd < 0 && errno == EEXIST)
            return chain_open_file(c, false, err);
        if (fd >= 0 && fsync(c->dirfd) != 0) {
            int e = errno;
            close(fd);
            errno = e;
            return ac_fail_errno(err, AC_EIO, -1, "%s: cannot sync directory", c->dir);
        }
    }
    if (fd < 0) {
        if (errno == ENOENT && !create)
            return AC_OK; /* an empty chain */
        if (errno == ELOOP)
            return ac_fail(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": is a symbolic link; refusing it",
                           c->dir);
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": cannot open", c->dir);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ac_fail(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": not a regular file", c->dir);
    }
    c->fd = fd;
    return AC_OK;
}

int chain_file_size(ac_chain *c, uint64_t *size, ac_error *err)
{
    *size = 0;
    if (c->fd < 0)
        return AC_OK;
    struct stat sb;
    if (fstat(c->fd, &sb) != 0)
        return ac_fail_errno(err, AC_EIO, -1, "%s/" AC_CHAIN_FILE ": cannot stat", c->dir);
    *size = (uint64_t)sb.st_size;
    return AC_OK;
}

ac_status ac_chain_open(const char *dir, unsigned flags, ac_chain **out, ac_error *err)
{
    *out = NULL;
    if (dir == NULL || *dir == '\0')
        return ac_fail(err, AC_EINVAL, -1, "no chain directory given");
    ac_chain *c = calloc(1, sizeof *c);
    if (c == NULL || (c->dir = strdup(dir)) == NULL || (c->hasher = hasher_new()) == NULL) {
        if (c)
            free(c->dir);
        free(c);
        return ac_fail(err, AC_ENOMEM, -1, "out of memory opening %s", dir);
    }
    c->fd = c->idx_fd = c->dirfd = c->tree_fd = -1;
    fold_init(&c->f);
    c->readonly = (flags & AC_OPEN_READONLY) != 0;
    int rc = open_dir(c, dir, flags, err);
    if (rc == AC_OK)
        rc = chain_open_file(c, false, err);
    if (rc == AC_OK)
        rc = state_sync(c, err);
    /* A damaged end is for verify to report; the handle still opens. */
    if (rc != AC_OK && rc != AC_ECORRUPT) {
        ac_chain_close(c, NULL);
        return rc;
    }
    ac_error_clear(err);
    *out = c;
    return AC_OK;
}

ac_status ac_chain_close(ac_chain *c, ac_error *err)
{
    if (c == NULL)
        return AC_OK;
    int rc = AC_OK;
    if (c->owes_state && c->fd >= 0)
        rc = chain_checkpoint(c, err);
    else if (c->state_stale && c->fd >= 0)
        (void)chain_checkpoint(c, NULL); /* best effort: only a cache */
    index_close(c);
    tree_close(c);
    if (c->fd >= 0)
        close(c->fd);
    if (c->dirfd >= 0)
        close(c->dirfd);
    hasher_free(c->hasher);
    fold_free(&c->f);
    free(c->dir);
    free(c);
    return rc;
}

void ac_chain_set_threads(ac_chain *c, unsigned threads) { c->threads = threads; }

const char *ac_chain_dir(const ac_chain *c) { return c->dir; }

ac_status ac_chain_state(ac_chain *c, ac_state *out, ac_error *err)
{
    if (c == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the state");
    int rc = state_sync(c, err);
    if (rc != AC_OK)
        return rc;
    if (c->f.st.record_count == 0)
        return ac_fail(err, AC_ENOTFOUND, -1, "%s: the chain is empty", c->dir);
    *out = c->f.st;
    return AC_OK;
}

int ac_chain_is_empty(ac_chain *c, ac_error *err)
{
    if (c == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain");
    int rc = state_sync(c, err);
    if (rc != AC_OK && rc != AC_ECORRUPT)
        return rc;
    return c->f.st.record_count == 0;
}

/* Reads, hashes and decodes the frame at `off` (frame_len bytes with its
 * prefix), which must hold record i. */
static int read_record(ac_chain *c, uint64_t i, uint64_t off, uint64_t frame_len,
                       ac_record **out, ac_error *err)
{
    uint8_t *buf;
    int rc = frame_read_exact(c->fd, off, frame_len, &buf);
    if (rc == AC_EIO)
        return ac_fail_errno(err, rc, (int64_t)i, "%s/" AC_CHAIN_FILE ": record %llu: read failed",
                             c->dir, (unsigned long long)i);
    if (rc != AC_OK)
        return ac_fail(err, rc, (int64_t)i, "%s/" AC_CHAIN_FILE ": record %llu: bad frame at offset %llu",
                       c->dir, (unsigned long long)i, (unsigned long long)off);
    uint8_t hash[AC_HASH_SIZE];
    const char *why = "";
    size_t len = (size_t)frame_len - 4;
    rc = hasher_digest(c->hasher, buf + 4, len, hash);
    if (rc == AC_OK)
        rc = record_adopt(buf, 4, len, off, hash, out, &why);
    else
        free(buf);
    if (rc == AC_OK && ac_record_index(*out) != i) {
        ac_record_free(*out);
        *out = NULL;
        rc = AC_ECORRUPT;
        why = "its chain_index is not its position";
    }
    if (rc != AC_OK)
        return ac_fail(err, rc, (int64_t)i, "%s/" AC_CHAIN_FILE ": record %llu: %s", c->dir,
                       (unsigned long long)i, why);
    return AC_OK;
}

static int get_via_index(ac_chain *c, uint64_t i, ac_record **out, ac_error *err)
{
    uint64_t off, len;
    int rc = index_lookup(c, i, &off, &len, err);
    if (rc == AC_OK)
        rc = read_record(c, i, off, len, out, err);
    return rc;
}

/* Brings the state up to date when record i may be past what is known. */
static int known_up_to(ac_chain *c, uint64_t i, ac_error *err)
{
    /* Complete frames never change: a record below the count known needs
     * no look at the file's size. */
    if (!c->have_state || i >= c->f.st.record_count) {
        int rc = state_sync(c, err);
        if (rc != AC_OK && rc != AC_ECORRUPT)
            return rc;
    }
    if (i >= c->f.st.record_count) {
        if (c->damaged && i >= c->damage_index)
            return ac_fail(err, AC_ECORRUPT, (int64_t)i, "%s", c->damage.message);
        return ac_fail(err, AC_ENOTFOUND, (int64_t)i, "%s: no record %llu (the chain has %llu)",
                       c->dir, (unsigned long long)i, (unsigned long long)c->f.st.record_count);
    }
    return AC_OK;
}

ac_status ac_chain_get(ac_chain *c, uint64_t i, ac_record **out, ac_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the record");
    int rc = known_up_to(c, i, err);
    if (rc != AC_OK)
        return rc;
    rc = get_via_index(c, i, out, err);
    if (rc == AC_ECORRUPT) {
        /* A damaged index.bin points at the wrong frame: rebuild, retry once. */
        index_forget(c);
        rc = get_via_index(c, i, out, err);
    }
    return rc;
}

/* The checks a record shown to a user gets (section 6): its signature by
 * the key authorized at its index, and its link to the record after it
 * (or, for the head, the head hash the state vouches for).  Its position
 * was checked when it was read.  NULL, or why it fails. */
static const char *record_problem(ac_chain *c, const ac_record *r, const uint8_t *next_prev_hash,
                                  uint64_t head_index, const uint8_t *head_hash)
{
    const ac_rec *v = record_view(r);
    uint8_t key[AC_PUBKEY_SIZE];
    fold_key_at(&c->f, v->chain_index, key);
    size_t len;
    const uint8_t *body = ac_record_bytes(r, &len);
    if (memcmp(v->signer, key, AC_PUBKEY_SIZE) != 0)
        return "signed by a key not authorized here";
    int sig = fold_check_sig(&c->f, body, len, v, key);
    if (sig < 0)
        return "out of memory";
    if (sig == 0)
        return "signature does not verify";
    const uint8_t *want = next_prev_hash;
    if (v->chain_index == head_index)
        want = head_hash;
    if (want != NULL && memcmp(ac_record_hash(r), want, AC_HASH_SIZE) != 0)
        return "its hash is not the one the next record links to";
    return NULL;
}

static int flag(ac_chain *c, uint64_t i, const char *why, ac_error *err)
{
    return ac_fail(err, AC_ECORRUPT, (int64_t)i,
                   "%s/" AC_CHAIN_FILE ": record %llu: %s; run verify", c->dir,
                   (unsigned long long)i, why);
}

static int get_checked(ac_chain *c, uint64_t i, ac_record **out, ac_error *err)
{
    int rc = ac_chain_get(c, i, out, err);
    if (rc != AC_OK)
        return rc;
    const uint8_t *next_prev = NULL;
    ac_record *next = NULL;
    if (i < c->f.st.head_index) {
        rc = ac_chain_get(c, i + 1, &next, err);
        if (rc != AC_OK) {
            ac_record_free(*out);
            *out = NULL;
            return rc;
        }
        next_prev = ac_record_prev_hash(next);
    }
    const char *why = record_problem(c, *out, next_prev, c->f.st.head_index, c->f.st.head_hash);
    ac_record_free(next);
    if (why == NULL)
        return AC_OK;
    ac_record_free(*out);
    *out = NULL;
    return flag(c, i, why, err);
}

ac_status ac_chain_get_verified(ac_chain *c, uint64_t i, ac_record **out, ac_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the record");
    int rc = get_checked(c, i, out, err);
    if (rc == AC_ECORRUPT) {
        /* Offsets alone prove nothing: an index.bin pointing at a frame
         * hidden in another record fails here.  Rebuild it, ask once more. */
        index_forget(c);
        rc = get_checked(c, i, out, err);
    }
    return rc;
}

ac_status ac_chain_head(ac_chain *c, ac_record **out, ac_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the record");
    int rc = state_sync(c, err);
    if (rc != AC_OK)
        return rc;
    if (c->f.st.record_count == 0)
        return ac_fail(err, AC_ENOTFOUND, -1, "%s: the chain is empty", c->dir);
    /* The state vouches for the head: its hash and signature were checked. */
    return read_record(c, c->f.st.head_index, c->f.st.head_offset,
                       c->f.st.chain_size - c->f.st.head_offset, out, err);
}

/* ---------------------------------------------------------------- iteration */

/* Each record handed out is checked as ac_chain_get_verified checks it: the
 * iterator reads one record ahead for the link. */
struct ac_iter {
    ac_chain *chain;
    scanner scan;
    uint64_t next_index, end; /* end: one past the last index to hand out */
    ac_record *ahead;         /* record next_index, read already */
    /* The head as it was when the iterator opened: appends made meanwhile
     * (through this handle or another) are not part of the iteration. */
    uint64_t head_index;
    uint8_t head_hash[AC_HASH_SIZE];
    /* A damaged record within the range asked for: reported at its turn. */
    bool damaged;
    ac_error damage;
};

ac_status ac_iter_open(ac_chain *c, uint64_t start, uint64_t end, ac_iter **out, ac_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the iterator");
    int rc = state_sync(c, err);
    if (rc != AC_OK && rc != AC_ECORRUPT)
        return rc;
    uint64_t asked_end = end;
    if (end > c->f.st.head_index)
        end = c->f.st.record_count ? c->f.st.head_index : 0;
    uint64_t off = 0;
    if (start > 0 && start < c->f.st.record_count) {
        /* Where record `start` is, through the index, checked (a forged
         * index is rebuilt there). */
        ac_record *first;
        if ((rc = ac_chain_get_verified(c, start, &first, err)) != AC_OK)
            return rc;
        off = ac_record_offset(first);
        ac_record_free(first);
    }
    ac_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    rc = scan_init(&it->scan, c->fd, c->dir, off, start, c->f.st.chain_size, 4u << 20, err);
    if (rc != AC_OK) {
        free(it);
        return rc;
    }
    it->chain = c;
    it->next_index = start;
    it->head_index = c->f.st.head_index;
    memcpy(it->head_hash, c->f.st.head_hash, AC_HASH_SIZE);
    it->damaged = c->damaged && asked_end >= c->damage_index;
    it->damage = c->damage;
    it->end = c->f.st.record_count == 0 || start > end ? 0 : end + 1;
    *out = it;
    return AC_OK;
}

/* The next frame of the scan as a record at its position. */
static int read_next(ac_iter *it, ac_record **out, ac_error *err)
{
    ac_chain *c = it->chain;
    scan_frame f;
    int rc = scan_next_record(&it->scan, &f, err); /* records are copies */
    if (rc != AC_OK)
        return rc;
    uint8_t hash[AC_HASH_SIZE];
    const char *why = "";
    rc = hasher_digest(c->hasher, f.body, f.len, hash);
    if (rc == AC_OK)
        rc = record_new(f.body, f.len, f.off, hash, out, &why);
    if (rc == AC_OK && ac_record_index(*out) != f.index) {
        ac_record_free(*out);
        *out = NULL;
        return flag(c, f.index, "its chain_index is not its position", err);
    }
    if (rc != AC_OK)
        return ac_fail(err, rc, (int64_t)f.index, "%s/" AC_CHAIN_FILE ": record %llu: %s", c->dir,
                       (unsigned long long)f.index, why);
    return AC_OK;
}

int ac_iter_next(ac_iter *it, ac_record **out, ac_error *err)
{
    if (out != NULL)
        *out = NULL;
    if (it == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no iterator or no place for the record");
    ac_chain *c = it->chain;
    if (it->next_index >= it->end) {
        if (!it->damaged)
            return 0;
        it->damaged = false; /* said once */
        if (err != NULL)
            *err = it->damage;
        return AC_ECORRUPT;
    }
    int rc;
    if (it->ahead == NULL && (rc = read_next(it, &it->ahead, err)) != AC_OK)
        return rc;
    ac_record *cur = it->ahead, *next = NULL;
    it->ahead = NULL;
    if (it->next_index < it->head_index && (rc = read_next(it, &next, err)) != AC_OK) {
        ac_record_free(cur);
        return rc;
    }
    const char *why = record_problem(c, cur, next ? ac_record_prev_hash(next) : NULL,
                                     it->head_index, it->head_hash);
    if (why != NULL) {
        ac_record_free(cur);
        ac_record_free(next);
        return flag(c, it->next_index, why, err);
    }
    it->ahead = next;
    it->next_index++;
    *out = cur;
    return 1;
}

void ac_iter_free(ac_iter *it)
{
    if (it == NULL)
        return;
    scan_free(&it->scan);
    ac_record_free(it->ahead);
    free(it);
}

/* ---------------------------------------------------------------- loss */

int ac_chain_loss(ac_chain *c, ac_loss *out, ac_error *err)
{
    if (c == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "no chain or no place for the answer");
    int rc = state_sync(c, err);
    if (rc != AC_OK && rc != AC_ECORRUPT)
        return rc;
    ac_error_clear(err);
    return state_committed(c, &c->f.st, out);
}
