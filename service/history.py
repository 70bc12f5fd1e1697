"""Status history: measures matched across the editions of a report, and what changed."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from indexer.records import Measure, Status
from indexer.reports import edition_order
from service.intent import read_intent

# Two measures of two editions are the same measure when their recommendations (対象施策)
# read alike: at least this similar with the same number, or MOVED_RATIO with another number.
SAME_NUMBER_RATIO = 0.5
MOVED_RATIO = 0.8

ChangeKind = Literal["status", "added", "removed", "target"]
_SENTENCE = re.compile(r"[^。\n]+。?")


def plain_text(text: str) -> str:
    """``text`` for comparison: NFKC, without spaces or line breaks."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def similarity(a: str, b: str) -> float:
    """How alike two texts read (0–1), ignoring spaces, line breaks and character widths."""
    return difflib.SequenceMatcher(None, plain_text(a), plain_text(b), autojunk=False).ratio()


def sentences(text: str) -> list[str]:
    """The sentences of a field text, spaces inside them removed."""
    return [s.strip() for s in _SENTENCE.findall(" ".join(text.split("\n"))) if s.strip()]


@dataclass(frozen=True)
class Change:
    """One difference between a measure and its previous edition."""

    kind: ChangeKind
    text: str  # "検討中 → 実施中", or the sentence added / removed, or the new target


@dataclass(frozen=True)
class HistoryEntry:
    measure: Measure
    changes: tuple[Change, ...]  # against the previous edition; empty for the first one


@dataclass(frozen=True)
class MeasureHistory:
    number: int
    series: str
    entries: tuple[HistoryEntry, ...]  # oldest first


@dataclass(frozen=True)
class ReportDiff:
    """What changed from one edition of a report to another."""

    old: str
    new: str
    status_changed: tuple[tuple[Measure, Measure], ...]
    text_changed: tuple[tuple[Measure, Measure], ...]  # same status, other explanation
    added: tuple[Measure, ...]
    removed: tuple[Measure, ...]


def changes_between(old: Measure, new: Measure) -> tuple[Change, ...]:
    """The status change and the sentences added to or removed from the explanation (and
    notes), in reading order."""
    out: list[Change] = []
    if old.status != new.status:
        out.append(Change("status", f"{old.status} → {new.status}"))
    if plain_text(old.target) != plain_text(new.target):
        out.append(Change("target", new.target))
    before = sentences(old.explanation) + sentences(old.notes)
    after = sentences(new.explanation) + sentences(new.notes)
    matcher = difflib.SequenceMatcher(
        None, [plain_text(s) for s in before], [plain_text(s) for s in after]
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            out.extend(Change("removed", s) for s in before[i1:i2])
        if tag in ("insert", "replace"):
            out.extend(Change("added", s) for s in after[j1:j2])
    return tuple(out)


def match_measure(measure: Measure, candidates: Sequence[Measure]) -> Measure | None:
    """The measure of another edition that is ``measure``: the same number with a similar
    recommendation, else the most similar recommendation if it is very similar (renumbered)."""
    same = [m for m in candidates if m.number == measure.number]
    if same and similarity(same[0].target, measure.target) >= SAME_NUMBER_RATIO:
        return same[0]
    best, score = None, 0.0
    for other in candidates:
        ratio = similarity(other.target, measure.target)
        if ratio > score:
            best, score = other, ratio
    return best if score >= MOVED_RATIO else None


def match_editions(old: Sequence[Measure], new: Sequence[Measure]) -> list[tuple[Measure, Measure]]:
    """Pairs (old, new) of the same measure in two editions; each measure pairs at most once."""
    pairs = []
    free = list(old)
    for measure in new:
        found = match_measure(measure, free)
        if found is not None:
            pairs.append((found, measure))
            free.remove(found)
    return pairs


def diff_reports(
    old_id: str, old: Sequence[Measure], new_id: str, new: Sequence[Measure]
) -> ReportDiff:
    """The measures whose status changed, whose explanation changed, and those added or removed."""
    pairs = match_editions(old, new)
    paired_old = {m.key for m, _ in pairs}
    paired_new = {m.key for _, m in pairs}
    return ReportDiff(
        old=old_id,
        new=new_id,
        status_changed=tuple((a, b) for a, b in pairs if a.status != b.status),
        text_changed=tuple(
            (a, b) for a, b in pairs if a.status == b.status and changes_between(a, b)
        ),
        added=tuple(m for m in new if m.key not in paired_new),
        removed=tuple(m for m in old if m.key not in paired_old),
    )


def editions_of(reports: Mapping[str, Any], series: str) -> list[str]:
    """The ids of a series' editions, oldest first."""
    return [r.id for r in sorted(reports.values(), key=edition_order) if r.series == series]


def measure_history(
    measures: Sequence[Measure], reports: Mapping[str, Any], measure: Measure
) -> MeasureHistory:
    """``measure`` followed back and forward through the editions of its report's series,
    matched by number and text; oldest first."""
    record = reports.get(measure.report)
    series = record.series if record is not None else measure.report
    by_report: dict[str, list[Measure]] = {}
    for m in measures:
        by_report.setdefault(m.report, []).append(m)
    order = editions_of(reports, series) or [measure.report]
    at = order.index(measure.report)
    found: dict[str, Measure] = {measure.report: measure}
    for step in (range(at - 1, -1, -1), range(at + 1, len(order))):
        current = measure
        for i in step:
            match = match_measure(current, by_report.get(order[i], []))
            if match is None:
                break  # the measure is not in that edition; stop following it that way
            found[order[i]] = match
            current = match
    entries = []
    previous: Measure | None = None
    for report_id in order:
        edition = found.get(report_id)
        if edition is None:
            continue
        changes = () if previous is None else changes_between(previous, edition)
        entries.append(HistoryEntry(edition, changes))
        previous = edition
    return MeasureHistory(number=measure.number, series=series, entries=tuple(entries))


# ---- questions about change ("この1年で実施済みになった施策は?") ------------------------------

_CHANGE_QUESTION = re.compile(
    r"(?:に|へ|と)(?:なった|なりました|変わった|変わりました|移った|進んだ|移行した)|"
    r"変わった|変わりました|変化|変更された|前回|この[1一１]年|この一年|昨年から|新たに|"
    r"\b(?:moved|became|become|changed|change[sd]? (?:in|of) status|since the (?:last|previous)|"
    r"newly|progressed|went from|turned|upgraded|over the (?:last|past) year)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ChangeQuestion:
    """A question about how statuses changed: into which statuses (empty: any change)."""

    language: str
    into: tuple[Status, ...]


# Words of a change question that name no topic ("since the last report", "この1年で").
_CHANGE_FILLER = re.compile(
    r"報告書?|版|から|まで|の間|で|"
    r"\b(?:to|from|into|reports?|editions?|last|previous|since|year|the|have|has|any)\b",
    re.IGNORECASE,
)
_STATUS_WORD = re.compile(r"実施状況|ステータス|状況|\bstatus(?:es)?\b", re.IGNORECASE)


def read_change_question(question: str) -> ChangeQuestion | None:
    """The change a question asks about ("この1年で実施済みになった施策は?", "Which measures
    changed status?"), or None: a topical question that happens to say "newly" or "became"
    is not one."""
    text = unicodedata.normalize("NFKC", question)
    if not _CHANGE_QUESTION.search(text):
        return None
    rest = _CHANGE_FILLER.sub(" ", _CHANGE_QUESTION.sub(" ", text))
    intent = read_intent(rest)
    language = read_intent(text).language
    if intent.status_only:
        return ChangeQuestion(language=language, into=intent.status_words)
    if not intent.status_words and _STATUS_WORD.search(text):
        leftover = read_intent(_STATUS_WORD.sub(" 実施中 ", rest))
        if leftover.status_only:
            return ChangeQuestion(language=language, into=())
    return None


@dataclass(frozen=True)
class ChangeAnswer:
    """The measures that changed as asked, between the two latest editions of a series."""

    asked: ChangeQuestion
    old: str | None  # None: the index holds only one edition
    new: str
    changed: tuple[tuple[Measure, Measure], ...]


def answer_change_question(
    measures: Sequence[Measure], reports: Mapping[str, Any], asked: ChangeQuestion
) -> ChangeAnswer | None:
    """The status changes between the two latest editions of the report series that has
    more than one edition (the newest series first); None when the index has no reports."""
    if not reports:
        return None
    latest = max(reports.values(), key=edition_order)
    series_with_history = [
        s
        for s in dict.fromkeys(r.series for r in sorted(reports.values(), key=edition_order))
        if len(editions_of(reports, s)) > 1
    ]
    if not series_with_history:
        return ChangeAnswer(asked=asked, old=None, new=latest.id, changed=())
    series = series_with_history[-1]
    old_id, new_id = editions_of(reports, series)[-2:]
    old = [m for m in measures if m.report == old_id]
    new = [m for m in measures if m.report == new_id]
    changed = tuple(
        (a, b)
        for a, b in match_editions(old, new)
        if a.status != b.status and (not asked.into or b.status in asked.into)
    )
    return ChangeAnswer(asked=asked, old=old_id, new=new_id, changed=changed)
