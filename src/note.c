/* Signed notes (C2SP signed-note v1), verifier keys, checkpoints
 * (tlog-checkpoint) and witness cosignatures (tlog-cosignature v1).
 *
 * Decision: one strict parser, then separate checks.  A note is parsed whole
 * before any key is consulted, with the rules of the spec and of the Go
 * checksum database's note package (its de facto reference): valid UTF-8, no
 * control character but newline, the text up to the last empty line,
 * signature lines `— <name> <base64>` with a valid key name and canonical
 * standard base64 of at least 5 bytes, at most AC_NOTE_MAX_SIGNATURES of
 * them.  Anything else is malformed, whatever keys the caller trusts.  The
 * checks then match lines to keys by name and key id: a line of an unknown
 * key is ignored (it may be a witness, or a key type this library does not
 * know), a line of a known key must verify or the whole note is rejected,
 * and the same known key twice is malformed.  Log signatures (type 0x01)
 * and cosignatures (type 0x04) go through the same matching with their own
 * message, so a cosignature can never pass for a log signature. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static const char sig_prefix[] = "\xe2\x80\x94 "; /* U+2014 EM DASH, SPACE */
enum { SIG_PREFIX_LEN = sizeof sig_prefix - 1, KEY_ID_SIZE = 4, TIMESTAMP_SIZE = 8 };
enum { ED25519_SIG_LINE = KEY_ID_SIZE + AC_SIGNATURE_SIZE,
       COSIG_LINE = KEY_ID_SIZE + TIMESTAMP_SIZE + AC_SIGNATURE_SIZE };

/* ---------------------------------------------------------------- base64 */

size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
    return cap - 1;
}

int b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap + 2)
        return -1;
    const char *end = NULL;
    size_t got = 0;
    if (sodium_base642bin(out, cap, s, n, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + n)
        return -1;
    /* libsodium refuses stray bits and bad padding; this makes sure that the
     * text is the one encoding of the bytes, whatever the library version. */
    enum { CHUNK = 384 }; /* bytes re-encoded at a time: a multiple of 3 */
    char check[CHUNK / 3 * 4 + 1];
    size_t done = 0;
    while (done < got) {
        size_t chunk = got - done < CHUNK ? got - done : CHUNK;
        size_t enc = b64_encode(out + done, chunk, check);
        if (memcmp(check, s + done / 3 * 4, enc) != 0)
            return -1;
        done += chunk;
    }
    *out_len = got;
    return 0;
}

/* ---------------------------------------------------------------- names */

/* The code point at s (valid UTF-8), and its length. */
static uint32_t utf8_next(const uint8_t *s, size_t *len)
{
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xe0) {
        *len = 2;
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    }
    if (s[0] < 0xf0) {
        *len = 3;
        return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    }
    *len = 4;
    return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
           (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* Unicode White_Space (what Go's unicode.IsSpace answers). */
static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

bool note_name_valid(const char *name, size_t len)
{
    const uint8_t *s = (const uint8_t *)name;
    if (len == 0 || len > AC_NOTE_MAX_NAME || !det_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t c = utf8_next(s + i, &n);
        if (c < 0x20 || c == 0x7f || c == '+' || is_space(c))
            return false;
        i += n;
    }
    return true;
}

/* ---------------------------------------------------------------- verifier keys */

struct ac_vkey {
    char *name;
    unsigned type;
    uint32_t id;
    uint8_t pub[AC_PUBKEY_SIZE];
};

static uint32_t key_id(const char *name, size_t len, unsigned type, const uint8_t pub[32])
{
    crypto_hash_sha256_state st;
    uint8_t h[crypto_hash_sha256_BYTES];
    uint8_t sep[2] = {0x0a, (uint8_t)type};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, len);
    crypto_hash_sha256_update(&st, sep, sizeof sep);
    crypto_hash_sha256_update(&st, pub, AC_PUBKEY_SIZE);
    crypto_hash_sha256_final(&st, h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

static int vkey_make(const char *name, size_t len, unsigned type, const uint8_t pub[32],
                     ac_vkey **out, ac_error *err)
{
    if (!note_name_valid(name, len))
        return ac_fail(err, AC_EINVAL, -1,
                       "vkey: the key name '%.*s' is not 1 to %u bytes of text without spaces or '+'",
                       (int)(len > 64 ? 64 : len), name, AC_NOTE_MAX_NAME);
    if (type != AC_VKEY_ED25519 && type != AC_VKEY_COSIGNATURE)
        return ac_fail(err, AC_EINVAL, -1,
                       "vkey: key type 0x%02x is not supported (0x01 Ed25519, 0x04 cosignature)",
                       type);
    ac_vkey *k = calloc(1, sizeof *k);
    char *copy = malloc(len + 1);
    if (k == NULL || copy == NULL) {
        free(k);
        free(copy);
        return ac_fail(err, AC_ENOMEM, -1, "vkey: out of memory");
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    k->name = copy;
    k->type = type;
    memcpy(k->pub, pub, AC_PUBKEY_SIZE);
    k->id = key_id(name, len, type, pub);
    *out = k;
    return AC_OK;
}

ac_status ac_vkey_new(const char *name, unsigned type, const uint8_t pubkey[AC_PUBKEY_SIZE],
                      ac_vkey **out, ac_error *err)
{
    if (name == NULL || pubkey == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "vkey: no name or key");
    return vkey_make(name, strlen(name), type, pubkey, out, err);
}

void ac_vkey_free(ac_vkey *vkey)
{
    if (vkey == NULL)
        return;
    free(vkey->name);
    free(vkey);
}

ac_status ac_vkey_parse(const char *text, ac_vkey **out, ac_error *err)
{
    if (text == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "vkey: no key string");
    const char *p1 = strchr(text, '+');
    const char *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
    if (p1 == NULL || p2 == NULL)
        return ac_fail(err, AC_EINVAL, -1,
                       "vkey: not a verifier key (want NAME+KEYID+BASE64, two '+')");
    if (p2 - p1 - 1 != 8)
        return ac_fail(err, AC_EINVAL, -1, "vkey: the key id is not 8 hex digits");
    uint32_t id = 0;
    for (int i = 0; i < 8; i++) { /* lowercase hex only: one spelling per key */
        char c = p1[1 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return ac_fail(err, AC_EINVAL, -1, "vkey: the key id is not 8 lowercase hex digits");
        id = id << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    const char *b = p2 + 1;
    size_t blen = strlen(b);
    uint8_t raw[1 + AC_PUBKEY_SIZE + 3];
    size_t got;
    if (b64_decode(b, blen, raw, sizeof raw, &got) != 0)
        return ac_fail(err, AC_EINVAL, -1, "vkey: the key is not canonical base64");
    if (got != 1 + AC_PUBKEY_SIZE)
        return ac_fail(err, AC_EINVAL, -1,
                       "vkey: the key holds %zu bytes, not a type byte and a 32-byte Ed25519 key",
                       got);
    ac_vkey *k;
    int rc = vkey_make(text, (size_t)(p1 - text), raw[0], raw + 1, &k, err);
    if (rc != AC_OK)
        return rc;
    if (id != k->id) {
        ac_vkey_free(k);
        return ac_fail(err, AC_EINVAL, -1, "vkey: the key id does not match the name and key");
    }
    *out = k;
    return AC_OK;
}

ac_status ac_vkey_string(const ac_vkey *vkey, char **out, ac_error *err)
{
    uint8_t raw[1 + AC_PUBKEY_SIZE];
    raw[0] = (uint8_t)vkey->type;
    memcpy(raw + 1, vkey->pub, AC_PUBKEY_SIZE);
    size_t cap = strlen(vkey->name) + 1 + 8 + 1 + 4 * ((sizeof raw + 2) / 3) + 1;
    char *s = malloc(cap);
    if (s == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "vkey: out of memory");
    int w = snprintf(s, cap, "%s+%08" PRIx32 "+", vkey->name, vkey->id);
    b64_encode(raw, sizeof raw, s + w);
    *out = s;
    return AC_OK;
}

const char *ac_vkey_name(const ac_vkey *vkey) { return vkey->name; }
unsigned ac_vkey_type(const ac_vkey *vkey) { return vkey->type; }
uint32_t ac_vkey_id(const ac_vkey *vkey) { return vkey->id; }
const uint8_t *ac_vkey_pubkey(const ac_vkey *vkey) { return vkey->pub; }

/* ---------------------------------------------------------------- parsing */

static int malformed(ac_error *err, const char *what)
{
    return ac_fail(err, AC_ECORRUPT, -1, "note: %s", what);
}

int note_parse(const uint8_t *buf, size_t len, note *out, ac_error *err)
{
    memset(out, 0, sizeof *out);
    if (len > AC_NOTE_MAX_SIZE)
        return ac_fail(err, AC_ECORRUPT, -1, "note: larger than %u bytes", AC_NOTE_MAX_SIZE);
    if (!det_utf8_valid(buf, len))
        return malformed(err, "not valid UTF-8");
    for (size_t i = 0; i < len; i++)
        if (buf[i] < 0x20 && buf[i] != '\n')
            return malformed(err, "a control character other than newline");
    /* The text ends at the last empty line. */
    size_t split = len;
    for (size_t i = len; i >= 2; i--)
        if (buf[i - 1] == '\n' && buf[i - 2] == '\n') {
            split = i - 2;
            break;
        }
    if (split == len)
        return malformed(err, "no empty line before the signatures (truncated?)");
    out->text = buf;
    out->text_len = split + 1;
    size_t pos = split + 2;
    if (pos == len)
        return malformed(err, "no signature line");
    if (buf[len - 1] != '\n')
        return malformed(err, "the last signature line does not end with a newline (truncated?)");
    while (pos < len) {
        const uint8_t *line = buf + pos;
        const uint8_t *nl = memchr(line, '\n', len - pos);
        size_t llen = (size_t)(nl - line);
        pos += llen + 1;
        if (out->nsigs == AC_NOTE_MAX_SIGNATURES)
            return ac_fail(err, AC_ECORRUPT, -1, "note: more than %d signature lines",
                           AC_NOTE_MAX_SIGNATURES);
        if (llen < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
            return malformed(err, "a signature line does not start with an em dash and a space");
        const char *name = (const char *)line + SIG_PREFIX_LEN;
        size_t rest = llen - SIG_PREFIX_LEN;
        const char *sp = memchr(name, ' ', rest);
        if (sp == NULL)
            return malformed(err, "a signature line has no space after the key name");
        size_t nlen = (size_t)(sp - name);
        if (!note_name_valid(name, nlen))
            return malformed(err, "a signature line's key name is empty or has a space or '+'");
        const char *b = sp + 1;
        size_t blen = rest - nlen - 1;
        note_sig *s = &out->sigs[out->nsigs];
        /* Signatures this library checks are at most COSIG_LINE bytes;
         * longer ones (other key types) are decoded to check their form only. */
        uint8_t big[AC_NOTE_MAX_SIZE / 4 * 3 + 3];
        size_t got;
        if (b64_decode(b, blen, big, sizeof big, &got) != 0)
            return malformed(err, "a signature is not canonical base64");
        if (got < KEY_ID_SIZE + 1)
            return malformed(err, "a signature is shorter than 5 bytes");
        s->name = name;
        s->name_len = nlen;
        s->id = (uint32_t)big[0] << 24 | (uint32_t)big[1] << 16 | (uint32_t)big[2] << 8 | big[3];
        s->len = got - KEY_ID_SIZE;
        memcpy(s->sig, big + KEY_ID_SIZE, s->len < sizeof s->sig ? s->len : sizeof s->sig);
        out->nsigs++;
    }
    return AC_OK;
}

/* ---------------------------------------------------------------- checking */

/* The cosignature message: "cosignature/v1\ntime <t>\n" and the text. */
static int cosig_message(const note *n, uint64_t t, uint8_t **msg, size_t *len)
{
    char head[64];
    int w = snprintf(head, sizeof head, "cosignature/v1\ntime %" PRIu64 "\n", t);
    *msg = malloc((size_t)w + n->text_len);
    if (*msg == NULL)
        return AC_ENOMEM;
    memcpy(*msg, head, (size_t)w);
    memcpy(*msg + w, n->text, n->text_len);
    *len = (size_t)w + n->text_len;
    return AC_OK;
}

/* Whether signature line s of a known key verifies. */
static int sig_verifies(const note *n, const note_sig *s, const ac_vkey *k, ac_error *err)
{
    if (k->type == AC_VKEY_ED25519)
        return s->len == AC_SIGNATURE_SIZE &&
               crypto_sign_verify_detached(s->sig, n->text, n->text_len, k->pub) == 0;
    if (s->len != TIMESTAMP_SIZE + AC_SIGNATURE_SIZE)
        return 0;
    uint64_t t = 0;
    for (int i = 0; i < TIMESTAMP_SIZE; i++)
        t = t << 8 | s->sig[i];
    if (t > (uint64_t)INT64_MAX)
        return 0;
    uint8_t *msg;
    size_t mlen;
    if (cosig_message(n, t, &msg, &mlen) != AC_OK)
        return ac_fail(err, AC_ENOMEM, -1, "note: out of memory");
    int ok = crypto_sign_verify_detached(s->sig + TIMESTAMP_SIZE, msg, mlen, k->pub) == 0;
    free(msg);
    return ok;
}

int note_check(const note *n, const ac_vkey *const *keys, size_t nkeys, unsigned type,
               const char *origin, size_t *valid, ac_error *err)
{
    if (sodium_init() < 0)
        return ac_fail(err, AC_ECRYPTO, -1, "libsodium failed to initialise");
    bool seen[AC_NOTE_MAX_SIGNATURES] = {false}; /* per line: its key already matched */
    size_t count = 0;
    for (size_t i = 0; i < n->nsigs; i++) {
        const note_sig *s = &n->sigs[i];
        const ac_vkey *k = NULL;
        for (size_t j = 0; j < nkeys && k == NULL; j++) {
            const ac_vkey *c = keys[j];
            if (c != NULL && c->type == type && c->id == s->id &&
                strlen(c->name) == s->name_len && memcmp(c->name, s->name, s->name_len) == 0 &&
                (origin == NULL || strcmp(c->name, origin) == 0))
                k = c;
        }
        if (k == NULL)
            continue; /* an unknown key: ignored, as the spec says */
        for (size_t j = 0; j < i; j++)
            if (seen[j] && n->sigs[j].id == s->id && n->sigs[j].name_len == s->name_len &&
                memcmp(n->sigs[j].name, s->name, s->name_len) == 0)
                return ac_fail(err, AC_ECORRUPT, -1, "note: two signatures of the key %s+%08" PRIx32,
                               k->name, k->id);
        seen[i] = true;
        int ok = sig_verifies(n, s, k, err);
        if (ok < 0)
            return ok;
        if (!ok)
            return ac_fail(err, AC_ECORRUPT, -1,
                           "note: the %s of %s+%08" PRIx32 " does not verify",
                           type == AC_VKEY_ED25519 ? "signature" : "cosignature", k->name, k->id);
        count++;
    }
    *valid = count;
    return AC_OK;
}

int ac_note_verify(const uint8_t *buf, size_t len, const ac_vkey *const *keys, size_t nkeys,
                   size_t *text_len, ac_error *err)
{
    if (buf == NULL || (keys == NULL && nkeys > 0))
        return ac_fail(err, AC_EINVAL, -1, "note: no note or keys");
    note n;
    size_t valid;
    int rc = note_parse(buf, len, &n, err);
    if (rc == AC_OK)
        rc = note_check(&n, keys, nkeys, AC_VKEY_ED25519, NULL, &valid, err);
    if (rc == AC_ECORRUPT)
        return 0;
    if (rc != AC_OK)
        return rc;
    if (valid == 0) {
        ac_fail(err, AC_ECORRUPT, -1, "note: not signed by any of the %zu trusted keys", nkeys);
        return 0;
    }
    if (text_len != NULL)
        *text_len = n.text_len;
    return 1;
}

/* ---------------------------------------------------------------- checkpoints */

struct ac_checkpoint {
    uint8_t *buf; /* the note verbatim */
    size_t len;
    note n; /* points into buf */
    char origin[AC_NOTE_MAX_NAME + 1];
    uint64_t size;
    uint8_t root[AC_HASH_SIZE];
};

static int bad_checkpoint(ac_error *err, const char *what)
{
    return ac_fail(err, AC_ECORRUPT, -1, "checkpoint: %s", what);
}

/* A tree size: decimal, no sign, no leading zero, at most INT64_MAX. */
bool parse_decimal(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = v;
    return true;
}

/* The body: origin, size, root, then non-empty extension lines. */
static int parse_body(ac_checkpoint *cp, ac_error *err)
{
    const char *t = (const char *)cp->n.text;
    size_t len = cp->n.text_len, pos = 0;
    const char *line[3];
    size_t llen[3];
    for (int i = 0; i < 3; i++) {
        const char *nl = pos < len ? memchr(t + pos, '\n', len - pos) : NULL;
        if (nl == NULL)
            return bad_checkpoint(err, "fewer than three lines (origin, size, root)");
        line[i] = t + pos;
        llen[i] = (size_t)(nl - line[i]);
        pos += llen[i] + 1;
    }
    if (llen[0] == 0 || llen[0] > AC_NOTE_MAX_NAME)
        return bad_checkpoint(err, "the origin line is empty or too long");
    memcpy(cp->origin, line[0], llen[0]);
    cp->origin[llen[0]] = '\0';
    if (!parse_decimal(line[1], llen[1], &cp->size))
        return bad_checkpoint(err, "the size is not a decimal number without leading zeros");
    uint8_t root[AC_HASH_SIZE + 3];
    size_t got;
    if (b64_decode(line[2], llen[2], root, sizeof root, &got) != 0 || got != AC_HASH_SIZE)
        return bad_checkpoint(err, "the root is not the canonical base64 of 32 bytes");
    memcpy(cp->root, root, AC_HASH_SIZE);
    while (pos < len) { /* extension lines: opaque, never empty */
        const char *nl = memchr(t + pos, '\n', len - pos);
        if (nl == t + pos)
            return bad_checkpoint(err, "an empty extension line");
        pos = (size_t)(nl - t) + 1;
    }
    return AC_OK;
}

ac_status ac_checkpoint_parse(const uint8_t *buf, size_t len, ac_checkpoint **out, ac_error *err)
{
    if (buf == NULL || out == NULL)
        return ac_fail(err, AC_EINVAL, -1, "checkpoint: no data");
    if (len > AC_NOTE_MAX_SIZE)
        return ac_fail(err, AC_ECORRUPT, -1, "checkpoint: larger than %u bytes", AC_NOTE_MAX_SIZE);
    ac_checkpoint *cp = calloc(1, sizeof *cp);
    uint8_t *copy = malloc(len ? len : 1);
    if (cp == NULL || copy == NULL) {
        free(cp);
        free(copy);
        return ac_fail(err, AC_ENOMEM, -1, "checkpoint: out of memory");
    }
    memcpy(copy, buf, len);
    cp->buf = copy;
    cp->len = len;
    int rc = note_parse(copy, len, &cp->n, err);
    if (rc == AC_OK)
        rc = parse_body(cp, err);
    if (rc != AC_OK) {
        ac_checkpoint_free(cp);
        return rc;
    }
    *out = cp;
    return AC_OK;
}

void ac_checkpoint_free(ac_checkpoint *cp)
{
    if (cp == NULL)
        return;
    free(cp->buf);
    free(cp);
}

const char *ac_checkpoint_origin(const ac_checkpoint *cp) { return cp->origin; }
uint64_t ac_checkpoint_size(const ac_checkpoint *cp) { return cp->size; }
const uint8_t *ac_checkpoint_root(const ac_checkpoint *cp) { return cp->root; }

const uint8_t *ac_checkpoint_bytes(const ac_checkpoint *cp, size_t *len)
{
    *len = cp->len;
    return cp->buf;
}

const uint8_t *ac_checkpoint_text(const ac_checkpoint *cp, size_t *len)
{
    *len = cp->n.text_len;
    return cp->n.text;
}

int ac_checkpoint_verify(const ac_checkpoint *cp, const ac_vkey *const *keys, size_t nkeys,
                         ac_error *err)
{
    size_t valid;
    int rc = note_check(&cp->n, keys, nkeys, AC_VKEY_ED25519, cp->origin, &valid, err);
    if (rc == AC_ECORRUPT)
        return 0;
    if (rc != AC_OK)
        return rc;
    if (valid == 0) {
        ac_fail(err, AC_ECORRUPT, -1,
                "checkpoint: not signed by a trusted key of its origin '%.64s'", cp->origin);
        return 0;
    }
    return 1;
}

int ac_checkpoint_verify_witnesses(const ac_checkpoint *cp, const ac_vkey *const *witnesses,
                                   size_t nwitnesses, size_t needed, size_t *valid, ac_error *err)
{
    size_t got = 0;
    int rc = note_check(&cp->n, witnesses, nwitnesses, AC_VKEY_COSIGNATURE, NULL, &got, err);
    if (valid != NULL)
        *valid = got;
    if (rc == AC_ECORRUPT)
        return 0;
    if (rc != AC_OK)
        return rc;
    if (got < needed) {
        ac_fail(err, AC_ECORRUPT, -1, "checkpoint: %zu of the %zu witness cosignatures needed",
                got, needed);
        return 0;
    }
    return 1;
}

/* "— <name> <base64(raw)>\n" appended to a buffer of cap bytes at *used. */
static void put_sig_line(char *out, size_t *used, const char *name, const uint8_t *raw, size_t n)
{
    memcpy(out + *used, sig_prefix, SIG_PREFIX_LEN);
    *used += SIG_PREFIX_LEN;
    size_t nl = strlen(name);
    memcpy(out + *used, name, nl);
    *used += nl;
    out[(*used)++] = ' ';
    *used += b64_encode(raw, n, out + *used);
    out[(*used)++] = '\n';
}

static size_t sig_line_cap(const char *name, size_t n)
{
    return SIG_PREFIX_LEN + strlen(name) + 1 + 4 * ((n + 2) / 3) + 2;
}

ac_status ac_checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[AC_HASH_SIZE],
                             const ac_key *key, char **out, size_t *len, ac_error *err)
{
    if (origin == NULL || root == NULL || key == NULL || out == NULL || len == NULL)
        return ac_fail(err, AC_EINVAL, -1, "checkpoint: missing argument");
    if (!note_name_valid(origin, strlen(origin)))
        return ac_fail(err, AC_EINVAL, -1,
                       "checkpoint: the origin '%.64s' is not 1 to %u bytes without spaces or '+'",
                       origin, AC_NOTE_MAX_NAME);
    if (size > (uint64_t)INT64_MAX)
        return ac_fail(err, AC_EINVAL, -1, "checkpoint: size %" PRIu64 " is too large", size);
    char b64root[4 * ((AC_HASH_SIZE + 2) / 3) + 1];
    b64_encode(root, AC_HASH_SIZE, b64root);
    size_t cap = strlen(origin) + 1 + 20 + 1 + sizeof b64root + 2 +
                 sig_line_cap(origin, ED25519_SIG_LINE);
    char *s = malloc(cap);
    if (s == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "checkpoint: out of memory");
    int w = snprintf(s, cap, "%s\n%" PRIu64 "\n%s\n", origin, size, b64root);
    size_t text_len = (size_t)w;
    uint8_t pub[AC_PUBKEY_SIZE], raw[ED25519_SIG_LINE];
    ac_key_pubkey(key, pub);
    uint32_t id = key_id(origin, strlen(origin), AC_VKEY_ED25519, pub);
    raw[0] = (uint8_t)(id >> 24), raw[1] = (uint8_t)(id >> 16), raw[2] = (uint8_t)(id >> 8);
    raw[3] = (uint8_t)id;
    key_sign(key, (const uint8_t *)s, text_len, raw + KEY_ID_SIZE);
    size_t used = text_len;
    s[used++] = '\n';
    put_sig_line(s, &used, origin, raw, sizeof raw);
    s[used] = '\0';
    *out = s;
    *len = used;
    return AC_OK;
}

ac_status ac_checkpoint_cosign(const uint8_t *buf, size_t len, const char *name, const ac_key *key,
                               uint64_t timestamp, char **out, size_t *out_len, ac_error *err)
{
    if (buf == NULL || name == NULL || key == NULL || out == NULL || out_len == NULL)
        return ac_fail(err, AC_EINVAL, -1, "cosign: missing argument");
    if (!note_name_valid(name, strlen(name)))
        return ac_fail(err, AC_EINVAL, -1, "cosign: the witness name '%.64s' is not valid", name);
    if (timestamp > (uint64_t)INT64_MAX)
        return ac_fail(err, AC_EINVAL, -1, "cosign: timestamp above 2^63-1");
    ac_checkpoint *cp;
    int rc = ac_checkpoint_parse(buf, len, &cp, err);
    if (rc != AC_OK)
        return rc;
    uint8_t *msg = NULL;
    size_t mlen;
    if (cp->n.nsigs == AC_NOTE_MAX_SIGNATURES)
        rc = ac_fail(err, AC_EINVAL, -1, "cosign: the checkpoint already has %d signatures",
                     AC_NOTE_MAX_SIGNATURES);
    else if (cosig_message(&cp->n, timestamp, &msg, &mlen) != AC_OK)
        rc = ac_fail(err, AC_ENOMEM, -1, "cosign: out of memory");
    ac_checkpoint_free(cp);
    if (rc != AC_OK)
        return rc;
    uint8_t pub[AC_PUBKEY_SIZE], raw[COSIG_LINE];
    ac_key_pubkey(key, pub);
    uint32_t id = key_id(name, strlen(name), AC_VKEY_COSIGNATURE, pub);
    for (int i = 0; i < KEY_ID_SIZE; i++)
        raw[i] = (uint8_t)(id >> (24 - 8 * i));
    for (int i = 0; i < TIMESTAMP_SIZE; i++)
        raw[KEY_ID_SIZE + i] = (uint8_t)(timestamp >> (56 - 8 * i));
    key_sign(key, msg, mlen, raw + KEY_ID_SIZE + TIMESTAMP_SIZE);
    free(msg);
    size_t cap = len + sig_line_cap(name, sizeof raw) + 1;
    char *s = malloc(cap);
    if (s == NULL)
        return ac_fail(err, AC_ENOMEM, -1, "cosign: out of memory");
    memcpy(s, buf, len);
    size_t used = len;
    put_sig_line(s, &used, name, raw, sizeof raw);
    s[used] = '\0';
    *out = s;
    *out_len = used;
    return AC_OK;
}
