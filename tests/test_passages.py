"""Tests for indexer.passages: offsets, sizes, coverage and robustness."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.parse import parse_report_file
from indexer.passages import split_passages, split_text
from indexer.records import Measure

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "reports" / "isa-7th-roundtable-status-2024" / "source.txt"


@pytest.fixture(scope="module")
def measures():
    return parse_report_file(CORPUS)


@pytest.fixture(scope="module")
def passages(measures):
    return split_passages(measures)


def _covered(text, spans):
    mask = [False] * len(text)
    for s, e in spans:
        for i in range(s, e):
            mask[i] = True
    return all(mask[i] or c.isspace() for i, c in enumerate(text))


def _check_invariants(measures, passages, max_chars):
    by_number = {m.number: m for m in measures}
    assert [p.id for p in passages] == list(range(len(passages)))
    for p in passages:
        field_text = by_number[p.measure].field_text(p.field)
        assert field_text[p.start : p.end] == p.text
        assert p.text and p.text == p.text.strip()
        assert len(p.text) <= max_chars
    for m in measures:
        for fld in ("target", "explanation", "note"):
            spans = [(p.start, p.end) for p in passages if p.measure == m.number and p.field == fld]
            assert spans == sorted(spans)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
            assert _covered(m.field_text(fld), spans), (m.number, fld)


def test_corpus_invariants(measures, passages):
    _check_invariants(measures, passages, 300)
    assert {p.measure for p in passages} == set(range(1, 34))


def test_document_order(passages):
    order = {"target": 0, "explanation": 1, "note": 2}
    keys = [(p.measure, order[p.field], p.start) for p in passages]
    assert keys == sorted(keys)


def test_measure_7_has_note_passages(passages):
    notes = [p for p in passages if p.measure == 7 and p.field == "note"]
    assert notes
    joined = "".join(p.text for p in notes)
    for marker in ("（注１）", "（注２）", "（注３）"):
        assert marker in joined
    assert not [p for p in passages if p.field == "note" and p.measure != 7]


def test_passages_end_at_sentence_or_paragraph_end(measures, passages):
    by_number = {m.number: m for m in measures}
    for p in passages:
        text = by_number[p.measure].field_text(p.field)
        at_paragraph_end = (
            text[p.end :].lstrip(" \u3000").startswith("\n") or not text[p.end :].strip()
        )
        hard_split = p.text.endswith("、")  # an over-long sentence cut at a comma
        assert p.text.rstrip("）」』").endswith("。") or at_paragraph_end or hard_split, p.text


def test_a_bulleted_list_stays_with_its_sentence(measures, passages):
    """ "…ビジョンとして、／・安全・安心な社会／・…／の３つを掲げ、…" is one sentence: no
    bullet is a passage of its own (a lone "・安全・" was once quoted as an answer)."""
    m19 = [p.text for p in passages if p.measure == 19 and p.field == "explanation"]
    listed = next(t for t in m19 if "・安全・安心な社会" in t)
    assert "ビジョンとして、" in listed and "の３つを掲げ" in listed
    assert "・個人の尊厳と人権を尊重した社会" in listed


def test_no_passage_is_a_fragment(passages):
    from indexer.passages import MIN_CONTENT_CHARS

    for p in passages:
        assert sum(ch.isalnum() for ch in p.text) >= MIN_CONTENT_CHARS, p.text


def test_a_short_fragment_joins_its_neighbour():
    text = "（注１）状況\n二国間の取決めは十七か国と作成している。"
    assert [text[s:e] for s, e in split_text(text)] == [text]


def test_no_split_inside_brackets(passages):
    # "（以下「難民等」という。）" must not end a passage.
    for p in passages:
        assert not p.text.startswith(("）", "」"))
    m17 = [p.text for p in passages if p.measure == 17 and p.field == "explanation"]
    assert any("（以下「難民等」という。）の認定手続" in t for t in m17)


def test_merging_and_small_max_chars(measures):
    small = split_passages(measures, max_chars=40)
    _check_invariants(measures, small, 40)
    big = split_passages(measures, max_chars=2000)
    _check_invariants(measures, big, 2000)
    assert len(big) < len(split_passages(measures)) < len(small)


def test_hard_split_prefers_comma():
    text = "あ" * 20 + "、" + "い" * 20 + "。"
    spans = split_text(text, max_chars=30)
    assert [text[s:e] for s, e in spans] == ["あ" * 20 + "、", "い" * 20 + "。"]


def test_paragraphs_not_merged():
    text = "これは一つ目の段落の最初の文です。\n二つ目の段落の文です。三文目もここにあります。"
    assert [text[s:e] for s, e in split_text(text)] == [
        "これは一つ目の段落の最初の文です。",
        "二つ目の段落の文です。三文目もここにあります。",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n\n\n",
        "\u3000\u3000\n\t",
        "\x00\x01\x1c\x1f\x7f",
        "😀" * 777,
        "あ" * 10_000,
        "。" * 10_000,
        "（" * 5000 + "。" * 5000,
        "）」" * 3000,
        "、" * 1000,
        "a " * 5000,
        "\ud800\udfff" * 50,
        "\u200b\u2028\u2029\r\n" * 100,
        "・\n・ \n・x",
    ],
)
def test_never_raises_on_odd_input(text):
    m = Measure(number=1, status="実施中", target=text, explanation=text, notes=text)
    ps = split_passages([m])
    _check_invariants([m], ps, 300)
    for max_chars in (1, 2, 7):
        _check_invariants([m], split_passages([m], max_chars=max_chars), max_chars)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.integers(min_value=1, max_value=400))
def test_never_raises_property(text, max_chars):
    m = Measure(number=1, status="実施中", target=text, explanation="", notes=text)
    _check_invariants([m], split_passages([m], max_chars=max_chars), max_chars)


def test_invalid_max_chars():
    with pytest.raises(ValueError):
        split_passages([], max_chars=0)
