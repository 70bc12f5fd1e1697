"""Index building: manifest, atomic swap, refusal of tampered or mismatched indexes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.manifest import MANIFEST, read_manifest
from service.errors import IndexError_
from service.index import load_index


def copy_index(built_index: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index-copy"
    shutil.copytree(built_index.resolve(), target)
    return target


def test_manifest_records_schema_models_corpus_and_counts(built_index: Path, encoders) -> None:
    manifest = read_manifest(built_index)
    assert manifest is not None
    assert manifest["schema_version"] == 3  # 2: lexicon.json; 3: reports
    assert manifest["dense_model"]["name"] == encoders[0].name
    assert manifest["dense_model"]["fingerprint"] == encoders[0].fingerprint
    assert manifest["dense_model"]["dimension"] == 384
    assert len(manifest["corpus_sha256"]) == 64
    assert manifest["counts"]["measures"] == 33
    (report,) = manifest["reports"]
    assert report["id"] == "isa-7th-roundtable-status-2024" and report["measures"] == 33
    assert report["source_sha256"] == (
        "e80a532d55c9661bafcc2e48c0f455c12f92e4619036072abe1b88904599384e"  # data/README.md
    )
    assert manifest["counts"]["passages"] > 33
    assert manifest["built_at"]
    assert set(manifest["files"]) >= {"measures.json", "passages.json", "dense_passages.faiss"}
    assert built_index.is_symlink()


class ExplodingEncoder:
    """A real encoder that fails after a few batches, as a killed or crashing build would."""

    def __init__(self, inner, fail_after: int) -> None:
        self.inner = inner
        self.name, self.dimension, self.fingerprint = inner.name, inner.dimension, inner.fingerprint
        self.path = inner.path
        self.calls = 0
        self.fail_after = fail_after

    def encode_passages(self, texts):
        self.calls += 1
        if self.calls > self.fail_after:
            raise RuntimeError("simulated failure during the build")
        return self.inner.encode_passages(texts)

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)


def test_failed_build_leaves_previous_index_intact(
    built_index: Path, settings, encoders, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    link = home / "index"
    # An existing index in this home, then a build that fails halfway.
    shutil.copytree(built_index.resolve(), home / "index-old")
    link.symlink_to("index-old")
    before = {p.name for p in home.iterdir()}
    with pytest.raises(RuntimeError, match="simulated"):
        build_index(settings.corpus, link, ExplodingEncoder(encoders[0], 2), encoders[1])
    assert {p.name for p in home.iterdir()} == before, "no partial build left behind"
    assert link.resolve() == (home / "index-old").resolve()
    loaded = load_index(link, *encoders)
    assert len(loaded.measures) == 33


def test_rebuild_swaps_link_and_removes_old_build(
    built_index: Path, settings, encoders, index_models, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copytree(built_index.resolve(), home / "index-old")
    (home / "index").symlink_to("index-old")
    build_index(
        settings.corpus,
        home / "index",
        index_models.encoder,
        index_models.second,
        onnx=index_models.onnx,
    )
    assert (home / "index").resolve().name != "index-old"
    assert not (home / "index-old").exists()
    assert len(load_index(home / "index", *encoders).passages) > 33


def test_truncated_file_is_refused_naming_it(built_index: Path, encoders, tmp_path: Path) -> None:
    copy = copy_index(built_index, tmp_path)
    target = copy / "dense_passages.faiss"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(IndexError_, match=r"dense_passages\.faiss.*shisaku index"):
        load_index(copy, *encoders)


def test_tampered_text_is_refused(built_index: Path, encoders, tmp_path: Path) -> None:
    copy = copy_index(built_index, tmp_path)
    data = json.loads((copy / "measures.json").read_text(encoding="utf-8"))
    data[0]["status"] = "実施済み"
    (copy / "measures.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(IndexError_, match="measures.json"):
        load_index(copy, *encoders)


def test_index_built_for_another_model_is_refused(
    built_index: Path, encoders, tmp_path: Path
) -> None:
    copy = copy_index(built_index, tmp_path)
    manifest = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    manifest["dense_model"]["name"] = "some/other-model"
    (copy / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexError_, match="other-model.*shisaku index"):
        load_index(copy, *encoders)


def test_missing_index_says_how_to_build(encoders, tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match="shisaku index"):
        load_index(tmp_path / "nothing-here", *encoders)


def test_abandoned_build_directories_are_cleaned(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from indexer.build import remove_abandoned_builds

    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    abandoned = tmp_path / f".index-build-{dead_pid.pid}-abc"
    running = tmp_path / f".index-build-{os.getpid()}-def"
    for folder in (abandoned, running):
        folder.mkdir()
        (folder / "measures.json").write_text("[]")
    assert remove_abandoned_builds(tmp_path, "index") == [abandoned]
    assert not abandoned.exists() and running.exists()
