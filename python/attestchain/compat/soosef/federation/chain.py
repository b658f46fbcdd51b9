"""The original store's soosef.federation.chain, on attestchain: the names
that module defined or imported for its users."""
from attestchain import CONTENT_TYPE_KEY_ROTATION, MAX_RECORD_SIZE
from attestchain.models import (AttestationChainRecord, ChainAppendError, ChainError,
                                ChainIntegrityError, ChainState)
from attestchain.store import ChainStore

__all__ = [
    "AttestationChainRecord", "ChainAppendError", "ChainError", "ChainIntegrityError",
    "ChainState", "ChainStore", "CONTENT_TYPE_KEY_ROTATION", "MAX_RECORD_SIZE",
]
