"""Many reports: the corpus folders, adding a report, the index's reports, scope, history, diff."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ROOT
from pdf_fixtures import (
    REPORT_TEXT,
    SECOND_EDITION,
    second_edition_text,
    write_other_document_pdf,
    write_report_pdf,
)

from indexer.errors import ParseError, ReportFileError
from indexer.passages import split_passages
from indexer.records import Measure
from indexer.reports import (
    METADATA_FILE,
    add_report,
    latest_editions,
    read_all_measures,
    read_corpus,
    read_measures,
)

DEFAULT_REPORT = "isa-7th-roundtable-status-2024"
SECOND = "isa-7th-roundtable-status-2025-06"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the default corpus (today's report) in a folder of its own."""
    folder = tmp_path / "reports"
    shutil.copytree(ROOT / "data" / "reports", folder)
    return folder


@pytest.fixture(scope="module")
def second_text() -> str:
    return second_edition_text(REPORT_TEXT.read_text(encoding="utf-8"))


@pytest.fixture
def second_file(tmp_path: Path, second_text: str) -> Path:
    path = tmp_path / "second-edition.txt"
    path.write_text(second_text, encoding="utf-8")
    return path


# ---- the corpus ---------------------------------------------------------------------------


def test_the_default_corpus_is_todays_report_with_its_provenance() -> None:
    reports = read_corpus(ROOT / "data" / "reports")
    assert [r.id for r in reports] == [DEFAULT_REPORT]
    meta = reports[0].meta
    assert meta.title.endswith("施策の実施状況") and meta.issuer.startswith("出入国在留管理庁")
    assert meta.date == "2024" and meta.edition == 1 and meta.licence
    measures = read_all_measures(reports)
    assert len(measures) == 33 and {m.report for m in measures} == {DEFAULT_REPORT}


def test_a_single_report_file_is_a_corpus_of_one(second_file: Path) -> None:
    (report,) = read_corpus(second_file)
    assert report.id == "second-edition" and report.source == second_file


def test_a_report_folder_with_bad_metadata_is_named(corpus: Path) -> None:
    meta = corpus / DEFAULT_REPORT / METADATA_FILE
    data = json.loads(meta.read_text(encoding="utf-8"))
    meta.write_text(json.dumps({**data, "date": "last spring"}), encoding="utf-8")
    with pytest.raises(ReportFileError, match="date"):
        read_corpus(corpus)
    meta.write_text(json.dumps({**data, "id": "other"}), encoding="utf-8")
    with pytest.raises(ReportFileError, match="not the folder's name"):
        read_corpus(corpus)


def test_an_empty_corpus_says_how_to_add_a_report(tmp_path: Path) -> None:
    with pytest.raises(ReportFileError, match="shisaku add"):
        read_corpus(tmp_path)


# ---- adding a report ----------------------------------------------------------------------


def test_a_report_with_the_same_title_is_the_next_edition_of_its_series(
    corpus: Path, second_file: Path
) -> None:
    meta = add_report(corpus, second_file, date="2025-06")
    assert meta.id == SECOND and meta.series == "isa-7th-roundtable-status"
    assert meta.edition == 2 and meta.issuer.startswith("出入国在留管理庁")  # kept from the series
    assert (corpus / SECOND / "source.txt").read_bytes() == second_file.read_bytes()
    reports = read_corpus(corpus)
    assert latest_editions(r.meta for r in reports) == {SECOND}
    statuses = {m.number: m.status for m in read_all_measures(reports) if m.report == SECOND}
    for number, new in SECOND_EDITION.statuses.items():
        assert statuses[number] == new


def test_a_pdf_is_added_like_its_text(corpus: Path, tmp_path: Path, second_text: str) -> None:
    pdf = write_report_pdf(second_text, tmp_path / "second.pdf")
    meta = add_report(corpus, pdf, date="2025-06", source_url="https://example.invalid/2.pdf")
    assert meta.source == "source.pdf" and meta.edition == 2
    pdf_measures = [m for m in read_all_measures(read_corpus(corpus)) if m.report == meta.id]
    text = tmp_path / "second.txt"
    text.write_text(second_text, encoding="utf-8")
    assert [(m.number, m.status, m.explanation) for m in pdf_measures] == [
        (m.number, m.status, m.explanation) for m in read_all_measures(read_corpus(text))
    ]


def test_adding_a_pdf_reads_its_text_once(
    corpus: Path, tmp_path: Path, second_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import indexer.pdf_text

    pdf = write_report_pdf(second_text, tmp_path / "second.pdf")
    calls: list[Path] = []
    extract = indexer.pdf_text.extract_pdf_text

    def counted(path: Path) -> indexer.pdf_text.PdfText:
        calls.append(path)
        return extract(path)

    monkeypatch.setattr(indexer.pdf_text, "extract_pdf_text", counted)
    meta = add_report(corpus, pdf, date="2025-06")
    assert calls == [pdf]
    assert meta.title != pdf.stem  # the title still comes from the extracted text


def test_a_file_that_is_not_a_report_adds_nothing(corpus: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in corpus.iterdir())
    other = write_other_document_pdf(tmp_path / "minutes.pdf")
    with pytest.raises(ParseError, match=r"page 1, line 1"):
        add_report(corpus, other)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(ReportFileError):
        add_report(corpus, broken)
    with pytest.raises(ReportFileError, match="not found"):
        add_report(corpus, tmp_path / "missing.txt")
    with pytest.raises(ReportFileError, match="is a directory; give one report file"):
        add_report(corpus, tmp_path)
    docx = tmp_path / "notes.docx"
    docx.write_bytes(b"PK")
    with pytest.raises(ReportFileError, match=r"\.txt or \.pdf"):
        add_report(corpus, docx)
    assert sorted(p.name for p in corpus.iterdir()) == before  # no folder, no staging left


def test_the_same_file_twice_is_refused(corpus: Path) -> None:
    with pytest.raises(ReportFileError, match="already in the corpus"):
        add_report(corpus, REPORT_TEXT)


def test_bad_metadata_on_the_command_line_adds_nothing(corpus: Path, second_file: Path) -> None:
    with pytest.raises(ReportFileError, match="date"):
        add_report(corpus, second_file, date="June")
    assert sorted(p.name for p in corpus.iterdir()) == [DEFAULT_REPORT]


# ---- history and diff (pure logic over parsed measures) -------------------------------------


def _editions(second_text: str) -> tuple[list[Measure], list[Measure]]:
    from indexer.parse import parse_report

    old = read_all_measures(read_corpus(ROOT / "data" / "reports"))
    new = [replace(m, report=SECOND) for m in parse_report(second_text, "second")]
    return old, new


def test_diff_lists_status_changes_and_reworded_explanations(second_text: str) -> None:
    from service.history import diff_reports

    old, new = _editions(second_text)
    diff = diff_reports(DEFAULT_REPORT, old, SECOND, new)
    assert {b.number: b.status for _, b in diff.status_changed} == SECOND_EDITION.statuses
    assert [b.number for _, b in diff.text_changed] == [4]
    assert diff.added == () and diff.removed == ()


def test_diff_follows_a_renumbered_measure_and_reports_added_and_removed(
    second_text: str,
) -> None:
    from service.history import diff_reports

    old, new = _editions(second_text)
    # The new edition drops measure 33 and numbers measure 32 as 40.
    new = [replace(m, number=40) if m.number == 32 else m for m in new if m.number != 33]
    diff = diff_reports(DEFAULT_REPORT, old, SECOND, new)
    assert [m.number for m in diff.removed] == [33]
    assert diff.added == ()
    moved = [b for a, b in diff.text_changed + diff.status_changed if a.number == 32]
    assert moved == [] and not any(m.number == 32 for m in diff.removed)


def test_history_is_oldest_first_with_the_sentences_that_changed(second_text: str) -> None:
    from indexer.manifest import ReportRecord
    from service.history import measure_history

    old, new = _editions(second_text)
    reports = {
        DEFAULT_REPORT: ReportRecord(
            id=DEFAULT_REPORT,
            series="s",
            title="t",
            date="2024",
            edition=1,
            source_sha256="0" * 64,
            measures=33,
        ),
        SECOND: ReportRecord(
            id=SECOND,
            series="s",
            title="t",
            date="2025-06",
            edition=2,
            source_sha256="1" * 64,
            measures=33,
        ),
    }
    latest = next(m for m in new if m.number == 1)
    history = measure_history(old + new, reports, latest)
    assert [e.measure.report for e in history.entries] == [DEFAULT_REPORT, SECOND]
    assert history.entries[0].changes == ()
    kinds = [c.kind for c in history.entries[1].changes]
    assert kinds[0] == "status" and history.entries[1].changes[0].text == "実施中 → 実施済み"
    assert "removed" in kinds and "added" in kinds
    added = [c.text for c in history.entries[1].changes if c.kind == "added"]
    assert any("本格導入を決定した。" in text for text in added)
    # Asked from the older edition, the history is the same.
    first = next(m for m in old if m.number == 1)
    assert measure_history(old + new, reports, first) == history


@pytest.mark.parametrize(
    ("question", "into"),
    [
        ("この1年で実施済みになった施策は?", ("実施済み",)),
        ("前回の報告から実施済みになった施策はどれ?", ("実施済み",)),
        ("Which measures moved to implemented since the last report?", ("実施済み",)),
        ("Which measures changed status?", ()),
        ("ステータスが変わった施策は?", ()),
    ],
)
def test_questions_about_change_are_read(question: str, into: tuple[str, ...]) -> None:
    from service.history import read_change_question

    asked = read_change_question(question)
    assert asked is not None and asked.into == into


@pytest.mark.parametrize(
    "question",
    [
        "新たに追加された分野は?",
        "Which fields were newly added to Specified Skilled Worker (ii)?",
        "特定技能2号の分野は?",
        "What became of the refugee measures?",
        "難民の施策は実施済みになった?",
    ],
)
def test_topical_questions_are_not_questions_about_change(question: str) -> None:
    from service.history import read_change_question

    assert read_change_question(question) is None


# ---- the index of two editions (fake encoder: logic only) -----------------------------------


@pytest.fixture(scope="module")
def two_editions(tmp_path_factory: pytest.TempPathFactory, fake_encoder):
    """Today's report and a derived second edition, indexed with the fake encoder."""
    from indexer.build import build_index
    from service.config import Settings
    from service.engine import load_engine

    home = tmp_path_factory.mktemp("two-editions")
    corpus = home / "reports"
    shutil.copytree(ROOT / "data" / "reports", corpus)
    second = home / "second.txt"
    second.write_text(second_edition_text(REPORT_TEXT.read_text(encoding="utf-8")), "utf-8")
    add_report(corpus, second, date="2025-06")
    settings = Settings(
        corpus=corpus,
        index_dir=home / "index",
        model_cache=home / "no-models",
        glossary=ROOT / "data" / "glossary" / "en_ja.tsv",
        second_encoder="none",
        vector_cache=home / "vectors",
    )
    counting = CountingEncoder(fake_encoder)
    manifest = build_index(
        corpus, settings.index_dir, counting, None, vector_cache=home / "vectors"
    )
    engine = load_engine(settings, encoders=(fake_encoder, None))
    return settings, engine, manifest, counting


class CountingEncoder:
    """The fake encoder, counting the texts it embeds (to see the vector cache work)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dimension, self.fingerprint = inner.name, inner.dimension, inner.fingerprint
        self.path = inner.path
        self.embedded = 0

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts):
        self.embedded += len(texts)
        return self.inner.encode_passages(texts)


def test_the_manifest_lists_every_report_with_its_checksum(two_editions) -> None:
    from indexer.manifest import sha256_file

    settings, _, manifest, _ = two_editions
    listed = {r["id"]: r for r in manifest["reports"]}
    assert set(listed) == {DEFAULT_REPORT, SECOND}
    for report in read_corpus(settings.corpus):
        assert listed[report.id]["source_sha256"] == sha256_file(report.source)
        assert listed[report.id]["measures"] == 33
    assert manifest["counts"]["measures"] == 66


def test_a_rebuild_embeds_only_the_reports_that_changed(two_editions, tmp_path: Path) -> None:
    from indexer.build import build_index

    settings, _, _, first = two_editions
    assert first.embedded > 0
    again = CountingEncoder(first.inner)
    build_index(
        settings.corpus, tmp_path / "index", again, None, vector_cache=settings.vector_cache
    )
    assert again.embedded == 0  # nothing changed: every vector came from the cache
    third = tmp_path / "third.txt"
    third.write_text(
        second_edition_text(REPORT_TEXT.read_text(encoding="utf-8")).replace(
            "本格導入を決定した。", "本格導入を開始した。"
        ),
        "utf-8",
    )
    corpus = tmp_path / "reports"
    shutil.copytree(settings.corpus, corpus)
    meta = add_report(corpus, third, date="2026-06")
    once_more = CountingEncoder(first.inner)
    build_index(corpus, tmp_path / "index", once_more, None, vector_cache=settings.vector_cache)
    (report,) = [r for r in read_corpus(corpus) if r.id == meta.id]
    new_passages = split_passages(read_measures(report))
    # One new report: its 33 measures and its passages are embedded, nothing else.
    assert once_more.embedded == 33 + len(new_passages)


def test_search_covers_the_latest_edition_unless_told(two_editions) -> None:
    _, engine, _, _ = two_editions
    default = engine.search("特定技能2号の分野は?", k=50)
    assert {hit.measure.report for hit in default.results} == {SECOND}
    assert len(default.results) == 33
    everything = engine.search("特定技能2号の分野は?", k=50, editions="all")
    assert {hit.measure.report for hit in everything.results} == {DEFAULT_REPORT, SECOND}
    older = engine.search("特定技能2号の分野は?", k=5, reports=[DEFAULT_REPORT])
    assert {hit.measure.report for hit in older.results} == {DEFAULT_REPORT}
    statuses = {h.measure.number: h.measure.status for h in engine.search("手数料", k=50).results}
    assert statuses[3] == "実施中"  # the second edition's status


def test_an_unknown_report_or_editions_value_is_a_clear_error(two_editions) -> None:
    from service.errors import InvalidRequest, NotFound

    _, engine, _, _ = two_editions
    with pytest.raises(NotFound, match=f"unknown report 'nope'.*{DEFAULT_REPORT}"):
        engine.search("難民", reports=["nope"])
    with pytest.raises(InvalidRequest, match="editions"):
        engine.search("難民", editions="newest")


def test_a_measure_number_means_the_latest_edition_unless_a_report_is_named(
    two_editions,
) -> None:
    from service.errors import NotFound

    _, engine, _, _ = two_editions
    assert engine.get_measure(3).report == SECOND and engine.get_measure(3).status == "実施中"
    assert engine.get_measure(3, DEFAULT_REPORT).status == "検討中"
    with pytest.raises(NotFound):
        engine.get_measure(99)
    similar = engine.similar_measures(7, k=5)
    assert all(m.report == SECOND and m.number != 7 for m, _ in similar)


def test_change_questions_are_answered_from_the_editions(two_editions) -> None:
    from service.answer import answer_question

    _, engine, _, _ = two_editions
    answer = answer_question(engine, "この1年で実施済みになった施策は?")
    assert answer.answerable
    assert [c.number for c in answer.citations] == [1, 29]
    assert {c.report for c in answer.citations} == {SECOND}
    assert "実施中 → 実施済み" in answer.text and "本格導入を決定した" in answer.text
    assert [h.measure.number for h in answer.outcome.results] == [1, 29]
    english = answer_question(engine, "Which measures changed status?")
    assert [c.number for c in english.citations] == [1, 3, 20, 29]
    assert "under consideration → in progress" in english.text


def test_a_change_question_over_one_edition_says_so(fake_engine) -> None:
    from service.answer import answer_question

    answer = answer_question(fake_engine, "この1年で実施済みになった施策は?")
    assert not answer.answerable and "版が1つ" in answer.text and "shisaku add" in answer.text


def test_exports_name_the_report_of_every_row(two_editions) -> None:
    from service.export import export_rows

    _, engine, _, _ = two_editions
    rows = list(export_rows(engine.index))
    assert {row["report_id"] for row in rows} == {DEFAULT_REPORT, SECOND}
    assert all(row["report_date"] in ("2024", "2025-06") for row in rows)
