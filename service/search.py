"""The search core: hybrid dense + BM25 retrieval fused per passage and per measure."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np

from indexer.embed import Encoder
from indexer.passages import footnote_links
from indexer.records import STATUS_NAMES, Measure, Passage, parse_status
from indexer.tokenize import Tokenizer
from service.cpus import CpuSteering, SteeredHelpers
from service.dense import DenseScorer, candidate_count, sample_rows
from service.errors import InvalidRequest, Overloaded, PayloadTooLarge
from service.fusion import RawScores, Recipe, SampleScores, combine
from service.glossary import Glossary
from service.index import LoadedIndex, check_reports, pick_measure, reports_in_scope
from service.intent import QueryIntent, read_intent, without_self_reference
from service.slots import FairSlots
from service.translate import CrossLingual, CrossLingualOptions, QueryTerms, Translator
from service.vocabulary import ReportVocabulary

logger = logging.getLogger(__name__)

PASSAGES_PER_RESULT = 3
# Query texts encoded while holding one encoder slot (a search behind a batch waits for at
# most one such chunk; BENCHMARKS.md has the measured wait).
ENCODE_CHUNK_CHARS = 2000


@dataclass(frozen=True)
class PassageHit:
    passage: Passage
    score: float


@dataclass(frozen=True)
class MeasureHit:
    measure: Measure
    score: float
    passages: tuple[PassageHit, ...]


@dataclass(frozen=True)
class Signals:
    """Raw evidence about a query, for answerability decisions and debugging."""

    language: str
    expanded_query: str
    intent: QueryIntent
    dense_top: float  # best raw cosine of the query with any passage (dense model)
    second_top: float | None
    lexical_top: float


@dataclass(frozen=True)
class SearchOutcome:
    query: str
    results: tuple[MeasureHit, ...]
    took_ms: float
    signals: Signals
    cached: bool = False  # answered from the result cache


@dataclass(frozen=True)
class QueryVectors:
    dense: np.ndarray
    second: np.ndarray | None


@dataclass
class _LRU:
    size: int
    items: OrderedDict[Any, Any] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Any) -> Any | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        if self.size <= 0:
            return
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


def normalize_query(query: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", query).split())


def encoding_chunks(texts: Sequence[str], max_chars: int) -> list[list[int]]:
    """Indexes of ``texts`` in consecutive chunks of at most ``max_chars`` characters (a
    longer text is a chunk of its own)."""
    chunks: list[list[int]] = []
    size = 0
    for i, text in enumerate(texts):
        if chunks and size + len(text) <= max_chars:
            chunks[-1].append(i)
            size += len(text)
        else:
            chunks.append([i])
            size = len(text)
    return chunks


def validate_query(query: Any, max_chars: int) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequest("the query is empty; type a question or keywords")
    if len(query) > max_chars:
        raise InvalidRequest(f"the query is {len(query)} characters long; the limit is {max_chars}")
    if "\x00" in query:
        raise InvalidRequest("the query contains a NUL character")
    if not query.isascii():
        try:
            query.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON) is not text
            raise InvalidRequest("the query contains an unpaired surrogate code point") from None
    return query.strip()


def validate_k(k: Any, max_k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
        raise InvalidRequest(f"k must be a whole number from 1 to {max_k} (got {k!r})")
    return k


def validate_statuses(statuses: Sequence[str] | None) -> tuple[str, ...]:
    if not statuses:
        return ()
    parsed = [parse_status(s) for s in statuses]
    unknown = [s for s, p in zip(statuses, parsed) if p is None]
    if unknown:
        raise InvalidRequest(f"unknown status {unknown[0]!r}; use one of {', '.join(STATUS_NAMES)}")
    return tuple(dict.fromkeys(p for p in parsed if p is not None))


Editions = Literal["latest", "all"]
EDITIONS: tuple[Editions, ...] = get_args(Editions)


@dataclass(frozen=True)
class Scope:
    """Which reports a search covers: the ones named, else the latest edition of each
    series (or every edition)."""

    reports: tuple[str, ...] = ()
    editions: Editions = "latest"


def _second_worker(slots: int, steer: bool = True) -> SteeredHelpers:
    """The threads that run the second encoder beside e5, woken on another CPU than their
    caller's unless ``steer`` is off (started on first use)."""
    return SteeredHelpers(slots, "second-encoder", None if steer else CpuSteering())


class SearchEngine:
    """Answers searches over one loaded index. Thread-safe."""

    def __init__(
        self,
        index: LoadedIndex,
        encoder: Encoder,
        second: Encoder | None,
        tokenizer: Tokenizer,
        glossary: Glossary | None,
        max_query_chars: int = 1000,
        max_k: int = 50,
        encoder_slots: int = 1,
        encoder_wait_seconds: float = 10.0,
        cache_size: int = 1024,
        result_cache_size: int = 1024,
        max_batch: int = 100,
        max_batch_chars: int = 20_000,
        recipe: Recipe | None = None,
        translator: Translator | None = None,
        cross_lingual: CrossLingualOptions | None = None,
        highlighter: Any = None,
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.second = second
        self.tokenizer = tokenizer
        self.glossary = glossary
        self.max_query_chars = max_query_chars
        self.max_k = max_k
        self._encoder_slots = FairSlots(encoder_slots)
        self._encoder_wait = encoder_wait_seconds
        self._vector_cache = _LRU(cache_size)
        self._slot_count = encoder_slots
        self._second_worker = _second_worker(encoder_slots)
        # Whole outcomes keyed by (normalised query, k, statuses); a reload builds a new
        # engine, so a new index never answers from the old one's cache.
        self._result_cache = _LRU(result_cache_size)
        # What the front ends show with a cached outcome (service.views: highlights, grades,
        # the answerability decision), kept as long as the outcome is.
        self.view_cache = _LRU(result_cache_size)
        self.max_batch = max_batch
        self.max_batch_chars = max_batch_chars
        self.recipe = recipe or Recipe()
        # English queries → weighted Japanese corpus terms from the index's JMdict lexicon.
        self.cross = CrossLingual(translator, index.bm25, cross_lingual or CrossLingualOptions())
        # service.highlight.Highlighter of this index (made by service.engine, which may import
        # both modules; the highlighter reads search outcomes, so search cannot import it).
        self.highlighter = highlighter
        self._rows = {m.key: row for row, m in enumerate(index.measures)}
        self._footnotes = footnote_links(index.measures, index.passages)
        # Exact indexes score every row; HNSW ones their top candidates plus a fixed sample
        # of measures (with their passages) scored exactly (service/dense.py).
        candidates = candidate_count(max_k)
        measures, passages, self._sample_groups = sample_rows(
            index.passage_measure, len(index.measures)
        )
        self._scorers = {
            name: DenseScorer(faiss_index, candidates, rows)
            for name, faiss_index, rows in (
                ("dense_passages", index.dense_passages, passages),
                ("dense_measures", index.dense_measures, measures),
                ("second_passages", index.second_passages, passages),
                ("second_measures", index.second_measures, measures),
            )
            if faiss_index is not None
        }

    # ---- query encoding -------------------------------------------------------------

    def expand(self, query: str, language: str) -> str:
        if language == "en" and self.glossary is not None:
            return self.glossary.expand(query)
        return query

    def encode_queries(
        self, texts: Sequence[str], originals: Sequence[str] | None = None
    ) -> list[QueryVectors]:
        """Query vectors, cached: the dense model reads ``texts`` (glossary-expanded), the
        second model reads ``originals`` (USE is strong on English as written; appended
        Japanese terms blur it — measured on the development set)."""
        originals = texts if originals is None else originals
        keys = list(zip(texts, originals))
        found: dict[int, QueryVectors] = {}
        missing = []
        for i, key in enumerate(keys):
            cached = self._vector_cache.get(key)
            if cached is None:
                missing.append(i)
            else:
                found[i] = cached
        for chunk in encoding_chunks([texts[i] for i in missing], ENCODE_CHUNK_CHARS):
            rows = [missing[j] for j in chunk]
            dense, second = self._encode_chunk(
                [texts[i] for i in rows], [originals[i] for i in rows]
            )
            for j, i in enumerate(rows):
                vectors = QueryVectors(
                    dense=np.ascontiguousarray(dense[j : j + 1], dtype=np.float32),
                    second=None
                    if second is None
                    else np.ascontiguousarray(second[j : j + 1], dtype=np.float32),
                )
                self._vector_cache.put(keys[i], vectors)
                found[i] = vectors
        return [found[i] for i in range(len(keys))]

    def _encode_chunk(
        self, texts: list[str], originals: list[str]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Encode one chunk holding one encoder slot; the slot is given back between chunks,
        first come first served, so a search waits behind one chunk of a batch, not all."""
        if not self._encoder_slots.acquire(timeout=self._encoder_wait):
            raise Overloaded("the encoder is busy; try again in a moment")
        try:
            # The two encoders run side by side, each on a thread and a CPU of its own
            # (service/cpus.py).
            pending = None
            if self.second is not None:
                pending = self._second_worker.submit(self.second.encode_queries, originals)
            dense = self.encoder.encode_queries(texts)
            second = pending.result() if pending is not None else None
        finally:
            self._encoder_slots.release()
        return dense, second

    # ---- scoring ----------------------------------------------------------------------

    def _encoder_scores(
        self, name: str, vector: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, SampleScores | None]:
        """One encoder's (passage, whole-measure) scores of a query for every row, and the
        exact sample's scores when its indexes are approximate."""
        passages, passage_sample = self._scorers[f"{name}_passages"].scores(vector)
        measures, measure_sample = self._scorers[f"{name}_measures"].scores(vector)
        sample = None
        if passage_sample is not None and measure_sample is not None:
            sample = SampleScores(passage_sample, measure_sample, self._sample_groups)
        return passages, measures, sample

    def _lexical_scores(self, text: str) -> np.ndarray:
        tokens = self.tokenizer.tokenize(text)
        n = len(self.index.passages)
        if not tokens:
            return np.zeros(n)
        scores = self.index.bm25.get_scores(tokens)
        return np.asarray(scores, dtype=np.float64)

    def raw_scores(
        self, lexical_text: str, vectors: QueryVectors, terms: QueryTerms | None = None
    ) -> tuple[RawScores, np.ndarray]:
        """Every raw signal of one query against the index (before fusion), and the plain BM25
        scores (without the lexicon's terms, for answerability)."""
        idx = self.index
        second_p = second_m = second_sample = None
        if vectors.second is not None and idx.second_passages is not None:
            second_p, second_m, second_sample = self._encoder_scores("second", vectors.second)
        dense_p, dense_m, dense_sample = self._encoder_scores("dense", vectors.dense)
        lexical = self._lexical_scores(lexical_text)
        raw = RawScores(
            dense_passages=dense_p,
            dense_measures=dense_m,
            lexical_passages=self.cross.lexical(lexical, terms),
            second_passages=second_p,
            second_measures=second_m,
            extra_passages=self.cross.extra_signal(terms),
            dense_sample=dense_sample,
            second_sample=second_sample,
        )
        return raw, lexical

    def score(
        self, lexical_text: str, vectors: QueryVectors, terms: QueryTerms | None = None
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float | None]]:
        """Fused (measure scores, passage scores) under the engine's recipe, and the raw top
        signals (for answerability)."""
        raw, plain_lexical = self.raw_scores(lexical_text, vectors, terms)
        groups, n_measures = self.index.passage_measure, len(self.index.measures)
        measure_scores, passage_scores = combine(raw, groups, n_measures, self.recipe)
        if terms is not None:  # pseudo-relevance feedback (off unless an ablation asks)
            fed = self.cross.feedback(
                raw.lexical_passages, passage_scores, self.tokenizer.tokenize(lexical_text)
            )
            if fed is not None:
                raw = replace(raw, lexical_passages=fed)
                measure_scores, passage_scores = combine(raw, groups, n_measures, self.recipe)
        tops = {
            "dense_top": float(raw.dense_passages.max()),
            "second_top": None if raw.second_passages is None else float(raw.second_passages.max()),
            "lexical_top": float(plain_lexical.max()),
        }
        # A footnote answers what the sentence citing it asks: it scores at least as that one.
        for citing, notes in self._footnotes.items():
            for note in notes:
                passage_scores[note] = max(passage_scores[note], passage_scores[citing])
        return measure_scores, passage_scores, tops

    # ---- public API -------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        statuses: Sequence[str] | None = None,
        reports: Sequence[str] | None = None,
        editions: str = "latest",
    ) -> SearchOutcome:
        """Search one query: a batch of one."""
        return self.search_batch(
            [query], k=k, statuses=statuses, reports=reports, editions=editions
        )[0]

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        statuses: Sequence[str] | None = None,
        reports: Sequence[str] | None = None,
        editions: str = "latest",
    ) -> list[SearchOutcome]:
        """Search each query over the reports in scope (by default the latest edition of
        each report series), keeping measures with one of ``statuses`` when given."""
        started = time.perf_counter()
        if len(queries) > self.max_batch:
            raise InvalidRequest(
                f"{len(queries)} queries in one batch; the limit is {self.max_batch}"
            )
        cleaned = [validate_query(q, self.max_query_chars) for q in queries]
        total = sum(len(q) for q in cleaned)
        if total > self.max_batch_chars:
            raise PayloadTooLarge(
                f"the batch holds {total} characters of queries; the limit is "
                f"{self.max_batch_chars} (SHISAKU_MAX_BATCH_CHARS); send it in parts"
            )
        k = validate_k(k, self.max_k)
        wanted = validate_statuses(statuses)
        scope = self.validate_scope(reports, editions)
        keys = [(normalize_query(q), k, wanted, scope) for q in cleaned]
        found = {i: hit for i, key in enumerate(keys) if (hit := self._result_cache.get(key))}
        missing = [i for i in range(len(cleaned)) if i not in found]
        if missing:
            fresh = self._search_uncached([cleaned[i] for i in missing], k, wanted, scope)
            for i, outcome in zip(missing, fresh):
                self._result_cache.put(keys[i], outcome)
                found[i] = outcome
        took = round((time.perf_counter() - started) * 1000, 2)
        return [
            SearchOutcome(query, found[i].results, took, found[i].signals, i not in missing)
            for i, query in enumerate(cleaned)
        ]

    def _search_uncached(
        self, cleaned: list[str], k: int, wanted: tuple[str, ...], scope: Scope = Scope()
    ) -> list[SearchOutcome]:
        topics = [without_self_reference(q) for q in cleaned]  # the words that find measures
        intents = [read_intent(q) for q in cleaned]
        expanded = [self.expand(q, intent.language) for q, intent in zip(topics, intents)]
        translated = [
            self.cross.prepare(q, intent.language, self.glossary)
            for q, intent in zip(topics, intents)
        ]
        recipe = self.recipe

        def reads(glossary: bool) -> list[str]:
            return [normalize_query(e if glossary else q) for q, e in zip(topics, expanded)]

        dense_texts = [
            self.cross.dense_text(text, terms)
            for text, terms in zip(reads(recipe.dense_reads_glossary), translated)
        ]
        lexical_texts = reads(recipe.lexical_reads_glossary)
        vectors = self.encode_queries(dense_texts, reads(recipe.second_reads_glossary))
        outcomes = []
        for query, intent, text, lexical, vector, terms in zip(
            cleaned, intents, expanded, lexical_texts, vectors, translated
        ):
            measure_scores, passage_scores, tops = self.score(lexical, vector, terms)
            results = self._rank(measure_scores, passage_scores, k, wanted, intent, scope)
            outcomes.append(
                SearchOutcome(
                    query=query,
                    results=results,
                    took_ms=0.0,
                    signals=Signals(
                        language=intent.language,
                        expanded_query=text,
                        intent=intent,
                        dense_top=tops["dense_top"] or 0.0,
                        second_top=tops["second_top"],
                        lexical_top=tops["lexical_top"] or 0.0,
                    ),
                )
            )
        return outcomes

    def _rank(
        self,
        measure_scores: np.ndarray,
        passage_scores: np.ndarray,
        k: int,
        wanted: tuple[str, ...],
        intent: QueryIntent,
        scope: Scope = Scope(),
    ) -> tuple[MeasureHit, ...]:
        measures = self.index.measures
        order = list(np.argsort(-measure_scores, kind="stable"))
        in_scope = self.scope_reports(scope)
        if in_scope is not None:
            order = [row for row in order if measures[row].report in in_scope]
        if wanted:
            order = [row for row in order if measures[row].status in wanted]
        elif intent.status_only:
            # "Which measures are under consideration?": every measure with that status.
            order = [row for row in order if measures[row].status in intent.status_words]
            k = max(k, len(order))
        elif intent.status_scoped:
            scoped = [row for row in order if measures[row].status in intent.status_words]
            order = scoped or order
        hits = []
        for row in order[:k]:
            rows = np.flatnonzero(self.index.passage_measure == row)
            best = rows[np.argsort(-passage_scores[rows], kind="stable")][:PASSAGES_PER_RESULT]
            hits.append(
                MeasureHit(
                    measure=measures[row],
                    score=round(float(measure_scores[row]), 4),
                    passages=tuple(
                        PassageHit(self.index.passages[p], round(float(passage_scores[p]), 4))
                        for p in best
                    ),
                )
            )
        return tuple(hits)

    # ---- reports ------------------------------------------------------------------------

    def validate_scope(self, reports: Sequence[str] | None, editions: str = "latest") -> Scope:
        """The scope of a search; NotFound names an unknown report (with the ones there are),
        InvalidRequest a bad editions value."""
        if editions not in EDITIONS:
            raise InvalidRequest(
                f"editions must be one of {', '.join(EDITIONS)} (got {editions!r})"
            )
        return Scope(check_reports(reports, self.index.reports), editions)

    def scope_reports(self, scope: Scope) -> frozenset[str] | None:
        """The report ids a scope covers; None when it is every report of the index."""
        return reports_in_scope(
            scope.reports, scope.editions, self.index.reports, self.index.latest
        )

    def get_measure(self, number: int, report: str | None = None) -> Measure:
        """Measure ``number`` of ``report`` (default: the latest edition that has it)."""
        return pick_measure(
            self.index.measures, self._rows, self.index.reports, self.index.latest, number, report
        )

    def _scope_rows(self, scope: Scope) -> list[int]:
        in_scope = self.scope_reports(scope)
        return [
            row
            for row, m in enumerate(self.index.measures)
            if in_scope is None or m.report in in_scope
        ]

    def similar_measures(
        self, number: int, k: int = 5, report: str | None = None, scope: Scope = Scope()
    ) -> list[tuple[Measure, float]]:
        """Measures most similar to measure ``number`` (itself and its other editions
        excluded), by whole-measure vectors, among the reports in ``scope``."""
        measure = self.get_measure(number, report)
        k = validate_k(k, self.max_k)
        row = self._rows[measure.key]
        vectors = self.index.dense_measures.reconstruct_n(0, self.index.dense_measures.ntotal)
        scores = vectors @ vectors[row]
        series = self._series_of(measure.report)
        allowed = set(self._scope_rows(scope))
        order = [
            r
            for r in np.argsort(-scores, kind="stable")
            if r in allowed
            and r != row
            and not (
                self.index.measures[r].number == number
                and self._series_of(self.index.measures[r].report) == series
            )
        ][:k]
        return [(self.index.measures[r], round(float(scores[r]), 4)) for r in order]

    def _series_of(self, report: str) -> str:
        record = self.index.reports.get(report)
        return record.series if record is not None else report

    def similar_to_text(
        self, text: str, k: int = 5, scope: Scope = Scope()
    ) -> list[tuple[Measure, float]]:
        """Measures most similar to any free text, by whole-measure vectors."""
        text = validate_query(text, self.max_query_chars)
        k = validate_k(k, self.max_k)
        language = read_intent(text).language
        expanded = normalize_query(self.expand(text, language))
        vector = self.encode_queries([expanded], [normalize_query(text)])[0].dense
        scores = self._scorers["dense_measures"].scores(vector)[0]
        allowed = set(self._scope_rows(scope))
        order = [r for r in np.argsort(-scores, kind="stable") if r in allowed][:k]
        return [(self.index.measures[r], round(float(scores[r]), 4)) for r in order]

    def with_recipe(self, recipe: Recipe) -> SearchEngine:
        """The same index, models and limits, scored by another recipe (for ablations)."""
        return SearchEngine(
            index=self.index,
            encoder=self.encoder,
            second=self.second,
            tokenizer=self.tokenizer,
            glossary=self.glossary,
            max_query_chars=self.max_query_chars,
            max_k=self.max_k,
            encoder_wait_seconds=self._encoder_wait,
            cache_size=self._vector_cache.size,
            result_cache_size=self._result_cache.size,
            max_batch=self.max_batch,
            max_batch_chars=self.max_batch_chars,
            recipe=recipe,
            translator=self.cross.translator,
            cross_lingual=self.cross.options,
            highlighter=self.highlighter,
        )

    @cached_property
    def vocabulary(self) -> ReportVocabulary:
        """The report's words and the concepts it never uses (built on first use)."""
        translator = self.cross.translator
        english = translator.lexicon.words if translator is not None else ()
        recorded = self.index.morphemes
        words = (recorded.words, recorded.readings) if recorded is not None else None
        return ReportVocabulary(
            self.index.measures, self.glossary, self.tokenizer, english, words=words
        )

    def stop_threads(self, steer: bool = True) -> None:
        """Stop the engine's helper threads; the next search starts new ones, steered off
        their caller's CPU when ``steer`` (service/cpus.py). A process calls it before it
        forks workers that share this engine: a thread does not survive a fork, and an
        executor whose thread is gone would never run its work."""
        stopped = self._second_worker
        self._second_worker = _second_worker(self._slot_count, steer)
        stopped.shutdown(wait=True)

    @property
    def steers_helpers(self) -> bool:
        """Whether the second encoder's threads are woken off their caller's CPU."""
        return self._second_worker.steering.active

    def clear_cache(self) -> None:
        self._vector_cache.clear()
        self._result_cache.clear()
        self.view_cache.clear()
