/* fuzz_proof: .tlog-proof verification on arbitrary bytes.
 *
 * ac_proof_verify with the log key k1 as the vector chains' origin key,
 * their three signers trusted, and k1 as a witness.  Invariants:
 *  - the check always runs (AC_OK) and gives one verdict with a reason name;
 *  - an invalid verdict has a one-line detail;
 *  - a valid verdict has the decoded record, whose chain_index is the
 *    proof's index, and the checkpoint, whose size is above that index,
 *    and the record's signer is one of the trusted keys. */
#include "tlog_keys.h"

static fuzz_tlog_keys keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_tlog_keys_load(&keys);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_SETUP(copy != NULL);
    memcpy(copy, data, size);
    const ac_vkey *logs[1] = {keys.log}, *wit[1] = {keys.witness};
    ac_proof_policy pol = {
        .log_keys = logs, .n_log_keys = 1,
        .signers = (const uint8_t(*)[AC_PUBKEY_SIZE])keys.signers, .n_signers = 3,
        .witnesses = wit, .n_witnesses = 1,
    };
    ac_proof_result *r = NULL;
    ac_error err;
    int rc = ac_proof_verify(copy, size, &pol, &r, &err);
    FUZZ_CHECK(rc == AC_OK, "the check did not run: %s", err.message);
    const char *name = ac_proof_reason_name(ac_proof_result_reason(r));
    FUZZ_CHECK(strcmp(name, "unknown") != 0, "reason %d", ac_proof_result_reason(r));
    if (!ac_proof_result_valid(r)) {
        const char *d = ac_proof_result_detail(r);
        FUZZ_CHECK(d[0] != '\0' && strchr(d, '\n') == NULL, "detail '%s'", d);
    } else {
        const ac_record *rec = ac_proof_result_record(r);
        const ac_checkpoint *cp = ac_proof_result_checkpoint(r);
        FUZZ_CHECK(rec != NULL && cp != NULL, "valid without record or checkpoint");
        FUZZ_CHECK(ac_record_index(rec) == ac_proof_result_index(r), "index");
        FUZZ_CHECK(ac_proof_result_index(r) < ac_checkpoint_size(cp), "index past the size");
        bool known = false;
        for (int i = 0; i < 3; i++)
            known |= memcmp(ac_record_signer(rec), keys.signers[i], AC_PUBKEY_SIZE) == 0;
        FUZZ_CHECK(known, "an untrusted signer passed");
    }
    ac_proof_result_free(r);
    free(copy);
    return 0;
}
