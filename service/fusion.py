"""The scoring recipe: which signals read which query text, and how they are fused.

The defaults are the service's measured choices (BENCHMARKS.md); ``benchmarks/ablation.py``
switches parts off to show what each one earns, through the same code the service runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Recipe:
    """How retrieval signals are combined into measure and passage scores."""

    dense: bool = True  # e5 (the embedded model)
    second: bool = True  # USE v3, when loaded
    lexical: bool = True  # BM25 over SudachiPy tokens
    whole_measure_weight: float = 0.5  # measure = best passage + w × whole measure (dense)
    second_whole_measure_weight: float = 0.5  # the same for the second encoder
    dense_reads_glossary: bool = True  # English queries: glossary terms appended
    lexical_reads_glossary: bool = True
    second_reads_glossary: bool = False  # USE reads English as written (measured better)
    method: Literal["zscore", "rrf"] = "zscore"


@dataclass(frozen=True)
class SampleScores:
    """Exact scores of a fixed sample (measures with all their passages) for an encoder whose
    index returned top candidates only (HNSW, service/dense.py): the sample's mean and spread
    are the z-score's, as an exact search would have them."""

    passages: np.ndarray
    measures: np.ndarray
    groups: np.ndarray  # each sampled passage's position among the sampled measures

    def measure_signal(self, weight: float) -> np.ndarray:
        """The sample's measure signal: best passage + ``weight`` × whole measure."""
        return max_per_group(self.passages, self.groups, len(self.measures)) + (
            weight * self.measures
        )


@dataclass(frozen=True)
class RawScores:
    """Every raw signal of one query: per passage, and per whole measure for the encoders."""

    dense_passages: np.ndarray
    dense_measures: np.ndarray
    lexical_passages: np.ndarray
    second_passages: np.ndarray | None = None
    second_measures: np.ndarray | None = None
    extra_passages: np.ndarray | None = None  # a further passage-level signal (ablations)
    dense_sample: SampleScores | None = None  # set when the dense index is approximate
    second_sample: SampleScores | None = None


def zscore(scores: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Standardise ``scores`` by their own mean and spread, or by those of ``reference`` (exact
    scores of a sample, when ``scores`` are exact on top candidates only); a constant
    vector (no signal) becomes all zeros."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    basis = scores if reference is None or np.size(reference) < 2 else np.asarray(reference)
    std = basis.std()
    if not np.isfinite(std) or std < 1e-12:
        return np.zeros_like(scores)
    return (scores - basis.mean()) / std


def reciprocal_ranks(scores: np.ndarray, k: int = 60) -> np.ndarray:
    """1 / (k + rank), rank 1 for the best score (reciprocal-rank fusion's term)."""
    ranks = np.empty(len(scores))
    ranks[np.argsort(-np.asarray(scores), kind="stable")] = np.arange(1, len(scores) + 1)
    return 1.0 / (k + ranks)


def max_per_group(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """For each group g, the maximum of ``values[groups == g]`` (-inf for empty groups)."""
    out = np.full(n_groups, -np.inf, dtype=np.float64)
    np.maximum.at(out, groups, values)
    return out


def fuse(
    signals: list[np.ndarray],
    method: Literal["zscore", "rrf"] = "zscore",
    references: list[np.ndarray | None] | None = None,
) -> np.ndarray:
    """Equal-weight sum of normalised signals (all of the same length); ``references[i]``,
    when given, is the exact sample that sets signal i's z-score scale."""
    if not signals:
        raise ValueError("fuse needs at least one signal")
    references = references or [None] * len(signals)
    total = np.zeros(len(signals[0]), dtype=np.float64)
    for signal, reference in zip(signals, references, strict=True):
        total += zscore(signal, reference) if method == "zscore" else reciprocal_ranks(signal)
    return total


def combine(
    raw: RawScores, groups: np.ndarray, n_measures: int, recipe: Recipe
) -> tuple[np.ndarray, np.ndarray]:
    """Fused (measure scores, passage scores) of one query under ``recipe``.

    ``groups`` maps each passage row to its measure row. A measure's signal per encoder is
    its best passage plus a weight times the whole-measure similarity; BM25 takes the best
    passage. Passages are scored by the same signals, without the whole-measure term.
    """
    measure_signals: list[np.ndarray] = []
    passage_signals: list[np.ndarray] = []
    measure_refs: list[np.ndarray | None] = []
    passage_refs: list[np.ndarray | None] = []

    def encoder(
        passages: np.ndarray, measures: np.ndarray, weight: float, sample: SampleScores | None
    ) -> None:
        passage_signals.append(passages)
        measure_signals.append(max_per_group(passages, groups, n_measures) + weight * measures)
        passage_refs.append(None if sample is None else sample.passages)
        measure_refs.append(None if sample is None else sample.measure_signal(weight))

    if recipe.dense:
        encoder(
            raw.dense_passages, raw.dense_measures, recipe.whole_measure_weight, raw.dense_sample
        )
    if recipe.lexical:
        passage_signals.append(raw.lexical_passages)
        measure_signals.append(max_per_group(raw.lexical_passages, groups, n_measures))
        passage_refs.append(None)
        measure_refs.append(None)
    if recipe.second and raw.second_passages is not None and raw.second_measures is not None:
        encoder(
            raw.second_passages,
            raw.second_measures,
            recipe.second_whole_measure_weight,
            raw.second_sample,
        )
    if raw.extra_passages is not None:
        passage_signals.append(raw.extra_passages)
        measure_signals.append(max_per_group(raw.extra_passages, groups, n_measures))
        passage_refs.append(None)
        measure_refs.append(None)
    return (
        fuse(measure_signals, recipe.method, measure_refs),
        fuse(passage_signals, recipe.method, passage_refs),
    )
