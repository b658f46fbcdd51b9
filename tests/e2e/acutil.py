"""Shared helpers for the Python end-to-end tests (tests/t_*.py).

Environment (set by tests/run.sh):
  AC_TOOL     path of the built attestchain tool (default: build/attestchain)
  AC_VECTORS  the shared test vectors (default: tests/vectors)
  AC_WRAP     a command to run the tool under (valgrind for `make memcheck`)

Each test file calls main(), which runs its unittest cases, prints one
summary line and exits 0 (all passed), 77 (skipped, last line says why) or 1.
"""
from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("AC_TOOL") or os.path.join(REPO, "build", "attestchain")
VECTORS = os.environ.get("AC_VECTORS") or os.path.join(REPO, "tests", "vectors")
KEYS = os.path.join(VECTORS, "keys")
SEED = os.path.normpath(os.path.join(REPO, "..", "shared", "seed"))
WRAP = shlex.split(os.environ.get("AC_WRAP", ""))

SKIP = 77
# Generous: a 50 MiB hash under valgrind is slow, but a hung tool must not hang the suite.
TIMEOUT = 600


def skip_file(why: str) -> None:
    """Skips the whole test file: exit 77 with the reason as the last line."""
    print(f"SKIP {why}")
    sys.exit(SKIP)


def require_tool() -> None:
    # A missing tool is a failure, not a skip: `make check` builds it first.
    if not os.access(TOOL, os.X_OK):
        print(f"FAIL: the tool {TOOL} is missing or not executable (run make)")
        sys.exit(1)


def tool_env() -> dict:
    """The environment for the tool: without ATTESTCHAIN_DIR, so that a test
    of a missing -C is not answered by the caller's environment."""
    env = dict(os.environ)
    env.pop("ATTESTCHAIN_DIR", None)
    return env


def run(*args, input=None, cwd=None, env=None, prefix=()):
    """Runs the tool with `args` (strings), after the command words in
    `prefix` (e.g. unshare); returns CompletedProcess (text)."""
    cmd = list(prefix) + WRAP + [TOOL] + [str(a) for a in args]
    if env is None:
        env = tool_env()
    data = input.encode() if isinstance(input, str) else input
    p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=cwd, env=env, timeout=TIMEOUT)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    return p


def run_on_tty(args, answer=None):
    """Runs the tool (never under AC_WRAP) on a new pseudo-terminal, its
    controlling terminal and its stdout and stderr; answers `answer` to a
    passphrase prompt.  Returns (exit status, all it wrote, as text)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the tool, with the pty as its terminal
        try:
            os.execve(TOOL, [TOOL, *[str(a) for a in args]], tool_env())
        finally:
            os._exit(127)
    out = b""
    answered = False
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not answered and answer is not None and b"Passphrase for" in out:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def describe(p) -> str:
    return f"{p.args!r} -> exit {p.returncode}\nstdout: {p.stdout!r}\nstderr: {p.stderr!r}"


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def frames(path: str):
    """The complete frames of a chain.bin as (offset, body) pairs, and the
    bytes after the last complete frame (a torn tail, normally b"")."""
    data = read_bytes(path)
    out, off = [], 0
    while off + 4 <= len(data):
        (n,) = struct.unpack(">I", data[off:off + 4])
        # Revision 2: a prefix of 0 or over the limit ends the frames too.
        if n == 0 or n > 1048576 or off + 4 + n > len(data):
            break
        out.append((off, data[off + 4:off + 4 + n]))
        off += 4 + n
    return out, data[off:]


def key_path(name: str) -> str:
    return os.path.join(KEYS, name + ".pem")


def pub_hex(name: str) -> str:
    with open(os.path.join(KEYS, name + ".pub")) as f:
        return f.read().strip()


class ToolCase(unittest.TestCase):
    """A test case with a fresh temporary directory in self.tmp and helpers
    that call the tool and check its exit status."""

    def setUp(self):
        self._td = tempfile.TemporaryDirectory(prefix="actest-")
        self.tmp = self._td.name

    def tearDown(self):
        # Tests make read-only dirs; make them removable again.
        for root, dirs, _files in os.walk(self.tmp):
            for d in dirs:
                p = os.path.join(root, d)
                if not os.path.islink(p):
                    os.chmod(p, 0o700)
        self._td.cleanup()

    def path(self, *parts) -> str:
        return os.path.join(self.tmp, *parts)

    def write(self, name: str, data) -> str:
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        return p

    def ok(self, *args, input=None):
        """Runs the tool and requires exit 0."""
        p = run(*args, input=input)
        self.assertEqual(p.returncode, 0, describe(p))
        return p

    def fails(self, code: int, *args, input=None):
        """Runs the tool and requires exit `code` with exactly one line on stderr."""
        p = run(*args, input=input)
        self.assertEqual(p.returncode, code, describe(p))
        lines = p.stderr.splitlines()
        if code == 2:
            self.assertEqual(len(lines), 1, "want one line on stderr:\n" + describe(p))
            self.assertTrue(lines[0].strip(), describe(p))
        return p

    def json_of(self, *args):
        """Runs the tool (exit 0) and parses its stdout as JSON."""
        p = self.ok(*args)
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            self.fail(f"not JSON ({e}):\n" + describe(p))

    def verify(self, chain: str, *extra, want_exit=None):
        """`verify --json`; checks exit 0 for valid, 1 for invalid."""
        p = run("verify", "-C", chain, "--json", *extra)
        self.assertIn(p.returncode, (0, 1), describe(p))
        try:
            v = json.loads(p.stdout)
        except ValueError as e:
            self.fail(f"verify --json printed no JSON ({e}):\n" + describe(p))
        self.assertEqual(p.returncode, 0 if v.get("valid") else 1, describe(p))
        if want_exit is not None:
            self.assertEqual(p.returncode, want_exit, describe(p))
        return v

    def appended(self, p):
        """Parses the `<index> <hash>` lines an append prints."""
        out = []
        for line in p.stdout.splitlines():
            parts = line.split()
            self.assertEqual(len(parts), 2, describe(p))
            self.assertRegex(parts[1], r"^[0-9a-f]{64}$", describe(p))
            out.append((int(parts[0]), parts[1]))
        return out

    def copy_keys(self) -> None:
        """Copies the vector keys into self.tmp/keys with mode 0600 (the tool
        may warn about a key readable by others; the copies are private)."""
        dst = self.path("keys")
        os.makedirs(dst, exist_ok=True)
        for name in os.listdir(KEYS):
            shutil.copy(os.path.join(KEYS, name), os.path.join(dst, name))
            os.chmod(os.path.join(dst, name), 0o600)

    def key(self, name: str) -> str:
        p = self.path("keys", name + ".pem")
        if not os.path.exists(p):
            self.copy_keys()
        return p


HELPERS = os.path.join(os.environ.get("AC_BUILD") or os.path.join(REPO, "build"), "tests")


class PhotoChainCase(ToolCase):
    """A ToolCase with a chain (self.chain) of `photos` image/jpeg records of the
    files self.files, metadata author=alice, signed by a fresh key self.k, and a
    way to run tests/helpers/ac_tlog (trees, checkpoints, proofs) on it."""

    photos = 6

    def setUp(self):
        super().setUp()
        require_tool()
        self.tlog_helper = os.path.join(HELPERS, "ac_tlog")
        self.assertTrue(os.access(self.tlog_helper, os.X_OK), f"{self.tlog_helper} missing (make)")
        self.k = self.path("alice.pem")
        self.ok("keygen", self.k)
        self.chain = self.path("chain")
        self.files = [self.write(f"p{i}.jpg", f"photo number {i}\n" * (i + 1))
                      for i in range(self.photos)]
        self.ok("append", "-C", self.chain, "-k", self.k, "-t", "image/jpeg",
                "-m", "author=alice", *self.files)

    def tlog(self, *args, want=0) -> bytes:
        """Runs ac_tlog and requires exit status `want`; its stdout."""
        r = subprocess.run([self.tlog_helper, *args], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, want, f"ac_tlog {args}: {r.stdout!r} {r.stderr!r}")
        return r.stdout


def main(name: str) -> None:
    """Runs the test cases of the calling module and exits with its verdict."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    # A failing subTest is reported per subtest; count each test method once.
    bad = {getattr(t, "test_case", t).id()
           for t, _tb in result.failures + result.errors} | \
        {t.id() for t in result.unexpectedSuccesses}
    skip_ids = {getattr(t, "test_case", t).id() for t, _why in result.skipped} - bad
    failed, skipped = len(bad), len(skip_ids)
    passed = result.testsRun - failed - skipped
    for test, why in result.skipped:
        print(f"SKIP {test.id()}: {why}")
    print(f"{name}: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(0 if failed == 0 else 1)
