#!/bin/sh
# make stress: the long versions of the durability tests (issue 3), with
# AC_STRESS=1: 500 kills, every checkpoint and index of every power cut,
# every fault call site (also of a library batch), 4 writers of 250 records.
# Prints, per test, its summary line (attempts made, records lost, failures)
# and, last, "N passed, N failed".  Exit status non-zero if any failed.
#
# AC_SEED=N repeats the random choices of a run (each test prints its seed).
set -u
BUILD=${BUILD:-build}
export BUILD AC_STRESS=1
export AC_VECTORS="$(pwd)/tests/vectors"
export AC_TOOL="$(pwd)/$BUILD/attestchain"
export AC_BUILD="$(pwd)/$BUILD"
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in crash powercut faults concurrency secrets; do
    start=$(date +%s)
    /usr/bin/python3 "tests/e2e/t_$t.py" >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    # The summary is the last line that starts with the test's name.
    summary=$(grep "^$t: " "$log" | tail -n 1)
    if [ $rc = 0 ]; then
        passed=$((passed + 1))
        echo "PASS $t (${took}s): ${summary:-no summary line}"
    else
        failed=$((failed + 1))
        echo "FAIL $t (${took}s, exit $rc): ${summary:-no summary line}"
        grep -E '^(FAIL|seed)' "$log" | head -n 30
        [ -n "$summary" ] || tail -n 20 "$log"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
