#!/bin/sh
# Makes sure the Debian packages the build and the tests need are installed.
# As root it installs what is missing with apt-get; otherwise it names them.
set -u
need=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
have_py() { /usr/bin/python3 -c "import $1" 2>/dev/null; }

command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v cc >/dev/null 2>&1 || need="$need gcc"
have_pc libsodium || need="$need libsodium-dev"
have_pc libcrypto || need="$need libssl-dev"
have_pc libcbor || need="$need libcbor-dev"
have_pc jansson || need="$need libjansson-dev"
have_pc cmocka || need="$need libcmocka-dev"
# HTTP for mirror and witness (tools/fetch.c).
have_pc libcurl || need="$need libcurl4-openssl-dev"
[ -x /usr/bin/python3 ] || need="$need python3"
# The Python package (python/): a CPython extension, built with setuptools;
# pip and wheel for `pip install ./python`.
[ -e "$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)/Python.h" ] || need="$need python3-dev"
have_py setuptools || need="$need python3-setuptools"
have_py pip || need="$need python3-pip"
have_py wheel || need="$need python3-wheel"
have_py mypy || need="$need python3-mypy" # its typing is checked (t_python)
# The tests read JSON and drive the Python reference store for interop.
have_py cbor2 || need="$need python3-cbor2"
have_py cryptography || need="$need python3-cryptography"
# SSH keys: ssh-keygen makes the keys the tests load, and Python's bcrypt is
# the reference for bcrypt_pbkdf.
command -v ssh-keygen >/dev/null 2>&1 || need="$need openssh-client"
have_py bcrypt || need="$need python3-bcrypt"
# Optional extras (fuzzing, memcheck, terminal tests, Go interop) when asked for.
if [ "${AC_DEPS_EXTRA:-0}" = 1 ]; then
    command -v clang >/dev/null 2>&1 || need="$need clang"
    [ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] || \
        ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || need="$need libclang-rt-dev"
    command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
    # Interop with the Go checksum database's note and tlog packages (t_go_interop).
    command -v go >/dev/null 2>&1 || need="$need golang-go"
    [ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/note ] || need="$need golang-golang-x-mod-dev"
fi
# Publishing for real (tests/e2e/t_federation.py): nginx serves an export.
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need="$need nginx"
# The page's browser test (tests/e2e/t_web.py): nginx, headless chromium and
# python3-websocket to drive it over the DevTools protocol.
if [ "${AC_DEPS_EXTRA:-0}" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || need="$need chromium"
    [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need="$need nginx"
    have_py websocket || need="$need python3-websocket"
fi

[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq $need >/dev/null || {
        echo "deps: apt-get install$need failed" >&2; exit 1; }
    exit 0
fi
echo "deps: missing packages; install them with: sudo apt-get install$need" >&2
exit 1
