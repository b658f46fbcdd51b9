"""Prints the directory where `make install` puts the Python package for
PREFIX (argv[1]): the one this Python searches for that prefix.  Debian's
Python reads /usr/lib/python3/dist-packages for /usr and
PREFIX/lib/pythonX.Y/dist-packages for other prefixes (/usr/local);
elsewhere it is the platform's site-packages under the prefix."""
import sys
import sysconfig

prefix = sys.argv[1].rstrip("/") or "/"
version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
if any(p.endswith("/dist-packages") for p in sys.path):
    print("/usr/lib/python3/dist-packages" if prefix == "/usr"
          else f"{prefix}/lib/{version}/dist-packages")
else:
    print(sysconfig.get_path("platlib", vars={"base": prefix, "platbase": prefix}))
