"""The tool's commands for evidence that travels: `vkey` and `verify-proof`.

A chain the tool writes, a .tlog-proof made from it (tests/helpers/ac_tlog,
through the library's public API), then `verify-proof` as an outsider runs it:
no chain directory, only the proof, the photo and the verifier key.  Exit 0
valid, 1 invalid (with the reason), 2 for what stops the check (usage, a bad
key, an unreadable file), one line on stderr.
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402

ORIGIN = "example.org/photos"


class Tlog(acutil.PhotoChainCase):
    def setUp(self):
        super().setUp()
        self.vkey = self.ok("vkey", "-k", self.k, "--origin", ORIGIN).stdout.strip()

    def helper(self, *args) -> bytes:
        return self.tlog(*args)

    def prove(self, index: int, size: int | None = None, key: str | None = None) -> str:
        args = ["prove", self.chain, key or self.k, ORIGIN, str(index)]
        if size is not None:
            args.append(str(size))
        return self.write(f"r{index}-{size}.tlog-proof", self.helper(*args))

    def test_vkey(self):
        self.assertRegex(self.vkey, r"^example\.org/photos\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$")
        again = self.ok("vkey", "-k", self.k, "--origin", ORIGIN).stdout.strip()
        self.assertEqual(again, self.vkey)
        w = self.ok("vkey", "-k", self.k, "--origin", "w.example", "--witness").stdout.strip()
        self.assertNotEqual(w.split("+")[1], self.vkey.split("+")[1])
        for bad in ("a b", "a+b", ""):
            self.fails(2, "vkey", "-k", self.k, "--origin", bad)
        self.fails(2, "vkey", "-k", self.k)
        self.fails(2, "vkey", "--origin", ORIGIN)
        self.fails(2, "vkey", "-k", self.path("nope.pem"), "--origin", ORIGIN)
        self.assertIn("usage: attestchain vkey", self.ok("vkey", "--help").stdout)

    def test_valid_proof_prints_the_record(self):
        proof = self.prove(2)
        p = self.ok("verify-proof", "--vkey", self.vkey, proof, self.files[2])
        self.assertIn(f"valid: record 2 of {ORIGIN} (tree size 6), content matches", p.stdout)
        self.assertIn("Type:      image/jpeg", p.stdout)
        self.assertIn(acutil.sha256_file(self.files[2]), p.stdout)
        self.assertIn('"author":"alice"', p.stdout)
        v = self.json_of("verify-proof", "--vkey", self.vkey, "--json", proof)
        self.assertTrue(v["valid"])
        self.assertEqual((v["index"], v["origin"], v["tree_size"]), (2, ORIGIN, 6))
        self.assertEqual(v["record"]["content_hash"], acutil.sha256_file(self.files[2]))
        self.assertEqual(v["record"]["metadata"], {"author": "alice", "name": "p2.jpg"})
        self.assertFalse(v["content_checked"])
        # From standard input, and against an older checkpoint.
        with open(proof, "rb") as f:
            p = acutil.run("verify-proof", "--vkey", self.vkey, "-", input=f.read())
        self.assertEqual(p.returncode, 0, acutil.describe(p))
        self.ok("verify-proof", "--vkey", self.vkey, self.prove(2, 3), self.files[2])

    def test_invalid_proofs(self):
        proof = self.prove(4)
        p = self.fails(1, "verify-proof", "--vkey", self.vkey, "--json", proof, self.files[3])
        self.assertEqual(json.loads(p.stdout)["reason"], "content")
        text = open(proof).read()
        cases = {
            "truncated": (text[: len(text) // 2], "format"),
            "extra line": (text + "more\n", "format"),
            "leading zero": (text.replace("\nindex 4\n", "\nindex 04\n"), "format"),
            "another index": (text.replace("\nindex 4\n", "\nindex 5\n"), "index"),
            "another size": (text.replace("\n6\n", "\n5\n", 1), "checkpoint"),
            "200 signatures": (text + "".join(f"\u2014 w{i}.example AAAAAAAAAAA=\n"
                                              for i in range(200)), "format"),
        }
        for what, (body, reason) in cases.items():
            with self.subTest(what):
                f = self.write("bad.tlog-proof", body)
                p = self.fails(1, "verify-proof", "--vkey", self.vkey, "--json", f)
                self.assertEqual(json.loads(p.stdout)["reason"], reason, p.stdout)
                p = self.fails(1, "verify-proof", "--vkey", self.vkey, f)
                self.assertTrue(p.stdout.startswith(f"INVALID: {reason} ("), p.stdout)
        # Another log's key; an empty file.
        other = self.path("bob.pem")
        self.ok("keygen", other)
        ovk = self.ok("vkey", "-k", other, "--origin", ORIGIN).stdout.strip()
        p = self.fails(1, "verify-proof", "--vkey", ovk, "--json", proof)
        self.assertEqual(json.loads(p.stdout)["reason"], "checkpoint")
        self.fails(1, "verify-proof", "--vkey", self.vkey, self.write("empty", ""))

    def test_signer_named_with_key(self):
        """A checkpoint signed by another key (after a rotation, say): the record's
        signer must be named with --key, as hex or as a key file."""
        other = self.path("bob.pem")
        self.ok("keygen", other)
        ovk = self.ok("vkey", "-k", other, "--origin", ORIGIN).stdout.strip()
        proof = self.prove(1, key=other)
        p = self.fails(1, "verify-proof", "--vkey", ovk, "--json", proof)
        self.assertEqual(json.loads(p.stdout)["reason"], "signer")
        hexkey = self.ok("pubkey", self.k).stdout.split()[0]
        self.ok("verify-proof", "--vkey", ovk, "--key", hexkey, proof)
        self.ok("verify-proof", "--vkey", ovk, "--key", self.k, proof)
        self.fails(2, "verify-proof", "--vkey", ovk, "--key", "00ff", proof)

    def test_vkey_file_and_witnesses(self):
        proof = self.prove(0)
        other = self.path("bob.pem")
        self.ok("keygen", other)
        ovk = self.ok("vkey", "-k", other, "--origin", ORIGIN).stdout.strip()
        keys = self.write("trusted.vkeys", f"# the photo desk's keys\n{ovk}\n\n{self.vkey}\n")
        self.ok("verify-proof", "--vkey", keys, proof)
        self.fails(2, "verify-proof", "--vkey", self.write("junk.vkeys", "junk\n"), proof)
        self.fails(2, "verify-proof", "--vkey", self.write("none.vkeys", "# none\n"), proof)
        # A witness cosigns the checkpoint inside the proof.
        w = self.path("w.pem")
        self.ok("keygen", w)
        wvk = self.ok("vkey", "-k", w, "--origin", "w.example", "--witness").stdout.strip()
        head, cp = open(proof).read().split("\n\n", 1)
        cpf = self.write("cp", cp)
        cosigned = self.helper("cosign", cpf, w, "w.example", "1764547200").decode()
        wproof = self.write("w.tlog-proof", head + "\n\n" + cosigned)
        v = self.json_of("verify-proof", "--vkey", self.vkey, "--witness", wvk,
                         "--witnesses-needed", "1", "--json", wproof)
        self.assertEqual((v["valid"], v["witnesses"]), (True, 1))
        p = self.fails(1, "verify-proof", "--vkey", self.vkey, "--witness", wvk,
                       "--witnesses-needed", "1", "--json", proof)
        self.assertEqual(json.loads(p.stdout)["reason"], "witnesses")
        self.fails(2, "verify-proof", "--vkey", self.vkey, "--witnesses-needed", "1", proof)
        self.fails(2, "verify-proof", "--vkey", wvk, proof)  # a witness key as the log's
        self.fails(2, "verify-proof", "--vkey", self.vkey, "--witness", self.vkey, proof)

    def test_usage(self):
        self.assertIn("usage: attestchain verify-proof", self.ok("verify-proof", "--help").stdout)
        self.assertIn("verify-proof", self.ok("--help").stdout)
        proof = self.prove(0)
        self.fails(2, "verify-proof", proof)
        self.fails(2, "verify-proof", "--vkey", self.vkey)
        self.fails(2, "verify-proof", "--vkey", "not-a-key", proof)
        self.fails(2, "verify-proof", "--vkey", self.vkey, self.path("missing"))
        self.fails(2, "verify-proof", "--vkey", self.vkey, proof, self.path("missing.jpg"))
        self.fails(2, "verify-proof", "--vkey", self.vkey, proof, self.files[0], "x")
        self.fails(2, "verify-proof", "--vkey", self.vkey, "--bogus", proof)


if __name__ == "__main__":
    acutil.main("t_tlog")
