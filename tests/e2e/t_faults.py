"""I/O faults (issue 3, item 3).

tests/helpers/fault_shim.so, preloaded into a writer (the tool's `append`,
and the library through tests/helpers/ac_writer), makes one system call fail.
First a counting run lists every watched call the append makes (open,
openat, write, pwrite, fsync, fdatasync, rename, renameat, ftruncate,
unlink, unlinkat); then, for each of those calls and each errno (ENOSPC,
EIO, EACCES, EROFS), the append runs again with that call failing, and for
write/pwrite also cut short and then failing.  Writers: the tool and the library, with one record (and, under AC_STRESS,
also with a batch of 3 in one call).  Each outcome must be
one of:
  - failed: exit 2, one line on stderr naming the cause, nothing
    acknowledged, chain.bin byte-identical to before;
  - survived: the fault hit a cache (index.bin, say) and the append went on:
    exit 0, the record acknowledged and in the chain;
  - acknowledged, then failed: the record was durable and acknowledged, and
    a later step (writing state.cbor on close) failed with exit 2 and one
    clear line; the record is in the chain.
In every case state.cbor is absent or current, and the next append without
the fault (tests/helpers/ac_recover) finds the chain valid, appends with the
next index and verifies it again.  The same
runs are repeated on a chain with a torn tail, where a failed append may
also have cut the tail, provided its bytes are kept in chain.bin.torn-*.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durability as du  # noqa: E402

SHIM = du.helper("fault_shim.so")
ERRNOS = ("ENOSPC", "EIO", "EACCES", "EROFS")
BASE_RECORDS = 3


BATCH = 3  # records of the batch writers' one call


def writer_cmd(kind: str, d: str, key: str, tag: str):
    """An append by the tool or the library, of one record or of a batch."""
    n = BATCH if kind.endswith("batch") else 1
    if kind.startswith("tool"):
        hashes = []
        for i in range(n):
            hashes += ["--hash", hashlib.sha256(f"{tag}:{i}".encode()).hexdigest()]
        return [du.TOOL, "append", "-C", d, "-k", key, *hashes]
    return [du.helper("ac_writer"), d, key, tag, str(n), str(n)]


def records_of(kind: str) -> int:
    return BATCH if kind.endswith("batch") else 1


def shim_env(**faults) -> dict:
    env = dict(os.environ)
    env["LD_PRELOAD"] = SHIM
    # The shim precedes the sanitizer runtime in the ASan build; let it.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    for k in ("FAULT_LOG", "FAULT_CALL", "FAULT_NTH", "FAULT_ERRNO", "FAULT_SHORT"):
        env.pop(k, None)
    env.update({k: str(v) for k, v in faults.items()})
    return env


def count_calls(kind: str, base: str, work: str, key: str):
    """The watched calls of one append, in order: [(name, n, file)]."""
    d = os.path.join(work, "chaindir")
    shutil.copytree(base, d)
    log = os.path.join(work, "count.log")
    p = du.run(writer_cmd(kind, d, key, "counting"), env=shim_env(FAULT_LOG=log))
    if p.returncode != 0:
        raise AssertionError("the counting run failed: " + du.describe(p))
    calls = []
    for line in du.read(log).decode().splitlines():
        name, n, path = (line.split(" ", 2) + [""])[:3]
        calls.append((name, int(n), path))
    shutil.rmtree(d)
    os.unlink(log)
    return calls


class Faults:
    def __init__(self, t: du.Tally, work: str, key: str):
        self.t, self.work, self.key = t, work, key
        self.n = 0

    def one(self, kind, base, call, err, short, torn_tail: bytes) -> None:
        name, nth, path = call
        self.n += 1
        d = os.path.join(self.work, f"f{self.n}")
        shutil.copytree(base, d)
        chain = os.path.join(d, "chain.bin")
        before = du.read(chain)
        full_end = len(before) - len(torn_tail)
        log = os.path.join(self.work, f"f{self.n}.log")
        faults = dict(FAULT_CALL=name, FAULT_NTH=nth, FAULT_ERRNO=err, FAULT_LOG=log)
        if short:
            faults["FAULT_SHORT"] = 1
        p = du.run(writer_cmd(kind, d, self.key, f"fault{self.n}"), env=shim_env(**faults))
        site = (f"{kind} append, {name} #{nth} ({os.path.basename(path)})"
                f"{' cut short, then' if short else ''} -> {err}"
                f"{' [torn tail]' if torn_tail else ''}")
        fired = "fault_shim:" in du.read(log).decode()
        self.t.add("attempts")
        outcome_before = dict(self.t.counts)
        problems = self.judge(p, d, before, full_end, torn_tail, err, fired, records_of(kind))
        outcome = [k for k in ("failed", "survived", "acknowledged_then_failed")
                   if self.t.counts.get(k, 0) != outcome_before.get(k, 0)]
        print(f"{site}: {outcome[0] if outcome else 'BAD'}")
        if problems:
            self.t.fail(f"{site}: " + "; ".join(problems) + f" [{du.describe(p)}]")
        shutil.rmtree(d)
        os.unlink(log)

    def judge(self, p, d, before, full_end, torn_tail, err, fired, nrec):
        problems = []
        chain = os.path.join(d, "chain.bin")
        after = du.read(chain)
        acks = du.parse_acks(p.stdout) if p.returncode in (0, 2) else []
        count = len(du.parse_frames(before)[0])
        if not fired:
            self.t.add("not_reached")
        if p.returncode == 2 and not acks:
            self.t.add("failed")
            lines = p.stderr.strip().splitlines()
            if len(lines) != 1 or os.strerror(getattr(errno, err)) not in lines[0]:
                problems.append(f"stderr should be one line naming "
                                f"'{os.strerror(getattr(errno, err))}'")
            if after != before:
                cut = torn_tail and after == before[:full_end] and \
                    [du.read(os.path.join(d, f)) for f in du.torn_files(d)] == [torn_tail]
                if not cut:
                    self.t.add("changed")
                    problems.append(f"chain.bin changed: {len(before)} -> {len(after)} bytes")
        elif p.returncode in (0, 2) and [a[0] for a in acks] == list(range(count, count + nrec)):
            self.t.add("survived" if p.returncode == 0 else "acknowledged_then_failed")
            frames = du.parse_frames(after)[0]
            if after[:full_end] != before[:full_end] or len(frames) != count + nrec:
                problems.append("the acknowledged record is not simply added")
            if p.returncode == 2 and len(p.stderr.strip().splitlines()) != 1:
                problems.append("stderr should be one line")
        else:
            problems.append("neither a clean failure nor an acknowledged append")
        if torn_tail and du.torn_files(d) and \
                [du.read(os.path.join(d, f)) for f in du.torn_files(d)] != [torn_tail]:
            problems.append("a torn-tail file does not hold exactly the torn bytes")
        stale = du.state_is_current(d)
        if stale:
            problems.append(stale)
        problems += self.recovers(d, after)
        return problems

    def recovers(self, d: str, after: bytes):
        """The next append without a fault (tests/helpers/ac_recover: verify,
        append, verify, close, verify): the next index, a valid chain."""
        frames, end = du.parse_frames(after)
        count, torn = len(frames), len(after) - end
        p = du.run([du.helper("ac_recover"), self.key, "next", d])
        want = [d, f"1/{count}/{torn}/-", f"0/{count}/", f"1/{count + 1}/0/-", f"1/{count + 1}/0/-"]
        got = p.stdout.split()
        if p.returncode != 0 or len(got) != 5 or not got[2].startswith(want[2]) or \
                got[:2] + got[3:] != want[:2] + want[3:]:
            return [f"the next append (no fault): {du.describe(p)}, expected {' '.join(want)}"]
        return []


def make_base(work: str, key: str, torn: bool) -> tuple[str, bytes]:
    d = os.path.join(work, "base-torn" if torn else "base")
    p = du.run([du.helper("ac_writer"), d, key, "base", str(BASE_RECORDS)])
    if p.returncode != 0:
        raise AssertionError(du.describe(p))
    tail = b""
    if torn:
        data = du.read(os.path.join(d, "chain.bin"))
        off, body = du.parse_frames(data)[0][-1]
        tail = data[off:off + 4 + len(body) // 2]
        with open(os.path.join(d, "chain.bin"), "ab") as f:
            f.write(tail)
    return d, tail


def main() -> None:
    if du.MEMCHECK:
        du.skip("fault injection preloads a shim into the writers; valgrind runs the unit tests")
    du.require(du.helper("ac_writer"), du.helper("ac_recover"), SHIM)
    t = du.Tally("faults")
    with du.tmpdir("faults") as work:
        # A key file only we can read: the tool's warning about a readable
        # key would be a second line on stderr.
        key = os.path.join(work, "k1.pem")
        shutil.copyfile(du.KEY, key)
        os.chmod(key, 0o600)
        f = Faults(t, work, key)
        kinds = ["lib", "tool"] if du.HAVE_TOOL else ["lib"]
        if du.STRESS:
            kinds += ["lib-batch", "tool-batch"] if du.HAVE_TOOL else ["lib-batch"]
        for torn in (False, True):
            base, tail = make_base(work, key, torn)
            for kind in kinds:
                calls = count_calls(kind, base, work, key)
                t.add("call_sites", len(calls))
                for call in calls:
                    for err in ERRNOS:
                        f.one(kind, base, call, err, False, tail)
                        if call[0] in ("write", "pwrite"):
                            f.one(kind, base, call, err, True, tail)
    t.finish("call_sites", "attempts", "failed", "survived", "acknowledged_then_failed",
             "changed", "not_reached")


if __name__ == "__main__":
    main()
