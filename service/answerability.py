"""Answerability: does the report cover a question? A small rule over retrieval evidence.

Signals: the best dense (e5) cosine per language, general immigration concepts the question
names that the report never mentions, Japanese content nouns absent
from the report, whether a question asking for a number finds one in the evidence, whether
the best measure states any of an English question's words (or a translation of one) and
names the year the question asks about, and the best second-encoder (USE) cosine.
Figures and how the thresholds were set: ``benchmarks/answerability.py``,
``benchmarks/issue10.py``, BENCHMARKS.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.lexicon import content_lemmas
from service.answer_kinds import count_unmet, kinds_unmet, year_unmet
from service.glossary import GlossaryEntry
from service.intent import without_self_reference
from service.search import SearchEngine, SearchOutcome


@dataclass(frozen=True)
class Thresholds:
    """The answerability rule's numbers, per language (see ``benchmarks/answerability.py``).

    A question is refused when
    (1) it names a general immigration concept from ``indexer/vocab/off_report_concepts.tsv``
        (帰化, 配偶者, 年金 …) that the report never mentions (glossary terms do not count: the
        report may cover their subject in other words); or
    (2) no passage comes close: the best dense (e5) cosine is below ``dense_min``; or
    (3) Japanese only: a content noun of the question occurs nowhere in the report (Sudachi,
        normalised form) and the best dense cosine is below ``noun_dense_max`` — a paraphrase
        may use words the report does not, so an absent noun alone is not enough.
    (4) it asks for a number and the best measure's passages state none (no threshold);
    (5) English: it names no glossary term and the best second-encoder (USE) cosine is below
        ``second_min`` — greetings, filler and other subjects that share a word or two with
        the report's glosses.
    Not thresholds: an English question whose best measure states none of its content words
    nor a translation of one, and a question naming a year the best measure never names,
    are refused too (``decide``).
    English queries score lower cosines against the Japanese report, hence numbers per
    language.
    """

    dense_min: float
    noun_dense_max: float = 0.0  # 0 disables rule (3)
    second_min: float = 0.0  # 0 disables rule (5)
    # Rule (1) spares a question whose best measure states at least this share of its
    # content words (English; > 1 disables): it is about that measure, and a concept it
    # names in passing ("social insurance, crime prevention and disasters") does not make it
    # unanswerable.
    concept_coverage_max: float = 2.0


# How these were set: `benchmarks/answerability.py` searches a grid for the values (both
# languages at once) whose threshold parts alone refuse the most unanswerable development
# questions while the whole rule refuses at most 1 in 25 answerable ones (headroom under the
# 1-in-20 goal); among ties it takes the middle of the gap. These are its whole-set values;
# the same search run 2-fold (fit on one half, score the other) gives the held-out figures
# in BENCHMARKS.md.
# Rule (5)'s floor for English: fitted by `benchmarks/issue10.py` on the development set and
# dev-2 together (refuse the most unanswerable questions and no answerable one beyond the
# other rules' refusals; the middle of the tied range); its 2-fold cross-validation is in
# BENCHMARKS.md (issue 10).
# Third round (dev-3 added): rule (3)'s threshold refitted the same way on dev + dev-2 +
# dev-3, and rule (1)'s coverage exemption set between the answerable questions refused for a
# concept in passing (coverage 0.91, 1.00) and the unanswerable ones (at most 0.75); both
# scored leave-one-set-out in BENCHMARKS.md.
SECOND_MIN_EN = 0.225
THRESHOLDS: dict[str, Thresholds] = {
    "ja": Thresholds(dense_min=0.825, noun_dense_max=0.84),
    "en": Thresholds(dense_min=0.765, second_min=SECOND_MIN_EN, concept_coverage_max=0.9),
}


KEYWORD_WORDS = 2  # a query of at most this many content words, all known, is a keyword query
# ... unless it is phrased as a question ("What is the capital of Mongolia?", "ビザは何日で出る？"):
# an English question word or auxiliary first, or a Japanese interrogative anywhere.
_QUESTION_FORM = {
    "en": re.compile(
        r"^\W*(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|can|"
        r"could|will|would|should|shall|has|have|had|may|might|must)\b",
        re.IGNORECASE,
    ),
    "ja": re.compile(
        r"何|なに|なん[でにのて]|どの|どう|どんな|どれ|どこ|いつ|誰|だれ|なぜ|いくつ|いくら"
    ),
}


def phrased_as_question(question: str, language: str) -> bool:
    """Whether ``question`` asks in words (an interrogative), not as bare keywords."""
    pattern = _QUESTION_FORM["ja" if language == "ja" else "en"]
    return bool(pattern.search(unicodedata.normalize("NFKC", question)))


UNFILTERED_DEPTH = 5  # a status filter must keep one of the unfiltered top this-many


@dataclass(frozen=True)
class Features:
    """The evidence the answerability rule reads (also printed by the benchmark)."""

    language: str
    dense_top: float
    second_top: float | None
    lexical_top: float
    absent_concepts: tuple[str, ...]  # concepts the question names that the report never uses
    status_only: bool
    absent_nouns: tuple[str, ...] = ()  # ja: content nouns found nowhere in the report
    count_unmet: bool = False  # asks "how many / how much" and no retrieved passage has a count
    known_words: tuple[str, ...] = ()  # content words the report speaks of
    unknown_words: tuple[str, ...] = ()  # content words it does not
    filter_misses: bool = False  # a status filter left none of the measures that answer
    closest_unfiltered: int | None = None  # then: the best measure without the filter
    coverage: float = 1.0  # share of the content words the best measure states (see coverage)
    domain_terms: bool = False  # the query names a glossary term (a domain term, any script)
    year_unmet: bool = False  # names a year the best measure never names
    kinds_unmet: tuple[str, ...] = ()  # asks for a date, an age, a place … the best measure lacks
    question_form: bool = False  # phrased as a question (an interrogative), not as keywords

    @property
    def keyword_query(self) -> bool:
        """A few keywords, all of them the report's ("ビザ", "技能実習", "FRESC")."""
        return (
            0 < len(self.known_words) <= KEYWORD_WORDS
            and not self.unknown_words
            and not self.question_form
        )


@dataclass(frozen=True)
class Decision:
    answerable: bool
    reason: str
    features: Features


def coverage(
    engine: SearchEngine,
    question: str,
    outcome: SearchOutcome,
    entries: Sequence[GlossaryEntry] | None = None,
) -> float:
    """English: the share of the question's content lemmas that the best measure states —
    the lemma itself (DX, FRESC), a Japanese term of a glossary entry naming it, or one of
    its JMdict translations. 1.0 for Japanese questions and for no content word.
    ``entries``: the glossary entries the question matched, when the caller has them."""
    if outcome.signals.language == "ja" or not outcome.results:
        return 1.0
    lemmas = list(dict.fromkeys(content_lemmas(question)))
    if not lemmas:
        return 1.0
    key = outcome.results[0].measure.key
    text = engine.vocabulary.measure_text(key)
    covered = set(engine.vocabulary.measure_lemmas(key)) & set(lemmas)
    if entries is None:
        entries = engine.glossary.matched_entries(question) if engine.glossary else []
    for entry in entries:
        if any(unicodedata.normalize("NFKC", j) in text for j in entry.japanese):
            covered.update(content_lemmas(entry.english))
            for spelling in entry.romaji:
                covered.update(content_lemmas(spelling))
    translator = engine.cross.translator
    if translator is not None and not covered.issuperset(lemmas):
        for word, terms in translator.translate_words(question, covered):
            if any(t.term in text for t in terms):
                covered.add(word)
    return sum(w in covered for w in lemmas) / len(lemmas)


def read_features(
    engine: SearchEngine,
    question: str,
    outcome: SearchOutcome,
    unfiltered: SearchOutcome | None = None,
) -> Features:
    """The evidence about ``question``; ``unfiltered`` is the same search without the status
    filter the user chose (when there was one)."""
    signals = outcome.signals
    question = without_self_reference(question)  # "the report" is no content word
    concepts = engine.vocabulary
    known, unknown = concepts.content_words(question, signals.language)
    entries = (
        engine.glossary.matched_entries(question)
        if engine.glossary is not None and signals.language != "ja"
        else []
    )
    filter_misses, closest = False, None
    if unfiltered is not None and unfiltered.results:
        top = {hit.measure.key for hit in unfiltered.results[:UNFILTERED_DEPTH]}
        filter_misses = not any(hit.measure.key in top for hit in outcome.results)
        closest = unfiltered.results[0].measure.number
    return Features(
        language=signals.language,
        dense_top=round(signals.dense_top, 4),
        second_top=None if signals.second_top is None else round(signals.second_top, 4),
        lexical_top=round(signals.lexical_top, 4),
        absent_concepts=tuple(concepts.absent_in(question, signals.language)),
        status_only=signals.intent.status_only,
        absent_nouns=tuple(concepts.absent_nouns(question, signals.language)),
        count_unmet=count_unmet(question, outcome),
        known_words=tuple(known),
        unknown_words=tuple(unknown),
        filter_misses=filter_misses,
        closest_unfiltered=closest if filter_misses else None,
        coverage=round(coverage(engine, question, outcome, entries), 4),
        domain_terms=bool(entries),
        year_unmet=year_unmet(question, outcome),
        kinds_unmet=kinds_unmet(question, outcome, engine.tokenizer),
        question_form=phrased_as_question(question, signals.language),
    )


def decide(features: Features, thresholds: dict[str, Thresholds] | None = None) -> Decision:
    """The answerability rule: named concepts, coverage and years, the USE floor, absent nouns
    and dense thresholds per language."""
    rule = (thresholds or THRESHOLDS)["ja" if features.language == "ja" else "en"]
    if features.status_only:
        return Decision(True, "the question asks for the measures with a status", features)
    if not features.known_words and not features.domain_terms:
        return Decision(
            False,
            "the question shares no content word with the report (gibberish, a greeting or "
            "another subject)",
            features,
        )
    if features.filter_misses:
        return Decision(False, "no measure with the chosen status addresses this", features)
    if features.absent_concepts and features.coverage < rule.concept_coverage_max:
        return Decision(
            False, f"the report never mentions {', '.join(features.absent_concepts)}", features
        )
    if features.year_unmet:
        return Decision(
            False, "the question asks about a year the best measure never mentions", features
        )
    words = len(features.known_words) + len(features.unknown_words)
    if features.language != "ja" and features.coverage == 0 and words > 1:
        return Decision(
            False,
            "the best measure states none of the question's words, nor a translation of one",
            features,
        )
    if (
        features.second_top is not None
        and features.second_top < rule.second_min
        and not features.domain_terms
    ):
        return Decision(
            False,
            f"the question names no domain term and no passage is close to it in the second "
            f"encoder (best cosine {features.second_top:.3f} < {rule.second_min:.3f})",
            features,
        )
    if features.keyword_query and not (features.count_unmet or features.kinds_unmet):
        return Decision(True, "a keyword query on a subject the report covers", features)
    if features.dense_top < rule.dense_min:
        return Decision(
            False,
            f"no passage is close to the question (best cosine {features.dense_top:.3f} "
            f"< {rule.dense_min:.3f})",
            features,
        )
    if features.absent_nouns and features.dense_top < rule.noun_dense_max:
        return Decision(
            False,
            f"the report never uses {', '.join(features.absent_nouns)} and no passage is very "
            f"close (best cosine {features.dense_top:.3f} < {rule.noun_dense_max:.3f})",
            features,
        )
    if features.count_unmet:
        return Decision(
            False, "the question asks for a number and no retrieved passage states one", features
        )
    if features.kinds_unmet:
        return Decision(
            False,
            f"the question asks for {' and '.join(features.kinds_unmet)} and the best measure "
            f"states none",
            features,
        )
    return Decision(True, "a passage is close to the question", features)
