#!/bin/sh
# Runs every test against the build in $BUILD: the cmocka unit tests, then the
# Python-driven end-to-end, vector and interop tests.  Prints a closing
# "N passed, N failed" line and exits non-zero if anything failed.
set -u
BUILD=${BUILD:-build}
export BUILD
export AC_VECTORS="$(pwd)/tests/vectors"
export AC_TOOL="$(pwd)/$BUILD/attestchain"
export AC_BUILD="$(pwd)/$BUILD"
passed=0 failed=0 skipped=0
wrap=""
[ "${AC_MEMCHECK:-0}" = 1 ] && wrap="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
export AC_WRAP="$wrap"
log=$(mktemp)
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if $wrap "$t" >"$log" 2>&1; then
        passed=$((passed + 1)); echo "PASS $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"; cat "$log"
    fi
done
for t in tests/e2e/t_*.py; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .py)
    /usr/bin/python3 "$t" >"$log" 2>&1
    rc=$?
    if [ $rc = 0 ]; then
        passed=$((passed + 1)); echo "PASS $name"; grep -h '^SKIP' "$log" || true
    elif [ $rc = 77 ]; then
        skipped=$((skipped + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
    else
        failed=$((failed + 1)); echo "FAIL $name"; cat "$log"
    fi
done
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
