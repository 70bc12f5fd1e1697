"""Load and verify an index directory built by ``indexer.build``."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer import build
from indexer.embed import Encoder
from indexer.records import Measure, Passage
from service.errors import IndexError_

logger = logging.getLogger(__name__)

REBUILD_HINT = "rebuild it with `shisaku index` (or `make run`)"


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
    bm25: Any  # bm25s.BM25

    def measure_row(self, number: int) -> int | None:
        for row, measure in enumerate(self.measures):
            if measure.number == number:
                return row
        return None


def _fail(path: Path, problem: str) -> IndexError_:
    return IndexError_(f"index at {path} is unusable: {problem}; {REBUILD_HINT}")


def verify_files(path: Path, manifest: dict[str, Any]) -> None:
    """Check every file listed in the manifest against its sha256."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise _fail(path, "manifest lists no files")
    for name, digest in files.items():
        file = path / name
        if not file.is_file():
            raise _fail(path, f"file {name} is missing")
        if build.sha256_file(file) != digest:
            raise _fail(path, f"file {name} does not match its checksum (truncated or modified)")


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
        if recorded.get("name") != model.name or recorded.get("fingerprint") != model.fingerprint:
            raise _fail(
                path,
                f"it was built with {key} {recorded.get('name')!r} "
                f"(checksum {str(recorded.get('fingerprint'))[:12]}) but the service loaded "
                f"{model.name!r} (checksum {model.fingerprint[:12]})",
            )


def load_index(path: Path, encoder: Encoder, second: Encoder | None) -> LoadedIndex:
    """Load ``path``; raise IndexError_ naming the problem and the fix when it is unusable."""
    import bm25s
    import faiss

    path = Path(path)
    if not path.exists():
        raise IndexError_(f"no index at {path}; build it with `shisaku index` (or `make run`)")
    manifest = build.read_manifest(path)
    if manifest is None:
        raise _fail(path, f"{build.MANIFEST} is missing or not valid JSON")
    if manifest.get("schema_version") != build.SCHEMA_VERSION:
        raise _fail(
            path, f"schema version {manifest.get('schema_version')} is not {build.SCHEMA_VERSION}"
        )
    verify_files(path, manifest)
    check_models(path, manifest, encoder, second)
    try:
        measures = tuple(
            Measure(**item)
            for item in json.loads((path / build.MEASURES_FILE).read_text(encoding="utf-8"))
        )
        passages = tuple(
            Passage(**item)
            for item in json.loads((path / build.PASSAGES_FILE).read_text(encoding="utf-8"))
        )
        rows = {m.number: row for row, m in enumerate(measures)}
        passage_measure = np.array([rows[p.measure] for p in passages], dtype=np.int64)

        def read(name: str) -> Any:
            return faiss.read_index(str(path / name))

        has_second = manifest.get("second_model") is not None
        loaded = LoadedIndex(
            path=path,
            manifest=manifest,
            measures=measures,
            passages=passages,
            passage_measure=passage_measure,
            dense_passages=read(build.DENSE_PASSAGES),
            dense_measures=read(build.DENSE_MEASURES),
            second_passages=read(build.SECOND_PASSAGES) if has_second else None,
            second_measures=read(build.SECOND_MEASURES) if has_second else None,
            bm25=bm25s.BM25.load(str(path / build.BM25_DIR)),
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise _fail(path, f"could not be read ({type(exc).__name__})") from exc
    if loaded.dense_passages.ntotal != len(passages):
        raise _fail(path, "passage vectors and passages differ in number")
    logger.info("loaded index %s (%d measures, %d passages)", path, len(measures), len(passages))
    return loaded
