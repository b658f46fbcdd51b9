"""Typed stubs of the extension module (python/src/_attestchain.c).

Use the package `attestchain`; these are its internals: records come back as
tuples of plain values, and errors as LibError(code, sys_errno, index,
message).
"""
from os import PathLike
from typing import List, Optional, Tuple, Union

_Path = Union[str, bytes, PathLike[str], PathLike[bytes]]
# (version, record_id, chain_index, prev_hash, content_hash, content_type,
#  metadata_json, claimed_ts, witnesses_json, signer_pubkey, signature,
#  record_hash, offset)
_RecordTuple = Tuple[int, bytes, int, bytes, bytes, str, str, int, str, bytes, bytes, bytes, int]
# (chain_id, head_index, head_hash, record_count, created_at, last_append_at,
#  chain_size, head_offset, signer)
_StateTuple = Tuple[bytes, int, bytes, int, int, int, int, int, bytes]
# (code, index or -1, offset, bytes, delta_us)
_WarningTuple = Tuple[str, int, int, int, int]
# (valid, records, fail_index, reason, detail, warnings, warnings_total,
#  chain_id, last_hash)
_ReportTuple = Tuple[bool, int, Optional[int], str, str, List[_WarningTuple], int,
                     Optional[bytes], Optional[bytes]]

VERSION: str
MAX_RECORD_SIZE: int
MAX_CONTENT_TYPE: int
MAX_DEPTH: int
ROTATION_CONTENT_TYPE: str
EINVAL: int
ENOMEM: int
EIO: int
ECORRUPT: int
ENOTFOUND: int
EUNAUTHORIZED: int
EKEY: int
EEXIST: int
ECRYPTO: int


class LibError(Exception):
    args: Tuple[int, int, int, str]


class Key:
    @classmethod
    def generate(cls) -> "Key": ...
    @classmethod
    def load(cls, path: _Path) -> "Key": ...
    @classmethod
    def from_pem(cls, pem: bytes) -> "Key": ...
    def save(self, path: _Path) -> None: ...
    @property
    def public_key(self) -> bytes: ...


class Chain:
    def __init__(self, dir: _Path, create: bool = ..., readonly: bool = ...) -> None: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def state(self) -> Optional[_StateTuple]: ...
    def is_empty(self) -> bool: ...
    def get(self, index: int) -> _RecordTuple: ...
    def head(self) -> Optional[_RecordTuple]: ...
    def records(self, start: int, end: int, max: int) -> List[_RecordTuple]: ...
    def append(self, key: Key,
               entries: List[Tuple[bytes, str, Optional[str]]]) -> List[Tuple[int, bytes]]: ...
    def rotate(self, old_key: Key, new_pubkey: bytes) -> Tuple[int, bytes]: ...
    def verify(self, start: int, end: int, threads: int) -> _ReportTuple: ...


def sha256_file(path: _Path) -> bytes: ...
def sha256(data: bytes) -> bytes: ...
