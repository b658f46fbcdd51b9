/* The one reader of chain.bin's framing (docs/format.md sections 2 and 7).
 * Every path that reads frames in order (rebuild and roll-forward of the
 * head state, index extension, iteration, verification) goes through
 * scan_next, so the window, its refills and the rule that tells a torn tail
 * from damage are written once.  The rule: whatever follows the last complete
 * frame (an incomplete frame, or a length prefix of 0 or over the limit) is a
 * torn tail unless a record starts somewhere inside it; then the length
 * prefix is damaged, and that is corruption at that frame's index. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int scan_init(scanner *s, int fd, const char *dir, uint64_t start_off, uint64_t first_index,
              uint64_t end, size_t window, ac_error *err)
{
    memset(s, 0, sizeof *s);
    s->dir = dir;
    s->index = first_index;
    if (fwin_init(&s->w, fd, start_off, end, window) != 0)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory reading %s/" AC_CHAIN_FILE, dir);
    return AC_OK;
}

void scan_free(scanner *s)
{
    fwin_free(&s->w);
}

/* What follows the last complete frame, from `off` to the end: torn, or a
 * damaged prefix when a record starts inside it. */
static int classify_tail(scanner *s, scan_frame *f, uint64_t off, bool bad_len, ac_error *err)
{
    int inside = frame_tail_has_record(s->w.fd, off, s->w.end);
    if (inside < 0)
        return ac_fail_errno(err, AC_EIO, (int64_t)s->index,
                             "%s/" AC_CHAIN_FILE ": read failed at offset %llu", s->dir,
                             (unsigned long long)off);
    f->off = off;
    f->index = s->index;
    f->tail_len = s->w.end - off;
    if (!inside)
        return SCAN_TORN;
    f->what = bad_len ? "length prefix is 0 or over the limit, and a record follows it"
                      : "length prefix runs past the end of the file, and a record follows it";
    ac_fail(err, AC_ECORRUPT, (int64_t)s->index,
            "%s/" AC_CHAIN_FILE ": record %llu: %s (offset %llu); run verify", s->dir,
            (unsigned long long)s->index, f->what, (unsigned long long)off);
    return SCAN_DAMAGED;
}

int scan_next_record(scanner *s, scan_frame *f, ac_error *err)
{
    int st;
    while ((st = scan_next(s, f, err)) == SCAN_FLUSH)
        ; /* each frame is used before the next is asked for */
    return st == SCAN_FRAME ? AC_OK : scan_end_error(s, st, f, err);
}

int scan_end_error(scanner *s, int st, const scan_frame *f, ac_error *err)
{
    if (st < 0)
        return st;
    if (st == SCAN_DAMAGED)
        return AC_ECORRUPT;
    return ac_fail(err, AC_ECORRUPT, (int64_t)f->index,
                   "%s/" AC_CHAIN_FILE ": record %llu is missing; run verify", s->dir,
                   (unsigned long long)f->index);
}

int scan_next(scanner *s, scan_frame *f, ac_error *err)
{
    for (;;) {
        uint64_t off;
        const uint8_t *body;
        uint32_t len;
        switch (fwin_next(&s->w, &off, &body, &len)) {
        case FW_FRAME:
            f->off = off;
            f->body = body;
            f->len = len;
            f->index = s->index++;
            s->handed = true;
            return SCAN_FRAME;
        case FW_REFILL:
            /* The bodies handed out live in the window: let the caller
             * finish with them before it moves. */
            if (s->handed) {
                s->handed = false;
                return SCAN_FLUSH;
            }
            if (fwin_refill(&s->w) != 0)
                return ac_fail_errno(err, AC_EIO, (int64_t)s->index,
                                     "%s/" AC_CHAIN_FILE ": read failed", s->dir);
            continue;
        case FW_END:
            f->off = off;
            f->index = s->index;
            return SCAN_END;
        case FW_TORN:
            return classify_tail(s, f, off, false, err);
        case FW_BAD_LEN:
            return classify_tail(s, f, off, true, err);
        case FW_IO:
        default:
            return ac_fail_errno(err, AC_EIO, (int64_t)s->index, "%s/" AC_CHAIN_FILE ": read failed",
                                 s->dir);
        }
    }
}
