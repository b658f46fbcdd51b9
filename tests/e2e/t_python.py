"""The Python package `attestchain` (python/): its API, the Pythonic extras,
bad input, the [fix] behaviours, threads and processes.

The comparison with the original store, call by call, is t_python_diff.py.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
import unittest

import acpython
import acutil

acpython.setup()

import attestchain  # noqa: E402
from attestchain import (ChainAppendError, ChainError, ChainIntegrityError,  # noqa: E402
                         ChainStore, Key)
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402

EVERY_KIND = {
    "int": 7, "neg": -7, "zero": 0, "i64max": 2**63 - 1, "i64min": -2**63,
    "u64max": 2**64 - 1, "n64min": -2**64, "above_i64": 2**63,
    "text": "Kyiv — Київ", "empty_text": "", "bytes": b"\x00\xffab", "empty_bytes": b"",
    "true": True, "false": False, "none": None,
    "list": [1, "two", b"3", [4, [5]], {"six": 6}], "empty_list": [], "empty_map": {},
    "map": {"b": 1, "a": {"nested": [True, None]}},
    "$bytes": "a literal key", "escape_like": {"$int": "not an int"},
    "escape_map": {"$map": {"$bytes": b"x"}},
}


def h(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest()


class Case(acutil.ToolCase):
    def setUp(self):
        super().setUp()
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.pub = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)
        self.stores = []

    def tearDown(self):
        for s in self.stores:  # before the directory goes
            s.close()
        super().tearDown()

    def store(self, name: str = "chain", **kw) -> ChainStore:
        s = ChainStore(self.path(name), **kw)
        self.stores.append(s)
        return s

    def filled(self, n: int, name: str = "chain") -> ChainStore:
        s = self.store(name)
        s.append_batch([(h(i), "text/plain", {"i": i}) for i in range(n)], self.key)
        return s


class Api(Case):
    def test_empty(self):
        s = self.store("a/b/chain")  # parents are made, as the original does
        self.assertTrue(s.is_empty())
        self.assertIsNone(s.state())
        self.assertIsNone(s.head())
        self.assertEqual(len(s), 0)
        self.assertEqual(list(s.iter_records()), [])
        with self.assertRaises(ChainError) as cm:  # no chain.bin: no chain
            s.verify_chain()
        self.assertIn("chain.bin", str(cm.exception))
        with self.assertRaises(ChainError):
            s.get(0)
        self.assertEqual(os.stat(self.path("a/b/chain")).st_mode & 0o777, 0o700)

    def test_append_get_types(self):
        s = self.store()
        r = s.append(h(0), "image/jpeg", self.key, EVERY_KIND)
        self.assertEqual((r.version, r.chain_index, r.prev_hash), (1, 0, bytes(32)))
        self.assertEqual((r.content_hash, r.content_type, r.signer_pubkey),
                         (h(0), "image/jpeg", self.pub))
        self.assertEqual(r.metadata, EVERY_KIND)
        for name in EVERY_KIND:  # exact types: True is not 1, b"" is not ""
            self.assertIs(type(r.metadata[name]), type(EVERY_KIND[name]), name)
        self.assertIs(type(r.metadata["list"][2]), bytes)
        self.assertEqual((len(r.record_id), len(r.signature)), (16, 64))
        self.assertEqual(r.record_id[6] >> 4, 7)  # a UUIDv7
        self.assertEqual(set(r.entropy_witnesses), {"boot_id", "uptime_us", "chain_size"})
        self.assertIsInstance(r.claimed_ts, int)
        self.assertAlmostEqual(r.claimed_ts / 1e6, time.time(), delta=600)
        s.close()
        again = self.store()
        self.assertEqual(again.get(0), r)
        self.assertEqual(again.head(), r)
        st = again.state()
        self.assertEqual((st.head_index, st.record_count, st.head_hash, st.signer),
                         (0, 1, r.record_hash, self.pub))
        self.assertEqual(st.created_at, r.claimed_ts)

    def test_state_is_never_stale(self):
        """Another store's append shows at once (the original caches its
        state per object until it appends itself)."""
        a, b = self.filled(1), self.store()
        self.assertEqual(b.state().record_count, 1)
        a.append(h(1), "a/b", self.key, {"nul in a value": "a\0b"})
        self.assertEqual((b.state().record_count, len(b)), (2, 2))
        self.assertEqual(b.head().metadata, {"nul in a value": "a\0b"})

    def test_key_forms(self):
        """cryptography keys, attestchain Keys and key file paths sign alike."""
        s = self.store()
        pem = self.key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        key_file = self.write("k.pem", pem)
        os.chmod(key_file, 0o600)
        k = Key.load(key_file)
        self.assertEqual(k.public_key, self.pub)
        self.assertEqual(Key.from_cryptography(self.key).public_key, self.pub)
        for i, form in enumerate([self.key, key_file, os.fsencode(key_file), k,
                                  attestchain.load_key(key_file)]):
            self.assertEqual(s.append(h(i), "a/b", form).signer_pubkey, self.pub)
        from pathlib import Path
        s.append(h(9), "a/b", Path(key_file))
        fresh = Key.generate()
        fresh.save(self.path("fresh.pem"))
        self.assertEqual(os.stat(self.path("fresh.pem")).st_mode & 0o777, 0o600)
        self.assertEqual(Key.load(self.path("fresh.pem")).public_key, fresh.public_key)
        with self.assertRaises(FileExistsError):
            fresh.save(self.path("fresh.pem"))
        self.assertTrue(s.verify_chain())

    def test_key_file_from_the_tool(self):
        acutil.require_tool()
        s = self.store()
        self.ok("keygen", self.path("me.pem"))
        r = s.append(h(1), "a/b", self.path("me.pem"))
        self.assertEqual(r.signer_pubkey, Key.load(self.path("me.pem")).public_key)
        s.close()
        v = self.verify(self.path("chain"))
        self.assertTrue(v["valid"])

    def test_rotation(self):
        s = self.filled(2)
        k2 = ed25519.Ed25519PrivateKey.generate()
        pub2 = k2.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        r = s.append_key_rotation(self.key, k2)
        self.assertEqual(r.content_type, attestchain.CONTENT_TYPE_KEY_ROTATION)
        self.assertEqual(r.metadata, {"new_pubkey": pub2.hex()})
        self.assertEqual(r.content_hash, hashlib.sha256(pub2).digest())
        self.assertEqual(s.state().signer, pub2)
        with self.assertRaises(ChainAppendError) as cm:
            s.append(h(5), "a/b", self.key)  # retired
        self.assertEqual(cm.exception.index, 3)
        self.assertEqual(s.append(h(5), "a/b", k2).chain_index, 3)
        k3 = Key.generate()
        s.append_key_rotation(k2, k3.public_key)  # the new key as its public bytes
        self.assertEqual(s.append(h(6), "a/b", k3).chain_index, 5)
        self.assertTrue(s.verify_chain())

    def test_iter_ranges(self):
        s = self.filled(10)
        idx = lambda it: [r.chain_index for r in it]  # noqa: E731
        self.assertEqual(idx(s.iter_records()), list(range(10)))
        self.assertEqual(idx(s.iter_records(3)), list(range(3, 10)))
        self.assertEqual(idx(s.iter_records(3, 5)), [3, 4, 5])
        self.assertEqual(idx(s.iter_records(5, 5)), [5])
        self.assertEqual(idx(s.iter_records(6, 5)), [])
        self.assertEqual(idx(s.iter_records(9, 100)), [9])
        self.assertEqual(idx(s.iter_records(10)), [])
        self.assertEqual(idx(s.iter_records(-3, 1)), [0, 1])  # as the original
        self.assertEqual(idx(s.iter_records(0, -1)), [])
        self.assertEqual(idx(s.iter_records(2**70)), [])

    def test_verify_ranges(self):
        s = self.filled(10)
        for start, end in [(0, None), (3, None), (3, 5), (9, 9), (9, 100), (10, None),
                           (50, None), (6, 5)]:
            self.assertIs(s.verify_chain(start, end), True, (start, end))
        rep = s.verify(3, 5)
        self.assertEqual((rep.valid, rep.records, rep.index, rep.reason), (True, 3, None, None))
        self.assertIsNone(rep.chain_id)
        full = s.verify()
        self.assertEqual(full.records, 10)
        self.assertEqual(full.chain_id, s.state().chain_id)
        self.assertEqual(full.head_hash, s.state().head_hash)
        with self.assertRaises(ValueError):
            s.verify(-1)


class Extras(Case):
    def test_context_manager_and_closed(self):
        with ChainStore(self.path("chain")) as s:
            s.append(h(0), "a/b", self.key)
        self.assertTrue(s.closed)
        self.assertTrue(os.path.exists(self.path("chain", "state.cbor")))
        calls = [lambda: s.append(h(1), "a/b", self.key), s.state, s.is_empty, s.head,
                 lambda: s.get(0), lambda: list(s.iter_records()), s.verify_chain, s.verify,
                 lambda: len(s), lambda: s[0], lambda: s.append_key_rotation(self.key, self.key)]
        for call in calls:
            with self.assertRaises(ValueError):
                call()
        s.close()  # twice is fine
        with self.assertRaises(ValueError):
            with s:
                pass
        self.assertIn("closed", repr(s))

    def test_iterator_outlives_close(self):
        s = self.filled(3)
        it = iter(s)
        self.assertEqual(next(it).chain_index, 0)
        s.close()
        with self.assertRaises(ValueError):
            next(it)

    def test_append_while_iterating(self):
        """Appends through the same store between the steps of an iteration
        disturb neither; the iteration goes on into the new records, as the
        original's did."""
        s = self.filled(70)  # more than the first chunk
        seen = []
        for r in s.iter_records():
            seen.append(r.chain_index)
            if r.chain_index in (3, 65):
                s.append(h(1000 + r.chain_index), "a/b", self.key)
        self.assertEqual(seen, list(range(72)))
        self.assertTrue(s.verify_chain())

    def test_len_iter_index(self):
        s = self.filled(5)
        self.assertEqual(len(s), 5)
        self.assertEqual([r.chain_index for r in s], [0, 1, 2, 3, 4])
        self.assertEqual(s[2].chain_index, 2)
        self.assertEqual(s[-1].chain_index, 4)
        self.assertEqual(s[-5].chain_index, 0)
        for bad in (5, -6, 2**70):
            with self.assertRaises(IndexError):
                s[bad]
        with self.assertRaises(TypeError):
            s["1"]
        self.assertEqual([r.chain_index for r in s[1:3]], [1, 2])
        self.assertEqual([r.chain_index for r in s[::2]], [0, 2, 4])
        self.assertEqual([r.chain_index for r in s[::-2]], [4, 2, 0])
        self.assertEqual(s[3:1], [])
        self.assertEqual(s[-2:][0].chain_index, 3)

    def test_batch_all_or_none(self):
        s = self.filled(2)
        out = s.append_batch([(h(10), "a/b"), (h(11), "c/d", {"x": b"y"}), [h(12), "e/f", None]],
                             self.key)
        self.assertEqual([r.chain_index for r in out], [2, 3, 4])
        self.assertEqual(out[1].metadata, {"x": b"y"})
        self.assertEqual(out[2].prev_hash, out[1].record_hash)
        self.assertEqual(s.append_batch([], self.key), [])
        before = os.path.getsize(self.path("chain", "chain.bin"))
        for bad in ([(h(1), "a/b"), (h(2), "")], [(h(1), "a/b"), (h(2), "c", {"f": 1.5})],
                    [(h(1), "a/b"), (h(2)[:31], "c")], [(h(1),)], ["ab"]):
            with self.assertRaises((ValueError, TypeError)):
                s.append_batch(bad, self.key)
        self.assertEqual(os.path.getsize(self.path("chain", "chain.bin")), before)
        self.assertEqual(len(s), 5)

    def test_verify_report_without_raising(self):
        s = self.filled(6)
        s.close()
        data = bytearray(acutil.read_bytes(self.path("chain", "chain.bin")))
        off, body = acutil.frames(self.path("chain", "chain.bin"))[0][4]
        data[off + 4 + len(body) - 1] ^= 1  # the last signature byte of record 4
        with open(self.path("chain", "chain.bin"), "wb") as f:
            f.write(bytes(data))
        s = self.store()
        rep = s.verify()
        self.assertFalse(rep)
        self.assertEqual((rep.valid, rep.index, rep.reason, rep.records), (False, 4, "signature", 4))
        self.assertTrue(rep.detail)
        self.assertTrue(s.verify(0, 3))
        with self.assertRaises(ChainIntegrityError) as cm:
            s.verify_chain()
        e = cm.exception
        self.assertEqual((e.index, e.reason, e.report), (4, "signature", rep))
        self.assertIn("Record 4", str(e))

    def test_torn_tail_warning(self):
        s = self.filled(3)
        s.close()
        with open(self.path("chain", "chain.bin"), "ab") as f:
            f.write(b"\x00\x00\x01\x00partial")
        s = self.store()
        rep = s.verify()
        self.assertTrue(rep.valid)
        self.assertEqual([w.code for w in rep.warnings], ["torn_tail"])
        self.assertEqual((rep.warnings[0].index, rep.warnings[0].bytes), (None, 11))
        self.assertEqual(rep.warnings_total, 1)

    def test_sha256_file(self):
        p = self.write("content", b"x" * 100000)
        self.assertEqual(attestchain.sha256_file(p), hashlib.sha256(b"x" * 100000).digest())
        with self.assertRaises(OSError):
            attestchain.sha256_file(self.path("missing"))

    def test_compat_module_paths(self):
        from attestchain.compat.soosef.exceptions import ChainError as E
        from attestchain.compat.soosef.federation import chain, models
        self.assertIs(chain.ChainStore, ChainStore)
        self.assertIs(E, ChainError)
        self.assertIs(models.ChainState, attestchain.ChainState)
        self.assertEqual(chain.CONTENT_TYPE_KEY_ROTATION, "soosef/key-rotation-v1")
        self.assertEqual(chain.MAX_RECORD_SIZE, 1048576)
        # One line makes the original's own imports the package's.
        code = ("import attestchain.compat.as_soosef\n"
                "from soosef.federation.chain import ChainStore\n"
                "from soosef.exceptions import ChainIntegrityError\n"
                "import attestchain\n"
                "assert ChainStore is attestchain.ChainStore\n"
                "assert ChainIntegrityError is attestchain.ChainIntegrityError\n"
                "print('ok')\n")
        p = subprocess.run([sys.executable, "-c", code], env=acpython.child_env(),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.stdout, "ok\n", p.stderr)


class BadInput(Case):
    """Each bad call raises the original's exception type, or TypeError /
    ValueError where the original had none, and changes nothing."""

    def check_unchanged(self, s: ChainStore, n: int) -> None:
        self.assertEqual(len(s), n)
        self.assertTrue(s.verify_chain())

    def test_append_arguments(self):
        s = self.filled(1)
        ec_key = ec.generate_private_key(ec.SECP256R1())
        cases = [
            (TypeError, (h(1).hex(), "a/b", self.key)),           # a str hash
            (TypeError, (None, "a/b", self.key)),
            (ValueError, (h(1)[:31], "a/b", self.key)),           # 31 bytes
            (ValueError, (h(1) + b"\0", "a/b", self.key)),
            (TypeError, (h(1), b"a/b", self.key)),                # bytes content type
            (TypeError, (h(1), None, self.key)),
            (ValueError, (h(1), "", self.key)),                   # empty content type
            (ValueError, (h(1), "x" * 256, self.key)),
            (ValueError, (h(1), "a\0b", self.key)),
            (TypeError, (h(1), "a/b", self.key, {"f": 1.0})),     # a float
            (TypeError, (h(1), "a/b", self.key, {"l": [1, 2.5]})),
            (TypeError, (h(1), "a/b", self.key, {1: "int key"})),
            (TypeError, (h(1), "a/b", self.key, {"s": {1, 2}})),
            (TypeError, (h(1), "a/b", self.key, ["not", "a", "map"])),
            (ValueError, (h(1), "a/b", self.key, {"big": 2**64})),
            (ValueError, (h(1), "a/b", self.key, {"small": -2**64 - 1})),
            (ValueError, (h(1), "a/b", self.key, {"nul\0key": 1})),
            (ValueError, (h(1), "a/b", self.key, {"k": "\ud800"})),  # not UTF-8
            (ValueError, (h(1), "a/b", ec_key)),                # not Ed25519
            (TypeError, (h(1), "a/b", self.key.public_key())),
            (TypeError, (h(1), "a/b", 42)),
            (TypeError, (h(1), "a/b", None)),
            (FileNotFoundError, (h(1), "a/b", self.path("no-such-key.pem"))),
        ]
        deep = {}
        inner = deep
        for _ in range(20):
            inner["d"] = {}
            inner = inner["d"]
        cases.append((ValueError, (h(1), "a/b", self.key, deep)))
        cyclic: dict = {}
        cyclic["self"] = cyclic
        cases.append((ValueError, (h(1), "a/b", self.key, cyclic)))
        ec_file = self.write("ec.pem", ec_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        cases.append((ValueError, (h(1), "a/b", ec_file)))
        cases.append((ValueError, (h(1), "a/b", self.write("empty.pem", b""))))
        for want, args in cases:
            with self.subTest(args=repr(args)[:80]):
                with self.assertRaises(want):
                    s.append(*args)
        self.check_unchanged(s, 1)

    def test_nesting_limit_is_the_formats(self):
        s = self.store()
        ok: dict = {}
        inner = ok
        for _ in range(14):  # the record is level 1, metadata 2: 14 more maps = level 16
            inner["d"] = {}
            inner = inner["d"]
        self.assertEqual(s.append(h(0), "a/b", self.key, ok).metadata, ok)
        inner["d"] = {}
        with self.assertRaises(ValueError):
            s.append(h(1), "a/b", self.key, ok)
        self.check_unchanged(s, 1)

    def test_other_methods(self):
        s = self.filled(2)
        with self.assertRaises(ChainError):
            s.get(2)
        with self.assertRaises(ChainError):
            s.get(-1)
        with self.assertRaises(ChainError):
            s.get(2**70)
        with self.assertRaises(TypeError):
            s.get("0")
        with self.assertRaises(TypeError):
            s.iter_records("0")
        with self.assertRaises(TypeError):
            s.verify_chain(0, "9")
        with self.assertRaises(FileNotFoundError):  # a str is a key file's path
            s.append_key_rotation(self.key, "not a key")
        with self.assertRaises(TypeError):
            s.append_key_rotation(self.key, 42)
        with self.assertRaises(ValueError):  # a rotation to its own key [fix]
            s.append_key_rotation(self.key, self.key)
        with self.assertRaises(TypeError):
            ChainStore(42)
        self.write("file", b"x")
        with self.assertRaises((ChainError, OSError, ValueError)):
            ChainStore(self.path("file"))
        self.check_unchanged(s, 2)

    def test_not_the_authorized_key(self):
        s = self.filled(1)
        with self.assertRaises(ChainAppendError) as cm:
            s.append(h(1), "a/b", ed25519.Ed25519PrivateKey.generate())
        self.assertIsInstance(cm.exception, ChainError)
        self.assertEqual(cm.exception.index, 1)
        self.check_unchanged(s, 1)

    def test_read_only(self):
        self.filled(1).close()
        s = self.store(readonly=True)
        self.assertEqual(len(s), 1)
        with self.assertRaises(ValueError):
            s.append(h(1), "a/b", self.key)
        with self.assertRaises(ChainError):
            ChainStore(self.path("missing"), readonly=True)


BLOCKED_FLOCK = "FLOCK"


def blocked_flock_waiters(pid: int) -> int:
    """Lock requests of process `pid` waiting in /proc/locks ("->" lines)."""
    with open("/proc/locks") as f:
        return sum(1 for line in f if "->" in line and BLOCKED_FLOCK in line
                   and f" {pid} " in line)


class Concurrency(Case):
    def test_threads_share_one_store(self):
        s = self.filled(1)
        errors = []

        def writer(t: int) -> None:
            try:
                for i in range(25):
                    s.append(h(1000 * t + i), "a/b", self.key, {"t": t, "i": i})
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        def reader() -> None:
            try:
                for _ in range(10):
                    self.assertTrue(s.verify().valid)
                    list(s.iter_records())
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        threads.append(threading.Thread(target=reader))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        recs = list(s.iter_records())
        self.assertEqual([r.chain_index for r in recs], list(range(101)))
        self.assertEqual({r.content_hash for r in recs[1:]},
                         {h(1000 * t + i) for t in range(4) for i in range(25)})
        self.assertTrue(s.verify_chain())

    def test_gil_released_while_waiting_for_the_lock(self):
        """While one thread waits in the library for flock (held by another
        process), this thread runs Python: it sees the waiter in /proc/locks,
        then lets the other process go.  Were the GIL held during the call,
        this thread could not run until the append returned, which it cannot
        before the holder lets go by itself (after 60 s): then the waiter
        would never be seen."""
        s = self.filled(1)
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import fcntl, sys, select\n"
             "f = open(sys.argv[1], 'rb')\n"
             "fcntl.flock(f, fcntl.LOCK_EX)\n"
             "print('locked', flush=True)\n"
             "select.select([sys.stdin], [], [], 60)\n",
             self.path("chain", "chain.bin")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        self.assertEqual(holder.stdout.readline(), "locked\n")
        done = []
        t = threading.Thread(target=lambda: done.append(s.append(h(1), "a/b", self.key)))
        t.start()
        seen = False
        deadline = time.monotonic() + 120  # a guard against a hang, not a measurement
        while time.monotonic() < deadline and t.is_alive():
            if blocked_flock_waiters(os.getpid()):
                seen = True
                break
        self.assertTrue(seen, "the appending thread held the GIL while it waited for flock")
        self.assertEqual(done, [])
        holder.stdin.write("go\n")
        holder.stdin.flush()
        t.join()
        self.assertEqual(done[0].chain_index, 1)

    def test_processes_append_to_one_chain(self):
        self.filled(1).close()
        code = ("import sys, hashlib\n"
                "from attestchain import ChainStore, Key\n"
                "s = ChainStore(sys.argv[1]); k = Key.load(sys.argv[2]); p = int(sys.argv[3])\n"
                "for i in range(25):\n"
                "    s.append(hashlib.sha256(str(1000 * p + i).encode()).digest(), 'a/b', k)\n"
                "s.close()\n")
        key_file = self.path("k.pem")
        Key.from_cryptography(self.key).save(key_file)
        procs = [subprocess.Popen([sys.executable, "-c", code, self.path("chain"), key_file,
                                   str(p)], env=acpython.child_env(), stderr=subprocess.PIPE,
                                  text=True) for p in range(4)]
        for p in procs:
            _out, err = p.communicate(timeout=600)
            self.assertEqual(p.returncode, 0, err)
        s = self.store()
        recs = list(s)
        self.assertEqual([r.chain_index for r in recs], list(range(101)))
        self.assertEqual({r.content_hash for r in recs[1:]},
                         {h(1000 * p + i) for p in range(4) for i in range(25)})
        self.assertTrue(s.verify_chain())


class Fork(Case):
    def test_store_used_in_forked_children(self):
        """A store opened before fork() and used in the children: each child
        opens the chain for itself (a shared handle would share its flock,
        and the children's appends would fork the chain); the parent's
        handle goes on working."""
        s = self.filled(1)
        pids = []
        for p in range(4):
            pid = os.fork()
            if pid == 0:  # the child: report by exit status only
                code = 1
                try:
                    for i in range(25):
                        s.append(h(1000 * p + i), "a/b", self.key)
                    s.close()
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        for pid in pids:
            _pid, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(s.append(h(9999), "a/b", self.key).chain_index, 101)
        recs = list(s)
        self.assertEqual([r.chain_index for r in recs], list(range(102)))
        self.assertTrue(s.verify_chain())
        s.close()
        self.assertTrue(self.store().verify_chain())


class Typing(unittest.TestCase):
    def test_annotations_and_stubs_check_strictly(self):
        """The package's annotations and the extension's stubs agree with the
        code, under mypy --strict, as a user's type checker reads them."""
        import tempfile
        with tempfile.TemporaryDirectory(prefix="ac-mypy-") as cache:
            p = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache,
                                "--ignore-missing-imports", "-p", "attestchain"],
                               cwd=acpython.PACKAGE, env=acpython.child_env(),
                               capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


class Install(unittest.TestCase):
    def test_pip_install_offline(self):
        """`pip install ./python` with Debian's pip and setuptools, no index
        (from a copy, so that pip's in-tree build leaves the work tree alone)."""
        import shutil
        import tempfile
        with tempfile.TemporaryDirectory(prefix="ac-pip-") as tmp:
            src = os.path.join(tmp, "src")
            shutil.copytree(os.path.join(acutil.REPO, "python"), os.path.join(src, "python"),
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            shutil.copytree(os.path.join(acutil.REPO, "include"), os.path.join(src, "include"))
            target = os.path.join(tmp, "site")
            env = acpython.child_env()
            env.pop("PYTHONPATH")
            env["AC_LIB_BUILD"] = acpython.BUILD
            env["AC_SAN"] = "1" if acpython.SAN else "0"
            p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index",
                                "--no-cache-dir", "--target", target, "./python"],
                               cwd=src, env=env, capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            env["PYTHONPATH"] = target
            p = subprocess.run([sys.executable, "-c",
                                "import attestchain; print(attestchain.__file__)"],
                               cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.startswith(target), p.stdout)


if __name__ == "__main__":
    acutil.main("t_python")
