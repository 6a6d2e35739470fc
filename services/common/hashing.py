"""64-bit keys of natural text keys: plain functions, no storage (the domain computes them)."""

from __future__ import annotations

import hashlib


def hash64(text: str | bytes) -> int:
    """A signed 64-bit key for a natural text key (looked up by integer index); migrations
    can call it as the SQL function hash64(text)."""
    data = text.encode() if isinstance(text, str) else text
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)
