"""Load the heavy parts (models, index) once and assemble a SearchEngine; reload it."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from indexer.embed import Encoder, load_encoder, load_use_encoder
from indexer.manifest import read_manifest
from indexer.tokenize import Tokenizer
from service.config import Settings
from service.errors import ReloadFailed, ShisakuError
from service.glossary import Glossary, load_glossary
from service.index import check_vocabulary, load_index
from service.search import SearchEngine

logger = logging.getLogger(__name__)


def set_offline() -> None:
    """Nothing is ever fetched from a model hub at run time."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[name] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def load_encoders(settings: Settings) -> tuple[Encoder, Encoder | None]:
    set_offline()
    encoder = load_encoder(
        settings.embedding_model, Path(settings.model_cache), threads=settings.torch_threads
    )
    second = (
        load_use_encoder(threads=settings.torch_threads)
        if settings.second_encoder == "use"
        else None
    )
    return encoder, second


def load_query_glossary(settings: Settings) -> Glossary | None:
    if not Path(settings.glossary).exists():
        logger.warning("glossary %s not found; English queries are not expanded", settings.glossary)
        return None
    return load_glossary(Path(settings.glossary))


def load_engine(
    settings: Settings, encoders: tuple[Encoder, Encoder | None] | None = None
) -> SearchEngine:
    """Load models (unless given), verify and load the index, return a ready engine."""
    glossary = load_query_glossary(settings)  # a bad glossary fails before the models load
    encoder, second = encoders or load_encoders(settings)
    index = load_index(Path(settings.index_dir), encoder, second)
    tokenizer = Tokenizer()
    check_vocabulary(index, tokenizer.tokenize)
    engine = SearchEngine(
        index=index,
        encoder=encoder,
        second=second,
        tokenizer=tokenizer,
        glossary=glossary,
        max_query_chars=settings.max_query_chars,
        max_k=settings.max_k,
        encoder_slots=settings.encoder_slots,
        encoder_wait_seconds=settings.encoder_wait_seconds,
        cache_size=settings.vector_cache_size,
        result_cache_size=settings.result_cache_size,
        max_batch=settings.max_batch,
        max_batch_chars=settings.max_batch_chars,
    )
    warm_up(engine)
    return engine


def warm_up(engine: SearchEngine) -> None:
    """Pay the first query's one-time costs (lazy model initialisation, ~1.5 s; the report's
    vocabulary for answerability) before the engine is declared ready, so the first user
    request is not the one that times out."""
    from service.answer import answer_question

    started = time.perf_counter()
    answer_question(engine, "在留資格 visa", k=1)
    engine.clear_cache()
    logger.debug("warmed up in %.0f ms", (time.perf_counter() - started) * 1000)


def _same_model(recorded: Any, model: Encoder | None) -> bool:
    if model is None or not isinstance(recorded, dict):
        return model is None and recorded is None
    return bool(
        recorded.get("name") == model.name and recorded.get("fingerprint") == model.fingerprint
    )


def load_replacement(settings: Settings, current: SearchEngine) -> tuple[SearchEngine, bool]:
    """A complete new engine for the index ``settings.index_dir`` points at now.

    Returns it and whether the models had to be loaded again. Raises ReloadFailed, whatever
    went wrong: the caller keeps serving ``current``.
    """
    pinned_dir = Path(settings.index_dir).resolve()  # one build, even if the link moves on
    manifest = read_manifest(pinned_dir)
    if manifest is None:
        raise ReloadFailed(
            "the index has no readable manifest.json; the service keeps the previous index. "
            "Rebuild it with `shisaku index`"
        )
    reuse = _same_model(manifest.get("dense_model"), current.encoder) and _same_model(
        manifest.get("second_model"), current.second
    )
    pinned = settings.model_copy(update={"index_dir": pinned_dir})
    try:
        engine = load_engine(pinned, encoders=(current.encoder, current.second) if reuse else None)
    except ShisakuError as exc:
        raise ReloadFailed(
            f"the new index was not loaded and the service keeps the previous one: {exc.message}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - whatever broke, the old index keeps serving
        logger.exception("reload failed")
        raise ReloadFailed(
            "the new index was not loaded and the service keeps the previous one: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return engine, not reuse
