"""The lean query path (issue 9): the report's SudachiPy analysis recorded at index time
(morphemes.json) gives the same highlights, vocabulary and checks without cutting the report
at start; views are kept beside the result cache; `serve` loads the models while it imports
the web stack."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from indexer import manifest as layout
from indexer.morphemes import analyse, read_morphemes
from service.answerability import decide, read_features
from service.errors import IndexError_
from service.highlight import Highlighter
from service.index import check_vocabulary, load_index
from service.views import view_of
from service.vocabulary import ReportVocabulary


class NoCutting:
    """A tokenizer that refuses to cut anything: start-up must not need one."""

    def morphemes(self, text: str, mode: str = "A") -> list[object]:
        raise AssertionError(f"cut {text[:20]!r} at start")

    def tokenize(self, text: str) -> list[str]:
        raise AssertionError(f"tokenized {text[:20]!r} at start")


def test_the_index_records_the_analysis_and_lists_it(fake_engine) -> None:
    index = fake_engine.index
    assert layout.MORPHEMES_FILE in index.manifest["files"]
    recorded = index.morphemes
    assert recorded is not None
    fresh = analyse(fake_engine.tokenizer, index.measures, index.passages)
    assert recorded == fresh
    assert set(recorded.passages) == {p.id for p in index.passages}
    assert "特定技能" in recorded.words or "特定" in recorded.words
    assert recorded.bm25_terms == set(index.bm25.vocab_dict) - {""}


def test_recorded_analysis_gives_what_cutting_at_start_gives(fake_engine) -> None:
    index, tokenizer = fake_engine.index, fake_engine.tokenizer
    recorded = index.morphemes
    assert recorded is not None
    cut = Highlighter(tokenizer, index.passages)
    read = Highlighter(NoCutting(), index.passages, recorded.passages)  # type: ignore[arg-type]
    assert read._tokens == cut._tokens
    assert read._idf == cut._idf
    english = fake_engine.cross.translator.lexicon.words
    fresh = ReportVocabulary(index.measures, fake_engine.glossary, tokenizer, english)
    words = (recorded.words, recorded.readings)
    kept = ReportVocabulary(index.measures, fake_engine.glossary, NoCutting(), english, words=words)  # type: ignore[arg-type]
    assert (kept.words, kept.readings) == (fresh.words, fresh.readings)
    check_vocabulary(index, NoCutting().tokenize)  # the recorded terms: no cutting


def test_vocabulary_check_still_refuses_a_foreign_bm25(fake_engine) -> None:
    index = fake_engine.index
    assert index.morphemes is not None
    other = dataclasses.replace(
        index.morphemes, bm25_terms=index.morphemes.bm25_terms | {"存在しない語"}
    )
    with pytest.raises(IndexError_, match="vocabulary does not match"):
        check_vocabulary(dataclasses.replace(index, morphemes=other), NoCutting().tokenize)


def test_an_index_without_the_file_is_analysed_at_start(fake_engine, tmp_path: Path) -> None:
    source = fake_engine.index.path
    copy = tmp_path / "index"
    shutil.copytree(source, copy)
    (copy / layout.MORPHEMES_FILE).unlink()
    manifest = json.loads((copy / layout.MANIFEST).read_text(encoding="utf-8"))
    del manifest["files"][layout.MORPHEMES_FILE]
    (copy / layout.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    index = load_index(copy)
    assert index.morphemes is None
    check_vocabulary(index, fake_engine.tokenizer.tokenize)
    cut = Highlighter(fake_engine.tokenizer, index.passages)
    assert cut._tokens == fake_engine.highlighter._tokens


def test_a_malformed_file_makes_the_index_unusable(fake_engine, tmp_path: Path) -> None:
    path = tmp_path / layout.MORPHEMES_FILE
    path.write_text(json.dumps({"format": 1, "passages": {"0": [[0]]}}), encoding="utf-8")
    with pytest.raises(ValueError, match="malformed"):
        read_morphemes(path)
    path.write_text(json.dumps({"format": 999}), encoding="utf-8")
    assert read_morphemes(path) is None  # another format: analysed at start
    assert read_morphemes(tmp_path / "absent.json") is None


def test_views_are_kept_with_the_cached_results(fake_engine) -> None:
    fake_engine.clear_cache()
    first = fake_engine.search("特定技能2号の分野は?")
    view = view_of(fake_engine, first)
    again = fake_engine.search("特定技能2号の分野は?")
    assert again.cached and again.results is first.results
    assert view_of(fake_engine, again) is view
    other = fake_engine.search("難民認定の手続は?")
    assert view_of(fake_engine, other) is not view
    # A decision made by the caller (/ask) is used as given, never cached.
    decision = decide(read_features(fake_engine, first.query, first))
    given = view_of(fake_engine, first, dataclasses.replace(decision, answerable=False))
    assert given is not view and not given.covered
    assert view_of(fake_engine, first) is view
    fake_engine.clear_cache()
    assert view_of(fake_engine, first) is not view
    assert view_of(fake_engine, first) == view


def test_serve_keeps_idle_connections_longer_than_clients_do(
    monkeypatch: pytest.MonkeyPatch, fake_encoder
) -> None:
    """A server that closes an idle keep-alive connection first races the client's next
    request on it (a reset, no response): `serve` keeps them longer than httpx does."""
    import httpx
    import uvicorn

    import service.engine
    from service.cli.main import main
    from service.config import Settings

    client_expiry = httpx.Limits().keepalive_expiry
    assert client_expiry is not None and Settings().keep_alive_seconds > client_expiry
    seen: dict[str, int] = {}

    def run(self: uvicorn.Server) -> None:
        seen["keep_alive"] = self.config.timeout_keep_alive

    monkeypatch.setattr(service.engine, "preflight", lambda settings: {})
    monkeypatch.setattr(service.engine, "load_query_encoders", lambda s: (fake_encoder, None))
    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setenv("SHISAKU_KEEP_ALIVE_SECONDS", "30")
    assert main(["serve", "--port", "8765"]) == 0
    assert seen == {"keep_alive": 30}
