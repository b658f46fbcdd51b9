/* attestchain: command dispatch.  Each command parses its own options with
 * getopt_long (tools/cmd_*.c); this file only picks the command. */
#include <string.h>

#include "tool.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"keygen", cmd_keygen}, {"pubkey", cmd_pubkey}, {"append", cmd_append},
    {"rotate", cmd_rotate}, {"verify", cmd_verify}, {"status", cmd_status},
    {"log", cmd_log},       {"show", cmd_show},     {"recover", cmd_recover},
    /* Evidence that travels: checkpoints and proofs (cmd_tlog.c). */
    {"vkey", cmd_vkey},     {"verify-proof", cmd_verify_proof},
    {"checkpoint", cmd_checkpoint}, {"prove", cmd_prove}, {"consistency", cmd_consistency},
    {"export", cmd_export},
    {"find", cmd_find},
    /* Federation: mirrors, witnesses, evidence of forks (cmd_mirror.c...). */
    {"mirror", cmd_mirror}, {"witness", cmd_witness}, {"evidence", cmd_evidence},
};

static const char usage[] =
    "usage: attestchain COMMAND [OPTIONS] [ARGS]\n"
    "       attestchain --help | --version\n"
    "\n"
    "Keeps an append-only chain of Ed25519-signed, hash-linked attestation records\n"
    "in a directory (chain.bin and caches derived from it).\n"
    "\n"
    "Commands:\n"
    "  keygen KEYFILE    create a new Ed25519 private key file and print its public key\n"
    "  pubkey KEYFILE    print the public key of a key file in hex\n"
    "  append            attest files or hashes: one record each, in one batch\n"
    "  rotate            hand signing authority to a new key\n"
    "  verify            check a chain (or a range of it)\n"
    "  status            print the chain's head state\n"
    "  log               list records, oldest first\n"
    "  show INDEX        print one record in full\n"
    "  find FILE...      the records that attest a file (or --hash HEX)\n"
    "  recover           accept a loss of records that state.cbor says were committed\n"
    "  checkpoint        sign a checkpoint of the chain (a Merkle tree head) and keep it\n"
    "  prove INDEX       write a .tlog-proof of one record\n"
    "  consistency O N   prove the tree of O records a prefix of the tree of N\n"
    "  export OUT        publish the chain as static tiles with a page that checks it\n"
    "  vkey              print a log's verifier key (of a key, or of a chain)\n"
    "  verify-proof      check a .tlog-proof with nothing but verifier keys\n"
    "  mirror            copy another party's published chain, verifying every record\n"
    "  witness           cosign a log's checkpoints that are consistent with the last\n"
    "  evidence verify   check an evidence file of a fork with the log's verifier key\n"
    "  help [COMMAND]    print this help, or a command's\n"
    "\n"
    "Options:\n"
    "  -h, --help        print this help\n"
    "  -V, --version     print the version\n"
    "\n"
    "Every command takes -h/--help.  Commands that use a chain take -C DIR; without\n"
    "it, the environment variable ATTESTCHAIN_DIR names the chain directory.\n"
    "\n"
    "Files:\n"
    "  DIR/chain.bin          the log, the only thing that counts\n"
    "  DIR/state.cbor         caches derived from chain.bin, checked before use and\n"
    "  DIR/index.bin          rebuilt when stale: deleting them loses nothing\n"
    "  DIR/chain.bin.torn-*   the bytes of an incomplete last record (a crash\n"
    "                         mid-append), saved before an append cuts them off\n"
    "  KEYFILE                an Ed25519 private key, PKCS#8 PEM, for its owner's\n"
    "                         eyes only (append and rotate warn otherwise)\n"
    "\n"
    "Exit status: 0 success (or a valid chain), 1 the chain is invalid (verify),\n"
    "2 usage, input or I/O error (one line on stderr says what to do).\n"
    "\n"
    "Examples:\n"
    "  attestchain keygen alice.pem\n"
    "  attestchain append -C evidence -k alice.pem -t image/jpeg \\\n"
    "      -m author=alice --meta-json '{\"roll\": 3}' a.jpg b.jpg\n"
    "  sha256sum *.pdf | attestchain append -C evidence \\\n"
    "      -k alice.pem -t application/pdf --hash-list -\n"
    "  attestchain rotate -C evidence -k alice.pem --new-key bob.pub\n"
    "  attestchain verify -C evidence\n"
    "  export ATTESTCHAIN_DIR=evidence\n"
    "  attestchain verify --from 100 --json\n"
    "  attestchain status\n"
    "  attestchain log --from 10 --to 20\n"
    "  attestchain show 0 --json\n"
    "  attestchain find a.jpg\n"
    "\n"
    "See attestchain(1) and docs/format.md.\n";

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    return fail_msg("unknown command '%s'; see '" TOOL_NAME " --help'", name);
}

/* "attestchain help [COMMAND]": the same text as --help. */
static int run_help(int argc, char **argv)
{
    if (argc < 2)
        return print_help(usage);
    if (argc > 2)
        return fail_msg("help: give one command; see '" TOOL_NAME " --help'");
    const command *c = find_command(argv[1]);
    if (c == NULL)
        return unknown_command(argv[1]);
    char help_opt[] = "--help";
    char *args[] = {argv[1], help_opt, NULL};
    return c->run(2, args);
}

/* Whether the command line asks for JSON: then every error is JSON too, even
 * one found before the command has parsed its options. */
static bool wants_json(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    set_json_errors(wants_json(argc, argv));
    if (argc < 2)
        return fail_msg("missing command; see '" TOOL_NAME " --help'");
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0)
        return print_help(usage);
    if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
        printf(TOOL_NAME " %s (format version %d)\n", ac_version(), AC_FORMAT_VERSION);
        return finish_output(EXIT_GOOD);
    }
    if (strcmp(name, "help") == 0)
        return run_help(argc - 1, argv + 1);
    const command *c = find_command(name);
    if (c == NULL) {
        if (name[0] == '-')
            return fail_msg("unknown option '%s'; see '" TOOL_NAME " --help'", name);
        return unknown_command(name);
    }
    return c->run(argc - 1, argv + 1);
}
