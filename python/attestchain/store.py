"""ChainStore: the original Python store's interface on libattestchain.

Every method the original had keeps its name, arguments, defaults, return
types and exceptions; where the original is wrong (the [fix] items of
docs/format.md) this does what the format says: python/README.md lists each
difference.  The extras (context manager, len, iteration, indexing,
append_batch, verify) come on top.
"""
from __future__ import annotations

import errno
import operator
import os
from pathlib import Path
from typing import (Any, Callable, Dict, Iterable, Iterator, List, NoReturn, Optional, Sequence,
                    Tuple, Union)

from . import _attestchain as _ext
from ._meta import from_json, to_json
from .models import (AttestationChainRecord, ChainAppendError, ChainError, ChainIntegrityError,
                     ChainState, VerifyReport, VerifyWarning)

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
_LAST = (1 << 64) - 1  # the library's "to the head"


def _raise(e: _ext.LibError, cls: type = ChainError) -> NoReturn:
    """Raises the Python exception for a library error: ValueError for a bad
    argument or key, MemoryError, or `cls` (a ChainError) with the library's
    code, record index and errno."""
    code, sys_errno, index, message = e.args
    if code in (_ext.EINVAL, _ext.EKEY):
        raise ValueError(message) from None
    if code == _ext.ENOMEM:
        raise MemoryError(message) from None
    raise cls(message, code=code, index=index if index >= 0 else None,
              errno=sys_errno or None) from None


def _call(fn: Callable[..., Any], *args: Any, cls: type = ChainError) -> Any:
    """fn(*args), with a library error raised as _raise says."""
    try:
        return fn(*args)
    except _ext.LibError as e:
        _raise(e, cls)


def _record(t: Tuple[Any, ...]) -> AttestationChainRecord:
    rec = AttestationChainRecord(t[0], t[1], t[2], t[3], t[4], t[5], from_json(t[6]), t[7],
                                 from_json(t[8]), t[9], t[10])
    rec.__dict__["_record_hash"] = t[11]
    rec.__dict__["_offset"] = t[12]
    return rec


def _content_hash(h: Any) -> bytes:
    if not isinstance(h, (bytes, bytearray, memoryview)):
        raise TypeError(f"content_hash must be bytes, not {type(h).__name__}")
    h = bytes(h)
    if len(h) != 32:
        raise ValueError(f"content_hash must be 32 bytes (a SHA-256), not {len(h)}")
    return h


def _entry(content_hash: Any, content_type: Any,
           metadata: Any) -> Tuple[bytes, str, Optional[str]]:
    if not isinstance(content_type, str):
        raise TypeError(f"content_type must be str, not {type(content_type).__name__}")
    return (_content_hash(content_hash), content_type, to_json(metadata))


def _key_error(e: _ext.LibError) -> NoReturn:
    code, sys_errno, _index, message = e.args
    if code == _ext.ENOTFOUND:
        raise FileNotFoundError(sys_errno or errno.ENOENT, message) from None
    if code == _ext.EEXIST:
        raise FileExistsError(sys_errno or errno.EEXIST, message) from None
    if code == _ext.EIO:
        raise OSError(sys_errno or errno.EIO, message) from None
    _raise(e)


class Key:
    """An Ed25519 signing key held by the library (its secret is wiped when
    the object is freed).  ChainStore also takes cryptography's
    Ed25519PrivateKey objects and key file paths wherever it takes a Key."""

    __slots__ = ("_key",)

    def __init__(self, _key: "_ext.Key") -> None:
        if not isinstance(_key, _ext.Key):
            raise TypeError("use Key.generate(), Key.load(path) or Key.from_cryptography(key)")
        self._key = _key

    @classmethod
    def generate(cls) -> "Key":
        """A new key from the system's randomness."""
        try:
            return cls(_ext.Key.generate())
        except _ext.LibError as e:
            _key_error(e)

    @classmethod
    def load(cls, path: PathLike) -> "Key":
        """Loads a PKCS#8 PEM Ed25519 private key file (as `openssl genpkey
        -algorithm ed25519`, `attestchain keygen` and cryptography write).
        FileNotFoundError, OSError, or ValueError for a file that is not such
        a key."""
        try:
            return cls(_ext.Key.load(path))
        except _ext.LibError as e:
            _key_error(e)

    @classmethod
    def from_cryptography(cls, key: Any) -> "Key":
        """The same key as cryptography's Ed25519PrivateKey `key`.  ValueError
        for another algorithm's private key, TypeError for any other object."""
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        except ImportError:  # then no cryptography key can have been passed
            Ed25519PrivateKey = None  # type: ignore[assignment,misc]
        if Ed25519PrivateKey is None or not isinstance(key, Ed25519PrivateKey):
            # Another algorithm's private key is a bad value (ValueError, as
            # the original's cryptography call raised); anything else a bad type.
            other_key = hasattr(key, "private_bytes") and hasattr(key, "public_key")
            raise (ValueError if other_key else TypeError)(
                "private key must be an Ed25519 key: cryptography's Ed25519PrivateKey, an "
                f"attestchain.Key or a key file path, not {type(key).__name__}")
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            return cls(_ext.Key.from_pem(pem))
        except _ext.LibError as e:
            _key_error(e)

    def save(self, path: PathLike) -> None:
        """Writes the key as PKCS#8 PEM to a new file, mode 0600, fsynced.
        FileExistsError if `path` exists: a key is never overwritten."""
        try:
            self._key.save(path)
        except _ext.LibError as e:
            _key_error(e)

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return self._key.public_key

    def __repr__(self) -> str:
        return f"<attestchain.Key {self.public_key.hex()}>"


def load_key(key: Any) -> Key:
    """A Key from what the store accepts as a private key: a Key,
    cryptography's Ed25519PrivateKey, or the path of a PKCS#8 PEM key file."""
    if isinstance(key, Key):
        return key
    if isinstance(key, (str, bytes, os.PathLike)):
        return Key.load(key)
    return Key.from_cryptography(key)


class ChainStore:
    """An attestation chain in directory `chain_dir` (created, with its
    parents, if missing), on libattestchain.

    The original store's methods: state(), is_empty(), head(), get(index),
    iter_records(start=0, end=None), append(content_hash, content_type,
    private_key, metadata=None), append_key_rotation(old, new),
    verify_chain(start=0, end=None).  Private keys are cryptography's
    Ed25519PrivateKey objects (as the original takes them), attestchain Key
    objects or paths of PKCS#8 PEM key files.

    One store may be shared by threads (a lock inside keeps the handle to one
    call at a time, with the GIL released during the library's work);
    processes and other stores on the same directory may append at once
    (flock on chain.bin).  close() (or leaving a `with` block) writes the
    state checkpoint and frees the handle; a closed store raises ValueError.
    """

    def __init__(self, chain_dir: PathLike, *, readonly: bool = False) -> None:
        path = os.fsdecode(os.fspath(chain_dir))
        if not readonly:
            # As the original: parents too.  The chain's own directory is made
            # by the library, mode 0700.
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        self._chain = _call(_ext.Chain, path, not readonly, readonly)
        self._dir = Path(path)
        self._key_cache: Optional[Tuple[Any, _ext.Key]] = None

    # ---------------------------------------------------------------- plumbing

    def _signing_key(self, key: Any) -> "_ext.Key":
        # A cryptography key object is converted once per store: the last one
        # used is kept (with its secret, as the caller keeps it too).
        cached = self._key_cache
        if cached is not None and cached[0] is key:
            return cached[1]
        k = load_key(key)._key
        if not isinstance(key, (Key, str, bytes, os.PathLike)):
            self._key_cache = (key, k)
        return k

    @property
    def path(self) -> Path:
        """The chain's directory."""
        return self._dir

    @property
    def closed(self) -> bool:
        return bool(self._chain.closed)

    def close(self) -> None:
        """Writes state.cbor if this store appended, and frees the handle.
        Closing twice is fine."""
        self._key_cache = None
        _call(self._chain.close)

    def __enter__(self) -> "ChainStore":
        if self._chain.closed:
            raise ValueError("operation on a closed chain store")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<attestchain.ChainStore {str(self._dir)!r}{' closed' if self.closed else ''}>"

    # ---------------------------------------------------------------- reading

    def state(self) -> Optional[ChainState]:
        """The head state, checked against chain.bin (never a stale cache), or
        None for an empty chain."""
        t = _call(self._chain.state)
        return None if t is None else ChainState(*t)

    def is_empty(self) -> bool:
        """True if the chain holds no complete record."""
        return bool(_call(self._chain.is_empty))

    def head(self) -> Optional[AttestationChainRecord]:
        """The last record, or None for an empty chain."""
        t = _call(self._chain.head)
        return None if t is None else _record(t)

    def get(self, index: int) -> AttestationChainRecord:
        """Record `index`; ChainError if there is none (or it is damaged)."""
        index = _as_index(index)
        if index < 0:
            raise ChainError(f"Record at index {index} not found.", index=index,
                             code=_ext.ENOTFOUND)
        try:
            return _record(_call(self._chain.get, index))
        except OverflowError:
            raise ChainError(f"Record at index {index} not found.", index=index,
                             code=_ext.ENOTFOUND) from None

    def iter_records(self, start: int = 0,
                     end: Optional[int] = None) -> Iterator[AttestationChainRecord]:
        """Records start..end (inclusive; None: to the head), in order.  A
        generator, as the original's: errors surface while iterating."""
        start = _as_index(start)
        last = _LAST if end is None else _as_index(end)
        return self._iter(max(start, 0), last)

    def _iter(self, start: int, last: int) -> Iterator[AttestationChainRecord]:
        # In chunks, each read in one call under the handle's lock: an append
        # through this store between two chunks cannot disturb the reading.
        chunk = 64  # small first: next(iter(store)) should not read thousands
        while 0 <= start <= last and start <= _LAST:
            batch = self._records(start, last, chunk)
            for t in batch:
                if self._chain.closed:
                    raise ValueError("operation on a closed chain store")
                yield _record(t)
            if not batch:  # the head: as the original, records appended meanwhile count
                # A chain damaged at `start` may end the reading there without
                # a word: the state, checked against chain.bin, then says why.
                _call(self._chain.state)
                return
            start += len(batch)
            chunk = 1024

    def _records(self, start: int, last: int, count: int) -> List[Tuple[Any, ...]]:
        return list(_call(self._chain.records, start, min(last, _LAST), count))

    # ---------------------------------------------------------------- appending

    def append(self, content_hash: bytes, content_type: str, private_key: Any,
               metadata: Optional[Dict[str, Any]] = None) -> AttestationChainRecord:
        """Appends one record signed by `private_key`; durable (fsynced) when
        it returns.  ChainAppendError if it failed or was refused (the key is
        not the chain's authorized signer, the chain is damaged or truncated);
        ValueError/TypeError for bad arguments."""
        return self.append_batch([(content_hash, content_type, metadata)], private_key)[0]

    def append_batch(self, entries: Iterable[Sequence[Any]],
                     private_key: Any) -> List[AttestationChainRecord]:
        """Appends several records, each (content_hash, content_type) or
        (content_hash, content_type, metadata), under one lock and one fsync:
        all or none.  Returns the records appended."""
        ents = []
        for e in entries:
            if not isinstance(e, (tuple, list)) or len(e) not in (2, 3):
                raise TypeError("each entry must be (content_hash, content_type[, metadata])")
            ents.append(_entry(e[0], e[1], e[2] if len(e) == 3 else None))
        key = self._signing_key(private_key)
        done = _call(self._chain.append, key, ents, cls=ChainAppendError)
        if not done:
            return []
        return self._appended(done[0][0], done[-1][0])

    def _appended(self, first: int, last: int) -> List[AttestationChainRecord]:
        # Read back by index: this store wrote them, under its lock, just now.
        return [_record(_call(self._chain.get, i)) for i in range(first, last + 1)]

    def append_key_rotation(self, old_private_key: Any,
                            new_private_key: Any) -> AttestationChainRecord:
        """Appends a key-rotation record signed by `old_private_key` that hands
        signing authority to `new_private_key` (a private key in any accepted
        form, or its 32-byte public key) from the next record on.  A rotation
        to the signing key itself is refused (ValueError) [fix]."""
        if isinstance(new_private_key, (bytes, bytearray, memoryview)) and \
                len(new_private_key) == 32:
            new_pub = bytes(new_private_key)
        else:
            new_pub = load_key(new_private_key).public_key
        old = self._signing_key(old_private_key)
        index, _hash = _call(self._chain.rotate, old, new_pub, cls=ChainAppendError)
        return self._appended(index, index)[0]

    # ---------------------------------------------------------------- verifying

    def verify(self, start: int = 0, end: Optional[int] = None, *,
               threads: int = 0) -> VerifyReport:
        """Verifies records start..end (docs/format.md section 11) and returns a report
        without raising for an invalid chain: `valid`, `index`, `reason`,
        `warnings`...  Raises ChainError only when it cannot run (I/O, or a
        damaged record before `start`).  `threads`: 0 for one per CPU."""
        start = _as_index(start)
        last = _LAST if end is None else _as_index(end)
        if start < 0:
            raise ValueError(f"start must be >= 0, not {start}")
        if last < start or start > _LAST:
            return _empty_report()  # as the original: nothing in the range
        if not os.path.exists(self._dir / "chain.bin"):
            # A directory without chain.bin is no chain: an error, never
            # "valid, 0 records" (as the library and `attestchain verify` say).
            raise ChainError(f"{self._dir}: no chain.bin here: nothing was ever appended, so "
                             "there is no chain to verify", code=_ext.ENOTFOUND)
        try:
            t = self._chain.verify(start, min(last, _LAST), threads)
        except _ext.LibError as e:
            code = e.args[0]
            if code == _ext.EINVAL and start > 0 and self._past_head(start):
                return _empty_report()  # as the original: nothing in the range
            _raise(e, ChainIntegrityError if code == _ext.ECORRUPT else ChainError)
        valid, records, index, reason, detail, warnings, total, chain_id, head_hash = t
        return VerifyReport(valid, index, reason or None, detail, records,
                            [VerifyWarning(w[0], None if w[1] < 0 else w[1], *w[2:])
                             for w in warnings], total, chain_id, head_hash)

    def _past_head(self, start: int) -> bool:
        st = self.state()
        return st is None or start > st.head_index

    def verify_chain(self, start: int = 0, end: Optional[int] = None) -> bool:
        """True if records start..end are valid; otherwise raises
        ChainIntegrityError naming the first failing record and the reason."""
        rep = self.verify(start, end)
        if not rep.valid:
            raise ChainIntegrityError(
                f"Record {rep.index}: {rep.reason}: {rep.detail}" if rep.detail
                else f"Record {rep.index}: {rep.reason}",
                index=rep.index, reason=rep.reason, report=rep)
        return True

    # ---------------------------------------------------------------- Python protocols

    def __len__(self) -> int:
        st = self.state()
        return 0 if st is None else st.record_count

    def __iter__(self) -> Iterator[AttestationChainRecord]:
        return self.iter_records()

    def __getitem__(self, i: Union[int, slice]) -> Any:
        """store[i] (negative counts from the end; IndexError past it) and
        store[a:b] (a list)."""
        if isinstance(i, slice):
            n = len(self)
            lo, hi, step = i.indices(n)
            if step != 1:
                return list(self[lo:hi])[::step] if step > 0 else \
                    [self[j] for j in range(lo, hi, step)]
            return list(self._iter(lo, hi - 1)) if hi > lo else []
        i = _as_index(i)
        if i < 0:
            i += len(self)
        if i < 0:
            raise IndexError("chain index out of range")
        try:
            return self.get(i)
        except ChainError as e:
            if e.code == _ext.ENOTFOUND:
                raise IndexError("chain index out of range") from None
            raise


def _as_index(v: Any) -> int:
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"an index must be an int, not {type(v).__name__}") from None


def _empty_report() -> VerifyReport:
    return VerifyReport(True, None, None, "", 0, [], 0, None, None)
