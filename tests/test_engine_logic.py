"""Search and answer logic over the fake-encoder index (fast tier: no real model)."""

from __future__ import annotations

import pytest

from service.answer import answer_question
from service.cpus import CpuSteering
from service.errors import InvalidRequest, NotFound

IN_PROGRESS = {1, 2, 4, 17, 21, 28, 29}
UNDER_CONSIDERATION = {3, 11, 20}


def test_status_filter_keeps_only_that_status(fake_engine) -> None:
    outcome = fake_engine.search("外国人", k=10, statuses=["検討中"])
    assert {hit.measure.number for hit in outcome.results} == UNDER_CONSIDERATION


def test_status_only_question_lists_every_measure_with_it(fake_engine) -> None:
    outcome = fake_engine.search("実施中の施策は?", k=1)
    assert {hit.measure.number for hit in outcome.results} == IN_PROGRESS


def test_passages_are_spans_of_their_measure(fake_engine) -> None:
    for hit in fake_engine.search("オンライン申請", k=5).results:
        for p in hit.passages:
            text = hit.measure.field_text(p.passage.field)
            assert text[p.passage.start : p.passage.end] == p.passage.text


def test_results_are_ranked_by_score(fake_engine) -> None:
    scores = [hit.score for hit in fake_engine.search("難民認定", k=10).results]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("query", "k", "message"),
    [
        ("", 5, "empty"),
        ("x" * 1001, 5, "limit is 1000"),
        ("難民", 0, "k must"),
        ("難民", 51, "k must"),
    ],
)
def test_bad_requests_are_refused(fake_engine, query: str, k: int, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        fake_engine.search(query, k=k)


def test_unknown_measure_is_not_found(fake_engine) -> None:
    with pytest.raises(NotFound, match="numbered 1–33"):
        fake_engine.get_measure(99)


def test_batch_over_the_limit_is_refused(fake_engine) -> None:
    with pytest.raises(InvalidRequest, match="the limit is 100"):
        fake_engine.search_batch(["難民"] * 101)


def test_citations_quote_their_field(fake_engine) -> None:
    answer = answer_question(fake_engine, "特定技能2号の分野は?", k=3)
    by_number = {hit.measure.number: hit.measure for hit in answer.outcome.results}
    for c in answer.citations:
        assert by_number[c.number].field_text(c.field)[c.start : c.end] == c.quote


def test_content_words_known_to_the_report(fake_engine) -> None:
    vocabulary = fake_engine.vocabulary
    assert vocabulary.content_words("qwzxv", "en") == ([], ["qwzxv"])
    assert vocabulary.content_words("こんにちは", "ja")[0] == []
    assert vocabulary.content_words("ふがほげ", "ja") == ([], [])  # a lone kana names nothing
    known, _ = vocabulary.content_words("ビザの更新", "ja")
    assert "ビザ" in known  # a glossary synonym of 在留資格, which the report uses
    known, _ = vocabulary.content_words("とくていぎのうの書類", "ja")
    assert known  # kana spelling of a term of the report
    known, unknown = vocabulary.content_words("deposits charged by recruiters", "en")
    assert "deposit" in known


def test_forked_workers_helpers_are_not_steered(fake_engine) -> None:
    fake_engine.stop_threads(steer=False)
    assert not fake_engine.steers_helpers
    assert fake_engine.search("難民").results  # new helpers start on demand
    fake_engine.stop_threads()
    assert fake_engine.steers_helpers is CpuSteering.of_process().active
