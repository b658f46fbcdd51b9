/* Record encoding (format section 4): strict decoding of a frame body into a
 * view, canonical bytes, rotations, and building a signed frame. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

const uint8_t ac_record_magic[10] = {0xab, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01};

/* The eleven keys in deterministic order (shorter first, then bytewise). */
enum rec_key {
    K_VERSION,
    K_METADATA,
    K_PREV_HASH,
    K_RECORD_ID,
    K_SIGNATURE,
    K_CLAIMED_TS,
    K_CHAIN_INDEX,
    K_CONTENT_HASH,
    K_CONTENT_TYPE,
    K_SIGNER,
    K_WITNESSES,
    K_COUNT
};

static const char *const rec_keys[K_COUNT] = {
    "version",     "metadata",     "prev_hash",    "record_id",     "signature",
    "claimed_ts",  "chain_index",  "content_hash", "content_type",  "signer_pubkey",
    "entropy_witnesses",
};

/* Their lengths, so that decoding (which meets them in every record) does
 * not measure them each time. */
static const uint8_t rec_key_len[K_COUNT] = {7, 8, 9, 9, 9, 10, 11, 12, 12, 13, 17};

#define MAX_CHAIN_INDEX ((uint64_t)INT64_MAX)

/* A byte string of exactly n bytes (n < 256) at *pos; its data pointer or
 * NULL.  Such a string has one deterministic head (major type 2, the length
 * in the initial byte below 24, else in one more byte), so comparing the head
 * is the whole check: the tokenizer need not be asked. */
static const uint8_t *read_fixed_bytes(const uint8_t *b, size_t len, size_t *pos, size_t n)
{
    size_t head = n < 24 ? 1 : 2;
    if (len - *pos < head + n)
        return NULL;
    const uint8_t *p = b + *pos;
    if (head == 1 ? p[0] != (0x40 | n) : (p[0] != 0x58 || p[1] != n))
        return NULL;
    *pos += head + n;
    return p + head;
}

/* The key k at *pos: like the fixed byte strings, each key has one
 * deterministic encoding (a one-byte text head, since every key is shorter
 * than 24 bytes, then its ASCII), so a comparison decodes it. */
static bool read_key(const uint8_t *b, size_t len, size_t *pos, int k)
{
    size_t klen = rec_key_len[k];
    if (len - *pos < 1 + klen || b[*pos] != (0x60 | klen) ||
        memcmp(b + *pos + 1, rec_keys[k], klen) != 0)
        return false;
    *pos += 1 + klen;
    return true;
}

static int read_uint(const uint8_t *b, size_t len, size_t *pos, uint64_t *v)
{
    det_token t;
    if (det_token_read(b, len, pos, &t) != 0 || t.type != DET_UINT)
        return -1;
    *v = t.val;
    return 0;
}

/* A map item (checked to the nesting limit) at *pos: its extent. */
static int read_map(const uint8_t *b, size_t len, size_t *pos, const uint8_t **p, size_t *n)
{
    size_t start = *pos;
    if (start >= len || (b[start] & 0xe0) != 0xa0)
        return -1;
    /* The record is level 1, so a map inside it has AC_MAX_DEPTH - 1 levels. */
    if (det_item_skip(b, len, pos, AC_MAX_DEPTH - 1) != 0)
        return -1;
    *p = b + start;
    *n = *pos - start;
    return 0;
}

/* Sets *why and returns -1: the one way a decoding step fails. */
static int refuse(const char **why, const char *reason)
{
    *why = reason;
    return -1;
}

/* A fixed-size byte string into *field, or the reason it is not one. */
static int read_field(const uint8_t *b, size_t len, size_t *pos, size_t n, const uint8_t **field,
                      const char **why, const char *reason)
{
    *field = read_fixed_bytes(b, len, pos, n);
    return *field != NULL ? 0 : refuse(why, reason);
}

static int read_value(const uint8_t *b, size_t len, size_t *pos, enum rec_key k, ac_rec *r,
                      const char **why)
{
    det_token t;
    switch (k) {
    case K_VERSION:
        if (read_uint(b, len, pos, &r->version) != 0 || r->version != 1)
            return refuse(why, "version is not 1");
        return 0;
    case K_METADATA:
        if (read_map(b, len, pos, &r->metadata, &r->metadata_len) != 0)
            return refuse(why, "bad metadata");
        return 0;
    case K_WITNESSES:
        if (read_map(b, len, pos, &r->witnesses, &r->witnesses_len) != 0)
            return refuse(why, "bad entropy_witnesses");
        return 0;
    case K_PREV_HASH: return read_field(b, len, pos, 32, &r->prev_hash, why, "bad prev_hash");
    case K_RECORD_ID: return read_field(b, len, pos, 16, &r->record_id, why, "bad record_id");
    case K_SIGNATURE:
        return read_field(b, len, pos, 64, &r->signature, why, "bad signature field");
    case K_CONTENT_HASH:
        return read_field(b, len, pos, 32, &r->content_hash, why, "bad content_hash");
    case K_SIGNER: return read_field(b, len, pos, 32, &r->signer, why, "bad signer_pubkey");
    case K_CLAIMED_TS:
        if (read_uint(b, len, pos, &r->claimed_ts) != 0)
            return refuse(why, "bad claimed_ts");
        return 0;
    case K_CHAIN_INDEX:
        if (read_uint(b, len, pos, &r->chain_index) != 0 || r->chain_index > MAX_CHAIN_INDEX)
            return refuse(why, "bad chain_index");
        return 0;
    case K_CONTENT_TYPE:
        if (det_token_read(b, len, pos, &t) != 0 || t.type != DET_TEXT || t.val < 1 ||
            t.val > AC_MAX_CONTENT_TYPE)
            return refuse(why, "bad content_type");
        r->content_type = (const char *)t.data;
        r->content_type_len = (size_t)t.val;
        return 0;
    default:
        return refuse(why, "internal: unknown key");
    }
}

int rec_decode(const uint8_t *body, size_t len, ac_rec *out, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    memset(out, 0, sizeof *out);
    /* The map of eleven pairs has one head too: 0xa0 | 11. */
    if (len == 0 || body[0] != (0xa0 | K_COUNT))
        return refuse(why, "not a map of eleven keys in deterministic CBOR");
    size_t pos = 1;
    for (int k = 0; k < K_COUNT; k++) {
        size_t key_start = pos;
        if (!read_key(body, len, &pos, k))
            return refuse(why, "keys are not the record's eleven in deterministic order");
        if (read_value(body, len, &pos, (enum rec_key)k, out, why) != 0)
            return -1;
        if (k == K_SIGNATURE) {
            out->sig_start = key_start;
            out->sig_end = pos;
        }
    }
    if (pos != len)
        return refuse(why, "bytes after the record");
    return 0;
}

size_t rec_canonical(const uint8_t *body, size_t len, const ac_rec *rec, uint8_t *out)
{
    /* Ten keys instead of eleven: the map head changes from 0xab to 0xaa and
     * the signature entry, in the middle of the deterministic order, goes. */
    out[0] = 0xaa;
    size_t head = rec->sig_start - 1;
    memcpy(out + 1, body + 1, head);
    memcpy(out + 1 + head, body + rec->sig_end, len - rec->sig_end);
    return 1 + head + (len - rec->sig_end);
}

int rec_chain_id(const uint8_t *body, size_t len, ac_hasher *h, uint8_t out[AC_HASH_SIZE],
                 ac_rec *rec)
{
    ac_rec view;
    if (rec == NULL)
        rec = &view;
    if (rec_decode(body, len, rec, NULL) != 0)
        return AC_ECORRUPT;
    uint8_t *canon = malloc(len);
    if (canon == NULL)
        return AC_ENOMEM;
    size_t clen = rec_canonical(body, len, rec, canon);
    int rc = hasher_digest(h, canon, clen, out);
    free(canon);
    return rc;
}

static int hex_nibble(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* uppercase is not the format's form */
}

int rec_rotation(const ac_rec *rec, uint8_t new_key[AC_PUBKEY_SIZE])
{
    static const char rot[] = AC_ROTATION_CONTENT_TYPE;
    if (rec->content_type_len != sizeof rot - 1 ||
        memcmp(rec->content_type, rot, sizeof rot - 1) != 0)
        return 0;
    size_t pos;
    det_token t;
    if (det_map_find(rec->metadata, rec->metadata_len, "new_pubkey", &pos) != 0 ||
        det_token_read(rec->metadata, rec->metadata_len, &pos, &t) != 0 ||
        t.type != DET_TEXT || t.val != 2 * AC_PUBKEY_SIZE)
        return -1;
    for (size_t i = 0; i < AC_PUBKEY_SIZE; i++) {
        int hi = hex_nibble(t.data[2 * i]), lo = hex_nibble(t.data[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        new_key[i] = (uint8_t)(hi << 4 | lo);
    }
    if (sodium_memcmp(new_key, rec->signer, AC_PUBKEY_SIZE) == 0)
        return -1;
    uint8_t h[AC_HASH_SIZE];
    if (ac_sha256(new_key, AC_PUBKEY_SIZE, h, NULL) != AC_OK ||
        memcmp(h, rec->content_hash, AC_HASH_SIZE) != 0)
        return -1;
    return 1;
}

bool key_set_has(const key_set *s, const uint8_t key[AC_PUBKEY_SIZE])
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->keys[i], key, AC_PUBKEY_SIZE) == 0)
            return true;
    return false;
}

void key_set_free(key_set *s)
{
    free(s->keys);
    memset(s, 0, sizeof *s);
}

int key_set_add(key_set *s, const uint8_t key[AC_PUBKEY_SIZE])
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        uint8_t(*k)[AC_PUBKEY_SIZE] = realloc(s->keys, cap * sizeof *k);
        if (k == NULL)
            return AC_ENOMEM;
        s->keys = k;
        s->cap = cap;
    }
    memcpy(s->keys[s->n++], key, AC_PUBKEY_SIZE);
    return AC_OK;
}

int authority_rotate(key_set *retired, uint8_t signer[AC_PUBKEY_SIZE],
                     const uint8_t new_key[AC_PUBKEY_SIZE])
{
    if (key_set_add(retired, signer) != AC_OK)
        return AC_ENOMEM;
    if (key_set_has(retired, new_key))
        memset(signer, 0, AC_PUBKEY_SIZE);
    else
        memcpy(signer, new_key, AC_PUBKEY_SIZE);
    return AC_OK;
}

/* ---------------------------------------------------------------- writing */

void rec_uuid7(uint64_t now_us, const uint8_t random[10], uint8_t out[AC_RECORD_ID_SIZE])
{
    uint64_t ms = now_us / 1000;
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(ms >> (8 * (5 - i)));
    memcpy(out + 6, random, AC_RECORD_ID_SIZE - 6);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x70); /* version 7 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 9562 variant */
}

static void put_key(det_buf *b, enum rec_key k)
{
    det_put_text(b, rec_keys[k], strlen(rec_keys[k]));
}

int rec_check_content_type(const char *ct, ac_error *err)
{
    size_t n = ct ? strlen(ct) : 0;
    if (n < 1 || n > AC_MAX_CONTENT_TYPE)
        return ac_fail(err, AC_EINVAL, -1, "content type must be 1 to %u bytes (got %zu)",
                       AC_MAX_CONTENT_TYPE, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ct[i] < 0x20 || (unsigned char)ct[i] > 0x7e)
            return ac_fail(err, AC_EINVAL, -1,
                           "content type must be printable ASCII, like image/jpeg");
    return AC_OK;
}

/* Writes the body with a zeroed signature; sets the signature's offset. */
static void put_body(det_buf *b, const rec_fields *f, size_t *sig_value)
{
    det_put_map(b, K_COUNT);
    put_key(b, K_VERSION);
    det_put_uint(b, 1);
    put_key(b, K_METADATA);
    det_put(b, f->metadata, f->metadata_len);
    put_key(b, K_PREV_HASH);
    det_put_bytes(b, f->prev_hash, AC_HASH_SIZE);
    put_key(b, K_RECORD_ID);
    det_put_bytes(b, f->record_id, AC_RECORD_ID_SIZE);
    put_key(b, K_SIGNATURE);
    static const uint8_t zero_sig[AC_SIGNATURE_SIZE];
    det_put_bytes(b, zero_sig, AC_SIGNATURE_SIZE);
    *sig_value = b->len - AC_SIGNATURE_SIZE;
    put_key(b, K_CLAIMED_TS);
    det_put_uint(b, f->claimed_ts);
    put_key(b, K_CHAIN_INDEX);
    det_put_uint(b, f->chain_index);
    put_key(b, K_CONTENT_HASH);
    det_put_bytes(b, f->content_hash, AC_HASH_SIZE);
    put_key(b, K_CONTENT_TYPE);
    det_put_text(b, f->content_type, strlen(f->content_type));
    put_key(b, K_SIGNER);
    det_put_bytes(b, f->signer, AC_PUBKEY_SIZE);
    put_key(b, K_WITNESSES);
    det_put(b, f->witnesses, f->witnesses_len);
}

int rec_build_frame(const rec_fields *f, const ac_key *key, det_buf *out, size_t *body_off,
                    ac_error *err)
{
    int rc = rec_check_content_type(f->content_type, err);
    if (rc != AC_OK)
        return rc;
    size_t frame_start = out->len;
    static const uint8_t no_len[4];
    det_put(out, no_len, sizeof no_len);
    size_t body = out->len, sig_value;
    put_body(out, f, &sig_value);
    if (out->failed)
        return ac_fail(err, AC_ENOMEM, -1, "out of memory encoding record %llu",
                       (unsigned long long)f->chain_index);
    size_t len = out->len - body;
    if (len > AC_MAX_RECORD_SIZE) {
        out->len = frame_start;
        return ac_fail(err, AC_EINVAL, (int64_t)f->chain_index,
                       "record %llu would be %zu bytes, over the limit of %u (metadata too large)",
                       (unsigned long long)f->chain_index, len, AC_MAX_RECORD_SIZE);
    }
    ac_rec view = {.sig_start = sig_value - body - (1 + 9 + 2), .sig_end = sig_value - body + 64};
    uint8_t stack[2048];
    uint8_t *canon = len <= sizeof stack ? stack : malloc(len);
    if (canon == NULL) {
        out->len = frame_start;
        return ac_fail(err, AC_ENOMEM, -1, "out of memory signing record");
    }
    size_t clen = rec_canonical(out->data + body, len, &view, canon);
    key_sign(key, canon, clen, out->data + sig_value);
    if (canon != stack)
        free(canon);
    uint8_t *p = out->data + frame_start;
    p[0] = (uint8_t)(len >> 24), p[1] = (uint8_t)(len >> 16), p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    *body_off = body;
    return AC_OK;
}

/* ---------------------------------------------------------------- public records */

struct ac_record {
    uint8_t *buf;        /* owned; the body lies within it */
    const uint8_t *body;
    size_t len;
    uint64_t offset;
    ac_rec view;
    uint8_t hash[AC_HASH_SIZE];
    char content_type[AC_MAX_CONTENT_TYPE + 1];
};

int record_adopt(uint8_t *buf, size_t body_off, size_t len, uint64_t offset,
                 const uint8_t hash[AC_HASH_SIZE], ac_record **out, const char **why)
{
    ac_record *r = calloc(1, sizeof *r);
    if (r == NULL) {
        free(buf);
        *why = "out of memory";
        return AC_ENOMEM;
    }
    if (rec_decode(buf + body_off, len, &r->view, why) != 0) {
        free(buf);
        free(r);
        return AC_ECORRUPT;
    }
    r->buf = buf;
    r->body = buf + body_off;
    r->len = len;
    r->offset = offset;
    memcpy(r->hash, hash, AC_HASH_SIZE);
    memcpy(r->content_type, r->view.content_type, r->view.content_type_len);
    r->content_type[r->view.content_type_len] = '\0';
    *out = r;
    return AC_OK;
}

int record_new(const uint8_t *body, size_t len, uint64_t offset, const uint8_t hash[AC_HASH_SIZE],
               ac_record **out, const char **why)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        *why = "out of memory";
        return AC_ENOMEM;
    }
    memcpy(copy, body, len);
    return record_adopt(copy, 0, len, offset, hash, out, why);
}

void ac_record_free(ac_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->buf);
    free(rec);
}

uint64_t ac_record_index(const ac_record *r) { return r->view.chain_index; }
uint64_t ac_record_version(const ac_record *r) { return r->view.version; }
const uint8_t *ac_record_id(const ac_record *r) { return r->view.record_id; }
const uint8_t *ac_record_prev_hash(const ac_record *r) { return r->view.prev_hash; }
const uint8_t *ac_record_content_hash(const ac_record *r) { return r->view.content_hash; }
const char *ac_record_content_type(const ac_record *r) { return r->content_type; }
uint64_t ac_record_claimed_ts(const ac_record *r) { return r->view.claimed_ts; }
const uint8_t *ac_record_signer(const ac_record *r) { return r->view.signer; }
const uint8_t *ac_record_signature(const ac_record *r) { return r->view.signature; }
const uint8_t *ac_record_hash(const ac_record *r) { return r->hash; }
uint64_t ac_record_offset(const ac_record *r) { return r->offset; }

const uint8_t *ac_record_bytes(const ac_record *r, size_t *len)
{
    *len = r->len;
    return r->body;
}

const ac_rec *record_view(const ac_record *r)
{
    return &r->view;
}

ac_status ac_record_metadata_json(const ac_record *r, char **json, ac_error *err)
{
    return meta_cbor_to_json(r->view.metadata, r->view.metadata_len, json, err);
}

ac_status ac_record_witnesses_json(const ac_record *r, char **json, ac_error *err)
{
    return meta_cbor_to_json(r->view.witnesses, r->view.witnesses_len, json, err);
}
