"""Concurrent writers and readers (issue 3, item 4).

Four writers append to one chain at once: two through the library
(tests/helpers/ac_writer: one record per append, and batches, each on
one long-lived handle) and two through the tool (one `attestchain append`
per record, and per batch: 5 records, 25 in `make stress`).  Meanwhile readers loop: the library's
(tests/helpers/ac_reader watch: open, verify, walk every record, get() at
random), `attestchain verify --json` and `attestchain log --json`.  Then:
  - every writer succeeded and every reader round was clean (a reader may see
    a torn tail while a frame is being written, never an error or an
    invalid verdict);
  - the chain holds exactly the records written, indices 0..N-1, verify valid;
  - every acknowledged record is at its index with its hash, and every
    writer's content is there exactly once;
  - state.cbor is absent or current.
Before that, a deterministic interleaving: a long-lived library handle
appends, the tool appends and closes (writing state.cbor), the handle
appends again; after each step state.cbor must be absent or current, since
the Python store trusts it blindly (SPEC section 6).

Then a key rotation while three writers append with the key it retires:
each writer must be refused from the rotation on (never write a record the
chain cannot verify), the chain must verify, and the new key must append.
Last, a race on index.bin ordered step by step with the fault shim's pause
points: a handle rebuilding index.bin from nothing (ftruncate, then write)
while another handle extends it can leave entries of zeros behind; every
reader must still get the right record at every index.

25 records per writer in `make check`, 250 in `make stress`.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durability as du  # noqa: E402

PER_WRITER = 250 if du.STRESS else 25
BATCH = 25 if du.STRESS else 5  # records per call of the batch writers


def content(tag: str, n: int) -> str:
    return hashlib.sha256(f"{tag}:{n}".encode()).hexdigest()


class ToolWriter(threading.Thread):
    """`attestchain append` of PER_WRITER records, `batch` per call."""

    def __init__(self, d, key, tag, batch):
        super().__init__()
        self.d, self.key, self.tag, self.batch = d, key, tag, batch
        self.acks, self.errors = [], []

    def run(self):
        for first in range(0, PER_WRITER, self.batch):
            hashes = []
            for n in range(first, min(first + self.batch, PER_WRITER)):
                hashes += ["--hash", content(self.tag, n)]
            p = du.tool("append", "-C", self.d, "-k", self.key, *hashes)
            if p.returncode != 0:
                self.errors.append(du.describe(p))
                return
            self.acks += du.parse_acks(p.stdout)


class ToolReader(threading.Thread):
    """Loops `verify --json` or `log --json` until told to stop."""

    def __init__(self, d, what, stop: threading.Event):
        super().__init__()
        self.d, self.what, self.stop = d, what, stop
        self.rounds, self.torn, self.errors = 0, 0, []

    def run(self):
        while not self.stop.is_set() and not self.errors:
            if not os.path.exists(os.path.join(self.d, "chain.bin")):
                time.sleep(0.001)
                continue
            try:
                self.one()
            except (AssertionError, ValueError, KeyError) as e:
                self.errors.append(str(e))
            self.rounds += 1

    def one(self):
        if self.what == "verify":
            v = du.verify(self.d)
            if not v["valid"]:
                raise AssertionError(f"verify during appends: {v}")
            self.torn += bool(v["torn"])
            return
        p = du.tool("log", "-C", self.d, "--json")
        if p.returncode != 0:
            raise AssertionError("log during appends: " + du.describe(p))
        prev = "0" * 64
        for i, r in enumerate(json.loads(p.stdout)):
            if r["chain_index"] != i or r["prev_hash"] != prev:
                raise AssertionError(f"log during appends: record {i} is {r['chain_index']} "
                                     f"or not linked")
            prev = r["hash"]


def interleaving(t: du.Tally, work: str, key: str) -> None:
    """A long-lived handle and the tool take turns; state.cbor must never be
    left behind the head (absent is fine)."""
    d = os.path.join(work, "interleave")
    lib = subprocess.Popen([du.helper("ac_writer"), d, key, "long", "-"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    steps = ["lib", "tool", "lib", "tool", "tool", "lib"]
    for n, who in enumerate(steps):
        if who == "lib":
            lib.stdin.write(b"append\n")
            lib.stdin.flush()
            line = lib.stdout.readline().decode()
            ok = bool(du.parse_acks(line))
        else:
            p = du.tool("append", "-C", d, "-k", key, "--hash", content("short", n))
            ok = p.returncode == 0
        t.add("interleaved_appends")
        stale = du.state_is_current(d)
        if not ok or stale:
            t.fail(f"interleaving, step {n} ({who}): " + (stale or "the append failed"))
    lib.stdin.close()
    rc = lib.wait()
    stale = du.state_is_current(d)
    if rc != 0 or stale:
        t.fail(f"interleaving, after the long-lived handle closed: exit {rc}, "
               f"{stale or 'state current'}; {lib.stderr.read().decode()!r}")
    lib.stdout.close()
    lib.stderr.close()
    v = du.verify(d)
    if not v["valid"] or v["records"] != len(steps):
        t.fail(f"interleaving: verify says {v}, expected {len(steps)} records")


def concurrent(t: du.Tally, work: str, key: str) -> None:
    d = os.path.join(work, "chain")
    os.mkdir(d)
    stop = threading.Event()
    stopfile = os.path.join(work, "stop")
    watcher = subprocess.Popen([du.helper("ac_reader"), "watch", d, stopfile],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    readers = [ToolReader(d, "verify", stop), ToolReader(d, "log", stop)] if du.HAVE_TOOL else []
    libs = {tag: subprocess.Popen([du.helper("ac_writer"), d, key, tag, str(PER_WRITER), batch],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for tag, batch in (("lib1", "1"), ("libN", str(BATCH)))}
    tools = [ToolWriter(d, key, "tool1", 1), ToolWriter(d, key, "toolN", BATCH)] if du.HAVE_TOOL else []
    for th in readers + tools:
        th.start()
    acks = []
    for tag, p in libs.items():
        out, err = p.communicate(timeout=du.TIMEOUT)
        acks += du.parse_acks(out.decode())
        if p.returncode != 0:
            t.fail(f"writer {tag}: exit {p.returncode}: {err.decode()[-300:]!r}")
    for th in tools:
        th.join()
        acks += th.acks
        for e in th.errors:
            t.fail(f"writer {th.tag}: {e}")
    with open(stopfile, "w"):
        pass
    stop.set()
    out, err = watcher.communicate(timeout=du.TIMEOUT)
    if watcher.returncode != 0:
        t.fail(f"library reader: {err.decode().strip()}")
    print(f"library reader: {out.decode().strip()}")
    t.add("reader_rounds", sum(int(f.split("=")[1]) for f in out.decode().split()
                               if f.startswith("rounds=")) if watcher.returncode == 0 else 0)
    for r in readers:
        r.join()
        t.add("reader_rounds", r.rounds)
        print(f"tool {r.what} reader: rounds={r.rounds} torn={r.torn}")
        for e in r.errors:
            t.fail(f"tool {r.what} reader: {e}")
    writers = list(libs) + [w.tag for w in tools]
    check_chain(t, d, acks, writers)


def check_chain(t: du.Tally, d: str, acks, writers) -> None:
    n = PER_WRITER * len(writers)
    t.add("records", n)
    t.add("acknowledged", len(acks))
    data = du.read(os.path.join(d, "chain.bin"))
    frames, end = du.parse_frames(data)
    hashes = [hashlib.sha256(b).hexdigest() for _, b in frames]
    v = du.verify(d)
    if not v["valid"] or v["records"] != n or len(frames) != n or end != len(data):
        t.fail(f"the chain: verify says {v}; {len(frames)} frames, "
               f"{len(data) - end} stray bytes; expected {n} records")
    if sorted(i for i, _ in acks) != list(range(n)):
        t.fail(f"acknowledged indices are not exactly 0..{n - 1}")
    for i, h in acks:
        if i >= len(hashes) or hashes[i] != h:
            t.add("lost")
            t.fail(f"acknowledged record {i} ({h[:16]}...) is not in the chain")
    p = du.run([du.helper("ac_reader"), "log", d])
    have = [ln.split()[2] for ln in p.stdout.splitlines()]
    want = sorted(content(tag, k) for tag in writers for k in range(PER_WRITER))
    if p.returncode != 0 or sorted(have) != want:
        missing = len(set(want) - set(have))
        t.add("lost", missing)
        t.fail(f"the chain's contents are not each writer's records exactly once "
               f"({missing} missing, {len(have)} records)")
    stale = du.state_is_current(d)
    if stale:
        t.fail("after every writer closed: " + stale)


def rotation_race(t: du.Tally, work: str, key: str) -> None:
    d = os.path.join(work, "rotation")
    key2 = os.path.join(work, "k2.pem")
    shutil.copyfile(du.KEY2, key2)
    os.chmod(key2, 0o600)
    p = du.run([du.helper("ac_writer"), d, key, "first", "2"])
    if p.returncode != 0:
        t.fail("rotation race: " + du.describe(p))
        return
    libs = [subprocess.Popen([du.helper("ac_writer"), d, key, f"r{n}", "1000000", str(b)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for n, b in enumerate((1, 5))]
    tool_loop = ('while "$0" append -C "$1" -k "$2" --hash "$3" >/dev/null 2>"$4"; do :; done; '
                 'exit 0')
    sh = subprocess.Popen(["sh", "-c", tool_loop, du.TOOL, d, key, content("r", 9),
                           os.path.join(work, "rotation-tool.err")])
    # Let the writers get going: wait until the chain has grown.
    for _ in range(5000):
        if len(du.parse_frames(du.read(os.path.join(d, "chain.bin")))[0]) >= 30:
            break
        time.sleep(0.001)
    r = du.tool("rotate", "-C", d, "-k", key, "--new-key", key2)
    rot = du.parse_acks(r.stdout)
    if r.returncode != 0 or len(rot) != 1:
        for w in libs + [sh]:
            w.kill()  # they would append for ever
    outs = [w.communicate(timeout=du.TIMEOUT) for w in libs]
    sh.wait(timeout=du.TIMEOUT)
    t.add("rotation_writers", len(libs) + 1)
    if r.returncode != 0 or len(rot) != 1:
        t.fail("rotation race: rotate failed: " + du.describe(r))
        return
    for w, (out, err) in zip(libs, outs):
        if w.returncode != 2 or "not authorized" not in err.decode():
            t.fail(f"rotation race: a library writer ended with exit {w.returncode}, "
                   f"{err.decode()[-300:]!r}, not refused as unauthorized")
        if any(i > rot[0][0] for i, _ in du.parse_acks(out.decode())):
            t.fail("rotation race: a record with the retired key was acknowledged after the rotation")
    tool_err = du.read(os.path.join(work, "rotation-tool.err")).decode()
    if "not authorized" not in tool_err:
        t.fail(f"rotation race: the tool writer stopped with {tool_err!r}, not as unauthorized")
    v = du.verify(d)
    n = len(du.parse_frames(du.read(os.path.join(d, "chain.bin")))[0])
    if not v["valid"] or v["records"] != n or n != rot[0][0] + 1:
        t.fail(f"rotation race: verify says {v}; {n} frames; the rotation is record {rot[0][0]}")
    p = du.tool("append", "-C", d, "-k", key2, "--hash", content("new", 0))
    if [a[0] for a in du.parse_acks(p.stdout)] != [n]:
        t.fail("rotation race: the new key could not append: " + du.describe(p))


class Pause:
    """The fault shim's pause points: a process waits before and after one
    call until the test lets it go on."""

    def __init__(self, work: str):
        self.dir = os.path.join(work, "pause")
        os.mkdir(self.dir)

    def env(self, call: str, nth: int = 1) -> dict:
        return dict(os.environ, LD_PRELOAD=du.helper("fault_shim.so"), FAULT_PAUSE_CALL=call,
                    FAULT_PAUSE_NTH=str(nth), FAULT_PAUSE_DIR=self.dir,
                    ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") +
                                  ":verify_asan_link_order=0").lstrip(":"))

    def wait(self, mark: str) -> bool:
        for _ in range(20000):
            if os.path.exists(os.path.join(self.dir, mark)):
                return True
            time.sleep(0.001)
        return False

    def go(self, mark: str) -> None:
        with open(os.path.join(self.dir, mark), "w"):
            pass


class Getter:
    """ac_reader get: one long-lived read-write handle answering get(i)."""

    def __init__(self, d: str, env=None):
        self.p = subprocess.Popen([du.helper("ac_reader"), "get", d], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def ask(self, i: int) -> None:
        self.p.stdin.write(b"%d\n" % i)
        self.p.stdin.flush()

    def answer(self) -> str:
        return self.p.stdout.readline().decode().strip()

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()


def index_race(t: du.Tally, work: str, key: str) -> None:
    d = os.path.join(work, "index-race")
    pause = Pause(work)

    def append(n: int, tag: str) -> None:
        p = du.run([du.helper("ac_writer"), d, key, tag, str(n)])
        if p.returncode != 0:
            raise AssertionError(du.describe(p))

    append(10, "a")                          # 10 records
    if os.path.exists(os.path.join(d, "index.bin")):
        os.remove(os.path.join(d, "index.bin"))  # writers keep it: start without
    r1 = Getter(d, pause.env("ftruncate"))   # sees 10 records
    r1.ask(5)                                # creates index.bin, rebuilds it from 0
    if not pause.wait("before"):
        t.fail("index race: the rebuilding reader never reached its ftruncate")
        pause.go("go-before")
        pause.go("go-after")
        r1.close()
        return
    append(10, "b")                          # 20 records
    r2 = Getter(d)
    r2.ask(15)                               # rebuilds index.bin with 20 entries
    answers = [r2.answer()]
    pause.go("go-before")                    # r1 truncates index.bin ...
    pause.wait("after")
    append(5, "c")                           # 25 records
    r2.ask(22)                               # ... r2 writes entries 20..24 ...
    answers.append(r2.answer())
    pause.go("go-after")                     # ... r1 writes entries 0..9
    answers.append(r1.answer())
    r1.close()
    r2.close()
    raw = du.read(os.path.join(d, "index.bin"))
    holes = sum(1 for i in range(16, len(raw) - 7, 8) if i > 16 and raw[i:i + 8] == bytes(8))
    print(f"index race: index.bin left with {holes} zero entries")
    hashes = du.record_hashes(du.read(os.path.join(d, "chain.bin")))
    fresh = du.run([du.helper("ac_reader"), "get", d],
                   input="".join(f"{i}\n" for i in range(len(hashes))))
    answers += fresh.stdout.splitlines()
    want = [f"15 {hashes[15]}", f"22 {hashes[22]}", f"5 {hashes[5]}"] + \
        [f"{i} {h}" for i, h in enumerate(hashes)]
    t.add("index_race_gets", len(answers))
    if len(hashes) != 25 or answers != want:
        bad = [a for a, w in zip(answers, want) if a != w][:3]
        t.fail(f"index race: readers got wrong records or errors: {bad}")
    if du.HAVE_TOOL:
        p = du.tool("log", "-C", d, "--from", "12", "--json")
        got = [r["hash"] for r in json.loads(p.stdout)] if p.returncode == 0 else []
        if got != hashes[12:]:
            t.fail("index race: log --from 12 after the race: " + du.describe(p))


def main() -> None:
    du.require(du.helper("ac_writer"), du.helper("ac_reader"), du.helper("fault_shim.so"))
    if du.MEMCHECK:
        du.skip("concurrency drives processes; valgrind runs the unit tests")
    t = du.Tally("concurrency")
    with du.tmpdir("concurrency") as work:
        key = os.path.join(work, "k1.pem")
        shutil.copyfile(du.KEY, key)
        os.chmod(key, 0o600)
        if du.HAVE_TOOL:
            interleaving(t, work, key)
        concurrent(t, work, key)
        if du.HAVE_TOOL:
            rotation_race(t, work, key)
        index_race(t, work, key)
    t.finish("records", "acknowledged", "lost", "reader_rounds", "interleaved_appends",
             "rotation_writers", "index_race_gets")


if __name__ == "__main__":
    main()
