"""The JMdict English→Japanese lexicon: English lemmas, weights, look-ups and the query side."""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from indexer.lexicon import (
    Lexicon,
    Sense,
    assemble,
    content_lemmas,
    gloss_lemmas,
    idf,
    jmdict_senses,
    lemma,
    read_lexicon,
    sense_weight,
    word_weights,
    write_lexicon,
)
from service.translate import (
    CrossLingual,
    CrossLingualOptions,
    QueryTerms,
    TokenScores,
    Translator,
    WeightedTerm,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "reports" / "isa-7th-roundtable-status-2024" / "source.txt"

# --- English lemmas ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inflected", "base"),
    [
        ("deposits", "deposit"),
        ("councils", "council"),
        ("studies", "study"),
        ("applied", "apply"),
        ("memoranda", "memorandum"),
        ("children", "child"),
        ("paid", "pay"),
        ("making", "make"),
        ("housing", "house"),
        ("running", "run"),
        ("neighbours", "neighbor"),
        ("organisations", "organization"),
        ("centres", "center"),
        ("renewed", "renew"),
        ("boxes", "box"),
    ],
)
def test_inflected_forms_share_the_lemma_of_their_base(inflected: str, base: str) -> None:
    assert lemma(inflected) == lemma(base)


@pytest.mark.parametrize("word", ["status", "analysis", "process", "news", "bus", "series"])
def test_words_ending_in_s_that_are_not_plurals_keep_it(word: str) -> None:
    assert lemma(word).endswith("s")


def test_content_lemmas_drop_function_words_and_contractions() -> None:
    assert content_lemmas("What's the status of the deposits? It isn't clear.") == [
        "status",
        lemma("deposit"),
        lemma("clear"),
    ]
    assert content_lemmas("Naïve CAFÉ-owners") == [lemma("naive"), lemma("cafe"), lemma("owner")]
    assert content_lemmas("日本語だけ 123") == []


def test_gloss_lemmas_drop_parentheses_and_the_infinitive_to() -> None:
    assert gloss_lemmas("to pay (e.g. money, bill)") == ["pay"]
    assert gloss_lemmas("deposit (esp. on renting a house)") == ["deposit"]
    assert gloss_lemmas("(diplomatic) memorandum") == ["memorandum"]
    assert gloss_lemmas("security money") == [lemma("security"), "money"]


# --- weights ----------------------------------------------------------------------------------


def test_sense_rank_weights_decrease() -> None:
    assert [sense_weight(r) for r in range(3)] == [1.0, 0.5, pytest.approx(1 / 3)]


def test_idf_is_positive_and_falls_with_document_frequency() -> None:
    values = [idf(df, 100) for df in (1, 10, 50, 100)]
    assert all(v > 0 for v in values)
    assert values == sorted(values, reverse=True)


def test_word_weights_split_multiword_glosses_and_keep_the_best_sense() -> None:
    weights = word_weights(
        [
            Sense(0, ("deposit", "security money")),
            Sense(1, ("guarantee", "deposit")),
            Sense(2, ("bond",), entry_weight=0.5),
        ]
    )
    assert weights["deposit"] == 1.0  # first sense wins over the second
    assert weights["money"] == 0.5  # one of two content words
    assert weights[lemma("guarantee")] == 0.5
    assert weights["bond"] == pytest.approx(0.5 / 3)


def small_lexicon() -> Lexicon:
    passages = [
        ["保証金", "手数料"],
        ["地域住民", "住民"],
        ["住民", "更新"],
        ["手数料"],
        ["未知語"],
    ]
    senses = {
        "保証金": [Sense(0, ("deposit (esp. on renting a house)", "security money"))],
        "手数料": [Sense(0, ("handling charge", "fee"))],
        "地域住民": [Sense(0, ("local resident",))],
        "住民": [Sense(0, ("inhabitant", "resident"))],
        "更新": [Sense(0, ("renewal", "update"))],
        "未使用": [Sense(0, ("never in the corpus",))],
    }
    tokens = {t: [t[:2], t[2:]] if len(t) > 2 else [t] for t in senses}
    return assemble(passages, senses, tokens)


def test_assemble_keeps_only_glossed_corpus_terms_with_their_document_frequency() -> None:
    lexicon = small_lexicon()
    assert set(lexicon.terms) == {"保証金", "手数料", "地域住民", "住民", "更新"}
    frequency = dict(zip(lexicon.terms, lexicon.document_frequency))
    assert frequency == {"保証金": 1, "手数料": 2, "地域住民": 1, "住民": 2, "更新": 1}
    assert lexicon.documents == 5
    assert lexicon.passage_terms[4] == ()
    # "resident": the single-word gloss (住民) and the half-share one (地域住民), best first by
    # weight × idf: 住民 1.0 × idf(2) > 地域住民 0.5 × idf(1).
    pairs = lexicon.words[lemma("resident")]
    assert [lexicon.terms[i] for i, _ in pairs] == ["住民", "地域住民"]
    assert [w for _, w in pairs] == [1.0, 0.5]


def test_assemble_trims_terms_per_word() -> None:
    passages = [[f"語{i}"] for i in range(5)]
    senses = {f"語{i}": [Sense(0, ("word",))] for i in range(5)}
    lexicon = assemble(passages, senses, {t: [t] for t in senses}, max_terms_per_word=2)
    assert len(lexicon.words["word"]) == 2


def test_lexicon_file_round_trips(tmp_path: Path) -> None:
    lexicon = small_lexicon()
    path = tmp_path / "lexicon.json"
    write_lexicon(path, lexicon)
    assert read_lexicon(path) == lexicon
    assert path.stat().st_size < 2000


def test_an_unknown_lexicon_format_is_refused() -> None:
    data = small_lexicon().to_json() | {"format": 99}
    with pytest.raises(ValueError, match="format"):
        Lexicon.from_json(data)


# --- JMdict look-up rules (a stand-in for jamdict) --------------------------------------------


def entry(kanji: list[tuple[str, list[str], list[str]]], senses: list[list[str]], misc=None):
    return SimpleNamespace(
        kanji_forms=[SimpleNamespace(text=t, info=info, pri=pri) for t, info, pri in kanji],
        kana_forms=[],
        senses=[
            SimpleNamespace(
                gloss=[SimpleNamespace(text=g, lang="eng") for g in glosses], misc=misc or []
            )
            for glosses in senses
        ],
    )


class FakeJamdict:
    def __init__(self, entries: dict[str, list[SimpleNamespace]]) -> None:
        self.entries = entries

    def lookup(self, term: str, **_: object) -> SimpleNamespace:
        return SimpleNamespace(entries=self.entries.get(term, []))


def test_jmdict_senses_prefers_common_entries_and_ranks_senses() -> None:
    jam = FakeJamdict(
        {
            "機関": [
                entry([("絡繰り", [], []), ("機関", [], [])], [["mechanism"]]),
                entry([("機関", [], ["ichi1"])], [["engine"], ["agency", "organisation"]]),
            ]
        }
    )
    senses = jmdict_senses(jam, "機関")
    assert [(s.rank, s.glosses) for s in senses] == [
        (0, ("engine",)),
        (1, ("agency", "organisation")),
    ]


def test_jmdict_senses_skips_rare_spellings_and_archaic_senses_and_caps_the_count() -> None:
    jam = FakeJamdict(
        {
            "稀": [entry([("稀", ["rarely used kanji form"], [])], [["rare"]])],
            "語": [
                entry(
                    [("語", [], [])],
                    [["one"], ["two"], ["three"], ["four"]],
                ),
            ],
            "古": [entry([("古", [], [])], [["old"]], misc=["archaic"])],
        }
    )
    assert jmdict_senses(jam, "稀") == []
    assert [s.glosses for s in jmdict_senses(jam, "語", max_senses=3)] == [
        ("one",),
        ("two",),
        ("three",),
    ]
    assert jmdict_senses(jam, "古") == []
    assert jmdict_senses(jam, "無い") == []


# --- the query side ---------------------------------------------------------------------------


def test_translate_maps_english_content_words_to_weighted_terms() -> None:
    translator = Translator(small_lexicon(), per_word=3)
    terms = translator.translate("Recruiters charge huge deposits")
    assert terms[0].term == "保証金"
    assert terms[0].tokens == ("保証", "金")
    assert {t.term for t in terms} == {"保証金", "手数料"}
    assert all(0 < t.weight <= 1 for t in terms)


def test_translate_skips_words_the_glossary_covered() -> None:
    translator = Translator(small_lexicon())
    assert translator.translate("deposit", covered=["security deposits"]) == []
    assert translator.words("deposit fee residents", covered=["Fee"]) == [
        lemma("deposit"),
        lemma("resident"),
    ]


def test_translate_adds_up_a_term_reached_from_two_words() -> None:
    translator = Translator(small_lexicon(), per_word=1)
    one = translator.translate("fee")
    two = translator.translate("fee charge")
    assert one[0].term == two[0].term == "手数料"
    assert two[0].weight == pytest.approx(2 * one[0].weight)


def test_translate_keeps_per_word_best_terms_and_can_ignore_idf() -> None:
    lexicon = small_lexicon()
    assert [t.term for t in Translator(lexicon, per_word=1).translate("resident")] == ["住民"]
    both = Translator(lexicon, per_word=2, idf_power=0.0).translate("residents")
    assert [t.term for t in both] == ["住民", "地域住民"]
    assert [t.weight for t in both] == [1.0, 0.5]


def test_a_derived_form_is_found_by_prefix_at_half_weight() -> None:
    translator = Translator(small_lexicon())
    terms = translator.translate("renew")  # the gloss says "renewal"
    assert [t.term for t in terms] == ["更新"]
    assert terms[0].weight == 0.5
    assert translator.translate("ren") == []  # too short to guess from


def test_gloss_field_scores_passages_by_their_glossed_english_words() -> None:
    translator = Translator(small_lexicon())
    scores = translator.gloss_scores("local residents")
    assert scores.shape == (5,)
    assert int(np.argmax(scores)) == 1  # 地域住民 + 住民
    assert scores[0] == scores[3] == scores[4] == 0
    assert not translator.gloss_scores("nothing matches").any()


@pytest.fixture(scope="module")
def tiny_bm25():
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(
        [["保証", "金", "送出"], ["住民", "地域"], ["住民", "更新", "申請"]], show_progress=False
    )
    return retriever


def test_token_scores_match_bm25s_and_weight_terms(tiny_bm25) -> None:
    tokens = TokenScores(tiny_bm25)
    for token in ("保証", "住民", "申請"):
        expected = tiny_bm25.get_scores([token])
        assert np.allclose(tokens.weighted([WeightedTerm(token, (token,), 1.0)]), expected)
    weighted = tokens.weighted(
        [WeightedTerm("保証金", ("保証", "金"), 0.5), WeightedTerm("未知", ("未知",), 3.0)]
    )
    assert np.allclose(weighted, 0.5 * tiny_bm25.get_scores(["保証", "金"]))
    assert not tokens.weighted([]).any()


def test_feedback_takes_the_heaviest_tokens_of_the_top_passages(tiny_bm25) -> None:
    tokens = TokenScores(tiny_bm25)
    terms = tokens.feedback([2], exclude=["住民"], n_terms=2)
    assert {t.term for t in terms} == {"更新", "申請"}
    assert max(t.weight for t in terms) == 1.0


def test_cross_lingual_leaves_japanese_queries_and_the_off_switch_alone(tiny_bm25) -> None:
    translator = Translator(small_lexicon())
    on = CrossLingual(translator, tiny_bm25, CrossLingualOptions(bm25_weight=1.5))
    off = CrossLingual(translator, tiny_bm25, CrossLingualOptions())
    none = CrossLingual(None, tiny_bm25, CrossLingualOptions(bm25_weight=1.5))
    assert on.prepare("保証金は?", "ja", None) is None
    assert off.prepare("deposits", "en", None) is None
    assert none.prepare("deposits", "en", None) is None
    prepared = on.prepare("deposits", "en", None)
    assert isinstance(prepared, QueryTerms) and prepared.terms[0].term == "保証金"
    base = np.zeros(3)
    boosted = on.lexical(base, prepared)
    assert int(np.argmax(boosted)) == 0 and boosted[0] > 0
    assert on.lexical(base, None) is base
    assert on.dense_text("deposits", prepared) == "deposits"  # dense use is off


def test_dense_text_appends_the_best_terms_once() -> None:
    cross = CrossLingual(Translator(small_lexicon()), None, CrossLingualOptions(dense_terms=1))
    prepared = QueryTerms("q", (WeightedTerm("保証金", (), 1.0), WeightedTerm("手数料", (), 0.5)))
    assert cross.dense_text("deposits", prepared) == "deposits 保証金"
    assert cross.dense_text("deposits 保証金", prepared) == "deposits 保証金 手数料"


# --- the real corpus and the real JMdict ------------------------------------------------------


@pytest.mark.slow
def test_lexicon_from_the_real_corpus_translates_everyday_english(tmp_path: Path) -> None:
    pytest.importorskip("jamdict")
    from indexer.lexicon import build_lexicon
    from indexer.parse import parse_report_file
    from indexer.passages import split_passages

    passages = split_passages(parse_report_file(CORPUS))
    lexicon = build_lexicon([p.text for p in passages])
    path = tmp_path / "lexicon.json"
    write_lexicon(path, lexicon)
    assert path.stat().st_size < 1_000_000
    corpus = unicodedata.normalize("NFKC", "\n".join(p.text for p in passages))
    # Terms are the corpus's own words (verbs in their dictionary form: 払う for 払っ).
    verbatim = sum(term in corpus for term in lexicon.terms) / len(lexicon.terms)
    assert verbatim > 0.8
    translator = Translator(read_lexicon(path))

    deposit = [t.term for t in translator.translate("huge deposits")]
    assert "保証金" in deposit[:3]
    for spelling in ("neighbours", "neighbors"):
        found = {t.term for t in translator.translate(spelling)}
        assert found & {"地域住民", "近隣", "住民", "近所"}, found
        assert all(term in corpus for term in found & {"地域住民", "近隣", "住民"})
    assert "協議会" in [t.term for t in translator.translate("councils")]
    assert "簡素化" in [t.term for t in translator.translate("simplification")]
    assert not math.isnan(sum(t.weight for t in translator.translate("customs kiosk")))


@pytest.mark.slow
def test_the_built_index_carries_a_lexicon_that_only_english_queries_use(engine) -> None:
    from indexer.manifest import LEXICON_FILE

    assert (engine.index.path / LEXICON_FILE).is_file()
    assert LEXICON_FILE in engine.index.manifest["files"]  # checksummed like the rest
    assert engine.cross.translator is not None and engine.cross.active
    shipped = engine.cross.options

    def numbers(query: str) -> list[int]:
        engine.clear_cache()
        return [hit.measure.number for hit in engine.search(query, k=10).results]

    try:
        with_lexicon = {q: numbers(q) for q in ("保証金を取る送出機関", "huge deposits abroad")}
        engine.cross.options = CrossLingualOptions()
        without = {q: numbers(q) for q in with_lexicon}
    finally:
        engine.cross.options = shipped
        engine.clear_cache()
    assert with_lexicon["保証金を取る送出機関"] == without["保証金を取る送出機関"]
    assert with_lexicon["huge deposits abroad"] != without["huge deposits abroad"]
    assert 7 in with_lexicon["huge deposits abroad"][:3]


def test_the_lexicon_setting_can_turn_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.config import load_settings

    monkeypatch.setenv("SHISAKU_LEXICON", "false")
    assert load_settings().lexicon is False
    monkeypatch.delenv("SHISAKU_LEXICON")
    assert load_settings().lexicon is True


# --- issue 10, second round: one vote per English word, sense choice by co-occurrence ----------


def test_translate_words_keeps_each_words_terms_apart() -> None:
    translator = Translator(small_lexicon(), per_word=2)
    words = translator.translate_words("fee residents")
    assert [w for w, _ in words] == ["fee", lemma("resident")]
    assert [t.term for t in words[1][1]] == ["住民", "地域住民"]
    assert all(terms[0].weight == 1.0 for _, terms in words)  # each word's best term weighs 1


def test_max_aggregation_counts_a_word_once_per_passage(tiny_bm25) -> None:
    """With "max", a word whose two translations both occur in a passage adds its best one's
    score, not the sum: a word with many synonyms in the corpus no longer outvotes the others."""
    terms = (WeightedTerm("住民", ("住民",), 1.0), WeightedTerm("地域", ("地域",), 1.0))
    prepared = QueryTerms("residents", terms, (("resident", terms),))
    summed = CrossLingual(None, tiny_bm25, CrossLingualOptions(bm25_weight=1.0))
    best = CrossLingual(None, tiny_bm25, CrossLingualOptions(bm25_weight=1.0, word_aggregate="max"))
    tokens = TokenScores(tiny_bm25)
    one = tokens.weighted(terms[:1])
    two = tokens.weighted(terms[1:])
    assert np.allclose(summed.lexical(np.zeros(3), prepared), one + two)
    assert np.allclose(best.lexical(np.zeros(3), prepared), np.maximum(one, two))


def test_prepare_keeps_the_words_only_when_max_aggregation_needs_them() -> None:
    translator = Translator(small_lexicon())
    summed = CrossLingual(translator, None, CrossLingualOptions(bm25_weight=1.0))
    best = CrossLingual(
        translator, None, CrossLingualOptions(bm25_weight=1.0, word_aggregate="max")
    )
    a, b = summed.prepare("fee deposits", "en", None), best.prepare("fee deposits", "en", None)
    assert a is not None and b is not None
    assert a.terms == b.terms and a.words == ()
    assert [w for w, _ in b.words] == ["fee", lemma("deposit")]


def test_cohesion_prefers_the_translation_that_shares_a_passage_with_the_other_words() -> None:
    """ "resident" has two translations; 住民 shares a passage with 更新 ("renewal"), 地域住民
    shares none with it, so co-occurrence ranks 住民 first even with idf ignored."""
    lexicon = small_lexicon()
    plain = Translator(lexicon, per_word=2, idf_power=0.0)
    cohesive = Translator(lexicon, per_word=2, idf_power=0.0, cohesion=1.0)
    assert plain._cohesion([[(0, 1.0)]])[0].tolist() == [1.0]  # one word: nothing to agree with
    words = dict(cohesive.translate_words("residents renewal"))
    resident = {t.term: t.weight for t in words[lemma("resident")]}
    assert resident["住民"] == 1.0
    assert resident.get("地域住民", 0.0) == 0.0  # shares no passage with 更新: weight 1 - c = 0
