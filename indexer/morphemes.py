"""The report's SudachiPy analysis, made once at index time (``morphemes.json``).

A server used to cut every passage and the whole report into morphemes at start: for the
highlighter (mode A), the answerability vocabulary (mode C) and the check of the BM25
vocabulary. That took ~0.2 s and touched ~70 MB of Sudachi's dictionary pages that queries
seldom reach. The index now records what those steps need; the service reads it, and falls
back to cutting the text itself when the file is missing (an index built before it).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.records import STATUS_EN, Measure, Passage
from indexer.tokenize import Tokenizer

FORMAT = 1

# One morpheme: start and end offsets into the original text, surface, normalised form and
# the first three levels of the part of speech.
Morpheme = tuple[int, int, str, str, str, str, str]


def _normalised_with_offsets(text: str) -> tuple[str, list[int]]:
    """NFKC of ``text`` character by character, and the original offset of each character."""
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch)
        if not folded.isprintable():
            folded = " "
        parts.append(folded)
        origin.extend([i] * len(folded))
    origin.append(len(text))
    return "".join(parts), origin


def text_morphemes(tokenizer: Tokenizer, text: str) -> list[Morpheme]:
    """The mode A morphemes of ``text`` (NFKC-folded character by character, so offsets map
    back to ``text`` itself); blank ones are left out."""
    folded, origin = _normalised_with_offsets(text)
    out: list[Morpheme] = []
    if not folded.strip():
        return out
    for morpheme in tokenizer.morphemes(folded, "A"):
        surface = morpheme.surface()
        start, end = morpheme.begin(), morpheme.end()
        if end > len(folded) or not surface.strip():
            continue
        pos = morpheme.part_of_speech()
        out.append(
            (
                origin[start],
                origin[end],
                surface,
                morpheme.normalized_form(),
                pos[0],
                pos[1],
                pos[2],
            )
        )
    return out


def report_corpus(measures: Sequence[Measure]) -> str:
    """The report's text as the answerability vocabulary reads it: every field, NFKC, and the
    report's headings and status labels (they count as mentioned too)."""
    corpus = "\n".join(
        unicodedata.normalize("NFKC", text)
        for m in measures
        for text in (m.target, m.explanation, m.notes)
    )
    return corpus + "\n実施状況 対象施策 施策番号 実施状況の説明 提言 " + " ".join(STATUS_EN)


def report_words(tokenizer: Tokenizer, corpus: str) -> tuple[set[str], set[str]]:
    """The report's words (normalised and dictionary forms, mode C) and their katakana
    readings."""
    words: set[str] = set()
    readings: set[str] = set()
    for line in corpus.splitlines():
        if line.strip():
            for morpheme in tokenizer.morphemes(line, mode="C"):
                words.add(morpheme.normalized_form())
                words.add(morpheme.dictionary_form())
                readings.add(morpheme.reading_form())
    return words, readings


@dataclass(frozen=True)
class ReportMorphemes:
    """What ``morphemes.json`` holds."""

    passages: dict[int, list[Morpheme]]  # passage id -> text_morphemes of its text
    words: frozenset[str]
    readings: frozenset[str]
    bm25_terms: frozenset[str]  # the BM25 tokens of the passages (Tokenizer.tokenize)


def analyse(
    tokenizer: Tokenizer, measures: Sequence[Measure], passages: Sequence[Passage]
) -> ReportMorphemes:
    words, readings = report_words(tokenizer, report_corpus(measures))
    terms: set[str] = set()
    for passage in passages:
        terms.update(tokenizer.tokenize(passage.text) or ["\u3000"])
    return ReportMorphemes(
        passages={p.id: text_morphemes(tokenizer, p.text) for p in passages},
        words=frozenset(words),
        readings=frozenset(readings),
        bm25_terms=frozenset(terms),
    )


def write_morphemes(path: Path, analysis: ReportMorphemes) -> None:
    data = {
        "format": FORMAT,
        "passages": {
            str(pid): [list(m) for m in found] for pid, found in analysis.passages.items()
        },
        "words": sorted(analysis.words),
        "readings": sorted(analysis.readings),
        "bm25_terms": sorted(analysis.bm25_terms),
    }
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def read_morphemes(path: Path) -> ReportMorphemes | None:
    """The recorded analysis, or None when the file is absent or of another format (the
    service then analyses the text itself). A malformed file raises ValueError."""
    if not path.is_file():
        return None
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    try:
        passages = {
            int(pid): [
                (int(m[0]), int(m[1]), str(m[2]), str(m[3]), str(m[4]), str(m[5]), str(m[6]))
                for m in found
            ]
            for pid, found in data["passages"].items()
        }
        return ReportMorphemes(
            passages=passages,
            words=frozenset(map(str, data["words"])),
            readings=frozenset(map(str, data["readings"])),
            bm25_terms=frozenset(map(str, data["bm25_terms"])),
        )
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(f"malformed morphemes file ({type(exc).__name__}: {exc})") from None
