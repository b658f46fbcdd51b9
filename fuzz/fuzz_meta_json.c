/* fuzz_meta_json: ac_meta_add_json on arbitrary text.
 *
 * Whatever is accepted must be usable: its encoding is one deterministic
 * CBOR map within the metadata's nesting limit, it renders back to JSON
 * (meta_cbor_to_json), that JSON is accepted again and encodes to the same
 * bytes, and a record built with it decodes with these bytes as its
 * metadata.  An add is all or none: adding the same members again fails
 * (their keys are taken) and leaves the map as it was. */
#include "fuzz.h"

static ac_key *fuzz_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    FUZZ_SETUP(ac_key_generate(&fuzz_key, NULL) == AC_OK);
    return 0;
}

static void encoded_copy(const ac_meta *m, uint8_t **out, size_t *len)
{
    const uint8_t *p;
    FUZZ_CHECK(meta_encoded(m, &p, len, NULL) == AC_OK, "meta_encoded failed");
    *out = malloc(*len);
    FUZZ_SETUP(*out != NULL);
    memcpy(*out, p, *len);
}

/* A record carrying the metadata must decode and give the same bytes back. */
static void check_in_record(const uint8_t *enc, size_t len)
{
    static const uint8_t witnesses[] = {0xa1, 0x6a, 'c', 'h', 'a', 'i', 'n', '_', 's', 'i', 'z', 'e', 0x00};
    rec_fields f;
    memset(&f, 0, sizeof f);
    f.chain_index = 7;
    f.claimed_ts = 1700000000000000u;
    f.content_type = "application/json";
    f.metadata = enc;
    f.metadata_len = len;
    f.witnesses = witnesses;
    f.witnesses_len = sizeof witnesses;
    ac_key_pubkey(fuzz_key, f.signer);
    det_buf frame = {0};
    size_t body_off = 0;
    ac_error err;
    int rc = rec_build_frame(&f, fuzz_key, &frame, &body_off, &err);
    FUZZ_CHECK(rc == AC_OK, "accepted metadata does not make a record: %s", err.message);
    ac_rec rec;
    const char *why = "";
    FUZZ_CHECK(rec_decode(frame.data + body_off, frame.len - body_off, &rec, &why) == 0,
               "a record built with accepted metadata does not decode: %s", why);
    FUZZ_CHECK(rec.metadata_len == len && memcmp(rec.metadata, enc, len) == 0,
               "the record's metadata differs from what was encoded");
    det_buf_free(&frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_SETUP(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';

    ac_meta *m;
    FUZZ_SETUP(ac_meta_new(&m, NULL) == AC_OK);
    ac_error err;
    if (ac_meta_add_json(m, text, &err) != AC_OK) {
        FUZZ_CHECK(err.code < 0 && err.message[0] != '\0', "refused without a message");
        FUZZ_CHECK(ac_meta_count(m) == 0, "a refused add left %zu keys", ac_meta_count(m));
        ac_meta_free(m);
        free(text);
        return 0;
    }
    uint8_t *enc;
    size_t len;
    encoded_copy(m, &enc, &len);
    size_t pos = 0;
    /* The metadata map is level 2 of the record. */
    FUZZ_CHECK(det_item_skip(enc, len, &pos, AC_MAX_DEPTH - 1) == 0 && pos == len,
               "encoded metadata (%zu bytes) is not one deterministic map", len);
    FUZZ_CHECK(enc[0] >= 0xa0 && enc[0] <= 0xbb, "encoded metadata is not a map");

    char *json = NULL;
    FUZZ_CHECK(meta_cbor_to_json(enc, len, &json, &err) == AC_OK, "does not render: %s",
               err.message);
    ac_meta *m2;
    FUZZ_SETUP(ac_meta_new(&m2, NULL) == AC_OK);
    FUZZ_CHECK(ac_meta_add_json(m2, json, &err) == AC_OK, "rendered JSON %s is refused: %s", json,
               err.message);
    const uint8_t *enc2;
    size_t len2;
    FUZZ_CHECK(meta_encoded(m2, &enc2, &len2, NULL) == AC_OK, "meta_encoded failed");
    FUZZ_CHECK(len2 == len && memcmp(enc2, enc, len) == 0,
               "JSON -> CBOR -> JSON -> CBOR changed the bytes (via %s)", json);

    /* All or none: the same members again collide, and nothing changes. */
    int again = ac_meta_add_json(m, text, NULL);
    if (ac_meta_count(m) > 0)
        FUZZ_CHECK(again != AC_OK, "the same keys were added twice");
    const uint8_t *enc3;
    size_t len3;
    FUZZ_CHECK(meta_encoded(m, &enc3, &len3, NULL) == AC_OK, "meta_encoded failed");
    FUZZ_CHECK(len3 == len && memcmp(enc3, enc, len) == 0, "a refused add changed the map");

    check_in_record(enc, len);
    ac_meta_free(m2);
    ac_meta_free(m);
    free(json);
    free(enc);
    free(text);
    return 0;
}
