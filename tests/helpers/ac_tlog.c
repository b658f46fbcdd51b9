/* ac_tlog: trees, checkpoints and proofs over a chain, through the public
 * API, for the end-to-end and Go interop tests (until the tool has its
 * own checkpoint and prove commands, the lead's part of issue 8).
 *
 *   ac_tlog proofs DIR KEY ORIGIN     one JSON object over the chain's N records:
 *       {"vkey": V, "leaves": [base64 frame body...], "roots": [base64, size 0..N],
 *        "checkpoints": [signed note, size 1..N],
 *        "inclusion": [{"index": i, "size": n, "proof": [base64...]}...],
 *        "consistency": [{"old": m, "new": n, "proof": [base64...]}...]}
 *       every index of every size, every pair of sizes
 *   ac_tlog check FILE                the same schema, made by someone else:
 *       checks every root (recomputed from the leaves), checkpoint (against
 *       "vkey", origin line and root), inclusion and consistency proof with
 *       the library; prints "ok N checks" and exits 0, or names the first
 *       failure and exits 1
 *   ac_tlog prove DIR KEY ORIGIN INDEX [SIZE]
 *                                     a .tlog-proof of record INDEX against a
 *                                     checkpoint of SIZE (default: all) on stdout
 *   ac_tlog cosign FILE KEY NAME TIME the signed note in FILE with a witness
 *                                     cosignature by KEY as NAME at TIME
 *
 * Exit status 2 on any error, with one line on stderr. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "attestchain.h"

typedef uint8_t hash_t[AC_HASH_SIZE];

static int die(const char *what, const ac_error *err)
{
    fprintf(stderr, "ac_tlog: %s: %s\n", what, err ? err->message : "failed");
    exit(2);
}

static json_t *b64(const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (s == NULL)
        die("out of memory", NULL);
    sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *v = json_string(s);
    free(s);
    return v;
}

/* Decodes base64 into a malloc'd buffer. */
static uint8_t *unb64(const char *s, size_t *len)
{
    size_t cap = strlen(s) / 4 * 3 + 3;
    uint8_t *out = malloc(cap ? cap : 1);
    if (out == NULL || sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL,
                                         sodium_base64_VARIANT_ORIGINAL) != 0)
        die("bad base64 in input", NULL);
    return out;
}

typedef struct tree {
    ac_merkle_mem *mem;
    uint8_t **body;
    size_t *len;
    uint64_t n;
} tree;

static void load_chain(const char *dir, tree *t)
{
    ac_chain *c;
    ac_iter *it;
    ac_record *r;
    ac_error err;
    if (ac_chain_open(&c, dir, AC_OPEN_READONLY, &err) != AC_OK)
        die("open", &err);
    if (ac_merkle_mem_new(&t->mem, &err) != AC_OK || ac_iter_open(c, 0, UINT64_MAX, &it, &err) != AC_OK)
        die("setup", &err);
    int rc;
    while ((rc = ac_iter_next(it, &r, &err)) == 1) {
        size_t len;
        const uint8_t *b = ac_record_bytes(r, &len);
        t->body = realloc(t->body, (t->n + 1) * sizeof *t->body);
        t->len = realloc(t->len, (t->n + 1) * sizeof *t->len);
        if (t->body == NULL || t->len == NULL || (t->body[t->n] = malloc(len)) == NULL)
            die("out of memory", NULL);
        memcpy(t->body[t->n], b, len);
        t->len[t->n++] = len;
        if (ac_merkle_mem_append(t->mem, b, len, &err) != AC_OK)
            die("tree", &err);
        ac_record_free(r);
    }
    if (rc < 0)
        die("read", &err);
    ac_iter_free(it);
    ac_chain_close(c, NULL);
}

static void free_tree(tree *t)
{
    for (uint64_t i = 0; i < t->n; i++)
        free(t->body[i]);
    free(t->body);
    free(t->len);
    ac_merkle_mem_free(t->mem);
}

static char *sign_size(const tree *t, uint64_t size, const ac_key *key, const char *origin,
                       size_t *len)
{
    hash_t root;
    ac_error err;
    char *cp;
    if (ac_merkle_tree_hash(size, ac_merkle_mem_read, t->mem, root, &err) != AC_OK ||
        ac_checkpoint_sign(origin, size, root, key, &cp, len, &err) != AC_OK)
        die("checkpoint", &err);
    return cp;
}

static json_t *hash_list(const hash_t *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, b64(h[i], AC_HASH_SIZE));
    return a;
}

static int cmd_proofs(const char *dir, const char *keyfile, const char *origin)
{
    tree t = {0};
    ac_key *key;
    ac_error err;
    load_chain(dir, &t);
    if (ac_key_load(&key, keyfile, &err) != AC_OK)
        die("key", &err);
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(key, pub);
    ac_vkey *v;
    char *vs;
    if (ac_vkey_new(origin, AC_VKEY_ED25519, pub, &v, &err) != AC_OK ||
        ac_vkey_string(v, &vs, &err) != AC_OK)
        die("vkey", &err);
    json_t *o = json_object(), *leaves = json_array(), *roots = json_array(),
           *cps = json_array(), *inc = json_array(), *con = json_array();
    json_object_set_new(o, "vkey", json_string(vs));
    for (uint64_t n = 0; n <= t.n; n++) {
        hash_t root, proof[AC_MERKLE_MAX_PROOF];
        size_t k, len;
        if (ac_merkle_tree_hash(n, ac_merkle_mem_read, t.mem, root, &err) != AC_OK)
            die("root", &err);
        json_array_append_new(roots, b64(root, AC_HASH_SIZE));
        if (n == 0)
            continue;
        json_array_append_new(leaves, b64(t.body[n - 1], t.len[n - 1]));
        char *cp = sign_size(&t, n, key, origin, &len);
        json_array_append_new(cps, json_stringn(cp, len));
        ac_free(cp);
        for (uint64_t i = 0; i < n; i++) {
            if (ac_merkle_prove_record(i, n, ac_merkle_mem_read, t.mem, proof, &k, &err) != AC_OK)
                die("prove record", &err);
            json_array_append_new(inc, json_pack("{s:I,s:I,s:o}", "index", (json_int_t)i, "size",
                                                 (json_int_t)n, "proof", hash_list(proof, k)));
        }
        for (uint64_t m = 1; m <= n; m++) {
            if (ac_merkle_prove_tree(m, n, ac_merkle_mem_read, t.mem, proof, &k, &err) != AC_OK)
                die("prove tree", &err);
            json_array_append_new(con, json_pack("{s:I,s:I,s:o}", "old", (json_int_t)m, "new",
                                                 (json_int_t)n, "proof", hash_list(proof, k)));
        }
    }
    json_object_set_new(o, "leaves", leaves);
    json_object_set_new(o, "roots", roots);
    json_object_set_new(o, "checkpoints", cps);
    json_object_set_new(o, "inclusion", inc);
    json_object_set_new(o, "consistency", con);
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(o);
    ac_free(vs);
    ac_vkey_free(v);
    ac_key_free(key);
    free_tree(&t);
    return fflush(stdout) == 0 ? 0 : 2;
}

static size_t get_hashes(json_t *arr, hash_t *out)
{
    size_t n = json_array_size(arr);
    if (n > AC_MERKLE_MAX_PROOF)
        die("proof too long", NULL);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *h = unb64(json_string_value(json_array_get(arr, i)), &len);
        if (len != AC_HASH_SIZE)
            die("a proof hash is not 32 bytes", NULL);
        memcpy(out[i], h, AC_HASH_SIZE);
        free(h);
    }
    return n;
}

/* The first failed check of cmd_check: printed, and the check stops. */
#define CHECK_FAIL(...)                                                        \
    do {                                                                       \
        printf("FAIL " __VA_ARGS__);                                           \
        putchar('\n');                                                         \
        rc = 1;                                                                \
        goto out;                                                              \
    } while (0)

static int cmd_check(const char *path)
{
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    if (o == NULL) {
        fprintf(stderr, "ac_tlog: %s: %s\n", path, jerr.text);
        return 2;
    }
    ac_error err;
    ac_vkey *v;
    ac_merkle_mem *mem;
    if (ac_vkey_parse(json_string_value(json_object_get(o, "vkey")), &v, &err) != AC_OK)
        die("vkey", &err);
    if (ac_merkle_mem_new(&mem, &err) != AC_OK)
        die("tree", &err);
    json_t *leaves = json_object_get(o, "leaves"), *roots = json_object_get(o, "roots");
    size_t n = json_array_size(leaves), checks = 0, i;
    hash_t *rootv = calloc(n + 1, sizeof *rootv);
    uint8_t *buf = NULL;
    ac_checkpoint *cp = NULL;
    int rc = 0;
    if (rootv == NULL)
        die("out of memory", NULL);
    for (i = 0; i <= n; i++) {
        size_t len;
        if (i > 0) {
            buf = unb64(json_string_value(json_array_get(leaves, i - 1)), &len);
            if (ac_merkle_mem_append(mem, buf, len, &err) != AC_OK)
                die("leaf", &err);
            free(buf);
        }
        if (ac_merkle_tree_hash(i, ac_merkle_mem_read, mem, rootv[i], &err) != AC_OK)
            die("root", &err);
        buf = unb64(json_string_value(json_array_get(roots, i)), &len);
        if (len != AC_HASH_SIZE || memcmp(rootv[i], buf, AC_HASH_SIZE) != 0)
            CHECK_FAIL("root of size %zu differs", i);
        free(buf);
        buf = NULL;
        checks++;
    }
    json_t *cps = json_object_get(o, "checkpoints"), *e;
    json_array_foreach(cps, i, e) {
        const char *text = json_string_value(e);
        if (ac_checkpoint_parse((const uint8_t *)text, strlen(text), &cp, &err) != AC_OK)
            CHECK_FAIL("checkpoint %zu: %s", i, err.message);
        uint64_t size = ac_checkpoint_size(cp);
        if (ac_checkpoint_verify(cp, (const ac_vkey *const *)&v, 1, &err) != 1 || size > n ||
            memcmp(ac_checkpoint_root(cp), rootv[size], AC_HASH_SIZE) != 0)
            CHECK_FAIL("checkpoint %zu (size %" PRIu64 "): %s", i, size, err.message);
        ac_checkpoint_free(cp);
        cp = NULL;
        checks++;
    }
    json_array_foreach(json_object_get(o, "inclusion"), i, e) {
        uint64_t idx = (uint64_t)json_integer_value(json_object_get(e, "index"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(e, "size"));
        hash_t proof[AC_MERKLE_MAX_PROOF], leaf;
        size_t k = get_hashes(json_object_get(e, "proof"), proof), len;
        if (idx >= n || size > n)
            CHECK_FAIL("inclusion of %" PRIu64 " in %" PRIu64 ": past the leaves", idx, size);
        buf = unb64(json_string_value(json_array_get(leaves, idx)), &len);
        if (ac_merkle_leaf_hash(buf, len, leaf, &err) != AC_OK ||
            ac_merkle_check_record((const hash_t *)proof, k, idx, leaf, size, rootv[size], &err) != 1)
            CHECK_FAIL("inclusion of %" PRIu64 " in %" PRIu64 ": %s", idx, size, err.message);
        free(buf);
        buf = NULL;
        checks++;
    }
    json_array_foreach(json_object_get(o, "consistency"), i, e) {
        uint64_t m = (uint64_t)json_integer_value(json_object_get(e, "old"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(e, "new"));
        hash_t proof[AC_MERKLE_MAX_PROOF];
        size_t k = get_hashes(json_object_get(e, "proof"), proof);
        if (size > n || m > size ||
            ac_merkle_check_tree((const hash_t *)proof, k, m, rootv[m], size, rootv[size], &err) != 1)
            CHECK_FAIL("consistency %" PRIu64 " -> %" PRIu64 ": %s", m, size, err.message);
        checks++;
    }
    printf("ok %zu checks\n", checks);
out:
    free(buf);
    ac_checkpoint_free(cp);
    free(rootv);
    ac_merkle_mem_free(mem);
    ac_vkey_free(v);
    json_decref(o);
    return fflush(stdout) == 0 ? rc : 2;
}

static bool parse_num(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    *out = strtoull(s, &end, 10);
    return *end == '\0';
}

static int cmd_prove(int argc, char **argv)
{
    tree t = {0};
    ac_key *key;
    ac_error err;
    uint64_t index, size;
    load_chain(argv[0], &t);
    if (!parse_num(argv[3], &index) || (argc > 4 && !parse_num(argv[4], &size)))
        die("bad number", NULL);
    if (argc <= 4)
        size = t.n;
    if (index >= t.n || size > t.n)
        die("index or size past the chain", NULL);
    if (ac_key_load(&key, argv[1], &err) != AC_OK)
        die("key", &err);
    size_t cplen, k, len;
    char *cp = sign_size(&t, size, key, argv[2], &cplen), *out;
    hash_t proof[AC_MERKLE_MAX_PROOF];
    if (ac_merkle_prove_record(index, size, ac_merkle_mem_read, t.mem, proof, &k, &err) != AC_OK ||
        ac_proof_write(index, t.body[index], t.len[index], (const hash_t *)proof, k,
                       (const uint8_t *)cp, cplen, &out, &len, &err) != AC_OK)
        die("prove", &err);
    fwrite(out, 1, len, stdout);
    ac_free(out);
    ac_free(cp);
    ac_key_free(key);
    free_tree(&t);
    return fflush(stdout) == 0 ? 0 : 2;
}

static int cmd_cosign(char **argv)
{
    FILE *f = fopen(argv[0], "rb");
    if (f == NULL)
        die("cannot open the note", NULL);
    char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ac_key *key;
    ac_error err;
    uint64_t when;
    if (!parse_num(argv[3], &when))
        die("bad time", NULL);
    if (ac_key_load(&key, argv[1], &err) != AC_OK)
        die("key", &err);
    char *out;
    size_t olen;
    if (ac_checkpoint_cosign((const uint8_t *)buf, len, argv[2], key, when, &out, &olen, &err) != AC_OK)
        die("cosign", &err);
    fwrite(out, 1, olen, stdout);
    ac_free(out);
    ac_key_free(key);
    return fflush(stdout) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        die("libsodium", NULL);
    if (argc == 5 && strcmp(argv[1], "proofs") == 0)
        return cmd_proofs(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return cmd_check(argv[2]);
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "prove") == 0)
        return cmd_prove(argc - 2, argv + 2);
    if (argc == 6 && strcmp(argv[1], "cosign") == 0)
        return cmd_cosign(argv + 2);
    fprintf(stderr, "usage: ac_tlog proofs DIR KEY ORIGIN | check FILE | "
                    "prove DIR KEY ORIGIN INDEX [SIZE] | cosign FILE KEY NAME TIME\n");
    return 2;
}
