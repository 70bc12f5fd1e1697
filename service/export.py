"""Export measures and passages (optionally with their vectors) as JSONL, CSV or Parquet.

One table, one row per record: ``kind`` is "measure" or "passage". Every row carries its
measure's number and status; measure rows carry the three texts, passage rows their field,
offsets into that field and their text. With vectors, ``embedding`` is the dense model's
vector (whole-measure vector for measure rows, passage vector for passage rows).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from service.errors import InvalidRequest
from service.index import LoadedIndex
from service.research import measure_vectors, passage_vectors
from service.user_files import written_whole

logger = logging.getLogger(__name__)

ExportFormat = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv", "parquet")

COLUMNS = (
    "kind",
    "report_id",
    "report_title",
    "report_date",
    "number",
    "status",
    "status_en",
    "target",
    "explanation",
    "notes",
    "passage_id",
    "field",
    "start",
    "end",
    "text",
)


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    format: ExportFormat
    measures: int
    passages: int
    dimension: int | None  # vector size when vectors were written


def _report_columns(index: LoadedIndex, report_id: str) -> dict[str, str]:
    record = index.reports.get(report_id)
    return {
        "report_id": report_id,
        "report_title": record.title if record else "",
        "report_date": record.date if record else "",
    }


def export_rows(index: LoadedIndex, with_embeddings: bool = False) -> Iterator[dict[str, Any]]:
    """Every measure, then every passage, as flat dicts with the ``COLUMNS`` keys."""
    m_vectors = measure_vectors(index) if with_embeddings else None
    p_vectors = passage_vectors(index) if with_embeddings else None
    by_key = {m.key: m for m in index.measures}
    for row, m in enumerate(index.measures):
        record: dict[str, Any] = {
            "kind": "measure",
            **_report_columns(index, m.report),
            "number": m.number,
            "status": m.status,
            "status_en": m.status_en,
            "target": m.target,
            "explanation": m.explanation,
            "notes": m.notes,
            "passage_id": None,
            "field": None,
            "start": None,
            "end": None,
            "text": None,
        }
        if m_vectors is not None:
            record["embedding"] = [float(v) for v in m_vectors[row]]
        yield record
    for row, p in enumerate(index.passages):
        owner = by_key[p.measure_key]
        record = {
            "kind": "passage",
            **_report_columns(index, p.report),
            "number": p.measure,
            "status": owner.status,
            "status_en": owner.status_en,
            "target": None,
            "explanation": None,
            "notes": None,
            "passage_id": p.id,
            "field": p.field,
            "start": p.start,
            "end": p.end,
            "text": p.text,
        }
        if p_vectors is not None:
            record["embedding"] = [float(v) for v in p_vectors[row]]
        yield record


def export(index: LoadedIndex, fmt: str, out: Path, with_embeddings: bool = False) -> ExportSummary:
    """Write the export to ``out`` in format ``fmt``; return what was written."""
    if fmt not in FORMATS:
        raise InvalidRequest(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out)
    rows = list(export_rows(index, with_embeddings))
    writer = {"jsonl": _write_jsonl, "csv": _write_csv, "parquet": _write_parquet}[fmt]
    with written_whole(out) as temporary:
        writer(rows, temporary, with_embeddings)
    dimension = index.dense_measures.d if with_embeddings else None
    summary = ExportSummary(
        path=out,
        format=fmt,
        measures=len(index.measures),
        passages=len(index.passages),
        dimension=dimension,
    )
    logger.info(
        "exported %d measures and %d passages to %s", summary.measures, summary.passages, out
    )
    return summary


def _write_jsonl(rows: list[dict[str, Any]], out: Path, with_embeddings: bool) -> None:
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_csv(rows: list[dict[str, Any]], out: Path, with_embeddings: bool) -> None:
    columns = list(COLUMNS) + (["embedding"] if with_embeddings else [])
    # utf-8-sig: spreadsheet programs then read the Japanese text correctly.
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            flat = {key: ("" if row.get(key) is None else row[key]) for key in columns}
            if with_embeddings:
                flat["embedding"] = json.dumps(row["embedding"])
            writer.writerow(flat)


def _write_parquet(rows: list[dict[str, Any]], out: Path, with_embeddings: bool) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise InvalidRequest("Parquet export needs pyarrow; `pip install pyarrow`") from exc
    fields = [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("number", pa.int32(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("status_en", pa.string(), nullable=False),
        pa.field("target", pa.string()),
        pa.field("explanation", pa.string()),
        pa.field("notes", pa.string()),
        pa.field("passage_id", pa.int32()),
        pa.field("field", pa.string()),
        pa.field("start", pa.int32()),
        pa.field("end", pa.int32()),
        pa.field("text", pa.string()),
    ]
    if with_embeddings:
        fields.append(pa.field("embedding", pa.list_(pa.float32())))
    schema = pa.schema(fields)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, out)
