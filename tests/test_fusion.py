"""Pure fusion logic: z-scores, per-measure maxima, equal-weight sums."""

from __future__ import annotations

import numpy as np
import pytest

from service.fusion import fuse, max_per_group, zscore


def test_zscore_standardises() -> None:
    z = zscore(np.array([1.0, 2.0, 3.0]))
    assert z.mean() == pytest.approx(0)
    assert z.std() == pytest.approx(1)


def test_constant_signal_carries_no_weight() -> None:
    assert np.all(zscore(np.array([0.0, 0.0, 0.0])) == 0)
    fused = fuse([np.array([0.0, 0.0, 0.0]), np.array([1.0, 3.0, 2.0])])
    assert list(np.argsort(-fused)) == [1, 2, 0]


def test_max_per_group_takes_best_passage_of_each_measure() -> None:
    values = np.array([0.1, 0.9, 0.4, 0.3])
    groups = np.array([0, 0, 1, 2])
    assert list(max_per_group(values, groups, 4)[:3]) == [0.9, 0.4, 0.3]
    assert max_per_group(values, groups, 4)[3] == -np.inf


def test_fusion_is_scale_invariant_per_signal() -> None:
    a, b = np.array([0.80, 0.82, 0.79]), np.array([10.0, 0.0, 4.0])
    assert np.allclose(fuse([a, b]), fuse([a * 100, b / 7]))


def test_fuse_needs_a_signal() -> None:
    with pytest.raises(ValueError):
        fuse([])


def _raw() -> tuple[object, np.ndarray]:
    from service.fusion import RawScores

    raw = RawScores(
        dense_passages=np.array([0.9, 0.1, 0.5]),
        dense_measures=np.array([0.2, 0.8]),
        lexical_passages=np.array([0.0, 5.0, 1.0]),
        second_passages=np.array([0.3, 0.6, 0.1]),
        second_measures=np.array([0.5, 0.5]),
    )
    return raw, np.array([0, 1, 1])


def test_switching_a_signal_off_removes_it() -> None:
    from service.fusion import Recipe, combine

    raw, groups = _raw()
    only_dense, _ = combine(raw, groups, 2, Recipe(second=False, lexical=False))  # type: ignore[arg-type]
    # dense alone: measure 0 = 0.9 + 0.5 × 0.2 = 1.0, measure 1 = 0.5 + 0.5 × 0.8 = 0.9
    assert list(np.argsort(-only_dense)) == [0, 1]
    only_lexical, passages = combine(raw, groups, 2, Recipe(dense=False, second=False))  # type: ignore[arg-type]
    assert list(np.argsort(-only_lexical)) == [1, 0]
    assert list(np.argsort(-passages)) == [1, 2, 0]


def test_whole_measure_weight_changes_the_order() -> None:
    from service.fusion import Recipe, combine

    raw, groups = _raw()
    recipe = Recipe(second=False, lexical=False, whole_measure_weight=2.0)
    scores, _ = combine(raw, groups, 2, recipe)  # type: ignore[arg-type]
    assert list(np.argsort(-scores)) == [1, 0]  # 0.9 + 0.4 < 0.5 + 1.6


def test_reciprocal_rank_fusion_uses_ranks_only() -> None:
    a, b = np.array([0.80, 0.82, 0.79]), np.array([10.0, 0.0, 4.0])
    assert np.allclose(fuse([a, b], "rrf"), fuse([a * 100, b**3], "rrf"))
