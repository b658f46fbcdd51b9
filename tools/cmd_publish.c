/* checkpoint, prove, consistency, export: a chain's evidence that travels
 * (docs/format.md section 14).  Each signs, proves or publishes what the
 * library computed from chain.bin and the checkpoints kept in the chain
 * directory; the checks of what they produce need no chain at all
 * (verify-proof, in cmd_tlog.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

enum { OPT_ORIGIN = 256, OPT_JSON, OPT_PASSPHRASE };

/* Options shared by the commands of this file. */
typedef struct pub_args {
    const char *cmd, *usage;
    const char *dir, *key, *origin, *out, *passphrase;
    bool json;
    int nargs;
    char **args;
} pub_args;

static const struct option pub_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"key", required_argument, NULL, 'k'},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"output", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, OPT_JSON},
    {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* -1 to go on, or the exit status.  `allowed` lists the short options the
 * command takes besides -C and -h ("k", "o", "ko"...); `nargs` operands. */
static int parse_pub(int argc, char **argv, pub_args *a, const char *allowed, bool origin_ok,
                     int nargs)
{
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":C:k:o:h", pub_opts, NULL)) != -1) {
        if ((c == 'k' || c == 'o') && strchr(allowed, c) == NULL)
            return fail_usage(a->cmd, "option -%c is not one of this command's", c);
        if (c == OPT_ORIGIN && !origin_ok)
            return fail_usage(a->cmd, "option --origin is not one of this command's");
        if (c == OPT_PASSPHRASE && strchr(allowed, 'k') == NULL)
            return fail_usage(a->cmd, "option --passphrase-file is not one of this command's");
        switch (c) {
        case 'C': a->dir = optarg; break;
        case 'k': a->key = optarg; break;
        case 'o': a->out = optarg; break;
        case OPT_ORIGIN: a->origin = optarg; break;
        case OPT_PASSPHRASE: a->passphrase = optarg; break;
        case OPT_JSON: a->json = true; break;
        case 'h': return print_help(a->usage);
        default: return fail_option(a->cmd, c, argv);
        }
    }
    if (argc - optind != nargs)
        return fail_usage(a->cmd, "expected %d argument%s, got %d", nargs, nargs == 1 ? "" : "s",
                          argc - optind);
    a->nargs = nargs;
    a->args = argv + optind;
    if ((a->dir = chain_dir(a->dir)) == NULL)
        return fail_usage(a->cmd, "no chain directory: give -C DIR or set " ENV_CHAIN_DIR);
    return -1;
}

/* ---------------------------------------------------------------- checkpoint */

static const char checkpoint_usage[] =
    "usage: attestchain checkpoint -C DIR -k KEY [--origin NAME] [--passphrase-file FILE]\n"
    "                              [--json]\n"
    "\n"
    "Signs a checkpoint of the chain's current size (a C2SP tlog-checkpoint: the\n"
    "origin, the number of records and the root of the Merkle tree over them, as a\n"
    "signed note), keeps it as DIR/checkpoints/<size> and prints it.  KEY must be\n"
    "the key authorized to sign the next record (after a rotation, the new key).\n"
    "The root is computed from chain.bin and the last checkpoint signed before, never\n"
    "from a cache alone.  Kept checkpoints are evidence: verify checks the chain\n"
    "against every one of them, so a later truncation or rewrite is caught.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR      the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "  -k, --key KEY      the authorized private key\n"
    "      --passphrase-file FILE\n"
    "                     the passphrase of an encrypted KEY (default: asked)\n"
    "      --origin NAME  the log's name, fixed by the first checkpoint (default:\n"
    "                     attestchain/<chain id>); no spaces or '+'\n"
    "      --json         print {\"size\": N, \"origin\": NAME, \"root\": HEX,\n"
    "                     \"checkpoint\": TEXT}\n"
    "  -h, --help         print this help\n"
    "\n"
    "Exit status: 0 signed (or kept already), 2 error.\n";

/* Signs and keeps a checkpoint of the chain as it is; prints it. */
int make_checkpoint(ac_chain *chain, const ac_key *key, const char *origin, bool json)
{
    char *note = NULL;
    size_t len;
    ac_error err;
    if (ac_chain_checkpoint(chain, key, origin, &note, &len, &err) != AC_OK)
        return fail_ac(&err, err.code == AC_EUNAUTHORIZED ? "give the authorized key with -k"
                                                          : NULL);
    int st;
    if (json) {
        ac_checkpoint *cp = NULL;
        json_t *o = json_object();
        bool ok = ac_checkpoint_parse((const uint8_t *)note, len, &cp, &err) == AC_OK &&
                  json_put(o, "size", json_u64(ac_checkpoint_size(cp))) &&
                  json_put(o, "origin", json_string(ac_checkpoint_origin(cp))) &&
                  json_put(o, "root", json_hex(ac_checkpoint_root(cp), AC_HASH_SIZE)) &&
                  json_put(o, "checkpoint", json_stringn(note, len));
        ac_checkpoint_free(cp);
        st = ok ? print_json(o) : fail_msg("out of memory building JSON");
        if (!ok)
            json_decref(o);
    } else {
        fwrite(note, 1, len, stdout);
        st = EXIT_GOOD;
    }
    ac_free(note);
    return st;
}

int cmd_checkpoint(int argc, char **argv)
{
    pub_args a = {.cmd = "checkpoint", .usage = checkpoint_usage};
    int st = parse_pub(argc, argv, &a, "k", true, 0);
    if (st >= 0)
        return st;
    if (a.key == NULL)
        return fail_usage("checkpoint", "give -k KEY, the key authorized to sign the next record");
    ac_key *key = NULL;
    if ((st = load_signing_key(a.key, "-k", a.passphrase, &key)) != EXIT_GOOD)
        return st;
    ac_chain *chain = NULL;
    st = open_chain(a.dir, 0, &chain);
    if (st == EXIT_GOOD)
        st = close_chain(chain, make_checkpoint(chain, key, a.origin, a.json));
    ac_key_free(key);
    return st == EXIT_GOOD ? finish_output(EXIT_GOOD) : st;
}

/* ---------------------------------------------------------------- prove */

static const char prove_usage[] =
    "usage: attestchain prove -C DIR INDEX [-o FILE]\n"
    "\n"
    "Writes a .tlog-proof of record INDEX (C2SP tlog-proof: the record itself, its\n"
    "inclusion proof and the newest kept checkpoint that covers it) to FILE, or to\n"
    "stdout.  Whoever holds it checks it with 'attestchain verify-proof', or in the\n"
    "browser on an export's page, with nothing but the log's verifier key ('vkey').\n"
    "The record is checked before it goes out, and the proof against the signed\n"
    "root.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR      the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "  -o, --output FILE  write the proof to FILE (created; never over a file)\n"
    "  -h, --help         print this help\n"
    "\n"
    "Exit status: 0 written, 1 the record or the chain is damaged, 2 error (no\n"
    "checkpoint covers the record yet: run 'attestchain checkpoint').\n";

static int write_new_file(const char *path, const char *data, size_t len)
{
    FILE *f = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0)
        f = fdopen(fd, "w");
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return fail_msg("%s: cannot create (%s); choose another -o, a proof is never written "
                        "over a file", path, strerror(errno));
    }
    bool ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok)
        return fail_msg("%s: cannot write (%s)", path, strerror(errno));
    return EXIT_GOOD;
}

int cmd_prove(int argc, char **argv)
{
    pub_args a = {.cmd = "prove", .usage = prove_usage};
    int st = parse_pub(argc, argv, &a, "o", false, 1);
    if (st >= 0)
        return st;
    uint64_t index;
    if (!parse_u64(a.args[0], &index))
        return fail_usage("prove", "INDEX is a record number, got '%.40s'", a.args[0]);
    ac_chain *chain = NULL;
    if ((st = open_chain(a.dir, 0, &chain)) != EXIT_GOOD)
        return st;
    char *proof = NULL;
    size_t len;
    ac_error err;
    if (ac_chain_prove(chain, index, &proof, &len, &err) != AC_OK) {
        st = fail_ac(&err, NULL);
        if (err.code == AC_ECORRUPT)
            st = EXIT_INVALID;
    } else if (a.out != NULL) {
        st = write_new_file(a.out, proof, len);
    } else {
        fwrite(proof, 1, len, stdout);
    }
    ac_free(proof);
    st = close_chain(chain, st);
    return st == EXIT_GOOD ? finish_output(EXIT_GOOD) : st;
}

/* ---------------------------------------------------------------- consistency */

static const char consistency_usage[] =
    "usage: attestchain consistency -C DIR OLD NEW [--json]\n"
    "\n"
    "Prints the consistency proof that the Merkle tree of the first OLD records is a\n"
    "prefix of the tree of the first NEW (RFC 6962 2.1.2): one base64 hash a line,\n"
    "as the Go checksum database's tlog.ProveTree gives them.  The roots come from\n"
    "chain.bin and the signed checkpoints, and the proof is checked against them.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR   the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "      --json      print {\"old\": N, \"new\": N, \"old_root\": B64, \"new_root\": B64,\n"
    "                  \"proof\": [B64, ...]}\n"
    "  -h, --help      print this help\n"
    "\n"
    "Exit status: 0 printed, 1 the chain no longer gives a signed root, 2 error.\n";

int cmd_consistency(int argc, char **argv)
{
    pub_args a = {.cmd = "consistency", .usage = consistency_usage};
    int st = parse_pub(argc, argv, &a, "", false, 2);
    if (st >= 0)
        return st;
    uint64_t old_size, new_size;
    if (!parse_u64(a.args[0], &old_size) || !parse_u64(a.args[1], &new_size))
        return fail_usage("consistency", "OLD and NEW are numbers of records");
    ac_chain *chain = NULL;
    if ((st = open_chain(a.dir, 0, &chain)) != EXIT_GOOD)
        return st;
    uint8_t proof[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE], old_root[AC_HASH_SIZE], new_root[AC_HASH_SIZE];
    size_t count = 0;
    ac_error err;
    char b64[AC_BASE64_LEN(AC_HASH_SIZE)];
    if (ac_chain_consistency(chain, old_size, new_size, proof, &count, old_root, new_root, &err) !=
        AC_OK) {
        st = fail_ac(&err, err.code == AC_EINVAL ? "check OLD and NEW" : NULL);
        if (err.code == AC_ECORRUPT)
            st = EXIT_INVALID;
    } else if (a.json) {
        json_t *o = json_object(), *arr = json_array();
        bool ok = json_put(o, "old", json_u64(old_size)) && json_put(o, "new", json_u64(new_size));
        ac_base64_encode(old_root, AC_HASH_SIZE, b64);
        ok = ok && json_put(o, "old_root", json_string(b64));
        ac_base64_encode(new_root, AC_HASH_SIZE, b64);
        ok = ok && json_put(o, "new_root", json_string(b64));
        for (size_t i = 0; ok && i < count; i++) {
            ac_base64_encode(proof[i], AC_HASH_SIZE, b64);
            ok = json_array_append_new(arr, json_string(b64)) == 0;
        }
        ok = ok && json_put(o, "proof", arr);
        if (!ok) {
            json_decref(o);
            st = fail_msg("out of memory building JSON");
        } else {
            st = print_json(o);
        }
    } else {
        for (size_t i = 0; i < count; i++) {
            ac_base64_encode(proof[i], AC_HASH_SIZE, b64);
            printf("%s\n", b64);
        }
    }
    st = close_chain(chain, st);
    return st == EXIT_GOOD ? finish_output(EXIT_GOOD) : st;
}

/* ---------------------------------------------------------------- export */

static const char export_usage[] =
    "usage: attestchain export -C DIR OUT [-k KEY] [--passphrase-file FILE] [--json]\n"
    "\n"
    "Publishes the chain in directory OUT as a static C2SP tlog-tiles log that any\n"
    "web server can serve: `checkpoint` (the largest kept signed checkpoint),\n"
    "tile/<L>/<N>[.p/<W>] (hash tiles), tile/entries/<N>[.p/<W>] (entry bundles:\n"
    "each record's bytes), and a page, index.html, that shows the chain and checks\n"
    "proofs in the browser, with export.json (the verifier key it pins).  With -k,\n"
    "signs a checkpoint of the current size first.  Incremental: only what is new is\n"
    "written, full tiles never again, every file atomically, the checkpoint last.\n"
    "Records after the checkpoint wait for the next one.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR   the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "  -k, --key KEY   sign a checkpoint of the current size first\n"
    "      --passphrase-file FILE\n"
    "                  the passphrase of an encrypted KEY (default: asked)\n"
    "      --json      print {\"size\": N, \"old_size\": N, \"files\": N, \"bytes\": N}\n"
    "  -h, --help      print this help\n"
    "\n"
    "Exit status: 0 published, 2 error (no checkpoint yet, a record over 65535\n"
    "bytes, OUT holding another log's export).\n";

int cmd_export(int argc, char **argv)
{
    pub_args a = {.cmd = "export", .usage = export_usage};
    int st = parse_pub(argc, argv, &a, "k", false, 1);
    if (st >= 0)
        return st;
    ac_key *key = NULL;
    if (a.key != NULL && (st = load_signing_key(a.key, "-k", a.passphrase, &key)) != EXIT_GOOD)
        return st;
    ac_chain *chain = NULL;
    st = open_chain(a.dir, 0, &chain);
    char *note = NULL;
    size_t len;
    ac_error err;
    if (st == EXIT_GOOD && key != NULL &&
        ac_chain_checkpoint(chain, key, NULL, &note, &len, &err) != AC_OK)
        st = fail_ac(&err, NULL);
    ac_free(note);
    ac_key_free(key);
    ac_export_stats s;
    if (st == EXIT_GOOD && ac_chain_export(chain, a.args[0], &s, &err) != AC_OK)
        st = fail_ac(&err, err.code == AC_ENOTFOUND ? "or give -k KEY" : NULL);
    if (st == EXIT_GOOD && a.json) {
        json_t *o = json_object();
        if (json_put(o, "size", json_u64(s.size)) && json_put(o, "old_size", json_u64(s.old_size)) &&
            json_put(o, "files", json_u64(s.files_written)) &&
            json_put(o, "bytes", json_u64(s.bytes_written)))
            st = print_json(o);
        else
            st = fail_msg("out of memory building JSON");
    } else if (st == EXIT_GOOD) {
        printf("published %llu records in %s (%llu files written, %llu bytes)\n",
               (unsigned long long)s.size, a.args[0], (unsigned long long)s.files_written,
               (unsigned long long)s.bytes_written);
    }
    if (chain != NULL)
        st = close_chain(chain, st);
    return st == EXIT_GOOD ? finish_output(EXIT_GOOD) : st;
}
