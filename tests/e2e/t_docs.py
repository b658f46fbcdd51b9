"""The man page and the bash completion cover the tool: every command in
`attestchain --help` has its section in docs/attestchain.1 and every option in
each command's --help is described there; the page renders without a groff
warning; and completion/attestchain.bash completes the commands, each
command's options and the values it knows.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import run  # noqa: E402

MAN = os.path.join(acutil.REPO, "docs", "attestchain.1")
COMPLETION = os.path.join(acutil.REPO, "completion", "attestchain.bash")


def commands() -> list[str]:
    text = run("--help").stdout
    section = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


def options(cmd: str) -> set[str]:
    """The options a command's --help lists in its Options section."""
    text = run(cmd, "--help").stdout
    section = text.split("Options:\n", 1)[1] if "Options:\n" in text else ""
    opts = set()
    for line in section.splitlines():
        m = re.match(r"^\s+((?:-[a-zA-Z], )?--?[a-zA-Z][a-z-]*)", line)
        if m:
            opts.update(o.strip() for o in m.group(1).split(","))
    return opts


def roff(opt: str) -> str:
    return opt.replace("-", "\\-")


def heading(cmd: str) -> str:
    """A pattern for a command's name in a .SS line, where roff has each '-'
    written as '-' or '\\-'."""
    return "".join(r"\\?-" if ch == "-" else re.escape(ch) for ch in cmd)


class ManPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(MAN) as f:
            cls.man = f.read()

    def test_every_command_has_a_section(self):
        cmds = commands()
        self.assertIn("find", cmds)
        missing = [c for c in cmds if not re.search(rf'\.SS "{heading(c)}[ "]', self.man)]
        self.assertEqual(missing, [], "commands without a section in docs/attestchain.1")

    def test_every_option_is_described(self):
        missing = [f"{cmd} {opt}" for cmd in commands() if cmd != "help"
                   for opt in sorted(options(cmd) - {"-h", "--help"})
                   if roff(opt) not in self.man]
        self.assertEqual(missing, [], "options not in docs/attestchain.1")

    def test_renders_cleanly(self):
        if shutil.which("groff") is None:
            self.skipTest("groff is not installed")
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True,
                           text=True)
        self.assertEqual((p.returncode, p.stderr), (0, ""))


class Completion(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ac-compl-")
        os.mkdir(os.path.join(self.tmp, "chaindir"))
        open(os.path.join(self.tmp, "key.pem"), "w").close()
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        os.symlink(acutil.TOOL, os.path.join(bindir, "attestchain"))
        self.env = acutil.tool_env()
        self.env["PATH"] = bindir + os.pathsep + self.env.get("PATH", "")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def complete(self, *words: str) -> list[str]:
        """COMPREPLY for the command line `words` (the last one being completed)."""
        script = (f"source {shlex.quote(COMPLETION)}\n"
                  f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
                  f"COMP_CWORD={len(words) - 1}\n"
                  "_attestchain\n"
                  "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
        p = subprocess.run(["bash", "--norc", "-c", script], cwd=self.tmp, env=self.env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [w for w in p.stdout.splitlines() if w]

    def test_commands(self):
        got = self.complete("attestchain", "")
        for cmd in commands():
            self.assertIn(cmd, got)
        self.assertEqual(self.complete("attestchain", "ro"), ["rotate"])
        self.assertEqual(self.complete("attestchain", "help", "fi"), ["find"])

    def test_options_of_each_command(self):
        for cmd in commands():
            if cmd == "help":
                continue
            want = {o for o in options(cmd) if o.startswith("--")}
            with self.subTest(cmd=cmd):
                self.assertTrue(want <= set(self.complete("attestchain", cmd, "--")),
                                want - set(self.complete("attestchain", cmd, "--")))
        self.assertEqual(self.complete("attestchain", "append", "--no"), ["--no-name"])

    def test_values(self):
        self.assertEqual(self.complete("attestchain", "keygen", "--format", ""),
                         ["pkcs8", "openssh"])
        self.assertEqual(self.complete("attestchain", "verify", "-C", "ch"), ["chaindir"])
        self.assertEqual(self.complete("attestchain", "append", "-k", "ke"), ["key.pem"])
        self.assertEqual(self.complete("attestchain", "append", "--hash", ""), [])


if __name__ == "__main__":
    acutil.require_tool()
    acutil.main("t_docs")
