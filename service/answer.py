"""Question answering over search results: extractive and generative answers with citations.

One core function, :func:`answer_question`, serves the HTTP API, the CLI and the MCP server;
whether the report covers a question is decided in :mod:`service.answerability`.
Extractive answers quote the report's own sentences (best measure first, document order
within a measure, each followed by ``［施策N］``); generative answers come from an
OpenAI-compatible chat endpoint fed only with the retrieved passages, and fall back to the
extractive answer on any endpoint failure.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from indexer.passages import cited_footnotes, footnote_spans, sentence_spans
from indexer.records import STATUS_EN, Field, Measure
from service.answerability import Decision, decide, read_features
from service.errors import GenerativeUnavailable, InvalidRequest
from service.history import (
    ChangeAnswer,
    answer_change_question,
    changes_between,
    plain_text,
    read_change_question,
)
from service.llm import ChatClient, ChatMessage, LLMError
from service.search import MeasureHit, PassageHit, SearchEngine, SearchOutcome, validate_k

logger = logging.getLogger(__name__)

Mode = Literal["extractive", "generative"]
MODES: tuple[Mode, ...] = get_args(Mode)  # the one list of answer modes
MAX_ASK_K = 10
DEFAULT_ASK_K = 5


# ---- citations and extractive answers ---------------------------------------------------


@dataclass(frozen=True)
class Citation:
    """A span of one field of one measure; ``quote == measure.field_text(field)[start:end]``."""

    number: int
    field: Field
    start: int
    end: int
    quote: str
    report: str = ""  # the id of the report quoted


@dataclass(frozen=True)
class Answer:
    question: str
    answerable: bool
    text: str
    citations: tuple[Citation, ...]
    outcome: SearchOutcome
    mode: Mode
    took_ms: float
    decision: Decision
    warning: str | None = None
    whole_is_direct: bool = False  # every line answers directly (a list of status changes)
    reason: str | None = None  # why it is not answerable (None when it is)


MAX_MEASURES_CITED = 3  # an extractive answer quotes at most this many measures
MEASURE_SCORE_RATIO = 0.8  # further measures must score this share of the first one's score
PASSAGE_SCORE_RATIO = 0.8  # a measure's second sentence must score this share of its first

_STATUS_QUESTION = re.compile(
    r"実施状況|進捗|段階|どうなって|済み|済んで|完了|終わって|もう実施|実施され|実施して|"
    r"\b(?:status|progress|finished|implemented|ongoing|in place|completed|done|"
    r"under consideration|still being)\b",
    re.IGNORECASE,
)


def _digit(text: str) -> int:
    return int(unicodedata.normalize("NFKC", text))


def citation(measure: Measure, field: Field, start: int, end: int) -> Citation:
    text = measure.field_text(field)
    return Citation(measure.number, field, start, end, text[start:end], measure.report)


def _spans_for_hit(hit: MeasureHit, second: bool) -> list[tuple[Field, int, int]]:
    """The sentences to quote from one measure, footnotes resolved."""
    if not hit.passages:
        return []
    chosen = [hit.passages[0]]
    if (
        second
        and len(hit.passages) > 1
        and hit.passages[1].score >= PASSAGE_SCORE_RATIO * max(hit.passages[0].score, 1e-9)
    ):
        chosen.append(hit.passages[1])
    measure = hit.measure
    notes = footnote_spans(measure.notes)
    spans: list[tuple[Field, int, int]] = []
    for p in chosen:
        passage = p.passage
        if passage.field == "note":
            # The footnote itself is the answer: quote it whole, header included.
            for start, end in notes.values():
                if start <= passage.start < end:
                    spans.append(("note", start, end))
                    break
            else:
                spans.append(("note", passage.start, passage.end))
            continue
        spans.append((passage.field, passage.start, passage.end))
        for number in cited_footnotes(passage.text):
            span = notes.get(number)
            if span is not None:
                spans.append(("note", *span))
    order = {"target": 0, "explanation": 1, "note": 2}
    unique = sorted(set(spans), key=lambda s: (order[s[0]], s[1]))
    # Drop spans nested in another span of the same field.
    return [
        s
        for s in unique
        if not any(o != s and o[0] == s[0] and o[1] <= s[1] and s[2] <= o[2] for o in unique)
    ]


def select_hits(outcome: SearchOutcome) -> list[MeasureHit]:
    """The measures an extractive answer quotes: the first, and close runners-up."""
    hits = list(outcome.results)
    if not hits:
        return []
    top = hits[0]
    chosen = [top]
    for hit in hits[1:MAX_MEASURES_CITED]:
        if top.score > 0 and hit.score >= MEASURE_SCORE_RATIO * top.score:
            chosen.append(hit)
    return chosen


def _status_label(status: str, language: str) -> str:
    return status if language == "ja" else f"{STATUS_EN[status]} ({status})"


def _numbers_ja(numbers: Sequence[int]) -> str:
    return "、".join(f"施策{n}" for n in numbers)


def _status_list_answer(outcome: SearchOutcome, language: str) -> tuple[str, list[Citation]]:
    statuses = outcome.signals.intent.status_words
    by_status = {
        s: sorted(h.measure.number for h in outcome.results if h.measure.status == s)
        for s in statuses
    }
    lines = []
    for status, numbers in by_status.items():
        if language == "ja":
            lines.append(f"「{status}」の施策は{_numbers_ja(numbers)}の{len(numbers)}件です。")
        else:
            listed = ", ".join(str(n) for n in numbers)
            lines.append(
                f"Measures {STATUS_EN[status]} ({status}): {listed} ({len(numbers)} measures)."
            )
    citations = []
    for hit in sorted(outcome.results, key=lambda h: h.measure.number):
        target = [p.passage for p in hit.passages if p.passage.field == "target"]
        first = min(target, key=lambda p: p.start) if target else None
        if first is not None:
            citations.append(citation(hit.measure, "target", first.start, first.end))
        else:
            end = hit.measure.target.find("。") + 1 or len(hit.measure.target)
            citations.append(citation(hit.measure, "target", 0, end))
    return "\n".join(lines), citations


def refusal_text(language: str) -> str:
    if language == "ja":
        return (
            "この報告書には、この質問に答える記述がありません。"
            "参考までに、関連が近い施策を結果に示します。"
        )
    return (
        "The report does not cover this question. "
        "The closest measures are listed in the results for reference."
    )


def filter_refusal_text(language: str, statuses: Sequence[str], closest: int) -> str:
    """The answer when a status filter leaves nothing that answers the question."""
    if language == "ja":
        return (
            f"{'・'.join(statuses)}の施策には、この質問に答えるものがありません。"
            f"絞り込みなしで最も近いのは［施策{closest}］です。"
        )
    names = " or ".join(STATUS_EN.get(s, s) for s in statuses)
    return (
        f"No measure {names} addresses this question; the closest without the status "
        f"filter is Measure {closest} ［施策{closest}］."
    )


def compose_extractive(outcome: SearchOutcome) -> tuple[str, list[Citation]]:
    """An answer made only of the report's sentences, each followed by ``［施策N］``."""
    language = outcome.signals.language
    intent = outcome.signals.intent
    if intent.status_only:
        return _status_list_answer(outcome, language)
    hits = select_hits(outcome)
    lines: list[str] = []
    citations: list[Citation] = []
    asks_status = bool(intent.status_words) or bool(_STATUS_QUESTION.search(outcome.query))
    if asks_status and hits:
        m = hits[0].measure
        if language == "ja":
            lines.append(f"施策{m.number}の実施状況は「{m.status}」です。")
        else:
            lines.append(f"Measure {m.number} is {m.status_en} ({m.status}).")
    # The best measure speaks first; within a measure, sentences keep document order.
    for hit in hits:
        m = hit.measure
        if language == "en":
            lines.append(f"Measure {m.number} ({m.status_en}): the report says, in Japanese:")
        for fld, start, end in _spans_for_hit(hit, second=hit is hits[0]):
            cited = citation(m, fld, start, end)
            citations.append(cited)
            lines.append(f"{' '.join(cited.quote.split())}［施策{m.number}］")
    return "\n".join(lines), citations


# ---- generative answers -----------------------------------------------------------------

_CITE_MARK = re.compile(r"[［\[]\s*(?:施策|measure|Measure|MEASURE)\s*([0-9０-９]+)\s*[］\]]")
_LANGUAGE_NAME = {"ja": "Japanese", "en": "English"}


def _context_spans(outcome: SearchOutcome) -> dict[tuple[str, int], list[Citation]]:
    """Per retrieved measure (by key), the passages given to the language model."""
    spans: dict[tuple[str, int], list[Citation]] = {}
    for hit in outcome.results:
        spans[hit.measure.key] = [
            citation(hit.measure, fld, s, e) for fld, s, e in _spans_for_hit(hit, second=True)
        ]
    return spans


def direct_end(text: str) -> int:
    """Where the direct answer in ``text`` ends: after the lines that quote the first cited
    measure (with the lead lines before them and the footnotes they cite), before the runners-up.
    The whole text when it cites no measure (a status list, a refusal)."""
    first = _CITE_MARK.search(text)
    if first is None:
        return len(text)
    number = _digit(first.group(1))
    end = 0
    started = False
    offset = 0
    for line in text.splitlines(keepends=True):
        cited = {_digit(m.group(1)) for m in _CITE_MARK.finditer(line)}
        if number in cited:
            started = True
        elif started:
            break
        offset += len(line)
        end = offset - (len(line) - len(line.rstrip("\n")))
    return end


def build_messages(question: str, outcome: SearchOutcome) -> list[ChatMessage]:
    language = _LANGUAGE_NAME.get(outcome.signals.language, "English")
    blocks = []
    for hit in outcome.results:
        m = hit.measure
        quotes = _context_spans(outcome)[m.key]
        text = "\n".join(f"- ({c.field}) {' '.join(c.quote.split())}" for c in quotes)
        blocks.append(f"[施策{m.number}] status: {m.status} ({m.status_en})\n{text}")
    system = (
        "You answer questions about a Japanese government report on the implementation status "
        "of immigration-policy measures. Use ONLY the numbered passages given; if they do not "
        "answer the question, say that the report does not cover it. "
        f"Answer in {language}. Quote names, numbers and dates exactly as written. After every "
        "sentence cite the measure it comes from as ［施策N］ (N = the measure number shown)."
    )
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    return [ChatMessage("system", system), ChatMessage("user", user)]


def compose_generative(
    question: str, outcome: SearchOutcome, llm: ChatClient
) -> tuple[str, list[Citation], str | None]:
    """Ask the model; keep citations of retrieved measures only. Raises LLMError."""
    text = llm.complete(build_messages(question, outcome))
    context: dict[int, list[Citation]] = {}  # by number: the best-ranked edition's passages
    for key, spans in _context_spans(outcome).items():
        context.setdefault(key[1], spans)
    cited: list[int] = []
    dropped: list[int] = []

    def keep(match: re.Match[str]) -> str:
        number = _digit(match.group(1))
        if number in context:
            if number not in cited:
                cited.append(number)
            return f"［施策{number}］"
        if number not in dropped:
            dropped.append(number)
        return ""

    text = _CITE_MARK.sub(keep, text).strip()
    warning = None
    if dropped:
        listed = ", ".join(str(n) for n in dropped)
        warning = (
            f"the generated answer cited measure(s) {listed}, which were not among the retrieved "
            "measures; those citations were removed"
        )
    if not cited:
        note = "the generated answer cites no retrieved measure; check it against the results"
        warning = f"{warning}; {note}" if warning else note
    citations = [c for number in cited for c in context[number]]
    return text, citations, warning


# ---- the core function ------------------------------------------------------------------


def validate_mode(mode: object) -> Mode:
    if mode not in MODES:
        raise InvalidRequest(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    return mode


@dataclass(frozen=True)
class Retrieved:
    """The first half of answering: the search, the answerability decision and, for a
    question about status changes, the changes between editions."""

    outcome: SearchOutcome
    decision: Decision
    change: ChangeAnswer | None = None


def retrieve(
    engine: SearchEngine,
    question: str,
    k: int = DEFAULT_ASK_K,
    statuses: Sequence[str] | None = None,
    reports: Sequence[str] | None = None,
    editions: str = "latest",
) -> Retrieved:
    """Search and decide answerability (the first half of answering, used by streaming)."""
    k = validate_k(k, MAX_ASK_K)
    outcome = engine.search(question, k=k, statuses=statuses, reports=reports, editions=editions)
    unfiltered = None
    if statuses and not outcome.signals.intent.status_only:
        # the query's vectors are cached: cheap
        unfiltered = engine.search(question, k=k, reports=reports, editions=editions)
    decision = decide(read_features(engine, outcome.query, outcome, unfiltered))
    logger.debug("answerability of %r: %s", question, decision)
    change = None
    asked = read_change_question(outcome.query)
    if asked is not None:
        index = engine.index
        reports_in = {r: index.reports[r] for r in reports} if reports else index.reports
        change = answer_change_question(index.measures, reports_in, asked)
        if change is not None and change.changed:  # the results are the measures that moved
            outcome = replace(outcome, results=_change_hits(engine, change))
    return Retrieved(outcome, decision, change)


def change_citation(before: Measure, after: Measure) -> Citation:
    """What to quote of a measure whose status changed: the first sentence its explanation
    gained since the previous edition, else its first sentence."""
    spans = sentence_spans(after.explanation) or [(0, len(after.explanation))]
    added = {plain_text(c.text) for c in changes_between(before, after) if c.kind == "added"}
    for start, end in spans:
        if plain_text(after.explanation[start:end]) in added:
            return citation(after, "explanation", start, end)
    start, end = spans[0]
    return citation(after, "explanation", start, end)


def _change_hits(engine: SearchEngine, change: ChangeAnswer) -> tuple[MeasureHit, ...]:
    """The measures that changed, as results, each with the passage quoted."""
    hits = []
    for before, after in change.changed:
        cited = change_citation(before, after)
        passages = [
            PassageHit(p, 0.0)
            for p in engine.index.passages
            if p.measure_key == after.key
            and p.field == "explanation"
            and p.start < cited.end
            and cited.start < p.end
        ]
        hits.append(MeasureHit(after, 0.0, tuple(passages[:1])))
    return tuple(hits)


def compose_change(
    change: ChangeAnswer, asked_into: Sequence[str], language: str, reports: Any
) -> tuple[str, list[Citation]]:
    """The answer to a question about status changes, from the editions' history."""

    def when(report_id: str) -> str:
        record = reports.get(report_id)
        return record.date if record is not None else report_id

    into_ja = "・".join(asked_into)
    into_en = " or ".join(STATUS_EN[s] for s in asked_into)
    if change.old is None:
        if language == "ja":
            return (
                f"索引にはこの報告書の版が1つ（{when(change.new)}）しかないため、実施状況の変化は"
                "分かりません。`shisaku add` で別の版を追加すると答えられます。",
                [],
            )
        return (
            f"The index holds one edition of the report ({when(change.new)}), so it cannot tell "
            "how statuses changed. Add another edition with `shisaku add` to answer this.",
            [],
        )
    old, new = when(change.old), when(change.new)
    lines, citations = [], []
    if language == "ja":
        what = f"{into_ja}になった" if into_ja else "実施状況が変わった"
        lines.append(
            f"前回の報告（{old}）から今回の報告（{new}）までに{what}施策は"
            f"{len(change.changed)}件です。"
            if change.changed
            else f"前回の報告（{old}）から今回の報告（{new}）までに{what}施策はありません。"
        )
    else:
        what = f"moved to {into_en}" if into_en else "changed status"
        lines.append(
            f"Between the report of {old} and the report of {new}, "
            + (
                f"{len(change.changed)} measure(s) {what}:"
                if change.changed
                else f"no measure {what}."
            )
        )
    for before, after in change.changed:
        cited = change_citation(before, after)
        citations.append(cited)
        quote = " ".join(cited.quote.split())
        if language == "ja":
            lines.append(
                f"施策{after.number}：{before.status} → {after.status}。{quote}［施策{after.number}］"
            )
        else:
            lines.append(
                f"Measure {after.number}: {before.status_en} → {after.status_en}. The report "
                f"says, in Japanese: {quote}［施策{after.number}］"
            )
    return "\n".join(lines), citations


def compose(
    question: str,
    outcome: SearchOutcome,
    decision: Decision,
    mode: Mode,
    llm: ChatClient | None,
    started: float,
    change: ChangeAnswer | None = None,
    reports: Any = None,
) -> Answer:
    """Turn retrieved results into an answer (the second half of answering); a question
    about status changes is answered from the editions' history (``change``)."""
    warning = reason = None
    whole = False
    used: Mode = mode
    if change is not None:
        language = outcome.signals.language
        text, citations = compose_change(change, change.asked.into, language, reports or {})
        answerable = change.old is not None
        if not answerable:
            reason = "the index holds only one edition of the report: no status change to tell"
        used = "extractive"
        whole = True
    elif not decision.answerable or not outcome.results:
        reason = decision.reason if not decision.answerable else "no measure was retrieved"
        text, citations = refusal_text(outcome.signals.language), list[Citation]()
        closest = decision.features.closest_unfiltered
        if closest is not None:
            statuses = sorted({hit.measure.status for hit in outcome.results})
            text = filter_refusal_text(outcome.signals.language, statuses, closest)
        answerable = False
    else:
        answerable = True
        text, citations = compose_extractive(outcome)
        if mode == "generative":
            assert llm is not None
            try:
                text, citations, warning = compose_generative(outcome.query, outcome, llm)
            except LLMError as exc:
                logger.warning("generative answer failed, falling back: %s", exc)
                used = "extractive"
                warning = f"{exc}; the extractive answer is shown instead"
    return Answer(
        question=question,
        answerable=answerable,
        text=text,
        citations=tuple(citations),
        outcome=outcome,
        mode=used,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        decision=decision,
        warning=warning,
        whole_is_direct=whole,
        reason=reason,
    )


def check_mode(mode: object, llm: ChatClient | None) -> Mode:
    mode = validate_mode(mode)
    if mode == "generative" and llm is None:
        raise GenerativeUnavailable(
            "generative answers need a language model endpoint: set SHISAKU_LLM_BASE_URL "
            "(and SHISAKU_LLM_MODEL) or use mode=extractive"
        )
    return mode


def answer_question(
    engine: SearchEngine,
    question: str,
    k: int = DEFAULT_ASK_K,
    statuses: Sequence[str] | None = None,
    mode: Mode = "extractive",
    llm: ChatClient | None = None,
    reports: Sequence[str] | None = None,
    editions: str = "latest",
) -> Answer:
    """Answer ``question`` from the reports, with citations; see the module docstring."""
    started = time.perf_counter()
    mode = check_mode(mode, llm)
    got = retrieve(engine, question, k, statuses, reports, editions)
    return compose(
        question,
        got.outcome,
        got.decision,
        mode,
        llm,
        started,
        got.change,
        engine.index.reports,
    )
