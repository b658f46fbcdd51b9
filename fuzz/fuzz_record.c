/* fuzz_record: the record decoder on an arbitrary frame body.
 *
 * rec_decode, then for an accepted record: its canonical bytes (rec_canonical),
 * the rotation check (rec_rotation), the witnesses (witness_read), its public
 * copy (record_new) and the metadata and witnesses rendered as JSON
 * (meta_cbor_to_json).  Invariants:
 *  - an accepted body is one whole deterministic item, and the section 7
 *    search for a record inside a damaged frame finds it;
 *  - the canonical bytes are the body minus the signature entry, under a
 *    map head of ten, and are themselves deterministic CBOR;
 *  - metadata and witnesses of a decoded record always render as JSON. */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

static void check_canonical(const uint8_t *body, size_t len, const ac_rec *rec)
{
    FUZZ_CHECK(rec->sig_start > 0 && rec->sig_start < rec->sig_end && rec->sig_end <= len,
               "signature entry %zu..%zu in a body of %zu", rec->sig_start, rec->sig_end, len);
    uint8_t *canon = malloc(len);
    FUZZ_SETUP(canon != NULL);
    size_t clen = rec_canonical(body, len, rec, canon);
    FUZZ_CHECK(clen == len - (rec->sig_end - rec->sig_start), "canonical length %zu", clen);
    FUZZ_CHECK(canon[0] == 0xaa, "canonical bytes start with 0x%02x", canon[0]);
    size_t pos = 0;
    FUZZ_CHECK(det_item_skip(canon, clen, &pos, AC_MAX_DEPTH) == 0 && pos == clen,
               "canonical bytes are not one deterministic item");
    /* The ten remaining values, as the signer saw them. */
    size_t vpos;
    FUZZ_CHECK(det_map_find(canon, clen, "signature", &vpos) != 0, "signature left in canonical");
    FUZZ_CHECK(det_map_find(canon, clen, "chain_index", &vpos) == 0, "chain_index lost");
    free(canon);
}

static void check_json(const uint8_t *p, size_t n, const char *what)
{
    char *json = NULL;
    ac_error err;
    int rc = meta_cbor_to_json(p, n, &json, &err);
    FUZZ_CHECK(rc == AC_OK, "%s of a decoded record does not render: %s", what, err.message);
    FUZZ_CHECK(json != NULL && json[0] == '{', "%s rendered as %s", what, json ? json : "NULL");
    free(json);
}

static void check_public(const uint8_t *body, size_t len, const ac_rec *rec)
{
    uint8_t hash[AC_HASH_SIZE] = {0};
    ac_record *r = NULL;
    const char *why = "";
    int rc = record_new(body, len, 0, hash, &r, &why);
    FUZZ_CHECK(rc == AC_OK, "record_new refused a decoded body: %s", why);
    FUZZ_CHECK(ac_record_index(r) == rec->chain_index, "index differs");
    const char *ct = ac_record_content_type(r);
    FUZZ_CHECK(strlen(ct) <= rec->content_type_len &&
                   memcmp(ct, rec->content_type, strlen(ct)) == 0,
               "content type copy differs");
    size_t blen;
    const uint8_t *b = ac_record_bytes(r, &blen);
    FUZZ_CHECK(blen == len && memcmp(b, body, len) == 0, "record bytes differ");
    char *json = NULL;
    FUZZ_CHECK(ac_record_metadata_json(r, &json, NULL) == AC_OK, "metadata json");
    ac_free(json);
    json = NULL;
    FUZZ_CHECK(ac_record_witnesses_json(r, &json, NULL) == AC_OK, "witnesses json");
    ac_free(json);
    ac_record_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ac_rec rec;
    const char *why = NULL;
    /* Work on an exact-size copy so ASan sees any read past the body. */
    uint8_t *body = malloc(size ? size : 1);
    FUZZ_SETUP(body != NULL);
    memcpy(body, data, size);
    bool inside = frame_record_inside(body, size);
    if (rec_decode(body, size, &rec, &why) != 0) {
        FUZZ_CHECK(why != NULL && *why != '\0', "refused without a reason");
        free(body);
        return 0;
    }
    FUZZ_CHECK(inside, "frame_record_inside misses a record at offset 0");
    size_t pos = 0;
    FUZZ_CHECK(det_item_skip(body, size, &pos, AC_MAX_DEPTH) == 0 && pos == size,
               "a decoded record is not one deterministic item");
    FUZZ_CHECK(size >= sizeof ac_record_magic &&
                   memcmp(body, ac_record_magic, sizeof ac_record_magic) == 0,
               "a decoded record does not begin with the record magic");
    FUZZ_CHECK(rec.version == 1 && rec.chain_index <= (uint64_t)INT64_MAX, "version/index");
    FUZZ_CHECK(rec.content_type_len >= 1 && rec.content_type_len <= AC_MAX_CONTENT_TYPE,
               "content type length %zu", rec.content_type_len);
    check_canonical(body, size, &rec);

    uint8_t new_key[AC_PUBKEY_SIZE];
    int rot = rec_rotation(&rec, new_key);
    FUZZ_CHECK(rot >= -1 && rot <= 1, "rec_rotation returned %d", rot);
    if (rot == 1)
        FUZZ_CHECK(memcmp(new_key, rec.signer, AC_PUBKEY_SIZE) != 0, "rotation to self accepted");

    witness_view w;
    witness_read(&rec, &w);
    FUZZ_CHECK(w.claimed_ts == rec.claimed_ts, "witness view claimed_ts");

    check_json(rec.metadata, rec.metadata_len, "metadata");
    check_json(rec.witnesses, rec.witnesses_len, "entropy_witnesses");
    check_public(body, size, &rec);
    free(body);
    return 0;
}
