"""Researcher tools over a loaded engine: batch search, free-text similarity, vectors, a 2-D layout.

Thin front ends (HTTP routes in ``service.http.research``, CLI commands in ``service.cli``)
call these functions and only format their typed results.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.records import Measure
from indexer.tokenize import Tokenizer
from indexer.vocabulary import word_list
from service.errors import InvalidRequest
from service.index import LoadedIndex
from service.search import SearchEngine, SearchOutcome

TITLE_CHARS = 10  # a short title is at most this long (one compound noun)


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
    title: str = ""  # a short title: the measure's most distinctive compound noun


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
    reports: Sequence[str] | None = None,
    editions: str = "latest",
) -> list[SearchOutcome]:
    """Search up to ``engine.max_batch`` queries at once (SHISAKU_MAX_BATCH), encoded together."""
    if isinstance(queries, str) or not isinstance(queries, Sequence):
        raise InvalidRequest("queries must be a list of strings")
    if not queries:
        raise InvalidRequest("queries is empty; give at least one query")
    return engine.search_batch(
        list(queries), k=k, statuses=statuses, reports=reports, editions=editions
    )


def similar_to_text(
    engine: SearchEngine,
    text: str,
    k: int = 5,
    reports: Sequence[str] | None = None,
    editions: str = "latest",
) -> list[SimilarHit]:
    """Measures most similar to any free text (a paragraph, a draft, another report's item)."""
    scope = engine.validate_scope(reports, editions)
    pairs = engine.similar_to_text(text, k=k, scope=scope)
    return [SimilarHit(measure, score) for measure, score in pairs]


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


def _compounds(tokenizer: Tokenizer, text: str) -> list[str]:
    """Runs of nouns (with their prefixes and suffixes) in ``text``: 特定+技能+２+号."""
    skip = word_list("unmarked_ja.txt") | word_list("generic_nouns_ja.txt")
    found: list[str] = []
    run: list[str] = []
    for morpheme in tokenizer.morphemes(text, "A"):
        pos = morpheme.part_of_speech()
        surface = morpheme.surface()
        joins = (
            (
                pos[0] == "名詞"
                and pos[1] in ("普通名詞", "固有名詞", "数詞")
                and pos[2] != "副詞可能"
            )
            or pos[0] == "接頭辞"
            or (pos[0] == "接尾辞" and pos[1] == "名詞的" and surface != "等")
        )
        if joins and not run and surface in ("同", "各", "諸"):
            joins = False  # "the same …", "each …": not the start of a name
        if joins:
            run.append(surface)
            continue
        if run:
            found.append("".join(run))
            run = []
    if run:
        found.append("".join(run))
    return [c for c in found if 2 <= len(c) <= TITLE_CHARS and c not in skip and not c.isdigit()]


def short_titles(measures: Sequence[Measure], tokenizer: Tokenizer) -> dict[tuple[str, int], str]:
    """A short title per measure: the compound noun of its target (counted thrice) and
    explanation that is most frequent there and rarest in the other measures (TF-IDF, longer
    names preferred), each title used once."""
    texts = {m.key: m.target + m.explanation + m.notes for m in measures}
    used: set[str] = set()
    titles: dict[tuple[str, int], str] = {}
    for measure in measures:
        counts = Counter(
            _compounds(tokenizer, measure.target) * 3 + _compounds(tokenizer, measure.explanation)
        )

        def weight(name: str, counts: Counter[str] = counts) -> float:
            spread = sum(1 for text in texts.values() if name in text) or 1
            return counts[name] * math.log((len(texts) + 1) / spread) * min(len(name), 6)

        ranked = sorted(counts, key=lambda name: (-weight(name), name))
        title = next((name for name in ranked if name not in used), "")
        used.add(title)
        titles[measure.key] = title
    return titles


def measure_map(index: LoadedIndex, tokenizer: Tokenizer) -> MeasureMap:
    """A 2-D map of all measures: PCA of their whole-measure embeddings, with short titles
    (no model needed: the vectors are the index's)."""
    coords, explained = project_2d(measure_vectors(index))
    titles = short_titles(index.measures, tokenizer)
    points = tuple(
        MeasurePoint(measure, float(x), float(y), titles.get(measure.key, ""))
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
