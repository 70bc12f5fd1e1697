"""Export a sentence-transformers e5 folder to ONNX (fp32 + int8) for a torch-free query path."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from indexer.embed import weight_files, weights_fingerprint
from indexer.errors import EncoderLoadError
from indexer.manifest import sha256_file
from indexer.sentencepiece_model import check_same_ids, write_sentencepiece_model

logger = logging.getLogger(__name__)

Precision = Literal["int8", "fp32"]
WeightType = Literal["QInt8", "QUInt8"]

ONNX_CONFIG = "onnx_config.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
# The int8 model's weights, page-aligned beside its graph: onnxruntime maps them instead of
# copying them (session load ~0.2 s instead of ~0.8 s; ~100 MB less peak memory, and the
# embedding rows no query uses are never read).
INT8_DATA_FILE = INT8_FILE + ".data"
TOKENIZER_FILE = "tokenizer.json"
SENTENCEPIECE_FILE = "tokenizer.model"  # the same tokenizer, compact (serving)
ONNX_SUFFIX = "-onnx"
OPSET = 17
# Bump when the export recipe changes (graph, quantisation, config keys): ensure_onnx re-exports.
EXPORT_FORMAT = 6
OUTPUT_NAME = "last_hidden_state"
DEFAULT_QUERY_PROMPT = "query: "
DEFAULT_PASSAGE_PROMPT = "passage: "
# SmoothQuant's migration strength for the feed-forward output projections, and the texts
# that calibrate it (indexer/vocab; BENCHMARKS.md "The lean query path" has the choice).
SMOOTH_ALPHA = 0.85
CALIBRATION_FILE = "e5_calibration.txt"
SMOOTHED_FILE = "model-smoothed.onnx"  # the fp32 graph, smoothed: quantised, then deleted

# Every file of an export folder (onnx_config.json records each one's sha256 and size).
_EXPORT_FILES = (FP32_FILE, INT8_FILE, INT8_DATA_FILE, TOKENIZER_FILE, SENTENCEPIECE_FILE)

# Checked once per export on a padded batch against sentence-transformers itself.
_FP32_MIN_COSINE = 0.9999
_INT8_MIN_COSINE = 0.98
_CHECK_TEXTS = [
    "query: 特定技能2号の分野は?",
    "passage: 外国人材の受入れ・共生のための総合的対応策に基づき、政府は関係省庁と連携して、"
    "日本語教育の充実、生活環境の整備及び相談体制の強化等の施策を着実に実施している。",
    "query: Which fields are covered by Specified Skilled Worker (ii)?",
]


class OnnxExportError(EncoderLoadError):
    """The model cannot be exported to ONNX, or the exported graph disagrees with torch."""


@dataclass(frozen=True)
class OnnxModels:
    """An exported ONNX folder: its files and their sha256 fingerprints."""

    folder: Path
    fp32: Path
    int8: Path
    tokenizer: Path
    config: Path
    fp32_sha256: str
    int8_sha256: str
    source_fingerprint: str  # == SentenceTransformerEncoder.fingerprint of the source folder

    def model_path(self, precision: Precision) -> Path:
        return self.int8 if precision == "int8" else self.fp32

    def model_sha256(self, precision: Precision) -> str:
        return self.int8_sha256 if precision == "int8" else self.fp32_sha256


def onnx_dir_for(model_dir: Path) -> Path:
    """Where the ONNX export of ``model_dir`` lives: a sibling ``<name>-onnx`` folder.

    Never inside ``model_dir``: the torch encoder's fingerprint hashes every weight file
    (``.onnx`` included) under its folder, so an export there would change it.
    """
    model_dir = Path(model_dir)
    return model_dir.parent / f"{model_dir.name}{ONNX_SUFFIX}"


def model_fingerprint(model_dir: Path) -> str:
    """The fingerprint SentenceTransformerEncoder reports for ``model_dir`` (its weight files)."""
    model_dir = Path(model_dir)
    return weights_fingerprint(weight_files(model_dir), model_dir)


def mean_pool_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Attention-masked mean over tokens, then L2 normalisation: float32 (batch, dim)."""
    weights = mask.astype(np.float32)[..., None]
    summed = (hidden.astype(np.float32) * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


def read_onnx_config(out_dir: Path) -> dict[str, Any] | None:
    """The ``onnx_config.json`` of an export folder, or None if absent or unreadable."""
    try:
        data = json.loads((Path(out_dir) / ONNX_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _models_from_config(out_dir: Path, config: dict[str, Any]) -> OnnxModels:
    files = config["files"]
    return OnnxModels(
        folder=out_dir,
        fp32=out_dir / FP32_FILE,
        int8=out_dir / INT8_FILE,
        tokenizer=out_dir / TOKENIZER_FILE,
        config=out_dir / ONNX_CONFIG,
        fp32_sha256=str(files[FP32_FILE]["sha256"]),
        int8_sha256=str(files[INT8_FILE]["sha256"]),
        source_fingerprint=str(config["source"]["fingerprint"]),
    )


def _is_current(out_dir: Path, config: dict[str, Any] | None, fingerprint: str) -> bool:
    """The recorded export matches this source and recipe and all its files are whole."""
    if config is None or config.get("format") != EXPORT_FORMAT:
        return False
    try:
        if config["source"]["fingerprint"] != fingerprint:
            return False
        files = config["files"]
        for name in _EXPORT_FILES:
            if (out_dir / name).stat().st_size != int(files[name]["bytes"]):
                return False
    except (KeyError, TypeError, ValueError, OSError):
        return False
    return True


def _st_prompts(model_dir: Path) -> dict[str, str]:
    """Query/passage prompts from config_sentence_transformers.json, else the e5 defaults."""
    prompts: dict[str, Any] = {}
    path = model_dir / "config_sentence_transformers.json"
    with contextlib.suppress(OSError, ValueError, AttributeError):
        prompts = dict(json.loads(path.read_text(encoding="utf-8")).get("prompts") or {})
    query = prompts.get("query", DEFAULT_QUERY_PROMPT)
    passage = prompts.get("passage", prompts.get("document", DEFAULT_PASSAGE_PROMPT))
    return {"query": str(query or ""), "passage": str(passage or "")}


def _quiet_quantizer(record: logging.LogRecord) -> bool:
    """Drop onnxruntime.quantization's root-logger notes and advice below ERROR."""
    from_quantizer = "onnxruntime" in record.pathname and "quantization" in record.pathname
    return not from_quantizer or record.levelno >= logging.ERROR


def ffn_output_projections(graph: Any) -> list[Any]:
    """Each layer's feed-forward output projection (``…/output/dense/MatMul``, 1536→384)."""
    return [
        node
        for node in graph.node
        if node.op_type == "MatMul"
        and node.name.endswith("/output/dense/MatMul")
        and "/attention/" not in node.name
    ]


def calibration_texts() -> list[str]:
    """indexer/vocab/e5_calibration.txt, each line as a query and as a passage."""
    path = Path(__file__).with_name("vocab") / CALIBRATION_FILE
    lines = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [
        prompt + line for prompt in (DEFAULT_QUERY_PROMPT, DEFAULT_PASSAGE_PROMPT) for line in lines
    ]


Batch = dict[str, np.ndarray]  # a session's feeds (input_ids, attention_mask, …)


def activation_maxima(model: Any, names: list[str], batches: list[Batch]) -> dict[str, np.ndarray]:
    """The largest absolute value of each channel (last axis) of the tensors ``names`` of the
    fp32 ``model`` (an onnx.ModelProto, left unchanged) over the real tokens of ``batches``."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in names:
        probe.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    del probe
    maxima: dict[str, np.ndarray] = {}
    for feeds in batches:
        real = feeds["attention_mask"].astype(bool)
        for name, value in zip(names, session.run(names, feeds)):
            top = np.abs(value[real]).max(axis=0)
            maxima[name] = top if name not in maxima else np.maximum(maxima[name], top)
    return maxima


def smooth_ffn_outputs(model: Any, batches: list[Batch], alpha: float = SMOOTH_ALPHA) -> None:
    """SmoothQuant (Xiao et al., 2023) on each feed-forward output projection of the fp32
    ``model`` (an onnx.ModelProto, changed in place): its input's channel j is divided by
    s_j = max|X_j|^alpha / max|W_j|^(1 - alpha) (a Mul inserted before the MatMul) and the
    weight's row j multiplied by s_j. The product is unchanged in fp32; the activation's few
    large channels, which a per-tensor int8 scale cannot hold beside the small ones, move
    into the weights, which are quantised per column. ``batches`` calibrate max|X_j|."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    targets = ffn_output_projections(graph)
    if not targets:
        raise OnnxExportError("no feed-forward output projection found to smooth")
    maxima = activation_maxima(model, [node.input[0] for node in targets], batches)
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    users: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    scales: dict[str, Any] = {}
    for node in targets:
        weight_tensor = initializers.get(node.input[1])
        if weight_tensor is None or users[node.input[1]] != 1:
            raise OnnxExportError(f"{node.name}: the weight is not a constant of its own")
        weight = numpy_helper.to_array(weight_tensor).astype(np.float32)
        x_max = np.maximum(maxima[node.input[0]], 1e-5)
        w_max = np.maximum(np.abs(weight).max(axis=1), 1e-5)
        scale = (x_max**alpha / w_max ** (1.0 - alpha)).astype(np.float32)
        weight_tensor.CopyFrom(numpy_helper.from_array(weight * scale[:, None], weight_tensor.name))
        inverse = numpy_helper.from_array((1.0 / scale).astype(np.float32), node.name + "/smooth")
        graph.initializer.append(inverse)
        smoothed = node.input[0] + "/smoothed"
        scales[node.name] = onnx.helper.make_node(
            "Mul", [node.input[0], inverse.name], [smoothed], name=node.name + "/Smooth"
        )
        node.input[0] = smoothed
    ordered = []
    for node in graph.node:  # each Mul right before its MatMul: the order stays topological
        if node.name in scales:
            ordered.append(scales[node.name])
        ordered.append(node)
    del graph.node[:]
    graph.node.extend(ordered)


Tokenize = Callable[[list[str]], tuple[Batch, np.ndarray]]  # texts -> (feeds, attention mask)


def smooth_graph_for_int8(
    fp32_path: Path, out_path: Path, tokenize: Tokenize, alpha: float = SMOOTH_ALPHA
) -> None:
    """Write ``fp32_path`` with its feed-forward output projections smoothed
    (smooth_ffn_outputs) to ``out_path``, calibrated on calibration_texts()."""
    import onnx

    texts = sorted(calibration_texts(), key=len)  # batches of similar lengths: little padding
    batches = [tokenize(texts[i : i + 16])[0] for i in range(0, len(texts), 16)]
    model = onnx.load(str(fp32_path))
    smooth_ffn_outputs(model, batches, alpha)
    onnx.save(model, str(out_path))


def quantize_int8(
    fp32_path: Path,
    int8_path: Path,
    *,
    per_channel: bool = True,
    weight_type: WeightType = "QInt8",
    keep_ffn_output: bool = False,
) -> None:
    """Dynamic int8 quantisation of the MatMuls and the embedding Gathers of ``fp32_path``.

    Per-channel signed int8 is the measured best for e5-small (closest to fp32 and fastest
    on x86 CPUs). Each layer's feed-forward output projection (``…/output/dense/MatMul``,
    the 1536→384 one) carries most of the quantisation error (mean cosine to fp32 0.9968
    with it quantised as is): the export smooths it first (smooth_graph_for_int8), which
    brings the ranking back to the torch model's with every MatMul int8 (BENCHMARKS.md).
    ``keep_ffn_output`` leaves those projections in fp32 instead (the previous recipe: as
    faithful, ~3 ms more per query). The other settings exist for the benchmarks.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = []
    if keep_ffn_output:
        graph = onnx.load(str(fp32_path), load_external_data=False).graph
        excluded = [node.name for node in ffn_output_projections(graph)]

    root = logging.getLogger()
    root.addFilter(_quiet_quantizer)  # it logs per-node notes on the root logger
    try:
        quantize_dynamic(
            str(fp32_path),
            str(int8_path),
            per_channel=per_channel,
            reduce_range=False,
            weight_type=QuantType.QInt8 if weight_type == "QInt8" else QuantType.QUInt8,
            nodes_to_exclude=excluded,
        )
    finally:
        root.removeFilter(_quiet_quantizer)


def fuse_int8_matmuls(int8_path: Path, tokenize: Tokenize) -> int:
    """Fuse the int8 MatMuls of ``int8_path`` that share a quantised input (the attention's
    query, key and value: indexer.onnx_fuse) when the fused graph gives exactly the same
    output on a padded batch of _CHECK_TEXTS; the number of groups fused (0: file unchanged)."""
    import onnx
    import onnxruntime as ort

    from indexer.onnx_fuse import fuse_shared_input_matmuls

    model = onnx.load(str(int8_path))
    fused = fuse_shared_input_matmuls(model)
    if not fused:
        return 0
    candidate = int8_path.with_name(int8_path.name + ".fused")
    onnx.save(model, str(candidate))
    feeds, _ = tokenize(_CHECK_TEXTS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    outputs = [
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(
            [OUTPUT_NAME], feeds
        )[0]
        for path in (int8_path, candidate)
    ]
    if not np.array_equal(outputs[0], outputs[1]):
        candidate.unlink()
        logger.warning("the fused int8 graph differs from the unfused one; kept unfused")
        return 0
    candidate.replace(int8_path)
    return fused


_WEIGHT_ALIGNMENT = 65_536  # a multiple of every page size and allocation granularity
_EXTERNAL_MIN_BYTES = 4096


def externalize_weights(model_path: Path, data_name: str) -> Path:
    """Move the initializers of ``model_path`` (those of 4 KB or more) into ``data_name``
    beside it, each at a 64 KB-aligned offset, so that onnxruntime memory-maps them.

    Every moved tensor records the SHA-1 of the data file (the ONNX ``checksum`` key), so the
    graph file's own sha256 also covers the weights. Returns the data file's path.
    """
    import hashlib

    import onnx
    from onnx import TensorProto

    model = onnx.load(str(model_path))
    data_path = model_path.parent / data_name
    moved = []
    with open(data_path, "wb") as data:
        for tensor in model.graph.initializer:
            if tensor.data_location == TensorProto.EXTERNAL or (
                len(tensor.raw_data) < _EXTERNAL_MIN_BYTES
            ):
                continue
            data.write(b"\0" * (-data.tell() % _WEIGHT_ALIGNMENT))
            offset = data.tell()
            data.write(tensor.raw_data)
            moved.append((tensor, offset, len(tensor.raw_data)))
            tensor.ClearField("raw_data")
    digest = hashlib.sha1()
    with open(data_path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    for tensor, offset, length in moved:
        del tensor.external_data[:]
        entries = (data_name, str(offset), str(length), digest.hexdigest())
        for key, value in zip(("location", "offset", "length", "checksum"), entries):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        tensor.data_location = TensorProto.EXTERNAL
    onnx.save(model, str(model_path))
    return data_path


def _load_st_model(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        # Eager attention traces to plain MatMul/Softmax that onnxruntime fuses itself.
        model = SentenceTransformer(
            str(model_dir),
            device="cpu",
            local_files_only=True,
            model_kwargs={"attn_implementation": "eager"},
        )
    except Exception as exc:
        raise OnnxExportError(
            f"{model_dir} is not a loadable sentence-transformers model ({exc})"
        ) from exc
    model.eval()
    return model


def _check_architecture(model: Any, model_dir: Path) -> tuple[Any, bool]:
    """The Transformer module and whether a Normalize module follows; only mean pooling.

    Modules are told apart by class name: their import path moved within sentence-transformers 5.
    """
    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    if not kinds or kinds[0] != "Transformer" or not hasattr(modules[0], "auto_model"):
        raise OnnxExportError(f"{model_dir}: the first module is not a Transformer ({kinds})")
    if kinds.count("Pooling") != 1 or set(kinds[1:]) - {"Pooling", "Normalize"}:
        raise OnnxExportError(f"{model_dir}: unsupported modules {kinds}")
    pooling = modules[kinds.index("Pooling")]
    if getattr(pooling, "pooling_mode", "mean") != "mean" or not getattr(
        pooling, "pooling_mode_mean_tokens", True
    ):
        raise OnnxExportError(f"{model_dir}: only mean pooling is supported")
    if not getattr(pooling, "include_prompt", True):
        raise OnnxExportError(f"{model_dir}: pooling that excludes the prompt is not supported")
    return modules[0], "Normalize" in kinds


def _features(transformer: Any, input_names: list[str]) -> dict[str, Any]:
    """The check texts as a padded batch of torch tensors, by the model's own tokenizer."""
    encoded = transformer.tokenizer(
        _CHECK_TEXTS,
        padding=True,
        truncation=True,
        max_length=transformer.max_seq_length,
        return_tensors="pt",
    )
    return {name: encoded[name] for name in input_names}


def _export_graph(transformer: Any, input_names: list[str], path: Path) -> None:
    import torch

    auto_model = transformer.auto_model

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = auto_model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(input_names, inputs))).last_hidden_state

    features = _features(transformer, input_names)  # a padded batch: traces the masked path
    args = tuple(features[name] for name in input_names)
    axes = {name: {0: "batch", 1: "sequence"} for name in [*input_names, OUTPUT_NAME]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notes
        torch.onnx.export(
            LastHiddenState().eval(),
            args,
            str(path),
            input_names=input_names,
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _verify(model: Any, transformer: Any, input_names: list[str], paths: dict[str, Path]) -> None:
    """Run the exported graphs on a padded batch and compare with sentence-transformers."""
    import onnxruntime as ort

    expected = model.encode(
        _CHECK_TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    features = _features(transformer, input_names)
    feeds = {name: features[name].numpy().astype(np.int64) for name in input_names}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    for precision, floor in (("fp32", _FP32_MIN_COSINE), ("int8", _INT8_MIN_COSINE)):
        session = ort.InferenceSession(
            str(paths[precision]), options, providers=["CPUExecutionProvider"]
        )
        hidden = session.run([OUTPUT_NAME], feeds)[0]
        got = mean_pool_normalise(hidden, feeds["attention_mask"])
        cosine = float(np.min(np.sum(got * expected, axis=1)))
        logger.info("ONNX %s export check: min cosine to torch %.6f", precision, cosine)
        if cosine < floor:
            raise OnnxExportError(
                f"the exported {precision} graph disagrees with torch (cosine {cosine:.5f} "
                f"< {floor}); the export is not usable"
            )


def _dimension(model: Any) -> int:
    get_dim = getattr(model, "get_embedding_dimension", None)
    if get_dim is None:  # sentence-transformers < 5.2
        get_dim = model.get_sentence_embedding_dimension
    return int(get_dim())


def _file_record(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def _write_export(model_dir: Path, work: Path, fingerprint: str) -> dict[str, Any]:
    """Export, quantise, copy the tokenizer and write onnx_config.json into ``work``."""
    import torch

    tokenizer_src = model_dir / TOKENIZER_FILE
    if not tokenizer_src.is_file():
        raise OnnxExportError(f"{model_dir} has no {TOKENIZER_FILE} (a fast tokenizer is needed)")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = _load_st_model(model_dir)
        transformer, normalize = _check_architecture(model, model_dir)
        tokenizer = transformer.tokenizer
        input_names = ["input_ids", "attention_mask"]
        if "token_type_ids" in getattr(tokenizer, "model_input_names", ()):
            input_names.append("token_type_ids")
        paths = {"fp32": work / FP32_FILE, "int8": work / INT8_FILE}
        _export_graph(transformer, input_names, paths["fp32"])

        def tokenize(texts: list[str]) -> tuple[Batch, np.ndarray]:
            encoded = tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=transformer.max_seq_length,
                return_tensors="np",
            )
            feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in input_names}
            return feeds, feeds["attention_mask"]

        smoothed = work / SMOOTHED_FILE
        smooth_graph_for_int8(paths["fp32"], smoothed, tokenize, SMOOTH_ALPHA)
        quantize_int8(smoothed, paths["int8"])
        smoothed.unlink()
        fused = fuse_int8_matmuls(paths["int8"], tokenize)
        externalize_weights(paths["int8"], INT8_DATA_FILE)
        _verify(model, transformer, input_names, paths)
    finally:
        torch.set_num_threads(previous_threads)
    shutil.copyfile(tokenizer_src, work / TOKENIZER_FILE)
    write_sentencepiece_model(work / TOKENIZER_FILE, work / SENTENCEPIECE_FILE)
    check_same_ids(work / TOKENIZER_FILE, work / SENTENCEPIECE_FILE, _TOKENIZER_CHECKS)
    config = {
        "format": EXPORT_FORMAT,
        "source": {"folder": model_dir.name, "fingerprint": fingerprint},
        "opset": OPSET,
        "inputs": input_names,
        "output": OUTPUT_NAME,
        "dimension": _dimension(model),
        "max_seq_length": int(model.max_seq_length),
        "pooling": "mean",
        "normalize": bool(normalize),
        "prompts": _st_prompts(model_dir),
        "pad_token": str(tokenizer.pad_token),
        "pad_id": int(tokenizer.pad_token_id),
        "bos_id": int(tokenizer.cls_token_id),
        "eos_id": int(tokenizer.sep_token_id),
        "quantization": {
            "per_channel": True,
            "weight_type": "QInt8",
            "reduce_range": False,
            "smoothquant": {
                "alpha": SMOOTH_ALPHA,
                "nodes": "feed-forward output projections",
                "calibration": f"indexer/vocab/{CALIBRATION_FILE}",
            },
            "fused_matmul_groups": fused,
        },
        "files": {name: _file_record(work / name) for name in _EXPORT_FILES},
        "versions": _versions(),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (work / ONNX_CONFIG).write_text(json.dumps(config, indent=1), encoding="utf-8")
    return config


# The compact tokenizer must give the same ids as the model's own on these (and, checked in
# tests/test_query_encoder.py, on every question and passage of the report).
_TOKENIZER_CHECKS = [text.split(": ", 1)[1] for text in _CHECK_TEXTS] + [
    "出入国在留管理庁は、外国人材の受入れ・共生のための総合的対応策（令和６年度改訂）を公表した。",
    "ＤＸの推進とオンライン申請 ｅ-Ｇｏｖ、ＱＲコード、ＵＩ／ＵＸ（注１）～（注３）",
    "Can I renew my residence card online? FRESC, OTIT and the Nikkei yonsei programme.",
    "とくていぎのう ニッケイ４世 ヤサシイ日本語 ① ② ㈱ ｶﾀｶﾅ １２３ ＡＢＣ",
]


def _remove_abandoned(parent: Path, name: str) -> None:
    """Delete temporary export folders (``.NAME.PID.*.tmp`` / ``.old``) of dead exporters."""
    for candidate in parent.glob(f".{name}.*"):
        if candidate.suffix not in (".tmp", ".old") or not candidate.is_dir():
            continue
        try:
            os.kill(int(candidate.name[len(name) + 2 :].split(".", 1)[0]), 0)
            continue  # that export is still running
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        shutil.rmtree(candidate, ignore_errors=True)
        logger.info("removed abandoned ONNX export %s", candidate)


@contextlib.contextmanager
def _export_lock(out_dir: Path) -> Iterator[None]:
    """One exporter at a time per output folder (an advisory lock beside it)."""
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_out_dir(model_dir: Path, out_dir: Path) -> None:
    if out_dir.resolve().is_relative_to(model_dir.resolve()):
        raise OnnxExportError(
            f"{out_dir} is inside {model_dir}: the .onnx files would change the source "
            f"model's fingerprint; use a sibling folder such as {onnx_dir_for(model_dir)}"
        )


def _export_unlocked(model_dir: Path, out_dir: Path, fingerprint: str) -> OnnxModels:
    parent = out_dir.parent
    _remove_abandoned(parent, out_dir.name)
    started = time.perf_counter()
    work = Path(
        tempfile.mkdtemp(prefix=f".{out_dir.name}.{os.getpid()}.", suffix=".tmp", dir=parent)
    )
    aside: Path | None = None
    try:
        os.chmod(work, 0o755)
        config = _write_export(model_dir, work, fingerprint)
        if out_dir.exists():
            aside = work.with_suffix(".old")
            os.replace(out_dir, aside)
        os.replace(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if aside is not None and not out_dir.exists():
            os.replace(aside, out_dir)  # put the previous export back
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    models = _models_from_config(out_dir, config)
    logger.info(
        "exported %s to ONNX in %s (%.1f s; fp32 %.0f MB, int8 %.0f MB)",
        model_dir,
        out_dir,
        time.perf_counter() - started,
        models.fp32.stat().st_size / 1e6,
        (models.int8.stat().st_size + (out_dir / INT8_DATA_FILE).stat().st_size) / 1e6,
    )
    return models


def export_onnx(model_dir: Path, out_dir: Path) -> OnnxModels:
    """Export ``model_dir`` (a sentence-transformers folder) to ``out_dir``, replacing it.

    Writes ``model.onnx`` (fp32), ``model-int8.onnx`` (per-channel dynamic int8),
    ``tokenizer.json`` and ``onnx_config.json`` into a temporary sibling folder, checks both
    graphs against torch, then renames it into place: a killed export leaves no half folder.
    Needs torch and sentence-transformers (model-preparation time only).
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    _check_out_dir(model_dir, out_dir)
    fingerprint = model_fingerprint(model_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _export_lock(out_dir):
        return _export_unlocked(model_dir, out_dir, fingerprint)


def ensure_onnx(
    model_dir: Path, out_dir: Path | None = None, *, fingerprint: str | None = None
) -> OnnxModels:
    """The ONNX export of ``model_dir``, exported only if missing or stale.

    Stale means: the source weights' fingerprint (``fingerprint`` if the caller already has
    it, else hashed here) differs from the one recorded, the export recipe changed
    (EXPORT_FORMAT), or a file is missing or of the wrong size. ``out_dir`` defaults to
    ``onnx_dir_for(model_dir)``.
    """
    model_dir = Path(model_dir)
    out_dir = Path(out_dir) if out_dir is not None else onnx_dir_for(model_dir)
    _check_out_dir(model_dir, out_dir)
    fingerprint = fingerprint or model_fingerprint(model_dir)
    config = read_onnx_config(out_dir)
    if config is not None and _is_current(out_dir, config, fingerprint):
        return _models_from_config(out_dir, config)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _export_lock(out_dir):
        config = read_onnx_config(out_dir)  # another process may have exported meanwhile
        if config is not None and _is_current(out_dir, config, fingerprint):
            return _models_from_config(out_dir, config)
        logger.info("ONNX export of %s missing or stale; exporting to %s", model_dir, out_dir)
        return _export_unlocked(model_dir, out_dir, fingerprint)
