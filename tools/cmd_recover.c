/* recover: the one way to lower what state.cbor says was committed
 * (docs/format.md section 6).  A loss stays on record: the old state.cbor is
 * kept beside the new one, and the command says what was lost. */
#include <getopt.h>
#include <stdio.h>

#include "tool.h"

static const char recover_usage[] =
    "usage: attestchain recover -C DIR --accept-loss [--json]\n"
    "\n"
    "When state.cbor says more records were committed than chain.bin holds (a\n"
    "restored backup, a cut file), appends refuse and verify fails with reason\n"
    "'truncated'.  If the records cannot be restored, this accepts the loss: the\n"
    "old state.cbor is kept as state.cbor.lost-<time>, a new one is written for\n"
    "chain.bin as it is, and appends can go on from its last record.  It prints\n"
    "what was lost.  Without a loss it changes nothing.\n"
    "\n"
    "Options:\n"
    "  -C, --dir DIR     the chain directory (default: $ATTESTCHAIN_DIR)\n"
    "      --accept-loss required: the loss is accepted knowingly\n"
    "      --json        print {\"lost\": bool, \"committed_records\": N,\n"
    "                    \"records\": N, \"kept_as\": NAME|null}\n"
    "  -h, --help        print this help\n"
    "\n"
    "Exit status: 0 done (or nothing to do), 2 an error (a damaged chain is not a\n"
    "loss: run verify).\n";

enum { OPT_ACCEPT = 256, OPT_JSON };

static const struct option recover_opts[] = {
    {"dir", required_argument, NULL, 'C'},
    {"accept-loss", no_argument, NULL, OPT_ACCEPT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int report(const ac_loss *loss, const char *kept, bool json)
{
    bool lost = kept[0] != '\0';
    if (json) {
        json_t *o = json_object();
        if (!json_put(o, "lost", json_boolean(lost)) ||
            !json_put(o, "committed_records", json_u64(loss->committed_records)) ||
            !json_put(o, "records", json_u64(loss->records)) ||
            !json_put(o, "kept_as", lost ? json_string(kept) : json_null())) {
            json_decref(o);
            return fail_msg("out of memory building JSON");
        }
        return print_json(o);
    }
    if (!lost)
        printf("nothing was lost: state.cbor and chain.bin agree\n");
    else
        printf("accepted the loss of %llu records (state.cbor said %llu were committed; "
               "chain.bin holds %llu); the old state is kept as %s\n",
               (unsigned long long)(loss->committed_records > loss->records
                                        ? loss->committed_records - loss->records : 0),
               (unsigned long long)loss->committed_records, (unsigned long long)loss->records,
               kept);
    return EXIT_GOOD;
}

int cmd_recover(int argc, char **argv)
{
    const char *dir = NULL;
    bool accept = false, json = false;
    getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":C:h", recover_opts, NULL)) != -1) {
        switch (c) {
        case 'C': dir = optarg; break;
        case OPT_ACCEPT: accept = true; break;
        case OPT_JSON: json = true; break;
        case 'h': return print_help(recover_usage);
        default: return fail_option("recover", c, argv);
        }
    }
    if (optind < argc)
        return fail_usage("recover", "unexpected argument '%s'", argv[optind]);
    if ((dir = chain_dir(dir)) == NULL)
        return fail_usage("recover", "no chain directory: give -C DIR or set " ENV_CHAIN_DIR);
    if (!accept)
        return fail_usage("recover", "give --accept-loss to accept that the missing records "
                                     "are gone (restore chain.bin from a copy if you can)");
    ac_chain *chain = NULL;
    int st = open_chain(dir, 0, &chain);
    if (st != EXIT_GOOD)
        return st;
    ac_loss loss;
    ac_error err;
    char kept[64];
    if (ac_chain_recover(chain, &loss, kept, sizeof kept, &err) != AC_OK)
        st = fail_ac(&err, NULL);
    else
        st = report(&loss, kept, json);
    st = close_chain(chain, st);
    return st == EXIT_GOOD ? finish_output(EXIT_GOOD) : st;
}
