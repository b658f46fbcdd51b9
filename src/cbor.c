/* Deterministic CBOR (format section 3).
 *
 * libcbor's streaming decoder reads one token at a time; on top of it this
 * file enforces the one-byte-form rule the format needs and libcbor does not
 * check: shortest heads, definite lengths, valid UTF-8, sorted unique text
 * keys, bounded nesting, and only the allowed types.  Working on tokens in
 * place (no item tree) keeps decoding allocation-free, and lets callers keep
 * pointers into the frame body. */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "internal.h"

/* What the callbacks saw for the one token decoded. */
typedef struct tok_ctx {
    bool set;
    bool bad; /* a type outside the subset */
    det_type type;
    uint64_t val;
    const uint8_t *data;
} tok_ctx;

static void set_tok(void *vctx, det_type t, uint64_t v)
{
    tok_ctx *c = vctx;
    c->set = true;
    c->type = t;
    c->val = v;
}

static void on_uint8(void *c, uint8_t v) { set_tok(c, DET_UINT, v); }
static void on_uint16(void *c, uint16_t v) { set_tok(c, DET_UINT, v); }
static void on_uint32(void *c, uint32_t v) { set_tok(c, DET_UINT, v); }
static void on_uint64(void *c, uint64_t v) { set_tok(c, DET_UINT, v); }
static void on_negint8(void *c, uint8_t v) { set_tok(c, DET_NEGINT, v); }
static void on_negint16(void *c, uint16_t v) { set_tok(c, DET_NEGINT, v); }
static void on_negint32(void *c, uint32_t v) { set_tok(c, DET_NEGINT, v); }
static void on_negint64(void *c, uint64_t v) { set_tok(c, DET_NEGINT, v); }
static void on_array(void *c, size_t n) { set_tok(c, DET_ARRAY, n); }
static void on_map(void *c, size_t n) { set_tok(c, DET_MAP, n); }
static void on_null(void *c) { set_tok(c, DET_NULL, 0); }
static void on_bool(void *c, bool b) { set_tok(c, b ? DET_TRUE : DET_FALSE, 0); }

static void on_bytes(void *vctx, cbor_data d, size_t n)
{
    set_tok(vctx, DET_BYTES, n);
    ((tok_ctx *)vctx)->data = d;
}

static void on_text(void *vctx, cbor_data d, size_t n)
{
    set_tok(vctx, DET_TEXT, n);
    ((tok_ctx *)vctx)->data = d;
}

static void on_bad(void *vctx) { ((tok_ctx *)vctx)->bad = true; }
static void on_bad_u64(void *vctx, uint64_t v) { (void)v; on_bad(vctx); }
static void on_bad_f(void *vctx, float v) { (void)v; on_bad(vctx); }
static void on_bad_d(void *vctx, double v) { (void)v; on_bad(vctx); }

static const struct cbor_callbacks det_callbacks = {
    .uint8 = on_uint8,
    .uint16 = on_uint16,
    .uint32 = on_uint32,
    .uint64 = on_uint64,
    .negint8 = on_negint8,
    .negint16 = on_negint16,
    .negint32 = on_negint32,
    .negint64 = on_negint64,
    .byte_string_start = on_bad, /* indefinite */
    .byte_string = on_bytes,
    .string = on_text,
    .string_start = on_bad, /* indefinite */
    .indef_array_start = on_bad,
    .array_start = on_array,
    .indef_map_start = on_bad,
    .map_start = on_map,
    .tag = on_bad_u64,
    .float2 = on_bad_f,
    .float4 = on_bad_f,
    .float8 = on_bad_d,
    .undefined = on_bad,
    .null = on_null,
    .boolean = on_bool,
    .indef_break = on_bad,
};

size_t det_head_len(uint64_t v)
{
    if (v < 24)
        return 1;
    if (v <= 0xff)
        return 2;
    if (v <= 0xffff)
        return 3;
    if (v <= 0xffffffffu)
        return 5;
    return 9;
}

/* RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
bool det_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Most text is ASCII: eight bytes at a time while no high bit is set. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i == n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

int det_token_read(const uint8_t *buf, size_t len, size_t *pos, det_token *tok)
{
    if (*pos >= len)
        return -1;
    tok_ctx ctx = {0};
    struct cbor_decoder_result r = cbor_stream_decode(buf + *pos, len - *pos, &det_callbacks, &ctx);
    if (r.status != CBOR_DECODER_FINISHED || !ctx.set || ctx.bad || r.read == 0 ||
        r.read > len - *pos)
        return -1;
    size_t head = r.read;
    if (ctx.type == DET_BYTES || ctx.type == DET_TEXT) {
        if (ctx.val > r.read)
            return -1;
        head = r.read - (size_t)ctx.val;
        if (ctx.val > 0 && ctx.data != buf + *pos + head)
            return -1;
        if (ctx.type == DET_TEXT && !det_utf8_valid(buf + *pos + head, (size_t)ctx.val))
            return -1;
    }
    bool simple = ctx.type == DET_FALSE || ctx.type == DET_TRUE || ctx.type == DET_NULL;
    if (simple ? head != 1 : head != det_head_len(ctx.val))
        return -1;
    tok->type = ctx.type;
    tok->val = ctx.val;
    tok->data = (ctx.type == DET_BYTES || ctx.type == DET_TEXT) ? buf + *pos + head : NULL;
    tok->start = *pos;
    tok->end = *pos + r.read;
    *pos = tok->end;
    return 0;
}

int det_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

static int skip_map(const uint8_t *buf, size_t len, size_t *pos, uint64_t pairs, int depth_left)
{
    size_t prev_start = 0, prev_len = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        det_token key;
        if (det_token_read(buf, len, pos, &key) != 0 || key.type != DET_TEXT)
            return -1;
        size_t klen = key.end - key.start;
        if (i > 0 && det_key_cmp(buf + prev_start, prev_len, buf + key.start, klen) >= 0)
            return -1; /* out of order, or a duplicate */
        prev_start = key.start;
        prev_len = klen;
        if (det_item_skip(buf, len, pos, depth_left) != 0)
            return -1;
    }
    return 0;
}

int det_item_skip(const uint8_t *buf, size_t len, size_t *pos, int depth_left)
{
    det_token t;
    if (det_token_read(buf, len, pos, &t) != 0)
        return -1;
    if (t.type != DET_ARRAY && t.type != DET_MAP)
        return 0;
    if (depth_left <= 0)
        return -1;
    /* Each element takes at least one byte: a count beyond what is left is
     * damage, and checking it first bounds the loop. */
    if (t.val > len - *pos)
        return -1;
    if (t.type == DET_MAP)
        return skip_map(buf, len, pos, t.val, depth_left - 1);
    for (uint64_t i = 0; i < t.val; i++)
        if (det_item_skip(buf, len, pos, depth_left - 1) != 0)
            return -1;
    return 0;
}

int det_map_find(const uint8_t *buf, size_t len, const char *key, size_t *value_pos)
{
    size_t pos = 0, klen = strlen(key);
    det_token t;
    if (det_token_read(buf, len, &pos, &t) != 0 || t.type != DET_MAP)
        return -1;
    for (uint64_t i = 0; i < t.val; i++) {
        det_token k;
        if (det_token_read(buf, len, &pos, &k) != 0 || k.type != DET_TEXT)
            return -1;
        if (k.val == klen && memcmp(k.data, key, klen) == 0) {
            *value_pos = pos;
            return 0;
        }
        if (det_item_skip(buf, len, &pos, AC_MAX_DEPTH) != 0)
            return -1;
    }
    return -1;
}

/* ---------------------------------------------------------------- encoding */

void det_buf_free(det_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static bool reserve(det_buf *b, size_t n)
{
    if (b->failed)
        return false;
    if (n <= b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : 512;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void det_put(det_buf *b, const void *p, size_t n)
{
    if (n == 0 || !reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* libcbor's encoders write the shortest head for every argument. */
typedef size_t (*head_encoder)(uint64_t, unsigned char *, size_t);

static void put_head(det_buf *b, head_encoder enc, uint64_t v)
{
    if (!reserve(b, 9))
        return;
    size_t n = enc(v, b->data + b->len, 9);
    if (n == 0)
        b->failed = true;
    b->len += n;
}

static size_t enc_bytes_start(uint64_t v, unsigned char *p, size_t n)
{
    return cbor_encode_bytestring_start((size_t)v, p, n);
}
static size_t enc_text_start(uint64_t v, unsigned char *p, size_t n)
{
    return cbor_encode_string_start((size_t)v, p, n);
}
static size_t enc_array_start(uint64_t v, unsigned char *p, size_t n)
{
    return cbor_encode_array_start((size_t)v, p, n);
}
static size_t enc_map_start(uint64_t v, unsigned char *p, size_t n)
{
    return cbor_encode_map_start((size_t)v, p, n);
}

void det_put_uint(det_buf *b, uint64_t v) { put_head(b, cbor_encode_uint, v); }
void det_put_negint(det_buf *b, uint64_t v) { put_head(b, cbor_encode_negint, v); }
void det_put_array(det_buf *b, size_t n) { put_head(b, enc_array_start, n); }
void det_put_map(det_buf *b, size_t n) { put_head(b, enc_map_start, n); }

void det_put_bytes(det_buf *b, const void *p, size_t n)
{
    put_head(b, enc_bytes_start, n);
    det_put(b, p, n);
}

void det_put_text(det_buf *b, const char *s, size_t n)
{
    put_head(b, enc_text_start, n);
    det_put(b, s, n);
}

void det_put_simple(det_buf *b, det_type t)
{
    if (!reserve(b, 1))
        return;
    size_t n = t == DET_NULL ? cbor_encode_null(b->data + b->len, 1)
                             : cbor_encode_bool(t == DET_TRUE, b->data + b->len, 1);
    if (n == 0)
        b->failed = true;
    b->len += n;
}
