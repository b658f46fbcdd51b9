"""Records, the head state, verification reports and the exceptions.

The record and state classes have the original store's names, fields and
field types (what cbor2 gives for the record's CBOR: bytes, int, str, and
dicts and lists of those, True/False/None), so code written against the
original reads them unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Optional


class ChainError(Exception):
    """Any failure of the chain store.

    Beyond the message: `code` (the library's ac_status, or None), `index`
    (the record concerned, or None) and `errno` (of a failed system call, or
    None).
    """

    def __init__(self, *args: Any, code: Optional[int] = None, index: Optional[int] = None,
                 errno: Optional[int] = None) -> None:
        super().__init__(*args)
        self.code = code
        self.index = index
        self.errno = errno


class ChainAppendError(ChainError):
    """An append failed or was refused; the chain is as it was before the call."""


class ChainIntegrityError(ChainError):
    """Verification found the chain invalid: `index` is the first failing
    record, `reason` one of the format's reasons ("signature", "link", ...)
    and `report` the whole VerifyReport (when verification ran)."""

    def __init__(self, *args: Any, reason: Optional[str] = None,
                 report: Optional["VerifyReport"] = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.reason = reason
        self.report = report


@dataclass(frozen=True)
class AttestationChainRecord:
    """One record, as the original store returns it.

    Beyond the original's fields: `record_hash` (SHA-256 of the serialized
    record, which the next record's prev_hash names) and `offset` (of its
    frame in chain.bin), read-only properties outside the dataclass fields.
    """

    version: int
    record_id: bytes
    chain_index: int
    prev_hash: bytes
    content_hash: bytes
    content_type: str
    metadata: Dict[str, Any]
    claimed_ts: int
    entropy_witnesses: Dict[str, Any]
    signer_pubkey: bytes
    signature: bytes

    @property
    def record_hash(self) -> bytes:
        h: bytes = self.__dict__["_record_hash"]
        return h

    @property
    def offset(self) -> int:
        off: int = self.__dict__["_offset"]
        return off


@dataclass(frozen=True)
class ChainState:
    """The chain's head, as the original store's ChainState, plus the three
    keys docs/format.md section 7 adds ([fix]): `chain_size` (bytes of chain.bin the
    state covers), `head_offset` (offset of the last frame) and `signer`
    (the key authorized to sign the next record; 32 zero bytes if none may)."""

    chain_id: bytes
    head_index: int
    head_hash: bytes
    record_count: int
    created_at: int
    last_append_at: int
    chain_size: int = 0
    head_offset: int = 0
    signer: bytes = b"\x00" * 32
    GENESIS_PREV_HASH: ClassVar[bytes] = b"\x00" * 32


@dataclass(frozen=True)
class VerifyWarning:
    """A warning that does not make a chain invalid (docs/format.md sections 6, 10, 11):
    `code` is "torn_tail", "clock" or "chain_size" (later libraries may add
    others); `index` the record (None for a torn tail); `offset` in
    chain.bin; `bytes` the torn tail's size or the witnessed chain_size;
    `delta_us` how far a clock disagreed."""

    code: str
    index: Optional[int]
    offset: int
    bytes: int
    delta_us: int


@dataclass(frozen=True)
class VerifyReport:
    """What verify() found.  True in a boolean context when valid.

    `index` and `reason` name the first failing record and why (None when
    valid); `detail` is one line on it; `records` how many records were
    checked and found valid; `warnings` (at most 1000 kept) and
    `warnings_total`; `chain_id` (computed from record 0 when the range
    started there) and `head_hash` (the hash of the last valid record)."""

    valid: bool
    index: Optional[int]
    reason: Optional[str]
    detail: str
    records: int
    warnings: List[VerifyWarning]
    warnings_total: int
    chain_id: Optional[bytes]
    head_hash: Optional[bytes]

    def __bool__(self) -> bool:
        return self.valid
