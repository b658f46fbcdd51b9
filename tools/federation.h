/* What mirror and witness share: a published chain (an `export` directory
 * or its http(s):// URL, fetch.c), the tree in its tiles (tiles.c), and the
 * files they keep (fedfiles.c). */
#ifndef ATTESTCHAIN_FEDERATION_H
#define ATTESTCHAIN_FEDERATION_H

#include "tool.h"

/* ---------------------------------------------------------------- fetch.c */

#define SOURCE_TIMEOUT 30L /* seconds: connecting, and a stall mid-transfer */
enum { SOURCE_MISSING = 3 }; /* source_get: no such file (404, ENOENT) */

typedef struct source source;

/* 1 if `where` is an http:// or https:// URL (else a directory). */
bool source_is_url(const char *where);

/* EXIT_GOOD, or EXIT_TROUBLE (reported).  `timeout` 0: SOURCE_TIMEOUT. */
int source_open(const char *where, long timeout, source **out);
void source_close(source *s);
const char *source_name(const source *s);
uint64_t source_fetched(const source *s); /* bytes read so far */

/* The file `path` below the source, at most `max` bytes (never buffered
 * past that), into a malloc'd buffer.  EXIT_GOOD, SOURCE_MISSING (not
 * reported), or EXIT_TROUBLE (reported: one line naming the URL). */
int source_get(source *s, const char *path, size_t max, uint8_t **out, size_t *len);

/* As source_get, a missing file being an error too. */
int source_need(source *s, const char *path, size_t max, uint8_t **out, size_t *len);

/* ---------------------------------------------------------------- tiles.c */

#define BUNDLE_MAX ((size_t)AC_TILE_WIDTH * (2 + 65535)) /* bytes of an entry bundle */

typedef struct tiles tiles;

/* The tree of `size` records as published by `src` (tiles of that size). */
int tiles_new(source *src, uint64_t size, tiles **out);
void tiles_free(tiles *t);

/* The RFC 6962 root of records [0, hi) for hi <= the tiles' size, taking
 * records [0, known) from the published hash tiles (only the complete
 * subtrees that the tree of `known` records is made of) and the leaf
 * hashes of records [known, hi) from `leaves` (leaves[0] is record
 * `known`'s).  EXIT_GOOD or EXIT_TROUBLE (reported). */
int tiles_root(tiles *t, uint64_t known, const uint8_t (*leaves)[AC_HASH_SIZE], uint64_t hi,
               uint8_t out[AC_HASH_SIZE]);

/* The consistency proof between sizes old_size and the tiles' size, read
 * from the hash tiles (unauthenticated until checked).  EXIT_GOOD or
 * EXIT_TROUBLE (reported). */
int tiles_prove(tiles *t, uint64_t old_size, uint8_t (*proof)[AC_HASH_SIZE], size_t *count);

/* Entry bundle `n` of the tiles' size: its records' frame bodies (pointers
 * into *buf, which the caller frees) into bodies/lens (AC_TILE_WIDTH each);
 * *count of them.  A bundle that is not exactly its entries is an error.
 * EXIT_GOOD, EXIT_INVALID (a malformed bundle) or EXIT_TROUBLE (reported). */
int tiles_bundle(tiles *t, uint64_t n, uint8_t **buf, const uint8_t **bodies, size_t *lens,
                 size_t *count);

/* ---------------------------------------------------------------- fedfiles.c */

/* A refusal (exit status 1): one line on stderr, like fail_msg's. */
int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fills an ac_error (a callback's answer to the library) and returns code. */
int set_error(ac_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes `name` in directory `dir` durably: a temporary file, fsync,
 * rename over it, fsync of the directory.  EXIT_GOOD or EXIT_TROUBLE
 * (reported). */
int write_durable(const char *dir, const char *name, const void *data, size_t len);

/* Takes flock(LOCK_EX) on dir/name (created if missing), so that one
 * process at a time works on dir; *fd to close when done.  EXIT_GOOD or
 * EXIT_TROUBLE (reported; `who` names the command). */
int lock_dir(const char *dir, const char *name, const char *who, int *fd);

/* Makes dir/sub (mode 0755) if missing.  EXIT_GOOD or EXIT_TROUBLE. */
int make_subdir(const char *dir, const char *sub, char *out, size_t out_size);

/* Keeps evidence of a fork: checks it with `keys` first (it must prove the
 * fork), then writes it as a new file in dir/evidence/ and names it on
 * stderr.  EXIT_INVALID (the fork was proven and kept) or EXIT_TROUBLE. */
int keep_evidence(const char *dir, const char *evidence, size_t len, const ac_vkey *const *keys,
                  size_t nkeys);

/* The checkpoints `a` (ours) and `b` (theirs) as evidence, with the larger
 * tree's root at the smaller size and the proof when sizes differ; then as
 * keep_evidence. */
int keep_checkpoint_fork(const char *dir, const ac_checkpoint *a, const ac_checkpoint *b,
                         const uint8_t *old_root, const uint8_t (*proof)[AC_HASH_SIZE],
                         size_t count, const ac_vkey *const *keys, size_t nkeys);

#endif
