"""End-to-end tests of the attestchain command-line tool.

Each test runs the built tool ($AC_TOOL) in a fresh temporary directory and
checks its output, its exit status (0 ok, 1 invalid chain, 2 usage, input or
I/O error with one line on stderr) and the bytes it leaves in chain.bin,
which the tests parse themselves (4-byte big-endian length + body).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import ToolCase, describe, run  # noqa: E402

HEX64 = re.compile(r"^[0-9a-f]{64}$")
COMMANDS = ("keygen", "pubkey", "append", "rotate", "verify", "status", "log", "show")
ROTATION_TYPE = "soosef/key-rotation-v1"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def nest_maps(k: int):
    """k maps inside each other around a text leaf."""
    v = "leaf"
    for _ in range(k):
        v = {"d": v}
    return v


def nest_arrays(k: int):
    """k arrays inside each other (the innermost one empty)."""
    v = []
    for _ in range(k - 1):
        v = [v]
    return v


def openssl(*args, input=None) -> bytes:
    p = subprocess.run(["openssl", *args], input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {args}: {p.stderr.decode(errors='replace')}")
    return p.stdout


class Base(ToolCase):
    def keygen(self, name: str):
        """A new key in self.tmp; returns (path, public key hex)."""
        path = self.path(name)
        p = self.ok("keygen", path)
        return path, p.stdout.strip()

    def chain_with(self, n: int, name="chain"):
        """A chain of n records (hashes 00.., 01.., ...) signed by a new key.
        Returns (dir, key path, [(index, hash)])."""
        chain = self.path(name)
        key, _pub = self.keygen(name + ".key")
        out = []
        if n:
            args = []
            for i in range(n):
                args += ["--hash", f"{i:02x}" * 32]
            out = self.appended(self.ok("append", "-C", chain, "-k", key, *args))
            self.assertEqual([i for i, _h in out], list(range(n)))
        return chain, key, out

    def bin(self, chain: str) -> str:
        return os.path.join(chain, "chain.bin")

    def snapshot(self, chain: str):
        """chain.bin's bytes, or None if it does not exist."""
        p = self.bin(chain)
        return acutil.read_bytes(p) if os.path.isfile(p) else None

    def assert_nothing_written(self, chain: str, before):
        after = self.snapshot(chain)
        if before is None:
            self.assertFalse(after, "chain.bin was written to a chain that did not exist")
        else:
            self.assertEqual(after, before, "chain.bin changed")

    def show(self, chain: str, index: int):
        return self.json_of("show", "-C", chain, str(index), "--json")

    def body_hashes(self, chain: str):
        fr, _tail = acutil.frames(self.bin(chain))
        return [digest(body) for _off, body in fr]


class KeygenTest(Base):
    def test_keygen_mode_pem_and_openssl_pubkey(self):
        path, pub = self.keygen("k.pem")
        self.assertRegex(pub, HEX64)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            self.assertIn("-----BEGIN PRIVATE KEY-----", f.read())
        der = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
        self.assertEqual(der[-32:].hex(), pub, "keygen's pubkey differs from openssl's")
        self.assertEqual(self.ok("pubkey", path).stdout.strip(), pub)

    def test_keygen_distinct_keys(self):
        _a, pa = self.keygen("a.pem")
        _b, pb = self.keygen("b.pem")
        self.assertNotEqual(pa, pb)

    def test_keygen_never_overwrites(self):
        path, _pub = self.keygen("k.pem")
        before = acutil.read_bytes(path)
        self.fails(2, "keygen", path)
        self.assertEqual(acutil.read_bytes(path), before)
        empty = self.write("empty.pem", b"")
        self.fails(2, "keygen", empty)
        self.assertEqual(acutil.read_bytes(empty), b"")

    def test_keygen_missing_directory(self):
        self.fails(2, "keygen", self.path("no", "such", "k.pem"))

    def test_pubkey_of_hex_pem_and_private(self):
        want = acutil.pub_hex("k1")
        self.assertEqual(self.ok("pubkey", acutil.key_path("k1")).stdout.strip(), want)
        self.assertEqual(self.ok("pubkey", os.path.join(acutil.KEYS, "k1.pub")).stdout.strip(), want)
        nl = self.write("k1nl.pub", want + "\n")
        self.assertEqual(self.ok("pubkey", nl).stdout.strip(), want)
        spki = self.write("k1.spki.pem", openssl("pkey", "-in", acutil.key_path("k1"), "-pubout"))
        self.assertEqual(self.ok("pubkey", spki).stdout.strip(), want)

    def test_openssl_generated_key_signs(self):
        key = self.write("o.pem", openssl("genpkey", "-algorithm", "ed25519"))
        os.chmod(key, 0o600)
        der = openssl("pkey", "-in", key, "-pubout", "-outform", "DER")
        self.assertEqual(self.ok("pubkey", key).stdout.strip(), der[-32:].hex())
        chain = self.path("c")
        self.ok("append", "-C", chain, "-k", key, "--hash", "ab" * 32)
        self.assertEqual(self.show(chain, 0)["signer_pubkey"], der[-32:].hex())

    def test_key_readable_by_others_warns(self):
        key, _pub = self.keygen("k.pem")
        os.chmod(key, 0o644)
        p = self.ok("append", "-C", self.path("c"), "-k", key, "--hash", "ab" * 32)
        self.assertTrue(p.stderr.strip(), "no warning for a key file readable by others")


class AppendTest(Base):
    def test_append_files_batch(self):
        key, _pub = self.keygen("k.pem")
        files = [self.write("a.txt", "alpha\n"), self.write("b.bin", bytes(range(256)) * 7),
                 self.write("empty", b"")]
        chain = self.path("c")
        p = self.ok("append", "-C", chain, "-k", key, "-t", "text/x-test", *files)
        out = self.appended(p)
        self.assertEqual([i for i, _h in out], [0, 1, 2])
        self.assertEqual([h for _i, h in out], self.body_hashes(chain))
        for (i, h), f in zip(out, files):
            rec = self.show(chain, i)
            self.assertEqual(rec["content_hash"], acutil.sha256_file(f))
            self.assertEqual(rec["content_type"], "text/x-test")
            self.assertEqual(rec["hash"], h)
            self.assertEqual(rec["chain_index"], i)
        # A second call continues the chain.
        out2 = self.appended(self.ok("append", "-C", chain, "-k", key, files[0]))
        self.assertEqual(out2[0][0], 3)
        self.assertEqual(self.show(chain, 3)["prev_hash"], out[2][1])
        self.verify(chain, want_exit=0)

    def test_default_content_type(self):
        key, _pub = self.keygen("k.pem")
        chain = self.path("c")
        self.ok("append", "-C", chain, "-k", key, self.write("f", "x"))
        ct = self.show(chain, 0)["content_type"]
        self.assertTrue(isinstance(ct, str) and 1 <= len(ct) <= 255, ct)

    def test_big_file_streamed(self):
        """A 50 MiB file: the right hash, and the tool's peak memory does not
        grow with the file (it is hashed in pieces, not read whole)."""
        key, _pub = self.keygen("k.pem")
        big = self.path("big")
        block = os.urandom(1 << 20)
        with open(big, "wb") as f:
            for i in range(50):
                f.write(bytes([i]) + block[1:])
        small = self.write("small", b"small")
        chain = self.path("c")
        rss_small = self.peak_rss("append", "-C", chain, "-k", key, small)
        rss_big = self.peak_rss("append", "-C", chain, "-k", key, big)
        self.assertEqual(self.show(chain, 1)["content_hash"], acutil.sha256_file(big))
        if rss_small is not None:
            # Reading or mapping the whole file would add its 50 MiB.
            self.assertLess(rss_big - rss_small, 25 * 1024,
                            f"peak RSS {rss_small} KiB for a small file, {rss_big} KiB for 50 MiB")

    def peak_rss(self, *args):
        """Runs the tool in a child of a fresh Python and returns the tool's
        peak resident size in KiB (None under AC_WRAP, which measures the wrapper)."""
        script = ("import resource, subprocess, sys\n"
                  "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
                  "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
        cmd = [sys.executable, "-c", script] + acutil.WRAP + [acutil.TOOL] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=acutil.tool_env(), timeout=acutil.TIMEOUT)
        rc, rss = p.stdout.decode().split()
        self.assertEqual(int(rc), 0, p.stderr.decode(errors="replace"))
        return None if acutil.WRAP else int(rss)

    def test_hash_options(self):
        key, _pub = self.keygen("k.pem")
        chain = self.path("c")
        hashes = ["00" * 32, "ff" * 32, "0123456789abcdef" * 4]
        out = self.appended(self.ok("append", "-C", chain, "-k", key,
                                    *sum((["--hash", h] for h in hashes), [])))
        self.assertEqual([i for i, _h in out], [0, 1, 2])
        self.assertEqual([self.show(chain, i)["content_hash"] for i in range(3)], hashes)

    def test_bad_hash_writes_nothing(self):
        chain, key, _out = self.chain_with(1)
        before = self.snapshot(chain)
        for bad in ["ab" * 31, "ab" * 33, "zz" * 32, "", "ab" * 31 + "a"]:
            self.fails(2, "append", "-C", chain, "-k", key, "--hash", "cd" * 32, "--hash", bad)
            self.assert_nothing_written(chain, before)

    def test_hash_list_file_and_stdin(self):
        key, _pub = self.keygen("k.pem")
        chain = self.path("c")
        first = [f"{i:064x}" for i in range(1, 4)]
        lst = self.write("list", "".join(h + "\n" for h in first))
        out = self.appended(self.ok("append", "-C", chain, "-k", key, "--hash-list", lst))
        self.assertEqual([i for i, _h in out], [0, 1, 2])
        second = [f"{i:064x}" for i in range(10, 15)]
        out = self.appended(self.ok("append", "-C", chain, "-k", key, "--hash-list", "-",
                                    input="\n".join(second) + "\n"))
        self.assertEqual([i for i, _h in out], [3, 4, 5, 6, 7])
        got = [self.show(chain, i)["content_hash"] for i in range(8)]
        self.assertEqual(got, first + second)

    def test_hash_list_bad_line_writes_nothing(self):
        chain, key, _out = self.chain_with(2)
        before = self.snapshot(chain)
        bad = "\n".join(["aa" * 32, "not a hash", "bb" * 32]) + "\n"
        self.fails(2, "append", "-C", chain, "-k", key, "--hash-list", self.write("bad", bad))
        self.assert_nothing_written(chain, before)
        self.fails(2, "append", "-C", chain, "-k", key, "--hash-list", "-", input=bad)
        self.assert_nothing_written(chain, before)
        self.fails(2, "append", "-C", chain, "-k", key, "--hash-list", self.path("missing"))
        self.assert_nothing_written(chain, before)

    def test_missing_input_file_writes_nothing(self):
        chain, key, _out = self.chain_with(1)
        before = self.snapshot(chain)
        good = self.write("good", "good")
        self.fails(2, "append", "-C", chain, "-k", key, good, self.path("missing"))
        self.assert_nothing_written(chain, before)
        self.fails(2, "append", "-C", chain, "-k", key, good, self.tmp)  # a directory
        self.assert_nothing_written(chain, before)

    def test_content_type_limits(self):
        chain, key, _out = self.chain_with(1)
        self.ok("append", "-C", chain, "-k", key, "-t", "a" * 255, "--hash", "ab" * 32)
        self.assertEqual(self.show(chain, 1)["content_type"], "a" * 255)
        before = self.snapshot(chain)
        self.fails(2, "append", "-C", chain, "-k", key, "-t", "a" * 256, "--hash", "ab" * 32)
        self.assert_nothing_written(chain, before)
        self.fails(2, "append", "-C", chain, "-k", key, "-t", "", "--hash", "ab" * 32)
        self.assert_nothing_written(chain, before)
        # A rotation is made by `rotate`, which checks the new key, never by hand.
        self.fails(2, "append", "-C", chain, "-k", key, "-t", ROTATION_TYPE, "--hash", "ab" * 32)
        self.assert_nothing_written(chain, before)


class MetadataTest(Base):
    TYPED = {
        "text": "h\u00e9llo \u2713",
        "int": 42, "neg": -7, "zero": 0,
        "max64": 9223372036854775807, "min64": -9223372036854775808,
        "big": {"$int": "18446744073709551615"},
        "bigneg": {"$int": "-18446744073709551616"},
        "bytes": {"$bytes": "00ff10"},
        "nobytes": {"$bytes": ""},
        "t": True, "f": False, "nul": None,
        "arr": [1, "two", [3], {"k": "v"}, [], {}],
        "map": {"nested": {"x": 1}, "b": {"$bytes": "01"}},
        "deep": nest_maps(14),
    }

    def test_typed_json_round_trip(self):
        key, _pub = self.keygen("k.pem")
        chain = self.path("c")
        self.ok("append", "-C", chain, "-k", key, "--meta-json", json.dumps(self.TYPED),
                "--hash", "ab" * 32)
        self.assertEqual(self.show(chain, 0)["metadata"], self.TYPED)
        # The same from a file, together with text values from -m.
        mf = self.write("meta.json", json.dumps({"n": 1, "l": [True]}))
        self.ok("append", "-C", chain, "-k", key, "-m", "note=a=b", "-m", "who=me",
                "--meta-json-file", mf, "--hash", "cd" * 32)
        self.assertEqual(self.show(chain, 1)["metadata"],
                         {"note": "a=b", "who": "me", "n": 1, "l": [True]})
        self.ok("append", "-C", chain, "-k", key, "--meta-json-file", "-", "--hash", "ef" * 32,
                input='{"stdin": {"$bytes": "0a"}}')
        self.assertEqual(self.show(chain, 2)["metadata"], {"stdin": {"$bytes": "0a"}})
        self.verify(chain, want_exit=0)

    def test_small_int_escape_normalized(self):
        """{"$int": "5"} is the integer 5, and comes back as a plain number."""
        key, _pub = self.keygen("k.pem")
        chain = self.path("c")
        self.ok("append", "-C", chain, "-k", key, "--meta-json", '{"v": {"$int": "5"}}',
                "--hash", "ab" * 32)
        self.assertEqual(self.show(chain, 0)["metadata"], {"v": 5})

    def test_text_metadata(self):
        key, _pub = self.keygen("k.pem")
        chain = self.path("c")
        self.ok("append", "-C", chain, "-k", key, "-m", "k=", "-m", "x=1", "--hash", "ab" * 32)
        self.assertEqual(self.show(chain, 0)["metadata"], {"k": "", "x": "1"})

    def test_bad_metadata_writes_nothing(self):
        chain, key, _out = self.chain_with(1)
        before = self.snapshot(chain)
        bad_json = [
            '{"x": 1.5}', '{"x": 1e3}', '{"x": [0.0]}',        # floats
            json.dumps({"deep": nest_maps(15)}),                # level 17
            json.dumps({"deep": nest_arrays(15)}),
            '[1, 2]', '"text"', '{"x": ', '',                   # not an object / not JSON
            '{"x": {"$bytes": "abc"}}', '{"x": {"$bytes": "zz"}}',
            '{"x": {"$int": "18446744073709551616"}}',
        ]
        for js in bad_json:
            with self.subTest(json=js):
                self.fails(2, "append", "-C", chain, "-k", key, "--meta-json", js,
                           "--hash", "ab" * 32)
                self.assert_nothing_written(chain, before)
        for args in (["-m", "novalue"], ["-m", "a=1", "--meta-json", '{"a": 2}'],
                     ["-m", "a=1", "-m", "a=2"], ["--meta-json-file", self.path("missing")]):
            with self.subTest(args=args):
                self.fails(2, "append", "-C", chain, "-k", key, *args, "--hash", "ab" * 32)
                self.assert_nothing_written(chain, before)

    def test_deepest_arrays_accepted(self):
        key, _pub = self.keygen("k.pem")
        chain = self.path("c")
        meta = {"a": nest_arrays(14)}
        self.ok("append", "-C", chain, "-k", key, "--meta-json", json.dumps(meta),
                "--hash", "ab" * 32)
        self.assertEqual(self.show(chain, 0)["metadata"], meta)


class AuthorityTest(Base):
    def test_unauthorized_key_refused(self):
        chain, _key, _out = self.chain_with(2)
        other, _pub = self.keygen("other.pem")
        before = self.snapshot(chain)
        self.fails(2, "append", "-C", chain, "-k", other, "--hash", "ab" * 32)
        self.assert_nothing_written(chain, before)
        self.fails(2, "rotate", "-C", chain, "-k", other, "--new-key", other)
        self.assert_nothing_written(chain, before)

    def test_rotate(self):
        chain, old, _out = self.chain_with(2)
        new, new_pub = self.keygen("new.pem")
        self.ok("rotate", "-C", chain, "-k", old, "--new-key", new)
        rec = self.show(chain, 2)
        self.assertEqual(rec["content_type"], ROTATION_TYPE)
        self.assertEqual(rec["metadata"], {"new_pubkey": new_pub})
        self.assertEqual(rec["content_hash"], digest(bytes.fromhex(new_pub)))
        st = self.json_of("status", "-C", chain, "--json")
        self.assertEqual(st["signer"], new_pub)
        before = self.snapshot(chain)
        self.fails(2, "append", "-C", chain, "-k", old, "--hash", "ab" * 32)
        self.assert_nothing_written(chain, before)
        out = self.appended(self.ok("append", "-C", chain, "-k", new, "--hash", "ab" * 32))
        self.assertEqual(out[0][0], 3)
        v = self.verify(chain, want_exit=0)
        self.assertEqual(v["records"], 4)

    def test_rotate_to_self_refused(self):
        chain, key, _out = self.chain_with(1)
        before = self.snapshot(chain)
        self.fails(2, "rotate", "-C", chain, "-k", key, "--new-key", key)
        self.assert_nothing_written(chain, before)

    def test_rotate_to_public_key_file(self):
        """The new key's public half is enough: a key kept offline can be rotated to."""
        chain, old, _out = self.chain_with(1)
        new, new_pub = self.keygen("new.pem")
        pubfile = self.write("new.pub", new_pub + "\n")
        self.ok("rotate", "-C", chain, "-k", old, "--new-key", pubfile)
        self.assertEqual(self.show(chain, 1)["metadata"], {"new_pubkey": new_pub})
        self.ok("append", "-C", chain, "-k", new, "--hash", "ab" * 32)
        self.verify(chain, want_exit=0)


def flip_signature_byte(body: bytes) -> bytes:
    """The record with one bit of its signature flipped."""
    marker = b"\x69signature\x58\x40"
    at = body.index(marker) + len(marker)
    return body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]


class VerifyTest(Base):
    def test_ranges(self):
        chain, _key, out = self.chain_with(5)
        v = self.verify(chain, want_exit=0)
        self.assertEqual((v["records"], v["index"], v["reason"], v["warnings"]), (5, None, None, []))
        self.assertEqual(v["head_hash"], out[-1][1])
        v = self.verify(chain, "--from", "1", "--to", "3", want_exit=0)
        self.assertEqual(v["records"], 3, v)
        v = self.verify(chain, "--from", "4", want_exit=0)
        self.assertEqual(v["records"], 1, v)
        v = self.verify(chain, "--to", "0", want_exit=0)
        self.assertEqual(v["records"], 1, v)
        self.fails(2, "verify", "-C", chain, "--from", "5")
        self.fails(2, "verify", "-C", chain, "--from", "3", "--to", "1")
        self.fails(2, "verify", "-C", chain, "--from", "-1")
        self.fails(2, "verify", "-C", chain, "--to", "x")

    def test_tampered_record_and_ranges(self):
        """A changed signature fails its record; a range starting after it still
        checks the link back to it; a range after that is valid."""
        chain, _key, _out = self.chain_with(5)
        fr, _tail = acutil.frames(self.bin(chain))
        off, body = fr[1]
        data = bytearray(acutil.read_bytes(self.bin(chain)))
        data[off + 4:off + 4 + len(body)] = flip_signature_byte(body)
        with open(self.bin(chain), "wb") as f:
            f.write(data)
        v = self.verify(chain, want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (1, "signature"), v)
        v = self.verify(chain, "--from", "2", want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (2, "link"), v)
        v = self.verify(chain, "--from", "3", want_exit=0)
        self.assertEqual(v["records"], 2, v)
        v = self.verify(chain, "--to", "0", want_exit=0)
        self.assertEqual(v["records"], 1, v)
        p = run("verify", "-C", chain)
        self.assertEqual(p.returncode, 1, describe(p))

    def test_plain_verify_output(self):
        chain, _key, _out = self.chain_with(2)
        p = self.ok("verify", "-C", chain)
        self.assertTrue(p.stdout.strip())
        p = self.ok("verify", "-C", chain, "-j", "1")
        self.fails(2, "verify", "-C", chain, "-j", "x")

    def test_empty_chain_verifies(self):
        """An empty chain.bin is a valid chain of 0 records; a directory
        without one is no chain at all (exit status 2, never "valid")."""
        chain = self.path("empty")
        os.mkdir(chain)
        p = run("verify", "-C", chain)
        self.assertEqual(p.returncode, 2, describe(p))
        self.assertIn("no chain.bin", p.stderr)
        open(self.bin(chain), "wb").close()
        v = self.verify(chain, want_exit=0)
        self.assertEqual((v["records"], v["chain_id"], v["head_hash"]), (0, None, None), v)


class ReadCommandsTest(Base):
    def test_status_json(self):
        chain, key, out = self.chain_with(3)
        fr, _tail = acutil.frames(self.bin(chain))
        st = self.json_of("status", "-C", chain, "--json")
        v = self.verify(chain, want_exit=0)
        pub = self.ok("pubkey", key).stdout.strip()
        self.assertEqual(st["chain_id"], v["chain_id"])
        self.assertRegex(st["chain_id"], HEX64)
        self.assertEqual(st["head_index"], 2)
        self.assertEqual(st["record_count"], 3)
        self.assertEqual(st["head_hash"], out[-1][1])
        self.assertEqual(st["head_hash"], digest(fr[-1][1]))
        self.assertEqual(st["chain_size"], os.path.getsize(self.bin(chain)))
        self.assertEqual(st["head_offset"], fr[-1][0])
        self.assertEqual(st["signer"], pub)
        first, last = self.show(chain, 0), self.show(chain, 2)
        self.assertEqual(st["created_at"], first["claimed_ts"])
        self.assertEqual(st["last_append_at"], last["claimed_ts"])
        self.assertTrue(self.ok("status", "-C", chain).stdout.strip())

    def test_status_empty_chain(self):
        chain = self.path("empty")
        os.mkdir(chain)
        st = self.json_of("status", "-C", chain, "--json")
        self.assertEqual((st["empty"], st["record_count"], st["head_index"], st["head_hash"]),
                         (True, 0, None, None), st)
        self.assertEqual(self.json_of("log", "-C", chain, "--json"), [])
        self.fails(2, "show", "-C", chain, "0")

    def test_log_json(self):
        chain, _key, out = self.chain_with(4)
        recs = self.json_of("log", "-C", chain, "--json")
        self.assertIsInstance(recs, list)
        self.assertEqual([(r["chain_index"], r["hash"]) for r in recs], out)
        part = self.json_of("log", "-C", chain, "--from", "1", "--to", "2", "--json")
        self.assertEqual([(r["chain_index"], r["hash"]) for r in part], out[1:3])
        tail = self.json_of("log", "-C", chain, "--from", "3", "--json")
        self.assertEqual([r["chain_index"] for r in tail], [3])
        text = self.ok("log", "-C", chain).stdout
        for _i, h in out:
            self.assertIn(h, text)
        self.fails(2, "log", "-C", chain, "--from", "9")

    def test_show_json(self):
        chain, key, out = self.chain_with(2)
        pub = self.ok("pubkey", key).stdout.strip()
        fr, _tail = acutil.frames(self.bin(chain))
        for i in range(2):
            r = self.show(chain, i)
            self.assertEqual(r["chain_index"], i)
            self.assertEqual(r["hash"], out[i][1])
            self.assertEqual(r["hash"], digest(fr[i][1]))
            self.assertEqual(r["prev_hash"], "00" * 32 if i == 0 else out[i - 1][1])
            self.assertEqual(r["content_hash"], f"{i:02x}" * 32)
            self.assertEqual(r["signer_pubkey"], pub)
            self.assertRegex(r["signature"], r"^[0-9a-f]{128}$")
            self.assertEqual(r["version"], 1)
            self.assertIsInstance(r["claimed_ts"], int)
            self.assertIsInstance(r["metadata"], dict)
            self.assertIsInstance(r["entropy_witnesses"], dict)
            self.assertEqual(r["entropy_witnesses"].get("chain_size"), fr[i][0])
            self.assertIn("record_id", r)
        self.assertTrue(self.ok("show", "-C", chain, "1").stdout.strip())
        self.fails(2, "show", "-C", chain, "2")
        self.fails(2, "show", "-C", chain, "abc")
        self.fails(2, "show", "-C", chain, "-1")


class UsageTest(Base):
    def test_help_everywhere(self):
        for args in (["--help"], ["-h"], ["help"]) + tuple([c, "--help"] for c in COMMANDS) \
                + tuple(["help", c] for c in COMMANDS):
            with self.subTest(args=args):
                p = self.ok(*args)
                self.assertIn("usage", p.stdout.lower())

    def test_bad_usage(self):
        chain, key, _out = self.chain_with(1)
        before = self.snapshot(chain)
        cases = [
            [], ["frobnicate"], ["--bogus"],
            ["keygen"], ["keygen", "a", "b"], ["pubkey"],
            ["append", "-k", key, "--hash", "ab" * 32],               # no -C
            ["append", "-C", chain, "--hash", "ab" * 32],             # no -k
            ["append", "-C", chain, "-k", key],                       # nothing to append
            ["append", "-C", chain, "-k", key, "--bogus", "--hash", "ab" * 32],
            ["append", "-C", chain, "-k", key, "--hash"],
            ["rotate", "-C", chain, "-k", key],                       # no --new-key
            ["verify"], ["verify", "-C", chain, "--bogus"], ["verify", "-C", chain, "extra"],
            ["status"], ["log", "-C", chain, "--to", "1x"],
            ["show", "-C", chain], ["show", "-C", chain, "0", "1"],
        ]
        for args in cases:
            with self.subTest(args=args):
                self.fails(2, *args)
                self.assert_nothing_written(chain, before)


class BadInputTest(Base):
    def bad_keys(self):
        """Files that are not Ed25519 private keys."""
        rsa = self.write("rsa.pem", openssl("genpkey", "-algorithm", "RSA",
                                            "-pkeyopt", "rsa_keygen_bits:2048"))
        ec = self.write("ec.pem", openssl("genpkey", "-algorithm", "EC",
                                          "-pkeyopt", "ec_paramgen_curve:P-256"))
        good = acutil.read_bytes(acutil.key_path("k1"))
        trunc = self.write("trunc.pem", good[:len(good) // 2])
        nobody = self.write("nobody.pem", good.replace(b"-----END PRIVATE KEY-----", b""))
        empty = self.write("empty.pem", b"")
        garbage = self.write("garbage.pem", os.urandom(64))
        adir = self.path("keydir")
        os.mkdir(adir)
        for p in (rsa, ec, trunc, nobody, empty, garbage):
            os.chmod(p, 0o600)
        return [rsa, ec, trunc, nobody, empty, garbage, adir, self.path("missing.pem")]

    def test_bad_key_files(self):
        chain, _key, _out = self.chain_with(1)
        before = self.snapshot(chain)
        fresh = self.path("fresh")
        good, _pub = self.keygen("good.pem")
        for bad in self.bad_keys():
            with self.subTest(key=os.path.basename(bad)):
                self.fails(2, "append", "-C", chain, "-k", bad, "--hash", "ab" * 32)
                self.assert_nothing_written(chain, before)
                self.fails(2, "append", "-C", fresh, "-k", bad, "--hash", "ab" * 32)
                self.assert_nothing_written(fresh, None)
                self.fails(2, "rotate", "-C", chain, "-k", bad, "--new-key", good)
                self.fails(2, "pubkey", bad)
                self.assert_nothing_written(chain, before)

    def test_missing_chain_dir(self):
        key, _pub = self.keygen("k.pem")
        missing = self.path("missing")
        for args in (["verify", "-C", missing], ["status", "-C", missing],
                     ["log", "-C", missing], ["show", "-C", missing, "0"]):
            with self.subTest(args=args):
                self.fails(2, *args)
        deep = self.path("no", "parent")
        self.fails(2, "append", "-C", deep, "-k", key, "--hash", "ab" * 32)
        self.assertFalse(os.path.exists(self.path("no")))
        self.fails(2, "append", "-C", self.write("plainfile", "x"), "-k", key, "--hash", "ab" * 32)

    def test_unwritable_chain_dir(self):
        chain, key, _out = self.chain_with(2)
        before = self.snapshot(chain)
        args = ["append", "-C", chain, "-k", key, "--hash", "ab" * 32]
        if os.geteuid() != 0:
            os.chmod(chain, 0o500)
            p = run(*args)
        else:
            # root ignores modes: make the directory read-only with a bind
            # mount in a private mount namespace that ends with the command.
            if not shutil.which("unshare"):
                self.skipTest("running as root without unshare(1)")
            probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
            if probe.returncode != 0:
                self.skipTest("running as root and cannot make a mount namespace")
            script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
            p = run(*args, prefix=["unshare", "-m", "--propagation", "private",
                                   "sh", "-c", script, "sh", chain])
        self.assertEqual(p.returncode, 2, describe(p))
        self.assertEqual(len(p.stderr.splitlines()), 1, describe(p))
        os.chmod(chain, 0o700)
        self.assert_nothing_written(chain, before)
        self.verify(chain, want_exit=0)

    def test_chain_bin_is_a_directory(self):
        key, _pub = self.keygen("k.pem")
        chain = self.path("c")
        os.makedirs(os.path.join(chain, "chain.bin"))
        self.fails(2, "append", "-C", chain, "-k", key, "--hash", "ab" * 32)
        self.assertTrue(os.path.isdir(os.path.join(chain, "chain.bin")))
        self.assertEqual(os.listdir(os.path.join(chain, "chain.bin")), [])
        self.fails(2, "verify", "-C", chain)
        self.fails(2, "status", "-C", chain)

    def test_chain_bin_is_a_symlink(self):
        real, key, _out = self.chain_with(2, name="real")
        before = self.snapshot(real)
        chain = self.path("c")
        os.mkdir(chain)
        os.symlink(self.bin(real), self.bin(chain))
        self.fails(2, "append", "-C", chain, "-k", key, "--hash", "ab" * 32)
        self.assert_nothing_written(real, before)
        self.assertTrue(os.path.islink(self.bin(chain)))
        self.fails(2, "verify", "-C", chain)


class TornTailTest(Base):
    def torn(self, garbage: bytes):
        chain, key, out = self.chain_with(3)
        size = os.path.getsize(self.bin(chain))
        with open(self.bin(chain), "ab") as f:
            f.write(garbage)
        torn_bytes = acutil.read_bytes(self.bin(chain))

        v = self.verify(chain, want_exit=0)
        self.assertEqual(v["records"], 3, v)
        self.assertEqual(v["head_hash"], out[-1][1], v)
        torn = [w for w in v["warnings"] if w["code"] == "torn_tail"]
        self.assertEqual(len(torn), 1, v)
        self.assertIsNone(torn[0]["index"], v)
        self.assertEqual(torn[0]["offset"], size, v)
        self.assertEqual(acutil.read_bytes(self.bin(chain)), torn_bytes, "verify cut the tail")

        new = self.appended(self.ok("append", "-C", chain, "-k", key, "--hash", "ee" * 32))
        self.assertEqual(new[0][0], 3)
        fr, tail = acutil.frames(self.bin(chain))
        self.assertEqual(tail, b"")
        self.assertEqual(len(fr), 4)
        self.assertEqual(fr[3][0], size, "the new record does not start where the tail was cut")
        self.assertEqual(acutil.read_bytes(self.bin(chain))[:size], torn_bytes[:size])
        kept = [n for n in os.listdir(chain) if n.startswith("chain.bin.torn-")]
        self.assertEqual(len(kept), 1, os.listdir(chain))
        self.assertEqual(acutil.read_bytes(os.path.join(chain, kept[0])), garbage)
        v = self.verify(chain, want_exit=0)
        self.assertEqual((v["records"], v["warnings"]), (4, []), v)

    def test_torn_body(self):
        self.torn(struct.pack(">I", 300) + b"partial record body, never finished")

    def test_torn_prefix(self):
        self.torn(b"\x00\x01")

    def test_complete_garbage_frame_is_corruption(self):
        """A complete frame that does not decode is never cut: verify fails and
        an append refuses, leaving chain.bin as it was."""
        chain, key, _out = self.chain_with(3)
        with open(self.bin(chain), "ab") as f:
            f.write(struct.pack(">I", 5) + b"junk!")
        before = self.snapshot(chain)
        v = self.verify(chain, want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (3, "decode"), v)
        p = run("append", "-C", chain, "-k", key, "--hash", "ee" * 32)
        self.assertIn(p.returncode, (1, 2), describe(p))
        self.assert_nothing_written(chain, before)
        self.assertFalse([n for n in os.listdir(chain) if n.startswith("chain.bin.torn-")])


if __name__ == "__main__":
    acutil.require_tool()
    acutil.main("t_tool")
