/* Unit tests for src/frame.c: the frame window over chain.bin (frames split
 * across refills, torn tails of every length, bad length prefixes, ranges),
 * single-frame reads, and the search for a record inside an overlong frame
 * (format section 7). */
#include "testutil.h"

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

static uint8_t pattern_byte(size_t frame, size_t j)
{
    return (uint8_t)(frame * 31u + j * 7u + (j >> 8));
}

/* A body of n bytes for frame k: recognisable anywhere in it. */
static uint8_t *pattern_body(size_t k, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t j = 0; j < n; j++)
        b[j] = pattern_byte(k, j);
    return b;
}

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

/* Writes frames of the given sizes to dir/chain.bin, created or emptied;
 * returns its fd (read and write) and each frame's offset. */
static int write_frames(const char *dir, const size_t *sizes, size_t n, uint64_t *offs)
{
    char path[TU_PATH_MAX];
    tu_path_in(path, sizeof path, dir, "chain.bin");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    uint64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t pfx[4];
        tu_put_be32(pfx, (uint32_t)sizes[k]);
        uint8_t *body = pattern_body(k, sizes[k]);
        write_all(fd, pfx, 4);
        write_all(fd, body, sizes[k]);
        free(body);
        if (offs)
            offs[k] = at;
        at += 4 + sizes[k];
    }
    return fd;
}

static uint64_t fd_size(int fd)
{
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    return (uint64_t)sb.st_size;
}

typedef struct scan_result {
    size_t frames;
    size_t refills;
    fwin_status last;
    uint64_t last_off;
} scan_result;

/* Runs a window over [start, end) to its end, checking each frame against
 * the expected offsets, sizes and patterns (frames numbered from `first`). */
static scan_result scan(int fd, uint64_t start, uint64_t end, size_t cap, const size_t *sizes,
                        const uint64_t *offs, size_t first)
{
    frame_win w;
    assert_int_equal(fwin_init(&w, fd, start, end, cap), 0);
    /* The floor every caller relies on: the largest frame, or the whole range. */
    assert_true(w.cap >= AC_MAX_RECORD_SIZE + 4 || w.cap >= end - start);
    scan_result r = {0};
    for (;;) {
        uint64_t off = UINT64_MAX;
        const uint8_t *body = NULL;
        uint32_t len = 0;
        fwin_status s = fwin_next(&w, &off, &body, &len);
        if (s == FW_REFILL) {
            assert_int_equal(fwin_refill(&w), 0);
            r.refills++;
            assert_true(r.refills < 100000);
            continue;
        }
        if (s != FW_FRAME) {
            r.last = s;
            r.last_off = off;
            break;
        }
        size_t k = first + r.frames;
        if (off != offs[k] || len != sizes[k])
            fail_msg("frame %zu: offset %llu length %u, expected %llu and %zu", k,
                     (unsigned long long)off, len, (unsigned long long)offs[k], sizes[k]);
        for (size_t j = 0; j < len; j++)
            if (body[j] != pattern_byte(k, j))
                fail_msg("frame %zu: byte %zu differs", k, j);
        r.frames++;
    }
    fwin_free(&w);
    return r;
}

/* ---------------------------------------------------------------- the window */

/* Sizes chosen so that frames straddle every window boundary: the largest
 * record, one byte less, odd sizes, and runs of tiny ones. */
static const size_t big_sizes[] = {
    1,      2,      3,       300001, 1048576, 5,      700003, 1048575, 4,     524288,
    999999, 1,      1048576, 12345,  1048573, 77,     2,      1,       65536, 1048576,
};
#define NBIG (sizeof big_sizes / sizeof big_sizes[0])

static void test_window_refills(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    uint64_t offs[NBIG];
    int fd = write_frames(dir, big_sizes, NBIG, offs);
    uint64_t size = fd_size(fd);
    /* The smallest window (cap 0 is raised to the floor), one exactly at the
     * floor, one a little larger, and one that holds everything. */
    static const size_t caps[] = {0, AC_MAX_RECORD_SIZE + 4, AC_MAX_RECORD_SIZE + 4 + 4093,
                                  64u << 20};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        scan_result r = scan(fd, 0, size, caps[c], big_sizes, offs, 0);
        assert_int_equal(r.frames, NBIG);
        assert_int_equal(r.last, FW_END);
        assert_true(r.last_off == size);
        if (caps[c] < size)
            assert_true(r.refills >= 6); /* the small windows did refill, many times */
    }
    /* Starting at a frame in the middle. */
    for (size_t k = 1; k < NBIG; k += 3) {
        scan_result r = scan(fd, offs[k], size, 0, big_sizes, offs, k);
        assert_int_equal(r.frames, NBIG - k);
        assert_int_equal(r.last, FW_END);
    }
    /* Ending at a frame boundary before the file's end: a clean end there. */
    scan_result r = scan(fd, offs[2], offs[9], 0, big_sizes, offs, 2);
    assert_int_equal(r.frames, 7);
    assert_int_equal(r.last, FW_END);
    assert_true(r.last_off == offs[9]);
    /* Ending inside a frame: that frame is incomplete within the range. */
    r = scan(fd, 0, offs[12] + 100, 0, big_sizes, offs, 0);
    assert_int_equal(r.frames, 12);
    assert_int_equal(r.last, FW_TORN);
    assert_true(r.last_off == offs[12]);
    /* An empty range. */
    r = scan(fd, offs[3], offs[3], 0, big_sizes, offs, 3);
    assert_int_equal(r.frames, 0);
    assert_int_equal(r.last, FW_END);
    assert_int_equal(close(fd), 0);
    tu_rmtree(dir);
}

/* A complete file cut to every length within its last frame: the frames
 * before are all handed out, then a torn tail at the last frame's offset. */
static void test_torn_every_length(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    static const size_t sizes[] = {10, 20, 30, 40};
    uint64_t offs[4];
    int fd = write_frames(dir, sizes, 4, offs);
    uint64_t full = fd_size(fd);
    /* Downwards: each cut only shrinks the file, keeping the bytes below. */
    for (uint64_t cut = full - 1; cut > offs[3]; cut--) {
        assert_int_equal(ftruncate(fd, (off_t)cut), 0);
        scan_result r = scan(fd, 0, cut, 0, sizes, offs, 0);
        assert_int_equal(r.frames, 3);
        if (r.last != FW_TORN || r.last_off != offs[3])
            fail_msg("cut at %llu: status %d at %llu", (unsigned long long)cut, (int)r.last,
                     (unsigned long long)r.last_off);
    }
    /* And at the boundary itself: a clean end. */
    assert_int_equal(ftruncate(fd, (off_t)offs[3]), 0);
    scan_result r = scan(fd, 0, offs[3], 0, sizes, offs, 0);
    assert_int_equal(r.frames, 3);
    assert_int_equal(r.last, FW_END);
    assert_int_equal(close(fd), 0);
    tu_rmtree(dir);
}

/* Torn tails of a large frame that begins in one window and ends past the
 * file in the next. */
static void test_torn_large_frame(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    static const size_t sizes[] = {600000, 1048576};
    uint64_t offs[2];
    int fd = write_frames(dir, sizes, 2, offs);
    uint64_t full = fd_size(fd);
    /* Longest first: each cut only shrinks the file. */
    static const uint64_t keep[] = {1048579, 448582, 448581, 1000, 5, 4, 3, 1};
    for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
        uint64_t cut = offs[1] + keep[k];
        assert_true(cut < full);
        assert_int_equal(ftruncate(fd, (off_t)cut), 0);
        scan_result r = scan(fd, 0, cut, 0, sizes, offs, 0);
        assert_int_equal(r.frames, 1);
        assert_int_equal(r.last, FW_TORN);
        assert_true(r.last_off == offs[1]);
    }
    assert_int_equal(close(fd), 0);
    tu_rmtree(dir);
}

/* Writes a prefix of `value` at the offset of frame k. */
static void poke_prefix(int fd, uint64_t off, uint32_t value)
{
    uint8_t p[4];
    tu_put_be32(p, value);
    assert_int_equal(pwrite(fd, p, 4, (off_t)off), 4);
}

static void test_bad_length_prefixes(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    static const uint32_t bad[] = {0, AC_MAX_RECORD_SIZE + 1, 0x7fffffffu, 0xffffffffu};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        /* In the middle, after a refill, and as the very last bytes. */
        uint64_t offs[NBIG];
        int fd = write_frames(dir, big_sizes, NBIG, offs);
        uint64_t size = fd_size(fd);
        poke_prefix(fd, offs[7], bad[b]);
        scan_result r = scan(fd, 0, size, 0, big_sizes, offs, 0);
        assert_int_equal(r.frames, 7);
        assert_int_equal(r.last, FW_BAD_LEN);
        assert_true(r.last_off == offs[7]);
        poke_prefix(fd, offs[7], (uint32_t)big_sizes[7]);
        poke_prefix(fd, offs[0], bad[b]);
        r = scan(fd, 0, size, 0, big_sizes, offs, 0);
        assert_int_equal(r.frames, 0);
        assert_int_equal(r.last, FW_BAD_LEN);
        assert_true(r.last_off == 0);
        poke_prefix(fd, offs[0], (uint32_t)big_sizes[0]);
        /* A bad prefix as the file's last four bytes is bad, not torn. */
        assert_int_equal(ftruncate(fd, (off_t)offs[NBIG - 1]), 0);
        poke_prefix(fd, offs[NBIG - 1], bad[b]);
        r = scan(fd, 0, offs[NBIG - 1] + 4, 0, big_sizes, offs, 0);
        assert_int_equal(r.frames, NBIG - 1);
        assert_int_equal(r.last, FW_BAD_LEN);
        assert_true(r.last_off == offs[NBIG - 1]);
        assert_int_equal(close(fd), 0);
    }
    tu_rmtree(dir);
}

/* A read that fails: a closed descriptor, and a file shorter than the range. */
static void test_refill_errors(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    static const size_t sizes[] = {100, 200};
    int fd = write_frames(dir, sizes, 2, NULL);
    frame_win w;
    assert_int_equal(fwin_init(&w, fd, 0, 10000, 0), 0); /* the range runs past the file */
    errno = 0;
    assert_int_equal(fwin_refill(&w), -1);
    assert_int_not_equal(errno, 0);
    fwin_free(&w);
    assert_int_equal(fwin_init(&w, -1, 0, 308, 0), 0);
    errno = 0;
    assert_int_equal(fwin_refill(&w), -1);
    assert_int_equal(errno, EBADF);
    fwin_free(&w);
    fwin_free(&w); /* twice is harmless */
    assert_int_equal(close(fd), 0);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- single reads */

static void test_frame_read_at(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    static const size_t sizes[] = {1, 2044, 2045, 5000, 1048576, 300};
    uint64_t offs[6];
    int fd = write_frames(dir, sizes, 6, offs);
    uint64_t size = fd_size(fd);
    for (size_t k = 0; k < 6; k++) {
        uint8_t *body = NULL;
        uint32_t len = 0;
        TU_OK(frame_read_at(fd, offs[k], size, &body, &len));
        assert_int_equal(len, sizes[k]);
        for (size_t j = 0; j < len; j++)
            if (body[j] != pattern_byte(k, j))
                fail_msg("frame %zu: byte %zu differs", k, j);
        free(body);
    }
    uint8_t *body = NULL;
    uint32_t len;
    assert_int_equal(frame_read_at(fd, size, size, &body, &len), AC_ECORRUPT);
    assert_int_equal(frame_read_at(fd, size + 1, size, &body, &len), AC_ECORRUPT);
    assert_int_equal(frame_read_at(fd, size - 3, size, &body, &len), AC_ECORRUPT);
    /* A size limit below the frame's end: past the end, even though the
     * file holds more. */
    assert_int_equal(frame_read_at(fd, offs[4], offs[5] - 1, &body, &len), AC_ECORRUPT);
    assert_int_equal(frame_read_at(fd, offs[5], size - 1, &body, &len), AC_ECORRUPT);
    /* Not at a frame: a prefix read from inside a body. */
    poke_prefix(fd, offs[3], 0);
    assert_int_equal(frame_read_at(fd, offs[3], size, &body, &len), AC_ECORRUPT);
    poke_prefix(fd, offs[3], AC_MAX_RECORD_SIZE + 1);
    assert_int_equal(frame_read_at(fd, offs[3], size, &body, &len), AC_ECORRUPT);
    assert_null(body);
    assert_int_equal(frame_read_at(-1, 0, size, &body, &len), AC_EIO);
    /* The file shrank under a caller that still believes the old size. */
    assert_int_equal(ftruncate(fd, (off_t)(offs[4] + 100)), 0);
    assert_int_equal(frame_read_at(fd, offs[4], size, &body, &len), AC_EIO);
    assert_int_equal(close(fd), 0);
    tu_rmtree(dir);
}

static void test_read_span(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir);
    static const size_t sizes[] = {50, 60};
    uint64_t offs[2];
    int fd = write_frames(dir, sizes, 2, offs);
    uint8_t *buf = NULL;
    assert_int_equal(read_span(fd, offs[1] + 4, offs[1] + 4 + 60, &buf), 0);
    for (size_t j = 0; j < 60; j++)
        assert_int_equal(buf[j], pattern_byte(1, j));
    free(buf);
    buf = NULL;
    assert_int_equal(read_span(fd, 7, 7, &buf), 0); /* empty */
    free(buf);
    assert_int_equal(read_span(fd, 0, 1000, &buf), -1); /* past the end */
    assert_int_equal(read_span(-1, 0, 10, &buf), -1);
    assert_int_equal(close(fd), 0);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- a record inside */

/* The vectors: a grown prefix hides a record; a torn tail does not. */
static void test_record_inside_vectors(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_read_vector("invalid-length-prefix-grown/chain.bin", &len);
    assert_int_equal(len, 2374);
    assert_true(frame_record_inside(b + 790, len - 790));
    /* The frame's own body is searched too: from just past the prefix. */
    assert_true(frame_record_inside(b + 794, len - 794));
    free(b);
    b = tu_read_vector("valid-torn-tail/chain.bin", &len);
    assert_int_equal(len, 1240);
    assert_false(frame_record_inside(b + 1186, len - 1186));
    /* The whole file holds records. */
    assert_true(frame_record_inside(b, len));
    free(b);
}

static void test_record_inside_crafted(void **state)
{
    (void)state;
    size_t flen;
    uint8_t *file = tu_read_vector("valid-two-rotations/chain.bin", &flen);
    const uint8_t *rec = file + 4; /* record 0's body */
    size_t rlen = 390;
    uint8_t *buf = malloc(rlen + 200);
    assert_non_null(buf);

    assert_true(frame_record_inside(rec, rlen)); /* exactly a record */
    assert_false(frame_record_inside(rec, rlen - 1));
    assert_false(frame_record_inside(rec + 1, rlen - 1));
    assert_false(frame_record_inside(rec, 0));
    assert_false(frame_record_inside(rec, 9));

    /* Surrounded by garbage, at odd offsets. */
    for (size_t at = 0; at < 100; at += 33) {
        memset(buf, 0xab, rlen + 200);
        memcpy(buf + at, rec, rlen);
        assert_true(frame_record_inside(buf, at + rlen + 50));
        assert_true(frame_record_inside(buf, at + rlen));
        assert_false(frame_record_inside(buf, at + rlen - 1));
    }
    /* Signatures are not checked here, structure is: a changed hash byte
     * still counts as a record; a changed key byte does not. */
    memcpy(buf, rec, rlen);
    buf[rlen - 80] ^= 0x01; /* inside signer_pubkey */
    assert_true(frame_record_inside(buf, rlen));
    memcpy(buf, rec, rlen);
    buf[12] ^= 0x01; /* inside the "metadata" key */
    assert_false(frame_record_inside(buf, rlen));
    /* A damaged record followed by an intact one: the search goes on. */
    uint8_t *two = malloc(2 * rlen);
    assert_non_null(two);
    memcpy(two, rec, rlen);
    two[12] ^= 0x01;
    memcpy(two + rlen, rec, rlen);
    assert_true(frame_record_inside(two, 2 * rlen));
    assert_false(frame_record_inside(two, 2 * rlen - 1));
    free(two);

    /* The ten leading bytes over and over, and nothing else: no record. */
    size_t n = 10 * 5000;
    uint8_t *magics = malloc(n);
    assert_non_null(magics);
    for (size_t i = 0; i < n; i += 10)
        memcpy(magics + i, ac_record_magic, 10);
    assert_false(frame_record_inside(magics, n));
    free(magics);
    free(buf);
    free(file);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_window_refills),
        cmocka_unit_test(test_torn_every_length),
        cmocka_unit_test(test_torn_large_frame),
        cmocka_unit_test(test_bad_length_prefixes),
        cmocka_unit_test(test_refill_errors),
        cmocka_unit_test(test_frame_read_at),
        cmocka_unit_test(test_read_span),
        cmocka_unit_test(test_record_inside_vectors),
        cmocka_unit_test(test_record_inside_crafted))
