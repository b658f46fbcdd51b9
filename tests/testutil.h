/* Shared helpers for the cmocka unit tests. */
#ifndef AC_TESTUTIL_H
#define AC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attestchain.h"

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp) into buf. */
static inline void tu_tmpdir(char *buf, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/ac-test-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(buf));
}

/* rm -rf of a test directory. */
static inline void tu_rmtree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Path of a file in the project's copy of the shared vectors. */
static inline void tu_vector_path(char *buf, size_t n, const char *rel)
{
    const char *root = getenv("AC_VECTORS");
    snprintf(buf, n, "%s/%s", root && *root ? root : "tests/vectors", rel);
}

#define TU_OK(call) assert_int_equal((call), AC_OK)

#endif
