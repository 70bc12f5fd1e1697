"""Cross-lingual ablation on the development set: what the JMdict lexicon adds to English queries.

Usage: SHISAKU_INDEX_DIR=<an index built with lexicon.json> python benchmarks/cross_lingual.py
       [data/eval/questions.jsonl]

Rows: today's search; + query-time lexicon → BM25; + lexicon → dense (e5) query text; + the
index-time English gloss field (a 4th signal, or merged into BM25); + pseudo-relevance
feedback; the best combination. Each row's parameters are picked from a small grid on the
whole set ("in-sample") and by 2-fold cross-validation (fit on odd question ids, score the even
ones, and the reverse; the two held-out halves are pooled). Columns: hit@1 ja / en, hit@5 and
MRR@10 over the answerable questions (the service's own ranking, status rules included), and
the median milliseconds per English query of just the added step.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.config import load_settings  # noqa: E402
from service.engine import load_engine  # noqa: E402
from service.evaluate import Question, load_questions  # noqa: E402
from service.intent import read_intent  # noqa: E402
from service.search import SearchEngine, normalize_query  # noqa: E402
from service.translate import DEFAULT_OPTIONS, CrossLingualOptions  # noqa: E402

OFF = CrossLingualOptions()
PER_WORD = (2, 3, 5, 8)
LAMBDA = (0.5, 1.0, 1.5, 2.0, 3.0)


@dataclass(frozen=True)
class Config:
    options: CrossLingualOptions
    per_word: int = 5

    def label(self) -> str:
        o, parts = self.options, []
        if o.bm25_weight:
            parts.append(f"λ={o.bm25_weight:g}, {self.per_word}/word")
        if o.dense_terms:
            parts.append(f"{o.dense_terms} dense terms")
        if o.gloss_field != "off":
            parts.append(
                f"gloss {o.gloss_field}"
                + (f" ×{o.gloss_weight:g}" if o.gloss_field == "merge" else "")
            )
        if o.prf_terms:
            parts.append(f"PRF {o.prf_terms} terms ×{o.prf_weight:g}")
        return "; ".join(parts) or "—"


def grids() -> dict[str, list[Config]]:
    return {
        "today (glossary only)": [Config(OFF)],
        "+ lexicon → BM25 (query time)": [
            Config(CrossLingualOptions(bm25_weight=lam), per_word=pw)
            for lam, pw in itertools.product(LAMBDA, PER_WORD)
        ],
        "+ lexicon → dense (e5 text)": [
            Config(CrossLingualOptions(dense_terms=n), per_word=pw)
            for n, pw in itertools.product((1, 2, 3, 5), (3, 5))
        ],
        "+ English gloss field, 4th signal": [Config(CrossLingualOptions(gloss_field="signal"))],
        "+ English gloss field, merged into BM25": [
            Config(CrossLingualOptions(gloss_field="merge", gloss_weight=w))
            for w in (0.5, 1.0, 2.0)
        ],
        "+ PRF (BM25, top 3 passages)": [
            Config(CrossLingualOptions(prf_terms=t, prf_weight=w))
            for t, w in itertools.product((5, 10), (0.1, 0.3, 1.0))
        ],
        "best combination": [
            Config(
                CrossLingualOptions(
                    bm25_weight=lam,
                    dense_terms=n,
                    gloss_field="merge" if g else "off",
                    gloss_weight=g or 1.0,
                ),
                per_word=pw,
            )
            for lam, pw, n, g in itertools.product((1.0, 1.5, 2.0), (3, 5, 8), (0, 1), (0, 0.5))
        ],
    }


Ranks = dict[str, int | None]


def ranks_for(engine: SearchEngine, questions: list[Question], config: Config) -> Ranks:
    engine.cross.options = config.options
    if engine.cross.translator is not None:
        engine.cross.translator.per_word = config.per_word
    engine._result_cache.clear()
    texts = [q.question for q in questions]
    step = engine.max_batch
    outcomes = [
        o
        for i in range(0, len(texts), step)
        for o in engine.search_batch(texts[i : i + step], k=10)
    ]
    out: Ranks = {}
    for q, outcome in zip(questions, outcomes):
        numbers = [hit.measure.number for hit in outcome.results]
        out[q.id] = next((i for i, n in enumerate(numbers) if n in q.gold), None)
    return out


def figures(ranks: Ranks, questions: list[Question]) -> dict[str, float]:
    def share(group: list[Question], cut: int) -> float:
        hits = [ranks[q.id] for q in group]
        return sum(1 for r in hits if r is not None and r < cut) / max(1, len(hits))

    ja = [q for q in questions if q.lang == "ja"]
    en = [q for q in questions if q.lang == "en"]
    return {
        "ja": share(ja, 1),
        "en": share(en, 1),
        "all": share(questions, 1),
        "h5": share(questions, 5),
        "mrr": sum(1 / (r + 1) for q in questions if (r := ranks[q.id]) is not None and r < 10)
        / len(questions),
    }


def objective(ranks: Ranks, questions: list[Question]) -> tuple[float, float]:
    f = figures(ranks, questions)
    return (round(f["all"], 6), round(f["mrr"], 6))


def parity(question: Question) -> int:
    return int(question.id.rsplit("-", 1)[-1]) % 2


def added_ms(engine: SearchEngine, questions: list[Question], config: Config) -> float:
    """Median ms per English query of the lexicon steps alone (translate, dense text, BM25
    weighting, gloss field, feedback), on a fixed first-pass BM25 vector."""
    engine.cross.options = config.options
    if engine.cross.translator is not None:
        engine.cross.translator.per_word = config.per_word
    cross = engine.cross
    _ = cross.tokens  # built once at first use, not per query
    if cross.translator is not None:
        cross.translator.gloss_scores("warm up")
    timings = []
    for q in questions:
        if q.lang != "en":
            continue
        expanded = normalize_query(engine.expand(q.question, "en"))
        lexical = engine._lexical_scores(expanded)
        first = lexical.copy()
        started = time.perf_counter()
        terms = cross.prepare(q.question, "en", engine.glossary)
        cross.dense_text(expanded, terms)
        fused = cross.lexical(lexical, terms)
        cross.extra_signal(terms)
        if terms is not None and cross.options.prf_terms > 0:
            cross.feedback(fused, first, engine.tokenizer.tokenize(expanded))
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings) if timings else 0.0


def encode_delta_ms(engine: SearchEngine, questions: list[Question], config: Config) -> float:
    """Median extra e5 encode time from the appended dense terms (paired, uncached)."""
    if config.options.dense_terms <= 0:
        return 0.0
    engine.cross.options = config.options
    if engine.cross.translator is not None:
        engine.cross.translator.per_word = config.per_word
    deltas = []
    for q in questions:
        if q.lang != "en":
            continue
        expanded = engine.expand(q.question, "en")
        terms = engine.cross.prepare(q.question, "en", engine.glossary)
        longer = engine.cross.dense_text(expanded, terms)
        pair = []
        for text in (expanded, longer):
            started = time.perf_counter()
            engine.encoder.encode_queries([normalize_query(text)])
            pair.append((time.perf_counter() - started) * 1000)
        deltas.append(pair[1] - pair[0])
    return statistics.median(deltas)


def uncached_ms(
    engine: SearchEngine, questions: list[Question], off: Config, on: Config, rounds: int = 3
) -> tuple[float, float, float]:
    """End-to-end uncached English search: p50 without, p50 with, and the p50 of the paired
    per-query differences (each query run off then on, back to back, ``rounds`` times)."""
    times: dict[Config, list[float]] = {off: [], on: []}
    deltas = []
    for _ in range(rounds):
        for q in questions:
            if q.lang != "en":
                continue
            pair = []
            for config in (off, on):
                engine.cross.options = config.options
                if engine.cross.translator is not None:
                    engine.cross.translator.per_word = config.per_word
                engine.clear_cache()
                started = time.perf_counter()
                engine.search(q.question, k=10)
                pair.append((time.perf_counter() - started) * 1000)
                times[config].append(pair[-1])
            deltas.append(pair[1] - pair[0])
    return statistics.median(times[off]), statistics.median(times[on]), statistics.median(deltas)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "eval" / "questions.jsonl"
    if "heldback" in path.name:
        raise SystemExit("this benchmark is for the development set only")
    engine = load_engine(load_settings())
    if engine.cross.translator is None:
        raise SystemExit("the index has no lexicon.json: rebuild it (shisaku index) with jamdict")
    questions = [q for q in load_questions(path) if q.gold]
    for q in questions:  # the lexicon must never touch Japanese queries
        assert read_intent(q.question).language == q.lang, q.id
    cache: dict[Config, Ranks] = {}

    def ranks(config: Config) -> Ranks:
        if config not in cache:
            cache[config] = ranks_for(engine, questions, config)
        return cache[config]

    halves = [[q for q in questions if parity(q) == p] for p in (0, 1)]
    header = (
        f"{'method':<40}{'hit@1 ja':>9}{'hit@1 en':>9}{'hit@5':>7}{'MRR@10':>8}{'+ms p50':>9}"
        f"   {'CV: ja':>6}{'en':>6}{'MRR':>6}   parameters (in-sample | per fold)"
    )
    print(f"{len(questions)} answerable development questions; 2-fold CV by id parity")
    print(header)
    print("-" * len(header))
    today = ranks(Config(OFF))
    chosen: dict[str, Config] = {}
    for name, grid in grids().items():
        best = max(grid, key=lambda c: objective(ranks(c), questions))
        chosen[name] = best
        f = figures(ranks(best), questions)
        pooled: Ranks = {}
        fold_labels = []
        for fit, held in ((halves[1], halves[0]), (halves[0], halves[1])):
            pick = max(grid, key=lambda c: objective(ranks(c), fit))
            fold_labels.append(pick.label())
            pooled.update({q.id: ranks(pick)[q.id] for q in held})
        cv = figures(pooled, questions)
        ms = added_ms(engine, questions, best)
        print(
            f"{name:<40}{f['ja']:>9.3f}{f['en']:>9.3f}{f['h5']:>7.3f}{f['mrr']:>8.3f}{ms:>9.3f}"
            f"   {cv['ja']:>6.3f}{cv['en']:>6.3f}{cv['mrr']:>6.3f}   "
            f"{best.label()} | {' / '.join(fold_labels)}"
        )
    shipped = Config(DEFAULT_OPTIONS, per_word=_default_per_word())
    f = figures(ranks(shipped), questions)
    print(
        f"{'shipped defaults':<40}{f['ja']:>9.3f}{f['en']:>9.3f}{f['h5']:>7.3f}{f['mrr']:>8.3f}"
        f"{added_ms(engine, questions, shipped):>9.3f}   {shipped.label()}"
    )
    dense = chosen["+ lexicon → dense (e5 text)"]
    print(
        f"\ne5 encode time added by the dense terms ({dense.label()}): "
        f"{encode_delta_ms(engine, questions, dense):+.2f} ms p50"
    )
    off_ms, on_ms, delta = uncached_ms(engine, questions, Config(OFF), shipped)
    print(
        f"uncached English search p50: {off_ms:.1f} ms without the lexicon, {on_ms:.1f} ms with "
        f"the shipped defaults; paired difference p50 {delta:+.2f} ms"
    )
    changed_ja = [q.id for q in questions if q.lang == "ja" and ranks(shipped)[q.id] != today[q.id]]
    print(
        f"Japanese questions whose rank changed with the shipped defaults: {changed_ja or 'none'}"
    )
    misses = [q for q in questions if ranks(shipped)[q.id] != 0]
    print("misses with the shipped defaults (id, gold, position of the first gold measure):")
    for q in misses:
        print(f"  {q.id} {list(q.gold)} {_position(ranks(shipped)[q.id])}: {q.question}")
    return 0


def _position(rank: int | None) -> str:
    return "not in the top 10" if rank is None else f"#{rank + 1}"


def _default_per_word() -> int:
    from service.translate import PER_WORD as shipped

    return shipped


if __name__ == "__main__":
    raise SystemExit(main())
