"""Read what a query asks for: its language and whether it only asks for a status."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from indexer.records import Status

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")

# Status words per status, Japanese and English. Longest alternatives first.
_STATUS_PATTERNS: dict[Status, re.Pattern[str]] = {
    "実施中": re.compile(
        r"実施中|実施している|進行中|取り組み中|取組中|"
        r"\b(?:in progress|ongoing|on-going|underway|under way|being implemented|"
        r"still being carried out|currently being implemented)\b",
        re.IGNORECASE,
    ),
    "実施済み": re.compile(
        r"実施済み?|実施済|実施された|実施し終|完了(?:した|済み?)?|達成済み?|"
        r"\b(?:implemented|completed|already done|done|finished|carried out|accomplished)\b",
        re.IGNORECASE,
    ),
    "検討中": re.compile(
        r"検討中|検討段階|検討している|"
        r"\b(?:under consideration|under review|being considered|being studied|under study|"
        r"still considering|not yet implemented|not implemented yet|still being discussed)\b",
        re.IGNORECASE,
    ),
}

# "Not yet completed" means in progress or under consideration; read before the plain words.
_NOT_DONE = re.compile(
    r"未実施|未完了|完了していない|実施されていない|終わっていない|済んでいない|"
    r"\b(?:not (?:yet )?(?:been )?(?:completed|implemented|done|finished)|"
    r"(?:incomplete|unfinished|outstanding|pending))\b",
    re.IGNORECASE,
)

# What a question sets a status against ("under consideration rather than being carried
# out") names no status it asks for: dropped before the status words are read.
_CONTRAST = re.compile(
    r"\b(?:rather than|instead of|and not|but not) (?:being |been |yet )?(?:actually )?"
    r"(?:carried out|implemented|done|completed|finished|in progress|underway|under way)\b",
    re.IGNORECASE,
)

_LIST_CUE = re.compile(
    r"どれ|どの|全部|すべて|全て|一覧|いくつ|何件|リスト|列挙|教えて|"
    r"\b(?:which|list|every|all|what measures|show|how many|enumerate)\b",
    re.IGNORECASE,
)

# Words that may surround a status word in a status-only question.
_FILLER = re.compile(
    r"施策|措置|提言|項目|もの|取組み?|取り組み|状況|ステータス|の|は|が|を|な|に|で|も|"
    r"ですか|ますか|か|まだ|現在|今|現時点で?|？|\?|、|。|,|\.|\s|"
    r"\b(?:the|measures?|recommendations?|items?|policies|policy|are|is|were|was|still|yet|"
    r"either|or|and|not|ie|eg|i|e|g|so far|"
    r"currently|now|of|status|with|that|have|has|been|a|in|me|please|what|which|list|all|"
    r"every|show|how|many|there|only|just|panel|roundtable|its|their|ones|those|s)\b|['’]",
    re.IGNORECASE,
)


# The report itself, as a user names it in English ("what does the report say about
# refugees?"): no topic, but "report" would reach 報告書 and 報告 through the glossary and the
# lexicon, and with them the measures that mention reports. "Country reports" stays.
_SELF_REFERENCE = re.compile(
    r"\b(?:the|this|that|your|its) (?:roundtable |panel |government |agency )?"
    r"(?:report|document)(?:['’]s)?\b",
    re.IGNORECASE,
)

_KANA = re.compile(r"[\u3040-\u309f\u30fc]")
_JA_ASKING = re.compile(r"番号|挙|教|示|知|見|既|全|一覧|下")


@dataclass(frozen=True)
class QueryIntent:
    """What the service read from a query."""

    language: str  # "ja" or "en"
    status_words: tuple[Status, ...]  # statuses the query names
    status_only: bool  # the query asks for the list of measures with these statuses
    status_scoped: bool = False  # a topical question restricted to these statuses


def detect_language(query: str) -> str:
    return "ja" if _JAPANESE.search(query) else "en"


def read_intent(query: str) -> QueryIntent:
    text = unicodedata.normalize("NFKC", query)
    language = detect_language(text)
    statuses: list[Status] = []
    rest = _CONTRAST.sub(" ", text)
    if _NOT_DONE.search(rest):
        statuses += ["実施中", "検討中"]
        rest = _NOT_DONE.sub(" ", rest)
    for status, pattern in _STATUS_PATTERNS.items():
        if status not in statuses and pattern.search(rest):
            statuses.append(status)
            rest = pattern.sub(" ", rest)
    if not statuses:
        return QueryIntent(language, (), False)
    leftover = _FILLER.sub("", _LIST_CUE.sub("", rest))
    # Japanese request phrasing (となっている, 挙げてください, すでに…) carries no topic:
    # drop kana and the few kanji of asking verbs; what remains is the topic, if any.
    leftover = _JA_ASKING.sub("", _KANA.sub("", leftover)).strip()
    if not leftover:
        return QueryIntent(language, tuple(statuses), status_only=True)
    # "Which refugee measures are implemented?": a list restricted to a status, ranked by topic.
    # A status word in a plain topical question ("has the My Number linkage been
    # implemented?") asks about one measure's status and restricts nothing.
    scoped = bool(_LIST_CUE.search(text))
    return QueryIntent(language, tuple(statuses), status_only=False, status_scoped=scoped)


def without_self_reference(query: str) -> str:
    """``query`` without the words that name the report itself ("the report", "this
    document"); ``query`` as it is when nothing else would be left."""
    rest = " ".join(_SELF_REFERENCE.sub(" ", query).split())
    return rest if any(ch.isalnum() for ch in rest) else query
