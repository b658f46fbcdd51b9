"""The README's shell blocks, run verbatim, top to bottom, in an empty
directory, with `attestchain` on PATH as `make install` puts it (here: the
tool under test), so that the README cannot drift from the tool.
"""
from __future__ import annotations

import json
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


def readme_blocks() -> list[str]:
    with open(os.path.join(acutil.REPO, "README.md")) as f:
        text = f.read()
    return re.findall(r"```sh\n(.*?)```", text, re.S)


class Readme(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ac-readme-")
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.work)
        # `attestchain` on PATH: the tool under test (under AC_WRAP when set).
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        shim = os.path.join(bindir, "attestchain")
        with open(shim, "w") as f:
            f.write("#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in acutil.WRAP) + " " +
                    shlex.quote(acutil.TOOL) + ' "$@"\n')
        os.chmod(shim, 0o755)
        self.env = acutil.tool_env()
        self.env["PATH"] = bindir + os.pathsep + self.env.get("PATH", "")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_blocks_run_verbatim(self):
        blocks = readme_blocks()
        self.assertGreaterEqual(len(blocks), 2, "README.md: no ```sh blocks")
        if shutil.which("ssh-keygen") is None:
            self.fail("ssh-keygen is missing: scripts/deps.sh installs openssh-client")
        for i, block in enumerate(blocks):
            # One shell for the block, stopping at the first command that fails;
            # the blocks share the directory, as a reader going down the page does.
            p = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=self.work,
                               env=self.env, capture_output=True, text=True,
                               timeout=acutil.TIMEOUT)
            self.assertEqual(p.returncode, 0,
                             f"README block {i + 1} failed:\n{block}\nstdout:\n{p.stdout}\n"
                             f"stderr:\n{p.stderr}")
            self.assertNotIn("attestchain:", p.stderr, f"block {i + 1} warned or failed")
        # What the quick start built is what it says it built.
        chain = os.path.join(self.work, "mychain")
        v = json.loads(subprocess.run(["attestchain", "verify", "-C", chain, "--json"],
                                      env=self.env, capture_output=True, text=True).stdout)
        self.assertTrue(v["valid"], v)
        self.assertEqual(v["records"], 8, v)  # 2 files, 1 hash, 2 listed, stdin, rotation, 1

    def test_quick_start_names_the_tool_and_install(self):
        with open(os.path.join(acutil.REPO, "README.md")) as f:
            text = f.read()
        self.assertIn("make install", text)
        self.assertIn("build/attestchain", text)
        for block in readme_blocks():
            for line in block.splitlines():
                cmd = line.split("#")[0].strip()
                if "attestchain" in cmd:
                    self.assertRegex(cmd, r"(^|\| )attestchain ", line)


if __name__ == "__main__":
    acutil.require_tool()
    acutil.main("t_readme")
