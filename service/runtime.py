"""Load the heavy parts (models, index) once and assemble a SearchEngine."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from indexer.embed import Encoder, load_encoder, load_use_encoder
from indexer.tokenize import Tokenizer
from service.glossary import Glossary, load_glossary
from service.index import load_index
from service.search import SearchEngine
from service.settings import Settings

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
    encoder, second = encoders or load_encoders(settings)
    index = load_index(Path(settings.index_dir), encoder, second)
    engine = SearchEngine(
        index=index,
        encoder=encoder,
        second=second,
        tokenizer=Tokenizer(),
        glossary=load_query_glossary(settings),
        max_query_chars=settings.max_query_chars,
        max_k=settings.max_k,
        encoder_slots=settings.encoder_slots,
        encoder_wait_seconds=settings.encoder_wait_seconds,
        cache_size=settings.vector_cache_size,
        result_cache_size=settings.result_cache_size,
        max_batch=settings.max_batch,
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
