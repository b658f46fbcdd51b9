/* Unit tests of src/error.c: codes, messages, names. */
#include <errno.h>

#include "testutil.h"
#include "internal.h"

static void test_strerror_every_code(void **state)
{
    (void)state;
    static const int codes[] = {AC_OK, AC_EINVAL, AC_ENOMEM, AC_EIO, AC_ECORRUPT, AC_ENOTFOUND,
                                AC_EUNAUTHORIZED, AC_EKEY, AC_EEXIST, AC_ECRYPTO,
                                AC_EPASSPHRASE};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = ac_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < i; j++) /* each code says something of its own */
            assert_string_not_equal(s, ac_strerror(codes[j]));
    }
    assert_string_equal(ac_strerror(-1000), "unknown error");
    assert_string_equal(ac_strerror(7), "unknown error");
}

static void test_fail_fills_error(void **state)
{
    (void)state;
    ac_error err;
    ac_error_clear(&err);
    assert_int_equal(err.code, AC_OK);
    assert_int_equal(err.index, -1);
    assert_int_equal(ac_fail(&err, AC_ECORRUPT, 12, "%s/chain.bin: record %d: bad", "d", 12),
                     AC_ECORRUPT);
    assert_int_equal(err.code, AC_ECORRUPT);
    assert_int_equal(err.index, 12);
    assert_int_equal(err.sys_errno, 0);
    assert_string_equal(err.message, "d/chain.bin: record 12: bad");
    /* NULL is allowed everywhere: the code still comes back. */
    assert_int_equal(ac_fail(NULL, AC_EIO, -1, "x"), AC_EIO);
    assert_int_equal(ac_fail_errno(NULL, AC_EIO, -1, "x"), AC_EIO);
    ac_error_clear(NULL);
}

static void test_fail_errno_keeps_errno(void **state)
{
    (void)state;
    ac_error err;
    errno = ENOSPC;
    assert_int_equal(ac_fail_errno(&err, AC_EIO, 3, "%s: append failed", "c/chain.bin"), AC_EIO);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(err.sys_errno, ENOSPC);
    char want[600];
    snprintf(want, sizeof want, "c/chain.bin: append failed: %s", strerror(ENOSPC));
    assert_string_equal(err.message, want);
}

static void test_long_message_is_cut_not_overrun(void **state)
{
    (void)state;
    ac_error err;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    errno = EIO;
    ac_fail_errno(&err, AC_EIO, -1, "%s", big);
    assert_int_equal(strlen(err.message), sizeof err.message - 1);
    ac_fail(&err, AC_EIO, -1, "%s", big);
    assert_int_equal(strlen(err.message), sizeof err.message - 1);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const reasons[] = {"", "frame", "decode", "index", "genesis",
                                          "link", "signature", "unauthorized", "rotation"};
    for (int r = AC_REASON_NONE; r <= AC_REASON_ROTATION; r++)
        assert_string_equal(ac_reason_name((ac_reason)r), reasons[r]);
    assert_string_equal(ac_reason_name((ac_reason)99), "unknown");
    assert_string_equal(ac_warning_name(AC_WARN_TORN_TAIL), "torn_tail");
    assert_string_equal(ac_warning_name(AC_WARN_CLOCK), "clock");
    assert_string_equal(ac_warning_name(AC_WARN_CHAIN_SIZE), "chain_size");
    assert_string_equal(ac_warning_name((ac_warning_code)0), "unknown");
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_strerror_every_code),
        cmocka_unit_test(test_fail_fills_error),
        cmocka_unit_test(test_fail_errno_keeps_errno),
        cmocka_unit_test(test_long_message_is_cut_not_overrun),
        cmocka_unit_test(test_names))
