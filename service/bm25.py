"""BM25 scores of a query's tokens from the index's precomputed score matrix, without bm25s.

``shisaku index`` builds the BM25 index with bm25s and saves it in bm25s's layout: a CSC
matrix of each (token, passage) score, the vocabulary and the parameters. Scoring a query then
only adds up the columns of its tokens, which is all this module does, exactly as bm25s does
it (same float32 sums, in the same order), so that serving imports neither bm25s nor scipy
(~0.2 s of every start). ``tests/test_bm25.py`` checks the scores against bm25s's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA_FILE = "data.csc.index.npy"
INDICES_FILE = "indices.csc.index.npy"
INDPTR_FILE = "indptr.csc.index.npy"
VOCAB_FILE = "vocab.index.json"
PARAMS_FILE = "params.index.json"
NONOCCURRENCE_FILE = "nonoccurrence_array.index.npy"
NONOCCURRENCE_METHODS = ("bm25l", "bm25+")  # bm25s adds a non-occurrence score for these


@dataclass(frozen=True)
class Bm25Index:
    """The saved BM25 index: ``scores`` (bm25s's names: data, indices, indptr, num_docs) and
    ``vocab_dict`` (token → column), as ``bm25s.BM25`` holds them."""

    scores: dict[str, Any]
    vocab_dict: dict[str, int]
    nonoccurrence: np.ndarray | None = None
    dtype: str = "float32"

    @classmethod
    def load(cls, path: Path) -> Bm25Index:
        """Read the folder ``bm25s.BM25.save`` wrote; OSError or ValueError when unusable."""
        path = Path(path)
        params = json.loads((path / PARAMS_FILE).read_text(encoding="utf-8"))
        vocab = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))
        if not isinstance(params, dict) or not isinstance(vocab, dict):
            raise ValueError(f"{path} holds no BM25 parameters or vocabulary")
        indptr = np.load(path / INDPTR_FILE, allow_pickle=False)
        scores = {
            "data": np.load(path / DATA_FILE, allow_pickle=False),
            "indices": np.load(path / INDICES_FILE, allow_pickle=False),
            "indptr": indptr,
            "num_docs": int(params["num_docs"]),
        }
        stored = len(scores["data"])
        if len(scores["indices"]) != stored or int(indptr[-1]) != stored:
            raise ValueError(f"{path}: the score matrix's arrays do not fit together")
        # bm25s appends an empty token of its own, past the matrix's last column.
        if any(not 0 <= column < len(indptr) - 1 for token, column in vocab.items() if token):
            raise ValueError(f"{path}: the vocabulary names more tokens than the matrix holds")
        nonoccurrence = None
        if params.get("method") in NONOCCURRENCE_METHODS:
            nonoccurrence = np.load(path / NONOCCURRENCE_FILE, allow_pickle=False)
        return cls(scores, vocab, nonoccurrence, str(params.get("dtype", "float32")))

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        """Each passage's BM25 score of ``tokens`` (unknown and empty ones are left out; a
        repeated one counts each time), as ``bm25s.BM25.get_scores``."""
        ids = np.asarray(
            [self.vocab_dict[t] for t in tokens if t and t in self.vocab_dict], dtype=np.int64
        )
        data, indices, indptr = self.scores["data"], self.scores["indices"], self.scores["indptr"]
        scores = np.zeros(self.scores["num_docs"], dtype=np.dtype(self.dtype))
        for start, end in zip(indptr[ids], indptr[ids + 1]):
            np.add.at(scores, indices[start:end], data[start:end])
        if self.nonoccurrence is not None:
            scores += self.nonoccurrence[ids].sum()
        return scores
