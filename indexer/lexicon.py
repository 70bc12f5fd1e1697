"""English→Japanese lexicon of the corpus's own terms, from JMdict glosses (index time only)."""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexer.tokenize import Tokenizer
from indexer.vocabulary import word_list

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
SOURCE = "JMdict (EDRDG, CC BY-SA 4.0), read with jamdict"
MAX_SENSES = 3  # senses of one JMdict entry that are used, ranked 0, 1, 2
MAX_TERMS_PER_WORD = 24  # the file keeps this many Japanese terms per English word
COMPOUND_MAX_PARTS = 4  # adjacent mode-A nouns joined into a candidate compound

# English function words, question words and the filler of JMdict glosses.
STOPWORDS = word_list("stopwords_lexicon_en.txt")  # English words never translated

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_CONTRACTION = re.compile(r"['\u2018\u2019\u02bc`](?:s|t|re|ve|ll|d|m)\b")
_WORD = re.compile(r"[a-z]+")
_PARENTHESES = re.compile(r"\([^()]*\)")

# Irregular forms that suffix rules get wrong (plural nouns and past forms).
_IRREGULAR = {
    "children": "child", "people": "person", "men": "man", "women": "woman",
    "memoranda": "memorandum", "criteria": "criterion", "phenomena": "phenomenon",
    "analyses": "analysis", "bases": "basis", "crises": "crisis", "theses": "thesis",
    "indices": "index", "feet": "foot", "teeth": "tooth", "wives": "wife", "knives": "knife",
    "lives": "life", "selves": "self", "halves": "half", "shelves": "shelf",
    "paid": "pay", "laid": "lay", "said": "say", "sent": "send", "spent": "spend",
    "built": "build", "held": "hold", "kept": "keep", "met": "meet", "led": "lead",
    "fled": "flee", "sought": "seek", "taught": "teach", "thought": "think",
    "bought": "buy", "brought": "bring", "caught": "catch", "told": "tell", "sold": "sell",
    "began": "begin", "begun": "begin", "wrote": "write", "written": "write",
    "chose": "choose", "chosen": "choose", "gave": "give", "given": "give", "knew": "know",
    "known": "know", "saw": "see", "seen": "see", "grew": "grow", "grown": "grow",
    "drew": "draw", "drawn": "draw", "fell": "fall", "fallen": "fall", "felt": "feel",
    "found": "find", "heard": "hear", "lost": "lose", "meant": "mean", "ran": "run",
    "stood": "stand", "understood": "understand", "won": "win", "struck": "strike",
    "rose": "rise", "risen": "rise", "lent": "lend", "left": "leave", "broke": "break",
    "broken": "break", "spoke": "speak", "spoken": "speak", "stole": "steal",
    "stolen": "steal", "forgot": "forget", "forgotten": "forget", "hid": "hide",
    "hidden": "hide", "fought": "fight", "dealt": "deal", "sat": "sit",
    "data": "data", "news": "news", "series": "series", "species": "species",
}  # fmt: skip
# British spellings folded to American ones, identically for glosses and queries.
_BRITISH_WORDS = {
    "centre": "center", "programme": "program", "licence": "license", "defence": "defense",
    "offence": "offense", "enrolment": "enrollment", "fulfilment": "fulfillment",
    "judgement": "judgment", "ageing": "aging", "catalogue": "catalog",
    "practise": "practice", "travelling": "traveling", "travelled": "traveled",
    "traveller": "traveler", "counselling": "counseling", "counsellor": "counselor",
    "cancelled": "canceled", "labelled": "labeled", "modelling": "modeling",
}  # fmt: skip
_BRITISH_OUR = re.compile(r"^(labo|neighbo|behavio|favo|hono|colo|harbo|endeavo|rumo|flavo)ur")
_BRITISH_ISE = re.compile(r"^(.{3,})is(e|es|ed|ing|ation|ations|er|ers)$")
_BRITISH_YSE = re.compile(r"^(.+)ys(e|es|ed|ing)$")
_NOT_ISE = frozenset(
    "advise advised advises advising exercise exercised exercises exercising promise "
    "promised promises promising compromise expertise franchise premise premises "
    "merchandise otherwise surprise surprised revise revised revising supervise supervised "
    "supervises supervising supervisor enterprise enterprises televise devise devised "
    "comprise comprises comprised despise disguise raise raised raises raising praise "
    "precise concise paradise wise noise poise treatise chemise cruise".split()
)
_VOWELS = frozenset("aeiou")
_KEEP_S = ("ss", "us", "is", "ous")


def fold_spelling(word: str) -> str:
    """British → American spelling of one lowercase word (centre → center, -our, -ise)."""
    if word in _BRITISH_WORDS:
        return _BRITISH_WORDS[word]
    word = _BRITISH_OUR.sub(r"\1r", word)
    if word not in _NOT_ISE:
        word = _BRITISH_ISE.sub(r"\1iz\2", word)
        word = _BRITISH_YSE.sub(r"\1yz\2", word)
    return word


def _undouble(stem: str) -> str:
    if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz" + "aeiou":
        return stem[:-1]
    return stem


@lru_cache(maxsize=65_536)
def lemma(word: str) -> str:
    """A light lemma of one lowercase English word: plural and verb endings removed.

    Deterministic and applied identically to JMdict glosses and to queries, so the two meet
    even where the result is not a dictionary word (``making`` and ``make`` both give ``mak``).
    """
    word = fold_spelling(word)
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith(("xes", "ches", "shes", "zzes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(_KEEP_S):
        word = word[:-1]
    elif word.endswith("ing") and len(word) >= 6 and set(word[:-3]) & _VOWELS:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and len(word) >= 5 and set(word[:-2]) & _VOWELS:
        word = _undouble(word[:-2])
    word = fold_spelling(word)  # "centres" → "centre" → "center"
    # A final silent e is dropped everywhere, so "make"/"making" and "house"/"housing" meet.
    if len(word) >= 4 and word.endswith("e") and not word.endswith(("ee", "ie", "ye")):
        word = word[:-1]
    return word


def english_tokens(text: str) -> list[str]:
    """Lowercase Latin words of ``text`` (NFKC, accents and apostrophes removed)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _WORD.findall(_APOSTROPHES.sub("", _CONTRACTION.sub("", text)))


def content_lemmas(text: str) -> list[str]:
    """Lemmas of the content words of English ``text``, in order (stopwords dropped)."""
    return [
        lemma(token) for token in english_tokens(text) if token not in STOPWORDS and len(token) > 1
    ]


def gloss_lemmas(gloss: str) -> list[str]:
    """Content-word lemmas of one JMdict gloss: "to pay (e.g. money, bill)" → ["pay"]."""
    previous = None
    while previous != gloss:  # nested parentheses
        previous, gloss = gloss, _PARENTHESES.sub(" ", gloss)
    return list(dict.fromkeys(content_lemmas(gloss)))


# ---- weighting (pure) ------------------------------------------------------------------------


def sense_weight(rank: int) -> float:
    """Weight of a JMdict sense by its rank in the entry: 1, 1/2, 1/3, …"""
    return 1.0 / (1 + rank)


def idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency (always positive)."""
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


@dataclass(frozen=True)
class Sense:
    """One JMdict sense of a Japanese term: its rank, entry weight and English glosses."""

    rank: int
    glosses: tuple[str, ...]
    entry_weight: float = 1.0


def word_weights(senses: Iterable[Sense]) -> dict[str, float]:
    """English lemma → weight for one Japanese term, from its senses.

    A gloss of n content words gives each of them 1/n of the sense's weight; a word found in
    several senses or glosses keeps its best weight.
    """
    weights: dict[str, float] = {}
    for sense in senses:
        base = sense_weight(sense.rank) * sense.entry_weight
        for gloss in sense.glosses:
            lemmas = gloss_lemmas(gloss)
            for word in lemmas:
                weight = base / len(lemmas)
                if weight > weights.get(word, 0.0):
                    weights[word] = weight
    return weights


@dataclass(frozen=True)
class Lexicon:
    """English lemma → (Japanese term index, sense weight); terms with BM25 tokens and df."""

    terms: tuple[str, ...]
    term_tokens: tuple[tuple[str, ...], ...]
    document_frequency: tuple[int, ...]
    documents: int
    words: dict[str, tuple[tuple[int, float], ...]]
    passage_terms: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "source": SOURCE,
            "documents": self.documents,
            "terms": [
                [term, list(tokens), df]
                for term, tokens, df in zip(self.terms, self.term_tokens, self.document_frequency)
            ],
            "words": {
                word: [[index, round(weight, 4)] for index, weight in pairs]
                for word, pairs in sorted(self.words.items())
            },
            "passage_terms": [list(terms) for terms in self.passage_terms],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lexicon:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"lexicon format {data.get('format')!r} is not {FORMAT_VERSION}")
        terms = data["terms"]
        return cls(
            terms=tuple(str(t[0]) for t in terms),
            term_tokens=tuple(tuple(str(x) for x in t[1]) for t in terms),
            document_frequency=tuple(int(t[2]) for t in terms),
            documents=int(data["documents"]),
            words={
                str(word): tuple((int(i), float(w)) for i, w in pairs)
                for word, pairs in data["words"].items()
            },
            passage_terms=tuple(tuple(int(i) for i in row) for row in data["passage_terms"]),
        )


def assemble(
    passage_terms: Sequence[Sequence[str]],
    senses: Mapping[str, Sequence[Sense]],
    term_tokens: Mapping[str, Sequence[str]],
    max_terms_per_word: int = MAX_TERMS_PER_WORD,
) -> Lexicon:
    """Invert per-term senses into an English-word lexicon restricted to the corpus terms.

    ``passage_terms`` lists the glossed terms found in each passage; terms without senses
    or BM25 tokens are left out. Per English word the ``max_terms_per_word`` terms with the
    best weight × idf are kept.
    """
    documents = len(passage_terms)
    df: dict[str, int] = {}
    for row in passage_terms:
        for term in set(row):
            df[term] = df.get(term, 0) + 1
    kept = sorted(t for t in df if senses.get(t) and term_tokens.get(t))
    index = {term: i for i, term in enumerate(kept)}
    words: dict[str, list[tuple[int, float]]] = {}
    for term in kept:
        for word, weight in word_weights(senses[term]).items():
            words.setdefault(word, []).append((index[term], weight))
    trimmed = {}
    for word, pairs in words.items():
        pairs.sort(key=lambda p: (-p[1] * idf(df[kept[p[0]]], documents), p[0]))
        trimmed[word] = tuple(pairs[:max_terms_per_word])
    return Lexicon(
        terms=tuple(kept),
        term_tokens=tuple(tuple(term_tokens[t]) for t in kept),
        document_frequency=tuple(df[t] for t in kept),
        documents=documents,
        words=trimmed,
        passage_terms=tuple(
            tuple(sorted({index[t] for t in row if t in index})) for row in passage_terms
        ),
    )


# ---- Japanese candidate terms (Sudachi) and JMdict look-ups ------------------------------------

_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞"}
_COMPOUND_POS = {"名詞", "接尾辞", "接頭辞"}
_SKIPPED_SUBPOS = {"数詞", "非自立可能"}
_ONLY_LATIN_OR_DIGITS = re.compile(r"[\x00-\x7f\uff01-\uff5e]+")
_RARE_FORM = ("rarely", "irregular", "out-dated", "ateji", "search-only")
_RARE_SENSE = ("archaic", "obsolete", "rare", "obscure")


def _is_candidate(term: str) -> bool:
    return len(term) >= 2 and not _ONLY_LATIN_OR_DIGITS.fullmatch(term)


def candidate_terms(text: str, tokenizers: Sequence[Any]) -> list[tuple[str, ...]]:
    """Candidate Japanese terms in ``text``: each as its look-up forms, best first.

    Content words (nouns, verbs, adjectives) of every Sudachi tokenizer given (modes A, B, C)
    as dictionary, normalised and surface forms, plus runs of 2–4 adjacent nouns of the first
    (mode A) tokenizer joined into compounds (保証 + 金 → 保証金).
    """
    text = unicodedata.normalize("NFKC", text)
    found: dict[tuple[str, ...], None] = {}
    for number, tokenizer in enumerate(tokenizers):
        morphemes = list(tokenizer.tokenize(text))
        for m in morphemes:
            pos = m.part_of_speech()
            if pos[0] not in _CONTENT_POS or pos[1] in _SKIPPED_SUBPOS:
                continue
            forms = tuple(
                dict.fromkeys(
                    f
                    for f in (m.dictionary_form(), m.normalized_form(), m.surface())
                    if _is_candidate(f)
                )
            )
            if forms:
                found[forms] = None
        if number == 0:
            run: list[str] = []
            for m in [*morphemes, None]:
                pos = m.part_of_speech() if m is not None else ("", "")
                if m is not None and pos[0] in _COMPOUND_POS and pos[1] != "数詞":
                    run.append(m.surface())
                    continue
                for start in range(len(run)):
                    for end in range(start + 2, min(len(run), start + COMPOUND_MAX_PARTS) + 1):
                        compound = "".join(run[start:end])
                        if _is_candidate(compound):
                            found[(compound,)] = None
                run = []
    return list(found)


def jmdict_senses(jamdict: Any, term: str, max_senses: int = MAX_SENSES) -> list[Sense]:
    """The top English senses of ``term`` in JMdict (exact kanji or kana form).

    Entries where the term is a rare or irregular spelling are skipped; when several entries
    match, those marked common on that form are preferred. Archaic, obsolete and rare senses
    are skipped; a kanji term used "usually in kana" counts half.
    """
    result = jamdict.lookup(term, strict_lookup=True, lookup_chars=False, lookup_ne=False)
    candidates = []
    for entry in result.entries:
        forms = [k for k in entry.kanji_forms if k.text == term] or [
            k for k in entry.kana_forms if k.text == term
        ]
        if not forms:
            continue
        form = forms[0]
        info = " ".join(getattr(form, "info", []) or [])
        if any(word in info for word in _RARE_FORM):
            continue
        candidates.append((bool(form.pri), entry))
    if any(common for common, _ in candidates):
        candidates = [(c, e) for c, e in candidates if c]
    senses: list[Sense] = []
    for _, entry in candidates:
        is_kanji_term = any(k.text == term for k in entry.kanji_forms)
        rank = 0
        for sense in entry.senses:
            if rank >= max_senses:
                break
            misc = " ".join(sense.misc or [])
            if any(word in misc for word in _RARE_SENSE):
                continue
            glosses = tuple(
                g.text for g in sense.gloss if getattr(g, "lang", "eng") in ("eng", "", None)
            )
            if not glosses:
                continue
            weight = 0.5 if is_kanji_term and "usually written using kana" in misc else 1.0
            senses.append(Sense(rank=rank, glosses=glosses, entry_weight=weight))
            rank += 1
    return senses


def build_lexicon(
    passage_texts: Sequence[str],
    tokenizer: Tokenizer | None = None,
    jamdict: Any | None = None,
    max_senses: int = MAX_SENSES,
) -> Lexicon:
    """Build the English→Japanese lexicon of the terms that occur in ``passage_texts``."""
    from sudachipy import Dictionary, SplitMode

    if jamdict is None:
        from jamdict import Jamdict

        jamdict = Jamdict()
    tokenizer = tokenizer or Tokenizer()
    dictionary = Dictionary(dict="core")
    sudachi = [dictionary.tokenizer(mode) for mode in (SplitMode.A, SplitMode.B, SplitMode.C)]
    senses: dict[str, list[Sense]] = {}
    looked_up: dict[str, str | None] = {}  # form → the term it resolved to (None: no entry)

    def resolve(forms: tuple[str, ...]) -> str | None:
        for form in forms:
            if form not in looked_up:
                found = jmdict_senses(jamdict, form, max_senses)
                looked_up[form] = form if found else None
                if found:
                    senses[form] = found
            if looked_up[form] is not None:
                return looked_up[form]
        return None

    passage_terms = []
    for text in passage_texts:
        terms = [resolve(forms) for forms in candidate_terms(text, sudachi)]
        passage_terms.append(list(dict.fromkeys(t for t in terms if t is not None)))
    term_tokens = {term: tokenizer.tokenize(term) for term in senses}
    lexicon = assemble(passage_terms, senses, term_tokens)
    logger.info(
        "lexicon: %d Japanese terms (%d forms looked up), %d English words",
        len(lexicon.terms),
        len(looked_up),
        len(lexicon.words),
    )
    return lexicon


def write_lexicon(path: Path, lexicon: Lexicon) -> None:
    """Write ``lexicon`` as compact UTF-8 JSON."""
    Path(path).write_text(
        json.dumps(lexicon.to_json(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )


def read_lexicon(path: Path) -> Lexicon:
    """Read a lexicon file written by ``write_lexicon``."""
    return Lexicon.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
