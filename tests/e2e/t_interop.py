"""Interoperability with the Python reference store (../shared/seed).

(a) chains the tool writes pass the Python store's verify_chain, and the
    Python store reads the same head and state;
(b) chains the Python store writes (its state.cbor lacks the extension keys)
    verify in the tool, take further appends without a duplicate index, and
    the Python store verifies and appends after the tool;
(c) the Python store's fork window (log fsynced, state.cbor still at the
    previous head) does not make the tool fork, nor does the same window
    left by the tool itself;
(d) the record hashes the tool prints are SHA-256 of the frame bodies as the
    Python store parses them.

Skips (exit 77) only when the seed store or python3-cbor2 /
python3-cryptography are missing.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import ToolCase  # noqa: E402

if not os.path.isfile(os.path.join(acutil.SEED, "soosef", "federation", "chain.py")):
    acutil.skip_file(f"the Python reference store is missing ({acutil.SEED})")
try:
    import cbor2  # noqa: F401
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (Encoding, PublicFormat,
                                                              load_pem_private_key)
except ImportError as e:
    acutil.skip_file(f"python3-cbor2 or python3-cryptography is missing ({e})")

sys.path.insert(0, acutil.SEED)
from soosef.federation.chain import ChainStore  # noqa: E402
from soosef.federation.serialization import (canonical_bytes, compute_record_hash,  # noqa: E402
                                             deserialize_record)

# Metadata of every kind the format allows, as JSON for the tool and as the
# values cbor2 decodes them to.
META_JSON = {
    "text": "caf\u00e9 \u2713", "int": 7, "neg": -3, "zero": 0,
    "max64": 9223372036854775807, "min64": -9223372036854775808,
    "u64": {"$int": "18446744073709551615"}, "n64": {"$int": "-18446744073709551616"},
    "bytes": {"$bytes": "deadbeef"}, "nobytes": {"$bytes": ""},
    "t": True, "f": False, "nul": None,
    "arr": [1, "x", [2, [3]], {"k": "v"}, []],
    "map": {"inner": {"b": {"$bytes": "00"}}, "e": {}},
}
META_PY = {
    "text": "caf\u00e9 \u2713", "int": 7, "neg": -3, "zero": 0,
    "max64": 9223372036854775807, "min64": -9223372036854775808,
    "u64": 2 ** 64 - 1, "n64": -(2 ** 64),
    "bytes": bytes.fromhex("deadbeef"), "nobytes": b"",
    "t": True, "f": False, "nul": None,
    "arr": [1, "x", [2, [3]], {"k": "v"}, []],
    "map": {"inner": {"b": b"\x00"}, "e": {}},
}


def load_key(name: str) -> Ed25519PrivateKey:
    with open(acutil.key_path(name), "rb") as f:
        return load_pem_private_key(f.read(), password=None)


def raw_pub(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def py_records(chain: str):
    """Every complete frame of chain.bin decoded by the Python store, with its body."""
    fr, tail = acutil.frames(os.path.join(chain, "chain.bin"))
    assert tail == b"", "unexpected torn tail"
    return [(deserialize_record(body), body) for _off, body in fr]


class InteropCase(ToolCase):
    def py_verify(self, chain: str, expect_count: int):
        """The Python store verifies the chain, both with whatever state.cbor is
        there and rebuilt from chain.bin alone; returns its state."""
        self.assertTrue(ChainStore(Path(chain)).verify_chain())
        recs = py_records(chain)
        self.assertEqual([r.chain_index for r, _b in recs], list(range(expect_count)),
                         "indices are not 0..N-1 (a fork or a gap)")
        cs = ChainStore(Path(chain))
        st = cs.state()
        self.assertEqual(st.head_index, expect_count - 1)
        self.assertEqual(st.head_hash, hashlib.sha256(recs[-1][1]).digest())
        self.assertEqual(st.record_count, expect_count)
        return st

    def tool_head(self, chain: str):
        v = self.verify(chain, want_exit=0)
        self.assertEqual(v["warnings"], [], v)
        return v

    def py_append(self, chain: str, key, n: int, tag: int):
        cs = ChainStore(Path(chain))
        for i in range(n):
            cs.append(bytes([tag, i]) * 16, "application/x-py", key, {"from": "python", "i": i})

    # ------------------------------------------------------------ (a)
    def test_tool_chain_verifies_in_python(self):
        self.copy_keys()
        chain = self.path("c")
        printed = []
        for i in range(3):
            f = self.write(f"single{i}", f"file {i}\n")
            printed += self.appended(self.ok("append", "-C", chain, "-k", self.key("k1"),
                                             "-t", "text/plain", "-m", f"n={i}", f))
        batch = [self.write(f"batch{i}", os.urandom(1000 + i)) for i in range(4)]
        printed += self.appended(self.ok("append", "-C", chain, "-k", self.key("k1"), *batch))
        printed += self.appended(self.ok("append", "-C", chain, "-k", self.key("k1"),
                                         "--meta-json", json.dumps(META_JSON), "-m", "extra=yes",
                                         "--hash", "ab" * 32))
        self.ok("rotate", "-C", chain, "-k", self.key("k1"), "--new-key", self.key("k2"))
        printed += self.appended(self.ok("append", "-C", chain, "-k", self.key("k2"),
                                         "--hash", "cd" * 32, "--hash", "ef" * 32))
        self.assertEqual([i for i, _h in printed], [0, 1, 2, 3, 4, 5, 6, 7, 9, 10])

        recs = py_records(chain)
        self.assertEqual(len(recs), 11)
        for (i, h) in printed:
            rec, body = recs[i]
            self.assertEqual(rec.chain_index, i)
            self.assertEqual(h, hashlib.sha256(body).hexdigest())
        for i, f in enumerate(batch):
            self.assertEqual(recs[3 + i][0].content_hash.hex(), acutil.sha256_file(f))
        self.assertEqual(recs[7][0].metadata, dict(META_PY, extra="yes"))
        # A file appended has its base name in the metadata (append --no-name leaves it out).
        self.assertEqual(recs[0][0].metadata, {"n": "0", "name": "single0"})
        rot = recs[8][0]
        self.assertEqual(rot.content_type, "soosef/key-rotation-v1")
        self.assertEqual(rot.metadata, {"new_pubkey": acutil.pub_hex("k2")})
        self.assertEqual(rot.signer_pubkey.hex(), acutil.pub_hex("k1"))
        self.assertEqual(recs[10][0].signer_pubkey.hex(), acutil.pub_hex("k2"))

        v = self.tool_head(chain)
        # With the tool's own state.cbor in place, then rebuilt by the Python store.
        st = self.py_verify(chain, 11)
        self.assertEqual(st.head_hash.hex(), v["head_hash"])
        self.assertEqual(st.chain_id.hex(), v["chain_id"])
        self.assertEqual(st.chain_id, hashlib.sha256(canonical_bytes(recs[0][0])).digest())
        if os.path.exists(os.path.join(chain, "state.cbor")):
            os.unlink(os.path.join(chain, "state.cbor"))
        st = self.py_verify(chain, 11)
        self.assertEqual(st.head_hash.hex(), v["head_hash"])
        self.assertEqual(st.created_at, recs[0][0].claimed_ts)
        self.assertEqual(st.last_append_at, recs[10][0].claimed_ts)
        head = ChainStore(Path(chain)).head()
        self.assertEqual(compute_record_hash(head).hex(), v["head_hash"])

    # ------------------------------------------------------------ (b)
    def test_python_chain_in_tool(self):
        self.copy_keys()
        chain = self.path("py")
        k1, k2 = load_key("k1"), load_key("k2")
        self.py_append(chain, k1, 3, 1)
        ChainStore(Path(chain)).append_key_rotation(k1, k2)
        self.py_append(chain, k2, 2, 2)
        st = ChainStore(Path(chain)).state()

        v = self.tool_head(chain)
        self.assertEqual(v["records"], 6)
        self.assertEqual(v["head_hash"], st.head_hash.hex())
        self.assertEqual(v["chain_id"], st.chain_id.hex())
        status = self.json_of("status", "-C", chain, "--json")
        self.assertEqual(status["head_index"], 5)
        self.assertEqual(status["signer"], raw_pub(k2).hex())

        before = acutil.read_bytes(os.path.join(chain, "chain.bin"))
        self.fails(2, "append", "-C", chain, "-k", self.key("k1"), "--hash", "11" * 32)
        self.assertEqual(acutil.read_bytes(os.path.join(chain, "chain.bin")), before)

        out = self.appended(self.ok("append", "-C", chain, "-k", self.key("k2"),
                                    "--hash", "22" * 32, "--hash", "33" * 32))
        self.assertEqual([i for i, _h in out], [6, 7])
        self.py_verify(chain, 8)

        # The Python store appends after the tool, and the tool agrees.
        self.py_append(chain, k2, 1, 3)
        self.py_verify(chain, 9)
        v = self.tool_head(chain)
        self.assertEqual(v["records"], 9)
        out = self.appended(self.ok("append", "-C", chain, "-k", self.key("k2"),
                                    "--hash", "44" * 32))
        self.assertEqual(out[0][0], 9)
        self.py_verify(chain, 10)
        self.assertEqual(self.tool_head(chain)["records"], 10)

    # ------------------------------------------------------------ retired keys
    def test_rotation_back_to_a_retired_key(self):
        """SPEC 4.4: a retired key is never authorized again.  The Python store
        accepts a rotation back to one and records signed by it; this tool
        finds the first such record unauthorized, and refuses to append onto
        it, naming it: also when a checkpoint of its own from before the
        rotation is put back."""
        self.copy_keys()
        chain = self.path("back")
        k1, k2 = load_key("k1"), load_key("k2")
        self.ok("append", "-C", chain, "-k", self.key("k1"), "--hash", "01" * 32)
        self.ok("rotate", "-C", chain, "-k", self.key("k1"), "--new-key", self.key("k2"))
        self.ok("append", "-C", chain, "-k", self.key("k2"), "--hash", "02" * 32)
        ours = acutil.read_bytes(os.path.join(chain, "state.cbor"))  # covers records 0..2
        # The tool itself refuses the rotation back.
        self.fails(2, "rotate", "-C", chain, "-k", self.key("k2"), "--new-key", self.key("k1"))
        cs = ChainStore(Path(chain))
        cs.append_key_rotation(k2, k1)                                  # record 3
        self.py_append(chain, k1, 1, 9)                                 # record 4
        self.assertTrue(ChainStore(Path(chain)).verify_chain())  # the original is fooled
        v = self.verify(chain, want_exit=1)
        self.assertEqual((v["index"], v["reason"]), (4, "unauthorized"), v)
        # Our checkpoint from before the rotation back, as if Python had left it.
        with open(os.path.join(chain, "state.cbor"), "wb") as f:
            f.write(ours)
        before = acutil.read_bytes(os.path.join(chain, "chain.bin"))
        for key in ("k1", "k2"):
            p = self.fails(2, "append", "-C", chain, "-k", self.key(key), "--hash", "03" * 32)
            self.assertIn("record 4 is damaged (signed by a key not authorized here", p.stderr)
        self.assertEqual(acutil.read_bytes(os.path.join(chain, "chain.bin")), before)

    # ------------------------------------------------------------ (c)
    def test_python_fork_window(self):
        self.copy_keys()
        chain = self.path("py")
        k1 = load_key("k1")
        self.py_append(chain, k1, 4, 1)
        state = os.path.join(chain, "state.cbor")
        stale = acutil.read_bytes(state)
        self.py_append(chain, k1, 1, 2)          # index 4; state.cbor now at 4
        with open(state, "wb") as f:             # a crash before the rename
            f.write(stale)

        # The window is real: the Python store itself would fork here.
        probe = self.path("probe")
        shutil.copytree(chain, probe)
        self.py_append(probe, k1, 1, 9)
        self.assertEqual([r.chain_index for r, _b in py_records(probe)], [0, 1, 2, 3, 4, 4])

        out = self.appended(self.ok("append", "-C", chain, "-k", self.key("k1"),
                                    "--hash", "55" * 32))
        self.assertEqual(out[0][0], 5)
        v = self.tool_head(chain)
        self.assertEqual(v["records"], 6)
        self.py_verify(chain, 6)

    def test_tool_fork_window(self):
        """The same window left by the tool: state.cbor (with its extension keys)
        one append behind chain.bin."""
        self.copy_keys()
        chain = self.path("c")
        self.ok("append", "-C", chain, "-k", self.key("k1"), "--hash", "01" * 32,
                "--hash", "02" * 32, "--hash", "03" * 32)
        state = os.path.join(chain, "state.cbor")
        if not os.path.exists(state):
            self.skipTest("the tool left no state.cbor to make stale")
        stale = acutil.read_bytes(state)
        self.ok("append", "-C", chain, "-k", self.key("k1"), "--hash", "04" * 32)
        with open(state, "wb") as f:
            f.write(stale)
        for cache in os.listdir(chain):
            if cache.startswith("index"):
                os.unlink(os.path.join(chain, cache))
        out = self.appended(self.ok("append", "-C", chain, "-k", self.key("k1"),
                                    "--hash", "05" * 32))
        self.assertEqual(out[0][0], 4)
        self.assertEqual(self.tool_head(chain)["records"], 5)
        self.py_verify(chain, 5)

    # ------------------------------------------------------------ (d)
    def test_printed_hashes_match_python(self):
        self.copy_keys()
        chain = self.path("c")
        files = [self.write(f"f{i}", os.urandom(100 * i)) for i in range(5)]
        out = self.appended(self.ok("append", "-C", chain, "-k", self.key("k1"),
                                    "--meta-json", '{"b": {"$bytes": "ff"}, "n": -1}', *files))
        recs = py_records(chain)
        self.assertEqual(len(recs), len(out))
        for (i, h), (rec, body) in zip(out, recs):
            self.assertEqual(rec.chain_index, i)
            self.assertEqual(h, hashlib.sha256(body).hexdigest())
            self.assertEqual(h, compute_record_hash(rec).hex())
            if i > 0:
                self.assertEqual(rec.prev_hash.hex(), out[i - 1][1])
        self.assertEqual(recs[0][0].prev_hash, bytes(32))


if __name__ == "__main__":
    acutil.require_tool()
    acutil.main("t_interop")
