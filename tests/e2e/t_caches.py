#!/usr/bin/env python3
"""One reader of the chain, and caches that never change an answer (issue
"One reader of the chain"; docs/format.md sections 6-8).

Each fault found in 1.0 is a case here: a refusal that lasted one try, a
loss reported as valid, forged caches (frames hidden in a record's metadata)
that made show, log and status lie, appends onto damaged chains, tampered
records printed by show and log, and the smaller ones.  Then a matrix: every
read command, with caches present, damaged, swapped in from another chain or
an older copy, or deleted, gives the same output as with no caches at all, or
fails with an error; never a different answer.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import describe, run  # noqa: E402

READS = [("status", "--json"), ("log", "--json"), ("show", "2", "--json"),
         ("verify", "--json"), ("status",), ("log",), ("show", "0"), ("verify",)]


def flip_signature_byte(body: bytes) -> bytes:
    marker = b"\x69signature\x58\x40"
    at = body.index(marker) + len(marker)
    return body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]


class Base(acutil.ToolCase):
    def keygen(self, name):
        path = self.path(name)
        pub = self.ok("keygen", path).stdout.strip()
        return path, pub

    def make(self, n, name="chain", key=None, meta=None):
        chain = self.path(name)
        if key is None:
            key, _ = self.keygen(name + ".key")
        for i in range(n):
            args = ["--hash", f"{i:02x}" * 32]
            if meta and i in meta:
                args += ["--meta-json", meta[i]]
            self.ok("append", "-C", chain, "-k", key, *args)
        return chain, key

    def bin(self, chain):
        return os.path.join(chain, "chain.bin")

    def state(self, chain):
        return os.path.join(chain, "state.cbor")

    def outputs(self, chain):
        """Every read command's exit status and output, in order."""
        res = []
        for cmd in READS:
            p = run(cmd[0], "-C", chain, *cmd[1:])
            res.append((cmd, p.returncode, p.stdout))
        return res

    def without_caches(self, chain, name):
        """The outputs on a copy holding chain.bin alone."""
        bare = self.path(name)
        os.makedirs(bare)
        shutil.copy(self.bin(chain), self.bin(bare))
        return [(c, rc, out.replace(bare, chain)) for c, rc, out in self.outputs(bare)]


class Loss(Base):
    def test_refusal_lasts_and_recover(self):
        """An old chain.bin behind a state.cbor that says more was committed:
        every append is refused, every time; failed commands leave state.cbor
        as they found it; verify says truncated, status LOST; only recover
        --accept-loss lowers it, keeping the old one beside the new."""
        chain, key = self.make(3)
        old = acutil.read_bytes(self.bin(chain))
        self.ok("append", "-C", chain, "-k", key, "--hash", "aa" * 32, "--hash", "bb" * 32)
        state5 = acutil.read_bytes(self.state(chain))
        with open(self.bin(chain), "wb") as f:
            f.write(old)
        other, _ = self.keygen("other.key")
        for args in (["-k", key, "--hash", "cc" * 32], ["-k", key, "--hash", "dd" * 32],
                     ["-k", other, "--hash", "ee" * 32], ["-k", key, "-t", "", "--hash", "ff" * 32]):
            p = self.fails(2, "append", "-C", chain, *args)
            self.assertEqual(acutil.read_bytes(self.bin(chain)), old, describe(p))
            self.assertEqual(acutil.read_bytes(self.state(chain)), state5, describe(p))
        self.fails(2, "rotate", "-C", chain, "-k", key, "--new-key", other)
        self.assertEqual(acutil.read_bytes(self.state(chain)), state5)
        for cmd in READS:  # readers never lower it either
            run(cmd[0], "-C", chain, *cmd[1:])
        self.assertEqual(acutil.read_bytes(self.state(chain)), state5)
        v = self.verify(chain, want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (3, "truncated"), v)
        p = run("status", "-C", chain)
        self.assertEqual(p.returncode, 1, describe(p))
        self.assertIn("LOST", p.stdout)
        st = json.loads(run("status", "-C", chain, "--json").stdout)
        self.assertEqual(st["lost"]["committed_records"], 5, st)
        self.fails(2, "recover", "-C", chain)  # not without --accept-loss
        r = json.loads(self.ok("recover", "-C", chain, "--accept-loss", "--json").stdout)
        self.assertTrue(r["lost"], r)
        kept = os.path.join(chain, r["kept_as"])
        self.assertEqual(acutil.read_bytes(kept), state5)
        self.verify(chain, want_exit=0)
        p = self.ok("append", "-C", chain, "-k", key, "--hash", "cc" * 32)
        self.assertTrue(p.stdout.startswith("3 "), describe(p))
        r = json.loads(self.ok("recover", "-C", chain, "--accept-loss", "--json").stdout)
        self.assertFalse(r["lost"], r)

    def test_loss_is_never_valid(self):
        chain, _key = self.make(5)
        data = acutil.read_bytes(self.bin(chain))
        fr, _ = acutil.frames(self.bin(chain))
        # The last record cut off.
        with open(self.bin(chain), "wb") as f:
            f.write(data[:fr[-1][0]])
        v = self.verify(chain, want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (4, "truncated"), v)
        # Emptied.
        open(self.bin(chain), "wb").close()
        v = self.verify(chain, want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (0, "truncated"), v)
        # Deleted: no chain at all.
        os.unlink(self.bin(chain))
        p = self.fails(2, "verify", "-C", chain)
        self.assertIn("no chain.bin", p.stderr)
        os.makedirs(self.path("nothing"))
        self.fails(2, "verify", "-C", self.path("nothing"))


class Forged(Base):
    def hidden_chain(self):
        """A chain whose record 2 carries, in its metadata, the frame of a
        record 2 of another chain (another key, another content hash): bytes
        the writer was asked to sign."""
        decoy, _ = self.make(3, name="decoy")
        dfr, _ = acutil.frames(self.bin(decoy))
        body = dfr[2][1]
        hidden = struct.pack(">I", len(body)) + body
        meta = {2: json.dumps({"x": {"$bytes": hidden.hex()}})}
        chain, key = self.make(4, meta=meta)
        data = acutil.read_bytes(self.bin(chain))
        at = data.index(hidden)
        return chain, key, at, body

    def test_forged_index(self):
        chain, _key, at, _body = self.hidden_chain()
        truth = self.without_caches(chain, "bare")
        self.ok("show", "-C", chain, "2")  # builds index.bin
        idx = os.path.join(chain, "index.bin")
        data = bytearray(acutil.read_bytes(idx))
        struct.pack_into("<Q", data, 16 + 8 * 2, at)  # record 2 -> the hidden frame
        with open(idx, "wb") as f:
            f.write(data)
        self.assertEqual(self.outputs(chain), truth)

    def test_forged_state(self):
        """A state.cbor naming the hidden frame as head and the attacker's
        key as signer: not believed; the owner appends, the attacker cannot."""
        chain, key, at, _body = self.hidden_chain()
        truth = self.without_caches(chain, "bare")
        import cbor2
        st = cbor2.loads(acutil.read_bytes(self.state(chain)))
        evil, evil_pub = self.keygen("evil.key")
        st["head_offset"] = at
        st["signer"] = bytes.fromhex(evil_pub)
        with open(self.state(chain), "wb") as f:
            f.write(cbor2.dumps(st, canonical=True))
        self.assertEqual(self.outputs(chain), truth)
        self.fails(2, "append", "-C", chain, "-k", evil, "--hash", "ab" * 32)
        self.ok("append", "-C", chain, "-k", key, "--hash", "ab" * 32)
        self.verify(chain, want_exit=0)


class Damaged(Base):
    def damage(self, chain, how):
        fr, _ = acutil.frames(self.bin(chain))
        off, body = fr[2]
        data = bytearray(acutil.read_bytes(self.bin(chain)))
        if how == "decode":
            data[off + 4] = 0xA0  # a map of 0: not a record
        elif how == "signature":
            data[off + 4:off + 4 + len(body)] = flip_signature_byte(body)
        elif how == "link":
            marker = b"\x69prev_hash\x58\x20"
            p = off + 4 + body.index(marker) + len(marker)
            data[p] ^= 1
        elif how == "prefix":
            data[off:off + 4] = b"\0\0\0\0"
        with open(self.bin(chain), "wb") as f:
            f.write(data)

    def test_no_append_onto_damage(self):
        for how, index in (("decode", 2), ("signature", 3), ("link", 2), ("prefix", 2)):
            for caches in (True, False):
                with self.subTest(how=how, caches=caches):
                    chain, key = self.make(5, name=f"{how}-{caches}")
                    self.ok("status", "-C", chain)
                    self.damage(chain, how)
                    if not caches:
                        for n in ("state.cbor", "index.bin"):
                            if os.path.exists(os.path.join(chain, n)):
                                os.unlink(os.path.join(chain, n))
                    before = acutil.read_bytes(self.bin(chain))
                    p = self.fails(2, "append", "-C", chain, "-k", key, "--hash", "ab" * 32)
                    self.assertIn(f"record {index}", p.stderr)
                    self.assertEqual(acutil.read_bytes(self.bin(chain)), before)
                    self.verify(chain, want_exit=1)

    def test_show_and_log_flag_tampering(self):
        chain, _key = self.make(4)
        self.ok("log", "-C", chain)
        self.damage(chain, "signature")
        p = self.fails(1, "show", "-C", chain, "2")
        self.assertIn("record 2", p.stderr)
        self.assertEqual(p.stdout, "")
        p = self.fails(1, "log", "-C", chain)
        self.assertIn("record 2", p.stderr)
        # One JSON document: the records before the damage, then the error.
        listed = json.loads(self.fails(1, "log", "-C", chain, "--json").stdout)
        self.assertEqual([r["chain_index"] for r in listed[:-1]], [0, 1])
        self.assertIn("record 2", listed[-1]["error"]["message"])
        self.ok("show", "-C", chain, "0")


class Smaller(Base):
    def test_small_faults(self):
        key, _ = self.keygen("k.key")
        chain = self.path("c")
        p = self.fails(2, "append", "-C", chain, "-k", key, "-t", "", "--hash", "00" * 32)
        self.assertFalse(os.path.exists(self.bin(chain)), "a failed first append left chain.bin")
        chain, key = self.make(2, name="t")
        with open(self.bin(chain), "ab") as f:
            f.write(b"\0\0\1")
        other, _ = self.keygen("o.key")
        size = os.path.getsize(self.bin(chain))
        self.fails(2, "append", "-C", chain, "-k", other, "--hash", "00" * 32)
        self.assertEqual(os.path.getsize(self.bin(chain)), size, "wrong key cut the torn tail")
        os.symlink("/nonexistent", os.path.join(chain, "state.cbor.tmp"))
        p = self.ok("append", "-C", chain, "-k", key, "--hash", "00" * 32)
        self.assertEqual(p.stderr, "", describe(p))
        self.verify(chain, want_exit=0)

    def test_zero_and_garbage_tails_append(self):
        """What a power cut leaves after the last frame is a torn tail: the
        next append saves it beside the chain, cuts it, and goes on."""
        for tail in (b"\0" * 512, b"\x00\x10\x00\x01" + os.urandom(60)):
            chain, key = self.make(3, name=f"tail{len(tail)}")
            with open(self.bin(chain), "ab") as f:
                f.write(tail)
            v = self.verify(chain, want_exit=0)
            self.assertEqual([w["code"] for w in v["warnings"]], ["torn_tail"], v)
            self.ok("append", "-C", chain, "-k", key, "--hash", "00" * 32)
            self.assertEqual(self.verify(chain, want_exit=0)["records"], 4)
            saved = [n for n in os.listdir(chain) if n.startswith("chain.bin.torn-")]
            self.assertEqual(len(saved), 1)


class Pins(Base):
    def test_pinned_verification(self):
        """verify --key, --chain-id, --head: what a user knows from earlier
        catches another chain, another genesis signer, and a rollback."""
        chain, key = self.make(4)
        v = self.verify(chain, want_exit=0)
        head = v["head_hash"]
        pub = self.ok("pubkey", key).stdout.strip()
        self.verify(chain, "--key", pub, "--chain-id", v["chain_id"], "--head", head,
                    want_exit=0)
        self.verify(chain, "--key", key, want_exit=0)  # a key file works too
        other, other_pub = self.keygen("o.key")
        v2 = self.verify(chain, "--key", other_pub, want_exit=1)
        self.assertEqual((v2["index"], v2["reason"]), (0, "pinned_key"), v2)
        v2 = self.verify(chain, "--chain-id", "00" * 32, want_exit=1)
        self.assertEqual(v2["reason"], "pinned_chain_id", v2)
        # Rolled back to 3 records (caches gone with it): the head seen is missing.
        fr, _ = acutil.frames(self.bin(chain))
        data = acutil.read_bytes(self.bin(chain))
        shutil.rmtree(chain)
        os.makedirs(chain)
        with open(self.bin(chain), "wb") as f:
            f.write(data[:fr[3][0]])
        self.verify(chain, want_exit=0)
        v2 = self.verify(chain, "--head", head, want_exit=1)
        self.assertEqual((v2["index"], v2["reason"]), (3, "pinned_head"), v2)
        self.fails(2, "verify", "-C", chain, "--head", "xyz")
        # The human summary names what a reader should write down.
        p = self.ok("verify", "-C", chain)
        for word in ("chain id:", "head:", "signer:", "span:"):
            self.assertIn(word, p.stdout)


class Matrix(Base):
    def test_caches_never_change_an_answer(self):
        """Every read command, with caches present, damaged at random,
        swapped in from another chain or an older copy, or deleted: the same
        output as with chain.bin alone, or an error (exit 2)."""
        seed = int(os.environ.get("AC_SEED", "0")) or random.randrange(1 << 30)
        print(f"seed {seed}")
        rng = random.Random(seed)
        key, _ = self.keygen("k.key")
        k2, _ = self.keygen("k2.key")
        chain, _ = self.make(4, key=key)
        self.ok("log", "-C", chain)
        older = {n: acutil.read_bytes(os.path.join(chain, n)) for n in ("state.cbor", "index.bin")}
        self.ok("rotate", "-C", chain, "-k", key, "--new-key", k2)
        for i in range(3):
            self.ok("append", "-C", chain, "-k", k2, "--hash", f"{i + 10:02x}" * 32)
        self.ok("log", "-C", chain)
        other, _ = self.make(9, name="other")
        self.ok("log", "-C", other)
        truth = self.without_caches(chain, "bare")
        good = {n: acutil.read_bytes(os.path.join(chain, n)) for n in ("state.cbor", "index.bin")}
        variants = []
        for n in good:
            variants.append((n, "deleted", None))
            variants.append((n, "older", older[n]))
            variants.append((n, "other chain", acutil.read_bytes(os.path.join(other, n))))
            for _ in range(6):
                b = bytearray(good[n])
                for _ in range(rng.randrange(1, 4)):
                    b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                variants.append((n, "damaged", bytes(b)))
        cases = 0
        for n, what, content in variants:
            d = self.path(f"m{cases}")
            shutil.copytree(chain, d)
            for m, c in good.items():
                with open(os.path.join(d, m), "wb") as f:
                    f.write(c)
            if content is None:
                os.unlink(os.path.join(d, n))
            else:
                with open(os.path.join(d, n), "wb") as f:
                    f.write(content)
            for (cmd, rc, out), (_c, rc0, out0) in zip(
                    [(c, r, o.replace(d, chain)) for c, r, o in self.outputs(d)], truth):
                if rc == 2:
                    continue  # an error is allowed; a different answer is not
                self.assertEqual((rc, out), (rc0, out0), f"{n} {what}: {cmd}")
            cases += 1
        print(f"caches: variants={cases} commands={cases * len(READS)} seed={seed}")


if __name__ == "__main__":
    acutil.main("t_caches")
