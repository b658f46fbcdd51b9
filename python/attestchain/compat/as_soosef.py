"""Importing this makes the original store's modules (`soosef`,
`soosef.exceptions`, `soosef.federation`, `soosef.federation.chain`,
`soosef.federation.models`) the attestchain ones, so that a program's own
imports of them stay as they are.  Import it before them; if the original
`soosef` was imported already, this raises ImportError rather than mix the two.
"""
import sys

from attestchain.compat import soosef
from attestchain.compat.soosef import exceptions, federation
from attestchain.compat.soosef.federation import chain, models

_MODULES = {
    "soosef": soosef,
    "soosef.exceptions": exceptions,
    "soosef.federation": federation,
    "soosef.federation.chain": chain,
    "soosef.federation.models": models,
}

for _name, _module in _MODULES.items():
    _there = sys.modules.get(_name)
    if _there is not None and _there is not _module:
        raise ImportError(f"{_name} is imported already (from {getattr(_there, '__file__', '?')}); "
                          "import attestchain.compat.as_soosef before it")
for _name, _module in _MODULES.items():
    sys.modules[_name] = _module
