/* seeds: writes the starting corpora of the fuzz targets from the shared
 * vectors, so that no corpus needs to be committed.
 *
 *   seeds VECTORS_DIR OUT_DIR
 *
 * writes OUT_DIR/corpus-<target>/seed-* for every target:
 *   fuzz_chain      every vector's chain.bin
 *   fuzz_verify     the same, after a flags byte (re-sign; re-sign and re-link),
 *                   and their record bodies alone (re-frame, re-sign, re-link)
 *   fuzz_record     every frame body of those chains
 *   fuzz_cbor       the bodies, and the metadata and witness maps inside them
 *   fuzz_meta_json  those metadata maps rendered as JSON, and a few by hand
 *   fuzz_state      state.cbor and index.bin for valid-two-rotations (current,
 *                   stale, over cut chains, and the Python store's state.cbor
 *                   of valid-seed-written), in fuzz_state's input layout
 *   fuzz_note       checkpoints of that chain signed with k1 (one cosigned),
 *                   verifier keys, the C2SP signed-note example
 *   fuzz_proof      a .tlog-proof of each of its records (tests/vectors has
 *                   no proofs: they are made here with the library). */
#include <dirent.h>
#include <jansson.h>

#include "fuzz.h"
#include "tlog_keys.h"

#define STATE_CHAIN "valid-two-rotations"

static const char *out_dir;

static void put_seed(const char *target, const char *name, const uint8_t *p, size_t n)
{
    char dir[4096], file[512];
    fuzz_path(dir, sizeof dir, out_dir, "corpus-");
    FUZZ_SETUP(strlen(dir) + strlen(target) < sizeof dir);
    strcat(dir, target);
    FUZZ_SETUP(mkdir(dir, 0755) == 0 || errno == EEXIST);
    int w = snprintf(file, sizeof file, "seed-%s", name);
    FUZZ_SETUP(w > 0 && (size_t)w < sizeof file);
    fuzz_write_file(dir, file, p, n);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The seeds drawn from one decoded record. */
static void record_seeds(const char *name, const uint8_t *body, size_t len)
{
    put_seed("fuzz_record", name, body, len);
    put_seed("fuzz_cbor", name, body, len);
    ac_rec rec;
    if (rec_decode(body, len, &rec, NULL) != 0)
        return;
    char sub[300];
    snprintf(sub, sizeof sub, "%s-meta", name);
    put_seed("fuzz_cbor", sub, rec.metadata, rec.metadata_len);
    snprintf(sub, sizeof sub, "%s-wit", name);
    put_seed("fuzz_cbor", sub, rec.witnesses, rec.witnesses_len);
    char *json;
    if (meta_cbor_to_json(rec.metadata, rec.metadata_len, &json, NULL) == AC_OK) {
        snprintf(sub, sizeof sub, "%s-meta.json", name);
        put_seed("fuzz_meta_json", sub, (const uint8_t *)json, strlen(json));
        free(json);
    }
}

/* A chain and the frames inside it (as far as the framing holds). */
static void chain_seeds(const char *vec, const uint8_t *chain, size_t len)
{
    put_seed("fuzz_chain", vec, chain, len);
    /* fuzz_verify: a flags byte (re-sign, re-link) before the chain. */
    uint8_t *flagged = malloc(len + 1);
    FUZZ_SETUP(flagged != NULL);
    memcpy(flagged + 1, chain, len);
    static const uint8_t modes[] = {0x01, 0x03};
    for (size_t m = 0; m < sizeof modes; m++) {
        char name[300];
        flagged[0] = modes[m];
        snprintf(name, sizeof name, "%s-%02x", vec, modes[m]);
        put_seed("fuzz_verify", name, flagged, len + 1);
    }
    free(flagged);
    /* And with FV_REFRAME: the bodies without their length prefixes. */
    det_buf bodies = {0};
    uint8_t fl = 0x07;
    det_put(&bodies, &fl, 1);
    for (size_t off = 0; len - off >= 4;) {
        uint32_t n = be32(chain + off);
        if (n == 0 || n > len - off - 4)
            break;
        det_put(&bodies, chain + off + 4, n);
        off += 4 + (size_t)n;
    }
    FUZZ_SETUP(!bodies.failed);
    char rname[300];
    snprintf(rname, sizeof rname, "%s-07", vec);
    put_seed("fuzz_verify", rname, bodies.data, bodies.len);
    det_buf_free(&bodies);
    size_t off = 0;
    for (unsigned i = 0; len - off >= 4; i++) {
        uint32_t n = be32(chain + off);
        if (n == 0 || n > len - off - 4)
            break;
        char name[300];
        snprintf(name, sizeof name, "%s-%u", vec, i);
        record_seeds(name, chain + off + 4, n);
        off += 4 + (size_t)n;
    }
}

/* state.cbor as the library writes it (format section 6, deterministic order). */
static void encode_state(const ac_state *s, det_buf *b)
{
    det_put_map(b, 9);
    det_put_text(b, "signer", 6);
    det_put_bytes(b, s->signer, AC_PUBKEY_SIZE);
    det_put_text(b, "chain_id", 8);
    det_put_bytes(b, s->chain_id, AC_HASH_SIZE);
    det_put_text(b, "head_hash", 9);
    det_put_bytes(b, s->head_hash, AC_HASH_SIZE);
    det_put_text(b, "chain_size", 10);
    det_put_uint(b, s->chain_size);
    det_put_text(b, "created_at", 10);
    det_put_uint(b, s->created_at);
    det_put_text(b, "head_index", 10);
    det_put_uint(b, s->head_index);
    det_put_text(b, "head_offset", 11);
    det_put_uint(b, s->head_offset);
    det_put_text(b, "record_count", 12);
    det_put_uint(b, s->record_count);
    det_put_text(b, "last_append_at", 14);
    det_put_uint(b, s->last_append_at);
    FUZZ_SETUP(!b->failed);
}

/* One fuzz_state input: flags, the kept length of chain.bin (with 0x20),
 * then the state and/or index parts. */
static void state_seed(const char *name, unsigned flags, size_t keep, const uint8_t *st,
                       size_t st_len, const uint8_t *idx, size_t idx_len)
{
    det_buf b = {0};
    uint8_t f = (uint8_t)flags;
    det_put(&b, &f, 1);
    if (flags & 0x20u) {
        uint8_t k[2] = {(uint8_t)(keep >> 8), (uint8_t)keep};
        det_put(&b, k, 2);
    }
    if ((flags & 3u) == 3u) {
        uint8_t split[2] = {(uint8_t)(st_len >> 8), (uint8_t)st_len};
        det_put(&b, split, 2);
    }
    if (flags & 1u)
        det_put(&b, st, st_len);
    if (flags & 2u)
        det_put(&b, idx, idx_len);
    FUZZ_SETUP(!b.failed);
    put_seed("fuzz_state", name, b.data, b.len);
    det_buf_free(&b);
}

/* The state of the first `records` frames of the chain, and index.bin. */
static void state_of_prefix(const uint8_t *chain, size_t len, uint64_t records, det_buf *st,
                            uint8_t **idx, size_t *idx_len)
{
    char dir[4096], path[4096];
    fuzz_tmpdir(dir, sizeof dir, "seeds");
    size_t off = 0;
    for (uint64_t i = 0; i < records && len - off >= 4; i++)
        off += 4 + (size_t)be32(chain + off);
    fuzz_write_file(dir, AC_CHAIN_FILE, chain, off);
    ac_chain *c;
    ac_state s;
    ac_record *rec;
    FUZZ_SETUP(ac_chain_open(dir, 0, &c, NULL) == AC_OK);
    FUZZ_SETUP(ac_chain_state(c, &s, NULL) == AC_OK);
    FUZZ_SETUP(ac_chain_get(c, s.head_index, &rec, NULL) == AC_OK); /* makes index.bin */
    ac_record_free(rec);
    FUZZ_SETUP(ac_chain_close(c, NULL) == AC_OK);
    encode_state(&s, st);
    fuzz_path(path, sizeof path, dir, AC_INDEX_FILE);
    *idx = fuzz_read_file(path, idx_len);
    if (*idx == NULL) { /* a library without index.bin: fuzz an empty one */
        *idx = malloc(1);
        *idx_len = 0;
    }
    fuzz_remove_dir(dir);
}

static void state_seeds(const char *vectors)
{
    char path[4096];
    size_t len;
    fuzz_path(path, sizeof path, vectors, STATE_CHAIN "/chain.bin");
    uint8_t *chain = fuzz_read_file(path, &len);
    FUZZ_SETUP(chain != NULL);
    static const unsigned variants[] = {0x01, 0x02, 0x03, 0x07, 0x0b, 0x13, 0x1b, 0x1f};
    for (uint64_t k = 1; k <= 6; k++) {
        det_buf st = {0};
        uint8_t *idx;
        size_t idx_len;
        state_of_prefix(chain, len, k, &st, &idx, &idx_len);
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            /* The current state in every layout, stale ones in two. */
            if (k < 6 && variants[v] != 0x03 && variants[v] != 0x0b)
                continue;
            char name[64];
            snprintf(name, sizeof name, "head%llu-%02x", (unsigned long long)k, variants[v]);
            state_seed(name, variants[v], len, st.data, st.len, idx, idx_len);
        }
        /* Caches of this head over a chain cut at each frame's end and in
         * its middle (records lost, or a torn tail), then an append. */
        size_t off = 0;
        for (unsigned f = 0; len - off >= 4; f++) {
            size_t next = off + 4 + (size_t)be32(chain + off);
            if (next > len)
                break;
            char name[64];
            snprintf(name, sizeof name, "head%llu-cut%u-63", (unsigned long long)k, f);
            state_seed(name, 0x63, next, st.data, st.len, idx, idx_len);
            snprintf(name, sizeof name, "head%llu-half%u-63", (unsigned long long)k, f);
            state_seed(name, 0x63, off + (next - off) / 2, st.data, st.len, idx, idx_len);
            off = next;
        }
        char name[64];
        snprintf(name, sizeof name, "head%llu-43", (unsigned long long)k);
        state_seed(name, 0x43, len, st.data, st.len, idx, idx_len);
        det_buf_free(&st);
        free(idx);
    }
    free(chain);
    /* The Python store's own state.cbor (no extension keys). */
    fuzz_path(path, sizeof path, vectors, "valid-seed-written/case.json");
    json_t *cj = json_load_file(path, 0, NULL);
    const char *hex = json_string_value(json_object_get(cj, "state_cbor_hex"));
    if (hex != NULL && strlen(hex) % 2 == 0) {
        size_t n = strlen(hex) / 2;
        uint8_t *raw = malloc(n + 1);
        FUZZ_SETUP(raw != NULL);
        if (ac_hex_decode(hex, raw, n, NULL) == AC_OK) {
            state_seed("python-state", 0x01, 0, raw, n, NULL, 0);
            put_seed("fuzz_cbor", "python-state", raw, n);
        }
        free(raw);
    }
    json_decref(cj);
}

static void json_seeds(void)
{
    static const char *const docs[] = {
        "{}",
        "{\"camera\":\"x100\",\"n\":-12,\"ok\":true,\"no\":false,\"nil\":null}",
        "{\"raw\":{\"$bytes\":\"00ff10\"},\"big\":{\"$int\":\"18446744073709551615\"},"
        "\"neg\":{\"$int\":\"-18446744073709551616\"}}",
        "{\"a\":[1,[2,[3,{\"b\":[]}]]],\"\\u00e9t\\u00e9\":\"\\ud83d\\ude00\",\"z\":\"a\\u0000b\"}",
        "{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{"
        "\"d\":{}}}}}}}}}}}}}}}",
        "{\"$bytes\":\"00\",\"x\":1}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "hand-%zu.json", i);
        put_seed("fuzz_meta_json", name, (const uint8_t *)docs[i], strlen(docs[i]));
    }
}

/* ---------------------------------------------------------------- transparency */

static void tlog_seeds(const char *vectors)
{
    char path[4096];
    size_t len;
    int w = snprintf(path, sizeof path, "%s/%s/chain.bin", vectors, STATE_CHAIN);
    FUZZ_SETUP(w > 0 && (size_t)w < sizeof path);
    uint8_t *chain = fuzz_read_file(path, &len);
    FUZZ_SETUP(chain != NULL);
    fuzz_tlog_keys keys;
    fuzz_tlog_keys_load(&keys);
    ac_merkle_mem *tree;
    FUZZ_SETUP(ac_merkle_mem_new(&tree, NULL) == AC_OK);
    size_t offs[64], n = 0;
    for (size_t off = 0; off + 4 <= len && n < 64; off += 4 + be32(chain + off)) {
        FUZZ_SETUP(off + 4 + be32(chain + off) <= len);
        offs[n++] = off;
        FUZZ_SETUP(ac_merkle_mem_append(tree, chain + off + 4, be32(chain + off), NULL) == AC_OK);
    }
    uint8_t root[AC_HASH_SIZE];
    char *cp, *co;
    size_t cplen, colen;
    FUZZ_SETUP(ac_merkle_tree_hash(n, ac_merkle_mem_read, tree, root, NULL) == AC_OK);
    FUZZ_SETUP(ac_checkpoint_sign(FUZZ_ORIGIN, n, root, keys.k1, &cp, &cplen, NULL) == AC_OK);
    FUZZ_SETUP(ac_checkpoint_cosign((const uint8_t *)cp, cplen, FUZZ_WITNESS, keys.k1, 1700000000,
                                    &co, &colen, NULL) == AC_OK);
    put_seed("fuzz_note", "checkpoint", (const uint8_t *)cp, cplen);
    put_seed("fuzz_note", "cosigned", (const uint8_t *)co, colen);
    char *vs;
    FUZZ_SETUP(ac_vkey_string(keys.log, &vs, NULL) == AC_OK);
    put_seed("fuzz_note", "vkey", (const uint8_t *)vs, strlen(vs));
    ac_free(vs);
    FUZZ_SETUP(ac_vkey_string(keys.witness, &vs, NULL) == AC_OK);
    put_seed("fuzz_note", "vkey-witness", (const uint8_t *)vs, strlen(vs));
    ac_free(vs);
    static const char spec_note[] = /* C2SP signed-note's example */
        "This is an example message.\n\n\xe2\x80\x94 example.com/foo "
        "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    put_seed("fuzz_note", "spec-example", (const uint8_t *)spec_note, sizeof spec_note - 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t proof[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE];
        size_t k, plen;
        char *p, name[32];
        FUZZ_SETUP(ac_merkle_prove_record(i, n, ac_merkle_mem_read, tree, proof, &k, NULL) == AC_OK);
        FUZZ_SETUP(ac_proof_write(i, chain + offs[i] + 4, be32(chain + offs[i]),
                                  (const uint8_t(*)[AC_HASH_SIZE])proof, k,
                                  (const uint8_t *)(i % 2 ? co : cp), i % 2 ? colen : cplen, &p,
                                  &plen, NULL) == AC_OK);
        snprintf(name, sizeof name, "proof-%zu", i);
        put_seed("fuzz_proof", name, (const uint8_t *)p, plen);
        ac_free(p);
    }
    ac_free(cp);
    ac_free(co);
    ac_merkle_mem_free(tree);
    ac_vkey_free(keys.log);
    ac_vkey_free(keys.witness);
    ac_key_free(keys.k1);
    free(chain);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s VECTORS_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[2];
    DIR *d = opendir(argv[1]);
    FUZZ_SETUP(d != NULL);
    struct dirent *e;
    unsigned chains = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        size_t len;
        int w = snprintf(path, sizeof path, "%s/%s/chain.bin", argv[1], e->d_name);
        FUZZ_SETUP(w > 0 && (size_t)w < sizeof path);
        uint8_t *chain = fuzz_read_file(path, &len);
        if (chain == NULL)
            continue;
        chain_seeds(e->d_name, chain, len);
        free(chain);
        chains++;
    }
    FUZZ_SETUP(closedir(d) == 0);
    state_seeds(argv[1]);
    json_seeds();
    tlog_seeds(argv[1]);
    printf("seeds: %u chains from %s into %s/corpus-*\n", chains, argv[1], out_dir);
    return chains > 0 ? 0 : 1;
}
