/* vkey and verify-proof: the commands of evidence that travels (format
 * section 14).  Decision: verify-proof needs no chain directory, only the
 * proof file and the keys the user trusts, so an editor who was handed a
 * photo and its .tlog-proof can check it with nothing but the reporter's
 * verifier key; all of the judging is the library's ac_proof_verify. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"


/* ---------------------------------------------------------------- vkey */

static const char vkey_usage[] =
    "usage: attestchain vkey -k KEY --origin NAME [--witness]\n"
    "       attestchain vkey -C DIR [--history] [--json]\n"
    "\n"
    "With -C: the verifier key of the chain's current signer under the chain's\n"
    "origin; with --history, every key that signed the chain, one a line, with the\n"
    "records it signed (FIRST-LAST, or FIRST- for the current one): a proof of an\n"
    "older record needs the key that signed it ('verify-proof --key').\n"
    "\n"
    "Prints the verifier key (a C2SP signed-note vkey) of the private key KEY under\n"
    "the name NAME: NAME+KEYID+BASE64.  For a chain, NAME is its origin (format\n"
    "section 14.2) and the key its current signer; give the line to whoever will\n"
    "check its proofs with 'attestchain verify-proof --vkey'.  With --witness,\n"
    "the key of a witness named NAME instead (tlog-cosignature, key type 0x04).\n"
    "\n"
    "Options:\n"
    "  -k, --key KEY      an Ed25519 private key file (PKCS#8 PEM)\n"
    "      --origin NAME  the key name: no spaces or '+', e.g. example.org/photos\n"
    "      --witness      print a witness's cosignature key\n"
    "  -C, --dir DIR      the chain directory\n"
    "      --history      every key of the chain, with the records it signed\n"
    "      --json         print {\"origin\": NAME, \"vkey\": VKEY, \"history\":\n"
    "                     [{\"vkey\", \"pubkey\", \"first\", \"last\"|null}]}\n"
    "  -h, --help         print this help\n"
    "\n"
    "Exit status: 0 printed, 2 error.\n";

enum { OPT_ORIGIN = 256, OPT_WITNESS, OPT_VKEY, OPT_WITNESSES_NEEDED, OPT_JSON, OPT_PUBKEY,
       OPT_HISTORY };

static const struct option vkey_opts[] = {
    {"key", required_argument, NULL, 'k'},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"witness", no_argument, NULL, OPT_WITNESS},
    {"dir", required_argument, NULL, 'C'},
    {"history", no_argument, NULL, OPT_HISTORY},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The vkey string of `pub` under `origin`; NULL (after an error line) if it
 * cannot be made. */
static char *vkey_text(const char *origin, unsigned type, const uint8_t pub[AC_PUBKEY_SIZE])
{
    ac_vkey *v = NULL;
    char *s = NULL;
    ac_error err;
    if (ac_vkey_new(origin, type, pub, &v, &err) != AC_OK || ac_vkey_string(v, &s, &err) != AC_OK)
        (void)fail_ac(&err, "choose another --origin");
    ac_vkey_free(v);
    return s;
}

/* vkey -C DIR [--history]: the chain's keys under its origin. */
static int chain_vkeys(const char *dir, bool history, bool json)
{
    ac_chain *chain = NULL;
    int st = open_chain(dir, AC_OPEN_READONLY, &chain);
    if (st != EXIT_GOOD)
        return st;
    char *origin = NULL, *cur = NULL;
    ac_signer_span *spans = NULL;
    size_t n = 0;
    ac_error err;
    ac_state s;
    if (ac_chain_origin(chain, &origin, &err) != AC_OK ||
        ac_chain_state(chain, &s, &err) != AC_OK || ac_chain_signers(chain, &spans, &n, &err) != AC_OK)
        st = fail_ac(&err, NULL);
    if (st == EXIT_GOOD && (cur = vkey_text(origin, AC_VKEY_ED25519, s.signer)) == NULL)
        st = EXIT_TROUBLE;
    json_t *o = json ? json_object() : NULL, *arr = json ? json_array() : NULL;
    if (st == EXIT_GOOD && !history && !json)
        printf("%s\n", cur);
    for (size_t i = 0; st == EXIT_GOOD && (history || json) && i < n; i++) {
        char *v = vkey_text(origin, AC_VKEY_ED25519, spans[i].key);
        if (v == NULL) {
            st = EXIT_TROUBLE;
            break;
        }
        bool open_end = spans[i].last == UINT64_MAX;
        if (json) {
            json_t *e = json_object();
            if (!json_put(e, "vkey", json_string(v)) ||
                !json_put(e, "pubkey", json_hex(spans[i].key, AC_PUBKEY_SIZE)) ||
                !json_put(e, "first", json_u64(spans[i].first)) ||
                !json_put(e, "last", open_end ? json_null() : json_u64(spans[i].last)) ||
                json_array_append_new(arr, e) != 0)
                st = fail_msg("out of memory building JSON");
        } else if (open_end) {
            printf("%s %llu-\n", v, (unsigned long long)spans[i].first);
        } else {
            printf("%s %llu-%llu\n", v, (unsigned long long)spans[i].first,
                   (unsigned long long)spans[i].last);
        }
        ac_free(v);
    }
    if (st == EXIT_GOOD && json) {
        if (json_put(o, "origin", json_string(origin)) && json_put(o, "vkey", json_string(cur)) &&
            json_put(o, "history", arr)) {
            arr = NULL;
            st = print_json(o);
            o = NULL;
        } else {
            st = fail_msg("out of memory building JSON");
        }
    }
    json_decref(arr);
    json_decref(o);
    ac_free(origin);
    ac_free(cur);
    ac_free(spans);
    st = close_chain(chain, st);
    return st == EXIT_GOOD ? finish_output(EXIT_GOOD) : st;
}

int cmd_vkey(int argc, char **argv)
{
    getopt_reset();
    const char *keyfile = NULL, *origin = NULL, *dir = NULL;
    bool witness = false, history = false, json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":k:C:h", vkey_opts, NULL)) != -1) {
        switch (c) {
        case 'k': keyfile = optarg; break;
        case 'C': dir = optarg; break;
        case OPT_ORIGIN: origin = optarg; break;
        case OPT_WITNESS: witness = true; break;
        case OPT_HISTORY: history = true; break;
        case OPT_JSON: json = true; break;
        case 'h': return print_help(vkey_usage);
        default: return fail_option("vkey", c, argv);
        }
    }
    if (optind < argc)
        return fail_usage("vkey", "unexpected argument '%s'", argv[optind]);
    if (dir != NULL && keyfile == NULL && origin == NULL && !witness)
        return chain_vkeys(dir, history, json);
    if (keyfile == NULL || origin == NULL || dir != NULL || history)
        return fail_usage("vkey", "give -k KEY and --origin NAME, or -C DIR [--history]");
    ac_key *key = NULL;
    ac_error err;
    if (ac_key_load(keyfile, &key, &err) != AC_OK)
        return fail_ac(&err, NULL);
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(key, pub);
    ac_key_free(key);
    char *s = vkey_text(origin, witness ? AC_VKEY_COSIGNATURE : AC_VKEY_ED25519, pub);
    if (s == NULL)
        return EXIT_TROUBLE;
    if (json) {
        json_t *o = json_object();
        int st = json_put(o, "origin", json_string(origin)) && json_put(o, "vkey", json_string(s))
                     ? print_json(o) : fail_msg("out of memory building JSON");
        ac_free(s);
        return st == EXIT_GOOD ? finish_output(EXIT_GOOD) : st;
    }
    printf("%s\n", s);
    ac_free(s);
    return finish_output(EXIT_GOOD);
}

/* ---------------------------------------------------------------- verify-proof */

static const char verify_proof_usage[] =
    "usage: attestchain verify-proof --vkey VKEY [--vkey VKEY...] [--key PUBKEY...]\n"
    "           [--witness VKEY... --witnesses-needed K] [--json] PROOF [CONTENT_FILE]\n"
    "\n"
    "Checks a .tlog-proof (format section 14.5) with no chain directory: the\n"
    "record it carries (decoding, chain_index = the proof's index), the\n"
    "checkpoint's signature by a trusted verifier key for its origin, the record's\n"
    "inclusion in the checkpoint's tree, the record's signature, that its signer is\n"
    "trusted (a --vkey's key or a --key), and, given CONTENT_FILE, that its SHA-256\n"
    "is the record's content hash.  Prints the record: time, type, content hash,\n"
    "signer, metadata.  After a key rotation, a proof of an older record needs the\n"
    "older key given with --key.\n"
    "\n"
    "Options:\n"
    "      --vkey VKEY          a trusted verifier key (NAME+KEYID+BASE64), or a\n"
    "                           file of them, one a line; at least one\n"
    "      --key PUBKEY         a trusted record signer besides the vkeys' keys: a\n"
    "                           public key file (hex or PEM) or 64 hex characters\n"
    "      --witness VKEY       a witness's cosignature key, or a file of them\n"
    "      --witnesses-needed K valid witness cosignatures required (default: 0)\n"
    "      --json               print one JSON object: {\"valid\": bool, \"reason\":\n"
    "                           NAME|null, \"detail\": TEXT|null, \"index\": N|null,\n"
    "                           \"origin\": TEXT|null, \"tree_size\": N|null,\n"
    "                           \"witnesses\": N, \"content_checked\": bool,\n"
    "                           \"record\": {...}|null}\n"
    "                           REASON is one of format, decode, index, checkpoint,\n"
    "                           inclusion, signature, signer, content, witnesses\n"
    "  -h, --help               print this help\n"
    "\n"
    "PROOF may be - for standard input.\n"
    "\n"
    "Exit status: 0 valid, 1 invalid, 2 the check could not run (usage, a bad key,\n"
    "a file that cannot be read).\n";

static const struct option verify_proof_opts[] = {
    {"vkey", required_argument, NULL, OPT_VKEY},
    {"key", required_argument, NULL, OPT_PUBKEY},
    {"witness", required_argument, NULL, OPT_WITNESS},
    {"witnesses-needed", required_argument, NULL, OPT_WITNESSES_NEEDED},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct trust {
    const ac_vkey *logs[MAX_TRUSTED];
    size_t nlogs;
    const ac_vkey *witnesses[MAX_TRUSTED];
    size_t nwitnesses;
    uint8_t signers[MAX_TRUSTED][AC_PUBKEY_SIZE];
    size_t nsigners;
    uint64_t needed;
    bool json;
    const char *proof, *content;
} trust;

int read_small(const char *path, size_t max, char **out, size_t *len)
{
    bool in = strcmp(path, "-") == 0;
    int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_msg("%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(max + 2);
    size_t got = 0;
    int st = buf == NULL ? fail_msg("out of memory") : EXIT_GOOD;
    while (st == EXIT_GOOD) {
        ssize_t r = read(fd, buf + got, max + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            st = fail_msg("%s: cannot read: %s", path, strerror(errno));
        else if (r == 0)
            break;
        else if ((got += (size_t)r) > max)
            st = fail_msg("%s: larger than %zu bytes, the most such a file may have", path, max);
    }
    if (!in)
        (void)close(fd); /* read-only: nothing to lose */
    if (st != EXIT_GOOD) {
        free(buf);
        return st;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return EXIT_GOOD;
}

/* Keeps one parsed key of the expected type (freed otherwise). */
static int keep_vkey(const char *cmd, ac_vkey *v, unsigned type, const ac_vkey **list, size_t *n)
{
    int st = EXIT_GOOD;
    if (ac_vkey_type(v) != type)
        st = fail_usage(cmd, "'%s' is a %s key", ac_vkey_name(v),
                        ac_vkey_type(v) == AC_VKEY_ED25519 ? "log (--vkey)" : "witness (--witness)");
    else if (*n == MAX_TRUSTED)
        st = fail_usage(cmd, "more than %d keys", MAX_TRUSTED);
    if (st != EXIT_GOOD) {
        ac_vkey_free(v);
        return st;
    }
    list[(*n)++] = v;
    return EXIT_GOOD;
}

int add_vkeys(const char *cmd, const char *arg, unsigned type, const ac_vkey **list, size_t *n)
{
    ac_error err;
    ac_vkey *v = NULL;
    if (ac_vkey_parse(arg, &v, &err) == AC_OK)
        return keep_vkey(cmd, v, type, list, n);
    struct stat sb;
    if (stat(arg, &sb) != 0)
        return fail_usage(cmd, "'%.80s' is neither a key nor a file: %s", arg,
                          err.message);
    char *text = NULL, *save = NULL;
    size_t len, lineno = 0, found = 0;
    int st = read_small(arg, 1u << 20, &text, &len);
    for (char *line = st == EXIT_GOOD ? strtok_r(text, "\n", &save) : NULL;
         st == EXIT_GOOD && line != NULL; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t l = strlen(line);
        if (l > 0 && line[l - 1] == '\r')
            line[--l] = '\0';
        if (l == 0 || line[0] == '#')
            continue;
        if (ac_vkey_parse(line, &v, &err) != AC_OK)
            st = fail_msg("%s: line %zu: %s", arg, lineno, err.message);
        else if ((st = keep_vkey(cmd, v, type, list, n)) == EXIT_GOOD)
            found++;
    }
    if (st == EXIT_GOOD && found == 0)
        st = fail_msg("%s: no verifier key in the file", arg);
    free(text);
    return st;
}

static int add_signer(trust *t, const char *arg)
{
    if (t->nsigners == MAX_TRUSTED)
        return fail_usage("verify-proof", "more than %d keys", MAX_TRUSTED);
    ac_error err;
    if (strlen(arg) == 2 * AC_PUBKEY_SIZE &&
        ac_hex_decode(arg, t->signers[t->nsigners], AC_PUBKEY_SIZE, NULL) == AC_OK) {
        t->nsigners++;
        return EXIT_GOOD;
    }
    if (ac_pubkey_load(arg, t->signers[t->nsigners], &err) != AC_OK)
        return fail_ac(&err, "--key takes a public key file or 64 hex characters");
    t->nsigners++;
    return EXIT_GOOD;
}

static void free_trust(trust *t)
{
    for (size_t i = 0; i < t->nlogs; i++)
        ac_vkey_free((ac_vkey *)t->logs[i]);
    for (size_t i = 0; i < t->nwitnesses; i++)
        ac_vkey_free((ac_vkey *)t->witnesses[i]);
}

/* Returns -1 to go on, or the exit status. */
static int parse_verify_proof(int argc, char **argv, trust *t)
{
    getopt_reset();
    int c, st = -1;
    while (st < 0 && (c = getopt_long(argc, argv, ":h", verify_proof_opts, NULL)) != -1) {
        switch (c) {
        case OPT_VKEY:
            if (add_vkeys("verify-proof", optarg, AC_VKEY_ED25519, t->logs, &t->nlogs) != EXIT_GOOD)
                st = EXIT_TROUBLE;
            break;
        case OPT_WITNESS:
            if (add_vkeys("verify-proof", optarg, AC_VKEY_COSIGNATURE, t->witnesses, &t->nwitnesses) != EXIT_GOOD)
                st = EXIT_TROUBLE;
            break;
        case OPT_PUBKEY:
            if (add_signer(t, optarg) != EXIT_GOOD)
                st = EXIT_TROUBLE;
            break;
        case OPT_WITNESSES_NEEDED:
            if (!parse_u64(optarg, &t->needed) || t->needed > MAX_TRUSTED)
                st = fail_usage("verify-proof", "--witnesses-needed takes a number from 0 to %d",
                                MAX_TRUSTED);
            break;
        case OPT_JSON: t->json = true; break;
        case 'h': return print_help(verify_proof_usage);
        default: return fail_option("verify-proof", c, argv);
        }
    }
    if (st >= 0)
        return st;
    if (t->nlogs == 0)
        return fail_usage("verify-proof", "give at least one --vkey (the log's verifier key)");
    if (t->needed > t->nwitnesses)
        return fail_usage("verify-proof", "--witnesses-needed %llu with %zu --witness keys",
                          (unsigned long long)t->needed, t->nwitnesses);
    int left = argc - optind;
    if (left < 1 || left > 2)
        return fail_usage("verify-proof", left < 1 ? "give the PROOF file" : "too many arguments");
    t->proof = argv[optind];
    t->content = left == 2 ? argv[optind + 1] : NULL;
    return -1;
}

/* ---------------------------------------------------------------- output */

static json_t *record_json(const ac_record *r)
{
    char t[UTC_TEXT_LEN], *meta = NULL;
    format_utc(ac_record_claimed_ts(r), t);
    json_t *m = NULL;
    if (ac_record_metadata_json(r, &meta, NULL) == AC_OK && meta != NULL)
        m = json_loads(meta, JSON_ALLOW_NUL, NULL);
    ac_free(meta);
    json_t *o = json_object();
    bool ok = json_put(o, "chain_index", json_u64(ac_record_index(r))) &&
              json_put(o, "hash", json_hex(ac_record_hash(r), AC_HASH_SIZE)) &&
              json_put(o, "content_hash", json_hex(ac_record_content_hash(r), AC_HASH_SIZE)) &&
              json_put(o, "content_type", json_string(ac_record_content_type(r))) &&
              json_put(o, "claimed_ts", json_u64(ac_record_claimed_ts(r))) &&
              json_put(o, "claimed_ts_utc", json_string(t)) &&
              json_put(o, "signer_pubkey", json_hex(ac_record_signer(r), AC_PUBKEY_SIZE)) &&
              json_put(o, "metadata", m);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int print_result_json(const ac_proof_result *r, bool content)
{
    bool valid = ac_proof_result_valid(r);
    const ac_checkpoint *cp = ac_proof_result_checkpoint(r);
    const ac_record *rec = ac_proof_result_record(r);
    json_t *o = json_object();
    bool ok =
        json_put(o, "valid", json_boolean(valid)) &&
        json_put(o, "reason", valid ? json_null() : json_string(ac_proof_reason_name(ac_proof_result_reason(r)))) &&
        json_put(o, "detail", valid ? json_null() : json_string(ac_proof_result_detail(r))) &&
        json_put(o, "index", ac_proof_result_reason(r) == AC_PROOF_FORMAT
                                 ? json_null()
                                 : json_u64(ac_proof_result_index(r))) &&
        json_put(o, "origin", cp ? json_string(ac_checkpoint_origin(cp)) : json_null()) &&
        json_put(o, "tree_size", cp ? json_u64(ac_checkpoint_size(cp)) : json_null()) &&
        json_put(o, "witnesses", json_u64(ac_proof_result_witnesses(r))) &&
        json_put(o, "content_checked", json_boolean(content && valid)) &&
        json_put(o, "record", rec ? record_json(rec) : json_null());
    if (!ok) {
        json_decref(o);
        return fail_msg("out of memory building JSON");
    }
    return print_json(o);
}

static void print_result(const ac_proof_result *r, bool content)
{
    const ac_record *rec = ac_proof_result_record(r);
    const ac_checkpoint *cp = ac_proof_result_checkpoint(r);
    if (ac_proof_result_valid(r)) {
        printf("valid: record %llu of ", (unsigned long long)ac_proof_result_index(r));
        put_clean(stdout, ac_checkpoint_origin(cp));
        printf(" (tree size %llu)%s\n", (unsigned long long)ac_checkpoint_size(cp),
               content ? ", content matches" : "");
    } else {
        printf("INVALID: %s (", ac_proof_reason_name(ac_proof_result_reason(r)));
        put_clean(stdout, ac_proof_result_detail(r));
        printf(")\n");
    }
    if (rec == NULL)
        return;
    char h[HASH_HEX_LEN], t[UTC_TEXT_LEN], *meta = NULL;
    format_utc(ac_record_claimed_ts(rec), t);
    printf("Time:      %s\n", t);
    printf("Type:      ");
    put_clean(stdout, ac_record_content_type(rec));
    ac_hex_encode(ac_record_content_hash(rec), AC_HASH_SIZE, h);
    printf("\nContent:   %s\n", h);
    ac_hex_encode(ac_record_signer(rec), AC_PUBKEY_SIZE, h);
    printf("Signer:    %s\n", h);
    printf("Metadata:  ");
    if (ac_record_metadata_json(rec, &meta, NULL) == AC_OK && meta != NULL)
        put_clean(stdout, meta);
    else
        printf("(unreadable)");
    ac_free(meta);
    putchar('\n');
    if (ac_proof_result_witnesses(r) > 0)
        printf("Witnesses: %zu\n", ac_proof_result_witnesses(r));
}

static int run_verify_proof(trust *t)
{
    char *proof = NULL;
    size_t len;
    int st = read_small(t->proof, AC_PROOF_MAX_SIZE, &proof, &len);
    if (st != EXIT_GOOD)
        return st;
    ac_error err;
    uint8_t content[AC_HASH_SIZE];
    if (t->content != NULL && ac_sha256_file(t->content, NULL, NULL, content, &err) != AC_OK) {
        free(proof);
        return fail_ac(&err, NULL);
    }
    ac_proof_policy pol = {
        .log_keys = t->logs, .n_log_keys = t->nlogs,
        .signers = (const uint8_t(*)[AC_PUBKEY_SIZE])t->signers, .n_signers = t->nsigners,
        .witnesses = t->witnesses, .n_witnesses = t->nwitnesses,
        .witnesses_needed = (size_t)t->needed,
        .content_hash = t->content != NULL ? content : NULL,
    };
    ac_proof_result *r = NULL;
    int rc = ac_proof_verify((const uint8_t *)proof, len, &pol, &r, &err);
    free(proof);
    if (rc != AC_OK)
        return fail_ac(&err, NULL);
    bool valid = ac_proof_result_valid(r);
    st = EXIT_GOOD;
    if (t->json)
        st = print_result_json(r, t->content != NULL);
    else
        print_result(r, t->content != NULL);
    ac_proof_result_free(r);
    if (st != EXIT_GOOD)
        return st;
    return finish_output(valid ? EXIT_GOOD : EXIT_INVALID);
}

int cmd_verify_proof(int argc, char **argv)
{
    trust *t = calloc(1, sizeof *t);
    if (t == NULL)
        return fail_msg("out of memory");
    int st = parse_verify_proof(argc, argv, t);
    if (st < 0)
        st = run_verify_proof(t);
    free_trust(t);
    free(t);
    return st;
}
