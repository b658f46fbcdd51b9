/* Error codes and messages.  Every failure carries a code, the errno of the
 * system call that failed, the record index concerned and one line of text. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *ac_strerror(int code)
{
    switch (code) {
    case AC_OK: return "success";
    case AC_EINVAL: return "invalid argument";
    case AC_ENOMEM: return "out of memory";
    case AC_EIO: return "I/O error";
    case AC_ECORRUPT: return "corrupt chain";
    case AC_ENOTFOUND: return "not found";
    case AC_EUNAUTHORIZED: return "key not authorized";
    case AC_EKEY: return "bad key";
    case AC_EEXIST: return "file exists";
    case AC_ECRYPTO: return "cryptography error";
    case AC_EPASSPHRASE: return "passphrase needed or wrong";
    default: return "unknown error";
    }
}

void ac_error_clear(ac_error *err)
{
    if (err == NULL)
        return;
    err->code = AC_OK;
    err->sys_errno = 0;
    err->index = -1;
    err->message[0] = '\0';
}

static void fill(ac_error *err, int code, int64_t index, int sys_errno, const char *fmt,
                 va_list ap)
{
    err->code = code;
    err->index = index;
    err->sys_errno = sys_errno;
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    if (n < 0)
        snprintf(err->message, sizeof err->message, "%s", ac_strerror(code));
}

int ac_fail(ac_error *err, int code, int64_t index, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, index, 0, fmt, ap);
    va_end(ap);
    return code;
}

int ac_fail_errno(ac_error *err, int code, int64_t index, const char *fmt, ...)
{
    int saved = errno;
    if (err == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    fill(err, code, index, saved, fmt, ap);
    va_end(ap);
    size_t used = strlen(err->message);
    if (used < sizeof err->message)
        snprintf(err->message + used, sizeof err->message - used, ": %s", strerror(saved));
    errno = saved;
    return code;
}

const char *ac_version(void)
{
    return AC_VERSION_STRING;
}

const char *ac_reason_name(ac_reason reason)
{
    static const char *const names[] = {
        [AC_REASON_NONE] = "",
        [AC_REASON_FRAME] = "frame",
        [AC_REASON_DECODE] = "decode",
        [AC_REASON_INDEX] = "index",
        [AC_REASON_GENESIS] = "genesis",
        [AC_REASON_LINK] = "link",
        [AC_REASON_SIGNATURE] = "signature",
        [AC_REASON_UNAUTHORIZED] = "unauthorized",
        [AC_REASON_ROTATION] = "rotation",
        [AC_REASON_TRUNCATED] = "truncated",
        [AC_REASON_CHECKPOINT] = "checkpoint",
        [AC_REASON_PINNED_KEY] = "pinned_key",
        [AC_REASON_PINNED_CHAIN_ID] = "pinned_chain_id",
        [AC_REASON_PINNED_HEAD] = "pinned_head",
    };
    if ((unsigned)reason >= sizeof names / sizeof names[0])
        return "unknown";
    return names[reason];
}

const char *ac_warning_name(ac_warning_code code)
{
    switch (code) {
    case AC_WARN_TORN_TAIL: return "torn_tail";
    case AC_WARN_CHECKPOINT_UNVERIFIED: return "checkpoint_unverified";
    case AC_WARN_CLOCK: return "clock";
    case AC_WARN_CHAIN_SIZE: return "chain_size";
    default: return "unknown";
    }
}
