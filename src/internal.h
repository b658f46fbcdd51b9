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

/* Keys retired by rotations: docs/format.md 4.4 says a retired key is never
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

/* AC_OK if `ct` is a content type of section 4 (1 to AC_MAX_CONTENT_TYPE
 * printable ASCII bytes), AC_EINVAL naming what is wrong otherwise. */
int rec_check_content_type(const char *ct, ac_error *err);

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

/* The decoded view of a public record (valid while the record lives). */
const ac_rec *record_view(const ac_record *rec);

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

/* ---------------------------------------------------------------- sshkey.c */
/* OpenSSH key files.  Each returns AC_OK or fails (AC_EKEY naming what is
 * wrong, AC_EPASSPHRASE, AC_ENOMEM, AC_ECRYPTO) with `path` in the message. */

/* The Ed25519 key in an OpenSSH private key file's text ("BEGIN OPENSSH
 * PRIVATE KEY"): its 32-byte seed and public key.  An encrypted key is
 * decrypted with pass[0..pass_len); pass NULL: AC_EPASSPHRASE. */
int ssh_private_parse(const uint8_t *text, size_t len, const char *path, const uint8_t *pass,
                      size_t pass_len, uint8_t seed[32], uint8_t pk[AC_PUBKEY_SIZE],
                      ac_error *err);

/* The public key of an OpenSSH private key file, kept in the clear even
 * when the key is encrypted. */
int ssh_private_pubkey(const uint8_t *text, size_t len, const char *path,
                       uint8_t pk[AC_PUBKEY_SIZE], ac_error *err);

/* An OpenSSH public key line: "ssh-ed25519 BASE64 [comment]". */
int ssh_public_parse(const uint8_t *text, size_t len, const char *path,
                     uint8_t pk[AC_PUBKEY_SIZE], ac_error *err);

/* The unencrypted OpenSSH private key file of the key, as text in *out
 * (*out_len bytes, from sodium_malloc: release with sodium_free, which wipes
 * it).  `comment` at most 1024 bytes. */
int ssh_private_encode(const uint8_t seed[32], const uint8_t pk[AC_PUBKEY_SIZE],
                       const char *comment, const char *path, char **out, size_t *out_len,
                       ac_error *err);

/* ---------------------------------------------------------------- bcrypt_pbkdf.c */

/* OpenBSD's bcrypt_pbkdf: key_len bytes from the passphrase and salt in
 * `rounds` rounds.  0, or -1 (arguments past its limits, no memory, OpenSSL
 * failed). */
int bcrypt_pbkdf(const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                 uint8_t *key, size_t key_len, unsigned rounds);

/* The first n (at most 1042) 32-bit words of the fractional part of pi:
 * Blowfish's initial P-array, then its S-boxes.  0 or -1 (no memory). */
int bf_pi_words(uint32_t *words, size_t n);

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
 * next fwin_refill, or with a second buffer (fwin_double) until the one
 * after: a refill then reads into the other buffer. */
typedef struct frame_win {
    int fd;
    uint64_t end;  /* file size considered */
    uint8_t *buf;
    uint8_t *spare; /* the other buffer, or NULL */
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
/* Gives the window its second buffer. 0, or -1 out of memory. */
int fwin_double(frame_win *w);

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

/* Whether a complete record starts anywhere in [off, end) of fd, read in
 * chunks (the tail after a damaged prefix can be most of the file).
 * 1 yes, 0 no, -1 a read failed (errno set). */
int frame_tail_has_record(int fd, uint64_t off, uint64_t end);

/* Reads [off, end) of fd into a malloc'd buffer (at most AC_MAX_RECORD_SIZE +
 * 4 bytes are ever asked for). 0, or -1 (errno set). */
int read_span(int fd, uint64_t off, uint64_t end, uint8_t **out);

/* Writes all of data at fd's position, through short writes and EINTR.
 * 0, or -1 (errno set: ENOSPC when the file took no more). */
int write_full(int fd, const void *data, size_t len);

/* ---------------------------------------------------------------- scan.c */

/* The frames of chain.bin in order, from a window (frame.c). */
typedef struct scanner {
    frame_win w;
    const char *dir;
    uint64_t index; /* chain index of the next frame */
    bool handed;    /* frames handed out since the window last moved */
} scanner;

enum {
    SCAN_FRAME,   /* a complete frame: off, body, len, index */
    SCAN_FLUSH,   /* the window is about to move: finish with the bodies handed
                     out so far (double-buffered: those handed out before the
                     previous SCAN_FLUSH), then call again */
    SCAN_END,     /* clean end: off is the end of the last frame */
    SCAN_TORN,    /* a torn tail (no record inside it) at off, tail_len bytes */
    SCAN_DAMAGED, /* a damaged length prefix at off (a record follows it);
                     `what` says which, and err holds the message */
};

typedef struct scan_frame {
    uint64_t off, index, tail_len;
    const uint8_t *body;
    uint32_t len;
    const char *what;
} scan_frame;

/* A scanner over [start_off, end) of fd whose first frame is record
 * first_index; `window` bytes of buffer (at least the largest frame).
 * AC_OK or AC_ENOMEM. */
int scan_init(scanner *s, int fd, const char *dir, uint64_t start_off, uint64_t first_index,
              uint64_t end, size_t window, ac_error *err);
void scan_free(scanner *s);

/* The next frame or end: a SCAN_ value (>= 0), or a negative ac_status (a
 * read failed; err filled).  SCAN_DAMAGED also fills err. */
int scan_next(scanner *s, scan_frame *f, ac_error *err);

/* What a status other than SCAN_FRAME or SCAN_FLUSH means in a range the
 * state says is complete: the error scan_next_record returns for it. */
int scan_end_error(scanner *s, int st, const scan_frame *f, ac_error *err);

/* The next frame of a range the state says is complete, used before the
 * next is asked for: AC_OK with *f; AC_ECORRUPT naming the record when the
 * file no longer holds it whole (damage, or cut since); a read error. */
int scan_next_record(scanner *s, scan_frame *f, ac_error *err);

/* ---------------------------------------------------------------- fold.c */

/* A rotation folded: record `index` at `offset` made `key` the authorized
 * key from index + 1 on (all zeros: nobody). */
typedef struct rotation {
    uint64_t index, offset;
    uint8_t key[AC_PUBKEY_SIZE];
} rotation;

/* What a prefix of the chain implies.  st.record_count is the next index,
 * st.head_hash the previous hash, st.chain_size where the next frame
 * starts, st.signer who may sign next; genesis and rot give the key
 * authorized at any index of the prefix. */
typedef struct fold {
    ac_state st;
    uint8_t genesis[AC_PUBKEY_SIZE];
    rotation *rot;
    size_t nrot, rot_cap;
    key_set retired;
    uint8_t *scratch; /* canonical bytes of the signatures the fold checks itself */
} fold;

/* One record on its way into the fold; fold_prepare fills all but the
 * frame (off, body, len). */
typedef struct fold_in {
    uint64_t off;
    const uint8_t *body;
    uint32_t len;
    bool decoded;
    const char *why; /* why it does not decode */
    ac_rec rec;
    uint8_t hash[AC_HASH_SIZE];
    int sig;      /* 1 verified, 0 failed, -1 not checked */
    int rotation; /* rec_rotation's answer (0 when not asked: not a rotation) */
    uint8_t new_key[AC_PUBKEY_SIZE];
    uint8_t chain_id[AC_HASH_SIZE]; /* record 0 only */
} fold_in;

void fold_init(fold *f);
void fold_free(fold *f);
/* A deep copy. AC_OK or AC_ENOMEM. */
int fold_copy(fold *dst, const fold *src);

/* Cuts the fold back to what records 0..n-1 imply of authority (the
 * rotations before n, the keys they retired, who signs record n); the
 * caller sets the previous hash and the offset.  AC_OK or AC_ENOMEM. */
int fold_truncate(fold *f, uint64_t n);

/* The key authorized to sign record `index` (< st.record_count + 1). */
void fold_key_at(const fold *f, uint64_t index, uint8_t key[AC_PUBKEY_SIZE]);

/* Decodes and hashes in->body; with check_sig also verifies its signature
 * by its signer_pubkey.  `scratch` holds the largest body. Thread-safe. */
void fold_prepare(fold_in *in, ac_hasher *h, uint8_t *scratch, bool check_sig);

/* Folds a valid rotation by the authorized key at record `index` (frame at
 * `off`) to new_key: retires the old key, records the rotation.  AC_OK or
 * AC_ENOMEM (the fold unchanged but for the retired set). */
int fold_rotate(fold *f, uint64_t index, uint64_t off, const uint8_t new_key[AC_PUBKEY_SIZE]);

/* Verifies a record's signature by `key`: 1 valid, 0 not, AC_ENOMEM. */
int fold_check_sig(fold *f, const uint8_t *body, size_t len, const ac_rec *rec,
                   const uint8_t key[AC_PUBKEY_SIZE]);

/* Applies the checks of section 8 to the next record, in the table's order,
 * and on success folds it in.  Returns AC_REASON_NONE (folded) or the first
 * reason it fails (the fold unchanged, *detail says why); *rc is AC_ENOMEM
 * when it could not decide. */
ac_reason fold_step(fold *f, fold_in *in, const char **detail, int *rc);

/* ---------------------------------------------------------------- pool.c */

#define POOL_MAX_THREADS 256
/* Below this many bytes to read, threads cost more than they save. */
#define POOL_THREADS_FROM (1u << 20)

/* Item i of a posted batch, with the calling thread's own hasher and
 * scratch (AC_MAX_RECORD_SIZE bytes).  Must be thread-safe across items. */
typedef void (*pool_fn)(void *ctx, size_t i, ac_hasher *h, uint8_t *scratch);

typedef struct pool pool;

/* A pool of threads - 1 helpers (threads 0: one per online CPU; at most
 * POOL_MAX_THREADS; none for 1: the caller then does all the work; fewer
 * when the system will not start more).  NULL out of memory. */
pool *pool_new(unsigned threads);
void pool_free(pool *p); /* NULL is fine */
/* Posts items 0..n-1 of fn, taken `take` at a time (a count that makes
 * the taking cheap beside the work): the helpers start on them at once. */
void pool_post(pool *p, pool_fn fn, void *ctx, size_t n, size_t take);
/* Works on the posted items beside the helpers until none is left, and
 * returns when all are done.  Nothing posted: returns at once. */
void pool_finish(pool *p, ac_hasher *h, uint8_t *scratch);
/* pool_post, then pool_finish. */
void pool_run(pool *p, pool_fn fn, void *ctx, size_t n, size_t take, ac_hasher *h,
              uint8_t *scratch);

/* ---------------------------------------------------------------- walk.c */

enum { WALK_FAILED = 100, WALK_RANGE_DONE, WALK_STOPPED };

typedef struct walk_opts {
    bool check_sig;   /* verify every signature (verification) */
    uint64_t end;     /* last index to fold; UINT64_MAX: to the end */
    unsigned threads; /* 0: one per online CPU */
    int (*each)(void *ctx, const fold_in *in); /* after each record folded:
                                                   nonzero stops the walk there */
    void (*progress)(void *ctx, uint64_t next_index);
    void *ctx;
} walk_opts;

typedef struct walk_end {
    int kind;         /* SCAN_END, SCAN_TORN, WALK_RANGE_DONE, WALK_FAILED, WALK_STOPPED */
    ac_reason reason; /* WALK_FAILED: why (AC_REASON_FRAME for a damaged prefix) */
    const char *detail;
    uint64_t index;   /* the failing record, or the first not folded */
    uint64_t off;     /* its offset (the torn tail's) */
    uint64_t tail_len;
} walk_end;

/* Folds the frames of chain.bin from f->st.chain_size up to `size` into f.
 * AC_OK when the walk ran (how it ended in *end), or an error when it could
 * not (I/O, memory). */
int chain_walk(ac_chain *c, fold *f, uint64_t size, const walk_opts *o, walk_end *end,
               ac_error *err);

/* Runs fold_prepare over batch[0..n) with up to `threads` threads (0: one
 * per online CPU), the caller's included.  AC_OK or AC_ENOMEM. */
int walk_prepare(fold_in *batch, size_t n, unsigned threads, bool check_sig);

/* ---------------------------------------------------------------- tree.c */

/* The right edge of a Merkle tree: the hashes of its complete subtrees, one
 * per set bit of its size, largest first (a "compact range"). */
typedef struct mrange {
    uint64_t size;
    size_t n;
    uint8_t h[64][AC_HASH_SIZE];
} mrange;

void mrange_init(mrange *r);

/* Adds a leaf hash; the hashes it stores (the leaf, then each subtree it
 * completes: merkle.c's stored hashes of the record) go to `stored` (may be
 * NULL) and their number to *nstored.  AC_OK, AC_EINVAL (tree full),
 * AC_ECRYPTO. */
int mrange_push(mrange *r, ac_hasher *h, const uint8_t leaf[AC_HASH_SIZE],
                uint8_t (*stored)[AC_HASH_SIZE], size_t *nstored);

/* The root of the tree the range is the edge of. AC_OK or AC_ECRYPTO. */
int mrange_root(const mrange *r, ac_hasher *h, uint8_t root[AC_HASH_SIZE]);

/* The right edge of the tree of `size` records, read from a store. */
int mrange_load(mrange *r, uint64_t size, ac_merkle_read_fn read, void *ctx, ac_error *err);

/* The leaf hash of a record's frame body. AC_OK or AC_ECRYPTO. */
int tree_leaf(ac_hasher *h, const uint8_t *body, size_t len, uint8_t out[AC_HASH_SIZE]);

/* An ac_merkle_read_fn over the chain's tree store; ctx is the chain. */
int tree_read(void *ctx, const uint64_t *idx, size_t n, uint8_t (*out)[AC_HASH_SIZE],
              ac_error *err);

/* Pushes the leaves of records r->size..n-1, hashed from chain.bin (by every
 * thread for a long span), into r; with `store`, also what they store (r
 * must then be the store's own range).  AC_OK, AC_ECORRUPT naming a record
 * the file no longer holds, AC_EIO, AC_ENOMEM, AC_ECRYPTO. */
int tree_push_chain(ac_chain *c, mrange *r, uint64_t n, bool store, ac_error *err);

/* Brings the state up to date, then the tree store to every record of it
 * (merkle.bin, or memory when it cannot be written). AC_OK or an error. */
int tree_sync(ac_chain *c, ac_error *err);

/* Tells the store about frames just appended for records first..: extended
 * when it ended at `first`, left to catch up otherwise. */
void tree_note_append(ac_chain *c, uint64_t first, const uint8_t *frames, size_t len);

/* Drops the store (a cache found wrong): the next tree_sync rebuilds it. */
void tree_forget(ac_chain *c);
void tree_close(ac_chain *c);

/* ---------------------------------------------------------------- checkpoint.c */

/* A file of checkpoints/: its size (from the name), bytes, and the
 * checkpoint parsed from them (NULL when it does not parse as one of that
 * size). */
typedef struct kept_cp {
    uint64_t size;
    uint8_t *bytes;
    size_t len;
    ac_checkpoint *cp;
} kept_cp;

/* Every file of checkpoints/ named by a size, sorted by size. AC_OK (none:
 * *n 0) or an error. */
int kept_list(ac_chain *c, kept_cp **out, size_t *n, ac_error *err);
void kept_free(kept_cp *k, size_t n);

/* The chain's origin and its kept checkpoints (kept_list). AC_OK or an
 * error. */
int kept_load(ac_chain *c, char origin[AC_NOTE_MAX_NAME + 1], kept_cp **k, size_t *n,
              ac_error *err);

/* The largest kept checkpoint of `least` to `most` records that is signed
 * under `origin` by the key authorized at its size; NULL if none. */
const kept_cp *kept_newest_signed(ac_chain *c, const kept_cp *k, size_t n, const char *origin,
                                  uint64_t least, uint64_t most);

/* The key authorized to sign a checkpoint of `size`: the one authorized to
 * sign record `size` (the chain's current signer past its end). */
void checkpoint_key(const fold *f, uint64_t size, uint8_t key[AC_PUBKEY_SIZE]);

/* 1 if the kept checkpoint is signed under `origin` by `key`, 0 if not,
 * AC_ENOMEM. */
int kept_signed(const kept_cp *k, const char *origin, const uint8_t key[AC_PUBKEY_SIZE]);

/* The chain's origin: checkpoints/origin, or the default for its chain id
 * (*fixed false).  AC_OK or AC_ECORRUPT (a damaged origin file), AC_EIO. */
int chain_origin(ac_chain *c, char out[AC_NOTE_MAX_NAME + 1], bool *fixed, ac_error *err);

/* The root of the tree of the first `size` records, from inputs a signature
 * vouches for: the newest signed checkpoint of at most `size` records (its
 * complete subtrees, from the store, must give its root) and the leaves
 * after it, hashed from chain.bin.  AC_ECORRUPT if chain.bin no longer gives
 * a signed root. */
int tree_root_checked(ac_chain *c, uint64_t size, uint8_t root[AC_HASH_SIZE], ac_error *err);

/* ---------------------------------------------------------------- chain.c */

struct ac_chain {
    char *dir;         /* as given, for messages */
    int dirfd;
    int fd;            /* chain.bin, or -1 while it does not exist */
    bool readonly;
    unsigned threads;  /* 0: one per online CPU */
    ac_hasher *hasher;
    bool have_state;   /* f describes a checked prefix of chain.bin */
    fold f;            /* f.st: the head state; record_count 0: empty chain */
    uint64_t seen_size, seen_ctime; /* chain.bin when f's verdict was reached */
    bool damaged;      /* a damaged record follows f's prefix: */
    uint64_t damage_index;
    ac_error damage;   /* appends refuse with this */
    uint64_t torn_off, torn_len; /* an incomplete last frame seen at the last sync */
    bool owes_state;   /* this handle appended: it writes state.cbor on close */
    bool state_gone;   /* state.cbor found absent since this handle took the
                          lock: no one else can write it before the unlock */
    bool state_stale;  /* it rebuilt or rolled the state forward: writing
                          state.cbor on close saves the next open a scan */
    int boot_id_state; /* 0 not read yet, 1 boot_id holds it, -1 none */
    uint8_t boot_id[16];
    int idx_fd;        /* index.bin, or -1 */
    uint64_t idx_valid; /* leading entries of index.bin known to be right */
    uint64_t *mem_offs; /* offsets known after those, kept in memory when */
    uint64_t mem_first; /* index.bin cannot be written (read-only handles) */
    size_t mem_n;
    bool tree_loaded;  /* the tree store below is open (tree.c) */
    int tree_fd;       /* merkle.bin, or -1: then tree_mem holds the store */
    uint64_t tree_n;   /* records the store holds */
    mrange tree_range; /* the right edge of the tree of tree_n records */
    uint8_t *tree_mem;
    size_t tree_mem_cap;
};

#define AC_CHAIN_FILE "chain.bin"
#define AC_STATE_FILE "state.cbor"
#define AC_INDEX_FILE "index.bin"
#define AC_TREE_FILE "merkle.bin"
#define AC_CHECKPOINT_DIR "checkpoints"

/* Opens chain.bin if it exists and is not yet open. AC_OK or AC_EIO. */
int chain_open_file(ac_chain *c, bool create, ac_error *err);

/* Size of chain.bin (0 if it does not exist). */
int chain_file_size(ac_chain *c, uint64_t *size, ac_error *err);

/* Writes state.cbor for the current head, under the writers' lock (append.c). */
int chain_checkpoint(ac_chain *c, ac_error *err);

/* ---------------------------------------------------------------- append.c
 * The writers' path, shared by append and import: lock, begin, (check what
 * is to be written), ready, commit, (advance c->f), committed, unlock. */

/* AC_OK if the handle may write: not NULL, not read-only; else AC_EINVAL. */
int chain_writable(const ac_chain *c, ac_error *err);

/* flock(LOCK_EX) on chain.bin (open), retried on EINTR. AC_OK or AC_EIO. */
int lock_chain(ac_chain *c, ac_error *err);
void unlock_chain(ac_chain *c);

/* Under the lock: c->f brought up to date with chain.bin, which must be
 * undamaged and hold everything state.cbor says was committed.  AC_OK, or
 * the error that refuses the write (nothing changed). */
int append_begin(ac_chain *c, ac_error *err);

/* Under the lock, once the records are known to be good: a torn tail saved
 * and cut, state.cbor removed (section 6).  AC_OK or AC_EIO. */
int append_ready(ac_chain *c, ac_error *err);

/* Writes `frames` after c->f's head with one pwrite and one fdatasync.
 * AC_OK, or AC_EIO with chain.bin cut back to what it was.  c->f is the
 * caller's to advance, and then to call append_committed. */
int append_commit(ac_chain *c, const det_buf *frames, ac_error *err);

/* After c->f was advanced past records first..first+n-1 (frames at offs,
 * their bytes in `frames`): every writer (append, import) tells the caches
 * here, the offset index and the tree.  Best effort. */
void append_committed(ac_chain *c, uint64_t first, const uint64_t *offs, size_t n,
                      const det_buf *frames);

/* ---------------------------------------------------------------- state.c */

/* Brings c->f up to date with chain.bin: keeps what this handle checked
 * when the file is unchanged, folds only frames appended since, believes a
 * state.cbor that vouches for itself (section 6), rebuilds otherwise.
 * Notes an incomplete tail in c->torn_*.  AC_ECORRUPT (err filled) when a
 * damaged record follows the good prefix, which c->f then covers. */
int state_sync(ac_chain *c, ac_error *err);

/* Drops what the handle knows: the next sync starts again. */
void state_forget(ac_chain *c);

/* What a state.cbor says was committed (present: it parsed and names a
 * record count). */
typedef struct state_claim {
    bool present, has_chain_id;
    uint8_t chain_id[AC_HASH_SIZE];
    uint64_t records, size; /* size 0: it names none */
} state_claim;

/* Reads state.cbor's claim.  A state.cbor is absent or current, never ahead
 * of chain.bin: a claim read before the file is sized cannot blame appends
 * made after on a loss. */
void state_claim_read(ac_chain *c, state_claim *out);

/* 1 if `cl` says more was committed than `held` holds, 0 if not. */
int state_claim_loss(const state_claim *cl, const ac_state *held, ac_loss *loss);

/* What state.cbor says was committed against what chain.bin holds (`held`:
 * its records, their size and chain id; a state.cbor of another chain says
 * nothing).  1 if records were lost, 0 if not; *loss filled either way. */
int state_committed(ac_chain *c, const ac_state *held, ac_loss *loss);

/* AC_ECORRUPT, naming the loss, if state_committed says records were lost:
 * a writer never appends below what was committed. AC_OK otherwise. */
int state_check_committed(ac_chain *c, ac_error *err);

/* Writes state.cbor (temporary file, fsync, rename) unless that would lower
 * what the present one says was committed, or the chain is damaged or has a
 * torn tail: then nothing is written, and AC_OK. */
int state_save(ac_chain *c, ac_error *err);

/* Removes state.cbor before the first append it would not reflect. */
int state_remove(ac_chain *c, ac_error *err);

/* The explicit recovery: if state.cbor says more was committed, keeps it as
 * `kept` (state.cbor.lost-<time>) and writes one for chain.bin as it is.
 * AC_OK (kept is "" when nothing was lost) or an error. */
int state_recover(ac_chain *c, ac_loss *loss, char *kept, size_t kept_size, ac_error *err);

/* ---------------------------------------------------------------- index.c */

/* Offset and length (prefix included) of the frame of record `i` (< record
 * count), through index.bin, brought up to date (or rebuilt) when needed.
 * AC_ECORRUPT when the offsets known make no sense: forget them and retry. */
int index_lookup(ac_chain *c, uint64_t i, uint64_t *off, uint64_t *frame_len, ac_error *err);

/* A scanner (scan.c) over the complete frames from record `first` on,
 * found through the index; `window` bytes of buffer.  AC_OK or an error
 * (s is then safe to scan_free). */
int scan_from_record(ac_chain *c, uint64_t first, size_t window, scanner *s, ac_error *err);

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
