/* status, log and show: the commands that only read a chain.  They open it
 * read-only, so they work on chains the user cannot write, and never touch
 * the caches.  Field names follow the format (docs/format.md sections 4 and 6); a time
 * is given raw (µs since 1970) under its own name and as ISO-8601 UTC under
 * "<name>_utc". */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define SHORT_KEY_HEX 16 /* hex digits of a signer shown by log */

static const char status_usage[] =
    "usage: attestchain status -C DIR [--json]\n"
    "\n"
    "Prints the chain's head state: chain_id, record_count, head_index, head_hash,\n"
    "created_at and last_append_at (ISO-8601 UTC and raw microseconds), signer (the\n"
    "key authorized to sign the next record), chain_size and head_offset; or\n"
    "\"empty chain\".  If state.cbor says more records were committed than chain.bin\n"
    "holds, says so (\"LOST: ...\") and exits 1: see 'attestchain recover'.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR   the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "      --json      print one JSON object with these keys, plus \"empty\",\n"
    "                  created_at_utc and last_append_at_utc (times in text) and\n"
    "                  \"lost\" (null, or {committed_records, committed_size,\n"
    "                  records, size}); an empty chain has \"empty\": true,\n"
    "                  record_count 0, others null\n"
    "  -h, --help      print this help\n"
    "\n"
    "Exit status: 0, 1 records were lost or the chain is damaged, 2 an error.\n";

static const char log_usage[] =
    "usage: attestchain log -C DIR [--from N] [--to N] [--json]\n"
    "\n"
    "Lists the records from --from to --to (default: all), oldest first, one block\n"
    "per record: index and record hash, time (ISO-8601 UTC), content type, content\n"
    "hash, signer (first 16 hex digits), the file's name (metadata \"name\", as\n"
    "append records it) and metadata as JSON.  Each record listed is checked first\n"
    "(its signature by the key authorized at its index, its index, its link to the\n"
    "next record): the listing stops at the first that fails, with an error naming\n"
    "it and exit status 1.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR   the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "      --from N    the first record to list (default: 0)\n"
    "      --to N      the last record to list (default: the head)\n"
    "      --json      print a JSON array of record objects, as 'show --json' does;\n"
    "                  when the listing stops at a record that fails, its last\n"
    "                  element is the error object {\"error\": {...}}\n"
    "  -h, --help      print this help\n";

static const char show_usage[] =
    "usage: attestchain show -C DIR INDEX [--json]\n"
    "\n"
    "Prints record INDEX in full: chain_index, hash (the record hash), version,\n"
    "record_id (as a UUID), prev_hash, content_hash, content_type, claimed_ts\n"
    "(ISO-8601 UTC and raw microseconds), signer_pubkey, signature, offset (of its\n"
    "frame in chain.bin), size (of the record, in bytes), metadata and\n"
    "entropy_witnesses (as JSON: a byte string is {\"$bytes\": \"HEX\"}, an integer\n"
    "outside the int64 range {\"$int\": \"DECIMAL\"}, and a map whose one key is\n"
    "one of these names {\"$map\": {...}}).  The record is checked first (its\n"
    "signature by the key authorized at its index, its index, its link to the next\n"
    "record); one that fails is not shown: an error names it, exit status 1.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR   the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "      --json      print one JSON object with these keys, plus claimed_ts_utc\n"
    "  -h, --help      print this help\n";

enum { OPT_FROM = 256, OPT_TO, OPT_JSON };

/* log takes a range; status and show do not (so their table stops early). */
static const struct option read_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {NULL, 0, NULL, 0},
};
static const struct option plain_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The options of the three commands; each accepts only its own. */
typedef struct read_args {
    const char *cmd, *usage;
    bool ranged; /* takes --from/--to */
    const char *dir;
    uint64_t from, to;
    bool to_given, json;
    uint64_t index; /* show's INDEX */
} read_args;

static int parse_bound(const read_args *a, const char *opt, const char *arg, uint64_t *out)
{
    if (!parse_u64(arg, out) || *out > INT64_MAX)
        return fail_usage(a->cmd, "%s takes a record index, got '%.40s'", opt, arg);
    return -1;
}

/* show's one operand.  Returns -1 to go on, or the exit status. */
static int parse_index(read_args *a, int n, char **operands)
{
    if (n != 1)
        return fail_usage(a->cmd, n == 0 ? "missing INDEX" : "give exactly one INDEX");
    if (!parse_u64(operands[0], &a->index))
        return fail_usage(a->cmd, "INDEX must be a record index, got '%.40s'", operands[0]);
    return -1;
}

/* Returns -1 to go on, or the exit status to return now. */
static int parse_read(int argc, char **argv, read_args *a)
{
    getopt_reset();
    int c, st = -1;
    const struct option *opts = a->ranged ? read_opts : plain_opts;
    while (st < 0 && (c = getopt_long(argc, argv, ":C:h", opts, NULL)) != -1) {
        switch (c) {
        case 'C': a->dir = optarg; break;
        case OPT_FROM: st = parse_bound(a, "--from", optarg, &a->from); break;
        case OPT_TO:
            st = parse_bound(a, "--to", optarg, &a->to);
            a->to_given = true;
            break;
        case OPT_JSON: a->json = true; break;
        case 'h': return print_help(a->usage);
        default: return fail_option(a->cmd, c, argv);
        }
    }
    if (st >= 0)
        return st;
    if (strcmp(a->cmd, "show") != 0 && optind < argc)
        return fail_usage(a->cmd, "unexpected argument '%s'", argv[optind]);
    if (strcmp(a->cmd, "show") == 0 && (st = parse_index(a, argc - optind, argv + optind)) >= 0)
        return st;
    if ((a->dir = chain_dir(a->dir)) == NULL)
        return fail_usage(a->cmd, "no chain directory: give -C DIR or set " ENV_CHAIN_DIR);
    if (a->to_given && a->to < a->from)
        return fail_usage(a->cmd, "--to %llu is before --from %llu", (unsigned long long)a->to,
                          (unsigned long long)a->from);
    return -1;
}

/* A damaged or tampered record is flagged with exit status 1, like an
 * invalid chain; anything else that stops a read is an error (2). */
static int fail_read(const ac_error *err)
{
    if (err->code == AC_ENOTFOUND)
        return fail_ac(err, "run 'attestchain status' for the head index");
    if (err->code != AC_ECORRUPT)
        return fail_ac(err, NULL);
    /* Some of the library's messages already say to run verify. */
    (void)fail_ac(err, strstr(err->message, "verify") == NULL
                           ? "run 'attestchain verify' for the first damaged record" : NULL);
    return EXIT_INVALID;
}

/* ---------------------------------------------------------------- status */

static void print_state(const ac_state *s)
{
    char h[HASH_HEX_LEN], created[UTC_TEXT_LEN], last[UTC_TEXT_LEN];
    ac_hex_encode(s->chain_id, AC_HASH_SIZE, h);
    printf("chain_id:       %s\n", h);
    printf("record_count:   %llu\n", (unsigned long long)s->record_count);
    printf("head_index:     %llu\n", (unsigned long long)s->head_index);
    ac_hex_encode(s->head_hash, AC_HASH_SIZE, h);
    printf("head_hash:      %s\n", h);
    format_utc(s->created_at, created);
    format_utc(s->last_append_at, last);
    printf("created_at:     %s (%llu)\n", created, (unsigned long long)s->created_at);
    printf("last_append_at: %s (%llu)\n", last, (unsigned long long)s->last_append_at);
    ac_hex_encode(s->signer, AC_PUBKEY_SIZE, h);
    printf("signer:         %s\n", h);
    printf("chain_size:     %llu\n", (unsigned long long)s->chain_size);
    printf("head_offset:    %llu\n", (unsigned long long)s->head_offset);
}

static json_t *utc_json(uint64_t us)
{
    char t[UTC_TEXT_LEN];
    format_utc(us, t);
    return json_string(t);
}

/* s == NULL: an empty chain (same keys, null values). */
static json_t *state_json(const ac_state *s)
{
    json_t *o = json_object();
    bool ok = json_put(o, "empty", json_boolean(s == NULL)) &&
              json_put(o, "chain_id", s ? json_hex(s->chain_id, AC_HASH_SIZE) : json_null()) &&
              json_put(o, "record_count", json_u64(s ? s->record_count : 0)) &&
              json_put(o, "head_index", s ? json_u64(s->head_index) : json_null()) &&
              json_put(o, "head_hash", s ? json_hex(s->head_hash, AC_HASH_SIZE) : json_null()) &&
              json_put(o, "created_at", s ? json_u64(s->created_at) : json_null()) &&
              json_put(o, "created_at_utc", s ? utc_json(s->created_at) : json_null()) &&
              json_put(o, "last_append_at", s ? json_u64(s->last_append_at) : json_null()) &&
              json_put(o, "last_append_at_utc", s ? utc_json(s->last_append_at) : json_null()) &&
              json_put(o, "signer", s ? json_hex(s->signer, AC_PUBKEY_SIZE) : json_null()) &&
              json_put(o, "chain_size", s ? json_u64(s->chain_size) : json_null()) &&
              json_put(o, "head_offset", s ? json_u64(s->head_offset) : json_null());
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Records lost: a state.cbor of this chain says more was committed. */
static void print_loss(const ac_loss *l)
{
    printf("LOST: " "state.cbor says %llu records were committed; chain.bin holds %llu.\n"
           "  Restore chain.bin from a copy, or accept the loss with "
           "'attestchain recover --accept-loss'.\n",
           (unsigned long long)l->committed_records, (unsigned long long)l->records);
}

static json_t *loss_json(const ac_loss *l)
{
    json_t *o = json_object();
    if (!json_put(o, "committed_records", json_u64(l->committed_records)) ||
        !json_put(o, "committed_size", json_u64(l->committed_size)) ||
        !json_put(o, "records", json_u64(l->records)) || !json_put(o, "size", json_u64(l->size))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int run_status(ac_chain *chain, const read_args *a)
{
    ac_state st;
    ac_error err;
    int rc = ac_chain_state(chain, &st, &err);
    if (rc != AC_OK && rc != AC_ENOTFOUND)
        return fail_read(&err);
    const ac_state *s = rc == AC_OK ? &st : NULL;
    ac_loss loss;
    int lost = ac_chain_loss(chain, &loss, &err);
    if (lost < 0)
        return fail_read(&err);
    if (a->json) {
        json_t *o = state_json(s);
        if (o == NULL || !json_put(o, "lost", lost ? loss_json(&loss) : json_null())) {
            json_decref(o);
            return fail_msg("out of memory building JSON");
        }
        int out = print_json(o);
        return out == EXIT_GOOD ? finish_output(lost ? EXIT_INVALID : EXIT_GOOD) : out;
    }
    if (s == NULL)
        printf("empty chain\n");
    else
        print_state(s);
    if (lost)
        print_loss(&loss);
    return finish_output(lost ? EXIT_INVALID : EXIT_GOOD);
}

/* ---------------------------------------------------------------- records */

/* A JSON text from the library, as a value to embed.  A text value may hold
 * U+0000 (the format allows it), which jansson accepts only when told. */
static json_t *embed_json(int rc, char *text)
{
    json_t *v = rc == AC_OK && text != NULL ? json_loads(text, JSON_ALLOW_NUL, NULL) : NULL;
    ac_free(text);
    return v;
}

static json_t *record_json(const ac_record *r)
{
    char uuid[UUID_TEXT_LEN];
    char *meta = NULL, *wit = NULL;
    size_t len;
    format_uuid(ac_record_id(r), uuid);
    (void)ac_record_bytes(r, &len);
    int mrc = ac_record_metadata_json(r, &meta, NULL);
    int wrc = ac_record_witnesses_json(r, &wit, NULL);
    json_t *o = json_object();
    bool ok = json_put(o, "chain_index", json_u64(ac_record_index(r))) &&
              json_put(o, "hash", json_hex(ac_record_hash(r), AC_HASH_SIZE)) &&
              json_put(o, "version", json_u64(ac_record_version(r))) &&
              json_put(o, "record_id", json_string(uuid)) &&
              json_put(o, "prev_hash", json_hex(ac_record_prev_hash(r), AC_HASH_SIZE)) &&
              json_put(o, "content_hash", json_hex(ac_record_content_hash(r), AC_HASH_SIZE)) &&
              json_put(o, "content_type", json_string(ac_record_content_type(r))) &&
              json_put(o, "claimed_ts", json_u64(ac_record_claimed_ts(r))) &&
              json_put(o, "claimed_ts_utc", utc_json(ac_record_claimed_ts(r))) &&
              json_put(o, "signer_pubkey", json_hex(ac_record_signer(r), AC_PUBKEY_SIZE)) &&
              json_put(o, "signature", json_hex(ac_record_signature(r), AC_SIGNATURE_SIZE)) &&
              json_put(o, "offset", json_u64(ac_record_offset(r))) &&
              json_put(o, "size", json_u64(len)) &&
              json_put(o, "metadata", embed_json(mrc, meta)) &&
              json_put(o, "entropy_witnesses", embed_json(wrc, wit));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Prints the metadata (witnesses false) or the witnesses as one JSON line;
 * "(unreadable)" if the library could not convert them. */
static void print_lib_json(const ac_record *r, bool witnesses)
{
    char *text = NULL;
    int rc = witnesses ? ac_record_witnesses_json(r, &text, NULL)
                       : ac_record_metadata_json(r, &text, NULL);
    if (rc == AC_OK && text != NULL)
        put_clean(stdout, text);
    else
        printf("(unreadable: %s)", ac_strerror(rc));
    ac_free(text);
    putchar('\n');
}

static void print_record_full(const ac_record *r)
{
    char h[SIG_HEX_LEN], uuid[UUID_TEXT_LEN], t[UTC_TEXT_LEN];
    size_t len;
    (void)ac_record_bytes(r, &len);
    printf("chain_index:       %llu\n", (unsigned long long)ac_record_index(r));
    ac_hex_encode(ac_record_hash(r), AC_HASH_SIZE, h);
    printf("hash:              %s\n", h);
    printf("version:           %llu\n", (unsigned long long)ac_record_version(r));
    format_uuid(ac_record_id(r), uuid);
    printf("record_id:         %s\n", uuid);
    ac_hex_encode(ac_record_prev_hash(r), AC_HASH_SIZE, h);
    printf("prev_hash:         %s\n", h);
    ac_hex_encode(ac_record_content_hash(r), AC_HASH_SIZE, h);
    printf("content_hash:      %s\n", h);
    printf("content_type:      ");
    put_clean(stdout, ac_record_content_type(r));
    format_utc(ac_record_claimed_ts(r), t);
    printf("\nclaimed_ts:        %s (%llu)\n", t, (unsigned long long)ac_record_claimed_ts(r));
    ac_hex_encode(ac_record_signer(r), AC_PUBKEY_SIZE, h);
    printf("signer_pubkey:     %s\n", h);
    ac_hex_encode(ac_record_signature(r), AC_SIGNATURE_SIZE, h);
    printf("signature:         %s\n", h);
    printf("offset:            %llu\n", (unsigned long long)ac_record_offset(r));
    printf("size:              %zu\n", len);
    printf("metadata:          ");
    print_lib_json(r, false);
    printf("entropy_witnesses: ");
    print_lib_json(r, true);
}

/* "Name:     FILE" when the metadata names the file (append's "name"). */
static void print_name(const ac_record *r)
{
    char *text = NULL;
    int rc = ac_record_metadata_json(r, &text, NULL);
    json_t *meta = embed_json(rc, text);
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (name != NULL) {
        printf("Name:     ");
        put_clean(stdout, name);
        putchar('\n');
    }
    json_decref(meta);
}

static void print_record_short(const ac_record *r, bool first)
{
    char h[HASH_HEX_LEN], t[UTC_TEXT_LEN];
    if (!first)
        putchar('\n');
    ac_hex_encode(ac_record_hash(r), AC_HASH_SIZE, h);
    printf("record %llu %s\n", (unsigned long long)ac_record_index(r), h);
    format_utc(ac_record_claimed_ts(r), t);
    printf("Time:     %s\n", t);
    printf("Type:     ");
    put_clean(stdout, ac_record_content_type(r));
    ac_hex_encode(ac_record_content_hash(r), AC_HASH_SIZE, h);
    printf("\nContent:  %s\n", h);
    ac_hex_encode(ac_record_signer(r), AC_PUBKEY_SIZE, h);
    printf("Signer:   %.*s\n", SHORT_KEY_HEX, h);
    print_name(r);
    printf("Metadata: ");
    print_lib_json(r, false);
}

/* ---------------------------------------------------------------- log */

/* One record of the log; JSON records are streamed as array elements so
 * that a long chain is never held in memory. */
static int log_one(const ac_record *r, const read_args *a, bool first)
{
    if (!a->json) {
        print_record_short(r, first);
        return EXIT_GOOD;
    }
    json_t *o = record_json(r);
    if (o == NULL)
        return fail_msg("record %llu: cannot be shown as JSON", (unsigned long long)ac_record_index(r));
    fputs(first ? "\n" : ",\n", stdout);
    int rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return rc == 0 ? EXIT_GOOD : fail_msg("cannot write JSON to standard output");
}

/* Checks --from against the chain; EXIT_GOOD to go on.  A damaged chain
 * still lists what precedes the damage: *damaged says so, and *damage keeps
 * the error to report at the end. */
static int check_range(ac_chain *chain, const read_args *a, ac_error *damage, bool *damaged)
{
    ac_state st;
    int rc = ac_chain_state(chain, &st, damage);
    *damaged = rc == AC_ECORRUPT;
    if (rc != AC_OK && rc != AC_ENOTFOUND && rc != AC_ECORRUPT)
        return fail_read(damage);
    uint64_t count = rc == AC_OK ? st.record_count : 0;
    if (rc != AC_ECORRUPT && a->from > 0 && a->from >= count)
        return fail_usage(a->cmd, "--from %llu is past the head: the chain has %llu record%s%s",
                          (unsigned long long)a->from, (unsigned long long)count,
                          count == 1 ? "" : "s", count == 0 ? "" : "; give a smaller --from");
    return EXIT_GOOD;
}

static int run_log(ac_chain *chain, const read_args *a)
{
    ac_error err, damage;
    bool damaged;
    int st = check_range(chain, a, &damage, &damaged);
    if (st != EXIT_GOOD)
        return st;
    ac_iter *it = NULL;
    if (ac_iter_open(chain, a->from, a->to_given ? a->to : UINT64_MAX, &it, &err) != AC_OK)
        return fail_read(&err);
    if (a->json)
        fputs("[", stdout);
    bool first = true;
    ac_record *r = NULL;
    int rc = 0;
    while (st == EXIT_GOOD && (rc = ac_iter_next(it, &r, &err)) == 1) {
        st = log_one(r, a, first);
        ac_record_free(r);
        first = false;
    }
    ac_iter_free(it);
    if (st != EXIT_GOOD)
        return st;
    /* What was listed stays printed; the damage after it is the error: with
     * --json, the array's last element, so that the output stays one
     * document. */
    const ac_error *fault = rc < 0 ? &err : damaged ? &damage : NULL;
    if (a->json && fault != NULL)
        fputs(first ? "\n" : ",\n", stdout);
    else if (a->json)
        fputs(first ? "]\n" : "\n]\n", stdout);
    if (fault == NULL)
        return finish_output(EXIT_GOOD);
    st = fail_read(fault);
    if (a->json)
        fputs("]\n", stdout);
    return finish_output(st);
}

/* ---------------------------------------------------------------- show */

static int run_show(ac_chain *chain, const read_args *a)
{
    uint64_t index = a->index;
    ac_record *r = NULL;
    ac_error err;
    if (ac_chain_get_verified(chain, index, &r, &err) != AC_OK)
        return fail_read(&err);
    int st = EXIT_GOOD;
    if (a->json) {
        json_t *o = record_json(r);
        st = o ? print_json(o) : fail_msg("record %llu: cannot be shown as JSON",
                                          (unsigned long long)index);
    } else {
        print_record_full(r);
    }
    ac_record_free(r);
    return st == EXIT_GOOD ? finish_output(EXIT_GOOD) : st;
}

/* ---------------------------------------------------------------- entry points */

static int run_read(int argc, char **argv, read_args *a, int (*run)(ac_chain *, const read_args *))
{
    int st = parse_read(argc, argv, a);
    if (st >= 0)
        return st;
    ac_chain *chain = NULL;
    st = open_chain(a->dir, AC_OPEN_READONLY, &chain);
    if (st != EXIT_GOOD)
        return st;
    st = run(chain, a);
    return close_chain(chain, st);
}

int cmd_status(int argc, char **argv)
{
    read_args a = {.cmd = "status", .usage = status_usage};
    return run_read(argc, argv, &a, run_status);
}

int cmd_log(int argc, char **argv)
{
    read_args a = {.cmd = "log", .usage = log_usage, .ranged = true};
    return run_read(argc, argv, &a, run_log);
}

int cmd_show(int argc, char **argv)
{
    read_args a = {.cmd = "show", .usage = show_usage};
    return run_read(argc, argv, &a, run_show);
}
