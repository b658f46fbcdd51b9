/* The fold (docs/format.md sections 4.4 and 8): what a prefix of the chain
 * implies (the next index, the previous hash, the chain id, who may sign
 * next, the keys retired, where the rotations are), carried one record at a
 * time.  Every reader of the chain applies the same fold_step, at the depth
 * it needs: a rebuild leaves most signatures unchecked (the hash chain and
 * the head's signature vouch for them) but checks record 0's and every
 * rotation's itself, since authority rests on them; verification checks
 * them all (in parallel, before the fold).  So the rotation rule lives in
 * one function. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

void fold_init(fold *f)
{
    memset(f, 0, sizeof *f);
}

void fold_free(fold *f)
{
    free(f->rot);
    key_set_free(&f->retired);
    free(f->scratch);
    memset(f, 0, sizeof *f);
}

int fold_copy(fold *dst, const fold *src)
{
    fold_init(dst);
    dst->st = src->st;
    memcpy(dst->genesis, src->genesis, AC_PUBKEY_SIZE);
    if (src->nrot > 0) {
        dst->rot = malloc(src->nrot * sizeof *dst->rot);
        if (dst->rot == NULL)
            return AC_ENOMEM;
        memcpy(dst->rot, src->rot, src->nrot * sizeof *dst->rot);
        dst->nrot = dst->rot_cap = src->nrot;
    }
    for (size_t i = 0; i < src->retired.n; i++)
        if (key_set_add(&dst->retired, src->retired.keys[i]) != AC_OK) {
            fold_free(dst);
            return AC_ENOMEM;
        }
    return AC_OK;
}

int fold_truncate(fold *f, uint64_t n)
{
    size_t keep = 0;
    while (keep < f->nrot && f->rot[keep].index < n)
        keep++;
    f->nrot = keep;
    key_set_free(&f->retired);
    uint8_t signer[AC_PUBKEY_SIZE];
    memcpy(signer, f->genesis, AC_PUBKEY_SIZE);
    for (size_t i = 0; i < keep; i++) {
        if (key_set_add(&f->retired, signer) != AC_OK)
            return AC_ENOMEM;
        memcpy(signer, f->rot[i].key, AC_PUBKEY_SIZE);
    }
    memcpy(f->st.signer, signer, AC_PUBKEY_SIZE);
    f->st.record_count = n;
    f->st.head_index = n > 0 ? n - 1 : 0;
    return AC_OK;
}

void fold_key_at(const fold *f, uint64_t index, uint8_t key[AC_PUBKEY_SIZE])
{
    memcpy(key, f->genesis, AC_PUBKEY_SIZE);
    for (size_t i = 0; i < f->nrot && f->rot[i].index < index; i++)
        memcpy(key, f->rot[i].key, AC_PUBKEY_SIZE);
}

/* Rotation records are rare: their content type picks the few records
 * worth asking rec_rotation about. */
static bool maybe_rotation(const ac_rec *rec)
{
    static const char rot[] = AC_ROTATION_CONTENT_TYPE;
    return rec->content_type_len == sizeof rot - 1 &&
           memcmp(rec->content_type, rot, sizeof rot - 1) == 0;
}

void fold_prepare(fold_in *in, ac_hasher *h, uint8_t *scratch, bool check_sig)
{
    in->sig = -1;
    in->rotation = 0;
    in->decoded = rec_decode(in->body, in->len, &in->rec, &in->why) == 0;
    if (!in->decoded)
        return;
    if (hasher_digest(h, in->body, in->len, in->hash) != AC_OK)
        memset(in->hash, 0, sizeof in->hash); /* cannot match: reported as a link failure */
    bool need_canonical = check_sig || in->rec.chain_index == 0;
    size_t clen = need_canonical ? rec_canonical(in->body, in->len, &in->rec, scratch) : 0;
    if (in->rec.chain_index == 0 && hasher_digest(h, scratch, clen, in->chain_id) != AC_OK)
        memset(in->chain_id, 0, sizeof in->chain_id);
    /* libsodium rejects a non-canonical S and small-order keys and R. */
    if (check_sig)
        in->sig = crypto_sign_verify_detached(in->rec.signature, scratch, clen, in->rec.signer) == 0;
    if (check_sig || maybe_rotation(&in->rec))
        in->rotation = rec_rotation(&in->rec, in->new_key);
}

int fold_check_sig(fold *f, const uint8_t *body, size_t len, const ac_rec *rec,
                   const uint8_t key[AC_PUBKEY_SIZE])
{
    if (f->scratch == NULL && (f->scratch = malloc(AC_MAX_RECORD_SIZE)) == NULL)
        return AC_ENOMEM;
    size_t clen = rec_canonical(body, len, rec, f->scratch);
    return crypto_sign_verify_detached(rec->signature, f->scratch, clen, key) == 0 ? 1 : 0;
}

int fold_rotate(fold *f, uint64_t index, uint64_t off, const uint8_t new_key[AC_PUBKEY_SIZE])
{
    if (f->nrot == f->rot_cap) {
        size_t cap = f->rot_cap ? 2 * f->rot_cap : 4;
        rotation *r = realloc(f->rot, cap * sizeof *r);
        if (r == NULL)
            return AC_ENOMEM;
        f->rot = r;
        f->rot_cap = cap;
    }
    if (authority_rotate(&f->retired, f->st.signer, new_key) != AC_OK)
        return AC_ENOMEM;
    rotation *r = &f->rot[f->nrot++];
    r->index = index;
    r->offset = off;
    memcpy(r->key, f->st.signer, AC_PUBKEY_SIZE);
    return AC_OK;
}

ac_reason fold_step(fold *f, fold_in *in, const char **detail, int *rc)
{
    static const uint8_t zero[AC_HASH_SIZE];
    uint64_t expect = f->st.record_count;
    *rc = AC_OK;
#define FAIL(reason, text) do { *detail = (text); return (reason); } while (0)
    if (!in->decoded)
        FAIL(AC_REASON_DECODE, in->why ? in->why : "does not decode");
    if (in->rec.chain_index != expect)
        FAIL(AC_REASON_INDEX, "chain_index is not its position");
    if (expect == 0 && memcmp(in->rec.prev_hash, zero, AC_HASH_SIZE) != 0)
        FAIL(AC_REASON_GENESIS, "record 0 has a non-zero prev_hash");
    if (expect > 0 && memcmp(in->rec.prev_hash, f->st.head_hash, AC_HASH_SIZE) != 0)
        FAIL(AC_REASON_LINK, "prev_hash is not the hash of the record before it");
    /* Authority rests on record 0 and the rotations: their signatures are
     * checked whatever the depth. */
    if (in->sig < 0 && (expect == 0 || in->rotation != 0)) {
        in->sig = fold_check_sig(f, in->body, in->len, &in->rec, in->rec.signer);
        if (in->sig < 0) {
            *rc = AC_ENOMEM;
            FAIL(AC_REASON_NONE, "out of memory");
        }
    }
    if (in->sig == 0)
        FAIL(AC_REASON_SIGNATURE, "signature does not verify");
    const uint8_t *authorized = expect == 0 ? in->rec.signer : f->st.signer;
    if (memcmp(in->rec.signer, authorized, AC_PUBKEY_SIZE) != 0)
        FAIL(AC_REASON_UNAUTHORIZED, "signed by a key not authorized here");
    if (in->rotation < 0)
        FAIL(AC_REASON_ROTATION, "malformed key rotation");
#undef FAIL
    if (expect == 0) {
        memcpy(f->genesis, in->rec.signer, AC_PUBKEY_SIZE);
        memcpy(f->st.signer, in->rec.signer, AC_PUBKEY_SIZE);
        memcpy(f->st.chain_id, in->chain_id, AC_HASH_SIZE);
        f->st.created_at = in->rec.claimed_ts;
    }
    if (in->rotation > 0 && fold_rotate(f, expect, in->off, in->new_key) != AC_OK) {
        *rc = AC_ENOMEM;
        *detail = "out of memory";
        return AC_REASON_NONE;
    }
    memcpy(f->st.head_hash, in->hash, AC_HASH_SIZE);
    f->st.head_index = expect;
    f->st.head_offset = in->off;
    f->st.chain_size = in->off + 4 + in->len;
    f->st.last_append_at = in->rec.claimed_ts;
    f->st.record_count = expect + 1;
    *detail = NULL;
    return AC_REASON_NONE;
}
