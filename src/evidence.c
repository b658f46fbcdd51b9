/* Evidence of a fork (docs/format.md section 15.3): a text file that anyone
 * checks offline with the log's verifier keys alone.  Decision: the checks
 * are the ones every other part of the library already makes, never copies
 * of them: checkpoints are parsed and verified as signed notes, the
 * "larger tree at the smaller size" claim is an RFC 6962 consistency proof
 * (ac_merkle_check_tree), and two records are judged by the fold
 * (fold_prepare, fold_step) on top of the prefix that shows who was
 * authorized, exactly as verification would judge them.  The writer only
 * formats; the tool checks what it wrote before it keeps it. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define HEADER "attestchain-evidence v1\n"
#define KIND_CHECKPOINTS "kind checkpoints\n"
#define KIND_RECORDS "kind records\n"
#define OLD_ROOT "old-root-at-larger "
#define EM_DASH_SP "\xe2\x80\x94 "

size_t ac_base64_encode(const uint8_t *in, size_t len, char *out)
{
    return b64_encode(in, len, out);
}

ac_status ac_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap,
                           size_t *out_len, ac_error *err)
{
    if (text == NULL || out == NULL || out_len == NULL ||
        b64_decode(text, len, out, cap, out_len) != 0)
        return ac_fail(err, AC_EINVAL, -1, "not canonical base64 of at most %zu bytes", cap);
    return AC_OK;
}

/* ---------------------------------------------------------------- writing */

static void put_b64_line(det_buf *b, const char *tag, const uint8_t *data, size_t len)
{
    char *text = malloc(4 * ((len + 2) / 3) + 1);
    if (text == NULL) {
        b->failed = true;
        return;
    }
    size_t n = b64_encode(data, len, text);
    if (tag != NULL)
        det_put(b, tag, strlen(tag));
    det_put(b, text, n);
    det_put(b, "\n", 1);
    free(text);
}

static int finish(det_buf *b, char **out, size_t *len, ac_error *err)
{
    det_put(b, "", 1); /* NUL, not counted */
    if (b->failed) {
        det_buf_free(b);
        return ac_fail(err, AC_ENOMEM, -1, "out of memory");
    }
    *out = (char *)b->data;
    *len = b->len - 1;
    return AC_OK;
}

ac_status ac_evidence_checkpoints(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                  const uint8_t *old_root_at_larger,
                                  const uint8_t (*proof)[AC_HASH_SIZE], size_t count, char **out,
                                  size_t *len, ac_error *err)
{
    if (a == NULL || b == NULL || out == NULL || len == NULL ||
        (count > 0 && (proof == NULL || old_root_at_larger == NULL)) ||
        count > AC_MERKLE_MAX_PROOF)
        return ac_fail(err, AC_EINVAL, -1, "evidence: two checkpoints needed (and a proof of "
                       "at most %d hashes with its root)", AC_MERKLE_MAX_PROOF);
    if (alen == 0 || blen == 0 || a[alen - 1] != '\n' || b[blen - 1] != '\n')
        return ac_fail(err, AC_EINVAL, -1, "evidence: a checkpoint does not end with a newline");
    det_buf buf = {0};
    det_put(&buf, HEADER KIND_CHECKPOINTS, strlen(HEADER KIND_CHECKPOINTS));
    if (old_root_at_larger != NULL)
        put_b64_line(&buf, OLD_ROOT, old_root_at_larger, AC_HASH_SIZE);
    for (size_t i = 0; i < count; i++)
        put_b64_line(&buf, NULL, proof[i], AC_HASH_SIZE);
    det_put(&buf, "\n", 1);
    det_put(&buf, a, alen);
    det_put(&buf, "\n", 1);
    det_put(&buf, b, blen);
    return finish(&buf, out, len, err);
}

ac_status ac_evidence_records(const uint8_t *const *prefix, const size_t *prefix_lens,
                              size_t nprefix, const uint8_t *a, size_t alen, const uint8_t *b,
                              size_t blen, char **out, size_t *len, ac_error *err)
{
    if (a == NULL || b == NULL || out == NULL || len == NULL ||
        (nprefix > 0 && (prefix == NULL || prefix_lens == NULL)))
        return ac_fail(err, AC_EINVAL, -1, "evidence: two frames needed");
    det_buf buf = {0};
    det_put(&buf, HEADER KIND_RECORDS, strlen(HEADER KIND_RECORDS));
    for (size_t i = 0; i < nprefix; i++)
        put_b64_line(&buf, "prefix ", prefix[i], prefix_lens[i]);
    put_b64_line(&buf, "frame ", a, alen);
    put_b64_line(&buf, "frame ", b, blen);
    return finish(&buf, out, len, err);
}

/* ---------------------------------------------------------------- reading */

typedef struct line {
    const char *p;
    size_t n; /* without the newline */
} line;

/* The next line at *pos (which must end with a newline). */
static bool next_line(const char *text, size_t len, size_t *pos, line *out)
{
    if (*pos >= len)
        return false;
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (nl == NULL)
        return false;
    out->p = text + *pos;
    out->n = (size_t)(nl - out->p);
    *pos += out->n + 1;
    return true;
}

static bool has_prefix(const line *l, const char *tag)
{
    size_t t = strlen(tag);
    return l->n >= t && memcmp(l->p, tag, t) == 0;
}

/* A 0 answer: the file proves nothing; `err` says why. */
static int no(ac_error *err, const char *why)
{
    ac_fail(err, AC_ECORRUPT, -1, "evidence: %s", why);
    return 0;
}

/* A base64 hash after `skip` bytes of the line: 0, or -1 if it is not one. */
static int decode_hash(const line *l, size_t skip, uint8_t out[AC_HASH_SIZE])
{
    size_t got;
    if (l->n <= skip || b64_decode(l->p + skip, l->n - skip, out, AC_HASH_SIZE, &got) != 0)
        return -1;
    return got == AC_HASH_SIZE ? 0 : -1;
}

/* Splits the two notes after the header: the first ends after its
 * signature lines, at an empty line. */
static int split_notes(const char *t, size_t len, size_t pos, size_t *a_end, ac_error *err)
{
    const char *blank = memmem(t + pos, len - pos, "\n\n", 2);
    if (blank == NULL)
        return no(err, "the first checkpoint has no signature");
    size_t p = (size_t)(blank - t) + 2;
    line l;
    size_t at = p;
    while (next_line(t, len, &at, &l) && has_prefix(&l, EM_DASH_SP))
        p = at;
    if (p >= len || t[p] != '\n')
        return no(err, "no empty line between the two checkpoints");
    *a_end = p;
    return 1;
}

static int check_checkpoints(const char *t, size_t len, size_t pos, const ac_vkey *const *keys,
                             size_t nkeys, ac_evidence_info *info, ac_error *err)
{
    uint8_t old_root[AC_HASH_SIZE], proof[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE];
    bool have_old = false;
    size_t count = 0;
    line l;
    bool blank = false;
    while (!blank && next_line(t, len, &pos, &l)) {
        if (l.n == 0)
            blank = true;
        else if (!have_old && count == 0 && has_prefix(&l, OLD_ROOT)) {
            if (decode_hash(&l, strlen(OLD_ROOT), old_root) != 0)
                return no(err, "a bad old-root-at-larger line");
            have_old = true;
        } else if (have_old && count < AC_MERKLE_MAX_PROOF &&
                   decode_hash(&l, 0, proof[count]) == 0) {
            count++;
        } else {
            return no(err, "a line that is not a consistency-proof hash");
        }
    }
    if (!blank)
        return no(err, "no checkpoints");
    size_t a_end = 0;
    int ok = split_notes(t, len, pos, &a_end, err);
    if (ok != 1)
        return ok;
    ac_checkpoint *cp[2] = {NULL, NULL};
    int rc = ac_checkpoint_parse((const uint8_t *)t + pos, a_end - pos, &cp[0], err);
    if (rc == AC_OK)
        rc = ac_checkpoint_parse((const uint8_t *)t + a_end + 1, len - a_end - 1, &cp[1], err);
    int verdict = rc == AC_ECORRUPT ? 0 : rc;
    for (int i = 0; rc == AC_OK && i < 2; i++) {
        verdict = ac_checkpoint_verify(cp[i], keys, nkeys, err);
        if (verdict != 1)
            rc = verdict < 0 ? verdict : AC_ECORRUPT;
    }
    if (rc == AC_OK) {
        uint64_t sa = ac_checkpoint_size(cp[0]), sb = ac_checkpoint_size(cp[1]);
        int small = sa <= sb ? 0 : 1;
        const ac_checkpoint *s = cp[small], *g = cp[1 - small];
        snprintf(info->origin, sizeof info->origin, "%s", ac_checkpoint_origin(cp[0]));
        info->size_a = sa;
        info->size_b = sb;
        if (strcmp(ac_checkpoint_origin(cp[0]), ac_checkpoint_origin(cp[1])) != 0) {
            verdict = no(err, "the checkpoints are of two origins");
        } else if (sa == sb && have_old) {
            verdict = no(err, "old-root-at-larger for checkpoints of one size");
        } else if (sa == sb) {
            verdict = 1;
            if (memcmp(ac_checkpoint_root(s), ac_checkpoint_root(g), AC_HASH_SIZE) == 0)
                verdict = no(err, "the checkpoints agree: one size, one root");
        } else if (!have_old || ac_checkpoint_size(s) == 0) {
            verdict = no(err, "checkpoints of two sizes need old-root-at-larger "
                         "and the consistency proof");
        } else if (memcmp(old_root, ac_checkpoint_root(s), AC_HASH_SIZE) == 0) {
            verdict = no(err, "the larger tree has the smaller one's root: "
                         "consistent, no fork");
        } else {
            verdict = ac_merkle_check_tree((const uint8_t(*)[AC_HASH_SIZE])proof, count,
                                           ac_checkpoint_size(s), old_root, ac_checkpoint_size(g),
                                           ac_checkpoint_root(g), err);
            if (verdict == 0)
                no(err, "the consistency proof does not show old-root-at-larger "
                   "in the larger tree");
        }
    }
    ac_checkpoint_free(cp[0]);
    ac_checkpoint_free(cp[1]);
    return verdict;
}

static bool trusted(const uint8_t key[AC_PUBKEY_SIZE], const ac_vkey *const *keys, size_t nkeys)
{
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i] != NULL && ac_vkey_type(keys[i]) == AC_VKEY_ED25519 &&
            sodium_memcmp(ac_vkey_pubkey(keys[i]), key, AC_PUBKEY_SIZE) == 0)
            return true;
    return false;
}

typedef struct frames {
    uint8_t **body;
    size_t *len, n, cap;
} frames;

static int frames_add(frames *f, const line *l, size_t skip)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        uint8_t **b = realloc(f->body, cap * sizeof *b);
        if (b != NULL)
            f->body = b;
        size_t *n = realloc(f->len, cap * sizeof *n);
        if (n != NULL)
            f->len = n;
        if (b == NULL || n == NULL)
            return AC_ENOMEM;
        f->cap = cap;
    }
    size_t max = (l->n - skip) / 4 * 3;
    uint8_t *body = max > 0 && max <= AC_MAX_RECORD_SIZE + 2 ? malloc(max) : NULL;
    size_t got;
    if (body == NULL || b64_decode(l->p + skip, l->n - skip, body, max, &got) != 0 || got == 0 ||
        got > AC_MAX_RECORD_SIZE) {
        free(body);
        return AC_ECORRUPT;
    }
    f->body[f->n] = body;
    f->len[f->n++] = got;
    return AC_OK;
}

static void frames_free(frames *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->body[i]);
    free(f->body);
    free(f->len);
}

/* Folds the prefix (every signature checked), then each frame on its own
 * copy: both must be records the history authorizes there. */
static int judge_records(frames *pre, frames *fr, const ac_vkey *const *keys, size_t nkeys,
                         ac_evidence_info *info, ac_error *err)
{
    ac_hasher *h = hasher_new();
    uint8_t *scratch = malloc(AC_MAX_RECORD_SIZE);
    fold base, each;
    uint8_t prev[AC_HASH_SIZE], signer_a[AC_PUBKEY_SIZE];
    fold_init(&base);
    fold_init(&each);
    int verdict = h && scratch ? 1 : ac_fail(err, AC_ENOMEM, -1, "out of memory");
    size_t total = pre->n + 2;
    for (size_t i = 0; verdict == 1 && i < total; i++) {
        bool is_frame = i >= pre->n;
        fold_in in = {.off = base.st.chain_size,
                      .body = is_frame ? fr->body[i - pre->n] : pre->body[i],
                      .len = (uint32_t)(is_frame ? fr->len[i - pre->n] : pre->len[i])};
        fold_prepare(&in, h, scratch, true);
        fold *into = &base;
        if (is_frame) {
            fold_free(&each);
            if (fold_copy(&each, &base) != AC_OK) {
                verdict = ac_fail(err, AC_ENOMEM, -1, "out of memory");
                break;
            }
            into = &each;
        }
        const char *detail;
        int rc;
        uint64_t index = into->st.record_count;
        if (pre->n == 0 && is_frame && in.decoded) {
            /* No prefix: the history starts at the frames, whose signer
             * must be a trusted key; fold_step sees them as record 0. */
            into->st.record_count = index = in.rec.chain_index;
            memcpy(into->st.head_hash, in.rec.prev_hash, AC_HASH_SIZE);
            memcpy(into->st.signer, in.rec.signer, AC_PUBKEY_SIZE);
            memcpy(into->genesis, in.rec.signer, AC_PUBKEY_SIZE);
        }
        ac_reason reason = fold_step(into, &in, &detail, &rc);
        if (rc != AC_OK) {
            verdict = ac_fail(err, rc, -1, "out of memory");
        } else if (reason != AC_REASON_NONE) {
            ac_fail(err, AC_ECORRUPT, (int64_t)index, "evidence: %s record %llu: %s: %s",
                    is_frame ? "forked" : "prefix", (unsigned long long)index,
                    ac_reason_name(reason), detail);
            verdict = 0;
        } else if (is_frame) {
            uint8_t signer[AC_PUBKEY_SIZE];
            fold_key_at(&each, index, signer);
            bool first = i == pre->n;
            if (first) {
                info->index = index;
                memcpy(info->hash_a, in.hash, AC_HASH_SIZE);
                memcpy(prev, in.rec.prev_hash, AC_HASH_SIZE);
                memcpy(signer_a, signer, AC_PUBKEY_SIZE);
            } else {
                memcpy(info->hash_b, in.hash, AC_HASH_SIZE);
            }
            if (index == 0)
                verdict = no(err, "two records 0 begin two chains, not a fork");
            else if (!first && (index != info->index ||
                                memcmp(prev, in.rec.prev_hash, AC_HASH_SIZE) != 0))
                verdict = no(err, "the frames differ in chain_index or prev_hash");
            else if (!first && memcmp(signer, signer_a, AC_PUBKEY_SIZE) != 0)
                verdict = no(err, "the frames are signed by two keys: one of "
                             "them is not authorized there");
            else if (!trusted(signer, keys, nkeys) &&
                     !(pre->n > 0 && trusted(base.genesis, keys, nkeys)))
                verdict = no(err, "the frames are not signed by a key the "
                             "verifier keys authorize");
        }
    }
    if (verdict == 1 && memcmp(info->hash_a, info->hash_b, AC_HASH_SIZE) == 0)
        verdict = no(err, "the two frames are one record");
    fold_free(&base);
    fold_free(&each);
    hasher_free(h);
    free(scratch);
    return verdict;
}

static int check_records(const char *t, size_t len, size_t pos, const ac_vkey *const *keys,
                         size_t nkeys, ac_evidence_info *info, ac_error *err)
{
    frames pre = {0}, fr = {0};
    line l;
    int rc = AC_OK;
    while (rc == AC_OK && next_line(t, len, &pos, &l)) {
        if (has_prefix(&l, "prefix ") && fr.n == 0)
            rc = frames_add(&pre, &l, strlen("prefix "));
        else if (has_prefix(&l, "frame ") && fr.n < 2)
            rc = frames_add(&fr, &l, strlen("frame "));
        else
            rc = AC_ECORRUPT;
    }
    int verdict;
    if (rc == AC_ENOMEM)
        verdict = ac_fail(err, rc, -1, "out of memory");
    else if (rc != AC_OK || pos != len || fr.n != 2)
        verdict = no(err, "kind records takes prefix lines, then two frame "
                     "lines, each a record in base64");
    else
        verdict = judge_records(&pre, &fr, keys, nkeys, info, err);
    frames_free(&pre);
    frames_free(&fr);
    return verdict;
}

int ac_evidence_verify(const uint8_t *evidence, size_t len, const ac_vkey *const *keys,
                       size_t nkeys, ac_evidence_info *info, ac_error *err)
{
    if (evidence == NULL || info == NULL || (nkeys > 0 && keys == NULL))
        return ac_fail(err, AC_EINVAL, -1, "evidence: nothing to check");
    memset(info, 0, sizeof *info);
    const char *t = (const char *)evidence;
    if (memchr(t, '\0', len) != NULL || len < strlen(HEADER) ||
        memcmp(t, HEADER, strlen(HEADER)) != 0)
        return no(err, "not an evidence file (its first line is not '"
                  "attestchain-evidence v1')");
    size_t pos = strlen(HEADER);
    if (len - pos >= strlen(KIND_CHECKPOINTS) &&
        memcmp(t + pos, KIND_CHECKPOINTS, strlen(KIND_CHECKPOINTS)) == 0) {
        info->kind = AC_EVIDENCE_CHECKPOINTS;
        return check_checkpoints(t, len, pos + strlen(KIND_CHECKPOINTS), keys, nkeys, info, err);
    }
    if (len - pos >= strlen(KIND_RECORDS) &&
        memcmp(t + pos, KIND_RECORDS, strlen(KIND_RECORDS)) == 0) {
        info->kind = AC_EVIDENCE_RECORDS;
        return check_records(t, len, pos + strlen(KIND_RECORDS), keys, nkeys, info, err);
    }
    return no(err, "an unknown kind (known: checkpoints, records)");
}
