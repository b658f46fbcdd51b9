/* Shared declarations of the attestchain command-line tool.  The tool uses
 * only the public API (attestchain.h): it is the library's first client. */
#ifndef ATTESTCHAIN_TOOL_H
#define ATTESTCHAIN_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "attestchain.h"

/* Exit status of every command. */
enum {
    EXIT_GOOD = 0,    /* success, or a valid chain */
    EXIT_INVALID = 1, /* verify found the chain invalid */
    EXIT_TROUBLE = 2, /* usage, input or I/O error */
};

#define TOOL_NAME "attestchain"
#define ENV_CHAIN_DIR "ATTESTCHAIN_DIR"
#define DEFAULT_CONTENT_TYPE "application/octet-stream"

/* Text buffer sizes. */
#define HASH_HEX_LEN (2 * AC_HASH_SIZE + 1)
#define KEY_HEX_LEN (2 * AC_PUBKEY_SIZE + 1)
#define SIG_HEX_LEN (2 * AC_SIGNATURE_SIZE + 1)
#define UUID_TEXT_LEN 37
#define UTC_TEXT_LEN 48

/* ---------------------------------------------------------------- commands
 * Each takes the arguments from the command's name on (argv[0] is the
 * command) and returns the process exit status. */
int cmd_keygen(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_append(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_recover(int argc, char **argv);
/* A chain's evidence that travels (cmd_publish.c). */
int cmd_checkpoint(int argc, char **argv);
int cmd_prove(int argc, char **argv);
int cmd_consistency(int argc, char **argv);
int cmd_export(int argc, char **argv);
/* Signs and keeps a checkpoint of the chain as it is and prints it (for
 * checkpoint, and append/rotate --checkpoint). */
int make_checkpoint(ac_chain *chain, const ac_key *key, const char *origin, bool json);
/* Evidence that travels (cmd_tlog.c). */
int cmd_vkey(int argc, char **argv);
int cmd_verify_proof(int argc, char **argv);

/* issue 10 */
int cmd_find(int argc, char **argv);

/* ---------------------------------------------------------------- errors
 * Every error is ONE line on stderr, "attestchain: ...", and exit status 2;
 * with --json on the command line, ONE line on stdout instead:
 * {"error": {"code": CODE, "message": "..."}}, CODE one of ERR_* below or
 * the name of an ac_status (io, corrupt, not_found, bad_key, ...). */

#define ERR_USAGE "usage"     /* a bad command line */
#define ERR_INPUT "input"     /* a file or line given to the tool is not what it takes */
#define ERR_GENERAL "failed"  /* anything else */

/* Errors as JSON objects on stdout from now on (main, for --json). */
void set_json_errors(bool on);

/* A failure with JSON error code `code` (ERR_*). */
int fail_code(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the library's message, then "; <hint>" when hint is not NULL. */
int fail_ac(const ac_error *err, const char *hint);

/* Prints a message of the tool's own. */
int fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error of command `cmd`: the message and where to read more. */
int fail_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* getopt_long returned '?' or ':': says which option was wrong. */
int fail_option(const char *cmd, int c, char **argv);

/* A warning line on stderr; does not change the exit status. */
void warn_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes `s` to `f` with control bytes escaped as \xNN, so that text read
 * from a chain or a file name cannot drive the terminal. */
void put_clean(FILE *f, const char *s);

/* Flushes stdout; a failed write (full disk, closed pipe) is an error. */
int finish_output(int status);

/* Prints the command's help to stdout; exit status 0 unless stdout fails. */
int print_help(const char *text);

/* ---------------------------------------------------------------- parsing */

/* Prepares getopt_long for a command's arguments: a fresh scan (glibc's
 * optind = 0), and no messages of its own (fail_option prints one line). */
void getopt_reset(void);

/* A decimal number with nothing around it: no sign, no space, no overflow. */
bool parse_u64(const char *s, uint64_t *out);

/* The chain directory: -C if given, else $ATTESTCHAIN_DIR, else NULL. */
const char *chain_dir(const char *given);

/* ---------------------------------------------------------------- chains, keys */

/* Opens the chain, reporting failure.  Returns EXIT_GOOD or EXIT_TROUBLE. */
int open_chain(const char *dir, unsigned flags, ac_chain **out);

/* Closes the chain; a failed checkpoint write is reported, and turns a
 * successful `status` into EXIT_TROUBLE. */
int close_chain(ac_chain *chain, int status);

/* Longest passphrase read from a file or the terminal, in bytes. */
#define PASSPHRASE_MAX 1024

/* Loads a private key for signing, warning when other users can read it.
 * `what` names the option for the hint ("-k").  An encrypted key takes its
 * passphrase from the first line of `passphrase_file` when not NULL, else
 * from the terminal (asked without echo), else fails saying so. */
int load_signing_key(const char *path, const char *what, const char *passphrase_file,
                     ac_key **out);

/* Reports a failed append or rotation, with a hint for the usual causes. */
int fail_append(ac_chain *chain, const ac_error *err);

/* ---------------------------------------------------------------- formatting */

/* "2024-05-01T12:34:56.123456Z", or "(out of range)" for absurd values. */
void format_utc(uint64_t us, char out[UTC_TEXT_LEN]);

/* "0190f1c2-...": the 8-4-4-4-12 text form of a 16-byte UUID. */
void format_uuid(const uint8_t id[AC_RECORD_ID_SIZE], char out[UUID_TEXT_LEN]);

/* JSON values; NULL when out of memory (jansson's setters accept NULL and
 * fail, which the callers check). */
json_t *json_u64(uint64_t v);
json_t *json_hex(const uint8_t *bytes, size_t len);
json_t *json_utc(uint64_t us); /* format_utc's text */

/* Sets obj[key] = value, taking the reference; false if either is NULL. */
bool json_put(json_t *obj, const char *key, json_t *value);

/* Prints one JSON value and a newline on stdout, then frees it. */
int print_json(json_t *value);

/* ---------------------------------------------------------------- progress */

/* A progress bar on stderr, drawn only when stderr is a terminal and the
 * work has taken long enough for a bar to help. */
typedef struct progress {
    char label[48];
    bool enabled;
    bool drawn;
    uint64_t min_total;   /* work smaller than this never shows a bar */
    uint64_t known_total; /* used when the library reports no total */
    bool bytes;           /* units: bytes (hashing) or records */
    int64_t start_ms;
    int64_t last_ms;
} progress;

void progress_init(progress *p, const char *label, bool bytes, uint64_t min_total,
                   uint64_t known_total);
/* An ac_progress_fn; ctx is a progress. */
void progress_update(void *ctx, uint64_t done, uint64_t total);
/* Clears the bar's line, if one was drawn. */
void progress_end(progress *p);

/* ---------------------------------------------------------------- federation
 * Mirrors, witnesses and evidence of forks (cmd_mirror.c, cmd_witness.c,
 * cmd_evidence.c; docs/format.md section 15). */
int cmd_mirror(int argc, char **argv);
int cmd_witness(int argc, char **argv);
int cmd_evidence(int argc, char **argv);

enum { MAX_TRUSTED = 256 }; /* --vkey, --key and --witness entries in all */

/* A whole file (or standard input for "-") of at most `max` bytes into a
 * NUL-terminated malloc'd buffer. EXIT_GOOD or EXIT_TROUBLE (reported). */
int read_small(const char *path, size_t max, char **out, size_t *len);

/* --vkey / --witness of command `cmd`: a key string, or a file of them (one
 * a line, blank lines and lines starting with '#' skipped), of signature
 * type `type`, added to list[*n] (at most MAX_TRUSTED).  EXIT_GOOD or
 * EXIT_TROUBLE (reported). */
int add_vkeys(const char *cmd, const char *arg, unsigned type, const ac_vkey **list, size_t *n);

#endif /* ATTESTCHAIN_TOOL_H */
