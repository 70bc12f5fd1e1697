"""The serving path's BM25 (service.bm25, no bm25s) scores exactly as bm25s does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer import manifest as layout
from service.bm25 import Bm25Index

ROOT = Path(__file__).resolve().parents[1]


def _questions() -> list[str]:
    path = ROOT / "data" / "eval" / "questions.jsonl"
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_scores_equal_bm25s_on_the_report_for_every_question(fake_settings, fake_engine) -> None:
    import bm25s

    folder = Path(fake_settings.index_dir) / layout.BM25_DIR
    ours, theirs = Bm25Index.load(folder), bm25s.BM25.load(str(folder))
    assert ours.vocab_dict == theirs.vocab_dict
    tokenize = fake_engine.tokenizer.tokenize
    checked = 0
    for question in _questions():
        tokens = tokenize(question)
        if not tokens:
            continue
        for query in (tokens, tokens + tokens[:1], [*tokens, "語彙にない語"]):
            expected = theirs.get_scores(query)
            got = ours.get_scores(query)
            assert got.dtype == expected.dtype and np.array_equal(got, expected), question
        checked += 1
    assert checked > 100
    assert not ours.get_scores(["語彙にない語"]).any() and not ours.get_scores([]).any()


@pytest.mark.parametrize("method", ["lucene", "bm25+"])
def test_scores_equal_bm25s_for_each_method(tmp_path: Path, method: str) -> None:
    import bm25s

    corpus = [["保証", "金", "送出"], ["住民", "地域", "住民"], ["住民", "更新", "申請"], ["金"]]
    retriever = bm25s.BM25(method=method)
    retriever.index(corpus, show_progress=False)
    retriever.save(str(tmp_path))
    ours = Bm25Index.load(tmp_path)
    for query in (["住民"], ["住民", "住民", "金"], ["申請", "ない"], ["保証", "送出", "地域"]):
        assert np.array_equal(ours.get_scores(query), retriever.get_scores(query)), query


def test_a_damaged_folder_is_refused(tmp_path: Path) -> None:
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([["住民", "地域"], ["更新"]], show_progress=False)
    retriever.save(str(tmp_path))
    np.save(tmp_path / "indices.csc.index.npy", np.zeros(1, dtype=np.int32))
    with pytest.raises(ValueError, match="do not fit together"):
        Bm25Index.load(tmp_path)
