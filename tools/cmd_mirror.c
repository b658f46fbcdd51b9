/* mirror: keeps a copy of another party's published chain (format section
 * 15.1).  Decision: the mirror is an ordinary chain directory, grown only
 * by ac_import (every record checked as verification checks it, authority
 * followed from the pinned genesis key), and only with records whose
 * Merkle root, recomputed here, equals a checkpoint signed by the key
 * authorized at its size and consistent with the last one kept.  The
 * mirror's own last checkpoint vouches for its tree: extending it needs
 * the O(log N) subtree hashes the tree of the mirror's size is made of
 * (read from the source's tiles and checked against that checkpoint's
 * root) and the new leaves, so a pull costs what is new.  Records are read
 * twice (once to check the root, once to import, each bundle held to the
 * leaf hashes of the first read), so memory stays at a chunk whatever the
 * pull's size. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "federation.h"

#define PINS_FILE "mirror.pins"
#define PINS_HEADER "attestchain-mirror v1\n"
#define LOCK_FILE "mirror.lock"
#define IMPORT_CHUNK (64u * AC_TILE_WIDTH) /* records imported in one batch */

static const char mirror_usage[] =
    "usage: attestchain mirror -C DIR [--vkey VKEY...] [--witness VKEY...\n"
    "           --witnesses-needed K] [--timeout SECONDS] [--json] SOURCE\n"
    "\n"
    "Copies a chain published with 'attestchain export' (SOURCE: the export\n"
    "directory, or its http:// or https:// URL) into the chain directory DIR,\n"
    "checking everything (format section 15.1): the checkpoint's signature by the\n"
    "key authorized at its size, that it is consistent with the last checkpoint\n"
    "this mirror kept, that the records served hash to its root, and every record\n"
    "as 'verify' checks it, authority followed from the genesis key.  Only then\n"
    "are they appended, byte for byte.  The first run pins the origin, the\n"
    "verifier keys and the genesis key (DIR/" PINS_FILE "); later runs fetch only\n"
    "the new entry bundles and the few hash tiles needed.  DIR stays an ordinary\n"
    "chain ('verify', 'show', 'log' work on it), with every checkpoint taken in\n"
    "DIR/checkpoints/.  If the log's key signed two histories, evidence is kept in\n"
    "DIR/evidence/ ('attestchain evidence verify') and nothing is imported.\n"
    "\n"
    "Options:\n"
    "  -C DIR                   the mirror's chain directory (created if missing)\n"
    "      --vkey VKEY          the log's verifier key, or a file of them; needed the\n"
    "                           first time (it names the origin), added to the pins\n"
    "                           later\n"
    "      --witness VKEY       a witness's cosignature key, or a file of them\n"
    "      --witnesses-needed K valid witness cosignatures the checkpoint must carry\n"
    "      --timeout SECONDS    give up on a server that does not connect, or sends\n"
    "                           under 1 KiB/s, for this long, or takes ten times\n"
    "                           as long for one file (default 30)\n"
    "      --json               print one JSON object: {\"origin\", \"size\", \"new\",\n"
    "                           \"root\", \"bytes_fetched\", \"up_to_date\"}\n"
    "  -h, --help               print this help\n"
    "\n"
    "Exit status: 0 mirrored (or already up to date), 1 refused: a fork (evidence\n"
    "kept), records or tiles that do not match the signed checkpoint, a record that\n"
    "does not verify, too few witnesses; 2 error (usage, network, disk).\n";

enum { OPT_VKEY = 256, OPT_WITNESS, OPT_WITNESSES_NEEDED, OPT_TIMEOUT, OPT_JSON };

static const struct option mirror_opts[] = {
    {"vkey", required_argument, NULL, OPT_VKEY},
    {"witness", required_argument, NULL, OPT_WITNESS},
    {"witnesses-needed", required_argument, NULL, OPT_WITNESSES_NEEDED},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct mirror {
    const char *dir, *where;
    const ac_vkey *vkeys[MAX_TRUSTED + 1]; /* pinned and given; +1: the current signer's */
    size_t nvkeys, given;
    const ac_vkey *witnesses[MAX_TRUSTED];
    size_t nwitnesses;
    uint64_t needed, timeout;
    bool json;
    char origin[AC_NOTE_MAX_NAME + 1];
    bool have_genesis;
    uint8_t genesis[AC_PUBKEY_SIZE];
    ac_chain *chain;
    source *src;
    ac_checkpoint *theirs;
    uint64_t have;                /* M: records the mirror holds */
    uint8_t signer[AC_PUBKEY_SIZE]; /* authorized to sign record M */
    ac_checkpoint *ours;          /* checkpoints/M, checked; NULL: none */
    uint8_t root[AC_HASH_SIZE];   /* the mirror's root at M */
} mirror;

/* ---------------------------------------------------------------- pins */

/* Keeps v (taking it) unless an equal key is kept already. */
static int add_pinned(mirror *m, ac_vkey *v)
{
    for (size_t i = 0; i < m->nvkeys; i++)
        if (ac_vkey_id(m->vkeys[i]) == ac_vkey_id(v) &&
            strcmp(ac_vkey_name(m->vkeys[i]), ac_vkey_name(v)) == 0 &&
            memcmp(ac_vkey_pubkey(m->vkeys[i]), ac_vkey_pubkey(v), AC_PUBKEY_SIZE) == 0) {
            ac_vkey_free(v);
            return EXIT_GOOD;
        }
    if (m->nvkeys == MAX_TRUSTED) {
        ac_vkey_free(v);
        return fail_msg("%s/" PINS_FILE ": more than %d verifier keys", m->dir, MAX_TRUSTED);
    }
    m->vkeys[m->nvkeys++] = v;
    return EXIT_GOOD;
}

static int read_pins(mirror *m, bool *found)
{
    char path[4096], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/" PINS_FILE, m->dir);
    *found = access(path, F_OK) == 0;
    if (!*found)
        return EXIT_GOOD;
    int st = read_small(path, 1u << 20, &text, &len);
    if (st != EXIT_GOOD)
        return st;
    char *save = NULL;
    size_t lineno = 1;
    if (strncmp(text, PINS_HEADER, strlen(PINS_HEADER)) != 0)
        st = fail_msg("%s: not a mirror's pins (first line '%.*s')", path,
                      (int)strlen(PINS_HEADER) - 1, PINS_HEADER);
    for (char *line = st == EXIT_GOOD ? strtok_r(text + strlen(PINS_HEADER), "\n", &save) : NULL;
         st == EXIT_GOOD && line != NULL; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        ac_error err;
        ac_vkey *v;
        if (strncmp(line, "origin ", 7) == 0 && strlen(line + 7) < sizeof m->origin)
            strcpy(m->origin, line + 7);
        else if (strncmp(line, "genesis ", 8) == 0 &&
                 ac_hex_decode(line + 8, m->genesis, AC_PUBKEY_SIZE, NULL) == AC_OK)
            m->have_genesis = true;
        else if (strncmp(line, "vkey ", 5) == 0 && ac_vkey_parse(line + 5, &v, &err) == AC_OK)
            st = add_pinned(m, v);
        else
            st = fail_msg("%s: line %zu is not 'origin', 'genesis' or 'vkey' as written by "
                          "mirror", path, lineno);
    }
    free(text);
    if (st == EXIT_GOOD && (m->origin[0] == '\0' || m->nvkeys == 0))
        st = fail_msg("%s: no origin or no verifier key", path);
    return st;
}

static int write_pins(mirror *m)
{
    char *text = NULL, *vs = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return fail_msg("out of memory");
    fputs(PINS_HEADER, f);
    fprintf(f, "origin %s\n", m->origin);
    if (m->have_genesis) {
        char hex[KEY_HEX_LEN];
        ac_hex_encode(m->genesis, AC_PUBKEY_SIZE, hex);
        fprintf(f, "genesis %s\n", hex);
    }
    for (size_t i = 0; i < m->given; i++) {
        if (ac_vkey_string(m->vkeys[i], &vs, NULL) == AC_OK)
            fprintf(f, "vkey %s\n", vs);
        ac_free(vs);
        vs = NULL;
    }
    int st = fclose(f) == 0 ? write_durable(m->dir, PINS_FILE, text, len)
                            : fail_msg("out of memory");
    free(text);
    return st;
}

/* ---------------------------------------------------------------- the mirror's side */

/* The tree of the mirror's own records, every one checked as it is read. */
static int own_tree(mirror *m, ac_merkle_mem **out)
{
    ac_error err;
    ac_merkle_mem *mem;
    if (ac_merkle_mem_new(&mem, &err) != AC_OK)
        return fail_ac(&err, NULL);
    ac_iter *it = NULL;
    ac_record *r;
    int rc = ac_iter_open(m->chain, 0, UINT64_MAX, &it, &err), got = 0;
    while (rc == AC_OK && (got = ac_iter_next(it, &r, &err)) == 1) {
        size_t blen;
        const uint8_t *b = ac_record_bytes(r, &blen);
        rc = ac_merkle_mem_append(mem, b, blen, &err);
        ac_record_free(r);
    }
    if (rc == AC_OK && got < 0)
        rc = got;
    ac_iter_free(it);
    if (rc != AC_OK || ac_merkle_mem_size(mem) != m->have) {
        ac_merkle_mem_free(mem);
        return rc != AC_OK ? fail_ac(&err, "run 'attestchain verify' on the mirror")
                           : fail_msg("%s: the chain changed while it was read", m->dir);
    }
    *out = mem;
    return EXIT_GOOD;
}

/* The mirror's root at M: from checkpoints/M, which must be signed by the
 * key authorized at M; else (a pull cut short) from its own records. */
static int own_root(mirror *m)
{
    ac_error err;
    char path[4200], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/checkpoints/%llu", m->dir, (unsigned long long)m->have);
    ac_vkey *v = NULL;
    if (access(path, F_OK) == 0 && read_small(path, AC_NOTE_MAX_SIZE, &text, &len) == EXIT_GOOD &&
        ac_checkpoint_parse((uint8_t *)text, len, &m->ours, &err) == AC_OK &&
        ac_vkey_new(m->origin, AC_VKEY_ED25519, m->signer, &v, &err) == AC_OK &&
        strcmp(ac_checkpoint_origin(m->ours), m->origin) == 0 &&
        ac_checkpoint_size(m->ours) == m->have &&
        ac_checkpoint_verify(m->ours, (const ac_vkey *const *)&v, 1, &err) == 1) {
        memcpy(m->root, ac_checkpoint_root(m->ours), AC_HASH_SIZE);
    } else {
        ac_checkpoint_free(m->ours);
        m->ours = NULL;
    }
    ac_vkey_free(v);
    free(text);
    if (m->ours != NULL)
        return EXIT_GOOD;
    warn_msg("%s: no checkpoint of the mirror's %llu records; hashing them", m->dir,
             (unsigned long long)m->have);
    ac_merkle_mem *mem;
    int st = own_tree(m, &mem);
    ac_error err2;
    if (st == EXIT_GOOD &&
        ac_merkle_tree_hash(m->have, ac_merkle_mem_read, mem, m->root, &err2) != AC_OK)
        st = fail_ac(&err2, NULL);
    ac_merkle_mem_free(mem);
    return st;
}

static int keep_checkpoint(mirror *m)
{
    char sub[4096], name[32];
    int st = make_subdir(m->dir, "checkpoints", sub, sizeof sub);
    char origin_path[4200];
    snprintf(origin_path, sizeof origin_path, "%s/origin", sub);
    if (st == EXIT_GOOD && access(origin_path, F_OK) != 0) {
        char line[AC_NOTE_MAX_NAME + 2];
        int n = snprintf(line, sizeof line, "%s\n", m->origin);
        st = write_durable(sub, "origin", line, (size_t)n);
    }
    size_t len;
    const uint8_t *note = ac_checkpoint_bytes(m->theirs, &len);
    snprintf(name, sizeof name, "%llu", (unsigned long long)ac_checkpoint_size(m->theirs));
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", sub, name);
    if (st == EXIT_GOOD && access(path, F_OK) != 0) /* kept checkpoints are never rewritten */
        st = write_durable(sub, name, note, len);
    return st;
}

/* ---------------------------------------------------------------- the pull */

typedef struct pull {
    mirror *m;
    tiles *t;
    uint64_t base, size; /* the records the mirror had, and will have */
    uint8_t (*leaves)[AC_HASH_SIZE]; /* records M..N-1 */
    progress bar;
} pull;

/* Under the chain's lock, before the last batch is written: the checkpoint
 * must be signed by the key that the records make authorized at its size. */
static int check_signer(void *ctx, uint64_t records, const uint8_t signer[AC_PUBKEY_SIZE],
                        ac_error *err)
{
    mirror *m = ctx;
    ac_vkey *v = NULL;
    int rc = ac_vkey_new(m->origin, AC_VKEY_ED25519, signer, &v, err);
    if (rc != AC_OK)
        return rc;
    int ok = records == ac_checkpoint_size(m->theirs)
                 ? ac_checkpoint_verify(m->theirs, (const ac_vkey *const *)&v, 1, err)
                 : 0;
    ac_vkey_free(v);
    if (ok < 0)
        return ok;
    if (ok == 0) {
        char hex[KEY_HEX_LEN];
        ac_hex_encode(signer, AC_PUBKEY_SIZE, hex);
        return set_error(err, AC_EUNAUTHORIZED,
                         "%s: the checkpoint of %llu records is not signed by %s, the key "
                         "authorized at that size; nothing of this batch imported",
                         source_name(m->src), (unsigned long long)records, hex);
    }
    return AC_OK;
}

static int import_batch(pull *p, const uint8_t **bodies, const size_t *lens, size_t n, bool last)
{
    mirror *m = p->m;
    ac_import_options opt = {.genesis_key = m->have_genesis ? m->genesis : NULL,
                             .check = last ? check_signer : NULL, .check_ctx = m};
    ac_error err;
    int rc = ac_import(m->chain, bodies, lens, n, &opt, &err);
    if (rc == AC_OK) {
        m->have += n;
        return EXIT_GOOD;
    }
    fail_ac(&err, NULL);
    return rc == AC_ECORRUPT || rc == AC_EUNAUTHORIZED ? EXIT_INVALID : EXIT_TROUBLE;
}

/* Reads the new records' leaf hashes (first read), or imports them
 * (second read, each held to the first's hashes). */
static int read_records(pull *p, bool import)
{
    mirror *m = p->m;
    uint64_t first = p->base / AC_TILE_WIDTH, last = (p->size - 1) / AC_TILE_WIDTH;
    const uint8_t **bodies = malloc(IMPORT_CHUNK * sizeof *bodies);
    size_t *lens = malloc(IMPORT_CHUNK * sizeof *lens), n = 0;
    uint8_t **bufs = calloc(IMPORT_CHUNK / AC_TILE_WIDTH + 1, sizeof *bufs);
    size_t nbufs = 0;
    int st = bodies && lens && bufs ? EXIT_GOOD : fail_msg("out of memory");
    uint64_t next = p->base; /* index of the next record to take */
    for (uint64_t b = first; st == EXIT_GOOD && b <= last; b++) {
        const uint8_t *bb[AC_TILE_WIDTH];
        size_t bl[AC_TILE_WIDTH], count;
        uint8_t *buf;
        if ((st = tiles_bundle(p->t, b, &buf, bb, bl, &count)) != EXIT_GOOD)
            break;
        for (size_t i = (size_t)(next - b * AC_TILE_WIDTH); i < count; i++, next++) {
            uint8_t leaf[AC_HASH_SIZE];
            ac_error err;
            if (ac_merkle_leaf_hash(bb[i], bl[i], leaf, &err) != AC_OK) {
                st = fail_ac(&err, NULL);
                break;
            }
            if (!import) {
                memcpy(p->leaves[next - p->base], leaf, AC_HASH_SIZE);
                continue;
            }
            if (memcmp(leaf, p->leaves[next - p->base], AC_HASH_SIZE) != 0) {
                st = fail_msg("%s: record %llu changed while it was read; try again",
                              source_name(m->src), (unsigned long long)next);
                break;
            }
            bodies[n] = bb[i];
            lens[n++] = bl[i];
        }
        if (!import || st != EXIT_GOOD) {
            free(buf);
            progress_update(&p->bar, next - p->base, 2 * (p->size - p->base));
            continue;
        }
        bufs[nbufs++] = buf;
        if (n + AC_TILE_WIDTH > IMPORT_CHUNK || b == last) {
            st = import_batch(p, bodies, lens, n, b == last);
            for (size_t i = 0; i < nbufs; i++)
                free(bufs[i]);
            n = nbufs = 0;
            progress_update(&p->bar, p->size - p->base + next - p->base, 2 * (p->size - p->base));
        }
    }
    for (size_t i = 0; i < nbufs; i++)
        free(bufs[i]);
    free(bufs);
    free(bodies);
    free(lens);
    return st;
}

/* The source's checkpoint is smaller than the mirror: its root must be the
 * mirror's tree's at that size (the mirror's own records, hashed: a source
 * that lags is rare); if not, the mirror's checkpoint and a consistency
 * proof in its own tree make the evidence. */
static int compare_smaller(mirror *m, bool trusted)
{
    uint64_t n = ac_checkpoint_size(m->theirs);
    uint8_t old[AC_HASH_SIZE], proof[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE];
    size_t count = 0;
    ac_merkle_mem *mem = NULL;
    ac_error err;
    int st = n == 0 ? refuse("%s/checkpoint: of no records", source_name(m->src))
                    : own_tree(m, &mem);
    if (st == EXIT_GOOD && (ac_merkle_tree_hash(n, ac_merkle_mem_read, mem, old, &err) != AC_OK ||
                            ac_merkle_prove_tree(n, m->have, ac_merkle_mem_read, mem, proof,
                                                 &count, &err) != AC_OK))
        st = fail_ac(&err, NULL);
    ac_merkle_mem_free(mem);
    if (st != EXIT_GOOD)
        return st;
    if (memcmp(old, ac_checkpoint_root(m->theirs), AC_HASH_SIZE) == 0) {
        warn_msg("%s is behind the mirror (%llu records, the mirror has %llu): nothing new",
                 source_name(m->src), (unsigned long long)n, (unsigned long long)m->have);
        return EXIT_GOOD;
    }
    if (trusted && m->ours != NULL)
        return keep_checkpoint_fork(m->dir, m->theirs, m->ours, old,
                                    (const uint8_t(*)[AC_HASH_SIZE])proof, count, m->vkeys,
                                    m->nvkeys);
    return refuse("%s: its checkpoint of %llu records is not the mirror's tree at that size; "
                  "nothing imported", source_name(m->src), (unsigned long long)n);
}

/* The source's checkpoint at the mirror's size or below: nothing to import;
 * two roots at one size are a fork. */
static int compare_same_size(mirror *m, bool trusted)
{
    uint64_t n = ac_checkpoint_size(m->theirs);
    if (n < m->have)
        return compare_smaller(m, trusted);
    if (!trusted)
        return refuse("%s/checkpoint: not signed by the key authorized at its size",
                      source_name(m->src));
    if (memcmp(ac_checkpoint_root(m->theirs), m->root, AC_HASH_SIZE) == 0)
        return EXIT_GOOD; /* the same tree: up to date */
    if (m->ours != NULL)
        return keep_checkpoint_fork(m->dir, m->ours, m->theirs, NULL, NULL, 0, m->vkeys,
                                    m->nvkeys);
    return refuse("%s: its checkpoint of %llu records has another root than the mirror's "
                  "records; nothing imported", source_name(m->src), (unsigned long long)n);
}

/* The source's tree at the mirror's size is not the mirror's: a fork if
 * the source's own tiles prove that its larger tree had that other root
 * (then both checkpoints are evidence), else tiles that lie. */
static int diverged(mirror *m, tiles *t, const uint8_t theirs_old[AC_HASH_SIZE], bool trusted)
{
    uint8_t proof[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE];
    size_t count;
    ac_error err;
    if (trusted && m->ours != NULL && tiles_prove(t, m->have, proof, &count) == EXIT_GOOD &&
        ac_merkle_check_tree((const uint8_t(*)[AC_HASH_SIZE])proof, count, m->have, theirs_old,
                             ac_checkpoint_size(m->theirs), ac_checkpoint_root(m->theirs),
                             &err) == 1)
        return keep_checkpoint_fork(m->dir, m->ours, m->theirs, theirs_old,
                                    (const uint8_t(*)[AC_HASH_SIZE])proof, count, m->vkeys,
                                    m->nvkeys);
    return refuse("%s: its tree at the mirror's %llu records is not the mirror's (tiles that "
                  "do not match its checkpoint, or another history); nothing imported",
                  source_name(m->src), (unsigned long long)m->have);
}

static int pull_new(mirror *m, bool trusted)
{
    pull p = {.m = m, .base = m->have, .size = ac_checkpoint_size(m->theirs)};
    int st = tiles_new(m->src, p.size, &p.t);
    uint8_t root[AC_HASH_SIZE];
    if (st == EXIT_GOOD && m->have > 0 && (st = tiles_root(p.t, m->have, NULL, m->have, root)) ==
                                              EXIT_GOOD &&
        memcmp(root, m->root, AC_HASH_SIZE) != 0)
        st = diverged(m, p.t, root, trusted);
    uint64_t add = p.size - p.base;
    if (st == EXIT_GOOD && (p.leaves = malloc(add * sizeof *p.leaves)) == NULL)
        st = fail_msg("out of memory for %llu leaf hashes", (unsigned long long)add);
    progress_init(&p.bar, "mirror", false, 2 * AC_TILE_WIDTH, 2 * add);
    if (st == EXIT_GOOD)
        st = read_records(&p, false);
    if (st == EXIT_GOOD && (st = tiles_root(p.t, p.base, (const uint8_t(*)[AC_HASH_SIZE])p.leaves,
                                            p.size, root)) == EXIT_GOOD &&
        memcmp(root, ac_checkpoint_root(m->theirs), AC_HASH_SIZE) != 0)
        st = refuse("%s: the records served do not hash to its checkpoint's root (a changed "
                    "entry bundle or tile?); nothing imported", source_name(m->src));
    if (st == EXIT_GOOD)
        st = read_records(&p, true);
    progress_end(&p.bar);
    if (st == EXIT_GOOD)
        memcpy(m->root, root, AC_HASH_SIZE);
    free(p.leaves);
    tiles_free(p.t);
    return st;
}

static int report(mirror *m, uint64_t before)
{
    char root[HASH_HEX_LEN];
    ac_hex_encode(m->root, AC_HASH_SIZE, root);
    if (m->json) {
        json_t *o = json_object();
        bool ok = json_put(o, "origin", json_string(m->origin)) &&
                  json_put(o, "size", json_u64(m->have)) &&
                  json_put(o, "new", json_u64(m->have - before)) &&
                  json_put(o, "root", json_string(root)) &&
                  json_put(o, "bytes_fetched", json_u64(source_fetched(m->src))) &&
                  json_put(o, "up_to_date", json_boolean(m->have == before));
        if (!ok) {
            json_decref(o);
            return fail_msg("out of memory building JSON");
        }
        return print_json(o);
    }
    printf("mirrored ");
    put_clean(stdout, m->origin);
    printf(": %llu records (%llu new), root %s\n", (unsigned long long)m->have,
           (unsigned long long)(m->have - before), root);
    return finish_output(EXIT_GOOD);
}

/* Everything after the options: the mirror locked, its pins read. */
static int run(mirror *m)
{
    ac_error err;
    ac_state st_now;
    int rc = ac_chain_state(m->chain, &st_now, &err);
    if (rc == AC_ENOTFOUND) {
        m->have = 0;
    } else if (rc != AC_OK) {
        return fail_ac(&err, "run 'attestchain verify' on the mirror");
    } else {
        m->have = st_now.record_count;
        memcpy(m->signer, st_now.signer, AC_PUBKEY_SIZE);
    }
    int st = m->have > 0 ? own_root(m) : EXIT_GOOD;
    uint8_t *note = NULL;
    size_t len;
    if (st == EXIT_GOOD)
        st = source_need(m->src, "checkpoint", AC_NOTE_MAX_SIZE, &note, &len);
    if (st == EXIT_GOOD && ac_checkpoint_parse(note, len, &m->theirs, &err) != AC_OK)
        st = refuse("%s/checkpoint: %s", source_name(m->src), err.message);
    free(note);
    if (st != EXIT_GOOD)
        return st;
    if (strcmp(ac_checkpoint_origin(m->theirs), m->origin) != 0)
        return refuse("%s/checkpoint: origin '%s', not the mirror's '%s'", source_name(m->src),
                      ac_checkpoint_origin(m->theirs), m->origin);
    /* The pinned keys and the key authorized now: before the records say
     * otherwise (a rotation among them), one of them must have signed. */
    ac_vkey *current = NULL;
    if (m->have > 0 && ac_vkey_new(m->origin, AC_VKEY_ED25519, m->signer, &current, &err) == AC_OK)
        m->vkeys[m->nvkeys++] = current;
    int trusted = ac_checkpoint_verify(m->theirs, m->vkeys, m->nvkeys, &err);
    if (trusted < 0)
        st = fail_ac(&err, NULL);
    else if (trusted == 0 && m->have == 0)
        st = refuse("%s/checkpoint: not signed by a --vkey: %s", source_name(m->src),
                    err.message);
    size_t valid = 0;
    if (st == EXIT_GOOD && m->needed > 0 &&
        ac_checkpoint_verify_witnesses(m->theirs, m->witnesses, m->nwitnesses, (size_t)m->needed,
                                       &valid, &err) != 1)
        st = refuse("%s/checkpoint: %zu valid witness cosignatures, %llu needed",
                    source_name(m->src), valid, (unsigned long long)m->needed);
    uint64_t before = m->have;
    if (st == EXIT_GOOD)
        st = ac_checkpoint_size(m->theirs) <= m->have ? compare_same_size(m, trusted == 1)
                                                        : pull_new(m, trusted == 1);
    if (st == EXIT_GOOD && m->have == ac_checkpoint_size(m->theirs))
        st = keep_checkpoint(m);
    if (st == EXIT_GOOD && !m->have_genesis && m->have > 0) {
        ac_record *r;
        if (ac_chain_get_verified(m->chain, 0, &r, &err) != AC_OK)
            return fail_ac(&err, NULL);
        memcpy(m->genesis, ac_record_signer(r), AC_PUBKEY_SIZE);
        ac_record_free(r);
        m->have_genesis = true;
    }
    if (st == EXIT_GOOD)
        st = write_pins(m);
    return st == EXIT_GOOD ? report(m, before) : st;
}

static int parse(int argc, char **argv, mirror *m, const char **dir)
{
    getopt_reset();
    int c, st = -1;
    while (st < 0 && (c = getopt_long(argc, argv, ":C:h", mirror_opts, NULL)) != -1) {
        switch (c) {
        case 'C': *dir = optarg; break;
        case OPT_VKEY:
            if (add_vkeys("mirror", optarg, AC_VKEY_ED25519, m->vkeys, &m->nvkeys) != EXIT_GOOD)
                st = EXIT_TROUBLE;
            break;
        case OPT_WITNESS:
            if (add_vkeys("mirror", optarg, AC_VKEY_COSIGNATURE, m->witnesses, &m->nwitnesses) !=
                EXIT_GOOD)
                st = EXIT_TROUBLE;
            break;
        case OPT_WITNESSES_NEEDED:
            if (!parse_u64(optarg, &m->needed) || m->needed > MAX_TRUSTED)
                st = fail_usage("mirror", "--witnesses-needed takes a number from 0 to %d",
                                MAX_TRUSTED);
            break;
        case OPT_TIMEOUT:
            if (!parse_u64(optarg, &m->timeout) || m->timeout == 0 || m->timeout > 86400)
                st = fail_usage("mirror", "--timeout takes seconds, 1 to 86400");
            break;
        case OPT_JSON: m->json = true; break;
        case 'h': return print_help(mirror_usage);
        default: return fail_option("mirror", c, argv);
        }
    }
    if (st >= 0)
        return st;
    if ((m->dir = chain_dir(*dir)) == NULL)
        return fail_usage("mirror", "give the mirror's directory with -C DIR");
    if (m->needed > m->nwitnesses)
        return fail_usage("mirror", "--witnesses-needed %llu with %zu --witness keys",
                          (unsigned long long)m->needed, m->nwitnesses);
    if (argc - optind != 1)
        return fail_usage("mirror", argc - optind < 1 ? "give the SOURCE (an export directory "
                                                        "or URL)" : "too many arguments");
    m->where = argv[optind];
    return -1;
}

/* The pins of earlier runs, and the --vkey keys given now, all of one origin. */
static int settle_pins(mirror *m)
{
    const ac_vkey *given[MAX_TRUSTED];
    size_t ngiven = m->nvkeys;
    memcpy(given, m->vkeys, ngiven * sizeof *given);
    m->nvkeys = 0;
    bool found;
    int st = read_pins(m, &found);
    if (st == EXIT_GOOD && !found && ngiven == 0)
        st = fail_usage("mirror", "the first run needs --vkey (the log's verifier key)");
    if (st == EXIT_GOOD && !found)
        snprintf(m->origin, sizeof m->origin, "%s", ac_vkey_name(given[0]));
    for (size_t i = 0; i < ngiven; i++) {
        if (st == EXIT_GOOD && strcmp(ac_vkey_name(given[i]), m->origin) != 0)
            st = fail_usage("mirror", "--vkey '%s' is not of the origin '%s'",
                            ac_vkey_name(given[i]), m->origin);
        if (st == EXIT_GOOD)
            st = add_pinned(m, (ac_vkey *)given[i]);
        else
            ac_vkey_free((ac_vkey *)given[i]);
    }
    m->given = m->nvkeys;
    return st;
}

int cmd_mirror(int argc, char **argv)
{
    mirror *m = calloc(1, sizeof *m);
    if (m == NULL)
        return fail_msg("out of memory");
    const char *dir = NULL;
    int st = parse(argc, argv, m, &dir), lock = -1;
    if (st < 0) {
        st = open_chain(m->dir, AC_OPEN_CREATE, &m->chain);
        if (st == EXIT_GOOD)
            st = lock_dir(m->dir, LOCK_FILE, "mirror", &lock);
        if (st == EXIT_GOOD)
            st = settle_pins(m);
        if (st == EXIT_GOOD)
            st = source_open(m->where, (long)m->timeout, &m->src);
        if (st == EXIT_GOOD)
            st = run(m);
        if (m->chain != NULL)
            st = close_chain(m->chain, st);
    }
    if (lock >= 0)
        close(lock);
    source_close(m->src);
    ac_checkpoint_free(m->ours);
    ac_checkpoint_free(m->theirs);
    for (size_t i = 0; i < m->nvkeys; i++)
        ac_vkey_free((ac_vkey *)m->vkeys[i]);
    for (size_t i = 0; i < m->nwitnesses; i++)
        ac_vkey_free((ac_vkey *)m->witnesses[i]);
    free(m);
    return st;
}
