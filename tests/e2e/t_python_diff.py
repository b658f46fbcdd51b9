"""The package against the original store (../shared/seed), call by call.

One scripted sequence of calls (appends with metadata of every kind,
rotations, get, iteration and verification over ranges, reopening the stores
at every step) runs against the original ChainStore, writing chain S, and
against attestchain.ChainStore, writing chain P.  After each step:
- what the two appends returned agrees in every field that does not depend on
  the clock, the random record id or the signature over them, and every field
  has the same Python type (as cbor2 gives it);
- each chain is read by both stores (state, is_empty, head, get, iterating
  and verifying ranges), and the answers are equal field by field.
So chains written by either are read and verified by the other; at the end
each appends to the other's chain.  Then damaged chains, where both must
reject alike, and the [fix] points of docs/format.md, where the test asserts the
format's behaviour and names the difference.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import sys
from pathlib import Path

import acpython
import acutil

acpython.setup()

if not os.path.isfile(os.path.join(acutil.SEED, "soosef", "federation", "chain.py")):
    acutil.skip_file(f"the original store is not in {acutil.SEED}")
try:
    import cbor2  # noqa: F401  (the original store needs it)
except ImportError:
    acutil.skip_file("python3-cbor2 is not installed (scripts/deps.sh installs it)")
sys.path.insert(0, acutil.SEED)

import attestchain  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from soosef import exceptions as seed_exc  # noqa: E402
from soosef.federation.chain import ChainStore as SeedStore  # noqa: E402

EVERY_KIND = {
    "int": 7, "neg": -7, "zero": 0, "i64max": 2**63 - 1, "i64min": -2**63,
    "u64max": 2**64 - 1, "n64min": -2**64, "text": "Kyiv — Київ", "empty_text": "",
    "bytes": b"\x00\xffab", "empty_bytes": b"", "true": True, "false": False, "none": None,
    "list": [1, "two", b"3", [4, [5]], {"six": 6}], "empty_list": [], "empty_map": {},
    "map": {"b": 1, "a": {"nested": [True, None]}}, "$bytes": "a literal key",
    "escape_like": {"$int": "not an int"},
}
# Fields that the clock, the random record id and the signature over them decide.
UNFIXED = {"record_id", "claimed_ts", "signature", "entropy_witnesses", "prev_hash"}


def pub(k: Ed25519PrivateKey) -> bytes:
    return k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def h(i: int) -> bytes:
    return hashlib.sha256(b"content %d" % i).digest()


def same_types(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_types(x, y) for x, y in zip(a, b))
    return True


class Differential(acutil.ToolCase):
    def setUp(self):
        super().setUp()
        self.k1, self.k2, self.k3, self.evil = (Ed25519PrivateKey.generate() for _ in range(4))
        self.S, self.P = self.path("seed-chain"), self.path("pkg-chain")

    # ------------------------------------------------------------ comparing

    def assert_same_record(self, a, b, where: str, fields=None) -> None:
        """Field by field: equal value, same Python type (nested too)."""
        names = [f.name for f in dataclasses.fields(a)]
        self.assertEqual(names, [f.name for f in dataclasses.fields(b)], where)
        for name in fields or names:
            x, y = getattr(a, name), getattr(b, name)
            self.assertTrue(same_types(x, y), f"{where}: {name}: {type(x)} vs {type(y)}")
            self.assertEqual(x, y, f"{where}: {name}")

    def assert_same_records(self, xs, ys, where: str) -> None:
        self.assertEqual(len(xs), len(ys), where)
        for a, b in zip(xs, ys):
            self.assert_same_record(a, b, f"{where}: record {a.chain_index}")

    def outcome(self, call):
        """('ok', value) or ('raise', the exception's class name)."""
        try:
            return ("ok", call())
        except Exception as e:  # noqa: BLE001
            return ("raise", type(e).__name__)

    def both(self, chain: str):
        """A fresh store of each kind on `chain`: every step reopens."""
        pkg = attestchain.ChainStore(chain)
        self.addCleanup(pkg.close)
        return SeedStore(Path(chain)), pkg

    def read_check(self, chain: str, where: str) -> int:
        """Both stores read `chain`; every answer equal.  Returns its length."""
        seed, pkg = self.both(chain)
        self.assertEqual(seed.is_empty(), pkg.is_empty(), where)
        ss, ps = seed.state(), pkg.state()
        self.assertEqual(ss is None, ps is None, where)
        if ss is None:
            return 0
        for f in dataclasses.fields(ss):  # the original's six fields
            self.assertEqual(getattr(ss, f.name), getattr(ps, f.name), f"{where}: state {f.name}")
        n = ps.record_count
        self.assert_same_record(seed.head(), pkg.head(), f"{where}: head")
        for i in range(n):
            self.assert_same_record(seed.get(i), pkg.get(i), f"{where}: get({i})")
        for bad in (n, n + 5):
            self.assertEqual(self.outcome(lambda: seed.get(bad)),
                             self.outcome(lambda: pkg.get(bad)), f"{where}: get({bad})")
        ranges = [(0, None), (1, None), (2, 3), (n - 1, None), (n, None), (0, 0), (3, 1),
                  (max(n - 2, 0), n + 10)]
        for start, end in ranges:
            self.assert_same_records(list(seed.iter_records(start, end)),
                                     list(pkg.iter_records(start, end)),
                                     f"{where}: iter_records({start}, {end})")
            self.assertEqual(self.outcome(lambda: seed.verify_chain(start, end)),
                             self.outcome(lambda: pkg.verify_chain(start, end)),
                             f"{where}: verify_chain({start}, {end})")
        self.assertIs(pkg.verify_chain(), True, where)
        pkg.close()
        return n

    # ------------------------------------------------------------ the script

    def script(self):
        """(what it does, method, args): the same calls for both stores."""
        return [
            ("genesis, no metadata", "append", (h(0), "text/plain", self.k1)),
            ("metadata of every kind", "append", (h(1), "image/jpeg", self.k1, EVERY_KIND)),
            ("empty metadata", "append", (h(2), "application/octet-stream", self.k1, {})),
            ("rotation k1 -> k2", "append_key_rotation", (self.k1, self.k2)),
            ("signed by the new key", "append", (h(3), "a/b", self.k2, {"n": [2**64 - 1]})),
            ("nested maps", "append", (h(4), "a/b", self.k2, {"a": {"b": {"c": {"d": b""}}}})),
            ("rotation k2 -> k3", "append_key_rotation", (self.k2, self.k3)),
            ("after two rotations", "append", (h(5), "text/plain", self.k3, {"last": True})),
        ]

    def run_script(self) -> int:
        n = 0
        for what, method, args in self.script():
            seed, pkg = SeedStore(Path(self.S)), attestchain.ChainStore(self.P)
            a, b = getattr(seed, method)(*args), getattr(pkg, method)(*args)
            pkg.close()
            fixed = [f.name for f in dataclasses.fields(a) if f.name not in UNFIXED]
            self.assert_same_record(a, b, what, fields=fixed)
            for name in UNFIXED:  # same types, and the same witness keys
                self.assertTrue(same_types(getattr(a, name), getattr(b, name)), f"{what}: {name}")
            self.assertEqual((a.chain_index, b.chain_index), (n, n), what)
            n += 1
            self.assertEqual(self.read_check(self.S, f"{what} (chain by the original)"), n)
            self.assertEqual(self.read_check(self.P, f"{what} (chain by the package)"), n)
        return n

    def copy(self, src: str, name: str) -> str:
        dst = self.path(name)
        shutil.copytree(src, dst)
        return dst

    # ------------------------------------------------------------ tests

    def test_script_and_cross_appends(self):
        n = self.run_script()
        # Each appends to the other's chain; both read and verify the result.
        seed_on_p, pkg_on_s = self.copy(self.P, "p-then-seed"), self.copy(self.S, "s-then-pkg")
        SeedStore(Path(seed_on_p)).append(h(100), "x/y", self.k3, {"by": "original"})
        with attestchain.ChainStore(pkg_on_s) as s:
            s.append(h(101), "x/y", self.k3, {"by": "package"})
        for chain in (seed_on_p, pkg_on_s):
            self.assertEqual(self.read_check(chain, f"cross append {chain}"), n + 1)

    def damaged(self, name: str, change) -> str:
        """A copy of the package's chain with chain.bin changed by `change`
        (list of frame bodies -> bytes), and without the caches."""
        chain = self.copy(self.P, name)
        bodies = [body for _off, body in acutil.frames(os.path.join(chain, "chain.bin"))[0]]
        for f in os.listdir(chain):
            os.remove(os.path.join(chain, f))
        with open(os.path.join(chain, "chain.bin"), "wb") as f:
            f.write(change(bodies))
        return chain

    @staticmethod
    def framed(bodies) -> bytes:
        return b"".join(len(b).to_bytes(4, "big") + b for b in bodies)

    def test_damaged_chains(self):
        """Both reject alike (ChainIntegrityError); the package also names the
        record and the reason."""
        self.run_script()

        def flip(i, pos):
            def change(bodies):
                b = bytearray(bodies[i])
                b[pos] ^= 1
                return self.framed(bodies[:i] + [bytes(b)] + bodies[i + 1:])
            return change

        cases = [
            ("signature byte", flip(2, -1), 2, "signature"),
            ("content hash byte", flip(1, 60), 1, "signature"),
            ("a record dropped", lambda b: self.framed(b[:3] + b[4:]), 3, "index"),
            ("two records swapped", lambda b: self.framed(b[:1] + [b[2], b[1]] + b[3:]), 1,
             "index"),
        ]
        for what, change, index, reason in cases:
            chain = self.damaged(what.replace(" ", "-"), change)
            seed, pkg = self.both(chain)
            with self.assertRaises(seed_exc.ChainIntegrityError, msg=what):
                seed.verify_chain()
            with self.assertRaises(attestchain.ChainIntegrityError, msg=what) as cm:
                pkg.verify_chain()
            self.assertEqual((cm.exception.index, cm.exception.reason), (index, reason), what)
            rep = pkg.verify()
            self.assertEqual((rep.valid, rep.index, rep.reason), (False, index, reason), what)

        # A record that is not the format's CBOR: the original raises its
        # ChainError from decoding; the package a ChainIntegrityError (a
        # ChainError too) with reason "decode".
        chain = self.damaged("not-cbor", lambda b: self.framed(b[:1] + [b"\xac" + b[1][1:]] + b[2:]))
        seed, pkg = self.both(chain)
        # Reading stops at the damage, loudly; the original reads the whole
        # file before its first record, the package hands over those before.
        for store, error, before in ((seed, seed_exc.ChainError, []),
                                     (pkg, attestchain.ChainError, [0])):
            seen = []
            with self.assertRaises(error):
                for r in store.iter_records():
                    seen.append(r.chain_index)
            self.assertEqual(seen, before, type(store))
        with self.assertRaises(seed_exc.ChainError):
            seed.verify_chain()
        with self.assertRaises(attestchain.ChainIntegrityError) as cm:
            pkg.verify_chain()
        self.assertIsInstance(cm.exception, attestchain.ChainError)
        self.assertEqual((cm.exception.index, cm.exception.reason), (1, "decode"))

    def test_bad_input_same_exception_type(self):
        """Where the original raised on bad input, the package raises the same
        type (and, unlike the original, writes nothing: its strict input
        checks are listed in python/README.md)."""
        from cryptography.hazmat.primitives.asymmetric import ec
        self.run_script()
        ec_key = ec.generate_private_key(ec.SECP256R1())
        seed, pkg = self.both(self.copy(self.S, "bad-input"))
        for call in (lambda st: st.append(h(700), "x/y", ec_key),
                     lambda st: st.append_key_rotation(ec_key, self.k3),
                     lambda st: st.get(10**6)):
            self.assertEqual(self.outcome(lambda: call(seed)), self.outcome(lambda: call(pkg)))

    def test_fix_torn_tail(self):
        """[fix] docs/format.md section 10, torn tail: the original appends after the bytes a
        crash left, which breaks every later read; the package cuts them
        (keeping them in a file beside chain.bin) and appends after the last
        complete frame."""
        n = self.run_script()
        torn = b"\x00\x00\x01\x00partial"  # a frame prefix and part of its body
        seed_chain, pkg_chain = self.copy(self.P, "torn-seed"), self.copy(self.P, "torn-pkg")
        for chain in (seed_chain, pkg_chain):
            with open(os.path.join(chain, "chain.bin"), "ab") as f:
                f.write(torn)
            seed, pkg = self.both(chain)
            self.assertIs(seed.verify_chain(), True)  # both read past a torn tail
            rep = pkg.verify()
            self.assertTrue(rep.valid)
            self.assertEqual([w.code for w in rep.warnings], ["torn_tail"])
            pkg.close()
        SeedStore(Path(seed_chain)).append(h(200), "x/y", self.k3)
        seed = SeedStore(Path(seed_chain))
        read = self.outcome(lambda: [r.content_hash for r in seed.iter_records()][-1])
        self.assertNotEqual(read, ("ok", h(200)),
                            "the original's own append after a torn tail was expected to be "
                            "unreadable")
        with attestchain.ChainStore(pkg_chain) as pkg:
            self.assertEqual(pkg.append(h(200), "x/y", self.k3).chain_index, n)
        self.assertTrue(any(f.startswith("chain.bin.torn") for f in os.listdir(pkg_chain)),
                        os.listdir(pkg_chain))
        seed, pkg = self.both(pkg_chain)
        self.assertEqual([r.content_hash for r in seed.iter_records()][-1], h(200))
        self.assertIs(seed.verify_chain(), True)
        self.assertIs(pkg.verify_chain(), True)

    def test_fix_stale_state_fork(self):
        """[fix] docs/format.md section 7, state.cbor is a cache: after a crash between the
        log's fsync and the state's rename, the original derives the next
        index from the stale state and forks the chain; the package checks
        the state against chain.bin and appends at the right index."""
        n = self.run_script()
        seed_chain = self.copy(self.S, "fork-seed")
        stale = acutil.read_bytes(os.path.join(seed_chain, "state.cbor"))
        SeedStore(Path(seed_chain)).append(h(300), "x/y", self.k3)
        with open(os.path.join(seed_chain, "state.cbor"), "wb") as f:
            f.write(stale)  # the crash window: chain.bin has n + 1, the state says n
        pkg_chain = self.copy(seed_chain, "fork-pkg")
        forked = SeedStore(Path(seed_chain)).append(h(301), "x/y", self.k3)
        self.assertEqual(forked.chain_index, n, "the original reuses index n")
        with self.assertRaises(seed_exc.ChainIntegrityError):
            SeedStore(Path(seed_chain)).verify_chain()
        with attestchain.ChainStore(pkg_chain) as pkg:
            self.assertEqual(pkg.append(h(301), "x/y", self.k3).chain_index, n + 1)
            self.assertIs(pkg.verify_chain(), True)
        self.assertIs(SeedStore(Path(pkg_chain)).verify_chain(), True)

    def test_fix_rotation_to_own_key(self):
        """[fix] docs/format.md section 4.3: the original lets a chain rotate to the key that
        signs the rotation, which empties its authorized set, so that anyone
        may sign next; the package refuses such a rotation (ValueError) and
        reports one found in a chain as reason "rotation"."""
        n = self.run_script()
        seed_chain = self.copy(self.S, "self-rotation")
        seed = SeedStore(Path(seed_chain))
        seed.append_key_rotation(self.k3, self.k3)
        seed.append(h(400), "x/y", self.evil)  # anyone
        self.assertIs(SeedStore(Path(seed_chain)).verify_chain(), True)
        with attestchain.ChainStore(seed_chain) as pkg:
            rep = pkg.verify()
            self.assertEqual((rep.valid, rep.index, rep.reason), (False, n, "rotation"))
        with attestchain.ChainStore(self.copy(self.P, "self-rotation-pkg")) as pkg:
            with self.assertRaises(ValueError):
                pkg.append_key_rotation(self.k3, self.k3)
            self.assertEqual(len(pkg), n)

    def test_fix_range_verification(self):
        """[fix] docs/format.md section 11: verifying a range that starts after 0 takes the
        authorized key from the history before it; the original trusts
        whoever signed the range's first record.  And section 9: the package
        refuses to append with a key that is not authorized (the original
        writes a record that can never verify)."""
        n = self.run_script()
        seed_chain = self.copy(self.S, "intruder")
        SeedStore(Path(seed_chain)).append(h(500), "x/y", self.evil)
        seed = SeedStore(Path(seed_chain))
        with self.assertRaises(seed_exc.ChainIntegrityError):
            seed.verify_chain()
        self.assertIs(seed.verify_chain(n), True, "the original trusts the range's first signer")
        with attestchain.ChainStore(seed_chain) as pkg:
            with self.assertRaises(attestchain.ChainIntegrityError) as cm:
                pkg.verify_chain(n)
            self.assertEqual((cm.exception.index, cm.exception.reason), (n, "unauthorized"))
        with attestchain.ChainStore(self.copy(self.P, "intruder-pkg")) as pkg:
            with self.assertRaises(attestchain.ChainAppendError):
                pkg.append(h(500), "x/y", self.evil)
            self.assertEqual(len(pkg), n)

    def test_fix_state_extension_keys(self):
        """[fix] docs/format.md section 7: the state carries chain_size, head_offset and signer
        (the original's state.cbor has none of them)."""
        n = self.run_script()
        only_seed = self.path("only-seed")
        SeedStore(Path(only_seed)).append(h(600), "x/y", self.k1)
        seed_state = cbor2.loads(acutil.read_bytes(os.path.join(only_seed, "state.cbor")))
        self.assertFalse({"chain_size", "head_offset", "signer"} & set(seed_state))
        with attestchain.ChainStore(only_seed) as pkg:
            self.assertEqual(pkg.state().signer, pub(self.k1))
        for chain in (self.S, self.P):
            with attestchain.ChainStore(chain) as pkg:
                st = pkg.state()
                frames, tail = acutil.frames(os.path.join(chain, "chain.bin"))
                self.assertEqual((st.chain_size, st.head_offset, st.signer, tail),
                                 (os.path.getsize(os.path.join(chain, "chain.bin")),
                                  frames[-1][0], pub(self.k3), b""))
                self.assertEqual(st.record_count, n)
        written = cbor2.loads(acutil.read_bytes(os.path.join(self.P, "state.cbor")))
        self.assertEqual(written["signer"], pub(self.k3))


if __name__ == "__main__":
    acutil.main("t_python_diff")
