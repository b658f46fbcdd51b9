#!/bin/sh
# Builds the libFuzzer targets, seeds their corpora from tests/vectors,
# replays the saved regression inputs (tests/regress/<target>/*), then fuzzes
# each target for FUZZ_SECONDS.  Fails if any input crashes, leaks, hangs or
# breaks an invariant; the input is kept under $FUZZ_OUT (crash-*, leak-*,
# timeout-*).  Exit status 77: no clang with the libFuzzer runtime here.
#
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_OUT      build and corpus directory (default build/fuzz)
#   FUZZ_TARGETS  the targets to run (default: all eight)
#   FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (10)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
OUT=${FUZZ_OUT:-build/fuzz}
SECS=${FUZZ_SECONDS:-60}
TIMEOUT=${FUZZ_TIMEOUT:-10}
TARGETS=${FUZZ_TARGETS:-fuzz_record fuzz_cbor fuzz_meta_json fuzz_state fuzz_chain fuzz_verify fuzz_note fuzz_proof}
CLANG=${FUZZ_CC:-clang}
PKGS="libsodium libcrypto libcbor jansson"

say() { echo "fuzz: $*"; }

# ---------------------------------------------------------------- toolchain
probe=$(mktemp -d) || exit 1
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! command -v "$CLANG" >/dev/null 2>&1; then
    say "no $CLANG: install clang and libclang-rt-dev (AC_DEPS_EXTRA=1 scripts/deps.sh)"
    exit 77
fi
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
    say "$CLANG cannot link a libFuzzer target (libclang-rt-dev missing?):"
    head -n 5 "$probe/log"
    exit 77
fi

# ---------------------------------------------------------------- build
mkdir -p "$OUT/obj" || exit 1
PKG_CFLAGS=$(pkg-config --cflags $PKGS) || exit 1
PKG_LIBS="$(pkg-config --libs $PKGS) -lpthread"
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Wpointer-arith -Wno-format-nonliteral"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 $SAN $WARN -Iinclude -Isrc $PKG_CFLAGS"

# The library's sources, instrumented for coverage.  Warnings there are the
# lead's to fix; a clang-only warning must not stop fuzzing, so no -Werror.
build_failed=0
pids=""
# export.c embeds the page (web/) through a generated header.
scripts/embed.sh "$OUT/web_assets.h" $(ls web/* | sort) || { say "embedding web/ failed"; exit 1; }
CFLAGS="$CFLAGS -I$OUT"
for src in src/*.c; do
    obj="$OUT/obj/$(basename "$src" .c).o"
    if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt src/internal.h ] &&
       [ "$obj" -nt include/attestchain.h ] && [ "$obj" -nt fuzz/run.sh ]; then
        continue
    fi
    $CLANG $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
    pids="$pids $!"
done
for p in $pids; do wait "$p" || build_failed=1; done
[ "$build_failed" = 0 ] || { say "building the library for fuzzing failed"; exit 1; }
# Only the objects of sources that still exist (a removed src/X.c leaves X.o).
OBJS=""
for src in src/*.c; do OBJS="$OBJS $OUT/obj/$(basename "$src" .c).o"; done

VEC_DEF="-DAC_FUZZ_VECTORS=\"$ROOT/tests/vectors\""
pids=""
for t in $TARGETS; do
    $CLANG $CFLAGS -Werror "$VEC_DEF" -fsanitize=fuzzer "fuzz/$t.c" $OBJS $PKG_LIBS \
        -o "$OUT/$t" &
    pids="$pids $!"
done
$CLANG $CFLAGS -Werror "$VEC_DEF" -fsanitize=fuzzer-no-link fuzz/seeds.c $OBJS $PKG_LIBS \
    -o "$OUT/seeds" &
pids="$pids $!"
for p in $pids; do wait "$p" || build_failed=1; done
[ "$build_failed" = 0 ] || { say "building the targets failed"; exit 1; }
say "built$(for t in $TARGETS; do printf ' %s' "$t"; done) in $OUT"

# A private scratch area for the targets' chain directories (tmpfs when
# there is one: the chain target fsyncs on every append).
scratch_base=/dev/shm
[ -d "$scratch_base" ] && [ -w "$scratch_base" ] || scratch_base=${TMPDIR:-/tmp}
AC_FUZZ_TMP=$(mktemp -d "$scratch_base/ac-fuzz-run.XXXXXX") || exit 1
export AC_FUZZ_TMP
trap 'rm -rf "$probe" "$AC_FUZZ_TMP"' EXIT

# ---------------------------------------------------------------- seeds
"$OUT/seeds" tests/vectors "$OUT" || { say "seeding the corpora failed"; exit 1; }

max_len() {
    case $1 in
    fuzz_chain | fuzz_verify) echo 16384 ;;
    fuzz_record | fuzz_proof) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

# ---------------------------------------------------------------- regressions
failed=0
replayed=0
for t in $TARGETS; do
    dir=tests/regress/$t
    [ -d "$dir" ] || continue
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        replayed=$((replayed + 1))
        if ! "$OUT/$t" -timeout="$TIMEOUT" -rss_limit_mb=4096 -error_exitcode=99 -timeout_exitcode=98 "$f" >"$OUT/replay.log" 2>&1; then
            failed=$((failed + 1))
            say "REGRESSION $t $f fails:"
            grep -E 'FUZZ INVARIANT|ERROR: |SUMMARY|runtime error|^  [a-z]|^    #[0-9] ' "$OUT/replay.log" | head -n 20
        fi
    done
done
say "replayed $replayed regression inputs, $failed failing"

# ---------------------------------------------------------------- fuzzing
if [ "$SECS" -gt 0 ]; then
    for t in $TARGETS; do
        corpus="$OUT/corpus-$t"
        mkdir -p "$corpus"
        log="$OUT/$t.log"
        "$OUT/$t" -max_total_time="$SECS" -max_len="$(max_len "$t")" -timeout="$TIMEOUT" \
            -rss_limit_mb=4096 -error_exitcode=99 -timeout_exitcode=98 -print_final_stats=1 -artifact_prefix="$OUT/" \
            "$corpus" >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
        cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
        units=$(ls "$corpus" | wc -l)
        say "$t: ${SECS}s, ${execs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}, corpus $units"
        if [ "$rc" != 0 ]; then
            failed=$((failed + 1))
            art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
            say "FAIL $t (exit $rc); input saved as ${art:-?}; log $log:"
            grep -E 'FUZZ INVARIANT|ERROR: |SUMMARY|runtime error|^    #[0-9] |^  ' "$log" | head -n 30
        fi
    done
fi
[ "$failed" = 0 ] || { say "$failed failure(s)"; exit 1; }
say "no crash, leak, hang or broken invariant"
