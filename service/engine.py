"""Load the heavy parts (models, index) once and assemble a SearchEngine; reload it."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.embed import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_DIRNAME,
    Encoder,
    load_encoder,
    load_use_encoder,
)
from indexer.manifest import read_manifest
from indexer.tokenize import Tokenizer
from service.config import Settings
from service.errors import IndexError_, NotReady, ReloadFailed, ShisakuError
from service.glossary import Glossary, load_glossary
from service.highlight import Highlighter
from service.index import (
    check_faiss_kind,
    check_manifest,
    check_vocabulary,
    load_index,
    model_matches,
)
from service.search import SearchEngine
from service.translate import DEFAULT_OPTIONS, load_translator

logger = logging.getLogger(__name__)


def set_offline() -> None:
    """Nothing is ever fetched from a model hub at run time."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[name] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def onnx_dir(settings: Settings) -> Path:
    """Where the ONNX export of the configured model lives, in the model cache."""
    name = settings.embedding_model
    slug = DEFAULT_MODEL_DIRNAME if name == DEFAULT_MODEL else re.sub(r"[^\w.-]+", "-", name)
    return Path(settings.model_cache) / f"{slug.strip('-')}-onnx"


def load_second_encoder(settings: Settings) -> Encoder | None:
    """USE (from its fast-loading form in the model cache when `shisaku index` prepared it),
    or None."""
    if settings.second_encoder != "use":
        return None
    return load_use_encoder(threads=settings.torch_threads, model_cache=Path(settings.model_cache))


@dataclass(frozen=True)
class IndexEncoders:
    """What ``shisaku index`` embeds with, and the ONNX query models it prepares."""

    encoder: Encoder  # the sentence-transformers model (torch): the model's source
    second: Encoder | None
    onnx: dict[str, str]  # precision -> sha256 of the exported query model


def load_index_encoders(settings: Settings) -> IndexEncoders:
    """Model preparation: the torch model (converted on first use) and its ONNX export."""
    from indexer.onnx_export import ensure_onnx

    set_offline()
    encoder = load_encoder(
        settings.embedding_model, Path(settings.model_cache), threads=settings.torch_threads
    )
    models = ensure_onnx(encoder.path, onnx_dir(settings), fingerprint=encoder.fingerprint)
    onnx = {"fp32": models.fp32_sha256, "int8": models.int8_sha256}
    second = load_second_encoder(settings)
    prepare_serving_forms(settings, second)
    return IndexEncoders(encoder, second, onnx)


def prepare_serving_forms(settings: Settings, second: Encoder | None) -> None:
    """The fast-loading forms of the query models (indexer.serving), in the model cache:
    the e5 tokenizer's compact form and USE's inflated weights and tokenizer. Each is
    checked against the original; one that cannot be written is left out (a warning), and
    the service then reads the original files, as before."""
    from indexer.onnx_export import SENTENCEPIECE_FILE, read_onnx_config
    from indexer.serving import prepare_tokenizer

    model_cache = Path(settings.model_cache)
    config = read_onnx_config(onnx_dir(settings)) or {}
    sha256 = config.get("files", {}).get(SENTENCEPIECE_FILE, {}).get("sha256")
    if sha256:
        prepare_tokenizer(model_cache, onnx_dir(settings) / SENTENCEPIECE_FILE, str(sha256))
    prepare = getattr(second, "prepare", None)
    if prepare is not None:
        prepare(model_cache)


def load_query_encoder(settings: Settings) -> Encoder:
    """The e5 query encoder: ONNX on onnxruntime (no torch) unless SHISAKU_QUERY_ENCODER=torch."""
    if settings.query_encoder == "torch":
        return load_encoder(
            settings.embedding_model, Path(settings.model_cache), threads=settings.torch_threads
        )
    from service.query_encoder import OnnxQueryEncoder

    return OnnxQueryEncoder(
        onnx_dir(settings),
        settings.query_encoder,
        threads=settings.query_threads,
        spin_us=settings.query_spin_us,
        name=settings.embedding_model,
        batch_size=1,  # one query per run: memory bounded by the longest query, not a batch
    )


def load_query_encoders(settings: Settings) -> tuple[Encoder, Encoder | None]:
    """The encoders that serve queries, loaded side by side (both mostly wait on I/O and
    native code, so two threads halve the start-up)."""
    set_offline()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="load") as pool:
        second = pool.submit(load_second_encoder, settings)
        encoder = load_query_encoder(settings)
        return encoder, second.result()


def preflight(settings: Settings) -> dict[str, Any]:
    """What a long-running front end checks before it starts, in a fraction of a second: the
    glossary reads, and the index is there, whole and built for the configured models."""
    load_query_glossary(settings)
    return check_index_for_models(settings)


def check_index_for_models(settings: Settings) -> dict[str, Any]:
    """The index's manifest, checked at once (no model loaded, nothing hashed): the index is
    there and whole, and was built for the configured models and their ONNX export.
    IndexError_ names the problem and the fix."""
    from indexer.onnx_export import FP32_FILE, INT8_FILE, read_onnx_config

    index_dir = Path(settings.index_dir)
    manifest = check_manifest(index_dir)
    check_faiss_kind(index_dir, manifest, settings.faiss_index)
    stale = f"index at {index_dir} is stale: {{}}; rebuild it with `shisaku index` (or `make run`)"
    dense = manifest["dense_model"]
    if dense["name"] != settings.embedding_model:
        raise IndexError_(
            stale.format(f"built with {dense['name']!r}, configured {settings.embedding_model!r}")
        )
    if (manifest.get("second_model") is None) != (settings.second_encoder == "none"):
        raise IndexError_(stale.format(f"SHISAKU_SECOND_ENCODER is {settings.second_encoder!r}"))
    if settings.query_encoder != "torch":
        config = read_onnx_config(onnx_dir(settings)) or {}
        model_file = INT8_FILE if settings.query_encoder == "int8" else FP32_FILE
        exported = config.get("files", {}).get(model_file, {}).get("sha256")
        if exported is None:
            raise IndexError_(
                stale.format(f"the ONNX query model is missing from {onnx_dir(settings)}")
            )
        if config.get("source", {}).get("fingerprint") != dense["fingerprint"] or (
            dense.get("onnx", {}).get(settings.query_encoder) != exported
        ):
            raise IndexError_(
                stale.format("the model or its ONNX export changed since it was built")
            )
    return manifest


@functools.lru_cache(maxsize=1)  # only the current version of the file is worth keeping
def _compiled_glossary(path: str, size: int, mtime_ns: int) -> Glossary:
    return load_glossary(Path(path))


def load_query_glossary(settings: Settings) -> Glossary | None:
    """The configured glossary, read and compiled once per version of its file: the
    preflight check, the engine and a reload of an unchanged file share one (immutable)."""
    path = Path(settings.glossary)
    try:
        stat = path.stat()
    except FileNotFoundError:
        logger.warning("glossary %s not found; English queries are not expanded", path)
        return None
    except OSError:
        return load_glossary(path)  # reports why it cannot be read
    return _compiled_glossary(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def load_engine(
    settings: Settings,
    encoders: tuple[Encoder, Encoder | None] | None = None,
    long_running: bool = True,
) -> SearchEngine:
    """Load models (unless given), verify and load the index, return a ready engine.

    ``long_running`` (a server, the MCP server) also checks the BM25 vocabulary against the
    passages and pays the first query's one-time costs now; a one-shot command skips both.
    """
    glossary = load_query_glossary(settings)  # a bad glossary fails before the models load
    encoder, second = encoders or load_query_encoders(settings)
    index = load_index(Path(settings.index_dir), encoder, second)
    check_faiss_kind(index.path, index.manifest, settings.faiss_index)
    tokenizer = Tokenizer()
    if long_running:
        check_vocabulary(index, tokenizer.tokenize)
    translator = load_translator(index.path) if settings.lexicon else None
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
        translator=translator,
        cross_lingual=DEFAULT_OPTIONS,
        highlighter=Highlighter(
            tokenizer, index.passages, index.morphemes.passages if index.morphemes else None
        ),
    )
    if long_running:
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


class BackgroundEngine:
    """Loads the engine on a thread from the moment it is made; calling it waits for it.

    ``shisaku mcp`` makes it before it imports the MCP SDK (~1 s), so the two overlap and
    the handshake is answered at once; a tool call waits until the engine is ready.
    """

    def __init__(self, load: Callable[[], SearchEngine], wait_seconds: float = 300.0) -> None:
        self._engine: SearchEngine | None = None
        self._error: str | None = None
        self._ready = threading.Event()
        self._wait = wait_seconds
        threading.Thread(target=self._run, args=(load,), daemon=True, name="engine-load").start()

    def _run(self, load: Callable[[], SearchEngine]) -> None:
        try:
            self._engine = load()
        except ShisakuError as exc:
            self._error = exc.message
            logger.error("cannot load the engine: %s", exc.message)
        except Exception as exc:  # noqa: BLE001 - reported to every tool call
            self._error = f"{type(exc).__name__}: {exc}"
            logger.exception("cannot load the engine")
        finally:
            self._ready.set()

    def __call__(self) -> SearchEngine:
        if not self._ready.wait(self._wait):
            raise NotReady("the index and model are still loading; try again shortly")
        if self._engine is None:
            raise NotReady(self._error or "the engine failed to load")
        return self._engine


def _same_model(recorded: Any, model: Encoder | None) -> bool:
    if model is None or not isinstance(recorded, dict):
        return model is None and recorded is None
    return recorded.get("name") == model.name and model_matches(recorded, model) is None


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
