"""The original store's soosef.federation.models, on attestchain."""
from attestchain.models import AttestationChainRecord, ChainState

__all__ = ["AttestationChainRecord", "ChainState"]
