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
#define HASH_LINE_MAX 256             /* a hash-list line longer than this is not a hash */

static const char append_usage[] =
    "usage: attestchain append -C DIR -k KEYFILE [-t TYPE] [-m KEY=VALUE]...\n"
    "                          [--meta-json JSON]... [--meta-json-file FILE]\n"
    "                          [--hash HEX]... [--hash-list FILE|-] [FILE...]\n"
    "\n"
    "Appends one record per FILE (its SHA-256, read as a stream), per --hash and per\n"
    "line of --hash-list, in that order, all in one batch: one lock, one fsync, all\n"
    "or nothing.  Every record of the call gets the same content type and metadata.\n"
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
    "      --hash-list FILE|-  attest each line's 64-hex-digit SHA-256 (- for\n"
    "                          standard input; blank lines are skipped)\n"
    "  -h, --help              print this help\n"
    "\n"
    "Metadata keys must be unique.  The key rotation content type\n"
    "(soosef/key-rotation-v1) is refused: use 'attestchain rotate'.\n";

static const char rotate_usage[] =
    "usage: attestchain rotate -C DIR -k OLDKEY --new-key NEWKEY\n"
    "\n"
    "Appends a key-rotation record, signed by OLDKEY (the chain's current key), that\n"
    "hands signing authority to NEWKEY from the next record on.  OLDKEY is never\n"
    "authorized again.  Prints \"<chain_index> <record hash in hex>\".\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR          the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "  -k, --key OLDKEY       the chain's current private key\n"
    "      --new-key NEWKEY   the key to hand over to: a private key file, a public\n"
    "                         key PEM file, or a file holding 64 hex digits\n"
    "  -h, --help             print this help\n";

enum { OPT_META_JSON = 256, OPT_META_JSON_FILE, OPT_HASH, OPT_HASH_LIST, OPT_NEW_KEY };

/* A metadata option, kept in command-line order. */
typedef struct meta_arg {
    int kind; /* 'm', OPT_META_JSON or OPT_META_JSON_FILE */
    const char *arg;
} meta_arg;

typedef struct append_args {
    const char *dir, *key, *type, *hash_list;
    meta_arg *meta; /* argc slots: never more options than arguments */
    size_t nmeta;
    const char **hashes;
    size_t nhash;
    char **files;
    size_t nfiles;
} append_args;

/* A growing array of entries. */
typedef struct entries {
    ac_entry *v;
    size_t n, cap;
} entries;

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
        case OPT_META_JSON_FILE: a->meta[a->nmeta++] = (meta_arg){c, optarg}; break;
        case OPT_HASH: a->hashes[a->nhash++] = optarg; break;
        case OPT_HASH_LIST:
            if (a->hash_list != NULL)
                return fail_usage("append", "give --hash-list once");
            a->hash_list = optarg;
            break;
        case 'h': return print_help(append_usage);
        default: return fail_option("append", c, argv);
        }
    }
    a->files = argv + optind;
    a->nfiles = (size_t)(argc - optind);
    return -1;
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
    bool meta_stdin = false;
    for (size_t i = 0; i < a->nmeta; i++)
        meta_stdin |= a->meta[i].kind == OPT_META_JSON_FILE && strcmp(a->meta[i].arg, "-") == 0;
    if (meta_stdin && a->hash_list != NULL && strcmp(a->hash_list, "-") == 0)
        return fail_usage("append", "--meta-json-file - and --hash-list - cannot both read "
                                    "standard input");
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
        return fail_msg("%s: cannot open: %s", path, strerror(errno));
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
        return fail_msg("%s: %s", name, problem);
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
    snprintf(hint, sizeof hint, "%s must hold one JSON object of unique keys, without floats",
             from);
    return fail_ac(&err, hint);
}

static int build_meta(const append_args *a, ac_meta **out)
{
    ac_error err;
    if (ac_meta_new(out, &err) != AC_OK)
        return fail_ac(&err, NULL);
    int st = EXIT_GOOD;
    for (size_t i = 0; i < a->nmeta && st == EXIT_GOOD; i++) {
        const meta_arg *m = &a->meta[i];
        if (m->kind == 'm') {
            st = add_meta_text(*out, m->arg);
        } else if (m->kind == OPT_META_JSON) {
            st = add_meta_json(*out, m->arg, "--meta-json");
        } else {
            char *text = NULL;
            st = read_small_file(m->arg, &text);
            if (st == EXIT_GOOD)
                st = add_meta_json(*out, text, "--meta-json-file");
            free(text);
        }
    }
    return st;
}

/* ---------------------------------------------------------------- hashes */

static int entries_add(entries *e, const uint8_t hash[AC_HASH_SIZE])
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *e->v)
            return fail_msg("too many records for one call");
        ac_entry *v = realloc(e->v, cap * sizeof *v);
        if (v == NULL)
            return fail_msg("out of memory for %zu records", cap);
        e->v = v;
        e->cap = cap;
    }
    memset(&e->v[e->n], 0, sizeof e->v[e->n]);
    if (hash != NULL)
        memcpy(e->v[e->n].content_hash, hash, AC_HASH_SIZE);
    e->n++;
    return EXIT_GOOD;
}

static int add_hash_arg(entries *e, const char *hex)
{
    uint8_t h[AC_HASH_SIZE];
    ac_error err;
    if (ac_hex_decode(hex, h, AC_HASH_SIZE, &err) != AC_OK)
        return fail_usage("append", "--hash '%.80s' is not a SHA-256 of 64 hex digits (%s)", hex,
                          err.message);
    return entries_add(e, h);
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

/* Trims blanks (and a '\r' from CRLF files) around a line; returns its start. */
static char *trim(char *s, size_t *len)
{
    while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
        s[--*len] = '\0';
    while (*len > 0 && (*s == ' ' || *s == '\t'))
        s++, --*len;
    return s;
}

static int read_hash_lines(FILE *f, const char *name, entries *e)
{
    char buf[HASH_LINE_MAX];
    size_t len;
    int r;
    for (unsigned long long line = 1; (r = read_line(f, buf, sizeof buf, &len)) != 0; line++) {
        if (r == -2)
            return fail_msg("%s: line %llu: read failed: %s", name, line, strerror(errno));
        char *s = r == 1 ? trim(buf, &len) : buf;
        if (r == 1 && len == 0)
            continue; /* blank lines are allowed, e.g. at the end */
        uint8_t h[AC_HASH_SIZE];
        if (r == -1 || memchr(s, '\0', len) != NULL ||
            ac_hex_decode(s, h, AC_HASH_SIZE, NULL) != AC_OK)
            return fail_msg("%s: line %llu: not a SHA-256 of 64 hex digits; nothing was appended",
                            name, line);
        int st = entries_add(e, h);
        if (st != EXIT_GOOD)
            return st;
    }
    return EXIT_GOOD;
}

static int add_hash_list(entries *e, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "standard input" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "r");
    if (f == NULL)
        return fail_msg("%s: cannot open: %s", path, strerror(errno));
    int st = read_hash_lines(f, name, e);
    if (!is_stdin && fclose(f) != 0 && st == EXIT_GOOD)
        st = fail_msg("%s: read failed", name);
    return st;
}

/* Hashes each FILE into the first nfiles entries. */
static int hash_files(const append_args *a, entries *e)
{
    for (size_t i = 0; i < a->nfiles; i++) {
        progress bar;
        ac_error err;
        progress_init(&bar, a->files[i], true, HASH_PROGRESS_MIN, 0);
        int rc = ac_sha256_file(a->files[i], e->v[i].content_hash, progress_update, &bar, &err);
        progress_end(&bar);
        if (rc != AC_OK)
            return fail_ac(&err, "nothing was appended");
    }
    return EXIT_GOOD;
}

/* All content hashes, in the order FILEs, --hash, --hash-list; the files are
 * hashed last so that a typo in a hash fails before a long read. */
static int collect(const append_args *a, entries *e)
{
    int st = EXIT_GOOD;
    for (size_t i = 0; i < a->nfiles && st == EXIT_GOOD; i++)
        st = entries_add(e, NULL); /* filled by hash_files */
    for (size_t i = 0; i < a->nhash && st == EXIT_GOOD; i++)
        st = add_hash_arg(e, a->hashes[i]);
    if (st == EXIT_GOOD && a->hash_list != NULL)
        st = add_hash_list(e, a->hash_list);
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
        return fail_msg("%zu record(s) were appended (%llu..%llu) but their lines could not be "
                        "written to standard output: %s", n, (unsigned long long)r[0].index,
                        (unsigned long long)r[n - 1].index, strerror(errno));
    return EXIT_GOOD;
}

static int append_batch(const append_args *a, const ac_key *key, entries *e, const ac_meta *meta)
{
    for (size_t i = 0; i < e->n; i++) {
        e->v[i].content_type = a->type;
        e->v[i].metadata = meta;
    }
    ac_appended *res = calloc(e->n, sizeof *res);
    if (res == NULL)
        return fail_msg("out of memory for %zu records", e->n);
    ac_chain *chain = NULL;
    int st = open_chain(a->dir, AC_OPEN_CREATE, &chain);
    if (st == EXIT_GOOD) {
        ac_error err;
        if (ac_append_batch(chain, key, e->v, e->n, res, &err) == AC_OK)
            st = print_appended(res, e->n);
        else
            st = fail_append(chain, &err);
        st = close_chain(chain, st);
    }
    free(res);
    return st;
}

static int run_append(append_args *a)
{
    int st = check_append(a);
    if (st >= 0)
        return st;
    ac_meta *meta = NULL;
    ac_key *key = NULL;
    entries e = {0};
    st = build_meta(a, &meta);
    if (st == EXIT_GOOD)
        st = load_signing_key(a->key, "-k", &key);
    if (st == EXIT_GOOD)
        st = collect(a, &e);
    if (st == EXIT_GOOD)
        st = append_batch(a, key, &e, meta);
    free(e.v);
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
    free(a.meta);
    free(a.hashes);
    return st;
}

/* ---------------------------------------------------------------- rotate */

static const struct option rotate_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"key", required_argument, NULL, 'k'},
    {"new-key", required_argument, NULL, OPT_NEW_KEY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int rotate_with(const char *dir, const ac_key *old, const uint8_t new_pub[AC_PUBKEY_SIZE])
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
    return close_chain(chain, st);
}

int cmd_rotate(int argc, char **argv)
{
    const char *dir = NULL, *old_path = NULL, *new_path = NULL;
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":C:k:h", rotate_opts, NULL)) != -1) {
        switch (c) {
        case 'C': dir = optarg; break;
        case 'k': old_path = optarg; break;
        case OPT_NEW_KEY: new_path = optarg; break;
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
    if (ac_pubkey_load(new_path, new_pub, &err) != AC_OK)
        return fail_ac(&err, "--new-key takes a private key, a public key PEM or 64 hex digits");
    ac_key *old = NULL;
    int st = load_signing_key(old_path, "-k", &old);
    if (st == EXIT_GOOD)
        st = rotate_with(dir, old, new_pub);
    ac_key_free(old);
    return st;
}
