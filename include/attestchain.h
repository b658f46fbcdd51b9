/*
 * attestchain: a tamper-evident, append-only chain of Ed25519-signed records.
 *
 * The on-disk format is docs/format.md (version 1, revision 2).  A chain is a directory holding chain.bin, the log, and
 * caches derived from it (state.cbor, index.bin) that are validated before use.
 *
 * Conventions
 *  - Every fallible function returns an ac_status: AC_OK (0) or a negative
 *    code.  Functions that answer a yes/no question return 1 or 0, or a
 *    negative code.
 *  - Every fallible function takes a last argument `ac_error *err`, which may
 *    be NULL.  On failure it receives the code, the errno of a failed system
 *    call, the record index concerned (or -1), and a one-line message that
 *    names the file and, where there is one, the record index.
 *  - Handles are opaque.  A handle is used by one thread at a time; distinct
 *    handles (even on the same chain, in one process or many) may be used
 *    concurrently: writers exclude each other with flock(2) on chain.bin, and
 *    readers never see a half-written record.
 *  - Memory the library returns is released with the matching _free function
 *    or, for strings, with ac_free().
 *  - The library keeps no global mutable state.
 */
#ifndef ATTESTCHAIN_H
#define ATTESTCHAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with -fvisibility=hidden: only what is declared here is exported. */
#if defined(AC_BUILDING) && defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define AC_VERSION_STRING "2.0.0" /* the one place the version is written */
#define AC_FORMAT_VERSION 1

#define AC_HASH_SIZE 32      /* SHA-256 */
#define AC_PUBKEY_SIZE 32    /* Ed25519 public key */
#define AC_SIGNATURE_SIZE 64 /* Ed25519 signature */
#define AC_RECORD_ID_SIZE 16 /* UUIDv7 */
#define AC_MAX_RECORD_SIZE 1048576u
#define AC_MAX_CONTENT_TYPE 255u
#define AC_MAX_DEPTH 16      /* nesting of maps and arrays; the record is level 1 */
#define AC_ROTATION_CONTENT_TYPE "soosef/key-rotation-v1"

/* ---------------------------------------------------------------- errors */

typedef enum ac_status {
    AC_OK = 0,
    AC_EINVAL = -1,        /* a bad argument: content type, metadata, range, hex */
    AC_ENOMEM = -2,        /* out of memory */
    AC_EIO = -3,           /* a system call failed; ac_error.sys_errno says why */
    AC_ECORRUPT = -4,      /* chain.bin (or a file handed in) is damaged */
    AC_ENOTFOUND = -5,     /* no such record, chain or file */
    AC_EUNAUTHORIZED = -6, /* the key is not the chain's authorized signer */
    AC_EKEY = -7,          /* a key file that is not a usable Ed25519 key */
    AC_EEXIST = -8,        /* refusing to overwrite an existing file */
    AC_ECRYPTO = -9,       /* the crypto library failed */
    AC_EPASSPHRASE = -10,  /* an encrypted key file: no passphrase given, or a wrong one */
} ac_status;

typedef struct ac_error {
    int code;          /* an ac_status */
    int sys_errno;     /* errno of the failed system call, or 0 */
    int64_t index;     /* record index concerned, or -1 */
    char message[512]; /* "DIR/chain.bin: record 12: ..." */
} ac_error;

/* The library's version at run time ("2.0.0"), which may differ from the
 * AC_VERSION_STRING a program was compiled against. */
const char *ac_version(void);

/* A short, static description of an ac_status code ("I/O error"). */
const char *ac_strerror(int code);

/* Frees memory the library returned as a plain buffer or string. NULL is fine. */
void ac_free(void *p);

/* ---------------------------------------------------------------- hashing */

/* SHA-256 of a buffer (OpenSSL, with the CPU's SHA instructions). */
ac_status ac_sha256(const void *data, size_t len, uint8_t out[AC_HASH_SIZE], ac_error *err);

/* Called during long work: `done` of `total` units (bytes or records). */
typedef void (*ac_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* SHA-256 of a file, streamed in large reads (never the whole file in memory).
 * `progress` may be NULL. */
ac_status ac_sha256_file(const char *path, ac_progress_fn progress, void *progress_ctx,
                         uint8_t out[AC_HASH_SIZE], ac_error *err);

/* Lowercase hex of `len` bytes into `out`, which holds 2*len+1 chars. */
void ac_hex_encode(const uint8_t *in, size_t len, char *out);

/* Exactly 2*len hex digits (either case) into `len` bytes. AC_EINVAL otherwise. */
ac_status ac_hex_decode(const char *hex, uint8_t *out, size_t len, ac_error *err);

/* ---------------------------------------------------------------- keys */

typedef struct ac_key ac_key; /* an Ed25519 signing key; its secret is wiped on free */

/* A new key from the system's randomness (libsodium). */
ac_status ac_key_generate(ac_key **out, ac_error *err);

/* Loads an Ed25519 private key: PKCS#8 PEM ("BEGIN PRIVATE KEY"), as written
 * by `openssl genpkey -algorithm ed25519`, or an OpenSSH private key ("BEGIN
 * OPENSSH PRIVATE KEY"), as written by `ssh-keygen -t ed25519`.  An encrypted
 * key (PKCS#8 "BEGIN ENCRYPTED PRIVATE KEY", or OpenSSH with a passphrase) is
 * AC_EPASSPHRASE: load it with ac_key_load_passphrase.  Any other key type, a
 * damaged or empty file or a directory is AC_EKEY (or AC_EIO / AC_ENOTFOUND). */
ac_status ac_key_load(const char *path, ac_key **out, ac_error *err);

/* As ac_key_load, decrypting an encrypted key with the `len` bytes of
 * `passphrase` (OpenSSH: bcrypt_pbkdf with aes256-ctr, aes128-ctr, aes192-ctr,
 * aes256-cbc; PKCS#8: whatever OpenSSL reads).  A wrong passphrase is
 * AC_EPASSPHRASE.  An unencrypted key loads whatever the passphrase. */
ac_status ac_key_load_passphrase(const char *path, const char *passphrase, size_t len, ac_key **out,
                                 ac_error *err);

/* Key file formats for ac_key_save_as. */
typedef enum ac_key_format {
    AC_KEY_PKCS8 = 0,   /* PKCS#8 PEM, "BEGIN PRIVATE KEY" */
    AC_KEY_OPENSSH = 1, /* OpenSSH, "BEGIN OPENSSH PRIVATE KEY", unencrypted, as
                           `ssh-keygen -t ed25519 -N ''` writes it */
} ac_key_format;

/* Writes the key as PKCS#8 PEM to a new file created with O_EXCL, mode 0600,
 * and fsyncs it.  AC_EEXIST if the path exists: a key is never overwritten. */
ac_status ac_key_save(const ac_key *key, const char *path, ac_error *err);

/* As ac_key_save, in the format given; `comment` (NULL: none) goes into an
 * OpenSSH key's comment field. */
ac_status ac_key_save_as(const ac_key *key, const char *path, ac_key_format format,
                         const char *comment, ac_error *err);

/* 1 if the file at `path` can be read by its group or by others, 0 if not. */
int ac_key_file_exposed(const char *path, ac_error *err);

/* The key's public half. */
void ac_key_pubkey(const ac_key *key, uint8_t out[AC_PUBKEY_SIZE]);

/* Wipes and frees the key. NULL is fine. */
void ac_key_free(ac_key *key);

/* Reads a public key from a file holding 64 hex characters, a
 * SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"), an OpenSSH public key line
 * ("ssh-ed25519 AAAA... comment", as in id_ed25519.pub or authorized_keys), a
 * PKCS#8 private key or an OpenSSH private key, encrypted or not (whose public
 * half is taken; an encrypted PKCS#8 key is AC_EPASSPHRASE). */
ac_status ac_pubkey_load(const char *path, uint8_t out[AC_PUBKEY_SIZE], ac_error *err);

/* ---------------------------------------------------------------- metadata */

/* A record's metadata: a map with text keys and values in the CBOR subset of
 * the format (integers, byte and text strings, arrays, maps, true, false,
 * null), at most AC_MAX_DEPTH - 1 levels deep.  Keys are unique. */
typedef struct ac_meta ac_meta;

ac_status ac_meta_new(ac_meta **out, ac_error *err);
void ac_meta_free(ac_meta *meta);

/* Adds a text value. AC_EINVAL if the key is already present or not UTF-8. */
ac_status ac_meta_set_text(ac_meta *meta, const char *key, const char *value, ac_error *err);

/* Adds every member of a JSON object.  JSON maps to CBOR as: object -> map,
 * array -> array, string -> text, integer -> integer, true/false/null.  Below
 * the top level, an object that is exactly {"$bytes": "<hex>"} is a byte
 * string, {"$int": "<decimal>"} an integer of the full CBOR range, and
 * {"$map": {...}} the map inside taken literally (for a map whose one key is
 * one of these names).  Numbers with a fraction or exponent are rejected (the
 * format has no floats), as are keys already present and nesting past the
 * limit. */
ac_status ac_meta_add_json(ac_meta *meta, const char *json, ac_error *err);

/* Number of keys. */
size_t ac_meta_count(const ac_meta *meta);

/* ---------------------------------------------------------------- chains */

typedef struct ac_chain ac_chain;

#define AC_OPEN_CREATE 0x1u   /* create the directory (mode 0700) if missing */
#define AC_OPEN_READONLY 0x2u /* never write: no appends, no cache writes */

/* Opens the chain in directory `dir`.  With a valid state.cbor and index.bin
 * this reads no records.  Without AC_OPEN_CREATE a missing directory is
 * AC_ENOTFOUND; an empty or missing chain.bin is an empty chain. */
ac_status ac_chain_open(const char *dir, unsigned flags, ac_chain **out, ac_error *err);

/* Writes state.cbor if this handle appended (the checkpoint is deferred while
 * appending, see docs/format.md), then frees the handle.  The handle is freed
 * even when the write fails. NULL is fine. */
ac_status ac_chain_close(ac_chain *chain, ac_error *err);

/* Worker threads for verification; 0 means one per online CPU (default). */
void ac_chain_set_threads(ac_chain *chain, unsigned threads);

/* Path of the chain's directory, as given to ac_chain_open. */
const char *ac_chain_dir(const ac_chain *chain);

typedef struct ac_state {
    uint8_t chain_id[AC_HASH_SIZE]; /* SHA-256 of record 0's canonical bytes */
    uint64_t head_index;            /* chain_index of the last record */
    uint8_t head_hash[AC_HASH_SIZE];
    uint64_t record_count;
    uint64_t created_at;     /* claimed_ts of record 0, µs */
    uint64_t last_append_at; /* claimed_ts of the last record, µs */
    uint64_t chain_size;     /* bytes of chain.bin covered (complete frames) */
    uint64_t head_offset;    /* offset of the last record's frame */
    uint8_t signer[AC_PUBKEY_SIZE]; /* the key authorized to sign the next record; all
                                       zeros if none may (a rotation back to a key
                                       retired before: docs/format.md 4.4) */
} ac_state;

/* The chain's head state, checked against chain.bin (rebuilt from it when the
 * cache is stale).  AC_ENOTFOUND if the chain is empty. */
ac_status ac_chain_state(ac_chain *chain, ac_state *out, ac_error *err);

/* 1 if the chain holds no complete record, 0 if it does. */
int ac_chain_is_empty(ac_chain *chain, ac_error *err);

/* What state.cbor says was committed, against what chain.bin holds. */
typedef struct ac_loss {
    uint64_t committed_records; /* record_count in state.cbor */
    uint64_t committed_size;    /* its chain_size (0 when it names none) */
    uint64_t records;           /* complete, checked records in chain.bin */
    uint64_t size;              /* the bytes they take */
} ac_loss;

/* 1 if records were lost (state.cbor, of this chain, says more was
 * committed than chain.bin holds; appends refuse and verify fails with
 * `truncated`), 0 if not; *out filled either way.  docs/format.md 6. */
int ac_chain_loss(ac_chain *chain, ac_loss *out, ac_error *err);

/* The explicit recovery from a loss: keeps the old state.cbor beside the
 * new one as state.cbor.lost-<µs>, whose name goes to kept_as (a buffer of
 * kept_size bytes; "" when nothing was lost), and writes a state.cbor for
 * chain.bin as it is, so that appends can go on.  *out says what was lost.
 * AC_ECORRUPT if the chain is damaged (that is no loss to accept). */
ac_status ac_chain_recover(ac_chain *chain, ac_loss *out, char *kept_as, size_t kept_size,
                           ac_error *err);

/* ---------------------------------------------------------------- records */

typedef struct ac_record ac_record; /* one decoded record */

/* Record `index`, UNVERIFIED: by one seek and one read through the offset
 * index (a cache anyone who can write the directory can forge), checked
 * only to decode with its own chain_index.  For speed where the chain was
 * verified; show a user ac_chain_get_verified's record.  AC_ENOTFOUND past
 * the head; AC_ECORRUPT if the frame does not decode. */
ac_status ac_chain_get(ac_chain *chain, uint64_t index, ac_record **out, ac_error *err);

/* Record `index`, checked as docs/format.md section 6 asks of a record shown
 * to a user: its chain_index, its signature by the key authorized at that
 * index, and its link to the record after it (for the head: the head hash).
 * AC_ECORRUPT naming the failure when it does not pass. */
ac_status ac_chain_get_verified(ac_chain *chain, uint64_t index, ac_record **out, ac_error *err);

/* The last record, checked like ac_chain_get_verified's. AC_ENOTFOUND if
 * the chain is empty. */
ac_status ac_chain_head(ac_chain *chain, ac_record **out, ac_error *err);

void ac_record_free(ac_record *rec);

uint64_t ac_record_index(const ac_record *rec);
uint64_t ac_record_version(const ac_record *rec);
const uint8_t *ac_record_id(const ac_record *rec);           /* 16 bytes */
const uint8_t *ac_record_prev_hash(const ac_record *rec);    /* 32 bytes */
const uint8_t *ac_record_content_hash(const ac_record *rec); /* 32 bytes */
const char *ac_record_content_type(const ac_record *rec);    /* NUL-terminated */
uint64_t ac_record_claimed_ts(const ac_record *rec);         /* µs since 1970 */
const uint8_t *ac_record_signer(const ac_record *rec);       /* 32 bytes */
const uint8_t *ac_record_signature(const ac_record *rec);    /* 64 bytes */
const uint8_t *ac_record_hash(const ac_record *rec);         /* SHA-256 of the frame body */
uint64_t ac_record_offset(const ac_record *rec);             /* offset of its frame */

/* The frame body (the serialized record), `*len` bytes. */
const uint8_t *ac_record_bytes(const ac_record *rec, size_t *len);

/* The metadata or the entropy witnesses as a JSON object (the mapping of
 * ac_meta_add_json; integers outside int64 become {"$int": "<decimal>"}).
 * Free the string with ac_free(). */
ac_status ac_record_metadata_json(const ac_record *rec, char **json, ac_error *err);
ac_status ac_record_witnesses_json(const ac_record *rec, char **json, ac_error *err);

/* Iterates records start..end inclusive (end = UINT64_MAX: to the head),
 * each checked like ac_chain_get_verified's: ac_iter_next returns
 * AC_ECORRUPT, naming the record, at the first that does not pass. */
typedef struct ac_iter ac_iter;
ac_status ac_iter_open(ac_chain *chain, uint64_t start, uint64_t end, ac_iter **out, ac_error *err);
/* 1 and a record in *out (free it), 0 at the end, or a negative code. */
int ac_iter_next(ac_iter *it, ac_record **out, ac_error *err);
void ac_iter_free(ac_iter *it);

/* ---------------------------------------------------------------- appending */

typedef struct ac_entry {
    uint8_t content_hash[AC_HASH_SIZE]; /* SHA-256 of the attested content */
    const char *content_type;           /* 1..255 bytes, e.g. "image/jpeg" */
    const ac_meta *metadata;            /* NULL: empty map */
} ac_entry;

typedef struct ac_appended {
    uint64_t index;
    uint8_t hash[AC_HASH_SIZE]; /* record hash */
} ac_appended;

/* Appends one record signed by `key`; durable (fsynced) when it returns.
 * AC_EUNAUTHORIZED if `key` is not the chain's authorized signer.  On any
 * failure chain.bin is left as it was.  `out` may be NULL. */
ac_status ac_append(ac_chain *chain, const ac_key *key, const ac_entry *entry, ac_appended *out,
                    ac_error *err);

/* Appends `n` records under one lock and one fsync: all or none.  `out`
 * (may be NULL) receives `n` results, filled only on success. */
ac_status ac_append_batch(ac_chain *chain, const ac_key *key, const ac_entry *entries, size_t n,
                          ac_appended *out, ac_error *err);

/* Appends a key-rotation record, signed by `old_key`, that hands signing
 * authority to `new_pubkey` from the next record on. */
ac_status ac_append_rotation(ac_chain *chain, const ac_key *old_key,
                             const uint8_t new_pubkey[AC_PUBKEY_SIZE], ac_appended *out,
                             ac_error *err);

/* ---------------------------------------------------------------- finding */

/* Called by ac_find for each record found, oldest first; `which` is the
 * position in `hashes` of the content hash it holds (a record that holds a
 * hash given twice is reported once for each).  Return 0 to go on, anything
 * else to stop the search there (ac_find then returns AC_OK). */
typedef int (*ac_find_fn)(void *ctx, size_t which, const ac_record *rec);

/* Finds the records whose content_hash is one of the `n` hashes, in one
 * sequential pass over chain.bin, keeping no cache.  Each record's index,
 * link to the record before it and signer (the authority followed through
 * rotations) are checked on the way; each record found, and each rotation,
 * has its signature checked too.  So a record reported is one that
 * ac_verify accepts; the first record that fails a check ends the search
 * with AC_ECORRUPT naming it (records reported before it stand).  Cost: a
 * read, SHA-256 and decode of every record, one Ed25519 check per record
 * found.  `progress` (may be NULL) gets done = records scanned, total = the
 * chain's records. */
ac_status ac_find(ac_chain *chain, const uint8_t (*hashes)[AC_HASH_SIZE], size_t n, ac_find_fn found,
                  void *ctx, ac_progress_fn progress, void *progress_ctx, ac_error *err);

/* ---------------------------------------------------------------- import
 * Records that someone else signed, appended as they are: a mirror's only
 * way to grow (docs/format.md section 15). */

/* Called under the writers' lock once every record of an import has
 * passed, before anything is written: `records` is the record count the
 * chain will have, `signer` the key then authorized to sign (who signs a
 * checkpoint of that size).  AC_OK lets the import go on; any other code
 * stops it (nothing written) and is returned by ac_import. */
typedef int (*ac_import_check_fn)(void *ctx, uint64_t records,
                                  const uint8_t signer[AC_PUBKEY_SIZE], ac_error *err);

typedef struct ac_import_options {
    const uint8_t *genesis_key; /* NULL, or AC_PUBKEY_SIZE bytes that must have
                                   signed record 0 (of the chain or the batch) */
    unsigned threads;           /* signature checks; 0: the chain's setting */
    ac_import_check_fn check;   /* may be NULL */
    void *check_ctx;
} ac_import_options;

/* Appends the frame bodies bodies[0..n) (lens[i] bytes each) after the head,
 * byte for byte: each one is checked as verification checks it (decoding,
 * chain_index, link, signature, authority followed from the genesis key
 * through every rotation) before anything is written; then, under the same
 * lock as ac_append and with one fdatasync, all or none.  Refused like an
 * append (damaged chain, records lost).  AC_ECORRUPT names the first record
 * that fails and why (err->index is its chain index); AC_EUNAUTHORIZED when
 * it is signed by a key not authorized there or record 0 is not signed by
 * opt->genesis_key.  `opt` may be NULL. */
ac_status ac_import(ac_chain *chain, const uint8_t *const *bodies, const size_t *lens,
                    size_t n, const ac_import_options *opt, ac_error *err);

/* ---------------------------------------------------------------- verification */

typedef enum ac_reason {
    AC_REASON_NONE = 0,
    AC_REASON_FRAME,        /* bad length prefix */
    AC_REASON_DECODE,       /* not a record in deterministic CBOR */
    AC_REASON_INDEX,        /* chain_index is not its position */
    AC_REASON_GENESIS,      /* record 0 with a non-zero prev_hash */
    AC_REASON_LINK,         /* prev_hash is not the previous record's hash */
    AC_REASON_SIGNATURE,    /* signature does not verify */
    AC_REASON_UNAUTHORIZED, /* signed by a key not authorized there */
    AC_REASON_ROTATION,     /* malformed key rotation */
    AC_REASON_TRUNCATED,    /* missing: state.cbor says more was committed */
    AC_REASON_CHECKPOINT,   /* rewritten: a signed checkpoint disagrees */
    AC_REASON_PINNED_KEY,   /* record 0 is not signed by opt->genesis_key */
    AC_REASON_PINNED_CHAIN_ID, /* the chain id is not opt->chain_id */
    AC_REASON_PINNED_HEAD,  /* no record has the hash opt->contains_hash */
} ac_reason;

/* "frame", "decode", ... "truncated", "checkpoint" as in docs/format.md
 * section 8; "pinned_key", "pinned_chain_id", "pinned_head" for the pins;
 * "" for NONE. */
const char *ac_reason_name(ac_reason reason);

typedef enum ac_warning_code {
    AC_WARN_TORN_TAIL = 1, /* incomplete last frame (a crash mid-append) */
    AC_WARN_CLOCK,         /* claimed_ts went backwards or disagrees with uptime */
    AC_WARN_CHAIN_SIZE,    /* witness chain_size is not the frame's offset */
    AC_WARN_CHECKPOINT_UNVERIFIED, /* a file in checkpoints/ not signed by the key
                                      authorized at its size: no evidence (bytes:
                                      its size) */
} ac_warning_code;

/* "torn_tail", "clock", "chain_size", "checkpoint_unverified". */
const char *ac_warning_name(ac_warning_code code);

typedef struct ac_warning {
    ac_warning_code code;
    int64_t index;    /* record concerned, or -1 (torn tail) */
    uint64_t offset;  /* byte offset in chain.bin it concerns */
    uint64_t bytes;   /* torn tail: its size; chain_size: the witnessed value */
    int64_t delta_us; /* clock: how far the clock disagreed, µs */
} ac_warning;

typedef struct ac_verify_options {
    uint64_t start;     /* first record to check (default 0) */
    uint64_t end;       /* last record to check, inclusive; UINT64_MAX: the head */
    unsigned threads;   /* 0: the chain's setting */
    ac_progress_fn progress; /* may be NULL; done = index of the next record to
                                check, total = last index to check + 1 */
    void *progress_ctx;
    /* Pins, each NULL or checked after every record passed: */
    const uint8_t *genesis_key;   /* AC_PUBKEY_SIZE: must have signed record 0 */
    const uint8_t *chain_id;      /* AC_HASH_SIZE: must be the chain's id */
    const uint8_t *contains_hash; /* AC_HASH_SIZE: a record hash known from earlier
                                     that must be in the range checked */
} ac_verify_options;

/* Fills defaults: the whole chain, the chain's thread count, no progress. */
void ac_verify_options_init(ac_verify_options *opt);

typedef struct ac_report ac_report;

/* Verifies records opt->start..opt->end (section 8 of the format): each
 * record's framing, encoding, index, link to the record before it (also
 * for a range that starts after 0), signature and authorization (taken from
 * the rotation history before the range).  Returns AC_OK when the check ran,
 * whatever its verdict, which is in the report; an error only when it could
 * not run: I/O, memory, a start past the last record or an end before the
 * start (AC_EINVAL), a damaged record before the start (AC_ECORRUPT).  An end
 * past the last record means the last record. */
ac_status ac_verify(ac_chain *chain, const ac_verify_options *opt, ac_report **out, ac_error *err);

void ac_report_free(ac_report *rep);
int ac_report_valid(const ac_report *rep);              /* 1 valid, 0 not */
uint64_t ac_report_records(const ac_report *rep);       /* records checked and found valid */
int64_t ac_report_fail_index(const ac_report *rep);     /* first failing index, or -1 */
ac_reason ac_report_reason(const ac_report *rep);       /* why it failed, or NONE */
const char *ac_report_detail(const ac_report *rep);     /* one line on the failure, or "" */
size_t ac_report_warning_count(const ac_report *rep);   /* kept warnings (at most 1000) */
uint64_t ac_report_warnings_total(const ac_report *rep); /* all warnings seen */
const ac_warning *ac_report_warning(const ac_report *rep, size_t i);

/* The chain id computed from record 0 as it was verified (not taken from any
 * cache), or NULL when the range did not start at 0 or record 0 failed. */
const uint8_t *ac_report_chain_id(const ac_report *rep);

/* The record hash of the last record that passed every check, or NULL if
 * none did.  For a valid chain verified to its end, the head hash. */
const uint8_t *ac_report_last_hash(const ac_report *rep);

/* ---------------------------------------------------------------- transparency
 * Evidence that travels (docs/format.md section 14): an RFC 6962 Merkle tree
 * over the records' frame bodies, signed checkpoints in the C2SP signed-note
 * and tlog-checkpoint formats, witness cosignatures (tlog-cosignature v1),
 * and detached proofs (.tlog-proof).  Everything here works on bytes alone,
 * without a chain directory, so that other programs can embed the verifier.
 *
 * Sizes and indices are counts of records.  Functions that check a proof
 * or a signature answer 1 (it holds) or 0 (it does not: `err` says why, with
 * the code AC_ECORRUPT), or a negative code when the check could not run. */

#define AC_MERKLE_MAX_SIZE (UINT64_C(1) << 62) /* largest tree the stored-hash
                                                   functions handle */
#define AC_MERKLE_MAX_PROOF 64   /* hashes in an inclusion or consistency proof */
#define AC_MERKLE_MAX_STORED 64  /* hashes stored for one record */
#define AC_TILE_HEIGHT 8         /* tlog-tiles: a tile spans 8 tree levels, */
#define AC_TILE_WIDTH 256        /* so a full tile holds 256 hashes */
#define AC_TILE_PATH_MAX 96      /* "tile/entries/x001/.../067.p/255" and NUL */
#define AC_NOTE_MAX_SIGNATURES 100 /* signature lines a note may carry (as Go's
                                      golang.org/x/mod/sumdb/note) */
#define AC_NOTE_MAX_SIZE 65536u  /* bytes of a signed note (a checkpoint) */
#define AC_NOTE_MAX_NAME 255u    /* bytes of a key name or an origin */
#define AC_PROOF_MAX_SIZE (4u * 1024u * 1024u) /* bytes of a .tlog-proof file */
#define AC_VKEY_ED25519 0x01     /* signature types of a verifier key */
#define AC_VKEY_COSIGNATURE 0x04 /* tlog-cosignature v1, Ed25519 */

/* Leaf hash SHA-256(0x00 || data) and node hash SHA-256(0x01 || left || right). */
ac_status ac_merkle_leaf_hash(const void *data, size_t len, uint8_t out[AC_HASH_SIZE], ac_error *err);
ac_status ac_merkle_node_hash(const uint8_t left[AC_HASH_SIZE], const uint8_t right[AC_HASH_SIZE],
                              uint8_t out[AC_HASH_SIZE], ac_error *err);

/* Stored hashes.  A tree of size N is kept as the sequence of the hashes of
 * its complete subtrees, in the order they become complete as records are
 * appended (the layout of the Go checksum database's tlog package): record
 * n adds its leaf hash (level 0), then the hash of every subtree it
 * completes, level by level.  The hash of the complete subtree at `level`
 * holding leaves n*2^level .. (n+1)*2^level-1 is stored at position
 * ac_merkle_stored_index(level, n); a tree of N records stores
 * ac_merkle_stored_count(N) hashes.  AC_EINVAL when the subtree lies
 * beyond AC_MERKLE_MAX_SIZE. */
ac_status ac_merkle_stored_index(unsigned level, uint64_t n, uint64_t *out, ac_error *err);
ac_status ac_merkle_stored_count(uint64_t size, uint64_t *out, ac_error *err);

/* Reads the stored hashes at positions idx[0..n) into out[0..n): AC_OK or a
 * negative code with `err` filled.  Every function below reads through one
 * and asks for O(log N) hashes per call, in one batch. */
typedef int (*ac_merkle_read_fn)(void *ctx, const uint64_t *idx, size_t n,
                                 uint8_t (*out)[AC_HASH_SIZE], ac_error *err);

/* The hashes to store for record n (they go at positions
 * ac_merkle_stored_count(n) onwards), given its leaf hash and reading the
 * earlier stored hashes: the leaf hash first, `*count` (1..64) in all into
 * out, which holds AC_MERKLE_MAX_STORED. */
ac_status ac_merkle_stored_hashes(uint64_t n, const uint8_t leaf[AC_HASH_SIZE], ac_merkle_read_fn read,
                                  void *ctx, uint8_t (*out)[AC_HASH_SIZE], size_t *count, ac_error *err);

/* The root of the tree of the first `size` records (SHA-256 of nothing for
 * size 0).  The caller makes sure the store holds that many records. */
ac_status ac_merkle_tree_hash(uint64_t size, ac_merkle_read_fn read, void *ctx,
                              uint8_t out[AC_HASH_SIZE], ac_error *err);

/* The inclusion proof of record `index` in the tree of `size` records
 * (RFC 6962 2.1.1; tlog.ProveRecord), and the consistency proof between
 * sizes 1 <= old_size <= new_size (RFC 6962 2.1.2; tlog.ProveTree): `*count`
 * hashes into proof, which holds AC_MERKLE_MAX_PROOF.  AC_EINVAL for an
 * index or sizes out of range. */
ac_status ac_merkle_prove_record(uint64_t index, uint64_t size, ac_merkle_read_fn read, void *ctx,
                                 uint8_t (*proof)[AC_HASH_SIZE], size_t *count, ac_error *err);
ac_status ac_merkle_prove_tree(uint64_t old_size, uint64_t new_size, ac_merkle_read_fn read, void *ctx,
                               uint8_t (*proof)[AC_HASH_SIZE], size_t *count, ac_error *err);

/* 1 if `proof` shows the leaf hash `leaf` at `index` in the tree of `size`
 * records whose root is `root` (RFC 9162 2.1.3.2), 0 if not. */
int ac_merkle_check_record(const uint8_t (*proof)[AC_HASH_SIZE], size_t count, uint64_t index,
                           const uint8_t leaf[AC_HASH_SIZE], uint64_t size,
                           const uint8_t root[AC_HASH_SIZE], ac_error *err);

/* 1 if `proof` shows that the tree of old_size records with root old_root
 * is a prefix of the tree of new_size records with root new_root (RFC 9162
 * 2.1.4.2; 1 <= old_size <= new_size), 0 if not. */
int ac_merkle_check_tree(const uint8_t (*proof)[AC_HASH_SIZE], size_t count, uint64_t old_size,
                         const uint8_t old_root[AC_HASH_SIZE], uint64_t new_size,
                         const uint8_t new_root[AC_HASH_SIZE], ac_error *err);

/* A stored-hash store in memory (tests, benchmarks, small tools). */
typedef struct ac_merkle_mem ac_merkle_mem;
ac_status ac_merkle_mem_new(ac_merkle_mem **out, ac_error *err);
void ac_merkle_mem_free(ac_merkle_mem *mem);
/* Appends one record's leaf data, or its leaf hash. */
ac_status ac_merkle_mem_append(ac_merkle_mem *mem, const void *data, size_t len, ac_error *err);
ac_status ac_merkle_mem_append_leaf(ac_merkle_mem *mem, const uint8_t leaf[AC_HASH_SIZE], ac_error *err);
uint64_t ac_merkle_mem_size(const ac_merkle_mem *mem); /* records */
/* An ac_merkle_read_fn; ctx is the ac_merkle_mem.  AC_EINVAL past the end. */
int ac_merkle_mem_read(void *ctx, const uint64_t *idx, size_t n, uint8_t (*out)[AC_HASH_SIZE],
                       ac_error *err);

/* Tiles (tlog-tiles).  The tile (level L, number n) holds the hashes of the
 * complete subtrees at tree level 8L numbered n*256 .. n*256+255, that is
 * stored hashes (8L, n*256 + i).  For a tree of `size` records, level L has
 * `*full` full tiles and then one partial tile of `*partial` hashes (0: none). */
void ac_tile_counts(uint64_t size, unsigned level, uint64_t *full, unsigned *partial);

/* The path of a tile below the served directory: "tile/<L>/<N>[.p/<W>]", or
 * "tile/entries/<N>[.p/<W>]" for an entry bundle (`entries` nonzero; level
 * ignored); N as 3-digit groups, all but the last with an 'x' (1234067 ->
 * x001/x234/067); width 1..255 is a partial tile, 256 a full one.  `buf`
 * holds AC_TILE_PATH_MAX.  AC_EINVAL for a level above 63 or a width out
 * of range. */
ac_status ac_tile_path(int entries, unsigned level, uint64_t n, unsigned width, char *buf,
                       ac_error *err);

/* The `width` hashes of tile (level, n), 32 bytes each, into out (which
 * holds width * AC_HASH_SIZE bytes), read from a stored-hash store. */
ac_status ac_tile_read(unsigned level, uint64_t n, unsigned width, ac_merkle_read_fn read, void *ctx,
                       uint8_t *out, ac_error *err);

/* Verifier keys (C2SP signed-note): "<name>+<8 hex key id>+<base64(type ||
 * Ed25519 public key)>", type AC_VKEY_ED25519 for a log's key (key id =
 * SHA-256(name || 0x0A || 0x01 || key)[:4]) or AC_VKEY_COSIGNATURE for a
 * witness (0x04 in place of 0x01).  A name is 1..AC_NOTE_MAX_NAME bytes of
 * printable UTF-8 without spaces or '+'. */
typedef struct ac_vkey ac_vkey;

/* Parses a verifier key string (surrounding whitespace is not allowed).
 * AC_EINVAL, with a message naming the part at fault, for a bad name, a key
 * id that does not match the key, wrong base64 or an unsupported type. */
ac_status ac_vkey_parse(const char *text, ac_vkey **out, ac_error *err);

/* The verifier key of `name` with an Ed25519 public key and a type. */
ac_status ac_vkey_new(const char *name, unsigned type, const uint8_t pubkey[AC_PUBKEY_SIZE],
                      ac_vkey **out, ac_error *err);
void ac_vkey_free(ac_vkey *vkey);

/* The key string; free it with ac_free(). */
ac_status ac_vkey_string(const ac_vkey *vkey, char **out, ac_error *err);
const char *ac_vkey_name(const ac_vkey *vkey);
unsigned ac_vkey_type(const ac_vkey *vkey);
uint32_t ac_vkey_id(const ac_vkey *vkey);
const uint8_t *ac_vkey_pubkey(const ac_vkey *vkey); /* 32 bytes */

/* Signed notes.  1 if the note is well formed and signed by at least one of
 * `keys` (by name, key id and a valid signature; AC_VKEY_ED25519 keys, the
 * others are ignored), 0 if not: malformed (not UTF-8, a control
 * character, no signature line, a bad line, more than
 * AC_NOTE_MAX_SIGNATURES), no signature of a known key, or a known key's
 * signature that does not verify.  Signatures of unknown keys are ignored.
 * On 1, *text_len (may be NULL) is the length of the note's text, which is
 * the first bytes of `note`. */
int ac_note_verify(const uint8_t *note, size_t len, const ac_vkey *const *keys, size_t nkeys,
                   size_t *text_len, ac_error *err);

/* Checkpoints (tlog-checkpoint) as signed notes. */
typedef struct ac_checkpoint ac_checkpoint;

/* The signed checkpoint `origin`, `size`, `root` (no extension lines),
 * signed with `key` under the key name `origin`: the note text, an empty
 * line and one signature line, into a new string (free with ac_free()) of
 * *len bytes.  AC_EINVAL for an origin that is not a valid key name. */
ac_status ac_checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[AC_HASH_SIZE],
                             const ac_key *key, char **out, size_t *len, ac_error *err);

/* Parses a signed checkpoint without checking any signature: the note's
 * form (as ac_note_verify), then the body: origin, size (decimal, no leading
 * zero, at most INT64_MAX), root (canonical base64 of 32 bytes), then any
 * extension lines (non-empty).  AC_ECORRUPT with a one-line message when
 * it is not one. */
ac_status ac_checkpoint_parse(const uint8_t *note, size_t len, ac_checkpoint **out, ac_error *err);
void ac_checkpoint_free(ac_checkpoint *cp);

const char *ac_checkpoint_origin(const ac_checkpoint *cp);
uint64_t ac_checkpoint_size(const ac_checkpoint *cp);
const uint8_t *ac_checkpoint_root(const ac_checkpoint *cp); /* 32 bytes */
/* The note verbatim (*len bytes), and its text (the body: origin to the last
 * extension line, with its newline). */
const uint8_t *ac_checkpoint_bytes(const ac_checkpoint *cp, size_t *len);
const uint8_t *ac_checkpoint_text(const ac_checkpoint *cp, size_t *len);

/* 1 if signed by one of the log keys `keys` whose name is the origin (as
 * ac_note_verify, keys of another name ignored), 0 if not. */
int ac_checkpoint_verify(const ac_checkpoint *cp, const ac_vkey *const *keys, size_t nkeys,
                         ac_error *err);

/* Witness cosignatures: the number of distinct witnesses among `witnesses`
 * (AC_VKEY_COSIGNATURE keys) whose cosignature line is on the checkpoint
 * and verifies, into *valid.  1 if at least `needed` did, 0 if not (also
 * when a known witness's cosignature fails to verify). */
int ac_checkpoint_verify_witnesses(const ac_checkpoint *cp, const ac_vkey *const *witnesses,
                                   size_t nwitnesses, size_t needed, size_t *valid,
                                   ac_error *err);

/* A witness's cosignature on the signed checkpoint `note`: the note with one
 * more signature line, `— <name> base64(key id || timestamp || signature)`,
 * over "cosignature/v1\ntime <timestamp>\n" and the checkpoint's text.  The
 * caller has checked that the checkpoint is consistent with the last one
 * it cosigned.  Free *out with ac_free().  AC_EINVAL for a timestamp above
 * INT64_MAX or a bad name; AC_ECORRUPT if `note` is not a checkpoint. */
ac_status ac_checkpoint_cosign(const uint8_t *note, size_t len, const char *name, const ac_key *key,
                               uint64_t timestamp, char **out, size_t *out_len, ac_error *err);

/* Detached proofs (.tlog-proof): "c2sp.org/tlog-proof@v1", "extra
 * <base64 record frame body>", "index <i>", the inclusion proof (one base64
 * hash a line), an empty line, the signed checkpoint verbatim. */

/* Writes a proof into a new string (free with ac_free()) of *len bytes. */
ac_status ac_proof_write(uint64_t index, const uint8_t *record, size_t record_len,
                         const uint8_t (*proof)[AC_HASH_SIZE], size_t count, const uint8_t *checkpoint,
                         size_t checkpoint_len, char **out, size_t *len, ac_error *err);

/* What a proof must satisfy besides its own consistency. */
typedef struct ac_proof_policy {
    const ac_vkey *const *log_keys; /* the checkpoint must be signed by one */
    size_t n_log_keys;
    const uint8_t (*signers)[AC_PUBKEY_SIZE]; /* record signers trusted besides */
    size_t n_signers;                         /* the log keys' public keys */
    const ac_vkey *const *witnesses; /* AC_VKEY_COSIGNATURE keys */
    size_t n_witnesses;
    size_t witnesses_needed;     /* cosignatures required (0: none) */
    const uint8_t *content_hash; /* SHA-256 of the content, or NULL: not checked */
} ac_proof_policy;

typedef enum ac_proof_reason {
    AC_PROOF_OK = 0,
    AC_PROOF_FORMAT,     /* not a .tlog-proof: truncated, extra lines, bad base64... */
    AC_PROOF_DECODE,     /* `extra` is not a record (format section 4) */
    AC_PROOF_INDEX,      /* the record's chain_index is not the proof's index */
    AC_PROOF_CHECKPOINT, /* the checkpoint is not signed by a trusted log key */
    AC_PROOF_INCLUSION,  /* the record is not in the checkpoint's tree there */
    AC_PROOF_SIGNATURE,  /* the record's signature does not verify */
    AC_PROOF_SIGNER,     /* the record's signer is not a trusted key */
    AC_PROOF_CONTENT,    /* the content's SHA-256 is not the record's content_hash */
    AC_PROOF_WITNESSES,  /* fewer valid witness cosignatures than needed */
} ac_proof_reason;

/* "format", "decode", "index", "checkpoint", "inclusion", "signature",
 * "signer", "content", "witnesses"; "" for OK. */
const char *ac_proof_reason_name(ac_proof_reason reason);

typedef struct ac_proof_result ac_proof_result;

/* Checks a .tlog-proof on its bytes (format section 14.5), in this order:
 * its form, the record in `extra` (decoding), its chain_index against
 * `index`, the checkpoint's signature by a log key, the inclusion of the
 * record's leaf hash in the checkpoint's root, the record's signature, its
 * signer (a log key's public key or one of policy->signers), the content
 * hash if given, the witness cosignatures if needed.  Returns AC_OK when the
 * check ran, whatever the verdict (in *out); an error only when it could not
 * run (memory, a NULL argument). */
ac_status ac_proof_verify(const uint8_t *proof, size_t len, const ac_proof_policy *policy,
                          ac_proof_result **out, ac_error *err);
void ac_proof_result_free(ac_proof_result *res);

int ac_proof_result_valid(const ac_proof_result *res);           /* 1 valid, 0 not */
ac_proof_reason ac_proof_result_reason(const ac_proof_result *res);
const char *ac_proof_result_detail(const ac_proof_result *res);  /* one line, or "" */
uint64_t ac_proof_result_index(const ac_proof_result *res);      /* the proof's index */
/* The record from `extra` once it decoded (NULL before): owned by the result;
 * its offset is unknown (0). */
const ac_record *ac_proof_result_record(const ac_proof_result *res);
/* The checkpoint once it parsed (NULL before): owned by the result. */
const ac_checkpoint *ac_proof_result_checkpoint(const ac_proof_result *res);
size_t ac_proof_result_witnesses(const ac_proof_result *res);    /* valid cosignatures */

/* ---------------------------------------------------------------- a chain's checkpoints
 * The chain's own tree, checkpoints and proofs (docs/format.md section 14).
 * The tree is kept in merkle.bin, a cache; what goes out (a checkpoint's
 * root, a proof, an export) is computed from, or checked against, what a
 * signed checkpoint vouches for and chain.bin, never from the cache alone.
 * Checkpoints are kept in DIR/checkpoints/<size>, written once, never
 * deleted; DIR/checkpoints/origin fixes the chain's origin at the first. */

/* The chain's origin: fixed by its first checkpoint, else the default
 * "attestchain/<chain id in hex>".  Free with ac_free(). */
ac_status ac_chain_origin(ac_chain *chain, char **origin, ac_error *err);

/* Signs a checkpoint of the chain's current size with `key`, which must be
 * the key authorized to sign the next record (AC_EUNAUTHORIZED otherwise),
 * under `origin` (NULL: the chain's; another than a fixed one is
 * AC_EINVAL), keeps it as checkpoints/<size> and returns the note (free
 * with ac_free()).  A checkpoint of a size already kept, with the same root,
 * changes nothing and returns the kept one.  AC_ECORRUPT on a damaged or
 * truncated chain, or one that no longer gives a root it signed. */
ac_status ac_chain_checkpoint(ac_chain *chain, const ac_key *key, const char *origin,
                              char **note, size_t *len, ac_error *err);

/* A .tlog-proof of record `index` against the newest kept checkpoint that
 * covers it (free with ac_free()).  AC_ENOTFOUND when none does. */
ac_status ac_chain_prove(ac_chain *chain, uint64_t index, char **proof, size_t *len,
                         ac_error *err);

/* The consistency proof between the trees of old_size and new_size records
 * (1 <= old_size <= new_size <= the chain's records) and both roots; proof
 * holds AC_MERKLE_MAX_PROOF hashes. */
ac_status ac_chain_consistency(ac_chain *chain, uint64_t old_size, uint64_t new_size,
                               uint8_t (*proof)[AC_HASH_SIZE], size_t *count,
                               uint8_t old_root[AC_HASH_SIZE], uint8_t new_root[AC_HASH_SIZE],
                               ac_error *err);

/* Evidence of a fork (docs/format.md section 15) from what the chain
 * directory holds: a kept checkpoint signed by the key authorized at its
 * size that chain.bin no longer gives, and a larger one, also signed, that
 * chain.bin does give; with the chain's root at the smaller size and the
 * consistency proof.  A new string (free with ac_free()).  AC_ENOTFOUND
 * when no such pair is kept (a chain rewritten with no later checkpoint
 * proves nothing to a third party). */
ac_status ac_chain_fork_evidence(ac_chain *chain, char **out, size_t *len, ac_error *err);

/* Every key that signed the chain, in order: key authorized from record
 * `first` through `last` (UINT64_MAX: still authorized; all zeros: nobody,
 * after a rotation back to a retired key).  Free *out with ac_free(). */
typedef struct ac_signer_span {
    uint8_t key[AC_PUBKEY_SIZE];
    uint64_t first, last;
} ac_signer_span;
ac_status ac_chain_signers(ac_chain *chain, ac_signer_span **out, size_t *n, ac_error *err);

/* Publishes the chain as a static C2SP tlog-tiles directory at out_dir (made
 * if missing): entry bundles, hash tiles, the page (index.html and what it
 * needs) and export.json, then `checkpoint` last: the largest kept
 * checkpoint signed by the key authorized at its size.  Incremental: full
 * tiles are never rewritten, the partial tiles of every size published stay,
 * only what is new is written, each file atomically.  AC_ENOTFOUND with no
 * checkpoint to publish; AC_EINVAL for a record over 65535 bytes (named) or
 * a directory holding another log's export or a larger one. */
typedef struct ac_export_stats {
    uint64_t size;          /* records published */
    uint64_t old_size;      /* records the directory held before */
    uint64_t files_written; /* bundles, tiles, page files */
    uint64_t bytes_written;
} ac_export_stats;
ac_status ac_chain_export(ac_chain *chain, const char *out_dir, ac_export_stats *stats,
                          ac_error *err);

/* ---------------------------------------------------------------- evidence of forks
 * docs/format.md section 15.3: a text file that proves, to anyone holding
 * the log's verifier keys, that its key signed two histories. */

#define AC_EVIDENCE_MAX_SIZE (64u * 1024u * 1024u) /* bytes of an evidence file the
                                                        tool reads */

typedef enum ac_evidence_kind {
    AC_EVIDENCE_CHECKPOINTS = 1, /* two checkpoints that no single tree explains */
    AC_EVIDENCE_RECORDS = 2,     /* two records at one index after one history */
} ac_evidence_kind;

typedef struct ac_evidence_info {
    ac_evidence_kind kind;
    char origin[AC_NOTE_MAX_NAME + 1]; /* checkpoints: the log's origin */
    uint64_t size_a, size_b;           /* checkpoints: their sizes, in file order */
    uint64_t index;                    /* records: the index that has two records */
    uint8_t hash_a[AC_HASH_SIZE], hash_b[AC_HASH_SIZE]; /* records: their hashes */
} ac_evidence_info;

/* Standard base64 with padding (RFC 4648 section 4) of `len` bytes into
 * `out`, which holds AC_BASE64_LEN(len) bytes, NUL included; returns the
 * number of characters written before the NUL. */
#define AC_BASE64_LEN(len) (((len) + 2) / 3 * 4 + 1)
size_t ac_base64_encode(const uint8_t *in, size_t len, char *out);

/* Decodes exactly one canonical standard base64 text (with padding, no
 * whitespace) of `len` chars, as the signed notes and proofs use, into
 * out[0..cap): AC_OK with *out_len, or AC_EINVAL (not that, or too long). */
ac_status ac_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap,
                           size_t *out_len, ac_error *err);

/* Evidence of kind checkpoints: the signed checkpoints a and b (verbatim,
 * each ending in a newline) and, when their sizes differ, the larger
 * tree's root at the smaller size with the consistency proof (`count`
 * hashes) from it to the larger checkpoint; old_root_at_larger NULL and
 * count 0 for two checkpoints of one size.  A new string (free with
 * ac_free()) of *len bytes. */
ac_status ac_evidence_checkpoints(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                  const uint8_t *old_root_at_larger,
                                  const uint8_t (*proof)[AC_HASH_SIZE], size_t count, char **out,
                                  size_t *len, ac_error *err);

/* Evidence of kind records: the frame bodies of records 0..nprefix-1 of
 * the history (nprefix may be 0), then the two frame bodies a and b. */
ac_status ac_evidence_records(const uint8_t *const *prefix, const size_t *prefix_lens,
                              size_t nprefix, const uint8_t *a, size_t alen, const uint8_t *b,
                              size_t blen, char **out, size_t *len, ac_error *err);

/* 1 if the evidence proves a fork of the log whose verifier keys are
 * `keys` (AC_VKEY_ED25519), 0 if it does not (err says why, code
 * AC_ECORRUPT), a negative code if the check could not run.  Checkpoints:
 * both of one origin and signed by one of `keys`; one size and two roots,
 * or a consistency proof that the larger tree had, at the smaller size,
 * another root than the smaller checkpoint.  Records: two decodable,
 * differently hashed records with the same chain_index (above 0) and
 * prev_hash, signed by one key, each valid after the prefix (folded as
 * verification folds a chain, every signature checked); the key authorized
 * there, or with a prefix the genesis key, must be one of `keys`.  *info
 * says what was found. */
int ac_evidence_verify(const uint8_t *evidence, size_t len, const ac_vkey *const *keys,
                       size_t nkeys, ac_evidence_info *info, ac_error *err);

#if defined(AC_BUILDING) && defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* ATTESTCHAIN_H */
