"""Issue 10, third round: would a fifth signal help English questions? (measured, not shipped)

    .venv/bin/python benchmarks/english_signals.py

Re-fuses the service's own four measure signals (e5, BM25 with the lexicon, USE, and the
extra signal) with one more, on the English answerable questions of dev, dev-2 and dev-3
(the spent held-back files; never an unseen one), without the status rules:
* ``gloss-USE`` / ``gloss-e5``: each passage glossed into English at index time (the first
  JMdict gloss of each of its terms, in order) and embedded by USE or e5; the query as written;
* ``translated-e5`` / ``translated-USE``: a second e5 (or USE) query made of the question's
  glossary and lexicon Japanese terms (its first 5 or 10), scored like that encoder's signal
  (best passage + 0.5 × whole measure). It costs a second encode per English query.
Also prints the four signals' weights fitted on two sets and scored on the third.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.lexicon import candidate_terms, jmdict_senses  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.engine import load_engine  # noqa: E402
from service.fusion import max_per_group, zscore  # noqa: E402
from service.intent import read_intent  # noqa: E402
from service.search import SearchEngine, normalize_query  # noqa: E402

SETS = (("dev", "questions.jsonl"), ("dev-2", "heldback.jsonl"), ("dev-3", "heldback2.jsonl"))
BASE = {"e5": 1.0, "bm25": 1.0, "use": 1.0, "extra": 1.0}


def gloss_texts(engine: SearchEngine) -> list[str]:
    """Each passage as the first English gloss of each of its JMdict terms."""
    from jamdict import Jamdict
    from sudachipy import Dictionary, SplitMode

    jamdict, dictionary = Jamdict(), Dictionary(dict="core")
    sudachi = [dictionary.tokenizer(m) for m in (SplitMode.A, SplitMode.B, SplitMode.C)]
    first: dict[str, str | None] = {}

    def gloss(forms: tuple[str, ...]) -> str | None:
        for form in forms:
            if form not in first:
                senses = jmdict_senses(jamdict, form, 1)
                first[form] = senses[0].glosses[0] if senses else None
            if first[form]:
                return first[form]
        return None

    texts = []
    for passage in engine.index.passages:
        found = [gloss(forms) for forms in candidate_terms(passage.text, sudachi)]
        texts.append("; ".join(dict.fromkeys(g for g in found if g)))
    return texts


def main() -> int:
    engine = load_engine(load_settings())
    index, recipe = engine.index, engine.recipe
    groups, n = index.passage_measure, len(index.measures)
    assert engine.second is not None
    texts = gloss_texts(engine)
    gloss_use = engine.second.encode_passages(texts)
    gloss_e5 = engine.encoder.encode_passages(texts)
    passages = index.dense_passages.reconstruct_n(0, index.dense_passages.ntotal)
    measures = index.dense_measures.reconstruct_n(0, index.dense_measures.ntotal)
    assert index.second_passages is not None and index.second_measures is not None
    use_passages = index.second_passages.reconstruct_n(0, index.second_passages.ntotal)
    use_measures = index.second_measures.reconstruct_n(0, index.second_measures.ntotal)
    numbers = [m.number for m in index.measures]
    rows = []  # (set, gold, {signal: z-scores})
    for tag, name in SETS:
        for line in (ROOT / "data" / "eval" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else None
            if not row or row["lang"] != "en" or not row["gold"]:
                continue
            q = row["question"]
            if read_intent(q).status_only:
                continue
            expanded = normalize_query(engine.expand(q, "en"))
            terms = engine.cross.prepare(q, "en", engine.glossary)
            vectors = engine.encode_queries(
                [engine.cross.dense_text(expanded, terms)], [normalize_query(q)]
            )[0]
            raw, _ = engine.raw_scores(expanded, vectors, terms)
            assert raw.second_passages is not None and raw.second_measures is not None
            signals = {
                "e5": max_per_group(raw.dense_passages, groups, n)
                + recipe.whole_measure_weight * raw.dense_measures,
                "bm25": max_per_group(raw.lexical_passages, groups, n),
                "use": max_per_group(raw.second_passages, groups, n)
                + recipe.second_whole_measure_weight * raw.second_measures,
            }
            if raw.extra_passages is not None:
                signals["extra"] = max_per_group(raw.extra_passages, groups, n)
            use_q = engine.second.encode_queries([q])[0]
            e5_q = engine.encoder.encode_queries([q])[0]
            signals["gloss-USE"] = max_per_group(gloss_use @ use_q, groups, n)
            signals["gloss-e5"] = max_per_group(gloss_e5 @ e5_q, groups, n)
            entries = engine.glossary.matched_entries(q) if engine.glossary else []
            japanese = [e.japanese[0] for e in entries if e.japanese]
            japanese += [t.term for t in (terms.terms if terms else ())]
            for size in (5, 10):
                text = " ".join(list(dict.fromkeys(japanese))[:size]) or q
                v = engine.encoder.encode_queries([text])[0]
                signals[f"translated-e5 ({size})"] = max_per_group(
                    passages @ v, groups, n
                ) + recipe.whole_measure_weight * (measures @ v)
                u = engine.second.encode_queries([text])[0]
                signals[f"translated-USE ({size})"] = max_per_group(
                    use_passages @ u, groups, n
                ) + recipe.second_whole_measure_weight * (use_measures @ u)
            rows.append((tag, row["gold"], {k: zscore(v) for k, v in signals.items()}))

    def hit1(tag: str, weights: dict[str, float]) -> float:
        mine = [(gold, z) for t, gold, z in rows if t == tag]
        hits = [
            numbers[int(np.argmax(sum(w * z[k] for k, w in weights.items() if k in z)))] in gold
            for gold, z in mine
        ]
        return float(np.mean(hits))

    tags = [tag for tag, _ in SETS]
    print(f"{'English hit@1 (no status rules)':<44}" + "".join(f"{t:>8}" for t in tags))
    print(
        f"{'the four signals, equal weights':<44}" + "".join(f"{hit1(t, BASE):>8.3f}" for t in tags)
    )
    extras = ("gloss-USE", "gloss-e5", "translated-e5 (5)", "translated-e5 (10)")
    for extra in (*extras, "translated-USE (5)", "translated-USE (10)"):
        for weight in (0.25, 0.5, 1.0):
            label = f"+ {extra} × {weight}"
            cells = "".join(f"{hit1(t, {**BASE, extra: weight}):>8.3f}" for t in tags)
            print(f"{label:<44}{cells}")
    grid = [0.25, 0.5, 1.0, 1.5]
    combos = [dict(zip(BASE, c, strict=True)) for c in itertools.product(grid, repeat=4)]
    for held in tags:
        train = [t for t in tags if t != held]
        best = max(combos, key=lambda w: (sum(hit1(t, w) for t in train), -sum(w.values())))
        print(f"weights fitted without {held}: {best} → {held} {hit1(held, best):.3f} "
              f"(equal weights {hit1(held, BASE):.3f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
