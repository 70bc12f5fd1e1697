"""Lexical tokens for BM25: SudachiPy split mode A, normalised forms, no function words."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Any

logger = logging.getLogger(__name__)

_LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.\-]*")

# Parts of speech that carry no topical meaning for retrieval.
_DROPPED_POS = {"助詞", "助動詞", "補助記号", "記号", "空白"}
# English function words that appear in questions but never in the corpus vocabulary.
_ENGLISH_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how i in is it its of on or "
    "that the their there these this to was were what when where which who why will with "
    "about any all can could into me my our should so than them they us we you your".split()
)


_CHUNK_CHARS = 12_000


class Tokenizer:
    """Turns text into BM25 tokens; thread-safe (one Sudachi tokenizer per thread)."""

    def __init__(self) -> None:
        from sudachipy import Dictionary

        self._dictionary = Dictionary(dict="core")
        self._local = threading.local()

    def _sudachi(self) -> Any:
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            from sudachipy import SplitMode

            tokenizer = self._dictionary.tokenizer(SplitMode.A)
            self._local.tokenizer = tokenizer
        return tokenizer

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
                if token in _ENGLISH_STOPWORDS and not (surface.isupper() and len(surface) > 1):
                    continue
            else:
                token = morpheme.normalized_form().lower().strip()
            if not token:
                continue
            tokens.append(token)
        return tokens

    def tokenize_batch(self, texts: list[str]) -> list[list[str]]:
        return [self.tokenize(text) for text in texts]
