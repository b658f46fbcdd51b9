/* src/tlogproof.c: .tlog-proof files written and checked on their bytes.
 *
 * A real chain gives the records; an in-memory tree over their frame bodies
 * gives the proofs; a checkpoint signed with the chain's key closes them.
 * Each reason of ac_proof_reason is then provoked on purpose, and every
 * truncation and the malformed lines of issue 8 end in the verdict
 * "format", never in a crash or an error. */
#include "testutil.h"

#include "internal.h"

typedef uint8_t hash_t[AC_HASH_SIZE];

enum { N = 13 };
static const char origin[] = "example.org/chain";

typedef struct fixture {
    char dir[TU_PATH_MAX];
    ac_key *key;
    uint8_t pub[AC_PUBKEY_SIZE];
    uint8_t *body[N];
    size_t len[N];
    ac_merkle_mem *tree;
    ac_vkey *vkey;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tu_tmpdir(f->dir, sizeof f->dir);
    f->key = tu_new_key(f->pub);
    tu_make_chain(f->dir, f->key, N);
    ac_chain *c = tu_open_chain(f->dir, AC_OPEN_READONLY);
    TU_OK(ac_merkle_mem_new(&f->tree, NULL));
    for (uint64_t i = 0; i < N; i++) {
        ac_record *r = NULL;
        TU_OK(ac_chain_get(c, i, &r, NULL));
        const uint8_t *b = ac_record_bytes(r, &f->len[i]);
        f->body[i] = malloc(f->len[i]);
        assert_non_null(f->body[i]);
        memcpy(f->body[i], b, f->len[i]);
        TU_OK(ac_merkle_mem_append(f->tree, b, f->len[i], NULL));
        ac_record_free(r);
    }
    tu_close_chain(c);
    TU_OK(ac_vkey_new(origin, AC_VKEY_ED25519, f->pub, &f->vkey, NULL));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < N; i++)
        free(f->body[i]);
    ac_merkle_mem_free(f->tree);
    ac_vkey_free(f->vkey);
    ac_key_free(f->key);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

/* A checkpoint of the tree at `size`, signed by `key`. */
static char *checkpoint_of(const fixture *f, uint64_t size, const ac_key *key, size_t *len)
{
    hash_t root;
    TU_OK(ac_merkle_tree_hash(size, ac_merkle_mem_read, f->tree, root, NULL));
    char *cp = NULL;
    TU_OK(ac_checkpoint_sign(origin, size, root, key, &cp, len, NULL));
    return cp;
}

/* The proof of record `index` in the tree of `size` records, carrying
 * `body` (the record's own unless another is given). */
static char *proof_of(const fixture *f, uint64_t index, uint64_t size, const uint8_t *body,
                      size_t blen, const char *cp, size_t cplen, size_t *len)
{
    hash_t proof[AC_MERKLE_MAX_PROOF];
    size_t n;
    TU_OK(ac_merkle_prove_record(index, size, ac_merkle_mem_read, f->tree, proof, &n, NULL));
    char *out = NULL;
    TU_OK(ac_proof_write(index, body ? body : f->body[index], body ? blen : f->len[index],
                         (const hash_t *)proof, n, (const uint8_t *)cp, cplen, &out, len, NULL));
    return out;
}

static ac_proof_policy policy_of(const fixture *f)
{
    static const ac_vkey *keys[1];
    keys[0] = f->vkey;
    ac_proof_policy p = {.log_keys = keys, .n_log_keys = 1};
    return p;
}

/* The verdict on a proof (the check must run). */
static ac_proof_reason judge(const char *proof, size_t len, const ac_proof_policy *p, char *detail)
{
    ac_proof_result *r = NULL;
    ac_error err;
    if (ac_proof_verify((const uint8_t *)proof, len, p, &r, &err) != AC_OK)
        fail_msg("ac_proof_verify: %s", err.message);
    ac_proof_reason why = ac_proof_result_reason(r);
    assert_int_equal(ac_proof_result_valid(r), why == AC_PROOF_OK);
    const char *d = ac_proof_result_detail(r);
    assert_null(strchr(d, '\n'));
    if (why != AC_PROOF_OK)
        assert_true(d[0] != '\0');
    if (detail != NULL)
        snprintf(detail, 512, "%s", d);
    ac_proof_result_free(r);
    return why;
}

static void test_every_record_proves(void **state)
{
    fixture *f = *state;
    ac_proof_policy pol = policy_of(f);
    for (uint64_t size = 1; size <= N; size++) {
        size_t cplen, len;
        char *cp = checkpoint_of(f, size, f->key, &cplen);
        for (uint64_t i = 0; i < size; i++) {
            char *p = proof_of(f, i, size, NULL, 0, cp, cplen, &len);
            assert_int_equal(strlen(p), len);
            ac_proof_result *r = NULL;
            TU_OK(ac_proof_verify((const uint8_t *)p, len, &pol, &r, NULL));
            if (!ac_proof_result_valid(r))
                fail_msg("record %llu of %llu: %s %s", (unsigned long long)i,
                         (unsigned long long)size,
                         ac_proof_reason_name(ac_proof_result_reason(r)), ac_proof_result_detail(r));
            const ac_record *rec = ac_proof_result_record(r);
            assert_non_null(rec);
            assert_int_equal(ac_record_index(rec), i);
            assert_int_equal(ac_proof_result_index(r), i);
            assert_int_equal(ac_checkpoint_size(ac_proof_result_checkpoint(r)), size);
            hash_t want;
            tu_content_hash(i, want);
            assert_memory_equal(ac_record_content_hash(rec), want, AC_HASH_SIZE);
            ac_proof_result_free(r);
            /* The content, when given, must match. */
            ac_proof_policy with = pol;
            with.content_hash = want;
            assert_int_equal(judge(p, len, &with, NULL), AC_PROOF_OK);
            hash_t other;
            tu_content_hash(i + 1, other);
            with.content_hash = other;
            assert_int_equal(judge(p, len, &with, NULL), AC_PROOF_CONTENT);
            ac_free(p);
        }
        ac_free(cp);
    }
}

static void test_reasons(void **state)
{
    fixture *f = *state;
    ac_proof_policy pol = policy_of(f);
    size_t cplen, len;
    char *cp = checkpoint_of(f, N, f->key, &cplen);
    char detail[512];

    /* decode: extra is not a record. */
    static const uint8_t junk[] = "not a record";
    char *p = proof_of(f, 3, N, junk, sizeof junk - 1, cp, cplen, &len);
    assert_int_equal(judge(p, len, &pol, detail), AC_PROOF_DECODE);
    ac_free(p);

    /* index: record 4 presented as record 3 (with 3's inclusion proof). */
    p = proof_of(f, 3, N, f->body[4], f->len[4], cp, cplen, &len);
    assert_int_equal(judge(p, len, &pol, detail), AC_PROOF_INDEX);
    assert_non_null(strstr(detail, "chain_index is 4"));
    ac_free(p);

    /* checkpoint: signed by another key. */
    ac_key *other = tu_new_key(NULL);
    size_t olen;
    char *ocp = checkpoint_of(f, N, other, &olen);
    p = proof_of(f, 3, N, NULL, 0, ocp, olen, &len);
    assert_int_equal(judge(p, len, &pol, detail), AC_PROOF_CHECKPOINT);
    ac_free(p);

    /* signer: the checkpoint's key is trusted, the record's signer is not,
     * until it is named. */
    ac_vkey *ov = NULL;
    uint8_t opub[AC_PUBKEY_SIZE];
    ac_key_pubkey(other, opub);
    TU_OK(ac_vkey_new(origin, AC_VKEY_ED25519, opub, &ov, NULL));
    const ac_vkey *okeys[1] = {ov};
    ac_proof_policy opol = {.log_keys = okeys, .n_log_keys = 1};
    p = proof_of(f, 3, N, NULL, 0, ocp, olen, &len);
    assert_int_equal(judge(p, len, &opol, detail), AC_PROOF_SIGNER);
    opol.signers = (const uint8_t(*)[AC_PUBKEY_SIZE])f->pub;
    opol.n_signers = 1;
    assert_int_equal(judge(p, len, &opol, detail), AC_PROOF_OK);
    ac_free(p);
    ac_free(ocp);
    ac_vkey_free(ov);
    ac_key_free(other);

    /* inclusion: a proof for another size (the checkpoint says N - 1). */
    size_t slen;
    char *scp = checkpoint_of(f, N - 1, f->key, &slen);
    p = proof_of(f, 3, N, NULL, 0, scp, slen, &len);
    assert_int_equal(judge(p, len, &pol, detail), AC_PROOF_INCLUSION);
    ac_free(p);
    ac_free(scp);
    /* inclusion: an index past the checkpoint's size. */
    scp = checkpoint_of(f, 3, f->key, &slen);
    p = proof_of(f, 3, N, NULL, 0, scp, slen, &len);
    assert_int_equal(judge(p, len, &pol, detail), AC_PROOF_INCLUSION);
    ac_free(p);
    ac_free(scp);

    ac_free(cp);
}

/* signature: a record whose signature byte was changed, in a tree built
 * over that very record, so that only the signature fails. */
static void test_bad_signature(void **state)
{
    fixture *f = *state;
    ac_proof_policy pol = policy_of(f);
    uint8_t *bad = malloc(f->len[0]);
    assert_non_null(bad);
    memcpy(bad, f->body[0], f->len[0]);
    ac_rec view;
    const char *why;
    assert_int_equal(rec_decode(bad, f->len[0], &view, &why), 0);
    bad[view.signature - bad + 5] ^= 0x01;
    ac_merkle_mem *t;
    TU_OK(ac_merkle_mem_new(&t, NULL));
    TU_OK(ac_merkle_mem_append(t, bad, f->len[0], NULL));
    hash_t root;
    TU_OK(ac_merkle_tree_hash(1, ac_merkle_mem_read, t, root, NULL));
    char *cp = NULL, *p = NULL;
    size_t cplen, len;
    TU_OK(ac_checkpoint_sign(origin, 1, root, f->key, &cp, &cplen, NULL));
    TU_OK(ac_proof_write(0, bad, f->len[0], NULL, 0, (const uint8_t *)cp, cplen, &p, &len, NULL));
    assert_int_equal(judge(p, len, &pol, NULL), AC_PROOF_SIGNATURE);
    ac_free(p);
    ac_free(cp);
    ac_merkle_mem_free(t);
    free(bad);
}

static void test_witnesses(void **state)
{
    fixture *f = *state;
    size_t cplen, wlen, len;
    char *cp = checkpoint_of(f, N, f->key, &cplen), *wcp = NULL;
    ac_key *w = tu_new_key(NULL);
    uint8_t wpub[AC_PUBKEY_SIZE];
    ac_key_pubkey(w, wpub);
    ac_vkey *wv = NULL;
    TU_OK(ac_vkey_new("witness.example", AC_VKEY_COSIGNATURE, wpub, &wv, NULL));
    TU_OK(ac_checkpoint_cosign((const uint8_t *)cp, cplen, "witness.example", w, 1764547200, &wcp,
                               &wlen, NULL));
    char *p = proof_of(f, 5, N, NULL, 0, wcp, wlen, &len);
    ac_proof_policy pol = policy_of(f);
    const ac_vkey *wl[1] = {wv};
    pol.witnesses = wl;
    pol.n_witnesses = 1;
    pol.witnesses_needed = 1;
    ac_proof_result *r = NULL;
    TU_OK(ac_proof_verify((const uint8_t *)p, len, &pol, &r, NULL));
    assert_true(ac_proof_result_valid(r));
    assert_int_equal(ac_proof_result_witnesses(r), 1);
    ac_proof_result_free(r);
    pol.witnesses_needed = 2;
    assert_int_equal(judge(p, len, &pol, NULL), AC_PROOF_WITNESSES);
    ac_free(p);
    /* Without the cosignature line. */
    p = proof_of(f, 5, N, NULL, 0, cp, cplen, &len);
    pol.witnesses_needed = 1;
    assert_int_equal(judge(p, len, &pol, NULL), AC_PROOF_WITNESSES);
    ac_free(p);
    ac_free(wcp);
    ac_free(cp);
    ac_vkey_free(wv);
    ac_key_free(w);
}

/* Every proper prefix is a "format" verdict. */
static void test_truncated(void **state)
{
    fixture *f = *state;
    ac_proof_policy pol = policy_of(f);
    size_t cplen, len;
    char *cp = checkpoint_of(f, N, f->key, &cplen);
    char *p = proof_of(f, 6, N, NULL, 0, cp, cplen, &len);
    assert_int_equal(judge(p, len, &pol, NULL), AC_PROOF_OK);
    for (size_t n = 0; n < len; n++) {
        ac_proof_reason why = judge(p, n, &pol, NULL);
        if (why != AC_PROOF_FORMAT)
            fail_msg("a prefix of %zu of %zu bytes: %s", n, len, ac_proof_reason_name(why));
    }
    ac_free(p);
    ac_free(cp);
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    ac_proof_policy pol = policy_of(f);
    size_t cplen, len;
    char *cp = checkpoint_of(f, N, f->key, &cplen);
    char *p = proof_of(f, 6, N, NULL, 0, cp, cplen, &len);
    size_t cap = len + 100 * 120;
    char *buf = malloc(cap);
    assert_non_null(buf);
    const char *first_hash = strstr(p, "\nindex 6\n") + strlen("\nindex 6\n");
    struct { const char *what, *from, *to; } cases[] = {
        {"another header", "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v2\n"},
        {"no extra line", "c2sp.org/tlog-proof@v1\nextra ", "c2sp.org/tlog-proof@v1\nextro "},
        {"a leading zero", "\nindex 6\n", "\nindex 06\n"},
        {"a sign", "\nindex 6\n", "\nindex +6\n"},
        {"no index", "\nindex 6\n", "\n"},
        {"index past 2^63-1", "\nindex 6\n", "\nindex 9223372036854775808\n"},
        {"an extra line before the index", "\nindex 6\n", "\nhello\nindex 6\n"},
        {"a short hash line", "=\n\n", "\n\n"},
        {"no empty line", "=\n\n", "=\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_replace_first(p, cases[i].from, cases[i].to, buf, cap);
        char detail[512];
        ac_proof_reason why = judge(buf, strlen(buf), &pol, detail);
        if (why != AC_PROOF_FORMAT)
            fail_msg("%s: %s", cases[i].what, ac_proof_reason_name(why));
    }
    /* The index line of another record: the record says otherwise. */
    tu_replace_first(p, "\nindex 6\n", "\nindex 7\n", buf, cap);
    assert_int_equal(judge(buf, strlen(buf), &pol, NULL), AC_PROOF_INDEX);
    /* A hash changed: not the root. */
    snprintf(buf, cap, "%s", p);
    buf[first_hash - p] = buf[first_hash - p] == 'A' ? 'B' : 'A';
    assert_int_equal(judge(buf, strlen(buf), &pol, NULL), AC_PROOF_INCLUSION);
    /* A hash line dropped or doubled. */
    const char *second = strchr(first_hash, '\n') + 1;
    snprintf(buf, cap, "%.*s%s", (int)(first_hash - p), p, second);
    assert_int_equal(judge(buf, strlen(buf), &pol, NULL), AC_PROOF_INCLUSION);
    snprintf(buf, cap, "%.*s%s", (int)(second - p), p, first_hash);
    assert_int_equal(judge(buf, strlen(buf), &pol, NULL), AC_PROOF_INCLUSION);
    /* More hash lines than any proof has. */
    size_t used = (size_t)(first_hash - p);
    memcpy(buf, p, used);
    for (int i = 0; i <= AC_MERKLE_MAX_PROOF; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%.*s", (int)(second - first_hash), first_hash);
    used += (size_t)snprintf(buf + used, cap - used, "%s", second);
    assert_int_equal(judge(buf, used, &pol, NULL), AC_PROOF_FORMAT);
    /* Lines after the checkpoint's signatures, 200 signature lines. */
    used = (size_t)snprintf(buf, cap, "%sextra\n", p);
    assert_int_equal(judge(buf, used, &pol, NULL), AC_PROOF_FORMAT);
    used = (size_t)snprintf(buf, cap, "%s", p);
    for (int i = 0; i < 200; i++)
        used += (size_t)snprintf(buf + used, cap - used, "\xe2\x80\x94 w%d.example AAAAAAAAAAA=\n", i);
    assert_int_equal(judge(buf, used, &pol, NULL), AC_PROOF_FORMAT);
    /* Oversized: the file, and a record one byte over the limit. */
    assert_int_equal(judge(p, AC_PROOF_MAX_SIZE + 1, &pol, NULL), AC_PROOF_FORMAT);
    uint8_t *big = calloc(1, AC_MAX_RECORD_SIZE + 1);
    char *text = malloc(2 * AC_MAX_RECORD_SIZE + cplen);
    assert_non_null(big);
    assert_non_null(text);
    used = (size_t)sprintf(text, "c2sp.org/tlog-proof@v1\nextra ");
    used += b64_encode(big, AC_MAX_RECORD_SIZE + 1, text + used);
    used += (size_t)sprintf(text + used, "\nindex 0\n\n%s", cp);
    char detail[512];
    assert_int_equal(judge(text, used, &pol, detail), AC_PROOF_FORMAT);
    assert_non_null(strstr(detail, "larger than a record"));
    free(text);
    free(big);
    free(buf);
    ac_free(p);
    ac_free(cp);
}

static void test_write_refuses(void **state)
{
    fixture *f = *state;
    size_t cplen, len;
    char *cp = checkpoint_of(f, N, f->key, &cplen), *out = NULL;
    ac_error err;
    assert_int_equal(ac_proof_write(0, f->body[0], f->len[0], NULL, 0, (const uint8_t *)cp, cplen - 1, &out, &len, &err), AC_ECORRUPT);
    assert_int_equal(ac_proof_write(0, f->body[0], 0, NULL, 0, (const uint8_t *)cp, cplen, &out, &len, &err), AC_EINVAL);
    assert_int_equal(ac_proof_write(0, f->body[0], f->len[0], NULL, AC_MERKLE_MAX_PROOF + 1, (const uint8_t *)cp, cplen, &out, &len, &err), AC_EINVAL);
    assert_null(out);
    ac_proof_result *r = NULL;
    ac_proof_policy pol = {0};
    assert_int_equal(ac_proof_verify((const uint8_t *)cp, cplen, NULL, &r, &err), AC_EINVAL);
    pol.n_log_keys = 1;
    assert_int_equal(ac_proof_verify((const uint8_t *)cp, cplen, &pol, &r, &err), AC_EINVAL);
    assert_string_equal(ac_proof_reason_name(AC_PROOF_WITNESSES), "witnesses");
    assert_string_equal(ac_proof_reason_name(AC_PROOF_OK), "");
    assert_string_equal(ac_proof_reason_name((ac_proof_reason)99), "unknown");
    ac_free(cp);
}

TU_MAIN(setup, teardown,
        cmocka_unit_test(test_every_record_proves),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_witnesses),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_write_refuses))
