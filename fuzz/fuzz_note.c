/* fuzz_note: the signed-note, checkpoint and verifier-key parsers.
 *
 * The input as a signed checkpoint (ac_checkpoint_parse, ac_checkpoint_verify
 * with the log key, ac_checkpoint_verify_witnesses, ac_checkpoint_cosign),
 * as a signed note (ac_note_verify) and as a vkey string (ac_vkey_parse).
 * Invariants:
 *  - every check answers 1 or 0 (no error on any input);
 *  - a parsed checkpoint's text is a prefix of the input, its size at most
 *    2^63-1 and its origin non-empty; a checkpoint our key verifies can be
 *    signed again and verifies then too;
 *  - a note ac_note_verify accepts and the checkpoint parser agree on its text;
 *  - a vkey that parses prints back as exactly the input. */
#include "tlog_keys.h"

static fuzz_tlog_keys keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_tlog_keys_load(&keys);
    return 0;
}

static void check_checkpoint(const uint8_t *data, size_t size)
{
    ac_checkpoint *cp = NULL;
    ac_error err;
    if (ac_checkpoint_parse(data, size, &cp, &err) != AC_OK) {
        FUZZ_CHECK(err.code == AC_ECORRUPT && strchr(err.message, '\n') == NULL,
                   "refused with code %d: %s", err.code, err.message);
        return;
    }
    size_t tlen, blen;
    const uint8_t *text = ac_checkpoint_text(cp, &tlen);
    const uint8_t *bytes = ac_checkpoint_bytes(cp, &blen);
    FUZZ_CHECK(blen == size && memcmp(bytes, data, size) == 0, "bytes not kept verbatim");
    FUZZ_CHECK(tlen < size && text == bytes && text[tlen - 1] == '\n', "text of %zu", tlen);
    FUZZ_CHECK(ac_checkpoint_size(cp) <= (uint64_t)INT64_MAX, "size");
    FUZZ_CHECK(ac_checkpoint_origin(cp)[0] != '\0', "empty origin");
    int v = ac_checkpoint_verify(cp, (const ac_vkey *const *)&keys.log, 1, &err);
    FUZZ_CHECK(v == 0 || v == 1, "verify returned %d", v);
    size_t valid = 0;
    int w = ac_checkpoint_verify_witnesses(cp, (const ac_vkey *const *)&keys.witness, 1, 1,
                                           &valid, &err);
    FUZZ_CHECK(w == 0 || w == 1, "witnesses returned %d", w);
    FUZZ_CHECK(w == (valid >= 1), "witness count %zu with verdict %d", valid, w);
    if (v == 1) {
        char *again = NULL;
        size_t alen;
        FUZZ_CHECK(ac_checkpoint_sign(ac_checkpoint_origin(cp), ac_checkpoint_size(cp),
                                      ac_checkpoint_root(cp), keys.k1, &again, &alen, &err) == AC_OK,
                   "cannot sign a verified checkpoint again: %s", err.message);
        ac_checkpoint *cp2 = NULL;
        FUZZ_CHECK(ac_checkpoint_parse((const uint8_t *)again, alen, &cp2, &err) == AC_OK &&
                       ac_checkpoint_verify(cp2, (const ac_vkey *const *)&keys.log, 1, &err) == 1,
                   "a re-signed checkpoint does not verify: %s", err.message);
        ac_checkpoint_free(cp2);
        ac_free(again);
    }
    char *co = NULL;
    size_t colen;
    int rc = ac_checkpoint_cosign(data, size, FUZZ_WITNESS, keys.k1, 1700000000, &co, &colen, &err);
    FUZZ_CHECK(rc == AC_OK || rc == AC_EINVAL, "cosign: %s", err.message);
    ac_free(co);
    ac_checkpoint_free(cp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size + 1);
    FUZZ_SETUP(copy != NULL);
    memcpy(copy, data, size);
    check_checkpoint(copy, size);

    size_t tlen = 0;
    ac_error err;
    int v = ac_note_verify(copy, size, (const ac_vkey *const *)&keys.log, 1, &tlen, &err);
    FUZZ_CHECK(v == 0 || v == 1, "note verify returned %d", v);
    if (v == 1)
        FUZZ_CHECK(tlen > 0 && tlen < size && copy[tlen - 1] == '\n', "text length %zu", tlen);

    copy[size] = '\0';
    ac_vkey *k = NULL;
    if (strlen((char *)copy) == size && ac_vkey_parse((char *)copy, &k, &err) == AC_OK) {
        char *s = NULL;
        FUZZ_CHECK(ac_vkey_string(k, &s, &err) == AC_OK, "vkey string");
        FUZZ_CHECK(strcmp(s, (char *)copy) == 0, "vkey %s printed back as %s", (char *)copy, s);
        ac_free(s);
        ac_vkey_free(k);
    }
    free(copy);
    return 0;
}
