"""Score fusion: z-score normalisation, passage→measure aggregation, equal-weight sums."""

from __future__ import annotations

import numpy as np


def zscore(scores: np.ndarray) -> np.ndarray:
    """Standardise ``scores``; a constant vector (no signal) becomes all zeros."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    std = scores.std()
    if not np.isfinite(std) or std < 1e-12:
        return np.zeros_like(scores)
    return (scores - scores.mean()) / std


def max_per_group(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """For each group g, the maximum of ``values[groups == g]`` (-inf for empty groups)."""
    out = np.full(n_groups, -np.inf, dtype=np.float64)
    np.maximum.at(out, groups, values)
    return out


def fuse(signals: list[np.ndarray]) -> np.ndarray:
    """Equal-weight sum of z-scored signals (all of the same length)."""
    if not signals:
        raise ValueError("fuse needs at least one signal")
    total = np.zeros(len(signals[0]), dtype=np.float64)
    for signal in signals:
        total += zscore(signal)
    return total
