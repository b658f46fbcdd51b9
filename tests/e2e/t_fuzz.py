"""Short fuzzing run and replay of every saved fuzzing regression.

Builds the libFuzzer targets of fuzz/ (clang, -fsanitize=fuzzer,address,
undefined) in a private temporary directory under $AC_BUILD, replays every
input saved under tests/regress/<target>/ (each one once crashed a target or
broke one of its invariants), then fuzzes each target for a few seconds from
corpora seeded from tests/vectors.  All of it is fuzz/run.sh; this test fails
when it reports a crash, leak, hang or broken invariant, or when it did not
replay every regression input.

Exit status 77 (skip) when clang or its libFuzzer runtime is not installed
(`AC_DEPS_EXTRA=1 scripts/deps.sh` installs them).

Environment: AC_FUZZ_CHECK_SECONDS, seconds per target (default 6: eight
targets, a build and the replays stay within a minute and a half).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AC_BUILD") or os.path.join(REPO, "build")
TARGETS = ["fuzz_record", "fuzz_cbor", "fuzz_meta_json", "fuzz_state", "fuzz_chain",
           "fuzz_verify", "fuzz_note", "fuzz_proof"]
SECONDS = int(os.environ.get("AC_FUZZ_CHECK_SECONDS", "6"))
SKIP = 77


def skip(why: str) -> None:
    print(f"SKIP {why}")
    sys.exit(SKIP)


def have_libfuzzer() -> str | None:
    """None if clang links a libFuzzer target here, else why not."""
    clang = shutil.which("clang")
    if clang is None:
        return "no clang (install clang and libclang-rt-dev: AC_DEPS_EXTRA=1 scripts/deps.sh)"
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "p.c")
        with open(src, "w") as f:
            f.write("#include <stddef.h>\n#include <stdint.h>\n"
                    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
                    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                    " { (void)d; (void)n; return 0; }\n")
        r = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined", src, "-o",
                            os.path.join(d, "p")], capture_output=True, text=True)
        if r.returncode != 0:
            last = r.stderr.strip().splitlines()[-1:] or ["no message"]
            return "clang cannot link a libFuzzer target (libclang-rt-dev missing?): " + last[0]
    return None


def regression_count() -> int:
    n = 0
    for t in TARGETS:
        d = os.path.join(REPO, "tests", "regress", t)
        if os.path.isdir(d):
            n += sum(1 for f in os.listdir(d) if os.path.isfile(os.path.join(d, f)))
    return n


def main() -> None:
    why = have_libfuzzer()
    if why is not None:
        skip(why)
    os.makedirs(BUILD, exist_ok=True)
    out = tempfile.mkdtemp(prefix="fuzz-check-", dir=BUILD)
    env = dict(os.environ, FUZZ_OUT=out, FUZZ_SECONDS=str(SECONDS),
               FUZZ_TARGETS=" ".join(TARGETS), FUZZ_TIMEOUT="10")
    r = subprocess.run([os.path.join(REPO, "fuzz", "run.sh")], cwd=REPO, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=600)
    lines = [l for l in r.stdout.splitlines() if "warning" not in l]
    print("\n".join(lines))
    if r.returncode == SKIP:
        shutil.rmtree(out, ignore_errors=True)
        skip(lines[-1] if lines else "fuzz/run.sh skipped")
    failures = []
    if r.returncode != 0:
        failures.append(f"fuzz/run.sh exited {r.returncode}; inputs and logs kept in {out}")
    m = re.search(r"replayed (\d+) regression inputs", r.stdout)
    want = regression_count()
    if m is None or int(m.group(1)) != want:
        failures.append(f"expected {want} regression inputs replayed, run.sh said "
                        f"{m.group(0) if m else 'nothing'}")
    ran = re.findall(r"^fuzz: (fuzz_\w+): \d+s, (\d+) runs", r.stdout, re.M)
    if r.returncode == 0 and sorted(t for t, _ in ran) != sorted(TARGETS):
        failures.append(f"not every target ran: {ran}")
    for t, runs in ran:
        if int(runs) == 0:
            failures.append(f"{t} executed no input")
    if failures:
        for f in failures:
            print("FAIL", f)
        print(f"t_fuzz: {len(failures)} failure(s)")
        sys.exit(1)
    shutil.rmtree(out, ignore_errors=True)
    print(f"t_fuzz: {len(TARGETS)} targets fuzzed {SECONDS}s each, {want} regressions replayed")


if __name__ == "__main__":
    main()
