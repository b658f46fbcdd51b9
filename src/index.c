/* index.bin: the offset of every frame, so that get(i) is one small read here
 * and one read of the frame.  A cache: a 16-byte header (magic, then the
 * first 8 bytes of the chain id) and one little-endian u64 per record.  It is
 * checked against the state before use and rebuilt from chain.bin when it
 * does not match; it is never fsynced, since losing it loses nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define IDX_HEADER 16
static const uint8_t idx_magic[8] = {'A', 'C', 'I', 'D', 'X', 0, 0, 1};

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void index_close(ac_chain *c)
{
    if (c->idx_fd >= 0)
        close(c->idx_fd);
    c->idx_fd = -1;
    index_forget(c);
}

static int idx_read(ac_chain *c, uint64_t i, uint64_t *off)
{
    uint8_t b[8];
    if (pread(c->idx_fd, b, 8, (off_t)(IDX_HEADER + 8 * i)) != 8)
        return -1;
    *off = get_le64(b);
    return 0;
}

static bool header_ok(ac_chain *c)
{
    uint8_t h[IDX_HEADER];
    return pread(c->idx_fd, h, IDX_HEADER, 0) == IDX_HEADER &&
           memcmp(h, idx_magic, 8) == 0 && memcmp(h + 8, c->f.st.chain_id, 8) == 0;
}

/* Opens index.bin and counts how many of its entries agree with the state:
 * all of them when the count and the head's offset match. */
static void idx_open(ac_chain *c)
{
    int flags = (c->readonly ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC | O_NOFOLLOW;
    c->idx_fd = openat(c->dirfd, AC_INDEX_FILE, flags, 0644);
    c->idx_valid = 0;
    struct stat sb;
    if (c->idx_fd < 0 || fstat(c->idx_fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size < IDX_HEADER || !header_ok(c))
        return;
    uint64_t n = ((uint64_t)sb.st_size - IDX_HEADER) / 8, last;
    if (n > c->f.st.record_count)
        n = c->f.st.record_count;
    if (n > 0 && idx_read(c, n - 1, &last) == 0 &&
        (n < c->f.st.record_count || last == c->f.st.head_offset))
        c->idx_valid = n;
}

/* Writes the offsets of records first.. from a scan of chain.bin. */
static int idx_write(ac_chain *c, uint64_t first, const uint64_t *offs, size_t n)
{
    if (c->idx_fd < 0 || c->readonly)
        return -1;
    if (first == 0) {
        uint8_t h[IDX_HEADER];
        memcpy(h, idx_magic, 8);
        memcpy(h + 8, c->f.st.chain_id, 8);
        if (ftruncate(c->idx_fd, 0) != 0 || pwrite(c->idx_fd, h, IDX_HEADER, 0) != IDX_HEADER)
            return -1;
    }
    uint8_t buf[8 * 512];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 512 ? n - done : 512;
        for (size_t j = 0; j < k; j++)
            put_le64(buf + 8 * j, offs[done + j]);
        off_t at = (off_t)(IDX_HEADER + 8 * (first + done));
        if (pwrite(c->idx_fd, buf, 8 * k, at) != (ssize_t)(8 * k))
            return -1;
        done += k;
    }
    return 0;
}

/* How many leading offsets are known, in the file or after it in memory. */
static uint64_t known_count(const ac_chain *c)
{
    return c->mem_n > 0 ? c->mem_first + c->mem_n : c->idx_valid;
}

static int known_offset(ac_chain *c, uint64_t i, uint64_t *off)
{
    if (i < c->idx_valid)
        return idx_read(c, i, off);
    if (c->mem_n > 0 && i >= c->mem_first && i - c->mem_first < c->mem_n) {
        *off = c->mem_offs[i - c->mem_first];
        return 0;
    }
    return -1;
}

/* Keeps offsets of records first.. in index.bin when it can be written, and
 * in memory otherwise (a read-only handle, a full disk): either way the next
 * lookup needs no scan. */
static int keep(ac_chain *c, uint64_t first, const uint64_t *offs, size_t n)
{
    if (c->mem_n == 0 && first == c->idx_valid && idx_write(c, first, offs, n) == 0) {
        c->idx_valid = first + n;
        return AC_OK;
    }
    if (c->mem_n == 0)
        c->mem_first = first;
    if (first != c->mem_first + c->mem_n)
        return AC_OK; /* not contiguous: the next lookup scans for them */
    uint64_t *p = realloc(c->mem_offs, (c->mem_n + n) * sizeof *p);
    if (p == NULL)
        return AC_ENOMEM;
    memcpy(p + c->mem_n, offs, n * sizeof *p);
    c->mem_offs = p;
    c->mem_n += n;
    return AC_OK;
}

void index_forget(ac_chain *c)
{
    c->idx_valid = 0;
    free(c->mem_offs);
    c->mem_offs = NULL;
    c->mem_n = 0;
    c->mem_first = 0;
}

void index_note(ac_chain *c, uint64_t first, const uint64_t *offs, size_t n)
{
    if (c->idx_fd < 0 && !c->readonly)
        idx_open(c);
    if (first == known_count(c))
        (void)keep(c, first, offs, n); /* a cache: on failure the next lookup scans */
}

/* Scans chain.bin from the end of the last known frame to the head. */
static int idx_extend(ac_chain *c, ac_error *err)
{
    uint64_t start = 0, first = 0, off;
    uint64_t have = known_count(c);
    if (have > 0 && known_offset(c, have - 1, &off) == 0) {
        uint8_t *body;
        uint32_t len;
        if (frame_read_at(c->fd, off, c->f.st.chain_size, &body, &len) == AC_OK) {
            free(body);
            start = off + 4 + len;
            first = have;
        }
    }
    if (first == 0)
        index_forget(c);
    scanner sc;
    size_t cap = 1 << 16, n = 0;
    uint64_t *offs = malloc(cap * sizeof *offs);
    if (offs == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    int rc = scan_init(&sc, c->fd, c->dir, start, first, c->f.st.chain_size, 4u << 20, err);
    while (rc == AC_OK) {
        scan_frame f;
        int s = scan_next(&sc, &f, err);
        if (s == SCAN_FLUSH)
            continue;
        if (s < 0 || s == SCAN_DAMAGED) {
            rc = s < 0 ? s : AC_ECORRUPT;
            break;
        }
        if (s != SCAN_FRAME)
            break; /* the state covers complete frames only: no tail here */
        if (n == cap) {
            uint64_t *p = realloc(offs, 2 * cap * sizeof *p);
            if (p == NULL) {
                rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
                break;
            }
            offs = p;
            cap *= 2;
        }
        offs[n++] = f.off;
    }
    scan_free(&sc);
    if (rc == AC_OK && keep(c, first, offs, n) != AC_OK)
        rc = ac_fail(err, AC_ENOMEM, -1, "out of memory");
    free(offs);
    return rc;
}

int scan_from_record(ac_chain *c, uint64_t first, size_t window, scanner *s, ac_error *err)
{
    uint64_t off = 0, frame_len;
    int rc = first > 0 ? index_lookup(c, first, &off, &frame_len, err) : AC_OK;
    if (rc != AC_OK) {
        memset(s, 0, sizeof *s); /* scan_free stays safe */
        return rc;
    }
    return scan_init(s, c->fd, c->dir, off, first, c->f.st.chain_size, window, err);
}

int index_lookup(ac_chain *c, uint64_t i, uint64_t *off, uint64_t *frame_len, ac_error *err)
{
    if (c->idx_fd < 0)
        idx_open(c);
    /* The frame's length is the distance to the next frame, or to the end
     * of the complete frames for the head. */
    bool head = i + 1 == c->f.st.record_count;
    uint64_t need = head ? i + 1 : i + 2;
    if (known_count(c) < need) {
        int rc = idx_extend(c, err);
        if (rc != AC_OK)
            return rc;
    }
    uint64_t next = c->f.st.chain_size;
    int ok;
    if (!head && i + 1 < c->idx_valid) {
        uint8_t b[16]; /* both entries in one read */
        ok = pread(c->idx_fd, b, 16, (off_t)(IDX_HEADER + 8 * i)) == 16 ? 0 : -1;
        *off = get_le64(b);
        next = get_le64(b + 8);
    } else {
        ok = known_offset(c, i, off);
        if (ok == 0 && !head)
            ok = known_offset(c, i + 1, &next);
    }
    if (ok != 0 || next <= *off || next > c->f.st.chain_size)
        return ac_fail(err, AC_ECORRUPT, (int64_t)i, "%s/" AC_CHAIN_FILE ": record %llu not found",
                       c->dir, (unsigned long long)i);
    *frame_len = next - *off;
    return AC_OK;
}
