"""Metadata between Python values and the library's JSON mapping.

The library takes and gives metadata as JSON (header: ac_meta_add_json,
ac_record_metadata_json): below the top level {"$bytes": hex} is a byte
string, {"$int": "decimal"} an integer outside int64 and {"$map": {...}} a map
whose one key is one of these names.  Here Python values get that shape on
the way in, and lose it on the way out, so a caller sees exactly what cbor2
would give for the record's CBOR.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from . import _attestchain as _ext

_ESCAPES = ("$bytes", "$int", "$map")
_INT64 = 1 << 63
_UINT64 = 1 << 64


def _value(v: Any, depth: int) -> Any:
    # bool before int: True is an int in Python, and must stay true.
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        if -_INT64 <= v < _INT64:
            return v
        if -_UINT64 <= v < _UINT64:
            return {"$int": str(v)}
        raise ValueError(f"metadata: integer {v} is outside CBOR's 64-bit range")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(v).hex()}
    if depth >= _ext.MAX_DEPTH:
        raise ValueError(f"metadata: nested more than {_ext.MAX_DEPTH - 1} levels deep")
    if isinstance(v, dict):
        m = _map(v, depth + 1)
        return {"$map": m} if len(m) == 1 and next(iter(m)) in _ESCAPES else m
    if isinstance(v, (list, tuple)):
        return [_value(x, depth + 1) for x in v]
    if isinstance(v, float):
        raise TypeError("metadata: floats are not in the format (its CBOR has no floats); "
                        "use an int or a str")
    raise TypeError(f"metadata: a {type(v).__name__} is not a CBOR value of the format "
                    "(int, str, bytes, bool, None, list, dict)")


def _map(m: Dict[Any, Any], depth: int) -> Dict[str, Any]:
    out = {}
    for k, v in m.items():
        if not isinstance(k, str):
            raise TypeError(f"metadata: keys must be str, not {type(k).__name__}")
        out[k] = _value(v, depth)
    return out


def to_json(metadata: Any) -> Optional[str]:
    """The JSON text for `metadata` (a dict), or None for an empty one."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, not {type(metadata).__name__}")
    if not metadata:
        return None
    # Level 1 is the record, 2 the metadata map.
    return json.dumps(_map(metadata, 2), ensure_ascii=False, separators=(",", ":"))


def _decode(v: Any) -> Any:
    if isinstance(v, dict):
        if len(v) == 1:
            k, x = next(iter(v.items()))
            if k == "$bytes":
                return bytes.fromhex(x)
            if k == "$int":
                return int(x)
            if k == "$map":
                return {kk: _decode(vv) for kk, vv in x.items()}
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


def from_json(text: str) -> Dict[str, Any]:
    """A record's metadata (or witnesses) from the library's JSON."""
    if text == "{}":
        return {}
    # The top level is taken literally: its keys are the map's own.
    return {k: _decode(v) for k, v in json.loads(text).items()}
