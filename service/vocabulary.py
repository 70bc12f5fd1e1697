"""What the report says, as vocabulary: its words, readings, and the concepts it never uses.

Built once per loaded index (``SearchEngine.vocabulary``) for answerability. The word lists
come from data files (``indexer/vocab/``); the concepts a question can name come from the
query glossary and from ``off_report_concepts.tsv``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

from indexer.lexicon import content_lemmas
from indexer.morphemes import report_corpus, report_words
from indexer.records import Measure
from indexer.tokenize import Tokenizer
from indexer.vocabulary import concept_table, word_list
from service.glossary import Glossary, GlossaryEntry, normalize

# Parts of speech (second level / third level) never treated as salient.
_SKIPPED_NOUN_POS = {"数詞", "助数詞可能", "副詞可能", "助数詞"}
_KANA_ONLY = re.compile(r"^[\u3040-\u309f\u30fc]+$")
_KATAKANA_ONLY = re.compile(r"^[\u30a0-\u30ff]+$")
_KANA = re.compile(r"^[\u3041-\u30ff]+$")


def _katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)


_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞"}
_SUFFIXES = ("ations", "ation", "ings", "ing", "ed", "es", "s", "e")


def stem(word: str) -> str:
    """A crude English stem (deportation, deported, deports → deport), for absent concepts."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def off_report_glossary() -> Glossary:
    """General immigration concepts users ask about (``indexer/vocab/off_report_concepts.tsv``).

    Only those none of whose Japanese terms occur in the report count; listing a broad
    Japanese term (留学, 家族) deliberately makes a concept "present". They serve
    answerability only, never query expansion.
    """
    entries = [
        GlossaryEntry(key, japanese)
        for keys, japanese in concept_table("off_report_concepts.tsv")
        for key in keys
    ]
    return Glossary(tuple(entries))


class ReportVocabulary:
    """The report's text, words and readings, and the concepts it never mentions."""

    def __init__(
        self,
        measures: Sequence[Measure],
        glossary: Glossary | None,
        tokenizer: Tokenizer,
        english_words: Collection[str] = (),
        words: tuple[Collection[str], Collection[str]] | None = None,
    ) -> None:
        """``words``: the report's words and readings as the index recorded them
        (``morphemes.json``); without them the report is cut here."""
        self.corpus = report_corpus(measures)
        self.tokenizer = tokenizer
        self.generic_nouns = word_list("generic_nouns_ja.txt")
        self.synonyms: set[str] = set()  # glossary terms of concepts the report does name
        self.present_english: set[str] = set()  # lemmas of glossary headwords it names
        self._off_report = off_report_glossary()
        for g in [g for g in (glossary, self._off_report) if g is not None]:
            for entry in g.entries:
                if self._mentions(entry):
                    self.synonyms.update(unicodedata.normalize("NFKC", t) for t in entry.japanese)
                    self.present_english.update(content_lemmas(entry.english))
        # Only the off-report table names concepts that make a question unanswerable: the
        # domain glossary also lists terms the report happens not to use for subjects it does
        # cover (在留期間の更新: measure 2's online residence procedures).
        absent = [e for e in self._off_report.entries if not self._mentions(e)]
        self._absent = frozenset(absent)
        self.absent_japanese: dict[str, str] = {}  # Japanese term -> English headword
        for entry in absent:
            for term in entry.japanese:
                self.absent_japanese.setdefault(unicodedata.normalize("NFKC", term), entry.english)
        # One-word absent concepts with their stems, for other inflections (absent_in):
        # "deported" for "deportation", whichever of its English names a row lists first.
        self._absent_stems = [
            (entry.japanese[0], entry.english, stem(normalize(entry.english)))
            for entry in absent
            if " " not in entry.english
        ]
        # English words the report speaks of: glosses of its terms (the JMdict lexicon) and
        # the Latin-script words it contains (DX, FRESC, UNHCR …).
        self.english_words = set(english_words) | set(content_lemmas(self.corpus.lower()))
        self._measure_text = {  # by measure key (report, number)
            m.key: "\n".join(
                unicodedata.normalize("NFKC", t) for t in (m.target, m.explanation, m.notes)
            )
            for m in measures
        }
        self._measure_lemmas = {
            key: frozenset(content_lemmas(text.lower())) for key, text in self._measure_text.items()
        }
        if words is None:
            self.words, self.readings = report_words(tokenizer, self.corpus)
        else:
            self.words, self.readings = set(words[0]), set(words[1])  # readings: katakana

    def _mentions(self, entry: GlossaryEntry) -> bool:
        """Whether the report uses one of the entry's Japanese terms."""
        return any(unicodedata.normalize("NFKC", t) in self.corpus for t in entry.japanese)

    def measure_text(self, key: tuple[str, int]) -> str:
        """The target, explanation and notes (NFKC) of the measure with this key."""
        return self._measure_text.get(key, "")

    def measure_lemmas(self, key: tuple[str, int]) -> frozenset[str]:
        """The English content lemmas of the measure with this key (DX, FRESC, UNHCR …)."""
        return self._measure_lemmas.get(key, frozenset())

    def absent_in(self, question: str, language: str) -> list[str]:
        """Concepts named in ``question`` of which the report uses no term."""
        text = unicodedata.normalize("NFKC", question)
        if language == "ja":
            found: list[str] = []
            for term in self.absent_japanese:
                if term in text and not any(term in f or f in term for f in found):
                    found.append(term)
            return found
        found = []
        for entry in self._off_report.matched_entries(text):
            if entry in self._absent and not any(f.startswith(f"{entry.english} (") for f in found):
                found.append(f"{entry.english} ({'/'.join(entry.japanese)})")
        # Other inflections of absent one-word concepts: "deported" for "deportation".
        stems = {stem(word) for word in normalize(text).split()}
        for term, english, english_stem in self._absent_stems:
            if english_stem in stems and not any(english in f for f in found):
                found.append(f"{english} ({term})")
        return found

    def content_words(self, question: str, language: str) -> tuple[list[str], list[str]]:
        """The content words of ``question``: (those the report speaks of, the others).

        Japanese: nouns, verbs and adjectives (Sudachi, mode C), known when the report uses
        the word, its reading, or a glossary synonym of a concept it names (ビザ for 在留資格).
        English: content lemmas, known when they gloss a term of the report (the lexicon),
        name a glossary concept the report names, or occur in it (DX, FRESC).
        """
        known: list[str] = []
        unknown: list[str] = []
        if language != "ja":
            covered = set(self.present_english)
            for lemma in content_lemmas(question):
                (known if lemma in self.english_words or lemma in covered else unknown).append(
                    lemma
                )
            return known, unknown
        text = unicodedata.normalize("NFKC", question)[:2000]
        for morpheme in self.tokenizer.morphemes(text, mode="C"):
            pos = morpheme.part_of_speech()
            if pos[0] not in _CONTENT_POS or pos[1] in ("数詞", "非自立可能"):
                continue
            surface = morpheme.surface()
            if surface in self.generic_nouns or morpheme.normalized_form() in self.generic_nouns:
                continue
            if len(surface) == 1 and _KANA.match(surface):
                continue  # a lone kana (ふ of "ふがほげ") names nothing; a lone kanji (国) may
            (known if self._knows(morpheme) else unknown).append(surface)
        return known, unknown

    def _knows(self, morpheme: Any, parts: bool = True) -> bool:
        """Whether the report uses this word: as written, normalised, as a glossary synonym,
        spelled in kana (とくていぎのう, ニッケイ), or (a compound) through one of its parts."""
        surface = morpheme.surface()
        if (
            surface in self.corpus
            or surface in self.synonyms
            or morpheme.normalized_form() in self.words
            or morpheme.dictionary_form() in self.words
            or (_KANA.match(surface) and _katakana(surface) in self.readings)
            or (_KANA.match(surface) and morpheme.reading_form() in self.readings)
        ):
            return True
        if not parts:
            return False
        pieces = [m for m in self.tokenizer.morphemes(surface, mode="A") if len(m.surface()) > 1]
        return len(pieces) > 1 and any(self._knows(m, parts=False) for m in pieces)

    def absent_nouns(self, question: str, language: str) -> list[str]:
        """Japanese content nouns of ``question`` that occur nowhere in the report."""
        if language != "ja":
            return []
        text = unicodedata.normalize("NFKC", question)
        text = "".join(ch if ch.isprintable() else " " for ch in text)[:2000]
        found: list[str] = []
        for morpheme in self.tokenizer.morphemes(text, mode="C"):
            pos = morpheme.part_of_speech()
            if pos[0] != "名詞" or pos[1] not in ("普通名詞", "固有名詞"):
                continue
            surface = morpheme.surface()
            if (
                pos[2] in _SKIPPED_NOUN_POS
                or len(surface) < 2
                or _KANA_ONLY.match(surface)  # colloquial or misparsed kana (ほんと, ぎ)
                or surface.startswith("何")
                or surface in self.generic_nouns
                or morpheme.normalized_form() in self.generic_nouns
            ):
                continue
            if self._knows(morpheme):
                continue
            if surface not in found:
                found.append(surface)
        return found
