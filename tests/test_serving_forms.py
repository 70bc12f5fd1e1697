"""The fast-loading forms of the query models (indexer.unigram, indexer.serving) give what the
originals give: sentencepiece's ids, USE's vectors bit for bit; and start-up ordering."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.serving import (
    CHECK_TEXTS,
    load_compact_tokenizer,
    prepare_tokenizer,
    tokenizer_form_path,
)
from indexer.unigram import UnigramModelError, UnigramTokenizer

ROOT = Path(__file__).resolve().parents[1]

# Scripts, spacing, symbols, private-use and rare characters (unknown pieces), repeats (ties).
_RANGES = (
    (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
    (0x590, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F),
    (0x2190, 0x23FF), (0x3000, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3),
    (0xE000, 0xE0FF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x1F300, 0x1F6FF),
    (0x20000, 0x2A6DF), (0x9, 0xD),
)  # fmt: skip
_SPECIAL = (" ", "  ", "\t", "\u3000", "\n", "\u00a0", "\u2581", "zzzzzzzz", "ーーー", "!!!!")


def random_texts(count: int, words: list[str], extra: tuple[str, ...] = (), seed: int = 0):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 40)):
            r = rng.random()
            if r < 0.15 and words:
                parts.append(rng.choice(words))
            elif r < 0.22:
                parts.append(rng.choice(_SPECIAL + extra))
            else:
                low, high = rng.choice(_RANGES)
                parts.append(chr(rng.randint(low, high)))
        texts.append("".join(parts))
    return texts


def corpus_texts() -> list[str]:
    texts = list(CHECK_TEXTS)
    for path in sorted((ROOT / "data" / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["question"])
    for line in (ROOT / "data" / "glossary" / "en_ja.tsv").read_text(encoding="utf-8").splitlines():
        texts.extend(line.split("\t"))
    return texts


def assert_same_ids(tokenizer: UnigramTokenizer, model: Path, texts: list[str]) -> None:
    import sentencepiece

    reference = sentencepiece.SentencePieceProcessor(model_file=str(model))
    expected = reference.encode(texts)
    got = tokenizer.encode(texts)
    differing = [t for t, a, b in zip(texts, got, expected, strict=True) if a != b]
    assert not differing, differing[:3]


# ---- a small trained model: no real model needed -------------------------------------------


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600-piece Unigram model trained on the questions, with user-defined symbols."""
    import sentencepiece

    folder = tmp_path_factory.mktemp("spm")
    sentences = folder / "text.txt"
    sentences.write_text("\n".join(t for t in corpus_texts() if t.strip()), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(sentences),
        model_prefix=str(folder / "small"),
        vocab_size=600,
        model_type="unigram",
        character_coverage=0.98,  # some characters of the text stay unknown
        user_defined_symbols=["extra_token_1", "<sep>"],
        minloglevel=2,
    )
    return folder / "small.model"


def test_the_python_encoder_gives_sentencepieces_ids(small_model: Path) -> None:
    words = [w for t in corpus_texts() for w in t.split()][:3000]
    texts = corpus_texts() + random_texts(3000, words, ("extra_token_1", "<sep>", "<sep"))
    tokenizer = UnigramTokenizer.from_model(small_model)
    assert_same_ids(tokenizer, small_model, texts)
    assert tokenizer.encode("") == [] and tokenizer.encode([""]) == [[]]


def test_the_compact_form_round_trips_and_names_its_source(
    small_model: Path, tmp_path: Path
) -> None:
    tokenizer = UnigramTokenizer.from_model(small_model)
    path = tmp_path / "small.bin"
    tokenizer.save(path, "abc123")
    loaded = UnigramTokenizer.load(path, "abc123", reference=small_model)
    assert (loaded.unk_id, loaded.bos_id, loaded.eos_id) == (0, 1, 2)
    assert loaded.user_defined == ("extra_token_1", "<sep>")
    texts = random_texts(500, ["extra_token_1", "質問"], seed=3)
    assert loaded.encode(texts) == tokenizer.encode(texts)
    assert_same_ids(loaded, small_model, texts)
    with pytest.raises(UnigramModelError, match="another tokenizer"):
        UnigramTokenizer.load(path, "def456")
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    with pytest.raises(UnigramModelError):
        UnigramTokenizer.load(path, "abc123")
    with pytest.raises(UnigramModelError, match="unreadable"):
        UnigramTokenizer.from_model(tmp_path / "missing.model")


def test_a_missing_or_unusable_form_falls_back(small_model: Path, tmp_path: Path) -> None:
    """No form (or a damaged one): None, so the encoder reads the sentencepiece model."""
    cache = tmp_path / "models"
    assert load_compact_tokenizer(cache, "f" * 64) is None
    assert load_compact_tokenizer(cache, "") is None
    path = prepare_tokenizer(cache, small_model, "f" * 64)
    assert path == tokenizer_form_path(cache, "f" * 64) and path.is_file()
    assert load_compact_tokenizer(cache, "f" * 64) is not None
    path.write_bytes(b"garbage")
    assert load_compact_tokenizer(cache, "f" * 64) is None


def test_a_model_this_encoder_cannot_reproduce_is_refused(tmp_path: Path) -> None:
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()  # type: ignore[attr-defined]
    proto.trainer_spec.model_type = pb.TrainerSpec.BPE  # type: ignore[attr-defined]
    piece = proto.pieces.add()
    piece.piece, piece.type = "a", pb.ModelProto.SentencePiece.NORMAL  # type: ignore[attr-defined]
    path = tmp_path / "bpe.model"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(UnigramModelError, match="not a Unigram model"):
        UnigramTokenizer.from_model(path)


# ---- start-up ordering and sharing ---------------------------------------------------------


def test_background_engine_loads_at_once_and_calls_wait(fake_engine) -> None:
    from service.engine import BackgroundEngine
    from service.errors import NotReady

    started, release = threading.Event(), threading.Event()

    def load():
        started.set()
        release.wait(5)
        return fake_engine

    engine = BackgroundEngine(load)
    assert started.wait(5)  # loading began when it was made, before anyone asked
    threading.Timer(0.1, release.set).start()
    assert engine() is fake_engine

    def fail():
        raise RuntimeError("no model here")

    failed = BackgroundEngine(fail)
    with pytest.raises(NotReady, match="no model here"):
        failed()

    def slowly():
        time.sleep(1)
        return fake_engine

    slow = BackgroundEngine(slowly, wait_seconds=0.01)
    with pytest.raises(NotReady, match="still loading"):
        slow()


def test_the_app_takes_the_engine_being_loaded(fake_settings, fake_engine) -> None:
    """`serve` starts loading the engine before it imports the web stack; the app is ready
    when that load is done."""
    from concurrent.futures import Future

    from fastapi.testclient import TestClient

    from service.http.app import create_app

    loading: Future[object] = Future()
    app = create_app(fake_settings, loading=loading)  # type: ignore[arg-type]
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 503
        loading.set_result(fake_engine)
        for _ in range(200):
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert app.state.shisaku.engine is fake_engine


def test_a_failed_load_handed_to_the_app_is_one_fatal_line(fake_settings) -> None:
    """The engine that `serve` started loading failed: the app calls ``on_fatal`` with one
    line and is never ready."""
    from concurrent.futures import Future

    from fastapi.testclient import TestClient

    from service.http.app import create_app

    failing: Future[object] = Future()
    failing.set_exception(RuntimeError("nothing here"))
    fatal: list[str] = []
    app = create_app(fake_settings, on_fatal=fatal.append, loading=failing)  # type: ignore[arg-type]
    with TestClient(app) as client:
        for _ in range(200):
            if fatal:
                break
            time.sleep(0.05)
        assert client.get("/readyz").status_code == 503
    assert fatal == ["RuntimeError: nothing here"]


def test_the_glossary_is_compiled_once_per_version_of_its_file(
    fake_settings, tmp_path: Path
) -> None:
    import os

    from service.engine import load_query_glossary

    path = tmp_path / "glossary.tsv"
    path.write_text("english\tjapanese\tromaji\nvisa\t査証\tsashou\n", encoding="utf-8")
    settings = fake_settings.model_copy(update={"glossary": path})
    first = load_query_glossary(settings)
    assert first is not None and load_query_glossary(settings) is first
    path.write_text("english\tjapanese\tromaji\nrefugee\t難民\tnanmin\n", encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    second = load_query_glossary(settings)
    assert second is not first and second is not None and second.matches("refugee")
    missing = fake_settings.model_copy(update={"glossary": tmp_path / "none.tsv"})
    assert load_query_glossary(missing) is None


# ---- the real models (slow) ------------------------------------------------------------------


@pytest.mark.slow
def test_the_e5_tokenizers_compact_form_gives_its_ids(settings, built_index: Path) -> None:
    """`shisaku index` prepared the compact form; the query encoder loads it, and its ids
    are sentencepiece's on every question, passage and random text."""
    from indexer.onnx_export import SENTENCEPIECE_FILE
    from service.engine import load_query_encoder, onnx_dir

    encoder = load_query_encoder(settings)
    tokenizer = encoder._tokenizer  # type: ignore[attr-defined]
    assert isinstance(tokenizer, UnigramTokenizer)
    passages = json.loads((built_index / "passages.json").read_text("utf-8"))
    words = [w for t in corpus_texts() for w in t.split()][:3000]
    texts = corpus_texts() + [p["text"] for p in passages] + random_texts(5000, words, seed=1)
    assert_same_ids(tokenizer, onnx_dir(settings) / SENTENCEPIECE_FILE, texts)


@pytest.mark.slow
def test_use_from_its_prepared_form_encodes_bit_for_bit(settings, index_models) -> None:
    from indexer.embed import UseEncoder

    prepared = UseEncoder(model_cache=Path(settings.model_cache))
    original = UseEncoder()
    assert prepared.prepared and not original.prepared
    assert isinstance(prepared._backend.table, np.memmap)  # mapped, not read
    assert prepared.fingerprint == original.fingerprint
    words = [w for t in corpus_texts() for w in t.split()][:3000]
    texts = corpus_texts() + random_texts(500, words, ("extra_token_id_1",), seed=2)
    assert np.array_equal(prepared.encode_queries(texts), original.encode_queries(texts))
    assert_same_ids(
        prepared._backend.sp._sp,
        original.path / "sp.model",
        random_texts(3000, words, ("extra_token_id_1", "extra_token_id_2x"), seed=4),
    )
