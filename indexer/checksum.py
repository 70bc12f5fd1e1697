"""The one file checksum (sha256) used for index files, report sources and models."""

from __future__ import annotations

import hashlib
from pathlib import Path

_HASH_BLOCK = 1 << 20


def sha256_file(path: Path) -> str:
    """The sha256 of one file, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
