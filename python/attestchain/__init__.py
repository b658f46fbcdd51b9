"""attestchain: a tamper-evident, append-only chain of Ed25519-signed
attestation records, on the C library libattestchain.

    from attestchain import ChainStore
    with ChainStore("mychain") as store:
        rec = store.append(hashlib.sha256(data).digest(), "image/jpeg", key,
                           {"place": "Kyiv"})
        report = store.verify()

ChainStore has the original Python store's interface (and its record, state
and exception classes); `attestchain.compat.soosef.federation.chain` is that
store's module path, so that a program changes one import line.  See
python/README.md for what differs, and why.
"""
import os

from . import _attestchain
from .models import (AttestationChainRecord, ChainAppendError, ChainError, ChainIntegrityError,
                     ChainState, VerifyReport, VerifyWarning)
from .store import ChainStore, Key, load_key

__version__ = _attestchain.VERSION
CONTENT_TYPE_KEY_ROTATION = _attestchain.ROTATION_CONTENT_TYPE
MAX_RECORD_SIZE = _attestchain.MAX_RECORD_SIZE


def sha256_file(path: "str | bytes | os.PathLike[str] | os.PathLike[bytes]") -> bytes:
    """SHA-256 of a file, streamed in large reads with the GIL released."""
    try:
        digest: bytes = _attestchain.sha256_file(path)
        return digest
    except _attestchain.LibError as e:
        code, sys_errno, _index, message = e.args
        raise OSError(sys_errno or None, message) from None


__all__ = [
    "AttestationChainRecord", "ChainAppendError", "ChainError", "ChainIntegrityError",
    "ChainState", "ChainStore", "CONTENT_TYPE_KEY_ROTATION", "Key", "MAX_RECORD_SIZE",
    "VerifyReport", "VerifyWarning", "load_key", "sha256_file",
]
