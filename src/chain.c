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

int ac_chain_open(ac_chain **out, const char *dir, unsigned flags, ac_error *err)
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
    c->fd = c->idx_fd = c->dirfd = -1;
    c->readonly = (flags & AC_OPEN_READONLY) != 0;
    int rc = open_dir(c, dir, flags, err);
    if (rc == AC_OK)
        rc = chain_open_file(c, false, err);
    if (rc == AC_OK)
        rc = state_sync(c, false, err);
    /* A damaged end is for verify to report; the handle still opens. */
    if (rc != AC_OK && rc != AC_ECORRUPT) {
        ac_chain_close(c, NULL);
        return rc;
    }
    ac_error_clear(err);
    *out = c;
    return AC_OK;
}

int ac_chain_close(ac_chain *c, ac_error *err)
{
    if (c == NULL)
        return AC_OK;
    int rc = AC_OK;
    if (c->owes_state && c->fd >= 0)
        rc = chain_checkpoint(c, err);
    else if (c->state_stale && c->fd >= 0)
        (void)chain_checkpoint(c, NULL); /* best effort: only a cache */
    index_close(c);
    if (c->fd >= 0)
        close(c->fd);
    if (c->dirfd >= 0)
        close(c->dirfd);
    hasher_free(c->hasher);
    free(c->dir);
    free(c);
    return rc;
}

void ac_chain_set_threads(ac_chain *c, unsigned threads) { c->threads = threads; }

const char *ac_chain_dir(const ac_chain *c) { return c->dir; }

int ac_chain_state(ac_chain *c, ac_state *out, ac_error *err)
{
    int rc = state_sync(c, true, err);
    if (rc != AC_OK)
        return rc;
    if (c->st.record_count == 0)
        return ac_fail(err, AC_ENOTFOUND, -1, "%s: the chain is empty", c->dir);
    *out = c->st;
    return AC_OK;
}

int ac_chain_is_empty(ac_chain *c, ac_error *err)
{
    int rc = state_sync(c, false, err);
    if (rc != AC_OK)
        return rc;
    return c->st.record_count == 0;
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

int ac_chain_get(ac_chain *c, uint64_t i, ac_record **out, ac_error *err)
{
    *out = NULL;
    /* Complete frames never change: a record below the count known needs
     * no look at the file's size. */
    if (!c->have_state || i >= c->st.record_count) {
        int rc = state_sync(c, false, err);
        if (rc != AC_OK && rc != AC_ECORRUPT)
            return rc;
    }
    if (i >= c->st.record_count)
        return ac_fail(err, AC_ENOTFOUND, (int64_t)i, "%s: no record %llu (the chain has %llu)",
                       c->dir, (unsigned long long)i, (unsigned long long)c->st.record_count);
    int rc = get_via_index(c, i, out, err);
    if (rc == AC_ECORRUPT) {
        /* A damaged index.bin points at the wrong frame: rebuild, retry once. */
        index_forget(c);
        rc = get_via_index(c, i, out, err);
    }
    return rc;
}

int ac_chain_head(ac_chain *c, ac_record **out, ac_error *err)
{
    *out = NULL;
    int rc = state_sync(c, true, err);
    if (rc != AC_OK)
        return rc;
    if (c->st.record_count == 0)
        return ac_fail(err, AC_ENOTFOUND, -1, "%s: the chain is empty", c->dir);
    return read_record(c, c->st.head_index, c->st.head_offset,
                       c->st.chain_size - c->st.head_offset, out, err);
}

/* ---------------------------------------------------------------- iteration */

struct ac_iter {
    ac_chain *chain;
    frame_win win;
    uint64_t next_index, end;
};

int ac_iter_open(ac_chain *c, uint64_t start, uint64_t end, ac_iter **out, ac_error *err)
{
    *out = NULL;
    int rc = state_sync(c, false, err);
    if (rc != AC_OK && rc != AC_ECORRUPT)
        return rc;
    if (end > c->st.head_index)
        end = c->st.record_count ? c->st.head_index : 0;
    uint64_t off = 0;
    if (start > 0 && start < c->st.record_count) {
        /* Through get, which checks the frame it finds and mends the index. */
        ac_record *first;
        if ((rc = ac_chain_get(c, start, &first, err)) != AC_OK)
            return rc;
        off = ac_record_offset(first);
        ac_record_free(first);
    }
    ac_iter *it = calloc(1, sizeof *it);
    if (it == NULL || fwin_init(&it->win, c->fd, off, c->st.chain_size, 4u << 20) != 0) {
        free(it);
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    }
    it->chain = c;
    it->next_index = start;
    it->end = c->st.record_count == 0 || start > end ? 0 : end + 1;
    *out = it;
    return AC_OK;
}

int ac_iter_next(ac_iter *it, ac_record **out, ac_error *err)
{
    *out = NULL;
    ac_chain *c = it->chain;
    if (it->next_index >= it->end)
        return 0;
    for (;;) {
        uint64_t off;
        const uint8_t *body;
        uint32_t len;
        fwin_status st = fwin_next(&it->win, &off, &body, &len);
        if (st == FW_REFILL) {
            if (fwin_refill(&it->win) != 0)
                return ac_fail_errno(err, AC_EIO, (int64_t)it->next_index,
                                     "%s/" AC_CHAIN_FILE ": read failed", c->dir);
            continue;
        }
        if (st != FW_FRAME)
            return ac_fail(err, AC_ECORRUPT, (int64_t)it->next_index,
                           "%s/" AC_CHAIN_FILE ": record %llu: bad frame at offset %llu", c->dir,
                           (unsigned long long)it->next_index, (unsigned long long)off);
        uint8_t hash[AC_HASH_SIZE];
        const char *why = "";
        int rc = hasher_digest(c->hasher, body, len, hash);
        if (rc == AC_OK)
            rc = record_new(body, len, off, hash, out, &why);
        if (rc == AC_OK && ac_record_index(*out) != it->next_index) {
            ac_record_free(*out);
            *out = NULL;
            rc = AC_ECORRUPT;
            why = "its chain_index is not its position";
        }
        if (rc != AC_OK)
            return ac_fail(err, rc, (int64_t)it->next_index, "%s/" AC_CHAIN_FILE ": record %llu: %s",
                           c->dir, (unsigned long long)it->next_index, why);
        it->next_index++;
        return 1;
    }
}

void ac_iter_free(ac_iter *it)
{
    if (it == NULL)
        return;
    fwin_free(&it->win);
    free(it);
}
