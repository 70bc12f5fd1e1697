"""Researcher tools over a loaded engine: batch search, free-text similarity, vectors, a 2-D layout.

Thin front ends (HTTP routes in ``service.http.research``, CLI commands in ``service.cli``)
call these functions and only format their typed results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.records import Measure
from service.errors import InvalidRequest
from service.index import LoadedIndex
from service.search import SearchEngine, SearchOutcome


@dataclass(frozen=True)
class SimilarHit:
    measure: Measure
    score: float


@dataclass(frozen=True)
class MeasurePoint:
    """One measure placed on a 2-D map."""

    measure: Measure
    x: float
    y: float


@dataclass(frozen=True)
class MeasureMap:
    points: tuple[MeasurePoint, ...]
    explained: tuple[float, float]  # share of variance on each axis


@dataclass(frozen=True)
class SimilarityMatrix:
    numbers: tuple[int, ...]
    statuses: tuple[str, ...]
    values: np.ndarray  # (n, n) cosine similarities of whole-measure vectors


def search_many(
    engine: SearchEngine,
    queries: Sequence[str],
    k: int = 10,
    statuses: Sequence[str] | None = None,
) -> list[SearchOutcome]:
    """Search up to ``engine.max_batch`` queries at once (SHISAKU_MAX_BATCH), encoded together."""
    if isinstance(queries, str) or not isinstance(queries, Sequence):
        raise InvalidRequest("queries must be a list of strings")
    if not queries:
        raise InvalidRequest("queries is empty; give at least one query")
    return engine.search_batch(list(queries), k=k, statuses=statuses)


def similar_to_text(engine: SearchEngine, text: str, k: int = 5) -> list[SimilarHit]:
    """Measures most similar to any free text (a paragraph, a draft, another report's item)."""
    return [SimilarHit(measure, score) for measure, score in engine.similar_to_text(text, k=k)]


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def measure_vectors(index: LoadedIndex) -> np.ndarray:
    """Whole-measure vectors of the dense model, one row per measure in index order."""
    vectors = index.dense_measures
    return np.asarray(vectors.reconstruct_n(0, vectors.ntotal), dtype=np.float32)


def passage_vectors(index: LoadedIndex) -> np.ndarray:
    """Passage vectors of the dense model, one row per passage in index order."""
    vectors = index.dense_passages
    return np.asarray(vectors.reconstruct_n(0, vectors.ntotal), dtype=np.float32)


def project_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """PCA to two dimensions by SVD of the centred (unit-length) vectors.

    The sign of each axis is fixed (largest loading positive) so maps are stable across runs.
    """
    x = _normalized(vectors)
    x = x - x.mean(axis=0, keepdims=True)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    coords = u[:, :2] * s[:2]
    for axis in range(coords.shape[1]):
        if vt[axis][np.argmax(np.abs(vt[axis]))] < 0:
            coords[:, axis] = -coords[:, axis]
    total = float((s**2).sum()) or 1.0
    explained = (float(s[0] ** 2 / total), float(s[1] ** 2 / total) if len(s) > 1 else 0.0)
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((coords.shape[0], 1))])
    return coords, explained


def measure_map(index: LoadedIndex) -> MeasureMap:
    """A 2-D map of all measures: PCA of their whole-measure embeddings (no model needed)."""
    coords, explained = project_2d(measure_vectors(index))
    points = tuple(
        MeasurePoint(measure, float(x), float(y))
        for measure, (x, y) in zip(index.measures, coords, strict=True)
    )
    return MeasureMap(points=points, explained=explained)


def similarity_matrix(index: LoadedIndex) -> SimilarityMatrix:
    """Cosine similarity of every pair of measures (whole-measure vectors; no model needed)."""
    x = _normalized(measure_vectors(index))
    measures = index.measures
    return SimilarityMatrix(
        numbers=tuple(m.number for m in measures),
        statuses=tuple(m.status for m in measures),
        values=np.clip(x @ x.T, -1.0, 1.0),
    )
