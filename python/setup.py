"""Builds the `attestchain` Python package: a CPython extension on libattestchain.

Where the library comes from, first match wins:
  AC_LIB_BUILD=DIR   a build directory of this repository holding libattestchain.a
                     (the Makefile's `python` target sets it; AC_SAN=1 adds the
                     sanitizers that directory was built with);
  ../include         inside this repository: build/libattestchain.a, made with
                     `make` first when missing (so `pip install ./python` works
                     from a fresh clone);
  pkg-config         an installed library (`make install`), linked as a shared
                     library.
No pyproject.toml on purpose: pip then builds with the setuptools Debian ships,
offline, without fetching a build environment.
"""
import os
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEPS = ["libsodium", "libcrypto", "libcbor", "jansson"]


def version() -> str:
    """The library's version, written once in its header (the package is its
    binding, so it carries the same number)."""
    here = os.path.dirname(os.path.abspath(__file__))
    header = os.path.join(here, "..", "include", "attestchain.h")
    with open(header) as f:
        for line in f:
            if line.startswith("#define AC_VERSION_STRING"):
                return line.split('"')[1]
    raise SystemExit(f"setup.py: no AC_VERSION_STRING in {header}")


def pkg_config(*args: str) -> list:
    return subprocess.run(["pkg-config", *args], check=True, capture_output=True,
                          text=True).stdout.split()


def library() -> dict:
    build = os.environ.get("AC_LIB_BUILD")
    header_dir = os.path.join(ROOT, "include")
    if not build and os.path.exists(os.path.join(header_dir, "attestchain.h")):
        build = os.path.join(ROOT, "build")
        if not os.path.exists(os.path.join(build, "libattestchain.a")):
            subprocess.run(["make", "-C", ROOT, "build/libattestchain.a"], check=True)
    if not build:
        cflags = pkg_config("--cflags", "attestchain")
        return {"extra_compile_args": cflags, "extra_link_args": pkg_config("--libs", "attestchain")}
    san = ["-fsanitize=address,undefined"] if os.environ.get("AC_SAN") == "1" else []
    return {
        "include_dirs": [header_dir],
        # The static library is built with -fPIC: the extension carries it whole.
        "extra_objects": [os.path.join(build, "libattestchain.a")],
        "extra_compile_args": pkg_config("--cflags", *DEPS) + san,
        "extra_link_args": pkg_config("--libs", *DEPS) + ["-lpthread"] + san,
    }


lib = library()
setup(
    name="attestchain",
    version=version(),
    description="Tamper-evident, Ed25519-signed, append-only attestation log (libattestchain)",
    packages=["attestchain", "attestchain.compat", "attestchain.compat.soosef",
              "attestchain.compat.soosef.federation"],
    package_data={"attestchain": ["py.typed", "*.pyi"]},
    ext_modules=[Extension(
        "attestchain._attestchain", ["src/_attestchain.c"],
        include_dirs=lib.get("include_dirs", []),
        extra_objects=lib.get("extra_objects", []),
        extra_compile_args=["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                            "-Wno-missing-field-initializers", "-Wno-cast-function-type"]
        + lib["extra_compile_args"],
        extra_link_args=lib["extra_link_args"],
    )],
    python_requires=">=3.9",
)
