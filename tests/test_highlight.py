"""Term highlights and relevance grades (fast tier: real SudachiPy, the fake-encoder index)."""

from __future__ import annotations

import pytest

from indexer.records import Measure, Passage
from service.highlight import Highlighter, Span, highlighter_of
from service.intent import read_intent
from service.relevance import CUTOFF_GAP, HIGH_GAP, grade
from service.search import MeasureHit, PassageHit, SearchOutcome, Signals


def passage_with(engine, needle: str) -> Passage:
    return next(p for p in engine.index.passages if needle in p.text)


def marked(passage: Passage, spans) -> list[str]:
    return [passage.text[s.start : s.end] for s in spans]


def test_query_terms_are_content_words_numbers_weak(fake_engine) -> None:
    terms = highlighter_of(fake_engine).query_terms("特定技能2号の分野は?")
    assert terms.strong == {"特定", "技能", "分野"}
    assert terms.weak == {"2", "号"}  # "は", "の", "?" are not terms at all


def test_runs_join_the_typed_compound_best_first(fake_engine) -> None:
    highlighter = highlighter_of(fake_engine)
    passage = passage_with(fake_engine, "特定技能２号の対象分野について")
    terms = highlighter.query_terms("特定技能2号の分野は?")
    spans = [m.span for m in highlighter.term_spans(passage, terms)]
    texts = marked(passage, spans)
    assert texts[0] == "特定技能２号"  # the rarest terms first, full width as in the report
    assert "分野" in texts
    # "２分野" holds the query's "2", but not beside 技能 or 号 as in the query: only 分野.
    assert "２分野" not in texts
    assert all(passage.text[s.start : s.end].strip() for s in spans)


def test_a_number_alone_is_no_match(fake_engine) -> None:
    highlighter = highlighter_of(fake_engine)
    passage = passage_with(fake_engine, "２分野")
    assert highlighter.term_spans(passage, highlighter.query_terms("2号")) == []


def test_latin_terms_match_full_width_text(fake_engine) -> None:
    highlighter = highlighter_of(fake_engine)
    passage = passage_with(fake_engine, "ＵＮＨＣＲ")
    spans = [m.span for m in highlighter.term_spans(passage, highlighter.query_terms("UNHCR"))]
    assert marked(passage, spans)[0] == "ＵＮＨＣＲ"


def test_only_passages_that_really_match_are_marked(fake_engine) -> None:
    outcome = fake_engine.search("今日の天気は?", k=5)
    marks = highlighter_of(fake_engine).mark(outcome)
    assert all(not m.terms and m.sentence is None for m in marks.values())


def test_status_only_question_marks_nothing(fake_engine) -> None:
    outcome = fake_engine.search("検討中の施策は?")
    marks = highlighter_of(fake_engine).mark(outcome)
    assert marks and all(not m.terms for m in marks.values())


def test_english_query_marks_its_glossary_terms(fake_engine) -> None:
    outcome = fake_engine.search("Which fields were added to Specified Skilled Worker (ii)?", k=10)
    marks = highlighter_of(fake_engine).mark(outcome)
    texts = {
        p.passage.text[s.start : s.end]
        for hit in outcome.results
        for p in hit.passages
        for s in marks[p.passage.id].terms
    }
    assert "特定技能２号" in texts


def test_best_sentence_holds_the_best_match_once_per_result(fake_engine) -> None:
    outcome = fake_engine.search("特定技能2号の分野は?", k=10)
    marks = highlighter_of(fake_engine).mark(outcome)
    for hit in outcome.results:
        sentences = [
            (p.passage, marks[p.passage.id].sentence)
            for p in hit.passages
            if marks[p.passage.id].sentence is not None
        ]
        matching = [p for p in hit.passages if marks[p.passage.id].terms]
        assert len(sentences) == (1 if matching else 0)
        if sentences:
            passage, sentence = sentences[0]
            assert sentence is not None
            assert passage.id == matching[0].passage.id  # the best-scored matching passage
            assert 0 <= sentence.start < sentence.end <= len(passage.text)
            inside = [
                s for s in marks[passage.id].terms if sentence.start <= s.start < sentence.end
            ]
            assert inside


def test_highlighter_is_built_once_per_engine(fake_engine) -> None:
    assert highlighter_of(fake_engine) is highlighter_of(fake_engine)


def test_offsets_survive_characters_nfkc_widens(fake_engine) -> None:
    passage = Passage(0, 1, "target", 0, 12, "㈱の難民認定手続")
    highlighter = Highlighter(fake_engine.tokenizer, [passage])
    spans = [m.span for m in highlighter.term_spans(passage, highlighter.query_terms("難民認定"))]
    assert marked(passage, spans) == ["難民認定"]
    assert spans == [Span(2, 6)]  # offsets into the text as written, not its NFKC form


# ---- relevance -----------------------------------------------------------------------------


def outcome_with(scores: list[float], query: str = "難民") -> SearchOutcome:
    hits = tuple(
        MeasureHit(Measure(n, "実施中", f"施策{n}", "説明"), score, (PassageHit(
            Passage(n, n, "target", 0, 3, f"施策{n}"), score),))
        for n, score in enumerate(scores, start=1)
    )  # fmt: skip
    intent = read_intent(query)
    signals = Signals(intent.language, query, intent, 0.9, None, 1.0)
    return SearchOutcome(query, hits, 1.0, signals)


def test_grades_follow_the_gap_to_the_best_result() -> None:
    best = 8.0
    scores = [best, best - HIGH_GAP, best - HIGH_GAP - 0.1, best - CUTOFF_GAP, best - 4, -2.0]
    graded = grade(outcome_with(scores))
    assert graded.levels == ("high", "high", "medium", "medium", "low", "low")
    assert graded.shown == 4


def test_uncovered_question_is_never_more_than_low_but_keeps_its_cut_off() -> None:
    graded = grade(outcome_with([7.08, 6.5, 1.0]), covered=False)
    assert graded.levels == ("low", "low", "low")
    assert graded.shown == 2


def test_status_list_is_all_high_and_never_cut() -> None:
    graded = grade(outcome_with([3.0, -4.0, -9.0], query="検討中の施策は?"))
    assert graded.levels == ("high", "high", "high") and graded.shown == 3


def test_the_best_result_is_always_shown() -> None:
    assert grade(outcome_with([-5.0])).shown == 1
    assert grade(outcome_with([])).shown == 0


@pytest.mark.parametrize("query", ["特定技能2号の分野は?", "難民", "Specified Skilled Worker"])
def test_shown_results_are_a_prefix_above_the_cut_off(fake_engine, query: str) -> None:
    outcome = fake_engine.search(query, k=10)
    graded = grade(outcome)
    best = outcome.results[0].score
    for i, hit in enumerate(outcome.results):
        assert (i < graded.shown) == (best - hit.score <= CUTOFF_GAP)


@pytest.mark.parametrize(
    "query",
    ["特定技能2号の分野は?", "難民認定の手続", "Specified Skilled Worker (ii) fields", "DX"],
)
def test_spans_read_at_the_recorded_places_equal_a_full_scan(fake_engine, query: str) -> None:
    from service.highlight import _runs

    highlighter = highlighter_of(fake_engine)
    terms = highlighter.query_terms(query, fake_engine.expand(query, read_intent(query).language))
    marked_any = False
    for passage in fake_engine.index.passages:
        found = highlighter._tokens[passage.id]
        scanned = [(run[0].start, run[-1].end) for run in _runs(found, terms)]
        spans = sorted((m.span.start, m.span.end) for m in highlighter.term_spans(passage, terms))
        assert spans == sorted(scanned)
        marked_any = marked_any or bool(spans)
    assert marked_any
