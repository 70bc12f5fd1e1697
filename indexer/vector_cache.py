"""Passage vectors cached by content hash, so a rebuild embeds only the texts that changed."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

Encode = Callable[[list[str]], np.ndarray]


def text_key(model_key: str, text: str) -> str:
    """The cache key of one text's vector under one model."""
    return hashlib.sha256(f"{model_key}\x1f{text}".encode()).hexdigest()


class VectorCache:
    """A folder of ``.npy`` files, one per group of texts (a report's passages, a report's
    measures), keyed by the model and the texts' content. A group whose texts did not change
    is read back instead of embedded again. Reading or writing failures only cost time: the
    vectors are then computed."""

    def __init__(self, folder: Path | None, model_key: str) -> None:
        self.model_key = model_key
        self.folder = None if folder is None else Path(folder) / text_key("model", model_key)[:16]
        self.hits = 0
        self.misses = 0

    def _path(self, texts: Sequence[str]) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / (text_key(self.model_key, "\x1e".join(texts)) + ".npy")

    def encode(self, encode: Encode, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``: read from the cache when the same texts were embedded before
        by the same model, otherwise computed with ``encode`` and stored."""
        path = self._path(texts)
        if path is not None and path.is_file():
            try:
                vectors = np.load(path, allow_pickle=False)
                if vectors.shape[0] == len(texts):
                    self.hits += len(texts)
                    return np.asarray(vectors, dtype=np.float32)
            except (OSError, ValueError) as exc:
                logger.warning("ignoring unreadable cached vectors %s: %s", path, exc)
        vectors = np.asarray(encode(list(texts)), dtype=np.float32)
        self.misses += len(texts)
        if path is not None:
            self._store(path, vectors)
        return vectors

    def _store(self, path: Path, vectors: np.ndarray) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                np.save(out, vectors, allow_pickle=False)
            os.replace(tmp, path)
        except OSError as exc:  # a read-only cache only costs time
            logger.warning("could not cache vectors in %s: %s", path.parent, exc)
