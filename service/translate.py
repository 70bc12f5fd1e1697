"""English query → weighted Japanese corpus terms, from the index's JMdict lexicon (no jamdict)."""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from indexer.lexicon import Lexicon, content_lemmas, idf, read_lexicon
from service.glossary import Glossary

logger = logging.getLogger(__name__)

PER_WORD = 5  # Japanese terms kept per English word (benchmarks/cross_lingual.py)
MIN_PREFIX = 5  # a derived form must share this many letters with the query word
PREFIX_WEIGHT = 0.5  # "renew" → "renewal", "neighbor" → "neighborhood": half weight
K1, B = 1.5, 0.75  # BM25 of the English gloss field
# Sense choice by co-occurrence: a translation of one query word that shares a passage with a
# translation of the other words weighs (1 - c) + c; one that shares none, 1 - c.
COHESION = 0.0


@dataclass(frozen=True)
class WeightedTerm:
    term: str
    tokens: tuple[str, ...]  # the term's BM25 tokens
    weight: float


class Translator:
    """Turns the content words of an English query into weighted Japanese corpus terms."""

    def __init__(
        self,
        lexicon: Lexicon,
        per_word: int = PER_WORD,
        idf_power: float = 1.0,
        cohesion: float = COHESION,
    ) -> None:
        self.lexicon = lexicon
        self.per_word = per_word
        self.idf_power = idf_power
        self.cohesion = cohesion
        self._incidence: np.ndarray | None = None
        idfs = np.array(
            [idf(df, lexicon.documents) for df in lexicon.document_frequency], dtype=np.float64
        )
        top = float(idfs.max()) if idfs.size else 1.0
        self._term_idf = idfs / top if top > 0 else idfs
        self._keys = sorted(lexicon.words)
        self._term_index = {term: i for i, term in enumerate(lexicon.terms)}
        self._gloss_matrix: np.ndarray | None = None
        self._gloss_vocab: dict[str, int] = {}
        self._gloss_idf: np.ndarray | None = None

    @classmethod
    def load(cls, path: Path, **options: Any) -> Translator:
        translator = cls(read_lexicon(path), **options)
        logger.info(
            "loaded lexicon %s: %d English words, %d terms",
            path,
            len(translator.lexicon.words),
            len(translator.lexicon.terms),
        )
        return translator

    # ---- English words → lexicon entries ---------------------------------------------------

    def _entries(self, word: str) -> tuple[tuple[tuple[int, float], ...], float]:
        """Lexicon pairs for one lemma, or for longer keys it is a prefix of (half weight)."""
        pairs = self.lexicon.words.get(word)
        if pairs:
            return pairs, 1.0
        if len(word) < MIN_PREFIX:
            return (), 0.0
        # Derived forms: the query's "renew" meets the gloss "renewal" (keys sharing all but
        # the query word's last letter, so "simplify" also meets "simplification").
        stem = word[:-1] if len(word) > MIN_PREFIX else word
        found: dict[int, float] = {}
        position = bisect.bisect_left(self._keys, stem)
        while position < len(self._keys) and self._keys[position].startswith(stem):
            for index, weight in self.lexicon.words[self._keys[position]]:
                found[index] = max(found.get(index, 0.0), weight)
            position += 1
        return tuple(found.items()), PREFIX_WEIGHT

    def words(self, query: str, covered: Iterable[str] = ()) -> list[str]:
        """Content-word lemmas of ``query`` that the lexicon will translate (in order)."""
        skip = {lemma for text in covered for lemma in content_lemmas(text)}
        return list(dict.fromkeys(w for w in content_lemmas(query) if w not in skip))

    def translate_words(
        self, query: str, covered: Iterable[str] = ()
    ) -> list[tuple[str, tuple[WeightedTerm, ...]]]:
        """Per English content word of ``query``: its weighted Japanese terms, best first.

        Words whose lemma is in ``covered`` (e.g. the English headwords of glossary entries
        the query matched) are skipped. Each word keeps its ``per_word`` best terms by
        sense weight × (idf / max idf) ** idf_power, scaled so its best term weighs 1.
        """
        out: list[tuple[str, tuple[WeightedTerm, ...]]] = []
        found = [(word, *self._entries(word)) for word in self.words(query, covered)]
        found = [(word, pairs, scale) for word, pairs, scale in found if pairs]
        cohesion = self._cohesion([pairs for _, pairs, _ in found])
        for (word, pairs, scale), fits in zip(found, cohesion):
            scored = sorted(
                (
                    (index, weight * self._term_idf[index] ** self.idf_power * fit)
                    for (index, weight), fit in zip(pairs, fits)
                ),
                key=lambda p: -p[1],
            )[: self.per_word]
            best = scored[0][1]
            if best <= 0:
                continue
            out.append(
                (
                    word,
                    tuple(
                        WeightedTerm(
                            self.lexicon.terms[i],
                            self.lexicon.term_tokens[i],
                            round(float(scale * w / best), 4),
                        )
                        for i, w in scored
                    ),
                )
            )
        return out

    def _cohesion(self, candidates: Sequence[Sequence[tuple[int, float]]]) -> list[np.ndarray]:
        """Per word, per candidate term: (1 - c) + c × the share of the other words with a
        candidate sharing a passage with it (c = ``cohesion``; all ones when c is 0)."""
        ones = [np.ones(len(pairs)) for pairs in candidates]
        if self.cohesion <= 0 or len(candidates) < 2:
            return ones
        if self._incidence is None:
            lexicon = self.lexicon
            incidence = np.zeros((len(lexicon.terms), len(lexicon.passage_terms)), dtype=bool)
            for row, terms in enumerate(lexicon.passage_terms):
                incidence[list(terms), row] = True
            self._incidence = incidence
        incidence = self._incidence
        rows = [incidence[[index for index, _ in pairs]] for pairs in candidates]
        anywhere = np.array([r.any(axis=0) for r in rows])  # word × passage
        out = []
        for j, r in enumerate(rows):
            others = np.delete(anywhere, j, axis=0)  # other words × passage
            shared = (r[:, None, :] & others[None, :, :]).any(axis=2).mean(axis=1)
            out.append((1 - self.cohesion) + self.cohesion * shared)
        return out

    def translate(self, query: str, covered: Iterable[str] = ()) -> list[WeightedTerm]:
        """Weighted Japanese terms for the English content words of ``query``, best first
        (:meth:`translate_words` flattened; a term reached from several words adds up)."""
        return self.flatten(self.translate_words(query, covered))

    def flatten(self, words: Sequence[tuple[str, Sequence[WeightedTerm]]]) -> list[WeightedTerm]:
        """The terms of every word in one list, best first; a term of several words adds up."""
        totals: dict[str, float] = {}
        tokens: dict[str, tuple[str, ...]] = {}
        for _, terms in words:
            for t in terms:
                totals[t.term] = totals.get(t.term, 0.0) + t.weight
                tokens[t.term] = t.tokens
        ordered = sorted(totals.items(), key=lambda p: (-p[1], self._term_index[p[0]]))
        return [WeightedTerm(term, tokens[term], round(w, 4)) for term, w in ordered]

    # ---- the English gloss field: BM25 over each passage's glossed words -------------------

    def _build_gloss_field(self) -> None:
        lexicon = self.lexicon
        vocab = {word: i for i, word in enumerate(sorted(lexicon.words))}
        by_term: dict[int, list[tuple[int, float]]] = {}
        for word, pairs in lexicon.words.items():
            for index, weight in pairs:
                by_term.setdefault(index, []).append((vocab[word], weight))
        tf = np.zeros((len(lexicon.passage_terms), len(vocab)), dtype=np.float64)
        for row, terms in enumerate(lexicon.passage_terms):
            for index in terms:
                for column, weight in by_term.get(index, ()):
                    tf[row, column] += weight
        lengths = tf.sum(axis=1)
        average = float(lengths.mean()) or 1.0
        norm = K1 * (1 - B + B * lengths / average)
        matrix = tf * (K1 + 1) / (tf + norm[:, None])
        df = (tf > 0).sum(axis=0)
        n = len(lexicon.passage_terms)
        self._gloss_idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        self._gloss_matrix = np.ascontiguousarray(matrix * self._gloss_idf[None, :])
        self._gloss_vocab = vocab

    def gloss_scores(self, query: str) -> np.ndarray:
        """BM25 of the query's English lemmas over the passages' glossed English words."""
        if self._gloss_matrix is None:
            self._build_gloss_field()
        assert self._gloss_matrix is not None
        columns = [self._gloss_vocab[w] for w in content_lemmas(query) if w in self._gloss_vocab]
        if not columns:
            return np.zeros(self._gloss_matrix.shape[0])
        return self._gloss_matrix[:, columns].sum(axis=1)


class TokenScores:
    """Per-passage BM25 contribution of every vocabulary token, as one dense matrix.

    Built once from the BM25 index (service.bm25: its precomputed sparse score matrix), so weighted
    token queries and pseudo-relevance feedback cost one small matrix product.
    """

    def __init__(self, bm25: Any) -> None:
        scores = bm25.scores
        n_docs = int(scores["num_docs"])
        vocab: dict[str, int] = dict(bm25.vocab_dict)
        indptr = np.asarray(scores["indptr"])
        indices = np.asarray(scores["indices"])
        data = np.asarray(scores["data"], dtype=np.float64)
        matrix = np.zeros((n_docs, len(indptr) - 1), dtype=np.float64)
        for column in range(len(indptr) - 1):
            start, end = indptr[column], indptr[column + 1]
            matrix[indices[start:end], column] = data[start:end]
        self.matrix = matrix
        self.vocab = vocab
        self.tokens = {i: t for t, i in vocab.items()}

    def weighted(self, terms: Sequence[WeightedTerm]) -> np.ndarray:
        """Σ_term weight × BM25(term's tokens) per passage."""
        columns: dict[int, float] = {}
        for term in terms:
            for token in term.tokens:
                column = self.vocab.get(token)
                if column is not None:
                    columns[column] = columns.get(column, 0.0) + term.weight
        if not columns:
            return np.zeros(self.matrix.shape[0])
        ids = np.fromiter(columns, dtype=np.int64)
        weights = np.fromiter(columns.values(), dtype=np.float64)
        result: np.ndarray = self.matrix[:, ids] @ weights
        return result

    def feedback(
        self, passages: Sequence[int], exclude: Iterable[str], n_terms: int
    ) -> list[WeightedTerm]:
        """The ``n_terms`` tokens that weigh most in ``passages`` (pseudo-relevance feedback)."""
        mass = self.matrix[list(passages)].sum(axis=0)
        for token in exclude:
            column = self.vocab.get(token)
            if column is not None:
                mass[column] = 0.0
        top = np.argsort(-mass, kind="stable")[:n_terms]
        best = float(mass[top[0]]) if len(top) else 0.0
        if best <= 0 or not math.isfinite(best):
            return []
        return [
            WeightedTerm(
                self.tokens[int(c)], (self.tokens[int(c)],), round(float(mass[c]) / best, 4)
            )
            for c in top
            if mass[c] > 0
        ]


@dataclass(frozen=True)
class CrossLingualOptions:
    """Which uses of the lexicon are on (all off: the search is exactly as without it)."""

    bm25_weight: float = 0.0  # λ: Σ weight × BM25(term) added to the BM25 passage scores
    dense_terms: int = 0  # this many best terms appended to the dense (e5) query text
    gloss_field: str = "off"  # "off", "signal" (4th fused signal) or "merge" (into BM25)
    gloss_weight: float = 1.0  # scale of the gloss field when merged into BM25
    prf_terms: int = 0  # pseudo-relevance feedback: tokens taken from the first-pass top passages
    prf_passages: int = 3
    prf_weight: float = 0.0
    # How the terms of one English word combine in BM25: "sum" (every translation adds) or
    # "max" (the word counts once per passage, by its best-matching translation).
    word_aggregate: Literal["sum", "max"] = "sum"


@dataclass(frozen=True)
class QueryTerms:
    """What the lexicon made of one English query."""

    query: str
    terms: tuple[WeightedTerm, ...]
    words: tuple[tuple[str, tuple[WeightedTerm, ...]], ...] = ()


class CrossLingual:
    """The lexicon's hooks into a search: translated terms for BM25, dense text, gloss field."""

    def __init__(
        self, translator: Translator | None, bm25: Any, options: CrossLingualOptions
    ) -> None:
        self.translator = translator
        self.options = options
        self._bm25 = bm25
        self._tokens: TokenScores | None = None

    @property
    def tokens(self) -> TokenScores:
        if self._tokens is None:
            self._tokens = TokenScores(self._bm25)
        return self._tokens

    @property
    def active(self) -> bool:
        o = self.options
        return self.translator is not None and (
            o.bm25_weight > 0 or o.dense_terms > 0 or o.gloss_field != "off" or o.prf_terms > 0
        )

    def prepare(self, query: str, language: str, glossary: Glossary | None) -> QueryTerms | None:
        """Translate an English query; None for Japanese ones, or when every use is off.

        Words of the glossary entries the query matched are not translated again.
        """
        if language != "en" or not self.active or self.translator is None:
            return None
        o = self.options
        if o.bm25_weight <= 0 and o.dense_terms <= 0:
            return QueryTerms(query, ())  # the gloss field and PRF need no translated terms
        covered = glossary.matches(query) if glossary is not None else ()
        if o.word_aggregate == "max":
            words = tuple(self.translator.translate_words(query, covered))
            return QueryTerms(query, tuple(self.translator.flatten(words)), words)
        return QueryTerms(query, tuple(self.translator.translate(query, covered)))

    def dense_text(self, expanded: str, prepared: QueryTerms | None) -> str:
        """``expanded`` with the best ``dense_terms`` Japanese terms appended."""
        if prepared is None or self.options.dense_terms <= 0:
            return expanded
        extra = [t.term for t in prepared.terms if t.term not in expanded]
        extra = extra[: self.options.dense_terms]
        return f"{expanded} {' '.join(extra)}" if extra else expanded

    def lexical(self, lexical: np.ndarray, prepared: QueryTerms | None) -> np.ndarray:
        """BM25 passage scores plus the weighted BM25 of the translated terms (and gloss field)."""
        if prepared is None:
            return lexical
        options = self.options
        if options.bm25_weight > 0 and prepared.words and options.word_aggregate == "max":
            per_word = [
                np.max([self.tokens.weighted((t,)) for t in terms], axis=0)
                for _, terms in prepared.words
            ]
            lexical = lexical + options.bm25_weight * np.sum(per_word, axis=0)
        elif options.bm25_weight > 0 and prepared.terms:
            lexical = lexical + options.bm25_weight * self.tokens.weighted(prepared.terms)
        if options.gloss_field == "merge" and self.translator is not None:
            lexical = lexical + options.gloss_weight * self.translator.gloss_scores(prepared.query)
        return lexical

    def extra_signal(self, prepared: QueryTerms | None) -> np.ndarray | None:
        """The English gloss field as a signal of its own (when ``gloss_field == "signal"``)."""
        if prepared is None or self.translator is None or self.options.gloss_field != "signal":
            return None
        return self.translator.gloss_scores(prepared.query)

    def feedback(
        self, lexical: np.ndarray, first_pass: np.ndarray, query_tokens: Iterable[str]
    ) -> np.ndarray | None:
        """BM25 scores re-queried with tokens of the first pass's top passages (PRF)."""
        options = self.options
        if options.prf_terms <= 0 or options.prf_weight <= 0:
            return None
        top = np.argsort(-first_pass, kind="stable")[: options.prf_passages]
        terms = self.tokens.feedback([int(i) for i in top], query_tokens, options.prf_terms)
        if not terms:
            return None
        result: np.ndarray = lexical + options.prf_weight * self.tokens.weighted(terms)
        return result


# Measured on the development set and dev-2 (benchmarks/cross_lingual.py, BENCHMARKS.md,
# issue 10): the translated terms in BM25, each English word counted once per passage (its
# best translation), plus the English gloss field merged into BM25 at half weight. The dense
# and PRF uses did not earn their place and stay off.
DEFAULT_OPTIONS = CrossLingualOptions(
    bm25_weight=1.0, gloss_field="merge", gloss_weight=0.5, word_aggregate="max"
)


def load_translator(index_dir: Path) -> Translator | None:
    """The translator of an index directory's lexicon, or None when it has none."""
    from indexer.manifest import LEXICON_FILE

    path = Path(index_dir) / LEXICON_FILE
    if not path.is_file():
        logger.info(
            "index %s has no %s; English queries use the glossary only", index_dir, LEXICON_FILE
        )
        return None
    try:
        return Translator.load(path)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        logger.warning(
            "lexicon %s is unusable (%s); English queries use the glossary only", path, exc
        )
        return None
