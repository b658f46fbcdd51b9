/* Unit tests for src/evidence.c: evidence of a fork written, then checked
 * with the log's verifier key alone.  Checkpoints: one size and two roots,
 * a larger tree whose prefix has another root (proved by a consistency
 * proof), and what proves nothing (consistent checkpoints, a tampered
 * proof, another origin, an untrusted key, a malformed file).  Records: two
 * records at one index after one history, with and without the prefix, and
 * what proves nothing (one record twice, records 0, a broken prefix). */
#include "testutil.h"

#include "internal.h"

#define ORIGIN "example.org/fork"

/* Two trees of 5 leaves that share the first 2 and differ from leaf 2 on. */
typedef struct trees {
    ac_merkle_mem *a, *b;
    ac_key *key;
    ac_vkey *vkey;
} trees;

static void trees_make(trees *t)
{
    TU_OK(ac_merkle_mem_new(&t->a, NULL));
    TU_OK(ac_merkle_mem_new(&t->b, NULL));
    for (int i = 0; i < 5; i++) {
        char leaf[16];
        int n = snprintf(leaf, sizeof leaf, "leaf %d", i);
        TU_OK(ac_merkle_mem_append(t->a, leaf, (size_t)n, NULL));
        if (i >= 2)
            leaf[0] = 'L';
        TU_OK(ac_merkle_mem_append(t->b, leaf, (size_t)n, NULL));
    }
    uint8_t pub[AC_PUBKEY_SIZE];
    t->key = tu_new_key(pub);
    TU_OK(ac_vkey_new(ORIGIN, AC_VKEY_ED25519, pub, &t->vkey, NULL));
}

static void trees_free(trees *t)
{
    ac_merkle_mem_free(t->a);
    ac_merkle_mem_free(t->b);
    ac_key_free(t->key);
    ac_vkey_free(t->vkey);
}

static char *signed_cp(trees *t, ac_merkle_mem *m, uint64_t size, const char *origin, size_t *len)
{
    uint8_t root[AC_HASH_SIZE];
    TU_OK(ac_merkle_tree_hash(size, ac_merkle_mem_read, m, root, NULL));
    char *cp;
    TU_OK(ac_checkpoint_sign(origin, size, root, t->key, &cp, len, NULL));
    return cp;
}

/* Evidence of a checkpoint of size `small` of tree s against one of size
 * `large` of tree g (either may be the larger), with the larger tree's root
 * at the smaller size and the proof from there. */
static char *cp_evidence(trees *t, ac_merkle_mem *s, uint64_t small, ac_merkle_mem *g,
                         uint64_t large, size_t *len)
{
    size_t alen, blen, count = 0;
    char *a = signed_cp(t, s, small, ORIGIN, &alen);
    char *b = signed_cp(t, g, large, ORIGIN, &blen);
    uint8_t old[AC_HASH_SIZE], proof[AC_MERKLE_MAX_PROOF][AC_HASH_SIZE];
    if (small != large) {
        ac_merkle_mem *big = small < large ? g : s;
        uint64_t lo = small < large ? small : large, hi = small < large ? large : small;
        TU_OK(ac_merkle_tree_hash(lo, ac_merkle_mem_read, big, old, NULL));
        TU_OK(ac_merkle_prove_tree(lo, hi, ac_merkle_mem_read, big, proof, &count, NULL));
    }
    char *ev;
    TU_OK(ac_evidence_checkpoints((uint8_t *)a, alen, (uint8_t *)b, blen,
                                  small != large ? old : NULL,
                                  (const uint8_t(*)[AC_HASH_SIZE])proof, count, &ev, len, NULL));
    ac_free(a);
    ac_free(b);
    return ev;
}

static int check(const char *ev, size_t len, const ac_vkey *key, ac_evidence_info *info,
                 ac_error *err)
{
    const ac_vkey *keys[] = {key};
    return ac_evidence_verify((const uint8_t *)ev, len, keys, 1, info, err);
}

static void test_checkpoints_fork(void **state)
{
    (void)state;
    trees t;
    trees_make(&t);
    ac_evidence_info info;
    ac_error err;
    size_t len;

    /* One size, two roots. */
    char *ev = cp_evidence(&t, t.a, 4, t.b, 4, &len);
    assert_int_equal(check(ev, len, t.vkey, &info, &err), 1);
    assert_int_equal(info.kind, AC_EVIDENCE_CHECKPOINTS);
    assert_string_equal(info.origin, ORIGIN);
    assert_int_equal(info.size_a, 4);
    ac_free(ev);

    /* A's 3 against B's 5: B had another root at 3. */
    ev = cp_evidence(&t, t.a, 3, t.b, 5, &len);
    assert_int_equal(check(ev, len, t.vkey, &info, &err), 1);
    assert_int_equal(info.size_a, 3);
    assert_int_equal(info.size_b, 5);
    /* ... which nobody else's key makes evidence. */
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key *other = tu_new_key(pub);
    ac_vkey *ov;
    TU_OK(ac_vkey_new(ORIGIN, AC_VKEY_ED25519, pub, &ov, NULL));
    assert_int_equal(check(ev, len, ov, &info, &err), 0);
    assert_int_equal(err.code, AC_ECORRUPT);
    ac_vkey_free(ov);
    ac_key_free(other);
    /* A flipped proof hash proves nothing. */
    char *proof_line = strstr(ev, "\n\n") - 44;
    proof_line[3] = proof_line[3] == 'A' ? 'B' : 'A';
    assert_int_equal(check(ev, len, t.vkey, &info, &err), 0);
    ac_free(ev);

    /* Larger first in the file works too. */
    ev = cp_evidence(&t, t.b, 5, t.a, 2, &len);
    assert_int_equal(check(ev, len, t.vkey, &info, &err), 0); /* 2 is shared: consistent */
    assert_non_null(strstr(err.message, "consistent"));
    ac_free(ev);
    trees_free(&t);
}

static void test_checkpoints_no_fork(void **state)
{
    (void)state;
    trees t;
    trees_make(&t);
    ac_evidence_info info;
    ac_error err;
    size_t len;
    char *ev = cp_evidence(&t, t.a, 3, t.a, 5, &len);
    assert_int_equal(check(ev, len, t.vkey, &info, &err), 0);
    ac_free(ev);
    ev = cp_evidence(&t, t.a, 5, t.a, 5, &len);
    assert_int_equal(check(ev, len, t.vkey, &info, &err), 0);
    assert_non_null(strstr(err.message, "agree"));
    ac_free(ev);

    /* Another origin, and a cut-off file. */
    size_t alen, blen;
    char *a = signed_cp(&t, t.a, 4, ORIGIN, &alen);
    char *b = signed_cp(&t, t.b, 4, "example.org/other", &blen);
    TU_OK(ac_evidence_checkpoints((uint8_t *)a, alen, (uint8_t *)b, blen, NULL, NULL, 0, &ev,
                                  &len, NULL));
    const ac_vkey *keys[2] = {t.vkey, NULL};
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(t.key, pub);
    ac_vkey *v2;
    TU_OK(ac_vkey_new("example.org/other", AC_VKEY_ED25519, pub, &v2, NULL));
    keys[1] = v2;
    assert_int_equal(ac_evidence_verify((uint8_t *)ev, len, keys, 2, &info, &err), 0);
    assert_non_null(strstr(err.message, "two origins"));
    for (size_t cut = 0; cut < len; cut += 7)
        assert_int_equal(ac_evidence_verify((uint8_t *)ev, cut, keys, 2, &info, &err), 0);
    ac_vkey_free(v2);
    ac_free(ev);
    ac_free(a);
    ac_free(b);
    static const char junk[] = "attestchain-evidence v1\nkind spoons\n";
    assert_int_equal(check(junk, strlen(junk), t.vkey, &info, &err), 0);
    assert_int_equal(check("", 0, t.vkey, &info, &err), 0);
    assert_int_equal(ac_evidence_verify(NULL, 0, NULL, 0, &info, &err), AC_EINVAL);
    trees_free(&t);
}

/* ---------------------------------------------------------------- records */

/* Chain x: 5 records; chain y: x's first 3, then 2 of its own, one key. */
typedef struct forked {
    char base[4096], x[4200], y[4200];
    ac_key *key;
    ac_vkey *vkey;
    uint8_t *xb[5], *yb[5];
    size_t xl[5], yl[5];
} forked;

static void bodies_of(const char *dir, uint8_t **b, size_t *l)
{
    ac_chain *c = tu_open_chain(dir, AC_OPEN_READONLY);
    for (uint64_t i = 0; i < 5; i++) {
        ac_record *r;
        TU_OK(ac_chain_get_verified(c, i, &r, NULL));
        const uint8_t *p = ac_record_bytes(r, &l[i]);
        b[i] = malloc(l[i]);
        memcpy(b[i], p, l[i]);
        ac_record_free(r);
    }
    tu_close_chain(c);
}

static void forked_make(forked *f)
{
    tu_tmpdir(f->base, sizeof f->base);
    tu_path_in(f->x, sizeof f->x, f->base, "x");
    tu_path_in(f->y, sizeof f->y, f->base, "y");
    uint8_t pub[AC_PUBKEY_SIZE];
    f->key = tu_new_key(pub);
    TU_OK(ac_vkey_new(ORIGIN, AC_VKEY_ED25519, pub, &f->vkey, NULL));
    tu_make_chain(f->x, f->key, 5);
    bodies_of(f->x, f->xb, f->xl);
    ac_chain *c = tu_open_chain(f->y, AC_OPEN_CREATE);
    TU_OK(ac_import(c, (const uint8_t *const *)f->xb, f->xl, 3, NULL, NULL));
    tu_append_ok(c, f->key, 3, 2, NULL);
    tu_close_chain(c);
    bodies_of(f->y, f->yb, f->yl);
}

static void forked_free(forked *f)
{
    for (int i = 0; i < 5; i++) {
        free(f->xb[i]);
        free(f->yb[i]);
    }
    ac_key_free(f->key);
    ac_vkey_free(f->vkey);
    tu_rmtree(f->base);
}

static int records_check(forked *f, size_t nprefix, const uint8_t *a, size_t al, const uint8_t *b,
                         size_t bl, const ac_vkey *key, ac_evidence_info *info, ac_error *err)
{
    char *ev;
    size_t len;
    TU_OK(ac_evidence_records((const uint8_t *const *)f->xb, f->xl, nprefix, a, al, b, bl, &ev,
                              &len, NULL));
    int v = check(ev, len, key, info, err);
    ac_free(ev);
    return v;
}

static void test_records_fork(void **state)
{
    (void)state;
    forked f;
    forked_make(&f);
    ac_evidence_info info;
    ac_error err;
    assert_int_equal(records_check(&f, 3, f.xb[3], f.xl[3], f.yb[3], f.yl[3], f.vkey, &info, &err), 1);
    assert_int_equal(info.kind, AC_EVIDENCE_RECORDS);
    assert_int_equal(info.index, 3);
    assert_memory_not_equal(info.hash_a, info.hash_b, AC_HASH_SIZE);
    /* Without the prefix: the signer itself must be trusted. */
    assert_int_equal(records_check(&f, 0, f.xb[3], f.xl[3], f.yb[3], f.yl[3], f.vkey, &info, &err), 1);
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key *other = tu_new_key(pub);
    ac_vkey *ov;
    TU_OK(ac_vkey_new(ORIGIN, AC_VKEY_ED25519, pub, &ov, NULL));
    assert_int_equal(records_check(&f, 3, f.xb[3], f.xl[3], f.yb[3], f.yl[3], ov, &info, &err), 0);
    assert_int_equal(records_check(&f, 0, f.xb[3], f.xl[3], f.yb[3], f.yl[3], ov, &info, &err), 0);
    ac_vkey_free(ov);
    ac_key_free(other);
    forked_free(&f);
}

static void test_records_no_fork(void **state)
{
    (void)state;
    forked f;
    forked_make(&f);
    ac_evidence_info info;
    ac_error err;
    /* One record twice. */
    assert_int_equal(records_check(&f, 3, f.xb[3], f.xl[3], f.xb[3], f.xl[3], f.vkey, &info, &err), 0);
    /* Two records of different indices, and records after different ones. */
    assert_int_equal(records_check(&f, 0, f.xb[3], f.xl[3], f.yb[4], f.yl[4], f.vkey, &info, &err), 0);
    assert_int_equal(records_check(&f, 3, f.xb[4], f.xl[4], f.yb[4], f.yl[4], f.vkey, &info, &err), 0);
    /* Two records 0 are two chains. */
    assert_int_equal(records_check(&f, 0, f.xb[0], f.xl[0], f.yb[1], f.yl[1], f.vkey, &info, &err), 0);
    /* A forged signature. */
    f.yb[3][f.yl[3] - 5] ^= 1;
    assert_int_equal(records_check(&f, 3, f.xb[3], f.xl[3], f.yb[3], f.yl[3], f.vkey, &info, &err), 0);
    assert_non_null(strstr(err.message, "signature"));
    f.yb[3][f.yl[3] - 5] ^= 1;
    /* A broken prefix. */
    f.xb[1][f.xl[1] - 5] ^= 1;
    assert_int_equal(records_check(&f, 3, f.xb[3], f.xl[3], f.yb[3], f.yl[3], f.vkey, &info, &err), 0);
    assert_non_null(strstr(err.message, "prefix record 1"));
    f.xb[1][f.xl[1] - 5] ^= 1;
    static const char bad[] = "attestchain-evidence v1\nkind records\nframe AAAA\n";
    assert_int_equal(check(bad, strlen(bad), f.vkey, &info, &err), 0);
    forked_free(&f);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_checkpoints_fork),
        cmocka_unit_test(test_checkpoints_no_fork),
        cmocka_unit_test(test_records_fork),
        cmocka_unit_test(test_records_no_fork))
