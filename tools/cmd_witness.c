/* witness: cosigns a log's checkpoints (C2SP tlog-cosignature, format
 * section 15.2), each only if it is consistent with the last one this
 * witness cosigned for that origin.  Decision: the witness's whole memory
 * is one file per log holding that last checkpoint, replaced atomically
 * (temporary file, fsync, rename) under an flock that admits one witness
 * process at a time; so a cosignature is two Ed25519 operations (the log's
 * signature checked, the cosignature made) and one durable write.  A
 * checkpoint that contradicts the last one is refused, and when the
 * contradiction is provable (one size, two roots; or the log's own tiles
 * proving another root at the old size) evidence is kept. */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "federation.h"

#define CONFIG_FILE "witness"
#define CONFIG_HEADER "attestchain-witness v1\n"
#define LOCK_FILE "lock"

static const char witness_usage[] =
    "usage: attestchain witness init -d WDIR -k WITNESS_KEY --name NAME\n"
    "       attestchain witness add-log -d WDIR --origin ORIGIN --vkey VKEY [--vkey...]\n"
    "       attestchain witness cosign -d WDIR [--proof FILE | --from SOURCE]\n"
    "           [--timeout SECONDS] [-o OUT] CHECKPOINT\n"
    "\n"
    "A witness (format section 15.2) cosigns a log's signed checkpoints, each only\n"
    "if it is consistent with the last one it cosigned for that log, so that\n"
    "whoever trusts the witness knows the log shows everybody one history.\n"
    "\n"
    "  init      makes the witness directory WDIR for the key WITNESS_KEY (an\n"
    "            Ed25519 private key file, kept where it is) under NAME, and prints\n"
    "            the witness's verifier key (give it to whoever checks with\n"
    "            'verify-proof --witness' or 'mirror --witness')\n"
    "  add-log   trusts the log ORIGIN signed by VKEY (again after a rotation, with\n"
    "            the new key's vkey)\n"
    "  cosign    checks CHECKPOINT (a file, or - for standard input): signed by one\n"
    "            of its log's vkeys, and consistent with the last checkpoint cosigned\n"
    "            for it (a consistency proof: --proof FILE, the proof's lines as\n"
    "            'attestchain consistency' prints them, or --from SOURCE, the log's\n"
    "            export directory or URL, whose tiles give it); then prints it with\n"
    "            the witness's cosignature line added (to OUT with -o)\n"
    "\n"
    "Options:\n"
    "  -d, --dir WDIR        the witness directory\n"
    "  -k, --key KEY         the witness's private key (init)\n"
    "      --name NAME       the witness's name, e.g. witness.example.org (init)\n"
    "      --origin ORIGIN   the log's origin (add-log)\n"
    "      --vkey VKEY       the log's verifier key, or a file of them (add-log)\n"
    "      --proof FILE      consistency proof from the last cosigned size (cosign)\n"
    "      --from SOURCE     the log's export directory or http(s) URL (cosign)\n"
    "      --timeout SECONDS for --from (default 30)\n"
    "  -o, --output OUT      write the cosigned checkpoint to OUT (cosign)\n"
    "  -h, --help            print this help\n"
    "\n"
    "Exit status: 0 done (cosign: cosigned), 1 cosign refused: a checkpoint not\n"
    "signed by the log, older than the last one cosigned, or not proven consistent\n"
    "with it (evidence of a fork is kept in WDIR/evidence/ when it can be proven),\n"
    "2 error.\n";

enum { OPT_NAME = 256, OPT_ORIGIN, OPT_VKEY, OPT_PROOF, OPT_FROM, OPT_TIMEOUT };

static const struct option witness_opts[] = {
    {"dir", required_argument, NULL, 'd'},
    {"key", required_argument, NULL, 'k'},
    {"name", required_argument, NULL, OPT_NAME},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"vkey", required_argument, NULL, OPT_VKEY},
    {"proof", required_argument, NULL, OPT_PROOF},
    {"from", required_argument, NULL, OPT_FROM},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct wargs {
    const char *sub, *dir, *key, *name, *origin, *proof, *from, *out, *checkpoint;
    const ac_vkey *vkeys[MAX_TRUSTED];
    size_t nvkeys;
    uint64_t timeout;
} wargs;

/* ---------------------------------------------------------------- files */

/* logs/<first 16 bytes of SHA-256(origin) in hex>: an origin may hold '/'. */
static int log_name(const char *origin, const char *ext, char *out, size_t size)
{
    uint8_t h[AC_HASH_SIZE];
    char hex[HASH_HEX_LEN];
    if (ac_sha256(origin, strlen(origin), h, NULL) != AC_OK)
        return fail_msg("SHA-256 failed");
    ac_hex_encode(h, 16, hex);
    snprintf(out, size, "%s%s", hex, ext);
    return EXIT_GOOD;
}

typedef struct config {
    char name[AC_NOTE_MAX_NAME + 1];
    char key[PATH_MAX];
} config;

static int read_config(const char *dir, config *c)
{
    char path[4096], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/" CONFIG_FILE, dir);
    if (access(path, F_OK) != 0)
        return fail_msg("%s: not a witness directory; make one with 'attestchain witness init'",
                        dir);
    int st = read_small(path, 1u << 16, &text, &len);
    if (st != EXIT_GOOD)
        return st;
    char *save = NULL, *line;
    memset(c, 0, sizeof *c);
    if (strncmp(text, CONFIG_HEADER, strlen(CONFIG_HEADER)) != 0)
        st = fail_msg("%s: not a witness's configuration", path);
    for (line = st == EXIT_GOOD ? strtok_r(text + strlen(CONFIG_HEADER), "\n", &save) : NULL;
         line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "name ", 5) == 0 && strlen(line + 5) < sizeof c->name)
            strcpy(c->name, line + 5);
        else if (strncmp(line, "key ", 4) == 0 && strlen(line + 4) < sizeof c->key)
            strcpy(c->key, line + 4);
    }
    free(text);
    if (st == EXIT_GOOD && (c->name[0] == '\0' || c->key[0] == '\0'))
        st = fail_msg("%s: no name or no key", path);
    return st;
}

/* The log's vkeys (logs/<h>.vkeys: the origin, then one vkey a line). */
static int read_log(const char *dir, const char *origin, const ac_vkey **keys, size_t *n,
                    bool must)
{
    char name[96], path[4200], *text = NULL;
    size_t len;
    int st = log_name(origin, ".vkeys", name, sizeof name);
    snprintf(path, sizeof path, "%s/logs/%s", dir, name);
    if (st == EXIT_GOOD && access(path, F_OK) != 0)
        return must ? refuse("%s: no log '%s' here; add it with 'attestchain witness add-log'",
                             dir, origin)
                    : EXIT_GOOD;
    if (st == EXIT_GOOD)
        st = read_small(path, 1u << 20, &text, &len);
    char *save = NULL;
    char *line = st == EXIT_GOOD ? strtok_r(text, "\n", &save) : NULL;
    if (st == EXIT_GOOD && (line == NULL || strcmp(line, origin) != 0))
        st = fail_msg("%s: not the log '%s'", path, origin);
    while (st == EXIT_GOOD && (line = strtok_r(NULL, "\n", &save)) != NULL)
        st = add_vkeys("witness", line, AC_VKEY_ED25519, keys, n);
    free(text);
    return st;
}

/* ---------------------------------------------------------------- init, add-log */

static int run_init(wargs *a)
{
    if (a->key == NULL || a->name == NULL)
        return fail_usage("witness", "init needs -k WITNESS_KEY and --name NAME");
    char key[PATH_MAX];
    if (realpath(a->key, key) == NULL)
        return fail_msg("%s: cannot find the key file", a->key);
    ac_key *k = NULL;
    int st = load_signing_key(key, "-k", NULL, &k);
    if (st != EXIT_GOOD)
        return st;
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(k, pub);
    ac_key_free(k);
    ac_vkey *v = NULL;
    char *vs = NULL, path[4200];
    ac_error err;
    if (ac_vkey_new(a->name, AC_VKEY_COSIGNATURE, pub, &v, &err) != AC_OK ||
        ac_vkey_string(v, &vs, &err) != AC_OK) {
        ac_vkey_free(v);
        return fail_ac(&err, "choose another --name");
    }
    ac_vkey_free(v);
    snprintf(path, sizeof path, "%s/" CONFIG_FILE, a->dir);
    if (mkdir(a->dir, 0700) != 0 && access(path, F_OK) == 0)
        st = fail_msg("%s: already a witness directory", a->dir);
    char logs[4200], *text = NULL;
    size_t len = 0;
    FILE *f = st == EXIT_GOOD ? open_memstream(&text, &len) : NULL;
    if (st == EXIT_GOOD && f == NULL)
        st = fail_msg("out of memory");
    if (f != NULL) {
        fprintf(f, CONFIG_HEADER "name %s\nkey %s\n", a->name, key);
        if (fclose(f) != 0)
            st = fail_msg("out of memory");
    }
    if (st == EXIT_GOOD)
        st = make_subdir(a->dir, "logs", logs, sizeof logs);
    if (st == EXIT_GOOD)
        st = write_durable(a->dir, CONFIG_FILE, text, len);
    if (st == EXIT_GOOD)
        printf("%s\n", vs);
    free(text);
    ac_free(vs);
    return st == EXIT_GOOD ? finish_output(st) : st;
}

static int run_add_log(wargs *a)
{
    if (a->origin == NULL || a->nvkeys == 0)
        return fail_usage("witness", "add-log needs --origin ORIGIN and --vkey VKEY");
    for (size_t i = 0; i < a->nvkeys; i++)
        if (strcmp(ac_vkey_name(a->vkeys[i]), a->origin) != 0)
            return fail_usage("witness", "--vkey '%s' is not of the origin '%s'",
                              ac_vkey_name(a->vkeys[i]), a->origin);
    config c;
    int lock = -1, st = read_config(a->dir, &c);
    if (st == EXIT_GOOD)
        st = lock_dir(a->dir, LOCK_FILE, "witness", &lock);
    const ac_vkey *keys[MAX_TRUSTED];
    size_t n = 0;
    if (st == EXIT_GOOD)
        st = read_log(a->dir, a->origin, keys, &n, false);
    char *text = NULL, *vs = NULL, name[64], logs[4200];
    size_t len = 0;
    FILE *f = st == EXIT_GOOD ? open_memstream(&text, &len) : NULL;
    if (f != NULL) {
        fprintf(f, "%s\n", a->origin);
        for (size_t i = 0; i < n + a->nvkeys; i++) {
            if (ac_vkey_string(i < n ? keys[i] : a->vkeys[i - n], &vs, NULL) == AC_OK)
                fprintf(f, "%s\n", vs);
            ac_free(vs);
            vs = NULL;
        }
        if (fclose(f) != 0)
            st = fail_msg("out of memory");
    }
    if (st == EXIT_GOOD)
        st = make_subdir(a->dir, "logs", logs, sizeof logs);
    if (st == EXIT_GOOD)
        st = log_name(a->origin, ".vkeys", name, sizeof name);
    if (st == EXIT_GOOD)
        st = write_durable(logs, name, text, len);
    free(text);
    for (size_t i = 0; i < n; i++)
        ac_vkey_free((ac_vkey *)keys[i]);
    if (lock >= 0)
        close(lock);
    return st;
}

/* ---------------------------------------------------------------- cosign */

static int read_proof(const char *path, uint8_t (*proof)[AC_HASH_SIZE], size_t *count)
{
    char *text = NULL, *save = NULL;
    size_t len;
    int st = read_small(path, 64u * 1024u, &text, &len);
    *count = 0;
    for (char *line = st == EXIT_GOOD ? strtok_r(text, "\n", &save) : NULL;
         st == EXIT_GOOD && line != NULL; line = strtok_r(NULL, "\n", &save)) {
        size_t got = 0;
        uint8_t h[AC_HASH_SIZE + 3];
        if (*count == AC_MERKLE_MAX_PROOF ||
            ac_base64_decode(line, strlen(line), h, sizeof h, &got, NULL) != AC_OK ||
            got != AC_HASH_SIZE)
            st = refuse("%s: not a consistency proof (one base64 hash a line)", path);
        else
            memcpy(proof[(*count)++], h, AC_HASH_SIZE);
    }
    free(text);
    return st;
}

/* The last checkpoint cosigned for the log (NULL: none yet). */
static int read_last(const char *logs, const char *name, ac_checkpoint **out)
{
    char path[4300], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/%s", logs, name);
    *out = NULL;
    if (access(path, F_OK) != 0)
        return EXIT_GOOD;
    int st = read_small(path, AC_NOTE_MAX_SIZE, &text, &len);
    ac_error err;
    if (st == EXIT_GOOD && ac_checkpoint_parse((uint8_t *)text, len, out, &err) != AC_OK)
        st = fail_msg("%s: damaged (%s); restore it from a backup", path, err.message);
    free(text);
    return st;
}

/* Whether `cp` (size N) extends `last` (size M < N): by --proof, or by the
 * log's tiles with --from, which can also prove a fork. */
static int consistent(wargs *a, const char *dir, const ac_checkpoint *last, const ac_checkpoint *cp,
                      const ac_vkey *const *keys, size_t nkeys)
{
    uint64_t m = ac_checkpoint_size(last), n = ac_checkpoint_size(cp);
    uint8_t proof[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE], old[AC_HASH_SIZE];
    size_t count = 0;
    source *src = NULL;
    tiles *t = NULL;
    int st = EXIT_GOOD;
    if (a->proof != NULL)
        st = read_proof(a->proof, proof, &count);
    else if (a->from != NULL) {
        st = source_open(a->from, (long)a->timeout, &src);
        if (st == EXIT_GOOD)
            st = tiles_new(src, n, &t);
        if (st == EXIT_GOOD)
            st = tiles_prove(t, m, proof, &count);
    } else
        st = refuse("the last checkpoint cosigned for %s has %llu records: give --proof or "
                    "--from to show that this one of %llu extends it", ac_checkpoint_origin(cp),
                    (unsigned long long)m, (unsigned long long)n);
    ac_error err;
    const uint8_t(*pr)[AC_HASH_SIZE] = (const uint8_t(*)[AC_HASH_SIZE])proof;
    if (st == EXIT_GOOD &&
        ac_merkle_check_tree(pr, count, m, ac_checkpoint_root(last), n, ac_checkpoint_root(cp),
                             &err) != 1) {
        if (t != NULL && tiles_root(t, m, NULL, m, old) == EXIT_GOOD &&
            memcmp(old, ac_checkpoint_root(last), AC_HASH_SIZE) != 0 &&
            ac_merkle_check_tree(pr, count, m, old, n, ac_checkpoint_root(cp), &err) == 1)
            st = keep_checkpoint_fork(dir, last, cp, old, pr, count, keys, nkeys);
        else
            st = refuse("the checkpoint of %llu records is not proven consistent with the one "
                        "of %llu cosigned before; not cosigned", (unsigned long long)n,
                        (unsigned long long)m);
    }
    tiles_free(t);
    source_close(src);
    return st;
}

static int write_output(const char *out, const char *text, size_t len)
{
    if (out == NULL) {
        fwrite(text, 1, len, stdout);
        return finish_output(EXIT_GOOD);
    }
    FILE *f = fopen(out, "w");
    if (f == NULL)
        return fail_msg("%s: cannot create", out);
    bool ok = fwrite(text, 1, len, f) == len;
    if (fclose(f) != 0 || !ok)
        return fail_msg("%s: cannot write", out);
    return EXIT_GOOD;
}

static int cosign_locked(wargs *a, const config *c, const ac_checkpoint *cp,
                         const ac_vkey *const *keys, size_t nkeys)
{
    char logs[4200], name[64];
    ac_checkpoint *last = NULL;
    int st = make_subdir(a->dir, "logs", logs, sizeof logs);
    if (st == EXIT_GOOD)
        st = log_name(ac_checkpoint_origin(cp), ".last", name, sizeof name);
    if (st == EXIT_GOOD)
        st = read_last(logs, name, &last);
    uint64_t n = ac_checkpoint_size(cp), m = last ? ac_checkpoint_size(last) : 0;
    if (st == EXIT_GOOD && last != NULL) {
        if (n < m)
            st = refuse("the checkpoint has %llu records, fewer than the %llu cosigned before; "
                        "not cosigned", (unsigned long long)n, (unsigned long long)m);
        else if (n == m && memcmp(ac_checkpoint_root(cp), ac_checkpoint_root(last),
                                  AC_HASH_SIZE) != 0)
            st = keep_checkpoint_fork(a->dir, last, cp, NULL, NULL, 0, keys, nkeys);
        else if (n > m)
            st = consistent(a, a->dir, last, cp, keys, nkeys);
    }
    ac_checkpoint_free(last);
    ac_key *key = NULL;
    if (st == EXIT_GOOD)
        st = load_signing_key(c->key, "the witness's key", NULL, &key);
    size_t len, out_len;
    const uint8_t *note = ac_checkpoint_bytes(cp, &len);
    char *out = NULL;
    ac_error err;
    if (st == EXIT_GOOD &&
        ac_checkpoint_cosign(note, len, c->name, key, (uint64_t)time(NULL), &out, &out_len, &err) !=
            AC_OK)
        st = fail_ac(&err, NULL);
    ac_key_free(key);
    /* Remembered before it is shown: a cosignature handed out is never
     * forgotten by a crash. */
    if (st == EXIT_GOOD)
        st = write_durable(logs, name, note, len);
    if (st == EXIT_GOOD)
        st = write_output(a->out, out, out_len);
    ac_free(out);
    return st;
}

static int run_cosign(wargs *a)
{
    if (a->checkpoint == NULL)
        return fail_usage("witness", "cosign needs the CHECKPOINT file");
    if (a->proof != NULL && a->from != NULL)
        return fail_usage("witness", "give --proof or --from, not both");
    config c;
    int lock = -1, st = read_config(a->dir, &c);
    if (st == EXIT_GOOD)
        st = lock_dir(a->dir, LOCK_FILE, "witness", &lock);
    char *text = NULL;
    size_t len;
    if (st == EXIT_GOOD)
        st = read_small(a->checkpoint, AC_NOTE_MAX_SIZE, &text, &len);
    ac_checkpoint *cp = NULL;
    ac_error err;
    if (st == EXIT_GOOD && ac_checkpoint_parse((uint8_t *)text, len, &cp, &err) != AC_OK)
        st = refuse("%s: %s", a->checkpoint, err.message);
    free(text);
    const ac_vkey *keys[MAX_TRUSTED];
    size_t n = 0;
    if (st == EXIT_GOOD)
        st = read_log(a->dir, ac_checkpoint_origin(cp), keys, &n, true);
    if (st == EXIT_GOOD && ac_checkpoint_verify(cp, keys, n, &err) != 1)
        st = refuse("%s: not signed by a key of the log '%s': %s", a->checkpoint,
                    ac_checkpoint_origin(cp), err.message);
    if (st == EXIT_GOOD)
        st = cosign_locked(a, &c, cp, keys, n);
    for (size_t i = 0; i < n; i++)
        ac_vkey_free((ac_vkey *)keys[i]);
    ac_checkpoint_free(cp);
    if (lock >= 0)
        close(lock);
    return st;
}

int cmd_witness(int argc, char **argv)
{
    wargs *a = calloc(1, sizeof *a);
    if (a == NULL)
        return fail_msg("out of memory");
    getopt_reset();
    int c, st = -1;
    while (st < 0 && (c = getopt_long(argc, argv, ":d:k:o:h", witness_opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->dir = optarg; break;
        case 'k': a->key = optarg; break;
        case 'o': a->out = optarg; break;
        case OPT_NAME: a->name = optarg; break;
        case OPT_ORIGIN: a->origin = optarg; break;
        case OPT_VKEY:
            if (add_vkeys("witness", optarg, AC_VKEY_ED25519, a->vkeys, &a->nvkeys) != EXIT_GOOD)
                st = EXIT_TROUBLE;
            break;
        case OPT_PROOF: a->proof = optarg; break;
        case OPT_FROM: a->from = optarg; break;
        case OPT_TIMEOUT:
            if (!parse_u64(optarg, &a->timeout) || a->timeout == 0 || a->timeout > 86400)
                st = fail_usage("witness", "--timeout takes seconds, 1 to 86400");
            break;
        case 'h': st = print_help(witness_usage); break;
        default: st = fail_option("witness", c, argv); break;
        }
    }
    if (st < 0 && optind >= argc)
        st = fail_usage("witness", "give a subcommand: init, add-log or cosign");
    if (st < 0 && a->dir == NULL)
        st = fail_usage("witness", "give the witness directory with -d WDIR");
    if (st < 0) {
        a->sub = argv[optind];
        int left = argc - optind - 1;
        bool cosign = strcmp(a->sub, "cosign") == 0;
        if (left > (cosign ? 1 : 0))
            st = fail_usage("witness", "unexpected argument '%s'", argv[argc - 1]);
        else if (cosign)
            a->checkpoint = left == 1 ? argv[optind + 1] : NULL;
    }
    if (st < 0) {
        if (strcmp(a->sub, "init") == 0)
            st = run_init(a);
        else if (strcmp(a->sub, "add-log") == 0)
            st = run_add_log(a);
        else if (strcmp(a->sub, "cosign") == 0)
            st = run_cosign(a);
        else
            st = fail_usage("witness", "unknown subcommand '%s' (known: init, add-log, cosign)",
                            a->sub);
    }
    for (size_t i = 0; i < a->nvkeys; i++)
        ac_vkey_free((ac_vkey *)a->vkeys[i]);
    free(a);
    return st;
}
