"""Module paths of the original Python store, on attestchain.

A program written for the original changes its import line

    from soosef.federation.chain import ChainStore
to
    from attestchain.compat.soosef.federation.chain import ChainStore

(and likewise `soosef.exceptions` / `soosef.federation.models` under
`attestchain.compat.`).  A program with many such imports may instead leave
them all as they are and put one line before them:

    import attestchain.compat.as_soosef  # noqa: F401

which makes `soosef`, `soosef.exceptions`, `soosef.federation`,
`soosef.federation.chain` and `soosef.federation.models` these modules.
"""
