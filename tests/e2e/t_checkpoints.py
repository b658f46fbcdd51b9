#!/usr/bin/env python3
"""A chain's signed checkpoints, proofs and exports (docs/format.md section 14),
through the tool: what verify makes of the checkpoints kept (a truncation, a
rewrite, a file that is no evidence), what `checkpoint` refuses, and that a
damaged or forged merkle.bin never changes a proof, a checkpoint or an export.
Go's own packages check the same outputs in t_go_interop; the browser and an
independent Python exporter in t_web.
"""
from __future__ import annotations

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import describe, run  # noqa: E402


class Base(acutil.ToolCase):
    def setUp(self):
        super().setUp()
        self.k = self.path("k.pem")
        self.ok("keygen", self.k)

    def chain(self, n, name="c", start=0):
        c = self.path(name)
        if n:
            hashes = self.write(name + ".txt", "".join(f"{i:064x}\n" for i in range(start, start + n)))
            self.ok("append", "-C", c, "-k", self.k, "--hash-list", hashes)
        return c

    def cp(self, c, size):
        return os.path.join(c, "checkpoints", str(size))


class Verify(Base):
    def test_truncation_and_rewrite_caught(self):
        c = self.chain(5)
        self.ok("checkpoint", "-C", c, "-k", self.k)
        self.verify(c, want_exit=0)
        fr, _ = acutil.frames(os.path.join(c, "chain.bin"))
        data = acutil.read_bytes(os.path.join(c, "chain.bin"))
        # Cut to 3 records, every cache gone: the checkpoint still knows.
        for n in ("state.cbor", "index.bin", "merkle.bin"):
            os.unlink(os.path.join(c, n))
        with open(os.path.join(c, "chain.bin"), "wb") as f:
            f.write(data[:fr[3][0]])
        v = self.verify(c, want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (3, "truncated"), v)
        # Two other records appended in their place: a rewritten history.
        self.ok("append", "-C", c, "-k", self.k, "--hash", "ab" * 32, "--hash", "cd" * 32)
        v = self.verify(c, want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (4, "checkpoint"), v)
        # It will not sign over it either.
        p = self.fails(2, "checkpoint", "-C", c, "-k", self.k)
        self.assertIn("rewritten", p.stderr)

    def test_two_signed_histories_kept_as_evidence(self):
        """The key holder signed two histories (one directory's checkpoint of
        5 records, another's of 6 that begins differently): verify fails with
        `checkpoint` and keeps evidence anyone can check with the vkey."""
        x = self.chain(3, name="x")
        y = self.path("y")
        shutil.copytree(x, y)
        self.ok("append", "-C", x, "-k", self.k, "--hash", "aa" * 32, "--hash", "ab" * 32)
        self.ok("checkpoint", "-C", x, "-k", self.k)
        for h in ("ba", "bb", "bc"):
            self.ok("append", "-C", y, "-k", self.k, "--hash", h * 32)
        self.ok("checkpoint", "-C", y, "-k", self.k)
        shutil.copy(self.cp(x, 5), self.cp(y, 5))
        p = run("verify", "-C", y, "--json")
        self.assertEqual(p.returncode, 1, describe(p))
        v = json.loads(p.stdout)
        self.assertEqual((v["index"], v["reason"]), (4, "checkpoint"), v)
        self.assertIn("FORK", p.stderr)
        ev = os.listdir(os.path.join(y, "evidence"))
        self.assertEqual(len(ev), 1, ev)
        vkey = self.ok("vkey", "-C", y).stdout.strip()
        self.ok("evidence", "verify", "--vkey", vkey, os.path.join(y, "evidence", ev[0]))
        # A chain rewritten with no later checkpoint proves nothing to others.
        self.assertEqual(run("verify", "-C", x).returncode, 0)

    def test_unverified_checkpoint_is_no_evidence(self):
        c = self.chain(4)
        self.ok("checkpoint", "-C", c, "-k", self.k)
        other = self.path("o.pem")
        self.ok("keygen", other)
        d = self.chain(9, name="d")
        self.ok("checkpoint", "-C", d, "-k", self.k)
        # Another chain's checkpoint of 9, and garbage named 7: warnings only.
        shutil.copy(self.cp(d, 9), self.cp(c, 9))
        with open(self.cp(c, 7), "w") as f:
            f.write("not a checkpoint\n")
        v = self.verify(c, want_exit=0)
        self.assertEqual(sorted(w["code"] for w in v["warnings"]),
                         ["checkpoint_unverified", "checkpoint_unverified"], v)


class Checkpoint(Base):
    def test_refusals_and_idempotence(self):
        c = self.chain(3)
        other = self.path("o.pem")
        self.ok("keygen", other)
        p = self.fails(2, "checkpoint", "-C", c, "-k", other)
        self.assertIn("authorized", p.stderr)
        self.fails(2, "checkpoint", "-C", c, "-k", self.k, "--origin", "has space")
        a = self.ok("checkpoint", "-C", c, "-k", self.k, "--origin", "example.org/log").stdout
        b = self.ok("checkpoint", "-C", c, "-k", self.k).stdout
        self.assertEqual(a, b)  # the same size, the same root: nothing new
        self.assertEqual(open(os.path.join(c, "checkpoints", "origin")).read(), "example.org/log\n")
        p = self.fails(2, "checkpoint", "-C", c, "-k", self.k, "--origin", "example.org/other")
        self.assertIn("never changes", p.stderr)
        e = self.chain(0, name="e")
        os.makedirs(e)
        self.fails(2, "checkpoint", "-C", e, "-k", self.k)
        # After a rotation the new key signs.
        k2 = self.path("k2.pem")
        self.ok("keygen", k2)
        self.ok("rotate", "-C", c, "-k", self.k, "--new-key", k2)
        self.fails(2, "checkpoint", "-C", c, "-k", self.k)
        self.ok("checkpoint", "-C", c, "-k", k2)
        self.verify(c, want_exit=0)
        hist = self.ok("vkey", "-C", c, "--history").stdout.splitlines()
        self.assertEqual([line.split()[1] for line in hist], ["0-3", "4-"])

    def test_forged_tree_cache_changes_nothing(self):
        c = self.chain(40)
        self.ok("checkpoint", "-C", c, "-k", self.k)
        proof = self.ok("prove", "-C", c, "17").stdout
        cons = self.ok("consistency", "-C", c, "5", "40").stdout
        out1 = self.path("o1")
        self.ok("export", "-C", c, out1)
        for forge in ("flip", "zero", "truncate"):
            tree = os.path.join(c, "merkle.bin")
            data = bytearray(acutil.read_bytes(tree))
            if forge == "flip":
                data[16 + 32 * 7] ^= 1
            elif forge == "zero":
                data[16:] = bytes(len(data) - 16)
            else:
                data = data[:16 + 32 * 3]
            open(tree, "wb").write(bytes(data))
            self.assertEqual(self.ok("prove", "-C", c, "17").stdout, proof, forge)
            self.assertEqual(self.ok("consistency", "-C", c, "5", "40").stdout, cons, forge)
        open(os.path.join(c, "merkle.bin"), "wb").write(b"\0" * 100)
        self.ok("append", "-C", c, "-k", self.k, "--hash", "ee" * 32)
        self.ok("checkpoint", "-C", c, "-k", self.k)
        self.verify(c, want_exit=0)


class AfterTheBatch(Base):
    def test_append_and_rotate_checkpoint(self):
        c = self.path("c")
        out = self.ok("append", "-C", c, "-k", self.k, "--hash", "ab" * 32, "--checkpoint").stdout
        self.assertIn("\n1\n", out)  # the lines, then the checkpoint of size 1
        self.assertTrue(os.path.exists(self.cp(c, 1)))
        k2 = self.path("k2.pem")
        self.ok("keygen", k2)
        pub = self.write("k2.pub", self.ok("pubkey", k2).stdout)
        p = self.fails(2, "rotate", "-C", c, "-k", self.k, "--new-key", pub, "--checkpoint")
        self.assertIn("new private key", p.stderr)
        self.assertFalse(os.path.exists(self.cp(c, 2)))
        self.ok("rotate", "-C", c, "-k", self.k, "--new-key", k2, "--checkpoint")
        self.assertTrue(os.path.exists(self.cp(c, 2)))
        self.verify(c, want_exit=0)


class Export(Base):
    def test_incremental_and_refusals(self):
        c = self.chain(300)
        out = self.path("out")
        self.fails(2, "export", "-C", c, out)  # no checkpoint yet
        self.ok("export", "-C", c, out, "-k", self.k)
        full = os.path.join(out, "tile", "entries", "000")
        part = os.path.join(out, "tile", "entries", "001.p", "44")
        ino = os.stat(full).st_ino
        self.assertTrue(os.path.exists(part))
        hashes = self.write("more.txt", "".join(f"{i:064x}\n" for i in range(300, 600)))
        self.ok("append", "-C", c, "-k", self.k, "--hash-list", hashes)
        v = json.loads(self.ok("export", "-C", c, out, "-k", self.k, "--json").stdout)
        self.assertEqual((v["size"], v["old_size"]), (600, 300), v)
        self.assertEqual(os.stat(full).st_ino, ino, "a full tile was written again")
        self.assertTrue(os.path.exists(part), "the partial tile of a published size went")
        self.assertTrue(os.path.exists(os.path.join(out, "tile", "entries", "002.p", "88")))
        # Another log's export, and an older checkpoint over a newer one: refused.
        d = self.chain(5, name="d")
        p = self.fails(2, "export", "-C", d, out, "-k", self.k)
        self.assertIn("another log", p.stderr)
        # A record too large for an entry bundle.
        big = self.path("big")
        self.ok("append", "-C", big, "-k", self.k, "--hash", "00" * 32,
                "--meta-json", json.dumps({"x": "y" * 70000}))
        p = self.fails(2, "export", "-C", big, self.path("bigout"), "-k", self.k)
        self.assertIn("record 0", p.stderr)


if __name__ == "__main__":
    acutil.main("t_checkpoints")
