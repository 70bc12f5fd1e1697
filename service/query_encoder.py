"""Torch-free e5 query encoder: onnxruntime and the compact (sentencepiece) form of the model's
tokenizer, over an export from indexer.onnx_export."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, get_args

import numpy as np

# Both imports are torch-free at module level (tested: torch stays out of sys.modules).
from indexer.embed import DEFAULT_MODEL
from indexer.errors import EncoderLoadError
from indexer.onnx_export import (
    FP32_FILE,
    INT8_FILE,
    ONNX_CONFIG,
    OUTPUT_NAME,
    SENTENCEPIECE_FILE,
    Precision,
    mean_pool_normalise,
)

logger = logging.getLogger(__name__)

_MODEL_FILES: dict[str, str] = {"int8": INT8_FILE, "fp32": FP32_FILE}

# onnxruntime graph rewrites left out. Its fused SkipLayerNormalization updates the mean and
# variance one element at a time (Welford, a division per element in a dependent chain);
# the separate Add and LayerNormalization it replaces make a whole e5 query run 5–9 % faster,
# as faithful to the fp32 model (BENCHMARKS.md, ninth round).
DISABLED_OPTIMIZERS: tuple[str, ...] = ("SkipLayerNormFusion",)


def session_options(threads: int, spin_us: int) -> Any:
    """The onnxruntime session options of the query encoder (CPU, ``threads`` intra-op)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    # With threads > 1, an idle intra-op thread busy-waits for the next operator's work
    # for ``spin_us`` microseconds, then sleeps (0: at once). onnxruntime's own default
    # spins long past the end of a run and takes a core from the rest of the server:
    # 2 threads then halved the throughput of a loaded machine (BENCHMARKS.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_us else "0")
    if spin_us:
        options.add_session_config_entry("session.intra_op.spin_duration_us", str(spin_us))
    return options


class OnnxModelMissing(EncoderLoadError):
    """The exported ONNX folder or one of its files is missing or unreadable."""


def _missing(onnx_dir: Path, detail: str) -> OnnxModelMissing:
    return OnnxModelMissing(
        f"the ONNX query model in {onnx_dir} is not usable: {detail}. Run `shisaku index` to "
        f"prepare it."
    )


def _read_config(onnx_dir: Path) -> dict[str, Any]:
    path = onnx_dir / ONNX_CONFIG
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
        for key in (
            "dimension",
            "max_seq_length",
            "prompts",
            "pad_id",
            "bos_id",
            "eos_id",
            "source",
        ):
            if key not in config:
                raise ValueError(f"no {key!r} entry")
        if config.get("pooling", "mean") != "mean":
            raise ValueError(f"unsupported pooling {config.get('pooling')!r}")
    except FileNotFoundError:
        raise _missing(onnx_dir, f"{ONNX_CONFIG} is missing") from None
    except (OSError, ValueError) as exc:
        raise _missing(onnx_dir, f"{ONNX_CONFIG} is unreadable ({exc})") from None
    return config


class OnnxQueryEncoder:
    """The exported e5 model on onnxruntime (CPU): prompts, mean pooling and L2 norm in numpy.

    Satisfies indexer.embed.Encoder. ``fingerprint`` is the source sentence-transformers
    folder's weight fingerprint recorded at export, so an index built by the torch encoder
    still matches; ``onnx_fingerprint`` is the sha256 of the ONNX file actually loaded.
    """

    def __init__(
        self,
        onnx_dir: Path,
        precision: Precision = "int8",
        threads: int = 1,
        *,
        name: str = DEFAULT_MODEL,
        batch_size: int = 32,
        spin_us: int = 100,
    ) -> None:
        if precision not in get_args(Precision):
            raise ValueError(f"precision must be one of {get_args(Precision)}, not {precision!r}")
        self.onnx_dir = Path(onnx_dir)
        if not self.onnx_dir.is_dir():
            raise _missing(self.onnx_dir, "the folder does not exist")
        config = _read_config(self.onnx_dir)
        self.precision: Precision = precision
        self.threads = max(1, int(threads))
        self.spin_us = max(0, int(spin_us))
        self.batch_size = max(1, int(batch_size))
        self.name = name
        self.path = self.onnx_dir / _MODEL_FILES[precision]
        self.dimension = int(config["dimension"])
        self.max_seq_length = int(config["max_seq_length"])
        self.query_prompt = str(config["prompts"].get("query", ""))
        self.passage_prompt = str(config["prompts"].get("passage", ""))
        self._source_fingerprint = str(config["source"]["fingerprint"])
        self._files = config.get("files", {})
        self._pad_id = int(config["pad_id"])
        self._bos_id, self._eos_id = int(config["bos_id"]), int(config["eos_id"])
        self._tokenizer = self._load_tokenizer()
        self._session = self._load_session()
        self._input_names = [i.name for i in self._session.get_inputs()]
        unknown = set(self._input_names) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise _missing(self.onnx_dir, f"{self.path.name} expects unknown inputs {unknown}")
        logger.info(
            "loaded ONNX %s query encoder from %s (dim %d, %d thread(s))",
            precision,
            self.path,
            self.dimension,
            self.threads,
        )

    def _load_tokenizer(self) -> Any:
        from indexer.serving import load_compact_tokenizer

        # The compact form `shisaku index` prepares in the model cache: the same ids, ~0.1 s.
        sha256 = str(self._files.get(SENTENCEPIECE_FILE, {}).get("sha256", ""))
        compact = load_compact_tokenizer(self.onnx_dir.parent, sha256)
        if compact is not None:
            return compact
        import sentencepiece

        path = self.onnx_dir / SENTENCEPIECE_FILE
        if not path.is_file():
            raise _missing(self.onnx_dir, f"{SENTENCEPIECE_FILE} is missing")
        try:
            return sentencepiece.SentencePieceProcessor(model_file=str(path))
        except Exception as exc:  # sentencepiece raises a bare RuntimeError/OSError
            raise _missing(self.onnx_dir, f"{SENTENCEPIECE_FILE} is unreadable ({exc})") from None

    def _load_session(self) -> Any:
        import onnxruntime as ort

        if not self.path.is_file():
            raise _missing(self.onnx_dir, f"{self.path.name} is missing")
        options = session_options(self.threads, self.spin_us)
        try:
            return ort.InferenceSession(
                str(self.path),
                options,
                providers=["CPUExecutionProvider"],
                disabled_optimizers=list(DISABLED_OPTIMIZERS),
            )
        except Exception as exc:  # onnxruntime raises its own non-OSError types
            raise _missing(self.onnx_dir, f"{self.path.name} cannot be loaded ({exc})") from None

    @property
    def fingerprint(self) -> str:
        """The source model's weight fingerprint (what the index manifest records)."""
        return self._source_fingerprint

    @property
    def onnx_fingerprint(self) -> str:
        """sha256 of the loaded .onnx file, as recorded by the export (no hashing at start)."""
        return str(self._files.get(self.path.name, {}).get("sha256", ""))

    def features(self, texts: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The session's inputs padded to the batch's longest text, and the attention mask:
        ``<s> pieces… </s>``, truncated to the model's maximum length, as the model's own
        tokenizer does."""
        pieces = self._tokenizer.encode(texts)
        keep = self.max_seq_length - 2
        encoded = [[self._bos_id, *ids[:keep], self._eos_id] for ids in pieces]
        length = max(len(ids) for ids in encoded)
        ids = np.full((len(texts), length), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.int64)
        for row, row_ids in enumerate(encoded):
            ids[row, : len(row_ids)] = row_ids
            mask[row, : len(row_ids)] = 1
        available = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {name: available[name] for name in self._input_names}, mask

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        texts = [prompt + text for text in texts]
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = []
        for start in range(0, len(texts), self.batch_size):
            feeds, mask = self.features(texts[start : start + self.batch_size])
            hidden = self._session.run([OUTPUT_NAME], feeds)[0]
            out.append(mean_pool_normalise(hidden, mask))
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), self.query_prompt)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), self.passage_prompt)

    def __repr__(self) -> str:
        return (
            f"OnnxQueryEncoder(name={self.name!r}, path={str(self.path)!r}, "
            f"precision={self.precision!r}, threads={self.threads}, spin_us={self.spin_us})"
        )
