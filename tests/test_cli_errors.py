"""Failures a user can cause, seen from the command line: one line, a non-zero exit, nothing
lost (fast tier: no real model is loaded)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def shisaku(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(result, *words: str, code: int = 2) -> None:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, result.stderr  # (serve also logs its INFO lines)
    assert lines[0].startswith("shisaku: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_bad_corpus_is_one_line_and_nothing_is_built(tmp_path: Path) -> None:
    corpus = tmp_path / "report.txt"
    corpus.write_text("これは報告書ではありません\n", encoding="utf-8")
    index = tmp_path / "index"
    result = shisaku("index", "--corpus", str(corpus), "--index-dir", str(index))
    assert_one_line_error(result, "report.txt", "line")
    assert not index.exists()


def test_bad_glossary_is_one_line_naming_the_file(tmp_path: Path) -> None:
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text("not\ta\tglossary\n", encoding="utf-8")
    result = shisaku("search", "難民", env={"SHISAKU_GLOSSARY": str(glossary)})
    assert_one_line_error(result, "glossary.tsv", "SHISAKU_GLOSSARY")


def test_bad_model_path_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    corpus = ROOT / "data" / "reports" / "isa-7th-roundtable-status-2024" / "source.txt"
    result = shisaku(
        "index",
        "--corpus",
        str(corpus),
        "--index-dir",
        str(tmp_path / "index"),
        env={"SHISAKU_EMBEDDING_MODEL": str(tmp_path / "no-such-model")},
    )
    assert_one_line_error(result, "SHISAKU_EMBEDDING_MODEL")
    assert not (tmp_path / "index").exists()


def test_bad_setting_names_the_variable() -> None:
    result = shisaku("search", "難民", env={"SHISAKU_MAX_K": "zero"})
    assert_one_line_error(result, "SHISAKU_MAX_K")


def test_serve_with_a_bad_glossary_stops_at_start(
    fake_settings, fake_engine, tmp_path: Path
) -> None:
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text("english\tjapanese\tromaji\n\tno english\t\n", encoding="utf-8")
    result = shisaku(
        "serve",
        "--port",
        str(free_port()),
        env={
            "SHISAKU_INDEX_DIR": str(fake_settings.index_dir),
            "SHISAKU_GLOSSARY": str(glossary),
            "SHISAKU_LOG_LEVEL": "warning",
        },
        timeout=60,
    )
    assert result.returncode != 0
    assert "glossary.tsv" in result.stderr and "Traceback" not in result.stderr


def test_missing_index_stops_serve_at_once(tmp_path: Path) -> None:
    result = shisaku(
        "serve", "--port", str(free_port()), env={"SHISAKU_INDEX_DIR": str(tmp_path / "none")}
    )
    assert_one_line_error(result, "no index", "shisaku index")
