/* Unit tests for src/meta.c: building metadata (exact deterministic bytes,
 * limits, refusals) and rendering stored maps back as JSON. */
#include "testutil.h"

#include "internal.h"

/* ---------------------------------------------------------------- helpers */

/* A fresh ac_meta with `json` added, which must be accepted. */
static ac_meta *meta_of(const char *json)
{
    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    if (ac_meta_add_json(m, json, &err) != AC_OK)
        fail_msg("%s: %s", json, err.message);
    return m;
}

/* The encoded map after adding `json` to a fresh ac_meta must be `want`. */
static void expect_encoding(const char *json, const uint8_t *want, size_t want_len)
{
    ac_meta *m = meta_of(json);
    const uint8_t *enc;
    size_t len;
    TU_OK(meta_encoded(m, &enc, &len, NULL));
    assert_int_equal(len, want_len);
    assert_memory_equal(enc, want, want_len);
    ac_meta_free(m);
}

/* Adding `json` to a fresh ac_meta must fail with AC_EINVAL and, if `msg`
 * is not NULL, exactly that message. */
static void expect_rejected(const char *json, const char *msg)
{
    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    int rc = ac_meta_add_json(m, json, &err);
    if (rc != AC_EINVAL)
        fail_msg("%s: accepted (rc %d)", json, rc);
    assert_int_equal(err.code, AC_EINVAL);
    assert_true(strlen(err.message) > 0);
    if (msg != NULL)
        assert_string_equal(err.message, msg);
    assert_int_equal(ac_meta_count(m), 0);
    ac_meta_free(m);
}

/* JSON -> CBOR -> JSON must give `want` (NULL: the input itself). */
static void expect_round_trip(const char *json, const char *want)
{
    ac_meta *m = meta_of(json);
    ac_error err;
    const uint8_t *enc;
    size_t len;
    TU_OK(meta_encoded(m, &enc, &len, &err));
    char *out;
    TU_OK(meta_cbor_to_json(enc, len, &out, &err));
    assert_string_equal(out, want != NULL ? want : json);
    ac_free(out);
    ac_meta_free(m);
}

static void expect_cbor_rejected(const uint8_t *buf, size_t len)
{
    char *out = NULL;
    ac_error err;
    assert_int_equal(meta_cbor_to_json(buf, len, &out, &err), AC_ECORRUPT);
    assert_null(out);
}

/* `levels` nested JSON objects {"d":{"d":...{"d":"leaf"}}} (or arrays
 * [[...["leaf"]]]) as the value of key "deep". */
static char *nested_json(int levels, bool arrays)
{
    size_t cap = 64 + (size_t)levels * 8;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, cap, "{\"deep\":");
    for (int i = 0; i < levels; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s", arrays ? "[" : "{\"d\":");
    n += (size_t)snprintf(s + n, cap - n, "\"leaf\"");
    for (int i = 0; i < levels; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s", arrays ? "]" : "}");
    snprintf(s + n, cap - n, "}");
    return s;
}

/* ---------------------------------------------------------------- encoding */

static void test_empty(void **state)
{
    (void)state;
    const uint8_t *enc;
    size_t len;
    ac_error err;
    TU_OK(meta_encoded(NULL, &enc, &len, &err));
    assert_int_equal(len, 1);
    assert_int_equal(enc[0], 0xa0);

    ac_meta *m;
    TU_OK(ac_meta_new(&m, &err));
    assert_int_equal(ac_meta_count(m), 0);
    assert_int_equal(ac_meta_count(NULL), 0);
    TU_OK(meta_encoded(m, &enc, &len, &err));
    assert_int_equal(len, 1);
    assert_int_equal(enc[0], 0xa0);
    TU_OK(ac_meta_add_json(m, "{}", &err));
    assert_int_equal(ac_meta_count(m), 0);
    ac_meta_free(m);
    ac_meta_free(NULL);
}

static void test_exact_bytes(void **state)
{
    (void)state;
    static const uint8_t want[] = {0xa3, 0x61, 0x61, 0x02, 0x61, 0x62, 0x01,
                                   0x62, 0x61, 0x61, 0x03};
    expect_encoding("{\"b\":1,\"a\":2,\"aa\":3}", want, sizeof want);
    /* Whitespace and member order in the JSON do not matter. */
    expect_encoding(" { \"aa\" : 3 , \"b\" : 1 , \"a\" : 2 } ", want, sizeof want);
}

static void test_key_order(void **state)
{
    (void)state;
    /* Encoded length first: "" < "z" < "é" (2 bytes) < "aaa"; then bytewise. */
    static const uint8_t want[] = {0xa4, 0x60, 0x01, 0x61, 0x7a, 0x02, 0x62, 0xc3,
                                   0xa9, 0x03, 0x63, 0x61, 0x61, 0x61, 0x04};
    expect_encoding("{\"aaa\":4,\"\\u00e9\":3,\"z\":2,\"\":1}", want, sizeof want);

    /* A 24-byte key has a two-byte head and sorts after every 23-byte key,
     * though "a..." < "b..." bytewise. */
    const char *json = "{\"aaaaaaaaaaaaaaaaaaaaaaaa\":1,\"bbbbbbbbbbbbbbbbbbbbbbb\":2}";
    uint8_t want2[1 + 24 + 1 + 26 + 1];
    size_t n = 0;
    want2[n++] = 0xa2;
    want2[n++] = 0x77;
    memset(want2 + n, 'b', 23), n += 23;
    want2[n++] = 0x02;
    want2[n++] = 0x78;
    want2[n++] = 24;
    memset(want2 + n, 'a', 24), n += 24;
    want2[n++] = 0x01;
    expect_encoding(json, want2, n);
}

static void test_set_text_and_json_merge(void **state)
{
    (void)state;
    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    TU_OK(ac_meta_set_text(m, "b", "x", &err));
    TU_OK(ac_meta_add_json(m, "{\"aa\":1,\"c\":true}", &err));
    TU_OK(ac_meta_set_text(m, "a", "", &err));
    assert_int_equal(ac_meta_count(m), 4);
    static const uint8_t want[] = {0xa4, 0x61, 0x61, 0x60, 0x61, 0x62, 0x61, 0x78,
                                   0x61, 0x63, 0xf5, 0x62, 0x61, 0x61, 0x01};
    const uint8_t *enc;
    size_t len;
    TU_OK(meta_encoded(m, &enc, &len, &err));
    assert_int_equal(len, sizeof want);
    assert_memory_equal(enc, want, sizeof want);
    /* The pointer stays valid (and the same) while the map is unchanged. */
    const uint8_t *again;
    TU_OK(meta_encoded(m, &again, &len, &err));
    assert_ptr_equal(again, enc);
    ac_meta_free(m);
}

static void test_integers(void **state)
{
    (void)state;
    static const uint8_t m1[] = {0xa1, 0x61, 0x6e, 0x20};
    expect_encoding("{\"n\":-1}", m1, sizeof m1);
    static const uint8_t m24[] = {0xa1, 0x61, 0x6e, 0x37};
    expect_encoding("{\"n\":-24}", m24, sizeof m24);
    static const uint8_t m25[] = {0xa1, 0x61, 0x6e, 0x38, 0x18};
    expect_encoding("{\"n\":-25}", m25, sizeof m25);
    static const uint8_t p[] = {0xa1, 0x61, 0x6e, 0x19, 0x01, 0x00};
    expect_encoding("{\"n\":256}", p, sizeof p);
    static const uint8_t min[] = {0xa1, 0x61, 0x6e, 0x3b, 0x7f, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff};
    expect_encoding("{\"n\":-9223372036854775808}", min, sizeof min);
    static const uint8_t max[] = {0xa1, 0x61, 0x6e, 0x1b, 0x7f, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff};
    expect_encoding("{\"n\":9223372036854775807}", max, sizeof max);
}

static void test_big_int_escape(void **state)
{
    (void)state;
    static const uint8_t lo[] = {0xa1, 0x61, 0x6e, 0x3b, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_encoding("{\"n\":{\"$int\":\"-18446744073709551616\"}}", lo, sizeof lo);
    static const uint8_t hi[] = {0xa1, 0x61, 0x6e, 0x1b, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_encoding("{\"n\":{\"$int\":\"18446744073709551615\"}}", hi, sizeof hi);
    /* Within int64 it is an ordinary integer, in its shortest form. */
    static const uint8_t small[] = {0xa1, 0x61, 0x6e, 0x37};
    expect_encoding("{\"n\":{\"$int\":\"-24\"}}", small, sizeof small);
    static const uint8_t zero[] = {0xa1, 0x61, 0x6e, 0x00};
    expect_encoding("{\"n\":{\"$int\":\"0\"}}", zero, sizeof zero);

    static const char *const bad[] = {
        "{\"n\":{\"$int\":\"18446744073709551616\"}}",
        "{\"n\":{\"$int\":\"-18446744073709551617\"}}",
        "{\"n\":{\"$int\":\"99999999999999999999999\"}}",
        "{\"n\":{\"$int\":\"01\"}}",
        "{\"n\":{\"$int\":\"-0\"}}",
        "{\"n\":{\"$int\":\"\"}}",
        "{\"n\":{\"$int\":\"-\"}}",
        "{\"n\":{\"$int\":\"+1\"}}",
        "{\"n\":{\"$int\":\"1.0\"}}",
        "{\"n\":{\"$int\":\" 1\"}}",
        "{\"n\":{\"$int\":\"1\\u0000\"}}",
        "{\"n\":{\"$int\":5}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_rejected(bad[i], NULL);
}

static void test_bytes_escape(void **state)
{
    (void)state;
    static const uint8_t b[] = {0xa1, 0x61, 0x62, 0x42, 0x00, 0xff};
    expect_encoding("{\"b\":{\"$bytes\":\"00FF\"}}", b, sizeof b);
    expect_encoding("{\"b\":{\"$bytes\":\"00ff\"}}", b, sizeof b);
    static const uint8_t empty[] = {0xa1, 0x61, 0x62, 0x40};
    expect_encoding("{\"b\":{\"$bytes\":\"\"}}", empty, sizeof empty);
    /* With another member it is an ordinary map. */
    static const uint8_t map[] = {0xa1, 0x61, 0x62, 0xa2, 0x61, 0x78, 0x01, 0x66,
                                  '$',  'b',  'y',  't',  'e',  's',  0x60};
    expect_encoding("{\"b\":{\"$bytes\":\"\",\"x\":1}}", map, sizeof map);

    expect_rejected("{\"b\":{\"$bytes\":\"abc\"}}",
                    "metadata: \"b\": \"$bytes\" must be a string of hex digits (two per byte)");
    expect_rejected("{\"b\":{\"$bytes\":\"zz\"}}", NULL);
    expect_rejected("{\"b\":{\"$bytes\":1}}", NULL);
    expect_rejected("{\"b\":[{\"$bytes\":\"0\\u000000\"}]}", NULL);
}

static void test_nested(void **state)
{
    (void)state;
    static const uint8_t want[] = {0xa2, 0x61, 0x78, 0x82, 0x82, 0x01, 0x80, 0xa2,
                                   0x61, 0x61, 0xf6, 0x61, 0x62, 0xf5, 0x63, 0x79,
                                   0x79, 0x79, 0xa0};
    expect_encoding("{\"x\":[[1,[]],{\"b\":true,\"a\":null}],\"yyy\":{}}", want, sizeof want);
    static const uint8_t text[] = {0xa1, 0x61, 0x74, 0x64, 'h', 0xc3, 0xa9, 0x00};
    expect_encoding("{\"t\":\"h\\u00e9\\u0000\"}", text, sizeof text);
}

/* The metadata map is level 2 (the record is 1) and AC_MAX_DEPTH is 16:
 * 14 nested maps or arrays below it fit, 15 do not. */
static void test_depth(void **state)
{
    (void)state;
    for (int arrays = 0; arrays < 2; arrays++) {
        ac_meta *m;
        ac_error err;
        TU_OK(ac_meta_new(&m, &err));
        char *ok = nested_json(AC_MAX_DEPTH - 2, arrays);
        if (ac_meta_add_json(m, ok, &err) != AC_OK)
            fail_msg("%s: %s", ok, err.message);
        /* What was built decodes as a record's metadata would. */
        const uint8_t *enc;
        size_t len, pos = 0;
        TU_OK(meta_encoded(m, &enc, &len, &err));
        assert_int_equal(det_item_skip(enc, len, &pos, AC_MAX_DEPTH - 1), 0);
        assert_int_equal(pos, len);
        free(ok);
        ac_meta_free(m);

        char *deep = nested_json(AC_MAX_DEPTH - 1, arrays);
        expect_rejected(deep, NULL);
        free(deep);
    }
    char *deep = nested_json(AC_MAX_DEPTH - 1, false);
    expect_rejected(deep, "metadata: \"deep.d.d.d.d.d.d.d.d.d.d.d.d.d.d\": maps and arrays "
                          "nest too deep (at most 14 levels inside the metadata map)");
    free(deep);
    /* An escape is a scalar: it adds no level. */
    char *esc = nested_json(AC_MAX_DEPTH - 2, false);
    char *leaf = strstr(esc, "\"leaf\"");
    assert_non_null(leaf);
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s{\"$bytes\":\"00\"}%s", (int)(leaf - esc), esc, leaf + 6);
    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    TU_OK(ac_meta_add_json(m, buf, &err));
    ac_meta_free(m);
    free(esc);
}

static void test_floats_rejected(void **state)
{
    (void)state;
    expect_rejected("{\"f\":1.5}", "metadata: \"f\": numbers with a fraction or exponent are "
                                   "not allowed (the format has no floats)");
    expect_rejected("{\"f\":1e3}", NULL);
    expect_rejected("{\"f\":1.0}", NULL);
    expect_rejected("{\"a\":[1,-0.0]}", "metadata: \"a[1]\": numbers with a fraction or "
                                        "exponent are not allowed (the format has no floats)");
    expect_rejected("{\"a\":{\"b\":[2E-1]}}", NULL);
}

static void test_duplicates_rejected(void **state)
{
    (void)state;
    expect_rejected("{\"a\":1,\"a\":2}", NULL);
    expect_rejected("{\"x\":{\"a\":1,\"a\":1}}", NULL);

    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    TU_OK(ac_meta_add_json(m, "{\"k\":1,\"z\":2}", &err));
    assert_int_equal(ac_meta_set_text(m, "k", "v", &err), AC_EINVAL);
    assert_string_equal(err.message, "metadata key \"k\" given twice");
    TU_OK(ac_meta_set_text(m, "t", "v", &err));
    assert_int_equal(ac_meta_set_text(m, "t", "w", &err), AC_EINVAL);
    assert_string_equal(err.message, "metadata key \"t\" given twice");

    /* A JSON object that repeats one key is refused whole: nothing added. */
    const uint8_t *enc;
    size_t len;
    TU_OK(meta_encoded(m, &enc, &len, &err));
    uint8_t before[64];
    assert_true(len <= sizeof before);
    memcpy(before, enc, len);
    size_t before_len = len;
    assert_int_equal(ac_meta_add_json(m, "{\"new\":1,\"z\":3}", &err), AC_EINVAL);
    assert_string_equal(err.message, "metadata key \"z\" given twice");
    assert_int_equal(ac_meta_count(m), 3);
    TU_OK(meta_encoded(m, &enc, &len, &err));
    assert_int_equal(len, before_len);
    assert_memory_equal(enc, before, len);
    ac_meta_free(m);
}

static void test_top_level_must_be_object(void **state)
{
    (void)state;
    expect_rejected("[1]", "metadata: the JSON must be an object");
    expect_rejected("1", NULL);
    expect_rejected("\"s\"", NULL);
    expect_rejected("null", NULL);
    expect_rejected("", NULL);
    expect_rejected("{\"a\":1", NULL);
    expect_rejected("{\"a\":1} x", NULL);
    /* JSON integers beyond int64 need the $int escape. */
    expect_rejected("{\"n\":18446744073709551615}", NULL);

    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    assert_int_equal(ac_meta_add_json(m, NULL, &err), AC_EINVAL);
    assert_int_equal(ac_meta_add_json(NULL, "{}", &err), AC_EINVAL);
    assert_int_equal(ac_meta_set_text(m, NULL, "v", &err), AC_EINVAL);
    assert_int_equal(ac_meta_set_text(m, "k", NULL, &err), AC_EINVAL);
    assert_int_equal(ac_meta_new(NULL, &err), AC_EINVAL);
    ac_meta_free(m);
}

static void test_utf8_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xff", "\xc3\x28", "\xc0\xaf", /* overlong "/" */
        "\xed\xa0\x80",                 /* a surrogate */
        "\xf4\x90\x80\x80",             /* above U+10FFFF */
        "ok\xe2\x82",                   /* truncated */
    };
    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ac_meta_set_text(m, bad[i], "v", &err), AC_EINVAL);
        assert_int_equal(ac_meta_set_text(m, "k", bad[i], &err), AC_EINVAL);
        char json[64];
        snprintf(json, sizeof json, "{\"k\":\"%s\"}", bad[i]);
        assert_int_equal(ac_meta_add_json(m, json, &err), AC_EINVAL);
        snprintf(json, sizeof json, "{\"%s\":1}", bad[i]);
        assert_int_equal(ac_meta_add_json(m, json, &err), AC_EINVAL);
    }
    assert_int_equal(ac_meta_count(m), 0);
    TU_OK(ac_meta_set_text(m, "cl\xc3\xa9", "\xf0\x9f\x94\x91", &err));
    assert_int_equal(ac_meta_count(m), 1);
    ac_meta_free(m);
}

/* The encoded map may take 1,000,000 bytes and not one more. */
static void test_size_limit(void **state)
{
    (void)state;
    const size_t limit = 1000000, overhead = 1 + 2 + 5; /* map head, "k", text head */
    char *json = malloc(limit + 64);
    assert_non_null(json);
    for (size_t extra = 0; extra < 2; extra++) {
        size_t n = limit - overhead + extra;
        memcpy(json, "{\"k\":\"", 6);
        memset(json + 6, 'x', n);
        memcpy(json + 6 + n, "\"}", 3);
        ac_meta *m;
        ac_error err;
        TU_OK(ac_meta_new(&m, &err));
        int rc = ac_meta_add_json(m, json, &err);
        assert_int_equal(rc, extra ? AC_EINVAL : AC_OK);
        if (rc == AC_OK) {
            const uint8_t *enc;
            size_t len;
            TU_OK(meta_encoded(m, &enc, &len, &err));
            assert_int_equal(len, limit);
            /* Full: one more key does not fit. */
            assert_int_equal(ac_meta_set_text(m, "a", "", &err), AC_EINVAL);
            assert_int_equal(ac_meta_count(m), 1);
        }
        ac_meta_free(m);
    }
    /* Also through set_text, and spread over many keys. */
    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    memset(json, 'y', limit);
    json[limit] = '\0';
    assert_int_equal(ac_meta_set_text(m, "k", json, &err), AC_EINVAL);
    json[limit / 2] = '\0';
    TU_OK(ac_meta_set_text(m, "k1", json, &err));
    assert_int_equal(ac_meta_set_text(m, "k2", json, &err), AC_EINVAL);
    assert_int_equal(ac_meta_count(m), 1);
    ac_meta_free(m);
    free(json);
}

/* ---------------------------------------------------------------- rendering */

static void test_round_trip(void **state)
{
    (void)state;
    /* In deterministic key order already, so it must come back unchanged. */
    expect_round_trip("{\"a\":[1,-2,\"x\",{\"$bytes\":\"0001\"},true,false,null,{\"k\":\"v\"}],"
                      "\"e\":{},\"s\":\"h\\u0000\xc3\xa9\",\"big\":{\"$int\":\"18446744073709551615\"},"
                      "\"min\":{\"$int\":\"-18446744073709551616\"},"
                      "\"n65\":{\"$int\":\"-9223372036854775809\"},\"neg\":-9223372036854775808,"
                      "\"pos\":9223372036854775807,\"u64\":{\"$int\":\"9223372036854775808\"},"
                      "\"emptyb\":{\"$bytes\":\"\"}}",
                      NULL);
    /* Escapes within int64 and upper-case hex come back in their usual form;
     * members come back in deterministic order. */
    expect_round_trip("{\"zz\":{\"$int\":\"-5\"},\"b\":{\"$bytes\":\"ABCD\"},\"a\":[]}",
                      "{\"a\":[],\"b\":{\"$bytes\":\"abcd\"},\"zz\":-5}");
    /* The rendering reads back to the same bytes. */
    ac_meta *m1, *m2;
    ac_error err;
    TU_OK(ac_meta_new(&m1, &err));
    TU_OK(ac_meta_new(&m2, &err));
    TU_OK(ac_meta_add_json(m1, "{\"q\":[{\"$int\":\"-18446744073709551616\"},{\"x\":[[]]}],"
                               "\"b\":{\"$bytes\":\"ff\"}}",
                           &err));
    const uint8_t *e1, *e2;
    size_t l1, l2;
    TU_OK(meta_encoded(m1, &e1, &l1, &err));
    char *json;
    TU_OK(meta_cbor_to_json(e1, l1, &json, &err));
    TU_OK(ac_meta_add_json(m2, json, &err));
    TU_OK(meta_encoded(m2, &e2, &l2, &err));
    assert_int_equal(l1, l2);
    assert_memory_equal(e1, e2, l1);
    ac_free(json);
    ac_meta_free(m1);
    ac_meta_free(m2);
}

static void test_render_refuses_bad_cbor(void **state)
{
    (void)state;
    static const uint8_t trailing[] = {0xa0, 0x00};
    expect_cbor_rejected(trailing, sizeof trailing);
    static const uint8_t long_head[] = {0xa1, 0x61, 0x61, 0x18, 0x01};
    expect_cbor_rejected(long_head, sizeof long_head);
    static const uint8_t unsorted[] = {0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02};
    expect_cbor_rejected(unsorted, sizeof unsorted);
    static const uint8_t dup[] = {0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02};
    expect_cbor_rejected(dup, sizeof dup);
    static const uint8_t int_key[] = {0xa1, 0x01, 0x02};
    expect_cbor_rejected(int_key, sizeof int_key);
    static const uint8_t flt[] = {0xa1, 0x61, 0x61, 0xf9, 0x3c, 0x00};
    expect_cbor_rejected(flt, sizeof flt);
    static const uint8_t truncated[] = {0xa2, 0x61, 0x61, 0x01};
    expect_cbor_rejected(truncated, sizeof truncated);
    static const uint8_t huge_count[] = {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_cbor_rejected(huge_count, sizeof huge_count);
    static const uint8_t bad_utf8[] = {0xa1, 0x61, 0x61, 0x61, 0xff};
    expect_cbor_rejected(bad_utf8, sizeof bad_utf8);
    expect_cbor_rejected(trailing, 0);
    /* 16 nested arrays: one too many below a record. */
    uint8_t deep[AC_MAX_DEPTH];
    memset(deep, 0x81, sizeof deep);
    deep[sizeof deep - 1] = 0x80;
    expect_cbor_rejected(deep, sizeof deep);
    char *out;
    ac_error err;
    TU_OK(meta_cbor_to_json(deep + 1, sizeof deep - 1, &out, &err));
    ac_free(out);
}

/* Reads the first record of a vector chain into a new buffer. */
static uint8_t *first_record(const char *rel, size_t *len)
{
    size_t flen;
    uint8_t *file = tu_read_vector(rel, &flen);
    assert_true(flen >= 4);
    size_t n = tu_get_be32(file);
    assert_true(n > 0 && n <= AC_MAX_RECORD_SIZE && n <= flen - 4);
    memmove(file, file + 4, n); /* the body, at the start of the buffer */
    *len = n;
    return file;
}

/* The JSON of one map-valued key of a record. */
static char *record_value_json(const uint8_t *body, size_t len, const char *key)
{
    size_t start, end;
    assert_int_equal(det_map_find(body, len, key, &start), 0);
    end = start;
    assert_int_equal(det_item_skip(body, len, &end, AC_MAX_DEPTH - 1), 0);
    char *json;
    ac_error err;
    TU_OK(meta_cbor_to_json(body + start, end - start, &json, &err));
    return json;
}

static void test_vector_metadata_kinds(void **state)
{
    (void)state;
    size_t len;
    uint8_t *body = first_record("valid-metadata-kinds/chain.bin", &len);
    /* Derived from the vector with cbor2: keys in the record's order,
     * bytes as {"$bytes": hex}. */
    static const char want_meta[] =
        "{\"a\":[1,-2,\"x\",{\"$bytes\":\"0001\"},true,false,null,{\"k\":\"v\"}],"
        "\"neg\":-9223372036854775808,"
        "\"deep\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":{\"d\":"
        "{\"d\":{\"d\":{\"d\":\"leaf\"}}}}}}}}}}}}}},"
        "\"a_much_longer_key_than_twenty_three\":9223372036854775807}";
    static const char want_wit[] =
        "{\"boot_id\":{\"$bytes\":\"42424242424242424242424242424242\"},"
        "\"uptime_us\":6000000,\"chain_size\":0}";
    char *meta = record_value_json(body, len, "metadata");
    assert_string_equal(meta, want_meta);
    char *wit = record_value_json(body, len, "entropy_witnesses");
    assert_string_equal(wit, want_wit);

    /* Built from its own JSON, the metadata is byte for byte the vector's. */
    size_t start, end;
    assert_int_equal(det_map_find(body, len, "metadata", &start), 0);
    end = start;
    assert_int_equal(det_item_skip(body, len, &end, AC_MAX_DEPTH - 1), 0);
    ac_meta *m;
    ac_error err;
    TU_OK(ac_meta_new(&m, &err));
    TU_OK(ac_meta_add_json(m, meta, &err));
    const uint8_t *enc;
    size_t enc_len;
    TU_OK(meta_encoded(m, &enc, &enc_len, &err));
    assert_int_equal(enc_len, end - start);
    assert_memory_equal(enc, body + start, enc_len);

    ac_meta_free(m);
    ac_free(meta);
    ac_free(wit);
    free(body);
}

/* A map whose one key is an escape's name is written and read back as
 * {"$map": {...}}, so it is never taken for the byte string or integer. */
static void test_map_escape(void **state)
{
    (void)state;
    /* {"a": {"$bytes": "00"}} as a map holding text: A1 61 61 A1 66 "$bytes" 62 "00" */
    static const uint8_t text_map[] = {0xa1, 0x61, 'a', 0xa1, 0x66, '$', 'b', 'y', 't', 'e',
                                       's', 0x62, '0', '0'};
    expect_encoding("{\"a\":{\"$map\":{\"$bytes\":\"00\"}}}", text_map, sizeof text_map);
    /* ...whereas the escape itself is the byte string h'00'. */
    static const uint8_t bytes[] = {0xa1, 0x61, 'a', 0x41, 0x00};
    expect_encoding("{\"a\":{\"$bytes\":\"00\"}}", bytes, sizeof bytes);
    expect_round_trip("{\"a\":{\"$map\":{\"$bytes\":\"00\"}}}", NULL);
    expect_round_trip("{\"a\":{\"$map\":{\"$int\":1}}}", NULL);
    /* An escape inside: the inner {"$map":{}} is the empty map, so the value
     * is {"$map": {}} as a map, written back with one wrapper. */
    expect_round_trip("{\"a\":{\"$map\":{\"$map\":{\"$map\":{}}}}}",
                      "{\"a\":{\"$map\":{\"$map\":{}}}}");
    expect_round_trip("{\"a\":{\"$map\":{\"$map\":{}}}}", NULL);
    expect_round_trip("{\"a\":{\"$bytes\":\"00\"}}", NULL);
    /* Two keys are an ordinary map: no escape needed either way. */
    expect_round_trip("{\"a\":{\"b\":1,\"$bytes\":\"00\"}}", NULL);
    expect_rejected("{\"a\":{\"$map\":[1]}}", NULL);
    /* The metadata map itself is never an escape. */
    expect_round_trip("{\"$bytes\":\"00\"}", NULL);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_key_order),
        cmocka_unit_test(test_set_text_and_json_merge),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_big_int_escape),
        cmocka_unit_test(test_bytes_escape),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_floats_rejected),
        cmocka_unit_test(test_duplicates_rejected),
        cmocka_unit_test(test_top_level_must_be_object),
        cmocka_unit_test(test_utf8_rejected),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_render_refuses_bad_cbor),
        cmocka_unit_test(test_vector_metadata_kinds),
        cmocka_unit_test(test_map_escape))
