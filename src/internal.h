/* Internal interfaces between the library's source files. Not installed. */
#ifndef AC_INTERNAL_H
#define AC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attestchain.h"

#if defined(__GNUC__)
#define AC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AC_PRINTF(f, a)
#endif

/* ---------------------------------------------------------------- error.c */

/* Fills `err` (if not NULL) and returns `code`.  The message is formatted
 * from `fmt`; callers put the file and record index into it. */
int ac_fail(ac_error *err, int code, int64_t index, const char *fmt, ...) AC_PRINTF(4, 5);

/* As ac_fail for a failed system call: keeps `errno` and appends strerror. */
int ac_fail_errno(ac_error *err, int code, int64_t index, const char *fmt, ...) AC_PRINTF(4, 5);

/* Clears `err` to AC_OK. */
void ac_error_clear(ac_error *err);

/* ---------------------------------------------------------------- cbor.c */
/* Deterministic CBOR (section 3 of the format) on top of libcbor's streaming
 * decoder and encoders. */

typedef enum det_type {
    DET_UINT,
    DET_NEGINT, /* value -1 - val */
    DET_BYTES,
    DET_TEXT,
    DET_ARRAY,
    DET_MAP,
    DET_FALSE,
    DET_TRUE,
    DET_NULL,
} det_type;

typedef struct det_token {
    det_type type;
    uint64_t val;        /* integer argument; element/pair count; string length */
    const uint8_t *data; /* string bytes (DET_BYTES, DET_TEXT) */
    size_t start, end;   /* offsets of the whole token (head and string bytes) */
} det_token;

/* Reads one token at *pos, rejecting anything outside the subset: non-shortest
 * heads, indefinite lengths, tags, floats, undefined, invalid UTF-8 text.
 * Advances *pos past it.  0 on success, -1 if not allowed or truncated. */
int det_token_read(const uint8_t *buf, size_t len, size_t *pos, det_token *tok);

/* Checks one complete item at *pos (recursively: map keys are text, unique and
 * in deterministic order; nesting within `depth_left` levels of maps and
 * arrays), and advances *pos past it.  0 or -1. */
int det_item_skip(const uint8_t *buf, size_t len, size_t *pos, int depth_left);

/* Looks up text key `key` in the deterministic map encoded at buf[0..len)
 * (already checked).  On success sets *value_pos to the offset of its value
 * and returns 0; -1 if the key is absent. */
int det_map_find(const uint8_t *buf, size_t len, const char *key, size_t *value_pos);

/* Length of the shortest head that carries argument v (1, 2, 3, 5 or 9). */
size_t det_head_len(uint64_t v);

/* RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
bool det_utf8_valid(const uint8_t *s, size_t n);

/* Compares the encoded forms of two map keys in deterministic order. */
int det_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* A growable output buffer for encoding. */
typedef struct det_buf {
    uint8_t *data;
    size_t len, cap;
    bool failed; /* an allocation failed; every later write is a no-op */
} det_buf;

void det_buf_free(det_buf *b);
void det_put(det_buf *b, const void *p, size_t n);
void det_put_uint(det_buf *b, uint64_t v);
void det_put_negint(det_buf *b, uint64_t v); /* encodes -1 - v */
void det_put_bytes(det_buf *b, const void *p, size_t n);
void det_put_text(det_buf *b, const char *s, size_t n);
void det_put_array(det_buf *b, size_t n);
void det_put_map(det_buf *b, size_t n);
void det_put_simple(det_buf *b, det_type t); /* DET_FALSE, DET_TRUE, DET_NULL */

/* ---------------------------------------------------------------- record.c */

typedef struct ac_hasher ac_hasher; /* hash.c */

/* A decoded record: a view whose pointers point into the frame body. */
typedef struct ac_rec {
    uint64_t version;
    uint64_t chain_index;
    uint64_t claimed_ts;
    const uint8_t *record_id;    /* 16 */
    const uint8_t *prev_hash;    /* 32 */
    const uint8_t *content_hash; /* 32 */
    const uint8_t *signer;       /* 32 */
    const uint8_t *signature;    /* 64 */
    const char *content_type;    /* not NUL-terminated */
    size_t content_type_len;
    const uint8_t *metadata; /* the encoded metadata map */
    size_t metadata_len;
    const uint8_t *witnesses; /* the encoded entropy_witnesses map */
    size_t witnesses_len;
    size_t sig_start, sig_end; /* the "signature" key and value within the body */
} ac_rec;

/* The 10 bytes every record begins with: a map of 11, "version", 1. */
extern const uint8_t ac_record_magic[10];

/* Decodes and checks a frame body as a record of section 4 in deterministic
 * CBOR.  0, or -1 with a short reason in *why (static string). */
int rec_decode(const uint8_t *body, size_t len, ac_rec *out, const char **why);

/* The canonical bytes (the body without its signature entry) into `out`,
 * which holds at least `len` bytes; returns their length. */
size_t rec_canonical(const uint8_t *body, size_t len, const ac_rec *rec, uint8_t *out);

/* The chain id a frame body gives as record 0: SHA-256 of its canonical
 * bytes.  Fills *rec (may be NULL) with the decoded view.  AC_OK,
 * AC_ECORRUPT (not a record), AC_ENOMEM, or the hasher's error. */
int rec_chain_id(const uint8_t *body, size_t len, ac_hasher *h, uint8_t out[AC_HASH_SIZE],
                 ac_rec *rec);

/* Whether the record is a rotation, and if so whether it is well formed
 * (section 4.4): sets *new_key.  Returns 0 not a rotation, 1 a valid
 * rotation, -1 a malformed one. */
int rec_rotation(const ac_rec *rec, uint8_t new_key[AC_PUBKEY_SIZE]);

/* Keys retired by rotations: SPEC 4.4 says a retired key is never
 * authorized again, so a rotation back to one leaves nobody authorized. */
typedef struct key_set {
    uint8_t (*keys)[AC_PUBKEY_SIZE];
    size_t n, cap;
} key_set;

bool key_set_has(const key_set *s, const uint8_t key[AC_PUBKEY_SIZE]);
int key_set_add(key_set *s, const uint8_t key[AC_PUBKEY_SIZE]); /* AC_OK or AC_ENOMEM */
void key_set_free(key_set *s);

/* Applies a valid rotation by the authorized key `signer` to `new_key`: the
 * old key is retired; `signer` becomes new_key, or all zeros (nobody, since
 * no valid signature has a zero key) if new_key was retired before.
 * AC_OK or AC_ENOMEM. */
int authority_rotate(key_set *retired, uint8_t signer[AC_PUBKEY_SIZE],
                     const uint8_t new_key[AC_PUBKEY_SIZE]);

/* Fields of a record to write. */
typedef struct rec_fields {
    uint64_t chain_index;
    uint64_t claimed_ts;
    uint8_t record_id[AC_RECORD_ID_SIZE];
    uint8_t prev_hash[AC_HASH_SIZE];
    uint8_t content_hash[AC_HASH_SIZE];
    const char *content_type;
    const uint8_t *metadata; /* encoded deterministic map */
    size_t metadata_len;
    const uint8_t *witnesses; /* encoded deterministic map */
    size_t witnesses_len;
    uint8_t signer[AC_PUBKEY_SIZE];
} rec_fields;

/* Encodes, signs with `key` and frames a record: appends the 4-byte length
 * prefix and the body to `out`, and sets *body_off to the body's offset in
 * out.  AC_OK or a negative code (AC_EINVAL for an oversized record). */
int rec_build_frame(const rec_fields *f, const ac_key *key, det_buf *out, size_t *body_off,
                    ac_error *err);

/* A public record: an owned copy of the frame body and its decoded view.
 * Takes a copy of body; `hash` is its record hash. */
int record_new(const uint8_t *body, size_t len, uint64_t offset, const uint8_t hash[AC_HASH_SIZE],
               ac_record **out, const char **why);

/* As record_new, taking ownership of `buf` (freed on failure too), whose
 * body starts at buf + body_off. */
int record_adopt(uint8_t *buf, size_t body_off, size_t len, uint64_t offset,
                 const uint8_t hash[AC_HASH_SIZE], ac_record **out, const char **why);

/* A new UUIDv7 (RFC 9562) from `now_us` and 10 random bytes. */
void rec_uuid7(uint64_t now_us, const uint8_t random[10], uint8_t out[AC_RECORD_ID_SIZE]);

/* ---------------------------------------------------------------- meta.c */

/* The deterministic encoding of the metadata map (an empty map for NULL).
 * The returned pointer stays valid until the ac_meta is changed or freed. */
int meta_encoded(const ac_meta *meta, const uint8_t **out, size_t *len, ac_error *err);

/* A deterministic CBOR item (already checked) rendered as JSON text. */
int meta_cbor_to_json(const uint8_t *buf, size_t len, char **json, ac_error *err);

/* ---------------------------------------------------------------- key.c */

/* Ed25519 signature of msg with the key (libsodium). */
void key_sign(const ac_key *key, const uint8_t *msg, size_t len, uint8_t sig[AC_SIGNATURE_SIZE]);

/* ---------------------------------------------------------------- hash.c */

/* A reusable SHA-256 context (EVP_MD fetched once per chain, not per call). */
ac_hasher *hasher_new(void);
void hasher_free(ac_hasher *h);
int hasher_digest(ac_hasher *h, const void *data, size_t len, uint8_t out[AC_HASH_SIZE]);
/* SHA-256 of a || b. AC_OK, AC_EINVAL (no hasher, NULL data), AC_ECRYPTO. */
int hasher_digest2(ac_hasher *h, const void *a, size_t alen, const void *b, size_t blen,
                   uint8_t out[AC_HASH_SIZE]);

/* ---------------------------------------------------------------- witness.c */

/* The kernel's per-boot UUID; -1 where there is none (not Linux, no /proc).
 * It cannot change while a process runs, so a writer reads it once. */
int witness_boot_id(uint8_t out[16]);

/* The entropy witnesses of section 5 for a frame at `chain_size`, encoded as
 * a deterministic map into `out`; `boot_id` is NULL where there is none. */
void witness_collect(const uint8_t *boot_id, uint64_t chain_size, det_buf *out);

/* Warnings from the witnesses of two consecutive records (prev may be NULL). */
typedef struct witness_view {
    bool has_boot_id, has_uptime, has_chain_size;
    uint8_t boot_id[16];
    uint64_t uptime_us, chain_size;
    uint64_t claimed_ts;
} witness_view;
void witness_read(const ac_rec *rec, witness_view *out);

/* ---------------------------------------------------------------- frame.c */

/* A window of chain.bin read in large chunks, split into frames in place.
 * Frame bodies handed out point into the window and stay valid until the
 * next fwin_refill. */
typedef struct frame_win {
    int fd;
    uint64_t end;  /* file size considered */
    uint8_t *buf;
    size_t cap;
    uint64_t base; /* file offset of buf[0] */
    size_t len;    /* bytes held */
    size_t next;   /* buffer offset of the next frame */
} frame_win;

typedef enum fwin_status {
    FW_FRAME,   /* a complete frame */
    FW_REFILL,  /* the next frame is not wholly in the window: call fwin_refill */
    FW_END,     /* clean end of file */
    FW_TORN,    /* an incomplete last frame: *off is its offset */
    FW_BAD_LEN, /* a length prefix of 0 or over the limit at *off */
    FW_IO,      /* a read failed (errno set) */
} fwin_status;

/* A window over [start, end) of fd, with a buffer of `cap` bytes (at least
 * AC_MAX_RECORD_SIZE + 4). 0, or -1 out of memory. */
int fwin_init(frame_win *w, int fd, uint64_t start, uint64_t end, size_t cap);
void fwin_free(frame_win *w);

/* The next frame: its offset, body and body length. */
fwin_status fwin_next(frame_win *w, uint64_t *off, const uint8_t **body, uint32_t *len);

/* Drops the frames handed out and reads on. 0, or -1 (errno set). */
int fwin_refill(frame_win *w);

/* Reads the frame at `off` of `frame_len` bytes (prefix included), as the
 * index gives it, with one pread into a malloc'd buffer; the body is at
 * (*buf + 4).  AC_OK, AC_ECORRUPT (a prefix that disagrees), AC_EIO, AC_ENOMEM. */
int frame_read_exact(int fd, uint64_t off, uint64_t frame_len, uint8_t **buf);

/* Reads a whole frame at `off` with pread into a malloc'd buffer (*body, *len).
 * AC_OK, AC_ECORRUPT (bad prefix, past the end), AC_EIO, AC_ENOMEM. */
int frame_read_at(int fd, uint64_t off, uint64_t file_size, uint8_t **body, uint32_t *len);

/* Whether a complete record starts anywhere in buf[0..len) (section 7's test
 * of a frame that runs past the end of the file). */
bool frame_record_inside(const uint8_t *buf, size_t len);

/* Reads [off, end) of fd into a malloc'd buffer (at most AC_MAX_RECORD_SIZE +
 * 4 bytes are ever asked for). 0, or -1 (errno set). */
int read_span(int fd, uint64_t off, uint64_t end, uint8_t **out);

/* ---------------------------------------------------------------- chain.c */

struct ac_chain {
    char *dir;         /* as given, for messages */
    int dirfd;
    int fd;            /* chain.bin, or -1 while it does not exist */
    bool readonly;
    unsigned threads;  /* 0: one per online CPU */
    ac_hasher *hasher;
    bool have_state;   /* st describes the complete frames of chain.bin */
    bool head_checked; /* st's head was read and hashed, not only loaded */
    ac_state st;       /* record_count 0: empty chain */
    uint64_t torn_off, torn_len; /* an incomplete last frame seen at the last sync */
    bool owes_state;   /* this handle appended: it writes state.cbor on close */
    bool state_stale;  /* it rebuilt or rolled the state forward: writing
                          state.cbor on close saves the next open a scan */
    int boot_id_state; /* 0 not read yet, 1 boot_id holds it, -1 none */
    uint8_t boot_id[16];
    int idx_fd;        /* index.bin, or -1 */
    uint64_t idx_valid; /* leading entries of index.bin known to be right */
    uint64_t *mem_offs; /* offsets known after those, kept in memory when */
    uint64_t mem_first; /* index.bin cannot be written (read-only handles) */
    size_t mem_n;
};

#define AC_CHAIN_FILE "chain.bin"
#define AC_STATE_FILE "state.cbor"
#define AC_INDEX_FILE "index.bin"

/* Opens chain.bin if it exists and is not yet open. AC_OK or AC_EIO. */
int chain_open_file(ac_chain *c, bool create, ac_error *err);

/* Size of chain.bin (0 if it does not exist). */
int chain_file_size(ac_chain *c, uint64_t *size, ac_error *err);

/* Writes state.cbor for the current head, under the writers' lock (append.c). */
int chain_checkpoint(ac_chain *c, ac_error *err);

/* ---------------------------------------------------------------- state.c */

/* Brings c->st up to date with chain.bin: trusts the in-memory state or a
 * valid state.cbor only after checking them against the file, rolls forward
 * over frames appended since, rebuilds from scratch otherwise.  Notes an
 * incomplete tail in c->torn_*.  Without `check_head` a checkpoint that
 * covers the whole file is taken without reading its head record (opening
 * and reads by index, which check each record they read); appends and
 * anything that reports the head check it first.  AC_ECORRUPT when the chain's end is damaged
 * in a way that is not a torn tail. */
int state_sync(ac_chain *c, bool check_head, ac_error *err);

/* AC_ECORRUPT if state.cbor (ours or another writer's) says more was
 * committed than chain.bin holds: a writer never cuts or appends below it.
 * Sets *present to whether there is a state.cbor at all. */
int state_check_committed(ac_chain *c, bool *present, ac_error *err);

/* Writes state.cbor (temporary file, fsync, rename). */
int state_save(ac_chain *c, ac_error *err);

/* Removes state.cbor before the first append it would not reflect. */
int state_remove(ac_chain *c, ac_error *err);

/* Reads the authorized signer after record `before - 1` (from the rotation
 * history of records 0..before-1), the keys retired by then (into `retired`,
 * which the caller frees) and the hash of record before-1, by scanning
 * chain.bin. `before` >= 1. */
int state_history(ac_chain *c, uint64_t before, uint8_t signer[AC_PUBKEY_SIZE],
                  uint8_t prev_hash[AC_HASH_SIZE], uint64_t *next_off, key_set *retired,
                  ac_error *err);

/* ---------------------------------------------------------------- index.c */

/* Offset and length (prefix included) of the frame of record `i` (< record
 * count), through index.bin, brought up to date (or rebuilt) when needed.
 * AC_ECORRUPT when the offsets known make no sense: forget them and retry. */
int index_lookup(ac_chain *c, uint64_t i, uint64_t *off, uint64_t *frame_len, ac_error *err);

/* Drops every offset known (a damaged index.bin): the next lookup rebuilds. */
void index_forget(ac_chain *c);

/* Records that frames for records first..first+n-1 are at offs[]. Best
 * effort: the index is a cache. */
void index_note(ac_chain *c, uint64_t first, const uint64_t *offs, size_t n);

/* Closes index.bin. */
void index_close(ac_chain *c);

/* ---------------------------------------------------------------- merkle.c */

/* SHA-256(0x01 || left || right) with a caller's hasher. AC_OK or the
 * hasher's error. */
int merkle_node(ac_hasher *h, const uint8_t left[AC_HASH_SIZE], const uint8_t right[AC_HASH_SIZE],
                uint8_t out[AC_HASH_SIZE]);

/* ---------------------------------------------------------------- note.c */

/* Standard base64 with padding of n bytes into out (which holds
 * 4 * ceil(n / 3) + 1 chars, NUL-terminated); returns the text's length. */
size_t b64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes exactly the canonical standard base64 text s[0..n) (padding, no
 * stray bits, no whitespace; n > 0) into out[0..cap).  0 with *out_len, or
 * -1 if it is not that or does not fit. */
int b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* A signed-note key name: 1..AC_NOTE_MAX_NAME bytes of UTF-8, no control
 * character, no Unicode space, no '+'. */
bool note_name_valid(const char *name, size_t len);

/* A tree size or index: decimal digits, no leading zero (but "0"), at most
 * INT64_MAX.  true with *out, or false. */
bool parse_decimal(const char *s, size_t n, uint64_t *out);

/* One signature line of a note. */
typedef struct note_sig {
    const char *name; /* into the note; not NUL-terminated */
    size_t name_len;
    uint32_t id;
    size_t len;      /* bytes after the key id (any length for unknown types) */
    uint8_t sig[72]; /* the first of them: enough for a cosignature (8 + 64) */
} note_sig;

/* A parsed note: views into the caller's buffer. */
typedef struct note {
    const uint8_t *text; /* the text, with its final newline */
    size_t text_len;
    note_sig sigs[AC_NOTE_MAX_SIGNATURES];
    size_t nsigs;
} note;

/* Parses a signed note (form only, no key consulted).  AC_OK, or
 * AC_ECORRUPT with a one-line message. */
int note_parse(const uint8_t *buf, size_t len, note *out, ac_error *err);

/* Matches the note's lines to `keys` of signature type `type` (and name
 * `origin` unless NULL) and verifies those that match: *valid is the number
 * of distinct keys that verified.  AC_OK; AC_ECORRUPT if a matched line
 * does not verify or a key signed twice; AC_ENOMEM, AC_ECRYPTO. */
int note_check(const note *n, const ac_vkey *const *keys, size_t nkeys, unsigned type,
               const char *origin, size_t *valid, ac_error *err);

/* ---------------------------------------------------------------- util */

/* Current wall clock in µs since 1970. */
uint64_t ac_now_us(void);

#endif /* AC_INTERNAL_H */
