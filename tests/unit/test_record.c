/* Unit tests for src/record.c: strict decoding of the shared vectors' frames,
 * single-byte mutations, canonical bytes against python3-cbor2, building and
 * signing frames, rotations and UUIDv7 record ids.
 *
 * Expected hashes were computed offline with python3-cbor2 and
 * python3-cryptography (canonical=True encoding, Ed25519 signing with the
 * vectors' key k1) and are hard-coded here. */
#include "testutil.h"

#include <cbor.h>

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

typedef struct frames {
    uint8_t *data;
    size_t size;
    size_t n;
    size_t off[64], len[64]; /* body offsets in data, body lengths */
} frames;

/* Reads a vector's chain.bin and splits its complete frames (an incomplete
 * tail is left out). */
static void load_frames(const char *vector, frames *f)
{
    char rel[512];
    int w = snprintf(rel, sizeof rel, "%s/chain.bin", vector);
    assert_true(w > 0 && (size_t)w < sizeof rel);
    memset(f, 0, sizeof *f);
    f->data = tu_read_vector(rel, &f->size);
    size_t at[64];
    f->n = tu_frame_offsets(f->data, f->size, at, 64, NULL);
    for (size_t i = 0; i < f->n; i++) {
        f->off[i] = at[i] + 4;
        f->len[i] = tu_get_be32(f->data + at[i]);
    }
}

static void free_frames(frames *f) { free(f->data); }

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
    TU_OK(ac_hex_decode(hex, out, n, NULL));
}

/* Whether the record's signature verifies over its canonical bytes. */
static bool sig_verifies(const uint8_t *body, size_t len, const ac_rec *r)
{
    uint8_t *canon = malloc(len);
    assert_non_null(canon);
    size_t clen = rec_canonical(body, len, r, canon);
    bool ok = crypto_sign_verify_detached(r->signature, canon, clen, r->signer) == 0;
    free(canon);
    return ok;
}

static const char *const valid_vectors[] = {
    "valid-clock-backwards", "valid-metadata-kinds", "valid-seed-written",
    "valid-torn-tail",       "valid-two-rotations",
};

/* ---------------------------------------------------------------- an independent encoder */

/* A deterministic encoding of a libcbor item tree, written here without
 * cbor.c: shortest heads, map keys sorted by their encoding.  Returns false
 * for anything outside the subset (so it can never equal a valid input). */
static void enc_head(det_buf *b, unsigned mt, uint64_t v)
{
    uint8_t h[9];
    size_t n;
    unsigned w = v < 24 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    static const uint8_t info[9] = {0, 24, 25, 0, 26, 0, 0, 0, 27};
    h[0] = (uint8_t)(mt << 5 | (w == 0 ? v : info[w]));
    for (unsigned i = 0; i < w; i++)
        h[1 + i] = (uint8_t)(v >> (8 * (w - 1 - i)));
    n = 1 + w;
    det_put(b, h, n);
}

typedef struct enc_pair {
    det_buf k, v;
} enc_pair;

static int pair_cmp(const void *a, const void *b)
{
    const enc_pair *x = a, *y = b;
    if (x->k.len != y->k.len)
        return x->k.len < y->k.len ? -1 : 1;
    return memcmp(x->k.data, y->k.data, x->k.len);
}

static bool canon_encode(const cbor_item_t *it, det_buf *b)
{
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT: enc_head(b, 0, cbor_get_int(it)); return true;
    case CBOR_TYPE_NEGINT: enc_head(b, 1, cbor_get_int(it)); return true;
    case CBOR_TYPE_BYTESTRING:
        if (!cbor_bytestring_is_definite(it))
            return false;
        enc_head(b, 2, cbor_bytestring_length(it));
        det_put(b, cbor_bytestring_handle(it), cbor_bytestring_length(it));
        return true;
    case CBOR_TYPE_STRING:
        if (!cbor_string_is_definite(it))
            return false;
        enc_head(b, 3, cbor_string_length(it));
        det_put(b, cbor_string_handle(it), cbor_string_length(it));
        return true;
    case CBOR_TYPE_ARRAY: {
        if (!cbor_array_is_definite(it))
            return false;
        enc_head(b, 4, cbor_array_size(it));
        for (size_t i = 0; i < cbor_array_size(it); i++)
            if (!canon_encode(cbor_array_handle(it)[i], b))
                return false;
        return true;
    }
    case CBOR_TYPE_MAP: {
        if (!cbor_map_is_definite(it))
            return false;
        size_t n = cbor_map_size(it);
        enc_pair *p = calloc(n ? n : 1, sizeof *p);
        assert_non_null(p);
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++)
            ok = canon_encode(cbor_map_handle(it)[i].key, &p[i].k) &&
                 canon_encode(cbor_map_handle(it)[i].value, &p[i].v);
        if (ok)
            qsort(p, n, sizeof *p, pair_cmp);
        enc_head(b, 5, n);
        for (size_t i = 0; i < n; i++) {
            det_put(b, p[i].k.data, p[i].k.len);
            det_put(b, p[i].v.data, p[i].v.len);
            det_buf_free(&p[i].k);
            det_buf_free(&p[i].v);
        }
        free(p);
        return ok;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        if (cbor_float_get_width(it) != CBOR_FLOAT_0)
            return false;
        if (cbor_is_null(it)) {
            det_put(b, "\xf6", 1);
            return true;
        }
        if (cbor_is_bool(it)) {
            det_put(b, cbor_get_bool(it) ? "\xf5" : "\xf4", 1);
            return true;
        }
        return false;
    default:
        return false;
    }
}

/* ---------------------------------------------------------------- decoding the vectors */

static void test_decode_valid_vectors(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof valid_vectors / sizeof valid_vectors[0]; v++) {
        frames f;
        load_frames(valid_vectors[v], &f);
        assert_true(f.n >= 2);
        for (size_t i = 0; i < f.n; i++) {
            ac_rec r;
            const char *why = NULL;
            if (rec_decode(f.data + f.off[i], f.len[i], &r, &why) != 0)
                fail_msg("%s frame %zu: %s", valid_vectors[v], i, why);
            assert_int_equal(r.version, 1);
            assert_int_equal(r.chain_index, i);
            assert_true(sig_verifies(f.data + f.off[i], f.len[i], &r));
            /* The signature entry lies inside the body, at its place. */
            assert_true(r.sig_start > 0 && r.sig_end <= f.len[i]);
            assert_int_equal(r.sig_end - r.sig_start, 1 + 9 + 2 + 64);
        }
        free_frames(&f);
    }
}

/* Fields of one known record (valid-seed-written, record 5). */
static void test_decode_fields(void **state)
{
    (void)state;
    frames f;
    load_frames("valid-seed-written", &f);
    assert_int_equal(f.n, 8);
    ac_rec r;
    assert_int_equal(rec_decode(f.data + f.off[5], f.len[5], &r, NULL), 0);
    assert_int_equal(r.chain_index, 5);
    assert_int_equal(r.claimed_ts, 1795827622833929ull);
    assert_int_equal(r.content_type_len, strlen("application/pdf"));
    assert_memory_equal(r.content_type, "application/pdf", r.content_type_len);
    uint8_t k2[AC_PUBKEY_SIZE];
    tu_load_pub("k2", k2);
    assert_memory_equal(r.signer, k2, AC_PUBKEY_SIZE);
    assert_int_equal(r.metadata_len, 1);
    assert_int_equal(r.metadata[0], 0xa0);
    size_t vp;
    det_token t;
    assert_int_equal(det_map_find(r.witnesses, r.witnesses_len, "chain_size", &vp), 0);
    assert_int_equal(det_token_read(r.witnesses, r.witnesses_len, &vp, &t), 0);
    assert_int_equal(t.val, 2183);
    /* prev_hash is the hash of record 4's body. */
    uint8_t h[AC_HASH_SIZE];
    TU_OK(ac_sha256(f.data + f.off[4], f.len[4], h, NULL));
    assert_memory_equal(r.prev_hash, h, AC_HASH_SIZE);
    free_frames(&f);
}

static void test_decode_noncanonical_vector(void **state)
{
    (void)state;
    frames f;
    load_frames("invalid-noncanonical-int", &f);
    assert_int_equal(f.n, 2);
    ac_rec r;
    assert_int_equal(rec_decode(f.data + f.off[0], f.len[0], &r, NULL), 0);
    const char *why = NULL;
    assert_int_equal(rec_decode(f.data + f.off[1], f.len[1], &r, &why), -1);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
    free_frames(&f);
}

/* The head of the map, of a key and of a fixed-size byte string, each
 * rewritten in a longer form that a lenient decoder takes (libcbor reads the
 * result), is refused: the record's decoder compares these with their one
 * deterministic encoding. */
static void test_decode_long_heads(void **state)
{
    (void)state;
    frames f;
    load_frames("valid-seed-written", &f);
    const uint8_t *body = f.data + f.off[0];
    size_t len = f.len[0];
    ac_rec r;
    assert_int_equal(rec_decode(body, len, &r, NULL), 0);
    /* Where each head is and its longer form. */
    size_t key_pos = 1;                                   /* "version" */
    size_t rid_pos = (size_t)(r.record_id - body) - 1;    /* 16 bytes: 0x50 */
    size_t prev_pos = (size_t)(r.prev_hash - body) - 2;   /* 32 bytes: 0x58 0x20 */
    size_t sig_pos = (size_t)(r.signature - body) - 2;    /* 64 bytes: 0x58 0x40 */
    assert_int_equal(body[0], 0xab);
    assert_int_equal(body[key_pos], 0x67);
    assert_int_equal(body[rid_pos], 0x50);
    assert_int_equal(body[prev_pos], 0x58);
    assert_int_equal(body[sig_pos], 0x58);
    const struct {
        size_t at, old_len;
        uint8_t head[3];
        size_t head_len;
    } cases[] = {
        {0, 1, {0xb8, 0x0b}, 2},
        {key_pos, 1, {0x78, 0x07}, 2},
        {rid_pos, 1, {0x58, 0x10}, 2},
        {prev_pos, 2, {0x59, 0x00, 0x20}, 3},
        {sig_pos, 2, {0x59, 0x00, 0x40}, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = len - cases[k].old_len + cases[k].head_len;
        uint8_t *m = malloc(n);
        assert_non_null(m);
        memcpy(m, body, cases[k].at);
        memcpy(m + cases[k].at, cases[k].head, cases[k].head_len);
        memcpy(m + cases[k].at + cases[k].head_len, body + cases[k].at + cases[k].old_len,
               len - cases[k].at - cases[k].old_len);
        struct cbor_load_result res;
        cbor_item_t *item = cbor_load(m, n, &res);
        assert_non_null(item); /* still CBOR */
        assert_int_equal(res.read, n);
        cbor_decref(&item);
        const char *why = NULL;
        if (rec_decode(m, n, &r, &why) != -1)
            fail_msg("case %zu: a long head was accepted", k);
        assert_non_null(why);
        free(m);
    }
    free_frames(&f);
}

/* Every proper prefix, and any byte after the record, is refused. */
static void test_decode_truncated_and_trailing(void **state)
{
    (void)state;
    frames f;
    load_frames("valid-metadata-kinds", &f);
    const uint8_t *body = f.data + f.off[0];
    size_t len = f.len[0];
    ac_rec r;
    for (size_t n = 0; n < len; n++)
        if (rec_decode(body, n, &r, NULL) == 0)
            fail_msg("a prefix of %zu of %zu bytes decoded", n, len);
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, body, len);
    longer[len] = 0x00;
    assert_int_equal(rec_decode(longer, len + 1, &r, NULL), -1);
    free(longer);
    free_frames(&f);
}

/* Whether the fixed-type fields of two decoded records are equal. */
static bool fixed_fields_equal(const ac_rec *a, const ac_rec *b)
{
    return a->version == b->version && a->chain_index == b->chain_index &&
           a->claimed_ts == b->claimed_ts &&
           memcmp(a->record_id, b->record_id, AC_RECORD_ID_SIZE) == 0 &&
           memcmp(a->prev_hash, b->prev_hash, AC_HASH_SIZE) == 0 &&
           memcmp(a->content_hash, b->content_hash, AC_HASH_SIZE) == 0 &&
           memcmp(a->signer, b->signer, AC_PUBKEY_SIZE) == 0 &&
           memcmp(a->signature, b->signature, AC_SIGNATURE_SIZE) == 0 &&
           a->content_type_len == b->content_type_len &&
           memcmp(a->content_type, b->content_type, a->content_type_len) == 0;
}

/* The mutated record is the deterministic encoding of what it decodes to,
 * by the encoder in this file over libcbor's reading of it. */
static void assert_deterministic(const uint8_t *m, size_t len, size_t i, unsigned x)
{
    struct cbor_load_result res;
    cbor_item_t *it = cbor_load(m, len, &res);
    if (it == NULL || res.read != len)
        fail_msg("byte %zu ^ 0x%02x: accepted but libcbor cannot load it", i, x);
    det_buf b = {0};
    bool ok = canon_encode(it, &b);
    if (!ok || b.len != len || memcmp(b.data, m, len) != 0)
        fail_msg("byte %zu ^ 0x%02x: accepted a non-deterministic form", i, x);
    det_buf_free(&b);
    cbor_decref(&it);
}

/* One byte changed anywhere, to any other value: refused, or a record that
 * means something else.  A change in a fixed-type field is a change of
 * meaning by itself; a change inside the metadata or witness maps must be
 * a deterministic encoding (so another value, not another form of the same
 * one).  And the signature no longer verifies (checked for single-bit
 * flips: each check costs an Ed25519 verification). */
static void mutate_all(const uint8_t *orig, size_t len)
{
    ac_rec o;
    assert_int_equal(rec_decode(orig, len, &o, NULL), 0);
    uint8_t *m = malloc(len);
    assert_non_null(m);
    size_t accepted = 0, in_maps = 0;
    for (size_t i = 0; i < len; i++) {
        for (unsigned x = 1; x < 256; x++) {
            memcpy(m, orig, len);
            m[i] ^= (uint8_t)x;
            ac_rec r;
            if (rec_decode(m, len, &r, NULL) != 0)
                continue;
            accepted++;
            if (fixed_fields_equal(&o, &r)) {
                in_maps++;
                if (r.metadata_len == o.metadata_len && r.witnesses_len == o.witnesses_len &&
                    memcmp(r.metadata, o.metadata, o.metadata_len) == 0 &&
                    memcmp(r.witnesses, o.witnesses, o.witnesses_len) == 0)
                    fail_msg("byte %zu ^ 0x%02x: accepted and nothing changed", i, x);
                assert_deterministic(m, len, i, x);
            }
            if ((x & (x - 1)) == 0 && sig_verifies(m, len, &r))
                fail_msg("byte %zu ^ 0x%02x: still verifies", i, x);
        }
    }
    /* Mutations inside hashes, ids, the signature and map values keep the
     * form: some must have been accepted, or the checks checked nothing. */
    assert_true(accepted > 0);
    assert_true(in_maps > 0);
    free(m);
}

static void test_mutations(void **state)
{
    (void)state;
    frames f;
    load_frames("valid-metadata-kinds", &f);
    mutate_all(f.data + f.off[0], f.len[0]); /* every metadata kind */
    free_frames(&f);
    load_frames("valid-two-rotations", &f);
    mutate_all(f.data + f.off[2], f.len[2]); /* a rotation */
    free_frames(&f);
}

/* Records built here with a bad field: refused. */
static void test_decode_field_rules(void **state)
{
    (void)state;
    ac_key *key = tu_load_key("k1");
    det_buf out = {0};
    size_t body_off;
    ac_rec r;
    rec_fields f;
    memset(&f, 0, sizeof f);
    f.content_type = "text/plain";
    f.metadata = (const uint8_t *)"\xa0";
    f.metadata_len = 1;
    f.witnesses = (const uint8_t *)"\xa0";
    f.witnesses_len = 1;
    ac_key_pubkey(key, f.signer);

    /* chain_index: at most 2^63 - 1. */
    f.chain_index = (uint64_t)INT64_MAX;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    assert_int_equal(rec_decode(out.data + body_off, out.len - body_off, &r, NULL), 0);
    out.len = 0;
    f.chain_index = (uint64_t)INT64_MAX + 1;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    assert_int_equal(rec_decode(out.data + body_off, out.len - body_off, &r, NULL), -1);
    f.chain_index = 0;

    /* version: the byte after "version" is the value 1; 0 and 2 are refused. */
    out.len = 0;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    uint8_t *body = out.data + body_off;
    size_t len = out.len - body_off;
    assert_memory_equal(body, ac_record_magic, sizeof ac_record_magic);
    body[9] = 0x02;
    assert_int_equal(rec_decode(body, len, &r, NULL), -1);
    body[9] = 0x00;
    assert_int_equal(rec_decode(body, len, &r, NULL), -1);
    body[9] = 0x01;
    assert_int_equal(rec_decode(body, len, &r, NULL), 0);

    /* metadata and witnesses must be maps. */
    static const uint8_t arr[] = {0x80};
    f.metadata = arr;
    out.len = 0;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    assert_int_equal(rec_decode(out.data + body_off, out.len - body_off, &r, NULL), -1);
    f.metadata = (const uint8_t *)"\xa0";
    f.witnesses = arr;
    out.len = 0;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    assert_int_equal(rec_decode(out.data + body_off, out.len - body_off, &r, NULL), -1);
    f.witnesses = (const uint8_t *)"\xa0";

    /* Nesting: the record is level 1, so metadata holds at most 15 levels. */
    uint8_t deep[64];
    for (int levels = 14; levels <= 16; levels++) {
        size_t n = 0;
        for (int i = 0; i < levels; i++) {
            if (i > 0) {
                deep[n++] = 0x61;
                deep[n++] = 'd';
            }
            deep[n++] = 0xa1;
        }
        deep[n - 1] = 0xa0; /* the innermost map is empty */
        f.metadata = deep;
        f.metadata_len = n;
        out.len = 0;
        TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
        int rc = rec_decode(out.data + body_off, out.len - body_off, &r, NULL);
        assert_int_equal(rc, levels <= AC_MAX_DEPTH - 1 ? 0 : -1);
    }
    det_buf_free(&out);
    ac_key_free(key);
}

/* ---------------------------------------------------------------- canonical bytes */

/* SHA-256 and length of the record without its signature, as python3-cbor2
 * encodes it (canonical=True). */
static const struct {
    const char *vector;
    size_t frame;
    size_t len;
    const char *sha;
} canon_cases[] = {
    {"valid-two-rotations", 2, 405,
     "884e8d8e7c2ff149d0d4aa85906dc530d32ad6ec96956b4a84e2c01b0489ab51"},
    {"valid-metadata-kinds", 0, 443,
     "bfc46ff2830f3cfc5ac3681d5cefc5a5b23319552f03d068dbeb24c42d3ab31c"},
    {"valid-seed-written", 5, 321,
     "779afeaaea4e415101252bcff4f2e827bfaa716fca6d1f4cb23a3b8f0f01c977"},
};

static void test_canonical_matches_cbor2(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof canon_cases / sizeof canon_cases[0]; k++) {
        frames f;
        load_frames(canon_cases[k].vector, &f);
        const uint8_t *body = f.data + f.off[canon_cases[k].frame];
        size_t len = f.len[canon_cases[k].frame];
        ac_rec r;
        assert_int_equal(rec_decode(body, len, &r, NULL), 0);
        uint8_t *canon = malloc(len);
        assert_non_null(canon);
        size_t clen = rec_canonical(body, len, &r, canon);
        assert_int_equal(clen, canon_cases[k].len);
        assert_int_equal(clen, len - (1 + 9 + 2 + 64));
        uint8_t h[AC_HASH_SIZE], want[AC_HASH_SIZE];
        TU_OK(ac_sha256(canon, clen, h, NULL));
        hex_to(canon_cases[k].sha, want, AC_HASH_SIZE);
        assert_memory_equal(h, want, AC_HASH_SIZE);
        free(canon);
        free_frames(&f);
    }
}

/* chain_id = SHA-256(canonical bytes of record 0), as case.json gives it. */
static void test_chain_ids(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof valid_vectors / sizeof valid_vectors[0]; v++) {
        json_t *cs = tu_load_case(valid_vectors[v]);
        uint8_t want[AC_HASH_SIZE], h[AC_HASH_SIZE];
        hex_to(tu_case_string(cs, "chain_id"), want, AC_HASH_SIZE);
        json_decref(cs);
        frames f;
        load_frames(valid_vectors[v], &f);
        ac_rec r;
        assert_int_equal(rec_decode(f.data + f.off[0], f.len[0], &r, NULL), 0);
        uint8_t *canon = malloc(f.len[0]);
        assert_non_null(canon);
        size_t clen = rec_canonical(f.data + f.off[0], f.len[0], &r, canon);
        TU_OK(ac_sha256(canon, clen, h, NULL));
        assert_memory_equal(h, want, AC_HASH_SIZE);
        free(canon);
        free_frames(&f);
    }
}

/* ---------------------------------------------------------------- building frames */

static void fixed_fields(rec_fields *f, const ac_key *key)
{
    memset(f, 0, sizeof *f);
    f->chain_index = 7;
    f->claimed_ts = 1760000000123456ull;
    for (int i = 0; i < AC_RECORD_ID_SIZE; i++)
        f->record_id[i] = (uint8_t)i;
    memset(f->prev_hash, 0xaa, AC_HASH_SIZE);
    memset(f->content_hash, 0xbb, AC_HASH_SIZE);
    f->content_type = "image/png";
    /* cbor2: {"caption": "x", "n": -5} and {"chain_size": 1234} */
    static const uint8_t meta[] = {0xa2, 0x61, 0x6e, 0x24, 0x67, 0x63, 0x61, 0x70,
                                   0x74, 0x69, 0x6f, 0x6e, 0x61, 0x78};
    static const uint8_t wit[] = {0xa1, 0x6a, 0x63, 0x68, 0x61, 0x69, 0x6e, 0x5f,
                                  0x73, 0x69, 0x7a, 0x65, 0x19, 0x04, 0xd2};
    f->metadata = meta;
    f->metadata_len = sizeof meta;
    f->witnesses = wit;
    f->witnesses_len = sizeof wit;
    ac_key_pubkey(key, f->signer);
}

/* The same record built by python3-cbor2 and signed by python3-cryptography
 * with k1: 364 bytes with this SHA-256 (Ed25519 signatures are deterministic). */
static const char *const BUILT_SHA =
    "8d6ca7313db6f201d11919df718fa31651d5dea4890eaa0859d78d4ac5993b0c";

static void test_build_matches_python(void **state)
{
    (void)state;
    ac_key *key = tu_load_key("k1");
    rec_fields f;
    fixed_fields(&f, key);
    det_buf out = {0};
    det_put(&out, "0123456789", 10); /* frames are appended after what is there */
    size_t body_off = 0;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    assert_int_equal(body_off, 14);
    size_t len = out.len - body_off;
    assert_int_equal(len, 364);
    assert_memory_equal(out.data, "0123456789", 10);
    const uint8_t pfx[4] = {0, 0, 364 >> 8, 364 & 0xff};
    assert_memory_equal(out.data + 10, pfx, 4);
    uint8_t h[AC_HASH_SIZE], want[AC_HASH_SIZE];
    TU_OK(ac_sha256(out.data + body_off, len, h, NULL));
    hex_to(BUILT_SHA, want, AC_HASH_SIZE);
    assert_memory_equal(h, want, AC_HASH_SIZE);

    ac_rec r;
    assert_int_equal(rec_decode(out.data + body_off, len, &r, NULL), 0);
    assert_true(sig_verifies(out.data + body_off, len, &r));
    assert_int_equal(r.chain_index, 7);
    assert_int_equal(r.claimed_ts, f.claimed_ts);
    assert_memory_equal(r.record_id, f.record_id, AC_RECORD_ID_SIZE);
    assert_memory_equal(r.prev_hash, f.prev_hash, AC_HASH_SIZE);
    assert_memory_equal(r.content_hash, f.content_hash, AC_HASH_SIZE);
    assert_memory_equal(r.signer, f.signer, AC_PUBKEY_SIZE);
    assert_int_equal(r.metadata_len, f.metadata_len);
    assert_memory_equal(r.metadata, f.metadata, f.metadata_len);
    assert_int_equal(r.witnesses_len, f.witnesses_len);
    assert_memory_equal(r.witnesses, f.witnesses, f.witnesses_len);
    det_buf_free(&out);
    ac_key_free(key);
}

/* Signatures from a fresh key verify with its public half, and only it. */
static void test_build_verifies(void **state)
{
    (void)state;
    ac_key *key = tu_new_key(NULL);
    rec_fields f;
    fixed_fields(&f, key);
    det_buf out = {0};
    size_t body_off;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    ac_rec r;
    size_t len = out.len - body_off;
    assert_int_equal(rec_decode(out.data + body_off, len, &r, NULL), 0);
    uint8_t *canon = malloc(len);
    assert_non_null(canon);
    size_t clen = rec_canonical(out.data + body_off, len, &r, canon);
    assert_int_equal(crypto_sign_verify_detached(r.signature, canon, clen, f.signer), 0);
    uint8_t k1[AC_PUBKEY_SIZE];
    tu_load_pub("k1", k1);
    assert_int_not_equal(crypto_sign_verify_detached(r.signature, canon, clen, k1), 0);
    free(canon);
    det_buf_free(&out);
    ac_key_free(key);
}

static void expect_bad_type(ac_key *key, const char *ct)
{
    rec_fields f;
    fixed_fields(&f, key);
    f.content_type = ct;
    det_buf out = {0};
    det_put(&out, "xy", 2);
    size_t body_off = 12345;
    ac_error err;
    assert_int_equal(rec_build_frame(&f, key, &out, &body_off, &err), AC_EINVAL);
    assert_int_equal(err.code, AC_EINVAL);
    assert_int_equal(out.len, 2); /* nothing added */
    assert_int_equal(body_off, 12345);
    det_buf_free(&out);
}

static void test_build_content_types(void **state)
{
    (void)state;
    ac_key *key = tu_load_key("k1");
    char long_type[300];
    memset(long_type, 'a', sizeof long_type);
    long_type[256] = '\0';
    expect_bad_type(key, long_type); /* 256 bytes */
    expect_bad_type(key, "");
    expect_bad_type(key, NULL);
    expect_bad_type(key, "text/plain\n");
    expect_bad_type(key, "\x01");
    expect_bad_type(key, "a\tb");
    expect_bad_type(key, "a\x7f");
    expect_bad_type(key, "\x1b[31m");

    long_type[255] = '\0'; /* 255 bytes: the longest allowed */
    rec_fields f;
    fixed_fields(&f, key);
    f.content_type = long_type;
    det_buf out = {0};
    size_t body_off;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    ac_rec r;
    assert_int_equal(rec_decode(out.data + body_off, out.len - body_off, &r, NULL), 0);
    assert_int_equal(r.content_type_len, 255);
    out.len = 0;
    f.content_type = "a";
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    det_buf_free(&out);
    ac_key_free(key);
}

/* Metadata {"b": <n bytes>}, encoded here. */
static void big_meta(det_buf *m, size_t n)
{
    uint8_t *zeros = calloc(n, 1);
    assert_non_null(zeros);
    m->len = 0;
    det_put(m, "\xa1\x61" "b", 3);
    enc_head(m, 2, n);
    det_put(m, zeros, n);
    free(zeros);
    assert_false(m->failed);
}

/* A record of exactly AC_MAX_RECORD_SIZE bytes is built; one byte more is
 * refused with AC_EINVAL and leaves the output as it was. */
static void test_build_oversized(void **state)
{
    (void)state;
    ac_key *key = tu_load_key("k1");
    rec_fields f;
    fixed_fields(&f, key);
    f.metadata = (const uint8_t *)"\xa0";
    f.metadata_len = 1;
    det_buf out = {0};
    size_t body_off;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    size_t base = out.len - body_off; /* the record with an empty metadata map */
    /* {"b": bstr(n)} costs 3 + 5 + n bytes for n >= 65536 instead of 1. */
    size_t n = AC_MAX_RECORD_SIZE - base - 7;
    det_buf m = {0};
    big_meta(&m, n);
    f.metadata = m.data;
    f.metadata_len = m.len;
    out.len = 0;
    TU_OK(rec_build_frame(&f, key, &out, &body_off, NULL));
    assert_int_equal(out.len - body_off, AC_MAX_RECORD_SIZE);
    assert_memory_equal(out.data, ((const uint8_t[]){0x00, 0x10, 0x00, 0x00}), 4);
    ac_rec r;
    assert_int_equal(rec_decode(out.data + body_off, out.len - body_off, &r, NULL), 0);
    assert_true(sig_verifies(out.data + body_off, out.len - body_off, &r));

    big_meta(&m, n + 1);
    f.metadata = m.data;
    f.metadata_len = m.len;
    out.len = 0;
    det_put(&out, "keep", 4);
    ac_error err;
    assert_int_equal(rec_build_frame(&f, key, &out, &body_off, &err), AC_EINVAL);
    assert_int_equal(err.code, AC_EINVAL);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "keep", 4);
    det_buf_free(&m);
    det_buf_free(&out);
    ac_key_free(key);
}

/* ---------------------------------------------------------------- rotations */

/* Builds and decodes a record with this content type, metadata and
 * content hash, signed by k1; returns rec_rotation's answer. */
static int rotation_of(ac_key *k1, const char *ct, const uint8_t *meta, size_t meta_len,
                       const uint8_t content_hash[AC_HASH_SIZE], uint8_t new_key[AC_PUBKEY_SIZE])
{
    rec_fields f;
    fixed_fields(&f, k1);
    f.content_type = ct;
    f.metadata = meta;
    f.metadata_len = meta_len;
    memcpy(f.content_hash, content_hash, AC_HASH_SIZE);
    det_buf out = {0};
    size_t body_off;
    TU_OK(rec_build_frame(&f, k1, &out, &body_off, NULL));
    ac_rec r;
    assert_int_equal(rec_decode(out.data + body_off, out.len - body_off, &r, NULL), 0);
    int rc = rec_rotation(&r, new_key);
    det_buf_free(&out);
    return rc;
}

/* {"new_pubkey": <text>} plus optional extra pairs already encoded. */
static void pubkey_meta(det_buf *m, const char *text, size_t tlen, bool as_bytes)
{
    m->len = 0;
    det_put(m, "\xa1\x6anew_pubkey", 12);
    enc_head(m, as_bytes ? 2 : 3, tlen);
    det_put(m, text, tlen);
}

static void test_rotation(void **state)
{
    (void)state;
    ac_key *k1 = tu_load_key("k1");
    uint8_t k1pub[AC_PUBKEY_SIZE], k2pub[AC_PUBKEY_SIZE], got[AC_PUBKEY_SIZE];
    uint8_t h2[AC_HASH_SIZE], h1[AC_HASH_SIZE];
    tu_load_pub("k1", k1pub);
    tu_load_pub("k2", k2pub);
    TU_OK(ac_sha256(k2pub, AC_PUBKEY_SIZE, h2, NULL));
    TU_OK(ac_sha256(k1pub, AC_PUBKEY_SIZE, h1, NULL));
    char hex2[65], hex1[65];
    ac_hex_encode(k2pub, AC_PUBKEY_SIZE, hex2);
    ac_hex_encode(k1pub, AC_PUBKEY_SIZE, hex1);
    const char *rot = AC_ROTATION_CONTENT_TYPE;
    det_buf m = {0};

    pubkey_meta(&m, hex2, 64, false);
    memset(got, 0, sizeof got);
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h2, got), 1);
    assert_memory_equal(got, k2pub, AC_PUBKEY_SIZE);
    /* Not a rotation: another content type, however close. */
    assert_int_equal(rotation_of(k1, "image/png", m.data, m.len, h2, got), 0);
    assert_int_equal(rotation_of(k1, "soosef/key-rotation-v1x", m.data, m.len, h2, got), 0);
    assert_int_equal(rotation_of(k1, "soosef/key-rotation-v", m.data, m.len, h2, got), 0);
    assert_int_equal(rotation_of(k1, "SOOSEF/KEY-ROTATION-V1", m.data, m.len, h2, got), 0);
    /* Wrong content_hash. */
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h1, got), -1);
    /* To the signer itself. */
    pubkey_meta(&m, hex1, 64, false);
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h1, got), -1);
    /* Uppercase hex. */
    char upper[65];
    for (int i = 0; i < 64; i++)
        upper[i] = (char)(hex2[i] >= 'a' ? hex2[i] - 'a' + 'A' : hex2[i]);
    upper[64] = '\0';
    assert_int_not_equal(strcmp(upper, hex2), 0);
    pubkey_meta(&m, upper, 64, false);
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h2, got), -1);
    /* Wrong lengths, a non-hex digit, raw bytes instead of text. */
    pubkey_meta(&m, hex2, 63, false);
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h2, got), -1);
    char longer[66];
    memcpy(longer, hex2, 64);
    longer[64] = '0';
    pubkey_meta(&m, longer, 65, false);
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h2, got), -1);
    char bad[65];
    memcpy(bad, hex2, 65);
    bad[10] = 'g';
    pubkey_meta(&m, bad, 64, false);
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h2, got), -1);
    pubkey_meta(&m, (const char *)k2pub, 32, true);
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h2, got), -1);
    /* No new_pubkey at all. */
    assert_int_equal(rotation_of(k1, rot, (const uint8_t *)"\xa0", 1, h2, got), -1);
    /* Other keys beside new_pubkey are allowed: {"reason": "x", "new_pubkey": ..} */
    m.len = 0;
    det_put(&m, "\xa2\x66reason\x61x\x6anew_pubkey\x78\x40", 23);
    det_put(&m, hex2, 64);
    size_t pos = 0;
    assert_int_equal(det_item_skip(m.data, m.len, &pos, AC_MAX_DEPTH), 0);
    assert_int_equal(rotation_of(k1, rot, m.data, m.len, h2, got), 1);
    det_buf_free(&m);
    ac_key_free(k1);
}

/* The vectors' rotations. */
static void test_rotation_vectors(void **state)
{
    (void)state;
    uint8_t k2[AC_PUBKEY_SIZE], k3[AC_PUBKEY_SIZE], got[AC_PUBKEY_SIZE];
    tu_load_pub("k2", k2);
    tu_load_pub("k3", k3);
    frames f;
    ac_rec r;
    load_frames("valid-two-rotations", &f);
    for (size_t i = 0; i < f.n; i++) {
        assert_int_equal(rec_decode(f.data + f.off[i], f.len[i], &r, NULL), 0);
        int want = i == 2 || i == 4;
        assert_int_equal(rec_rotation(&r, got), want);
        if (i == 2)
            assert_memory_equal(got, k2, AC_PUBKEY_SIZE);
        if (i == 4)
            assert_memory_equal(got, k3, AC_PUBKEY_SIZE);
    }
    free_frames(&f);
    load_frames("invalid-rotation-to-self", &f);
    assert_int_equal(rec_decode(f.data + f.off[1], f.len[1], &r, NULL), 0);
    assert_int_equal(rec_rotation(&r, got), -1);
    free_frames(&f);
}

/* ---------------------------------------------------------------- ids and public records */

static void test_uuid7(void **state)
{
    (void)state;
    static const uint64_t times[] = {0, 999, 1000, 1760000000123456ull, 0xffffffffffffull * 1000};
    uint8_t ones[10], zeros[10] = {0}, pattern[10];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 10; i++)
        pattern[i] = (uint8_t)(0x11 * (i + 1));
    for (size_t k = 0; k < sizeof times / sizeof times[0]; k++) {
        uint8_t id[AC_RECORD_ID_SIZE];
        const uint8_t *rnd[3] = {ones, zeros, pattern};
        for (int r = 0; r < 3; r++) {
            rec_uuid7(times[k], rnd[r], id);
            uint64_t ms = 0;
            for (int i = 0; i < 6; i++)
                ms = ms << 8 | id[i];
            assert_true(ms == times[k] / 1000); /* 48-bit big-endian milliseconds */
            assert_int_equal(id[6] >> 4, 7);    /* version */
            assert_int_equal(id[8] >> 6, 2);    /* variant 0b10 */
            /* Every other bit is the caller's randomness. */
            assert_int_equal(id[6] & 0x0f, rnd[r][0] & 0x0f);
            assert_int_equal(id[7], rnd[r][1]);
            assert_int_equal(id[8] & 0x3f, rnd[r][2] & 0x3f);
            assert_memory_equal(id + 9, rnd[r] + 3, 7);
        }
    }
}

static void test_record_new(void **state)
{
    (void)state;
    frames f;
    load_frames("valid-two-rotations", &f);
    uint8_t h[AC_HASH_SIZE];
    TU_OK(ac_sha256(f.data + f.off[2], f.len[2], h, NULL));
    ac_record *rec = NULL;
    const char *why = NULL;
    TU_OK(record_new(f.data + f.off[2], f.len[2], 790, h, &rec, &why));
    /* An owned copy: the caller's buffer may go. */
    uint8_t *saved = malloc(f.len[2]);
    assert_non_null(saved);
    memcpy(saved, f.data + f.off[2], f.len[2]);
    memset(f.data + f.off[2], 0, f.len[2]);
    size_t len;
    const uint8_t *bytes = ac_record_bytes(rec, &len);
    assert_int_equal(len, f.len[2]);
    assert_memory_equal(bytes, saved, len);
    assert_int_equal(ac_record_index(rec), 2);
    assert_int_equal(ac_record_version(rec), 1);
    assert_int_equal(ac_record_offset(rec), 790);
    assert_string_equal(ac_record_content_type(rec), AC_ROTATION_CONTENT_TYPE);
    assert_memory_equal(ac_record_hash(rec), h, AC_HASH_SIZE);
    assert_int_equal(ac_record_claimed_ts(rec), 1760000003000000ull);
    uint8_t k1[AC_PUBKEY_SIZE];
    tu_load_pub("k1", k1);
    assert_memory_equal(ac_record_signer(rec), k1, AC_PUBKEY_SIZE);
    char *json = NULL;
    TU_OK(ac_record_metadata_json(rec, &json, NULL));
    assert_non_null(strstr(json, "\"new_pubkey\""));
    assert_non_null(strstr(json, "f08b6d065e7fc64cc99cd53a7e88ffca2dbe48355dc5b368553b96af58de656a"));
    ac_free(json);
    TU_OK(ac_record_witnesses_json(rec, &json, NULL));
    assert_non_null(strstr(json, "\"chain_size\""));
    assert_non_null(strstr(json, "790"));
    ac_free(json);
    ac_record_free(rec);
    ac_record_free(NULL);

    /* A body that does not decode. */
    saved[0] = 0xaa;
    rec = NULL;
    why = NULL;
    assert_int_equal(record_new(saved, len, 0, h, &rec, &why), AC_ECORRUPT);
    assert_null(rec);
    assert_non_null(why);
    free(saved);
    free_frames(&f);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_decode_valid_vectors),
        cmocka_unit_test(test_decode_fields),
        cmocka_unit_test(test_decode_noncanonical_vector),
        cmocka_unit_test(test_decode_truncated_and_trailing),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_decode_long_heads),
        cmocka_unit_test(test_decode_field_rules),
        cmocka_unit_test(test_canonical_matches_cbor2),
        cmocka_unit_test(test_chain_ids),
        cmocka_unit_test(test_build_matches_python),
        cmocka_unit_test(test_build_verifies),
        cmocka_unit_test(test_build_content_types),
        cmocka_unit_test(test_build_oversized),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_rotation_vectors),
        cmocka_unit_test(test_uuid7),
        cmocka_unit_test(test_record_new))
