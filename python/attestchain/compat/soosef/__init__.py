"""The original store's package `soosef`, on attestchain."""
