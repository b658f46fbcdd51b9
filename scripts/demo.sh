#!/bin/sh
# The demo of `make demo`: builds a small chain with the tool and shows every
# command at work.  Usage: scripts/demo.sh PATH/TO/attestchain
# Everything happens in a new directory under ${TMPDIR:-/tmp}, which is kept
# so that you can look at it (and run the tool on it) afterwards.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/attestchain" >&2
    exit 2
fi
case $1 in
/*) tool=$1 ;;
*) tool=$(pwd)/$1 ;;
esac
if [ ! -x "$tool" ]; then
    echo "demo: $tool is not an executable (run make first)" >&2
    exit 2
fi

demo=$(mktemp -d "${TMPDIR:-/tmp}/attestchain-demo.XXXXXX")
chain=$demo/chain
echo "demo: working in $demo"

# Prints the command, then runs it.
step() {
    echo
    echo "\$ attestchain $*"
    "$tool" "$@"
}

echo
echo "== two signing keys"
step keygen "$demo/alice.pem"
step keygen "$demo/bob.pem"

echo
echo "== a few files to attest"
mkdir "$demo/files"
printf 'Minutes of the meeting, 3 May.\n' >"$demo/files/minutes.txt"
printf 'id,amount\n1,250\n2,75\n' >"$demo/files/ledger.csv"
head -c 65536 /dev/urandom >"$demo/files/photo.raw"
ls -l "$demo/files"

echo
echo "== three files in one batch (one lock, one fsync), with metadata"
step append -C "$chain" -k "$demo/alice.pem" -t application/octet-stream \
    -m author=alice -m project=demo --meta-json '{"batch": 1, "reviewed": false}' \
    "$demo/files/minutes.txt" "$demo/files/ledger.csv" "$demo/files/photo.raw"

echo
echo "== a hash attested without its file"
step append -C "$chain" -k "$demo/alice.pem" -t text/plain -m source=elsewhere \
    --hash "$(printf 'kept elsewhere' | sha256sum | cut -c1-64)"

echo
echo "== alice hands signing authority to bob"
step rotate -C "$chain" -k "$demo/alice.pem" --new-key "$demo/bob.pem"
step append -C "$chain" -k "$demo/bob.pem" -m author=bob "$demo/files/minutes.txt"

echo
echo "== alice's key is refused from now on (an expected error, exit status 2)"
echo
echo "\$ attestchain append -C $chain -k $demo/alice.pem $demo/files/ledger.csv"
# 2>&1: the error belongs in the demo's output, in order.
if "$tool" append -C "$chain" -k "$demo/alice.pem" "$demo/files/ledger.csv" 2>&1; then
    echo "demo: the retired key was accepted; that is a bug" >&2
    exit 1
fi
echo "(refused, as it should be)"

echo
echo "== verification"
step verify -C "$chain"
step verify -C "$chain" --json

echo
echo "== state and history"
step status -C "$chain"
step log -C "$chain"

echo
echo "== evidence that travels: a signed checkpoint, and one photo's proof"
step checkpoint -C "$chain" -k "$demo/bob.pem"
step vkey -C "$chain" --history
step prove -C "$chain" 2 -o "$demo/photo.raw.tlog-proof"
echo
echo "== the proof checked with nothing but the keys (no chain directory)"
"$tool" vkey -C "$chain" >"$demo/chain.vkey"
step verify-proof --vkey "$demo/chain.vkey" --key "$demo/alice.pem" \
    "$demo/photo.raw.tlog-proof" "$demo/files/photo.raw"

echo
echo "== published as static tiles with a page that checks proofs in a browser"
step export -C "$chain" "$demo/site"
ls "$demo/site"

echo
echo "demo: done; the chain is in $chain, its export in $demo/site"
echo "demo: try: $tool show -C $chain 0"
