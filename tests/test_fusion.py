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
