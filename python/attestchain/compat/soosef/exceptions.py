"""The original store's soosef.exceptions, on attestchain."""
from attestchain.models import ChainAppendError, ChainError, ChainIntegrityError

__all__ = ["ChainError", "ChainAppendError", "ChainIntegrityError"]
