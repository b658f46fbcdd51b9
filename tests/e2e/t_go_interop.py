"""Interoperability with the Go checksum database's own packages
(golang.org/x/mod/sumdb/note and tlog, Debian's golang-golang-x-mod-dev), which
no one here wrote.

tests/go/interop.go is built offline in GOPATH mode.  On a chain the tool
wrote:
(a) Go's note.Open verifies every checkpoint we sign (with our vkey parsed by
    note.NewVerifier), tlog.TreeHash gives our root at every size, and
    tlog.CheckRecord / tlog.CheckTree accept every inclusion and consistency
    proof we make, which equal tlog.ProveRecord / tlog.ProveTree's;
(b) the other way: checkpoints Go signs (note.Sign, a key from
    note.GenerateKey) and proofs tlog makes pass our library's checks;
(c) a .tlog-proof assembled from Go's checkpoint and inclusion proof passes
    `attestchain verify-proof` with Go's vkey (and fails with another key);
    one of ours, with its checkpoint checked by Go's note.Open;
(d) the tool's own commands on a chain: every `checkpoint` it kept through
    note.Open with the vkey `vkey -C` prints, every `prove` through
    tlog.CheckRecord and every `consistency` through tlog.CheckTree (and equal
    to tlog's), and an `export` (600 records: full and partial tiles at two
    levels) whose entry bundles give the checkpoint's root in tlog and whose
    every hash tile is tlog.ReadTileData's.

Skips (exit 77) when Go or golang-golang-x-mod-dev is missing (scripts/deps.sh
installs both: `AC_DEPS_EXTRA=1 scripts/deps.sh` or `make check` as root).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import ToolCase  # noqa: E402,F401 (the chain commands case uses it)

GOPATH = "/usr/share/gocode"
NOTE_PKG = os.path.join(GOPATH, "src", "golang.org", "x", "mod", "sumdb", "note")
ORIGIN = "example.org/photos"
RECORDS = 21

GO = shutil.which("go")
if GO is None:
    acutil.skip_file("no Go compiler (Debian package golang-go)")
if not os.path.isdir(NOTE_PKG):
    acutil.skip_file(f"no {NOTE_PKG} (Debian package golang-golang-x-mod-dev)")

_BUILD = tempfile.mkdtemp(prefix="ac-go-")
INTEROP = os.path.join(_BUILD, "interop")


def build_interop() -> None:
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOPROXY="off",
               GOCACHE=os.path.join(_BUILD, "cache"), GOFLAGS="")
    r = subprocess.run([GO, "build", "-o", INTEROP,
                        os.path.join(acutil.REPO, "tests", "go", "interop.go")],
                       env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        print("FAIL: building tests/go/interop.go:\n" + r.stderr)
        sys.exit(1)


def proof_text(leaf_b64: str, index: int, proof: list, checkpoint: str) -> str:
    return ("c2sp.org/tlog-proof@v1\n" f"extra {leaf_b64}\n" f"index {index}\n" +
            "".join(h + "\n" for h in proof) + "\n" + checkpoint)


class GoInterop(acutil.PhotoChainCase):
    photos = RECORDS

    def helper(self, *args, want=0) -> str:
        return self.tlog(*args, want=want).decode()

    def go(self, *args, want=0) -> str:
        r = subprocess.run([INTEROP, *args], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, want, f"interop {args}: {r.stdout}{r.stderr}")
        return r.stdout

    def ours(self) -> str:
        p = self.write("ours.json", self.helper("proofs", self.chain, self.k, ORIGIN))
        return p

    def test_go_checks_ours(self):
        p = self.ours()
        out = self.go("check", p)
        n = RECORDS
        want = (n + 1) + n + n * (n + 1) // 2 * 2  # roots, checkpoints, proofs
        self.assertEqual(out.strip(), f"ok {want} checks")
        # A checkpoint changed by one byte fails Go's note.Open.
        d = json.load(open(p))
        d["checkpoints"][4] = d["checkpoints"][4].replace("\n5\n", "\n6\n", 1)
        bad = self.write("bad.json", json.dumps(d))
        self.assertIn("note.Open", self.go("check", bad, want=1))

    def test_we_check_go(self):
        go = self.write("go.json", self.go("make", self.ours(), "go.example/log"))
        n = RECORDS
        want = (n + 1) + n + n * (n + 1) // 2 * 2
        self.assertEqual(self.helper("check", go).strip(), f"ok {want} checks")
        d = json.load(open(go))
        last = d["inclusion"][-1]  # record n-1 in the tree of n: a long proof
        last["proof"][0] = base64.b64encode(bytes(32)).decode()
        bad = self.write("bad.json", json.dumps(d))
        self.assertIn("FAIL inclusion", self.helper("check", bad, want=1))

    def test_verify_proof_of_go_checkpoint(self):
        go = json.load(open(self.write("go.json", self.go("make", self.ours(), "go.example/log"))))
        signer = self.ok("pubkey", self.k).stdout.split()[0]
        size = RECORDS
        for index in (0, 7, RECORDS - 1):
            inc = next(x for x in go["inclusion"] if x["index"] == index and x["size"] == size)
            proof = self.write(f"g{index}.tlog-proof",
                               proof_text(go["leaves"][index], index, inc["proof"],
                                          go["checkpoints"][size - 1]))
            v = self.json_of("verify-proof", "--vkey", go["vkey"], "--key", signer, "--json",
                             proof, self.files[index])
            self.assertTrue(v["valid"], v)
            self.assertTrue(v["content_checked"])
            self.assertEqual(v["record"]["chain_index"], index)
            # Without the record signer trusted: "signer"; with our own vkey: "checkpoint".
            p = self.fails(1, "verify-proof", "--vkey", go["vkey"], "--json", proof)
            self.assertEqual(json.loads(p.stdout)["reason"], "signer")
            mine = self.ok("vkey", "-k", self.k, "--origin", "go.example/log").stdout.strip()
            p = self.fails(1, "verify-proof", "--vkey", mine, "--json", proof)
            self.assertEqual(json.loads(p.stdout)["reason"], "checkpoint")

    def test_our_proof_checkpoint_opens_in_go(self):
        proof = self.helper("prove", self.chain, self.k, ORIGIN, "3")
        checkpoint = proof.split("\n\n", 1)[1]
        vkey = self.ok("vkey", "-k", self.k, "--origin", ORIGIN).stdout.strip()
        d = {"vkey": vkey, "leaves": [], "roots": ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
             "checkpoints": [], "inclusion": [], "consistency": []}
        ours = json.load(open(self.ours()))
        d["leaves"], d["roots"] = ours["leaves"], ours["roots"]
        d["checkpoints"] = [checkpoint]
        self.assertEqual(self.go("check", self.write("one.json", json.dumps(d))).strip(),
                         f"ok {RECORDS + 2} checks")


class ChainCommands(ToolCase):
    """(d): the chain-level commands, checked by Go alone."""

    def go(self, *args, want=0) -> str:
        r = subprocess.run([INTEROP, *args], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, want, f"interop {args}: {r.stdout}{r.stderr}")
        return r.stdout

    def test_checkpoints_proofs_consistency(self):
        k = self.path("k.pem")
        self.ok("keygen", k)
        chain = self.path("c")
        n = 13
        for i in range(n):
            self.ok("append", "-C", chain, "-k", k, "--hash", f"{i:02x}" * 32)
            self.ok("checkpoint", "-C", chain, "-k", k, "--origin", ORIGIN)
        cps = [open(os.path.join(chain, "checkpoints", str(s))).read() for s in range(1, n + 1)]
        roots = ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] + [c.split("\n")[2] for c in cps]
        fr, _ = acutil.frames(os.path.join(chain, "chain.bin"))
        leaves = [base64.b64encode(b).decode() for _o, b in fr]
        inclusion = []
        for i in range(n):
            text = self.ok("prove", "-C", chain, str(i)).stdout
            head, _cp = text.split("\n\n", 1)
            lines = head.split("\n")
            self.assertEqual(lines[1], "extra " + leaves[i])
            inclusion.append({"index": i, "size": n, "proof": lines[3:]})
        consistency = []
        for old in range(1, n + 1):
            for new in (old, n):
                out = self.ok("consistency", "-C", chain, str(old), str(new)).stdout.split()
                consistency.append({"old": old, "new": new, "proof": out})
        vkey = self.ok("vkey", "-C", chain).stdout.strip()
        d = {"vkey": vkey, "leaves": leaves, "roots": roots, "checkpoints": cps,
             "inclusion": inclusion, "consistency": consistency}
        want = (n + 1) + n + len(inclusion) + len(consistency)
        self.assertEqual(self.go("check", self.write("d.json", json.dumps(d))).strip(),
                         f"ok {want} checks")

    def test_export_tiles(self):
        k = self.path("k.pem")
        self.ok("keygen", k)
        chain = self.path("c")
        hashes = self.write("h.txt", "".join(f"{i:064x}\n" for i in range(600)))
        self.ok("append", "-C", chain, "-k", k, "--hash-list", hashes)
        out = self.path("out")
        self.ok("export", "-C", chain, out, "-k", k)
        vkey = self.ok("vkey", "-C", chain).stdout.strip()
        self.assertEqual(self.go("tiles", out, vkey).strip(), "ok 4 tiles")
        # Incremental: more records, a new checkpoint, the same directory.
        more = self.write("m.txt", "".join(f"{i:064x}\n" for i in range(600, 700)))
        self.ok("append", "-C", chain, "-k", k, "--hash-list", more)
        self.ok("export", "-C", chain, out, "-k", k)
        self.assertEqual(self.go("tiles", out, vkey).strip(), "ok 4 tiles")
        # A changed byte in a bundle: tlog's root no longer matches.
        bundle = os.path.join(out, "tile", "entries", "000")
        data = bytearray(open(bundle, "rb").read())
        data[100] ^= 1
        open(bundle, "wb").write(bytes(data))
        self.assertIn("FAIL", self.go("tiles", out, vkey, want=1))


if __name__ == "__main__":
    try:
        build_interop()
        acutil.main("t_go_interop")
    finally:
        shutil.rmtree(_BUILD, ignore_errors=True)
