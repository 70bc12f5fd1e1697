"""ONNX export of the e5 model and the torch-free query encoder: fidelity, errors, idempotence."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer import onnx_export
from indexer.embed import Encoder
from indexer.onnx_export import (
    FP32_FILE,
    INT8_DATA_FILE,
    INT8_FILE,
    ONNX_CONFIG,
    SENTENCEPIECE_FILE,
    TOKENIZER_FILE,
    OnnxExportError,
    OnnxModels,
    ensure_onnx,
    export_onnx,
    externalize_weights,
    onnx_dir_for,
)
from service.query_encoder import OnnxModelMissing, OnnxQueryEncoder

ROOT = Path(__file__).resolve().parents[1]

TEXTS = [
    "特定技能2号の分野は?",
    "外国人材の受入れ・共生のための総合的対応策に基づき、政府は関係省庁と連携して、"
    "日本語教育の充実、生活環境の整備及び相談体制の強化等の施策を着実に実施している。",
    "Ｔｅｓｔ　全角ＡＢＣ１２３～ ｶﾞｷﾞ① tab\tand  double   spaces\n改行",
    "Which fields are covered by Specified Skilled Worker (ii)?",
    "難民認定" * 400,  # longer than 512 tokens: truncated alike
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def onnx_models(e5_model_dir: Path) -> OnnxModels:
    """The session's converted model exported once, beside it (as the service would)."""
    return ensure_onnx(e5_model_dir)


def linked_copy(folder: Path, dest: Path) -> Path:
    """A copy of an export folder with hard-linked model files (the config is a real copy)."""
    dest.mkdir()
    for path in folder.iterdir():
        if path.name == ONNX_CONFIG:
            shutil.copyfile(path, dest / path.name)
        else:
            os.link(path, dest / path.name)
    return dest


@pytest.mark.slow
def test_export_folder_is_complete(onnx_models: OnnxModels, e5_model_dir: Path, e5_encoder) -> None:
    assert onnx_models.folder == onnx_dir_for(e5_model_dir)
    assert {p.name for p in onnx_models.folder.iterdir()} == {
        FP32_FILE,
        INT8_FILE,
        INT8_DATA_FILE,
        TOKENIZER_FILE,
        SENTENCEPIECE_FILE,
        ONNX_CONFIG,
    }
    config = json.loads(onnx_models.config.read_text())
    assert config["inputs"] == ["input_ids", "attention_mask"]  # the e5 tokenizer has no type ids
    assert config["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert (config["dimension"], config["max_seq_length"], config["pooling"]) == (384, 512, "mean")
    assert config["normalize"] is True
    assert onnx_models.fp32_sha256 == onnx_export.sha256_file(onnx_models.fp32)
    assert onnx_models.int8_sha256 == onnx_export.sha256_file(onnx_models.int8)
    assert onnx_models.int8.stat().st_size < onnx_models.fp32.stat().st_size / 3
    # Every MatMul of the int8 graph is quantised; the feed-forward output projections are
    # smoothed first (a Mul before each), and the export records how.
    import onnx

    int8 = onnx.load(str(onnx_models.int8), load_external_data=False).graph
    assert not [n.name for n in int8.node if n.op_type == "MatMul" and "/dense/" in n.name]
    assert sum(n.name.endswith("/output/dense/MatMul/Smooth") for n in int8.node) == 12
    assert config["quantization"]["smoothquant"]["alpha"] == onnx_export.SMOOTH_ALPHA
    # Each layer's query, key and value products are one MatMulInteger (indexer/onnx_fuse.py).
    assert config["quantization"]["fused_matmul_groups"] == 12
    assert sum(n.op_type == "MatMulInteger" for n in int8.node) == 12 * 4
    assert sum(n.op_type == "Split" for n in int8.node) == 12
    assert not (onnx_models.folder / onnx_export.SMOOTHED_FILE).exists()
    # Outside the sentence-transformers folder, whose fingerprint is therefore unchanged.
    assert not list(e5_model_dir.rglob("*.onnx"))
    assert onnx_models.source_fingerprint == e5_encoder.fingerprint
    assert not [p for p in e5_model_dir.parent.iterdir() if p.suffix in (".tmp", ".old")]


@pytest.mark.slow
def test_fp32_matches_sentence_transformers(onnx_models: OnnxModels, e5_encoder) -> None:
    encoder = OnnxQueryEncoder(onnx_models.folder, "fp32")
    queries = encoder.encode_queries(TEXTS)
    assert queries.shape == (len(TEXTS), 384) and queries.dtype == np.float32
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    assert cosines(queries, e5_encoder.encode_queries(TEXTS)).min() > 0.9999
    passages = encoder.encode_passages(TEXTS)
    assert cosines(passages, e5_encoder.encode_passages(TEXTS)).min() > 0.9999
    singles = np.vstack([encoder.encode_queries([text]) for text in TEXTS])
    assert cosines(singles, queries).min() > 0.9999  # padding does not leak into the mean


@pytest.mark.slow
def test_int8_is_close_to_sentence_transformers(onnx_models: OnnxModels, e5_encoder) -> None:
    encoder = OnnxQueryEncoder(onnx_models.folder, "int8")
    singles = np.vstack([encoder.encode_queries([text]) for text in TEXTS])
    assert cosines(singles, e5_encoder.encode_queries(TEXTS)).min() > 0.98
    passages = encoder.encode_passages(TEXTS)
    assert cosines(passages, e5_encoder.encode_passages(TEXTS)).min() > 0.98


@pytest.mark.slow
def test_encoder_protocol_and_fingerprints(onnx_models: OnnxModels, e5_encoder) -> None:
    encoder = OnnxQueryEncoder(onnx_models.folder, "int8", threads=1)
    assert isinstance(encoder, Encoder)
    assert encoder.name == e5_encoder.name
    assert encoder.dimension == e5_encoder.dimension == 384
    assert encoder.fingerprint == e5_encoder.fingerprint  # the index manifest still matches
    assert encoder.onnx_fingerprint == onnx_models.int8_sha256
    assert encoder.path == onnx_models.int8
    empty = encoder.encode_queries([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert OnnxQueryEncoder(onnx_models.folder, "fp32").onnx_fingerprint == onnx_models.fp32_sha256


@pytest.mark.slow
def test_idle_threads_spin_briefly_or_not_at_all(onnx_models: OnnxModels) -> None:
    def entry(encoder: OnnxQueryEncoder, key: str) -> str:
        options = encoder._session.get_session_options()
        return str(options.get_session_config_entry(f"session.intra_op.{key}"))

    two = OnnxQueryEncoder(onnx_models.folder, "int8", threads=2)
    assert (entry(two, "allow_spinning"), entry(two, "spin_duration_us")) == ("1", "100")
    asleep = OnnxQueryEncoder(onnx_models.folder, "int8", threads=2, spin_us=0)
    assert entry(asleep, "allow_spinning") == "0"
    assert np.allclose(two.encode_queries(TEXTS[:2]), asleep.encode_queries(TEXTS[:2]), atol=1e-6)


@pytest.mark.slow
def test_encoding_does_not_import_torch(onnx_models: OnnxModels) -> None:
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from service.query_encoder import OnnxQueryEncoder\n"
        f"encoder = OnnxQueryEncoder(Path({str(onnx_models.folder)!r}), 'int8')\n"
        "vectors = encoder.encode_queries(['特定技能2号の分野は?', 'refugee recognition'])\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers')\n"
        "print(json.dumps({'shape': list(vectors.shape),\n"
        "                  'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"shape": [2, 384], "loaded": []}


@pytest.mark.slow
@pytest.mark.parametrize("missing", [INT8_FILE, SENTENCEPIECE_FILE, ONNX_CONFIG])
def test_missing_file_names_folder_and_fix(
    onnx_models: OnnxModels, tmp_path: Path, missing: str
) -> None:
    folder = linked_copy(onnx_models.folder, tmp_path / "broken-onnx")
    (folder / missing).unlink()
    with pytest.raises(OnnxModelMissing) as caught:
        OnnxQueryEncoder(folder, "int8")
    message = str(caught.value)
    assert str(folder) in message and missing in message and "shisaku index" in message


def test_missing_folder_or_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    absent = tmp_path / "nowhere-onnx"
    with pytest.raises(OnnxModelMissing, match="does not exist.*shisaku index"):
        OnnxQueryEncoder(absent, "int8")
    absent.mkdir()
    (absent / ONNX_CONFIG).write_text("{not json")
    with pytest.raises(OnnxModelMissing, match="unreadable.*shisaku index") as caught:
        OnnxQueryEncoder(absent, "fp32")
    assert str(absent) in str(caught.value)
    with pytest.raises(ValueError, match="precision"):
        OnnxQueryEncoder(absent, "int4")  # type: ignore[arg-type]


@pytest.mark.slow
def test_ensure_onnx_reexports_only_when_the_source_changed(
    onnx_models: OnnxModels,
    e5_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exports: list[Path] = []

    def no_export(model_dir: Path, out_dir: Path, fingerprint: str) -> OnnxModels:
        exports.append(out_dir)
        return onnx_models

    before = onnx_models.fp32.stat().st_mtime_ns
    monkeypatch.setattr(onnx_export, "_export_unlocked", no_export)
    assert ensure_onnx(e5_model_dir) == onnx_models
    assert ensure_onnx(e5_model_dir, onnx_models.folder) == onnx_models
    assert exports == [] and onnx_models.fp32.stat().st_mtime_ns == before

    stale = linked_copy(onnx_models.folder, tmp_path / "stale-onnx")
    config = json.loads((stale / ONNX_CONFIG).read_text())
    config["source"]["fingerprint"] = "0" * 64  # exported from other weights
    (stale / ONNX_CONFIG).write_text(json.dumps(config))
    ensure_onnx(e5_model_dir, stale)
    assert exports == [stale]


# --- atomic writes, without the real model --------------------------------------------------


def fake_model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "tiny-e5"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def fake_write_export(model_dir: Path, work: Path, fingerprint: str) -> dict[str, Any]:
    files = {}
    for name in (FP32_FILE, INT8_FILE, INT8_DATA_FILE, TOKENIZER_FILE, SENTENCEPIECE_FILE):
        (work / name).write_bytes(name.encode())
        files[name] = {"sha256": onnx_export.sha256_file(work / name), "bytes": len(name)}
    config = {"format": onnx_export.EXPORT_FORMAT, "source": {"fingerprint": fingerprint}}
    config["files"] = files
    (work / ONNX_CONFIG).write_text(json.dumps(config))
    return config


def test_export_replaces_atomically_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = fake_model_dir(tmp_path)
    out_dir = onnx_dir_for(model_dir)
    abandoned = out_dir.parent / f".{out_dir.name}.999999999.x1y2.tmp"  # no such process
    abandoned.mkdir()
    monkeypatch.setattr(onnx_export, "_write_export", fake_write_export)
    first = export_onnx(model_dir, out_dir)
    assert first.source_fingerprint == onnx_export.model_fingerprint(model_dir)
    assert not abandoned.exists()

    def killed(model_dir: Path, work: Path, fingerprint: str) -> dict[str, Any]:
        (work / FP32_FILE).write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_export, "_write_export", killed)
    with pytest.raises(KeyboardInterrupt):
        export_onnx(model_dir, out_dir)
    assert (out_dir / FP32_FILE).read_bytes() == FP32_FILE.encode()  # the previous export
    leftovers = [p.name for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}")]
    assert leftovers == [f".{out_dir.name}.lock"]

    (model_dir / "model.safetensors").write_bytes(b"new weights")
    monkeypatch.setattr(onnx_export, "_write_export", fake_write_export)
    second = ensure_onnx(model_dir)  # stale: re-exported in place
    assert second.source_fingerprint != first.source_fingerprint
    assert onnx_export.read_onnx_config(out_dir) is not None
    assert ensure_onnx(model_dir) == second


def test_export_refuses_a_folder_inside_the_model(tmp_path: Path) -> None:
    model_dir = fake_model_dir(tmp_path)
    with pytest.raises(OnnxExportError, match="fingerprint"):
        export_onnx(model_dir, model_dir / "onnx")


def test_externalized_weights_are_aligned_and_give_the_same_output(tmp_path: Path) -> None:
    """The int8 model's weights move to a data file at 64 KB-aligned offsets (onnxruntime maps
    them instead of copying); the graph records the data file's SHA-1, so its own sha256
    changes with the weights; the outputs do not change."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    big = [rng.standard_normal((64, 64)).astype(np.float32) for _ in range(2)]
    small = np.ones((1, 64), dtype=np.float32)  # under 4 KB: stays in the graph
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w0"], ["h"]),
            helper.make_node("MatMul", ["h", "w1"], ["g"]),
            helper.make_node("Add", ["g", "b"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [numpy_helper.from_array(big[0], "w0"), numpy_helper.from_array(big[1], "w1")]
        + [numpy_helper.from_array(small, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    x = rng.standard_normal((1, 64)).astype(np.float32)
    before = ort.InferenceSession(str(path)).run(None, {"x": x})[0]

    data = externalize_weights(path, "m.onnx.data")
    saved = onnx.load(str(path), load_external_data=False)
    entries = {t.name: {e.key: e.value for e in t.external_data} for t in saved.graph.initializer}
    assert set(entries["w0"]) == {"location", "offset", "length", "checksum"}
    assert entries["b"] == {}  # small tensors stay inline
    assert all(int(entries[n]["offset"]) % 65_536 == 0 for n in ("w0", "w1"))
    assert entries["w0"]["location"] == "m.onnx.data" and data == tmp_path / "m.onnx.data"
    assert path.stat().st_size < 4096 < data.stat().st_size
    after = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    assert np.array_equal(before, after)


def tiny_ffn_model(rng: np.random.Generator) -> Any:
    """hidden → Relu → a feed-forward output projection named as in the e5 export (and an
    attention output projection, which is not one) → output; attention_mask is an input."""
    from onnx import TensorProto, helper, numpy_helper

    ffn = "/model/encoder/layer.0/output/dense/MatMul"
    attention = "/model/encoder/layer.0/attention/output/dense/MatMul"
    weight = rng.standard_normal((8, 4)).astype(np.float32)
    square = rng.standard_normal((4, 4)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["hidden"], ["act"], name="/act"),
            helper.make_node("MatMul", ["act", "w"], ["proj"], name=ffn),
            helper.make_node("MatMul", ["proj", "a"], ["out"], name=attention),
            helper.make_node("Cast", ["attention_mask"], ["unused"], to=TensorProto.FLOAT),
        ],
        "tiny",
        [
            helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["b", "s", 8]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", "s", 4])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(square, "a")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_smoothing_keeps_the_fp32_output_and_moves_channel_scale_into_the_weight() -> None:
    """SmoothQuant on the feed-forward output projection: a Mul by 1/s before the MatMul, the
    weight's rows times s, so the fp32 output is unchanged; s follows the calibrated channel
    maxima over real tokens only (padding is ignored); other MatMuls are left alone."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    rng = np.random.default_rng(1)
    model = tiny_ffn_model(rng)
    hidden = rng.standard_normal((2, 3, 8)).astype(np.float32)
    hidden[:, :, 5] *= 40.0  # an outlier channel, as GELU outputs have
    mask = np.array([[1, 1, 1], [1, 1, 0]], dtype=np.int64)
    padded = hidden.copy()
    padded[1, 2, :] = 1000.0  # a padding position: must not count
    feeds: dict[str, np.ndarray] = {"hidden": padded, "attention_mask": mask}

    def run(m: Any) -> np.ndarray:
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return np.asarray(session.run(["out"], feeds)[0])

    before = run(model)
    original = numpy_helper.to_array(model.graph.initializer[0]).copy()
    onnx_export.smooth_ffn_outputs(model, [feeds], alpha=0.5)
    onnx.checker.check_model(model)  # still valid, nodes in topological order
    assert np.allclose(run(model), before, rtol=1e-5, atol=1e-4)

    ops = [(node.op_type, node.name) for node in model.graph.node]
    ffn = "/model/encoder/layer.0/output/dense/MatMul"
    assert ops.index(("Mul", ffn + "/Smooth")) == ops.index(("MatMul", ffn)) - 1
    assert sum(op == "Mul" for op, _ in ops) == 1  # the attention projection is not smoothed
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    x_max = np.abs(np.maximum(hidden, 0)[mask.astype(bool)]).max(axis=0)
    w_max = np.abs(original).max(axis=1)
    scale = np.sqrt(np.maximum(x_max, 1e-5)) / np.sqrt(np.maximum(w_max, 1e-5))
    assert np.allclose(weights["w"], original * scale[:, None], rtol=1e-5)
    assert np.allclose(weights[ffn + "/smooth"], 1 / scale, rtol=1e-5)
    assert scale[5] == scale.max()  # the outlier channel is scaled down the most


def test_smoothing_needs_a_feed_forward_projection() -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "none",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OnnxExportError, match="feed-forward"):
        onnx_export.smooth_ffn_outputs(model, [], alpha=0.85)


def tiny_quantised_attention(rng: np.random.Generator, branches: int = 3) -> Any:
    """What dynamic quantisation makes of ``branches`` projections of one input (as the query,
    key and value of an attention layer): one DynamicQuantizeLinear, then per branch
    MatMulInteger → Cast → Mul(input scale × per-column weight scale) → Add(bias), each
    branch's output used on its own."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="dq")]
    inits, outputs = [], []
    for i in range(branches):
        w = rng.integers(-127, 128, size=(8, 4), dtype=np.int8)
        inits += [
            numpy_helper.from_array(w, f"w{i}"),
            numpy_helper.from_array(np.zeros(4, dtype=np.int8), f"wz{i}"),
            numpy_helper.from_array(rng.uniform(0.01, 0.1, 4).astype(np.float32), f"ws{i}"),
            numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), f"b{i}"),
        ]
        nodes += [
            helper.make_node("Mul", ["xs", f"ws{i}"], [f"s{i}"], name=f"scales{i}"),
            helper.make_node(
                "MatMulInteger", ["xq", f"w{i}", "xz", f"wz{i}"], [f"i{i}"], name=f"mm{i}"
            ),
            helper.make_node("Cast", [f"i{i}"], [f"f{i}"], to=TensorProto.FLOAT, name=f"cast{i}"),
            helper.make_node("Mul", [f"f{i}", f"s{i}"], [f"m{i}"], name=f"mul{i}"),
            helper.make_node("Add", [f"b{i}", f"m{i}"], [f"y{i}"], name=f"add{i}"),
            helper.make_node("Relu", [f"y{i}"], [f"out{i}"], name=f"use{i}"),
        ]
        outputs.append(helper.make_tensor_value_info(f"out{i}", TensorProto.FLOAT, ["b", "s", 4]))
    graph = helper.make_graph(
        nodes,
        "attention",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 8])],
        outputs,
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_shared_input_matmuls_fuse_into_one_with_the_same_output() -> None:
    import onnx
    import onnxruntime as ort

    from indexer.onnx_fuse import fuse_shared_input_matmuls

    rng = np.random.default_rng(2)
    model = tiny_quantised_attention(rng)
    x = {"x": rng.standard_normal((2, 5, 8)).astype(np.float32)}

    def run(m: Any) -> list[np.ndarray]:
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return [np.asarray(out) for out in session.run(None, x)]

    before = run(model)
    assert fuse_shared_input_matmuls(model) == 1
    onnx.checker.check_model(model)  # valid, in topological order
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("MatMulInteger") == 1 and ops.count("Split") == 1
    assert not {"w0", "w1", "w2"} & {t.name for t in model.graph.initializer}
    after = run(model)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_a_lone_quantised_matmul_is_left_alone() -> None:
    from indexer.onnx_fuse import fuse_shared_input_matmuls

    model = tiny_quantised_attention(np.random.default_rng(3), branches=1)
    before = model.SerializeToString()
    assert fuse_shared_input_matmuls(model) == 0
    assert model.SerializeToString() == before


def test_calibration_texts_are_queries_and_passages() -> None:
    texts = onnx_export.calibration_texts()
    queries = [t for t in texts if t.startswith("query: ")]
    passages = [t for t in texts if t.startswith("passage: ")]
    assert len(queries) == len(passages) > 100 and len(texts) == 2 * len(queries)
    assert not any(text.split(": ", 1)[1].startswith("#") for text in texts)


def test_query_encoder_settings_reach_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    from service import engine, query_encoder
    from service.config import Settings, load_settings
    from service.errors import ConfigError

    made: list[dict[str, Any]] = []

    def record(onnx_dir: Path, precision: str, **kwargs: Any) -> str:
        made.append({"precision": precision, **kwargs})
        return "encoder"

    monkeypatch.setattr(query_encoder, "OnnxQueryEncoder", record)
    engine.load_query_encoder(Settings(query_threads=2, query_spin_us=0))
    engine.load_query_encoder(Settings())
    assert [(m["threads"], m["spin_us"], m["batch_size"]) for m in made] == [(2, 0, 1), (1, 100, 1)]
    monkeypatch.setenv("SHISAKU_QUERY_SPIN_US", "-1")
    with pytest.raises(ConfigError, match="SHISAKU_QUERY_SPIN_US"):
        load_settings()
