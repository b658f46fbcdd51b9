/* Unit tests for src/cbor.c: the deterministic CBOR subset of format section 3.
 *
 * The reader must accept exactly one byte form per value: every other form
 * (longer heads, indefinite lengths, tags, floats, simple values outside
 * false/true/null, invalid UTF-8) is rejected.  Expected encodings of the
 * writers were produced offline with python3-cbor2 (`cbor2.dumps(x,
 * canonical=True)`) and are hard-coded here. */
#include "testutil.h"

#include "internal.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* ---------------------------------------------------------------- helpers */

/* det_token_read must refuse buf and leave *pos where it was. */
static void reject_at(int line, const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    det_token t;
    if (det_token_read(buf, len, &pos, &t) == 0)
        fail_msg("line %d: accepted a token the subset forbids (type %d)", line, (int)t.type);
    if (pos != 0)
        fail_msg("line %d: a rejected read moved pos to %zu", line, pos);
}
#define REJECT(...) reject_at(__LINE__, BYTES(__VA_ARGS__))

/* det_token_read must accept all of buf as one token of this type and value. */
static void accept_at(int line, det_type type, uint64_t val, const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    det_token t;
    if (det_token_read(buf, len, &pos, &t) != 0)
        fail_msg("line %d: rejected a valid token", line);
    if (t.type != type || t.val != val || t.start != 0 || t.end != len || pos != len)
        fail_msg("line %d: got type %d val %llu end %zu pos %zu", line, (int)t.type,
                 (unsigned long long)t.val, t.end, pos);
}
#define ACCEPT(type, val, ...) accept_at(__LINE__, type, val, BYTES(__VA_ARGS__))

/* A head of major type mt carrying v with an argument of `width` bytes (0:
 * in the initial byte), written here by hand, independently of cbor.c. */
static size_t head(uint8_t *out, unsigned mt, unsigned width, uint64_t v)
{
    static const uint8_t info[9] = {0, 24, 25, 0, 26, 0, 0, 0, 27};
    if (width == 0) {
        out[0] = (uint8_t)(mt << 5 | v);
        return 1;
    }
    out[0] = (uint8_t)(mt << 5 | info[width]);
    for (unsigned i = 0; i < width; i++)
        out[1 + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    return 1 + width;
}

/* The argument width RFC 8949's preferred (shortest) encoding uses. */
static unsigned shortest_width(uint64_t v)
{
    return v < 24 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
}

static bool fits(unsigned width, uint64_t v)
{
    return width == 8 || (width == 0 ? v < 24 : v < (1ull << (8 * width)));
}

static const det_type major_type[6] = {DET_UINT, DET_NEGINT, DET_BYTES, DET_TEXT, DET_ARRAY,
                                       DET_MAP};

/* ---------------------------------------------------------------- det_token_read */

/* Every argument at every width: accepted only in its shortest head. */
static void test_heads_every_width(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0,     1,       23,          24,          255,
                                    256,   65535,   65536,       0xffffffffu, 0x100000000ull,
                                    UINT64_MAX};
    static const unsigned widths[] = {0, 1, 2, 4, 8};
    uint8_t buf[16];
    for (unsigned mt = 0; mt < 6; mt++) {
        for (size_t w = 0; w < 5; w++) {
            for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
                uint64_t v = vals[k];
                if (!fits(widths[w], v))
                    continue;
                /* Strings need their payload: only the short ones here. */
                if ((mt == 2 || mt == 3) && v > 0)
                    continue;
                size_t n = head(buf, mt, widths[w], v);
                size_t pos = 0;
                det_token t;
                int rc = det_token_read(buf, n, &pos, &t);
                bool want = widths[w] == shortest_width(v);
                if (want != (rc == 0))
                    fail_msg("major %u width %u value %llu: %s", mt, widths[w],
                             (unsigned long long)v, want ? "rejected" : "accepted");
                if (want) {
                    assert_int_equal(t.type, major_type[mt]);
                    assert_true(t.val == v);
                    assert_int_equal(pos, n);
                }
            }
        }
    }
}

/* String lengths in long heads, with their payload present. */
static void test_string_lengths_every_width(void **state)
{
    (void)state;
    static const uint64_t lens[] = {1, 23, 24, 255, 256, 65535, 65536};
    static const unsigned widths[] = {0, 1, 2, 4, 8};
    uint8_t *buf = malloc(9 + 65536);
    assert_non_null(buf);
    for (unsigned mt = 2; mt <= 3; mt++) {
        for (size_t w = 0; w < 5; w++) {
            for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
                uint64_t v = lens[k];
                if (!fits(widths[w], v))
                    continue;
                size_t n = head(buf, mt, widths[w], v);
                memset(buf + n, 'a', (size_t)v);
                size_t pos = 0;
                det_token t;
                int rc = det_token_read(buf, n + (size_t)v, &pos, &t);
                bool want = widths[w] == shortest_width(v);
                if (want != (rc == 0))
                    fail_msg("major %u width %u length %llu: %s", mt, widths[w],
                             (unsigned long long)v, want ? "rejected" : "accepted");
                if (want) {
                    assert_true(t.val == v);
                    assert_ptr_equal(t.data, buf + n);
                    assert_int_equal(t.end, n + (size_t)v);
                }
            }
        }
    }
    free(buf);
}

static void test_reserved_and_indefinite(void **state)
{
    (void)state;
    /* Additional information 28..30 is reserved in every major type. */
    for (unsigned mt = 0; mt < 8; mt++)
        for (unsigned ai = 28; ai <= 30; ai++) {
            uint8_t b[9] = {(uint8_t)(mt << 5 | ai)};
            reject_at(__LINE__, b, sizeof b);
        }
    REJECT(0x5f, 0x41, 0x00, 0xff); /* indefinite byte string */
    REJECT(0x7f, 0x61, 0x61, 0xff); /* indefinite text */
    REJECT(0x9f, 0x01, 0xff);       /* indefinite array */
    REJECT(0xbf, 0x61, 0x61, 0x01, 0xff); /* indefinite map */
    REJECT(0x9f, 0xff);
    REJECT(0xff); /* a lone break */
}

static void test_tags_floats_simple(void **state)
{
    (void)state;
    REJECT(0xc0, 0x60);                   /* tag 0, date string */
    REJECT(0xc1, 0x00);                   /* tag 1, epoch */
    REJECT(0xc2, 0x41, 0x01);             /* bignum */
    REJECT(0xd8, 0x20, 0x60);             /* tag 32 */
    REJECT(0xd9, 0xd9, 0xf7, 0x00);       /* self-describe tag 55799 */
    REJECT(0xf9, 0x00, 0x00);             /* half 0.0 */
    REJECT(0xf9, 0x3c, 0x00);             /* half 1.0 */
    REJECT(0xfa, 0x3f, 0x80, 0x00, 0x00); /* single 1.0 */
    REJECT(0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0); /* double 1.0 */
    REJECT(0xf7);                         /* undefined */
    for (uint8_t s = 0xe0; s <= 0xf3; s++) {  /* unassigned simple values 0..19 */
        uint8_t b[1] = {s};
        reject_at(__LINE__, b, 1);
    }
    REJECT(0xf8, 0x14); /* false in a two-byte head */
    REJECT(0xf8, 0x16); /* null in a two-byte head */
    REJECT(0xf8, 0x20); /* simple value 32 */
    REJECT(0xf8, 0xff);
    REJECT(0xfc);
    REJECT(0xfd);
    REJECT(0xfe);
    ACCEPT(DET_FALSE, 0, 0xf4);
    ACCEPT(DET_TRUE, 0, 0xf5);
    ACCEPT(DET_NULL, 0, 0xf6);
}

static void test_utf8_in_text(void **state)
{
    (void)state;
    REJECT(0x61, 0x80);             /* lone continuation byte */
    REJECT(0x61, 0xbf);
    REJECT(0x61, 0xc2);             /* lead without its continuation */
    REJECT(0x62, 0xc0, 0x80);       /* overlong NUL */
    REJECT(0x62, 0xc1, 0xbf);       /* overlong U+007F */
    REJECT(0x63, 0xe0, 0x80, 0x80); /* overlong 3-byte */
    REJECT(0x63, 0xe0, 0x9f, 0xbf); /* overlong U+07FF */
    REJECT(0x64, 0xf0, 0x80, 0x80, 0x80); /* overlong 4-byte */
    REJECT(0x64, 0xf0, 0x8f, 0xbf, 0xbf); /* overlong U+FFFF */
    REJECT(0x63, 0xed, 0xa0, 0x80); /* surrogate U+D800 */
    REJECT(0x63, 0xed, 0xbf, 0xbf); /* surrogate U+DFFF */
    REJECT(0x66, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80); /* CESU-8 pair */
    REJECT(0x64, 0xf4, 0x90, 0x80, 0x80); /* U+110000 */
    REJECT(0x64, 0xf7, 0xbf, 0xbf, 0xbf);
    REJECT(0x65, 0xf8, 0x88, 0x80, 0x80, 0x80); /* 5-byte form */
    REJECT(0x61, 0xfe);
    REJECT(0x61, 0xff);
    REJECT(0x62, 0xe2, 0x82);       /* sequence cut by the string's end */
    REJECT(0x63, 0x61, 0xe2, 0x82); /* ... after an ASCII byte */
    REJECT(0x63, 0xe2, 0x28, 0xa1); /* bad second byte */
    ACCEPT(DET_TEXT, 1, 0x61, 0x00); /* NUL itself is valid UTF-8 */
    ACCEPT(DET_TEXT, 2, 0x62, 0xc2, 0x80);
    ACCEPT(DET_TEXT, 3, 0x63, 0xed, 0x9f, 0xbf); /* U+D7FF */
    ACCEPT(DET_TEXT, 3, 0x63, 0xee, 0x80, 0x80); /* U+E000 */
    ACCEPT(DET_TEXT, 3, 0x63, 0xef, 0xbf, 0xbf); /* U+FFFF */
    ACCEPT(DET_TEXT, 4, 0x64, 0xf0, 0x90, 0x80, 0x80); /* U+10000 */
    ACCEPT(DET_TEXT, 4, 0x64, 0xf4, 0x8f, 0xbf, 0xbf); /* U+10FFFF */
    /* Byte strings carry anything. */
    ACCEPT(DET_BYTES, 3, 0x43, 0xed, 0xa0, 0x80);
    ACCEPT(DET_BYTES, 1, 0x41, 0xff);
}

/* Validity of one UTF-8 sequence after the Unicode standard's table 3-7 of
 * well-formed byte sequences: a formulation other than cbor.c's. */
static bool ref_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t a = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf;
        if (a <= 0x7f) {
            i++;
            continue;
        } else if (a >= 0xc2 && a <= 0xdf) {
            need = 1;
        } else if (a >= 0xe0 && a <= 0xef) {
            need = 2;
            if (a == 0xe0)
                lo = 0xa0;
            if (a == 0xed)
                hi = 0x9f;
        } else if (a >= 0xf0 && a <= 0xf4) {
            need = 3;
            if (a == 0xf0)
                lo = 0x90;
            if (a == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += need + 1;
    }
    return true;
}

/* Every string of 1 to 3 bytes, and 4-byte strings over every lead and
 * second byte, against the reference. */
static void test_utf8_exhaustive(void **state)
{
    (void)state;
    uint8_t s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        assert_int_equal(det_utf8_valid(s, 1), ref_utf8(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            assert_int_equal(det_utf8_valid(s, 2), ref_utf8(s, 2));
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (uint8_t)c;
                if (det_utf8_valid(s, 3) != ref_utf8(s, 3))
                    fail_msg("%02x %02x %02x: library says %d", a, b, c, det_utf8_valid(s, 3));
            }
        }
    }
    static const uint8_t edge[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0, 0xff};
    for (unsigned a = 0xf0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof edge; c++)
                for (size_t d = 0; d < sizeof edge; d++) {
                    s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = edge[c], s[3] = edge[d];
                    assert_int_equal(det_utf8_valid(s, 4), ref_utf8(s, 4));
                }
}

/* Every proper prefix of a valid token is refused. */
static void test_truncated(void **state)
{
    (void)state;
    static const uint8_t toks[][12] = {
        {0x1b, 1, 2, 3, 4, 5, 6, 7, 8},
        {0x1a, 1, 2, 3, 4},
        {0x19, 1, 2},
        {0x18, 0x18},
        {0x38, 0x18},
        {0x45, 1, 2, 3, 4, 5},
        {0x58, 0x18}, /* the head alone: its 24 bytes are missing entirely */
        {0x65, 'h', 'e', 'l', 'l', 'o'},
        {0x99, 0x01, 0x00},
        {0xb9, 0x01, 0x00},
    };
    static const size_t lens[] = {9, 5, 3, 2, 2, 6, 2, 6, 3, 3};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        for (size_t n = 0; n < lens[k]; n++) {
            size_t pos = 0;
            det_token t;
            if (det_token_read(toks[k], n, &pos, &t) == 0)
                fail_msg("token %zu: prefix of %zu bytes accepted", k, n);
        }
    }
    /* 0x58 0x18 with its 24 bytes cut short by one. */
    uint8_t b[26] = {0x58, 0x18};
    size_t pos = 0;
    det_token t;
    assert_int_equal(det_token_read(b, 25, &pos, &t), -1);
    assert_int_equal(det_token_read(b, 26, &pos, &t), 0);
    /* Reading at or past the end. */
    pos = 26;
    assert_int_equal(det_token_read(b, 26, &pos, &t), -1);
    pos = 27;
    assert_int_equal(det_token_read(b, 26, &pos, &t), -1);
    assert_int_equal(pos, 27);
}

/* Declared lengths far beyond the buffer: refused, and nothing is read
 * past the end (ASan would see it). */
static void test_huge_lengths(void **state)
{
    (void)state;
    REJECT(0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00);
    REJECT(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00);
    REJECT(0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf7, 0x61);
    REJECT(0x7b, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x61);
    REJECT(0x5a, 0xff, 0xff, 0xff, 0xff, 0x00);
    REJECT(0x7a, 0x00, 0x10, 0x00, 0x00, 0x61, 0x61);
    REJECT(0x59, 0xff, 0xff, 0x00);
    /* A huge count is a valid head; the item check must refuse it. */
    static const uint8_t arr[] = {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
    static const uint8_t map[] = {0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x61, 0x61};
    size_t pos = 0;
    det_token t;
    assert_int_equal(det_token_read(arr, sizeof arr, &pos, &t), 0);
    assert_int_equal(t.type, DET_ARRAY);
    assert_true(t.val == UINT64_MAX);
    pos = 0;
    assert_int_equal(det_item_skip(arr, sizeof arr, &pos, AC_MAX_DEPTH), -1);
    pos = 0;
    assert_int_equal(det_item_skip(map, sizeof map, &pos, AC_MAX_DEPTH), -1);
}

/* Token offsets when reading from the middle of a buffer. */
static void test_token_offsets(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x01, 0x63, 'a', 'b', 'c', 0x42, 0x00, 0x01, 0x82, 0x00, 0x00};
    size_t pos = 1;
    det_token t;
    assert_int_equal(det_token_read(b, sizeof b, &pos, &t), 0);
    assert_int_equal(t.type, DET_TEXT);
    assert_int_equal(t.val, 3);
    assert_ptr_equal(t.data, b + 2);
    assert_int_equal(t.start, 1);
    assert_int_equal(t.end, 5);
    assert_int_equal(pos, 5);
    assert_int_equal(det_token_read(b, sizeof b, &pos, &t), 0);
    assert_int_equal(t.type, DET_BYTES);
    assert_ptr_equal(t.data, b + 6);
    assert_int_equal(pos, 8);
    /* An array token is its head only. */
    assert_int_equal(det_token_read(b, sizeof b, &pos, &t), 0);
    assert_int_equal(t.type, DET_ARRAY);
    assert_int_equal(t.val, 2);
    assert_int_equal(pos, 9);
    assert_null(t.data);
    /* An empty string has no data to point to. */
    static const uint8_t e[] = {0x40, 0x60};
    pos = 0;
    assert_int_equal(det_token_read(e, sizeof e, &pos, &t), 0);
    assert_int_equal(t.type, DET_BYTES);
    assert_int_equal(t.val, 0);
    assert_int_equal(det_token_read(e, sizeof e, &pos, &t), 0);
    assert_int_equal(t.type, DET_TEXT);
    assert_int_equal(pos, 2);
}

/* ---------------------------------------------------------------- det_item_skip */

/* `depth` arrays (or single-key maps) nested around a 0. */
static size_t nested(uint8_t *buf, int depth, bool maps)
{
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        if (maps) {
            buf[n++] = 0xa1;
            buf[n++] = 0x61;
            buf[n++] = 'd';
        } else {
            buf[n++] = 0x81;
        }
    }
    buf[n++] = 0x00;
    return n;
}

static void test_skip_depth(void **state)
{
    (void)state;
    uint8_t buf[200];
    for (int maps = 0; maps <= 1; maps++) {
        for (int depth = 1; depth <= 20; depth++) {
            size_t n = nested(buf, depth, maps);
            size_t pos = 0;
            assert_int_equal(det_item_skip(buf, n, &pos, depth), 0);
            assert_int_equal(pos, n);
            pos = 0;
            assert_int_equal(det_item_skip(buf, n, &pos, depth - 1), -1);
        }
        /* The format's limit. */
        size_t n = nested(buf, AC_MAX_DEPTH, maps);
        size_t pos = 0;
        assert_int_equal(det_item_skip(buf, n, &pos, AC_MAX_DEPTH), 0);
        n = nested(buf, AC_MAX_DEPTH + 1, maps);
        pos = 0;
        assert_int_equal(det_item_skip(buf, n, &pos, AC_MAX_DEPTH), -1);
    }
    /* Scalars take no level; an empty array takes one. */
    size_t pos = 0;
    assert_int_equal(det_item_skip(BYTES(0x01), &pos, 0), 0);
    pos = 0;
    assert_int_equal(det_item_skip(BYTES(0x80), &pos, 0), -1);
    pos = 0;
    assert_int_equal(det_item_skip(BYTES(0x80), &pos, 1), 0);
    /* Siblings do not add up: [[0],[0],[0]] is two levels. */
    pos = 0;
    assert_int_equal(det_item_skip(BYTES(0x83, 0x81, 0x00, 0x81, 0x00, 0x81, 0x00), &pos, 2), 0);
    assert_int_equal(pos, 7);
}

static int skip_all(const uint8_t *b, size_t n)
{
    size_t pos = 0;
    if (det_item_skip(b, n, &pos, AC_MAX_DEPTH) != 0)
        return -1;
    return pos == n ? 0 : -2;
}
#define SKIP(...) skip_all(BYTES(__VA_ARGS__))

static void test_skip_keys(void **state)
{
    (void)state;
    assert_int_equal(SKIP(0xa2, 0x61, 'a', 0x00, 0x61, 'b', 0x00), 0);
    assert_int_equal(SKIP(0xa2, 0x61, 'b', 0x00, 0x61, 'a', 0x00), -1); /* out of order */
    assert_int_equal(SKIP(0xa2, 0x61, 'a', 0x00, 0x61, 'a', 0x01), -1); /* duplicate */
    /* Shorter keys first, whatever their bytes. */
    assert_int_equal(SKIP(0xa2, 0x61, 'b', 0x00, 0x62, 'a', 'a', 0x00), 0);
    assert_int_equal(SKIP(0xa2, 0x62, 'a', 'a', 0x00, 0x61, 'b', 0x00), -1);
    /* Equal length: bytewise, so 'Z' (0x5a) before 'a'. */
    assert_int_equal(SKIP(0xa2, 0x61, 'Z', 0x00, 0x61, 'a', 0x00), 0);
    assert_int_equal(SKIP(0xa2, 0x61, 'a', 0x00, 0x61, 'Z', 0x00), -1);
    /* Keys must be text. */
    assert_int_equal(SKIP(0xa1, 0x00, 0x00), -1);
    assert_int_equal(SKIP(0xa1, 0x41, 'a', 0x00), -1);
    assert_int_equal(SKIP(0xa1, 0x80, 0x00), -1);
    /* Order is checked in nested maps too. */
    assert_int_equal(SKIP(0x81, 0xa2, 0x61, 'b', 0x00, 0x61, 'a', 0x00), -1);
    assert_int_equal(SKIP(0xa1, 0x61, 'x', 0xa2, 0x61, 'a', 0x00, 0x61, 'a', 0x00), -1);
    /* A bad token anywhere inside. */
    assert_int_equal(SKIP(0x82, 0x00, 0x18, 0x01), -1);
    assert_int_equal(SKIP(0xa1, 0x61, 'a', 0xf9, 0x00, 0x00), -1);
    /* Truncated: a missing value, a missing element. */
    assert_int_equal(SKIP(0xa1, 0x61, 'a'), -1);
    assert_int_equal(SKIP(0x82, 0x00), -1);
    /* The item ends where it ends: trailing bytes are not consumed. */
    assert_int_equal(SKIP(0x00, 0x00), -2);
    assert_int_equal(SKIP(0xa0), 0);
    assert_int_equal(SKIP(0x80), 0);
}

/* det_key_cmp: shorter first, then bytewise. */
static void test_key_cmp(void **state)
{
    (void)state;
    assert_true(det_key_cmp((const uint8_t *)"b", 1, (const uint8_t *)"aa", 2) < 0);
    assert_true(det_key_cmp((const uint8_t *)"aa", 2, (const uint8_t *)"b", 1) > 0);
    assert_true(det_key_cmp((const uint8_t *)"ab", 2, (const uint8_t *)"ac", 2) < 0);
    assert_int_equal(det_key_cmp((const uint8_t *)"ab", 2, (const uint8_t *)"ab", 2), 0);
    assert_true(det_key_cmp((const uint8_t *)"\xff", 1, (const uint8_t *)"\x01\x01", 2) < 0);
}

/* ---------------------------------------------------------------- det_map_find */

static void test_map_find(void **state)
{
    (void)state;
    /* {"a": 1, "bb": {"x": [1, 2]}, "ccc": "v"} */
    static const uint8_t m[] = {0xa3, 0x61, 'a', 0x01, 0x62, 'b', 'b', 0xa1, 0x61, 'x',
                                0x82, 0x01, 0x02, 0x63, 'c', 'c', 'c', 0x61, 'v'};
    size_t vp = 99;
    assert_int_equal(det_map_find(m, sizeof m, "a", &vp), 0);
    assert_int_equal(vp, 3);
    assert_int_equal(det_map_find(m, sizeof m, "bb", &vp), 0);
    assert_int_equal(vp, 7);
    assert_int_equal(det_map_find(m, sizeof m, "ccc", &vp), 0);
    assert_int_equal(vp, 17);
    det_token t;
    assert_int_equal(det_token_read(m, sizeof m, &vp, &t), 0);
    assert_int_equal(t.type, DET_TEXT);
    assert_memory_equal(t.data, "v", 1);
    vp = 99;
    assert_int_equal(det_map_find(m, sizeof m, "c", &vp), -1);
    assert_int_equal(det_map_find(m, sizeof m, "cccc", &vp), -1);
    assert_int_equal(det_map_find(m, sizeof m, "x", &vp), -1); /* nested keys are not ours */
    assert_int_equal(det_map_find(m, sizeof m, "", &vp), -1);
    assert_int_equal(vp, 99);
    assert_int_equal(det_map_find(BYTES(0xa0), "a", &vp), -1);
    assert_int_equal(det_map_find(BYTES(0x81, 0x61), "a", &vp), -1); /* not a map */
    assert_int_equal(det_map_find(BYTES(0x61, 'a'), "a", &vp), -1);
    /* Damage before the key: refused, not read past. */
    assert_int_equal(det_map_find(m, 12, "ccc", &vp), -1);
    assert_int_equal(det_map_find(m, 0, "a", &vp), -1);
}

/* ---------------------------------------------------------------- writers */

/* Bytes from python3-cbor2, canonical=True. */
static const struct {
    uint64_t v;
    uint8_t uint_enc[9], neg_enc[9];
    size_t n;
} int_cases[] = {
    {0, {0x00}, {0x20}, 1},
    {23, {0x17}, {0x37}, 1},
    {24, {0x18, 0x18}, {0x38, 0x18}, 2},
    {255, {0x18, 0xff}, {0x38, 0xff}, 2},
    {256, {0x19, 0x01, 0x00}, {0x39, 0x01, 0x00}, 3},
    {65535, {0x19, 0xff, 0xff}, {0x39, 0xff, 0xff}, 3},
    {65536, {0x1a, 0x00, 0x01, 0x00, 0x00}, {0x3a, 0x00, 0x01, 0x00, 0x00}, 5},
    {0xffffffffu, {0x1a, 0xff, 0xff, 0xff, 0xff}, {0x3a, 0xff, 0xff, 0xff, 0xff}, 5},
    {0x100000000ull, {0x1b, 0, 0, 0, 1, 0, 0, 0, 0}, {0x3b, 0, 0, 0, 1, 0, 0, 0, 0}, 9},
    {UINT64_MAX, {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
     {0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
};

static void test_put_ints(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof int_cases / sizeof int_cases[0]; k++) {
        det_buf b = {0};
        det_put_uint(&b, int_cases[k].v);
        det_put_negint(&b, int_cases[k].v);
        assert_false(b.failed);
        size_t n = int_cases[k].n;
        assert_int_equal(b.len, 2 * n);
        assert_memory_equal(b.data, int_cases[k].uint_enc, n);
        assert_memory_equal(b.data + n, int_cases[k].neg_enc, n);
        /* And the reader takes them back. */
        size_t pos = 0;
        det_token t;
        assert_int_equal(det_token_read(b.data, b.len, &pos, &t), 0);
        assert_true(t.type == DET_UINT && t.val == int_cases[k].v);
        assert_int_equal(det_token_read(b.data, b.len, &pos, &t), 0);
        assert_true(t.type == DET_NEGINT && t.val == int_cases[k].v);
        det_buf_free(&b);
    }
}

/* Heads of strings, arrays and maps of these sizes (python3-cbor2). */
static const struct {
    size_t n;
    uint8_t bytes_h[5], text_h[5], array_h[5], map_h[5];
    size_t hlen;
} len_cases[] = {
    {0, {0x40}, {0x60}, {0x80}, {0xa0}, 1},
    {1, {0x41}, {0x61}, {0x81}, {0xa1}, 1},
    {23, {0x57}, {0x77}, {0x97}, {0xb7}, 1},
    {24, {0x58, 0x18}, {0x78, 0x18}, {0x98, 0x18}, {0xb8, 0x18}, 2},
    {255, {0x58, 0xff}, {0x78, 0xff}, {0x98, 0xff}, {0xb8, 0xff}, 2},
    {256, {0x59, 0x01, 0x00}, {0x79, 0x01, 0x00}, {0x99, 0x01, 0x00}, {0xb9, 0x01, 0x00}, 3},
    {65535, {0x59, 0xff, 0xff}, {0x79, 0xff, 0xff}, {0x99, 0xff, 0xff}, {0xb9, 0xff, 0xff}, 3},
    {65536, {0x5a, 0, 1, 0, 0}, {0x7a, 0, 1, 0, 0}, {0x9a, 0, 1, 0, 0}, {0xba, 0, 1, 0, 0}, 5},
};

static void test_put_lengths(void **state)
{
    (void)state;
    char *payload = malloc(65536);
    assert_non_null(payload);
    memset(payload, 'q', 65536);
    for (size_t k = 0; k < sizeof len_cases / sizeof len_cases[0]; k++) {
        size_t n = len_cases[k].n, h = len_cases[k].hlen;
        det_buf b = {0};
        det_put_bytes(&b, payload, n);
        assert_int_equal(b.len, h + n);
        assert_memory_equal(b.data, len_cases[k].bytes_h, h);
        assert_memory_equal(b.data + h, payload, n);
        b.len = 0;
        det_put_text(&b, payload, n);
        assert_int_equal(b.len, h + n);
        assert_memory_equal(b.data, len_cases[k].text_h, h);
        assert_memory_equal(b.data + h, payload, n);
        b.len = 0;
        det_put_array(&b, n);
        assert_int_equal(b.len, h);
        assert_memory_equal(b.data, len_cases[k].array_h, h);
        b.len = 0;
        det_put_map(&b, n);
        assert_int_equal(b.len, h);
        assert_memory_equal(b.data, len_cases[k].map_h, h);
        assert_false(b.failed);
        det_buf_free(&b);
    }
    free(payload);
}

static void test_put_simple_and_map(void **state)
{
    (void)state;
    det_buf b = {0};
    det_put_simple(&b, DET_FALSE);
    det_put_simple(&b, DET_TRUE);
    det_put_simple(&b, DET_NULL);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, ((const uint8_t[]){0xf4, 0xf5, 0xf6}), 3);
    det_buf_free(&b);

    /* cbor2.dumps({"b": 1, "a": [1, 2], "aa": {}, "é": b"\x01"}, canonical=True) */
    static const uint8_t want[] = {0xa4, 0x61, 0x61, 0x82, 0x01, 0x02, 0x61, 0x62, 0x01,
                                   0x62, 0x61, 0x61, 0xa0, 0x62, 0xc3, 0xa9, 0x41, 0x01};
    det_put_map(&b, 4);
    det_put_text(&b, "a", 1);
    det_put_array(&b, 2);
    det_put_uint(&b, 1);
    det_put_uint(&b, 2);
    det_put_text(&b, "b", 1);
    det_put_uint(&b, 1);
    det_put_text(&b, "aa", 2);
    det_put_map(&b, 0);
    det_put_text(&b, "\xc3\xa9", 2);
    det_put_bytes(&b, "\x01", 1);
    assert_false(b.failed);
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    size_t pos = 0;
    assert_int_equal(det_item_skip(b.data, b.len, &pos, AC_MAX_DEPTH), 0);
    assert_int_equal(pos, b.len);
    det_buf_free(&b);
    assert_null(b.data);
    det_buf_free(&b); /* twice is harmless */
}

/* The buffer grows across its initial capacity without losing bytes. */
static void test_put_growth(void **state)
{
    (void)state;
    det_buf b = {0};
    for (unsigned i = 0; i < 10000; i++)
        det_put_uint(&b, i);
    assert_false(b.failed);
    size_t pos = 0;
    for (unsigned i = 0; i < 10000; i++) {
        det_token t;
        assert_int_equal(det_token_read(b.data, b.len, &pos, &t), 0);
        assert_int_equal(t.val, i);
    }
    assert_int_equal(pos, b.len);
    det_put(&b, NULL, 0); /* nothing to add */
    assert_int_equal(pos, b.len);
    det_buf_free(&b);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_heads_every_width),
        cmocka_unit_test(test_string_lengths_every_width),
        cmocka_unit_test(test_reserved_and_indefinite),
        cmocka_unit_test(test_tags_floats_simple),
        cmocka_unit_test(test_utf8_in_text),
        cmocka_unit_test(test_utf8_exhaustive),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_token_offsets),
        cmocka_unit_test(test_skip_depth),
        cmocka_unit_test(test_skip_keys),
        cmocka_unit_test(test_key_cmp),
        cmocka_unit_test(test_map_find),
        cmocka_unit_test(test_put_ints),
        cmocka_unit_test(test_put_lengths),
        cmocka_unit_test(test_put_simple_and_map),
        cmocka_unit_test(test_put_growth))
