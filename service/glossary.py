"""English/romaji → Japanese query expansion from a TSV glossary of immigration-policy terms."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from service.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_GLOSSARY_PATH = Path(__file__).resolve().parents[1] / "data" / "glossary" / "en_ja.tsv"
HEADER = ("english", "japanese", "romaji")
ALTERNATIVE_SEPARATOR = "|"

# Left/right word boundaries on normalised text (Japanese characters become spaces there).
_BEFORE = r"(?<![a-z0-9])"
_AFTER = r"(?![a-z0-9])"
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_PAREN_NUMERAL = re.compile(r"\(\s*(i{1,3})\s*\)")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])")
_ROMAN = {"i": "1", "ii": "2", "iii": "3"}
_STANDALONE_ROMAN = {"ii": "2", "iii": "3"}  # a bare "i" is the English pronoun
_ORDINALS = {
    "1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth",
    "6th": "sixth", "7th": "seventh", "8th": "eighth", "9th": "ninth", "10th": "tenth",
}  # fmt: skip
# British → American spelling, applied identically to glossary keys and queries.
_BRITISH_WORDS = {
    "centre": "center", "centres": "centers", "programme": "program", "programmes": "programs",
    "licence": "license", "licences": "licenses", "defence": "defense", "offence": "offense",
    "enrolment": "enrollment", "enrolments": "enrollments", "fulfilment": "fulfillment",
    "judgement": "judgment", "judgements": "judgments", "ageing": "aging",
    "catalogue": "catalog", "catalogues": "catalogs", "practise": "practice",
}  # fmt: skip
_BRITISH_OUR = re.compile(r"^(labo|neighbo|behavio|favo|hono|colo|harbo|endeavo|rumo)ur")
_BRITISH_LL = re.compile(
    r"^(travel|counsel|model|cancel|label|signal|fuel|level)l(ed|er|ers|ing|ings)$"
)
_BRITISH_ISE = re.compile(r"^(.{2,})is(e|es|ed|ing|ation|ations|er|ers)$")
_BRITISH_YSE = re.compile(r"^(.+)ys(e|es|ed|ing)$")
_LONG_VOWELS = re.compile(r"(ou|uu|oo|aa|ee)")
_MAX_LONG_VOWELS = 6  # caps the 2**n spelling variants of one romaji key
_VOWELS = "aeiou"


class GlossaryError(ConfigError):
    """A glossary file is missing, unreadable or has a malformed line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}. Fix the file or point SHISAKU_GLOSSARY elsewhere")
        self.path = Path(path)
        self.line = line


@dataclass(frozen=True)
class GlossaryEntry:
    """One glossary row: an English term, its Japanese terms and romanised spellings."""

    english: str
    japanese: tuple[str, ...]
    romaji: tuple[str, ...] = ()


def _americanize(token: str) -> str:
    if token in _BRITISH_WORDS:
        return _BRITISH_WORDS[token]
    token = _BRITISH_OUR.sub(r"\1r", token)
    token = _BRITISH_LL.sub(r"\1\2", token)
    token = _BRITISH_ISE.sub(r"\1iz\2", token)
    return _BRITISH_YSE.sub(r"\1yz\2", token)


@lru_cache(maxsize=4096)  # one query is normalised for its expansion and its answerability
def normalize(text: str) -> str:
    """Fold text for matching: case, width, macrons, punctuation, numerals and UK spelling.

    Non-Latin characters (including Japanese) become spaces, so the result holds only
    space-separated ``[a-z0-9]`` tokens.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _APOSTROPHES.sub("", text)
    text = _PAREN_NUMERAL.sub(lambda m: f" {_ROMAN[m.group(1)]} ", text)
    text = _LETTER_DIGIT.sub(" ", _NON_ALNUM.sub(" ", text))
    tokens: list[str] = []
    raw = text.split()
    for i, token in enumerate(raw):
        if token == "no" and i + 1 < len(raw) and raw[i + 1].isdigit():
            continue  # "SSW No. 2" → "ssw 2"
        token = _STANDALONE_ROMAN.get(token, token)
        token = _ORDINALS.get(token, token)
        tokens.append(_americanize(token))
    return " ".join(tokens)


def _long_vowel_variants(key: str) -> set[str]:
    """Spellings of a normalised romaji key with each long vowel doubled or shortened."""
    variants = {""}
    position = 0
    for match in list(_LONG_VOWELS.finditer(key))[:_MAX_LONG_VOWELS]:
        plain = key[position : match.start()]
        long_form = match.group(0)
        variants = {v + plain + ending for v in variants for ending in (long_form, long_form[0])}
        position = match.end()
    return {v + key[position:] for v in variants}


def _token_pattern(token: str) -> str:
    """Regex for one key token that also accepts its regular plural (or singular)."""
    if token.isdigit() or len(token) < 3:
        return re.escape(token)
    if token == "child":
        return "child(?:ren)?"
    if token.endswith("ies") and len(token) > 4:
        return re.escape(token[:-3]) + "(?:y|ies)"
    if token.endswith("y") and token[-2] not in _VOWELS:
        return re.escape(token[:-1]) + "(?:y|ies)"
    if token.endswith("s") and not token.endswith(("ss", "us", "is")) and len(token) >= 5:
        return re.escape(token[:-1]) + "(?:s|es)?"
    if token.endswith(("s", "x", "z", "ch", "sh")):
        return re.escape(token) + "(?:es)?"
    return re.escape(token) + "s?"


def _key_pattern(key: str) -> str:
    # Words may be run together ("mynumber", "zairyushikaku"): the space is optional.
    return " ?".join(_token_pattern(token) for token in key.split())


@dataclass(frozen=True)
class Glossary:
    """English/romaji → Japanese glossary compiled into one longest-match-first regex."""

    entries: tuple[GlossaryEntry, ...]
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _targets: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        targets: dict[str, list[int]] = {}
        for index, entry in enumerate(self.entries):
            keys = {normalize(entry.english)}
            for spelling in entry.romaji:
                keys |= _long_vowel_variants(normalize(spelling))
            for key in keys - {""}:
                owners = targets.setdefault(key, [])
                if index not in owners:
                    owners.append(index)
        # Bucket keys by first character (a cheap lookahead skips most of them), and put the
        # longest key first within a bucket so the longest match wins at each position.
        ordered = sorted(targets, key=lambda k: (k[0], -len(k), k))
        buckets: dict[str, list[str]] = {}
        for key in ordered:  # groups are numbered in this order
            buckets.setdefault(key[0], []).append(f"({_key_pattern(key)})")
        pattern = None
        if buckets:
            alternatives = "|".join(
                f"(?={re.escape(first)})(?:{'|'.join(keys)})" for first, keys in buckets.items()
            )
            pattern = re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}")
        object.__setattr__(self, "_pattern", pattern)
        object.__setattr__(self, "_targets", tuple(tuple(targets[key]) for key in ordered))

    def __len__(self) -> int:
        return len(self.entries)

    def matched_entries(self, query: str) -> list[GlossaryEntry]:
        if self._pattern is None or not query:
            return []
        text = normalize(query)
        if not text or not any("a" <= c <= "z" for c in text):
            return []  # Japanese (or digits-only) query: nothing to expand
        seen: set[int] = set()
        found: list[GlossaryEntry] = []
        for match in self._pattern.finditer(text):
            assert match.lastindex is not None
            for index in self._targets[match.lastindex - 1]:
                if index not in seen:
                    seen.add(index)
                    found.append(self.entries[index])
        return found

    def matches(self, query: str) -> list[str]:
        """English headwords of the entries found in ``query``, in order of appearance."""
        return [entry.english for entry in self.matched_entries(query)]

    def expand(self, query: str) -> str:
        """``query`` followed by the Japanese terms of every entry it mentions.

        Terms already present in the query, or appended for an earlier entry, are skipped.
        A query with no Latin letters, or with no glossary match, is returned unchanged.
        """
        entries = self.matched_entries(query)
        terms: list[str] = []
        for entry in entries:
            for term in entry.japanese:
                if term not in terms and term not in query:
                    terms.append(term)
        if not terms:
            return query
        logger.debug("glossary expanded %r with %s", query, [e.english for e in entries])
        return f"{query} {' '.join(terms)}"


def _split_alternatives(field_text: str) -> tuple[str, ...]:
    return tuple(t for t in (part.strip() for part in field_text.split(ALTERNATIVE_SEPARATOR)) if t)


def load_glossary(path: Path = DEFAULT_GLOSSARY_PATH) -> Glossary:
    """Read a ``english<TAB>japanese<TAB>romaji`` TSV (``|`` separates alternatives).

    Blank lines and lines starting with ``#`` are ignored; the romaji column may be empty.
    Raises GlossaryError naming the file and line for any malformed or duplicate row.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GlossaryError(path, None, f"cannot read glossary: {exc}") from exc
    entries: list[GlossaryEntry] = []
    first_line: dict[str, int] = {}
    header_seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        columns = [column.strip() for column in line.split("\t")]
        if not header_seen:
            if tuple(c.casefold() for c in columns) != HEADER:
                raise GlossaryError(path, number, f"expected header {'<TAB>'.join(HEADER)!r}")
            header_seen = True
            continue
        if len(columns) not in (2, 3):
            raise GlossaryError(
                path, number, f"expected 2 or 3 tab-separated columns, found {len(columns)}"
            )
        english, japanese = columns[0], _split_alternatives(columns[1])
        romaji = _split_alternatives(columns[2]) if len(columns) == 3 else ()
        key = normalize(english)
        if not key or not any("a" <= c <= "z" for c in key):
            raise GlossaryError(path, number, f"English term {english!r} has no Latin letters")
        if not japanese:
            raise GlossaryError(path, number, f"no Japanese term for {english!r}")
        if key in first_line:
            raise GlossaryError(
                path,
                number,
                f"duplicate English term {english!r} (first on line {first_line[key]})",
            )
        for spelling in romaji:
            if not normalize(spelling):
                raise GlossaryError(path, number, f"romaji {spelling!r} has no Latin letters")
        first_line[key] = number
        entries.append(GlossaryEntry(english, japanese, romaji))
    if not header_seen:
        raise GlossaryError(path, None, "empty glossary (no header line)")
    glossary = Glossary(tuple(entries))
    logger.info("loaded %d glossary entries from %s", len(glossary), path)
    return glossary
