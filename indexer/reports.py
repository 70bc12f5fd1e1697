"""A corpus of reports: one folder per report under data/reports/, its source file and metadata."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date as Date
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indexer.checksum import sha256_file
from indexer.errors import ReportFileError
from indexer.records import Measure

logger = logging.getLogger(__name__)

METADATA_FILE = "report.json"
SOURCE_SUFFIXES = (".txt", ".pdf")  # what a report's source file may be
_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,79}$"
_DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"  # 2024, 2024-12 or 2024-12-05


class ReportMeta(BaseModel):
    """What ``report.json`` says of one report. ``series`` groups the editions of one report;
    the edition with the latest (date, edition) is the one searched by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    series: str = Field(pattern=_ID_PATTERN)
    title: str = Field(min_length=1, max_length=500)
    issuer: str = ""
    date: str = Field(pattern=_DATE_PATTERN)
    edition: int = Field(default=1, ge=1)
    source: str = Field(min_length=1)  # the source file's name, in the report's folder
    source_url: str | None = None
    licence: str = ""
    notes: str = ""  # provenance remarks (how the date was found, …)


@dataclass(frozen=True)
class CorpusReport:
    """One report of the corpus: its metadata and where its source file is."""

    meta: ReportMeta
    source: Path

    @property
    def id(self) -> str:
        return self.meta.id


def slug(text: str) -> str:
    """A report id made from free text: lower-case ASCII letters, digits and hyphens."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:60] or "report"


def read_metadata(folder: Path) -> ReportMeta:
    """The validated ``report.json`` of a report folder; ReportFileError says what is wrong."""
    path = folder / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportFileError(f"{path} is missing (every report folder needs one)") from None
    except (OSError, ValueError) as exc:
        raise ReportFileError(f"{path} is not readable JSON ({exc})") from None
    try:
        meta = ReportMeta.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "the file"
        raise ReportFileError(f"{path}: field {where!r}: {error['msg']}") from None
    if meta.id != folder.name:
        raise ReportFileError(f"{path}: id {meta.id!r} is not the folder's name {folder.name!r}")
    if Path(meta.source).name != meta.source or Path(meta.source).suffix not in SOURCE_SUFFIXES:
        raise ReportFileError(
            f"{path}: source {meta.source!r} must be a .txt or .pdf file name in the folder"
        )
    if not (folder / meta.source).is_file():
        raise ReportFileError(f"{path}: source file {meta.source} is missing")
    return meta


def read_corpus(path: Path) -> list[CorpusReport]:
    """The reports of a corpus: a folder of report folders (``data/reports``), one report
    folder, or a single report file (.txt or .pdf) taken as a report of its own."""
    path = Path(path)
    if path.is_file():
        return [_single_file(path)]
    if not path.is_dir():
        raise ReportFileError(f"corpus {path} not found (set SHISAKU_CORPUS)")
    if (path / METADATA_FILE).is_file():
        meta = read_metadata(path)
        return [CorpusReport(meta, path / meta.source)]
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    reports = [
        CorpusReport(meta, folder / meta.source)
        for folder in folders
        if (folder / METADATA_FILE).is_file()
        for meta in [read_metadata(folder)]
    ]
    if not reports:
        raise ReportFileError(
            f"corpus {path} holds no report (no */{METADATA_FILE}); add one with `shisaku add FILE`"
        )
    return reports


def _single_file(path: Path) -> CorpusReport:
    if path.suffix.lower() not in SOURCE_SUFFIXES:
        raise ReportFileError(f"{path} is not a .txt or .pdf report file")
    meta = ReportMeta(
        id=slug(path.stem),
        series=slug(path.stem),
        title=path.stem,
        date="0000",
        source=path.name,
        notes="a single report file given as the corpus; no metadata",
    )
    return CorpusReport(meta, path)


def read_measures(report: CorpusReport) -> list[Measure]:
    """The measures of one report (text or PDF), each labelled with the report's id."""
    measures, _ = _read_source(report.source)
    return [replace(m, report=report.id) for m in measures]


def _read_source(file: Path) -> tuple[list[Measure], str]:
    """The measures of a report file (text or PDF) and its text (a PDF's extracted once)."""
    if file.suffix.lower() == ".pdf":
        from indexer.pdf_text import extract_pdf_text, parse_pdf_text

        pdf = extract_pdf_text(file)
        return parse_pdf_text(pdf, file), pdf.text
    from indexer.parse import parse_report, read_report_text

    text = read_report_text(file)
    return parse_report(text, source=str(file)), text


def read_all_measures(reports: Sequence[CorpusReport]) -> list[Measure]:
    """Every measure of every report, report by report."""
    ids = [r.id for r in reports]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ReportFileError(f"report id {duplicates[0]!r} is used twice in the corpus")
    return [m for report in reports for m in read_measures(report)]


class Edition(Protocol):
    """What orders the editions of a series (ReportMeta and the manifest's records have it)."""

    id: str
    series: str
    date: str
    edition: int


def edition_order(meta: Edition) -> tuple[str, int]:
    """Editions of a series sort by this: date, then edition number."""
    return (meta.date, meta.edition)


def latest_editions(metas: Iterable[Edition]) -> frozenset[str]:
    """The id of the latest edition of each series."""
    latest: dict[str, Edition] = {}
    for meta in metas:
        best = latest.get(meta.series)
        if best is None or edition_order(meta) > edition_order(best):
            latest[meta.series] = meta
    return frozenset(meta.id for meta in latest.values())


def corpus_fingerprint(reports: Sequence[CorpusReport]) -> str:
    """One checksum over every report's metadata and source file: the index is stale when
    it changes."""
    digest = hashlib.sha256()
    for report in sorted(reports, key=lambda r: r.id):
        digest.update(report.meta.model_dump_json().encode("utf-8"))
        digest.update(sha256_file(report.source).encode("ascii"))
    return digest.hexdigest()


def report_records(
    reports: Sequence[CorpusReport], measures: Sequence[Measure]
) -> list[dict[str, object]]:
    """What the index manifest lists of each report: its metadata, source checksum and size."""
    counts: dict[str, int] = {}
    for measure in measures:
        counts[measure.report] = counts.get(measure.report, 0) + 1
    return [
        {
            **report.meta.model_dump(),
            "source_sha256": sha256_file(report.source),
            "measures": counts.get(report.id, 0),
        }
        for report in reports
    ]


def _title_of(measures_text: str, fallback: str) -> str:
    """The report's title from its repeated page header, else ``fallback``."""
    lines = [line.strip() for line in measures_text.splitlines()[:40] if line.strip()]
    for i, line in enumerate(lines):
        if line.endswith("施策の実施状況"):
            before = lines[i - 1] if i and lines[i - 1].endswith("策定後に") else ""
            return before + line
    return fallback


def add_report(
    reports_dir: Path,
    file: Path,
    *,
    title: str | None = None,
    date: str | None = None,
    issuer: str = "",
    edition: int | None = None,
    series: str | None = None,
    source_url: str | None = None,
    licence: str = "",
    report_id: str | None = None,
    today: Date | None = None,
) -> ReportMeta:
    """Copy ``file`` (text or PDF) into a new folder of ``reports_dir`` with its metadata.

    The file is parsed first: a file that is not a report raises (ParseError naming the page
    and line, or ReportFileError) and nothing is added. A title equal to an existing report's
    title continues that report's series as its next edition. The folder appears whole or
    not at all (written aside, then renamed).
    """
    file = Path(file)
    for name, value, pattern, form in (
        ("date", date, _DATE_PATTERN, "YYYY, YYYY-MM or YYYY-MM-DD"),
        ("id", report_id, _ID_PATTERN, "lower-case letters, digits, '.', '_' and '-'"),
        ("series", series, _ID_PATTERN, "lower-case letters, digits, '.', '_' and '-'"),
    ):
        if value is not None and not re.match(pattern, value):
            raise ReportFileError(f"the report's {name} must be {form} (got {value!r})")
    if file.is_dir():
        raise ReportFileError(f"{file} is a directory; give one report file (.txt or .pdf)")
    if not file.is_file():
        raise ReportFileError(f"{file} not found")
    suffix = file.suffix.lower()
    if suffix not in SOURCE_SUFFIXES:
        raise ReportFileError(f"{file} is not a .txt or .pdf file")
    reports_dir = Path(reports_dir)
    existing = (
        read_corpus(reports_dir) if reports_dir.is_dir() and any(reports_dir.iterdir()) else []
    )
    checksum = sha256_file(file)
    for report in existing:
        if sha256_file(report.source) == checksum:
            raise ReportFileError(f"{file} is already in the corpus as report {report.id!r}")
    measures, text = _read_source(file)  # raises before anything is written
    if title is None:
        title = _title_of(text, file.stem)
    same_title = [r.meta for r in existing if r.meta.title == title]
    if series is None:
        series = same_title[0].series if same_title else slug(report_id or file.stem)
    in_series = [r.meta for r in existing if r.meta.series == series]
    if edition is None:
        edition = max((m.edition for m in in_series), default=0) + 1
    if in_series:  # a new edition keeps its series' publisher and terms unless told otherwise
        previous = max(in_series, key=edition_order)
        issuer = issuer or previous.issuer
        licence = licence or previous.licence
    notes = ""
    if date is None:
        date = (today or Date.today()).isoformat()
        notes = "date: the day the report was added (no --date given)"
    report_id = report_id or f"{series}-{date}"
    taken = {r.id for r in existing}
    if report_id in taken:
        if report_id == f"{series}-{date}":
            report_id = f"{series}-{date}-ed{edition}"
        if report_id in taken:
            raise ReportFileError(f"report {report_id!r} already exists; give another --id")
    try:
        meta = ReportMeta(
            id=report_id,
            series=series,
            title=title,
            issuer=issuer,
            date=date,
            edition=edition,
            source=f"source{suffix}",
            source_url=source_url,
            licence=licence,
            notes=notes,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ReportFileError(f"the report's {error['loc'][0]}: {error['msg']}") from None
    _write_report_folder(reports_dir, meta, file)
    logger.info("added report %s (%d measures) to %s", meta.id, len(measures), reports_dir)
    return meta


def _write_report_folder(reports_dir: Path, meta: ReportMeta, file: Path) -> None:
    reports_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".add-{meta.id}-", dir=reports_dir))
    try:
        shutil.copyfile(file, staging / meta.source)
        (staging / METADATA_FILE).write_text(
            json.dumps(meta.model_dump(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        os.rename(staging, reports_dir / meta.id)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ReportFileError(f"could not add the report to {reports_dir}: {exc}") from exc


def remove_report_folder(reports_dir: Path, report_id: str) -> None:
    """Remove a report added by :func:`add_report` (used to undo an add whose rebuild failed)."""
    folder = Path(reports_dir) / report_id
    if (folder / METADATA_FILE).is_file():
        shutil.rmtree(folder)
