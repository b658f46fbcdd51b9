/*
 * attestchain: a tamper-evident, append-only chain of Ed25519-signed records.
 *
 * The on-disk format is docs/format.md (the project's words for the shared
 * SPEC, version 1).  A chain is a directory holding chain.bin, the log, and
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

#define AC_VERSION_STRING "1.0.0"
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

/* A short, static description of an ac_status code ("I/O error"). */
const char *ac_strerror(int code);

/* Frees memory the library returned as a plain buffer or string. NULL is fine. */
void ac_free(void *p);

/* ---------------------------------------------------------------- hashing */

/* SHA-256 of a buffer (OpenSSL, with the CPU's SHA instructions). */
int ac_sha256(const void *data, size_t len, uint8_t out[AC_HASH_SIZE], ac_error *err);

/* Called during long work: `done` of `total` units (bytes or records). */
typedef void (*ac_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* SHA-256 of a file, streamed in large reads (never the whole file in memory).
 * `progress` may be NULL. */
int ac_sha256_file(const char *path, uint8_t out[AC_HASH_SIZE], ac_progress_fn progress,
                   void *progress_ctx, ac_error *err);

/* Lowercase hex of `len` bytes into `out`, which holds 2*len+1 chars. */
void ac_hex_encode(const uint8_t *in, size_t len, char *out);

/* Exactly 2*len hex digits (either case) into `len` bytes. AC_EINVAL otherwise. */
int ac_hex_decode(const char *hex, uint8_t *out, size_t len, ac_error *err);

/* ---------------------------------------------------------------- keys */

typedef struct ac_key ac_key; /* an Ed25519 signing key; its secret is wiped on free */

/* A new key from the system's randomness (libsodium). */
int ac_key_generate(ac_key **out, ac_error *err);

/* Loads an Ed25519 private key: PKCS#8 PEM ("BEGIN PRIVATE KEY"), as written
 * by `openssl genpkey -algorithm ed25519`, or an OpenSSH private key ("BEGIN
 * OPENSSH PRIVATE KEY"), as written by `ssh-keygen -t ed25519`.  An encrypted
 * key (PKCS#8 "BEGIN ENCRYPTED PRIVATE KEY", or OpenSSH with a passphrase) is
 * AC_EPASSPHRASE: load it with ac_key_load_passphrase.  Any other key type, a
 * damaged or empty file or a directory is AC_EKEY (or AC_EIO / AC_ENOTFOUND). */
int ac_key_load(ac_key **out, const char *path, ac_error *err);

/* As ac_key_load, decrypting an encrypted key with the `len` bytes of
 * `passphrase` (OpenSSH: bcrypt_pbkdf with aes256-ctr, aes128-ctr, aes192-ctr,
 * aes256-cbc; PKCS#8: whatever OpenSSL reads).  A wrong passphrase is
 * AC_EPASSPHRASE.  An unencrypted key loads whatever the passphrase. */
int ac_key_load_passphrase(ac_key **out, const char *path, const char *passphrase, size_t len,
                           ac_error *err);

/* Key file formats for ac_key_save_as. */
typedef enum ac_key_format {
    AC_KEY_PKCS8 = 0,   /* PKCS#8 PEM, "BEGIN PRIVATE KEY" */
    AC_KEY_OPENSSH = 1, /* OpenSSH, "BEGIN OPENSSH PRIVATE KEY", unencrypted, as
                           `ssh-keygen -t ed25519 -N ''` writes it */
} ac_key_format;

/* Writes the key as PKCS#8 PEM to a new file created with O_EXCL, mode 0600,
 * and fsyncs it.  AC_EEXIST if the path exists: a key is never overwritten. */
int ac_key_save(const ac_key *key, const char *path, ac_error *err);

/* As ac_key_save, in the format given; `comment` (NULL: none) goes into an
 * OpenSSH key's comment field. */
int ac_key_save_as(const ac_key *key, const char *path, ac_key_format format,
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
int ac_pubkey_load(const char *path, uint8_t out[AC_PUBKEY_SIZE], ac_error *err);

/* ---------------------------------------------------------------- metadata */

/* A record's metadata: a map with text keys and values in the CBOR subset of
 * the format (integers, byte and text strings, arrays, maps, true, false,
 * null), at most AC_MAX_DEPTH - 1 levels deep.  Keys are unique. */
typedef struct ac_meta ac_meta;

int ac_meta_new(ac_meta **out, ac_error *err);
void ac_meta_free(ac_meta *meta);

/* Adds a text value. AC_EINVAL if the key is already present or not UTF-8. */
int ac_meta_set_text(ac_meta *meta, const char *key, const char *value, ac_error *err);

/* Adds every member of a JSON object.  JSON maps to CBOR as: object -> map,
 * array -> array, string -> text, integer -> integer, true/false/null.  Below
 * the top level, an object that is exactly {"$bytes": "<hex>"} is a byte
 * string, {"$int": "<decimal>"} an integer of the full CBOR range, and
 * {"$map": {...}} the map inside taken literally (for a map whose one key is
 * one of these names).  Numbers with a fraction or exponent are rejected (the
 * format has no floats), as are keys already present and nesting past the
 * limit. */
int ac_meta_add_json(ac_meta *meta, const char *json, ac_error *err);

/* Number of keys. */
size_t ac_meta_count(const ac_meta *meta);

/* ---------------------------------------------------------------- chains */

typedef struct ac_chain ac_chain;

#define AC_OPEN_CREATE 0x1u   /* create the directory (mode 0700) if missing */
#define AC_OPEN_READONLY 0x2u /* never write: no appends, no cache writes */

/* Opens the chain in directory `dir`.  With a valid state.cbor and index.bin
 * this reads no records.  Without AC_OPEN_CREATE a missing directory is
 * AC_ENOTFOUND; an empty or missing chain.bin is an empty chain. */
int ac_chain_open(ac_chain **out, const char *dir, unsigned flags, ac_error *err);

/* Writes state.cbor if this handle appended (the checkpoint is deferred while
 * appending, see docs/format.md), then frees the handle.  The handle is freed
 * even when the write fails. NULL is fine. */
int ac_chain_close(ac_chain *chain, ac_error *err);

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
                                       retired before: SPEC 4.4) */
} ac_state;

/* The chain's head state, checked against chain.bin (rebuilt from it when the
 * cache is stale).  AC_ENOTFOUND if the chain is empty. */
int ac_chain_state(ac_chain *chain, ac_state *out, ac_error *err);

/* 1 if the chain holds no complete record, 0 if it does. */
int ac_chain_is_empty(ac_chain *chain, ac_error *err);

/* ---------------------------------------------------------------- records */

typedef struct ac_record ac_record; /* one decoded record */

/* Record `index`, by one seek and one read through the offset index.
 * AC_ENOTFOUND past the head; AC_ECORRUPT if the frame does not decode. */
int ac_chain_get(ac_chain *chain, uint64_t index, ac_record **out, ac_error *err);

/* The last record. AC_ENOTFOUND if the chain is empty. */
int ac_chain_head(ac_chain *chain, ac_record **out, ac_error *err);

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
int ac_record_metadata_json(const ac_record *rec, char **json, ac_error *err);
int ac_record_witnesses_json(const ac_record *rec, char **json, ac_error *err);

/* Iterates records start..end inclusive (end = UINT64_MAX: to the head). */
typedef struct ac_iter ac_iter;
int ac_iter_open(ac_chain *chain, uint64_t start, uint64_t end, ac_iter **out, ac_error *err);
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
int ac_append(ac_chain *chain, const ac_key *key, const ac_entry *entry, ac_appended *out,
              ac_error *err);

/* Appends `n` records under one lock and one fsync: all or none.  `out`
 * (may be NULL) receives `n` results, filled only on success. */
int ac_append_batch(ac_chain *chain, const ac_key *key, const ac_entry *entries, size_t n,
                    ac_appended *out, ac_error *err);

/* Appends a key-rotation record, signed by `old_key`, that hands signing
 * authority to `new_pubkey` from the next record on. */
int ac_append_rotation(ac_chain *chain, const ac_key *old_key,
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
int ac_find(ac_chain *chain, const uint8_t (*hashes)[AC_HASH_SIZE], size_t n, ac_find_fn found,
            void *ctx, ac_progress_fn progress, void *progress_ctx, ac_error *err);

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
} ac_reason;

/* "frame", "decode", ... as in the format's section 8; "" for NONE. */
const char *ac_reason_name(ac_reason reason);

typedef enum ac_warning_code {
    AC_WARN_TORN_TAIL = 1, /* incomplete last frame (a crash mid-append) */
    AC_WARN_CLOCK,         /* claimed_ts went backwards or disagrees with uptime */
    AC_WARN_CHAIN_SIZE,    /* witness chain_size is not the frame's offset */
} ac_warning_code;

/* "torn_tail", "clock", "chain_size". */
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
int ac_verify(ac_chain *chain, const ac_verify_options *opt, ac_report **out, ac_error *err);

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

#if defined(AC_BUILDING) && defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* ATTESTCHAIN_H */
