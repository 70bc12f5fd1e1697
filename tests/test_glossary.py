"""Tests for service.glossary: query expansion rules, TSV validation and the shipped glossary."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from service.glossary import (
    DEFAULT_GLOSSARY_PATH,
    Glossary,
    GlossaryEntry,
    GlossaryError,
    load_glossary,
    normalize,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "glossary" / "en_ja.tsv"


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return load_glossary(SHIPPED)


def appended(glossary: Glossary, query: str) -> list[str]:
    expanded = glossary.expand(query)
    assert expanded.startswith(query)
    return expanded[len(query) :].split()


def write_tsv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "glossary.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# --- the shipped file -------------------------------------------------------------------------


def test_shipped_file_is_default_and_loads_with_at_least_200_entries(glossary: Glossary) -> None:
    assert DEFAULT_GLOSSARY_PATH == SHIPPED
    # A curated list of the field's terms, not a dictionary (the JMdict lexicon is that).
    assert 200 <= len(glossary) <= 400
    assert all(entry.japanese for entry in glossary.entries)


def test_shipped_file_has_header_and_no_duplicate_english_keys() -> None:
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "english\tjapanese\tromaji"
    english = [line.split("\t")[0] for line in lines[1:] if line.strip()]
    assert len(english) == len(set(english))
    folded = [normalize(term) for term in english]
    assert len(folded) == len(set(folded)), "two English keys differ only in case/spelling"


# --- abbreviations and official terms ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("What is SSW?", "特定技能"),
        ("TITP reform", "技能実習制度"),
        ("Where is FRESC?", "外国人在留支援センター"),
        ("cooperation with UNHCR", "国連難民高等弁務官事務所"),
        ("How long is a COE valid?", "在留資格認定証明書"),
        ("OTIT inspections", "外国人技能実習機構"),
        ("refugee status determination", "難民認定"),
        ("complementary protection", "補完的保護"),
        ("third country resettlement", "第三国定住"),
        ("provisional release of detainees", "仮放免"),
        ("bilateral memorandum of cooperation with brokers", "二国間取決め"),
        ("revenue stamp or cashless payment", "収入印紙"),
        ("Nikkei fourth generation", "日系四世"),
        ("easy Japanese", "やさしい日本語"),
        ("My Number", "マイナンバー"),
    ],
)
def test_english_terms_and_abbreviations_expand(glossary: Glossary, query: str, term: str) -> None:
    assert term in appended(glossary, query)


def test_expand_keeps_query_first_and_matches_reports_headwords(glossary: Glossary) -> None:
    query = "Is the FRESC one-stop consultation center in Tokyo?"
    assert glossary.expand(query).startswith(query + " ")
    assert glossary.matches(query) == ["FRESC", "one-stop consultation center"]


# --- romaji -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["tokutei ginou", "tokutei gino", "tokutei ginō", "TOKUTEI GINÔ", "tokuteiginou"]
)
def test_romaji_with_and_without_long_vowel_marks(glossary: Glossary, query: str) -> None:
    assert "特定技能" in appended(glossary, query)


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("karihōmen", "仮放免"),
        ("karihomen", "仮放免"),
        ("zairyū kādo", "在留カード"),
        ("zairyu kado", "在留カード"),
        ("eijusha", "永住者"),
        ("tabunka kyōsei", "多文化共生"),
        ("kentouchu", "検討中"),  # long and short vowels mixed within one word
        ("nanmin nintei", "難民認定"),
    ],
)
def test_romaji_variants(glossary: Glossary, query: str, term: str) -> None:
    assert term in appended(glossary, query)


# --- plurals, spelling, hyphens ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("refugees", "難民"),
        ("residence cards", "在留カード"),
        ("supervising organizations", "監理団体"),
        ("technical intern trainees", "技能実習生"),
        ("children", "子ども"),
        ("designated activity", "特定活動"),  # singular of a plural key
        ("refugee's rights", "難民"),
    ],
)
def test_plurals_and_possessives(glossary: Glossary, query: str, term: str) -> None:
    assert term in appended(glossary, query)


def test_british_and_american_spellings_and_hyphens_are_equivalent(glossary: Glossary) -> None:
    variants = [
        "one-stop consultation centre",
        "one stop consultation center",
        "One-Stop Consultation Centres",
    ]
    for query in variants:
        assert glossary.matches(query) == ["one-stop consultation center"]
    assert "トラスティド・トラベラー・プログラム" in appended(
        glossary, "trusted traveller programme"
    )
    assert "外国人技能実習機構" in appended(glossary, "Organisation for Technical Intern Training")
    assert "厚生労働省" in appended(glossary, "Ministry of Health, Labour and Welfare")


# --- longest match and boundaries -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "specified skilled worker (ii)",
        "Specified Skilled Worker (II)",
        "specified skilled workers ii",
        "specified skilled worker No. 2",
        "specified-skilled-worker-2",
    ],
)
def test_longest_match_wins(glossary: Glossary, query: str) -> None:
    assert glossary.matches(query) == ["specified skilled worker (ii)"]
    terms = appended(glossary, query)
    assert "特定技能２号" in terms
    assert "特定技能外国人" not in terms  # the shorter entries did not fire


@pytest.mark.parametrize("query", ["SSW (ii)", "ssw ii", "SSW-II", "ssw2", "SSW No.2"])
def test_ssw_ii_abbreviation_variants(glossary: Glossary, query: str) -> None:
    assert glossary.matches(query) == ["SSW (ii)"]


def test_skilled_worker_alone_matches_shorter_entry(glossary: Glossary) -> None:
    assert glossary.matches("skilled worker visa") == ["skilled worker", "visa"]


def test_status_vocabulary(glossary: Glossary) -> None:
    for query in ("in progress", "ongoing", "underway", "being implemented"):
        assert appended(glossary, f"measures {query}")[-1] == "実施中", query
    for query in ("implemented", "completed"):
        assert "実施済み" in appended(glossary, f"which are {query}?"), query
    for query in ("under consideration", "under review", "being considered"):
        assert "検討中" in appended(glossary, f"items {query}"), query


def test_word_boundaries(glossary: Glossary) -> None:
    assert glossary.expand("visage metadata") == "visage metadata"  # not "visa", not "ETA"
    assert glossary.matches("FRESCの相談窓口") == ["FRESC"]  # Japanese next to Latin is a boundary


# --- unchanged queries and duplicates ---------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["特定技能２号の対象分野は何ですか", "２０２４年度の実施状況", "", "   ", "?!"]
)
def test_queries_without_latin_letters_are_unchanged(glossary: Glossary, query: str) -> None:
    assert glossary.expand(query) == query
    assert glossary.matches(query) == []


def test_unmatched_english_query_is_unchanged(glossary: Glossary) -> None:
    assert glossary.expand("what happened last Tuesday") == "what happened last Tuesday"


def test_no_duplicate_terms_appended(glossary: Glossary) -> None:
    terms = appended(glossary, "SSW, ssw and specified skilled workers (tokutei ginou)")
    assert len(terms) == len(set(terms))
    assert terms.count("特定技能") == 1


def test_terms_already_in_query_are_not_appended(glossary: Glossary) -> None:
    assert "特定技能" not in appended(glossary, "SSW 特定技能")


# --- Glossary built in code -------------------------------------------------------------------


def test_glossary_from_entries_shares_romaji_and_is_frozen() -> None:
    glossary = Glossary(
        (
            GlossaryEntry("detention", ("収容",), ("shuuyou",)),
            GlossaryEntry("detainee", ("被収容者",), ("shuuyou",)),
        )
    )
    assert glossary.matches("shūyō") == ["detention", "detainee"]
    assert glossary.expand("shuyo") == "shuyo 収容 被収容者"
    with pytest.raises(dataclasses.FrozenInstanceError):
        glossary.entries = ()  # type: ignore[misc]
    assert Glossary(()).expand("anything") == "anything"


# --- malformed files --------------------------------------------------------------------------


def test_valid_small_file_with_comments_blank_lines_and_empty_romaji(tmp_path: Path) -> None:
    path = write_tsv(
        tmp_path,
        "english\tjapanese\tromaji",
        "# comment",
        "",
        "refugee\t難民|難民認定\tnanmin",
        "UNHCR\tＵＮＨＣＲ\t",
        "FRESC\t外国人在留支援センター",
    )
    glossary = load_glossary(path)
    assert len(glossary) == 3
    assert glossary.entries[0] == GlossaryEntry("refugee", ("難民", "難民認定"), ("nanmin",))
    assert glossary.expand("nanmin") == "nanmin 難民 難民認定"


@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        (("english\tjapanese\tromaji", "refugee\t難民", "broken line"), 3, "columns"),
        (("english\tjapanese\tromaji", "a\tb\tc\td"), 2, "columns"),
        (("english\tjapanese\tromaji", "refugee\t|\tnanmin"), 2, "no Japanese"),
        (("english\tjapanese\tromaji", "難民\t難民"), 2, "no Latin"),
        (("english\tjapanese\tromaji", "centre\t中心", "Center\tセンター"), 3, "duplicate"),
        (("english\tjapanese", "refugee\t難民"), 1, "header"),
    ],
)
def test_malformed_lines_raise_with_file_and_line(
    tmp_path: Path, rows: tuple[str, ...], line: int, message: str
) -> None:
    path = write_tsv(tmp_path, *rows)
    with pytest.raises(GlossaryError, match=message) as info:
        load_glossary(path)
    assert info.value.line == line
    assert f"{path}:{line}:" in str(info.value)


def test_missing_or_empty_file_raises(tmp_path: Path) -> None:
    with pytest.raises(GlossaryError, match="cannot read"):
        load_glossary(tmp_path / "missing.tsv")
    with pytest.raises(GlossaryError, match="no header"):
        load_glossary(write_tsv(tmp_path, "", "# only a comment"))
