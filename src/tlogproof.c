/* Detached proofs (.tlog-proof, C2SP tlog-proof) that carry one record.
 *
 * Decision: a proof is judged on its bytes alone, and every failure after
 * the proof has been read is a verdict, not an error.  The file holds the
 * record itself (the required `extra` line: its frame body), its index, the
 * inclusion proof and the signed checkpoint, so a verifier needs nothing but
 * the keys it trusts: it recomputes the leaf hash from the record, decodes
 * the record and ties its chain_index to the index, checks the checkpoint's
 * signature, the inclusion in the checkpoint's root, the record's own
 * signature, that its signer is trusted, and optionally the content's hash
 * and K witness cosignatures.  The checks run in that fixed order and the
 * first that fails names the verdict, so one bad proof always gets one
 * reason.  Errors are kept for what stops the check itself (memory). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static const char proof_header[] = "c2sp.org/tlog-proof@v1\n";
enum { HEADER_LEN = sizeof proof_header - 1, B64_HASH_LEN = 44 };

/* ---------------------------------------------------------------- writing */

ac_status ac_proof_write(uint64_t index, const uint8_t *record, size_t record_len,
                         const uint8_t (*proof)[AC_HASH_SIZE], size_t count, const uint8_t *checkpoint,
                         size_t checkpoint_len, char **out, size_t *len, ac_error *err)
{
    if (record == NULL || checkpoint == NULL || out == NULL || len == NULL ||
        (proof == NULL && count > 0))
        return ac_fail(err, AC_EINVAL, -1, "proof: missing argument");
    if (record_len == 0 || record_len > AC_MAX_RECORD_SIZE || count > AC_MERKLE_MAX_PROOF ||
        index > (uint64_t)INT64_MAX)
        return ac_fail(err, AC_EINVAL, (int64_t)(index & INT64_MAX),
                       "proof: a record of %zu bytes, %zu proof hashes or index %" PRIu64
                       " out of range",
                       record_len, count, index);
    ac_checkpoint *cp;
    int rc = ac_checkpoint_parse(checkpoint, checkpoint_len, &cp, err);
    if (rc != AC_OK)
        return rc;
    ac_checkpoint_free(cp);
    size_t cap = HEADER_LEN + 6 + 4 * ((record_len + 2) / 3) + 1 + 6 + 20 + 1 +
                 count * (B64_HASH_LEN + 1) + 1 + checkpoint_len + 1;
    char *s = malloc(cap);
    if (s == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "proof: out of memory");
    memcpy(s, proof_header, HEADER_LEN);
    size_t used = HEADER_LEN;
    memcpy(s + used, "extra ", 6);
    used += 6;
    used += b64_encode(record, record_len, s + used);
    used += (size_t)snprintf(s + used, cap - used, "\nindex %" PRIu64 "\n", index);
    for (size_t i = 0; i < count; i++) {
        used += b64_encode(proof[i], AC_HASH_SIZE, s + used);
        s[used++] = '\n';
    }
    s[used++] = '\n';
    memcpy(s + used, checkpoint, checkpoint_len);
    used += checkpoint_len;
    s[used] = '\0';
    *out = s;
    *len = used;
    return AC_OK;
}

/* ---------------------------------------------------------------- parsing */

typedef struct parsed {
    uint8_t *record; /* decoded extra */
    size_t record_len;
    uint64_t index;
    uint8_t hashes[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE];
    size_t count;
    const uint8_t *checkpoint; /* into the proof */
    size_t checkpoint_len;
} parsed;

/* The next line of buf[*pos..len) without its newline; NULL if no newline. */
static const char *next_line(const uint8_t *buf, size_t len, size_t *pos, size_t *llen)
{
    if (*pos >= len)
        return NULL;
    const uint8_t *start = buf + *pos;
    const uint8_t *nl = memchr(start, '\n', len - *pos);
    if (nl == NULL)
        return NULL;
    *llen = (size_t)(nl - start);
    *pos += *llen + 1;
    return (const char *)start;
}

static int bad_form(ac_error *err, const char *what)
{
    return ac_fail(err, AC_ECORRUPT, -1, "proof: %s", what);
}

static int parse_proof(const uint8_t *buf, size_t len, parsed *p, ac_error *err)
{
    if (len > AC_PROOF_MAX_SIZE)
        return ac_fail(err, AC_ECORRUPT, -1, "proof: larger than %u bytes", AC_PROOF_MAX_SIZE);
    if (len < HEADER_LEN || memcmp(buf, proof_header, HEADER_LEN) != 0)
        return bad_form(err, "the first line is not c2sp.org/tlog-proof@v1");
    size_t pos = HEADER_LEN, llen;
    const char *line = next_line(buf, len, &pos, &llen);
    if (line == NULL)
        return bad_form(err, "truncated after the first line");
    if (llen < 6 || memcmp(line, "extra ", 6) != 0)
        return bad_form(err, "no 'extra' line with the record (attestchain proofs carry it)");
    size_t cap = (llen - 6) / 4 * 3;
    if (cap == 0 || cap > AC_MAX_RECORD_SIZE + 2)
        return bad_form(err, "the 'extra' record is empty or larger than a record may be");
    p->record = malloc(cap);
    if (p->record == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "proof: out of memory");
    if (b64_decode(line + 6, llen - 6, p->record, cap, &p->record_len) != 0)
        return bad_form(err, "the 'extra' line is not canonical base64");
    if (p->record_len > AC_MAX_RECORD_SIZE)
        return bad_form(err, "the 'extra' record is larger than a record may be");
    line = next_line(buf, len, &pos, &llen);
    if (line == NULL)
        return bad_form(err, "truncated before the 'index' line");
    if (llen < 6 || memcmp(line, "index ", 6) != 0 || !parse_decimal(line + 6, llen - 6, &p->index))
        return bad_form(err, "no 'index N' line (a decimal without leading zeros)");
    for (;;) {
        line = next_line(buf, len, &pos, &llen);
        if (line == NULL)
            return bad_form(err, "truncated: no empty line before the checkpoint");
        if (llen == 0)
            break;
        if (p->count == AC_MERKLE_MAX_PROOF)
            return ac_fail(err, AC_ECORRUPT, -1, "proof: more than %d inclusion proof hashes",
                           AC_MERKLE_MAX_PROOF);
        uint8_t h[AC_HASH_SIZE + 3];
        size_t got;
        if (b64_decode(line, llen, h, sizeof h, &got) != 0 || got != AC_HASH_SIZE)
            return bad_form(err, "an inclusion proof line is not the canonical base64 of 32 bytes");
        memcpy(p->hashes[p->count++], h, AC_HASH_SIZE);
    }
    p->checkpoint = buf + pos;
    p->checkpoint_len = len - pos;
    return AC_OK;
}

/* ---------------------------------------------------------------- verdicts */

struct ac_proof_result {
    ac_proof_reason reason;
    char detail[sizeof ((ac_error *)0)->message];
    uint64_t index;
    ac_record *record;
    ac_checkpoint *checkpoint;
    size_t witnesses;
};

const char *ac_proof_reason_name(ac_proof_reason reason)
{
    static const char *const names[] = {
        [AC_PROOF_OK] = "",
        [AC_PROOF_FORMAT] = "format",
        [AC_PROOF_DECODE] = "decode",
        [AC_PROOF_INDEX] = "index",
        [AC_PROOF_CHECKPOINT] = "checkpoint",
        [AC_PROOF_INCLUSION] = "inclusion",
        [AC_PROOF_SIGNATURE] = "signature",
        [AC_PROOF_SIGNER] = "signer",
        [AC_PROOF_CONTENT] = "content",
        [AC_PROOF_WITNESSES] = "witnesses",
    };
    if ((unsigned)reason >= sizeof names / sizeof names[0])
        return "unknown";
    return names[reason];
}

static void verdict(ac_proof_result *r, ac_proof_reason reason, const char *fmt, ...)
    AC_PRINTF(3, 4);

static void verdict(ac_proof_result *r, ac_proof_reason reason, const char *fmt, ...)
{
    r->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

static bool signer_trusted(const uint8_t signer[AC_PUBKEY_SIZE], const ac_proof_policy *pol)
{
    for (size_t i = 0; i < pol->n_log_keys; i++)
        if (pol->log_keys[i] != NULL && ac_vkey_type(pol->log_keys[i]) == AC_VKEY_ED25519 &&
            sodium_memcmp(ac_vkey_pubkey(pol->log_keys[i]), signer, AC_PUBKEY_SIZE) == 0)
            return true;
    for (size_t i = 0; i < pol->n_signers; i++)
        if (memcmp(pol->signers[i], signer, AC_PUBKEY_SIZE) == 0)
            return true;
    return false;
}

/* The record's signature over its canonical bytes. -1 out of memory. */
static int record_signed(const ac_record *rec, const ac_rec *view)
{
    size_t len;
    const uint8_t *body = ac_record_bytes(rec, &len);
    uint8_t *canon = malloc(len);
    if (canon == NULL)
        return -1;
    size_t clen = rec_canonical(body, len, view, canon);
    int ok = crypto_sign_verify_detached(view->signature, canon, clen, view->signer) == 0;
    free(canon);
    return ok;
}

/* The checks after parsing, in their fixed order; AC_OK or an error that
 * stopped them (memory). */
static int judge(ac_proof_result *r, parsed *p, const ac_proof_policy *pol, ac_error *err)
{
    ac_error e;
    r->index = p->index;
    int rc = ac_checkpoint_parse(p->checkpoint, p->checkpoint_len, &r->checkpoint, &e);
    if (rc == AC_ENOMEM)
        return ac_fail(err, rc, -1, "%s", e.message);
    if (rc != AC_OK) {
        verdict(r, AC_PROOF_FORMAT, "the checkpoint: %s", e.message);
        return AC_OK;
    }
    ac_rec view;
    const char *why = "";
    uint8_t hash[AC_HASH_SIZE];
    if ((rc = ac_sha256(p->record, p->record_len, hash, err)) != AC_OK)
        return rc;
    rc = record_new(p->record, p->record_len, 0, hash, &r->record, &why);
    if (rc == AC_ENOMEM)
        return ac_fail(err, rc, -1, "proof: out of memory");
    size_t blen = 0;
    const uint8_t *body = rc == AC_OK ? ac_record_bytes(r->record, &blen) : NULL;
    if (rc != AC_OK || rec_decode(body, blen, &view, &why) != 0) {
        verdict(r, AC_PROOF_DECODE, "the record in 'extra' does not decode: %s", why);
        return AC_OK;
    }
    if (view.chain_index != p->index) {
        verdict(r, AC_PROOF_INDEX, "the record's chain_index is %" PRIu64 ", the proof's index %" PRIu64,
                view.chain_index, p->index);
        return AC_OK;
    }
    rc = ac_checkpoint_verify(r->checkpoint, pol->log_keys, pol->n_log_keys, &e);
    if (rc < 0)
        return ac_fail(err, rc, -1, "%s", e.message);
    if (rc == 0) {
        verdict(r, AC_PROOF_CHECKPOINT, "%s", e.message);
        return AC_OK;
    }
    uint8_t leaf[AC_HASH_SIZE];
    if ((rc = ac_merkle_leaf_hash(p->record, p->record_len, leaf, err)) != AC_OK)
        return rc;
    rc = ac_merkle_check_record((const uint8_t(*)[AC_HASH_SIZE])p->hashes, p->count, p->index, leaf,
                                ac_checkpoint_size(r->checkpoint), ac_checkpoint_root(r->checkpoint),
                                &e);
    if (rc < 0)
        return ac_fail(err, rc, -1, "%s", e.message);
    if (rc == 0) {
        verdict(r, AC_PROOF_INCLUSION, "record %" PRIu64 " in the tree of %" PRIu64 " records: %s",
                p->index, ac_checkpoint_size(r->checkpoint), e.message);
        return AC_OK;
    }
    int sig = record_signed(r->record, &view);
    if (sig < 0)
        return ac_fail(err, AC_ENOMEM, -1, "proof: out of memory");
    if (!sig) {
        verdict(r, AC_PROOF_SIGNATURE, "the record's signature does not verify");
        return AC_OK;
    }
    if (!signer_trusted(view.signer, pol)) {
        char hex[2 * AC_PUBKEY_SIZE + 1];
        ac_hex_encode(view.signer, AC_PUBKEY_SIZE, hex);
        verdict(r, AC_PROOF_SIGNER,
                "the record's signer %s is neither a verifier key's nor a trusted key", hex);
        return AC_OK;
    }
    if (pol->content_hash != NULL &&
        memcmp(pol->content_hash, view.content_hash, AC_HASH_SIZE) != 0) {
        verdict(r, AC_PROOF_CONTENT, "the content's SHA-256 is not the record's content_hash");
        return AC_OK;
    }
    if (pol->n_witnesses > 0 || pol->witnesses_needed > 0) {
        rc = ac_checkpoint_verify_witnesses(r->checkpoint, pol->witnesses, pol->n_witnesses,
                                            pol->witnesses_needed, &r->witnesses, &e);
        if (rc < 0)
            return ac_fail(err, rc, -1, "%s", e.message);
        if (rc == 0) {
            verdict(r, AC_PROOF_WITNESSES, "%s", e.message);
            return AC_OK;
        }
    }
    r->reason = AC_PROOF_OK;
    return AC_OK;
}

ac_status ac_proof_verify(const uint8_t *proof, size_t len, const ac_proof_policy *policy,
                          ac_proof_result **out, ac_error *err)
{
    if (proof == NULL || policy == NULL || out == NULL ||
        (policy->log_keys == NULL && policy->n_log_keys > 0) ||
        (policy->signers == NULL && policy->n_signers > 0) ||
        (policy->witnesses == NULL && policy->n_witnesses > 0))
        return ac_fail(err, AC_EINVAL, -1, "proof: missing argument");
    if (sodium_init() < 0)
        return ac_fail(err, AC_ECRYPTO, -1, "libsodium failed to initialise");
    ac_proof_result *r = calloc(1, sizeof *r);
    parsed *p = calloc(1, sizeof *p);
    if (r == NULL || p == NULL) {
        free(r);
        free(p);
        return ac_fail(err, AC_ENOMEM, -1, "proof: out of memory");
    }
    ac_error e;
    int rc = parse_proof(proof, len, p, &e);
    if (rc == AC_ENOMEM)
        ac_fail(err, rc, -1, "%s", e.message);
    else if (rc != AC_OK) {
        verdict(r, AC_PROOF_FORMAT, "%s", e.message);
        rc = AC_OK;
    } else {
        rc = judge(r, p, policy, err);
    }
    free(p->record);
    free(p);
    if (rc != AC_OK) {
        ac_proof_result_free(r);
        return rc;
    }
    *out = r;
    return AC_OK;
}

void ac_proof_result_free(ac_proof_result *r)
{
    if (r == NULL)
        return;
    ac_record_free(r->record);
    ac_checkpoint_free(r->checkpoint);
    free(r);
}

int ac_proof_result_valid(const ac_proof_result *r) { return r->reason == AC_PROOF_OK; }
                          ac_proof_reason ac_proof_result_reason(const ac_proof_result *r) { return r->reason; }
                          const char *ac_proof_result_detail(const ac_proof_result *r) { return r->detail; }
                          uint64_t ac_proof_result_index(const ac_proof_result *r) { return r->index; }
                          const ac_record *ac_proof_result_record(const ac_proof_result *r) { return r->record; }
                          const ac_checkpoint *ac_proof_result_checkpoint(const ac_proof_result *r) { return r->checkpoint; }
                          size_t ac_proof_result_witnesses(const ac_proof_result *r) { return r->witnesses; }
                          