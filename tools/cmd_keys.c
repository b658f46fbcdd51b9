/* keygen and pubkey: key files. */
#include <getopt.h>
#include <string.h>

#include "tool.h"

static const char keygen_usage[] =
    "usage: attestchain keygen [--format pkcs8|openssh] KEYFILE\n"
    "\n"
    "Creates a new Ed25519 private key in KEYFILE (mode 0600) and prints its public\n"
    "key as 64 hex digits.  An existing file is never overwritten.\n"
    "\n"
    "Options:\n"
    "      --format FORMAT   pkcs8: PKCS#8 PEM, as 'openssl genpkey' writes (default);\n"
    "                        openssh: an unencrypted OpenSSH private key, as\n"
    "                        'ssh-keygen -t ed25519 -N \"\"' writes ('ssh-keygen -y -f\n"
    "                        KEYFILE' prints its public key; 'ssh-keygen -p -f\n"
    "                        KEYFILE' gives it a passphrase)\n"
    "  -h, --help            print this help\n";

static const char pubkey_usage[] =
    "usage: attestchain pubkey KEYFILE\n"
    "\n"
    "Prints the public key of KEYFILE as 64 hex digits.  KEYFILE may hold a private\n"
    "key (PKCS#8 PEM or OpenSSH, encrypted or not, except encrypted PKCS#8), a public\n"
    "key (SubjectPublicKeyInfo PEM, or an OpenSSH line \"ssh-ed25519 AAAA...\") or 64\n"
    "hex digits.\n"
    "\n"
    "Options:\n"
    "  -h, --help    print this help\n";

enum { OPT_FORMAT = 256 };

static const struct option key_opts[] = {
    {"help", no_argument, NULL, 'h'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {NULL, 0, NULL, 0},
};

/* Both commands take -h and exactly one KEYFILE; keygen takes --format (into
 * *format; NULL: not taken).  Returns -1 to go on, or the exit status to
 * return now. */
static int parse_one_file(const char *cmd, const char *usage, int argc, char **argv,
                          const char **path, ac_key_format *format)
{
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":h", key_opts, NULL)) != -1) {
        if (c == 'h')
            return print_help(usage);
        if (c == OPT_FORMAT && format == NULL)
            return fail_usage(cmd, "unknown option --format");
        if (c != OPT_FORMAT)
            return fail_option(cmd, c, argv);
        if (strcmp(optarg, "pkcs8") == 0)
            *format = AC_KEY_PKCS8;
        else if (strcmp(optarg, "openssh") == 0)
            *format = AC_KEY_OPENSSH;
        else
            return fail_usage(cmd, "--format takes pkcs8 or openssh, got '%.40s'", optarg);
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
    ac_key_format format = AC_KEY_PKCS8;
    int st = parse_one_file("keygen", keygen_usage, argc, argv, &path, &format);
    if (st >= 0)
        return st;
    ac_error err;
    ac_key *key = NULL;
    if (ac_key_generate(&key, &err) != AC_OK)
        return fail_ac(&err, NULL);
    int rc = ac_key_save_as(key, path, format, NULL, &err);
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
    int st = parse_one_file("pubkey", pubkey_usage, argc, argv, &path, NULL);
    if (st >= 0)
        return st;
    ac_error err;
    uint8_t pub[AC_PUBKEY_SIZE];
    int rc = ac_pubkey_load(path, pub, &err);
    if (rc == AC_EPASSPHRASE)
        return fail_ac(&err, "give its public key file instead");
    if (rc != AC_OK)
        return fail_ac(&err, "give a key file: a private key (PKCS#8 or OpenSSH), a public key "
                             "(PEM or ssh-ed25519) or 64 hex digits");
    return print_pubkey(pub);
}
