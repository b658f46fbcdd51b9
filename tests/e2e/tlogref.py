"""An independent reference for what `attestchain export` and `prove` publish
(docs/format.md and the contract's section 10): RFC 6962 trees over the
records' frame bodies, signed-note checkpoints, C2SP tlog-tiles directories
and `.tlog-proof` files, written from the specification alone in plain Python
(hashlib, and `cryptography` for Ed25519).

The browser test (t_web.py) uses it two ways: as the producer of the export
directory and the proofs while the tool lacks `export` / `prove`, and, once the
tool has them, as a cross-check that must agree with the tool byte for byte.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (Encoding, PublicFormat,
                                                          load_pem_private_key)

ROTATION_TYPE = "soosef/key-rotation-v1"
TILE_WIDTH = 256
MAX_ENTRY = 0xFFFF          # an entry bundle's 2-byte length prefix
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
EXPORT_FORMAT = 1           # export.json's "attestchain_export"
SIG_ED25519 = 0x01          # signed-note signature types
SIG_COSIGNATURE = 0x04


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------ chain.bin


def frame_bodies(chain_dir: str) -> list[bytes]:
    """The frame bodies of chain_dir/chain.bin, in order; a torn tail is left out."""
    with open(os.path.join(chain_dir, "chain.bin"), "rb") as f:
        data = f.read()
    out, off = [], 0
    while off + 4 <= len(data):
        (n,) = struct.unpack(">I", data[off:off + 4])
        if off + 4 + n > len(data):
            break
        out.append(data[off + 4:off + 4 + n])
        off += 4 + n
    return out


def _cbor_skip(buf: bytes, pos: int) -> int:
    """Position after the CBOR item at pos (the subset of the format: no
    indefinite lengths, no floats or tags)."""
    major, info = buf[pos] >> 5, buf[pos] & 31
    pos += 1
    if info < 24:
        val = info
    else:
        n = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        val = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if major in (2, 3):
        return pos + val
    if major == 4:
        for _ in range(val):
            pos = _cbor_skip(buf, pos)
    elif major == 5:
        for _ in range(2 * val):
            pos = _cbor_skip(buf, pos)
    return pos


def canonical_bytes(body: bytes) -> bytes:
    """The record without its `signature` entry (what the signature covers):
    found by walking the top-level map, not by searching for its bytes."""
    assert body[0] == 0xAB, "a record is a map of eleven keys"
    pos = 1
    for _ in range(11):
        key_start = pos
        pos = _cbor_skip(body, pos)
        is_sig = body[key_start:pos] == b"\x69signature"
        pos = _cbor_skip(body, pos)
        if is_sig:
            return b"\xaa" + body[1:key_start] + body[pos:]
    raise ValueError("record without a signature")


def chain_id(bodies: list[bytes]) -> bytes:
    return hashlib.sha256(canonical_bytes(bodies[0])).digest()


def default_origin(bodies: list[bytes]) -> str:
    return "attestchain/" + chain_id(bodies).hex()


# ------------------------------------------------------------------ RFC 6962


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash over leaf hashes (the empty tree: SHA-256 of nothing)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def inclusion_proof(index: int, hashes: list[bytes]) -> list[bytes]:
    """RFC 6962 2.1.1 PATH(m, D[n]), from the leaf's sibling up."""
    if len(hashes) <= 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return inclusion_proof(index, hashes[:k]) + [mth(hashes[k:])]
    return inclusion_proof(index - k, hashes[k:]) + [mth(hashes[:k])]


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root that `proof` gives for `leaf` at `index` in a tree of `size`
    (RFC 9162 2.1.3.2); raises ValueError when the proof has the wrong length."""
    if index >= size:
        raise ValueError("index beyond the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


# ------------------------------------------------------------------ signed notes


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def load_key(pem_path: str) -> Ed25519PrivateKey:
    with open(pem_path, "rb") as f:
        return load_pem_private_key(f.read(), password=None)


def key_id(name: str, sig_type: int, pub: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + pub).digest()[:4]


def vkey(name: str, pub: bytes, sig_type: int = SIG_ED25519) -> str:
    return f"{name}+{key_id(name, sig_type, pub).hex()}+{b64(bytes([sig_type]) + pub)}"


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{b64(root)}\n"


def sign_note(body: str, name: str, key: Ed25519PrivateKey) -> str:
    """A signed note with one Ed25519 signature line (signed-note v1)."""
    sig = key.sign(body.encode())
    kid = key_id(name, SIG_ED25519, public_raw(key))
    return f"{body}\n\u2014 {name} {b64(kid + sig)}\n"


def cosign(note: str, witness: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """`note` with a tlog-cosignature/v1 line by `witness` added."""
    body = note[:note.rindex("\n\n") + 1]
    msg = f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()
    blob = key_id(witness, SIG_COSIGNATURE, public_raw(key)) + struct.pack(">Q", timestamp) \
        + key.sign(msg)
    return note + f"\u2014 {witness} {b64(blob)}\n"


# ------------------------------------------------------------------ tiles


def tile_index_path(n: int) -> str:
    """1234067 -> x001/x234/067 (tlog-tiles)."""
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


def tile_path(level, n: int, width: int = TILE_WIDTH) -> str:
    """tile/<L>/<N>[.p/<W>]; level "entries" for entry bundles."""
    p = f"tile/{level}/{tile_index_path(n)}"
    return p if width == TILE_WIDTH else f"{p}.p/{width}"


def tiles(bodies: list[bytes]) -> dict[str, bytes]:
    """Every file (path -> bytes) of the tile tree of len(bodies) records:
    entry bundles and hash tiles at every level, partial ones included."""
    for i, body in enumerate(bodies):
        if len(body) > MAX_ENTRY:
            raise ValueError(f"record {i} is {len(body)} bytes, over {MAX_ENTRY}: cannot be exported")
    out = {}
    for start in range(0, len(bodies), TILE_WIDTH):
        chunk = bodies[start:start + TILE_WIDTH]
        out[tile_path("entries", start // TILE_WIDTH, len(chunk))] = \
            b"".join(struct.pack(">H", len(b)) + b for b in chunk)
    level, hashes = 0, [leaf_hash(b) for b in bodies]
    while hashes:
        nxt = []
        for start in range(0, len(hashes), TILE_WIDTH):
            chunk = hashes[start:start + TILE_WIDTH]
            out[tile_path(level, start // TILE_WIDTH, len(chunk))] = b"".join(chunk)
            if len(chunk) == TILE_WIDTH:     # only full tiles are hashed into the level above
                nxt.append(mth(chunk))
        level, hashes = level + 1, nxt
    return out


def export(chain_dir: str, out_dir: str, key: Ed25519PrivateKey, origin: str | None = None,
           witnesses=(), bodies: list[bytes] | None = None) -> dict:
    """Writes a static tlog-tiles directory of the whole chain (or of the
    frame bodies given), its checkpoint signed with `key` (cosigned by each
    (name, key, timestamp) in witnesses) and export.json. Returns a
    description: origin, size, root, checkpoint, leaves, bodies."""
    bodies = frame_bodies(chain_dir) if bodies is None else bodies
    origin = origin or default_origin(bodies)
    leaves = [leaf_hash(b) for b in bodies]
    root = mth(leaves)
    note = sign_note(checkpoint_body(origin, len(bodies), root), origin, key)
    for name, wkey, ts in witnesses:
        note = cosign(note, name, wkey, ts)
    files = tiles(bodies)
    files["export.json"] = export_json(origin, public_raw(key), bodies,
                                       [vkey(n, public_raw(k), SIG_COSIGNATURE)
                                        for n, k, _ in witnesses])
    files["checkpoint"] = note.encode()      # last, after every tile it covers
    for path, data in files.items():
        full = os.path.join(out_dir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    return {"origin": origin, "size": len(bodies), "root": root, "checkpoint": note,
            "leaves": leaves, "bodies": bodies}


def rotation_indices(bodies: list[bytes]) -> list[int]:
    """Indices of the key-rotation records (the content type's encoding
    appears in no other field position that matters: decoded to be sure)."""
    import cbor2
    out = []
    for i, body in enumerate(bodies):
        if cbor2.loads(body)["content_type"] == ROTATION_TYPE:
            out.append(i)
    return out


def export_json(origin: str, pub: bytes, bodies: list[bytes], witness_vkeys: list[str]) -> bytes:
    """export.json: what the page pins (docs/format.md, the export section)."""
    doc = {
        "attestchain_export": EXPORT_FORMAT,
        "origin": origin,
        "vkeys": [vkey(origin, pub)],
        "witnesses": witness_vkeys,
        "rotations": rotation_indices(bodies),
    }
    return (json.dumps(doc, indent=1) + "\n").encode()


# ------------------------------------------------------------------ proofs


def prove(bodies: list[bytes], index: int, note: str, size: int | None = None) -> str:
    """A `.tlog-proof` (c2sp.org/tlog-proof@v1, with the record in `extra`)
    of record `index` against the signed checkpoint `note` of `size` records."""
    size = len(bodies) if size is None else size
    leaves = [leaf_hash(b) for b in bodies[:size]]
    lines = [PROOF_HEADER, f"extra {b64(bodies[index])}", f"index {index}"]
    lines += [b64(h) for h in inclusion_proof(index, leaves)]
    return "\n".join(lines) + "\n\n" + note
