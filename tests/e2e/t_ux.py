"""What a first-time user reaches for (issue 10): JSON errors with --json,
content from standard input, sha256sum / shasum output as a hash list, file
names in the metadata, ranges past the head, and messages that say what to
do next.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import ToolCase, describe, run  # noqa: E402


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Base(ToolCase):
    def setUp(self):
        super().setUp()
        self.keyfile = self.path("me.pem")
        self.ok("keygen", self.keyfile)
        self.chain = self.path("c")

    def append(self, *args, input=None):
        return self.appended(self.ok("append", "-C", self.chain, "-k", self.keyfile, *args,
                                     input=input))

    def records(self):
        return json.loads(self.ok("log", "-C", self.chain, "--json").stdout)

    def snapshot(self):
        p = os.path.join(self.chain, "chain.bin")
        return acutil.read_bytes(p) if os.path.exists(p) else None


class JsonErrors(Base):
    def json_error(self, code_want, *args, exit_want=(2,)):
        p = run(*args)
        self.assertIn(p.returncode, exit_want, describe(p))
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1, describe(p))
        obj = json.loads(lines[0])
        self.assertEqual(list(obj), ["error"], describe(p))
        self.assertEqual(sorted(obj["error"]), ["code", "message"], describe(p))
        self.assertEqual(obj["error"]["code"], code_want, describe(p))
        self.assertTrue(obj["error"]["message"], describe(p))
        self.assertEqual(p.stderr, "", describe(p))
        return obj["error"]

    def test_every_reading_command(self):
        missing = self.path("missing")
        self.append("--hash", "ab" * 32)
        for cmd in (["verify"], ["status"], ["log"], ["show", "0"], ["find", "--hash", "ab" * 32]):
            with self.subTest(cmd=cmd):
                e = self.json_error("not_found", cmd[0], "-C", missing, *cmd[1:], "--json")
                self.assertIn(missing, e["message"])
                self.json_error("usage", cmd[0], "-C", self.chain, *cmd[1:], "--json", "--bogus")
        self.json_error("usage", "verify", "-C", self.chain, "--json", "--from", "x")
        self.json_error("usage", "verify", "-C", self.chain, "--json", "--from", "5")
        self.json_error("not_found", "show", "-C", self.chain, "7", "--json")

    def test_damaged_chain(self):
        self.append("--hash", "ab" * 32)
        with open(os.path.join(self.chain, "chain.bin"), "r+b") as f:
            f.seek(20)
            f.write(b"\xff\xff")
        # Exit status as without --json: 2, or 1 where a read flags a damaged record.
        e = self.json_error("corrupt", "show", "-C", self.chain, "0", "--json", exit_want=(1, 2))
        self.assertIn("record 0", e["message"])

    def test_control_bytes_and_non_utf8_in_message(self):
        bad = os.fsencode(self.path("x")) + b"\x1b[31m\xff"
        p = subprocess.run([acutil.TOOL, "status", "-C", bad, "--json"], capture_output=True,
                           env=acutil.tool_env())
        self.assertEqual(p.returncode, 2)
        e = json.loads(p.stdout)["error"]
        self.assertIn("\\x1b[31m\\xff", e["message"])

    def test_without_json_stderr_only(self):
        p = run("status", "-C", self.path("missing"))
        self.assertEqual((p.returncode, p.stdout), (2, ""), describe(p))
        self.assertEqual(len(p.stderr.splitlines()), 1, describe(p))


class Inputs(Base):
    def test_append_stdin(self):
        data = os.urandom(100000)
        out = self.append("-t", "text/plain", "-", input=data)
        self.assertEqual(len(out), 1)
        r = self.records()[0]
        self.assertEqual(r["content_hash"], sha(data))
        self.assertEqual(r["metadata"], {})  # standard input has no name

    def test_stdin_read_once(self):
        lst = "ab" * 32 + "\n"
        for args in (["-", "--hash-list", "-"], ["-", "-"], ["--meta-json-file", "-", "-"]):
            with self.subTest(args=args):
                p = self.fails(2, "append", "-C", self.chain, "-k", self.keyfile, *args,
                               input=lst)
                self.assertIn("standard input", p.stderr)
                self.assertIsNone(self.snapshot())

    def test_sha256sum_and_shasum_output(self):
        files = {}
        os.mkdir(self.path("dir"))
        for name in ("a.txt", "dir/b c.bin", "dir/star*.txt"):
            files[name] = self.write(name, name.encode() * 7)
        names = list(files)
        gnu = subprocess.run(["sha256sum", *names], cwd=self.tmp, capture_output=True,
                             check=True).stdout
        binary = subprocess.run(["sha256sum", "-b", *names], cwd=self.tmp, capture_output=True,
                                check=True).stdout
        tag = subprocess.run(["sha256sum", "--tag", *names], cwd=self.tmp, capture_output=True,
                             check=True).stdout
        # A name with a newline: sha256sum escapes it and marks the line with '\'.
        self.write("dir/new\nline", b"nl")
        esc = subprocess.run(["sha256sum", "dir/new\nline"], cwd=self.tmp, capture_output=True,
                             check=True).stdout
        self.assertTrue(esc.startswith(b"\\"), esc)
        bare = "".join(sha(name.encode() * 7) + "\n" for name in names).encode()
        crlf = gnu.replace(b"\n", b"\r\n")
        lists = [gnu, binary, tag, crlf, bare, esc]
        if shutil.which("shasum"):
            lists.append(subprocess.run(["shasum", "-a", "256", *names], cwd=self.tmp,
                                        capture_output=True, check=True).stdout)
        want = []
        for lst in lists:
            self.append("--hash-list", self.write("list", lst))
            if lst is esc:
                want.append((sha(b"nl"), {"name": "new\nline"}))
            elif lst is bare:
                want += [(sha(n.encode() * 7), {}) for n in names]
            else:
                want += [(sha(n.encode() * 7), {"name": os.path.basename(n)}) for n in names]
        got = [(r["content_hash"], r["metadata"]) for r in self.records()]
        self.assertEqual(got, want)

    def test_bad_hash_list_lines(self):
        self.append("--hash", "cd" * 32)
        before = self.snapshot()
        h = "ab" * 32
        for bad in (h + " x", h + "  ", h[:-1] + "  x", "SHA256 (x) = " + h[:-1],
                    "SHA1 (x) = " + h, "\\" + h + "  a\\qb", h + h, "zz" * 32):
            with self.subTest(line=bad):
                p = self.fails(2, "append", "-C", self.chain, "-k", self.keyfile,
                               "--hash-list", "-", input=h + "\n" + bad + "\n")
                self.assertIn("line 2", p.stderr)
                self.assertIn("nothing was appended", p.stderr)
                self.assertEqual(self.snapshot(), before)


class Names(Base):
    def test_file_names(self):
        os.mkdir(self.path("photos"))
        a = self.write("photos/a.jpg", b"A")
        b = self.write("b.jpg", b"B")
        self.append("-m", "place=Kyiv", a, b, "--hash", "ef" * 32)
        self.append("--no-name", a)
        recs = self.records()
        self.assertEqual([r["metadata"] for r in recs],
                         [{"place": "Kyiv", "name": "a.jpg"}, {"place": "Kyiv", "name": "b.jpg"},
                          {"place": "Kyiv"}, {}])
        log = self.ok("log", "-C", self.chain).stdout
        self.assertIn("Name:     a.jpg\n", log)
        self.assertIn("Name:     b.jpg\n", log)
        self.assertEqual(log.count("Name:"), 2, log)

    def test_name_conflict_says_what_to_do(self):
        a = self.write("a.jpg", b"A")
        p = self.fails(2, "append", "-C", self.chain, "-k", self.keyfile, "-m", "name=x", a)
        self.assertIn("--no-name", p.stderr)
        self.append("-m", "name=x", "--no-name", a)
        self.assertEqual(self.records()[0]["metadata"], {"name": "x"})


class Ranges(Base):
    def test_from_and_to_past_the_head(self):
        self.append(*sum((["--hash", f"{i:02x}" * 32] for i in range(4)), []))
        p = self.ok("verify", "-C", self.chain, "--from", "2", "--to", "200")
        self.assertEqual(p.stdout.splitlines()[0], "valid: records 2..3 (2 records); --to 200 is "
                                                   "past the head, record 3")
        p = self.ok("verify", "-C", self.chain, "--from", "3")
        self.assertEqual(p.stdout.splitlines()[0], "valid: records 3..3 (1 record)")
        for cmd in ("verify", "log"):
            p = self.fails(2, cmd, "-C", self.chain, "--from", "100", "--to", "200")
            self.assertIn("--from 100 is past the head: the chain has 4 records", p.stderr)
        p = self.ok("log", "-C", self.chain, "--from", "3", "--to", "200")
        self.assertEqual(p.stdout.count("record "), 1, p.stdout)

    def test_one_record_singular(self):
        self.append("--hash", "00" * 32)
        self.assertEqual(self.ok("verify", "-C", self.chain).stdout.splitlines()[0],
                         "valid: records 0..0 (1 record)")
        p = self.fails(2, "log", "-C", self.chain, "--from", "1")
        self.assertIn("the chain has 1 record;", p.stderr)


class Find(Base):
    def test_files_hashes_and_exit_status(self):
        a = self.write("a.jpg", b"A" * 1000)
        b = self.write("b.jpg", b"B")
        never = self.write("never.txt", b"never")
        self.append(a, b)
        self.append("--hash", sha(b"A" * 1000), "--no-name")
        p = self.ok("find", "-C", self.chain, a)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 2, p.stdout)
        self.assertRegex(lines[0], r"^.*a\.jpg: record 0, \d{4}-\d\d-\d\dT[0-9:.]+Z, signer "
                                   r"[0-9a-f]{16}, name a\.jpg$")
        self.assertRegex(lines[1], r": record 2, .*, signer [0-9a-f]{16}$")
        p = run("find", "-C", self.chain, b, never)
        self.assertEqual(p.returncode, 1, describe(p))
        self.assertIn(f"{never}: not found\n", p.stdout)
        self.assertIn(": record 1,", p.stdout)
        # Standard input and --hash, as JSON.
        p = run("find", "-C", self.chain, "--json", "-", "--hash", "00" * 32, input=b"B")
        self.assertEqual(p.returncode, 1, describe(p))
        got = json.loads(p.stdout)
        self.assertEqual([q["query"] for q in got], ["00" * 32, "-"])
        self.assertEqual(got[0]["records"], [])
        rec = got[1]["records"][0]
        self.assertEqual((rec["chain_index"], rec["metadata"], rec["content_type"]),
                         (1, {"name": "b.jpg"}, "application/octet-stream"))
        shown = json.loads(self.ok("show", "-C", self.chain, "1", "--json").stdout)
        for k in ("hash", "claimed_ts", "claimed_ts_utc", "signer_pubkey"):
            self.assertEqual(rec[k], shown[k], k)

    def test_tampered_chain_is_an_error(self):
        a = self.write("a.jpg", b"A")
        self.append(a, "--hash", "cd" * 32)
        fr, _tail = acutil.frames(os.path.join(self.chain, "chain.bin"))
        off, body = fr[0]
        at = body.index(b"\x69signature\x58\x40") + 12
        with open(os.path.join(self.chain, "chain.bin"), "r+b") as f:
            f.seek(off + 4 + at)
            f.write(bytes([body[at] ^ 1]))
        p = self.fails(2, "find", "-C", self.chain, a)
        self.assertIn("record 0", p.stderr)
        self.assertIn("verify", p.stderr)

    def test_usage(self):
        self.append("--hash", "ab" * 32)
        self.fails(2, "find", "-C", self.chain)
        self.fails(2, "find", "-C", self.chain, "--hash", "xyz")
        self.fails(2, "find", "-C", self.chain, "-", "-")
        self.assertIn("usage", self.ok("find", "--help").stdout)


class Progress(Base):
    def test_bar_shows_rate_and_time_left(self):
        """verify on a terminal draws a bar (after 300 ms) with the rate and the
        time left.  60,000 records take seconds to verify on one thread; the
        bar is only asserted when the run lasted long enough to draw one."""
        n = 60000
        lst = "".join(f"{i:064x}\n" for i in range(n))
        p = subprocess.run([acutil.TOOL, "append", "-C", self.chain, "-k", self.keyfile,
                            "--hash-list", "-"], input=lst.encode(), capture_output=True,
                           env=acutil.tool_env(), timeout=acutil.TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        start = time.monotonic()
        code, out = acutil.run_on_tty(["verify", "-C", self.chain, "-j", "1"])
        took = time.monotonic() - start
        self.assertEqual(code, 0, out)
        self.assertIn(f"valid: records 0..{n - 1} ({n} records)", out)
        bars = re.findall(r"verifying \[[# ]{30}\] +\d+% \d+/\d+, \d+ records/s, "
                          r"(?:\d+:)?\d+:\d\d left", out)
        if took > 1.0:
            self.assertTrue(bars, f"no bar with rate and time left in {took:.1f} s: {out!r}")
        # Without a terminal, no bar at all.
        p = run("verify", "-C", self.chain, "-j", "1")
        self.assertNotIn("verifying [", p.stderr)


class Messages(Base):
    """Every error says what to do next: a hint after the message, or where
    to read more."""

    HINT_WORDS = ("see '", "give ", "check ", "use ", "run ", "choose ", "fix ", "save ",
                  "try ", "type ", "restrict ", "start ", "name ", "create ")

    def test_errors_name_a_next_step(self):
        self.append("--hash", "ab" * 32)
        other = self.path("other.pem")
        self.ok("keygen", other)
        cases = [
            ("verify",), ("verify", "-C", self.path("none")), ("status", "-C", self.path("none")),
            ("show", "-C", self.chain, "9"), ("log", "-C", self.chain, "--from", "5"),
            ("keygen", self.keyfile), ("pubkey", self.path("none.pem")),
            ("pubkey", self.write("junk.pem", "junk")),
            ("append", "-C", self.chain, "-k", self.path("none.pem"), "--hash", "ab" * 32),
            ("append", "-C", self.chain, "-k", other, "--hash", "ab" * 32),
            ("append", "-C", self.chain, "-k", self.keyfile, self.path("nofile")),
            ("append", "-C", self.chain, "-k", self.keyfile, "--hash-list", self.path("nofile")),
            ("append", "-C", self.chain, "-k", self.keyfile, "--meta-json", "[1]", "--hash",
             "ab" * 32),
            ("rotate", "-C", self.chain, "-k", self.keyfile, "--new-key", self.path("none")),
            ("find", "-C", self.chain, self.path("nofile")),
            ("nosuchcommand",),
        ]
        for args in cases:
            with self.subTest(args=args):
                p = self.fails(2, *args)
                msg = p.stderr.strip()
                self.assertTrue(any(w in msg for w in self.HINT_WORDS),
                                f"no next step in: {msg}")


if __name__ == "__main__":
    acutil.require_tool()
    acutil.main("t_ux")
