/* find: which records attest this file (or this hash)?  The files are
 * hashed first, then the chain is searched once for all of them (ac_find),
 * so a hundred files cost one pass over the chain. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define SHORT_KEY_HEX 16              /* hex digits of a signer shown */
#define HASH_PROGRESS_MIN (16u << 20) /* bytes; smaller files hash too fast for a bar */
#define FIND_PROGRESS_MIN 100000u     /* records; smaller chains are searched at once */

static const char find_usage[] =
    "usage: attestchain find -C DIR [--json] [--hash HEX]... [FILE|-]...\n"
    "\n"
    "Finds the records whose content hash is the SHA-256 of each FILE (- reads\n"
    "standard input) or each --hash, in one pass over the chain.  Prints a line per\n"
    "record found:\n"
    "  FILE: record INDEX, TIME (UTC), signer KEY (first 16 hex digits)[, name NAME]\n"
    "and \"FILE: not found\" for a FILE no record attests.  Each record reported has\n"
    "its signature, index, link and authorization checked; a damaged chain is an\n"
    "error naming the first bad record.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR   the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "      --hash HEX  look for a SHA-256 given as 64 hex digits; repeatable\n"
    "      --json      print a JSON array: per FILE or HEX {\"query\": ..., \"content_hash\":\n"
    "                  HEX, \"records\": [{\"chain_index\", \"hash\", \"claimed_ts\",\n"
    "                  \"claimed_ts_utc\", \"signer_pubkey\", \"content_type\", \"metadata\"}]}\n"
    "  -h, --help      print this help\n"
    "\n"
    "Exit status: 0 every FILE and HEX was found, 1 one or more were not, 2 error.\n";

enum { OPT_HASH = 256, OPT_JSON };

static const struct option find_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"hash", required_argument, NULL, OPT_HASH},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One FILE or HEX asked about, and the records found for it (JSON objects,
 * which the plain output is printed from too). */
typedef struct query {
    const char *label;
    bool file; /* a FILE to hash, not a --hash */
    uint8_t hash[AC_HASH_SIZE];
    json_t *records;
} query;

typedef struct find_args {
    const char *dir;
    bool json;
    bool out_of_memory; /* a record found could not be kept */
    query *q; /* argc slots: never more queries than arguments */
    size_t n;
} find_args;

/* Returns -1 to go on, or the exit status to return now. */
static int parse_find(int argc, char **argv, find_args *a)
{
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":C:h", find_opts, NULL)) != -1) {
        switch (c) {
        case 'C': a->dir = optarg; break;
        case OPT_HASH: {
            ac_error err;
            query *q = &a->q[a->n++];
            q->label = optarg;
            if (ac_hex_decode(optarg, q->hash, AC_HASH_SIZE, &err) != AC_OK)
                return fail_usage("find", "--hash '%.80s' is not a SHA-256 of 64 hex digits (%s)",
                                  optarg, err.message);
            break;
        }
        case OPT_JSON: a->json = true; break;
        case 'h': return print_help(find_usage);
        default: return fail_option("find", c, argv);
        }
    }
    size_t stdin_files = 0;
    for (int i = optind; i < argc; i++) {
        a->q[a->n] = (query){.label = argv[i], .file = true};
        a->n++;
        stdin_files += strcmp(argv[i], "-") == 0;
    }
    if (stdin_files > 1)
        return fail_usage("find", "standard input (-) can be read once; give it once");
    if (a->n == 0)
        return fail_usage("find", "nothing to find: give FILEs or --hash HEX");
    if ((a->dir = chain_dir(a->dir)) == NULL)
        return fail_usage("find", "no chain directory: give -C DIR or set " ENV_CHAIN_DIR);
    return -1;
}

/* Hashes the FILE queries (the --hash ones come hashed). */
static int hash_queries(find_args *a)
{
    for (size_t i = 0; i < a->n; i++) {
        query *q = &a->q[i];
        if (!q->file)
            continue;
        bool is_stdin = strcmp(q->label, "-") == 0;
        progress bar;
        ac_error err;
        progress_init(&bar, is_stdin ? "standard input" : q->label, true, HASH_PROGRESS_MIN, 0);
        int rc = ac_sha256_file(is_stdin ? "/dev/stdin" : q->label, progress_update, &bar,
                                q->hash, &err);
        progress_end(&bar);
        if (rc != AC_OK)
            return fail_ac(&err, "check the FILE arguments");
    }
    return EXIT_GOOD;
}

static json_t *metadata_json(const ac_record *r)
{
    char *text = NULL;
    int rc = ac_record_metadata_json(r, &text, NULL);
    json_t *v = rc == AC_OK && text != NULL ? json_loads(text, JSON_ALLOW_NUL, NULL) : NULL;
    ac_free(text);
    return v;
}

/* ac_find's callback: keeps the record found as a JSON object.  A record
 * that cannot be kept (no memory) stops the search, which is then an error. */
static int on_found(void *ctx, size_t which, const ac_record *r)
{
    find_args *a = ctx;
    query *q = &a->q[which];
    if (q->records == NULL && (q->records = json_array()) == NULL) {
        a->out_of_memory = true;
        return 1;
    }
    json_t *o = json_object();
    bool ok = json_put(o, "chain_index", json_u64(ac_record_index(r))) &&
              json_put(o, "hash", json_hex(ac_record_hash(r), AC_HASH_SIZE)) &&
              json_put(o, "claimed_ts", json_u64(ac_record_claimed_ts(r))) &&
              json_put(o, "claimed_ts_utc", json_utc(ac_record_claimed_ts(r))) &&
              json_put(o, "signer_pubkey", json_hex(ac_record_signer(r), AC_PUBKEY_SIZE)) &&
              json_put(o, "content_type", json_string(ac_record_content_type(r))) &&
              json_put(o, "metadata", metadata_json(r)) && json_array_append_new(q->records, o) == 0;
    if (!ok) {
        json_decref(o);
        a->out_of_memory = true;
        return 1;
    }
    return 0;
}

static void print_found(const query *q, const json_t *rec)
{
    const char *name = json_string_value(json_object_get(json_object_get(rec, "metadata"), "name"));
    put_clean(stdout, q->label);
    printf(": record %lld, %s, signer %.*s",
           (long long)json_integer_value(json_object_get(rec, "chain_index")),
           json_string_value(json_object_get(rec, "claimed_ts_utc")), SHORT_KEY_HEX,
           json_string_value(json_object_get(rec, "signer_pubkey")));
    if (name != NULL) {
        printf(", name ");
        put_clean(stdout, name);
    }
    putchar('\n');
}

static int print_results(const find_args *a)
{
    json_t *all = a->json ? json_array() : NULL;
    bool ok = !a->json || all != NULL;
    for (size_t i = 0; ok && i < a->n; i++) {
        const query *q = &a->q[i];
        if (a->json) {
            json_t *o = json_object();
            ok = json_put(o, "query", json_string(q->label)) &&
                 json_put(o, "content_hash", json_hex(q->hash, AC_HASH_SIZE)) &&
                 json_put(o, "records", q->records ? json_incref(q->records) : json_array()) &&
                 json_array_append_new(all, o) == 0;
            continue;
        }
        size_t n = json_array_size(q->records);
        for (size_t j = 0; j < n; j++)
            print_found(q, json_array_get(q->records, j));
        if (n == 0) {
            put_clean(stdout, q->label);
            printf(": not found\n");
        }
    }
    if (!ok) {
        json_decref(all);
        return fail_msg("out of memory building the answer; find fewer files at once");
    }
    return a->json ? print_json(all) : EXIT_GOOD;
}

static int run_find(find_args *a)
{
    int st = hash_queries(a);
    ac_chain *chain = NULL;
    if (st == EXIT_GOOD)
        st = open_chain(a->dir, AC_OPEN_READONLY, &chain);
    if (st != EXIT_GOOD)
        return st;
    uint8_t (*hashes)[AC_HASH_SIZE] = calloc(a->n, sizeof *hashes);
    if (hashes == NULL)
        return close_chain(chain, fail_msg("out of memory; find fewer files at once"));
    for (size_t i = 0; i < a->n; i++)
        memcpy(hashes[i], a->q[i].hash, AC_HASH_SIZE);
    ac_state head;
    ac_error err;
    progress bar;
    progress_init(&bar, "searching", false, FIND_PROGRESS_MIN,
                  ac_chain_state(chain, &head, &err) == AC_OK ? head.record_count : 0);
    int rc = ac_find(chain, (const uint8_t(*)[AC_HASH_SIZE])hashes, a->n, on_found, a,
                     progress_update, &bar, &err);
    progress_end(&bar);
    free(hashes);
    if (rc != AC_OK)
        st = fail_ac(&err, rc == AC_ECORRUPT ? "run 'attestchain verify' for the whole report"
                                             : NULL);
    else if (a->out_of_memory)
        st = fail_msg("out of memory keeping the records found; find fewer files at once");
    if (st == EXIT_GOOD)
        st = print_results(a);
    bool all_found = true;
    for (size_t i = 0; i < a->n; i++)
        all_found &= json_array_size(a->q[i].records) > 0;
    if (st == EXIT_GOOD)
        st = finish_output(all_found ? EXIT_GOOD : EXIT_INVALID);
    return close_chain(chain, st);
}

int cmd_find(int argc, char **argv)
{
    find_args a = {0};
    a.q = calloc((size_t)argc, sizeof *a.q);
    if (a.q == NULL)
        return fail_msg("out of memory");
    int st = parse_find(argc, argv, &a);
    if (st < 0)
        st = run_find(&a);
    for (size_t i = 0; i < a.n; i++)
        json_decref(a.q[i].records);
    free(a.q);
    return st;
}
