"""The original store's package `soosef.federation`, on attestchain."""
