/* append and rotate: the commands that write a chain.  All input (options,
 * metadata, hashes, files) is read and checked before the chain is touched,
 * and the records of one call go in with one ac_append_batch: one lock, one
 * fsync, all or nothing.  Lines are printed only once the batch is durable. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define HASH_PROGRESS_MIN (16u << 20) /* bytes; smaller files hash too fast for a bar */
#define HASH_LINE_MAX 8192            /* a hash and a file name (PATH_MAX is 4096) */
#define NAME_KEY "name"               /* the metadata key of a file's base name */
#define STDIN_PATH "/dev/stdin"       /* what FILE "-" hashes */

static const char append_usage[] =
    "usage: attestchain append -C DIR -k KEYFILE [-t TYPE] [-m KEY=VALUE]...\n"
    "                          [--meta-json JSON]... [--meta-json-file FILE]\n"
    "                          [--hash HEX]... [--hash-list FILE|-] [--no-name]\n"
    "                          [--checkpoint] [FILE|-]...\n"
    "\n"
    "Appends one record per FILE (its SHA-256, read as a stream; - reads standard\n"
    "input), per --hash and per line of --hash-list, in that order, all in one\n"
    "batch: one lock, one fsync, all or nothing.  Every record of the call gets the\n"
    "same content type and metadata, plus, for a FILE or a named --hash-list line,\n"
    "the file's base name under the metadata key \"name\" (not with --no-name).\n"
    "Once the batch is durable it prints one line per record:\n"
    "  <chain_index> <record hash in hex>\n"
    "The chain directory is created (mode 0700) if it does not exist.  Hashing a big\n"
    "file draws a progress bar on stderr when it is a terminal.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR           the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "  -k, --key KEYFILE       the signing key: the chain's current private key\n"
    "  -t, --type TYPE         content type, 1 to 255 bytes\n"
    "                          (default: application/octet-stream)\n"
    "  -m, --meta KEY=VALUE    a metadata entry with a text value; repeatable\n"
    "      --meta-json JSON    metadata entries from a JSON object, for typed values\n"
    "                          ({\"$bytes\": \"HEX\"} is a byte string, {\"$int\": \"DEC\"}\n"
    "                          an integer past int64, {\"$map\": {...}} a map taken\n"
    "                          literally); repeatable\n"
    "      --meta-json-file FILE\n"
    "                          the same, read from FILE (- for standard input)\n"
    "      --hash HEX          attest a SHA-256 given as 64 hex digits; repeatable\n"
    "      --hash-list FILE|-  attest the SHA-256 of each line (- for standard input):\n"
    "                          sha256sum or 'shasum -a 256' output (HASH  NAME,\n"
    "                          HASH *NAME, SHA256 (NAME) = HASH) or bare hashes;\n"
    "                          CRLF line ends and blank lines are fine\n"
    "      --no-name           record no file names in the metadata\n"
    "      --passphrase-file FILE\n"
    "                          the passphrase of an encrypted KEYFILE: FILE's first\n"
    "                          line (default: asked on the terminal)\n"
    "      --checkpoint        then sign a checkpoint of the new size and print it\n"
    "                          (as 'attestchain checkpoint')\n"
    "  -h, --help              print this help\n"
    "\n"
    "KEYFILE is PKCS#8 PEM or an OpenSSH private key (ssh-keygen -t ed25519).\n"
    "Metadata keys must be unique.  The key rotation content type\n"
    "(soosef/key-rotation-v1) is refused: use 'attestchain rotate'.\n";

static const char rotate_usage[] =
    "usage: attestchain rotate -C DIR -k OLDKEY --new-key NEWKEY\n"
    "                          [--passphrase-file FILE] [--checkpoint]\n"
    "\n"
    "Appends a key-rotation record, signed by OLDKEY (the chain's current key), that\n"
    "hands signing authority to NEWKEY from the next record on.  OLDKEY is never\n"
    "authorized again.  Prints \"<chain_index> <record hash in hex>\".\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR          the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "  -k, --key OLDKEY       the chain's current private key\n"
    "      --new-key NEWKEY   the key to hand over to: a private key file, a public\n"
    "                         key PEM file, an OpenSSH public key (ssh-ed25519\n"
    "                         AAAA...), or a file holding 64 hex digits\n"
    "      --passphrase-file FILE\n"
    "                         the passphrase of an encrypted OLDKEY: FILE's first\n"
    "                         line (default: asked on the terminal)\n"
    "      --checkpoint       then sign a checkpoint of the new size with NEWKEY (which\n"
    "                         must then be the new private key) and print it\n"
    "  -h, --help             print this help\n";

enum {
    OPT_META_JSON = 256,
    OPT_META_JSON_FILE,
    OPT_HASH,
    OPT_HASH_LIST,
    OPT_NO_NAME,
    OPT_NEW_KEY,
    OPT_PASSPHRASE_FILE,
    OPT_CHECKPOINT,
};

/* A metadata option, kept in command-line order; --meta-json-file's text is
 * read once into `text` (metadata is built once per named record). */
typedef struct meta_arg {
    int kind; /* 'm', OPT_META_JSON or OPT_META_JSON_FILE */
    const char *arg;
    char *text;
} meta_arg;

typedef struct append_args {
    const char *dir, *key, *type, *hash_list, *passphrase_file;
    bool no_name, checkpoint;
    meta_arg *meta; /* argc slots: never more options than arguments */
    size_t nmeta;
    const char **hashes;
    size_t nhash;
    char **files;
    size_t nfiles;
} append_args;

/* One record to append: its content hash and the base name to record (NULL
 * for none). */
typedef struct item {
    uint8_t hash[AC_HASH_SIZE];
    char *name;
} item;

/* A growing array of items. */
typedef struct items {
    item *v;
    size_t n, cap;
} items;

/* ---------------------------------------------------------------- parsing */

static const struct option append_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"key", required_argument, NULL, 'k'},
    {"type", required_argument, NULL, 't'},
    {"meta", required_argument, NULL, 'm'},
    {"meta-json", required_argument, NULL, OPT_META_JSON},
    {"meta-json-file", required_argument, NULL, OPT_META_JSON_FILE},
    {"hash", required_argument, NULL, OPT_HASH},
    {"hash-list", required_argument, NULL, OPT_HASH_LIST},
    {"no-name", no_argument, NULL, OPT_NO_NAME},
    {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
    {"checkpoint", no_argument, NULL, OPT_CHECKPOINT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status to return now. */
static int parse_append(int argc, char **argv, append_args *a)
{
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":C:k:t:m:h", append_opts, NULL)) != -1) {
        switch (c) {
        case 'C': a->dir = optarg; break;
        case 'k': a->key = optarg; break;
        case 't': a->type = optarg; break;
        case 'm':
        case OPT_META_JSON:
        case OPT_META_JSON_FILE: a->meta[a->nmeta++] = (meta_arg){c, optarg, NULL}; break;
        case OPT_HASH: a->hashes[a->nhash++] = optarg; break;
        case OPT_HASH_LIST:
            if (a->hash_list != NULL)
                return fail_usage("append", "give --hash-list once");
            a->hash_list = optarg;
            break;
        case OPT_NO_NAME: a->no_name = true; break;
        case OPT_PASSPHRASE_FILE: a->passphrase_file = optarg; break;
        case OPT_CHECKPOINT: a->checkpoint = true; break;
        case 'h': return print_help(append_usage);
        default: return fail_option("append", c, argv);
        }
    }
    a->files = argv + optind;
    a->nfiles = (size_t)(argc - optind);
    return -1;
}

static void note_stdin_user(const char *users[2], size_t *n, const char *who)
{
    if (*n < 2)
        users[*n] = who;
    ++*n;
}

/* What parse_append cannot see alone: required options and conflicts. */
static int check_append(append_args *a)
{
    if ((a->dir = chain_dir(a->dir)) == NULL)
        return fail_usage("append", "no chain directory: give -C DIR or set " ENV_CHAIN_DIR);
    if (a->key == NULL)
        return fail_usage("append", "missing -k KEYFILE (the signing key)");
    if (a->nfiles == 0 && a->nhash == 0 && a->hash_list == NULL)
        return fail_usage("append", "nothing to append: give FILEs, --hash HEX or --hash-list FILE");
    if (strcmp(a->type, AC_ROTATION_CONTENT_TYPE) == 0)
        return fail_usage("append", "-t %s is for key rotations: use 'attestchain rotate'",
                          AC_ROTATION_CONTENT_TYPE);
    size_t tlen = strlen(a->type);
    if (tlen == 0 || tlen > AC_MAX_CONTENT_TYPE)
        return fail_usage("append", "-t TYPE must be 1 to %u bytes", AC_MAX_CONTENT_TYPE);
    /* Standard input can be read once, by one of these. */
    const char *users[2] = {NULL, NULL};
    size_t n = 0;
    for (size_t i = 0; i < a->nmeta; i++)
        if (a->meta[i].kind == OPT_META_JSON_FILE && strcmp(a->meta[i].arg, "-") == 0)
            note_stdin_user(users, &n, "--meta-json-file -");
    if (a->hash_list != NULL && strcmp(a->hash_list, "-") == 0)
        note_stdin_user(users, &n, "--hash-list -");
    for (size_t i = 0; i < a->nfiles; i++)
        if (strcmp(a->files[i], "-") == 0)
            note_stdin_user(users, &n, "FILE -");
    if (n > 1)
        return fail_usage("append", "%s and %s cannot both read standard input; save one of "
                                    "them to a file", users[0], users[1]);
    return -1;
}

/* ---------------------------------------------------------------- metadata */

/* Why read_small_file refused a file, or NULL. */
static const char *small_file_problem(FILE *f, const char *buf, size_t n, size_t cap)
{
    if (ferror(f))
        return "read failed";
    if (n == cap)
        return "larger than a record can be";
    /* The JSON goes on as a C string: a NUL would silently cut it short. */
    if (memchr(buf, '\0', n) != NULL)
        return "holds a NUL byte";
    return NULL;
}

/* Reads a whole small file (or stdin) as a string; metadata never exceeds a
 * record, so anything larger is refused instead of read. */
static int read_small_file(const char *path, char **out)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL)
        return fail_code(ERR_INPUT, "%s: cannot open: %s; check --meta-json-file", path,
                         strerror(errno));
    size_t cap = AC_MAX_RECORD_SIZE + 1;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        if (!is_stdin)
            (void)fclose(f); /* read-only: nothing to lose */
        return fail_msg("out of memory reading %s", name);
    }
    size_t n = fread(buf, 1, cap, f);
    const char *problem = small_file_problem(f, buf, n, cap);
    if (!is_stdin && fclose(f) != 0 && problem == NULL)
        problem = "read failed";
    if (problem != NULL) {
        free(buf);
        return fail_code(ERR_INPUT, "%s: %s; --meta-json-file takes one JSON object", name,
                         problem);
    }
    buf[n] = '\0';
    *out = buf;
    return EXIT_GOOD;
}

static int add_meta_text(ac_meta *meta, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return fail_usage("append", "-m takes KEY=VALUE, got '%s'", arg);
    size_t klen = (size_t)(eq - arg);
    char *key = strndup(arg, klen);
    if (key == NULL)
        return fail_msg("out of memory");
    ac_error err;
    int rc = ac_meta_set_text(meta, key, eq + 1, &err);
    free(key);
    return rc == AC_OK ? EXIT_GOOD : fail_ac(&err, "check the -m options");
}

static int add_meta_json(ac_meta *meta, const char *json, const char *from)
{
    ac_error err;
    if (ac_meta_add_json(meta, json, &err) == AC_OK)
        return EXIT_GOOD;
    char hint[160];
    snprintf(hint, sizeof hint, "give %s one JSON object of unique keys, without floats", from);
    return fail_ac(&err, hint);
}

/* Reads every --meta-json-file once, so that metadata can be built for each
 * named record without reading a file (or standard input) twice. */
static int read_meta_files(append_args *a)
{
    int st = EXIT_GOOD;
    for (size_t i = 0; i < a->nmeta && st == EXIT_GOOD; i++)
        if (a->meta[i].kind == OPT_META_JSON_FILE)
            st = read_small_file(a->meta[i].arg, &a->meta[i].text);
    return st;
}

/* The metadata of the options, in their order, then name = `name` (when not
 * NULL). */
static int build_meta(const append_args *a, const char *name, ac_meta **out)
{
    ac_error err;
    if (ac_meta_new(out, &err) != AC_OK)
        return fail_ac(&err, NULL);
    int st = EXIT_GOOD;
    for (size_t i = 0; i < a->nmeta && st == EXIT_GOOD; i++) {
        const meta_arg *m = &a->meta[i];
        if (m->kind == 'm')
            st = add_meta_text(*out, m->arg);
        else if (m->kind == OPT_META_JSON)
            st = add_meta_json(*out, m->arg, "--meta-json");
        else
            st = add_meta_json(*out, m->text, "--meta-json-file");
    }
    if (st == EXIT_GOOD && name != NULL && ac_meta_set_text(*out, NAME_KEY, name, &err) != AC_OK)
        st = fail_ac(&err, "the file's name goes under \"" NAME_KEY "\": give --no-name to "
                           "leave it out, or name the file in UTF-8");
    return st;
}

/* ---------------------------------------------------------------- hashes */

static int items_add(items *e, const uint8_t hash[AC_HASH_SIZE], const char *name, size_t name_len)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *e->v)
            return fail_msg("too many records for one call; split the list");
        item *v = realloc(e->v, cap * sizeof *v);
        if (v == NULL)
            return fail_msg("out of memory for %zu records; split the list", cap);
        e->v = v;
        e->cap = cap;
    }
    item *it = &e->v[e->n];
    memset(it, 0, sizeof *it);
    if (hash != NULL)
        memcpy(it->hash, hash, AC_HASH_SIZE);
    if (name != NULL && name_len > 0 && (it->name = strndup(name, name_len)) == NULL)
        return fail_msg("out of memory");
    e->n++;
    return EXIT_GOOD;
}

static void items_free(items *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].name);
    free(e->v);
}

/* The base name of a path: what follows its last '/' (empty for "dir/"). */
static const char *base_name(const char *path, size_t len, size_t *base_len)
{
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    *base_len = len - start;
    return path + start;
}

static int add_hash_arg(items *e, const char *hex)
{
    uint8_t h[AC_HASH_SIZE];
    ac_error err;
    if (ac_hex_decode(hex, h, AC_HASH_SIZE, &err) != AC_OK)
        return fail_usage("append", "--hash '%.80s' is not a SHA-256 of 64 hex digits (%s)", hex,
                          err.message);
    return items_add(e, h, NULL, 0);
}

/* One line into buf, without its '\n'.  1: a line; 0: end of file;
 * -1: longer than the buffer; -2: read error.  *len counts NUL bytes too. */
static int read_line(FILE *f, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int ch;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n + 1 >= cap)
            return -1;
        buf[n++] = (char)ch;
    }
    buf[n] = '\0';
    *len = n;
    if (ch == EOF && ferror(f))
        return -2;
    return ch == EOF && n == 0 ? 0 : 1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* sha256sum writes a name holding '\\', '\n' or '\r' escaped, and marks its
 * line with a leading '\\'.  Undoes that in place; false if malformed. */
static bool unescape_name(char *s, size_t *len)
{
    size_t out = 0;
    for (size_t i = 0; i < *len; i++) {
        if (s[i] != '\\') {
            s[out++] = s[i];
            continue;
        }
        if (++i == *len)
            return false;
        if (s[i] == '\\')
            s[out++] = '\\';
        else if (s[i] == 'n')
            s[out++] = '\n';
        else if (s[i] == 'r')
            s[out++] = '\r';
        else
            return false;
    }
    *len = out;
    return true;
}

/* Parses one hash-list line (no '\n', '\r' already cut): a bare hash,
 * "HASH  NAME" / "HASH *NAME" (sha256sum, shasum -a 256, the second in binary
 * mode), or "SHA256 (NAME) = HASH" (their --tag form).  Sets *name (NULL if
 * none) and *name_len.  false if the line is none of these. */
static bool parse_hash_line(char *s, size_t len, uint8_t h[AC_HASH_SIZE], char **name,
                            size_t *name_len)
{
    static const char tag[] = "SHA256 (";
    *name = NULL;
    *name_len = 0;
    bool escaped = len > 0 && s[0] == '\\';
    if (escaped) {
        s++;
        len--;
    }
    char hex[2 * AC_HASH_SIZE + 1];
    if (len > sizeof tag - 1 && memcmp(s, tag, sizeof tag - 1) == 0) {
        /* The name may hold ") = ": the hash is what follows the last one. */
        static const char sep[] = ") = ";
        const size_t seplen = sizeof sep - 1, hexlen = 2 * AC_HASH_SIZE;
        if (len < sizeof tag - 1 + seplen + hexlen ||
            memcmp(s + len - hexlen - seplen, sep, seplen) != 0)
            return false;
        memcpy(hex, s + len - hexlen, hexlen);
        hex[hexlen] = '\0';
        *name = s + sizeof tag - 1;
        *name_len = len - hexlen - seplen - (sizeof tag - 1);
    } else {
        size_t start = 0;
        while (!escaped && start < len && is_blank(s[start]))
            start++;
        if (len - start < 2 * AC_HASH_SIZE)
            return false;
        memcpy(hex, s + start, 2 * AC_HASH_SIZE);
        hex[2 * AC_HASH_SIZE] = '\0';
        size_t rest = start + 2 * AC_HASH_SIZE;
        if (rest + 2 <= len && s[rest] == ' ' && (s[rest + 1] == ' ' || s[rest + 1] == '*')) {
            *name = s + rest + 2;
            *name_len = len - rest - 2;
            if (*name_len == 0)
                return false;
        } else {
            while (rest < len && is_blank(s[rest]))
                rest++;
            if (rest != len || escaped)
                return false;
        }
    }
    if (escaped && !unescape_name(*name, name_len))
        return false;
    if (*name != NULL && memchr(*name, '\0', *name_len) != NULL)
        return false;
    return ac_hex_decode(hex, h, AC_HASH_SIZE, NULL) == AC_OK;
}

static int read_hash_lines(FILE *f, const char *name, bool keep_names, items *e)
{
    char buf[HASH_LINE_MAX];
    size_t len;
    int r;
    for (unsigned long long line = 1; (r = read_line(f, buf, sizeof buf, &len)) != 0; line++) {
        if (r == -2)
            return fail_code(ERR_INPUT, "%s: line %llu: read failed: %s; nothing was appended",
                             name, line, strerror(errno));
        if (r == 1 && len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0'; /* CRLF files */
        size_t blank = 0;
        while (r == 1 && blank < len && is_blank(buf[blank]))
            blank++;
        if (r == 1 && blank == len)
            continue; /* blank lines are allowed, e.g. at the end */
        uint8_t h[AC_HASH_SIZE];
        char *file = NULL;
        size_t file_len = 0;
        if (r == -1 || !parse_hash_line(buf, len, h, &file, &file_len))
            return fail_code(ERR_INPUT, "%s: line %llu: not a SHA-256 (64 hex digits, alone or "
                                        "as sha256sum writes it); nothing was appended; fix the "
                                        "line", name, line);
        size_t base_len = 0;
        const char *base = keep_names && file ? base_name(file, file_len, &base_len) : NULL;
        int st = items_add(e, h, base, base_len);
        if (st != EXIT_GOOD)
            return st;
    }
    return EXIT_GOOD;
}

static int add_hash_list(items *e, const char *path, bool keep_names)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "r");
    if (f == NULL)
        return fail_code(ERR_INPUT, "%s: cannot open: %s; check the --hash-list path", path,
                         strerror(errno));
    int st = read_hash_lines(f, name, keep_names, e);
    if (!is_stdin && fclose(f) != 0 && st == EXIT_GOOD)
        st = fail_code(ERR_INPUT, "%s: read failed; nothing was appended", name);
    return st;
}

/* Hashes each FILE into the first nfiles items. */
static int hash_files(const append_args *a, items *e)
{
    for (size_t i = 0; i < a->nfiles; i++) {
        bool is_stdin = strcmp(a->files[i], "-") == 0;
        progress bar;
        ac_error err;
        progress_init(&bar, is_stdin ? "standard input" : a->files[i], true, HASH_PROGRESS_MIN, 0);
        int rc = ac_sha256_file(is_stdin ? STDIN_PATH : a->files[i], progress_update,
                                &bar, e->v[i].hash, &err);
        progress_end(&bar);
        if (rc != AC_OK)
            return fail_ac(&err, "nothing was appended; check the FILE arguments");
    }
    return EXIT_GOOD;
}

/* All content hashes, in the order FILEs, --hash, --hash-list; the files are
 * hashed last so that a typo in a hash fails before a long read. */
static int collect(const append_args *a, items *e)
{
    int st = EXIT_GOOD;
    for (size_t i = 0; i < a->nfiles && st == EXIT_GOOD; i++) {
        size_t base_len = 0;
        const char *base = a->no_name || strcmp(a->files[i], "-") == 0
                               ? NULL
                               : base_name(a->files[i], strlen(a->files[i]), &base_len);
        st = items_add(e, NULL, base, base_len); /* hashed by hash_files */
    }
    for (size_t i = 0; i < a->nhash && st == EXIT_GOOD; i++)
        st = add_hash_arg(e, a->hashes[i]);
    if (st == EXIT_GOOD && a->hash_list != NULL)
        st = add_hash_list(e, a->hash_list, !a->no_name);
    if (st == EXIT_GOOD && e->n == 0)
        return fail_usage("append", "nothing to append: %s holds no hashes", a->hash_list);
    if (st == EXIT_GOOD)
        st = hash_files(a, e);
    return st;
}

/* ---------------------------------------------------------------- appending */

static int print_appended(const ac_appended *r, size_t n)
{
    char hex[HASH_HEX_LEN];
    for (size_t i = 0; i < n; i++) {
        ac_hex_encode(r[i].hash, AC_HASH_SIZE, hex);
        printf("%llu %s\n", (unsigned long long)r[i].index, hex);
    }
    /* The records are in the chain whatever happens to stdout: say so. */
    if (fflush(stdout) != 0 || ferror(stdout))
        return fail_msg("%zu record%s appended (%llu..%llu) but the lines could not be "
                        "written to standard output: %s; 'attestchain log' lists them", n,
                        n == 1 ? " was" : "s were", (unsigned long long)r[0].index,
                        (unsigned long long)r[n - 1].index, strerror(errno));
    return EXIT_GOOD;
}

/* The entries of the batch: records without a name share `meta`; each named
 * one gets its own metadata, in metas[i]. */
static int make_entries(const append_args *a, const items *e, const ac_meta *meta,
                        ac_entry *entries, ac_meta **metas)
{
    int st = EXIT_GOOD;
    for (size_t i = 0; i < e->n && st == EXIT_GOOD; i++) {
        memcpy(entries[i].content_hash, e->v[i].hash, AC_HASH_SIZE);
        entries[i].content_type = a->type;
        entries[i].metadata = meta;
        if (e->v[i].name != NULL && (st = build_meta(a, e->v[i].name, &metas[i])) == EXIT_GOOD)
            entries[i].metadata = metas[i];
    }
    return st;
}

static int append_entries(const append_args *a, const ac_key *key, const ac_entry *entries,
                          size_t n)
{
    ac_appended *res = calloc(n, sizeof *res);
    if (res == NULL)
        return fail_msg("out of memory for %zu records; split the list", n);
    ac_chain *chain = NULL;
    int st = open_chain(a->dir, AC_OPEN_CREATE, &chain);
    if (st == EXIT_GOOD) {
        ac_error err;
        if (ac_append_batch(chain, key, entries, n, res, &err) == AC_OK)
            st = print_appended(res, n);
        else
            st = fail_append(chain, &err);
        /* The batch is durable; then its checkpoint, signed by the same key. */
        if (st == EXIT_GOOD && a->checkpoint)
            st = make_checkpoint(chain, key, NULL, false);
        st = close_chain(chain, st);
    }
    free(res);
    return st;
}

static int append_batch(const append_args *a, const ac_key *key, const items *e,
                        const ac_meta *meta)
{
    ac_entry *entries = calloc(e->n, sizeof *entries);
    ac_meta **metas = calloc(e->n, sizeof *metas);
    int st = entries && metas ? make_entries(a, e, meta, entries, metas)
                              : fail_msg("out of memory for %zu records; split the list", e->n);
    if (st == EXIT_GOOD)
        st = append_entries(a, key, entries, e->n);
    for (size_t i = 0; metas != NULL && i < e->n; i++)
        ac_meta_free(metas[i]);
    free(metas);
    free(entries);
    return st;
}

static int run_append(append_args *a)
{
    int st = check_append(a);
    if (st >= 0)
        return st;
    ac_meta *meta = NULL;
    ac_key *key = NULL;
    items e = {0};
    st = read_meta_files(a);
    if (st == EXIT_GOOD)
        st = build_meta(a, NULL, &meta);
    if (st == EXIT_GOOD)
        st = load_signing_key(a->key, "-k", a->passphrase_file, &key);
    if (st == EXIT_GOOD)
        st = collect(a, &e);
    if (st == EXIT_GOOD)
        st = append_batch(a, key, &e, meta);
    items_free(&e);
    ac_key_free(key);
    ac_meta_free(meta);
    return st;
}

int cmd_append(int argc, char **argv)
{
    append_args a = {.type = DEFAULT_CONTENT_TYPE};
    a.meta = calloc((size_t)argc, sizeof *a.meta);
    a.hashes = calloc((size_t)argc, sizeof *a.hashes);
    int st = EXIT_TROUBLE;
    if (a.meta == NULL || a.hashes == NULL)
        fail_msg("out of memory");
    else if ((st = parse_append(argc, argv, &a)) < 0)
        st = run_append(&a);
    for (size_t i = 0; a.meta != NULL && i < a.nmeta; i++)
        free(a.meta[i].text);
    free(a.meta);
    free(a.hashes);
    return st;
}

/* ---------------------------------------------------------------- rotate */

static const struct option rotate_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"key", required_argument, NULL, 'k'},
    {"new-key", required_argument, NULL, OPT_NEW_KEY},
    {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},
    {"checkpoint", no_argument, NULL, OPT_CHECKPOINT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* `signer`: the new private key when a checkpoint is to follow, or NULL. */
static int rotate_with(const char *dir, const ac_key *old, const uint8_t new_pub[AC_PUBKEY_SIZE],
                       const ac_key *signer)
{
    ac_chain *chain = NULL;
    int st = open_chain(dir, 0, &chain);
    if (st != EXIT_GOOD)
        return st;
    ac_error err;
    ac_appended res;
    if (ac_append_rotation(chain, old, new_pub, &res, &err) == AC_OK)
        st = print_appended(&res, 1);
    else
        st = fail_append(chain, &err);
    if (st == EXIT_GOOD && signer != NULL)
        st = make_checkpoint(chain, signer, NULL, false);
    return close_chain(chain, st);
}

int cmd_rotate(int argc, char **argv)
{
    const char *dir = NULL, *old_path = NULL, *new_path = NULL, *passphrase_file = NULL;
    bool checkpoint = false;
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":C:k:h", rotate_opts, NULL)) != -1) {
        switch (c) {
        case 'C': dir = optarg; break;
        case 'k': old_path = optarg; break;
        case OPT_NEW_KEY: new_path = optarg; break;
        case OPT_PASSPHRASE_FILE: passphrase_file = optarg; break;
        case OPT_CHECKPOINT: checkpoint = true; break;
        case 'h': return print_help(rotate_usage);
        default: return fail_option("rotate", c, argv);
        }
    }
    if (optind < argc)
        return fail_usage("rotate", "unexpected argument '%s'", argv[optind]);
    if ((dir = chain_dir(dir)) == NULL)
        return fail_usage("rotate", "no chain directory: give -C DIR or set " ENV_CHAIN_DIR);
    if (old_path == NULL || new_path == NULL)
        return fail_usage("rotate", "give -k OLDKEY and --new-key NEWKEY");
    uint8_t new_pub[AC_PUBKEY_SIZE];
    ac_error err;
    int rc = ac_pubkey_load(new_path, new_pub, &err);
    if (rc == AC_EPASSPHRASE)
        return fail_ac(&err, "give --new-key its public key file instead");
    if (rc != AC_OK)
        return fail_ac(&err, "give --new-key a private key, a public key (PEM or ssh-ed25519) "
                             "or 64 hex digits");
    ac_key *old = NULL, *signer = NULL;
    int st = load_signing_key(old_path, "-k", passphrase_file, &old);
    /* A checkpoint after the rotation is the new key's to sign. */
    if (st == EXIT_GOOD && checkpoint && ac_key_load(new_path, &signer, &err) != AC_OK)
        st = fail_ac(&err, "--checkpoint needs --new-key to be the new private key file");
    if (st == EXIT_GOOD)
        st = rotate_with(dir, old, new_pub, signer);
    ac_key_free(old);
    ac_key_free(signer);
    return st;
}
