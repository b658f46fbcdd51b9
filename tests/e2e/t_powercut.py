"""Power-cut simulation (issue 3, item 2).

A power cut leaves chain.bin at any length the disk got to, and the caches
(state.cbor, index.bin) from any moment before that: state.cbor is renamed
into place only after the log's fsync, index.bin is never fsynced.  For two
chains (one plain, one whose second-to-last record is a key rotation), for
every byte length from the start of the second-to-last frame to the end,
the test builds a chain directory holding chain.bin cut to that length, a
state.cbor from a moment the cut log still covers (or none, or the Python
store's form of it without the extension keys) and an index.bin from any
moment (or none), then: open, verify, append, verify, close, reopen, verify
(tests/helpers/ac_recover, many directories per process).  Each time:
  - the first verify is valid with exactly the complete frames, and reports
    the torn bytes;
  - the append gets the next index (no duplicate, no gap), with the right key
    (the rotation counts once its frame is complete);
  - every complete frame is kept byte for byte; the torn bytes are in one
    chain.bin.torn-* file; the later verifies are valid with one more record;
  - state.cbor is then current.
A sample of the cases also goes through the tool (verify --json, append
--hash, verify --json).  Last, the window the Python store gets wrong, with
a chain the Python store wrote itself: log fsynced, state.cbor still at the
previous head.  The Python store appends a duplicate index there (checked,
so that the case is known to be the real one); the library must not.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import random
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durability as du  # noqa: E402

BATCH = 200  # case directories per ac_recover process
SEED_DIR = os.path.normpath(os.path.join(du.REPO, "..", "shared", "seed"))


class Snapshot:
    def __init__(self, k, size, state, index):
        self.k, self.size, self.state, self.index = k, size, state, index


def build_chain(d: str, plan):
    """Appends per `plan` (("rec", key) or ("rot", key, newkey)), one process
    per record, keeping state.cbor and index.bin as they are after each."""
    snaps = []
    for k, step in enumerate(plan):
        if step[0] == "rec":
            p = du.run([du.helper("ac_writer"), d, step[1], f"pc{k}", "1"])
        else:
            p = du.run([du.helper("ac_writer"), d, step[1], "--rotate", step[2]])
        q = du.run([du.helper("ac_reader"), "index", d])
        if p.returncode or q.returncode:
            raise AssertionError("building the chain failed: " + du.describe(p) + du.describe(q))
        snaps.append(Snapshot(k, os.path.getsize(os.path.join(d, "chain.bin")),
                              du.read(os.path.join(d, "state.cbor")),
                              du.read(os.path.join(d, "index.bin"))))
    return du.read(os.path.join(d, "chain.bin")), snaps


class Case:
    def __init__(self, name, data, cut, state, state_desc, index, index_desc, key):
        self.name, self.data, self.cut = name, data, cut
        self.state, self.state_desc = state, state_desc
        self.index, self.index_desc = index, index_desc
        self.key = key

    def what(self) -> str:
        return f"{self.name}: cut at {self.cut}, state {self.state_desc}, index {self.index_desc}"

    def write(self, d: str) -> None:
        os.mkdir(d)
        with open(os.path.join(d, "chain.bin"), "wb") as f:
            f.write(self.data[:self.cut])
        for name, content in (("state.cbor", self.state), ("index.bin", self.index)):
            if content is not None:
                with open(os.path.join(d, name), "wb") as f:
                    f.write(content)


def make_cases(name, data, snaps, rotation_at, rng: random.Random):
    """Every cut in the window; a choice (all of them under AC_STRESS) of
    checkpoints the cut log covers and of index files from any moment."""
    frames, _ = du.parse_frames(data)
    start = frames[-2][0]
    indexes = [(None, "none")] + [(s.index, f"after #{s.k}") for s in snaps]
    cases = []
    for cut in range(start, len(data) + 1):
        complete = len(du.parse_frames(data[:cut])[0])
        covered = [s for s in snaps if s.size <= cut]
        states = [(None, "none")]
        for s in covered:
            states.append((s.state, f"after #{s.k}"))
            states.append((du.python_store_state(s.state), f"after #{s.k}, Python form"))
        if not du.STRESS:
            # One per cut, in turn: the latest checkpoint in the Python
            # store's form, in ours, none, or an earlier one at random.
            turn = cut % 4
            states = [states[-1] if turn == 0 else states[-2] if turn == 1 else
                      states[0] if turn == 2 else rng.choice(states[1:-2] or states)]
        key = du.KEY2 if rotation_at is not None and complete > rotation_at else du.KEY
        for st, st_desc in states:
            for ix, ix_desc in rng.sample(indexes, 2 if du.STRESS else 1):
                cases.append(Case(name, data, cut, st, st_desc, ix, ix_desc, key))
    return cases


def parse_verdict(field: str):
    valid, records, torn, reason = field.split("/")
    if valid == "E":
        return None
    return int(valid), int(records), int(torn), reason


def check_result(t: du.Tally, c: Case, d: str, line: str) -> None:
    parts = line.split()
    full, end = du.parse_frames(c.data[:c.cut])
    k, torn = len(full), c.cut - end
    problems = []
    if len(parts) != 5:
        t.fail(f"{c.what()}: ac_recover printed {line!r}")
        return
    v1, v2, v3 = (parse_verdict(parts[i]) for i in (1, 3, 4))
    rc, idx, h = parts[2].split("/")
    if v1 != (1, k, torn, "-"):
        problems.append(f"first verify {parts[1]}, expected 1/{k}/{torn}/-")
    if rc != "0":
        problems.append(f"append failed ({rc})")
    elif int(idx) != k:
        t.add("duplicate_or_gap")
        problems.append(f"append got index {idx}, expected {k}")
    for v, label in ((v2, "after the append"), (v3, "after reopening")):
        if v != (1, k + 1, 0, "-"):
            problems.append(f"verify {label}: {v}, expected 1/{k + 1}/0/-")
    new = du.read(os.path.join(d, "chain.bin"))
    frames2, end2 = du.parse_frames(new)
    if new[:end] != c.data[:end]:
        t.add("lost")
        problems.append("a complete frame changed or went missing")
    if len(frames2) != k + 1 or end2 != len(new):
        problems.append(f"chain.bin now has {len(frames2)} frames and {len(new) - end2} "
                        f"stray bytes, expected {k + 1} and 0")
    elif rc == "0" and hashlib.sha256(frames2[k][1]).hexdigest() != h:
        problems.append("the appended record's hash is not the one reported")
    kept = du.torn_files(d)
    if torn and [du.read(os.path.join(d, f)) for f in kept] != [c.data[end:c.cut]]:
        problems.append(f"torn tail of {torn} bytes: kept as {kept}, not exactly once")
    if not torn and kept:
        problems.append(f"no torn tail, yet {kept} appeared")
    stale = du.state_is_current(d)
    if stale:
        problems.append(stale)
    if problems:
        t.fail(f"{c.what()}: " + "; ".join(problems))


_case_numbers = itertools.count()


def recover_batch(work: str, cases, key: str):
    """Writes the case directories and runs ac_recover on them (in a worker
    thread: two batches at a time keep both cores busy)."""
    dirs = []
    for c in cases:
        d = os.path.join(work, f"case{next(_case_numbers)}")
        c.write(d)
        dirs.append(d)
    return cases, dirs, du.run([du.helper("ac_recover"), key, "pc", *dirs], wrap=du.MEMCHECK)


def check_batch(t: du.Tally, cases, dirs, p) -> None:
    if p.returncode != 0:
        t.fail(f"ac_recover failed: exit {p.returncode}, stderr {p.stderr[-2000:]!r}")
    lines = {ln.split(" ", 1)[0]: ln for ln in p.stdout.splitlines() if ln}
    for c, d in zip(cases, dirs):
        t.add("cases")
        if d not in lines:
            t.fail(f"{c.what()}: no result (stderr {p.stderr[-300:]!r})")
            continue
        check_result(t, c, d, lines[d])
        if torn_of(c):
            t.add("torn_cases")
        shutil.rmtree(d)


def run_cases(t: du.Tally, work: str, cases) -> None:
    jobs = []
    for key in (du.KEY, du.KEY2):
        mine = [c for c in cases if c.key == key]
        jobs += [(mine[i:i + BATCH], key) for i in range(0, len(mine), BATCH)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for result in pool.map(lambda job: recover_batch(work, *job), jobs):
            check_batch(t, *result)


def torn_of(c: Case) -> int:
    return c.cut - du.parse_frames(c.data[:c.cut])[1]


def run_tool_case(t: du.Tally, work: str, c: Case, n: int) -> None:
    """The same recovery through the tool."""
    d = os.path.join(work, f"tool{n}")
    c.write(d)
    k = len(du.parse_frames(c.data[:c.cut])[0])
    problems = []
    v = du.verify(d)
    if not v["valid"] or v["records"] != k or v["torn"] != torn_of(c):
        problems.append(f"verify before: {v}")
    p = du.tool("append", "-C", d, "-k", c.key, "--hash", hashlib.sha256(b"tool").hexdigest())
    acks = du.parse_acks(p.stdout) if p.returncode == 0 else []
    if p.returncode != 0 or [a[0] for a in acks] != [k]:
        problems.append(f"append: {du.describe(p)}, expected index {k}")
    v = du.verify(d)
    if not v["valid"] or v["records"] != k + 1 or v["torn"]:
        problems.append(f"verify after: {v}")
    if du.read(os.path.join(d, "chain.bin"))[:c.cut - torn_of(c)] != c.data[:c.cut - torn_of(c)]:
        problems.append("a complete frame changed")
    t.add("tool_cases")
    if problems:
        t.fail(f"{c.what()} (tool): " + "; ".join(problems))
    shutil.rmtree(d)


# ---------------------------------------------------------------- the Python store's window

def python_store_window(t: du.Tally, work: str) -> None:
    """Three records by the Python store; state.cbor put back to its value
    after the second: the Python store then reuses index 2, the library and
    the tool must append index 3."""
    try:
        sys.path.insert(0, SEED_DIR)
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from soosef.federation.chain import ChainStore
        from pathlib import Path
    except ImportError as e:
        print(f"SKIP the Python store's own chain: {e} (needs ../shared/seed, "
              "python3-cbor2, python3-cryptography)")
        return
    with open(du.KEY, "rb") as f:
        key = load_pem_private_key(f.read(), None)
    d = os.path.join(work, "pystore")
    cs = ChainStore(Path(d))
    for i in range(3):
        cs.append(hashlib.sha256(b"py%d" % i).digest(), "text/plain", key)
        if i == 1:
            stale = du.read(os.path.join(d, "state.cbor"))
    ref = os.path.join(work, "pystore.ref")
    shutil.copytree(d, ref)
    with open(os.path.join(ref, "state.cbor"), "wb") as f:
        f.write(stale)

    # Control: the Python store itself forks here.
    ctl = os.path.join(work, "pystore.ctl")
    shutil.copytree(ref, ctl)
    rec = ChainStore(Path(ctl)).append(hashlib.sha256(b"ctl").digest(), "text/plain", key)
    if rec.chain_index != 2:
        t.fail(f"control: the Python store appended index {rec.chain_index}, not the "
               f"duplicate 2: the case does not reproduce its window")
    for way in ("library", "tool") if du.HAVE_TOOL else ("library",):
        dd = os.path.join(work, f"pystore.{way}")
        shutil.copytree(ref, dd)
        if way == "library":
            p = du.run([du.helper("ac_writer"), dd, du.KEY, "pywin", "1"])
        else:
            p = du.tool("append", "-C", dd, "-k", du.KEY, "--hash",
                        hashlib.sha256(b"pywin").hexdigest())
        acks = du.parse_acks(p.stdout) if p.returncode == 0 else []
        v = du.verify(dd)
        t.add("python_window")
        if [a[0] for a in acks] != [3] or not v["valid"] or v["records"] != 4:
            t.fail(f"Python store's window ({way}): {du.describe(p)}; verify {v}; expected "
                   f"index 3 and 4 valid records")
        elif not ChainStore(Path(dd)).verify_chain():
            t.fail(f"Python store's window ({way}): the Python store rejects the result")


def main() -> None:
    du.require(du.helper("ac_writer"), du.helper("ac_reader"), du.helper("ac_recover"))
    seed = int(os.environ.get("AC_SEED", str(int(time.time()))))
    print(f"seed {seed} (AC_SEED={seed} repeats this run's choices)", flush=True)
    rng = random.Random(seed)
    t = du.Tally("powercut")
    with du.tmpdir("powercut") as work:
        plans = {
            "plain": ([("rec", du.KEY)] * 5, None),
            "rotation": ([("rec", du.KEY)] * 3 + [("rot", du.KEY, du.KEY2), ("rec", du.KEY2)], 3),
        }
        for name, (plan, rot) in plans.items():
            d = os.path.join(work, f"build-{name}")
            data, snaps = build_chain(d, plan)
            cases = make_cases(name, data, snaps, rot, rng)
            if du.MEMCHECK:
                cases = rng.sample(cases, 12)  # valgrind: a sample is enough
            run_cases(t, work, cases)
            if du.HAVE_TOOL and not du.MEMCHECK:
                step = 20 if du.STRESS else 40
                for n, c in enumerate(cases[::step]):
                    run_tool_case(t, work, c, n)
            # The exact window: the log complete, the checkpoint one behind.
            prev = snaps[-2]
            for st, form in ((prev.state, "own"), (du.python_store_state(prev.state), "Python")):
                c = Case(name, data, len(data), st, f"previous head, {form} form", None, "none",
                         du.KEY2 if rot is not None else du.KEY)
                run_cases(t, work, [c])
                t.add("python_window")
        if not du.MEMCHECK:
            python_store_window(t, work)
    t.finish("cases", "torn_cases", "tool_cases", "python_window", "lost", "duplicate_or_gap")


if __name__ == "__main__":
    main()
