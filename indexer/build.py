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
from indexer.parse import parse_report_file
from indexer.passages import split_passages
from indexer.records import Measure, Passage
from indexer.tokenize import Tokenizer

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
) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), batch_size):
        parts.append(encode(list(texts[start : start + batch_size])))
        progress(stage, min(start + batch_size, len(texts)), len(texts))
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def _write_faiss(path: Path, vectors: np.ndarray) -> None:
    import faiss

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
) -> dict[str, Any]:
    """Parse ``corpus`` and build a complete index, then point ``index_dir`` at it atomically.

    ``index_dir`` is a symlink to a sibling build directory; the new build is written in a
    fresh directory and the link is replaced with one rename, so a failed or killed build
    leaves the previous index untouched. ``onnx`` records the exported query models'
    fingerprints (precision -> sha256). Returns the manifest.
    """
    started = time.perf_counter()
    measures = parse_report_file(corpus)
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
        _write_build(build_dir, corpus, measures, passages, encoder, second, tokenizer, progress)
        identity = expected_identity(corpus, encoder, second, onnx)
        manifest = _write_manifest(
            build_dir, identity, corpus, measures, passages, time.perf_counter() - started
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
    corpus: Path,
    measures: list[Measure],
    passages: list[Passage],
    encoder: Encoder,
    second: Encoder | None,
    tokenizer: Tokenizer,
    progress: Progress,
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

    vectors = _encode_in_batches(encoder.encode_passages, passage_texts, "embed passages", progress)
    _write_faiss(build_dir / DENSE_PASSAGES, vectors)
    vectors = _encode_in_batches(encoder.encode_passages, whole_texts, "embed measures", progress)
    _write_faiss(build_dir / DENSE_MEASURES, vectors)
    if second is not None:
        vectors = _encode_in_batches(
            second.encode_passages, passage_texts, "embed passages (2nd model)", progress
        )
        _write_faiss(build_dir / SECOND_PASSAGES, vectors)
        vectors = _encode_in_batches(
            second.encode_passages, whole_texts, "embed measures (2nd model)", progress
        )
        _write_faiss(build_dir / SECOND_MEASURES, vectors)

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
