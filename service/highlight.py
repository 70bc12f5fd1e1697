"""Which words of a passage match the query: term spans for highlighting, best first.

The query (and, for English queries, its glossary expansion) is cut into SudachiPy mode A
morphemes; their normalised forms are the query's terms, function words and generic nouns
left out. A passage is cut the same way and each run of adjacent morphemes whose forms are
query terms becomes one span (``特定`` + ``技能`` + ``２`` + ``号`` → ``特定技能２号``). A run made
only of weak terms (numbers, suffixes, one kana) is no match: ``２`` alone marks nothing.
Spans are ranked by the rarity (IDF over the index's passages) of the terms they hold.

Each result also gets its best-matching sentence: in the best-scored passage that matches at
all, the sentence holding the most term weight. Passages without a matching term get no
marks: a passage found by meaning alone is not dressed up as a word match.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.morphemes import Morpheme, text_morphemes
from indexer.passages import sentence_spans
from indexer.records import Passage
from indexer.tokenize import Tokenizer
from indexer.vocabulary import word_list
from service.intent import read_intent
from service.search import SearchEngine, SearchOutcome

_LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.\-]*")

# Parts of speech that never carry the topic of a query.
_FUNCTION_POS = frozenset(
    {"助詞", "助動詞", "補助記号", "記号", "空白", "感動詞", "接続詞", "連体詞", "代名詞", "副詞"}
)


@dataclass(frozen=True)
class Span:
    """Characters ``start:end`` of a passage's text."""

    start: int
    end: int


@dataclass(frozen=True)
class PassageMarks:
    """What to mark in one passage: term spans (best first) and, for the passage holding a
    result's best-matching sentence, that sentence."""

    terms: tuple[Span, ...] = ()
    sentence: Span | None = None


@dataclass(frozen=True)
class Match:
    """One matching span, the query terms it holds and its weight (their summed IDF)."""

    span: Span
    keys: frozenset[str]
    weight: float


@dataclass(frozen=True)
class _Token:
    start: int  # offsets into the original (un-normalised) text
    end: int
    key: str  # normalised form (lower-case for Latin script)
    weak: bool  # a number, suffix, counter or lone kana: a match only beside a strong one
    content: bool  # a content word (a query term when the query holds it)


@dataclass(frozen=True)
class QueryTerms:
    strong: frozenset[str]
    weak: frozenset[str]
    pairs: frozenset[tuple[str | None, str | None]] = frozenset()  # adjacent in the query

    def __bool__(self) -> bool:
        return bool(self.strong)


def _is_kana(text: str) -> bool:
    return all("\u3040" <= ch <= "\u30ff" for ch in text)


def classify(found: Sequence[Morpheme]) -> list[_Token]:
    """Morphemes (``indexer.morphemes.text_morphemes``) as highlighter tokens: the key each
    matches by, whether it is weak, whether it is a content word."""
    out: list[_Token] = []
    for start, end, surface, normalized, pos0, pos1, pos2 in found:
        if _LATIN.fullmatch(surface):
            key = surface.lower()
            content = pos0 not in _FUNCTION_POS and key not in word_list("stopwords_en.txt")
            weak = key.isdigit() or len(key) == 1
        else:
            key = normalized.lower().strip()
            content = (
                pos0 not in _FUNCTION_POS
                and pos1 != "非自立可能"
                and key not in word_list("unmarked_ja.txt")
                and key not in word_list("generic_nouns_ja.txt")
            )
            weak = (
                pos0 == "接尾辞"
                or pos1 == "数詞"
                or pos2 == "助数詞可能"
                or (len(surface) == 1 and _is_kana(surface))
            )
        out.append(_Token(start, end, key, weak, content))
    return out


def tokens(tokenizer: Tokenizer, text: str) -> list[_Token]:
    """The morphemes of ``text`` with offsets into ``text`` itself, classified."""
    return classify(text_morphemes(tokenizer, text))


def _runs(
    found: Sequence[_Token], terms: QueryTerms, matching: Sequence[int] | None = None
) -> list[list[_Token]]:
    """Runs of adjacent tokens that are query terms, each holding a strong term. A weak term
    (``２``, ``号``) stays in a run only beside a term it stood beside in the query.
    ``matching``: the positions of the tokens that are query terms, in order, when known."""
    if matching is None:
        matching = [
            i
            for i, token in enumerate(found)
            if token.content and (token.key in terms.strong or token.key in terms.weak)
        ]
    runs: list[list[_Token]] = []
    current: list[_Token] = []
    previous = -2
    for i in matching:
        token = found[i]
        # Another token between them, or a gap in the text, ends the run.
        if current and (i != previous + 1 or current[-1].end != token.start):
            runs.append(current)
            current = []
        current.append(token)
        previous = i
    if current:
        runs.append(current)
    kept: list[list[_Token]] = []
    for run in runs:
        piece: list[_Token] = []
        for i, token in enumerate(run):
            if token.weak or token.key not in terms.strong:
                before = run[i - 1].key if i else None
                after = run[i + 1].key if i + 1 < len(run) else None
                if (before, token.key) not in terms.pairs and (token.key, after) not in terms.pairs:
                    kept.append(piece)
                    piece = []
                    continue
            piece.append(token)
        kept.append(piece)
    return [run for run in kept if any(t.key in terms.strong and not t.weak for t in run)]


class Highlighter:
    """Term spans of passages for a query; built once per index (passages tokenised once)."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        passages: Sequence[Passage],
        morphemes: Mapping[int, Sequence[Morpheme]] | None = None,
    ) -> None:
        """``morphemes``: the passages' morphemes as the index recorded them
        (``morphemes.json``); without them the passages are cut here."""
        self.tokenizer = tokenizer
        recorded = morphemes or {}
        self._tokens = {
            p.id: classify(recorded[p.id]) if p.id in recorded else tokens(tokenizer, p.text)
            for p in passages
        }
        # Where each content key occurs in each passage: a passage holding none of a query's
        # strong terms has no span (most of a result list), the others are read at those places.
        self._positions: dict[int, dict[str, list[int]]] = {}
        for pid, found in self._tokens.items():
            positions = self._positions[pid] = {}
            for i, token in enumerate(found):
                if token.content:
                    positions.setdefault(token.key, []).append(i)
        self._sentences = {p.text: sentence_spans(p.text) for p in passages}
        documents = len(passages) or 1
        frequency: dict[str, int] = {}
        for found in self._tokens.values():
            for key in {t.key for t in found if t.content}:
                frequency[key] = frequency.get(key, 0) + 1
        self._idf = {
            key: math.log((documents + 1) / (count + 0.5)) for key, count in frequency.items()
        }
        self._default_idf = math.log((documents + 1) / 0.5)

    def weight(self, key: str) -> float:
        return self._idf.get(key, self._default_idf)

    def query_terms(self, *texts: str) -> QueryTerms:
        """The terms of a query (and of its glossary expansion, when given as well)."""
        strong: set[str] = set()
        weak: set[str] = set()
        pairs: set[tuple[str | None, str | None]] = set()
        for text in texts:
            previous: _Token | None = None
            for token in tokens(self.tokenizer, text):
                if not token.content:
                    previous = None
                    continue
                (weak if token.weak else strong).add(token.key)
                if previous is not None and previous.end == token.start:
                    pairs.add((previous.key, token.key))
                previous = token
        return QueryTerms(frozenset(strong), frozenset(weak), frozenset(pairs))

    def _passage_tokens(self, passage: Passage) -> list[_Token]:
        found = self._tokens.get(passage.id)
        return found if found is not None else tokens(self.tokenizer, passage.text)

    def term_spans(self, passage: Passage, terms: QueryTerms) -> list[Match]:
        """The spans of ``passage.text`` that match ``terms``, best first."""
        if not terms:
            return []
        positions = self._positions.get(passage.id)
        matching = None
        if positions is not None:
            if terms.strong.isdisjoint(positions):
                return []
            matching = sorted(
                i for key in terms.strong | terms.weak for i in positions.get(key, ())
            )
        found = []
        for run in _runs(self._passage_tokens(passage), terms, matching):
            keys = frozenset(t.key for t in run if t.key in terms.strong and not t.weak)
            weight = sum(self.weight(k) for k in keys) + 0.01 * (run[-1].end - run[0].start)
            found.append(Match(Span(run[0].start, run[-1].end), keys, weight))
        found.sort(key=lambda m: (-m.weight, m.span.start))
        return found

    def mark(self, outcome: SearchOutcome) -> dict[int, PassageMarks]:
        """Marks for every passage of every result of ``outcome``, by passage id."""
        terms = self.terms_of(outcome)
        marks: dict[int, PassageMarks] = {}
        for hit in outcome.results:
            best: tuple[int, Span] | None = None
            for passage_hit in hit.passages:
                passage = passage_hit.passage
                found = self.term_spans(passage, terms)
                marks[passage.id] = PassageMarks(terms=tuple(m.span for m in found))
                if best is None and found:
                    best = (passage.id, self.best_sentence(passage.text, found))
            if best is not None:
                passage_id, sentence = best
                marks[passage_id] = PassageMarks(marks[passage_id].terms, sentence)
        return marks

    def best_sentence(self, text: str, found: Sequence[Match]) -> Span:
        """The sentence of ``text`` whose matches cover the rarest query terms (the first
        on a tie)."""
        best = Span(0, len(text))
        best_weight = -1.0
        spans = self._sentences.get(text)
        for start, end in spans if spans is not None else sentence_spans(text):
            sentence = Span(start, end)
            inside = [m for m in found if sentence.start <= m.span.start < sentence.end]
            keys = frozenset().union(*(m.keys for m in inside))
            weight = sum(self.weight(k) for k in keys) + 0.1 * len(inside)
            if weight > best_weight:
                best, best_weight = sentence, weight
        return best

    def terms_of(self, outcome: SearchOutcome) -> QueryTerms:
        """The query's terms; none for a question that only names a status (the match is the
        status, not its words)."""
        signals = outcome.signals
        if signals.intent.status_only:
            return QueryTerms(frozenset(), frozenset())
        return self.query_terms(*dict.fromkeys([outcome.query, signals.expanded_query]))


def measure_marks(engine: SearchEngine, number: int, query: str) -> dict[str, list[Span]]:
    """The query's words in each field of measure ``number`` (offsets into the field's text),
    best first within each passage: for a measure page reached from a search."""
    intent = read_intent(query)
    if intent.status_only or not query.strip():
        return {}
    highlighter = highlighter_of(engine)
    terms = highlighter.query_terms(*dict.fromkeys([query, engine.expand(query, intent.language)]))
    marks: dict[str, list[Span]] = {}
    for passage in engine.index.passages:
        if passage.measure != number:
            continue
        for match in highlighter.term_spans(passage, terms):
            span = Span(passage.start + match.span.start, passage.start + match.span.end)
            marks.setdefault(passage.field, []).append(span)
    return marks


def highlighter_of(engine: SearchEngine) -> Highlighter:
    """The highlighter of ``engine``'s index (built with it by ``service.engine``; a reload
    makes a new engine, so a new one)."""
    highlighter: Highlighter = engine.highlighter
    return highlighter
