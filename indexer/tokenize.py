"""Lexical tokens for BM25: SudachiPy split mode A, normalised forms, no function words."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Any, Literal

from indexer.vocabulary import word_list

logger = logging.getLogger(__name__)

_LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.\-]*")

# Parts of speech that carry no topical meaning for retrieval.
_DROPPED_POS = {"助詞", "助動詞", "補助記号", "記号", "空白"}


_CHUNK_CHARS = 12_000


class Tokenizer:
    """Turns text into BM25 tokens; thread-safe (one Sudachi tokenizer per thread)."""

    def __init__(self) -> None:
        from sudachipy import Dictionary

        self._dictionary = Dictionary(dict="core")
        self._local = threading.local()

    def _sudachi(self, mode: Literal["A", "C"] = "A") -> Any:
        tokenizer = getattr(self._local, mode, None)
        if tokenizer is None:
            from sudachipy import SplitMode

            tokenizer = self._dictionary.tokenizer(getattr(SplitMode, mode))
            setattr(self._local, mode, tokenizer)
        return tokenizer

    def morphemes(self, text: str, mode: Literal["A", "C"] = "A") -> Any:
        """Sudachi's morphemes of ``text`` (at most 40,000 characters) in split mode ``mode``."""
        return self._sudachi(mode).tokenize(text[:40_000])

    def tokenize(self, text: str) -> list[str]:
        """Return the normalised content-word tokens of ``text`` (possibly empty)."""
        text = unicodedata.normalize("NFKC", text)
        text = "".join(ch if ch.isprintable() else " " for ch in text)
        if not text.strip():
            return []
        tokens: list[str] = []
        # Sudachi rejects inputs over 49,149 UTF-8 bytes: feed it pieces of at most
        # _CHUNK_CHARS characters (4 bytes each at most).
        for offset in range(0, len(text), _CHUNK_CHARS):
            tokens.extend(self._tokenize_piece(text[offset : offset + _CHUNK_CHARS]))
        return tokens

    def _tokenize_piece(self, text: str) -> list[str]:
        tokens: list[str] = []
        for morpheme in self._sudachi().tokenize(text):
            if morpheme.part_of_speech()[0] in _DROPPED_POS:
                continue
            surface = morpheme.surface()
            # Sudachi "normalises" English words to katakana (fields → フィールズ);
            # Latin-script tokens (DX, UNHCR, QR, English words) keep their spelling.
            if _LATIN.fullmatch(surface):
                token = surface.lower()
                # "IT" is a term, "it" a function word.
                if token in word_list("stopwords_en.txt") and not (
                    surface.isupper() and len(surface) > 1
                ):
                    continue
            else:
                token = morpheme.normalized_form().lower().strip()
            if not token:
                continue
            tokens.append(token)
        return tokens
