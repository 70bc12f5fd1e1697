"""The `shisaku` command as a user meets it, run as a subprocess (fast tier: the commands here
need no model, or must refuse before one loads)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from rich.cells import cell_len
from test_cli_errors import assert_one_line_error, shisaku

from service import __version__

ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-9]|9[0-7]|38;)[0-9;]*m")
# Would fail loudly if a model were loaded: proves a command stopped before that.
NO_MODEL = {"SHISAKU_EMBEDDING_MODEL": "/nonexistent/model"}


def test_bare_command_prints_help() -> None:
    done = shisaku()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: shisaku")
    for command in ("search", "ask", "measures", "serve", "index"):
        assert command in done.stdout


def test_version() -> None:
    done = shisaku("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"shisaku {__version__}"


def test_k_and_status_have_help_text() -> None:
    for command in ("search", "ask", "batch", "similar"):
        done = shisaku(command, "--help")
        assert re.search(r"-k K, --k K\s+how many measures", done.stdout), (command, done.stdout)
    done = shisaku("search", "--help")
    flat = re.sub(r"-\s+", "-", " ".join(done.stdout.split()))  # argparse wraps at hyphens
    assert "in-progress, implemented, under-consideration" in flat


def test_measures_lists_all_aligned_without_loading_a_model(fake_settings, fake_engine) -> None:
    env = {"SHISAKU_INDEX_DIR": str(fake_settings.index_dir), "COLUMNS": "100", **NO_MODEL}
    done = shisaku("measures", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = [line for line in lines[1:] if line.strip()]
    assert len(rows) == 33
    # Japanese is two cells wide: the target column starts at the same cell in every row.
    starts = set()
    for row in rows:
        number, status = row.split()[:2]
        starts.add(cell_len(row[: row.index(status) + len(status)]))
        assert all(cell_len(line) <= 100 for line in lines)
    assert len(starts) == 1 or max(starts) - min(starts) <= 2  # 実施中 vs 実施済み, padded
    targets = {cell_len(row[: row.index(row.split()[2][0])]) for row in rows}
    assert len(targets) == 1, targets


def test_measures_7_shows_one_measure_in_full(fake_settings, fake_engine) -> None:
    env = {"SHISAKU_INDEX_DIR": str(fake_settings.index_dir), **NO_MODEL}
    done = shisaku("measures", "7", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("施策7  実施済み (implemented)")
    assert "（注２）ビルクリーニング分野" in done.stdout
    assert "特定技能２号の対象分野について" in done.stdout
    as_json = json.loads(shisaku("measures", "7", "--json", env=env).stdout)
    assert as_json["number"] == 7 and as_json["status_en"] == "implemented"
    assert_one_line_error(shisaku("measures", "99", env=env), "no measure 99", "1–33")


def test_colour_only_on_a_terminal_and_never_with_no_color(fake_settings, fake_engine) -> None:
    env = {"SHISAKU_INDEX_DIR": str(fake_settings.index_dir), **NO_MODEL}
    piped = shisaku("measures", env=env).stdout
    assert not ESCAPE.search(piped)  # a pipe gets plain text
    forced = shisaku("measures", env={**env, "FORCE_COLOR": "1"}).stdout
    assert COLOUR.search(forced)  # a terminal gets the status colours
    no_color = shisaku("measures", env={**env, "FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert not COLOUR.search(no_color)


def test_bad_k_is_refused_before_any_model_loads(fake_settings, fake_engine) -> None:
    env = {"SHISAKU_INDEX_DIR": str(fake_settings.index_dir), **NO_MODEL}
    started = time.monotonic()
    assert_one_line_error(shisaku("ask", "特定技能2号の分野は?", "--k", "20", env=env), "1 to 10")
    assert_one_line_error(shisaku("search", "難民", "--k", "0", env=env), "1 to 50")
    assert_one_line_error(
        shisaku("search", "難民", "-k", "0", env=env), "1 to 50"
    )  # as the API's k
    assert_one_line_error(shisaku("similar", "難民", "--k", "999", env=env), "1 to 50")
    assert time.monotonic() - started < 30


def test_missing_index_is_refused_before_any_model_loads(tmp_path: Path) -> None:
    env = {"SHISAKU_INDEX_DIR": str(tmp_path / "none"), **NO_MODEL}
    for args in (("search", "難民"), ("ask", "難民とは"), ("measures",), ("similar", "難民")):
        assert_one_line_error(shisaku(*args, env=env), "no index", "shisaku index")


def test_unknown_status_is_refused_by_the_parser() -> None:
    done = shisaku("search", "難民", "--status", "done", env=NO_MODEL)
    assert done.returncode == 2
    assert "invalid choice" in done.stderr and "implemented" in done.stderr
