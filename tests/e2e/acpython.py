"""Shared helpers for the tests of the Python package (tests/e2e/t_python*.py).

Makes the package built in $AC_BUILD/python importable.  Under the sanitizer
build (SAN=1, build/asan) the extension carries AddressSanitizer code, whose
runtime must be loaded first: the test re-executes itself with the runtime in
LD_PRELOAD (leak checks off: CPython keeps its own memory until exit).
"""
from __future__ import annotations

import os
import subprocess
import sys

import acutil

BUILD = os.environ.get("AC_BUILD") or os.path.join(acutil.REPO, "build")
PACKAGE = os.path.join(BUILD, "python")
SAN = os.environ.get("SAN") == "1"


def san_env(env: dict) -> dict:
    """`env` with the sanitizer runtime preloaded when SAN=1."""
    if not SAN or "libasan" in env.get("LD_PRELOAD", ""):
        return env
    asan = subprocess.run(["cc", "-print-file-name=libasan.so"], capture_output=True,
                          text=True, check=True).stdout.strip()
    env = dict(env)
    env["LD_PRELOAD"] = " ".join(filter(None, [asan, env.get("LD_PRELOAD", "")]))
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    return env


def setup() -> None:
    """Call first: re-executes under the sanitizer runtime if needed, then
    puts the built package first on sys.path.  A missing package is a
    failure (`make check` builds it)."""
    if SAN and "libasan" not in os.environ.get("LD_PRELOAD", ""):
        os.execve(sys.executable, [sys.executable] + sys.argv, san_env(dict(os.environ)))
    if not os.path.isdir(os.path.join(PACKAGE, "attestchain")):
        print(f"FAIL: the Python package is not built in {PACKAGE} (run make)")
        sys.exit(1)
    sys.path.insert(0, PACKAGE)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [PACKAGE, os.environ.get("PYTHONPATH", "")]))


def child_env(extra_path: str = "") -> dict:
    """The environment for a Python child process that imports the package
    (and, with `extra_path`, more)."""
    env = san_env(dict(os.environ))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE, extra_path]))
    return env
