"""`make install` and the README's library example.

Installs into a temporary prefix (through DESTDIR-free PREFIX), then builds
the C example from README.md against the installed header and library found
through pkg-config, shared and static, and runs it on a fresh chain: what
the README shows a user must compile and work.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import unittest

import acpython
import acutil

BUILD = os.environ.get("AC_BUILD") or os.path.join(acutil.REPO, "build")
SAN = os.environ.get("SAN") == "1"
SAN_FLAGS = ["-fsanitize=address,undefined"] if SAN else []


def readme_example() -> str:
    with open(os.path.join(acutil.REPO, "README.md")) as f:
        text = f.read()
    blocks = re.findall(r"```c\n(.*?)```", text, re.S)
    if len(blocks) != 1:
        raise AssertionError(f"README.md should hold one C example, found {len(blocks)}")
    # The README shows the body of a program: wrap it in main().
    body = blocks[0].replace("#include <attestchain.h>\n", "")
    return "#include <stdio.h>\n#include <attestchain.h>\n\nint main(void)\n{\n" + body + \
        "    return 0;\n}\n"


def soversion() -> str:
    """The shared library's major version: the first number of the version the
    header writes (the one place it is written)."""
    with open(os.path.join(acutil.REPO, "include", "attestchain.h")) as f:
        m = re.search(r'#define AC_VERSION_STRING "(\d+)\.', f.read())
    return m.group(1)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ac-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        p = subprocess.run(["make", "-s", "--no-print-directory", "install",
                            f"PREFIX={cls.prefix}", f"BUILD={os.path.relpath(BUILD, acutil.REPO)}"]
                           + (["SAN=1"] if SAN else []),
                           cwd=acutil.REPO, capture_output=True, text=True, timeout=600)
        cls.install = p

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.tmp], check=False)

    def pkg(self, *args: str) -> list[str]:
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.prefix, "lib", "pkgconfig"))
        p = subprocess.run(["pkg-config", *args, "attestchain"], env=env, capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.split()

    def test_installed_files(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr)
        for rel in ("include/attestchain.h", "lib/libattestchain.a", "lib/libattestchain.so",
                    f"lib/libattestchain.so.{soversion()}", "lib/pkgconfig/attestchain.pc",
                    "bin/attestchain", "share/man/man1/attestchain.1",
                    "share/bash-completion/completions/attestchain"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        with open(os.path.join(self.prefix, "lib/pkgconfig/attestchain.pc")) as f:
            self.assertIn(f"prefix={self.prefix}\n", f.read())

    def test_only_ac_symbols_exported(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr)
        p = subprocess.run(["nm", "-D", "--defined-only",
                            os.path.join(self.prefix, "lib", "libattestchain.so")],
                           capture_output=True, text=True, check=True)
        names = [line.split()[-1] for line in p.stdout.splitlines() if line.strip()]
        self.assertTrue(any(n == "ac_chain_open" for n in names))
        self.assertEqual([n for n in names if not n.startswith("ac_")], [])
        # The static library too: its internal names are local, so that a
        # program's own read_span or fold_step links beside it.
        p = subprocess.run(["nm", "-g", "--defined-only",
                            os.path.join(self.prefix, "lib", "libattestchain.a")],
                           capture_output=True, text=True, check=True)
        names = [line.split()[-1] for line in p.stdout.splitlines()
                 if line.strip() and not line.endswith(":")]
        self.assertTrue(any(n == "ac_chain_open" for n in names))
        self.assertEqual([n for n in names if not n.startswith("ac_")], [])
        work = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(work, "clash.c")
        with open(src, "w") as f:
            f.write("#include <attestchain.h>\n"
                    "int read_span(void); int read_span(void) { return 0; }\n"
                    "int fold_step(void); int fold_step(void) { return 0; }\n"
                    "int main(void) { return read_span() + fold_step() + "
                    "(ac_version()[0] == 0); }\n")
        lib = os.path.join(self.prefix, "lib")
        libs = [os.path.join(lib, "libattestchain.a")] + \
            [a for a in self.pkg("--static", "--libs") if a != "-lattestchain"]
        cc = subprocess.run(["cc", "-std=c11", *SAN_FLAGS, *self.pkg("--cflags"), src, "-o",
                             os.path.join(work, "clash"), *libs], capture_output=True, text=True)
        self.assertEqual(cc.returncode, 0, cc.stderr)

    def build_and_run(self, static: bool):
        self.assertEqual(self.install.returncode, 0, self.install.stderr)
        work = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(work, "example.c")
        with open(src, "w") as f:
            f.write(readme_example())
        exe = os.path.join(work, "example")
        lib = os.path.join(self.prefix, "lib")
        if static:
            libs = [os.path.join(lib, "libattestchain.a")] + \
                [a for a in self.pkg("--static", "--libs") if a != "-lattestchain"]
        else:
            libs = self.pkg("--libs") + [f"-Wl,-rpath,{lib}"]
        cc = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", *SAN_FLAGS,
                             *self.pkg("--cflags"), src, "-o", exe, *libs],
                            capture_output=True, text=True)
        self.assertEqual(cc.returncode, 0, cc.stderr)
        # The example's files: a key, a photo, a chain directory.
        key = os.path.join(work, "me.pem")
        self.assertEqual(acutil.run("keygen", key).returncode, 0)
        with open(os.path.join(work, "photo.jpg"), "wb") as f:
            f.write(b"not really a jpeg\n")
        p = subprocess.run([exe], cwd=work, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "valid, 1 records\n", p.stderr)
        v = acutil.run("verify", "-C", os.path.join(work, "mychain"), "--json")
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

    def test_python_package(self):
        """The Python package goes to the site directory this Python searches
        for PREFIX, and imports and works from there."""
        self.assertEqual(self.install.returncode, 0, self.install.stderr)
        site = subprocess.run(["/usr/bin/python3", os.path.join(acutil.REPO, "scripts",
                                                                "python-site.py"), self.prefix],
                              capture_output=True, text=True, check=True).stdout.strip()
        self.assertTrue(site.startswith(self.prefix + "/lib/"), site)
        self.assertTrue(os.path.isfile(os.path.join(site, "attestchain", "__init__.py")))
        env = acpython.san_env(dict(os.environ, PYTHONPATH=site))
        code = ("import attestchain, sys\n"
                "k = attestchain.Key.generate()\n"
                "with attestchain.ChainStore(sys.argv[1]) as s:\n"
                "    s.append(bytes(32), 'text/plain', k, {'n': 1})\n"
                "    assert s.verify_chain()\n"
                "print(attestchain.__file__)\n")
        p = subprocess.run(["/usr/bin/python3", "-c", code, os.path.join(self.tmp, "pychain")],
                           cwd=self.tmp, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, os.path.join(site, "attestchain", "__init__.py") + "\n")

    def test_readme_example_shared(self):
        self.build_and_run(static=False)

    def test_readme_example_static(self):
        self.build_and_run(static=True)


if __name__ == "__main__":
    acutil.main("t_install")
