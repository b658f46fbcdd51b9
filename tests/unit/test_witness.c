/* Unit tests for src/witness.c: the entropy witness map of section 5 (checked
 * with libcbor, independently of our own decoder, and byte for byte), and
 * reading witnesses back from a record. */
#include "testutil.h"

#include <fcntl.h>
#include <time.h>

#include <cbor.h>

#include "internal.h"

static uint64_t boottime_us(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &ts), 0);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The machine's boot id, parsed here independently of witness.c; 0 if none. */
static int machine_boot_id(uint8_t out[16])
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f == NULL)
        return 0;
    unsigned b[16];
    int n = fscanf(f, "%2x%2x%2x%2x-%2x%2x-%2x%2x-%2x%2x-%2x%2x%2x%2x%2x%2x", &b[0], &b[1],
                   &b[2], &b[3], &b[4], &b[5], &b[6], &b[7], &b[8], &b[9], &b[10], &b[11],
                   &b[12], &b[13], &b[14], &b[15]);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(n, 16);
    for (int i = 0; i < 16; i++)
        out[i] = (uint8_t)b[i];
    return 1;
}

static void test_collect_decodes(void **state)
{
    (void)state;
    uint8_t want_boot[16];
    int has_boot = machine_boot_id(want_boot);
    uint8_t got_boot[16];
    assert_int_equal(witness_boot_id(got_boot), has_boot ? 0 : -1);
    if (has_boot)
        assert_memory_equal(got_boot, want_boot, 16);
    uint64_t before = boottime_us();
    det_buf b = {0};
    witness_collect(has_boot ? want_boot : NULL, 12345, &b);
    uint64_t after = boottime_us();
    assert_false(b.failed);
    assert_non_null(b.data);

    /* Our own checker: one deterministic item, all of the buffer. */
    size_t pos = 0;
    assert_int_equal(det_item_skip(b.data, b.len, &pos, AC_MAX_DEPTH), 0);
    assert_int_equal(pos, b.len);

    struct cbor_load_result res;
    cbor_item_t *map = cbor_load(b.data, b.len, &res);
    assert_non_null(map);
    assert_int_equal(res.error.code, CBOR_ERR_NONE);
    assert_int_equal(res.read, b.len);
    assert_true(cbor_isa_map(map));
    assert_int_equal(cbor_map_size(map), has_boot ? 3 : 2);
    struct cbor_pair *pairs = cbor_map_handle(map);
    size_t i = 0;
    if (has_boot) {
        assert_true(tu_cbor_key_is(pairs[i].key, "boot_id"));
        assert_true(cbor_isa_bytestring(pairs[i].value));
        assert_int_equal(cbor_bytestring_length(pairs[i].value), 16);
        assert_memory_equal(cbor_bytestring_handle(pairs[i].value), want_boot, 16);
        i++;
    }
    assert_true(tu_cbor_key_is(pairs[i].key, "uptime_us"));
    assert_true(cbor_isa_uint(pairs[i].value));
    uint64_t up = cbor_get_int(pairs[i].value);
    assert_true(up >= before && up <= after);
    i++;
    assert_true(tu_cbor_key_is(pairs[i].key, "chain_size"));
    assert_true(cbor_isa_uint(pairs[i].value));
    assert_int_equal(cbor_get_int(pairs[i].value), 12345);
    cbor_decref(&map);
    det_buf_free(&b);
}

/* The exact bytes: keys shorter-first, shortest integer heads. */
static void test_collect_bytes(void **state)
{
    (void)state;
    uint8_t boot[16];
    int has_boot = machine_boot_id(boot);
    const struct {
        uint64_t size;
        uint8_t tail[9];
        size_t tail_len;
    } cases[] = {
        {0, {0x00}, 1},
        {23, {0x17}, 1},
        {24, {0x18, 0x18}, 2},
        {12345, {0x19, 0x30, 0x39}, 3},
        {UINT64_MAX, {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
    };
    static const uint8_t chain_key[] = {0x6a, 'c', 'h', 'a', 'i', 'n', '_', 's', 'i', 'z', 'e'};
    static const uint8_t boot_key[] = {0x67, 'b', 'o', 'o', 't', '_', 'i', 'd', 0x50};
    static const uint8_t up_key[] = {0x69, 'u', 'p', 't', 'i', 'm', 'e', '_', 'u', 's'};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        det_buf b = {0};
        witness_collect(has_boot ? boot : NULL, cases[c].size, &b);
        assert_false(b.failed);
        assert_int_equal(b.data[0], has_boot ? 0xa3 : 0xa2);
        size_t at = 1;
        if (has_boot) {
            assert_memory_equal(b.data + at, boot_key, sizeof boot_key);
            at += sizeof boot_key;
            assert_memory_equal(b.data + at, boot, 16);
            at += 16;
        }
        assert_memory_equal(b.data + at, up_key, sizeof up_key);
        size_t tail = sizeof chain_key + cases[c].tail_len;
        assert_true(b.len > at + tail);
        assert_memory_equal(b.data + b.len - tail, chain_key, sizeof chain_key);
        assert_memory_equal(b.data + b.len - cases[c].tail_len, cases[c].tail,
                            cases[c].tail_len);
        det_buf_free(&b);
    }
}

static void test_read_round_trip(void **state)
{
    (void)state;
    uint8_t boot[16];
    int has_boot = machine_boot_id(boot);
    det_buf b = {0};
    uint64_t before = boottime_us();
    witness_collect(has_boot ? boot : NULL, 987654321, &b);
    assert_false(b.failed);
    ac_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.claimed_ts = 1700000000123456u;
    rec.witnesses = b.data;
    rec.witnesses_len = b.len;
    witness_view v;
    memset(&v, 0xee, sizeof v); /* everything must be set by witness_read */
    witness_read(&rec, &v);
    assert_int_equal(v.claimed_ts, 1700000000123456u);
    assert_true(v.has_chain_size);
    assert_int_equal(v.chain_size, 987654321);
    assert_true(v.has_uptime);
    assert_true(v.uptime_us >= before && v.uptime_us <= boottime_us());
    assert_int_equal(v.has_boot_id, has_boot);
    if (has_boot)
        assert_memory_equal(v.boot_id, boot, 16);
    det_buf_free(&b);
}

/* Other writers' maps: unknown keys are skipped, keys of the wrong type ignored. */
static void test_read_foreign_maps(void **state)
{
    (void)state;
    static const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    det_buf b = {0};
    det_put_map(&b, 5); /* deterministic order: lengths 3, 7, 9, 10, 13 */
    det_put_text(&b, "foo", 3);
    det_put_array(&b, 1);
    det_put_uint(&b, 1);
    det_put_text(&b, "boot_id", 7);
    det_put_bytes(&b, id, 16);
    det_put_text(&b, "uptime_us", 9);
    det_put_uint(&b, 42);
    det_put_text(&b, "chain_size", 10);
    det_put_uint(&b, 7);
    det_put_text(&b, "zzzzzzzzzzzzz", 13);
    det_put_simple(&b, DET_NULL);
    assert_false(b.failed);
    size_t pos = 0;
    assert_int_equal(det_item_skip(b.data, b.len, &pos, AC_MAX_DEPTH), 0);

    ac_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.witnesses = b.data;
    rec.witnesses_len = b.len;
    witness_view v;
    witness_read(&rec, &v);
    assert_true(v.has_boot_id && v.has_uptime && v.has_chain_size);
    assert_memory_equal(v.boot_id, id, 16);
    assert_int_equal(v.uptime_us, 42);
    assert_int_equal(v.chain_size, 7);
    det_buf_free(&b);

    /* The right keys with the wrong types: all ignored. */
    det_buf w = {0};
    det_put_map(&w, 3);
    det_put_text(&w, "boot_id", 7);
    det_put_bytes(&w, id, 15); /* a UUID is 16 bytes */
    det_put_text(&w, "uptime_us", 9);
    det_put_negint(&w, 4);
    det_put_text(&w, "chain_size", 10);
    det_put_text(&w, "7", 1);
    assert_false(w.failed);
    rec.witnesses = w.data;
    rec.witnesses_len = w.len;
    rec.claimed_ts = 5;
    witness_read(&rec, &v);
    assert_false(v.has_boot_id || v.has_uptime || v.has_chain_size);
    assert_int_equal(v.claimed_ts, 5);
    det_buf_free(&w);

    /* An empty map, and no map at all. */
    static const uint8_t empty[] = {0xa0};
    rec.witnesses = empty;
    rec.witnesses_len = 1;
    witness_read(&rec, &v);
    assert_false(v.has_boot_id || v.has_uptime || v.has_chain_size);
    rec.witnesses = NULL;
    rec.witnesses_len = 0;
    witness_read(&rec, &v);
    assert_false(v.has_boot_id || v.has_uptime || v.has_chain_size);
    assert_int_equal(v.claimed_ts, 5);
}

static void test_now_us(void **state)
{
    (void)state;
    uint64_t t0 = (uint64_t)time(NULL);
    uint64_t now = ac_now_us();
    uint64_t t1 = (uint64_t)time(NULL);
    assert_true(now / 1000000u >= t0 && now / 1000000u <= t1);
    assert_true(ac_now_us() >= now);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_collect_decodes),
        cmocka_unit_test(test_collect_bytes),
        cmocka_unit_test(test_read_round_trip),
        cmocka_unit_test(test_read_foreign_maps),
        cmocka_unit_test(test_now_us))
