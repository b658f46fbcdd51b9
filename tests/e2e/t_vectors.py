"""Every shared test vector checked through `attestchain verify --json`.

For each directory of $AC_VECTORS holding chain.bin and case.json: the verdict
(valid or not, and exit status 0 or 1), the first failing index and its
reason, the set of warning codes, the record count, chain_id and head_hash of
valid chains.  Each chain.bin is copied to a temporary directory first, since
verify may write caches beside it; the copy must come out unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import acutil  # noqa: E402
from acutil import ToolCase  # noqa: E402


def cases():
    out = []
    for name in sorted(os.listdir(acutil.VECTORS)):
        d = os.path.join(acutil.VECTORS, name)
        if os.path.isfile(os.path.join(d, "case.json")) and \
                os.path.isfile(os.path.join(d, "chain.bin")):
            out.append(name)
    return out


class VectorCase(ToolCase):
    def load(self, name):
        src = os.path.join(acutil.VECTORS, name)
        with open(os.path.join(src, "case.json")) as f:
            case = json.load(f)
        chain = self.path(name)
        os.mkdir(chain)
        shutil.copyfile(os.path.join(src, "chain.bin"), os.path.join(chain, "chain.bin"))
        return case, chain

    def check_verdict(self, name, case, v):
        """Compares one `verify --json` object with case.json."""
        self.assertIsInstance(v.get("valid"), bool, v)
        self.assertEqual(v["valid"], case["expect"] == "valid", f"{name}: {v}")
        codes = {w["code"] for w in v["warnings"]}
        self.assertEqual(codes, set(case["warnings"]), f"{name}: warnings {v['warnings']}")
        if case["expect"] == "valid":
            self.assertIsNone(v["index"], v)
            self.assertIsNone(v["reason"], v)
            self.assertEqual(v["records"], case["records"], v)
            self.assertEqual(v["chain_id"], case["chain_id"], v)
            self.assertEqual(v["head_hash"], case["head_hash"], v)
        else:
            self.assertEqual(v["index"], case["index"], f"{name}: {v}")
            self.assertEqual(v["reason"], case["reason"], f"{name}: {v}")

    def check_case(self, name):
        case, chain = self.load(name)
        bin_path = os.path.join(chain, "chain.bin")
        before = acutil.read_bytes(bin_path)

        v = self.verify(chain)
        self.check_verdict(name, case, v)
        self.check_warning_details(v, bin_path)
        # Verification never changes the log (a torn tail is cut only by a writer).
        self.assertEqual(acutil.read_bytes(bin_path), before, "verify changed chain.bin")

        # Again, now with whatever caches the first run left: the same answer.
        self.check_verdict(name, case, self.verify(chain))
        # One thread: the sequential path gives the same answer as the parallel one.
        self.check_verdict(name, case, self.verify(chain, "-j", "1"))
        self.assertEqual(acutil.read_bytes(bin_path), before, "verify changed chain.bin")

        if case["expect"] == "valid":
            self.check_head(case, bin_path)

    def check_warning_details(self, v, bin_path):
        """A torn tail names no record and sits right after the last complete frame."""
        fr, tail = acutil.frames(bin_path)
        for w in v["warnings"]:
            self.assertIn(w["code"], ("torn_tail", "clock", "chain_size"), w)
            self.assertIn("index", w, w)
            self.assertIn("offset", w, w)
            if w["code"] == "torn_tail":
                self.assertIsNone(w["index"], w)
                end = fr[-1][0] + 4 + len(fr[-1][1]) if fr else 0
                self.assertEqual(w["offset"], end, w)
                self.assertGreater(len(tail), 0, "torn_tail reported on a chain without one")

    def check_head(self, case, bin_path):
        """The expected head hash is the SHA-256 of the last complete frame's body."""
        fr, _tail = acutil.frames(bin_path)
        self.assertEqual(len(fr), case["records"])
        self.assertEqual(hashlib.sha256(fr[-1][1]).hexdigest(), case["head_hash"])

    def check_ranges(self, name):
        """Ranges of an invalid chain: one that stops just before the failing
        record is valid; one that starts at record 1 or at the failing record
        finds the same failure (the link and the authorized key come from the
        history before the range)."""
        case, chain = self.load(name)
        bad = case["index"]
        v = self.verify(chain, "--to", str(bad - 1))
        self.assertTrue(v["valid"], f"{name} --to {bad - 1}: {v}")
        self.assertEqual(v["records"], bad, f"{name} --to {bad - 1}: {v}")
        for start in sorted({1, bad}):
            v = self.verify(chain, "--from", str(start))
            self.assertFalse(v["valid"], f"{name} --from {start}: {v}")
            self.assertEqual((v["index"], v["reason"]), (bad, case["reason"]),
                             f"{name} --from {start}: {v}")


def add_tests():
    for name in cases():
        def test(self, name=name):
            self.check_case(name)
        setattr(VectorCase, "test_" + name.replace("-", "_"), test)
        with open(os.path.join(acutil.VECTORS, name, "case.json")) as f:
            case = json.load(f)
        if case["expect"] == "invalid" and case["index"] > 0:
            def test_ranges(self, name=name):
                self.check_ranges(name)
            setattr(VectorCase, "test_" + name.replace("-", "_") + "_ranges", test_ranges)


class SeedStateCase(ToolCase):
    """valid-seed-written with the state.cbor the Python store left (without the
    extension keys): the tool must not trust it blindly, and must agree."""

    def test_seed_state_cbor(self):
        src = os.path.join(acutil.VECTORS, "valid-seed-written")
        if not os.path.isdir(src):
            self.skipTest("no valid-seed-written vector")
        with open(os.path.join(src, "case.json")) as f:
            case = json.load(f)
        chain = self.path("seed")
        os.mkdir(chain)
        shutil.copyfile(os.path.join(src, "chain.bin"), os.path.join(chain, "chain.bin"))
        with open(os.path.join(chain, "state.cbor"), "wb") as f:
            f.write(bytes.fromhex(case["state_cbor_hex"]))
        v = self.verify(chain, want_exit=0)
        self.assertEqual((v["records"], v["chain_id"], v["head_hash"]),
                         (case["records"], case["chain_id"], case["head_hash"]), v)
        st = self.json_of("status", "-C", chain, "--json")
        self.assertEqual(st["head_hash"], case["head_hash"], st)
        self.assertEqual(st["head_index"], case["records"] - 1, st)


class CoverageCase(ToolCase):
    def test_vectors_present(self):
        """The suite must not pass vacuously on an empty or missing vector dir."""
        names = cases()
        self.assertGreaterEqual(len(names), 10, f"too few vectors in {acutil.VECTORS}")
        self.assertTrue(any(n.startswith("valid-") for n in names))
        self.assertTrue(any(n.startswith("invalid-") for n in names))


if __name__ == "__main__":
    acutil.require_tool()
    add_tests()
    acutil.main("t_vectors")
