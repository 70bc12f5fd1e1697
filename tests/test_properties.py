"""Property tests on arbitrary Unicode: the parser, the passage splitter, the tokenizer, and the
HTTP API fed hostile strings (control characters, NUL, lone surrogates as JSON escapes, emoji,
right-to-left text, 10,000 repeated characters)."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from indexer.parse import ParseError, parse_report
from indexer.passages import split_passages, split_text
from indexer.records import Measure

# Every code point, surrogates and controls included (st.text() leaves surrogates out).
ANY_CHAR = st.characters(codec=None, exclude_categories=())
HOSTILE = [
    "\ud800",  # lone high surrogate
    "a\udfffb",  # lone low surrogate inside text
    "a\x00b",
    "\x07\x1b[31m\x7f\x85\u2028",
    "🙂🇯🇵👩‍👩‍👧" * 20,
    "مرحبا بالعالم \u202etxet desrever\u202c עברית",
    "\ufeff\u200b\u200d",
    "e\u0301" * 500,
    "あ" * 10_000,
    "。" * 10_000,
    "（" * 10_000,
    "\n" * 10_000,
    " \t\u3000" * 3000,
]
REPORT_LINES = [
    "1 実施状況 実施中",
    "2 実施状況 実施済み",
    "3 実施状況 検討中",
    "1 実施状況 保留",
    "対象施策",
    "実施状況の説明",
    "（注１）外国人",
    "(注2)",
    "資料②",
    "施策番号",
    "",
    "　 在留資格の見直しを行う。",
    "・オンライン申請",
    "ＤＸの推進（令和５年）。",
]
text_like = st.one_of(
    st.text(ANY_CHAR, max_size=300),
    st.lists(st.sampled_from(REPORT_LINES) | st.text(ANY_CHAR, max_size=40), max_size=40).map(
        "\n".join
    ),
    st.sampled_from(HOSTILE),
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- parser --------------------------------------------------------------------------------


@FAST
@given(text_like)
@example("\ud800\n1 実施状況 実施中\n対象施策\n\x00\n実施状況の説明\nx")
def test_parser_raises_only_parse_error(text: str) -> None:
    try:
        measures = parse_report(text)
    except ParseError as exc:
        assert exc.line >= 1
        return
    assert [m.number for m in measures] == list(range(1, len(measures) + 1))
    for measure in measures:
        assert measure.target.strip() and measure.explanation.strip()


# ---- passage splitter ----------------------------------------------------------------------


def _check_spans(text: str, spans: list[tuple[int, int]], max_chars: int) -> None:
    previous_end = 0
    for start, end in spans:
        assert 0 <= previous_end <= start < end <= len(text)
        assert end - start <= max_chars
        piece = text[start:end]
        assert piece == piece.strip() and piece  # no edge whitespace, never empty
        previous_end = end
    covered = "".join(text[s:e] for s, e in spans)
    assert "".join(covered.split()) == "".join(text.split())  # nothing but whitespace dropped


@FAST
@given(
    st.one_of(st.text(ANY_CHAR, max_size=2000), st.sampled_from(HOSTILE)),
    st.integers(min_value=1, max_value=400),
)
def test_split_text_spans_are_exact_slices(text: str, max_chars: int) -> None:
    _check_spans(text, split_text(text, max_chars), max_chars)


@FAST
@given(st.lists(st.tuples(text_like, text_like, text_like), min_size=1, max_size=4))
def test_split_passages_text_is_the_field_slice(fields: list[tuple[str, str, str]]) -> None:
    measures = [
        Measure(number=i + 1, status="実施中", target=t, explanation=e, notes=n)
        for i, (t, e, n) in enumerate(fields)
    ]
    passages = split_passages(measures, max_chars=120)
    assert [p.id for p in passages] == list(range(len(passages)))
    by_number = {m.number: m for m in measures}
    for passage in passages:
        field_text = by_number[passage.measure].field_text(passage.field)
        assert 0 <= passage.start < passage.end <= len(field_text)
        assert passage.text == field_text[passage.start : passage.end]


# ---- tokenizer -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    from indexer.tokenize import Tokenizer

    return Tokenizer()


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(st.text(ANY_CHAR, max_size=500), st.sampled_from(HOSTILE)))
def test_tokenizer_returns_clean_tokens_for_any_text(tokenizer, text: str) -> None:
    tokens = tokenizer.tokenize(text)
    assert isinstance(tokens, list)
    for token in tokens:
        assert isinstance(token, str) and token and token == token.strip()
        assert "\x00" not in token
        token.encode("utf-8")  # no lone surrogate survives


def test_tokenizer_handles_a_huge_input(tokenizer) -> None:
    assert tokenizer.tokenize("在留" * 60_000)  # beyond Sudachi's input limit: truncated


# ---- the HTTP API ----------------------------------------------------------------------------

API = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
ENDPOINTS = [("/search", "q"), ("/similar", "text"), ("/ask", "question")]


def _post_raw(url: str, document: object) -> httpx.Response:
    # ensure_ascii: a lone surrogate travels as the JSON escape "\ud800", as a client would send it
    body = json.dumps(document, ensure_ascii=True).encode("ascii")
    return httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=60)


def _assert_clean(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:300]
    data = response.json()
    if response.status_code >= 400:
        assert set(data) == {"error"} and set(data["error"]) == {"code", "message"}
        assert "Traceback" not in response.text


@pytest.mark.slow
@pytest.mark.parametrize(("path", "field"), ENDPOINTS)
@API
@given(text=st.one_of(st.text(ANY_CHAR, min_size=1, max_size=60), st.sampled_from(HOSTILE)))
def test_api_answers_any_unicode_without_5xx(
    server_url: str, path: str, field: str, text: str
) -> None:
    _assert_clean(_post_raw(server_url + path, {field: text}))


@pytest.mark.slow
@API
@given(
    queries=st.lists(
        st.one_of(st.text(ANY_CHAR, max_size=30), st.sampled_from(HOSTILE)), min_size=1, max_size=5
    )
)
def test_batch_answers_any_unicode_without_5xx(server_url: str, queries: list[str]) -> None:
    _assert_clean(_post_raw(server_url + "/search/batch", {"queries": queries}))


@pytest.mark.slow
@pytest.mark.parametrize("text", HOSTILE)
def test_get_search_with_hostile_query_string(server_url: str, text: str) -> None:
    # lone surrogates as invalid UTF-8 bytes; cut to what fits in a URL (past the 1000 limit)
    raw = text[:2000].encode("utf-8", "surrogatepass")
    response = httpx.get(server_url + "/search", params={"q": raw}, timeout=60)
    _assert_clean(response)


@pytest.mark.slow
def test_lone_surrogate_is_a_422_not_a_crash(server_url: str) -> None:
    response = _post_raw(server_url + "/search", {"q": "難民\ud800"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
