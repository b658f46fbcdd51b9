/* keygen and pubkey: key files. */
#include <getopt.h>

#include "tool.h"

static const char keygen_usage[] =
    "usage: attestchain keygen KEYFILE\n"
    "\n"
    "Creates a new Ed25519 private key in KEYFILE (PKCS#8 PEM, mode 0600) and prints\n"
    "its public key as 64 hex digits.  An existing file is never overwritten.\n"
    "\n"
    "Options:\n"
    "  -h, --help    print this help\n";

static const char pubkey_usage[] =
    "usage: attestchain pubkey KEYFILE\n"
    "\n"
    "Prints the public key of KEYFILE as 64 hex digits.  KEYFILE may hold a private\n"
    "key (PKCS#8 PEM), a public key (SubjectPublicKeyInfo PEM) or 64 hex digits.\n"
    "\n"
    "Options:\n"
    "  -h, --help    print this help\n";

static const struct option help_only[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Both commands take -h and exactly one KEYFILE.  Returns -1 to go on, or
 * the exit status to return now. */
static int parse_one_file(const char *cmd, const char *usage, int argc, char **argv,
                          const char **path)
{
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":h", help_only, NULL)) != -1) {
        if (c == 'h')
            return print_help(usage);
        return fail_option(cmd, c, argv);
    }
    if (argc - optind != 1)
        return fail_usage(cmd, argc == optind ? "missing KEYFILE" : "give exactly one KEYFILE");
    *path = argv[optind];
    return -1;
}

static int print_pubkey(const uint8_t pub[AC_PUBKEY_SIZE])
{
    char hex[KEY_HEX_LEN];
    ac_hex_encode(pub, AC_PUBKEY_SIZE, hex);
    printf("%s\n", hex);
    return finish_output(EXIT_GOOD);
}

int cmd_keygen(int argc, char **argv)
{
    const char *path = NULL;
    int st = parse_one_file("keygen", keygen_usage, argc, argv, &path);
    if (st >= 0)
        return st;
    ac_error err;
    ac_key *key = NULL;
    if (ac_key_generate(&key, &err) != AC_OK)
        return fail_ac(&err, NULL);
    int rc = ac_key_save(key, path, &err);
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(key, pub);
    ac_key_free(key);
    if (rc == AC_EEXIST)
        return fail_ac(&err, "choose another file name");
    if (rc != AC_OK)
        return fail_ac(&err, "check that KEYFILE's directory exists and can be written");
    return print_pubkey(pub);
}

int cmd_pubkey(int argc, char **argv)
{
    const char *path = NULL;
    int st = parse_one_file("pubkey", pubkey_usage, argc, argv, &path);
    if (st >= 0)
        return st;
    ac_error err;
    uint8_t pub[AC_PUBKEY_SIZE];
    if (ac_pubkey_load(path, pub, &err) != AC_OK)
        return fail_ac(&err, "give a key file: a private key (PKCS#8 or OpenSSH), a public key "
                             "(PEM or ssh-ed25519) or 64 hex digits");
    return print_pubkey(pub);
}
