"""Dense scores of a query for every row of a FAISS index, exact or approximate (HNSW).

Fusion (service/fusion.py) needs a score for every passage and measure. An exact index
scores them all. An HNSW index returns its top ``candidates`` only: the other rows get the
expected score of a row (the mean over a fixed sample of rows, scored exactly), never more
than the lowest candidate, and the sample's exact scores give the z-score its true scale
(without them the constant fill would shrink the spread and inflate the dense signal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Top candidates asked of an approximate index: max(200, 10 × the largest k a search may ask).
MIN_CANDIDATES = 200
# Measures sampled (with all their passages) to estimate the exact scores' mean and spread.
SAMPLE_MEASURES = 256


def is_approximate(index: Any) -> bool:
    """Whether ``index`` (a faiss.Index) returns approximate top candidates (HNSW)."""
    import faiss

    return isinstance(index, faiss.IndexHNSW)


def candidate_count(max_k: int) -> int:
    return max(MIN_CANDIDATES, 10 * max_k)


def flat_vectors(index: Any) -> np.ndarray | None:
    """The (ntotal, d) float32 vectors a flat index holds, as a view (no copy); None for
    other kinds of index."""
    import faiss

    if not isinstance(index, faiss.IndexFlat) or index.ntotal == 0:
        return None
    data = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d)
    return np.asarray(data).reshape(index.ntotal, index.d)


def all_scores(index: Any, vector: np.ndarray, vectors: np.ndarray | None = None) -> np.ndarray:
    """Exact inner products of ``vector`` with every row of a flat index, in row order,
    computed over the index's own storage by FAISS's SIMD kernel on the calling thread
    (``faiss.Index.search`` with k = every row also sorts them all and starts OpenMP threads:
    several times slower at 13,000 rows on a busy 2-core machine; BENCHMARKS.md "Scale")."""
    if vectors is None:
        vectors = flat_vectors(index)
    if vectors is None:
        n = index.ntotal
        scores, ids = index.search(vector, n)
        out = np.empty(n, dtype=np.float64)
        out[ids[0]] = scores[0]
        return out
    import faiss

    query = np.ascontiguousarray(vector[0], dtype=np.float32)
    out = np.empty(len(vectors), dtype=np.float32)
    faiss.fvec_inner_products_ny(  # type: ignore[attr-defined]
        faiss.swig_ptr(out), faiss.swig_ptr(query), faiss.swig_ptr(vectors), *vectors.shape[::-1]
    )
    return out.astype(np.float64)


@dataclass(frozen=True)
class Sample:
    """Fixed rows of an index whose vectors are kept to score them exactly per query."""

    rows: np.ndarray
    vectors: np.ndarray  # float32, one row per sampled row

    @classmethod
    def of(cls, index: Any, rows: np.ndarray) -> Sample:
        vectors = np.vstack([index.reconstruct(int(r)) for r in rows]).astype(np.float32)
        return cls(np.asarray(rows, dtype=np.int64), vectors)

    def scores(self, vector: np.ndarray) -> np.ndarray:
        return np.asarray(self.vectors @ vector[0], dtype=np.float64)


def sample_rows(
    passage_measure: np.ndarray, n_measures: int, size: int = SAMPLE_MEASURES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evenly spaced measure rows (at most ``size``), all their passage rows, and each such
    passage's position among the sampled measures (for per-measure maxima)."""
    measures = np.unique(np.linspace(0, n_measures - 1, min(size, n_measures)).astype(np.int64))
    position = np.full(n_measures, -1, dtype=np.int64)
    position[measures] = np.arange(len(measures))
    passages = np.flatnonzero(position[passage_measure] >= 0)
    return measures, passages, position[passage_measure[passages]]


class DenseScorer:
    """Scores of query vectors against one FAISS index, for every row (see the module)."""

    def __init__(self, index: Any, candidates: int, sample: np.ndarray | None = None) -> None:
        self.index = index
        self.approximate = is_approximate(index)
        self.candidates = min(candidates, index.ntotal)
        self.sample: Sample | None = None
        self.vectors = None if self.approximate else flat_vectors(index)
        if self.approximate:
            index.hnsw.efSearch = max(self.candidates, 64)
            rows = np.arange(index.ntotal) if sample is None else np.asarray(sample)
            self.sample = Sample.of(index, rows)

    def scores(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """A score for every row, and the sample's exact scores (None for an exact index)."""
        if self.sample is None:
            return all_scores(self.index, vector, self.vectors), None
        sampled = self.sample.scores(vector)
        found, ids = self.index.search(vector, self.candidates)
        keep = ids[0] >= 0
        top, rows = found[0][keep].astype(np.float64), ids[0][keep]
        fill = float(sampled.mean())
        if top.size:
            fill = min(fill, float(top.min()))
        out = np.full(self.index.ntotal, fill, dtype=np.float64)
        out[rows] = top
        return out, sampled
