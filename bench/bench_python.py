"""The Python package's rows of `make bench` (issue 9), each a ratio measured
in the same run against what it is compared with:

- append at 2,000 records: attestchain.ChainStore.append against the
  original store's append (../shared/seed), on copies of one 2,000-record
  chain in the same directory, with the same cryptography key object and
  arguments (target >= 50 x);
- verify_chain of 100,000 records: ChainStore(dir).verify_chain() against
  `attestchain verify -C dir` on the same chain, both from a cold start of
  the call (the tool's process start included), best of several alternating
  rounds (target >= 90 %).

    /usr/bin/python3 bench/bench_python.py [--build DIR] [--quick] [--markdown]
        [--dir DIR] [--keep]

Exit status 0 when every target is met, 1 when one is missed, 2 when the
benchmark could not run.  --quick: a smaller run (fewer appends, 20,000
records verified) for a smoke test; its ratios are not the targets'.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.normpath(os.path.join(REPO, "..", "shared", "seed"))
CONTENT_TYPE = "application/octet-stream"


def fail(msg: str) -> None:
    print(f"bench_python: {msg}", file=sys.stderr)
    sys.exit(2)


def tool_append_hashes(tool: str, chain: str, key: str, first: int, n: int, work: str) -> None:
    """Appends n records (hashes first..first+n-1) with the tool, in batches."""
    import hashlib
    batch = 10000
    for lo in range(first, first + n, batch):
        path = os.path.join(work, "hashes.txt")
        with open(path, "w") as f:
            for i in range(lo, min(lo + batch, first + n)):
                f.write(hashlib.sha256(b"record %d" % i).hexdigest() + "\n")
        subprocess.run([tool, "append", "-C", chain, "-k", key, "-t", CONTENT_TYPE,
                        "--hash-list", path], check=True, stdout=subprocess.DEVNULL)


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def bench_append(attestchain, tool, key_file, work, quick):
    """Appends per second at 2,000 records: (package rate, original rate)."""
    import hashlib
    from pathlib import Path

    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    sys.path.insert(0, SEED)
    from soosef.federation.chain import ChainStore as SeedStore

    with open(key_file, "rb") as f:
        key = load_pem_private_key(f.read(), None)
    base = os.path.join(work, "append-base")
    tool_append_hashes(tool, base, key_file, 0, 2000, work)
    pkg_chain, seed_chain = os.path.join(work, "append-pkg"), os.path.join(work, "append-seed")
    shutil.copytree(base, pkg_chain)
    shutil.copytree(base, seed_chain)
    seed_n, pkg_n = (3, 20) if quick else (10, 200)
    rounds = 3
    seed_t = pkg_t = 0.0
    seed_store = SeedStore(Path(seed_chain))
    with attestchain.ChainStore(pkg_chain) as pkg:
        # Warm-up: one append each (imports, first-use costs).
        seed_store.append(hashlib.sha256(b"w").digest(), CONTENT_TYPE, key, {"i": -1})
        pkg.append(hashlib.sha256(b"w").digest(), CONTENT_TYPE, key, {"i": -1})
        for r in range(rounds):  # alternating, so drift hits both alike
            t0 = time.perf_counter()
            for i in range(seed_n):
                seed_store.append(hashlib.sha256(b"s%d" % i).digest(), CONTENT_TYPE, key,
                                  {"i": i})
            seed_t += time.perf_counter() - t0
            t0 = time.perf_counter()
            for i in range(pkg_n):
                pkg.append(hashlib.sha256(b"p%d" % i).digest(), CONTENT_TYPE, key, {"i": i})
            pkg_t += time.perf_counter() - t0
    return per_second(pkg_n * rounds, pkg_t), per_second(seed_n * rounds, seed_t)


def bench_verify(attestchain, tool, key_file, work, records):
    """Records verified per second: (package rate, tool rate)."""
    chain = os.path.join(work, "verify")
    tool_append_hashes(tool, chain, key_file, 0, records, work)
    # Warm: both read the file from the page cache, as the C bench does.
    subprocess.run([tool, "verify", "-C", chain], check=True, stdout=subprocess.DEVNULL)
    best_pkg = best_tool = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        p = subprocess.run([tool, "verify", "-C", chain], stdout=subprocess.DEVNULL)
        best_tool = min(best_tool, time.perf_counter() - t0)
        if p.returncode != 0:
            fail(f"attestchain verify -C {chain}: exit status {p.returncode}")
        t0 = time.perf_counter()
        with attestchain.ChainStore(chain) as store:
            ok = store.verify_chain()
        best_pkg = min(best_pkg, time.perf_counter() - t0)
        if ok is not True:
            fail("verify_chain did not return True")
    return per_second(records, best_pkg), per_second(records, best_tool)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--dir", default=os.environ.get("TMPDIR") or "/var/tmp")
    ap.add_argument("--keep", action="store_true")
    o = ap.parse_args()
    build = os.path.abspath(o.build)
    tool = os.path.join(build, "attestchain")
    if not os.access(tool, os.X_OK) or not os.path.isdir(os.path.join(build, "python")):
        fail(f"build the tool and the package first (make): nothing in {build}")
    sys.path.insert(0, os.path.join(build, "python"))
    import attestchain

    work = tempfile.mkdtemp(prefix="ac-bench-python-", dir=o.dir)
    try:
        key_file = os.path.join(work, "key.pem")
        subprocess.run([tool, "keygen", key_file], check=True, stdout=subprocess.DEVNULL)
        rows = []
        if os.path.isfile(os.path.join(SEED, "soosef", "federation", "chain.py")):
            pkg, seed = bench_append(attestchain, tool, key_file, work, o.quick)
            rows.append(("Python append at 2,000 records (package / original store)",
                         f"{pkg:,.0f} rec/s", f"{seed:,.1f} rec/s", pkg / seed, 50.0, "x"))
        else:
            print(f"note: the original store is not in {SEED}: no append row")
        records = 20000 if o.quick else 100000
        pkg, tl = bench_verify(attestchain, tool, key_file, work, records)
        rows.append((f"Python verify_chain of {records:,} records (package / "
                     "`attestchain verify`)", f"{pkg:,.0f} rec/s", f"{tl:,.0f} rec/s",
                     pkg / tl, 0.90, "%"))
    finally:
        if not o.keep:
            shutil.rmtree(work, ignore_errors=True)
    missed = False
    if o.markdown:
        print("| operation | rate | compared with (same run) | ratio | target |")
        print("|---|--:|--:|--:|---|")
    for name, rate, other, ratio, target, unit in rows:
        met = ratio >= target
        missed |= not met and not o.quick
        shown = f"{ratio:,.1f} x" if unit == "x" else f"{100 * ratio:.1f} %"
        want = f">= {target:g} x" if unit == "x" else f">= {100 * target:g} %"
        if o.markdown:
            print(f"| {name} | {rate} | {other} | {shown} | {want} |")
        else:
            print(f"  {name:<72} {rate:>14} {other:>14} {shown:>9}  {want}"
                  f"{'' if met else '  MISSED'}")
    if o.quick:
        print("(--quick: a smoke run; the targets apply to a full run)")
    print(f"load average: {os.getloadavg()[0]:.2f}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
