"""The index directory's contract: file names, the manifest (a validated schema) and checksums."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indexer.checksum import sha256_file

__all__ = ["sha256_file"]  # the one checksum of the index's files, re-exported

# 2: lexicon.json (English→Japanese terms from JMdict) in the index; 3: many reports (the
# manifest lists them; measures and passages carry their report's id).
SCHEMA_VERSION = 3
MANIFEST = "manifest.json"
MEASURES_FILE = "measures.json"
PASSAGES_FILE = "passages.json"
DENSE_PASSAGES = "dense_passages.faiss"
DENSE_MEASURES = "dense_measures.faiss"
SECOND_PASSAGES = "second_passages.faiss"
SECOND_MEASURES = "second_measures.faiss"
BM25_DIR = "bm25"
# The FAISS indexes of the vectors: exact (flat inner product, every row scored) or an HNSW
# graph (approximate top candidates; BENCHMARKS.md "Scale" says when it pays). A manifest
# without "faiss_index" is an exact index.
FAISS_KINDS = ("exact", "hnsw")
HNSW_M = 32  # graph neighbours per vector
HNSW_EF_CONSTRUCTION = 80
LEXICON_FILE = "lexicon.json"
# The report's SudachiPy analysis for the service (indexer/morphemes.py); optional: an index
# without it is analysed at start instead.
MORPHEMES_FILE = "morphemes.json"


class ModelRecord(BaseModel):
    """The model an index was embedded with."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    fingerprint: str = Field(min_length=1)
    dimension: int = Field(ge=1)


class Counts(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    measures: int = Field(ge=1)
    passages: int = Field(ge=1)


class ReportRecord(BaseModel):
    """One report of the index, as the manifest lists it (indexer.reports.ReportMeta plus
    its source checksum and its number of measures)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    series: str = Field(min_length=1)
    title: str = Field(min_length=1)
    date: str
    edition: int = Field(ge=1)
    source_sha256: str = Field(min_length=64, max_length=64)
    measures: int = Field(ge=1)


class Manifest(BaseModel):
    """What ``manifest.json`` must hold; anything else in it is kept but not required."""

    model_config = ConfigDict(extra="allow", frozen=True)

    schema_version: int
    corpus_sha256: str
    dense_model: ModelRecord
    second_model: ModelRecord | None = None
    build_id: str = Field(min_length=1)
    built_at: str
    counts: Counts
    reports: list[ReportRecord] = Field(min_length=1)
    files: dict[str, str] = Field(min_length=1)


class ManifestError(ValueError):
    """``manifest.json`` is missing, not JSON, or not of the expected shape."""


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The raw manifest of ``index_dir``, or None when it is missing or not a JSON object."""
    try:
        data = json.loads((Path(index_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_manifest_strict(index_dir: Path) -> dict[str, Any]:
    """The manifest of ``index_dir`` checked against the schema; ManifestError says why not."""
    path = Path(index_dir) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{MANIFEST} is missing") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{MANIFEST} is not readable JSON ({type(exc).__name__})") from None
    validate_manifest(data)
    return dict(data)


def validate_manifest(data: Any) -> Manifest:
    """``data`` checked against the schema; ManifestError names the first bad field."""
    if not isinstance(data, dict):
        raise ManifestError(f"{MANIFEST} is a JSON {type(data).__name__}, not an object")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or MANIFEST
        raise ManifestError(f"{MANIFEST} field {where!r}: {error['msg']}") from None


class Model(Protocol):
    """What the manifest records of an encoder (``indexer.embed.Encoder`` satisfies it)."""

    name: str
    dimension: int

    @property
    def fingerprint(self) -> str: ...


def encoder_record(
    encoder: Model | None, onnx: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """What the manifest says of a model; ``onnx`` maps a precision to its exported query
    model's sha256 (the index is stale when one changes)."""
    if encoder is None:
        return None
    record: dict[str, Any] = {
        "name": encoder.name,
        "fingerprint": encoder.fingerprint,
        "dimension": encoder.dimension,
    }
    if onnx:
        record["onnx"] = dict(onnx)
    return record


def faiss_record(kind: str) -> dict[str, Any]:
    """What the manifest says of the FAISS indexes' kind (and the HNSW graph's parameters)."""
    if kind == "hnsw":
        return {"kind": "hnsw", "M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION}
    return {"kind": "exact"}


def faiss_kind(manifest: dict[str, Any]) -> str:
    """The kind of FAISS index a manifest records (``exact`` when it says nothing)."""
    record = manifest.get("faiss_index")
    return str(record.get("kind", "exact")) if isinstance(record, dict) else "exact"


def expected_identity(
    corpus: Path,
    encoder: Model,
    second: Model | None,
    onnx: dict[str, str] | None = None,
    faiss_index: str = "exact",
) -> dict[str, Any]:
    """What a manifest must say for an index to be current for this corpus (its reports'
    metadata and sources), these models and this kind of FAISS index."""
    from indexer.reports import corpus_fingerprint, read_corpus

    return {
        "schema_version": SCHEMA_VERSION,
        "corpus_sha256": corpus_fingerprint(read_corpus(corpus)),
        "dense_model": encoder_record(encoder, onnx),
        "second_model": encoder_record(second),
        "faiss_index": faiss_record(faiss_index),
    }


def is_current(index_dir: Path, identity: dict[str, Any]) -> bool:
    manifest = read_manifest(index_dir)
    if manifest is None:
        return False
    wanted = identity.get("faiss_index", faiss_record("exact"))
    if faiss_kind(manifest) != wanted.get("kind", "exact"):
        return False
    return all(
        manifest.get(key) == value for key, value in identity.items() if key != "faiss_index"
    )
