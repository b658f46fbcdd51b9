"""Federation for real: a chain published as an export directory and served by
a real nginx (a config written here, 127.0.0.1, a free port, stopped at the
end), mirrored, witnessed, and forked.

- mirror: the first pull, then an incremental one after more appends and a key
  rotation (only the new bundles fetched), the mirror's chain.bin byte for byte
  the publisher's and verifying; a changed entry bundle or hash tile on the
  server (refused, nothing imported, the mirror still verifies); a server
  whose log's key signed another history, of a larger and of the same size
  (evidence kept, checked with `evidence verify`, nothing imported);
  witnesses required of the checkpoint;
- a hostile server (a small Python HTTP server on 127.0.0.1): one that stalls,
  one that sends 10 GB (with and without a length), HTTP errors, a redirect
  loop: each a one-line error (exit 2), nothing imported;
- witness: init, add-log, cosign accepted (first, then consistent by --from
  and --proof), refused (not signed by the log, no proof, older, a fork of
  the same size and of a larger size: evidence kept).

The export is `attestchain export` when the tool has it, else the reference
exporter tests/e2e/tlogref.py. Skipped (exit 77) without nginx.
"""
from __future__ import annotations

import base64
import glob
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from nginxutil import NGINX, Nginx  # noqa: E402

if not os.access(NGINX, os.X_OK):
    acutil.skip_file("nginx is not installed (scripts/deps.sh installs it)")
try:
    import tlogref  # noqa: E402
except ImportError as e:
    acutil.skip_file(f"python3-cryptography is missing ({e})")

GUARD = 300   # seconds a command may take before the test calls it hung; never a measure


def tool_has(command: str) -> bool:
    return acutil.run(command, "--help").returncode == 0


def hashes(case, name: str, start: int, n: int) -> str:
    return case.write(name, "".join(f"{i:064x}\n" for i in range(start, start + n)))


def export(case, chain: str, out: str, key: str) -> str:
    """Exports `chain` into `out` (with the tool when it can); returns the
    log's verifier key for `key`."""
    if tool_has("export"):
        case.ok("export", "-C", chain, out, "-k", key)
    else:
        tlogref.export(chain, out, tlogref.load_key(key))
    origin = tlogref.default_origin(tlogref.frame_bodies(chain))
    return case.ok("vkey", "-k", key, "--origin", origin).stdout.strip()


def files_of(d: str) -> dict:
    return {os.path.relpath(p, d): acutil.read_bytes(p)
            for p in glob.glob(os.path.join(d, "**"), recursive=True) if os.path.isfile(p)}


class Federation(acutil.ToolCase):
    @classmethod
    def setUpClass(cls):
        acutil.require_tool()
        cls.work = tempfile.mkdtemp(prefix="acfed-")
        cls.root = os.path.join(cls.work, "www")
        os.makedirs(cls.root)
        cls.nginx = Nginx(cls.root, cls.work)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    # ---------------------------------------------------------------- helpers

    def publish(self, name: str, chain: str, key: str) -> tuple[str, str]:
        """Exports `chain` under the server's /name/; returns (URL, vkey)."""
        out = os.path.join(self.root, name)
        vkey = export(self, chain, out, key)
        return self.nginx.url(name), vkey

    def served(self, name: str) -> str:
        return os.path.join(self.root, name)

    def mirror(self, want: int, mdir: str, source: str, *extra):
        p = acutil.run("mirror", "-C", mdir, source, "--json", *extra)
        self.assertEqual(p.returncode, want, acutil.describe(p))
        if want == 0:
            return json.loads(p.stdout)
        # With --json a refusal is one JSON object on stdout (or, for a fork
        # found, a line on stderr): either way it says why.
        says = p.stderr.strip()
        if not says:
            try:
                says = json.loads(p.stdout)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                says = ""
        self.assertTrue(says, "a refusal says why:\n" + acutil.describe(p))
        return subprocess.CompletedProcess(p.args, p.returncode, p.stdout, says)

    def assert_prefix(self, mirror: str, chain: str, records: int):
        got = acutil.read_bytes(os.path.join(mirror, "chain.bin"))
        want = b"".join(len(b).to_bytes(4, "big") + b
                        for b in tlogref.frame_bodies(chain)[:records])
        self.assertEqual(got, want, "the mirror's chain.bin is not the publisher's prefix")
        v = self.verify(mirror, want_exit=0)
        self.assertEqual(v["records"], records)

    def chain_with(self, name: str, key: str, n: int, start: int = 1) -> str:
        d = self.path(name)
        self.ok("append", "-C", d, "-k", key, "--hash-list", hashes(self, name + ".h", start, n))
        return d

    def fork_of(self, chain: str, name: str, keep: int, key: str, add: int) -> str:
        """A chain with `chain`'s first `keep` records, then `add` others."""
        d = self.path(name)
        os.makedirs(d)
        with open(os.path.join(d, "chain.bin"), "wb") as f:
            for b in tlogref.frame_bodies(chain)[:keep]:
                f.write(len(b).to_bytes(4, "big") + b)
        if add > 0:
            self.ok("append", "-C", d, "-k", key, "--hash-list",
                    hashes(self, name + ".h", 90000, add))
        return d

    def evidence_files(self, d: str) -> list[str]:
        return sorted(glob.glob(os.path.join(d, "evidence", "fork-*")))

    # ---------------------------------------------------------------- mirror

    def test_pull_then_incremental_after_rotation(self):
        k1, k2 = self.key("k1"), self.key("k2")
        pub = self.chain_with("pub", k1, 300)
        url, vkey = self.publish("inc", pub, k1)
        m = self.path("m")
        first = self.mirror(0, m, url, "--vkey", vkey)
        self.assertEqual((first["size"], first["new"]), (300, 300))
        self.assert_prefix(m, pub, 300)
        self.assertTrue(os.path.exists(os.path.join(m, "checkpoints", "300")))

        self.ok("append", "-C", pub, "-k", k1, "--hash-list", hashes(self, "more", 1000, 200))
        self.ok("rotate", "-C", pub, "-k", k1, "--new-key", k2)
        self.ok("append", "-C", pub, "-k", k2, "--hash-list", hashes(self, "after", 2000, 50))
        _, vkey2 = self.publish("inc", pub, k2)
        before = len(self.nginx.requests())
        second = self.mirror(0, m, url)   # the new key is followed through the rotation
        self.assertEqual((second["size"], second["new"]), (551, 251))
        self.assert_prefix(m, pub, 551)
        fetched = self.nginx.requests()[before:]
        self.assertNotIn("/inc/tile/entries/000", fetched, "a full bundle already held was fetched")
        self.assertFalse([p for p in fetched if p.startswith("/inc/tile/entries/000")])
        self.assertTrue(any(p.startswith("/inc/tile/entries/002") for p in fetched))
        again = self.mirror(0, m, url)
        self.assertEqual((again["new"], again["up_to_date"]), (0, True))
        # The mirror is an ordinary chain: show and log check what they print.
        self.ok("show", "-C", m, "550")
        # From the export directory itself too, into another mirror, which
        # trusts the checkpoint by the current key's vkey (the old one's is
        # not enough for a first pull).
        d2 = self.path("m2")
        self.mirror(1, d2, self.served("inc"), "--vkey", vkey)
        self.assertEqual(self.mirror(0, d2, self.served("inc"), "--vkey", vkey2)["size"], 551)

    def test_changed_bundle_or_tile_refused(self):
        k1 = self.key("k1")
        pub = self.chain_with("pub", k1, 300)
        url, vkey = self.publish("tamper", pub, k1)
        m = self.path("m")
        self.mirror(0, m, url, "--vkey", vkey)
        self.ok("append", "-C", pub, "-k", k1, "--hash-list", hashes(self, "more", 1000, 120))
        self.publish("tamper", pub, k1)
        good = files_of(self.served("tamper"))
        before = acutil.read_bytes(os.path.join(m, "chain.bin"))
        bundle = [f for f in good if f.startswith("tile/entries/001")][0]
        tile = [f for f in good if f.startswith("tile/0/001")][0]
        # A byte of record 419 (not yet mirrored), and of the hash of record
        # 257 (in the subtree [256, 288) that the mirror's tree is made of).
        for path, at in ((bundle, -10), (tile, 40)):
            with self.subTest(path=path):
                data = bytearray(good[path])
                data[at] ^= 1
                with open(os.path.join(self.served("tamper"), path), "wb") as f:
                    f.write(bytes(data))
                p = self.mirror(1, m, url)
                self.assertIn("nothing imported", p.stderr)
                self.assertEqual(acutil.read_bytes(os.path.join(m, "chain.bin")), before)
                self.assertEqual(self.evidence_files(m), [], "tampering is not a fork")
                self.verify(m, want_exit=0)
                with open(os.path.join(self.served("tamper"), path), "wb") as f:
                    f.write(good[path])
        self.assertEqual(self.mirror(0, m, url)["size"], 420)

    def test_checkpoint_by_another_key_refused(self):
        k1, k2 = self.key("k1"), self.key("k2")
        pub = self.chain_with("pub", k1, 40)
        url, vkey = self.publish("otherkey", pub, k1)
        origin = vkey.split("+")[0]
        vkey2 = self.ok("vkey", "-k", k2, "--origin", origin).stdout.strip()
        m = self.path("m")
        self.mirror(1, m, url, "--vkey", vkey2)            # a first pull needs the signer's vkey
        self.mirror(0, m, url, "--vkey", vkey)
        before = acutil.read_bytes(os.path.join(m, "chain.bin"))
        kept = acutil.read_bytes(os.path.join(m, "checkpoints", "40"))
        # The same tree under k2, which the chain never authorized: not kept.
        bodies = tlogref.frame_bodies(pub)
        root = tlogref.mth([tlogref.leaf_hash(b) for b in bodies])
        with open(os.path.join(self.served("otherkey"), "checkpoint"), "w") as f:
            f.write(tlogref.sign_note(tlogref.checkpoint_body(origin, 40, root), origin,
                                      tlogref.load_key(k2)))
        self.mirror(1, m, url)
        self.assertEqual(acutil.read_bytes(os.path.join(m, "checkpoints", "40")), kept)
        # More records, their checkpoint signed by k2 (pinned by a --vkey, yet
        # not the key the records authorize at that size): nothing imported.
        self.ok("append", "-C", pub, "-k", k1, "--hash-list", hashes(self, "more", 500, 30))
        tlogref.export(pub, self.served("otherkey"), tlogref.load_key(k2))
        p = self.mirror(1, m, url, "--vkey", vkey2)
        self.assertIn("authorized", p.stderr)
        self.assertEqual(acutil.read_bytes(os.path.join(m, "chain.bin")), before)
        self.verify(m, want_exit=0)

    def test_fork_larger_and_same_size(self):
        k1 = self.key("k1")
        pub = self.chain_with("pub", k1, 300)
        url, vkey = self.publish("honest", pub, k1)
        m = self.path("m")
        self.mirror(0, m, url, "--vkey", vkey)
        before = acutil.read_bytes(os.path.join(m, "chain.bin"))
        cases = (("forked-larger", 200, 150, 350), ("forked-same", 200, 100, 300),
                 ("forked-smaller", 200, 50, 250))
        for name, keep, add, size in cases:
            with self.subTest(name=name):
                fork = self.fork_of(pub, name, keep, k1, add)
                furl, fvkey = self.publish(name, fork, k1)
                self.assertEqual(fvkey, vkey)
                p = self.mirror(1, m, furl)
                self.assertIn("FORK", p.stderr)
                self.assertEqual(acutil.read_bytes(os.path.join(m, "chain.bin")), before)
                ev = self.evidence_files(m)[-1]
                v = self.json_of("evidence", "verify", "--vkey", vkey, "--json", ev)
                self.assertEqual((v["fork"], v["kind"]), (True, "checkpoints"))
                self.assertEqual(sorted(v["sizes"]), sorted([300, size]))
                # Under another key it proves nothing.
                other = self.ok("vkey", "-k", self.key("k2"), "--origin",
                                vkey.split("+")[0]).stdout.strip()
                self.fails(1, "evidence", "verify", "--vkey", other, ev)
        self.verify(m, want_exit=0)
        self.assertEqual(len(self.evidence_files(m)), 3)
        # A source that is only behind is no fork.
        burl, _ = self.publish("behind", self.fork_of(pub, "behind", 250, k1, 0), k1)
        p = acutil.run("mirror", "-C", m, burl)
        self.assertEqual(p.returncode, 0, acutil.describe(p))
        self.assertIn("behind", p.stderr)
        self.assertEqual(acutil.read_bytes(os.path.join(m, "chain.bin")), before)

    def test_witnesses_required(self):
        k1 = self.key("k1")
        pub = self.chain_with("pub", k1, 40)
        url, vkey = self.publish("cosigned", pub, k1)
        w, wk = self.path("w"), self.key("k3")
        wvkey = self.ok("witness", "init", "-d", w, "-k", wk, "--name", "w.example").stdout.strip()
        self.ok("witness", "add-log", "-d", w, "--origin", vkey.split("+")[0], "--vkey", vkey)
        m = self.path("m")
        self.mirror(1, m, url, "--vkey", vkey, "--witness", wvkey, "--witnesses-needed", "1")
        self.assertFalse(os.path.exists(os.path.join(m, "chain.bin")) and
                         os.path.getsize(os.path.join(m, "chain.bin")) > 0)
        cp = os.path.join(self.served("cosigned"), "checkpoint")
        cosigned = self.ok("witness", "cosign", "-d", w, cp).stdout
        with open(cp, "w") as f:
            f.write(cosigned)
        got = self.mirror(0, m, url, "--vkey", vkey, "--witness", wvkey, "--witnesses-needed", "1")
        self.assertEqual(got["size"], 40)

    # ---------------------------------------------------------------- witness

    def test_witness_cosign(self):
        k1 = self.key("k1")
        pub = self.chain_with("pub", k1, 100)
        url, vkey = self.publish("wlog", pub, k1)
        origin = vkey.split("+")[0]
        w = self.path("w")
        wvkey = self.ok("witness", "init", "-d", w, "-k", self.key("k3"), "--name",
                        "w.example").stdout.strip()
        self.fails(2, "witness", "init", "-d", w, "-k", self.key("k3"), "--name", "w.example")
        cp = self.write("cp100", acutil.read_bytes(os.path.join(self.served("wlog"), "checkpoint")))
        self.fails(1, "witness", "cosign", "-d", w, cp)      # no such log yet
        self.ok("witness", "add-log", "-d", w, "--origin", origin, "--vkey", vkey)
        out = self.ok("witness", "cosign", "-d", w, cp).stdout
        self.assertTrue(out.startswith(acutil.read_bytes(cp).decode()))
        self.assertIn("\u2014 w.example ", out.splitlines()[-1])
        # The cosignature verifies where witnesses are required.
        proof = self.write("p.tlog-proof", tlogref.prove(tlogref.frame_bodies(pub), 7, out))
        self.ok("verify-proof", "--vkey", vkey, "--witness", wvkey, "--witnesses-needed", "1", proof)
        self.ok("witness", "cosign", "-d", w, cp)            # the same checkpoint again

        # A larger checkpoint: refused without a proof, cosigned with one.
        self.ok("append", "-C", pub, "-k", k1, "--hash-list", hashes(self, "more", 500, 60))
        self.publish("wlog", pub, k1)
        cp2 = self.write("cp160", acutil.read_bytes(os.path.join(self.served("wlog"), "checkpoint")))
        self.fails(1, "witness", "cosign", "-d", w, cp2)
        self.ok("witness", "cosign", "-d", w, cp2, "--from", url)
        self.fails(1, "witness", "cosign", "-d", w, cp)      # older than the last cosigned
        # --proof: the consistency proof's lines (from the reference).
        self.ok("append", "-C", pub, "-k", k1, "--hash-list", hashes(self, "more2", 700, 30))
        self.publish("wlog", pub, k1)
        cp3 = self.write("cp190", acutil.read_bytes(os.path.join(self.served("wlog"), "checkpoint")))
        bad = self.write("bad.proof", base64.b64encode(b"\x00" * 32).decode() + "\n")
        self.fails(1, "witness", "cosign", "-d", w, cp3, "--proof", bad)
        proof_lines = consistency_lines(tlogref.frame_bodies(pub), 160, 190)
        good = self.write("good.proof", "".join(l + "\n" for l in proof_lines))
        self.ok("witness", "cosign", "-d", w, cp3, "--proof", good)

        # A checkpoint by another key is not the log's.
        other = tlogref.sign_note(tlogref.checkpoint_body(origin, 191, b"\x01" * 32), origin,
                                  tlogref.load_key(self.key("k2")))
        self.fails(1, "witness", "cosign", "-d", w, self.write("cpx", other), "--proof", good)

        # A fork of the same size: refused, evidence kept.
        fork = self.fork_of(pub, "fork", 150, k1, 40)
        self.publish("wfork", fork, k1)
        cpf = self.write("cpf", acutil.read_bytes(os.path.join(self.served("wfork"), "checkpoint")))
        p = self.fails(1, "witness", "cosign", "-d", w, cpf)
        self.assertIn("FORK", p.stderr)
        ev = self.evidence_files(w)
        self.assertEqual(len(ev), 1)
        self.ok("evidence", "verify", "--vkey", vkey, ev[0])
        # A larger fork, proven by its own tiles.
        self.ok("append", "-C", fork, "-k", k1, "--hash-list", hashes(self, "fmore", 95000, 30))
        self.publish("wfork", fork, k1)
        cpf2 = self.write("cpf2", acutil.read_bytes(os.path.join(self.served("wfork"), "checkpoint")))
        self.fails(1, "witness", "cosign", "-d", w, cpf2, "--from", self.nginx.url("wfork"))
        ev = self.evidence_files(w)
        self.assertEqual(len(ev), 2)
        self.assertEqual(self.json_of("evidence", "verify", "--vkey", vkey, "--json",
                                      ev[1])["sizes"], [190, 220])

    def test_evidence_command(self):
        self.ok("evidence", "--help")
        self.ok("evidence", "verify", "--help")
        self.fails(2, "evidence", "verify", self.write("x", "x"))
        vkey = self.ok("vkey", "-k", self.key("k1"), "--origin", "example.org/x").stdout.strip()
        self.fails(1, "evidence", "verify", "--vkey", vkey, self.write("y", "not evidence\n"))
        self.fails(2, "evidence", "verify", "--vkey", vkey, self.path("missing"))
        self.fails(2, "evidence", "spoons")
        self.ok("mirror", "--help")
        self.ok("witness", "--help")
        self.fails(2, "mirror", "-C", self.path("m"), self.path("nowhere"))


def consistency_lines(bodies: list[bytes], m: int, n: int) -> list[str]:
    """RFC 6962 2.1.2 SUBPROOF(m, D[n], true), base64, from the reference's tree."""
    leaves = [tlogref.leaf_hash(b) for b in bodies[:n]]

    def sub(m: int, d: list[bytes], complete: bool) -> list[bytes]:
        if m == len(d):
            return [] if complete else [tlogref.mth(d)]
        k = tlogref._split(len(d))
        if m <= k:
            return sub(m, d[:k], complete) + [tlogref.mth(d[k:])]
        return sub(m - k, d[k:], False) + [tlogref.mth(d[:k])]
    return [base64.b64encode(h).decode() for h in sub(m, leaves, True)]


# ------------------------------------------------------------------ a hostile server


class Hostile(http.server.BaseHTTPRequestHandler):
    """Answers by path: a stall, 10 GB with and without a length, errors, a
    redirect loop; anything else from the export directory `real`."""
    real = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        kind, _, rest = self.path.lstrip("/").partition("/")
        if kind == "stall":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(GUARD)
            return
        if kind == "loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.end_headers()
            return
        if kind.startswith("status"):
            self.send_response(int(kind[6:]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.join(self.real, rest)
        huge = kind in ("huge", "hugechunked") and (rest == "checkpoint" or
                                                    rest.startswith("tile/entries/"))
        if rest == "checkpoint" and kind in ("huge", "hugechunked"):
            huge = False   # a real checkpoint, then 10 GB as the bundle
        if not huge:
            try:
                data = acutil.read_bytes(path)
            except OSError:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        if kind == "huge":
            self.send_header("Content-Length", str(10 << 30))
        self.end_headers()
        chunk = b"\x00" * (1 << 20)
        try:
            for _ in range(10 << 10):
                self.wfile.write(chunk)
        except OSError:
            pass   # the client hung up, as it should


class HostileServer(acutil.ToolCase):
    def test_hostile_servers(self):
        k1 = self.key("k1")
        pub = self.path("pub")
        self.ok("append", "-C", pub, "-k", k1, "--hash-list", hashes(self, "h", 1, 20))
        out = self.path("out")
        vkey = export(self, pub, out, k1)
        Hostile.real = out
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
        srv.daemon_threads = True
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        try:
            cases = (("stall", "stalled"), ("huge", "larger than"), ("hugechunked", "larger than"),
                     ("status404", "not found"), ("status500", "HTTP 500"),
                     ("status403", "HTTP 403"), ("loop", "redirects"))
            for kind, says in cases:
                with self.subTest(kind=kind):
                    m = self.path("m-" + kind)
                    p = acutil.run("mirror", "-C", m, f"{base}/{kind}", "--vkey", vkey,
                                   "--timeout", "2")
                    self.assertEqual(p.returncode, 2, acutil.describe(p))
                    self.assertEqual(len(p.stderr.strip().splitlines()), 1, acutil.describe(p))
                    self.assertIn(says, p.stderr)
                    self.assertFalse(os.path.exists(os.path.join(m, "chain.bin")) and
                                     os.path.getsize(os.path.join(m, "chain.bin")) > 0)
            # The same server serving the real export is mirrored.
            got = acutil.run("mirror", "-C", self.path("m"), f"{base}/real", "--vkey", vkey)
            self.assertEqual(got.returncode, 0, acutil.describe(got))
        finally:
            srv.shutdown()
            srv.server_close()


if __name__ == "__main__":
    acutil.main("t_federation")
