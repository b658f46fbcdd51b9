/* The fixed keys of the transparency fuzz targets (fuzz_note, fuzz_proof)
 * and their seeds: the vector keys k1..k3, so that seeds signed with k1 and
 * the records of the vector chains (signed by k1, k2, k3) verify. */
#ifndef AC_FUZZ_TLOG_KEYS_H
#define AC_FUZZ_TLOG_KEYS_H

#include "fuzz.h"

#define FUZZ_ORIGIN "example.org/fuzz"
#define FUZZ_WITNESS "witness.example/fuzz"

typedef struct fuzz_tlog_keys {
    ac_key *k1;
    ac_vkey *log;     /* k1 as FUZZ_ORIGIN's key */
    ac_vkey *witness; /* k1 as FUZZ_WITNESS's cosignature key */
    uint8_t signers[3][AC_PUBKEY_SIZE];
} fuzz_tlog_keys;

static inline void fuzz_tlog_keys_load(fuzz_tlog_keys *k)
{
    char path[4096];
    FUZZ_SETUP(ac_key_load(AC_FUZZ_VECTORS "/keys/k1.pem", &k->k1, NULL) == AC_OK);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, AC_FUZZ_VECTORS "/keys/k%d.pub", i + 1);
        FUZZ_SETUP(ac_pubkey_load(path, k->signers[i], NULL) == AC_OK);
    }
    FUZZ_SETUP(ac_vkey_new(FUZZ_ORIGIN, AC_VKEY_ED25519, k->signers[0], &k->log, NULL) == AC_OK);
    FUZZ_SETUP(ac_vkey_new(FUZZ_WITNESS, AC_VKEY_COSIGNATURE, k->signers[0], &k->witness, NULL) ==
               AC_OK);
}

#endif /* AC_FUZZ_TLOG_KEYS_H */
