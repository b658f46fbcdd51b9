"""Benchmark rows of federation (issue 12), each next to its limit measured in
the same run:

  mirror of a 1,000,000-record export from a local nginx   the first pull into an
      empty mirror (fetch, root, every record verified, import) against
      `verify` of the same chain (the same signatures); target >= 60 % of its rate
  incremental mirror of 1,000 new records on that mirror   target < 0.5 s
      (its cost grows with what is new, not with the chain)
  witness cosign   one `witness cosign` process against its limit: starting the
      tool (`attestchain --version`), two Ed25519 operations (the log's
      signature checked, the cosignature made) and one fsync of a file written
      in the witness directory; target >= 50 % of that limit's rate

  bench_federation.py [--quick] [--records N] [--tool PATH] [--keep]

Method: time.monotonic; rounds alternate the operation and its limit (swapping
which goes first), medians.  The export is `attestchain export` when the tool
has it, else the reference exporter tests/e2e/tlogref.py.  Exit status 0 when
every target is met, 1 when one is missed, 2 when the benchmark could not run
(77 without nginx).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import tlogref  # noqa: E402
from nginxutil import NGINX, Nginx  # noqa: E402

MIRROR_SHARE = 0.60
INCREMENTAL_LIMIT_S = 0.5
COSIGN_SHARE = 0.50


def run(tool: str, *args, check=True) -> subprocess.CompletedProcess:
    p = subprocess.run([tool, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"bench_federation: {' '.join(args[:2])} failed: {p.stderr.strip()}")
    return p


def timed(fn) -> float:
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def make_chain(tool: str, work: str, d: str, key: str, start: int, n: int):
    step = 100000
    for at in range(start, start + n, step):
        k = min(step, start + n - at)
        hl = os.path.join(work, "hashes")
        with open(hl, "w") as f:
            f.write("".join(f"{i:064x}\n" for i in range(at, at + k)))
        run(tool, "append", "-C", d, "-k", key, "--hash-list", hl)


def export(tool: str, chain: str, out: str, key: str) -> str:
    if run(tool, "export", "--help", check=False).returncode == 0:
        run(tool, "export", "-C", chain, out, "-k", key)
    else:
        tlogref.export(chain, out, tlogref.load_key(key))
    origin = tlogref.default_origin(tlogref.frame_bodies(chain)[:1])
    return run(tool, "vkey", "-k", key, "--origin", origin).stdout.strip()


def row(name: str, value: str, limit: str, ratio: str, ok: bool):
    print(f"{name:<44} {value:>16} {limit:>22} {ratio:>10}  {'ok' if ok else 'MISSED'}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument("--tool", default=os.path.join(HERE, "..", "build", "attestchain"))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not os.access(NGINX, os.X_OK):
        print("bench_federation: nginx is not installed (scripts/deps.sh installs it)")
        return 77
    records = a.records or (100000 if a.quick else 1000000)
    rounds = 1 if a.quick else 3
    tool = os.path.abspath(a.tool)
    work = tempfile.mkdtemp(prefix="ac-bench-fed-")
    nginx = None
    try:
        key = os.path.join(work, "k.pem")
        run(tool, "keygen", key)
        pub, www = os.path.join(work, "pub"), os.path.join(work, "www")
        make_chain(tool, work, pub, key, 1, records)
        os.mkdir(www)  # export makes its directory, not the parents
        vkey = export(tool, pub, os.path.join(www, "log"), key)
        nginx = Nginx(www, work)
        url = nginx.url("log")

        # Row 1: the first pull against verify.
        mirror_s, verify_s = [], []
        for r in range(rounds):
            m = os.path.join(work, f"m{r}")

            def pull():
                run(tool, "mirror", "-C", m, url, "--vkey", vkey)

            def verify():
                run(tool, "verify", "-C", pub)
            if r % 2:
                mirror_s.append(timed(pull))
                verify_s.append(timed(verify))
            else:
                verify_s.append(timed(verify))
                mirror_s.append(timed(pull))
            if r + 1 < rounds:
                shutil.rmtree(m)
        mt, vt = statistics.median(mirror_s), statistics.median(verify_s)
        share = vt / mt
        ok1 = share >= MIRROR_SHARE
        row(f"mirror {records:,} records from nginx", f"{records / mt:,.0f} rec/s",
            f"verify {records / vt:,.0f} rec/s", f"{share:.0%}", ok1)

        # Row 2: 1,000 new records on the mirror.
        m = os.path.join(work, f"m{rounds - 1}")
        make_chain(tool, work, pub, key, records + 1, 1000)
        export(tool, pub, os.path.join(www, "log"), key)
        got = {}

        def pull_new():
            got["out"] = run(tool, "mirror", "-C", m, url, "--json").stdout
        inc = timed(pull_new)
        if json.loads(got["out"])["new"] != 1000:
            sys.exit("bench_federation: the incremental pull did not take the 1,000 records")
        ok2 = inc < INCREMENTAL_LIMIT_S
        row(f"incremental mirror: 1,000 on {records:,}", f"{inc:.3f} s",
            f"limit {INCREMENTAL_LIMIT_S} s", f"{inc / INCREMENTAL_LIMIT_S:.0%}", ok2)

        # Row 3: witness cosign against tool start + 2 Ed25519 + 1 fsync.
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        w, wk = os.path.join(work, "w"), os.path.join(work, "wk.pem")
        run(tool, "keygen", wk)
        run(tool, "witness", "init", "-d", w, "-k", wk, "--name", "bench.example")
        origin = vkey.split("+")[0]
        run(tool, "witness", "add-log", "-d", w, "--origin", origin, "--vkey", vkey)
        cp = os.path.join(www, "log", "checkpoint")
        priv = Ed25519PrivateKey.generate()
        note = open(cp, "rb").read()
        sig = priv.sign(note)

        def limit():
            run(tool, "--version")
            priv.public_key().verify(sig, note)
            priv.sign(note)
            fd = os.open(os.path.join(w, "limit"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, note)
            os.fsync(fd)
            os.close(fd)

        def cosign():
            run(tool, "witness", "cosign", "-d", w, cp)
        cos, lim = [], []
        for r in range(10 if a.quick else 30):
            if r % 2:
                cos.append(timed(cosign))
                lim.append(timed(limit))
            else:
                lim.append(timed(limit))
                cos.append(timed(cosign))
        ct, lt = statistics.median(cos), statistics.median(lim)
        ok3 = lt / ct >= COSIGN_SHARE
        row("witness cosign", f"{ct * 1000:.2f} ms", f"limit {lt * 1000:.2f} ms",
            f"{lt / ct:.0%}", ok3)
        return 0 if ok1 and ok2 and ok3 else 1
    finally:
        if nginx is not None:
            nginx.stop()
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
