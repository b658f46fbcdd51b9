"""Key file secrecy (issue 3, item 6).

  - `attestchain keygen` creates the key file with mode 0600 whatever the
    umask, as PKCS#8 PEM, and prints the public key that `pubkey` prints;
  - it never overwrites: a second keygen to the same path fails (exit 2, one
    line on stderr) and leaves the file byte for byte and its mode; the same
    for an empty file, and for a dangling symbolic link, whose target must
    not appear (the file is created with O_EXCL, which does not follow links);
  - a key file that its group or others can read draws a warning on stderr
    when `append` uses it (the append itself goes on); a 0600 one does not;
  - the library's ac_key_save, the same rules (through the helper
    tests/helpers/ac_keyfile).
The key's bytes in memory are wiped with sodium_memzero (src/key.c); that is
checked by reading the code, not by this test.
"""
from __future__ import annotations

import hashlib
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durability as du  # noqa: E402

WRAP = du.MEMCHECK  # under make memcheck the tool runs in valgrind


def mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def one_line_error(p) -> bool:
    return p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and not p.stdout


class Secrets:
    def __init__(self, t: du.Tally, work: str):
        self.t, self.work = t, work

    def path(self, name: str) -> str:
        return os.path.join(self.work, name)

    def check(self, ok: bool, what: str) -> None:
        self.t.add("checks")
        if not ok:
            self.t.fail(what)

    def keygen_modes(self) -> None:
        old = os.umask(0)
        try:
            key = self.path("new.pem")
            p = du.tool("keygen", key, wrap=WRAP)
        finally:
            os.umask(old)
        self.check(p.returncode == 0, "keygen failed: " + du.describe(p))
        if p.returncode != 0:
            return
        self.check(mode(key) == 0o600, f"keygen with umask 0 made mode {oct(mode(key))}, not 0600")
        pem = du.read(key)
        self.check(pem.startswith(b"-----BEGIN PRIVATE KEY-----"), "keygen did not write PKCS#8 PEM")
        pub = p.stdout.strip()
        self.check(len(pub) == 64 and all(c in "0123456789abcdef" for c in pub),
                   f"keygen printed {pub!r}, not 64 hex digits")
        q = du.tool("pubkey", key, wrap=WRAP)
        self.check(q.returncode == 0 and q.stdout.strip() == pub,
                   "pubkey disagrees with keygen: " + du.describe(q))

        again = du.tool("keygen", key, wrap=WRAP)
        self.check(one_line_error(again), "a second keygen to the same file did not fail with "
                   "exit 2 and one line: " + du.describe(again))
        self.check(du.read(key) == pem and mode(key) == 0o600,
                   "a second keygen changed the existing key file")

    def keygen_refusals(self) -> None:
        empty = self.path("empty.pem")
        with open(empty, "wb"):
            pass
        os.chmod(empty, 0o644)
        p = du.tool("keygen", empty, wrap=WRAP)
        self.check(one_line_error(p) and du.read(empty) == b"" and mode(empty) == 0o644,
                   "keygen over an empty file: " + du.describe(p))
        target = self.path("target.pem")
        link = self.path("link.pem")
        os.symlink(target, link)
        p = du.tool("keygen", link, wrap=WRAP)
        self.check(one_line_error(p) and not os.path.exists(target),
                   "keygen to a dangling symlink did not fail, or created its target: "
                   + du.describe(p))

    def exposed_warning(self) -> None:
        key = self.path("warn.pem")
        p = du.tool("keygen", key, wrap=WRAP)
        if p.returncode != 0:
            self.check(False, "keygen failed: " + du.describe(p))
            return
        d = self.path("chain")
        for n, m in enumerate((0o600, 0o640, 0o604, 0o644, 0o400)):
            os.chmod(key, m)
            p = du.tool("append", "-C", d, "-k", key, "--hash",
                        hashlib.sha256(b"%d" % n).hexdigest(), wrap=WRAP)
            readable = bool(m & 0o044)
            warned = "warning" in p.stderr.lower() and key in p.stderr
            self.check(p.returncode == 0, f"append with a mode {oct(m)} key failed: "
                       + du.describe(p))
            self.check(warned == readable, f"append with a mode {oct(m)} key: "
                       + ("no warning" if readable else "an unwanted warning")
                       + f" on stderr {p.stderr!r}")

    def library_save(self) -> None:
        helper = du.helper("ac_keyfile")
        key = self.path("lib.pem")
        old = os.umask(0)
        try:
            p = du.run([helper, "save", key], wrap=WRAP)
        finally:
            os.umask(old)
        self.check(p.returncode == 0 and mode(key) == 0o600,
                   "ac_key_save: " + du.describe(p) + (f" mode {oct(mode(key))}"
                                                       if os.path.exists(key) else ""))
        before = du.read(key)
        p = du.run([helper, "save", key], wrap=WRAP)
        self.check(p.returncode == 3 and du.read(key) == before,
                   "a second ac_key_save did not refuse with AC_EEXIST: " + du.describe(p))
        for m, want in ((0o600, "0"), (0o640, "1"), (0o604, "1")):
            os.chmod(key, m)
            p = du.run([helper, "exposed", key], wrap=WRAP)
            self.check(p.stdout.strip() == want,
                       f"ac_key_file_exposed on mode {oct(m)}: " + du.describe(p))


def main() -> None:
    du.require(du.helper("ac_keyfile"))
    t = du.Tally("secrets")
    with du.tmpdir("secrets") as work:
        s = Secrets(t, work)
        s.keygen_modes()
        s.keygen_refusals()
        s.exposed_warning()
        s.library_save()
    t.finish("checks")


if __name__ == "__main__":
    main()
