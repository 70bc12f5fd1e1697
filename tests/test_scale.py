"""The approximate FAISS index (SHISAKU_FAISS_INDEX=hnsw): setting, manifest, scores, fusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.dense import DenseScorer, sample_rows
from service.fusion import RawScores, Recipe, SampleScores, combine, zscore


def _vectors(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _index(vectors: np.ndarray, kind: str, tmp_path: Path):  # noqa: ANN202
    import faiss

    from indexer.build import _write_faiss

    path = tmp_path / f"{kind}.faiss"
    _write_faiss(path, vectors, kind)
    return faiss.read_index(str(path))


def test_bad_faiss_index_setting_is_a_startup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.config import load_settings
    from service.errors import ConfigError

    monkeypatch.setenv("SHISAKU_FAISS_INDEX", "ivf")
    with pytest.raises(ConfigError, match="SHISAKU_FAISS_INDEX"):
        load_settings()
    monkeypatch.setenv("SHISAKU_FAISS_INDEX", "hnsw")
    assert load_settings().faiss_index == "hnsw"
    monkeypatch.delenv("SHISAKU_FAISS_INDEX")
    assert load_settings().faiss_index == "exact"


def test_hnsw_scores_agree_with_exact_on_the_top(tmp_path: Path) -> None:
    vectors = _vectors(3000)
    exact = DenseScorer(_index(vectors, "exact", tmp_path), 200)
    approx = DenseScorer(_index(vectors, "hnsw", tmp_path), 200, np.arange(0, 3000, 7))
    assert not exact.approximate and approx.approximate
    recalls = []
    for query in _vectors(20, seed=1):
        q = query[None, :]
        full, none = exact.scores(q)
        partial, sample = approx.scores(q)
        assert none is None and sample is not None and len(sample) == len(range(0, 3000, 7))
        assert np.allclose(full, vectors @ query, atol=1e-5)
        top = np.argsort(-full)[:10]
        assert np.argmax(partial) == top[0]
        recalls.append(len(set(top) & set(np.argsort(-partial, kind="stable")[:10])) / 10)
        # the rest hold one fill value: at most the lowest candidate, about the mean
        candidates = np.argsort(-partial)[:200]
        rest = np.setdiff1d(np.arange(3000), candidates)
        assert np.ptp(partial[rest]) == 0
        assert partial[rest][0] <= partial[candidates].min()
        assert np.allclose(sample, full[np.arange(0, 3000, 7)], atol=1e-5)
    assert np.mean(recalls) >= 0.95


def test_zscore_takes_its_scale_from_the_reference() -> None:
    reference = np.array([0.0, 1.0, 2.0, 3.0])
    z = zscore(np.array([3.0, 1.5]), reference)
    assert np.allclose(z, (np.array([3.0, 1.5]) - 1.5) / reference.std())
    assert np.allclose(zscore(np.array([1.0, 2.0]), np.array([5.0])), zscore(np.array([1.0, 2.0])))


def test_fusion_of_top_candidates_ranks_as_exact() -> None:
    """Dense scores known on their top candidates only (the rest filled), with an exact
    sample for the scale, fuse to the same best measures as the exact scores."""
    rng = np.random.default_rng(3)
    n_measures, per = 400, 4
    groups = np.repeat(np.arange(n_measures), per)
    dense_p = rng.normal(0.80, 0.03, n_measures * per)
    dense_m = rng.normal(0.78, 0.03, n_measures)
    lexical = np.maximum(rng.normal(0, 2, n_measures * per), 0)
    exact = RawScores(dense_p, dense_m, lexical)
    measures_s, passages_s, sample_groups = sample_rows(groups, n_measures, 64)

    def partial(values: np.ndarray, keep: int) -> np.ndarray:
        top = np.argsort(-values)[:keep]
        out = np.full(len(values), min(values[top].min(), values.mean()))
        out[top] = values[top]
        return out

    approx = RawScores(
        partial(dense_p, 500),  # the engine's candidates at the default max_k (50)
        partial(dense_m, 200),
        lexical,
        dense_sample=SampleScores(dense_p[passages_s], dense_m[measures_s], sample_groups),
    )
    recipe = Recipe(second=False)
    m_exact, p_exact = combine(exact, groups, n_measures, recipe)
    m_approx, p_approx = combine(approx, groups, n_measures, recipe)
    assert np.argmax(m_exact) == np.argmax(m_approx)
    # a measure with no dense candidate gets the mean dense score, not its own: the top 10
    # may differ a little where BM25 alone carries a measure
    overlap = set(np.argsort(-m_exact)[:10]) & set(np.argsort(-m_approx)[:10])
    assert len(overlap) >= 8
    assert np.argmax(p_exact) == np.argmax(p_approx)
    # the sample keeps the candidates' z-scores near the exact ones; the filled rows alone
    # would narrow the spread and inflate them
    top = np.argsort(-dense_p)[:50]
    exact_z = zscore(dense_p)[top]
    scaled = zscore(approx.dense_passages, approx.dense_sample.passages)[top]  # type: ignore[union-attr]
    unscaled = zscore(approx.dense_passages)[top]
    assert np.abs(scaled - exact_z).max() < 0.25 < np.abs(unscaled - exact_z).max()


def test_hnsw_index_is_recorded_searched_and_checked(tmp_path: Path, fake_encoder) -> None:
    from indexer.build import build_index
    from indexer.manifest import faiss_kind
    from service.config import Settings
    from service.engine import check_index_for_models, load_engine
    from service.errors import IndexError_

    root = Path(__file__).resolve().parents[1]
    engines = {}
    for kind in ("exact", "hnsw"):
        settings = Settings(
            corpus=root / "data" / "reports",
            index_dir=tmp_path / kind / "index",
            model_cache=tmp_path / "no-models",
            glossary=root / "data" / "glossary" / "en_ja.tsv",
            second_encoder="none",
            faiss_index=kind,
            max_k=5,
        )
        manifest = build_index(
            settings.corpus, settings.index_dir, fake_encoder, None, faiss_index=kind
        )
        assert faiss_kind(manifest) == kind
        if kind == "hnsw":
            assert manifest["faiss_index"] == {"kind": "hnsw", "M": 32, "ef_construction": 80}
            wrong = settings.model_copy(update={"faiss_index": "exact"})
            with pytest.raises(IndexError_, match="SHISAKU_FAISS_INDEX"):
                load_engine(wrong, encoders=(fake_encoder, None), long_running=False)
            with pytest.raises(IndexError_, match="SHISAKU_FAISS_INDEX"):
                check_index_for_models(wrong)
        engines[kind] = load_engine(settings, encoders=(fake_encoder, None), long_running=False)
    assert engines["hnsw"]._scorers["dense_passages"].approximate
    for query in ("難民認定", "技能実習制度の見直し", "在留カード"):
        tops = [engines[kind].search(query, k=3).results[0].measure.key for kind in engines]
        assert tops[0] == tops[1], query
