"""Byte-preserving edits of the user's TOML files (tomlkit)."""
