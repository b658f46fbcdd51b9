/* Framing of chain.bin (format section 2): a 4-byte big-endian length, then
 * the record.  Reads go through a large window so that scanning a chain of
 * millions of frames costs a few hundred reads, not millions.  The whole-read
 * and whole-write helpers every file of the library uses live here too. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int pread_full(int fd, uint8_t *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) { /* the file shrank under us */
            errno = EIO;
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

int fwin_init(frame_win *w, int fd, uint64_t start, uint64_t end, size_t cap)
{
    memset(w, 0, sizeof *w);
    /* The window must hold the largest frame, but never more than the
     * range it reads. */
    if (cap < AC_MAX_RECORD_SIZE + 4)
        cap = AC_MAX_RECORD_SIZE + 4;
    if (end > start && end - start < cap)
        cap = (size_t)(end - start);
    if (end <= start)
        cap = 1;
    w->buf = malloc(cap);
    if (w->buf == NULL)
        return -1;
    w->fd = fd;
    w->cap = cap;
    w->base = start;
    w->end = end;
    return 0;
}

void fwin_free(frame_win *w)
{
    free(w->buf);
    free(w->spare);
    w->buf = w->spare = NULL;
}

int fwin_double(frame_win *w)
{
    if (w->spare == NULL)
        w->spare = malloc(w->cap);
    return w->spare != NULL ? 0 : -1;
}

int fwin_refill(frame_win *w)
{
    size_t keep = w->len - w->next;
    if (w->spare != NULL) {
        /* The bodies handed out from this buffer stay where they are. */
        uint8_t *old = w->buf;
        memcpy(w->spare, old + w->next, keep);
        w->buf = w->spare;
        w->spare = old;
    } else {
        memmove(w->buf, w->buf + w->next, keep);
    }
    w->base += w->next;
    w->next = 0;
    w->len = keep;
    uint64_t file_left = w->end - (w->base + keep);
    size_t want = w->cap - keep;
    if (want > file_left)
        want = (size_t)file_left;
    if (want == 0)
        return 0;
    if (pread_full(w->fd, w->buf + keep, want, w->base + keep) != 0)
        return -1;
    w->len += want;
    return 0;
}

fwin_status fwin_next(frame_win *w, uint64_t *off, const uint8_t **body, uint32_t *len)
{
    size_t avail = w->len - w->next;
    uint64_t at = w->base + w->next;
    bool file_done = w->base + w->len >= w->end;
    *off = at;
    if (avail == 0 && file_done)
        return FW_END;
    if (avail < 4)
        return file_done ? FW_TORN : FW_REFILL;
    uint32_t n = be32(w->buf + w->next);
    if (n == 0 || n > AC_MAX_RECORD_SIZE)
        return FW_BAD_LEN;
    if (avail - 4 < n)
        return file_done ? FW_TORN : FW_REFILL;
    *body = w->buf + w->next + 4;
    *len = n;
    w->next += 4 + (size_t)n;
    return FW_FRAME;
}

int write_full(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int read_span(int fd, uint64_t off, uint64_t end, uint8_t **out)
{
    size_t n = (size_t)(end - off);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return -1;
    if (pread_full(fd, buf, n, off) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

int frame_read_at(int fd, uint64_t off, uint64_t file_size, uint8_t **body, uint32_t *len)
{
    /* Most records are a few hundred bytes: one read of a small block gets
     * prefix and body together, and only a larger record needs a second. */
    enum { GUESS = 2048 };
    if (off > file_size || file_size - off < 4)
        return AC_ECORRUPT;
    uint64_t avail = file_size - off;
    size_t first = avail < GUESS ? (size_t)avail : GUESS;
    uint8_t *buf = malloc(GUESS);
    if (buf == NULL)
        return AC_ENOMEM;
    if (pread_full(fd, buf, first, off) != 0) {
        free(buf);
        return AC_EIO;
    }
    uint32_t n = be32(buf);
    if (n == 0 || n > AC_MAX_RECORD_SIZE || avail - 4 < n) {
        free(buf);
        return AC_ECORRUPT;
    }
    if ((size_t)n + 4 > first) {
        uint8_t *big = realloc(buf, (size_t)n + 4);
        if (big == NULL) {
            free(buf);
            return AC_ENOMEM;
        }
        buf = big;
        if (pread_full(fd, buf + first, (size_t)n + 4 - first, off + first) != 0) {
            free(buf);
            return AC_EIO;
        }
    }
    memmove(buf, buf + 4, n);
    *body = buf;
    *len = n;
    return AC_OK;
}

int frame_read_exact(int fd, uint64_t off, uint64_t frame_len, uint8_t **out)
{
    if (frame_len < 5 || frame_len > AC_MAX_RECORD_SIZE + 4)
        return AC_ECORRUPT;
    uint8_t *buf = malloc((size_t)frame_len);
    if (buf == NULL)
        return AC_ENOMEM;
    if (pread_full(fd, buf, (size_t)frame_len, off) != 0) {
        free(buf);
        return AC_EIO;
    }
    if (be32(buf) != frame_len - 4) {
        free(buf);
        return AC_ECORRUPT;
    }
    *out = buf;
    return AC_OK;
}

/* Whether one complete record (section 4) starts at p: a CBOR item, which
 * delimits itself, that decodes as a record. */
static bool record_starts_at(const uint8_t *p, size_t avail)
{
    size_t item_len = 0;
    ac_rec r;
    return det_item_skip(p, avail, &item_len, AC_MAX_DEPTH) == 0 &&
           rec_decode(p, item_len, &r, NULL) == 0;
}

bool frame_record_inside(const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf, *end = buf + len;
    while ((size_t)(end - p) >= sizeof ac_record_magic) {
        p = memmem(p, (size_t)(end - p), ac_record_magic, sizeof ac_record_magic);
        if (p == NULL)
            return false;
        if (record_starts_at(p, (size_t)(end - p)))
            return true;
        p++;
    }
    return false;
}

int frame_tail_has_record(int fd, uint64_t off, uint64_t end)
{
    /* The tail can be large (a damaged prefix early in a big chain): it is
     * searched in chunks, and a candidate near a chunk's end waits for the
     * next one until the largest record fits after it. */
    enum { CHUNK = 4u << 20, SLACK = AC_MAX_RECORD_SIZE + 16 };
    uint8_t *buf = malloc((size_t)CHUNK + SLACK);
    if (buf == NULL)
        return -1;
    size_t held = 0;
    uint64_t at = off; /* file offset of the next byte to read */
    int found = 0;
    while (found == 0) {
        size_t want = (size_t)CHUNK + SLACK - held;
        if (want > end - at)
            want = (size_t)(end - at);
        if (want > 0 && pread_full(fd, buf + held, want, at) != 0) {
            found = -1;
            break;
        }
        held += want;
        at += want;
        bool eof = at >= end;
        size_t limit = eof ? held : held - SLACK; /* candidates decidable now */
        const uint8_t *p = buf, *stop = buf + limit;
        while (found == 0 && p < stop) {
            p = memmem(p, (size_t)(buf + held - p), ac_record_magic, sizeof ac_record_magic);
            if (p == NULL || p >= stop)
                break;
            if (record_starts_at(p, (size_t)(buf + held - p)))
                found = 1;
            p++;
        }
        if (eof)
            break;
        memmove(buf, buf + limit, held - limit);
        held -= limit;
    }
    free(buf);
    return found;
}
