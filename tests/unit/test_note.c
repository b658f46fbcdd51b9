/* src/note.c: verifier keys, signed notes, checkpoints, cosignatures.
 *
 * The C2SP signed-note example (a vkey and a note made by Go's note
 * package) checks the key id, the vkey encoding and the verification
 * against someone else's bytes; our own checkpoints then round-trip; and
 * every malformed input of issue 8's list gets a one-line refusal. */
#include "testutil.h"

#include "internal.h"

/* From C2SP signed-note, "Verifier keys", "Example". */
static const char spec_vkey[] =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
static const char spec_note[] =
    "This is an example message.\n"
    "\n"
    "\xe2\x80\x94 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

#define EM "\xe2\x80\x94 "
static const char origin[] = "example.org/log";

static ac_vkey *vkey_of(const ac_key *key, const char *name, unsigned type)
{
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(key, pub);
    ac_vkey *v = NULL;
    TU_OK(ac_vkey_new(name, type, pub, &v, NULL));
    return v;
}

static char *sign_cp(const ac_key *key, uint64_t size, size_t *len)
{
    uint8_t root[AC_HASH_SIZE];
    memset(root, 0x42, sizeof root);
    char *cp = NULL;
    TU_OK(ac_checkpoint_sign(origin, size, root, key, &cp, len, NULL));
    return cp;
}

/* 1, 0 or a code: ac_checkpoint_parse then ac_checkpoint_verify. */
static int check_text(const char *text, size_t len, const ac_vkey *v, ac_error *err)
{
    ac_checkpoint *cp = NULL;
    int rc = ac_checkpoint_parse((const uint8_t *)text, len, &cp, err);
    if (rc != AC_OK)
        return rc;
    rc = ac_checkpoint_verify(cp, &v, 1, err);
    ac_checkpoint_free(cp);
    return rc;
}

static void test_spec_example(void **state)
{
    (void)state;
    ac_vkey *v = NULL;
    TU_OK(ac_vkey_parse(spec_vkey, &v, NULL));
    assert_string_equal(ac_vkey_name(v), "example.com/foo");
    assert_int_equal(ac_vkey_id(v), 0x530d903a);
    assert_int_equal(ac_vkey_type(v), AC_VKEY_ED25519);
    char *s = NULL;
    TU_OK(ac_vkey_string(v, &s, NULL));
    assert_string_equal(s, spec_vkey);
    ac_free(s);
    size_t text_len = 0;
    assert_int_equal(ac_note_verify((const uint8_t *)spec_note, strlen(spec_note),
                                    (const ac_vkey *const *)&v, 1, &text_len, NULL), 1);
    assert_int_equal(text_len, strlen("This is an example message.\n"));
    /* One changed byte of the text: the known key's signature fails. */
    char bad[sizeof spec_note];
    memcpy(bad, spec_note, sizeof spec_note);
    bad[0] = 't';
    ac_error err;
    assert_int_equal(ac_note_verify((const uint8_t *)bad, strlen(bad), (const ac_vkey *const *)&v, 1, NULL, &err), 0);
    assert_non_null(strstr(err.message, "does not verify"));
    ac_vkey_free(v);
}

static void test_vkey_strings(void **state)
{
    (void)state;
    ac_key *k = tu_new_key(NULL);
    ac_vkey *v = vkey_of(k, origin, AC_VKEY_ED25519), *back = NULL;
    char *s = NULL;
    TU_OK(ac_vkey_string(v, &s, NULL));
    TU_OK(ac_vkey_parse(s, &back, NULL));
    assert_int_equal(ac_vkey_id(back), ac_vkey_id(v));
    assert_memory_equal(ac_vkey_pubkey(back), ac_vkey_pubkey(v), AC_PUBKEY_SIZE);
    ac_vkey_free(back);
    /* The same key as a witness has another id. */
    ac_vkey *w = vkey_of(k, origin, AC_VKEY_COSIGNATURE);
    assert_int_not_equal(ac_vkey_id(w), ac_vkey_id(v));
    ac_vkey_free(w);

    static const char *const bad[] = {
        "",
        "example.com/foo",
        "example.com/foo+530d903a",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* id */
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* case */
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",   /* 7 digits */
        "example.com/fo +530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* space */
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",                 /* no name */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",   /* short */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2l",  /* stray bits */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k ", /* space */
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=", /* padding */
        "example.com/foo+530d903a+AgkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  /* type 2 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ac_error err;
        ac_vkey *x = NULL;
        if (ac_vkey_parse(bad[i], &x, &err) != AC_EINVAL)
            fail_msg("accepted vkey %zu: %s", i, bad[i]);
        assert_null(x);
        assert_non_null(strchr(err.message, ':'));
        assert_null(strchr(err.message, '\n'));
    }
    ac_vkey *x = NULL;
    uint8_t pub[AC_PUBKEY_SIZE] = {1};
    assert_int_equal(ac_vkey_new("a+b", AC_VKEY_ED25519, pub, &x, NULL), AC_EINVAL);
    assert_int_equal(ac_vkey_new("a b", AC_VKEY_ED25519, pub, &x, NULL), AC_EINVAL);
    assert_int_equal(ac_vkey_new("a\xc2\xa0" "b", AC_VKEY_ED25519, pub, &x, NULL), AC_EINVAL);
    assert_int_equal(ac_vkey_new("", AC_VKEY_ED25519, pub, &x, NULL), AC_EINVAL);
    assert_int_equal(ac_vkey_new("ok", 2, pub, &x, NULL), AC_EINVAL);
    ac_free(s);
    ac_vkey_free(v);
    ac_key_free(k);
}

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    ac_key *k = tu_new_key(NULL), *other = tu_new_key(NULL);
    ac_vkey *v = vkey_of(k, origin, AC_VKEY_ED25519);
    ac_vkey *vo = vkey_of(other, origin, AC_VKEY_ED25519);
    ac_vkey *vname = vkey_of(k, "example.org/other", AC_VKEY_ED25519);
    size_t len;
    char *text = sign_cp(k, 1234, &len);
    assert_int_equal(strlen(text), len);
    assert_memory_equal(text, "example.org/log\n1234\nQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\n\n" EM "example.org/log ",
                        strlen("example.org/log\n1234\nQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\n\n" EM "example.org/log "));
    ac_checkpoint *cp = NULL;
    TU_OK(ac_checkpoint_parse((const uint8_t *)text, len, &cp, NULL));
    assert_string_equal(ac_checkpoint_origin(cp), origin);
    assert_int_equal(ac_checkpoint_size(cp), 1234);
    uint8_t root[AC_HASH_SIZE];
    memset(root, 0x42, sizeof root);
    assert_memory_equal(ac_checkpoint_root(cp), root, AC_HASH_SIZE);
    size_t tl;
    ac_checkpoint_text(cp, &tl);
    assert_int_equal(tl, strlen("example.org/log\n1234\nQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\n"));
    assert_int_equal(ac_checkpoint_verify(cp, (const ac_vkey *const *)&v, 1, NULL), 1);
    ac_error err;
    assert_int_equal(ac_checkpoint_verify(cp, (const ac_vkey *const *)&vo, 1, &err), 0);
    assert_non_null(strstr(err.message, "not signed by a trusted key"));
    /* A key of another name is not the log's, even with the right key. */
    assert_int_equal(ac_checkpoint_verify(cp, (const ac_vkey *const *)&vname, 1, &err), 0);
    const ac_vkey *both[] = {vo, v};
    assert_int_equal(ac_checkpoint_verify(cp, both, 2, NULL), 1);
    assert_int_equal(ac_checkpoint_verify(cp, NULL, 0, &err), 0);
    /* Signing is deterministic: the same checkpoint, the same bytes. */
    size_t len2;
    char *again = sign_cp(k, 1234, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(text, again, len);
    /* Origins that are not key names are refused. */
    char *x = NULL;
    assert_int_equal(ac_checkpoint_sign("a b", 1, root, k, &x, &len2, NULL), AC_EINVAL);
    assert_int_equal(ac_checkpoint_sign("a+b", 1, root, k, &x, &len2, NULL), AC_EINVAL);
    assert_int_equal(ac_checkpoint_sign("", 1, root, k, &x, &len2, NULL), AC_EINVAL);
    assert_int_equal(ac_checkpoint_sign("a", UINT64_MAX, root, k, &x, &len2, NULL), AC_EINVAL);
    ac_free(again);
    ac_checkpoint_free(cp);
    ac_free(text);
    ac_vkey_free(v);
    ac_vkey_free(vo);
    ac_vkey_free(vname);
    ac_key_free(k);
    ac_key_free(other);
}

/* Every proper prefix of a signed checkpoint is refused. */
static void test_truncated(void **state)
{
    (void)state;
    ac_key *k = tu_new_key(NULL);
    ac_vkey *v = vkey_of(k, origin, AC_VKEY_ED25519);
    size_t len;
    char *text = sign_cp(k, 7, &len);
    for (size_t n = 0; n < len; n++) {
        ac_error err;
        int rc = check_text(text, n, v, &err);
        if (rc != AC_ECORRUPT)
            fail_msg("a prefix of %zu bytes: %d", n, rc);
        assert_null(strchr(err.message, '\n'));
    }
    assert_int_equal(check_text(text, len, v, NULL), 1);
    ac_free(text);
    ac_vkey_free(v);
    ac_key_free(k);
}

static void test_malformed(void **state)
{
    (void)state;
    ac_key *k = tu_new_key(NULL);
    ac_vkey *v = vkey_of(k, origin, AC_VKEY_ED25519);
    size_t len;
    char *good = sign_cp(k, 7, &len);
    const char *sig = strstr(good, EM);
    assert_non_null(sig);
    const char *b64 = strchr(sig + strlen(EM), ' ') + 1;
    char buf[8192];
    struct {
        const char *what, *from, *to;
        int want; /* AC_ECORRUPT: refused by the parser; 0: parsed, not verified */
    } cases[] = {
        {"leading zero in the size", "\n7\n", "\n07\n", AC_ECORRUPT},
        {"a sign in the size", "\n7\n", "\n+7\n", AC_ECORRUPT},
        {"size above 2^63-1", "\n7\n", "\n9223372036854775808\n", AC_ECORRUPT},
        {"empty size", "\n7\n", "\n\n", AC_ECORRUPT},
        {"root with stray bits", "QkI=\n", "QkJ=\n", AC_ECORRUPT},
        {"root without padding", "QkI=\n", "QkI\n", AC_ECORRUPT},
        {"root of 31 bytes", "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=", "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQg==", AC_ECORRUPT},
        {"a control character", "example.org/log\n", "example.org\t/log\n", AC_ECORRUPT},
        {"not UTF-8", "example.org/log\n", "example.org\xff/log\n", AC_ECORRUPT},
        {"no empty line", "\n\n" EM, "\n" EM, AC_ECORRUPT},
        {"a key name with a space", EM "example.org/log ", EM "example.org /log ", AC_ECORRUPT},
        {"a key name with a plus", EM "example.org/log ", EM "example.org+log ", AC_ECORRUPT},
        {"an empty key name", EM "example.org/log ", EM " ", AC_ECORRUPT},
        {"no em dash", EM, "- ", AC_ECORRUPT},
        {"an extension line", "=\n\n" EM, "=\next\n\n" EM, 0},
        {"an empty extension line", "=\n\n" EM, "=\n\next\n\n" EM, AC_ECORRUPT},
        {"another origin", "example.org/log\n7", "example.org/loh\n7", 0},
        {"another size", "\n7\n", "\n8\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_replace_first(good, cases[i].from, cases[i].to, buf, sizeof buf);
        ac_error err;
        err.message[0] = '\0';
        int rc = check_text(buf, strlen(buf), v, &err);
        if (rc != cases[i].want)
            fail_msg("%s: got %d, want %d (%s)", cases[i].what, rc, cases[i].want, err.message);
        assert_true(err.message[0] != '\0');
        assert_null(strchr(err.message, '\n'));
    }
    /* A line after the signatures, and a line that is no signature. */
    snprintf(buf, sizeof buf, "%shello\n", good);
    assert_int_equal(check_text(buf, strlen(buf), v, NULL), AC_ECORRUPT);
    snprintf(buf, sizeof buf, "%s" EM "example.org/log\n", good);
    assert_int_equal(check_text(buf, strlen(buf), v, NULL), AC_ECORRUPT);
    /* A signature of 4 bytes (a key id only). */
    snprintf(buf, sizeof buf, "%s" EM "x AAAAAA==\n", good);
    assert_int_equal(check_text(buf, strlen(buf), v, NULL), AC_ECORRUPT);
    /* The known key twice. */
    snprintf(buf, sizeof buf, "%s%s", good, sig);
    assert_int_equal(check_text(buf, strlen(buf), v, NULL), 0);
    /* The signature's last character changed: stray bits, or another value. */
    size_t blen = strlen(b64) - 1; /* without its newline */
    snprintf(buf, sizeof buf, "%s", good);
    buf[b64 - good + blen - 2] = buf[b64 - good + blen - 2] == 'B' ? 'C' : 'B';
    assert_true(check_text(buf, strlen(buf), v, NULL) <= 0);
    /* Truncated signature bytes of a known key: fails, does not crash. */
    snprintf(buf, sizeof buf, "%.*sAAAA\n", (int)(b64 - good), good);
    assert_int_equal(check_text(buf, strlen(buf), v, NULL), AC_ECORRUPT);
    snprintf(buf, sizeof buf, "%.*sU3RyYXk=\n", (int)(b64 - good), good);
    assert_int_equal(check_text(buf, strlen(buf), v, NULL), 0);
    ac_free(good);
    ac_vkey_free(v);
    ac_key_free(k);
}

/* Unknown keys' lines (other names, other key types) are ignored: up to
 * AC_NOTE_MAX_SIGNATURES lines in all, one more is refused. */
static void test_unknown_and_too_many(void **state)
{
    (void)state;
    ac_key *k = tu_new_key(NULL);
    ac_vkey *v = vkey_of(k, origin, AC_VKEY_ED25519);
    size_t len;
    char *good = sign_cp(k, 7, &len);
    size_t cap = len + 300 * 200;
    char *buf = malloc(cap);
    assert_non_null(buf);
    memcpy(buf, good, len);
    size_t used = len;
    /* A long signature of an unknown type (as a post-quantum one would be). */
    char longsig[4000];
    memset(longsig, 'A', sizeof longsig);
    longsig[sizeof longsig - 1] = '\0';
    used += (size_t)snprintf(buf + used, cap - used, EM "pq.example/w %s\n", longsig + 3);
    for (int i = 1; i < AC_NOTE_MAX_SIGNATURES - 1; i++)
        used += (size_t)snprintf(buf + used, cap - used, EM "w%d.example AAAAAAAAAAA=\n", i);
    assert_int_equal(check_text(buf, used, v, NULL), 1);
    used += (size_t)snprintf(buf + used, cap - used, EM "last.example AAAAAAAAAAA=\n");
    ac_error err;
    assert_int_equal(check_text(buf, used, v, &err), AC_ECORRUPT);
    assert_non_null(strstr(err.message, "signature lines"));
    /* 200 lines, as in the issue. */
    for (int i = 0; i < 100; i++)
        used += (size_t)snprintf(buf + used, cap - used, EM "x%d.example AAAAAAAAAAA=\n", i);
    assert_int_equal(check_text(buf, used, v, NULL), AC_ECORRUPT);
    /* A note of over AC_NOTE_MAX_SIZE bytes. */
    char *huge = calloc(1, AC_NOTE_MAX_SIZE + 2);
    assert_non_null(huge);
    memset(huge, 'a', AC_NOTE_MAX_SIZE + 1);
    assert_int_equal(check_text(huge, AC_NOTE_MAX_SIZE + 1, v, NULL), AC_ECORRUPT);
    free(huge);
    free(buf);
    ac_free(good);
    ac_vkey_free(v);
    ac_key_free(k);
}

static void test_cosignatures(void **state)
{
    (void)state;
    ac_key *k = tu_new_key(NULL), *w1 = tu_new_key(NULL), *w2 = tu_new_key(NULL);
    ac_vkey *v = vkey_of(k, origin, AC_VKEY_ED25519);
    ac_vkey *wv[2] = {vkey_of(w1, "w1.example", AC_VKEY_COSIGNATURE),
                      vkey_of(w2, "w2.example", AC_VKEY_COSIGNATURE)};
    size_t len, l1, l2;
    char *cp0 = sign_cp(k, 99, &len), *cp1 = NULL, *cp2 = NULL;
    TU_OK(ac_checkpoint_cosign((const uint8_t *)cp0, len, "w1.example", w1, 1700000000, &cp1, &l1, NULL));
    TU_OK(ac_checkpoint_cosign((const uint8_t *)cp1, l1, "w2.example", w2, 1700000001, &cp2, &l2, NULL));
    ac_checkpoint *cp = NULL;
    TU_OK(ac_checkpoint_parse((const uint8_t *)cp2, l2, &cp, NULL));
    assert_int_equal(ac_checkpoint_verify(cp, (const ac_vkey *const *)&v, 1, NULL), 1);
    size_t valid = 0;
    assert_int_equal(ac_checkpoint_verify_witnesses(cp, (const ac_vkey *const *)wv, 2, 2, &valid, NULL), 1);
    assert_int_equal(valid, 2);
    ac_error err;
    assert_int_equal(ac_checkpoint_verify_witnesses(cp, (const ac_vkey *const *)wv, 1, 2, &valid, &err), 0);
    assert_int_equal(valid, 1);
    assert_non_null(strstr(err.message, "1 of the 2"));
    /* A cosignature is no log signature, and a log key no witness. */
    ac_vkey *as_log = vkey_of(w1, "w1.example", AC_VKEY_ED25519);
    assert_int_equal(ac_note_verify((const uint8_t *)cp2, l2, (const ac_vkey *const *)&as_log, 1, NULL, NULL), 0);
    ac_vkey *as_witness = vkey_of(k, origin, AC_VKEY_COSIGNATURE);
    assert_int_equal(ac_checkpoint_verify_witnesses(cp, (const ac_vkey *const *)&as_witness, 1, 1, &valid, NULL), 0);
    ac_checkpoint_free(cp);
    /* The cosignature covers the timestamp: change one digit of it. */
    char *line = strstr(cp1 + len, "w1.example ") + strlen("w1.example ");
    uint8_t raw[76];
    size_t got;
    char *nl = strchr(line, '\n');
    assert_int_equal(b64_decode(line, (size_t)(nl - line), raw, sizeof raw, &got), 0);
    raw[11] ^= 1;
    char enc[120];
    b64_encode(raw, got, enc);
    memcpy(line, enc, strlen(enc));
    TU_OK(ac_checkpoint_parse((const uint8_t *)cp1, l1, &cp, NULL));
    assert_int_equal(ac_checkpoint_verify_witnesses(cp, (const ac_vkey *const *)wv, 2, 0, &valid, &err), 0);
    assert_non_null(strstr(err.message, "cosignature"));
    assert_int_equal(ac_checkpoint_verify(cp, (const ac_vkey *const *)&v, 1, NULL), 1);
    ac_checkpoint_free(cp);
    char *x = NULL;
    assert_int_equal(ac_checkpoint_cosign((const uint8_t *)cp0, len, "w1.example", w1, (uint64_t)INT64_MAX + 1, &x, &l1, NULL), AC_EINVAL);
    assert_int_equal(ac_checkpoint_cosign((const uint8_t *)cp0, len - 1, "w1.example", w1, 1, &x, &l1, NULL), AC_ECORRUPT);
    ac_vkey_free(as_log);
    ac_vkey_free(as_witness);
    ac_free(cp0);
    ac_free(cp1);
    ac_free(cp2);
    ac_vkey_free(v);
    ac_vkey_free(wv[0]);
    ac_vkey_free(wv[1]);
    ac_key_free(k);
    ac_key_free(w1);
    ac_key_free(w2);
}

static void test_base64_canonical(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n;
    assert_int_equal(b64_decode("AAEC", 4, out, sizeof out, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(b64_decode("AAE=", 4, out, sizeof out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(b64_decode("AAF=", 4, out, sizeof out, &n), -1); /* stray bits */
    assert_int_equal(b64_decode("AA==", 4, out, sizeof out, &n), 0);
    assert_int_equal(b64_decode("AB==", 4, out, sizeof out, &n), -1);
    assert_int_equal(b64_decode("AAE", 3, out, sizeof out, &n), -1);
    assert_int_equal(b64_decode("AA=E", 4, out, sizeof out, &n), -1);
    assert_int_equal(b64_decode("AA-_", 4, out, sizeof out, &n), -1); /* URL alphabet */
    assert_int_equal(b64_decode("AA E", 4, out, sizeof out, &n), -1);
    assert_int_equal(b64_decode("", 0, out, sizeof out, &n), -1);
    assert_int_equal(b64_decode("AAAAAAAA", 8, out, 5, &n), -1); /* does not fit */
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_vkey_strings),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unknown_and_too_many),
        cmocka_unit_test(test_cosignatures),
        cmocka_unit_test(test_base64_canonical))
