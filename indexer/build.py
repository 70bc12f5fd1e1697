"""Build an index directory (measures, passages, BM25, FAISS, manifest) and swap it in atomically."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embed import Encoder
from indexer.errors import BuildError
from indexer.manifest import (
    BM25_DIR,
    DENSE_MEASURES,
    DENSE_PASSAGES,
    FAISS_KINDS,
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    LEXICON_FILE,
    MANIFEST,
    MEASURES_FILE,
    MORPHEMES_FILE,
    PASSAGES_FILE,
    SECOND_MEASURES,
    SECOND_PASSAGES,
    expected_identity,
    sha256_file,
)
from indexer.morphemes import analyse, write_morphemes
from indexer.passages import split_passages
from indexer.records import Measure, Passage
from indexer.reports import CorpusReport, read_all_measures, read_corpus, report_records
from indexer.tokenize import Tokenizer
from indexer.vector_cache import VectorCache

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def measure_text(measure: Measure) -> str:
    """The whole measure as one text, for measure-level similarity."""
    return "\n".join(part for part in (measure.target, measure.explanation, measure.notes) if part)


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def _encode_in_batches(
    encode: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    stage: str,
    progress: Progress,
    batch_size: int = 16,
    groups: Sequence[str] | None = None,
    cache: VectorCache | None = None,
) -> np.ndarray:
    """Vectors of ``texts``; with a cache, each group of texts (one report's) is read back
    when it was embedded before, and only new or changed groups are encoded."""
    groups = groups if groups is not None else [""] * len(texts)
    cache = cache or VectorCache(None, "")
    done = 0

    def batched(chunk: list[str]) -> np.ndarray:
        nonlocal done
        parts = []
        for start in range(0, len(chunk), batch_size):
            parts.append(encode(chunk[start : start + batch_size]))
            progress(stage, done + min(start + batch_size, len(chunk)), len(texts))
        return np.vstack(parts)

    parts = []
    start = 0
    while start < len(texts):
        end = start
        while end < len(texts) and groups[end] == groups[start]:
            end += 1
        parts.append(cache.encode(batched, texts[start:end]))
        done = end
        progress(stage, done, len(texts))
        start = end
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def _write_faiss(path: Path, vectors: np.ndarray, kind: str = "exact") -> None:
    """An exact inner-product index (``exact``) or an HNSW graph over the same vectors
    (``hnsw``: approximate search; it keeps the vectors, so they can be read back)."""
    import faiss

    index: faiss.Index
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    faiss.write_index(index, str(path))


def remove_abandoned_builds(parent: Path, name: str) -> list[Path]:
    """Delete temporary build directories whose building process is gone (killed builds)."""
    removed = []
    for candidate in parent.glob(f".{name}-build-*"):
        try:
            pid = int(candidate.name[len(f".{name}-build-") :].split("-", 1)[0])
            os.kill(pid, 0)
            continue  # that build is still running
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue  # not ours to judge
        shutil.rmtree(candidate, ignore_errors=True)
        removed.append(candidate)
        logger.info("removed abandoned build %s", candidate)
    return removed


def _unwritable(folder: Path, exc: OSError) -> BuildError:
    reason = exc.strerror or str(exc)
    return BuildError(
        f"could not write the index in {folder}: {reason}. Nothing was changed: the previous "
        "index, if any, is still the one served. Free some space or make the folder writable "
        "(or set SHISAKU_INDEX_DIR), then run `shisaku index` again"
    )


def check_writable(index_dir: Path) -> None:
    """Fail early (BuildError) when the folder of ``index_dir`` cannot be created or written."""
    parent = Path(index_dir).absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise _unwritable(parent, exc) from exc


def build_index(
    corpus: Path,
    index_dir: Path,
    encoder: Encoder,
    second: Encoder | None = None,
    tokenizer: Tokenizer | None = None,
    progress: Progress = _no_progress,
    onnx: dict[str, str] | None = None,
    vector_cache: Path | None = None,
    faiss_index: str = "exact",
) -> dict[str, Any]:
    """Parse every report of ``corpus`` and build a complete index, then point ``index_dir`` at it atomically.

    ``index_dir`` is a symlink to a sibling build directory; the new build is written in a
    fresh directory and the link is replaced with one rename, so a failed or killed build
    leaves the previous index untouched. ``onnx`` records the exported query models'
    fingerprints (precision -> sha256). ``vector_cache`` is a folder where passage vectors
    are kept by content hash, so that a rebuild embeds only the reports that changed.
    ``faiss_index`` is ``exact`` (flat inner product) or ``hnsw`` (approximate; recorded in
    the manifest, and the service refuses an index of the other kind). Returns the manifest.
    """
    if faiss_index not in FAISS_KINDS:
        raise BuildError(f"unknown FAISS index kind {faiss_index!r}; use one of {FAISS_KINDS}")
    started = time.perf_counter()
    reports = read_corpus(corpus)
    measures = read_all_measures(reports)
    passages = split_passages(measures)
    tokenizer = tokenizer or Tokenizer()
    index_dir = Path(index_dir)
    parent = index_dir.absolute().parent
    build_dir: Path | None = None  # removed again unless it became the served index
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_builds(parent, index_dir.name)
        build_dir = Path(
            tempfile.mkdtemp(prefix=f".{index_dir.name}-build-{os.getpid()}-", dir=parent)
        )
        _write_build(
            build_dir,
            measures,
            passages,
            encoder,
            second,
            tokenizer,
            progress,
            vector_cache,
            faiss_index,
        )
        identity = expected_identity(corpus, encoder, second, onnx, faiss_index)
        manifest = _write_manifest(
            build_dir, identity, corpus, reports, measures, passages, time.perf_counter() - started
        )
        final_dir = parent / f"{index_dir.name}-{manifest['build_id']}"
        os.replace(build_dir, final_dir)
        build_dir = final_dir
        _swap_link(index_dir, final_dir)
        build_dir = None
    except OSError as exc:
        raise _unwritable(parent, exc) from exc
    finally:
        if build_dir is not None:
            shutil.rmtree(build_dir, ignore_errors=True)
    logger.info("built index %s: %d measures, %d passages", final_dir, len(measures), len(passages))
    return manifest


def _write_build(
    build_dir: Path,
    measures: list[Measure],
    passages: list[Passage],
    encoder: Encoder,
    second: Encoder | None,
    tokenizer: Tokenizer,
    progress: Progress,
    vector_cache: Path | None = None,
    faiss_index: str = "exact",
) -> None:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it forces DEBUG on import
    (build_dir / MEASURES_FILE).write_text(
        json.dumps([asdict(m) for m in measures], ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (build_dir / PASSAGES_FILE).write_text(
        json.dumps([asdict(p) for p in passages], ensure_ascii=False, indent=1), encoding="utf-8"
    )
    passage_texts = [p.text for p in passages]
    whole_texts = [measure_text(m) for m in measures]
    passage_groups = [p.report for p in passages]
    measure_groups = [m.report for m in measures]

    for model, names, stage in (
        (encoder, (DENSE_PASSAGES, DENSE_MEASURES), ""),
        (second, (SECOND_PASSAGES, SECOND_MEASURES), " (2nd model)"),
    ):
        if model is None:
            continue
        cache = VectorCache(vector_cache, f"{model.name}:{model.fingerprint}")
        for name, texts, groups, what in (
            (names[0], passage_texts, passage_groups, "passages"),
            (names[1], whole_texts, measure_groups, "measures"),
        ):
            vectors = _encode_in_batches(
                model.encode_passages, texts, f"embed {what}{stage}", progress, 16, groups, cache
            )
            _write_faiss(build_dir / name, vectors, faiss_index)
        if vector_cache is not None:
            logger.info(
                "%s: %d texts from the vector cache, %d embedded",
                model.name,
                cache.hits,
                cache.misses,
            )

    corpus_tokens = [tokenizer.tokenize(text) or ["\u3000"] for text in passage_texts]
    progress("tokenize", len(passages), len(passages))
    retriever = bm25s.BM25()
    retriever.index(corpus_tokens, show_progress=False)
    retriever.save(str(build_dir / BM25_DIR))
    _write_lexicon(build_dir, passage_texts, tokenizer, progress)
    write_morphemes(build_dir / MORPHEMES_FILE, analyse(tokenizer, measures, passages))


def _write_lexicon(
    build_dir: Path, passage_texts: list[str], tokenizer: Tokenizer, progress: Progress
) -> None:
    """The English→Japanese lexicon of the corpus's terms, from JMdict (index time only)."""
    from indexer.lexicon import build_lexicon, write_lexicon

    lexicon = build_lexicon(passage_texts, tokenizer)
    write_lexicon(build_dir / LEXICON_FILE, lexicon)
    progress("lexicon", len(passage_texts), len(passage_texts))


def _write_manifest(
    build_dir: Path,
    identity: dict[str, Any],
    corpus: Path,
    reports: list[CorpusReport],
    measures: list[Measure],
    passages: list[Passage],
    seconds: float,
) -> dict[str, Any]:
    files = {
        str(path.relative_to(build_dir)): sha256_file(path)
        for path in sorted(build_dir.rglob("*"))
        if path.is_file()
    }
    now = datetime.now(UTC)
    manifest = {
        **identity,
        "build_id": now.strftime("%Y%m%dT%H%M%S%fZ"),
        "built_at": now.isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "corpus_file": corpus.name,
        "reports": report_records(reports, measures),
        "counts": {"measures": len(measures), "passages": len(passages)},
        "files": files,
    }
    path = build_dir / MANIFEST
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def _swap_link(index_dir: Path, final_dir: Path) -> None:
    """Point ``index_dir`` at ``final_dir`` with an atomic rename; remove the old build."""
    previous = index_dir.resolve() if index_dir.is_symlink() else None
    if index_dir.exists() and not index_dir.is_symlink():
        # A plain directory from elsewhere: move it aside rather than delete user data.
        aside = index_dir.with_name(
            f"{index_dir.name}-replaced-{final_dir.name.rsplit('-', 1)[-1]}"
        )
        os.replace(index_dir, aside)
        logger.warning("moved existing directory %s to %s", index_dir, aside)
    tmp_link = index_dir.with_name(f".{index_dir.name}.link-{os.getpid()}")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(final_dir.name, tmp_link)
    os.replace(tmp_link, index_dir)
    if previous is not None and previous != final_dir.resolve() and previous.exists():
        shutil.rmtree(previous, ignore_errors=True)
