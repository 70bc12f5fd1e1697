"""User files: read with a one-line error, written whole or not at all."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from test_cli_errors import assert_one_line_error, shisaku

from service import export as export_module
from service.errors import OutputError
from service.user_files import written_whole

NO_MODEL = {"SHISAKU_EMBEDDING_MODEL": "/nonexistent/model"}


def test_a_completed_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "er" / "measures.csv"
    with written_whole(out) as temporary:
        assert temporary.parent == out.parent and temporary != out
        temporary.write_text("new", encoding="utf-8")
        assert not out.exists()  # nothing at the destination until the write is complete
    assert out.read_text(encoding="utf-8") == "new"
    assert [p.name for p in out.parent.iterdir()] == ["measures.csv"]


def test_a_failed_write_leaves_the_previous_file_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "measures.csv"
    out.write_text("what the user had", encoding="utf-8")
    with pytest.raises(RuntimeError), written_whole(out) as temporary:
        temporary.write_text("half of it", encoding="utf-8")
        raise RuntimeError("the writer failed mid-way")
    assert out.read_text(encoding="utf-8") == "what the user had"
    assert [p.name for p in tmp_path.iterdir()] == ["measures.csv"]


def test_unwritable_destinations_are_output_errors_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="it is a directory"), written_whole(tmp_path):
        pass
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(
        OutputError, match=r"cannot write .*a-file/out\.csv: .*a-file is a file, not a directory"
    ):
        with written_whole(blocker / "out.csv"):
            pass


def test_an_export_that_fails_mid_way_keeps_the_previous_export(
    fake_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "measures.csv"
    export_module.export(fake_engine.index, "csv", out)
    before = out.read_bytes()

    def full_disk(rows, path: Path, with_embeddings: bool) -> None:
        path.write_text("number,sta", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_module, "_write_csv", full_disk)
    with pytest.raises(OutputError, match="No space left on device"):
        export_module.export(fake_engine.index, "csv", out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["measures.csv"]


def test_cli_output_and_input_files_that_cannot_be_used_are_one_line(
    fake_settings, fake_engine, tmp_path: Path
) -> None:
    env = {"SHISAKU_INDEX_DIR": str(fake_settings.index_dir), **NO_MODEL}
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    out = str(blocker / "measures.csv")
    done = shisaku("export", "--format", "csv", "--out", out, env=env)
    assert_one_line_error(done, "cannot write", "is a file, not a directory", code=1)
    for args, words in (
        (("heatmap", "--out", str(blocker / "h.png")), ("cannot write",)),
        (("batch", str(tmp_path / "missing.txt")), ("cannot read queries", "No such file")),
        (("batch", str(tmp_path)), ("cannot read queries", "Is a directory")),
    ):
        code = 1 if args[0] == "heatmap" else 2
        assert_one_line_error(shisaku(*args, env=env), *words, code=code)
    undecodable = tmp_path / "queries.txt"
    undecodable.write_bytes(b"\xff\xfe\x00")
    assert_one_line_error(shisaku("batch", str(undecodable), env=env), "not UTF-8", code=2)
    assert_one_line_error(shisaku("eval", str(undecodable), env=env), "not UTF-8", code=2)
    assert_one_line_error(shisaku("eval", str(tmp_path), env=env), "Is a directory", code=2)
