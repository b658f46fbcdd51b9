"""Shared code of the durability tests (t_crash, t_powercut, t_faults,
t_concurrency, t_secrets; issue 3).  Not a test itself (tests/run.sh runs
only t_*.py).

Environment (set by tests/run.sh and tests/stress.sh):
  AC_BUILD     the build directory (helpers in AC_BUILD/tests)
  AC_TOOL      the attestchain tool
  AC_VECTORS   the test vectors (keys in AC_VECTORS/keys)
  AC_STRESS=1  the long versions (make stress)
  AC_MEMCHECK=1, AC_WRAP   make memcheck: AC_WRAP runs a program under valgrind

Each test prints, last, one line "<name>: attempts=N lost=0 failures=0 ..."
that tests/stress.sh collects, and exits 0 (pass), 1 (fail) or 77 (skip).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shlex
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("AC_BUILD") or os.path.join(REPO, "build")
TOOL = os.environ.get("AC_TOOL") or os.path.join(BUILD, "attestchain")
VECTORS = os.environ.get("AC_VECTORS") or os.path.join(REPO, "tests", "vectors")
HELPERS = os.path.join(BUILD, "tests")
KEY = os.path.join(VECTORS, "keys", "k1.pem")
KEY2 = os.path.join(VECTORS, "keys", "k2.pem")
STRESS = os.environ.get("AC_STRESS") == "1"
MEMCHECK = os.environ.get("AC_MEMCHECK") == "1"
WRAP = shlex.split(os.environ.get("AC_WRAP", ""))
TIMEOUT = 600
SKIP = 77
# AC_NO_TOOL=1 runs the library's side alone (while the tool is being built);
# otherwise a missing tool is a failure.
HAVE_TOOL = os.access(TOOL, os.X_OK)


def helper(name: str) -> str:
    return os.path.join(HELPERS, name)


def require(*paths: str) -> None:
    """A missing tool or helper is a failure: `make check` builds them first."""
    if os.environ.get("AC_NO_TOOL") != "1":
        paths = (TOOL,) + paths
    for p in paths:
        if not os.access(p, os.X_OK) and not (p.endswith(".so") and os.path.exists(p)):
            print(f"FAIL: {p} is missing (run make check, which builds it)")
            sys.exit(1)


def skip(why: str) -> None:
    print(f"SKIP {why}")
    sys.exit(SKIP)


def tmpdir(prefix: str) -> tempfile.TemporaryDirectory:
    """A scratch directory, on tmpfs (/dev/shm) when there is one: these tests
    check what the library does after a kill, a cut or a failed call, which
    does not depend on the disk, and thousands of fsyncs on a busy disk would
    make them slow.  AC_TEST_TMP overrides the place."""
    base = os.environ.get("AC_TEST_TMP")
    if not base and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        base = "/dev/shm"
    return tempfile.TemporaryDirectory(prefix=f"ac-{prefix}-", dir=base or None)


def run(cmd, *, input=None, env=None, timeout=TIMEOUT, wrap=False):
    """Runs cmd (a list); returns CompletedProcess with text stdout/stderr."""
    cmd = (WRAP if wrap else []) + [str(a) for a in cmd]
    data = input.encode() if isinstance(input, str) else input
    for attempt in range(100):
        try:
            p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, timeout=timeout)
            break
        except (PermissionError, FileNotFoundError, OSError) as e:
            # A `make` in the same tree may be relinking the program this
            # instant (it exists without its x bit, or not at all): retry for
            # up to 10 s.  Nothing under test has run yet.
            if attempt == 99 or e.errno not in (errno.EACCES, errno.ENOENT, errno.ETXTBSY):
                raise
            time.sleep(0.1)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    return p


def tool(*args, **kw):
    return run([TOOL, *args], **kw)


def describe(p) -> str:
    return f"{p.args!r} -> exit {p.returncode}; stdout {p.stdout[-500:]!r}; stderr {p.stderr[-500:]!r}"


# ---------------------------------------------------------------- chain.bin

def read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def parse_frames(data: bytes):
    """([(offset, body)], end of the last complete frame): the framing of
    section 2, read independently of the library."""
    out, off = [], 0
    while off + 4 <= len(data):
        (n,) = struct.unpack(">I", data[off:off + 4])
        if n == 0 or off + 4 + n > len(data):
            break
        out.append((off, data[off + 4:off + 4 + n]))
        off += 4 + n
    return out, off


def record_hashes(data: bytes):
    """Hex record hash (SHA-256 of the frame body) of every complete frame."""
    return [hashlib.sha256(body).hexdigest() for _, body in parse_frames(data)[0]]


def parse_acks(text: str):
    """The complete "<index> <hash>" lines of a writer's output.  A line cut
    by a kill is not an acknowledgement (the writer never finished saying it)."""
    acks = []
    for line in text.split("\n")[:-1]:
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == 64:
            acks.append((int(parts[0]), parts[1]))
        elif line.strip():
            raise AssertionError(f"writer printed an unexpected line: {line!r}")
    return acks


def torn_files(d: str):
    return sorted(f for f in os.listdir(d) if f.startswith("chain.bin.torn-"))


# ---------------------------------------------------------------- verdicts

def verify(d: str):
    """The tool's `verify --json` verdict as a dict, with "torn" (the torn
    tail's size, 0 if none) added; raises if the tool errs or prints junk."""
    if not HAVE_TOOL:
        return lib_verify(d)
    p = tool("verify", "-C", d, "--json")
    if p.returncode not in (0, 1):
        raise AssertionError("verify failed to run: " + describe(p))
    try:
        v = json.loads(p.stdout)
    except ValueError:
        raise AssertionError("verify printed no JSON: " + describe(p)) from None
    if (p.returncode == 0) != bool(v.get("valid")):
        raise AssertionError("verify's exit status disagrees with its JSON: " + describe(p))
    v["torn"] = 0
    for w in v.get("warnings") or []:
        if w.get("code") == "torn_tail":
            v["torn"] = w.get("bytes", w.get("size", -1))
    return v


def lib_verify(d: str):
    """The library's verdict through the ac_reader helper (same keys)."""
    p = run([helper("ac_reader"), "verify", d])
    if p.returncode not in (0, 1):
        raise AssertionError("ac_reader verify failed to run: " + describe(p))
    return json.loads(p.stdout)


# ---------------------------------------------------------------- state.cbor
# A minimal reader and writer for the one shape state.cbor has (a map of
# text keys to unsigned integers and byte strings), so that these tests need
# no CBOR package.

def _head(major: int, val: int) -> bytes:
    if val < 24:
        return bytes([major << 5 | val])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if val < 1 << (8 * size):
            return bytes([major << 5 | ai]) + val.to_bytes(size, "big")
    raise ValueError(val)


def cbor_state(m: dict) -> bytes:
    """Deterministic CBOR of a flat map (keys sorted shorter first)."""
    out = _head(5, len(m))
    for k in sorted(m, key=lambda k: (len(k.encode()), k.encode())):
        out += _head(3, len(k.encode())) + k.encode()
        v = m[k]
        out += _head(2, len(v)) + v if isinstance(v, bytes) else _head(0, v)
    return out


def _read_head(b: bytes, pos: int):
    ib = b[pos]
    major, ai = ib >> 5, ib & 31
    if ai < 24:
        return major, ai, pos + 1
    size = {24: 1, 25: 2, 26: 4, 27: 8}[ai]
    return major, int.from_bytes(b[pos + 1:pos + 1 + size], "big"), pos + 1 + size


def parse_state(b: bytes) -> dict:
    major, n, pos = _read_head(b, 0)
    assert major == 5, "state.cbor is not a map"
    out = {}
    for _ in range(n):
        major, klen, pos = _read_head(b, pos)
        assert major == 3
        key = b[pos:pos + klen].decode()
        pos += klen
        major, val, pos = _read_head(b, pos)
        if major == 2:
            out[key], pos = b[pos:pos + val], pos + val
        elif major == 4:  # an array of uints (rotation_offsets)
            items = []
            for _ in range(val):
                _m, v, pos = _read_head(b, pos)
                items.append(v)
            out[key] = items
        else:
            assert major == 0, f"state.cbor: unexpected type for {key}"
            out[key] = val
    return out


PYTHON_STATE_KEYS = ("chain_id", "head_index", "head_hash", "record_count", "created_at",
                     "last_append_at")


def python_store_state(state_bytes: bytes) -> bytes:
    """The same checkpoint as the Python store writes it: no extension keys."""
    m = parse_state(state_bytes)
    return cbor_state({k: m[k] for k in PYTHON_STATE_KEYS})


def state_is_current(d: str):
    """None if state.cbor is absent or describes chain.bin's head exactly,
    else a description of how it is stale (section 6: always absent or
    current)."""
    raw = read(os.path.join(d, "state.cbor"))
    if not raw:
        return None
    st = parse_state(raw)
    hashes = record_hashes(read(os.path.join(d, "chain.bin")))
    if not hashes:
        return "state.cbor present for an empty chain"
    want = (len(hashes) - 1, len(hashes), hashes[-1])
    got = (st.get("head_index"), st.get("record_count"), st.get("head_hash", b"").hex())
    if got != want:
        return (f"state.cbor says head_index={got[0]} record_count={got[1]} "
                f"head_hash={got[2][:16]}..., chain.bin has {want[1]} records "
                f"(head {want[2][:16]}...)")
    return None


# ---------------------------------------------------------------- reporting

class Tally:
    """Counts attempts and problems; prints the summary line and exits."""

    def __init__(self, name: str):
        self.name = name
        self.counts: dict[str, int] = {}
        self.problems: list[str] = []

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def fail(self, what: str) -> None:
        self.problems.append(what)
        if len(self.problems) <= 20:
            print(f"FAIL {self.name}: {what}", flush=True)

    def finish(self, *keys: str) -> None:
        fields = " ".join(f"{k}={self.counts.get(k, 0)}" for k in keys)
        print(f"{self.name}: {fields} failures={len(self.problems)}", flush=True)
        sys.exit(1 if self.problems else 0)
