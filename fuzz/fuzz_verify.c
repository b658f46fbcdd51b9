/* fuzz_verify: ac_verify against a plain reference verifier written from
 * SPEC section 8, on chains whose signatures and links are repaired after
 * mutation.
 *
 * A mutated record almost always fails its signature, which hides every
 * check after it.  So before use, each complete frame that decodes and is
 * signed by one of the test keys (k1, k2, k3, evil) is signed again, and
 * (optionally) its prev_hash is set to the hash of the frame before it: the
 * fuzzer then reaches the index, genesis, authorization and rotation rules
 * with valid signatures, where a verifier that accepts what it should not
 * would show.  The reference below checks the records one by one in the
 * table's order; its verdict (valid or the first failing index and reason,
 * the records that passed, the torn tail, the clock and chain_size warnings)
 * must be ac_verify's.  Then every
 * check of chain_checks.h runs on the repaired chain.
 *
 * Input: byte 0 is a set of flags (FV_*), the rest is chain.bin, or with
 * FV_REFRAME the record bodies one after the other. */
#include <sodium.h>

#include "chain_checks.h"

#define FV_RESIGN 0x01u /* sign every decodable record again */
#define FV_RELINK 0x02u /* point every prev_hash at the frame before */
#define FV_REFRAME 0x04u /* the rest is CBOR items: frame each one */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    FUZZ_SETUP(sodium_init() >= 0);
    chain_checks_init("verify");
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha256(const uint8_t *p, size_t n, uint8_t out[AC_HASH_SIZE])
{
    FUZZ_SETUP(ac_sha256(p, n, out, NULL) == AC_OK);
}

/* Repairs links and signatures in place, frame by frame. */
static void repair(uint8_t *buf, size_t size, unsigned flags)
{
    uint8_t prev[AC_HASH_SIZE];
    bool have_prev = false;
    for (size_t off = 0; size - off >= 4;) {
        uint32_t len = be32(buf + off);
        if (len == 0 || len > AC_MAX_RECORD_SIZE || len > size - off - 4)
            break;
        uint8_t *body = buf + off + 4;
        ac_rec rec;
        if (rec_decode(body, len, &rec, NULL) == 0) {
            if ((flags & FV_RELINK) && have_prev)
                memcpy(body + (rec.prev_hash - body), prev, AC_HASH_SIZE);
            for (size_t k = 0; (flags & FV_RESIGN) && k < NKEYS; k++) {
                if (memcmp(rec.signer, pubs[k], AC_PUBKEY_SIZE) != 0)
                    continue;
                uint8_t *canon = malloc(len);
                FUZZ_SETUP(canon != NULL);
                size_t clen = rec_canonical(body, len, &rec, canon);
                key_sign(keys[k], canon, clen, body + (rec.signature - body));
                free(canon);
                break;
            }
        }
        sha256(body, len, prev);
        have_prev = true;
        off += 4 + (size_t)len;
    }
}

/* With FV_REFRAME the input after the flags is a run of CBOR items, each
 * framed with its own length (so records may change size under mutation);
 * what follows the last whole item is kept as it is, a tail. */
static uint8_t *reframe(const uint8_t *in, size_t n, size_t *out_len)
{
    det_buf b = {0};
    size_t pos = 0;
    while (pos < n) {
        size_t end = pos;
        if (det_item_skip(in, n, &end, AC_MAX_DEPTH) != 0 || end - pos > AC_MAX_RECORD_SIZE)
            break;
        uint32_t len = (uint32_t)(end - pos);
        uint8_t pfx[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                          (uint8_t)len};
        det_put(&b, pfx, 4);
        det_put(&b, in + pos, len);
        pos = end;
    }
    det_put(&b, in + pos, n - pos);
    FUZZ_SETUP(!b.failed);
    *out_len = b.len;
    if (b.data == NULL)
        b.data = malloc(1);
    FUZZ_SETUP(b.data != NULL);
    return b.data;
}

/* ---------------------------------------------------------------- reference */

typedef struct ref_verdict {
    bool valid;
    uint64_t records;
    int reason; /* ac_reason of the first failure */
    bool torn;
    uint64_t torn_off, torn_len;
    uint64_t clock, chain_size; /* warnings (SPEC 5) on the records that passed */
    bool have_prev;
    witness_view prev;
} ref_verdict;

/* SPEC 5's warnings for a record that passed, at frame offset `off`, in
 * exact arithmetic: claimed_ts going back; or, within one boot, claimed_ts
 * and uptime moving apart by more than 1 s + 0.1 % of the uptime moved. */
static void ref_witnesses(ref_verdict *v, const uint8_t *body, uint32_t len, uint64_t off)
{
    ac_rec r;
    FUZZ_SETUP(rec_decode(body, len, &r, NULL) == 0);
    witness_view w;
    witness_read(&r, &w);
    if (w.has_chain_size && w.chain_size != off)
        v->chain_size++;
    const witness_view *p = &v->prev;
    if (v->have_prev) {
        if (w.claimed_ts < p->claimed_ts) {
            v->clock++;
        } else if (w.has_boot_id && p->has_boot_id && w.has_uptime && p->has_uptime &&
                   memcmp(w.boot_id, p->boot_id, 16) == 0) {
            __int128 dts = (__int128)w.claimed_ts - (__int128)p->claimed_ts;
            __int128 dup = (__int128)w.uptime_us - (__int128)p->uptime_us;
            __int128 gap = dts - dup, moved = dup < 0 ? -dup : dup;
            if ((gap < 0 ? -gap : gap) > 1000000 + moved / 1000)
                v->clock++;
        }
    }
    v->prev = w;
    v->have_prev = true;
}

/* SPEC 4.4: 0 not a rotation, 1 a valid one (new key in *new_key), -1 malformed. */
static int ref_rotation(const ac_rec *r, uint8_t new_key[AC_PUBKEY_SIZE])
{
    static const char ct[] = "soosef/key-rotation-v1";
    if (r->content_type_len != sizeof ct - 1 || memcmp(r->content_type, ct, sizeof ct - 1) != 0)
        return 0;
    size_t pos;
    det_token t;
    if (det_map_find(r->metadata, r->metadata_len, "new_pubkey", &pos) != 0 ||
        det_token_read(r->metadata, r->metadata_len, &pos, &t) != 0 || t.type != DET_TEXT ||
        t.val != 64)
        return -1;
    for (size_t i = 0; i < 64; i++) {
        uint8_t ch = t.data[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return -1;
    }
    char hex[65];
    memcpy(hex, t.data, 64);
    hex[64] = '\0';
    FUZZ_SETUP(ac_hex_decode(hex, new_key, AC_PUBKEY_SIZE, NULL) == AC_OK);
    uint8_t h[AC_HASH_SIZE];
    sha256(new_key, AC_PUBKEY_SIZE, h);
    if (memcmp(new_key, r->signer, AC_PUBKEY_SIZE) == 0 ||
        memcmp(h, r->content_hash, AC_HASH_SIZE) != 0)
        return -1;
    return 1;
}

/* The checks of one complete frame, in the table's order: 0 or a reason. */
static int ref_record(const uint8_t *body, uint32_t len, uint64_t i, authority *auth,
                      uint8_t prev[AC_HASH_SIZE])
{
    static const uint8_t zero[AC_HASH_SIZE];
    ac_rec r;
    if (rec_decode(body, len, &r, NULL) != 0)
        return AC_REASON_DECODE;
    if (r.chain_index != i)
        return AC_REASON_INDEX;
    if (i == 0 && memcmp(r.prev_hash, zero, AC_HASH_SIZE) != 0)
        return AC_REASON_GENESIS;
    if (i > 0 && memcmp(r.prev_hash, prev, AC_HASH_SIZE) != 0)
        return AC_REASON_LINK;
    uint8_t *canon = malloc(len);
    FUZZ_SETUP(canon != NULL);
    size_t clen = rec_canonical(body, len, &r, canon);
    bool sig_ok = crypto_sign_verify_detached(r.signature, canon, clen, r.signer) == 0;
    free(canon);
    if (!sig_ok)
        return AC_REASON_SIGNATURE;
    if (i == 0)
        memcpy(auth->key, r.signer, AC_PUBKEY_SIZE);
    if (memcmp(r.signer, auth->key, AC_PUBKEY_SIZE) != 0)
        return AC_REASON_UNAUTHORIZED;
    uint8_t new_key[AC_PUBKEY_SIZE];
    int rot = ref_rotation(&r, new_key);
    if (rot < 0)
        return AC_REASON_ROTATION;
    if (rot > 0)
        authority_rotate_to(auth, new_key);
    sha256(body, len, prev);
    return 0;
}

static ref_verdict ref_verify(const uint8_t *buf, size_t size)
{
    ref_verdict v = {.valid = true};
    authority *auth = calloc(1, sizeof *auth);
    FUZZ_SETUP(auth != NULL);
    uint8_t prev[AC_HASH_SIZE] = {0};
    size_t off = 0;
    while (off < size) {
        size_t left = size - off;
        uint32_t len = left >= 4 ? be32(buf + off) : 0;
        bool bad_len = left >= 4 && (len == 0 || len > AC_MAX_RECORD_SIZE);
        if (left < 4 || bad_len || len > left - 4) {
            /* Incomplete, or a prefix of 0 or over the limit (revision 2):
             * a torn tail, unless a record starts inside it. */
            if (frame_record_inside(buf + off, left)) {
                v.reason = AC_REASON_FRAME;
            } else {
                v.torn = true;
                v.torn_off = off;
                v.torn_len = left;
            }
            break;
        }
        v.reason = ref_record(buf + off + 4, len, v.records, auth, prev);
        if (v.reason != 0)
            break;
        ref_witnesses(&v, buf + off + 4, len, off);
        v.records++;
        off += 4 + (size_t)len;
    }
    v.valid = v.reason == 0;
    free(auth);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    size_t n = size - 1;
    uint8_t *chain;
    if (flags & FV_REFRAME) {
        chain = reframe(data + 1, n, &n);
    } else {
        chain = malloc(n ? n : 1);
        FUZZ_SETUP(chain != NULL);
        memcpy(chain, data + 1, n);
    }
    repair(chain, n, flags);
    ref_verdict want = ref_verify(chain, n);
    verdict got = chain_checks_run(chain, n);
    FUZZ_CHECK(got.valid == (int)want.valid && got.records == want.records &&
                   got.reason == want.reason &&
                   got.fail == (want.valid ? -1 : (int64_t)want.records),
               "ac_verify: valid %d, %llu records, fail %lld reason %s; reference: valid %d, "
               "%llu records, reason %s",
               got.valid, (unsigned long long)got.records, (long long)got.fail,
               ac_reason_name((ac_reason)got.reason), want.valid,
               (unsigned long long)want.records, ac_reason_name((ac_reason)want.reason));
    if (want.valid)
        FUZZ_CHECK(got.torn == want.torn &&
                       (!want.torn || (got.torn_warn.offset == want.torn_off &&
                                       got.torn_warn.bytes == want.torn_len)),
                   "torn tail: ac_verify %d at %llu (%llu bytes), reference %d at %llu (%llu)",
                   got.torn, (unsigned long long)got.torn_warn.offset,
                   (unsigned long long)got.torn_warn.bytes, want.torn,
                   (unsigned long long)want.torn_off, (unsigned long long)want.torn_len);
    FUZZ_CHECK(got.by_code[AC_WARN_CLOCK] == want.clock &&
                   got.by_code[AC_WARN_CHAIN_SIZE] == want.chain_size,
               "warnings: ac_verify %llu clock, %llu chain_size; reference %llu, %llu",
               (unsigned long long)got.by_code[AC_WARN_CLOCK],
               (unsigned long long)got.by_code[AC_WARN_CHAIN_SIZE],
               (unsigned long long)want.clock, (unsigned long long)want.chain_size);
    free(chain);
    return 0;
}
