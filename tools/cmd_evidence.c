/* evidence verify: checks an evidence file of a fork (format section 15.3)
 * offline, with nothing but the log's verifier keys; the judging is the
 * library's ac_evidence_verify. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char evidence_usage[] =
    "usage: attestchain evidence verify --vkey VKEY [--vkey VKEY...] [--json] FILE\n"
    "\n"
    "Checks an evidence file (format section 15.3), written by 'mirror' or\n"
    "'witness cosign' when they meet two histories signed by one log's key, with\n"
    "nothing but that log's verifier keys: either two signed checkpoints that no\n"
    "single tree explains (one size and two roots, or a consistency proof that the\n"
    "larger tree had another root at the smaller size), or two signed records with\n"
    "the same index after the same history.\n"
    "\n"
    "Options:\n"
    "      --vkey VKEY   the log's verifier key (NAME+KEYID+BASE64), or a file of\n"
    "                    them, one a line; at least one\n"
    "      --json        print one JSON object: {\"fork\": bool, \"kind\":\n"
    "                    \"checkpoints\"|\"records\"|null, \"detail\": TEXT|null,\n"
    "                    \"origin\", \"sizes\": [A, B] (checkpoints), \"index\",\n"
    "                    \"hashes\": [A, B] (records)}\n"
    "  -h, --help        print this help\n"
    "\n"
    "FILE may be - for standard input.\n"
    "\n"
    "Exit status: 0 the file proves a fork, 1 it does not, 2 the check could not\n"
    "run (usage, a bad key, a file that cannot be read).\n";

enum { OPT_VKEY = 256, OPT_JSON };

static const struct option evidence_opts[] = {
    {"vkey", required_argument, NULL, OPT_VKEY},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int print_verdict(int verdict, const ac_evidence_info *info, const ac_error *err, bool json)
{
    bool fork = verdict == 1;
    const char *kind = info->kind == AC_EVIDENCE_CHECKPOINTS ? "checkpoints"
                       : info->kind == AC_EVIDENCE_RECORDS  ? "records"
                                                            : NULL;
    if (json) {
        json_t *o = json_object();
        bool ok = json_put(o, "fork", json_boolean(fork)) &&
                  json_put(o, "kind", kind ? json_string(kind) : json_null()) &&
                  json_put(o, "detail", fork ? json_null() : json_string(err->message));
        if (ok && info->kind == AC_EVIDENCE_CHECKPOINTS)
            ok = json_put(o, "origin", json_string(info->origin)) &&
                 json_put(o, "sizes", json_pack("[o o]", json_u64(info->size_a),
                                                json_u64(info->size_b)));
        if (ok && info->kind == AC_EVIDENCE_RECORDS)
            ok = json_put(o, "index", json_u64(info->index)) &&
                 json_put(o, "hashes", json_pack("[o o]", json_hex(info->hash_a, AC_HASH_SIZE),
                                                 json_hex(info->hash_b, AC_HASH_SIZE)));
        if (!ok) {
            json_decref(o);
            return fail_msg("out of memory building JSON");
        }
        return print_json(o);
    }
    if (!fork) {
        printf("NOT a fork: ");
        put_clean(stdout, err->message);
        putchar('\n');
    } else if (info->kind == AC_EVIDENCE_CHECKPOINTS) {
        printf("fork: two checkpoints of ");
        put_clean(stdout, info->origin);
        printf(" (sizes %llu and %llu) that no single tree explains\n",
               (unsigned long long)info->size_a, (unsigned long long)info->size_b);
    } else {
        char a[HASH_HEX_LEN], b[HASH_HEX_LEN];
        ac_hex_encode(info->hash_a, AC_HASH_SIZE, a);
        ac_hex_encode(info->hash_b, AC_HASH_SIZE, b);
        printf("fork: two signed records %llu after one history:\n  %s\n  %s\n",
               (unsigned long long)info->index, a, b);
    }
    return EXIT_GOOD;
}

static int run_verify(int argc, char **argv)
{
    getopt_reset();
    const ac_vkey *keys[MAX_TRUSTED];
    size_t nkeys = 0;
    bool json = false;
    int c, st = -1;
    while (st < 0 && (c = getopt_long(argc, argv, ":h", evidence_opts, NULL)) != -1) {
        switch (c) {
        case OPT_VKEY:
            if (add_vkeys("evidence", optarg, AC_VKEY_ED25519, keys, &nkeys) != EXIT_GOOD)
                st = EXIT_TROUBLE;
            break;
        case OPT_JSON: json = true; break;
        case 'h': st = print_help(evidence_usage); break;
        default: st = fail_option("evidence", c, argv); break;
        }
    }
    if (st < 0 && nkeys == 0)
        st = fail_usage("evidence", "give at least one --vkey (the log's verifier key)");
    if (st < 0 && argc - optind != 1)
        st = fail_usage("evidence", argc - optind < 1 ? "give the evidence FILE"
                                                      : "too many arguments");
    char *text = NULL;
    size_t len = 0;
    if (st < 0 && read_small(argv[optind], AC_EVIDENCE_MAX_SIZE, &text, &len) != EXIT_GOOD)
        st = EXIT_TROUBLE;
    if (st < 0) {
        ac_evidence_info info;
        ac_error err;
        int verdict = ac_evidence_verify((const uint8_t *)text, len, keys, nkeys, &info, &err);
        if (verdict < 0)
            st = fail_ac(&err, NULL);
        else if ((st = print_verdict(verdict, &info, &err, json)) == EXIT_GOOD)
            st = finish_output(verdict == 1 ? EXIT_GOOD : EXIT_INVALID);
    }
    free(text);
    for (size_t i = 0; i < nkeys; i++)
        ac_vkey_free((ac_vkey *)keys[i]);
    return st;
}

int cmd_evidence(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return run_verify(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return print_help(evidence_usage);
    if (argc < 2)
        return fail_usage("evidence", "give a subcommand: verify");
    return fail_usage("evidence", "unknown subcommand '%s' (known: verify)", argv[1]);
}
