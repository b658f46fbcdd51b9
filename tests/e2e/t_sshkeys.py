"""SSH keys with the tool, against ssh-keygen (Debian's openssh-client) and
openssl: keys ssh-keygen makes sign a chain, `ssh-keygen -y` gives the key the
tool reads, `keygen --format openssh` writes a key ssh-keygen reads and
re-encrypts, and an encrypted key (OpenSSH or PKCS#8) is asked for on a
terminal, read from --passphrase-file, or refused saying which to give.
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import ToolCase, describe, run, run_on_tty  # noqa: E402

PASS = "correct horse battery"


def ssh_keygen(*args, input=None) -> str:
    p = subprocess.run(["ssh-keygen", *args], input=input, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"ssh-keygen {args}: {p.stderr}")
    return p.stdout


def ssh_pub_hex(line: str) -> str:
    """The raw Ed25519 key of an "ssh-ed25519 AAAA... comment" line, in hex."""
    kind, b64 = line.split()[:2]
    assert kind == "ssh-ed25519", line
    blob = base64.b64decode(b64)
    assert blob[:4] == b"\x00\x00\x00\x0b" and blob[4:15] == b"ssh-ed25519", blob
    assert blob[15:19] == b"\x00\x00\x00\x20" and len(blob) == 51, blob
    return blob[19:].hex()


class SshKeys(ToolCase):
    def setUp(self):
        super().setUp()
        if shutil.which("ssh-keygen") is None:
            self.fail("ssh-keygen is missing: scripts/deps.sh installs openssh-client")
        self.chain = self.path("c")
        self.content = self.write("photo.jpg", b"photo")

    def ssh_key(self, name: str, passphrase: str = "") -> str:
        path = self.path(name)
        ssh_keygen("-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", path)
        return path

    def pub(self, path: str) -> str:
        return self.ok("pubkey", path).stdout.strip()

    def chain_bytes(self):
        p = os.path.join(self.chain, "chain.bin")
        return acutil.read_bytes(p) if os.path.exists(p) else None

    def test_ssh_keygen_key_signs_a_chain(self):
        k1, k2 = self.ssh_key("id_one"), self.ssh_key("id_two")
        for k in (k1, k2):
            want = ssh_pub_hex(ssh_keygen("-y", "-f", k))
            self.assertEqual(self.pub(k), want)
            self.assertEqual(self.pub(k + ".pub"), want)
        self.ok("append", "-C", self.chain, "-k", k1, self.content)
        # Rotation to a key given as its .pub line, then signing with it.
        self.ok("rotate", "-C", self.chain, "-k", k1, "--new-key", k2 + ".pub")
        self.ok("append", "-C", self.chain, "-k", k2, self.content)
        v = self.verify(self.chain, want_exit=0)
        self.assertEqual(v["records"], 3)
        shown = [self.json_of("show", "-C", self.chain, str(i), "--json") for i in range(3)]
        self.assertEqual([r["signer_pubkey"] for r in shown],
                         [self.pub(k1), self.pub(k1), self.pub(k2)])
        self.assertEqual(shown[1]["metadata"], {"new_pubkey": self.pub(k2)})
        # The retired key is refused, nothing written.
        before = self.chain_bytes()
        self.fails(2, "append", "-C", self.chain, "-k", k1, self.content)
        self.assertEqual(self.chain_bytes(), before)

    def test_keygen_openssh_format(self):
        key = self.path("ours")
        pub = self.ok("keygen", "--format", "openssh", key).stdout.strip()
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        with open(key) as f:
            text = f.read()
        self.assertTrue(text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n"), text)
        self.assertTrue(all(len(line) <= 70 for line in text.splitlines()))
        self.assertEqual(ssh_pub_hex(ssh_keygen("-y", "-f", key)), pub)
        self.assertIn("(ED25519)", ssh_keygen("-l", "-f", key))
        self.ok("append", "-C", self.chain, "-k", key, self.content)
        # ssh-keygen gives it a passphrase; the tool still reads it.
        ssh_keygen("-q", "-p", "-N", PASS, "-f", key)
        pw = self.write("pw", PASS + "\n")
        self.ok("append", "-C", self.chain, "-k", key, "--passphrase-file", pw, self.content)
        self.assertEqual(self.pub(key), pub)  # the public half is in the clear
        self.verify(self.chain, want_exit=0)
        self.fails(2, "keygen", "--format", "putty", self.path("x"))
        self.assertFalse(os.path.exists(self.path("x")))

    def check_encrypted(self, key: str, passphrase: str, pub: str):
        # No terminal (the tests run without one) and no file: say both ways out.
        p = self.fails(2, "append", "-C", self.chain, "-k", key, self.content)
        self.assertIn("passphrase", p.stderr)
        self.assertIn("--passphrase-file", p.stderr)
        self.assertIsNone(self.chain_bytes())
        # A wrong passphrase, from a file: refused, nothing written.
        p = self.fails(2, "append", "-C", self.chain, "-k", key, "--passphrase-file",
                       self.write("bad", "not it\n"), self.content)
        self.assertIn("wrong passphrase", p.stderr)
        self.assertIsNone(self.chain_bytes())
        self.fails(2, "append", "-C", self.chain, "-k", key, "--passphrase-file",
                   self.path("missing"), self.content)
        # The right one, from a file with CRLF.
        self.ok("append", "-C", self.chain, "-k", key, "--passphrase-file",
                self.write("good", passphrase + "\r\n"), self.content)
        # On a terminal: asked once, without echo; a wrong answer fails.
        code, out = run_on_tty(["append", "-C", self.chain, "-k", key, self.content], passphrase)
        self.assertEqual(code, 0, out)
        self.assertIn(f"Passphrase for {key}: ", out)
        self.assertNotIn(passphrase, out)  # not echoed
        code, out = run_on_tty(["append", "-C", self.chain, "-k", key, self.content], "nope")
        self.assertEqual(code, 2, out)
        self.assertIn("wrong passphrase", out)
        v = self.verify(self.chain, want_exit=0)
        self.assertEqual(v["records"], 2)
        self.assertEqual(self.json_of("show", "-C", self.chain, "1", "--json")["signer_pubkey"],
                         pub)

    def test_encrypted_openssh_key(self):
        key = self.ssh_key("id_enc", PASS)
        pub = ssh_pub_hex(ssh_keygen("-y", "-P", PASS, "-f", key))
        self.assertEqual(self.pub(key), pub)
        self.check_encrypted(key, PASS, pub)

    def test_encrypted_pkcs8_key(self):
        key = self.path("p8.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-aes256", "-pass",
                        "pass:" + PASS, "-out", key], check=True, capture_output=True)
        os.chmod(key, 0o600)
        p = self.fails(2, "pubkey", key)
        self.assertIn("public key", p.stderr)
        der = subprocess.run(["openssl", "pkey", "-in", key, "-passin", "pass:" + PASS,
                              "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.check_encrypted(key, PASS, der[-32:].hex())

    def test_other_ssh_key_types_refused(self):
        key = self.path("id_ecdsa")
        ssh_keygen("-q", "-t", "ecdsa", "-N", "", "-f", key)
        p = self.fails(2, "append", "-C", self.chain, "-k", key, self.content)
        self.assertIn("not an Ed25519 key (found ecdsa-sha2-nistp256)", p.stderr)
        p = self.fails(2, "pubkey", key + ".pub")
        self.assertIn("not an Ed25519 key (found ecdsa-sha2-nistp256)", p.stderr)
        self.assertIsNone(self.chain_bytes())

    def test_damaged_openssh_files(self):
        key = self.ssh_key("id_dmg")
        with open(key) as f:
            lines = f.read().splitlines(keepends=True)
        cases = {
            "truncated": "".join(lines[:-2]),
            "no END": "".join(lines[:-1]),
            "bad base64": lines[0] + "!!!!" + "".join(lines[1:]),
            "short body": lines[0] + lines[1] + lines[-1],
        }
        body = base64.b64decode("".join(lines[1:-1]))
        for at in (20, 60, len(body) - 40, len(body) - 3):
            flipped = bytearray(body)
            flipped[at] ^= 0x40
            b64 = base64.b64encode(bytes(flipped)).decode()
            cases[f"flip {at}"] = lines[0] + "\n".join(b64[i:i + 70] for i in
                                                       range(0, len(b64), 70)) + "\n" + lines[-1]
        for name, text in cases.items():
            with self.subTest(case=name):
                bad = self.write("bad_" + name.replace(" ", "_"), text)
                os.chmod(bad, 0o600)
                p = run("append", "-C", self.chain, "-k", bad, self.content)
                self.assertEqual(p.returncode, 2, describe(p))
                self.assertEqual(len(p.stderr.splitlines()), 1, describe(p))
                self.assertIsNone(self.chain_bytes())


if __name__ == "__main__":
    acutil.require_tool()
    acutil.main("t_sshkeys")
