"""Load and verify an index directory built by ``indexer.build``; refuse anything unexpected."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer import manifest as layout
from indexer.embed import Encoder
from indexer.morphemes import ReportMorphemes, read_morphemes
from indexer.records import Measure, Passage
from indexer.reports import latest_editions
from service.bm25 import Bm25Index
from service.errors import IndexError_, InvalidRequest, NotFound

logger = logging.getLogger(__name__)

REBUILD_HINT = "rebuild it with `shisaku index` (or `make run`)"
# Written by the operating system or an editor, never read by the service.
_IGNORED_NAMES = frozenset({".DS_Store"})


@dataclass(frozen=True)
class LoadedIndex:
    """Everything a search needs, in memory."""

    path: Path
    manifest: dict[str, Any]
    measures: tuple[Measure, ...]
    passages: tuple[Passage, ...]
    passage_measure: np.ndarray  # passage row -> measure row
    dense_passages: Any  # faiss.Index
    dense_measures: Any
    second_passages: Any | None
    second_measures: Any | None
    bm25: Bm25Index
    reports: dict[str, layout.ReportRecord] = field(default_factory=dict)  # by id, in order
    latest: frozenset[str] = frozenset()  # the latest edition of each series
    # The reports' SudachiPy analysis recorded at build (None: an index built before it).
    morphemes: ReportMorphemes | None = None

    def report_of(self, measure: Measure) -> layout.ReportRecord | None:
        return self.reports.get(measure.report)


def _fail(path: Path, problem: str) -> IndexError_:
    return IndexError_(f"index at {path} is unusable: {problem}; {REBUILD_HINT}")


def verify_files(path: Path, manifest: dict[str, Any]) -> None:
    """Check every file the manifest lists against its sha256, and that there is no other."""
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not listed:
        raise _fail(path, "manifest lists no files")
    for name, digest in listed.items():
        file = path / name
        if not file.is_file():
            raise _fail(path, f"file {name} is missing")
        if layout.sha256_file(file) != digest:
            raise _fail(path, f"file {name} does not match its checksum (truncated or modified)")
    expected = set(listed) | {layout.MANIFEST}
    for file in sorted(path.rglob("*")):
        name = file.relative_to(path).as_posix()
        if file.is_file() and name not in expected and file.name not in _IGNORED_NAMES:
            raise _fail(path, f"file {name} is not listed in the manifest")


def check_manifest(path: Path) -> dict[str, Any]:
    """The manifest of ``path``, validated against its schema and verified against the files."""
    if not path.exists():
        raise IndexError_(f"no index at {path}; build it with `shisaku index` (or `make run`)")
    try:
        raw = layout.read_manifest_strict(path)
    except layout.ManifestError as exc:
        raise _fail(path, str(exc)) from None
    if raw["schema_version"] != layout.SCHEMA_VERSION:
        raise _fail(path, f"schema version {raw['schema_version']} is not {layout.SCHEMA_VERSION}")
    verify_files(path, raw)
    return raw


def model_matches(recorded: dict[str, Any], model: Encoder) -> str | None:
    """Why ``model`` is not the one the index recorded (None when it is)."""
    if recorded.get("name") != model.name or recorded.get("fingerprint") != model.fingerprint:
        return (
            f"it was built with {recorded.get('name')!r} "
            f"(checksum {str(recorded.get('fingerprint'))[:12]}) but the service loaded "
            f"{model.name!r} (checksum {model.fingerprint[:12]})"
        )
    onnx = getattr(model, "onnx_fingerprint", None)
    precision = getattr(model, "precision", None)
    exported = recorded.get("onnx") or {}
    if onnx is not None and exported.get(precision) != onnx:
        return f"the ONNX {precision} query model was exported again after the index was built"
    return None


def check_models(
    path: Path, manifest: dict[str, Any], encoder: Encoder, second: Encoder | None
) -> None:
    """Refuse an index built with other models than the ones loaded."""
    for key, model in (("dense_model", encoder), ("second_model", second)):
        recorded = manifest.get(key)
        if model is None and recorded is None:
            continue
        if model is None or recorded is None:
            raise _fail(
                path,
                f"{key} is {recorded and recorded.get('name')!r} in the index but "
                f"{model and model.name!r} is configured",
            )
        problem = model_matches(recorded, model)
        if problem is not None:
            raise _fail(path, f"{key}: {problem}")


def check_faiss_kind(path: Path, manifest: dict[str, Any], wanted: str) -> None:
    """Refuse an index whose FAISS kind (exact or hnsw) is not the configured one."""
    built = layout.faiss_kind(manifest)
    if built != wanted:
        raise IndexError_(
            f"index at {path} was built with FAISS index {built!r} but SHISAKU_FAISS_INDEX is "
            f"{wanted!r}; rebuild it with `shisaku index` (or set SHISAKU_FAISS_INDEX={built})"
        )


def _check_vectors(path: Path, name: str, index: Any, rows: int, dimension: int) -> None:
    if index.d != dimension:
        raise _fail(path, f"{name} holds {index.d}-d vectors but the model makes {dimension}-d")
    if index.ntotal != rows:
        raise _fail(path, f"{name} holds {index.ntotal} vectors for {rows} texts")


def load_index(
    path: Path, encoder: Encoder | None = None, second: Encoder | None = None
) -> LoadedIndex:
    """Load ``path``; raise IndexError_ naming the problem and the fix when it is unusable.

    Without ``encoder`` (commands that encode nothing: measures, info, export) the models
    are not checked and the vectors are checked against the dimensions the manifest records.
    """
    import faiss

    path = Path(path)
    manifest = check_manifest(path)
    if encoder is not None:
        check_models(path, manifest, encoder, second)
    try:
        measures = tuple(
            Measure(**item)
            for item in json.loads((path / layout.MEASURES_FILE).read_text(encoding="utf-8"))
        )
        passages = tuple(
            Passage(**item)
            for item in json.loads((path / layout.PASSAGES_FILE).read_text(encoding="utf-8"))
        )
        rows = {m.key: row for row, m in enumerate(measures)}
        passage_measure = np.array([rows[p.measure_key] for p in passages], dtype=np.int64)
        reports = {
            record.id: record
            for record in (layout.ReportRecord.model_validate(r) for r in manifest["reports"])
        }

        def read(name: str) -> Any:
            return faiss.read_index(str(path / name))

        has_second = manifest.get("second_model") is not None
        loaded = LoadedIndex(
            path=path,
            manifest=manifest,
            measures=measures,
            passages=passages,
            passage_measure=passage_measure,
            dense_passages=read(layout.DENSE_PASSAGES),
            dense_measures=read(layout.DENSE_MEASURES),
            second_passages=read(layout.SECOND_PASSAGES) if has_second else None,
            second_measures=read(layout.SECOND_MEASURES) if has_second else None,
            bm25=Bm25Index.load(path / layout.BM25_DIR),
            reports=reports,
            latest=latest_editions(reports.values()),
            morphemes=read_morphemes(path / layout.MORPHEMES_FILE),
        )
    except Exception as exc:  # any unreadable file: one line naming the index, never a trace
        raise _fail(path, f"could not be read ({type(exc).__name__}: {exc})") from exc
    dense = encoder.dimension if encoder else int(manifest["dense_model"]["dimension"])
    _check_vectors(path, layout.DENSE_PASSAGES, loaded.dense_passages, len(passages), dense)
    _check_vectors(path, layout.DENSE_MEASURES, loaded.dense_measures, len(measures), dense)
    if loaded.second_passages is not None:
        width = second.dimension if second else int(manifest["second_model"]["dimension"])
        _check_vectors(path, layout.SECOND_PASSAGES, loaded.second_passages, len(passages), width)
        _check_vectors(path, layout.SECOND_MEASURES, loaded.second_measures, len(measures), width)
    vocabulary = len(getattr(loaded.bm25, "vocab_dict", None) or {})
    if getattr(loaded.bm25, "scores", None) is not None and vocabulary == 0:
        raise _fail(path, f"{layout.BM25_DIR} has an empty vocabulary")
    logger.info("loaded index %s (%d measures, %d passages)", path, len(measures), len(passages))
    return loaded


def read_measures(path: Path) -> tuple[Measure, ...]:
    """The measures of the index at ``path`` (its manifest and checksums verified), without
    loading any model: for commands that only list or show measures."""
    path = Path(path)
    check_manifest(path)
    try:
        items = json.loads((path / layout.MEASURES_FILE).read_text(encoding="utf-8"))
        return tuple(Measure(**item) for item in items)
    except Exception as exc:  # unreadable: one line naming the index, never a trace
        raise _fail(path, f"could not be read ({type(exc).__name__}: {exc})") from exc


@dataclass(frozen=True)
class Catalogue:
    """The measures and reports of an index, read without any model (measures, diff, history)."""

    measures: tuple[Measure, ...]
    reports: dict[str, layout.ReportRecord]
    latest: frozenset[str]

    def get_measure(self, number: int, report: str | None = None) -> Measure:
        """Measure ``number`` of ``report``, as the engine picks it (:func:`pick_measure`)."""
        held = {m.key: row for row, m in enumerate(self.measures)}
        return pick_measure(self.measures, held, self.reports, self.latest, number, report)


def read_catalogue(path: Path) -> Catalogue:
    """The measures and the reports of the index at ``path`` (manifest and checksums verified)."""
    path = Path(path)
    manifest = check_manifest(path)
    try:
        items = json.loads((path / layout.MEASURES_FILE).read_text(encoding="utf-8"))
        measures = tuple(Measure(**item) for item in items)
        records = [layout.ReportRecord.model_validate(r) for r in manifest["reports"]]
    except Exception as exc:  # unreadable: one line naming the index, never a trace
        raise _fail(path, f"could not be read ({type(exc).__name__}: {exc})") from exc
    reports = {r.id: r for r in records}
    return Catalogue(measures, reports, latest_editions(records))


def _default_report(
    number: int,
    held: Mapping[tuple[str, int], int],
    reports: Mapping[str, Any],
    latest: frozenset[str],
) -> str:
    """The report meant when measure ``number`` comes without one: the latest edition that has
    it, else the newest older one ("" if none has it); InvalidRequest when the latest editions
    of several report series have it. ``held``: (report, number) → row."""
    holding = [r for r in reports if r in latest and (r, number) in held]
    if len(holding) > 1:
        raise InvalidRequest(
            f"measure {number} is in several reports ({', '.join(sorted(holding))}); "
            "name the report"
        )
    if holding:
        return holding[0]
    older = [r for r in reports if (r, number) in held]
    return older[-1] if older else ""


def pick_measure(
    measures: Sequence[Measure],
    held: Mapping[tuple[str, int], int],
    reports: Mapping[str, Any],
    latest: frozenset[str],
    number: int,
    report: str | None = None,
) -> Measure:
    """Measure ``number`` of ``report`` (default: :func:`_default_report`); NotFound names an
    unknown report, or the numbers there are."""
    if report:
        check_reports([report], reports)
    key = (report or _default_report(number, held, reports, latest), number)
    row = held.get(key)
    if row is None:
        numbers = [n for r, n in held if r == key[0]] or [n for _, n in held]
        where = f" in report {report}" if report else ""
        raise NotFound(
            f"there is no measure {number}{where}; measures are numbered "
            f"{min(numbers)}–{max(numbers)}"
        )
    return measures[row]


def check_reports(names: Sequence[str] | None, reports: Mapping[str, Any]) -> tuple[str, ...]:
    """The report ids asked for, each once; NotFound names an unknown one and those there are."""
    wanted = tuple(dict.fromkeys(r.strip() for r in names or () if r and r.strip()))
    unknown = [r for r in wanted if r not in reports]
    if unknown:
        raise NotFound(f"unknown report {unknown[0]!r}; the index holds " + ", ".join(reports))
    return wanted


def reports_in_scope(
    names: Sequence[str], editions: str, reports: Mapping[str, Any], latest: frozenset[str]
) -> frozenset[str] | None:
    """The report ids a request covers: the ones named, else the latest edition of each series
    (every edition with ``editions="all"``); None when that is every report of the index."""
    if names:
        return frozenset(names)
    if editions == "all" or len(latest) == len(reports):
        return None
    return latest


def measure_numbered(measures: Sequence[Measure], number: int) -> Measure:
    """The measure numbered ``number``; NotFound naming the numbers there are."""
    for measure in measures:
        if measure.number == number:
            return measure
    numbers = [m.number for m in measures]
    span = f"{min(numbers)}–{max(numbers)}" if numbers else "none"
    raise NotFound(f"there is no measure {number}; measures are numbered {span}")


def check_vocabulary(index: LoadedIndex, tokenize: Any) -> None:
    """Refuse a BM25 vocabulary that is not the passages' own tokens (a replaced file whose
    checksum was recomputed passes the checksums, not this). The passages' tokens are those
    the index recorded at build (``morphemes.json``) when it did: reading them touches none
    of Sudachi's dictionary pages."""
    vocab = getattr(index.bm25, "vocab_dict", None)
    if not isinstance(vocab, dict):
        return
    expected: set[str] = set()
    if index.morphemes is not None:
        expected.update(index.morphemes.bm25_terms)
    else:
        for passage in index.passages:
            expected.update(tokenize(passage.text) or ["\u3000"])
    found = set(vocab) - {""}  # bm25s adds an empty token of its own
    if found != expected:
        raise _fail(
            index.path,
            f"{layout.BM25_DIR} vocabulary does not match the passages "
            f"({len(found - expected)} unknown, {len(expected - found)} missing terms)",
        )
