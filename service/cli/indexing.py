"""Building the index from the CLI (`shisaku index`, and `shisaku add`'s rebuild)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.config import Settings


def rebuild_index(
    settings: Settings, quiet: bool = False, if_stale: bool = False
) -> dict[str, Any] | None:
    """Build the index of ``settings.corpus`` into ``settings.index_dir`` (atomically); None
    when ``if_stale`` and the index is current. A missing corpus, a malformed report or a
    target that cannot be written fails before any model loads."""
    from tqdm import tqdm

    from indexer.build import build_index, check_writable
    from indexer.manifest import expected_identity, is_current
    from indexer.reports import read_all_measures, read_corpus
    from service.engine import load_index_encoders

    read_all_measures(read_corpus(Path(settings.corpus)))
    check_writable(Path(settings.index_dir))
    models = load_index_encoders(settings)  # prepares the model and its ONNX export
    identity = expected_identity(
        Path(settings.corpus), models.encoder, models.second, models.onnx, settings.faiss_index
    )
    if if_stale and is_current(Path(settings.index_dir), identity):
        return None
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="text", disable=quiet)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return build_index(
        Path(settings.corpus),
        Path(settings.index_dir),
        models.encoder,
        models.second,
        progress=progress,
        onnx=models.onnx,
        vector_cache=Path(settings.vector_cache),
        faiss_index=settings.faiss_index,
    )
