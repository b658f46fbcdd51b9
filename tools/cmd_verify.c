/* verify: checks a chain or a range of it (format section 8) and prints the
 * verdict, for people or as one JSON object. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "federation.h"
#include "tool.h"

#define MAX_THREADS 1024u

static const char verify_usage[] =
    "usage: attestchain verify -C DIR [--from N] [--to N] [--key KEY] [--chain-id HEX]\n"
    "                          [--head HASH] [--json] [-j THREADS]\n"
    "\n"
    "Checks the records from --from to --to (default: all) as format section 8 says:\n"
    "framing, encoding, index, link to the record before (also for a range that\n"
    "starts after 0), signature and authorization (from the rotation history).\n"
    "Then, for the whole chain, whether records that state.cbor (or a signed\n"
    "checkpoint in checkpoints/) says were committed are missing (truncated), whether\n"
    "the chain still gives every signed checkpoint's root (checkpoint), and the pins\n"
    "given.  Prints \"valid: records FIRST..LAST (N records)\" (saying so when --to\n"
    "is past the head) with, for a check to the head, the chain id, head hash,\n"
    "current signer and time span; or \"INVALID at record I: REASON (DETAIL)\"; then\n"
    "one line per warning (torn_tail, clock, chain_size, checkpoint_unverified);\n"
    "warnings never make a chain invalid.  A progress bar is drawn on stderr when it\n"
    "is a terminal.  A directory without chain.bin is an error (exit status 2).\n"
    "When the chain no longer gives a kept checkpoint's root but gives a later kept\n"
    "checkpoint's, the key signed two histories: the evidence is kept in\n"
    "DIR/evidence/ ('attestchain evidence verify' checks it).\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR          the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "      --from N           the first record to check (default: 0)\n"
    "      --to N             the last record to check (default: the head)\n"
    "      --key KEY          pin: record 0 must be signed by this public key (64 hex\n"
    "                         digits, or a file: hex, PEM public or private key)\n"
    "      --chain-id HEX     pin: the chain id must be this (64 hex digits)\n"
    "      --head HASH        pin: a record hash known from earlier (64 hex digits)\n"
    "                         must still be in the chain: a rollback or rewrite fails\n"
    "  -j, --threads THREADS  worker threads, 0 to 1024 (default: 0, one per CPU)\n"
    "      --json             print one JSON object instead:\n"
    "                         {\"valid\": bool, \"records\": N, \"index\": N|null,\n"
    "                          \"reason\": NAME|null, \"warnings\": [...],\n"
    "                          \"chain_id\": HEX|null, \"head_hash\": HEX|null}\n"
    "                         each warning {\"code\": NAME, \"index\": N|null,\n"
    "                         \"offset\": N} plus \"bytes\" (torn_tail, chain_size)\n"
    "                         or \"delta_us\" (clock); chain_id and head_hash are\n"
    "                         given when the chain is valid up to its head\n"
    "                         REASON is one of frame, decode, index, genesis,\n"
    "                         link, signature, unauthorized, rotation, truncated,\n"
    "                         checkpoint, pinned_key, pinned_chain_id, pinned_head\n"
    "  -h, --help             print this help\n"
    "\n"
    "Exit status: 0 valid, 1 invalid, 2 the check could not run.\n";

enum { OPT_FROM = 256, OPT_TO, OPT_JSON, OPT_KEY, OPT_CHAIN_ID, OPT_HEAD };

typedef struct verify_args {
    const char *dir;
    ac_verify_options opt;
    bool to_given, json;
    uint8_t key[AC_PUBKEY_SIZE], chain_id[AC_HASH_SIZE], head[AC_HASH_SIZE];
} verify_args;

static const struct option verify_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"threads", required_argument, NULL, 'j'},
    {"json", no_argument, NULL, OPT_JSON},
    {"key", required_argument, NULL, OPT_KEY},
    {"chain-id", required_argument, NULL, OPT_CHAIN_ID},
    {"head", required_argument, NULL, OPT_HEAD},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_number(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
    if (!parse_u64(arg, out) || *out > max)
        return fail_usage("verify", "%s takes a number from 0 to %llu, got '%.40s'", opt,
                          (unsigned long long)max, arg);
    return -1;
}

/* 64 hex digits into `out`: -1 to go on, or the exit status. */
static int parse_hash(const char *opt, const char *arg, uint8_t out[AC_HASH_SIZE])
{
    if (strlen(arg) != 2 * AC_HASH_SIZE || ac_hex_decode(arg, out, AC_HASH_SIZE, NULL) != AC_OK)
        return fail_usage("verify", "%s takes 64 hex digits, got '%.80s'", opt, arg);
    return -1;
}

/* A public key as 64 hex digits or a key file: -1 to go on, or the exit status. */
static int parse_key(const char *arg, uint8_t out[AC_PUBKEY_SIZE])
{
    if (strlen(arg) == 2 * AC_PUBKEY_SIZE && ac_hex_decode(arg, out, AC_PUBKEY_SIZE, NULL) == AC_OK)
        return -1;
    ac_error err;
    if (ac_pubkey_load(arg, out, &err) != AC_OK)
        return fail_ac(&err, "--key takes a public key: 64 hex digits or a key file");
    return -1;
}

/* Returns -1 to go on, or the exit status to return now. */
static int parse_verify(int argc, char **argv, verify_args *a)
{
    getopt_reset();
    int c, st = -1;
    uint64_t threads = 0;
    while (st < 0 && (c = getopt_long(argc, argv, ":C:j:h", verify_opts, NULL)) != -1) {
        switch (c) {
        case 'C': a->dir = optarg; break;
        case OPT_FROM: st = parse_number("--from", optarg, INT64_MAX, &a->opt.start); break;
        case OPT_TO:
            st = parse_number("--to", optarg, INT64_MAX, &a->opt.end);
            a->to_given = true;
            break;
        case 'j':
            st = parse_number("-j", optarg, MAX_THREADS, &threads);
            a->opt.threads = (unsigned)threads;
            break;
        case OPT_JSON: a->json = true; break;
        case OPT_KEY:
            st = parse_key(optarg, a->key);
            a->opt.genesis_key = a->key;
            break;
        case OPT_CHAIN_ID:
            st = parse_hash("--chain-id", optarg, a->chain_id);
            a->opt.chain_id = a->chain_id;
            break;
        case OPT_HEAD:
            st = parse_hash("--head", optarg, a->head);
            a->opt.contains_hash = a->head;
            break;
        case 'h': return print_help(verify_usage);
        default: return fail_option("verify", c, argv);
        }
    }
    if (st >= 0)
        return st;
    if (optind < argc)
        return fail_usage("verify", "unexpected argument '%s'", argv[optind]);
    if ((a->dir = chain_dir(a->dir)) == NULL)
        return fail_usage("verify", "no chain directory: give -C DIR or set " ENV_CHAIN_DIR);
    if (a->to_given && a->opt.end < a->opt.start)
        return fail_usage("verify", "--to %llu is before --from %llu",
                          (unsigned long long)a->opt.end, (unsigned long long)a->opt.start);
    return -1;
}

/* ---------------------------------------------------------------- output */

static void print_warning(const ac_warning *w)
{
    const char *name = ac_warning_name(w->code);
    switch (w->code) {
    case AC_WARN_TORN_TAIL:
        printf("warning: %s at offset %llu: %llu bytes of an incomplete last frame\n", name,
               (unsigned long long)w->offset, (unsigned long long)w->bytes);
        break;
    case AC_WARN_CLOCK:
        printf("warning: %s at record %lld (offset %llu): claimed time off by %lld us\n", name,
               (long long)w->index, (unsigned long long)w->offset, (long long)w->delta_us);
        break;
    case AC_WARN_CHAIN_SIZE:
        printf("warning: %s at record %lld (offset %llu): witness says %llu\n", name,
               (long long)w->index, (unsigned long long)w->offset, (unsigned long long)w->bytes);
        break;
    default:
        printf("warning: %s at offset %llu\n", name, (unsigned long long)w->offset);
        break;
    }
}

/* "valid: records 2..3 (2 records)": the range checked, against the head
 * (`head` NULL: unknown or empty), why it is not the range asked for when
 * --to is past the head, and for a check that reached the head (at_head)
 * what it vouches for: chain id, head, signer, time span. */
static void print_human(const ac_report *rep, const verify_args *a, const ac_state *head,
                        bool at_head)
{
    uint64_t nrec = ac_report_records(rep);
    if (ac_report_valid(rep) && nrec == 0) {
        printf("valid: empty chain, 0 records\n");
    } else if (ac_report_valid(rep)) {
        uint64_t first = a->opt.start, last = first + nrec - 1;
        printf("valid: records %llu..%llu (%llu record%s)", (unsigned long long)first,
               (unsigned long long)last, (unsigned long long)nrec, nrec == 1 ? "" : "s");
        if (head != NULL && a->to_given && a->opt.end > head->head_index)
            printf("; --to %llu is past the head, record %llu", (unsigned long long)a->opt.end,
                   (unsigned long long)head->head_index);
        printf("\n");
        const uint8_t *id = ac_report_chain_id(rep);
        char hex[HASH_HEX_LEN], from[UTC_TEXT_LEN], to[UTC_TEXT_LEN];
        if (id != NULL) {
            ac_hex_encode(id, AC_HASH_SIZE, hex);
            printf("  chain id:  %s\n", hex);
        }
        if (head != NULL && at_head) {
            ac_hex_encode(head->head_hash, AC_HASH_SIZE, hex);
            printf("  head:      record %llu, %s\n", (unsigned long long)head->head_index, hex);
            ac_hex_encode(head->signer, AC_PUBKEY_SIZE, hex);
            printf("  signer:    %s (signs the next record)\n", hex);
            format_utc(head->created_at, from);
            format_utc(head->last_append_at, to);
            printf("  span:      %s to %s\n", from, to);
        }
    } else {
        printf("INVALID at record %lld: %s (", (long long)ac_report_fail_index(rep),
               ac_reason_name(ac_report_reason(rep)));
        put_clean(stdout, ac_report_detail(rep));
        printf(")\n");
    }
    size_t n = ac_report_warning_count(rep);
    for (size_t i = 0; i < n; i++)
        print_warning(ac_report_warning(rep, i));
    uint64_t total = ac_report_warnings_total(rep);
    if (total > n)
        printf("warning: %llu more warning%s not shown\n", (unsigned long long)(total - n),
               total - n == 1 ? "" : "s");
}

static json_t *warning_json(const ac_warning *w)
{
    json_t *o = json_object();
    bool ok = json_put(o, "code", json_string(ac_warning_name(w->code))) &&
              json_put(o, "index", w->index < 0 ? json_null() : json_integer(w->index)) &&
              json_put(o, "offset", json_u64(w->offset));
    if (ok && (w->code == AC_WARN_TORN_TAIL || w->code == AC_WARN_CHAIN_SIZE))
        ok = json_put(o, "bytes", json_u64(w->bytes));
    if (ok && w->code == AC_WARN_CLOCK)
        ok = json_put(o, "delta_us", json_integer(w->delta_us));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *warnings_json(const ac_report *rep)
{
    json_t *arr = json_array();
    size_t n = ac_report_warning_count(rep);
    for (size_t i = 0; arr != NULL && i < n; i++) {
        json_t *w = warning_json(ac_report_warning(rep, i));
        if (w == NULL || json_array_append_new(arr, w) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The ids come from the verification itself, never from a cache: chain_id
 * when the range started at record 0, head_hash when the valid range ended
 * at the head. */
static int print_json_report(const ac_report *rep, bool at_head)
{
    bool valid = ac_report_valid(rep);
    const uint8_t *id = ac_report_chain_id(rep);
    const uint8_t *head = at_head ? ac_report_last_hash(rep) : NULL;
    json_t *o = json_object();
    bool ok =
        json_put(o, "valid", json_boolean(valid)) &&
        json_put(o, "records", json_u64(ac_report_records(rep))) &&
        json_put(o, "index", valid ? json_null() : json_integer(ac_report_fail_index(rep))) &&
        json_put(o, "reason", valid ? json_null() : json_string(ac_reason_name(ac_report_reason(rep)))) &&
        json_put(o, "warnings", warnings_json(rep)) &&
        json_put(o, "chain_id", valid && id ? json_hex(id, AC_HASH_SIZE) : json_null()) &&
        json_put(o, "head_hash", valid && head ? json_hex(head, AC_HASH_SIZE) : json_null());
    if (!ok) {
        json_decref(o);
        return fail_msg("out of memory building JSON");
    }
    return print_json(o);
}

/* ---------------------------------------------------------------- running */

/* The chain's head: 1 if it has one, 0 if it is empty or damaged (verify
 * itself then says where), or a negative code. */
static int get_head(ac_chain *chain, ac_state *st, ac_error *err)
{
    int rc = ac_chain_state(chain, st, err);
    if (rc == AC_OK)
        return 1;
    return rc == AC_ENOTFOUND || rc == AC_ECORRUPT ? 0 : rc;
}

/* Runs ac_verify with a progress bar whose total is the head seen before:
 * the library counts to the range's end, which an open range does not have.
 * The range itself stays open so that a torn tail after the head is seen. */
static int verify_with_progress(ac_chain *chain, verify_args *a, ac_report **rep, ac_error *err)
{
    ac_state st;
    int have = get_head(chain, &st, err);
    if (have < 0)
        return have;
    uint64_t last = have && (!a->to_given || a->opt.end > st.head_index) ? st.head_index : a->opt.end;
    progress bar;
    progress_init(&bar, "verifying", false, 1, have ? last + 1 : 0);
    a->opt.progress = progress_update;
    a->opt.progress_ctx = &bar;
    int rc = ac_verify(chain, &a->opt, rep, err);
    progress_end(&bar);
    return rc;
}

/* A failed ac_verify; a --from past the head is named against the head, as
 * the --to past it is in the verdict. */
static int fail_range(ac_chain *chain, const verify_args *a, const ac_error *err)
{
    ac_state st;
    ac_error ignored;
    if (err->code != AC_EINVAL)
        return fail_ac(err, NULL);
    if (get_head(chain, &st, &ignored) == 1 && a->opt.start > st.head_index)
        return fail_usage("verify", "--from %llu is past the head: the chain has %llu record%s, "
                          "0..%llu; give a --from of at most %llu",
                          (unsigned long long)a->opt.start, (unsigned long long)st.record_count,
                          st.record_count == 1 ? "" : "s", (unsigned long long)st.head_index,
                          (unsigned long long)st.head_index);
    return fail_ac(err, "check --from and --to");
}

/* A chain found rewritten after a checkpoint (reason `checkpoint`): when
 * the directory also keeps a later signed checkpoint that the chain does
 * give, the key signed two histories, and the evidence is kept for anyone
 * to check (docs/format.md section 15).  Nothing to do otherwise. */
static void keep_fork_evidence(ac_chain *chain, const char *dir)
{
    char *ev = NULL, *origin = NULL;
    size_t len, n = 0;
    ac_signer_span *spans = NULL;
    ac_error err;
    if (ac_chain_fork_evidence(chain, &ev, &len, &err) != AC_OK ||
        ac_chain_origin(chain, &origin, &err) != AC_OK ||
        ac_chain_signers(chain, &spans, &n, &err) != AC_OK) {
        ac_free(ev);
        ac_free(origin);
        return;
    }
    ac_vkey **keys = calloc(n ? n : 1, sizeof *keys);
    size_t nk = 0;
    for (size_t i = 0; keys != NULL && i < n; i++)
        if (ac_vkey_new(origin, AC_VKEY_ED25519, spans[i].key, &keys[nk], NULL) == AC_OK)
            nk++;
    if (keys != NULL)
        (void)keep_evidence(dir, ev, len, (const ac_vkey *const *)keys, nk);
    for (size_t i = 0; i < nk; i++)
        ac_vkey_free(keys[i]);
    free(keys);
    ac_free(spans);
    ac_free(origin);
    ac_free(ev);
}

static int run_verify(ac_chain *chain, verify_args *a)
{
    ac_error err;
    ac_report *rep = NULL;
    int rc = verify_with_progress(chain, a, &rep, &err);
    if (rc != AC_OK)
        return fail_range(chain, a, &err);
    bool valid = ac_report_valid(rep);
    uint64_t nrec = ac_report_records(rep);
    if (!valid && ac_report_reason(rep) == AC_REASON_CHECKPOINT)
        keep_fork_evidence(chain, a->dir);
    /* The head's ids belong to the verdict only if the valid range ends at
     * the head (the state is checked against chain.bin when read). */
    ac_state st;
    int have = valid && nrec > 0 ? get_head(chain, &st, &err) : 0;
    bool at_head = have == 1 && a->opt.start + nrec - 1 == st.head_index;
    int out = EXIT_GOOD;
    if (have < 0)
        out = fail_ac(&err, NULL);
    else if (a->json)
        out = print_json_report(rep, at_head);
    else
        print_human(rep, a, have == 1 ? &st : NULL, at_head);
    ac_report_free(rep);
    if (out != EXIT_GOOD)
        return out;
    return finish_output(valid ? EXIT_GOOD : EXIT_INVALID);
}

int cmd_verify(int argc, char **argv)
{
    verify_args a = {0};
    ac_verify_options_init(&a.opt);
    int st = parse_verify(argc, argv, &a);
    if (st >= 0)
        return st;
    ac_chain *chain = NULL;
    /* Read-only: verifying never writes, not even the caches. */
    st = open_chain(a.dir, AC_OPEN_READONLY, &chain);
    if (st != EXIT_GOOD)
        return st;
    st = run_verify(chain, &a);
    return close_chain(chain, st);
}
