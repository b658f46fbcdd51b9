"""Crash injection (issue 3, item 1).

A writer (the library through tests/helpers/ac_writer, or a loop of
`attestchain append` batches) appends until it is killed with SIGKILL at a
random moment.  After each kill:
  - `verify --json` says valid;
  - every record whose append was acknowledged (the writer printed its
    "<index> <hash>" line) is in chain.bin at that index with that hash;
  - the next append gets the next index (the number of complete frames);
  - a torn tail, if any, is cut by that append and its bytes kept in a
    chain.bin.torn-* file beside the chain, and nothing before it changes.
A SIGKILL can cut a large write short (the kernel stops copying pages when a
fatal signal is pending), but rarely; so after some kills the test also adds
a torn tail itself, as a crash of the machine would leave it.

50 kills in `make check`, 500 in `make stress` (AC_STRESS=1).
"""
from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durability as du  # noqa: E402

KILLS = 500 if du.STRESS else 50
PER_CHAIN = 5         # a fresh chain every so many kills keeps each check cheap
MAX_DELAY = 0.05      # seconds from start to kill: covers start-up and many appends
SYNTHETIC_EVERY = 4   # every 4th kill also leaves a torn tail of its own


def start_writer(kind: str, d: str, tag: str, out_path: str, rng: random.Random, work: str):
    """Starts a writer in its own process group, stdout to out_path."""
    out = open(out_path, "wb")
    err = open(out_path + ".err", "wb")
    if kind == "lib":
        batch = rng.choice([1, 1, 1, 7, 64, 400])
        cmd = [du.helper("ac_writer"), d, du.KEY, tag, "0", str(batch)]
    else:
        # Batches of up to 400 records: big writes are where a kill can tear.
        n = rng.choice([1, 1, 3, 50, 400])
        lst = os.path.join(work, f"{tag}.hashes")
        with open(lst, "w") as f:
            for i in range(n):
                f.write(hashlib.sha256(f"{tag}:{i}".encode()).hexdigest() + "\n")
        # Exit 126/127: a `make` in the tree is relinking the tool; try again.
        script = ('while :; do "$0" append -C "$1" -k "$2" --hash-list "$3"; rc=$?; '
                  'case $rc in 0|126|127) ;; *) exit 3;; esac; done')
        cmd = ["sh", "-c", script, du.TOOL, d, du.KEY, lst]
    p = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
    out.close()
    err.close()
    return p


def kill_writer(p) -> bool:
    """SIGKILLs the writer's process group; False if it had already ended
    (a writer never ends by itself, so that is a failure to look at)."""
    ended = p.poll() is not None
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()
    return not ended


def add_torn_tail(chain: str, rng: random.Random) -> int:
    """Appends a prefix of the last frame, as a machine crash mid-write
    leaves it; returns its length (0 if the chain has no frame yet)."""
    data = du.read(chain)
    frames, _ = du.parse_frames(data)
    if not frames:
        return 0
    off, body = frames[-1]
    frame = data[off:off + 4 + len(body)]
    cut = rng.randint(1, len(frame) - 1)
    with open(chain, "ab") as f:
        f.write(frame[:cut])
    return cut


def next_append(kind: str, d: str, tag: str):
    """One more record, by the library or the tool: (index, hash) or raises."""
    if kind == "lib":
        p = du.run([du.helper("ac_writer"), d, du.KEY, tag, "1"])
    else:
        h = hashlib.sha256(tag.encode()).hexdigest()
        p = du.tool("append", "-C", d, "-k", du.KEY, "--hash", h)
    if p.returncode != 0:
        raise AssertionError("append after a kill failed: " + du.describe(p))
    acks = du.parse_acks(p.stdout)
    if len(acks) != 1:
        raise AssertionError("append after a kill printed no single line: " + du.describe(p))
    return acks[0]


class Crash:
    def __init__(self, tally: du.Tally, work: str, seed: int):
        self.t = tally
        self.work = work
        self.rng = random.Random(seed)
        self.kinds = ["lib", "tool"] if du.HAVE_TOOL else ["lib"]
        self.d = ""
        self.acked: dict[int, str] = {}
        self.lost: set[tuple[str, int]] = set()

    def new_chain(self, n: int) -> None:
        self.d = os.path.join(self.work, f"chain{n}")
        self.acked = {}

    def note_acks(self, acks, where: str) -> None:
        for i, h in acks:
            if self.acked.get(i, h) != h:
                self.t.fail(f"{where}: index {i} acknowledged twice, as {self.acked[i][:16]}... "
                            f"and {h[:16]}... (a fork)")
            elif i not in self.acked:
                self.acked[i] = h
                self.t.add("acknowledged")

    def check_acked(self, hashes, where: str) -> None:
        for i, h in sorted(self.acked.items()):
            if i >= len(hashes) or hashes[i] != h:
                if (self.d, i) not in self.lost:
                    self.lost.add((self.d, i))
                    self.t.add("lost")
                self.t.fail(f"{where}: acknowledged record {i} ({h[:16]}...) is "
                            + ("missing" if i >= len(hashes) else f"now {hashes[i][:16]}..."))

    def one_kill(self, k: int) -> None:
        kind = self.kinds[k % len(self.kinds)]
        where = f"kill {k} ({kind} writer)"
        tag = f"k{k}"
        out = os.path.join(self.work, f"{tag}.out")
        p = start_writer(kind, self.d, tag, out, self.rng, self.work)
        time.sleep(self.rng.uniform(0, MAX_DELAY))
        if not kill_writer(p):
            self.t.fail(f"{where}: the writer ended by itself: {du.read(out + '.err')[-300:]!r}")
        self.t.add("kills")
        self.note_acks(du.parse_acks(du.read(out).decode()), where)
        chain = os.path.join(self.d, "chain.bin")
        if not os.path.exists(chain):
            return  # killed before the chain was created: nothing to check
        data = du.read(chain)
        frames, end = du.parse_frames(data)
        if end < len(data):
            self.t.add("torn_natural")
        elif k % SYNTHETIC_EVERY == SYNTHETIC_EVERY - 1 and add_torn_tail(chain, self.rng):
            self.t.add("torn_synthetic")
            data = du.read(chain)
        self.check_after(k, kind, where, data, frames, end)

    def check_after(self, k, kind, where, data, frames, end) -> None:
        v = du.verify(self.d)
        if not v["valid"] or v["records"] != len(frames) or v["torn"] != len(data) - end:
            self.t.fail(f"{where}: verify says {v}; chain.bin has {len(frames)} complete "
                        f"frames and {len(data) - end} torn bytes")
        self.check_acked(du.record_hashes(data), where)
        before = du.torn_files(self.d)
        nk = self.kinds[(k + 1) % len(self.kinds)]
        try:
            idx, h = next_append(nk, self.d, f"after{k}")
        except AssertionError as e:
            self.t.fail(f"{where}: {e}")
            return
        self.t.add("appends_after")
        if idx != len(frames):
            self.t.fail(f"{where}: next append ({nk}) got index {idx}, expected {len(frames)}")
        self.note_acks([(idx, h)], where)
        data2 = du.read(os.path.join(self.d, "chain.bin"))
        if data2[:end] != data[:end]:
            self.t.fail(f"{where}: the complete frames changed under the next append")
        after = du.torn_files(self.d)
        new = [f for f in after if f not in before]
        tail = data[end:]
        if tail:
            kept = [f for f in new if du.read(os.path.join(self.d, f)) == tail]
            if len(new) != 1 or not kept:
                self.t.fail(f"{where}: torn tail of {len(tail)} bytes: new torn files {new}, "
                            f"none holding exactly those bytes")
            else:
                self.t.add("torn_kept")
        elif new:
            self.t.fail(f"{where}: no torn tail, yet the append saved {new}")
        v2 = du.verify(self.d)
        if not v2["valid"] or v2["records"] != len(frames) + 1 or v2["torn"]:
            self.t.fail(f"{where}: after the next append verify says {v2}, expected "
                        f"{len(frames) + 1} records and no torn tail")


def main() -> None:
    if du.MEMCHECK:
        du.skip("crash injection kills processes; nothing for valgrind to see")
    du.require(du.helper("ac_writer"))
    seed = int(os.environ.get("AC_SEED", str(int(time.time()))))
    print(f"seed {seed} (AC_SEED={seed} repeats this run's choices)", flush=True)
    tally = du.Tally("crash")
    with du.tmpdir("crash") as work:
        c = Crash(tally, work, seed)
        for k in range(KILLS):
            if k % PER_CHAIN == 0:
                c.new_chain(k // PER_CHAIN)
            c.one_kill(k)
    tally.finish("kills", "acknowledged", "lost", "appends_after", "torn_natural",
                 "torn_synthetic", "torn_kept")


if __name__ == "__main__":
    main()
