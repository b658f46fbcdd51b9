/* What the commands share: error lines, strict number parsing, opening a
 * chain, loading a signing key, and text and JSON formatting. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>

#include "tool.h"

/* ---------------------------------------------------------------- errors */

void put_clean(FILE *f, const char *s)
{
    if (s == NULL)
        return;
    /* Writes to stderr/stdout are checked once, in finish_output (stdout);
     * for stderr there is nobody left to tell. */
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            (void)fprintf(f, "\\x%02x", *p);
        else
            (void)putc(*p, f);
    }
}

/* The tool's one piece of process-wide state: whether errors are JSON.  main
 * sets it once, before any command runs, from the command line (--json); every
 * failure path below reads it, so that no command can forget it. */
static bool json_errors;

void set_json_errors(bool on)
{
    json_errors = on;
}

/* `s` with control bytes as \xNN (as put_clean writes them), and with every
 * byte that is not ASCII as \xNN too when `ascii` (JSON needs valid UTF-8, and
 * a file name need not be). */
static void clean_into(const char *s, bool ascii, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && n + 5 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f || (ascii && *p >= 0x80))
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", *p);
        else
            out[n++] = (char)*p;
    }
    out[n] = '\0';
}

/* {"error": {"code": CODE, "message": MESSAGE}} on one line of stdout. */
static void json_error(const char *code, const char *msg)
{
    char clean[2048];
    clean_into(msg, false, clean, sizeof clean);
    json_t *text = json_string(clean);
    if (text == NULL) { /* not UTF-8: keep the message, byte for byte, in \xNN */
        clean_into(msg, true, clean, sizeof clean);
        text = json_string(clean);
    }
    json_t *o = json_pack("{s:{s:s,s:o*}}", "error", "code", code, "message", text);
    if (o == NULL || json_dumpf(o, stdout, JSON_PRESERVE_ORDER) != 0 || putchar('\n') == EOF ||
        fflush(stdout) != 0)
        (void)fprintf(stderr, TOOL_NAME ": %s\n", clean); /* stdout is gone: say it here */
    json_decref(o);
}

/* Formats into a bounded buffer and prints it as one clean line on stderr, or
 * as the JSON error object (code `code`) on stdout. */
__attribute__((format(printf, 3, 0)))
static void vline(const char *code, const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];
    if (vsnprintf(buf, sizeof buf, fmt, ap) < 0)
        snprintf(buf, sizeof buf, "(message could not be formatted)");
    if (code != NULL && json_errors) {
        json_error(code, buf);
        return;
    }
    (void)fputs(TOOL_NAME ": ", stderr);
    (void)fputs(prefix, stderr);
    put_clean(stderr, buf);
    (void)putc('\n', stderr);
}

/* The JSON error code of an ac_status. */
static const char *status_code(int code)
{
    switch (code) {
    case AC_EINVAL: return "invalid_argument";
    case AC_ENOMEM: return "out_of_memory";
    case AC_EIO: return "io";
    case AC_ECORRUPT: return "corrupt";
    case AC_ENOTFOUND: return "not_found";
    case AC_EUNAUTHORIZED: return "unauthorized";
    case AC_EKEY: return "bad_key";
    case AC_EEXIST: return "exists";
    case AC_ECRYPTO: return "crypto";
    case AC_EPASSPHRASE: return "passphrase";
    default: return ERR_GENERAL;
    }
}

int fail_ac(const ac_error *err, const char *hint)
{
    const char *msg = err->message[0] != '\0' ? err->message : ac_strerror(err->code);
    const char *code = status_code(err->code);
    if (hint != NULL)
        fail_code(code, "%s; %s", msg, hint);
    else
        fail_code(code, "%s", msg);
    return EXIT_TROUBLE;
}

int fail_code(const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(code, "", fmt, ap);
    va_end(ap);
    return EXIT_TROUBLE;
}

int fail_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(ERR_GENERAL, "", fmt, ap);
    va_end(ap);
    return EXIT_TROUBLE;
}

int fail_usage(const char *cmd, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof buf, fmt, ap) < 0)
        snprintf(buf, sizeof buf, "bad usage");
    va_end(ap);
    return fail_code(ERR_USAGE, "%s: %s; see '" TOOL_NAME " %s --help'", cmd, buf, cmd);
}

int fail_option(const char *cmd, int c, char **argv)
{
    /* getopt leaves optind just past the offending argument.  With opterr
     * off it prints nothing itself, so this is the only line. */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char name[64];
    if (arg != NULL && strncmp(arg, "--", 2) == 0)
        snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
    else if (optopt > 0 && optopt < 128)
        snprintf(name, sizeof name, "-%c", optopt);
    else
        snprintf(name, sizeof name, "%s", arg != NULL ? arg : "?");
    if (c == ':')
        return fail_usage(cmd, "option %s needs a value", name);
    return fail_usage(cmd, "unknown option %s", name);
}

void warn_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(NULL, "warning: ", fmt, ap);
    va_end(ap);
}

int finish_output(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fail_msg("cannot write to standard output: %s", strerror(errno));
        return EXIT_TROUBLE;
    }
    return status;
}

int print_help(const char *text)
{
    (void)fputs(text, stdout);
    return finish_output(EXIT_GOOD);
}

/* ---------------------------------------------------------------- parsing */

void getopt_reset(void)
{
    optind = 0;
    opterr = 0;
}

bool parse_u64(const char *s, uint64_t *out)
{
    /* strtoull alone accepts " 12", "+12", "-1" (as a huge number) and
     * "12abc"; only plain digits are a number here. */
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return false;
    *out = (uint64_t)v;
    return true;
}

const char *chain_dir(const char *given)
{
    if (given != NULL)
        return given;
    const char *env = getenv(ENV_CHAIN_DIR);
    return env != NULL && *env != '\0' ? env : NULL;
}

/* ---------------------------------------------------------------- chains, keys */

int open_chain(const char *dir, unsigned flags, ac_chain **out)
{
    ac_error err;
    int rc = ac_chain_open(dir, flags, out, &err);
    if (rc == AC_OK)
        return EXIT_GOOD;
    if (rc == AC_ENOTFOUND)
        return fail_ac(&err, "check -C (or " ENV_CHAIN_DIR "); 'append' creates a new chain");
    if (rc == AC_EIO)
        return fail_ac(&err, "check -C and the directory's permissions");
    return fail_ac(&err, NULL);
}

int close_chain(ac_chain *chain, int status)
{
    ac_error err;
    if (ac_chain_close(chain, &err) != AC_OK) {
        /* The records are durable in chain.bin; only the checkpoint, a
         * cache, could not be written.  Exiting 2 here would tell a script
         * that an append which did happen failed, inviting a second one. */
        warn_msg("%s (the records are safe in chain.bin; the next open rebuilds the cache)",
                 err.message);
    }
    return status;
}

/* Reads the passphrase from the first line of `path` (its line end is not
 * part of it).  EXIT_GOOD or the exit status of the error reported. */
static int read_passphrase_file(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return fail_code(ERR_INPUT, "%s: cannot open: %s; check --passphrase-file", path,
                         strerror(errno));
    setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer left holding the secret */
    size_t n = 0;
    int ch;
    while ((ch = getc(f)) != EOF && ch != '\n' && n + 1 < cap)
        buf[n++] = (char)ch;
    bool too_long = ch != EOF && ch != '\n';
    bool failed = ferror(f) != 0;
    (void)fclose(f); /* read-only */
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    *len = n;
    if (failed)
        return fail_code(ERR_INPUT, "%s: read failed; check --passphrase-file", path);
    if (too_long)
        return fail_code(ERR_INPUT, "%s: passphrase longer than %zu bytes; check "
                                    "--passphrase-file", path, cap - 1);
    return EXIT_GOOD;
}

/* Asks for the passphrase on the controlling terminal, without echo.
 * 1 read, 0 there is no terminal, or the exit status of an error (2). */
static int ask_passphrase(const char *keypath, char *buf, size_t cap, size_t *len)
{
    FILE *tty = fopen("/dev/tty", "r+e");
    if (tty == NULL)
        return 0;
    setvbuf(tty, NULL, _IONBF, 0); /* no stdio buffer left holding the secret */
    struct termios old, quiet;
    bool echo_off = tcgetattr(fileno(tty), &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        echo_off = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
    }
    (void)fprintf(tty, "Passphrase for %s: ", keypath);
    (void)fflush(tty);
    size_t n = 0;
    int ch;
    while ((ch = getc(tty)) != EOF && ch != '\n' && n + 1 < cap)
        buf[n++] = (char)ch;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    *len = n;
    if (echo_off)
        (void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
    (void)fputc('\n', tty);
    (void)fclose(tty); /* a terminal: nothing to lose */
    if (ch == EOF && n == 0)
        return fail_code(ERR_INPUT, "no passphrase read from the terminal; type it, or give "
                                    "--passphrase-file FILE");
    return 1;
}

int load_signing_key(const char *path, const char *what, const char *passphrase_file,
                     ac_key **out)
{
    ac_error err;
    char pass[PASSPHRASE_MAX + 1];
    size_t plen = 0;
    int st = EXIT_GOOD;
    int rc = ac_key_load(path, out, &err);
    if (rc == AC_EPASSPHRASE) {
        /* Encrypted: the file given, else the terminal, else say how. */
        int asked = 0;
        if (passphrase_file != NULL)
            st = read_passphrase_file(passphrase_file, pass, sizeof pass, &plen);
        else if ((asked = ask_passphrase(path, pass, sizeof pass, &plen)) == 0)
            st = fail_ac(&err, "there is no terminal to ask for it on: give --passphrase-file "
                               "FILE (its first line is the passphrase)");
        else if (asked != 1)
            st = asked;
        if (st == EXIT_GOOD)
            rc = ac_key_load_passphrase(path, pass, plen, out, &err);
        explicit_bzero(pass, sizeof pass);
        if (st != EXIT_GOOD)
            return st;
    }
    if (rc == AC_EPASSPHRASE)
        return fail_ac(&err, passphrase_file != NULL ? "check the passphrase in --passphrase-file"
                                                     : "try again with the right passphrase");
    if (rc == AC_EKEY)
        return fail_ac(&err, "a signing key is an Ed25519 private key (PKCS#8 PEM, as "
                             "'attestchain keygen' writes, or OpenSSH, as 'ssh-keygen -t "
                             "ed25519' writes)");
    if (rc != AC_OK) {
        char hint[96];
        snprintf(hint, sizeof hint, "check the key file given with %s", what);
        return fail_ac(&err, hint);
    }
    /* Only advice: if the check itself fails the key still works. */
    if (ac_key_file_exposed(path, &err) == 1)
        warn_msg("%s can be read by other users; restrict it with: chmod 600 %s", path, path);
    return EXIT_GOOD;
}

int fail_append(ac_chain *chain, const ac_error *err)
{
    if (err->code == AC_EUNAUTHORIZED) {
        ac_state st;
        ac_error ignored;
        char key[KEY_HEX_LEN], hint[192];
        static const uint8_t nobody[AC_PUBKEY_SIZE];
        if (ac_chain_state(chain, &st, &ignored) != AC_OK)
            return fail_ac(err, "use the key of the last rotation");
        if (memcmp(st.signer, nobody, AC_PUBKEY_SIZE) == 0)
            return fail_ac(err, "the chain cannot be extended; start a new one");
        ac_hex_encode(st.signer, AC_PUBKEY_SIZE, key);
        snprintf(hint, sizeof hint, "the chain's current key is %s; use the key of the last rotation",
                 key);
        return fail_ac(err, hint);
    }
    /* Some of the library's messages already say to run verify. */
    if (err->code == AC_ECORRUPT && strstr(err->message, "verify") == NULL)
        return fail_ac(err, "nothing was appended; run 'attestchain verify' on the chain to see "
                            "the damage");
    if (err->code == AC_ECORRUPT)
        return fail_ac(err, "nothing was appended");
    if (err->code == AC_EIO)
        return fail_ac(err, "nothing was appended");
    return fail_ac(err, NULL);
}

/* ---------------------------------------------------------------- formatting */

void format_utc(uint64_t us, char out[UTC_TEXT_LEN])
{
    struct tm tm;
    uint64_t secs = us / 1000000u;
    /* time_t is 64-bit signed here; beyond what gmtime can show, say so. */
    if (secs > (uint64_t)INT64_MAX / 2) {
        snprintf(out, UTC_TEXT_LEN, "(out of range)");
        return;
    }
    time_t t = (time_t)secs;
    char date[32];
    if (gmtime_r(&t, &tm) == NULL || strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, UTC_TEXT_LEN, "(out of range)");
        return;
    }
    snprintf(out, UTC_TEXT_LEN, "%s.%06uZ", date, (unsigned)(us % 1000000u));
}

void format_uuid(const uint8_t id[AC_RECORD_ID_SIZE], char out[UUID_TEXT_LEN])
{
    char hex[2 * AC_RECORD_ID_SIZE + 1];
    ac_hex_encode(id, AC_RECORD_ID_SIZE, hex);
    snprintf(out, UUID_TEXT_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
}

json_t *json_u64(uint64_t v)
{
    /* JSON numbers here are int64; a larger value (only in a hostile chain)
     * becomes its decimal text, as the library's metadata JSON does. */
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char dec[24];
    snprintf(dec, sizeof dec, "%llu", (unsigned long long)v);
    return json_pack("{s:s}", "$int", dec);
}

json_t *json_utc(uint64_t us)
{
    char t[UTC_TEXT_LEN];
    format_utc(us, t);
    return json_string(t);
}

json_t *json_hex(const uint8_t *bytes, size_t len)
{
    char buf[2 * AC_SIGNATURE_SIZE + 1];
    if (len > AC_SIGNATURE_SIZE)
        return NULL;
    ac_hex_encode(bytes, len, buf);
    return json_string(buf);
}

bool json_put(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL)
        return false;
    if (obj == NULL) {
        json_decref(value);
        return false;
    }
    /* json_object_set_new takes the reference even when it fails. */
    return json_object_set_new(obj, key, value) == 0;
}

int print_json(json_t *value)
{
    int rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(value);
    if (rc != 0 || putchar('\n') == EOF)
        return fail_msg("cannot write JSON to standard output");
    return EXIT_GOOD;
}
